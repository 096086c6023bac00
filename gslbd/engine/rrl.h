/*
 * rrl: response rate limiting, so that gslbd cannot be made to flood a
 * third party whose address a query forges (a reflection and amplification
 * attack).
 *
 * Every UDP response is counted against a budget keyed on the client's
 * network (a /24 for IPv4, a /56 for IPv6 by default: the packet's source,
 * never the EDNS Client Subnet, which anyone can write), the class of the
 * response and, for most classes, what it is about:
 *
 *   positive   records answered           per name and type
 *   nodata     NOERROR without records    per zone (per name if it has others)
 *   nxdomain   the name does not exist    per zone (whatever the name)
 *   referral   a delegation               per delegation
 *   error      REFUSED, FORMERR, ...      per network
 *   large      over RRL_LARGE_BYTES       per network (whatever the name)
 *
 * (The subject is the prepared response a reply comes from: snapshot.h
 * prepares one per name and type, one NXDOMAIN and one NODATA per zone.)
 *
 * A budget is `rate` responses a second with bursts of up to a second's
 * worth: a leaky bucket kept as the time at which it will be empty (the
 * generic cell rate algorithm), one 64-bit word per key in a table shared
 * by every UDP thread and updated with compare-and-swap, no lock. A
 * response over its budget is dropped, except every `slip`-th, which is
 * sent truncated (TC, no records) so that a real client retries over TCP,
 * or, for a client that sent a DNS cookie, as BADCOOKIE with a server
 * cookie (RFC 7873 5.2.3) so that it retries over UDP with it. A client
 * presenting a valid server cookie of ours has proven its address and is
 * never limited, nor counted; TCP is never limited; nor are networks on the
 * exempt list (by default loopback, which cannot be forged from outside).
 * In log mode nothing is limited: what would be is counted and logged.
 *
 * The fast path, rrl_pass(), is inline: a hash, a load and a
 * compare-and-swap per response. Everything else (exemptions, slip or drop,
 * counters, the rate-limited log line) happens for limited responses only,
 * in rrl_limited(). The time comes from a word the caller keeps up to date
 * (gslbd/server/ticker.h), so reading it costs a load.
 */
#ifndef GSLB_RRL_H
#define GSLB_RRL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "common/log.h"
#include "gslbd/engine/answer.h"
#include "gslbd/engine/query.h"

typedef enum { RRL_OFF, RRL_ON, RRL_LOG } rrl_mode_t;

/* Responses over this many bytes are "large" (above the 512 of RFC 1035). */
#define RRL_LARGE_BYTES 512

/* An address prefix, for the exempt list. */
typedef struct {
    bool v6;
    uint8_t prefix;
    uint8_t addr[16]; /* 4 or 16 bytes used */
} rrl_net_t;

#define RRL_EXEMPT_MAX 32

typedef struct {
    rrl_mode_t mode;
    unsigned rate;      /* responses a second per key, 1..1000000 */
    unsigned slip;      /* every slip-th limited response is slipped; 0: none */
    unsigned v4_prefix; /* the client network: 1..32 */
    unsigned v6_prefix; /* 1..128 */
    size_t table_size;  /* keys held at once, rounded up to a power of two */
    size_t n_exempt;
    rrl_net_t exempt[RRL_EXEMPT_MAX];
} rrl_config_t;

/* The defaults: on, 200 a second, slip 2, /24 and /56, 262144 keys,
 * loopback (127.0.0.0/8, ::1) exempt. */
void rrl_config_default(rrl_config_t *cfg);

/* "ADDRESS[/PREFIX]" (no prefix: the whole address) into *out. Returns 0 or
 * -EINVAL; *out is written only on success. */
int rrl_net_parse(const char *text, rrl_net_t *out) ATTR_WUR;

typedef struct rrl rrl_t;

/* A limiter for `cfg` (mode RRL_ON or RRL_LOG), its hash keyed with `seed`
 * (random, so that nobody can aim keys at one bucket), reading the time in
 * microseconds from *clock (which must outlive it). Start-up only: it
 * aborts when memory runs out. Free with rrl_free (NULL-safe). */
rrl_t *rrl_new(const rrl_config_t *cfg, const uint8_t seed[16], const _Atomic uint64_t *clock);
void rrl_free(rrl_t *r);

/* What was limited so far, over all threads (each counter is exact; the
 * three are read one after the other). */
typedef struct {
    uint64_t dropped; /* responses not sent */
    uint64_t slipped; /* responses sent truncated, or as BADCOOKIE */
    uint64_t logged;  /* log mode: responses that would have been limited, sent */
} rrl_stats_t;

void rrl_stats(const rrl_t *r, rrl_stats_t *out);

/* ---- the query path (engine.h) ---- */

struct rrl {
    uint64_t k0, k1;               /* hash key */
    uint64_t interval;             /* microseconds a response uses of a budget: 1 s / rate */
    uint64_t tolerance;            /* how far ahead of now a budget may be used: the burst */
    uint64_t horizon;              /* tolerance + interval: no budget is used further ahead */
    uint64_t mask;                 /* table size - 1 */
    const _Atomic uint64_t *clock; /* the time, microseconds (answer.h) */
    uint32_t v4_mask;              /* the client network's mask, in network byte order */
    uint64_t v6_mask[2];           /* the same for IPv6, as the address's two words are loaded */
    _Atomic uint64_t *table;       /* per key: its budget's end (µs) + its fingerprint << 48 */
};

#define RRL_TIME_BITS     48 /* below a slot's fingerprint */
#define RRL_SUBJECT_LARGE 2  /* no pointer: prepared responses are aligned */

/* What a response is about, as key material: the prepared response it
 * came from stands for its class and subject at once (a name and type's
 * answer, a zone's NXDOMAIN or NODATA, a delegation's referral), NULL for
 * errors; a large one is the same for every name. The low bit is the
 * address family (prepared responses are aligned, so it is free). */
static inline uint64_t rrl_subject(const answer_t *a, size_t len, bool v6)
{
    uint64_t what = len > RRL_LARGE_BYTES ? RRL_SUBJECT_LARGE : (uintptr_t)a->prep;

    return what | v6;
}

/* The client's network: the masked address, folded to one word. */
static inline uint64_t rrl_network(const rrl_t *r, const struct sockaddr *src, bool *v6)
{
    if (__builtin_expect(src->sa_family == AF_INET, 1)) { /* most DNS traffic still is */
        uint32_t a;
        memcpy(&a, &((const struct sockaddr_in *)src)->sin_addr, 4);
        *v6 = false;
        return a & r->v4_mask;
    }
    const uint8_t *b = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
    uint64_t w[2];
    memcpy(w, b, 16);
    if (answer_mapped(b)) {
        uint32_t a;
        memcpy(&a, b + 12, 4);
        *v6 = false;
        return a & r->v4_mask;
    }
    *v6 = true;
    return (w[0] & r->v6_mask[0]) + (w[1] & r->v6_mask[1]) * 0x9e3779b97f4a7c15ull;
}

/* Count one UDP response of `len` bytes (answer `a`) to a query from `src`
 * now: true while its budget lasts, false when it is over (then
 * rrl_limited() decides). */
static inline bool rrl_pass(rrl_t *r, const struct sockaddr *src, const answer_t *a, size_t len)
{
    bool v6;
    uint64_t net = rrl_network(r, src, &v6);
    __uint128_t m = (__uint128_t)(net ^ r->k0) * (rrl_subject(a, len, v6) ^ r->k1);
    uint64_t h = (uint64_t)m ^ (uint64_t)(m >> 64);
    _Atomic uint64_t *slot = &r->table[(h >> 16) & r->mask];
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
    /* A slot holds the time (microseconds) up to which its key's budget is
     * used, plus the key's fingerprint (the hash's low 16 bits) times 2^48.
     * Less the same for now, it gives how far ahead of now that is, for a
     * slot of this key. Anything else starts afresh: a slot of another key
     * (taken over: the fingerprints differ), an idle one (the difference is
     * negative), one further ahead than a budget can be (the clock was
     * stepped back). */
    uint64_t base = (h << RRL_TIME_BITS) + atomic_load_explicit(r->clock, memory_order_relaxed);
    uint64_t ahead = old - base;
    if (ahead > r->horizon) {
        ahead = 0;
    }
    if (ahead > r->tolerance) {
        return false;
    }
    /* Another thread counting the same key at the same moment: one of the
     * two counts is lost, which errs on the side of answering. */
    atomic_compare_exchange_strong_explicit(slot, &old, base + ahead + r->interval,
                                            memory_order_relaxed, memory_order_relaxed);
    return true;
}

typedef enum { RRL_SEND, RRL_DROP, RRL_SLIP } rrl_verdict_t;

/* A response over its budget: send it anyway (an exempt network, log
 * mode), drop it, or slip it. Counts it, and logs at most once every
 * RRL_LOG_PERIOD_S seconds with the network and the query. */
rrl_verdict_t rrl_limited(rrl_t *r, const struct sockaddr *src, const query_t *q, const answer_t *a,
                          size_t len);

#define RRL_LOG_PERIOD_S 30

#endif
