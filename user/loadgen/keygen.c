/* keygen.c - see keygen.h. */
#include "keygen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE 62
#define BASE62_DIGITS "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* Values are the 62 digits repeated from a key-dependent start; the digits
 * twice over make any window of up to BASE bytes starting in the first BASE
 * one memcmp. The first BASE are also the digits of keys. */
static const char VALUE_PATTERN[2 * BASE + 1] = BASE62_DIGITS BASE62_DIGITS;
#define DIGITS VALUE_PATTERN

bool keyspace_init(struct keyspace *ks, uint64_t nkeys, unsigned key_size,
                   unsigned value_size, char *why, size_t why_size)
{
    if (nkeys == 0) {
        snprintf(why, why_size, "the key count must be at least 1");
        return false;
    }
    if (key_size < 1 || key_size > KEYGEN_KEY_MAX) {
        snprintf(why, why_size, "key size %u is not 1..%d", key_size, KEYGEN_KEY_MAX);
        return false;
    }
    /* Distinct keys of key_size digits: 62^key_size, computed until it
     * passes nkeys (62^11 already exceeds any 64-bit count). */
    uint64_t distinct = 1;
    for (unsigned i = 0; i < key_size && distinct < nkeys; i++)
        distinct = distinct > UINT64_MAX / BASE ? UINT64_MAX : distinct * BASE;
    if (distinct < nkeys) {
        snprintf(why, why_size, "%llu keys do not fit in %u base-62 digits (at most %llu)",
                 (unsigned long long)nkeys, key_size, (unsigned long long)distinct);
        return false;
    }
    ks->nkeys = nkeys;
    ks->key_size = key_size;
    ks->value_size = value_size;
    ks->ttl_min = ks->ttl_max = 0;
    return true;
}

void keyspace_key(const struct keyspace *ks, uint64_t index, char *out)
{
    for (unsigned i = ks->key_size; i-- > 0;) {
        out[i] = DIGITS[index % BASE];
        index /= BASE;
    }
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

bool keyspace_key_index(const struct keyspace *ks, const char *key, size_t len,
                        uint64_t *index)
{
    if (len != ks->key_size)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(key[i]);
        if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / BASE)
            return false;
        v = v * BASE + (uint64_t)d;
    }
    if (v >= ks->nkeys)
        return false;
    *index = v;
    return true;
}

/* splitmix64's finaliser: spreads consecutive indexes over all start offsets. */
static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static unsigned value_start(uint64_t index)
{
    return (unsigned)(mix64(index) % BASE);
}

uint32_t keyspace_ttl(const struct keyspace *ks, uint64_t index)
{
    uint32_t span = ks->ttl_max - ks->ttl_min + 1;
    /* The quotient of value_start's draw: its low digits pick the value. */
    return ks->ttl_max == 0 ? 0 : ks->ttl_min + (uint32_t)(mix64(index) / BASE % span);
}

void keyspace_value(const struct keyspace *ks, uint64_t index, char *out)
{
    unsigned at = value_start(index);
    for (unsigned i = 0; i < ks->value_size; i++)
        out[i] = DIGITS[(at + i) % BASE];
}

bool keyspace_value_matches(const struct keyspace *ks, uint64_t index, size_t offset,
                            const char *data, size_t n)
{
    if (offset > ks->value_size || n > ks->value_size - offset)
        return false;
    size_t at = (value_start(index) + offset) % BASE;
    while (n > 0) {
        size_t chunk = n < BASE ? n : BASE;
        if (memcmp(data, VALUE_PATTERN + at, chunk) != 0)
            return false;
        data += chunk;
        n -= chunk;
    }
    return true;
}

/* -- random numbers ----------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += UINT64_C(0x9e3779b97f4a7c15);
        r->s[i] = mix64(seed);
    }
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's multiply-shift: the bias is below n / 2^64, far under any test's
 * resolution, and it costs no division. */
uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* -- Zipf by rejection-inversion -------------------------------------------
 *
 * Ranks k = 1..n have weight h(k) = k^-s. H is an antiderivative of h,
 * H(x) = (x^(1-s) - 1) / (1-s) (log x when s = 1), written with expm1 and
 * log1p so that it stays exact near s = 1. A uniform u over
 * (H(1.5) - 1, H(n + 0.5)] mapped through H's inverse lands in the interval
 * around k with probability proportional to its area under h; the test
 * u >= H(k + 0.5) - h(k) trims that area to exactly h(k). Most draws are
 * accepted by the cheap test k - x <= accept first. */

static double expm1_over_x(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x / 2;
}

static double log1p_over_x(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x / 2;
}

static double zipf_h(double s, double x)
{
    return exp(-s * log(x));
}

static double zipf_H(double s, double x)
{
    double log_x = log(x);
    return expm1_over_x((1 - s) * log_x) * log_x;
}

static double zipf_H_inverse(double s, double y)
{
    double t = y * (1 - s);
    if (t < -1)   /* outside H's range only by rounding */
        t = -1;
    return exp(log1p_over_x(t) * y);
}

void key_dist_init(struct key_dist *d, uint64_t nkeys, double s)
{
    memset(d, 0, sizeof(*d));
    d->nkeys = nkeys;
    d->s = s;
    if (s <= 0)
        return;
    d->h_x1 = zipf_H(s, 1.5) - 1;
    d->h_n = zipf_H(s, (double)nkeys + 0.5);
    d->accept = 2 - zipf_H_inverse(s, zipf_H(s, 2.5) - zipf_h(s, 2));
}

bool key_dist_parse(struct key_dist *d, const char *text, uint64_t nkeys,
                    char *why, size_t why_size)
{
    if (strcmp(text, "uniform") == 0) {
        key_dist_init(d, nkeys, 0);
        return true;
    }
    if (strncmp(text, "zipf:", 5) == 0) {
        char *end;
        double s = strtod(text + 5, &end);
        if (end != text + 5 && *end == '\0' && s > 0 && s <= 100) {
            key_dist_init(d, nkeys, s);
            return true;
        }
    }
    snprintf(why, why_size, "'%s' is not uniform or zipf:S with 0 < S <= 100", text);
    return false;
}

uint64_t key_dist_next(const struct key_dist *d, struct rng *r)
{
    if (d->s <= 0)
        return rng_below(r, d->nkeys);
    double n = (double)d->nkeys;
    for (;;) {
        double u = d->h_n + rng_unit(r) * (d->h_x1 - d->h_n);
        double x = zipf_H_inverse(d->s, u);
        double k = floor(x + 0.5);
        if (k < 1)
            k = 1;
        else if (k > n)
            k = n;
        if (k - x <= d->accept || u >= zipf_H(d->s, k + 0.5) - zipf_h(d->s, k))
            return (uint64_t)k - 1;
    }
}
