/* wire.c - see wire.h. */
#define _GNU_SOURCE /* mempcpy */
#include "wire.h"

#include <string.h>

#include "decimal.h"

size_t wire_value_fields(char *buf, uint32_t flags, size_t nbytes)
{
    size_t n = 0;
    buf[n++] = ' ';
    n += format_decimal(buf + n, flags);
    buf[n++] = ' ';
    n += format_decimal(buf + n, nbytes);
    return n;
}

size_t wire_cas_field(char *buf, uint64_t cas)
{
    buf[0] = ' ';
    return 1 + format_decimal(buf + 1, cas);
}

size_t wire_value_line(char *buf, const struct item_view *item, bool with_cas)
{
    char *p = mempcpy(buf, "VALUE ", 6);
    p = mempcpy(p, item->key, item->nkey);
    p += wire_value_fields(p, item->flags, item->nvalue);
    if (with_cas)
        p += wire_cas_field(p, item->cas);
    p = mempcpy(p, "\r\n", 2);
    return (size_t)(p - buf);
}
