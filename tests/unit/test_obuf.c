/* test_obuf.c - replies by reference: store pins (user/store.c) and the
 * output buffer's referenced bytes (user/obuf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "obuf.h"
#include "store.h"

#define MB (1024 * 1024)
#define BIG (4 * OBUF_REF_MIN)

static struct store *new_store(void)
{
    struct store_config config = {
        .mem_limit = 64 * MB, .item_size_max = MB, .use_cas = true, .evict = true,
    };
    struct store *s = store_create(&config);
    assert_non_null(s);
    return s;
}

static void set(struct store *s, const char *key, char fill, size_t n)
{
    char *value = malloc(n);
    assert_non_null(value);
    memset(value, fill, n);
    struct store_write w = { .key = key, .nkey = strlen(key), .value = value, .nvalue = n };
    assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    free(value);
}

static uint64_t bytes_of(struct store *s)
{
    struct store_stats st;
    store_get_stats(s, &st);
    return st.bytes;
}

struct appender {
    struct obuf *out;
    struct store *store;
};

static void append_value(void *ctx, const struct item_view *it)
{
    struct appender *a = ctx;
    obuf_append_value(a->out, a->store, it);
}

/* Appends the key's value to out, as a reply does. */
static void append_get(struct store *s, struct obuf *out, const char *key)
{
    struct appender a = { out, s };
    assert_int_equal(store_get(s, key, strlen(key), NULL, append_value, &a), STORE_HIT);
}

/* The bytes [from, to) of the stream, gathered with obuf_iov. */
static char *gather(const struct obuf *out, size_t from, size_t to)
{
    struct iovec iov[16];
    size_t n = obuf_iov(out, from, to, iov, 16);
    char *bytes = malloc(to - from + 1), *p = bytes;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    assert_int_equal((size_t)(p - bytes), to - from);
    return bytes;
}

static void assert_filled(const char *bytes, char fill, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(bytes[i], fill);
}

static void test_small_values_are_copied(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct obuf out;
    obuf_init(&out);
    set(s, "small", 's', OBUF_REF_MIN - 1);
    append_get(s, &out, "small");
    assert_int_equal(out.nrefs, 0);
    assert_int_equal(out.data_len, OBUF_REF_MIN - 1);
    obuf_free(&out);
    store_destroy(s);
}

/* A referenced value outlives its item's replacement and deletion, still
 * counted against the limit, and is freed by the buffer's release. */
static void test_pinned_value_outlives_its_key(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct obuf out;
    obuf_init(&out);
    set(s, "big", 'a', BIG);
    uint64_t one_item = bytes_of(s);

    obuf_append(&out, "<", 1);
    append_get(s, &out, "big");
    obuf_append(&out, ">", 1);
    assert_int_equal(out.nrefs, 1);
    assert_int_equal(out.len, BIG + 2);
    assert_int_equal(out.data_len, 2);

    set(s, "big", 'b', BIG);              /* replaced: both items held */
    assert_int_equal(bytes_of(s), 2 * one_item);
    assert_int_equal(store_delete(s, "big", 3), STORE_DELETED);
    assert_int_equal(bytes_of(s), one_item);
    store_flush(s, 0);

    char *bytes = gather(&out, 0, out.len);
    assert_int_equal(bytes[0], '<');
    assert_filled(bytes + 1, 'a', BIG);
    assert_int_equal(bytes[BIG + 1], '>');
    free(bytes);

    obuf_release_sent(&out, 1 + BIG);     /* sent up to the end of the value */
    assert_int_equal(bytes_of(s), 0);
    obuf_free(&out);
    store_destroy(s);
}

/* incr must not rewrite a value that a reply is sending. */
static void test_incr_leaves_a_pinned_value(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct obuf out;
    obuf_init(&out);
    char *value = malloc(BIG);
    memset(value, ' ', BIG);
    value[0] = '9';
    struct store_write w = { .key = "n", .nkey = 1, .value = value, .nvalue = BIG };
    assert_int_equal(store_write(s, STORE_SET, &w, NULL), STORE_STORED);
    append_get(s, &out, "n");

    uint64_t result;
    assert_int_equal(store_delta(s, "n", 1, true, 1, &result, NULL), STORE_DELTA_OK);
    assert_int_equal(result, 10);
    char *bytes = gather(&out, 0, out.len);
    assert_memory_equal(bytes, value, BIG);
    free(bytes);
    free(value);
    uint64_t old_and_new = bytes_of(s);
    obuf_free(&out);                          /* the unpin frees the old item */
    assert_true(bytes_of(s) > 0 && bytes_of(s) < old_and_new - BIG);
    store_destroy(s);
}

/* Truncating a cancelled response releases its references; consuming part
 * of a reference keeps the rest. */
static void test_truncate_and_consume(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct obuf out;
    obuf_init(&out);
    set(s, "x", 'x', BIG);
    set(s, "y", 'y', BIG);
    uint64_t two_items = bytes_of(s);

    obuf_append(&out, "head", 4);
    append_get(s, &out, "x");
    obuf_append(&out, "mid", 3);
    size_t cancel_at = out.len;
    obuf_resp_start(&out);
    append_get(s, &out, "y");
    obuf_append(&out, "tail", 4);
    assert_int_equal(out.nrefs, 2);

    assert_int_equal(store_delete(s, "y", 1), STORE_DELETED);
    assert_int_equal(bytes_of(s), two_items);
    obuf_truncate(&out, cancel_at);           /* y's response cancelled */
    assert_int_equal(out.nrefs, 1);
    assert_int_equal(out.nresp, 0);
    assert_int_equal(bytes_of(s), two_items / 2);
    assert_int_equal(out.len, 4 + BIG + 3);

    obuf_consume(&out, 4 + 10);               /* into x's value */
    assert_int_equal(out.len, BIG - 10 + 3);
    char *bytes = gather(&out, 0, out.len);
    assert_filled(bytes, 'x', BIG - 10);
    assert_memory_equal(bytes + BIG - 10, "mid", 3);
    free(bytes);

    obuf_append(&out, "more", 4);
    bytes = gather(&out, BIG - 10, out.len);  /* copied bytes after the value */
    assert_memory_equal(bytes, "midmore", 7);
    free(bytes);
    obuf_reset(&out);
    assert_int_equal(out.len, 0);
    obuf_free(&out);
    store_destroy(s);
}

/* A stream's tail moves to another buffer whole: its copied bytes, its
 * references with their pins (not released twice), and its responses. */
static void test_move_tail(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct obuf src, dst;
    obuf_init(&src);
    obuf_init(&dst);
    set(s, "x", 'x', BIG);
    set(s, "y", 'y', BIG);
    uint64_t two_items = bytes_of(s);

    obuf_append(&src, "keep", 4);
    append_get(s, &src, "x");
    size_t from = src.len;
    obuf_resp_start(&src);
    obuf_append(&src, "A", 1);
    append_get(s, &src, "y");
    obuf_resp_start(&src);
    obuf_append(&src, "B", 1);
    append_get(s, &src, "x");
    obuf_resp_start(&src);                    /* an empty last response */
    obuf_append(&dst, "dst", 3);

    obuf_move_tail(&src, from, &dst);
    assert_int_equal(src.len, from);
    assert_int_equal(src.nrefs, 1);
    assert_int_equal(src.nresp, 0);
    assert_int_equal(dst.len, 3 + 2 + 2 * BIG);
    assert_int_equal(dst.nrefs, 2);
    assert_int_equal(dst.nresp, 3);
    assert_int_equal(dst.resp_starts[0], 3);
    assert_int_equal(dst.resp_starts[1], 3 + 1 + BIG);
    assert_int_equal(dst.resp_starts[2], dst.len);
    char *bytes = gather(&dst, 0, dst.len);
    assert_memory_equal(bytes, "dstA", 4);
    assert_filled(bytes + 4, 'y', BIG);
    assert_int_equal(bytes[4 + BIG], 'B');
    assert_filled(bytes + 5 + BIG, 'x', BIG);
    free(bytes);

    /* The pins moved with the references: y lives while dst holds it. */
    assert_int_equal(store_delete(s, "y", 1), STORE_DELETED);
    obuf_free(&src);
    assert_int_equal(bytes_of(s), two_items);
    obuf_free(&dst);
    assert_int_equal(bytes_of(s), two_items / 2);
    store_destroy(s);
}

/* Many references to one item: one pin table entry, freed with the last. */
static void test_many_pins_of_one_item(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct obuf out;
    obuf_init(&out);
    set(s, "b", 'b', BIG);
    for (int i = 0; i < 1000; i++)
        append_get(s, &out, "b");
    assert_int_equal(out.nrefs, 1000);
    assert_int_equal(out.len, 1000u * BIG);
    assert_int_equal(store_delete(s, "b", 1), STORE_DELETED);
    assert_true(bytes_of(s) > 0);
    obuf_release_sent(&out, 999u * BIG);
    assert_true(bytes_of(s) > 0);
    obuf_free(&out);
    assert_int_equal(bytes_of(s), 0);
    store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_are_copied),
        cmocka_unit_test(test_pinned_value_outlives_its_key),
        cmocka_unit_test(test_incr_leaves_a_pinned_value),
        cmocka_unit_test(test_truncate_and_consume),
        cmocka_unit_test(test_many_pins_of_one_item),
        cmocka_unit_test(test_move_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
