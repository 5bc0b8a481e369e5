/* meta.h - the one meta request the fast path serves (docs/xdp.md, "mg"):
 * "mg <key>", then flags among v f k s t c O<opaque> q, each at most once
 * and each a token of its own letter alone (O: with up to MG_OPAQUE_MAX
 * bytes after it), separated by single spaces, then "\r\n" or "\n" as the
 * last bytes of the datagram. Anything else (other flags, base64 keys,
 * several requests, other spacing) goes to the daemon.
 *
 * The reply is memcached 1.6.18's to a hit: "VA <bytes> <flags>\r\n<data>\r\n"
 * with v, "HD <flags>\r\n" without, the return flags in the request's order;
 * q changes nothing on a hit. The numbers are copied from the entry's text
 * (the same digits as the daemon's VALUE line), the TTL computed from
 * exptime_sec and the coarse clock (shared/xdp_cache.h). */
#ifndef XDPCACHED_BPF_META_H
#define XDPCACHED_BPF_META_H

#include <bpf/bpf_helpers.h>

#include "csum.h"
#include "entry.h"
#include "reasons.h"
#include "reply.h"
#include "request.h"
#include "scratch.h"

#define NS_PER_SEC 1000000000ULL
/* bpf_csum_diff sums at most 512 bytes; the longest mg line (a 250-byte
 * key, a 32-byte opaque and every number at its longest) is about 350. */
#define MG_LINE_SUM_MAX 512

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

/* State of the flag scan, shared with the bpf_loop callback. */
struct flag_scan {
    struct scratch *s;
    __u32 line_end;
    __u32 seen;         /* enum mg_flag_bit */
    __u32 reason;
    __u8 done;          /* the last token ended the line */
};

/* Flag token number i, at s->mg.pos, into s->mg. Returns 1 to stop: after the
 * last token (fs->done) or with fs->reason set. A ninth token is always a
 * repeat or a flag not served, so MG_FLAGS_MAX + 1 calls end the scan. */
static long scan_flag(__u32 i, void *ctx)
{
    struct flag_scan *fs = ctx;
    struct scratch *s = fs->s;
    __u32 start = s->mg.pos, len = 1, bit;
    __u8 c = s->req[start & REQ_MASK];

    /* Two spaces in a row, or a space before the line end. */
    if (start >= fs->line_end || !is_key_byte(c))
        goto malformed;
    bit = mg_flag_bit(c);
    if (c == 'O') {
        for (len = 1; len <= MG_OPAQUE_MAX + 1; len++) {
            if (start + len == fs->line_end || !is_key_byte(s->req[(start + len) & REQ_MASK]))
                break;
        }
        if (len > MG_OPAQUE_MAX + 1) {
            fs->reason = PASS_pass_too_long;
            return 1;
        }
        s->mg.opaque_off = start;
        s->mg.opaque_len = len;
    } else if (start + 1 != fs->line_end && is_key_byte(s->req[(start + 1) & REQ_MASK])) {
        bit = 0;        /* more than a letter: "T30", "vv", ... */
    }
    if (!bit || (fs->seen & bit)) {
        fs->reason = PASS_pass_mg_flag;
        return 1;
    }
    fs->seen |= bit;
    s->mg.flags[i & MG_FLAGS_MASK] = c;
    s->mg.nflags = i + 1;
    if (start + len == fs->line_end) {
        fs->done = 1;
        return 1;
    }
    if (s->req[(start + len) & REQ_MASK] != ' ')
        goto malformed;
    s->mg.pos = start + len + 1;
    return 0;

malformed:
    fs->reason = PASS_pass_malformed;
    return 1;
}

/* Parses the len bytes of s->req (an mg request, is_mg()) into s->keys[0]
 * and s->mg; truncated: the request goes on beyond them. Returns the reason
 * to pass it up, or PASS_NONE. */
static __always_inline __u32 parse_mg(struct scratch *s, __u32 len, bool truncated)
{
    struct key_scan ks = { .s = s, .pos = 3 };
    struct flag_scan fs = { .s = s };

    if (truncated)
        return PASS_pass_too_long;
    ks.line_end = find_line_end(s, len);
    if (ks.line_end <= ks.pos)
        return PASS_pass_malformed;
    s->mg.nflags = 0;
    /* The key, as the first key of a get; 0: a space and more follow. */
    if (scan_key(0, &ks) == 0) {
        s->mg.pos = ks.pos;
        fs.line_end = ks.line_end;
        bpf_loop(MG_FLAGS_MAX + 1, scan_flag, &fs, 0);
        if (!fs.reason && !fs.done)
            fs.reason = PASS_pass_malformed;
    }
    if (ks.reason)
        return ks.reason;
    s->mg.value = (fs.seen & MG_V) != 0;
    return fs.reason;
}

static __always_inline void out_byte(struct scratch *s, __u32 at, __u8 c)
{
    s->out[OUT_HDR_ROOM + (at & OUT_MASK)] = c;
}

/* The longest piece copy_short() copies: the O token. */
#define MG_SHORT_MAX (MG_OPAQUE_MAX + 1)
/* The longest number copied from an entry: a 64-bit CAS. */
#define MG_NUMBER_MAX 20

/* Copies the n (at most MG_SHORT_MAX) bytes at from[src] (src < limit, the
 * size of from) to the reply at `at`, in words: the bytes after them are
 * overwritten next. In line: copy_text's callback, called from several
 * places here, costs the verifier far more than four words. */
static __always_inline void copy_short(struct scratch *s, __u32 at, const __u8 *from,
                                       __u32 src, __u32 n, __u32 limit)
{
#pragma clang loop unroll(full)
    for (__u32 w = 0; w < (MG_SHORT_MAX + 7) / 8; w++) {
        __u32 i = src + w * 8;

        if (w * 8 >= n || i >= limit)
            break;
        /* The address from the checked i, not from one clang kept. */
        barrier_var(i);
        store_word(&s->out[OUT_HDR_ROOM + ((at + w * 8) & OUT_MASK)], load_word(&from[i]));
    }
}

/* A number of the entry's text, n <= MG_NUMBER_MAX bytes at text[src]. */
static __always_inline void copy_number(struct scratch *s, __u32 at,
                                        const struct xdp_cache_entry *e, __u32 src, __u32 n)
{
    copy_short(s, at, (const __u8 *)e->text, src, n, XDP_ENTRY_TEXT_MAX);
}

/* The reply line being built from the matched entry, shared with the
 * bpf_loop callback (where it has got to is s->mg.at). Offsets are the
 * entry's, checked by match_entry() and mg_reply(). */
struct mg_line {
    struct scratch *s;
    const struct xdp_cache_entry *e;
    __u32 key_len;
    __u32 flags_len;
    __u32 head_len;
    __u32 cas_len;
    __u32 exptime_sec;
};

/* Where the entry's byte count starts: "VALUE <key> <flags> " before it. */
static __always_inline __u32 bytes_from(const struct mg_line *l)
{
    return XDP_VALUE_PREFIX_LEN + l->key_len + 1 + l->flags_len + 1;
}

/* mg's TTL at `at`: "-1" if the item never expires, else its exptime less
 * the daemon's clock now, both in CLOCK_MONOTONIC seconds (exptime_sec).
 * Returns where the number ends. */
static __always_inline __u32 put_ttl(const struct mg_line *l, __u32 at)
{
    __u32 ttl, rest, digits = 1;

    if (!l->exptime_sec) {
        out_byte(l->s, at, '-');
        out_byte(l->s, at + 1, '1');
        return at + 2;
    }
    /* Unsigned, as memcached prints it; served entries are in the future. */
    ttl = l->exptime_sec - (__u32)(bpf_ktime_get_coarse_ns() / NS_PER_SEC);
    rest = ttl;
    for (int i = 0; i < 9; i++) {
        if (rest < 10)
            break;
        rest /= 10;
        digits++;
    }
    for (__u32 i = 0; i < 10; i++) {
        out_byte(l->s, at + digits - 1 - i, '0' + ttl % 10);
        ttl /= 10;
        if (i + 1 >= digits)
            break;
    }
    return at + digits;
}

/* Return flag number i of the request, appended to the line: a space, its
 * letter, its value (O: the request's token as it came). v and q print
 * nothing. */
static long put_flag(__u32 i, void *ctx)
{
    struct mg_line *l = ctx;
    struct scratch *s = l->s;
    __u8 c = s->mg.flags[i & MG_FLAGS_MASK];
    __u32 at = s->mg.at, from, n;

    if (c == 'v' || c == 'q')
        return 0;
    out_byte(s, at, ' ');
    if (c == 'O') {
        copy_short(s, at + 1, s->req, s->mg.opaque_off, s->mg.opaque_len, REQ_BUF);
        s->mg.at = at + 1 + s->mg.opaque_len;
        return 0;
    }
    out_byte(s, at + 1, c);
    at += 2;
    if (c == 't') {
        s->mg.at = put_ttl(l, at);
        return 0;
    }
    if (c == 'k') {
        copy_text(s, at, l->e, XDP_VALUE_PREFIX_LEN, l->key_len);
        s->mg.at = at + l->key_len;
        return 0;
    }
    if (c == 'f') {
        from = XDP_VALUE_PREFIX_LEN + l->key_len + 1;
        n = l->flags_len;
    } else if (c == 's') {
        from = bytes_from(l);
        n = l->head_len - from;
    } else {                                /* c */
        from = l->head_len + 1;             /* after the space */
        n = l->cas_len - 1;
    }
    copy_number(s, at, l->e, from, n);
    s->mg.at = at + n;
    return 0;
}

/* The mg reply to the request in s, from the map, in s->out (frame header
 * included); the reason to pass it up, or PASS_NONE with rp filled. As for
 * a get, everything taken from the entry is taken under its seqlock. */
static __always_inline __u32 mg_reply(struct scratch *s, struct reply *rp)
{
    struct serve sv = { .s = s };
    struct mg_line l = { .s = s };
    struct entry_view v = {};
    struct xdp_cache_entry *e;
    __u32 index = 0, at, line_len, sum_len, rest_from, rest_len, rest_sum, from;
    long line_sum;

    e = find_entry(&sv, &s->keys[0], &index, &v);
    if (!e || !entry_live(&sv, &v))
        return sv.reason;
    l.e = e;
    l.key_len = s->keys[0].len;
    l.head_len = v.head_len;
    l.cas_len = v.cas_len;
    l.flags_len = e->flags_len;
    l.exptime_sec = e->exptime_sec;
    rest_sum = e->rest_sum;
    /* A torn entry (the seq check below would catch it) must not make the
     * offsets run backwards. */
    if (l.flags_len == 0 || bytes_from(&l) >= l.head_len ||
        l.head_len - bytes_from(&l) > MG_NUMBER_MAX || l.flags_len > MG_NUMBER_MAX ||
        l.cas_len < 2 || l.cas_len - 1 > MG_NUMBER_MAX)
        return PASS_pass_race;
    rest_from = v.head_len + v.cas_len;
    rest_len = v.text_len - rest_from;
    /* Bounds the copies for the verifier (match_entry() checked them). */
    if (l.key_len > XDP_KEY_MAX || rest_len > MC_UDP_MAX_DATA)
        return PASS_pass_race;

    if (s->mg.value) {
        from = bytes_from(&l);
        out_byte(s, MC_UDP_HEADER_SIZE, 'V');
        out_byte(s, MC_UDP_HEADER_SIZE + 1, 'A');
        out_byte(s, MC_UDP_HEADER_SIZE + 2, ' ');
        copy_number(s, MC_UDP_HEADER_SIZE + 3, e, from, l.head_len - from);
        s->mg.at = MC_UDP_HEADER_SIZE + 3 + l.head_len - from;
    } else {
        out_byte(s, MC_UDP_HEADER_SIZE, 'H');
        out_byte(s, MC_UDP_HEADER_SIZE + 1, 'D');
        s->mg.at = MC_UDP_HEADER_SIZE + 2;
    }
    bpf_loop(s->mg.nflags, put_flag, &l, 0);
    at = s->mg.at;
    if (s->mg.value) {
        copy_text(s, at, e, rest_from, rest_len);
    } else {
        out_byte(s, at, '\r');
        out_byte(s, at + 1, '\n');
        at += 2;
        rest_len = 0;
    }
    if (!entry_unchanged(&sv, e, &v))
        return sv.reason;

    line_len = at - MC_UDP_HEADER_SIZE;
    if (line_len + rest_len > MC_UDP_MAX_DATA)
        return PASS_pass_too_big;
    /* The line's sum: bpf_csum_diff adds whole 4-byte words, so the line
     * is summed up to the next one with the data's first bytes set aside
     * and zeros in their place (zeros add nothing), then put back. */
    sum_len = (line_len + 3) & ~3u;
    if (sum_len > MG_LINE_SUM_MAX)
        return PASS_pass_too_big;
    {
        __u32 pad_at = OUT_HDR_ROOM + (at & OUT_MASK);
        __u32 saved = *(__u32 *)&s->out[pad_at];

        *(__u32 *)&s->out[pad_at] = 0;
        line_sum = bpf_csum_diff(NULL, 0, (void *)&s->out[OUT_HDR_ROOM + MC_UDP_HEADER_SIZE],
                                 sum_len, 0);
        *(__u32 *)&s->out[pad_at] = saved;
    }
    if (line_sum < 0)
        return PASS_pass_malformed;

    s->entry[0] = index;
    touch_hits(index);
    put_frame_header(s);
    rp->len = at + rest_len;
    rp->text_sum = csum_fold16((__u32)line_sum) + (rest_len ? csum_at(rest_sum, at) : 0);
    rp->nkeys = 1;
    return PASS_NONE;
}

/* mg_reply() as a bpf_loop callback, called once: then the copies'
 * callbacks nest in it as they do in serve_key() for a get, which the
 * verifier checks; called from the program's own frame, it gives up (too
 * many jumps). */
struct mg_build {
    struct scratch *s;
    struct reply rp;
    __u32 reason;
};

static long mg_reply_once(__u32 i, void *ctx)
{
    struct mg_build *b = ctx;

    (void)i;
    b->reason = mg_reply(b->s, &b->rp);
    return 1;
}

/* The mg reply, or the reason to pass the request up (see mg_reply). */
static __always_inline __u32 build_mg_reply(struct scratch *s, struct reply *rp)
{
    struct mg_build b = { .s = s, .reason = PASS_pass_race };

    bpf_loop(1, mg_reply_once, &b, 0);
    *rp = b.rp;
    return b.reason;
}

#endif
