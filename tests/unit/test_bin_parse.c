/* Unit tests of the binary protocol's parser alone (bin_parse.h): request
 * bytes in, a struct request or memcached's error out; no store, no
 * connection. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bin_parse.h"

/* A request: header, then extras, key and value, the lengths right unless
 * bodylen is given (not 0). */
static size_t build(char *buf, uint8_t opcode, const void *extras, uint8_t extlen,
                    const char *key, const char *value, uint32_t bodylen, uint64_t cas)
{
    size_t nkey = strlen(key), nvalue = strlen(value);
    struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST, .opcode = opcode, .keylen = htobe16((uint16_t)nkey),
        .extlen = extlen,
        .bodylen = htobe32(bodylen ? bodylen : (uint32_t)(extlen + nkey + nvalue)),
        .opaque = htobe32(7), .cas = htobe64(cas),
    };
    memcpy(buf, &h, sizeof h);
    if (extlen > 0)
        memcpy(buf + sizeof h, extras, extlen);
    memcpy(buf + sizeof h + extlen, key, nkey);
    memcpy(buf + sizeof h + extlen + nkey, value, nvalue);
    return sizeof h + extlen + nkey + nvalue;
}

static void test_get_family(void **state)
{
    (void)state;
    char buf[256];
    struct bin_parsed p;
    size_t len = build(buf, BIN_GETKQ, NULL, 0, "key", "", 0, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.error, BIN_SUCCESS);
    assert_int_equal(p.req.type, REQ_GET);
    assert_true(p.req.binary);
    assert_true(p.quiet && p.with_key && p.with_value);
    assert_int_equal(p.command, BIN_GETK);
    assert_int_equal(p.h.opaque, 7);
    assert_int_equal(p.head, len);
    assert_memory_equal(p.req.key, "key", 3);

    uint32_t expiry = htobe32(100);
    len = build(buf, BIN_TOUCH, &expiry, 4, "k", "", 0, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_true(p.req.touch);
    assert_false(p.with_value);
    assert_int_equal(p.req.exptime, clock_realtime(100));
}

static void test_storage_and_delta(void **state)
{
    (void)state;
    char buf[256];
    struct bin_parsed p;
    uint32_t extras[2] = { htobe32(5), htobe32(0) };
    size_t len = build(buf, BIN_SETQ, extras, 8, "k", "hello", 0, 42);
    /* The value is not the parser's: the head is enough. */
    assert_int_equal(bin_parse(buf, len - 5, &p), BIN_PARSED);
    assert_int_equal(p.req.type, REQ_STORE);
    assert_int_equal(p.req.mode, STORE_SET);
    assert_int_equal(p.req.flags, 5);
    assert_int_equal(p.req.cas, 42);
    assert_int_equal(p.req.nvalue, 5);
    assert_int_equal(p.head, len - 5);

    uint8_t delta[20];
    uint64_t by = htobe64(3), initial = htobe64(10);
    uint32_t no_initial = htobe32(BIN_DELTA_NO_INITIAL);
    memcpy(delta, &by, 8);
    memcpy(delta + 8, &initial, 8);
    memcpy(delta + 16, &no_initial, 4);
    len = build(buf, BIN_DECREMENT, delta, 20, "n", "", 0, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.req.type, REQ_DELTA);
    assert_false(p.req.incr);
    assert_int_equal(p.req.delta, 3);
    assert_false(p.req.has_initial);

    len = build(buf, BIN_DELETE, NULL, 0, "k", "", 0, 9);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.req.type, REQ_DELETE);
    assert_true(p.req.compare_cas);
}

static void test_errors(void **state)
{
    (void)state;
    char buf[256];
    struct bin_parsed p;
    /* Key longer than the body: unknown command, then close. */
    size_t len = build(buf, BIN_GET, NULL, 0, "key", "", 2, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.error, BIN_UNKNOWN_COMMAND);
    assert_true(p.close_after);
    /* A wrong shape: EINVAL, then close. */
    len = build(buf, BIN_NOOP, NULL, 0, "k", "", 0, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.error, BIN_EINVAL);
    assert_true(p.close_after);
    /* An unknown opcode swallows bodylen bytes after its key. */
    len = build(buf, 0x55, NULL, 0, "k", "abcd", 0, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.error, BIN_UNKNOWN_COMMAND);
    assert_int_equal(p.swallow, 5);
    assert_false(p.close_after);
    /* SASL swallows the body after the key. */
    len = build(buf, BIN_SASL_AUTH, NULL, 0, "k", "abcd", 0, 0);
    assert_int_equal(bin_parse(buf, len, &p), BIN_PARSED);
    assert_int_equal(p.swallow, 4);
    /* Incomplete, and not a request at all. */
    assert_int_equal(bin_parse(buf, 10, &p), BIN_NEED_MORE);
    assert_int_equal(p.need, BIN_HEADER_LEN);
    assert_int_equal(bin_parse(buf, BIN_HEADER_LEN, &p), BIN_NEED_MORE);
    assert_int_equal(p.need, BIN_HEADER_LEN + 1);
    buf[0] = 0x81;
    assert_int_equal(bin_parse(buf, len, &p), BIN_CLOSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_family),
        cmocka_unit_test(test_storage_and_delta),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
