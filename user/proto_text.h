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
#include "proto.h"
#include "text_parse.h"   /* PROTO_TEXT_MAX_LINE, PROTO_TEXT_MAX_GET_LINE */

/* Runs the requests at the start of in[0, len), appending replies to out.
 * Stops at the first incomplete request, after max_reqs requests (0 = no
 * limit), or when the connection must close. Returns the number of bytes
 * consumed; the caller keeps the rest and calls again when more arrives.
 * Consumed bytes may be modified (tokens are NUL-terminated in place).
 * *nreqs (when not NULL) receives the number of requests run. */
size_t proto_text_run(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      unsigned max_reqs, unsigned *nreqs);

#endif
