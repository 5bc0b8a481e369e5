/* xdp_mirror.c - see xdp_mirror.h; the design is docs/xdp.md, "What lives in
 * the map".
 *
 * Locking: one mutex per bucket serializes the writers of its slots and of
 * the records they point to, and guards the mirror's per-slot state
 * (recent hits). Callers hold the store's shard lock around the observer
 * and xdp_mirror_read, so the order is always shard lock -> bucket lock ->
 * the record allocator's lock (user/xdp_records.c); a bucket lock taken
 * while the allocator's is held (to evict from another bucket) is only ever
 * tried, never waited for. The mirror never calls into the store while it
 * holds a bucket lock.
 *
 * Readers of the maps (the XDP program, tests) take no lock: each record is
 * a seqlock and each slot is written with one 8-byte store (xdp_cache.h). */
#include "xdp_mirror.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "wire.h"
#include "xdp_records.h"

#define SKETCH_ROWS 4
/* Counters per slot in each row: TinyLFU's sizing, few collisions among the
 * keys competing for the map. */
#define SKETCH_WIDTH_PER_SLOT 4
/* All counters are halved after this many reads per slot (TinyLFU aging):
 * old popularity fades, so a key that was hot yesterday cannot block the
 * keys that are hot now. */
#define SKETCH_AGE_READS_PER_SLOT 10
#define SKETCH_COUNTER_MAX 255
/* What a harvest adds to the recent-hit count of a key XDP answered since
 * the last one (the count is halved at each harvest, so a key answered every
 * second settles at twice this): more than a newcomer's few reads. */
#define HARVEST_HIT_CREDIT 16
/* Records of a full size class offered for eviction before an admission
 * gives up. */
#define RECLAIM_TRIES 32

/* Records are written in 8-byte words with atomic stores (see record_write). */
typedef uint64_t __attribute__((may_alias)) record_word;
#define WORD_SIZE sizeof(record_word)
#define TEXT_WORDS ((XDP_TEXT_MAX + WORD_SIZE - 1) / WORD_SIZE)

_Static_assert(XDP_RECORD_HEAD % WORD_SIZE == 0, "text is word aligned");
_Static_assert(XDP_CHUNK_SIZE % WORD_SIZE == 0, "a record's words stay in its chunks");

struct xdp_mirror {
    struct xdp_bucket *buckets;
    uint32_t bucket_mask;
    struct xdp_chunk *chunks;
    struct xdp_records *records;
    size_t max_value;
    pthread_mutex_t *locks;         /* one per bucket */
    uint32_t *recent;               /* per slot: decayed XDP hits, for eviction */
    /* Count-min sketch: SKETCH_ROWS rows of sketch_mask + 1 counters. */
    uint8_t *sketch;
    uint32_t sketch_mask;
    uint64_t sketch_reads;          /* atomic: reads counted, for aging */
    uint64_t sketch_age_period;
    rel_time_t flush_at;            /* atomic: pending delayed flush, 0 = none */
    struct xdp_mirror_stats stats;  /* atomic fields */
};

/* What one record is to hold, prepared before it is written. */
struct record_image {
    struct xdp_record head;         /* seq and nchunks unused */
    union {
        record_word words[TEXT_WORDS];
        char text[TEXT_WORDS * WORD_SIZE];
    };
};

static void stat_add(uint64_t *stat, int64_t delta)
{
    __atomic_fetch_add(stat, (uint64_t)delta, __ATOMIC_RELAXED);
}

/* ---- keys, slots and records ----------------------------------------------- */

static uint32_t key_hash(const char *key, size_t nkey)
{
    uint32_t h = XDP_HASH_INIT;
    for (size_t i = 0; i < nkey; i++)
        h = xdp_key_hash_step(h, (uint8_t)key[i]);
    return xdp_key_hash_finish(h);
}

static uint32_t bucket_of(const struct xdp_mirror *m, uint32_t hash)
{
    return hash & m->bucket_mask;
}

static uint32_t slot_index(uint32_t bucket, int way)
{
    return bucket * XDP_BUCKET_SLOTS + (uint32_t)way;
}

/* A slot as the one 8-byte word it is read and written as. */
union slot_word {
    struct xdp_slot slot;
    uint64_t word;
};

static struct xdp_slot slot_read(const struct xdp_mirror *m, uint32_t bucket, int way)
{
    union slot_word u;
    u.word = __atomic_load_n((const uint64_t *)&m->buckets[bucket].slots[way], __ATOMIC_RELAXED);
    return u.slot;
}

/* Release: the record it points to is written before the slot is seen. */
static void slot_write(struct xdp_mirror *m, uint32_t bucket, int way, uint32_t hash,
                       uint32_t chunk)
{
    union slot_word u = { .slot = { .hash = hash, .chunk = chunk } };
    __atomic_store_n((uint64_t *)&m->buckets[bucket].slots[way], u.word, __ATOMIC_RELEASE);
}

static struct xdp_record *record_at(const struct xdp_mirror *m, uint32_t chunk)
{
    return (struct xdp_record *)&m->chunks[chunk];
}

static const char *record_key(const struct xdp_record *rec)
{
    return (const char *)rec + XDP_RECORD_HEAD + XDP_VALUE_PREFIX_LEN;
}

/* The way of the bucket holding the key, or -1. Under the bucket lock, or
 * racy (xdp_mirror_lookup): the mirror is the only writer, so it reads its
 * own records without the seqlock. */
static int find_way(const struct xdp_mirror *m, uint32_t bucket, uint32_t hash,
                    const char *key, size_t nkey)
{
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        struct xdp_slot slot = slot_read(m, bucket, way);
        if (slot.chunk == 0 || slot.hash != hash)
            continue;
        const struct xdp_record *rec = record_at(m, slot.chunk);
        if (rec->key_len == nkey && nkey != 0 && memcmp(record_key(rec), key, nkey) == 0)
            return way;
    }
    return -1;
}

/* Could the bucket hold the key? Read without the bucket lock, so that the
 * store writes of keys not in the map (nearly all of them) never take it.
 * It never says no wrongly: a key enters the map only through
 * xdp_mirror_read, which like this key's observer calls runs under the
 * key's store shard lock, so the admission's stores are visible here; a
 * writer of the bucket racing with this read can only be evicting the key,
 * after which "no" is the truth. */
static bool bucket_may_hold(const struct xdp_mirror *m, uint32_t bucket, uint32_t hash)
{
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        struct xdp_slot slot = slot_read(m, bucket, way);
        if (slot.chunk != 0 && slot.hash == hash)
            return true;
    }
    return false;
}

static uint32_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* A folded sum of bytes taken from offset 0 as if they were at offset `at`:
 * an odd offset swaps the bytes of every word (RFC 1071). */
static uint32_t csum_moved(uint32_t folded, size_t at)
{
    return at % 2 ? ((folded >> 8 | folded << 8) & 0xffff) : folded;
}

/* Adds n bytes to a one's complement sum as if they were at offset `at` of
 * a buffer summed in 16-bit words in memory order, as the XDP program sums
 * (xdp_cache.h, get_sum): word by word, an odd last byte padded with zero,
 * and the result byte-swapped at an odd offset (RFC 1071). */
static uint32_t csum_add(uint32_t sum, const char *bytes, size_t n, size_t at)
{
    uint32_t part = 0;
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        uint16_t word;
        memcpy(&word, bytes + i, 2);
        part += word;
    }
    if (i < n) {
        uint16_t word = 0;
        memcpy(&word, bytes + i, 1);
        part += word;
    }
    return sum + csum_moved(csum_fold(part), at);
}

/* mg's t: the second of CLOCK_MONOTONIC(_COARSE) at which clock_now()
 * reaches exptime (xdp_cache.h, exptime_sec), 0 for never. An exptime
 * already reached gives a time in the past, or 0: such a record's expire_ns
 * is in the past too, so it is never served. */
static uint32_t exptime_sec_of(rel_time_t exptime)
{
    return exptime == 0 ? 0 : (uint32_t)(clock_rel_to_mono_ns(exptime) / 1000000000u);
}

/* Renders the item as the daemon replies to get/gets (user/wire.c, the
 * formatter of the text protocol's VALUE lines), and what mg needs besides; all but
 * expire_ns, which is read under the bucket lock (expire_ns_of). False when
 * no record is to hold it: a value over --xdp-max-value, or a single-key
 * reply over one datagram. */
static bool render(const struct xdp_mirror *m, const struct item_view *item, uint32_t hash,
                   struct record_image *img)
{
    char fields[WIRE_VALUE_FIELDS_MAX], cas[WIRE_VALUE_FIELDS_MAX];
    if (item->nkey == 0 || item->nkey > XDP_KEY_MAX || item->nvalue > m->max_value)
        return false;
    /* A meta get of it answers W, X or Z, which the fast path cannot. */
    if (item->stale || item->win_token_sent)
        return false;
    /* Its key was sent base64-encoded: mg's k prints it so, with " b",
     * where the program would print the raw bytes. */
    if (item->key_binary)
        return false;
    size_t nfields = wire_value_fields(fields, item->flags, item->nvalue);
    size_t ncas = wire_cas_field(cas, item->cas);
    size_t head = XDP_VALUE_PREFIX_LEN + item->nkey + nfields;
    size_t total = head + ncas + 2 + item->nvalue + 2;
    if (total > XDP_TEXT_MAX)
        return false;

    char *p = img->text;
    memcpy(p, XDP_VALUE_PREFIX, XDP_VALUE_PREFIX_LEN);
    memcpy(p += XDP_VALUE_PREFIX_LEN, item->key, item->nkey);
    memcpy(p += item->nkey, fields, nfields);
    memcpy(p += nfields, cas, ncas);
    memcpy(p += ncas, "\r\n", 2);
    memcpy(p += 2, item->value, item->nvalue);
    memcpy(p += item->nvalue, "\r\n", 2);
    /* record_write copies whole words: the last one's tail must be defined. */
    memset(img->text + total, 0, (WORD_SIZE - total % WORD_SIZE) % WORD_SIZE);

    struct xdp_record *h = &img->head;
    memset(h, 0, sizeof(*h));
    h->key_hash = hash;
    h->key_len = (uint16_t)item->nkey;
    h->head_len = (uint16_t)head;
    h->cas_len = (uint16_t)ncas;
    h->text_len = (uint16_t)total;
    /* fields is " <flags> <bytes>". */
    h->flags_len = (uint8_t)((const char *)memchr(fields + 1, ' ', nfields - 1) - (fields + 1));
    h->exptime_sec = exptime_sec_of(item->exptime);
    /* The value is summed once, and moved to where each reply has it. */
    size_t rest = head + ncas;
    uint32_t rest_sum = csum_fold(csum_add(0, img->text + rest, total - rest, 0));
    uint32_t head_sum = csum_add(0, img->text, head, 0);
    h->rest_sum = (uint16_t)rest_sum;
    h->get_sum = (uint16_t)csum_fold(head_sum + csum_moved(rest_sum, head));
    h->gets_sum = (uint16_t)csum_fold(csum_add(head_sum, img->text + head, ncas, head) +
                                      csum_moved(rest_sum, rest));
    return true;
}

/* The seqlock writer, under the bucket lock (docs/xdp.md): seq odd, fields
 * and text, seq even. Each field and text word between write_begin and
 * write_end is a release store rather than a plain store after a fence: the
 * same ordering (nothing moves above the odd seq; the even seq after all),
 * the same code on x86 (plain moves), and unlike fences it is something
 * ThreadSanitizer models (GCC refuses fences under -fsanitize=thread), so
 * the tests can check the protocol. */
static uint32_t write_begin(struct xdp_record *rec)
{
    uint32_t seq = rec->seq;
    __atomic_store_n(&rec->seq, seq + 1, __ATOMIC_RELAXED);
    return seq;
}

static void write_end(struct xdp_record *rec, uint32_t seq)
{
    __atomic_store_n(&rec->seq, seq + 2, __ATOMIC_RELEASE);
}

static void record_write(struct xdp_record *rec, const struct record_image *img)
{
    const struct xdp_record *h = &img->head;
    uint32_t seq = write_begin(rec);
    __atomic_store_n(&rec->key_hash, h->key_hash, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->expire_ns, h->expire_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->key_len, h->key_len, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->head_len, h->head_len, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->cas_len, h->cas_len, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->text_len, h->text_len, __ATOMIC_RELEASE);
    record_word *dst = (record_word *)((char *)rec + XDP_RECORD_HEAD);
    size_t nwords = (h->text_len + WORD_SIZE - 1) / WORD_SIZE;
    for (size_t i = 0; i < nwords; i++)
        __atomic_store_n(&dst[i], img->words[i], __ATOMIC_RELEASE);
    __atomic_store_n(&rec->get_sum, h->get_sum, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->gets_sum, h->gets_sum, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->rest_sum, h->rest_sum, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->flags_len, h->flags_len, __ATOMIC_RELEASE);
    __atomic_store_n(&rec->exptime_sec, h->exptime_sec, __ATOMIC_RELEASE);
    write_end(rec, seq);
}

/* A free record (key_len 0), written with the same protocol, so that a
 * reader still holding its old slot sees the change. */
static void record_clear(struct xdp_record *rec)
{
    static const struct record_image empty;
    record_write(rec, &empty);
}

static void record_cap_expiry(struct xdp_record *rec, uint64_t cap_ns)
{
    uint32_t seq = write_begin(rec);
    __atomic_store_n(&rec->expire_ns, cap_ns, __ATOMIC_RELEASE);
    write_end(rec, seq);
}

/* Takes the key out of slot `way`: the slot first (new readers stop finding
 * it), then the record (readers that found it see it change), which goes
 * back to the allocator unless the allocator is the caller (reclaim). */
static void clear_way(struct xdp_mirror *m, uint32_t bucket, int way)
{
    uint32_t chunk = slot_read(m, bucket, way).chunk;
    slot_write(m, bucket, way, 0, 0);
    __atomic_fetch_and(&m->buckets[bucket].used, ~(1u << way), __ATOMIC_RELAXED);
    record_clear(record_at(m, chunk));
    m->recent[slot_index(bucket, way)] = 0;
    stat_add(&m->stats.entries, -1);
}

static void drop_way(struct xdp_mirror *m, uint32_t bucket, int way)
{
    uint32_t chunk = slot_read(m, bucket, way).chunk;
    if (chunk == 0)
        return;
    clear_way(m, bucket, way);
    xdp_records_free(m->records, chunk);
}

/* ---- room for a record -------------------------------------------------------- */

/* Who is being admitted, for reclaim's choice of victims. */
struct reclaim {
    struct xdp_mirror *m;
    uint32_t locked_bucket;         /* the admission's own, already held */
    unsigned estimate;              /* the newcomer's reads */
};

/* Evicts the key in slot `owner` if it still holds the record at chunk and
 * is colder than the newcomer. Under the allocator's lock, which frees the
 * record itself; the victim's bucket lock is only tried. */
static bool evict_colder(void *ctx, uint32_t owner, uint32_t chunk)
{
    struct reclaim *rc = ctx;
    struct xdp_mirror *m = rc->m;
    uint32_t bucket = owner / XDP_BUCKET_SLOTS;
    int way = (int)(owner % XDP_BUCKET_SLOTS);
    bool own = bucket == rc->locked_bucket;
    if (!own && pthread_mutex_trylock(&m->locks[bucket]) != 0)
        return false;
    bool evict = slot_read(m, bucket, way).chunk == chunk && m->recent[owner] < rc->estimate;
    if (evict) {
        clear_way(m, bucket, way);
        stat_add(&m->stats.evictions, 1);
    }
    if (!own)
        pthread_mutex_unlock(&m->locks[bucket]);
    return evict;
}

/* A record for the image, owned by slot `owner`: from the allocator, else
 * after evicting a key of its size class colder than `estimate` reads. 0
 * when there is none. */
static uint32_t record_for(struct xdp_mirror *m, const struct record_image *img, uint32_t owner,
                           uint32_t locked_bucket, unsigned estimate)
{
    uint32_t need = xdp_record_chunks(img->head.text_len);
    uint32_t chunk = xdp_records_alloc(m->records, need, owner);
    struct reclaim rc = { .m = m, .locked_bucket = locked_bucket, .estimate = estimate };
    if (chunk == 0 && estimate > 0 &&
        xdp_records_reclaim(m->records, need, RECLAIM_TRIES, evict_colder, &rc))
        chunk = xdp_records_alloc(m->records, need, owner);
    return chunk;
}

/* Writes the image into a new record for slot `way` and points the slot at
 * it; the key the slot held, if any, is evicted, but only once the record
 * is there. False (the slot as it was) when there is no record. */
static bool fill_way(struct xdp_mirror *m, uint32_t bucket, int way, const struct record_image *img,
                     unsigned estimate)
{
    uint32_t chunk = record_for(m, img, slot_index(bucket, way), bucket, estimate);
    if (chunk == 0)
        return false;
    struct xdp_record *rec = record_at(m, chunk);
    rec->nchunks = (uint8_t)xdp_records_class_chunks(xdp_record_chunks(img->head.text_len));
    record_write(rec, img);
    if (slot_read(m, bucket, way).chunk != 0) {
        drop_way(m, bucket, way);
        stat_add(&m->stats.evictions, 1);
    }
    slot_write(m, bucket, way, img->head.key_hash, chunk);
    stat_add(&m->stats.entries, 1);
    return true;
}

/* The key in slot `way` changed: rewritten in place when its record is big
 * enough, else moved to a new one (evicting colder keys for it if need be;
 * the slot points at the new record before the old one is freed). Returns
 * false when it could not stay: it was removed. */
static bool rewrite_way(struct xdp_mirror *m, uint32_t bucket, int way,
                        const struct record_image *img)
{
    uint32_t owner = slot_index(bucket, way);
    uint32_t old = slot_read(m, bucket, way).chunk;
    struct xdp_record *rec = record_at(m, old);
    if (xdp_record_chunks(img->head.text_len) <= rec->nchunks) {
        record_write(rec, img);
        return true;
    }
    uint32_t chunk = record_for(m, img, owner, bucket, m->recent[owner]);
    if (chunk == 0) {
        drop_way(m, bucket, way);
        return false;
    }
    struct xdp_record *moved = record_at(m, chunk);
    moved->nchunks = (uint8_t)xdp_records_class_chunks(xdp_record_chunks(img->head.text_len));
    record_write(moved, img);
    slot_write(m, bucket, way, img->head.key_hash, chunk);
    record_clear(rec);
    xdp_records_free(m->records, old);
    return true;
}

/* When the record stops being served: the item's expiry, or a pending
 * flush_all if that comes first. Under the bucket lock, so that on_flushed()
 * either caps this record or was seen here. */
static uint64_t expire_ns_of(struct xdp_mirror *m, rel_time_t exptime)
{
    uint64_t expire = clock_rel_to_mono_ns(exptime);
    rel_time_t at = __atomic_load_n(&m->flush_at, __ATOMIC_ACQUIRE);
    if (at == 0)
        return expire;
    /* Forgotten only once the clock is past `at`, not at it: the store read
     * the clock when it locked the shard, maybe a tick before we did, and an
     * item it stored at `at - 1` is still to be flushed. */
    if (clock_now() > at) {
        __atomic_compare_exchange_n(&m->flush_at, &at, 0, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
        return expire;
    }
    uint64_t flush_ns = clock_rel_to_mono_ns(at);
    return flush_ns < expire ? flush_ns : expire;
}

typedef void bucket_fn(struct xdp_mirror *m, uint32_t bucket, uint64_t arg);

/* Runs fn on every bucket under its lock. */
static void each_bucket(struct xdp_mirror *m, bucket_fn *fn, uint64_t arg)
{
    for (uint32_t b = 0; b <= m->bucket_mask; b++) {
        pthread_mutex_lock(&m->locks[b]);
        fn(m, b, arg);
        pthread_mutex_unlock(&m->locks[b]);
    }
}

static void empty_bucket(struct xdp_mirror *m, uint32_t bucket, uint64_t unused)
{
    (void)unused;
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++)
        if (slot_read(m, bucket, way).chunk != 0)
            drop_way(m, bucket, way);
}

static void cap_bucket(struct xdp_mirror *m, uint32_t bucket, uint64_t cap_ns)
{
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        uint32_t chunk = slot_read(m, bucket, way).chunk;
        if (chunk != 0 && record_at(m, chunk)->expire_ns > cap_ns)
            record_cap_expiry(record_at(m, chunk), cap_ns);
    }
}

/* ---- the store's observer ------------------------------------------------------ */

static void on_changed(void *ctx, const struct item_view *item)
{
    struct xdp_mirror *m = ctx;
    uint32_t hash = key_hash(item->key, item->nkey);
    uint32_t bucket = bucket_of(m, hash);
    struct record_image img;

    if (!bucket_may_hold(m, bucket, hash))
        return;
    pthread_mutex_lock(&m->locks[bucket]);
    int way = find_way(m, bucket, hash, item->key, item->nkey);
    if (way >= 0) {
        if (render(m, item, hash, &img)) {
            img.head.expire_ns = expire_ns_of(m, item->exptime);
            bool stayed = rewrite_way(m, bucket, way, &img);
            stat_add(stayed ? &m->stats.updates : &m->stats.removals, 1);
        } else {
            drop_way(m, bucket, way);
            stat_add(&m->stats.removals, 1);
        }
    }
    pthread_mutex_unlock(&m->locks[bucket]);
}

static void on_removed(void *ctx, const char *key, size_t nkey)
{
    struct xdp_mirror *m = ctx;
    uint32_t hash = key_hash(key, nkey);
    uint32_t bucket = bucket_of(m, hash);

    if (!bucket_may_hold(m, bucket, hash))
        return;
    pthread_mutex_lock(&m->locks[bucket]);
    int way = find_way(m, bucket, hash, key, nkey);
    if (way >= 0) {
        drop_way(m, bucket, way);
        stat_add(&m->stats.removals, 1);
    }
    pthread_mutex_unlock(&m->locks[bucket]);
}

/* The flush time is published before the buckets are visited, so a write
 * racing with this is either visited or capped by expire_ns_of(). It stays
 * published even for a flush that is due now: if the store found it not due
 * yet (its clock read a tick earlier), items it still holds are flushed a
 * moment later without a word to the observer, and must not be admitted
 * uncapped meanwhile. It replaces a pending one, as it does in the store. */
static void on_flushed(void *ctx, rel_time_t at)
{
    struct xdp_mirror *m = ctx;
    __atomic_store_n(&m->flush_at, at, __ATOMIC_RELEASE);
    if (at <= clock_now())
        each_bucket(m, empty_bucket, 0);
    else
        each_bucket(m, cap_bucket, clock_rel_to_mono_ns(at));
}

void xdp_mirror_observer(struct xdp_mirror *mirror, struct store_observer *out)
{
    *out = (struct store_observer){
        .ctx = mirror, .changed = on_changed, .removed = on_removed, .flushed = on_flushed,
    };
}

/* ---- admission ---------------------------------------------------------------- */

static uint8_t *sketch_counter(struct xdp_mirror *m, uint32_t hash, unsigned row)
{
    /* A different bijective remix of the key hash per row. */
    uint32_t index = xdp_key_hash_finish(hash + row * 0x9e3779b9u) & m->sketch_mask;
    return &m->sketch[(size_t)row * (m->sketch_mask + 1) + index];
}

/* Halves every counter. Increments racing with it may be lost or halved
 * twice; the sketch is an estimate either way. */
static void sketch_age(struct xdp_mirror *m)
{
    size_t n = (size_t)SKETCH_ROWS * (m->sketch_mask + 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = __atomic_load_n(&m->sketch[i], __ATOMIC_RELAXED);
        __atomic_store_n(&m->sketch[i], c >> 1, __ATOMIC_RELAXED);
    }
}

/* Counts one read of the key; returns the estimate of its reads, this one
 * included (the smallest of its counters). Counters shared with keys of
 * other shards may be bumped concurrently: hence the atomics. */
static unsigned sketch_add(struct xdp_mirror *m, uint32_t hash)
{
    unsigned estimate = SKETCH_COUNTER_MAX;
    for (unsigned row = 0; row < SKETCH_ROWS; row++) {
        uint8_t *counter = sketch_counter(m, hash, row);
        uint8_t c = __atomic_load_n(counter, __ATOMIC_RELAXED);
        while (c < SKETCH_COUNTER_MAX &&
               !__atomic_compare_exchange_n(counter, &c, c + 1, true, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED))
            ;
        unsigned now = c < SKETCH_COUNTER_MAX ? c + 1u : c;
        estimate = now < estimate ? now : estimate;
    }
    if (__atomic_add_fetch(&m->sketch_reads, 1, __ATOMIC_RELAXED) % m->sketch_age_period == 0)
        sketch_age(m);
    return estimate;
}

/* The way a newcomer with this estimate may take: an empty one, else the one
 * with the fewest recent hits if the newcomer is hotter (TinyLFU's rule:
 * one-hit wonders cannot push hot keys out). -1 when it may take none. */
static int admission_way(struct xdp_mirror *m, uint32_t bucket, unsigned estimate)
{
    int victim = 0;
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        if (slot_read(m, bucket, way).chunk == 0)
            return way;
        if (m->recent[slot_index(bucket, way)] < m->recent[slot_index(bucket, victim)])
            victim = way;
    }
    return estimate > m->recent[slot_index(bucket, victim)] ? victim : -1;
}

/* Puts the key in the map if there is room for it. Its recent-hit count
 * starts at its read estimate: a newcomer has had no chance to be hit yet,
 * and would otherwise be the first victim of the next newcomer. */
static void admit(struct xdp_mirror *m, uint32_t bucket, unsigned estimate,
                  const struct record_image *img)
{
    int way = admission_way(m, bucket, estimate);
    if (way < 0 || !fill_way(m, bucket, way, img, estimate))
        return;
    m->recent[slot_index(bucket, way)] = estimate;
    stat_add(&m->stats.admissions, 1);
}

void xdp_mirror_read(void *mirror, const struct item_view *item)
{
    struct xdp_mirror *m = mirror;
    uint32_t hash = key_hash(item->key, item->nkey);
    unsigned estimate = sketch_add(m, hash);
    struct record_image img;
    if (estimate < XDP_ADMIT_READS || !render(m, item, hash, &img))
        return;

    uint32_t bucket = bucket_of(m, hash);
    pthread_mutex_lock(&m->locks[bucket]);
    img.head.expire_ns = expire_ns_of(m, item->exptime);
    int way = find_way(m, bucket, hash, item->key, item->nkey);
    if (way < 0) {
        admit(m, bucket, estimate, &img);
    } else {
        struct xdp_record *rec = record_at(m, slot_read(m, bucket, way).chunk);
        /* In the map but no longer served (capped by a flush whose time has
         * passed), while the store says the item is live: the daemon keeps
         * getting its reads, so bring the record up to date. */
        if (rec->expire_ns <= clock_mono_ns() && !rewrite_way(m, bucket, way, &img))
            stat_add(&m->stats.removals, 1);
    }
    pthread_mutex_unlock(&m->locks[bucket]);
}

/* ---- hits ----------------------------------------------------------------------- */

struct hit_keys {
    unsigned n;
    uint16_t len[XDP_BUCKET_SLOTS];
    char key[XDP_BUCKET_SLOTS][XDP_KEY_MAX];
};

/* Ages one bucket's recent hits and credits the keys XDP answered, clearing
 * their used bits; copies those keys, for used() after the lock is
 * released. */
static void harvest_bucket(struct xdp_mirror *m, uint32_t bucket, struct hit_keys *out)
{
    struct xdp_bucket *b = &m->buckets[bucket];
    out->n = 0;
    pthread_mutex_lock(&m->locks[bucket]);
    uint32_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);
    if (used)
        __atomic_fetch_and(&b->used, ~used, __ATOMIC_RELAXED);
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        uint32_t chunk = slot_read(m, bucket, way).chunk;
        uint32_t *recent = &m->recent[slot_index(bucket, way)];
        bool hit = used & (1u << way);
        *recent = *recent / 2 + (hit ? HARVEST_HIT_CREDIT : 0);
        if (hit && chunk != 0) {
            const struct xdp_record *rec = record_at(m, chunk);
            memcpy(out->key[out->n], record_key(rec), rec->key_len);
            out->len[out->n++] = rec->key_len;
        }
    }
    pthread_mutex_unlock(&m->locks[bucket]);
}

void xdp_mirror_harvest(struct xdp_mirror *mirror,
                        void (*used)(void *ctx, const char *key, size_t nkey), void *ctx)
{
    struct hit_keys keys;
    for (uint32_t b = 0; b <= mirror->bucket_mask; b++) {
        harvest_bucket(mirror, b, &keys);
        for (unsigned k = 0; k < keys.n; k++)
            used(ctx, keys.key[k], keys.len[k]);
    }
}

const struct xdp_record *xdp_mirror_lookup(const struct xdp_mirror *mirror, const char *key,
                                           size_t nkey)
{
    uint32_t hash = key_hash(key, nkey);
    uint32_t bucket = bucket_of(mirror, hash);
    int way = find_way(mirror, bucket, hash, key, nkey);
    return way < 0 ? NULL : record_at(mirror, slot_read(mirror, bucket, way).chunk);
}

/* ---- life cycle ---------------------------------------------------------------- */

void xdp_mirror_get_stats(struct xdp_mirror *mirror, struct xdp_mirror_stats *out)
{
    const struct xdp_mirror_stats *s = &mirror->stats;
    out->entries = __atomic_load_n(&s->entries, __ATOMIC_RELAXED);
    out->admissions = __atomic_load_n(&s->admissions, __ATOMIC_RELAXED);
    out->evictions = __atomic_load_n(&s->evictions, __ATOMIC_RELAXED);
    out->updates = __atomic_load_n(&s->updates, __ATOMIC_RELAXED);
    out->removals = __atomic_load_n(&s->removals, __ATOMIC_RELAXED);
}

uint32_t xdp_mirror_buckets_for(uint32_t nkeys)
{
    /* Buckets at most about 70% full on average (nkeys / 5 of 7 slots). */
    uint32_t want = nkeys / 5 + 1, buckets = 1;
    while (buckets < want && buckets < (1u << 31))
        buckets <<= 1;
    return buckets;
}

/* nbuckets a power of two, small enough for the sketch's width to fit its
 * 32-bit mask. */
static bool config_ok(const struct xdp_mirror_config *c)
{
    return c->buckets != NULL && c->chunks != NULL && c->nbuckets != 0 &&
           (c->nbuckets & (c->nbuckets - 1)) == 0 && c->nchunks >= 2 &&
           (uint64_t)c->nbuckets * XDP_BUCKET_SLOTS * SKETCH_WIDTH_PER_SLOT <= UINT32_MAX;
}

struct xdp_mirror *xdp_mirror_create(const struct xdp_mirror_config *config)
{
    if (!config_ok(config))
        return NULL;
    struct xdp_mirror *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    size_t nslots = (size_t)config->nbuckets * XDP_BUCKET_SLOTS;
    /* The width is rounded up to a power of two for the mask. */
    size_t width = 1;
    while (width < SKETCH_WIDTH_PER_SLOT * nslots)
        width <<= 1;
    m->buckets = config->buckets;
    m->bucket_mask = config->nbuckets - 1;
    m->chunks = config->chunks;
    m->max_value = config->max_value;
    m->sketch_mask = (uint32_t)(width - 1);
    m->sketch_age_period = (uint64_t)SKETCH_AGE_READS_PER_SLOT * nslots;
    m->records = xdp_records_create(config->nchunks);
    m->locks = calloc(config->nbuckets, sizeof(*m->locks));
    for (uint32_t b = 0; m->locks && b < config->nbuckets; b++)
        pthread_mutex_init(&m->locks[b], NULL);
    m->recent = calloc(nslots, sizeof(*m->recent));
    m->sketch = calloc(SKETCH_ROWS, width);
    if (!m->records || !m->locks || !m->recent || !m->sketch) {
        xdp_mirror_destroy(m);
        return NULL;
    }
    return m;
}

void xdp_mirror_destroy(struct xdp_mirror *mirror)
{
    if (!mirror)
        return;
    if (mirror->locks) {
        for (uint32_t b = 0; b <= mirror->bucket_mask; b++)
            pthread_mutex_destroy(&mirror->locks[b]);
    }
    xdp_records_destroy(mirror->records);
    free(mirror->locks);
    free(mirror->recent);
    free(mirror->sketch);
    free(mirror);
}
