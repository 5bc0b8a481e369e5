/* proto_text.c - memcached's text protocol over the store.
 *
 * The request grammar, reply strings and error precedence follow memcached
 * 1.6 (proto_text.c there) closely, because clients and our differential
 * test depend on the exact bytes: the same tokenizer (spaces only, at most
 * 24 tokens per pass), the same number parsing (strtoul/strtol with
 * memcached's checks), the same order of checks in each command. */
#include "proto_text.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "exec.h"
#include "keydump.h"
#include "prefix_stats.h"
#include "proto_meta.h"
#include "proto_text_internal.h"
#include "settings.h"
#include "stats.h"
#include "stats_report.h"
#include "store.h"
#include "wire.h"

#define MAX_VERBOSITY 2

typedef void (*command_fn)(struct text_request *r);

/* ---- replies ----------------------------------------------------------- */

/* memcached's set_noreply_maybe: the last token decides. */
static bool take_noreply(struct text_request *r)
{
    const struct text_token *last = &r->tokens[r->ntokens - 2];
    if (last->value && strcmp(last->value, "noreply") == 0)
        r->noreply = true;
    return r->noreply;
}

static struct store *store_of(const struct text_request *r)
{
    return r->pc->env->store;
}

static const struct settings *settings_of(const struct text_request *r)
{
    return r->pc->env->settings;
}

/* ---- retrieval ------------------------------------------------------------- */

struct value_writer {
    struct obuf *out;                   /* NULL: look up and count only */
    struct store *store;
    bool with_cas;
    /* env->udp_read_hit for a get/gets over UDP, else NULL */
    void (*read_hit)(void *ctx, const struct item_view *item);
    void *read_ctx;
};

/* Runs under the store's shard lock: copies the VALUE line and references
 * (or copies, when small) the value. The line comes from the same
 * formatter as the XDP cache entries (wire.h), so that the fast path's
 * replies are these bytes. */
static void write_value(void *ctx, const struct item_view *it)
{
    struct value_writer *w = ctx;
    if (w->read_hit)
        w->read_hit(w->read_ctx, it);
    if (!w->out)
        return;
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
static void suspend_retrieval(struct text_request *r, struct text_retrieval *g,
                              const struct text_token *key)
{
    const struct text_token *last = key;
    while (last[1].length != 0)
        last++;
    size_t from = (size_t)(key->value - r->line);
    size_t to = (size_t)(last->value - r->line) + last->length + 1; /* its terminator too */
    for (size_t i = from; i < to && i < r->line_end; i++)
        if (r->line[i] == '\0')
            r->line[i] = ' ';
    g->next = from;
    g->line_end = r->line_end;
    g->active = true;
    r->pc->transmit = true;
}

/* get, gets, gat, gats from `key` on: every key after the first starts a
 * response of its own (this shows over UDP); the key list may span several
 * tokenizer passes. Once a part's replies are big enough the retrieval is
 * suspended, unless a later key is too long: then memcached drops the whole
 * reply, so the rest is only looked up (and counted), not written. */
static void retrieve_keys(struct text_request *r, struct text_retrieval *g,
                          struct text_token *key, size_t get_start)
{
    const struct proto_env *env = r->pc->env;
    struct value_writer writer = { r->out, env->store, g->with_cas, NULL, NULL };
    size_t part_start = out_footprint(r->out);
    size_t part_start_len = r->out->len;

    g->active = false;
    /* Only get/gets: they are what the fast path answers. */
    if (r->pc->udp && !g->touch) {
        writer.read_hit = env->udp_read_hit;
        writer.read_ctx = env->udp_read_ctx;
    }
    for (;;) {
        for (; key->length != 0; key++) {
            if (key->length > STORE_KEY_MAX) {
                /* Drop this command's partial reply, as memcached does. */
                r->resp_off = get_start;
                text_reply(r, "CLIENT_ERROR bad command line format");
                return;
            }
            if (writer.out && (out_footprint(r->out) - part_start >= RETRIEVAL_PART ||
                               (r->pc->udp && r->out->len - part_start_len >= RETRIEVAL_PART))) {
                if (g->keys_checked || !later_key_too_long(key)) {
                    g->keys_checked = true;
                    suspend_retrieval(r, g, key);
                    return;
                }
                writer.out = NULL;
            }
            enum store_lookup found = store_get(store_of(r), key->value, key->length,
                                                g->touch ? &g->exptime : NULL, write_value,
                                                &writer);
            exec_count_lookup(r->pc->stats, found, g->touch);
            prefix_stats_record(env->prefix_stats, key->value, key->length,
                                found == STORE_HIT ? PREFIX_GET_HIT : PREFIX_GET_MISS);
            if (key[1].length != 0 && writer.out)
                text_resp_start(r);
        }
        if (key->value == NULL)
            break;
        r->ntokens = text_tokenize(key->value, r->tokens, TEXT_MAX_TOKENS);
        key = r->tokens;
        if (writer.out)
            text_resp_start(r);
    }
    obuf_append(r->out, "END\r\n", 5);
    r->pc->transmit = true;
}

static void run_retrieval(struct text_request *r, bool with_cas, bool touch)
{
    struct text_retrieval *g = &r->pc->retrieval;
    *g = (struct text_retrieval){ .with_cas = with_cas, .touch = touch };
    if (touch) {
        int32_t exptime_arg;
        if (!text_parse_i32(r->tokens[1].value, &exptime_arg)) {
            text_reply(r, "CLIENT_ERROR invalid exptime argument");
            return;
        }
        g->exptime = text_exptime_from_client(exptime_arg);
    }
    retrieve_keys(r, g, &r->tokens[touch ? 2 : 1], r->resp_off);
}

/* The next part of a suspended retrieval; line is the request's first byte. */
static void resume_retrieval(struct text_request *r, char *line)
{
    struct text_retrieval *g = &r->pc->retrieval;
    r->line = line;
    r->line_end = g->line_end;
    r->ntokens = text_tokenize(line + g->next, r->tokens, TEXT_MAX_TOKENS);
    retrieve_keys(r, g, r->tokens, r->resp_off);
}

static void cmd_get(struct text_request *r) { run_retrieval(r, false, false); }
static void cmd_gets(struct text_request *r) { run_retrieval(r, true, false); }
static void cmd_gat(struct text_request *r) { run_retrieval(r, false, true); }
static void cmd_gats(struct text_request *r) { run_retrieval(r, true, true); }

/* ---- storage --------------------------------------------------------------- */

/* The command line of set/add/replace/append/prepend/cas. A valid one leaves
 * the connection waiting for the data block (pending); an item that can never
 * fit is refused at once and its data swallowed. */
static void begin_store(struct text_request *r, enum store_mode mode)
{
    struct pending_store *p = &r->pc->pending;
    const struct text_token *t = r->tokens;
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas = 0;

    take_noreply(r);
    if (t[1].length > STORE_KEY_MAX ||
        !(text_parse_u32(t[2].value, &flags) && text_parse_i32(t[3].value, &exptime) &&
          text_parse_i32(t[4].value, &vlen)) ||
        (mode == STORE_CAS && !text_parse_u64(t[5].value, &cas)) ||
        vlen < 0 || vlen > INT_MAX - 2) {
        text_reply(r, "CLIENT_ERROR bad command line format");
        return;
    }
    prefix_stats_record(r->pc->env->prefix_stats, t[1].value, t[1].length, PREFIX_SET);
    /* The reply goes out as a response of its own once the data block has
     * been read, or swallowed. */
    obuf_truncate(r->out, r->resp_off);
    if (!store_item_size_ok(store_of(r), t[1].length, flags, (size_t)vlen)) {
        STAT_INC(r->pc->stats, store_too_large);
        r->pc->swallow = (size_t)vlen + 2;
        if (!r->noreply)
            r->pc->swallow_reply = "SERVER_ERROR object too large for cache";
        /* A failed set must not leave the old value readable. */
        if (mode == STORE_SET)
            store_delete(store_of(r), t[1].value, t[1].length);
        return;
    }
    *p = (struct pending_store){
        .active = true, .noreply = r->noreply, .mode = mode, .nkey = t[1].length,
        .flags = flags, .exptime = text_exptime_from_client(exptime), .cas = cas,
        .nvalue = (size_t)vlen,
    };
    memcpy(p->key, t[1].value, t[1].length);
}

static const char *store_reply(struct text_request *r, enum store_mode mode, enum store_status st)
{
    struct thread_stats *ts = r->pc->stats;
    exec_count_cas(ts, mode, st);
    switch (st) {
    case STORE_STORED:
        return "STORED";
    case STORE_EXISTS:
        return "EXISTS";
    case STORE_NOT_FOUND:
        return "NOT_FOUND";
    case STORE_NO_MEMORY:
    case STORE_TOO_LARGE:
        /* append/prepend that cannot allocate the joined item: memcached says NOT_STORED */
        if (mode == STORE_APPEND || mode == STORE_PREPEND)
            return "NOT_STORED";
        STAT_INC(ts, store_no_memory);
        return "SERVER_ERROR out of memory storing object";
    default:
        return "NOT_STORED";
    }
}

/* The data block of a pending storage command is in data[0, nvalue + 2). */
static void finish_store(struct text_request *r, const char *data)
{
    struct pending_store *p = &r->pc->pending;
    p->active = false;
    r->noreply = p->noreply;
    STAT_INC(r->pc->stats, cmd_set);
    if (memcmp(data + p->nvalue, "\r\n", 2) != 0) {
        if (p->meta)
            r->noreply = false; /* a meta set reports every error */
        text_reply(r, "CLIENT_ERROR bad data chunk");
        return;
    }
    if (p->meta) {
        proto_meta_finish_set(r, data);
        return;
    }
    struct store_write w = {
        .key = p->key, .nkey = p->nkey, .value = data, .nvalue = p->nvalue,
        .flags = p->flags, .exptime = p->exptime, .cas = p->cas,
    };
    enum store_status st = store_write(store_of(r), p->mode, &w, NULL);
    if (st == STORE_NO_MEMORY && p->mode == STORE_SET)
        store_delete(store_of(r), p->key, p->nkey);
    text_reply(r, store_reply(r, p->mode, st));
}

static void cmd_set(struct text_request *r) { begin_store(r, STORE_SET); }
static void cmd_add(struct text_request *r) { begin_store(r, STORE_ADD); }
static void cmd_replace(struct text_request *r) { begin_store(r, STORE_REPLACE); }
static void cmd_append(struct text_request *r) { begin_store(r, STORE_APPEND); }
static void cmd_prepend(struct text_request *r) { begin_store(r, STORE_PREPEND); }
static void cmd_cas(struct text_request *r) { begin_store(r, STORE_CAS); }

/* ---- other key commands ---------------------------------------------------- */

static void run_delta(struct text_request *r, bool incr)
{
    uint64_t delta, value;
    char number[24];

    take_noreply(r);
    if (r->tokens[1].length > STORE_KEY_MAX) {
        text_reply(r, "CLIENT_ERROR bad command line format");
        return;
    }
    if (!text_parse_u64(r->tokens[2].value, &delta)) {
        text_reply(r, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    enum store_status st = store_delta(store_of(r), r->tokens[1].value, r->tokens[1].length,
                                       incr, delta, &value, NULL);
    exec_count_delta(r->pc->stats, incr, st, false);
    switch (st) {
    case STORE_DELTA_OK:
        snprintf(number, sizeof(number), "%llu", (unsigned long long)value);
        text_reply(r, number);
        break;
    case STORE_NON_NUMERIC:
        text_reply(r, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    case STORE_NOT_FOUND:
        text_reply(r, "NOT_FOUND");
        break;
    default:
        text_reply(r, "SERVER_ERROR out of memory");
        break;
    }
}

static void cmd_incr(struct text_request *r) { run_delta(r, true); }
static void cmd_decr(struct text_request *r) { run_delta(r, false); }

static void cmd_delete(struct text_request *r)
{
    if (r->ntokens > 3) {
        /* Only the legacy "delete <key> 0" hold time and noreply are allowed. */
        bool hold_is_zero = strcmp(r->tokens[2].value, "0") == 0;
        bool noreply = take_noreply(r);
        bool valid = (r->ntokens == 4 && (hold_is_zero || noreply)) ||
                     (r->ntokens == 5 && hold_is_zero && noreply);
        if (!valid) {
            text_reply(r, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
            return;
        }
    }
    if (r->tokens[1].length > STORE_KEY_MAX) {
        text_reply(r, "CLIENT_ERROR bad command line format");
        return;
    }
    prefix_stats_record(r->pc->env->prefix_stats, r->tokens[1].value, r->tokens[1].length,
                        PREFIX_DELETE);
    enum store_status st = store_delete(store_of(r), r->tokens[1].value, r->tokens[1].length);
    exec_count_delete(r->pc->stats, st);
    text_reply(r, st == STORE_DELETED ? "DELETED" : "NOT_FOUND");
}

static void cmd_touch(struct text_request *r)
{
    int32_t exptime;
    take_noreply(r);
    if (r->tokens[1].length > STORE_KEY_MAX) {
        text_reply(r, "CLIENT_ERROR bad command line format");
        return;
    }
    if (!text_parse_i32(r->tokens[2].value, &exptime)) {
        text_reply(r, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    bool touched = store_touch(store_of(r), r->tokens[1].value, r->tokens[1].length,
                               text_exptime_from_client(exptime)) == STORE_TOUCHED;
    exec_count_lookup(r->pc->stats, touched ? STORE_HIT : STORE_MISS, true);
    text_reply(r, touched ? "TOUCHED" : "NOT_FOUND");
}

/* ---- server commands ------------------------------------------------------- */

static void cmd_flush_all(struct text_request *r)
{
    int32_t delay = 0;
    const struct settings *s = settings_of(r);

    take_noreply(r);
    STAT_INC(r->pc->stats, cmd_flush);
    if (!s->flush_enabled) {
        text_reply(r, "CLIENT_ERROR flush_all not allowed");
        return;
    }
    if (r->ntokens != (r->noreply ? 3u : 2u) && !text_parse_i32(r->tokens[1].value, &delay)) {
        text_reply(r, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    exec_flush(store_of(r), s->use_cas, delay);
    text_reply(r, "OK");
}

static void cmd_version(struct text_request *r)
{
    text_reply(r, "VERSION " XDPCACHED_PROTOCOL_VERSION);
}

static void cmd_quit(struct text_request *r)
{
    r->pc->close_after_write = true;
}

static void cmd_verbosity(struct text_request *r)
{
    uint32_t level;
    take_noreply(r);
    if (!text_parse_u32(r->tokens[1].value, &level)) {
        text_reply(r, "CLIENT_ERROR bad command line format");
        return;
    }
    settings_set_verbosity(r->pc->env->settings,
                           level > MAX_VERBOSITY ? MAX_VERBOSITY : (int)level);
    text_reply(r, "OK");
}

static void cmd_shutdown(struct text_request *r)
{
    if (!settings_of(r)->shutdown_command) {
        text_reply(r, "ERROR: shutdown not enabled");
        return;
    }
    if (r->ntokens == 2 || (r->ntokens == 3 && strcmp(r->tokens[1].value, "graceful") == 0)) {
        r->pc->close_now = true;
        r->pc->env->shutdown();
        return;
    }
    text_reply(r, "CLIENT_ERROR invalid shutdown mode");
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
    struct prefix_stats *ps = r->pc->env->prefix_stats;
    const char *arg = r->ntokens >= 4 ? r->tokens[2].value : "";

    if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
        prefix_stats_enable(ps, arg[1] == 'n');
        text_reply(r, "OK");
    } else if (strcmp(arg, "dump") == 0) {
        if (!stats_report_prefix_dump(ps, r->out))
            text_reply(r, "SERVER_ERROR out of memory writing stats");
    } else {
        text_reply(r, "CLIENT_ERROR usage: stats detail on|off|dump");
    }
}

static void cmd_stats(struct text_request *r)
{
    const char *group = r->ntokens > 2 ? r->tokens[1].value : "";
    struct text_sink ts = { { emit_stat_line }, r->out };

    if (strcmp(group, "reset") == 0) {
        stats_reset(r->pc->env->server_stats);
        prefix_stats_clear(r->pc->env->prefix_stats);
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
    if (strcmp(group, "settings") == 0) {
        settings_report(settings_of(r), &ts.sink);
    } else if (!stats_report(r->pc->env, group, &ts.sink)) {
        text_reply(r, "ERROR");
        return;
    }
    obuf_append(r->out, "END\r\n", 5);
}

/* ---- dispatch -------------------------------------------------------------- */

struct command {
    const char *name;
    size_t min_tokens, max_tokens; /* counted like memcached: with the terminal token */
    command_fn run;
};

#define ANY SIZE_MAX

static const struct command commands[] = {
    { "get", 3, ANY, cmd_get },         { "gets", 3, ANY, cmd_gets },
    { "gat", 3, ANY, cmd_gat },         { "gats", 3, ANY, cmd_gats },
    { "bget", 3, ANY, cmd_get },        /* ancient alias memcached still accepts */
    { "set", 6, 7, cmd_set },           { "add", 6, 7, cmd_add },
    { "replace", 6, 7, cmd_replace },   { "append", 6, 7, cmd_append },
    { "prepend", 6, 7, cmd_prepend },   { "cas", 7, 8, cmd_cas },
    { "incr", 4, 5, cmd_incr },         { "decr", 4, 5, cmd_decr },
    { "delete", 3, 5, cmd_delete },     { "touch", 4, 5, cmd_touch },
    { "flush_all", 2, 4, cmd_flush_all }, { "version", 0, ANY, cmd_version },
    { "quit", 0, ANY, cmd_quit },       { "verbosity", 3, 4, cmd_verbosity },
    { "stats", 0, ANY, cmd_stats },     { "shutdown", 0, ANY, cmd_shutdown },
    { "lru_crawler", 0, ANY, keydump_lru_crawler },
};

static void run_command(struct text_request *r, char *line)
{
    text_resp_start(r);
    r->line = line;
    r->line_end = strlen(line);
    r->ntokens = text_tokenize(line, r->tokens, TEXT_MAX_TOKENS);
    const struct text_token *name = &r->tokens[0];
    if (r->ntokens < 2 || name->length < 2) {
        text_reply(r, "ERROR");
        return;
    }
    /* memcached's meta commands all have two-letter names starting with m. */
    if (name->length == 2 && name->value[0] == 'm') {
        proto_meta_run(r);
        return;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (strcmp(name->value, c->name) != 0)
            continue;
        if (r->ntokens < c->min_tokens || r->ntokens > c->max_tokens)
            text_reply(r, "ERROR");
        else
            c->run(r);
        return;
    }
    /* memcached hangs up on what looks like an HTTP request. */
    if (strncmp(r->tokens[r->ntokens - 2].value, "HTTP/", 5) == 0)
        r->pc->close_now = true;
    else
        text_reply(r, "ERROR");
}

/* No newline yet in in[0, len): wait, or give up on a line that cannot be a
 * request (memcached only lets get/gets lines grow past 2048 bytes). */
static void wait_for_line(struct proto_conn *pc, const char *in, size_t len)
{
    if (len <= PROTO_TEXT_MAX_LINE) {
        pc->need = 0;
        return;
    }
    size_t spaces = 0;
    while (spaces < len && in[spaces] == ' ')
        spaces++;
    const char *cmd = in + spaces;
    size_t rest = len - spaces;
    bool is_get = (rest >= 4 && memcmp(cmd, "get ", 4) == 0) ||
                  (rest >= 5 && memcmp(cmd, "gets ", 5) == 0);
    if (spaces > 100 || !is_get || len >= PROTO_TEXT_MAX_GET_LINE)
        pc->close_now = true;
    else
        pc->need = len + 1;
}

/* Runs one request at in[0, len); returns the bytes it used, 0 if incomplete. */
static size_t run_one(struct proto_conn *pc, char *in, size_t len, struct obuf *out)
{
    struct text_request r = { .pc = pc, .out = out, .resp_off = out->len };

    if (pc->retrieval.active) {
        resume_retrieval(&r, in);
        return pc->retrieval.active ? 0 : pc->retrieval.length;
    }
    if (pc->pending.active) {
        size_t total = pc->pending.nvalue + 2;
        if (len < total) {
            pc->need = total;
            return 0;
        }
        finish_store(&r, in);
        return total;
    }
    char *newline = memchr(in, '\n', len);
    if (!newline) {
        wait_for_line(pc, in, len);
        return 0;
    }
    char *end = newline;
    if (end - in > 1 && end[-1] == '\r')
        end--;
    *end = '\0';
    run_command(&r, in);
    if (pc->retrieval.active) {
        pc->retrieval.length = (size_t)(newline - in) + 1;
        return 0;
    }
    return (size_t)(newline - in) + 1;
}

size_t proto_text_run(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      unsigned max_reqs, unsigned *nreqs)
{
    size_t used = 0;
    unsigned ran = 0;

    pc->need = 0;
    pc->transmit = false;
    while (!pc->close_now && !pc->close_after_write && !out->oom) {
        if (pc->swallow) {
            size_t n = len - used < pc->swallow ? len - used : pc->swallow;
            if (n == 0)
                break;
            pc->swallow -= n;
            used += n;
            if (pc->swallow == 0 && pc->swallow_reply) {
                obuf_resp_start(out);
                obuf_puts(out, pc->swallow_reply);
                obuf_append(out, "\r\n", 2);
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
        ran++;
    }
    if (nreqs)
        *nreqs = ran;
    return used;
}
