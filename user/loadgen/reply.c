/* reply.c - see reply.h. */
#include "reply.h"

#include <string.h>

#define MAX_TOKENS 6
#define VALUE_LEN_MAX (1u << 30)   /* beyond memcached's largest item */

struct token {
    const char *s;
    size_t n;
};

void reply_start(struct reply_parser *p, enum mc_op op, const uint32_t *keys,
                 unsigned nkeys, const struct keyspace *ks)
{
    p->op = op;
    p->keys = keys;
    p->nkeys = nkeys;
    p->ks = ks;
    p->hits = 0;
    p->error = REPLY_OK;
    p->next = 0;
    p->state = IN_LINE;
    p->line_len = 0;
}

static void note_error(struct reply_parser *p, enum reply_error e)
{
    if (p->error == REPLY_OK)
        p->error = e;
}

/* Space-separated tokens of line; at most MAX_TOKENS are kept, the count
 * says how many there were. */
static unsigned tokenize(const char *line, size_t len, struct token *t)
{
    unsigned count = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (count < MAX_TOKENS)
            t[count] = (struct token){ line + start, i - start };
        count++;
    }
    return count;
}

static bool is(const struct token *t, const char *word)
{
    return t->n == strlen(word) && memcmp(t->s, word, t->n) == 0;
}

static bool parse_length(const struct token *t, size_t *out)
{
    if (t->n == 0 || t->n > 10)
        return false;
    size_t v = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->s[i] < '0' || t->s[i] > '9')
            return false;
        v = v * 10 + (size_t)(t->s[i] - '0');
    }
    *out = v;
    return v <= VALUE_LEN_MAX;
}

static bool is_error_line(const struct token *t, unsigned n)
{
    return (n == 1 && is(&t[0], "ERROR")) || is(&t[0], "CLIENT_ERROR") ||
           is(&t[0], "SERVER_ERROR");
}

/* A value of len bytes follows; it is checked against key when key_ok. */
static void begin_value(struct reply_parser *p, size_t len, bool key_ok, uint64_t key)
{
    p->hits++;
    p->value_checked = key_ok && len == p->ks->value_size;
    if (!p->value_checked)
        note_error(p, REPLY_MISMATCH);
    p->value_key = key;
    p->value_at = 0;
    p->value_len = len;
    p->state = IN_DATA;
}

/* Whether a VALUE line's key is one of the requested keys still to come:
 * memcached answers hits in request order and skips misses. */
static bool next_requested_key(struct reply_parser *p, const struct token *key, uint64_t *index)
{
    if (!keyspace_key_index(p->ks, key->s, key->n, index))
        return false;
    for (unsigned i = p->next; i < p->nkeys; i++)
        if (p->keys[i] == *index) {
            p->next = i + 1;
            return true;
        }
    return false;
}

/* get/gets: VALUE <key> <flags> <bytes> [<cas>], then END. */
static bool get_line(struct reply_parser *p, const struct token *t, unsigned n)
{
    if (n == 1 && is(&t[0], "END"))
        return true;
    size_t len;
    if ((n == 4 || n == 5) && is(&t[0], "VALUE") && parse_length(&t[3], &len)) {
        uint64_t key = 0;
        bool key_ok = next_requested_key(p, &t[1], &key);
        bool cas_ok = (n == 5) == (p->op == OP_GETS);
        begin_value(p, len, key_ok && cas_ok, key);
        return false;
    }
    note_error(p, is_error_line(t, n) ? REPLY_SERVER_ERROR : REPLY_SYNTAX);
    return true;
}

/* An mg answered (a value, EN, or an error line): done when it was the only
 * one; several end with MN. */
static bool mg_answered(struct reply_parser *p)
{
    p->next++;
    return p->nkeys == 1;
}

/* mg <key> v: VA <bytes> [flags], or EN; several end with MN. */
static bool mg_line(struct reply_parser *p, const struct token *t, unsigned n)
{
    if (p->next == p->nkeys) {
        if (n == 1 && is(&t[0], "MN"))
            return true;
        note_error(p, is_error_line(t, n) ? REPLY_SERVER_ERROR : REPLY_SYNTAX);
        return true;
    }
    size_t len;
    if (n >= 2 && is(&t[0], "VA") && parse_length(&t[1], &len)) {
        begin_value(p, len, true, p->keys[p->next]);
        return false;
    }
    if (n == 1 && is(&t[0], "EN"))
        return mg_answered(p);
    if (is_error_line(t, n)) {
        note_error(p, REPLY_SERVER_ERROR);
        return mg_answered(p);
    }
    note_error(p, REPLY_SYNTAX);
    return true;
}

static bool set_line(struct reply_parser *p, const struct token *t, unsigned n)
{
    if (n == 1 && is(&t[0], "STORED"))
        return true;
    if (n == 1 && (is(&t[0], "NOT_STORED") || is(&t[0], "EXISTS") || is(&t[0], "NOT_FOUND")))
        note_error(p, REPLY_NOT_STORED);
    else
        note_error(p, is_error_line(t, n) ? REPLY_SERVER_ERROR : REPLY_SYNTAX);
    return true;
}

/* One whole line, "\r\n" included. Returns whether the reply is complete. */
static bool handle_line(struct reply_parser *p, const char *line, size_t len)
{
    struct token t[MAX_TOKENS];
    unsigned n = len >= 2 && line[len - 2] == '\r' ? tokenize(line, len - 2, t) : 0;
    if (n == 0) {
        note_error(p, REPLY_SYNTAX);
        return true;
    }
    switch (p->op) {
    case OP_GET:
    case OP_GETS:
        return get_line(p, t, n);
    case OP_MG:
        return mg_line(p, t, n);
    case OP_SET:
        return set_line(p, t, n);
    }
    return true;
}

/* Bytes of buf up to the end of the current line (kept when the line goes
 * on in the next feed). Returns how many it took; *done when the line
 * completed the reply. */
static size_t feed_line(struct reply_parser *p, const char *buf, size_t len, bool *done)
{
    const char *nl = memchr(buf, '\n', len);
    size_t take = nl ? (size_t)(nl - buf) + 1 : len;
    if (nl && p->line_len == 0) {   /* the usual case: the line is whole in buf */
        *done = handle_line(p, buf, take);
        return take;
    }
    if (take > sizeof(p->line) - p->line_len) {
        note_error(p, REPLY_SYNTAX);
        *done = true;
        return take;
    }
    memcpy(p->line + p->line_len, buf, take);
    p->line_len += take;
    if (nl) {
        *done = handle_line(p, p->line, p->line_len);
        p->line_len = 0;
    }
    return take;
}

static size_t feed_data(struct reply_parser *p, const char *buf, size_t len)
{
    size_t take = p->value_len - p->value_at;
    if (take > len)
        take = len;
    if (p->value_checked &&
        !keyspace_value_matches(p->ks, p->value_key, p->value_at, buf, take)) {
        note_error(p, REPLY_MISMATCH);
        p->value_checked = false;
    }
    p->value_at += take;
    if (p->value_at == p->value_len) {
        p->state = IN_DATA_END;
        p->value_at = 0;   /* now counts the bytes of "\r\n" seen */
    }
    return take;
}

/* One byte of the "\r\n" after a value. */
static void feed_data_end(struct reply_parser *p, char c, bool *done)
{
    if (c != "\r\n"[p->value_at]) {
        note_error(p, REPLY_SYNTAX);
        *done = true;
        return;
    }
    if (++p->value_at < 2)
        return;
    p->state = IN_LINE;
    if (p->op == OP_MG)
        *done = mg_answered(p);
}

size_t reply_feed(struct reply_parser *p, const char *buf, size_t len, bool *done)
{
    size_t at = 0;
    *done = false;
    while (at < len && !*done) {
        switch (p->state) {
        case IN_LINE:
            at += feed_line(p, buf + at, len - at, done);
            break;
        case IN_DATA:
            at += feed_data(p, buf + at, len - at);
            break;
        case IN_DATA_END:
            feed_data_end(p, buf[at++], done);
            break;
        }
    }
    return at;
}
