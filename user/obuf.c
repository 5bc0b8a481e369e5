/* obuf.c - see obuf.h. */
#include "obuf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define OBUF_MIN_CAP 4096

static void unpin_refs(struct obuf *ob, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        store_unpin(&ob->refs[i].pin);
}

void obuf_free(struct obuf *ob)
{
    unpin_refs(ob, ob->refs_released, ob->nrefs);
    free(ob->data);
    free(ob->refs);
    free(ob->resp_starts);
    obuf_init(ob);
}

static bool grow(void **mem, size_t *cap, size_t need, size_t elem_size)
{
    size_t new_cap = *cap ? *cap : (OBUF_MIN_CAP + elem_size - 1) / elem_size;
    while (new_cap < need)
        new_cap *= 2;
    void *p = realloc(*mem, new_cap * elem_size);
    if (!p)
        return false;
    *mem = p;
    *cap = new_cap;
    return true;
}

char *obuf_reserve_grow(struct obuf *ob, size_t n)
{
    if (ob->oom)
        return NULL;
    if (ob->data_len + n > ob->cap && !grow((void **)&ob->data, &ob->cap, ob->data_len + n, 1)) {
        ob->oom = true;
        return NULL;
    }
    return ob->data + ob->data_len;
}

void obuf_append_ref(struct obuf *ob, const char *bytes, size_t n, const struct store_pin *pin)
{
    if (ob->oom || (ob->nrefs == ob->refs_cap &&
                    !grow((void **)&ob->refs, &ob->refs_cap, ob->nrefs + 1,
                          sizeof(struct obuf_ref)))) {
        ob->oom = true;
        store_unpin(pin);
        return;
    }
    ob->refs[ob->nrefs++] = (struct obuf_ref){
        .at = ob->len, .data_at = ob->data_len, .bytes = bytes, .len = n, .pin = *pin,
    };
    ob->len += n;
}

void obuf_append_large_value(struct obuf *ob, struct store *store, const struct item_view *item)
{
    struct store_pin pin;
    if (!ob->oom && store_pin(store, item, &pin))
        obuf_append_ref(ob, item->value, item->nvalue, &pin);
    else
        obuf_append(ob, item->value, item->nvalue);
}

static void push_resp_start(struct obuf *ob, size_t at)
{
    if (ob->oom)
        return;
    if (ob->nresp == ob->resp_cap &&
        !grow((void **)&ob->resp_starts, &ob->resp_cap, ob->nresp + 1, sizeof(size_t))) {
        ob->oom = true;
        return;
    }
    ob->resp_starts[ob->nresp++] = at;
}

void obuf_resp_start_grow(struct obuf *ob)
{
    push_resp_start(ob, ob->len);
}

/* The first reference that ends after stream offset pos (nrefs if none). */
static size_t ref_after(const struct obuf *ob, size_t pos)
{
    size_t lo = 0, hi = ob->nrefs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->refs[mid].at + ob->refs[mid].len <= pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Where stream offset pos falls in data: the copied bytes before it. */
static size_t data_offset(const struct obuf *ob, size_t pos)
{
    size_t i = ref_after(ob, pos);
    if (i < ob->nrefs && ob->refs[i].at <= pos)
        return ob->refs[i].data_at;   /* inside a reference */
    if (i == 0)
        return pos;
    const struct obuf_ref *before = &ob->refs[i - 1];
    return before->data_at + (pos - (before->at + before->len));
}

void obuf_truncate(struct obuf *ob, size_t len)
{
    if (len < ob->len) {
        ob->data_len = data_offset(ob, len);
        /* Responses are cut at their starts, never inside a reference. */
        size_t keep = ref_after(ob, len);
        assert(keep == ob->nrefs || ob->refs[keep].at >= len);
        if (keep < ob->refs_released)
            keep = ob->refs_released;
        unpin_refs(ob, keep, ob->nrefs);
        ob->nrefs = keep;
        ob->len = len;
    }
    while (ob->nresp > 0 && ob->resp_starts[ob->nresp - 1] >= len)
        ob->nresp--;
}

void obuf_move_tail(struct obuf *src, size_t from, struct obuf *dst)
{
    size_t shift = dst->len - from;
    size_t first_ref = ref_after(src, from);
    size_t data_from = data_offset(src, from);
    size_t resp = src->nresp;
    while (resp > 0 && src->resp_starts[resp - 1] >= from)
        resp--;
    size_t first_resp = resp;
    /* In stream order, so that each response starts where it did. */
    size_t pos = from, data_at = data_from;
    for (size_t i = first_ref; i <= src->nrefs; i++) {
        const struct obuf_ref *r = i < src->nrefs ? &src->refs[i] : NULL;
        size_t upto = r ? r->at : src->len;
        for (; resp < src->nresp && src->resp_starts[resp] <= upto; resp++) {
            size_t at = src->resp_starts[resp];
            obuf_append(dst, src->data + data_at, at - pos);
            data_at += at - pos;
            pos = at;
            push_resp_start(dst, at + shift);
        }
        obuf_append(dst, src->data + data_at, upto - pos);
        data_at += upto - pos;
        pos = upto;
        if (r) {
            obuf_append_ref(dst, r->bytes, r->len, &r->pin);   /* the pin moves */
            pos += r->len;
        }
    }
    src->nrefs = first_ref;
    src->data_len = data_from;
    src->len = from;
    src->nresp = first_resp;
}

size_t obuf_iov(const struct obuf *ob, size_t from, size_t to, struct iovec *iov, size_t max)
{
    if (ob->nrefs == 0) {   /* all copied: the common case of small values */
        if (from >= to || max == 0)
            return 0;
        iov[0] = (struct iovec){ ob->data + from, to - from };
        return 1;
    }
    size_t n = 0;
    size_t i = ref_after(ob, from);
    while (from < to && n < max) {
        const struct obuf_ref *r = i < ob->nrefs ? &ob->refs[i] : NULL;
        if (r && r->at <= from) {
            size_t end = r->at + r->len < to ? r->at + r->len : to;
            iov[n++] = (struct iovec){ (char *)r->bytes + (from - r->at), end - from };
            from = end;
            i++;
        } else {
            size_t end = r && r->at < to ? r->at : to;
            iov[n++] = (struct iovec){ ob->data + data_offset(ob, from), end - from };
            from = end;
        }
    }
    return n;
}

void obuf_release_sent(struct obuf *ob, size_t sent)
{
    size_t done = ref_after(ob, sent);
    if (done > ob->refs_released) {
        unpin_refs(ob, ob->refs_released, done);
        ob->refs_released = done;
    }
}

void obuf_consume(struct obuf *ob, size_t n)
{
    if (n >= ob->len) {
        obuf_reset(ob);
        return;
    }
    obuf_release_sent(ob, n);
    size_t data_n = data_offset(ob, n);
    memmove(ob->data, ob->data + data_n, ob->data_len - data_n);
    ob->data_len -= data_n;
    ob->len -= n;

    size_t first = ob->refs_released;
    for (size_t i = first; i < ob->nrefs; i++) {
        struct obuf_ref r = ob->refs[i];
        if (r.at < n) {         /* partly sent: keep the rest */
            r.bytes += n - r.at;
            r.len -= n - r.at;
            r.at = n;
        }
        r.at -= n;
        r.data_at -= data_n;
        ob->refs[i - first] = r;
    }
    ob->nrefs -= first;
    ob->refs_released = 0;

    size_t kept = 0;
    for (size_t i = 0; i < ob->nresp; i++) {
        if (ob->resp_starts[i] >= n)
            ob->resp_starts[kept++] = ob->resp_starts[i] - n;
    }
    ob->nresp = kept;
}

void obuf_reset(struct obuf *ob)
{
    unpin_refs(ob, ob->refs_released, ob->nrefs);
    ob->nrefs = 0;
    ob->refs_released = 0;
    ob->data_len = 0;
    ob->len = 0;
    ob->nresp = 0;
}
