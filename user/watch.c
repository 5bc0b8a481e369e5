/* watch.c - see watch.h.
 *
 * One lock for the hub: watchers come and go rarely, and a line is queued
 * under it, so what a watcher is sent keeps the order the events were
 * logged in. A line is formatted before the lock is taken. Lines are sent
 * by the thread that logs them, as far as the socket takes them; what is
 * left goes out with the next line or the server's next tick. */
#include "watch.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "endpoint.h"
#include "store.h"

/* A key's bytes URI-encoded, as memcached writes it: 3 bytes each at most. */
#define WATCH_KEY_TEXT (STORE_KEY_MAX * 3 + 1)
#define WATCH_LINE_MAX (WATCH_KEY_TEXT + 256)

struct watcher {
    int fd;                     /* -1: free */
    unsigned kinds;
    bool started;               /* its connection's earlier replies are out */
    bool broken;                /* a send failed: its connection is closing */
    char *buf;                  /* lines not sent yet: buf[head, head + len) */
    size_t head, len;
    uint64_t skipped;           /* lines lost to a full buffer, not told yet */
};

struct watch_hub {
    struct watch_wants wants;   /* first: watch_wanted() reads it */
    pthread_mutex_t lock;
    size_t buffer_bytes;
    _Atomic uint64_t next_gid;
    uint64_t sent, skipped;     /* lines queued, and lost, since the last reset */
    struct watcher watchers[WATCH_LIMIT];
};

struct watch_hub *watch_hub_create(size_t buffer_bytes)
{
    struct watch_hub *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return NULL;
    pthread_mutex_init(&hub->lock, NULL);
    hub->buffer_bytes = buffer_bytes;
    for (unsigned i = 0; i < WATCH_LIMIT; i++)
        hub->watchers[i].fd = -1;
    return hub;
}

void watch_hub_destroy(struct watch_hub *hub)
{
    if (!hub)
        return;
    for (unsigned i = 0; i < WATCH_LIMIT; i++)
        free(hub->watchers[i].buf);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

/* Under the lock: the union of what the watchers want. */
static void update_wants(struct watch_hub *hub)
{
    unsigned kinds = 0;
    for (unsigned i = 0; i < WATCH_LIMIT; i++)
        if (hub->watchers[i].fd >= 0 && !hub->watchers[i].broken)
            kinds |= hub->watchers[i].kinds;
    atomic_store_explicit(&hub->wants.kinds, kinds, memory_order_relaxed);
}

static struct watcher *find(struct watch_hub *hub, int fd)
{
    for (unsigned i = 0; i < WATCH_LIMIT; i++)
        if (hub->watchers[i].fd == fd)
            return &hub->watchers[i];
    return NULL;
}

/* Copies a line in whole, or not at all. */
static bool put(struct watch_hub *hub, struct watcher *w, const char *line, size_t n)
{
    if (hub->buffer_bytes - w->len < n)
        return false;
    if (w->head + w->len + n > hub->buffer_bytes) {
        memmove(w->buf, w->buf + w->head, w->len);
        w->head = 0;
    }
    memcpy(w->buf + w->head + w->len, line, n);
    w->len += n;
    return true;
}

/* memcached tells of lost lines before the next line it can queue. */
static void queue(struct watch_hub *hub, struct watcher *w, const char *line, size_t n)
{
    if (w->skipped > 0) {
        char note[40];
        int len = snprintf(note, sizeof(note), "skipped=%llu\n", (unsigned long long)w->skipped);
        if (!put(hub, w, note, (size_t)len)) {
            w->skipped++;
            hub->skipped++;
            return;
        }
        w->skipped = 0;
    }
    if (put(hub, w, line, n)) {
        hub->sent++;
    } else {
        w->skipped++;
        hub->skipped++;
    }
}

static void send_queued(struct watch_hub *hub, struct watcher *w)
{
    while (w->started && !w->broken && w->len > 0) {
        ssize_t n = send(w->fd, w->buf + w->head, w->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                w->broken = true; /* the connection sees its peer gone and closes */
                update_wants(hub);
            }
            return;
        }
        w->head += (size_t)n;
        w->len -= (size_t)n;
    }
    if (w->len == 0)
        w->head = 0;
}

bool watch_add(struct watch_hub *hub, int fd, unsigned kinds)
{
    pthread_mutex_lock(&hub->lock);
    struct watcher *w = find(hub, -1);
    char *buf = w ? malloc(hub->buffer_bytes) : NULL;
    if (buf) {
        *w = (struct watcher){ .fd = fd, .kinds = kinds, .buf = buf };
        put(hub, w, "OK\r\n", 4); /* not a log line: not counted as sent */
        update_wants(hub);
    }
    pthread_mutex_unlock(&hub->lock);
    return buf != NULL;
}

void watch_start(struct watch_hub *hub, int fd)
{
    pthread_mutex_lock(&hub->lock);
    struct watcher *w = find(hub, fd);
    if (w) {
        w->started = true;
        send_queued(hub, w);
    }
    pthread_mutex_unlock(&hub->lock);
}

void watch_remove(struct watch_hub *hub, int fd)
{
    if (!hub)
        return;
    pthread_mutex_lock(&hub->lock);
    struct watcher *w = find(hub, fd);
    if (w) {
        free(w->buf);
        *w = (struct watcher){ .fd = -1 };
        update_wants(hub);
    }
    pthread_mutex_unlock(&hub->lock);
}

void watch_flush(struct watch_hub *hub)
{
    if (!watch_wanted(hub, ~0u))
        return;
    pthread_mutex_lock(&hub->lock);
    for (unsigned i = 0; i < WATCH_LIMIT; i++)
        if (hub->watchers[i].fd >= 0)
            send_queued(hub, &hub->watchers[i]);
    pthread_mutex_unlock(&hub->lock);
}

void watch_get_stats(struct watch_hub *hub, struct watch_stats *out)
{
    pthread_mutex_lock(&hub->lock);
    *out = (struct watch_stats){ .sent = hub->sent, .skipped = hub->skipped };
    for (unsigned i = 0; i < WATCH_LIMIT; i++)
        out->watchers += hub->watchers[i].fd >= 0;
    pthread_mutex_unlock(&hub->lock);
}

void watch_reset_stats(struct watch_hub *hub)
{
    pthread_mutex_lock(&hub->lock);
    hub->sent = hub->skipped = 0;
    pthread_mutex_unlock(&hub->lock);
}

/* "ts=<s>.<us> gid=<n> " and the event's text, then to each watcher that
 * wants kind. */
static void publish(struct watch_hub *hub, unsigned kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void publish(struct watch_hub *hub, unsigned kind, const char *fmt, ...)
{
    char line[WATCH_LINE_MAX];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t gid = atomic_fetch_add_explicit(&hub->next_gid, 1, memory_order_relaxed);
    int n = snprintf(line, sizeof(line), "ts=%lld.%d gid=%llu ", (long long)tv.tv_sec,
                     (int)tv.tv_usec, (unsigned long long)gid);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

    pthread_mutex_lock(&hub->lock);
    for (unsigned i = 0; i < WATCH_LIMIT; i++) {
        struct watcher *w = &hub->watchers[i];
        if (w->fd < 0 || w->broken || !(w->kinds & kind))
            continue;
        queue(hub, w, line, len);
        send_queued(hub, w);
    }
    pthread_mutex_unlock(&hub->lock);
}

/* memcached's uriencode: letters, digits and -._~ stay, the rest is %XX. */
static void uri_key(const char *key, size_t nkey, char out[WATCH_KEY_TEXT])
{
    static const char hex[] = "0123456789ABCDEF";
    size_t d = 0;
    for (size_t i = 0; i < nkey && i < STORE_KEY_MAX; i++) {
        unsigned char c = (unsigned char)key[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[d++] = (char)c;
        } else {
            out[d++] = '%';
            out[d++] = hex[c >> 4];
            out[d++] = hex[c & 15];
        }
    }
    out[d] = '\0';
}

void watch_log_fetch(struct watch_hub *hub, const char *key, size_t nkey,
                     enum watch_fetch status, size_t nvalue, int fd)
{
    static const char *const names[] = { "not_found", "found", "flushed", "expired" };
    if (!watch_wanted(hub, WATCH_FETCHERS))
        return;
    char text[WATCH_KEY_TEXT];
    uri_key(key, nkey, text);
    bool found = status == WATCH_FOUND;
    publish(hub, WATCH_FETCHERS, "type=item_get key=%s status=%s clsid=%u cfd=%d size=%zu\n",
            text, names[status], found ? 1u : 0u, fd, found ? nvalue : 0);
}

void watch_log_store(struct watch_hub *hub, const char *key, size_t nkey, const char *status,
                     const char *cmd, uint32_t ttl, size_t nvalue, int fd)
{
    if (!watch_wanted(hub, WATCH_MUTATIONS))
        return;
    /* memcached logs the class of the item it made, none when it made none */
    bool allocated = strcmp(status, "too_large") != 0 && strcmp(status, "no_memory") != 0;
    char text[WATCH_KEY_TEXT];
    uri_key(key, nkey, text);
    publish(hub, WATCH_MUTATIONS,
            "type=item_store key=%s status=%s cmd=%s ttl=%u clsid=%u cfd=%d size=%zu\n", text,
            status, cmd, ttl, allocated ? 1u : 0u, fd, nvalue);
}

void watch_log_eviction(struct watch_hub *hub, const char *key, size_t nkey, bool fetched,
                        long long ttl, unsigned last_access, size_t nvalue)
{
    if (!watch_wanted(hub, WATCH_EVICTIONS))
        return;
    char text[WATCH_KEY_TEXT];
    uri_key(key, nkey, text);
    publish(hub, WATCH_EVICTIONS,
            "type=eviction key=%s fetch=%s ttl=%lld la=%u clsid=1 size=%zu\n", text,
            fetched ? "yes" : "no", ttl, last_access, nvalue);
}

void watch_log_conn(struct watch_hub *hub, const struct sockaddr_storage *peer, bool local,
                    const char *reason, int fd)
{
    if (!watch_wanted(hub, WATCH_CONNEVENTS))
        return;
    /* memcached names any peer that is not IP (unix, unknown) "unix", port 0 */
    char rip[ENDPOINT_HOST_MAX] = "unix";
    unsigned port = 0;
    if (peer)
        endpoint_of(peer, rip, &port);
    const char *transport = local ? "local" : "tcp";
    if (reason)
        publish(hub, WATCH_CONNEVENTS,
                "type=conn_close rip=%s rport=%u transport=%s reason=%s cfd=%d\n", rip, port,
                transport, reason, fd);
    else
        publish(hub, WATCH_CONNEVENTS, "type=conn_new rip=%s rport=%u transport=%s cfd=%d\n",
                rip, port, transport, fd);
}
