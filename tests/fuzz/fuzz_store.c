/* fuzz_store.c - libFuzzer target for the store alone: the input is a
 * sequence of store operations, each checked against a simple model
 * (tests/support/store_model.h gives the input's form). A difference
 * aborts with what differed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "store_model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    clock_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (!store_model_run(data, size, why, sizeof why)) {
        fprintf(stderr, "fuzz_store: the store differs from the model: %s\n", why);
        abort();
    }
    return 0;
}
