/* authfile.h - memcached's ASCII authentication (-Y FILE): the file's
 * "user:password" lines, and the check of a client's pair against them.
 *
 * Knows nothing of connections or the protocol: proto_auth.c asks it. The
 * set of users can be replaced while workers check against it (SIGHUP
 * reloads the file, as in memcached). */
#ifndef XDPCACHED_AUTHFILE_H
#define XDPCACHED_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>

/* memcached reads lines of up to this many bytes, newline included. */
#define AUTHFILE_LINE_MAX 255
/* A larger file is refused: thousands of users, far beyond memcached's 8. */
#define AUTHFILE_MAX_BYTES (1024 * 1024)

struct authfile;

/* Reads path. On failure returns NULL and writes one line saying why into
 * why (the path, and the line number of a malformed entry). */
struct authfile *authfile_load(const char *path, char *why, size_t why_size);

/* Reads path again and, if it reads, takes its users in place of the
 * current ones; otherwise keeps them and says why. */
bool authfile_reload(struct authfile *auth, const char *path, char *why, size_t why_size);

/* Whether user and password are one of the file's pairs. Takes the same
 * time whichever byte of a password differs. */
bool authfile_check(struct authfile *auth, const char *user, size_t nuser, const char *pass,
                    size_t npass);

void authfile_free(struct authfile *auth);

#endif
