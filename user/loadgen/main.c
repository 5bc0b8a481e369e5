/* main.c - mcload: a load generator for memcached's text protocol over UDP
 * and TCP (options.c has the flags; load.c the run; udp_driver.c and
 * tcp_driver.c the sockets; report.c the result).
 *
 * Every socket is set up before any thread starts, so that a server that
 * cannot be reached is a setup error (exit 1) and no thread's clock starts
 * late. Threads share nothing while they run; their counts and histograms
 * are merged after they end. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "load.h"
#include "options.h"
#include "preload.h"
#include "report.h"

#define EXIT_USAGE 64
#define START_DELAY_NS 2000000ull   /* threads begin together, after they are created */

static void *run_thread(void *arg)
{
    load_run(arg);
    return NULL;
}

static void add_counts(struct load_counts *into, const struct load_counts *c)
{
    into->gets += c->gets;
    into->sets += c->sets;
    into->hits += c->hits;
    into->misses += c->misses;
    into->timeouts += c->timeouts;
    into->errors += c->errors;
    into->late += c->late;
}

static void destroy_drivers(struct load_thread *threads, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (threads[i].driver)
            threads[i].driver->destroy(threads[i].driver);
}

/* Creates every thread's sockets; false (and nothing left open) on failure. */
static bool create_drivers(const struct load_config *cfg, struct load_thread *threads)
{
    for (unsigned i = 0; i < cfg->threads; i++) {
        threads[i].driver = cfg->tcp ? tcp_driver_create(cfg) : udp_driver_create(cfg);
        if (!threads[i].driver) {
            destroy_drivers(threads, i);
            return false;
        }
    }
    return true;
}

/* Runs the threads; merges their results into counts and latency. Returns
 * false when a thread lost every connection. */
static bool run_threads(const struct load_config *cfg, struct load_thread *threads,
                        struct load_counts *counts, struct hist *latency, struct hist *send_lag)
{
    pthread_t ids[cfg->threads];
    uint64_t begin = load_now_ns() + START_DELAY_NS;
    unsigned started = 0;
    bool ok = true;
    for (; started < cfg->threads; started++) {
        load_thread_init(&threads[started], cfg, started, threads[started].driver, begin);
        int err = pthread_create(&ids[started], NULL, run_thread, &threads[started]);
        if (err) {
            fprintf(stderr, "mcload: pthread_create: %s\n", strerror(err));
            ok = false;
            break;
        }
    }
    hist_init(latency);
    hist_init(send_lag);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ids[i], NULL);
        add_counts(counts, &threads[i].counts);
        hist_merge(latency, &threads[i].latency);
        hist_merge(send_lag, &threads[i].send_lag);
        ok = ok && !threads[i].driver->failed;
    }
    return ok;
}

static int run_load(const struct load_config *cfg)
{
    struct load_thread *threads = calloc(cfg->threads, sizeof(*threads));
    struct hist *latency = malloc(sizeof(*latency));
    struct hist *send_lag = malloc(sizeof(*send_lag));
    int status = 1;
    if (!threads || !latency || !send_lag) {
        fprintf(stderr, "mcload: out of memory\n");
    } else if (create_drivers(cfg, threads)) {
        struct load_counts counts = { 0 };
        bool ran = run_threads(cfg, threads, &counts, latency, send_lag);
        destroy_drivers(threads, cfg->threads);
        if (report_result(cfg, &counts, latency, send_lag) && ran)
            status = 0;
    }
    free(threads);
    free(latency);
    free(send_lag);
    return status;
}

int main(int argc, char **argv)
{
    struct load_config cfg;
    char why[256];
    switch (options_parse(&cfg, argc, argv, why, sizeof(why))) {
    case OPTIONS_HELP:
        return 0;
    case OPTIONS_ERROR:
        fprintf(stderr, "mcload: %s (see mcload --help)\n", why);
        return EXIT_USAGE;
    case OPTIONS_RUN:
        break;
    }
    return cfg.preload ? preload_run(&cfg) : run_load(&cfg);
}
