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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "gslbd/engine/qstats.h"
#include "gslbd/engine/query.h"
#include "gslbd/engine/select.h"
#include "gslbd/engine/snapshot.h"

/* What --explain shows of a service decision (filled only when asked). */
typedef struct {
    bool used; /* a service answer was chosen */
    const svc_rt_t *svc;
    const geo_list_t *order;
    select_t sel;
    uint8_t why[256];    /* select_why_t per entry of order (first 256) */
    bool v6, from_ecs;   /* v6: the client's address family */
    bool aaaa;           /* the answer's family: AAAA asked (else A) */
    uint8_t addr[16];    /* the client address the decision used */
    unsigned depth;      /* prefix length of the map network that matched */
    unsigned scope;      /* the ECS scope sent */
    bool keyed;          /* a weighted or spread choice: hashed on the client's network */
    unsigned key_prefix; /* ... cut to this many bits (select_client_key()) */
} answer_trace_t;

/* Per-thread state of the query path. */
typedef struct {
    answer_trace_t *trace; /* NULL except for --explain */
    /* The wall clock in microseconds, for cookie timestamps and rate
     * limiting, as a ticker keeps it (gslbd/server: every few milliseconds)
     * so that reading it costs a load rather than a system call. NULL: read
     * the system clock when a query needs it (answer_now). */
    const _Atomic uint64_t *clock;
    const uint8_t *cookie_secret; /* COOKIE_SECRET_LEN bytes; NULL: cookies ignored */
    struct rrl *rrl;              /* rate limiting of UDP responses (rrl.h); NULL: none */
    /* The snapshot's answer counter set this thread adds to (snapshot.h):
     * each answering thread its own, 0 (scratch, never summed) otherwise. */
    unsigned count_set;
    /* The query counters of the client's address family in this thread's
     * own set (qstats.h): set per socket (UDP) or per connection (TCP) by
     * the server; counters nobody reports for other callers. engine_reply()
     * needs them (one test the less per query); answer_query() and
     * encode_answer() take NULL for none. */
    qstats_flow_t *qflow;
} answer_ctx_t;

/* What a query's COOKIE option (RFC 7873) earned it. */
typedef enum {
    ANSWER_COOKIE_NONE,  /* none sent back: no secret to answer with */
    ANSWER_COOKIE_NEW,   /* a client cookie alone, or a server cookie not ours: a new one */
    ANSWER_COOKIE_VALID, /* a valid server cookie of ours: the source address is proven */
} answer_cookie_t;

/* Why an error reply was given, told to resolver operators as an Extended
 * DNS Error (RFC 8914) in the OPT of replies to EDNS queries. */
typedef enum {
    ANSWER_EDE_NONE,
    ANSWER_EDE_NOT_AUTH,    /* REFUSED, not a zone or class of ours: 20 Not Authoritative */
    ANSWER_EDE_NO_TRANSFER, /* REFUSED AXFR/IXFR: 21 Not Supported */
    ANSWER_EDE_ALL_DOWN,    /* SERVFAIL from on_all_down: 0 Other, with the reason */
} answer_ede_t;

/* The decision. Points into the snapshot, which must outlive it. */
/* The rcode of a query that gets no reply at all (QUERY_DROP): a slot of
 * the query counters (qstats.h) that no response code uses. */
#define ANSWER_RCODE_NONE (QSTATS_RCODES - 1)

typedef struct {
    const prepared_t *prep; /* the prepared response; NULL: an error reply, or none */
    uint8_t rcode;          /* the response's RCODE (16 is BADVERS); ANSWER_RCODE_NONE: none */
    uint16_t counter;       /* its query counter: qstats_counter() of the type and rcode */
    uint8_t ede;            /* error replies: answer_ede_t */
    bool reply;             /* false: the query gets no reply at all */
    int qdelta;             /* how far prep's pointers into the question move */
    /* The ECS scope of the choice (RFC 7871 7.2.1); QSTATS_ECS_UNANSWERED
     * for a reply that echoes no ECS (an extended RCODE). */
    unsigned scope;
    select_t sel; /* services: the regions chosen */
    /* Services: this thread's count set in the snapshot (snapshot.h), whose
     * rotation counters encode_answer() advances; NULL: no rotation. */
    _Atomic uint64_t *counts;
    /* Set only when the query has a COOKIE option (q->cookie_len != 0),
     * copied here because a UDP reply is written over its query. */
    uint8_t cookie_state;      /* answer_cookie_t */
    uint8_t client_cookie[8];  /* the client's cookie, to send back (COOKIE_CLIENT_LEN) */
    uint8_t server_cookie[16]; /* the server cookie to send (COOKIE_SERVER_LEN) */
} answer_t;

/* The wall clock in microseconds (CLOCK_REALTIME_COARSE: a few
 * milliseconds' resolution is all cookies and rate limiting need). */
uint64_t answer_clock_us(void);

static inline uint64_t answer_now(const answer_ctx_t *ctx)
{
    return ctx->clock != NULL ? atomic_load_explicit(ctx->clock, memory_order_relaxed)
                              : answer_clock_us();
}

/* Whether an IPv6 address is IPv4-mapped (::ffff:0:0/96), to be taken as
 * the IPv4 address in its last four bytes. */
static inline bool answer_mapped(const uint8_t *a)
{
    uint64_t hi;
    uint32_t mid;

    memcpy(&hi, a, 8);
    memcpy(&mid, a + 8, 4);
    return hi == 0 && mid == htonl(0xffff);
}

/* The address a packet came from: its 4 or 16 bytes (*v6 says which),
 * IPv4-mapped IPv6 counted as IPv4; 0.0.0.0 for no address (tests). */
static inline const uint8_t *answer_source(const struct sockaddr *src, bool *v6)
{
    static const uint8_t none[4] = {0};

    *v6 = false;
    if (src != NULL && src->sa_family == AF_INET) {
        return (const uint8_t *)&((const struct sockaddr_in *)src)->sin_addr;
    }
    if (src == NULL || src->sa_family != AF_INET6) {
        return none;
    }
    const uint8_t *a = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
    if (answer_mapped(a)) {
        return a + 12;
    }
    *v6 = true;
    return a;
}

/* Decide the response to query `q`, decoded with status `st` from a packet
 * that came from `src` (NULL: no address, as in tests), into *a. */
void answer_query(answer_ctx_t *ctx, const snapshot_t *s, const query_t *q, query_status_t st,
                  const struct sockaddr *src, answer_t *a);

#endif
