/* proto_text.h - memcached's text protocol: parse a request stream, run each
 * command against the store, write the replies.
 *
 * Knows nothing of sockets: the caller hands in the bytes it has read and an
 * output buffer; replies, error strings and quirks are memcached 1.6's. */
#ifndef XDPCACHED_PROTO_TEXT_H
#define XDPCACHED_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obuf.h"
#include "store.h"

struct prefix_stats;
struct settings;
struct store;
struct server_stats;
struct thread_stats;

/* What every connection of the server shares. */
struct proto_env {
    struct store *store;
    struct settings *settings;          /* verbosity is changed at run time */
    struct server_stats *server_stats;
    struct prefix_stats *prefix_stats;  /* stats detail */
    void (*shutdown)(void);             /* `shutdown` command (with -A) */
    /* Told of each get/gets hit served over UDP, under the store's lock (the
     * XDP fast path admits hot keys from here); NULL = no one listens. */
    void (*udp_read_hit)(void *ctx, const struct item_view *item);
    void *udp_read_ctx;
};

/* A storage command (set, add, ...) whose line was read, waiting for its
 * data block; like memcached's conn_nread state. */
struct pending_store {
    bool active;
    bool noreply;
    enum store_mode mode;
    char key[STORE_KEY_MAX];
    size_t nkey;
    uint32_t flags;
    rel_time_t exptime;
    uint64_t cas;
    size_t nvalue;                      /* without the trailing CRLF */
};

/* Per-connection protocol state. */
struct proto_conn {
    const struct proto_env *env;
    struct thread_stats *stats;         /* the worker thread's counters */
    size_t swallow;                     /* bytes of a refused value still to discard */
    const char *swallow_reply;          /* sent once they are gone, as memcached does */
    size_t need;                        /* after a run: bytes the next request needs at
                                           the front of the input (the caller grows its
                                           buffer to hold them); 0 = no more than now */
    struct pending_store pending;
    bool transmit;                      /* the last request was a retrieval: memcached
                                           sends what is queued right after one (this
                                           shapes its UDP datagrams) */
    bool close_after_write;             /* quit: send what is queued, then close */
    bool close_now;                     /* close without sending anything more */
    bool udp;                           /* requests arrive as UDP datagrams */
};

void proto_conn_init(struct proto_conn *pc, const struct proto_env *env,
                     struct thread_stats *stats);

/* Runs the requests at the start of in[0, len), appending replies to out.
 * Stops at the first incomplete request, after max_reqs requests (0 = no
 * limit), or when the connection must close. Returns the number of bytes
 * consumed; the caller keeps the rest and calls again when more arrives.
 * Consumed bytes may be modified (tokens are NUL-terminated in place).
 * *nreqs (when not NULL) receives the number of requests run. */
size_t proto_text_run(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      unsigned max_reqs, unsigned *nreqs);

/* The parts of a VALUE line after the key, as every reply writes them:
 * " <flags> <bytes>" and " <cas>". They return the length written (always
 * below PROTO_TEXT_VALUE_FIELDS_MAX, which buf must hold). */
#define PROTO_TEXT_VALUE_FIELDS_MAX 48
size_t proto_text_value_fields(char *buf, uint32_t flags, size_t nbytes);
size_t proto_text_cas_field(char *buf, uint64_t cas);

/* Longest request line accepted without a newline, except for get/gets whose
 * key lists may be longer (memcached closes the connection otherwise). */
#define PROTO_TEXT_MAX_LINE 2048
/* Longest get/gets line: beyond it the connection is closed. `need` never
 * asks for more than this or than a storage command's line plus its value. */
#define PROTO_TEXT_MAX_GET_LINE (4 * 1024 * 1024)

#endif
