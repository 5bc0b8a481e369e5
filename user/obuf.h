/* obuf.h - a connection's output buffer.
 *
 * Replies are a byte stream made of copied bytes and references: a large
 * value is not copied but referenced where it lies in its (pinned) item,
 * so a reply costs memory in proportion to its number of values, not their
 * size. Offsets (len, resp_starts, truncate, consume) count the whole
 * stream; `data` holds only the copied bytes, and obuf_iov() gathers the
 * two for sendmsg.
 *
 * The buffer also remembers where each memcached "response" starts: over
 * TCP that is irrelevant, but over UDP memcached sends every response (one
 * per key of a multi-get, one per command) in datagrams of its own, and we
 * reproduce that exactly. */
#ifndef XDPCACHED_OBUF_H
#define XDPCACHED_OBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>

#include "store.h"

/* Bytes of a pinned item inserted into the stream. */
struct obuf_ref {
    size_t at;               /* stream offset of its first byte */
    size_t data_at;          /* copied bytes before it */
    const char *bytes;
    size_t len;
    struct store_pin pin;
};

struct obuf {
    char *data;              /* the copied bytes */
    size_t data_len;
    size_t cap;
    size_t len;              /* the stream: copied and referenced bytes */
    struct obuf_ref *refs;   /* ascending */
    size_t nrefs;
    size_t refs_cap;
    size_t refs_released;    /* refs[0, refs_released) are sent and unpinned */
    size_t *resp_starts;     /* stream offsets, ascending */
    size_t nresp;
    size_t resp_cap;
    bool oom;                /* an allocation failed: the connection must close */
};

/* An empty buffer holding no memory. Inline, as obuf_memory() below: the
 * TCP path runs them a few times per request, to hand the worker's spare
 * buffer around and account memory. */
static inline void obuf_init(struct obuf *ob)
{
    *ob = (struct obuf){ 0 };
}

/* Unpins every reference and frees all memory. */
void obuf_free(struct obuf *ob);

/* obuf_reserve's slow path: grows the copied bytes' buffer. */
char *obuf_reserve_grow(struct obuf *ob, size_t n);

/* Room for n more copied bytes at data + data_len; NULL (and oom set) when
 * out of memory. Bytes written there become content with obuf_commit().
 * Inline, as the appends: every reply line goes through them. */
static inline char *obuf_reserve(struct obuf *ob, size_t n)
{
    if (!ob->oom && ob->cap - ob->data_len >= n)
        return ob->data + ob->data_len;
    return obuf_reserve_grow(ob, n);
}

static inline void obuf_commit(struct obuf *ob, size_t n)
{
    ob->data_len += n;
    ob->len += n;
}

static inline void obuf_append(struct obuf *ob, const void *bytes, size_t n)
{
    char *p = obuf_reserve(ob, n);
    if (!p)
        return;
    memcpy(p, bytes, n);
    obuf_commit(ob, n);
}

static inline void obuf_puts(struct obuf *ob, const char *s)
{
    obuf_append(ob, s, strlen(s));
}

/* Appends n bytes by reference; the buffer owns the pin from now on and
 * releases it once the bytes are sent (obuf_release_sent) or dropped. */
void obuf_append_ref(struct obuf *ob, const char *bytes, size_t n, const struct store_pin *pin);

/* Values shorter than this are copied: cheaper than a pin and its release. */
#define OBUF_REF_MIN 1024

/* obuf_append_value() for a value of OBUF_REF_MIN bytes or more: by
 * reference, or copied when the item cannot be pinned. */
void obuf_append_large_value(struct obuf *ob, struct store *store, const struct item_view *item);

/* Appends an item's value: by reference (pinning the item) from OBUF_REF_MIN
 * bytes on, else copied. Only from inside the store callback that gave it.
 * Inline, as every hit of every protocol runs it. */
static inline void obuf_append_value(struct obuf *ob, struct store *store,
                                     const struct item_view *item)
{
    if (item->nvalue < OBUF_REF_MIN)
        obuf_append(ob, item->value, item->nvalue);
    else
        obuf_append_large_value(ob, store, item);
}

/* obuf_resp_start() when the response list is full (or out of memory). */
void obuf_resp_start_grow(struct obuf *ob);

/* Begin a new response at the current end. Inline: every request and every
 * key of a multi-get begins one. */
static inline void obuf_resp_start(struct obuf *ob)
{
    if (ob->nresp < ob->resp_cap && !ob->oom)
        ob->resp_starts[ob->nresp++] = ob->len;
    else
        obuf_resp_start_grow(ob);
}

/* A response of one text line: line and CRLF. */
static inline void obuf_reply_line(struct obuf *ob, const char *line)
{
    obuf_resp_start(ob);
    obuf_puts(ob, line);
    obuf_append(ob, "\r\n", 2);
}

/* Drop everything after offset len, and every response starting at or after
 * it (so truncating to a response's start cancels that response). */
void obuf_truncate(struct obuf *ob, size_t len);

/* Moves the stream from offset `from` on (none of it sent, and no
 * reference across it) to the end of dst: copied bytes, references with
 * their pins, and the responses starting there. */
void obuf_move_tail(struct obuf *src, size_t from, struct obuf *dst);

/* The stream's bytes [from, to) as at most max iovecs; returns how many
 * were filled (fewer bytes than asked when max runs out). */
size_t obuf_iov(const struct obuf *ob, size_t from, size_t to, struct iovec *iov, size_t max);

/* Unpins the references wholly before offset sent: their bytes are gone. */
void obuf_release_sent(struct obuf *ob, size_t sent);

/* Drop n bytes from the front, after they were sent. */
void obuf_consume(struct obuf *ob, size_t n);

/* Forget all content (unpinning every reference) but keep the memory. */
void obuf_reset(struct obuf *ob);

/* The heap memory the buffer holds now. */
static inline size_t obuf_memory(const struct obuf *ob)
{
    return ob->cap + ob->refs_cap * sizeof(struct obuf_ref) + ob->resp_cap * sizeof(size_t);
}

#endif
