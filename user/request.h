/* request.h - one request as a parser hands it to the executor, whatever
 * the protocol it came in: what to do, to which key, with which arguments.
 *
 * Parsers (text_parse.c, ...) fill it from the request's bytes and know
 * nothing of the store; the executor (exec.c) runs it and knows nothing of
 * the bytes. Pointers (key, value) point into the caller's input. */
#ifndef XDPCACHED_REQUEST_H
#define XDPCACHED_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "store.h"

enum request_type {
    REQ_ERROR,          /* malformed: reply `error` (text), nothing runs */
    REQ_GET,            /* get/gets/gat/gats: one or more keys */
    REQ_STORE,          /* set, add, replace, append, prepend, cas (mode) */
    REQ_DELTA,          /* incr/decr */
    REQ_DELETE,
    REQ_TOUCH,
    REQ_FLUSH,
    REQ_VERSION,
    REQ_NOOP,           /* binary noop */
    REQ_QUIT,
    REQ_VERBOSITY,
    REQ_CACHE_MEMLIMIT, /* text only: cache_memlimit <megabytes> */
    REQ_STATS,          /* `group` names the stats group ("" for plain stats) */
    REQ_SHUTDOWN,
    REQ_LRU_CRAWLER,    /* text only: the arguments are the parser's tokens */
    REQ_META,           /* text only: mg ms md ma mn me, as tokens */
    REQ_WATCH,          /* text only: watch [kinds]; `watch_kinds` */
    REQ_TUNING,         /* text only: slabs automove, lru tune|mode|temp_ttl: a
                           valid setting of memcached's slab mover or LRU, which
                           xdpcached does not have (tuning.h) */
    REQ_SLABS_REASSIGN, /* text only: slabs reassign <src> <dst> */
};

struct request {
    enum request_type type;
    bool noreply;           /* text noreply: the reply is suppressed */
    bool with_cas;          /* gets, gats: the reply carries the CAS */
    bool touch;             /* gat, gats: the lookup also sets exptime */
    bool incr;              /* REQ_DELTA: incr (else decr) */
    bool key_binary;        /* meta b: the key came base64-encoded */
    bool invalidate;        /* meta I: a CAS older than the item's stores it stale */
    /* A store that fails (too large, out of memory) drops the key's old
     * value whatever the mode, as memcached's ms does; otherwise only a set
     * does. */
    bool failure_drops_old;
    bool no_detail_stats;   /* meta commands: not counted by stats detail */
    bool compare_cas;       /* REQ_DELETE: cas must match, 0 included (md C) */
    bool set_exptime;       /* REQ_DELETE with invalidate: exptime is the new one (md T) */
    bool cas_mismatch_is_miss; /* REQ_DELETE: a CAS mismatch counts as a miss (md) */
    /* Came in the binary protocol: memcached's binary rules apply (exec.c:
     * its CAS with -C, what a failed update counts, flush_all's counting,
     * no fast path). */
    bool binary;
    bool has_initial;       /* REQ_DELTA: a miss creates the counter at `initial` */
    uint64_t initial;
    enum store_mode mode;   /* REQ_STORE */
    const char *key;
    size_t nkey;
    uint32_t flags;
    rel_time_t exptime;     /* already as the store keeps it */
    uint64_t cas;
    uint64_t delta;
    int64_t flush_delay;    /* REQ_FLUSH: memcached's delay rules (exec_flush) */
    uint32_t verbosity;
    uint32_t memlimit_mb;   /* REQ_CACHE_MEMLIMIT */
    unsigned watch_kinds;   /* REQ_WATCH: enum watch_kind bits */
    int32_t reassign_src, reassign_dst; /* REQ_SLABS_REASSIGN: slab class ids */
    size_t nvalue;          /* REQ_STORE: the data block's length, CRLF excluded */
    const char *value;      /* REQ_STORE once the data block is in */
    const char *group;      /* REQ_STATS */
    /* An argument memcached rejects only after checks it makes first
     * (flush_all: enabled? shutdown: enabled?): the executor reports it at
     * that point. NULL when all is well. */
    const char *arg_error;
    const char *error;      /* REQ_ERROR: the reply line */
};

#endif
