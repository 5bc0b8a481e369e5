/* exec.h - the executor's rules: what running a request against the store
 * counts and decides, the same for the text, meta and binary protocols.
 *
 * The protocols parse and compose; every rule that memcached applies in more
 * than one protocol lives here once: the get/touch/CAS/incr/decr counters
 * and flush_all's delay. Knows nothing of wire formats or protocols (it
 * depends on the store and the counters only, so no cycle goes through it). */
#ifndef XDPCACHED_EXEC_H
#define XDPCACHED_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct thread_stats;

/* Counts one key of a get (cmd_get, get_hits/misses) or touch/gat
 * (cmd_touch, touch_hits/misses), and get_expired, as memcached does in
 * every protocol. */
void exec_count_lookup(struct thread_stats *stats, enum store_lookup found, bool touch);

/* Counts a compare-and-swap's outcome (cas_hits, cas_badval, cas_misses);
 * nothing for other modes. */
void exec_count_cas(struct thread_stats *stats, enum store_mode mode, enum store_status st);

/* Counts an incr/decr's final outcome: a hit when it changed a counter
 * (not when it created one), a miss when the key stays missing. */
void exec_count_delta(struct thread_stats *stats, bool incr, enum store_status st, bool created);

/* Counts a delete's outcome: delete_hits when it deleted, delete_misses when
 * the key was missing; nothing else (a CAS mismatch is the caller's, as
 * memcached's protocols differ there). */
void exec_count_delete(struct thread_stats *stats, enum store_status st);

/* flush_all with memcached's rules for its delay (0 = now, up to 30 days
 * relative, else an absolute unix time), the same in every protocol;
 * use_cas as the server runs (-C). */
void exec_flush(struct store *store, bool use_cas, int64_t delay);

#endif
