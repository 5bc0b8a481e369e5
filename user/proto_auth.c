/* proto_auth.c - see proto_auth.h.
 *
 * memcached 1.6.18's gate, reply for reply: a line needs at least five
 * words, the first `set` and the fifth a length (its safe_strtoul), and
 * nothing else is looked at; the data block must end in CRLF; its first two
 * words (split on spaces, as its tokenizer does) are the user and the
 * password, and anything after them is ignored. Two limits memcached does
 * not have keep a stranger from holding memory: a line without a newline
 * after PROTO_TEXT_MAX_LINE bytes closes the connection, as it does for
 * every command but get, and a block longer than -I is refused on its line. */
#include "proto_auth.h"

#include <stdint.h>
#include <string.h>

#include "authfile.h"
#include "settings.h"
#include "stats.h"
#include "text_parse.h"

/* The data block of an attempt, its CRLF included, is at in[0, total). */
static void check_attempt(struct proto_conn *pc, char *in, size_t total, struct obuf *out)
{
    if (in[total - 2] != '\r' || in[total - 1] != '\n') {
        obuf_reply_line(out, "CLIENT_ERROR bad command line termination");
        return;
    }
    in[total - 2] = '\0';
    struct text_token tokens[TEXT_MAX_TOKENS];
    size_t ntokens = text_tokenize(in, strlen(in), tokens, TEXT_MAX_TOKENS);
    if (ntokens < 3) {
        obuf_reply_line(out, "CLIENT_ERROR bad authentication token format");
        return;
    }
    STAT_INC(pc->stats, auth_cmds);
    if (authfile_check(pc->env->auth, tokens[0].value, tokens[0].length, tokens[1].value,
                       tokens[1].length)) {
        pc->authenticated = true;
        obuf_reply_line(out, "STORED");
    } else {
        STAT_INC(pc->stats, auth_errors);
        obuf_reply_line(out, "CLIENT_ERROR authentication failure");
    }
}

/* A whole line at in[0, used): an attempt's `set` line, or refused. */
static void take_line(struct proto_conn *pc, char *in, size_t used, struct obuf *out)
{
    char *end = in + used - 1;
    if (end > in + 1 && end[-1] == '\r')
        end--;
    *end = '\0';
    struct text_token tokens[TEXT_MAX_TOKENS];
    size_t ntokens = text_tokenize(in, strlen(in), tokens, TEXT_MAX_TOKENS);
    uint32_t nvalue;
    if (ntokens < 6 || strcmp(tokens[0].value, "set") != 0 ||
        !text_parse_u32(tokens[4].value, &nvalue) ||
        nvalue > pc->env->settings->item_size_max) {
        obuf_reply_line(out, "CLIENT_ERROR unauthenticated");
        return;
    }
    pc->auth_attempt = true;
    pc->auth_nvalue = nvalue;
}

size_t proto_auth_run(struct proto_conn *pc, char *in, size_t len, struct obuf *out,
                      bool *completed)
{
    pc->need = 0;
    *completed = false;
    if (pc->auth_attempt) {
        size_t total = pc->auth_nvalue + 2;
        if (len < total) {
            pc->need = total;
            return 0;
        }
        pc->auth_attempt = false;
        check_attempt(pc, in, total, out);
        *completed = true;
        return total;
    }
    char *newline = memchr(in, '\n', len);
    if (!newline) {
        pc->close_now = len > PROTO_TEXT_MAX_LINE;
        return 0;
    }
    size_t used = (size_t)(newline - in) + 1;
    take_line(pc, in, used, out);
    *completed = !pc->auth_attempt;
    return used;
}
