/* endpoint.c - see endpoint.h. */
#include "endpoint.h"

#include <netinet/in.h>

bool endpoint_of(const struct sockaddr_storage *addr, char host[ENDPOINT_HOST_MAX],
                 unsigned *port)
{
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, ENDPOINT_HOST_MAX);
        *port = ntohs(in->sin_port);
        return true;
    }
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, ENDPOINT_HOST_MAX);
        *port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}
