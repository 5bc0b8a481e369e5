/* udp.h - memcached's UDP transport, served by each worker thread.
 *
 * Every worker has its own SO_REUSEPORT socket per address (the kernel
 * spreads datagrams over them), and a struct udp_worker with the buffers to
 * read and answer them. Each request datagram is independent: a fresh
 * protocol state runs its requests, and every response goes back in
 * datagrams of its own with memcached's 8-byte frame header. */
#ifndef XDPCACHED_UDP_H
#define XDPCACHED_UDP_H

struct proto_env;
struct thread_stats;
struct udp_worker;

/* NULL when out of memory. */
struct udp_worker *udp_worker_create(const struct proto_env *env, struct thread_stats *stats);
void udp_worker_destroy(struct udp_worker *u);

/* Reads the datagrams waiting on the UDP socket fd and answers them. */
void udp_serve(struct udp_worker *u, int fd);

#endif
