/* proto_bin.c - memcached's binary protocol: each request is parsed
 * (bin_parse.c), run by the executor (exec.c), and its reply composed here,
 * with memcached 1.6.18's status codes and error texts: a quiet command's
 * errors are still sent, its successes are not.
 *
 * A request runs once its header, extras and key are in; the checks that
 * memcached makes then (lengths, key size, item size) answer at that point.
 * A storage request then waits for its value (bin_value_pending, like
 * memcached's conn_nread) and runs as a whole. */
#define _GNU_SOURCE /* mempcpy */
#include "proto_bin.h"

#include <endian.h>
#include <string.h>

#include "bin_parse.h"
#include "exec.h"
#include "settings.h"
#include "stats.h"
#include "stats_report.h"
#include "store.h"

/* One request being run. */
struct bin_request {
    struct proto_conn *pc;
    struct exec_ctx exec;
    struct obuf *out;
    struct bin_parsed p;
};

/* ---- replies ------------------------------------------------------------ */

/* A response header answering r (same opcode and opaque), in wire order. */
static struct bin_header response_header(const struct bin_request *r, uint16_t status,
                                         uint8_t extlen, uint16_t keylen, uint32_t bodylen,
                                         uint64_t cas)
{
    return (struct bin_header){
        .magic = BIN_MAGIC_RESPONSE, .opcode = r->p.h.opcode, .keylen = htobe16(keylen),
        .extlen = extlen, .status = htobe16(status), .bodylen = htobe32(bodylen),
        .opaque = htobe32(r->p.h.opaque), .cas = htobe64(cas),
    };
}

static void put_header(struct bin_request *r, uint16_t status, uint8_t extlen, uint16_t keylen,
                       uint32_t bodylen, uint64_t cas)
{
    struct bin_header h = response_header(r, status, extlen, keylen, bodylen, cas);
    obuf_append(r->out, &h, sizeof(h));
}

/* memcached's write_bin_error: sent even for quiet commands. With bytes to
 * swallow the replies wait until they are gone; otherwise memcached
 * transmits right away. */
static void reply_error(struct bin_request *r, enum bin_status status, const char *text,
                        size_t swallow)
{
    if (!text) {
        switch (status) {
        case BIN_ENOMEM: text = "Out of memory"; break;
        case BIN_UNKNOWN_COMMAND: text = "Unknown command"; break;
        case BIN_KEY_ENOENT: text = "Not found"; break;
        case BIN_EINVAL: text = "Invalid arguments"; break;
        case BIN_KEY_EEXISTS: text = "Data exists for key."; break;
        case BIN_E2BIG: text = "Too large."; break;
        case BIN_DELTA_BADVAL: text = "Non-numeric server-side value for incr or decr"; break;
        case BIN_NOT_STORED: text = "Not stored."; break;
        case BIN_AUTH_ERROR: text = "Auth failure."; break;
        default: text = ""; break;
        }
    }
    size_t len = strlen(text);
    put_header(r, status, 0, 0, (uint32_t)len, 0);
    obuf_append(r->out, text, len);
    if (swallow > 0)
        r->pc->swallow = swallow;
    else
        r->pc->transmit = true;
}

/* memcached's write_bin_response: success, suppressed for quiet commands. */
static void reply_ok(struct bin_request *r, const void *body, uint32_t nbody, uint64_t cas)
{
    if (r->p.quiet)
        return;
    put_header(r, BIN_SUCCESS, 0, 0, nbody, cas);
    if (nbody > 0)
        obuf_append(r->out, body, nbody);
}

static struct store *store_of(const struct bin_request *r)
{
    return r->pc->env->store;
}

/* ---- get, getk, touch, gat, gatk and their quiet forms -------------------- */

struct hit_writer {
    struct bin_request *r;
    bool with_key;
    bool with_value;
};

/* Runs under the store's shard lock: only copies bytes out. */
static void write_hit(void *ctx, const struct item_view *it)
{
    struct hit_writer *w = ctx;
    uint16_t keylen = w->with_key ? (uint16_t)it->nkey : 0;
    size_t nvalue = w->with_value ? it->nvalue : 0;
    uint32_t flags = htobe32(it->flags);
    uint32_t bodylen = (uint32_t)(sizeof(flags) + keylen + nvalue);
    struct bin_header h = response_header(w->r, BIN_SUCCESS, sizeof(flags), keylen, bodylen,
                                          it->cas);
    /* One reservation for the header, flags and key; the value follows. */
    size_t head = sizeof(h) + sizeof(flags) + keylen;
    char *p = obuf_reserve(w->r->out, head);
    if (!p)
        return;
    p = mempcpy(p, &h, sizeof(h));
    p = mempcpy(p, &flags, sizeof(flags));
    memcpy(p, it->key, keylen);
    obuf_commit(w->r->out, head);
    if (w->with_value)
        obuf_append_value(w->r->out, store_of(w->r), it);
}

static void run_get_or_touch(struct bin_request *r)
{
    struct hit_writer writer = { .r = r, .with_key = r->p.with_key,
                                 .with_value = r->p.with_value };
    const struct request *req = &r->p.req;
    enum store_lookup found = exec_get(&r->exec, req, req->key, req->nkey, write_hit, &writer);
    if (found == STORE_HIT || r->p.quiet)
        return;
    if (writer.with_key) {
        /* A keyed miss carries the key and is not an error to transmit. */
        put_header(r, BIN_KEY_ENOENT, 0, (uint16_t)req->nkey, (uint32_t)req->nkey, 0);
        obuf_append(r->out, req->key, req->nkey);
    } else {
        reply_error(r, BIN_KEY_ENOENT, NULL, 0);
    }
}

/* ---- storage ---------------------------------------------------------------- */

/* The error reply of a failed executor status; out of memory names what
 * ran out (memcached's texts differ by command). */
static void reply_failure(struct bin_request *r, enum exec_status status, const char *no_memory)
{
    switch (status) {
    case EXEC_EXISTS:
        reply_error(r, BIN_KEY_EEXISTS, NULL, 0);
        break;
    case EXEC_NOT_FOUND:
        reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        break;
    case EXEC_NON_NUMERIC:
        reply_error(r, BIN_DELTA_BADVAL, NULL, 0);
        break;
    case EXEC_NO_MEMORY:
        reply_error(r, BIN_ENOMEM, no_memory, 0);
        break;
    default:
        reply_error(r, BIN_NOT_STORED, NULL, 0);
        break;
    }
}

/* memcached's complete_update_bin: what a finished store answers. A join
 * that fails other than by its CAS is NOT_STORED; add and replace answer
 * their own not-stored status. */
static void reply_store(struct bin_request *r, const struct exec_result *res)
{
    enum store_mode mode = r->p.req.mode;
    enum exec_status status = res->status;

    if ((mode == STORE_APPEND || mode == STORE_PREPEND) && status != EXEC_DONE &&
        status != EXEC_EXISTS)
        status = EXEC_NOT_STORED;
    if (status == EXEC_NOT_STORED && mode == STORE_ADD)
        status = EXEC_EXISTS;
    else if (status == EXEC_NOT_STORED && mode == STORE_REPLACE)
        status = EXEC_NOT_FOUND;
    if (status == EXEC_DONE)
        reply_ok(r, NULL, 0, res->cas);
    else
        reply_failure(r, status, "Out of memory allocating item");
}

/* A storage command: refused at once when it can never fit (memcached says
 * so before reading the value, then swallows it), or run once its value is
 * in. Returns the bytes used, 0 while the value is incomplete. */
static size_t run_store(struct bin_request *r, const char *in, size_t len)
{
    struct proto_conn *pc = r->pc;
    struct request *req = &r->p.req;
    size_t head = r->p.head;

    if (!pc->bin_value_pending && !exec_store_admit(&r->exec, req)) {
        obuf_resp_start(r->out);
        reply_error(r, BIN_E2BIG, NULL, req->nvalue);
        return head;
    }
    if (len - head < req->nvalue) {
        pc->bin_value_pending = true;
        pc->need = head + req->nvalue;
        return 0;
    }
    pc->bin_value_pending = false;
    req->value = in + head;
    obuf_resp_start(r->out);
    struct exec_result res;
    exec_store(&r->exec, req, &res);
    reply_store(r, &res);
    return head + req->nvalue;
}

/* ---- other commands ------------------------------------------------------------ */

static void reply_delta(struct bin_request *r, const struct exec_result *res)
{
    if (res->status == EXEC_NUMBER) {
        uint64_t body = htobe64(res->number);
        reply_ok(r, &body, sizeof(body), res->cas);
    } else {
        reply_failure(r, res->status, res->created ? "Out of memory allocating new item"
                                                   : "Out of memory incrementing value");
    }
}

/* delete, incr/decr, flush: run by the executor. */
static void run_command(struct bin_request *r)
{
    struct exec_result res;
    exec_run(&r->exec, &r->p.req, &res);
    switch (r->p.req.type) {
    case REQ_DELTA:
        reply_delta(r, &res);
        break;
    case REQ_FLUSH:
        if (res.status == EXEC_NOT_ALLOWED)
            reply_error(r, BIN_AUTH_ERROR, NULL, 0);
        else
            reply_ok(r, NULL, 0, 0);
        break;
    default: /* delete: anything but a CAS mismatch is not found */
        if (res.status == EXEC_DONE)
            reply_ok(r, NULL, 0, 0);
        else
            reply_failure(r, res.status == EXEC_EXISTS ? EXEC_EXISTS : EXEC_NOT_FOUND, NULL);
        break;
    }
}

static void run_version(struct bin_request *r)
{
    static const char version[] = XDPCACHED_PROTOCOL_VERSION;
    reply_ok(r, version, sizeof(version) - 1, 0);
}

/* Each stat is a packet of its own with the name as key; an empty packet
 * ends the list. */
struct bin_stats_sink {
    struct stats_sink sink;
    struct bin_request *r;
};

static void put_stat(struct bin_request *r, const char *name, size_t nname, const char *value,
                     size_t nvalue)
{
    put_header(r, BIN_SUCCESS, 0, (uint16_t)nname, (uint32_t)(nname + nvalue), 0);
    obuf_append(r->out, name, nname);
    obuf_append(r->out, value, nvalue);
}

static void emit_stat_packet(struct stats_sink *sink, const char *name, const char *value)
{
    put_stat(((struct bin_stats_sink *)sink)->r, name, strlen(name), value, strlen(value));
}

/* "detail dump": one packet "detailed" holding the text protocol's dump. */
static bool put_detail_dump(struct bin_request *r)
{
    struct obuf dump;
    obuf_init(&dump);
    bool ok = stats_report_prefix_dump(r->pc->env->prefix_stats, &dump);
    if (ok)
        put_stat(r, "detailed", 8, dump.data, dump.len);
    obuf_free(&dump);
    return ok;
}

static bool key_starts_with(const struct bin_request *r, const char *word)
{
    size_t n = strlen(word);
    return r->p.h.keylen >= n && memcmp(r->p.req.key, word, n) == 0;
}

/* "detail on|off|dump": false for another argument. memcached compares
 * prefixes, so "detail onward" is "detail on". */
static bool run_stats_detail(struct bin_request *r)
{
    if (key_starts_with(r, "detail dump")) {
        if (!put_detail_dump(r)) {
            reply_error(r, BIN_ENOMEM, "Out of memory generating stats", 0);
            return true;
        }
    } else if (key_starts_with(r, "detail on") || key_starts_with(r, "detail off")) {
        exec_stats_detail(&r->exec, r->p.req.key[8] == 'n');
    } else {
        return false;
    }
    put_stat(r, "", 0, "", 0);
    return true;
}

static void run_stat(struct bin_request *r)
{
    const struct proto_env *env = r->pc->env;
    struct bin_stats_sink sink = { { emit_stat_packet }, r };
    char group[STORE_KEY_MAX + 1];

    /* memcached matches these by prefix, the groups below exactly. */
    if (key_starts_with(r, "reset")) {
        exec_stats_reset(&r->exec);
    } else if (key_starts_with(r, "settings")) {
        stats_report(env, "settings", &sink.sink);
    } else if (key_starts_with(r, "detail")) {
        if (!run_stats_detail(r))
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        return;
    } else {
        memcpy(group, r->p.req.key, r->p.h.keylen);
        group[r->p.h.keylen] = '\0';
        /* A NUL inside the key would make it another group. */
        if (memchr(r->p.req.key, '\0', r->p.h.keylen) || !stats_report(env, group, &sink.sink)) {
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
            return;
        }
        /* the general list and every group end with the empty packet */
    }
    put_stat(r, "", 0, "", 0);
}

/* ---- dispatch ------------------------------------------------------------------- */

/* A parsed request other than a storage one. */
static void run_request(struct bin_request *r)
{
    obuf_resp_start(r->out);
    if (r->p.error != BIN_SUCCESS) {
        reply_error(r, r->p.error, NULL, r->p.swallow);
        r->pc->close_after_write = r->p.close_after;
        return;
    }
    switch (r->p.req.type) {
    case REQ_GET: run_get_or_touch(r); break;
    case REQ_VERSION: run_version(r); break;
    case REQ_STATS: run_stat(r); break;
    case REQ_NOOP:
        reply_ok(r, NULL, 0, 0);
        r->pc->transmit = true;   /* noop ends a pipeline of quiet commands */
        break;
    case REQ_QUIT:
        reply_ok(r, NULL, 0, 0);
        r->pc->close_after_write = true;
        r->pc->transmit = true;
        break;
    default: run_command(r); break;
    }
}

size_t proto_bin_run(struct proto_conn *pc, const char *in, size_t len, struct obuf *out,
                     bool *completed)
{
    pc->need = 0;
    pc->transmit = false;
    *completed = false;
    if (pc->swallow > 0) {
        size_t n = len < pc->swallow ? len : pc->swallow;
        pc->swallow -= n;
        return n;
    }
    struct bin_request r;
    r.pc = pc;
    r.exec = (struct exec_ctx){ pc->env, pc->stats, pc->udp, pc->requester.fd };
    r.out = out;
    switch (bin_parse(in, len, &r.p)) {
    case BIN_NEED_MORE:
        pc->need = r.p.need;
        return 0;
    case BIN_CLOSE:
        /* memcached closes at once: what it has not transmitted is lost. */
        pc->close_now = true;
        return 0;
    case BIN_PARSED:
        break;
    }
    size_t used = r.p.head;
    if (r.p.error == BIN_SUCCESS && r.p.req.type == REQ_STORE)
        used = run_store(&r, in, len);
    else
        run_request(&r);
    *completed = used > 0;
    return used;
}
