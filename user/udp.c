/* udp.c - see udp.h.
 *
 * Frames follow memcached 1.6 byte for byte (try_read_udp, transmit_udp,
 * build_udp_header, _transmit_post there); the frame header is in
 * shared/mc_udp.h.
 *
 * System calls, not parsing, are what a UDP request costs: datagrams are
 * read in batches (recvmmsg) until the socket is empty, and the replies to
 * a whole batch leave in one sendmmsg(), so a busy worker makes a few
 * system calls per 64 requests rather than two or three per request. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
/* Replies beyond this are sent at once and their buffer is given back, so a
 * batch of big multi-gets does not pile up (or keep) megabytes. */
#define UDP_OUT_KEEP (64 * 1024)
/* Pieces of the reply stream in one datagram: a response is its copied
 * lines around at most one referenced value, and never shares a datagram. */
#define UDP_DATAGRAM_PIECES 4

/* Where the replies to one request datagram go. */
struct udp_peer {
    struct sockaddr *addr;
    socklen_t addrlen;
    uint16_t request_id;
};

/* Datagrams waiting for one sendmmsg(). Their payloads are ranges of the
 * worker's out buffer, whose copied bytes may still move (grow) until they
 * are sent: the iovecs are filled in just before. */
struct udp_send_queue {
    struct mmsghdr msgs[UDP_SEND_BATCH];
    struct iovec iov[UDP_SEND_BATCH][1 + UDP_DATAGRAM_PIECES];
    struct mc_udp_header hdr[UDP_SEND_BATCH];
    size_t payload_at[UDP_SEND_BATCH];
    size_t payload_len[UDP_SEND_BATCH];
    unsigned n;
};

struct udp_worker {
    const struct proto_env *env;
    struct thread_stats *stats;
    int fd;                         /* the socket being served */
    struct proto_conn pc;
    /* The replies to every datagram of the current batch, until they are
     * sent; [0, out_queued) and the first resp_queued responses are queued
     * already (or dropped). */
    struct obuf out;
    size_t out_queued;
    size_t resp_queued;
    struct udp_send_queue sendq;
    struct mmsghdr in_msgs[UDP_RECV_BATCH];
    struct iovec in_iov[UDP_RECV_BATCH];
    struct sockaddr_storage in_addr[UDP_RECV_BATCH];
    char in_buf[UDP_RECV_BATCH][UDP_READ_BUFFER_SIZE];
};

struct udp_worker *udp_worker_create(const struct proto_env *env, struct thread_stats *stats)
{
    struct udp_worker *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->env = env;
    u->stats = stats;
    u->fd = -1;
    obuf_init(&u->out);
    for (unsigned i = 0; i < UDP_RECV_BATCH; i++) {
        u->in_iov[i] = (struct iovec){ .iov_base = u->in_buf[i], .iov_len = UDP_READ_BUFFER_SIZE };
        u->in_msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &u->in_addr[i], .msg_iov = &u->in_iov[i], .msg_iovlen = 1,
        };
    }
    return u;
}

void udp_worker_destroy(struct udp_worker *u)
{
    if (!u)
        return;
    obuf_free(&u->out);
    free(u);
}

/* ---- sending --------------------------------------------------------------- */

static void udp_send_queued(struct udp_worker *u)
{
    struct udp_send_queue *q = &u->sendq;
    uint64_t bytes = 0;
    unsigned done = 0;
    for (unsigned i = 0; i < q->n; i++)
        q->msgs[i].msg_hdr.msg_iovlen = 1 + obuf_iov(&u->out, q->payload_at[i],
                                                     q->payload_at[i] + q->payload_len[i],
                                                     &q->iov[i][1], UDP_DATAGRAM_PIECES);
    /* The socket blocks on send: a full send buffer delays this worker a
     * little rather than losing replies. */
    while (done < q->n) {
        int n = sendmmsg(u->fd, q->msgs + done, q->n - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (settings_verbosity(u->env->settings) > 0)
                fprintf(stderr, "<%d UDP send failed: %s\n", u->fd, strerror(errno));
            break;
        }
        for (unsigned i = done; i < done + (unsigned)n; i++)
            bytes += q->msgs[i].msg_len;
        done += (unsigned)n;
    }
    STAT_ADD(u->stats, bytes_written, bytes);
    q->n = 0;
}

/* Sends everything queued and empties the reply buffer; only between
 * requests, when every reply in it has been queued or dropped. */
static void udp_flush(struct udp_worker *u)
{
    udp_send_queued(u);
    if (u->out.oom || u->out.cap > UDP_OUT_KEEP)
        obuf_free(&u->out);   /* also clears oom */
    else
        obuf_reset(&u->out);
    u->out_queued = 0;
    u->resp_queued = 0;
}

static void udp_queue_datagram(struct udp_worker *u, const struct udp_peer *peer, uint16_t seq,
                               uint16_t total, size_t payload_at, size_t len)
{
    struct udp_send_queue *q = &u->sendq;
    if (q->n == UDP_SEND_BATCH)
        udp_send_queued(u);
    struct mc_udp_header *hdr = &q->hdr[q->n];
    *hdr = (struct mc_udp_header){
        .request_id = htons(peer->request_id), .sequence = htons(seq), .total = htons(total),
    };
    q->payload_at[q->n] = payload_at;
    q->payload_len[q->n] = len;
    q->iov[q->n][0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(*hdr) };
    q->msgs[q->n].msg_hdr = (struct msghdr){
        .msg_name = peer->addr, .msg_namelen = peer->addrlen, .msg_iov = q->iov[q->n],
    };
    q->n++;
}

/* One response: sequence numbers 0..n-1, total n (memcached caps the total,
 * not the count sent); an empty response is a bare header with total 0. */
static void udp_queue_response(struct udp_worker *u, const struct udp_peer *peer,
                               size_t start, size_t len)
{
    size_t ndatagrams = (len + MC_UDP_MAX_DATA - 1) / MC_UDP_MAX_DATA;
    uint16_t total = ndatagrams > UINT16_MAX ? UINT16_MAX : (uint16_t)ndatagrams;
    uint16_t seq = 0;
    size_t off = 0;
    do {
        size_t chunk = len - off < MC_UDP_MAX_DATA ? len - off : MC_UDP_MAX_DATA;
        udp_queue_datagram(u, peer, seq++, total, start + off, chunk);
        off += chunk;
    } while (off < len);
}

/* Queues every response written since the last transmission, each in
 * datagrams of its own; they go out with the batch's other replies.
 * memcached sends an empty response (a multi-get's miss) as a bare header
 * only when it heads the queue; after sending any response,
 * _transmit_post() also retires the empty ones right behind it without
 * sending them. So only the first response of a transmission may go out
 * empty. A retrieval run in parts is one transmission for memcached: its
 * later parts are `continuing`, with no first response. */
static void udp_transmit(struct udp_worker *u, const struct udp_peer *peer, bool continuing)
{
    const struct obuf *ob = &u->out;
    bool first = !continuing;
    /* Response i spans [resp_starts[i-1], resp_starts[i]); bytes before the
     * first new start, if any, count as a response of their own. */
    for (size_t i = u->resp_queued; i <= ob->nresp; i++) {
        size_t start = i > u->resp_queued ? ob->resp_starts[i - 1] : u->out_queued;
        size_t end = i < ob->nresp ? ob->resp_starts[i] : ob->len;
        if ((i == u->resp_queued || !first) && end == start)
            continue;
        udp_queue_response(u, peer, start, end - start);
        first = false;
    }
    u->out_queued = ob->len;
    u->resp_queued = ob->nresp;
    if (ob->len > UDP_OUT_KEEP)
        udp_flush(u);
}

/* memcached's conn_cleanup drops the replies not transmitted yet. */
static void udp_drop_untransmitted(struct udp_worker *u)
{
    obuf_truncate(&u->out, u->out_queued);
    u->resp_queued = u->out.nresp;
    if (u->out.oom)
        udp_flush(u);
}

/* ---- requests -------------------------------------------------------------- */

/* Runs the requests of one datagram with a fresh protocol state; whatever is
 * incomplete at its end is dropped. Replies go out where memcached's would:
 * after each retrieval, after every reqs_per_event requests (where memcached
 * yields), and at the end. Which points those are matters: they decide
 * which empty responses are sent (see udp_transmit). */
static void udp_run_requests(struct udp_worker *u, const struct udp_peer *peer,
                             char *in, size_t len)
{
    unsigned per_turn = (unsigned)u->env->settings->reqs_per_event;
    unsigned ran = 0;

    bool continuing = false;

    proto_conn_init(&u->pc, u->env, u->stats);
    u->pc.udp = true;
    while (len > 0) {
        struct protocol_step step;
        protocol_run_one(&u->pc, in, len, &u->out, &step);
        if (u->pc.close_now || u->out.oom) {
            udp_drop_untransmitted(u);
            return;
        }
        if (step.suspended) {
            /* Its replies so far go out (udp_transmit frees the buffer when
             * it is big) before the next part runs. */
            udp_transmit(u, peer, continuing);
            continuing = true;
            continue;
        }
        if (step.used == 0 || u->pc.close_after_write)
            break;
        in += step.used;
        len -= step.used;
        ran += step.completed;
        bool transmit = step.transmit;
        if (ran >= per_turn && len > 0) {
            STAT_INC(u->stats, conn_yields);
            ran = 0;
            transmit = true;
        }
        if (transmit)
            udp_transmit(u, peer, continuing);
        continuing = false;
    }
    udp_transmit(u, peer, continuing);
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
    udp_run_requests(u, peer, buf + sizeof(hdr), len - sizeof(hdr));
}

/* One recvmmsg(); returns the number of datagrams read. */
static int udp_receive(struct udp_worker *u)
{
    for (unsigned i = 0; i < UDP_RECV_BATCH; i++)
        u->in_msgs[i].msg_hdr.msg_namelen = sizeof(u->in_addr[i]);
    int n = recvmmsg(u->fd, u->in_msgs, UDP_RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
        settings_verbosity(u->env->settings) > 0)
        fprintf(stderr, "<%d UDP receive failed: %s\n", u->fd, strerror(errno));
    return n;
}

void udp_serve(struct udp_worker *u, int fd)
{
    u->fd = fd;
    /* A batch that was not full emptied the socket's queue: reading again
     * would only cost a system call that finds nothing. */
    int n = UDP_RECV_BATCH;
    for (unsigned round = 0; round < UDP_RECV_ROUNDS && n == UDP_RECV_BATCH; round++) {
        n = udp_receive(u);
        for (int i = 0; i < n; i++) {
            struct udp_peer peer = {
                .addr = (struct sockaddr *)&u->in_addr[i],
                .addrlen = u->in_msgs[i].msg_hdr.msg_namelen,
            };
            /* Outside --udp-allow: no reply at all, so a forged source address
             * cannot turn the server into a reflector. */
            if (!allow_match(&u->env->settings->udp_allow, peer.addr)) {
                STAT_INC(u->stats, udp_disallowed);
                continue;
            }
            udp_handle_datagram(u, &peer, u->in_buf[i], u->in_msgs[i].msg_len);
        }
        /* The replies point at this batch's peer addresses: sent before
         * the next read reuses them. */
        udp_flush(u);
    }
}
