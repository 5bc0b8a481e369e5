/* udp.c - see udp.h.
 *
 * Frames follow memcached 1.6 byte for byte (try_read_udp, transmit_udp,
 * build_udp_header, _transmit_post there); the frame header is in
 * shared/mc_udp.h.
 *
 * System calls, not parsing, are what a UDP request costs: datagrams are
 * read in batches (recvmmsg) until the socket is empty, and the replies to
 * a whole batch leave in one sendmmsg(), so a busy worker makes a few
 * system calls per 64 requests rather than two or three per request.
 *
 * Nothing blocks the worker: sends are non-blocking, and a send that finds
 * the socket full waits for EPOLLOUT (with no reading meanwhile). A request
 * that runs in parts (a long multi-get) is parked after its first part: it
 * keeps a copy of its remaining bytes and a reply stream (a lane) of its
 * own, sends at most UDP_PARKED_SEND datagrams per event-loop turn, and runs
 * its next part only once the last one is sent. So a 200 MB reply drains
 * while the worker goes on reading and answering other datagrams, and what
 * it holds is one part (about 64 KB, or one referenced value). */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "allow.h"
#include "conn.h"
#include "mc_udp.h"
#include "obuf.h"
#include "proto_text.h"
#include "settings.h"
#include "stats.h"

/* memcached's read buffer; holds any datagram. A batch of them is mostly
 * untouched virtual memory: a datagram only dirties the pages it fills. */
#define UDP_READ_BUFFER_SIZE 65536
/* Datagrams per recvmmsg(): a client with a window of outstanding requests
 * (every benchmark, most real ones) finds them answered by one sendmmsg(). */
#define UDP_RECV_BATCH 64
/* Full batches read per wake-up before the worker's other sockets get a turn. */
#define UDP_RECV_ROUNDS 4
#define UDP_SEND_BATCH 64
/* Datagrams the parked requests send per event-loop turn, one request a
 * turn in turn (about 90 KB): the bound on how long they delay everything
 * else the worker serves. */
#define UDP_PARKED_SEND 64
/* Datagrams of a batch's replies sent at once; the rest go out like a
 * parked request's, and no more is read until they are all sent. */
#define UDP_FRESH_SEND 256
/* Requests parked at once; the batch read shrinks to the free slots, so
 * every request read can be parked. As many as a batch holds: without
 * parked requests the batch is whole. */
#define UDP_PARKED_MAX UDP_RECV_BATCH
/* A lane's buffers beyond this are given back once sent, so a batch of big
 * multi-gets does not keep megabytes. */
#define UDP_OUT_KEEP (64 * 1024)
/* Pieces of the reply stream in one datagram: a response is its copied
 * lines around at most one referenced value, and never shares a datagram. */
#define UDP_DATAGRAM_PIECES 4

/* Where the replies to one request datagram go. */
struct udp_peer {
    const struct sockaddr *addr;
    socklen_t addrlen;
    uint16_t request_id;
};

/* One response to send, in datagrams of its own. */
struct udp_reply {
    size_t start, len;              /* in the lane's stream */
    const struct udp_peer *peer;
};

/* A reply stream and the responses queued from it, sent in order. */
struct udp_lane {
    int fd;                         /* the socket the requests came from */
    struct obuf out;
    /* [0, out_queued) and the first resp_queued responses of out are made
     * into replies already (or dropped). */
    size_t out_queued;
    size_t resp_queued;
    struct udp_reply *replies;
    size_t nreplies, replies_cap;
    size_t next;                    /* the first reply not wholly sent */
    size_t next_seq;                /* its first datagram not sent */
};

/* A request that runs in parts, between two of them. */
struct udp_parked {
    bool used;
    struct sockaddr_storage addr;
    struct udp_peer peer;           /* addr points at the one above */
    struct proto_conn pc;
    char *in;                       /* the datagram's bytes from the request on */
    size_t len;
    unsigned ran;                   /* requests run since the last yield */
    struct udp_lane lane;
};

/* The datagrams of one sendmmsg(). */
struct udp_send_queue {
    struct mmsghdr msgs[UDP_SEND_BATCH];
    struct iovec iov[UDP_SEND_BATCH][1 + UDP_DATAGRAM_PIECES];
    struct mc_udp_header hdr[UDP_SEND_BATCH];
};

struct udp_worker {
    const struct proto_env *env;
    struct thread_stats *stats;
    int epfd;
    struct ev_source *sockets;      /* the worker's UDP sockets, all watched */
    size_t nsockets;
    int blocked_fd;                 /* a send waits for EPOLLOUT here; -1 if none */
    size_t mem_counted;             /* what stats->conn_memory has of ours */
    struct proto_conn pc;
    struct udp_lane fresh;          /* replies to the batch just read */
    struct udp_peer peers[UDP_RECV_BATCH];
    struct udp_parked parked[UDP_PARKED_MAX];
    unsigned nparked;
    unsigned next_parked;           /* round-robin */
    struct udp_send_queue sendq;
    unsigned nreceived;             /* datagrams the last recvmmsg() read */
    struct mmsghdr in_msgs[UDP_RECV_BATCH];
    struct iovec in_iov[UDP_RECV_BATCH];
    struct sockaddr_storage in_addr[UDP_RECV_BATCH];
    char in_buf[UDP_RECV_BATCH][UDP_READ_BUFFER_SIZE];
};

struct udp_worker *udp_worker_create(const struct proto_env *env, struct thread_stats *stats,
                                     int epfd, struct ev_source *sockets, size_t nsockets)
{
    struct udp_worker *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->env = env;
    u->stats = stats;
    u->epfd = epfd;
    u->sockets = sockets;
    u->nsockets = nsockets;
    u->blocked_fd = -1;
    proto_conn_init(&u->pc, env, stats);
    u->pc.udp = true;
    obuf_init(&u->fresh.out);
    for (unsigned i = 0; i < UDP_PARKED_MAX; i++)
        obuf_init(&u->parked[i].lane.out);
    for (unsigned i = 0; i < UDP_RECV_BATCH; i++) {
        u->in_iov[i] = (struct iovec){ .iov_base = u->in_buf[i], .iov_len = UDP_READ_BUFFER_SIZE };
        u->in_msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &u->in_addr[i], .msg_namelen = sizeof(u->in_addr[i]),
            .msg_iov = &u->in_iov[i], .msg_iovlen = 1,
        };
    }
    return u;
}

static void lane_free(struct udp_lane *l)
{
    obuf_free(&l->out);
    free(l->replies);
    *l = (struct udp_lane){ .fd = l->fd };
}

static void parked_free(struct udp_worker *u, struct udp_parked *p)
{
    lane_free(&p->lane);
    free(p->in);
    p->in = NULL;
    p->used = false;
    u->nparked--;
}

void udp_worker_destroy(struct udp_worker *u)
{
    if (!u)
        return;
    lane_free(&u->fresh);
    for (unsigned i = 0; i < UDP_PARKED_MAX; i++)
        if (u->parked[i].used)
            parked_free(u, &u->parked[i]);
    free(u);
}

/* Brings the worker's count of buffer memory (--buffer-memory) up to date. */
static void udp_account(struct udp_worker *u)
{
    size_t now = obuf_memory(&u->fresh.out) + u->fresh.replies_cap * sizeof(struct udp_reply);
    for (unsigned i = 0; i < UDP_PARKED_MAX && u->nparked > 0; i++) {
        const struct udp_parked *p = &u->parked[i];
        if (p->used)
            now += p->len + obuf_memory(&p->lane.out) +
                   p->lane.replies_cap * sizeof(struct udp_reply);
    }
    if (now != u->mem_counted) {
        /* Unsigned wrap-around makes this a subtraction when it shrank. */
        STAT_ADD(u->stats, conn_memory, now - u->mem_counted);
        u->mem_counted = now;
    }
}

/* ---- sending --------------------------------------------------------------- */

static bool lane_unsent(const struct udp_lane *l)
{
    return l->next < l->nreplies;
}

/* An empty response is one bare header (with a total of 0). */
static size_t reply_datagrams(const struct udp_reply *r)
{
    return r->len == 0 ? 1 : (r->len + MC_UDP_MAX_DATA - 1) / MC_UDP_MAX_DATA;
}

/* Fills the send queue with up to max datagrams from the lane's cursor;
 * returns how many. memcached numbers a response's datagrams 0..n-1 and
 * caps the total, not the count sent. */
static unsigned lane_fill(struct udp_worker *u, const struct udp_lane *l, unsigned max)
{
    struct udp_send_queue *q = &u->sendq;
    size_t r = l->next, seq = l->next_seq;
    unsigned n = 0;
    while (n < max && r < l->nreplies) {
        const struct udp_reply *reply = &l->replies[r];
        size_t ndatagrams = reply_datagrams(reply);
        size_t off = seq * MC_UDP_MAX_DATA;
        size_t len = reply->len - off < MC_UDP_MAX_DATA ? reply->len - off : MC_UDP_MAX_DATA;
        q->hdr[n] = (struct mc_udp_header){
            .request_id = htons(reply->peer->request_id),
            .sequence = htons((uint16_t)seq),
            .total = htons(reply->len == 0             ? 0
                           : ndatagrams > UINT16_MAX ? UINT16_MAX
                                                     : (uint16_t)ndatagrams),
        };
        q->iov[n][0] = (struct iovec){ .iov_base = &q->hdr[n], .iov_len = sizeof(q->hdr[n]) };
        size_t pieces = obuf_iov(&l->out, reply->start + off, reply->start + off + len,
                                 &q->iov[n][1], UDP_DATAGRAM_PIECES);
        q->msgs[n].msg_hdr = (struct msghdr){
            .msg_name = (void *)reply->peer->addr, .msg_namelen = reply->peer->addrlen,
            .msg_iov = q->iov[n], .msg_iovlen = 1 + pieces,
        };
        n++;
        if (++seq == ndatagrams) {
            r++;
            seq = 0;
        }
    }
    return n;
}

/* Moves the lane's cursor past n datagrams and unpins what they sent. */
static void lane_advance(struct udp_lane *l, unsigned n)
{
    while (n > 0) {
        size_t left = reply_datagrams(&l->replies[l->next]) - l->next_seq;
        if (n < left) {
            l->next_seq += n;
            break;
        }
        n -= (unsigned)left;
        l->next++;
        l->next_seq = 0;
    }
    size_t sent = l->next < l->nreplies
                      ? l->replies[l->next].start + l->next_seq * MC_UDP_MAX_DATA
                      : l->out_queued;
    obuf_release_sent(&l->out, sent);
}

/* Forgets a lane's sent replies, keeping small buffers for the next ones. */
static void lane_reset(struct udp_lane *l)
{
    if (l->out.oom || l->out.cap > UDP_OUT_KEEP)
        obuf_free(&l->out);   /* also clears oom */
    else
        obuf_reset(&l->out);
    if (l->replies_cap * sizeof(struct udp_reply) > UDP_OUT_KEEP) {
        free(l->replies);
        l->replies = NULL;
        l->replies_cap = 0;
    }
    l->nreplies = l->next = l->next_seq = 0;
    l->out_queued = l->resp_queued = 0;
}

/* Only this worker's blocked socket is watched, for EPOLLOUT, until it
 * takes the rest: reading more would only add replies that cannot go. */
static void udp_watch(struct udp_worker *u, int blocked_fd)
{
    u->blocked_fd = blocked_fd;
    for (size_t i = 0; i < u->nsockets; i++) {
        struct ev_source *src = &u->sockets[i];
        uint32_t events = blocked_fd < 0 ? EPOLLIN : src->fd == blocked_fd ? EPOLLOUT : 0;
        struct epoll_event ev = { .events = events, .data.ptr = src };
        if (epoll_ctl(u->epfd, EPOLL_CTL_MOD, src->fd, &ev) != 0)
            fprintf(stderr, "<%d UDP: epoll_ctl failed: %s\n", src->fd, strerror(errno));
    }
}

/* Sends up to max datagrams of the lane without blocking; true when the
 * lane has nothing left unsent. A send that fails otherwise than by a full
 * socket drops the lane's replies, as memcached drops a failed one. */
static bool lane_send(struct udp_worker *u, struct udp_lane *l, unsigned max)
{
    uint64_t bytes = 0;
    while (lane_unsent(l) && max > 0) {
        unsigned n = lane_fill(u, l, max < UDP_SEND_BATCH ? max : UDP_SEND_BATCH);
        int sent = sendmmsg(l->fd, u->sendq.msgs, n, MSG_DONTWAIT);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            udp_watch(u, l->fd);
            break;
        }
        if (sent <= 0) {
            if (settings_verbosity(u->env->settings) > 0)
                fprintf(stderr, "<%d UDP send failed: %s\n", l->fd, strerror(errno));
            l->next = l->nreplies;
            l->next_seq = 0;
            break;
        }
        for (int i = 0; i < sent; i++)
            bytes += u->sendq.msgs[i].msg_len;
        lane_advance(l, (unsigned)sent);
        max -= (unsigned)sent;
    }
    STAT_ADD(u->stats, bytes_written, bytes);
    return !lane_unsent(l);
}

static void lane_add_reply(struct udp_lane *l, const struct udp_peer *peer, size_t start,
                           size_t len)
{
    if (l->nreplies == l->replies_cap) {
        size_t cap = l->replies_cap ? 2 * l->replies_cap : UDP_SEND_BATCH;
        struct udp_reply *p = realloc(l->replies, cap * sizeof(*p));
        if (!p) {
            l->out.oom = true;
            return;
        }
        l->replies = p;
        l->replies_cap = cap;
    }
    l->replies[l->nreplies++] = (struct udp_reply){ .start = start, .len = len, .peer = peer };
}

/* Queues every response written since the last transmission, each in
 * datagrams of its own. memcached sends an empty response (a multi-get's
 * miss) as a bare header only when it heads the queue; after sending any
 * response, _transmit_post() also retires the empty ones right behind it
 * without sending them. So only the first response of a transmission may go
 * out empty. A retrieval run in parts is one transmission for memcached:
 * its later parts are `continuing`, with no first response. */
static void udp_transmit(struct udp_lane *l, const struct udp_peer *peer, bool continuing)
{
    const struct obuf *ob = &l->out;
    /* Nothing new since the last transmission (a retrieval's replies went
     * out right after it, and the datagram ended there). */
    if (ob->len == l->out_queued && ob->nresp == l->resp_queued)
        return;
    bool first = !continuing;
    /* Response i spans [resp_starts[i-1], resp_starts[i]); bytes before the
     * first new start, if any, count as a response of their own. */
    for (size_t i = l->resp_queued; i <= ob->nresp; i++) {
        size_t start = i > l->resp_queued ? ob->resp_starts[i - 1] : l->out_queued;
        size_t end = i < ob->nresp ? ob->resp_starts[i] : ob->len;
        if ((i == l->resp_queued || !first) && end == start)
            continue;
        lane_add_reply(l, peer, start, end - start);
        first = false;
    }
    l->out_queued = ob->len;
    l->resp_queued = ob->nresp;
}

/* memcached's conn_cleanup drops the replies not transmitted yet. Out of
 * memory, the lane's queued replies are dropped too. */
static void udp_drop_untransmitted(struct udp_lane *l)
{
    if (l->out.oom) {
        lane_reset(l);
        return;
    }
    obuf_truncate(&l->out, l->out_queued);
    l->resp_queued = l->out.nresp;
}

/* ---- requests -------------------------------------------------------------- */

/* Runs requests from *in with the protocol state pc, their replies going to
 * the lane; whatever is incomplete at the end of the datagram is dropped.
 * Replies are transmitted where memcached's would be: after each
 * retrieval, after every reqs_per_event requests (where memcached yields),
 * and at the end. Which points those are matters: they decide which empty
 * responses are sent (see udp_transmit). Returns false when a request ran
 * a part and stopped: *in and *len are then its bytes and the rest, and it
 * goes on (`continuing`) with the same pc and *ran. */
static bool udp_run_requests(struct udp_worker *u, struct udp_lane *l,
                             const struct udp_peer *peer, struct proto_conn *pc,
                             char **in, size_t *len, unsigned *ran, bool continuing)
{
    unsigned per_turn = (unsigned)u->env->settings->reqs_per_event;
    pc->requester = (struct conn_requester){ l->fd, peer->addr, peer->addrlen };
    while (*len > 0) {
        struct protocol_step step;
        protocol_run_one(pc, *in, *len, &l->out, &step);
        if (pc->close_now || l->out.oom) {
            udp_drop_untransmitted(l);
            return true;
        }
        if (step.suspended) {
            udp_transmit(l, peer, continuing);
            return false;
        }
        if (step.used == 0 || pc->close_after_write)
            break;
        *in += step.used;
        *len -= step.used;
        *ran += step.completed;
        bool transmit = step.transmit;
        if (*ran >= per_turn && *len > 0) {
            STAT_INC(u->stats, conn_yields);
            *ran = 0;
            transmit = true;
        }
        if (transmit)
            udp_transmit(l, peer, continuing);
        continuing = false;
    }
    udp_transmit(l, peer, continuing);
    return true;
}

/* A request of the batch just read ran its first part: it goes on later
 * from a slot of its own (udp_serve reads no more datagrams than there are
 * free slots), and the replies of its datagram so far (from stream offset
 * `from` and reply `first_reply` of the batch's lane on) move to the slot's
 * lane, so that the batch's other replies do not wait behind them. */
static void udp_park(struct udp_worker *u, const struct udp_peer *peer, char *in,
                     size_t len, unsigned ran, size_t from, size_t first_reply)
{
    struct udp_lane *fresh = &u->fresh;
    struct udp_parked *p = u->parked;
    while (p->used)
        p++;
    p->in = malloc(len);
    if (!p->in) {
        fprintf(stderr, "UDP: out of memory: a multi-get's later parts are dropped\n");
        return;
    }
    memcpy(p->in, in, len);
    p->len = len;
    p->ran = ran;
    p->pc = u->pc;
    memcpy(&p->addr, peer->addr, peer->addrlen);
    p->peer = (struct udp_peer){
        .addr = (struct sockaddr *)&p->addr, .addrlen = peer->addrlen,
        .request_id = peer->request_id,
    };
    p->used = true;
    u->nparked++;

    struct udp_lane *lane = &p->lane;
    lane->fd = fresh->fd;
    obuf_move_tail(&fresh->out, from, &lane->out);
    for (size_t i = first_reply; i < fresh->nreplies; i++)
        lane_add_reply(lane, &p->peer, fresh->replies[i].start - from, fresh->replies[i].len);
    lane->out_queued = lane->out.len;
    lane->resp_queued = lane->out.nresp;
    fresh->nreplies = first_reply;
    fresh->out_queued = from;
    fresh->resp_queued = fresh->out.nresp;
}

/* A parked request's turn: the rest of its current part goes out (at most
 * UDP_PARKED_SEND datagrams), and once all of it is sent the next part
 * runs. With no request left (in == NULL) only its replies are. */
static void udp_run_parked(struct udp_worker *u, struct udp_parked *p)
{
    if (!lane_send(u, &p->lane, UDP_PARKED_SEND))
        return;
    lane_reset(&p->lane);
    if (p->in) {
        char *in = p->in;
        if (!udp_run_requests(u, &p->lane, &p->peer, &p->pc, &in, &p->len, &p->ran, true)) {
            memmove(p->in, in, p->len);
            return;
        }
        free(p->in);
        p->in = NULL;
        p->len = 0;
        if (!lane_send(u, &p->lane, UDP_PARKED_SEND))
            return;
    }
    parked_free(u, p);
}

/* memcached's try_read_udp(): datagrams of 8 bytes or less are ignored
 * unseen; requests spanning several datagrams (total != 1) are counted but
 * dropped. The sequence number is not looked at. */
static void udp_handle_datagram(struct udp_worker *u, struct udp_peer *peer,
                                char *buf, size_t len)
{
    struct mc_udp_header hdr;
    if (len <= sizeof(hdr))
        return;
    memcpy(&hdr, buf, sizeof(hdr));
    STAT_ADD(u->stats, bytes_read, len);
    if (ntohs(hdr.total) != 1)
        return;
    peer->request_id = ntohs(hdr.request_id);
    char *in = buf + sizeof(hdr);
    len -= sizeof(hdr);
    unsigned ran = 0;
    size_t from = u->fresh.out.len, first_reply = u->fresh.nreplies;
    proto_conn_restart(&u->pc);
    if (!udp_run_requests(u, &u->fresh, peer, &u->pc, &in, &len, &ran, false))
        udp_park(u, peer, in, len, ran, from, first_reply);
}

/* One recvmmsg() of at most max datagrams; returns the number read. Only
 * the headers the last one filled need their address length back. */
static int udp_receive(struct udp_worker *u, unsigned max)
{
    for (unsigned i = 0; i < u->nreceived; i++)
        u->in_msgs[i].msg_hdr.msg_namelen = sizeof(u->in_addr[i]);
    int n = recvmmsg(u->fresh.fd, u->in_msgs, max, MSG_DONTWAIT, NULL);
    u->nreceived = n > 0 ? (unsigned)n : 0;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
        settings_verbosity(u->env->settings) > 0)
        fprintf(stderr, "<%d UDP receive failed: %s\n", u->fresh.fd, strerror(errno));
    return n;
}

/* While parked requests hold more than their share of the buffer budget,
 * no more requests are read (as a TCP connection stops reading). */
static bool udp_reading_paused(const struct udp_worker *u)
{
    if (u->nparked == UDP_PARKED_MAX)
        return true;
    return u->nparked > 0 && conn_buffers_over_share(u->env, u->mem_counted);
}

void udp_serve(struct udp_worker *u, int fd, uint32_t events)
{
    if (u->blocked_fd >= 0) {
        /* The socket takes datagrams again: udp_run_backlog goes on. */
        if (fd == u->blocked_fd && (events & EPOLLOUT))
            udp_watch(u, -1);
        return;
    }
    /* The unsent replies point at the last batch's peer addresses. */
    if (lane_unsent(&u->fresh))
        return;
    u->fresh.fd = fd;
    /* A batch that was not full emptied the socket's queue: reading again
     * would only cost a system call that finds nothing. */
    bool full = true;
    for (unsigned round = 0; round < UDP_RECV_ROUNDS && full && !udp_reading_paused(u);
         round++) {
        unsigned max = UDP_PARKED_MAX - u->nparked;
        if (max > UDP_RECV_BATCH)
            max = UDP_RECV_BATCH;
        int n = udp_receive(u, max);
        full = n == (int)max;
        for (int i = 0; i < n; i++) {
            struct udp_peer *peer = &u->peers[i];
            *peer = (struct udp_peer){
                .addr = (struct sockaddr *)&u->in_addr[i],
                .addrlen = u->in_msgs[i].msg_hdr.msg_namelen,
            };
            /* Outside --udp-allow: no reply at all, so a forged source address
             * cannot turn the server into a reflector. */
            if (!allow_match(&u->env->settings->udp_allow, peer->addr)) {
                STAT_INC(u->stats, udp_disallowed);
                continue;
            }
            udp_handle_datagram(u, peer, u->in_buf[i], u->in_msgs[i].msg_len);
        }
        if (!lane_send(u, &u->fresh, UDP_FRESH_SEND))
            break;      /* udp_run_backlog sends the rest */
        lane_reset(&u->fresh);
    }
    udp_account(u);
}

bool udp_has_backlog(const struct udp_worker *u)
{
    return (u->nparked > 0 || lane_unsent(&u->fresh)) && u->blocked_fd < 0;
}

void udp_run_backlog(struct udp_worker *u)
{
    if (lane_unsent(&u->fresh)) {
        if (!lane_send(u, &u->fresh, UDP_PARKED_SEND)) {
            udp_account(u);
            return;
        }
        lane_reset(&u->fresh);
    }
    for (unsigned i = 0; i < UDP_PARKED_MAX && u->nparked > 0; i++) {
        struct udp_parked *p = &u->parked[u->next_parked];
        u->next_parked = (u->next_parked + 1) % UDP_PARKED_MAX;
        if (p->used) {
            udp_run_parked(u, p);
            break;
        }
    }
    udp_account(u);
}
