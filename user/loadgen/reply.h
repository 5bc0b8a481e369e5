/* reply.h - an incremental parser of memcached text replies. Knows nothing of
 * sockets: it is fed bytes, as they come, and says when the reply to one
 * request is complete, how many keys hit and whether something was wrong.
 *
 * It checks what it can: a get's VALUE lines must name the requested keys in
 * request order, every value must be exactly the one keygen.h derives from
 * its key (mg replies carry no key: the i-th answer is for the i-th key). */
#ifndef MCLOAD_REPLY_H
#define MCLOAD_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keygen.h"
#include "request.h"

/* Longer than any reply line memcached sends for a key of 250 bytes. */
#define REPLY_LINE_MAX 384

enum reply_error {
    REPLY_OK,
    REPLY_SERVER_ERROR,   /* ERROR, CLIENT_ERROR or SERVER_ERROR */
    REPLY_NOT_STORED,     /* a set answered NOT_STORED, EXISTS or NOT_FOUND */
    REPLY_MISMATCH,       /* a key not asked for, or a value not the key's */
    REPLY_SYNTAX,         /* not a reply to this request: the stream is lost */
};

struct reply_parser {
    /* The request. keys must stay valid until the reply is complete. */
    enum mc_op op;
    unsigned nkeys;
    const uint32_t *keys;
    const struct keyspace *ks;
    /* Outcome so far. */
    unsigned hits;
    enum reply_error error;   /* the first one seen */
    /* Where it is: get: first key a VALUE line may still name; mg: answers
     * seen. */
    unsigned next;
    enum { IN_LINE, IN_DATA, IN_DATA_END } state;
    uint64_t value_key;       /* the key of the value being read */
    bool value_checked;       /* false: only skip its bytes */
    size_t value_at, value_len;
    size_t line_len;          /* bytes of a line split across feeds */
    char line[REPLY_LINE_MAX];
};

void reply_start(struct reply_parser *p, enum mc_op op, const uint32_t *keys,
                 unsigned nkeys, const struct keyspace *ks);
/* Consumes bytes of buf until the reply is complete (*done = true; the rest
 * of buf belongs to whatever follows) or buf ends (*done = false). Returns
 * the bytes consumed. After REPLY_SYNTAX the reply is done and the parser
 * cannot tell where the next one starts. */
size_t reply_feed(struct reply_parser *p, const char *buf, size_t len, bool *done);

#endif
