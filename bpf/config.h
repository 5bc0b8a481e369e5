/* config.h - what the daemon sets in the program's read-only data before
 * loading it (skel->rodata->...). The verifier sees the values as constants,
 * so a branch on them costs nothing at run time. */
#ifndef XDPCACHED_BPF_CONFIG_H
#define XDPCACHED_BPF_CONFIG_H

#include "xdp_cache.h"

/* The UDP port the daemon serves, host byte order. */
const volatile __u16 server_port = 11211;
/* Buckets of the index map - 1, the bucket count a power of two. */
const volatile __u32 bucket_mask = 0;
/* Chunks in the values map: no record read goes past them. */
const volatile __u32 value_chunks = 1;
/* Tests only: when not 0, the program acts as if the driver left it this
 * many bytes of tailroom, to run the paths that drivers with little
 * tailroom take (BPF_PROG_TEST_RUN has plenty). */
const volatile __u32 test_tailroom = 0;

#endif
