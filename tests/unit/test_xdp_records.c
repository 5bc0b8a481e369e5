/* Unit tests of the record allocator of the fast path's values map
 * (user/xdp_records.c): size classes, pages, the chunk-0 rule, the map's
 * end, free-list reuse and the reclaim clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xdp_cache.h"
#include "xdp_records.h"

#define PAGE XDP_RECORDS_PAGE_CHUNKS

static void test_class_sizes(void **state)
{
    (void)state;
    assert_int_equal(xdp_records_class_chunks(1), 1);
    assert_int_equal(xdp_records_class_chunks(5), 6);
    assert_int_equal(xdp_records_class_chunks(13), 16);
    assert_int_equal(xdp_records_class_chunks(XDP_RECORD_CHUNKS_MAX), XDP_RECORD_CHUNKS_MAX);
    assert_int_equal(xdp_records_class_chunks(XDP_RECORD_CHUNKS_MAX + 1), 0);
    /* The longest reply text fits the largest class. */
    assert_true(xdp_record_chunks(XDP_TEXT_MAX) <= XDP_RECORD_CHUNKS_MAX);
}

/* Every record of a full map: never chunk 0, never past the end, never
 * overlapping another. */
static void test_records_stay_inside_and_apart(void **state)
{
    (void)state;
    const uint32_t nchunks = 2 * PAGE + 100;        /* a partial last page */
    struct xdp_records *r = xdp_records_create(nchunks);
    assert_non_null(r);
    uint8_t *used = calloc(nchunks, 1);
    unsigned n = 0;
    for (uint32_t chunk; (chunk = xdp_records_alloc(r, 3, n)) != 0; n++) {
        assert_true(chunk + 3 <= nchunks);
        for (uint32_t c = chunk; c < chunk + 3; c++) {
            assert_int_equal(used[c], 0);
            used[c] = 1;
        }
    }
    assert_int_equal(used[0], 0);
    /* Page 0 less chunk 0, page 1, and the 100 chunks of the last. */
    assert_int_equal(n, (PAGE - 1) / 3 + PAGE / 3 + 100 / 3);
    free(used);
    xdp_records_destroy(r);
}

/* A freed record is the next one handed out in its class; other classes
 * keep their own. */
static void test_free_list_reuse(void **state)
{
    (void)state;
    struct xdp_records *r = xdp_records_create(4 * PAGE);
    uint32_t a = xdp_records_alloc(r, 2, 1), b = xdp_records_alloc(r, 2, 2);
    uint32_t big = xdp_records_alloc(r, 20, 3);
    assert_true(a && b && big);
    xdp_records_free(r, a);
    assert_int_not_equal(xdp_records_alloc(r, 23, 4), a);
    assert_int_not_equal(xdp_records_alloc(r, 1, 5), a);
    assert_int_equal(xdp_records_alloc(r, 2, 6), a);
    xdp_records_destroy(r);
}

struct offered {
    unsigned n;
    uint32_t owners[64];
    uint32_t take;          /* the owner to evict, or UINT32_MAX for none */
};

static bool record_offer(void *ctx, uint32_t owner, uint32_t chunk)
{
    struct offered *o = ctx;
    (void)chunk;
    if (o->n < 64)
        o->owners[o->n++] = owner;
    return owner == o->take;
}

/* A full class offers its records in clock order, going on where it left
 * off; the record given up is free again. */
static void test_reclaim_clock(void **state)
{
    (void)state;
    struct xdp_records *r = xdp_records_create(PAGE);
    unsigned n = 0;
    while (xdp_records_alloc(r, 23, n))
        n++;
    assert_int_equal(n, (PAGE - 1) / 23);
    struct offered o = { .take = UINT32_MAX };
    assert_false(xdp_records_reclaim(r, 23, 5, record_offer, &o));
    assert_int_equal(o.n, 5);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(o.owners[i], i);
    o = (struct offered){ .take = 7 };
    assert_true(xdp_records_reclaim(r, 23, 5, record_offer, &o));
    assert_int_equal(o.owners[0], 5);       /* where the hand stopped */
    assert_int_equal(o.owners[o.n - 1], 7);
    assert_int_not_equal(xdp_records_alloc(r, 23, 99), 0);
    assert_int_equal(xdp_records_alloc(r, 23, 100), 0);
    /* The hand wraps around the class's records. */
    o = (struct offered){ .take = UINT32_MAX };
    assert_false(xdp_records_reclaim(r, 23, n + 3, record_offer, &o));
    assert_int_equal(o.n, n + 3);
    xdp_records_destroy(r);
}

/* With at least two pages a class, the last pages are kept for the classes
 * that have none yet; a class with no page offers nothing to reclaim. */
static void test_pages_kept_for_every_class(void **state)
{
    (void)state;
    const unsigned classes = 9, pages = 2 * classes;
    struct xdp_records *r = xdp_records_create(pages * PAGE);
    unsigned small = 0;
    while (xdp_records_alloc(r, 1, small))
        small++;
    assert_int_equal(small, (pages - (classes - 1)) * PAGE - 1);
    struct offered o = { .take = UINT32_MAX };
    assert_false(xdp_records_reclaim(r, 23, 5, record_offer, &o));
    assert_int_equal(o.n, 0);
    assert_int_not_equal(xdp_records_alloc(r, 23, 0), 0);
    assert_int_not_equal(xdp_records_alloc(r, 4, 0), 0);
    xdp_records_destroy(r);
    assert_null(xdp_records_create(1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_sizes),
        cmocka_unit_test(test_records_stay_inside_and_apart),
        cmocka_unit_test(test_free_list_reuse),
        cmocka_unit_test(test_reclaim_clock),
        cmocka_unit_test(test_pages_kept_for_every_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
