/* authfile.c - see authfile.h.
 *
 * A line is "user:password": the user is what comes before the first ':',
 * the password the rest up to the newline. As memcached 1.6.18 does, a
 * line without ':' (an empty one too), a carriage return, or a line longer
 * than AUTHFILE_LINE_MAX makes the whole file malformed. memcached uses only
 * its first eight pairs and ignores the rest without a word; every pair
 * here counts. */
#include "authfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textfile.h"

/* A file's pairs: one buffer holding the text, and where each pair is. */
struct auth_pairs {
    char *text;
    struct auth_pair {
        const char *user, *pass;
        size_t nuser, npass;
    } *pairs;
    size_t n;
};

struct authfile {
    pthread_mutex_t lock;       /* checks against `current` and its swap */
    struct auth_pairs current;
};

static void pairs_free(struct auth_pairs *p)
{
    free(p->text);
    free(p->pairs);
    memset(p, 0, sizeof(*p));
}

/* Splits text (len bytes) into pairs; false with the 1-based number of
 * the first malformed line. */
static bool split_pairs(struct auth_pairs *p, size_t len, unsigned *bad_line)
{
    unsigned line = 0;
    for (size_t at = 0; at < len;) {
        line++;
        char *start = p->text + at;
        char *nl = memchr(start, '\n', len - at);
        size_t n = nl ? (size_t)(nl - start) : len - at;
        char *colon = memchr(start, ':', n);
        if (!colon || n + (nl != NULL) > AUTHFILE_LINE_MAX || memchr(start, '\r', n) ||
            memchr(start, '\0', n)) {
            *bad_line = line;
            return false;
        }
        struct auth_pair *grown = realloc(p->pairs, (p->n + 1) * sizeof(*grown));
        if (!grown) {
            *bad_line = 0;
            return false;
        }
        p->pairs = grown;
        p->pairs[p->n++] = (struct auth_pair){
            .user = start, .nuser = (size_t)(colon - start),
            .pass = colon + 1, .npass = (size_t)(start + n - (colon + 1)),
        };
        at += n + (nl != NULL);
    }
    return true;
}

static bool read_pairs(const char *path, struct auth_pairs *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    out->text = textfile_read(path, AUTHFILE_MAX_BYTES, &len);
    if (!out->text) {
        if (errno == EIO || errno == ENOMEM || errno == EFBIG)
            snprintf(why, why_size, "Could not read authfile [%s]: %s", path,
                     errno == EFBIG ? "larger than 1 MB" : textfile_error(errno));
        else
            snprintf(why, why_size, "Could not open authfile [%s] for reading: %s", path,
                     strerror(errno));
        return false;
    }
    unsigned bad_line = 0;
    if (split_pairs(out, len, &bad_line))
        return true;
    if (bad_line)
        snprintf(why, why_size, "Authfile [%s] has a malformed entry at line %u. "
                 "Should be 'user:password'", path, bad_line);
    else
        snprintf(why, why_size, "Could not read authfile [%s]: out of memory", path);
    pairs_free(out);
    return false;
}

struct authfile *authfile_load(const char *path, char *why, size_t why_size)
{
    struct authfile *auth = calloc(1, sizeof(*auth));
    if (!auth) {
        snprintf(why, why_size, "Could not read authfile [%s]: out of memory", path);
        return NULL;
    }
    if (!read_pairs(path, &auth->current, why, why_size)) {
        free(auth);
        return NULL;
    }
    pthread_mutex_init(&auth->lock, NULL);
    return auth;
}

bool authfile_reload(struct authfile *auth, const char *path, char *why, size_t why_size)
{
    struct auth_pairs fresh;
    if (!read_pairs(path, &fresh, why, why_size))
        return false;
    pthread_mutex_lock(&auth->lock);
    struct auth_pairs old = auth->current;
    auth->current = fresh;
    pthread_mutex_unlock(&auth->lock);
    pairs_free(&old);
    return true;
}

/* Compares every byte of the longer of the two, so that the time taken
 * does not tell how much of a guess was right. */
static bool same_secret(const char *a, size_t na, const char *b, size_t nb)
{
    size_t n = na > nb ? na : nb;
    unsigned char diff = na != nb;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < na ? a[i] : 0) ^ (i < nb ? b[i] : 0));
    return diff == 0;
}

bool authfile_check(struct authfile *auth, const char *user, size_t nuser, const char *pass,
                    size_t npass)
{
    bool ok = false;
    pthread_mutex_lock(&auth->lock);
    for (size_t i = 0; i < auth->current.n; i++) {
        const struct auth_pair *p = &auth->current.pairs[i];
        ok |= p->nuser == nuser && memcmp(p->user, user, nuser) == 0 &&
              same_secret(p->pass, p->npass, pass, npass);
    }
    pthread_mutex_unlock(&auth->lock);
    return ok;
}

void authfile_free(struct authfile *auth)
{
    if (!auth)
        return;
    pairs_free(&auth->current);
    pthread_mutex_destroy(&auth->lock);
    free(auth);
}
