/* xdpcached.bpf.c - the fast path: answers memcached UDP get/gets and mg
 * from the cache map, in the driver (docs/xdp.md, "The program").
 *
 * Two programs: xdpcached, attached, parses the frame and serves get/gets;
 * an mg request goes on by tail call to xdpcached_mg (bpf/meta.h), so that
 * each is verified within its own budget and a get pays one test for mg.
 *
 * A datagram to our port is either answered here (XDP_TX, a reply byte for
 * byte like the daemon's), dropped (source not allowed), or passed up
 * untouched with the reason counted. Nothing in the frame changes before
 * every key has been copied out of the map and checked, so a pass is always
 * of the original request. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "config.h"
#include "csum.h"
#include "lookup.h"
#include "maps.h"
#include "meta.h"
#include "parse.h"
#include "reasons.h"
#include "reply.h"
#include "request.h"
#include "scratch.h"

_Static_assert(XDP_END_LEN == 5, "END is written byte by byte");

int xdpcached_mg(struct xdp_md *ctx);

/* The mg program, filled in by libbpf when the object is loaded. */
struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __uint(key_size, sizeof(__u32));
    __array(values, int(struct xdp_md *));
} mg_prog SEC(".maps") = {
    .values = { [0] = (void *)&xdpcached_mg },
};

/* Step 2. The trie holds IPv4 as ::ffff:a.b.c.d, so one lookup of the full
 * address serves both families. The lookup cost as much as the rest of a
 * small hit, so each CPU remembers the last source it allowed: the daemon
 * fills the trie before it attaches the program and never changes it. */
static __always_inline bool source_allowed(const struct frame *f, struct scratch *s)
{
    struct xdp_allow_key key = { .prefixlen = 128 };
    const __u64 *src = (const __u64 *)f->src, *last = (const __u64 *)s->allowed_src;

    if (s->allowed_src_valid && src[0] == last[0] && src[1] == last[1])
        return true;
    __builtin_memcpy(key.addr, f->src, sizeof(key.addr));
    if (!bpf_map_lookup_elem(&allow, &key))
        return false;
    __builtin_memcpy(s->allowed_src, f->src, sizeof(s->allowed_src));
    s->allowed_src_valid = 1;
    return true;
}

/* The frame header and request bytes load_payload() copies at most. */
#define PAYLOAD_MAX (MC_UDP_HEADER_SIZE + REQ_BUF)
_Static_assert(__builtin_offsetof(struct scratch, req) + REQ_BUF == PAYLOAD_MAX,
               "the copy fits req_hdr and req");
_Static_assert(MC_UDP_HEADER_SIZE == 8, "a payload is at least one word");

/* Copies the n (MC_UDP_HEADER_SIZE + 1 .. PAYLOAD_MAX) bytes of the frame
 * at off to s->req_hdr and s->req, 8 bytes at a time, the last word ending
 * at the n-th byte (it may overlap the one before). Direct reads of the
 * frame: bpf_xdp_load_bytes() costs a call, and its copy (rep movsb) keeps
 * the first read of the copy waiting until its stores are done. Returns 0,
 * or -1 when the frame is shorter (it cannot be: parse_frame() checked the
 * lengths). */
GLOBAL int load_payload(struct xdp_md *ctx, struct scratch *s, __u32 off, __u32 n)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *to = (__u8 *)&s->req_hdr;
    __u32 last;
    void *from;

    if (!s || off > 0x3fff || n <= MC_UDP_HEADER_SIZE || n > PAYLOAD_MAX)
        return -1;
    for (__u32 w = 0; w < PAYLOAD_MAX / 8 - 1; w++) {
        if (w * 8 + 8 >= n)
            break;
        from = data + off + w * 8;
        if (from + 8 > end)
            return -1;
        store_word(to + w * 8, load_word(from));
    }
    /* The bound is known, but clang drops it: say it again. */
    last = n - 8;
    barrier_var(last);
    if (last > PAYLOAD_MAX - 8)
        return -1;
    from = data + off + last;
    if (from + 8 > end)
        return -1;
    store_word(to + last, load_word(from));
    return 0;
}

/* Step 3 and the copy of step 4: copies the frame header and up to
 * XDP_REQUEST_MAX bytes of the request after it to s->req_hdr and s->req,
 * in one call, and checks the frame header. *len is the request's length,
 * *loaded what was copied of it. */
static __always_inline __u32 load_request(struct xdp_md *ctx, const struct frame *f,
                                          struct scratch *s, __u32 *len, __u32 *loaded)
{
    __u32 n;

    /* The daemon ignores a datagram with nothing after the frame header. */
    if (f->udp_len <= UDP_HDR_LEN + MC_UDP_HEADER_SIZE)
        return PASS_pass_malformed;
    n = f->udp_len - UDP_HDR_LEN - MC_UDP_HEADER_SIZE;
    *len = n;
    if (n > XDP_REQUEST_MAX)
        n = XDP_REQUEST_MAX;
    /* n is 1..XDP_REQUEST_MAX; the check says so to the verifier. */
    if (n == 0 || n > REQ_BUF ||
        load_payload(ctx, s, f->l4_off + UDP_HDR_LEN, MC_UDP_HEADER_SIZE + n))
        return PASS_pass_malformed;
    if (s->req_hdr.sequence != 0 || s->req_hdr.total != bpf_htons(1))
        return PASS_pass_malformed;
    *loaded = n;
    return PASS_NONE;
}

/* Hands an mg request to the mg program, which does not come back when it
 * is there. Without it (not loaded), the daemon answers. */
static __always_inline __u32 serve_mg(struct xdp_md *ctx, const struct frame *f,
                                      struct scratch *s, __u32 len, __u32 loaded)
{
    s->handoff.frame = *f;
    s->handoff.len = loaded;
    s->handoff.truncated = len > loaded;
    s->handoff.pending = 1;
    bpf_tail_call(ctx, &mg_prog, 0);
    s->handoff.pending = 0;
    return PASS_pass_not_get;
}

/* Reply bytes before "END\r\n" (frame header excluded). */
#define OUT_TEXT_MAX (MC_UDP_MAX_DATA - XDP_END_LEN)

/* Step 5 for key i: its record's text appended to the reply, or the reason
 * to pass the request up. A get skips the cas field; a gets copies the
 * text whole. */
GLOBAL int serve_key(struct scratch *s, __u32 i)
{
    const struct xdp_record *h;
    __u32 reason, skip, n, at, head;

    if (!s)
        return PASS_pass_malformed;
    reason = find_key_inline(s, i);
    if (!reason)
        reason = staged_live(s);
    if (reason)
        return reason;
    h = &s->staged.head;
    skip = s->with_cas ? 0 : h->cas_len;
    n = h->text_len - skip;
    if (s->out_len > OUT_TEXT_MAX || n > OUT_TEXT_MAX - s->out_len)
        return PASS_pass_too_big;
    at = MC_UDP_HEADER_SIZE + s->out_len;
    copy_words(s, at, 0, h->head_len);
    /* head_len read again: what the copy above learned of it would have the
     * verifier check the copy below once for each length it told apart. */
    head = *(volatile const __u16 *)&h->head_len;
    copy_words(s, at + head, head + skip, n - head);
    s->out_sum += csum_at(s->with_cas ? h->gets_sum : h->get_sum, at);
    s->out_len += n;
    return PASS_NONE;
}

/* Steps 3 to 6: the whole reply payload, or the reason to pass the request
 * up. */
static __always_inline __u32 build_reply(struct xdp_md *ctx, const struct frame *f,
                                         struct scratch *s, struct reply *out)
{
    __u32 len = 0, loaded = 0, reason, at, nkeys;

    reason = load_request(ctx, f, s, &len, &loaded);
    if (reason)
        return reason;
    if (is_mg(s, loaded))
        return serve_mg(ctx, f, s, len, loaded);
    reason = parse_get(s, loaded, len > loaded);
    if (reason)
        return reason;

    /* Step 5, one key after the other, in the request's order. */
    s->out_len = 0;
    s->out_sum = 0;
    s->now = 0;
    nkeys = s->nkeys;
    for (__u32 i = 0; i < XDP_MULTIGET_MAX; i++) {
        if (i >= nkeys)
            break;
        reason = serve_key(s, i);
        if (reason)
            return reason;
    }

    /* Step 6. serve_key kept the text within OUT_TEXT_MAX: "END\r\n" fits
     * a datagram of MC_UDP_MAX_DATAGRAM bytes (the check keeps it so). */
    at = MC_UDP_HEADER_SIZE + s->out_len;
    if (at > MC_UDP_HEADER_SIZE + OUT_TEXT_MAX)
        return PASS_pass_too_big;
    /* XDP_END, stored byte by byte: a string constant would cost a map. */
    s->out[OUT_HDR_ROOM + at] = 'E';
    s->out[OUT_HDR_ROOM + at + 1] = 'N';
    s->out[OUT_HDR_ROOM + at + 2] = 'D';
    s->out[OUT_HDR_ROOM + at + 3] = '\r';
    s->out[OUT_HDR_ROOM + at + 4] = '\n';
    put_frame_header(s);
    out->len = at + XDP_END_LEN;
    out->text_sum = s->out_sum + csum_at(END_SUM, at);
    out->nkeys = nkeys;
    return PASS_NONE;
}

SEC("xdp")
int xdpcached(struct xdp_md *ctx)
{
    struct frame f = {};
    struct reply rp = {};
    struct xdp_counters *c;
    struct scratch *s;
    __u32 zero = 0, reason;

    if (parse_frame(ctx, &f, server_port) != FRAME_OURS)
        return XDP_PASS;
    c = bpf_map_lookup_elem(&counters, &zero);
    s = bpf_map_lookup_elem(&scratch, &zero);
    if (!c || !s)
        return XDP_PASS;
    c->requests++;
    if (!source_allowed(&f, s)) {
        c->drops_not_allowed++;
        return XDP_DROP;
    }
    if (f.pass)
        return count_pass(c, f.pass);

    reason = build_reply(ctx, &f, s, &rp);
    if (reason)
        return count_pass(c, reason);
    return send_reply(ctx, &f, s, c, &rp);
}

/* Reached only by tail call from xdpcached, for a request that starts with
 * "mg ": the request is in scratch, already counted and allowed, and the
 * frame is untouched. */
SEC("xdp")
int xdpcached_mg(struct xdp_md *ctx)
{
    struct reply rp = {};
    struct xdp_counters *c;
    struct scratch *s;
    struct frame f;
    __u32 zero = 0, reason;
    int action;

    c = bpf_map_lookup_elem(&counters, &zero);
    s = bpf_map_lookup_elem(&scratch, &zero);
    if (!c || !s || !s->handoff.pending)
        return XDP_PASS;
    s->handoff.pending = 0;
    f = s->handoff.frame;
    reason = parse_mg(s, s->handoff.len, s->handoff.truncated);
    if (!reason)
        reason = mg_reply(s);
    if (reason)
        return count_pass(c, reason);
    put_frame_header(s);
    rp.len = MC_UDP_HEADER_SIZE + s->out_len;
    rp.text_sum = s->out_sum;
    rp.nkeys = 1;
    action = send_reply(ctx, &f, s, c, &rp);
    if (action == XDP_TX)
        c->mg_replies++;
    return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
