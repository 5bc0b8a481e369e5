/* test_hash_index.c - the store's hash index alone (user/hash_index.c):
 * lookups past full buckets, tombstones, growth while lookups go on, walks
 * that see each item once, and random operations against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hash_index.h"

/* An item: its key and the hash the test chose for it. */
struct entry {
    uint64_t key;
    uint64_t hash;
    unsigned seen;               /* by a walk */
};

static uint64_t entry_hash(void *ctx, const void *item)
{
    (void)ctx;
    return ((const struct entry *)item)->hash;
}

static bool entry_is(void *ctx, const void *item)
{
    return ((const struct entry *)item)->key == *(const uint64_t *)ctx;
}

static struct entry *find(struct hash_index *ix, const struct entry *e)
{
    uint64_t key = e->key;
    uint64_t *slot = hash_index_find(ix, e->hash, entry_is, &key);
    return slot ? hash_index_item(*slot) : NULL;
}

static uint64_t *slot_of(struct hash_index *ix, const struct entry *e)
{
    uint64_t key = e->key;
    return hash_index_find(ix, e->hash, entry_is, &key);
}

/* A hash whose first bucket (low 32 bits) is bucket 0 of any table, with a
 * tag. */
static uint64_t home0(uint16_t tag)
{
    return (uint64_t)tag << 32;
}

/* Ten keys with one hash: the ninth and tenth go to their second bucket;
 * lookups compare keys, so each finds its own. Removing from the full
 * first bucket leaves a tombstone, so the keys in the second stay found;
 * removing from the open second bucket leaves an empty slot. */
static void test_probing_and_tombstones(void **state)
{
    (void)state;
    struct hash_index ix;
    struct entry e[10];
    assert_true(hash_index_init(&ix, 64, entry_hash, NULL));
    for (int i = 0; i < 10; i++) {
        e[i] = (struct entry){ .key = (uint64_t)i, .hash = home0(7) };
        assert_null(find(&ix, &e[i]));
        assert_true(hash_index_insert(&ix, e[i].hash, &e[i]));
    }
    for (int i = 0; i < 10; i++)
        assert_ptr_equal(find(&ix, &e[i]), &e[i]);
    hash_index_remove(&ix, slot_of(&ix, &e[3]));
    assert_int_equal(ix.cur.tombs, 1);
    assert_null(find(&ix, &e[3]));
    assert_ptr_equal(find(&ix, &e[9]), &e[9]);
    hash_index_remove(&ix, slot_of(&ix, &e[9]));
    assert_int_equal(ix.cur.tombs, 1);
    assert_int_equal(ix.cur.items, 8);
    /* A new key takes the tombstone. */
    assert_true(hash_index_insert(&ix, e[3].hash, &e[3]));
    assert_int_equal(ix.cur.tombs, 0);
    assert_ptr_equal(find(&ix, &e[3]), &e[3]);
    /* Replacing keeps the slot and its tag. */
    struct entry twin = e[3];
    hash_index_replace(slot_of(&ix, &e[3]), &twin);
    assert_ptr_equal(find(&ix, &e[3]), &twin);
    hash_index_destroy(&ix);
}

/* Keys with one and the same hash have the same two buckets in every
 * table: 16 fit, the 17th is refused after the index has tried moving
 * items and larger tables, and the 16 are all still found where they were. */
static void test_refused_insert_changes_nothing(void **state)
{
    (void)state;
    struct hash_index ix;
    struct entry e[17];
    assert_true(hash_index_init(&ix, 32, entry_hash, NULL));
    for (int i = 0; i < 17; i++)
        e[i] = (struct entry){ .key = (uint64_t)i, .hash = 0x123456789abcdefull };
    for (int i = 0; i < 16; i++)
        assert_true(hash_index_insert(&ix, e[i].hash, &e[i]));
    assert_false(hash_index_insert(&ix, e[16].hash, &e[16]));
    for (int i = 0; i < 16; i++)
        assert_ptr_equal(find(&ix, &e[i]), &e[i]);
    assert_null(find(&ix, &e[16]));
    assert_int_equal(ix.cur.items + ix.old.items, 16);
    hash_index_destroy(&ix);
}

/* A different tag is never compared: a matcher that says yes to anything
 * finds only the items whose tag is the key's. */
static bool anything(void *ctx, const void *item)
{
    (void)ctx;
    (void)item;
    return true;
}

static void test_tags_filter(void **state)
{
    (void)state;
    struct hash_index ix;
    struct entry a = { .key = 1, .hash = home0(1) }, b = { .key = 2, .hash = home0(2) };
    assert_true(hash_index_init(&ix, 64, entry_hash, NULL));
    assert_true(hash_index_insert(&ix, a.hash, &a));
    assert_true(hash_index_insert(&ix, b.hash, &b));
    assert_ptr_equal(hash_index_item(*hash_index_find(&ix, home0(2), anything, NULL)), &b);
    assert_null(hash_index_find(&ix, home0(3), anything, NULL));
    hash_index_destroy(&ix);
}

static uint64_t random64(void)
{
    return (uint64_t)random() << 33 ^ (uint64_t)random() << 11 ^ (uint64_t)random();
}

/* Every entry at exactly one walk position. */
static void expect_walk_sees_all(struct hash_index *ix, struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        e[i].seen = 0;
    for (size_t pos = 0; pos < hash_index_positions(ix); pos++) {
        uint64_t *buckets[2];
        unsigned nb = hash_index_buckets_at(ix, pos, buckets);
        for (unsigned b = 0; b < nb; b++)
            for (unsigned w = 0; w < HASH_INDEX_WAYS; w++) {
                struct entry *it = hash_index_item(buckets[b][w]);
                if (it)
                    it->seen++;
            }
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(e[i].seen, 1);
}

/* 100,000 keys into a 32-slot index: it grows by 1.25x many times, a bucket
 * moved per insert, items moving between their two buckets as tables fill;
 * every key stays found and walked once mid-migration, and the table ends
 * between 75% and 94% full. */
static void test_growth(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct entry *e = calloc(N, sizeof *e);
    struct hash_index ix;
    bool saw_migrating = false;
    assert_non_null(e);
    srandom(1);
    assert_true(hash_index_init(&ix, 32, entry_hash, NULL));
    for (size_t i = 0; i < N; i++) {
        e[i] = (struct entry){ .key = i, .hash = random64() };
        assert_true(hash_index_insert(&ix, e[i].hash, &e[i]));
        hash_index_migrate(&ix, 1);
        if (i % 9973 == 0 && hash_index_migrating(&ix)) {
            saw_migrating = true;
            expect_walk_sees_all(&ix, e, i + 1);
            for (size_t j = 0; j <= i; j++)
                assert_ptr_equal(find(&ix, &e[j]), &e[j]);
        }
    }
    assert_true(saw_migrating);
    hash_index_migrate(&ix, SIZE_MAX);
    assert_false(hash_index_migrating(&ix));
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find(&ix, &e[i]), &e[i]);
    size_t slots = hash_index_slots(&ix);
    assert_true(slots * 94 >= (size_t)N * 100);
    assert_true(slots * 75 <= (size_t)N * 100);
    assert_int_equal(hash_index_bytes(&ix), slots * sizeof(uint64_t));
    hash_index_destroy(&ix);
    free(e);
}

/* Random inserts and removes of 600 keys whose hashes share 4 first buckets
 * and 4 tags (most keys in their second bucket, many moved, many tag
 * matches), with migrations in between, checked against an array of what is
 * in; the tombstones they leave make the index rebuild at its own size. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { KEYS = 600, OPS = 200000 };
    static struct entry e[KEYS];
    bool in[KEYS] = { false };
    size_t count = 0;
    struct hash_index ix;
    srandom(2);
    assert_true(hash_index_init(&ix, 32, entry_hash, NULL));
    for (size_t k = 0; k < KEYS; k++)
        e[k] = (struct entry){ .key = k,
                               .hash = (uint64_t)(random() % 1024) << 48 |
                                       (uint64_t)(random() % 4) << 32 |
                                       (uint64_t)(random() % 4) << 30 };
    for (size_t op = 0; op < OPS; op++) {
        size_t k = (size_t)random() % KEYS;
        struct entry *found = find(&ix, &e[k]);
        assert_ptr_equal(found, in[k] ? &e[k] : NULL);
        if (in[k] && random() % 2) {
            hash_index_remove(&ix, slot_of(&ix, &e[k]));
            in[k] = false;
            count--;
        } else if (!in[k] && count < KEYS / 2) {
            assert_true(hash_index_insert(&ix, e[k].hash, &e[k]));
            in[k] = true;
            count++;
        }
        if (op % 7 == 0)
            hash_index_migrate(&ix, 1);
        assert_int_equal(ix.cur.items + ix.old.items, count);
    }
    hash_index_destroy(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probing_and_tombstones),
        cmocka_unit_test(test_refused_insert_changes_nothing),
        cmocka_unit_test(test_tags_filter),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
