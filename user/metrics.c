/* metrics.c - see metrics.h. */
#define _GNU_SOURCE /* accept4 */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "settings.h"
#include "stats.h"
#include "stats_report.h"

#define REQUEST_MAX 4096            /* request line and headers */
#define REQUEST_TIMEOUT_S 2         /* to send them */
#define LISTEN_BACKLOG 16           /* connections waiting their turn */
#define STATS_MAX 160               /* `stats` lines collected */
#define STAT_VALUE_MAX 256

/* ---- the exposition text --------------------------------------------------- */

struct stat_pair {
    char name[64];
    char value[STAT_VALUE_MAX];
};

struct collected {
    struct stats_sink sink;         /* first: emit gets back the collection */
    struct stat_pair pairs[STATS_MAX];
    unsigned n;
};

static void collect(struct stats_sink *sink, const char *name, const char *value)
{
    struct collected *c = (struct collected *)sink;
    if (c->n == STATS_MAX)
        return;
    snprintf(c->pairs[c->n].name, sizeof c->pairs[0].name, "%s", name);
    snprintf(c->pairs[c->n].value, sizeof c->pairs[0].value, "%s", value);
    c->n++;
}

/* The stat's value; NULL when `stats` does not report it. */
static const char *stat_value(const struct collected *c, const char *name)
{
    for (unsigned i = 0; i < c->n; i++)
        if (strcmp(c->pairs[i].name, name) == 0)
            return c->pairs[i].value;
    return NULL;
}

static bool is_number(const char *s)
{
    char *end;
    if (*s == '\0')
        return false;
    strtod(s, &end);
    return *end == '\0';
}

/* One sample of a family: a stat, or "" for a computed value. */
struct sample {
    const char *stat;
    const char *labels;             /* "" or `name="value",...` */
};

struct family {
    const char *name, *type, *help;
    struct sample samples[16];      /* ended by a NULL stat */
};

/* The memcached exporter's families, from the stats it reads. */
static const struct family exporter_families[] = {
    /* a counter in the exporter; a gauge here, as promtool wants counters
     * to end in _total and dashboards query it by name alone */
    { "memcached_uptime_seconds", "gauge", "Number of seconds since the server started.",
      { { "uptime", "" } } },
    { "memcached_time_seconds", "gauge", "current UNIX time according to the server.",
      { { "time", "" } } },
    { "memcached_commands_total", "counter",
      "Total number of all requests broken down by command (get, set, etc.) and status.",
      { { "get_hits", "command=\"get\",status=\"hit\"" },
        { "get_misses", "command=\"get\",status=\"miss\"" },
        { "get_expired", "command=\"get\",status=\"expired\"" },
        { "get_flushed", "command=\"get\",status=\"flushed\"" },
        { "delete_hits", "command=\"delete\",status=\"hit\"" },
        { "delete_misses", "command=\"delete\",status=\"miss\"" },
        { "incr_hits", "command=\"incr\",status=\"hit\"" },
        { "incr_misses", "command=\"incr\",status=\"miss\"" },
        { "decr_hits", "command=\"decr\",status=\"hit\"" },
        { "decr_misses", "command=\"decr\",status=\"miss\"" },
        { "cas_hits", "command=\"cas\",status=\"hit\"" },
        { "cas_misses", "command=\"cas\",status=\"miss\"" },
        { "cas_badval", "command=\"cas\",status=\"badval\"" },
        { "touch_hits", "command=\"touch\",status=\"hit\"" },
        { "touch_misses", "command=\"touch\",status=\"miss\"" },
        { "cmd_flush", "command=\"flush\",status=\"hit\"" } } },
    { "memcached_process_user_cpu_seconds_total", "counter",
      "Accumulated user time for this process.", { { "rusage_user", "" } } },
    { "memcached_process_system_cpu_seconds_total", "counter",
      "Accumulated system time for this process.", { { "rusage_system", "" } } },
    { "memcached_current_bytes", "gauge", "Current number of bytes used to store items.",
      { { "bytes", "" } } },
    { "memcached_limit_bytes", "gauge",
      "Number of bytes this server is allowed to use for storage.", { { "limit_maxbytes", "" } } },
    { "memcached_current_items", "gauge", "Current number of items stored by this instance.",
      { { "curr_items", "" } } },
    { "memcached_items_total", "counter",
      "Total number of items stored during the life of this instance.", { { "total_items", "" } } },
    { "memcached_read_bytes_total", "counter",
      "Total number of bytes read by this server from network.", { { "bytes_read", "" } } },
    { "memcached_written_bytes_total", "counter",
      "Total number of bytes sent by this server to network.", { { "bytes_written", "" } } },
    { "memcached_current_connections", "gauge", "Current number of open connections.",
      { { "curr_connections", "" } } },
    { "memcached_max_connections", "gauge", "Maximum number of clients allowed.",
      { { "max_connections", "" } } },
    { "memcached_connections_total", "counter",
      "Total number of connections opened since the server started running.",
      { { "total_connections", "" } } },
    { "memcached_connections_rejected_total", "counter",
      "Total number of connections rejected due to hitting the -c limit in maxconns_fast mode.",
      { { "rejected_connections", "" } } },
    { "memcached_connections_yielded_total", "counter",
      "Total number of connections yielded running due to hitting the -R limit.",
      { { "conn_yields", "" } } },
    { "memcached_connections_listener_disabled_total", "counter",
      "Number of times that the server has hit its connections limit and disabled its listener.",
      { { "listen_disabled_num", "" } } },
    { "memcached_items_evicted_total", "counter",
      "Total number of valid items removed from cache to free memory for new items.",
      { { "evictions", "" } } },
    { "memcached_items_reclaimed_total", "counter",
      "Total number of times an entry was stored using memory from an expired entry.",
      { { "reclaimed", "" } } },
    { "memcached_item_too_large_total", "counter",
      "The number of times an item exceeded the max-item-size when being stored.",
      { { "store_too_large", "" } } },
    { "memcached_item_no_memory_total", "counter",
      "The number of times an item could not be stored due to no more memory.",
      { { "store_no_memory", "" } } },
};

/* Stats the exporter leaves out, and those it reads only for the families
 * above (cmd_set goes into commands_total{set}): never repeated as
 * xdpcached_<stat>. */
static const char *const not_repeated[] = { "pid", "version", "xdpcached_version",
                                            "pointer_size", "cmd_set", "xdp_state", "xdp_ifaces", "xdp_mode",
                                            "time_in_listen_disabled_us" /* in seconds below */ };

/* Stats that are levels, not counts: xdpcached_<stat> gauges. */
static const char *const gauge_stats[] = {
    "threads", "hash_power_level", "hash_bytes", "hash_is_expanding", "accepting_conns",
    "connection_structures", "xdp_entries", "xdp_capacity", "xdp_memory",
    "xdp_verified_insns", "xdp_verified_insns_mg", "log_watchers",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

#define IN_LIST(name, list) in_list(name, list, sizeof(list) / sizeof((list)[0]))

static bool is_exporter_stat(const char *name)
{
    for (size_t f = 0; f < sizeof exporter_families / sizeof exporter_families[0]; f++)
        for (const struct sample *s = exporter_families[f].samples; s->stat; s++)
            if (strcmp(s->stat, name) == 0)
                return true;
    return false;
}

static void write_header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_sample(FILE *out, const char *name, const char *labels, const char *value)
{
    fprintf(out, labels[0] ? "%s{%s} %s\n" : "%s%s %s\n", name, labels, value);
}

static unsigned long long stat_u64(const struct collected *c, const char *name)
{
    const char *v = stat_value(c, name);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* The exporter's set count: cmd_set counts cas requests too. */
static void write_set_commands(FILE *out, const struct collected *c)
{
    unsigned long long cas = stat_u64(c, "cas_hits") + stat_u64(c, "cas_misses") +
                             stat_u64(c, "cas_badval");
    unsigned long long set = stat_u64(c, "cmd_set");
    char value[32];
    snprintf(value, sizeof value, "%llu", set > cas ? set - cas : 0);
    write_sample(out, "memcached_commands_total", "command=\"set\",status=\"hit\"", value);
}

static void write_exporter_families(FILE *out, const struct collected *c)
{
    for (size_t f = 0; f < sizeof exporter_families / sizeof exporter_families[0]; f++) {
        const struct family *fam = &exporter_families[f];
        write_header(out, fam->name, fam->type, fam->help);
        for (const struct sample *s = fam->samples; s->stat; s++) {
            const char *v = stat_value(c, s->stat);
            if (v)
                write_sample(out, fam->name, s->labels, v);
        }
        if (strcmp(fam->name, "memcached_commands_total") == 0)
            write_set_commands(out, c);
    }
}

/* Every other numeric stat: xdpcached_<stat>, a gauge or a counter. */
static void write_own_families(FILE *out, const struct collected *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        const struct stat_pair *p = &c->pairs[i];
        if (is_exporter_stat(p->name) || IN_LIST(p->name, not_repeated) || !is_number(p->value))
            continue;
        char name[96], help[160];
        bool gauge = IN_LIST(p->name, gauge_stats);
        snprintf(name, sizeof name, "xdpcached_%s%s", p->name, gauge ? "" : "_total");
        snprintf(help, sizeof help, "The %s line of `stats`.", p->name);
        write_header(out, name, gauge ? "gauge" : "counter", help);
        write_sample(out, name, "", p->value);
    }
}

/* Prometheus counts time in seconds, not microseconds. */
static void write_listener_disabled_time(FILE *out, const struct collected *c)
{
    static const char name[] = "xdpcached_listener_disabled_seconds_total";
    const char *us = stat_value(c, "time_in_listen_disabled_us");
    if (!us)
        return;
    char value[32];
    snprintf(value, sizeof value, "%.6f", strtoull(us, NULL, 10) / 1e6);
    write_header(out, name, "counter",
                 "Time accepting stayed stopped at the connection limit "
                 "(time_in_listen_disabled_us of `stats`).");
    write_sample(out, name, "", value);
}

/* Label values escape backslash, quote and newline. */
static void write_label_value(FILE *out, const char *value)
{
    for (; *value; value++) {
        if (*value == '\\' || *value == '"')
            fputc('\\', out);
        if (*value == '\n')
            fputs("\\n", out);
        else
            fputc(*value, out);
    }
}

static void write_info(FILE *out, const struct collected *c)
{
    write_header(out, "memcached_up", "gauge", "Could the memcached server be reached.");
    fputs("memcached_up 1\n", out);
    write_header(out, "memcached_version", "gauge", "The version of this memcached server.");
    fputs("memcached_version{version=\"", out);
    write_label_value(out, stat_value(c, "version") ? stat_value(c, "version") : "");
    fputs("\"} 1\n", out);
    write_header(out, "xdpcached_build_info", "gauge", "xdpcached's own version.");
    fputs("xdpcached_build_info{version=\"" XDPCACHED_VERSION "\"} 1\n", out);
    const char *state = stat_value(c, "xdp_state");
    if (state) {
        const char *ifaces = stat_value(c, "xdp_ifaces"), *mode = stat_value(c, "xdp_mode");
        write_header(out, "xdpcached_xdp_info", "gauge",
                     "The XDP fast path's state (loading, attached, failed), and the "
                     "interfaces and modes it is attached to.");
        fputs("xdpcached_xdp_info{state=\"", out);
        write_label_value(out, state);
        fputs("\",ifaces=\"", out);
        write_label_value(out, ifaces ? ifaces : "");
        fputs("\",mode=\"", out);
        write_label_value(out, mode ? mode : "");
        fputs("\"} 1\n", out);
    }
}

void metrics_write(const struct proto_env *env, FILE *out)
{
    static _Thread_local struct collected c;
    c = (struct collected){ .sink = { collect } };
    stats_report(env, "", &c.sink);
    write_info(out, &c);
    write_exporter_families(out, &c);
    write_own_families(out, &c);
    write_listener_disabled_time(out, &c);
}

/* ---- HTTP -------------------------------------------------------------------- */

struct metrics {
    const struct proto_env *env;
    int listen_fd;
    int stop_fd;                    /* eventfd: metrics_destroy wakes the thread */
    pthread_t thread;
    bool started;
};

/* Reads the request head (up to the blank line) into buf; false when the
 * client is too slow, sends too much or goes away. */
static bool read_request(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return true;
    }
    return false;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void send_response(int fd, const char *status, const char *type, const char *body,
                          size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void send_error(int fd, const char *status)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", status);
    send_response(fd, status, "text/plain; charset=utf-8", body, (size_t)n);
}

static void serve_one(struct metrics *m, int fd)
{
    char request[REQUEST_MAX];
    struct timeval timeout = { .tv_sec = REQUEST_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (!read_request(fd, request, sizeof request)) {
        send_error(fd, "400 Bad Request");
        return;
    }
    bool is_get = strncmp(request, "GET ", 4) == 0, is_head = strncmp(request, "HEAD ", 5) == 0;
    if (!is_get && !is_head) {
        send_error(fd, "405 Method Not Allowed");
        return;
    }
    const char *path = request + (is_get ? 4 : 5);
    size_t path_len = strcspn(path, " ?\r\n");
    if (!((path_len == 8 && memcmp(path, "/metrics", 8) == 0) ||
          (path_len == 1 && path[0] == '/'))) {
        send_error(fd, "404 Not Found");
        return;
    }
    char *body = NULL;
    size_t len = 0;
    FILE *text = open_memstream(&body, &len);
    if (!text) {
        send_error(fd, "500 Internal Server Error");
        return;
    }
    metrics_write(m->env, text);
    fclose(text);
    send_response(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", is_get ? body : "",
                  is_get ? len : 0);
    free(body);
}

static void *metrics_main(void *arg)
{
    struct metrics *m = arg;
    struct pollfd fds[2] = { { .fd = m->listen_fd, .events = POLLIN },
                             { .fd = m->stop_fd, .events = POLLIN } };
    for (;;) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!(fds[0].revents & POLLIN))
            continue;
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve_one(m, fd);
        close(fd);
    }
    return NULL;
}

static int bind_listener(const struct listen_addr *addr)
{
    char port[8];
    snprintf(port, sizeof port, "%d", addr->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE }, *found;
    int rc = getaddrinfo(addr->host[0] ? addr->host : NULL, port, &hints, &found);
    if (rc != 0) {
        fprintf(stderr, "metrics: %s: %s\n", addr->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = found; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
                        bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, LISTEN_BACKLOG))) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0)
        fprintf(stderr, "metrics: failed to listen on %s:%d: %s\n", addr->host[0] ? addr->host : "*",
                addr->port, strerror(err));
    return fd;
}

struct metrics *metrics_create(const struct listen_addr *addr, const struct proto_env *env)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "metrics: out of memory\n");
        return NULL;
    }
    m->env = env;
    m->listen_fd = bind_listener(addr);
    m->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (m->listen_fd < 0 || m->stop_fd < 0) {
        if (m->stop_fd < 0)
            fprintf(stderr, "metrics: eventfd: %s\n", strerror(errno));
        metrics_destroy(m);
        return NULL;
    }
    return m;
}

int metrics_start(struct metrics *m)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with the main thread */
    int rc = pthread_create(&m->thread, NULL, metrics_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf(stderr, "metrics: failed to start its thread: %s\n", strerror(rc));
        return -1;
    }
    m->started = true;
    return 0;
}

void metrics_destroy(struct metrics *m)
{
    if (!m)
        return;
    if (m->started) {
        uint64_t one = 1;
        ssize_t n = write(m->stop_fd, &one, sizeof one);
        (void)n;        /* a full counter already wakes it */
        pthread_join(m->thread, NULL);
    }
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->stop_fd >= 0)
        close(m->stop_fd);
    free(m);
}
