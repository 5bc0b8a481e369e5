/* entry.h - finding a key in the cache map and copying its entry into the
 * reply under the entry's seqlock (docs/xdp.md, step 5 and "Consistency").
 *
 * The daemon writes an entry as: seq odd, fields and text, seq even. Here
 * everything is read between two reads of seq, and the copy is only used
 * when both are equal and even. Nothing in the map is trusted beyond that:
 * lengths are checked before they size a copy. */
#ifndef XDPCACHED_BPF_ENTRY_H
#define XDPCACHED_BPF_ENTRY_H

#include <bpf/bpf_helpers.h>

#include "config.h"
#include "maps.h"
#include "reasons.h"
#include "request.h"
#include "scratch.h"

/* Keeps clang from moving the entry's loads across the reads of seq. Loads
 * are not reordered with loads on x86-64 (TSO), so nothing more is needed
 * there; see docs/xdp.md on weakly ordered CPUs. */
#define compiler_barrier() asm volatile("" ::: "memory")

/* Reply bytes before "END\r\n" (frame header excluded). */
#define OUT_TEXT_MAX (MC_UDP_MAX_DATA - XDP_END_LEN)

/* What the reply is being built from, shared with the bpf_loop callback. */
struct serve {
    struct scratch *s;
    __u64 now;          /* bpf_ktime_get_ns(), read at the first entry that
                           can expire; 0 = not read yet */
    __u32 len;          /* reply text so far, after the frame header */
    __u32 sum;          /* its one's complement sum, memory order, unfolded */
    __u32 reason;
    __u8 with_cas;
};

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

/* Compares the request's key (req[off, off + len), 1 <= len <=
 * XDP_KEY_MAX) with the entry's (text[6, 6 + len)) eight bytes at a time.
 * The last word reads past the key: in the entry still inside text, in
 * scratch into s->out at worst; those bytes (the high ones: x86-64 is
 * little-endian) are masked off. The last word ends the loop whatever it
 * holds, so that no path goes round again knowing len < some bound. */
static __always_inline bool key_equal(const struct xdp_cache_entry *e, const struct scratch *s,
                                      __u32 off, __u32 len)
{
    for (__u32 w = 0; w < KEY_WORDS_MAX; w++) {
        __u64 a = load_word(&e->text[XDP_VALUE_PREFIX_LEN + w * 8]);
        __u64 b = load_word(&s->req[(off + w * 8) & REQ_MASK]);
        __u32 left = len - w * 8;

        if (left <= 8)
            return ((a ^ b) & (~0ULL >> ((8 - left) * 8))) == 0;
        if (a != b)
            return false;
    }
    return false;
}

/* A copy of n bytes of an entry's text from text[from] to the reply text
 * at out[OUT_HDR_ROOM + at], shared with the bpf_loop callback. */
struct text_copy {
    struct scratch *s;
    const struct xdp_cache_entry *e;
    __u32 at;
    __u32 from;
    __u32 words;        /* (n + 7) / 8 */
};

/* Words per callback: a text of up to 64 bytes is one call. A callback is
 * checked by the verifier once, where a loop in line would be checked once
 * per word for each path that reaches it. */
#define COPY_CHUNK_WORDS 8

/* Copies words [i * COPY_CHUNK_WORDS, (i + 1) * COPY_CHUNK_WORDS) of the
 * copy. The last word carries up to 7 bytes more, which the next copy or
 * "END\r\n" overwrites or the reply's length leaves out. The caller has
 * checked from + n <= text_len, so a word never starts past the text (the
 * test says so to the verifier) and never ends past the entry (tail). */
static long copy_chunk(__u32 i, void *ctx)
{
    const struct text_copy *tc = ctx;

#pragma clang loop unroll(full)
    for (__u32 j = 0; j < COPY_CHUNK_WORDS; j++) {
        __u32 w = i * COPY_CHUNK_WORDS + j, src = tc->from + w * 8;

        if (w >= tc->words || src >= XDP_ENTRY_TEXT_MAX)
            return 1;
        /* The address from the checked src, not from one clang kept. */
        barrier_var(src);
        store_word(&tc->s->out[OUT_HDR_ROOM + ((tc->at + w * 8) & OUT_MASK)],
                   load_word(&tc->e->text[src]));
    }
    return 0;
}

static __always_inline void copy_text(struct scratch *s, __u32 at,
                                      const struct xdp_cache_entry *e, __u32 from, __u32 n)
{
    struct text_copy tc = { .s = s, .e = e, .at = at, .from = from, .words = (n + 7) / 8 };

    bpf_loop((tc.words + COPY_CHUNK_WORDS - 1) / COPY_CHUNK_WORDS, copy_chunk, &tc, 0);
}

_Static_assert(sizeof(((struct xdp_cache_entry *)0)->tail) >= 7,
               "a word copied from the text's last byte stays inside the entry");

/* A 16-bit one's complement sum of bytes that start at an odd offset of the
 * reply: their sum at an even offset, byte-swapped (RFC 1071). */
static __always_inline __u32 csum_at(__u32 sum, __u32 offset)
{
    return offset & 1 ? ((sum >> 8) | (sum << 8)) & 0xffff : sum;
}

/* What match_entry() read of an entry, for serve_entry(). */
struct entry_view {
    __u32 seq;
    __u32 head_len;
    __u32 cas_len;
    __u32 text_len;
    __u64 expire_ns;
};

enum entry_match { ENTRY_OTHER, ENTRY_MATCH, ENTRY_PASS };

/* Does the entry hold the key? ENTRY_MATCH: yes, with what was read of it
 * in *v; ENTRY_PASS: sv->reason says why the request must go up; ENTRY_OTHER:
 * it holds some other key. */
static __always_inline int match_entry(struct serve *sv, const struct xdp_cache_entry *e,
                                       const struct key_ref *k, struct entry_view *v)
{
    __u32 key_len = k->len;

    v->seq = *(volatile const __u32 *)&e->seq;
    compiler_barrier();
    if (e->key_hash != k->hash || e->key_len != key_len)
        return ENTRY_OTHER;
    if (v->seq & 1)
        goto race;
    v->head_len = e->head_len;
    v->cas_len = e->cas_len;
    v->text_len = e->text_len;
    v->expire_ns = e->expire_ns;
    if (v->text_len > XDP_ENTRY_TEXT_MAX || v->head_len > v->text_len ||
        v->cas_len > v->text_len - v->head_len || v->head_len < XDP_VALUE_PREFIX_LEN + key_len)
        goto race;      /* torn, or not written yet */
    return key_equal(e, sv->s, k->off, key_len) ? ENTRY_MATCH : ENTRY_OTHER;

race:
    sv->reason = PASS_pass_race;
    return ENTRY_PASS;
}

/* Is the matched entry still to be served? Else false, with sv->reason
 * set. Most items never expire: no clock read for them. */
static __always_inline bool entry_live(struct serve *sv, const struct entry_view *v)
{
    if (v->expire_ns == XDP_NEVER_EXPIRES)
        return true;
    if (!sv->now)
        sv->now = bpf_ktime_get_ns();
    if (v->expire_ns > sv->now)
        return true;
    sv->reason = PASS_pass_expired;
    return false;
}

/* Did no writer come by since match_entry() read seq? Else false, with
 * sv->reason set. Called after everything taken from the entry is copied. */
static __always_inline bool entry_unchanged(struct serve *sv, const struct xdp_cache_entry *e,
                                            const struct entry_view *v)
{
    compiler_barrier();
    if (*(volatile const __u32 *)&e->seq == v->seq)
        return true;
    sv->reason = PASS_pass_race;
    return false;
}

/* Appends the matched entry's reply text and advances sv->len, unless it
 * has expired, does not fit, or a writer came by since match_entry() read
 * seq: then false, with sv->reason set. */
static __always_inline bool serve_entry(struct serve *sv, const struct xdp_cache_entry *e,
                                        const struct entry_view *v)
{
    __u32 skip, n, at, sum;

    if (!entry_live(sv, v))
        return false;
    /* A get skips the cas field; a gets copies the text whole. */
    skip = sv->with_cas ? 0 : v->cas_len;
    n = v->text_len - skip;
    if (n > OUT_TEXT_MAX - sv->len) {
        sv->reason = PASS_pass_too_big;
        return false;
    }
    at = MC_UDP_HEADER_SIZE + sv->len;
    copy_text(sv->s, at, e, 0, v->head_len);
    copy_text(sv->s, at + v->head_len, e, v->head_len + skip, v->text_len - v->head_len - skip);
    sum = sv->with_cas ? e->gets_sum : e->get_sum;
    if (!entry_unchanged(sv, e, v))
        return false;
    sv->sum += csum_at(sum, at);
    sv->len += n;
    return true;
}

/* Where this CPU's stripe of the hits map starts. */
static __always_inline __u32 hits_stripe(void)
{
    return bpf_get_smp_processor_id() * hits_stride;
}

/* The hit counter of cache entry index in the stripe. */
static __always_inline __u32 *hit_counter(__u32 stripe, __u32 index)
{
    __u32 slot = stripe + index;

    return bpf_map_lookup_elem(&hits, &slot);
}

/* Reads the entry's hit counter, which is counted only once the reply is
 * sure to go out: the read starts the counter's cache miss now, so that it
 * overlaps the rest of the reply's work instead of stalling the count. */
static __always_inline void touch_hits(__u32 index)
{
    __u32 *hits_of = hit_counter(hits_stripe(), index);

    if (hits_of)
        (void)*(volatile __u32 *)hits_of;
}

/* Searches key k's bucket. Returns its entry, with *index its place in the
 * map and *v what match_entry() read of it; else NULL with sv->reason set
 * (PASS_misses: not in the map). The caller serves the entry after the
 * search, so that the verifier checks the copy once, not once per way. */
static __always_inline struct xdp_cache_entry *find_entry(struct serve *sv,
                                                          const struct key_ref *k,
                                                          __u32 *index, struct entry_view *v)
{
    __u32 base = (k->hash & bucket_mask) * XDP_CACHE_WAYS;
    struct xdp_cache_entry *e = NULL;
    int match = ENTRY_OTHER;

    for (__u32 way = 0; way < XDP_CACHE_WAYS && match == ENTRY_OTHER; way++) {
        *index = base + way;
        e = bpf_map_lookup_elem(&cache, index);
        if (!e)
            break;
        match = match_entry(sv, e, k, v);
    }
    if (match == ENTRY_MATCH)
        return e;
    if (match == ENTRY_OTHER)
        sv->reason = PASS_misses;
    return NULL;
}

/* Serves key number i of the request; returns 1 (stop) when the request
 * must go up, with sv->reason set. */
static long serve_key(__u32 i, void *ctx)
{
    struct serve *sv = ctx;
    struct key_ref *k = &sv->s->keys[i & KEYS_MASK];
    struct entry_view v = {};
    struct xdp_cache_entry *e;
    __u32 index = 0;

    e = find_entry(sv, k, &index, &v);
    if (!e)
        return 1;
    if (!serve_entry(sv, e, &v))
        return 1;
    sv->s->entry[i & KEYS_MASK] = index;
    touch_hits(index);
    return 0;
}

#endif
