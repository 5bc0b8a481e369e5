/* test_loadgen_options.c - mcload's command line: defaults, every flag's
 * value landing in the config, server addresses (IPv4, [IPv6]), and bad
 * values refused with the flag named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "options.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static enum options_result parse(struct load_config *cfg, int argc, char **argv, char *why)
{
    return options_parse(cfg, argc, argv, why, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    char *argv[] = { "mcload" };
    struct load_config cfg;
    char why[256];
    assert_int_equal(parse(&cfg, ARGC(argv), argv, why), OPTIONS_RUN);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&cfg.server;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 11211);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_false(cfg.tcp);
    assert_int_equal(cfg.read_op, OP_GET);
    assert_int_equal(cfg.ks.nkeys, 1000);
    assert_int_equal(cfg.ks.key_size, 8);
    assert_int_equal(cfg.ks.value_size, 8);
    assert_true(cfg.dist.s == 0 && cfg.get_ratio == 1 && cfg.rate == 0);
    assert_int_equal(cfg.multiget, 1);
    assert_int_equal(cfg.window, 32);
    assert_int_equal(cfg.threads, 1);
    assert_int_equal(cfg.conns, 1);
    assert_true(cfg.duration_s == 5 && cfg.warmup_s == 0);
    assert_int_equal(cfg.timeout_ms, 1000);
    assert_false(cfg.preload);
    assert_null(cfg.json_path);
    assert_int_equal(cfg.ks.ttl_min, 0);
    assert_int_equal(cfg.ks.ttl_max, 0);
}

static void test_every_flag(void **state)
{
    (void)state;
    char *argv[] = { "mcload", "-s", "[::1]:2000", "-P", "tcp", "-c", "mg", "-k", "1000000",
                     "--key-size", "4", "--value-size", "256", "-d", "zipf:0.99", "-g", "0.8",
                     "-m", "4", "-w", "64", "-t", "2", "-C", "3", "-D", "0.5", "--warmup", "1",
                     "-r", "50000", "--timeout", "20", "--json", "-", "--seed", "7",
                     "--ttl", "10-100" };
    struct load_config cfg;
    char why[256];
    assert_int_equal(parse(&cfg, ARGC(argv), argv, why), OPTIONS_RUN);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&cfg.server;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 2000);
    assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    assert_int_equal(cfg.server_len, sizeof(*sin6));
    assert_true(cfg.tcp);
    assert_int_equal(cfg.read_op, OP_MG);
    assert_int_equal(cfg.ks.nkeys, 1000000);
    assert_int_equal(cfg.ks.key_size, 4);
    assert_int_equal(cfg.ks.value_size, 256);
    assert_true(cfg.dist.s == 0.99 && cfg.get_ratio == 0.8);
    assert_int_equal(cfg.multiget, 4);
    assert_int_equal(cfg.window, 64);
    assert_int_equal(cfg.threads, 2);
    assert_int_equal(cfg.conns, 3);
    assert_true(cfg.duration_s == 0.5 && cfg.warmup_s == 1 && cfg.rate == 50000);
    assert_int_equal(cfg.timeout_ms, 20);
    assert_string_equal(cfg.json_path, "-");
    assert_int_equal(cfg.seed, 7);
    assert_int_equal(cfg.ks.ttl_min, 10);
    assert_int_equal(cfg.ks.ttl_max, 100);
}

static void test_single_ttl(void **state)
{
    (void)state;
    char *argv[] = { "mcload", "--ttl", "2592000" };
    struct load_config cfg;
    char why[256];
    assert_int_equal(parse(&cfg, ARGC(argv), argv, why), OPTIONS_RUN);
    assert_int_equal(cfg.ks.ttl_min, 2592000);
    assert_int_equal(cfg.ks.ttl_max, 2592000);
}

static void expect_error(char **argv, int argc, const char *fragment)
{
    struct load_config cfg;
    char why[256];
    assert_int_equal(parse(&cfg, argc, argv, why), OPTIONS_ERROR);
    if (!strstr(why, fragment))
        fail_msg("'%s' does not say '%s'", why, fragment);
}
#define EXPECT_ERROR(fragment, ...)                                                    \
    do {                                                                               \
        char *argv_[] = { "mcload", __VA_ARGS__ };                                     \
        expect_error(argv_, ARGC(argv_), fragment);                                    \
    } while (0)

static void test_bad_values(void **state)
{
    (void)state;
    EXPECT_ERROR("--server", "-s", "localhost:11211");
    EXPECT_ERROR("--server", "-s", "127.0.0.1");
    EXPECT_ERROR("--server", "-s", "127.0.0.1:0");
    EXPECT_ERROR("--server", "-s", "::1:11211");
    EXPECT_ERROR("--protocol", "-P", "sctp");
    EXPECT_ERROR("--command", "-c", "gat");
    EXPECT_ERROR("--keys", "-k", "0");
    EXPECT_ERROR("--keys", "-k", "-5");
    EXPECT_ERROR("--get-ratio", "-g", "1.5");
    EXPECT_ERROR("--multiget", "-m", "101");
    EXPECT_ERROR("--window", "-w", "0");
    EXPECT_ERROR("--duration", "-D", "0");
    EXPECT_ERROR("--rate", "-r", "x");
    EXPECT_ERROR("--timeout", "--timeout", "0");
    EXPECT_ERROR("zipf", "-d", "zipf:0");
    EXPECT_ERROR("--ttl", "--ttl", "2592001");  /* memcached: an absolute time */
    EXPECT_ERROR("--ttl", "--ttl", "10-5");
    EXPECT_ERROR("--ttl", "--ttl", "0-5");
    EXPECT_ERROR("--ttl", "--ttl", "5-");
    EXPECT_ERROR("--ttl", "--ttl", "-5");
    EXPECT_ERROR("do not fit", "-k", "4000", "--key-size", "2");
    EXPECT_ERROR("unknown option", "--bogus");
    EXPECT_ERROR("unexpected argument", "extra");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_flag),
        cmocka_unit_test(test_single_ttl),
        cmocka_unit_test(test_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
