/* keygen.h - the key space of a load: keys and values from a key's index,
 * and which key a request reads or writes.
 *
 * Key i is i in base 62 (0-9A-Za-z), most significant digit first, padded
 * with '0' to exactly key_size bytes. Its value is value_size bytes that
 * depend only on i, so a reader can check what a get returns. Key choice is
 * uniform over 0..n-1 or Zipf(s), rank r (0-based) being key r, drawn by
 * rejection-inversion (Hormann and Derflinger): exact, O(1), no table. */
#ifndef MCLOAD_KEYGEN_H
#define MCLOAD_KEYGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYGEN_KEY_MAX 250   /* memcached's longest key */

struct keyspace {
    uint64_t nkeys;
    unsigned key_size;
    unsigned value_size;
    /* Sets give key i an expiry of keyspace_ttl(i) seconds, spread evenly
     * over ttl_min..ttl_max by the key's index; 0..0 is none. */
    uint32_t ttl_min, ttl_max;
};

/* memcached reads a larger expiry as an absolute Unix time. */
#define KEYGEN_TTL_MAX (30u * 24 * 3600)

/* False, with the reason in why, when nkeys is 0, key_size is not 1..250,
 * or nkeys keys do not fit in key_size base-62 digits. */
bool keyspace_init(struct keyspace *ks, uint64_t nkeys, unsigned key_size,
                   unsigned value_size, char *why, size_t why_size);
/* Writes key_size bytes (no terminator). */
void keyspace_key(const struct keyspace *ks, uint64_t index, char *out);
/* The index of a key of this key space, or false when key is not one. */
bool keyspace_key_index(const struct keyspace *ks, const char *key, size_t len,
                        uint64_t *index);
/* Key index's expiry in seconds (0: none); the same on every set of it. */
uint32_t keyspace_ttl(const struct keyspace *ks, uint64_t index);
/* Writes value_size bytes. */
void keyspace_value(const struct keyspace *ks, uint64_t index, char *out);
/* Whether data[0..n) equals bytes offset..offset+n of key index's value
 * (false when that runs past value_size). */
bool keyspace_value_matches(const struct keyspace *ks, uint64_t index, size_t offset,
                            const char *data, size_t n);

/* xoshiro256**: small, fast, and each thread seeds its own. */
struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_unit(struct rng *r);
/* Uniform in [0, n). */
uint64_t rng_below(struct rng *r, uint64_t n);

struct key_dist {
    uint64_t nkeys;
    double s;              /* Zipf exponent; 0 = uniform */
    /* Rejection-inversion constants, see keygen.c. */
    double h_x1, h_n, accept;
};

/* Parses "uniform" or "zipf:S" (S > 0). False, with why, otherwise. */
bool key_dist_parse(struct key_dist *d, const char *text, uint64_t nkeys,
                    char *why, size_t why_size);
void key_dist_init(struct key_dist *d, uint64_t nkeys, double s);
uint64_t key_dist_next(const struct key_dist *d, struct rng *r);

#endif
