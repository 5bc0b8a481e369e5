/* xdp_ceiling.bpf.c - the benchmark's yardstick: answers every memcached UDP
 * "get " to port 11211 with the same short reply (the frame header echoing
 * the request id, then "END\r\n"), looking nothing up.
 *
 * It does what any XDP reply to such a request must do, and no more: find
 * the UDP header (Ethernet, IPv4 without options and not a fragment, or
 * IPv6 without extension headers), check the port and the first four bytes
 * of the command, swap MACs, addresses and ports, size the frame, set the
 * lengths and checksums, XDP_TX. Its cost per packet (bpf_stats) and its
 * throughput are what the fast path (xdpcached.bpf.c) is measured against.
 * Everything else: XDP_PASS.
 *
 * Loaded by hand: ip link set dev IF xdpdrv obj xdp_ceiling.bpf.o sec xdp */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mc_udp.h"

#define ETH_ALEN 6
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define MC_PORT 11211

/* The reply after the UDP header: frame header, then "END\r\n". */
#define REPLY_TEXT_LEN 5
#define REPLY_PAYLOAD_LEN (MC_UDP_HEADER_SIZE + REPLY_TEXT_LEN)
#define REPLY_UDP_LEN (sizeof(struct udphdr) + REPLY_PAYLOAD_LEN)

/* The request after the UDP header: frame header, then at least "get ". */
#define GET_LEN 4
#define REQUEST_MIN (MC_UDP_HEADER_SIZE + GET_LEN)

/* Where the UDP header is, or 0 when the frame is not a request to serve. */
static __always_inline __u32 udp_offset(void *data, void *end, bool *ipv6)
{
    struct ethhdr *eth = data;
    __u32 l4_off;

    if ((void *)(eth + 1) > end)
        return 0;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);

        if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5 ||
            ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
            return 0;
        l4_off = sizeof(*eth) + sizeof(*ip);
        *ipv6 = false;
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);

        if ((void *)(ip6 + 1) > end || ip6->version != 6 || ip6->nexthdr != IPPROTO_UDP)
            return 0;
        l4_off = sizeof(*eth) + sizeof(*ip6);
        *ipv6 = true;
    } else {
        return 0;
    }

    struct udphdr *udp = data + l4_off;
    __u8 *cmd = (__u8 *)(udp + 1) + MC_UDP_HEADER_SIZE;

    if (cmd + GET_LEN > (__u8 *)end || udp->dest != bpf_htons(MC_PORT) ||
        cmd[0] != 'g' || cmd[1] != 'e' || cmd[2] != 't' || cmd[3] != ' ')
        return 0;
    return l4_off;
}

/* As three 16-bit words: the byte arrays would be copied byte by byte. */
static __always_inline void swap_macs(struct ethhdr *eth)
{
    __u16 *dst = (__u16 *)eth->h_dest, *src = (__u16 *)eth->h_source;

#pragma clang loop unroll(full)
    for (int i = 0; i < ETH_ALEN / 2; i++) {
        __u16 word = dst[i];

        dst[i] = src[i];
        src[i] = word;
    }
}

/* One's complement sum folded to 16 bits, not complemented. */
static __always_inline __u16 csum_fold16(__u64 sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)sum;
}

/* IPv4: the header checksum updated for the new total length (RFC 1624;
 * swapping the addresses does not change the sum). The UDP checksum is 0,
 * "none", which IPv4 allows. */
static __always_inline void finish_ipv4(struct iphdr *ip, struct udphdr *udp)
{
    __u16 old_len = ip->tot_len, new_len = bpf_htons(sizeof(*ip) + REPLY_UDP_LEN);
    __be32 addr = ip->saddr;

    ip->saddr = ip->daddr;
    ip->daddr = addr;
    ip->tot_len = new_len;
    ip->check = ~csum_fold16((__u16)~ip->check + (__u16)~old_len + new_len);
    udp->check = 0;
}

/* IPv6: the UDP checksum is mandatory, over the pseudo-header (addresses,
 * length, protocol), the UDP header and the reply payload. Summed as 32-bit
 * words in memory order, which a one's complement sum allows. */
static __always_inline void finish_ipv6(struct ipv6hdr *ip6, struct udphdr *udp)
{
    struct in6_addr addr = ip6->saddr;
    __u32 *words = (__u32 *)&ip6->saddr;
    __u32 *payload = (__u32 *)(udp + 1);
    __u64 sum = 0;
    __u16 csum;

    ip6->saddr = ip6->daddr;
    ip6->daddr = addr;
    ip6->payload_len = bpf_htons(REPLY_UDP_LEN);
    /* Addresses, then UDP header with check 0 and length counted twice
     * (once for the pseudo-header), then the payload's 13 bytes with the
     * last word's padding byte zero. */
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++)
        sum += words[i];
    sum += bpf_htonl(IPPROTO_UDP) + bpf_htons(REPLY_UDP_LEN);
    udp->check = 0;
    sum += ((__u32 *)udp)[0];
    sum += ((__u32 *)udp)[1];
#pragma clang loop unroll(full)
    for (int i = 0; i < 3; i++)
        sum += payload[i];
    sum += *((__u8 *)payload + 12);     /* "\n"; the byte after it counts as 0 */
    csum = ~csum_fold16(sum);
    udp->check = csum ? csum : 0xffff;
}

SEC("xdp")
int xdp_ceiling(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    bool ipv6 = false;
    __u32 l4_off = udp_offset(data, end, &ipv6);
    int delta;

    if (!l4_off)
        return XDP_PASS;
    /* The reply is 13 bytes of payload; the request at least 12. */
    delta = (int)(l4_off + REPLY_UDP_LEN) - (int)(end - data);
    if (delta && bpf_xdp_adjust_tail(ctx, delta))
        return XDP_PASS;

    /* Keeps clang from merging the two paths into one ctx pointer with a
     * variable offset, which the verifier refuses to dereference. */
    barrier_var(ctx);
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    /* l4_off is 34 or 54: masking tells the verifier so. */
    struct udphdr *udp = data + (l4_off & 63);
    struct mc_udp_header *mc = (void *)(udp + 1);
    __u8 *text = (__u8 *)(mc + 1);

    if (text + REPLY_TEXT_LEN > (__u8 *)end)
        return XDP_ABORTED;     /* cannot happen: the frame was just sized */
    swap_macs(data);
    __be16 port = udp->source;
    udp->source = udp->dest;
    udp->dest = port;
    udp->len = bpf_htons(REPLY_UDP_LEN);
    mc->sequence = 0;
    mc->total = bpf_htons(1);
    mc->reserved = 0;
    /* Byte by byte: a string constant would be a map read. */
    text[0] = 'E';
    text[1] = 'N';
    text[2] = 'D';
    text[3] = '\r';
    text[4] = '\n';
    if (ipv6)
        finish_ipv6(data + sizeof(struct ethhdr), udp);
    else
        finish_ipv4(data + sizeof(struct ethhdr), udp);
    return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
