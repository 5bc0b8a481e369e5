/* item.c - see item.h. */
#include "item.h"

#include <assert.h>

void item_init(const struct item_layout *l, struct item *it, const char *key, size_t nkey,
               size_t nvalue, uint32_t flags, rel_time_t exptime)
{
    assert(nkey <= STORE_KEY_MAX && nvalue <= UINT32_MAX);
    bool long_value = nvalue >= SHORT_NVALUE_LIMIT;
    /* Field by field: sizeof(struct item) counts padding beyond the header,
     * which the smallest items do not have. */
    it->exptime = exptime;
    it->nkey = (uint8_t)nkey;
    it->bits = ITEM_REFERENCED;
    it->has_flags = flags != 0;
    it->long_value = long_value;
    it->short_nvalue = long_value ? 0 : (uint32_t)nvalue;
    it->atime = clock_now() & ATIME_MASK;
    it->active = it->key_binary = it->stale = it->win_token_sent = 0;
    if (it->has_flags)
        memcpy(item_flags_word(l, it), &flags, sizeof flags);
    if (it->long_value) {
        uint32_t long_nvalue = (uint32_t)nvalue;
        memcpy(item_long_nvalue_word(l, it), &long_nvalue, sizeof long_nvalue);
    }
    memcpy(item_key(l, it), key, nkey);
}

struct item_view item_view_of(const struct item_layout *l, struct item *it, rel_time_t now)
{
    return (struct item_view){
        .key = item_key(l, it), .nkey = it->nkey,
        .value = item_value(l, it), .nvalue = item_nvalue(l, it),
        .flags = item_flags(l, it), .cas = item_cas(l, it), .exptime = it->exptime,
        .last_access = now - ((now - it->atime) & ATIME_MASK),
        .fetched = (it->bits & ITEM_FETCHED) != 0, .key_binary = it->key_binary,
        .stale = it->stale, .win_token_sent = it->win_token_sent, .item = it,
    };
}

/* The first read marks the item fetched, the second makes it active and
 * moves its access time, later ones leave it (memcached's LRU maintainer
 * clears ITEM_ACTIVE at times of its own; here it stays). */
void item_bump(struct item *it)
{
    if ((it->bits & ITEM_FETCHED) && !it->active) {
        it->active = 1;
        it->atime = clock_now() & ATIME_MASK;
    }
    it->bits |= ITEM_REFERENCED | ITEM_FETCHED;
}

void item_update_atime(struct item *it)
{
    it->atime = clock_now() & ATIME_MASK;
}
