/*
 * query: decoding of queries; see query.h. Everything here runs per packet, so
 * it touches each byte once and does no allocation.
 */
#include "query.h"

#include <string.h>

#define OPCODE(pkt)  (((pkt)[2] >> 3) & 0x0f)
#define RR_TYPE_OPT  41
#define EDNS_OPT_ECS 8

_Static_assert(sizeof(((query_t *)0)->qname) % 8 == 0, "the name is copied in whole words");

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The n bytes (1 to 8) just before `end`, as the first bytes of a word. It
 * reads the eight bytes before `end`, so the caller must know they are all in
 * the packet: true of anything that ends after the header. */
static inline uint64_t rd_tail(const uint8_t *end, size_t n)
{
    uint64_t w;

    memcpy(&w, end - 8, 8);
    return dname_word_skip(w, 8 - n);
}

/* Validate the question name label by label: labels of 1 to 63 bytes, 255
 * bytes in all (RFC 1035 3.1). Compression is not allowed here: nothing
 * precedes the question to point to. Returns the length, 0 if invalid. */
static size_t query_qname_walk(query_t *q, const uint8_t *p, size_t avail)
{
    size_t end = avail < DNAME_MAX ? avail : DNAME_MAX, i = 0, c = 0;
    uint8_t *loff = q->loff;

    for (; i < end; i += c + 1) {
        c = p[i]; /* read once: the stores to loff may alias the packet */
        if (c - 1 >= 63) {
            break;
        }
        *loff++ = (uint8_t)i;
    }
    q->nlabels = (uint8_t)(loff - q->loff);
    return i < end && c == 0 ? i + 1 : 0; /* else a pointer, a reserved type, or too long */
}

/* Copy the valid name at p into q->qname, lower-cased, and hash it as
 * dname_hash does, a word at a time. The last word is cut to the name, which
 * leaves zeros after it as the hash wants. If the packet ends inside that word
 * (no EDNS, the question last), it is read from the end of the packet instead:
 * nothing past `avail` is read. q->qname has room for the whole word. */
static void query_qname_copy(query_t *q, const uint8_t *p, size_t len, size_t avail)
{
    size_t last = (len - 1) & ~(size_t)7; /* where the last word starts */
    uint64_t h = DNAME_HASH_SEED ^ len, w;

    /* The last word first, so the loop below needs no test for it. */
    if (last + 8 <= avail) {
        memcpy(&w, p + last, 8);
    } else {
        w = rd_tail(p + avail, avail - last);
    }
    uint64_t wlast = dname_word_first(dname_lower8(w), len - last);
    for (size_t k = 0; k < last; k += 8) {
        memcpy(&w, p + k, 8);
        w = dname_lower8(w);
        memcpy(q->qname + k, &w, 8);
        h = dname_hash_step(h, w);
    }
    memcpy(q->qname + last, &wlast, 8);
    q->qlen = (uint8_t)len;
    q->hash = (uint32_t)dname_hash_step(h, wlast);
}

static bool query_qname(query_t *q, size_t *pos)
{
    size_t avail = q->len - *pos, len = query_qname_walk(q, q->pkt + *pos, avail);

    if (len == 0) {
        return false;
    }
    query_qname_copy(q, q->pkt + *pos, len, avail);
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
