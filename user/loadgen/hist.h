/* hist.h - latency histogram with HdrHistogram's log-linear layout.
 *
 * Values (nanoseconds here, but the module does not care) fall into buckets
 * whose width doubles every 1024 buckets: values below 2048 are exact, and a
 * value v above is stored with a bucket no wider than v / 1024, so every
 * percentile is within 0.1% (three significant digits). Recording is an
 * index computation and an increment: no allocation, no search. Histograms
 * of several threads merge by adding their counts. */
#ifndef MCLOAD_HIST_H
#define MCLOAD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 10                         /* 1024 buckets per doubling */
#define HIST_MAX_SHIFT 30                        /* values up to 2^41 - 1 */
#define HIST_BUCKETS (((HIST_MAX_SHIFT + 1) << HIST_SUB_BITS) + (1 << HIST_SUB_BITS))
#define HIST_MAX_VALUE ((UINT64_C(1) << (HIST_MAX_SHIFT + HIST_SUB_BITS + 1)) - 1)

struct hist {
    uint64_t count;          /* values recorded */
    uint64_t min, max;       /* exact, of the values as recorded */
    double sum;              /* for the mean */
    uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
/* Values above HIST_MAX_VALUE count as HIST_MAX_VALUE. */
void hist_record(struct hist *h, uint64_t value);
/* Adds every value recorded in from to into. */
void hist_merge(struct hist *into, const struct hist *from);
/* The smallest recorded value v such that a fraction q (0..1) of the values
 * are <= v, reported as the highest value of its bucket (never above max).
 * 0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

#endif
