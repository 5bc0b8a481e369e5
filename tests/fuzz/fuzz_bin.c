/* fuzz_bin.c - libFuzzer target for the binary protocol's parser alone
 * (bin_parse.h; no store, no connection): the input is turned into binary
 * requests (magic 0x80, 24-byte header, body) whose lengths are
 * right unless the input asks otherwise, so that most requests get past
 * the framing to the opcode's own checks.
 *
 * The input is a sequence of records; each becomes one request:
 *   byte 0   opcode
 *   byte 1   shape, a bit for each field the input sets instead of the
 *            harness (the bytes for those fields follow, in bit order):
 *              0x01 extras length (1 byte; default: the opcode's usual one)
 *              0x02 body length = the right one + a signed delta (1 byte)
 *              0x04 body length as given (4 bytes, big-endian)
 *              0x08 magic (1 byte; default 0x80)
 *              0x10 data type (1), vbucket (2), opaque (4) (default 0, 0,
 *                   the record's number)
 *              0x20 CAS (8)
 *              0x40 key length's high byte (1), for keys over 255 bytes
 *   byte 2   key length (low byte)
 *   byte 3   value length
 *   then the extras, key and value bytes, as many as the lengths say.
 * Whatever the input lacks at its end reads as zero bytes. The body sent is
 * always extras + key + value; only the header's body length may lie.
 * tests/fuzz/make_seeds.py writes seeds in this form. */
#include <stddef.h>
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "bin_parse.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum shape_bit {
    SHAPE_EXTLEN = 0x01,
    SHAPE_BODYLEN_DELTA = 0x02,
    SHAPE_BODYLEN = 0x04,
    SHAPE_MAGIC = 0x08,
    SHAPE_IDS = 0x10,
    SHAPE_CAS = 0x20,
    SHAPE_KEYLEN_HIGH = 0x40,
};

/* Reads the input front to back; past its end, zeros. */
struct cursor {
    const uint8_t *data;
    size_t len, pos;
};

static void take(struct cursor *c, uint8_t *dst, size_t n)
{
    size_t have = c->pos < c->len ? c->len - c->pos : 0;
    size_t from_input = n < have ? n : have;
    memcpy(dst, c->data + c->pos, from_input);
    memset(dst + from_input, 0, n - from_input);
    c->pos += from_input;
}

static uint8_t take_byte(struct cursor *c)
{
    uint8_t b;
    take(c, &b, 1);
    return b;
}

/* Extras length memcached requires for each opcode that has extras. */
static uint8_t usual_extlen(uint8_t opcode)
{
    switch (opcode) {
    case BIN_SET: case BIN_ADD: case BIN_REPLACE:
    case BIN_SETQ: case BIN_ADDQ: case BIN_REPLACEQ:
        return 8;
    case BIN_INCREMENT: case BIN_DECREMENT:
    case BIN_INCREMENTQ: case BIN_DECREMENTQ:
        return 20;
    case BIN_TOUCH: case BIN_GAT: case BIN_GATQ:
    case BIN_GATK: case BIN_GATKQ:
        return 4;
    default:
        return 0;
    }
}

/* Copies n bytes of the input (zeros past its end) into the request. */
static void put_taken(struct bytes *req, struct cursor *c, size_t n)
{
    uint8_t chunk[256];
    while (n > 0) {
        size_t part = n < sizeof(chunk) ? n : sizeof(chunk);
        take(c, chunk, part);
        bytes_append(req, chunk, part);
        n -= part;
    }
}

/* Reads one record and appends its request. The header's multi-byte
 * fields taken from the input keep the input's byte order (network order on
 * the wire). */
static void put_request(struct bytes *req, struct cursor *c, uint32_t number)
{
    struct bin_header h = { .magic = BIN_MAGIC_REQUEST };
    h.opcode = take_byte(c);
    uint8_t shape = take_byte(c);
    size_t keylen = take_byte(c);
    size_t vallen = take_byte(c);
    size_t extlen = shape & SHAPE_EXTLEN ? take_byte(c) : usual_extlen(h.opcode);
    int8_t delta = shape & SHAPE_BODYLEN_DELTA ? (int8_t)take_byte(c) : 0;
    uint32_t bodylen = htobe32((uint32_t)(extlen + keylen + vallen) + (uint32_t)(int32_t)delta);
    if (shape & SHAPE_BODYLEN)
        take(c, (uint8_t *)&bodylen, sizeof(bodylen));
    if (shape & SHAPE_MAGIC)
        h.magic = take_byte(c);
    if (shape & SHAPE_IDS) {
        h.datatype = take_byte(c);
        take(c, (uint8_t *)&h.status, sizeof(h.status));   /* the request's vbucket */
        take(c, (uint8_t *)&h.opaque, sizeof(h.opaque));
    } else {
        h.opaque = htobe32(number);
    }
    if (shape & SHAPE_CAS)
        take(c, (uint8_t *)&h.cas, sizeof(h.cas));
    if (shape & SHAPE_KEYLEN_HIGH)
        keylen |= (size_t)take_byte(c) << 8;

    h.keylen = htobe16((uint16_t)keylen);
    h.extlen = (uint8_t)extlen;
    h.bodylen = bodylen;
    bytes_append(req, &h, sizeof(h));
    put_taken(req, c, extlen + keylen + vallen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bytes req = { 0 };
    struct cursor c = { .data = data, .len = size };
    for (uint32_t number = 0; c.pos < c.len; number++)
        put_request(&req, &c, number);
    harness_parse_bin(req.data, req.len);
    bytes_free(&req);
    return 0;
}
