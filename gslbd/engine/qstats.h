/*
 * qstats: what the query path did, counted per thread: queries by address
 * family, type and response code, malformed and dropped queries by reason,
 * truncated responses, EDNS Client Subnet queries and the scope answered,
 * rate-limited responses, and a TCP loop's connections.
 *
 * Each thread that answers owns one qstats_t, cache-line aligned, and is
 * the only one to write it: a count is a relaxed load and a store of its
 * own line (qstats_add), never a read-modify-write atomic, never a line
 * another thread writes. Whoever reports (gslbd's main loop, for /metrics)
 * sums the sets with qstats_sum(); the counts may move meanwhile, and each
 * is read whole. The common query costs one or two additions, at an index
 * found from the query type, the response code and the ECS scope the query
 * path has at hand (engine.h, engine_count()).
 *
 * It does not know about the network: the server says which transport a
 * set is for, and answers with the flow (address family) of each query.
 */
#ifndef GSLB_QSTATS_H
#define GSLB_QSTATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Query types counted by name; any other is QSTATS_QTYPE_OTHER. */
#define QSTATS_QTYPE_OTHER 0
#define QSTATS_QTYPES      17  /* A AAAA NS SOA CNAME MX TXT SRV PTR CAA HTTPS SVCB DS DNSKEY ANY */
#define QSTATS_QTYPE_TABLE 258 /* type values below this are looked up: CAA is 257 */

/* Response codes are counted as the raw 5-bit value the query path has
 * (12-bit codes above 31 are never sent: BADCOOKIE, 23, is the largest),
 * named on reporting. */
#define QSTATS_RCODES 32

/* Why a query got an error reply (gslb_queries_malformed_total), from
 * query_parse()'s status. */
typedef enum {
    QSTATS_MAL_FORMERR, /* malformed: FORMERR */
    QSTATS_MAL_NOTIMP,  /* an opcode other than QUERY: NOTIMP */
    QSTATS_MAL_BADVERS, /* an EDNS version other than 0: BADVERS */
    QSTATS_MAL_BADKEY,  /* signed with TSIG, we hold no keys: NOTAUTH/BADKEY */
    QSTATS_MAL_REASONS,
} qstats_malformed_t;

/* Why a query got no reply at all (gslb_queries_dropped_total). */
typedef enum {
    QSTATS_DROP_RESPONSE,     /* QR set: a response, not a query */
    QSTATS_DROP_SHORT,        /* shorter than a DNS header */
    QSTATS_DROP_TOO_LARGE,    /* larger than the server reads (UDP 4096, TCP 8192 bytes) */
    QSTATS_DROP_RATE_LIMITED, /* the rate limiter dropped the response (rrl.h) */
    QSTATS_DROP_REASONS,
} qstats_drop_t;

/* Why a TCP connection was closed (gslb_tcp_connections_closed_total). */
typedef enum {
    QSTATS_CLOSE_CLIENT,   /* the client closed it */
    QSTATS_CLOSE_IDLE,     /* no query completed within the timeout */
    QSTATS_CLOSE_EVICTED,  /* the one idle longest, to make room at the cap */
    QSTATS_CLOSE_ERROR,    /* a read or write failed, or a message too large */
    QSTATS_CLOSE_SHUTDOWN, /* gslbd stopped */
    QSTATS_CLOSE_REASONS,
} qstats_close_t;

/* ECS scopes 0 to 128 by value; QSTATS_ECS_UNANSWERED counts ECS queries
 * whose reply carried no ECS option (none sent, or an extended RCODE). A
 * family's row is 256 wide, so that its index is a shift and an or. */
#define QSTATS_ECS_UNANSWERED 129
#define QSTATS_ECS_SLOTS      256

/* The counts of one address family's queries on one thread. The query
 * path holds a pointer to the flow of the query's family. */
typedef struct {
    /* Answered, by qstats_counter(): [type slot][rcode]. */
    _Atomic uint64_t queries[QSTATS_QTYPES * QSTATS_RCODES];
    /* ECS queries by the option's FAMILY (1 IPv4, 2 IPv6) and scope:
     * qstats_ecs(). The first row, of no family, is never counted in: it
     * saves the query path a subtraction. */
    _Atomic uint64_t ecs[3 * QSTATS_ECS_SLOTS];
    _Atomic uint64_t malformed[QSTATS_MAL_REASONS];
    _Atomic uint64_t dropped[QSTATS_DROP_REASONS];
    _Atomic uint64_t truncated; /* answered with TC set because the answer did not fit */
    _Atomic uint64_t rrl_dropped, rrl_slipped; /* responses the rate limiter dropped, slipped */
} qstats_flow_t;

/* One thread's set: its two flows (IPv4 clients, IPv6 clients), then what
 * is counted per thread. Written by that thread alone. */
typedef struct {
    _Alignas(64) qstats_flow_t flow[2];
    _Atomic uint64_t tcp_accepted;
    _Atomic uint64_t tcp_closed[QSTATS_CLOSE_REASONS];
    bool tcp; /* the transport its queries come over: set once, before it counts */
} qstats_t;

/* A cache-line-aligned zeroed set for a thread of the transport `tcp`;
 * aborts when out of memory (start-up code). */
qstats_t *qstats_new(bool tcp);
void qstats_free(qstats_t *qs);

/* Add n to a counter of the caller's own set. No other thread writes it, so
 * no read-modify-write atomic is needed, only a store that the reporting
 * thread's relaxed loads never see torn: on x86-64 one instruction, where
 * C11's relaxed load and store take three. */
static inline void qstats_add(_Atomic uint64_t *c, uint64_t n)
{
#if defined(__x86_64__)
    __asm__("addq %1, %0" : "+m"(*(uint64_t *)c) : "er"(n));
#else
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
#endif
}

/* The counter index of a query type: QSTATS_QTYPE_OTHER or one of the named
 * ones. A table of bytes, one load. */
extern const uint8_t qstats_qtype_slot[QSTATS_QTYPE_TABLE];

static inline unsigned qstats_qtype(unsigned qtype)
{
    return qtype < QSTATS_QTYPE_TABLE ? qstats_qtype_slot[qtype] : QSTATS_QTYPE_OTHER;
}

/* The index in queries[] of a query of type `qtype` answered with `rcode`
 * (below QSTATS_RCODES). The query path mostly has it ready: each prepared
 * answer of a type carries its own (snapshot.h). */
static inline unsigned qstats_counter(unsigned qtype, unsigned rcode)
{
    return qstats_qtype(qtype) * QSTATS_RCODES + rcode;
}

/* The index in ecs[] of a query with an ECS option of `family` (1 or 2),
 * answered with `scope` (or QSTATS_ECS_UNANSWERED). */
static inline unsigned qstats_ecs(unsigned family, unsigned scope)
{
    return family << 8 | scope;
}

/* The names reports use: "A", ... or "other"; an RCODE's mnemonic
 * ("NOERROR", "BADVERS", ...) or NULL for one counted as "other"; the
 * reasons' label values. */
const char *qstats_qtype_name(unsigned slot);
const char *qstats_rcode_name(unsigned rcode);
const char *qstats_malformed_name(qstats_malformed_t r);
const char *qstats_drop_name(qstats_drop_t r);
const char *qstats_close_name(qstats_close_t r);

/* The sum of many sets, by transport (0 UDP, 1 TCP) and client family (0
 * IPv4, 1 IPv6). */
typedef struct {
    qstats_flow_t flow[2][2];
    uint64_t tcp_accepted;
    uint64_t tcp_closed[QSTATS_CLOSE_REASONS];
} qstats_sum_t;

/* Sum n sets (NULL entries are skipped) into *out, which is overwritten.
 * Any thread; the sets may be counted in meanwhile. */
void qstats_sum(const qstats_t *const *sets, size_t n, qstats_sum_t *out);

/* A counter of a sum, read as a plain number. */
static inline uint64_t qstats_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
