/* proto_bin.h - memcached's binary protocol: the wire layout (the one place
 * it is written down in the daemon) and the parser/executor.
 *
 * Knows nothing of sockets: the caller hands in the bytes it has read and an
 * output buffer. Status codes, error texts, which replies quiet commands
 * suppress and when the connection closes are memcached 1.6.18's
 * (proto_bin.c there), byte for byte. */
#ifndef XDPCACHED_PROTO_BIN_H
#define XDPCACHED_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obuf.h"
#include "proto.h"

#define BIN_MAGIC_REQUEST 0x80
#define BIN_MAGIC_RESPONSE 0x81
#define BIN_HEADER_LEN 24

/* The 24-byte header of requests and responses; multi-byte fields are big
 * endian on the wire (status is "reserved"/vbucket in requests). */
struct bin_header {
    uint8_t magic;
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t status;
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
} __attribute__((packed));

_Static_assert(sizeof(struct bin_header) == BIN_HEADER_LEN, "binary header is 24 bytes");

enum bin_opcode {
    BIN_GET = 0x00,
    BIN_SET = 0x01,
    BIN_ADD = 0x02,
    BIN_REPLACE = 0x03,
    BIN_DELETE = 0x04,
    BIN_INCREMENT = 0x05,
    BIN_DECREMENT = 0x06,
    BIN_QUIT = 0x07,
    BIN_FLUSH = 0x08,
    BIN_GETQ = 0x09,
    BIN_NOOP = 0x0a,
    BIN_VERSION = 0x0b,
    BIN_GETK = 0x0c,
    BIN_GETKQ = 0x0d,
    BIN_APPEND = 0x0e,
    BIN_PREPEND = 0x0f,
    BIN_STAT = 0x10,
    BIN_SETQ = 0x11,
    BIN_ADDQ = 0x12,
    BIN_REPLACEQ = 0x13,
    BIN_DELETEQ = 0x14,
    BIN_INCREMENTQ = 0x15,
    BIN_DECREMENTQ = 0x16,
    BIN_QUITQ = 0x17,
    BIN_FLUSHQ = 0x18,
    BIN_APPENDQ = 0x19,
    BIN_PREPENDQ = 0x1a,
    BIN_VERBOSITY = 0x1b,   /* defined by the protocol, unknown to memcached 1.6.18 */
    BIN_TOUCH = 0x1c,
    BIN_GAT = 0x1d,
    BIN_GATQ = 0x1e,
    BIN_SASL_LIST_MECHS = 0x20,
    BIN_SASL_AUTH = 0x21,
    BIN_SASL_STEP = 0x22,
    BIN_GATK = 0x23,
    BIN_GATKQ = 0x24,
};

enum bin_status {
    BIN_SUCCESS = 0x00,
    BIN_KEY_ENOENT = 0x01,
    BIN_KEY_EEXISTS = 0x02,
    BIN_E2BIG = 0x03,
    BIN_EINVAL = 0x04,
    BIN_NOT_STORED = 0x05,
    BIN_DELTA_BADVAL = 0x06,
    BIN_AUTH_ERROR = 0x20,
    BIN_UNKNOWN_COMMAND = 0x81,
    BIN_ENOMEM = 0x82,
};

/* Extras of set/add/replace (8 bytes), incr/decr (20), touch/gat (4) and
 * flush (0 or 4) requests. */
#define BIN_EXTLEN_STORE 8
#define BIN_EXTLEN_DELTA 20
#define BIN_EXTLEN_EXPIRY 4
/* An incr/decr expiration that means "no initial value: fail on a miss". */
#define BIN_DELTA_NO_INITIAL 0xffffffffu

/* Runs the binary request at the start of in[0, len) (or discards the bytes
 * a refused request left to swallow), appending its reply to out. Returns
 * the bytes consumed; 0 when the request is incomplete (pc->need then says
 * how many bytes it needs) or the connection must close (pc->close_now).
 * *completed tells whether a request ran. Sets pc->transmit where memcached
 * transmits the queued replies (after errors, noop, quit). */
size_t proto_bin_run(struct proto_conn *pc, const char *in, size_t len, struct obuf *out,
                     bool *completed);

#endif
