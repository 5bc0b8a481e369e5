/* xdp_pass.bpf.c - passes every packet. Native XDP_TX on a veth only
 * delivers to a peer that has an XDP program too; the tests attach this one
 * to the client's end. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
