/* proto_bin.c - memcached's binary protocol over the store.
 *
 * The checks, their order, the status codes and error texts, the counters
 * and which replies the quiet forms suppress follow memcached 1.6.18's
 * proto_bin.c, including its quirks: a quiet command's errors are still
 * sent; an unknown opcode swallows `bodylen` bytes after its key (so its
 * extras and key are counted twice); stat, touch and gat leave any body
 * beyond their key in the stream, where it is read as the next request;
 * verbosity is an unknown command; a request with a CAS turns set, add and
 * replace into a compare-and-swap.
 *
 * A request runs once its header, extras and key are in; the checks that
 * memcached makes then (lengths, key size, item size) answer at that point.
 * A storage request then waits for its value (bin_value_pending, like
 * memcached's conn_nread) and runs as a whole. */
#define _GNU_SOURCE /* mempcpy */
#include "proto_bin.h"

#include <endian.h>
#include <string.h>

#include "clock.h"
#include "decimal.h"
#include "exec.h"
#include "prefix_stats.h"
#include "settings.h"
#include "stats.h"
#include "stats_report.h"
#include "store.h"

/* One request being run; the header fields are in host order. */
struct bin_request {
    struct proto_conn *pc;
    struct obuf *out;
    struct bin_header h;
    uint8_t command;        /* the opcode with quiet forms folded into loud ones */
    bool quiet;             /* successful replies are suppressed */
    const uint8_t *extras;
    const char *key;
    const char *value;      /* storage commands: the rest of the body */
    size_t nvalue;
};

/* ---- wire helpers ------------------------------------------------------ */

static uint32_t load_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return be32toh(v);
}

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

static void parse_header(const char *in, struct bin_header *h)
{
    memcpy(h, in, sizeof(*h));
    h->keylen = be16toh(h->keylen);
    h->status = be16toh(h->status);
    h->bodylen = be32toh(h->bodylen);
    h->opaque = be32toh(h->opaque);
    h->cas = be64toh(h->cas);
}

/* A response header answering r (same opcode and opaque), in wire order. */
static struct bin_header response_header(const struct bin_request *r, uint16_t status,
                                         uint8_t extlen, uint16_t keylen, uint32_t bodylen,
                                         uint64_t cas)
{
    return (struct bin_header){
        .magic = BIN_MAGIC_RESPONSE, .opcode = r->h.opcode, .keylen = htobe16(keylen),
        .extlen = extlen, .status = htobe16(status), .bodylen = htobe32(bodylen),
        .opaque = htobe32(r->h.opaque), .cas = htobe64(cas),
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
    if (r->quiet)
        return;
    put_header(r, BIN_SUCCESS, 0, 0, nbody, cas);
    if (nbody > 0)
        obuf_append(r->out, body, nbody);
}

/* A malformed request: EINVAL, then the connection closes. */
static void reply_protocol_error(struct bin_request *r)
{
    reply_error(r, BIN_EINVAL, NULL, 0);
    r->pc->close_after_write = true;
}

static struct store *store_of(const struct bin_request *r)
{
    return r->pc->env->store;
}

/* memcached's realtime() of an unsigned 32-bit expiration field. */
static rel_time_t expiry_of(const uint8_t *field)
{
    return clock_realtime((int64_t)load_be32(field));
}

/* A request's CAS for set/add/replace and append/prepend: compared by the
 * store when not 0. Without CAS (-C) memcached compares nothing for them, as
 * it cannot keep the request's CAS on the new item (delete and incr/decr
 * still compare, so a non-zero CAS never matches an item's 0 there). */
static uint64_t compared_cas(const struct bin_request *r)
{
    return r->pc->env->settings->use_cas ? r->h.cas : 0;
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
    bool touch = r->command == BIN_TOUCH || r->command == BIN_GAT || r->command == BIN_GATK;
    struct hit_writer writer = {
        .r = r, .with_key = r->command == BIN_GETK || r->command == BIN_GATK,
        .with_value = r->command != BIN_TOUCH,
    };
    rel_time_t exptime = touch ? expiry_of(r->extras) : 0;
    enum store_lookup found = store_get(store_of(r), r->key, r->h.keylen,
                                        touch ? &exptime : NULL, write_hit, &writer);
    exec_count_lookup(r->pc->stats, found, touch);
    if (found != STORE_HIT && !r->quiet) {
        if (writer.with_key) {
            /* A keyed miss carries the key and is not an error to transmit. */
            put_header(r, BIN_KEY_ENOENT, 0, r->h.keylen, r->h.keylen, 0);
            obuf_append(r->out, r->key, r->h.keylen);
        } else {
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        }
    }
    prefix_stats_record(r->pc->env->prefix_stats, r->key, r->h.keylen,
                        found == STORE_HIT ? PREFIX_GET_HIT : PREFIX_GET_MISS);
}

/* ---- storage ---------------------------------------------------------------- */

/* memcached's complete_update_bin: what a finished store answers. */
static void reply_store(struct bin_request *r, enum store_mode mode, enum store_status st,
                        uint64_t cas)
{
    switch (st) {
    case STORE_STORED:
        reply_ok(r, NULL, 0, cas);
        break;
    case STORE_EXISTS:
        reply_error(r, BIN_KEY_EEXISTS, NULL, 0);
        break;
    case STORE_NOT_FOUND:
        reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        break;
    default:
        if (mode == STORE_ADD)
            reply_error(r, BIN_KEY_EEXISTS, NULL, 0);
        else if (mode == STORE_REPLACE)
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        else
            reply_error(r, BIN_NOT_STORED, NULL, 0);
        break;
    }
}

static void run_update(struct bin_request *r)
{
    static const enum store_mode modes[] = {
        [BIN_SET] = STORE_SET, [BIN_ADD] = STORE_ADD, [BIN_REPLACE] = STORE_REPLACE,
    };
    enum store_mode mode = modes[r->command];
    if (compared_cas(r) != 0)
        mode = STORE_CAS;
    struct store_write w = {
        .key = r->key, .nkey = r->h.keylen, .value = r->value, .nvalue = r->nvalue,
        .flags = load_be32(r->extras), .exptime = expiry_of(r->extras + 4), .cas = r->h.cas,
    };
    uint64_t cas = 0;
    enum store_status st = store_write(store_of(r), mode, &w, &cas);
    if (st == STORE_NO_MEMORY || st == STORE_TOO_LARGE) {
        /* memcached fails to allocate before reading the value: no set counted,
         * and a failed set must not leave the old value readable. */
        if (mode == STORE_SET)
            store_delete(store_of(r), r->key, r->h.keylen);
        reply_error(r, BIN_ENOMEM, "Out of memory allocating item", 0);
        return;
    }
    STAT_INC(r->pc->stats, cmd_set);
    exec_count_cas(r->pc->stats, mode, st);
    reply_store(r, mode, st, cas);
}

static void run_append_prepend(struct bin_request *r)
{
    enum store_mode mode = r->command == BIN_APPEND ? STORE_APPEND : STORE_PREPEND;
    STAT_INC(r->pc->stats, cmd_set);
    struct store_write w = {
        .key = r->key, .nkey = r->h.keylen, .value = r->value, .nvalue = r->nvalue,
        .cas = compared_cas(r),
    };
    uint64_t cas = 0;
    enum store_status st = store_write(store_of(r), mode, &w, &cas);
    /* A joined item that cannot be allocated is NOT_STORED in memcached. */
    if (st != STORE_STORED && st != STORE_EXISTS)
        st = STORE_NOT_STORED;
    reply_store(r, mode, st, cas);
}

/* ---- delete, incr/decr -------------------------------------------------------- */

static void run_delete(struct bin_request *r)
{
    prefix_stats_record(r->pc->env->prefix_stats, r->key, r->h.keylen, PREFIX_DELETE);
    uint64_t cas = r->h.cas;
    enum store_status st = store_delete_meta(store_of(r), r->key, r->h.keylen,
                                             cas ? &cas : NULL, false, NULL);
    exec_count_delete(r->pc->stats, st);
    if (st == STORE_EXISTS)
        reply_error(r, BIN_KEY_EEXISTS, NULL, 0);
    else if (st == STORE_DELETED)
        reply_ok(r, NULL, 0, 0);
    else
        reply_error(r, BIN_KEY_ENOENT, NULL, 0);
}

/* A miss with an initial value stores it (as add, flags 0). */
static void store_initial(struct bin_request *r, uint64_t initial)
{
    char digits[20];
    struct store_write w = {
        .key = r->key, .nkey = r->h.keylen, .value = digits,
        .nvalue = format_decimal(digits, initial), .exptime = expiry_of(r->extras + 16),
    };
    uint64_t cas = 0;
    enum store_status st = store_write(store_of(r), STORE_ADD, &w, &cas);
    uint64_t body = htobe64(initial);
    if (st == STORE_STORED)
        reply_ok(r, &body, sizeof(body), cas);
    else if (st == STORE_NO_MEMORY || st == STORE_TOO_LARGE)
        reply_error(r, BIN_ENOMEM, "Out of memory allocating new item", 0);
    else
        reply_error(r, BIN_NOT_STORED, NULL, 0);
}

static void run_delta(struct bin_request *r)
{
    bool incr = r->command == BIN_INCREMENT;
    uint64_t value, cas = 0;

    struct store_delta_meta how = { .incr = incr, .delta = load_be64(r->extras), .cas = r->h.cas };
    enum store_status st = store_delta_meta(store_of(r), r->key, r->h.keylen, &how, &value,
                                            &cas, NULL, NULL);
    /* A miss with an initial value creates the item: not counted (memcached). */
    bool creates = st == STORE_NOT_FOUND && load_be32(r->extras + 16) != BIN_DELTA_NO_INITIAL;
    if (!creates)
        exec_count_delta(r->pc->stats, incr, st, false);
    switch (st) {
    case STORE_DELTA_OK: {
        uint64_t body = htobe64(value);
        reply_ok(r, &body, sizeof(body), cas);
        break;
    }
    case STORE_NON_NUMERIC:
        reply_error(r, BIN_DELTA_BADVAL, NULL, 0);
        break;
    case STORE_EXISTS:
        reply_error(r, BIN_KEY_EEXISTS, NULL, 0);
        break;
    case STORE_NOT_FOUND:
        if (creates)
            store_initial(r, load_be64(r->extras + 8));
        else
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        break;
    default:
        reply_error(r, BIN_ENOMEM, "Out of memory incrementing value", 0);
        break;
    }
}

/* ---- server commands ------------------------------------------------------------ */

static void run_flush(struct bin_request *r)
{
    if (!r->pc->env->settings->flush_enabled) {
        reply_error(r, BIN_AUTH_ERROR, NULL, 0);
        return;
    }
    exec_flush(store_of(r), r->pc->env->settings->use_cas,
               r->h.extlen == BIN_EXTLEN_EXPIRY ? (int64_t)load_be32(r->extras) : 0);
    STAT_INC(r->pc->stats, cmd_flush);
    reply_ok(r, NULL, 0, 0);
}

static void run_noop(struct bin_request *r)
{
    reply_ok(r, NULL, 0, 0);
    r->pc->transmit = true;   /* noop ends a pipeline of quiet commands */
}

static void run_version(struct bin_request *r)
{
    static const char version[] = XDPCACHED_PROTOCOL_VERSION;
    reply_ok(r, version, sizeof(version) - 1, 0);
}

static void run_quit(struct bin_request *r)
{
    reply_ok(r, NULL, 0, 0);
    r->pc->close_after_write = true;
    r->pc->transmit = true;
}

/* SASL is not configured: memcached answers every SASL opcode as unknown
 * and swallows the body after the key. */
static void run_sasl(struct bin_request *r)
{
    reply_error(r, BIN_UNKNOWN_COMMAND, NULL, r->h.bodylen - r->h.keylen);
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
    return r->h.keylen >= n && memcmp(r->key, word, n) == 0;
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
        prefix_stats_enable(r->pc->env->prefix_stats, r->key[8] == 'n');
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
        stats_reset(env->server_stats);
        prefix_stats_clear(env->prefix_stats);
    } else if (key_starts_with(r, "settings")) {
        settings_report(env->settings, &sink.sink);
    } else if (key_starts_with(r, "detail")) {
        if (!run_stats_detail(r))
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
        return;
    } else {
        memcpy(group, r->key, r->h.keylen);
        group[r->h.keylen] = '\0';
        /* A NUL inside the key would make it another group. */
        if (memchr(r->key, '\0', r->h.keylen) || !stats_report(env, group, &sink.sink)) {
            reply_error(r, BIN_KEY_ENOENT, NULL, 0);
            return;
        }
        /* the general list and every group end with the empty packet */
    }
    put_stat(r, "", 0, "", 0);
}

/* ---- dispatch ------------------------------------------------------------------- */

typedef bool (*shape_fn)(const struct bin_header *h);

/* The shapes of extras, key and body that memcached accepts per command. */
static bool shape_bare(const struct bin_header *h)
{
    return h->extlen == 0 && h->keylen == 0 && h->bodylen == 0;
}

static bool shape_flush(const struct bin_header *h)
{
    return h->keylen == 0 && h->bodylen == h->extlen &&
           (h->extlen == 0 || h->extlen == BIN_EXTLEN_EXPIRY);
}

static bool shape_update(const struct bin_header *h)
{
    return h->extlen == BIN_EXTLEN_STORE && h->keylen != 0 &&
           h->bodylen >= (uint32_t)h->keylen + BIN_EXTLEN_STORE;
}

static bool shape_key_only(const struct bin_header *h)
{
    return h->extlen == 0 && h->keylen > 0 && h->bodylen == h->keylen;
}

static bool shape_delta(const struct bin_header *h)
{
    return h->extlen == BIN_EXTLEN_DELTA && h->keylen > 0 &&
           h->bodylen == (uint32_t)h->keylen + BIN_EXTLEN_DELTA;
}

static bool shape_keyed_value(const struct bin_header *h)
{
    return h->extlen == 0 && h->keylen > 0;
}

static bool shape_stat(const struct bin_header *h)
{
    return h->extlen == 0;
}

static bool shape_touch(const struct bin_header *h)
{
    return h->extlen == BIN_EXTLEN_EXPIRY && h->keylen != 0;
}

struct bin_command {
    shape_fn shape;
    void (*run)(struct bin_request *r);
    bool has_value;     /* the body after extras and key is a value to store */
};

static const struct bin_command commands[256] = {
    [BIN_GET] = { shape_key_only, run_get_or_touch, false },
    [BIN_GETK] = { shape_key_only, run_get_or_touch, false },
    [BIN_SET] = { shape_update, run_update, true },
    [BIN_ADD] = { shape_update, run_update, true },
    [BIN_REPLACE] = { shape_update, run_update, true },
    [BIN_APPEND] = { shape_keyed_value, run_append_prepend, true },
    [BIN_PREPEND] = { shape_keyed_value, run_append_prepend, true },
    [BIN_DELETE] = { shape_key_only, run_delete, false },
    [BIN_INCREMENT] = { shape_delta, run_delta, false },
    [BIN_DECREMENT] = { shape_delta, run_delta, false },
    [BIN_QUIT] = { shape_bare, run_quit, false },
    [BIN_FLUSH] = { shape_flush, run_flush, false },
    [BIN_NOOP] = { shape_bare, run_noop, false },
    [BIN_VERSION] = { shape_bare, run_version, false },
    [BIN_STAT] = { shape_stat, run_stat, false },
    [BIN_TOUCH] = { shape_touch, run_get_or_touch, false },
    [BIN_GAT] = { shape_touch, run_get_or_touch, false },
    [BIN_GATK] = { shape_touch, run_get_or_touch, false },
    [BIN_SASL_LIST_MECHS] = { shape_bare, run_sasl, false },
    [BIN_SASL_AUTH] = { shape_keyed_value, run_sasl, false },
    [BIN_SASL_STEP] = { shape_keyed_value, run_sasl, false },
};

/* The loud command a quiet opcode stands for, or the opcode itself. */
static uint8_t fold_quiet(uint8_t opcode, bool *quiet)
{
    static const uint8_t loud[256] = {
        [BIN_SETQ] = BIN_SET, [BIN_ADDQ] = BIN_ADD, [BIN_REPLACEQ] = BIN_REPLACE,
        [BIN_DELETEQ] = BIN_DELETE, [BIN_INCREMENTQ] = BIN_INCREMENT,
        [BIN_DECREMENTQ] = BIN_DECREMENT, [BIN_QUITQ] = BIN_QUIT, [BIN_FLUSHQ] = BIN_FLUSH,
        [BIN_APPENDQ] = BIN_APPEND, [BIN_PREPENDQ] = BIN_PREPEND, [BIN_GETQ] = BIN_GET,
        [BIN_GETKQ] = BIN_GETK, [BIN_GATQ] = BIN_GAT, [BIN_GATKQ] = BIN_GATK,
    };
    /* BIN_GET is 0, so "no entry" is told apart by the opcode itself. */
    *quiet = loud[opcode] != 0 || opcode == BIN_GETQ;
    return *quiet ? loud[opcode] : opcode;
}

/* A value that can never be stored: memcached says so before reading it,
 * then swallows it. A set also drops the key's old value. */
static bool refused_too_large(struct bin_request *r, size_t nvalue)
{
    bool keyed_only = r->command == BIN_APPEND || r->command == BIN_PREPEND;
    uint32_t flags = keyed_only ? 0 : load_be32(r->extras);
    if (store_item_size_ok(store_of(r), r->h.keylen, flags, nvalue))
        return false;
    obuf_resp_start(r->out);
    reply_error(r, BIN_E2BIG, NULL, nvalue);
    if (r->command == BIN_SET)
        store_delete(store_of(r), r->key, r->h.keylen);
    return true;
}

/* A storage command: refused at once, or run once its value is in. */
static size_t dispatch_with_value(struct bin_request *r, const struct bin_command *cmd,
                                  size_t head, size_t len)
{
    struct proto_conn *pc = r->pc;
    size_t nvalue = r->h.bodylen - r->h.extlen - r->h.keylen;

    if (!pc->bin_value_pending) {
        /* First sight of this request; memcached counts the prefix here. */
        prefix_stats_record(pc->env->prefix_stats, r->key, r->h.keylen, PREFIX_SET);
        if (refused_too_large(r, nvalue))
            return head;
    }
    if (len - head < nvalue) {
        pc->bin_value_pending = true;
        pc->need = head + nvalue;
        return 0;
    }
    pc->bin_value_pending = false;
    r->value = r->key + r->h.keylen;
    r->nvalue = nvalue;
    obuf_resp_start(r->out);
    cmd->run(r);
    return head + nvalue;
}

/* Runs the request whose header, extras and key (head bytes of the len
 * available) are in; returns the bytes used, 0 while its value is
 * incomplete. memcached's dispatch_bin_command, in its order of checks. */
static size_t dispatch(struct bin_request *r, size_t head, size_t len)
{
    const struct bin_header *h = &r->h;

    if (h->keylen > h->bodylen || (uint32_t)h->keylen + h->extlen > h->bodylen) {
        obuf_resp_start(r->out);
        reply_error(r, BIN_UNKNOWN_COMMAND, NULL, 0);
        r->pc->close_after_write = true;
        return head;
    }
    r->command = fold_quiet(h->opcode, &r->quiet);
    const struct bin_command *cmd = &commands[r->command];
    if (cmd->has_value && cmd->shape(h) && h->keylen <= STORE_KEY_MAX)
        return dispatch_with_value(r, cmd, head, len);
    obuf_resp_start(r->out);
    if (h->keylen > STORE_KEY_MAX || (cmd->shape && !cmd->shape(h))) {
        reply_protocol_error(r);
    } else if (!cmd->run) {
        /* memcached swallows bodylen bytes after the extras and key. */
        reply_error(r, BIN_UNKNOWN_COMMAND, NULL, h->bodylen);
    } else {
        cmd->run(r);
    }
    return head;
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
    if (len < BIN_HEADER_LEN) {
        pc->need = BIN_HEADER_LEN;
        return 0;
    }
    struct bin_request r = { .pc = pc, .out = out };
    parse_header(in, &r.h);
    if (r.h.magic != BIN_MAGIC_REQUEST) {
        /* memcached closes at once: what it has not transmitted is lost. */
        pc->close_now = true;
        return 0;
    }
    size_t head = BIN_HEADER_LEN + r.h.extlen + r.h.keylen;
    if (len < head) {
        pc->need = head;
        return 0;
    }
    r.extras = (const uint8_t *)in + BIN_HEADER_LEN;
    r.key = in + BIN_HEADER_LEN + r.h.extlen;
    size_t used = dispatch(&r, head, len);
    *completed = used > 0;
    return used;
}
