/* test_loadgen_keygen.c - mcload's key space: fixed-width base-62 keys,
 * unique and decodable, the error when N does not fit; values derived from
 * the key and checked piecewise; Zipf and uniform frequencies against
 * theory; the same seed giving the same keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "keygen.h"

#define DRAWS 1000000

static struct keyspace space(uint64_t nkeys, unsigned key_size, unsigned value_size)
{
    struct keyspace ks;
    char why[128];
    if (!keyspace_init(&ks, nkeys, key_size, value_size, why, sizeof(why)))
        fail_msg("keyspace_init refused: %s", why);
    return ks;
}

/* Every key of 62^2 in 2 digits: fixed width, distinct, decoded back. */
static void test_keys_unique_fixed_width(void **state)
{
    (void)state;
    struct keyspace ks = space(62 * 62, 2, 8);
    static char seen[62 * 62][3];
    for (uint64_t i = 0; i < ks.nkeys; i++) {
        char key[3] = { 0 };
        keyspace_key(&ks, i, key);
        assert_int_equal(strlen(key), 2);
        uint64_t back;
        assert_true(keyspace_key_index(&ks, key, 2, &back));
        assert_int_equal(back, i);
        memcpy(seen[i], key, 3);
    }
    for (uint64_t i = 1; i < ks.nkeys; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) < 0);   /* ordered, hence distinct */
    assert_string_equal(seen[0], "00");
    assert_string_equal(seen[61], "0z");
    assert_string_equal(seen[62], "10");
}

static void test_key_of_wide_keys(void **state)
{
    (void)state;
    struct keyspace ks = space(1000000, 8, 8);
    char key[8];
    keyspace_key(&ks, 999999, key);
    assert_memory_equal(key, "00004C91", 8);   /* 999999 = 4*62^3 + 12*62^2 + 9*62 + 1 */
    uint64_t index;
    assert_false(keyspace_key_index(&ks, "0000004", 7, &index));    /* wrong width */
    assert_false(keyspace_key_index(&ks, "0000-004", 8, &index));   /* not a digit */
    assert_false(keyspace_key_index(&ks, "00004C92", 8, &index));   /* index >= N */
    struct keyspace huge = space(UINT64_MAX, 250, 8);
    assert_int_equal(huge.key_size, 250);
}

static void test_keys_that_do_not_fit(void **state)
{
    (void)state;
    struct keyspace ks;
    char why[128] = "";
    assert_false(keyspace_init(&ks, 62 * 62 + 1, 2, 8, why, sizeof(why)));
    assert_non_null(strstr(why, "do not fit"));
    assert_false(keyspace_init(&ks, 63, 1, 8, why, sizeof(why)));
    assert_false(keyspace_init(&ks, 0, 8, 8, why, sizeof(why)));
    assert_false(keyspace_init(&ks, 10, 0, 8, why, sizeof(why)));
    assert_false(keyspace_init(&ks, 10, 251, 8, why, sizeof(why)));
    assert_true(keyspace_init(&ks, 62, 1, 8, why, sizeof(why)));
    assert_true(keyspace_init(&ks, 14776336, 4, 256, why, sizeof(why)));   /* 62^4 */
}

static void test_values(void **state)
{
    (void)state;
    struct keyspace ks = space(1000, 8, 300);
    char a[300], b[300], c[300];
    keyspace_value(&ks, 5, a);
    keyspace_value(&ks, 5, b);
    assert_memory_equal(a, b, 300);
    /* Some neighbour has another value. */
    bool differs = false;
    for (uint64_t k = 6; k < 20 && !differs; k++) {
        keyspace_value(&ks, k, c);
        differs = memcmp(a, c, 300) != 0;
    }
    assert_true(differs);
    /* Checked whole and in every split. */
    assert_true(keyspace_value_matches(&ks, 5, 0, a, 300));
    for (size_t at = 0; at <= 300; at += 7)
        assert_true(keyspace_value_matches(&ks, 5, at, a + at, 300 - at));
    a[150] ^= 1;
    assert_false(keyspace_value_matches(&ks, 5, 0, a, 300));
    assert_true(keyspace_value_matches(&ks, 5, 0, a, 150));
    assert_false(keyspace_value_matches(&ks, 5, 290, b + 290, 11));   /* past the end */
}

/* Frequencies of draws against p(k): every rank's count within 5 standard
 * deviations of the binomial expectation. */
static void check_frequencies(struct key_dist *d, const double *p, uint64_t n, uint64_t seed)
{
    uint64_t count[16] = { 0 };
    struct rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = key_dist_next(d, &r);
        assert_true(k < n);
        count[k]++;
    }
    for (uint64_t k = 0; k < n; k++) {
        double want = p[k] * DRAWS;
        double sigma = sqrt(DRAWS * p[k] * (1 - p[k]));
        if (fabs((double)count[k] - want) > 5 * sigma)
            fail_msg("rank %llu: %llu draws, expected %.0f +- %.0f", (unsigned long long)k,
                     (unsigned long long)count[k], want, sigma);
    }
}

static void check_zipf(uint64_t n, double s)
{
    struct key_dist d;
    key_dist_init(&d, n, s);
    double p[16], total = 0;
    for (uint64_t k = 0; k < n; k++)
        total += p[k] = pow((double)(k + 1), -s);
    for (uint64_t k = 0; k < n; k++)
        p[k] /= total;
    check_frequencies(&d, p, n, 42);
}

static void test_zipf_frequencies(void **state)
{
    (void)state;
    check_zipf(10, 0.99);
    check_zipf(16, 1.0);   /* the log form of H */
    check_zipf(5, 2.0);
    check_zipf(1, 0.99);
}

/* The top ranks of a large key space, where a table would be too big. */
static void test_zipf_top_ranks_of_a_million(void **state)
{
    (void)state;
    const uint64_t n = 1000000;
    const double s = 0.99;
    double total = 0;
    for (uint64_t k = 1; k <= n; k++)
        total += pow((double)k, -s);
    struct key_dist d;
    key_dist_init(&d, n, s);
    uint64_t top[4] = { 0 };
    struct rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = key_dist_next(&d, &r);
        assert_true(k < n);
        if (k < 4)
            top[k]++;
    }
    for (uint64_t k = 0; k < 4; k++) {
        double pk = pow((double)(k + 1), -s) / total;
        double sigma = sqrt(DRAWS * pk * (1 - pk));
        assert_true(fabs((double)top[k] - pk * DRAWS) < 5 * sigma);
    }
}

static void test_uniform_frequencies(void **state)
{
    (void)state;
    struct key_dist d;
    char why[128];
    assert_true(key_dist_parse(&d, "uniform", 10, why, sizeof(why)));
    double p[10];
    for (int k = 0; k < 10; k++)
        p[k] = 0.1;
    check_frequencies(&d, p, 10, 9);
}

static void test_seed_reproducible(void **state)
{
    (void)state;
    struct key_dist d;
    char why[128];
    assert_true(key_dist_parse(&d, "zipf:0.99", 1000000, why, sizeof(why)));
    struct rng a, b, c;
    rng_seed(&a, 5);
    rng_seed(&b, 5);
    rng_seed(&c, 6);
    int same_as_other_seed = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = key_dist_next(&d, &a);
        assert_int_equal(x, key_dist_next(&d, &b));
        same_as_other_seed += x == key_dist_next(&d, &c);
    }
    assert_true(same_as_other_seed < 500);
}

static void test_dist_parse_errors(void **state)
{
    (void)state;
    struct key_dist d;
    char why[128];
    const char *bad[] = { "zipf", "zipf:", "zipf:0", "zipf:-1", "zipf:x", "zipf:1.0x", "normal" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (key_dist_parse(&d, bad[i], 10, why, sizeof(why)))
            fail_msg("'%s' accepted", bad[i]);
    assert_true(key_dist_parse(&d, "zipf:0.5", 10, why, sizeof(why)));
    assert_true(d.s == 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_unique_fixed_width),
        cmocka_unit_test(test_key_of_wide_keys),
        cmocka_unit_test(test_keys_that_do_not_fit),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_zipf_frequencies),
        cmocka_unit_test(test_zipf_top_ranks_of_a_million),
        cmocka_unit_test(test_uniform_frequencies),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_dist_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
