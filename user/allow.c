/* allow.c - see allow.h. */
#include "allow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define V4_MAPPED_PREFIXLEN 96

_Static_assert(ALLOW_TEXT_MAX >= INET6_ADDRSTRLEN + sizeof("/128") - 1,
               "room for an IPv6 network");

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void map_v4(uint8_t out[16], const struct in_addr *addr)
{
    memcpy(out, v4_mapped, sizeof v4_mapped);
    memcpy(out + sizeof v4_mapped, &addr->s_addr, 4);
}

/* Do a and b agree on their first prefixlen bits? */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned prefixlen)
{
    unsigned bytes = prefixlen / 8, bits = prefixlen % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    uint8_t mask = (uint8_t)(0xff00 >> bits);
    return bits == 0 || ((a[bytes] ^ b[bytes]) & mask) == 0;
}

static void clear_host_bits(uint8_t addr[16], unsigned prefixlen)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = prefixlen > 8 * i ? prefixlen - 8 * i : 0;
        if (keep < 8)
            addr[i] &= (uint8_t)(0xff00 >> keep);
    }
}

static bool add_net(struct allow_list *list, const struct allow_net *net,
                    char *why, size_t why_size)
{
    for (unsigned i = 0; i < list->n; i++)
        if (list->nets[i].prefixlen == net->prefixlen &&
            memcmp(list->nets[i].addr, net->addr, sizeof net->addr) == 0)
            return true;
    if (list->n == ALLOW_MAX) {
        snprintf(why, why_size, "too many networks (at most %d)", ALLOW_MAX);
        return false;
    }
    list->nets[list->n++] = *net;
    return true;
}

/* One to three decimal digits, at most max: what follows a '/'. */
static bool parse_prefixlen(const char *text, unsigned max, unsigned *out)
{
    size_t len = strlen(text);
    unsigned value = 0;
    if (len == 0 || len > 3)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (unsigned)(text[i] - '0');
    }
    *out = value;
    return value <= max;
}

/* Reads "address[/prefix]" into net, host bits as given. */
static bool parse_cidr(char *text, struct allow_net *net, char *why,
                       size_t why_size)
{
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    struct in_addr v4;
    unsigned max = 128, base = 0;
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, text, &v4) == 1) {
        map_v4(net->addr, &v4);
        max = 32;
        base = V4_MAPPED_PREFIXLEN;
    } else if (inet_pton(AF_INET6, text, net->addr) != 1) {
        snprintf(why, why_size, "not an IPv4 or IPv6 address");
        return false;
    }
    unsigned prefixlen = max;
    if (slash && !parse_prefixlen(slash + 1, max, &prefixlen)) {
        snprintf(why, why_size, "the prefix length must be a number from 0 "
                 "to %u", max);
        return false;
    }
    net->prefixlen = (uint8_t)(base + prefixlen);
    return true;
}

bool allow_add_cidr(struct allow_list *list, const char *text, size_t len,
                    char *why, size_t why_size)
{
    char buf[ALLOW_TEXT_MAX];
    if (len == 0) {
        snprintf(why, why_size, "empty network in the list");
        return false;
    }
    if (len >= sizeof buf) {
        snprintf(why, why_size, "not an IPv4 or IPv6 address");
        return false;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    struct allow_net net, network;
    if (!parse_cidr(buf, &net, why, why_size))
        return false;
    /* 10.1.2.3/8 is most likely a typo: say which network it would be
     * rather than guess. */
    network = net;
    clear_host_bits(network.addr, network.prefixlen);
    if (memcmp(network.addr, net.addr, sizeof net.addr) != 0) {
        char text_network[ALLOW_TEXT_MAX];
        allow_format(&network, text_network);
        snprintf(why, why_size, "address bits set after the prefix (the "
                 "network is %s)", text_network);
        return false;
    }
    return add_net(list, &net, why, why_size);
}

/* Leading one bits of a netmask. */
static unsigned mask_prefixlen(const uint8_t *mask, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len && (i == 0 || mask[i - 1] == 0xff); i++)
        for (uint8_t b = mask[i]; b & 0x80; b = (uint8_t)(b << 1))
            n++;
    return n;
}

/* The network of an interface's IPv4 or IPv6 address; false for others. */
static bool ifaddr_network(const struct ifaddrs *ifa, struct allow_net *net)
{
    const struct sockaddr *addr = ifa->ifa_addr, *mask = ifa->ifa_netmask;
    if (addr == NULL || mask == NULL)
        return false;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)addr, *m = (const void *)mask;
        map_v4(net->addr, &a->sin_addr);
        net->prefixlen = V4_MAPPED_PREFIXLEN +
                         mask_prefixlen((const uint8_t *)&m->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)addr, *m = (const void *)mask;
        memcpy(net->addr, &a->sin6_addr, sizeof net->addr);
        net->prefixlen = mask_prefixlen((const uint8_t *)&m->sin6_addr, 16);
    } else {
        return false;
    }
    clear_host_bits(net->addr, net->prefixlen);
    return true;
}

static bool is_listed(const char *name, const char (*ifaces)[IF_NAMESIZE],
                      unsigned nifaces)
{
    for (unsigned i = 0; i < nifaces; i++)
        if (strcmp(name, ifaces[i]) == 0)
            return true;
    return false;
}

bool allow_add_defaults(struct allow_list *list, const struct ifaddrs *ifaddrs,
                        const char (*ifaces)[IF_NAMESIZE], unsigned nifaces,
                        char *why, size_t why_size)
{
    static const char *const loopback[] = { "127.0.0.0/8", "::1/128" };
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++)
        if (!allow_add_cidr(list, loopback[i], strlen(loopback[i]), why,
                            why_size))
            return false;
    for (const struct ifaddrs *ifa = ifaddrs; ifa; ifa = ifa->ifa_next) {
        struct allow_net net;
        if (is_listed(ifa->ifa_name, ifaces, nifaces) &&
            ifaddr_network(ifa, &net) && !add_net(list, &net, why, why_size))
            return false;
    }
    return true;
}

bool allow_add_system_defaults(struct allow_list *list,
                               const char (*ifaces)[IF_NAMESIZE], unsigned nifaces,
                               char *why, size_t why_size)
{
    struct ifaddrs *ifaddrs = NULL;
    int err = nifaces > 0 && getifaddrs(&ifaddrs) != 0 ? errno : 0;
    bool ok = allow_add_defaults(list, ifaddrs, ifaces, nifaces, why, why_size);
    if (ifaddrs)
        freeifaddrs(ifaddrs);
    if (ok && err) {
        snprintf(why, why_size, "cannot read the interfaces' addresses: %s",
                 strerror(err));
        return false;
    }
    return ok;
}

bool allow_match(const struct allow_list *list, const struct sockaddr *addr)
{
    uint8_t a[16];
    if (addr->sa_family == AF_INET)
        map_v4(a, &((const struct sockaddr_in *)(const void *)addr)->sin_addr);
    else if (addr->sa_family == AF_INET6)
        memcpy(a, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr,
               sizeof a);
    else
        return false;
    for (unsigned i = 0; i < list->n; i++)
        if (same_prefix(a, list->nets[i].addr, list->nets[i].prefixlen))
            return true;
    return false;
}

void allow_format(const struct allow_net *net, char buf[ALLOW_TEXT_MAX])
{
    char addr[INET6_ADDRSTRLEN];
    bool v4 = net->prefixlen >= V4_MAPPED_PREFIXLEN &&
              memcmp(net->addr, v4_mapped, sizeof v4_mapped) == 0;
    if (v4)
        inet_ntop(AF_INET, net->addr + sizeof v4_mapped, addr, sizeof addr);
    else
        inet_ntop(AF_INET6, net->addr, addr, sizeof addr);
    snprintf(buf, ALLOW_TEXT_MAX, "%s/%u", addr,
             v4 ? net->prefixlen - V4_MAPPED_PREFIXLEN : net->prefixlen);
}
