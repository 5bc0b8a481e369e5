/* harness.h - what the protocol fuzz targets (fuzz_text, fuzz_meta,
 * fuzz_bin) share: the parsers alone, fed a request stream as a connection
 * would, with no store and no connection (the store is fuzzed alone by
 * fuzz_store), each parse checked against the parser's contract (see
 * harness.c); and byte strings for targets that turn their input into
 * requests. */
#ifndef XDPCACHED_FUZZ_HARNESS_H
#define XDPCACHED_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* fuzz_text, fuzz_meta: parses a request stream with text_parse() (and
 * meta_parse() for meta lines), skipping storage commands' data blocks. */
void harness_parse_text(const uint8_t *data, size_t len);

/* fuzz_bin: parses a request stream with bin_parse(), skipping values and
 * the bytes an error swallows. */
void harness_parse_bin(const uint8_t *data, size_t len);

/* A growing byte string, for targets that turn their input into requests.
 * Out of memory aborts: the fuzzer's memory limit reports it. */
struct bytes {
    uint8_t *data;
    size_t len, cap;
};

void bytes_append(struct bytes *b, const void *src, size_t n);
void bytes_puts(struct bytes *b, const char *s);
void bytes_put_decimal(struct bytes *b, uint64_t v);
void bytes_free(struct bytes *b);

#endif
