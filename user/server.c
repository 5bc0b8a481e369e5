/* server.c - see server.h.
 *
 * Threads: the thread that calls server_run() accepts TCP connections and
 * runs tick(); each of the -t workers runs one epoll loop that serves the
 * connections handed to it and its own UDP sockets.
 *
 * Accept model: one acceptor distributes connections round-robin, as
 * memcached's dispatch_conn_new() does, rather than one SO_REUSEPORT
 * listener per worker. The kernel spreads SO_REUSEPORT connections by a
 * hash of the 4-tuple, so a handful of long-lived connections (the usual
 * memcached client pool, or a benchmark with few connections) can land
 * several on one worker while another idles; round-robin keeps them even.
 * The price is one eventfd wake-up per new connection, negligible for
 * long-lived connections. There is also one listening socket per address,
 * so connections waiting in the backlog are never stranded in the queue of
 * a worker's socket, and curr_connections counts sockets as memcached does.
 * UDP has no connections to balance: there every worker has its own
 * SO_REUSEPORT socket, so datagrams are read in parallel without locks, and
 * a small classic BPF program hands each datagram to the socket of worker
 * (CPU that received it % workers) instead of the kernel's 4-tuple hash,
 * which can put most of a few busy clients on one worker.
 *
 * Connection limit (-c): memcached raises RLIMIT_NOFILE to -c and rejects a
 * connection whose descriptor number is -c - 1 or more, i.e. the process may
 * hold -c descriptors, the last kept free to write the rejection. We count
 * instead of looking at descriptor numbers: reserved_fds (stdin/out/err and
 * every socket, epoll and eventfd the server holds) plus clients must stay
 * below -c - 1. With maxconns_fast (the default) an excess connection is
 * accepted, told "ERROR Too many open connections" and closed; without it
 * accepting pauses until a connection closes, leaving new ones in the
 * backlog, as memcached's accept_new_conns(false) does. */
#define _GNU_SOURCE /* accept4, pthread_setaffinity_np */
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "endpoint.h"
#include "proto_text.h"
#include "settings.h"
#include "stats.h"
#include "udp.h"
#include "unix_listener.h"

#define TICK_MS 1000                /* an idle worker's epoll timeout */
#define ACCEPT_TICK_MS (1000 / SERVER_TICKS_PER_SECOND)
#define ACCEPT_RETRY_MS 10          /* memcached's maxconns_handler period */
#define ACCEPT_BATCH 64             /* accepts per listener wake-up */
#define WORKER_EVENTS 64
#define UDP_SOCKET_BUFFER (4 * 1024 * 1024)
#define STDIO_FDS 3

struct source_list {
    struct ev_source *items;        /* registered with epoll: never moved after */
    size_t n, cap;
};

struct worker {
    struct server *srv;
    pthread_t thread;
    int epfd;
    struct ev_source notify;        /* eventfd: stopping, or connections handed over */
    pthread_mutex_t handoff_lock;
    int *handoff;                   /* accepted sockets not yet taken */
    size_t nhandoff, handoff_cap;
    struct thread_stats stats;
    struct conn_set conns;
    struct source_list udp;
    struct udp_worker *udp_state;
} __attribute__((aligned(64)));    /* keep workers' counters off shared cache lines */

struct server {
    const struct proto_env *env;
    const struct settings *settings;
    struct worker *workers;
    unsigned nworkers, nstarted;
    struct thread_stats **thread_stats;
    struct source_list listeners;
    int accept_epfd;
    struct ev_source wake;          /* eventfd written by server_stop() */
    atomic_bool stopping;
    unsigned next_worker;
    uint64_t conn_base;             /* curr_connections without any client */
    uint64_t max_clients;
    bool accept_paused;
    uint64_t paused_at_us;          /* CLOCK_MONOTONIC when accepting stopped */
    rel_time_t created;             /* listeners and UDP sockets were last used then */
};

/* ---- listening sockets ----------------------------------------------------- */

static bool source_list_push(struct source_list *list, enum ev_kind kind, int fd)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 4;
        struct ev_source *p = realloc(list->items, cap * sizeof(*p));
        if (!p)
            return false;
        list->items = p;
        list->cap = cap;
    }
    list->items[list->n++] = (struct ev_source){ .kind = kind, .fd = fd };
    return true;
}

static void source_list_close(struct source_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        close(list->items[i].fd);
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* As large as allowed: the FORCE variant (root) may pass net.core.*mem_max,
 * the plain one is capped by it. */
static void set_big_buffer(int fd, int force_option, int option)
{
    int size = UDP_SOCKET_BUFFER;
    if (setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof(size)) != 0)
        setsockopt(fd, SOL_SOCKET, option, &size, sizeof(size));
}

static bool configure_socket(int fd, int family, int socktype)
{
    const int on = 1;
    /* Separate IPv4 and IPv6 sockets, as memcached binds them. */
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
        return false;
    if (socktype == SOCK_DGRAM) {
        /* Every worker binds the address: SO_REUSEPORT lets them share it
         * (the kernel spreads datagrams by 4-tuple hash); without
         * SO_REUSEADDR, a foreign socket on the port still fails the bind. */
        set_big_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
        set_big_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
        return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == 0;
    }
    /* Accepted sockets inherit these, as with memcached's listeners. */
    return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
           setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0;
}

/* One socket of family and socktype bound to addr (listening, if TCP),
 * appended to out. Returns 0 or the errno of what failed. */
static int bind_one(const struct server *srv, int family, int socktype,
                    const struct sockaddr *addr, socklen_t addrlen, enum ev_kind kind,
                    struct source_list *out)
{
    int fd = socket(family, socktype | SOCK_CLOEXEC |
                    (socktype == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return errno;
    if (!configure_socket(fd, family, socktype) || bind(fd, addr, addrlen) != 0 ||
        (socktype == SOCK_STREAM && listen(fd, srv->settings->backlog) != 0) ||
        !source_list_push(out, kind, fd)) {
        int err = errno;
        close(fd);
        return err;
    }
    if (settings_verbosity(srv->settings) > 1)
        fprintf(stderr, "<%d server listening (%s)\n", fd,
                socktype == SOCK_STREAM ? "auto-negotiate" : "udp");
    return 0;
}

/* Binds a socket to every address host resolves to (all interfaces when
 * host is empty: getaddrinfo with AI_PASSIVE, as memcached does), listening
 * if it is TCP, and appends them to out. Returns NULL or why it failed. */
static const char *bind_sockets(const struct server *srv, const char *host, int port,
                                int socktype, enum ev_kind kind, struct source_list *out)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC,
                              .ai_socktype = socktype };
    struct addrinfo *addrs;
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &addrs);
    if (rc != 0)
        return rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);

    const char *err = NULL;
    size_t bound = 0;
    for (struct addrinfo *a = addrs; a && !err; a = a->ai_next) {
        int e = bind_one(srv, a->ai_family, socktype, a->ai_addr, a->ai_addrlen, kind, out);
        /* getaddrinfo() may offer a family the kernel lacks (IPv6 off). */
        if (e != 0 && e != EAFNOSUPPORT)
            err = strerror(e);
        bound += e == 0;
    }
    freeaddrinfo(addrs);
    return err ? err : bound ? NULL : strerror(EAFNOSUPPORT);
}

/* Binds sockets of one type for every -l address (or all interfaces) on the
 * address's own port or the default one. Prints the one line on failure. */
static bool bind_all(const struct server *srv, int socktype, int default_port,
                     enum ev_kind kind, struct source_list *out)
{
    static const struct listen_addr any = { .host = "", .port = -1 };
    const struct settings *s = srv->settings;
    unsigned n = s->nlisten ? s->nlisten : 1;
    const char *transport = socktype == SOCK_STREAM ? "TCP" : "UDP";

    for (unsigned i = 0; i < n; i++) {
        const struct listen_addr *a = s->nlisten ? &s->listen[i] : &any;
        int port = a->port >= 0 ? a->port : default_port;
        /* -p -1 / -U -1: port 0, so the kernel picks a free one for each
         * address, as memcached does */
        const char *err = bind_sockets(srv, a->host, port < 0 ? 0 : port, socktype, kind, out);
        if (!err)
            continue;
        if (a->host[0])
            fprintf(stderr, "failed to listen on %s port %d of %s: %s\n", transport, port,
                    a->host, err);
        else
            fprintf(stderr, "failed to listen on %s port %d: %s\n", transport, port, err);
        return false;
    }
    return true;
}

/* A worker after the first binds the UDP addresses the first one bound,
 * port included: with -U -1 that is the port the kernel picked for the
 * first, which the others must share (SO_REUSEPORT). */
static bool bind_like_first(const struct server *srv, struct source_list *out)
{
    const struct source_list *first = &srv->workers[0].udp;
    for (size_t i = 0; i < first->n; i++) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int err = getsockname(first->items[i].fd, (struct sockaddr *)&addr, &len) != 0
                      ? errno
                      : bind_one(srv, addr.ss_family, SOCK_DGRAM, (struct sockaddr *)&addr, len,
                                 EV_UDP, out);
        if (err) {
            fprintf(stderr, "failed to listen on UDP port %d: %s\n", srv->settings->udpport,
                    strerror(err));
            return false;
        }
    }
    return true;
}

/* memcached's port file: with MEMCACHED_PORT_FILENAME set, one line per
 * bound TCP, then UDP, address ("TCP INET: 11211", "UDP INET6: 11211") is
 * appended to "$MEMCACHED_PORT_FILENAME.lck", which is then renamed to
 * $MEMCACHED_PORT_FILENAME: whoever waits for the file (memcached's tests,
 * scripts that start it with -p -1) reads it whole. A file that cannot be
 * written is reported, and the server runs on, as memcached does. */
static void write_port_file(const struct server *srv)
{
    const char *path = getenv("MEMCACHED_PORT_FILENAME");
    if (!path)
        return;
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.lck", path) >= sizeof(tmp)) {
        fprintf(stderr, "Failed to open \"%s.lck\": %s\n", path, strerror(ENAMETOOLONG));
        return;
    }
    FILE *f = fopen(tmp, "a");
    if (!f) {
        fprintf(stderr, "Failed to open \"%s\": %s\n", tmp, strerror(errno));
        return;
    }
    /* every worker's UDP sockets have the first one's addresses */
    const struct source_list *lists[2] = { &srv->listeners, &srv->workers[0].udp };
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            struct sockaddr_storage addr;
            socklen_t len = sizeof(addr);
            if (getsockname(lists[l]->items[i].fd, (struct sockaddr *)&addr, &len) != 0)
                continue;
            char host[ENDPOINT_HOST_MAX];
            unsigned port;
            if (endpoint_of(&addr, host, &port))
                fprintf(f, "%s INET%s: %u\n", l == 0 ? "TCP" : "UDP",
                        addr.ss_family == AF_INET6 ? "6" : "", port);
        }
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "failed to write the port file %s: %s\n", path, strerror(errno));
}

/* -s: the socket file belongs to the -u user, as memcached's does (it binds
 * after switching user; we bind first, so that a busy address fails before
 * -d, and hand the file over). */
static struct unix_owner unix_socket_owner(const struct settings *s)
{
    struct passwd *pw = s->username && geteuid() == 0 ? getpwnam(s->username) : NULL;
    if (!pw)
        return (struct unix_owner){ .owner_set = false };
    return (struct unix_owner){ .owner_set = true, .uid = pw->pw_uid, .gid = pw->pw_gid };
}

/* -s PATH replaces TCP and UDP: one listener, on the socket file. */
static bool listen_unix(struct server *srv)
{
    const struct settings *s = srv->settings;
    struct unix_owner owner = unix_socket_owner(s);
    int fd = unix_listener_open(s->socketpath, s->unix_mask, s->backlog, &owner);
    if (fd < 0 || !source_list_push(&srv->listeners, EV_LISTEN, fd)) {
        fprintf(stderr, "failed to listen on UNIX socket %s: %s\n", s->socketpath,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    if (settings_verbosity(s) > 1)
        fprintf(stderr, "<%d server listening (unix socket)\n", fd);
    return true;
}

static bool watch(int epfd, struct ev_source *src)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &ev) == 0;
}

/* ---- setup ----------------------------------------------------------------- */

/* memcached sets RLIMIT_NOFILE to -c so that every connection it may accept
 * gets a descriptor; we only ever raise it. */
static bool raise_nofile_limit(const struct settings *s)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)s->maxconns;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want)
        return true;
    rl.rlim_cur = want;
    if (rl.rlim_max < want)
        rl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        return true;
    fprintf(stderr, "failed to set rlimit for open files. Try starting as root or "
                    "requesting smaller maxconns value.\n");
    return false;
}

/* Steers datagrams among the workers' SO_REUSEPORT sockets by the CPU that
 * received them: worker i's socket is index i of each address's group (the
 * workers bind in order). With --cpu-list, a datagram received on worker
 * i's CPU goes to worker i, so it is read where the NIC queue's interrupt
 * and the XDP program ran; otherwise, and for unlisted CPUs, the program
 * returns cpu % nworkers. Without it (an old kernel) the kernel's hash
 * still works, only less evenly. */
static void steer_udp_by_cpu(const struct server *srv)
{
    const struct settings *s = srv->settings;
    size_t len = 0;
    struct sock_filter *code = calloc(2 * s->ncpus + 3, sizeof *code);
    if (!code) {
        fprintf(stderr, "udp: datagrams spread by hash, not by CPU: out of memory\n");
        return;
    }
    code[len++] = (struct sock_filter){ BPF_LD | BPF_W | BPF_ABS, 0, 0,
                                        (uint32_t)(SKF_AD_OFF + SKF_AD_CPU) };
    for (unsigned i = 0; i < s->ncpus; i++) {
        /* equal: on to the next instruction, the return; else skip it */
        code[len++] = (struct sock_filter){ BPF_JMP | BPF_JEQ | BPF_K, 0, 1, s->cpus[i] };
        code[len++] = (struct sock_filter){ BPF_RET | BPF_K, 0, 0, i };
    }
    code[len++] = (struct sock_filter){ BPF_ALU | BPF_MOD | BPF_K, 0, 0, srv->nworkers };
    code[len++] = (struct sock_filter){ BPF_RET | BPF_A, 0, 0, 0 };
    struct sock_fprog prog = { .len = (unsigned short)len, .filter = code };
    const struct source_list *first = &srv->workers[0].udp;
    for (size_t i = 0; i < first->n; i++) {
        if (setsockopt(first->items[i].fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                       sizeof(prog)) != 0 && settings_verbosity(srv->settings) > 0)
            fprintf(stderr, "udp: datagrams spread by hash, not by CPU: %s\n", strerror(errno));
    }
    free(code);
}

static bool worker_setup(struct server *srv, struct worker *w)
{
    const struct settings *s = srv->settings;

    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->notify.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->notify.fd < 0 || !watch(w->epfd, &w->notify)) {
        fprintf(stderr, "failed to set up a worker's event loop: %s\n", strerror(errno));
        return false;
    }
    conn_set_init(&w->conns, srv->env, &w->stats, w->epfd);
    if (!settings_listens_udp(s))
        return true;
    bool bound = w == &srv->workers[0]
                     ? bind_all(srv, SOCK_DGRAM, s->udpport, EV_UDP, &w->udp)
                     : bind_like_first(srv, &w->udp);
    if (!bound)
        return false;
    w->udp_state = udp_worker_create(srv->env, &w->stats, w->epfd, w->udp.items, w->udp.n);
    if (!w->udp_state) {
        fprintf(stderr, "failed to allocate UDP buffers\n");
        return false;
    }
    for (size_t i = 0; i < w->udp.n; i++) {
        if (!watch(w->epfd, &w->udp.items[i])) {
            fprintf(stderr, "failed to watch a UDP socket: %s\n", strerror(errno));
            return false;
        }
    }
    return true;
}

static bool workers_alloc(struct server *srv)
{
    unsigned n = (unsigned)srv->settings->num_threads;
    srv->workers = aligned_alloc(_Alignof(struct worker), n * sizeof(struct worker));
    srv->thread_stats = calloc(n, sizeof(*srv->thread_stats));
    if (!srv->workers || !srv->thread_stats) {
        fprintf(stderr, "failed to allocate %u workers\n", n);
        return false;
    }
    memset(srv->workers, 0, n * sizeof(struct worker));
    srv->nworkers = n;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        w->srv = srv;
        w->epfd = -1;
        w->notify = (struct ev_source){ .kind = EV_NOTIFY, .fd = -1 };
        pthread_mutex_init(&w->handoff_lock, NULL);
        /* An empty set until worker_setup(), so that worker_free() works
         * on a worker whose setup failed. */
        conn_set_init(&w->conns, srv->env, &w->stats, -1);
        srv->thread_stats[i] = &w->stats;
    }
    return true;
}

static bool acceptor_setup(struct server *srv)
{
    srv->accept_epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    bool ok = srv->accept_epfd >= 0 && srv->wake.fd >= 0 && watch(srv->accept_epfd, &srv->wake);
    for (size_t i = 0; ok && i < srv->listeners.n; i++)
        ok = watch(srv->accept_epfd, &srv->listeners.items[i]);
    if (!ok)
        fprintf(stderr, "failed to set up the accept loop: %s\n", strerror(errno));
    return ok;
}

/* ---- stats conns ----------------------------------------------------------- */

/* A listener or UDP socket: its own address; the UDP socket that carries
 * the request shows the sender instead, as memcached's does while serving. */
static bool add_socket_row(const struct server *srv, const struct ev_source *src,
                           const struct conn_requester *requester, rel_time_t now,
                           struct conn_rows *rows)
{
    bool udp = src->kind == EV_UDP;
    bool serving = udp && src->fd == requester->fd && requester->peer;
    enum conn_shown_state state = !udp ? CONN_SHOWN_LISTENING
                                  : serving ? CONN_SHOWN_PARSE_CMD : CONN_SHOWN_READ;
    struct conn_row *row = conn_rows_add(rows, src->fd, udp, state, now - srv->created);
    if (!row)
        return false;
    struct sockaddr_storage *own = serving ? &row->listen_addr : &row->addr;
    socklen_t len = sizeof(*own);
    if (getsockname(src->fd, (struct sockaddr *)own, &len) != 0)
        own->ss_family = AF_UNSPEC;
    if (serving && requester->peer_len <= sizeof(row->addr))
        memcpy(&row->addr, requester->peer, requester->peer_len);
    return true;
}

static bool add_source_rows(const struct server *srv, const struct source_list *list,
                            const struct conn_requester *requester, rel_time_t now,
                            struct conn_rows *rows)
{
    for (size_t i = 0; i < list->n; i++)
        if (!add_socket_row(srv, &list->items[i], requester, now, rows))
            return false;
    return true;
}

/* server_stats.report_conns: listeners, then each worker's UDP sockets and
 * connections; conn_rows_emit() puts them in descriptor order. */
static bool report_conns(void *ctx, const struct conn_requester *requester,
                         struct conn_rows *rows)
{
    struct server *srv = ctx;
    rel_time_t now = clock_now();
    bool ok = add_source_rows(srv, &srv->listeners, requester, now, rows);
    for (unsigned i = 0; ok && i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        ok = add_source_rows(srv, &w->udp, requester, now, rows) &&
             conn_set_report(&w->conns, requester, rows);
    }
    return ok;
}

/* Fixes the client limit and starts the connection counters the way
 * memcached reports them: it counts every listening TCP socket and every
 * worker's UDP socket as a connection, and prints curr_connections minus
 * one. */
static bool counters_setup(struct server *srv)
{
    size_t sockets = srv->listeners.n;
    for (unsigned i = 0; i < srv->nworkers; i++)
        sockets += srv->workers[i].udp.n;
    uint64_t reserved_fds = STDIO_FDS + sockets + 2 * (srv->nworkers + 1);
    uint64_t maxconns = (uint64_t)srv->settings->maxconns;
    if (reserved_fds + 1 >= maxconns) {
        fprintf(stderr, "Maxconns setting is too low, use -c to increase.\n");
        return false;
    }
    srv->max_clients = maxconns - 1 - reserved_fds;
    srv->conn_base = sockets > 0 ? sockets - 1 : 0;

    struct server_stats *ss = srv->env->server_stats;
    atomic_store(&ss->curr_connections, srv->conn_base);
    atomic_store(&ss->total_connections, sockets);
    atomic_store(&ss->connection_structures, sockets);
    atomic_store(&ss->accepting_conns, true);
    ss->threads = srv->thread_stats;
    ss->nthreads = srv->nworkers;
    ss->report_conns = report_conns;
    ss->report_conns_ctx = srv;
    srv->created = clock_now();
    return true;
}

struct server *server_create(const struct proto_env *env)
{
    const struct settings *s = env->settings;
    if (!raise_nofile_limit(s))
        return NULL;
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        fprintf(stderr, "failed to allocate the server\n");
        return NULL;
    }
    srv->env = env;
    srv->settings = s;
    srv->accept_epfd = -1;
    srv->wake = (struct ev_source){ .kind = EV_NOTIFY, .fd = -1 };
    atomic_init(&srv->stopping, false);

    bool ok = workers_alloc(srv);
    if (ok && s->socketpath)
        ok = listen_unix(srv);
    else if (ok && s->port)
        ok = bind_all(srv, SOCK_STREAM, s->port, EV_LISTEN, &srv->listeners);
    for (unsigned i = 0; ok && i < srv->nworkers; i++)
        ok = worker_setup(srv, &srv->workers[i]);
    if (ok && settings_listens_udp(s) && srv->nworkers > 1)
        steer_udp_by_cpu(srv);
    if (!ok || !acceptor_setup(srv) || !counters_setup(srv)) {
        server_destroy(srv);
        return NULL;
    }
    if (!s->socketpath)
        write_port_file(srv);
    return srv;
}

/* ---- accepting ------------------------------------------------------------- */

static uint64_t client_count(const struct server *srv)
{
    uint64_t curr = atomic_load(&srv->env->server_stats->curr_connections);
    return curr > srv->conn_base ? curr - srv->conn_base : 0;
}

static void wake(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof(one));
    (void)n; /* a full counter already means "wake up" */
}

static void set_accepting(struct server *srv, bool on)
{
    struct server_stats *ss = srv->env->server_stats;
    if (!on && !srv->accept_paused) {
        atomic_fetch_add(&ss->listen_disabled_num, 1);
        srv->paused_at_us = clock_mono_ns() / 1000;
    } else if (on && srv->accept_paused) {
        atomic_fetch_add(&ss->time_in_listen_disabled_us, clock_mono_ns() / 1000 - srv->paused_at_us);
    }
    atomic_store(&ss->accepting_conns, on);
    for (size_t i = 0; i < srv->listeners.n; i++) {
        struct ev_source *src = &srv->listeners.items[i];
        struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = src };
        epoll_ctl(srv->accept_epfd, EPOLL_CTL_MOD, src->fd, &ev);
    }
    srv->accept_paused = !on;
}

static void reject_connection(struct server *srv, int fd)
{
    static const char msg[] = "ERROR Too many open connections\r\n";
    ssize_t n = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n; /* the close tells the client anyway */
    close(fd);
    atomic_fetch_add(&srv->env->server_stats->rejected_connections, 1);
}

static bool handoff_push(struct worker *w, int fd)
{
    bool queued = true;
    pthread_mutex_lock(&w->handoff_lock);
    if (w->nhandoff == w->handoff_cap) {
        size_t cap = w->handoff_cap ? w->handoff_cap * 2 : 16;
        int *p = realloc(w->handoff, cap * sizeof(*p));
        if (p) {
            w->handoff = p;
            w->handoff_cap = cap;
        }
        queued = p != NULL;
    }
    if (queued)
        w->handoff[w->nhandoff++] = fd;
    pthread_mutex_unlock(&w->handoff_lock);
    return queued;
}

/* Counts the new connection and passes it to the next worker in turn. */
static void hand_over(struct server *srv, int fd)
{
    struct server_stats *ss = srv->env->server_stats;
    uint64_t curr = atomic_fetch_add(&ss->curr_connections, 1) + 1;
    atomic_fetch_add(&ss->total_connections, 1);
    /* memcached allocates a structure per descriptor ever used: the peak of
     * open sockets, which is curr + 1. Only this thread writes it. */
    if (atomic_load(&ss->connection_structures) < curr + 1)
        atomic_store(&ss->connection_structures, curr + 1);

    struct worker *w = &srv->workers[srv->next_worker++ % srv->nworkers];
    if (handoff_push(w, fd)) {
        wake(w->notify.fd);
    } else {
        close(fd);
        atomic_fetch_sub(&ss->curr_connections, 1);
    }
}

static void accept_connections(struct server *srv, int listen_fd)
{
    for (int i = 0; i < ACCEPT_BATCH && !srv->accept_paused; i++) {
        if (!srv->settings->maxconns_fast && client_count(srv) >= srv->max_clients) {
            set_accepting(srv, false);
            return;
        }
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (settings_verbosity(srv->settings) > 0)
                    fprintf(stderr, "Too many open connections\n");
                set_accepting(srv, false);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && settings_verbosity(srv->settings) > 0) {
                fprintf(stderr, "accept4(): %s\n", strerror(errno));
            }
            return;
        }
        if (client_count(srv) >= srv->max_clients)
            reject_connection(srv, fd);
        else
            hand_over(srv, fd);
    }
}

static uint64_t monotonic_ms(void)
{
    return clock_mono_ns() / 1000000;
}

static void accept_loop(struct server *srv, void (*tick)(void *ctx), void *tick_ctx)
{
    struct epoll_event events[16];
    uint64_t next_tick = monotonic_ms() + ACCEPT_TICK_MS;

    while (!atomic_load(&srv->stopping)) {
        uint64_t now = monotonic_ms();
        if (now >= next_tick) {
            if (tick)
                tick(tick_ctx);
            next_tick = now + ACCEPT_TICK_MS;
        }
        int timeout = (int)(next_tick - now);
        if (srv->accept_paused && timeout > ACCEPT_RETRY_MS)
            timeout = ACCEPT_RETRY_MS;
        int n = epoll_wait(srv->accept_epfd, events, 16, timeout);
        for (int i = 0; i < n; i++) {
            struct ev_source *src = events[i].data.ptr;
            if (src->kind == EV_LISTEN)
                accept_connections(srv, src->fd);
            /* else the wake eventfd: the loop condition sees the stop */
        }
        if (srv->accept_paused && client_count(srv) < srv->max_clients)
            set_accepting(srv, true);
    }
}

/* ---- workers --------------------------------------------------------------- */

static void worker_take_handoffs(struct worker *w)
{
    uint64_t count;
    ssize_t n = read(w->notify.fd, &count, sizeof(count));
    (void)n; /* only clears the eventfd; the queue says what is new */
    pthread_mutex_lock(&w->handoff_lock);
    for (size_t i = 0; i < w->nhandoff; i++)
        conn_open(&w->conns, w->handoff[i]);
    w->nhandoff = 0;
    pthread_mutex_unlock(&w->handoff_lock);
}

static void worker_dispatch(struct worker *w, const struct epoll_event *ev)
{
    struct ev_source *src = ev->data.ptr;
    if (src->kind == EV_TCP)
        conn_on_event(src, ev->events);
    else if (src->kind == EV_UDP)
        udp_serve(w->udp_state, src->fd, ev->events);
    else
        worker_take_handoffs(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct settings *s = w->srv->settings;
    struct epoll_event events[WORKER_EVENTS];
    rel_time_t last_sweep = clock_now();

    while (!atomic_load(&w->srv->stopping)) {
        /* With yielded connections or UDP replies waiting, only look for
         * new events. */
        bool udp_backlog = w->udp_state && udp_has_backlog(w->udp_state);
        int timeout = conn_set_has_yielded(&w->conns) || udp_backlog ? 0 : TICK_MS;
        int n = epoll_wait(w->epfd, events, WORKER_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "worker event loop failed: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            worker_dispatch(w, &events[i]);
        conn_set_run_yielded(&w->conns);
        if (udp_backlog)
            udp_run_backlog(w->udp_state);
        rel_time_t now = clock_now();
        if (now != last_sweep) {
            last_sweep = now;
            conn_set_close_idle(&w->conns, now, s->idle_timeout);
        }
    }
    conn_set_close_all(&w->conns);
    return NULL;
}

/* --cpu-list: worker i runs only on the list's i-th CPU. */
static int pin_worker(struct server *srv, unsigned i)
{
    const struct settings *s = srv->settings;
    if (s->ncpus == 0)
        return 0;
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(s->cpus[i], &cpus);
    int rc = pthread_setaffinity_np(srv->workers[i].thread, sizeof(cpus), &cpus);
    if (rc != 0)
        fprintf(stderr, "failed to pin worker thread %u to CPU %u: %s\n", i,
                (unsigned)s->cpus[i], strerror(rc));
    return rc;
}

/* Workers leave signals to the thread that runs server_run(). */
static bool start_workers(struct server *srv)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    while (srv->nstarted < srv->nworkers && rc == 0) {
        struct worker *w = &srv->workers[srv->nstarted];
        rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "failed to start worker thread: %s\n", strerror(rc));
            break;
        }
        /* started, so server_run joins it even when pinning fails */
        rc = pin_worker(srv, srv->nstarted++);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0;
}

/* After the workers are gone: sockets accepted but never taken. */
static void close_handoffs(struct server *srv)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        for (size_t j = 0; j < w->nhandoff; j++) {
            close(w->handoff[j]);
            atomic_fetch_sub(&srv->env->server_stats->curr_connections, 1);
        }
        w->nhandoff = 0;
    }
}

int server_run(struct server *srv, void (*tick)(void *ctx), void *tick_ctx)
{
    bool started = start_workers(srv);
    if (started)
        accept_loop(srv, tick, tick_ctx);
    server_stop(srv);
    for (unsigned i = 0; i < srv->nstarted; i++)
        pthread_join(srv->workers[i].thread, NULL);
    srv->nstarted = 0;
    close_handoffs(srv);
    return started ? 0 : -1;
}

void server_stop(struct server *srv)
{
    if (!srv)
        return;
    int saved_errno = errno;
    atomic_store(&srv->stopping, true);
    wake(srv->wake.fd);
    for (unsigned i = 0; i < srv->nworkers; i++)
        wake(srv->workers[i].notify.fd);
    errno = saved_errno;
}

static void worker_free(struct worker *w)
{
    conn_set_close_all(&w->conns);
    udp_worker_destroy(w->udp_state);
    source_list_close(&w->udp);
    if (w->notify.fd >= 0)
        close(w->notify.fd);
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->handoff);
    pthread_mutex_destroy(&w->handoff_lock);
}

void server_destroy(struct server *srv)
{
    if (!srv)
        return;
    struct server_stats *ss = srv->env->server_stats;
    if (ss->threads == srv->thread_stats) {
        ss->threads = NULL;
        ss->nthreads = 0;
    }
    for (unsigned i = 0; i < srv->nworkers; i++)
        worker_free(&srv->workers[i]);
    source_list_close(&srv->listeners);
    if (srv->wake.fd >= 0)
        close(srv->wake.fd);
    if (srv->accept_epfd >= 0)
        close(srv->accept_epfd);
    free(srv->workers);
    free(srv->thread_stats);
    free(srv);
}
