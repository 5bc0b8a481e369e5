/* tuning.h - memcached's commands that tune its slab allocator and LRU at
 * run time, `slabs automove|reassign` and `lru tune|mode|temp_ttl`, with
 * memcached 1.6.18's replies and checks (text_parse.c checks the
 * arguments).
 *
 * xdpcached has neither slab classes nor a segmented LRU (the store is one
 * class, 1, evicting by CLOCK), so a valid setting answers OK and changes
 * nothing, and `slabs reassign` answers as memcached would with class 1 its
 * only class and no page to spare (docs/differences.md). */
#ifndef XDPCACHED_TUNING_H
#define XDPCACHED_TUNING_H

struct text_request;

/* Replies to a REQ_TUNING or REQ_SLABS_REASSIGN request. */
void tuning_command(struct text_request *r);

#endif
