/* harness.c - see harness.h.
 *
 * A server (store and environment) serves every input, as one daemon serves
 * every connection: state left by earlier inputs (items, a pending delayed
 * flush, full memory) is what later inputs run into. The store is small, so
 * that eviction runs all the time and memory stays bounded however long
 * the fuzzer runs. What a request can change outside the store (verbosity,
 * stats detail) is put back after each input. There are two servers, with
 * memcached's defaults and with -C -M (no CAS; a full store refuses writes
 * instead of evicting), which the protocols answer differently; an input
 * goes to the second when its length is 3 mod 4, so that a saved input
 * replays on the same one.
 *
 * Contract checks (each aborts with a message, which libFuzzer reports as a
 * crash with the input saved):
 *   - a step consumes no more than it was given;
 *   - bytes not consumed are left as they were (conn.c keeps them for the
 *     next call; only consumed bytes may be modified);
 *   - `need`, when set, asks for more than the input left unconsumed;
 *   - a completed request consumed input;
 *   - the output buffer's response offsets are ascending and inside it. */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decimal.h"
#include "meta_parse.h"
#include "proto.h"
#include "test_server.h"
#include "text_parse.h"

/* Small enough that a few hundred inputs fill it and eviction begins, and
 * that the hash table stays small: flush_all, `stats sizes` and the expiry
 * scan walk all of it. It starts at the smallest size and grows. */
#define HARNESS_MEM_LIMIT (128 * 1024)
#define HARNESS_ITEM_SIZE_MAX (32 * 1024)
#define HARNESS_HASHPOWER 8
/* Background work and the passing of time, every this many inputs: the
 * expiry scan, table growth, due flushes, and items with a TTL expiring. */
#define HARNESS_TICK_EVERY 64
#define HARNESS_SECOND_EVERY 256

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A test_server and the settings it started with (put back after each input). */
struct harness_server {
    struct test_server ts;
    struct settings settings_at_start;
};

enum { SERVER_DEFAULTS, SERVER_NO_CAS_NO_EVICT, NSERVERS };
static struct harness_server servers[NSERVERS];
static unsigned long inputs_run;

/* Where item bytes are summed, so that reading them cannot be optimised away. */
static volatile uint8_t item_bytes_sink;

static void harness_fail(const char *what)
{
    fprintf(stderr, "fuzz harness: %s\n", what);
    abort();
}

/* ---- the servers -------------------------------------------------------------- */

/* Reads every byte of an item view: ASan checks they are all valid. */
static void read_item(const struct item_view *item)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < item->nkey; i++)
        sum += (uint8_t)item->key[i];
    for (size_t i = 0; i < item->nvalue; i++)
        sum += (uint8_t)item->value[i];
    item_bytes_sink = sum;
}

/* Both an item changed (observer) and a UDP read hit (udp_read_hit). */
static void on_item_seen(void *ctx, const struct item_view *item)
{
    (void)ctx;
    read_item(item);
}

static void on_item_removed(void *ctx, const char *key, size_t nkey)
{
    (void)ctx;
    struct item_view view = { .key = key, .nkey = nkey };
    read_item(&view);
}

/* `shutdown` (enabled, so that its code runs): the connection closes, the
 * harness goes on. */
static void on_shutdown(void)
{
}

static void server_init(struct harness_server *s, bool cas_and_evict)
{
    struct test_server *ts = &s->ts;
    if (!test_server_init(ts))
        harness_fail("cannot set up the server");
    ts->settings.maxbytes = HARNESS_MEM_LIMIT;
    ts->settings.item_size_max = HARNESS_ITEM_SIZE_MAX;
    ts->settings.hashpower_init = HARNESS_HASHPOWER;
    ts->settings.use_cas = cas_and_evict;
    ts->settings.evict_to_free = cas_and_evict;
    ts->settings.shutdown_command = true;
    s->settings_at_start = ts->settings;
    if (!test_server_new_store(ts))
        harness_fail("cannot create the store");
    struct store_observer observer = {
        .changed = on_item_seen, .removed = on_item_removed,
    };
    store_set_observer(ts->store, &observer);
    ts->env.shutdown = on_shutdown;
    ts->env.udp_read_hit = on_item_seen;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    server_init(&servers[SERVER_DEFAULTS], true);
    server_init(&servers[SERVER_NO_CAS_NO_EVICT], false);
    return 0;
}

/* What one input may have changed outside the store goes back to the start. */
static void after_input(struct harness_server *s)
{
    s->ts.settings = s->settings_at_start;
    prefix_stats_enable(s->ts.prefix_stats, false);
    prefix_stats_clear(s->ts.prefix_stats);
    inputs_run++;
    if (inputs_run % HARNESS_SECOND_EVERY == 0)
        clock_advance_for_tests(1);
    if (inputs_run % HARNESS_TICK_EVERY == 0) {
        for (unsigned i = 0; i < NSERVERS; i++)
            store_tick(servers[i].ts.store);
    }
}

/* ---- running requests ----------------------------------------------------------- */

static void check_output(const struct obuf *out)
{
    for (size_t i = 0; i < out->nresp; i++) {
        if (out->resp_starts[i] > out->len || (i > 0 && out->resp_starts[i] < out->resp_starts[i - 1]))
            harness_fail("response offsets out of order or beyond the output");
    }
}

static void check_step(const struct proto_conn *pc, const struct protocol_step *step, size_t len)
{
    if (step->used > len)
        harness_fail("a step consumed more than it was given");
    if (pc->need != 0 && pc->need <= len - step->used)
        harness_fail("need asks for no more than the input already holds");
    if (step->completed && step->used == 0)
        harness_fail("a request completed without consuming input");
}

/* Runs the complete requests at the front of in[0, len) (original holds the
 * same bytes as received), as conn.c and udp.c do: one protocol call at a
 * time, until nothing complete is left or the connection is to close.
 * Replies are "sent" (dropped) whenever conn.c would send them. Returns the
 * bytes consumed; *closed tells whether the connection ends here. */
static size_t run_requests(struct proto_conn *pc, char *in, size_t len, const uint8_t *original,
                           struct obuf *out, bool *closed)
{
    size_t used = 0;
    *closed = false;
    while (used < len && !pc->close_after_write) {
        struct protocol_step step;
        protocol_run_one(pc, in + used, len - used, out, &step);
        check_step(pc, &step, len - used);
        check_output(out);
        used += step.used;
        if (pc->close_now || out->oom) {
            *closed = true;
            return used;
        }
        if (!protocol_mid_request(pc))
            obuf_reset(out);
        /* A retrieval run in parts goes on with the same bytes. */
        if (step.used == 0 && !step.suspended)
            break;
    }
    if (memcmp(in + used, original + used, len - used) != 0)
        harness_fail("the protocol modified input it did not consume");
    *closed = pc->close_after_write;
    return used;
}

/* run_requests() on a heap copy of exactly data[0, len), so that ASan sees
 * any read past the bytes given (the daemon's buffers have room beyond). */
static size_t run_requests_on_copy(struct proto_conn *pc, const uint8_t *data, size_t len,
                                   struct obuf *out, bool *closed)
{
    char *in = malloc(len);
    if (!in)
        harness_fail("out of memory");
    memcpy(in, data, len);
    size_t used = run_requests(pc, in, len, data, out, closed);
    free(in);
    return used;
}

/* ---- deliveries ------------------------------------------------------------------ */

/* Read sizes for the cut-up TCP delivery, used in turn: single bytes, a
 * binary header's 24, and sizes that fall inside lines and values. After
 * TCP_SMALL_READS reads the rest comes in one: each read copies what is
 * pending, and a long stream in small reads would cost quadratic time. */
static const size_t tcp_read_sizes[] = { 1, 3, 24, 2, 7, 64, 5, 11, 1, 200 };
#define TCP_NREAD_SIZES (sizeof(tcp_read_sizes) / sizeof(tcp_read_sizes[0]))
#define TCP_SMALL_READS 100
/* The largest UDP payload (65535 less the IP and UDP headers) less
 * memcached's 8-byte frame header. */
#define UDP_MAX_REQUEST (65507 - 8)

/* A TCP connection that receives data[0, len) in reads of at most the given
 * sizes (NULL: all at once); after each read the requests run on what is
 * not consumed yet. */
static void deliver_tcp(struct harness_server *s, const uint8_t *data, size_t len,
                        const size_t *read_sizes, size_t nsizes)
{
    struct proto_conn pc;
    struct obuf out;
    proto_conn_init(&pc, &s->ts.env, &s->ts.thread_stats);
    obuf_init(&out);
    size_t consumed = 0, received = 0;
    for (size_t nread = 0; received < len; nread++) {
        size_t chunk = read_sizes && nread < TCP_SMALL_READS ? read_sizes[nread % nsizes] : len;
        received += chunk < len - received ? chunk : len - received;
        bool closed;
        consumed += run_requests_on_copy(&pc, data + consumed, received - consumed, &out, &closed);
        if (closed)
            break;
    }
    obuf_free(&out);
}

/* One UDP datagram's payload (as much of the stream as fits one): a fresh
 * protocol state with pc->udp set; what is incomplete at its end is dropped
 * (udp.c). */
static void deliver_udp(struct harness_server *s, const uint8_t *data, size_t len)
{
    if (len > UDP_MAX_REQUEST)
        len = UDP_MAX_REQUEST;
    struct proto_conn pc;
    struct obuf out;
    proto_conn_init(&pc, &s->ts.env, &s->ts.thread_stats);
    pc.udp = true;
    obuf_init(&out);
    bool closed;
    run_requests_on_copy(&pc, data, len, &out, &closed);
    obuf_free(&out);
}

void harness_deliver(const uint8_t *data, size_t len)
{
    struct harness_server *s = &servers[len % 4 == 3 ? SERVER_NO_CAS_NO_EVICT : SERVER_DEFAULTS];
    if (len > 0) {
        deliver_tcp(s, data, len, NULL, 0);
        deliver_tcp(s, data, len, tcp_read_sizes, TCP_NREAD_SIZES);
        deliver_udp(s, data, len);
    }
    after_input(s);
}

/* ---- byte strings ---------------------------------------------------------------- */

void bytes_append(struct bytes *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p)
            harness_fail("out of memory");
        b->data = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, src, n);
    b->len += n;
}

void bytes_puts(struct bytes *b, const char *s)
{
    bytes_append(b, s, strlen(s));
}

void bytes_put_decimal(struct bytes *b, uint64_t v)
{
    char digits[20];
    bytes_append(b, digits, format_decimal(digits, v));
}

void bytes_free(struct bytes *b)
{
    free(b->data);
    *b = (struct bytes){ 0 };
}

/* ---- the parsers alone ------------------------------------------------------ */

/* Parser contracts: a request uses at least one byte and no more than it
 * was given, its key lies inside its line and is no longer than the store
 * takes, an error has a reply, a `need` asks for more than there is. */
static void check(bool ok)
{
    if (!ok) {
        fprintf(stderr, "fuzz harness: a parser broke its contract\n");
        abort();
    }
}

/* What every parsed request must satisfy. */
static void check_request(const struct text_parsed *p, const char *in, size_t len)
{
    const struct request *req = &p->req;
    check(p->used > 0 && p->used <= len);
    check(p->line == in && p->line_end < p->used);
    switch (req->type) {
    case REQ_ERROR:
        check(req->error != NULL && req->error[0] != '\0');
        break;
    case REQ_STORE: case REQ_DELTA: case REQ_DELETE: case REQ_TOUCH:
        check(req->key >= in && req->key + req->nkey <= in + p->line_end);
        check(req->nkey > 0 && req->nkey <= STORE_KEY_MAX);
        break;
    case REQ_GET:
        check(p->first_key < p->ntokens);
        break;
    default:
        break;
    }
    for (size_t i = 0; i + 1 < p->ntokens; i++)
        check(p->tokens[i].value >= in && p->tokens[i].value + p->tokens[i].length <=
                                              in + p->line_end);
}

/* A meta command: parsed, or refused with a reply; only a refused ms
 * swallows, its data block. */
static void check_meta(struct text_parsed *p)
{
    struct meta_request m;
    const char *line_end = p->line + p->line_end;
    if (!meta_parse(p, &m)) {
        check(m.error != NULL && m.error[0] != '\0');
        check(m.swallow == 0 || (m.command == 's' && m.swallow == m.nvalue + 2));
        return;
    }
    check(m.error == NULL && m.swallow == 0);
    if (m.command != 'n' && m.command != 'e')
        check(m.req.key >= p->line && m.req.key + m.req.nkey <= line_end &&
              m.req.nkey <= STORE_KEY_MAX);
}

void harness_parse_text(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    char *buf = malloc(size);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    size_t at = 0;
    while (at < size) {
        struct text_parsed p;
        size_t len = size - at;
        enum text_parse_status st = text_parse(buf + at, len, &p);
        if (st == TEXT_NEED_MORE) {
            check(p.need == 0 || p.need > len);
            break;
        }
        if (st == TEXT_CLOSE)
            break;
        check_request(&p, buf + at, len);
        if (p.req.type == REQ_META)
            check_meta(&p);
        at += p.used;
        if (p.req.type == REQ_STORE) {
            if (size - at < p.req.nvalue + 2)
                break;
            (void)text_data_ok(buf + at, p.req.nvalue);
            at += p.req.nvalue + 2;
        }
    }
    free(buf);
}
