/* item.h - one stored item's bytes: a 12-byte header, then [CAS 8, when
 * the store keeps CAS] key [flags 4, when non-zero] [value length 4, when
 * 1 MiB or more] value (without CRLF). It knows nothing of where items
 * live (allocation), how they are found (hash_index.h) or when they go
 * (eviction): store.c does. docs/store.md says where the bytes go.
 *
 * Flags are stored only when non-zero, as memcached does: most clients
 * never set them. The key sits at a fixed offset, so that lookups find it
 * without decoding the optional words, which come between it and the
 * value. The CAS is read with memcpy (offset 12 is not 8-aligned). The last
 * header word is the meta protocol's: the last access time (`l`,
 * memcached's item time) and three state bits. */
#ifndef XDPCACHED_ITEM_H
#define XDPCACHED_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "store.h"

enum item_bits {
    ITEM_REFERENCED = 1,         /* used since the clock hand last passed */
    ITEM_FETCHED = 2,            /* read at least once (get, gat, touch, store_mark_used) */
};

#define ATIME_BITS 28
#define ATIME_MASK ((1u << ATIME_BITS) - 1)

/* Value lengths below this fit in the header; longer ones (only possible with
 * -I above 1m) take a 4-byte word just before the value. */
#define SHORT_NVALUE_LIMIT (1u << 20)

struct item {
    rel_time_t exptime;
    uint32_t nkey : 8;
    uint32_t bits : 2;           /* enum item_bits */
    uint32_t has_flags : 1;      /* a flags word follows the key */
    uint32_t long_value : 1;     /* a value length word precedes the value */
    uint32_t short_nvalue : 20;  /* the value length, when !long_value */
    uint32_t atime : ATIME_BITS; /* last access, rel_time_t modulo 2^28 (8.5 years) */
    uint32_t active : 1;         /* read twice: later reads leave atime (memcached's ITEM_ACTIVE) */
    uint32_t key_binary : 1;     /* stored with a base64-decoded key (meta `b`) */
    uint32_t stale : 1;          /* invalidated (meta `md I`, `ms I`) */
    uint32_t win_token_sent : 1; /* a reader was told it won the recache (meta `W`) */
    unsigned char data[];
};

#define ITEM_HEADER_SIZE offsetof(struct item, data)
_Static_assert(ITEM_HEADER_SIZE == 12, "the item header is meant to be 12 bytes");
_Static_assert(STORE_KEY_MAX < 256, "nkey is 8 bits");

/* What every item of a store shares: 8 bytes of CAS, or none (-C). */
struct item_layout {
    size_t cas_bytes;
};

/* The bytes an item with these fields takes. */
static inline size_t item_bytes_for(const struct item_layout *l, size_t nkey, size_t nvalue,
                                    uint32_t flags)
{
    return ITEM_HEADER_SIZE + l->cas_bytes + (flags ? sizeof(uint32_t) : 0) +
           (nvalue >= SHORT_NVALUE_LIMIT ? sizeof(uint32_t) : 0) + nkey + nvalue;
}

static inline char *item_key(const struct item_layout *l, struct item *it)
{
    return (char *)it->data + l->cas_bytes;
}

static inline unsigned char *item_flags_word(const struct item_layout *l, struct item *it)
{
    return (unsigned char *)item_key(l, it) + it->nkey;
}

static inline unsigned char *item_long_nvalue_word(const struct item_layout *l, struct item *it)
{
    return item_flags_word(l, it) + sizeof(uint32_t) * it->has_flags;
}

static inline char *item_value(const struct item_layout *l, struct item *it)
{
    return (char *)item_long_nvalue_word(l, it) + sizeof(uint32_t) * it->long_value;
}

static inline uint32_t item_flags(const struct item_layout *l, struct item *it)
{
    uint32_t flags = 0;
    if (it->has_flags)
        memcpy(&flags, item_flags_word(l, it), sizeof flags);
    return flags;
}

static inline size_t item_nvalue(const struct item_layout *l, struct item *it)
{
    if (!it->long_value)
        return it->short_nvalue;
    uint32_t nvalue;
    memcpy(&nvalue, item_long_nvalue_word(l, it), sizeof nvalue);
    return nvalue;
}

static inline size_t item_bytes(const struct item_layout *l, struct item *it)
{
    return item_bytes_for(l, it->nkey, item_nvalue(l, it), item_flags(l, it));
}

static inline uint64_t item_cas(const struct item_layout *l, const struct item *it)
{
    uint64_t cas = 0;
    if (l->cas_bytes) /* a fixed-size copy is one load; a variable one, a call */
        memcpy(&cas, it->data, sizeof cas);
    return cas;
}

/* Without CAS there is nowhere to put it: a no-op. */
static inline void item_set_cas(const struct item_layout *l, struct item *it, uint64_t cas)
{
    if (l->cas_bytes)
        memcpy(it->data, &cas, sizeof cas);
}

static inline bool item_has_key(const struct item_layout *l, struct item *it, const char *key,
                                size_t nkey)
{
    return it->nkey == nkey && memcmp(item_key(l, it), key, nkey) == 0;
}

static inline bool item_expired(const struct item *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
}

/* Writes the header, the optional words and the key into item_bytes_for()
 * bytes at it; the value is the caller's to copy (item_value). A new item
 * counts as just used, as memcached links new items at the head of its
 * LRU. */
void item_init(const struct item_layout *l, struct item *it, const char *key, size_t nkey,
               size_t nvalue, uint32_t flags, rel_time_t exptime);

/* The item as the store's callers see it, at time now. */
struct item_view item_view_of(const struct item_layout *l, struct item *it, rel_time_t now);

/* A read: memcached's do_item_bump with its default segmented LRU. */
void item_bump(struct item *it);

/* memcached's do_item_update (add on an existing key, an incr in place):
 * the access time moves. */
void item_update_atime(struct item *it);

#endif
