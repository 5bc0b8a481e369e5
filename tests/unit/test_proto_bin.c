/* Unit tests of the binary protocol: request packets in through
 * protocol_run_one(), reply packets out, with a real store and no sockets. */
#define _GNU_SOURCE /* mempcpy */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>

#include <cmocka.h>

#include "clock.h"
#include "proto.h"
#include "proto_bin.h"
#include "test_server.h"

struct fixture {
    struct test_server srv;
    struct proto_conn pc;
    struct obuf out;
    char in[4 << 20];   /* input not consumed yet, as a server would keep it */
    size_t nin;
    size_t read_off;    /* next reply packet to look at in out */
    unsigned completed; /* requests run */
    bool transmitted;   /* the last feed reached a point where memcached transmits */
};

static void fresh_connection(struct fixture *f)
{
    assert_true(test_server_new_store(&f->srv));
    proto_conn_init(&f->pc, &f->srv.env, &f->srv.thread_stats);
    obuf_reset(&f->out);
    f->nin = 0;
    f->read_off = 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_true(test_server_init(&f->srv));
    obuf_init(&f->out);
    *state = f;
    fresh_connection(f);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_server_destroy(&f->srv);
    obuf_free(&f->out);
    free(f);
    return 0;
}

/* ---- requests -------------------------------------------------------------- */

struct req {
    uint8_t opcode;
    const char *key;
    const void *extras;
    size_t extlen;
    const void *value;
    size_t nvalue;
    uint32_t opaque;
    uint64_t cas;
};

/* Writes the packet at buf; returns its length. */
static size_t build(char *buf, const struct req *r)
{
    size_t nkey = r->key ? strlen(r->key) : 0;
    struct bin_header h = {
        .magic = BIN_MAGIC_REQUEST, .opcode = r->opcode, .keylen = htobe16((uint16_t)nkey),
        .extlen = (uint8_t)r->extlen,
        .bodylen = htobe32((uint32_t)(r->extlen + nkey + r->nvalue)),
        .opaque = htobe32(r->opaque), .cas = htobe64(r->cas),
    };
    char *p = mempcpy(buf, &h, sizeof(h));
    /* Absent parts are NULL, which memcpy must not see even for 0 bytes. */
    if (r->extlen)
        p = mempcpy(p, r->extras, r->extlen);
    if (nkey)
        p = mempcpy(p, r->key, nkey);
    if (r->nvalue)
        p = mempcpy(p, r->value, r->nvalue);
    return (size_t)(p - buf);
}

/* Appends bytes to the input and runs what is complete, as conn.c does. */
static void feed(struct fixture *f, const void *bytes, size_t n)
{
    assert_true(f->nin + n <= sizeof(f->in));
    memcpy(f->in + f->nin, bytes, n);
    f->nin += n;
    size_t used = 0;
    f->transmitted = false;
    while (!f->pc.close_now && !f->pc.close_after_write) {
        struct protocol_step step;
        protocol_run_one(&f->pc, f->in + used, f->nin - used, &f->out, &step);
        f->completed += step.completed;
        f->transmitted |= step.transmit;
        if (step.used == 0)
            break;
        used += step.used;
    }
    memmove(f->in, f->in + used, f->nin - used);
    f->nin -= used;
}

static void send_req(struct fixture *f, struct req r)
{
    static char buf[2 << 20];
    feed(f, buf, build(buf, &r));
}

static void send_set(struct fixture *f, uint8_t opcode, const char *key, const char *value,
                     uint32_t flags, uint64_t cas)
{
    uint32_t extras[2] = { htobe32(flags), 0 };
    send_req(f, (struct req){ .opcode = opcode, .key = key, .extras = extras, .extlen = 8,
                              .value = value, .nvalue = strlen(value), .cas = cas });
}

static void send_delta(struct fixture *f, uint8_t opcode, const char *key, uint64_t amount,
                       uint64_t initial, uint32_t exptime)
{
    char extras[20];
    uint64_t a = htobe64(amount), i = htobe64(initial);
    uint32_t e = htobe32(exptime);
    memcpy(extras, &a, 8);
    memcpy(extras + 8, &i, 8);
    memcpy(extras + 16, &e, 4);
    send_req(f, (struct req){ .opcode = opcode, .key = key, .extras = extras, .extlen = 20 });
}

static uint64_t load_be64_for_test(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

/* ---- replies --------------------------------------------------------------- */

struct reply {
    struct bin_header h;    /* host order */
    const char *extras, *key, *value;
    size_t nvalue;
};

static bool no_reply_left(const struct fixture *f)
{
    return f->read_off == f->out.len;
}

/* The next reply packet; fails the test when there is none. */
static struct reply next_reply(struct fixture *f)
{
    struct reply r;
    assert_true(f->out.len - f->read_off >= BIN_HEADER_LEN);
    const char *p = f->out.data + f->read_off;
    memcpy(&r.h, p, sizeof(r.h));
    r.h.keylen = be16toh(r.h.keylen);
    r.h.status = be16toh(r.h.status);
    r.h.bodylen = be32toh(r.h.bodylen);
    r.h.opaque = be32toh(r.h.opaque);
    r.h.cas = be64toh(r.h.cas);
    assert_int_equal(r.h.magic, BIN_MAGIC_RESPONSE);
    assert_true(f->out.len - f->read_off >= BIN_HEADER_LEN + r.h.bodylen);
    r.extras = p + BIN_HEADER_LEN;
    r.key = r.extras + r.h.extlen;
    r.value = r.key + r.h.keylen;
    r.nvalue = r.h.bodylen - r.h.extlen - r.h.keylen;
    f->read_off += BIN_HEADER_LEN + r.h.bodylen;
    return r;
}

static void expect_reply(struct fixture *f, uint8_t opcode, uint16_t status, const char *value)
{
    struct reply r = next_reply(f);
    assert_int_equal(r.h.opcode, opcode);
    assert_int_equal(r.h.status, status);
    assert_int_equal(r.nvalue, strlen(value));
    assert_memory_equal(r.value, value, r.nvalue);
}

/* An incr/decr reply: the 64-bit result, big endian. */
static void expect_number(struct fixture *f, uint8_t opcode, uint64_t number)
{
    struct reply r = next_reply(f);
    assert_int_equal(r.h.opcode, opcode);
    assert_int_equal(r.h.status, BIN_SUCCESS);
    assert_int_equal(r.nvalue, 8);
    assert_int_equal(load_be64_for_test(r.value), number);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_set_then_get_variants(void **state)
{
    struct fixture *f = *state;
    send_set(f, BIN_SET, "k", "hello", 0xdeadbeef, 0);
    struct reply set = next_reply(f);
    assert_int_equal(set.h.status, BIN_SUCCESS);
    assert_int_not_equal(set.h.cas, 0);

    send_req(f, (struct req){ .opcode = BIN_GET, .key = "k", .opaque = 77 });
    struct reply get = next_reply(f);
    assert_int_equal(get.h.status, BIN_SUCCESS);
    assert_int_equal(get.h.opaque, 77);
    assert_int_equal(get.h.cas, set.h.cas);
    assert_int_equal(get.h.extlen, 4);
    assert_int_equal(get.h.keylen, 0);
    assert_memory_equal(get.extras, "\xde\xad\xbe\xef", 4);
    assert_memory_equal(get.value, "hello", 5);

    send_req(f, (struct req){ .opcode = BIN_GETK, .key = "k" });
    struct reply getk = next_reply(f);
    assert_int_equal(getk.h.keylen, 1);
    assert_memory_equal(getk.key, "k", 1);
    assert_memory_equal(getk.value, "hello", 5);

    uint32_t exptime = htobe32(100);
    send_req(f, (struct req){ .opcode = BIN_TOUCH, .key = "k", .extras = &exptime, .extlen = 4 });
    struct reply touch = next_reply(f);
    assert_int_equal(touch.h.status, BIN_SUCCESS);
    assert_int_equal(touch.h.bodylen, 4);      /* flags only, no value */
    assert_true(no_reply_left(f));
}

static void test_misses(void **state)
{
    struct fixture *f = *state;
    send_req(f, (struct req){ .opcode = BIN_GET, .key = "nope" });
    expect_reply(f, BIN_GET, BIN_KEY_ENOENT, "Not found");
    assert_true(f->transmitted);                /* an error is transmitted at once */
    send_req(f, (struct req){ .opcode = BIN_GETK, .key = "nope" });
    struct reply r = next_reply(f);
    assert_int_equal(r.h.status, BIN_KEY_ENOENT);
    assert_int_equal(r.h.keylen, 4);
    assert_memory_equal(r.key, "nope", 4);
    assert_int_equal(r.nvalue, 0);
    assert_int_equal(f->srv.thread_stats.cmd_get, 2);
    assert_int_equal(f->srv.thread_stats.get_misses, 2);
}

static void test_quiet_forms(void **state)
{
    struct fixture *f = *state;
    send_set(f, BIN_SETQ, "a", "1", 0, 0);
    send_req(f, (struct req){ .opcode = BIN_GETQ, .key = "missing" });
    send_req(f, (struct req){ .opcode = BIN_GETKQ, .key = "missing" });
    send_req(f, (struct req){ .opcode = BIN_DELETEQ, .key = "missing" });   /* an error: sent */
    send_set(f, BIN_ADDQ, "a", "2", 0, 0);                                   /* an error: sent */
    send_req(f, (struct req){ .opcode = BIN_GETQ, .key = "a" });            /* a hit: sent */
    send_delta(f, BIN_INCREMENTQ, "n", 1, 5, 0);
    send_req(f, (struct req){ .opcode = BIN_FLUSHQ });
    send_req(f, (struct req){ .opcode = BIN_NOOP, .opaque = 9 });
    expect_reply(f, BIN_DELETEQ, BIN_KEY_ENOENT, "Not found");
    expect_reply(f, BIN_ADDQ, BIN_KEY_EEXISTS, "Data exists for key.");
    expect_reply(f, BIN_GETQ, BIN_SUCCESS, "1");
    struct reply noop = next_reply(f);
    assert_int_equal(noop.h.opcode, BIN_NOOP);
    assert_int_equal(noop.h.opaque, 9);
    assert_true(no_reply_left(f));
    assert_true(f->transmitted);
}

static void test_storage_statuses(void **state)
{
    struct fixture *f = *state;
    send_set(f, BIN_REPLACE, "a", "x", 0, 0);
    expect_reply(f, BIN_REPLACE, BIN_KEY_ENOENT, "Not found");
    send_set(f, BIN_ADD, "a", "x", 0, 0);
    expect_reply(f, BIN_ADD, BIN_SUCCESS, "");
    send_set(f, BIN_ADD, "a", "y", 0, 0);
    expect_reply(f, BIN_ADD, BIN_KEY_EEXISTS, "Data exists for key.");
    send_req(f, (struct req){ .opcode = BIN_APPEND, .key = "a", .value = "z", .nvalue = 1 });
    expect_reply(f, BIN_APPEND, BIN_SUCCESS, "");
    send_req(f, (struct req){ .opcode = BIN_PREPEND, .key = "a", .value = "w", .nvalue = 1 });
    expect_reply(f, BIN_PREPEND, BIN_SUCCESS, "");
    send_req(f, (struct req){ .opcode = BIN_APPEND, .key = "b", .value = "z", .nvalue = 1 });
    expect_reply(f, BIN_APPEND, BIN_NOT_STORED, "Not stored.");
    send_req(f, (struct req){ .opcode = BIN_GET, .key = "a" });
    expect_reply(f, BIN_GET, BIN_SUCCESS, "wxz");
    assert_int_equal(f->srv.thread_stats.cmd_set, 6);
}

static void test_cas(void **state)
{
    struct fixture *f = *state;
    send_set(f, BIN_SET, "a", "1", 0, 0);
    uint64_t cas = next_reply(f).h.cas;
    send_set(f, BIN_SET, "a", "2", 0, cas + 1);
    expect_reply(f, BIN_SET, BIN_KEY_EEXISTS, "Data exists for key.");
    send_set(f, BIN_SET, "b", "2", 0, 5);
    expect_reply(f, BIN_SET, BIN_KEY_ENOENT, "Not found");
    send_req(f, (struct req){ .opcode = BIN_DELETE, .key = "a", .cas = cas + 1 });
    expect_reply(f, BIN_DELETE, BIN_KEY_EEXISTS, "Data exists for key.");
    send_delta(f, BIN_INCREMENT, "a", 1, 0, BIN_DELTA_NO_INITIAL);
    struct reply incr = next_reply(f);
    assert_int_equal(incr.h.status, BIN_SUCCESS);
    assert_int_not_equal(incr.h.cas, cas);
    send_set(f, BIN_SET, "a", "7", 0, incr.h.cas);
    struct reply swapped = next_reply(f);
    assert_int_equal(swapped.h.status, BIN_SUCCESS);
    send_req(f, (struct req){ .opcode = BIN_DELETE, .key = "a", .cas = swapped.h.cas });
    expect_reply(f, BIN_DELETE, BIN_SUCCESS, "");
    assert_int_equal(f->srv.thread_stats.cas_badval, 1);
    assert_int_equal(f->srv.thread_stats.cas_misses, 1);
    assert_int_equal(f->srv.thread_stats.cas_hits, 1);
}

static void test_incr_decr(void **state)
{
    struct fixture *f = *state;
    send_delta(f, BIN_INCREMENT, "n", 1, 0, BIN_DELTA_NO_INITIAL);
    expect_reply(f, BIN_INCREMENT, BIN_KEY_ENOENT, "Not found");
    send_delta(f, BIN_DECREMENT, "n", 1, 40, 0);
    expect_number(f, BIN_DECREMENT, 40);
    send_delta(f, BIN_INCREMENT, "n", 2, 0, 0);
    expect_number(f, BIN_INCREMENT, 42);
    send_delta(f, BIN_DECREMENT, "n", 100, 0, 0);
    expect_number(f, BIN_DECREMENT, 0);
    send_set(f, BIN_SET, "s", "abc", 0, 0);
    next_reply(f);
    send_delta(f, BIN_INCREMENT, "s", 1, 0, 0);
    expect_reply(f, BIN_INCREMENT, BIN_DELTA_BADVAL,
                 "Non-numeric server-side value for incr or decr");
    /* Only the miss without an initial value counts as one. */
    assert_int_equal(f->srv.thread_stats.incr_misses, 1);
    assert_int_equal(f->srv.thread_stats.incr_hits, 1);
    assert_int_equal(f->srv.thread_stats.decr_hits, 1);
}

static void test_server_commands(void **state)
{
    struct fixture *f = *state;
    send_set(f, BIN_SET, "a", "1", 0, 0);
    next_reply(f);
    send_req(f, (struct req){ .opcode = BIN_FLUSH });
    expect_reply(f, BIN_FLUSH, BIN_SUCCESS, "");
    send_req(f, (struct req){ .opcode = BIN_GETQ, .key = "a" });
    send_req(f, (struct req){ .opcode = BIN_VERSION });
    expect_reply(f, BIN_VERSION, BIN_SUCCESS, XDPCACHED_PROTOCOL_VERSION);
    assert_int_equal(f->srv.thread_stats.cmd_flush, 1);
    send_req(f, (struct req){ .opcode = BIN_QUIT, .opaque = 3 });
    expect_reply(f, BIN_QUIT, BIN_SUCCESS, "");
    assert_true(f->pc.close_after_write);
}

static void test_flush_disabled(void **state)
{
    struct fixture *f = *state;
    f->srv.settings.flush_enabled = false;
    send_req(f, (struct req){ .opcode = BIN_FLUSHQ });
    expect_reply(f, BIN_FLUSHQ, BIN_AUTH_ERROR, "Auth failure.");
    assert_int_equal(f->srv.thread_stats.cmd_flush, 0);
}

static void test_stat_groups(void **state)
{
    struct fixture *f = *state;
    send_req(f, (struct req){ .opcode = BIN_STAT, .key = "detail on" });
    expect_reply(f, BIN_STAT, BIN_SUCCESS, "");
    send_req(f, (struct req){ .opcode = BIN_GET, .key = "p:x" });
    next_reply(f);
    send_req(f, (struct req){ .opcode = BIN_STAT, .key = "detail dump" });
    struct reply dump = next_reply(f);
    assert_int_equal(dump.h.keylen, 8);
    assert_memory_equal(dump.key, "detailed", 8);
    const char *text = "PREFIX p get 1 hit 0 set 0 del 0\r\nEND\r\n";
    assert_int_equal(dump.nvalue, strlen(text));
    assert_memory_equal(dump.value, text, dump.nvalue);
    expect_reply(f, BIN_STAT, BIN_SUCCESS, "");      /* the end packet */
    send_req(f, (struct req){ .opcode = BIN_STAT, .key = "nosuchgroup" });
    expect_reply(f, BIN_STAT, BIN_KEY_ENOENT, "Not found");
    send_req(f, (struct req){ .opcode = BIN_STAT, .key = "reset" });
    expect_reply(f, BIN_STAT, BIN_SUCCESS, "");
    assert_true(no_reply_left(f));

    /* The general list: name/value packets ending with an empty one. */
    send_req(f, (struct req){ .opcode = BIN_STAT });
    struct reply first = next_reply(f);
    assert_int_equal(first.h.keylen, 3);
    assert_memory_equal(first.key, "pid", 3);
    struct reply r;
    do
        r = next_reply(f);
    while (r.h.bodylen > 0);
    assert_true(no_reply_left(f));
}

static void test_bad_magic_closes(void **state)
{
    struct fixture *f = *state;
    struct req noop = { .opcode = BIN_NOOP };
    char buf[64];
    size_t n = build(buf, &noop);
    feed(f, buf, n);
    expect_reply(f, BIN_NOOP, BIN_SUCCESS, "");
    buf[0] = 0x81;
    feed(f, buf, 10);
    assert_false(f->pc.close_now);                  /* a whole header first */
    feed(f, buf + 10, n - 10);
    assert_true(f->pc.close_now);
    assert_true(no_reply_left(f));
}

static void test_bad_lengths(void **state)
{
    struct fixture *f = *state;
    char buf[64];
    size_t n = build(buf, &(struct req){ .opcode = BIN_GET, .key = "abc" });
    uint32_t short_body = htobe32(2);
    memcpy(buf + 8, &short_body, 4);
    feed(f, buf, n);
    expect_reply(f, BIN_GET, BIN_UNKNOWN_COMMAND, "Unknown command");
    assert_true(f->pc.close_after_write);

    fresh_connection(f);
    send_req(f, (struct req){ .opcode = BIN_GETQ, .key = "a", .extras = "x", .extlen = 1 });
    expect_reply(f, BIN_GETQ, BIN_EINVAL, "Invalid arguments");
    assert_true(f->pc.close_after_write);

    fresh_connection(f);
    char key[252];
    memset(key, 'k', 251);
    key[251] = '\0';
    send_req(f, (struct req){ .opcode = BIN_GET, .key = key });
    expect_reply(f, BIN_GET, BIN_EINVAL, "Invalid arguments");
    assert_true(f->pc.close_after_write);
}

static void test_too_large_value_is_swallowed(void **state)
{
    struct fixture *f = *state;
    send_set(f, BIN_SET, "a", "old", 0, 0);
    next_reply(f);
    size_t big = (1 << 20) + 1;
    char *value = malloc(big);
    memset(value, 'v', big);
    uint32_t extras[2] = { 0, 0 };
    static char packet[(1 << 20) + 64];
    size_t n = build(packet, &(struct req){ .opcode = BIN_SET, .key = "a", .extras = extras,
                                            .extlen = 8, .value = value, .nvalue = big });
    feed(f, packet, 40);                            /* header, extras, key and a bit */
    expect_reply(f, BIN_SET, BIN_E2BIG, "Too large.");
    assert_true(protocol_mid_request(&f->pc));      /* swallowing */
    feed(f, packet + 40, n - 40);
    assert_false(protocol_mid_request(&f->pc));
    send_req(f, (struct req){ .opcode = BIN_GET, .key = "a" });
    expect_reply(f, BIN_GET, BIN_KEY_ENOENT, "Not found");   /* the old value is gone */
    free(value);
}

static void test_truncated_request_waits(void **state)
{
    struct fixture *f = *state;
    char packet[128];
    uint32_t extras[2] = { 0, 0 };
    size_t n = build(packet, &(struct req){ .opcode = BIN_SET, .key = "key", .extras = extras,
                                            .extlen = 8, .value = "0123456789", .nvalue = 10 });
    for (size_t i = 0; i + 1 < n; i++) {
        feed(f, packet + i, 1);
        assert_true(no_reply_left(f));
        assert_int_equal(f->pc.need, i + 1 < BIN_HEADER_LEN ? BIN_HEADER_LEN
                                     : i + 1 < BIN_HEADER_LEN + 11 ? BIN_HEADER_LEN + 11 : n);
    }
    assert_true(protocol_mid_request(&f->pc));      /* waiting for the value */
    feed(f, packet + n - 1, 1);
    expect_reply(f, BIN_SET, BIN_SUCCESS, "");
    assert_false(protocol_mid_request(&f->pc));
    assert_int_equal(f->completed, 1);
}

static void test_unknown_and_sasl(void **state)
{
    struct fixture *f = *state;
    /* An unknown opcode swallows bodylen bytes after its extras and key. */
    send_req(f, (struct req){ .opcode = 0x40, .key = "ab", .value = "cd", .nvalue = 2 });
    expect_reply(f, 0x40, BIN_UNKNOWN_COMMAND, "Unknown command");
    feed(f, "xx", 2);
    send_req(f, (struct req){ .opcode = BIN_NOOP });
    expect_reply(f, BIN_NOOP, BIN_SUCCESS, "");

    send_req(f, (struct req){ .opcode = BIN_SASL_LIST_MECHS });
    expect_reply(f, BIN_SASL_LIST_MECHS, BIN_UNKNOWN_COMMAND, "Unknown command");
    send_req(f, (struct req){ .opcode = BIN_SASL_AUTH, .key = "PLAIN", .value = "\0u\0p",
                              .nvalue = 4 });
    expect_reply(f, BIN_SASL_AUTH, BIN_UNKNOWN_COMMAND, "Unknown command");
    send_req(f, (struct req){ .opcode = BIN_VERBOSITY, .extras = "\0\0\0\1", .extlen = 4 });
    expect_reply(f, BIN_VERBOSITY, BIN_UNKNOWN_COMMAND, "Unknown command");
    feed(f, "\0\0\0\0", 4);
    send_req(f, (struct req){ .opcode = BIN_NOOP });
    expect_reply(f, BIN_NOOP, BIN_SUCCESS, "");
    assert_false(f->pc.close_now || f->pc.close_after_write);
}

static void test_text_connection_stays_text(void **state)
{
    struct fixture *f = *state;
    feed(f, "version\r\n", 9);
    char packet[64];
    feed(f, packet, build(packet, &(struct req){ .opcode = BIN_NOOP }));
    feed(f, "\r\n", 2);
    assert_int_equal(f->pc.protocol, PROTO_TEXT);
    const char *want = "VERSION " XDPCACHED_PROTOCOL_VERSION "\r\nERROR\r\n";
    assert_true(f->out.len > strlen(want));
    assert_memory_equal(f->out.data, want, strlen(want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_then_get_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr_decr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_magic_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_value_is_swallowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_request_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_sasl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_connection_stays_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
