/* clock.h - the daemon's coarse clock, in memcached's units.
 *
 * Times inside the daemon are rel_time_t: whole seconds since the process
 * started (plus a small offset, as memcached does, so that 0 can keep its
 * meaning of "never expires"). Client-supplied expiration times are turned
 * into rel_time_t by clock_realtime(), following memcached's rules. */
#ifndef XDPCACHED_CLOCK_H
#define XDPCACHED_CLOCK_H

#include <stdint.h>
#include <time.h>

typedef uint32_t rel_time_t;

/* Relative expiration times larger than this (30 days) are absolute unix times. */
#define CLOCK_MAX_RELATIVE_EXPTIME (60 * 60 * 24 * 30)

/* Must be called once before any other clock function. */
void clock_init(void);

/* Seconds since start; cheap (a coarse monotonic clock read). */
rel_time_t clock_now(void);

/* Unix time at which the process is considered to have started. */
time_t clock_process_started(void);

/* memcached's realtime(): 0 stays 0 (never), negative means already expired,
 * up to 30 days is relative to now, larger is an absolute unix time. */
rel_time_t clock_realtime(int64_t exptime);

/* The CLOCK_MONOTONIC nanosecond from which clock_now() may return t or
 * later: when the daemon may first treat an item with exptime t as expired.
 * The XDP fast path stops serving an entry at that instant. */
uint64_t clock_rel_to_mono_ns(rel_time_t t);

/* CLOCK_MONOTONIC now, in nanoseconds: for intervals finer than a second. */
uint64_t clock_mono_ns(void);

/* Unit tests move time forward without sleeping. */
void clock_advance_for_tests(rel_time_t seconds);

#endif
