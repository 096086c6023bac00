/*
 * answer: the engine's middle step, deciding what the response to one
 * decoded query is (engine.h shows the three steps together).
 *
 * A pure function over an immutable snapshot: no I/O, no allocation, no
 * locks, so it is unit-tested and fuzzed directly and runs on any thread.
 * It finds the prepared response of the question's name and type (see
 * snapshot.h), or the error the query gets, and for a service places the
 * client and chooses its regions (select.h). It writes no bytes: encode.h
 * does, from the answer_t filled in here.
 */
#ifndef GSLB_ANSWER_H
#define GSLB_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "gslbd/engine/query.h"
#include "gslbd/engine/select.h"
#include "gslbd/engine/snapshot.h"

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

/* Why an error reply was given, told to resolver operators as an Extended
 * DNS Error (RFC 8914) in the OPT of replies to EDNS queries. */
typedef enum {
    ANSWER_EDE_NONE,
    ANSWER_EDE_NOT_AUTH,    /* REFUSED, not a zone or class of ours: 20 Not Authoritative */
    ANSWER_EDE_NO_TRANSFER, /* REFUSED AXFR/IXFR: 21 Not Supported */
    ANSWER_EDE_ALL_DOWN,    /* SERVFAIL from on_all_down: 0 Other, with the reason */
} answer_ede_t;

/* The decision. Points into the snapshot, which must outlive it. */
typedef struct {
    const prepared_t *prep; /* the prepared response; NULL: an error reply, or none */
    uint8_t rcode;          /* error replies: the RCODE (16 is BADVERS) */
    uint8_t ede;            /* error replies: answer_ede_t */
    bool reply;             /* false: the query gets no reply at all */
    int qdelta;             /* how far prep's pointers into the question move */
    unsigned scope;         /* the ECS scope of the choice (RFC 7871 7.2.1) */
    select_t sel;           /* services: the regions chosen */
} answer_t;

/* Decide the response to query `q`, decoded with status `st` from a packet
 * that came from `src` (NULL: no address, as in tests), into *a. */
void answer_query(answer_ctx_t *ctx, const snapshot_t *s, const query_t *q, query_status_t st,
                  const struct sockaddr *src, answer_t *a);

#endif
