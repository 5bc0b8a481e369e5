/* report.h - a run's result: one plain line on stdout, and with --json one
 * flat JSON object (keys listed in report.c) to a file or stdout. */
#ifndef MCLOAD_REPORT_H
#define MCLOAD_REPORT_H

#include <stdbool.h>

#include "hist.h"
#include "load.h"

/* send_lag_ns: the open loop's lateness of the client (load_thread); only
 * in the JSON. False, with a message on stderr, when the JSON file cannot
 * be written. */
bool report_result(const struct load_config *cfg, const struct load_counts *c,
                   const struct hist *latency_ns, const struct hist *send_lag_ns);
bool report_preload(const struct load_config *cfg, double seconds, uint64_t errors);

#endif
