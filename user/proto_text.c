/* proto_text.c - memcached's text protocol: each request line is parsed
 * (text_parse.c), run by the executor (exec.c), and its reply composed
 * here; meta commands go to proto_meta.c, lru_crawler to lru_crawler.c,
 * slabs and lru to tuning.c, cachedump to keydump.c. Also runs a get's long key list in parts and waits for a
 * storage command's data block. Replies are memcached 1.6.18's, byte for
 * byte. */
#include "proto_text.h"

#include <stdio.h>
#include <string.h>

#include "exec.h"
#include "keydump.h"
#include "lru_crawler.h"
#include "proto_meta.h"
#include "text_common.h"
#include "settings.h"
#include "stats.h"
#include "stats_report.h"
#include "store.h"
#include "text_parse.h"
#include "tuning.h"
#include "watch.h"
#include "wire.h"

/* ---- retrieval ------------------------------------------------------------- */

struct value_writer {
    struct obuf *out;
    struct store *store;
    bool with_cas;
};

/* Runs under the store's shard lock: copies the VALUE line and references
 * (or copies, when small) the value. The line comes from the same
 * formatter as the XDP cache entries (wire.h), so that the fast path's
 * replies are these bytes. */
static void write_value(void *ctx, const struct item_view *it)
{
    struct value_writer *w = ctx;
    char *line = obuf_reserve(w->out, WIRE_VALUE_LINE_MAX);
    if (!line)
        return;
    obuf_commit(w->out, wire_value_line(line, it, w->with_cas));
    obuf_append_value(w->out, w->store, it);
    obuf_append(w->out, "\r\n", 2);
}

/* A retrieval's replies are written in parts of about this many bytes of
 * buffer (values sent by reference count as their reference); over UDP also
 * of reply: a part's datagrams are sent before the next part runs, so that
 * a part of a few big values is a short delay for the worker's other
 * clients. */
#define RETRIEVAL_PART (64 * 1024)

/* What the output buffer holds for its content (not its capacity). */
static size_t out_footprint(const struct obuf *out)
{
    return out->data_len + out->nrefs * sizeof(struct obuf_ref) + out->nresp * sizeof(size_t);
}

/* Whether a key from `key` on is too long: the rest of this tokenizer pass,
 * then the untokenized remainder of the line. */
static bool later_key_too_long(const struct text_token *key)
{
    for (; key->length != 0; key++)
        if (key->length > STORE_KEY_MAX)
            return true;
    size_t run = 0;
    for (const char *p = key->value; p && *p; p++) {
        run = *p == ' ' ? 0 : run + 1;
        if (run > STORE_KEY_MAX)
            return true;
    }
    return false;
}

/* Ends this part of a retrieval before `key`. The spaces the tokenizer
 * replaced from there to the end of its pass come back, so that the next
 * part tokenizes the rest of the line afresh. */
static void suspend_retrieval(struct text_request *r, const struct request *req,
                              const struct text_token *key)
{
    struct text_retrieval *g = &r->pc->retrieval;
    const struct text_token *last = key;
    while (last[1].length != 0)
        last++;
    size_t from = (size_t)(key->value - r->p.line);
    size_t to = (size_t)(last->value - r->p.line) + last->length + 1; /* its terminator too */
    for (size_t i = from; i < to && i < r->p.line_end; i++)
        if (r->p.line[i] == '\0')
            r->p.line[i] = ' ';
    if (req != &g->req)
        g->req = *req;
    g->next = from;
    g->line_end = r->p.line_end;
    g->active = true;
    r->pc->transmit = true;
}

/* get, gets, gat, gats from `key` on: every key after the first starts a
 * response of its own (this shows over UDP); the key list may span several
 * tokenizer passes. Once a part's replies are big enough the retrieval is
 * suspended, unless a later key is too long: then memcached drops the whole
 * reply, so the rest is only looked up (and counted), not written. */
static void retrieve_keys(struct text_request *r, const struct request *req,
                          struct text_token *key, size_t get_start)
{
    struct text_retrieval *g = &r->pc->retrieval;
    struct value_writer writer = { r->out, r->pc->env->store, req->with_cas };
    exec_hit_fn write = write_value;
    size_t part_start = out_footprint(r->out);
    size_t part_start_len = r->out->len;

    g->active = false;
    for (;;) {
        for (; key->length != 0; key++) {
            if (key->length > STORE_KEY_MAX) {
                /* Drop this command's partial reply, as memcached does. */
                r->resp_off = get_start;
                text_reply(r, "CLIENT_ERROR bad command line format");
                return;
            }
            if (write && (out_footprint(r->out) - part_start >= RETRIEVAL_PART ||
                          (r->pc->udp && r->out->len - part_start_len >= RETRIEVAL_PART))) {
                if (g->keys_checked || !later_key_too_long(key)) {
                    g->keys_checked = true;
                    suspend_retrieval(r, req, key);
                    return;
                }
                write = NULL;
            }
            exec_get(&r->exec, req, key->value, key->length, write, &writer);
            if (key[1].length != 0 && write)
                text_resp_start(r);
        }
        if (key->value == NULL)
            break;
        r->p.ntokens = text_tokenize(key->value, strlen(key->value), r->p.tokens,
                                     TEXT_MAX_TOKENS);
        key = r->p.tokens;
        if (write)
            text_resp_start(r);
    }
    obuf_append(r->out, "END\r\n", 5);
    r->pc->transmit = true;
}

static void run_retrieval(struct text_request *r)
{
    r->pc->retrieval.keys_checked = false;
    retrieve_keys(r, &r->p.req, &r->p.tokens[r->p.first_key], r->resp_off);
}

/* The next part of a suspended retrieval; line is the request's first byte. */
static void resume_retrieval(struct text_request *r, char *line)
{
    struct text_retrieval *g = &r->pc->retrieval;
    r->p.line = line;
    r->p.line_end = g->line_end;
    r->p.ntokens = text_tokenize(line + g->next, strlen(line + g->next), r->p.tokens,
                                 TEXT_MAX_TOKENS);
    retrieve_keys(r, &g->req, r->p.tokens, r->resp_off);
}

/* ---- storage --------------------------------------------------------------- */

/* The command line of set/add/replace/append/prepend/cas. An admitted one
 * leaves the connection waiting for the data block (pending); an item that
 * can never fit is refused at once and its data swallowed. */
static void begin_store(struct text_request *r)
{
    struct pending_store *p = &r->pc->pending;
    const struct request *req = &r->p.req;

    /* The reply goes out as a response of its own once the data block has
     * been read, or swallowed. */
    obuf_truncate(r->out, r->resp_off);
    if (!exec_store_admit(&r->exec, req)) {
        r->pc->swallow = req->nvalue + 2;
        if (!req->noreply)
            r->pc->swallow_reply = "SERVER_ERROR object too large for cache";
        return;
    }
    p->active = true;
    p->meta = false;
    p->req = *req;
    memcpy(p->key, req->key, req->nkey);
}

static const char *store_reply(enum exec_status status)
{
    switch (status) {
    case EXEC_DONE: return "STORED";
    case EXEC_EXISTS: return "EXISTS";
    case EXEC_NOT_FOUND: return "NOT_FOUND";
    case EXEC_NO_MEMORY: return "SERVER_ERROR out of memory storing object";
    default: return "NOT_STORED";
    }
}

/* The data block of a pending storage command (text or meta) is in
 * data[0, nvalue + 2). */
static void finish_store(struct text_request *r, const char *data)
{
    struct pending_store *p = &r->pc->pending;
    struct request *req = &p->req;
    struct exec_result res;

    p->active = false;
    req->key = p->key;
    req->value = data;
    req->arg_error = text_data_ok(data, req->nvalue) ? NULL : "CLIENT_ERROR bad data chunk";
    r->noreply = req->noreply;
    exec_store(&r->exec, req, &res);
    if (res.status == EXEC_BAD_ARG) {
        if (p->meta)
            r->noreply = false; /* a meta set reports every error */
        text_reply(r, req->arg_error);
    } else if (p->meta) {
        proto_meta_finish_set(r, &res);
    } else {
        text_reply(r, store_reply(res.status));
    }
}

/* ---- other commands ------------------------------------------------------- */

/* The reply of incr/decr, delete, touch, flush_all, verbosity, shutdown,
 * cache_memlimit. */
static const char *command_reply(const struct request *req, const struct exec_result *res,
                                 char *number, size_t nnumber)
{
    switch (res->status) {
    case EXEC_DONE:
        switch (req->type) {
        case REQ_DELETE: return "DELETED";
        case REQ_TOUCH: return "TOUCHED";
        default: return "OK";
        }
    case EXEC_NUMBER:
        snprintf(number, nnumber, "%llu", (unsigned long long)res->number);
        return number;
    case EXEC_NOT_FOUND: return "NOT_FOUND";
    case EXEC_NON_NUMERIC: return "CLIENT_ERROR cannot increment or decrement non-numeric value";
    case EXEC_NOT_ALLOWED:
        return req->type == REQ_FLUSH ? "CLIENT_ERROR flush_all not allowed"
                                      : "ERROR: shutdown not enabled";
    case EXEC_BAD_ARG: return req->arg_error;
    case EXEC_LIMIT_TOO_SMALL: return "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m";
    case EXEC_LIMIT_NOT_MB: return "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes";
    default: return "SERVER_ERROR out of memory";
    }
}

static void run_command(struct text_request *r)
{
    const struct request *req = &r->p.req;
    struct exec_result res;
    char number[24];

    exec_run(&r->exec, req, &res);
    /* A shutdown that ran closes this connection: nothing more is sent. */
    if (req->type == REQ_SHUTDOWN && res.status == EXEC_DONE) {
        r->pc->close_now = true;
        return;
    }
    text_reply(r, command_reply(req, &res, number, sizeof(number)));
}

/* Collects stat lines into the reply. */
struct text_sink {
    struct stats_sink sink;
    struct obuf *out;
};

static void emit_stat_line(struct stats_sink *sink, const char *name, const char *value)
{
    struct obuf *out = ((struct text_sink *)sink)->out;
    obuf_append(out, "STAT ", 5);
    obuf_puts(out, name);
    obuf_append(out, " ", 1);
    obuf_puts(out, value);
    obuf_append(out, "\r\n", 2);
}

/* stats detail on|off|dump */
static void run_stats_detail(struct text_request *r)
{
    const char *arg = r->p.ntokens >= 4 ? r->p.tokens[2].value : "";

    if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
        exec_stats_detail(&r->exec, arg[1] == 'n');
        text_reply(r, "OK");
    } else if (strcmp(arg, "dump") == 0) {
        if (!stats_report_prefix_dump(r->pc->env->prefix_stats, r->out))
            text_reply(r, "SERVER_ERROR out of memory writing stats");
    } else {
        text_reply(r, "CLIENT_ERROR usage: stats detail on|off|dump");
    }
}

static void run_stats(struct text_request *r)
{
    const char *group = r->p.req.group;
    struct text_sink ts = { { emit_stat_line }, r->out };

    if (strcmp(group, "reset") == 0) {
        exec_stats_reset(&r->exec);
        text_reply(r, "RESET");
        return;
    }
    if (strcmp(group, "detail") == 0) {
        run_stats_detail(r);
        return;
    }
    if (strcmp(group, "cachedump") == 0) {
        keydump_cachedump(r);
        return;
    }
    if (strcmp(group, "conns") == 0) {
        if (stats_report_conns(r->pc->env, &r->pc->requester, &ts.sink))
            obuf_append(r->out, "END\r\n", 5);
        else
            text_reply(r, "SERVER_ERROR out of memory writing stats");
        return;
    }
    if (!stats_report(r->pc->env, group, &ts.sink)) {
        text_reply(r, "ERROR");
        return;
    }
    obuf_append(r->out, "END\r\n", 5);
}

/* watch: the connection becomes a watcher; its "OK" and log lines go out
 * through the hub once the replies before it are sent (conn.c). */
static void run_watch(struct text_request *r)
{
    struct watch_hub *hub = r->pc->env->watch;
    if (!hub) {
        text_reply(r, "CLIENT_ERROR watch commands not allowed");
    } else if (r->pc->udp) {
        text_reply(r, "WATCHER_FAILED failed to add log watcher"); /* no connection to keep */
    } else if (!watch_add(hub, r->pc->requester.fd, r->p.req.watch_kinds)) {
        text_reply(r, "WATCHER_TOO_MANY log watcher limit reached");
    } else {
        r->pc->watching = true;
    }
}

/* ---- dispatch -------------------------------------------------------------- */

/* A parsed request line: run it and compose its reply. */
static void run_request(struct text_request *r)
{
    r->noreply = r->p.req.noreply;
    switch (r->p.req.type) {
    case REQ_ERROR: text_reply(r, r->p.req.error); break;
    case REQ_GET: run_retrieval(r); break;
    case REQ_STORE: begin_store(r); break;
    case REQ_VERSION: text_reply(r, "VERSION " XDPCACHED_PROTOCOL_VERSION); break;
    case REQ_QUIT: r->pc->close_after_write = true; break;
    case REQ_STATS: run_stats(r); break;
    case REQ_LRU_CRAWLER: lru_crawler_command(r); break;
    case REQ_TUNING: case REQ_SLABS_REASSIGN: tuning_command(r); break;
    case REQ_META: proto_meta_run(r); break;
    case REQ_WATCH: run_watch(r); break;
    default: run_command(r); break;
    }
}

/* Runs one request at in[0, len); returns the bytes it used, 0 if incomplete. */
static size_t run_one(struct proto_conn *pc, char *in, size_t len, struct obuf *out)
{
    struct text_request r;
    r.pc = pc;
    r.exec = (struct exec_ctx){ pc->env, pc->stats, pc->udp, pc->requester.fd };
    r.out = out;
    r.resp_off = out->len;
    r.noreply = false;

    if (pc->retrieval.active) {
        resume_retrieval(&r, in);
        return pc->retrieval.active ? 0 : pc->retrieval.length;
    }
    if (pc->pending.active) {
        size_t total = pc->pending.req.nvalue + 2;
        if (len < total) {
            pc->need = total;
            return 0;
        }
        finish_store(&r, in);
        return total;
    }
    switch (text_parse(in, len, &r.p)) {
    case TEXT_NEED_MORE:
        pc->need = r.p.need;
        return 0;
    case TEXT_CLOSE:
        pc->close_now = true;
        return 0;
    case TEXT_PARSED:
        break;
    }
    text_resp_start(&r);
    run_request(&r);
    if (pc->retrieval.active) {
        pc->retrieval.length = r.p.used;
        return 0;
    }
    return r.p.used;
}
size_t proto_text_run(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      unsigned max_reqs, unsigned *nreqs)
{
    size_t used = 0;
    unsigned ran = 0;

    pc->need = 0;
    pc->transmit = false;
    while (!pc->close_now && !pc->close_after_write && !pc->watching && !out->oom) {
        if (pc->swallow) {
            size_t n = len - used < pc->swallow ? len - used : pc->swallow;
            if (n == 0)
                break;
            pc->swallow -= n;
            used += n;
            if (pc->swallow == 0 && pc->swallow_reply) {
                obuf_reply_line(out, pc->swallow_reply);
                pc->swallow_reply = NULL;
            }
            continue;
        }
        if (max_reqs && ran == max_reqs)
            break;
        /* Also runs on no input, so that a pending value reports its need. */
        size_t n = run_one(pc, in + used, len - used, out);
        if (n == 0)
            break;
        used += n;
        /* With no value to swallow, the next turn would stop at the limit. */
        if (++ran == max_reqs && !pc->swallow)
            break;
    }
    if (nreqs)
        *nreqs = ran;
    return used;
}
