/* unix_listener.h - the -s socket: one listening AF_UNIX stream socket.
 *
 * Knows nothing of the server: it makes the socket file, ready to accept,
 * and says why when it cannot. */
#ifndef XDPCACHED_UNIX_LISTENER_H
#define XDPCACHED_UNIX_LISTENER_H

#include <stdbool.h>
#include <sys/types.h>

/* Who the socket file should belong to: the -u user when the daemon starts
 * as root (memcached binds after switching to it, so its file is that
 * user's); owner_set false keeps the file as created. */
struct unix_owner {
    bool owner_set;
    uid_t uid;
    gid_t gid;
};

/* Listens on path with the file mode mask & 0777 and the given backlog,
 * non-blocking and close-on-exec. A socket file nobody listens on (left by
 * a killed server) is replaced; a live one, or any other file, is left
 * alone and the call fails. Returns the descriptor, or -1 with errno set. */
int unix_listener_open(const char *path, unsigned mask, int backlog,
                       const struct unix_owner *owner);

#endif
