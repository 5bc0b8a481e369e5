/* mc_udp.h - memcached's UDP frame header: a wire format that the daemon
 * (user/udp.c) and the XDP fast path both speak.
 *
 * Every datagram, request or reply, starts with these 8 bytes, each field
 * 16 bits in network byte order. A reply too long for one datagram is split
 * into datagrams numbered 0..total-1 that echo the request's id. */
#ifndef XDPCACHED_SHARED_MC_UDP_H
#define XDPCACHED_SHARED_MC_UDP_H

#include "shared_types.h"

struct mc_udp_header {
    __be16 request_id;  /* chosen by the client, echoed in every reply datagram */
    __be16 sequence;    /* index of this datagram within its response */
    __be16 total;       /* datagrams in the response (a request must say 1) */
    __be16 reserved;    /* 0 */
};

#define MC_UDP_HEADER_SIZE 8
/* memcached's limit for a whole reply datagram, header included. */
#define MC_UDP_MAX_DATAGRAM 1400
#define MC_UDP_MAX_DATA (MC_UDP_MAX_DATAGRAM - MC_UDP_HEADER_SIZE)

_Static_assert(sizeof(struct mc_udp_header) == MC_UDP_HEADER_SIZE, "frame header is 8 bytes");

#endif
