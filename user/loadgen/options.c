/* options.c - see options.h. Every value is checked; a bad one is an error
 * naming the flag, never replaced by a default. */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_SIZE_MAX (64u << 20)
#define WINDOW_MAX 32768u
#define THREADS_MAX 256u
#define CONNS_MAX 4096u

enum long_only { OPT_KEY_SIZE = 256, OPT_VALUE_SIZE, OPT_WARMUP, OPT_TIMEOUT, OPT_PRELOAD,
                 OPT_JSON, OPT_SEED, OPT_TTL };

static const struct option LONG_OPTIONS[] = {
    { "server", required_argument, NULL, 's' },
    { "protocol", required_argument, NULL, 'P' },
    { "command", required_argument, NULL, 'c' },
    { "keys", required_argument, NULL, 'k' },
    { "key-size", required_argument, NULL, OPT_KEY_SIZE },
    { "value-size", required_argument, NULL, OPT_VALUE_SIZE },
    { "ttl", required_argument, NULL, OPT_TTL },
    { "dist", required_argument, NULL, 'd' },
    { "get-ratio", required_argument, NULL, 'g' },
    { "multiget", required_argument, NULL, 'm' },
    { "window", required_argument, NULL, 'w' },
    { "threads", required_argument, NULL, 't' },
    { "conns", required_argument, NULL, 'C' },
    { "duration", required_argument, NULL, 'D' },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "rate", required_argument, NULL, 'r' },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "preload", no_argument, NULL, OPT_PRELOAD },
    { "json", required_argument, NULL, OPT_JSON },
    { "seed", required_argument, NULL, OPT_SEED },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

void options_usage(FILE *f)
{
    fputs(
        "usage: mcload [options]   load generator for memcached's text protocol\n"
        "  -s, --server HOST:PORT     IPv4 or [IPv6]:port (default 127.0.0.1:11211)\n"
        "  -P, --protocol udp|tcp     default udp\n"
        "  -c, --command get|gets|mg  read command (default get); mg sends \"mg <key> v\",\n"
        "                             a multiget K mg lines then \"mn\"\n"
        "  -k, --keys N               keys 0..N-1 (default 1000)\n"
        "      --key-size B           bytes per key: the index in base 62 (default 8)\n"
        "      --value-size B         bytes per value, derived from the key (default 8)\n"
        "      --ttl S|MIN-MAX        sets (and --preload) expire in S seconds, or in\n"
        "                             MIN..MAX spread evenly over the keys, each key\n"
        "                             always the same (default 0: never)\n"
        "  -d, --dist uniform|zipf:S  key choice; zipf rank i is key i (default uniform)\n"
        "  -g, --get-ratio F          fraction of reads; the rest are sets (default 1)\n"
        "  -m, --multiget K           keys per read, 1..100 (default 1)\n"
        "  -w, --window W             outstanding requests per socket (default 32); in the\n"
        "                             open loop it caps TCP only\n"
        "  -t, --threads T            client threads (default 1)\n"
        "  -C, --conns C              UDP sockets or TCP connections per thread (default 1)\n"
        "  -D, --duration SEC         measured time (default 5)\n"
        "      --warmup SEC           unmeasured time before it (default 0)\n"
        "  -r, --rate R               open loop: R requests/s in all, on schedule; latency\n"
        "                             from the intended send time (default 0: closed loop)\n"
        "      --timeout MS           unanswered this long: a timeout (default 1000)\n"
        "      --preload              set keys 0..N-1 over TCP, print the rate, exit\n"
        "      --json FILE            also write the result as JSON (\"-\": stdout only)\n"
        "      --seed N               random seed (default 1)\n"
        "  -h, --help\n"
        "Requests sent in the measured time count; after it, none is sent and the\n"
        "outstanding ones are waited for, up to the timeout. Prints one line:\n"
        "  udp get: R req/s, H hit, T timeouts, E errors, latency us p50 p99 p99.9 max\n"
        "A value that is not the key's, or a key not asked for, counts as an error.\n",
        f);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;
    if (!parse_u64(s, min, max, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

static bool parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

/* S or MIN-MAX seconds, at most memcached's relative limit (30 days). */
static bool parse_ttl(struct load_config *cfg, const char *text)
{
    char first[16];
    const char *dash = strchr(text, '-');
    size_t len = dash ? (size_t)(dash - text) : strlen(text);
    unsigned min, max;
    if (len >= sizeof(first))
        return false;
    memcpy(first, text, len);
    first[len] = '\0';
    if (!parse_uint(first, 0, KEYGEN_TTL_MAX, &min))
        return false;
    if (!dash)
        max = min;
    else if (!parse_uint(dash + 1, min, KEYGEN_TTL_MAX, &max) || min == 0)
        return false;
    cfg->ttl_min = min;
    cfg->ttl_max = max;
    return true;
}

/* HOST:PORT with an IPv4 host, or [IPv6]:PORT. */
static bool parse_server(struct load_config *cfg, const char *text)
{
    const char *colon = strrchr(text, ':');
    unsigned port;
    if (!colon || !parse_uint(colon + 1, 1, 65535, &port))
        return false;
    char host[INET6_ADDRSTRLEN + 2];
    size_t len = (size_t)(colon - text);
    if (len >= sizeof(host))
        return false;
    memcpy(host, text, len);
    host[len] = '\0';
    memset(&cfg->server, 0, sizeof(cfg->server));
    if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&cfg->server;
        host[len - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
            return false;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        cfg->server_len = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&cfg->server;
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return false;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        cfg->server_len = sizeof(*sin);
    }
    cfg->server_text = text;
    return true;
}

static bool parse_command(struct load_config *cfg, const char *s)
{
    if (strcmp(s, "get") == 0)
        cfg->read_op = OP_GET;
    else if (strcmp(s, "gets") == 0)
        cfg->read_op = OP_GETS;
    else if (strcmp(s, "mg") == 0)
        cfg->read_op = OP_MG;
    else
        return false;
    return true;
}

static bool parse_protocol(struct load_config *cfg, const char *s)
{
    if (strcmp(s, "udp") != 0 && strcmp(s, "tcp") != 0)
        return false;
    cfg->tcp = strcmp(s, "tcp") == 0;
    return true;
}

static void set_defaults(struct load_config *cfg, uint64_t *nkeys, unsigned *key_size,
                         unsigned *value_size)
{
    memset(cfg, 0, sizeof(*cfg));
    parse_server(cfg, "127.0.0.1:11211");
    cfg->read_op = OP_GET;
    cfg->dist_text = "uniform";
    cfg->get_ratio = 1;
    cfg->multiget = 1;
    cfg->window = 32;
    cfg->threads = 1;
    cfg->conns = 1;
    cfg->duration_s = 5;
    cfg->timeout_ms = 1000;
    cfg->seed = 1;
    *nkeys = 1000;
    *key_size = 8;
    *value_size = 8;
}

/* One option; false when its value is bad. */
static bool take_option(struct load_config *cfg, int opt, const char *arg, uint64_t *nkeys,
                        unsigned *key_size, unsigned *value_size)
{
    switch (opt) {
    case 's': return parse_server(cfg, arg);
    case 'P': return parse_protocol(cfg, arg);
    case 'c': return parse_command(cfg, arg);
    case 'k': return parse_u64(arg, 1, UINT32_MAX, nkeys);
    case OPT_KEY_SIZE: return parse_uint(arg, 1, KEYGEN_KEY_MAX, key_size);
    case OPT_VALUE_SIZE: return parse_uint(arg, 0, VALUE_SIZE_MAX, value_size);
    case OPT_TTL: return parse_ttl(cfg, arg);
    case 'd': cfg->dist_text = arg; return true;   /* checked once the key count is known */
    case 'g': return parse_double(arg, 0, 1, &cfg->get_ratio);
    case 'm': return parse_uint(arg, 1, LOAD_MULTIGET_MAX, &cfg->multiget);
    case 'w': return parse_uint(arg, 1, WINDOW_MAX, &cfg->window);
    case 't': return parse_uint(arg, 1, THREADS_MAX, &cfg->threads);
    case 'C': return parse_uint(arg, 1, CONNS_MAX, &cfg->conns);
    case 'D': return parse_double(arg, 1e-3, 1e6, &cfg->duration_s);
    case OPT_WARMUP: return parse_double(arg, 0, 1e6, &cfg->warmup_s);
    case 'r': return parse_double(arg, 0, 1e9, &cfg->rate);
    case OPT_TIMEOUT: return parse_uint(arg, 1, 3600000, &cfg->timeout_ms);
    case OPT_PRELOAD: cfg->preload = true; return true;
    case OPT_JSON: cfg->json_path = arg; return true;
    case OPT_SEED: return parse_u64(arg, 0, UINT64_MAX, &cfg->seed);
    }
    return false;
}

static const char *option_name(int opt)
{
    for (const struct option *o = LONG_OPTIONS; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

enum options_result options_parse(struct load_config *cfg, int argc, char **argv,
                                  char *why, size_t why_size)
{
    uint64_t nkeys;
    unsigned key_size, value_size;
    set_defaults(cfg, &nkeys, &key_size, &value_size);
    optind = 0;   /* glibc: a full reset, for callers that parse twice */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "s:P:c:k:d:g:m:w:t:C:D:r:h", LONG_OPTIONS, NULL)) != -1) {
        if (opt == 'h') {
            options_usage(stdout);
            return OPTIONS_HELP;
        }
        if (opt == '?' || opt == ':') {
            snprintf(why, why_size, "unknown option or missing value: %s", argv[optind - 1]);
            return OPTIONS_ERROR;
        }
        if (!take_option(cfg, opt, optarg, &nkeys, &key_size, &value_size)) {
            snprintf(why, why_size, "bad value for --%s: '%s'", option_name(opt), optarg);
            return OPTIONS_ERROR;
        }
    }
    if (optind < argc) {
        snprintf(why, why_size, "unexpected argument '%s'", argv[optind]);
        return OPTIONS_ERROR;
    }
    if (!keyspace_init(&cfg->ks, nkeys, key_size, value_size, why, why_size))
        return OPTIONS_ERROR;
    cfg->ks.ttl_min = cfg->ttl_min;
    cfg->ks.ttl_max = cfg->ttl_max;
    if (!key_dist_parse(&cfg->dist, cfg->dist_text, nkeys, why, why_size))
        return OPTIONS_ERROR;
    return OPTIONS_RUN;
}
