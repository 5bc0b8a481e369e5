/* proto.c - see proto.h. */
#include "proto.h"

#include <string.h>

#include "clock.h"
#include "proto_bin.h"
#include "proto_text.h"
#include "settings.h"
#include "stats.h"
#include "store.h"

void proto_conn_init(struct proto_conn *pc, const struct proto_env *env,
                     struct thread_stats *stats)
{
    memset(pc, 0, sizeof(*pc));
    pc->env = env;
    pc->stats = stats;
}

void protocol_count_lookup(struct thread_stats *stats, enum store_lookup found, bool touch)
{
    if (found == STORE_MISS_EXPIRED)
        STAT_INC(stats, get_expired);
    if (touch) {
        STAT_INC(stats, cmd_touch);
        if (found == STORE_HIT)
            STAT_INC(stats, touch_hits);
        else
            STAT_INC(stats, touch_misses);
    } else {
        STAT_INC(stats, cmd_get);
        if (found == STORE_HIT)
            STAT_INC(stats, get_hits);
        else
            STAT_INC(stats, get_misses);
    }
}

void protocol_count_cas(struct thread_stats *stats, enum store_mode mode, enum store_status st)
{
    if (mode != STORE_CAS)
        return;
    if (st == STORE_STORED)
        STAT_INC(stats, cas_hits);
    else if (st == STORE_EXISTS)
        STAT_INC(stats, cas_badval);
    else if (st == STORE_NOT_FOUND)
        STAT_INC(stats, cas_misses);
}

void protocol_flush(const struct proto_env *env, int64_t delay)
{
    /* An absolute time before the process started: memcached finds no item
     * that old and flushes nothing. */
    if (delay > CLOCK_MAX_RELATIVE_EXPTIME && delay <= clock_process_started())
        return;
    /* memcached invalidates items not newer than `oldest`; with CAS on that
     * bound is one second earlier, which makes a 1-second delay immediate. */
    rel_time_t oldest = delay > 0 ? clock_realtime(delay) : clock_now();
    store_flush(env->store, env->settings->use_cas ? oldest - 1 : oldest);
}

void protocol_run_one(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      struct protocol_step *step)
{
    /* memcached looks at the first byte once (per connection; over UDP per
     * datagram, each of which gets a fresh state) and stays with it. */
    if (pc->protocol == PROTO_NEGOTIATING && len > 0)
        pc->protocol = (unsigned char)in[0] == BIN_MAGIC_REQUEST ? PROTO_BINARY : PROTO_TEXT;
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
