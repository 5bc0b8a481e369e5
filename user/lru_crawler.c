/* lru_crawler.c - see lru_crawler.h. */
#include "lru_crawler.h"

#include <stdint.h>
#include <string.h>

#include "keydump.h"
#include "store.h"
#include "text_common.h"
#include "text_parse.h"

/* memcached's limit for `lru_crawler sleep`, in microseconds. */
#define CRAWLER_SLEEP_MAX 1000000

static void crawl(struct text_request *r, struct store *store, char *classes)
{
    bool has_items;
    int listed;
    if (strcmp(classes, "hash") == 0) {
        /* memcached walks its hash table only to dump keys. */
        text_reply(r, "ERROR an unknown error happened");
    } else if ((listed = keydump_parse_classes(classes, &has_items)) < 0) {
        text_reply(r, "BADCLASS invalid class id");
    } else if (listed == 0) {
        /* memcached starts a crawl of every class listed, even an empty
         * one; ",," lists none. */
        text_reply(r, "NOTSTARTED no items to crawl");
    } else if (!store_request_crawl(store)) {
        text_reply(r, "BUSY currently processing crawler request");
    } else {
        text_reply(r, "OK");
    }
}

/* sleep and tocrawl: a number as memcached's safe_strtoul reads it. */
static void check_tuning(struct text_request *r, const char *arg, uint32_t max)
{
    uint32_t n;
    if (!text_parse_u32(arg, &n))
        text_reply(r, "CLIENT_ERROR bad command line format");
    else if (n > max)
        text_reply(r, "CLIENT_ERROR sleep must be one second or less");
    else
        text_reply(r, "OK");
}

/* Two-word forms: memcached's enable fails while its crawler runs; disable
 * always succeeds. */
static void switch_crawler(struct text_request *r, struct store *store, const char *word)
{
    if (strcmp(word, "enable") == 0) {
        if (store_crawler_enabled(store)) {
            text_reply(r, "ERROR failed to start lru crawler thread");
            return;
        }
        store_set_crawler(store, true);
        text_reply(r, "OK");
    } else if (strcmp(word, "disable") == 0) {
        store_set_crawler(store, false);
        text_reply(r, "OK");
    } else {
        text_reply(r, "ERROR");
    }
}

void lru_crawler_command(struct text_request *r)
{
    struct store *store = r->pc->env->store;
    struct text_token *t = r->p.tokens;
    /* Token counts include memcached's empty last token. */
    if (r->p.ntokens == 3) {
        switch_crawler(r, store, t[1].value);
        return;
    }
    if (r->p.ntokens != 4) {
        text_reply(r, "ERROR");
        return;
    }
    const char *verb = t[1].value;
    bool needs_crawler = strcmp(verb, "crawl") == 0 || strcmp(verb, "metadump") == 0;
    if (needs_crawler && !store_crawler_enabled(store))
        text_reply(r, "CLIENT_ERROR lru crawler disabled");
    else if (strcmp(verb, "crawl") == 0)
        crawl(r, store, t[2].value);
    else if (strcmp(verb, "metadump") == 0)
        keydump_metadump(r, t[2].value);
    else if (strcmp(verb, "tocrawl") == 0)
        check_tuning(r, t[2].value, UINT32_MAX);
    else if (strcmp(verb, "sleep") == 0)
        check_tuning(r, t[2].value, CRAWLER_SLEEP_MAX);
    else
        text_reply(r, "ERROR");
}
