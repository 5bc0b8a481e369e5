/* exec.c - see exec.h. */
#include "exec.h"

#include "clock.h"
#include "stats.h"

void exec_count_lookup(struct thread_stats *stats, enum store_lookup found, bool touch)
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

void exec_count_cas(struct thread_stats *stats, enum store_mode mode, enum store_status st)
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

void exec_count_delta(struct thread_stats *stats, bool incr, enum store_status st, bool created)
{
    if (st == STORE_DELTA_OK && !created) {
        if (incr)
            STAT_INC(stats, incr_hits);
        else
            STAT_INC(stats, decr_hits);
    } else if (st == STORE_NOT_FOUND) {
        if (incr)
            STAT_INC(stats, incr_misses);
        else
            STAT_INC(stats, decr_misses);
    }
}

void exec_count_delete(struct thread_stats *stats, enum store_status st)
{
    if (st == STORE_DELETED)
        STAT_INC(stats, delete_hits);
    else if (st == STORE_NOT_FOUND)
        STAT_INC(stats, delete_misses);
}

void exec_flush(struct store *store, bool use_cas, int64_t delay)
{
    /* An absolute time before the process started: memcached finds no item
     * that old and flushes nothing. */
    if (delay > CLOCK_MAX_RELATIVE_EXPTIME && delay <= clock_process_started())
        return;
    /* memcached invalidates items not newer than `oldest`; with CAS on that
     * bound is one second earlier, which makes a 1-second delay immediate. */
    rel_time_t oldest = delay > 0 ? clock_realtime(delay) : clock_now();
    store_flush(store, use_cas ? oldest - 1 : oldest);
}
