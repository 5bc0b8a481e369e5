/* stats_report.c - see stats_report.h.
 *
 * Only counters the daemon really keeps are reported. The store has no slab
 * classes, so `stats items` and `stats slabs` describe it as one class (1),
 * and `stats sizes` is a real histogram of item sizes (memcached's is off by
 * default). */
#include "stats_report.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "conn_report.h"
#include "fastpath.h"
#include "obuf.h"
#include "prefix_stats.h"
#include "proto_text.h"
#include "settings.h"
#include "stats.h"
#include "store.h"
#include "watch.h"

static void report_process(const struct proto_env *env, struct stats_sink *sink)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    rel_time_t now = clock_now();
    stats_emitf(sink, "pid", "%ld", (long)getpid());
    stats_emitf(sink, "uptime", "%u", now);
    stats_emitf(sink, "time", "%ld", (long)(clock_process_started() + now));
    stats_emitf(sink, "version", "%s", XDPCACHED_PROTOCOL_VERSION);
    stats_emitf(sink, "xdpcached_version", "%s", XDPCACHED_VERSION);
    stats_emitf(sink, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    stats_emitf(sink, "rusage_user", "%ld.%06ld", (long)usage.ru_utime.tv_sec,
                (long)usage.ru_utime.tv_usec);
    stats_emitf(sink, "rusage_system", "%ld.%06ld", (long)usage.ru_stime.tv_sec,
                (long)usage.ru_stime.tv_usec);
    stats_emitf(sink, "max_connections", "%d", env->settings->maxconns);
}

static void report_connections(const struct server_stats *ss, struct stats_sink *sink)
{
    stats_emitf(sink, "curr_connections", "%llu",
                (unsigned long long)atomic_load(&ss->curr_connections));
    stats_emitf(sink, "total_connections", "%llu",
                (unsigned long long)atomic_load(&ss->total_connections));
    stats_emitf(sink, "rejected_connections", "%llu",
                (unsigned long long)atomic_load(&ss->rejected_connections));
    stats_emitf(sink, "connection_structures", "%llu",
                (unsigned long long)atomic_load(&ss->connection_structures));
}

static void report_store(const struct store_stats *st, struct stats_sink *sink)
{
    stats_emitf(sink, "hash_power_level", "%llu", (unsigned long long)st->hash_power_level);
    stats_emitf(sink, "hash_bytes", "%llu", (unsigned long long)st->hash_bytes);
    stats_emitf(sink, "hash_is_expanding", "%d", st->hash_is_expanding ? 1 : 0);
    stats_emitf(sink, "bytes", "%llu", (unsigned long long)st->bytes);
    stats_emitf(sink, "curr_items", "%llu", (unsigned long long)st->curr_items);
    stats_emitf(sink, "total_items", "%llu", (unsigned long long)st->total_items);
    stats_emitf(sink, "expired_unfetched", "%llu", (unsigned long long)st->expired_unfetched);
    stats_emitf(sink, "evicted_unfetched", "%llu", (unsigned long long)st->evicted_unfetched);
    stats_emitf(sink, "evictions", "%llu", (unsigned long long)st->evictions);
    stats_emitf(sink, "reclaimed", "%llu", (unsigned long long)st->reclaimed);
}

/* The fast path's lines, only when it was asked for: without it `stats`
 * stays memcached's. While it loads, or when it failed, its state alone. */
static void report_fastpath(const struct fastpath_stats *xdp, struct stats_sink *sink)
{
    const struct xdp_mirror_stats *m = &xdp->mirror;
    stats_emitf(sink, "xdp_state", "%s", xdp->state);
    if (!xdp->attached)
        return;
    stats_emitf(sink, "xdp_ifaces", "%s", xdp->ifaces);
    stats_emitf(sink, "xdp_mode", "%s", xdp->modes);
    stats_emitf(sink, "xdp_verified_insns", "%u", xdp->verified_insns);
    stats_emitf(sink, "xdp_verified_insns_mg", "%u", xdp->verified_insns_mg);
    stats_emitf(sink, "xdp_entries", "%llu", (unsigned long long)m->entries);
    stats_emitf(sink, "xdp_capacity", "%llu", (unsigned long long)xdp->capacity);
    stats_emitf(sink, "xdp_memory", "%llu", (unsigned long long)xdp->memory);
    stats_emitf(sink, "xdp_admissions", "%llu", (unsigned long long)m->admissions);
    stats_emitf(sink, "xdp_evictions", "%llu", (unsigned long long)m->evictions);
    stats_emitf(sink, "xdp_updates", "%llu", (unsigned long long)m->updates);
    stats_emitf(sink, "xdp_removals", "%llu", (unsigned long long)m->removals);
#define X(name) \
    stats_emitf(sink, "xdp_" #name, "%llu", (unsigned long long)xdp->counters.name);
    XDP_COUNTERS(X)
#undef X
}

static void report_general(const struct proto_env *env, struct stats_sink *sink)
{
    struct fastpath *fastpath = env->server_stats->fastpath;
    struct fastpath_stats xdp;
    struct thread_stats sum;
    struct store_stats st;

    report_process(env, sink);
    report_connections(env->server_stats, sink);
    stats_sum_threads(env->server_stats, &sum);
    if (fastpath) {
        /* Keys XDP answered are gets and hits the clients made, so
         * dashboards built on these two stay right. */
        fastpath_get_stats(fastpath, &xdp);
        sum.cmd_get += xdp.counters.hits;
        sum.get_hits += xdp.counters.hits;
    }
#define X(name) stats_emitf(sink, #name, "%llu", (unsigned long long)sum.name);
    THREAD_STATS_FIELDS(X)
    if (env->settings->udpport) {
        THREAD_STATS_UDP_FIELDS(X)
    }
#undef X
    if (env->watch) {
        struct watch_stats ws;
        watch_get_stats(env->watch, &ws);
        stats_emitf(sink, "log_watcher_skipped", "%llu", (unsigned long long)ws.skipped);
        stats_emitf(sink, "log_watcher_sent", "%llu", (unsigned long long)ws.sent);
        stats_emitf(sink, "log_watchers", "%u", ws.watchers);
    }
    /* gets that found an item a flush_all had invalidated: none here, as a
     * due flush empties a shard before any lookup in it */
    stats_emitf(sink, "get_flushed", "0");
    store_get_stats(env->store, &st);
    stats_emitf(sink, "limit_maxbytes", "%llu", (unsigned long long)st.limit_maxbytes);
    stats_emitf(sink, "accepting_conns", "%d",
                atomic_load(&env->server_stats->accepting_conns) ? 1 : 0);
    stats_emitf(sink, "listen_disabled_num", "%llu",
                (unsigned long long)atomic_load(&env->server_stats->listen_disabled_num));
    stats_emitf(sink, "time_in_listen_disabled_us", "%llu",
                (unsigned long long)atomic_load(&env->server_stats->time_in_listen_disabled_us));
    stats_emitf(sink, "threads", "%d", env->settings->num_threads);
    report_store(&st, sink);
    if (fastpath)
        report_fastpath(&xdp, sink);
}

static void report_items(const struct proto_env *env, struct stats_sink *sink)
{
    struct store_stats st;
    store_get_stats(env->store, &st);
    if (st.curr_items == 0)
        return; /* memcached lists only classes that hold items */
    stats_emitf(sink, "items:1:number", "%llu", (unsigned long long)st.curr_items);
    stats_emitf(sink, "items:1:mem_requested", "%llu", (unsigned long long)st.bytes);
    stats_emitf(sink, "items:1:evicted", "%llu", (unsigned long long)st.evictions);
    stats_emitf(sink, "items:1:evicted_unfetched", "%llu",
                (unsigned long long)st.evicted_unfetched);
    stats_emitf(sink, "items:1:reclaimed", "%llu", (unsigned long long)st.reclaimed);
    stats_emitf(sink, "items:1:expired_unfetched", "%llu",
                (unsigned long long)st.expired_unfetched);
}

static void report_slabs(const struct proto_env *env, struct stats_sink *sink)
{
    struct store_stats st;
    store_get_stats(env->store, &st);
    if (st.curr_items > 0) {
        stats_emitf(sink, "1:used_chunks", "%llu", (unsigned long long)st.curr_items);
        stats_emitf(sink, "1:mem_requested", "%llu", (unsigned long long)st.bytes);
    }
    stats_emitf(sink, "active_slabs", "%d", st.curr_items > 0 ? 1 : 0);
    stats_emitf(sink, "total_malloced", "%llu", (unsigned long long)st.bytes);
}

static void emit_size_class(void *ctx, size_t size_class_bytes, uint64_t count)
{
    char name[32];
    snprintf(name, sizeof(name), "%zu", size_class_bytes);
    stats_emitf(ctx, name, "%llu", (unsigned long long)count);
}

static void emit_prefix_line(void *ctx, const char *prefix, size_t len,
                             const struct prefix_counts *c)
{
    char line[360];
    int n = snprintf(line, sizeof(line), "PREFIX %.*s get %llu hit %llu set %llu del %llu\r\n",
                     (int)len, prefix, (unsigned long long)c->gets, (unsigned long long)c->hits,
                     (unsigned long long)c->sets, (unsigned long long)c->deletes);
    obuf_append(ctx, line, (size_t)n);
}

bool stats_report_prefix_dump(struct prefix_stats *ps, struct obuf *out)
{
    if (!prefix_stats_foreach(ps, emit_prefix_line, out))
        return false;
    obuf_append(out, "END\r\n", 5);
    return !out->oom;
}

/* The command line's settings, with the values commands changed since. */
static void report_settings(const struct proto_env *env, struct stats_sink *sink)
{
    struct settings_now now = {
        .maxbytes = store_mem_limit(env->store),
        .lru_crawler = store_crawler_enabled(env->store),
    };
    settings_report(env->settings, &now, sink);
}

bool stats_report_conns(const struct proto_env *env, const struct conn_requester *requester,
                        struct stats_sink *sink)
{
    struct server_stats *ss = env->server_stats;
    struct conn_rows rows = { 0 };
    bool ok = !ss->report_conns || ss->report_conns(ss->report_conns_ctx, requester, &rows);
    if (ok)
        conn_rows_emit(&rows, sink);
    conn_rows_free(&rows);
    return ok;
}

bool stats_report(const struct proto_env *env, const char *group, struct stats_sink *sink)
{
    if (group[0] == '\0')
        report_general(env, sink);
    else if (strcmp(group, "items") == 0)
        report_items(env, sink);
    else if (strcmp(group, "slabs") == 0)
        report_slabs(env, sink);
    else if (strcmp(group, "sizes") == 0)
        store_size_histogram(env->store, emit_size_class, sink);
    else if (strcmp(group, "settings") == 0)
        report_settings(env, sink);
    else
        return false;
    return true;
}
