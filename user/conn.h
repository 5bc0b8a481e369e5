/* conn.h - the TCP connections of one worker thread.
 *
 * A worker owns a conn_set: every connection it serves lives there from
 * accept to close and is only ever touched by that worker's thread.
 * Every epoll entry of the server points at a struct ev_source (the first
 * member of whatever owns the descriptor), so one loop can serve
 * connections, UDP sockets and a wake-up eventfd together. */
#ifndef XDPCACHED_CONN_H
#define XDPCACHED_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "conn_report.h"
#include "obuf.h"
#include "proto.h"

enum ev_kind { EV_NOTIFY, EV_LISTEN, EV_UDP, EV_TCP };

/* What epoll_event.data.ptr points at. */
struct ev_source {
    enum ev_kind kind;
    int fd;
};

/* Intrusive doubly linked list; a node with next == NULL is in no list. */
struct list_node {
    struct list_node *prev, *next;
};

struct conn_set {
    const struct proto_env *env;
    struct thread_stats *stats;     /* the worker's counters */
    int epfd;                       /* the worker's epoll instance */
    struct list_node all;           /* every open connection */
    struct list_node yielded;       /* connections that used up their turn with
                                       requests still buffered */
    char *spare_in;                 /* one cached input buffer of the initial size */
    struct obuf spare_out;          /* one cached, empty output buffer */
    /* Held by the worker while it links, unlinks or closes a connection, and
     * by conn_set_report() from any thread: the list and every descriptor in
     * it stay as they are while it reads them. */
    pthread_mutex_t roster_lock;
};

void conn_set_init(struct conn_set *set, const struct proto_env *env,
                   struct thread_stats *stats, int epfd);

/* Takes over an accepted, non-blocking socket that the acceptor has already
 * counted in curr_connections. On failure the socket is closed (and
 * uncounted) and false returned. */
bool conn_open(struct conn_set *set, int fd);

/* Serves an epoll event of a connection (src->kind == EV_TCP). */
void conn_on_event(struct ev_source *src, uint32_t events);

/* Gives every connection that yielded its next turn. */
void conn_set_run_yielded(struct conn_set *set);

static inline bool conn_set_has_yielded(const struct conn_set *set)
{
    return set->yielded.next != &set->yielded;
}

/* What a connection (or a UDP worker's queued replies) may always hold,
 * whatever --buffer-memory says: enough to serve ordinary requests, so that
 * a full budget slows connections rather than stopping them all. */
#define CONN_MEMORY_FREE (64 * 1024)

/* Whether one holding `held` bytes of buffers is over its share of
 * --buffer-memory: beyond CONN_MEMORY_FREE, the budget split evenly over
 * the open connections, and nothing once all of it is taken. */
bool conn_buffers_over_share(const struct proto_env *env, size_t held);

/* Adds a row per connection for `stats conns`; safe from any thread.
 * False when out of memory. */
bool conn_set_report(struct conn_set *set, const struct conn_requester *requester,
                     struct conn_rows *rows);

/* Closes connections idle for more than timeout seconds (0 = never). */
void conn_set_close_idle(struct conn_set *set, rel_time_t now, unsigned timeout);

/* Closes every connection and frees what the set holds. */
void conn_set_close_all(struct conn_set *set);

#endif
