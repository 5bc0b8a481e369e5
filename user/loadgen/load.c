/* load.c - see load.h. */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <sys/prctl.h>
#include <time.h>

#define SCAN_MIN_NS 1000000ull   /* expire() at most every millisecond */

uint64_t load_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum mc_op load_next_request(struct load_thread *t, uint32_t *keys, unsigned *nkeys)
{
    const struct load_config *c = t->cfg;
    bool read = c->get_ratio >= 1 || rng_unit(&t->rng) < c->get_ratio;
    unsigned n = read ? c->multiget : 1;
    for (unsigned i = 0; i < n; i++)
        keys[i] = (uint32_t)key_dist_next(&c->dist, &t->rng);
    *nkeys = n;
    return read ? c->read_op : OP_SET;
}

size_t load_request_max(const struct load_config *cfg)
{
    size_t read_max = request_max_size(cfg->read_op, cfg->multiget, &cfg->ks);
    size_t set_max = request_max_size(OP_SET, 1, &cfg->ks);
    return cfg->get_ratio < 1 && set_max > read_max ? set_max : read_max;
}

static bool measured(const struct load_thread *t, uint64_t sent_ns)
{
    return sent_ns >= t->measure_ns && sent_ns < t->end_ns;
}

void load_complete(struct load_thread *t, const struct load_request *r, uint64_t now_ns,
                   unsigned hits, bool error)
{
    if (!measured(t, r->sent_ns))
        return;
    struct load_counts *c = &t->counts;
    if (r->op == OP_SET) {
        c->sets++;
    } else {
        /* A reply naming keys not asked for is an error, not extra hits. */
        if (hits > r->nkeys)
            hits = r->nkeys;
        c->gets++;
        c->hits += hits;
        c->misses += r->nkeys - hits;
    }
    c->errors += error;
    hist_record(&t->latency, now_ns > r->sent_ns ? now_ns - r->sent_ns : 0);
}

void load_timeout(struct load_thread *t, const struct load_request *r)
{
    if (measured(t, r->sent_ns))
        t->counts.timeouts++;
}

void load_failed(struct load_thread *t, const struct load_request *r)
{
    if (measured(t, r->sent_ns))
        t->counts.errors++;
}

void load_late(struct load_thread *t)
{
    t->counts.late++;
}

void load_thread_init(struct load_thread *t, const struct load_config *cfg, unsigned id,
                      struct driver *d, uint64_t begin_ns)
{
    t->cfg = cfg;
    t->id = id;
    t->driver = d;
    rng_seed(&t->rng, cfg->seed * 1000003u + id);
    t->begin_ns = begin_ns;
    t->measure_ns = begin_ns + (uint64_t)(cfg->warmup_s * 1e9);
    t->end_ns = t->measure_ns + (uint64_t)(cfg->duration_s * 1e9);
    t->timeout_ns = (uint64_t)cfg->timeout_ms * 1000000u;
    t->deadline_ns = t->end_ns + t->timeout_ns;
    if (cfg->rate > 0) {
        /* Each thread offers rate / threads; their schedules interleave. */
        t->interval_ns = 1e9 * cfg->threads / cfg->rate;
        t->first_ns = begin_ns + (uint64_t)(t->interval_ns * id / cfg->threads);
    }
    hist_init(&t->latency);
    hist_init(&t->send_lag);
}

static uint64_t scheduled_at(const struct load_thread *t, uint64_t k)
{
    return t->first_ns + (uint64_t)((double)k * t->interval_ns);
}

/* The first schedule index due at or after time. */
static uint64_t schedule_index(const struct load_thread *t, uint64_t time)
{
    if (time <= t->first_ns)
        return 0;
    uint64_t k = (uint64_t)floor((double)(time - t->first_ns) / t->interval_ns);
    while (k > 0 && scheduled_at(t, k - 1) >= time)
        k--;
    while (scheduled_at(t, k) < time)
        k++;
    return k;
}

/* Open loop: submits every request due by now (and before the end), as
 * long as there is room. Returns false when some stayed for lack of room. */
static bool submit_scheduled(struct load_thread *t, uint64_t now)
{
    struct driver *d = t->driver;
    for (;;) {
        uint64_t due = scheduled_at(t, t->scheduled);
        if (due > now || due >= t->end_ns)
            return true;
        if (!d->submit(d, t, due))
            return false;
        if (measured(t, due))
            hist_record(&t->send_lag, now - due);
        t->scheduled++;
    }
}

/* At the deadline: what is outstanding has been counted by the driver's
 * abandon(); scheduled requests never sent are timeouts too. */
static void count_unsent(struct load_thread *t)
{
    if (t->cfg->rate <= 0)
        return;
    uint64_t from = schedule_index(t, t->measure_ns);
    uint64_t to = schedule_index(t, t->end_ns);
    if (t->scheduled > from)
        from = t->scheduled;
    if (to > from)
        t->counts.timeouts += to - from;
}

void load_run(struct load_thread *t)
{
    struct driver *d = t->driver;
    bool open_loop = t->cfg->rate > 0;
    uint64_t scan_every = t->timeout_ns / 8 > SCAN_MIN_NS ? t->timeout_ns / 8 : SCAN_MIN_NS;
    uint64_t next_scan = t->begin_ns + scan_every;
    /* The open loop sleeps until the next send is due: the default 50 us of
     * timer slack would be latency the server did not cause. */
    if (open_loop)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    struct timespec begin = { (time_t)(t->begin_ns / 1000000000u),
                              (long)(t->begin_ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &begin, NULL) == EINTR)
        ;
    for (;;) {
        uint64_t now = load_now_ns();
        if (now >= t->deadline_ns || d->failed)
            break;
        bool sending = now < t->end_ns;
        bool room = true;
        if (open_loop)
            room = submit_scheduled(t, now);
        else
            while (sending && d->submit(d, t, now))
                ;
        d->flush(d, t);
        if (!sending && d->outstanding == 0 && (!open_loop || room))
            break;
        if (now >= next_scan && d->expire) {
            d->expire(d, t, now);
            next_scan = now + scan_every;
        }
        uint64_t wake = next_scan < t->deadline_ns ? next_scan : t->deadline_ns;
        uint64_t next_send = open_loop && room ? scheduled_at(t, t->scheduled) : t->end_ns;
        if (sending && next_send < wake)
            wake = next_send;
        d->receive(d, t, wake);
    }
    d->abandon(d, t);
    count_unsent(t);
}
