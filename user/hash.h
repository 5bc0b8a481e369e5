/* hash.h - a seeded 64-bit hash for cache keys.
 *
 * Not cryptographic: a random seed per process keeps clients from choosing
 * keys that pile into one bucket, and every output bit depends on every key
 * bit, so both the high bits (shard) and the low bits (bucket) are usable. */
#ifndef XDPCACHED_HASH_H
#define XDPCACHED_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash64(const void *data, size_t len, uint64_t seed);

#endif
