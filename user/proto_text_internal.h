/* proto_text_internal.h - the parts of the text protocol that its command
 * modules (proto_text.c, proto_meta.c, keydump.c) share, in text_common.c:
 * memcached's tokenizer, its number parsing, and the reply helpers. Not for
 * other modules: proto_text.h is the API. */
#ifndef XDPCACHED_PROTO_TEXT_INTERNAL_H
#define XDPCACHED_PROTO_TEXT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "obuf.h"
#include "proto.h"

/* memcached's MAX_TOKENS: at most this many tokens (the terminal one
 * included) per tokenizer pass. */
#define TEXT_MAX_TOKENS 24

struct text_token {
    char *value;   /* NUL-terminated; NULL for a terminal token that ends the line */
    size_t length; /* 0 only for the terminal token */
};

/* One request being run. */
struct text_request {
    struct proto_conn *pc;
    struct obuf *out;
    struct text_token tokens[TEXT_MAX_TOKENS];
    size_t ntokens;     /* including the terminal token, as memcached counts */
    char *line;         /* the request's first byte */
    size_t line_end;    /* the length of the line as a string */
    size_t resp_off;    /* where the current response starts in out */
    bool noreply;
};

/* memcached's tokenize_command: splits on single spaces, NUL-terminates each
 * token; after max_tokens - 1 tokens the terminal token points at the rest.
 * Returns the token count, the terminal token included. */
size_t text_tokenize(char *line, struct text_token *tokens, size_t max_tokens);

/* memcached's safe_strtoul (truncated to 32 bits), safe_strtol, safe_strtoull. */
bool text_parse_u32(const char *str, uint32_t *out);
bool text_parse_i32(const char *str, int32_t *out);
bool text_parse_u64(const char *str, uint64_t *out);

/* A client's exptime as a rel_time_t: memcached's EXPTIME_TO_POSITIVE_TIME
 * and realtime(). */
rel_time_t text_exptime_from_client(int32_t exptime);

/* Starts a new response at the end of the output. */
void text_resp_start(struct text_request *r);

/* memcached's out_string(): replaces whatever the current response holds
 * with line + CRLF; with noreply the response is cancelled instead. */
void text_reply(struct text_request *r, const char *line);

#endif
