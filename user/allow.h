/* allow.h - the sources allowed to use UDP (--udp-allow): a list of IPv4
 * and IPv6 networks. The daemon's UDP sockets drop datagrams from anywhere
 * else unanswered, and the XDP program gets the same list as its LPM trie,
 * so a spoofed source can make neither reflect traffic.
 *
 * IPv4 networks are kept as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix length
 * 96 + n), the form of the XDP trie's keys (struct xdp_allow_key), so one
 * comparison serves both families. */
#ifndef XDPCACHED_ALLOW_H
#define XDPCACHED_ALLOW_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ifaddrs;
struct sockaddr;

/* The XDP allow trie's size (bpf/maps.h). */
#define ALLOW_MAX 256

/* Room for what allow_format() writes: INET6_ADDRSTRLEN, "/128". */
#define ALLOW_TEXT_MAX 50

struct allow_net {
    uint8_t addr[16];       /* IPv6, or IPv4-mapped; host bits are zero */
    uint8_t prefixlen;      /* 0..128, over the 128-bit form */
};

struct allow_list {
    struct allow_net nets[ALLOW_MAX];
    unsigned n;
};

/* Adds one network written as text[0, len): "10.0.0.0/8", "2001:db8::/32",
 * or an address alone (a /32 or /128). A network already listed is not
 * added twice. Returns false and writes why into why[0, why_size) when the
 * text is not a network or the list is full. */
bool allow_add_cidr(struct allow_list *list, const char *text, size_t len,
                    char *why, size_t why_size);

/* The default list: 127.0.0.0/8, ::1/128, then the network of every IPv4
 * and IPv6 address that ifaddrs (may be NULL) lists on one of the nifaces
 * interfaces. Returns false with why when the list is full. */
bool allow_add_defaults(struct allow_list *list, const struct ifaddrs *ifaddrs,
                        const char (*ifaces)[IF_NAMESIZE], unsigned nifaces,
                        char *why, size_t why_size);

/* allow_add_defaults() with the system's addresses (getifaddrs). When they
 * cannot be read, adds loopback alone and returns false with why. */
bool allow_add_system_defaults(struct allow_list *list,
                               const char (*ifaces)[IF_NAMESIZE], unsigned nifaces,
                               char *why, size_t why_size);

/* Is addr (AF_INET or AF_INET6) inside one of the networks? */
bool allow_match(const struct allow_list *list, const struct sockaddr *addr);

/* "10.0.0.0/8", "::1/128": IPv4-mapped networks are written as IPv4. */
void allow_format(const struct allow_net *net, char buf[ALLOW_TEXT_MAX]);

#endif
