/* conn.c - see conn.h.
 *
 * A connection's turn: read what the socket has, run the complete requests
 * at the front of the input, send the replies. Limits keep one connection
 * from hurting the others or the process:
 *  - at most reqs_per_event requests per turn (memcached's -R): a connection
 *    with more buffered goes to the yielded list and continues after every
 *    other ready connection had its turn;
 *  - no further requests, and no reading either, while OUT_PENDING_LIMIT
 *    bytes of replies are unsent, or while the connection holds more than
 *    its share of --buffer-memory with replies unsent: a client that never
 *    reads cannot make us buffer without bound. Both resume once the socket
 *    takes the replies; replies that memcached would not have sent yet (see
 *    out_ready) are held back, but they are few: one turn's worth, no
 *    retrievals. Large values are sent by reference from their pinned
 *    items (obuf.h), so a reply costs memory per value, not per byte;
 *  - the input buffer grows only to what the next request needs (proto's
 *    `need`), never beyond in_buf_limit(), and is given back when empty;
 *    so is the output buffer once sent, so that idle connections hold no
 *    buffers at all (one of each is kept per worker for reuse). */
#include "conn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto_text.h"
#include "settings.h"
#include "stats.h"
#include "watch.h"

#define IN_BUF_INITIAL (16 * 1024)
/* Room beyond the largest request proto may ask for: an item's value with
 * its command line or binary header, or a get line. */
#define IN_BUF_SLACK (64 * 1024)
#define OUT_PENDING_LIMIT (1024 * 1024)
/* The largest output buffer kept as the worker's spare. */
#define OUT_SPARE_MAX (64 * 1024)
/* Pieces of the reply stream per sendmsg(). */
#define SEND_IOV_MAX 64
/* A connection that yields gets its next turn before the worker waits for
 * events again, so its replies can wait for that turn's send: one send()
 * for a whole pipeline instead of one per -R requests. Unless there are
 * this many already. */
#define OUT_SEND_AT_YIELD (64 * 1024)

struct conn {
    struct ev_source src;          /* first: epoll data points here */
    struct conn_set *set;
    struct list_node in_all;
    struct list_node in_yielded;   /* linked while waiting for its next turn */
    char *in;                      /* input buffer; NULL while there is no input */
    size_t in_off, in_len, in_cap; /* unconsumed input is in[in_off, in_off + in_len) */
    struct obuf out;
    size_t mem_counted;            /* its memory as counted in the worker's
                                      thread_stats.conn_memory */
    size_t out_sent;               /* bytes at the front of out already sent */
    size_t out_ready;              /* bytes at the front of out that may be sent:
                                      memcached sends nothing while it reads or
                                      discards a value, except that each
                                      retrieval's replies went out right away */
    struct proto_conn pc;
    uint32_t interest;             /* events registered with epoll */
    /* when it last ran a request (idle_timeout); atomic, as is shown_state,
     * for conn_set_report() on another thread */
    _Atomic rel_time_t last_cmd_time;
    _Atomic uint8_t shown_state;   /* enum conn_shown_state after its last turn */
    bool peer_closed;              /* read gave end of file: finish, then close */
    bool watch_started;            /* `watch`: its log lines flow (watch_start) */
};

/* Why a connection closes, in memcached's words for `watch connevents`. */
enum close_reason { CLOSE_NORMAL, CLOSE_ERROR, CLOSE_IDLE, CLOSE_SHUTDOWN };

#define CONN_OF(node, member) ((struct conn *)((char *)(node) - offsetof(struct conn, member)))

static void list_init(struct list_node *head)
{
    head->prev = head->next = head;
}

static void list_add_tail(struct list_node *head, struct list_node *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static void list_del(struct list_node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

static bool list_linked(const struct list_node *node)
{
    return node->next != NULL;
}

/* Moves every node of from (a list head) to the empty head to. */
static void list_move_all(struct list_node *from, struct list_node *to)
{
    list_init(to);
    if (from->next == from)
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    list_init(from);
}

void conn_set_init(struct conn_set *set, const struct proto_env *env,
                   struct thread_stats *stats, int epfd)
{
    memset(set, 0, sizeof(*set));
    set->env = env;
    set->stats = stats;
    set->epfd = epfd;
    list_init(&set->all);
    list_init(&set->yielded);
    set->roster_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
}

/* ---- input buffer ---------------------------------------------------------- */

static size_t in_buf_limit(const struct conn *c)
{
    size_t item = c->set->env->settings->item_size_max;
    return (item > PROTO_TEXT_MAX_GET_LINE ? item : PROTO_TEXT_MAX_GET_LINE) + IN_BUF_SLACK;
}

static bool in_resize(struct conn *c, size_t cap)
{
    char *p;
    if (!c->in && cap == IN_BUF_INITIAL && c->set->spare_in) {
        p = c->set->spare_in;
        c->set->spare_in = NULL;
    } else if (!(p = realloc(c->in, cap))) {
        return false;
    }
    c->in = p;
    c->in_cap = cap;
    return true;
}

/* Makes room to read into. False when that is impossible: the buffer is full
 * at its limit with a request that cannot complete (proto closes such
 * connections itself; this is the backstop), or memory ran out. */
static bool in_make_room(struct conn *c)
{
    /* Reading resumes only once every complete request has run, so what is
     * moved here is one incomplete request, once. */
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len);
        c->in_off = 0;
    }
    size_t want = c->pc.need > IN_BUF_INITIAL ? c->pc.need : IN_BUF_INITIAL;
    if (want <= c->in_cap && c->in_len < c->in_cap)
        return true;
    /* At least double: a long get line raises `need` one byte at a time. */
    size_t cap = c->in_cap * 2 > want ? c->in_cap * 2 : want;
    if (cap > in_buf_limit(c))
        cap = in_buf_limit(c);
    return cap > c->in_len && in_resize(c, cap);
}

/* Idle connections give their input buffer back (one is kept for reuse). */
static void in_release(struct conn *c)
{
    if (c->in_len > 0 || !c->in)
        return;
    if (c->in_cap == IN_BUF_INITIAL && !c->set->spare_in)
        c->set->spare_in = c->in;
    else
        free(c->in);
    c->in = NULL;
    c->in_cap = 0;
}

static void in_consume(struct conn *c, size_t n)
{
    c->in_len -= n;
    c->in_off = c->in_len > 0 ? c->in_off + n : 0;
}

/* ---- socket I/O ------------------------------------------------------------ */

/* Replies that may be sent but were not yet. */
static size_t out_unsent(const struct conn *c)
{
    return c->out_ready - c->out_sent;
}

/* The heap memory the connection holds: its buffers and unsent replies. */
static size_t conn_memory(const struct conn *c)
{
    return c->in_cap + obuf_memory(&c->out);
}

/* Brings the worker's count up to date with this connection's memory. */
static void conn_account(struct conn *c)
{
    size_t now = conn_memory(c);
    if (now != c->mem_counted) {
        /* Unsigned wrap-around makes this a subtraction when it shrank. */
        STAT_ADD(c->set->stats, conn_memory, now - c->mem_counted);
        c->mem_counted = now;
    }
}

/* Only when beyond CONN_MEMORY_FREE are the workers' counts summed. */
bool conn_buffers_over_share(const struct proto_env *env, size_t held)
{
    if (held <= CONN_MEMORY_FREE)
        return false;
    const struct server_stats *ss = env->server_stats;
    size_t budget = env->settings->buffer_memory;
    uint64_t used = 0;
    for (unsigned i = 0; i < ss->nthreads; i++)
        used += __atomic_load_n(&ss->threads[i]->conn_memory, __ATOMIC_RELAXED);
    uint64_t conns = atomic_load_explicit(&ss->curr_connections, memory_order_relaxed);
    return used >= budget || held >= budget / (conns > 0 ? conns : 1);
}

static bool conn_over_share(const struct conn *c)
{
    size_t held = conn_memory(c);
    /* Checked here too, so that the common case costs no call. */
    return held > CONN_MEMORY_FREE && conn_buffers_over_share(c->set->env, held);
}

/* No more requests and no reading until the socket takes some replies. */
static bool out_full(const struct conn *c)
{
    size_t unsent = out_unsent(c);
    return unsent >= OUT_PENDING_LIMIT || (unsent > 0 && conn_over_share(c));
}

/* Reads what the socket has. False when the connection must close. */
static bool conn_read(struct conn *c)
{
    if (!in_make_room(c)) {
        if (settings_verbosity(c->set->env->settings) > 0)
            fprintf(stderr, "<%d request does not fit the input buffer\n", c->src.fd);
        return false;
    }
    ssize_t n = recv(c->src.fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        STAT_ADD(c->set->stats, bytes_read, (uint64_t)n);
    } else if (n == 0) {
        c->peer_closed = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        if (settings_verbosity(c->set->env->settings) > 0)
            fprintf(stderr, "<%d read failed: %s\n", c->src.fd, strerror(errno));
        return false;
    }
    return true;
}

/* Everything was sent: the (empty) buffer goes back to the worker's spare,
 * or is freed when there is one already, so an idle connection holds none. */
static void out_clear(struct conn *c)
{
    c->out_sent = 0;
    c->out_ready = 0;
    struct obuf *spare = &c->set->spare_out;
    if (obuf_memory(spare) == 0 && !c->out.oom && obuf_memory(&c->out) <= OUT_SPARE_MAX) {
        obuf_reset(&c->out);
        *spare = c->out;
        obuf_init(&c->out);
    } else {
        obuf_free(&c->out);
    }
}

/* A connection about to write replies takes the worker's spare buffer. */
static void out_take_spare(struct conn *c)
{
    if (obuf_memory(&c->out) == 0 && obuf_memory(&c->set->spare_out) > 0) {
        c->out = c->set->spare_out;
        obuf_init(&c->set->spare_out);
    }
}

/* Drops the replies already sent from the front of the buffer once they
 * are half of it, so that copying stays linear in the bytes sent. */
static void out_compact(struct conn *c)
{
    if (c->out_sent == 0 || c->out_sent < c->out.len / 2)
        return;
    obuf_consume(&c->out, c->out_sent);
    c->out_ready -= c->out_sent;
    c->out_sent = 0;
}

/* Sends ready replies, copied bytes and referenced values alike, until none
 * are left or the socket is full; values are unpinned as soon as they are
 * sent. False on an error that ends the connection. */
static bool conn_send(struct conn *c)
{
    while (out_unsent(c) > 0) {
        struct iovec iov[SEND_IOV_MAX];
        struct msghdr msg = {
            .msg_iov = iov,
            .msg_iovlen = obuf_iov(&c->out, c->out_sent, c->out_ready, iov, SEND_IOV_MAX),
        };
        ssize_t n = sendmsg(c->src.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (settings_verbosity(c->set->env->settings) > 0)
                fprintf(stderr, "<%d write failed: %s\n", c->src.fd, strerror(errno));
            return false;
        }
        c->out_sent += (size_t)n;
        obuf_release_sent(&c->out, c->out_sent);
        STAT_ADD(c->set->stats, bytes_written, (uint64_t)n);
    }
    if (c->out_sent == c->out.len)
        out_clear(c);
    return true;
}

/* ---- a connection's turn --------------------------------------------------- */

/* The connection is served again in the worker's next round. */
static void conn_schedule(struct conn *c)
{
    if (!list_linked(&c->in_yielded))
        list_add_tail(&c->set->yielded, &c->in_yielded);
}

static void conn_yield(struct conn *c)
{
    STAT_INC(c->set->stats, conn_yields);
    conn_schedule(c);
}

/* Runs buffered requests, one per protocol call so that the output limit is
 * checked after every reply, until no complete request is left, the turn's
 * budget is spent, or the replies exceed the limit and the socket takes no
 * more. False when the connection must close now. */
static bool conn_process(struct conn *c)
{
    unsigned budget = (unsigned)c->set->env->settings->reqs_per_event;
    size_t used = 0;
    bool ran = false;

    out_compact(c);
    out_take_spare(c);
    while (used < c->in_len && !c->pc.close_after_write) {
        if (out_full(c)) {
            if (!conn_send(c))
                return false;
            if (out_full(c))
                break;
        }
        if (budget == 0) {
            conn_yield(c);
            break;
        }
        struct protocol_step step;
        protocol_run_one(&c->pc, c->in + c->in_off + used, c->in_len - used, &c->out, &step);
        used += step.used;
        /* A part of a long retrieval costs a turn as a request does. */
        if (step.completed || step.suspended) {
            budget--;
            ran = true;
        }
        if (step.transmit)
            c->out_ready = c->out.len;
        if (c->out.oom)
            return false;
        if (c->pc.close_now) {
            /* memcached closes at once: what it transmitted (out_ready) the
             * client gets, what it had only queued is lost. */
            obuf_truncate(&c->out, c->out_ready);
            c->pc.close_after_write = true;
            break;
        }
        if (step.used == 0 && !step.suspended)
            break;
    }
    if (!protocol_mid_request(&c->pc))
        c->out_ready = c->out.len;
    if (ran)
        atomic_store_explicit(&c->last_cmd_time, clock_now(), memory_order_relaxed);
    in_consume(c, used);
    return true;
}

static bool conn_update_interest(struct conn *c)
{
    uint32_t want = 0;
    /* A suspended retrieval stays at the front of the input: nothing more
     * is read behind it until it is done. */
    if (!c->peer_closed && !c->pc.close_after_write && !out_full(c) && !c->pc.retrieval.active)
        want |= EPOLLIN;
    /* A yielded connection sends in its next turn, which comes anyway. */
    if (out_unsent(c) > 0 && !list_linked(&c->in_yielded))
        want |= EPOLLOUT;
    if (want == c->interest)
        return true;
    struct epoll_event ev = { .events = want, .data.ptr = &c->src };
    if (epoll_ctl(c->set->epfd, EPOLL_CTL_MOD, c->src.fd, &ev) != 0)
        return false;
    c->interest = want;
    return true;
}

/* `watch connevents`: the peer of a connection opening or closing. */
static void log_conn_event(const struct conn_set *set, int fd, const char *reason)
{
    struct watch_hub *hub = set->env->watch;
    if (!watch_wanted(hub, WATCH_CONNEVENTS))
        return;
    struct sockaddr_storage peer = { 0 };
    socklen_t len = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
        peer.ss_family = AF_UNSPEC;
    watch_log_conn(hub, &peer, set->env->settings->socketpath != NULL, reason, fd);
}

static void conn_close(struct conn *c, enum close_reason why)
{
    static const char *const reasons[] = {
        [CLOSE_NORMAL] = "normal", [CLOSE_ERROR] = "error",
        [CLOSE_IDLE] = "idle_timeout", [CLOSE_SHUTDOWN] = "shutdown",
    };
    struct conn_set *set = c->set;
    if (settings_verbosity(set->env->settings) > 1)
        fprintf(stderr, "<%d connection closed.\n", c->src.fd);
    if (c->pc.watching)
        watch_remove(set->env->watch, c->src.fd);
    log_conn_event(set, c->src.fd, reasons[why]);
    pthread_mutex_lock(&set->roster_lock);
    list_del(&c->in_all);
    close(c->src.fd);
    pthread_mutex_unlock(&set->roster_lock);
    if (list_linked(&c->in_yielded))
        list_del(&c->in_yielded);
    free(c->in);
    c->in_cap = 0;
    obuf_free(&c->out);
    conn_account(c);
    free(c);
    atomic_fetch_sub(&set->env->server_stats->curr_connections, 1);
}

/* Whether everything owed has been sent and nothing more will come: after
 * quit, or after the peer closed and no complete request is left (replies
 * held for a value that will never come are dropped, as memcached does). */
static bool conn_finished(const struct conn *c)
{
    return out_unsent(c) == 0 &&
           (c->pc.close_after_write || (c->peer_closed && !list_linked(&c->in_yielded)));
}

/* Whether the replies go out now or with the turn the connection yielded to. */
static bool conn_send_due(const struct conn *c)
{
    return !list_linked(&c->in_yielded) || out_unsent(c) >= OUT_SEND_AT_YIELD;
}

/* What `stats conns` shows for the connection until its next turn. */
static enum conn_shown_state conn_shown_state(const struct conn *c)
{
    if (c->pc.swallow > 0)
        return CONN_SHOWN_SWALLOW;
    if (protocol_mid_request(&c->pc))
        return CONN_SHOWN_NREAD;
    if (out_unsent(c) > 0)
        return CONN_SHOWN_MWRITE;
    return CONN_SHOWN_READ;
}

static void conn_serve(struct conn *c)
{
    if (!conn_process(c) || (conn_send_due(c) && !conn_send(c))) {
        conn_close(c, CLOSE_ERROR);
        return;
    }
    if (conn_finished(c)) {
        /* close_now: memcached hung up on a bad request (an HTTP one) */
        conn_close(c, c->pc.close_now ? CLOSE_ERROR : CLOSE_NORMAL);
        return;
    }
    /* After `watch`, once the replies before it are out, the log lines
     * follow on the socket; the connection reads nothing more. */
    if (c->pc.watching && !c->watch_started && out_unsent(c) == 0) {
        watch_start(c->set->env->watch, c->src.fd);
        c->watch_started = true;
    }
    /* A retrieval suspended because its replies were pending resumes when
     * they are sent. If the send just above took them all (the client read
     * meanwhile), no socket event would ever come: its next part runs in
     * the next round instead. */
    if (c->pc.retrieval.active && !out_full(c))
        conn_schedule(c);
    in_release(c);
    conn_account(c);
    atomic_store_explicit(&c->shown_state, conn_shown_state(c), memory_order_relaxed);
    if (!conn_update_interest(c))
        conn_close(c, CLOSE_ERROR);
}

void conn_on_event(struct ev_source *src, uint32_t events)
{
    struct conn *c = (struct conn *)src;
    /* A yielded connection is served in conn_set_run_yielded(), in turn. */
    if (list_linked(&c->in_yielded))
        return;
    if (events & EPOLLERR) {
        conn_close(c, CLOSE_ERROR);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP)) && (c->interest & EPOLLIN) && !conn_read(c)) {
        conn_close(c, CLOSE_ERROR);
        return;
    }
    conn_serve(c);
}

/* ---- the whole set --------------------------------------------------------- */

bool conn_open(struct conn_set *set, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c) {
        c->src = (struct ev_source){ .kind = EV_TCP, .fd = fd };
        c->set = set;
        obuf_init(&c->out);
        proto_conn_init(&c->pc, set->env, set->stats);
        c->pc.requester.fd = fd;
        c->interest = EPOLLIN;
        atomic_init(&c->last_cmd_time, clock_now());
        atomic_init(&c->shown_state, CONN_SHOWN_READ);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->src };
        if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
            pthread_mutex_lock(&set->roster_lock);
            list_add_tail(&set->all, &c->in_all);
            pthread_mutex_unlock(&set->roster_lock);
            if (settings_verbosity(set->env->settings) > 1)
                fprintf(stderr, "<%d new auto-negotiating client connection\n", fd);
            log_conn_event(set, fd, NULL);
            return true;
        }
    }
    if (settings_verbosity(set->env->settings) > 0)
        fprintf(stderr, "<%d cannot set up the connection: %s\n", fd, strerror(errno));
    free(c);
    close(fd);
    atomic_fetch_sub(&set->env->server_stats->curr_connections, 1);
    return false;
}

void conn_set_run_yielded(struct conn_set *set)
{
    struct list_node turn;
    /* Connections that yield again now wait for the next round. */
    list_move_all(&set->yielded, &turn);
    while (turn.next != &turn) {
        struct conn *c = CONN_OF(turn.next, in_yielded);
        list_del(&c->in_yielded);
        conn_serve(c);
    }
}

void conn_set_close_idle(struct conn_set *set, rel_time_t now, unsigned timeout)
{
    if (timeout == 0)
        return;
    struct list_node *node = set->all.next;
    while (node != &set->all) {
        struct conn *c = CONN_OF(node, in_all);
        node = node->next;
        /* Like memcached, only a connection waiting for requests is idle:
         * not one still sending replies, running buffered requests or
         * receiving a value. */
        rel_time_t last = atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
        if (now - last > timeout && out_unsent(c) == 0 && !c->pc.watching &&
            !list_linked(&c->in_yielded) && !protocol_mid_request(&c->pc)) {
            if (settings_verbosity(set->env->settings) > 1)
                fprintf(stderr, "Closing idle fd %d\n", c->src.fd);
            STAT_INC(c->pc.stats, idle_kicks);
            conn_close(c, CLOSE_IDLE);
        }
    }
}

/* The peer's address comes from the socket itself, as the descriptor stays
 * open while the lock is held; the listening address is the socket's own
 * (for a unix client, the listener's path). memcached never asks for a
 * unix client's name, so it shows family 0 there: so do we. */
static void conn_fill_row(const struct conn *c, const struct conn_requester *requester,
                          rel_time_t now, struct conn_row *row)
{
    socklen_t len = sizeof(row->listen_addr);
    if (getsockname(c->src.fd, (struct sockaddr *)&row->listen_addr, &len) != 0)
        row->listen_addr.ss_family = AF_UNSPEC;
    len = sizeof(row->addr);
    if (row->listen_addr.ss_family == AF_UNIX ||
        getpeername(c->src.fd, (struct sockaddr *)&row->addr, &len) != 0)
        row->addr.ss_family = AF_UNSPEC;
    if (c->src.fd == requester->fd)
        row->state = CONN_SHOWN_PARSE_CMD;
    row->idle = now - atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
}

bool conn_set_report(struct conn_set *set, const struct conn_requester *requester,
                     struct conn_rows *rows)
{
    rel_time_t now = clock_now();
    pthread_mutex_lock(&set->roster_lock);
    for (struct list_node *node = set->all.next; node != &set->all; node = node->next) {
        const struct conn *c = CONN_OF(node, in_all);
        enum conn_shown_state state = atomic_load_explicit(&c->shown_state, memory_order_relaxed);
        struct conn_row *row = conn_rows_add(rows, c->src.fd, false, state, 0);
        if (!row)
            break;
        conn_fill_row(c, requester, now, row);
    }
    pthread_mutex_unlock(&set->roster_lock);
    return !rows->oom;
}

void conn_set_close_all(struct conn_set *set)
{
    while (set->all.next != &set->all)
        conn_close(CONN_OF(set->all.next, in_all), CLOSE_SHUTDOWN);
    free(set->spare_in);
    set->spare_in = NULL;
    obuf_free(&set->spare_out);
}
