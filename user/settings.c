/* settings.c - memcached's command line: defaults, parsing, `stats settings`.
 *
 * Two tables describe every flag: flag_table those xdpcached implements,
 * foreign_flags memcached's others, which are accepted with a notice (they
 * tune memcached internals) or refused by name (features not implemented).
 * getopt_long's option array, its short option string and the -h text are
 * all built from them, so they cannot disagree. -o sub-options work the same
 * way. --config-file is expanded into the arguments before parsing. */
#include "settings.h"
#include "conffile.h"
#include "stats.h"
#include "xdp_cache.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sysexits.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define STRINGIFY(x) #x
#define STR(x) STRINGIFY(x)     /* a macro's value as a string literal */

/* Defaults and limits, shared by settings_init, the checks and the -h text. */
#define DEFAULT_TCP_PORT        11211
#define DEFAULT_UDP_PORT        0       /* off, as in memcached >= 1.5.6 */
#define DEFAULT_MEMORY_MB       64
#define DEFAULT_MAXCONNS        1024
#define DEFAULT_THREADS         4
#define DEFAULT_REQS_PER_EVENT  20
#define DEFAULT_BACKLOG         1024
#define DEFAULT_ITEM_SIZE_MB    1
#define ITEM_SIZE_MIN_KB        1
#define ITEM_SIZE_MAX_MB        1024
#define THREADS_RECOMMENDED_MAX 64      /* memcached warns above this */
#define THREADS_MAX             1024
#define HASHPOWER_MIN           12      /* memcached's accepted range */
#define HASHPOWER_MAX           32
#define PORT_MAX                65535
/* W2's 1,000,000 Zipf keys: a quarter of them answer 90% of the gets. */
#define DEFAULT_XDP_ENTRIES     262144
#define XDP_ENTRIES_MAX         16777216
#define DEFAULT_XDP_MEMORY_MB   64
#define XDP_MEMORY_MAX_MB       65536    /* 2^30 chunks of 64 bytes */
#define DEFAULT_XDP_MAX_VALUE   1024
#define DEFAULT_BUFFER_MEMORY_MB  32
/* The largest value whose get reply fits one datagram: with a one-byte key,
 * flags 0 and no CAS, "VALUE k 0 1369\r\n" <value> "\r\nEND\r\n". */
#define XDP_MAX_VALUE_LIMIT     1369

_Static_assert(XDP_MAX_VALUE_LIMIT + sizeof("VALUE k 0 1369\r\n\r\n" XDP_END) - 1
               == MC_UDP_MAX_DATA, "XDP_MAX_VALUE_LIMIT fills one datagram");

#define KB ((size_t)1 << 10)
#define MB ((size_t)1 << 20)

/* settings_parse's "the server should run" result; also "go on parsing". */
#define KEEP_GOING (-1)

/* Where -h starts each flag's description, as memcached's usage() does. */
#define HELP_COLUMN 26

/* What getopt_long returns for the options without a short form: above
 * every character, so they cannot be typed as one. */
enum {
    OPT_XDP = UCHAR_MAX + 1,
    OPT_XDP_IFACE,
    OPT_XDP_MODE,
    OPT_XDP_ENTRIES,
    OPT_XDP_MEMORY,
    OPT_XDP_MAX_VALUE,
    OPT_UDP_ALLOW,
    OPT_METRICS_LISTEN,
    OPT_CPU_LIST,
    OPT_CONFIG_FILE,
    OPT_BUFFER_MEMORY,
};

struct flag {
    int letter;             /* short option (or an OPT_ code), and what
                               getopt_long returns */
    const char *long_name;  /* memcached's long option; NULL if it has none */
    const char *arg;        /* value placeholder for -h; NULL: takes no value */
    const char *help;       /* -h text, lines split by '\n'; in
                               foreign_flags, why it is ignored or refused */
};

/* What xdpcached does with a memcached flag it does not implement. */
enum foreign_kind {
    FOREIGN_IGNORED,    /* tunes a memcached internal xdpcached does not
                           have: accepted with one notice line */
    FOREIGN_REFUSED,    /* would change behaviour */
};

struct foreign_flag {
    struct flag flag;
    enum foreign_kind kind;
};

static const struct flag flag_table[] = {
    { 'p', "port", "<num>",
      "TCP port to listen on (default: " STR(DEFAULT_TCP_PORT) ", 0: off,\n"
      "-1: any free port)" },
    { 'U', "udp-port", "<num>",
      "UDP port to listen on (default: " STR(DEFAULT_UDP_PORT) ", off; -1: any\n"
      "free port); without -p, TCP listens on this port too" },
    { 'A', "enable-shutdown", NULL, "enable ascii \"shutdown\" command" },
    { 'l', "listen", "<addr>",
      "interface to listen on (default: INADDR_ANY);\n"
      "repeatable, comma separated: host, host:port,\n"
      "[ipv6addr] or [ipv6addr]:port; * is every interface" },
    { 'u', "user", "<user>",
      "assume identity of <user> (only when run as root)" },
    { 'm', "memory-limit", "<num>",
      "item memory in megabytes (default: " STR(DEFAULT_MEMORY_MB) ")" },
    { 'M', "disable-evictions", NULL,
      "return error on memory exhausted instead of evicting" },
    { 'c', "conn-limit", "<num>",
      "max simultaneous connections (default: " STR(DEFAULT_MAXCONNS) ")" },
    { 'v', "verbose", NULL, "verbose; repeat (-vv, -vvv) for more detail" },
    { 'h', "help", NULL, "print this help and exit" },
    { 'V', "version", NULL, "print version and exit" },
    { 'P', "pidfile", "<file>", "save PID in <file>" },
    { 's', "unix-socket", "<file>",
      "UNIX socket to listen on (disables network support)" },
    { 'a', "unix-mask", "<mask>",
      "access mask for UNIX socket, in octal (default: 700)" },
    { 'W', "disable-watch", NULL, "answer `watch` with an error" },
    { 'Y', "auth-file", "<file>",
      "clients must authenticate as a user:password line of <file>\n"
      "(ASCII protocol only, no UDP; SIGHUP reads it again)" },
    { 't', "threads", "<num>",
      "number of worker threads (default: " STR(DEFAULT_THREADS)
      ", max: " STR(THREADS_MAX) ")" },
    { 'R', "max-reqs-per-event", "<num>",
      "maximum number of requests per event, limits the\n"
      "requests processed per connection to prevent\n"
      "starvation (default: " STR(DEFAULT_REQS_PER_EVENT) ")" },
    { 'C', "disable-cas", NULL, "disable use of CAS" },
    { 'b', "listen-backlog", "<num>",
      "set the backlog queue limit (default: " STR(DEFAULT_BACKLOG) ")" },
    { 'I', "max-item-size", "<num>",
      "adjusts max item size: bytes, or a k or m suffix\n"
      "(default: " STR(DEFAULT_ITEM_SIZE_MB) "m, min: " STR(ITEM_SIZE_MIN_KB)
      "k, max: " STR(ITEM_SIZE_MAX_MB) "m, at most half of -m)" },
    { 'F', "disable-flush-all", NULL, "disable flush_all command" },
    { OPT_XDP, "xdp", "<on|off>",
      "answer hot UDP gets in XDP, before the kernel's\n"
      "network stack (default: on; needs --xdp-iface)" },
    { OPT_XDP_IFACE, "xdp-iface", "<if>",
      "network interface to attach the XDP fast path\n"
      "to; repeatable (default: none, no fast path)" },
    { OPT_XDP_MODE, "xdp-mode", "<mode>",
      "native (in the driver), generic (any driver,\n"
      "slower) or auto: native, else generic\n"
      "(default: auto)" },
    { OPT_XDP_ENTRIES, "xdp-entries", "<num>",
      "keys the fast-path cache holds (default: "
      STR(DEFAULT_XDP_ENTRIES) ",\nmax: " STR(XDP_ENTRIES_MAX) ")" },
    { OPT_XDP_MEMORY, "xdp-memory", "<mb>",
      "megabytes for the fast-path cache's replies\n"
      "(default: " STR(DEFAULT_XDP_MEMORY_MB) ", max: " STR(XDP_MEMORY_MAX_MB) ")" },
    { OPT_XDP_MAX_VALUE, "xdp-max-value", "<bytes>",
      "largest value the fast path serves\n"
      "(default: " STR(DEFAULT_XDP_MAX_VALUE) ", max: "
      STR(XDP_MAX_VALUE_LIMIT) ", one datagram)" },
    { OPT_UDP_ALLOW, "udp-allow", "<cidrs>",
      "sources allowed to use UDP: comma separated\n"
      "IPv4/IPv6 networks, repeatable; others are\n"
      "dropped unanswered (default: 127.0.0.0/8, ::1\n"
      "and the subnets of the --xdp-iface interfaces)" },
    { 'd', "daemon", NULL, "run as a daemon (in the background)" },
    { 'r', "enable-coredumps", NULL, "maximize core file limit" },
    { 'k', "lock-memory", NULL,
      "lock down all paged memory (a warning, not an\n"
      "error, when the limit does not allow it)" },
    { 'B', "protocol", "<name>",
      "protocol - one of ascii, binary, or auto\n"
      "(default: auto-negotiate)" },
    { 'X', "disable-dumping", NULL,
      "disable stats cachedump and lru_crawler metadump" },
    { 'D', NULL, "<char>",
      "use <char> as the delimiter between key prefixes\n"
      "and IDs in `stats detail`, and turn it on\n"
      "(default: \":\", off)" },
    { OPT_METRICS_LISTEN, "metrics-listen", "<addr:port>",
      "serve Prometheus metrics over HTTP at\n"
      "addr:port, [ipv6]:port (default: off)" },
    { OPT_CPU_LIST, "cpu-list", "<cpus>",
      "pin worker threads to these CPUs, one per CPU\n"
      "in order, e.g. 2-5 or 1,3,5 (default: unpinned)" },
    { OPT_CONFIG_FILE, "config-file", "<file>",
      "read flags from <file> first, one per line as in\n"
      "memcached.conf ('#' comments); the command line's\n"
      "flags come after it. Spelled in full" },
    { OPT_BUFFER_MEMORY, "buffer-memory", "<num>",
      "megabytes all connections together may hold in\n"
      "buffers and unsent replies; a connection over\n"
      "its share is not read until it drains\n"
      "(default: " STR(DEFAULT_BUFFER_MEMORY_MB) ")" },
    { 'o', "extended", "<opts>", "comma separated list of extended options:" },
};

static const struct foreign_flag foreign_flags[] = {
    /* memcached 1.6 flags for its internals: accepted, a notice, no effect */
    { { 'f', "slab-growth-factor", "<num>", "tunes memcached's slab classes" },
      FOREIGN_IGNORED },
    { { 'n', "slab-min-size", "<bytes>", "tunes memcached's slab classes" },
      FOREIGN_IGNORED },
    { { 'L', "enable-largepages", NULL, "tunes memcached's slab preallocation" },
      FOREIGN_IGNORED },
    { { 'N', "napi-ids", "<num>", "tunes memcached's thread choice by NAPI ID" },
      FOREIGN_IGNORED },
    /* memcached 1.6 flags that would change behaviour: refused */
    { { 'i', "license", NULL, "memcached's license text" }, FOREIGN_REFUSED },
    { { 'S', "enable-sasl", NULL, "SASL authentication" }, FOREIGN_REFUSED },
    { { 'e', "memory-file", "<file>", "a restartable cache in a memory file" },
      FOREIGN_REFUSED },
    { { 'Z', "enable-ssl", NULL, "TLS" }, FOREIGN_REFUSED },
};

/* Flags whose value is a plain number stored in an int member. */
struct int_flag {
    int letter;
    size_t field;           /* offsetof the int in struct settings */
    long long min, max;
};

static const struct int_flag int_flags[] = {
    /* -1: a free port the kernel picks, as in memcached */
    { 'p', offsetof(struct settings, port), -1, PORT_MAX },
    { 'U', offsetof(struct settings, udpport), -1, PORT_MAX },
    { 'c', offsetof(struct settings, maxconns), 1, INT_MAX },
    { 't', offsetof(struct settings, num_threads), 1, THREADS_MAX },
    { 'R', offsetof(struct settings, reqs_per_event), 1, INT_MAX },
    { 'b', offsetof(struct settings, backlog), 1, INT_MAX },
};

enum suboption_kind {
    SUBOPTION_SWITCH,       /* bare name: sets a bool */
    SUBOPTION_NUMBER,       /* name=N: sets an unsigned within [min, max] */
};

struct suboption {
    const char *name;
    enum suboption_kind kind;
    size_t field;           /* offsetof the bool or unsigned in struct settings */
    bool switch_to;         /* SUBOPTION_SWITCH: the value it stores */
    long long min, max;     /* SUBOPTION_NUMBER: accepted range */
    const char *help;       /* -h text, lines split by '\n' */
};

static const struct suboption suboption_table[] = {
    { "maxconns_fast", SUBOPTION_SWITCH,
      offsetof(struct settings, maxconns_fast), true, 0, 0,
      "immediately close new connections after limit\n(default: on)" },
    { "no_maxconns_fast", SUBOPTION_SWITCH,
      offsetof(struct settings, maxconns_fast), false, 0, 0,
      "turn maxconns_fast off" },
    { "hashpower", SUBOPTION_NUMBER,
      offsetof(struct settings, hashpower_init), false,
      HASHPOWER_MIN, HASHPOWER_MAX,
      "log2 of the initial hash table size, "
      STR(HASHPOWER_MIN) " to " STR(HASHPOWER_MAX) "\n"
      "(default: 0, the store's own choice);\n"
      "set based on \"STAT hash_power_level\"" },
    { "idle_timeout", SUBOPTION_NUMBER,
      offsetof(struct settings, idle_timeout), false, 0, INT_MAX,
      "timeout for idle connections in seconds\n(default: 0, no timeout)" },
    { "watcher_logbuf_size", SUBOPTION_NUMBER,
      offsetof(struct settings, watcher_logbuf_kb), false, 1, 1024 * 1024,
      "kilobytes of log lines a `watch` connection may\nhave waiting (default: 256)" },
    { "lru_crawler", SUBOPTION_SWITCH,
      offsetof(struct settings, lru_crawler), true, 0, 0,
      "reclaim expired items in the background\n(default: on)" },
    { "no_lru_crawler", SUBOPTION_SWITCH,
      offsetof(struct settings, lru_crawler), false, 0, 0,
      "turn lru_crawler off" },
};

/* memcached 1.6 sub-options that tune its internals (slab allocator, LRU
 * maintainer and crawler, hash function, buffers, logging): accepted, with
 * any value, and a notice. */
static const char *const ignored_suboptions[] = {
    "no_hashexpand", "slab_reassign", "no_slab_reassign", "slab_automove",
    "no_slab_automove", "slab_automove_ratio", "slab_automove_window",
    "slab_automove_freeratio", "tail_repair_time", "hash_algorithm",
    "lru_crawler_sleep", "lru_crawler_tocrawl", "lru_maintainer",
    "no_lru_maintainer", "hot_lru_pct", "warm_lru_pct", "hot_max_factor",
    "warm_max_factor", "temporary_ttl",
    "worker_logbuf_size", "slab_sizes", "slab_chunk_max", "track_sizes",
    "no_inline_ascii_resp", "inline_ascii_resp", "modern", "no_modern",
    "no_chunked_items", "drop_privileges", "no_drop_privileges",
    "relaxed_privileges", "resp_obj_mem_limit", "read_buf_mem_limit",
};

/* memcached 1.6 sub-option families (TLS, extstore, proxy builds) and
 * socket marks that would change behaviour: refused by name. */
static const char *const refused_suboption_prefixes[] = {
    "ssl_", "ext_", "proxy_", "sock_cookie_id",
};

/* A piece of a longer string, not NUL-terminated (an -l or -o list item). */
struct span {
    const char *text;
    int len;
};

struct parse {
    struct settings *s;
    FILE *out, *err;
    bool tcp_port_given, udp_port_given, threads_given, protocol_given;
};

struct store_config settings_store_config(const struct settings *s)
{
    return (struct store_config){
        .mem_limit = s->maxbytes,
        .item_size_max = s->item_size_max,
        .use_cas = s->use_cas,
        .evict = s->evict_to_free,
        .hashpower = s->hashpower_init,
        .reclaim_expired = s->lru_crawler,
    };
}

void settings_init(struct settings *s)
{
    memset(s, 0, sizeof *s);
    s->port = DEFAULT_TCP_PORT;
    s->udpport = DEFAULT_UDP_PORT;
    s->maxbytes = (size_t)DEFAULT_MEMORY_MB * MB;
    s->maxconns = DEFAULT_MAXCONNS;
    s->num_threads = DEFAULT_THREADS;
    s->use_cas = true;
    s->item_size_max = (size_t)DEFAULT_ITEM_SIZE_MB * MB;
    s->evict_to_free = true;
    s->reqs_per_event = DEFAULT_REQS_PER_EVENT;
    s->backlog = DEFAULT_BACKLOG;
    s->unix_mask = 0700;
    s->watch_enabled = true;
    s->watcher_logbuf_kb = 256;
    s->flush_enabled = true;
    s->maxconns_fast = true;
    s->lru_crawler = true;
    s->dump_enabled = true;
    s->prefix_delimiter = ':';
    s->metrics_listen.port = -1;
    s->xdp = true;
    s->xdp_mode = SETTINGS_XDP_AUTO;
    s->xdp_entries = DEFAULT_XDP_ENTRIES;
    s->xdp_memory = (size_t)DEFAULT_XDP_MEMORY_MB * MB;
    s->xdp_max_value = DEFAULT_XDP_MAX_VALUE;
    s->buffer_memory = (size_t)DEFAULT_BUFFER_MEMORY_MB * MB;
}

static struct span whole(const char *text)
{
    return (struct span){ text, (int)strlen(text) };
}

static bool span_is(struct span s, const char *word)
{
    return (size_t)s.len == strlen(word) && memcmp(s.text, word, s.len) == 0;
}

static const struct foreign_flag *find_foreign_flag(int letter)
{
    for (size_t i = 0; i < ARRAY_SIZE(foreign_flags); i++)
        if (foreign_flags[i].flag.letter == letter)
            return &foreign_flags[i];
    return NULL;
}

static const struct flag *find_flag(int letter)
{
    for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++)
        if (flag_table[i].letter == letter)
            return &flag_table[i];
    const struct foreign_flag *foreign = find_foreign_flag(letter);
    return foreign ? &foreign->flag : NULL;
}

static bool has_short_form(const struct flag *f)
{
    return f->letter <= UCHAR_MAX;
}

/* memcached's exit code for a bad flag: 64 (EX_USAGE) for -I and -B,
 * whose checks it runs after reading the command line, 1 for the others. */
static int exit_code_for(int letter)
{
    return letter == 'I' || letter == 'B' ? EX_USAGE : EXIT_FAILURE;
}

/* Writes one line "xdpcached: -x/--long<message>" (or "--long<message>")
 * to err (no flag part when letter is 0) and returns memcached's exit
 * code for a bad flag. */
__attribute__((format(printf, 3, 4)))
static int refuse(FILE *err, int letter, const char *fmt, ...)
{
    const struct flag *f = find_flag(letter);
    fputs("xdpcached: ", err);
    if (f != NULL && !has_short_form(f))
        fprintf(err, "--%s", f->long_name);
    else if (f != NULL)
        fprintf(err, "-%c%s%s", f->letter, f->long_name ? "/--" : "",
                f->long_name ? f->long_name : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputc('\n', err);
    return exit_code_for(letter);
}

/* Reads all of text as a decimal integer with an optional '-'. Rejects
 * spaces, '+' and trailing junk, which atoi or strtol would accept.
 * Saturates at LLONG_MAX: every caller's range is far below it. */
static bool parse_decimal(struct span text, long long *value)
{
    bool negative = text.len > 0 && text.text[0] == '-';
    int i = negative;
    if (i == text.len)
        return false;
    long long magnitude = 0;
    for (; i < text.len; i++) {
        if (!isdigit((unsigned char)text.text[i]))
            return false;
        int digit = text.text[i] - '0';
        magnitude = magnitude > (LLONG_MAX - digit) / 10
                  ? LLONG_MAX : magnitude * 10 + digit;
    }
    *value = negative ? -magnitude : magnitude;
    return true;
}

/* Parses number as an integer within [min, max]. Otherwise writes why,
 * naming the flag and quoting shown (what the user typed around number),
 * and returns false. */
static bool parse_ranged(FILE *err, int letter, struct span shown,
                         struct span number, long long min, long long max,
                         long long *value)
{
    if (!parse_decimal(number, value)) {
        refuse(err, letter, " '%.*s': not a number", shown.len, shown.text);
        return false;
    }
    if (*value >= min && *value <= max)
        return true;
    if (*value < min && max == INT_MAX)     /* no need to quote INT_MAX */
        refuse(err, letter, " '%.*s': must be at least %lld",
               shown.len, shown.text, min);
    else
        refuse(err, letter, " '%.*s': must be between %lld and %lld",
               shown.len, shown.text, min, max);
    return false;
}

static int set_int_flag(struct parse *p, int letter, const char *arg)
{
    const struct int_flag *f = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(int_flags) && f == NULL; i++)
        if (int_flags[i].letter == letter)
            f = &int_flags[i];
    long long value;
    if (!parse_ranged(p->err, letter, whole(arg), whole(arg), f->min, f->max,
                      &value))
        return exit_code_for(letter);
    *(int *)((char *)p->s + f->field) = (int)value;
    return KEEP_GOING;
}

/* memcached accepts any thread count but warns above 64; so do we, up to a
 * hard limit that keeps a typo from starting a million threads. */
static int set_threads(struct parse *p, const char *arg)
{
    int rc = set_int_flag(p, 't', arg);
    if (rc == KEEP_GOING && p->s->num_threads > THREADS_RECOMMENDED_MAX)
        fprintf(p->err, "xdpcached: warning: -t/--threads %d: more than "
                STR(THREADS_RECOMMENDED_MAX) " worker threads is not "
                "recommended; use at most one per CPU core\n",
                p->s->num_threads);
    return rc;
}

/* -m: megabytes. A trailing m or M is accepted because memcached's atoi()
 * reads "64m" as 64; other suffixes are refused because memcached would
 * misread them (it takes "1g" as 1 MB). */
static int set_memory_limit(struct parse *p, const char *arg)
{
    struct span number = whole(arg);
    if (number.len > 0 && tolower((unsigned char)arg[number.len - 1]) == 'm')
        number.len--;
    long long megabytes;
    if (!parse_ranged(p->err, 'm', whole(arg), number, 1,
                      (long long)(SIZE_MAX / MB), &megabytes))
        return exit_code_for('m');
    p->s->maxbytes = (size_t)megabytes * MB;
    return KEEP_GOING;
}

/* -I: bytes, or kilobytes / megabytes with a k / m suffix (either case).
 * Half of -m is checked once all flags are read, as memcached does. */
static int set_item_size(struct parse *p, const char *arg)
{
    const size_t min = ITEM_SIZE_MIN_KB * KB, max = ITEM_SIZE_MAX_MB * MB;
    struct span number = whole(arg);
    size_t unit = 1;
    int suffix = number.len > 0 ? tolower((unsigned char)arg[number.len - 1])
                                : 0;
    if (suffix == 'k' || suffix == 'm') {
        unit = suffix == 'k' ? KB : MB;
        number.len--;
    }
    long long count;
    if (!parse_decimal(number, &count))
        return refuse(p->err, 'I', " '%s': not a size (bytes, or a number "
                      "with a k or m suffix)", arg);
    /* the maximum is checked before multiplying, so nothing overflows */
    if (count >= 0 && (size_t)count > max / unit)
        return refuse(p->err, 'I', " '%s': above the maximum of "
                      STR(ITEM_SIZE_MAX_MB) "m", arg);
    if (count < 0 || (size_t)count * unit < min)
        return refuse(p->err, 'I', " '%s': below the minimum of "
                      STR(ITEM_SIZE_MIN_KB) "k", arg);
    p->s->item_size_max = (size_t)count * unit;
    return KEEP_GOING;
}

static int set_string_flag(struct parse *p, int letter, const char *arg,
                           const char **field)
{
    if (arg[0] == '\0')
        return refuse(p->err, letter, ": empty value");
    *field = arg;
    return KEEP_GOING;
}

/* -s: the path must fit a sockaddr_un (memcached asserts that it does). */
static int set_socket_path(struct parse *p, const char *arg)
{
    if (strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return refuse(p->err, 's', " '%s': longer than a unix socket path can be (%zu bytes)",
                      arg, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    return set_string_flag(p, 's', arg, &p->s->socketpath);
}

/* -a: octal permission bits, as chmod takes them. memcached reads any
 * text with strtol(.., 8), so "abc" would be mask 0 there. */
static int set_unix_mask(struct parse *p, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long mask = strtoul(arg, &end, 8);
    if (!isdigit((unsigned char)arg[0]) || *end != '\0' || errno || mask > 0777)
        return refuse(p->err, 'a', " '%s': must be an octal mask from 0 to 777", arg);
    p->s->unix_mask = (unsigned)mask;
    return KEEP_GOING;
}

/* --xdp on|off */
static int set_xdp_switch(struct parse *p, const char *arg)
{
    if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
        return refuse(p->err, OPT_XDP, " '%s': must be on or off", arg);
    p->s->xdp = strcmp(arg, "on") == 0;
    return KEEP_GOING;
}

/* --xdp-iface: a name the kernel would accept (its dev_valid_name()); that
 * the interface exists is found out when the program is attached, where a
 * failure only turns the fast path off. Repeats are skipped. */
static int add_xdp_iface(struct parse *p, const char *arg)
{
    struct settings *s = p->s;
    size_t len = strlen(arg);
    if (len == 0 || strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0 ||
        strpbrk(arg, "/: \t\n\v\f\r") != NULL)
        return refuse(p->err, OPT_XDP_IFACE, " '%s': not an interface name",
                      arg);
    if (len >= IF_NAMESIZE)
        return refuse(p->err, OPT_XDP_IFACE, " '%s': interface names have "
                      "at most %d bytes", arg, IF_NAMESIZE - 1);
    for (unsigned i = 0; i < s->nxdp_ifaces; i++)
        if (strcmp(s->xdp_ifaces[i], arg) == 0)
            return KEEP_GOING;
    if (s->nxdp_ifaces == SETTINGS_MAX_XDP_IFACES)
        return refuse(p->err, OPT_XDP_IFACE, " '%s': too many interfaces (at "
                      "most " STR(SETTINGS_MAX_XDP_IFACES) ")", arg);
    memcpy(s->xdp_ifaces[s->nxdp_ifaces++], arg, len + 1);
    return KEEP_GOING;
}

static int set_xdp_mode(struct parse *p, const char *arg)
{
    static const char *const names[] = {
        [SETTINGS_XDP_AUTO] = "auto",
        [SETTINGS_XDP_NATIVE] = "native",
        [SETTINGS_XDP_GENERIC] = "generic",
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(arg, names[i]) == 0) {
            p->s->xdp_mode = (enum settings_xdp_mode)i;
            return KEEP_GOING;
        }
    return refuse(p->err, OPT_XDP_MODE, " '%s': must be native, generic or "
                  "auto", arg);
}

/* --xdp-entries: the fast path sizes its buckets for this many keys
 * (xdp_mirror_buckets_for). */
static int set_xdp_entries(struct parse *p, const char *arg)
{
    long long wanted;
    if (!parse_ranged(p->err, OPT_XDP_ENTRIES, whole(arg), whole(arg), 1,
                      XDP_ENTRIES_MAX, &wanted))
        return exit_code_for(OPT_XDP_ENTRIES);
    p->s->xdp_entries = (unsigned)wanted;
    return KEEP_GOING;
}

static int set_xdp_memory(struct parse *p, const char *arg)
{
    long long mb;
    if (!parse_ranged(p->err, OPT_XDP_MEMORY, whole(arg), whole(arg), 1,
                      XDP_MEMORY_MAX_MB, &mb))
        return exit_code_for(OPT_XDP_MEMORY);
    p->s->xdp_memory = (size_t)mb * MB;
    return KEEP_GOING;
}

static int set_xdp_max_value(struct parse *p, const char *arg)
{
    long long bytes;
    if (!parse_ranged(p->err, OPT_XDP_MAX_VALUE, whole(arg), whole(arg), 0,
                      XDP_MAX_VALUE_LIMIT, &bytes))
        return exit_code_for(OPT_XDP_MAX_VALUE);
    p->s->xdp_max_value = (size_t)bytes;
    return KEEP_GOING;
}

/* -B: memcached's names and its message for any other. */
static int set_protocol(struct parse *p, const char *arg)
{
    static const char *const names[] = {
        [SETTINGS_PROTOCOL_AUTO] = "auto",
        [SETTINGS_PROTOCOL_ASCII] = "ascii",
        [SETTINGS_PROTOCOL_BINARY] = "binary",
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(arg, names[i]) == 0) {
            p->s->protocol = (enum settings_protocol)i;
            p->protocol_given = true;
            return KEEP_GOING;
        }
    return refuse(p->err, 'B', " '%s': Invalid value for binding protocol, "
                  "should be one of auto, binary, or ascii", arg);
}

/* -D: one character, and stats detail on from the start, as in memcached. */
static int set_prefix_delimiter(struct parse *p, const char *arg)
{
    if (strlen(arg) != 1 || isspace((unsigned char)arg[0]))
        return refuse(p->err, 'D', " '%s': must be one character, not a "
                      "space", arg);
    p->s->prefix_delimiter = arg[0];
    p->s->detail_enabled = true;
    return KEEP_GOING;
}

static int parse_listen_entry(struct parse *p, struct span entry,
                              struct listen_addr *addr, int letter);

/* --metrics-listen: an -l entry that must name its port. */
static int set_metrics_listen(struct parse *p, const char *arg)
{
    struct listen_addr addr;
    int rc = parse_listen_entry(p, whole(arg), &addr, OPT_METRICS_LISTEN);
    if (rc != KEEP_GOING)
        return rc;
    if (addr.port <= 0)
        return refuse(p->err, OPT_METRICS_LISTEN, " '%s': needs a port from "
                      "1 to " STR(PORT_MAX) " (addr:port)", arg);
    p->s->metrics_listen = addr;
    return KEEP_GOING;
}

/* One --cpu-list item: a CPU number or a range "first-last". */
static int add_cpu_range(struct parse *p, struct span item)
{
    struct settings *s = p->s;
    const char *dash = memchr(item.text, '-', item.len);
    struct span first = { item.text, dash ? (int)(dash - item.text) : item.len };
    struct span last = dash ? (struct span){ dash + 1, (int)(item.text + item.len - dash - 1) }
                            : first;
    long long from, to;
    if (!parse_ranged(p->err, OPT_CPU_LIST, item, first, 0, SETTINGS_MAX_CPUS - 1, &from) ||
        !parse_ranged(p->err, OPT_CPU_LIST, item, last, 0, SETTINGS_MAX_CPUS - 1, &to))
        return exit_code_for(OPT_CPU_LIST);
    if (to < from)
        return refuse(p->err, OPT_CPU_LIST, " '%.*s': range ends before it "
                      "starts", item.len, item.text);
    for (long long cpu = from; cpu <= to; cpu++) {
        if (s->ncpus == SETTINGS_MAX_CPUS)
            return refuse(p->err, OPT_CPU_LIST, ": more than "
                          STR(SETTINGS_MAX_CPUS) " CPUs");
        s->cpus[s->ncpus++] = (unsigned short)cpu;
    }
    return KEEP_GOING;
}

static int set_buffer_memory(struct parse *p, const char *arg)
{
    long long megabytes;
    if (!parse_ranged(p->err, OPT_BUFFER_MEMORY, whole(arg), whole(arg), 1,
                      (long long)(SIZE_MAX / MB), &megabytes))
        return exit_code_for(OPT_BUFFER_MEMORY);
    p->s->buffer_memory = (size_t)megabytes * MB;
    return KEEP_GOING;
}

/* One network of a --udp-allow list. */
static int add_udp_allow_entry(struct parse *p, struct span entry)
{
    char why[128];
    if (!allow_add_cidr(&p->s->udp_allow, entry.text, (size_t)entry.len, why,
                        sizeof why))
        return refuse(p->err, OPT_UDP_ALLOW, " '%.*s': %s", entry.len,
                      entry.text, why);
    p->s->udp_allow_given = true;
    return KEEP_GOING;
}

/* Host names as getaddrinfo resolves them, and IPv6 zone names. */
static bool is_name(struct span name)
{
    if (name.len == 0)
        return false;
    for (int i = 0; i < name.len; i++) {
        unsigned char c = name.text[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_')
            return false;
    }
    return true;
}

/* An IPv6 literal, optionally with a zone (fe80::1%eth0) as getaddrinfo
 * accepts it. */
static bool is_ipv6_literal(struct span host)
{
    const char *zone = memchr(host.text, '%', host.len);
    int addr_len = zone ? (int)(zone - host.text) : host.len;
    char addr[INET6_ADDRSTRLEN];
    struct in6_addr parsed;
    if (addr_len >= (int)sizeof addr)
        return false;
    if (zone && !is_name((struct span){ zone + 1, host.len - addr_len - 1 }))
        return false;
    memcpy(addr, host.text, addr_len);
    addr[addr_len] = '\0';
    return inet_pton(AF_INET6, addr, &parsed) == 1;
}

/* Splits an -l entry the way memcached does: "[v6]" or "[v6]:port"; else
 * "host:port" when it has exactly one ':'; else a bare IPv6 address. */
static int split_listen_entry(struct parse *p, struct span entry,
                              struct span *host, struct span *port,
                              bool *ipv6, int letter)
{
    const char *end = entry.text + entry.len;
    *port = (struct span){ NULL, 0 };
    if (entry.len > 0 && entry.text[0] == '[') {
        const char *close = memchr(entry.text, ']', entry.len);
        if (close == NULL)
            return refuse(p->err, letter, " '%.*s': missing ']'",
                          entry.len, entry.text);
        *host = (struct span){ entry.text + 1, (int)(close - entry.text - 1) };
        *ipv6 = true;
        if (close + 1 == end)
            return KEEP_GOING;
        if (close[1] != ':')
            return refuse(p->err, letter, " '%.*s': expected ':port' after ']'",
                          entry.len, entry.text);
        *port = (struct span){ close + 2, (int)(end - close - 2) };
        return KEEP_GOING;
    }
    const char *colon = memchr(entry.text, ':', entry.len);
    *ipv6 = colon && memchr(colon + 1, ':', end - colon - 1) != NULL;
    *host = entry;
    if (colon && !*ipv6) {
        host->len = (int)(colon - entry.text);
        *port = (struct span){ colon + 1, (int)(end - colon - 1) };
    }
    return KEEP_GOING;
}

/* Turns one -l entry into a struct listen_addr, checking every part. */
static int parse_listen_entry(struct parse *p, struct span entry,
                              struct listen_addr *addr, int letter)
{
    struct span host = { NULL, 0 }, port = { NULL, 0 };
    bool ipv6 = false;
    if (entry.len == 0)
        return refuse(p->err, letter, ": empty address in the list");
    int rc = split_listen_entry(p, entry, &host, &port, &ipv6, letter);
    if (rc != KEEP_GOING)
        return rc;
    bool host_ok = ipv6 ? is_ipv6_literal(host)
                        : span_is(host, "*") || is_name(host);
    if (!host_ok)
        return refuse(p->err, letter, " '%.*s': not a host name, IPv4 or "
                      "[IPv6] address, or *", entry.len, entry.text);
    if (host.len >= (int)sizeof addr->host)
        return refuse(p->err, letter, " '%.*s': host name too long",
                      entry.len, entry.text);
    long long number = -1;
    if (port.text && (!parse_decimal(port, &number) || number < 0 ||
                      number > PORT_MAX))
        return refuse(p->err, letter, " '%.*s': port must be a number from 0 "
                      "to " STR(PORT_MAX), entry.len, entry.text);
    int host_len = span_is(host, "*") ? 0 : host.len;  /* "" = every address */
    memcpy(addr->host, host.text, host_len);
    addr->host[host_len] = '\0';
    addr->port = (int)number;
    return KEEP_GOING;
}

/* Adds one -l entry. Repeats are skipped, as memcached skips a repeated -l,
 * since binding the same address twice could only fail. */
static int add_listen_entry(struct parse *p, struct span entry)
{
    struct settings *s = p->s;
    struct listen_addr addr;
    int rc = parse_listen_entry(p, entry, &addr, 'l');
    if (rc != KEEP_GOING)
        return rc;
    for (unsigned i = 0; i < s->nlisten; i++)
        if (s->listen[i].port == addr.port &&
            strcmp(s->listen[i].host, addr.host) == 0)
            return KEEP_GOING;
    if (s->nlisten == SETTINGS_MAX_LISTEN)
        return refuse(p->err, 'l', " '%.*s': too many addresses (at most "
                      STR(SETTINGS_MAX_LISTEN) ")", entry.len, entry.text);
    s->listen[s->nlisten++] = addr;
    return KEEP_GOING;
}

static bool is_ignored_suboption(struct span name)
{
    for (size_t i = 0; i < ARRAY_SIZE(ignored_suboptions); i++)
        if (span_is(name, ignored_suboptions[i]))
            return true;
    return false;
}

static bool is_refused_suboption(struct span name)
{
    for (size_t i = 0; i < ARRAY_SIZE(refused_suboption_prefixes); i++) {
        size_t len = strlen(refused_suboption_prefixes[i]);
        if ((size_t)name.len >= len &&
            memcmp(name.text, refused_suboption_prefixes[i], len) == 0)
            return true;
    }
    return false;
}

/* A -o item that is none of ours: a notice for memcached's internals, a
 * refusal for the rest. */
static int handle_foreign_suboption(struct parse *p, struct span token,
                                    struct span name)
{
    if (is_ignored_suboption(name)) {
        fprintf(p->err, "xdpcached: notice: -o '%.*s' tunes a memcached "
                "internal that xdpcached does not have; ignored\n",
                token.len, token.text);
        return KEEP_GOING;
    }
    if (is_refused_suboption(name))
        return refuse(p->err, 'o', " '%.*s': memcached sub-option that "
                      "xdpcached does not support", token.len, token.text);
    return refuse(p->err, 'o', ": Illegal suboption \"%.*s\"",
                  token.len, token.text);
}

/* One -o item: "name" for a switch, "name=N" for a number. */
static int set_suboption(struct parse *p, struct span token)
{
    const char *equals = memchr(token.text, '=', token.len);
    struct span name = { token.text,
                         equals ? (int)(equals - token.text) : token.len };
    const struct suboption *o = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(suboption_table) && o == NULL; i++)
        if (span_is(name, suboption_table[i].name))
            o = &suboption_table[i];
    if (o == NULL)
        return handle_foreign_suboption(p, token, name);
    char *field = (char *)p->s + o->field;
    if (o->kind == SUBOPTION_SWITCH) {
        if (equals)
            return refuse(p->err, 'o', " '%.*s': %s takes no value",
                          token.len, token.text, o->name);
        *(bool *)field = o->switch_to;
        return KEEP_GOING;
    }
    if (equals == NULL)
        return refuse(p->err, 'o', " '%s': needs a value (%s=<num>)",
                      o->name, o->name);
    struct span value = { equals + 1, token.len - name.len - 1 };
    long long number;
    if (!parse_ranged(p->err, 'o', token, value, o->min, o->max, &number))
        return exit_code_for('o');
    *(unsigned *)field = (unsigned)number;
    return KEEP_GOING;
}

/* Calls handle on every item of a list split by any of separators; empty
 * items are passed on too, for handle to refuse. */
static int for_each_item(struct parse *p, const char *list,
                         const char *separators,
                         int (*handle)(struct parse *, struct span))
{
    for (;;) {
        size_t len = strcspn(list, separators);
        int rc = handle(p, (struct span){ list, (int)len });
        if (rc != KEEP_GOING || list[len] == '\0')
            return rc;
        list += len + 1;
    }
}

/* Writes a -h entry: label, then help from HELP_COLUMN, one line per '\n'. */
static void print_help_entry(FILE *out, int label_width, const char *help)
{
    int pad = label_width < HELP_COLUMN ? HELP_COLUMN - label_width : 1;
    for (;;) {
        size_t len = strcspn(help, "\n");
        fprintf(out, "%*s%.*s\n", pad, "", (int)len, help);
        if (help[len] == '\0')
            return;
        help += len + 1;
        pad = HELP_COLUMN;
    }
}

/* "-p, --port=<num>", or "    --xdp=<on|off>" without a short form.
 * Returns the width written. */
static int print_flag_label(FILE *out, const struct flag *f)
{
    const char *equals = f->arg ? "=" : "", *arg = f->arg ? f->arg : "";
    if (!has_short_form(f))
        return fprintf(out, "    --%s%s%s", f->long_name, equals, arg);
    if (f->long_name == NULL)
        return fprintf(out, "-%c %s", f->letter, arg);
    return fprintf(out, "-%c, --%s%s%s", f->letter, f->long_name, equals, arg);
}

/* The foreign flags of one kind, as "-f, -n, ..." */
static void print_flag_letters(FILE *out, enum foreign_kind kind)
{
    const char *separator = "";
    for (size_t i = 0; i < ARRAY_SIZE(foreign_flags); i++)
        if (foreign_flags[i].kind == kind) {
            fprintf(out, "%s-%c", separator, foreign_flags[i].flag.letter);
            separator = ", ";
        }
}

static void print_usage(FILE *out)
{
    fputs("xdpcached " XDPCACHED_VERSION "\n", out);
    for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++) {
        const struct flag *f = &flag_table[i];
        print_help_entry(out, print_flag_label(out, f), f->help);
    }
    for (size_t i = 0; i < ARRAY_SIZE(suboption_table); i++) {
        const struct suboption *o = &suboption_table[i];
        int width = fprintf(out, "   - %s%s:", o->name,
                            o->kind == SUBOPTION_NUMBER ? "=<num>" : "");
        print_help_entry(out, width, o->help);
    }
    fputs("memcached's flags for its own internals are accepted and ignored\n"
          "with a notice: ", out);
    print_flag_letters(out, FOREIGN_IGNORED);
    fputs(", and -o options such as modern,\nslab_chunk_max, slab_reassign, "
          "lru_maintainer, hash_algorithm.\nRefused: ", out);
    print_flag_letters(out, FOREIGN_REFUSED);
    fputs(", and -o ssl_*, ext_*, proxy_*, sock_cookie_id.\n", out);
}

#define NFLAGS (ARRAY_SIZE(flag_table) + ARRAY_SIZE(foreign_flags))

/* getopt_long's view of flag_table and foreign_flags. */
struct getopt_tables {
    struct option longopts[NFLAGS + 1];
    char shortopts[1 + 2 * NFLAGS + 1];
    size_t nlong;
    char *next_short;
};

static void add_getopt_flag(struct getopt_tables *t, const struct flag *f)
{
    if (has_short_form(f)) {
        *t->next_short++ = (char)f->letter;
        if (f->arg)
            *t->next_short++ = ':';
    }
    if (f->long_name)
        t->longopts[t->nlong++] = (struct option){
            f->long_name, f->arg ? required_argument : no_argument,
            NULL, f->letter };
}

static void build_getopt_tables(struct getopt_tables *t)
{
    t->nlong = 0;
    t->next_short = t->shortopts;
    /* Leading ':': a missing value comes back as ':' rather than '?', and
     * getopt prints nothing itself (it would print to stderr, not err). */
    *t->next_short++ = ':';
    for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++)
        add_getopt_flag(t, &flag_table[i]);
    for (size_t i = 0; i < ARRAY_SIZE(foreign_flags); i++)
        add_getopt_flag(t, &foreign_flags[i].flag);
    *t->next_short = '\0';
    t->longopts[t->nlong] = (struct option){ NULL, 0, NULL, 0 };
}

/* getopt_long returned ':' (missing value) or '?' (anything else wrong). */
static int refuse_getopt_error(struct parse *p, int c, char **argv)
{
    const char *word = argv[optind - 1];    /* getopt has moved past it */
    if (c == ':')
        return refuse(p->err, optopt, ": missing value");
    if (optopt != 0 && find_flag(optopt))   /* only "--long=value" gets here */
        return refuse(p->err, optopt, " '%s': takes no value", word);
    if (optopt != 0)
        return refuse(p->err, 0, "unknown option -%c", optopt);
    return refuse(p->err, 0, "unknown or ambiguous option '%s'", word);
}

/* A memcached flag xdpcached does not implement: a notice for one that
 * tunes memcached's internals, a refusal for the rest. */
static int handle_foreign_flag(struct parse *p, const struct foreign_flag *ff)
{
    const struct flag *f = &ff->flag;
    if (ff->kind == FOREIGN_IGNORED) {
        fprintf(p->err, "xdpcached: notice: -%c/--%s %s, which xdpcached "
                "does not have; ignored\n", f->letter, f->long_name, f->help);
        return KEEP_GOING;
    }
    return refuse(p->err, f->letter, ": memcached option that xdpcached does "
                  "not support (%s)", f->help);
}

static int handle_option(struct parse *p, int c, const char *arg, char **argv)
{
    struct settings *s = p->s;
    switch (c) {
    case 'h': print_usage(p->out); return EXIT_SUCCESS;
    case 'V': fputs("xdpcached " XDPCACHED_VERSION "\n", p->out);
              return EXIT_SUCCESS;
    case 'v': s->verbose++; return KEEP_GOING;
    case 'C': s->use_cas = false; return KEEP_GOING;
    case 'M': s->evict_to_free = false; return KEEP_GOING;
    case 'F': s->flush_enabled = false; return KEEP_GOING;
    case 'A': s->shutdown_command = true; return KEEP_GOING;
    case 'p': p->tcp_port_given = true; return set_int_flag(p, c, arg);
    case 'U': p->udp_port_given = true; return set_int_flag(p, c, arg);
    case 'c': case 'R': case 'b': return set_int_flag(p, c, arg);
    case 't': p->threads_given = true; return set_threads(p, arg);
    case 'd': s->daemonize = true; return KEEP_GOING;
    case 'r': s->enable_coredumps = true; return KEEP_GOING;
    case 'k': s->lock_memory = true; return KEEP_GOING;
    case 'X': s->dump_enabled = false; return KEEP_GOING;
    case 'B': return set_protocol(p, arg);
    case 'D': return set_prefix_delimiter(p, arg);
    case OPT_METRICS_LISTEN: return set_metrics_listen(p, arg);
    case OPT_CPU_LIST: return for_each_item(p, arg, ",", add_cpu_range);
    case 'm': return set_memory_limit(p, arg);
    case 'I': return set_item_size(p, arg);
    case 'l': return for_each_item(p, arg, ",;", add_listen_entry);
    case 'o': return for_each_item(p, arg, ",", set_suboption);
    case 'u': return set_string_flag(p, c, arg, &s->username);
    case 'P': return set_string_flag(p, c, arg, &s->pidfile);
    case 's': return set_socket_path(p, arg);
    case 'a': return set_unix_mask(p, arg);
    case 'Y': return set_string_flag(p, 'Y', arg, &p->s->auth_file);
    case 'W': p->s->watch_enabled = false; return KEEP_GOING;
    case OPT_XDP: return set_xdp_switch(p, arg);
    case OPT_XDP_IFACE: return add_xdp_iface(p, arg);
    case OPT_XDP_MODE: return set_xdp_mode(p, arg);
    case OPT_XDP_ENTRIES: return set_xdp_entries(p, arg);
    case OPT_XDP_MEMORY: return set_xdp_memory(p, arg);
    case OPT_XDP_MAX_VALUE: return set_xdp_max_value(p, arg);
    case OPT_UDP_ALLOW: return for_each_item(p, arg, ",", add_udp_allow_entry);
    case OPT_CONFIG_FILE:
        return refuse(p->err, c, ": only on the command line, spelled in full "
                      "(--config-file FILE or --config-file=FILE)");
    case OPT_BUFFER_MEMORY: return set_buffer_memory(p, arg);
    case ':': case '?': return refuse_getopt_error(p, c, argv);
    default:
        return handle_foreign_flag(p, find_foreign_flag(c));
    }
}

/* Rules that involve more than one flag, applied after all are read so that
 * flag order does not matter. */
static int check_combinations(struct parse *p)
{
    struct settings *s = p->s;
    /* memcached: a UDP port given without -p is the TCP port as well */
    if (p->udp_port_given && s->udpport != 0 && !p->tcp_port_given)
        s->port = s->udpport;
    /* memcached exits with EX_USAGE for these checks */
    if (s->item_size_max > s->maxbytes / 2) {
        refuse(p->err, 0, "item size limit -I/--max-item-size (%zu "
               "bytes) cannot be more than half of the memory limit "
               "-m/--memory-limit (%zu MB)", s->item_size_max, s->maxbytes / MB);
        return EX_USAGE;
    }
    /* memcached's -Y gate speaks ASCII over TCP only */
    if (s->auth_file && p->protocol_given && s->protocol != SETTINGS_PROTOCOL_ASCII) {
        refuse(p->err, 'Y', ": You cannot allow the BINARY protocol while using ascii "
               "authentication tokens.");
        return EX_USAGE;
    }
    if (s->auth_file && s->udpport != 0) {
        refuse(p->err, 'Y', ": Cannot use UDP with ascii authentication enabled "
               "(-U 0 to disable)");
        return EX_USAGE;
    }
    if (s->auth_file)
        s->protocol = SETTINGS_PROTOCOL_ASCII;
    /* one worker per listed CPU */
    if (s->ncpus > 0 && p->threads_given && (unsigned)s->num_threads != s->ncpus) {
        refuse(p->err, 0, "-t/--threads %d and --cpu-list's %u CPUs differ: "
               "one worker runs on each listed CPU", s->num_threads, s->ncpus);
        return EX_USAGE;
    }
    if (s->ncpus > 0)
        s->num_threads = (int)s->ncpus;
    return KEEP_GOING;
}

static int parse_args(struct settings *s, int argc, char **argv, FILE *out,
                      FILE *err);

void settings_release(struct settings *s)
{
    free(s->config_words);
    s->config_words = NULL;
}

/* Where argv names a --config-file: its path, and how many arguments
 * (1 or 2) say so; NULL when none does. */
static const char *find_config_file(int argc, char **argv, int *at, int *nargs)
{
    static const char flag[] = "--config-file";
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], flag) == 0 && i + 1 < argc) {
            *at = i;
            *nargs = 2;
            return argv[i + 1];
        }
        if (strncmp(argv[i], flag, sizeof flag - 1) == 0 && argv[i][sizeof flag - 1] == '=') {
            *at = i;
            *nargs = 1;
            return argv[i] + sizeof flag;
        }
    }
    return NULL;
}

/* argv with the --config-file's words in place of the flag: the file's
 * flags first, then the command line's. s->config_words keeps the words. */
static char **expand_config_file(struct settings *s, int *argc, char **argv, FILE *err)
{
    int at, nargs, nwords;
    const char *path = find_config_file(*argc, argv, &at, &nargs);
    if (!path)
        return argv;
    char **words = conffile_read(path, &nwords, err);
    if (!words)
        return NULL;
    int n = *argc - nargs + nwords;
    char **expanded = malloc((size_t)(n + 1) * sizeof *expanded);
    if (!expanded) {
        fprintf(err, "xdpcached: out of memory reading --config-file\n");
        free(words);
        return NULL;
    }
    expanded[0] = argv[0];
    memcpy(expanded + 1, words, (size_t)nwords * sizeof *words);
    memcpy(expanded + 1 + nwords, argv + 1, (size_t)(at - 1) * sizeof *argv);
    memcpy(expanded + nwords + at, argv + at + nargs, (size_t)(*argc - at - nargs) * sizeof *argv);
    expanded[n] = NULL;
    free(s->config_words);
    s->config_words = words;
    *argc = n;
    return expanded;
}

int settings_parse(struct settings *s, int argc, char **argv, FILE *out,
                   FILE *err)
{
    char **args = expand_config_file(s, &argc, argv, err);
    if (!args)
        return EXIT_FAILURE;
    int rc = parse_args(s, argc, args, out, err);
    if (args != argv)
        free(args);
    return rc;
}

static int parse_args(struct settings *s, int argc, char **argv, FILE *out,
                      FILE *err)
{
    struct parse p = { .s = s, .out = out, .err = err };
    struct getopt_tables tables;
    build_getopt_tables(&tables);
    optind = 0;         /* glibc: full re-initialisation, so parsing can repeat */
    int c;
    while ((c = getopt_long(argc, argv, tables.shortopts, tables.longopts,
                            NULL)) != -1) {
        int rc = handle_option(&p, c, optarg, argv);
        if (rc != KEEP_GOING)
            return rc;
    }
    if (optind < argc)
        return refuse(err, 0, "unexpected argument '%s'", argv[optind]);
    return check_combinations(&p);
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }
static const char *on_off(bool b) { return b ? "on" : "off"; }

/* The -l list, entries joined by ',' in a form -l accepts back; "NULL"
 * without -l, as memcached reports. */
static const char *format_listen_list(const struct settings *s, char *buf,
                                      size_t size)
{
    if (s->nlisten == 0)
        return "NULL";
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < s->nlisten; i++) {
        const struct listen_addr *a = &s->listen[i];
        const char *host = a->host[0] ? a->host : "*";
        bool bracket = strchr(host, ':') != NULL;
        used += snprintf(buf + used, size - used, "%s%s%s%s", i ? "," : "",
                         bracket ? "[" : "", host, bracket ? "]" : "");
        if (a->port >= 0)
            used += snprintf(buf + used, size - used, ":%d", a->port);
    }
    return buf;
}

/* memcached's names in `stats settings` */
static const char *protocol_name(enum settings_protocol protocol)
{
    switch (protocol) {
    case SETTINGS_PROTOCOL_ASCII: return "ascii";
    case SETTINGS_PROTOCOL_BINARY: return "binary";
    default: return "auto-negotiate";
    }
}

void settings_report(const struct settings *s, const struct settings_now *now,
                     struct stats_sink *sink)
{
    /* per entry: ',' '[' host ']' ':' 5 port digits - never truncated */
    char inter[SETTINGS_MAX_LISTEN * (sizeof s->listen[0].host + 10)];
    stats_emitf(sink, "maxbytes", "%llu", (unsigned long long)now->maxbytes);
    stats_emitf(sink, "maxconns", "%d", s->maxconns);
    stats_emitf(sink, "tcpport", "%d", s->port);
    stats_emitf(sink, "udpport", "%d", s->udpport);
    /* straight to emit: stats_emitf may cap a value shorter than 16 hosts */
    sink->emit(sink, "inter", format_listen_list(s, inter, sizeof inter));
    stats_emitf(sink, "verbosity", "%d", s->verbose);
    stats_emitf(sink, "evictions", "%s", on_off(s->evict_to_free));
    stats_emitf(sink, "domain_socket", "%s", s->socketpath ? s->socketpath : "NULL");
    stats_emitf(sink, "umask", "%o", s->unix_mask);
    stats_emitf(sink, "shutdown_command", "%s", yes_no(s->shutdown_command));
    stats_emitf(sink, "num_threads", "%d", s->num_threads);
    stats_emitf(sink, "stat_key_prefix", "%c", s->prefix_delimiter);
    stats_emitf(sink, "detail_enabled", "%s", yes_no(s->detail_enabled));
    stats_emitf(sink, "reqs_per_event", "%d", s->reqs_per_event);
    stats_emitf(sink, "cas_enabled", "%s", yes_no(s->use_cas));
    stats_emitf(sink, "tcp_backlog", "%d", s->backlog);
    stats_emitf(sink, "binding_protocol", "%s", protocol_name(s->protocol));
    stats_emitf(sink, "auth_enabled_sasl", "no");   /* -S is refused */
    stats_emitf(sink, "auth_enabled_ascii", "%s", s->auth_file ? s->auth_file : "no");
    stats_emitf(sink, "item_size_max", "%zu", s->item_size_max);
    stats_emitf(sink, "maxconns_fast", "%s", yes_no(s->maxconns_fast));
    stats_emitf(sink, "hashpower_init", "%u", s->hashpower_init);
    stats_emitf(sink, "lru_crawler", "%s", yes_no(now->lru_crawler));
    stats_emitf(sink, "flush_enabled", "%s", yes_no(s->flush_enabled));
    stats_emitf(sink, "dump_enabled", "%s", yes_no(s->dump_enabled));
    stats_emitf(sink, "idle_timeout", "%u", s->idle_timeout);
    stats_emitf(sink, "watcher_logbuf_size", "%zu", (size_t)s->watcher_logbuf_kb * 1024);
}
