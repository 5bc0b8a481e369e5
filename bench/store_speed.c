/* store_speed.c - the store API alone, without sockets or threads: n sets
 * of new W1-like items (8-byte keys and values, CAS on), then, once the
 * hash table has stopped moving, 2n gets of them in a scattered order, then
 * n sets that replace them in that order. Prints nanoseconds per set of a
 * new key (the table growing), per get and per replacing set. Keys are made beforehand, so
 * that `valgrind --tool=callgrind` counts the store's instructions; run
 * once with "sets" and once with "all" and take the difference for gets.
 *
 *   build/store_speed N all|sets      (docs/store.md, "Speed") */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store.h"

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

int main(int argc, char **argv)
{
    /* Keys are 8 digits: N below 10^8. */
    if (argc != 3 || atol(argv[1]) < 0 || atol(argv[1]) >= 100000000 ||
        (strcmp(argv[2], "all") && strcmp(argv[2], "sets"))) {
        fprintf(stderr, "usage: %s N all|sets (N < 10^8)\n", argv[0]);
        return 64;
    }
    long n = atol(argv[1]);
    bool gets = strcmp(argv[2], "all") == 0;
    struct store_config config = { .mem_limit = (size_t)1 << 30, .item_size_max = 1 << 20,
                                   .use_cas = true, .evict = true };
    char (*keys)[24] = malloc((size_t)(n ? n : 1) * sizeof *keys);
    clock_init();
    struct store *s = store_create(&config);
    if (!s || !keys) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 71;
    }
    for (long i = 0; i < n; i++)
        snprintf(keys[i], sizeof keys[i], "%08ld", i);

    double start = seconds();
    for (long i = 0; i < n; i++) {
        struct store_write w = { .key = keys[i], .nkey = 8, .value = keys[i], .nvalue = 8 };
        store_write(s, STORE_SET, &w, NULL);
    }
    double set_time = seconds() - start;
    struct store_stats st;
    do {
        store_tick(s);
        store_get_stats(s, &st);
    } while (st.hash_is_expanding);
    start = seconds();
    for (long round = 0; gets && round < 2; round++)
        for (long i = 0; i < n; i++)
            store_get(s, keys[(i * 7919) % n], 8, NULL, ignore_item, NULL);
    double get_time = seconds() - start;
    start = seconds();
    for (long i = 0; gets && i < n; i++) {
        const char *key = keys[(i * 7919) % n];
        struct store_write w = { .key = key, .nkey = 8, .value = key, .nvalue = 8 };
        store_write(s, STORE_SET, &w, NULL);
    }
    double replace_time = seconds() - start;
    if (n && gets)
        printf("%ld items: %.0f ns per new set, %.0f ns per get, %.0f ns per replacing set\n",
               n, set_time * 1e9 / (double)n, get_time * 1e9 / (2.0 * (double)n),
               replace_time * 1e9 / (double)n);
    store_destroy(s);
    free(keys);
    return 0;
}
