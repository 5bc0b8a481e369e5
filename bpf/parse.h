/* parse.h - finds the UDP datagram in a frame: Ethernet, one optional 802.1Q
 * tag, IPv4 or IPv6 (docs/xdp.md, step 1).
 *
 * Only a frame whose UDP header is visible and addressed to server_port is
 * "ours". Ours but not servable (IP options, extension headers, fragments,
 * lengths that do not add up) is still reported as ours, with the reason to
 * pass it up, so that the caller can check the allow list first and count
 * the pass. */
#ifndef XDPCACHED_BPF_PARSE_H
#define XDPCACHED_BPF_PARSE_H

#include <bpf/bpf_endian.h>

#include "reasons.h"

/* vmlinux.h has the structs but not the #defines. */
#define ETH_ALEN 6
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define IPV6_NEXTHDR_HOP 0
#define IPV6_NEXTHDR_ROUTING 43
#define IPV6_NEXTHDR_FRAGMENT 44
#define IPV6_NEXTHDR_DEST 60
/* IPv6 extension headers walked to find a UDP header behind them. */
#define IPV6_EXT_MAX 4

/* Where the parts of a frame are. Offsets are from the start of the frame. */
struct frame {
    __u32 l3_off;       /* IP header: 14, or 18 behind a VLAN tag */
    __u32 l4_off;       /* UDP header */
    __u32 udp_len;      /* from the UDP header: header + payload */
    __u32 pass;         /* ours but not servable: why (enum pass_reason) */
    __u8 ipv6;
    __u8 src[16] __attribute__((aligned(8)));   /* source address; IPv4 as ::ffff:a.b.c.d */
};

enum frame_kind { FRAME_NOT_OURS, FRAME_OURS };

/* The UDP header at off, when it is entirely in the frame and addressed to
 * server_port. */
static __always_inline struct udphdr *udp_to_port(void *data, void *end, __u32 off,
                                                  __u16 port)
{
    struct udphdr *udp = data + off;

    if ((void *)(udp + 1) > end || udp->dest != bpf_htons(port))
        return NULL;
    return udp;
}

static __always_inline int parse_ipv4(void *data, void *end, struct frame *f, __u16 port)
{
    struct iphdr *ip = data + f->l3_off;
    struct udphdr *udp;
    __u32 ihl_bytes, tot_len, frag;

    if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5 ||
        ip->protocol != IPPROTO_UDP)
        return FRAME_NOT_OURS;
    frag = bpf_ntohs(ip->frag_off);
    /* A later fragment has no UDP header: nothing says it is ours. */
    if (frag & IP_OFFSET)
        return FRAME_NOT_OURS;
    ihl_bytes = ip->ihl * 4;
    f->l4_off = f->l3_off + ihl_bytes;
    udp = udp_to_port(data, end, f->l4_off, port);
    if (!udp)
        return FRAME_NOT_OURS;

    f->ipv6 = 0;
    __builtin_memset(f->src, 0, 10);
    f->src[10] = 0xff;
    f->src[11] = 0xff;
    __builtin_memcpy(&f->src[12], &ip->saddr, 4);
    f->udp_len = bpf_ntohs(udp->len);

    if (frag & IP_MF) {
        f->pass = PASS_pass_fragment;
        return FRAME_OURS;
    }
    if (ihl_bytes != sizeof(*ip)) {
        f->pass = PASS_pass_ip_options;
        return FRAME_OURS;
    }
    /* What the kernel accepts (ip_rcv_core, udp_rcv): the IP packet within
     * the frame (Ethernet padding may follow it), the UDP datagram within
     * the IP packet (the kernel trims anything after it). */
    tot_len = bpf_ntohs(ip->tot_len);
    if (data + f->l3_off + tot_len > end || tot_len < ihl_bytes + sizeof(*udp) ||
        f->udp_len < sizeof(*udp) || f->udp_len > tot_len - ihl_bytes)
        f->pass = PASS_pass_malformed;
    return FRAME_OURS;
}

/* Skips up to IPV6_EXT_MAX extension headers; *next is then the protocol
 * after them. Returns FRAME_NOT_OURS if a header is cut short, unknown (AH,
 * ESP, ...: no UDP header to see), or a fragment other than the first. */
static __always_inline int skip_ipv6_ext(void *data, void *end, struct frame *f, __u8 *next)
{
#pragma clang loop unroll(full)
    for (int i = 0; i < IPV6_EXT_MAX; i++) {
        __u8 nh = *next;

        if (nh == IPV6_NEXTHDR_FRAGMENT) {
            struct frag_hdr *fh = data + f->l4_off;

            if ((void *)(fh + 1) > end || (bpf_ntohs(fh->frag_off) & ~7))
                return FRAME_NOT_OURS;
            f->pass = PASS_pass_fragment;
            *next = fh->nexthdr;
            f->l4_off += sizeof(*fh);
        } else if (nh == IPV6_NEXTHDR_HOP || nh == IPV6_NEXTHDR_ROUTING ||
                   nh == IPV6_NEXTHDR_DEST) {
            struct ipv6_opt_hdr *oh = data + f->l4_off;

            if ((void *)(oh + 1) > end)
                return FRAME_NOT_OURS;
            if (f->pass != PASS_pass_fragment)
                f->pass = PASS_pass_ip_options;
            *next = oh->nexthdr;
            f->l4_off += (oh->hdrlen + 1) * 8;
        } else {
            break;
        }
    }
    return FRAME_OURS;
}

static __always_inline int parse_ipv6(void *data, void *end, struct frame *f, __u16 port)
{
    struct ipv6hdr *ip6 = data + f->l3_off;
    struct udphdr *udp;
    __u32 payload_len;
    __u8 next;

    if ((void *)(ip6 + 1) > end || ip6->version != 6)
        return FRAME_NOT_OURS;
    f->l4_off = f->l3_off + sizeof(*ip6);
    next = ip6->nexthdr;
    if (next != IPPROTO_UDP && skip_ipv6_ext(data, end, f, &next) != FRAME_OURS)
        return FRAME_NOT_OURS;
    /* Bounds the offset for the verifier: 4 headers of up to 2 KB each. */
    if (next != IPPROTO_UDP || f->l4_off > 8192)
        return FRAME_NOT_OURS;
    udp = udp_to_port(data, end, f->l4_off, port);
    if (!udp)
        return FRAME_NOT_OURS;

    f->ipv6 = 1;
    __builtin_memcpy(f->src, &ip6->saddr, 16);
    f->udp_len = bpf_ntohs(udp->len);
    if (f->pass)
        return FRAME_OURS;
    /* As for IPv4; a zero payload length (jumbogram) needs a hop-by-hop
     * header, so it cannot get here. */
    payload_len = bpf_ntohs(ip6->payload_len);
    if (data + f->l4_off + payload_len > end || f->udp_len < sizeof(*udp) ||
        f->udp_len > payload_len)
        f->pass = PASS_pass_malformed;
    return FRAME_OURS;
}

/* Fills f and says whether the frame is a UDP datagram to port. */
static __always_inline int parse_frame(struct xdp_md *ctx, struct frame *f, __u16 port)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    int kind = FRAME_NOT_OURS;
    __be16 proto;

    if ((void *)(eth + 1) > end)
        return FRAME_NOT_OURS;
    proto = eth->h_proto;
    f->l3_off = sizeof(*eth);
    if (proto == bpf_htons(ETH_P_8021Q)) {
        struct vlan_hdr *vlan = data + sizeof(*eth);

        if ((void *)(vlan + 1) > end)
            return FRAME_NOT_OURS;
        proto = vlan->h_vlan_encapsulated_proto;
        f->l3_off += sizeof(*vlan);
    }
    if (proto == bpf_htons(ETH_P_IP))
        kind = parse_ipv4(data, end, f, port);
    else if (proto == bpf_htons(ETH_P_IPV6))
        kind = parse_ipv6(data, end, f, port);
    /* Sent to a broadcast or multicast address: a reply from it would have
     * that as its source. */
    if (kind == FRAME_OURS && !f->pass && (eth->h_dest[0] & 1))
        f->pass = PASS_pass_malformed;
    return kind;
}

#endif
