/* harness.h - what the libFuzzer targets (fuzz_text, fuzz_meta, fuzz_bin)
 * share: the parsers alone, fed a request stream as a connection would
 * (harness_parse_text: fuzz_text, fuzz_meta); one server environment with
 * a real store, and the delivery of a request stream to protocol_run_one()
 * the way the daemon delivers it (harness_deliver: fuzz_bin).
 *
 * A target only decides which bytes to send; harness_deliver() sends
 * them three ways, each time on a fresh connection:
 *   - over TCP in one read (conn.c: run what is complete, keep the rest),
 *   - over TCP in reads of a few bytes each, so that every request is also
 *     seen cut at many places,
 *   - as one UDP datagram (udp.c: pc->udp set, what is incomplete at the
 *     end is dropped).
 * Besides what ASan and UBSan catch, the harness aborts when the protocol
 * breaks the contract of proto.h that conn.c relies on (see harness.c). */
#ifndef XDPCACHED_FUZZ_HARNESS_H
#define XDPCACHED_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* Sends one request stream the three ways described above. */
void harness_deliver(const uint8_t *data, size_t len);

/* The parser-alone targets (fuzz_text, fuzz_meta): parses a request stream
 * with text_parse() (and meta_parse() for meta lines) as a connection
 * would, skipping storage commands' data blocks, with no store and no
 * connection; aborts when a parse breaks its contract (see harness.c). */
void harness_parse_text(const uint8_t *data, size_t len);

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
