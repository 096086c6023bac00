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
 * and, for UDP, response rate limiting (rrl.h), which may drop the response
 * or send it truncated instead.
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
#include "gslbd/engine/rrl.h"
#include "gslbd/engine/snapshot.h"

/* A UDP response over its rate limit (rrl.h): sent anyway, dropped (0) or
 * slipped, and counted as what became of it. Out of line: the common case
 * never comes here. */
size_t engine_limited(answer_ctx_t *ctx, const query_t *q, const answer_t *a,
                      const struct sockaddr *src, uint8_t *out, size_t len);

/* Count a query that was answered (or decoded to no reply: the rcode slot
 * ANSWER_RCODE_NONE, never reported) in its flow: by type and response
 * code, and an ECS query by the option's family and the scope the reply
 * holds for. Error statuses were counted by answer_query(), truncation by
 * encode_answer(). */
static inline void engine_count(qstats_flow_t *f, const query_t *q, const answer_t *a)
{
    if (q->ecs) {
        qstats_add(&f->ecs[qstats_ecs(q->ecs_family, a->scope)], 1);
    }
    qstats_add(&f->queries[a->counter], 1);
}

/* The three steps for one message that came from `src` (NULL: none, only
 * without a rate limiter), the response written into `out` (see
 * encode_answer() for its size and the one overlap allowed), then over UDP
 * the rate limit, if ctx has one; counted in ctx->qflow. Returns the
 * response's length, 0 for no reply. */
static inline size_t engine_reply(answer_ctx_t *ctx, const snapshot_t *s,
                                  const struct sockaddr *src, const uint8_t *pkt, size_t len,
                                  uint8_t *out, bool tcp)
{
    query_t q;
    answer_t a;

    query_status_t st = query_parse(&q, pkt, len);

    answer_query(ctx, s, &q, st, src, &a);
    size_t n = encode_answer(&a, &q, out, tcp, ctx);
    /* A client that returned a server cookie of ours has proven its
     * address: it is neither limited nor counted against its network. */
    if (!tcp && ctx->rrl != NULL && n != 0 &&
        !(q.cookie_len != 0 && a.cookie_state == ANSWER_COOKIE_VALID) &&
        !rrl_pass(ctx->rrl, src, &a, n)) {
        return engine_limited(ctx, &q, &a, src, out, n);
    }
    engine_count(ctx->qflow, &q, &a);
    return n;
}

#endif
