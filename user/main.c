/* main.c - xdpcached: settings, store, XDP fast path and server put
 * together. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "allow.h"
#include "authfile.h"
#include "clock.h"
#include "fastpath.h"
#include "metrics.h"
#include "prefix_stats.h"
#include "proto_text.h"
#include "server.h"
#include "settings.h"
#include "stats.h"
#include "store.h"
#include "watch.h"

#define EXIT_OSERR 71

/* What the once-a-second tick works on. */
struct daemon {
    struct store *store;
    struct fastpath *fastpath;      /* NULL without the fast path */
    struct authfile *auth;          /* -Y's users, or NULL */
    struct watch_hub *watch;        /* NULL with -W */
    const char *auth_path;
    unsigned ticks;                 /* server ticks so far */
};

static struct server *running_server;
/* Set by a stop signal, for one that comes while the server is still being
 * created (its port may already accept): serve() passes it on. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    server_stop(running_server);
}

/* SIGHUP: read -Y's file again, as memcached does (in the tick, not here). */
static volatile sig_atomic_t reload_requested;

static void on_reload_signal(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void request_shutdown(void)
{
    server_stop(running_server);
}

static void tick(void *ctx)
{
    struct daemon *d = ctx;
    store_tick(d->store);
    watch_flush(d->watch);
    if (++d->ticks % SERVER_TICKS_PER_SECOND == 0)
        fastpath_tick(d->fastpath);
    if (reload_requested && d->auth) {
        reload_requested = 0;
        char why[512];
        if (!authfile_reload(d->auth, d->auth_path, why, sizeof(why)))
            fprintf(stderr, "%s; the users read before stay\n", why);
    }
}

static int install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -1;
    /* SIGHUP reads -Y's file again, as in memcached, and does nothing
     * else (logrotate, a closed terminal): the daemon writes only to
     * stderr and has no log file to reopen. */
    sa.sa_handler = on_reload_signal;
    if (sigaction(SIGHUP, &sa, NULL))
        return -1;
    /* A peer closing mid-write must give EPIPE, not kill the daemon. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* -r: core files as large as the hard limit allows, as memcached does. */
static int enable_coredumps(void)
{
    struct rlimit core;
    if (getrlimit(RLIMIT_CORE, &core) == 0) {
        core.rlim_cur = core.rlim_max;
        if (setrlimit(RLIMIT_CORE, &core) == 0 && core.rlim_cur > 0)
            return 0;
    }
    fprintf(stderr, "failed to ensure corefile creation\n");
    return -1;
}

/* -k: a failure only warns, as in memcached (RLIMIT_MEMLOCK is often low). */
static void lock_memory(void)
{
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "warning: -k invalid, mlockall() failed: %s\n",
                strerror(errno));
}

/* -d: once the sockets are bound, so that a busy port still fails in the
 * foreground with an exit code, and before any thread starts (fork keeps
 * only the calling thread). stdio goes to /dev/null unless -v. */
static int daemonize(const struct settings *s)
{
    if (daemon(0, settings_verbosity(s) > 0) != 0) {
        fprintf(stderr, "failed to daemon() in order to daemonize: %s\n",
                strerror(errno));
        return -1;
    }
    return 0;
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
    struct store_config config = settings_store_config(s);
    /* 128 index buckets (1,024 slots) per shard a second, a slice per tick:
     * scanning a second's worth at once took ~10 ms of CPU and showed as a
     * p99.9 of 2-4 ms (docs/benchmarks.md, W3). */
    config.reclaim_positions = 128 / SERVER_TICKS_PER_SECOND;
    struct store *store = store_create(&config);
    if (!store)
        fprintf(stderr, "failed to create the item store (%zu bytes)\n", s->maxbytes);
    return store;
}

/* --udp-allow's default: loopback and the networks of the --xdp-iface
 * interfaces, read now, as the daemon starts. */
static void default_udp_allow(struct settings *s)
{
    char why[128];
    if (!s->udp_allow_given &&
        !allow_add_system_defaults(&s->udp_allow, s->xdp_ifaces, s->nxdp_ifaces,
                                   why, sizeof(why)))
        fprintf(stderr, "udp: not every network of the --xdp-iface interfaces "
                "is allowed: %s\n", why);
    if (!settings_listens_udp(s) || settings_verbosity(s) == 0)
        return;
    flockfile(stderr);
    fputs("udp: allowed sources:", stderr);
    for (unsigned i = 0; i < s->udp_allow.n; i++) {
        char net[ALLOW_TEXT_MAX];
        allow_format(&s->udp_allow.nets[i], net);
        fprintf(stderr, " %s", net);
    }
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Once the sockets are bound (a busy port fails first, before anything is
 * attached) and before -u takes away the right to use bpf(). */
static void start_fastpath(struct daemon *d, const struct settings *s,
                           struct proto_env *env)
{
    d->fastpath = fastpath_start(s, d->store);
    if (!d->fastpath)
        return;
    env->server_stats->fastpath = d->fastpath;
    env->server_stats->reset_fastpath = fastpath_reset_stats;
    env->udp_read_hit = fastpath_read_hit;
    env->udp_read_ctx = d->fastpath;
    /* -u would take away bpf() from the loader halfway. */
    if (s->username)
        fastpath_wait(d->fastpath);
}

/* What comes between binding and serving: -d, the metrics thread, -u and
 * -P, in that order. */
static bool prepare_to_run(const struct settings *s, struct metrics *metrics)
{
    return (!s->daemonize || daemonize(s) == 0) && (!metrics || metrics_start(metrics) == 0) &&
           (!s->username || drop_privileges(s->username) == 0) &&
           (!s->pidfile || write_pidfile(s->pidfile) == 0);
}

/* `watch evictions`: the store's eviction listener. */
static void log_eviction(void *ctx, const struct item_view *item)
{
    rel_time_t now = clock_now();
    long long ttl = item->exptime ? (long long)item->exptime - now : -1;
    watch_log_eviction(ctx, item->key, item->nkey, item->fetched, ttl, now - item->last_access,
                       item->nvalue);
}

static int serve(struct settings *s, struct store *store, struct prefix_stats *prefix_stats,
                 struct authfile *auth, struct watch_hub *watch)
{
    struct server_stats server_stats = { .reset_lock = PTHREAD_MUTEX_INITIALIZER };
    struct proto_env env = {
        .store = store, .settings = s, .server_stats = &server_stats,
        .prefix_stats = prefix_stats, .shutdown = request_shutdown, .auth = auth,
        .watch = watch,
    };
    struct daemon daemon = { .store = store, .auth = auth, .auth_path = s->auth_file,
                             .watch = watch };
    if (watch)
        store_set_eviction_listener(store, log_eviction, watch);
    /* bound before -d, like the server's ports, so a busy port fails in the
     * foreground, and before them, so it is up once they accept; its thread
     * starts after the fork */
    struct metrics *metrics = NULL;
    if (s->metrics_listen.port > 0 &&
        (metrics = metrics_create(&s->metrics_listen, &env)) == NULL)
        return EXIT_OSERR;
    /* before the ports accept: a client may send SIGTERM as soon as they do */
    if (install_signals() != 0) {
        fprintf(stderr, "failed to install signal handlers: %s\n", strerror(errno));
        metrics_destroy(metrics);
        return EXIT_OSERR;
    }
    running_server = server_create(&env);
    if (!running_server) {
        metrics_destroy(metrics);
        return EXIT_OSERR;
    }
    if (stop_requested)
        server_stop(running_server);
    start_fastpath(&daemon, s, &env);
    int rc = EXIT_OSERR;
    if (prepare_to_run(s, metrics))
        rc = server_run(running_server, tick, &daemon) == 0 ? 0 : EXIT_OSERR;
    metrics_destroy(metrics);       /* it reads the server's counters */
    server_destroy(running_server);
    running_server = NULL;
    server_stats.fastpath = NULL;
    fastpath_stop(daemon.fastpath);
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
    if (rc >= 0) {
        settings_release(&settings);
        return rc;
    }
    if (settings.enable_coredumps && enable_coredumps() != 0)
        return EXIT_OSERR;
    if (settings.lock_memory)
        lock_memory();
    default_udp_allow(&settings);
    /* Read before -u, so that a file only root may read works; memcached
     * also exits with 1 when it cannot read it. */
    struct authfile *auth = NULL;
    char why[512];
    if (settings.auth_file && !(auth = authfile_load(settings.auth_file, why, sizeof(why)))) {
        fprintf(stderr, "%s\n", why);
        settings_release(&settings);
        return EXIT_FAILURE;
    }
    struct store *store = create_store(&settings);
    struct prefix_stats *prefix_stats = prefix_stats_create(settings.prefix_delimiter);
    if (prefix_stats && settings.detail_enabled)
        prefix_stats_enable(prefix_stats, true);
    struct watch_hub *watch = NULL;
    if (settings.watch_enabled)
        watch = watch_hub_create((size_t)settings.watcher_logbuf_kb * 1024);
    rc = EXIT_OSERR;
    if (store && prefix_stats && (watch || !settings.watch_enabled))
        rc = serve(&settings, store, prefix_stats, auth, watch);
    else if (store && prefix_stats)
        fprintf(stderr, "out of memory creating the watch hub\n");
    else if (!prefix_stats)
        fprintf(stderr, "out of memory creating the prefix statistics\n");
    prefix_stats_destroy(prefix_stats);
    if (store)
        store_destroy(store);
    authfile_free(auth);
    watch_hub_destroy(watch);
    settings_release(&settings);
    return rc;
}
