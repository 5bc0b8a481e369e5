/* harness.c - see harness.h.
 *
 * Contract checks (each aborts with a message, which libFuzzer reports as a
 * crash with the input saved): a parsed request uses at least one byte and
 * no more than it was given; its key lies inside the request and is no
 * longer than the store takes; an error has a reply and swallows only what
 * memcached swallows; a `need` asks for more than there is. */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bin_parse.h"
#include "decimal.h"
#include "meta_parse.h"
#include "store.h"
#include "text_parse.h"

static void harness_fail(const char *what)
{
    fprintf(stderr, "fuzz harness: %s\n", what);
    abort();
}

/* ---- byte strings ---------------------------------------------------------------- */

void bytes_append(struct bytes *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p)
            harness_fail("out of memory");
        b->data = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, src, n);
    b->len += n;
}

void bytes_puts(struct bytes *b, const char *s)
{
    bytes_append(b, s, strlen(s));
}

void bytes_put_decimal(struct bytes *b, uint64_t v)
{
    char digits[20];
    bytes_append(b, digits, format_decimal(digits, v));
}

void bytes_free(struct bytes *b)
{
    free(b->data);
    *b = (struct bytes){ 0 };
}

/* ---- the parsers alone ------------------------------------------------------ */

/* Parser contracts: a request uses at least one byte and no more than it
 * was given, its key lies inside its line and is no longer than the store
 * takes, an error has a reply, a `need` asks for more than there is. */
static void check(bool ok)
{
    if (!ok)
        harness_fail("a parser broke its contract");
}

/* What every parsed request must satisfy. */
static void check_request(const struct text_parsed *p, const char *in, size_t len)
{
    const struct request *req = &p->req;
    check(p->used > 0 && p->used <= len);
    check(p->line == in && p->line_end < p->used);
    switch (req->type) {
    case REQ_ERROR:
        check(req->error != NULL && req->error[0] != '\0');
        break;
    case REQ_STORE: case REQ_DELTA: case REQ_DELETE: case REQ_TOUCH:
        check(req->key >= in && req->key + req->nkey <= in + p->line_end);
        check(req->nkey > 0 && req->nkey <= STORE_KEY_MAX);
        break;
    case REQ_GET:
        check(p->first_key < p->ntokens);
        break;
    default:
        break;
    }
    for (size_t i = 0; i + 1 < p->ntokens; i++)
        check(p->tokens[i].value >= in && p->tokens[i].value + p->tokens[i].length <=
                                              in + p->line_end);
}

/* A meta command: parsed, or refused with a reply; only a refused ms
 * swallows, its data block. */
static void check_meta(struct text_parsed *p)
{
    struct meta_request m;
    const char *line_end = p->line + p->line_end;
    if (!meta_parse(p, &m)) {
        check(m.error != NULL && m.error[0] != '\0');
        check(m.swallow == 0 || (m.command == 's' && m.swallow == m.nvalue + 2));
        return;
    }
    check(m.error == NULL && m.swallow == 0);
    if (m.command != 'n' && m.command != 'e')
        check(m.req.key >= p->line && m.req.key + m.req.nkey <= line_end &&
              m.req.nkey <= STORE_KEY_MAX);
}

/* Parses one text request at in[0, len): the bytes it and its data block
 * take, 0 to stop (incomplete, or the connection would close). */
static size_t parse_text_request(char *in, size_t len)
{
    struct text_parsed p;
    enum text_parse_status st = text_parse(in, len, &p);
    if (st == TEXT_NEED_MORE)
        check(p.need == 0 || p.need > len);
    if (st != TEXT_PARSED)
        return 0;
    check_request(&p, in, len);
    if (p.req.type == REQ_META)
        check_meta(&p);
    if (p.req.type != REQ_STORE)
        return p.used;
    if (len - p.used < p.req.nvalue + 2)
        return 0;
    (void)text_data_ok(in + p.used, p.req.nvalue);
    return p.used + p.req.nvalue + 2;
}

/* Parses a copy of data[0, size) request after request (parse_one returns
 * the bytes each takes, 0 to stop): the parsers may write into their input. */
static void parse_stream(const uint8_t *data, size_t size,
                         size_t (*parse_one)(char *in, size_t len))
{
    if (size == 0)
        return;
    char *buf = malloc(size);
    if (!buf)
        harness_fail("out of memory");
    memcpy(buf, data, size);
    for (size_t at = 0, n; at < size; at += n) {
        n = parse_one(buf + at, size - at);
        if (n == 0)
            break;
    }
    free(buf);
}

void harness_parse_text(const uint8_t *data, size_t size)
{
    parse_stream(data, size, parse_text_request);
}

/* ---- the binary parser ----------------------------------------------------- */

/* A parsed binary request at in (len bytes there): returns the bytes it and
 * its value or swallowed body take, at most len. */
static size_t check_bin_request(const struct bin_parsed *p, const char *in, size_t len)
{
    check(p->head >= BIN_HEADER_LEN && p->head <= len);
    if (p->error != BIN_SUCCESS) {
        check(p->req.type == REQ_ERROR && !(p->swallow > 0 && p->close_after));
        return p->head + (p->swallow < len - p->head ? p->swallow : len - p->head);
    }
    check(p->req.key == in + BIN_HEADER_LEN + p->h.extlen && p->req.nkey <= STORE_KEY_MAX);
    check(p->req.type != REQ_ERROR);
    if (p->req.type != REQ_STORE)
        return p->head;
    check(p->req.nvalue == p->h.bodylen - p->h.extlen - p->h.keylen);
    return p->req.nvalue < len - p->head ? p->head + p->req.nvalue : len;
}

/* Parses one binary request at in[0, len): the bytes it, its value and
 * what it swallows take; 0 to stop. */
static size_t parse_bin_request(char *in, size_t len)
{
    struct bin_parsed p;
    enum bin_parse_status st = bin_parse(in, len, &p);
    if (st == BIN_NEED_MORE)
        check(p.need > len);
    return st == BIN_PARSED ? check_bin_request(&p, in, len) : 0;
}

void harness_parse_bin(const uint8_t *data, size_t size)
{
    parse_stream(data, size, parse_bin_request);
}
