/* hash.c - see hash.h.
 *
 * Each step is a "fold multiply": the 128-bit product of the state and an
 * odd constant, high half xor low half. The high half depends on every bit
 * of both factors, so one step already spreads each input bit over the whole
 * word. Keys are read 8 bytes at a time; the length is mixed in first so
 * that keys differing only by trailing zero bytes still differ. */
#include "hash.h"

#include <string.h>

/* Odd constants with about half their bits set: 2^64 / golden ratio, and an
 * arbitrary second one, so that the two kinds of step differ. */
#define HASH_K1 0x9e3779b97f4a7c15ull
#define HASH_K2 0xd1b54a32d192ed03ull

static inline uint64_t fold_multiply(uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = fold_multiply(seed ^ HASH_K2, HASH_K1 ^ len);
    uint64_t word;

    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&word, p, 8);
        h = fold_multiply(h ^ word, HASH_K1);
    }
    word = 0;
    memcpy(&word, p, len);
    h = fold_multiply(h ^ word, HASH_K2);
    return fold_multiply(h, HASH_K1);
}
