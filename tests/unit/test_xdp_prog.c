/* test_xdp_prog.c - the XDP program (bpf/xdpcached.bpf.c) run with
 * BPF_PROG_TEST_RUN on crafted frames; at the end, the benchmark's ceiling
 * program (bpf/xdp_ceiling.bpf.c) on the same frames.
 *
 * The cache map is filled by the daemon's own code (a store with the
 * xdp_mirror as its observer, keys admitted by reading them over "UDP"), and
 * every expected reply payload is what the daemon's text protocol
 * (proto_text_run) answers to the same datagram from the same store: the
 * test never types a reply. Reply frames are checked byte for byte against
 * frames the test builds itself, with checksums from its own checksum code.
 *
 * Needs CAP_BPF and CAP_NET_ADMIN (root): without them every test is
 * skipped, saying why. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "mc_udp.h"
#include "obuf.h"
#include "proto_text.h"
#include "store.h"
#include "test_server.h"
#include "xdp_cache.h"
#include "xdp_counters.h"
#include "xdp_mirror.h"
#include "xdp_ceiling.skel.h"
#include "xdp_pass.skel.h"
#include "xdpcached.skel.h"

#define PORT 11211
#define NBUCKETS 256
#define NCHUNKS 16384                   /* 1 MB of records */
/* Every program must verify with this margin (docs/xdp.md, "Verifier
 * budget"): the same program cost 4x more on one kernel build than on the
 * one before. */
#define VERIFIED_INSNS_BUDGET 200000
#define MAX_VALUE 1300
#define FRAME_MAX 8192

/* ---- the program, its maps, the daemon's side ------------------------------ */

struct env {
    const char *skip_reason;        /* set when BPF cannot be used here */
    struct xdpcached_bpf *skel;
    struct xdpcached_bpf *skel_small; /* same maps; as if it had little tailroom */
    int prog_fd;
    struct xdp_ceiling_bpf *ceiling;
    int ncpus;
    struct xdp_bucket *buckets;     /* the cache maps, mmapped */
    size_t buckets_bytes;
    struct xdp_chunk *chunks;
    size_t chunks_bytes;
    /* the daemon */
    struct test_server srv;         /* its env: reads for expected replies, admit nothing */
    struct xdp_mirror *mirror;
    struct proto_env admit_env;     /* UDP reads admit keys (as the daemon's) */
};

static struct env env;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    /* Warnings include the verifier's log when a load fails. */
    if (level == LIBBPF_WARN || getenv("XDP_TEST_DEBUG"))
        return vfprintf(stderr, fmt, ap);
    return 0;
}

/* Tailroom the second program acts as if it had (veth leaves a few dozen
 * bytes). */
#define TEST_TAILROOM 100
/* Headroom BPF_PROG_TEST_RUN leaves for growing: XDP_PACKET_HEADROOM less
 * the struct xdp_frame kept there. */
#define TEST_HEADROOM 216

static struct xdpcached_bpf *open_prog(uint32_t test_tailroom)
{
    struct xdpcached_bpf *skel = xdpcached_bpf__open();
    assert_non_null(skel);
    skel->rodata->server_port = PORT;
    skel->rodata->bucket_mask = NBUCKETS - 1;
    skel->rodata->value_chunks = NCHUNKS;
    skel->rodata->test_tailroom = test_tailroom;
    assert_int_equal(bpf_map__set_max_entries(skel->maps.cache_index, NBUCKETS), 0);
    assert_int_equal(bpf_map__set_max_entries(skel->maps.cache_values, NCHUNKS), 0);
    return skel;
}

static void allow(const uint8_t addr[16], uint32_t prefixlen)
{
    struct xdp_allow_key key = { .prefixlen = prefixlen };
    uint8_t one = 1;
    memcpy(key.addr, addr, 16);
    assert_int_equal(bpf_map_update_elem(bpf_map__fd(env.skel->maps.allow), &key, &one, BPF_ANY),
                     0);
}

static void *map_array(const struct bpf_map *map, size_t value_size, size_t n, size_t *bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    assert_int_equal(bpf_map__value_size(map), value_size);
    *bytes = (value_size * n + page - 1) / page * page;
    void *mem = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
    assert_true(mem != MAP_FAILED);
    return mem;
}

/* Loads the program (twice: the second one has little tailroom and shares
 * the first one's maps) and maps the cache. */
static bool load_programs(void)
{
    env.skel = open_prog(0);
    int err = xdpcached_bpf__load(env.skel);
    if (err == -EPERM) {
        env.skip_reason = "loading an XDP program needs CAP_BPF and CAP_NET_ADMIN (run as root)";
        xdpcached_bpf__destroy(env.skel);
        env.skel = NULL;
        return false;
    }
    if (err)
        fail_msg("loading the XDP program failed: %s (verifier log above)", strerror(-err));
    env.prog_fd = bpf_program__fd(env.skel->progs.xdpcached);

    env.skel_small = open_prog(TEST_TAILROOM);
    struct bpf_map *shared[][2] = {
        { env.skel_small->maps.cache_index, env.skel->maps.cache_index },
        { env.skel_small->maps.cache_values, env.skel->maps.cache_values },
        { env.skel_small->maps.counters, env.skel->maps.counters },
        { env.skel_small->maps.allow, env.skel->maps.allow },
    };
    for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
        assert_int_equal(bpf_map__reuse_fd(shared[i][0], bpf_map__fd(shared[i][1])), 0);
    assert_int_equal(xdpcached_bpf__load(env.skel_small), 0);
    env.ceiling = xdp_ceiling_bpf__open_and_load();
    assert_non_null(env.ceiling);

    /* The daemon's way to reach the cache: an mmap of each array. */
    env.buckets = map_array(env.skel->maps.cache_index, sizeof(struct xdp_bucket), NBUCKETS,
                            &env.buckets_bytes);
    env.chunks = map_array(env.skel->maps.cache_values, sizeof(struct xdp_chunk), NCHUNKS,
                           &env.chunks_bytes);

    /* Allowed: 10.0.0.0/8 and fd00::/16, IPv4 as ::ffff:a.b.c.d. */
    uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, [12] = 10 };
    uint8_t v6[16] = { 0xfd, 0x00 };
    allow(v4, 96 + 8);
    allow(v6, 16);
    return true;
}

static void start_daemon(void)
{
    assert_true(test_server_init(&env.srv));
    env.srv.settings.maxbytes = 64 << 20;
    assert_true(test_server_new_store(&env.srv));
    struct xdp_mirror_config mc = {
        .buckets = env.buckets, .nbuckets = NBUCKETS, .chunks = env.chunks, .nchunks = NCHUNKS,
        .max_value = MAX_VALUE,
    };
    env.mirror = xdp_mirror_create(&mc);
    assert_non_null(env.mirror);
    struct store_observer obs;
    xdp_mirror_observer(env.mirror, &obs);
    store_set_observer(env.srv.store, &obs);
    env.admit_env = env.srv.env;
    env.admit_env.udp_read_hit = xdp_mirror_read;
    env.admit_env.udp_read_ctx = env.mirror;
}

/* Runs one datagram's text through the daemon's protocol code as a UDP
 * request; returns its reply (all responses, in order) and how many bytes
 * it consumed. */
static size_t daemon_run(const struct proto_env *penv, const void *req, size_t len,
                         struct obuf *reply)
{
    struct proto_conn pc;
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, req, len);
    proto_conn_init(&pc, penv, &env.srv.thread_stats);
    pc.udp = true;
    obuf_reset(reply);
    size_t used = proto_text_run(&pc, copy, len, reply, 0, NULL);
    free(copy);
    /* Values the reply references in their items, copied in, so that the
     * test reads reply->data whole. */
    char *bytes = test_obuf_bytes(reply);
    size_t n = reply->len;
    obuf_reset(reply);
    obuf_append(reply, bytes, n);
    free(bytes);
    return used;
}

/* ---- items ---------------------------------------------------------------------- */

static void put_expiring(const char *key, const char *value, size_t nvalue, uint32_t flags,
                         int64_t exptime)
{
    struct store_write w = {
        .key = key, .nkey = strlen(key), .value = value, .nvalue = nvalue, .flags = flags,
        .exptime = clock_realtime(exptime),
    };
    assert_int_equal(store_write(env.srv.store, STORE_SET, &w, NULL), STORE_STORED);
}

static void put(const char *key, const char *value, size_t nvalue, uint32_t flags)
{
    put_expiring(key, value, nvalue, flags, 0);
}

static uint32_t hash_of(const char *key, size_t n)
{
    uint32_t h = XDP_HASH_INIT;
    for (size_t i = 0; i < n; i++)
        h = xdp_key_hash_step(h, (uint8_t)key[i]);
    return xdp_key_hash_finish(h);
}

/* The record holding key, found by the mirror, or NULL. */
static struct xdp_record *record_of(const char *key, size_t n)
{
    return (struct xdp_record *)xdp_mirror_lookup(env.mirror, key, n);
}

/* Reads the key over "UDP" until the mirror has put it in the map. */
static void admit(const char *key)
{
    char req[XDP_KEY_MAX + 16];
    struct obuf out;
    obuf_init(&out);
    int n = snprintf(req, sizeof(req), "get %s\r\n", key);
    for (int i = 0; i < XDP_ADMIT_READS; i++)
        daemon_run(&env.admit_env, req, (size_t)n, &out);
    obuf_free(&out);
    if (!record_of(key, strlen(key)))
        fail_msg("the mirror did not admit %s", key);
}

static void put_admitted(const char *key, const char *value, size_t nvalue, uint32_t flags)
{
    put(key, value, nvalue, flags);
    admit(key);
}

/* Keys every test may use. */
static char key250[XDP_KEY_MAX + 1];
static char key250_mg[XDP_KEY_MAX + 1];
static char big_value[800];
static const char *const small_keys[] = {
    "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "foo:bar", "\x80\xff\xc3\xa9",
};
#define NSMALL (sizeof(small_keys) / sizeof(small_keys[0]))

static void fill_items(void)
{
    char value[64];
    for (size_t i = 0; i < NSMALL; i++) {
        int n = snprintf(value, sizeof(value), "value of %zu", i);
        put_admitted(small_keys[i], value, (size_t)n, (uint32_t)i * 1000);
    }
    put_admitted("crlf", "a\r\nb\r\n", 6, 0);
    put_admitted("empty", "", 0, 0xffffffffu);
    memset(key250, 'x', XDP_KEY_MAX);
    put_admitted(key250, "long key", 8, 7);
    memset(big_value, 'b', sizeof(big_value));
    put_admitted("big1", big_value, sizeof(big_value), 0);
    put_admitted("big2", big_value, sizeof(big_value), 0);
    put("cold", "not admitted", 12, 0);
    /* For mg's t: a relative TTL, and an absolute one an hour ahead. */
    put_expiring("ttl", "expiring", 8, 3, 100);
    admit("ttl");
    put_expiring("ttl-abs", "expiring too", 12, 0, (int64_t)time(NULL) + 3600);
    admit("ttl-abs");
    /* The longest mg reply that fits a datagram (checked in test_mg_too_big). */
    static char mg_value[1100];
    memset(mg_value, 'm', sizeof(mg_value));
    memcpy(key250_mg, key250, XDP_KEY_MAX);
    key250_mg[0] = 'm';
    put_admitted(key250_mg, mg_value, sizeof(mg_value), 0);
}

static int setup(void **state)
{
    (void)state;
    libbpf_set_print(print_libbpf);
    env.ncpus = libbpf_num_possible_cpus();
    assert_true(env.ncpus > 0);
    if (!load_programs())
        return 0;
    start_daemon();
    fill_items();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!env.skel)
        return 0;
    test_server_destroy(&env.srv);
    xdp_mirror_destroy(env.mirror);
    munmap(env.buckets, env.buckets_bytes);
    munmap(env.chunks, env.chunks_bytes);
    xdp_ceiling_bpf__destroy(env.ceiling);
    xdpcached_bpf__destroy(env.skel_small);
    xdpcached_bpf__destroy(env.skel);
    return 0;
}

static void need_bpf(void)
{
    if (env.skip_reason) {
        print_message("skipped: %s\n", env.skip_reason);
        skip();
    }
}

/* ---- counters -------------------------------------------------------------------- */

static void read_counters(struct xdp_counters *sum)
{
    struct xdp_counters per_cpu[env.ncpus];
    uint32_t zero = 0;
    assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(env.skel->maps.counters), &zero, per_cpu), 0);
    memset(sum, 0, sizeof(*sum));
    for (int c = 0; c < env.ncpus; c++) {
#define SUM_FIELD(name) sum->name += per_cpu[c].name;
        XDP_COUNTERS(SUM_FIELD)
#undef SUM_FIELD
    }
}

/* Every counter moved by exactly want's value since before. */
static void expect_counters(const struct xdp_counters *before, const struct xdp_counters *want)
{
    struct xdp_counters now;
    read_counters(&now);
#define CHECK_FIELD(name)                                                                   \
    if (now.name - before->name != want->name)                                              \
        fail_msg("counter %s moved by %" PRIu64 ", expected %" PRIu64, #name,               \
                 (uint64_t)(now.name - before->name), (uint64_t)want->name);
    XDP_COUNTERS(CHECK_FIELD)
#undef CHECK_FIELD
}

#define PASSED(reason) ((struct xdp_counters){ .requests = 1, .passes = 1, .reason = 1 })
static const struct xdp_counters NOT_COUNTED;

/* The bit the program sets in the key's bucket when it answers the key
 * (the daemon's eviction reads them). */
static uint32_t *used_bits_of(const char *key, size_t n, uint32_t *bit)
{
    const struct xdp_record *rec = record_of(key, n);
    assert_non_null(rec);
    uint32_t chunk = (uint32_t)((const struct xdp_chunk *)rec - env.chunks);
    struct xdp_bucket *b = &env.buckets[rec->key_hash & (NBUCKETS - 1)];
    for (int way = 0; way < XDP_BUCKET_SLOTS; way++) {
        if (b->slots[way].chunk == chunk) {
            *bit = 1u << way;
            return &b->used;
        }
    }
    fail_msg("no slot points at the record of %.*s", (int)n, key);
    return NULL;
}

/* ---- frames ------------------------------------------------------------------------ */

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IP4_HLEN 20
#define IP6_HLEN 40
#define UDP_HLEN 8
#define NO_EXT (-1)

/* A UDP datagram in an Ethernet frame, every field the test varies. */
struct spec {
    bool ipv6;
    bool vlan;
    uint16_t vlan_tci;
    uint8_t dst_mac[6], src_mac[6];
    uint8_t src[16], dst[16];       /* IPv4: the first 4 bytes */
    uint16_t sport, dport;
    uint8_t tos;                    /* IPv4 TOS, IPv6 traffic class */
    uint8_t ttl;                    /* or hop limit */
    uint16_t ip_id;
    uint16_t frag_off;              /* IPv4 flags and fragment offset */
    uint32_t flow;                  /* IPv6 flow label */
    size_t ip_opts;                 /* IPv4 option bytes (NOPs), a multiple of 4 */
    int ext;                        /* IPv6 extension header before UDP, or NO_EXT */
    uint16_t ext_frag;              /* its offset and M flag, when it is a fragment header */
    bool no_mc_header;              /* the UDP payload is data alone */
    bool no_udp_csum;               /* IPv4: UDP checksum 0, "none" */
    struct { uint16_t id, seq, total, reserved; } mc;
    const void *data;               /* after the frame header */
    size_t len;
    size_t pad;                     /* zero bytes after the IP packet (Ethernet padding) */
    int udp_len_delta;              /* added to the UDP length field */
    int ip_len_delta;               /* added to the IP length field */
};

static struct spec spec4(const char *text)
{
    return (struct spec){
        .dst_mac = { 0x02, 0, 0, 0, 0, 0x01 }, .src_mac = { 0x02, 0, 0, 0, 0, 0x02 },
        .src = { 10, 1, 2, 3 }, .dst = { 10, 9, 8, 7 },
        .sport = 40000, .dport = PORT, .tos = 0x10, .ttl = 61, .ip_id = 0x1234,
        .frag_off = 0x4000, .ext = NO_EXT,
        .mc = { .id = 0xbeef, .seq = 0, .total = 1 },
        .data = text, .len = text ? strlen(text) : 0,
    };
}

static struct spec spec6(const char *text)
{
    struct spec s = spec4(text);
    static const uint8_t src[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 };
    static const uint8_t dst[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
    s.ipv6 = true;
    memcpy(s.src, src, 16);
    memcpy(s.dst, dst, 16);
    s.flow = 0xabcde;
    s.ttl = 63;
    return s;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071, the plain way: big-endian 16-bit words, an odd byte padded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)get16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The one's complement sum of the UDP pseudo-header (RFC 768, RFC 8200). */
static uint32_t pseudo_sum(bool ipv6, const uint8_t *ip, uint32_t udp_len)
{
    uint8_t ph[40];
    if (ipv6) {
        memcpy(ph, ip + 8, 32);
        return sum16(ph, 32, 0) + (udp_len >> 16) + (udp_len & 0xffff) + 17;
    }
    memcpy(ph, ip + 12, 8);
    return sum16(ph, 8, 0) + udp_len + 17;
}

/* Writes the frame; returns its length. */
static size_t build_frame(const struct spec *s, uint8_t *f)
{
    size_t off = 0, mc_len = s->no_mc_header ? 0 : MC_UDP_HEADER_SIZE;
    memcpy(f, s->dst_mac, 6);
    memcpy(f + 6, s->src_mac, 6);
    off = 12;
    if (s->vlan) {
        put16(f + off, 0x8100);
        put16(f + off + 2, s->vlan_tci);
        off += VLAN_HLEN;
    }
    put16(f + off, s->ipv6 ? 0x86dd : 0x0800);
    off += 2;

    uint8_t *ip = f + off;
    size_t ext_len = 0;
    uint32_t udp_len = UDP_HLEN + (uint32_t)mc_len + (uint32_t)s->len;
    if (s->ipv6) {
        ext_len = s->ext == NO_EXT ? 0 : 8;
        ip[0] = (uint8_t)(0x60 | s->tos >> 4);
        ip[1] = (uint8_t)((s->tos & 0xf) << 4 | (s->flow >> 16 & 0xf));
        put16(ip + 2, (uint16_t)s->flow);
        put16(ip + 4, (uint16_t)(ext_len + udp_len + (uint32_t)s->ip_len_delta));
        ip[6] = s->ext == NO_EXT ? 17 : (uint8_t)s->ext;
        ip[7] = s->ttl;
        memcpy(ip + 8, s->src, 16);
        memcpy(ip + 24, s->dst, 16);
        off += IP6_HLEN;
        if (s->ext != NO_EXT) {
            uint8_t *x = f + off;
            memset(x, 0, 8);
            x[0] = 17;
            if (s->ext == 44) {
                put16(x + 2, s->ext_frag);
                put16(x + 6, 0x4242);     /* identification */
            } else {
                x[2] = 1;                 /* PadN over the remaining 6 bytes */
                x[3] = 4;
            }
            off += 8;
        }
    } else {
        size_t ihl = IP4_HLEN + s->ip_opts;
        ip[0] = (uint8_t)(0x40 | ihl / 4);
        ip[1] = s->tos;
        put16(ip + 2, (uint16_t)(ihl + udp_len + (uint32_t)s->ip_len_delta));
        put16(ip + 4, s->ip_id);
        put16(ip + 6, s->frag_off);
        ip[8] = s->ttl;
        ip[9] = 17;
        put16(ip + 10, 0);
        memcpy(ip + 12, s->src, 4);
        memcpy(ip + 16, s->dst, 4);
        memset(ip + IP4_HLEN, 1, s->ip_opts);   /* NOP options */
        put16(ip + 10, fold(sum16(ip, ihl, 0)));
        off += ihl;
    }

    uint8_t *udp = f + off;
    put16(udp, s->sport);
    put16(udp + 2, s->dport);
    put16(udp + 4, (uint16_t)(udp_len + (uint32_t)s->udp_len_delta));
    put16(udp + 6, 0);
    off += UDP_HLEN;
    if (mc_len) {
        put16(f + off, s->mc.id);
        put16(f + off + 2, s->mc.seq);
        put16(f + off + 4, s->mc.total);
        put16(f + off + 6, s->mc.reserved);
        off += mc_len;
    }
    if (s->len)
        memcpy(f + off, s->data, s->len);
    off += s->len;
    uint16_t csum = fold(sum16(udp, udp_len, pseudo_sum(s->ipv6, ip, udp_len)));
    put16(udp + 6, s->no_udp_csum ? 0 : csum ? csum : 0xffff);
    memset(f + off, 0, s->pad);
    return off + s->pad;
}

/* Checks a reply frame's checksums from scratch: the IPv4 header sums to
 * 0xffff, so does the UDP datagram with its pseudo-header, unless (IPv4
 * only) its checksum is 0, "none". */
static void verify_checksums(const uint8_t *f, size_t len)
{
    size_t off = 12;
    if (get16(f + off) == 0x8100)
        off += VLAN_HLEN;
    bool ipv6 = get16(f + off) == 0x86dd;
    const uint8_t *ip = f + off + 2;
    const uint8_t *udp = ip + (ipv6 ? IP6_HLEN : IP4_HLEN);
    uint32_t udp_len = get16(udp + 4);
    assert_true(udp + udp_len == f + len);
    if (!ipv6) {
        assert_int_equal(ip[0], 0x45);
        assert_int_equal(fold(sum16(ip, IP4_HLEN, 0)), 0);
        assert_int_equal(get16(ip + 2), IP4_HLEN + udp_len);
    } else {
        assert_int_equal(get16(ip + 4), udp_len);
    }
    if (!ipv6 && get16(udp + 6) == 0)
        return;
    assert_int_not_equal(get16(udp + 6), 0);
    assert_int_equal(fold(sum16(udp, udp_len, pseudo_sum(ipv6, ip, udp_len))), 0);
}

/* The reply to s carrying data: addresses and ports swapped, everything
 * else of the request's IP header kept, no padding. */
static struct spec reply_spec(const struct spec *s, const void *data, size_t len)
{
    struct spec r = *s;
    memcpy(r.dst_mac, s->src_mac, 6);
    memcpy(r.src_mac, s->dst_mac, 6);
    memcpy(r.src, s->dst, 16);
    memcpy(r.dst, s->src, 16);
    r.sport = s->dport;
    r.dport = s->sport;
    r.mc.seq = 0;
    r.mc.total = 1;
    r.mc.reserved = 0;
    r.data = data;
    r.len = len;
    r.pad = 0;
    r.udp_len_delta = 0;
    r.ip_len_delta = 0;
    return r;
}

static int run_prog(int prog_fd, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
                .data_out = out, .data_size_out = FRAME_MAX, .repeat = 1);
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    if (err)
        fail_msg("BPF_PROG_TEST_RUN: %s", strerror(-err));
    *out_len = opts.data_size_out;
    return (int)opts.retval;
}

static bool is_mg(const char *text)
{
    return strncmp(text, "mg ", 3) == 0;
}

/* The keys of a canonical get/gets line, or mg's one key (the only forms
 * served). */
static size_t split_keys(const char *text, size_t len, const char *keys[], size_t klen[])
{
    size_t i = text[3] == 's' ? 5 : 4, n = 0;
    if (is_mg(text)) {
        keys[0] = text + 3;
        klen[0] = strcspn(keys[0], " \r\n");
        return 1;
    }
    while (i < len && text[i] != '\r' && text[i] != '\n') {
        size_t start = i;
        while (i < len && text[i] != ' ' && text[i] != '\r' && text[i] != '\n')
            i++;
        assert_true(n < XDP_MULTIGET_MAX);
        keys[n] = text + start;
        klen[n++] = i - start;
        if (i < len && text[i] == ' ')
            i++;
    }
    return n;
}

/* Runs s, which must be answered from the map: the reply frame is checked
 * byte for byte, with the payload the daemon gives to the same datagram
 * (what the UDP length covers of s's data). False, having checked nothing,
 * when the daemon's clock ticked meanwhile: mg's t may then differ. */
static bool try_tx_with(int prog_fd, const struct spec *s)
{
    static uint8_t in[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX];
    size_t in_len = build_frame(s, in), out_len;
    size_t seen = s->udp_len_delta < 0 ? s->len - (size_t)-s->udp_len_delta : s->len;
    const char *keys[XDP_MULTIGET_MAX];
    size_t klen[XDP_MULTIGET_MAX], nkeys = split_keys(s->data, seen, keys, klen);
    struct xdp_counters before;

    /* Each served key's used bit is set again. */
    for (size_t k = 0; k < nkeys; k++) {
        uint32_t bit, *used = used_bits_of(keys[k], klen[k], &bit);
        *used &= ~bit;
    }
    read_counters(&before);
    rel_time_t clock_before = clock_now();
    int verdict = run_prog(prog_fd, in, in_len, out, &out_len);
    if (verdict != XDP_TX)
        fail_msg("verdict %d, expected XDP_TX (%d) for \"%.*s\"", verdict, XDP_TX,
                 (int)s->len, (const char *)s->data);

    struct obuf reply;
    obuf_init(&reply);
    assert_int_equal(daemon_run(&env.srv.env, s->data, seen, &reply), seen);
    if (clock_now() != clock_before) {
        obuf_free(&reply);
        return false;
    }
    struct spec r = reply_spec(s, reply.data, reply.len);
    size_t want_len = build_frame(&r, want);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
    verify_checksums(out, out_len);
    obuf_free(&reply);

    struct xdp_counters moved = {
        .requests = 1, .replies = 1, .hits = nkeys, .mg_replies = is_mg(s->data),
        .bytes_sent = out_len,
    };
    expect_counters(&before, &moved);
    for (size_t k = 0; k < nkeys; k++) {
        uint32_t bit, *used = used_bits_of(keys[k], klen[k], &bit);
        if (!(*used & bit))
            fail_msg("the used bit of %.*s is not set", (int)klen[k], keys[k]);
    }
    return true;
}

static void expect_tx_with(int prog_fd, const struct spec *s)
{
    /* The clock ticks once a second: a third try is always within one. */
    for (int tries = 0; tries < 3; tries++) {
        if (try_tx_with(prog_fd, s))
            return;
    }
    fail_msg("the clock ticked during every try");
}

static void expect_tx(const struct spec *s)
{
    expect_tx_with(env.prog_fd, s);
}

/* Runs s, which must go up untouched and move exactly the counters in want. */
static void expect_verdict(const struct spec *s, int verdict, struct xdp_counters want)
{
    static uint8_t in[FRAME_MAX], out[FRAME_MAX];
    size_t in_len = build_frame(s, in), out_len;
    struct xdp_counters before;

    read_counters(&before);
    int got = run_prog(env.prog_fd, in, in_len, out, &out_len);
    if (got != verdict)
        fail_msg("verdict %d, expected %d for \"%.*s\"", got, verdict, (int)s->len,
                 (const char *)s->data);
    if (verdict == XDP_PASS) {
        assert_int_equal(out_len, in_len);
        assert_memory_equal(out, in, in_len);
    }
    expect_counters(&before, &want);
}

static void expect_pass(const struct spec *s, struct xdp_counters want)
{
    expect_verdict(s, XDP_PASS, want);
}

/* ---- served --------------------------------------------------------------------- */

static void test_get_hit(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1\r\n");
    expect_tx(&s);
    s = spec6("get k2\r\n");
    expect_tx(&s);
    /* "\n" alone ends a line too. */
    s = spec4("get foo:bar\n");
    expect_tx(&s);
    /* Key bytes above 0x7f, a value holding CRLF, an empty value with the
     * largest flags, the longest key. */
    s = spec4("get \x80\xff\xc3\xa9\r\n");
    expect_tx(&s);
    s = spec6("get crlf\r\n");
    expect_tx(&s);
    s = spec4("get empty\r\n");
    expect_tx(&s);
    /* The reply's frame header has reserved 0, whatever the request's. */
    s = spec6("get k1\r\n");
    s.mc.reserved = 0xabcd;
    expect_tx(&s);
    char req[300];
    snprintf(req, sizeof(req), "get %s\r\n", key250);
    s = spec4(req);
    expect_tx(&s);
}

static void test_gets_hit(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("gets k3\r\n");
    expect_tx(&s);
    s = spec6("gets k4 k5\n");
    expect_tx(&s);
}

static void test_multiget_all_hits(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1 k2 k3 k4 k5 k6 k7 k8\r\n");
    expect_tx(&s);
    s = spec6("gets k8 k7 k6 k5 k4 k3 k2 k1\r\n");
    expect_tx(&s);
    /* The same key twice: two VALUE lines, two hits on its entry. */
    s = spec4("get k1 k1\r\n");
    expect_tx(&s);
}

static void test_vlan(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1 k2\r\n");
    s.vlan = true;
    s.vlan_tci = 0x2064;
    expect_tx(&s);
    s = spec6("gets k3\r\n");
    s.vlan = true;
    s.vlan_tci = 0x0005;
    expect_tx(&s);
}

/* Ethernet pads short frames to 60 bytes: the datagram's length is the UDP
 * header's, and the reply carries no padding. A long padding makes the
 * reply shorter than the request (the frame shrinks). */
static void test_padding(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1\r\n");
    s.pad = 60 - (ETH_HLEN + IP4_HLEN + UDP_HLEN + MC_UDP_HEADER_SIZE + s.len);
    expect_tx(&s);
    s = spec6("get k2\r\n");
    s.pad = 1000;
    expect_tx(&s);
}

/* Stores key with the value length that makes the reply frame to "get
 * key\r\n" exactly growth bytes longer than the request (IPv4, no VLAN),
 * and admits it. */
static void put_for_growth(const char *key, size_t growth)
{
    static char value[MAX_VALUE];
    char req[64];
    struct obuf reply;
    size_t n = (size_t)snprintf(req, sizeof(req), "get %s\r\n", key);

    memset(value, 'g', sizeof(value));
    obuf_init(&reply);
    for (size_t v = 0; v < sizeof(value); v++) {
        put(key, value, v, 0);
        daemon_run(&env.srv.env, req, n, &reply);
        if (reply.len == n + growth) {
            obuf_free(&reply);
            admit(key);
            return;
        }
    }
    fail_msg("no value makes the reply %zu bytes longer", growth);
}

static void expect_no_room(int prog_fd, const struct spec *s)
{
    static uint8_t in[FRAME_MAX], out[FRAME_MAX];
    size_t in_len = build_frame(s, in), out_len;
    struct xdp_counters before, want = PASSED(pass_no_room);
    read_counters(&before);
    assert_int_equal(run_prog(prog_fd, in, in_len, out, &out_len), XDP_PASS);
    assert_int_equal(out_len, in_len);
    assert_memory_equal(out, in, in_len);
    expect_counters(&before, &want);
}

/* A frame that must grow takes tailroom, else headroom, else both; with
 * neither enough, the request goes up. Run by a program that acts as if
 * it had TEST_TAILROOM bytes of tailroom, and BPF_PROG_TEST_RUN's
 * TEST_HEADROOM of headroom. */
static void test_frame_growth(void **state)
{
    (void)state;
    need_bpf();
    int fd = bpf_program__fd(env.skel_small->progs.xdpcached);
    static const struct { const char *key; size_t growth; bool fits; } cases[] = {
        { "grow1", 20, true },                                      /* tail */
        { "grow2", TEST_TAILROOM, true },
        { "grow3", TEST_TAILROOM + 1, true },                       /* head */
        { "grow4", TEST_HEADROOM, true },
        { "grow5", TEST_HEADROOM + 1, true },                       /* both */
        { "grow6", TEST_HEADROOM + TEST_TAILROOM, true },
        { "grow7", TEST_HEADROOM + TEST_TAILROOM + 1, false },      /* neither */
        { "grow8", 800, false },
    };
    char req[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put_for_growth(cases[i].key, cases[i].growth);
        snprintf(req, sizeof(req), "get %s\r\n", cases[i].key);
        struct spec s = spec4(req);
        if (cases[i].fits)
            expect_tx_with(fd, &s);
        else
            expect_no_room(fd, &s);
        /* The program with tailroom serves them all. */
        expect_tx(&s);
    }
    /* Both ends, behind a VLAN tag, over IPv6 (the same growth: the
     * request's headers grow as much as the reply's). */
    struct spec s = spec6("get grow6\r\n");
    s.vlan = true;
    expect_tx_with(fd, &s);
    /* Shrinking happens at the tail. */
    s = spec4("get grow8\r\n");
    s.pad = 1000;
    expect_tx_with(fd, &s);
}

/* A reply of exactly MC_UDP_MAX_DATAGRAM bytes is served; one more byte
 * is the daemon's to send, in two datagrams. */
static void test_reply_size_limit(void **state)
{
    (void)state;
    need_bpf();
    static char value[MAX_VALUE];
    memset(value, 'v', sizeof(value));
    const char *req = "get big1 edge\r\n";
    struct obuf reply;
    obuf_init(&reply);
    size_t nvalue = 0;
    for (size_t v = 0; v < sizeof(value); v++) {
        put("edge", value, v, 0);
        daemon_run(&env.srv.env, req, strlen(req), &reply);
        if (reply.len == MC_UDP_MAX_DATA) {
            nvalue = v;
            break;
        }
    }
    obuf_free(&reply);
    assert_true(nvalue > 0);
    put_admitted("edge", value, nvalue, 0);
    struct spec s = spec4(req);
    expect_tx(&s);
    /* The mirror rewrites the entry in place when the item changes. */
    put("edge", value, nvalue + 1, 0);
    expect_pass(&s, PASSED(pass_too_big));
}

/* ---- passed up, untouched ------------------------------------------------------- */

static void test_too_many_keys(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1 k2 k3 k4 k5 k6 k7 k8 k9\r\n");
    expect_pass(&s, PASSED(pass_too_many_keys));
}

static void test_miss(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1 nosuchkey k2\r\n");
    expect_pass(&s, PASSED(misses));
    s = spec6("get cold\r\n");      /* in the store, not in the map */
    expect_pass(&s, PASSED(misses));
    /* A key of the same length as cached ones. */
    s = spec4("get k0\r\n");
    expect_pass(&s, PASSED(misses));
}

struct hashed_key {
    uint32_t hash;
    uint32_t n;
};

static int by_hash(const void *a, const void *b)
{
    const struct hashed_key *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Key number i of a deterministic sequence of 10-byte random keys. */
static void nth_key(uint32_t i, char key[11])
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15u;
    for (int c = 0; c < 10; c++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9u;
        key[c] = chars[(x >> 32) % 62];
    }
    key[10] = '\0';
}

/* Two keys of one length with the same 32-bit hash: a birthday search,
 * deterministic. */
static void colliding_keys(char a[11], char b[11])
{
    enum { N = 300000 };
    struct hashed_key *keys = malloc(N * sizeof(*keys));
    assert_non_null(keys);
    char key[11];
    for (uint32_t i = 0; i < N; i++) {
        nth_key(i, key);
        keys[i] = (struct hashed_key){ hash_of(key, 10), i };
    }
    qsort(keys, N, sizeof(*keys), by_hash);
    for (uint32_t i = 1; i < N; i++) {
        nth_key(keys[i - 1].n, a);
        nth_key(keys[i].n, b);
        if (keys[i].hash == keys[i - 1].hash && strcmp(a, b) != 0) {
            free(keys);
            return;
        }
    }
    fail_msg("no two keys with the same hash");
}

/* Same hash, same length, other bytes: the bytes decide. */
static void test_hash_collision(void **state)
{
    (void)state;
    need_bpf();
    char a[11], b[11], req[64];
    colliding_keys(a, b);
    put_admitted(a, "first", 5, 1);
    snprintf(req, sizeof(req), "get %s\r\n", b);
    struct spec s = spec4(req);
    expect_pass(&s, PASSED(misses));
    put_admitted(b, "second", 6, 2);
    expect_tx(&s);
    snprintf(req, sizeof(req), "gets %s %s\r\n", a, b);
    s = spec6(req);
    expect_tx(&s);
}

/* The test plays the writer of a record, as the mirror does. */
static struct xdp_record *record_of_key(const char *key)
{
    struct xdp_record *rec = record_of(key, strlen(key));
    assert_non_null(rec);
    return rec;
}

static void test_expired(void **state)
{
    (void)state;
    need_bpf();
    struct xdp_record *e = record_of_key("k3");
    uint64_t expire = e->expire_ns;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* Now is past the entry's expiry: not served. */
    e->expire_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    struct spec s = spec4("get k1 k3\r\n");
    expect_pass(&s, PASSED(pass_expired));
    e->expire_ns = 1;
    expect_pass(&s, PASSED(pass_expired));
    /* A minute ahead: served. */
    e->expire_ns = (uint64_t)(now.tv_sec + 60) * 1000000000u;
    expect_tx(&s);
    e->expire_ns = expire;
    expect_tx(&s);
}

static void test_race(void **state)
{
    (void)state;
    need_bpf();
    struct xdp_record *e = record_of_key("k4");
    /* A writer in the middle of its update. */
    e->seq++;
    struct spec s = spec4("get k1 k4\r\n");
    expect_pass(&s, PASSED(pass_race));
    s = spec6("gets k4\r\n");
    expect_pass(&s, PASSED(pass_race));
    e->seq++;
    expect_tx(&s);
    /* Lengths no writer would leave behind. */
    uint16_t head = e->head_len;
    e->head_len = 3;
    expect_pass(&s, PASSED(pass_race));
    e->head_len = head;
    expect_tx(&s);
}

/* ---- mg ----------------------------------------------------------------------- */

/* Every flag the fast path serves, alone and together, in several orders,
 * on keys of every kind. */
static void test_mg_hit(void **state)
{
    (void)state;
    need_bpf();
    static const char *const flags[] = {
        "", " v", " f", " k", " s", " t", " c", " q", " O", " Oabc",
        " O1234567890123456789012345678901",       /* the longest opaque */
        " v f", " f v", " v q", " q v", " k c", " v f k s t c Oxyz q",
        " q Oxyz c t s k f v", " s v O\x80\xff t", " c s f",
    };
    static const char *const keys[] = { "k1", "crlf", "empty", "ttl", "ttl-abs", "foo:bar",
                                         "\x80\xff\xc3\xa9", "big1" };
    char req[400];
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
            snprintf(req, sizeof(req), "mg %s%s\r\n", keys[k], flags[f]);
            struct spec s = (k + f) % 2 ? spec6(req) : spec4(req);
            s.vlan = (k + f) % 3 == 0;
            expect_tx(&s);
        }
    }
    struct spec s = spec4("mg k2 v f t\n");
    expect_tx(&s);
    snprintf(req, sizeof(req), "mg %s k v s\r\n", key250);
    s = spec6(req);
    expect_tx(&s);
    /* Through a driver with little tailroom: the frame grows at the head,
     * then at both ends (test_frame_growth's items, run before). */
    s = spec4("mg grow5 v\r\n");
    expect_tx_with(bpf_program__fd(env.skel_small->progs.xdpcached), &s);
    s = spec6("mg grow6 v s\r\n");
    s.vlan = true;
    expect_tx_with(bpf_program__fd(env.skel_small->progs.xdpcached), &s);
}

/* What memcached 1.6.18 itself answers (memcached -U, by hand), so the
 * daemon's replies above are memcached's too. */
static void test_mg_bytes(void **state)
{
    (void)state;
    need_bpf();
    static const struct { const char *req, *reply; } cases[] = {
        { "mg k1 v f s t k\r\n", "VA 10 f0 s10 t-1 kk1\r\nvalue of 0\r\n" },
        { "mg k2\r\n", "HD\r\n" },
        { "mg k2 q\r\n", "HD\r\n" },
        { "mg k2 v q\r\n", "VA 10\r\nvalue of 1\r\n" },
        { "mg k2 O\r\n", "HD O\r\n" },
        { "mg k2 k O123 f\r\n", "HD kk2 O123 f1000\r\n" },
        { "mg empty f v\r\n", "VA 0 f4294967295\r\n\r\n" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct spec s = spec4(cases[i].req);
        static uint8_t in[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX];
        size_t in_len = build_frame(&s, in), out_len;
        assert_int_equal(run_prog(env.prog_fd, in, in_len, out, &out_len), XDP_TX);
        struct spec r = reply_spec(&s, cases[i].reply, strlen(cases[i].reply));
        size_t want_len = build_frame(&r, want);
        assert_int_equal(out_len, want_len);
        assert_memory_equal(out, want, want_len);
    }
}

/* t counts down with the daemon's clock, both computed from the same
 * second (expect_tx retries when the clock ticks between them). */
static void test_mg_ttl(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("mg ttl t v\r\n");
    expect_tx(&s);
    s = spec4("mg ttl-abs t\r\n");
    expect_tx(&s);
    /* A delayed flush_all caps the entry's expiry, not the TTL printed. */
    struct xdp_record *e = record_of_key("ttl");
    uint64_t expire = e->expire_ns;
    e->expire_ns = clock_rel_to_mono_ns(clock_now() + 50);
    s = spec4("mg ttl t\r\n");
    expect_tx(&s);
    e->expire_ns = expire;
}

static void test_mg_pass(void **state)
{
    (void)state;
    need_bpf();
    static const char *const not_served[] = {
        "mg k1 b\r\n", "mg k1 v T30\r\n", "mg k1 N30 v\r\n", "mg k1 R30\r\n",
        "mg k1 E5\r\n", "mg k1 I\r\n", "mg k1 h\r\n", "mg k1 l\r\n", "mg k1 u\r\n",
        "mg k1 P\r\n", "mg k1 L\r\n", "mg k1 x\r\n", "mg k1 v v\r\n", "mg k1 O1 O2\r\n",
        "mg k1 vv\r\n", "mg k1 v f10\r\n", "mg k1 v f k s t c O q x\r\n",
        "mg k1 v f k s t c O q v\r\n",
    };
    for (size_t i = 0; i < sizeof(not_served) / sizeof(not_served[0]); i++) {
        struct spec s = spec4(not_served[i]);
        expect_pass(&s, PASSED(pass_mg_flag));
    }
    static const char *const malformed[] = {
        "mg  k1 v\r\n", "mg k1  v\r\n", "mg k1 v \r\n", "mg k1 \r\n", "mg k1 v",
        "mg k1 v\r", "mg k1 v\r\nmg k2 v\r\n", "mg \r\n", "mg k1 v\tf\r\n",
        "mg k1 O\x01\r\n", "mg k1 v\r\r\n", "mg \n",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        struct spec s = spec6(malformed[i]);
        expect_pass(&s, PASSED(pass_malformed));
    }
    static const char *const too_long[] = {
        "mg k1 O12345678901234567890123456789012\r\n", /* 32 bytes after O */
        "mg k1 v O123456789012345678901234567890123456789\r\n",
    };
    for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
        struct spec s = spec4(too_long[i]);
        expect_pass(&s, PASSED(pass_too_long));
    }
    char req[400];
    snprintf(req, sizeof(req), "mg %sx v\r\n", key250);
    struct spec s = spec4(req);
    expect_pass(&s, PASSED(pass_too_long));
    static const char *const misses[] = { "mg nosuchkey v\r\n", "mg nosuchkey v q\r\n",
                                          "mg cold v f\r\n", "mg cold\r\n" };
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        s = spec4(misses[i]);
        expect_pass(&s, PASSED(misses));
    }
    static const char *const other_meta[] = { "mg\r\n", "mgk1 v\r\n", "ms k1 1\r\nx\r\n",
                                               "md k1\r\n", "mn\r\n", "me k1\r\n",
                                               "ma k1\r\n", "MG k1 v\r\n" };
    for (size_t i = 0; i < sizeof(other_meta) / sizeof(other_meta[0]); i++) {
        s = spec4(other_meta[i]);
        expect_pass(&s, PASSED(pass_not_get));
    }
    /* Expired, and a writer in the middle of an update, as for a get. */
    struct xdp_record *e = record_of_key("k5");
    uint64_t expire = e->expire_ns;
    e->expire_ns = 1;
    s = spec4("mg k5 v\r\n");
    expect_pass(&s, PASSED(pass_expired));
    e->expire_ns = expire;
    e->seq++;
    expect_pass(&s, PASSED(pass_race));
    e->seq++;
    /* Lengths no writer would leave behind. */
    uint8_t flags_len = e->flags_len;
    e->flags_len = 0;
    expect_pass(&s, PASSED(pass_race));
    e->flags_len = flags_len;
    expect_tx(&s);
}

static void test_mg_too_big(void **state)
{
    (void)state;
    need_bpf();
    char req[400];
    snprintf(req, sizeof(req), "mg %s v k\r\n", key250_mg);
    struct spec s = spec4(req);
    expect_tx(&s);
    /* 33 bytes more: over a datagram. */
    snprintf(req, sizeof(req), "mg %s v k O1234567890123456789012345678901\r\n", key250_mg);
    s = spec4(req);
    expect_pass(&s, PASSED(pass_too_big));
}

static void test_too_big(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get big1 big2\r\n");
    expect_pass(&s, PASSED(pass_too_big));
    s = spec4("get big1\r\n");
    expect_tx(&s);
}

static void test_not_allowed(void **state)
{
    (void)state;
    need_bpf();
    const struct xdp_counters dropped = { .requests = 1, .drops_not_allowed = 1 };
    struct spec s = spec4("get k1\r\n");
    s.src[0] = 192;
    expect_verdict(&s, XDP_DROP, dropped);
    s = spec6("get k1\r\n");
    s.src[0] = 0x20;
    expect_verdict(&s, XDP_DROP, dropped);
    /* Before any other check: even what would be passed up is dropped. */
    s = spec4("set k1 0 0 1\r\na\r\n");
    s.src[0] = 11;
    expect_verdict(&s, XDP_DROP, dropped);
    s = spec4("get k1\r\n");
    s.src[0] = 11;
    s.ip_opts = 4;
    expect_verdict(&s, XDP_DROP, dropped);
}

static void test_not_ours(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1\r\n");
    s.dport = PORT + 1;
    expect_pass(&s, NOT_COUNTED);
    s = spec6("get k1\r\n");
    s.dport = 53;
    expect_pass(&s, NOT_COUNTED);
    s = spec4("get k1\r\n");
    s.sport = PORT;             /* a reply of ours coming back, say */
    s.dport = 40000;
    expect_pass(&s, NOT_COUNTED);
    /* A later fragment has no UDP header: nothing says it is ours. */
    s = spec4("get k1\r\n");
    s.frag_off = 0x0010;
    expect_pass(&s, NOT_COUNTED);
    s = spec6("get k1\r\n");
    s.ext = 44;
    s.ext_frag = 0x0008;
    expect_pass(&s, NOT_COUNTED);
    /* TCP, ARP, and frames cut inside the IP or UDP header. */
    static uint8_t in[FRAME_MAX], out[FRAME_MAX];
    size_t out_len;
    struct xdp_counters before;
    read_counters(&before);
    s = spec4("get k1\r\n");
    build_frame(&s, in);
    in[ETH_HLEN + 9] = 6;
    assert_int_equal(run_prog(env.prog_fd, in, 60, out, &out_len), XDP_PASS);
    in[12] = 0x08;
    in[13] = 0x06;
    assert_int_equal(run_prog(env.prog_fd, in, 60, out, &out_len), XDP_PASS);
    build_frame(&s, in);
    for (size_t cut = ETH_HLEN; cut < ETH_HLEN + IP4_HLEN + UDP_HLEN; cut++) {
        assert_int_equal(run_prog(env.prog_fd, in, cut, out, &out_len), XDP_PASS);
        assert_int_equal(out_len, cut);
        assert_memory_equal(out, in, cut);
    }
    expect_counters(&before, &NOT_COUNTED);
}

static void test_fragments(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1\r\n");
    s.frag_off = 0x2000;        /* first fragment: MF, offset 0 */
    expect_pass(&s, PASSED(pass_fragment));
    s = spec6("get k1\r\n");
    s.ext = 44;
    s.ext_frag = 0x0001;
    expect_pass(&s, PASSED(pass_fragment));
    /* An atomic fragment (offset 0, no M) is still a fragment header. */
    s.ext_frag = 0;
    expect_pass(&s, PASSED(pass_fragment));
}

static void test_ip_options(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1\r\n");
    s.ip_opts = 4;
    expect_pass(&s, PASSED(pass_ip_options));
    s.ip_opts = 40;
    expect_pass(&s, PASSED(pass_ip_options));
    s = spec6("get k1\r\n");
    s.ext = 60;                 /* destination options */
    expect_pass(&s, PASSED(pass_ip_options));
    s.ext = 0;                  /* hop-by-hop */
    s.vlan = true;
    expect_pass(&s, PASSED(pass_ip_options));
}

static void test_not_get(void **state)
{
    (void)state;
    need_bpf();
    static const char *const reqs[] = {
        "set k1 0 0 1\r\na\r\n", "delete k1\r\n", "gat 0 k1\r\n", "gats 0 k1\r\n",
        "getx k1\r\n", "GET k1\r\n", " get k1\r\n", "version\r\n", "x",
        "gets2 k1\r\n", "getsk1\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct spec s = spec4(reqs[i]);
        expect_pass(&s, PASSED(pass_not_get));
    }
    /* Longer than any get the fast path serves, but not a get. */
    static char set[3000];
    int n = snprintf(set, sizeof(set), "set k1 0 0 %d\r\n", 2900);
    memset(set + n, 'v', sizeof(set) - (size_t)n - 3);
    memcpy(set + sizeof(set) - 3, "\r\n", 3);
    struct spec s = spec6(set);
    expect_pass(&s, PASSED(pass_not_get));
}

static void test_malformed(void **state)
{
    (void)state;
    need_bpf();
    static const char *const reqs[] = {
        "get  k1\r\n",          /* two spaces */
        "get k1  k2\r\n",
        "get k1 \r\n",          /* space before the end */
        "get k1",               /* no newline */
        "get k1\r",
        "get k1\r\nxyz",        /* trailing garbage */
        "get k1\r\nget k2\r\n", /* a second command */
        "get k1\r\r\n",
        "get k1\tk2\r\n",
        "get k\x7f\r\n",
        "get \r\n",             /* no keys */
        "get\r\n",
        "gets\n",
        "get",
        "gets",
        "get \n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct spec s = spec4(reqs[i]);
        expect_pass(&s, PASSED(pass_malformed));
    }
    /* A NUL in a key (the daemon's tokenizer would stop there). */
    struct spec s = spec4(NULL);
    s.data = "get k\0 1\r\n";
    s.len = 10;
    expect_pass(&s, PASSED(pass_malformed));
}

static void test_too_long(void **state)
{
    (void)state;
    need_bpf();
    char req[400];
    snprintf(req, sizeof(req), "get %sx\r\n", key250);
    struct spec s = spec4(req);
    expect_pass(&s, PASSED(pass_too_long));
    /* Longer than XDP_REQUEST_MAX, though every key is fine. */
    static char many[3000];
    size_t n = (size_t)snprintf(many, sizeof(many), "get");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, " %s", key250);
    snprintf(many + n, sizeof(many) - n, "\r\n");
    s = spec6(many);
    assert_true(s.len > XDP_REQUEST_MAX);
    expect_pass(&s, PASSED(pass_too_long));
}

static void test_bad_frame(void **state)
{
    (void)state;
    need_bpf();
    struct spec s = spec4("get k1\r\n");
    s.mc.total = 2;
    expect_pass(&s, PASSED(pass_malformed));
    s.mc.total = 0;
    expect_pass(&s, PASSED(pass_malformed));
    s = spec6("get k1\r\n");
    s.mc.seq = 1;
    expect_pass(&s, PASSED(pass_malformed));
    /* Nothing after the frame header; no whole frame header. */
    s = spec4(NULL);
    expect_pass(&s, PASSED(pass_malformed));
    s = spec4("get");
    s.no_mc_header = true;
    expect_pass(&s, PASSED(pass_malformed));
    /* Lengths that do not add up. */
    s = spec4("get k1\r\n");
    s.udp_len_delta = 1;
    expect_pass(&s, PASSED(pass_malformed));
    s.udp_len_delta = -(UDP_HLEN + 1);
    expect_pass(&s, PASSED(pass_malformed));
    s = spec4("get k1\r\n");
    s.ip_len_delta = 1;
    expect_pass(&s, PASSED(pass_malformed));
    s = spec6("get k1\r\n");
    s.ip_len_delta = 1;
    expect_pass(&s, PASSED(pass_malformed));
    s = spec6("get k1\r\n");
    s.udp_len_delta = 2;
    expect_pass(&s, PASSED(pass_malformed));
    /* The UDP length reaching into bytes after the IP packet. */
    s = spec4("get k1\r\n");
    s.ip_len_delta = -2;
    expect_pass(&s, PASSED(pass_malformed));
    s = spec6("get k1\r\n");
    s.ip_len_delta = -2;
    expect_pass(&s, PASSED(pass_malformed));
    /* A UDP length shorter than the IP packet: the kernel trims the rest,
     * the daemon sees "get k1\r\n". */
    s = spec4("get k1\r\nxyz");
    s.udp_len_delta = -3;
    expect_tx(&s);
    s = spec6("get k1\r\nxyz");
    s.udp_len_delta = -3;
    expect_tx(&s);
    /* Sent to a broadcast address. */
    s = spec4("get k1\r\n");
    memset(s.dst_mac, 0xff, 6);
    expect_pass(&s, PASSED(pass_malformed));
}

/* ---- the seqlock against a real writer ------------------------------------------- */

struct flipper {
    struct store_observer observer;     /* the mirror's */
    struct item_view items[2];
    atomic_bool stop;
    unsigned long writes;
};

/* Tells the mirror, as fast as it can, that the item changed, alternating
 * two values of one length: each time the mirror rewrites the entry in
 * place with its seqlock writer. (The store is left out so that the writer
 * spends its time writing the entry, where readers can meet it.) */
static void *flip_values(void *arg)
{
    struct flipper *f = arg;
    while (!atomic_load(&f->stop)) {
        f->observer.changed(f->observer.ctx, &f->items[f->writes % 2]);
        f->writes++;
    }
    return NULL;
}

/* Whatever the writer is doing, a reply carries one of the two values
 * whole, never a mix; requests that meet the writer go up untouched. */
static void test_concurrent_writer(void **state)
{
    (void)state;
    need_bpf();
    static char a[1000], b[1000];
    memset(a, 'A', sizeof(a));
    memset(b, 'B', sizeof(b));
    struct flipper f = {
        .items = {
            { .key = "flip", .nkey = 4, .value = a, .nvalue = sizeof(a) },
            { .key = "flip", .nkey = 4, .value = b, .nvalue = sizeof(b) },
        },
    };
    xdp_mirror_observer(env.mirror, &f.observer);
    put_admitted("flip", a, sizeof(a), 0);

    const char *req = "get flip\r\n";
    struct obuf want[2];
    for (int v = 0; v < 2; v++) {
        obuf_init(&want[v]);
        put("flip", f.items[v].value, f.items[v].nvalue, 0);
        daemon_run(&env.srv.env, req, strlen(req), &want[v]);
    }

    static uint8_t in[FRAME_MAX], out[FRAME_MAX];
    struct spec s = spec4(req);
    size_t in_len = build_frame(&s, in), out_len;
    unsigned served[2] = { 0, 0 }, races = 0;
    struct xdp_counters before, now;
    read_counters(&before);
    pthread_t writer;
    assert_int_equal(pthread_create(&writer, NULL, flip_values, &f), 0);
    for (int i = 0; i < 100000; i++) {
        int verdict = run_prog(env.prog_fd, in, in_len, out, &out_len);
        if (verdict == XDP_PASS) {
            assert_int_equal(out_len, in_len);
            assert_memory_equal(out, in, in_len);
            races++;
            continue;
        }
        assert_int_equal(verdict, XDP_TX);
        const uint8_t *payload = out + out_len - want[0].len;
        int v = memcmp(payload, want[0].data, want[0].len) == 0 ? 0 : 1;
        assert_memory_equal(payload, want[v].data, want[v].len);
        served[v]++;
    }
    atomic_store(&f.stop, true);
    pthread_join(writer, NULL);
    read_counters(&now);
    assert_int_equal(now.pass_race - before.pass_race, races);
    assert_int_equal(now.passes - before.passes, races);
    print_message("concurrent writer: %lu writes; served %u A, %u B; %u races\n", f.writes,
                  served[0], served[1], races);
    for (int v = 0; v < 2; v++)
        obuf_free(&want[v]);
    put("flip", a, sizeof(a), 0);   /* the map follows the store again */
}

/* ---- a generated corpus ------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, good enough to pick mutations. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static size_t rnd(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static const char *random_key(void)
{
    switch (rnd(10)) {
    case 0:
        return "nosuchkey";
    case 1:
        return "cold";
    case 2:
        return "big1";
    case 3:
        return key250;
    case 4:
        return "crlf";
    default:
        return small_keys[rnd(NSMALL)];
    }
}

/* An mg with each flag served, or a flag that is not, each maybe, in a
 * random order. */
static size_t valid_mg(char *buf, size_t cap)
{
    static const char *const flags[] = { "v", "f", "k", "s", "t", "c", "q", "Oab", "O", "T9",
                                         "b", "h", "v" };
    size_t order[sizeof(flags) / sizeof(flags[0])], nflags = sizeof(order) / sizeof(order[0]);
    size_t n = (size_t)snprintf(buf, cap, "mg %s", random_key());
    for (size_t i = 0; i < nflags; i++)
        order[i] = i;
    for (size_t i = nflags - 1; i > 0; i--) {
        size_t j = rnd(i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (size_t i = 0; i < nflags; i++) {
        if (rnd(order[i] < 7 ? 2 : 12) == 0)
            n += (size_t)snprintf(buf + n, cap - n, " %s", flags[order[i]]);
    }
    n += (size_t)snprintf(buf + n, cap - n, rnd(4) == 0 ? "\n" : "\r\n");
    return n;
}

/* A valid request: get or gets, 1..9 keys, "\r\n" or "\n"; or an mg. */
static size_t valid_request(char *buf, size_t cap)
{
    if (rnd(3) == 0)
        return valid_mg(buf, cap);
    size_t n = (size_t)snprintf(buf, cap, rnd(3) == 0 ? "gets" : "get");
    size_t nkeys = 1 + rnd(rnd(4) == 0 ? 9 : 4);
    for (size_t i = 0; i < nkeys && n < cap - XDP_KEY_MAX - 8; i++)
        n += (size_t)snprintf(buf + n, cap - n, " %s", random_key());
    n += (size_t)snprintf(buf + n, cap - n, rnd(4) == 0 ? "\n" : "\r\n");
    return n;
}

static const char interesting[] = { ' ', '\r', '\n', '\0', 0x7f, (char)0x80, (char)0xff, 'k',
                                     '1', 's', '\t', 'x', 'v', 'O', 'q' };

/* Mutates buf[0, n) in place (cap bytes of room); returns the new length. */
static size_t mutate(char *buf, size_t n, size_t cap)
{
    size_t i = rnd(n + 1);
    char c = rnd(2) ? interesting[rnd(sizeof(interesting))] : (char)rng();
    switch (rnd(7)) {
    case 0:                     /* truncate */
        return i;
    case 1:                     /* replace a byte */
        if (n)
            buf[rnd(n)] = c;
        return n;
    case 2:                     /* insert a byte */
        if (n + 1 > cap)
            return n;
        memmove(buf + i + 1, buf + i, n - i);
        buf[i] = c;
        return n + 1;
    case 3:                     /* delete a byte */
        if (i < n)
            memmove(buf + i, buf + i + 1, n - i - 1);
        return i < n ? n - 1 : n;
    case 4: {                   /* repeat a span */
        size_t len = rnd(n - i + 1);
        if (n + len > cap)
            return n;
        memmove(buf + i + len, buf + i, n - i);
        return n + len;
    }
    case 5:                     /* another request after it */
        if (n + 8 > cap)
            return n;
        memcpy(buf + n, "get k1\r\n", 8);
        return n + 8;
    default:                    /* swap two bytes */
        if (n) {
            size_t j = rnd(n);
            char t = buf[i % n];
            buf[i % n] = buf[j];
            buf[j] = t;
        }
        return n;
    }
}

/* Every mutated request is served with the daemon's exact reply, passed up
 * untouched, or dropped for its source, and the counters say which. */
static void test_corpus(void **state)
{
    (void)state;
    need_bpf();
    enum { CASES = 4000 };
    static char text[4096];
    static uint8_t in[FRAME_MAX], out[FRAME_MAX];
    unsigned served = 0, passed = 0, dropped = 0;
    struct obuf reply;
    obuf_init(&reply);

    for (int c = 0; c < CASES; c++) {
        size_t n = valid_request(text, sizeof(text) - 16);
        for (size_t m = rnd(4); m > 0; m--)
            n = mutate(text, n, sizeof(text) - 16);
        struct spec s = rnd(2) ? spec4(NULL) : spec6(NULL);
        s.data = text;
        s.len = n;
        s.vlan = rnd(4) == 0;
        if (rnd(20) == 0)
            s.mc.total = (uint16_t)rnd(3);
        if (rnd(20) == 0)
            s.mc.seq = (uint16_t)rnd(2);
        bool allowed = rnd(30) != 0;
        if (!allowed)
            s.src[0] = s.ipv6 ? 0x20 : 172;

        size_t in_len = build_frame(&s, in), out_len;
        int cut = rnd(25) == 0;     /* a frame cut short */
        if (cut)
            in_len = ETH_HLEN + rnd(in_len - ETH_HLEN);
        struct xdp_counters before, now;
        read_counters(&before);
        int verdict = run_prog(env.prog_fd, in, in_len, out, &out_len);
        read_counters(&now);

        if (verdict == XDP_PASS) {
            passed++;
            assert_int_equal(out_len, in_len);
            assert_memory_equal(out, in, in_len);
            assert_int_equal(now.replies - before.replies, 0);
            assert_int_equal(now.drops_not_allowed - before.drops_not_allowed, 0);
            /* Counted: one pass and one reason, or (not ours) nothing. */
            uint64_t reasons = 0;
#define ADD_REASON(name) reasons += now.name - before.name;
            XDP_PASS_REASONS(ADD_REASON)
#undef ADD_REASON
            assert_int_equal(now.passes - before.passes, reasons);
            assert_int_equal(now.requests - before.requests, reasons);
            assert_true(reasons <= 1);
        } else if (verdict == XDP_DROP) {
            dropped++;
            assert_false(allowed);
            assert_int_equal(now.drops_not_allowed - before.drops_not_allowed, 1);
        } else if (verdict == XDP_TX) {
            served++;
            assert_true(allowed);
            assert_false(cut);
            assert_int_equal(daemon_run(&env.srv.env, text, n, &reply), n);
            struct spec r = reply_spec(&s, reply.data, reply.len);
            static uint8_t want[FRAME_MAX];
            size_t want_len = build_frame(&r, want);
            assert_int_equal(out_len, want_len);
            assert_memory_equal(out, want, want_len);
            verify_checksums(out, out_len);
            const char *keys[XDP_MULTIGET_MAX];
            size_t klen[XDP_MULTIGET_MAX];
            assert_int_equal(now.replies - before.replies, 1);
            assert_int_equal(now.mg_replies - before.mg_replies, is_mg(text));
            assert_int_equal(now.hits - before.hits, split_keys(text, n, keys, klen));
            assert_int_equal(now.bytes_sent - before.bytes_sent, out_len);
        } else {
            fail_msg("case %d: verdict %d", c, verdict);
        }
    }
    obuf_free(&reply);
    print_message("corpus: %u served, %u passed, %u dropped\n", served, passed, dropped);
    /* The corpus exercises all three outcomes. */
    assert_true(served > CASES / 10);
    assert_true(passed > CASES / 10);
    assert_true(dropped > 0);
}

/* ---- cost ------------------------------------------------------------------------- */

/* The program's mean time per run on s (BPF_PROG_TEST_RUN's duration), one
 * run per call: with repeat > 1 the kernel runs the program again on the
 * frame it has already turned into a reply. s must be answered. Printed,
 * not checked: a speed depends on the machine.
 *
 * COST_RUNS in the environment sets the runs (default 20,000): a profile
 * of the JITed programs wants many more (docs/xdp.md, "Cost"), e.g.
 *   COST_RUNS=1000000 perf record -a -- build/tests/test_xdp_prog */
static uint64_t ns_per_run(int prog_fd, const struct spec *s)
{
    const char *env_runs = getenv("COST_RUNS");
    const long runs = env_runs && atol(env_runs) > 0 ? atol(env_runs) : 20000;
    static uint8_t in[FRAME_MAX], out[FRAME_MAX];
    size_t in_len = build_frame(s, in);
    uint64_t total = 0;
    for (long i = 0; i < runs; i++) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)in_len,
                    .data_out = out, .data_size_out = FRAME_MAX, .repeat = 1);
        assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
        assert_int_equal(opts.retval, XDP_TX);
        total += opts.duration;
    }
    return total / (uint64_t)runs;
}

/* The fast path's cost beside the ceiling's (bpf/xdp_ceiling.bpf.c, which
 * answers any get with END), on the same frames, in one run. */
static void test_cost(void **state)
{
    (void)state;
    need_bpf();
    /* Its own key: other tests change k1..k9. */
    put_admitted("cost", "0123456789", 10, 5);
    static const char *const requests[] = { "get cost\r\n", "gets cost\r\n", "mg cost v f\r\n" };
    struct spec get = spec4(requests[0]);
    uint64_t ceiling = ns_per_run(bpf_program__fd(env.ceiling->progs.xdp_ceiling), &get);
    print_message("cost: %-14s %" PRIu64 " ns per run\n", "ceiling", ceiling);
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        struct spec s = spec4(requests[i]);
        uint64_t ns = ns_per_run(env.prog_fd, &s);
        print_message("cost: %-14.*s %" PRIu64 " ns per run (%.1fx the ceiling)\n",
                      (int)strcspn(requests[i], "\r"), requests[i], ns,
                      ceiling ? (double)ns / (double)ceiling : 0.0);
    }
}

/* ---- the verifier's budget ------------------------------------------------------- */

static void expect_within_budget(const struct bpf_program *prog)
{
    struct bpf_prog_info info = { 0 };
    uint32_t len = sizeof(info);
    assert_int_equal(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), 0);
    print_message("verifier: %-14s %7u instructions (budget %u)\n", bpf_program__name(prog),
                  info.verified_insns, VERIFIED_INSNS_BUDGET);
    if (info.verified_insns == 0 || info.verified_insns > VERIFIED_INSNS_BUDGET)
        fail_msg("%s: %u verified instructions, budget %u", bpf_program__name(prog),
                 info.verified_insns, VERIFIED_INSNS_BUDGET);
}

/* Every XDP program of the project, as loaded here: the fast path with the
 * daemon's settings, the benchmark's ceiling, the tests' pass program. */
static void test_verifier_budget(void **state)
{
    (void)state;
    need_bpf();
    expect_within_budget(env.skel->progs.xdpcached);
    expect_within_budget(env.skel->progs.xdpcached_mg);
    expect_within_budget(env.ceiling->progs.xdp_ceiling);
    struct xdp_pass_bpf *pass = xdp_pass_bpf__open_and_load();
    assert_non_null(pass);
    expect_within_budget(pass->progs.xdp_pass);
    xdp_pass_bpf__destroy(pass);
}

/* ---- the ceiling ------------------------------------------------------------------- */

/* Runs the ceiling on s: with reply, the frame must come back as the reply
 * to s carrying the frame header and "END\r\n" (no UDP checksum over
 * IPv4); without, it must pass untouched. */
static void expect_ceiling(const struct spec *s, bool reply)
{
    static uint8_t in[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX];
    size_t in_len = build_frame(s, in), out_len, want_len = in_len;
    int verdict = run_prog(bpf_program__fd(env.ceiling->progs.xdp_ceiling), in, in_len, out,
                           &out_len);

    memcpy(want, in, in_len);
    if (reply) {
        struct spec r = reply_spec(s, "END\r\n", 5);
        r.no_udp_csum = !s->ipv6;
        want_len = build_frame(&r, want);
        verify_checksums(out, out_len);
    }
    if (verdict != (reply ? XDP_TX : XDP_PASS))
        fail_msg("ceiling: verdict %d for \"%.*s\"", verdict, (int)s->len, (const char *)s->data);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
}

static void test_ceiling_replies(void **state)
{
    (void)state;
    need_bpf();
    /* Whatever the key, in the map or not. */
    struct spec s = spec4("get k1\r\n");
    expect_ceiling(&s, true);
    s = spec6("get no-such-key\r\n");
    expect_ceiling(&s, true);
    /* The frame header echoes the id only. */
    s = spec4("get k1 k2\r\n");
    s.mc = (typeof(s.mc)){ .id = 7, .seq = 3, .total = 9, .reserved = 0xabcd };
    expect_ceiling(&s, true);
    /* Shrinks over Ethernet padding; grows for the shortest request. */
    s = spec4("get k1\r\n");
    s.pad = 30;
    expect_ceiling(&s, true);
    s = spec4("get ");
    expect_ceiling(&s, true);
    s = spec6("get ");
    expect_ceiling(&s, true);
}

static void test_ceiling_passes(void **state)
{
    (void)state;
    need_bpf();
    static const char *const not_get[] = { "gets k1\r\n", "set k1 0 0 1\r\nx\r\n", "get", "GET k1\r\n" };
    for (size_t i = 0; i < sizeof(not_get) / sizeof(not_get[0]); i++) {
        struct spec s = spec4(not_get[i]);
        expect_ceiling(&s, false);
    }
    struct spec s = spec4("get k1\r\n");
    s.dport = PORT + 1;
    expect_ceiling(&s, false);
    s = spec6("get k1\r\n");
    s.dport = 53;
    expect_ceiling(&s, false);
    s = spec4("get k1\r\n");
    s.no_mc_header = true;
    expect_ceiling(&s, false);
    s = spec4("get k1\r\n");
    s.ip_opts = 4;
    expect_ceiling(&s, false);
    s = spec4("get k1\r\n");
    s.frag_off = 0x2000;
    expect_ceiling(&s, false);
    s.frag_off = 0x0010;
    expect_ceiling(&s, false);
    s = spec6("get k1\r\n");
    s.ext = 60;
    expect_ceiling(&s, false);
    s = spec4("get k1\r\n");
    s.vlan = true;
    expect_ceiling(&s, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verifier_budget),
        cmocka_unit_test(test_get_hit),
        cmocka_unit_test(test_gets_hit),
        cmocka_unit_test(test_multiget_all_hits),
        cmocka_unit_test(test_vlan),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_frame_growth),
        cmocka_unit_test(test_reply_size_limit),
        cmocka_unit_test(test_too_many_keys),
        cmocka_unit_test(test_miss),
        cmocka_unit_test(test_hash_collision),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_race),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_mg_hit),
        cmocka_unit_test(test_mg_bytes),
        cmocka_unit_test(test_mg_ttl),
        cmocka_unit_test(test_mg_pass),
        cmocka_unit_test(test_mg_too_big),
        cmocka_unit_test(test_not_allowed),
        cmocka_unit_test(test_not_ours),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_ip_options),
        cmocka_unit_test(test_not_get),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_bad_frame),
        cmocka_unit_test(test_concurrent_writer),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_ceiling_replies),
        cmocka_unit_test(test_ceiling_passes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
