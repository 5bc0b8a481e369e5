/* text_common.h - the parts of the text protocol that its command modules
 * (proto_text.c, proto_meta.c, keydump.c) share: the request being run and
 * the reply helpers (text_common.c); the parser is text_parse.h. Not for
 * other modules: proto_text.h is the API. */
#ifndef XDPCACHED_TEXT_COMMON_H
#define XDPCACHED_TEXT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"
#include "obuf.h"
#include "proto.h"
#include "text_parse.h"

/* One request being run. */
struct text_request {
    struct proto_conn *pc;
    struct exec_ctx exec;
    struct obuf *out;
    struct text_parsed p;
    size_t resp_off;    /* where the current response starts in out */
    bool noreply;
};

/* Starts a new response at the end of the output. */
static inline void text_resp_start(struct text_request *r)
{
    r->resp_off = r->out->len;
    obuf_resp_start(r->out);
}

/* memcached's out_string(): replaces whatever the current response holds
 * with line + CRLF; with noreply the response is cancelled instead. */
void text_reply(struct text_request *r, const char *line);

#endif
