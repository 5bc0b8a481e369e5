/* fuzz_text.c - libFuzzer target: the text protocol's parser alone
 * (text_parse.h), with no store and no connection (the store is fuzzed
 * alone by fuzz_store). The input is a request stream; each line is parsed
 * as a connection would, a storage command's data block skipped, until the
 * parser needs more bytes or closes. Besides what ASan and UBSan catch, it
 * aborts when a parse breaks its contract: using no bytes or more than it
 * was given, a key outside the line or longer than the store takes, an
 * error with no reply, a `need` no larger than what it had. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "text_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t at = 0;
    while (at < size) {
        struct text_parsed p;
        size_t len = size - at;
        enum text_parse_status st = text_parse(buf + at, len, &p);
        if (st == TEXT_NEED_MORE) {
            check(p.need == 0 || p.need > len);
            break;
        }
        if (st == TEXT_CLOSE)
            break;
        check_request(&p, buf + at, len);
        at += p.used;
        if (p.req.type == REQ_STORE) {
            if (size - at < p.req.nvalue + 2)
                break;
            (void)text_data_ok(buf + at, p.req.nvalue);
            at += p.req.nvalue + 2;
        }
    }
    free(buf);
    return 0;
}
