/*
 * encode: the engine's last step, writing the response that answer.h
 * decided as DNS wire format (engine.h shows the three steps together).
 *
 * It copies the prepared fragment behind the client's own question, moving
 * its compression pointers if the question's length differs from the one it
 * was rendered against, and fills in what varies per query: the ID, flags,
 * the service's chosen addresses, EDNS (RFC 6891) with Client Subnet (RFC
 * 7871). When the response does not fit the client's limit it drops the
 * additional section, then truncates (TC). Error replies carry the OPT of an
 * EDNS query and, for a query signed with TSIG, an unsigned TSIG record with
 * error BADKEY (RFC 8945 5.3.2). Pure and allocation-free.
 */
#ifndef GSLB_ENCODE_H
#define GSLB_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gslbd/engine/answer.h"
#include "gslbd/engine/query.h"

/* Largest UDP response we send whatever the client offers: avoids IP
 * fragmentation (DNS flag day 2020; RFC 9715). */
#define ENCODE_UDP_MAX 1232
#define ENCODE_TCP_MAX 65535

/* Write the response `a` to query `q` into `out`, which has room for
 * ENCODE_UDP_MAX bytes (UDP) or ENCODE_TCP_MAX bytes (TCP). Returns its
 * length, or 0 when the query gets no reply at all. `out` may be the
 * query's own packet (q->pkt: the UDP path answers in place, the header and
 * question then already where the response needs them); any other overlap
 * is not allowed. A response truncated (TC) because it did not fit is
 * counted in ctx->qflow, the caller's own counters (qstats.h; a NULL ctx or
 * qflow: not counted): only the rare path that truncates looks. */
size_t encode_answer(const answer_t *a, const query_t *q, uint8_t *out, bool tcp,
                     const answer_ctx_t *ctx);

/* Rewrite the UDP response to `q` already in `out` as a rate limiter's slip
 * (rrl.h): the header and question kept, no records, TC set so the client
 * retries over TCP; or, for a client that sent a cookie without a valid
 * server cookie, BADCOOKIE with a new one (RFC 7873 5.2.3), so it retries
 * over UDP with it. Returns the new length. */
size_t encode_slip(const answer_t *a, const query_t *q, uint8_t *out);

#endif
