/* test_loadgen_hist.c - mcload's latency histogram: percentiles against a
 * sorted array within the stated precision (0.1%), exact small values,
 * clamping, and merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "keygen.h"

#define SAMPLES 200000

static struct hist *new_hist(void)
{
    struct hist *h = malloc(sizeof(*h));
    assert_non_null(h);
    hist_init(h);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Values spread over 1 ns .. about 10 s, log-uniformly, plus a cluster. */
static uint64_t *sample_values(uint64_t seed)
{
    uint64_t *v = malloc(SAMPLES * sizeof(*v));
    assert_non_null(v);
    struct rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < SAMPLES; i++)
        v[i] = i % 5 == 0 ? 45000 + rng_below(&r, 100)
                          : (uint64_t)exp(rng_unit(&r) * log(1e10));
    return v;
}

/* The exact q-percentile of sorted[0..n): the value of rank ceil(q * n). */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return sorted[rank < 1 ? 0 : rank - 1];
}

static void test_percentiles_within_precision(void **state)
{
    (void)state;
    uint64_t *v = sample_values(7);
    struct hist *h = new_hist();
    for (size_t i = 0; i < SAMPLES; i++)
        hist_record(h, v[i]);
    qsort(v, SAMPLES, sizeof(*v), cmp_u64);
    const double qs[] = { 0.0001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0 };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        uint64_t want = exact_percentile(v, SAMPLES, qs[i]);
        uint64_t got = hist_percentile(h, qs[i]);
        /* The bucket's top: never below the value, at most 1/1024 above. */
        if (got < want || (double)(got - want) > (double)want / 1024.0)
            fail_msg("q=%g: got %llu, exact %llu", qs[i], (unsigned long long)got,
                     (unsigned long long)want);
    }
    assert_int_equal(h->count, SAMPLES);
    assert_int_equal(h->min, v[0]);
    assert_int_equal(h->max, v[SAMPLES - 1]);
    assert_int_equal(hist_percentile(h, 1.0), v[SAMPLES - 1]);
    free(v);
    free(h);
}

static void test_small_values_are_exact(void **state)
{
    (void)state;
    struct hist *h = new_hist();
    for (uint64_t v = 0; v < 2048; v++)
        hist_record(h, v);
    for (uint64_t v = 0; v < 2048; v++)
        assert_int_equal(hist_percentile(h, (double)(v + 1) / 2048.0), v);
    assert_true(fabs(hist_mean(h) - 1023.5) < 1e-9);
    free(h);
}

static void test_empty_and_clamped(void **state)
{
    (void)state;
    struct hist *h = new_hist();
    assert_int_equal(hist_percentile(h, 0.5), 0);
    assert_true(hist_mean(h) == 0);
    hist_record(h, UINT64_MAX);
    assert_int_equal(h->max, HIST_MAX_VALUE);
    assert_int_equal(hist_percentile(h, 0.5), HIST_MAX_VALUE);
    free(h);
}

/* Two halves merged are the histogram of the whole, bucket for bucket. */
static void test_merge(void **state)
{
    (void)state;
    uint64_t *v = sample_values(11);
    struct hist *whole = new_hist(), *a = new_hist(), *b = new_hist();
    for (size_t i = 0; i < SAMPLES; i++) {
        hist_record(whole, v[i]);
        hist_record(i < SAMPLES / 3 ? a : b, v[i]);
    }
    hist_merge(a, b);
    assert_int_equal(a->count, whole->count);
    assert_int_equal(a->min, whole->min);
    assert_int_equal(a->max, whole->max);
    assert_true(fabs(a->sum - whole->sum) <= whole->sum * 1e-12);
    assert_memory_equal(a->buckets, whole->buckets, sizeof(a->buckets));
    assert_int_equal(hist_percentile(a, 0.999), hist_percentile(whole, 0.999));
    free(v);
    free(whole);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_within_precision),
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_empty_and_clamped),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
