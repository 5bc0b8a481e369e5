/* csum.h - Internet checksums (RFC 1071) of the reply, computed in full:
 * the IPv4 header checksum and the UDP checksum over the pseudo-header, the
 * UDP header and the payload.
 *
 * bpf_csum_diff() sums whole 32-bit words, at most 512 bytes per call (the
 * limit of older kernels), and chains through its seed. Sums are kept in
 * memory byte order: a one's complement sum does not care, and the folded
 * result is stored as it is. */
#ifndef XDPCACHED_BPF_CSUM_H
#define XDPCACHED_BPF_CSUM_H

#include <bpf/bpf_helpers.h>

#include "scratch.h"

#define CSUM_CHUNK 512

/* Folds a sum of up to 64 bits to 16 and complements it. */
static __always_inline __u16 csum_fold(__u64 sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)~sum;
}

/* The IPv4 header checksum of ip (20 bytes, check field zero). */
static __always_inline __u16 ipv4_csum(struct iphdr *ip)
{
    return csum_fold((__u32)bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0));
}

/* Adds s->out[0, len) to sum. len <= MC_UDP_MAX_DATAGRAM; the caller has
 * zeroed the bytes up to the next multiple of 4. */
static __always_inline __u64 csum_out(struct scratch *s, __u32 len, __u64 sum)
{
#pragma clang loop unroll(full)
    for (__u32 i = 0; i < (MC_UDP_MAX_DATAGRAM + CSUM_CHUNK - 1) / CSUM_CHUNK; i++) {
        __u32 pos = i * CSUM_CHUNK;
        __u32 n;

        if (pos >= len)
            break;
        n = (len - pos + 3) & ~3u;
        if (n > CSUM_CHUNK)
            n = CSUM_CHUNK;
        sum = (__u32)bpf_csum_diff(NULL, 0, (__be32 *)&s->out[pos], n & (CSUM_CHUNK * 2 - 1),
                                   (__u32)sum);
    }
    return sum;
}

struct ipv4_pseudo {
    __be32 saddr;
    __be32 daddr;
    __u8 zero;
    __u8 protocol;
    __be16 udp_len;
    struct udphdr udp;
};

struct ipv6_pseudo {
    struct in6_addr saddr;
    struct in6_addr daddr;
    __be32 udp_len;
    __u8 zero[3];
    __u8 nexthdr;
    struct udphdr udp;
};

/* The UDP checksum (0 transmitted as 0xffff) of udp (check field zero) and
 * its payload s->out[0, len). */
static __always_inline __u16 udp4_csum(const struct iphdr *ip, const struct udphdr *udp,
                                       struct scratch *s, __u32 len)
{
    struct ipv4_pseudo ph = {
        .saddr = ip->saddr, .daddr = ip->daddr, .protocol = IPPROTO_UDP,
        .udp_len = udp->len, .udp = *udp,
    };
    __u64 sum = (__u32)bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
    __u16 csum = csum_fold(csum_out(s, len, sum));

    return csum ? csum : 0xffff;
}

static __always_inline __u16 udp6_csum(const struct ipv6hdr *ip6, const struct udphdr *udp,
                                       struct scratch *s, __u32 len)
{
    struct ipv6_pseudo ph = {
        .saddr = ip6->saddr, .daddr = ip6->daddr, .udp_len = bpf_htonl(bpf_ntohs(udp->len)),
        .nexthdr = IPPROTO_UDP, .udp = *udp,
    };
    __u64 sum = (__u32)bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
    __u16 csum = csum_fold(csum_out(s, len, sum));

    return csum ? csum : 0xffff;
}

_Static_assert(sizeof(struct ipv4_pseudo) % 4 == 0, "whole words");
_Static_assert(sizeof(struct ipv6_pseudo) % 4 == 0, "whole words");

#endif
