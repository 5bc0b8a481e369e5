/* hist.c - see hist.h.
 *
 * Bucket index of v: with shift = max(0, msb(v) - HIST_SUB_BITS), the index
 * is (shift << HIST_SUB_BITS) + (v >> shift). For shift 0 that is v itself
 * (0..2047); each further shift adds 1024 buckets of twice the width, the
 * top half of v >> shift always being 1024..2047, so indexes are contiguous. */
#include "hist.h"

#include <math.h>
#include <string.h>

#define HIST_HALF (UINT64_C(1) << HIST_SUB_BITS)

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v)
{
    unsigned msb = 63 - (unsigned)__builtin_clzll(v | 1);
    unsigned shift = msb > HIST_SUB_BITS ? msb - HIST_SUB_BITS : 0;
    return (unsigned)((uint64_t)shift << HIST_SUB_BITS) + (unsigned)(v >> shift);
}

/* The highest value that lands in bucket i. */
static uint64_t bucket_top(unsigned i)
{
    unsigned shift = i >= 2 * HIST_HALF ? (unsigned)(i >> HIST_SUB_BITS) - 1 : 0;
    uint64_t sub = i - ((uint64_t)shift << HIST_SUB_BITS);
    return ((sub + 1) << shift) - 1;
}

void hist_record(struct hist *h, uint64_t value)
{
    if (value > HIST_MAX_VALUE)
        value = HIST_MAX_VALUE;
    h->buckets[bucket_of(value)]++;
    h->count++;
    h->sum += (double)value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t hist_percentile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    /* The rank of the value asked for, 1-based: ceil(q * count), at least 1. */
    double want = ceil(q * (double)h->count);
    uint64_t rank = want < 1 ? 1 : want >= (double)h->count ? h->count : (uint64_t)want;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}
