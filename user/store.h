/* store.h - the item store: keys to values with flags, expiry and CAS.
 *
 * Knows nothing of sockets or wire formats. A concurrent hash table split
 * into shards, each under its own lock and resized incrementally, so that no
 * operation ever waits for the whole table to grow. Memory is accounted
 * against a limit including per-item overhead; when full, items are evicted
 * with CLOCK (second chance), or the write fails when eviction is off (-M).
 * Expired items are dropped lazily on access and by store_tick(). */
#ifndef XDPCACHED_STORE_H
#define XDPCACHED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"

#define STORE_KEY_MAX 250

struct store_config {
    size_t mem_limit;        /* bytes of item memory (-m) */
    size_t item_size_max;    /* largest item, header and key included (-I) */
    bool use_cas;            /* false with -C: items carry no CAS field */
    bool evict;              /* false with -M: fail writes instead of evicting */
    unsigned hashpower;      /* log2 of the initial bucket count; 0 = default */
    bool reclaim_expired;    /* store_tick frees expired items (memcached's lru_crawler) */
    unsigned reclaim_positions; /* index buckets (8 slots each) each store_tick
                                 * scans for them, per shard; 0 = 128 */
};

/* An item as a reader sees it; valid only inside the callback it is passed to. */
struct item_view {
    const char *key;
    size_t nkey;
    const char *value;
    size_t nvalue;
    uint32_t flags;          /* the client's 32-bit flags */
    uint64_t cas;            /* 0 when CAS is off */
    rel_time_t exptime;      /* 0 = never */
    rel_time_t last_access;  /* memcached's item time: stored, or read a second time */
    bool fetched;            /* read since it was stored */
    bool key_binary;         /* stored under a key the client sent base64-encoded */
    bool stale;              /* invalidated: still readable, but marked stale */
    bool win_token_sent;     /* a reader was told it won the right to recache it */
    const void *item;        /* the store's item, for store_pin() */
};

typedef void (*store_view_fn)(void *ctx, const struct item_view *item);

enum store_mode {
    STORE_SET, STORE_ADD, STORE_REPLACE, STORE_APPEND, STORE_PREPEND, STORE_CAS,
};

enum store_status {
    STORE_STORED,       /* set/add/replace/append/prepend/cas done */
    STORE_NOT_STORED,   /* add on an existing key, replace/append/prepend on a missing one */
    STORE_EXISTS,       /* cas mismatch */
    STORE_NOT_FOUND,    /* cas, delete, touch, incr/decr on a missing key */
    STORE_DELETED,
    STORE_TOUCHED,
    STORE_TOO_LARGE,    /* item larger than item_size_max */
    STORE_NO_MEMORY,    /* over the limit and eviction is off, or malloc failed */
    STORE_NON_NUMERIC,  /* incr/decr on a value that is not a decimal number */
    STORE_DELTA_OK,     /* incr/decr done */
    STORE_INVALIDATED,  /* marked stale instead of deleted */
};

enum store_lookup {
    STORE_MISS,
    STORE_HIT,
    STORE_MISS_EXPIRED, /* found but expired (dropped now) */
};

struct store_write {
    const char *key;
    size_t nkey;
    const char *value;
    size_t nvalue;
    uint32_t flags;
    rel_time_t exptime;
    uint64_t cas;            /* compared for STORE_CAS, and for append/prepend
                                when not 0; 0 otherwise */
    bool key_binary;         /* remembered with the item (item_view.key_binary) */
    bool invalidate;         /* STORE_CAS: a CAS older than the item's stores the
                                value as stale, keeping the item's expiry and
                                win token (memcached's meta set with I) */
};

struct store_stats {
    uint64_t curr_items;
    uint64_t total_items;        /* items ever stored (linked) */
    uint64_t bytes;              /* memory accounted to items now */
    uint64_t limit_maxbytes;
    uint64_t evictions;          /* live items removed to make room */
    uint64_t evicted_unfetched;  /* ... that had never been read */
    uint64_t reclaimed;          /* expired items whose memory was taken back */
    uint64_t expired_unfetched;  /* ... that had never been read */
    uint64_t hash_power_level;   /* log2 of the total slot count (rounded down) */
    uint64_t hash_bytes;         /* memory of the hash indexes */
    bool hash_is_expanding;      /* some shard is moving to a bigger table */
    uint64_t item_header_bytes;  /* fixed per-item header size, for docs and stats */
};

/* One row of stats sizes: how many items have an allocation of this size class. */
typedef void (*store_size_fn)(void *ctx, size_t size_class_bytes, uint64_t count);

/* Told of every change to the live items, so that a mirror of some of them
 * (the XDP map) stays exact. changed and removed run under the key's shard
 * lock before the store call returns, so the calls for one key come in the
 * order of its changes; they must be quick and must not call back into the
 * store. Any callback may be NULL. */
struct store_observer {
    void *ctx;
    /* The key now holds this item: set, add, replace, append, prepend, cas,
     * incr, decr (also in place), touch, gat. A replaced item gets no
     * `removed`. The view is valid only during the call. */
    void (*changed)(void *ctx, const struct item_view *item);
    /* The key holds nothing any more: delete, eviction, an expired item
     * found (by any operation) or reclaimed (store_tick, eviction). The key
     * is valid only during the call. Not called for the items a flush or
     * store_destroy() drops. */
    void (*removed)(void *ctx, const char *key, size_t nkey);
    /* Items stored before `at` are invalid from `at` on (flush_all [delay]).
     * Called after every write that began before the flush has returned,
     * from inside store_flush() (so not under a shard lock, but it must not
     * call store_flush()). */
    void (*flushed)(void *ctx, rel_time_t at);
};

struct store;

/* NULL on a bad config or no memory. */
struct store *store_create(const struct store_config *config);
void store_destroy(struct store *store);

/* Look a key up; on a hit, calls fn with the item under the shard lock (so fn
 * must be quick and must not call back into the store). new_exptime, when not
 * NULL, sets the item's expiration (gat/gats). A hit marks the item used. */
enum store_lookup store_get(struct store *store, const char *key, size_t nkey,
                            const rel_time_t *new_exptime, store_view_fn fn, void *ctx);

/* set/add/replace/append/prepend/cas with memcached's semantics: append and
 * prepend keep the old flags and expiry; cas compares w->cas with the item's.
 * On STORE_STORED, *cas_out (when not NULL) is the new item's CAS. */
enum store_status store_write(struct store *store, enum store_mode mode,
                              const struct store_write *w, uint64_t *cas_out);

/* STORE_DELETED or STORE_NOT_FOUND. */
enum store_status store_delete(struct store *store, const char *key, size_t nkey);

/* STORE_TOUCHED or STORE_NOT_FOUND. */
enum store_status store_touch(struct store *store, const char *key, size_t nkey,
                              rel_time_t exptime);

/* incr/decr: 64-bit wrap on incr, floor at 0 on decr. The value must start with
 * a decimal number (memcached's strtoull rules). When the new number is
 * shorter than the old value it is written in place, padded with spaces, as
 * memcached does; otherwise the item is replaced. STORE_DELTA_OK sets
 * *result (and *cas_out when not NULL). */
enum store_status store_delta(struct store *store, const char *key, size_t nkey,
                              bool incr, uint64_t delta, uint64_t *result, uint64_t *cas_out);

/* Invalidate every item stored before `at` (a rel_time_t). at <= now flushes
 * at once; a later time replaces any earlier pending flush, as memcached does. */
void store_flush(struct store *store, rel_time_t at);

/* Changes the item memory limit (memcached's cache_memlimit). A limit below
 * the bytes in use refuses nothing by itself: the writes that follow evict
 * the excess (or, with -M, fail until deletes bring usage under it). */
void store_set_mem_limit(struct store *store, size_t bytes);
size_t store_mem_limit(const struct store *store);

/* Background work, called periodically by one thread (the daemon: 16 times a
 * second): reclaims expired items (reclaim_positions per shard, or every
 * position after store_request_crawl), finishes table growth, applies a due
 * flush. */
void store_tick(struct store *store);

/* memcached's lru_crawler enable/disable: whether store_tick reclaims
 * expired items (config.reclaim_expired at first). */
void store_set_crawler(struct store *store, bool enabled);
bool store_crawler_enabled(const struct store *store);

/* memcached's `lru_crawler crawl`: the next store_tick reclaims the expired
 * items of every shard's whole table, not just its usual slice. False when
 * the crawler is off or a crawl is already waiting for its tick. */
bool store_request_crawl(struct store *store);

/* Would an item with this key, flags and value length fit under item_size_max?
 * Uses memcached's own item size formula (48-byte header, key + 1, value +
 * CRLF, 4 bytes when flags are non-zero, 8 with CAS) so that the largest
 * storable value is the same byte for byte. */
bool store_item_size_ok(const struct store *store, size_t nkey, uint32_t flags, size_t nvalue);

/* Installs the observer (copied; NULL removes it); call before the store is
 * shared. Without one the store calls nothing. */
void store_set_observer(struct store *store, const struct store_observer *observer);

/* Told of each live item evicted to make room (`watch evictions`), under
 * its shard's lock, before it goes: quick, and no call into the store. */
void store_set_eviction_listener(struct store *store, store_view_fn fn, void *ctx);

/* Marks a live item used (for CLOCK, as fetched for evicted_unfetched and
 * the meta `h` flag, and its last_access) as a read would, without counting
 * a read or changing its value: for items the XDP fast path served. Nothing when the key is missing; an expired item is dropped, as
 * by any access (and `removed` is called). */
void store_mark_used(struct store *store, const char *key, size_t nkey);

void store_get_stats(struct store *store, struct store_stats *out);

/* ---- replies by reference --------------------------------------------------- */

/* An item held for a reader past its lookup: its value stays in place and
 * unchanged until store_unpin(), whatever happens to the key meanwhile (an
 * incr writes a new item instead of the pinned one). An item unlinked while
 * pinned is freed by its last unpin and counts against mem_limit until then,
 * as memcached's referenced items do. */
struct store_pin {
    struct store *store;
    const void *item;
    unsigned shard;
};

/* Pins the item of a view; only from inside a store_view_fn or store_meta_fn
 * (it relies on the shard lock held there). False when out of memory. */
bool store_pin(struct store *store, const struct item_view *item, struct store_pin *pin);

/* Releases a pin; takes the item's shard lock, so never from a callback. */
void store_unpin(const struct store_pin *pin);

/* ---- for memcached's meta commands ---------------------------------------- */

/* What a meta read or arithmetic changes on its item, as the caller's
 * callback decides under the shard lock. */
struct store_meta_change {
    bool set_exptime;
    rel_time_t exptime;
    bool win_token;          /* a reader is being told it won the recache */
    bool no_bump;            /* the request failed midway: not counted as a read */
};

/* Called under the shard lock with the item as it was before this access
 * (after it, for arithmetic); created: the item was just made because it
 * was missing. Must be quick and must not call back into the store. */
typedef void (*store_meta_fn)(void *ctx, const struct item_view *item, bool created,
                              struct store_meta_change *change);

struct store_meta_read {
    bool vivify;             /* on a miss, create an empty item (flags 0, no expiry) */
    bool bump;               /* count as a read for CLOCK, fetched and last_access */
};

/* A read that may create the item and change its expiry and win token:
 * STORE_HIT (fn was called), or a miss. The observer hears of any change. */
enum store_lookup store_get_meta(struct store *store, const char *key, size_t nkey,
                                 const struct store_meta_read *how, store_meta_fn fn,
                                 void *ctx);

/* Delete, or with invalidate mark stale instead: new CAS, expiry set when
 * new_exptime is not NULL, win token cleared. cas, when not NULL, must
 * match, 0 included: STORE_EXISTS otherwise. STORE_DELETED,
 * STORE_INVALIDATED, STORE_NOT_FOUND. */
enum store_status store_delete_meta(struct store *store, const char *key, size_t nkey,
                                    const uint64_t *cas, bool invalidate,
                                    const rel_time_t *new_exptime);

struct store_delta_meta {
    bool incr;
    uint64_t delta;
    uint64_t cas;            /* when not 0, must match: STORE_EXISTS otherwise */
    bool vivify;             /* a missing key is created holding `initial` */
    uint64_t initial;
};

/* incr/decr as store_delta, then fn with the result item (created when
 * vivified). change->exptime applies only to an item changed in place or
 * created: memcached applies it to the item it holds, which is the old one
 * when the number grew. *result is the new number, *cas_out (when not
 * NULL) the CAS of the item that holds it. */
enum store_status store_delta_meta(struct store *store, const char *key, size_t nkey,
                                   const struct store_delta_meta *req, uint64_t *result,
                                   uint64_t *cas_out, store_meta_fn fn, void *ctx);

/* Called with each live item; returns false to stop the walk. */
typedef bool (*store_walk_fn)(void *ctx, const struct item_view *item);

/* Calls fn for every live (unexpired) item, one shard at a time under its
 * lock, so fn sees each item as it is at that moment but items written
 * meanwhile to other shards may or may not be seen. fn must not call into
 * the store. Reads nothing as a use: no item is marked fetched or bumped
 * (memcached's key listings do not either). */
void store_walk(struct store *store, store_walk_fn fn, void *ctx);

/* memcached's ITEM_ntotal for the item: what its `size=` fields report. */
size_t store_memcached_item_size(const struct store *store, const struct item_view *item);

/* Walks all items and reports the count per allocation size class (stats sizes). */
void store_size_histogram(struct store *store, store_size_fn fn, void *ctx);

#endif
