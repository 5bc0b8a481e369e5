/* store_model.c - see store_model.h. */
#include "store_model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "decimal.h"
#include "store.h"

#define MODEL_KEYS 64
#define MODEL_LONG_KEY (MODEL_KEYS - 1)    /* the one key of STORE_KEY_MAX bytes */
#define HOT_KEYS 8
#define MODEL_ITEM_SIZE_MAX 2048
/* 64 items of at most 2 KB, and the new items of updates in flight: the
 * store is never full, so nothing is evicted. */
#define MODEL_MEM_LIMIT (4 * 1024 * 1024)
/* Seconds per step of time. Expiry and flush times are whole steps from the
 * time they were set, so the real clock, which moves far less than a step
 * during a run, cannot change an outcome. */
#define TIME_STEP 10
#define HASHPOWER_BASE 8                   /* 4 buckets a shard: tables grow */

enum model_op {
    OP_GET, OP_GAT, OP_SET, OP_ADD, OP_REPLACE, OP_APPEND, OP_PREPEND, OP_CAS,
    OP_INCR, OP_DECR, OP_DELETE, OP_TOUCH, OP_FLUSH, OP_ADVANCE, OP_TICK,
    OP_COUNT,
};

/* How often each operation comes, out of 64 (an opcode byte modulo 64):
 * operations on items often, the ones that drop many items rarely. */
#define OP_WEIGHT_TOTAL 64
static const uint8_t op_weight[OP_COUNT] = {
    [OP_GET] = 8, [OP_GAT] = 3, [OP_SET] = 10, [OP_ADD] = 4, [OP_REPLACE] = 4,
    [OP_APPEND] = 5, [OP_PREPEND] = 4, [OP_CAS] = 6, [OP_INCR] = 5, [OP_DECR] = 4,
    [OP_DELETE] = 3, [OP_TOUCH] = 3, [OP_FLUSH] = 1, [OP_ADVANCE] = 2, [OP_TICK] = 2,
};

static const char *const op_names[OP_COUNT] = {
    "get", "gat", "set", "add", "replace", "append", "prepend", "cas",
    "incr", "decr", "delete", "touch", "flush", "advance", "tick",
};

/* What the model says a key holds. */
struct model_item {
    bool present;            /* in the store: live, or expired and not dropped yet */
    uint32_t flags;
    rel_time_t exptime;
    uint64_t cas;            /* kept after a delete: a plausible wrong guess */
    size_t nvalue;
    char value[MODEL_ITEM_SIZE_MAX];
};

struct model {
    struct store *store;
    bool use_cas;
    struct model_item items[MODEL_KEYS];
    rel_time_t flush_at;     /* a delayed flush not due yet, or 0 */
    uint64_t last_cas;       /* every change must give a larger CAS */
    const uint8_t *in, *end; /* the input not decoded yet */
    unsigned op_number;
    enum model_op op;
    char key[STORE_KEY_MAX];
    size_t nkey;
    char *why;
    size_t nwhy;
    bool failed;
};

/* An item as the store showed it. */
struct seen_item {
    char key[STORE_KEY_MAX];
    size_t nkey;
    char value[MODEL_ITEM_SIZE_MAX];
    size_t nvalue;
    uint32_t flags;
    uint64_t cas;
    rel_time_t exptime;
};

/* ---- reading the input ------------------------------------------------- */

static uint8_t read_byte(struct model *m)
{
    return m->in < m->end ? *m->in++ : 0;
}

static uint64_t read_uint(struct model *m, unsigned nbytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < nbytes; i++)
        v |= (uint64_t)read_byte(m) << (8 * i);
    return v;
}

static void name_key(struct model *m, unsigned index)
{
    if (index == MODEL_LONG_KEY) {
        memset(m->key, 'L', STORE_KEY_MAX);
        m->nkey = STORE_KEY_MAX;
    } else {
        m->nkey = (size_t)snprintf(m->key, sizeof m->key, "k%u", index);
    }
}

static enum model_op read_op(struct model *m)
{
    unsigned r = read_byte(m) % OP_WEIGHT_TOTAL;
    unsigned op = 0;
    while (op + 1 < OP_COUNT && r >= op_weight[op])
        r -= op_weight[op++];
    return (enum model_op)op;
}

/* Three bytes in four name one of 8 keys, so that operations meet on the
 * same keys often; the rest, any of the 64. */
static unsigned read_key(struct model *m)
{
    uint8_t byte = read_byte(m);
    unsigned index = byte < 192 ? byte % HOT_KEYS : byte % MODEL_KEYS;
    name_key(m, index);
    return index;
}

/* Mostly never; else expired at once, or one or two steps of time ahead. */
static rel_time_t read_exptime(struct model *m, rel_time_t now)
{
    uint8_t choice = read_byte(m) % 8;
    if (choice < 5)
        return 0;
    return now + TIME_STEP * (rel_time_t)(choice - 5);
}

static uint32_t read_flags(struct model *m)
{
    switch (read_byte(m) % 4) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT32_MAX;
    default: return (uint32_t)read_uint(m, 4);
    }
}

/* A CAS to compare: the key's own (or its last one), one off it, 0, or any. */
static uint64_t read_cas(struct model *m, const struct model_item *it)
{
    switch (read_byte(m) % 4) {
    case 0: return it->cas;
    case 1: return it->cas + 1;
    case 2: return 0;
    default: return read_uint(m, 8);
    }
}

/* A decimal number (for incr and decr), or a run of digits and letters,
 * sometimes longer than an item may be. Never white space or signs: the
 * model's counter parsing relies on it. */
static size_t read_value(struct model *m, char value[MODEL_ITEM_SIZE_MAX])
{
    static const char alphabet[] = "0123456789xy";
    uint8_t kind = read_byte(m);
    if (kind % 4 == 0)
        return format_decimal(value, read_uint(m, kind / 4 % 9));
    size_t n = read_byte(m);
    if (kind % 4 == 1)
        n = n * 8 + kind / 4 % 8;         /* up to 2047: past the item size limit */
    for (size_t i = 0; i < n; i++)
        value[i] = alphabet[(kind / 4 + i) % (sizeof alphabet - 1)];
    return n;
}

/* ---- the model's rules ------------------------------------------------- */

static bool fail(struct model *m, const char *fmt, ...)
{
    if (m->failed)
        return false;
    m->failed = true;
    int n = snprintf(m->why, m->nwhy, "operation %u (%s %.*s%s): ", m->op_number,
                     op_names[m->op], (int)(m->nkey > 16 ? 16 : m->nkey), m->key,
                     m->nkey > 16 ? "..." : "");
    if (n >= 0 && (size_t)n < m->nwhy) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->why + n, m->nwhy - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool expect_status(struct model *m, int got, int want)
{
    return got == want || fail(m, "status %d, the model says %d", got, want);
}

/* memcached's item_size_ok(), which the store follows byte for byte. */
static bool size_ok(const struct model *m, uint32_t flags, size_t nvalue)
{
    size_t size = 48 + m->nkey + 1 + nvalue + 2 + (flags ? 4 : 0) + (m->use_cas ? 8 : 0);
    return size <= MODEL_ITEM_SIZE_MAX;
}

static bool expired(const struct model_item *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
}

/* Every operation that finds the key drops an expired item first. */
static bool drop_if_expired(struct model_item *it, rel_time_t now)
{
    if (!it->present || !expired(it, now))
        return false;
    it->present = false;
    return true;
}

/* With CAS on, every change gets a CAS above all before; with -C, 0. */
static bool check_new_cas(struct model *m, uint64_t cas)
{
    if (!m->use_cas)
        return cas == 0 || fail(m, "CAS %" PRIu64 " with CAS off", cas);
    if (cas <= m->last_cas)
        return fail(m, "new CAS %" PRIu64 " is not above %" PRIu64, cas, m->last_cas);
    m->last_cas = cas;
    return true;
}

static void model_store(struct model_item *it, const char *value, size_t nvalue,
                        uint32_t flags, rel_time_t exptime, uint64_t cas)
{
    it->present = true;
    memmove(it->value, value, nvalue);
    it->nvalue = nvalue;
    it->flags = flags;
    it->exptime = exptime;
    it->cas = cas;
}

/* The counter in a value: digits, then the end or a space (padding from an
 * incr in place) and anything. read_value() makes no other white space and
 * no signs, so this is memcached's strtoull rule for these values. */
static bool model_counter(const char *v, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t x = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
        unsigned digit = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - digit) / 10)
            return false;
        x = x * 10 + digit;
    }
    if (i == 0 || (i < n && v[i] != ' '))
        return false;
    *out = x;
    return true;
}

/* A flush whose time has come empties the store before anything else. */
static void apply_due_flush(struct model *m, rel_time_t now)
{
    if (m->flush_at == 0 || m->flush_at > now)
        return;
    for (unsigned i = 0; i < MODEL_KEYS; i++)
        m->items[i].present = false;
    m->flush_at = 0;
}

/* ---- the operations ------------------------------------------------------ */

static void copy_seen(void *ctx, const struct item_view *v)
{
    struct seen_item *seen = ctx;
    seen->nkey = v->nkey < sizeof seen->key ? v->nkey : sizeof seen->key;
    memcpy(seen->key, v->key, seen->nkey);
    seen->nvalue = v->nvalue;    /* compared before the bytes: a longer one fails */
    memcpy(seen->value, v->value, v->nvalue < sizeof seen->value ? v->nvalue : sizeof seen->value);
    seen->flags = v->flags;
    seen->cas = v->cas;
    seen->exptime = v->exptime;
}

static bool compare_item(struct model *m, const struct model_item *it, const struct seen_item *seen)
{
    if (seen->nkey != m->nkey || memcmp(seen->key, m->key, m->nkey) != 0)
        return fail(m, "the item has another key");
    if (seen->nvalue != it->nvalue)
        return fail(m, "value of %zu bytes, the model says %zu", seen->nvalue, it->nvalue);
    if (memcmp(seen->value, it->value, it->nvalue) != 0)
        return fail(m, "value \"%.*s\", the model says \"%.*s\"", (int)seen->nvalue, seen->value,
                    (int)it->nvalue, it->value);
    if (seen->flags != it->flags)
        return fail(m, "flags %" PRIu32 ", the model says %" PRIu32, seen->flags, it->flags);
    if (seen->cas != it->cas)
        return fail(m, "CAS %" PRIu64 ", the model says %" PRIu64, seen->cas, it->cas);
    if (seen->exptime != it->exptime)
        return fail(m, "exptime %u, the model says %u", seen->exptime, it->exptime);
    return true;
}

/* get, or gat with a new expiry. */
static void op_read(struct model *m, struct model_item *it, rel_time_t now, bool gat)
{
    rel_time_t exptime = gat ? read_exptime(m, now) : 0;
    struct seen_item seen;
    enum store_lookup got = store_get(m->store, m->key, m->nkey, gat ? &exptime : NULL,
                                      copy_seen, &seen);
    enum store_lookup want = drop_if_expired(it, now) ? STORE_MISS_EXPIRED
                             : it->present            ? STORE_HIT
                                                      : STORE_MISS;
    if (!expect_status(m, got, want) || want != STORE_HIT)
        return;
    if (gat)
        it->exptime = exptime;
    compare_item(m, it, &seen);
}

static enum store_status write_item(struct model *m, enum store_mode mode, const char *value,
                                    size_t nvalue, uint32_t flags, rel_time_t exptime,
                                    uint64_t cas, uint64_t *cas_out)
{
    struct store_write w = { .key = m->key, .nkey = m->nkey, .value = value, .nvalue = nvalue,
                             .flags = flags, .exptime = exptime, .cas = cas };
    return store_write(m->store, mode, &w, cas_out);
}

/* set, add, replace, cas. */
static void op_put(struct model *m, struct model_item *it, rel_time_t now, enum store_mode mode)
{
    uint32_t flags = read_flags(m);
    rel_time_t exptime = read_exptime(m, now);
    uint64_t cas = mode == STORE_CAS ? read_cas(m, it) : 0;
    char value[MODEL_ITEM_SIZE_MAX];
    size_t nvalue = read_value(m, value);
    uint64_t cas_out = 0;
    enum store_status got = write_item(m, mode, value, nvalue, flags, exptime, cas, &cas_out);

    enum store_status want = STORE_TOO_LARGE;  /* refused before the key is looked up */
    if (size_ok(m, flags, nvalue)) {
        drop_if_expired(it, now);
        switch (mode) {
        case STORE_ADD:
            want = it->present ? STORE_NOT_STORED : STORE_STORED;
            break;
        case STORE_REPLACE:
            want = it->present ? STORE_STORED : STORE_NOT_STORED;
            break;
        case STORE_CAS:
            want = !it->present                   ? STORE_NOT_FOUND
                   : cas != 0 && cas == it->cas   ? STORE_STORED
                                                  : STORE_EXISTS;
            break;
        default:
            want = STORE_STORED;
        }
    }
    if (expect_status(m, got, want) && want == STORE_STORED && check_new_cas(m, cas_out))
        model_store(it, value, nvalue, flags, exptime, cas_out);
}

/* append, prepend: the old flags and expiry stay. */
static void op_concat(struct model *m, struct model_item *it, rel_time_t now, bool prepend)
{
    uint32_t flags = read_flags(m);     /* only for the size check of the request */
    uint64_t cas = read_cas(m, it);
    char value[MODEL_ITEM_SIZE_MAX];
    size_t nvalue = read_value(m, value);
    uint64_t cas_out = 0;
    enum store_status got = write_item(m, prepend ? STORE_PREPEND : STORE_APPEND, value, nvalue,
                                       flags, 0, cas, &cas_out);

    enum store_status want = STORE_TOO_LARGE;
    if (size_ok(m, flags, nvalue)) {
        drop_if_expired(it, now);
        want = !it->present                            ? STORE_NOT_STORED
               : cas != 0 && cas != it->cas            ? STORE_EXISTS
               : !size_ok(m, it->flags, it->nvalue + nvalue) ? STORE_NOT_STORED
                                                       : STORE_STORED;
    }
    if (!expect_status(m, got, want) || want != STORE_STORED || !check_new_cas(m, cas_out))
        return;
    char joined[MODEL_ITEM_SIZE_MAX];
    const char *first = prepend ? value : it->value, *second = prepend ? it->value : value;
    size_t nfirst = prepend ? nvalue : it->nvalue;
    size_t njoined = it->nvalue + nvalue;
    memcpy(joined, first, nfirst);
    memcpy(joined + nfirst, second, njoined - nfirst);
    model_store(it, joined, njoined, it->flags, it->exptime, cas_out);
}

/* incr, decr: in place, padded with spaces, when the number fits the old
 * length; otherwise a new value of just the digits. */
static void op_delta(struct model *m, struct model_item *it, rel_time_t now, bool incr)
{
    uint64_t delta = read_uint(m, read_byte(m) % 9);
    uint64_t result = 0, cas_out = 0, counter = 0;
    enum store_status got = store_delta(m->store, m->key, m->nkey, incr, delta, &result, &cas_out);

    drop_if_expired(it, now);
    enum store_status want = !it->present                                      ? STORE_NOT_FOUND
                             : !model_counter(it->value, it->nvalue, &counter) ? STORE_NON_NUMERIC
                                                                              : STORE_DELTA_OK;
    if (!expect_status(m, got, want) || want != STORE_DELTA_OK || !check_new_cas(m, cas_out))
        return;
    uint64_t expected = incr ? counter + delta : delta > counter ? 0 : counter - delta;
    if (result != expected) {
        fail(m, "result %" PRIu64 ", the model says %" PRIu64, result, expected);
        return;
    }
    char digits[24];
    size_t ndigits = format_decimal(digits, expected);
    if (ndigits <= it->nvalue) {
        memcpy(it->value, digits, ndigits);
        memset(it->value + ndigits, ' ', it->nvalue - ndigits);
        it->cas = cas_out;
    } else {
        model_store(it, digits, ndigits, it->flags, it->exptime, cas_out);
    }
}

static void op_delete(struct model *m, struct model_item *it, rel_time_t now)
{
    enum store_status got = store_delete(m->store, m->key, m->nkey);
    drop_if_expired(it, now);
    if (expect_status(m, got, it->present ? STORE_DELETED : STORE_NOT_FOUND))
        it->present = false;
}

static void op_touch(struct model *m, struct model_item *it, rel_time_t now)
{
    rel_time_t exptime = read_exptime(m, now);
    enum store_status got = store_touch(m->store, m->key, m->nkey, exptime);
    drop_if_expired(it, now);
    if (expect_status(m, got, it->present ? STORE_TOUCHED : STORE_NOT_FOUND) && it->present)
        it->exptime = exptime;
}

/* Now, or one or two steps of time ahead (replacing a flush not due yet). */
static void op_flush(struct model *m, rel_time_t now)
{
    rel_time_t at = now + TIME_STEP * (read_byte(m) % 3);
    store_flush(m->store, at);
    m->flush_at = at;
    apply_due_flush(m, now);
}

/* store_tick reclaims every expired item (reclaim_positions covers the
 * tables) and applies a due flush everywhere: curr_items is then exact. */
static void op_tick(struct model *m, rel_time_t now)
{
    store_tick(m->store);
    uint64_t present = 0;
    for (unsigned i = 0; i < MODEL_KEYS; i++) {
        if (expired(&m->items[i], now))
            m->items[i].present = false;
        present += m->items[i].present;
    }
    struct store_stats st;
    store_get_stats(m->store, &st);
    if (st.curr_items != present)
        fail(m, "curr_items %" PRIu64 ", the model has %" PRIu64, st.curr_items, present);
    else if (st.evictions != 0)
        fail(m, "%" PRIu64 " evictions in a store never full", st.evictions);
}

static void run_op(struct model *m)
{
    rel_time_t now = clock_now();
    apply_due_flush(m, now);
    m->op = read_op(m);
    m->nkey = 0;
    bool keyed = m->op != OP_FLUSH && m->op != OP_ADVANCE && m->op != OP_TICK;
    struct model_item *it = keyed ? &m->items[read_key(m)] : NULL;

    switch (m->op) {
    case OP_GET: op_read(m, it, now, false); break;
    case OP_GAT: op_read(m, it, now, true); break;
    case OP_SET: op_put(m, it, now, STORE_SET); break;
    case OP_ADD: op_put(m, it, now, STORE_ADD); break;
    case OP_REPLACE: op_put(m, it, now, STORE_REPLACE); break;
    case OP_CAS: op_put(m, it, now, STORE_CAS); break;
    case OP_APPEND: op_concat(m, it, now, false); break;
    case OP_PREPEND: op_concat(m, it, now, true); break;
    case OP_INCR: op_delta(m, it, now, true); break;
    case OP_DECR: op_delta(m, it, now, false); break;
    case OP_DELETE: op_delete(m, it, now); break;
    case OP_TOUCH: op_touch(m, it, now); break;
    case OP_FLUSH: op_flush(m, now); break;
    case OP_ADVANCE: clock_advance_for_tests(TIME_STEP); break;
    case OP_TICK: op_tick(m, now); break;
    case OP_COUNT: break;
    }
}

/* After the run: a tick, then every key read back. */
static void check_all(struct model *m)
{
    rel_time_t now = clock_now();
    apply_due_flush(m, now);
    m->op = OP_TICK;
    op_tick(m, now);
    m->op = OP_GET;
    for (unsigned i = 0; i < MODEL_KEYS && !m->failed; i++) {
        name_key(m, i);
        op_read(m, &m->items[i], now, false);
    }
}

bool store_model_run(const uint8_t *data, size_t size, char *why, size_t nwhy)
{
    why[0] = '\0';
    struct model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(why, nwhy, "out of memory for the model");
        return false;
    }
    m->in = data;
    m->end = data + size;
    m->why = why;
    m->nwhy = nwhy;
    uint8_t config_byte = read_byte(m);
    m->use_cas = config_byte & 1;
    struct store_config config = {
        .mem_limit = MODEL_MEM_LIMIT, .item_size_max = MODEL_ITEM_SIZE_MAX,
        .use_cas = m->use_cas, .evict = true,
        .hashpower = HASHPOWER_BASE + (config_byte >> 1 & 3),
        .reclaim_expired = true, .reclaim_positions = 1u << 20,
    };
    m->store = store_create(&config);
    if (!m->store) {
        snprintf(why, nwhy, "store_create failed");
        free(m);
        return false;
    }
    while (m->in < m->end && !m->failed) {
        m->op_number++;
        run_op(m);
    }
    if (!m->failed)
        check_all(m);
    bool ok = !m->failed;
    store_destroy(m->store);
    free(m);
    return ok;
}
