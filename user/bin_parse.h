/* bin_parse.h - memcached's binary protocol: the wire layout (the one place
 * it is written down in the daemon) and the parser, from a request's bytes
 * to a struct request (request.h), "need more bytes", "close", or the error
 * memcached 1.6.18 answers with and the bytes it swallows.
 *
 * Pure: knows nothing of sockets, connections or the store. The checks and
 * their order are memcached's dispatch_bin_command: lengths, the key's size,
 * each command's shape of extras, key and body. */
#ifndef XDPCACHED_BIN_PARSE_H
#define XDPCACHED_BIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

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

/* A parsed request; the header's fields are in host order. */
struct bin_parsed {
    struct request req;         /* binary set; noreply: a quiet opcode */
    struct bin_header h;
    uint8_t command;            /* the opcode with quiet forms folded into loud ones */
    bool quiet;                 /* successful replies are suppressed */
    bool with_key;              /* getk, gatk: a hit or miss carries the key */
    bool with_value;            /* the get family but touch: a hit carries the value */
    size_t head;                /* header, extras and key: what the request used */
    size_t need;                /* BIN_NEED_MORE: the bytes needed */
    /* An error (0: none): memcached's reply status, sent even for quiet
     * commands; then `swallow` bytes after the head are discarded, or the
     * connection closes after the reply (close_after). */
    enum bin_status error;
    size_t swallow;
    bool close_after;
};

enum bin_parse_status {
    BIN_PARSED,         /* a request or an error; a storage request's value
                           (req.nvalue bytes) follows its head */
    BIN_NEED_MORE,      /* no whole header, extras and key yet */
    BIN_CLOSE,          /* not a request's magic: memcached closes at once */
};

enum bin_parse_status bin_parse(const char *in, size_t len, struct bin_parsed *p);

#endif
