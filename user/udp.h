/* udp.h - memcached's UDP transport, served by each worker thread.
 *
 * Every worker has its own SO_REUSEPORT socket per address (the kernel
 * spreads datagrams over them), and a struct udp_worker with the buffers to
 * read and answer them. Each request datagram is independent: a fresh
 * protocol state runs its requests, and every response goes back in
 * datagrams of its own with memcached's 8-byte frame header. Long replies
 * drain a bounded batch per event-loop turn (udp_run_backlog) while the
 * worker serves other requests. */
#ifndef XDPCACHED_UDP_H
#define XDPCACHED_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_source;
struct proto_env;
struct thread_stats;
struct udp_worker;

/* For the worker's UDP sockets (watched by epfd for EPOLLIN; never moved
 * while it lives). NULL when out of memory. */
struct udp_worker *udp_worker_create(const struct proto_env *env, struct thread_stats *stats,
                                     int epfd, struct ev_source *sockets, size_t nsockets);
void udp_worker_destroy(struct udp_worker *u);

/* Serves an epoll event of the UDP socket fd: reads the datagrams waiting
 * and answers them, unless earlier replies are still being sent. */
void udp_serve(struct udp_worker *u, int fd, uint32_t events);

/* Replies are left to send, or requests to run, and the socket takes them:
 * the worker calls udp_run_backlog before it waits for events. */
bool udp_has_backlog(const struct udp_worker *u);

/* Sends a bounded batch of the replies left, running the next part of a
 * long request once its last part is sent. */
void udp_run_backlog(struct udp_worker *u);

#endif
