/* proto_auth.h - memcached's ASCII authentication gate (-Y FILE).
 *
 * Until a connection authenticates, every line it sends is answered
 * "CLIENT_ERROR unauthenticated", except a `set` line, whose data block is
 * taken as "<user> <password>" and checked against the file: "STORED"
 * opens the connection to every command, as in memcached 1.6. Nothing is
 * stored. Knows nothing of sockets: protocol_run_one() hands it bytes. */
#ifndef XDPCACHED_PROTO_AUTH_H
#define XDPCACHED_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "obuf.h"
#include "proto.h"

/* Runs the gate on in[0, len) for a connection not yet authenticated;
 * returns the bytes used (0: it needs more, pc->need says how many, or the
 * connection closes, pc->close_now). *completed is set when a line or an
 * attempt was answered. */
size_t proto_auth_run(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      bool *completed);

#endif
