/* fastpath.c - see fastpath.h. The only daemon file that knows the
 * skeleton (build/xdpcached.skel.h) and libbpf.
 *
 * Order of start: load (sizes and port set before), map the cache, create
 * the mirror, fill the allow list, attach; only then install the observer,
 * so a failure on the way needs no undoing in the store. Pinning comes last
 * and may fail alone: the fast path works without pins. */
#include "fastpath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "settings.h"
#include "store.h"
#include "xdp_cache.h"
#include "xdpcached.skel.h"

#define BPFFS "/sys/fs/bpf"
#define PIN_DIR BPFFS "/xdpcached"
/* bpf() hands out each CPU's copy of a per-CPU value in round_up(size, 8)
 * bytes. */
#define PERCPU_SLOT 8
/* "generic," per interface in the stats list. */
#define MODE_NAME_MAX 8

/* The mirror indexes the mmapped map as an array of entries; the kernel lays
 * them out every round_up(value_size, 8) bytes. */
_Static_assert(sizeof(struct xdp_cache_entry) % 8 == 0, "entries are 8-byte multiples");
_Static_assert(sizeof(struct xdp_counters) % PERCPU_SLOT == 0, "counters fill their slots");

/* The maps pinned for bpftool, pinned under their own names. */
static const char *const pinned_maps[] = { "cache", "hits", "counters", "allow" };

struct attachment {
    const char *iface;              /* the settings' name */
    int link_fd;                    /* -1: not attached */
    const char *mode;               /* "native" or "generic" */
    int native_err;                 /* auto mode fell back to generic: why */
    bool pinned;
};

struct fastpath {
    const struct settings *settings;
    struct store *store;
    struct xdpcached_bpf *skel;
    struct xdp_cache_entry *cache;  /* the cache map, mmapped */
    size_t cache_bytes;
    uint32_t nentries;
    __u32 *hits;                    /* the hits map, mmapped: ncpus stripes */
    size_t hits_bytes;
    uint32_t hits_stride;           /* xdp_hits_stride(nentries) */
    struct xdp_mirror *mirror;
    struct attachment attached[SETTINGS_MAX_XDP_IFACES];
    unsigned nattached;
    char iface_list[SETTINGS_MAX_XDP_IFACES * IF_NAMESIZE];
    char mode_list[SETTINGS_MAX_XDP_IFACES * MODE_NAME_MAX];
    int ncpus;
    /* fastpath_tick's own */
    uint32_t *hit_sums;             /* per entry: its CPUs' counters summed
                                       at the last read, modulo 2^32 */
    uint64_t *hit_totals;           /* per entry: every hit so far */
    /* stats, under stats_lock */
    pthread_mutex_t stats_lock;
    struct xdp_counters *percpu;    /* ncpus: one read of the counters map */
    struct xdp_counters counters;   /* summed at the last good read */
    struct xdp_counters counters_base;      /* ... at the last stats reset */
    struct xdp_mirror_stats mirror_base;    /* ... at the last stats reset */
};

/* ---- logging --------------------------------------------------------------- */

static const struct settings *libbpf_log_settings;

/* libbpf's own messages (the verifier's log among them) are the details
 * behind our one-line reasons: shown with -vv, its debug output with -vvv. */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    int needed = level == LIBBPF_DEBUG ? 3 : 2;
    if (settings_verbosity(libbpf_log_settings) < needed)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

/* The one line that says why the daemon serves without the fast path. */
__attribute__((format(printf, 1, 2)))
static bool give_up(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fputs("xdp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("; serving without the fast path\n", stderr);
    funlockfile(stderr);
    va_end(ap);
    return false;
}

/* ---- memory ---------------------------------------------------------------- */

static void fastpath_free(struct fastpath *fp)
{
    for (unsigned i = 0; i < fp->nattached; i++)
        if (fp->attached[i].link_fd >= 0)
            close(fp->attached[i].link_fd);   /* detaches the program */
    if (fp->mirror)
        xdp_mirror_destroy(fp->mirror);
    if (fp->cache)
        munmap(fp->cache, fp->cache_bytes);
    if (fp->hits)
        munmap(fp->hits, fp->hits_bytes);
    xdpcached_bpf__destroy(fp->skel);
    free(fp->hit_sums);
    free(fp->hit_totals);
    free(fp->percpu);
    pthread_mutex_destroy(&fp->stats_lock);
    free(fp);
}

static struct fastpath *fastpath_alloc(const struct settings *s, struct store *store)
{
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) {
        give_up("cannot count the possible CPUs: %s", strerror(-ncpus));
        return NULL;
    }
    struct fastpath *fp = calloc(1, sizeof(*fp));
    if (!fp) {
        give_up("out of memory");
        return NULL;
    }
    fp->settings = s;
    fp->store = store;
    fp->nentries = s->xdp_entries;
    fp->hits_stride = xdp_hits_stride(fp->nentries);
    fp->ncpus = ncpus;
    pthread_mutex_init(&fp->stats_lock, NULL);
    fp->hit_sums = calloc(fp->nentries, sizeof(*fp->hit_sums));
    fp->hit_totals = calloc(fp->nentries, sizeof(*fp->hit_totals));
    fp->percpu = calloc(ncpus, sizeof(*fp->percpu));
    if (!fp->hit_sums || !fp->hit_totals || !fp->percpu) {
        give_up("out of memory for %u entries", fp->nentries);
        fastpath_free(fp);
        return NULL;
    }
    return fp;
}

/* ---- loading --------------------------------------------------------------- */

/* Opens the skeleton, sizes the cache and tells the program its port and
 * bucket mask (read-only data: fixed at load), then loads it. */
static bool load_program(struct fastpath *fp)
{
    const struct settings *s = fp->settings;
    fp->skel = xdpcached_bpf__open();
    if (!fp->skel)
        return give_up("cannot open the program: %s", strerror(errno));
    fp->skel->rodata->server_port = (__u16)s->udpport;
    fp->skel->rodata->bucket_mask = fp->nentries / XDP_CACHE_WAYS - 1;
    fp->skel->rodata->hits_stride = fp->hits_stride;
    if ((uint64_t)fp->hits_stride * (uint64_t)fp->ncpus > UINT32_MAX)
        return give_up("%u entries on %d CPUs: more hit counters than a map holds",
                       fp->nentries, fp->ncpus);
    int err = bpf_map__set_max_entries(fp->skel->maps.cache, fp->nentries);
    if (!err)
        err = bpf_map__set_max_entries(fp->skel->maps.hits,
                                       fp->hits_stride * (__u32)fp->ncpus);
    if (!err)
        err = xdpcached_bpf__load(fp->skel);
    if (err)
        return give_up("cannot load the program (%u entries): %s%s",
                       fp->nentries, strerror(-err),
                       settings_verbosity(s) < 2 ? " (-vv shows the verifier's log)" : "");
    return true;
}

/* Maps a BPF_F_MMAPABLE array of `bytes`; NULL after saying why. */
static void *map_array(const struct bpf_map *map, const char *what, size_t bytes,
                       size_t *mapped)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *mapped = (bytes + page - 1) / page * page;
    void *p = mmap(NULL, *mapped, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
    if (p != MAP_FAILED)
        return p;
    give_up("cannot map the %s (%zu bytes): %s", what, *mapped, strerror(errno));
    return NULL;
}

/* Maps the cache so the mirror writes entries with plain stores (a new
 * array map is all zeros, i.e. every entry empty), and the hit counters so
 * that fastpath_tick reads them without a system call. */
static bool map_arrays(struct fastpath *fp)
{
    fp->cache = map_array(fp->skel->maps.cache, "cache",
                          (size_t)fp->nentries * sizeof(struct xdp_cache_entry),
                          &fp->cache_bytes);
    if (fp->cache)
        fp->hits = map_array(fp->skel->maps.hits, "hit counters",
                             (size_t)fp->hits_stride * fp->ncpus * sizeof(__u32),
                             &fp->hits_bytes);
    return fp->hits != NULL;
}

static bool create_mirror(struct fastpath *fp)
{
    struct xdp_mirror_config config = {
        .entries = fp->cache,
        .nentries = fp->nentries,
        .max_value = fp->settings->xdp_max_value,
    };
    fp->mirror = xdp_mirror_create(&config);
    if (!fp->mirror)
        return give_up("cannot create the cache mirror (%u entries): out of "
                       "memory", fp->nentries);
    return true;
}

/* --udp-allow into the LPM trie: the list already keeps IPv4 as
 * IPv4-mapped IPv6 with prefix length 96 + n, the trie's key form. */
static bool fill_allow(struct fastpath *fp)
{
    const struct allow_list *list = &fp->settings->udp_allow;
    int fd = bpf_map__fd(fp->skel->maps.allow);
    const __u8 allowed = 1;
    for (unsigned i = 0; i < list->n; i++) {
        struct xdp_allow_key key = { .prefixlen = list->nets[i].prefixlen };
        memcpy(key.addr, list->nets[i].addr, sizeof(key.addr));
        int err = bpf_map_update_elem(fd, &key, &allowed, BPF_ANY);
        if (err) {
            char net[ALLOW_TEXT_MAX];
            allow_format(&list->nets[i], net);
            return give_up("cannot add %s to the allow list: %s", net,
                           strerror(-err));
        }
    }
    return true;
}

/* ---- attaching ------------------------------------------------------------- */

/* A bpf_link, not a netlink attachment: the link lives as long as its file
 * descriptor, which only this process holds and nothing pins, so the kernel
 * detaches the program whenever the daemon ends, kill -9 included. */
static int link_xdp(struct fastpath *fp, int ifindex, __u32 mode_flag)
{
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flag);
    return bpf_link_create(bpf_program__fd(fp->skel->progs.xdpcached), ifindex,
                           BPF_XDP, &opts);
}

/* Attaches to one interface in the --xdp-mode, setting a->link_fd; auto
 * tries native, then generic. Logs why when it cannot. */
static bool attach_iface(struct fastpath *fp, struct attachment *a)
{
    enum settings_xdp_mode mode = fp->settings->xdp_mode;
    int ifindex = (int)if_nametoindex(a->iface);
    if (ifindex == 0)
        return give_up("cannot attach to %s: %s", a->iface, strerror(errno));
    int fd = -1;
    if (mode != SETTINGS_XDP_GENERIC) {
        fd = link_xdp(fp, ifindex, XDP_FLAGS_DRV_MODE);
        a->mode = "native";
        if (fd < 0 && mode == SETTINGS_XDP_NATIVE)
            return give_up("cannot attach to %s in native mode: %s", a->iface,
                           strerror(-fd));
        a->native_err = fd < 0 ? -fd : 0;
    }
    if (fd < 0) {
        fd = link_xdp(fp, ifindex, XDP_FLAGS_SKB_MODE);
        a->mode = "generic";
    }
    if (fd < 0 && mode == SETTINGS_XDP_AUTO)
        return give_up("cannot attach to %s in native mode (%s) or generic "
                       "mode (%s)", a->iface, strerror(a->native_err),
                       strerror(-fd));
    if (fd < 0)
        return give_up("cannot attach to %s in generic mode: %s", a->iface,
                       strerror(-fd));
    a->link_fd = fd;
    return true;
}

/* Appends ",word" (just "word" first) to a list for `stats`. */
static void list_append(char *list, size_t size, const char *word)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used ? "," : "", word);
}

/* Every interface or none: the fast path is all on or all off. */
static bool attach_all(struct fastpath *fp)
{
    const struct settings *s = fp->settings;
    for (unsigned i = 0; i < s->nxdp_ifaces; i++) {
        struct attachment *a = &fp->attached[fp->nattached++];
        *a = (struct attachment){ .iface = s->xdp_ifaces[i], .link_fd = -1 };
        if (!attach_iface(fp, a))
            return false;
        list_append(fp->iface_list, sizeof(fp->iface_list), a->iface);
        list_append(fp->mode_list, sizeof(fp->mode_list), a->mode);
    }
    return true;
}

/* ---- pinning --------------------------------------------------------------- */

/* The maps are pinned for bpftool on bpffs, mounted here if need be. */
static int ensure_bpffs(void)
{
    struct statfs st;
    if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
        return 0;
    return mount("bpf", BPFFS, "bpf", 0, NULL) == 0 ? 0 : -errno;
}

static void pin_path(char *path, size_t size, const char *iface, const char *name)
{
    snprintf(path, size, PIN_DIR "/%s%s%s", iface, name ? "/" : "", name ? name : "");
}

/* Removes iface's pins, and its directory when dir is true. Pins of a
 * daemon that was killed are found and removed the same way. Returns 0 or
 * the first errno other than "not there". */
static int unpin_iface(const char *iface, bool dir)
{
    char path[PATH_MAX];
    int err = 0;
    for (size_t i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
        pin_path(path, sizeof(path), iface, pinned_maps[i]);
        if (unlink(path) != 0 && errno != ENOENT && err == 0)
            err = errno;
    }
    pin_path(path, sizeof(path), iface, NULL);
    if (dir && rmdir(path) != 0 && errno != ENOENT && err == 0)
        err = errno;
    return err;
}

static int pin_iface(struct fastpath *fp, const char *iface)
{
    char path[PATH_MAX];
    pin_path(path, sizeof(path), iface, NULL);
    if ((mkdir(PIN_DIR, 0700) != 0 && errno != EEXIST) ||
        (mkdir(path, 0700) != 0 && errno != EEXIST))
        return errno;
    int err = unpin_iface(iface, false);
    for (size_t i = 0; err == 0 && i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
        struct bpf_map *map = bpf_object__find_map_by_name(fp->skel->obj, pinned_maps[i]);
        pin_path(path, sizeof(path), iface, pinned_maps[i]);
        err = map ? -bpf_obj_pin(bpf_map__fd(map), path) : ENOENT;
    }
    return err;
}

/* Pins under /sys/fs/bpf/xdpcached/<iface>/; a failure is logged and the
 * fast path goes on unpinned. */
static void pin_all(struct fastpath *fp)
{
    int err = ensure_bpffs();
    if (err) {
        fprintf(stderr, "xdp: maps are not pinned: cannot mount bpffs on "
                BPFFS ": %s\n", strerror(-err));
        return;
    }
    for (unsigned i = 0; i < fp->nattached; i++) {
        struct attachment *a = &fp->attached[i];
        err = pin_iface(fp, a->iface);
        if (err) {
            fprintf(stderr, "xdp: maps are not pinned under " PIN_DIR "/%s: "
                    "%s\n", a->iface, strerror(err));
            unpin_iface(a->iface, true);
            continue;
        }
        a->pinned = true;
    }
}

static void unpin_all(struct fastpath *fp)
{
    for (unsigned i = 0; i < fp->nattached; i++) {
        const char *iface = fp->attached[i].iface;
        int err = fp->attached[i].pinned ? unpin_iface(iface, true) : 0;
        if (err)
            fprintf(stderr, "xdp: cannot remove the pins under " PIN_DIR
                    "/%s: %s\n", iface, strerror(err));
    }
    rmdir(PIN_DIR);     /* fails while another daemon's pins are there: fine */
}

/* ---- start and stop -------------------------------------------------------- */

static void log_attached(const struct fastpath *fp)
{
    flockfile(stderr);
    fputs("xdp: attached to ", stderr);
    for (unsigned i = 0; i < fp->nattached; i++) {
        const struct attachment *a = &fp->attached[i];
        fprintf(stderr, "%s%s in %s mode", i ? ", " : "", a->iface, a->mode);
        if (a->native_err)
            fprintf(stderr, " (native: %s)", strerror(a->native_err));
    }
    fprintf(stderr, "; %u entries, values up to %zu bytes\n", fp->nentries,
            fp->settings->xdp_max_value);
    funlockfile(stderr);
}

struct fastpath *fastpath_start(const struct settings *s, struct store *store)
{
    if (!s->xdp || s->nxdp_ifaces == 0)
        return NULL;
    if (s->udpport == 0) {
        give_up("UDP is off (-U 0), so there is nothing to answer");
        return NULL;
    }
    libbpf_log_settings = s;
    libbpf_set_print(print_libbpf);
    struct fastpath *fp = fastpath_alloc(s, store);
    if (!fp)
        return NULL;
    if (!load_program(fp) || !map_arrays(fp) || !create_mirror(fp) ||
        !fill_allow(fp) || !attach_all(fp)) {
        fastpath_free(fp);
        return NULL;
    }
    struct store_observer observer;
    xdp_mirror_observer(fp->mirror, &observer);
    store_set_observer(store, &observer);
    pin_all(fp);
    log_attached(fp);
    return fp;
}

void fastpath_stop(struct fastpath *fp)
{
    if (!fp)
        return;
    /* Detach first: from here on the kernel answers nothing from the map. */
    for (unsigned i = 0; i < fp->nattached; i++) {
        close(fp->attached[i].link_fd);
        fp->attached[i].link_fd = -1;
    }
    unpin_all(fp);
    store_set_observer(fp->store, &(struct store_observer){ 0 });
    fastpath_free(fp);
}

/* ---- hits ------------------------------------------------------------------ */

/* Adds each entry's new hits to its total. The counters are 32 bits and
 * wrap; their sum over CPUs modulo 2^32 still grows by exactly the hits
 * since the last read (far fewer than 2^32 in a second), so the difference
 * modulo 2^32 is added to a 64-bit total. The program increments them as
 * we read: relaxed loads see each one whole. */
static void read_hits(struct fastpath *fp)
{
    for (uint32_t i = 0; i < fp->nentries; i++) {
        __u32 sum = 0;
        for (int cpu = 0; cpu < fp->ncpus; cpu++)
            sum += __atomic_load_n(&fp->hits[(size_t)cpu * fp->hits_stride + i],
                                   __ATOMIC_RELAXED);
        fp->hit_totals[i] += (__u32)(sum - fp->hit_sums[i]);
        fp->hit_sums[i] = sum;
    }
}

static void mark_used(void *store, const char *key, size_t nkey)
{
    store_mark_used(store, key, nkey);
}

void fastpath_tick(struct fastpath *fp)
{
    if (!fp)
        return;
    read_hits(fp);
    xdp_mirror_harvest(fp->mirror, fp->hit_totals, mark_used, fp->store);
}

/* ---- stats ----------------------------------------------------------------- */

struct xdp_mirror *fastpath_mirror(struct fastpath *fp)
{
    return fp->mirror;
}

/* Sums the per-CPU counters into fp->counters; on failure they keep the last
 * good read. Under stats_lock. */
static void read_counters(struct fastpath *fp)
{
    __u32 key = 0;
    int err = bpf_map_lookup_elem(bpf_map__fd(fp->skel->maps.counters), &key,
                                  fp->percpu);
    if (err) {
        if (settings_verbosity(fp->settings) > 0)
            fprintf(stderr, "xdp: cannot read the counters: %s\n", strerror(-err));
        return;
    }
    memset(&fp->counters, 0, sizeof(fp->counters));
    for (int cpu = 0; cpu < fp->ncpus; cpu++) {
#define X(name) fp->counters.name += fp->percpu[cpu].name;
        XDP_COUNTERS(X)
#undef X
    }
}

void fastpath_get_stats(struct fastpath *fp, struct fastpath_stats *out)
{
    struct xdp_mirror_stats mirror;
    xdp_mirror_get_stats(fp->mirror, &mirror);
    memset(out, 0, sizeof(*out));
    out->ifaces = fp->iface_list;
    out->modes = fp->mode_list;
    out->capacity = fp->nentries;
    pthread_mutex_lock(&fp->stats_lock);
    read_counters(fp);
#define X(name) out->counters.name = fp->counters.name - fp->counters_base.name;
    XDP_COUNTERS(X)
#undef X
    out->mirror.entries = mirror.entries;
    out->mirror.admissions = mirror.admissions - fp->mirror_base.admissions;
    out->mirror.evictions = mirror.evictions - fp->mirror_base.evictions;
    out->mirror.updates = mirror.updates - fp->mirror_base.updates;
    out->mirror.removals = mirror.removals - fp->mirror_base.removals;
    pthread_mutex_unlock(&fp->stats_lock);
}

void fastpath_reset_stats(struct fastpath *fp)
{
    if (!fp)
        return;
    pthread_mutex_lock(&fp->stats_lock);
    read_counters(fp);
    fp->counters_base = fp->counters;
    xdp_mirror_get_stats(fp->mirror, &fp->mirror_base);
    pthread_mutex_unlock(&fp->stats_lock);
}
