/* watch.h - memcached's `watch`: log lines streamed to the connections
 * that asked for them.
 *
 * A watcher names the kinds of events it wants. Whoever makes an event
 * (a worker running a get, the store evicting, a connection opening) calls
 * a watch_log_* function, which costs one relaxed load when no watcher
 * wants that kind; otherwise it writes memcached 1.6's line for the event
 * into each interested watcher's buffer and sends what the socket takes.
 * A watcher whose buffer is full loses lines and is told how many
 * ("skipped=N"), as in memcached: a slow reader never holds up the server
 * or makes it hold more than -o watcher_logbuf_size per watcher. */
#ifndef XDPCACHED_WATCH_H
#define XDPCACHED_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum watch_kind {
    WATCH_FETCHERS = 1u << 0,   /* item_get: lookups by get, gets, gat, gats, touch, mg */
    WATCH_MUTATIONS = 1u << 1,  /* item_store: set, add, replace, append, prepend, cas, ms */
    WATCH_EVICTIONS = 1u << 2,  /* eviction */
    WATCH_CONNEVENTS = 1u << 3, /* conn_new, conn_close */
};

#define WATCH_LIMIT 20          /* memcached's WATCHER_LIMIT */

/* What every event checks first: the kinds some watcher wants. */
struct watch_wants {
    _Atomic unsigned kinds;
};

struct watch_hub;

struct watch_hub *watch_hub_create(size_t buffer_bytes);
void watch_hub_destroy(struct watch_hub *hub);

static inline bool watch_wanted(const struct watch_hub *hub, unsigned kinds)
{
    /* struct watch_hub begins with its struct watch_wants */
    return hub && (atomic_load_explicit(&((const struct watch_wants *)hub)->kinds,
                                        memory_order_relaxed) & kinds);
}

/* `watch`: makes fd a watcher of kinds. Its lines, "OK" first, wait in its
 * buffer until watch_start(). False when WATCH_LIMIT watchers exist. */
bool watch_add(struct watch_hub *hub, int fd, unsigned kinds);

/* The connection's replies before `watch` are sent: its lines may follow. */
void watch_start(struct watch_hub *hub, int fd);

/* Before fd is closed: it watches no more. Nothing when it never did. */
void watch_remove(struct watch_hub *hub, int fd);

/* Sends what waits in every buffer (the server's tick). */
void watch_flush(struct watch_hub *hub);

/* memcached's log_watcher_sent, log_watcher_skipped (both since the last
 * `stats reset`) and log_watchers. */
struct watch_stats {
    uint64_t sent, skipped;
    unsigned watchers;
};

void watch_get_stats(struct watch_hub *hub, struct watch_stats *out);
void watch_reset_stats(struct watch_hub *hub);

/* memcached's item_get statuses. */
enum watch_fetch { WATCH_NOT_FOUND, WATCH_FOUND, WATCH_FLUSHED, WATCH_EXPIRED };

void watch_log_fetch(struct watch_hub *hub, const char *key, size_t nkey,
                     enum watch_fetch status, size_t nvalue, int fd);

/* status and cmd are memcached's words: "stored", "not_stored", "exists",
 * "not_found", "too_large", "no_memory"; "set", "add", "replace",
 * "append", "prepend", "cas". ttl is seconds left, 0 for none. */
void watch_log_store(struct watch_hub *hub, const char *key, size_t nkey, const char *status,
                     const char *cmd, uint32_t ttl, size_t nvalue, int fd);

/* ttl is seconds left, -1 for none; last_access seconds since the last read. */
void watch_log_eviction(struct watch_hub *hub, const char *key, size_t nkey, bool fetched,
                        long long ttl, unsigned last_access, size_t nvalue);

/* reason: "normal", "error", "idle_timeout" or "shutdown" for a close;
 * NULL for a new connection. peer may be NULL (unknown). */
void watch_log_conn(struct watch_hub *hub, const struct sockaddr_storage *peer, bool local,
                    const char *reason, int fd);

#endif
