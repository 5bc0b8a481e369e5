/* unix_listener.c - see unix_listener.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unix_listener.h"

static bool make_address(const char *path, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr->sun_path)) {
        errno = ENAMETOOLONG;
        return false;
    }
    strcpy(addr->sun_path, path);
    return true;
}

/* memcached unlinks any socket file at the path, even one a running server
 * listens on, which then serves nobody. We take the file only when a
 * connect is refused: nobody is listening there any more. */
static bool remove_stale_socket(const struct sockaddr_un *addr)
{
    struct stat st;
    if (lstat(addr->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return true; /* nothing there, or not a socket: bind() says why */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return false;
    int rc = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
    int connect_errno = errno;
    close(probe);
    if (rc == 0) {
        errno = EADDRINUSE;
        return false;
    }
    if (connect_errno != ECONNREFUSED)
        return true;
    return unlink(addr->sun_path) == 0 || errno == ENOENT;
}

/* The mode is set at bind() through the umask, so the file is never, even
 * for a moment, more open than asked. Setup runs before any other thread
 * starts, so changing the process's umask here races with nothing. */
static int bind_with_mode(int fd, const struct sockaddr_un *addr, unsigned mask)
{
    mode_t old = umask((mode_t)(~mask & 0777));
    int rc = bind(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int bind_errno = errno;
    umask(old);
    errno = bind_errno;
    return rc;
}

int unix_listener_open(const char *path, unsigned mask, int backlog,
                       const struct unix_owner *owner)
{
    struct sockaddr_un addr;
    if (!make_address(path, &addr) || !remove_stale_socket(&addr))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind_with_mode(fd, &addr, mask) != 0)
        goto fail;
    if ((owner->owner_set && chown(path, owner->uid, owner->gid) != 0) ||
        listen(fd, backlog) != 0) {
        int err = errno;
        unlink(path);
        errno = err;
        goto fail;
    }
    return fd;
fail:;
    int err = errno;
    close(fd);
    errno = err;
    return -1;
}
