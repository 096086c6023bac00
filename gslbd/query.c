/*
 * query: decoding of queries; see query.h. Everything here runs per packet, so
 * it touches each byte once and does no allocation.
 */
#include "query.h"

#include <string.h>

#define OPCODE(pkt)  (((pkt)[2] >> 3) & 0x0f)
#define RR_TYPE_OPT  41
#define EDNS_OPT_ECS 8

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Validate the question name label by label, then copy it, lower-case it and
 * hash it eight bytes at a time. Compression is not allowed here: nothing
 * precedes the question to point to. */
static bool query_qname(query_t *q, size_t *pos)
{
    const uint8_t *p = q->pkt + *pos;
    size_t avail = q->len - *pos, i = 0;

    q->nlabels = 0;
    for (;;) {
        if (i >= avail || i >= DNAME_MAX) {
            return false;
        }
        uint8_t n = p[i];
        if (n == 0) {
            break;
        }
        if (n > 63) {
            return false; /* a pointer or a reserved label type */
        }
        q->loff[q->nlabels++] = (uint8_t)i;
        i += (size_t)n + 1;
    }
    size_t len = i + 1;
    memcpy(q->qname, p, len);
    for (size_t k = 0; k < len; k += 8) { /* may run into the spare bytes: harmless */
        uint64_t w;
        memcpy(&w, q->qname + k, 8);
        w = dname_lower8(w);
        memcpy(q->qname + k, &w, 8);
    }
    q->qlen = (uint8_t)len;
    q->hash = dname_hash(q->qname, len);
    *pos += len;
    return true;
}

/* Step over a possibly compressed name in a record; false if it runs off. */
static bool query_skip_name(const query_t *q, size_t *pos)
{
    size_t i = *pos;

    while (i < q->len) {
        uint8_t n = q->pkt[i];
        if (n == 0) {
            *pos = i + 1;
            return true;
        }
        if ((n & 0xc0) == 0xc0) {
            *pos = i + 2;
            return *pos <= q->len;
        }
        if (n > 63) {
            return false;
        }
        i += (size_t)n + 1;
    }
    return false;
}

/* RFC 7871 6: FAMILY 1 or 2, a SOURCE PREFIX-LENGTH the family allows, an
 * ADDRESS of exactly the octets the prefix needs, no bits set beyond it. */
static bool query_ecs(query_t *q, const uint8_t *o, uint16_t len)
{
    if (q->ecs || len < 4) {
        return false;
    }
    unsigned family = rd16(o), source = o[2], bytes = (source + 7) / 8;
    unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;
    if (max == 0 || source > max || len != 4 + bytes) {
        return false;
    }
    memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
    memcpy(q->ecs_addr, o + 4, bytes);
    if (source % 8 != 0 && (q->ecs_addr[bytes - 1] & (0xff >> (source % 8))) != 0) {
        return false;
    }
    q->ecs = true;
    q->ecs_family = (uint8_t)family;
    q->ecs_source = (uint8_t)source;
    return true;
}

/* RFC 6891 6.1.1: one OPT at most, owner the root. The caller has set
 * q->edns = false. */
static query_status_t query_opt(query_t *q, size_t at, size_t rdata, uint16_t rdlen)
{
    const uint8_t *p = q->pkt;

    if (q->edns || p[at] != 0) {
        return QUERY_FORMERR;
    }
    q->edns = true;
    q->udp_size = rd16(p + at + 3);
    if (q->udp_size < 512) {
        q->udp_size = 512; /* RFC 6891 6.2.5: treat smaller values as 512 */
    }
    q->dnssec_ok = (p[at + 7] & 0x80) != 0;
    /* Unknown options are ignored (RFC 6891 6.1.2) once their framing holds. */
    for (size_t o = rdata; o < rdata + rdlen;) {
        if (o + 4 > rdata + rdlen || o + 4 + rd16(p + o + 2) > rdata + rdlen) {
            return QUERY_FORMERR;
        }
        uint16_t code = rd16(p + o), olen = rd16(p + o + 2);
        if (code == EDNS_OPT_ECS && !query_ecs(q, p + o + 4, olen)) {
            return QUERY_FORMERR; /* RFC 7871 7.1.2 */
        }
        o += 4 + (size_t)olen;
    }
    return p[at + 6] != 0 ? QUERY_BADVERS : QUERY_OK;
}

/* Walk the answer, authority and additional sections looking for OPT. */
static query_status_t query_records(query_t *q, size_t pos)
{
    const uint8_t *p = q->pkt;
    unsigned total = (unsigned)rd16(p + 6) + rd16(p + 8) + rd16(p + 10);
    unsigned first_additional = (unsigned)rd16(p + 6) + rd16(p + 8);
    query_status_t st = QUERY_OK;

    for (unsigned r = 0; r < total; r++) {
        size_t at = pos;
        if (!query_skip_name(q, &pos) || pos + 10 > q->len) {
            return QUERY_FORMERR;
        }
        uint16_t type = rd16(p + pos), rdlen = rd16(p + pos + 8);
        if (pos + 10 + rdlen > q->len) {
            return QUERY_FORMERR;
        }
        if (type == RR_TYPE_OPT) {
            if (r < first_additional) {
                return QUERY_FORMERR;
            }
            query_status_t s = query_opt(q, at, pos + 10, rdlen);
            if (s == QUERY_FORMERR) {
                return s;
            }
            if (s != QUERY_OK) {
                st = s;
            }
        }
        pos += 10 + (size_t)rdlen;
    }
    return st;
}

query_status_t query_parse(query_t *q, const uint8_t *pkt, size_t len)
{
    size_t pos = 12;

    q->pkt = pkt;
    q->len = len;
    q->qend = 0;
    q->edns = false;
    q->ecs = false;
    q->dnssec_ok = false;
    q->udp_size = 512;
    if (len < 12 || (pkt[2] & 0x80) != 0) {
        return QUERY_DROP;
    }
    if (rd16(pkt + 4) != 1 || !query_qname(q, &pos) || pos + 4 > len) {
        return OPCODE(pkt) != 0 ? QUERY_NOTIMP : QUERY_FORMERR;
    }
    q->qtype = rd16(pkt + pos);
    q->qclass = rd16(pkt + pos + 2);
    q->qend = pos + 4;
    if (OPCODE(pkt) != 0) {
        return QUERY_NOTIMP;
    }
    return query_records(q, q->qend);
}
