/* server.h - the network side of the daemon: listening sockets, one epoll
 * event loop per worker thread, TCP connections and UDP frames.
 *
 * Everything protocol-specific is delegated to proto_text; everything about
 * data to the store. */
#ifndef XDPCACHED_SERVER_H
#define XDPCACHED_SERVER_H

struct proto_env;
struct server;

/* Creates and binds every listening socket named by the settings (TCP and, if
 * -U is set, one SO_REUSEPORT UDP socket per worker and address). Logs one
 * clear line to stderr and returns NULL when a socket cannot be set up. */
struct server *server_create(const struct proto_env *env);

/* How often server_run() calls tick(): often enough that periodic work can
 * be done in slices too short to show in a request's latency. */
#define SERVER_TICKS_PER_SECOND 16

/* Starts the worker threads and serves until server_stop(); calls tick()
 * about SERVER_TICKS_PER_SECOND times a second from the calling thread
 * meanwhile. Returns 0 on a clean stop, -1 if the workers could not start. */
int server_run(struct server *srv, void (*tick)(void *ctx), void *tick_ctx);

/* Asks server_run() to return; async-signal-safe. */
void server_stop(struct server *srv);

void server_destroy(struct server *srv);

#endif
