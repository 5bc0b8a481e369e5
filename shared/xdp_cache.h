/* xdp_cache.h - the fast-path cache: the layout of the BPF map that the XDP
 * program (bpf/xdpcached.bpf.c) reads and the daemon (user/xdp_mirror.c)
 * writes. Defined once, here; docs/xdp.md explains the design.
 *
 * The map is a BPF_MAP_TYPE_ARRAY with BPF_F_MMAPABLE: the daemon writes
 * entries through its mmap with plain stores (no system call per update),
 * and the XDP program finds them by hashing the key. It is set-associative:
 * a key can only live in the XDP_CACHE_WAYS entries of bucket
 * (hash & bucket_mask), at index bucket * XDP_CACHE_WAYS + way.
 *
 * Each entry is guarded by a sequence counter (a seqlock). The writer makes
 * seq odd, changes the entry, makes seq even again; the reader copies the
 * entry out and serves the copy only if seq was even and unchanged across
 * the copy. Readers never write to the entry, so the hottest key costs no
 * cache-line traffic between CPUs; a reader that meets a writer passes the
 * request to the daemon instead of waiting. */
#ifndef XDPCACHED_SHARED_XDP_CACHE_H
#define XDPCACHED_SHARED_XDP_CACHE_H

#include "mc_udp.h"
#include "shared_types.h"

#define XDP_CACHE_WAYS 4
/* memcached's key limit; longer keys are a CLIENT_ERROR, left to the daemon. */
#define XDP_KEY_MAX 250
/* Most keys in one get/gets the fast path answers; more go to the daemon. */
#define XDP_MULTIGET_MAX 8
/* Longest request payload (after the frame header) the fast path parses:
 * room for XDP_MULTIGET_MAX keys of XDP_KEY_MAX bytes. */
#define XDP_REQUEST_MAX 2048
/* Room for one key's reply text; a whole reply (texts + "END\r\n") must
 * also fit MC_UDP_MAX_DATA, which the XDP program checks. */
#define XDP_ENTRY_TEXT_MAX 1392

/* One cached item, rendered as the daemon would send it:
 *   text = "VALUE <key> <flags> <bytes>" | " <cas>" | "\r\n<data>\r\n"
 *           <------- head_len -------->   cas_len   <- rest of text_len ->
 * A get reply copies head and rest; a gets reply copies all of text. The key
 * is text[6 .. 6 + key_len), the flags text[7 + key_len ..) for flags_len
 * bytes, the byte count from after the next space to head_len. An mg reply
 * takes its numbers from those fields and the rest (docs/xdp.md, "mg"). An
 * entry with key_len 0 is empty. */
struct xdp_cache_entry {
    __u32 seq;          /* even: stable; odd: a writer is changing the entry */
    __u32 key_hash;     /* xdp_key_hash() of the key */
    __u64 expire_ns;    /* CLOCK_MONOTONIC time from which the daemon may
                           consider the item expired or flushed; never
                           served at or after it. XDP_NEVER_EXPIRES: never */
    __u16 key_len;
    __u16 head_len;
    __u16 cas_len;
    __u16 text_len;
    /* One's complement sums (RFC 1071, folded to 16 bits, not complemented)
     * of the get reply text (head and rest) and of the gets reply text (all
     * of text), the bytes taken as 16-bit words in memory order from the
     * text's first byte: the program adds them to the UDP checksum instead
     * of summing the reply (byte-swapped where the text lands at an odd
     * offset). rest_sum: the same of the rest alone ("\r\n<data>\r\n") from
     * its first byte, for mg's VA reply. */
    __u16 get_sum;
    __u16 gets_sum;
    __u16 rest_sum;
    __u8 flags_len;     /* digits of the client flags */
    __u8 reserved8;     /* 0 */
    /* mg's t flag: the CLOCK_MONOTONIC second at which the daemon's coarse
     * clock (user/clock.c) reaches the item's exptime, 0 if it never
     * expires. The TTL the daemon prints is this less the second
     * CLOCK_MONOTONIC_COARSE is in, which the program reads too. Unlike
     * expire_ns it is never capped by a pending flush_all. */
    __u32 exptime_sec;
    __u32 reserved32;   /* 0; puts text at offset 40 */
    char text[XDP_ENTRY_TEXT_MAX];
    /* Never written. Makes the entry whole cache lines: the map's values
     * start on a page, so the fields above and a short text share one
     * line. Also lets the program copy text in 8-byte words, the last of
     * which may reach up to 7 bytes past the text's end. */
    __u8 tail[40];
};

_Static_assert(sizeof(struct xdp_cache_entry) % 64 == 0, "entries are whole cache lines");
_Static_assert(__builtin_offsetof(struct xdp_cache_entry, text) == 40, "a short text shares the fields' line");

#define XDP_NEVER_EXPIRES (~(__u64)0)

/* The hits map: one stripe of counters per possible CPU, each CPU counting
 * the hits of cache entry i at cpu * stride + i; a stripe is whole cache
 * lines (16 counters), so that no line is written by two CPUs. */
static inline __u32 xdp_hits_stride(__u32 nentries)
{
    return (nentries + 15) & ~15u;
}

#define XDP_VALUE_PREFIX "VALUE "
#define XDP_VALUE_PREFIX_LEN 6
#define XDP_END "END\r\n"
#define XDP_END_LEN 5

/* Key hash: FNV-1a over the bytes, then a final mix so that the low bits
 * (the bucket) depend on every byte. Both sides must agree on it exactly. */
#define XDP_HASH_INIT 2166136261u

static inline __u32 xdp_key_hash_step(__u32 h, __u8 byte)
{
    return (h ^ byte) * 16777619u;
}

static inline __u32 xdp_key_hash_finish(__u32 h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Keys in the allow list (an LPM trie): IPv4 addresses as IPv4-mapped IPv6
 * (::ffff:a.b.c.d, prefix length + 96). */
struct xdp_allow_key {
    __u32 prefixlen;
    __u8 addr[16];
};

#endif
