/* fastpath.c - see fastpath.h. The only daemon file that knows the
 * skeleton (build/xdpcached.skel.h) and libbpf.
 *
 * Order of start, in the caller's thread and quick: open the skeleton, size
 * it, create the two cache maps (with the object's BTF, so bpftool shows
 * them), map them, create the mirror and install it as the store's
 * observer. The mirror keeps the (still unread) maps coherent from the
 * first write on; keys are admitted only once the program is attached.
 * Then, in a thread of its own: load (the verifier may take seconds), fill
 * the allow list, attach, pin. The daemon serves meanwhile; `stats` says
 * where it is (xdp_state). */
#include "fastpath.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
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
/* The verifier's log of a failed load: its last bytes (kernels since 6.4
 * keep the end of a log that does not fit) go to a file, its last lines to
 * stderr. */
#define VERIFIER_LOG_SIZE (1u << 20)
#define VERIFIER_LOG_TAIL_LINES 4

/* The mirror indexes the mmapped maps as arrays; the kernel lays values out
 * every round_up(value_size, 8) bytes. */
_Static_assert(sizeof(struct xdp_bucket) % 8 == 0, "buckets are 8-byte multiples");
_Static_assert(sizeof(struct xdp_chunk) % 8 == 0, "chunks are 8-byte multiples");
_Static_assert(sizeof(struct xdp_counters) % PERCPU_SLOT == 0, "counters fill their slots");

/* The maps pinned for bpftool, pinned under their own names. */
static const char *const pinned_maps[] = { "cache_index", "cache_values", "counters", "allow" };

struct attachment {
    const char *iface;              /* the settings' name */
    int link_fd;                    /* -1: not attached */
    const char *mode;               /* "native" or "generic" */
    int native_err;                 /* auto mode fell back to generic: why */
    bool pinned;
};

/* A mapped BPF array the daemon writes (cache_index, cache_values). */
struct shared_array {
    int fd;
    void *mem;
    size_t bytes;                   /* mapped, whole pages */
};

struct fastpath {
    const struct settings *settings;
    struct store *store;
    struct xdpcached_bpf *skel;
    struct shared_array index;      /* nbuckets struct xdp_bucket */
    struct shared_array values;     /* nchunks struct xdp_chunk */
    uint32_t nbuckets;
    uint32_t nchunks;
    struct xdp_mirror *mirror;
    int ncpus;
    /* The loader thread's; read by others once state is attached. */
    pthread_t loader;
    bool loader_started;
    int state;                      /* atomic: enum fastpath_state */
    struct attachment attached[SETTINGS_MAX_XDP_IFACES];
    unsigned nattached;
    char iface_list[SETTINGS_MAX_XDP_IFACES * IF_NAMESIZE];
    char mode_list[SETTINGS_MAX_XDP_IFACES * MODE_NAME_MAX];
    uint32_t verified_insns;        /* xdpcached's, */
    uint32_t verified_insns_mg;     /* and xdpcached_mg's */
    char *verifier_log;
    /* stats, under stats_lock */
    pthread_mutex_t stats_lock;
    struct xdp_counters *percpu;    /* ncpus: one read of the counters map */
    struct xdp_counters counters;   /* summed at the last good read */
    struct xdp_counters counters_base;      /* ... at the last stats reset */
    struct xdp_mirror_stats mirror_base;    /* ... at the last stats reset */
};

static const char *const state_names[] = {
    [FASTPATH_LOADING] = "loading", [FASTPATH_ATTACHED] = "attached", [FASTPATH_FAILED] = "failed",
};

static enum fastpath_state state_of(const struct fastpath *fp)
{
    return (enum fastpath_state)__atomic_load_n(&fp->state, __ATOMIC_ACQUIRE);
}

/* ---- logging --------------------------------------------------------------- */

static const struct settings *libbpf_log_settings;

/* libbpf's own messages are the details behind our one-line reasons: shown
 * with -vv, its debug output with -vvv. The verifier's log is not among
 * them: it goes to its own buffer (save_verifier_log). */
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

static void unmap_array(struct shared_array *a)
{
    if (a->mem)
        munmap(a->mem, a->bytes);
    if (a->fd >= 0)
        close(a->fd);
}

/* Closes the links: from here on the kernel answers nothing from the map. */
static void detach_all(struct fastpath *fp)
{
    for (unsigned i = 0; i < fp->nattached; i++) {
        if (fp->attached[i].link_fd >= 0)
            close(fp->attached[i].link_fd);
        fp->attached[i].link_fd = -1;
    }
}

static void fastpath_free(struct fastpath *fp)
{
    detach_all(fp);
    if (fp->mirror)
        xdp_mirror_destroy(fp->mirror);
    unmap_array(&fp->index);
    unmap_array(&fp->values);
    xdpcached_bpf__destroy(fp->skel);
    free(fp->percpu);
    free(fp->verifier_log);
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
    fp->nbuckets = xdp_mirror_buckets_for(s->xdp_entries);
    fp->nchunks = (uint32_t)(s->xdp_memory / XDP_CHUNK_SIZE);
    fp->ncpus = ncpus;
    fp->index.fd = fp->values.fd = -1;
    pthread_mutex_init(&fp->stats_lock, NULL);
    fp->percpu = calloc(ncpus, sizeof(*fp->percpu));
    fp->verifier_log = malloc(VERIFIER_LOG_SIZE);
    if (!fp->percpu || !fp->verifier_log) {
        give_up("out of memory");
        fastpath_free(fp);
        return NULL;
    }
    fp->verifier_log[0] = '\0';
    return fp;
}

/* ---- the cache maps ------------------------------------------------------------ */

/* Opens the skeleton and tells the program its port and the maps' sizes
 * (read-only data: fixed at load). */
static bool open_program(struct fastpath *fp)
{
    fp->skel = xdpcached_bpf__open();
    if (!fp->skel)
        return give_up("cannot open the program: %s", strerror(errno));
    fp->skel->rodata->server_port = (__u16)fp->settings->udpport;
    fp->skel->rodata->bucket_mask = fp->nbuckets - 1;
    fp->skel->rodata->value_chunks = fp->nchunks;
    int err = bpf_map__set_max_entries(fp->skel->maps.cache_index, fp->nbuckets);
    if (!err)
        err = bpf_map__set_max_entries(fp->skel->maps.cache_values, fp->nchunks);
    if (err)
        return give_up("cannot size the cache maps: %s", strerror(-err));
    bpf_program__set_log_buf(fp->skel->progs.xdpcached, fp->verifier_log, VERIFIER_LOG_SIZE);
    bpf_program__set_log_buf(fp->skel->progs.xdpcached_mg, fp->verifier_log,
                             VERIFIER_LOG_SIZE);
    return true;
}

/* The object's BTF, loaded into the kernel on its own (a copy: the object
 * loads its own later), for the maps created before the object is loaded.
 * Returns its fd, or -errno. */
static int load_object_btf(const struct bpf_object *obj)
{
    __u32 size;
    const void *raw = btf__raw_data(bpf_object__btf(obj), &size);
    struct btf *copy = raw ? btf__new(raw, size) : NULL;
    int err = copy ? btf__load_into_kernel(copy) : -ENOMEM;
    int fd = err ? err : dup(btf__fd(copy));
    btf__free(copy);
    return fd < 0 && !err ? -errno : fd;
}

/* Creates the map as the object defines it (name, type, sizes, flags, BTF
 * types) and maps it; the skeleton reuses it when it loads. */
static bool create_array(struct bpf_map *map, int btf_fd,
                         struct shared_array *a)
{
    LIBBPF_OPTS(bpf_map_create_opts, opts, .btf_fd = (__u32)btf_fd,
                .btf_key_type_id = bpf_map__btf_key_type_id(map),
                .btf_value_type_id = bpf_map__btf_value_type_id(map),
                .map_flags = bpf_map__map_flags(map));
    size_t bytes = (size_t)bpf_map__value_size(map) * bpf_map__max_entries(map);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    a->fd = bpf_map_create(bpf_map__type(map), bpf_map__name(map), bpf_map__key_size(map),
                           bpf_map__value_size(map), bpf_map__max_entries(map), &opts);
    if (a->fd < 0)
        return give_up("cannot create the map %s (%zu bytes): %s", bpf_map__name(map), bytes,
                       strerror(errno));
    a->bytes = (bytes + page - 1) / page * page;
    a->mem = mmap(NULL, a->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
    if (a->mem == MAP_FAILED) {
        a->mem = NULL;
        return give_up("cannot map the map %s (%zu bytes): %s", bpf_map__name(map), a->bytes,
                       strerror(errno));
    }
    int err = bpf_map__reuse_fd(map, a->fd);
    if (err)
        return give_up("cannot hand the map %s to the program: %s", bpf_map__name(map),
                       strerror(-err));
    return true;
}

static bool create_cache(struct fastpath *fp)
{
    int btf_fd = load_object_btf(fp->skel->obj);
    if (btf_fd < 0)
        return give_up("cannot load the program's BTF: %s", strerror(-btf_fd));
    bool ok = create_array(fp->skel->maps.cache_index, btf_fd, &fp->index) &&
              create_array(fp->skel->maps.cache_values, btf_fd, &fp->values);
    close(btf_fd);
    if (!ok)
        return false;
    struct xdp_mirror_config config = {
        .buckets = fp->index.mem, .nbuckets = fp->nbuckets,
        .chunks = fp->values.mem, .nchunks = fp->nchunks,
        .max_value = fp->settings->xdp_max_value,
    };
    fp->mirror = xdp_mirror_create(&config);
    if (!fp->mirror)
        return give_up("cannot create the cache mirror (%u buckets): out of memory",
                       fp->nbuckets);
    return true;
}

/* ---- loading (the loader thread) --------------------------------------------- */

/* The verifier's log of a failed load to a file (in $RUNTIME_DIRECTORY, as
 * systemd sets it, else /tmp), named in the one log line; its last lines
 * follow that line, indented. */
static void report_load_failure(struct fastpath *fp, int err)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    const char *log = fp->verifier_log;
    size_t len = strnlen(log, VERIFIER_LOG_SIZE);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/xdpcached-verifier.%ld.log", dir ? dir : "/tmp",
             (long)getpid());
    FILE *f = len ? fopen(path, "w") : NULL;
    bool saved = f && fwrite(log, 1, len, f) == len;
    if (f && fclose(f) != 0)
        saved = false;
    give_up("the kernel refused the program: %s (verifier log: %s)", strerror(-err),
            saved ? path : len ? "not saved" : "none");
    size_t tail = len;
    for (int lines = 0; tail > 0 && lines <= VERIFIER_LOG_TAIL_LINES; tail--)
        lines += log[tail - 1] == '\n';
    for (const char *line = log + tail; *line; ) {
        size_t n = strcspn(line, "\n");
        if (n)
            fprintf(stderr, "xdp:   %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
}

static uint32_t verified_insns(const struct bpf_program *prog)
{
    struct bpf_prog_info info = { 0 };
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0)
        return 0;
    return info.verified_insns;
}

static bool load_program(struct fastpath *fp)
{
    int err = xdpcached_bpf__load(fp->skel);
    if (err) {
        report_load_failure(fp, err);
        return false;
    }
    fp->verified_insns = verified_insns(fp->skel->progs.xdpcached);
    fp->verified_insns_mg = verified_insns(fp->skel->progs.xdpcached_mg);
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
    fprintf(stderr, "; %u keys in %u buckets, %u MB of replies, values up to %zu bytes; "
            "verified in %u and %u instructions\n", fp->nbuckets * XDP_BUCKET_SLOTS,
            fp->nbuckets, (unsigned)(fp->settings->xdp_memory >> 20),
            fp->settings->xdp_max_value, fp->verified_insns, fp->verified_insns_mg);
    funlockfile(stderr);
}

/* The loader thread: everything that may take long or fail late. The fast
 * path is all on or all off: a failure detaches what was attached. */
static void *load_and_attach(void *arg)
{
    struct fastpath *fp = arg;
    enum fastpath_state state = FASTPATH_FAILED;
    if (load_program(fp) && fill_allow(fp) && attach_all(fp)) {
        pin_all(fp);
        log_attached(fp);
        state = FASTPATH_ATTACHED;
    } else {
        detach_all(fp);
    }
    free(fp->verifier_log);
    fp->verifier_log = NULL;
    __atomic_store_n(&fp->state, state, __ATOMIC_RELEASE);
    return NULL;
}

/* What is left of a fast path that could not start (the reason logged):
 * nothing but its state, for `stats`. */
static struct fastpath *start_failed(struct fastpath *fp)
{
    xdp_mirror_destroy(fp->mirror);
    fp->mirror = NULL;
    unmap_array(&fp->index);
    unmap_array(&fp->values);
    fp->index.fd = fp->values.fd = -1;
    fp->index.mem = fp->values.mem = NULL;
    xdpcached_bpf__destroy(fp->skel);
    fp->skel = NULL;
    __atomic_store_n(&fp->state, FASTPATH_FAILED, __ATOMIC_RELEASE);
    return fp;
}

struct fastpath *fastpath_start(const struct settings *s, struct store *store)
{
    if (!s->xdp || s->nxdp_ifaces == 0)
        return NULL;
    libbpf_log_settings = s;
    libbpf_set_print(print_libbpf);
    struct fastpath *fp = fastpath_alloc(s, store);
    if (!fp)
        return NULL;
    if (s->udpport == 0) {
        give_up("UDP is off (-U 0), so there is nothing to answer");
        return start_failed(fp);
    }
    if (!settings_listens_udp(s)) {
        give_up("only the unix socket (-s) listens, so there is no UDP to answer");
        return start_failed(fp);
    }
    /* The program is built with its port (read-only data); a port the
     * kernel picks, one per address, is not known here. */
    if (s->udpport < 0) {
        give_up("-U -1 leaves the UDP port to the kernel; the fast path needs it "
                "named (-U <port>)");
        return start_failed(fp);
    }
    if (!open_program(fp) || !create_cache(fp))
        return start_failed(fp);
    struct store_observer observer;
    xdp_mirror_observer(fp->mirror, &observer);
    store_set_observer(store, &observer);
    int err = pthread_create(&fp->loader, NULL, load_and_attach, fp);
    if (err) {
        give_up("cannot start the loader thread: %s", strerror(err));
        __atomic_store_n(&fp->state, FASTPATH_FAILED, __ATOMIC_RELEASE);
        return fp;
    }
    fp->loader_started = true;
    return fp;
}

enum fastpath_state fastpath_wait(struct fastpath *fp)
{
    if (fp->loader_started) {
        pthread_join(fp->loader, NULL);
        fp->loader_started = false;
    }
    return state_of(fp);
}

void fastpath_stop(struct fastpath *fp)
{
    if (!fp)
        return;
    fastpath_wait(fp);
    detach_all(fp);
    unpin_all(fp);
    store_set_observer(fp->store, &(struct store_observer){ 0 });
    fastpath_free(fp);
}

/* ---- hits ------------------------------------------------------------------ */

static void mark_used(void *store, const char *key, size_t nkey)
{
    store_mark_used(store, key, nkey);
}

void fastpath_tick(struct fastpath *fp)
{
    if (fp && state_of(fp) == FASTPATH_ATTACHED)
        xdp_mirror_harvest(fp->mirror, mark_used, fp->store);
}

void fastpath_read_hit(void *fastpath, const struct item_view *item)
{
    struct fastpath *fp = fastpath;
    if (state_of(fp) == FASTPATH_ATTACHED)
        xdp_mirror_read(fp->mirror, item);
}

/* ---- stats ----------------------------------------------------------------- */

/* Sums the per-CPU counters into fp->counters; on failure they keep the last
 * good read. Under stats_lock, once attached. */
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
    struct xdp_mirror_stats mirror = { 0 };
    enum fastpath_state state = state_of(fp);
    if (fp->mirror)
        xdp_mirror_get_stats(fp->mirror, &mirror);
    memset(out, 0, sizeof(*out));
    out->state = state_names[state];
    out->attached = state == FASTPATH_ATTACHED;
    out->capacity = (uint64_t)fp->nbuckets * XDP_BUCKET_SLOTS;
    out->memory = (uint64_t)fp->nchunks * XDP_CHUNK_SIZE;
    out->ifaces = "";
    out->modes = "";
    pthread_mutex_lock(&fp->stats_lock);
    if (state == FASTPATH_ATTACHED) {
        out->ifaces = fp->iface_list;
        out->modes = fp->mode_list;
        out->verified_insns = fp->verified_insns;
        out->verified_insns_mg = fp->verified_insns_mg;
        read_counters(fp);
    }
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
    if (state_of(fp) == FASTPATH_ATTACHED)
        read_counters(fp);
    fp->counters_base = fp->counters;
    if (fp->mirror)
        xdp_mirror_get_stats(fp->mirror, &fp->mirror_base);
    pthread_mutex_unlock(&fp->stats_lock);
}
