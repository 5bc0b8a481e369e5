/* proto.h - what every wire protocol shares: a connection's protocol state
 * (the server-wide environment, struct proto_env, is the executor's: exec.h), and the one entry point through which
 * request bytes reach a protocol (protocol_run_one).
 *
 * Knows nothing of sockets: conn.c (TCP) and udp.c hand in bytes and an
 * output buffer. */
#ifndef XDPCACHED_PROTO_H
#define XDPCACHED_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn_report.h"
#include "exec.h"
#include "obuf.h"
#include "request.h"
#include "store.h"

struct thread_stats;

/* A storage command (set, add, ...) whose line was read, waiting for its
 * data block; like memcached's conn_nread state. */
struct pending_store {
    bool active;
    struct request req;                 /* its key is `key` below */
    char key[STORE_KEY_MAX];
    /* A meta set (ms): what its reply needs once the data block is in. */
    bool meta;
    char meta_returns[4];               /* the return flags O, k, c in request order */
    char opaque[32];                    /* the O token after its O */
    uint8_t nopaque;
};

/* A text get/gets/gat/gats whose keys are run in parts, so that a long key
 * list never makes the replies of one request pile up: after each part the
 * replies go out, and the request runs on from its next key (the request's
 * bytes stay at the front of the input until it is done). */
struct text_retrieval {
    bool active;
    struct request req;                 /* with_cas, touch, exptime */
    bool keys_checked;                  /* no key after `next` is too long */
    size_t next;                        /* offset in the request of the next key */
    size_t line_end;                    /* offset of the end of the line's string */
    size_t length;                      /* the request's bytes, newline included */
};

enum proto_kind { PROTO_NEGOTIATING, PROTO_TEXT, PROTO_BINARY };

/* Per-connection protocol state. proto_conn_restart() resets every field
 * but env, stats, udp and what only an active pending or retrieval reads:
 * a new field goes there too. */
struct proto_conn {
    const struct proto_env *env;
    struct thread_stats *stats;         /* the worker thread's counters */
    size_t swallow;                     /* bytes of a refused value still to discard */
    const char *swallow_reply;          /* sent once they are gone, as memcached does */
    size_t need;                        /* after a run: bytes the next request needs at
                                           the front of the input (the caller grows its
                                           buffer to hold them); 0 = no more than now */
    struct pending_store pending;
    struct text_retrieval retrieval;
    bool transmit;                      /* the last request was a retrieval: memcached
                                           sends what is queued right after one (this
                                           shapes its UDP datagrams) */
    bool close_after_write;             /* quit: send what is queued, then close */
    bool close_now;                     /* close at once: only what memcached had
                                           transmitted (see transmit) still goes out */
    bool udp;                           /* requests arrive as UDP datagrams */
    enum proto_kind protocol;           /* chosen by the first byte received, as
                                           memcached negotiates (per connection;
                                           per datagram over UDP) */
    bool bin_value_pending;             /* binary: a request waits for its value */
    bool watching;                      /* `watch` ran: input is ignored from then on */
    bool authenticated;                 /* -Y: the connection passed the gate */
    bool auth_attempt;                  /* -Y: a `set` line waits for its credentials */
    uint32_t auth_nvalue;               /* ... of this many bytes (CRLF not included) */
    struct conn_requester requester;    /* the socket requests come on (and over UDP
                                           the sender): for `stats conns` and `watch` */
};

void proto_conn_init(struct proto_conn *pc, const struct proto_env *env,
                     struct thread_stats *stats);

/* Back to the state proto_conn_init() leaves, keeping env, stats and udp:
 * each UDP datagram starts from it, as in memcached. */
void proto_conn_restart(struct proto_conn *pc);

/* One request through its protocol: the one place where request bytes meet
 * a protocol, for TCP and UDP alike (memcached tells the binary protocol by
 * its first byte, 0x80). */
struct protocol_step {
    size_t used;        /* input bytes consumed; 0 = nothing complete to run */
    bool completed;     /* a request finished: what reqs_per_event counts */
    bool transmit;      /* memcached transmits the replies queued so far here */
    bool suspended;     /* a request ran in part: call again with the same bytes */
};

void protocol_run_one(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      struct protocol_step *step);

/* Inside a request whose value is still to come or being discarded: memcached
 * transmits nothing in that state (conn_nread, conn_swallow). */
static inline bool protocol_mid_request(const struct proto_conn *pc)
{
    return pc->pending.active || pc->swallow > 0 || pc->bin_value_pending || pc->auth_attempt;
}

#endif
