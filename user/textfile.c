/* textfile.c - see textfile.h. */
#include "textfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *textfile_read(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    /* grows as it reads: a small file does not cost max */
    size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
    char *text = malloc(cap);
    int err = text ? 0 : ENOMEM;
    while (!err) {
        n += fread(text + n, 1, cap - n, f);
        if (ferror(f))
            err = EIO;
        else if (n < cap)
            break;
        else if (cap > max)
            err = EFBIG;
        else {
            size_t bigger_cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *bigger = realloc(text, bigger_cap);
            if (bigger) {
                text = bigger;
                cap = bigger_cap;
            } else {
                err = ENOMEM;
            }
        }
    }
    fclose(f);
    if (err) {
        free(text);
        errno = err;
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

const char *textfile_error(int err)
{
    switch (err) {
    case ENOMEM: return "out of memory";
    case EIO: return "read error";
    default: return strerror(err);
    }
}
