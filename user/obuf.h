/* obuf.h - a connection's output buffer.
 *
 * Replies are appended as bytes. The buffer also remembers where each
 * memcached "response" starts: over TCP that is irrelevant, but over UDP
 * memcached sends every response (one per key of a multi-get, one per
 * command) in datagrams of its own, and we reproduce that exactly. */
#ifndef XDPCACHED_OBUF_H
#define XDPCACHED_OBUF_H

#include <stdbool.h>
#include <stddef.h>

struct obuf {
    char *data;
    size_t len;
    size_t cap;
    size_t *resp_starts;     /* offsets into data, ascending */
    size_t nresp;
    size_t resp_cap;
    bool oom;                /* an allocation failed: the connection must close */
};

void obuf_init(struct obuf *ob);
void obuf_free(struct obuf *ob);

/* Room for n more bytes at data + len; NULL (and oom set) when out of memory.
 * Bytes written there become content with obuf_commit(). */
char *obuf_reserve(struct obuf *ob, size_t n);
void obuf_commit(struct obuf *ob, size_t n);
void obuf_append(struct obuf *ob, const void *bytes, size_t n);
void obuf_puts(struct obuf *ob, const char *s);

/* Begin a new response at the current end. */
void obuf_resp_start(struct obuf *ob);

/* Drop everything after offset len, and every response starting at or after
 * it (so truncating to a response's start cancels that response). */
void obuf_truncate(struct obuf *ob, size_t len);

/* Drop n bytes from the front, after they were sent. */
void obuf_consume(struct obuf *ob, size_t n);

/* Forget all content but keep the memory. */
void obuf_reset(struct obuf *ob);

#endif
