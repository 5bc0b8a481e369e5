/* test_store.c - unit tests for the item store (user/store.c, user/hash.c). */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "hash.h"
#include "store.h"

#define MB (1024 * 1024)

/* ---- helpers ------------------------------------------------------------ */

static struct store *new_store_with(size_t mem_limit, size_t item_size_max, bool use_cas,
                                    bool evict, unsigned hashpower)
{
    struct store_config config = {
        .mem_limit = mem_limit, .item_size_max = item_size_max,
        .use_cas = use_cas, .evict = evict, .hashpower = hashpower, .reclaim_expired = true,
    };
    struct store *s = store_create(&config);
    assert_non_null(s);
    return s;
}

static struct store *new_store(bool use_cas)
{
    return new_store_with(64 * MB, MB, use_cas, true, 0);
}

static enum store_status put(struct store *s, enum store_mode mode, const char *key,
                             const char *value, uint32_t flags, rel_time_t exptime,
                             uint64_t cas, uint64_t *cas_out)
{
    struct store_write w = {
        .key = key, .nkey = strlen(key), .value = value, .nvalue = strlen(value),
        .flags = flags, .exptime = exptime, .cas = cas,
    };
    return store_write(s, mode, &w, cas_out);
}

static enum store_status set(struct store *s, const char *key, const char *value)
{
    return put(s, STORE_SET, key, value, 0, 0, 0, NULL);
}

struct fetched {
    char key[STORE_KEY_MAX + 1];
    char value[16384];     /* NUL-terminated copy */
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
    rel_time_t exptime;
};

static void copy_view(void *ctx, const struct item_view *v)
{
    struct fetched *f = ctx;
    assert_true(v->nvalue < sizeof f->value);
    memcpy(f->key, v->key, v->nkey);
    f->key[v->nkey] = '\0';
    memcpy(f->value, v->value, v->nvalue);
    f->value[v->nvalue] = '\0';
    f->nvalue = v->nvalue;
    f->flags = v->flags;
    f->cas = v->cas;
    f->exptime = v->exptime;
}

static enum store_lookup fetch(struct store *s, const char *key, struct fetched *f)
{
    memset(f, 0, sizeof *f);
    return store_get(s, key, strlen(key), NULL, copy_view, f);
}

static void assert_value(struct store *s, const char *key, const char *expected)
{
    struct fetched f;
    assert_int_equal(fetch(s, key, &f), STORE_HIT);
    assert_string_equal(f.key, key);
    assert_int_equal(f.nvalue, strlen(expected));
    assert_string_equal(f.value, expected);
}

static void assert_missing(struct store *s, const char *key)
{
    struct fetched f;
    assert_int_not_equal(fetch(s, key, &f), STORE_HIT);
}

static uint64_t cas_of(struct store *s, const char *key)
{
    struct fetched f;
    assert_int_equal(fetch(s, key, &f), STORE_HIT);
    return f.cas;
}

static enum store_status delta(struct store *s, const char *key, bool incr, uint64_t by,
                               uint64_t *result)
{
    return store_delta(s, key, strlen(key), incr, by, result, NULL);
}

static struct store_stats stats_of(struct store *s)
{
    struct store_stats st;
    store_get_stats(s, &st);
    return st;
}

/* What store.c accounts per item: glibc's chunk for a 22-byte header, the
 * CAS when on, the key and the value. */
static size_t expected_chunk(bool use_cas, size_t nkey, size_t nvalue)
{
    size_t request = 22 + (use_cas ? 8 : 0) + nkey + nvalue;
    size_t chunk = (request + 8 + 15) & ~(size_t)15;
    return chunk < 32 ? 32 : chunk;
}

static int setup(void **state)
{
    (void)state;
    clock_init();
    return 0;
}

/* ---- hash --------------------------------------------------------------- */

/* Flipping any input bit must flip each output bit about half the time. */
static void test_hash_avalanche(void **state)
{
    (void)state;
    unsigned flips[64] = { 0 };
    unsigned trials = 0;
    srand(7);
    for (size_t len = 1; len <= 40; len += 3) {
        for (int t = 0; t < 200; t++) {
            unsigned char key[40];
            for (size_t i = 0; i < len; i++)
                key[i] = (unsigned char)rand();
            uint64_t seed = (uint64_t)rand() << 32 | (uint64_t)rand();
            uint64_t h = hash64(key, len, seed);
            for (size_t bit = 0; bit < len * 8; bit++) {
                key[bit / 8] ^= (unsigned char)(1u << bit % 8);
                uint64_t diff = h ^ hash64(key, len, seed);
                key[bit / 8] ^= (unsigned char)(1u << bit % 8);
                for (int o = 0; o < 64; o++)
                    flips[o] += (diff >> o) & 1;
                trials++;
            }
        }
    }
    for (int o = 0; o < 64; o++) {
        double rate = (double)flips[o] / trials;
        assert_true(rate > 0.48 && rate < 0.52);
    }
    /* The length and the seed matter too. */
    assert_true(hash64("a\0", 1, 1) != hash64("a\0", 2, 1));
    assert_true(hash64("abc", 3, 1) != hash64("abc", 3, 2));
}

/* ---- basic operations --------------------------------------------------- */

static void test_set_get(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct fetched f;

    assert_int_equal(fetch(s, "k", &f), STORE_MISS);
    assert_int_equal(put(s, STORE_SET, "k", "hello", 42, 1000, 0, NULL), STORE_STORED);
    assert_int_equal(fetch(s, "k", &f), STORE_HIT);
    assert_string_equal(f.value, "hello");
    assert_int_equal(f.flags, 42);
    assert_int_equal(f.exptime, 1000);
    assert_true(f.cas != 0);

    /* Values are bytes: NUL and CRLF inside are kept. */
    struct store_write w = { .key = "bin", .nkey = 3, .value = "a\0b\r\nc", .nvalue = 6 };
    assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    assert_int_equal(fetch(s, "bin", &f), STORE_HIT);
    assert_int_equal(f.nvalue, 6);
    assert_memory_equal(f.value, "a\0b\r\nc", 6);

    /* An empty value and a 250-byte key. */
    char long_key[STORE_KEY_MAX + 1];
    memset(long_key, 'x', STORE_KEY_MAX);
    long_key[STORE_KEY_MAX] = '\0';
    assert_int_equal(set(s, long_key, ""), STORE_STORED);
    assert_value(s, long_key, "");
    long_key[STORE_KEY_MAX - 1] = 'y';
    assert_missing(s, long_key);

    assert_int_equal(set(s, "k", "world"), STORE_STORED);
    assert_value(s, "k", "world");
    assert_int_equal(stats_of(s).curr_items, 3);
    assert_int_equal(stats_of(s).total_items, 4);
    store_destroy(s);
}

static void test_add_replace(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    assert_int_equal(put(s, STORE_REPLACE, "k", "r", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_missing(s, "k");
    assert_int_equal(put(s, STORE_ADD, "k", "a", 0, 0, 0, NULL), STORE_STORED);
    assert_int_equal(put(s, STORE_ADD, "k", "b", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_value(s, "k", "a");
    assert_int_equal(put(s, STORE_REPLACE, "k", "c", 5, 0, 0, NULL), STORE_STORED);
    assert_value(s, "k", "c");
    assert_int_equal(stats_of(s).curr_items, 1);
    /* A refused write gives its memory back. */
    assert_int_equal(stats_of(s).bytes, expected_chunk(true, 1, 1));
    store_destroy(s);
}

static void test_append_prepend(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct fetched f;
    assert_int_equal(put(s, STORE_APPEND, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_PREPEND, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_missing(s, "k");

    rel_time_t exptime = clock_now() + 100;
    assert_int_equal(put(s, STORE_SET, "k", "mid", 7, exptime, 0, NULL), STORE_STORED);
    uint64_t cas_out = 0;
    assert_int_equal(put(s, STORE_APPEND, "k", "_end", 9, 5, 0, &cas_out), STORE_STORED);
    assert_int_equal(put(s, STORE_PREPEND, "k", "start_", 9, 5, 0, NULL), STORE_STORED);
    assert_int_equal(fetch(s, "k", &f), STORE_HIT);
    assert_string_equal(f.value, "start_mid_end");
    assert_int_equal(f.flags, 7);          /* the old item's flags ... */
    assert_int_equal(f.exptime, exptime);  /* ... and expiry are kept */
    assert_true(f.cas > cas_out);
    assert_int_equal(stats_of(s).curr_items, 1);
    assert_int_equal(stats_of(s).bytes, expected_chunk(true, 1, 13));
    store_destroy(s);
}

/* memcached fails to allocate a combined item over -I and says NOT_STORED. */
static void test_append_over_item_size_max(void **state)
{
    (void)state;
    struct store *s = new_store_with(MB, 1024, true, true, 0);
    char big[1024];
    /* 48 + 1 + 1 + (nvalue + 2) + 8 <= 1024 allows 964 bytes. */
    memset(big, 'v', 900);
    big[900] = '\0';
    assert_int_equal(set(s, "k", big), STORE_STORED);
    assert_int_equal(put(s, STORE_APPEND, "k", "0123456789012345678901234567890123456789"
                         "0123456789012345678901234567890123456789", 0, 0, 0, NULL),
                     STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_APPEND, "k", "0123456789012345678901234567890123456789"
                         "012345678901234567890123", 0, 0, 0, NULL), STORE_STORED);
    struct fetched f;
    assert_int_equal(fetch(s, "k", &f), STORE_HIT);
    assert_int_equal(f.nvalue, 964);
    store_destroy(s);
}

static void test_delete(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    assert_int_equal(store_delete(s, "k", 1), STORE_NOT_FOUND);
    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    assert_int_equal(store_delete(s, "k", 1), STORE_NOT_FOUND);
    assert_missing(s, "k");
    assert_int_equal(stats_of(s).curr_items, 0);
    assert_int_equal(stats_of(s).bytes, 0);
    store_destroy(s);
}

static void test_touch_and_gat(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct fetched f;
    rel_time_t now = clock_now();
    assert_int_equal(store_touch(s, "k", 1, now + 5), STORE_NOT_FOUND);
    assert_int_equal(put(s, STORE_SET, "k", "v", 3, now + 5, 0, NULL), STORE_STORED);
    uint64_t cas = cas_of(s, "k");

    assert_int_equal(store_touch(s, "k", 1, now + 50), STORE_TOUCHED);
    assert_int_equal(fetch(s, "k", &f), STORE_HIT);
    assert_int_equal(f.exptime, now + 50);
    assert_int_equal(f.cas, cas); /* touch keeps the CAS, as memcached does */

    rel_time_t later = now + 80;
    memset(&f, 0, sizeof f);
    assert_int_equal(store_get(s, "k", 1, &later, copy_view, &f), STORE_HIT);
    assert_int_equal(f.exptime, later); /* gat shows the new expiry */
    assert_int_equal(f.cas, cas);
    assert_string_equal(f.value, "v");

    rel_time_t never = 0;
    assert_int_equal(store_get(s, "k", 1, &never, copy_view, &f), STORE_HIT);
    clock_advance_for_tests(100);
    assert_value(s, "k", "v");
    assert_int_equal(store_touch(s, "zz", 2, 0), STORE_NOT_FOUND);
    store_destroy(s);
}

/* ---- CAS ---------------------------------------------------------------- */

static void test_cas_on(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    uint64_t cas = 0, prev, result;

    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 1, NULL), STORE_NOT_FOUND);
    assert_int_equal(put(s, STORE_SET, "k", "1", 0, 0, 0, &cas), STORE_STORED);
    assert_int_equal(cas, cas_of(s, "k"));
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, cas + 1, NULL), STORE_EXISTS);
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 0, NULL), STORE_EXISTS);
    assert_value(s, "k", "1");
    prev = cas;
    assert_int_equal(put(s, STORE_CAS, "k", "2", 0, 0, cas, &cas), STORE_STORED);
    assert_true(cas > prev);
    assert_int_equal(put(s, STORE_CAS, "k", "3", 0, 0, prev, NULL), STORE_EXISTS);
    assert_value(s, "k", "2");

    /* Every mutation gets a fresh, larger CAS. */
    enum store_mode modes[] = { STORE_SET, STORE_REPLACE, STORE_APPEND, STORE_PREPEND };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        prev = cas_of(s, "k");
        assert_int_equal(put(s, modes[i], "k", "4", 0, 0, 0, &cas), STORE_STORED);
        assert_true(cas > prev);
        assert_int_equal(cas, cas_of(s, "k"));
    }
    assert_int_equal(set(s, "n", "5"), STORE_STORED);
    for (int incr = 0; incr < 2; incr++) {
        prev = cas_of(s, "n");
        assert_int_equal(store_delta(s, "n", 1, incr, 1, &result, &cas), STORE_DELTA_OK);
        assert_true(cas > prev);
        assert_int_equal(cas, cas_of(s, "n"));
    }
    /* Growing past the old length replaces the item: still a new CAS. */
    prev = cas_of(s, "n");
    assert_int_equal(store_delta(s, "n", 1, true, 100, &result, &cas), STORE_DELTA_OK);
    assert_true(cas > prev);
    assert_int_equal(cas, cas_of(s, "n"));
    assert_int_equal(stats_of(s).item_header_bytes, 30);
    store_destroy(s);
}

/* -C: no CAS field, CAS reads 0, and a cas command can never match. */
static void test_cas_off(void **state)
{
    (void)state;
    struct store *s = new_store(false);
    uint64_t cas = 99, result;
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 0, NULL), STORE_NOT_FOUND);
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 5, NULL), STORE_NOT_FOUND);
    assert_int_equal(put(s, STORE_SET, "k", "1", 0, 0, 0, &cas), STORE_STORED);
    assert_int_equal(cas, 0);
    assert_int_equal(cas_of(s, "k"), 0);
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 0, NULL), STORE_EXISTS);
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 1, NULL), STORE_EXISTS);
    cas = 99;
    assert_int_equal(store_delta(s, "k", 1, true, 1, &result, &cas), STORE_DELTA_OK);
    assert_int_equal(cas, 0);
    assert_value(s, "k", "2");

    /* -C saves the 8-byte CAS: here 22 + 3 + 10 = 35 bytes fit a 48-byte
     * chunk, where 43 with the CAS need 64. */
    assert_int_equal(stats_of(s).item_header_bytes, 22);
    struct store *with_cas = new_store(true);
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    assert_int_equal(set(s, "key", "0123456789"), STORE_STORED);
    assert_int_equal(set(with_cas, "key", "0123456789"), STORE_STORED);
    assert_int_equal(stats_of(s).bytes, 48);
    assert_int_equal(stats_of(with_cas).bytes, 64);
    store_destroy(with_cas);
    store_destroy(s);
}

/* ---- incr / decr -------------------------------------------------------- */

static void test_incr_decr(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    uint64_t result = 0;
    struct fetched f;

    assert_int_equal(delta(s, "n", true, 1, &result), STORE_NOT_FOUND);
    assert_int_equal(put(s, STORE_SET, "n", "10", 77, clock_now() + 1000, 0, NULL), STORE_STORED);
    assert_int_equal(delta(s, "n", true, 5, &result), STORE_DELTA_OK);
    assert_int_equal(result, 15);
    assert_value(s, "n", "15");

    /* Shorter result: in place, space padded to the old length. */
    assert_int_equal(delta(s, "n", false, 6, &result), STORE_DELTA_OK);
    assert_int_equal(result, 9);
    assert_value(s, "n", "9 ");
    /* The padding is white space, so the value still parses. */
    assert_int_equal(delta(s, "n", true, 1, &result), STORE_DELTA_OK);
    assert_value(s, "n", "10");

    /* Floor at zero. */
    assert_int_equal(delta(s, "n", false, 1000, &result), STORE_DELTA_OK);
    assert_int_equal(result, 0);
    assert_value(s, "n", "0 ");

    /* Longer result: a new item of exactly the new length, same flags and expiry. */
    rel_time_t exptime;
    assert_int_equal(fetch(s, "n", &f), STORE_HIT);
    exptime = f.exptime;
    assert_int_equal(delta(s, "n", true, 12345, &result), STORE_DELTA_OK);
    assert_int_equal(fetch(s, "n", &f), STORE_HIT);
    assert_string_equal(f.value, "12345");
    assert_int_equal(f.flags, 77);
    assert_int_equal(f.exptime, exptime);
    assert_int_equal(stats_of(s).bytes, expected_chunk(true, 1, 5));

    /* Wrap at 2^64. */
    assert_int_equal(set(s, "max", "18446744073709551615"), STORE_STORED);
    assert_int_equal(delta(s, "max", true, 2, &result), STORE_DELTA_OK);
    assert_int_equal(result, 1);
    assert_value(s, "max", "1                   ");
    assert_int_equal(set(s, "max", "18446744073709551610"), STORE_STORED);
    assert_int_equal(delta(s, "max", true, UINT64_MAX, &result), STORE_DELTA_OK);
    assert_int_equal(result, 18446744073709551609ull);
    assert_int_equal(delta(s, "max", false, UINT64_MAX, &result), STORE_DELTA_OK);
    assert_int_equal(result, 0);

    assert_int_equal(delta(s, "missing", false, 1, &result), STORE_NOT_FOUND);
    store_destroy(s);
}

/* memcached's safe_strtoull() as it sees a stored value: followed by CRLF. */
static bool reference_strtoull(const char *value, size_t n, uint64_t *out)
{
    char buf[128];
    assert_true(n + 3 <= sizeof buf);
    memcpy(buf, value, n);
    memcpy(buf + n, "\r\n", 3);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end == buf)
        return false;
    if (*end != ' ' && (*end < '\t' || *end > '\r') && *end != '\0')
        return false;
    if ((long long)v < 0 && strchr(buf, '-'))
        return false;
    *out = v;
    return true;
}

static void assert_delta_like_memcached(struct store *s, const char *value, size_t n)
{
    struct store_write w = { .key = "p", .nkey = 1, .value = value, .nvalue = n };
    uint64_t expected = 0, result = 0;
    assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    bool numeric = reference_strtoull(value, n, &expected);
    enum store_status status = store_delta(s, "p", 1, true, 0, &result, NULL);
    if (status != (numeric ? STORE_DELTA_OK : STORE_NON_NUMERIC) || result != expected)
        fail_msg("value \"%.*s\": got status %d result %" PRIu64 ", expected %s %" PRIu64,
                 (int)n, value, status, result, numeric ? "ok" : "non-numeric", expected);
}

static void test_delta_parsing(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    static const char *cases[] = {
        "", " ", "\t\r\n", "abc", "12abc", "1.5", "-1", "-0", "+7", " 12", "12 x", "007",
        "0x10", "18446744073709551615", "18446744073709551616", "-18446744073709551615",
        "-9223372036854775809", "9223372036854775808", "- 5", "+", "-", "5\n", "5\v",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_delta_like_memcached(s, cases[i], strlen(cases[i]));

    uint64_t result;
    assert_int_equal(set(s, "p", "abc"), STORE_STORED);
    assert_int_equal(delta(s, "p", true, 1, &result), STORE_NON_NUMERIC);
    assert_value(s, "p", "abc");
    assert_int_equal(set(s, "p", ""), STORE_STORED);
    assert_int_equal(delta(s, "p", false, 1, &result), STORE_NON_NUMERIC);

    /* Random strings over the characters that matter to strtoull. */
    static const char alphabet[] = " \t\r\n+-0123456789x9";
    srand(11);
    for (int t = 0; t < 20000; t++) {
        char value[24];
        size_t n = (size_t)rand() % sizeof value;
        for (size_t i = 0; i < n; i++)
            value[i] = alphabet[rand() % (sizeof alphabet - 1)];
        assert_delta_like_memcached(s, value, n);
    }
    store_destroy(s);
}

/* ---- expiry ------------------------------------------------------------- */

static void test_expiry(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct fetched f;
    uint64_t result;
    rel_time_t now = clock_now();

    assert_int_equal(put(s, STORE_SET, "k", "v", 0, now + 10, 0, NULL), STORE_STORED);
    clock_advance_for_tests(9);
    assert_value(s, "k", "v");
    clock_advance_for_tests(1);
    assert_int_equal(fetch(s, "k", &f), STORE_MISS_EXPIRED);
    assert_int_equal(fetch(s, "k", &f), STORE_MISS); /* dropped the first time */
    assert_int_equal(stats_of(s).curr_items, 0);
    assert_int_equal(stats_of(s).bytes, 0);

    /* Every operation sees an expired item as missing. */
    const char *keys[] = { "add", "replace", "append", "cas", "delete", "touch", "incr" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_equal(put(s, STORE_SET, keys[i], "1", 0, clock_now() + 1, 0, NULL),
                         STORE_STORED);
    clock_advance_for_tests(1);
    assert_int_equal(put(s, STORE_ADD, "add", "new", 0, 0, 0, NULL), STORE_STORED);
    assert_value(s, "add", "new");
    assert_int_equal(put(s, STORE_REPLACE, "replace", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_APPEND, "append", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_CAS, "cas", "x", 0, 0, 1, NULL), STORE_NOT_FOUND);
    assert_int_equal(store_delete(s, "delete", 6), STORE_NOT_FOUND);
    assert_int_equal(store_touch(s, "touch", 5, 0), STORE_NOT_FOUND);
    assert_int_equal(delta(s, "incr", true, 1, &result), STORE_NOT_FOUND);
    assert_int_equal(stats_of(s).curr_items, 1);
    store_destroy(s);
}

/* Expiry times as clients send them, through clock_realtime(). */
static void test_realtime_expiry(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct fetched f;

    assert_int_equal(put(s, STORE_SET, "neg", "v", 0, clock_realtime(-1), 0, NULL), STORE_STORED);
    assert_int_equal(fetch(s, "neg", &f), STORE_MISS_EXPIRED);

    int64_t unix_now = clock_process_started() + clock_now();
    assert_int_equal(put(s, STORE_SET, "abs", "v", 0, clock_realtime(unix_now + 100), 0, NULL),
                     STORE_STORED);
    assert_int_equal(put(s, STORE_SET, "past", "v", 0, clock_realtime(unix_now - 100000000), 0,
                         NULL), STORE_STORED);
    assert_int_equal(put(s, STORE_SET, "rel", "v", 0, clock_realtime(50), 0, NULL), STORE_STORED);
    assert_int_equal(fetch(s, "past", &f), STORE_MISS_EXPIRED);
    clock_advance_for_tests(49);
    assert_value(s, "abs", "v");
    assert_value(s, "rel", "v");
    clock_advance_for_tests(1);
    assert_int_equal(fetch(s, "rel", &f), STORE_MISS_EXPIRED);
    assert_value(s, "abs", "v");
    clock_advance_for_tests(50);
    assert_int_equal(fetch(s, "abs", &f), STORE_MISS_EXPIRED);
    store_destroy(s);
}

/* With reclaim off (-o no_lru_crawler) store_tick leaves expired items for
 * the requests that meet them. */
static void test_tick_without_reclaim_keeps_expired(void **state)
{
    (void)state;
    struct store_config config = {
        .mem_limit = 64 * MB, .item_size_max = MB, .use_cas = true, .evict = true,
    };
    struct store *s = store_create(&config);
    assert_int_equal(put(s, STORE_SET, "k", "v", 0, clock_now() + 1, 0, NULL), STORE_STORED);
    clock_advance_for_tests(2);
    store_tick(s);
    assert_int_equal(stats_of(s).curr_items, 1);
    assert_int_equal(stats_of(s).reclaimed, 0);
    assert_true(store_get(s, "k", 1, NULL, NULL, NULL) == STORE_MISS_EXPIRED);
    store_destroy(s);
}

/* store_tick reclaims expired items nobody asks for, and counts them. */
static void test_tick_reclaims_expired(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "exp%d", i);
        assert_int_equal(put(s, STORE_SET, key, "v", 0, clock_now() + 5, 0, NULL), STORE_STORED);
    }
    assert_int_equal(set(s, "forever", "v"), STORE_STORED);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "exp%d", i);
        assert_value(s, key, "v");
    }
    store_tick(s);
    assert_int_equal(stats_of(s).reclaimed, 0);
    clock_advance_for_tests(5);
    for (int i = 0; i < 64 && stats_of(s).curr_items > 1; i++)
        store_tick(s);
    struct store_stats st = stats_of(s);
    assert_int_equal(st.curr_items, 1);
    assert_int_equal(st.reclaimed, 3000);
    assert_int_equal(st.expired_unfetched, 2000);
    assert_int_equal(st.bytes, expected_chunk(true, 7, 1));
    assert_value(s, "forever", "v");
    store_destroy(s);
}

/* ---- flush -------------------------------------------------------------- */

static void fill(struct store *s, const char *prefix, int n)
{
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        assert_int_equal(set(s, key, "value"), STORE_STORED);
    }
}

static int count_present(struct store *s, const char *prefix, int n)
{
    char key[32];
    struct fetched f;
    int present = 0;
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        present += fetch(s, key, &f) == STORE_HIT;
    }
    return present;
}

static void test_flush_now(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    fill(s, "a", 1000);
    store_flush(s, clock_now());
    /* Freed at once, not on next access. */
    assert_int_equal(stats_of(s).curr_items, 0);
    assert_int_equal(stats_of(s).bytes, 0);
    assert_int_equal(count_present(s, "a", 1000), 0);
    fill(s, "b", 100);
    assert_int_equal(count_present(s, "b", 100), 100);
    store_flush(s, 0); /* any time in the past means now */
    assert_int_equal(count_present(s, "b", 100), 0);
    /* Two flushes in the same second both flush. */
    fill(s, "c", 100);
    store_flush(s, clock_now());
    assert_int_equal(count_present(s, "c", 100), 0);
    store_destroy(s);
}

static void test_flush_delayed(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    fill(s, "old", 500);
    store_flush(s, clock_now() + 10);
    clock_advance_for_tests(5);
    fill(s, "mid", 500);
    clock_advance_for_tests(4);
    assert_int_equal(count_present(s, "old", 500), 500);
    assert_int_equal(count_present(s, "mid", 500), 500);
    clock_advance_for_tests(1);
    assert_int_equal(count_present(s, "old", 500), 0);
    assert_int_equal(count_present(s, "mid", 500), 0);
    fill(s, "new", 500); /* stored at the flush time: newer than it */
    assert_int_equal(count_present(s, "new", 500), 500);
    store_tick(s);
    assert_int_equal(stats_of(s).curr_items, 500);

    /* A later flush_all replaces a pending one. */
    store_flush(s, clock_now() + 10);
    store_flush(s, clock_now() + 20);
    clock_advance_for_tests(10);
    assert_int_equal(count_present(s, "new", 500), 500);
    clock_advance_for_tests(10);
    assert_int_equal(count_present(s, "new", 500), 0);
    store_destroy(s);
}

/* A due flush applies through store_tick alone, and is not undone when a
 * new flush replaces it before every shard has applied it. */
static void test_flush_due_then_replaced(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    fill(s, "a", 1000);
    store_flush(s, clock_now() + 2);
    clock_advance_for_tests(2);
    store_tick(s);
    assert_int_equal(stats_of(s).curr_items, 0);
    assert_int_equal(stats_of(s).bytes, 0);

    fill(s, "b", 1000);
    store_flush(s, clock_now() + 2);
    clock_advance_for_tests(3);
    store_flush(s, clock_now() + 100);
    assert_int_equal(count_present(s, "b", 1000), 0);
    assert_int_equal(stats_of(s).curr_items, 0);
    store_destroy(s);
}

/* ---- limits, memory and eviction ----------------------------------------- */

static void test_item_size_limit(void **state)
{
    (void)state;
    static char value[1024];
    memset(value, 'v', sizeof value - 1);
    for (int use_cas = 0; use_cas < 2; use_cas++) {
        struct store *s = new_store_with(MB, 1024, use_cas, true, 0);
        for (uint32_t flags = 0; flags < 2; flags++) {
            /* memcached: 48 + nkey + 1 + nvalue + 2 + (flags ? 4 : 0) + (cas ? 8 : 0) */
            size_t largest = 1024 - 48 - 3 - 1 - 2 - (flags ? 4 : 0) - (use_cas ? 8 : 0);
            struct store_write w = { .key = "key", .nkey = 3, .value = value,
                                     .nvalue = largest, .flags = flags };
            assert_true(store_item_size_ok(s, 3, flags, largest));
            assert_false(store_item_size_ok(s, 3, flags, largest + 1));
            assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
            w.nvalue = largest + 1;
            for (enum store_mode m = STORE_SET; m <= STORE_CAS; m++)
                assert_int_equal(store_write(s, m, &w, NULL), STORE_TOO_LARGE);
        }
        store_destroy(s);
    }
}

static void test_bad_config(void **state)
{
    (void)state;
    struct store_config config = { .mem_limit = MB, .item_size_max = 1024, .hashpower = 33 };
    assert_null(store_create(&config));
    config.hashpower = 0;
    config.mem_limit = 0;
    assert_null(store_create(&config));
    config.mem_limit = MB;
    struct store *s = store_create(&config);
    assert_non_null(s);
    assert_int_equal(stats_of(s).hash_power_level, 16); /* memcached's default */
    assert_int_equal(stats_of(s).limit_maxbytes, MB);
    store_destroy(s);
}

static void test_no_evict_returns_no_memory(void **state)
{
    (void)state;
    struct store *s = new_store_with(64 * 1024, 8192, true, false, 0);
    char key[32], value[1000];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    int stored = 0;
    enum store_status status = STORE_STORED;
    while (status == STORE_STORED) {
        snprintf(key, sizeof key, "k%d", stored);
        status = set(s, key, value);
        stored += status == STORE_STORED;
    }
    assert_int_equal(status, STORE_NO_MEMORY);
    size_t chunk = expected_chunk(true, strlen("k10"), 999);
    assert_int_equal(stored, 64 * 1024 / chunk);
    assert_true(stats_of(s).bytes <= 64 * 1024);
    assert_int_equal(stats_of(s).evictions, 0);
    assert_int_equal(count_present(s, "k", stored), stored);
    /* Growing updates fail the same way; the old values stay. */
    assert_int_equal(put(s, STORE_APPEND, "k0", value, 0, 0, 0, NULL), STORE_NO_MEMORY);
    assert_int_equal(set(s, "num", "9"), STORE_NO_MEMORY);
    /* Room comes back with a delete. */
    assert_int_equal(store_delete(s, "k0", 2), STORE_DELETED);
    assert_int_equal(set(s, key, value), STORE_STORED);
    store_destroy(s);
}

static void test_item_larger_than_memory(void **state)
{
    (void)state;
    struct store *s = new_store_with(4096, 8192, true, true, 0);
    static char value[6000];
    memset(value, 'v', sizeof value - 1);
    assert_int_equal(set(s, "small", "v"), STORE_STORED);
    assert_int_equal(set(s, "big", value), STORE_NO_MEMORY);
    store_destroy(s);
}

static void test_eviction_bounded(void **state)
{
    (void)state;
    const size_t limit = MB;
    struct store *s = new_store_with(limit, MB, true, true, 0);
    char key[32], value[1001];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        assert_int_equal(set(s, key, value), STORE_STORED);
        assert_true(stats_of(s).bytes <= limit);
    }
    struct store_stats st = stats_of(s);
    size_t chunk = expected_chunk(true, 8, 1000);
    assert_int_equal(st.bytes, st.curr_items * chunk);
    assert_true(st.curr_items > limit / chunk - 5);   /* memory is used, not wasted */
    assert_int_equal(st.evictions, 10000 - st.curr_items);
    assert_int_equal(st.evicted_unfetched, st.evictions);
    /* The newest item is there. */
    assert_value(s, "key09999", value);
    store_destroy(s);
}

/* CLOCK, once the cache is running full: items read between passes of the
 * hand survive, unread ones go, and new items get a turn of grace. (The very
 * first eviction finds every item referenced, as inserts count as a use, and
 * clears them all: so warm up first. docs/store.md has the numbers.) */
static void test_eviction_prefers_read(void **state)
{
    (void)state;
    struct store *s = new_store_with(MB, MB, true, true, 0);
    char key[32], value[101];
    memset(value, 'v', 100);
    value[100] = '\0';
    enum { WARMUP = 20000, HOT = 500, ROUNDS = 40, COLD_PER_ROUND = 500 };
    for (int i = 0; i < WARMUP + HOT; i++) {
        snprintf(key, sizeof key, i < WARMUP ? "warm%d" : "hot%d", i < WARMUP ? i : i - WARMUP);
        assert_int_equal(set(s, key, value), STORE_STORED);
    }
    struct fetched f;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < HOT; i++) {
            snprintf(key, sizeof key, "hot%d", i);
            fetch(s, key, &f);
        }
        for (int i = 0; i < COLD_PER_ROUND; i++) {
            snprintf(key, sizeof key, "cold%d", round * COLD_PER_ROUND + i);
            assert_int_equal(set(s, key, value), STORE_STORED);
        }
    }
    int cold_total = ROUNDS * COLD_PER_ROUND;
    double hot_rate = (double)count_present(s, "hot", HOT) / HOT;
    double cold_rate = (double)count_present(s, "cold", cold_total) / cold_total;
    print_message("hot survival %.3f, cold survival %.3f\n", hot_rate, cold_rate);
    assert_true(hot_rate > 0.98);
    assert_true(cold_rate < 0.5);
    /* The newest 5% of the cache: written, never read, all still there. */
    int newest = (int)stats_of(s).curr_items / 20, present = 0;
    for (int i = cold_total - newest; i < cold_total; i++) {
        snprintf(key, sizeof key, "cold%d", i);
        present += fetch(s, key, &f) == STORE_HIT;
    }
    assert_int_equal(present, newest);
    assert_true(stats_of(s).evicted_unfetched > 0);
    store_destroy(s);
}

/* ---- table growth ------------------------------------------------------- */

static void test_growth(void **state)
{
    (void)state;
    /* 2^12 buckets: 64 per shard. 150k keys, ~2340 per shard, make every
     * shard grow 5 times, to 2048 buckets (the next step is at 3072 items). */
    struct store *s = new_store_with(256 * MB, MB, true, true, 12);
    char key[32];
    enum { N = 150000 };
    bool saw_expanding = false;
    assert_int_equal(stats_of(s).hash_power_level, 12);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "g%d", i);
        assert_int_equal(set(s, key, key), STORE_STORED);
        if (i % 1000 == 0) {
            saw_expanding |= stats_of(s).hash_is_expanding;
            /* Mid-migration, every key so far is found. */
            for (int j = 0; j <= i; j += 97) {
                snprintf(key, sizeof key, "g%d", j);
                assert_value(s, key, key);
            }
        }
    }
    assert_true(saw_expanding);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "g%d", i);
        assert_value(s, key, key);
    }
    for (int i = 0; i < 100 && stats_of(s).hash_is_expanding; i++)
        store_tick(s);
    struct store_stats st = stats_of(s);
    assert_false(st.hash_is_expanding);
    assert_int_equal(st.hash_power_level, 17);
    assert_int_equal(st.hash_bytes, (1ull << 17) * sizeof(void *));
    assert_int_equal(st.curr_items, N);
    assert_int_equal(count_present(s, "g", N), N);
    store_destroy(s);
}

/* ---- stats sizes ---------------------------------------------------------- */

struct size_rows {
    size_t size[16];
    uint64_t count[16];
    int n;
};

static void collect_size(void *ctx, size_t size_class, uint64_t count)
{
    struct size_rows *rows = ctx;
    assert_true(rows->n < 16);
    rows->size[rows->n] = size_class;
    rows->count[rows->n++] = count;
}

static void test_size_histogram(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    char key[32];
    static char value[2001];
    memset(value, 'v', 2000);
    struct size_rows rows = { .n = 0 };
    store_size_histogram(s, collect_size, &rows);
    assert_int_equal(rows.n, 0);

    /* 2-byte keys: 32 + value, chunk = that + 8 rounded up to 16. */
    size_t lengths[] = { 1, 2000, 100, 1, 100 };
    for (size_t i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%zu", i);
        struct store_write w = { .key = key, .nkey = 2, .value = value, .nvalue = lengths[i] };
        assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    }
    store_size_histogram(s, collect_size, &rows);
    assert_int_equal(rows.n, 3);
    assert_int_equal(rows.size[0], 64);    /* 33 -> 48 -> 64 */
    assert_int_equal(rows.count[0], 2);
    assert_int_equal(rows.size[1], 160);   /* 132 -> 144 -> 160 */
    assert_int_equal(rows.count[1], 2);
    assert_int_equal(rows.size[2], 2048);  /* 2032 -> 2048 */
    assert_int_equal(rows.count[2], 1);
    store_destroy(s);
}

/* ---- concurrency ---------------------------------------------------------- */

enum { THREADS = 4 };

struct worker {
    struct store *store;
    int id;
    unsigned seed;
    int errors;
    atomic_bool *stop;
};

struct value_check {
    const char *expected;
    bool ok;
};

/* Runs in worker threads: no cmocka asserts there, just a verdict. */
static void value_is(void *ctx, const struct item_view *v)
{
    struct value_check *c = ctx;
    c->ok = v->nvalue == strlen(c->expected) && memcmp(v->value, c->expected, v->nvalue) == 0;
}

/* Exact results under contention: shared counter and log, private keys. */
static void *exact_worker(void *arg)
{
    struct worker *w = arg;
    char key[32], tag[2] = { (char)('a' + w->id), '\0' };
    uint64_t result;
    for (int i = 0; i < 20000; i++) {
        w->errors += store_delta(w->store, "counter", 7, true, 1, &result, NULL) != STORE_DELTA_OK;
        if (i % 10 == 0)
            w->errors += put(w->store, STORE_APPEND, "log", tag, 0, 0, 0, NULL) != STORE_STORED;
        snprintf(key, sizeof key, "t%d-%d", w->id, i);
        w->errors += set(w->store, key, key) != STORE_STORED;
        struct value_check check = { key, false };
        w->errors += store_get(w->store, key, strlen(key), NULL, value_is, &check) != STORE_HIT ||
                     !check.ok;
    }
    return NULL;
}

static void *tick_worker(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(w->stop)) {
        store_tick(w->store);
        usleep(100);
    }
    return NULL;
}

static void run_threads(struct store *s, void *(*fn)(void *), struct worker *workers,
                        atomic_bool *stop)
{
    pthread_t threads[THREADS], ticker;
    struct worker tick = { .store = s, .stop = stop };
    assert_int_equal(pthread_create(&ticker, NULL, tick_worker, &tick), 0);
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){ .store = s, .id = i, .seed = (unsigned)i + 1, .stop = stop };
        assert_int_equal(pthread_create(&threads[i], NULL, fn, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    atomic_store(stop, true);
    pthread_join(ticker, NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(workers[i].errors, 0);
}

static void test_concurrent_exact(void **state)
{
    (void)state;
    struct store *s = new_store_with(256 * MB, MB, true, true, 12);
    struct worker workers[THREADS];
    atomic_bool stop = false;
    assert_int_equal(set(s, "counter", "0"), STORE_STORED);
    assert_int_equal(set(s, "log", ""), STORE_STORED);
    run_threads(s, exact_worker, workers, &stop);

    assert_value(s, "counter", "80000");
    struct fetched f;
    assert_int_equal(fetch(s, "log", &f), STORE_HIT);
    assert_int_equal(f.nvalue, THREADS * 2000);
    for (int t = 0; t < THREADS; t++) {
        int n = 0;
        for (size_t i = 0; i < f.nvalue; i++)
            n += f.value[i] == 'a' + t;
        assert_int_equal(n, 2000);
    }
    assert_int_equal(stats_of(s).curr_items, 2 + THREADS * 20000);
    store_destroy(s);
}

/* Values are one repeated byte that depends on the key, so appends keep
 * them checkable; "n" keys hold numbers that incr/decr keep numeric. */
static char tag_of(const char *key)
{
    return (char)('A' + hash64(key, strlen(key), 0) % 26);
}

struct stress_check {
    const char *key;
    bool ok;
};

/* The key matches and the value has the shape its key calls for. */
static void check_view(void *ctx, const struct item_view *v)
{
    struct stress_check *c = ctx;
    const char *key = c->key;
    size_t i = 0;
    c->ok = v->nkey == strlen(key) && memcmp(v->key, key, v->nkey) == 0;
    if (key[0] == 'n') {
        while (i < v->nvalue && v->value[i] >= '0' && v->value[i] <= '9')
            i++;
        while (i < v->nvalue && v->value[i] == ' ')
            i++;
        c->ok &= v->nvalue > 0;
    } else {
        while (i < v->nvalue && v->value[i] == tag_of(key))
            i++;
    }
    c->ok &= i == v->nvalue;
}

static void stress_one(struct worker *w)
{
    char key[32], value[600];
    struct stress_check check;
    uint64_t result;
    int r = rand_r(&w->seed);
    snprintf(key, sizeof key, "%c%d", r % 5 == 0 ? 'n' : 'k', rand_r(&w->seed) % 3000);
    size_t nkey = strlen(key);
    memset(value, tag_of(key), sizeof value);
    struct store_write wr = { .key = key, .nkey = nkey, .value = value,
                              .nvalue = (size_t)rand_r(&w->seed) % 500,
                              .exptime = r % 7 == 0 ? clock_now() + 1 : 0 };
    if (key[0] == 'n')
        wr.value = "12345", wr.nvalue = 5;
    switch (r / 5 % 8) {
    case 0: case 1: case 2:
        check = (struct stress_check){ key, true };
        store_get(w->store, key, nkey, NULL, check_view, &check);
        w->errors += !check.ok;
        break;
    case 3:
        store_write(w->store, STORE_SET, &wr, NULL);
        break;
    case 4:
        store_write(w->store, key[0] == 'n' ? STORE_ADD : STORE_APPEND, &wr, NULL);
        break;
    case 5:
        store_delta(w->store, key, nkey, r % 2, (uint64_t)r, &result, NULL);
        break;
    case 6:
        store_touch(w->store, key, nkey, r % 3 ? 0 : clock_now() + 1);
        break;
    default:
        if (r % 1000 == 0)
            store_flush(w->store, clock_now() + (rel_time_t)(r % 2));
        else
            store_delete(w->store, key, nkey);
    }
}

static void *stress_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 100000; i++)
        stress_one(w);
    return NULL;
}

/* All operations at once under a tight limit: memory stays bounded, values
 * stay whole, and the accounting returns to zero afterwards. */
static void test_concurrent_stress(void **state)
{
    (void)state;
    const size_t limit = 256 * 1024;
    struct store *s = new_store_with(limit, MB, true, true, 8);
    struct worker workers[THREADS];
    atomic_bool stop = false;
    run_threads(s, stress_worker, workers, &stop);

    struct store_stats st = stats_of(s);
    assert_true(st.bytes <= limit);
    assert_true(st.evictions > 0);
    print_message("stress: %" PRIu64 " items, %" PRIu64 " bytes, %" PRIu64 " evictions, "
                  "%" PRIu64 " reclaimed\n", st.curr_items, st.bytes, st.evictions, st.reclaimed);
    store_flush(s, clock_now());
    st = stats_of(s);
    assert_int_equal(st.curr_items, 0);
    assert_int_equal(st.bytes, 0);
    store_destroy(s);
}

/* ---- per-item overhead ---------------------------------------------------- */

static size_t resident_bytes(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    assert_non_null(statm);
    assert_int_equal(fscanf(statm, "%lu %lu", &size, &resident), 2);
    fclose(statm);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* 1,000,000 items with 8-byte keys and values: bytes beyond key + value, as
 * accounted and as seen in RSS (with the bucket arrays). See docs/store.md. */
static void measure_overhead(bool use_cas, size_t expected_accounted)
{
    enum { N = 1000000, KV = 16 };
    malloc_trim(0); /* earlier frees must not be reused unseen */
    size_t rss_before = resident_bytes();
    struct store *s = new_store_with(1024 * MB, MB, use_cas, true, 0);
    char key[16], value[16]; /* 8 characters each, for i < 10^8 */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "%08d", i);
        snprintf(value, sizeof value, "%08x", i);
        struct store_write w = { .key = key, .nkey = 8, .value = value, .nvalue = 8 };
        assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    }
    while (stats_of(s).hash_is_expanding)
        store_tick(s);
    struct store_stats st = stats_of(s);
    double rss_per_item = (double)(resident_bytes() - rss_before) / N - KV;
    print_message("use_cas=%d: accounted %.1f B/item over key+value, RSS %.1f B/item, "
                  "buckets %.1f B/item, header %" PRIu64 " B\n", use_cas,
                  (double)st.bytes / N - KV, rss_per_item, (double)st.hash_bytes / N,
                  st.item_header_bytes);
    assert_int_equal(st.curr_items, N);
    assert_int_equal(st.bytes / N - KV, expected_accounted);
    store_destroy(s);
}

static void test_overhead(void **state)
{
    (void)state;
    measure_overhead(false, 32); /* 22 + 16 = 38 bytes -> 48-byte chunk */
    measure_overhead(true, 48);  /* 46 bytes -> 64-byte chunk */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overhead), /* first: a fresh heap measures RSS best */
        cmocka_unit_test(test_hash_avalanche),
        cmocka_unit_test(test_set_get),
        cmocka_unit_test(test_add_replace),
        cmocka_unit_test(test_append_prepend),
        cmocka_unit_test(test_append_over_item_size_max),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_touch_and_gat),
        cmocka_unit_test(test_cas_on),
        cmocka_unit_test(test_cas_off),
        cmocka_unit_test(test_incr_decr),
        cmocka_unit_test(test_delta_parsing),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_realtime_expiry),
        cmocka_unit_test(test_tick_reclaims_expired),
        cmocka_unit_test(test_tick_without_reclaim_keeps_expired),
        cmocka_unit_test(test_flush_now),
        cmocka_unit_test(test_flush_delayed),
        cmocka_unit_test(test_flush_due_then_replaced),
        cmocka_unit_test(test_item_size_limit),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_no_evict_returns_no_memory),
        cmocka_unit_test(test_item_larger_than_memory),
        cmocka_unit_test(test_eviction_bounded),
        cmocka_unit_test(test_eviction_prefers_read),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_size_histogram),
        cmocka_unit_test(test_concurrent_exact),
        cmocka_unit_test(test_concurrent_stress),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
