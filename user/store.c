/* store.c - see store.h; docs/store.md explains the design.
 *
 * Layout: STORE_SHARDS shards, picked by the top bits of a seeded 64-bit key
 * hash. Each shard has a mutex, a hash index (hash_index.h: buckets of
 * tagged item addresses) placed by the lower bits, and a table of the items
 * readers hold (pin_table.h). Items (item.h: a 12-byte header, then only
 * what they use) are one malloc each and carry no chain or LRU pointers:
 * eviction is CLOCK over the index's buckets.
 *
 * Locking: one shard lock at a time, never two. Memory is reserved against
 * the limit (a global atomic) before an item is built; making room evicts
 * from one shard at a time, with no other lock held.
 *
 * Observer: shard_link() tells it of every new item and shard_drop() of
 * every unlink, both under the shard lock; the in-place changes (incr/decr
 * that fits, touch, gat) tell it themselves. */
#include "store.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "hash.h"
#include "hash_index.h"
#include "item.h"
#include "pin_table.h"

#define STORE_SHARD_BITS 6
#define STORE_SHARDS (1u << STORE_SHARD_BITS)
#define HASHPOWER_DEFAULT 16     /* memcached's: 65536 buckets in all */
#define HASHPOWER_MAX 32         /* memcached's limit for -o hashpower */
#define SHARD_SLOTS_MIN 32

#define MIGRATE_PER_OP 1         /* old buckets (8 slots) moved by each operation on a growing shard */
#define MIGRATE_PER_TICK 512     /* ... and by each store_tick, per shard */
#define RECLAIM_PER_TICK 128     /* reclaim_positions' default: 1,024 slots */
#define UPDATE_ATTEMPTS 8        /* retries of an update that keeps running short of memory */

/* memcached's item_size_ok(): its 48-byte item header, the key's NUL, the
 * value's CRLF, 4 bytes of flags when non-zero, 8 of CAS when on. */
#define MEMCACHED_ITEM_HEADER 48

/* glibc malloc: a chunk is the request plus an 8-byte size word, rounded up
 * to 16, at least 32. Accounting chunks, not requests, keeps -m honest. */
#define MALLOC_OVERHEAD 8
#define MALLOC_ALIGN 16
#define MALLOC_MIN_CHUNK 32

#define SIZE_CLASS_BYTES 32      /* stats sizes granularity, as in memcached */

struct shard_counters {
    uint64_t curr_items;
    uint64_t total_items;
    uint64_t evictions;
    uint64_t evicted_unfetched;
    uint64_t reclaimed;
    uint64_t expired_unfetched;
};

struct shard {
    _Alignas(64) pthread_mutex_t lock;  /* shards never share a cache line */
    struct hash_index index;
    uint32_t flush_generation;   /* the last flush applied to this shard */
    size_t clock_hand;           /* eviction position */
    unsigned clock_way;          /* and the slot in it the hand is at (0 .. 2 * 8 - 1) */
    size_t reclaim_hand;         /* store_tick's expiry scan position */
    struct shard_counters counters;
    struct pin_table pinned;     /* items readers hold (store_pin) */
};

struct store {
    struct store_config config;
    struct item_layout layout;   /* CAS or not (-C) */
    uint64_t hash_seed;
    _Atomic size_t bytes_used;   /* accounted item memory, including reservations */
    /* config.mem_limit until cache_memlimit changes it; may fall below
     * bytes_used, which writes then bring back under it by evicting */
    _Atomic size_t mem_limit;
    _Atomic uint64_t last_cas;
    _Atomic unsigned evict_rotor;
    _Atomic uint64_t flush_order; /* generation << 32 | at: one atomic, read by every operation */
    _Atomic bool crawler_enabled; /* store_tick reclaims expired items */
    _Atomic bool crawl_requested; /* the next store_tick reclaims whole tables */
    pthread_mutex_t flush_lock;  /* serializes store_flush() */
    struct shard *shards;        /* STORE_SHARDS, 64-byte aligned */
    struct store_observer observer; /* callbacks NULL when none is installed */
    store_view_fn evicted;       /* store_set_eviction_listener(); NULL: none */
    void *evicted_ctx;
};

/* Why an item leaves its shard, for the counters and the observer. Every
 * unlink but a replacement goes through shard_drop() with one of these, so
 * none can miss the observer. */
enum drop_reason {
    DROP_REMOVED,    /* delete, or an expired item found by an access: told */
    DROP_RECLAIMED,  /* expired, taken back by store_tick or eviction: told */
    DROP_EVICTED,    /* live, evicted for room: told */
    DROP_FLUSHED,    /* flush or destroy: not told item by item, as the
                        observer heard of the flush from store_flush() */
};

/* ---- item memory: one malloc each, accounted as glibc's chunk ---------- */

static size_t malloc_chunk_size(size_t request)
{
    size_t chunk = (request + MALLOC_OVERHEAD + MALLOC_ALIGN - 1) & ~(size_t)(MALLOC_ALIGN - 1);
    return chunk < MALLOC_MIN_CHUNK ? MALLOC_MIN_CHUNK : chunk;
}

static size_t item_chunk_for(const struct store *s, size_t nkey, size_t nvalue, uint32_t flags)
{
    return malloc_chunk_size(item_bytes_for(&s->layout, nkey, nvalue, flags));
}

static size_t item_chunk(const struct store *s, struct item *it)
{
    return malloc_chunk_size(item_bytes(&s->layout, it));
}

/* Every mutation gets a new CAS. */
static void item_new_cas(struct store *s, struct item *it)
{
    if (s->layout.cas_bytes)
        item_set_cas(&s->layout, it,
                     atomic_fetch_add_explicit(&s->last_cas, 1, memory_order_relaxed) + 1);
}

static uint64_t item_hash(const struct store *s, struct item *it)
{
    return hash64(item_key(&s->layout, it), it->nkey, s->hash_seed);
}

/* The memory must already be reserved. */
static struct item *item_alloc(struct store *s, const char *key, size_t nkey, size_t nvalue,
                               uint32_t flags, rel_time_t exptime)
{
    struct item *it = malloc(item_bytes_for(&s->layout, nkey, nvalue, flags));
    if (it)
        item_init(&s->layout, it, key, nkey, nvalue, flags, exptime);
    return it;
}

/* ---- the observer ---------------------------------------------------- */

/* Called under the item's shard lock, so that the observer sees the changes
 * to one key in the order they happened, and before the store call returns. */
static void notify_changed(struct store *s, struct item *it)
{
    if (s->observer.changed) {
        struct item_view view = item_view_of(&s->layout, it, clock_now());
        s->observer.changed(s->observer.ctx, &view);
    }
}

static void notify_removed(struct store *s, struct item *it)
{
    if (s->observer.removed)
        s->observer.removed(s->observer.ctx, item_key(&s->layout, it), it->nkey);
}

/* ---- memory accounting ---------------------------------------------- */

size_t store_mem_limit(const struct store *s)
{
    return atomic_load_explicit(&s->mem_limit, memory_order_relaxed);
}

/* Bytes in use beyond a limit lowered below them (0 otherwise). */
static size_t bytes_over_limit(struct store *s)
{
    size_t used = atomic_load_explicit(&s->bytes_used, memory_order_relaxed);
    size_t limit = store_mem_limit(s);
    return used > limit ? used - limit : 0;
}

static bool bytes_try_reserve(struct store *s, size_t n)
{
    size_t used = atomic_load_explicit(&s->bytes_used, memory_order_relaxed);
    do {
        size_t limit = store_mem_limit(s);
        if (used > limit || n > limit - used)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&s->bytes_used, &used, used + n,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

static void bytes_release(struct store *s, size_t n)
{
    atomic_fetch_sub_explicit(&s->bytes_used, n, memory_order_relaxed);
}

static size_t item_free(struct store *s, struct item *it)
{
    size_t chunk = item_chunk(s, it);
    bytes_release(s, chunk);
    free(it);
    return chunk;
}

/* An item leaves the index: freed now, or by its last unpin (it keeps
 * counting against the limit until then, as memcached's referenced items
 * hold their slab memory). Returns the bytes freed now. */
static size_t item_unlinked(struct store *s, struct shard *sh, struct item *it)
{
    struct pin_slot *slot = pin_find(&sh->pinned, it);
    if (slot) {
        slot->unlinked = true;
        return 0;
    }
    return item_free(s, it);
}

/* ---- shard indexes -------------------------------------------------- */

static struct shard *shard_for(struct store *s, uint64_t hash)
{
    return &s->shards[hash >> (64 - STORE_SHARD_BITS)];
}

static struct item *slot_item(const uint64_t *slot)
{
    return hash_index_item(*slot);
}

static uint64_t index_hash_of(void *ctx, const void *item)
{
    return item_hash(ctx, (struct item *)item);
}

/* Unlinks the item in *slot and frees it unless pinned. Returns the bytes
 * freed. */
static size_t shard_drop(struct store *s, struct shard *sh, uint64_t *slot,
                         enum drop_reason why)
{
    struct item *it = slot_item(slot);
    bool unfetched = !(it->bits & ITEM_FETCHED);

    hash_index_remove(&sh->index, slot);
    sh->counters.curr_items--;
    if (why == DROP_RECLAIMED) {
        sh->counters.reclaimed++;
        sh->counters.expired_unfetched += unfetched;
    } else if (why == DROP_EVICTED) {
        sh->counters.evictions++;
        sh->counters.evicted_unfetched += unfetched;
        if (s->evicted) {
            struct item_view view = item_view_of(&s->layout, it, clock_now());
            s->evicted(s->evicted_ctx, &view);
        }
    }
    if (why != DROP_FLUSHED)
        notify_removed(s, it);
    return item_unlinked(s, sh, it);
}

/* Links a new item in place of the one in *slot, or as a new entry when slot
 * is NULL, and gives it a new CAS. A replaced item is not `removed`: the key
 * goes straight to its new item, which the observer hears of as `changed`.
 * False, with nothing changed, when the index has no room for a new entry
 * and no memory to grow. */
static bool shard_link(struct store *s, struct shard *sh, uint64_t hash, uint64_t *slot,
                       struct item *it)
{
    if (slot) {
        struct item *old = slot_item(slot);
        hash_index_replace(slot, it);
        item_unlinked(s, sh, old);
    } else {
        if (!hash_index_insert(&sh->index, hash, it))
            return false;
        sh->counters.curr_items++;
    }
    item_new_cas(s, it);
    sh->counters.total_items++;
    notify_changed(s, it);
    return true;
}

/* Every live slot of the shard's position pos, for the walks: up to two
 * buckets of HASH_INDEX_WAYS. Removing the item of a slot is allowed. */
#define for_each_slot_at(sh, pos, slot)                                               \
    for (uint64_t *buckets_[2], nbuckets_ = hash_index_buckets_at(&(sh)->index, (pos), buckets_), \
                                b_ = 0; b_ < nbuckets_; b_++)                          \
        for (uint64_t *slot = buckets_[b_]; slot < buckets_[b_] + HASH_INDEX_WAYS; slot++) \
            if (slot_item(slot))

/* Frees every item. Only for a flush or store_destroy(): the observer is not
 * told. */
static void shard_free_all(struct store *s, struct shard *sh)
{
    for (size_t pos = 0; pos < hash_index_positions(&sh->index); pos++)
        for_each_slot_at(sh, pos, slot)
            shard_drop(s, sh, slot, DROP_FLUSHED);
}
/* ---- flush ------------------------------------------------------------ */

static uint32_t flush_generation(uint64_t order) { return (uint32_t)(order >> 32); }
static rel_time_t flush_at(uint64_t order) { return (rel_time_t)order; }

/* A flush is due on a shard once its time has come, until the shard has
 * applied that generation. Items stored after that are newer than the flush.
 * No `removed` per item: store_flush() already told the observer `flushed`. */
static void shard_apply_due_flush(struct store *s, struct shard *sh, rel_time_t now)
{
    uint64_t order = atomic_load_explicit(&s->flush_order, memory_order_acquire);
    if (flush_generation(order) == sh->flush_generation || flush_at(order) > now)
        return;
    shard_free_all(s, sh);
    sh->flush_generation = flush_generation(order);
}

/* ---- operations on a locked shard --------------------------------------- */

/* Locks the key's shard and does the work every operation owes it first:
 * a due flush, and a few buckets of migration. */
static struct shard *shard_lock(struct store *s, uint64_t hash, rel_time_t now)
{
    struct shard *sh = shard_for(s, hash);
    pthread_mutex_lock(&sh->lock);
    shard_apply_due_flush(s, sh, now);
    if (hash_index_migrating(&sh->index)) /* most operations find none, and a call costs */
        hash_index_migrate(&sh->index, MIGRATE_PER_OP);
    return sh;
}

struct key_sought {
    const struct item_layout *layout;
    const char *key;
    size_t nkey;
};

static bool key_matches(void *ctx, const void *item)
{
    const struct key_sought *k = ctx;
    return item_has_key(k->layout, (struct item *)item, k->key, k->nkey);
}

/* The slot of the key's live item, or NULL. An expired item found there is
 * dropped (and *expired set, when given). */
static uint64_t *shard_find(struct store *s, struct shard *sh, uint64_t hash, const char *key,
                            size_t nkey, rel_time_t now, bool *expired)
{
    struct key_sought sought = { &s->layout, key, nkey };
    uint64_t *slot = hash_index_find(&sh->index, hash, key_matches, &sought);
    if (!slot || !item_expired(slot_item(slot), now))
        return slot;
    shard_drop(s, sh, slot, DROP_REMOVED);
    if (expired)
        *expired = true;
    return NULL;
}

/* What one pass of a reservation may evict, from the kindest to the last
 * resort. A reservation runs them in order, each over every shard at most
 * once, and a shard's visit makes at most one turn of its hand: so an item
 * whose reference bit a reservation cleared is not evicted by the same
 * reservation, unless every item in the store was read since the hand last
 * passed it (EVICT_ANY). A key read between every two writes thus survives. */
enum evict_pass {
    EVICT_SECOND_CHANCE, /* referenced items lose their bit; the others go */
    EVICT_UNFETCHED,     /* items never read go, referenced or not (new ones) */
    EVICT_ANY,           /* every live item goes */
    EVICT_PASSES,
};

/* A key that a reservation must not evict: the one its write is updating. */
struct evict_keep {
    const char *key;
    size_t nkey;
};

static bool evict_keeps(struct store *s, struct item *it, const struct evict_keep *keep)
{
    return keep && item_has_key(&s->layout, it, keep->key, keep->nkey);
}

/* Whether this pass evicts a live item; the first one gives referenced
 * items their second chance by clearing the bit. */
static bool evict_pass_takes(struct item *it, enum evict_pass pass)
{
    switch (pass) {
    case EVICT_SECOND_CHANCE:
        if (!(it->bits & ITEM_REFERENCED))
            return true;
        it->bits &= ~ITEM_REFERENCED;
        return false;
    case EVICT_UNFETCHED:
        return !(it->bits & ITEM_FETCHED);
    default:
        return true;
    }
}

/* CLOCK: walk slots from the hand; expired items are reclaimed, live ones
 * are evicted as the pass says, except the kept key. The hand is a slot
 * (position and way), so a call stops as soon as `want` bytes are freed and
 * the next goes on from there: a slot keeps its place while items come and
 * go, and a whole bucket at a time would evict up to 7 items more than
 * needed. Stops after one full turn, so that no call clears an item's bit
 * and then evicts it. Returns the bytes freed. */
static size_t shard_evict(struct store *s, struct shard *sh, size_t want, rel_time_t now,
                          enum evict_pass pass, const struct evict_keep *keep)
{
    size_t npos = hash_index_positions(&sh->index);
    size_t freed = 0;

    for (size_t steps = 0; steps < npos && freed < want && sh->counters.curr_items > 0; steps++) {
        uint64_t *buckets[2];
        sh->clock_hand = sh->clock_hand < npos ? sh->clock_hand : 0;
        unsigned ways = hash_index_buckets_at(&sh->index, sh->clock_hand, buckets) * HASH_INDEX_WAYS;
        for (; sh->clock_way < ways && freed < want; sh->clock_way++) {
            uint64_t *slot = &buckets[sh->clock_way / HASH_INDEX_WAYS][sh->clock_way % HASH_INDEX_WAYS];
            struct item *it = slot_item(slot);
            if (!it)
                continue;
            bool expired = item_expired(it, now);
            if (expired || (!evict_keeps(s, it, keep) && evict_pass_takes(it, pass)))
                freed += shard_drop(s, sh, slot, expired ? DROP_RECLAIMED : DROP_EVICTED);
        }
        if (sh->clock_way < ways)
            break;   /* enough: the next call goes on from this slot */
        sh->clock_way = 0;
        sh->clock_hand++;
    }
    return freed;
}

/* store_tick's share: drop the expired items of the next `positions`. */
static void shard_reclaim_expired(struct store *s, struct shard *sh, rel_time_t now,
                                  size_t positions)
{
    size_t npos = hash_index_positions(&sh->index);

    for (size_t steps = 0; steps < positions && steps < npos; steps++) {
        sh->reclaim_hand = sh->reclaim_hand < npos ? sh->reclaim_hand : 0;
        for_each_slot_at(sh, sh->reclaim_hand, slot)
            if (item_expired(slot_item(slot), now))
                shard_drop(s, sh, slot, DROP_RECLAIMED);
        sh->reclaim_hand++;
    }
}

static unsigned shard_index(const struct store *s, const struct shard *sh)
{
    return (unsigned)(sh - s->shards);
}

_Static_assert(STORE_SHARDS == 64, "a reservation's visited shards are one 64-bit mask");

/* The shard at the shared rotation's next turn, or the first one after it
 * (cyclically) that this pass has not visited. */
static struct shard *next_unvisited_shard(struct store *s, uint64_t visited)
{
    unsigned turn = atomic_fetch_add_explicit(&s->evict_rotor, 1, memory_order_relaxed) %
                    STORE_SHARDS;
    uint64_t from_turn = ~visited & (~(uint64_t)0 << turn);
    return &s->shards[__builtin_ctzll(from_turn ? from_turn : ~visited)];
}

/* One pass of a reservation: evict from every shard once, home first, then
 * the others in the rotation, until n bytes can be reserved. */
static bool reserve_pass(struct store *s, size_t n, size_t extra, struct shard *home,
                         enum evict_pass pass, const struct evict_keep *keep)
{
    uint64_t visited = 0;
    struct shard *sh = home;
    for (unsigned visit = 0; visit < STORE_SHARDS; visit++) {
        rel_time_t now = clock_now();
        pthread_mutex_lock(&sh->lock);
        shard_apply_due_flush(s, sh, now);
        shard_evict(s, sh, n + extra, now, pass, sh == home ? keep : NULL);
        pthread_mutex_unlock(&sh->lock);
        if (bytes_try_reserve(s, n))
            return true;
        visited |= (uint64_t)1 << shard_index(s, sh);
        if (visit + 1 < STORE_SHARDS)
            sh = next_unvisited_shard(s, visited);
    }
    return false;
}

/* Reserves n bytes for an item that goes to shard `home`, evicting when
 * allowed (never `keep`, the key being updated, when not NULL), one shard
 * lock at a time. Eviction starts in the home shard, so each shard frees
 * what it takes in and keeps its share of memory; round robin alone would
 * drain some shards below their share (inserts are random, turns are not)
 * and there evict items that were read a moment ago. The other shards
 * follow in a rotation shared by all threads. Gives up when even the last
 * pass could not make room. */
static bool bytes_reserve(struct store *s, size_t n, struct shard *home,
                          const struct evict_keep *keep)
{
    if (bytes_try_reserve(s, n))
        return true;
    if (!s->config.evict || n > store_mem_limit(s))
        return false;
    /* After cache_memlimit lowered the limit below the bytes in use, every
     * shard also evicts its share of the excess, so that the excess goes in
     * one reservation without emptying the home shard. */
    size_t extra = (bytes_over_limit(s) + STORE_SHARDS - 1) / STORE_SHARDS;
    for (enum evict_pass pass = EVICT_SECOND_CHANCE; pass < EVICT_PASSES; pass++)
        if (reserve_pass(s, n, extra, home, pass, keep))
            return true;
    return false;
}

/* ---- updates built from the old item ------------------------------------ */

/* Bytes an update holds against the limit for the item it will build. */
struct reservation {
    size_t held;
    size_t need;   /* set when held was too small: the caller makes room and retries */
};

/* Allocates an item under the shard lock from the reservation, topping it
 * up without evicting. NULL when that is not enough (r->need says how much
 * is needed) or when malloc fails. */
static struct item *item_alloc_reserved(struct store *s, struct reservation *r,
                                        const char *key, size_t nkey, size_t nvalue,
                                        uint32_t flags, rel_time_t exptime)
{
    size_t chunk = item_chunk_for(s, nkey, nvalue, flags);
    if (chunk > r->held) {
        if (!bytes_try_reserve(s, chunk - r->held)) {
            r->need = chunk;
            return NULL;
        }
        r->held = chunk;
    }
    struct item *it = item_alloc(s, key, nkey, nvalue, flags, exptime);
    if (it)
        r->held -= chunk;
    return it;
}

/* The part of an update that runs under the shard lock, given the slot of
 * the live item (NULL when missing). */
typedef enum store_status (*update_fn)(struct store *s, struct shard *sh, uint64_t hash,
                                       uint64_t *slot, struct reservation *r, void *ctx);

/* Runs fn under the key's shard lock. Eviction needs other shard locks, so
 * when fn runs short of memory the lock is dropped, room is made and fn runs
 * again on whatever the item has become meanwhile. */
static enum store_status store_update(struct store *s, const char *key, size_t nkey,
                                      update_fn fn, void *ctx, bool *expired)
{
    uint64_t hash = hash64(key, nkey, s->hash_seed);
    struct reservation r = { 0, 0 };
    enum store_status status = STORE_NO_MEMORY;

    for (unsigned attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
        rel_time_t now = clock_now();
        struct shard *sh = shard_lock(s, hash, now);
        r.need = 0;
        status = fn(s, sh, hash, shard_find(s, sh, hash, key, nkey, now, expired), &r, ctx);
        pthread_mutex_unlock(&sh->lock);
        if (r.need == 0)
            break;
        status = STORE_NO_MEMORY;
        struct evict_keep keep = { key, nkey };
        if (!bytes_reserve(s, r.need - r.held, shard_for(s, hash), &keep))
            break;
        r.held = r.need;
    }
    bytes_release(s, r.held);
    return status;
}

struct concat_request {
    const struct store_write *w;
    bool prepend;
    uint64_t cas;
};

/* append/prepend: a new item with both values and the old flags and expiry.
 * A result too large for an item is NOT_STORED, as in memcached, whose
 * allocation of the combined item fails. */
static enum store_status concat_locked(struct store *s, struct shard *sh, uint64_t hash,
                                       uint64_t *slot, struct reservation *r, void *ctx)
{
    struct concat_request *req = ctx;
    const struct store_write *w = req->w;
    if (!slot)
        return STORE_NOT_STORED;
    struct item *old = slot_item(slot);
    if (w->cas != 0 && w->cas != item_cas(&s->layout, old))
        return STORE_EXISTS;
    size_t nold = item_nvalue(&s->layout, old);
    size_t nvalue = nold + w->nvalue;
    uint32_t flags = item_flags(&s->layout, old);
    if (!store_item_size_ok(s, w->nkey, flags, nvalue))
        return STORE_NOT_STORED;
    struct item *it = item_alloc_reserved(s, r, w->key, w->nkey, nvalue, flags, old->exptime);
    if (!it)
        return STORE_NO_MEMORY;
    char *dst = item_value(&s->layout, it);
    const char *first = req->prepend ? w->value : item_value(&s->layout, old);
    size_t nfirst = req->prepend ? w->nvalue : nold;
    const char *second = req->prepend ? item_value(&s->layout, old) : w->value;
    memcpy(dst, first, nfirst);
    memcpy(dst + nfirst, second, nvalue - nfirst);
    shard_link(s, sh, hash, slot, it);
    req->cas = item_cas(&s->layout, it);
    return STORE_STORED;
}

static bool is_c_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* memcached's safe_strtoull() on the stored value, which in memcached is
 * followed by "\r\n": leading white space, an optional sign, decimal digits
 * without overflow, then white space or the end. A sign makes strtoull
 * negate; a result that is negative as int64 is refused when the value holds
 * a '-' before any NUL (memcached's strchr). A value of only white space is
 * refused: memcached's strtoull would run past the CRLF into stray bytes. */
static bool parse_counter(const char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && is_c_space(p[i]))
        i++;
    bool negate = i < n && p[i] == '-';
    if (i < n && (p[i] == '-' || p[i] == '+'))
        i++;
    size_t first_digit = i;
    uint64_t value = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned digit = (unsigned)(p[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false; /* ERANGE */
        value = value * 10 + digit;
    }
    if (i == first_digit || (i < n && !is_c_space(p[i])))
        return false;
    if (negate)
        value = -value;
    if ((int64_t)value < 0 && memchr(p, '-', strnlen(p, n)))
        return false;
    *out = value;
    return true;
}

struct delta_request {
    const char *key;
    size_t nkey;
    const struct store_delta_meta *how;
    store_meta_fn fn;            /* meta arithmetic: told of the result; or NULL */
    void *fn_ctx;
    uint64_t result;
    uint64_t cas;
};

/* The meta caller's changes to an item it was shown: a new expiry, the win
 * token handed out. The observer hears of them (a win token takes the item
 * out of the XDP map: the fast path must not serve it). */
static void apply_meta_change(struct store *s, struct item *it, const struct store_meta_change *c)
{
    if (c->set_exptime)
        it->exptime = c->exptime;
    if (c->win_token)
        it->win_token_sent = 1;
    if (c->set_exptime || c->win_token)
        notify_changed(s, it);
}

/* Shows a meta caller the item; applies its changes when `apply`. */
static struct store_meta_change tell_meta(struct store *s, struct item *it, bool created,
                                          bool apply, store_meta_fn fn, void *ctx)
{
    struct item_view view = item_view_of(&s->layout, it, clock_now());
    struct store_meta_change change = { 0 };
    fn(ctx, &view, created, &change);
    if (apply)
        apply_meta_change(s, it, &change);
    return change;
}

/* Meta arithmetic on a missing key with autovivify: an item holding the
 * initial number, flags 0, no expiry (memcached adds it). */
static enum store_status delta_vivify_locked(struct store *s, struct shard *sh, uint64_t hash,
                                             struct reservation *r, struct delta_request *req)
{
    char digits[24];
    size_t ndigits = format_decimal(digits, req->how->initial);
    struct item *it = item_alloc_reserved(s, r, req->key, req->nkey, ndigits, 0, 0);
    if (!it)
        return STORE_NO_MEMORY;
    memcpy(item_value(&s->layout, it), digits, ndigits);
    if (!shard_link(s, sh, hash, NULL, it)) {
        item_free(s, it);
        return STORE_NO_MEMORY;
    }
    req->result = req->how->initial;
    req->cas = item_cas(&s->layout, it);
    tell_meta(s, it, true, true, req->fn, req->fn_ctx);
    return STORE_DELTA_OK;
}

/* incr/decr as memcached's do_add_delta: a result that fits in the old
 * length is written in place and padded with spaces; a longer one replaces
 * the item, keeping its flags and expiry. */
static enum store_status delta_locked(struct store *s, struct shard *sh, uint64_t hash,
                                      uint64_t *slot, struct reservation *r, void *ctx)
{
    struct delta_request *req = ctx;
    const struct store_delta_meta *how = req->how;
    if (!slot)
        return how->vivify ? delta_vivify_locked(s, sh, hash, r, req) : STORE_NOT_FOUND;
    struct item *old = slot_item(slot);
    size_t nold = item_nvalue(&s->layout, old);
    uint64_t value;
    /* memcached's order: an empty value, then the CAS, then the number. */
    if (nold == 0)
        return STORE_NON_NUMERIC;
    if (how->cas != 0 && how->cas != item_cas(&s->layout, old))
        return STORE_EXISTS;
    if (!parse_counter(item_value(&s->layout, old), nold, &value))
        return STORE_NON_NUMERIC;
    if (how->incr)
        value += how->delta;
    else
        value = how->delta > value ? 0 : value - how->delta;

    char digits[24];
    size_t ndigits = format_decimal(digits, value);
    struct item *it = old;
    /* A pinned value is being sent: it must not change under the reader. */
    if (ndigits <= nold && !pin_find(&sh->pinned, old)) {
        memcpy(item_value(&s->layout, old), digits, ndigits);
        memset(item_value(&s->layout, old) + ndigits, ' ', nold - ndigits);
        item_new_cas(s, old);
        old->bits |= ITEM_REFERENCED;
        item_update_atime(old);
        notify_changed(s, old);
    } else {
        it = item_alloc_reserved(s, r, item_key(&s->layout, old), old->nkey, ndigits, item_flags(&s->layout, old),
                                 old->exptime);
        if (!it)
            return STORE_NO_MEMORY;
        memcpy(item_value(&s->layout, it), digits, ndigits);
        shard_link(s, sh, hash, slot, it);
    }
    req->result = value;
    req->cas = item_cas(&s->layout, it);
    if (req->fn)
        tell_meta(s, it, false, it == old, req->fn, req->fn_ctx);
    return STORE_DELTA_OK;
}

/* ---- the API --------------------------------------------------------- */

static uint64_t random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed)
        return seed;
    /* No entropy source (very old kernel): still vary between runs. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return hash64(&ts, sizeof ts, (uint64_t)getpid());
}

/* 2^hashpower slots in all at first, as memcached's hash table starts with
 * 2^hashpower buckets. */
static bool shards_init(struct store *s, unsigned hashpower)
{
    size_t slots = hashpower > STORE_SHARD_BITS ? (size_t)1 << (hashpower - STORE_SHARD_BITS) : 0;
    for (unsigned i = 0; i < STORE_SHARDS; i++)
        if (!hash_index_init(&s->shards[i].index, slots < SHARD_SLOTS_MIN ? SHARD_SLOTS_MIN : slots,
                             index_hash_of, s))
            return false;
    return true;
}

struct store *store_create(const struct store_config *config)
{
    unsigned hashpower = config->hashpower ? config->hashpower : HASHPOWER_DEFAULT;
    if (config->mem_limit == 0 || config->item_size_max == 0 ||
        config->item_size_max > UINT32_MAX || hashpower > HASHPOWER_MAX)
        return NULL;

    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->config = *config;
    atomic_init(&s->mem_limit, config->mem_limit);
    atomic_init(&s->crawler_enabled, config->reclaim_expired);
    if (!s->config.reclaim_positions)
        s->config.reclaim_positions = RECLAIM_PER_TICK;
    s->layout.cas_bytes = config->use_cas ? sizeof(uint64_t) : 0;
    s->hash_seed = random_seed();
    pthread_mutex_init(&s->flush_lock, NULL);
    s->shards = aligned_alloc(_Alignof(struct shard), STORE_SHARDS * sizeof *s->shards);
    if (!s->shards) {
        store_destroy(s);
        return NULL;
    }
    memset(s->shards, 0, STORE_SHARDS * sizeof *s->shards);
    for (unsigned i = 0; i < STORE_SHARDS; i++)
        pthread_mutex_init(&s->shards[i].lock, NULL);
    if (!shards_init(s, hashpower)) {
        store_destroy(s);
        return NULL;
    }
    return s;
}

void store_destroy(struct store *s)
{
    if (!s)
        return;
    for (unsigned i = 0; s->shards && i < STORE_SHARDS; i++) {
        struct shard *sh = &s->shards[i];
        if (sh->index.cur.slots)
            shard_free_all(s, sh);
        hash_index_destroy(&sh->index);
        free(sh->pinned.slots);   /* empty: every reader has unpinned */
        pthread_mutex_destroy(&sh->lock);
    }
    free(s->shards);
    pthread_mutex_destroy(&s->flush_lock);
    free(s);
}

enum store_lookup store_get(struct store *s, const char *key, size_t nkey,
                            const rel_time_t *new_exptime, store_view_fn fn, void *ctx)
{
    uint64_t hash = hash64(key, nkey, s->hash_seed);
    rel_time_t now = clock_now();
    struct shard *sh = shard_lock(s, hash, now);
    bool expired = false;
    uint64_t *slot = shard_find(s, sh, hash, key, nkey, now, &expired);

    if (!slot) {
        pthread_mutex_unlock(&sh->lock);
        return expired ? STORE_MISS_EXPIRED : STORE_MISS;
    }
    struct item *it = slot_item(slot);
    item_bump(it);
    if (new_exptime) {
        it->exptime = *new_exptime;
        notify_changed(s, it);
    }
    struct item_view view = item_view_of(&s->layout, it, now);
    fn(ctx, &view);
    pthread_mutex_unlock(&sh->lock);
    return STORE_HIT;
}

/* A CAS older than the live item's, with invalidate: memcached's CAS_STALE. */
static bool store_is_stale_cas(const struct store *s, const struct store_write *w,
                               struct item *old)
{
    return w->invalidate && w->cas != 0 && w->cas < item_cas(&s->layout, old);
}

/* set/add/replace/cas given the live item (or NULL): memcached's do_store_item. */
static enum store_status store_decide(const struct store *s, enum store_mode mode,
                                      struct item *old, const struct store_write *w)
{
    uint64_t cas = w->cas;
    switch (mode) {
    case STORE_ADD:
        return old ? STORE_NOT_STORED : STORE_STORED;
    case STORE_REPLACE:
        return old ? STORE_STORED : STORE_NOT_STORED;
    case STORE_CAS:
        if (!old)
            return STORE_NOT_FOUND;
        /* Without use_cas items have CAS 0, which no request can match. */
        if (cas != 0 && cas == item_cas(&s->layout, old))
            return STORE_STORED;
        return store_is_stale_cas(s, w, old) ? STORE_STORED : STORE_EXISTS;
    default: /* STORE_SET; append and prepend go through concat_locked() */
        return STORE_STORED;
    }
}

/* set/add/replace/cas: the item is built before taking the lock, so copying
 * a large value never holds up the shard. */
static enum store_status store_put(struct store *s, enum store_mode mode,
                                   const struct store_write *w, uint64_t *cas_out)
{
    uint64_t hash = hash64(w->key, w->nkey, s->hash_seed);
    size_t chunk = item_chunk_for(s, w->nkey, w->nvalue, w->flags);
    /* A set replaces the old item whatever it holds; the other modes need it. */
    struct evict_keep keep = { w->key, w->nkey };
    if (!bytes_reserve(s, chunk, shard_for(s, hash), mode == STORE_SET ? NULL : &keep))
        return STORE_NO_MEMORY;
    struct item *it = item_alloc(s, w->key, w->nkey, w->nvalue, w->flags, w->exptime);
    if (!it) {
        bytes_release(s, chunk);
        return STORE_NO_MEMORY;
    }
    memcpy(item_value(&s->layout, it), w->value, w->nvalue);
    it->key_binary = w->key_binary;

    rel_time_t now = clock_now();
    struct shard *sh = shard_lock(s, hash, now);
    uint64_t *slot = shard_find(s, sh, hash, w->key, w->nkey, now, NULL);
    struct item *old = slot ? slot_item(slot) : NULL;
    enum store_status status = store_decide(s, mode, old, w);
    if (status == STORE_STORED && mode == STORE_CAS && store_is_stale_cas(s, w, old)) {
        /* The value goes in, marked stale, under the old expiry and token. */
        it->exptime = old->exptime;
        it->stale = 1;
        it->win_token_sent = old->win_token_sent;
    }
    if (status == STORE_STORED && !shard_link(s, sh, hash, slot, it))
        status = STORE_NO_MEMORY;
    if (status == STORE_STORED) {
        if (cas_out)
            *cas_out = item_cas(&s->layout, it);
    } else if (mode == STORE_ADD && old) {
        old->bits |= ITEM_REFERENCED; /* memcached bumps it in the LRU */
        item_update_atime(old);
    }
    pthread_mutex_unlock(&sh->lock);
    if (status != STORE_STORED)
        item_free(s, it);
    return status;
}

enum store_status store_write(struct store *s, enum store_mode mode,
                              const struct store_write *w, uint64_t *cas_out)
{
    if (!store_item_size_ok(s, w->nkey, w->flags, w->nvalue))
        return STORE_TOO_LARGE;
    if (mode != STORE_APPEND && mode != STORE_PREPEND)
        return store_put(s, mode, w, cas_out);

    struct concat_request req = { .w = w, .prepend = mode == STORE_PREPEND };
    enum store_status status = store_update(s, w->key, w->nkey, concat_locked, &req, NULL);
    if (status == STORE_STORED && cas_out)
        *cas_out = req.cas;
    return status;
}

enum store_status store_delete(struct store *s, const char *key, size_t nkey)
{
    return store_delete_meta(s, key, nkey, NULL, false, NULL);
}

/* Like memcached's do_item_touch: a new expiry, the item counts as fetched,
 * and the CAS stays. */
enum store_status store_touch(struct store *s, const char *key, size_t nkey, rel_time_t exptime)
{
    uint64_t hash = hash64(key, nkey, s->hash_seed);
    rel_time_t now = clock_now();
    struct shard *sh = shard_lock(s, hash, now);
    uint64_t *slot = shard_find(s, sh, hash, key, nkey, now, NULL);
    if (slot) {
        struct item *it = slot_item(slot);
        it->exptime = exptime;
        item_bump(it);
        notify_changed(s, it);
    }
    pthread_mutex_unlock(&sh->lock);
    return slot ? STORE_TOUCHED : STORE_NOT_FOUND;
}

enum store_status store_delta(struct store *s, const char *key, size_t nkey,
                              bool incr, uint64_t delta, uint64_t *result, uint64_t *cas_out)
{
    struct store_delta_meta how = { .incr = incr, .delta = delta };
    return store_delta_meta(s, key, nkey, &how, result, cas_out, NULL, NULL);
}

enum store_status store_delta_meta(struct store *s, const char *key, size_t nkey,
                                   const struct store_delta_meta *how, uint64_t *result,
                                   uint64_t *cas_out, store_meta_fn fn, void *ctx)
{
    struct delta_request req = { .key = key, .nkey = nkey, .how = how, .fn = fn, .fn_ctx = ctx };
    enum store_status status = store_update(s, key, nkey, delta_locked, &req, NULL);
    if (status == STORE_DELTA_OK) {
        *result = req.result;
        if (cas_out)
            *cas_out = req.cas;
    }
    return status;
}

struct meta_read_request {
    const char *key;
    size_t nkey;
    const struct store_meta_read *how;
    store_meta_fn fn;
    void *ctx;
};

/* The caller sees the item before this read changes it (fetched, last
 * access), as memcached's meta get reports them. */
static enum store_status meta_read_locked(struct store *s, struct shard *sh, uint64_t hash,
                                          uint64_t *slot, struct reservation *r, void *ctx)
{
    struct meta_read_request *req = ctx;
    struct item *it;
    bool created = !slot;
    if (slot) {
        it = slot_item(slot);
    } else {
        if (!req->how->vivify)
            return STORE_NOT_FOUND;
        it = item_alloc_reserved(s, r, req->key, req->nkey, 0, 0, 0);
        if (!it)
            return STORE_NO_MEMORY;
        if (!shard_link(s, sh, hash, NULL, it)) {
            item_free(s, it);
            return STORE_NO_MEMORY;
        }
    }
    struct store_meta_change change = tell_meta(s, it, created, true, req->fn, req->ctx);
    if (req->how->bump && !change.no_bump)
        item_bump(it);
    return STORE_STORED;
}

enum store_lookup store_get_meta(struct store *s, const char *key, size_t nkey,
                                 const struct store_meta_read *how, store_meta_fn fn, void *ctx)
{
    struct meta_read_request req = { key, nkey, how, fn, ctx };
    bool expired = false;
    /* A vivify that cannot get memory is a miss, as in memcached. */
    if (store_update(s, key, nkey, meta_read_locked, &req, &expired) == STORE_STORED)
        return STORE_HIT;
    return expired ? STORE_MISS_EXPIRED : STORE_MISS;
}

enum store_status store_delete_meta(struct store *s, const char *key, size_t nkey,
                                    const uint64_t *cas, bool invalidate,
                                    const rel_time_t *new_exptime)
{
    uint64_t hash = hash64(key, nkey, s->hash_seed);
    rel_time_t now = clock_now();
    struct shard *sh = shard_lock(s, hash, now);
    uint64_t *slot = shard_find(s, sh, hash, key, nkey, now, NULL);
    enum store_status status = STORE_NOT_FOUND;
    if (slot && cas && *cas != item_cas(&s->layout, slot_item(slot))) {
        status = STORE_EXISTS;
    } else if (slot && invalidate) {
        /* Stale with a new CAS; the next reader may win the recache again. */
        struct item *it = slot_item(slot);
        if (new_exptime)
            it->exptime = *new_exptime;
        it->stale = 1;
        it->win_token_sent = 0;
        item_new_cas(s, it);
        notify_changed(s, it);
        status = STORE_INVALIDATED;
    } else if (slot) {
        shard_drop(s, sh, slot, DROP_REMOVED);
        status = STORE_DELETED;
    }
    pthread_mutex_unlock(&sh->lock);
    return status;
}

static void apply_due_flush_everywhere(struct store *s)
{
    rel_time_t now = clock_now();
    for (unsigned i = 0; i < STORE_SHARDS; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        shard_apply_due_flush(s, &s->shards[i], now);
        pthread_mutex_unlock(&s->shards[i].lock);
    }
}

void store_set_mem_limit(struct store *s, size_t bytes)
{
    atomic_store_explicit(&s->mem_limit, bytes, memory_order_relaxed);
}

void store_flush(struct store *s, rel_time_t at)
{
    pthread_mutex_lock(&s->flush_lock);
    /* A due flush that some shard has not applied yet must not be undone by
     * its replacement: apply it first. One not due yet is simply replaced. */
    uint64_t order = atomic_load_explicit(&s->flush_order, memory_order_relaxed);
    if (flush_at(order) <= clock_now())
        apply_due_flush_everywhere(s);
    uint64_t generation = (uint32_t)(flush_generation(order) + 1);
    atomic_store_explicit(&s->flush_order, generation << 32 | at, memory_order_release);
    /* Taking every shard lock once after the new order is published applies
     * a flush that is due now, and waits for every write that began before
     * the flush: its `changed` has been called when `flushed` is, so the
     * observer cannot keep an item the flush invalidated. */
    if (at <= clock_now() || s->observer.flushed)
        apply_due_flush_everywhere(s);
    if (s->observer.flushed)
        s->observer.flushed(s->observer.ctx, at);
    pthread_mutex_unlock(&s->flush_lock);
}

void store_tick(struct store *s)
{
    rel_time_t now = clock_now();
    bool reclaim = store_crawler_enabled(s);
    /* A crawl takes one shard lock at a time, each for one whole table. */
    size_t positions = reclaim && atomic_exchange(&s->crawl_requested, false)
                           ? SIZE_MAX : s->config.reclaim_positions;
    for (unsigned i = 0; i < STORE_SHARDS; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        shard_apply_due_flush(s, sh, now);
        hash_index_migrate(&sh->index, MIGRATE_PER_TICK);
        if (reclaim)
            shard_reclaim_expired(s, sh, now, positions);
        pthread_mutex_unlock(&sh->lock);
    }
}

void store_set_crawler(struct store *s, bool enabled)
{
    atomic_store(&s->crawler_enabled, enabled);
}

bool store_crawler_enabled(const struct store *s)
{
    return atomic_load(&s->crawler_enabled);
}

bool store_request_crawl(struct store *s)
{
    bool idle = false;
    return store_crawler_enabled(s) &&
           atomic_compare_exchange_strong(&s->crawl_requested, &idle, true);
}

void store_set_observer(struct store *s, const struct store_observer *observer)
{
    if (observer)
        s->observer = *observer;
    else
        s->observer = (struct store_observer){ 0 };
}

void store_set_eviction_listener(struct store *s, store_view_fn fn, void *ctx)
{
    s->evicted = fn;
    s->evicted_ctx = ctx;
}

/* Like a hit without the read: the reference bit keeps the item from CLOCK's
 * next pass, and ITEM_FETCHED keeps a key read only through XDP out of
 * evicted_unfetched. */
void store_mark_used(struct store *s, const char *key, size_t nkey)
{
    uint64_t hash = hash64(key, nkey, s->hash_seed);
    rel_time_t now = clock_now();
    struct shard *sh = shard_lock(s, hash, now);
    uint64_t *slot = shard_find(s, sh, hash, key, nkey, now, NULL);
    if (slot)
        item_bump(slot_item(slot));
    pthread_mutex_unlock(&sh->lock);
}

static size_t memcached_item_size(const struct store *s, size_t nkey, uint32_t flags,
                                  size_t nvalue)
{
    return MEMCACHED_ITEM_HEADER + nkey + 1 + nvalue + 2 + (flags != 0 ? sizeof flags : 0) +
           s->layout.cas_bytes;
}

bool store_item_size_ok(const struct store *s, size_t nkey, uint32_t flags, size_t nvalue)
{
    return memcached_item_size(s, nkey, flags, nvalue) <= s->config.item_size_max;
}

size_t store_memcached_item_size(const struct store *s, const struct item_view *item)
{
    return memcached_item_size(s, item->nkey, item->flags, item->nvalue);
}

/* One shard's live items to fn, in table order; false once fn said stop. */
static bool shard_walk(struct store *s, struct shard *sh, rel_time_t now, store_walk_fn fn,
                       void *ctx)
{
    for (size_t pos = 0; pos < hash_index_positions(&sh->index); pos++)
        for_each_slot_at(sh, pos, slot) {
            struct item *it = slot_item(slot);
            if (item_expired(it, now))
                continue;
            struct item_view view = item_view_of(&s->layout, it, now);
            if (!fn(ctx, &view))
                return false;
        }
    return true;
}

void store_walk(struct store *s, store_walk_fn fn, void *ctx)
{
    rel_time_t now = clock_now();
    bool go_on = true;
    for (unsigned i = 0; i < STORE_SHARDS && go_on; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        shard_apply_due_flush(s, sh, now);
        go_on = shard_walk(s, sh, now, fn, ctx);
        pthread_mutex_unlock(&sh->lock);
    }
}

bool store_pin(struct store *s, const struct item_view *view, struct store_pin *pin)
{
    struct item *it = (struct item *)view->item;
    unsigned shard = (unsigned)(hash64(view->key, view->nkey, s->hash_seed) >> (64 - STORE_SHARD_BITS));
    struct pin_slot *slot = pin_get(&s->shards[shard].pinned, it);
    if (!slot)
        return false;
    slot->pins++;
    *pin = (struct store_pin){ s, it, shard };
    return true;
}

void store_unpin(const struct store_pin *pin)
{
    struct store *s = pin->store;
    struct shard *sh = &s->shards[pin->shard];
    struct item *it = (struct item *)pin->item;
    pthread_mutex_lock(&sh->lock);
    struct pin_slot *slot = pin_find(&sh->pinned, it);
    assert(slot && slot->pins > 0);
    bool free_now = --slot->pins == 0 && slot->unlinked;
    if (slot->pins == 0)
        pin_remove(&sh->pinned, slot);
    pthread_mutex_unlock(&sh->lock);
    if (free_now)
        item_free(s, it);
}

void store_get_stats(struct store *s, struct store_stats *out)
{
    uint64_t nslots = 0;
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < STORE_SHARDS; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        out->curr_items += sh->counters.curr_items;
        out->total_items += sh->counters.total_items;
        out->evictions += sh->counters.evictions;
        out->evicted_unfetched += sh->counters.evicted_unfetched;
        out->reclaimed += sh->counters.reclaimed;
        out->expired_unfetched += sh->counters.expired_unfetched;
        nslots += hash_index_slots(&sh->index);
        out->hash_bytes += hash_index_bytes(&sh->index);
        out->hash_is_expanding |= hash_index_migrating(&sh->index);
        pthread_mutex_unlock(&sh->lock);
    }
    out->bytes = atomic_load_explicit(&s->bytes_used, memory_order_relaxed);
    out->limit_maxbytes = store_mem_limit(s);
    out->hash_power_level = 63 - (uint64_t)__builtin_clzll(nslots);
    out->item_header_bytes = ITEM_HEADER_SIZE + s->layout.cas_bytes;
}

/* stats sizes rows, kept sorted by size class: few distinct classes exist. */
struct size_histogram {
    struct size_row { size_t size_class; uint64_t count; } *rows;
    size_t nrows, cap;
    bool failed;
};

static void histogram_add(struct size_histogram *h, size_t size_class)
{
    size_t lo = 0, hi = h->nrows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->rows[mid].size_class < size_class)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < h->nrows && h->rows[lo].size_class == size_class) {
        h->rows[lo].count++;
        return;
    }
    if (h->nrows == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct size_row *rows = realloc(h->rows, cap * sizeof *rows);
        if (!rows) {
            h->failed = true;
            return;
        }
        h->rows = rows;
        h->cap = cap;
    }
    memmove(&h->rows[lo + 1], &h->rows[lo], (h->nrows - lo) * sizeof *h->rows);
    h->rows[lo] = (struct size_row){ size_class, 1 };
    h->nrows++;
}

static void shard_histogram(struct store *s, struct shard *sh, struct size_histogram *h)
{
    for (size_t pos = 0; pos < hash_index_positions(&sh->index); pos++)
        for_each_slot_at(sh, pos, slot) {
            size_t chunk = item_chunk(s, slot_item(slot));
            histogram_add(h, (chunk + SIZE_CLASS_BYTES - 1) / SIZE_CLASS_BYTES * SIZE_CLASS_BYTES);
        }
}

/* Reports nothing if the (small) row array cannot be allocated: a partial
 * histogram would be misleading. */
void store_size_histogram(struct store *s, store_size_fn fn, void *ctx)
{
    struct size_histogram h = { 0 };
    rel_time_t now = clock_now();
    for (unsigned i = 0; i < STORE_SHARDS && !h.failed; i++) {
        struct shard *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        shard_apply_due_flush(s, sh, now);
        shard_histogram(s, sh, &h);
        pthread_mutex_unlock(&sh->lock);
    }
    for (size_t i = 0; i < h.nrows && !h.failed; i++)
        fn(ctx, h.rows[i].size_class, h.rows[i].count);
    free(h.rows);
}
