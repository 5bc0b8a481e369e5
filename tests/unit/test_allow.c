/* test_allow.c - the --udp-allow list: parsing networks and refusing bad
 * ones, the default list built from interface addresses, matching IPv4,
 * IPv6 and IPv4-mapped sources, and the text form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "allow.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Adds each network of a NULL-terminated list, which must all be accepted. */
static void add_all(struct allow_list *list, const char *const *cidrs)
{
    char why[128];
    for (; *cidrs; cidrs++)
        if (!allow_add_cidr(list, *cidrs, strlen(*cidrs), why, sizeof(why)))
            fail_msg("'%s' refused: %s", *cidrs, why);
}

static struct allow_list list_of(const char *const *cidrs)
{
    static struct allow_list list;
    memset(&list, 0, sizeof(list));
    add_all(&list, cidrs);
    return list;
}
#define LIST(...) list_of((const char *const[]){ __VA_ARGS__, NULL })

static bool matches(const struct allow_list *list, const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
        sin->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
        sin6->sin6_family = AF_INET6;
    else
        fail_msg("bad test address '%s'", addr);
    return allow_match(list, (struct sockaddr *)&ss);
}

static void expect_formatted(const struct allow_list *list,
                             const char *const *expected, size_t n)
{
    assert_int_equal(list->n, n);
    for (size_t i = 0; i < n; i++) {
        char text[ALLOW_TEXT_MAX];
        allow_format(&list->nets[i], text);
        assert_string_equal(text, expected[i]);
    }
}
#define EXPECT_FORMATTED(list, ...)                                        \
    expect_formatted(list, (const char *const[]){ __VA_ARGS__ },           \
                     ARRAY_SIZE(((const char *const[]){ __VA_ARGS__ })))

static void test_networks_and_addresses(void **state)
{
    (void)state;
    struct allow_list list = LIST("10.0.0.0/8", "192.168.1.7", "2001:db8::/32",
                                  "::1", "0.0.0.0/0", "172.16.0.0/12");
    EXPECT_FORMATTED(&list, "10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32",
                     "::1/128", "0.0.0.0/0", "172.16.0.0/12");
}

/* IPv4 is kept IPv4-mapped, with the prefix length of the trie's keys. */
static void test_ipv4_is_kept_mapped(void **state)
{
    (void)state;
    struct allow_list list = LIST("10.1.0.0/16");
    static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 0 };
    assert_int_equal(list.n, 1);
    assert_int_equal(list.nets[0].prefixlen, 96 + 16);
    assert_memory_equal(list.nets[0].addr, mapped, 16);
}

/* The same network twice, also written as IPv4-mapped IPv6, is kept once. */
static void test_repeats_kept_once(void **state)
{
    (void)state;
    struct allow_list list = LIST("10.0.0.0/8", "10.0.0.0/8", "::ffff:10.0.0.0/104",
                                  "::1", "::1/128", "10.0.0.0/9");
    EXPECT_FORMATTED(&list, "10.0.0.0/8", "::1/128", "10.0.0.0/9");
}

struct refusal {
    const char *text;
    const char *why;
};

static void test_refusals(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { "", "empty network" },
        { "10.0.0.0/33", "prefix length must be a number from 0 to 32" },
        { "::/129", "from 0 to 128" },
        { "10.0.0.0/", "from 0 to 32" },
        { "10.0.0.0/x", "from 0 to 32" },
        { "10.0.0.0/-1", "from 0 to 32" },
        { "10.0.0.0/0008", "from 0 to 32" },
        { "10.0.0.0/8/8", "from 0 to 32" },
        { "/8", "not an IPv4 or IPv6 address" },
        { "localhost", "not an IPv4 or IPv6 address" },
        { "10.0.0", "not an IPv4 or IPv6 address" },
        { " 10.0.0.0/8", "not an IPv4 or IPv6 address" },
        { "10.0.0.256", "not an IPv4 or IPv6 address" },
        { "fe80::1%eth0", "not an IPv4 or IPv6 address" },
        { "1111:2222:3333:4444:5555:6666:7777:8888:9999/64", "not an IPv4" },
        { "10.1.2.3/8", "address bits set after the prefix (the network is 10.0.0.0/8)" },
        { "10.0.0.128/25", "" },
        { "10.0.0.64/25", "the network is 10.0.0.0/25" },
        { "2001:db8::1/64", "the network is 2001:db8::/64" },
        { "::ffff:10.1.0.0/8", "the network is ::/8" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct allow_list list = { .n = 0 };
        char why[128] = "";
        bool ok = allow_add_cidr(&list, cases[i].text, strlen(cases[i].text), why,
                                 sizeof(why));
        if (cases[i].why[0] == '\0') {         /* accepted: host bits are zero */
            assert_true(ok);
            continue;
        }
        if (ok || strstr(why, cases[i].why) == NULL)
            fail_msg("'%s': got %s '%s', want '%s'", cases[i].text,
                     ok ? "accepted" : "refused", why, cases[i].why);
        assert_int_equal(list.n, 0);
    }
}

/* The text is taken by length, as a piece of a comma-separated list. */
static void test_text_by_length(void **state)
{
    (void)state;
    const char *text = "10.0.0.0/8,192.168.0.0/16";
    struct allow_list list = { .n = 0 };
    char why[128];
    assert_true(allow_add_cidr(&list, text, 10, why, sizeof(why)));
    assert_true(allow_add_cidr(&list, text + 11, strlen(text + 11), why, sizeof(why)));
    EXPECT_FORMATTED(&list, "10.0.0.0/8", "192.168.0.0/16");
}

static void test_at_most_allow_max(void **state)
{
    (void)state;
    static struct allow_list list;
    char text[32], why[128];
    memset(&list, 0, sizeof(list));
    for (int i = 0; i < ALLOW_MAX; i++) {
        snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 256, i % 256);
        assert_true(allow_add_cidr(&list, text, strlen(text), why, sizeof(why)));
    }
    assert_int_equal(list.n, ALLOW_MAX);
    /* a repeat is no new entry, so it still fits */
    assert_true(allow_add_cidr(&list, "10.0.0.0/24", 11, why, sizeof(why)));
    assert_false(allow_add_cidr(&list, "11.0.0.0/8", 10, why, sizeof(why)));
    assert_non_null(strstr(why, "too many networks (at most 256)"));
    assert_int_equal(list.n, ALLOW_MAX);
}

static void test_match_ipv4(void **state)
{
    (void)state;
    struct allow_list list = LIST("10.0.0.0/8", "192.168.1.7", "172.16.128.0/17");
    assert_true(matches(&list, "10.0.0.0"));
    assert_true(matches(&list, "10.255.255.255"));
    assert_false(matches(&list, "11.0.0.1"));
    assert_false(matches(&list, "9.255.255.255"));
    assert_true(matches(&list, "192.168.1.7"));
    assert_false(matches(&list, "192.168.1.8"));
    assert_true(matches(&list, "172.16.128.1"));
    assert_true(matches(&list, "172.16.255.255"));
    assert_false(matches(&list, "172.16.127.255"));
    /* a dual-stack socket sees IPv4 clients as IPv4-mapped IPv6 */
    assert_true(matches(&list, "::ffff:10.1.2.3"));
    assert_false(matches(&list, "::ffff:11.1.2.3"));
    /* but an IPv6 address that merely ends in those bytes is not IPv4 */
    assert_false(matches(&list, "::10.1.2.3"));
}

static void test_match_ipv6(void **state)
{
    (void)state;
    struct allow_list list = LIST("2001:db8::/32", "::1", "fe80::/10");
    assert_true(matches(&list, "2001:db8::1"));
    assert_true(matches(&list, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_false(matches(&list, "2001:db9::1"));
    assert_true(matches(&list, "::1"));
    assert_false(matches(&list, "::2"));
    assert_true(matches(&list, "febf::1"));
    assert_false(matches(&list, "fec0::1"));
    assert_false(matches(&list, "127.0.0.1"));
}

static void test_match_everything_and_nothing(void **state)
{
    (void)state;
    struct allow_list empty = { .n = 0 };
    assert_false(matches(&empty, "127.0.0.1"));
    assert_false(matches(&empty, "::1"));
    struct allow_list v4 = LIST("0.0.0.0/0");
    assert_true(matches(&v4, "1.2.3.4"));
    assert_false(matches(&v4, "2001:db8::1"));
    /* ::/0 is every address, IPv4 (mapped) included */
    struct allow_list all = LIST("::/0");
    assert_true(matches(&all, "1.2.3.4"));
    assert_true(matches(&all, "2001:db8::1"));
}

static void test_match_other_families(void **state)
{
    (void)state;
    struct allow_list all = LIST("::/0");
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    assert_false(allow_match(&all, (struct sockaddr *)&un));
}

/* A fake getifaddrs() list: each entry an address and netmask, or a link
 * layer entry with neither. */
struct fake_ifaddr {
    struct ifaddrs ifa;
    struct sockaddr_storage addr, mask;
};

static void fake_set(struct sockaddr_storage *ss, const char *text)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return;
    }
    assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    sin6->sin6_family = AF_INET6;
}

static void fake_entry(struct fake_ifaddr *f, struct fake_ifaddr *next,
                       const char *name, const char *addr, const char *mask)
{
    memset(f, 0, sizeof(*f));
    f->ifa.ifa_name = (char *)name;
    f->ifa.ifa_next = next ? &next->ifa : NULL;
    if (addr == NULL)
        return;
    fake_set(&f->addr, addr);
    fake_set(&f->mask, mask);
    f->ifa.ifa_addr = (struct sockaddr *)&f->addr;
    f->ifa.ifa_netmask = (struct sockaddr *)&f->mask;
}

static void test_defaults_from_interfaces(void **state)
{
    (void)state;
    struct fake_ifaddr f[8];
    fake_entry(&f[0], &f[1], "eth0", NULL, NULL);     /* AF_PACKET-like: no address */
    fake_entry(&f[1], &f[2], "lo", "127.0.0.1", "255.0.0.0");
    fake_entry(&f[2], &f[3], "eth0", "192.0.2.17", "255.255.255.0");
    fake_entry(&f[3], &f[4], "eth1", "198.51.100.1", "255.255.255.0");
    fake_entry(&f[4], &f[5], "eth0", "2001:db8:1::5", "ffff:ffff:ffff:ffff::");
    fake_entry(&f[5], &f[6], "eth0", "fe80::1", "ffff:ffff:ffff:ffff::");
    fake_entry(&f[6], &f[7], "eth0", "203.0.113.77", "255.255.255.224");
    fake_entry(&f[7], NULL, "eth0", "10.9.8.7", "255.255.255.255");
    static const char ifaces[2][IF_NAMESIZE] = { "eth0", "lo" };
    static struct allow_list list;
    char why[128];
    memset(&list, 0, sizeof(list));
    assert_true(allow_add_defaults(&list, &f[0].ifa, ifaces, 2, why, sizeof(why)));
    /* lo's 127.0.0.0/8 is loopback's own; eth1 is not an --xdp-iface */
    EXPECT_FORMATTED(&list, "127.0.0.0/8", "::1/128", "192.0.2.0/24",
                     "2001:db8:1::/64", "fe80::/64", "203.0.113.64/27",
                     "10.9.8.7/32");
    assert_true(matches(&list, "192.0.2.200"));
    assert_false(matches(&list, "198.51.100.1"));
}

static void test_defaults_without_interfaces(void **state)
{
    (void)state;
    static struct allow_list list;
    char why[128];
    memset(&list, 0, sizeof(list));
    assert_true(allow_add_defaults(&list, NULL, NULL, 0, why, sizeof(why)));
    EXPECT_FORMATTED(&list, "127.0.0.0/8", "::1/128");
    /* the system's interfaces are not even read when none is named */
    memset(&list, 0, sizeof(list));
    assert_true(allow_add_system_defaults(&list, NULL, 0, why, sizeof(why)));
    EXPECT_FORMATTED(&list, "127.0.0.0/8", "::1/128");
}

/* The real getifaddrs(): lo's 127.0.0.1/8 and ::1/128 are loopback's own,
 * so they add nothing (a machine may give lo more addresses). */
static void test_system_defaults_for_lo(void **state)
{
    (void)state;
    static const char ifaces[1][IF_NAMESIZE] = { "lo" };
    static struct allow_list list;
    char why[128], text[ALLOW_TEXT_MAX];
    memset(&list, 0, sizeof(list));
    assert_true(allow_add_system_defaults(&list, ifaces, 1, why, sizeof(why)));
    assert_true(list.n >= 2);
    for (unsigned i = 2; i < list.n; i++) {
        allow_format(&list.nets[i], text);
        assert_string_not_equal(text, "127.0.0.0/8");
        assert_string_not_equal(text, "::1/128");
    }
}

static void test_format(void **state)
{
    (void)state;
    struct allow_list list = LIST("0.0.0.0/0", "255.255.255.255",
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                  "::/0", "64:ff9b::/96");
    /* 64:ff9b::/96 is as long as a mapped prefix but is no IPv4 network */
    EXPECT_FORMATTED(&list, "0.0.0.0/0", "255.255.255.255/32",
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "::/0",
                     "64:ff9b::/96");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks_and_addresses),
        cmocka_unit_test(test_ipv4_is_kept_mapped),
        cmocka_unit_test(test_repeats_kept_once),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_text_by_length),
        cmocka_unit_test(test_at_most_allow_max),
        cmocka_unit_test(test_match_ipv4),
        cmocka_unit_test(test_match_ipv6),
        cmocka_unit_test(test_match_everything_and_nothing),
        cmocka_unit_test(test_match_other_families),
        cmocka_unit_test(test_defaults_from_interfaces),
        cmocka_unit_test(test_defaults_without_interfaces),
        cmocka_unit_test(test_system_defaults_for_lo),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
