/* preload.h - --preload: fills keys 0..N-1 with their values over TCP. */
#ifndef MCLOAD_PRELOAD_H
#define MCLOAD_PRELOAD_H

#include "load.h"

/* Pipelined "set ... noreply" over one connection, then "version", whose
 * answer means every set before it was processed; anything else the server
 * says is an error. Prints the count and the rate (and the JSON object when
 * cfg->json_path). Returns the exit status. */
int preload_run(const struct load_config *cfg);

#endif
