/* fastpath.h - the XDP fast path in the daemon (docs/xdp.md, "Loading,
 * attaching, pinning, failing safe"): loads bpf/xdpcached.bpf.c through its skeleton,
 * maps its cache for the mirror (user/xdp_mirror.c), fills its allow list,
 * attaches it to the --xdp-iface interfaces through bpf_links that only
 * this process holds (so the kernel detaches it however the daemon ends),
 * pins its maps for bpftool, and reads its counters for `stats`.
 *
 * The daemon serves from its first moment: the program is loaded and
 * attached by a thread of its own, and failing to load or attach is one log
 * line, after which the daemon goes on without the fast path. */
#ifndef XDPCACHED_FASTPATH_H
#define XDPCACHED_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "xdp_counters.h"
#include "xdp_mirror.h"

struct fastpath;
struct settings;
struct store;

enum fastpath_state { FASTPATH_LOADING, FASTPATH_ATTACHED, FASTPATH_FAILED };

/* What `stats` reports of the fast path. */
struct fastpath_stats {
    const char *state;              /* "loading", "attached" or "failed" */
    bool attached;                  /* the rest is 0 or "" unless attached */
    const char *ifaces;             /* "eth0,lo"; "" unless attached */
    const char *modes;              /* each interface's mode: "native,generic" */
    uint64_t capacity;              /* keys the cache has slots for */
    uint64_t memory;                /* bytes for their records */
    uint32_t verified_insns;        /* the verifier's count for xdpcached, */
    uint32_t verified_insns_mg;     /* and for xdpcached_mg; 0 unless attached */
    struct xdp_mirror_stats mirror; /* since the last stats reset, but
                                       entries: in use now */
    struct xdp_counters counters;   /* summed over CPUs, since the last reset */
};

/* Starts the fast path over store (installing the mirror as its observer)
 * when settings ask for it (--xdp on and an --xdp-iface); the program is
 * loaded and attached in the background (fastpath_wait). Returns NULL when
 * they do not ask (or out of memory); when it cannot start (no UDP port, no
 * right to use bpf(), ...), the reason is logged and the fast path it
 * returns stays in the failed state. Call before the store is shared. */
struct fastpath *fastpath_start(const struct settings *settings, struct store *store);

/* Waits until the program is attached or has failed; says which. Needed
 * before the process gives up the right to use bpf() (-u). */
enum fastpath_state fastpath_wait(struct fastpath *fp);

/* Detaches the program, removes the pins, removes the store's observer and
 * frees everything. Call once nothing uses the store. NULL: nothing to do. */
void fastpath_stop(struct fastpath *fp);

/* Once a second, from one thread: tells the mirror which keys XDP answered
 * (for eviction) and marks them used in the store (so that keys only XDP
 * serves do not look cold to the store's eviction). NULL: no-op. */
void fastpath_tick(struct fastpath *fp);

/* proto_env.udp_read_hit, with the fast path as its context: a read that
 * counts toward admission (xdp_mirror_read) once the program is attached. */
void fastpath_read_hit(void *fastpath, const struct item_view *item);

void fastpath_get_stats(struct fastpath *fp, struct fastpath_stats *out);

/* stats reset: counters start again from zero. NULL: no-op. */
void fastpath_reset_stats(struct fastpath *fp);

#endif
