/* text_parse.h - memcached's text protocol, parsed: request bytes to a
 * struct request (request.h), "need more bytes", or "close the connection".
 *
 * Pure: knows nothing of sockets, connections or the store, and writes only
 * into the line it parses (its tokens are NUL-terminated in place, as
 * memcached's tokenizer does). A malformed line parses to a REQ_ERROR
 * request carrying memcached 1.6.18's reply, in memcached's order of
 * checks; the line (and nothing more) is what an error swallows. */
#ifndef XDPCACHED_TEXT_PARSE_H
#define XDPCACHED_TEXT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "request.h"

/* Longest request line accepted without a newline, except for get/gets whose
 * key lists may be longer (memcached closes the connection otherwise). */
#define PROTO_TEXT_MAX_LINE 2048
/* Longest get/gets line: beyond it the connection is closed. `need` never
 * asks for more than this or than a storage command's line plus its value. */
#define PROTO_TEXT_MAX_GET_LINE (4 * 1024 * 1024)

/* memcached's MAX_TOKENS: at most this many tokens (the terminal one
 * included) per tokenizer pass. */
#define TEXT_MAX_TOKENS 24

struct text_token {
    char *value;   /* NUL-terminated; NULL for a terminal token that ends the line */
    size_t length; /* 0 only for the terminal token */
};

/* A parsed request line. */
struct text_parsed {
    struct request req;
    struct text_token tokens[TEXT_MAX_TOKENS];
    size_t ntokens;     /* including the terminal token, as memcached counts */
    size_t first_key;   /* REQ_GET: the token of its first key */
    char *line;         /* the request's first byte */
    size_t line_end;    /* the length of the line as a string */
    size_t used;        /* the line's bytes, newline included */
    size_t need;        /* TEXT_NEED_MORE: bytes needed at least (0: any more) */
};

enum text_parse_status {
    TEXT_PARSED,        /* a request (maybe REQ_ERROR) of p->used bytes */
    TEXT_NEED_MORE,     /* no whole line yet */
    TEXT_CLOSE,         /* memcached hangs up: an HTTP request, a line too long */
};

/* Parses the request line at the start of in[0, len). A storage command's
 * data block is not part of it: its length is req.nvalue (+ CRLF). */
enum text_parse_status text_parse(char *in, size_t len, struct text_parsed *p);

/* Whether a storage command's data block ends as it must (CRLF after its
 * nvalue bytes); memcached's "bad data chunk" otherwise. */
bool text_data_ok(const char *data, size_t nvalue);

/* memcached's tokenize_command on the string line[0, len) (len is its
 * strlen): splits on single spaces, NUL-terminates each token; after
 * max_tokens - 1 tokens the terminal token points at the rest. Returns the
 * token count, the terminal token included. */
size_t text_tokenize(char *line, size_t len, struct text_token *tokens, size_t max_tokens);

/* memcached's safe_strtoul (truncated to 32 bits), safe_strtol, safe_strtoull. */
bool text_parse_u32(const char *str, uint32_t *out);
bool text_parse_i32(const char *str, int32_t *out);
bool text_parse_u64(const char *str, uint64_t *out);

/* A client's exptime as a rel_time_t: memcached's EXPTIME_TO_POSITIVE_TIME
 * and realtime(). */
rel_time_t text_exptime_from_client(int32_t exptime);

#endif
