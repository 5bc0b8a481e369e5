/* xdp_mirror.h - what the daemon keeps in the XDP cache map, and the only
 * writer of it (docs/xdp.md): admits hot keys, rewrites or removes entries on
 * every store change before the store call returns, evicts cold entries.
 *
 * Knows nothing of BPF: it writes struct xdp_cache_entry (shared/) into
 * memory it is given, which the daemon maps from the BPF array and the
 * tests simply allocate. */
#ifndef XDPCACHED_XDP_MIRROR_H
#define XDPCACHED_XDP_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "xdp_cache.h"

/* Reads of a key the daemon serves over UDP before it is admitted. */
#define XDP_ADMIT_READS 2

struct xdp_mirror_config {
    struct xdp_cache_entry *entries;  /* nentries of them, zeroed (all empty) */
    uint32_t nentries;                /* XDP_CACHE_WAYS x a power of two */
    size_t max_value;                 /* largest value admitted (--xdp-max-value) */
};

struct xdp_mirror_stats {
    uint64_t entries;        /* entries in use now */
    uint64_t admissions;     /* keys put in the map */
    uint64_t evictions;      /* entries replaced to admit a hotter key */
    uint64_t updates;        /* entries rewritten because their item changed */
    uint64_t removals;       /* entries removed because their item went away
                                or no longer fits (flushes not included) */
};

struct xdp_mirror;

/* NULL on a bad config (nentries not WAYS x a power of two) or no memory. */
struct xdp_mirror *xdp_mirror_create(const struct xdp_mirror_config *config);
void xdp_mirror_destroy(struct xdp_mirror *mirror);

/* The callbacks to install with store_set_observer(). */
void xdp_mirror_observer(struct xdp_mirror *mirror, struct store_observer *out);

/* A get/gets hit the daemon served over UDP (proto_env.udp_read_hit): counts
 * the read and admits the key once it is hot. Runs under the store's lock;
 * safe to call from several threads at once. */
void xdp_mirror_read(void *mirror, const struct item_view *item);

/* Once a second, from one thread: hits[i] (nentries of them) is entry i's
 * total XDP hits so far (summed over CPUs, only ever growing). Ages the
 * per-entry recent-hit counts used for eviction and calls used() for each
 * key that was hit since the last call, outside any mirror lock (it may call
 * into the store). Returns the hits since the last call. */
uint64_t xdp_mirror_harvest(struct xdp_mirror *mirror, const uint64_t *hits,
                            void (*used)(void *ctx, const char *key, size_t nkey),
                            void *ctx);

void xdp_mirror_get_stats(struct xdp_mirror *mirror, struct xdp_mirror_stats *out);

#endif
