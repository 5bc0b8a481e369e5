/* Unit tests of the XDP maps' writer: buckets and chunks in calloc'ed memory
 * instead of BPF maps, a real store and text protocol in front of it (reads come in
 * through proto_env.udp_read_hit, changes through the store's observer), and
 * a seqlock reader written here the way the XDP program reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "clock.h"
#include "proto_text.h"
#include "store.h"
#include "test_server.h"
#include "xdp_mirror.h"

#define NBUCKETS 16
#define NSLOTS (NBUCKETS * XDP_BUCKET_SLOTS)
#define NCHUNKS 4096                    /* 256 KB of records */
#define MAX_VALUE 1000

/* A mirror over calloc'ed maps of the given sizes. */
struct test_mirror {
    struct xdp_bucket *buckets;
    struct xdp_chunk *chunks;
    struct xdp_mirror *m;
    struct store_observer observer;
};

static void test_mirror_init(struct test_mirror *sm, uint32_t nbuckets, uint32_t nchunks)
{
    sm->buckets = calloc(nbuckets, sizeof(*sm->buckets));
    sm->chunks = calloc(nchunks, sizeof(*sm->chunks));
    sm->m = xdp_mirror_create(&(struct xdp_mirror_config){
        .buckets = sm->buckets, .nbuckets = nbuckets, .chunks = sm->chunks, .nchunks = nchunks,
        .max_value = MAX_VALUE });
    assert_non_null(sm->m);
    xdp_mirror_observer(sm->m, &sm->observer);
}

static void test_mirror_destroy(struct test_mirror *sm)
{
    xdp_mirror_destroy(sm->m);
    free(sm->buckets);
    free(sm->chunks);
}

/* Counts n reads of the item, as the UDP get path does. */
static void reads(struct xdp_mirror *m, const struct item_view *item, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        xdp_mirror_read(m, item);
}

struct fixture {
    struct test_server srv;
    struct proto_conn pc;
    struct obuf out;
    struct test_mirror mm;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_true(test_server_init(&f->srv));
    assert_true(test_server_new_store(&f->srv));
    test_mirror_init(&f->mm, NBUCKETS, NCHUNKS);
    store_set_observer(f->srv.store, &f->mm.observer);
    f->srv.env.udp_read_hit = xdp_mirror_read;
    f->srv.env.udp_read_ctx = f->mm.m;
    proto_conn_init(&f->pc, &f->srv.env, &f->srv.thread_stats);
    f->pc.udp = true;
    obuf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_server_destroy(&f->srv);
    test_mirror_destroy(&f->mm);
    obuf_free(&f->out);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

/* Runs a request stream through the text protocol; returns the replies. */
static char *run(struct fixture *f, const char *requests)
{
    char *in = strdup(requests);
    size_t used = proto_text_run(&f->pc, in, strlen(in), &f->out, 0, NULL);
    assert_int_equal(used, strlen(requests));
    char *reply = strndup(f->out.data ? f->out.data : "", f->out.len);
    obuf_reset(&f->out);
    free(in);
    return reply;
}

static void expect(struct fixture *f, const char *requests, const char *replies)
{
    char *got = run(f, requests);
    assert_string_equal(got, replies);
    free(got);
}

/* The key's hash, computed here from shared/xdp_cache.h as the XDP program
 * does, not with the mirror's code. */
static uint32_t hash_of(const char *key)
{
    uint32_t h = XDP_HASH_INIT;
    for (const char *p = key; *p; p++)
        h = xdp_key_hash_step(h, (uint8_t)*p);
    return xdp_key_hash_finish(h);
}

static uint32_t bucket_of(const char *key)
{
    return hash_of(key) & (NBUCKETS - 1);
}

static const char *text_of(const struct xdp_record *rec)
{
    return (const char *)rec + XDP_RECORD_HEAD;
}

/* The slot (bucket x XDP_BUCKET_SLOTS + way) holding the key, or -1:
 * searched as the XDP program does, in the key's bucket only, by the slot's
 * hash, then the record's hash, length and bytes. */
static int slot_of(struct fixture *f, const char *key)
{
    size_t nkey = strlen(key);
    uint32_t b = bucket_of(key);
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        const struct xdp_slot *slot = &f->mm.buckets[b].slots[way];
        if (slot->chunk == 0 || slot->hash != hash_of(key))
            continue;
        assert_in_range(slot->chunk, 1, NCHUNKS - 1);
        const struct xdp_record *rec = (const struct xdp_record *)&f->mm.chunks[slot->chunk];
        if (rec->key_hash == hash_of(key) && rec->key_len == nkey &&
            memcmp(text_of(rec) + XDP_VALUE_PREFIX_LEN, key, nkey) == 0)
            return (int)(b * XDP_BUCKET_SLOTS) + way;
    }
    return -1;
}

/* The record holding the key, or NULL. */
static const struct xdp_record *lookup(struct fixture *f, const char *key)
{
    int slot = slot_of(f, key);
    if (slot < 0)
        return NULL;
    uint32_t chunk = f->mm.buckets[slot / XDP_BUCKET_SLOTS].slots[slot % XDP_BUCKET_SLOTS].chunk;
    return (const struct xdp_record *)&f->mm.chunks[chunk];
}

static unsigned entries_in_use(struct fixture *f)
{
    unsigned n = 0;
    for (unsigned b = 0; b < NBUCKETS; b++)
        for (int way = 0; way < XDP_BUCKET_SLOTS; way++)
            n += f->mm.buckets[b].slots[way].chunk != 0;
    return n;
}

/* n keys "b<i>" that all fall in one bucket. */
static void same_bucket_keys(char keys[][16], unsigned n)
{
    unsigned found = 0;
    uint32_t bucket = bucket_of("b0");
    for (unsigned i = 0; found < n; i++) {
        snprintf(keys[found], 16, "b%u", i);
        if (bucket_of(keys[found]) == bucket)
            found++;
    }
}

static struct item_view item_of(const char *key, const char *value, uint64_t cas)
{
    return (struct item_view){ .key = key, .nkey = strlen(key), .value = value,
                               .nvalue = strlen(value), .flags = 0, .cas = cas };
}

static void set_key(struct fixture *f, const char *key, const char *value)
{
    char req[1400];
    snprintf(req, sizeof(req), "set %s 0 0 %zu\r\n%s\r\n", key, strlen(value), value);
    expect(f, req, "STORED\r\n");
}

/* Stores the key and reads it over UDP until the mirror admits it. */
static void admit_key(struct fixture *f, const char *key, const char *value)
{
    char req[64];
    set_key(f, key, value);
    snprintf(req, sizeof(req), "get %s\r\n", key);
    for (int i = 0; i < XDP_ADMIT_READS; i++)
        free(run(f, req));
    assert_non_null(lookup(f, key));
}

static struct xdp_mirror_stats stats_of(struct fixture *f)
{
    struct xdp_mirror_stats s;
    xdp_mirror_get_stats(f->mm.m, &s);
    return s;
}

/* The record's value bytes (after "\r\n" at the end of the head and CAS). */
static const char *record_value(const struct xdp_record *e)
{
    return text_of(e) + e->head_len + e->cas_len + 2;
}

/* ---- admission ----------------------------------------------------------------- */

static void test_admitted_after_admit_reads(void **state)
{
    struct fixture *f = *state;
    set_key(f, "k", "v");
    for (int i = 1; i < XDP_ADMIT_READS; i++) {
        expect(f, "get k\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n");
        assert_null(lookup(f, "k"));
    }
    assert_int_equal(stats_of(f).admissions, 0);
    expect(f, "get k\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n");
    assert_non_null(lookup(f, "k"));
    assert_int_equal(stats_of(f).admissions, 1);
    assert_int_equal(stats_of(f).entries, 1);
}

static void test_misses_tcp_and_gat_do_not_admit(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 2 * XDP_ADMIT_READS; i++)
        expect(f, "get nothing\r\n", "END\r\n");
    set_key(f, "t", "v");
    f->pc.udp = false;
    for (int i = 0; i < 2 * XDP_ADMIT_READS; i++)
        free(run(f, "gets t\r\n"));
    f->pc.udp = true;
    for (int i = 0; i < 2 * XDP_ADMIT_READS; i++)
        free(run(f, "gat 0 t\r\n"));
    assert_int_equal(entries_in_use(f), 0);
    for (int i = 1; i < XDP_ADMIT_READS; i++)
        free(run(f, "gets t\r\n"));
    assert_null(lookup(f, "t"));
    free(run(f, "gets t\r\n"));
    assert_non_null(lookup(f, "t"));
}

static void test_too_large_not_admitted(void **state)
{
    struct fixture *f = *state;
    char value[MAX_VALUE + 2];
    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    struct item_view item = item_of("big", value, 1);
    reads(f->mm.m, &item, 4 * XDP_ADMIT_READS);
    assert_int_equal(entries_in_use(f), 0);
    value[MAX_VALUE] = '\0';
    item = item_of("big", value, 1);
    reads(f->mm.m, &item, 1);
    assert_non_null(lookup(f, "big"));
}

/* The TinyLFU aging: every 10 x slots reads all counts are halved, so one
 * read long ago and one now are not two reads. */
static void test_sketch_ages(void **state)
{
    struct fixture *f = *state;
    struct item_view old = item_of("old", "v", 1), other = item_of("other", "v", 1);
    reads(f->mm.m, &old, 1);
    reads(f->mm.m, &other, 10 * NSLOTS - 1);
    reads(f->mm.m, &old, 1);
    assert_null(lookup(f, "old"));
    reads(f->mm.m, &old, 1);
    assert_non_null(lookup(f, "old"));
}

/* ---- entry text ---------------------------------------------------------------- */

/* What the XDP program sends for a one-key get or gets of this entry. */
static char *xdp_reply(const struct xdp_record *e, bool with_cas)
{
    size_t skip = with_cas ? 0 : e->cas_len;
    char *reply = calloc(1, e->text_len + XDP_END_LEN + 1);
    memcpy(reply, text_of(e), e->head_len);
    memcpy(reply + e->head_len, text_of(e) + e->head_len + skip,
           e->text_len - e->head_len - skip);
    strcat(reply, XDP_END);
    return reply;
}

static void test_record_text_is_the_daemon_reply(void **state)
{
    struct fixture *f = *state;
    expect(f, "set key:1 4294967295 0 12\r\nhello\r\nworld\r\n", "STORED\r\n");
    free(run(f, "get key:1\r\nget key:1\r\n"));
    const struct xdp_record *e = lookup(f, "key:1");
    assert_non_null(e);
    assert_int_equal(e->key_len, 5);
    assert_int_equal(e->expire_ns, UINT64_MAX);
    for (int with_cas = 0; with_cas <= 1; with_cas++) {
        char *daemon = run(f, with_cas ? "gets key:1\r\n" : "get key:1\r\n");
        char *xdp = xdp_reply(e, with_cas);
        assert_string_equal(xdp, daemon);
        free(daemon);
        free(xdp);
    }
}

/* RFC 1071's sum of n bytes as 16-bit words in memory order, folded. */
static uint16_t sum16(const char *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i += 2) {
        uint16_t word = 0;
        memcpy(&word, p + i, n - i >= 2 ? 2 : 1);
        sum += word;
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* What mg's reply takes from the entry besides the text: where the flags
 * end, the sum of "\r\n<data>\r\n", the exptime in CLOCK_MONOTONIC seconds. */
static void test_mg_fields(void **state)
{
    struct fixture *f = *state;
    expect(f, "set mgk 4294967295 100 5\r\nhello\r\n", "STORED\r\n");
    free(run(f, "get mgk\r\nget mgk\r\n"));
    const struct xdp_record *e = lookup(f, "mgk");
    assert_non_null(e);
    assert_int_equal(e->flags_len, 10);
    assert_memory_equal(text_of(e) + XDP_VALUE_PREFIX_LEN + 3 + 1, "4294967295 5", 12);
    size_t rest = e->head_len + e->cas_len;
    assert_memory_equal(text_of(e) + rest, "\r\nhello\r\n", 9);
    assert_int_equal(e->rest_sum, sum16(text_of(e) + rest, e->text_len - rest));
    /* No flush pending: the TTL's second is the expiry's. */
    assert_int_equal((uint64_t)e->exptime_sec * 1000000000u, e->expire_ns);

    expect(f, "set never 7 0 1\r\nx\r\n", "STORED\r\n");
    free(run(f, "get never\r\nget never\r\n"));
    e = lookup(f, "never");
    assert_non_null(e);
    assert_int_equal(e->flags_len, 1);
    assert_int_equal(e->exptime_sec, 0);
    assert_int_equal(e->rest_sum, sum16("\r\nx\r\n", 5));
}

/* Items a meta get answers with W, X or Z, or whose key k prints base64,
 * stay out of the map: the program could not give those replies. */
static void test_meta_state_not_admitted(void **state)
{
    struct fixture *f = *state;
    struct item_view stale = item_of("stale", "v", 1), won = item_of("won", "v", 1),
                     binary = item_of("binary", "v", 1), plain = item_of("plain", "v", 1);
    stale.stale = true;
    won.win_token_sent = true;
    binary.key_binary = true;
    reads(f->mm.m, &stale, 4 * XDP_ADMIT_READS);
    reads(f->mm.m, &won, 4 * XDP_ADMIT_READS);
    reads(f->mm.m, &binary, 4 * XDP_ADMIT_READS);
    assert_int_equal(entries_in_use(f), 0);
    reads(f->mm.m, &plain, XDP_ADMIT_READS);
    assert_int_equal(entries_in_use(f), 1);
}

/* The entry expires at clock_rel_to_mono_ns(now + ttl), where now is the
 * clock when the request ran: between before and clock_now(). */
static void expect_expiry(const struct xdp_record *e, rel_time_t before, rel_time_t ttl)
{
    uint64_t earliest = clock_rel_to_mono_ns(before + ttl);
    uint64_t latest = clock_rel_to_mono_ns(clock_now() + ttl);
    assert_in_range(e->expire_ns, earliest, latest);
}

static void test_expiry_in_mono_ns(void **state)
{
    struct fixture *f = *state;
    rel_time_t before = clock_now();
    expect(f, "set e 0 100 1\r\nv\r\n", "STORED\r\n");
    free(run(f, "get e\r\nget e\r\n"));
    expect_expiry(lookup(f, "e"), before, 100);
}

/* ---- the observer --------------------------------------------------------------- */

static void test_changes_rewrite(void **state)
{
    struct fixture *f = *state;
    admit_key(f, "c", "10");
    expect(f, "set c 3 0 3\r\n100\r\n", "STORED\r\n");
    assert_memory_equal(record_value(lookup(f, "c")), "100\r\n", 5);
    expect(f, "incr c 5\r\n", "105\r\n");
    assert_memory_equal(record_value(lookup(f, "c")), "105\r\n", 5);
    expect(f, "append c 0 0 1\r\nx\r\n", "STORED\r\n");
    assert_memory_equal(record_value(lookup(f, "c")), "105x\r\n", 6);
    rel_time_t before = clock_now();
    expect(f, "touch c 100\r\n", "TOUCHED\r\n");
    expect_expiry(lookup(f, "c"), before, 100);

    /* Every change, and the latest gets reply is still the entry's text. */
    char *daemon = run(f, "gets c\r\n");
    char *xdp = xdp_reply(lookup(f, "c"), true);
    assert_string_equal(xdp, daemon);
    free(daemon);
    free(xdp);
    assert_int_equal(stats_of(f).updates, 4);
    assert_int_equal(stats_of(f).entries, 1);
}

static void test_change_that_no_longer_fits_removes(void **state)
{
    struct fixture *f = *state;
    char req[MAX_VALUE + 64];
    admit_key(f, "c", "v");
    snprintf(req, sizeof(req), "set c 0 0 %d\r\n%0*d\r\n", MAX_VALUE + 1, MAX_VALUE + 1, 0);
    expect(f, req, "STORED\r\n");
    assert_null(lookup(f, "c"));
    assert_int_equal(stats_of(f).removals, 1);
    assert_int_equal(stats_of(f).entries, 0);
    assert_int_equal(entries_in_use(f), 0);
}

/* The single-key gets reply, with its frame header, must fit a datagram:
 * text_len + "END\r\n" <= MC_UDP_MAX_DATA. "VALUE k 0 NNNN 1\r\n" + data +
 * "\r\n" is 20 + data bytes. */
static void test_datagram_limit(void **state)
{
    struct fixture *f = *state;
    struct xdp_mirror *m = xdp_mirror_create(&(struct xdp_mirror_config){
        .buckets = f->mm.buckets, .nbuckets = NBUCKETS, .chunks = f->mm.chunks, .nchunks = NCHUNKS,
        .max_value = 4096 });
    struct store_observer obs;
    xdp_mirror_observer(m, &obs);
    static char value[2000];
    size_t largest = MC_UDP_MAX_DATA - XDP_END_LEN - 20;
    memset(value, 'x', largest);
    struct item_view item = item_of("k", value, 1);
    for (int i = 0; i < XDP_ADMIT_READS; i++)
        xdp_mirror_read(m, &item);
    assert_non_null(lookup(f, "k"));
    assert_int_equal(lookup(f, "k")->text_len + XDP_END_LEN, MC_UDP_MAX_DATA);

    value[largest] = 'x';
    item = item_of("k", value, 1);
    obs.changed(obs.ctx, &item);
    assert_null(lookup(f, "k"));
    xdp_mirror_read(m, &item);
    assert_null(lookup(f, "k"));
    xdp_mirror_destroy(m);
}

static void test_removed(void **state)
{
    struct fixture *f = *state;
    admit_key(f, "r", "v");
    admit_key(f, "s", "v");
    expect(f, "delete r\r\n", "DELETED\r\n");
    assert_null(lookup(f, "r"));
    assert_non_null(lookup(f, "s"));
    f->mm.observer.removed(f->mm.observer.ctx, "absent", 6);
    assert_int_equal(stats_of(f).removals, 1);
    assert_int_equal(stats_of(f).entries, 1);
}

static void test_flush_now_empties(void **state)
{
    struct fixture *f = *state;
    admit_key(f, "a", "v");
    admit_key(f, "b", "v");
    admit_key(f, "c", "v");
    assert_int_equal(entries_in_use(f), 3);
    expect(f, "flush_all\r\n", "OK\r\n");
    assert_int_equal(entries_in_use(f), 0);
    assert_int_equal(stats_of(f).entries, 0);
    assert_int_equal(stats_of(f).removals, 0);
}

static void test_flush_later_caps(void **state)
{
    struct fixture *f = *state;
    admit_key(f, "forever", "v");
    expect(f, "set soon 0 5 1\r\nv\r\nset late 0 1000 1\r\nv\r\n", "STORED\r\nSTORED\r\n");
    free(run(f, "get soon late\r\nget soon late\r\n"));
    uint64_t soon_ns = lookup(f, "soon")->expire_ns;

    rel_time_t at = clock_now() + 10;
    uint64_t cap = clock_rel_to_mono_ns(at);
    f->mm.observer.flushed(f->mm.observer.ctx, at);
    assert_int_equal(lookup(f, "forever")->expire_ns, cap);
    assert_int_equal(lookup(f, "late")->expire_ns, cap);
    assert_int_equal(lookup(f, "soon")->expire_ns, soon_ns);
    assert_int_equal(entries_in_use(f), 3);

    set_key(f, "forever", "w");
    assert_int_equal(lookup(f, "forever")->expire_ns, cap);
    struct item_view newcomer = item_of("new", "v", 1);
    reads(f->mm.m, &newcomer, XDP_ADMIT_READS);
    assert_int_equal(lookup(f, "new")->expire_ns, cap);

    /* Once the flush time is past, writes are not capped any more. */
    clock_advance_for_tests(11);
    set_key(f, "forever", "x");
    assert_int_equal(lookup(f, "forever")->expire_ns, UINT64_MAX);
}

/* A flush due now stays in force for writes until the clock is past it (the
 * store may still hold items it is about to flush): an entry admitted in
 * that second is never served. Once the time is past, the next read of the
 * live item brings the entry back. */
static void test_record_capped_by_a_past_flush_comes_back(void **state)
{
    struct fixture *f = *state;
    f->mm.observer.flushed(f->mm.observer.ctx, clock_now());
    struct item_view item = item_of("k", "v", 1);
    reads(f->mm.m, &item, XDP_ADMIT_READS);
    assert_non_null(lookup(f, "k"));
    assert_true(lookup(f, "k")->expire_ns <= clock_rel_to_mono_ns(clock_now()));

    clock_advance_for_tests(2);
    reads(f->mm.m, &item, 1);
    assert_int_equal(lookup(f, "k")->expire_ns, UINT64_MAX);
}

/* The same through the store: its flush_all with a delay reaches the map. */
static void test_store_flush_later_reaches_the_map(void **state)
{
    struct fixture *f = *state;
    admit_key(f, "k", "v");
    uint64_t before = clock_rel_to_mono_ns(clock_now() + 100);
    expect(f, "flush_all 100\r\n", "OK\r\n");
    assert_true(lookup(f, "k")->expire_ns <= before);
}

/* ---- the seqlock ------------------------------------------------------------------ */

#define TORN_VALUE_LEN MAX_VALUE
#define TORN_READS 50000            /* consistent reads the reader makes */
#define TORN_WRITES_MAX 10000000    /* the writer stops then in any case */

struct torn_writer {
    struct store_observer observer;
    int reader_done;                /* atomic */
    unsigned long writes;
};

/* Rewrites key "t" with all-A, then all-B values of the same length, until
 * the reader has made its reads. */
static void *torn_write_loop(void *arg)
{
    struct torn_writer *w = arg;
    static char values[2][TORN_VALUE_LEN + 1];
    memset(values[0], 'A', TORN_VALUE_LEN);
    memset(values[1], 'B', TORN_VALUE_LEN);
    while (w->writes < TORN_WRITES_MAX && !__atomic_load_n(&w->reader_done, __ATOMIC_RELAXED)) {
        struct item_view item = item_of("t", values[w->writes & 1], 7);
        w->observer.changed(w->observer.ctx, &item);
        w->writes++;
    }
    return NULL;
}

typedef uint64_t __attribute__((may_alias)) word;

/* A record as the XDP program stages it. */
struct record_copy {
    struct xdp_record head;
    char text[XDP_TEXT_MAX + 8];
};

/* The XDP program's read: seq even and unchanged across the copy. */
static bool seqlock_read(const struct xdp_record *e, struct record_copy *copy)
{
    uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    if (seq & 1)
        return false;
    const word *src = (const word *)e;
    word *dst = (word *)copy;
    for (size_t i = 0; i < sizeof(*copy) / sizeof(word); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_ACQUIRE);
    return __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == seq;
}

/* What is wrong with a copy of the record, or NULL: it must hold key "t"
 * and one whole value, all A or all B. */
static const char *torn_in(const struct record_copy *copy, size_t head_and_cas)
{
    if (copy->head.key_len != 1 || copy->text[XDP_VALUE_PREFIX_LEN] != 't')
        return "key";
    if (copy->head.text_len != head_and_cas + 2 + TORN_VALUE_LEN + 2)
        return "length";
    const char *data = record_value(&copy->head);
    if (data[0] != 'A' && data[0] != 'B')
        return "letter";
    for (size_t i = 1; i < TORN_VALUE_LEN; i++)
        if (data[i] != data[0])
            return "value of two writes";
    return NULL;
}

static void test_reader_never_sees_a_torn_record(void **state)
{
    struct fixture *f = *state;
    static char value[TORN_VALUE_LEN + 1];
    memset(value, 'A', TORN_VALUE_LEN);
    struct item_view item = item_of("t", value, 7);
    reads(f->mm.m, &item, XDP_ADMIT_READS);
    const struct xdp_record *e = lookup(f, "t");
    assert_non_null(e);
    size_t head_and_cas = e->head_len + e->cas_len;   /* the same in every write */

    struct torn_writer w = { .observer = f->mm.observer };
    pthread_t writer;
    assert_int_equal(pthread_create(&writer, NULL, torn_write_loop, &w), 0);
    static struct record_copy copy;
    unsigned long reads = 0, retries = 0, letters[2] = { 0, 0 };
    const char *torn = NULL;
    while (reads < TORN_READS && !torn) {
        if (!seqlock_read(e, &copy)) {
            retries++;
            continue;
        }
        reads++;
        torn = torn_in(&copy, head_and_cas);
        letters[record_value(&copy.head)[0] == 'B']++;
    }
    /* The writer stops before anything fails, or the next test meets it. */
    __atomic_store_n(&w.reader_done, 1, __ATOMIC_RELAXED);
    pthread_join(writer, NULL);
    if (torn)
        fail_msg("torn record after %lu consistent reads: %s", reads, torn);
    assert_int_equal(stats_of(f).updates, w.writes);
    printf("# %lu writes; %lu consistent reads (%lu A, %lu B), %lu retried\n", w.writes,
           reads, letters[0], letters[1], retries);
}

/* Worker threads read, change and remove keys at once (each its own keys,
 * as the store's shard locks would have it), aging the shared sketch many
 * times over: ThreadSanitizer must stay quiet and the counts must add up. */
#define MIX_THREADS 4
#define MIX_KEYS 32
#define MIX_OPS 20000

struct mix_worker {
    struct xdp_mirror *mirror;
    struct store_observer observer;
    unsigned id;
};

static void *mix_loop(void *arg)
{
    struct mix_worker *w = arg;
    char key[16];
    for (unsigned i = 0; i < MIX_OPS; i++) {
        snprintf(key, sizeof(key), "m%u-%u", w->id, i / 8 % MIX_KEYS);
        struct item_view item = item_of(key, i % 3 ? "value" : "other", i);
        if (i % 8 == 7)
            w->observer.removed(w->observer.ctx, key, strlen(key));
        else if (i % 8 == 6)
            w->observer.changed(w->observer.ctx, &item);
        else
            xdp_mirror_read(w->mirror, &item);
    }
    return NULL;
}

static void test_concurrent_workers(void **state)
{
    struct fixture *f = *state;
    struct mix_worker workers[MIX_THREADS];
    pthread_t threads[MIX_THREADS];
    for (unsigned t = 0; t < MIX_THREADS; t++) {
        workers[t] = (struct mix_worker){ f->mm.m, f->mm.observer, t };
        assert_int_equal(pthread_create(&threads[t], NULL, mix_loop, &workers[t]), 0);
    }
    for (unsigned t = 0; t < MIX_THREADS; t++)
        pthread_join(threads[t], NULL);
    struct xdp_mirror_stats s = stats_of(f);
    assert_true(s.admissions > 0 && s.updates > 0 && s.removals > 0);
    assert_int_equal(s.entries, entries_in_use(f));
    assert_int_equal(s.admissions - s.evictions - s.removals, s.entries);
}

/* ---- eviction and hits --------------------------------------------------------------- */

struct used_keys {
    unsigned n;
    char keys[XDP_BUCKET_SLOTS][16];
};

static void record_used(void *ctx, const char *key, size_t nkey)
{
    struct used_keys *u = ctx;
    assert_true(u->n < XDP_BUCKET_SLOTS && nkey < 16);
    memcpy(u->keys[u->n], key, nkey);
    u->keys[u->n++][nkey] = '\0';
}

/* Fills one bucket with keys[0..6] (each admitted at the minimum reads). */
static void fill_bucket(struct fixture *f, char keys[][16], struct item_view *items)
{
    for (int i = 0; i < XDP_BUCKET_SLOTS; i++) {
        items[i] = item_of(keys[i], "v", 1);
        reads(f->mm.m, &items[i], XDP_ADMIT_READS);
        assert_non_null(lookup(f, keys[i]));
    }
}

/* What the XDP program does when it answers the key: sets its slot's bit. */
static void xdp_answers(struct fixture *f, const char *key)
{
    int slot = slot_of(f, key);
    assert_true(slot >= 0);
    f->mm.buckets[slot / XDP_BUCKET_SLOTS].used |= 1u << (slot % XDP_BUCKET_SLOTS);
}

static void test_eviction_takes_the_least_hit(void **state)
{
    struct fixture *f = *state;
    char keys[XDP_BUCKET_SLOTS + 1][16];
    struct item_view items[XDP_BUCKET_SLOTS + 1];
    same_bucket_keys(keys, XDP_BUCKET_SLOTS + 1);
    fill_bucket(f, keys, items);

    /* XDP answered every key but keys[1]: recent hits become ADMIT / 2 +
     * the credit for those, ADMIT / 2 for keys[1], the coldest. */
    for (int i = 0; i < XDP_BUCKET_SLOTS; i++)
        if (i != 1)
            xdp_answers(f, keys[i]);
    struct used_keys used = { 0 };
    xdp_mirror_harvest(f->mm.m, record_used, &used);
    assert_int_equal(used.n, XDP_BUCKET_SLOTS - 1);
    assert_int_equal(f->mm.buckets[bucket_of(keys[0])].used, 0);
    int coldest = slot_of(f, keys[1]);

    struct item_view newcomer = item_of(keys[XDP_BUCKET_SLOTS], "v", 1);
    reads(f->mm.m, &newcomer, XDP_ADMIT_READS);
    assert_int_equal(slot_of(f, keys[XDP_BUCKET_SLOTS]), coldest);
    assert_null(lookup(f, keys[1]));
    for (int i = 0; i < XDP_BUCKET_SLOTS; i++)
        if (i != 1)
            assert_non_null(lookup(f, keys[i]));
    struct xdp_mirror_stats s = stats_of(f);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.admissions, XDP_BUCKET_SLOTS + 1);
    assert_int_equal(s.entries, XDP_BUCKET_SLOTS);
}

static void test_harvest_reports_and_decays(void **state)
{
    struct fixture *f = *state;
    char keys[XDP_BUCKET_SLOTS + 1][16];
    struct item_view items[XDP_BUCKET_SLOTS + 1];
    same_bucket_keys(keys, XDP_BUCKET_SLOTS + 1);
    fill_bucket(f, keys, items);

    /* All answered: recent = ADMIT / 2 + credit (17), used() for each, in
     * the order of their ways. */
    for (int i = 0; i < XDP_BUCKET_SLOTS; i++)
        xdp_answers(f, keys[i]);
    struct used_keys used = { 0 };
    xdp_mirror_harvest(f->mm.m, record_used, &used);
    assert_int_equal(used.n, XDP_BUCKET_SLOTS);
    for (unsigned i = 0; i < used.n; i++)
        assert_int_equal(slot_of(f, used.keys[i]) % XDP_BUCKET_SLOTS, i);

    /* Too cold for any of them. */
    items[XDP_BUCKET_SLOTS] = item_of(keys[XDP_BUCKET_SLOTS], "v", 1);
    reads(f->mm.m, &items[XDP_BUCKET_SLOTS], 5);
    assert_null(lookup(f, keys[XDP_BUCKET_SLOTS]));

    /* keys[0] answered again: 17 -> 8 + 16 = 24 -> 12 -> 6; the others
     * 17 -> 8 -> 4 -> 2. */
    used.n = 0;
    xdp_answers(f, keys[0]);
    xdp_mirror_harvest(f->mm.m, record_used, &used);
    assert_int_equal(used.n, 1);
    assert_string_equal(used.keys[0], keys[0]);
    xdp_mirror_harvest(f->mm.m, record_used, &used);
    xdp_mirror_harvest(f->mm.m, record_used, &used);
    assert_int_equal(used.n, 1);

    /* The sixth read (estimate 6 > 2) now takes a cold way, not keys[0]'s. */
    assert_int_equal(stats_of(f).evictions, 0);
    reads(f->mm.m, &items[XDP_BUCKET_SLOTS], 1);
    assert_non_null(lookup(f, keys[XDP_BUCKET_SLOTS]));
    assert_non_null(lookup(f, keys[0]));
    assert_int_equal(stats_of(f).evictions, 1);
}

/* When the records' memory is full, a hotter newcomer takes the record of a
 * colder key of its size class, wherever that key's bucket is. */
static void test_full_memory_evicts_colder_records(void **state)
{
    (void)state;
    /* 64 chunks less chunk 0: two records of the largest class. */
    struct test_mirror sm;
    test_mirror_init(&sm, NBUCKETS, 64);
    struct xdp_mirror *m = sm.m;
    static char value[MAX_VALUE + 1];
    memset(value, 'v', MAX_VALUE);
    struct item_view a = item_of("a", value, 1), b = item_of("b", value, 1),
                     c = item_of("c", value, 1);
    reads(m, &a, XDP_ADMIT_READS);
    reads(m, &b, XDP_ADMIT_READS);
    /* c is no hotter than a or b (2 reads each): no room. */
    reads(m, &c, XDP_ADMIT_READS);
    struct xdp_mirror_stats s;
    xdp_mirror_get_stats(m, &s);
    assert_int_equal(s.entries, 2);
    assert_null(xdp_mirror_lookup(m, "c", 1));
    /* A third read makes it hotter than the first the clock hand meets. */
    reads(m, &c, 1);
    xdp_mirror_get_stats(m, &s);
    assert_int_equal(s.entries, 2);
    assert_int_equal(s.evictions, 1);
    assert_non_null(xdp_mirror_lookup(m, "c", 1));
    assert_true((xdp_mirror_lookup(m, "a", 1) == NULL) != (xdp_mirror_lookup(m, "b", 1) == NULL));
    test_mirror_destroy(&sm);
}

/* What the XDP program does when it answers key: sets its slot's bit. */
static void test_mirror_answers(struct test_mirror *sm, uint32_t nbuckets, const char *key)
{
    const struct xdp_record *rec = xdp_mirror_lookup(sm->m, key, strlen(key));
    assert_non_null(rec);
    uint32_t chunk = (uint32_t)((const struct xdp_chunk *)rec - sm->chunks);
    struct xdp_bucket *b = &sm->buckets[hash_of(key) & (nbuckets - 1)];
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++)
        if (b->slots[way].chunk == chunk)
            b->used |= 1u << way;
}

static void ignore_used(void *ctx, const char *key, size_t nkey)
{
    (void)ctx, (void)key, (void)nkey;
}

/* Two pages: one for small records, one that big ones fill. A newcomer no
 * hotter than the big keys gets no record and evicts nobody; a hot key that
 * grows takes a colder big key's record. */
static void test_growth_and_newcomers_when_memory_is_full(void **state)
{
    (void)state;
    enum { BUCKETS = 64 };
    struct test_mirror sm;
    test_mirror_init(&sm, BUCKETS, 2048);
    static char big[MAX_VALUE + 1];
    memset(big, 'b', MAX_VALUE);
    struct item_view hot = item_of("hot", "v", 1), late = item_of("late", big, 1);
    struct xdp_mirror_stats st;
    reads(sm.m, &hot, XDP_ADMIT_READS);
    assert_non_null(xdp_mirror_lookup(sm.m, "hot", 3));
    char key[16];
    uint64_t before = 0;
    for (unsigned i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "big%u", i);
        struct item_view item = item_of(key, big, 1);
        reads(sm.m, &item, XDP_ADMIT_READS);
        xdp_mirror_get_stats(sm.m, &st);
        if (st.entries == before)
            break;
        before = st.entries;
    }
    assert_true(st.entries >= 40);      /* 44 records of 23 chunks in a page */

    reads(sm.m, &late, XDP_ADMIT_READS);
    assert_null(xdp_mirror_lookup(sm.m, "late", 4));
    xdp_mirror_get_stats(sm.m, &st);
    assert_int_equal(st.entries, before);
    assert_int_equal(st.evictions, 0);

    /* XDP answered hot: its recent hits pass every big key's. */
    test_mirror_answers(&sm, BUCKETS, "hot");
    xdp_mirror_harvest(sm.m, ignore_used, NULL);
    hot = item_of("hot", big, 2);
    sm.observer.changed(sm.observer.ctx, &hot);
    const struct xdp_record *rec = xdp_mirror_lookup(sm.m, "hot", 3);
    assert_non_null(rec);
    assert_int_equal(rec->text_len - rec->head_len - rec->cas_len, MAX_VALUE + 4);
    xdp_mirror_get_stats(sm.m, &st);
    assert_int_equal(st.updates, 1);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, before - 1);
    assert_int_equal(st.admissions - st.evictions - st.removals, st.entries);
    test_mirror_destroy(&sm);
}

/* Pages are never taken back, but small keys that fill the memory first
 * leave a page for each size class that has none: a big value that comes
 * later is still admitted. */
static void test_every_class_keeps_a_page(void **state)
{
    (void)state;
    enum { PAGES = 18, CHUNKS = PAGES * 1024 };
    struct test_mirror sm;
    test_mirror_init(&sm, 4096, CHUNKS);
    char key[16];
    struct xdp_mirror_stats st = { 0 };
    for (unsigned i = 0; i < CHUNKS; i++) {
        snprintf(key, sizeof(key), "s%u", i);
        struct item_view item = item_of(key, "v", 1);
        reads(sm.m, &item, XDP_ADMIT_READS);
    }
    xdp_mirror_get_stats(sm.m, &st);
    /* One-chunk records took all but the pages kept for the 8 other classes. */
    assert_true(st.entries <= (PAGES - 8) * 1024);
    assert_true(st.entries >= (PAGES - 9) * 1024);
    static char big[MAX_VALUE + 1];
    memset(big, 'b', MAX_VALUE);
    struct item_view item = item_of("big", big, 1);
    reads(sm.m, &item, XDP_ADMIT_READS);
    assert_non_null(xdp_mirror_lookup(sm.m, "big", 3));
    test_mirror_destroy(&sm);
}

/* A change that needs a bigger record moves the key to one; the old record
 * is freed and says so to a reader still holding it. */
static void test_growing_value_moves_record(void **state)
{
    struct fixture *f = *state;
    admit_key(f, "g", "small");
    const struct xdp_record *before = lookup(f, "g");
    uint32_t seq = before->seq;
    char req[700];
    snprintf(req, sizeof(req), "set g 0 0 600\r\n%0600d\r\n", 7);
    expect(f, req, "STORED\r\n");
    const struct xdp_record *after = lookup(f, "g");
    assert_non_null(after);
    assert_ptr_not_equal(after, before);
    assert_int_equal(after->text_len - after->head_len - after->cas_len, 600 + 4);
    assert_int_equal(before->key_len, 0);
    assert_true(before->seq != seq && before->seq % 2 == 0);
    assert_int_equal(stats_of(f).updates, 1);
    assert_int_equal(stats_of(f).entries, 1);
}

static void test_bad_configs(void **state)
{
    (void)state;
    static struct xdp_bucket buckets[16];
    static struct xdp_chunk chunks[64];
    const struct xdp_mirror_config bad[] = {
        { .buckets = buckets, .nbuckets = 0, .chunks = chunks, .nchunks = 64 },
        { .buckets = buckets, .nbuckets = 3, .chunks = chunks, .nchunks = 64 },
        { .buckets = buckets, .nbuckets = 12, .chunks = chunks, .nchunks = 64 },
        { .buckets = buckets, .nbuckets = 16, .chunks = chunks, .nchunks = 1 },
        { .buckets = NULL, .nbuckets = 16, .chunks = chunks, .nchunks = 64 },
        { .buckets = buckets, .nbuckets = 16, .chunks = NULL, .nchunks = 64 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(xdp_mirror_create(&bad[i]));
    struct xdp_mirror *m = xdp_mirror_create(&(struct xdp_mirror_config){
        .buckets = buckets, .nbuckets = 16, .chunks = chunks, .nchunks = 64, .max_value = 1 });
    assert_non_null(m);
    xdp_mirror_destroy(m);
}

/* Sized for the keys asked: a power of two, about 70% full. */
static void test_buckets_for(void **state)
{
    (void)state;
    assert_int_equal(xdp_mirror_buckets_for(1), 1);
    assert_int_equal(xdp_mirror_buckets_for(100), 32);
    assert_int_equal(xdp_mirror_buckets_for(262144), 65536);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admitted_after_admit_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misses_tcp_and_gat_do_not_admit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_not_admitted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sketch_ages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_text_is_the_daemon_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_in_mono_ns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_state_not_admitted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_that_no_longer_fits_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datagram_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_now_empties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_later_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_capped_by_a_past_flush_comes_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_flush_later_reaches_the_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_never_sees_a_torn_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_takes_the_least_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_harvest_reports_and_decays, setup, teardown),
        cmocka_unit_test(test_full_memory_evicts_colder_records),
        cmocka_unit_test_setup_teardown(test_growing_value_moves_record, setup, teardown),
        cmocka_unit_test(test_growth_and_newcomers_when_memory_is_full),
        cmocka_unit_test(test_every_class_keeps_a_page),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_buckets_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
