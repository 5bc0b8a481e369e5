/* stats_report.h - what each `stats <group>` reports, as name/value pairs.
 *
 * Independent of the wire: the text protocol turns pairs into STAT lines,
 * the binary protocol into packets. */
#ifndef XDPCACHED_STATS_REPORT_H
#define XDPCACHED_STATS_REPORT_H

#include <stdbool.h>

struct conn_requester;
struct obuf;
struct prefix_stats;
struct proto_env;
struct stats_sink;

/* Reports group "" (plain `stats`), "items", "slabs", "sizes" or "settings".
 * Returns false for a group it does not know. */
bool stats_report(const struct proto_env *env, const char *group, struct stats_sink *sink);

/* `stats conns`: a row per socket, the requester's shown as running. False
 * when out of memory (nothing is written then). */
bool stats_report_conns(const struct proto_env *env, const struct conn_requester *requester,
                        struct stats_sink *sink);

/* `stats detail dump` as memcached writes it, the same text in both
 * protocols: a "PREFIX <p> get <n> hit <n> set <n> del <n>\r\n" line per
 * prefix, then "END\r\n". False when out of memory. */
bool stats_report_prefix_dump(struct prefix_stats *ps, struct obuf *out);

#endif
