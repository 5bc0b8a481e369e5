/* lookup.h - finding a key in the cache and copying its record out under
 * the record's seqlock (docs/xdp.md, step 5 and "Consistency").
 *
 * The daemon writes a record as: seq odd, fields and text, seq even. Here
 * the record is copied whole into scratch (s->staged) between two reads of
 * seq, and the copy is used only when both are equal and even: from then on
 * everything reads the copy, a consistent snapshot. Nothing in the map is
 * trusted beyond that: lengths are checked before they size a copy, and
 * the snapshot's own fields before they are used. */
#ifndef XDPCACHED_BPF_LOOKUP_H
#define XDPCACHED_BPF_LOOKUP_H

#include <bpf/bpf_helpers.h>

#include "config.h"
#include "maps.h"
#include "reasons.h"
#include "request.h"
#include "scratch.h"

/* Keeps clang from moving the record's loads across the reads of seq. Loads
 * are not reordered with loads on x86-64 (TSO), so nothing more is needed
 * there; see docs/xdp.md on weakly ordered CPUs. */
#define compiler_barrier() asm volatile("" ::: "memory")

/* Unaligned 8-byte loads and stores, one instruction each: x86-64 allows
 * them, and clang splits into bytes an access that it sees is into a char
 * array. */
static __always_inline __u64 load_word(const void *p)
{
    return *(const __u64 *)p;
}

static __always_inline void store_word(void *p, __u64 word)
{
    *(__u64 *)p = word;
}

#define KEY_WORDS_MAX ((XDP_KEY_MAX + 7) / 8)

/* Does the staged record hold key i? Compares the request's key with the
 * staged text's (text[6, 6 + len)) eight bytes at a time; the last word's
 * bytes past the key (the high ones: x86-64 is little-endian) are masked
 * off. In line in stage_record(): a call for it cost more than the
 * compare of a short key. */
static __always_inline bool staged_key_is(struct scratch *s, __u32 i)
{
    __u32 off, len;

    off = s->keys[i & KEYS_MASK].off;
    len = s->keys[i & KEYS_MASK].len;
    if (s->staged.head.key_len != len || len == 0 || len > XDP_KEY_MAX)
        return 0;
    for (__u32 w = 0; w < KEY_WORDS_MAX; w++) {
        __u64 a = load_word(&s->staged.text[XDP_VALUE_PREFIX_LEN + w * 8]);
        __u64 b = load_word(&s->req[(off + w * 8) & REQ_MASK]);
        __u32 left = len - w * 8;

        if (left <= 8)
            return ((a ^ b) & (~0ULL >> ((8 - left) * 8))) == 0;
        if (a != b)
            return 0;
    }
    return 0;
}

/* What stage_record() found: the key's record (staged), some other key's,
 * or -reason to pass the request up. */
enum { STAGED_MATCH = 0, STAGED_OTHER = 1 };

/* Are the staged record's lengths those of a text the daemon wrote? They
 * are, unless the daemon is broken: the seqlock already held. */
static __always_inline bool staged_sane(const struct xdp_record *h, __u32 text_len)
{
    return h->text_len == text_len &&
           h->head_len >= XDP_VALUE_PREFIX_LEN + h->key_len + 4 &&
           h->head_len <= text_len && h->cas_len <= text_len - h->head_len;
}

/* Copies the record's n chunks from chunk on into s->staged, a word at a
 * time: each chunk is its own array element to the verifier, so each is
 * looked up (the lookup of an array is a few instructions in line). */
static __always_inline bool copy_chunks(struct scratch *s, __u32 chunk, __u32 n)
{
    for (__u32 c = 0; c < XDP_RECORD_CHUNKS_MAX; c++) {
        __u32 at = chunk + c;
        const __u8 *from;

        if (c >= n)
            break;
        from = bpf_map_lookup_elem(&cache_values, &at);
        if (!from)
            return false;
#pragma clang loop unroll(full)
        for (__u32 w = 0; w < XDP_CHUNK_SIZE / 8; w++)
            store_word((__u8 *)&s->staged + c * XDP_CHUNK_SIZE + w * 8, load_word(from + w * 8));
    }
    return true;
}

/* Copies the record at chunk into s->staged under its seqlock, and checks
 * it holds key i (hash, then bytes). In line in the bucket search (inside
 * serve_key and find_key, both global): a call here cost about 2 ns a key,
 * the verifier checks it once per way (some 15,000 instructions more). */
static __always_inline int stage_record(struct scratch *s, __u32 i, __u32 chunk)
{
    const struct xdp_record *rec;
    __u32 seq, text_len;

    if (!s || chunk == 0)
        return STAGED_OTHER;
    rec = bpf_map_lookup_elem(&cache_values, &chunk);
    if (!rec)
        return STAGED_OTHER;
    seq = *(volatile const __u32 *)&rec->seq;
    text_len = *(volatile const __u16 *)&rec->text_len;
    if (seq & 1)
        return -PASS_pass_race;
    /* A torn length is caught by seq below; it must not read past the map
     * meanwhile. */
    if (text_len > XDP_TEXT_MAX || chunk + xdp_record_chunks(text_len) > value_chunks)
        return -PASS_pass_race;
    compiler_barrier();
    if (!copy_chunks(s, chunk, xdp_record_chunks(text_len)))
        return -PASS_pass_race;
    compiler_barrier();
    if (*(volatile const __u32 *)&rec->seq != seq)
        return -PASS_pass_race;

    if (s->staged.head.key_hash != s->keys[i & KEYS_MASK].hash || !staged_key_is(s, i))
        return STAGED_OTHER;
    if (!staged_sane(&s->staged.head, text_len))
        return -PASS_pass_race;
    return STAGED_MATCH;
}

/* Copies n bytes of the staged text from `from` to the reply at `at`, in
 * words: the last one may carry up to 7 bytes more, which what comes next
 * overwrites or the reply's length leaves out. In line where a call would
 * cost more than a short copy (serve_key); copy_staged() elsewhere. */
static __always_inline void copy_words(struct scratch *s, __u32 at, __u32 from, __u32 n)
{
    if (n > XDP_TEXT_MAX)
        return;
    for (__u32 w = 0; w < (XDP_TEXT_MAX + 7) / 8; w++) {
        if (w * 8 >= n)
            break;
        store_word(&s->out[OUT_HDR_ROOM + ((at + w * 8) & OUT_MASK)],
                   load_word(&s->staged.text[(from + w * 8) & TEXT_MASK]));
    }
}

GLOBAL int copy_staged(struct scratch *s, __u32 at, __u32 from, __u32 n)
{
    if (s)
        copy_words(s, at, from, n);
    return 0;
}

/* Marks the slots of the first n keys as answered, for the daemon's
 * eviction, once the reply is sure to go out; a bit is written only when
 * clear, so a hot key does not write its bucket's line on every hit.
 * Global: in line, even for one key, it had the verifier check it once for
 * each of the many paths to it (a hundred thousand instructions more). */
GLOBAL int mark_used(struct scratch *s, __u32 n)
{
    if (!s)
        return 0;
    for (__u32 i = 0; i < XDP_MULTIGET_MAX; i++) {
        __u32 bucket = s->found[i].bucket, bit = 1u << (s->found[i].way & 7);
        struct xdp_bucket *b;

        if (i >= n)
            break;
        b = bpf_map_lookup_elem(&cache_index, &bucket);
        if (b && !(*(volatile __u32 *)&b->used & bit))
            __sync_fetch_and_or(&b->used, bit);
    }
    return 0;
}

/* Finds key i in its bucket and stages its record: 0, or the reason to pass
 * the request up (PASS_misses: not in the cache). In line in serve_key(),
 * a call less per key; find_key() elsewhere. */
static __always_inline int find_key_inline(struct scratch *s, __u32 i)
{
    struct xdp_bucket *b;
    __u32 hash, bucket;

    hash = s->keys[i & KEYS_MASK].hash;
    bucket = hash & bucket_mask;
    b = bpf_map_lookup_elem(&cache_index, &bucket);
    if (!b)
        return PASS_misses;
    for (__u32 way = 0; way < XDP_BUCKET_SLOTS; way++) {
        /* One load: the daemon writes a slot with one store. */
        __u64 slot = *(volatile __u64 *)&b->slots[way];
        int found;

        if ((__u32)slot != hash)    /* hash is the low word (little-endian) */
            continue;
        found = stage_record(s, i, (__u32)(slot >> 32));
        if (found == STAGED_OTHER)
            continue;
        if (found < 0)
            return -found;
        s->found[i & KEYS_MASK].bucket = bucket;
        s->found[i & KEYS_MASK].way = way;
        return PASS_NONE;
    }
    return PASS_misses;
}

GLOBAL int find_key(struct scratch *s, __u32 i)
{
    if (!s)
        return PASS_pass_malformed;
    return find_key_inline(s, i);
}

/* Is the staged record still to be served? Else the reason to pass. Most
 * items never expire: no clock read for them. */
static __always_inline __u32 staged_live(struct scratch *s)
{
    __u64 expire_ns = s->staged.head.expire_ns;

    if (expire_ns == XDP_NEVER_EXPIRES)
        return PASS_NONE;
    if (!s->now)
        s->now = bpf_ktime_get_ns();
    return expire_ns > s->now ? PASS_NONE : PASS_pass_expired;
}

#endif
