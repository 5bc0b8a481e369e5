/* wire.h - memcached's text reply formats that more than one module writes:
 * the VALUE line of get/gets replies. The text composer (proto_text.c) and
 * the XDP fast path's records (xdp_mirror.c) use these, so that the fast path replies with the same bytes. */
#ifndef XDPCACHED_WIRE_H
#define XDPCACHED_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The parts of a VALUE line after the key: " <flags> <bytes>" and " <cas>".
 * They return the length written, always below WIRE_VALUE_FIELDS_MAX, which
 * buf must hold. */
#define WIRE_VALUE_FIELDS_MAX 48
size_t wire_value_fields(char *buf, uint32_t flags, size_t nbytes);
size_t wire_cas_field(char *buf, uint64_t cas);

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" for an item; returns its
 * length, at most WIRE_VALUE_LINE_MAX, which buf must hold. */
#define WIRE_VALUE_LINE_MAX (6 + STORE_KEY_MAX + 2 * WIRE_VALUE_FIELDS_MAX + 2)
size_t wire_value_line(char *buf, const struct item_view *item, bool with_cas);

#endif
