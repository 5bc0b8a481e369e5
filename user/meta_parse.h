/* meta_parse.h - memcached 1.6's meta commands (mg ms md ma mn me),
 * parsed: a tokenized text line (text_parse.h) to a struct meta_request,
 * or memcached 1.6.18's error for it, in memcached's order of checks.
 *
 * Pure: knows nothing of sockets, connections or the store; writes only
 * into the line (a base64 key, flag b, is decoded in place). */
#ifndef XDPCACHED_META_PARSE_H
#define XDPCACHED_META_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "store.h"
#include "text_parse.h"

/* memcached's MFLAG_MAX_OPT_LENGTH (a command with more tokens, the
 * terminal one included, is refused) and MFLAG_MAX_OPAQUE_LENGTH. */
#define META_MAX_TOKENS 20
#define META_MAX_OPAQUE 32

#define ERR_BAD_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_BAD_TOKEN "CLIENT_ERROR bad token in command line format"
#define ERR_OPAQUE "CLIENT_ERROR opaque token too long"
#define ERR_FLAGS "CLIENT_ERROR invalid or duplicate flag"

/* What the flag tokens asked for (memcached's _meta_flags). */
struct meta_flags {
    bool no_update;          /* u */
    bool vivify;             /* N */
    bool value;              /* v */
    bool invalidate;         /* I */
    bool quiet;              /* q */
    bool has_cas;            /* C */
    bool has_ttl;            /* T */
    bool key_binary;         /* b: the key token was base64 and is decoded now */
    char mode;               /* M's letter, 0 when none */
    rel_time_t exptime;      /* T */
    rel_time_t vivify_exptime; /* N */
    rel_time_t recache_time; /* R */
    uint32_t client_flags;   /* F */
    uint64_t cas;            /* C */
    uint64_t delta;          /* D */
    uint64_t initial;        /* J */
};

/* A parsed meta command. */
struct meta_request {
    char command;            /* g s d a e n */
    struct request req;      /* its key (the line's tokens[1], decoded), quiet as noreply */
    struct meta_flags f;
    const char *error;       /* NULL: run it; else the reply, sent even in quiet mode */
    size_t swallow;          /* ms refused after its length: data bytes to discard */
    /* ms */
    enum store_mode mode;
    size_t nvalue;           /* without the trailing CRLF */
    char returns[4];         /* the return flags O, k, c in request order */
    char opaque[META_MAX_OPAQUE];   /* the O token after its O */
    uint8_t nopaque;
    /* ma */
    bool incr;
};

/* Parses the meta command of a parsed text line (its REQ_META): false with
 * m->error (and m->swallow) set when memcached refuses it. */
bool meta_parse(struct text_parsed *p, struct meta_request *m);

/* memcached's base64 as meta keys use it. decode: in place; false when
 * memcached refuses the text (its length becomes 0). encode: out must hold
 * 4 * ((n + 2) / 3) bytes; returns the length written. */
bool meta_base64_decode(char *text, size_t *len);
size_t meta_base64_encode(const char *bytes, size_t n, char *out);

#endif
