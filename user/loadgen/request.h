/* request.h - the text of memcached requests, from key indexes. Knows
 * nothing of sockets: the drivers put the text in datagrams or streams. */
#ifndef MCLOAD_REQUEST_H
#define MCLOAD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keygen.h"

enum mc_op {
    OP_GET,   /* get k1 .. kK */
    OP_GETS,  /* gets k1 .. kK */
    OP_MG,    /* mg k v, one line per key; K > 1 adds mn */
    OP_SET,   /* set k 0 0 <value_size>, then the value; one key */
};

/* "set <key> 0 0 <value_size>[ noreply]\r\n<value>\r\n": writes at most
 * request_max_size(OP_SET, 1, ks) + 8 bytes; returns the length. */
size_t request_format_set(char *out, uint32_t key, const struct keyspace *ks, bool noreply);
/* Longest text request_format() can write for nkeys keys. */
size_t request_max_size(enum mc_op op, unsigned nkeys, const struct keyspace *ks);
/* Writes the request for keys[0..nkeys) (nkeys is 1 for OP_SET) into out,
 * which has request_max_size() bytes; returns the length. */
size_t request_format(char *out, enum mc_op op, const uint32_t *keys, unsigned nkeys,
                      const struct keyspace *ks);

#endif
