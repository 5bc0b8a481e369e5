/* csum.h - the reply's Internet checksums (RFC 1071): the IPv4 header
 * checksum, summed in full, and the UDP checksum, summed from its parts
 * without reading the reply text: the daemon stores each record's text sum
 * in the record (shared/xdp_cache.h, get_sum), and "END\r\n" is a constant.
 *
 * Sums are kept in memory byte order, 16-bit words as they lie in memory:
 * a one's complement sum does not care, and the folded result is stored as
 * it is. */
#ifndef XDPCACHED_BPF_CSUM_H
#define XDPCACHED_BPF_CSUM_H

#include <bpf/bpf_endian.h>

#include "xdp_cache.h"

/* The 16-bit word that bytes a, b make in memory. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MEM_WORD(a, b) ((__u32)(__u8)(a) | (__u32)(__u8)(b) << 8)
#else
#define MEM_WORD(a, b) ((__u32)(__u8)(a) << 8 | (__u32)(__u8)(b))
#endif

/* XDP_END at an even offset. */
#define END_SUM (MEM_WORD('E', 'N') + MEM_WORD('D', '\r') + MEM_WORD('\n', 0))
_Static_assert(END_SUM <= 0xffff, "a 16-bit sum, swapped as one at an odd offset");

/* Folds a sum of up to 64 bits to 16. */
static __always_inline __u32 csum_fold16(__u64 sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u32)sum;
}

/* Folds a sum of up to 64 bits to 16 and complements it. */
static __always_inline __u16 csum_fold(__u64 sum)
{
    return (__u16)~csum_fold16(sum);
}

/* A 16-bit one's complement sum of bytes that start at an odd offset of the
 * reply: their sum at an even offset, byte-swapped (RFC 1071). */
static __always_inline __u32 csum_at(__u32 sum, __u32 offset)
{
    return offset & 1 ? ((sum >> 8) | (sum << 8)) & 0xffff : sum;
}

/* The IPv4 header checksum of the reply to the request header in (20
 * bytes): the same header with total length tot_len, the addresses swapped
 * (which does not change the sum) and the check field zero. Summed from the
 * request as it is, not from the reply's header being written: a 4-byte
 * read of bytes just written 2 at a time waits for the writes to be done. */
static __always_inline __u16 ipv4_reply_csum(const struct iphdr *in, __be16 tot_len)
{
    const __u16 *words = (const __u16 *)in;
    __u64 sum = tot_len;

#pragma clang loop unroll(full)
    for (int i = 0; i < 10; i++) {
        /* Words 1 (the total length) and 5 (the checksum) are the reply's. */
        if (i != 1 && i != 5)
            sum += words[i];
    }
    return csum_fold(sum);
}

/* The UDP checksum (0 transmitted as 0xffff) of a reply: addr_sum is the
 * sum of the pseudo-header's addresses, ports_sum the UDP header's ports,
 * udp_len its length, request_id the frame header's (sequence 0, total 1,
 * reserved 0), text_sum the sum of everything after the frame header. The
 * pseudo-header's other words are the protocol and the UDP length, which
 * is also in the UDP header; IPv4 and IPv6 alike. */
static __always_inline __u16 udp_csum(__u64 addr_sum, __u32 ports_sum, __be16 udp_len,
                                      __be16 request_id, __u32 text_sum)
{
    __u64 sum = addr_sum + bpf_htons(IPPROTO_UDP) + udp_len + ports_sum + udp_len +
                request_id + bpf_htons(1) + text_sum;
    __u16 csum = csum_fold(sum);

    return csum ? csum : 0xffff;
}

#endif
