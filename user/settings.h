/* settings.h - the daemon's configuration, from memcached's command line.
 *
 * Flags, long options, meanings and defaults follow memcached 1.6. Bad values
 * are refused with a clear message (exit code 64, EX_USAGE), never replaced
 * by a default. */
#ifndef XDPCACHED_SETTINGS_H
#define XDPCACHED_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "allow.h"
#include "store.h"

struct stats_sink;

/* What -V prints after "xdpcached ", and `stats` as xdpcached_version. */
#define XDPCACHED_VERSION "0.1.0"

/* What `version` and `stats` report: the memcached release whose protocol
 * we speak, and nothing more. Clients pick protocol behaviour by it
 * (libmemcached's memccapable among them), and some read the last x.y.z in
 * the string, so a suffix such as "-xdpcached-0.1.0" made node's memcached
 * client see version 0.1.0. */
#define XDPCACHED_PROTOCOL_VERSION "1.6.18"

#define SETTINGS_MAX_LISTEN 16
#define SETTINGS_MAX_XDP_IFACES 16
#define SETTINGS_MAX_CPUS 1024      /* --cpu-list entries; also THREADS_MAX */

/* --xdp-mode */
enum settings_xdp_mode {
    SETTINGS_XDP_AUTO,           /* native, or generic where native fails */
    SETTINGS_XDP_NATIVE,         /* in the driver */
    SETTINGS_XDP_GENERIC,        /* in the kernel's stack, for any driver */
};

/* -B */
enum settings_protocol {
    SETTINGS_PROTOCOL_AUTO,      /* chosen by each connection's first byte */
    SETTINGS_PROTOCOL_ASCII,     /* text and meta only */
    SETTINGS_PROTOCOL_BINARY,    /* binary only */
};

struct listen_addr {
    char host[256];          /* "" = every address; IPv6 without brackets */
    int port;                /* -1 = use -p / -U */
};

struct settings {
    int port;                    /* -p, TCP port; 0 = TCP off, -1 = any free port
                                    (each address its own). Default 11211 */
    int udpport;                 /* -U, UDP port; 0 = UDP off, -1 = any free port.
                                    Default 0 */
    struct listen_addr listen[SETTINGS_MAX_LISTEN]; /* -l, repeatable, comma lists */
    unsigned nlisten;            /* 0 = all interfaces */
    size_t maxbytes;             /* -m in megabytes, stored in bytes. Default 64 MB */
    int maxconns;                /* -c. Default 1024 */
    int num_threads;             /* -t. Default 4 */
    bool use_cas;                /* -C turns off. Default on */
    size_t item_size_max;        /* -I, k/m suffixes. Default 1m, 1k..1024m, <= maxbytes/2 */
    bool evict_to_free;          /* -M turns off. Default on */
    int reqs_per_event;          /* -R. Default 20 */
    int backlog;                 /* -b. Default 1024 */
    int verbose;                 /* -v, -vv, -vvv */
    const char *username;        /* -u; NULL = stay who we are */
    bool flush_enabled;          /* -F turns off */
    bool shutdown_command;       /* -A turns on */
    const char *pidfile;         /* -P */
    const char *socketpath;      /* -s: listen on this unix socket only (no TCP, no UDP) */
    unsigned unix_mask;          /* -a: the socket file's permissions. Default 0700 */
    const char *auth_file;       /* -Y: user:password lines; NULL = no authentication */
    bool daemonize;              /* -d */
    bool enable_coredumps;       /* -r */
    bool lock_memory;            /* -k */
    enum settings_protocol protocol; /* -B. Default auto */
    bool dump_enabled;           /* -X turns off stats cachedump, metadump */
    char prefix_delimiter;       /* -D. Default ':' */
    bool detail_enabled;         /* -D turns stats detail on from the start */
    struct listen_addr metrics_listen; /* --metrics-listen; port -1 = off */
    unsigned short cpus[SETTINGS_MAX_CPUS]; /* --cpu-list: worker i on cpus[i] */
    unsigned ncpus;              /* 0 = workers not pinned */
    char **config_words;         /* --config-file's words, which string
                                    settings point into; settings_release */
    /* -o sub-options we implement */
    unsigned hashpower_init;     /* hashpower=N, 0 = default */
    unsigned idle_timeout;       /* idle_timeout=SECONDS, 0 = never */
    unsigned watcher_logbuf_kb;  /* watcher_logbuf_size=KB: a watcher's buffer. Default 256 */
    bool watch_enabled;          /* -W turns `watch` off. Default on */
    bool maxconns_fast;          /* maxconns_fast / no_maxconns_fast. Default on */
    bool lru_crawler;            /* lru_crawler / no_lru_crawler: background expiry reclaim. Default on */
    /* the XDP fast path (docs/xdp.md) */
    bool xdp;                    /* --xdp on|off. Default on */
    char xdp_ifaces[SETTINGS_MAX_XDP_IFACES][IF_NAMESIZE]; /* --xdp-iface, repeatable */
    unsigned nxdp_ifaces;        /* 0 = no fast path */
    enum settings_xdp_mode xdp_mode; /* --xdp-mode. Default auto */
    unsigned xdp_entries;        /* --xdp-entries: keys. Default 262144 */
    size_t xdp_memory;           /* --xdp-memory, bytes of reply records. Default 64 MB */
    size_t xdp_max_value;        /* --xdp-max-value, bytes. Default 1024 */
    struct allow_list udp_allow; /* --udp-allow, repeatable comma lists */
    bool udp_allow_given;        /* false: main() fills in the default list */
    size_t buffer_memory;        /* --buffer-memory in megabytes, stored in bytes:
                                    connection buffers and unsent replies of all
                                    connections together. Default 32 MB */
};

/* The verbosity level, which the `verbosity` command changes while worker
 * threads read it. */
static inline int settings_verbosity(const struct settings *s)
{
    return __atomic_load_n(&s->verbose, __ATOMIC_RELAXED);
}

/* -s takes the place of every network socket, as in memcached: -U then
 * only shows in stats settings. */
static inline bool settings_listens_udp(const struct settings *s)
{
    return s->udpport != 0 && s->socketpath == NULL;
}

static inline void settings_set_verbosity(struct settings *s, int level)
{
    __atomic_store_n(&s->verbose, level, __ATOMIC_RELAXED);
}

/* Fills s with memcached's defaults. */
void settings_init(struct settings *s);

/* Parses argv into s. Returns -1 when the server should run, otherwise the
 * exit code: 0 after -h / -V (text written to out), memcached's 1 or 64
 * for a bad command line (a one-line reason written to err). Flags for
 * memcached internals write one notice line each to err and run.
 * --config-file FILE (in full, on the command line) reads flags from FILE
 * first, in memcached.conf's format; the command line's come after. */
int settings_parse(struct settings *s, int argc, char **argv, FILE *out, FILE *err);

/* Frees what settings_parse allocated (the --config-file's words). */
void settings_release(struct settings *s);

/* The store the settings ask for (-m, -I, -C, -M, -o hashpower,
 * lru_crawler); reclaim_positions is left 0 (the store's default). */
struct store_config settings_store_config(const struct settings *s);

/* Settings that commands change at run time (cache_memlimit, lru_crawler
 * enable/disable): the store holds their current values. */
struct settings_now {
    uint64_t maxbytes;
    bool lru_crawler;
};

/* The `stats settings` lines, with the run-time values from `now`. */
void settings_report(const struct settings *s, const struct settings_now *now,
                     struct stats_sink *sink);

#endif
