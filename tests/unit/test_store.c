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

/* What store.c accounts per item with flags 0 and a short value: glibc's
 * chunk for a 12-byte header, the CAS when on, the key and the value. */
static size_t expected_chunk(bool use_cas, size_t nkey, size_t nvalue)
{
    size_t request = 12 + (use_cas ? 8 : 0) + nkey + nvalue;
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
    /* A refused write gives its memory back (flags 5 take 4 bytes). */
    assert_int_equal(stats_of(s).bytes, expected_chunk(true, 1, 1 + 4));
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
    assert_int_equal(stats_of(s).bytes, 48); /* 12 + 8 + 4 of flags + 1 + 13 = 38 -> 48 */
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
    assert_int_equal(stats_of(s).item_header_bytes, 20);
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

    /* -C saves the 8-byte CAS: here 12 + 1 + 5 = 18 bytes fit a 32-byte
     * chunk, where 26 with the CAS need 48. */
    assert_int_equal(stats_of(s).item_header_bytes, 12);
    struct store *with_cas = new_store(true);
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    assert_int_equal(set(s, "k", "12345"), STORE_STORED);
    assert_int_equal(set(with_cas, "k", "12345"), STORE_STORED);
    assert_int_equal(stats_of(s).bytes, 32);
    assert_int_equal(stats_of(with_cas).bytes, 48);
    store_destroy(with_cas);
    store_destroy(s);
}

/* Accounted bytes of one item after a set; the store holds only that item. */
static size_t bytes_of_one(bool use_cas, const char *key, size_t nvalue, uint32_t flags)
{
    struct store *s = new_store_with(64 * MB, 2 * MB, use_cas, true, 0);
    static char value[2 * MB];
    memset(value, 'v', nvalue);
    struct store_write w = { .key = key, .nkey = strlen(key), .value = value, .nvalue = nvalue,
                             .flags = flags };
    assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    size_t bytes = stats_of(s).bytes;
    store_destroy(s);
    return bytes;
}

/* The item layout, in glibc chunks (request + 8, rounded up to 16): a
 * 12-byte header, 8 bytes of CAS when on, 4 of flags only when non-zero, 4
 * of value length only from 1 MiB on. The numbers are the workloads' items
 * (docs/store.md) and the edges of each optional word. */
static void test_item_layout_accounting(void **state)
{
    (void)state;
    assert_int_equal(bytes_of_one(true, "k001", 256, 0), 288);  /* W3: 280 + 8 -> 288 */
    assert_int_equal(bytes_of_one(false, "k001", 256, 0), 288); /* 272 + 8 -> 288 */
    assert_int_equal(bytes_of_one(true, "key00001", 8, 0), 48); /* W1: 36 + 8 -> 48 */
    assert_int_equal(bytes_of_one(false, "key00001", 8, 0), 48); /* 28 + 8 -> 48 */
    assert_int_equal(bytes_of_one(false, "k", 8, 0), 32);       /* 21 + 8 -> 32 */
    assert_int_equal(bytes_of_one(false, "k", 8, 1), 48);       /* 25 + 8 -> 48 */
    assert_int_equal(bytes_of_one(true, "k", MB - 1, 0), MB + 32);     /* MB + 20 + 8 -> MB + 32 */
    assert_int_equal(bytes_of_one(true, "k", MB, 0), MB + 48);         /* MB + 25 + 8 -> MB + 48 */
    assert_int_equal(bytes_of_one(false, "k00000001", MB - 1, 0), MB + 32); /* MB + 20 + 8 */
    assert_int_equal(bytes_of_one(false, "k00000001", MB, 0), MB + 48);    /* MB + 25 + 8 */
    assert_int_equal(bytes_of_one(false, "k", MB + 7, 9), MB + 48);    /* MB + 28 + 8 -> MB + 48 */
}

/* What a reader saw of an item too large to copy: its fields, and whether
 * the value was all 'x' but for its last 3 bytes (kept in tail). */
struct view_summary {
    char key[STORE_KEY_MAX + 1];
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
    rel_time_t exptime;
    bool head_is_x;
    char tail[4];
};

static void summarize_view(void *ctx, const struct item_view *v)
{
    struct view_summary *sum = memset(ctx, 0, sizeof(struct view_summary));
    memcpy(sum->key, v->key, v->nkey);
    sum->nvalue = v->nvalue;
    sum->flags = v->flags;
    sum->cas = v->cas;
    sum->exptime = v->exptime;
    size_t ntail = v->nvalue < 3 ? v->nvalue : 3;
    sum->head_is_x = true;
    for (size_t i = 0; i < v->nvalue - ntail; i++)
        sum->head_is_x = sum->head_is_x && v->value[i] == 'x';
    memcpy(sum->tail, v->value + v->nvalue - ntail, ntail);
}

static struct view_summary summary_of(struct store *s, const char *key)
{
    struct view_summary sum;
    assert_int_equal(store_get(s, key, strlen(key), NULL, summarize_view, &sum), STORE_HIT);
    assert_string_equal(sum.key, key);
    return sum;
}

/* Every combination of the optional words reads back whole: flags (zero,
 * non-zero, the largest), short and long values, CAS on and off; and the
 * updates that rebuild an item from the old one keep them. */
static void test_item_layout_round_trip(void **state)
{
    (void)state;
    static char value[MB + 1];
    const size_t lengths[] = { 0, 3, MB - 1, MB };
    const uint32_t flag_values[] = { 0, 1, UINT32_MAX };
    const rel_time_t exptime = clock_now() + 1000;
    for (int use_cas = 0; use_cas < 2; use_cas++) {
        struct store *s = new_store_with(64 * MB, 2 * MB, use_cas, true, 0);
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
            for (size_t f = 0; f < sizeof flag_values / sizeof flag_values[0]; f++) {
                memset(value, 'x', lengths[l]);
                value[lengths[l]] = '\0';
                uint64_t cas = 0;
                assert_int_equal(put(s, STORE_SET, "key", value, flag_values[f], exptime, 0, &cas),
                                 STORE_STORED);
                struct view_summary sum = summary_of(s, "key");
                assert_int_equal(sum.nvalue, lengths[l]);
                assert_true(sum.head_is_x);
                assert_string_equal(sum.tail, lengths[l] ? "xxx" : "");
                assert_int_equal(sum.flags, flag_values[f]);
                assert_int_equal(sum.exptime, exptime);
                assert_int_equal(sum.cas, cas);
                assert_true(use_cas ? cas != 0 : cas == 0);
            }
        /* An append across 1 MiB turns a short value into a long one. */
        memset(value, 'x', MB - 2);
        value[MB - 2] = '\0';
        assert_int_equal(put(s, STORE_SET, "grow", value, 5, 0, 0, NULL), STORE_STORED);
        assert_int_equal(put(s, STORE_APPEND, "grow", "abc", 0, 0, 0, NULL), STORE_STORED);
        struct view_summary sum = summary_of(s, "grow");
        assert_int_equal(sum.nvalue, MB + 1);
        assert_true(sum.head_is_x);
        assert_string_equal(sum.tail, "abc");
        assert_int_equal(sum.flags, 5);
        /* An incr that outgrows the value keeps non-zero flags. */
        uint64_t result;
        assert_int_equal(put(s, STORE_SET, "n", "9", UINT32_MAX, 0, 0, NULL), STORE_STORED);
        assert_int_equal(delta(s, "n", true, 1, &result), STORE_DELTA_OK);
        struct fetched f;
        assert_int_equal(fetch(s, "n", &f), STORE_HIT);
        assert_string_equal(f.value, "10");
        assert_int_equal(f.flags, UINT32_MAX);
        store_destroy(s);
    }
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

struct walk {
    unsigned seen[1000];    /* how often key "w<i>" was seen */
    unsigned calls, stop_after;
    bool expiring_seen, fetched_seen;
};

static bool count_walked(void *ctx, const struct item_view *v)
{
    struct walk *w = ctx;
    char key[16] = "";
    memcpy(key, v->key, v->nkey < 15 ? v->nkey : 15);
    if (strcmp(key, "expiring") == 0)
        w->expiring_seen = true;
    else
        w->seen[atoi(key + 1)]++;
    if (strcmp(key, "w7") == 0)
        w->fetched_seen = v->fetched;
    return ++w->calls != w->stop_after;
}

/* store_walk: every live item once, through table growth; none expired; no
 * item marked fetched by the walk itself; fn can stop it. */
static void test_walk(void **state)
{
    (void)state;
    struct store *s = new_store_with(64 * MB, MB, true, true, 12);
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "w%d", i);
        assert_int_equal(set(s, key, "v"), STORE_STORED);
    }
    assert_value(s, "w7", "v");
    assert_int_equal(put(s, STORE_SET, "expiring", "v", 0, clock_now() + 1, 0, NULL),
                     STORE_STORED);
    clock_advance_for_tests(1);

    static struct walk w;
    memset(&w, 0, sizeof w);
    store_walk(s, count_walked, &w);
    assert_int_equal(w.calls, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(w.seen[i], 1);
    assert_false(w.expiring_seen);
    assert_true(w.fetched_seen);
    memset(&w, 0, sizeof w);
    store_walk(s, count_walked, &w);
    assert_int_equal(w.calls, 1000);

    memset(&w, 0, sizeof w);
    w.stop_after = 10;
    store_walk(s, count_walked, &w);
    assert_int_equal(w.calls, 10);

    /* memcached's ITEM_ntotal: 48-byte header, key + NUL, value + CRLF,
     * 4 bytes of flags when non-zero, 8 of CAS */
    struct item_view v = { .key = "k", .nkey = 1, .nvalue = 1, .flags = 5 };
    assert_int_equal(store_memcached_item_size(s, &v), 65);
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

/* A store whose tick scans one position per shard, holding 3000 items that
 * expire a second from now. */
static struct store *store_with_3000_expiring(void)
{
    struct store_config config = {
        .mem_limit = 64 * MB, .item_size_max = MB, .use_cas = true, .evict = true,
        .reclaim_expired = true, .reclaim_positions = 1,
    };
    struct store *s = store_create(&config);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "exp%d", i);
        assert_int_equal(put(s, STORE_SET, key, "v", 0, clock_now() + 1, 0, NULL), STORE_STORED);
    }
    return s;
}

/* reclaim_positions slices the scan: one position per shard a tick frees at
 * most a few of 3000 expired items, and enough ticks free them all. */
static void test_tick_reclaims_a_slice(void **state)
{
    (void)state;
    struct store *s = store_with_3000_expiring();
    clock_advance_for_tests(1);
    store_tick(s);
    assert_true(stats_of(s).reclaimed < 3000 / 4);
    for (int i = 0; i < 100000 && stats_of(s).curr_items > 0; i++)
        store_tick(s);
    assert_int_equal(stats_of(s).reclaimed, 3000);
    store_destroy(s);
}

/* lru_crawler crawl: the tick after store_request_crawl sweeps whole tables,
 * where one position per shard would free a few items; a second request
 * before that tick is BUSY; a crawler switched off neither crawls nor
 * reclaims, and switched on again it does both. */
static void test_crawl_sweeps_whole_tables(void **state)
{
    (void)state;
    struct store *s = store_with_3000_expiring();
    assert_int_equal(set(s, "forever", "v"), STORE_STORED);
    clock_advance_for_tests(1);

    store_set_crawler(s, false);
    assert_false(store_crawler_enabled(s));
    assert_false(store_request_crawl(s));
    store_tick(s);
    assert_int_equal(stats_of(s).reclaimed, 0);

    store_set_crawler(s, true);
    assert_true(store_request_crawl(s));
    assert_false(store_request_crawl(s));
    store_tick(s);
    assert_int_equal(stats_of(s).reclaimed, 3000);
    assert_int_equal(stats_of(s).curr_items, 1);
    assert_true(store_request_crawl(s));
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

/* cache_memlimit: a lower limit than the bytes in use is reached by the
 * next write, which evicts the excess spread over the shards, and a higher
 * one is used at once. With -M, writes fail until deletes make room. */
static void test_mem_limit_changed(void **state)
{
    (void)state;
    struct store *s = new_store_with(4 * MB, MB, true, true, 0);
    char key[32], value[1001];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    int n = 0;
    while (stats_of(s).bytes < 3 * MB) {
        snprintf(key, sizeof key, "key%05d", n++);
        assert_int_equal(set(s, key, value), STORE_STORED);
    }
    assert_int_equal(stats_of(s).evictions, 0);
    store_set_mem_limit(s, MB);
    assert_int_equal(store_mem_limit(s), MB);
    assert_int_equal(stats_of(s).limit_maxbytes, MB);
    assert_int_equal(set(s, "one-more", value), STORE_STORED);
    struct store_stats st = stats_of(s);
    assert_true(st.bytes <= MB);
    assert_true(st.bytes > MB / 2);                   /* the excess only, not everything */
    assert_int_equal(st.evictions, (uint64_t)n + 1 - st.curr_items);
    assert_value(s, "one-more", value);
    /* Raised again: room at once, with no eviction. */
    store_set_mem_limit(s, 4 * MB);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "again%03d", i);
        assert_int_equal(set(s, key, value), STORE_STORED);
    }
    assert_int_equal(stats_of(s).evictions, st.evictions);
    store_destroy(s);

    s = new_store_with(MB, MB, true, false, 0);
    for (n = 0; n < 500; n++) {
        snprintf(key, sizeof key, "key%05d", n);
        assert_int_equal(set(s, key, value), STORE_STORED);
    }
    store_set_mem_limit(s, MB / 4);
    assert_int_equal(set(s, "over", "v"), STORE_NO_MEMORY);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key%05d", i);
        assert_int_equal(store_delete(s, key, strlen(key)), STORE_DELETED);
    }
    assert_int_equal(set(s, "over", "v"), STORE_STORED);
    assert_int_equal(stats_of(s).evictions, 0);
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

/* ---- eviction and the writes that need their item (issue 13) -------------- */

#define BIG_VALUE (200 * 1024)
#define GROW_STEP (20 * 1024)

/* A value of n bytes, all of one kind: the tests check lengths, and that
 * the bytes are whole. */
static const char *value_of(size_t n)
{
    static char bytes[MB];
    assert_true(n <= sizeof bytes);
    memset(bytes, 'v', n);
    return bytes;
}

static enum store_status write_n(struct store *s, enum store_mode mode, const char *key,
                                 size_t nvalue, uint64_t cas)
{
    struct store_write w = { .key = key, .nkey = strlen(key), .value = value_of(nvalue),
                             .nvalue = nvalue, .cas = cas };
    return store_write(s, mode, &w, NULL);
}

struct length_seen {
    size_t nvalue;
    uint64_t cas;
    bool whole;           /* every byte is the filler's */
};

static void note_length(void *ctx, const struct item_view *v)
{
    struct length_seen *seen = ctx;
    seen->nvalue = v->nvalue;
    seen->cas = v->cas;
    seen->whole = v->nvalue == 0 ||
                  (v->value[0] == 'v' && memcmp(v->value, v->value + 1, v->nvalue - 1) == 0);
}

/* A read (a hit marks the item used): the value's length, or SIZE_MAX when missing. */
static size_t read_length(struct store *s, const char *key, uint64_t *cas)
{
    struct length_seen seen = { 0 };
    if (store_get(s, key, strlen(key), NULL, note_length, &seen) != STORE_HIT)
        return SIZE_MAX;
    assert_true(seen.whole);
    if (cas)
        *cas = seen.cas;
    return seen.nvalue;
}

static void fill_big(struct store *s, const char *prefix, int count)
{
    char key[32];
    for (int i = 0; i < count; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        assert_int_equal(write_n(s, STORE_SET, key, BIG_VALUE, 0), STORE_STORED);
    }
}

/* Issue 13's reproduction (memcached's t/chunked-items.t, by hand): at
 * -m 8, 200 items of 200 KB leave about one item per shard. The append
 * reserved its bytes with its own shard first, whose visit turned the hand
 * twice: cleared the item's bit, then evicted it, and the append found
 * nothing (NOT_STORED at the fifth append, every time). Replace and cas
 * need their item the same way; a plain set does not. */
static void test_update_never_evicts_its_item(void **state)
{
    (void)state;
    struct store *s = new_store_with(8 * MB, MB, true, true, 0);
    fill_big(s, "fill", 200);
    assert_int_equal(write_n(s, STORE_SET, "appender", 4, 0), STORE_STORED);
    for (size_t i = 1; i <= 40; i++) {
        assert_int_equal(write_n(s, STORE_APPEND, "appender", GROW_STEP, 0), STORE_STORED);
        assert_int_equal(read_length(s, "appender", NULL), 4 + i * GROW_STEP);
    }
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "more%d", i);
        assert_int_equal(write_n(s, STORE_SET, key, BIG_VALUE, 0), STORE_STORED);
        uint64_t cas = 0;
        assert_int_not_equal(read_length(s, "appender", &cas), SIZE_MAX);
        enum store_mode mode = i % 3 == 0 ? STORE_REPLACE : i % 3 == 1 ? STORE_CAS : STORE_PREPEND;
        size_t before = read_length(s, "appender", NULL);
        assert_int_equal(write_n(s, mode, "appender", GROW_STEP, cas), STORE_STORED);
        assert_int_equal(read_length(s, "appender", NULL),
                         mode == STORE_PREPEND ? before + GROW_STEP : GROW_STEP);
    }
    assert_true(stats_of(s).evictions > 0);
    store_destroy(s);
}

/* Issue 13: at -m 8 with 200 KB items, a key read after every set was
 * evicted after about 126 sets: when a set's key shared its shard, the
 * visit cleared the hot key's bit and evicted it in the same call. A key
 * read between every two writes must stay, the first fill included. */
static void test_hot_key_read_between_writes_stays(void **state)
{
    (void)state;
    struct store *s = new_store_with(8 * MB, MB, true, true, 0);
    assert_int_equal(write_n(s, STORE_SET, "hot", BIG_VALUE, 0), STORE_STORED);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(read_length(s, "hot", NULL), BIG_VALUE);
        snprintf(key, sizeof key, "fill%d", i);
        assert_int_equal(write_n(s, STORE_SET, key, BIG_VALUE, 0), STORE_STORED);
    }
    assert_int_equal(read_length(s, "hot", NULL), BIG_VALUE);
    assert_true(stats_of(s).evictions > 900);
    store_destroy(s);
}

/* Issue 13 at -m 64: in a full cache, 20 keys grown one after the other by
 * appends to 800 KB each, each read after every append, lost 7 of them on
 * the way; memcached loses none. */
static void test_growing_keys_stay(void **state)
{
    (void)state;
    enum { GROWING = 20, STEPS = 40 };
    struct store *s = new_store_with(64 * MB, MB, true, true, 0);
    fill_big(s, "fill", 400);
    char key[32];
    for (int k = 0; k < GROWING; k++) {
        snprintf(key, sizeof key, "grow%d", k);
        assert_int_equal(write_n(s, STORE_SET, key, 4, 0), STORE_STORED);
        for (size_t step = 1; step <= STEPS; step++) {
            assert_int_equal(write_n(s, STORE_APPEND, key, GROW_STEP, 0), STORE_STORED);
            assert_int_equal(read_length(s, key, NULL), 4 + step * GROW_STEP);
        }
    }
    assert_true(stats_of(s).evictions > 0);
    store_destroy(s);
}

/* ---- pins (replies by reference) ------------------------------------------ */

struct pinned {
    struct store *store;
    struct store_pin pin;
    const char *value;       /* the item's bytes, valid while pinned */
    size_t nvalue;
};

static void pin_view(void *ctx, const struct item_view *v)
{
    struct pinned *p = ctx;
    assert_true(store_pin(p->store, v, &p->pin));
    p->value = v->value;
    p->nvalue = v->nvalue;
}

static void pin_key(struct store *s, const char *key, struct pinned *p)
{
    *p = (struct pinned){ .store = s };
    assert_int_equal(store_get(s, key, strlen(key), NULL, pin_view, p), STORE_HIT);
}

static void assert_pinned_value(const struct pinned *p, const char *expected)
{
    assert_int_equal(p->nvalue, strlen(expected));
    assert_memory_equal(p->value, expected, p->nvalue);
}

/* A pinned item's bytes stay in place and unchanged whatever happens to its
 * key (replaced, incremented, deleted, evicted), and count against the
 * limit until the last unpin; the key itself moves on at once. (Under ASan,
 * memory freed or reused too early is caught where the test reads it.) */
static void test_pin_keeps_item_until_unpinned(void **state)
{
    (void)state;
    struct store *s = new_store_with(MB, MB, true, true, 0);
    struct pinned first, second, counter;

    assert_int_equal(set(s, "k", "pinned value"), STORE_STORED);
    pin_key(s, "k", &first);
    pin_key(s, "k", &second);                 /* two pins on one item */
    size_t one_item = stats_of(s).bytes;
    assert_int_equal(set(s, "k", "new value!!!"), STORE_STORED);
    assert_value(s, "k", "new value!!!");
    assert_pinned_value(&first, "pinned value");
    assert_true(stats_of(s).bytes >= 2 * one_item);  /* the replaced item still counts */
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    assert_missing(s, "k");
    store_unpin(&first.pin);
    assert_pinned_value(&second, "pinned value");   /* the other pin holds it */
    assert_true(stats_of(s).bytes >= one_item);
    store_unpin(&second.pin);
    assert_int_equal(stats_of(s).bytes, 0);

    /* incr writes a new item rather than change a pinned value in place. */
    assert_int_equal(set(s, "n", "10"), STORE_STORED);
    pin_key(s, "n", &counter);
    uint64_t result;
    assert_int_equal(delta(s, "n", true, 5, &result), STORE_DELTA_OK);
    assert_int_equal(result, 15);
    assert_value(s, "n", "15");
    assert_pinned_value(&counter, "10");
    store_unpin(&counter.pin);

    /* Evicted while pinned: gone from the store, still whole for the reader,
     * and the limit holds throughout. */
    char key[32], value[1001];
    memset(value, 'v', 1000);
    value[1000] = '\0';
    assert_int_equal(set(s, "held", value), STORE_STORED);
    pin_key(s, "held", &first);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "fill%d", i);
        assert_int_equal(set(s, key, value), STORE_STORED);
        assert_true(stats_of(s).bytes <= MB);
    }
    assert_missing(s, "held");
    assert_pinned_value(&first, value);
    size_t before = stats_of(s).bytes;
    store_unpin(&first.pin);
    assert_true(stats_of(s).bytes < before);
    store_destroy(s);
}

/* ---- table growth ------------------------------------------------------- */

static void test_growth(void **state)
{
    (void)state;
    /* 2^12 slots: 64 per shard. 150k keys, ~2340 per shard, make every
     * shard's index grow by 1.25x many times. */
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
    /* Grown at 94% full by 1.25x: between 75% and 94% full (some slack
     * for the small tables' rounding). 2^17 < 150k / 0.94 <= slots. */
    uint64_t slots = st.hash_bytes / sizeof(uint64_t);
    assert_true(slots * 94 >= (uint64_t)N * 100);
    assert_true(slots * 73 <= (uint64_t)N * 100);
    assert_int_equal(st.hash_power_level, 17);
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

    /* 2-byte keys: 22 + value, chunk = that + 8 rounded up to 16. */
    size_t lengths[] = { 1, 2000, 100, 1, 100 };
    for (size_t i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%zu", i);
        struct store_write w = { .key = key, .nkey = 2, .value = value, .nvalue = lengths[i] };
        assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    }
    store_size_histogram(s, collect_size, &rows);
    assert_int_equal(rows.n, 3);
    assert_int_equal(rows.size[0], 32);    /* 23 -> 32 */
    assert_int_equal(rows.count[0], 2);
    assert_int_equal(rows.size[1], 160);   /* 122 -> 144 -> 160 */
    assert_int_equal(rows.count[1], 2);
    assert_int_equal(rows.size[2], 2048);  /* 2022 -> 2032 -> 2048 */
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
    measure_overhead(false, 32); /* 12 + 16 = 28 bytes -> 48-byte chunk */
    measure_overhead(true, 32);  /* 36 bytes -> 48-byte chunk */
}

/* ---- the observer ------------------------------------------------------- */

enum event_kind { EV_CHANGED, EV_REMOVED, EV_FLUSHED };

struct event {
    enum event_kind kind;
    char key[STORE_KEY_MAX + 1];
    char value[64];          /* the first bytes, NUL-terminated */
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
    rel_time_t exptime;      /* changed */
    rel_time_t at;           /* flushed */
};

/* Every callback in order, for the single-threaded sequence tests; `next`
 * is where expect_*() reads. */
struct recorder {
    struct event events[128];
    size_t n, next;
    bool overflow;
};

static struct event *record(struct recorder *r, enum event_kind kind, const char *key, size_t nkey)
{
    if (r->n == sizeof r->events / sizeof r->events[0]) {
        r->overflow = true;
        return NULL;
    }
    struct event *e = memset(&r->events[r->n++], 0, sizeof *e);
    e->kind = kind;
    memcpy(e->key, key, nkey);
    return e;
}

static void record_changed(void *ctx, const struct item_view *v)
{
    struct event *e = record(ctx, EV_CHANGED, v->key, v->nkey);
    if (!e)
        return;
    memcpy(e->value, v->value, v->nvalue < sizeof e->value ? v->nvalue : sizeof e->value - 1);
    e->nvalue = v->nvalue;
    e->flags = v->flags;
    e->cas = v->cas;
    e->exptime = v->exptime;
}

static void record_removed(void *ctx, const char *key, size_t nkey)
{
    record(ctx, EV_REMOVED, key, nkey);
}

static void record_flushed(void *ctx, rel_time_t at)
{
    struct event *e = record(ctx, EV_FLUSHED, "", 0);
    if (e)
        e->at = at;
}

static struct store *recorded_store(struct recorder *r, size_t mem_limit, size_t item_size_max,
                                    bool evict)
{
    struct store *s = new_store_with(mem_limit, item_size_max, true, evict, 0);
    struct store_observer observer = {
        .ctx = r, .changed = record_changed, .removed = record_removed,
        .flushed = record_flushed,
    };
    memset(r, 0, sizeof *r);
    store_set_observer(s, &observer);
    return s;
}

static const struct event *next_event(struct recorder *r, enum event_kind kind, const char *key)
{
    assert_false(r->overflow);
    if (r->next == r->n)
        fail_msg("expected a callback for \"%s\", got none", key);
    const struct event *e = &r->events[r->next++];
    assert_int_equal(e->kind, kind);
    assert_string_equal(e->key, key);
    return e;
}

/* Checks the next callback is `changed` with this item; returns its CAS. */
static uint64_t expect_changed(struct recorder *r, const char *key, const char *value,
                               uint32_t flags, rel_time_t exptime)
{
    const struct event *e = next_event(r, EV_CHANGED, key);
    assert_true(strlen(value) < sizeof e->value);
    assert_int_equal(e->nvalue, strlen(value));
    assert_string_equal(e->value, value);
    assert_int_equal(e->flags, flags);
    assert_int_equal(e->exptime, exptime);
    assert_true(e->cas != 0);
    return e->cas;
}

static void expect_removed(struct recorder *r, const char *key)
{
    next_event(r, EV_REMOVED, key);
}

static void expect_flushed(struct recorder *r, rel_time_t at)
{
    assert_int_equal(next_event(r, EV_FLUSHED, "")->at, at);
}

static void skip_events(struct recorder *r)
{
    assert_false(r->overflow);
    r->next = r->n;
}

static void expect_none(struct recorder *r)
{
    assert_false(r->overflow);
    if (r->next != r->n)
        fail_msg("unexpected callback %d for \"%s\"", r->events[r->next].kind,
                 r->events[r->next].key);
}

static struct store *observed(struct recorder *r)
{
    return recorded_store(r, 64 * MB, MB, true);
}

static void test_observe_set(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    rel_time_t exptime = clock_now() + 100;
    uint64_t cas;
    assert_int_equal(put(s, STORE_SET, "k", "v1", 3, exptime, 0, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "v1", 3, exptime), cas);
    assert_int_equal(put(s, STORE_SET, "k", "v2", 4, 0, 0, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "v2", 4, 0), cas);
    expect_none(&r); /* the replaced item is not `removed` */
    struct fetched f;
    assert_int_equal(fetch(s, "k", &f), STORE_HIT);
    expect_none(&r); /* a read changes nothing */
    store_destroy(s);
    expect_none(&r); /* nor does destroying the store */
}

static void test_observe_add_replace(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    uint64_t cas;
    assert_int_equal(put(s, STORE_REPLACE, "k", "r", 0, 0, 0, NULL), STORE_NOT_STORED);
    expect_none(&r);
    assert_int_equal(put(s, STORE_ADD, "k", "a", 1, 0, 0, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "a", 1, 0), cas);
    assert_int_equal(put(s, STORE_ADD, "k", "b", 0, 0, 0, NULL), STORE_NOT_STORED);
    expect_none(&r);
    assert_int_equal(put(s, STORE_REPLACE, "k", "c", 2, 0, 0, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "c", 2, 0), cas);
    expect_none(&r);
    store_destroy(s);
}

static void test_observe_append_prepend(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    rel_time_t exptime = clock_now() + 100;
    uint64_t cas;
    assert_int_equal(put(s, STORE_APPEND, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_PREPEND, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    expect_none(&r);
    assert_int_equal(put(s, STORE_SET, "k", "mid", 7, exptime, 0, NULL), STORE_STORED);
    expect_changed(&r, "k", "mid", 7, exptime);
    /* The old flags and expiry stay, as the view says. */
    assert_int_equal(put(s, STORE_APPEND, "k", "_end", 9, 5, 0, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "mid_end", 7, exptime), cas);
    assert_int_equal(put(s, STORE_PREPEND, "k", "start_", 9, 5, 0, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "start_mid_end", 7, exptime), cas);
    expect_none(&r);
    store_destroy(s);
}

static void test_observe_cas(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    uint64_t cas, old_cas;
    assert_int_equal(put(s, STORE_CAS, "k", "v", 0, 0, 1, NULL), STORE_NOT_FOUND);
    expect_none(&r);
    assert_int_equal(put(s, STORE_SET, "k", "1", 0, 0, 0, &old_cas), STORE_STORED);
    expect_changed(&r, "k", "1", 0, 0);
    assert_int_equal(put(s, STORE_CAS, "k", "2", 0, 0, old_cas + 1, NULL), STORE_EXISTS);
    expect_none(&r);
    assert_int_equal(put(s, STORE_CAS, "k", "3", 5, 0, old_cas, &cas), STORE_STORED);
    assert_int_equal(expect_changed(&r, "k", "3", 5, 0), cas);
    assert_true(cas > old_cas);
    expect_none(&r);
    store_destroy(s);
}

static void test_observe_incr_decr(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    rel_time_t exptime = clock_now() + 100;
    uint64_t result, cas;
    assert_int_equal(delta(s, "n", true, 1, &result), STORE_NOT_FOUND);
    assert_int_equal(put(s, STORE_SET, "n", "10", 77, exptime, 0, NULL), STORE_STORED);
    expect_changed(&r, "n", "10", 77, exptime);
    assert_int_equal(store_delta(s, "n", 1, true, 5, &result, &cas), STORE_DELTA_OK);
    assert_int_equal(expect_changed(&r, "n", "15", 77, exptime), cas);
    /* decr in place: padded, same item, new CAS */
    assert_int_equal(store_delta(s, "n", 1, false, 6, &result, &cas), STORE_DELTA_OK);
    assert_int_equal(expect_changed(&r, "n", "9 ", 77, exptime), cas);
    /* incr growing: a new item */
    assert_int_equal(store_delta(s, "n", 1, true, 12345, &result, &cas), STORE_DELTA_OK);
    assert_int_equal(expect_changed(&r, "n", "12354", 77, exptime), cas);
    assert_int_equal(set(s, "text", "abc"), STORE_STORED);
    expect_changed(&r, "text", "abc", 0, 0);
    assert_int_equal(delta(s, "text", true, 1, &result), STORE_NON_NUMERIC);
    expect_none(&r);
    store_destroy(s);
}

static void test_observe_touch_gat(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    rel_time_t now = clock_now(), later = now + 80;
    assert_int_equal(store_touch(s, "k", 1, now + 5), STORE_NOT_FOUND);
    assert_int_equal(store_get(s, "k", 1, &later, copy_view, NULL), STORE_MISS);
    expect_none(&r);
    uint64_t cas;
    assert_int_equal(put(s, STORE_SET, "k", "v", 3, now + 5, 0, &cas), STORE_STORED);
    expect_changed(&r, "k", "v", 3, now + 5);
    assert_int_equal(store_touch(s, "k", 1, now + 50), STORE_TOUCHED);
    assert_int_equal(expect_changed(&r, "k", "v", 3, now + 50), cas);

    struct fetched f;
    assert_int_equal(store_get(s, "k", 1, &later, copy_view, &f), STORE_HIT);
    assert_int_equal(expect_changed(&r, "k", "v", 3, later), cas);
    assert_int_equal(f.exptime, later);
    assert_int_equal(fetch(s, "k", &f), STORE_HIT); /* plain get */
    expect_none(&r);
    store_destroy(s);
}

static void test_observe_delete(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    assert_int_equal(store_delete(s, "k", 1), STORE_NOT_FOUND);
    expect_none(&r);
    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    expect_changed(&r, "k", "v", 0, 0);
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    expect_removed(&r, "k");
    assert_int_equal(store_delete(s, "k", 1), STORE_NOT_FOUND);
    expect_none(&r);
    store_destroy(s);
}

/* An expired item is `removed` by whichever operation finds it, once. */
static void test_observe_expiry_on_access(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    const char *keys[] = { "get", "add", "replace", "append", "delete", "touch", "incr", "mark" };
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    rel_time_t exptime = clock_now() + 1;
    for (size_t i = 0; i < NKEYS; i++) {
        assert_int_equal(put(s, STORE_SET, keys[i], "1", 0, exptime, 0, NULL), STORE_STORED);
        expect_changed(&r, keys[i], "1", 0, exptime);
    }
    clock_advance_for_tests(1);
    uint64_t result;
    struct fetched f;
    assert_int_equal(fetch(s, "get", &f), STORE_MISS_EXPIRED);
    assert_int_equal(fetch(s, "get", &f), STORE_MISS);
    assert_int_equal(put(s, STORE_ADD, "add", "new", 0, 0, 0, NULL), STORE_STORED);
    assert_int_equal(put(s, STORE_REPLACE, "replace", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_APPEND, "append", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(store_delete(s, "delete", 6), STORE_NOT_FOUND);
    assert_int_equal(store_touch(s, "touch", 5, 0), STORE_NOT_FOUND);
    assert_int_equal(delta(s, "incr", true, 1, &result), STORE_NOT_FOUND);
    store_mark_used(s, "mark", 4);
    expect_removed(&r, "get");
    expect_removed(&r, "add");
    expect_changed(&r, "add", "new", 0, 0);
    for (size_t i = 2; i < NKEYS; i++)
        expect_removed(&r, keys[i]);
    expect_none(&r);
    assert_int_equal(stats_of(s).curr_items, 1);
    store_destroy(s);
}

static void test_observe_tick_reclaim(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    rel_time_t exptime = clock_now() + 5;
    assert_int_equal(put(s, STORE_SET, "a", "v", 0, exptime, 0, NULL), STORE_STORED);
    assert_int_equal(put(s, STORE_SET, "b", "v", 0, exptime + 1, 0, NULL), STORE_STORED);
    assert_int_equal(set(s, "forever", "v"), STORE_STORED);
    skip_events(&r);
    store_tick(s);
    expect_none(&r);
    clock_advance_for_tests(5);
    for (int i = 0; i < 64 && stats_of(s).curr_items > 2; i++)
        store_tick(s);
    expect_removed(&r, "a");
    expect_none(&r);
    clock_advance_for_tests(1);
    for (int i = 0; i < 64 && stats_of(s).curr_items > 1; i++)
        store_tick(s);
    expect_removed(&r, "b");
    expect_none(&r);
    assert_int_equal(stats_of(s).reclaimed, 2);
    store_destroy(s);
}

/* One `flushed` with the time asked for, and nothing per item, neither when
 * the flush is applied at once nor when a later access or tick applies it. */
static void test_observe_flush(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    skip_events(&r);
    rel_time_t now = clock_now();
    store_flush(s, now);
    expect_flushed(&r, now);
    expect_none(&r);
    assert_int_equal(stats_of(s).curr_items, 0);
    store_flush(s, 0);
    expect_flushed(&r, 0);

    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    assert_int_equal(set(s, "j", "v"), STORE_STORED);
    skip_events(&r);
    store_flush(s, clock_now() + 10);
    expect_flushed(&r, clock_now() + 10);
    expect_none(&r);
    clock_advance_for_tests(10);
    assert_missing(s, "k");
    store_tick(s);
    expect_none(&r);
    assert_int_equal(stats_of(s).curr_items, 0);
    store_destroy(s);
}

static void fill_until_full(struct store *s, const char *prefix, const char *value)
{
    char key[32];
    for (int i = 0;; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        if (set(s, key, value) != STORE_STORED)
            return;
    }
}

/* Writes that store nothing tell nothing. */
static void test_observe_failed_writes(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = recorded_store(&r, 16 * 1024, 1024, false);
    static char big[2048];
    memset(big, 'v', sizeof big - 1);
    uint64_t result;
    for (enum store_mode m = STORE_SET; m <= STORE_CAS; m++)
        assert_int_equal(put(s, m, "k", big, 0, 0, 1, NULL), STORE_TOO_LARGE);
    assert_int_equal(put(s, STORE_APPEND, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_CAS, "k", "x", 0, 0, 1, NULL), STORE_NOT_FOUND);
    expect_none(&r);

    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    assert_int_equal(set(s, "n", "9"), STORE_STORED);
    big[900] = '\0';
    assert_int_equal(set(s, "b", big), STORE_STORED);
    skip_events(&r);
    assert_int_equal(put(s, STORE_ADD, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(put(s, STORE_CAS, "k", "x", 0, 0, cas_of(s, "k") + 1, NULL), STORE_EXISTS);
    assert_int_equal(put(s, STORE_APPEND, "b", big + 800, 0, 0, 0, NULL), STORE_NOT_STORED);
    expect_none(&r);

    /* Full, without eviction: every write that needs memory fails. */
    fill_until_full(s, "big", big);
    fill_until_full(s, "s", "v");
    skip_events(&r);
    assert_int_equal(set(s, "k", "w"), STORE_NO_MEMORY);
    assert_int_equal(put(s, STORE_APPEND, "k", "x", 0, 0, 0, NULL), STORE_NO_MEMORY);
    assert_int_equal(delta(s, "n", true, 1, &result), STORE_NO_MEMORY);
    expect_none(&r);
    assert_value(s, "k", "v");
    store_destroy(s);
}

static void ignore_view(void *ctx, const struct item_view *v)
{
    (void)ctx;
    (void)v;
}

/* Any callback may be missing, and the observer may be taken away. */
static void test_observe_null_callbacks(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    struct store_observer removed_only = { .ctx = &r, .removed = record_removed };
    store_set_observer(s, &removed_only);
    rel_time_t later = clock_now() + 10;
    uint64_t result;
    assert_int_equal(set(s, "k", "1"), STORE_STORED);
    assert_int_equal(put(s, STORE_APPEND, "k", "0", 0, 0, 0, NULL), STORE_STORED);
    assert_int_equal(delta(s, "k", true, 1, &result), STORE_DELTA_OK);
    assert_int_equal(store_touch(s, "k", 1, later), STORE_TOUCHED);
    assert_int_equal(store_get(s, "k", 1, &later, ignore_view, NULL), STORE_HIT);
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    store_flush(s, clock_now());
    store_flush(s, clock_now() + 5);
    expect_removed(&r, "k");
    expect_none(&r);

    store_set_observer(s, NULL);
    assert_int_equal(set(s, "k", "1"), STORE_STORED);
    assert_int_equal(store_delete(s, "k", 1), STORE_DELETED);
    store_flush(s, clock_now());
    expect_none(&r);
    store_destroy(s);
}

/* flush_all's `flushed` comes after the `changed` of a write that was under
 * way when the flush began: here one stalled inside its callback. */
struct stalled_write {
    struct store *store;
    rel_time_t flush_at;
    atomic_bool in_changed, release, changed_done, flushed, flushed_after_changed;
};

static void stall_changed(void *ctx, const struct item_view *v)
{
    struct stalled_write *w = ctx;
    (void)v;
    atomic_store(&w->in_changed, true);
    while (!atomic_load(&w->release))
        usleep(1000);
    atomic_store(&w->changed_done, true);
}

static void stall_flushed(void *ctx, rel_time_t at)
{
    struct stalled_write *w = ctx;
    atomic_store(&w->flushed_after_changed, atomic_load(&w->changed_done) && at == w->flush_at);
    atomic_store(&w->flushed, true);
}

static void *stalled_set(void *arg)
{
    struct stalled_write *w = arg;
    set(w->store, "slow", "v");
    return NULL;
}

static void *flusher(void *arg)
{
    struct stalled_write *w = arg;
    store_flush(w->store, w->flush_at);
    return NULL;
}

/* A flush is pending but not due, so store_flush() has none to apply before
 * it publishes the new one: only what it does after can wait for the write. */
static void flush_waits_for(rel_time_t flush_at)
{
    struct stalled_write w = { .flush_at = flush_at };
    struct store_observer observer = { .ctx = &w, .changed = stall_changed,
                                       .flushed = stall_flushed };
    w.store = new_store(true);
    store_flush(w.store, clock_now() + 1000);
    store_set_observer(w.store, &observer);
    pthread_t writer, flush;
    assert_int_equal(pthread_create(&writer, NULL, stalled_set, &w), 0);
    for (int ms = 0; ms < 5000 && !atomic_load(&w.in_changed); ms++)
        usleep(1000);
    if (!atomic_load(&w.in_changed)) {
        pthread_join(writer, NULL);
        fail_msg("set did not call changed");
    }
    assert_int_equal(pthread_create(&flush, NULL, flusher, &w), 0);
    usleep(100 * 1000);
    bool flushed_early = atomic_load(&w.flushed);
    atomic_store(&w.release, true);
    pthread_join(writer, NULL);
    pthread_join(flush, NULL);
    assert_false(flushed_early);
    assert_true(atomic_load(&w.flushed_after_changed));
    store_destroy(w.store);
}

static void test_observe_flush_waits_for_writes(void **state)
{
    (void)state;
    flush_waits_for(clock_now());
    flush_waits_for(clock_now() + 100);
}

/* ---- observer: many keys, many threads ------------------------------------ */

/* The state of each key as the observer's calls describe it, for tests with
 * too many calls to list. Keys are a letter and an index into slots. A key's
 * calls come under its shard lock, so its slot needs no lock of its own. */
struct shadow_slot {
    bool present;
    uint32_t changes, removals;
    uint64_t value_hash;
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
    rel_time_t exptime;
};

struct shadow {
    struct shadow_slot *slots;
    size_t nslots;
    atomic_uint bad_keys;    /* calls for keys outside the slots */
};

static struct shadow_slot *shadow_slot(struct shadow *sh, const char *key, size_t nkey)
{
    size_t index = 0, i = 1;
    for (; i < nkey && key[i] >= '0' && key[i] <= '9' && index < sh->nslots; i++)
        index = index * 10 + (size_t)(key[i] - '0');
    if (nkey < 2 || i != nkey || index >= sh->nslots) {
        atomic_fetch_add(&sh->bad_keys, 1);
        return NULL;
    }
    return &sh->slots[index];
}

static void shadow_changed(void *ctx, const struct item_view *v)
{
    struct shadow_slot *slot = shadow_slot(ctx, v->key, v->nkey);
    if (!slot)
        return;
    slot->present = true;
    slot->changes++;
    slot->value_hash = hash64(v->value, v->nvalue, 0);
    slot->nvalue = v->nvalue;
    slot->flags = v->flags;
    slot->cas = v->cas;
    slot->exptime = v->exptime;
}

static void shadow_removed(void *ctx, const char *key, size_t nkey)
{
    struct shadow_slot *slot = shadow_slot(ctx, key, nkey);
    if (!slot)
        return;
    if (!slot->present)
        atomic_fetch_add(&((struct shadow *)ctx)->bad_keys, 1); /* removed twice */
    slot->present = false;
    slot->removals++;
}

static struct store *shadowed_store(struct shadow *sh, size_t nslots, size_t mem_limit,
                                    unsigned hashpower)
{
    sh->slots = calloc(nslots, sizeof *sh->slots);
    assert_non_null(sh->slots);
    sh->nslots = nslots;
    atomic_init(&sh->bad_keys, 0);
    struct store *s = new_store_with(mem_limit, MB, true, true, hashpower);
    struct store_observer observer = { .ctx = sh, .changed = shadow_changed,
                                       .removed = shadow_removed };
    store_set_observer(s, &observer);
    return s;
}

/* The store's item for key i is what the observer was last told, or both
 * have none. The lookup drops an expired item, which tells the observer. */
static void assert_shadow_matches(struct store *s, struct shadow *sh, size_t i)
{
    char key[32];
    struct fetched f;
    snprintf(key, sizeof key, "k%zu", i);
    bool hit = fetch(s, key, &f) == STORE_HIT;
    const struct shadow_slot *slot = &sh->slots[i];
    if (slot->present != hit)
        fail_msg("%s: store %s, observer %s", key, hit ? "has it" : "has none",
                 slot->present ? "has it" : "has none");
    if (hit) {
        assert_int_equal(slot->nvalue, f.nvalue);
        assert_int_equal(slot->value_hash, hash64(f.value, f.nvalue, 0));
        assert_int_equal(slot->flags, f.flags);
        assert_int_equal(slot->cas, f.cas);
        assert_int_equal(slot->exptime, f.exptime);
    }
}

static void set_filler(struct store *s, size_t i)
{
    char key[32], value[101];
    memset(value, 'v', 100);
    value[100] = '\0';
    snprintf(key, sizeof key, "k%zu", i);
    assert_int_equal(set(s, key, value), STORE_STORED);
}

/* Every eviction is a `removed` of its key, exactly once. */
static void test_observe_eviction(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct shadow sh;
    struct store *s = shadowed_store(&sh, N, 256 * 1024, 0);
    for (size_t i = 0; i < N; i++)
        set_filler(s, i);
    struct store_stats st = stats_of(s);
    assert_true(st.evictions > N / 2);
    uint64_t removals = 0;
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(sh.slots[i].changes, 1);
        removals += sh.slots[i].removals;
        assert_int_equal(sh.slots[i].present, !sh.slots[i].removals);
    }
    assert_int_equal(removals, st.evictions);
    assert_int_equal(N - removals, st.curr_items);
    for (size_t i = 0; i < N; i++)
        assert_shadow_matches(s, &sh, i);
    assert_int_equal(atomic_load(&sh.bad_keys), 0);
    store_destroy(s);
    free(sh.slots);
}

enum { SHADOW_KEYS = 300 };

/* Every kind of change, on keys the threads share; "k1".."k49" hold numbers. */
static void shadow_one(struct worker *w)
{
    char key[32], value[64];
    int r = rand_r(&w->seed);
    size_t i = (size_t)rand_r(&w->seed) % SHADOW_KEYS;
    size_t nkey = (size_t)snprintf(key, sizeof key, "k%zu", i);
    bool number = i < 50;
    rel_time_t exptime = r % 5 == 0 ? clock_now() + 1 + (rel_time_t)(r % 3) : 0;
    size_t nvalue = number ? (size_t)snprintf(value, sizeof value, "%d", r % 1000)
                           : (size_t)rand_r(&w->seed) % sizeof value;
    if (!number)
        memset(value, 'a' + r % 26, nvalue);
    struct store_write wr = { .key = key, .nkey = nkey, .value = value, .nvalue = nvalue,
                              .flags = (uint32_t)r, .exptime = exptime };
    uint64_t result;
    switch (r / 5 % 8) {
    case 0: store_write(w->store, STORE_SET, &wr, NULL); break;
    case 1: store_write(w->store, number ? STORE_ADD : STORE_APPEND, &wr, NULL); break;
    case 2: store_write(w->store, number ? STORE_REPLACE : STORE_PREPEND, &wr, NULL); break;
    case 3: store_delta(w->store, key, nkey, r % 2, (uint64_t)r % 2000, &result, NULL); break;
    case 4: store_touch(w->store, key, nkey, exptime); break;
    case 5: store_get(w->store, key, nkey, &exptime, ignore_view, NULL); break;
    case 6: store_get(w->store, key, nkey, NULL, ignore_view, NULL); break;
    default: store_delete(w->store, key, nkey);
    }
}

/* One thread moves the clock on now and then, so that items expire during
 * the run and are found, reclaimed and evicted expired. */
static void *shadow_worker(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50000; i++) {
        shadow_one(w);
        if (w->id == 0 && i % 2000 == 0)
            clock_advance_for_tests(1);
    }
    return NULL;
}

/* Four writers and store_tick under a limit small enough to evict: what the
 * observer was told last of each key is what the store holds, now and once
 * every expiry has passed. */
static void test_observe_concurrent(void **state)
{
    (void)state;
    struct shadow sh;
    struct store *s = shadowed_store(&sh, SHADOW_KEYS, 16 * 1024, 8);
    struct worker workers[THREADS];
    atomic_bool stop = false;
    run_threads(s, shadow_worker, workers, &stop);
    struct store_stats st = stats_of(s);
    print_message("observer: %" PRIu64 " items, %" PRIu64 " evictions, %" PRIu64 " reclaimed\n",
                  st.curr_items, st.evictions, st.reclaimed);
    assert_true(st.evictions > 0);
    for (size_t i = 0; i < SHADOW_KEYS; i++)
        assert_shadow_matches(s, &sh, i);
    clock_advance_for_tests(3);
    store_tick(s);
    for (size_t i = 0; i < SHADOW_KEYS; i++)
        assert_shadow_matches(s, &sh, i);
    assert_int_equal(atomic_load(&sh.bad_keys), 0);
    store_destroy(s);
    free(sh.slots);
}

/* ---- store_mark_used ------------------------------------------------------ */

/* Changes nothing an observer or a reader could see. */
static void test_mark_used_is_quiet(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    rel_time_t exptime = clock_now() + 100;
    assert_int_equal(put(s, STORE_SET, "k", "v", 5, exptime, 0, NULL), STORE_STORED);
    skip_events(&r);
    uint64_t cas = cas_of(s, "k");
    store_mark_used(s, "k", 1);
    store_mark_used(s, "missing", 7);
    expect_none(&r);
    struct fetched f;
    assert_int_equal(fetch(s, "k", &f), STORE_HIT);
    assert_int_equal(f.cas, cas);
    assert_int_equal(f.exptime, exptime);
    assert_int_equal(f.flags, 5);
    assert_string_equal(f.value, "v");
    assert_int_equal(stats_of(s).curr_items, 1);
    store_destroy(s);
}

/* Under eviction pressure, keys marked used as often as a hot XDP key would
 * be stay while keys never marked go; unmarked once, they go too, and count
 * as fetched. Marking only: nothing reads these keys. The cache is full
 * before they are written: the very first eviction in a shard clears every
 * reference bit and evicts from the hand on (test_eviction_prefers_read). */
static void test_mark_used_keeps_item(void **state)
{
    (void)state;
    enum { MARKED = 50, UNMARKED = 50, WARMUP = 13000, ROUND = 500, ROUNDS = 130 };
    size_t nslots = MARKED + UNMARKED + WARMUP + 2 * ROUND * ROUNDS;
    struct shadow sh;
    struct store *s = shadowed_store(&sh, nslots, MB, 0); /* room for 6500 */
    char key[32];
    size_t next = MARKED + UNMARKED;
    for (; next < MARKED + UNMARKED + WARMUP; next++)
        set_filler(s, next);
    for (size_t i = 0; i < MARKED + UNMARKED; i++)
        set_filler(s, i);
    for (int round = 0; round < 2 * ROUNDS; round++) {
        for (size_t i = 0; i < MARKED && round < ROUNDS; i++) {
            int nkey = snprintf(key, sizeof key, "k%zu", i);
            store_mark_used(s, key, (size_t)nkey);
        }
        for (int i = 0; i < ROUND; i++)
            set_filler(s, next++);
        if (round == ROUNDS - 1) {
            for (size_t i = 0; i < MARKED + UNMARKED; i++)
                assert_int_equal(sh.slots[i].removals, i < MARKED ? 0 : 1);
            assert_int_equal(stats_of(s).evicted_unfetched, stats_of(s).evictions);
        }
    }
    for (size_t i = 0; i < MARKED; i++)
        assert_int_equal(sh.slots[i].removals, 1);
    struct store_stats st = stats_of(s);
    assert_int_equal(st.evictions - st.evicted_unfetched, MARKED);
    assert_int_equal(atomic_load(&sh.bad_keys), 0);
    store_destroy(s);
    free(sh.slots);
}

/* ---- clock ---------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_clock_rel_to_mono_ns(void **state)
{
    (void)state;
    const uint64_t second = 1000000000u, coarse_lag = second / 20;
    assert_true(clock_rel_to_mono_ns(0) == UINT64_MAX);
    rel_time_t now = clock_now();
    uint64_t at_now = clock_rel_to_mono_ns(now);
    assert_true(at_now <= mono_ns());
    assert_true(clock_rel_to_mono_ns(now + 2) > mono_ns());
    assert_true(clock_rel_to_mono_ns(now + 1) - at_now == second);
    assert_true(clock_rel_to_mono_ns(1) <= at_now);
    /* The daemon's clock moved ahead: its times come that much sooner. */
    clock_advance_for_tests(10);
    assert_true(at_now - clock_rel_to_mono_ns(now) == 10 * second);

    /* Watch clock_now() reach t. The precise clock read just before a
     * clock_now() below t is at most the coarse clock's lag past the instant
     * (so the instant is not early); read just after one at t, it is past
     * the instant (so the instant is not late). A delay between the reads
     * only loosens both checks. */
    rel_time_t t = clock_now() + 1;
    uint64_t instant = clock_rel_to_mono_ns(t);
    for (;;) {
        uint64_t before = mono_ns();
        rel_time_t daemon_now = clock_now();
        uint64_t after = mono_ns();
        if (daemon_now >= t) {
            assert_true(after >= instant);
            break;
        }
        assert_true(before < instant + coarse_lag);
        usleep(1000);
    }
}

/* ---- meta operations ------------------------------------------------------ */

/* What a meta callback saw, and what it asks the store to change. */
struct meta_probe {
    struct item_view seen;   /* key and value pointers are stale after the call */
    bool created;
    int calls;
    struct store_meta_change want;
};

static void probe_item(void *ctx, const struct item_view *item, bool created,
                       struct store_meta_change *change)
{
    struct meta_probe *p = ctx;
    p->seen = *item;
    p->created = created;
    p->calls++;
    *change = p->want;
}

static enum store_lookup meta_get(struct store *s, const char *key, bool vivify, bool bump,
                                  struct meta_probe *p)
{
    struct store_meta_read how = { .vivify = vivify, .bump = bump };
    return store_get_meta(s, key, strlen(key), &how, probe_item, p);
}

/* The item as the store now holds it (through a read that changes nothing). */
static struct item_view peek(struct store *s, const char *key)
{
    struct meta_probe p = { 0 };
    assert_int_equal(meta_get(s, key, false, false, &p), STORE_HIT);
    return p.seen;
}

/* Fetched is reported as it was before the read; u (no bump) leaves it. */
static void test_meta_get_fetched_and_bump(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct meta_probe p = { 0 };
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_MISS);
    assert_int_equal(p.calls, 0);
    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    assert_int_equal(meta_get(s, "k", false, false, &p), STORE_HIT);
    assert_false(p.seen.fetched);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);
    assert_false(p.seen.fetched);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);
    assert_true(p.seen.fetched);
    assert_false(p.created);
    assert_int_equal(p.seen.last_access, clock_now());
    store_destroy(s);
}

/* The access time moves on the second read only (memcached's ITEM_ACTIVE),
 * and on an add that finds the key; XDP hits (store_mark_used) count. */
static void test_meta_last_access(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct meta_probe p = { 0 };
    rel_time_t stored = clock_now();
    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    clock_advance_for_tests(10);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);
    assert_int_equal(peek(s, "k").last_access, stored);   /* first read: fetched only */
    store_mark_used(s, "k", 1);                          /* second: moves it */
    assert_int_equal(peek(s, "k").last_access, stored + 10);
    clock_advance_for_tests(5);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);
    assert_int_equal(p.seen.last_access, stored + 10);  /* active: stays */
    assert_int_equal(put(s, STORE_ADD, "k", "x", 0, 0, 0, NULL), STORE_NOT_STORED);
    assert_int_equal(peek(s, "k").last_access, stored + 15);
    store_mark_used(s, "fresh", 5);
    assert_int_equal(set(s, "m", "v"), STORE_STORED);
    store_mark_used(s, "m", 1);
    assert_true(peek(s, "m").fetched);
    store_destroy(s);
}

/* Vivify creates an empty item (flags 0, no expiry) and the change applies;
 * a win token is remembered and reported to the next reader. */
static void test_meta_get_vivify_and_change(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    struct meta_probe p = { .want = { .set_exptime = true, .exptime = clock_now() + 30,
                                      .win_token = true } };
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_MISS);
    assert_int_equal(meta_get(s, "k", true, true, &p), STORE_HIT);
    assert_true(p.created);
    assert_int_equal(p.seen.nvalue, 0);
    assert_int_equal(p.seen.exptime, 0);
    assert_false(p.seen.win_token_sent);
    expect_changed(&r, "k", "", 0, 0);
    expect_changed(&r, "k", "", 0, clock_now() + 30);
    expect_none(&r);
    p.want = (struct store_meta_change){ 0 };
    assert_int_equal(meta_get(s, "k", true, true, &p), STORE_HIT);
    assert_false(p.created);
    assert_true(p.seen.win_token_sent);
    assert_int_equal(p.seen.exptime, clock_now() + 30);
    expect_none(&r);                                     /* nothing changed */
    assert_int_equal(stats_of(s).curr_items, 1);
    store_destroy(s);
}

/* An expired item is a miss that says so, for get_expired. */
static void test_meta_get_expired(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct meta_probe p = { 0 };
    assert_int_equal(put(s, STORE_SET, "k", "v", 0, clock_now() + 1, 0, NULL), STORE_STORED);
    clock_advance_for_tests(2);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_MISS_EXPIRED);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_MISS);
    store_destroy(s);
}

/* md: CAS compare (0 included), delete, invalidate: stale, new CAS, expiry,
 * win token cleared; the observer hears of the stale item. */
static void test_meta_delete(void **state)
{
    (void)state;
    struct recorder r;
    struct store *s = observed(&r);
    uint64_t zero = 0, wrong;
    assert_int_equal(store_delete_meta(s, "k", 1, NULL, false, NULL), STORE_NOT_FOUND);
    assert_int_equal(set(s, "k", "v"), STORE_STORED);
    uint64_t cas = cas_of(s, "k");
    wrong = cas + 1;
    assert_int_equal(store_delete_meta(s, "k", 1, &zero, false, NULL), STORE_EXISTS);
    assert_int_equal(store_delete_meta(s, "k", 1, &wrong, true, NULL), STORE_EXISTS);
    struct meta_probe p = { .want = { .win_token = true } };
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);
    skip_events(&r);
    rel_time_t later = clock_now() + 300;
    assert_int_equal(store_delete_meta(s, "k", 1, &cas, true, &later), STORE_INVALIDATED);
    struct item_view v = peek(s, "k");
    assert_true(v.stale);
    assert_false(v.win_token_sent);
    assert_true(v.cas > cas);
    assert_int_equal(v.exptime, later);
    expect_changed(&r, "k", "v", 0, later);
    expect_none(&r);
    assert_int_equal(store_delete_meta(s, "k", 1, NULL, false, NULL), STORE_DELETED);
    expect_removed(&r, "k");
    assert_missing(s, "k");
    store_destroy(s);
}

static enum store_status meta_delta(struct store *s, const char *key,
                                    const struct store_delta_meta *how, uint64_t *result,
                                    struct meta_probe *p)
{
    return store_delta_meta(s, key, strlen(key), how, result, NULL, probe_item, p);
}

/* ma: vivify with the initial value; CAS check after the empty-value check
 * and before the number; an expiry applies in place, not when the item grew. */
static void test_meta_delta(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    struct meta_probe p = { .want = { .set_exptime = true, .exptime = clock_now() + 50 } };
    struct store_delta_meta how = { .incr = true, .delta = 1 };
    uint64_t result = 0;
    assert_int_equal(meta_delta(s, "n", &how, &result, &p), STORE_NOT_FOUND);
    how.vivify = true;
    how.initial = 42;
    assert_int_equal(meta_delta(s, "n", &how, &result, &p), STORE_DELTA_OK);
    assert_true(p.created);
    assert_int_equal(result, 42);
    assert_value(s, "n", "42");
    assert_int_equal(peek(s, "n").exptime, clock_now() + 50);
    p.want.exptime = clock_now() + 60;
    assert_int_equal(meta_delta(s, "n", &how, &result, &p), STORE_DELTA_OK); /* in place */
    assert_false(p.created);
    assert_int_equal(result, 43);
    assert_int_equal(peek(s, "n").exptime, clock_now() + 60);
    how.delta = 100;
    p.want.exptime = clock_now() + 70;
    assert_int_equal(meta_delta(s, "n", &how, &result, &p), STORE_DELTA_OK); /* grows */
    assert_int_equal(result, 143);
    assert_int_equal(peek(s, "n").exptime, clock_now() + 60);
    how.cas = peek(s, "n").cas + 1;
    assert_int_equal(meta_delta(s, "n", &how, &result, &p), STORE_EXISTS);
    assert_int_equal(put(s, STORE_SET, "e", "", 0, 0, 0, NULL), STORE_STORED);
    assert_int_equal(meta_delta(s, "e", &how, &result, &p), STORE_NON_NUMERIC);
    assert_int_equal(set(s, "x", "abc"), STORE_STORED);
    assert_int_equal(meta_delta(s, "x", &how, &result, &p), STORE_EXISTS);
    how.cas = 0;
    assert_int_equal(meta_delta(s, "x", &how, &result, &p), STORE_NON_NUMERIC);
    store_destroy(s);
}

/* ms with I: a CAS older than the item's stores the value stale, under the
 * old expiry and win token; a newer one is EXISTS. append/prepend compare
 * a non-zero CAS. The key_binary mark is kept with the item. */
static void test_meta_write_stale_and_concat_cas(void **state)
{
    (void)state;
    struct store *s = new_store(true);
    rel_time_t exptime = clock_now() + 100;
    struct store_write w = { .key = "k", .nkey = 1, .value = "v1", .nvalue = 2, .exptime = exptime,
                             .key_binary = true };
    assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    assert_true(peek(s, "k").key_binary);
    uint64_t old = peek(s, "k").cas;
    struct meta_probe p = { .want = { .win_token = true } };
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);
    assert_int_equal(store_delete_meta(s, "k", 1, NULL, true, NULL), STORE_INVALIDATED);
    assert_int_equal(meta_get(s, "k", false, true, &p), STORE_HIT);   /* takes the token */
    w = (struct store_write){ .key = "k", .nkey = 1, .value = "v2", .nvalue = 2, .cas = old,
                              .invalidate = true };
    assert_int_equal(store_write(s, STORE_CAS, &w, NULL), STORE_STORED);
    struct item_view v = peek(s, "k");
    assert_true(v.stale);
    assert_true(v.win_token_sent);
    assert_false(v.key_binary);
    assert_int_equal(v.exptime, exptime);
    assert_value(s, "k", "v2");
    w.cas = peek(s, "k").cas + 1;
    assert_int_equal(store_write(s, STORE_CAS, &w, NULL), STORE_EXISTS);
    w.invalidate = false;
    w.cas = old;
    assert_int_equal(store_write(s, STORE_CAS, &w, NULL), STORE_EXISTS);
    /* A plain set starts fresh. */
    assert_int_equal(set(s, "k", "v3"), STORE_STORED);
    assert_false(peek(s, "k").stale);
    assert_false(peek(s, "k").win_token_sent);
    uint64_t cas = peek(s, "k").cas;
    assert_int_equal(put(s, STORE_APPEND, "k", "x", 0, 0, cas + 1, NULL), STORE_EXISTS);
    assert_int_equal(put(s, STORE_APPEND, "k", "x", 0, 0, cas, NULL), STORE_STORED);
    assert_int_equal(put(s, STORE_PREPEND, "k", "y", 0, 0, 0, NULL), STORE_STORED);
    assert_value(s, "k", "yv3x");
    store_destroy(s);
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
        cmocka_unit_test(test_item_layout_accounting),
        cmocka_unit_test(test_item_layout_round_trip),
        cmocka_unit_test(test_incr_decr),
        cmocka_unit_test(test_delta_parsing),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_realtime_expiry),
        cmocka_unit_test(test_tick_reclaims_expired),
        cmocka_unit_test(test_tick_reclaims_a_slice),
        cmocka_unit_test(test_crawl_sweeps_whole_tables),
        cmocka_unit_test(test_tick_without_reclaim_keeps_expired),
        cmocka_unit_test(test_flush_now),
        cmocka_unit_test(test_flush_delayed),
        cmocka_unit_test(test_flush_due_then_replaced),
        cmocka_unit_test(test_item_size_limit),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_no_evict_returns_no_memory),
        cmocka_unit_test(test_item_larger_than_memory),
        cmocka_unit_test(test_eviction_bounded),
        cmocka_unit_test(test_mem_limit_changed),
        cmocka_unit_test(test_eviction_prefers_read),
        cmocka_unit_test(test_update_never_evicts_its_item),
        cmocka_unit_test(test_hot_key_read_between_writes_stays),
        cmocka_unit_test(test_growing_keys_stay),
        cmocka_unit_test(test_pin_keeps_item_until_unpinned),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_size_histogram),
        cmocka_unit_test(test_concurrent_exact),
        cmocka_unit_test(test_concurrent_stress),
        cmocka_unit_test(test_observe_set),
        cmocka_unit_test(test_observe_add_replace),
        cmocka_unit_test(test_observe_append_prepend),
        cmocka_unit_test(test_observe_cas),
        cmocka_unit_test(test_observe_incr_decr),
        cmocka_unit_test(test_observe_touch_gat),
        cmocka_unit_test(test_observe_delete),
        cmocka_unit_test(test_observe_expiry_on_access),
        cmocka_unit_test(test_observe_tick_reclaim),
        cmocka_unit_test(test_observe_flush),
        cmocka_unit_test(test_observe_failed_writes),
        cmocka_unit_test(test_observe_null_callbacks),
        cmocka_unit_test(test_observe_flush_waits_for_writes),
        cmocka_unit_test(test_observe_eviction),
        cmocka_unit_test(test_observe_concurrent),
        cmocka_unit_test(test_mark_used_is_quiet),
        cmocka_unit_test(test_mark_used_keeps_item),
        cmocka_unit_test(test_clock_rel_to_mono_ns),
        cmocka_unit_test(test_meta_get_fetched_and_bump),
        cmocka_unit_test(test_meta_last_access),
        cmocka_unit_test(test_meta_get_vivify_and_change),
        cmocka_unit_test(test_meta_get_expired),
        cmocka_unit_test(test_meta_delete),
        cmocka_unit_test(test_meta_delta),
        cmocka_unit_test(test_meta_write_stale_and_concat_cas),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
