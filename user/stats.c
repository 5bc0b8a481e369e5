/* stats.c - see stats.h. */
#include "stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void stats_emitf(struct stats_sink *sink, const char *name, const char *fmt, ...)
{
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    sink->emit(sink, name, value);
}

static void sum_raw(const struct server_stats *server, struct thread_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < server->nthreads; i++) {
        const struct thread_stats *t = server->threads[i];
#define X(name) sum->name += __atomic_load_n(&t->name, __ATOMIC_RELAXED);
        THREAD_STATS_ALL_FIELDS(X)
#undef X
    }
}

void stats_sum_threads(struct server_stats *server, struct thread_stats *sum)
{
    sum_raw(server, sum);
    pthread_mutex_lock(&server->reset_lock);
#define X(name) sum->name -= server->baseline.name;
    THREAD_STATS_ALL_FIELDS(X)
#undef X
    pthread_mutex_unlock(&server->reset_lock);
}

void stats_reset(struct server_stats *server)
{
    pthread_mutex_lock(&server->reset_lock);
    sum_raw(server, &server->baseline);
    pthread_mutex_unlock(&server->reset_lock);
    if (server->fastpath && server->reset_fastpath)
        server->reset_fastpath(server->fastpath);
    atomic_store(&server->total_connections, 0);
    atomic_store(&server->rejected_connections, 0);
    atomic_store(&server->listen_disabled_num, 0);
    atomic_store(&server->time_in_listen_disabled_us, 0);
}
