/* pin_table.c - see pin_table.h: linear probing, kept at most half full,
 * removal by moving later entries of a probe run back (no tombstones). */
#include "pin_table.h"

#include <stdlib.h>

static size_t pin_home(const struct pin_table *t, const void *item)
{
    return (size_t)(((uintptr_t)item >> 4) * 0x9e3779b97f4a7c15ull >> 32) & (t->cap - 1);
}

struct pin_slot *pin_find(const struct pin_table *t, const void *item)
{
    if (t->count == 0)
        return NULL;
    for (size_t i = pin_home(t, item);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].item == item)
            return &t->slots[i];
        if (!t->slots[i].item)
            return NULL;
    }
}

static struct pin_slot *insert_slot(struct pin_table *t, const void *item)
{
    size_t i = pin_home(t, item);
    while (t->slots[i].item)
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = (struct pin_slot){ .item = item };
    t->count++;
    return &t->slots[i];
}

static bool make_room(struct pin_table *t)
{
    if (2 * (t->count + 1) <= t->cap)
        return true;
    size_t cap = t->cap ? 2 * t->cap : 16;
    struct pin_table bigger = { calloc(cap, sizeof(struct pin_slot)), cap, 0 };
    if (!bigger.slots)
        return false;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].item)
            *insert_slot(&bigger, t->slots[i].item) = t->slots[i];
    free(t->slots);
    *t = bigger;
    return true;
}

struct pin_slot *pin_get(struct pin_table *t, const void *item)
{
    struct pin_slot *slot = pin_find(t, item);
    if (slot)
        return slot;
    return make_room(t) ? insert_slot(t, item) : NULL;
}

void pin_remove(struct pin_table *t, struct pin_slot *slot)
{
    size_t hole = (size_t)(slot - t->slots);
    size_t mask = t->cap - 1;
    t->slots[hole].item = NULL;
    t->count--;
    for (size_t i = (hole + 1) & mask; t->slots[i].item; i = (i + 1) & mask) {
        size_t home = pin_home(t, t->slots[i].item);
        /* Movable when its home is not in (hole, i], cyclically. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            t->slots[hole] = t->slots[i];
            t->slots[i].item = NULL;
            hole = i;
        }
    }
    if (t->count == 0) {
        free(t->slots);
        *t = (struct pin_table){ NULL, 0, 0 };
    }
}
