/* bin_parse.c - see bin_parse.h. memcached 1.6.18's proto_bin.c quirks
 * kept here: an unknown opcode swallows `bodylen` bytes after its key (so
 * its extras and key are counted twice); SASL opcodes are unknown commands
 * that swallow the body after the key; stat, touch and gat leave any body
 * beyond their key in the stream, where it is read as the next request;
 * verbosity is an unknown command. */
#include "bin_parse.h"

#include <endian.h>
#include <string.h>

#include "clock.h"
#include "store.h"

/* ---- wire helpers ------------------------------------------------------ */

static uint32_t load_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return be32toh(v);
}

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

static void parse_header(const char *in, struct bin_header *h)
{
    memcpy(h, in, sizeof(*h));
    h->keylen = be16toh(h->keylen);
    h->status = be16toh(h->status);
    h->bodylen = be32toh(h->bodylen);
    h->opaque = be32toh(h->opaque);
    h->cas = be64toh(h->cas);
}

/* memcached's realtime() of an unsigned 32-bit expiration field. */
static rel_time_t expiry_of(const uint8_t *field)
{
    return clock_realtime((int64_t)load_be32(field));
}

/* ---- commands ---------------------------------------------------------- */

typedef bool (*shape_fn)(const struct bin_header *h);

/* The shapes of extras, key and body that memcached accepts per command. */
static bool shape_bare(const struct bin_header *h)
{
    return h->extlen == 0 && h->keylen == 0 && h->bodylen == 0;
}

static bool shape_flush(const struct bin_header *h)
{
    return h->keylen == 0 && h->bodylen == h->extlen &&
           (h->extlen == 0 || h->extlen == BIN_EXTLEN_EXPIRY);
}

static bool shape_update(const struct bin_header *h)
{
    return h->extlen == BIN_EXTLEN_STORE && h->keylen != 0 &&
           h->bodylen >= (uint32_t)h->keylen + BIN_EXTLEN_STORE;
}

static bool shape_key_only(const struct bin_header *h)
{
    return h->extlen == 0 && h->keylen > 0 && h->bodylen == h->keylen;
}

static bool shape_delta(const struct bin_header *h)
{
    return h->extlen == BIN_EXTLEN_DELTA && h->keylen > 0 &&
           h->bodylen == (uint32_t)h->keylen + BIN_EXTLEN_DELTA;
}

static bool shape_keyed_value(const struct bin_header *h)
{
    return h->extlen == 0 && h->keylen > 0;
}

static bool shape_stat(const struct bin_header *h)
{
    return h->extlen == 0;
}

static bool shape_touch(const struct bin_header *h)
{
    return h->extlen == BIN_EXTLEN_EXPIRY && h->keylen != 0;
}

/* What a command is: its shape and the request it parses to (REQ_ERROR: a
 * SASL command; REQ_STORE: the body after extras and key is a value). */
struct bin_command {
    shape_fn shape;
    enum request_type type;
};

static const struct bin_command commands[256] = {
    [BIN_GET] = { shape_key_only, REQ_GET },
    [BIN_GETK] = { shape_key_only, REQ_GET },
    [BIN_SET] = { shape_update, REQ_STORE },
    [BIN_ADD] = { shape_update, REQ_STORE },
    [BIN_REPLACE] = { shape_update, REQ_STORE },
    [BIN_APPEND] = { shape_keyed_value, REQ_STORE },
    [BIN_PREPEND] = { shape_keyed_value, REQ_STORE },
    [BIN_DELETE] = { shape_key_only, REQ_DELETE },
    [BIN_INCREMENT] = { shape_delta, REQ_DELTA },
    [BIN_DECREMENT] = { shape_delta, REQ_DELTA },
    [BIN_QUIT] = { shape_bare, REQ_QUIT },
    [BIN_FLUSH] = { shape_flush, REQ_FLUSH },
    [BIN_NOOP] = { shape_bare, REQ_NOOP },
    [BIN_VERSION] = { shape_bare, REQ_VERSION },
    [BIN_STAT] = { shape_stat, REQ_STATS },
    [BIN_TOUCH] = { shape_touch, REQ_GET },
    [BIN_GAT] = { shape_touch, REQ_GET },
    [BIN_GATK] = { shape_touch, REQ_GET },
    /* SASL is not configured: memcached answers its opcodes as unknown. */
    [BIN_SASL_LIST_MECHS] = { shape_bare, REQ_ERROR },
    [BIN_SASL_AUTH] = { shape_keyed_value, REQ_ERROR },
    [BIN_SASL_STEP] = { shape_keyed_value, REQ_ERROR },
};

/* The loud command a quiet opcode stands for, or the opcode itself. */
static uint8_t fold_quiet(uint8_t opcode, bool *quiet)
{
    static const uint8_t loud[256] = {
        [BIN_SETQ] = BIN_SET, [BIN_ADDQ] = BIN_ADD, [BIN_REPLACEQ] = BIN_REPLACE,
        [BIN_DELETEQ] = BIN_DELETE, [BIN_INCREMENTQ] = BIN_INCREMENT,
        [BIN_DECREMENTQ] = BIN_DECREMENT, [BIN_QUITQ] = BIN_QUIT, [BIN_FLUSHQ] = BIN_FLUSH,
        [BIN_APPENDQ] = BIN_APPEND, [BIN_PREPENDQ] = BIN_PREPEND, [BIN_GETQ] = BIN_GET,
        [BIN_GETKQ] = BIN_GETK, [BIN_GATQ] = BIN_GAT, [BIN_GATKQ] = BIN_GATK,
    };
    /* BIN_GET is 0, so "no entry" is told apart by the opcode itself. */
    *quiet = loud[opcode] != 0 || opcode == BIN_GETQ;
    return *quiet ? loud[opcode] : opcode;
}

static void parse_error(struct bin_parsed *p, enum bin_status status, size_t swallow,
                        bool close_after)
{
    p->req.type = REQ_ERROR;
    p->error = status;
    p->swallow = swallow;
    p->close_after = close_after;
}

/* The request's arguments, from its extras (at in) and header. */
static void parse_arguments(struct bin_parsed *p, const uint8_t *extras)
{
    struct request *req = &p->req;
    const struct bin_header *h = &p->h;
    switch (p->command) {
    case BIN_TOUCH: case BIN_GAT: case BIN_GATK:
        req->touch = true;
        req->exptime = expiry_of(extras);
        break;
    case BIN_SET: case BIN_ADD: case BIN_REPLACE:
        req->mode = p->command == BIN_SET ? STORE_SET
                    : p->command == BIN_ADD ? STORE_ADD : STORE_REPLACE;
        req->flags = load_be32(extras);
        req->exptime = expiry_of(extras + 4);
        break;
    case BIN_APPEND: case BIN_PREPEND:
        req->mode = p->command == BIN_APPEND ? STORE_APPEND : STORE_PREPEND;
        break;
    case BIN_DELETE:
        req->compare_cas = h->cas != 0;
        break;
    case BIN_INCREMENT: case BIN_DECREMENT:
        req->incr = p->command == BIN_INCREMENT;
        req->delta = load_be64(extras);
        req->initial = load_be64(extras + 8);
        req->has_initial = load_be32(extras + 16) != BIN_DELTA_NO_INITIAL;
        req->exptime = expiry_of(extras + 16);
        break;
    case BIN_FLUSH:
        req->flush_delay = h->extlen == BIN_EXTLEN_EXPIRY ? (int64_t)load_be32(extras) : 0;
        break;
    }
    p->with_key = p->command == BIN_GETK || p->command == BIN_GATK;
    p->with_value = p->command != BIN_TOUCH;
    if (req->type == REQ_STORE)
        req->nvalue = h->bodylen - h->extlen - h->keylen;
}

/* memcached's dispatch_bin_command, in its order of checks. */
static void parse_command(struct bin_parsed *p, const uint8_t *extras)
{
    const struct bin_header *h = &p->h;
    if (h->keylen > h->bodylen || (uint32_t)h->keylen + h->extlen > h->bodylen) {
        parse_error(p, BIN_UNKNOWN_COMMAND, 0, true);
        return;
    }
    p->command = fold_quiet(h->opcode, &p->quiet);
    const struct bin_command *cmd = &commands[p->command];
    if (h->keylen > STORE_KEY_MAX || (cmd->shape && !cmd->shape(h))) {
        parse_error(p, BIN_EINVAL, 0, true);
    } else if (!cmd->shape) {
        /* memcached swallows bodylen bytes after the extras and key. */
        parse_error(p, BIN_UNKNOWN_COMMAND, h->bodylen, false);
    } else if (cmd->type == REQ_ERROR) {
        parse_error(p, BIN_UNKNOWN_COMMAND, h->bodylen - h->keylen, false); /* SASL */
    } else {
        p->req.type = cmd->type;
        p->req.noreply = p->quiet;
        p->req.cas = h->cas;
        parse_arguments(p, extras);
    }
}

enum bin_parse_status bin_parse(const char *in, size_t len, struct bin_parsed *p)
{
    if (len < BIN_HEADER_LEN) {
        p->need = BIN_HEADER_LEN;
        return BIN_NEED_MORE;
    }
    parse_header(in, &p->h);
    if (p->h.magic != BIN_MAGIC_REQUEST)
        return BIN_CLOSE;
    p->head = BIN_HEADER_LEN + p->h.extlen + p->h.keylen;
    if (len < p->head) {
        p->need = p->head;
        return BIN_NEED_MORE;
    }
    p->req = (struct request){
        .binary = true, .key = in + BIN_HEADER_LEN + p->h.extlen, .nkey = p->h.keylen,
    };
    p->command = p->h.opcode;
    p->quiet = p->with_key = p->with_value = p->close_after = false;
    p->error = BIN_SUCCESS;
    p->swallow = 0;
    parse_command(p, (const uint8_t *)in + BIN_HEADER_LEN);
    return BIN_PARSED;
}
