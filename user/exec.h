/* exec.h - the executor: runs a parsed request (request.h) against the
 * store, the same for the text, meta and binary protocols.
 *
 * Every per-command rule lives here once: what is counted (get/touch/CAS/
 * incr/decr/delete/set counters, prefix stats), the CAS rules, what a failed
 * store leaves behind, flush_all's delay, the fast path's read hook. The
 * result is a status the protocols' composers turn into bytes. Knows nothing
 * of wire formats (it depends on the store, the counters and the settings,
 * so no cycle goes through it). */
#ifndef XDPCACHED_EXEC_H
#define XDPCACHED_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"
#include "store.h"

struct authfile;
struct watch_hub;
struct prefix_stats;
struct settings;
struct server_stats;
struct thread_stats;

/* What every connection of the server shares. */
struct proto_env {
    struct store *store;
    struct settings *settings;          /* verbosity is changed at run time */
    struct server_stats *server_stats;
    struct prefix_stats *prefix_stats;  /* stats detail */
    void (*shutdown)(void);             /* `shutdown` command (with -A) */
    /* Told of each get/gets hit served over UDP, under the store's lock (the
     * XDP fast path admits hot keys from here); NULL = no one listens. */
    void (*udp_read_hit)(void *ctx, const struct item_view *item);
    void *udp_read_ctx;
    struct authfile *auth;              /* -Y's users; NULL: no authentication */
    struct watch_hub *watch;            /* `watch`; NULL when -W turned it off */
};

/* Who runs a request: the server, the worker's counters, and whether the
 * request came over UDP (the fast path hears of UDP reads only). */
struct exec_ctx {
    const struct proto_env *env;
    struct thread_stats *stats;
    bool udp;
    int fd;                 /* the socket the request came on: `watch` names it */
};

enum exec_status {
    EXEC_DONE,          /* stored, deleted, touched, flushed, ... */
    EXEC_NOT_STORED,
    EXEC_EXISTS,
    EXEC_NOT_FOUND,
    EXEC_NUMBER,        /* incr/decr: the new value is in number */
    EXEC_NON_NUMERIC,
    EXEC_NO_MEMORY,
    EXEC_NOT_ALLOWED,   /* flush_all without -F... / shutdown without -A */
    EXEC_BAD_ARG,       /* the request's arg_error */
    EXEC_LIMIT_TOO_SMALL,   /* cache_memlimit below memcached's 8 MB */
    EXEC_LIMIT_NOT_MB,      /* cache_memlimit over 10^9: bytes taken for megabytes */
};

struct exec_result {
    enum exec_status status;
    uint64_t number;
    uint64_t cas;
    bool created;       /* a binary incr/decr created its counter (or failed to) */
};

/* Writes a hit's reply; called under the store's shard lock. */
typedef void (*exec_hit_fn)(void *ctx, const struct item_view *item);

/* Looks up one key of a get/gets/gat/gats (req->touch, req->exptime) and
 * counts it; hit (may be NULL: count only) writes the reply of a hit. A
 * get/gets over UDP also goes to the fast path's read hook. */
enum store_lookup exec_get(const struct exec_ctx *x, const struct request *req,
                           const char *key, size_t nkey, exec_hit_fn hit, void *hit_ctx);

/* A storage command's line has been read: counts its prefix and checks
 * that the item can fit at all. False when it never can: counted, and a set
 * drops the key's old value (its data block is then to be swallowed). */
bool exec_store_admit(const struct exec_ctx *x, const struct request *req);

/* A storage command with its data block (req->value): stores it and counts.
 * A result's cas is the new item's. */
void exec_store(const struct exec_ctx *x, const struct request *req, struct exec_result *res);

/* incr/decr, delete (md too), touch, flush_all, verbosity, shutdown,
 * cache_memlimit: runs req. */
void exec_run(const struct exec_ctx *x, const struct request *req, struct exec_result *res);

/* What a meta command's reply writer (its store_meta_fn, run under the
 * shard lock) tells the executor about the request. */
struct exec_meta_reply {
    bool refused;       /* the reply became an error (an opaque too long):
                           memcached counts nothing for it */
    bool touched;       /* mg: a T was applied, counted as a touch */
    bool created;       /* ma: the counter was created (N), not counted as a hit */
};

/* mg: reads req's key as `how` says, fn writing the reply; counts it, and
 * tells the fast path of a plain read over UDP. */
enum store_lookup exec_meta_get(const struct exec_ctx *x, const struct request *req,
                                const struct store_meta_read *how, store_meta_fn fn, void *ctx,
                                const struct exec_meta_reply *reply);

/* ma: the arithmetic `how` says on req's key, fn writing the reply of a
 * changed or created counter; counts it. */
void exec_meta_delta(const struct exec_ctx *x, const struct request *req,
                     const struct store_delta_meta *how, store_meta_fn fn, void *ctx,
                     const struct exec_meta_reply *reply, struct exec_result *res);

/* stats reset, stats detail on|off. */
void exec_stats_reset(const struct exec_ctx *x);
void exec_stats_detail(const struct exec_ctx *x, bool on);

#endif
