/* keydump.c - see keydump.h. Walks the store with store_walk() and writes
 * the lines into the request's output. */
#include "keydump.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "obuf.h"
#include "text_common.h"
#include "settings.h"
#include "store.h"

/* memcached's slab class ids are 1 .. 63; its check is id < 64. */
#define SLAB_CLASS_LIMIT 64
/* The one class every item is reported in. */
#define ITEM_CLASS 1
/* memcached builds a cachedump in a 2 MB buffer, END included, and stops
 * listing when the next line would not fit. */
#define CACHEDUMP_BYTES_MAX (2u << 20)

/* A line: "ITEM " + key + " [" value bytes " b; " exptime " s]\r\n". */
#define CACHEDUMP_LINE_MAX (STORE_KEY_MAX + 64)
/* A line: "key=" + the key uri-encoded (3 bytes per byte at most) + fields. */
#define METADUMP_LINE_MAX (3 * STORE_KEY_MAX + 160)

struct dump {
    struct store *store;
    struct obuf *out;
    size_t written;         /* cachedump: bytes listed so far */
    uint32_t limit;         /* cachedump: items to list, 0 = all */
    uint32_t listed;
};

/* A relative time as the unix time memcached prints. */
static unsigned long long unix_time(rel_time_t t)
{
    return (unsigned long long)clock_process_started() + t;
}

static bool dump_enabled(const struct text_request *r)
{
    return r->pc->env->settings->dump_enabled;
}

static bool cachedump_line(void *ctx, const struct item_view *item)
{
    struct dump *d = ctx;
    char line[CACHEDUMP_LINE_MAX];
    int len = snprintf(line, sizeof line, "ITEM %.*s [%zu b; %llu s]\r\n", (int)item->nkey,
                       item->key, item->nvalue,
                       item->exptime == 0 ? 0ULL : unix_time(item->exptime));
    if (d->written + (size_t)len + sizeof "END\r\n" > CACHEDUMP_BYTES_MAX)
        return false;
    obuf_append(d->out, line, (size_t)len);
    d->written += (size_t)len;
    return ++d->listed != d->limit;
}

void keydump_cachedump(struct text_request *r)
{
    uint32_t id, limit;
    if (!dump_enabled(r)) {
        text_reply(r, "CLIENT_ERROR stats cachedump not allowed");
        return;
    }
    if (r->p.ntokens < 5) {
        text_reply(r, "CLIENT_ERROR bad command line");
        return;
    }
    if (!text_parse_u32(r->p.tokens[2].value, &id) || !text_parse_u32(r->p.tokens[3].value, &limit)) {
        text_reply(r, "CLIENT_ERROR bad command line format");
        return;
    }
    if (id >= SLAB_CLASS_LIMIT) {
        text_reply(r, "CLIENT_ERROR Illegal slab id");
        return;
    }
    struct dump d = { .store = r->pc->env->store, .out = r->out, .limit = limit };
    if (id == ITEM_CLASS)
        store_walk(d.store, cachedump_line, &d);
    obuf_append(r->out, "END\r\n", 5);
}

/* memcached's uriencode: every byte but letters, digits and "-._~" as %XX. */
static size_t uri_encode(const char *key, size_t nkey, char *to)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < nkey; i++) {
        unsigned char c = (unsigned char)key[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            to[n++] = (char)c;
        } else {
            to[n++] = '%';
            to[n++] = hex[c >> 4];
            to[n++] = hex[c & 15];
        }
    }
    return n;
}

static bool metadump_line(void *ctx, const struct item_view *item)
{
    struct dump *d = ctx;
    char line[METADUMP_LINE_MAX];
    size_t len = 4;
    memcpy(line, "key=", len);
    len += uri_encode(item->key, item->nkey, line + len);
    long long exp = item->exptime == 0 ? -1 : (long long)unix_time(item->exptime);
    len += (size_t)snprintf(line + len, sizeof line - len,
                            " exp=%lld la=%llu cas=%llu fetch=%s cls=%d size=%zu\n", exp,
                            unix_time(item->last_access), (unsigned long long)item->cas,
                            item->fetched ? "yes" : "no", ITEM_CLASS,
                            store_memcached_item_size(d->store, item));
    obuf_append(d->out, line, len);
    return true;
}

int keydump_parse_classes(char *arg, bool *has_items)
{
    if (strcmp(arg, "all") == 0 || strcmp(arg, "hash") == 0) {
        *has_items = true;
        return SLAB_CLASS_LIMIT - 1;
    }
    *has_items = false;
    int listed = 0;
    char *save = NULL;
    for (char *id = strtok_r(arg, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        uint32_t n;
        if (!text_parse_u32(id, &n) || n < 1 || n >= SLAB_CLASS_LIMIT)
            return -1;
        *has_items |= n == ITEM_CLASS;
        listed++;
    }
    return listed;
}

void keydump_metadump(struct text_request *r, char *classes)
{
    bool has_items;
    if (!dump_enabled(r)) {
        text_reply(r, "ERROR metadump not allowed");
        return;
    }
    int listed = keydump_parse_classes(classes, &has_items);
    if (listed < 0) {
        text_reply(r, "BADCLASS invalid class id");
        return;
    }
    if (listed == 0) {
        text_reply(r, "NOTSTARTED no items to crawl");
        return;
    }
    struct dump d = { .store = r->pc->env->store, .out = r->out };
    if (has_items)
        store_walk(d.store, metadump_line, &d);
    obuf_append(r->out, "END\r\n", 5);
}
