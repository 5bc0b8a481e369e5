/* store_speed.c - the store API alone, without sockets or threads, at CAS
 * on with W1-like items (8-byte keys and values):
 *   sets   N sets of new keys (the index growing as they come);
 *   gets   the same, then, once the index has stopped moving, 2N gets of
 *          them in a scattered order;
 *   all    the same, then N sets replacing them in that order.
 * Prints nanoseconds per call of each phase run. Keys are made beforehand,
 * so that `valgrind --tool=callgrind` counts the store's own instructions:
 * the difference of two modes' totals over the calls of the phase between
 * them is that phase's count.
 *
 *   build/store_speed N sets|gets|all      (docs/store.md, "Speed") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store.h"

enum phases { SETS = 1, GETS = 2, ALL = 3 };

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void ignore_item(void *ctx, const struct item_view *item)
{
    (void)ctx;
    (void)item;
}

/* Sets every key, in the order given by step (1: in turn), and returns ns
 * per set. */
static double set_all(struct store *s, char (*keys)[24], long n, long step)
{
    double start = seconds();
    for (long i = 0; i < n; i++) {
        const char *key = keys[(i * step) % n];
        struct store_write w = { .key = key, .nkey = 8, .value = key, .nvalue = 8 };
        store_write(s, STORE_SET, &w, NULL);
    }
    return (seconds() - start) * 1e9 / (double)n;
}

static void settle(struct store *s)
{
    struct store_stats st;
    do {
        store_tick(s);
        store_get_stats(s, &st);
    } while (st.hash_is_expanding);
}

int main(int argc, char **argv)
{
    long n = argc == 3 ? atol(argv[1]) : 0;
    int phases = argc != 3 ? 0 : !strcmp(argv[2], "sets") ? SETS
                               : !strcmp(argv[2], "gets") ? GETS
                               : !strcmp(argv[2], "all")  ? ALL : 0;
    /* Keys are 8 digits. */
    if (phases == 0 || n <= 0 || n >= 100000000) {
        fprintf(stderr, "usage: %s N sets|gets|all (0 < N < 10^8)\n", argv[0]);
        return 64;
    }
    enum { SCATTER = 7919 };
    struct store_config config = { .mem_limit = (size_t)1 << 30, .item_size_max = 1 << 20,
                                   .use_cas = true, .evict = true };
    char (*keys)[24] = malloc((size_t)n * sizeof *keys);
    clock_init();
    struct store *s = store_create(&config);
    if (!s || !keys) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 71;
    }
    for (long i = 0; i < n; i++)
        snprintf(keys[i], sizeof keys[i], "%08ld", i);

    printf("%ld items: %.0f ns per new set", n, set_all(s, keys, n, 1));
    settle(s);
    if (phases >= GETS) {
        double start = seconds();
        for (long round = 0; round < 2; round++)
            for (long i = 0; i < n; i++)
                store_get(s, keys[(i * SCATTER) % n], 8, NULL, ignore_item, NULL);
        printf(", %.0f ns per get", (seconds() - start) * 1e9 / (2.0 * (double)n));
    }
    if (phases == ALL)
        printf(", %.0f ns per replacing set", set_all(s, keys, n, SCATTER));
    printf("\n");
    store_destroy(s);
    free(keys);
    return 0;
}
