/* stats.h - counters behind `stats`.
 *
 * Each worker thread owns a struct thread_stats and is its only writer, so
 * counting is a plain add; `stats` sums all threads with relaxed loads.
 * `stats reset` never writes another thread's counters: it records the
 * current sums as a baseline that later reports subtract.
 * Process-wide connection counters are atomics in struct server_stats. */
#ifndef XDPCACHED_STATS_H
#define XDPCACHED_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* X-macro: memcached's per-thread counters, in the order `stats` prints them. */
#define THREAD_STATS_FIELDS(X) \
    X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch) X(cmd_meta) \
    X(get_hits) X(get_misses) X(get_expired) \
    X(delete_misses) X(delete_hits) \
    X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits) \
    X(cas_misses) X(cas_hits) X(cas_badval) \
    X(touch_hits) X(touch_misses) \
    X(store_too_large) X(store_no_memory) X(auth_cmds) X(auth_errors) X(idle_kicks) \
    X(bytes_read) X(bytes_written) X(conn_yields)

/* Counters memcached does not have, printed only when UDP is on:
 * datagrams dropped because their source is outside --udp-allow. */
#define THREAD_STATS_UDP_FIELDS(X) X(udp_disallowed)

#define THREAD_STATS_ALL_FIELDS(X) THREAD_STATS_FIELDS(X) THREAD_STATS_UDP_FIELDS(X)

struct thread_stats {
#define X(name) uint64_t name;
    THREAD_STATS_ALL_FIELDS(X)
#undef X
    /* Not a counter: what the worker's connections hold in buffers and
     * unsent replies now (conn.c; --buffer-memory bounds the sum). One
     * per worker, so that no cache line is shared by every request. */
    uint64_t conn_memory;
};

/* Single writer: a relaxed store keeps concurrent readers race-free. */
#define STAT_ADD(ts, field, n) \
    __atomic_store_n(&(ts)->field, (ts)->field + (n), __ATOMIC_RELAXED)
#define STAT_INC(ts, field) STAT_ADD(ts, field, 1)

struct conn_requester;
struct conn_rows;
struct fastpath;

struct server_stats {
    _Atomic uint64_t curr_connections;
    _Atomic uint64_t total_connections;
    _Atomic uint64_t rejected_connections;
    _Atomic uint64_t connection_structures;
    _Atomic uint64_t listen_disabled_num; /* times accepting stopped at -c */
    /* microseconds accepting was stopped, counted when it resumes (as
     * memcached counts it) */
    _Atomic uint64_t time_in_listen_disabled_us;
    _Atomic bool accepting_conns;    /* false while stopped at -c */
    struct thread_stats **threads;   /* one per worker */
    unsigned nthreads;
    pthread_mutex_t reset_lock;      /* guards baseline */
    struct thread_stats baseline;    /* sums at the last stats reset */
    struct fastpath *fastpath;       /* the XDP fast path when it is up, else
                                        NULL; keeps its own reset baseline */
    /* Called by stats_reset() with fastpath when that is not NULL (main.c
     * sets fastpath_reset_stats): stats knows nothing of the fast path. */
    void (*reset_fastpath)(struct fastpath *fastpath);
    /* `stats conns`: adds a row per socket the server holds; false when out
     * of memory. server.c installs it; without it (unit tests) there are no
     * rows. */
    bool (*report_conns)(void *ctx, const struct conn_requester *requester,
                         struct conn_rows *rows);
    void *report_conns_ctx;
};

/* Where stat lines go: the text protocol writes "STAT name value\r\n". */
struct stats_sink {
    void (*emit)(struct stats_sink *sink, const char *name, const char *value);
};

/* printf-style helper around sink->emit. */
void stats_emitf(struct stats_sink *sink, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sum of all threads' counters since the last reset. */
void stats_sum_threads(struct server_stats *server, struct thread_stats *sum);

/* stats reset: counters, the fast path's included, start again from zero. */
void stats_reset(struct server_stats *server);

#endif
