/* metrics.h - --metrics-listen: `GET /metrics` over HTTP, every `stats`
 * counter in Prometheus' text format (0.0.4).
 *
 * Names and labels are the memcached exporter's (memcached_up,
 * memcached_commands_total{command,status}, memcached_current_items, ...),
 * so dashboards built for it work; counters it does not have, and the fast
 * path's, are xdpcached_<stat> (xdpcached_xdp_hits_total, ...). Everything
 * is read through stats_report(), as `stats` reads it.
 *
 * One thread with its own listening socket serves one request at a time:
 * a request line and headers of at most 4 KB, read within 2 seconds, then
 * the connection is closed. */
#ifndef XDPCACHED_METRICS_H
#define XDPCACHED_METRICS_H

#include <stdio.h>

struct proto_env;
struct listen_addr;

struct metrics;

/* Binds addr (port required); NULL, with a message on stderr, on failure. */
struct metrics *metrics_create(const struct listen_addr *addr, const struct proto_env *env);

/* Starts the serving thread; false on failure. */
int metrics_start(struct metrics *m);

/* Stops and joins the thread, closes the socket, frees m. NULL is fine. */
void metrics_destroy(struct metrics *m);

/* The exposition text for env's current stats, written to out: what GET
 * /metrics answers. */
void metrics_write(const struct proto_env *env, FILE *out);

#endif
