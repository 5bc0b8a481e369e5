/* xdpcached.bpf.c - the fast path: answers memcached UDP get/gets from the
 * cache map, in the driver (docs/xdp.md, "The program").
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
#include "entry.h"
#include "maps.h"
#include "parse.h"
#include "reasons.h"
#include "request.h"
#include "scratch.h"

#define UDP_HDR_LEN ((__u32)sizeof(struct udphdr))

_Static_assert(XDP_END_LEN == 5, "END is written byte by byte");
_Static_assert(OUT_HDR_ROOM >= 64 + UDP_HDR_LEN, "the longest headers fit before the payload");

/* Step 2. The trie holds IPv4 as ::ffff:a.b.c.d, so one lookup of the full
 * address serves both families. */
static __always_inline bool source_allowed(const struct frame *f)
{
    struct xdp_allow_key key = { .prefixlen = 128 };

    __builtin_memcpy(key.addr, f->src, sizeof(key.addr));
    return bpf_map_lookup_elem(&allow, &key) != NULL;
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
        bpf_xdp_load_bytes(ctx, f->l4_off + UDP_HDR_LEN, &s->req_hdr, MC_UDP_HEADER_SIZE + n))
        return PASS_pass_malformed;
    if (s->req_hdr.sequence != 0 || s->req_hdr.total != bpf_htons(1))
        return PASS_pass_malformed;
    *loaded = n;
    return PASS_NONE;
}

/* The reply payload being built: where it is (s->out from OUT_HDR_ROOM),
 * its length and the one's complement sum of all but its frame header. */
struct reply {
    __u32 len;
    __u32 text_sum;
    __u32 nkeys;        /* keys served */
};

/* Steps 3 to 6: the whole reply payload, or the reason to pass the request
 * up. */
static __always_inline __u32 build_reply(struct xdp_md *ctx, const struct frame *f,
                                         struct scratch *s, struct reply *out)
{
    struct mc_udp_header *hdr = (void *)&s->out[OUT_HDR_ROOM];
    struct get_request r = {};
    struct serve sv = { .s = s };
    __u32 len = 0, loaded = 0, reason, at;

    reason = load_request(ctx, f, s, &len, &loaded);
    if (reason)
        return reason;
    reason = parse_request(s, loaded, len > loaded, &r);
    if (reason)
        return reason;

    /* Step 5, one key after the other, in the request's order. */
    sv.with_cas = r.with_cas;
    bpf_loop(r.nkeys, serve_key, &sv, 0);
    if (sv.reason)
        return sv.reason;

    /* Step 6. serve_key kept the text within OUT_TEXT_MAX: "END\r\n" fits
     * a datagram of MC_UDP_MAX_DATAGRAM bytes (the check keeps it so). */
    if (sv.len > OUT_TEXT_MAX)
        return PASS_pass_too_big;
    at = MC_UDP_HEADER_SIZE + sv.len;
    /* XDP_END, stored byte by byte: a string constant would cost a map. */
    s->out[OUT_HDR_ROOM + at] = 'E';
    s->out[OUT_HDR_ROOM + at + 1] = 'N';
    s->out[OUT_HDR_ROOM + at + 2] = 'D';
    s->out[OUT_HDR_ROOM + at + 3] = '\r';
    s->out[OUT_HDR_ROOM + at + 4] = '\n';
    hdr->request_id = s->req_hdr.request_id;
    hdr->sequence = 0;
    hdr->total = bpf_htons(1);
    hdr->reserved = 0;
    out->len = at + XDP_END_LEN;
    out->text_sum = sv.sum + csum_at(END_SUM, at);
    out->nkeys = r.nkeys;
    return PASS_NONE;
}

/* Swaps n bytes (even) as 16-bit words: byte arrays would go byte by byte. */
static __always_inline void swap_words(void *a, void *b, __u32 n)
{
    __u16 *x = a, *y = b;

#pragma clang loop unroll(full)
    for (__u32 i = 0; i < n / 2; i++) {
        __u16 t = x[i];

        x[i] = y[i];
        y[i] = t;
    }
}

/* Step 7: the reply's headers, in s->out just before its payload (rp),
 * from a copy of the request's. Returns their length, 0 if they cannot
 * be read. TTL, hop limit, TOS, IPv4 id and flow label stay the request's. */
static __always_inline __u32 build_headers(struct xdp_md *ctx, const struct frame *f,
                                           struct scratch *s, const struct reply *rp)
{
    __u32 l3_off = f->l3_off & 31, l4_off = f->l4_off & 63;
    __u32 hdr_len = l4_off + UDP_HDR_LEN;
    __u8 *h = &s->out[OUT_HDR_ROOM - hdr_len];
    struct udphdr *udp = (void *)(h + l4_off);
    __u16 udp_len = UDP_HDR_LEN + rp->len;
    __u64 addr_sum = 0;

    if (l4_off != f->l4_off || bpf_xdp_load_bytes(ctx, 0, h, hdr_len))
        return 0;
    swap_words(h, h + ETH_ALEN, ETH_ALEN);
    swap_words(&udp->source, &udp->dest, sizeof(udp->source));
    udp->len = bpf_htons(udp_len);
    udp->check = 0;
    if (f->ipv6) {
        struct ipv6hdr *ip6 = (void *)(h + l3_off);
        const __u32 *addrs = (const __u32 *)&ip6->saddr;

        swap_words(&ip6->saddr, &ip6->daddr, sizeof(ip6->saddr));
        ip6->payload_len = bpf_htons(udp_len);
#pragma clang loop unroll(full)
        for (int i = 0; i < 8; i++)
            addr_sum += addrs[i];
    } else {
        struct iphdr *ip = (void *)(h + l3_off);

        swap_words(&ip->saddr, &ip->daddr, sizeof(ip->saddr));
        ip->tot_len = bpf_htons(sizeof(*ip) + udp_len);
        ip->check = 0;
        ip->check = ipv4_csum(ip);
        addr_sum = (__u64)ip->saddr + ip->daddr;
    }
    udp->check = udp_csum(addr_sum, udp, (void *)&s->out[OUT_HDR_ROOM], rp->text_sum);
    return hdr_len;
}

/* Headroom to try when the frame must grow at both ends: drivers reserve
 * XDP_PACKET_HEADROOM (256) bytes and keep a struct xdp_frame (40) in it,
 * so 216 is what most of them allow; the others are for smaller headrooms.
 * Found with BPF_PROG_TEST_RUN and veth (native and generic). */
static const __u32 head_tries[] = { 216, 192, 128, 64 };

static __always_inline int grow_tail(struct xdp_md *ctx, int delta)
{
    if (test_tailroom && delta > (int)test_tailroom)
        return -1;
    return bpf_xdp_adjust_tail(ctx, delta);
}

/* Makes the frame new_len bytes long. Shrinking (at the tail) always works.
 * Growing takes tailroom, else headroom, else both: veth, for one, leaves
 * a few dozen bytes at the tail and 216 at the head. Returns 0 when done;
 * otherwise the frame is as it was. */
static __always_inline int resize_frame(struct xdp_md *ctx, __u32 new_len)
{
    int delta = (int)new_len - (int)(ctx->data_end - ctx->data);

    if (delta <= 0)
        return delta ? bpf_xdp_adjust_tail(ctx, delta) : 0;
    if (grow_tail(ctx, delta) == 0)
        return 0;
#pragma clang loop unroll(full)
    for (__u32 i = 0; i < sizeof(head_tries) / sizeof(head_tries[0]); i++) {
        int head = delta < (int)head_tries[i] ? delta : (int)head_tries[i];

        if (bpf_xdp_adjust_head(ctx, -head))
            continue;
        if (head == delta || grow_tail(ctx, delta - head) == 0)
            return 0;
        /* Less headroom cannot help: undo (the bytes there are unchanged). */
        bpf_xdp_adjust_head(ctx, head);
        return -1;
    }
    return -1;
}

/* Hits of each served entry, per CPU: the daemon sums them for eviction. */
static __always_inline void count_entry_hits(struct scratch *s, __u32 nkeys)
{
    __u32 stripe = hits_stripe();

    for (__u32 i = 0; i < XDP_MULTIGET_MAX; i++) {
        __u32 *hits_of;

        if (i >= nkeys)
            break;
        hits_of = hit_counter(stripe, s->entry[i]);
        if (hits_of)
            (*hits_of)++;
    }
}

SEC("xdp")
int xdpcached(struct xdp_md *ctx)
{
    struct frame f = {};
    struct reply rp = {};
    struct xdp_counters *c;
    struct scratch *s;
    __u32 zero = 0, reason, hdr_len, frame_len;

    if (parse_frame(ctx, &f, server_port) != FRAME_OURS)
        return XDP_PASS;
    c = bpf_map_lookup_elem(&counters, &zero);
    s = bpf_map_lookup_elem(&scratch, &zero);
    if (!c || !s)
        return XDP_PASS;
    c->requests++;
    if (!source_allowed(&f)) {
        c->drops_not_allowed++;
        return XDP_DROP;
    }
    if (f.pass)
        return count_pass(c, f.pass);

    reason = build_reply(ctx, &f, s, &rp);
    if (reason)
        return count_pass(c, reason);
    if (rp.len > MC_UDP_MAX_DATAGRAM)
        return count_pass(c, PASS_pass_too_big);
    hdr_len = build_headers(ctx, &f, s, &rp);
    if (!hdr_len)
        return count_pass(c, PASS_pass_malformed);
    frame_len = hdr_len + rp.len;
    if (resize_frame(ctx, frame_len))
        return count_pass(c, PASS_pass_no_room);

    /* The request is gone from here on: a failure can only drop the frame
     * (visible as the xdp:xdp_exception tracepoint). */
    if (bpf_xdp_store_bytes(ctx, 0, &s->out[OUT_HDR_ROOM - hdr_len], frame_len))
        return XDP_ABORTED;
    count_entry_hits(s, rp.nkeys);
    c->replies++;
    c->hits += rp.nkeys;
    c->bytes_sent += frame_len;
    return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
