/* conn_report.h - `stats conns`: a row for every socket the server holds,
 * as memcached 1.6 prints them.
 *
 * The server and the connections add rows (each under its own lock, from
 * whatever thread asks); conn_rows_emit() sorts them by descriptor, as
 * memcached walks its connection table, and writes the STAT pairs. */
#ifndef XDPCACHED_CONN_REPORT_H
#define XDPCACHED_CONN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "clock.h"

struct stats_sink;

/* memcached's connection states that a socket can be seen in here. */
enum conn_shown_state {
    CONN_SHOWN_LISTENING,
    CONN_SHOWN_READ,        /* waiting for a request */
    CONN_SHOWN_PARSE_CMD,   /* running a request: the one asking, at least */
    CONN_SHOWN_NREAD,       /* waiting for the rest of a value */
    CONN_SHOWN_SWALLOW,     /* discarding a value it refused */
    CONN_SHOWN_MWRITE,      /* replies wait for room in the socket */
};

/* The socket a request came in on, and over UDP who sent it: that UDP
 * socket shows the sender and conn_parse_cmd, as memcached's does while it
 * serves the datagram. */
struct conn_requester {
    int fd;                         /* -1: no socket (unit tests) */
    const struct sockaddr *peer;    /* UDP only; NULL for TCP */
    socklen_t peer_len;
};

struct conn_row {
    int fd;
    bool udp;
    enum conn_shown_state state;
    rel_time_t idle;                        /* secs_since_last_cmd */
    struct sockaddr_storage addr;           /* what "addr" shows */
    struct sockaddr_storage listen_addr;    /* ss_family 0: no listen_addr row */
};

struct conn_rows {
    struct conn_row *items;
    size_t n, cap;
    bool oom;                       /* a row could not be added */
};

/* A row for descriptor fd with both addresses cleared, or NULL (and oom
 * set) when out of memory. */
struct conn_row *conn_rows_add(struct conn_rows *rows, int fd, bool udp,
                               enum conn_shown_state state, rel_time_t idle);

/* Writes "<fd>:UDP", "<fd>:addr", "<fd>:listen_addr", "<fd>:state" and
 * "<fd>:secs_since_last_cmd" per row, in descriptor order. */
void conn_rows_emit(struct conn_rows *rows, struct stats_sink *sink);

void conn_rows_free(struct conn_rows *rows);

/* memcached's text for a socket address: "tcp:1.2.3.4:11211",
 * "udp6:[::1]:11211", "unix:/path", and "?:<AF n>" for any other family. */
void conn_addr_text(const struct sockaddr_storage *addr, bool udp, char *out, size_t size);

#endif
