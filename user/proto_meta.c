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
#include "settings.h"
#include "stats.h"
#include "store.h"

/* memcached's MFLAG_MAX_OPT_LENGTH (a command with more tokens, the
 * terminal one included, is refused) and MFLAG_MAX_OPAQUE_LENGTH. */
#define META_MAX_TOKENS 20
#define META_MAX_OPAQUE 32

/* The longest reply line: a base64 key of 250 bytes (336) and " b", one
 * opaque, and at most 17 more flags of at most 22 bytes each. */
#define META_LINE_MAX 1024

#define ERR_BAD_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_BAD_TOKEN "CLIENT_ERROR bad token in command line format"
#define ERR_OPAQUE "CLIENT_ERROR opaque token too long"
#define ERR_FLAGS "CLIENT_ERROR invalid or duplicate flag"

/* What the flag tokens asked for (memcached's _meta_flags). */
struct meta_flags {
    bool no_update;          /* u */
    bool vivify;             /* N */
    bool value;              /* v */
    bool invalidate;         /* I */
    bool quiet;              /* q */
    bool has_cas;            /* C */
    bool has_ttl;            /* T */
    bool key_binary;         /* b: the key token was base64 and is decoded now */
    char mode;               /* M's letter, 0 when none */
    rel_time_t exptime;      /* T */
    rel_time_t vivify_exptime; /* N */
    rel_time_t recache_time; /* R */
    uint32_t client_flags;   /* F */
    uint64_t cas;            /* C */
    uint64_t delta;          /* D */
    uint64_t initial;        /* J */
};

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

/* ---- base64 ------------------------------------------------------------------ */

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, 0 for the padding '=', -1 for anything else
 * (which memcached's decoder skips over). */
static int base64_value(unsigned char c)
{
    if (c == '=')
        return 0;
    const char *at = c ? strchr(base64_alphabet, c) : NULL;
    return at ? (int)(at - base64_alphabet) : -1;
}

/* memcached's rules: characters outside the alphabet are skipped; the rest
 * must come in whole groups of four; the first group holding padding ends
 * the text, and may hold at most two '='. */
bool proto_meta_base64_decode(char *text, size_t *len)
{
    size_t nsymbols = 0;
    for (size_t i = 0; i < *len; i++)
        nsymbols += base64_value((unsigned char)text[i]) >= 0;
    if (nsymbols == 0 || nsymbols % 4 != 0) {
        *len = 0;
        return false;
    }
    size_t out = 0;
    unsigned group = 0, filled = 0, padding = 0;
    for (size_t i = 0; i < *len; i++) {
        int v = base64_value((unsigned char)text[i]);
        if (v < 0)
            continue;
        padding += text[i] == '=';
        group = group << 6 | (unsigned)v;
        if (++filled < 4)
            continue;
        /* out stays behind i: three bytes out per four symbols in. */
        text[out++] = (char)(group >> 16);
        text[out++] = (char)(group >> 8);
        text[out++] = (char)group;
        group = filled = 0;
        if (padding > 2) {
            *len = 0;
            return false;
        }
        if (padding) {
            out -= padding;
            break;
        }
    }
    *len = out;
    return out > 0;
}

size_t proto_meta_base64_encode(const char *bytes, size_t n, char *out)
{
    const unsigned char *in = (const unsigned char *)bytes;
    size_t len = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned group = (unsigned)in[i] << 16;
        if (i + 1 < n)
            group |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            group |= in[i + 2];
        out[len++] = base64_alphabet[group >> 18 & 63];
        out[len++] = base64_alphabet[group >> 12 & 63];
        out[len++] = i + 1 < n ? base64_alphabet[group >> 6 & 63] : '=';
        out[len++] = i + 2 < n ? base64_alphabet[group & 63] : '=';
    }
    return len;
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
        l->len += proto_meta_base64_encode(key, nkey, l->text + l->len);
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

static bool parse_ttl(const struct text_token *t, rel_time_t *out)
{
    int32_t v;
    if (!text_parse_i32(t->value + 1, &v))
        return false;
    *out = text_exptime_from_client(v);
    return true;
}

/* One flag token; false with *error set when its value is bad (the parse
 * goes on, as memcached's does, and the last error is the one reported). */
static bool parse_flag(struct text_request *r, const struct text_token *t,
                       struct meta_flags *f, const char **error)
{
    const char *arg = t->value + 1;
    switch (t->value[0]) {
    case 'b': {
        struct text_token *key = &r->p.tokens[1];
        f->key_binary = true;
        if (proto_meta_base64_decode(key->value, &key->length))
            return true;
        *error = "CLIENT_ERROR error decoding key";
        return false;
    }
    case 'N':
        f->vivify = true;
        if (parse_ttl(t, &f->vivify_exptime))
            return true;
        *error = ERR_BAD_TOKEN;
        return false;
    case 'T':
        if (parse_ttl(t, &f->exptime))
            return f->has_ttl = true;
        *error = ERR_BAD_TOKEN;
        return false;
    case 'R':
        if (parse_ttl(t, &f->recache_time))
            return true;
        *error = ERR_BAD_TOKEN;
        return false;
    case 'F':
        return text_parse_u32(arg, &f->client_flags); /* no message of its own */
    case 'C':
        if (text_parse_u64(arg, &f->cas))
            return f->has_cas = true;
        *error = ERR_BAD_TOKEN;
        return false;
    case 'M':
        if (t->length == 2) {
            f->mode = t->value[1];
            return true;
        }
        *error = "CLIENT_ERROR incorrect length for M token";
        return false;
    case 'J':
        if (text_parse_u64(arg, &f->initial))
            return true;
        *error = "CLIENT_ERROR invalid numeric initial value";
        return false;
    case 'D':
        if (text_parse_u64(arg, &f->delta))
            return true;
        *error = "CLIENT_ERROR invalid numeric delta value";
        return false;
    case 'v': f->value = true; return true;
    case 'u': f->no_update = true; return true;
    case 'q': f->quiet = true; return true;
    case 'I': f->invalidate = true; return true;
    default: /* O P L k s t c f l h: known, nothing to parse */
        return true;
    }
}

/* memcached's _meta_flag_preparse over tokens[first..]: a repeated or
 * unknown flag stops at once; a bad value is remembered and the rest still
 * parsed. *error keeps its default unless a flag says otherwise. */
static bool parse_flags(struct text_request *r, size_t first, struct meta_flags *f,
                        const char **error)
{
    static const char known[] = "bNTRlOPLkstcfvhuqFCMJDI";
    bool seen[128] = { false };
    bool ok = true;
    for (size_t i = first; r->p.tokens[i].length != 0; i++) {
        const struct text_token *t = &r->p.tokens[i];
        unsigned char c = (unsigned char)t->value[0];
        if (c >= 127 || seen[c]) {
            *error = "CLIENT_ERROR duplicate flag";
            return false;
        }
        seen[c] = true;
        if (!strchr(known, c)) {
            *error = "CLIENT_ERROR invalid flag";
            return false;
        }
        ok = parse_flag(r, t, f, error) && ok;
    }
    return ok;
}

/* The checks mg, md and ma start with. A bad flag is reported with
 * flags_error, or with the parser's own message when that is NULL (mg). */
/* The checks every meta command's line passes first, in memcached's order:
 * a key, a key not too long, not too many tokens. */
static bool meta_line_ok(struct text_request *r, const char *too_long)
{
    if (r->p.ntokens < 3) {
        text_reply(r, "ERROR");
        return false;
    }
    if (r->p.tokens[1].length > STORE_KEY_MAX) {
        reply_error(r, ERR_BAD_FORMAT);
        return false;
    }
    if (r->p.ntokens > META_MAX_TOKENS) {
        reply_error(r, too_long);
        return false;
    }
    return true;
}

static bool meta_preamble(struct text_request *r, struct meta_flags *f, const char *too_long,
                          const char *flags_error)
{
    const char *error = ERR_BAD_FORMAT;
    if (!meta_line_ok(r, too_long))
        return false;
    if (!parse_flags(r, 2, f, &error)) {
        reply_error(r, flags_error ? flags_error : error);
        return false;
    }
    return true;
}

/* ---- mg ---------------------------------------------------------------------------- */

struct mg_state {
    struct text_request *r;
    const struct meta_flags *f;
    rel_time_t now;
    bool ttl_set;            /* a T was applied: counted as a touch */
    bool opaque_too_long;
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
            st->ttl_set = change->set_exptime = true;
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
        st->opaque_too_long = true;
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
    /* A plain read, as the fast path would answer it: it may admit the key. */
    const struct proto_env *env = r->pc->env;
    if (r->pc->udp && env->udp_read_hit && !created && !change->set_exptime && !won &&
        !it->stale && !it->win_token_sent)
        env->udp_read_hit(env->udp_read_ctx, it);
}

static void cmd_mg(struct text_request *r)
{
    struct meta_flags f = { 0 };
    if (!meta_preamble(r, &f, "CLIENT_ERROR options flags are too long", NULL))
        return;
    struct mg_state st = { .r = r, .f = &f, .now = clock_now() };
    struct store_meta_read how = { .vivify = f.vivify, .bump = !f.no_update };
    const struct text_token *key = &r->p.tokens[1];
    enum store_lookup found = store_get_meta(store_of(r), key->value, key->length, &how,
                                             mg_on_item, &st);
    if (st.opaque_too_long) {
        reply_error(r, ERR_OPAQUE);
        return;
    }
    /* A T on a miss is not a touch: memcached learns of it only on a hit. */
    exec_count_lookup(r->pc->stats, found, found == STORE_HIT && st.ttl_set);
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

/* ms's mode letter; false for one memcached does not know. */
static bool ms_mode(const struct meta_flags *f, enum store_mode *mode)
{
    switch (f->mode) {
    case 0: case 'S': *mode = STORE_SET; break;
    case 'E': *mode = STORE_ADD; break;
    case 'A': *mode = STORE_APPEND; break;
    case 'P': *mode = STORE_PREPEND; break;
    case 'R': *mode = STORE_REPLACE; break;
    default: return false;
    }
    /* A CAS turns set and replace into cas (replace with a CAS is a cas). */
    if (f->has_cas && (*mode == STORE_SET || *mode == STORE_REPLACE))
        *mode = STORE_CAS;
    return true;
}

/* Remembers O, k and c in request order for the reply after the data. */
static bool ms_note_returns(struct text_request *r, struct pending_store *p)
{
    size_t n = 0;
    for (size_t i = 3; i < r->p.ntokens - 1; i++) {
        const struct text_token *t = &r->p.tokens[i];
        char c = t->value[0];
        if (c == 'O') {
            if (t->length > META_MAX_OPAQUE)
                return false;
            p->nopaque = (uint8_t)(t->length - 1);
            memcpy(p->opaque, t->value + 1, p->nopaque);
        }
        if (c == 'O' || c == 'k' || c == 'c')
            p->meta_returns[n++] = c;
    }
    p->meta_returns[n] = '\0';
    return true;
}

/* An ms that fails after its length was read: the error goes out and the
 * data block is thrown away unread, as memcached does. */
static void ms_refuse(struct text_request *r, const char *error, size_t nvalue)
{
    reply_error(r, error);
    r->pc->swallow = nvalue + 2;
}

static void cmd_ms(struct text_request *r)
{
    struct pending_store *p = &r->pc->pending;
    struct meta_flags f = { 0 };
    const char *error = ERR_BAD_FORMAT;
    int32_t vlen;
    enum store_mode mode = STORE_SET;

    if (!meta_line_ok(r, "CLIENT_ERROR options flags too long"))
        return;
    /* No value length. */
    if (r->p.ntokens == 3) {
        reply_error(r, ERR_BAD_FORMAT);
        return;
    }
    if (!text_parse_i32(r->p.tokens[2].value, &vlen) || vlen < 0 || vlen > INT_MAX - 2) {
        reply_error(r, ERR_BAD_FORMAT);
        return;
    }
    *p = (struct pending_store){ .meta = true };
    if (!parse_flags(r, 3, &f, &error)) {
        ms_refuse(r, error, (size_t)vlen);
        return;
    }
    bool opaque_ok = ms_note_returns(r, p);
    if (!ms_mode(&f, &mode)) {
        ms_refuse(r, "CLIENT_ERROR invalid mode for ms M token", (size_t)vlen);
        return;
    }
    if (!opaque_ok) {
        ms_refuse(r, ERR_OPAQUE, (size_t)vlen);
        return;
    }
    const struct text_token *key = &r->p.tokens[1];
    if (!store_item_size_ok(store_of(r), key->length, f.client_flags, (size_t)vlen)) {
        STAT_INC(r->pc->stats, store_too_large);
        /* A failed store must not leave the old value readable. */
        store_delete(store_of(r), key->value, key->length);
        ms_refuse(r, "SERVER_ERROR object too large for cache", (size_t)vlen);
        return;
    }
    p->active = true;
    p->req.noreply = f.quiet;
    p->req.mode = mode;
    p->req.nkey = key->length;
    memcpy(p->key, key->value, key->length);
    p->req.flags = f.client_flags;
    p->req.exptime = f.has_ttl ? f.exptime : 0;
    p->req.cas = f.cas;
    p->req.nvalue = (size_t)vlen;
    p->req.key_binary = f.key_binary;
    p->req.invalidate = f.invalidate && mode == STORE_CAS;
    p->req.failure_drops_old = true;
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

static void cmd_md(struct text_request *r)
{
    struct meta_flags f = { 0 };
    if (!meta_preamble(r, &f, "CLIENT_ERROR options flags too long", ERR_FLAGS))
        return;
    struct meta_line l;
    line_start(&l, "HD");
    if (!line_opaque_and_key(&l, r, f.key_binary)) {
        reply_error(r, ERR_OPAQUE);
        return;
    }
    const struct text_token *key = &r->p.tokens[1];
    enum store_status st = store_delete_meta(store_of(r), key->value, key->length,
                                             f.has_cas ? &f.cas : NULL,
                                             f.invalidate, f.has_ttl ? &f.exptime : NULL);
    bool done = st == STORE_DELETED || st == STORE_INVALIDATED;
    exec_count_delete(r->pc->stats, st);
    if (st == STORE_EXISTS) /* memcached's md counts a CAS mismatch as a miss */
        STAT_INC(r->pc->stats, delete_misses);
    if (!done)
        memcpy(l.text, st == STORE_EXISTS ? "EX" : "NF", 2);
    send_line(r, &l, f.quiet && done);
}

/* ---- ma ---------------------------------------------------------------------------- */

struct ma_state {
    struct text_request *r;
    const struct meta_flags *f;
    rel_time_t now;
    struct meta_line line;
    bool created;
    bool opaque_too_long;
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

    st->created = created;
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
                st->opaque_too_long = true;
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

static void cmd_ma(struct text_request *r)
{
    struct meta_flags f = { .delta = 1 };
    if (!meta_preamble(r, &f, "CLIENT_ERROR options flags too long", ERR_FLAGS))
        return;
    bool incr;
    switch (f.mode) {
    case 0: case 'I': case '+': incr = true; break;
    case 'D': case '-': incr = false; break;
    default:
        reply_error(r, "CLIENT_ERROR invalid mode for ma M token");
        return;
    }
    struct store_delta_meta how = {
        .incr = incr, .delta = f.delta, .cas = f.cas, .vivify = f.vivify, .initial = f.initial,
    };
    struct ma_state st = { .r = r, .f = &f, .now = clock_now() };
    const struct text_token *key = &r->p.tokens[1];
    uint64_t number;
    enum store_status status = store_delta_meta(store_of(r), key->value, key->length, &how,
                                                &number, NULL, ma_on_item, &st);
    if (!(status == STORE_DELTA_OK && st.opaque_too_long))
        exec_count_delta(r->pc->stats, incr, status, st.created);
    switch (status) {
    case STORE_DELTA_OK:
        if (st.opaque_too_long) {
            reply_error(r, ERR_OPAQUE);
            return;
        }
        break;
    case STORE_NON_NUMERIC:
        reply_error(r, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        return;
    case STORE_NO_MEMORY:
        reply_error(r, f.vivify ? "SERVER_ERROR Out of memory allocating new item"
                                : "SERVER_ERROR out of memory");
        return;
    default: /* NOT_FOUND, EXISTS */
        line_start(&st.line, status == STORE_EXISTS ? "EX" : "NF");
        if (!line_opaque_and_key(&st.line, r, f.key_binary)) {
            reply_error(r, ERR_OPAQUE);
            return;
        }
        break;
    }
    /* Quiet hides a changed counter; a created one is still answered. */
    send_line(r, &st.line, f.quiet && status == STORE_DELTA_OK && !st.created);
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
    struct text_token *key = &r->p.tokens[1];
    STAT_INC(r->pc->stats, cmd_meta);     /* memcached counts only me here */
    if (r->p.ntokens < 3 || key->length > STORE_KEY_MAX) {
        text_reply(r, ERR_BAD_FORMAT);
        return;
    }
    if (r->p.ntokens >= 4 && strcmp(r->p.tokens[2].value, "b") == 0 &&
        !proto_meta_base64_decode(key->value, &key->length)) {
        text_reply(r, ERR_BAD_FORMAT);
        return;
    }
    struct me_state st = { r, clock_now() };
    struct store_meta_read how = { .vivify = false, .bump = false };
    if (store_get_meta(store_of(r), key->value, key->length, &how, me_on_item, &st) != STORE_HIT)
        text_reply(r, "EN");
}

void proto_meta_run(struct text_request *r)
{
    switch (r->p.tokens[0].value[1]) {
    case 'g': cmd_mg(r); break;
    case 's': cmd_ms(r); break;
    case 'd': cmd_md(r); break;
    case 'a': cmd_ma(r); break;
    case 'e': cmd_me(r); break;
    case 'n':
        text_reply(r, "MN");
        r->pc->transmit = true; /* memcached flushes its replies at mn */
        break;
    default:
        text_reply(r, "ERROR");
        break;
    }
}
