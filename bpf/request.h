/* request.h - the one request form the fast path serves (docs/xdp.md, step
 * 4): "get" or "gets", then 1 to XDP_MULTIGET_MAX keys of 1 to XDP_KEY_MAX
 * bytes > 0x20 (not 0x7f) separated by single spaces, then "\r\n" or "\n" as
 * the last bytes of the datagram. Anything else is left to the daemon, whose
 * tokenizer accepts more and must be the one to answer it.
 *
 * The parser reads the copy of the payload in scratch and fills
 * scratch.keys, hashing each key as it goes. */
#ifndef XDPCACHED_BPF_REQUEST_H
#define XDPCACHED_BPF_REQUEST_H

#include "reasons.h"
#include "scratch.h"

_Static_assert((XDP_MULTIGET_MAX & (XDP_MULTIGET_MAX - 1)) == 0,
               "key slots are indexed with a mask");
#define KEYS_MASK (XDP_MULTIGET_MAX - 1)

struct get_request {
    __u32 nkeys;
    __u8 with_cas;      /* gets */
};

/* State of the key scan, shared with the bpf_loop callback. */
struct key_scan {
    struct scratch *s;
    __u32 start;        /* first byte after "get " / "gets " */
    __u32 nkeys;
    __u32 key_off;      /* start of the key being read */
    __u32 key_len;      /* its bytes so far; 0 = between keys */
    __u32 hash;
    __u32 reason;
};

static __always_inline void end_key(struct key_scan *ks)
{
    struct key_ref *k = &ks->s->keys[ks->nkeys & KEYS_MASK];

    k->off = ks->key_off;
    k->len = ks->key_len;
    k->hash = xdp_key_hash_finish(ks->hash);
    ks->nkeys++;
    ks->key_len = 0;
}

/* One byte of the key list; returns 1 to stop the scan. */
static long scan_byte(__u32 i, void *ctx)
{
    struct key_scan *ks = ctx;
    __u32 pos = (ks->start + i) & REQ_MASK;
    __u8 c = ks->s->req[pos];

    if (c == ' ') {
        if (ks->key_len == 0)   /* two spaces in a row */
            goto malformed;
        end_key(ks);
        return 0;
    }
    if (c <= ' ' || c == 0x7f)
        goto malformed;
    if (ks->key_len == 0) {
        if (ks->nkeys >= XDP_MULTIGET_MAX) {
            ks->reason = PASS_pass_too_many_keys;
            return 1;
        }
        ks->key_off = pos;
        ks->hash = XDP_HASH_INIT;
    } else if (ks->key_len >= XDP_KEY_MAX) {
        ks->reason = PASS_pass_too_long;
        return 1;
    }
    ks->key_len++;
    ks->hash = xdp_key_hash_step(ks->hash, c);
    return 0;

malformed:
    ks->reason = PASS_pass_malformed;
    return 1;
}

/* The byte at i of a request of len bytes, or 0 past its end (scratch
 * holds an older request's bytes there). */
static __always_inline __u8 req_byte(const struct scratch *s, __u32 len, __u32 i)
{
    return i < len ? s->req[i & REQ_MASK] : 0;
}

/* Parses the len (1..XDP_REQUEST_MAX) bytes of s->req; truncated: the
 * request goes on beyond them. Returns the reason to pass it up, or
 * PASS_NONE with r filled. */
static __always_inline __u32 parse_request(struct scratch *s, __u32 len, bool truncated,
                                           struct get_request *r)
{
    struct key_scan ks = { .s = s };
    __u32 line_end;
    __u8 after;

    if (req_byte(s, len, 0) != 'g' || req_byte(s, len, 1) != 'e' ||
        req_byte(s, len, 2) != 't')
        return PASS_pass_not_get;
    r->with_cas = req_byte(s, len, 3) == 's';
    ks.start = r->with_cas ? 4 : 3;
    after = req_byte(s, len, ks.start);
    /* "get" or "gets" without keys is the daemon's ERROR to give, as is any
     * other word starting with "get". */
    if (after == '\r' || after == '\n' || ks.start >= len)
        return PASS_pass_malformed;
    if (after != ' ')
        return PASS_pass_not_get;
    if (truncated)
        return PASS_pass_too_long;
    ks.start++;

    /* The line ends with the datagram: the last byte is "\n", with an
     * optional "\r" before it. A second command after it, or no newline at
     * all, fails here or in the scan (which refuses "\r" and "\n" in keys). */
    if (req_byte(s, len, len - 1) != '\n')
        return PASS_pass_malformed;
    line_end = len - 1;
    if (req_byte(s, len, line_end - 1) == '\r')
        line_end--;
    if (line_end <= ks.start)
        return PASS_pass_malformed;

    bpf_loop(line_end - ks.start, scan_byte, &ks, 0);
    if (ks.reason)
        return ks.reason;
    if (ks.key_len == 0)        /* a space before the line end */
        return PASS_pass_malformed;
    end_key(&ks);
    r->nkeys = ks.nkeys;
    return PASS_NONE;
}

#endif
