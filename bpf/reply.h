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

/* Copies the first n (42 .. 71) bytes of the frame, its headers, to h, 8
 * bytes at a time, the last word ending at the n-th byte (it may overlap
 * the one before): the first 5 words always (every header is at least 42
 * bytes), then 2 more at most (IPv6). Few branches: each way through is
 * one more path for the verifier to check everything after. False when the
 * frame is shorter (it cannot be: parse_frame() saw the UDP header). */
static __always_inline bool copy_headers(__u8 *h, void *data, void *end, __u32 n)
{
    __u32 last;

    if (n < 42 || n > 71 || data + 48 > end)
        return false;
#pragma clang loop unroll(full)
    for (__u32 w = 0; w < 5; w++)
        store_word(h + w * 8, load_word(data + w * 8));
    if (n > 48)
        store_word(h + 40, load_word(data + 40));
    if (n > 56) {
        if (data + 56 > end)
            return false;
        store_word(h + 48, load_word(data + 48));
    }
    /* The bound is known, but clang drops it: say it again. */
    last = n - 8;
    barrier_var(last);
    if (last > 64 || data + last + 8 > end)
        return false;
    store_word(h + last, load_word(data + last));
    return true;
}

/* Step 7: the reply's headers, in s->out just before its payload (rp),
 * from the request's: copied, then the fields that change written over
 * them, each from the request (the frame, not yet changed) rather than read
 * back from s->out, where a read of bytes just written in other sizes waits
 * for the writes. Returns their length, 0 if they cannot be read. TTL,
 * hop limit, TOS, IPv4 id and flow label stay the request's. */
static __always_inline __u32 build_headers(struct xdp_md *ctx, const struct frame *f,
                                           struct scratch *s, const struct reply *rp)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 l3_off = f->l3_off & 31, l4_off = f->l4_off & 63;
    __u32 hdr_len = l4_off + UDP_HDR_LEN;
    __u8 *h = &s->out[OUT_HDR_ROOM - hdr_len];
    const struct udphdr *in_udp = data + l4_off;
    struct udphdr *udp = (void *)(h + l4_off);
    __be16 udp_len = bpf_htons(UDP_HDR_LEN + rp->len);
    __u64 addr_sum = 0;

    /* The shortest headers (Ethernet, IPv4, UDP) are there, and these. */
    if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) + UDP_HDR_LEN > end ||
        l4_off != f->l4_off || (void *)(in_udp + 1) > end || !copy_headers(h, data, end, hdr_len))
        return 0;
    /* Ethernet: the request's source is the reply's destination. */
    *(__u32 *)h = *(const __u32 *)(data + ETH_ALEN);
    *(__u16 *)(h + 4) = *(const __u16 *)(data + ETH_ALEN + 4);
    *(__u32 *)(h + ETH_ALEN) = *(const __u32 *)data;
    *(__u16 *)(h + ETH_ALEN + 4) = *(const __u16 *)(data + 4);
    udp->source = in_udp->dest;
    udp->dest = in_udp->source;
    udp->len = udp_len;
    if (f->ipv6) {
        const struct ipv6hdr *in6 = data + l3_off;
        struct ipv6hdr *ip6 = (void *)(h + l3_off);
        const __u32 *addrs = (const __u32 *)&in6->saddr;

        if ((void *)(in6 + 1) > end)
            return 0;
        __builtin_memcpy(&ip6->saddr, &in6->daddr, sizeof(ip6->saddr));
        __builtin_memcpy(&ip6->daddr, &in6->saddr, sizeof(ip6->daddr));
        ip6->payload_len = udp_len;
#pragma clang loop unroll(full)
        for (int i = 0; i < 8; i++)
            addr_sum += addrs[i];
    } else {
        const struct iphdr *in4 = data + l3_off;
        struct iphdr *ip = (void *)(h + l3_off);
        __be16 tot_len = bpf_htons(sizeof(*ip) + UDP_HDR_LEN + rp->len);

        if ((void *)(in4 + 1) > end)
            return 0;
        ip->saddr = in4->daddr;
        ip->daddr = in4->saddr;
        ip->tot_len = tot_len;
        ip->check = ipv4_reply_csum(in4, tot_len);
        addr_sum = (__u64)in4->saddr + in4->daddr;
    }
    udp->check = udp_csum(addr_sum, (__u32)in_udp->source + in_udp->dest, udp_len,
                          s->req_hdr.request_id, rp->text_sum);
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
