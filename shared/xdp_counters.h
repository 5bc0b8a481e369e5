/* xdp_counters.h - the fast path's per-CPU counters: one struct per CPU in
 * a BPF_MAP_TYPE_PERCPU_ARRAY of one element. The XDP program increments its
 * own CPU's copy; the daemon sums the copies for `stats` (as xdp_<name>). */
#ifndef XDPCACHED_SHARED_XDP_COUNTERS_H
#define XDPCACHED_SHARED_XDP_COUNTERS_H

#include "shared_types.h"

/* Why a request to the server's UDP port went up to the daemon. */
#define XDP_PASS_REASONS(X)                                                      \
    X(misses)             /* a key is not in the map */                          \
    X(pass_expired)       /* a key's entry has expired or been flushed */        \
    X(pass_race)          /* a writer was changing an entry while it was read */ \
    X(pass_not_get)       /* not get/gets/mg (another command or protocol) */    \
    X(pass_malformed)     /* not the plain "get k1 k2\r\n" or "mg k v f\r\n"
                             form (several spaces, several requests), bad
                             frame */                                            \
    X(pass_too_many_keys) /* more than XDP_MULTIGET_MAX keys */                  \
    X(pass_too_long)      /* request longer than XDP_REQUEST_MAX, a key
                             longer than XDP_KEY_MAX, an mg opaque longer
                             than MG_OPAQUE_MAX */                               \
    X(pass_too_big)       /* reply would not fit one datagram */                 \
    X(pass_no_room)       /* the driver could not grow the frame */              \
    X(pass_fragment)      /* IP fragment */                                      \
    X(pass_ip_options)    /* IPv4 options or IPv6 extension headers */          \
    X(pass_mg_flag)       /* mg with a flag other than v f k s t c O q, a flag
                             token longer than its letter, or a flag twice */

/* Every counter, in the order `stats` prints them. */
#define XDP_COUNTERS(X)                                                          \
    X(requests)           /* UDP datagrams to the server's port */               \
    X(replies)            /* of those, answered from the map (XDP_TX) */         \
    X(hits)               /* keys answered from the map */                       \
    X(mg_replies)         /* of the replies, to mg (meta get) */                 \
    X(bytes_sent)         /* bytes of the answered frames */                     \
    X(passes)             /* requests sent up to the daemon */                   \
    XDP_PASS_REASONS(X)                                                          \
    X(drops_not_allowed)  /* datagrams from sources outside --udp-allow */

struct xdp_counters {
#define XDP_COUNTER_FIELD(name) __u64 name;
    XDP_COUNTERS(XDP_COUNTER_FIELD)
#undef XDP_COUNTER_FIELD
};

#endif
