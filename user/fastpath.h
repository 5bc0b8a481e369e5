/* fastpath.h - the XDP fast path in the daemon (docs/xdp.md, "Attaching,
 * pinning, failing safe"): loads bpf/xdpcached.bpf.c through its skeleton,
 * maps its cache for the mirror (user/xdp_mirror.c), fills its allow list,
 * attaches it to the --xdp-iface interfaces through bpf_links that only
 * this process holds (so the kernel detaches it however the daemon ends),
 * pins its maps for bpftool, and reads its counters for `stats`.
 *
 * Failing to load or attach is one log line; the daemon then serves
 * without the fast path. */
#ifndef XDPCACHED_FASTPATH_H
#define XDPCACHED_FASTPATH_H

#include <stdint.h>

#include "xdp_counters.h"
#include "xdp_mirror.h"

struct fastpath;
struct settings;
struct store;

/* What `stats` reports of the fast path. */
struct fastpath_stats {
    const char *ifaces;             /* "eth0,lo" */
    const char *modes;              /* each interface's mode: "native,generic" */
    uint64_t capacity;              /* cache map entries */
    struct xdp_mirror_stats mirror; /* since the last stats reset, but
                                       entries: in use now */
    struct xdp_counters counters;   /* summed over CPUs, since the last reset */
};

/* Starts the fast path over store (installing the mirror as its observer)
 * when settings ask for it: --xdp on, an --xdp-iface, and a UDP port.
 * Returns NULL when they do not, or when it could not start (logged). Call
 * before the store is shared and while the process may still use bpf(). */
struct fastpath *fastpath_start(const struct settings *settings, struct store *store);

/* Detaches the program, removes the pins, removes the store's observer and
 * frees everything. Call once nothing uses the store. NULL: nothing to do. */
void fastpath_stop(struct fastpath *fp);

/* Once a second, from one thread: feeds the XDP hits of each entry to the
 * mirror (for eviction) and marks the keys used in the store (so that keys
 * only XDP serves do not look cold to the store's eviction). NULL: no-op. */
void fastpath_tick(struct fastpath *fp);

/* The mirror, for proto_env.udp_read_hit (xdp_mirror_read). */
struct xdp_mirror *fastpath_mirror(struct fastpath *fp);

void fastpath_get_stats(struct fastpath *fp, struct fastpath_stats *out);

/* stats reset: counters start again from zero. NULL: no-op. */
void fastpath_reset_stats(struct fastpath *fp);

#endif
