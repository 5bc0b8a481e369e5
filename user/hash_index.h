/* hash_index.h - one store shard's hash index: where each item is, by its
 * key's hash, in 8.5 to 10.7 bytes per item.
 *
 * A table of 64-byte buckets of eight 8-byte slots. A slot holds an item's
 * address (the low 48 bits) and a 16-bit tag taken from the key's hash, so
 * that a lookup compares keys only for the items whose tag matches: one
 * cache line read for most lookups, where a chain costs one per item. A key
 * has two candidate buckets, named by its hash: it goes to the first while
 * that has room, else to the second, else it takes a slot from one of them
 * and the item there moves to its own other bucket (cuckoo hashing). So a
 * lookup reads at most two lines, and the second only when the first has
 * been full.
 *
 * Removing an item empties its slot when its bucket has never been full, and
 * leaves a tombstone otherwise, so that "the first bucket has an empty slot"
 * keeps meaning "the key is not in its second". When live items and
 * tombstones fill 94% of the slots, a new table is made: 1.25x as large
 * when more than 75% are live, else the same size (to drop the tombstones).
 * Items move to it a bucket at a time (hash_index_migrate), never all at
 * once, and lookups look in both tables until the old one is empty. So the
 * table stays between 75% and 94% full as it grows.
 *
 * The index knows nothing of items but their address: it asks the caller for
 * an item's hash (when moving it) and whether an item has the key sought.
 * Not thread-safe: the store calls it under the shard's lock. */
#ifndef XDPCACHED_HASH_INDEX_H
#define XDPCACHED_HASH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_INDEX_WAYS 8        /* slots per bucket: one cache line */

/* Whether item has the key sought (ctx says which). */
typedef bool (*hash_index_match_fn)(void *ctx, const void *item);
/* The hash an item was inserted with. */
typedef uint64_t (*hash_index_hash_fn)(void *ctx, const void *item);

struct hash_index_table {
    uint64_t *slots;             /* nbuckets * HASH_INDEX_WAYS, 64-byte aligned; NULL: none */
    size_t nbuckets;
    size_t items;                /* live slots */
    size_t tombs;                /* tombstones */
};

struct hash_index {
    struct hash_index_table cur;
    struct hash_index_table old; /* while migrating: the table being emptied */
    size_t migrate_next;         /* old buckets below this one are emptied */
    hash_index_hash_fn hash_of;
    void *ctx;
    uint32_t rng;                /* picks the slot an insert takes when both buckets are full */
};

/* An index with room for min_slots items before it first grows. False when
 * out of memory. */
bool hash_index_init(struct hash_index *ix, size_t min_slots, hash_index_hash_fn hash_of,
                     void *ctx);
void hash_index_destroy(struct hash_index *ix);

/* A slot: the item's address in the low ADDR_BITS, its key's tag above. */
#define SLOT_EMPTY UINT64_C(0)
#define SLOT_TOMB UINT64_C(1)
#define ADDR_BITS 48
#define ADDR_MASK ((UINT64_C(1) << ADDR_BITS) - 1)

/* The item a slot holds, or NULL for an empty slot or a tombstone. */
static inline void *hash_index_item(uint64_t slot)
{
    return slot > SLOT_TOMB ? (void *)(uintptr_t)(slot & ADDR_MASK) : NULL;
}

/* The lookup is here, in line, so that the caller's match function is too:
 * it runs on every get. */

/* The tag is bits 32-47 of the hash. The first bucket comes from the low
 * 32 bits, the second from bits 32-57 mixed (the top 6 pick the shard), so
 * the two are independent. */
static inline uint64_t hash_index_tag(uint64_t hash)
{
    return ((hash >> 32) & 0xffff) << ADDR_BITS;
}

static inline size_t hash_index_first(const struct hash_index_table *t, uint64_t hash)
{
    return (size_t)(((uint64_t)(uint32_t)hash * t->nbuckets) >> 32);
}

static inline size_t hash_index_second(const struct hash_index_table *t, uint64_t hash)
{
    uint32_t mixed = (uint32_t)(((hash >> 32) * UINT64_C(0x9e3779b97f4a7c15)) >> 32);
    size_t b = (size_t)(((uint64_t)mixed * t->nbuckets) >> 32);
    return b != hash_index_first(t, hash) ? b : (b + 1) % t->nbuckets;
}

static inline uint64_t *hash_index_bucket(const struct hash_index_table *t, size_t b)
{
    return &t->slots[b * HASH_INDEX_WAYS];
}

/* The slot in bucket b of the item with this tag that match accepts, or
 * NULL; *open says whether the bucket has an empty slot. */
static inline uint64_t *hash_index_bucket_find(const struct hash_index_table *t, size_t b,
                                               uint64_t tag, hash_index_match_fn match,
                                               void *ctx, bool *open)
{
    uint64_t *bucket = hash_index_bucket(t, b);
    *open = false;
    for (unsigned w = 0; w < HASH_INDEX_WAYS; w++) {
        uint64_t slot = bucket[w];
        /* An item's slot is its tag and an address above SLOT_TOMB. */
        if ((slot & ~ADDR_MASK) == tag && slot > SLOT_TOMB) {
            if (match(ctx, hash_index_item(slot)))
                return &bucket[w];
        } else {
            *open |= slot == SLOT_EMPTY;
        }
    }
    return NULL;
}

/* The second bucket is read only when the first has been full since its
 * table was made: a key goes to its second bucket only then. */
static inline uint64_t *hash_index_table_find(const struct hash_index_table *t, uint64_t hash,
                                              hash_index_match_fn match, void *ctx)
{
    bool open;
    if (!t->slots)
        return NULL;
    uint64_t tag = hash_index_tag(hash);
    uint64_t *slot = hash_index_bucket_find(t, hash_index_first(t, hash), tag, match, ctx, &open);
    if (slot || open || t->nbuckets == 1)
        return slot;
    return hash_index_bucket_find(t, hash_index_second(t, hash), tag, match, ctx, &open);
}

/* The slot of the item with this hash for which match says yes, or NULL. */
static inline uint64_t *hash_index_find(struct hash_index *ix, uint64_t hash,
                                        hash_index_match_fn match, void *ctx)
{
    uint64_t *slot = hash_index_table_find(&ix->cur, hash, match, ctx);
    return slot || !ix->old.slots ? slot : hash_index_table_find(&ix->old, hash, match, ctx);
}

/* Adds an item that is not in the index yet. False when there is no room and
 * the table cannot grow (out of memory). */
bool hash_index_insert(struct hash_index *ix, uint64_t hash, void *item);
/* Puts another item with the same key in a slot that find() returned. */
void hash_index_replace(uint64_t *slot, void *item);
/* Empties a slot that find() or a walk returned. */
void hash_index_remove(struct hash_index *ix, uint64_t *slot);

/* Moves up to `buckets` old buckets into the current table. */
void hash_index_migrate(struct hash_index *ix, size_t buckets);
static inline bool hash_index_migrating(const struct hash_index *ix)
{
    return ix->old.slots != NULL;
}

/* A walk over every item goes through positions 0 .. positions()-1. Position
 * p is the current table's bucket p and, while migrating, the old table's
 * bucket p, so every item is at exactly one position. buckets_at() stores
 * the buckets (HASH_INDEX_WAYS slots each) and returns how many. Removing
 * while walking is fine; inserting or migrating is not. */
size_t hash_index_positions(const struct hash_index *ix);
unsigned hash_index_buckets_at(struct hash_index *ix, size_t pos, uint64_t *buckets[2]);

/* Bytes of the tables, and the slots of the current one. */
size_t hash_index_bytes(const struct hash_index *ix);
size_t hash_index_slots(const struct hash_index *ix);

#endif
