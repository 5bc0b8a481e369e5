/* maps.h - the maps of the xdpcached XDP program. Layouts of the values
 * the daemon also reads live in shared/; sizes the daemon decides (cache
 * entries, allow list) are set by it before the program is loaded. */
#ifndef XDPCACHED_BPF_MAPS_H
#define XDPCACHED_BPF_MAPS_H

#include "xdp_cache.h"
#include "xdp_counters.h"

/* The cache itself, written by the daemon through mmap (shared/xdp_cache.h). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct xdp_cache_entry);
    __uint(max_entries, XDP_CACHE_WAYS); /* set by the daemon (--xdp-entries) */
} cache SEC(".maps");

/* Hits per cache entry, a stripe per CPU (xdp_hits_stride()) so that a hot
 * key's counter never bounces between CPUs; the daemon maps it and sums the
 * stripes to find cold entries. A plain array rather than a per-CPU one:
 * a hit costs one load, not a pointer and then the counter. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, XDP_CACHE_WAYS); /* set by the daemon: hits_stride x CPUs */
} hits SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct xdp_counters);
    __uint(max_entries, 1);
} counters SEC(".maps");

/* Sources allowed to use UDP (--udp-allow); everything else is dropped. */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct xdp_allow_key);
    __type(value, __u8);
    __uint(max_entries, 256);
} allow SEC(".maps");

#endif
