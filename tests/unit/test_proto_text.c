/* Unit tests of the text protocol: request bytes in, reply bytes out, with a
 * real store and no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "proto_text.h"
#include "wire.h"
#include "test_server.h"

struct fixture {
    struct test_server srv;
    struct test_conn conn;
    int shutdowns;
};

static struct fixture *current;

static void count_shutdown(void)
{
    current->shutdowns++;
}

/* A new empty store and a new connection to it. */
static void fresh_connection(struct fixture *f)
{
    assert_true(test_server_new_store(&f->srv));
    test_conn_destroy(&f->conn);
    test_conn_init(&f->conn, &f->srv);
}

static int setup_with(void **state, void (*adjust)(struct settings *))
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_true(test_server_init(&f->srv));
    f->srv.env.shutdown = count_shutdown;
    if (adjust)
        adjust(&f->srv.settings);
    current = f;
    *state = f;
    fresh_connection(f);
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_server_destroy(&f->srv);
    test_conn_destroy(&f->conn);
    free(f);
    return 0;
}

static void expect(struct fixture *f, const char *requests, const char *replies)
{
    char *got = test_conn_exchange(&f->conn, requests);
    assert_string_equal(got, replies);
    free(got);
}

static void test_set_then_get(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 5 0 3\r\nabc\r\n", "STORED\r\n");
    expect(f, "get k\r\n", "VALUE k 5 3\r\nabc\r\nEND\r\n");
    expect(f, "get missing\r\n", "END\r\n");
}

static void test_bare_newlines_and_pipelining(void **state)
{
    struct fixture *f = *state;
    expect(f, "set a 0 0 1\na\r\nset b 0 0 1\r\nb\r\nget a b\n",
           "STORED\r\nSTORED\r\nVALUE a 0 1\r\na\r\nVALUE b 0 1\r\nb\r\nEND\r\n");
}

static void test_byte_by_byte_equals_whole(void **state)
{
    struct fixture *f = *state;
    const char *stream = "set k 1 0 4\r\nv\r\nx\r\nappend k 0 0 2\r\nyz\r\nget k\r\n"
                         "incr n 1\r\nbogus\r\ndelete k\r\nget k\r\n";
    for (const char *p = stream; *p; p++)
        test_conn_feed(&f->conn, p, 1);
    char *split = strndup(f->conn.out.data, f->conn.out.len);
    obuf_reset(&f->conn.out);
    expect(f, "flush_all\r\n", "OK\r\n");
    char *whole = test_conn_exchange(&f->conn, stream);
    assert_string_equal(split, whole);
    assert_string_equal(whole, "STORED\r\nSTORED\r\nVALUE k 1 6\r\nv\r\nxyz\r\nEND\r\n"
                               "NOT_FOUND\r\nERROR\r\nDELETED\r\nEND\r\n");
    free(split);
    free(whole);
}

static void test_value_waits_for_its_data(void **state)
{
    struct fixture *f = *state;
    expect(f, "set big 0 0 100000\r\n", "");
    assert_int_equal(f->conn.pc.need, 100002);
    assert_int_equal(f->conn.npending, 0);
}

static void test_noreply_is_silent(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1 noreply\r\nx\r\nadd k 0 0 1 noreply\r\ny\r\n"
              "incr k 1 noreply\r\ndelete k noreply\r\nget k\r\n", "END\r\n");
}

static void test_bad_data_chunk(void **state)
{
    struct fixture *f = *state;
    /* Two bytes too many: the last two of the block are not CRLF, and the
     * real CRLF that follows is an empty command line. */
    expect(f, "set k 0 0 3\r\nabcde\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    expect(f, "get k\r\n", "END\r\n");
}

static void test_too_large_is_swallowed(void **state)
{
    struct fixture *f = *state;
    size_t n = (1 << 20) + 10;
    char *req = malloc(n + 64);
    int len = sprintf(req, "set k 0 0 %zu\r\n", n);
    memset(req + len, 'x', n);
    strcpy(req + len + n, "\r\nget k\r\n");
    expect(f, req, "SERVER_ERROR object too large for cache\r\nEND\r\n");
    assert_int_equal(f->srv.thread_stats.store_too_large, 1);
    free(req);
}

static void test_memcached_number_quirks(void **state)
{
    struct fixture *f = *state;
    /* strtoul into 64 bits, then truncated to the 32-bit flags */
    expect(f, "set k 4294967297 0 1\r\nx\r\nget k\r\n", "STORED\r\nVALUE k 1 1\r\nx\r\nEND\r\n");
    expect(f, "set k 1x 0 1\r\n", "CLIENT_ERROR bad command line format\r\n");
    expect(f, "set k -1 0 1\r\n", "CLIENT_ERROR bad command line format\r\n");
    expect(f, "set k 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n");
    expect(f, "incr k -1\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
    expect(f, "touch k abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
}

static void test_token_count_errors(void **state)
{
    struct fixture *f = *state;
    expect(f, "get\r\n", "ERROR\r\n");
    expect(f, "set k 0 0\r\n", "ERROR\r\n");
    expect(f, "x\r\n", "ERROR\r\n");
    expect(f, "\r\n", "ERROR\r\n");
    expect(f, "delete k 1\r\n",
           "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
    expect(f, "delete k 0\r\n", "NOT_FOUND\r\n");
}

static void test_long_key_rules(void **state)
{
    struct fixture *f = *state;
    char key[252];
    memset(key, 'k', 251);
    key[251] = '\0';
    char req[600];
    snprintf(req, sizeof(req), "set a 0 0 1\r\n1\r\nget a %s\r\n", key);
    /* The get's partial reply (VALUE a) is dropped, the set's STORED stays. */
    expect(f, req, "STORED\r\nCLIENT_ERROR bad command line format\r\n");
    key[250] = '\0';
    snprintf(req, sizeof(req), "set %s 0 0 1\r\n1\r\n", key);
    expect(f, req, "STORED\r\n");
}

static void test_many_keys_span_tokenizer_passes(void **state)
{
    struct fixture *f = *state;
    char req[512] = "get";
    for (int i = 0; i < 40; i++)
        snprintf(req + strlen(req), sizeof(req) - strlen(req), " k%d", i);
    strcat(req, " hit\r\n");
    expect(f, "set hit 0 0 1\r\nh\r\n", "STORED\r\n");
    expect(f, req, "VALUE hit 0 1\r\nh\r\nEND\r\n");
    assert_int_equal(f->srv.thread_stats.get_misses, 40);
}

static void test_multiget_responses_for_udp(void **state)
{
    struct fixture *f = *state;
    expect(f, "set a 0 0 1\r\n1\r\n", "STORED\r\n");
    char *got = test_conn_exchange(&f->conn, "get x a y\r\n");
    free(got);
    /* One response per key: x (empty), a, y (holding END). */
    test_conn_feed(&f->conn, "get x a y\r\n", 11);
    assert_int_equal(f->conn.out.nresp, 3);
    assert_int_equal(f->conn.out.resp_starts[0], 0);
    assert_int_equal(f->conn.out.resp_starts[1], 0);
    assert_int_equal(f->conn.out.resp_starts[2], strlen("VALUE a 0 1\r\n1\r\n"));
}

static void test_incr_decr(void **state)
{
    struct fixture *f = *state;
    expect(f, "set n 0 0 2\r\n10\r\ndecr n 1\r\nget n\r\n", "STORED\r\n9\r\nVALUE n 0 2\r\n9 \r\nEND\r\n");
    expect(f, "set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\n", "STORED\r\n1\r\n");
    expect(f, "decr n 5\r\n", "0\r\n");
    expect(f, "set s 0 0 1\r\nx\r\nincr s 1\r\n",
           "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    expect(f, "incr none 1\r\n", "NOT_FOUND\r\n");
}

static void test_cas_flow(void **state)
{
    struct fixture *f = *state;
    expect(f, "cas k 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
    expect(f, "set k 0 0 1\r\nx\r\n", "STORED\r\n");
    char *got = test_conn_exchange(&f->conn, "gets k\r\n");
    unsigned long long cas;
    assert_int_equal(sscanf(got, "VALUE k 0 1 %llu", &cas), 1);
    free(got);
    char req[100];
    snprintf(req, sizeof(req), "cas k 0 0 1 %llu\r\ny\r\ncas k 0 0 1 %llu\r\nz\r\n", cas, cas);
    expect(f, req, "STORED\r\nEXISTS\r\n");
    assert_int_equal(f->srv.thread_stats.cas_hits, 1);
    assert_int_equal(f->srv.thread_stats.cas_badval, 1);
    assert_int_equal(f->srv.thread_stats.cas_misses, 1);
}

static void test_connection_endings(void **state)
{
    struct fixture *f = *state;
    expect(f, "quit\r\nget a\r\n", "");
    assert_true(f->conn.pc.close_after_write);
    fresh_connection(f);
    expect(f, "GET / HTTP/1.1\r\n", "");
    assert_true(f->conn.pc.close_now);
    fresh_connection(f);
    char line[3000];
    memset(line, 'x', sizeof(line));
    test_conn_feed(&f->conn, line, sizeof(line));
    assert_true(f->conn.pc.close_now);
}

static void test_long_get_line_may_grow(void **state)
{
    struct fixture *f = *state;
    char line[3000] = "get ";
    memset(line + 4, 'k', sizeof(line) - 4);
    test_conn_feed(&f->conn, line, sizeof(line));
    assert_false(f->conn.pc.close_now);
    assert_int_equal(f->conn.pc.need, sizeof(line) + 1);
}

static void test_flush_and_verbosity(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\nx\r\nflush_all\r\nget k\r\n", "STORED\r\nOK\r\nEND\r\n");
    expect(f, "flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n");
    expect(f, "verbosity 5\r\n", "OK\r\n");
    assert_int_equal(f->srv.settings.verbose, 2);
    expect(f, "verbosity\r\n", "ERROR\r\n");
    f->srv.settings.flush_enabled = false;
    expect(f, "flush_all\r\n", "CLIENT_ERROR flush_all not allowed\r\n");
    assert_int_equal(f->srv.thread_stats.cmd_flush, 3);
}

static void test_shutdown_needs_enabling(void **state)
{
    struct fixture *f = *state;
    expect(f, "shutdown\r\n", "ERROR: shutdown not enabled\r\n");
    f->srv.settings.shutdown_command = true;
    expect(f, "shutdown bogus\r\n", "CLIENT_ERROR invalid shutdown mode\r\n");
    expect(f, "shutdown\r\n", "");
    assert_int_equal(f->shutdowns, 1);
}

static void test_stats_groups(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\nx\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
    char *got = test_conn_exchange(&f->conn, "stats\r\n");
    assert_non_null(strstr(got, "STAT get_hits 1\r\n"));
    assert_non_null(strstr(got, "STAT curr_items 1\r\n"));
    assert_non_null(strstr(got, "STAT cmd_set 1\r\n"));
    assert_string_equal(got + strlen(got) - 5, "END\r\n");
    free(got);
    expect(f, "stats reset\r\n", "RESET\r\n");
    got = test_conn_exchange(&f->conn, "stats\r\n");
    assert_non_null(strstr(got, "STAT get_hits 0\r\n"));
    free(got);
    expect(f, "stats bogus\r\n", "ERROR\r\n");
    got = test_conn_exchange(&f->conn, "stats sizes\r\n");
    assert_string_equal(got + strlen(got) - 5, "END\r\n");
    free(got);
    /* no server behind the connection: no sockets to show */
    expect(f, "stats conns\r\n", "END\r\n");
}

/* A small deterministic generator of request streams: real commands with
 * random arguments, garbage and broken data blocks, all lines short. */
static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33) % n;
}

static void random_stream(char *buf, size_t cap)
{
    static const char *words[] = {
        "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend", "cas",
        "incr", "decr", "delete", "touch", "flush_all", "version", "verbosity",
        "noreply", "0", "2", "-1", "3", "10", "4294967296", "18446744073709551616", "k",
        "key", "x", "  ", "\t", "abc", "\r", "99999999999", "mg", "HTTP/1.0",
    };
    size_t len = 0;
    buf[0] = '\0';
    while (len + 200 < cap) {
        unsigned nwords = 1 + rnd(7);
        for (unsigned i = 0; i < nwords; i++)
            len += snprintf(buf + len, cap - len, "%s%s", i ? " " : "",
                            words[rnd(sizeof(words) / sizeof(words[0]))]);
        len += snprintf(buf + len, cap - len, "%s", rnd(5) ? "\r\n" : "\n");
        if (rnd(4) == 0)
            len += snprintf(buf + len, cap - len, "%.*s\r\n", (int)rnd(12), "0123456789ab");
    }
}

/* Whatever the stream, feeding it in random pieces gives the same replies as
 * feeding it whole, and nothing crashes (this test runs under ASan too). */
static void test_random_streams_split_equals_whole(void **state)
{
    struct fixture *f = *state;
    static char stream[4096];
    rng_state = 42;
    for (int round = 0; round < 300; round++) {
        random_stream(stream, sizeof(stream));
        size_t n = strlen(stream);
        fresh_connection(f);
        for (size_t at = 0; at < n && !f->conn.pc.close_now && !f->conn.pc.close_after_write;) {
            size_t piece = 1 + rnd(40);
            piece = piece > n - at ? n - at : piece;
            test_conn_feed(&f->conn, stream + at, piece);
            at += piece;
        }
        char *split = strndup(f->conn.out.data ? f->conn.out.data : "", f->conn.out.len);
        fresh_connection(f);
        char *whole = test_conn_exchange(&f->conn, stream);
        assert_string_equal(split, whole);
        free(split);
        free(whole);
    }
}

static void test_stats_detail(void **state)
{
    struct fixture *f = *state;
    expect(f, "stats detail\r\nstats detail ON\r\n",
           "CLIENT_ERROR usage: stats detail on|off|dump\r\n"
           "CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    expect(f, "stats detail dump\r\n", "END\r\n");
    expect(f, "stats detail on\r\nset p:a 0 0 1\r\n1\r\nget p:a p:b nop\r\ndelete q:x\r\n"
              "stats detail off\r\nget p:a\r\nstats detail dump\r\n",
           "OK\r\nSTORED\r\nVALUE p:a 0 1\r\n1\r\nEND\r\nNOT_FOUND\r\nOK\r\n"
           "VALUE p:a 0 1\r\n1\r\nEND\r\n"
           "PREFIX p get 2 hit 1 set 1 del 0\r\nPREFIX q get 0 hit 0 set 0 del 1\r\nEND\r\n");
    expect(f, "stats reset\r\nstats detail dump\r\n", "RESET\r\nEND\r\n");
}

static void test_too_large_reply_waits_for_swallow(void **state)
{
    struct fixture *f = *state;
    char req[64];
    snprintf(req, sizeof(req), "set k 0 0 %d\r\nxx", 2 << 20);
    expect(f, req, "");
    assert_int_equal(f->conn.pc.swallow, (2 << 20) + 2 - 2);
}

static void disable_cas(struct settings *s)
{
    s->use_cas = false;
}

static int setup_no_cas(void **state)
{
    clock_init();
    return setup_with(state, disable_cas);
}

static void test_without_cas(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\nx\r\ngets k\r\ncas k 0 0 1 0\r\ny\r\n",
           "STORED\r\nVALUE k 0 1 0\r\nx\r\nEND\r\nEXISTS\r\n");
}

/* The VALUE line's numbers are formatted without printf (the hot path of
 * every hit, and the XDP entries' text): the same digits at the extremes. */
static void test_value_fields_match_printf(void **state)
{
    (void)state;
    static const uint64_t numbers[] = {
        0, 1, 9, 10, 99, 100, 65535, 1000000, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
        10000000000000000000u, UINT64_MAX,
    };
    char got[WIRE_VALUE_FIELDS_MAX], want[WIRE_VALUE_FIELDS_MAX];
    size_t count = sizeof(numbers) / sizeof(numbers[0]);
    for (size_t i = 0; i < count; i++) {
        uint64_t a = numbers[i], b = numbers[count - 1 - i];
        size_t n = wire_value_fields(got, (uint32_t)a, (size_t)b);
        int len = snprintf(want, sizeof(want), " %u %zu", (uint32_t)a, (size_t)b);
        assert_int_equal(n, (size_t)len);
        assert_memory_equal(got, want, n);
        n = wire_cas_field(got, a);
        len = snprintf(want, sizeof(want), " %llu", (unsigned long long)a);
        assert_int_equal(n, (size_t)len);
        assert_memory_equal(got, want, n);
    }
}

/* A get whose replies would pile up runs in parts: one call stops after
 * about 64 KB of buffered reply, and the parts together are the reply. */
static char *get_line(const char *key, int nkeys, const char *tail)
{
    size_t n = 3 + (strlen(key) + 1) * (size_t)nkeys + strlen(tail) + 3;
    char *line = malloc(n), *p = line;
    p += sprintf(p, "get");
    for (int i = 0; i < nkeys; i++)
        p += sprintf(p, " %s", key);
    sprintf(p, "%s\r\n", tail);
    return line;
}

static void test_long_get_runs_in_parts(void **state)
{
    struct fixture *f = *state;
    const int nkeys = 2000;
    char value[501];
    memset(value, 'v', 500);
    value[500] = '\0';
    char set[600];
    sprintf(set, "set k 0 0 500\r\n%s\r\n", value);
    expect(f, set, "STORED\r\n");

    char *line = get_line("k", nkeys, "");
    size_t len = strlen(line);
    char *copy = strdup(line);
    size_t used = proto_text_run(&f->conn.pc, copy, len, &f->conn.out, 0, NULL);
    assert_int_equal(used, 0);
    assert_true(f->conn.pc.retrieval.active);
    assert_true(f->conn.out.len < 80 * 1024);
    obuf_reset(&f->conn.out);
    free(copy);
    test_conn_destroy(&f->conn);
    test_conn_init(&f->conn, &f->srv);

    uint64_t hits_before = f->srv.thread_stats.get_hits;
    char *got = test_conn_exchange(&f->conn, line);
    char one[600];
    size_t none = (size_t)sprintf(one, "VALUE k 0 500\r\n%s\r\n", value);
    assert_int_equal(strlen(got), none * nkeys + 5);
    for (int i = 0; i < nkeys; i++)
        assert_memory_equal(got + none * (size_t)i, one, none);
    assert_string_equal(got + none * nkeys, "END\r\n");
    assert_false(f->conn.pc.retrieval.active);
    assert_int_equal(f->srv.thread_stats.get_hits - hits_before, nkeys);
    expect(f, "get nothing\r\n", "END\r\n");     /* the connection goes on */
    free(got);
    free(line);
}

/* A too-long key late in a long get: memcached drops the whole reply, so
 * the keys before it are only counted, and nothing was sent in parts. */
static void test_long_get_with_a_bad_late_key(void **state)
{
    struct fixture *f = *state;
    char bad[300];
    memset(bad, 'x', 251);
    bad[0] = ' ';
    bad[252] = '\0';
    char set[600];
    char value[501];
    memset(value, 'v', 500);
    value[500] = '\0';
    sprintf(set, "set k 0 0 500\r\n%s\r\n", value);
    expect(f, set, "STORED\r\n");
    char *line = get_line("k", 2000, bad);
    expect(f, line, "CLIENT_ERROR bad command line format\r\n");
    assert_int_equal(f->srv.thread_stats.get_hits, 2000);
    assert_false(f->conn.pc.retrieval.active);
    expect(f, "get nothing\r\n", "END\r\n");
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_then_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_get_runs_in_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_get_with_a_bad_late_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_newlines_and_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_by_byte_equals_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_waits_for_its_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noreply_is_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_data_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_is_swallowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memcached_number_quirks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_count_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_key_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys_span_tokenizer_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiget_responses_for_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr_decr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_endings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_get_line_may_grow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_and_verbosity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_needs_enabling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_cas, setup_no_cas, teardown),
        cmocka_unit_test_setup_teardown(test_stats_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_reply_waits_for_swallow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_streams_split_equals_whole, setup, teardown),
        cmocka_unit_test(test_value_fields_match_printf),
    };
    return cmocka_run_group_tests_name("proto_text", tests, NULL, NULL);
}
