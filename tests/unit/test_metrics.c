/* test_metrics.c - the exposition text of --metrics-listen, from a
 * socket-less server: exporter names and labels, values equal to `stats`,
 * one HELP and TYPE per family before its samples, and every numeric stat
 * exported once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test_server.h"

struct fixture {
    struct test_server server;
    struct test_conn conn;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_true(test_server_init(&f->server));
    assert_true(test_server_new_store(&f->server));
    test_conn_init(&f->conn, &f->server);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_conn_destroy(&f->conn);
    test_server_destroy(&f->server);
    free(f);
    return 0;
}

static void run(struct fixture *f, const char *requests)
{
    free(test_conn_exchange(&f->conn, requests));
}

/* The exposition text; the caller frees it. */
static char *exposition(struct fixture *f)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    metrics_write(&f->server.env, out);
    fclose(out);
    return text;
}

/* The value of the sample line that starts with name (labels included). */
static double sample(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        if (!strchr(line, '\n'))
            break;
    }
    fail_msg("no sample %s", name);
    return 0;
}

static void test_exporter_names_and_values(void **state)
{
    struct fixture *f = *state;
    run(f, "set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a\r\nget nope\r\n"
           "cas a 0 0 1 12345\r\nz\r\ndelete b\r\nincr nope 1\r\ntouch a 10\r\n");
    char *text = exposition(f);
    assert_int_equal(sample(text, "memcached_up"), 1);
    assert_int_equal(sample(text, "memcached_version{version=\"" XDPCACHED_PROTOCOL_VERSION "\"}"), 1);
    assert_int_equal(sample(text, "xdpcached_build_info{version=\"" XDPCACHED_VERSION "\"}"), 1);
    assert_int_equal(sample(text, "memcached_commands_total{command=\"get\",status=\"hit\"}"), 1);
    assert_int_equal(sample(text, "memcached_commands_total{command=\"get\",status=\"miss\"}"), 1);
    assert_int_equal(sample(text, "memcached_commands_total{command=\"cas\",status=\"badval\"}"), 1);
    assert_int_equal(sample(text, "memcached_commands_total{command=\"delete\",status=\"hit\"}"), 1);
    assert_int_equal(sample(text, "memcached_commands_total{command=\"incr\",status=\"miss\"}"), 1);
    assert_int_equal(sample(text, "memcached_commands_total{command=\"touch\",status=\"hit\"}"), 1);
    /* cmd_set is 3 (the cas included); the exporter's set is not */
    assert_int_equal(sample(text, "memcached_commands_total{command=\"set\",status=\"hit\"}"), 2);
    assert_int_equal(sample(text, "memcached_current_items"), 1);
    assert_int_equal(sample(text, "memcached_items_total"), 2);
    assert_int_equal(sample(text, "memcached_limit_bytes"), 8 << 20);
    assert_int_equal(sample(text, "xdpcached_cmd_get_total"), 2);
    assert_int_equal(sample(text, "xdpcached_cmd_touch_total"), 1);
    assert_true(sample(text, "xdpcached_hash_power_level") >= 12);
    free(text);
}

/* Each family: "# HELP name", "# TYPE name", then its samples, and never
 * again; counters end in _total (but memcached_uptime_seconds, a gauge). */
static void test_families_are_well_formed(void **state)
{
    struct fixture *f = *state;
    char *text = exposition(f);
    char families[128][96];
    int nfamilies = 0;
    char current[96] = "";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[96], type[16];
        if (sscanf(line, "# HELP %95s", name) == 1) {
            for (int i = 0; i < nfamilies; i++)
                assert_string_not_equal(families[i], name);
            assert_true(nfamilies < 128);
            strcpy(families[nfamilies++], name);
            strcpy(current, name);
        } else if (sscanf(line, "# TYPE %95s %15s", name, type) == 2) {
            assert_string_equal(name, current);
            assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0);
            if (strcmp(type, "counter") == 0)
                assert_non_null(strstr(name, "_total"));
        } else {
            size_t len = strcspn(line, "{ ");
            assert_int_equal(len, strlen(current));
            assert_memory_equal(line, current, len);
        }
    }
    assert_true(nfamilies > 30);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exporter_names_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_families_are_well_formed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
