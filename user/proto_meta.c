/* proto_meta.c - memcached 1.6's meta commands over the store.
 *
 * Each command follows memcached 1.6.18's proto_text.c in what it checks
 * and in which order, because clients and the differential test see the
 * exact bytes: flags are parsed once up front (duplicates and unknown
 * letters refused), then the command runs, and the return flags are written
 * in the order the request named them. A flag that changes the item (T, N)
 * takes effect where it stands in that order, so `t` before `T` shows the
 * old TTL, as in memcached. */
#include "proto_meta.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "exec.h"
#include "meta_parse.h"
#include "settings.h"
#include "stats.h"
#include "store.h"

/* The longest reply line: a base64 key of 250 bytes (336) and " b", one
 * opaque, and at most 17 more flags of at most 22 bytes each. */
#define META_LINE_MAX 1024

/* A reply line being built. */
struct meta_line {
    char text[META_LINE_MAX];
    size_t len;
};

static struct store *store_of(const struct text_request *r)
{
    return r->pc->env->store;
}

/* memcached's out_errstring(): errors are sent even in quiet mode. */
static void reply_error(struct text_request *r, const char *line)
{
    r->noreply = false;
    text_reply(r, line);
}

/* ---- reply lines ---------------------------------------------------------------- */

static void line_put(struct meta_line *l, const char *s, size_t n)
{
    memcpy(l->text + l->len, s, n);
    l->len += n;
}

/* " <c>": a return flag's letter, its value follows. */
static void line_flag(struct meta_line *l, char c)
{
    l->text[l->len++] = ' ';
    l->text[l->len++] = c;
}

static void line_u64(struct meta_line *l, uint64_t v)
{
    l->len += format_decimal(l->text + l->len, v);
}

/* memcached's META_KEY: the key as stored, or base64 and " b" for a key
 * that came base64-encoded. */
/* The key as the client sent it: base64 again when it came so. */
static void line_key_text(struct meta_line *l, const char *key, size_t nkey, bool binary)
{
    if (binary)
        l->len += meta_base64_encode(key, nkey, l->text + l->len);
    else
        line_put(l, key, nkey);
}

static void line_key(struct meta_line *l, const char *key, size_t nkey, bool binary)
{
    line_flag(l, 'k');
    line_key_text(l, key, nkey, binary);
    if (binary)
        line_put(l, " b", 2);
}

/* The opaque token is echoed whole, its O included. */
static bool line_opaque(struct meta_line *l, const struct text_token *t)
{
    if (t->length > META_MAX_OPAQUE)
        return false;
    l->text[l->len++] = ' ';
    line_put(l, t->value, t->length);
    return true;
}

/* The O and k return flags, all that a reply without an item carries.
 * False when an opaque is too long. */
static bool line_opaque_and_key(struct meta_line *l, const struct text_request *r,
                                bool binary)
{
    const struct text_token *key = &r->p.tokens[1];
    for (size_t i = 2; i < r->p.ntokens - 1; i++) {
        const struct text_token *t = &r->p.tokens[i];
        if (t->value[0] == 'O' && !line_opaque(l, t))
            return false;
        if (t->value[0] == 'k')
            line_key(l, key->value, key->length, binary);
    }
    return true;
}

/* Sends the line as the command's response; quiet cancels it. */
static void send_line(struct text_request *r, struct meta_line *l, bool quiet)
{
    line_put(l, "\r\n", 2);
    obuf_append(r->out, l->text, l->len);
    if (quiet)
        obuf_truncate(r->out, r->resp_off);
}

static void line_start(struct meta_line *l, const char *code)
{
    l->len = 0;
    line_put(l, code, 2);
}

/* ---- flags ------------------------------------------------------------------------ */


/* ---- mg ---------------------------------------------------------------------------- */

struct mg_state {
    struct text_request *r;
    const struct meta_flags *f;
    rel_time_t now;
    struct exec_meta_reply reply;   /* refused: an opaque too long; touched: a T applied */
};

static void line_ttl(struct meta_line *l, rel_time_t exptime, rel_time_t now)
{
    line_flag(l, 't');
    if (exptime == 0)
        line_put(l, "-1", 2);
    else
        line_u64(l, (uint32_t)(exptime - now));
}

/* Seconds since a time the store read from its clock, maybe a tick after
 * the command's own. */
static rel_time_t seconds_since(rel_time_t then, rel_time_t now)
{
    return now > then ? now - then : 0;
}

/* The return flags of a hit, in request order, and what the item's T, N and
 * R ask for: change->exptime and *won (the caller hands out the win token).
 * False when an O token is too long: memcached stops there, a T before it
 * staying applied. */
static bool mg_put_flags(struct mg_state *st, const struct item_view *it, bool created,
                         struct store_meta_change *change, struct meta_line *l, bool *won)
{
    const struct meta_flags *f = st->f;
    struct text_request *r = st->r;
    change->exptime = it->exptime;
    for (size_t i = 2; i < r->p.ntokens - 1; i++) {
        const struct text_token *t = &r->p.tokens[i];
        switch (t->value[0]) {
        case 'T':
            st->reply.touched = change->set_exptime = true;
            change->exptime = f->exptime;
            break;
        case 'N':
            if (created) {
                change->set_exptime = *won = true;
                change->exptime = f->vivify_exptime;
            }
            break;
        case 'R':
            *won = *won || (!it->win_token_sent && !created && change->exptime != 0 &&
                            change->exptime < f->recache_time);
            break;
        case 's': line_flag(l, 's'); line_u64(l, it->nvalue); break;
        case 't': line_ttl(l, change->exptime, st->now); break;
        case 'c': line_flag(l, 'c'); line_u64(l, it->cas); break;
        case 'f': line_flag(l, 'f'); line_u64(l, it->flags); break;
        case 'l': line_flag(l, 'l'); line_u64(l, seconds_since(it->last_access, st->now)); break;
        case 'h': line_put(l, it->fetched ? " h1" : " h0", 3); break;
        case 'k': line_key(l, it->key, it->nkey, it->key_binary); break;
        case 'O':
            if (!line_opaque(l, t))
                return false;
            break;
        }
    }
    return true;
}

static void mg_on_item(void *ctx, const struct item_view *it, bool created,
                       struct store_meta_change *change)
{
    struct mg_state *st = ctx;
    struct text_request *r = st->r;
    struct meta_line l;
    bool won = false;

    l.len = 0;
    if (st->f->value) {
        line_put(&l, "VA ", 3);
        line_u64(&l, it->nvalue);
    } else {
        line_put(&l, "HD", 2);
    }
    if (!mg_put_flags(st, it, created, change, &l, &won)) {
        st->reply.refused = true;
        change->no_bump = true;
        return;
    }
    /* Z and X report the item's state before this read; W what it gets now. */
    if (it->win_token_sent)
        line_put(&l, " Z", 2);
    if (it->stale) {
        line_put(&l, " X", 2);
        won = won || !it->win_token_sent;
    }
    if (won)
        line_put(&l, " W", 2);
    change->win_token = won;
    line_put(&l, "\r\n", 2);
    obuf_append(r->out, l.text, l.len);
    if (st->f->value) {
        obuf_append_value(r->out, store_of(r), it);
        obuf_append(r->out, "\r\n", 2);
    }
}

static void cmd_mg(struct text_request *r, const struct meta_request *m)
{
    const struct meta_flags f = m->f;
    struct mg_state st = { .r = r, .f = &f, .now = clock_now() };
    struct store_meta_read how = { .vivify = f.vivify, .bump = !f.no_update };
    enum store_lookup found = exec_meta_get(&r->exec, &m->req, &how, mg_on_item, &st,
                                            &st.reply);
    if (st.reply.refused) {
        reply_error(r, ERR_OPAQUE);
        return;
    }
    if (found == STORE_HIT)
        return;
    struct meta_line l;
    line_start(&l, "EN");
    if (!line_opaque_and_key(&l, r, f.key_binary)) {
        reply_error(r, ERR_OPAQUE);
        return;
    }
    send_line(r, &l, f.quiet);
}

/* ---- ms ---------------------------------------------------------------------------- */

/* An ms whose line was parsed: the item must be able to fit at all; then
 * the connection waits for the data block. */
static void cmd_ms(struct text_request *r, const struct meta_request *m)
{
    struct pending_store *p = &r->pc->pending;
    const struct meta_flags *f = &m->f;

    p->req = m->req;
    p->req.type = REQ_STORE;
    p->req.mode = m->mode;
    p->req.flags = f->client_flags;
    p->req.exptime = f->has_ttl ? f->exptime : 0;
    p->req.cas = f->cas;
    p->req.nvalue = m->nvalue;
    p->req.key_binary = f->key_binary;
    p->req.invalidate = f->invalidate && m->mode == STORE_CAS;
    p->req.failure_drops_old = true;
    if (!exec_store_admit(&r->exec, &p->req)) {
        reply_error(r, "SERVER_ERROR object too large for cache");
        r->pc->swallow = m->nvalue + 2;
        return;
    }
    p->active = true;
    p->meta = true;
    memcpy(p->key, m->req.key, m->req.nkey);
    memcpy(p->meta_returns, m->returns, sizeof(p->meta_returns));
    memcpy(p->opaque, m->opaque, m->nopaque);
    p->nopaque = m->nopaque;
    obuf_truncate(r->out, r->resp_off); /* the reply comes after the data */
}

/* The reply code of a store. */
static const char *ms_code(enum exec_status status)
{
    switch (status) {
    case EXEC_DONE: return "HD";
    case EXEC_EXISTS: return "EX";
    case EXEC_NOT_FOUND: return "NF";
    default: return "NS";
    }
}

void proto_meta_finish_set(struct text_request *r, const struct exec_result *res)
{
    struct pending_store *p = &r->pc->pending;
    text_resp_start(r); /* a response of its own, after the data block */
    if (res->status == EXEC_NO_MEMORY) {
        reply_error(r, "SERVER_ERROR out of memory storing object");
        return;
    }
    struct meta_line l;
    line_start(&l, ms_code(res->status));
    for (const char *c = p->meta_returns; *c; c++) {
        if (*c == 'O') {
            line_put(&l, " O", 2);
            line_put(&l, p->opaque, p->nopaque);
        } else if (*c == 'k') {
            line_key(&l, p->key, p->req.nkey, p->req.key_binary);
        } else {
            line_flag(&l, 'c');
            line_u64(&l, res->status == EXEC_DONE ? res->cas : 0);
        }
    }
    send_line(r, &l, p->req.noreply && res->status == EXEC_DONE);
}

/* ---- md ---------------------------------------------------------------------------- */

static void cmd_md(struct text_request *r, const struct meta_request *m)
{
    const struct meta_flags f = m->f;
    struct meta_line l;
    line_start(&l, "HD");
    if (!line_opaque_and_key(&l, r, f.key_binary)) {
        reply_error(r, ERR_OPAQUE);
        return;
    }
    struct request req = m->req;
    struct exec_result res;
    req.type = REQ_DELETE;
    req.compare_cas = f.has_cas;
    req.cas = f.cas;
    req.invalidate = f.invalidate;
    req.set_exptime = f.has_ttl;
    req.exptime = f.exptime;
    req.cas_mismatch_is_miss = true;
    exec_run(&r->exec, &req, &res);
    bool done = res.status == EXEC_DONE;
    if (!done)
        memcpy(l.text, res.status == EXEC_EXISTS ? "EX" : "NF", 2);
    send_line(r, &l, f.quiet && done);
}

/* ---- ma ---------------------------------------------------------------------------- */

struct ma_state {
    struct text_request *r;
    const struct meta_flags *f;
    rel_time_t now;
    struct meta_line line;
    struct exec_meta_reply reply;   /* refused: an opaque too long; created: vivified */
};

/* The reply of a changed or created counter; runs under the shard lock. */
static void ma_on_item(void *ctx, const struct item_view *it, bool created,
                       struct store_meta_change *change)
{
    struct ma_state *st = ctx;
    struct text_request *r = st->r;
    struct meta_line *l = &st->line;
    /* The number, without the spaces an in-place decrement pads it with. */
    const char *digits = it->value;
    size_t ndigits = 0;
    while (ndigits < it->nvalue && digits[ndigits] != ' ')
        ndigits++;
    rel_time_t exptime = it->exptime;

    st->reply.created = created;
    l->len = 0;
    if (st->f->value) {
        line_put(l, "VA ", 3);
        line_u64(l, ndigits);
    } else {
        line_put(l, "HD", 2);
    }
    for (size_t i = 2; i < r->p.ntokens - 1; i++) {
        const struct text_token *t = &r->p.tokens[i];
        switch (t->value[0]) {
        case 'c': line_flag(l, 'c'); line_u64(l, it->cas); break;
        case 't': line_ttl(l, exptime, st->now); break;
        case 'T':
            change->set_exptime = true;
            exptime = st->f->exptime;
            break;
        case 'N':
            if (created) {
                change->set_exptime = true;
                exptime = st->f->vivify_exptime;
            }
            break;
        case 'O':
            if (!line_opaque(l, t)) {
                st->reply.refused = true;
                change->exptime = exptime;
                return;
            }
            break;
        case 'k': line_key(l, r->p.tokens[1].value, r->p.tokens[1].length, st->f->key_binary); break;
        }
    }
    change->exptime = exptime;
    if (st->f->value) {
        line_put(l, "\r\n", 2);
        line_put(l, digits, ndigits);
    }
}

static void cmd_ma(struct text_request *r, const struct meta_request *m)
{
    const struct meta_flags f = m->f;
    bool incr = m->incr;
    struct store_delta_meta how = {
        .incr = incr, .delta = f.delta, .cas = f.cas, .vivify = f.vivify, .initial = f.initial,
    };
    struct ma_state st = { .r = r, .f = &f, .now = clock_now() };
    struct exec_result res;
    exec_meta_delta(&r->exec, &m->req, &how, ma_on_item, &st, &st.reply, &res);
    switch (res.status) {
    case EXEC_NUMBER:
        if (st.reply.refused) {
            reply_error(r, ERR_OPAQUE);
            return;
        }
        break;
    case EXEC_NON_NUMERIC:
        reply_error(r, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        return;
    case EXEC_NO_MEMORY:
        reply_error(r, f.vivify ? "SERVER_ERROR Out of memory allocating new item"
                                : "SERVER_ERROR out of memory");
        return;
    default: /* NOT_FOUND, EXISTS */
        line_start(&st.line, res.status == EXEC_EXISTS ? "EX" : "NF");
        if (!line_opaque_and_key(&st.line, r, f.key_binary)) {
            reply_error(r, ERR_OPAQUE);
            return;
        }
        break;
    }
    /* Quiet hides a changed counter; a created one is still answered. */
    send_line(r, &st.line, f.quiet && res.status == EXEC_NUMBER && !st.reply.created);
}

/* ---- me, dispatch ---------------------------------------------------------------- */

/* The slab class memcached would put an item of ntotal bytes in, with its
 * default classes: 96 bytes, each next one 1.25 times larger rounded up to
 * 8, and a last class of half its 1 MiB slab page. */
static unsigned memcached_slab_class(size_t ntotal)
{
    const unsigned chunk_max = 512 * 1024;
    unsigned size = 96, cls = 1;
    while (size < chunk_max / 1.25) {
        if (size % 8)
            size += 8 - size % 8;
        if (ntotal <= size)
            return cls;
        size = (unsigned)(size * 1.25);
        cls++;
    }
    return cls;
}

struct me_state {
    struct text_request *r;
    rel_time_t now;
};

/* memcached's debug line; its item size counts its own 48-byte header, the
 * key's NUL, the value's CRLF, the flags word and the CAS. */
static void me_on_item(void *ctx, const struct item_view *it, bool created,
                       struct store_meta_change *change)
{
    struct me_state *st = ctx;
    struct meta_line l;
    char fields[160];
    (void)created;
    (void)change;
    size_t ntotal = 48 + it->nkey + 1 + it->nvalue + 2 + (it->flags ? 4 : 0) +
                    (st->r->pc->env->settings->use_cas ? 8 : 0);
    l.len = 0;
    line_put(&l, "ME ", 3);
    line_key_text(&l, it->key, it->nkey, it->key_binary);
    int n = snprintf(fields, sizeof fields,
                     " exp=%d la=%llu cas=%llu fetch=%s cls=%u size=%zu\r\n",
                     it->exptime == 0 ? -1 : (int)(st->now - it->exptime),
                     (unsigned long long)seconds_since(it->last_access, st->now),
                     (unsigned long long)it->cas, it->fetched ? "yes" : "no",
                     memcached_slab_class(ntotal), ntotal);
    line_put(&l, fields, (size_t)n);
    obuf_append(st->r->out, l.text, l.len);
}

static void cmd_me(struct text_request *r)
{
    const struct text_token *key = &r->p.tokens[1];
    struct me_state st = { r, clock_now() };
    struct store_meta_read how = { .vivify = false, .bump = false };
    if (store_get_meta(store_of(r), key->value, key->length, &how, me_on_item, &st) != STORE_HIT)
        text_reply(r, "EN");
}

void proto_meta_run(struct text_request *r)
{
    struct meta_request m;
    bool valid = meta_parse(&r->p, &m);
    if (m.command == 'e')
        STAT_INC(r->pc->stats, cmd_meta);     /* memcached counts only me, and before its checks */
    if (!valid) {
        reply_error(r, m.error);
        r->pc->swallow = m.swallow;
        return;
    }
    switch (m.command) {
    case 'g': cmd_mg(r, &m); break;
    case 's': cmd_ms(r, &m); break;
    case 'd': cmd_md(r, &m); break;
    case 'a': cmd_ma(r, &m); break;
    case 'e': cmd_me(r); break;
    default:
        text_reply(r, "MN");
        r->pc->transmit = true; /* memcached flushes its replies at mn */
        break;
    }
}
