/* udp_driver.c - memcached over UDP: the 8-byte frame header, request ids
 * matched to outstanding requests through a table indexed by the id, batches
 * of datagrams per sendmmsg/recvmmsg, several sockets on one epoll.
 *
 * A reply may come in several datagrams (memcached sends one per key of a
 * multi-get, or splits a long one): each is fed to the reply's parser in the
 * order it arrives, until the text is a complete reply. Most replies are
 * one datagram and parse in a scratch parser; the few that are not get one
 * of a small pool per socket until they complete or time out. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "driver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mc_udp.h"
#include "reply.h"

#define UDP_BATCH 64              /* datagrams per sendmmsg or recvmmsg */
#define UDP_DATAGRAM_MAX 2048     /* memcached's replies are at most 1400 */
#define UDP_REQUEST_MAX 65507     /* the most a UDP datagram carries over IPv4 */
#define UDP_PARTIAL_MAX 64        /* replies being reassembled per socket: one bit each */
#define UDP_OPEN_LOOP_SLOTS 65536 /* every request id */
#define UDP_SOCKET_BUFFER (4 << 20)

struct udp_slot {
    struct load_request req;
    uint16_t request_id;
    bool timed_out;       /* request_id's request was counted as a timeout */
    int8_t partial;       /* its parser in the socket's pool, or -1 */
};

struct udp_socket {
    int fd;
    unsigned outstanding, cap;
    uint16_t next_id;
    uint16_t id_mask;          /* slot of an id: id & id_mask */
    struct udp_slot *slots;
    /* Bit i: slot i holds an outstanding request. The timeout scan reads
     * these words, not the slots: the open loop's 65,536 slots are 1.5 MB,
     * and reading them all stalled the thread for 0.1-0.25 ms every scan,
     * latency the server did not cause. */
    uint64_t *busy;
    uint32_t *keys;            /* multiget keys per slot */
    uint64_t partial_used;     /* bit i: partial[i] is in use */
    struct reply_parser partial[UDP_PARTIAL_MAX];
    unsigned queued;           /* datagrams waiting for flush */
    struct mmsghdr send_msgs[UDP_BATCH];
    struct iovec send_iov[UDP_BATCH];
    char *send_buf;            /* UDP_BATCH datagrams of send_size */
    size_t send_size;
};

struct udp_driver {
    struct driver base;        /* first: the run loop's view */
    const struct load_config *cfg;
    int epfd;
    unsigned nsocks, next_sock;
    struct udp_socket *socks;
    struct reply_parser scratch;
    struct mmsghdr recv_msgs[UDP_BATCH];
    struct iovec recv_iov[UDP_BATCH];
    char recv_buf[UDP_BATCH][UDP_DATAGRAM_MAX];
};

static uint32_t *slot_keys(const struct udp_driver *u, struct udp_socket *s,
                           const struct udp_slot *slot)
{
    return s->keys + (size_t)(slot - s->slots) * u->cfg->multiget;
}

static bool slot_busy(const struct udp_socket *s, const struct udp_slot *slot)
{
    size_t i = (size_t)(slot - s->slots);
    return s->busy[i / 64] >> (i % 64) & 1;
}

static void set_busy(struct udp_socket *s, const struct udp_slot *slot, bool busy)
{
    size_t i = (size_t)(slot - s->slots);
    uint64_t bit = UINT64_C(1) << (i % 64);
    s->busy[i / 64] = busy ? s->busy[i / 64] | bit : s->busy[i / 64] & ~bit;
}

static void flush_socket(struct udp_socket *s)
{
    unsigned sent = 0;
    bool retried = false;
    while (sent < s->queued) {
        int n = sendmmsg(s->fd, s->send_msgs + sent, s->queued - sent, 0);
        if (n > 0) {
            sent += (unsigned)n;
        } else if (n < 0 && (errno == EINTR || (errno == ECONNREFUSED && !retried))) {
            retried = errno == ECONNREFUSED;   /* an earlier ICMP error, reported once */
        } else {
            break;   /* the rest are lost: they will time out */
        }
    }
    s->queued = 0;
}

static struct udp_socket *socket_with_room(struct udp_driver *u)
{
    for (unsigned i = 0; i < u->nsocks; i++) {
        struct udp_socket *s = &u->socks[(u->next_sock + i) % u->nsocks];
        if (s->outstanding < s->cap) {
            u->next_sock = (u->next_sock + i + 1) % u->nsocks;
            return s;
        }
    }
    return NULL;
}

static bool udp_submit(struct driver *d, struct load_thread *t, uint64_t sent_ns)
{
    struct udp_driver *u = (struct udp_driver *)d;
    struct udp_socket *s = socket_with_room(u);
    if (!s)
        return false;
    /* A free slot exists (outstanding < cap <= slots / 2); a slot still
     * held by a straggler is skipped. */
    struct udp_slot *slot;
    uint16_t id;
    do {
        id = s->next_id++;
        slot = &s->slots[id & s->id_mask];
    } while (slot_busy(s, slot));
    uint32_t *keys = slot_keys(u, s, slot);
    unsigned nkeys;
    enum mc_op op = load_next_request(t, keys, &nkeys);
    *slot = (struct udp_slot){ .req = { sent_ns, op, nkeys }, .request_id = id, .partial = -1 };
    set_busy(s, slot, true);

    char *dgram = s->send_buf + (size_t)s->queued * s->send_size;
    struct mc_udp_header hdr = { htons(id), 0, htons(1), 0 };
    memcpy(dgram, &hdr, sizeof(hdr));
    size_t len = sizeof(hdr) + request_format(dgram + sizeof(hdr), op, keys, nkeys, &u->cfg->ks);
    s->send_iov[s->queued] = (struct iovec){ dgram, len };
    s->queued++;
    s->outstanding++;
    d->outstanding++;
    if (s->queued == UDP_BATCH)
        flush_socket(s);
    return true;
}

static void udp_flush(struct driver *d, struct load_thread *t)
{
    (void)t;
    struct udp_driver *u = (struct udp_driver *)d;
    for (unsigned i = 0; i < u->nsocks; i++)
        if (u->socks[i].queued)
            flush_socket(&u->socks[i]);
}

static void free_slot(struct udp_driver *u, struct udp_socket *s, struct udp_slot *slot)
{
    if (slot->partial >= 0)
        s->partial_used &= ~(UINT64_C(1) << slot->partial);
    set_busy(s, slot, false);
    slot->partial = -1;
    s->outstanding--;
    u->base.outstanding--;
}

/* Keeps an unfinished reply's parser in the pool; false when it is full. */
static bool keep_partial(struct udp_socket *s, struct udp_slot *slot,
                         const struct reply_parser *p)
{
    if (s->partial_used == UINT64_MAX)
        return false;
    int i = __builtin_ctzll(~s->partial_used);
    s->partial_used |= UINT64_C(1) << i;
    s->partial[i] = *p;
    slot->partial = (int8_t)i;
    return true;
}

static void finish(struct udp_driver *u, struct load_thread *t, struct udp_socket *s,
                   struct udp_slot *slot, uint64_t now, unsigned hits, bool error)
{
    if (now - slot->req.sent_ns >= t->timeout_ns) {
        /* Past its timeout, though expire() had not looked yet. */
        load_timeout(t, &slot->req);
        load_late(t);
    } else {
        load_complete(t, &slot->req, now, hits, error);
    }
    free_slot(u, s, slot);
}

static void handle_datagram(struct udp_driver *u, struct load_thread *t, struct udp_socket *s,
                            const char *data, size_t len, uint64_t now)
{
    struct mc_udp_header hdr;
    if (len < sizeof(hdr))
        return;
    memcpy(&hdr, data, sizeof(hdr));
    uint16_t id = ntohs(hdr.request_id);
    struct udp_slot *slot = &s->slots[id & s->id_mask];
    if (slot->request_id != id)
        return;   /* a datagram of a reply already counted */
    if (!slot_busy(s, slot)) {
        if (slot->timed_out) {
            slot->timed_out = false;
            load_late(t);
        }
        return;
    }
    struct reply_parser *p = &u->scratch;
    if (slot->partial >= 0)
        p = &s->partial[slot->partial];
    else
        reply_start(p, slot->req.op, slot_keys(u, s, slot), slot->req.nkeys, &u->cfg->ks);
    bool done;
    size_t used = reply_feed(p, data + sizeof(hdr), len - sizeof(hdr), &done);
    if (done)
        finish(u, t, s, slot, now, p->hits, p->error != REPLY_OK || used != len - sizeof(hdr));
    else if (p == &u->scratch && !keep_partial(s, slot, p))
        finish(u, t, s, slot, now, p->hits, true);
}

static void receive_socket(struct udp_driver *u, struct load_thread *t, struct udp_socket *s)
{
    int n = recvmmsg(s->fd, u->recv_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return;   /* EAGAIN, or an ICMP error: the requests will time out */
    uint64_t now = load_now_ns();
    for (int i = 0; i < n; i++) {
        const struct msghdr *m = &u->recv_msgs[i].msg_hdr;
        if (!(m->msg_flags & MSG_TRUNC))
            handle_datagram(u, t, s, u->recv_buf[i], u->recv_msgs[i].msg_len, now);
    }
}

static void udp_receive(struct driver *d, struct load_thread *t, uint64_t wake_ns)
{
    struct udp_driver *u = (struct udp_driver *)d;
    struct epoll_event events[16];
    int n = driver_wait(u->epfd, events, 16, wake_ns);
    for (int i = 0; i < n; i++)
        receive_socket(u, t, events[i].data.ptr);
}

static void expire_before(struct udp_driver *u, struct load_thread *t, uint64_t now, bool all)
{
    for (unsigned i = 0; i < u->nsocks; i++) {
        struct udp_socket *s = &u->socks[i];
        for (unsigned w = 0; w <= s->id_mask / 64 && s->outstanding > 0; w++) {
            for (uint64_t bits = s->busy[w]; bits; bits &= bits - 1) {
                struct udp_slot *slot = &s->slots[w * 64 + (unsigned)__builtin_ctzll(bits)];
                if (all || now - slot->req.sent_ns >= t->timeout_ns) {
                    load_timeout(t, &slot->req);
                    slot->timed_out = true;
                    free_slot(u, s, slot);
                }
            }
        }
    }
}

static void udp_expire(struct driver *d, struct load_thread *t, uint64_t now_ns)
{
    expire_before((struct udp_driver *)d, t, now_ns, false);
}

static void udp_abandon(struct driver *d, struct load_thread *t)
{
    expire_before((struct udp_driver *)d, t, 0, true);
}

static void udp_destroy(struct driver *d)
{
    struct udp_driver *u = (struct udp_driver *)d;
    for (unsigned i = 0; i < u->nsocks; i++) {
        struct udp_socket *s = &u->socks[i];
        if (s->fd >= 0)
            close(s->fd);
        free(s->slots);
        free(s->busy);
        free(s->keys);
        free(s->send_buf);
    }
    free(u->socks);
    if (u->epfd >= 0)
        close(u->epfd);
    free(u);
}

static bool setup_socket(struct udp_driver *u, struct udp_socket *s, size_t request_max)
{
    const struct load_config *cfg = u->cfg;
    /* Closed loop: window requests out of twice as many ids' slots, so a
     * straggler's slot is rarely in the way. Open loop: every id. */
    unsigned nslots = UDP_OPEN_LOOP_SLOTS;
    if (cfg->rate <= 0)
        for (nslots = 2; nslots < 2 * cfg->window; nslots *= 2)
            ;
    s->cap = cfg->rate > 0 ? nslots / 2 : cfg->window;
    s->id_mask = (uint16_t)(nslots - 1);
    s->send_size = sizeof(struct mc_udp_header) + request_max;
    s->slots = calloc(nslots, sizeof(*s->slots));
    s->busy = calloc((nslots + 63) / 64, sizeof(*s->busy));
    s->keys = calloc((size_t)nslots * cfg->multiget, sizeof(*s->keys));
    s->send_buf = malloc(UDP_BATCH * s->send_size);
    if (!s->slots || !s->busy || !s->keys || !s->send_buf) {
        fprintf(stderr, "mcload: out of memory for UDP sockets\n");
        return false;
    }
    for (unsigned i = 0; i < nslots; i++)
        s->slots[i].partial = -1;
    for (unsigned i = 0; i < UDP_BATCH; i++)
        s->send_msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &s->send_iov[i], .msg_iovlen = 1 };
    s->fd = driver_socket(cfg, SOCK_DGRAM);
    if (s->fd < 0)
        return false;
    int size = UDP_SOCKET_BUFFER;
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
    if (connect(s->fd, (const struct sockaddr *)&cfg->server, cfg->server_len) < 0 ||
        epoll_ctl(u->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        fprintf(stderr, "mcload: udp %s: %s\n", cfg->server_text, strerror(errno));
        return false;
    }
    return true;
}

struct driver *udp_driver_create(const struct load_config *cfg)
{
    size_t request_max = load_request_max(cfg);
    if (sizeof(struct mc_udp_header) + request_max > UDP_REQUEST_MAX) {
        fprintf(stderr, "mcload: a request of %zu bytes does not fit in a UDP datagram\n",
                request_max);
        return NULL;
    }
    struct udp_driver *u = calloc(1, sizeof(*u));
    struct udp_socket *socks = calloc(cfg->conns, sizeof(*socks));
    if (!u || !socks) {
        fprintf(stderr, "mcload: out of memory for UDP sockets\n");
        free(u);
        free(socks);
        return NULL;
    }
    u->base = (struct driver){ udp_submit, udp_flush, udp_receive, udp_expire, udp_abandon,
                               udp_destroy, 0, false };
    u->cfg = cfg;
    u->socks = socks;
    for (unsigned i = 0; i < cfg->conns; i++)
        socks[i].fd = -1;
    for (unsigned i = 0; i < UDP_BATCH; i++) {
        u->recv_iov[i] = (struct iovec){ u->recv_buf[i], UDP_DATAGRAM_MAX };
        u->recv_msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &u->recv_iov[i], .msg_iovlen = 1 };
    }
    u->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (u->epfd < 0) {
        fprintf(stderr, "mcload: epoll_create1: %s\n", strerror(errno));
        udp_destroy(&u->base);
        return NULL;
    }
    for (u->nsocks = 0; u->nsocks < cfg->conns; u->nsocks++)
        if (!setup_socket(u, &socks[u->nsocks], request_max)) {
            u->nsocks++;
            udp_destroy(&u->base);
            return NULL;
        }
    return &u->base;
}
