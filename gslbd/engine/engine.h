/*
 * engine: gslbd's answering engine, the library build/libgslb-engine.a.
 *
 * It turns a DNS query message into its response from an immutable
 * snapshot, in three steps, each a pure function that never allocates:
 *
 *   decode   query_parse()    query.h    the packet -> query_t
 *   answer   answer_query()   answer.h   query_t + snapshot -> answer_t
 *   encode   encode_answer()  encode.h   answer_t -> response bytes
 *
 * Around them: the snapshot, compiled from zone models (snapshot.h, render.h,
 * zoneset.h), the health it reads (healthdb.h) and the choice of regions
 * (select.h); and --explain (explain.h), which runs the same steps with a
 * trace. The engine links without libuv and without threads
 * (tools/check-layers enforces it): gslbd/server calls it from its UDP and
 * TCP threads, the unit tests and fuzz targets call it directly.
 */
#ifndef GSLB_ENGINE_H
#define GSLB_ENGINE_H

#include "gslbd/engine/answer.h"
#include "gslbd/engine/encode.h"
#include "gslbd/engine/query.h"
#include "gslbd/engine/snapshot.h"

/* The three steps for one message that came from `src` (NULL: none), the
 * response written into `out` (see encode_answer() for its size and the
 * one overlap allowed). Returns the response's length, 0 for no reply. */
static inline size_t engine_reply(answer_ctx_t *ctx, const snapshot_t *s,
                                  const struct sockaddr *src, const uint8_t *pkt, size_t len,
                                  uint8_t *out, bool tcp)
{
    query_t q;
    answer_t a;
    query_status_t st = query_parse(&q, pkt, len);

    answer_query(ctx, s, &q, st, src, &a);
    return encode_answer(&a, &q, out, tcp);
}

#endif
