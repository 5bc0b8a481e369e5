/* xdp_cache.h - the fast-path cache: the layout of the two BPF maps that the
 * XDP program (bpf/xdpcached.bpf.c) reads and the daemon (user/xdp_mirror.c)
 * writes. Defined once, here; docs/xdp.md explains the design.
 *
 * Two mmapable BPF_MAP_TYPE_ARRAYs, written by the daemon with plain stores
 * through its mmap (no system call per update):
 *
 *   index   buckets of one cache line each: XDP_BUCKET_SLOTS slots of (key
 *           hash, first chunk of the key's record). A key can only be in
 *           bucket (hash & bucket_mask). A lookup reads this one line.
 *   values  64-byte chunks. A record (struct xdp_record: fields, then the
 *           reply text) takes 1 to XDP_RECORD_CHUNKS_MAX consecutive chunks,
 *           so an 8-byte value takes two lines where the old fixed entries
 *           took 1,472 bytes. The record's first line holds its fields, its
 *           key and the start of its text.
 *
 * Each record is guarded by a sequence counter (a seqlock). The writer makes
 * seq odd, changes the record, makes seq even again; the reader copies what
 * it needs and serves the copy only if seq was even and unchanged across
 * the copy. Readers never write to a record, so the hottest key costs no
 * cache-line traffic between CPUs; a reader that meets a writer passes the
 * request to the daemon instead of waiting. A record's first chunk is a
 * record's first chunk for as long as the map lives (chunks are carved into
 * records of one size class once: user/xdp_records.c), so its seq is never
 * overwritten by anything but a seq. */
#ifndef XDPCACHED_SHARED_XDP_CACHE_H
#define XDPCACHED_SHARED_XDP_CACHE_H

#include "mc_udp.h"
#include "shared_types.h"

/* memcached's key limit; longer keys are a CLIENT_ERROR, left to the daemon. */
#define XDP_KEY_MAX 250
/* Most keys in one get/gets the fast path answers; more go to the daemon. */
#define XDP_MULTIGET_MAX 8
/* Longest request payload (after the frame header) the fast path parses:
 * room for XDP_MULTIGET_MAX keys of XDP_KEY_MAX bytes. */
#define XDP_REQUEST_MAX 2048

#define XDP_VALUE_PREFIX "VALUE "
#define XDP_VALUE_PREFIX_LEN 6
#define XDP_END "END\r\n"
#define XDP_END_LEN 5

/* Longest reply text of one key: its reply and "END\r\n" fill a datagram. */
#define XDP_TEXT_MAX (MC_UDP_MAX_DATA - XDP_END_LEN)

/* ---- index -------------------------------------------------------------- */

#define XDP_BUCKET_SLOTS 7

/* One key: its xdp_key_hash() and the first chunk of its record in values.
 * chunk 0 is never a record's, so chunk 0 is an empty slot. Written by the
 * daemon as one 8-byte store, so a reader sees a whole slot. */
struct xdp_slot {
    __u32 hash;
    __u32 chunk;
} __attribute__((aligned(8)));

struct xdp_bucket {
    /* Bit w set by the program when it answers slot w's key; the daemon
     * clears the bits it has seen (user/xdp_mirror.c, harvest). The program
     * writes only when the bit is clear, so a hot key costs one write per
     * harvest, not one per hit. */
    __u32 used;
    __u32 reserved;     /* 0 */
    struct xdp_slot slots[XDP_BUCKET_SLOTS];
};

_Static_assert(sizeof(struct xdp_bucket) == 64, "a bucket is one cache line");

/* ---- values ------------------------------------------------------------- */

#define XDP_CHUNK_SIZE 64

/* The values map's value type: one cache line of a record. */
struct xdp_chunk {
    __u8 bytes[XDP_CHUNK_SIZE];
};

/* A cached item, rendered as the daemon would send it:
 *   text = "VALUE <key> <flags> <bytes>" | " <cas>" | "\r\n<data>\r\n"
 *           <------- head_len -------->   cas_len   <- rest of text_len ->
 * A get reply copies head and rest; a gets reply copies all of text. The key
 * is text[6 .. 6 + key_len), the flags text[7 + key_len ..) for flags_len
 * bytes, the byte count from after the next space to head_len. An mg reply
 * takes its numbers from those fields and the rest (docs/xdp.md, "mg"). */
struct xdp_record {
    __u32 seq;          /* even: stable; odd: a writer is changing the record */
    __u32 key_hash;     /* xdp_key_hash() of the key; 0 with key_len 0: free */
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
    __u8 nchunks;       /* chunks the record takes (its size class) */
    /* mg's t flag: the CLOCK_MONOTONIC second at which the daemon's coarse
     * clock (user/clock.c) reaches the item's exptime, 0 if it never
     * expires. The TTL the daemon prints is this less the second
     * CLOCK_MONOTONIC_COARSE is in, which the program reads too. Unlike
     * expire_ns it is never capped by a pending flush_all. */
    __u32 exptime_sec;
    __u32 reserved32;   /* 0; puts text at offset 40 */
    /* text_len bytes follow, across the record's chunks. */
};

#define XDP_RECORD_HEAD 40
_Static_assert(sizeof(struct xdp_record) == XDP_RECORD_HEAD, "text starts at offset 40");

/* Chunks a record with a text of text_len bytes takes at least. */
static inline __u32 xdp_record_chunks(__u32 text_len)
{
    return (XDP_RECORD_HEAD + text_len + XDP_CHUNK_SIZE - 1) / XDP_CHUNK_SIZE;
}

#define XDP_RECORD_CHUNKS_MAX ((XDP_RECORD_HEAD + XDP_TEXT_MAX + XDP_CHUNK_SIZE - 1) / XDP_CHUNK_SIZE)

#define XDP_NEVER_EXPIRES (~(__u64)0)

/* ---- keys --------------------------------------------------------------- */

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
