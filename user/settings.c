/* settings.c - memcached's command line: defaults, parsing, `stats settings`.
 *
 * One table describes every memcached flag. getopt_long's option array, its
 * short option string and the -h text are all built from it, so they cannot
 * disagree. Flags that memcached has but xdpcached does not implement stay in
 * the table (without help text) so they are refused by name rather than
 * reported as unknown; -o sub-options work the same way. */
#include "settings.h"
#include "stats.h"
#include "xdp_cache.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
#define DEFAULT_XDP_ENTRIES     16384
#define XDP_ENTRIES_MAX         16777216 /* 4 x 2^22, 23 GB of cache map */
#define DEFAULT_XDP_MAX_VALUE   1024
#define DEFAULT_BUFFER_MEMORY_MB  32
/* The largest value whose get reply fits one datagram: with a one-byte key,
 * flags 0 and no CAS, "VALUE k 0 1369\r\n" <value> "\r\nEND\r\n". */
#define XDP_MAX_VALUE_LIMIT     1369

_Static_assert(XDP_MAX_VALUE_LIMIT + sizeof("VALUE k 0 1369\r\n\r\n" XDP_END) - 1
               == MC_UDP_MAX_DATA, "XDP_MAX_VALUE_LIMIT fills one datagram");
_Static_assert(DEFAULT_XDP_ENTRIES % XDP_CACHE_WAYS == 0 &&
               XDP_ENTRIES_MAX % XDP_CACHE_WAYS == 0 &&
               ((DEFAULT_XDP_ENTRIES / XDP_CACHE_WAYS) &
                (DEFAULT_XDP_ENTRIES / XDP_CACHE_WAYS - 1)) == 0 &&
               ((XDP_ENTRIES_MAX / XDP_CACHE_WAYS) &
                (XDP_ENTRIES_MAX / XDP_CACHE_WAYS - 1)) == 0,
               "entry counts are XDP_CACHE_WAYS x a power of two");

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
    OPT_XDP_MAX_VALUE,
    OPT_UDP_ALLOW,
    OPT_BUFFER_MEMORY,
};

struct flag {
    int letter;             /* short option (or an OPT_ code), and what
                               getopt_long returns */
    const char *long_name;  /* memcached's long option; NULL if it has none */
    const char *arg;        /* value placeholder for -h; NULL: takes no value */
    const char *help;       /* -h text, lines split by '\n'; NULL: refused */
};

static const struct flag flag_table[] = {
    { 'p', "port", "<num>",
      "TCP port to listen on (default: " STR(DEFAULT_TCP_PORT) ", 0: off)" },
    { 'U', "udp-port", "<num>",
      "UDP port to listen on (default: " STR(DEFAULT_UDP_PORT) ", off);\n"
      "without -p, TCP listens on this port too" },
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
      "fast-path cache entries, rounded up to\n"
      STR(XDP_CACHE_WAYS) " x a power of two (default: "
      STR(DEFAULT_XDP_ENTRIES) ",\nmax: " STR(XDP_ENTRIES_MAX) ")" },
    { OPT_XDP_MAX_VALUE, "xdp-max-value", "<bytes>",
      "largest value the fast path serves\n"
      "(default: " STR(DEFAULT_XDP_MAX_VALUE) ", max: "
      STR(XDP_MAX_VALUE_LIMIT) ", one datagram)" },
    { OPT_UDP_ALLOW, "udp-allow", "<cidrs>",
      "sources allowed to use UDP: comma separated\n"
      "IPv4/IPv6 networks, repeatable; others are\n"
      "dropped unanswered (default: 127.0.0.0/8, ::1\n"
      "and the subnets of the --xdp-iface interfaces)" },
    { OPT_BUFFER_MEMORY, "buffer-memory", "<num>",
      "megabytes all connections together may hold in\n"
      "buffers and unsent replies; a connection over\n"
      "its share is not read until it drains\n"
      "(default: " STR(DEFAULT_BUFFER_MEMORY_MB) ")" },
    { 'o', "extended", "<opts>", "comma separated list of extended options:" },
    /* memcached 1.6 flags that xdpcached refuses */
    { 'a', "unix-mask", "<mask>", NULL },
    { 's', "unix-socket", "<file>", NULL },
    { 'd', "daemon", NULL, NULL },
    { 'r', "enable-coredumps", NULL, NULL },
    { 'k', "lock-memory", NULL, NULL },
    { 'i', "license", NULL, NULL },
    { 'f', "slab-growth-factor", "<num>", NULL },
    { 'n', "slab-min-size", "<bytes>", NULL },
    { 'D', NULL, "<char>", NULL },
    { 'L', "enable-largepages", NULL, NULL },
    { 'B', "protocol", "<name>", NULL },
    { 'S', "enable-sasl", NULL, NULL },
    { 'X', "disable-dumping", NULL, NULL },
    { 'W', "disable-watch", NULL, NULL },
    { 'Y', "auth-file", "<file>", NULL },
    { 'e', "memory-file", "<file>", NULL },
    { 'Z', "enable-ssl", NULL, NULL },
    { 'N', "napi-ids", "<num>", NULL },
};

/* Flags whose value is a plain number stored in an int member. */
struct int_flag {
    int letter;
    size_t field;           /* offsetof the int in struct settings */
    long long min, max;
};

static const struct int_flag int_flags[] = {
    { 'p', offsetof(struct settings, port), 0, PORT_MAX },
    { 'U', offsetof(struct settings, udpport), 0, PORT_MAX },
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
    { "lru_crawler", SUBOPTION_SWITCH,
      offsetof(struct settings, lru_crawler), true, 0, 0,
      "reclaim expired items in the background\n(default: on)" },
    { "no_lru_crawler", SUBOPTION_SWITCH,
      offsetof(struct settings, lru_crawler), false, 0, 0,
      "turn lru_crawler off" },
};

/* memcached 1.6 sub-options (TLS, proxy and extstore builds included) that
 * xdpcached refuses, so the message can say "not supported" instead of
 * "illegal". */
static const char *const memcached_only_suboptions[] = {
    "no_hashexpand", "slab_reassign", "slab_automove", "slab_automove_ratio",
    "slab_automove_window", "tail_repair_time", "hash_algorithm",
    "lru_crawler_sleep", "lru_crawler_tocrawl", "lru_maintainer",
    "hot_lru_pct", "warm_lru_pct", "hot_max_factor", "warm_max_factor",
    "temporary_ttl", "watcher_logbuf_size", "worker_logbuf_size",
    "slab_sizes", "slab_chunk_max", "track_sizes", "no_inline_ascii_resp",
    "modern", "no_modern", "no_chunked_items", "no_slab_reassign",
    "no_slab_automove", "inline_ascii_resp", "no_lru_maintainer",
    "no_drop_privileges", "drop_privileges", "resp_obj_mem_limit",
    "read_buf_mem_limit", "relaxed_privileges", "sock_cookie_id",
    "ssl_chain_cert", "ssl_key", "ssl_verify_mode", "ssl_keyformat",
    "ssl_ciphers", "ssl_ca_cert", "ssl_wbuf_size", "ssl_session_cache",
    "ssl_kernel_tls", "ssl_min_version", "proxy_config", "proxy_uring",
    "ext_page_size", "ext_wbuf_size", "ext_threads", "ext_io_depth",
    "ext_path", "ext_item_size", "ext_item_age", "ext_low_ttl",
    "ext_recache_rate", "ext_compact_under", "ext_drop_under",
    "ext_max_sleep", "ext_max_frag", "ext_drop_unread",
    "slab_automove_freeratio",
};

/* A piece of a longer string, not NUL-terminated (an -l or -o list item). */
struct span {
    const char *text;
    int len;
};

struct parse {
    struct settings *s;
    FILE *out, *err;
    bool tcp_port_given, udp_port_given;
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
    s->flush_enabled = true;
    s->maxconns_fast = true;
    s->lru_crawler = true;
    s->xdp = true;
    s->xdp_mode = SETTINGS_XDP_AUTO;
    s->xdp_entries = DEFAULT_XDP_ENTRIES;
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

static const struct flag *find_flag(int letter)
{
    for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++)
        if (flag_table[i].letter == letter)
            return &flag_table[i];
    return NULL;
}

static bool has_short_form(const struct flag *f)
{
    return f->letter <= UCHAR_MAX;
}

/* Writes one line "xdpcached: -x/--long<message>" (or "--long<message>")
 * to err (no flag part when letter is 0) and returns EX_USAGE, the exit
 * code for every refusal. */
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
    return EX_USAGE;
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
        return EX_USAGE;
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
        return EX_USAGE;
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

/* --xdp-entries: the cache map is XDP_CACHE_WAYS-way set associative over a
 * power-of-two number of buckets (the program masks the key hash), so the
 * count is rounded up to the next such size. */
static int set_xdp_entries(struct parse *p, const char *arg)
{
    long long wanted;
    if (!parse_ranged(p->err, OPT_XDP_ENTRIES, whole(arg), whole(arg), 1,
                      XDP_ENTRIES_MAX, &wanted))
        return EX_USAGE;
    unsigned buckets = 1;
    while ((long long)buckets * XDP_CACHE_WAYS < wanted)
        buckets *= 2;
    p->s->xdp_entries = buckets * XDP_CACHE_WAYS;
    return KEEP_GOING;
}

static int set_xdp_max_value(struct parse *p, const char *arg)
{
    long long bytes;
    if (!parse_ranged(p->err, OPT_XDP_MAX_VALUE, whole(arg), whole(arg), 0,
                      XDP_MAX_VALUE_LIMIT, &bytes))
        return EX_USAGE;
    p->s->xdp_max_value = (size_t)bytes;
    return KEEP_GOING;
}

static int set_buffer_memory(struct parse *p, const char *arg)
{
    long long megabytes;
    if (!parse_ranged(p->err, OPT_BUFFER_MEMORY, whole(arg), whole(arg), 1,
                      (long long)(SIZE_MAX / MB), &megabytes))
        return EX_USAGE;
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
                              bool *ipv6)
{
    const char *end = entry.text + entry.len;
    *port = (struct span){ NULL, 0 };
    if (entry.len > 0 && entry.text[0] == '[') {
        const char *close = memchr(entry.text, ']', entry.len);
        if (close == NULL)
            return refuse(p->err, 'l', " '%.*s': missing ']'",
                          entry.len, entry.text);
        *host = (struct span){ entry.text + 1, (int)(close - entry.text - 1) };
        *ipv6 = true;
        if (close + 1 == end)
            return KEEP_GOING;
        if (close[1] != ':')
            return refuse(p->err, 'l', " '%.*s': expected ':port' after ']'",
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
                              struct listen_addr *addr)
{
    struct span host = { NULL, 0 }, port = { NULL, 0 };
    bool ipv6 = false;
    if (entry.len == 0)
        return refuse(p->err, 'l', ": empty address in the list");
    int rc = split_listen_entry(p, entry, &host, &port, &ipv6);
    if (rc != KEEP_GOING)
        return rc;
    bool host_ok = ipv6 ? is_ipv6_literal(host)
                        : span_is(host, "*") || is_name(host);
    if (!host_ok)
        return refuse(p->err, 'l', " '%.*s': not a host name, IPv4 or "
                      "[IPv6] address, or *", entry.len, entry.text);
    if (host.len >= (int)sizeof addr->host)
        return refuse(p->err, 'l', " '%.*s': host name too long",
                      entry.len, entry.text);
    long long number = -1;
    if (port.text && (!parse_decimal(port, &number) || number < 0 ||
                      number > PORT_MAX))
        return refuse(p->err, 'l', " '%.*s': port must be a number from 0 "
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
    int rc = parse_listen_entry(p, entry, &addr);
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

static bool is_memcached_only_suboption(struct span name)
{
    for (size_t i = 0; i < ARRAY_SIZE(memcached_only_suboptions); i++)
        if (span_is(name, memcached_only_suboptions[i]))
            return true;
    return false;
}

static int refuse_unknown_suboption(struct parse *p, struct span token,
                                    struct span name)
{
    if (is_memcached_only_suboption(name))
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
        return refuse_unknown_suboption(p, token, name);
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
        return EX_USAGE;
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
    return fprintf(out, "-%c, --%s%s%s", f->letter, f->long_name, equals, arg);
}

static void print_usage(FILE *out)
{
    fputs("xdpcached " XDPCACHED_VERSION "\n", out);
    for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++) {
        const struct flag *f = &flag_table[i];
        if (f->help == NULL)
            continue;
        print_help_entry(out, print_flag_label(out, f), f->help);
    }
    for (size_t i = 0; i < ARRAY_SIZE(suboption_table); i++) {
        const struct suboption *o = &suboption_table[i];
        int width = fprintf(out, "   - %s%s:", o->name,
                            o->kind == SUBOPTION_NUMBER ? "=<num>" : "");
        print_help_entry(out, width, o->help);
    }
}

/* getopt_long's view of flag_table. */
struct getopt_tables {
    struct option longopts[ARRAY_SIZE(flag_table) + 1];
    char shortopts[1 + 2 * ARRAY_SIZE(flag_table) + 1];
};

static void build_getopt_tables(struct getopt_tables *t)
{
    size_t nlong = 0;
    char *next = t->shortopts;
    /* Leading ':': a missing value comes back as ':' rather than '?', and
     * getopt prints nothing itself (it would print to stderr, not err). */
    *next++ = ':';
    for (size_t i = 0; i < ARRAY_SIZE(flag_table); i++) {
        const struct flag *f = &flag_table[i];
        if (has_short_form(f)) {
            *next++ = (char)f->letter;
            if (f->arg)
                *next++ = ':';
        }
        if (f->long_name)
            t->longopts[nlong++] = (struct option){
                f->long_name, f->arg ? required_argument : no_argument,
                NULL, f->letter };
    }
    *next = '\0';
    t->longopts[nlong] = (struct option){ NULL, 0, NULL, 0 };
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
    case 't': return set_threads(p, arg);
    case 'm': return set_memory_limit(p, arg);
    case 'I': return set_item_size(p, arg);
    case 'l': return for_each_item(p, arg, ",;", add_listen_entry);
    case 'o': return for_each_item(p, arg, ",", set_suboption);
    case 'u': return set_string_flag(p, c, arg, &s->username);
    case 'P': return set_string_flag(p, c, arg, &s->pidfile);
    case OPT_XDP: return set_xdp_switch(p, arg);
    case OPT_XDP_IFACE: return add_xdp_iface(p, arg);
    case OPT_XDP_MODE: return set_xdp_mode(p, arg);
    case OPT_XDP_ENTRIES: return set_xdp_entries(p, arg);
    case OPT_XDP_MAX_VALUE: return set_xdp_max_value(p, arg);
    case OPT_UDP_ALLOW: return for_each_item(p, arg, ",", add_udp_allow_entry);
    case OPT_BUFFER_MEMORY: return set_buffer_memory(p, arg);
    case ':': case '?': return refuse_getopt_error(p, c, argv);
    default:
        return refuse(p->err, c, ": memcached option that xdpcached does "
                      "not support");
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
    if (s->item_size_max > s->maxbytes / 2)
        return refuse(p->err, 0, "item size limit -I/--max-item-size (%zu "
                      "bytes) cannot be more than half of the memory limit "
                      "-m/--memory-limit (%zu MB)",
                      s->item_size_max, s->maxbytes / MB);
    return KEEP_GOING;
}

int settings_parse(struct settings *s, int argc, char **argv, FILE *out,
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

void settings_report(const struct settings *s, struct stats_sink *sink)
{
    /* per entry: ',' '[' host ']' ':' 5 port digits - never truncated */
    char inter[SETTINGS_MAX_LISTEN * (sizeof s->listen[0].host + 10)];
    stats_emitf(sink, "maxbytes", "%llu", (unsigned long long)s->maxbytes);
    stats_emitf(sink, "maxconns", "%d", s->maxconns);
    stats_emitf(sink, "tcpport", "%d", s->port);
    stats_emitf(sink, "udpport", "%d", s->udpport);
    /* straight to emit: stats_emitf may cap a value shorter than 16 hosts */
    sink->emit(sink, "inter", format_listen_list(s, inter, sizeof inter));
    stats_emitf(sink, "verbosity", "%d", s->verbose);
    stats_emitf(sink, "evictions", "%s", on_off(s->evict_to_free));
    stats_emitf(sink, "shutdown_command", "%s", yes_no(s->shutdown_command));
    stats_emitf(sink, "num_threads", "%d", s->num_threads);
    stats_emitf(sink, "reqs_per_event", "%d", s->reqs_per_event);
    stats_emitf(sink, "cas_enabled", "%s", yes_no(s->use_cas));
    stats_emitf(sink, "tcp_backlog", "%d", s->backlog);
    stats_emitf(sink, "item_size_max", "%zu", s->item_size_max);
    stats_emitf(sink, "maxconns_fast", "%s", yes_no(s->maxconns_fast));
    stats_emitf(sink, "hashpower_init", "%u", s->hashpower_init);
    stats_emitf(sink, "lru_crawler", "%s", yes_no(s->lru_crawler));
    stats_emitf(sink, "flush_enabled", "%s", yes_no(s->flush_enabled));
    stats_emitf(sink, "idle_timeout", "%u", s->idle_timeout);
}
