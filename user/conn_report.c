/* conn_report.c - see conn_report.h. */
#include "conn_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "endpoint.h"
#include "stats.h"

static const char *const shown_state_names[] = {
    [CONN_SHOWN_LISTENING] = "conn_listening",
    [CONN_SHOWN_READ] = "conn_read",
    [CONN_SHOWN_PARSE_CMD] = "conn_parse_cmd",
    [CONN_SHOWN_NREAD] = "conn_nread",
    [CONN_SHOWN_SWALLOW] = "conn_swallow",
    [CONN_SHOWN_MWRITE] = "conn_mwrite",
};

struct conn_row *conn_rows_add(struct conn_rows *rows, int fd, bool udp,
                               enum conn_shown_state state, rel_time_t idle)
{
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 16;
        struct conn_row *p = realloc(rows->items, cap * sizeof(*p));
        if (!p) {
            rows->oom = true;
            return NULL;
        }
        rows->items = p;
        rows->cap = cap;
    }
    struct conn_row *row = &rows->items[rows->n++];
    *row = (struct conn_row){ .fd = fd, .udp = udp, .state = state, .idle = idle };
    return row;
}

void conn_addr_text(const struct sockaddr_storage *addr, bool udp, char *out, size_t size)
{
    char host[ENDPOINT_HOST_MAX];
    unsigned port;
    if (endpoint_of(addr, host, &port)) {
        bool v6 = addr->ss_family == AF_INET6;
        snprintf(out, size, v6 ? "%s6:[%s]:%u" : "%s:%s:%u", udp ? "udp" : "tcp", host, port);
    } else if (addr->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        snprintf(out, size, "unix:%.*s", (int)sizeof(un->sun_path), un->sun_path);
    } else {
        snprintf(out, size, "?:<AF %d>", addr->ss_family);
    }
}

static int by_fd(const void *a, const void *b)
{
    const struct conn_row *x = a, *y = b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

static void emit_row(const struct conn_row *row, struct stats_sink *sink)
{
    char name[32], text[sizeof(struct sockaddr_un) + 16];
    if (row->udp) {
        snprintf(name, sizeof(name), "%d:UDP", row->fd);
        stats_emitf(sink, name, "UDP");
    }
    snprintf(name, sizeof(name), "%d:addr", row->fd);
    conn_addr_text(&row->addr, row->udp, text, sizeof(text));
    stats_emitf(sink, name, "%s", text);
    if (row->listen_addr.ss_family != 0) {
        snprintf(name, sizeof(name), "%d:listen_addr", row->fd);
        conn_addr_text(&row->listen_addr, row->udp, text, sizeof(text));
        stats_emitf(sink, name, "%s", text);
    }
    snprintf(name, sizeof(name), "%d:state", row->fd);
    stats_emitf(sink, name, "%s", shown_state_names[row->state]);
    snprintf(name, sizeof(name), "%d:secs_since_last_cmd", row->fd);
    stats_emitf(sink, name, "%u", row->idle);
}

void conn_rows_emit(struct conn_rows *rows, struct stats_sink *sink)
{
    if (rows->n > 1)
        qsort(rows->items, rows->n, sizeof(rows->items[0]), by_fd);
    for (size_t i = 0; i < rows->n; i++)
        emit_row(&rows->items[i], sink);
}

void conn_rows_free(struct conn_rows *rows)
{
    free(rows->items);
    memset(rows, 0, sizeof(*rows));
}
