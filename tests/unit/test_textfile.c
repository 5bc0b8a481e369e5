/* test_textfile.c - a small file read whole: exactly max bytes is taken,
 * one more is EFBIG, growth past the first buffer keeps every byte, and a
 * missing file is fopen's error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "textfile.h"

static char path[] = "/tmp/xdpcached-test-textfile-XXXXXX";

static void write_bytes(size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('a' + (int)(i % 26), f);
    assert_int_equal(fclose(f), 0);
}

static void test_reads_up_to_max(void **state)
{
    (void)state;
    strcpy(path + strlen(path) - 6, "XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 10000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        write_bytes(sizes[i]);
        size_t len = 99;
        char *text = textfile_read(path, 10000, &len);
        assert_non_null(text);
        assert_int_equal(len, sizes[i]);
        assert_int_equal(text[len], '\0');
        for (size_t j = 0; j < len; j++)
            assert_int_equal(text[j], 'a' + (int)(j % 26));
        free(text);
    }
    write_bytes(10001);
    size_t len;
    assert_null(textfile_read(path, 10000, &len));
    assert_int_equal(errno, EFBIG);
    unlink(path);
    assert_null(textfile_read(path, 10000, &len));
    assert_int_equal(errno, ENOENT);
    assert_string_equal(textfile_error(ENOMEM), "out of memory");
    assert_string_equal(textfile_error(ENOENT), strerror(ENOENT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_up_to_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
