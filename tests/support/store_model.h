/* store_model.h - the store checked against a simple model (issue 11).
 *
 * An input of bytes is decoded into a sequence of store operations (set,
 * add, replace, append, prepend, cas, incr, decr, delete, touch, get, gat,
 * flush now or later, time moving on, store_tick) on a small key space.
 * Each runs on a fresh store and on a plain table of what every key should
 * hold, and every result is compared: status, value, flags, expiry, CAS
 * (new and larger on every change), and curr_items after each tick. The
 * store is large enough that nothing is ever evicted. Time moves only in
 * steps of clock_advance_for_tests(), and expiry times are whole steps
 * away, so the real clock ticking during a run changes nothing.
 *
 * The input's form (every byte past the end reads as 0):
 *   byte 0: bit 0 set = CAS on (else as with -C), bits 1-2 = the table's
 *           hashpower above 8 (small tables grow under the run);
 *   then one record per operation: an opcode byte (modulo 64, weighted by
 *   op_weight in store_model.c), a key byte (below 192: one of 8 keys often
 *   used; else any of 64), and the operation's arguments (see read_*
 *   there). tests/fuzz/make_seeds.py writes inputs in this form.
 *
 * Used by tests/fuzz/fuzz_store.c and tests/unit/test_store_model.c.
 * clock_init() must have been called. */
#ifndef XDPCACHED_STORE_MODEL_H
#define XDPCACHED_STORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs the operations that data decodes to. True when every result
 * matched the model; otherwise false, with the first difference described
 * in why (always NUL-terminated). */
bool store_model_run(const uint8_t *data, size_t size, char *why, size_t nwhy);

#endif
