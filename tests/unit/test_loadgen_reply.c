/* test_loadgen_reply.c - mcload's request text and its incremental reply
 * parser: every reply form (get/gets hits and misses, multi-get, mg with and
 * without mn, set outcomes, error lines), each fed whole, split at every
 * byte and byte by byte with the same outcome; values or keys that are not
 * what was asked count as mismatches; what follows a reply is left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "keygen.h"
#include "reply.h"
#include "request.h"

static struct keyspace KS;

static int setup(void **state)
{
    (void)state;
    char why[128];
    return keyspace_init(&KS, 1000, 8, 8, why, sizeof(why)) ? 0 : -1;
}

/* "VALUE <key> 0 8[ cas]\r\n<value>\r\n" of key index k into out. */
static size_t value_block(char *out, uint32_t k, const char *cas)
{
    char key[9] = { 0 }, value[9] = { 0 };
    keyspace_key(&KS, k, key);
    keyspace_value(&KS, k, value);
    return (size_t)sprintf(out, "VALUE %s 0 8%s%s\r\n%s\r\n", key, cas ? " " : "", cas ? cas : "",
                           value);
}

static size_t va_block(char *out, uint32_t k, const char *flags)
{
    char value[9] = { 0 };
    keyspace_value(&KS, k, value);
    return (size_t)sprintf(out, "VA 8%s\r\n%s\r\n", flags, value);
}

struct outcome {
    bool done;
    size_t consumed;
    unsigned hits;
    enum reply_error error;
};

/* Feeds text in pieces cut at the given offsets (ascending, < len). */
static struct outcome feed_pieces(enum mc_op op, const uint32_t *keys, unsigned nkeys,
                                  const char *text, size_t len, const size_t *cuts, size_t ncuts)
{
    struct reply_parser p;
    reply_start(&p, op, keys, nkeys, &KS);
    struct outcome o = { 0 };
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && !o.done; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        while (at < end && !o.done) {
            size_t used = reply_feed(&p, text + at, end - at, &o.done);
            assert_true(used <= end - at);
            assert_true(used > 0);
            at += used;
        }
    }
    o.consumed = at;
    o.hits = p.hits;
    o.error = p.error;
    return o;
}

/* Equal outcomes; after a syntax error where the parser stopped does not
 * matter (the stream is lost). */
static bool same_outcome(struct outcome a, struct outcome b)
{
    return a.done == b.done && a.hits == b.hits && a.error == b.error &&
           (a.consumed == b.consumed || a.error == REPLY_SYNTAX);
}

/* The same outcome whole, cut once anywhere, and byte by byte. The reply is
 * followed by "NEXT" that must not be consumed when the reply completes. */
static struct outcome parse(enum mc_op op, const uint32_t *keys, unsigned nkeys, const char *reply)
{
    char text[2048];
    size_t len = (size_t)snprintf(text, sizeof(text), "%sNEXT", reply);
    struct outcome whole = feed_pieces(op, keys, nkeys, text, len, NULL, 0);
    for (size_t cut = 1; cut < len; cut++) {
        struct outcome o = feed_pieces(op, keys, nkeys, text, len, &cut, 1);
        if (!same_outcome(o, whole))
            fail_msg("cut at %zu of %s: differs from whole", cut, reply);
    }
    size_t bytes[2048];
    for (size_t i = 0; i + 1 < len; i++)
        bytes[i] = i + 1;
    struct outcome o = feed_pieces(op, keys, nkeys, text, len, bytes, len - 1);
    if (!same_outcome(o, whole))
        fail_msg("byte by byte %s: differs from whole", reply);
    if (whole.done && whole.error != REPLY_SYNTAX)
        assert_int_equal(whole.consumed, strlen(reply));
    return whole;
}

static void expect(struct outcome o, unsigned hits, enum reply_error error)
{
    assert_true(o.done);
    assert_int_equal(o.hits, hits);
    assert_int_equal(o.error, error);
}

static void test_get_hits_and_misses(void **state)
{
    (void)state;
    char r[1024];
    uint32_t one = 7;
    value_block(r, 7, NULL);
    strcat(r, "END\r\n");
    expect(parse(OP_GET, &one, 1, r), 1, REPLY_OK);
    expect(parse(OP_GET, &one, 1, "END\r\n"), 0, REPLY_OK);

    /* A multi-get: hits in request order, misses skipped, repeats allowed. */
    uint32_t keys[] = { 1, 2, 3, 2, 999 };
    size_t n = value_block(r, 1, NULL);
    n += value_block(r + n, 3, NULL);
    n += value_block(r + n, 2, NULL);
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GET, keys, 5, r), 3, REPLY_OK);

    n = value_block(r, 3, "12345");
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GETS, keys, 5, r), 1, REPLY_OK);
}

static void test_get_mismatches(void **state)
{
    (void)state;
    char r[1024];
    uint32_t keys[] = { 1, 2 };
    /* Out of request order. */
    size_t n = value_block(r, 2, NULL);
    n += value_block(r + n, 1, NULL);
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GET, keys, 2, r), 2, REPLY_MISMATCH);
    /* A key not asked for. */
    n = value_block(r, 5, NULL);
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GET, keys, 2, r), 1, REPLY_MISMATCH);
    /* Another key's value under the right key. */
    char key1[9] = { 0 }, value1[9] = { 0 }, value5[9] = { 0 };
    keyspace_key(&KS, 1, key1);
    keyspace_value(&KS, 1, value1);
    keyspace_value(&KS, 5, value5);
    assert_string_not_equal(value1, value5);
    sprintf(r, "VALUE %s 0 8\r\n%s\r\nEND\r\n", key1, value5);
    expect(parse(OP_GET, keys, 2, r), 1, REPLY_MISMATCH);
    /* A value of another length: skipped by its length, still a mismatch. */
    sprintf(r, "VALUE %s 0 3\r\nabc\r\nEND\r\n", key1);
    expect(parse(OP_GET, keys, 2, r), 1, REPLY_MISMATCH);
    /* A cas where get has none, none where gets needs one. */
    n = value_block(r, 1, "9");
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GET, keys, 2, r), 1, REPLY_MISMATCH);
    n = value_block(r, 1, NULL);
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GETS, keys, 2, r), 1, REPLY_MISMATCH);
}

static void test_error_lines(void **state)
{
    (void)state;
    uint32_t k = 1;
    expect(parse(OP_GET, &k, 1, "ERROR\r\n"), 0, REPLY_SERVER_ERROR);
    expect(parse(OP_GET, &k, 1, "CLIENT_ERROR bad command line format\r\n"), 0, REPLY_SERVER_ERROR);
    expect(parse(OP_GETS, &k, 1, "SERVER_ERROR out of memory\r\n"), 0, REPLY_SERVER_ERROR);
    expect(parse(OP_SET, &k, 1, "SERVER_ERROR out of memory storing object\r\n"), 0,
           REPLY_SERVER_ERROR);
    expect(parse(OP_MG, &k, 1, "ERROR\r\n"), 0, REPLY_SERVER_ERROR);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    uint32_t k = 1;
    expect(parse(OP_GET, &k, 1, "HELLO\r\n"), 0, REPLY_SYNTAX);
    expect(parse(OP_GET, &k, 1, "END\n"), 0, REPLY_SYNTAX);             /* no \r */
    expect(parse(OP_GET, &k, 1, "VALUE 00000001 0 x\r\n"), 0, REPLY_SYNTAX);
    expect(parse(OP_SET, &k, 1, "END\r\n"), 0, REPLY_SYNTAX);
    expect(parse(OP_MG, &k, 1, "HD\r\n"), 0, REPLY_SYNTAX);
    char r[128];
    size_t n = value_block(r, 1, NULL);
    r[n - 2] = 'X';   /* the value's \r\n */
    strcpy(r + n, "END\r\n");
    expect(parse(OP_GET, &k, 1, r), 1, REPLY_SYNTAX);
    char longline[600];
    memset(longline, 'A', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    expect(parse(OP_GET, &k, 1, longline), 0, REPLY_SYNTAX);
}

static void test_set_outcomes(void **state)
{
    (void)state;
    uint32_t k = 1;
    expect(parse(OP_SET, &k, 1, "STORED\r\n"), 0, REPLY_OK);
    expect(parse(OP_SET, &k, 1, "NOT_STORED\r\n"), 0, REPLY_NOT_STORED);
    expect(parse(OP_SET, &k, 1, "EXISTS\r\n"), 0, REPLY_NOT_STORED);
    expect(parse(OP_SET, &k, 1, "NOT_FOUND\r\n"), 0, REPLY_NOT_STORED);
}

static void test_mg_replies(void **state)
{
    (void)state;
    char r[1024];
    uint32_t one = 4;
    va_block(r, 4, "");
    expect(parse(OP_MG, &one, 1, r), 1, REPLY_OK);
    va_block(r, 4, " f0 t-1");
    expect(parse(OP_MG, &one, 1, r), 1, REPLY_OK);
    expect(parse(OP_MG, &one, 1, "EN\r\n"), 0, REPLY_OK);
    va_block(r, 5, "");
    expect(parse(OP_MG, &one, 1, r), 1, REPLY_MISMATCH);

    /* Several: one answer per key in order, then MN. */
    uint32_t keys[] = { 4, 5, 6 };
    size_t n = va_block(r, 4, "");
    n += (size_t)sprintf(r + n, "EN\r\n");
    n += va_block(r + n, 6, "");
    strcpy(r + n, "MN\r\n");
    expect(parse(OP_MG, keys, 3, r), 2, REPLY_OK);
    /* Answers in the wrong order carry the wrong values. */
    n = va_block(r, 6, "");
    n += (size_t)sprintf(r + n, "EN\r\nEN\r\n");
    strcpy(r + n, "MN\r\n");
    expect(parse(OP_MG, keys, 3, r), 1, REPLY_MISMATCH);
    /* A server without meta commands: an ERROR per line, mn's included. */
    expect(parse(OP_MG, keys, 3, "ERROR\r\nERROR\r\nERROR\r\nERROR\r\n"), 0, REPLY_SERVER_ERROR);
    /* Not yet complete without its MN. */
    struct outcome o = feed_pieces(OP_MG, keys, 3, "EN\r\nEN\r\nEN\r\n", 12, NULL, 0);
    assert_false(o.done);
}

static void test_incomplete_is_not_done(void **state)
{
    (void)state;
    char r[128];
    uint32_t k = 1;
    size_t n = value_block(r, 1, NULL);
    for (size_t len = 0; len <= n + 4; len++) {
        struct outcome o = feed_pieces(OP_GET, &k, 1, r, len, NULL, 0);
        assert_false(o.done);
        assert_int_equal(o.consumed, len);
    }
}

static void test_request_text(void **state)
{
    (void)state;
    char out[512];
    uint32_t keys[] = { 1, 62 };
    size_t n = request_format(out, OP_GET, keys, 2, &KS);
    assert_true(n <= request_max_size(OP_GET, 2, &KS));
    assert_int_equal(n, strlen("get 00000001 00000010\r\n"));
    assert_memory_equal(out, "get 00000001 00000010\r\n", n);
    n = request_format(out, OP_GETS, keys, 1, &KS);
    assert_memory_equal(out, "gets 00000001\r\n", n);
    n = request_format(out, OP_MG, keys, 1, &KS);
    assert_int_equal(n, strlen("mg 00000001 v\r\n"));
    assert_memory_equal(out, "mg 00000001 v\r\n", n);
    n = request_format(out, OP_MG, keys, 2, &KS);
    assert_true(n <= request_max_size(OP_MG, 2, &KS));
    assert_memory_equal(out, "mg 00000001 v\r\nmg 00000010 v\r\nmn\r\n", n);
    char value[9] = { 0 }, want[64];
    keyspace_value(&KS, 1, value);
    n = request_format(out, OP_SET, keys, 1, &KS);
    assert_true(n <= request_max_size(OP_SET, 1, &KS));
    sprintf(want, "set 00000001 0 0 8\r\n%s\r\n", value);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    n = request_format_set(out, 1, &KS, true);
    sprintf(want, "set 00000001 0 0 8 noreply\r\n%s\r\n", value);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

/* --ttl: every set of a key carries the same expiry, within the range, and
 * the range's keys spread over it; the longest header still fits. */
static void test_set_ttl(void **state)
{
    (void)state;
    struct keyspace ks = KS;
    ks.ttl_min = 2592000 - 99;
    ks.ttl_max = 2592000;
    char out[512], want[64], value[9] = { 0 };
    unsigned seen[100] = { 0 };
    for (uint32_t key = 0; key < 10000; key++) {
        uint32_t ttl = keyspace_ttl(&ks, key);
        assert_true(ttl >= ks.ttl_min && ttl <= ks.ttl_max);
        assert_int_equal(ttl, keyspace_ttl(&ks, key));
        seen[ttl - ks.ttl_min]++;
    }
    for (unsigned i = 0; i < 100; i++)
        assert_in_range(seen[i], 50, 150);   /* 100 expected per second */
    keyspace_value(&ks, 1, value);
    size_t n = request_format_set(out, 1, &ks, true);
    assert_true(n <= request_max_size(OP_SET, 1, &ks));
    sprintf(want, "set 00000001 0 %u 8 noreply\r\n%s\r\n", keyspace_ttl(&ks, 1), value);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_hits_and_misses),
        cmocka_unit_test(test_get_mismatches),
        cmocka_unit_test(test_error_lines),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_set_outcomes),
        cmocka_unit_test(test_mg_replies),
        cmocka_unit_test(test_incomplete_is_not_done),
        cmocka_unit_test(test_request_text),
        cmocka_unit_test(test_set_ttl),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
