/* xdp_records.c - see xdp_records.h. */
#include "xdp_records.h"

#include <pthread.h>
#include <stdlib.h>

#include "xdp_cache.h"

/* Record sizes in chunks: each class about 1.5x the one before, the last
 * the largest record (a text that fills a datagram). */
static const uint32_t class_chunks[] = { 1, 2, 3, 4, 6, 8, 12, 16, XDP_RECORD_CHUNKS_MAX };
#define NCLASSES (sizeof(class_chunks) / sizeof(class_chunks[0]))

_Static_assert(XDP_RECORD_CHUNKS_MAX > 16, "the classes grow to the largest record");
_Static_assert(XDP_RECORD_CHUNKS_MAX <= XDP_RECORDS_PAGE_CHUNKS, "a page holds a record");

/* No owner: a free record. Owners are the caller's numbers + 1. */
#define NO_OWNER 0

struct size_class {
    uint32_t free;          /* first free record, 0 = none; linked by next_free */
    uint32_t carve;         /* next record to carve from the class's newest page */
    uint32_t carve_end;     /* ... up to here */
    uint32_t *pages;        /* the pages given to the class, in order */
    uint32_t npages;
    uint32_t hand_page;     /* reclaim's clock hand: pages[hand_page], */
    uint32_t hand_chunk;    /* at this chunk */
};

struct xdp_records {
    pthread_mutex_t lock;
    uint32_t nchunks;
    uint32_t npages;
    uint32_t next_page;                 /* pages not given to a class yet start here */
    unsigned classes_without_page;
    uint32_t *owner;                    /* per chunk: its record's owner + 1 */
    uint32_t *next_free;                /* per chunk: the next free record of its class */
    uint8_t *page_class;                /* per page */
    struct size_class classes[NCLASSES];
};

static int class_of(uint32_t need)
{
    for (unsigned c = 0; c < NCLASSES; c++)
        if (need <= class_chunks[c])
            return (int)c;
    return -1;
}

uint32_t xdp_records_class_chunks(uint32_t need)
{
    int c = class_of(need);
    return c < 0 ? 0 : class_chunks[c];
}

static uint32_t page_start(uint32_t page)
{
    /* Chunk 0 is never a record's. */
    return page == 0 ? 1 : page * XDP_RECORDS_PAGE_CHUNKS;
}

static uint32_t page_end(const struct xdp_records *r, uint32_t page)
{
    uint64_t end = (uint64_t)(page + 1) * XDP_RECORDS_PAGE_CHUNKS;
    return end < r->nchunks ? (uint32_t)end : r->nchunks;
}

/* Gives the next page to class c; false when none is left for it. Pages
 * are never taken back, so the last ones are kept for the classes that have
 * none yet: a daemon that first met only small values can still cache a
 * large one (evicting within its class). */
static bool grow_class(struct xdp_records *r, unsigned c)
{
    struct size_class *sc = &r->classes[c];
    uint32_t left = r->npages - r->next_page;
    if (left == 0 || (sc->npages > 0 && left <= r->classes_without_page))
        return false;
    if (sc->npages == 0 && r->classes_without_page > 0)
        r->classes_without_page--;
    uint32_t page = r->next_page++;
    sc->pages[sc->npages++] = page;
    r->page_class[page] = (uint8_t)c;
    sc->carve = page_start(page);
    sc->carve_end = page_end(r, page);
    if (sc->npages == 1)
        sc->hand_chunk = sc->carve;
    return true;
}

static uint32_t take_record(struct xdp_records *r, unsigned c)
{
    struct size_class *sc = &r->classes[c];
    if (sc->free) {
        uint32_t chunk = sc->free;
        sc->free = r->next_free[chunk];
        return chunk;
    }
    while (sc->carve + class_chunks[c] > sc->carve_end) {
        if (!grow_class(r, c))
            return 0;
    }
    uint32_t chunk = sc->carve;
    sc->carve += class_chunks[c];
    return chunk;
}

uint32_t xdp_records_alloc(struct xdp_records *r, uint32_t need, uint32_t owner)
{
    int c = class_of(need);
    if (c < 0)
        return 0;
    pthread_mutex_lock(&r->lock);
    uint32_t chunk = take_record(r, (unsigned)c);
    if (chunk)
        r->owner[chunk] = owner + 1;
    pthread_mutex_unlock(&r->lock);
    return chunk;
}

static void free_locked(struct xdp_records *r, uint32_t chunk)
{
    if (chunk == 0 || chunk >= r->nchunks || r->owner[chunk] == NO_OWNER)
        abort();        /* not a record handed out: a bug of the caller's */
    struct size_class *sc = &r->classes[r->page_class[chunk / XDP_RECORDS_PAGE_CHUNKS]];
    r->owner[chunk] = NO_OWNER;
    r->next_free[chunk] = sc->free;
    sc->free = chunk;
}

void xdp_records_free(struct xdp_records *r, uint32_t chunk)
{
    pthread_mutex_lock(&r->lock);
    free_locked(r, chunk);
    pthread_mutex_unlock(&r->lock);
}

/* The record after the hand's, wrapping over the class's carved records. */
static uint32_t hand_next(const struct xdp_records *r, struct size_class *sc, unsigned c)
{
    uint32_t size = class_chunks[c];
    uint32_t page = sc->pages[sc->hand_page];
    uint32_t end = sc->hand_page + 1 == sc->npages ? sc->carve : page_end(r, page);
    if (sc->hand_chunk + size > end) {
        sc->hand_page = (sc->hand_page + 1) % sc->npages;
        sc->hand_chunk = page_start(sc->pages[sc->hand_page]);
    }
    uint32_t chunk = sc->hand_chunk;
    sc->hand_chunk += size;
    return chunk;
}

bool xdp_records_reclaim(struct xdp_records *r, uint32_t need, unsigned tries,
                         bool (*evict)(void *ctx, uint32_t owner, uint32_t chunk), void *ctx)
{
    int c = class_of(need);
    bool freed = false;
    if (c < 0)
        return false;
    pthread_mutex_lock(&r->lock);
    struct size_class *sc = &r->classes[c];
    for (unsigned i = 0; i < tries && sc->npages && !freed; i++) {
        uint32_t chunk = hand_next(r, sc, (unsigned)c);
        if (r->owner[chunk] != NO_OWNER && evict(ctx, r->owner[chunk] - 1, chunk)) {
            free_locked(r, chunk);
            freed = true;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return freed;
}

struct xdp_records *xdp_records_create(uint32_t nchunks)
{
    if (nchunks < 2)
        return NULL;
    struct xdp_records *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->nchunks = nchunks;
    r->npages = (uint32_t)(((uint64_t)nchunks + XDP_RECORDS_PAGE_CHUNKS - 1) /
                           XDP_RECORDS_PAGE_CHUNKS);
    r->owner = calloc(nchunks, sizeof(*r->owner));
    r->next_free = calloc(nchunks, sizeof(*r->next_free));
    r->page_class = calloc(r->npages, 1);
    r->classes_without_page = r->npages >= 2 * NCLASSES ? NCLASSES : 0;
    bool ok = r->owner && r->next_free && r->page_class;
    for (unsigned c = 0; ok && c < NCLASSES; c++)
        ok = (r->classes[c].pages = calloc(r->npages, sizeof(uint32_t))) != NULL;
    if (!ok) {
        xdp_records_destroy(r);
        return NULL;
    }
    return r;
}

void xdp_records_destroy(struct xdp_records *r)
{
    if (!r)
        return;
    for (unsigned c = 0; c < NCLASSES; c++)
        free(r->classes[c].pages);
    free(r->owner);
    free(r->next_free);
    free(r->page_class);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
