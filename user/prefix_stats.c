/* prefix_stats.c - see prefix_stats.h. A mutex-protected chained hash table:
 * detail stats are a debugging aid, off by default, so simplicity wins. */
#include "prefix_stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define PREFIX_BUCKETS 256

struct prefix_entry {
    struct prefix_entry *next;
    struct prefix_counts counts;
    size_t len;
    char prefix[];
};

struct prefix_stats {
    pthread_mutex_t lock;
    char delimiter;
    bool enabled;
    size_t nentries;
    struct prefix_entry *buckets[PREFIX_BUCKETS];
};

struct prefix_stats *prefix_stats_create(char delimiter)
{
    struct prefix_stats *ps = calloc(1, sizeof(*ps));
    if (ps) {
        pthread_mutex_init(&ps->lock, NULL);
        ps->delimiter = delimiter;
    }
    return ps;
}

void prefix_stats_destroy(struct prefix_stats *ps)
{
    if (!ps)
        return;
    prefix_stats_clear(ps);
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}

void prefix_stats_enable(struct prefix_stats *ps, bool on)
{
    __atomic_store_n(&ps->enabled, on, __ATOMIC_RELAXED);
}

/* Under the lock. NULL when out of memory: that event goes uncounted. */
static struct prefix_entry *find_or_add(struct prefix_stats *ps, const char *prefix, size_t len)
{
    struct prefix_entry **bucket = &ps->buckets[hash64(prefix, len, 0) % PREFIX_BUCKETS];
    for (struct prefix_entry *e = *bucket; e; e = e->next) {
        if (e->len == len && memcmp(e->prefix, prefix, len) == 0)
            return e;
    }
    struct prefix_entry *e = calloc(1, sizeof(*e) + len);
    if (!e)
        return NULL;
    memcpy(e->prefix, prefix, len);
    e->len = len;
    e->next = *bucket;
    *bucket = e;
    ps->nentries++;
    return e;
}

void prefix_stats_record(struct prefix_stats *ps, const char *key, size_t nkey,
                         enum prefix_event event)
{
    if (!__atomic_load_n(&ps->enabled, __ATOMIC_RELAXED))
        return;
    const char *delimiter = memchr(key, ps->delimiter, nkey);
    if (!delimiter)
        return;
    pthread_mutex_lock(&ps->lock);
    struct prefix_entry *e = find_or_add(ps, key, (size_t)(delimiter - key));
    if (e) {
        struct prefix_counts *c = &e->counts;
        c->gets += event == PREFIX_GET_MISS || event == PREFIX_GET_HIT;
        c->hits += event == PREFIX_GET_HIT;
        c->sets += event == PREFIX_SET;
        c->deletes += event == PREFIX_DELETE;
    }
    pthread_mutex_unlock(&ps->lock);
}

void prefix_stats_clear(struct prefix_stats *ps)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < PREFIX_BUCKETS; i++) {
        for (struct prefix_entry *e = ps->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
        ps->buckets[i] = NULL;
    }
    ps->nentries = 0;
    pthread_mutex_unlock(&ps->lock);
}

static int by_prefix(const void *a, const void *b)
{
    const struct prefix_entry *x = *(struct prefix_entry *const *)a;
    const struct prefix_entry *y = *(struct prefix_entry *const *)b;
    int c = memcmp(x->prefix, y->prefix, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

bool prefix_stats_foreach(struct prefix_stats *ps, prefix_fn fn, void *ctx)
{
    pthread_mutex_lock(&ps->lock);
    struct prefix_entry **sorted = malloc((ps->nentries + 1) * sizeof(*sorted));
    size_t n = 0;
    for (size_t i = 0; sorted && i < PREFIX_BUCKETS; i++) {
        for (struct prefix_entry *e = ps->buckets[i]; e; e = e->next)
            sorted[n++] = e;
    }
    if (sorted) {
        qsort(sorted, n, sizeof(*sorted), by_prefix);
        for (size_t i = 0; i < n; i++)
            fn(ctx, sorted[i]->prefix, sorted[i]->len, &sorted[i]->counts);
    }
    pthread_mutex_unlock(&ps->lock);
    free(sorted);
    return sorted != NULL;
}
