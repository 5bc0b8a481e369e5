/* hash_index.c - buckets of tagged item addresses, two candidate buckets
 * per key (cuckoo), incremental rebuilds: see hash_index.h. */
#include "hash_index.h"

#include <assert.h>
#include <sys/mman.h>

#define BUCKET_BYTES (HASH_INDEX_WAYS * sizeof(uint64_t))
/* Two buckets of 8 per key hold a table up to 99% full in theory; at 94%
 * an insert that finds both full moves a few items at most. */
#define FILL_MAX_PCT 94
#define GROW_LIVE_PCT 75         /* rebuild 1.25x larger, else at the same size */
/* Items an insert may move before it gives up (and undoes the moves). */
#define KICKS_MAX 64

_Static_assert(BUCKET_BYTES == 64, "a bucket is one cache line");

/* The size a table grows to: 1.25x, and at least one bucket more. */
static size_t grown(size_t nbuckets)
{
    return nbuckets + (nbuckets / 4 ? nbuckets / 4 : 1);
}

/* An item's address as a slot holds it: it must fit below the tag and not
 * look like an empty slot or a tombstone. */
static uint64_t address_bits(const void *item)
{
    assert(((uintptr_t)item & ~ADDR_MASK) == 0 && (uintptr_t)item > SLOT_TOMB);
    return (uint64_t)(uintptr_t)item;
}

/* A bucket with an empty slot has never been full since its table was
 * made, so no key whose first bucket it is went to its second: a lookup
 * can stop there. */
static bool bucket_open(const uint64_t *bucket)
{
    for (unsigned w = 0; w < HASH_INDEX_WAYS; w++)
        if (bucket[w] == SLOT_EMPTY)
            return true;
    return false;
}

/* Tables are mapped, not malloc'd: pages come zeroed and resident only
 * once used, and an emptied old table goes back to the system at once,
 * where the heap would keep it as a hole the size of a table. */
static bool table_alloc(struct hash_index_table *t, size_t nbuckets)
{
    void *slots = mmap(NULL, nbuckets * BUCKET_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED)
        return false;
    *t = (struct hash_index_table){ .slots = slots, .nbuckets = nbuckets };
    return true;
}

static void table_free(struct hash_index_table *t)
{
    if (t->slots)
        munmap(t->slots, t->nbuckets * BUCKET_BYTES);
    *t = (struct hash_index_table){ 0 };
}

static bool table_holds(const struct hash_index_table *t, const uint64_t *slot)
{
    return t->slots && slot >= t->slots && slot < t->slots + t->nbuckets * HASH_INDEX_WAYS;
}

/* A free slot (empty or tombstone) of bucket b, or -1. */
static int free_way(const struct hash_index_table *t, size_t b)
{
    const uint64_t *bucket = hash_index_bucket(t, b);
    for (int w = 0; w < HASH_INDEX_WAYS; w++)
        if (bucket[w] <= SLOT_TOMB)
            return w;
    return -1;
}

static void put_slot(struct hash_index_table *t, size_t b, int w, uint64_t slot)
{
    uint64_t *at = &hash_index_bucket(t, b)[w];
    t->tombs -= *at == SLOT_TOMB;
    *at = slot;
}

/* The other candidate bucket of the item in slot, which is in bucket b. */
static size_t other_bucket(const struct hash_index *ix, const struct hash_index_table *t,
                           size_t b, uint64_t slot)
{
    uint64_t hash = ix->hash_of(ix->ctx, hash_index_item(slot));
    size_t first = hash_index_first(t, hash);
    return b == first ? hash_index_second(t, hash) : first;
}

/* Both buckets full: the new slot takes a random slot of one of them, whose
 * item moves to its other bucket, and so on, until an item finds a free
 * slot. After KICKS_MAX moves, they are undone in reverse, and the insert
 * fails with the table as it was. */
static bool kick_in(struct hash_index *ix, struct hash_index_table *t, size_t b, uint64_t slot)
{
    struct { size_t b; int w; } path[KICKS_MAX];
    for (int kicks = 0; kicks < KICKS_MAX; kicks++) {
        ix->rng = ix->rng * 1103515245u + 12345u;
        int w = (int)(ix->rng >> 16) % HASH_INDEX_WAYS;
        uint64_t *at = &hash_index_bucket(t, b)[w];
        uint64_t homeless = *at;
        *at = slot;
        path[kicks].b = b;
        path[kicks].w = w;
        b = other_bucket(ix, t, b, homeless);
        int free = free_way(t, b);
        if (free >= 0) {
            put_slot(t, b, free, homeless);
            return true;
        }
        slot = homeless;
    }
    for (int k = KICKS_MAX - 1; k >= 0; k--) {
        uint64_t *at = &hash_index_bucket(t, path[k].b)[path[k].w];
        uint64_t back = *at;
        *at = slot;
        slot = back;
    }
    return false;
}

/* Into a free slot of the first bucket, else of the second, else by moving
 * items to their other buckets. */
static bool table_insert(struct hash_index *ix, struct hash_index_table *t, uint64_t hash,
                         void *item)
{
    uint64_t slot = hash_index_tag(hash) | address_bits(item);
    size_t first = hash_index_first(t, hash), b = first;
    int w = free_way(t, b);
    if (w < 0 && t->nbuckets > 1) {
        b = hash_index_second(t, hash);
        w = free_way(t, b);
    }
    if (w >= 0)
        put_slot(t, b, w, slot);
    else if (!kick_in(ix, t, first, slot))
        return false;
    t->items++;
    return true;
}

bool hash_index_init(struct hash_index *ix, size_t min_slots, hash_index_hash_fn hash_of,
                     void *ctx)
{
    size_t nbuckets = (min_slots + HASH_INDEX_WAYS - 1) / HASH_INDEX_WAYS;
    *ix = (struct hash_index){ .hash_of = hash_of, .ctx = ctx };
    return table_alloc(&ix->cur, nbuckets ? nbuckets : 1);
}

void hash_index_destroy(struct hash_index *ix)
{
    table_free(&ix->cur);
    table_free(&ix->old);
}

/* Inserts every item of `from` into `to`, leaving `from` as it is. */
static bool table_copy(struct hash_index *ix, struct hash_index_table *to,
                       const struct hash_index_table *from)
{
    for (size_t i = 0; from->slots && i < from->nbuckets * HASH_INDEX_WAYS; i++) {
        void *item = hash_index_item(from->slots[i]);
        if (item && !table_insert(ix, to, ix->hash_of(ix->ctx, item), item))
            return false;
    }
    return true;
}

/* The fallback when an item finds no way into the current table: every
 * item, of both tables, into one table 1.25x as large, at once (a shard's
 * lock held for one pass over its items); tried at growing sizes. False,
 * with nothing changed, when even that fails. */
static bool rebuild_now(struct hash_index *ix)
{
    size_t nbuckets = ix->cur.nbuckets;
    for (int tries = 0; tries < 8; tries++) {
        struct hash_index_table fresh;
        nbuckets = grown(nbuckets);
        if (!table_alloc(&fresh, nbuckets))
            return false;
        if (table_copy(ix, &fresh, &ix->cur) && table_copy(ix, &fresh, &ix->old)) {
            table_free(&ix->cur);
            table_free(&ix->old);
            ix->cur = fresh;
            ix->migrate_next = 0;
            return true;
        }
        table_free(&fresh);
    }
    return false;
}

void hash_index_migrate(struct hash_index *ix, size_t buckets)
{
    for (; ix->old.slots && buckets > 0; buckets--) {
        uint64_t *bucket = hash_index_bucket(&ix->old, ix->migrate_next);
        /* Each item is read to hash its key: ask for all eight at once, so
         * that their cache misses overlap instead of following each other. */
        for (unsigned w = 0; w < HASH_INDEX_WAYS; w++)
            if (hash_index_item(bucket[w]))
                __builtin_prefetch(hash_index_item(bucket[w]));
        for (unsigned w = 0; w < HASH_INDEX_WAYS; w++) {
            void *item = hash_index_item(bucket[w]);
            if (!item)
                continue;
            /* No way into the current table (rare): everything moves to a
             * larger one at once; if even that fails, the item stays where
             * lookups still see it. */
            if (!table_insert(ix, &ix->cur, ix->hash_of(ix->ctx, item), item)) {
                rebuild_now(ix);
                return;
            }
            ix->old.items--;
            bucket[w] = SLOT_TOMB;
        }
        if (++ix->migrate_next == ix->old.nbuckets)
            table_free(&ix->old);
    }
}

/* Before an insert: a new table once live items and tombstones would pass
 * FILL_MAX_PCT of the slots (counting the old table's items, all bound for
 * it). A migration still going on is finished first. Without memory for a
 * new table the current one fills on. */
static void maybe_rebuild(struct hash_index *ix)
{
    size_t slots = ix->cur.nbuckets * HASH_INDEX_WAYS;
    if ((ix->cur.items + ix->cur.tombs + ix->old.items + 1) * 100 <= slots * FILL_MAX_PCT)
        return;
    hash_index_migrate(ix, SIZE_MAX);
    if (hash_index_migrating(ix))
        return;
    size_t nbuckets = ix->cur.nbuckets;
    if ((ix->cur.items + 1) * 100 > slots * GROW_LIVE_PCT)
        nbuckets = grown(nbuckets);
    struct hash_index_table fresh;
    if (!table_alloc(&fresh, nbuckets))
        return;
    ix->old = ix->cur;
    ix->cur = fresh;
    ix->migrate_next = 0;
}

bool hash_index_insert(struct hash_index *ix, uint64_t hash, void *item)
{
    maybe_rebuild(ix);
    if (table_insert(ix, &ix->cur, hash, item))
        return true;
    /* Both buckets full and no item could move (rare below 94% full):
     * retry in a larger table, where the item's buckets are others. */
    return rebuild_now(ix) && table_insert(ix, &ix->cur, hash, item);
}

void hash_index_replace(uint64_t *slot, void *item)
{
    *slot = (*slot & ~ADDR_MASK) | address_bits(item);
}

void hash_index_remove(struct hash_index *ix, uint64_t *slot)
{
    struct hash_index_table *t = table_holds(&ix->old, slot) ? &ix->old : &ix->cur;
    uint64_t *bucket = slot - (size_t)(slot - t->slots) % HASH_INDEX_WAYS;
    assert(*slot > SLOT_TOMB);
    if (bucket_open(bucket)) {
        *slot = SLOT_EMPTY;
    } else {
        *slot = SLOT_TOMB;
        t->tombs++;
    }
    t->items--;
}

size_t hash_index_positions(const struct hash_index *ix)
{
    return ix->cur.nbuckets;
}

unsigned hash_index_buckets_at(struct hash_index *ix, size_t pos, uint64_t *buckets[2])
{
    unsigned n = 0;
    buckets[n++] = hash_index_bucket(&ix->cur, pos);
    if (ix->old.slots && pos >= ix->migrate_next && pos < ix->old.nbuckets)
        buckets[n++] = hash_index_bucket(&ix->old, pos);
    return n;
}

size_t hash_index_bytes(const struct hash_index *ix)
{
    return (ix->cur.nbuckets + ix->old.nbuckets) * BUCKET_BYTES;
}

size_t hash_index_slots(const struct hash_index *ix)
{
    return ix->cur.nbuckets * HASH_INDEX_WAYS;
}
