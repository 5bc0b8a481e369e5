/* xdp_mirror.c - see xdp_mirror.h; the design is docs/xdp.md, "What lives in
 * the map".
 *
 * Locking: one mutex per bucket serializes the writers of its XDP_CACHE_WAYS
 * entries and guards the mirror's own per-entry state (recent hits, hit
 * totals). A bucket's entries are ~5.6 KiB, so a mutex each costs under 1%
 * of the map, and writers of different keys almost never meet. Callers hold
 * the store's shard lock around the observer and xdp_mirror_read, so the
 * order is always shard lock -> bucket lock; the mirror never calls into the
 * store while it holds a bucket lock.
 *
 * Readers of the entries (the XDP program, tests) take no lock: each entry is
 * a seqlock (xdp_cache.h). */
#include "xdp_mirror.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "proto_text.h"

#define SKETCH_ROWS 4
/* Counters per entry in each row: TinyLFU's sizing, few collisions among the
 * keys competing for the map. */
#define SKETCH_WIDTH_PER_ENTRY 4
/* All counters are halved after this many reads per entry (TinyLFU aging):
 * old popularity fades, so a key that was hot yesterday cannot block the
 * keys that are hot now. */
#define SKETCH_AGE_READS_PER_ENTRY 10
#define SKETCH_COUNTER_MAX 255

/* The entry is written in 8-byte words with atomic stores (see entry_write). */
typedef uint64_t __attribute__((may_alias)) entry_word;
#define WORD_SIZE sizeof(entry_word)

_Static_assert(offsetof(struct xdp_cache_entry, text) % WORD_SIZE == 0, "text is word aligned");
_Static_assert(XDP_ENTRY_TEXT_MAX % WORD_SIZE == 0, "text is whole words");
/* An entry whose reply fits a datagram always fits the entry's text. */
_Static_assert(MC_UDP_MAX_DATA - XDP_END_LEN <= XDP_ENTRY_TEXT_MAX, "text room");

struct xdp_mirror {
    struct xdp_cache_entry *entries;
    uint32_t nentries;
    uint32_t bucket_mask;
    size_t max_value;
    pthread_mutex_t *locks;         /* one per bucket */
    uint32_t *recent;               /* per entry: decayed XDP hits, for eviction */
    uint64_t *hit_totals;           /* per entry: hits[] at the last harvest */
    /* Count-min sketch: SKETCH_ROWS rows of sketch_mask + 1 counters. */
    uint8_t *sketch;
    uint32_t sketch_mask;
    uint64_t sketch_reads;          /* atomic: reads counted, for aging */
    uint64_t sketch_age_period;
    rel_time_t flush_at;            /* atomic: pending delayed flush, 0 = none */
    struct xdp_mirror_stats stats;  /* atomic fields */
};

/* What one entry is to hold, prepared before it is written. */
struct entry_image {
    uint32_t key_hash;
    uint64_t expire_ns;
    uint16_t key_len, head_len, cas_len, text_len;
    uint16_t get_sum, gets_sum, rest_sum;
    uint8_t flags_len;
    uint32_t exptime_sec;
    union {
        entry_word words[XDP_ENTRY_TEXT_MAX / WORD_SIZE];
        char text[XDP_ENTRY_TEXT_MAX];
    };
};

static void stat_add(uint64_t *stat, int64_t delta)
{
    __atomic_fetch_add(stat, (uint64_t)delta, __ATOMIC_RELAXED);
}

static uint64_t mono_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* ---- keys and entries ---------------------------------------------------- */

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

static uint32_t index_of(uint32_t bucket, int way)
{
    return bucket * XDP_CACHE_WAYS + (uint32_t)way;
}

static struct xdp_cache_entry *entry_at(struct xdp_mirror *m, uint32_t bucket, int way)
{
    return &m->entries[index_of(bucket, way)];
}

/* The way of the bucket holding the key, or -1. Under the bucket lock: the
 * mirror is the only writer, so it reads its own entries without the
 * seqlock. */
static int find_way(struct xdp_mirror *m, uint32_t bucket, uint32_t hash,
                    const char *key, size_t nkey)
{
    for (int way = 0; way < XDP_CACHE_WAYS; way++) {
        const struct xdp_cache_entry *e = entry_at(m, bucket, way);
        if (e->key_len == nkey && nkey != 0 && e->key_hash == hash &&
            memcmp(e->text + XDP_VALUE_PREFIX_LEN, key, nkey) == 0)
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
static bool bucket_may_hold(struct xdp_mirror *m, uint32_t bucket, uint32_t hash, size_t nkey)
{
    for (int way = 0; way < XDP_CACHE_WAYS; way++) {
        const struct xdp_cache_entry *e = entry_at(m, bucket, way);
        if (__atomic_load_n(&e->key_hash, __ATOMIC_RELAXED) == hash &&
            __atomic_load_n(&e->key_len, __ATOMIC_RELAXED) == nkey)
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
 * already reached gives a time in the past, or 0: such an entry's expire_ns
 * is in the past too, so it is never served. */
static uint32_t exptime_sec_of(rel_time_t exptime)
{
    return exptime == 0 ? 0 : (uint32_t)(clock_rel_to_mono_ns(exptime) / 1000000000u);
}

/* Renders the item as the daemon replies to get/gets (write_value in
 * proto_text.c, same formatter), and what mg needs besides; all but
 * expire_ns, which is read under the bucket lock (expire_ns_of). False when
 * the entry is not to hold it: a value over --xdp-max-value, or a
 * single-key reply over one datagram. */
static bool render(const struct xdp_mirror *m, const struct item_view *item, uint32_t hash,
                   struct entry_image *img)
{
    char fields[PROTO_TEXT_VALUE_FIELDS_MAX], cas[PROTO_TEXT_VALUE_FIELDS_MAX];
    if (item->nkey == 0 || item->nkey > XDP_KEY_MAX || item->nvalue > m->max_value)
        return false;
    /* A meta get of it answers W, X or Z, which the fast path cannot. */
    if (item->stale || item->win_token_sent)
        return false;
    /* Its key was sent base64-encoded: mg's k prints it so, with " b",
     * where the program would print the raw bytes. */
    if (item->key_binary)
        return false;
    size_t nfields = proto_text_value_fields(fields, item->flags, item->nvalue);
    size_t ncas = proto_text_cas_field(cas, item->cas);
    size_t head = XDP_VALUE_PREFIX_LEN + item->nkey + nfields;
    size_t total = head + ncas + 2 + item->nvalue + 2;
    if (total + XDP_END_LEN > MC_UDP_MAX_DATA)
        return false;

    char *p = img->text;
    memcpy(p, XDP_VALUE_PREFIX, XDP_VALUE_PREFIX_LEN);
    memcpy(p += XDP_VALUE_PREFIX_LEN, item->key, item->nkey);
    memcpy(p += item->nkey, fields, nfields);
    memcpy(p += nfields, cas, ncas);
    memcpy(p += ncas, "\r\n", 2);
    memcpy(p += 2, item->value, item->nvalue);
    memcpy(p += item->nvalue, "\r\n", 2);
    /* entry_write copies whole words: the last one's tail must be defined. */
    memset(img->text + total, 0, (WORD_SIZE - total % WORD_SIZE) % WORD_SIZE);

    img->key_hash = hash;
    img->key_len = (uint16_t)item->nkey;
    img->head_len = (uint16_t)head;
    img->cas_len = (uint16_t)ncas;
    img->text_len = (uint16_t)total;
    /* fields is " <flags> <bytes>". */
    img->flags_len = (uint8_t)((const char *)memchr(fields + 1, ' ', nfields - 1) - (fields + 1));
    img->exptime_sec = exptime_sec_of(item->exptime);
    /* The value is summed once, and moved to where each reply has it. */
    size_t rest = head + ncas;
    uint32_t rest_sum = csum_fold(csum_add(0, img->text + rest, total - rest, 0));
    uint32_t head_sum = csum_add(0, img->text, head, 0);
    img->rest_sum = (uint16_t)rest_sum;
    img->get_sum = (uint16_t)csum_fold(head_sum + csum_moved(rest_sum, head));
    img->gets_sum = (uint16_t)csum_fold(csum_add(head_sum, img->text + head, ncas, head) +
                                        csum_moved(rest_sum, rest));
    return true;
}

/* The seqlock writer, under the bucket lock (docs/xdp.md): seq odd, fields
 * and text, seq even. Each field and text word between write_begin and
 * write_end is a release store rather than a plain store after a fence: the
 * same ordering (nothing moves above the
 * odd seq; the even seq after all), the same code on x86 (plain moves), and
 * unlike fences it is something ThreadSanitizer models (GCC refuses fences
 * under -fsanitize=thread), so the tests can check the protocol. */
static uint32_t write_begin(struct xdp_cache_entry *e)
{
    uint32_t seq = e->seq;
    __atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
    return seq;
}

static void write_end(struct xdp_cache_entry *e, uint32_t seq)
{
    __atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

static void entry_write(struct xdp_cache_entry *e, const struct entry_image *img)
{
    uint32_t seq = write_begin(e);
    __atomic_store_n(&e->key_hash, img->key_hash, __ATOMIC_RELEASE);
    __atomic_store_n(&e->expire_ns, img->expire_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&e->key_len, img->key_len, __ATOMIC_RELEASE);
    __atomic_store_n(&e->head_len, img->head_len, __ATOMIC_RELEASE);
    __atomic_store_n(&e->cas_len, img->cas_len, __ATOMIC_RELEASE);
    __atomic_store_n(&e->text_len, img->text_len, __ATOMIC_RELEASE);
    entry_word *dst = (entry_word *)e->text;
    size_t nwords = (img->text_len + WORD_SIZE - 1) / WORD_SIZE;
    for (size_t i = 0; i < nwords; i++)
        __atomic_store_n(&dst[i], img->words[i], __ATOMIC_RELEASE);
    __atomic_store_n(&e->get_sum, img->get_sum, __ATOMIC_RELEASE);
    __atomic_store_n(&e->gets_sum, img->gets_sum, __ATOMIC_RELEASE);
    __atomic_store_n(&e->rest_sum, img->rest_sum, __ATOMIC_RELEASE);
    __atomic_store_n(&e->flags_len, img->flags_len, __ATOMIC_RELEASE);
    __atomic_store_n(&e->exptime_sec, img->exptime_sec, __ATOMIC_RELEASE);
    write_end(e, seq);
}

/* An empty entry (key_len 0), written with the same protocol. */
static void entry_clear(struct xdp_mirror *m, uint32_t index)
{
    static const struct entry_image empty;
    entry_write(&m->entries[index], &empty);
    m->recent[index] = 0;
}

static void entry_cap_expiry(struct xdp_cache_entry *e, uint64_t cap_ns)
{
    uint32_t seq = write_begin(e);
    __atomic_store_n(&e->expire_ns, cap_ns, __ATOMIC_RELEASE);
    write_end(e, seq);
}

/* ---- expiry and delayed flushes --------------------------------------------- */

/* When the entry stops being served: the item's expiry, or a pending
 * flush_all if that comes first. Under the bucket lock, so that on_flushed()
 * either caps this entry or was seen here. */
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
    for (int way = 0; way < XDP_CACHE_WAYS; way++) {
        if (entry_at(m, bucket, way)->key_len == 0)
            continue;
        entry_clear(m, index_of(bucket, way));
        stat_add(&m->stats.entries, -1);
    }
}

static void cap_bucket(struct xdp_mirror *m, uint32_t bucket, uint64_t cap_ns)
{
    for (int way = 0; way < XDP_CACHE_WAYS; way++) {
        struct xdp_cache_entry *e = entry_at(m, bucket, way);
        if (e->key_len != 0 && e->expire_ns > cap_ns)
            entry_cap_expiry(e, cap_ns);
    }
}

/* ---- the store's observer ------------------------------------------------------ */

/* The key's item went away or no longer fits. */
static void remove_way(struct xdp_mirror *m, uint32_t bucket, int way)
{
    entry_clear(m, index_of(bucket, way));
    stat_add(&m->stats.removals, 1);
    stat_add(&m->stats.entries, -1);
}

static void on_changed(void *ctx, const struct item_view *item)
{
    struct xdp_mirror *m = ctx;
    uint32_t hash = key_hash(item->key, item->nkey);
    uint32_t bucket = bucket_of(m, hash);
    struct entry_image img;

    if (!bucket_may_hold(m, bucket, hash, item->nkey))
        return;
    pthread_mutex_lock(&m->locks[bucket]);
    int way = find_way(m, bucket, hash, item->key, item->nkey);
    if (way >= 0) {
        if (render(m, item, hash, &img)) {
            img.expire_ns = expire_ns_of(m, item->exptime);
            entry_write(entry_at(m, bucket, way), &img);
            stat_add(&m->stats.updates, 1);
        } else {
            remove_way(m, bucket, way);
        }
    }
    pthread_mutex_unlock(&m->locks[bucket]);
}

static void on_removed(void *ctx, const char *key, size_t nkey)
{
    struct xdp_mirror *m = ctx;
    uint32_t hash = key_hash(key, nkey);
    uint32_t bucket = bucket_of(m, hash);

    if (!bucket_may_hold(m, bucket, hash, nkey))
        return;
    pthread_mutex_lock(&m->locks[bucket]);
    int way = find_way(m, bucket, hash, key, nkey);
    if (way >= 0)
        remove_way(m, bucket, way);
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
static int admission_way(struct xdp_mirror *m, uint32_t bucket, unsigned estimate,
                         bool *evicts)
{
    int victim = 0;
    for (int way = 0; way < XDP_CACHE_WAYS; way++) {
        if (entry_at(m, bucket, way)->key_len == 0) {
            *evicts = false;
            return way;
        }
        if (m->recent[index_of(bucket, way)] < m->recent[index_of(bucket, victim)])
            victim = way;
    }
    *evicts = true;
    return estimate > m->recent[index_of(bucket, victim)] ? victim : -1;
}

/* Puts the key in the map if its bucket has room for it. Its recent-hit
 * count starts at its read estimate: a newcomer has had no chance to be hit
 * yet, and would otherwise be the first victim of the next newcomer. */
static void admit(struct xdp_mirror *m, uint32_t bucket, unsigned estimate,
                  const struct entry_image *img)
{
    bool evicts;
    int way = admission_way(m, bucket, estimate, &evicts);
    if (way < 0)
        return;
    uint32_t index = index_of(bucket, way);
    entry_write(&m->entries[index], img);
    m->recent[index] = estimate;
    stat_add(&m->stats.admissions, 1);
    stat_add(evicts ? &m->stats.evictions : &m->stats.entries, 1);
}

void xdp_mirror_read(void *mirror, const struct item_view *item)
{
    struct xdp_mirror *m = mirror;
    uint32_t hash = key_hash(item->key, item->nkey);
    unsigned estimate = sketch_add(m, hash);
    struct entry_image img;
    if (estimate < XDP_ADMIT_READS || !render(m, item, hash, &img))
        return;

    uint32_t bucket = bucket_of(m, hash);
    pthread_mutex_lock(&m->locks[bucket]);
    img.expire_ns = expire_ns_of(m, item->exptime);
    int way = find_way(m, bucket, hash, item->key, item->nkey);
    if (way < 0) {
        admit(m, bucket, estimate, &img);
    } else if (entry_at(m, bucket, way)->expire_ns <= mono_now_ns()) {
        /* In the map but no longer served (capped by a flush whose time has
         * passed), while the store says the item is live: the daemon keeps
         * getting its reads, so bring the entry up to date. */
        entry_write(entry_at(m, bucket, way), &img);
    }
    pthread_mutex_unlock(&m->locks[bucket]);
}

/* ---- hits ----------------------------------------------------------------------- */

struct hit_keys {
    unsigned n;
    uint16_t len[XDP_CACHE_WAYS];
    char key[XDP_CACHE_WAYS][XDP_KEY_MAX];
};

/* Ages one bucket's recent hits, takes in its new hits; copies the keys that
 * were hit, for used() after the lock is released. Returns the new hits. */
static uint64_t harvest_bucket(struct xdp_mirror *m, uint32_t bucket, const uint64_t *hits,
                               struct hit_keys *out)
{
    uint64_t sum = 0;
    out->n = 0;
    pthread_mutex_lock(&m->locks[bucket]);
    for (int way = 0; way < XDP_CACHE_WAYS; way++) {
        uint32_t i = index_of(bucket, way);
        uint64_t delta = hits[i] - m->hit_totals[i];
        m->hit_totals[i] = hits[i];
        uint64_t recent = m->recent[i] / 2 + delta;
        m->recent[i] = recent > UINT32_MAX ? UINT32_MAX : (uint32_t)recent;
        sum += delta;
        const struct xdp_cache_entry *e = &m->entries[i];
        if (delta > 0 && e->key_len != 0) {
            memcpy(out->key[out->n], e->text + XDP_VALUE_PREFIX_LEN, e->key_len);
            out->len[out->n++] = e->key_len;
        }
    }
    pthread_mutex_unlock(&m->locks[bucket]);
    return sum;
}

uint64_t xdp_mirror_harvest(struct xdp_mirror *mirror, const uint64_t *hits,
                            void (*used)(void *ctx, const char *key, size_t nkey),
                            void *ctx)
{
    uint64_t sum = 0;
    struct hit_keys keys;
    for (uint32_t b = 0; b <= mirror->bucket_mask; b++) {
        sum += harvest_bucket(mirror, b, hits, &keys);
        for (unsigned k = 0; k < keys.n; k++)
            used(ctx, keys.key[k], keys.len[k]);
    }
    return sum;
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

/* nentries: XDP_CACHE_WAYS x a power of two, small enough for the sketch's
 * width to fit its 32-bit mask. */
static bool config_ok(const struct xdp_mirror_config *c)
{
    uint32_t buckets = c->nentries / XDP_CACHE_WAYS;
    return c->entries != NULL && c->nentries % XDP_CACHE_WAYS == 0 && buckets != 0 &&
           (buckets & (buckets - 1)) == 0 &&
           c->nentries <= UINT32_MAX / SKETCH_WIDTH_PER_ENTRY;
}

struct xdp_mirror *xdp_mirror_create(const struct xdp_mirror_config *config)
{
    if (!config_ok(config))
        return NULL;
    struct xdp_mirror *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    uint32_t buckets = config->nentries / XDP_CACHE_WAYS;
    /* nentries is a power of two times 4, so this width is a power of two. */
    size_t width = (size_t)SKETCH_WIDTH_PER_ENTRY * config->nentries;
    m->entries = config->entries;
    m->nentries = config->nentries;
    m->bucket_mask = buckets - 1;
    m->max_value = config->max_value;
    m->sketch_mask = (uint32_t)(width - 1);
    m->sketch_age_period = (uint64_t)SKETCH_AGE_READS_PER_ENTRY * config->nentries;
    m->locks = calloc(buckets, sizeof(*m->locks));
    for (uint32_t b = 0; m->locks && b < buckets; b++)
        pthread_mutex_init(&m->locks[b], NULL);
    m->recent = calloc(config->nentries, sizeof(*m->recent));
    m->hit_totals = calloc(config->nentries, sizeof(*m->hit_totals));
    m->sketch = calloc(SKETCH_ROWS, width);
    if (!m->locks || !m->recent || !m->hit_totals || !m->sketch) {
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
    free(mirror->locks);
    free(mirror->recent);
    free(mirror->hit_totals);
    free(mirror->sketch);
    free(mirror);
}
