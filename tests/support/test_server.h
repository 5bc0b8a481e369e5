/* test_server.h - what a daemon gives its protocols, without sockets or
 * threads: settings, one worker's counters, a store made from the settings,
 * prefix stats, and the proto_env that joins them. For the protocol unit
 * tests and the fuzz harness (tests/fuzz/). */
#ifndef XDPCACHED_TEST_SERVER_H
#define XDPCACHED_TEST_SERVER_H

#include <stdbool.h>

#include "prefix_stats.h"
#include "proto.h"
#include "settings.h"
#include "stats.h"
#include "store.h"

struct test_server {
    struct settings settings;
    struct store *store;
    struct thread_stats thread_stats;
    struct thread_stats *threads[1];
    struct server_stats server_stats;
    struct prefix_stats *prefix_stats;
    struct proto_env env;
};

/* memcached's defaults, but an 8 MB store of items up to 1 MB; change
 * s->settings before test_server_new_store(). No store yet. False when
 * memory runs out. */
bool test_server_init(struct test_server *s);

/* Replaces the store (empty) with one made from s->settings, and points
 * env at it. False when the store cannot be made. */
bool test_server_new_store(struct test_server *s);

void test_server_destroy(struct test_server *s);

/* A text-protocol connection to a test_server, without a socket: input not
 * consumed yet is kept between feeds, as a server keeps it. */
struct test_conn {
    struct proto_conn pc;
    struct obuf out;         /* replies not taken by test_conn_exchange yet */
    char *pending;
    size_t npending;
};

void test_conn_init(struct test_conn *c, struct test_server *s);
void test_conn_destroy(struct test_conn *c);

/* Appends bytes to the input and runs every complete request. */
void test_conn_feed(struct test_conn *c, const char *bytes, size_t n);

/* Feeds a request string; returns the replies since the last exchange
 * (NUL-terminated; the caller frees them). */
char *test_conn_exchange(struct test_conn *c, const char *requests);

/* The stream's bytes, copied and referenced alike (NUL-terminated; the
 * caller frees them). */
char *test_obuf_bytes(const struct obuf *ob);

#endif
