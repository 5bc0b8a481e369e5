/* exec.c - see exec.h. */
#include "exec.h"

#include <stdio.h>

#include "clock.h"
#include "decimal.h"
#include "prefix_stats.h"
#include "settings.h"
#include "stats.h"
#include "watch.h"

/* memcached's highest verbosity level; a larger one is taken as it. */
#define MAX_VERBOSITY 2

/* Counts one key of a get (cmd_get, get_hits/misses) or touch/gat
 * (cmd_touch, touch_hits/misses), and get_expired, as memcached does in
 * every protocol. */
static inline void exec_count_lookup(struct thread_stats *stats, enum store_lookup found,
                                     bool touch)
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

/* Counts a compare-and-swap's outcome (cas_hits, cas_badval, cas_misses);
 * nothing for other modes. */
static void exec_count_cas(struct thread_stats *stats, enum store_mode mode, enum store_status st)
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

/* Counts an incr/decr's final outcome: a hit when it changed a counter
 * (not when it created one), a miss when the key stays missing. */
static void exec_count_delta(struct thread_stats *stats, bool incr, enum store_status st, bool created)
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

/* Counts a delete's outcome: delete_hits when it deleted, delete_misses
 * when the key was missing. */
static void exec_count_delete(struct thread_stats *stats, enum store_status st)
{
    if (st == STORE_DELETED)
        STAT_INC(stats, delete_hits);
    else if (st == STORE_NOT_FOUND)
        STAT_INC(stats, delete_misses);
}

/* flush_all with memcached's rules for its delay (0 = now, up to 30 days
 * relative, else an absolute unix time), the same in every protocol;
 * use_cas as the server runs (-C). */
static void exec_flush(struct store *store, bool use_cas, int64_t delay)
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

/* What a store status means to the composers. */
static enum exec_status status_of(enum store_status st)
{
    switch (st) {
    case STORE_STORED: case STORE_DELETED: case STORE_INVALIDATED: case STORE_TOUCHED:
        return EXEC_DONE;
    case STORE_DELTA_OK: return EXEC_NUMBER;
    case STORE_EXISTS: return EXEC_EXISTS;
    case STORE_NOT_FOUND: return EXEC_NOT_FOUND;
    case STORE_NON_NUMERIC: return EXEC_NON_NUMERIC;
    case STORE_NOT_STORED: return EXEC_NOT_STORED;
    default: return EXEC_NO_MEMORY;
    }
}

/* ---- watch ------------------------------------------------------------------ */

static enum watch_fetch fetch_status(enum store_lookup found)
{
    return found == STORE_HIT ? WATCH_FOUND
           : found == STORE_MISS_EXPIRED ? WATCH_EXPIRED : WATCH_NOT_FOUND;
}

/* A hit's value length, for the fetch's log line, on its way to the reply. */
struct fetch_note {
    exec_hit_fn hit;
    void *hit_ctx;
    size_t nvalue;
};

static void note_fetch(void *ctx, const struct item_view *item)
{
    struct fetch_note *note = ctx;
    note->nvalue = item->nvalue;
    note->hit(note->hit_ctx, item);
}

static void log_store(const struct exec_ctx *x, const struct request *req,
                      enum store_mode mode, enum store_status st)
{
    static const char *const cmds[] = {
        [STORE_SET] = "set", [STORE_ADD] = "add", [STORE_REPLACE] = "replace",
        [STORE_APPEND] = "append", [STORE_PREPEND] = "prepend", [STORE_CAS] = "cas",
    };
    const char *status;
    switch (st) {
    case STORE_STORED: status = "stored"; break;
    case STORE_NOT_STORED: status = "not_stored"; break;
    case STORE_EXISTS: status = "exists"; break;
    case STORE_NOT_FOUND: status = "not_found"; break;
    case STORE_TOO_LARGE: status = "too_large"; break;
    default: status = "no_memory"; break;
    }
    bool made = st != STORE_TOO_LARGE && st != STORE_NO_MEMORY;
    rel_time_t now = clock_now();
    uint32_t ttl = made && req->exptime != 0 ? req->exptime - now : 0;
    watch_log_store(x->env->watch, req->key, req->nkey, status, cmds[mode], ttl,
                    made ? req->nvalue : 0, x->fd);
}

/* ---- requests ------------------------------------------------------------ */

/* A hit seen by the fast path's read hook, then by the reply writer. */
struct read_relay {
    const struct proto_env *env;
    exec_hit_fn hit;
    void *hit_ctx;
};

static void relay_read_hit(void *ctx, const struct item_view *item)
{
    struct read_relay *relay = ctx;
    relay->env->udp_read_hit(relay->env->udp_read_ctx, item);
    relay->hit(relay->hit_ctx, item);
}

/* The hit of a lookup that is only counted. */
static void ignore_hit(void *ctx, const struct item_view *item)
{
    (void)ctx;
    (void)item;
}

enum store_lookup exec_get(const struct exec_ctx *x, const struct request *req,
                           const char *key, size_t nkey, exec_hit_fn hit, void *hit_ctx)
{
    const struct proto_env *env = x->env;
    enum store_lookup found;
    if (!hit)
        hit = ignore_hit;
    struct fetch_note note = { hit, hit_ctx, 0 };
    bool watched = watch_wanted(env->watch, WATCH_FETCHERS);
    if (watched) {
        hit = note_fetch;
        hit_ctx = &note;
    }
    /* Only get/gets over UDP: they are what the fast path answers. */
    if (x->udp && !req->touch && !req->binary && env->udp_read_hit) {
        struct read_relay relay = { env, hit, hit_ctx };
        found = store_get(env->store, key, nkey, NULL, relay_read_hit, &relay);
    } else {
        found = store_get(env->store, key, nkey, req->touch ? &req->exptime : NULL, hit, hit_ctx);
    }
    exec_count_lookup(x->stats, found, req->touch);
    prefix_stats_record(env->prefix_stats, key, nkey,
                        found == STORE_HIT ? PREFIX_GET_HIT : PREFIX_GET_MISS);
    if (watched)
        watch_log_fetch(env->watch, key, nkey, fetch_status(found), note.nvalue, x->fd);
    return found;
}

/* A store that failed must not leave the old value readable. */
static void drop_old_value(struct store *store, const struct request *req,
                           enum store_mode mode)
{
    if (mode == STORE_SET || req->failure_drops_old)
        store_delete(store, req->key, req->nkey);
}

bool exec_store_admit(const struct exec_ctx *x, const struct request *req)
{
    struct store *store = x->env->store;
    if (!req->no_detail_stats)
        prefix_stats_record(x->env->prefix_stats, req->key, req->nkey, PREFIX_SET);
    if (store_item_size_ok(store, req->nkey, req->flags, req->nvalue))
        return true;
    if (!req->binary) /* memcached's binary protocol does not count it */
        STAT_INC(x->stats, store_too_large);
    if (watch_wanted(x->env->watch, WATCH_MUTATIONS))
        log_store(x, req, req->mode, STORE_TOO_LARGE);
    drop_old_value(store, req, req->mode);
    return false;
}

/* The mode and CAS a binary set/add/replace/append/prepend runs with: a CAS
 * turns set, add and replace into a compare-and-swap. Without CAS (-C)
 * memcached compares nothing for them, as it cannot keep the request's CAS
 * on the new item. */
static enum store_mode binary_mode(const struct exec_ctx *x, const struct request *req,
                                   uint64_t *cas)
{
    bool use_cas = x->env->settings->use_cas;
    bool concat = req->mode == STORE_APPEND || req->mode == STORE_PREPEND;
    if (concat) {
        *cas = use_cas ? req->cas : 0;
        return req->mode;
    }
    return use_cas && req->cas != 0 ? STORE_CAS : req->mode;
}

void exec_store(const struct exec_ctx *x, const struct request *req, struct exec_result *res)
{
    struct store *store = x->env->store;
    bool concat = req->mode == STORE_APPEND || req->mode == STORE_PREPEND;
    uint64_t cas = req->cas;
    enum store_mode mode = req->binary ? binary_mode(x, req, &cas) : req->mode;
    /* memcached's binary update fails to allocate before it counts the set. */
    bool count_after = req->binary && !concat;

    if (!count_after)
        STAT_INC(x->stats, cmd_set);
    *res = (struct exec_result){ .status = EXEC_BAD_ARG };
    if (req->arg_error)
        return;
    struct store_write w = {
        .key = req->key, .nkey = req->nkey, .value = req->value, .nvalue = req->nvalue,
        .flags = req->flags, .exptime = req->exptime, .cas = cas,
        .key_binary = req->key_binary, .invalidate = req->invalidate,
    };
    enum store_status st = store_write(store, mode, &w, &res->cas);
    if (watch_wanted(x->env->watch, WATCH_MUTATIONS))
        log_store(x, req, mode, st);
    if (!concat && (st == STORE_NO_MEMORY || st == STORE_TOO_LARGE)) {
        if (!req->binary)
            STAT_INC(x->stats, store_no_memory);
        drop_old_value(store, req, mode);
        res->status = EXEC_NO_MEMORY;
        return;
    }
    if (count_after)
        STAT_INC(x->stats, cmd_set);
    exec_count_cas(x->stats, mode, st);
    /* append/prepend that cannot allocate the joined item: memcached says
     * NOT_STORED. */
    res->status = status_of(st) == EXEC_NO_MEMORY ? EXEC_NOT_STORED : status_of(st);
}

/* A binary incr/decr's miss with an initial value stores it (as add,
 * flags 0); not counted, as in memcached. */
static void create_counter(const struct exec_ctx *x, const struct request *req,
                           struct exec_result *res)
{
    char digits[20];
    struct store_write w = {
        .key = req->key, .nkey = req->nkey, .value = digits,
        .nvalue = format_decimal(digits, req->initial), .exptime = req->exptime,
    };
    enum store_status st = store_write(x->env->store, STORE_ADD, &w, &res->cas);
    res->created = true;
    res->number = req->initial;
    if (st == STORE_STORED)
        res->status = EXEC_NUMBER;
    else
        res->status = status_of(st) == EXEC_NO_MEMORY ? EXEC_NO_MEMORY : EXEC_NOT_STORED;
}

static void run_delta(const struct exec_ctx *x, const struct request *req,
                      struct exec_result *res)
{
    struct store_delta_meta how = { .incr = req->incr, .delta = req->delta, .cas = req->cas };
    enum store_status st = store_delta_meta(x->env->store, req->key, req->nkey, &how,
                                            &res->number, &res->cas, NULL, NULL);
    if (st == STORE_NOT_FOUND && req->has_initial) {
        create_counter(x, req, res);
        return;
    }
    exec_count_delta(x->stats, req->incr, st, false);
    res->status = status_of(st);
}

static void run_delete(const struct exec_ctx *x, const struct request *req,
                       struct exec_result *res)
{
    uint64_t cas = req->cas;
    rel_time_t exptime = req->exptime;
    if (!req->no_detail_stats)
        prefix_stats_record(x->env->prefix_stats, req->key, req->nkey, PREFIX_DELETE);
    enum store_status st = store_delete_meta(x->env->store, req->key, req->nkey,
                                             req->compare_cas ? &cas : NULL, req->invalidate,
                                             req->set_exptime ? &exptime : NULL);
    exec_count_delete(x->stats, st);
    if (st == STORE_EXISTS && req->cas_mismatch_is_miss)
        STAT_INC(x->stats, delete_misses);
    res->status = status_of(st);
}

static void run_touch(const struct exec_ctx *x, const struct request *req,
                      struct exec_result *res)
{
    bool touched = store_touch(x->env->store, req->key, req->nkey, req->exptime) ==
                   STORE_TOUCHED;
    exec_count_lookup(x->stats, touched ? STORE_HIT : STORE_MISS, true);
    res->status = touched ? EXEC_DONE : EXEC_NOT_FOUND;
}

/* memcached's text flush_all is counted before it checks that flushing is
 * allowed; its binary one only once it flushed. */
static void run_flush(const struct exec_ctx *x, const struct request *req,
                      struct exec_result *res)
{
    const struct settings *s = x->env->settings;
    if (!req->binary || s->flush_enabled)
        STAT_INC(x->stats, cmd_flush);
    if (!s->flush_enabled) {
        res->status = EXEC_NOT_ALLOWED;
    } else if (req->arg_error) {
        res->status = EXEC_BAD_ARG;
    } else {
        exec_flush(x->env->store, s->use_cas, req->flush_delay);
        res->status = EXEC_DONE;
    }
}

static void run_shutdown(const struct exec_ctx *x, const struct request *req,
                         struct exec_result *res)
{
    if (!x->env->settings->shutdown_command) {
        res->status = EXEC_NOT_ALLOWED;
    } else if (req->arg_error) {
        res->status = EXEC_BAD_ARG;
    } else {
        x->env->shutdown();
        res->status = EXEC_DONE;
    }
}

/* memcached's bounds: at least 8 MB, and a number that looks like bytes
 * (over 10^9) is refused rather than taken as a petabyte. */
static void run_cache_memlimit(const struct exec_ctx *x, const struct request *req,
                               struct exec_result *res)
{
    if (req->arg_error) {
        res->status = EXEC_BAD_ARG;
    } else if (req->memlimit_mb < 8) {
        res->status = EXEC_LIMIT_TOO_SMALL;
    } else if (req->memlimit_mb > 1000000000) {
        res->status = EXEC_LIMIT_NOT_MB;
    } else {
        store_set_mem_limit(x->env->store, (size_t)req->memlimit_mb << 20);
        if (settings_verbosity(x->env->settings) > 0)
            fprintf(stderr, "maxbytes adjusted to %um\n", req->memlimit_mb);
        res->status = EXEC_DONE;
    }
}

void exec_run(const struct exec_ctx *x, const struct request *req, struct exec_result *res)
{
    *res = (struct exec_result){ .status = EXEC_DONE };
    switch (req->type) {
    case REQ_DELTA: run_delta(x, req, res); break;
    case REQ_DELETE: run_delete(x, req, res); break;
    case REQ_TOUCH: run_touch(x, req, res); break;
    case REQ_FLUSH: run_flush(x, req, res); break;
    case REQ_SHUTDOWN: run_shutdown(x, req, res); break;
    case REQ_CACHE_MEMLIMIT: run_cache_memlimit(x, req, res); break;
    case REQ_VERBOSITY:
        settings_set_verbosity(x->env->settings, req->verbosity > MAX_VERBOSITY
                                                     ? MAX_VERBOSITY : (int)req->verbosity);
        break;
    default: break;
    }
}

/* ---- meta reads and arithmetic ------------------------------------------ */

/* A meta command's item, seen by its reply writer, then (a plain read of a
 * get over UDP) by the fast path's read hook; its value length is kept for
 * `watch fetchers`. */
struct meta_relay {
    const struct proto_env *env;
    store_meta_fn fn;
    void *ctx;
    const struct exec_meta_reply *reply;
    bool udp_hook;
    size_t nvalue;
};

static void relay_meta_item(void *ctx, const struct item_view *item, bool created,
                            struct store_meta_change *change)
{
    struct meta_relay *relay = ctx;
    relay->nvalue = item->nvalue;
    relay->fn(relay->ctx, item, created, change);
    /* A plain read, as the fast path would answer it: it may admit the key. */
    if (relay->udp_hook && !relay->reply->refused && !created && !change->set_exptime &&
        !change->win_token && !item->stale && !item->win_token_sent)
        relay->env->udp_read_hit(relay->env->udp_read_ctx, item);
}

enum store_lookup exec_meta_get(const struct exec_ctx *x, const struct request *req,
                                const struct store_meta_read *how, store_meta_fn fn, void *ctx,
                                const struct exec_meta_reply *reply)
{
    const struct proto_env *env = x->env;
    bool hook = x->udp && env->udp_read_hit;
    bool watched = watch_wanted(env->watch, WATCH_FETCHERS);
    struct meta_relay relay = { env, fn, ctx, reply, hook, 0 };
    bool relayed = hook || watched;
    enum store_lookup found = store_get_meta(env->store, req->key, req->nkey, how,
                                             relayed ? relay_meta_item : fn,
                                             relayed ? &relay : ctx);
    /* A T on a miss is not a touch: memcached learns of it only on a hit. */
    if (!reply->refused)
        exec_count_lookup(x->stats, found, found == STORE_HIT && reply->touched);
    if (watched && !reply->refused)
        watch_log_fetch(env->watch, req->key, req->nkey, fetch_status(found), relay.nvalue,
                        x->fd);
    return found;
}

void exec_meta_delta(const struct exec_ctx *x, const struct request *req,
                     const struct store_delta_meta *how, store_meta_fn fn, void *ctx,
                     const struct exec_meta_reply *reply, struct exec_result *res)
{
    enum store_status st = store_delta_meta(x->env->store, req->key, req->nkey, how,
                                            &res->number, NULL, fn, ctx);
    if (!(st == STORE_DELTA_OK && reply->refused))
        exec_count_delta(x->stats, how->incr, st, reply->created);
    res->status = status_of(st);
}

void exec_stats_reset(const struct exec_ctx *x)
{
    stats_reset(x->env->server_stats);
    prefix_stats_clear(x->env->prefix_stats);
    if (x->env->watch)
        watch_reset_stats(x->env->watch);
}

void exec_stats_detail(const struct exec_ctx *x, bool on)
{
    prefix_stats_enable(x->env->prefix_stats, on);
}
