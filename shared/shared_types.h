/* shared_types.h - the fixed-size kernel types (__u32, __be16, ...) that the
 * shared headers use, from wherever each side gets them: BPF programs from
 * vmlinux.h, which they include first; the daemon from <linux/types.h>. */
#ifndef XDPCACHED_SHARED_TYPES_H
#define XDPCACHED_SHARED_TYPES_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#endif
