/* lru_crawler.h - memcached's `lru_crawler` command over the text protocol,
 * with memcached 1.6.18's replies and errors.
 *
 * Here the crawler is the store's expiry reclaim (store_tick): `enable` and
 * `disable` switch it, `crawl` makes its next tick sweep every table whole,
 * `metadump` lists the items (keydump.h). `sleep` and `tocrawl` tune how
 * memcached's crawler thread paces itself; they are checked as memcached
 * checks them and have no effect (docs/differences.md). */
#ifndef XDPCACHED_LRU_CRAWLER_H
#define XDPCACHED_LRU_CRAWLER_H

struct text_request;

void lru_crawler_command(struct text_request *r);

#endif
