/* preload.c - see preload.h. */
#define _GNU_SOURCE
#include "preload.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver.h"
#include "report.h"

#define PRELOAD_CHUNK (256 << 10) /* sets are sent in buffers of about this */
#define PRELOAD_STALL_MS 10000     /* no progress this long: give up */
#define SYNC_COMMAND "version\r\n"
#define SYNC_REPLY "VERSION "

/* The server's answers: error lines until the VERSION line. */
struct answers {
    char line[512];
    size_t len;
    uint64_t errors;
    bool synced;
};

static void take_answers(struct answers *a, const char *buf, size_t n)
{
    for (size_t i = 0; i < n && !a->synced; i++) {
        if (buf[i] != '\n') {
            if (a->len < sizeof(a->line) - 1)
                a->line[a->len++] = buf[i];
            continue;
        }
        a->line[a->len] = '\0';
        if (strncmp(a->line, SYNC_REPLY, strlen(SYNC_REPLY)) == 0) {
            a->synced = true;
        } else if (a->errors++ == 0) {
            a->line[strcspn(a->line, "\r")] = '\0';
            fprintf(stderr, "mcload: preload: the server answered '%s'\n", a->line);
        }
        a->len = 0;
    }
}

/* Room for PRELOAD_CHUNK bytes, one set past it, and the sync command. */
static size_t buffer_size(const struct load_config *cfg)
{
    return PRELOAD_CHUNK + request_max_size(OP_SET, 1, &cfg->ks) + 8 + strlen(SYNC_COMMAND);
}

/* Refills buf with the sets of the next keys, and the sync command after
 * the last. Returns the length. */
static size_t fill(const struct load_config *cfg, char *buf, uint64_t *next, bool *sync_queued)
{
    size_t len = 0;
    while (*next < cfg->ks.nkeys && len < PRELOAD_CHUNK)
        len += request_format_set(buf + len, (uint32_t)(*next)++, &cfg->ks, true);
    if (*next == cfg->ks.nkeys) {
        memcpy(buf + len, SYNC_COMMAND, strlen(SYNC_COMMAND));
        len += strlen(SYNC_COMMAND);
        *sync_queued = true;
    }
    return len;
}

/* Sends everything and reads the answers; false with a message on failure. */
static bool exchange(const struct load_config *cfg, int fd, char *buf, struct answers *a)
{
    uint64_t next = 0;
    bool sync_queued = false;
    size_t len = 0, sent = 0;
    char in[4096];
    while (!a->synced) {
        if (sent == len && !sync_queued) {
            len = fill(cfg, buf, &next, &sync_queued);
            sent = 0;
        }
        struct pollfd p = { fd, POLLIN | (sent < len ? POLLOUT : 0), 0 };
        int ready = poll(&p, 1, PRELOAD_STALL_MS);
        if (ready == 0) {
            fprintf(stderr, "mcload: preload: no progress for %d ms\n", PRELOAD_STALL_MS);
            return false;
        }
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "mcload: preload: poll: %s\n", strerror(errno));
            return false;
        }
        if (p.revents & POLLOUT) {
            ssize_t n = send(fd, buf + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "mcload: preload: send: %s\n", strerror(errno));
                return false;
            }
            sent += n > 0 ? (size_t)n : 0;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "mcload: preload: the server closed the connection\n");
                return false;
            }
            if (n > 0)
                take_answers(a, in, (size_t)n);
        }
    }
    return true;
}

int preload_run(const struct load_config *cfg)
{
    int fd = tcp_connect(cfg);
    if (fd < 0)
        return 1;
    char *buf = malloc(buffer_size(cfg));
    if (!buf) {
        fprintf(stderr, "mcload: out of memory\n");
        close(fd);
        return 1;
    }
    struct answers answers = { .len = 0 };
    uint64_t start = load_now_ns();
    bool ok = exchange(cfg, fd, buf, &answers);
    double seconds = (double)(load_now_ns() - start) / 1e9;
    free(buf);
    close(fd);
    if (!ok)
        return 1;
    if (!report_preload(cfg, seconds, answers.errors))
        return 1;
    return answers.errors ? 1 : 0;
}
