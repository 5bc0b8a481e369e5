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
    __u32 pos;          /* where the next key starts */
    __u32 line_end;     /* the "\r" or "\n" ending the line */
    __u32 nkeys;
    __u32 reason;
};

static __always_inline bool is_key_byte(__u8 c)
{
    return c > ' ' && c != 0x7f;
}

/* Key number i, from ks->pos to the first byte that cannot be in a key,
 * hashed as it is read: one bounded loop per key, rather than a callback
 * per byte. Returns 1 to stop: at the line end, or with ks->reason set.
 * Key number XDP_MULTIGET_MAX is one too many as soon as it has a byte. */
static long scan_key(__u32 i, void *ctx)
{
    struct key_scan *ks = ctx;
    __u32 start = ks->pos, limit = i < XDP_MULTIGET_MAX ? XDP_KEY_MAX : 0;
    __u32 len, hash = XDP_HASH_INIT;
    struct key_ref *k;
    __u8 c = 0;

    for (len = 0; len <= XDP_KEY_MAX; len++) {
        c = ks->s->req[(start + len) & REQ_MASK];
        if (!is_key_byte(c))
            break;
        if (len == limit) {
            ks->reason = limit ? PASS_pass_too_long : PASS_pass_too_many_keys;
            return 1;
        }
        hash = xdp_key_hash_step(hash, c);
    }
    /* No key: two spaces in a row, or a space before the line end. */
    if (len == 0)
        goto malformed;
    k = &ks->s->keys[i & KEYS_MASK];
    k->off = start;
    k->len = len;
    k->hash = xdp_key_hash_finish(hash);
    ks->nkeys = i + 1;
    /* Read back from the map: the verifier then knows nothing of the
     * length, and checks the next key's scan once, rather than once for
     * each length this key could have had. */
    len = *(volatile __u16 *)&k->len;
    if (start + len == ks->line_end)
        return 1;
    if (c != ' ')
        goto malformed;
    ks->pos = start + len + 1;
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

/* Where the line of a request of len bytes ends: at its "\r\n" or "\n",
 * which must be its last bytes. A second command after it, or no newline at
 * all, fails here or in the scans after (which refuse "\r" and "\n" in
 * tokens). Returns 0 when the request does not end with a newline. */
static __always_inline __u32 find_line_end(const struct scratch *s, __u32 len)
{
    __u32 line_end;

    if (req_byte(s, len, len - 1) != '\n')
        return 0;
    line_end = len - 1;
    if (req_byte(s, len, line_end - 1) == '\r')
        line_end--;
    return line_end;
}

/* Parses the len (1..XDP_REQUEST_MAX) bytes of s->req; truncated: the
 * request goes on beyond them. Returns the reason to pass it up, or
 * PASS_NONE with r filled. */
static __always_inline __u32 parse_request(struct scratch *s, __u32 len, bool truncated,
                                           struct get_request *r)
{
    struct key_scan ks = { .s = s };
    __u32 start, line_end;
    __u8 after;

    if (req_byte(s, len, 0) != 'g' || req_byte(s, len, 1) != 'e' ||
        req_byte(s, len, 2) != 't')
        return PASS_pass_not_get;
    r->with_cas = req_byte(s, len, 3) == 's';
    start = r->with_cas ? 4 : 3;
    after = req_byte(s, len, start);
    /* "get" or "gets" without keys is the daemon's ERROR to give, as is any
     * other word starting with "get". */
    if (after == '\r' || after == '\n' || start >= len)
        return PASS_pass_malformed;
    if (after != ' ')
        return PASS_pass_not_get;
    if (truncated)
        return PASS_pass_too_long;
    ks.pos = start + 1;

    line_end = find_line_end(s, len);
    if (line_end <= ks.pos)
        return PASS_pass_malformed;

    ks.line_end = line_end;
    bpf_loop(XDP_MULTIGET_MAX + 1, scan_key, &ks, 0);
    if (ks.reason)
        return ks.reason;
    r->nkeys = ks.nkeys;
    return PASS_NONE;
}

#endif
