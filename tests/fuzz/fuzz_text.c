/* fuzz_text.c - libFuzzer target: the input is a request stream, sent as it
 * is (harness.c delivers it over TCP whole and cut up, and over UDP). Aimed
 * at the text protocol; the seeds also hold meta and binary requests, since
 * protocol_run_one() picks the protocol from the bytes. */
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    harness_deliver(data, size);
    return 0;
}
