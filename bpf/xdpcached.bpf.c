/* xdpcached.bpf.c - the fast path: answers memcached UDP get/gets from the
 * cache map (see docs/xdp.md). Work in progress: passes everything. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "maps.h"

/* Set by the daemon before loading. */
const volatile __u16 server_port = 11211;  /* host byte order */
const volatile __u32 bucket_mask = 0;      /* buckets - 1 (a power of two) */

SEC("xdp")
int xdpcached(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
