/* hash_index.c - buckets of tagged item addresses with linear probing and
 * incremental rebuilds: see hash_index.h. */
#include "hash_index.h"

#include <assert.h>
#include <sys/mman.h>

#define SLOT_EMPTY UINT64_C(0)
#define SLOT_TOMB UINT64_C(1)
#define ADDR_BITS 48
#define ADDR_MASK ((UINT64_C(1) << ADDR_BITS) - 1)
#define BUCKET_BYTES (HASH_INDEX_WAYS * sizeof(uint64_t))
/* Linear probing over buckets of 8 lengthens fast past 80% full: a key that
 * is not there costs 1.5 buckets read at 70%, 2.3 at 80%, 6.8 at 90%
 * (measured with random hashes). */
#define FILL_MAX_PCT 80
#define GROW_LIVE_PCT 60         /* rebuild 1.25x larger, else at the same size */

_Static_assert(BUCKET_BYTES == 64, "a bucket is one cache line");

/* The hash's bits that pick the home bucket (the low 32) and the tag (the
 * next 16) are independent of each other and of the shard's (the top 6). */
static uint64_t tag_of(uint64_t hash)
{
    return ((hash >> 32) & 0xffff) << ADDR_BITS;
}

static size_t home_of(const struct hash_index_table *t, uint64_t hash)
{
    return (size_t)(((uint64_t)(uint32_t)hash * t->nbuckets) >> 32);
}

static uint64_t *bucket_of(const struct hash_index_table *t, size_t b)
{
    return &t->slots[b * HASH_INDEX_WAYS];
}

static size_t next_bucket(const struct hash_index_table *t, size_t b)
{
    return b + 1 == t->nbuckets ? 0 : b + 1;
}

/* A bucket with an empty slot has never been full since its table was made,
 * so no insert went past it: a lookup can stop there. */
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

static uint64_t *table_find(const struct hash_index_table *t, uint64_t hash,
                            hash_index_match_fn match, void *ctx)
{
    if (!t->slots)
        return NULL;
    uint64_t tag = tag_of(hash);
    size_t b = home_of(t, hash);
    for (size_t probes = 0; probes < t->nbuckets; probes++, b = next_bucket(t, b)) {
        uint64_t *bucket = bucket_of(t, b);
        bool open = false;
        for (unsigned w = 0; w < HASH_INDEX_WAYS; w++) {
            uint64_t slot = bucket[w];
            /* An item's slot is its tag and an address above SLOT_TOMB. */
            if ((slot & ~ADDR_MASK) == tag && slot > SLOT_TOMB) {
                if (match(ctx, hash_index_item(slot)))
                    return &bucket[w];
            } else {
                open |= slot == SLOT_EMPTY;
            }
        }
        if (open)
            return NULL;
    }
    return NULL;
}

/* Into the first free slot (empty or tombstone) from the home bucket on. */
static bool table_insert(struct hash_index_table *t, uint64_t hash, void *item)
{
    size_t b = home_of(t, hash);
    for (size_t probes = 0; probes < t->nbuckets; probes++, b = next_bucket(t, b)) {
        uint64_t *bucket = bucket_of(t, b);
        for (unsigned w = 0; w < HASH_INDEX_WAYS; w++) {
            if (bucket[w] > SLOT_TOMB)
                continue;
            t->tombs -= bucket[w] == SLOT_TOMB;
            bucket[w] = tag_of(hash) | (uint64_t)(uintptr_t)item;
            t->items++;
            return true;
        }
    }
    return false;
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

uint64_t *hash_index_find(struct hash_index *ix, uint64_t hash, hash_index_match_fn match,
                          void *ctx)
{
    uint64_t *slot = table_find(&ix->cur, hash, match, ctx);
    return slot ? slot : table_find(&ix->old, hash, match, ctx);
}

void hash_index_migrate(struct hash_index *ix, size_t buckets)
{
    for (; ix->old.slots && buckets > 0; buckets--) {
        uint64_t *bucket = bucket_of(&ix->old, ix->migrate_next);
        for (unsigned w = 0; w < HASH_INDEX_WAYS; w++) {
            void *item = hash_index_item(bucket[w]);
            if (!item)
                continue;
            /* The current table was made with room for every item; if it
             * somehow had none, the item stays where lookups still see it. */
            if (!table_insert(&ix->cur, ix->hash_of(ix->ctx, item), item))
                return;
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
        nbuckets += nbuckets / 4 ? nbuckets / 4 : 1;
    struct hash_index_table fresh;
    if (!table_alloc(&fresh, nbuckets))
        return;
    ix->old = ix->cur;
    ix->cur = fresh;
    ix->migrate_next = 0;
}

bool hash_index_insert(struct hash_index *ix, uint64_t hash, void *item)
{
    assert(((uintptr_t)item & ~ADDR_MASK) == 0 && (uintptr_t)item > SLOT_TOMB);
    maybe_rebuild(ix);
    return table_insert(&ix->cur, hash, item);
}

void hash_index_replace(uint64_t *slot, void *item)
{
    assert(((uintptr_t)item & ~ADDR_MASK) == 0 && (uintptr_t)item > SLOT_TOMB);
    *slot = (*slot & ~ADDR_MASK) | (uint64_t)(uintptr_t)item;
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
    buckets[n++] = bucket_of(&ix->cur, pos);
    if (ix->old.slots && pos >= ix->migrate_next && pos < ix->old.nbuckets)
        buckets[n++] = bucket_of(&ix->old, pos);
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
