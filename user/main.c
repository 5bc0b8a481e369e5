/* main.c - xdpcached: settings, store and server put together. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "prefix_stats.h"
#include "proto_text.h"
#include "server.h"
#include "settings.h"
#include "stats.h"
#include "store.h"

#define EXIT_OSERR 71

static struct server *running_server;

static void on_stop_signal(int sig)
{
    (void)sig;
    server_stop(running_server);
}

static void request_shutdown(void)
{
    server_stop(running_server);
}

static void tick(void *store)
{
    store_tick(store);
}

static int install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -1;
    /* A peer closing mid-write must give EPIPE, not kill the daemon. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* -u: give up root once the sockets are bound. */
static int drop_privileges(const char *username)
{
    struct passwd *pw = getpwnam(username);
    if (!pw) {
        fprintf(stderr, "can't find the user %s to switch to\n", username);
        return -1;
    }
    if (geteuid() != 0)
        return 0;
    if (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
        fprintf(stderr, "failed to assume identity of user %s: %s\n", username,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "could not open the pid file %s for writing: %s\n", path,
                strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f);
}

static struct store *create_store(const struct settings *s)
{
    struct store_config config = {
        .mem_limit = s->maxbytes,
        .item_size_max = s->item_size_max,
        .use_cas = s->use_cas,
        .evict = s->evict_to_free,
        .hashpower = s->hashpower_init,
        .reclaim_expired = s->lru_crawler,
    };
    struct store *store = store_create(&config);
    if (!store)
        fprintf(stderr, "failed to create the item store (%zu bytes)\n", s->maxbytes);
    return store;
}

static int serve(struct settings *s, struct store *store, struct prefix_stats *prefix_stats)
{
    struct server_stats server_stats = { .reset_lock = PTHREAD_MUTEX_INITIALIZER };
    struct proto_env env = {
        .store = store, .settings = s, .server_stats = &server_stats,
        .prefix_stats = prefix_stats, .shutdown = request_shutdown,
    };
    running_server = server_create(&env);
    if (!running_server)
        return EXIT_OSERR;
    int rc = EXIT_OSERR;
    if (install_signals() == 0 && (!s->username || drop_privileges(s->username) == 0) &&
        (!s->pidfile || write_pidfile(s->pidfile) == 0))
        rc = server_run(running_server, tick, store) == 0 ? 0 : EXIT_OSERR;
    server_destroy(running_server);
    running_server = NULL;
    if (s->pidfile)
        unlink(s->pidfile);
    return rc;
}

int main(int argc, char **argv)
{
    struct settings settings;

    clock_init();
    settings_init(&settings);
    int rc = settings_parse(&settings, argc, argv, stdout, stderr);
    if (rc >= 0)
        return rc;
    struct store *store = create_store(&settings);
    struct prefix_stats *prefix_stats = prefix_stats_create();
    rc = EXIT_OSERR;
    if (store && prefix_stats)
        rc = serve(&settings, store, prefix_stats);
    else if (!prefix_stats)
        fprintf(stderr, "out of memory creating the prefix statistics\n");
    prefix_stats_destroy(prefix_stats);
    if (store)
        store_destroy(store);
    return rc;
}
