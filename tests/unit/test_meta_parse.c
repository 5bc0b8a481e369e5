/* Unit tests of the meta commands' parser alone (meta_parse.h): a line in,
 * a meta_request or memcached's error out; no store, no connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "meta_parse.h"

struct parsed {
    char buf[512];
    struct text_parsed line;
    struct meta_request m;
    bool ok;
};

static void parse(const char *text, struct parsed *p)
{
    size_t len = strlen(text);
    assert_true(len < sizeof p->buf);
    memcpy(p->buf, text, len + 1);
    assert_int_equal(text_parse(p->buf, len, &p->line), TEXT_PARSED);
    assert_int_equal(p->line.req.type, REQ_META);
    p->ok = meta_parse(&p->line, &p->m);
}

static void expect_error(const char *text, const char *error, size_t swallow)
{
    struct parsed p;
    parse(text, &p);
    assert_false(p.ok);
    assert_string_equal(p.m.error, error);
    assert_int_equal(p.m.swallow, swallow);
}

static void test_mg_flags(void **state)
{
    (void)state;
    struct parsed p;
    parse("mg key v q T30 F7 C99 O123 k\r\n", &p);
    assert_true(p.ok);
    assert_int_equal(p.m.command, 'g');
    assert_memory_equal(p.m.req.key, "key", 3);
    assert_int_equal(p.m.req.nkey, 3);
    assert_true(p.m.req.noreply); /* q */
    assert_true(p.m.req.no_detail_stats);
    assert_true(p.m.f.value);
    assert_true(p.m.f.has_ttl);
    assert_int_equal(p.m.f.exptime, text_exptime_from_client(30));
    assert_int_equal(p.m.f.client_flags, 7);
    assert_true(p.m.f.has_cas);
    assert_int_equal(p.m.f.cas, 99);

    expect_error("mg key v v\r\n", "CLIENT_ERROR duplicate flag", 0);
    expect_error("mg key !\r\n", "CLIENT_ERROR invalid flag", 0);
    expect_error("mg key Tx\r\n", "CLIENT_ERROR bad token in command line format", 0);
    expect_error("mg\r\n", "ERROR", 0);
    expect_error("mg a b c d e f g h i j k l m n o p q r s\r\n",
                 "CLIENT_ERROR options flags are too long", 0);
    expect_error("md a b c d e f g h i j k l m n o p q r s\r\n",
                 "CLIENT_ERROR options flags too long", 0);
    expect_error("md key Tx\r\n", "CLIENT_ERROR invalid or duplicate flag", 0);
    expect_error("mz key\r\n", "ERROR", 0);
}

static void test_base64_key(void **state)
{
    (void)state;
    struct parsed p;
    parse("mg Zm9v b v\r\n", &p);
    assert_true(p.ok);
    assert_int_equal(p.m.req.nkey, 3);
    assert_memory_equal(p.m.req.key, "foo", 3);
    assert_true(p.m.f.key_binary);
    expect_error("mg Zm9 b\r\n", "CLIENT_ERROR error decoding key", 0);
}

static void test_ms(void **state)
{
    (void)state;
    struct parsed p;
    parse("ms key 5 MA O77 c k I\r\n", &p);
    assert_true(p.ok);
    assert_int_equal(p.m.command, 's');
    assert_int_equal(p.m.mode, STORE_APPEND);
    assert_int_equal(p.m.nvalue, 5);
    assert_string_equal(p.m.returns, "Ock");
    assert_int_equal(p.m.nopaque, 2);
    assert_memory_equal(p.m.opaque, "77", 2);
    parse("ms key 1 MS C5\r\n", &p);
    assert_int_equal(p.m.mode, STORE_CAS); /* a CAS turns set into cas */

    /* Once the length is known, an error swallows the data block. */
    expect_error("ms key 5 v v\r\n", "CLIENT_ERROR duplicate flag", 7);
    expect_error("ms key 5 MX\r\n", "CLIENT_ERROR invalid mode for ms M token", 7);
    expect_error("ms key 5 MX O123456789012345678901234567890123\r\n",
                 "CLIENT_ERROR invalid mode for ms M token", 7);
    expect_error("ms key 5 O123456789012345678901234567890123\r\n",
                 "CLIENT_ERROR opaque token too long", 7);
    expect_error("ms key x\r\n", "CLIENT_ERROR bad command line format", 0);
    expect_error("ms key\r\n", "CLIENT_ERROR bad command line format", 0);
}

static void test_ma_and_me(void **state)
{
    (void)state;
    struct parsed p;
    parse("ma n\r\n", &p);
    assert_true(p.ok);
    assert_true(p.m.incr);
    assert_int_equal(p.m.f.delta, 1); /* the default delta */
    parse("ma n MD D7 N0 J3\r\n", &p);
    assert_false(p.m.incr);
    assert_int_equal(p.m.f.delta, 7);
    assert_true(p.m.f.vivify);
    assert_int_equal(p.m.f.initial, 3);
    expect_error("ma n MX\r\n", "CLIENT_ERROR invalid mode for ma M token", 0);
    expect_error("ma n D-1\r\n", "CLIENT_ERROR invalid or duplicate flag", 0);

    parse("me Zm9v b\r\n", &p);
    assert_true(p.ok);
    assert_int_equal(p.line.tokens[1].length, 3);
    expect_error("me\r\n", "CLIENT_ERROR bad command line format", 0);
    parse("mn\r\n", &p);
    assert_true(p.ok);
    assert_int_equal(p.m.command, 'n');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mg_flags),
        cmocka_unit_test(test_base64_key),
        cmocka_unit_test(test_ms),
        cmocka_unit_test(test_ma_and_me),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
