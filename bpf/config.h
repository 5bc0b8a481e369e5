/* config.h - what the daemon sets in the program's read-only data before
 * loading it (skel->rodata->...). The verifier sees the values as constants,
 * so a branch on them costs nothing at run time. */
#ifndef XDPCACHED_BPF_CONFIG_H
#define XDPCACHED_BPF_CONFIG_H

#include "xdp_cache.h"

/* The UDP port the daemon serves, host byte order. */
const volatile __u16 server_port = 11211;
/* Buckets of the cache map - 1: the map has (bucket_mask + 1) *
 * XDP_CACHE_WAYS entries, the bucket count a power of two. */
const volatile __u32 bucket_mask = 0;
/* xdp_hits_stride() of the cache's entries: where each CPU's stripe of
 * the hits map starts. */
const volatile __u32 hits_stride = XDP_CACHE_WAYS;
/* Tests only: when not 0, the program acts as if the driver left it this
 * many bytes of tailroom, to run the paths that drivers with little
 * tailroom take (BPF_PROG_TEST_RUN has plenty). */
const volatile __u32 test_tailroom = 0;

#endif
