/* request.h - the one request form the fast path serves (docs/xdp.md, step
 * 4): "get" or "gets", then 1 to XDP_MULTIGET_MAX keys of 1 to XDP_KEY_MAX
 * bytes > 0x20 (not 0x7f) separated by single spaces, then "\r\n" or "\n" as
 * the last bytes of the datagram. Anything else is left to the daemon, whose
 * tokenizer accepts more and must be the one to answer it.
 *
 * The parser reads the copy of the payload in scratch and fills
 * scratch.keys, hashing each key as it goes. Its loops live in global
 * functions: the verifier checks each once, and what it learns in one
 * (a key's length) does not multiply the paths of the code after it. */
#ifndef XDPCACHED_BPF_REQUEST_H
#define XDPCACHED_BPF_REQUEST_H

#include "reasons.h"
#include "scratch.h"

_Static_assert((XDP_MULTIGET_MAX & (XDP_MULTIGET_MAX - 1)) == 0,
               "key slots are indexed with a mask");
#define KEYS_MASK (XDP_MULTIGET_MAX - 1)

static __always_inline bool is_key_byte(__u8 c)
{
    return c > ' ' && c != 0x7f;
}

/* Key number i, from pos to the first byte that cannot be in a key, into
 * s->keys[i], hashed as it is read. Returns where it ends, or -reason. Key
 * number XDP_MULTIGET_MAX is one too many as soon as it has a byte. */
GLOBAL int scan_key(struct scratch *s, __u32 i, __u32 pos)
{
    __u32 limit = i < XDP_MULTIGET_MAX ? XDP_KEY_MAX : 0;
    __u32 len, hash = XDP_HASH_INIT;
    struct key_ref *k;

    if (!s)
        return -PASS_pass_malformed;
    for (len = 0; len <= XDP_KEY_MAX; len++) {
        __u8 c = s->req[(pos + len) & REQ_MASK];

        if (!is_key_byte(c))
            break;
        if (len == limit)
            return limit ? -PASS_pass_too_long : -PASS_pass_too_many_keys;
        hash = xdp_key_hash_step(hash, c);
    }
    /* No key: two spaces in a row, or a space before the line end. */
    if (len == 0)
        return -PASS_pass_malformed;
    k = &s->keys[i & KEYS_MASK];
    k->off = pos;
    k->len = len;
    k->hash = xdp_key_hash_finish(hash);
    return pos + len;
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

/* The keys from pos to line_end into s->keys and s->nkeys: returns 0, or
 * the reason to pass the request up. */
static __always_inline __u32 scan_keys(struct scratch *s, __u32 pos, __u32 line_end)
{
    for (__u32 i = 0; i <= XDP_MULTIGET_MAX; i++) {
        int end = scan_key(s, i, pos);

        if (end < 0)
            return -end;
        if ((__u32)end == line_end) {
            s->nkeys = i + 1;
            return PASS_NONE;
        }
        if (s->req[end & REQ_MASK] != ' ')
            return PASS_pass_malformed;
        pos = end + 1;
    }
    return PASS_pass_too_many_keys;
}

/* Parses the len (1..XDP_REQUEST_MAX) bytes of s->req; truncated: the
 * request goes on beyond them. Returns the reason to pass it up, or
 * PASS_NONE with s->keys, s->nkeys and s->with_cas filled. */
GLOBAL int parse_get(struct scratch *s, __u32 len, __u32 truncated)
{
    __u32 start, line_end;
    __u8 after;

    if (!s)
        return PASS_pass_malformed;
    if (req_byte(s, len, 0) != 'g' || req_byte(s, len, 1) != 'e' ||
        req_byte(s, len, 2) != 't')
        return PASS_pass_not_get;
    s->with_cas = req_byte(s, len, 3) == 's';
    start = s->with_cas ? 4 : 3;
    after = req_byte(s, len, start);
    /* "get" or "gets" without keys is the daemon's ERROR to give, as is any
     * other word starting with "get". */
    if (after == '\r' || after == '\n' || start >= len)
        return PASS_pass_malformed;
    if (after != ' ')
        return PASS_pass_not_get;
    if (truncated)
        return PASS_pass_too_long;
    line_end = find_line_end(s, len);
    if (line_end <= start + 1)
        return PASS_pass_malformed;
    return scan_keys(s, start + 1, line_end);
}

#endif
