/*
 * encode: writing responses; see encode.h. This is the per-query path: it
 * must stay short, allocation-free and readable in one sitting.
 */
#include "gslbd/engine/encode.h"

#include <netinet/in.h>
#include <string.h>

#include "gslbd/engine/cookie.h"

#define HDR     12
#define OPT_LEN 11
#define FLAG_AA 0x04
#define FLAG_TC 0x02
#define FLAG_CD 0x10 /* in the fourth byte of the header */

/* Big-endian stores: one byte swap and one store each, where shifting byte
 * by byte took four or five instructions, a dozen times per answer. */
static inline void wr16(uint8_t *p, unsigned v)
{
    uint16_t be = htons((uint16_t)v);
    memcpy(p, &be, 2);
}

static inline unsigned rd16in(const uint8_t *p)
{
    return (unsigned)(p[0] << 8 | p[1]);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    uint32_t be = htonl(v);
    memcpy(p, &be, 4);
}

/* A response truncated because it did not fit, counted in the caller's
 * counters, if it has any. */
static void encode_count_tc(const answer_ctx_t *ctx)
{
    if (ctx != NULL && ctx->qflow != NULL) {
        qstats_add(&ctx->qflow->truncated, 1);
    }
}

/* Copy the first `len` bytes of a fragment to out+pos, moving its pointers
 * if it lands elsewhere than where it was rendered: pointers into the
 * question by `qdelta`, pointers into the fragment by its own move. */
static void frag_put(const frag_t *f, uint8_t *out, size_t pos, size_t len, int qdelta)
{
    int bdelta = (int)pos - f->base;

    if (len == 0) {
        return; /* an empty fragment has no wire at all */
    }
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

/* Copy n <= 16 bytes with at most two fixed-size moves each way, which
 * overlap when n is not a power of two: ECS addresses are 0 to 16 bytes (3
 * for the /24 resolvers send most), and a library memcpy call, or a byte
 * loop, costs more than the copy. */
static inline void copy16(uint8_t *dst, const uint8_t *src, size_t n)
{
    uint64_t a, b;
    uint32_t c, d;
    uint16_t e, f;

    if (n >= 8) {
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        memcpy(&c, src, 4);
        memcpy(&d, src + n - 4, 4);
        memcpy(dst, &c, 4);
        memcpy(dst + n - 4, &d, 4);
    } else if (n >= 2) {
        memcpy(&e, src, 2);
        memcpy(&f, src + n - 2, 2);
        memcpy(dst, &e, 2);
        memcpy(dst + n - 2, &f, 2);
    } else if (n == 1) {
        dst[0] = src[0];
    }
}

/* Bytes of the OPT record we send: ECS is echoed when it was sent, and a
 * cookie answered with ours (at most: without a secret there is none). */
static size_t opt_len(const query_t *q)
{
    return !q->edns ? 0
                    : OPT_LEN + (q->ecs ? 8u + (q->ecs_source + 7u) / 8u : 0) +
                          (q->cookie_len ? 4u + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN : 0);
}

static size_t write_cookie(uint8_t *out, size_t pos, const answer_t *a)
{
    wr16(out + pos, 10); /* EDNS option 10: COOKIE */
    wr16(out + pos + 2, COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN);
    memcpy(out + pos + 4, a->client_cookie, COOKIE_CLIENT_LEN);
    memcpy(out + pos + 4 + COOKIE_CLIENT_LEN, a->server_cookie, COOKIE_SERVER_LEN);
    return pos + 4 + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN;
}

/* The Extended DNS Error (RFC 8914 2) of each answer_ede_t: INFO-CODE and
 * EXTRA-TEXT (UTF-8, no terminating NUL on the wire). */
static const struct {
    uint16_t code;
    uint8_t len;
    const char *text;
} ede_table[] = {
#define EDE(code, text)                                                                            \
    {                                                                                              \
        code, sizeof(text) - 1, text                                                               \
    }
    [ANSWER_EDE_NOT_AUTH] = EDE(20, ""),
    [ANSWER_EDE_NO_TRANSFER] = EDE(21, "zone transfers are not served"),
    [ANSWER_EDE_ALL_DOWN] = EDE(0, "no region of this service is up (on_all_down: servfail)"),
#undef EDE
};

static size_t write_ede(uint8_t *out, size_t pos, unsigned ede)
{
    unsigned len = ede_table[ede].len;

    wr16(out + pos, 15); /* EDNS option 15: Extended DNS Error */
    wr16(out + pos + 2, 2 + len);
    wr16(out + pos + 4, ede_table[ede].code);
    memcpy(out + pos + 6, ede_table[ede].text, len);
    return pos + 6 + len;
}

/* The end of the OPT record at `opt` whose options so far end at `end`:
 * the cookie (RFC 7873 5.2: the client's, then the server cookie
 * answer_query() chose), an Extended DNS Error (`ede`), then its RDLENGTH.
 * Out of line, and called last, so that write_opt() stays a leaf: most
 * replies have neither. */
static size_t __attribute__((noinline))
write_opt_end(uint8_t *out, size_t opt, size_t end, const query_t *q, const answer_t *a,
              unsigned ede)
{
    if (q->cookie_len != 0 && a->cookie_state != ANSWER_COOKIE_NONE) {
        end = write_cookie(out, end, a);
    }
    if (ede != ANSWER_EDE_NONE) {
        end = write_ede(out, end, ede);
    }
    wr16(out + opt + 9, (unsigned)(end - opt - OPT_LEN));
    return end;
}

/* Our OPT record at `pos`, its options: ECS echoed with a->scope (not with
 * an extended RCODE), the cookie, then an Extended DNS Error for error
 * replies (`ede`, an answer_ede_t). Returns the position after it. */
static size_t write_opt(uint8_t *out, size_t pos, const query_t *q, const answer_t *a,
                        unsigned ext_rcode, unsigned ede)
{
    uint8_t *p = out + pos;
    unsigned abytes = (q->ecs_source + 7u) / 8u;
    size_t end = pos + OPT_LEN;

    p[0] = 0;                    /* owner: root */
    wr16(p + 1, 41);             /* OPT */
    wr16(p + 3, ENCODE_UDP_MAX); /* our payload size, RFC 6891 6.2.3 */
    p[5] = (uint8_t)ext_rcode;
    p[6] = 0;                       /* version 0 */
    p[7] = q->dnssec_ok ? 0x80 : 0; /* DO copied, RFC 3225 3 */
    p[8] = 0;
    bool more = (q->cookie_len | ede) != 0;
    if (q->ecs && ext_rcode == 0) {
        /* RFC 7871 7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echoed,
         * with the SCOPE PREFIX-LENGTH the answer holds for (0: everyone). */
        wr16(p + 11, 8);
        wr16(p + 13, 4 + abytes);
        wr16(p + 15, q->ecs_family);
        p[17] = q->ecs_source;
        p[18] = (uint8_t)a->scope;
        copy16(p + 19, q->ecs_addr, abytes);
        end += 8 + abytes;
        if (!more) {
            wr16(p + 9, 8 + abytes);
            return end;
        }
    } else if (!more) {
        wr16(p + 9, 0);
        return end;
    }
    return write_opt_end(out, pos, end, q, a, ede);
}

/* Header and question, the counts other than QDCOUNT left for the caller
 * to write. Answering in place, the ID, the question and its count (1, or
 * query_parse() would not have read it) are already there. */
static size_t write_head(const query_t *q, uint8_t *out, unsigned rcode, bool aa)
{
    const uint8_t *pkt = q->pkt;
    size_t qlen = q->qend ? q->qend - HDR : 0;

    out[2] = (uint8_t)(0x80 | (pkt[2] & 0x79) | (aa ? FLAG_AA : 0)); /* QR, opcode, RD */
    /* RA, Z and AD clear; CD copied, as RFC 4035 3.1.6 says a server MUST. */
    out[3] = (uint8_t)((rcode & 0x0f) | (pkt[3] & FLAG_CD));
    if (out != pkt || qlen == 0) {
        out[0] = pkt[0];
        out[1] = pkt[1];
        wr16(out + 4, qlen ? 1 : 0);
        memcpy(out + HDR, pkt + HDR, qlen); /* the client's letter case, RFC 4343 4.1 */
    }
    return HDR + qlen;
}

/* Copy the possibly compressed name at `pos` of the query into `out`,
 * uncompressed. Pointers must point backwards, so the walk ends; returns the
 * name's length, 0 if it is not a valid name. */
static size_t name_copy(const uint8_t *pkt, size_t len, size_t pos, uint8_t *out)
{
    size_t n = 0;

    while (pos < len) {
        unsigned c = pkt[pos];
        if ((c & 0xc0) == 0xc0) {
            size_t to = pos + 1 < len ? (size_t)(c & 0x3f) << 8 | pkt[pos + 1] : len;
            if (to >= pos) {
                return 0;
            }
            pos = to;
        } else if (c > 63 || pos + 1 + c > len || n + 1 + c > DNAME_MAX) {
            return 0;
        } else {
            memcpy(out + n, pkt + pos, 1 + c);
            n += 1 + c;
            pos += 1 + c;
            if (c == 0) {
                return n;
            }
        }
    }
    return 0;
}

/* Just past the name at `pos` of a record whose framing query.c checked. */
static size_t name_skip(const uint8_t *p, size_t pos)
{
    while (p[pos] != 0 && (p[pos] & 0xc0) != 0xc0) {
        pos += 1u + p[pos];
    }
    return pos + (p[pos] == 0 ? 1 : 2);
}

/* Largest TSIG record we send back: two names and the fixed fields. */
#define TSIG_MAX (2 * DNAME_MAX + 10 + 16)

/* The TSIG record of a NOTAUTH reply to a signed query (RFC 8945 5.3.2): the
 * key's name, algorithm, time signed and fudge of the request, no MAC (the
 * reply is unsigned: we hold no key), its original ID, error BADKEY (17).
 * Written to `rr` before the reply overwrites the query. Returns its
 * length, 0 if the request's record cannot be read back. */
static size_t __attribute__((noinline)) tsig_badkey(const query_t *q, uint8_t *rr)
{
    const uint8_t *p = q->pkt;
    size_t n = name_copy(p, q->len, q->tsig, rr);
    size_t rdata = name_skip(p, q->tsig) + 10;
    size_t alen = n != 0 ? name_copy(p, q->len, rdata, rr + n + 10) : 0;

    if (alen == 0) {
        return 0;
    }
    size_t at = name_skip(p, rdata);          /* time signed 6, fudge 2, MAC size 2 */
    size_t id = at + 10 + rd16in(p + at + 8); /* original ID, after the MAC */
    uint8_t *d = rr + n;
    wr16(d, 250);     /* TSIG */
    wr16(d + 2, 255); /* class ANY */
    wr32(d + 4, 0);   /* TTL 0 */
    wr16(d + 8, (unsigned)(alen + 16));
    d += 10 + alen;
    memcpy(d, p + at, 8); /* time signed and fudge */
    wr16(d + 8, 0);       /* MAC size: no MAC */
    memcpy(d + 10, p + id, 2);
    wr16(d + 12, 17); /* BADKEY */
    wr16(d + 14, 0);  /* no other data */
    return n + 10 + alen + 16;
}

/* Error replies: header, question, OPT, TSIG. Out of line, for the frame
 * the TSIG record needs. */
static size_t __attribute__((noinline))
encode_error(const answer_t *a, const query_t *q, uint8_t *out, size_t max, const answer_ctx_t *ctx)
{
    uint8_t tsig[TSIG_MAX];
    size_t tlen = q->tsig != 0 ? tsig_badkey(q, tsig) : 0;
    size_t pos = write_head(q, out, a->rcode, false);
    unsigned ar = 0;

    memset(out + 6, 0, 4);

    /* RFC 6891 7: a reply to a query with an OPT has one, FORMERR included
     * (q->edns is set only once an OPT record itself was well formed). */
    if (q->edns) {
        pos = write_opt(out, pos, q, a, a->rcode >> 4, a->ede);
        ar++;
    }
    if (tlen != 0 && pos + tlen <= max) {
        memcpy(out + pos, tsig, tlen);
        pos += tlen;
        ar++;
    } else if (tlen != 0) {
        out[2] |= FLAG_TC; /* two long names over 512 bytes: the client can ask over TCP */
        encode_count_tc(ctx);
    }
    wr16(out + 10, ar);
    return pos;
}

/* Records that do not fit: the response is truncated. */
#define ENCODE_NOROOM (~0u)

/* What every address record of one answer shares: the 12 bytes before the
 * address (owner pointer, type, class, TTL, RDLENGTH), and the address's
 * length. */
typedef struct {
    uint8_t head[12];
    unsigned alen;
} encode_rr_t;

static inline void put_addr(uint8_t *out, const encode_rr_t *rr, const uint8_t *addr)
{
    memcpy(out, rr->head, 12);
    if (rr->alen == 16) {
        memcpy(out + 12, addr, 16);
    } else {
        memcpy(out + 12, addr, 4);
    }
}

/* Whether member k of the family may be answered: all of them when `all`. */
static inline bool member_answered(const region_rt_t *r, bool v6, unsigned k, bool all)
{
    return all || healthdb_member_up(v6 ? r->s6[k] : r->s4[k]);
}

/* Where this answer starts in the `up` answerable members, from this
 * thread's rotation counter of the region's family, which moves one on: so
 * over any `up` answers in a row each member is first once. A counter past
 * `up` (members went down since) starts again at 0. No counters (a->counts
 * NULL): no rotation. */
static unsigned rotate_start(const answer_t *a, const region_rt_t *r, bool v6, unsigned up)
{
    if (a->counts == NULL) {
        return 0;
    }
    _Atomic uint64_t *c = &a->counts[r->rot + v6];
    /* Only this thread writes it: a relaxed load and store, as qstats_add. */
    uint64_t at = atomic_load_explicit(c, memory_order_relaxed);
    at = at < up ? at : 0;
    atomic_store_explicit(c, at + 1, memory_order_relaxed);
    return (unsigned)at;
}

/* `take` records of the family's addresses (`alen` bytes each: a constant
 * where it is inlined) from member k on, every one of them answerable,
 * wrapping around after the last of `cnt`. The head is held in locals:
 * `out` may alias anything, so read through rr it would be loaded again for
 * every record. */
static inline void put_lap(uint8_t *out, const encode_rr_t *rr, const uint8_t *addrs, unsigned k,
                           unsigned cnt, unsigned take, unsigned alen)
{
    const uint8_t *p = addrs + k * alen, *last = addrs + cnt * alen;
    uint64_t h0;
    uint32_t h1;

    memcpy(&h0, rr->head, 8);
    memcpy(&h1, rr->head + 8, 4);
    for (uint8_t *end = out + take * (12 + alen); out < end; out += 12 + alen) {
        memcpy(out, &h0, 8);
        memcpy(out + 8, &h1, 4);
        memcpy(out + 12, p, alen);
        p += alen;
        p = p == last ? addrs : p;
    }
}

/* A region with several addresses of the family: max_addrs (or all) of its
 * answerable members, in their listed order, from the rotation's start on,
 * wrapping around. Out of line: the common pools of one address per family
 * pay nothing for it. */
static unsigned __attribute__((noinline))
encode_pool(const answer_t *a, const region_rt_t *r, bool v6, bool all, const encode_rr_t *rr,
            uint8_t *out, size_t room)
{
    unsigned cnt = v6 ? r->n6 : r->n4, up = cnt, k = 0, n = 0;
    const uint8_t *addrs = v6 ? r->v6 : r->v4;

    for (unsigned i = 0; i < cnt && !all; i++) {
        up -= !member_answered(r, v6, i, false);
    }
    if (up == 0) {
        return 0;
    }
    unsigned take = r->max_addrs != 0 && r->max_addrs < up ? r->max_addrs : up;
    unsigned start = rotate_start(a, r, v6, up);
    if ((size_t)take * (12 + rr->alen) > room) {
        return ENCODE_NOROOM;
    }
    if (all) {
        /* The case to be quick: every member up. */
        if (v6) {
            put_lap(out, rr, addrs, start, cnt, take, 16);
        } else {
            put_lap(out, rr, addrs, start, cnt, take, 4);
        }
        return take;
    }
    /* The member at the start: the start-th answerable one. */
    for (;; k++) {
        if (member_answered(r, v6, k, false) && start-- == 0) {
            break;
        }
    }
    /* At most cnt steps: `take` answerable members lie within one lap. */
    for (unsigned step = 0; step < cnt && n < take; step++, k = k + 1 < cnt ? k + 1 : 0) {
        if (member_answered(r, v6, k, false)) {
            put_addr(out + n * (12 + rr->alen), rr, addrs + k * rr->alen);
            n++;
        }
    }
    return n;
}

/* The records of the service's chosen regions: the addresses of the asked
 * family of their answerable members. Returns the records written, or
 * ENCODE_NOROOM when they do not fit in `room` bytes. */
static unsigned encode_records(const answer_t *a, uint8_t *out, size_t pos, size_t room)
{
    const prepared_t *p = a->prep;
    const svc_rt_t *svc = p->svc;
    const select_t *sel = &a->sel;
    bool v6 = p->svc_type == LDNS_RR_TYPE_AAAA;
    unsigned n = 0;
    encode_rr_t rr = {.alen = v6 ? 16 : 4};

    /* Every record has the same owner (a pointer to the service's name),
     * type, class, TTL and RDLENGTH: build those 12 bytes once. */
    uint32_t ttl = sel->degraded && svc->min_ttl < svc->ttl ? svc->min_ttl : svc->ttl;
    wr16(rr.head, 0xc000 | p->svc_owner);
    wr16(rr.head + 2, p->svc_type);
    wr16(rr.head + 4, LDNS_RR_CLASS_IN);
    wr32(rr.head + 6, ttl);
    wr16(rr.head + 10, rr.alen);
    for (unsigned i = 0; i < sel->n; i++) {
        const region_rt_t *r = svc->regions[sel->region[i]];
        unsigned cnt = v6 ? r->n6 : r->n4;
        bool all =
            sel->failed_open || (select_region_status(r) & (v6 ? REGION_ALL6 : REGION_ALL4)) != 0;
        if (cnt > 1) {
            unsigned got = encode_pool(a, r, v6, all, &rr, out + pos, room);
            if (got == ENCODE_NOROOM) {
                return ENCODE_NOROOM;
            }
            pos += got * (12 + rr.alen);
            room -= got * (12 + rr.alen);
            n += got;
            continue;
        }
        if (cnt == 0 || !member_answered(r, v6, 0, all)) {
            continue;
        }
        if (12 + rr.alen > room) {
            return ENCODE_NOROOM;
        }
        put_addr(out + pos, &rr, v6 ? r->v6 : r->v4);
        pos += 12 + rr.alen;
        room -= 12 + rr.alen;
        n++;
    }
    return n;
}

/* RFC 1035 4.2.1 / RFC 2181 9: TC set, the client retries over TCP. Out
 * of line: rare, and the counting stays off the common path. */
static size_t __attribute__((noinline))
encode_truncated(const answer_t *a, const query_t *q, uint8_t *out, size_t opt,
                 const answer_ctx_t *ctx)
{
    size_t pos = write_head(q, out, a->prep->rcode, a->prep->aa);

    encode_count_tc(ctx);

    memset(out + 6, 0, 6);
    out[2] |= FLAG_TC;
    if (opt) {
        pos = write_opt(out, pos, q, a, 0, ANSWER_EDE_NONE);
        wr16(out + 10, 1);
    }
    return pos;
}

size_t encode_answer(const answer_t *a, const query_t *q, uint8_t *out, bool tcp,
                     const answer_ctx_t *ctx)
{
    if (!a->reply) {
        return 0;
    }
    size_t max =
        tcp ? ENCODE_TCP_MAX : (q->udp_size < ENCODE_UDP_MAX ? q->udp_size : ENCODE_UDP_MAX);
    if (a->prep == NULL) {
        return encode_error(a, q, out, max, ctx);
    }

    const prepared_t *p = a->prep;
    size_t opt = opt_len(q);
    size_t pos = write_head(q, out, p->rcode, p->aa);
    const frag_t *f = &p->frag;
    size_t flen = f->len;
    unsigned ar = f->ar, an = f->an, ns = f->ns;

    if (pos + flen + opt > max) {
        /* Additional data is optional (RFC 2181 9): drop it before truncating. */
        flen = f->len_noadd;
        ar = 0;
        if (pos + flen + opt > max) {
            return encode_truncated(a, q, out, opt, ctx);
        }
    }
    frag_put(f, out, pos, flen, a->qdelta);
    pos += flen;
    if (p->svc != NULL) {
        unsigned n = encode_records(a, out, pos, max - pos - opt);
        if (n == ENCODE_NOROOM) {
            return encode_truncated(a, q, out, opt, ctx);
        }
        an += n;
        pos += n * (p->svc_type == LDNS_RR_TYPE_AAAA ? 28u : 16u);
        if (n == 0) {
            /* NODATA: the zone's SOA tells resolvers how long to cache it. */
            const frag_t *soa = &p->svc->zone->nodata.frag;
            if (pos + soa->len + opt > max) {
                return encode_truncated(a, q, out, opt, ctx);
            }
            frag_put(soa, out, pos, soa->len, q->qlen - p->svc->zone->apex_len);
            pos += soa->len;
            ns += soa->ns;
        }
    }
    if (opt) {
        pos = write_opt(out, pos, q, a, 0, ANSWER_EDE_NONE);
        ar++;
    }
    wr16(out + 6, an);
    wr16(out + 8, ns);
    wr16(out + 10, ar);
    return pos;
}

size_t encode_slip(const answer_t *a, const query_t *q, uint8_t *out)
{
    size_t pos = q->qend ? q->qend : HDR;
    unsigned ext = 0;

    if (q->cookie_len != 0 && a->cookie_state == ANSWER_COOKIE_NEW) {
        out[3] = (uint8_t)((out[3] & ~0x0fu) | (23 & 0x0f)); /* BADCOOKIE: 23 */
        ext = 23 >> 4;
    } else {
        out[2] |= FLAG_TC;
    }
    memset(out + 6, 0, 6);
    if (q->edns) {
        pos = write_opt(out, pos, q, a, ext, a->prep == NULL ? a->ede : ANSWER_EDE_NONE);
        wr16(out + 10, 1);
    }
    return pos;
}
