/* maps.h - the maps of the xdpcached XDP program. Layouts of the values
 * the daemon also reads live in shared/; sizes the daemon decides (index,
 * values, allow list) are set by it before the program is loaded. */
#ifndef XDPCACHED_BPF_MAPS_H
#define XDPCACHED_BPF_MAPS_H

#include "xdp_cache.h"
#include "xdp_counters.h"

/* The cache (shared/xdp_cache.h), written by the daemon through mmap: the
 * buckets of key hashes, and the records they point to. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct xdp_bucket);
    __uint(max_entries, 1);         /* set by the daemon (--xdp-entries) */
} cache_index SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct xdp_chunk);
    __uint(max_entries, 1);         /* set by the daemon (--xdp-memory) */
} cache_values SEC(".maps");

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
