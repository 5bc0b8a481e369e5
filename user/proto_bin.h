/* proto_bin.h - memcached's binary protocol: each request is parsed
 * (bin_parse.h, which holds the wire layout), run by the executor (exec.h),
 * and its reply composed here.
 *
 * Knows nothing of sockets: the caller hands in the bytes it has read and an
 * output buffer. Status codes, error texts, which replies quiet commands
 * suppress and when the connection closes are memcached 1.6.18's
 * (proto_bin.c there), byte for byte. */
#ifndef XDPCACHED_PROTO_BIN_H
#define XDPCACHED_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bin_parse.h"
#include "obuf.h"
#include "proto.h"

/* Runs the binary request at the start of in[0, len) (or discards the bytes
 * a refused request left to swallow), appending its reply to out. Returns
 * the bytes consumed; 0 when the request is incomplete (pc->need then says
 * how many bytes it needs) or the connection must close (pc->close_now).
 * *completed tells whether a request ran. Sets pc->transmit where memcached
 * transmits the queued replies (after errors, noop, quit). */
size_t proto_bin_run(struct proto_conn *pc, const char *in, size_t len, struct obuf *out,
                     bool *completed);

#endif
