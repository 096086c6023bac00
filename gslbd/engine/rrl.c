/*
 * rrl: response rate limiting; see rrl.h. The fast path is inline in
 * rrl.h; this file sets the limiter up and handles the responses over
 * budget: exemptions, slip or drop, counters and the log line.
 */
#include "gslbd/engine/rrl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <ldns/ldns.h>

#include "common/alloc.h"
#include "gslbd/engine/dname.h"
#include "gslbd/engine/engine.h"

/* What is only read or written on the limited path, after the fast path's
 * part (struct rrl, in rrl.h). */
typedef struct {
    struct rrl fast;
    rrl_config_t cfg;
    _Atomic uint64_t limited; /* responses over budget, for slip's count */
    _Atomic uint64_t dropped, slipped, logged;
    _Atomic uint64_t next_log; /* time (µs) before which nothing is logged */
    uint64_t reported_dropped, reported_slipped, reported_logged; /* at the last log line */
} rrl_full_t;

void rrl_config_default(rrl_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mode = RRL_ON;
    cfg->rate = 200;
    cfg->slip = 2;
    cfg->v4_prefix = 24;
    cfg->v6_prefix = 56;
    cfg->table_size = 1u << 18;
    /* Loopback cannot come from outside the host (the kernel drops such
     * sources on other interfaces), so no one can be flooded through it. */
    cfg->exempt[0] = (rrl_net_t){.v6 = false, .prefix = 8, .addr = {127}};
    cfg->exempt[1] = (rrl_net_t){.v6 = true, .prefix = 128, .addr[15] = 1};
    cfg->n_exempt = 2;
}

int rrl_net_parse(const char *text, rrl_net_t *out)
{
    char addr[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    rrl_net_t n = {0};

    if (alen == 0 || alen >= sizeof(addr)) {
        return -EINVAL;
    }
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, n.addr) == 1) {
        n.prefix = 32;
    } else if (inet_pton(AF_INET6, addr, n.addr) == 1) {
        n.v6 = true;
        n.prefix = 128;
    } else {
        return -EINVAL;
    }
    if (slash != NULL) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || p > n.prefix) {
            return -EINVAL;
        }
        n.prefix = (uint8_t)p;
    }
    *out = n;
    return 0;
}

/* The mask of a prefix over `bytes` bytes, as those bytes. */
static void prefix_mask(unsigned prefix, uint8_t *mask, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        unsigned bits = prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;
        mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
    }
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

rrl_t *rrl_new(const rrl_config_t *cfg, const uint8_t seed[16], const _Atomic uint64_t *clock)
{
    rrl_full_t *f = xcalloc(1, sizeof(*f));
    struct rrl *r = &f->fast;
    uint8_t m[16];
    size_t size = 1;

    f->cfg = *cfg;
    while (size < cfg->table_size) {
        size <<= 1;
    }
    r->table = xcalloc(size, sizeof(*r->table));
    r->mask = size - 1;
    r->clock = clock;
    r->k0 = load64(seed) | 1; /* odd: the multiply must not lose bits to a zero */
    r->k1 = load64(seed + 8) | 1;
    r->interval = 1000000u / cfg->rate;
    /* A second's worth may be used at once: `rate` responses pass, the last
     * of them leaving the budget used that far ahead. */
    r->tolerance = r->interval * (cfg->rate - 1);
    r->horizon = r->tolerance + r->interval;
    prefix_mask(cfg->v4_prefix, m, 4);
    memcpy(&r->v4_mask, m, 4);
    prefix_mask(cfg->v6_prefix, m, 16);
    r->v6_mask[0] = load64(m);
    r->v6_mask[1] = load64(m + 8);
    return r;
}

void rrl_free(rrl_t *r)
{
    if (r != NULL) {
        free(r->table);
        free(r);
    }
}

void rrl_stats(const rrl_t *r, rrl_stats_t *out)
{
    const rrl_full_t *f = (const rrl_full_t *)r;

    out->dropped = atomic_load_explicit(&f->dropped, memory_order_relaxed);
    out->slipped = atomic_load_explicit(&f->slipped, memory_order_relaxed);
    out->logged = atomic_load_explicit(&f->logged, memory_order_relaxed);
}

static bool net_contains(const rrl_net_t *n, const uint8_t *addr, bool v6)
{
    uint8_t m[16];
    size_t bytes = v6 ? 16 : 4;

    if (n->v6 != v6) {
        return false;
    }
    prefix_mask(n->prefix, m, bytes);
    for (size_t i = 0; i < bytes; i++) {
        if ((addr[i] & m[i]) != (n->addr[i] & m[i])) {
            return false;
        }
    }
    return true;
}

static bool exempt(const rrl_full_t *f, const uint8_t *addr, bool v6)
{
    for (size_t i = 0; i < f->cfg.n_exempt; i++) {
        if (net_contains(&f->cfg.exempt[i], addr, v6)) {
            return true;
        }
    }
    return false;
}

static const char *class_name(const answer_t *a, size_t len)
{
    static const char *names[] = {"positive", "nodata", "nxdomain", "referral"};

    return len > RRL_LARGE_BYTES ? "large" : a->prep == NULL ? "error" : names[a->prep->kind];
}

/* One line about the limiting going on: the network, what it asked, and
 * what was limited since the last line. One thread at a time gets to write
 * it, at most once a period, whichever thread limits then. */
static void rrl_log(rrl_full_t *f, const uint8_t *addr, bool v6, const query_t *q,
                    const answer_t *a, size_t len)
{
    char net[INET6_ADDRSTRLEN], name[1024] = "(no question)", type[16] = "";
    uint8_t m[16], masked[16];
    unsigned prefix = v6 ? f->cfg.v6_prefix : f->cfg.v4_prefix;

    prefix_mask(prefix, m, v6 ? 16 : 4);
    for (size_t i = 0; i < (v6 ? 16u : 4u); i++) {
        masked[i] = addr[i] & m[i];
    }
    inet_ntop(v6 ? AF_INET6 : AF_INET, masked, net, sizeof(net));
    if (q->qend != 0) {
        dname_to_text(q->qname, name, sizeof(name));
        const ldns_rr_descriptor *d = ldns_rr_descript(q->qtype);
        if (d != NULL && d->_name != NULL) {
            snprintf(type, sizeof(type), " %s", d->_name);
        } else {
            snprintf(type, sizeof(type), " TYPE%u", q->qtype);
        }
    }
    uint64_t dropped = atomic_load_explicit(&f->dropped, memory_order_relaxed);
    uint64_t slipped = atomic_load_explicit(&f->slipped, memory_order_relaxed);
    uint64_t logged = atomic_load_explicit(&f->logged, memory_order_relaxed);
    if (f->cfg.mode == RRL_LOG) {
        log_warn("rate limit (log only): responses to %s/%u over %u/s (%s, %s%s); "
                 "%llu would have been limited since the last report",
                 net, prefix, f->cfg.rate, class_name(a, len), name, type,
                 (unsigned long long)(logged - f->reported_logged));
        f->reported_logged = logged;
        return;
    }
    log_warn("rate limit: responses to %s/%u over %u/s (%s, %s%s); since the last report "
             "%llu dropped, %llu sent truncated",
             net, prefix, f->cfg.rate, class_name(a, len), name, type,
             (unsigned long long)(dropped - f->reported_dropped),
             (unsigned long long)(slipped - f->reported_slipped));
    f->reported_dropped = dropped;
    f->reported_slipped = slipped;
}

rrl_verdict_t rrl_limited(rrl_t *r, const struct sockaddr *src, const query_t *q, const answer_t *a,
                          size_t len)
{
    rrl_full_t *f = (rrl_full_t *)r;
    uint64_t now = atomic_load_explicit(r->clock, memory_order_relaxed);
    bool v6;
    const uint8_t *addr = answer_source(src, &v6);
    rrl_verdict_t v;

    if (exempt(f, addr, v6)) {
        return RRL_SEND;
    }
    if (f->cfg.mode == RRL_LOG) {
        atomic_fetch_add_explicit(&f->logged, 1, memory_order_relaxed);
        v = RRL_SEND;
    } else {
        uint64_t n = atomic_fetch_add_explicit(&f->limited, 1, memory_order_relaxed) + 1;
        v = f->cfg.slip != 0 && n % f->cfg.slip == 0 ? RRL_SLIP : RRL_DROP;
        atomic_fetch_add_explicit(v == RRL_SLIP ? &f->slipped : &f->dropped, 1,
                                  memory_order_relaxed);
    }
    uint64_t at = atomic_load_explicit(&f->next_log, memory_order_relaxed);
    if (now >= at && atomic_compare_exchange_strong_explicit(
                         &f->next_log, &at, now + RRL_LOG_PERIOD_S * 1000000ull,
                         memory_order_relaxed, memory_order_relaxed)) {
        rrl_log(f, addr, v6, q, a, len);
    }
    return v;
}

/* Out of line even under link-time optimisation: the common case must not
 * pay for this frame in engine_reply()'s. */
size_t __attribute__((noinline))
engine_limited(answer_ctx_t *ctx, const query_t *q, const answer_t *a, const struct sockaddr *src,
               uint8_t *out, size_t len)
{
    qstats_flow_t *f = ctx->qflow;
    answer_t slip;

    switch (rrl_limited(ctx->rrl, src, q, a, len)) {
    case RRL_SEND:
        break;
    case RRL_DROP:
        len = 0;
        slip = *a;
        slip.rcode = ANSWER_RCODE_NONE; /* no reply: no rcode counted, and no ECS */
        slip.counter = (uint16_t)((a->counter & ~(QSTATS_RCODES - 1u)) | ANSWER_RCODE_NONE);
        slip.scope = QSTATS_ECS_UNANSWERED;
        a = &slip;
        if (f != NULL) {
            qstats_add(&f->dropped[QSTATS_DROP_RATE_LIMITED], 1);
            qstats_add(&f->rrl_dropped, 1);
        }
        break;
    default:
        len = encode_slip(a, q, out);
        if (q->cookie_len != 0 && a->cookie_state == ANSWER_COOKIE_NEW) {
            slip = *a; /* as encode_slip() answered: BADCOOKIE, which echoes no ECS */
            slip.rcode = 23;
            slip.counter = (uint16_t)((a->counter & ~(QSTATS_RCODES - 1u)) | 23u);
            slip.scope = QSTATS_ECS_UNANSWERED;
            a = &slip;
        }
        if (f != NULL) {
            qstats_add(&f->rrl_slipped, 1);
        }
        break;
    }
    if (f != NULL) {
        engine_count(f, q, a);
    }
    return len;
}
