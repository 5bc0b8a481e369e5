/* driver.h - the UDP and TCP drivers: the sockets of one client thread. */
#ifndef MCLOAD_DRIVER_H
#define MCLOAD_DRIVER_H

#include <sys/epoll.h>

#include "load.h"

/* Both return NULL, having said why on stderr, when a socket cannot be set
 * up (TCP: cannot connect). */
struct driver *udp_driver_create(const struct load_config *cfg);
struct driver *tcp_driver_create(const struct load_config *cfg);

/* A blocking TCP connection to the server with TCP_NODELAY, or -1 with a
 * message on stderr. */
int tcp_connect(const struct load_config *cfg);
/* A socket of cfg's address family, or -1 with a message on stderr. */
int driver_socket(const struct load_config *cfg, int type);
/* Waits on epfd until wake_ns at most; returns the ready count (0 on EINTR). */
int driver_wait(int epfd, struct epoll_event *events, int max, uint64_t wake_ns);

#endif
