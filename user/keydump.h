/* keydump.h - memcached's key listings, over the text protocol:
 * `stats cachedump <class> <limit>` and `lru_crawler metadump
 * all|hash|<class list>`, with memcached 1.6.18's replies and errors.
 *
 * The store has no slab classes: every item is in class 1, as `stats items`
 * says. Items are listed in the store's table order (memcached lists
 * cachedump by LRU, metadump by LRU or hash table). -X turns both off. */
#ifndef XDPCACHED_KEYDUMP_H
#define XDPCACHED_KEYDUMP_H

struct text_request;

/* `stats cachedump ...` (the request's tokens start with stats). */
void keydump_cachedump(struct text_request *r);

/* The `lru_crawler` command: metadump; other sub-commands answer ERROR. */
void keydump_lru_crawler(struct text_request *r);

#endif
