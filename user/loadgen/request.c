/* request.c - see request.h. */
#include "request.h"

#include <string.h>

#include "decimal.h"

/* Beyond the key: "set ", " 0 ", a 7-digit expiry, " ", 10 digits, " noreply", "\r\n". */
#define SET_HEADER_MAX 40

size_t request_max_size(enum mc_op op, unsigned nkeys, const struct keyspace *ks)
{
    switch (op) {
    case OP_GET:
    case OP_GETS:
        return 6 + (size_t)nkeys * (1 + ks->key_size);
    case OP_MG:
        return (size_t)nkeys * (ks->key_size + 7) + 4;
    case OP_SET:
        return SET_HEADER_MAX + ks->key_size + ks->value_size + 2;
    }
    return 0;
}

static size_t put(char *out, const char *text, size_t len)
{
    memcpy(out, text, len);
    return len;
}

size_t request_format(char *out, enum mc_op op, const uint32_t *keys, unsigned nkeys,
                      const struct keyspace *ks)
{
    size_t n = 0;
    switch (op) {
    case OP_GET:
    case OP_GETS:
        n += op == OP_GET ? put(out, "get", 3) : put(out, "gets", 4);
        for (unsigned i = 0; i < nkeys; i++) {
            out[n++] = ' ';
            keyspace_key(ks, keys[i], out + n);
            n += ks->key_size;
        }
        return n + put(out + n, "\r\n", 2);
    case OP_MG:
        for (unsigned i = 0; i < nkeys; i++) {
            n += put(out + n, "mg ", 3);
            keyspace_key(ks, keys[i], out + n);
            n += ks->key_size;
            n += put(out + n, " v\r\n", 4);
        }
        return nkeys > 1 ? n + put(out + n, "mn\r\n", 4) : n;
    case OP_SET:
        return request_format_set(out, keys[0], ks, false);
    }
    return 0;
}

size_t request_format_set(char *out, uint32_t key, const struct keyspace *ks, bool noreply)
{
    size_t n = put(out, "set ", 4);
    keyspace_key(ks, key, out + n);
    n += ks->key_size;
    n += put(out + n, " 0 ", 3);
    n += format_decimal(out + n, keyspace_ttl(ks, key));
    out[n++] = ' ';
    n += format_decimal(out + n, ks->value_size);
    if (noreply)
        n += put(out + n, " noreply", 8);
    n += put(out + n, "\r\n", 2);
    keyspace_value(ks, key, out + n);
    n += ks->value_size;
    return n + put(out + n, "\r\n", 2);
}
