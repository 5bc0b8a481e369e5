/* proto_meta.h - memcached 1.6's meta commands (mg ms md ma mn me), run by
 * the text protocol, which hands over every two-letter command starting
 * with m. Replies, error strings and the order of checks are memcached
 * 1.6.18's. Knows nothing of sockets. */
#ifndef XDPCACHED_PROTO_META_H
#define XDPCACHED_PROTO_META_H

#include "text_common.h"

/* Runs the tokenized meta command in r (tokens[0] is its two-letter name).
 * ms leaves the connection waiting for its data block (pc->pending, with
 * pending.meta set) or swallowing it after an error. */
void proto_meta_run(struct text_request *r);

/* The data block of a pending ms was stored (res): answer. */
void proto_meta_finish_set(struct text_request *r, const struct exec_result *res);

#endif
