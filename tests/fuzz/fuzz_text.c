/* fuzz_text.c - libFuzzer target: the text protocol's parser alone
 * (text_parse.h, and meta_parse.h for meta lines), with no store and no
 * connection (the store is fuzzed alone by fuzz_store). The input is a
 * request stream, parsed line after line as a connection would
 * (harness_parse_text in harness.c, which also checks the parsers'
 * contract). */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    harness_parse_text(data, size);
    return 0;
}
