/* meta.h - the one meta request the fast path serves (docs/xdp.md, "mg"):
 * "mg <key>", then flags among v f k s t c O<opaque> q, each at most once
 * and each a token of its own letter alone (O: with up to MG_OPAQUE_MAX
 * bytes after it), separated by single spaces, then "\r\n" or "\n" as the
 * last bytes of the datagram. Anything else (other flags, base64 keys,
 * several requests, other spacing) goes to the daemon.
 *
 * The reply is memcached 1.6.18's to a hit: "VA <bytes> <flags>\r\n<data>\r\n"
 * with v, "HD <flags>\r\n" without, the return flags in the request's order;
 * q changes nothing on a hit. The numbers are copied from the record's text
 * (the same digits as the daemon's VALUE line), the TTL computed from
 * exptime_sec and the coarse clock (shared/xdp_cache.h). */
#ifndef XDPCACHED_BPF_META_H
#define XDPCACHED_BPF_META_H

#include <bpf/bpf_helpers.h>

#include "csum.h"
#include "lookup.h"
#include "reasons.h"
#include "request.h"
#include "scratch.h"

#define NS_PER_SEC 1000000000ULL
/* bpf_csum_diff sums at most 512 bytes; the longest mg line (a 250-byte
 * key, a 32-byte opaque and every number at its longest) is about 350. */
#define MG_LINE_SUM_MAX 512
/* The longest number copied from a record: a 64-bit CAS. */
#define MG_NUMBER_MAX 20

/* The flags served, one bit each. */
enum mg_flag_bit {
    MG_V = 1 << 0, MG_F = 1 << 1, MG_K = 1 << 2, MG_S = 1 << 3,
    MG_T = 1 << 4, MG_C = 1 << 5, MG_O = 1 << 6, MG_Q = 1 << 7,
};

/* Is it an mg request (the word and a space)? The mg program parses it. */
static __always_inline bool is_mg(const struct scratch *s, __u32 len)
{
    return req_byte(s, len, 0) == 'm' && req_byte(s, len, 1) == 'g' &&
           req_byte(s, len, 2) == ' ';
}

static __always_inline __u32 mg_flag_bit(__u8 c)
{
    switch (c) {
    case 'v': return MG_V;
    case 'f': return MG_F;
    case 'k': return MG_K;
    case 's': return MG_S;
    case 't': return MG_T;
    case 'c': return MG_C;
    case 'O': return MG_O;
    case 'q': return MG_Q;
    }
    return 0;
}

/* Flag token number i, at pos, into s->mg (seen: the flags before it, as
 * bits). Returns where the token ends, or -reason. */
GLOBAL int scan_flag(struct scratch *s, __u32 i, __u32 pos, __u32 line_end, __u32 seen)
{
    __u32 len = 1, bit;
    __u8 c;

    if (!s)
        return -PASS_pass_malformed;
    c = s->req[pos & REQ_MASK];
    /* Two spaces in a row, or a space before the line end. */
    if (pos >= line_end || !is_key_byte(c))
        return -PASS_pass_malformed;
    bit = mg_flag_bit(c);
    if (c == 'O') {
        for (len = 1; len <= MG_OPAQUE_MAX + 1; len++) {
            if (!is_key_byte(s->req[(pos + len) & REQ_MASK]))
                break;
        }
        if (len > MG_OPAQUE_MAX + 1)
            return -PASS_pass_too_long;
        s->mg.opaque_off = pos;
        s->mg.opaque_len = len;
    } else if (is_key_byte(s->req[(pos + 1) & REQ_MASK])) {
        bit = 0;        /* more than a letter: "T30", "vv", ... */
    }
    if (!bit || (seen & bit))
        return -PASS_pass_mg_flag;
    s->mg.flags[i & MG_FLAGS_MASK] = c;
    s->mg.nflags = i + 1;
    if (c == 'v')
        s->mg.value = 1;
    return pos + len;
}

/* Parses the len bytes of s->req (an mg request, is_mg()) into s->keys[0]
 * and s->mg; truncated: the request goes on beyond them. Returns the reason
 * to pass it up, or PASS_NONE. A ninth flag token is always a repeat or a
 * flag not served, so MG_FLAGS_MAX + 1 tokens end the scan. */
GLOBAL int parse_mg(struct scratch *s, __u32 len, __u32 truncated)
{
    __u32 line_end, pos, seen = 0;
    int end;

    if (!s)
        return PASS_pass_malformed;
    if (truncated)
        return PASS_pass_too_long;
    line_end = find_line_end(s, len);
    if (line_end <= 3)
        return PASS_pass_malformed;
    s->mg.nflags = 0;
    s->mg.value = 0;
    end = scan_key(s, 0, 3);
    if (end < 0)
        return -end;
    pos = end;
    for (__u32 i = 0; i <= MG_FLAGS_MAX && pos != line_end; i++) {
        if (s->req[pos & REQ_MASK] != ' ')
            return PASS_pass_malformed;
        end = scan_flag(s, i, pos + 1, line_end, seen);
        if (end < 0)
            return -end;
        seen |= mg_flag_bit(s->mg.flags[i & MG_FLAGS_MASK]);
        pos = end;
    }
    return pos == line_end ? PASS_NONE : PASS_pass_malformed;
}

static __always_inline void out_byte(struct scratch *s, __u32 at, __u8 c)
{
    s->out[OUT_HDR_ROOM + (at & OUT_MASK)] = c;
}

/* Where the staged record's byte count starts: "VALUE <key> <flags> "
 * before it. */
static __always_inline __u32 bytes_from(const struct xdp_record *h)
{
    return XDP_VALUE_PREFIX_LEN + h->key_len + 1 + h->flags_len + 1;
}

/* mg's TTL at `at`: "-1" if the item never expires, else its exptime less
 * the daemon's clock now, both in CLOCK_MONOTONIC seconds (exptime_sec).
 * Returns where the number ends. */
static __always_inline __u32 put_ttl(struct scratch *s, __u32 at)
{
    __u32 exptime_sec = s->staged.head.exptime_sec, ttl, rest, digits = 1;

    if (!exptime_sec) {
        out_byte(s, at, '-');
        out_byte(s, at + 1, '1');
        return at + 2;
    }
    /* Unsigned, as memcached prints it; served records are in the future. */
    ttl = exptime_sec - (__u32)(bpf_ktime_get_coarse_ns() / NS_PER_SEC);
    rest = ttl;
    for (int i = 0; i < 9; i++) {
        if (rest < 10)
            break;
        rest /= 10;
        digits++;
    }
    for (__u32 i = 0; i < 10; i++) {
        out_byte(s, at + digits - 1 - i, '0' + ttl % 10);
        ttl /= 10;
        if (i + 1 >= digits)
            break;
    }
    return at + digits;
}

/* Return flag number i of the request, appended to the line at `at`: a
 * space, its letter, its value (O: the request's token as it came). v and
 * q print nothing. Returns where the line now ends. */
GLOBAL int put_mg_flag(struct scratch *s, __u32 i, __u32 at)
{
    const struct xdp_record *h;
    __u32 from, n;
    __u8 c;

    if (!s)
        return at;
    h = &s->staged.head;
    c = s->mg.flags[i & MG_FLAGS_MASK];
    if (c == 'v' || c == 'q')
        return at;
    out_byte(s, at, ' ');
    if (c == 'O') {
        n = s->mg.opaque_len;
        from = s->mg.opaque_off;
        /* In words: the bytes after the token are overwritten next. */
#pragma clang loop unroll(full)
        for (__u32 w = 0; w < (MG_OPAQUE_MAX + 1 + 7) / 8; w++) {
            if (w * 8 >= n)
                break;
            store_word(&s->out[OUT_HDR_ROOM + ((at + 1 + w * 8) & OUT_MASK)],
                       load_word(&s->req[(from + w * 8) & REQ_MASK]));
        }
        return at + 1 + n;
    }
    out_byte(s, at + 1, c);
    at += 2;
    if (c == 't')
        return put_ttl(s, at);
    if (c == 'k') {
        from = XDP_VALUE_PREFIX_LEN;
        n = h->key_len;
    } else if (c == 'f') {
        from = XDP_VALUE_PREFIX_LEN + h->key_len + 1;
        n = h->flags_len;
    } else if (c == 's') {
        from = bytes_from(h);
        n = h->head_len - from;
    } else {                                /* c */
        from = h->head_len + 1;             /* after the space */
        n = h->cas_len - 1;
    }
    copy_staged(s, at, from, n);
    return at + n;
}

/* Are the staged record's numbers where mg_reply() looks for them? They
 * are, for every record the daemon writes. */
static __always_inline bool mg_fields_sane(const struct xdp_record *h)
{
    return h->flags_len != 0 && h->flags_len <= MG_NUMBER_MAX &&
           bytes_from(h) < h->head_len && h->head_len - bytes_from(h) <= MG_NUMBER_MAX &&
           h->cas_len >= 2 && h->cas_len - 1 <= MG_NUMBER_MAX;
}

/* The line's sum: bpf_csum_diff adds whole 4-byte words, so the line is
 * summed up to the next one with the bytes after it set aside and zeros in
 * their place (zeros add nothing), then put back. */
static __always_inline long mg_line_sum(struct scratch *s, __u32 at)
{
    __u32 line_len = at - MC_UDP_HEADER_SIZE, sum_len = (line_len + 3) & ~3u;
    __u32 pad_at = OUT_HDR_ROOM + (at & OUT_MASK);
    __u32 saved = *(__u32 *)&s->out[pad_at];
    long sum;

    if (sum_len > MG_LINE_SUM_MAX)
        return -1;
    *(__u32 *)&s->out[pad_at] = 0;
    sum = bpf_csum_diff(NULL, 0, (void *)&s->out[OUT_HDR_ROOM + MC_UDP_HEADER_SIZE], sum_len, 0);
    *(__u32 *)&s->out[pad_at] = saved;
    return sum;
}

/* The mg reply to the request in s, from the cache, in s->out after the
 * frame header (s->out_len, s->out_sum); the reason to pass it up, or
 * PASS_NONE. */
GLOBAL int mg_reply(struct scratch *s)
{
    const struct xdp_record *h;
    __u32 reason, at, rest_from, rest_len, from;
    long line_sum;

    if (!s)
        return PASS_pass_malformed;
    s->now = 0;
    reason = find_key(s, 0);
    if (!reason)
        reason = staged_live(s);
    if (reason)
        return reason;
    h = &s->staged.head;
    if (!mg_fields_sane(h))
        return PASS_pass_race;
    rest_from = h->head_len + h->cas_len;
    rest_len = h->text_len - rest_from;

    at = MC_UDP_HEADER_SIZE;
    if (s->mg.value) {
        from = bytes_from(h);
        out_byte(s, at, 'V');
        out_byte(s, at + 1, 'A');
        out_byte(s, at + 2, ' ');
        copy_staged(s, at + 3, from, h->head_len - from);
        at += 3 + h->head_len - from;
    } else {
        out_byte(s, at, 'H');
        out_byte(s, at + 1, 'D');
        at += 2;
    }
    for (__u32 i = 0; i < MG_FLAGS_MAX; i++) {
        if (i >= s->mg.nflags)
            break;
        at = put_mg_flag(s, i, at);
    }
    if (!s->mg.value) {
        out_byte(s, at, '\r');
        out_byte(s, at + 1, '\n');
        at += 2;
        rest_len = 0;
    }
    if (at - MC_UDP_HEADER_SIZE + rest_len > MC_UDP_MAX_DATA || at > OUT_MASK)
        return PASS_pass_too_big;
    line_sum = mg_line_sum(s, at);
    if (line_sum < 0)
        return PASS_pass_too_big;
    copy_staged(s, at, rest_from, rest_len);
    s->out_len = at - MC_UDP_HEADER_SIZE + rest_len;
    s->out_sum = csum_fold16((__u32)line_sum) +
                 (rest_len ? csum_at(h->rest_sum, at) : 0);
    return PASS_NONE;
}

#endif
