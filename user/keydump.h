/* keydump.h - memcached's key listings, over the text protocol:
 * `stats cachedump <class> <limit>` and `lru_crawler metadump
 * all|hash|<class list>`, with memcached 1.6.18's replies and errors.
 *
 * The store has no slab classes: every item is in class 1, as `stats items`
 * says. Items are listed in the store's table order (memcached lists
 * cachedump by LRU, metadump by LRU or hash table). -X turns both off. */
#ifndef XDPCACHED_KEYDUMP_H
#define XDPCACHED_KEYDUMP_H

#include <stdbool.h>

struct text_request;

/* `stats cachedump ...` (the request's tokens start with stats). */
void keydump_cachedump(struct text_request *r);

/* `lru_crawler metadump <classes>`, once the crawler is known to be on. */
void keydump_metadump(struct text_request *r, char *classes);

/* A class argument of memcached's: "all", "hash", or a comma-separated list
 * of ids 1..63 (empty items skipped, as strtok does). Returns how many
 * classes it names (all 63 for "all" and "hash"), -1 for a bad list;
 * *has_items says whether class 1, which holds every item, is among them.
 * Consumes arg (strtok). */
int keydump_parse_classes(char *arg, bool *has_items);

#endif
