/* scratch.h - the program's per-CPU working memory: too big for the 512-byte
 * BPF stack, private to the program (the daemon never maps it), and per CPU
 * so that no two requests ever share it (XDP runs with preemption off).
 *
 * Buffer sizes are powers of two and offsets into them are masked before
 * use: that is how the verifier learns they stay inside, whatever clang
 * does with the comparisons that really bound them. */
#ifndef XDPCACHED_BPF_SCRATCH_H
#define XDPCACHED_BPF_SCRATCH_H

#include "parse.h"
#include "xdp_cache.h"

/* The request payload after the frame header: XDP_REQUEST_MAX bytes. */
#define REQ_BUF 2048
#define REQ_MASK (REQ_BUF - 1)
/* The reply frame is built in out: its headers (Ethernet + VLAN + IPv4 or
 * IPv6 + UDP, 66 bytes at most) end at OUT_HDR_ROOM, where its payload
 * (frame header, VALUE texts, END) starts, so that one store writes the
 * whole frame. Payload offsets are masked with OUT_MASK and a copy into it
 * is at most a text long, so the payload room is twice that; only the
 * first MC_UDP_MAX_DATAGRAM bytes are ever sent. */
#define OUT_HDR_ROOM 128
#define OUT_MASK 2047
#define OUT_BUF (OUT_HDR_ROOM + 2 * (OUT_MASK + 1))
/* A record's text, staged: room for the longest, and for 8-byte words read
 * past its end. */
#define TEXT_BUF 2048
#define TEXT_MASK (TEXT_BUF - 1)

_Static_assert(XDP_REQUEST_MAX <= REQ_BUF, "the request fits its buffer");
_Static_assert(MC_UDP_MAX_DATAGRAM + 8 <= OUT_MASK, "the reply fits its buffer");
_Static_assert(XDP_TEXT_MAX + 8 <= TEXT_BUF, "a text fits its buffer");

/* A key of the request: req[off, off + len), its xdp_key_hash(). */
struct key_ref {
    __u16 off;
    __u16 len;
    __u32 hash;
};

/* mg: v f k s t c O q, each at most once. */
#define MG_FLAGS_MAX 8
#define MG_FLAGS_MASK (MG_FLAGS_MAX - 1)
/* memcached refuses an O token longer than 32 bytes, the O included. */
#define MG_OPAQUE_MAX 31

/* A parsed mg request (its key is keys[0]). */
struct mg_request {
    __u8 flags[MG_FLAGS_MAX];   /* the flag letters, in the request's order */
    __u32 nflags;
    __u16 opaque_off;           /* the O token in req: "O<opaque>" */
    __u16 opaque_len;
    __u8 value;                 /* v: VA with the data, else HD */
};

/* What the main program hands the mg program across the tail call, which
 * keeps nothing but the packet. */
struct mg_handoff {
    struct frame frame;
    __u32 len;                  /* request bytes loaded into req */
    __u8 truncated;             /* the request goes on beyond them */
    __u8 pending;               /* set just before the tail call */
};

/* A record copied out of the values map under its seqlock (lookup.h): a
 * consistent snapshot, which everything after the copy reads instead of
 * the map. */
struct staged_record {
    struct xdp_record head;
    __u8 text[TEXT_BUF];
};

struct scratch {
    /* The request's frame header and payload, loaded in one call. */
    struct mc_udp_header req_hdr;
    __u8 req[REQ_BUF];
    __u8 out[OUT_BUF];
    struct staged_record staged;
    struct key_ref keys[XDP_MULTIGET_MAX];
    __u32 nkeys;
    /* Where each key was found: its bucket and way (lookup.h, mark_used). */
    struct {
        __u32 bucket;
        __u32 way;
    } found[XDP_MULTIGET_MAX];
    /* The reply being built: its text after the frame header so far, and
     * that text's one's complement sum (memory order, unfolded). */
    __u32 out_len;
    __u32 out_sum;
    __u8 with_cas;              /* gets */
    __u64 now;                  /* bpf_ktime_get_ns() once read, else 0 */
    struct mg_handoff handoff;
    struct mg_request mg;
    /* The last source address the allow list let in, on this CPU. */
    __u8 allowed_src[16] __attribute__((aligned(8)));
    __u8 allowed_src_valid;
};

_Static_assert(__builtin_offsetof(struct scratch, req) == sizeof(struct mc_udp_header),
               "the payload follows the frame header, as in the datagram");
_Static_assert(__builtin_offsetof(struct staged_record, text) == XDP_RECORD_HEAD,
               "a record is staged with one copy");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct scratch);
    __uint(max_entries, 1);
} scratch SEC(".maps");

/* Global functions (verified once each, whatever calls them) get the
 * scratch as a pointer that may be NULL for all the verifier knows. */
#define GLOBAL __noinline

#endif
