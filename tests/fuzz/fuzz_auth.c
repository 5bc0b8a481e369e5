/* fuzz_auth.c - libFuzzer target: the -Y gate (proto_auth.c), which reads
 * whatever a stranger sends before authenticating. The input is a byte
 * stream on one connection; it is fed as a connection feeds it (the bytes
 * there so far, more when the gate asks), until the gate authenticates,
 * closes or has nothing left to take. Checks: the gate uses no more than
 * it was given, asks only for more than there is, and writes nothing but
 * memcached's five replies, whole lines. The file's users are alice:secret
 * and bob:pw2, -I is 1024. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authfile.h"
#include "exec.h"
#include "obuf.h"
#include "proto.h"
#include "proto_auth.h"
#include "settings.h"
#include "stats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct settings settings;
static struct proto_env env;
static struct thread_stats stats;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_auth: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[] = "/tmp/fuzz-auth-XXXXXX";
    int fd = mkstemp(path);
    static const char users[] = "alice:secret\nbob:pw2\n";
    if (fd < 0 || write(fd, users, sizeof(users) - 1) != (ssize_t)(sizeof(users) - 1))
        fail("cannot write the users file");
    close(fd);
    char why[256];
    env.auth = authfile_load(path, why, sizeof(why));
    unlink(path);
    if (!env.auth)
        fail(why);
    settings_init(&settings);
    settings.item_size_max = 1024;
    env.settings = &settings;
    return 0;
}

static bool is_reply(const char *line, size_t n)
{
    static const char *const replies[] = {
        "STORED", "CLIENT_ERROR unauthenticated", "CLIENT_ERROR authentication failure",
        "CLIENT_ERROR bad authentication token format",
        "CLIENT_ERROR bad command line termination",
    };
    for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
        if (strlen(replies[i]) == n && memcmp(replies[i], line, n) == 0)
            return true;
    return false;
}

static void check_replies(const struct obuf *out)
{
    if (out->nrefs != 0 || out->data_len != out->len)
        fail("a reply by reference");
    for (size_t at = 0; at < out->data_len;) {
        const char *line = out->data + at;
        const char *end = memchr(line, '\r', out->data_len - at);
        if (!end || end + 1 == out->data + out->data_len || end[1] != '\n' ||
            !is_reply(line, (size_t)(end - line)))
            fail("a reply that is not one of memcached's");
        at = (size_t)(end - out->data) + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    if (!in)
        fail("out of memory");
    memcpy(in, data, size);
    struct proto_conn pc;
    proto_conn_init(&pc, &env, &stats);
    struct obuf out;
    obuf_init(&out);
    size_t off = 0;
    while (!pc.authenticated && !pc.close_now) {
        bool completed;
        size_t used = proto_auth_run(&pc, in + off, size - off, &out, &completed);
        if (used > size - off)
            fail("used more than it was given");
        if (used == 0) {
            if (pc.need != 0 && pc.need <= size - off)
                fail("asked for what it had");
            break;
        }
        off += used;
    }
    check_replies(&out);
    obuf_free(&out);
    free(in);
    return 0;
}
