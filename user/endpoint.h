/* endpoint.h - an IPv4 or IPv6 socket address as its host text and port,
 * for the places that print one (`stats conns`, `watch connevents`, the
 * port file). */
#ifndef XDPCACHED_ENDPOINT_H
#define XDPCACHED_ENDPOINT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <sys/socket.h>

#define ENDPOINT_HOST_MAX INET6_ADDRSTRLEN

/* Fills host (no brackets around IPv6) and port; false, leaving both as
 * they were, for any other family. */
bool endpoint_of(const struct sockaddr_storage *addr, char host[ENDPOINT_HOST_MAX],
                 unsigned *port);

#endif
