/* reply.h - the reply frame: the payload's frame header, then steps 6 and 7
 * of docs/xdp.md for a payload built in s->out: headers, checksums, frame
 * size, XDP_TX. Shared by the get/gets and the mg program. */
#ifndef XDPCACHED_BPF_REPLY_H
#define XDPCACHED_BPF_REPLY_H

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "config.h"
#include "csum.h"
#include "lookup.h"
#include "parse.h"
#include "reasons.h"
#include "scratch.h"

#define UDP_HDR_LEN ((__u32)sizeof(struct udphdr))

_Static_assert(OUT_HDR_ROOM >= 64 + UDP_HDR_LEN, "the longest headers fit before the payload");

/* The reply payload being built: where it is (s->out from OUT_HDR_ROOM),
 * its length and the one's complement sum of all but its frame header. */
struct reply {
    __u32 len;
    __u32 text_sum;
    __u32 nkeys;        /* keys served */
};

/* The reply's frame header, at the payload's start: the request's id,
 * sequence 0 of 1. */
static __always_inline void put_frame_header(struct scratch *s)
{
    struct mc_udp_header *hdr = (void *)&s->out[OUT_HDR_ROOM];

    hdr->request_id = s->req_hdr.request_id;
    hdr->sequence = 0;
    hdr->total = bpf_htons(1);
    hdr->reserved = 0;
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

/* Steps 6 and 7 for the payload rp describes: the frame becomes the reply
 * and goes out (XDP_TX), or the request goes up untouched with the reason
 * counted. */
static __always_inline int send_reply(struct xdp_md *ctx, const struct frame *f,
                                      struct scratch *s, struct xdp_counters *c,
                                      const struct reply *rp)
{
    __u32 hdr_len, frame_len;

    if (rp->len > MC_UDP_MAX_DATAGRAM)
        return count_pass(c, PASS_pass_too_big);
    hdr_len = build_headers(ctx, f, s, rp);
    if (!hdr_len)
        return count_pass(c, PASS_pass_malformed);
    frame_len = hdr_len + rp->len;
    if (resize_frame(ctx, frame_len))
        return count_pass(c, PASS_pass_no_room);

    /* The request is gone from here on: a failure can only drop the frame
     * (visible as the xdp:xdp_exception tracepoint). */
    if (bpf_xdp_store_bytes(ctx, 0, &s->out[OUT_HDR_ROOM - hdr_len], frame_len))
        return XDP_ABORTED;
    mark_used(s, rp->nkeys);
    c->replies++;
    c->hits += rp->nkeys;
    c->bytes_sent += frame_len;
    return XDP_TX;
}

#endif
