/* load.h - one load run: its settings, and each client thread's state,
 * counts and latency histogram. The drivers (udp.c, tcp.c) own the sockets;
 * load.c owns what is common: which request comes next, the clock, the
 * open-loop schedule, the run loop and what a completed request counts. */
#ifndef MCLOAD_LOAD_H
#define MCLOAD_LOAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"
#include "keygen.h"
#include "request.h"

#define LOAD_MULTIGET_MAX 100

struct load_config {
    struct sockaddr_storage server;
    socklen_t server_len;
    const char *server_text;
    bool tcp;
    enum mc_op read_op;
    struct keyspace ks;
    struct key_dist dist;
    const char *dist_text;
    double get_ratio;          /* fraction of requests that read */
    unsigned multiget;         /* keys per read */
    unsigned window;           /* outstanding requests per socket */
    unsigned threads, conns;   /* conns: sockets per thread */
    double duration_s, warmup_s;
    double rate;               /* requests/s over all threads; 0 = closed loop */
    unsigned timeout_ms;
    uint32_t ttl_min, ttl_max; /* --ttl, copied into ks once it is built */
    uint64_t seed;
    bool preload;
    const char *json_path;     /* NULL: no JSON */
};

struct load_counts {
    uint64_t gets, sets;       /* read and set requests answered */
    uint64_t hits, misses;     /* keys read */
    uint64_t timeouts, errors, late;
};

/* One request, as the drivers keep it while it is outstanding. */
struct load_request {
    uint64_t sent_ns;          /* when it was meant to go: latency counts from here */
    enum mc_op op;
    unsigned nkeys;
};

struct driver;

struct load_thread {
    const struct load_config *cfg;
    unsigned id;
    struct rng rng;
    struct driver *driver;
    /* Requests sent in [measure_ns, end_ns) are measured; none are sent
     * after end_ns; at deadline_ns whatever is unanswered is a timeout. */
    uint64_t begin_ns, measure_ns, end_ns, deadline_ns;
    uint64_t timeout_ns;
    /* Open loop: the k-th request is due at first_ns + k * interval_ns. */
    double interval_ns;
    uint64_t first_ns, scheduled;
    struct load_counts counts;
    struct hist latency;       /* nanoseconds */
    /* Open loop: how much later than scheduled each measured request was
     * submitted (ns). The latency includes this; when it is large, the
     * client fell behind (no CPU for it), not the server. */
    struct hist send_lag;
};

/* What a driver does for the run loop. */
struct driver {
    /* Queues the next request (load_next_request) intended at sent_ns on a
     * socket that has room; false when none has. */
    bool (*submit)(struct driver *d, struct load_thread *t, uint64_t sent_ns);
    /* Sends what submit queued. */
    void (*flush)(struct driver *d, struct load_thread *t);
    /* Reads and completes replies; waits until wake_ns at most when none
     * is ready. */
    void (*receive)(struct driver *d, struct load_thread *t, uint64_t wake_ns);
    /* Frees requests older than the timeout, counting them (UDP loss);
     * NULL when requests cannot be lost (TCP). */
    void (*expire)(struct driver *d, struct load_thread *t, uint64_t now_ns);
    /* At the end: counts every request still unanswered as a timeout. */
    void (*abandon)(struct driver *d, struct load_thread *t);
    void (*destroy)(struct driver *d);
    unsigned outstanding;
    bool failed;               /* every socket lost: the thread stops */
};

uint64_t load_now_ns(void);

/* Chooses the next request: a read of cfg->multiget keys with probability
 * get_ratio, else a set of one key. Writes its keys; returns the op. */
enum mc_op load_next_request(struct load_thread *t, uint32_t *keys, unsigned *nkeys);

/* The longest request text of this load (reads, and sets when get_ratio < 1). */
size_t load_request_max(const struct load_config *cfg);

/* A reply completed at now_ns; counted when the request was measured. */
void load_complete(struct load_thread *t, const struct load_request *r, uint64_t now_ns,
                   unsigned hits, bool error);
/* A request got no (complete) reply in time. */
void load_timeout(struct load_thread *t, const struct load_request *r);
/* A request whose connection was lost: an error. */
void load_failed(struct load_thread *t, const struct load_request *r);
/* A reply for a request already counted as a timeout. */
void load_late(struct load_thread *t);

/* Sets up t (thread id of cfg->threads) for a run starting at begin_ns. */
void load_thread_init(struct load_thread *t, const struct load_config *cfg, unsigned id,
                      struct driver *d, uint64_t begin_ns);
/* The thread's run: sends, receives, and returns after the drain. */
void load_run(struct load_thread *t);

#endif
