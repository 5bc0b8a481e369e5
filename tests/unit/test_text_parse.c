/* Unit tests of the text protocol's parser alone: request bytes in, a
 * struct request (or "need more", or "close") out; no store, no connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text_parse.h"

/* Parses a copy of text (the parser writes into its input). */
static enum text_parse_status parse(const char *text, struct text_parsed *p, char *buf,
                                    size_t cap)
{
    size_t len = strlen(text);
    assert_true(len < cap);
    memcpy(buf, text, len + 1);
    return text_parse(buf, len, p);
}

/* A line that parses to a REQ_ERROR with this reply. */
static void expect_error(const char *text, const char *error, bool noreply)
{
    char buf[512];
    struct text_parsed p;
    assert_int_equal(parse(text, &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_ERROR);
    assert_string_equal(p.req.error, error);
    assert_int_equal(p.req.noreply, noreply);
    assert_int_equal(p.used, strlen(text)); /* an error swallows its line only */
}

static void test_get_keys(void **state)
{
    (void)state;
    char buf[128];
    struct text_parsed p;
    assert_int_equal(parse("gets a bb\r\nget c\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_GET);
    assert_true(p.req.with_cas);
    assert_false(p.req.touch);
    assert_int_equal(p.used, 11);
    assert_string_equal(p.tokens[p.first_key].value, "a");
    assert_string_equal(p.tokens[p.first_key + 1].value, "bb");
    assert_int_equal(p.tokens[p.first_key + 2].length, 0);

    assert_int_equal(parse("gat 100 k\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_GET);
    assert_true(p.req.touch);
    assert_int_equal(p.req.exptime, text_exptime_from_client(100));
    assert_string_equal(p.tokens[p.first_key].value, "k");
    expect_error("gat x k\r\n", "CLIENT_ERROR invalid exptime argument", false);
    expect_error("get\r\n", "ERROR", false);
}

static void test_storage_line(void **state)
{
    (void)state;
    char buf[128];
    struct text_parsed p;
    assert_int_equal(parse("cas key 7 0 5 99 noreply\r\nhello\r\n", &p, buf, sizeof buf),
                     TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_STORE);
    assert_int_equal(p.req.mode, STORE_CAS);
    assert_int_equal(p.req.nkey, 3);
    assert_memory_equal(p.req.key, "key", 3);
    assert_int_equal(p.req.flags, 7);
    assert_int_equal(p.req.cas, 99);
    assert_int_equal(p.req.nvalue, 5);
    assert_true(p.req.noreply);
    assert_int_equal(p.used, 26); /* the line only: the data block is the caller's */

    expect_error("set k 0 0 -1\r\n", "CLIENT_ERROR bad command line format", false);
    expect_error("set k x 0 1 noreply\r\n", "CLIENT_ERROR bad command line format", true);
    expect_error("set k 0 0\r\n", "ERROR", false);
    assert_true(text_data_ok("ab\r\n", 2));
    assert_false(text_data_ok("abc\n", 2));
}

static void test_other_commands(void **state)
{
    (void)state;
    char buf[128];
    struct text_parsed p;
    assert_int_equal(parse("decr n 18446744073709551615\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_DELTA);
    assert_false(p.req.incr);
    assert_int_equal(p.req.delta, UINT64_MAX);
    expect_error("incr n -1\r\n", "CLIENT_ERROR invalid numeric delta argument", false);

    assert_int_equal(parse("delete k 0 noreply\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_DELETE);
    assert_true(p.req.noreply);
    expect_error("delete k 1\r\n",
                 "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]", false);

    assert_int_equal(parse("touch k 10\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_TOUCH);
    assert_int_equal(p.req.exptime, text_exptime_from_client(10));

    /* Arguments memcached checks after other things: left to the executor. */
    assert_int_equal(parse("flush_all soon\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_FLUSH);
    assert_string_equal(p.req.arg_error, "CLIENT_ERROR invalid exptime argument");
    assert_int_equal(parse("flush_all 30 noreply\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_null(p.req.arg_error);
    assert_int_equal(p.req.flush_delay, 30);
    assert_int_equal(parse("shutdown now\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_SHUTDOWN);
    assert_string_equal(p.req.arg_error, "CLIENT_ERROR invalid shutdown mode");

    assert_int_equal(parse("verbosity 9\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.verbosity, 9);
    assert_int_equal(parse("cache_memlimit 128 noreply\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_CACHE_MEMLIMIT);
    assert_int_equal(p.req.memlimit_mb, 128);
    assert_true(p.req.noreply);
    assert_null(p.req.arg_error);
    assert_int_equal(parse("cache_memlimit -1\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_string_equal(p.req.arg_error, "ERROR");
    expect_error("cache_memlimit\r\n", "ERROR", false);
    assert_int_equal(parse("stats items\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_string_equal(p.req.group, "items");
    assert_int_equal(parse("mg k v\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_META);
    expect_error("bogus\r\n", "ERROR", false);
    expect_error("x\r\n", "ERROR", false);
}

/* A line that parses to a request of this type, with this noreply. */
static void expect_type(const char *text, enum request_type type, bool noreply)
{
    char buf[512];
    struct text_parsed p;
    assert_int_equal(parse(text, &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, type);
    assert_int_equal(p.req.noreply, noreply);
}

/* slabs and lru: memcached's checks, in its order; the class ids of a
 * reassign are left to the executor. */
static void test_tuning_commands(void **state)
{
    (void)state;
    char buf[128];
    struct text_parsed p;
    expect_type("slabs automove 2\r\n", REQ_TUNING, false);
    expect_type("slabs automove 4294967296 noreply\r\n", REQ_TUNING, true); /* 0 in 32 bits */
    expect_type("slabs automove ratio 0.5 x\r\n", REQ_TUNING, false);
    expect_error("slabs automove 3\r\n", "ERROR", false);
    expect_error("slabs automove -1\r\n", "CLIENT_ERROR bad command line format", false);
    expect_error("slabs automove noreply\r\n", "CLIENT_ERROR bad command line format", true);
    expect_error("slabs automove ratio 1e999\r\n", "ERROR", false);
    expect_error("slabs automove ratio\r\n", "ERROR", false);
    expect_error("slabs automove\r\n", "ERROR", false);
    expect_error("slabs\r\n", "ERROR", false);

    assert_int_equal(parse("slabs reassign -1 4294967297\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_SLABS_REASSIGN);
    assert_int_equal(p.req.reassign_src, -1);
    assert_int_equal(p.req.reassign_dst, 1);
    expect_error("slabs reassign 1 x\r\n", "CLIENT_ERROR bad command line format", false);
    expect_error("slabs reassign 1 1 noreply\r\n", "ERROR", false); /* six tokens */
    expect_error("slabs reassign 1\r\n", "ERROR", false);

    expect_type("lru tune 4294967295 2 0.1 nan\r\n", REQ_TUNING, false); /* the sum wraps to 1 */
    expect_type("lru mode segmented noreply\r\n", REQ_TUNING, true);
    expect_type("lru temp_ttl -1\r\n", REQ_TUNING, false);
    expect_error("lru tune 41 40 0.1 2 noreply\r\n", "ERROR hot and warm pcts must not exceed 80",
                 true);
    expect_error("lru tune 1 2 0.1 -0\r\n", "ERROR hot/warm age factors must be greater than 0",
                 false);
    expect_error("lru tune 1 2 0.1\r\n", "ERROR", false);
    expect_error("lru tune 1 2 0.1 2x\r\n", "ERROR", false);
    expect_error("lru mode FLAT\r\n", "ERROR", false);
    expect_error("lru temp_ttl 99999999999999999999\r\n", "ERROR", false);
    expect_error("lru noreply\r\n", "ERROR", true);
    expect_error("lru\r\n", "ERROR", false);
}

static void test_incomplete_and_closing(void **state)
{
    (void)state;
    char buf[8192];
    struct text_parsed p;
    assert_int_equal(parse("get k", &p, buf, sizeof buf), TEXT_NEED_MORE);
    assert_int_equal(p.need, 0);
    assert_int_equal(parse("GET / HTTP/1.1\r\n", &p, buf, sizeof buf), TEXT_CLOSE);

    /* Past 2048 bytes without a newline only a get may go on. */
    char *line = malloc(3001);
    memset(line, 'k', 3000);
    line[3000] = '\0';
    memcpy(line, "get ", 4);
    assert_int_equal(text_parse(line, 3000, &p), TEXT_NEED_MORE);
    assert_int_equal(p.need, 3001);
    memcpy(line, "set ", 4);
    assert_int_equal(text_parse(line, 3000, &p), TEXT_CLOSE);
    free(line);
}

/* The tokenizer as memcached writes it, byte by byte: what text_tokenize
 * (which looks for spaces with memchr) must match. */
static size_t tokenize_bytewise(char *line, struct text_token *tokens, size_t max_tokens)
{
    size_t ntokens = 0, len = strlen(line);
    char *start = line, *end = line;
    for (size_t i = 0; i < len; i++, end++) {
        if (*end != ' ')
            continue;
        if (start != end) {
            tokens[ntokens++] = (struct text_token){ start, (size_t)(end - start) };
            *end = '\0';
            if (ntokens == max_tokens - 1) {
                start = ++end;
                break;
            }
        }
        start = end + 1;
    }
    if (start != end)
        tokens[ntokens++] = (struct text_token){ start, (size_t)(end - start) };
    tokens[ntokens] = (struct text_token){ *end == '\0' ? NULL : end, 0 };
    return ntokens + 1;
}

/* Token boundaries as offsets into the line, so that two copies compare. */
static void expect_same_tokens(const char *text, size_t max_tokens)
{
    char a[64], b[64];
    struct text_token ta[TEXT_MAX_TOKENS], tb[TEXT_MAX_TOKENS];
    size_t len = strlen(text);
    memcpy(a, text, len + 1);
    memcpy(b, text, len + 1);
    size_t n = text_tokenize(a, len, ta, max_tokens);
    assert_int_equal(n, tokenize_bytewise(b, tb, max_tokens));
    assert_memory_equal(a, b, len + 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ta[i].length, tb[i].length);
        assert_int_equal(ta[i].value ? ta[i].value - a : -1, tb[i].value ? tb[i].value - b : -1);
    }
}

static void test_tokenizer(void **state)
{
    (void)state;
    const char *lines[] = { "", " ", "get", "get k", " get  k ", "a b c d e", "a  b   c ",
                            "   ", "x y", "a b c d e f g" };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        for (size_t max = 2; max <= TEXT_MAX_TOKENS; max++)
            expect_same_tokens(lines[i], max);

    /* Random lines of letters and spaces, short enough to hit every case. */
    srand(11);
    for (int round = 0; round < 20000; round++) {
        char line[40];
        size_t len = (size_t)rand() % (sizeof line);
        for (size_t i = 0; i < len; i++)
            line[i] = rand() % 3 == 0 ? ' ' : (char)('a' + rand() % 3);
        line[len] = '\0';
        expect_same_tokens(line, 2 + (size_t)rand() % (TEXT_MAX_TOKENS - 1));
    }
}

/* Commands are told apart by their whole name, whatever it starts with. */
static void test_command_names(void **state)
{
    (void)state;
    char buf[64];
    struct text_parsed p;
    assert_int_equal(parse("bget k\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_int_equal(p.req.type, REQ_GET);
    assert_false(p.req.with_cas);
    assert_int_equal(parse("gets k\r\n", &p, buf, sizeof buf), TEXT_PARSED);
    assert_true(p.req.with_cas);
    expect_error("ge k\r\n", "ERROR", false);
    expect_error("getx k\r\n", "ERROR", false);
    expect_error("getsx k\r\n", "ERROR", false);
    expect_error("GET k\r\n", "ERROR", false);
    expect_error("version2\r\n", "ERROR", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_keys),
        cmocka_unit_test(test_storage_line),
        cmocka_unit_test(test_other_commands),
        cmocka_unit_test(test_tuning_commands),
        cmocka_unit_test(test_incomplete_and_closing),
        cmocka_unit_test(test_tokenizer),
        cmocka_unit_test(test_command_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
