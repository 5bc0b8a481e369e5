/* test_authfile.c - -Y's file: what memcached 1.6.18 reads and refuses,
 * the check of a pair, and a reload that keeps the users when the new file
 * is bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authfile.h"

static char path[] = "/tmp/xdpcached-test-auth-XXXXXX";

static int make_path(void **state)
{
    (void)state;
    strcpy(path + strlen(path) - 6, "XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int remove_path(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#define WRITE(text) write_file(text, sizeof(text) - 1)

static bool check(struct authfile *a, const char *user, const char *pass)
{
    return authfile_check(a, user, strlen(user), pass, strlen(pass));
}

static void test_pairs_are_checked_exactly(void **state)
{
    (void)state;
    WRITE("alice:secret\nbob:pw:with:colons\ncarol:\n:nobody\nu5:p\nu6:p\nu7:p\nu8:p\nu9:ninth");
    char why[256] = "";
    struct authfile *a = authfile_load(path, why, sizeof(why));
    assert_non_null(a);
    assert_true(check(a, "alice", "secret"));
    assert_true(check(a, "bob", "pw:with:colons"));
    assert_true(check(a, "carol", ""));
    assert_true(check(a, "", "nobody"));
    assert_true(check(a, "u9", "ninth")); /* memcached would ignore a ninth pair */
    assert_false(check(a, "alice", "secre"));
    assert_false(check(a, "alice", "secrets"));
    assert_false(check(a, "alice", "Secret"));
    assert_false(check(a, "alic", "secret"));
    assert_false(check(a, "bob", "secret"));
    assert_false(check(a, "nobody", ""));
    authfile_free(a);
}

static void expect_refused(const char *text, size_t len, const char *why_has)
{
    write_file(text, len);
    char why[512] = "";
    assert_null(authfile_load(path, why, sizeof(why)));
    if (strstr(why, why_has) == NULL)
        fail_msg("'%s' lacks '%s'", why, why_has);
    assert_non_null(strstr(why, path));
}

static void test_malformed_files_are_refused(void **state)
{
    (void)state;
    expect_refused("nocolon\n", 8, "malformed entry at line 1");
    expect_refused("a:b\n\n", 5, "malformed entry at line 2");
    expect_refused("a:b\r\n", 5, "malformed entry at line 1");
    expect_refused("a:b\nc:d\0e\n", 10, "malformed entry at line 2");
    char longest[AUTHFILE_LINE_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    longest[1] = ':';
    longest[AUTHFILE_LINE_MAX - 1] = '\n'; /* 255 bytes with its newline: taken */
    write_file(longest, AUTHFILE_LINE_MAX);
    char why[256];
    struct authfile *a = authfile_load(path, why, sizeof(why));
    assert_non_null(a);
    authfile_free(a);
    longest[AUTHFILE_LINE_MAX - 1] = 'x';
    longest[AUTHFILE_LINE_MAX] = '\n';
    expect_refused(longest, AUTHFILE_LINE_MAX + 1, "malformed entry at line 1");
    unlink(path);
    char missing[512] = "";
    assert_null(authfile_load(path, missing, sizeof(missing)));
    assert_non_null(strstr(missing, "No such file or directory"));
}

static void test_empty_file_lets_nobody_in(void **state)
{
    (void)state;
    write_file("", 0);
    char why[256];
    struct authfile *a = authfile_load(path, why, sizeof(why));
    assert_non_null(a);
    assert_false(check(a, "", ""));
    authfile_free(a);
}

static void test_reload_takes_new_users_or_keeps_old(void **state)
{
    (void)state;
    WRITE("alice:secret\n");
    char why[256] = "";
    struct authfile *a = authfile_load(path, why, sizeof(why));
    assert_non_null(a);
    WRITE("carol:new\n");
    assert_true(authfile_reload(a, path, why, sizeof(why)));
    assert_true(check(a, "carol", "new"));
    assert_false(check(a, "alice", "secret"));
    WRITE("broken\n");
    assert_false(authfile_reload(a, path, why, sizeof(why)));
    assert_non_null(strstr(why, "malformed"));
    assert_true(check(a, "carol", "new"));
    authfile_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pairs_are_checked_exactly, make_path, remove_path),
        cmocka_unit_test_setup_teardown(test_malformed_files_are_refused, make_path, remove_path),
        cmocka_unit_test_setup_teardown(test_empty_file_lets_nobody_in, make_path, remove_path),
        cmocka_unit_test_setup_teardown(test_reload_takes_new_users_or_keeps_old, make_path,
                                        remove_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
