/* obuf.c - see obuf.h. */
#include "obuf.h"

#include <stdlib.h>
#include <string.h>

#define OBUF_MIN_CAP 4096

void obuf_init(struct obuf *ob)
{
    memset(ob, 0, sizeof(*ob));
}

void obuf_free(struct obuf *ob)
{
    free(ob->data);
    free(ob->resp_starts);
    obuf_init(ob);
}

static bool grow(void **mem, size_t *cap, size_t need, size_t elem_size)
{
    size_t new_cap = *cap ? *cap : OBUF_MIN_CAP / elem_size;
    while (new_cap < need)
        new_cap *= 2;
    void *p = realloc(*mem, new_cap * elem_size);
    if (!p)
        return false;
    *mem = p;
    *cap = new_cap;
    return true;
}

char *obuf_reserve(struct obuf *ob, size_t n)
{
    if (ob->oom)
        return NULL;
    if (ob->len + n > ob->cap && !grow((void **)&ob->data, &ob->cap, ob->len + n, 1)) {
        ob->oom = true;
        return NULL;
    }
    return ob->data + ob->len;
}

void obuf_commit(struct obuf *ob, size_t n)
{
    ob->len += n;
}

void obuf_append(struct obuf *ob, const void *bytes, size_t n)
{
    char *p = obuf_reserve(ob, n);
    if (!p)
        return;
    memcpy(p, bytes, n);
    obuf_commit(ob, n);
}

void obuf_puts(struct obuf *ob, const char *s)
{
    obuf_append(ob, s, strlen(s));
}

void obuf_resp_start(struct obuf *ob)
{
    if (ob->oom)
        return;
    if (ob->nresp == ob->resp_cap &&
        !grow((void **)&ob->resp_starts, &ob->resp_cap, ob->nresp + 1, sizeof(size_t))) {
        ob->oom = true;
        return;
    }
    ob->resp_starts[ob->nresp++] = ob->len;
}

void obuf_truncate(struct obuf *ob, size_t len)
{
    if (len < ob->len)
        ob->len = len;
    while (ob->nresp > 0 && ob->resp_starts[ob->nresp - 1] >= len)
        ob->nresp--;
}

void obuf_consume(struct obuf *ob, size_t n)
{
    if (n >= ob->len) {
        obuf_reset(ob);
        return;
    }
    memmove(ob->data, ob->data + n, ob->len - n);
    ob->len -= n;
    size_t kept = 0;
    for (size_t i = 0; i < ob->nresp; i++) {
        if (ob->resp_starts[i] >= n)
            ob->resp_starts[kept++] = ob->resp_starts[i] - n;
    }
    ob->nresp = kept;
}

void obuf_reset(struct obuf *ob)
{
    ob->len = 0;
    ob->nresp = 0;
}
