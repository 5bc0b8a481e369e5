/* test_conn_report.c - `stats conns` rows: memcached's address texts for
 * every family, the optional UDP and listen_addr lines, descriptor order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "conn_report.h"
#include "stats.h"

static struct sockaddr_storage ipv4(const char *host, unsigned port)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, host, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage ipv6(const char *host, unsigned port)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET6, host, &in6->sin6_addr), 1);
    return ss;
}

static void expect_text(struct sockaddr_storage ss, bool udp, const char *want)
{
    char text[160];
    conn_addr_text(&ss, udp, text, sizeof(text));
    assert_string_equal(text, want);
}

static void test_address_texts(void **state)
{
    (void)state;
    expect_text(ipv4("127.0.0.1", 11211), false, "tcp:127.0.0.1:11211");
    expect_text(ipv4("10.0.0.2", 5), true, "udp:10.0.0.2:5");
    expect_text(ipv6("::1", 11211), false, "tcp6:[::1]:11211");
    expect_text(ipv6("fe80::1", 0), true, "udp6:[fe80::1]:0");

    struct sockaddr_storage ss = { 0 };
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    un->sun_family = AF_UNIX;
    memset(un->sun_path, 'p', sizeof(un->sun_path)); /* the longest: no NUL */
    char want[sizeof(un->sun_path) + 8] = "unix:";
    memset(want + 5, 'p', sizeof(un->sun_path));
    expect_text(ss, false, want);

    ss.ss_family = AF_UNSPEC;
    expect_text(ss, false, "?:<AF 0>");
}

struct recorder {
    struct stats_sink sink;     /* first: emit casts back */
    char text[2048];
};

static void record(struct stats_sink *sink, const char *name, const char *value)
{
    struct recorder *r = (struct recorder *)sink;
    size_t used = strlen(r->text);
    snprintf(r->text + used, sizeof(r->text) - used, "%s %s\n", name, value);
}

static void test_rows_in_descriptor_order(void **state)
{
    (void)state;
    struct conn_rows rows = { 0 };
    struct conn_row *client = conn_rows_add(&rows, 12, false, CONN_SHOWN_NREAD, 3);
    client->addr = ipv4("127.0.0.1", 4000);
    client->listen_addr = ipv4("127.0.0.1", 11211);
    struct conn_row *udp = conn_rows_add(&rows, 7, true, CONN_SHOWN_READ, 9);
    udp->addr = ipv6("::1", 11211);
    struct conn_row *listening = conn_rows_add(&rows, 5, false, CONN_SHOWN_LISTENING, 9);
    listening->addr = ipv4("0.0.0.0", 11211);
    for (int fd = 20; fd < 40; fd++) /* past the first growth of the array */
        assert_non_null(conn_rows_add(&rows, fd, false, CONN_SHOWN_MWRITE, 0));
    assert_false(rows.oom);

    struct recorder r = { .sink = { record } };
    conn_rows_emit(&rows, &r.sink);
    conn_rows_free(&rows);
    assert_null(rows.items);
    const char *want =
        "5:addr tcp:0.0.0.0:11211\n5:state conn_listening\n5:secs_since_last_cmd 9\n"
        "7:UDP UDP\n7:addr udp6:[::1]:11211\n7:state conn_read\n7:secs_since_last_cmd 9\n"
        "12:addr tcp:127.0.0.1:4000\n12:listen_addr tcp:127.0.0.1:11211\n"
        "12:state conn_nread\n12:secs_since_last_cmd 3\n"
        "20:addr ?:<AF 0>\n20:state conn_mwrite\n";
    assert_memory_equal(r.text, want, strlen(want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_texts),
        cmocka_unit_test(test_rows_in_descriptor_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
