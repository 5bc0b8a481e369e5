/* options.h - mcload's command line (getopt_long) into a struct load_config. */
#ifndef MCLOAD_OPTIONS_H
#define MCLOAD_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "load.h"

enum options_result {
    OPTIONS_RUN,      /* cfg is complete */
    OPTIONS_HELP,     /* --help was printed */
    OPTIONS_ERROR,    /* why says what is wrong */
};

/* Parses argv (resetting getopt first, so it can be called again). */
enum options_result options_parse(struct load_config *cfg, int argc, char **argv,
                                  char *why, size_t why_size);
void options_usage(FILE *f);

#endif
