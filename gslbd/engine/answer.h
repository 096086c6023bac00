/*
 * answer: the response to one query message, from a snapshot.
 *
 * A pure function over an immutable snapshot: no I/O, no allocation, no
 * locks, so it is unit-tested and fuzzed directly and runs on any thread.
 * It picks a prepared answer (see snapshot.h), copies it behind the client's
 * own question and fills in what varies per query: the ID, flags, EDNS and,
 * for services, the chosen addresses.
 */
#ifndef GSLB_ANSWER_H
#define GSLB_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "gslbd/engine/select.h"
#include "gslbd/engine/snapshot.h"

/* Largest UDP response we send whatever the client offers: avoids IP
 * fragmentation (DNS flag day 2020; RFC 9715). */
#define ANSWER_UDP_MAX 1232
#define ANSWER_TCP_MAX 65535

/* What --explain shows of a service decision (filled only when asked). */
typedef struct {
    bool used; /* a service answer was chosen */
    const svc_rt_t *svc;
    const geo_list_t *order;
    select_t sel;
    uint8_t why[256]; /* select_why_t per entry of order (first 256) */
    bool v6, from_ecs;
    uint8_t addr[16]; /* the client address the decision used */
    unsigned depth;   /* prefix length of the map network that matched */
    unsigned scope;   /* the ECS scope sent */
} answer_trace_t;

/* Per-thread state of the query path. */
typedef struct {
    uint64_t rng;          /* select_rand() state, never 0 */
    answer_trace_t *trace; /* NULL except for --explain */
} answer_ctx_t;

/* Write the response to `pkt`, which came from `src`, into `out`, which has
 * room for ANSWER_UDP_MAX bytes (UDP) or ANSWER_TCP_MAX bytes (TCP).
 * Returns its length, or 0 when the packet gets no reply at all. `out` may
 * be `pkt` itself (the UDP path answers in place: the header and question
 * are then where the response needs them); any other overlap is not allowed.
 * Everything else the response needs is read from pkt before it is written. */
size_t answer_packet(answer_ctx_t *ctx, const snapshot_t *s, const struct sockaddr *src,
                     const uint8_t *pkt, size_t len, uint8_t *out, bool tcp);

#endif
