/* meta_parse.c - see meta_parse.h. Follows memcached 1.6.18's
 * proto_text.c: flags are parsed once up front (duplicates and unknown
 * letters refused, a bad value remembered while the rest is still parsed),
 * with each command's own messages. */
#include "meta_parse.h"

#include <limits.h>
#include <string.h>

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
bool meta_base64_decode(char *text, size_t *len)
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

size_t meta_base64_encode(const char *bytes, size_t n, char *out)
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
static bool parse_flag(struct text_parsed *p, const struct text_token *t,
                       struct meta_flags *f, const char **error)
{
    const char *arg = t->value + 1;
    switch (t->value[0]) {
    case 'b': {
        struct text_token *key = &p->tokens[1];
        f->key_binary = true;
        if (meta_base64_decode(key->value, &key->length))
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
static bool parse_flags(struct text_parsed *p, size_t first, struct meta_flags *f,
                        const char **error)
{
    static const char known[] = "bNTRlOPLkstcfvhuqFCMJDI";
    bool seen[128] = { false };
    bool ok = true;
    for (size_t i = first; p->tokens[i].length != 0; i++) {
        const struct text_token *t = &p->tokens[i];
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
        ok = parse_flag(p, t, f, error) && ok;
    }
    return ok;
}

/* The checks every meta command's line passes first, in memcached's order:
 * a key, a key not too long, not too many tokens. */
static bool line_ok(const struct text_parsed *p, struct meta_request *m, const char *too_long)
{
    if (p->ntokens < 3)
        m->error = "ERROR";
    else if (p->tokens[1].length > STORE_KEY_MAX)
        m->error = ERR_BAD_FORMAT;
    else if (p->ntokens > META_MAX_TOKENS)
        m->error = too_long;
    return m->error == NULL;
}

/* The checks mg, md and ma start with. A bad flag is reported with
 * flags_error, or with the parser's own message when that is NULL (mg). */
static bool preamble(struct text_parsed *p, struct meta_request *m, const char *too_long,
                     const char *flags_error)
{
    const char *error = ERR_BAD_FORMAT;
    if (!line_ok(p, m, too_long))
        return false;
    if (!parse_flags(p, 2, &m->f, &error)) {
        m->error = flags_error ? flags_error : error;
        return false;
    }
    return true;
}

/* ---- commands ---------------------------------------------------------------------- */

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
static bool ms_note_returns(const struct text_parsed *p, struct meta_request *m)
{
    size_t n = 0;
    for (size_t i = 3; i < p->ntokens - 1; i++) {
        const struct text_token *t = &p->tokens[i];
        char c = t->value[0];
        if (c == 'O') {
            if (t->length > META_MAX_OPAQUE)
                return false;
            m->nopaque = (uint8_t)(t->length - 1);
            memcpy(m->opaque, t->value + 1, m->nopaque);
        }
        if (c == 'O' || c == 'k' || c == 'c')
            m->returns[n++] = c;
    }
    m->returns[n] = '\0';
    return true;
}

/* ms <key> <datalen> <flags>*: once its length is known, an error also
 * discards its data block. */
static bool parse_ms(struct text_parsed *p, struct meta_request *m)
{
    const char *error = ERR_BAD_FORMAT;
    int32_t vlen;

    if (!line_ok(p, m, "CLIENT_ERROR options flags too long"))
        return false;
    /* No value length, or a bad one. */
    if (p->ntokens == 3 || !text_parse_i32(p->tokens[2].value, &vlen) || vlen < 0 ||
        vlen > INT_MAX - 2) {
        m->error = ERR_BAD_FORMAT;
        return false;
    }
    m->nvalue = (size_t)vlen;
    if (!parse_flags(p, 3, &m->f, &error)) {
        m->error = error;
    } else {
        bool opaque_ok = ms_note_returns(p, m);
        if (!ms_mode(&m->f, &m->mode))
            m->error = "CLIENT_ERROR invalid mode for ms M token";
        else if (!opaque_ok)
            m->error = ERR_OPAQUE;
    }
    if (m->error)
        m->swallow = m->nvalue + 2;
    return m->error == NULL;
}

/* ma: the mode says incr or decr. */
static bool parse_ma(struct text_parsed *p, struct meta_request *m)
{
    m->f.delta = 1;
    if (!preamble(p, m, "CLIENT_ERROR options flags too long", ERR_FLAGS))
        return false;
    switch (m->f.mode) {
    case 0: case 'I': case '+': m->incr = true; return true;
    case 'D': case '-': m->incr = false; return true;
    default:
        m->error = "CLIENT_ERROR invalid mode for ma M token";
        return false;
    }
}

/* me <key> [b] */
static bool parse_me(struct text_parsed *p, struct meta_request *m)
{
    struct text_token *key = &p->tokens[1];
    if (p->ntokens < 3 || key->length > STORE_KEY_MAX ||
        (p->ntokens >= 4 && strcmp(p->tokens[2].value, "b") == 0 &&
         !meta_base64_decode(key->value, &key->length)))
        m->error = ERR_BAD_FORMAT;
    return m->error == NULL;
}

static bool parse_command(struct text_parsed *p, struct meta_request *m)
{
    switch (m->command) {
    case 'g': return preamble(p, m, "CLIENT_ERROR options flags are too long", NULL);
    case 's': return parse_ms(p, m);
    case 'd': return preamble(p, m, "CLIENT_ERROR options flags too long", ERR_FLAGS);
    case 'a': return parse_ma(p, m);
    case 'e': return parse_me(p, m);
    case 'n': return true;
    default:
        m->error = "ERROR";
        return false;
    }
}

bool meta_parse(struct text_parsed *p, struct meta_request *m)
{
    memset(m, 0, sizeof(*m));
    m->command = p->tokens[0].value[1];
    if (!parse_command(p, m))
        return false;
    /* Meta commands are not counted by stats detail, as in memcached. */
    m->req = (struct request){
        .key = p->tokens[1].value, .nkey = p->tokens[1].length, .noreply = m->f.quiet,
        .no_detail_stats = true,
    };
    return true;
}
