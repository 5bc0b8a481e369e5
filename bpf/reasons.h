/* reasons.h - why a request to our port goes up to the daemon, as numbers:
 * one per pass counter of shared/xdp_counters.h, in its order, from 1 (0 =
 * no reason, serve it). The counters struct keeps those fields together and
 * in that order, so reason r is the (r - 1)th field after `passes`. */
#ifndef XDPCACHED_BPF_REASONS_H
#define XDPCACHED_BPF_REASONS_H

#include "xdp_counters.h"

enum pass_reason {
    PASS_NONE = 0,
#define XDP_REASON_ENUM(name) PASS_##name,
    XDP_PASS_REASONS(XDP_REASON_ENUM)
#undef XDP_REASON_ENUM
    PASS_REASONS_END
};

/* Counts a pass: `passes` and the reason's own counter. */
static __always_inline int count_pass(struct xdp_counters *c, __u32 reason)
{
    __u64 *by_reason = &c->misses;

    c->passes++;
    if (reason >= PASS_NONE + 1 && reason < PASS_REASONS_END)
        by_reason[reason - 1]++;
    return XDP_PASS;
}

/* The reason counters follow `passes` without a gap, misses first. */
_Static_assert(__builtin_offsetof(struct xdp_counters, misses) ==
               __builtin_offsetof(struct xdp_counters, passes) + sizeof(__u64),
               "pass reasons follow passes");
_Static_assert(__builtin_offsetof(struct xdp_counters, pass_ip_options) ==
               __builtin_offsetof(struct xdp_counters, misses) +
               (PASS_pass_ip_options - 1) * sizeof(__u64),
               "pass reasons are in enum order");

#endif
