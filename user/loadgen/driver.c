/* driver.c - what the UDP and TCP drivers share. */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int driver_socket(const struct load_config *cfg, int type)
{
    int fd = socket(cfg->server.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fprintf(stderr, "mcload: socket: %s\n", strerror(errno));
    return fd;
}

int driver_wait(int epfd, struct epoll_event *events, int max, uint64_t wake_ns)
{
    uint64_t now = load_now_ns();
    uint64_t wait = wake_ns > now ? wake_ns - now : 0;
    struct timespec timeout = { (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };
    int n = epoll_pwait2(epfd, events, max, &timeout, NULL);
    return n < 0 ? 0 : n;
}
