/* pin_table.h - which items readers hold (store_pin), and how many times:
 * an open-addressing table keyed by the item's address, empty (and
 * unallocated) unless pins are held. Items carry no reference count: only
 * the few whose values go out by reference are ever pinned. An item
 * unlinked while pinned is marked, and freed by its last unpin.
 * Not thread-safe: the store calls it under the shard's lock. */
#ifndef XDPCACHED_PIN_TABLE_H
#define XDPCACHED_PIN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pin_slot {
    const void *item;            /* NULL = free slot */
    uint32_t pins;
    bool unlinked;
};

struct pin_table {
    struct pin_slot *slots;
    size_t cap;                  /* a power of two, or 0 */
    size_t count;
};

/* The item's slot, or NULL when it is not pinned. */
struct pin_slot *pin_find(const struct pin_table *t, const void *item);
/* The item's slot, added with no pins when missing; NULL when out of memory. */
struct pin_slot *pin_get(struct pin_table *t, const void *item);
/* Empties a slot (its item has no pins left); an empty table frees its array. */
void pin_remove(struct pin_table *t, struct pin_slot *slot);

#endif
