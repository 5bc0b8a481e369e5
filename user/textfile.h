/* textfile.h - a small text file read whole: the config file, -Y's file. */
#ifndef XDPCACHED_TEXTFILE_H
#define XDPCACHED_TEXTFILE_H

#include <stddef.h>

/* The whole of path, NUL-terminated after its *len bytes, if it holds at
 * most max bytes; the caller frees it. NULL with errno set when it cannot
 * be opened (fopen's errno), read (EIO), held (ENOMEM), or is larger
 * (EFBIG). */
char *textfile_read(const char *path, size_t max, size_t *len);

/* Why textfile_read() failed, for a message: strerror(errno) but in plain
 * words for the three errors of its own. */
const char *textfile_error(int err);

#endif
