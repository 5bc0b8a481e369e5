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
    __u64 now;          /* bpf_ktime_get_ns() when the request came */
    __u32 len;          /* reply text so far, after the frame header */
    __u32 reason;
    __u8 with_cas;
};

enum entry_match { ENTRY_OTHER, ENTRY_SERVED, ENTRY_PASS };

/* Compares the request's key with the entry's (text[6, 6 + len)) eight
 * bytes at a time, shared with the bpf_loop callback. */
struct key_cmp {
    const struct xdp_cache_entry *e;
    const struct scratch *s;
    __u32 off;          /* the key in s->req */
    __u32 len;
    bool differ;
};

static long cmp_word(__u32 i, void *ctx)
{
    struct key_cmp *kc = ctx;
    __u32 at = (i * 8) & 255, left = kc->len - at;
    /* Unaligned loads are fine on x86-64. The last word reads past the
     * key: in the entry still inside text, in scratch into s->out at
     * worst; those bytes are masked off. */
    __u64 a = *(const __u64 *)&kc->e->text[XDP_VALUE_PREFIX_LEN + at];
    __u64 b = *(const __u64 *)&kc->s->req[(kc->off + at) & REQ_MASK];

    if (left < 8) {
        __u64 mask = (1ULL << ((left & 7) * 8)) - 1;

        a &= mask;
        b &= mask;
    }
    if (a != b) {
        kc->differ = true;
        return 1;
    }
    return 0;
}

static __always_inline bool key_equal(const struct xdp_cache_entry *e, const struct scratch *s,
                                      const struct key_ref *k, __u32 len)
{
    struct key_cmp kc = { .e = e, .s = s, .off = k->off, .len = len };

    bpf_loop((len + 7) / 8, cmp_word, &kc, 0);
    return !kc.differ;
}

/* Copies n bytes of the entry's text from text[from] to the reply at
 * out[at]; the caller has checked that both ranges are in bounds. A dynptr
 * over the text makes bpf_dynptr_read() a memcpy whose bounds are checked
 * at run time, which the verifier accepts for lengths it cannot know. */
static __always_inline void copy_text(struct scratch *s, __u32 at, struct xdp_cache_entry *e,
                                      __u32 from, __u32 n)
{
    struct bpf_dynptr text;

    bpf_dynptr_from_mem(e->text, sizeof(e->text), 0, &text);
    bpf_dynptr_read(&s->out[at & OUT_MASK], n & OUT_MASK, &text, from, 0);
}

/* Tries the entry for the key. ENTRY_SERVED: its reply text is appended
 * and sv->len advanced; ENTRY_PASS: sv->reason says why the request must go
 * up; ENTRY_OTHER: it holds some other key. */
static __always_inline int try_entry(struct serve *sv, struct xdp_cache_entry *e,
                                     const struct key_ref *k)
{
    __u32 seq, key_len = k->len, head_len, cas_len, text_len, n, at;
    __u64 expire_ns;

    seq = *(volatile const __u32 *)&e->seq;
    compiler_barrier();
    if (e->key_hash != k->hash || e->key_len != key_len)
        return ENTRY_OTHER;
    if (seq & 1)
        goto race;
    head_len = e->head_len;
    cas_len = e->cas_len;
    text_len = e->text_len;
    expire_ns = e->expire_ns;
    if (text_len > XDP_ENTRY_TEXT_MAX || head_len > text_len || cas_len > text_len - head_len ||
        head_len < XDP_VALUE_PREFIX_LEN + key_len)
        goto race;      /* torn, or not written yet */
    if (!key_equal(e, sv->s, k, key_len))
        return ENTRY_OTHER;
    if (expire_ns <= sv->now) {
        sv->reason = PASS_pass_expired;
        return ENTRY_PASS;
    }

    n = sv->with_cas ? text_len : text_len - cas_len;
    if (n > OUT_TEXT_MAX - sv->len) {
        sv->reason = PASS_pass_too_big;
        return ENTRY_PASS;
    }
    at = MC_UDP_HEADER_SIZE + sv->len;
    if (sv->with_cas) {
        copy_text(sv->s, at, e, 0, text_len);
    } else {
        copy_text(sv->s, at, e, 0, head_len);
        copy_text(sv->s, at + head_len, e, head_len + cas_len, text_len - head_len - cas_len);
    }

    compiler_barrier();
    if (*(volatile const __u32 *)&e->seq != seq)
        goto race;
    sv->len += n;
    return ENTRY_SERVED;

race:
    sv->reason = PASS_pass_race;
    return ENTRY_PASS;
}

/* Serves key number i of the request from its bucket; returns 1 (stop)
 * when the request must go up, with sv->reason set. */
static long serve_key(__u32 i, void *ctx)
{
    struct serve *sv = ctx;
    struct key_ref *k = &sv->s->keys[i & KEYS_MASK];
    __u32 base = (k->hash & bucket_mask) * XDP_CACHE_WAYS;

    for (__u32 way = 0; way < XDP_CACHE_WAYS; way++) {
        __u32 index = base + way;
        struct xdp_cache_entry *e = bpf_map_lookup_elem(&cache, &index);

        if (!e)
            break;
        switch (try_entry(sv, e, k)) {
        case ENTRY_SERVED:
            sv->s->entry[i & KEYS_MASK] = index;
            return 0;
        case ENTRY_PASS:
            return 1;
        }
    }
    sv->reason = PASS_misses;
    return 1;
}

#endif
