/* text_common.c - the reply helpers that the text protocol's command
 * modules share (text_common.h). Apart from proto_text.c, so that
 * the modules it dispatches to (proto_meta.c, keydump.c) depend on these and
 * not on it. */
#include "text_common.h"

void text_reply(struct text_request *r, const char *line)
{
    obuf_truncate(r->out, r->resp_off);
    if (r->noreply)
        return;
    text_resp_start(r);
    obuf_puts(r->out, line);
    obuf_append(r->out, "\r\n", 2);
}
