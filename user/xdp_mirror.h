/* xdp_mirror.h - what the daemon keeps in the XDP cache maps, and the only
 * writer of them (docs/xdp.md): admits hot keys, rewrites or removes their
 * records on every store change before the store call returns, evicts cold
 * ones.
 *
 * Knows nothing of BPF: it writes the buckets and records of
 * shared/xdp_cache.h into memory it is given, which the daemon maps from the
 * BPF arrays and the tests simply allocate. */
#ifndef XDPCACHED_XDP_MIRROR_H
#define XDPCACHED_XDP_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "xdp_cache.h"

/* Reads of a key the daemon serves over UDP before it is admitted. */
#define XDP_ADMIT_READS 2

struct xdp_mirror_config {
    struct xdp_bucket *buckets;       /* nbuckets of them, zeroed (all empty) */
    uint32_t nbuckets;                /* a power of two */
    struct xdp_chunk *chunks;         /* nchunks of them, zeroed */
    uint32_t nchunks;                 /* at least 2 */
    size_t max_value;                 /* largest value admitted (--xdp-max-value) */
};

struct xdp_mirror_stats {
    uint64_t entries;        /* keys in the map now */
    uint64_t admissions;     /* keys put in the map */
    uint64_t evictions;      /* keys taken out to admit a hotter key */
    uint64_t updates;        /* records rewritten because their item changed */
    uint64_t removals;       /* keys removed because their item went away
                                or no longer fits (flushes not included) */
};

struct xdp_mirror;

/* NULL on a bad config or no memory. */
struct xdp_mirror *xdp_mirror_create(const struct xdp_mirror_config *config);
void xdp_mirror_destroy(struct xdp_mirror *mirror);

/* The buckets for nkeys keys: a power of two, XDP_BUCKET_SLOTS keys each,
 * with room to spare so that few keys find their bucket full. */
uint32_t xdp_mirror_buckets_for(uint32_t nkeys);

/* The callbacks to install with store_set_observer(). */
void xdp_mirror_observer(struct xdp_mirror *mirror, struct store_observer *out);

/* A get/gets hit the daemon served over UDP (proto_env.udp_read_hit): counts
 * the read and admits the key once it is hot. Runs under the store's lock;
 * safe to call from several threads at once. */
void xdp_mirror_read(void *mirror, const struct item_view *item);

/* Once a second, from one thread: takes in which keys the XDP program
 * answered since the last call (the buckets' used bits), ages the recent-hit
 * counts used for eviction and calls used() for each key answered, outside
 * any mirror lock (it may call into the store). */
void xdp_mirror_harvest(struct xdp_mirror *mirror,
                        void (*used)(void *ctx, const char *key, size_t nkey), void *ctx);

/* The record holding key, read as the XDP program finds it; NULL when the
 * key is not in the map. For tests and tools; racy against writers. */
const struct xdp_record *xdp_mirror_lookup(const struct xdp_mirror *mirror, const char *key,
                                           size_t nkey);

void xdp_mirror_get_stats(struct xdp_mirror *mirror, struct xdp_mirror_stats *out);

#endif
