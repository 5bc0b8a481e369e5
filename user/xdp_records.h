/* xdp_records.h - where records live in the fast path's values map
 * (shared/xdp_cache.h): a size-class allocator of runs of 64-byte chunks.
 *
 * The map is cut into pages of XDP_RECORDS_PAGE_CHUNKS chunks; a page is
 * given to one size class the first time that class needs room, and carved
 * into records of that class's size for as long as the map lives (as
 * memcached's slabs without reassignment); when there are at least twice
 * as many pages as classes, the last pages are kept for the classes that
 * have none yet. So a record's first chunk is always a record's first chunk, and the seq word the XDP program reads
 * there is never overwritten by text (xdp_cache.h). Chunk 0 is never handed
 * out: a slot whose chunk is 0 is empty.
 *
 * Knows nothing of keys. Each record carries an owner (a number the caller
 * chooses: the mirror's slot) so that, when a class is full, the caller can
 * be offered victims. Thread-safe: one mutex, taken after any lock of the
 * caller's. */
#ifndef XDPCACHED_XDP_RECORDS_H
#define XDPCACHED_XDP_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#define XDP_RECORDS_PAGE_CHUNKS 1024

struct xdp_records;

/* NULL when out of memory or nchunks < 2. */
struct xdp_records *xdp_records_create(uint32_t nchunks);
void xdp_records_destroy(struct xdp_records *r);

/* The chunks of the smallest class that holds a record of `need` chunks;
 * 0 when none does (need > XDP_RECORD_CHUNKS_MAX). */
uint32_t xdp_records_class_chunks(uint32_t need);

/* A free record of the class that holds `need` chunks, owned by `owner`:
 * its first chunk, or 0 when the class has none and no page is left. */
uint32_t xdp_records_alloc(struct xdp_records *r, uint32_t need, uint32_t owner);

/* Gives back the record at chunk (from xdp_records_alloc). */
void xdp_records_free(struct xdp_records *r, uint32_t chunk);

/* When the class that holds `need` chunks is full: offers its records in
 * turn (a clock hand per class, so each call goes on where the last one
 * stopped), at most `tries` of them, to evict(ctx, owner, chunk), which
 * returns true when the owner gave up its record at chunk; the record is
 * then free. Returns true once one was. evict() runs under the allocator's
 * lock, so it must call nothing of this module. */
bool xdp_records_reclaim(struct xdp_records *r, uint32_t need, unsigned tries,
                         bool (*evict)(void *ctx, uint32_t owner, uint32_t chunk), void *ctx);

#endif
