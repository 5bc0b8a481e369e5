/* Unit tests of a worker's TCP connections (conn.c): a real socket pair and
 * epoll, and a sendmsg() that does what each test scripts (linked with
 * -Wl,--wrap=sendmsg), so that the order of full and empty socket buffers
 * that a race produces under load happens every time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "test_server.h"

/* ---- the scripted socket --------------------------------------------------- */

static unsigned full_sends_left;   /* the next this many sends find the socket full */
static size_t bytes_taken;         /* what the other sends took, all of it each time */

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    (void)fd;
    (void)flags;
    if (full_sends_left > 0) {
        full_sends_left--;
        errno = EAGAIN;
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < msg->msg_iovlen; i++)
        n += msg->msg_iov[i].iov_len;
    bytes_taken += n;
    return (ssize_t)n;
}

/* ---- a worker with one connection ------------------------------------------ */

struct worker {
    struct test_server srv;
    struct conn_set set;
    int epfd;
    int client;      /* the peer's end of the connection */
};

static int setup(void **state)
{
    struct worker *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    assert_true(test_server_init(&w->srv));
    assert_true(test_server_new_store(&w->srv));
    w->epfd = epoll_create1(0);
    assert_true(w->epfd >= 0);
    conn_set_init(&w->set, &w->srv.env, &w->srv.thread_stats, w->epfd);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    w->client = sv[1];
    /* The acceptor counts a connection before conn_open takes it. */
    atomic_fetch_add(&w->srv.server_stats.curr_connections, 1);
    assert_true(conn_open(&w->set, sv[0]));
    full_sends_left = 0;
    bytes_taken = 0;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct worker *w = *state;
    conn_set_close_all(&w->set);
    close(w->client);
    close(w->epfd);
    test_server_destroy(&w->srv);
    free(w);
    return 0;
}

/* One turn of the worker's loop: the yielded connections if any, else one
 * ready event. False when nothing was left to do. */
static bool worker_turn(struct worker *w)
{
    if (conn_set_has_yielded(&w->set)) {
        conn_set_run_yielded(&w->set);
        return true;
    }
    struct epoll_event ev;
    if (epoll_wait(w->epfd, &ev, 1, 0) != 1)
        return false;
    conn_on_event(ev.data.ptr, ev.events);
    return true;
}

static void store_value(struct worker *w, const char *key, size_t nvalue)
{
    struct test_conn c;
    test_conn_init(&c, &w->srv);
    char line[64];
    int n = snprintf(line, sizeof(line), "set %s 0 0 %zu\r\n", key, nvalue);
    test_conn_feed(&c, line, (size_t)n);
    char *value = malloc(nvalue + 2);
    assert_non_null(value);
    memset(value, 'v', nvalue);
    memcpy(value + nvalue, "\r\n", 2);
    test_conn_feed(&c, value, nvalue + 2);
    free(value);
    char *reply = test_obuf_bytes(&c.out);
    assert_string_equal(reply, "STORED\r\n");
    free(reply);
    test_conn_destroy(&c);
}

/* ---- tests ------------------------------------------------------------------ */

/* A get of many large values runs in parts: a part stops once its replies
 * are big, and the next runs once they have gone out. Here the turn's first
 * send finds the socket full, and the second, a moment later, takes every
 * reply (the client read in between). Nothing is unsent and the retrieval
 * is still active, so no socket event will come for it: the connection
 * must be served again anyway (CI once waited 60 s for the rest). */
static void test_retrieval_resumes_when_its_replies_all_went_out(void **state)
{
    struct worker *w = *state;
    enum { NKEYS = 1200, NVALUE = 2048 };
    store_value(w, "b", NVALUE);

    static char request[3 + 2 * NKEYS + 2];
    memcpy(request, "get", 3);
    for (size_t i = 0; i < NKEYS; i++)
        memcpy(request + 3 + 2 * i, " b", 2);
    memcpy(request + 3 + 2 * NKEYS, "\r\n", 2);
    assert_int_equal(write(w->client, request, sizeof(request)), (ssize_t)sizeof(request));

    full_sends_left = 1;
    for (unsigned turns = 0; turns < 1000 && worker_turn(w); turns++)
        ;
    const size_t one = strlen("VALUE b 0 2048\r\n") + NVALUE + 2;
    assert_int_equal(full_sends_left, 0);
    assert_int_equal(bytes_taken, NKEYS * one + strlen("END\r\n"));
}

/* The ordinary case, for contrast: a socket that takes everything at once. */
static void test_small_get_is_answered_in_one_turn(void **state)
{
    struct worker *w = *state;
    store_value(w, "k", 3);
    const char request[] = "get k\r\n";
    assert_int_equal(write(w->client, request, strlen(request)), (ssize_t)strlen(request));
    assert_true(worker_turn(w));
    assert_int_equal(bytes_taken, strlen("VALUE k 0 3\r\nvvv\r\nEND\r\n"));
    assert_false(conn_set_has_yielded(&w->set));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retrieval_resumes_when_its_replies_all_went_out,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_get_is_answered_in_one_turn, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
