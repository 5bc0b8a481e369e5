/* proto.c - see proto.h. */
#include "proto.h"

#include <string.h>

#include "proto_auth.h"
#include "proto_bin.h"
#include "proto_text.h"
#include "settings.h"

void proto_conn_init(struct proto_conn *pc, const struct proto_env *env,
                     struct thread_stats *stats)
{
    memset(pc, 0, sizeof(*pc));
    pc->env = env;
    pc->stats = stats;
    pc->requester.fd = -1;
}

/* Field by field: zeroing the whole struct, with its two parked requests and
 * a key buffer, was a tenth of a UDP get's instructions. */
void proto_conn_restart(struct proto_conn *pc)
{
    pc->swallow = 0;
    pc->swallow_reply = NULL;
    pc->need = 0;
    pc->pending.active = false;
    pc->retrieval.active = false;
    pc->transmit = false;
    pc->close_after_write = false;
    pc->close_now = false;
    pc->protocol = PROTO_NEGOTIATING;
    pc->bin_value_pending = false;
    pc->authenticated = false;
    pc->auth_attempt = false;
}

static enum proto_kind chosen_protocol(enum settings_protocol binding,
                                       unsigned char first_byte)
{
    switch (binding) {
    case SETTINGS_PROTOCOL_ASCII: return PROTO_TEXT;
    case SETTINGS_PROTOCOL_BINARY: return PROTO_BINARY;
    default: return first_byte == BIN_MAGIC_REQUEST ? PROTO_BINARY : PROTO_TEXT;
    }
}

void protocol_run_one(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      struct protocol_step *step)
{
    /* memcached stops reading a watcher's socket: what it sends is dropped. */
    if (pc->watching) {
        *step = (struct protocol_step){ .used = len };
        return;
    }
    if (pc->env->auth && !pc->authenticated) {
        step->used = proto_auth_run(pc, in, len, out, &step->completed);
        step->transmit = false;
        step->suspended = false;
        return;
    }
    /* memcached looks at the first byte once (per connection; over UDP per
     * datagram, each of which gets a fresh state) and stays with it, unless
     * -B fixed the protocol. */
    if (pc->protocol == PROTO_NEGOTIATING && len > 0)
        pc->protocol = chosen_protocol(pc->env->settings->protocol, (unsigned char)in[0]);
    if (pc->protocol == PROTO_BINARY) {
        step->used = proto_bin_run(pc, in, len, out, &step->completed);
    } else {
        unsigned nreqs = 0;
        step->used = proto_text_run(pc, in, len, out, 1, &nreqs);
        /* A storage command is one request once its value is in, as in memcached. */
        step->completed = nreqs > 0 && !pc->pending.active;
    }
    step->transmit = pc->transmit;
    step->suspended = pc->retrieval.active;
}
