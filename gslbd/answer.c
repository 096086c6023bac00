/*
 * answer: choosing and writing responses; see answer.h. This is the per-query
 * path: it must stay short, allocation-free and readable in one sitting.
 */
#include "answer.h"

#include "query.h"

#define HDR 12
#define OPT_LEN 11
#define FLAG_AA 0x04
#define FLAG_TC 0x02

static inline void wr16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Copy the first `len` bytes of a fragment to out+pos, moving its pointers
 * if it lands elsewhere than where it was rendered: pointers into the
 * question by `qdelta`, pointers into the fragment by its own move. */
static void frag_put(const frag_t *f, uint8_t *out, size_t pos, size_t len, int qdelta)
{
    int bdelta = (int)pos - f->base;

    memcpy(out + pos, f->wire, len);
    if (qdelta == 0 && bdelta == 0) {
        return;
    }
    for (size_t i = 0; i < f->n_ptrs && f->ptrs[i] < len; i++) {
        uint8_t *p = out + pos + f->ptrs[i];
        int v = (p[0] & 0x3f) << 8 | p[1];
        v += v < f->base ? qdelta : bdelta;
        wr16(p, 0xc000 | (unsigned)v);
    }
}

static size_t write_opt(uint8_t *out, size_t pos, const query_t *q, unsigned ext_rcode)
{
    uint8_t *p = out + pos;

    p[0] = 0;                               /* owner: root */
    wr16(p + 1, 41);                        /* OPT */
    wr16(p + 3, ANSWER_UDP_MAX);            /* our payload size, RFC 6891 6.2.3 */
    p[5] = (uint8_t)ext_rcode;
    p[6] = 0;                               /* version 0 */
    p[7] = q->dnssec_ok ? 0x80 : 0;         /* DO copied, RFC 3225 3 */
    p[8] = 0;
    wr16(p + 9, 0);                         /* no options */
    return pos + OPT_LEN;
}

/* Header and question; the counts other than QDCOUNT start at zero. */
static size_t write_head(const query_t *q, uint8_t *out, unsigned rcode, bool aa)
{
    const uint8_t *pkt = q->pkt;
    size_t qlen = q->qend ? q->qend - HDR : 0;

    out[0] = pkt[0];
    out[1] = pkt[1];
    out[2] = (uint8_t)(0x80 | (pkt[2] & 0x79) | (aa ? FLAG_AA : 0)); /* QR, opcode, RD */
    out[3] = (uint8_t)(rcode & 0x0f);                                /* RA, Z, AD, CD clear */
    wr16(out + 4, q->qend ? 1 : 0);
    memset(out + 6, 0, 6);
    memcpy(out + HDR, pkt + HDR, qlen); /* the client's letter case, RFC 4343 4.1 */
    return HDR + qlen;
}

static size_t answer_error(const query_t *q, uint8_t *out, unsigned rcode)
{
    size_t pos = write_head(q, out, rcode, false);

    if (q->edns && rcode != LDNS_RCODE_FORMERR) {
        pos = write_opt(out, pos, q, rcode >> 4);
        wr16(out + 10, 1);
    }
    return pos;
}

/* Address records of a service for the query type; returns how many. */
static unsigned write_svc(const answer_t *a, uint8_t *out, size_t pos, size_t room)
{
    const region_rt_t *r = a->svc->regions[0]; /* until geo: the first listed region */
    bool v6 = a->svc_type == LDNS_RR_TYPE_AAAA;
    unsigned n = v6 ? r->n6 : r->n4, alen = v6 ? 16 : 4;
    const uint8_t *addr = v6 ? r->v6 : r->v4;
    uint32_t ttl = a->svc->ttl;

    if (n * (12 + alen) > room) {
        return ~0u;
    }
    for (unsigned i = 0; i < n; i++, pos += 12 + alen) {
        uint8_t *p = out + pos;
        wr16(p, 0xc000 | a->svc_owner);
        wr16(p + 2, a->svc_type);
        wr16(p + 4, LDNS_RR_CLASS_IN);
        wr16(p + 6, ttl >> 16);
        wr16(p + 8, ttl & 0xffff);
        wr16(p + 10, alen);
        memcpy(p + 12, addr + i * alen, alen);
    }
    return n;
}

/* Pick the prepared answer and how far its question-relative pointers move. */
static const answer_t *answer_choose(const snapshot_t *s, const query_t *q, int *qdelta)
{
    const node_t *n = snapshot_find(s, q->qname, q->qlen, q->hash);
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
            return &n->zone->nxdomain;
        }
    }
    cut = n->cut;
    if (cut != NULL && !(cut == n && q->qtype == LDNS_RR_TYPE_DS)) {
        *qdelta = q->qlen - cut->len;
        return cut->referral;
    }
    for (unsigned i = 0; i < n->n_types; i++) {
        if (n->types[i] == q->qtype) {
            return &n->answers[i];
        }
    }
    if (n->other != NULL) {
        return n->other;
    }
    *qdelta = q->qlen - n->zone->apex_len;
    return &n->zone->nodata;
}

size_t answer_packet(const snapshot_t *s, const uint8_t *pkt, size_t len, uint8_t *out,
                     bool tcp)
{
    query_t q;
    int qdelta = 0;
    query_status_t st = query_parse(&q, pkt, len);

    switch (st) {
    case QUERY_DROP:
        return 0;
    case QUERY_FORMERR:
        return answer_error(&q, out, LDNS_RCODE_FORMERR);
    case QUERY_NOTIMP:
        return answer_error(&q, out, LDNS_RCODE_NOTIMPL);
    case QUERY_BADVERS:
        return answer_error(&q, out, 16);
    case QUERY_OK:
        break;
    }
    if (q.qclass != LDNS_RR_CLASS_IN || q.qtype == LDNS_RR_TYPE_AXFR ||
        q.qtype == LDNS_RR_TYPE_IXFR) {
        return answer_error(&q, out, LDNS_RCODE_REFUSED);
    }
    const answer_t *a = answer_choose(s, &q, &qdelta);
    if (a == NULL) {
        return answer_error(&q, out, LDNS_RCODE_REFUSED);
    }

    size_t max = tcp ? ANSWER_TCP_MAX : (q.udp_size < ANSWER_UDP_MAX ? q.udp_size : ANSWER_UDP_MAX);
    size_t opt = q.edns ? OPT_LEN : 0;
    size_t pos = write_head(&q, out, a->rcode, a->aa);
    const frag_t *f = &a->frag;
    size_t flen = f->len;
    unsigned ar = f->ar, an = f->an, ns = f->ns;

    if (pos + flen + opt > max) {
        /* Additional data is optional (RFC 2181 9): drop it before truncating. */
        flen = f->len_noadd;
        ar = 0;
        if (pos + flen + opt > max) {
            goto truncated;
        }
    }
    frag_put(f, out, pos, flen, qdelta);
    pos += flen;
    if (a->svc != NULL) {
        unsigned n = write_svc(a, out, pos, max - pos - opt);
        if (n == ~0u) {
            goto truncated;
        }
        an += n;
        pos += n * (a->svc_type == LDNS_RR_TYPE_AAAA ? 28u : 16u);
        if (n == 0) {
            const frag_t *soa = &a->svc->zone->nodata.frag;
            if (pos + soa->len + opt > max) {
                goto truncated;
            }
            frag_put(soa, out, pos, soa->len, q.qlen - a->svc->zone->apex_len);
            pos += soa->len;
            ns += soa->ns;
        }
    }
    if (opt) {
        pos = write_opt(out, pos, &q, 0);
        ar++;
    }
    wr16(out + 6, an);
    wr16(out + 8, ns);
    wr16(out + 10, ar);
    return pos;

truncated:
    /* RFC 1035 4.2.1 / RFC 2181 9: TC set, the client retries over TCP. */
    pos = write_head(&q, out, a->rcode, a->aa);
    out[2] |= FLAG_TC;
    if (opt) {
        pos = write_opt(out, pos, &q, 0);
        wr16(out + 10, 1);
    }
    return pos;
}
