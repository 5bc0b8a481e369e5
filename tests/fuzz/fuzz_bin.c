/* fuzz_bin.c - libFuzzer target for the binary protocol: the input is turned
 * into binary requests (magic 0x80, 24-byte header, body) whose lengths are
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
#include <stdint.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIN_REQUEST_MAGIC 0x80
#define BIN_HEADER_LEN 24

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
    case 0x01: case 0x02: case 0x03:    /* set add replace */
    case 0x11: case 0x12: case 0x13:    /* setq addq replaceq */
        return 8;
    case 0x05: case 0x06:               /* incr decr */
    case 0x15: case 0x16:               /* incrq decrq */
        return 20;
    case 0x1c: case 0x1d: case 0x1e:    /* touch gat gatq */
    case 0x23: case 0x24:               /* gatk gatkq */
        return 4;
    default:
        return 0;
    }
}

static void put_be(uint8_t *dst, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
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

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads one record and appends its request. Header offsets: magic 0,
 * opcode 1, key length 2, extras length 4, data type 5, vbucket 6, body
 * length 8, opaque 12, CAS 16. */
static void put_request(struct bytes *req, struct cursor *c, uint32_t number)
{
    uint8_t hdr[BIN_HEADER_LEN] = { BIN_REQUEST_MAGIC };
    hdr[1] = take_byte(c);
    uint8_t shape = take_byte(c);
    size_t keylen = take_byte(c);
    size_t vallen = take_byte(c);
    size_t extlen = shape & SHAPE_EXTLEN ? take_byte(c) : usual_extlen(hdr[1]);
    int8_t delta = shape & SHAPE_BODYLEN_DELTA ? (int8_t)take_byte(c) : 0;
    uint8_t given_bodylen[4];
    if (shape & SHAPE_BODYLEN)
        take(c, given_bodylen, sizeof(given_bodylen));
    if (shape & SHAPE_MAGIC)
        hdr[0] = take_byte(c);
    if (shape & SHAPE_IDS) {
        take(c, hdr + 5, 3);            /* data type, vbucket */
        take(c, hdr + 12, 4);           /* opaque */
    } else {
        put_be(hdr + 12, number, 4);
    }
    if (shape & SHAPE_CAS)
        take(c, hdr + 16, 8);
    if (shape & SHAPE_KEYLEN_HIGH)
        keylen |= (size_t)take_byte(c) << 8;

    uint32_t bodylen = (uint32_t)(extlen + keylen + vallen) + (uint32_t)(int32_t)delta;
    if (shape & SHAPE_BODYLEN)
        bodylen = be32(given_bodylen);
    put_be(hdr + 2, keylen, 2);
    hdr[4] = (uint8_t)extlen;
    put_be(hdr + 8, bodylen, 4);
    bytes_append(req, hdr, sizeof(hdr));
    put_taken(req, c, extlen + keylen + vallen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bytes req = { 0 };
    struct cursor c = { .data = data, .len = size };
    for (uint32_t number = 0; c.pos < c.len; number++)
        put_request(&req, &c, number);
    harness_deliver(req.data, req.len);
    bytes_free(&req);
    return 0;
}
