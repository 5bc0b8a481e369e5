/* tcp_driver.c - memcached over TCP: each connection pipelines up to window
 * requests; replies come in order, so a ring of the outstanding requests and
 * one incremental parser per connection suffice, whatever the reads split.
 * A connection that closes or sends what is no reply is dropped (its
 * requests count as errors) with a message; when none is left the thread
 * stops. */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "reply.h"

#define TCP_READ_SIZE 65536

struct tcp_conn {
    int fd;
    bool dead;
    bool want_out;             /* epoll also waits for room to send */
    unsigned head, count;      /* outstanding requests: ring[head..head+count) */
    struct load_request *ring; /* window entries */
    uint32_t *keys;            /* multiget keys per ring entry */
    bool parsing;              /* parser holds ring[head]'s partial reply */
    struct reply_parser parser;
    char *out;                 /* request bytes not sent yet */
    size_t out_len;
};

struct tcp_driver {
    struct driver base;        /* first: the run loop's view */
    const struct load_config *cfg;
    int epfd;
    unsigned nconns, next_conn, alive;
    struct tcp_conn *conns;
    char in[TCP_READ_SIZE];
};

static void drop_conn(struct tcp_driver *d, struct load_thread *t, struct tcp_conn *c,
                      const char *why)
{
    fprintf(stderr, "mcload: tcp %s: %s; dropping the connection\n", d->cfg->server_text, why);
    for (unsigned i = 0; i < c->count; i++)
        load_failed(t, &c->ring[(c->head + i) % d->cfg->window]);
    d->base.outstanding -= c->count;
    c->count = 0;
    c->dead = true;
    close(c->fd);
    c->fd = -1;
    if (--d->alive == 0)
        d->base.failed = true;
}

static struct tcp_conn *conn_with_room(struct tcp_driver *d)
{
    for (unsigned i = 0; i < d->nconns; i++) {
        struct tcp_conn *c = &d->conns[(d->next_conn + i) % d->nconns];
        if (!c->dead && c->count < d->cfg->window) {
            d->next_conn = (d->next_conn + i + 1) % d->nconns;
            return c;
        }
    }
    return NULL;
}

static bool tcp_submit(struct driver *base, struct load_thread *t, uint64_t sent_ns)
{
    struct tcp_driver *d = (struct tcp_driver *)base;
    struct tcp_conn *c = conn_with_room(d);
    if (!c)
        return false;
    unsigned at = (c->head + c->count) % d->cfg->window;
    uint32_t *keys = c->keys + (size_t)at * d->cfg->multiget;
    unsigned nkeys;
    enum mc_op op = load_next_request(t, keys, &nkeys);
    c->ring[at] = (struct load_request){ sent_ns, op, nkeys };
    c->out_len += request_format(c->out + c->out_len, op, keys, nkeys, &d->cfg->ks);
    c->count++;
    base->outstanding++;
    return true;
}

static void watch_output(struct tcp_driver *d, struct tcp_conn *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void flush_conn(struct tcp_driver *d, struct load_thread *t, struct tcp_conn *c)
{
    if (c->dead || c->out_len == 0)
        return;
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        drop_conn(d, t, c, strerror(errno));
        return;
    }
    if (n > 0) {
        c->out_len -= (size_t)n;
        memmove(c->out, c->out + n, c->out_len);
    }
    watch_output(d, c, c->out_len > 0);
}

static void tcp_flush(struct driver *base, struct load_thread *t)
{
    struct tcp_driver *d = (struct tcp_driver *)base;
    for (unsigned i = 0; i < d->nconns; i++)
        flush_conn(d, t, &d->conns[i]);
}

/* Feeds what was read to the replies outstanding on c, in order. */
static void take_replies(struct tcp_driver *d, struct load_thread *t, struct tcp_conn *c,
                         const char *buf, size_t len, uint64_t now)
{
    unsigned window = d->cfg->window;
    size_t at = 0;
    while (at < len) {
        if (c->count == 0) {
            drop_conn(d, t, c, "bytes that answer no request");
            return;
        }
        struct load_request *r = &c->ring[c->head];
        if (!c->parsing) {
            reply_start(&c->parser, r->op, c->keys + (size_t)c->head * d->cfg->multiget,
                        r->nkeys, &d->cfg->ks);
            c->parsing = true;
        }
        bool done;
        at += reply_feed(&c->parser, buf + at, len - at, &done);
        if (!done)
            return;
        c->parsing = false;
        if (c->parser.error == REPLY_SYNTAX) {
            drop_conn(d, t, c, "a reply not understood");
            return;
        }
        load_complete(t, r, now, c->parser.hits, c->parser.error != REPLY_OK);
        c->head = (c->head + 1) % window;
        c->count--;
        d->base.outstanding--;
    }
}

static void read_conn(struct tcp_driver *d, struct load_thread *t, struct tcp_conn *c)
{
    ssize_t n = recv(c->fd, d->in, sizeof(d->in), MSG_DONTWAIT);
    if (n == 0)
        drop_conn(d, t, c, "the server closed the connection");
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
        drop_conn(d, t, c, strerror(errno));
    else if (n > 0)
        take_replies(d, t, c, d->in, (size_t)n, load_now_ns());
}

static void tcp_receive(struct driver *base, struct load_thread *t, uint64_t wake_ns)
{
    struct tcp_driver *d = (struct tcp_driver *)base;
    struct epoll_event events[16];
    int n = driver_wait(d->epfd, events, 16, wake_ns);
    for (int i = 0; i < n; i++) {
        struct tcp_conn *c = events[i].data.ptr;
        if (!c->dead && (events[i].events & EPOLLOUT))
            flush_conn(d, t, c);
        if (!c->dead && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            read_conn(d, t, c);
    }
}

static void tcp_abandon(struct driver *base, struct load_thread *t)
{
    struct tcp_driver *d = (struct tcp_driver *)base;
    for (unsigned i = 0; i < d->nconns; i++) {
        struct tcp_conn *c = &d->conns[i];
        for (unsigned j = 0; j < c->count; j++)
            load_timeout(t, &c->ring[(c->head + j) % d->cfg->window]);
        base->outstanding -= c->count;
        c->count = 0;
    }
}

static void tcp_destroy(struct driver *base)
{
    struct tcp_driver *d = (struct tcp_driver *)base;
    for (unsigned i = 0; i < d->nconns; i++) {
        struct tcp_conn *c = &d->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        free(c->ring);
        free(c->keys);
        free(c->out);
    }
    free(d->conns);
    if (d->epfd >= 0)
        close(d->epfd);
    free(d);
}

int tcp_connect(const struct load_config *cfg)
{
    int fd = driver_socket(cfg, SOCK_STREAM);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&cfg->server, cfg->server_len) < 0) {
        fprintf(stderr, "mcload: cannot connect to %s over TCP: %s\n", cfg->server_text,
                strerror(errno));
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static bool setup_conn(struct tcp_driver *d, struct tcp_conn *c)
{
    const struct load_config *cfg = d->cfg;
    size_t request_max = load_request_max(cfg);
    c->ring = calloc(cfg->window, sizeof(*c->ring));
    c->keys = calloc((size_t)cfg->window * cfg->multiget, sizeof(*c->keys));
    /* Unsent bytes belong to outstanding requests: window of them at most. */
    c->out = malloc((size_t)cfg->window * request_max);
    if (!c->ring || !c->keys || !c->out) {
        fprintf(stderr, "mcload: out of memory for TCP connections\n");
        return false;
    }
    c->fd = tcp_connect(cfg);
    if (c->fd < 0)
        return false;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        fprintf(stderr, "mcload: epoll_ctl: %s\n", strerror(errno));
        return false;
    }
    d->alive++;
    return true;
}

struct driver *tcp_driver_create(const struct load_config *cfg)
{
    struct tcp_driver *d = calloc(1, sizeof(*d));
    struct tcp_conn *conns = calloc(cfg->conns, sizeof(*conns));
    if (!d || !conns) {
        fprintf(stderr, "mcload: out of memory for TCP connections\n");
        free(d);
        free(conns);
        return NULL;
    }
    d->base = (struct driver){ tcp_submit, tcp_flush, tcp_receive, NULL, tcp_abandon,
                               tcp_destroy, 0, false };
    d->cfg = cfg;
    d->conns = conns;
    for (unsigned i = 0; i < cfg->conns; i++)
        conns[i].fd = -1;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0) {
        fprintf(stderr, "mcload: epoll_create1: %s\n", strerror(errno));
        tcp_destroy(&d->base);
        return NULL;
    }
    for (d->nconns = 0; d->nconns < cfg->conns; d->nconns++)
        if (!setup_conn(d, &conns[d->nconns])) {
            d->nconns++;
            tcp_destroy(&d->base);
            return NULL;
        }
    return &d->base;
}
