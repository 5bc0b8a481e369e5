/* Unit tests of the meta commands (mg ms md ma mn me): request bytes in
 * through the text protocol, reply bytes out, with a real store and no
 * sockets. The expected bytes are what memcached 1.6.18 answers (the
 * differential test, tests/e2e/test_differential_meta.py, checks the same
 * against the real server). A fresh store hands out CAS 1, 2, ... */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "meta_parse.h"
#include "proto_meta.h"
#include "proto_text.h"
#include "test_server.h"

struct fixture {
    struct test_server srv;
    struct test_conn conn;
    unsigned read_hits;      /* env.udp_read_hit calls */
};

static void count_read_hit(void *ctx, const struct item_view *item)
{
    (void)item;
    ((struct fixture *)ctx)->read_hits++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_true(test_server_init(&f->srv));
    f->srv.env.udp_read_hit = count_read_hit;
    f->srv.env.udp_read_ctx = f;
    assert_true(test_server_new_store(&f->srv));
    test_conn_init(&f->conn, &f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_server_destroy(&f->srv);
    test_conn_destroy(&f->conn);
    free(f);
    return 0;
}

static void expect(struct fixture *f, const char *requests, const char *replies)
{
    char *got = test_conn_exchange(&f->conn, requests);
    assert_string_equal(got, replies);
    free(got);
}

/* ---- mg ------------------------------------------------------------------ */

static void test_mg_hit_and_miss(void **state)
{
    struct fixture *f = *state;
    expect(f, "mg k\r\nmg k v\r\nmg k k O1 v\r\n", "EN\r\nEN\r\nEN kk O1\r\n");
    expect(f, "set k 7 0 5\r\nhello\r\n", "STORED\r\n");
    expect(f, "mg k\r\n", "HD\r\n");
    expect(f, "mg k v f s t c k O123\r\n", "VA 5 f7 s5 t-1 c1 kk O123\r\nhello\r\n");
    expect(f, "mg k O9 c k s\r\n", "HD O9 c1 kk s5\r\n");  /* request order */
    expect(f, "mg k h\r\nmg k h\r\n", "HD h1\r\nHD h1\r\n");
    expect(f, "mg k l\r\n", "HD l0\r\n");
}

static void test_mg_no_update_and_hit_flag(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\nx\r\n", "STORED\r\n");
    expect(f, "mg k u h\r\nmg k u h\r\nmg k h\r\nmg k h\r\n", "HD h0\r\nHD h0\r\nHD h0\r\nHD h1\r\n");
}

static void test_mg_ttl(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\nx\r\n", "STORED\r\n");
    expect(f, "mg k t T300\r\n", "HD t-1\r\n");       /* t before T: the old TTL */
    expect(f, "mg k T300 t\r\n", "HD t300\r\n");
    expect(f, "mg k T0 t\r\n", "HD t-1\r\n");
    expect(f, "mg k T-1\r\nmg k\r\n", "HD\r\nEN\r\n");
    assert_int_equal(f->srv.thread_stats.cmd_touch, 4);
    assert_int_equal(f->srv.thread_stats.touch_hits, 4);
    /* A T on a miss counts as a get miss, as in memcached. */
    expect(f, "mg k T30\r\n", "EN\r\n");
    assert_int_equal(f->srv.thread_stats.cmd_touch, 4);
    assert_int_equal(f->srv.thread_stats.get_misses, 2);
}

static void test_mg_quiet(void **state)
{
    struct fixture *f = *state;
    expect(f, "set a 0 0 1\r\n1\r\n", "STORED\r\n");
    expect(f, "mg a v q k\r\nmg b v q k\r\nmn\r\n", "VA 1 ka\r\n1\r\nMN\r\n");
    assert_true(f->conn.pc.transmit);
}

static void test_mg_vivify_and_recache(void **state)
{
    struct fixture *f = *state;
    expect(f, "mg k N30 v c t s\r\n", "VA 0 c1 t30 s0 W\r\n\r\n");
    expect(f, "mg k v t\r\nmg k N30\r\n", "VA 0 t30 Z\r\n\r\nHD Z\r\n");
    expect(f, "mg n T300 N30 t\r\n", "HD t30 W\r\n");      /* N after T wins */
    expect(f, "ms k 3 T100\r\nnew\r\n", "HD\r\n");
    expect(f, "mg k R30 v\r\nmg k R300 v\r\nmg k R300 v\r\n",
           "VA 3\r\nnew\r\nVA 3 W\r\nnew\r\nVA 3 Z\r\nnew\r\n");
    expect(f, "set x 0 0 1\r\n1\r\nmg x R300\r\n", "STORED\r\nHD\r\n"); /* no TTL: no win */
}

static void test_mg_stale(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\na\r\n", "STORED\r\n");
    expect(f, "md k I T30\r\n", "HD\r\n");
    expect(f, "mg k v c\r\nmg k v\r\n", "VA 1 c2 X W\r\na\r\nVA 1 Z X\r\na\r\n");
    expect(f, "md k I\r\nmg k\r\n", "HD\r\nHD X W\r\n");   /* invalidating again resets the win */
    expect(f, "ms k 1 C1 I\r\nb\r\nmg k v\r\n", "HD\r\nVA 1 Z X\r\nb\r\n");
    expect(f, "ms k 1\r\nc\r\nmg k v\r\n", "HD\r\nVA 1\r\nc\r\n");
}

static void test_mg_opaque_too_long_keeps_ttl(void **state)
{
    struct fixture *f = *state;
    expect(f, "set k 0 0 1\r\na\r\n", "STORED\r\n");
    expect(f, "mg k O123456789012345678901234567890123\r\n", "CLIENT_ERROR opaque token too long\r\n");
    expect(f, "mg k O1234567890123456789012345678901\r\n", "HD O1234567890123456789012345678901\r\n");
    expect(f, "mg k T-1 O123456789012345678901234567890123\r\nmg k\r\n",
           "CLIENT_ERROR opaque token too long\r\nEN\r\n");
}

static void test_mg_udp_read_hit(void **state)
{
    struct fixture *f = *state;
    f->conn.pc.udp = true;
    expect(f, "set k 0 0 1\r\na\r\nmg k v\r\nmg k\r\nmg x\r\n", "STORED\r\nVA 1\r\na\r\nHD\r\nEN\r\n");
    assert_int_equal(f->read_hits, 2);
    /* Not for a read that changes the item, nor for a stale one. */
    expect(f, "mg k T30\r\nmg y N30\r\nmd k I\r\nmg k\r\nmg k\r\n", "HD\r\nHD W\r\nHD\r\nHD X W\r\nHD Z X\r\n");
    assert_int_equal(f->read_hits, 2);
    f->conn.pc.udp = false;
    expect(f, "mg y\r\n", "HD Z\r\n");
    assert_int_equal(f->read_hits, 2);
}

/* ---- ms ------------------------------------------------------------------ */

static void test_ms_modes(void **state)
{
    struct fixture *f = *state;
    expect(f, "ms k 2 c k O99\r\nhi\r\n", "HD c1 kk O99\r\n");
    expect(f, "ms k 2 MA\r\nxx\r\nms k 2 MP\r\nyy\r\nmg k v\r\n", "HD\r\nHD\r\nVA 6\r\nyyhixx\r\n");
    expect(f, "ms k 1 ME\r\na\r\nms n 1 ME c\r\nb\r\n", "NS\r\nHD c4\r\n");
    expect(f, "ms z 1 MR\r\na\r\nms z 1 MA\r\na\r\nms z 1 MP\r\na\r\n", "NS\r\nNS\r\nNS\r\n");
    expect(f, "ms k 1 MS F9 T0\r\nz\r\nmg k v f t\r\n", "HD\r\nVA 1 f9 t-1\r\nz\r\n");
    expect(f, "ms k 1 MX\r\nz\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n");
    expect(f, "ms k 1 Mab\r\nz\r\n", "CLIENT_ERROR incorrect length for M token\r\n");
}

static void test_ms_cas(void **state)
{
    struct fixture *f = *state;
    expect(f, "ms k 1 C5\r\na\r\nms k 1 C5 MR\r\na\r\n", "NF\r\nNF\r\n");
    expect(f, "ms k 1 c\r\na\r\n", "HD c1\r\n");
    expect(f, "ms k 1 C2 c\r\nb\r\nms k 1 C1 c\r\nb\r\nms k 1 C0\r\nb\r\n", "EX c0\r\nHD c2\r\nEX\r\n");
    expect(f, "ms k 1 C9 ME\r\nb\r\nms k 1 MA C9\r\nb\r\nms k 1 MA C2\r\nc\r\n", "NS\r\nEX\r\nHD\r\n");
    assert_int_equal(f->srv.thread_stats.cas_hits, 1);
    assert_int_equal(f->srv.thread_stats.cas_badval, 2);
    assert_int_equal(f->srv.thread_stats.cas_misses, 2);
    assert_int_equal(f->srv.thread_stats.cmd_set, 9);
}

static void test_ms_quiet_and_data_errors(void **state)
{
    struct fixture *f = *state;
    expect(f, "ms k 5\r\nhello\r\nms k 5 q\r\nhellx\r\nms k 5 MR q\r\nhelly\r\nms k2 5 MR q\r\nhellz\r\nmn\r\n",
           "HD\r\nNS\r\nMN\r\n");
    expect(f, "ms k 5 q\r\nhelloXX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    expect(f, "mg k v\r\n", "VA 5\r\nhelly\r\n");
}

static void test_ms_refused_lines(void **state)
{
    struct fixture *f = *state;
    /* Before the length is known: nothing is swallowed. */
    expect(f, "ms\r\n", "ERROR\r\n");
    expect(f, "ms k\r\nms k x\r\nms k -1\r\nms k 2147483647\r\n",
           "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n"
           "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n");
    expect(f, "ms k 1 a b c d e f g h i j k l m n o p q\r\n", "CLIENT_ERROR options flags too long\r\n");
    /* After it: the data block is thrown away, the error comes first. */
    expect(f, "ms k 2 zz\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\n");
    expect(f, "ms k 2 T1 T2\r\nmn\r\n", "CLIENT_ERROR duplicate flag\r\n");
    expect(f, "ms k 1 Fx\r\na\r\nms k 1 Tx Fx\r\na\r\nms k 1 Fx Tx\r\na\r\n",
           "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad token in command line format\r\n"
           "CLIENT_ERROR bad token in command line format\r\n");
    expect(f, "ms k 1 O123456789012345678901234567890123 q\r\na\r\n", "CLIENT_ERROR opaque token too long\r\n");
    expect(f, "ms k 1 b\r\na\r\n", "CLIENT_ERROR error decoding key\r\n");
    expect(f, "mg k\r\n", "EN\r\n");
}

static void test_ms_too_large(void **state)
{
    struct fixture *f = *state;
    static char value[(1 << 20) + 4];
    expect(f, "ms k 1\r\na\r\n", "HD\r\n");
    size_t n = (size_t)snprintf(value, sizeof value, "ms k %d\r\n", 1 << 20);
    test_conn_feed(&f->conn, value, n);
    memset(value, 'x', sizeof value);
    test_conn_feed(&f->conn, value, (1 << 20) + 2);
    expect(f, "mg k\r\n", "SERVER_ERROR object too large for cache\r\nEN\r\n");
    assert_int_equal(f->srv.thread_stats.store_too_large, 1);
}

/* ---- md, ma ------------------------------------------------------------ */

static void test_md(void **state)
{
    struct fixture *f = *state;
    expect(f, "md k\r\nmd k q k O5\r\n", "NF\r\nNF kk O5\r\n");
    expect(f, "set k 0 0 1\r\na\r\nmd k C0\r\nmd k C2\r\nmd k C1 q\r\nmd k\r\n",
           "STORED\r\nEX\r\nEX\r\nNF\r\n");
    expect(f, "md k x\r\nmd k q q\r\nmd k b\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"
           "CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n");
    expect(f, "md k O123456789012345678901234567890123\r\n", "CLIENT_ERROR opaque token too long\r\n");
    expect(f, "set k 0 0 1\r\na\r\nmd k T30\r\nmg k\r\n", "STORED\r\nHD\r\nEN\r\n"); /* T without I */
    assert_int_equal(f->srv.thread_stats.delete_hits, 2);
    assert_int_equal(f->srv.thread_stats.delete_misses, 5);
}

static void test_ma(void **state)
{
    struct fixture *f = *state;
    expect(f, "ma n\r\nma n N0 J10 v\r\nma n v\r\nma n MD D5 v c t\r\n",
           "NF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1 c3 t-1\r\n6\r\n");
    expect(f, "ma n q\r\nma n q v\r\nmg n v\r\n", "VA 2\r\n8 \r\n");
    expect(f, "ma x q\r\nma x q N0\r\n", "NF\r\nHD\r\n");   /* a created counter is answered */
    expect(f, "ma n M+ D2 v\r\nma n M- v\r\nma n MI v\r\nma n Mi\r\n",
           "VA 2\r\n10\r\nVA 1\r\n9\r\nVA 2\r\n10\r\nCLIENT_ERROR invalid mode for ma M token\r\n");
    expect(f, "ma n C1\r\nma n C0 k O1\r\n", "EX\r\nHD kn O1\r\n");
    expect(f, "set s 0 0 1\r\na\r\nma s\r\nma s C99\r\n",
           "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nEX\r\n");
    expect(f, "ma n Dx\r\nma n J-1\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"
           "CLIENT_ERROR invalid or duplicate flag\r\n");
    expect(f, "ma m N300 J7 v t\r\n", "VA 1 t300\r\n7\r\n");
    assert_int_equal(f->srv.thread_stats.incr_hits, 6);
    assert_int_equal(f->srv.thread_stats.decr_hits, 2);
    assert_int_equal(f->srv.thread_stats.incr_misses, 2);
}

/* ---- mn, me, dispatch ------------------------------------------------------ */

static void test_me_and_dispatch(void **state)
{
    struct fixture *f = *state;
    expect(f, "me\r\nme k\r\n", "CLIENT_ERROR bad command line format\r\nEN\r\n");
    expect(f, "set k 0 0 3\r\nbar\r\nme k\r\n",
           "STORED\r\nME k exp=-1 la=0 cas=1 fetch=no cls=1 size=63\r\n");
    expect(f, "mg k\r\nmg k\r\nme k\r\n", "HD\r\nHD\r\nME k exp=-1 la=0 cas=1 fetch=yes cls=1 size=63\r\n");
    char big[80];
    snprintf(big, sizeof big, "set b 1 0 %d\r\n", 5000);
    test_conn_feed(&f->conn, big, strlen(big));
    static char value[5002];
    memset(value, 'y', 5000);
    memcpy(value + 5000, "\r\n", 2);
    test_conn_feed(&f->conn, value, sizeof value);
    expect(f, "me b\r\n", "STORED\r\nME b exp=-1 la=0 cas=2 fetch=no cls=19 size=5064\r\n");
    expect(f, "mz\r\nmn\r\nmn x y\r\n", "ERROR\r\nMN\r\nMN\r\n");
    expect(f, "md\r\nma\r\nmg\r\n", "ERROR\r\nERROR\r\nERROR\r\n");
}

static void test_flag_errors(void **state)
{
    struct fixture *f = *state;
    expect(f, "mg k v v\r\nmg k x\r\nmg k \xff\r\nmg k T\r\nmg k N1x\r\n",
           "CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
           "CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad token in command line format\r\n");
    expect(f, "mg k a b c d e f g h i j k l m n o p q r\r\n", "CLIENT_ERROR options flags are too long\r\n");
    char line[300];
    snprintf(line, sizeof line, "mg %0251d v\r\n", 0);
    expect(f, line, "CLIENT_ERROR bad command line format\r\n");
    snprintf(line, sizeof line, "mg %0250d v q\r\n", 0);
    expect(f, line, "");
}

/* ---- base64 keys ------------------------------------------------------------ */

static void test_base64_keys(void **state)
{
    struct fixture *f = *state;
    expect(f, "ms Zm9v 3 b k\r\nbar\r\n", "HD kZm9v b\r\n");
    expect(f, "mg Zm9v b k v\r\nmg foo k v\r\n", "VA 3 kZm9v b\r\nbar\r\nVA 3 kZm9v b\r\nbar\r\n");
    expect(f, "me Zm9v b\r\n", "ME Zm9v exp=-1 la=0 cas=1 fetch=yes cls=1 size=65\r\n");
    expect(f, "set t 0 0 1\r\nx\r\nmg dA== b k\r\n", "STORED\r\nHD kt\r\n"); /* stored as text */
    expect(f, "mg eA== b k\r\nmd eA== b k\r\nma eA== b k\r\n", "EN keA== b\r\nNF keA== b\r\nNF keA== b\r\n");
    expect(f, "mg eA== b N0 k\r\n", "HD kx W\r\n");      /* vivified: raw key, as memcached */
    expect(f, "mg **** b\r\nmg abc b\r\nme abc b\r\n",
           "CLIENT_ERROR error decoding key\r\nCLIENT_ERROR error decoding key\r\n"
           "CLIENT_ERROR bad command line format\r\n");
}

static void check_decode(const char *text, const char *bytes, size_t nbytes)
{
    char buf[64];
    size_t len = strlen(text);
    memcpy(buf, text, len);
    bool ok = meta_base64_decode(buf, &len);
    assert_int_equal(ok, bytes != NULL);
    assert_int_equal(len, nbytes);
    if (bytes)
        assert_memory_equal(buf, bytes, nbytes);
}

static void test_base64_codec(void **state)
{
    (void)state;
    check_decode("Zm9v", "foo", 3);
    check_decode("YQ==", "a", 1);
    check_decode("YWI=", "ab", 2);
    check_decode("Z!m9-v", "foo", 3);        /* junk is skipped */
    check_decode("YQ==YQ==", "a", 1);        /* padding ends the text */
    check_decode("A=AA", "\0\0", 2);        /* '=' anywhere in its group counts */
    check_decode("YQ", NULL, 0);
    check_decode("Y===", NULL, 0);
    check_decode("====", NULL, 0);
    check_decode("!!", NULL, 0);
    char out[16];
    assert_int_equal(meta_base64_encode("foob", 4, out), 8);
    assert_memory_equal(out, "Zm9vYg==", 8);
    assert_int_equal(meta_base64_encode("fo", 2, out), 4);
    assert_memory_equal(out, "Zm8=", 4);
    assert_int_equal(meta_base64_encode("", 0, out), 0);
    /* Every 0..200-byte key survives encode then decode. */
    char key[200], text[300];
    for (size_t n = 1; n < sizeof key; n++) {
        for (size_t i = 0; i < n; i++)
            key[i] = (char)(i * 37 + n);
        size_t len = meta_base64_encode(key, n, text);
        assert_true(meta_base64_decode(text, &len));
        assert_int_equal(len, n);
        assert_memory_equal(text, key, n);
    }
}

/* ---- split input ------------------------------------------------------------ */

static void test_byte_by_byte_equals_whole(void **state)
{
    struct fixture *f = *state;
    const char *stream = "ms k 5 T0 F3 c k\r\nhello\r\nmg k v f q\r\nmg x q\r\nma n N0 J4 v\r\n"
                         "ms k 2 zz\r\nxy\r\nmd k q\r\nmd k\r\nmn\r\n";
    for (const char *p = stream; *p; p++)
        test_conn_feed(&f->conn, p, 1);
    char *split = strndup(f->conn.out.data, f->conn.out.len);
    obuf_reset(&f->conn.out);
    assert_string_equal(split, "HD c1 kk\r\nVA 5 f3\r\nhello\r\nVA 1\r\n4\r\n"
                               "CLIENT_ERROR invalid flag\r\nNF\r\nMN\r\n");
    free(split);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mg_hit_and_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_no_update_and_hit_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_vivify_and_recache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_opaque_too_long_keeps_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mg_udp_read_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ms_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ms_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ms_quiet_and_data_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ms_refused_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ms_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_md, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ma, setup, teardown),
        cmocka_unit_test_setup_teardown(test_me_and_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flag_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base64_keys, setup, teardown),
        cmocka_unit_test(test_base64_codec),
        cmocka_unit_test_setup_teardown(test_byte_by_byte_equals_whole, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
