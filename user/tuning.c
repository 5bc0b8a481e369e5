/* tuning.c - see tuning.h. */
#include "tuning.h"

#include <stdint.h>

#include "text_common.h"

/* The classes memcached's `slabs reassign` accepts here: 0, its global page
 * pool, and the store's one class (stats slabs). */
#define CLASS_LARGEST 1

/* memcached's do_slabs_reassign, in its order of checks. A source of -1
 * asks it to pick a class with a page to spare; it finds none, and -1
 * fails as a bad class. No class here has pages, so none has one to
 * spare. */
static const char *reassign_reply(int32_t src, int32_t dst)
{
    if (src == dst)
        return "SAME src and dst class are identical";
    if (src < 0 || src > CLASS_LARGEST || dst < 0 || dst > CLASS_LARGEST)
        return "BADCLASS invalid src or dst class id";
    return "NOSPARE source class has no spare pages";
}

void tuning_command(struct text_request *r)
{
    const struct request *req = &r->p.req;
    if (req->type == REQ_SLABS_REASSIGN)
        text_reply(r, reassign_reply(req->reassign_src, req->reassign_dst));
    else
        text_reply(r, "OK");
}
