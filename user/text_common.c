/* text_common.c - the parts of the text protocol that its command modules
 * share (proto_text_internal.h): memcached's tokenizer, its number parsing
 * and the reply helpers. Apart from proto_text.c, so that the modules it
 * dispatches to (proto_meta.c, keydump.c) depend on these and not on it. */
#include "proto_text_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void text_resp_start(struct text_request *r)
{
    r->resp_off = r->out->len;
    obuf_resp_start(r->out);
}

void text_reply(struct text_request *r, const char *line)
{
    obuf_truncate(r->out, r->resp_off);
    if (r->noreply)
        return;
    text_resp_start(r);
    obuf_puts(r->out, line);
    obuf_append(r->out, "\r\n", 2);
}

/* ---- tokens and numbers -------------------------------------------------- */

size_t text_tokenize(char *line, struct text_token *tokens, size_t max_tokens)
{
    size_t ntokens = 0;
    size_t len = strlen(line);
    char *start = line, *end = line;

    for (size_t i = 0; i < len; i++, end++) {
        if (*end != ' ')
            continue;
        if (start != end) {
            tokens[ntokens].value = start;
            tokens[ntokens].length = end - start;
            ntokens++;
            *end = '\0';
            if (ntokens == max_tokens - 1) {
                end++;
                start = end;
                break;
            }
        }
        start = end + 1;
    }
    if (start != end) {
        tokens[ntokens].value = start;
        tokens[ntokens].length = end - start;
        ntokens++;
    }
    tokens[ntokens].value = *end == '\0' ? NULL : end;
    tokens[ntokens].length = 0;
    return ntokens + 1;
}

/* The digits must end the token, or be followed by white space. */
static bool number_ends_well(const char *str, const char *end)
{
    return end != str && (*end == '\0' || (*end >= '\t' && *end <= '\r') || *end == ' ');
}

/* memcached's safe_strtoul: 64-bit parse, truncated to 32 bits. */
bool text_parse_u32(const char *str, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(str, &end, 10);
    if (errno == ERANGE || !number_ends_well(str, end))
        return false;
    if ((long)v < 0 && strchr(str, '-'))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* memcached's safe_strtol: a long truncated to 32 bits. */
bool text_parse_i32(const char *str, int32_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(str, &end, 10);
    if (errno == ERANGE || !number_ends_well(str, end))
        return false;
    *out = (int32_t)v;
    return true;
}

/* memcached's safe_strtoull. */
bool text_parse_u64(const char *str, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(str, &end, 10);
    if (errno == ERANGE || !number_ends_well(str, end))
        return false;
    if ((long long)v < 0 && strchr(str, '-'))
        return false;
    *out = v;
    return true;
}

/* memcached's EXPTIME_TO_POSITIVE_TIME + realtime(). */
rel_time_t text_exptime_from_client(int32_t exptime)
{
    return clock_realtime(exptime < 0 ? CLOCK_MAX_RELATIVE_EXPTIME + 1 : exptime);
}
