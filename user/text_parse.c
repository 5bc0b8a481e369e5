/* text_parse.c - see text_parse.h. The grammar, the error strings and
 * their precedence are memcached 1.6.18's proto_text.c: the same tokenizer
 * (spaces only, at most 24 tokens per pass), the same number parsing
 * (strtoul/strtol with memcached's checks), the same order of checks in
 * each command. */
#include "text_parse.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "watch.h"

#define ERR_BAD_FORMAT "CLIENT_ERROR bad command line format"
#define ERR_EXPTIME "CLIENT_ERROR invalid exptime argument"

/* ---- tokens and numbers -------------------------------------------------- */

size_t text_tokenize(char *line, size_t len, struct text_token *tokens, size_t max_tokens)
{
    size_t ntokens = 0;
    char *start = line, *stop = line + len, *end = stop;

    while (start < stop) {
        char *space = memchr(start, ' ', (size_t)(stop - start));
        if (!space)
            break;
        if (space != start) {
            tokens[ntokens].value = start;
            tokens[ntokens].length = (size_t)(space - start);
            ntokens++;
            *space = '\0';
            if (ntokens == max_tokens - 1) {
                start = end = space + 1;
                break;
            }
        }
        start = space + 1;
    }
    if (start != end) {
        tokens[ntokens].value = start;
        tokens[ntokens].length = (size_t)(end - start);
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

/* memcached's safe_strtod. */
static bool parse_double(const char *str, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(str, &end);
    return errno != ERANGE && number_ends_well(str, end);
}

/* memcached's EXPTIME_TO_POSITIVE_TIME + realtime(). */
rel_time_t text_exptime_from_client(int32_t exptime)
{
    return clock_realtime(exptime < 0 ? CLOCK_MAX_RELATIVE_EXPTIME + 1 : exptime);
}

bool text_data_ok(const char *data, size_t nvalue)
{
    return memcmp(data + nvalue, "\r\n", 2) == 0;
}

/* ---- commands --------------------------------------------------------------- */

static void parse_error(struct text_parsed *p, const char *error)
{
    p->req.type = REQ_ERROR;
    p->req.error = error;
}

/* memcached's set_noreply_maybe: the last token decides. */
static bool take_noreply(struct text_parsed *p)
{
    const struct text_token *last = &p->tokens[p->ntokens - 2];
    if (last->value && strcmp(last->value, "noreply") == 0)
        p->req.noreply = true;
    return p->req.noreply;
}

static void set_key(struct text_parsed *p, const struct text_token *key)
{
    p->req.key = key->value;
    p->req.nkey = key->length;
}

/* get, gets, gat, gats: the keys are tokens from first_key on, and the rest
 * of the line past this tokenizer pass. */
static void parse_retrieval(struct text_parsed *p, bool with_cas, bool touch)
{
    p->req.type = REQ_GET;
    p->req.with_cas = with_cas;
    p->req.touch = touch;
    p->first_key = touch ? 2 : 1;
    if (touch) {
        int32_t exptime;
        if (!text_parse_i32(p->tokens[1].value, &exptime)) {
            parse_error(p, ERR_EXPTIME);
            return;
        }
        p->req.exptime = text_exptime_from_client(exptime);
    }
}

static void parse_get(struct text_parsed *p) { parse_retrieval(p, false, false); }
static void parse_gets(struct text_parsed *p) { parse_retrieval(p, true, false); }
static void parse_gat(struct text_parsed *p) { parse_retrieval(p, false, true); }
static void parse_gats(struct text_parsed *p) { parse_retrieval(p, true, true); }

/* set/add/replace/append/prepend/cas <key> <flags> <exptime> <bytes> [<cas>] [noreply] */
static void parse_storage(struct text_parsed *p, enum store_mode mode)
{
    const struct text_token *t = p->tokens;
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas = 0;

    take_noreply(p);
    if (t[1].length > STORE_KEY_MAX ||
        !(text_parse_u32(t[2].value, &flags) && text_parse_i32(t[3].value, &exptime) &&
          text_parse_i32(t[4].value, &vlen)) ||
        (mode == STORE_CAS && !text_parse_u64(t[5].value, &cas)) ||
        vlen < 0 || vlen > INT_MAX - 2) {
        parse_error(p, ERR_BAD_FORMAT);
        return;
    }
    p->req.type = REQ_STORE;
    p->req.mode = mode;
    set_key(p, &t[1]);
    p->req.flags = flags;
    p->req.exptime = text_exptime_from_client(exptime);
    p->req.cas = cas;
    p->req.nvalue = (size_t)vlen;
}

static void parse_set(struct text_parsed *p) { parse_storage(p, STORE_SET); }
static void parse_add(struct text_parsed *p) { parse_storage(p, STORE_ADD); }
static void parse_replace(struct text_parsed *p) { parse_storage(p, STORE_REPLACE); }
static void parse_append(struct text_parsed *p) { parse_storage(p, STORE_APPEND); }
static void parse_prepend(struct text_parsed *p) { parse_storage(p, STORE_PREPEND); }
static void parse_cas(struct text_parsed *p) { parse_storage(p, STORE_CAS); }

/* incr/decr <key> <delta> [noreply] */
static void parse_delta(struct text_parsed *p, bool incr)
{
    take_noreply(p);
    if (p->tokens[1].length > STORE_KEY_MAX) {
        parse_error(p, ERR_BAD_FORMAT);
        return;
    }
    if (!text_parse_u64(p->tokens[2].value, &p->req.delta)) {
        parse_error(p, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    p->req.type = REQ_DELTA;
    p->req.incr = incr;
    set_key(p, &p->tokens[1]);
}

static void parse_incr(struct text_parsed *p) { parse_delta(p, true); }
static void parse_decr(struct text_parsed *p) { parse_delta(p, false); }

/* delete <key> [0] [noreply]: only the legacy hold time 0 is allowed. */
static void parse_delete(struct text_parsed *p)
{
    if (p->ntokens > 3) {
        bool hold_is_zero = strcmp(p->tokens[2].value, "0") == 0;
        bool noreply = take_noreply(p);
        bool valid = (p->ntokens == 4 && (hold_is_zero || noreply)) ||
                     (p->ntokens == 5 && hold_is_zero && noreply);
        if (!valid) {
            parse_error(p, "CLIENT_ERROR bad command line format.  "
                           "Usage: delete <key> [noreply]");
            return;
        }
    }
    if (p->tokens[1].length > STORE_KEY_MAX) {
        parse_error(p, ERR_BAD_FORMAT);
        return;
    }
    p->req.type = REQ_DELETE;
    set_key(p, &p->tokens[1]);
}

/* touch <key> <exptime> [noreply] */
static void parse_touch(struct text_parsed *p)
{
    int32_t exptime;
    take_noreply(p);
    if (p->tokens[1].length > STORE_KEY_MAX) {
        parse_error(p, ERR_BAD_FORMAT);
        return;
    }
    if (!text_parse_i32(p->tokens[2].value, &exptime)) {
        parse_error(p, ERR_EXPTIME);
        return;
    }
    p->req.type = REQ_TOUCH;
    set_key(p, &p->tokens[1]);
    p->req.exptime = text_exptime_from_client(exptime);
}

/* flush_all [delay] [noreply]: a bad delay is reported after memcached has
 * counted the command and checked that flushing is allowed. */
static void parse_flush_all(struct text_parsed *p)
{
    int32_t delay = 0;
    take_noreply(p);
    p->req.type = REQ_FLUSH;
    if (p->ntokens != (p->req.noreply ? 3u : 2u) && !text_parse_i32(p->tokens[1].value, &delay))
        p->req.arg_error = ERR_EXPTIME;
    p->req.flush_delay = delay;
}

static void parse_version(struct text_parsed *p) { p->req.type = REQ_VERSION; }
static void parse_quit(struct text_parsed *p) { p->req.type = REQ_QUIT; }

/* verbosity <level> [noreply] */
static void parse_verbosity(struct text_parsed *p)
{
    take_noreply(p);
    if (!text_parse_u32(p->tokens[1].value, &p->req.verbosity)) {
        parse_error(p, ERR_BAD_FORMAT);
        return;
    }
    p->req.type = REQ_VERBOSITY;
}

/* cache_memlimit <megabytes> [noreply]: a bad number gets a plain ERROR, as
 * in memcached; the executor checks the range. */
static void parse_cache_memlimit(struct text_parsed *p)
{
    take_noreply(p);
    p->req.type = REQ_CACHE_MEMLIMIT;
    if (!text_parse_u32(p->tokens[1].value, &p->req.memlimit_mb))
        p->req.arg_error = "ERROR";
}

/* shutdown [graceful]: a bad mode is reported once shutdown is known to be
 * enabled. */
static void parse_shutdown(struct text_parsed *p)
{
    p->req.type = REQ_SHUTDOWN;
    if (!(p->ntokens == 2 || (p->ntokens == 3 && strcmp(p->tokens[1].value, "graceful") == 0)))
        p->req.arg_error = "CLIENT_ERROR invalid shutdown mode";
}

/* stats [group [args]]: the group's arguments stay in the tokens. */
static void parse_stats(struct text_parsed *p)
{
    p->req.type = REQ_STATS;
    p->req.group = p->ntokens > 2 ? p->tokens[1].value : "";
}

static void parse_lru_crawler(struct text_parsed *p) { p->req.type = REQ_LRU_CRAWLER; }

/* watch [kind ...]: memcached's names; those of events xdpcached never has
 * (its system events, extstore, the proxy) are taken and stay silent. No
 * kind means fetchers. */
static void parse_watch(struct text_parsed *p)
{
    static const struct { const char *name; unsigned kinds; } names[] = {
        { "fetchers", WATCH_FETCHERS }, { "mutations", WATCH_MUTATIONS },
        { "evictions", WATCH_EVICTIONS }, { "connevents", WATCH_CONNEVENTS },
        { "rawcmds", 0 }, { "sysevents", 0 }, { "proxyreqs", 0 }, { "proxyevents", 0 },
        { "proxyuser", 0 },
    };
    p->req.type = REQ_WATCH;
    p->req.watch_kinds = p->ntokens > 2 ? 0 : WATCH_FETCHERS;
    for (size_t t = 1; t + 1 < p->ntokens; t++) {
        size_t i = 0;
        while (i < sizeof(names) / sizeof(names[0]) && strcmp(p->tokens[t].value, names[i].name))
            i++;
        if (i == sizeof(names) / sizeof(names[0])) {
            parse_error(p, "ERROR");
            return;
        }
        p->req.watch_kinds |= names[i].kinds;
    }
}

/* slabs reassign <src> <dst> (no noreply: memcached takes exactly these
 * tokens), slabs automove 0|1|2 [noreply], slabs automove ratio <r> [noreply] */
static void parse_slabs(struct text_parsed *p)
{
    const struct text_token *t = p->tokens;
    if (p->ntokens == 5 && strcmp(t[1].value, "reassign") == 0) {
        p->req.type = REQ_SLABS_REASSIGN;
        if (!text_parse_i32(t[2].value, &p->req.reassign_src) ||
            !text_parse_i32(t[3].value, &p->req.reassign_dst))
            parse_error(p, ERR_BAD_FORMAT);
        return;
    }
    if (p->ntokens < 4 || strcmp(t[1].value, "automove") != 0) {
        parse_error(p, "ERROR");
        return;
    }
    take_noreply(p);
    if (strcmp(t[2].value, "ratio") == 0) {
        double ratio;
        if (p->ntokens < 5 || !parse_double(t[3].value, &ratio)) {
            parse_error(p, "ERROR");
            return;
        }
    } else {
        uint32_t level;
        if (!text_parse_u32(t[2].value, &level)) {
            parse_error(p, ERR_BAD_FORMAT);
            return;
        }
        if (level > 2) {
            parse_error(p, "ERROR");
            return;
        }
    }
    p->req.type = REQ_TUNING;
}

/* lru tune <hot pct> <warm pct> <hot factor> <warm factor>, lru mode
 * flat|segmented, lru temp_ttl <ttl>, each [noreply]; extra tokens are
 * ignored, as in memcached. */
static void parse_lru(struct text_parsed *p)
{
    const struct text_token *t = p->tokens;
    const char *what = t[1].value;
    take_noreply(p);
    if (strcmp(what, "tune") == 0 && p->ntokens >= 7) {
        uint32_t hot, warm;
        double hot_factor, warm_factor;
        if (!(text_parse_u32(t[2].value, &hot) && text_parse_u32(t[3].value, &warm) &&
              parse_double(t[4].value, &hot_factor) && parse_double(t[5].value, &warm_factor)))
            parse_error(p, "ERROR");
        else if (hot + warm > 80) /* in 32 bits, wrapping, as memcached adds them */
            parse_error(p, "ERROR hot and warm pcts must not exceed 80");
        else if (warm_factor <= 0 || hot_factor <= 0) /* NaN passes, as in memcached */
            parse_error(p, "ERROR hot/warm age factors must be greater than 0");
        else
            p->req.type = REQ_TUNING;
    } else if (strcmp(what, "mode") == 0 && p->ntokens >= 4) {
        if (strcmp(t[2].value, "flat") == 0 || strcmp(t[2].value, "segmented") == 0)
            p->req.type = REQ_TUNING;
        else
            parse_error(p, "ERROR");
    } else if (strcmp(what, "temp_ttl") == 0 && p->ntokens >= 4) {
        int32_t ttl;
        if (text_parse_i32(t[2].value, &ttl))
            p->req.type = REQ_TUNING;
        else
            parse_error(p, "ERROR");
    } else {
        parse_error(p, "ERROR");
    }
}

struct command {
    const char *name;
    size_t name_length;
    size_t min_tokens, max_tokens; /* counted like memcached: with the terminal token */
    void (*parse)(struct text_parsed *p);
};

#define ANY SIZE_MAX
/* The name's length, so that a lookup compares lengths before bytes. */
#define COMMAND(name, min, max, parse) { name, sizeof(name) - 1, min, max, parse }

static const struct command commands[] = {
    COMMAND("get", 3, ANY, parse_get),         COMMAND("gets", 3, ANY, parse_gets),
    COMMAND("gat", 3, ANY, parse_gat),         COMMAND("gats", 3, ANY, parse_gats),
    COMMAND("bget", 3, ANY, parse_get),        /* ancient alias memcached still accepts */
    COMMAND("set", 6, 7, parse_set),           COMMAND("add", 6, 7, parse_add),
    COMMAND("replace", 6, 7, parse_replace),   COMMAND("append", 6, 7, parse_append),
    COMMAND("prepend", 6, 7, parse_prepend),   COMMAND("cas", 7, 8, parse_cas),
    COMMAND("incr", 4, 5, parse_incr),         COMMAND("decr", 4, 5, parse_decr),
    COMMAND("delete", 3, 5, parse_delete),     COMMAND("touch", 4, 5, parse_touch),
    COMMAND("flush_all", 2, 4, parse_flush_all), COMMAND("version", 0, ANY, parse_version),
    COMMAND("quit", 0, ANY, parse_quit),       COMMAND("verbosity", 3, 4, parse_verbosity),
    COMMAND("stats", 0, ANY, parse_stats),     COMMAND("shutdown", 0, ANY, parse_shutdown),
    COMMAND("lru_crawler", 0, ANY, parse_lru_crawler), COMMAND("watch", 0, ANY, parse_watch),
    COMMAND("cache_memlimit", 3, 4, parse_cache_memlimit),
    COMMAND("slabs", 0, ANY, parse_slabs),     COMMAND("lru", 3, ANY, parse_lru),
};

/* Whether a token is the command's name. The names are a few bytes: a loop
 * costs less than the call to memcmp. */
static bool is_command(const struct text_token *name, const struct command *c)
{
    if (name->length != c->name_length)
        return false;
    for (size_t i = 0; i < c->name_length; i++)
        if (name->value[i] != c->name[i])
            return false;
    return true;
}

/* The tokenized line: which command, with which arguments. */
static enum text_parse_status parse_command(struct text_parsed *p)
{
    const struct text_token *name = &p->tokens[0];
    if (p->ntokens < 2 || name->length < 2) {
        parse_error(p, "ERROR");
        return TEXT_PARSED;
    }
    /* memcached's meta commands all have two-letter names starting with m. */
    if (name->length == 2 && name->value[0] == 'm') {
        p->req.type = REQ_META;
        return TEXT_PARSED;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (!is_command(name, c))
            continue;
        if (p->ntokens < c->min_tokens || p->ntokens > c->max_tokens)
            parse_error(p, "ERROR");
        else
            c->parse(p);
        return TEXT_PARSED;
    }
    /* memcached hangs up on what looks like an HTTP request. */
    if (strncmp(p->tokens[p->ntokens - 2].value, "HTTP/", 5) == 0)
        return TEXT_CLOSE;
    parse_error(p, "ERROR");
    return TEXT_PARSED;
}

/* No newline yet in in[0, len): wait, or give up on a line that cannot be a
 * request (memcached only lets get/gets lines grow past 2048 bytes). */
static enum text_parse_status wait_for_line(const char *in, size_t len, struct text_parsed *p)
{
    p->need = 0;
    if (len <= PROTO_TEXT_MAX_LINE)
        return TEXT_NEED_MORE;
    size_t spaces = 0;
    while (spaces < len && in[spaces] == ' ')
        spaces++;
    const char *cmd = in + spaces;
    size_t rest = len - spaces;
    bool is_get = (rest >= 4 && memcmp(cmd, "get ", 4) == 0) ||
                  (rest >= 5 && memcmp(cmd, "gets ", 5) == 0);
    if (spaces > 100 || !is_get || len >= PROTO_TEXT_MAX_GET_LINE)
        return TEXT_CLOSE;
    p->need = len + 1;
    return TEXT_NEED_MORE;
}

enum text_parse_status text_parse(char *in, size_t len, struct text_parsed *p)
{
    char *newline = memchr(in, '\n', len);
    if (!newline)
        return wait_for_line(in, len, p);
    char *end = newline;
    if (end - in > 1 && end[-1] == '\r')
        end--;
    *end = '\0';
    p->req = (struct request){ .type = REQ_ERROR };
    p->line = in;
    p->line_end = strlen(in); /* up to a NUL inside the line, as the tokenizer sees it */
    p->used = (size_t)(newline - in) + 1;
    p->ntokens = text_tokenize(in, p->line_end, p->tokens, TEXT_MAX_TOKENS);
    return parse_command(p);
}
