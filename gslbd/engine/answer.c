/*
 * answer: deciding the response to a decoded query; see answer.h. This is
 * the per-query path: it must stay short, allocation-free and readable in
 * one sitting.
 */
#include "gslbd/engine/answer.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "gslbd/engine/cookie.h"

/* The address a service decision is made for: the ECS address when the
 * query has one with a prefix and the service uses ECS, else the packet's
 * source. IPv4-mapped IPv6 counts as IPv4. Returns where its 4 or 16 bytes
 * are (*v6 says which) and sets *from_ecs. */
/* Inlined at both its calls: as a call it costs the common path a frame. */
static inline __attribute__((always_inline)) const uint8_t *client_addr(const query_t *q,
                                                                        const svc_rt_t *svc,
                                                                        const struct sockaddr *src,
                                                                        bool *v6, bool *from_ecs)
{
    *from_ecs = q->ecs && q->ecs_source > 0 && svc->ecs;
    if (!*from_ecs) {
        return answer_source(src, v6);
    }
    *v6 = q->ecs_family == 2;
    if (*v6 && answer_mapped(q->ecs_addr)) {
        *v6 = false;
        return q->ecs_addr + 12;
    }
    return q->ecs_addr;
}

/* The network a weighted or spread choice is keyed on (select.h): a /24 or
 * a /56, the networks resolvers send in ECS and the ones a share is counted
 * over; no wider than the client sent (it knows no more), and never wider
 * than the map's network, inside which the region order is the same. The
 * answer then holds for exactly that network: it is the ECS scope. */
#define KEY_PREFIX4 24
#define KEY_PREFIX6 56

static unsigned key_prefix(const query_t *q, bool cv6, bool from_ecs, unsigned depth)
{
    unsigned p = cv6 ? KEY_PREFIX6 : KEY_PREFIX4;

    if (from_ecs) {
        unsigned mapped = q->ecs_family == 2 && !cv6 ? 96 : 0;
        unsigned sent = q->ecs_source > mapped ? q->ecs_source - mapped : 0;
        p = sent < p ? sent : p;
    }
    return depth > p ? depth : p;
}

static void trace_choice(answer_trace_t *t, const svc_rt_t *svc, const geo_list_t *order,
                         const answer_t *a, bool cv6, bool from_ecs, const uint8_t *addr,
                         unsigned depth)
{
    t->used = true; /* its why[] was filled by the selection itself */
    t->svc = svc;
    t->order = order;
    t->sel = a->sel;
    t->v6 = cv6;
    t->from_ecs = from_ecs;
    t->depth = depth;
    t->scope = a->scope;
    memset(t->addr, 0, sizeof(t->addr));
    if (addr != NULL) {
        memcpy(t->addr, addr, cv6 ? 16 : 4);
    }
}

_Static_assert(SVC_COUNT_MODES == SELECT_MODES - 1, "a counter per mode but health");

/* Count a choice other than the common case's: no region (NODATA,
 * SERVFAIL), or several, which count past the first as "extra" so that
 * the service's answers can be told from the regions they held; and an
 * answer not by health, by its mode. */
static void __attribute__((noinline))
answer_count(_Atomic uint64_t *c, const svc_rt_t *svc, const select_t *sel)
{
    if (sel->mode != SELECT_MODE_HEALTH) {
        qstats_add(&c[SVC_COUNT_MODE(svc, sel->mode)], 1);
    }
    if (sel->n == 0) {
        qstats_add(&c[SVC_COUNT_NONE(svc)], 1);
        return;
    }
    for (unsigned i = 0; i < sel->n; i++) {
        qstats_add(&c[sel->region[i]], 1);
    }
    qstats_add(&c[SVC_COUNT_EXTRA(svc)], sel->n - 1u);
}

/* Place the client and choose the service's regions into a->sel and
 * a->scope, and count the answer. Returns false when on_all_down says
 * SERVFAIL. */
static bool answer_service(answer_ctx_t *ctx, const snapshot_t *s, const prepared_t *p,
                           const query_t *q, const struct sockaddr *src, answer_t *a)
{
    const svc_rt_t *svc = p->svc;
    bool v6 = p->svc_type == LDNS_RR_TYPE_AAAA, cv6 = false, from_ecs = false;
    const geo_list_t *order = svc->listed;
    const uint8_t *addr = NULL;
    unsigned depth = 0;

    if (svc->map != NULL) {
        addr = client_addr(q, svc, src, &cv6, &from_ecs);
        order = geo_map_lookup(svc->map, cv6, addr, &depth);
        /* An IPv4 client sent as IPv4-mapped IPv6 holds for the /96 above it. */
        a->scope = !from_ecs ? 0 : depth + (q->ecs_family == 2 && !cv6 ? 96 : 0);
    }
    /* This thread's answer counters (snapshot.h), found in each branch
     * apart: computed once before them, they were kept on the stack. */
    if (ctx->trace == NULL && select_is_fast(svc, order, v6)) {
        select_first_region(order, &a->sel);
        a->counts = s->count_sets[ctx->count_set];
        qstats_add(&a->counts[svc->count_base + order->e[0].region], 1);
        return true;
    }
    uint64_t key = 0;
    unsigned prefix = 0;
    if (!svc->plain || svc->sheds) { /* weighted, spread or shedding: the same network, the
                                        same choice */
        if (addr == NULL) {
            addr = client_addr(q, svc, src, &cv6, &from_ecs);
        }
        prefix = key_prefix(q, cv6, from_ecs, depth);
        key = select_client_key(cv6, addr, prefix);
        if (from_ecs) {
            a->scope = prefix + (q->ecs_family == 2 && !cv6 ? 96 : 0);
        }
    }
    bool trace_why = ctx->trace != NULL && order->n <= sizeof(ctx->trace->why);
    select_regions_all(svc, order, v6, key, &a->sel, trace_why ? ctx->trace->why : NULL);
    if (ctx->trace != NULL) {
        trace_choice(ctx->trace, svc, order, a, cv6, from_ecs, addr, depth);
        ctx->trace->aaaa = v6;
        ctx->trace->keyed = !svc->plain || svc->sheds;
        ctx->trace->key_prefix = prefix;
    }
    a->counts = s->count_sets[ctx->count_set];
    answer_count(a->counts + svc->count_base, svc, &a->sel);
    return a->sel.mode != SELECT_MODE_SERVFAIL;
}

/* The prepared response for the question, how far its pointers into the
 * question move, and its query counter (qstats.h: a node's answer of the
 * type asked has its own ready, the rest are worked out); NULL when the
 * name is in none of our zones. */
static const prepared_t *answer_choose(const snapshot_t *s, const query_t *q, int *qdelta,
                                       uint16_t *counter)
{
    const node_t *n = snapshot_find_padded(s, q->qname, q->qlen, q->hash);
    const prepared_t *p;
    const node_t *cut;

    if (n == NULL) {
        for (unsigned i = 1; i < q->nlabels && n == NULL; i++) {
            const uint8_t *sfx = q->qname + q->loff[i];
            uint8_t len = (uint8_t)(q->qlen - q->loff[i]);
            n = snapshot_find(s, sfx, len, dname_hash(sfx, len));
        }
        if (n == NULL) {
            return NULL; /* not ours */
        }
        if (n->cut == NULL) {
            *qdelta = q->qlen - n->zone->apex_len;
            p = &n->zone->nxdomain;
            goto other;
        }
    }
    cut = n->cut;
    if (cut != NULL && !(cut == n && q->qtype == LDNS_RR_TYPE_DS)) {
        *qdelta = q->qlen - cut->len;
        p = cut->referral;
        goto other;
    }
    for (unsigned i = 0; i < n->n_types; i++) {
        if (n->types[i] == q->qtype) {
            *counter = n->answers[i].counter;
            return &n->answers[i];
        }
    }
    p = n->other;
    if (p == NULL) {
        *qdelta = q->qlen - n->zone->apex_len;
        p = &n->zone->nodata;
    }
other:
    *counter = (uint16_t)qstats_counter(q->qtype, p->rcode);
    return p;
}

/* The RCODE of the reply to a query decoded with status `st` (not
 * QUERY_OK), ANSWER_RCODE_NONE for none, and why it is malformed or
 * dropped, counted in `f` (NULL: not counted). */
static unsigned answer_status_rcode(qstats_flow_t *f, const query_t *q, query_status_t st)
{
    static const struct {
        uint8_t rcode, why;
    } status[] = {
        [QUERY_FORMERR] = {LDNS_RCODE_FORMERR, QSTATS_MAL_FORMERR},
        [QUERY_NOTIMP] = {LDNS_RCODE_NOTIMPL, QSTATS_MAL_NOTIMP},
        [QUERY_BADVERS] = {16, QSTATS_MAL_BADVERS}, /* RFC 6891 6.1.3 */
        /* NOTAUTH with TSIG error BADKEY, RFC 8945 5.2.1 */
        [QUERY_BADKEY] = {LDNS_RCODE_NOTAUTH, QSTATS_MAL_BADKEY},
    };

    if (st == QUERY_DROP || (unsigned)st >= sizeof(status) / sizeof(status[0])) {
        if (f != NULL) {
            qstats_add(&f->dropped[q->len < 12 ? QSTATS_DROP_SHORT : QSTATS_DROP_RESPONSE], 1);
        }
        return ANSWER_RCODE_NONE;
    }
    if (f != NULL) {
        qstats_add(&f->malformed[status[st].why], 1);
    }
    return status[st].rcode;
}

uint64_t answer_clock_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* RFC 7873 5.2.3-5.2.5: every reply to a query with a COOKIE option carries
 * the client's cookie and a server cookie: the one presented if it is ours
 * and fresh, else a new one. Whatever was presented, the query is answered:
 * only the rate limiter treats clients differently (rrl.h). Out of line:
 * most queries have no cookie and should not pay for its frame. */
static void __attribute__((noinline))
answer_cookie(const answer_ctx_t *ctx, const query_t *q, const struct sockaddr *src, answer_t *a)
{
    bool v6;
    const uint8_t *ip = answer_source(src, &v6);
    size_t iplen = v6 ? 16 : 4;

    if (ctx->cookie_secret == NULL) {
        a->cookie_state = ANSWER_COOKIE_NONE;
        return;
    }
    memcpy(a->client_cookie, q->cookie, COOKIE_CLIENT_LEN);
    uint32_t now = (uint32_t)(answer_now(ctx) / 1000000u);
    cookie_check_t c = cookie_check(ctx->cookie_secret, q->cookie, q->cookie_len, ip, iplen, now);
    if (c == COOKIE_VALID) {
        memcpy(a->server_cookie, q->cookie + COOKIE_CLIENT_LEN, COOKIE_SERVER_LEN);
    } else {
        cookie_make(ctx->cookie_secret, q->cookie, ip, iplen, now, a->server_cookie);
    }
    a->cookie_state = c == COOKIE_INVALID ? ANSWER_COOKIE_NEW : ANSWER_COOKIE_VALID;
}

void answer_query(answer_ctx_t *ctx, const snapshot_t *s, const query_t *q, query_status_t st,
                  const struct sockaddr *src, answer_t *a)
{
    const prepared_t *p;

    a->prep = NULL;
    a->reply = st != QUERY_DROP;
    a->qdelta = 0;
    a->scope = 0;
    if (q->cookie_len != 0) {
        answer_cookie(ctx, q, src, a);
    }
    if (st != QUERY_OK) {
        a->rcode = (uint8_t)answer_status_rcode(ctx->qflow, q, st);
        a->ede = ANSWER_EDE_NONE;
        /* The question's type, if it was read (qend); a query that gets no
         * reply is counted in the slot no reply code uses. */
        a->counter = (uint16_t)qstats_counter(q->qend != 0 ? q->qtype : 0, a->rcode);
        if (a->rcode >> 4 != 0) {
            a->scope = QSTATS_ECS_UNANSWERED; /* no ECS beside an extended RCODE */
        }
        return;
    }
    /* No zone transfers unless configured (none are), nothing outside class IN. */
    if (q->qclass != LDNS_RR_CLASS_IN || q->qtype == LDNS_RR_TYPE_AXFR ||
        q->qtype == LDNS_RR_TYPE_IXFR ||
        (p = answer_choose(s, q, &a->qdelta, &a->counter)) == NULL) {
        a->rcode = LDNS_RCODE_REFUSED;
        a->counter = (uint16_t)qstats_counter(q->qtype, LDNS_RCODE_REFUSED);
        a->ede = q->qclass == LDNS_RR_CLASS_IN &&
                         (q->qtype == LDNS_RR_TYPE_AXFR || q->qtype == LDNS_RR_TYPE_IXFR)
                     ? ANSWER_EDE_NO_TRANSFER
                     : ANSWER_EDE_NOT_AUTH;
        return;
    }
    if (p->svc != NULL && !answer_service(ctx, s, p, q, src, a)) {
        a->rcode = LDNS_RCODE_SERVFAIL;
        a->counter = (uint16_t)qstats_counter(q->qtype, LDNS_RCODE_SERVFAIL);
        a->ede = ANSWER_EDE_ALL_DOWN;
        return;
    }
    a->prep = p;
    a->rcode = p->rcode;
}
