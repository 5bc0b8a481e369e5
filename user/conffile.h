/* conffile.h - memcached.conf's format, as Debian's memcached package
 * writes it: one flag and its value per line ("-m 64", "-l 127.0.0.1"),
 * '#' starting a comment, blank lines ignored. Lines that do not start with
 * '-' are directives of Debian's wrapper script ("logfile FILE") and are
 * skipped, as that script skips them. */
#ifndef XDPCACHED_CONFFILE_H
#define XDPCACHED_CONFFILE_H

#include <stdio.h>

/* The largest file read: far more than any list of flags needs. */
#define CONFFILE_MAX_BYTES (64 * 1024)

/* The words of the file at path, split at whitespace, in a NULL-terminated
 * array (*count words) that is one allocation: free() it. NULL, with a
 * one-line reason on err, when the file cannot be read or is too big. */
char **conffile_read(const char *path, int *count, FILE *err);

#endif
