/* prefix_stats.h - memcached's `stats detail`: per key-prefix counts of gets,
 * hits, sets and deletes, recorded only while turned on.
 *
 * The prefix of a key is what comes before its first delimiter (':' unless
 * -D says otherwise); keys without one are not counted, as in memcached. */
#ifndef XDPCACHED_PREFIX_STATS_H
#define XDPCACHED_PREFIX_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum prefix_event { PREFIX_GET_MISS, PREFIX_GET_HIT, PREFIX_SET, PREFIX_DELETE };

struct prefix_counts {
    uint64_t gets, hits, sets, deletes;
};

typedef void (*prefix_fn)(void *ctx, const char *prefix, size_t len,
                          const struct prefix_counts *counts);

struct prefix_stats;

struct prefix_stats *prefix_stats_create(char delimiter);
void prefix_stats_destroy(struct prefix_stats *ps);

void prefix_stats_enable(struct prefix_stats *ps, bool on);

/* Cheap when off: one relaxed load. */
void prefix_stats_record(struct prefix_stats *ps, const char *key, size_t nkey,
                         enum prefix_event event);

/* Forget every prefix (stats reset). */
void prefix_stats_clear(struct prefix_stats *ps);

/* Calls fn for every prefix, sorted by prefix; false when out of memory. */
bool prefix_stats_foreach(struct prefix_stats *ps, prefix_fn fn, void *ctx);

#endif
