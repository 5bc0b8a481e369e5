/* test_store_model.c - the store against the model of
 * tests/support/store_model.h, over fixed pseudo-random operation
 * sequences: what fuzz_store checks, run by every `make test` even
 * without fuzzing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"
#include "store_model.h"

/* xorshift64*: the same bytes on every run and machine. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

/* Random inputs of every length up to the fuzzer's 4096 bytes. */
static void test_random_sequences_match_model(void **state)
{
    (void)state;
    enum { RUNS = 2000, MAX_LEN = 4096 };
    static uint8_t input[MAX_LEN];
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    for (unsigned run = 0; run < RUNS; run++) {
        size_t len = (size_t)(next_random(&rng) % MAX_LEN) + 1;
        for (size_t i = 0; i < len; i++)
            input[i] = (uint8_t)(next_random(&rng) >> 56);
        char why[512];
        if (!store_model_run(input, len, why, sizeof why))
            fail_msg("run %u (%zu bytes): %s", run, len, why);
    }
}

static int setup(void **state)
{
    (void)state;
    clock_init();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_random_sequences_match_model),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
