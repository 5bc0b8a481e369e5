/* test_server.c - see test_server.h. */
#include "test_server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "proto_text.h"

bool test_server_init(struct test_server *s)
{
    memset(s, 0, sizeof(*s));
    clock_init();
    settings_init(&s->settings);
    s->settings.maxbytes = 8 << 20;
    s->settings.item_size_max = 1 << 20;
    s->threads[0] = &s->thread_stats;
    s->server_stats.threads = s->threads;
    s->server_stats.nthreads = 1;
    pthread_mutex_init(&s->server_stats.reset_lock, NULL);
    s->prefix_stats = prefix_stats_create(':');
    s->env = (struct proto_env){
        .settings = &s->settings, .server_stats = &s->server_stats,
        .prefix_stats = s->prefix_stats,
    };
    return s->prefix_stats != NULL;
}

bool test_server_new_store(struct test_server *s)
{
    if (s->store)
        store_destroy(s->store);
    struct store_config config = settings_store_config(&s->settings);
    s->store = store_create(&config);
    s->env.store = s->store;
    return s->store != NULL;
}

void test_server_destroy(struct test_server *s)
{
    if (s->store)
        store_destroy(s->store);
    prefix_stats_destroy(s->prefix_stats);
    pthread_mutex_destroy(&s->server_stats.reset_lock);
    s->store = NULL;
    s->prefix_stats = NULL;
}

void test_conn_init(struct test_conn *c, struct test_server *s)
{
    memset(c, 0, sizeof(*c));
    proto_conn_init(&c->pc, &s->env, &s->thread_stats);
    obuf_init(&c->out);
}

void test_conn_destroy(struct test_conn *c)
{
    obuf_free(&c->out);
    free(c->pending);
    c->pending = NULL;
    c->npending = 0;
}

void test_conn_feed(struct test_conn *c, const char *bytes, size_t n)
{
    char *grown = realloc(c->pending, c->npending + n + 1);
    if (!grown)
        abort();
    c->pending = grown;
    memcpy(c->pending + c->npending, bytes, n);
    c->npending += n;
    size_t used;
    do {    /* a retrieval run in parts goes on with the same bytes */
        used = proto_text_run(&c->pc, c->pending, c->npending, &c->out, 0, NULL);
        memmove(c->pending, c->pending + used, c->npending - used);
        c->npending -= used;
    } while (c->pc.retrieval.active);
}

char *test_obuf_bytes(const struct obuf *ob)
{
    char *bytes = malloc(ob->len + 1), *end = bytes;
    struct iovec iov[64];
    if (!bytes)
        abort();
    for (size_t at = 0; at < ob->len;) {
        size_t n = obuf_iov(ob, at, ob->len, iov, 64);
        for (size_t i = 0; i < n; i++) {
            memcpy(end, iov[i].iov_base, iov[i].iov_len);
            end += iov[i].iov_len;
            at += iov[i].iov_len;
        }
    }
    *end = '\0';
    return bytes;
}

char *test_conn_exchange(struct test_conn *c, const char *requests)
{
    test_conn_feed(c, requests, strlen(requests));
    char *reply = test_obuf_bytes(&c->out);
    obuf_reset(&c->out);
    return reply;
}
