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
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = digits[n - 1 - i];
    return n;
}

#endif
