/* clock.c - see clock.h. */
#include "clock.h"

#include <stdatomic.h>

/* memcached starts its clock two seconds in, so that items stored in the
 * first second can still be told apart from "never expires" (0). */
#define CLOCK_START_OFFSET 2

#define NS_PER_SEC 1000000000ull

static struct timespec mono_start;
static time_t process_started;
static _Atomic rel_time_t test_offset;

void clock_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &mono_start);
    process_started = time(NULL) - CLOCK_START_OFFSET;
}

rel_time_t clock_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (rel_time_t)(now.tv_sec - mono_start.tv_sec) + CLOCK_START_OFFSET +
           atomic_load_explicit(&test_offset, memory_order_relaxed);
}

uint64_t clock_mono_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * NS_PER_SEC + (uint64_t)now.tv_nsec;
}

time_t clock_process_started(void)
{
    return process_started;
}

rel_time_t clock_realtime(int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; /* in the past: expired as soon as it is stored */
    if (exptime > CLOCK_MAX_RELATIVE_EXPTIME) {
        /* Absolute times at or before the start would wrap; expire them. */
        if (exptime <= process_started)
            return 1;
        return (rel_time_t)(exptime - process_started);
    }
    return (rel_time_t)exptime + clock_now();
}

/* clock_now() >= t exactly when the coarse clock's tv_sec has reached
 * mono_start.tv_sec + t - CLOCK_START_OFFSET - test_offset. The coarse clock
 * is the precise one as of the last tick, so it never reads ahead of it: when
 * it reaches that second, CLOCK_MONOTONIC has already reached the instant
 * returned here. An XDP entry that stops being served then (by
 * bpf_ktime_get_ns, the precise clock) stops at or before the moment the
 * daemon first calls the item expired, never after. (A later
 * clock_advance_for_tests() moves the daemon's expiry earlier than a value
 * computed before it: tests only.) */
uint64_t clock_rel_to_mono_ns(rel_time_t t)
{
    if (t == 0)
        return UINT64_MAX; /* never expires */
    int64_t offset = atomic_load_explicit(&test_offset, memory_order_relaxed);
    int64_t sec = (int64_t)mono_start.tv_sec + t - CLOCK_START_OFFSET - offset;
    if (sec <= 0)
        return 0; /* clock_now() >= t from the start */
    return (uint64_t)sec * NS_PER_SEC; /* sec < 2^32 + uptime: no overflow */
}

void clock_advance_for_tests(rel_time_t seconds)
{
    atomic_fetch_add(&test_offset, seconds);
}
