/* fuzz_meta.c - libFuzzer target for the meta protocol's parser alone
 * (meta_parse.h, through text_parse.h; no store, no connection): the input
 * is turned into meta command lines, so that nearly every request reaches
 * the meta parser with fuzzed keys and flags, and ms values are framed
 * right.
 *
 * The input is records separated by '\n'; each becomes one request. Its
 * first byte picks the command: 'g' 's' 'd' 'a' 'n' 'e' for mg ms md ma mn
 * me (so that seeds read as what they send), '#' for a raw line (the rest of
 * the record as it is: text commands, data blocks, other m* names), any
 * other byte the meta command (byte % 6) of that list. The rest of the
 * record follows the command name after a space, and "\r\n" ends the line:
 *     "gfoo v k"          ->  "mg foo v k\r\n"
 * An ms record with a '|' carries its value after it, and the data length
 * is put in after the key:
 *     "sfoo T0 F5|hello"  ->  "ms foo 5 T0 F5\r\nhello\r\n"
 * Without '|' the record is sent as written ("sfoo 5 T0" -> "ms foo 5 T0"),
 * so that a wrong or missing length can be tried, with the value in a
 * following '#' record. tests/fuzz/make_seeds.py writes seeds this way. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char meta_letters[] = "gsdane";
#define META_NCOMMANDS 6

/* ms with its value: the data length goes right after the key. */
static void put_ms_with_value(struct bytes *req, const uint8_t *args, size_t nargs,
                              const uint8_t *value, size_t nvalue)
{
    const uint8_t *space = memchr(args, ' ', nargs);
    size_t nkey = space ? (size_t)(space - args) : nargs;
    bytes_puts(req, "ms ");
    bytes_append(req, args, nkey);
    bytes_puts(req, " ");
    bytes_put_decimal(req, nvalue);
    bytes_append(req, args + nkey, nargs - nkey);
    bytes_puts(req, "\r\n");
    bytes_append(req, value, nvalue);
    bytes_puts(req, "\r\n");
}

static void put_record(struct bytes *req, const uint8_t *rec, size_t len)
{
    if (len == 0)
        return;
    const uint8_t *rest = rec + 1;
    size_t nrest = len - 1;
    if (rec[0] == '#') {
        bytes_append(req, rest, nrest);
        bytes_puts(req, "\r\n");
        return;
    }
    const char *letter = memchr(meta_letters, rec[0], META_NCOMMANDS);
    char name = letter ? *letter : meta_letters[rec[0] % META_NCOMMANDS];
    const uint8_t *bar = name == 's' ? memchr(rest, '|', nrest) : NULL;
    if (bar) {
        size_t nargs = (size_t)(bar - rest);
        put_ms_with_value(req, rest, nargs, bar + 1, nrest - nargs - 1);
        return;
    }
    char command[3] = { 'm', name, '\0' };
    bytes_puts(req, command);
    if (nrest > 0) {
        bytes_puts(req, " ");
        bytes_append(req, rest, nrest);
    }
    bytes_puts(req, "\r\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bytes req = { 0 };
    size_t start = 0;
    while (start < size) {
        const uint8_t *newline = memchr(data + start, '\n', size - start);
        size_t end = newline ? (size_t)(newline - data) : size;
        put_record(&req, data + start, end - start);
        start = end + 1;
    }
    harness_parse_text(req.data, req.len);
    bytes_free(&req);
    return 0;
}
