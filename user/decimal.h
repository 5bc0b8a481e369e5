/* decimal.h - unsigned integers as decimal text, without printf: every
 * reply to a get (and every request mcload builds) formats a few numbers, and
 * snprintf costs about 1,000 instructions each time. Used by the daemon and
 * by mcload. */
#ifndef XDPCACHED_DECIMAL_H
#define XDPCACHED_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Writes the digits of v at buf, like printf's %llu (no terminator);
 * returns their count, at most 20. */
static inline size_t format_decimal(char *buf, uint64_t v)
{
    /* Counted first, so that the digits go straight to their place. */
    size_t n = 1;
    for (uint64_t rest = v; rest >= 10; rest /= 10)
        n++;
    for (size_t i = n; i > 0; i--) {
        buf[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return n;
}

#endif
