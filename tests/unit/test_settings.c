/* test_settings.c - the command line: defaults, every flag in its short and
 * long form, refusals with their messages, -h / -V, and `stats settings`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "stats.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MB ((size_t)1 << 20)

/* A NULL-terminated argument list, without the program name. */
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct outcome {
    int rc;
    struct settings s;
    char out[16384];
    char err[4096];
};

static void fail_at(const char *file, int line, const char *const *args,
                    const struct outcome *o, const char *why)
{
    print_error("%s:%d: xdpcached", file, line);
    for (const char *const *a = args; *a; a++)
        print_error(" '%s'", *a);
    print_error("\n  %s\n  rc=%d\n  err: %s\n", why, o->rc, o->err);
    _fail(file, line);
}

/* Runs settings_init then settings_parse on "xdpcached" + args, capturing
 * what it writes to out and err. */
static void run_parse(struct outcome *o, const char *const *args)
{
    char *argv[48] = { "xdpcached" };
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        assert_true(argc < (int)ARRAY_SIZE(argv) - 1);
        argv[argc] = (char *)args[argc - 1];
    }
    memset(o, 0, sizeof *o);
    FILE *out = fmemopen(o->out, sizeof o->out - 1, "w");
    FILE *err = fmemopen(o->err, sizeof o->err - 1, "w");
    assert_non_null(out);
    assert_non_null(err);
    settings_init(&o->s);
    o->rc = settings_parse(&o->s, argc, argv, out, err);
    fclose(out);
    fclose(err);
}

/* Parses args, which must be accepted silently; returns the settings. */
static struct settings parse_ok_(const char *const *args, const char *file,
                                 int line)
{
    static struct outcome o;
    run_parse(&o, args);
    if (o.rc != -1 || o.out[0] != '\0' || o.err[0] != '\0')
        fail_at(file, line, args, &o, "expected to be accepted silently");
    return o.s;
}
#define PARSE_OK(...) parse_ok_(ARGS(__VA_ARGS__), __FILE__, __LINE__)

/* memcached's exit codes: 1 for a bad flag, 64 (EX_USAGE) for -I, -B and
 * the checks across flags. */
#define RC_BAD_FLAG 1
#define RC_USAGE 64

/* Parses args, which must be refused: exit code rc, nothing on out, one
 * line on err containing every fragment. */
static void expect_refused_(const char *const *args,
                            const char *const *fragments, int rc,
                            const char *file, int line)
{
    static struct outcome o;
    run_parse(&o, args);
    if (o.rc != rc)
        fail_at(file, line, args, &o, "unexpected exit code");
    if (o.out[0] != '\0')
        fail_at(file, line, args, &o, "wrote to out");
    size_t len = strlen(o.err);
    if (len == 0 || strchr(o.err, '\n') != o.err + len - 1)
        fail_at(file, line, args, &o, "expected exactly one line on err");
    for (const char *const *f = fragments; *f; f++)
        if (strstr(o.err, *f) == NULL) {
            print_error("  missing from err: '%s'\n", *f);
            fail_at(file, line, args, &o, "message lacks a fragment");
        }
}
#define EXPECT_REFUSED(args, ...) \
    expect_refused_(args, ARGS(__VA_ARGS__), RC_BAD_FLAG, __FILE__, __LINE__)

/* A refusal table row: arguments and what the message must contain, each
 * list ended by the NULLs of its unused slots. */
struct refusal {
    const char *args[8];
    const char *fragments[6];
};

static void expect_all_refused(const struct refusal *cases, size_t n,
                               int rc, const char *file, int line)
{
    for (size_t i = 0; i < n; i++) {
        const struct refusal *c = &cases[i];
        /* a full array would have no terminating NULL */
        assert_null(c->args[ARRAY_SIZE(c->args) - 1]);
        assert_null(c->fragments[ARRAY_SIZE(c->fragments) - 1]);
        expect_refused_(c->args, c->fragments, rc, file, line);
    }
}
#define EXPECT_ALL_REFUSED_RC(cases, rc) \
    expect_all_refused(cases, ARRAY_SIZE(cases), rc, __FILE__, __LINE__)
#define EXPECT_ALL_REFUSED(cases) EXPECT_ALL_REFUSED_RC(cases, RC_BAD_FLAG)

static void test_defaults_are_memcached_defaults(void **state)
{
    (void)state;
    struct settings s;
    settings_init(&s);
    assert_int_equal(s.port, 11211);
    assert_int_equal(s.udpport, 0);
    assert_int_equal(s.nlisten, 0);
    assert_int_equal(s.maxbytes, 64 * MB);
    assert_int_equal(s.maxconns, 1024);
    assert_int_equal(s.num_threads, 4);
    assert_true(s.use_cas);
    assert_int_equal(s.item_size_max, 1 * MB);
    assert_true(s.evict_to_free);
    assert_int_equal(s.reqs_per_event, 20);
    assert_int_equal(s.backlog, 1024);
    assert_int_equal(s.verbose, 0);
    assert_null(s.username);
    assert_true(s.flush_enabled);
    assert_false(s.shutdown_command);
    assert_null(s.pidfile);
    assert_int_equal(s.hashpower_init, 0);
    assert_int_equal(s.idle_timeout, 0);
    assert_true(s.maxconns_fast);
    assert_true(s.lru_crawler);
    assert_true(s.xdp);
    assert_int_equal(s.nxdp_ifaces, 0);
    assert_int_equal(s.xdp_mode, SETTINGS_XDP_AUTO);
    assert_int_equal(s.xdp_entries, 262144);
    assert_int_equal(s.xdp_memory, 64 << 20);
    assert_int_equal(s.xdp_max_value, 1024);
    assert_false(s.udp_allow_given);
    assert_int_equal(s.udp_allow.n, 0);
}

static void test_no_arguments_keep_defaults(void **state)
{
    (void)state;
    struct settings defaults;
    struct outcome o;
    settings_init(&defaults);
    run_parse(&o, (const char *const[]){ NULL });
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.err, "");
    assert_memory_equal(&o.s, &defaults, sizeof defaults);
}

static void test_numeric_flags_short_and_long(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("-p", "12345").port, 12345);
    assert_int_equal(PARSE_OK("-p12345").port, 12345);
    assert_int_equal(PARSE_OK("--port=12345").port, 12345);
    assert_int_equal(PARSE_OK("--port", "0").port, 0);
    assert_int_equal(PARSE_OK("-p", "65535").port, 65535);
    assert_int_equal(PARSE_OK("-U", "11311", "-p", "1").udpport, 11311);
    assert_int_equal(PARSE_OK("--udp-port=65535").udpport, 65535);
    assert_int_equal(PARSE_OK("-c", "1").maxconns, 1);
    assert_int_equal(PARSE_OK("--conn-limit=2147483647").maxconns, 2147483647);
    assert_int_equal(PARSE_OK("-t", "1").num_threads, 1);
    assert_int_equal(PARSE_OK("--threads=64").num_threads, 64);
    assert_int_equal(PARSE_OK("-R", "1").reqs_per_event, 1);
    assert_int_equal(PARSE_OK("--max-reqs-per-event=200").reqs_per_event, 200);
    assert_int_equal(PARSE_OK("-b", "1").backlog, 1);
    assert_int_equal(PARSE_OK("--listen-backlog=4096").backlog, 4096);
    /* getopt_long takes unambiguous abbreviations, as memcached does */
    assert_int_equal(PARSE_OK("--conn=7").maxconns, 7);
}

static void test_switch_flags_short_and_long(void **state)
{
    (void)state;
    assert_false(PARSE_OK("-C").use_cas);
    assert_false(PARSE_OK("--disable-cas").use_cas);
    assert_false(PARSE_OK("-M").evict_to_free);
    assert_false(PARSE_OK("--disable-evictions").evict_to_free);
    assert_false(PARSE_OK("-F").flush_enabled);
    assert_false(PARSE_OK("--disable-flush-all").flush_enabled);
    assert_true(PARSE_OK("-A").shutdown_command);
    assert_true(PARSE_OK("--enable-shutdown").shutdown_command);

    struct settings s = PARSE_OK("-CMFA");
    assert_false(s.use_cas);
    assert_false(s.evict_to_free);
    assert_false(s.flush_enabled);
    assert_true(s.shutdown_command);
}

static void test_verbose_counts_repeats(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("-v").verbose, 1);
    assert_int_equal(PARSE_OK("-vv").verbose, 2);
    assert_int_equal(PARSE_OK("-vvv").verbose, 3);
    assert_int_equal(PARSE_OK("-v", "-v").verbose, 2);
    assert_int_equal(PARSE_OK("-vv", "-v").verbose, 3);
    assert_int_equal(PARSE_OK("--verbose").verbose, 1);
    assert_int_equal(PARSE_OK("--verbose", "--verbose").verbose, 2);
}

static void test_user_and_pidfile_are_stored(void **state)
{
    (void)state;
    assert_string_equal(PARSE_OK("-u", "nobody").username, "nobody");
    assert_string_equal(PARSE_OK("--user=memcache").username, "memcache");
    assert_string_equal(PARSE_OK("-P", "/run/x.pid").pidfile, "/run/x.pid");
    assert_string_equal(PARSE_OK("--pidfile=/tmp/p").pidfile, "/tmp/p");
    EXPECT_REFUSED(ARGS("-u", ""), "-u/--user", "empty");
    EXPECT_REFUSED(ARGS("--pidfile="), "-P/--pidfile", "empty");
}

/* -Y: ASCII only and no UDP, as memcached insists; it fixes -B to ascii. */
static void test_auth_file(void **state)
{
    (void)state;
    assert_null(PARSE_OK("-p", "1").auth_file);
    struct settings s = PARSE_OK("-Y", "/etc/users");
    assert_string_equal(s.auth_file, "/etc/users");
    assert_int_equal(s.protocol, SETTINGS_PROTOCOL_ASCII);
    assert_string_equal(PARSE_OK("--auth-file=/u", "-B", "ascii").auth_file, "/u");
    EXPECT_REFUSED(ARGS("-Y", ""), "-Y/--auth-file", "empty");
    struct outcome o;
    run_parse(&o, ARGS("-Y", "/u", "-U", "11211"));
    assert_int_equal(o.rc, RC_USAGE);
    assert_non_null(strstr(o.err, "Cannot use UDP with ascii authentication"));
    run_parse(&o, ARGS("-B", "binary", "-Y", "/u"));
    assert_int_equal(o.rc, RC_USAGE);
    assert_non_null(strstr(o.err, "cannot allow the BINARY protocol"));
    run_parse(&o, ARGS("-Y", "/u", "-B", "auto"));
    assert_int_equal(o.rc, RC_USAGE);
}

/* -s and -a: the path must fit a sockaddr_un; the mask is chmod's octal. */
static void test_unix_socket_and_mask(void **state)
{
    (void)state;
    assert_null(PARSE_OK("-p", "1").socketpath);
    assert_string_equal(PARSE_OK("-s", "/run/mc.sock").socketpath, "/run/mc.sock");
    assert_string_equal(PARSE_OK("--unix-socket=/tmp/s").socketpath, "/tmp/s");
    assert_int_equal(PARSE_OK("-p", "1").unix_mask, 0700);
    assert_int_equal(PARSE_OK("-a", "640").unix_mask, 0640);
    assert_int_equal(PARSE_OK("--unix-mask=0").unix_mask, 0);
    assert_int_equal(PARSE_OK("-a", "0777").unix_mask, 0777);
    char longest[108], too_long[109];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    assert_string_equal(PARSE_OK("-s", longest).socketpath, longest);
    EXPECT_REFUSED(ARGS("-s", too_long), "-s/--unix-socket", "longer than", "(107 bytes)");
    EXPECT_REFUSED(ARGS("-s", ""), "-s/--unix-socket", "empty");
    EXPECT_REFUSED(ARGS("-a", "1000"), "-a/--unix-mask", "octal mask from 0 to 777");
    EXPECT_REFUSED(ARGS("-a", "9"), "-a/--unix-mask", "octal");
    EXPECT_REFUSED(ARGS("-a", "rw"), "-a/--unix-mask", "octal");
    EXPECT_REFUSED(ARGS("-a", "-1"), "-a/--unix-mask", "octal");
}

static void test_item_size_suffixes(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("-I", "1024").item_size_max, 1024);
    assert_int_equal(PARSE_OK("-I", "2k").item_size_max, 2048);
    assert_int_equal(PARSE_OK("-I", "2K").item_size_max, 2048);
    assert_int_equal(PARSE_OK("-I", "1k").item_size_max, 1024);
    assert_int_equal(PARSE_OK("-I", "4m").item_size_max, 4 * MB);
    assert_int_equal(PARSE_OK("-I", "4M").item_size_max, 4 * MB);
    assert_int_equal(PARSE_OK("-I", "3000000").item_size_max, 3000000);
    assert_int_equal(PARSE_OK("--max-item-size=512k").item_size_max, 512 * 1024);
    assert_int_equal(PARSE_OK("-I", "1024m", "-m", "2048").item_size_max,
                     1024 * MB);
}

static void test_item_size_limits(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { { "-I", "1023" }, { "-I/--max-item-size", "'1023'", "minimum of 1k" } },
        { { "-I", "0" }, { "'0'", "minimum" } },
        { { "-I", "0k" }, { "'0k'", "minimum" } },
        { { "-I", "-1k" }, { "'-1k'", "minimum" } },
        { { "-I", "1025m", "-m", "4096" }, { "'1025m'", "maximum of 1024m" } },
        { { "-I", "1073741825", "-m", "4096" }, { "maximum of 1024m" } },
        { { "-I", "99999999999999999999999m" }, { "maximum" } },
        { { "-I", "2g" }, { "'2g'", "not a size" } },
        { { "-I", "" }, { "-I/--max-item-size", "not a size" } },
        { { "-I", "k" }, { "'k'", "not a size" } },
        { { "-I", "1.5m" }, { "'1.5m'", "not a size" } },
        { { "-I", " 2k" }, { "not a size" } },
        { { "--max-item-size=2kb" }, { "'2kb'", "not a size" } },
    };
    EXPECT_ALL_REFUSED_RC(cases, RC_USAGE);
}

/* memcached refuses -I above half of -m (item_size_max > maxbytes / 2),
 * whatever the order of the flags. */
static void test_item_size_at_most_half_the_memory(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("-I", "1m", "-m", "2").maxbytes, 2 * MB);
    assert_int_equal(PARSE_OK("-m", "2", "-I", "1m").item_size_max, 1 * MB);
    assert_int_equal(PARSE_OK("-m", "1", "-I", "512k").item_size_max, 512 * 1024);
    static const struct refusal cases[] = {
        { { "-m", "1" }, { "1048576 bytes", "half", "-m/--memory-limit", "1 MB" } },
        { { "-I", "600k", "-m", "1" }, { "614400 bytes", "half" } },
        { { "-I", "2m", "-m", "3" }, { "half" } },
        { { "-m", "3", "-I", "2m" }, { "half" } },
        { { "-I", "1024m", "-m", "2047" }, { "half" } },
    };
    EXPECT_ALL_REFUSED_RC(cases, RC_USAGE);
}

static void test_memory_limit(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("-m", "128").maxbytes, 128 * MB);
    assert_int_equal(PARSE_OK("--memory-limit=1024").maxbytes, 1024 * MB);
    assert_int_equal(PARSE_OK("-m", "64m").maxbytes, 64 * MB);
    assert_int_equal(PARSE_OK("-m", "64M").maxbytes, 64 * MB);
    static const struct refusal cases[] = {
        { { "-m", "0" }, { "-m/--memory-limit", "'0'", "must be between 1" } },
        { { "-m", "-1" }, { "'-1'", "must be between 1" } },
        { { "-m", "abc" }, { "'abc'", "not a number" } },
        { { "-m", "1g" }, { "'1g'", "not a number" } },
        { { "-m", "64k" }, { "'64k'", "not a number" } },
        { { "-m", "m" }, { "'m'", "not a number" } },
        { { "-m", "" }, { "-m/--memory-limit", "not a number" } },
        { { "-m", "99999999999999999999" }, { "must be between 1" } },
        { { "--memory-limit=1.5" }, { "'1.5'", "not a number" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_bad_numbers_refused_for_every_flag(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { { "-p", "abc" }, { "-p/--port", "'abc'", "not a number" } },
        { { "-p", "-2" }, { "-p/--port", "'-2'", "between -1 and 65535" } },
        { { "-p", "65536" }, { "'65536'", "between -1 and 65535" } },
        /* 2^64 + 5: must not wrap around to 5 */
        { { "-p", "18446744073709551621" }, { "between -1 and 65535" } },
        { { "--port=12abc" }, { "-p/--port", "'12abc'", "not a number" } },
        { { "-p", "" }, { "-p/--port", "not a number" } },
        { { "-U", "x" }, { "-U/--udp-port", "'x'", "not a number" } },
        { { "-U", "-5" }, { "-U/--udp-port", "between -1 and 65535" } },
        { { "--udp-port=70000" }, { "'70000'", "between -1 and 65535" } },
        { { "-c", "0" }, { "-c/--conn-limit", "'0'", "at least 1" } },
        { { "-c", "-3" }, { "-c/--conn-limit", "at least 1" } },
        { { "-c", "2147483648" }, { "-c/--conn-limit", "between 1 and 2147483647" } },
        { { "--conn-limit=many" }, { "'many'", "not a number" } },
        { { "-t", "0" }, { "-t/--threads", "'0'", "between 1 and 1024" } },
        { { "-t", "1025" }, { "'1025'", "between 1 and 1024" } },
        { { "--threads=4.0" }, { "-t/--threads", "not a number" } },
        { { "-R", "0" }, { "-R/--max-reqs-per-event", "'0'", "at least 1" } },
        { { "-R", "+5" }, { "'+5'", "not a number" } },
        { { "--max-reqs-per-event=-1" }, { "'-1'", "at least 1" } },
        { { "-b", "0" }, { "-b/--listen-backlog", "'0'", "at least 1" } },
        { { "-b", " 5" }, { "' 5'", "not a number" } },
        { { "--listen-backlog=1e3" }, { "'1e3'", "not a number" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_many_threads_warn_but_run(void **state)
{
    (void)state;
    struct outcome o;
    assert_int_equal(PARSE_OK("-t", "64").num_threads, 64);
    run_parse(&o, ARGS("-t", "65"));
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.s.num_threads, 65);
    assert_non_null(strstr(o.err, "warning"));
    assert_non_null(strstr(o.err, "-t/--threads 65"));
}

/* memcached: -U without -p moves the TCP port to the UDP port too. */
static void test_udp_port_without_tcp_port(void **state)
{
    (void)state;
    struct settings s = PARSE_OK("-U", "11300");
    assert_int_equal(s.port, 11300);
    assert_int_equal(s.udpport, 11300);
    assert_int_equal(PARSE_OK("-U", "11300", "-p", "11211").port, 11211);
    assert_int_equal(PARSE_OK("-p", "11211", "-U", "11300").port, 11211);
    assert_int_equal(PARSE_OK("-p", "0", "-U", "5").port, 0);
    assert_int_equal(PARSE_OK("-U", "0").port, 11211);
    /* -1, any free port: TCP too, each picking its own, as in memcached */
    s = PARSE_OK("-U", "-1");
    assert_int_equal(s.port, -1);
    assert_int_equal(s.udpport, -1);
    assert_int_equal(PARSE_OK("-p", "-1", "-U", "11252").port, -1);
}

struct listen_case {
    const char *arg;
    const char *host;
    int port;
};

static void test_listen_entry_forms(void **state)
{
    (void)state;
    static const struct listen_case cases[] = {
        { "127.0.0.1", "127.0.0.1", -1 },
        { "127.0.0.1:11311", "127.0.0.1", 11311 },
        { "localhost", "localhost", -1 },
        { "my-host.example_1:0", "my-host.example_1", 0 },
        { "[::1]", "::1", -1 },
        { "[::1]:11311", "::1", 11311 },
        { "::1", "::1", -1 },
        { "2001:db8::7", "2001:db8::7", -1 },
        { "::ffff:10.0.0.1", "::ffff:10.0.0.1", -1 },
        { "fe80::1%eth0", "fe80::1%eth0", -1 },
        { "[fe80::1%eth0]:65535", "fe80::1%eth0", 65535 },
        { "*", "", -1 },
        { "*:11311", "", 11311 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct settings s = PARSE_OK("-l", cases[i].arg);
        assert_int_equal(s.nlisten, 1);
        assert_string_equal(s.listen[0].host, cases[i].host);
        assert_int_equal(s.listen[0].port, cases[i].port);
    }
    struct settings s = PARSE_OK("--listen=[::1]:5");
    assert_int_equal(s.nlisten, 1);
    assert_string_equal(s.listen[0].host, "::1");
    assert_int_equal(s.listen[0].port, 5);
}

static void test_listen_lists_and_repeats(void **state)
{
    (void)state;
    struct settings s = PARSE_OK("-l", "10.0.0.1,[::1]:7;localhost:8",
                                 "-l", "10.0.0.2", "--listen=*");
    assert_int_equal(s.nlisten, 5);
    static const struct listen_case expected[] = {
        { NULL, "10.0.0.1", -1 }, { NULL, "::1", 7 }, { NULL, "localhost", 8 },
        { NULL, "10.0.0.2", -1 }, { NULL, "", -1 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        assert_string_equal(s.listen[i].host, expected[i].host);
        assert_int_equal(s.listen[i].port, expected[i].port);
    }
    /* the same address twice is kept once; another port is another entry */
    s = PARSE_OK("-l", "10.0.0.1,10.0.0.1", "-l", "10.0.0.1", "-l", "10.0.0.1:5");
    assert_int_equal(s.nlisten, 2);
    assert_int_equal(s.listen[1].port, 5);
}

static void test_listen_at_most_sixteen(void **state)
{
    (void)state;
    char list[512] = "";
    for (int i = 1; i <= SETTINGS_MAX_LISTEN; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s10.0.0.%d",
                 i > 1 ? "," : "", i);
    assert_int_equal(PARSE_OK("-l", list, "-l", "10.0.0.1").nlisten,
                     SETTINGS_MAX_LISTEN);
    EXPECT_REFUSED(ARGS("-l", list, "-l", "10.0.0.99"),
                   "-l/--listen", "'10.0.0.99'", "too many", "16");
}

static void test_listen_malformed(void **state)
{
    (void)state;
    static const char long_host[] =
        "a123456789a123456789a123456789a123456789a123456789a123456789"
        "a123456789a123456789a123456789a123456789a123456789a123456789"
        "a123456789a123456789a123456789a123456789a123456789a123456789"
        "a123456789a123456789a123456789a123456789a123456789a123456789"
        "a123456789a123456789a123456789a123456789a123456789a123456789";
    static const struct refusal cases[] = {
        { { "-l", "[::1" }, { "-l/--listen", "'[::1'", "missing ']'" } },
        { { "-l", "[::1]x" }, { "'[::1]x'", "':port'" } },
        { { "-l", "[::1]:" }, { "'[::1]:'", "port" } },
        { { "-l", "1.2.3.4:" }, { "'1.2.3.4:'", "port" } },
        { { "-l", "1.2.3.4:abc" }, { "'1.2.3.4:abc'", "port", "0 to 65535" } },
        { { "-l", "1.2.3.4:65536" }, { "'1.2.3.4:65536'", "port" } },
        { { "-l", "1.2.3.4:-1" }, { "'1.2.3.4:-1'", "port" } },
        { { "-l", "" }, { "-l/--listen", "empty" } },
        { { "-l", "a,,b" }, { "-l/--listen", "empty" } },
        { { "-l", "a," }, { "-l/--listen", "empty" } },
        { { "-l", ":11211" }, { "':11211'", "not a host" } },
        { { "-l", "::1:11211" }, { "'::1:11211'", "not a host" } },
        { { "-l", "1::2::3" }, { "'1::2::3'", "not a host" } },
        { { "-l", "[1.2.3.4]" }, { "'[1.2.3.4]'", "not a host" } },
        { { "-l", "[]:5" }, { "'[]:5'", "not a host" } },
        { { "-l", "[fe80::1%]" }, { "not a host" } },
        { { "-l", "bad host" }, { "'bad host'", "not a host" } },
        { { "-l", "proto[ascii]:1.2.3.4:11211" }, { "not a host" } },
        { { "-l", "tag[x]:1.2.3.4" }, { "not a host" } },
        { { "--listen", long_host }, { "-l/--listen", "too long" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_xdp_switch_and_mode(void **state)
{
    (void)state;
    assert_false(PARSE_OK("--xdp=off").xdp);
    assert_false(PARSE_OK("--xdp", "off").xdp);
    assert_true(PARSE_OK("--xdp", "off", "--xdp=on").xdp);
    assert_int_equal(PARSE_OK("--xdp-mode=native").xdp_mode, SETTINGS_XDP_NATIVE);
    assert_int_equal(PARSE_OK("--xdp-mode", "generic").xdp_mode, SETTINGS_XDP_GENERIC);
    assert_int_equal(PARSE_OK("--xdp-mode=native", "--xdp-mode=auto").xdp_mode,
                     SETTINGS_XDP_AUTO);
    static const struct refusal cases[] = {
        { { "--xdp=yes" }, { "xdpcached: --xdp 'yes': must be on or off" } },
        { { "--xdp", "ON" }, { "--xdp 'ON'", "on or off" } },
        { { "--xdp=" }, { "--xdp ''", "on or off" } },
        { { "--xdp" }, { "xdpcached: --xdp: missing value" } },
        { { "--xdp-mode=drv" }, { "--xdp-mode 'drv'", "native, generic or auto" } },
        { { "--xdp-mode", "skb" }, { "--xdp-mode 'skb'", "native, generic or auto" } },
        { { "--xdp-mode" }, { "--xdp-mode: missing value" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_xdp_ifaces(void **state)
{
    (void)state;
    struct settings s = PARSE_OK("--xdp-iface", "eth0", "--xdp-iface=lo",
                                 "--xdp-iface", "eth0", "--xdp-iface=enp3s0f1.100");
    assert_int_equal(s.nxdp_ifaces, 3);
    assert_string_equal(s.xdp_ifaces[0], "eth0");
    assert_string_equal(s.xdp_ifaces[1], "lo");
    assert_string_equal(s.xdp_ifaces[2], "enp3s0f1.100");
    /* the longest name the kernel takes: 15 bytes */
    assert_string_equal(PARSE_OK("--xdp-iface=abcdefghijklmno").xdp_ifaces[0],
                        "abcdefghijklmno");
    static const struct refusal cases[] = {
        { { "--xdp-iface=" }, { "xdpcached: --xdp-iface '': not an interface name" } },
        { { "--xdp-iface", "eth/0" }, { "'eth/0'", "not an interface name" } },
        { { "--xdp-iface", "eth0:1" }, { "'eth0:1'", "not an interface name" } },
        { { "--xdp-iface", "eth 0" }, { "'eth 0'", "not an interface name" } },
        { { "--xdp-iface", "." }, { "not an interface name" } },
        { { "--xdp-iface", ".." }, { "not an interface name" } },
        { { "--xdp-iface", "abcdefghijklmnop" }, { "'abcdefghijklmnop'", "at most 15 bytes" } },
        { { "--xdp-iface" }, { "--xdp-iface: missing value" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_xdp_ifaces_at_most_sixteen(void **state)
{
    (void)state;
    char names[SETTINGS_MAX_XDP_IFACES + 1][32];
    const char *args[SETTINGS_MAX_XDP_IFACES + 2];
    for (int i = 0; i <= SETTINGS_MAX_XDP_IFACES; i++) {
        snprintf(names[i], sizeof names[i], "--xdp-iface=veth%d", i);
        args[i] = names[i];
    }
    args[SETTINGS_MAX_XDP_IFACES] = NULL;
    struct settings s = parse_ok_(args, __FILE__, __LINE__);
    assert_int_equal(s.nxdp_ifaces, SETTINGS_MAX_XDP_IFACES);
    assert_string_equal(s.xdp_ifaces[SETTINGS_MAX_XDP_IFACES - 1], "veth15");
    args[SETTINGS_MAX_XDP_IFACES] = names[SETTINGS_MAX_XDP_IFACES];
    args[SETTINGS_MAX_XDP_IFACES + 1] = NULL;
    EXPECT_REFUSED(args, "--xdp-iface 'veth16'", "too many interfaces (at most 16)");
}

/* A key count, as given; the fast path sizes its buckets from it. */
static void test_xdp_entries(void **state)
{
    (void)state;
    static const char *const counts[] = { "1", "5", "100", "16385", "1000000", "16777216" };
    for (size_t i = 0; i < ARRAY_SIZE(counts); i++)
        assert_int_equal(PARSE_OK("--xdp-entries", counts[i]).xdp_entries,
                         (unsigned)atoi(counts[i]));
    assert_int_equal(PARSE_OK("--xdp-entries=32").xdp_entries, 32);
    static const struct refusal refused[] = {
        { { "--xdp-entries=0" }, { "xdpcached: --xdp-entries '0': must be between 1 and 16777216" } },
        { { "--xdp-entries=16777217" }, { "'16777217'", "between 1 and 16777216" } },
        { { "--xdp-entries=-4" }, { "between 1 and 16777216" } },
        { { "--xdp-entries=16k" }, { "'16k'", "not a number" } },
        { { "--xdp-entries=" }, { "--xdp-entries", "not a number" } },
    };
    EXPECT_ALL_REFUSED(refused);
}

static void test_xdp_memory(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("--xdp-memory", "1").xdp_memory, 1 << 20);
    assert_int_equal(PARSE_OK("--xdp-memory=512").xdp_memory, (size_t)512 << 20);
    static const struct refusal refused[] = {
        { { "--xdp-memory=0" }, { "xdpcached: --xdp-memory '0': must be between 1 and 65536" } },
        { { "--xdp-memory=65537" }, { "between 1 and 65536" } },
        { { "--xdp-memory=1g" }, { "'1g'", "not a number" } },
    };
    EXPECT_ALL_REFUSED(refused);
}

static void test_xdp_max_value(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("--xdp-max-value=0").xdp_max_value, 0);
    assert_int_equal(PARSE_OK("--xdp-max-value", "100").xdp_max_value, 100);
    assert_int_equal(PARSE_OK("--xdp-max-value=1369").xdp_max_value, 1369);
    static const struct refusal cases[] = {
        { { "--xdp-max-value=1370" }, { "xdpcached: --xdp-max-value '1370': must be between 0 and 1369" } },
        { { "--xdp-max-value=-1" }, { "between 0 and 1369" } },
        { { "--xdp-max-value=1k" }, { "'1k'", "not a number" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_udp_allow(void **state)
{
    (void)state;
    struct settings s = PARSE_OK("--udp-allow", "10.0.0.0/8,2001:db8::/32",
                                 "--udp-allow=192.0.2.7,10.0.0.0/8");
    assert_true(s.udp_allow_given);
    assert_int_equal(s.udp_allow.n, 3);
    char text[ALLOW_TEXT_MAX];
    allow_format(&s.udp_allow.nets[0], text);
    assert_string_equal(text, "10.0.0.0/8");
    allow_format(&s.udp_allow.nets[1], text);
    assert_string_equal(text, "2001:db8::/32");
    allow_format(&s.udp_allow.nets[2], text);
    assert_string_equal(text, "192.0.2.7/32");
    static const struct refusal cases[] = {
        { { "--udp-allow=" }, { "xdpcached: --udp-allow '': empty network in the list" } },
        { { "--udp-allow=10.0.0.0/8," }, { "--udp-allow ''", "empty network" } },
        { { "--udp-allow=10.0.0.0/8,,::1" }, { "empty network" } },
        { { "--udp-allow=10.0.0.0/33" }, { "'10.0.0.0/33'", "from 0 to 32" } },
        { { "--udp-allow=10.1.2.3/8" }, { "'10.1.2.3/8'", "the network is 10.0.0.0/8" } },
        { { "--udp-allow", "localhost" }, { "'localhost'", "not an IPv4 or IPv6 address" } },
        { { "--udp-allow", "10.0.0.0/8 ::1" }, { "'10.0.0.0/8 ::1'", "prefix length" } },
        { { "--udp-allow", "::1 10.0.0.0/8" }, { "'::1 10.0.0.0/8'", "not an IPv4" } },
        { { "--udp-allow" }, { "--udp-allow: missing value" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_suboption_switches(void **state)
{
    (void)state;
    assert_false(PARSE_OK("-o", "no_maxconns_fast").maxconns_fast);
    assert_true(PARSE_OK("-o", "no_maxconns_fast,maxconns_fast").maxconns_fast);
    assert_false(PARSE_OK("-o", "no_lru_crawler").lru_crawler);
    assert_true(PARSE_OK("-o", "no_lru_crawler", "-o", "lru_crawler").lru_crawler);
    assert_false(PARSE_OK("--extended=no_lru_crawler").lru_crawler);
    struct settings s = PARSE_OK("-o", "no_maxconns_fast", "-o", "no_lru_crawler");
    assert_false(s.maxconns_fast);
    assert_false(s.lru_crawler);
}

static void test_suboption_numbers(void **state)
{
    (void)state;
    assert_int_equal(PARSE_OK("-o", "hashpower=12").hashpower_init, 12);
    assert_int_equal(PARSE_OK("-o", "hashpower=32").hashpower_init, 32);
    assert_int_equal(PARSE_OK("-o", "idle_timeout=0").idle_timeout, 0);
    assert_int_equal(PARSE_OK("-o", "idle_timeout=30").idle_timeout, 30);
    assert_int_equal(PARSE_OK("-o", "idle_timeout=2147483647").idle_timeout,
                     2147483647u);
    struct settings s = PARSE_OK("--extended=hashpower=16,idle_timeout=5,"
                                 "no_lru_crawler");
    assert_int_equal(s.hashpower_init, 16);
    assert_int_equal(s.idle_timeout, 5);
    assert_false(s.lru_crawler);
}

static void test_suboption_bad_values(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { { "-o", "hashpower=11" }, { "-o/--extended", "'hashpower=11'", "between 12 and 32" } },
        { { "-o", "hashpower=33" }, { "'hashpower=33'", "between 12 and 32" } },
        { { "-o", "hashpower=-1" }, { "'hashpower=-1'", "between 12 and 32" } },
        { { "-o", "hashpower=abc" }, { "'hashpower=abc'", "not a number" } },
        { { "-o", "hashpower=" }, { "'hashpower='", "not a number" } },
        { { "-o", "hashpower" }, { "'hashpower'", "needs a value" } },
        { { "-o", "idle_timeout=-1" }, { "'idle_timeout=-1'", "at least 0" } },
        { { "-o", "idle_timeout=2147483648" }, { "between 0 and 2147483647" } },
        { { "-o", "idle_timeout=5s" }, { "'idle_timeout=5s'", "not a number" } },
        { { "-o", "idle_timeout" }, { "'idle_timeout'", "needs a value" } },
        { { "-o", "lru_crawler=1" }, { "'lru_crawler=1'", "takes no value" } },
        { { "-o", "no_maxconns_fast=0" }, { "takes no value" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

static void test_suboption_unknown_or_unsupported(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { { "-o", "bogus" }, { "-o/--extended", "Illegal suboption \"bogus\"" } },
        { { "-o", "hashpower=20,bogus=1" }, { "Illegal suboption \"bogus=1\"" } },
        { { "-o", "" }, { "Illegal suboption \"\"" } },
        { { "-o", "lru_crawler,,no_lru_crawler" }, { "Illegal suboption \"\"" } },
        { { "-o", "maxconns_fastX" }, { "Illegal suboption" } },
        { { "-o", "ext_path=/tmp/x:1G" }, { "does not support" } },
        { { "-o", "ssl_key=/k" }, { "does not support" } },
        { { "--extended=proxy_config=x" }, { "does not support" } },
        { { "-o", "sock_cookie_id=5" }, { "does not support" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

/* Parses args, which must be accepted with one notice line per expected
 * fragment, each on its own line and in order. */
static void expect_notices_(const char *const *args, const char *const *notices,
                            const char *file, int line)
{
    static struct outcome o;
    run_parse(&o, args);
    if (o.rc != -1 || o.out[0] != '\0')
        fail_at(file, line, args, &o, "expected to run");
    const char *next = o.err;
    for (const char *const *n = notices; *n; n++) {
        const char *end = strchr(next, '\n');
        if (end == NULL || strncmp(next, "xdpcached: notice: ", 19) != 0 ||
            strstr(next, *n) == NULL || strstr(next, *n) > end)
            fail_at(file, line, args, &o, *n);
        next = end + 1;
    }
    if (*next != '\0')
        fail_at(file, line, args, &o, "more lines than notices");
}
#define EXPECT_NOTICES(args, ...) \
    expect_notices_(args, ARGS(__VA_ARGS__), __FILE__, __LINE__)

/* memcached's command lines start it: its internals' tuning is accepted
 * with one notice line each, and changes nothing. */
static void test_memcached_internals_accepted_with_notice(void **state)
{
    (void)state;
    EXPECT_NOTICES(ARGS("-o", "modern"), "-o 'modern' tunes a memcached internal");
    EXPECT_NOTICES(ARGS("-o", "no_modern,slab_chunk_max=524288,slab_reassign,"
                        "slab_automove=1,lru_maintainer,hash_algorithm=murmur3,"
                        "read_buf_mem_limit=0,idle_timeout=5"),
                   "'no_modern'", "'slab_chunk_max=524288'", "'slab_reassign'",
                   "'slab_automove=1'", "'lru_maintainer'",
                   "'hash_algorithm=murmur3'", "'read_buf_mem_limit=0'");
    EXPECT_NOTICES(ARGS("-f", "1.1", "--slab-min-size=32", "-L", "-N", "4"),
                   "-f/--slab-growth-factor", "-n/--slab-min-size",
                   "-L/--enable-largepages", "-N/--napi-ids");
    struct outcome o;
    struct settings defaults;
    settings_init(&defaults);
    run_parse(&o, ARGS("-o", "modern,lru_crawler_sleep=10,hot_lru_pct=20", "-f", "2"));
    assert_int_equal(o.rc, -1);
    assert_memory_equal(&o.s, &defaults, sizeof defaults);
    run_parse(&o, ARGS("-o", "modern,idle_timeout=5"));
    assert_int_equal(o.s.idle_timeout, 5);
}

static void test_memcached_flags_implemented(void **state)
{
    (void)state;
    struct settings d;
    settings_init(&d);
    assert_false(d.daemonize);
    assert_false(d.enable_coredumps);
    assert_false(d.lock_memory);
    assert_true(d.dump_enabled);
    assert_int_equal(d.protocol, SETTINGS_PROTOCOL_AUTO);
    assert_int_equal(d.prefix_delimiter, ':');
    assert_false(d.detail_enabled);
    assert_true(PARSE_OK("-d").daemonize);
    assert_true(PARSE_OK("--daemon").daemonize);
    assert_true(PARSE_OK("-r").enable_coredumps);
    assert_true(PARSE_OK("--enable-coredumps").enable_coredumps);
    assert_true(PARSE_OK("-k").lock_memory);
    assert_true(PARSE_OK("--lock-memory").lock_memory);
    assert_false(PARSE_OK("-X").dump_enabled);
    assert_false(PARSE_OK("--disable-dumping").dump_enabled);
    assert_int_equal(PARSE_OK("-B", "ascii").protocol, SETTINGS_PROTOCOL_ASCII);
    assert_int_equal(PARSE_OK("--protocol=binary").protocol, SETTINGS_PROTOCOL_BINARY);
    assert_int_equal(PARSE_OK("-B", "auto").protocol, SETTINGS_PROTOCOL_AUTO);
    struct settings s = PARSE_OK("-D", "#");
    assert_int_equal(s.prefix_delimiter, '#');
    assert_true(s.detail_enabled);
    expect_refused_(ARGS("-B", "text"), ARGS("-B/--protocol 'text'",
                    "one of auto, binary, or ascii"), RC_USAGE, __FILE__, __LINE__);
    EXPECT_REFUSED(ARGS("-D", "ab"), "-D 'ab'", "one character");
    EXPECT_REFUSED(ARGS("-D", " "), "one character");
}

static void test_metrics_listen(void **state)
{
    (void)state;
    struct settings d;
    settings_init(&d);
    assert_int_equal(d.metrics_listen.port, -1);
    struct settings s = PARSE_OK("--metrics-listen=127.0.0.1:9150");
    assert_string_equal(s.metrics_listen.host, "127.0.0.1");
    assert_int_equal(s.metrics_listen.port, 9150);
    s = PARSE_OK("--metrics-listen", "[::1]:9151");
    assert_string_equal(s.metrics_listen.host, "::1");
    assert_int_equal(s.metrics_listen.port, 9151);
    s = PARSE_OK("--metrics-listen", "*:9152");
    assert_string_equal(s.metrics_listen.host, "");
    EXPECT_REFUSED(ARGS("--metrics-listen=127.0.0.1"), "--metrics-listen",
                   "needs a port");
    EXPECT_REFUSED(ARGS("--metrics-listen=127.0.0.1:0"), "needs a port");
    EXPECT_REFUSED(ARGS("--metrics-listen=a b:1"), "--metrics-listen 'a b:1'");
}

static void test_cpu_list(void **state)
{
    (void)state;
    struct settings s = PARSE_OK("--cpu-list=2-4,7");
    assert_int_equal(s.ncpus, 4);
    assert_int_equal(s.num_threads, 4);
    assert_int_equal(s.cpus[0], 2);
    assert_int_equal(s.cpus[2], 4);
    assert_int_equal(s.cpus[3], 7);
    s = PARSE_OK("--cpu-list", "0", "-t", "1");
    assert_int_equal(s.num_threads, 1);
    assert_int_equal(s.cpus[0], 0);
    static const struct refusal cases[] = {
        { { "--cpu-list=4-2" }, { "--cpu-list '4-2'", "ends before it starts" } },
        { { "--cpu-list=a" }, { "--cpu-list 'a'", "not a number" } },
        { { "--cpu-list=1,,2" }, { "not a number" } },
        { { "--cpu-list=1024" }, { "between 0 and 1023" } },
        { { "--cpu-list=-1" }, { "not a number" } },
    };
    EXPECT_ALL_REFUSED(cases);
    expect_refused_(ARGS("--cpu-list=0-1", "-t", "3"), ARGS("-t/--threads 3",
                    "2 CPUs"), RC_USAGE, __FILE__, __LINE__);
}

static void test_command_line_mistakes(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { { "-x" }, { "unknown option -x" } },
        { { "-vx" }, { "unknown option -x" } },
        { { "--bogus" }, { "'--bogus'" } },
        { { "--bogus=1" }, { "'--bogus=1'" } },
        { { "--disable" }, { "ambiguous", "'--disable'" } },
        { { "-p" }, { "-p/--port", "missing value" } },
        { { "--port" }, { "-p/--port", "missing value" } },
        { { "-vl" }, { "-l/--listen", "missing value" } },
        { { "--help=1" }, { "-h/--help", "takes no value" } },
        { { "--disable-cas=yes" }, { "-C/--disable-cas", "takes no value" } },
        { { "foo" }, { "unexpected argument 'foo'" } },
        { { "-p", "1", "foo" }, { "unexpected argument 'foo'" } },
        { { "--", "-p" }, { "unexpected argument '-p'" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

/* getopt's own messages would go to the process's stderr rather than err:
 * nothing may reach file descriptor 2. */
static void test_nothing_written_to_stderr(void **state)
{
    (void)state;
    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(capture), STDERR_FILENO), STDERR_FILENO);
    struct outcome o;
    run_parse(&o, ARGS("-x"));
    run_parse(&o, ARGS("--bogus"));
    run_parse(&o, ARGS("-p"));
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    assert_int_equal(ftell(capture), 0);
    fclose(capture);
}

static void test_memcached_only_flags_refused_by_name(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { { "-S" }, { "-S/--enable-sasl", "SASL" } },
        { { "-e", "/dev/shm/x" }, { "-e/--memory-file", "does not support" } },
        { { "-Z" }, { "-Z/--enable-ssl", "does not support", "TLS" } },
        { { "-i" }, { "-i/--license", "does not support" } },
    };
    EXPECT_ALL_REFUSED(cases);
}

/* The help lists every flag and sub-option we take, with the defaults the
 * code really uses, and none that we refuse. */
/* Writes text to a temporary file; returns its path (static storage). */
static const char *write_config(const char *text)
{
    static char path[] = "/tmp/xdpcached-test-conf-XXXXXX";
    strcpy(path + strlen(path) - 6, "XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* memcached.conf's format: flags one per line, comments, Debian's logfile
 * directive skipped; the command line's flags come after the file's. */
static void test_config_file(void **state)
{
    (void)state;
    const char *path = write_config(
        "# memcached.conf\n"
        "-m 128\n"
        "logfile /var/log/memcached.log\n"
        "  -p 11311   # the port\n"
        "\n"
        "-l 127.0.0.1\n"
        "-u memcache\n"
        "-o modern\n"
        "-vv");
    char arg[256];
    snprintf(arg, sizeof arg, "--config-file=%s", path);
    struct outcome o;
    run_parse(&o, ARGS("-t", "3", arg, "-p", "5555"));
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.s.maxbytes, 128 * MB);
    assert_int_equal(o.s.port, 5555);
    assert_int_equal(o.s.num_threads, 3);
    assert_int_equal(o.s.verbose, 2);
    assert_string_equal(o.s.listen[0].host, "127.0.0.1");
    assert_string_equal(o.s.username, "memcache");
    assert_non_null(strstr(o.err, "'modern'"));
    settings_release(&o.s);
    run_parse(&o, ARGS("--config-file", path));
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.s.port, 11311);
    settings_release(&o.s);
    unlink(path);

    path = write_config("-m 64\n-p bogus\n");
    run_parse(&o, ARGS("--config-file", path));
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "-p/--port 'bogus': not a number"));
    settings_release(&o.s);
    unlink(path);

    path = write_config("--config-file=/etc/other.conf\n");
    run_parse(&o, ARGS("--config-file", path));
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "only on the command line"));
    settings_release(&o.s);
    unlink(path);

    run_parse(&o, ARGS("--config-file=/nonexistent/xdpcached.conf"));
    assert_int_equal(o.rc, 1);
    assert_non_null(strstr(o.err, "'/nonexistent/xdpcached.conf': No such file"));
    EXPECT_REFUSED(ARGS("--config=/x"), "--config-file", "spelled in full");
}

static void test_help(void **state)
{
    (void)state;
    static const char *const listed[] = {
        "-p, --port=<num>", "-U, --udp-port=<num>", "-l, --listen=<addr>",
        "-m, --memory-limit=<num>", "-c, --conn-limit=<num>",
        "-t, --threads=<num>", "-C, --disable-cas", "-I, --max-item-size=<num>",
        "-M, --disable-evictions", "-R, --max-reqs-per-event=<num>",
        "-b, --listen-backlog=<num>", "-v, --verbose", "-u, --user=<user>",
        "-V, --version", "-h, --help", "-F, --disable-flush-all",
        "-A, --enable-shutdown", "-o, --extended=<opts>", "-P, --pidfile=<file>",
        "- maxconns_fast:", "- no_maxconns_fast:", "- hashpower=<num>:",
        "- idle_timeout=<num>:", "- lru_crawler:", "- no_lru_crawler:",
        "-d, --daemon", "-r, --enable-coredumps", "-k, --lock-memory",
        "-B, --protocol=<name>", "-X, --disable-dumping", "-D <char>",
        "    --metrics-listen=<addr:port>", "    --cpu-list=<cpus>",
        "    --config-file=<file>",
        "-f, -n, -L, -N", "-s, --unix-socket=<file>", "-a, --unix-mask=<mask>", "-Y, --auth-file=<file>", "-W, --disable-watch", "Refused: -i, -S, -e, -Z",
        "min: 1k, max: 1024m", "12 to 32",
        "    --xdp=<on|off>", "    --xdp-iface=<if>", "    --xdp-mode=<mode>",
        "    --xdp-entries=<num>", "    --xdp-memory=<mb>", "    --xdp-max-value=<bytes>",
        "    --udp-allow=<cidrs>", "keys the fast-path cache holds",
        "max: 1369", "127.0.0.0/8, ::1", "subnets of the --xdp-iface",
        "(default: auto)", "(default: none, no fast path)",
    };
    struct settings d;
    settings_init(&d);
    char defaults[10][64];
    snprintf(defaults[0], 64, "TCP port to listen on (default: %d,", d.port);
    snprintf(defaults[1], 64, "UDP port to listen on (default: %d,", d.udpport);
    snprintf(defaults[2], 64, "megabytes (default: %zu)", d.maxbytes / MB);
    snprintf(defaults[3], 64, "connections (default: %d)", d.maxconns);
    snprintf(defaults[4], 64, "threads (default: %d,", d.num_threads);
    snprintf(defaults[5], 64, "starvation (default: %d)", d.reqs_per_event);
    snprintf(defaults[6], 64, "limit (default: %d)", d.backlog);
    snprintf(defaults[7], 64, "(default: %zum,", d.item_size_max / MB);
    snprintf(defaults[8], 64, "(default: %u,\n", d.xdp_entries);
    snprintf(defaults[9], 64, "(default: %zu, max", d.xdp_max_value);

    for (int form = 0; form < 2; form++) {
        struct outcome o;
        run_parse(&o, form ? ARGS("--help", "-x") : ARGS("-h"));
        assert_int_equal(o.rc, 0);
        assert_string_equal(o.err, "");
        assert_memory_equal(o.out, "xdpcached " XDPCACHED_VERSION "\n",
                            strlen("xdpcached " XDPCACHED_VERSION "\n"));
        for (size_t i = 0; i < ARRAY_SIZE(listed); i++)
            if (strstr(o.out, listed[i]) == NULL)
                fail_msg("-h lacks '%s'", listed[i]);
        for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
            if (strstr(o.out, defaults[i]) == NULL)
                fail_msg("-h lacks '%s'", defaults[i]);
        assert_null(strstr(o.out, "--slab-growth-factor"));
    }
}

static void test_version(void **state)
{
    (void)state;
    struct outcome o;
    run_parse(&o, ARGS("-V"));
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "xdpcached " XDPCACHED_VERSION "\n");
    assert_string_equal(o.err, "");
    run_parse(&o, ARGS("-p", "1", "--version", "-x"));
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.out, "xdpcached " XDPCACHED_VERSION "\n");
    /* a mistake before -V is still reported */
    EXPECT_REFUSED(ARGS("-x", "-V"), "unknown option -x");
}

/* getopt keeps state between calls; each parse must start afresh, even
 * after one that stopped in the middle of "-vx". */
static void test_parses_are_independent(void **state)
{
    (void)state;
    EXPECT_REFUSED(ARGS("-vxv"), "unknown option -x");
    struct settings s = PARSE_OK("-p", "5");
    assert_int_equal(s.port, 5);
    assert_int_equal(s.verbose, 0);
    assert_int_equal(PARSE_OK("-vv").verbose, 2);
}

/* A stats sink that keeps "name value" lines. */
struct recorder {
    struct stats_sink sink;     /* first, so emit can get back the recorder */
    char lines[40][1024];
    int count;
};

static void record_line(struct stats_sink *sink, const char *name,
                        const char *value)
{
    struct recorder *r = (struct recorder *)sink;
    assert_true(r->count < (int)ARRAY_SIZE(r->lines));
    snprintf(r->lines[r->count++], sizeof r->lines[0], "%s %s", name, value);
}

static void expect_report(const struct settings *s,
                          const char *const *expected, size_t n)
{
    static struct recorder r;
    memset(&r, 0, sizeof r);
    r.sink.emit = record_line;
    settings_report(s, &(struct settings_now){ s->maxbytes, s->lru_crawler }, &r.sink);
    for (size_t i = 0; i < n && i < (size_t)r.count; i++)
        assert_string_equal(r.lines[i], expected[i]);
    assert_int_equal(r.count, n);
}

static void test_report_defaults(void **state)
{
    (void)state;
    /* memcached 1.6.18's `stats settings` values for the same settings */
    static const char *const expected[] = {
        "maxbytes 67108864", "maxconns 1024", "tcpport 11211", "udpport 0",
        "inter NULL", "verbosity 0", "evictions on", "domain_socket NULL",
        "umask 700", "shutdown_command no", "num_threads 4", "stat_key_prefix :",
        "detail_enabled no", "reqs_per_event 20", "cas_enabled yes",
        "tcp_backlog 1024", "binding_protocol auto-negotiate",
        "auth_enabled_sasl no", "auth_enabled_ascii no",
        "item_size_max 1048576", "maxconns_fast yes",
        "hashpower_init 0", "lru_crawler yes", "flush_enabled yes",
        "dump_enabled yes", "idle_timeout 0", "watcher_logbuf_size 262144",
    };
    struct settings s;
    settings_init(&s);
    expect_report(&s, expected, ARRAY_SIZE(expected));
}

static void test_report_after_flags(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "maxbytes 134217728", "maxconns 10", "tcpport 1234", "udpport 4321",
        "inter 127.0.0.1,[::1]:11311,*:7,[fe80::1%eth0]", "verbosity 2",
        "evictions off", "domain_socket /run/mc.sock", "umask 640", "shutdown_command yes",
        "num_threads 8", "stat_key_prefix #", "detail_enabled yes",
        "reqs_per_event 5", "cas_enabled no", "tcp_backlog 64",
        "binding_protocol ascii", "auth_enabled_sasl no", "auth_enabled_ascii no",
        "item_size_max 2097152",
        "maxconns_fast no", "hashpower_init 20", "lru_crawler no",
        "flush_enabled no", "dump_enabled no", "idle_timeout 600",
        "watcher_logbuf_size 8192",
    };
    struct settings s = PARSE_OK(
        "-m", "128", "-c", "10", "-p", "1234", "-U", "4321",
        "-l", "127.0.0.1,[::1]:11311", "-l", "*:7;fe80::1%eth0", "-vv", "-M",
        "-A", "-t", "8", "-R", "5", "-C", "-b", "64", "-I", "2m", "-F",
        "-D", "#", "-B", "ascii", "-X", "-s", "/run/mc.sock", "-a", "640",
        "-o", "no_maxconns_fast,hashpower=20,no_lru_crawler,idle_timeout=600,"
        "watcher_logbuf_size=8");
    expect_report(&s, expected, ARRAY_SIZE(expected));
}

/* Sixteen long host names: the inter line must come out whole. */
static void test_report_long_listen_list(void **state)
{
    (void)state;
    char list[2048] = "", line[2048] = "inter ";
    for (int i = 0; i < SETTINGS_MAX_LISTEN; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list),
                 "%scache-%02d.example.internal:%d", i ? "," : "", i, 11211 + i);
    strcat(line, list);
    struct settings s = PARSE_OK("-l", list);
    static struct recorder r;
    memset(&r, 0, sizeof r);
    r.sink.emit = record_line;
    settings_report(&s, &(struct settings_now){ s.maxbytes, s.lru_crawler }, &r.sink);
    assert_string_equal(r.lines[4], line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_memcached_defaults),
        cmocka_unit_test(test_no_arguments_keep_defaults),
        cmocka_unit_test(test_numeric_flags_short_and_long),
        cmocka_unit_test(test_switch_flags_short_and_long),
        cmocka_unit_test(test_verbose_counts_repeats),
        cmocka_unit_test(test_user_and_pidfile_are_stored),
        cmocka_unit_test(test_item_size_suffixes),
        cmocka_unit_test(test_item_size_limits),
        cmocka_unit_test(test_item_size_at_most_half_the_memory),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_bad_numbers_refused_for_every_flag),
        cmocka_unit_test(test_many_threads_warn_but_run),
        cmocka_unit_test(test_udp_port_without_tcp_port),
        cmocka_unit_test(test_listen_entry_forms),
        cmocka_unit_test(test_listen_lists_and_repeats),
        cmocka_unit_test(test_listen_at_most_sixteen),
        cmocka_unit_test(test_listen_malformed),
        cmocka_unit_test(test_xdp_switch_and_mode),
        cmocka_unit_test(test_xdp_ifaces),
        cmocka_unit_test(test_xdp_ifaces_at_most_sixteen),
        cmocka_unit_test(test_xdp_entries),
        cmocka_unit_test(test_xdp_memory),
        cmocka_unit_test(test_xdp_max_value),
        cmocka_unit_test(test_udp_allow),
        cmocka_unit_test(test_suboption_switches),
        cmocka_unit_test(test_suboption_numbers),
        cmocka_unit_test(test_suboption_bad_values),
        cmocka_unit_test(test_suboption_unknown_or_unsupported),
        cmocka_unit_test(test_command_line_mistakes),
        cmocka_unit_test(test_nothing_written_to_stderr),
        cmocka_unit_test(test_memcached_only_flags_refused_by_name),
        cmocka_unit_test(test_unix_socket_and_mask),
        cmocka_unit_test(test_auth_file),
        cmocka_unit_test(test_memcached_internals_accepted_with_notice),
        cmocka_unit_test(test_memcached_flags_implemented),
        cmocka_unit_test(test_metrics_listen),
        cmocka_unit_test(test_cpu_list),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_parses_are_independent),
        cmocka_unit_test(test_report_defaults),
        cmocka_unit_test(test_report_after_flags),
        cmocka_unit_test(test_report_long_listen_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
