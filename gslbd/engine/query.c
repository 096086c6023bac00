/*
 * query: decoding of queries; see query.h. Everything here runs per packet, so
 * it does no allocation and reads the name a word at a time. The common query
 * (one question, then one OPT record) takes a short path; every other shape
 * goes through the general record walk, with the same results.
 */
#include "gslbd/engine/query.h"

#include <string.h>

#define OPCODE(pkt)     (((pkt)[2] >> 3) & 0x0f)
#define RR_TYPE_OPT     41
#define RR_TYPE_TSIG    250
#define EDNS_OPT_ECS    8
#define EDNS_OPT_COOKIE 10
#define OPT_FIXED       11 /* an OPT record up to its RDATA: root owner, TYPE, CLASS, TTL, RDLENGTH */

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
 * nothing past `avail` is read. q->qname has room for the whole word.
 *
 * Names nearly always arrive in lower case, so the words are first taken as
 * they come, noting any byte with bit 6 set and bit 5 clear: every upper-case
 * letter is one (so are '@', '[' to '_' and some bytes above 127). Only if one
 * was seen are the words lower-cased and hashed again. */
static void query_qname_copy(query_t *q, const uint8_t *p, size_t len, size_t avail)
{
    size_t last = (len - 1) & ~(size_t)7; /* where the last word starts */
    uint64_t h = DNAME_HASH_SEED ^ len, w, caps = 0;

    for (size_t k = 0; k < last; k += 8) {
        memcpy(&w, p + k, 8);
        memcpy(q->qname + k, &w, 8);
        caps |= w & ~(w << 1);
        h = dname_hash_step(h, w);
    }
    if (last + 8 <= avail) {
        memcpy(&w, p + last, 8);
    } else {
        w = rd_tail(p + avail, avail - last);
    }
    w = dname_word_first(w, len - last);
    memcpy(q->qname + last, &w, 8);
    caps |= w & ~(w << 1);
    h = dname_hash_step(h, w);
    if ((caps & 0x4040404040404040ull) != 0) {
        h = DNAME_HASH_SEED ^ len;
        for (size_t k = 0; k <= last; k += 8) {
            memcpy(&w, q->qname + k, 8);
            w = dname_lower8(w);
            memcpy(q->qname + k, &w, 8);
            h = dname_hash_step(h, w);
        }
    }
    q->qlen = (uint8_t)len;
    q->hash = (uint32_t)h;
}

/* The question name at offset 12: its length, 0 if it is invalid. */
static size_t query_qname(query_t *q, const uint8_t *pkt, size_t len)
{
    size_t qlen = query_qname_walk(q, pkt + 12, len - 12);

    if (qlen != 0) {
        query_qname_copy(q, pkt + 12, qlen, len - 12);
    }
    return qlen;
}

/* Step over a possibly compressed name in a record; false if it runs off. */
static bool query_skip_name(const uint8_t *p, size_t len, size_t *pos)
{
    size_t i = *pos;

    while (i < len) {
        uint8_t n = p[i];
        if (n == 0) {
            *pos = i + 1;
            return true;
        }
        if ((n & 0xc0) == 0xc0) {
            *pos = i + 2;
            return *pos <= len;
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
static bool query_ecs(query_t *q, const uint8_t *o, size_t len)
{
    if (q->ecs || len < 4) {
        return false;
    }
    unsigned family = rd16(o), source = o[2], bytes = (source + 7) / 8;
    unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;
    if (max == 0 || source > max || len != 4 + bytes) {
        return false;
    }
    /* Zero-padded to 16 bytes. ADDRESS ends the option, so rd_tail may read it. */
    uint64_t addr[2] = {0, 0};
    if (bytes > 8) {
        memcpy(&addr[0], o + 4, 8);
        addr[1] = rd_tail(o + len, bytes - 8);
    } else if (bytes > 0) {
        addr[0] = rd_tail(o + len, bytes);
    }
    memcpy(q->ecs_addr, addr, sizeof(addr));
    if (source % 8 != 0 && (o[len - 1] & (0xff >> (source % 8))) != 0) {
        return false;
    }
    q->ecs = true;
    q->ecs_family = (uint8_t)family;
    q->ecs_source = (uint8_t)source;
    return true;
}

/* The OPT record at `at`, its RDATA known to lie in the packet. The caller has
 * checked the rest of RFC 6891 6.1.1: it is the first OPT, its owner the root. */
static query_status_t query_opt(query_t *q, const uint8_t *at, size_t rdlen)
{
    const uint8_t *o = at + OPT_FIXED;
    unsigned size = rd16(at + 3);

    q->edns = true;
    q->udp_size = (uint16_t)(size < 512 ? 512 : size); /* RFC 6891 6.2.5: smaller means 512 */
    q->dnssec_ok = (at[7] & 0x80) != 0;
    /* Unknown options are ignored (RFC 6891 6.1.2) once their framing holds. */
    while (rdlen != 0) {
        size_t olen = rdlen < 4 ? 0 : rd16(o + 2);
        if (rdlen < 4 || olen > rdlen - 4) {
            return QUERY_FORMERR;
        }
        unsigned code = rd16(o);
        if (code == EDNS_OPT_ECS) {
            if (!query_ecs(q, o + 4, olen)) {
                return QUERY_FORMERR; /* RFC 7871 7.1.2 */
            }
        } else if (code == EDNS_OPT_COOKIE) {
            /* RFC 7873 4: a client cookie of 8 bytes, alone or followed by
             * a server cookie of 8 to 32; any other length is malformed
             * (5.2.2). The RFC gives no rule for a second COOKIE option: the
             * first is the one taken. Where it is is noted; answer.c reads
             * it (no call here keeps this loop, run by every ECS query, a
             * leaf). */
            if (olen != 8 && olen - 16 > 24) {
                return QUERY_FORMERR;
            }
            if (q->cookie_len == 0) {
                q->cookie = o + 4;
                q->cookie_len = (uint8_t)olen;
            }
        }
        o += 4 + olen;
        rdlen -= 4 + olen;
    }
    return at[6] != 0 ? QUERY_BADVERS : QUERY_OK;
}

/* RFC 8945 4.2: the TSIG RDATA's fields (algorithm name, time signed, fudge,
 * MAC size and MAC, original ID, error, other length and data) fill exactly
 * its RDLENGTH. */
static bool query_tsig_ok(const uint8_t *p, size_t rdata, size_t rdlen)
{
    size_t pos = rdata, end = rdata + rdlen;

    if (!query_skip_name(p, end, &pos) || pos + 10 > end) {
        return false;
    }
    pos += 10 + (size_t)rd16(p + pos + 8);
    if (pos + 6 > end) {
        return false;
    }
    return pos + 6 + rd16(p + pos + 4) == end;
}

/* Walk the answer, authority and additional sections looking for OPT, and
 * for TSIG, which must be the last record of all (RFC 8945 5.2). */
static query_status_t query_records(query_t *q, const uint8_t *p, size_t len, size_t pos)
{
    unsigned total = (unsigned)rd16(p + 6) + rd16(p + 8) + rd16(p + 10);
    unsigned first_additional = (unsigned)rd16(p + 6) + rd16(p + 8);
    query_status_t st = QUERY_OK;

    for (unsigned r = 0; r < total; r++) {
        size_t at = pos;
        if (!query_skip_name(p, len, &pos) || pos + 10 > len) {
            return QUERY_FORMERR;
        }
        uint16_t type = rd16(p + pos), rdlen = rd16(p + pos + 8);
        if (pos + 10 + rdlen > len) {
            return QUERY_FORMERR;
        }
        if (type == RR_TYPE_OPT) {
            if (r < first_additional || q->edns || p[at] != 0) {
                return QUERY_FORMERR; /* RFC 6891 6.1.1 */
            }
            query_status_t s = query_opt(q, p + at, rdlen);
            if (s == QUERY_FORMERR) {
                return s;
            }
            if (s != QUERY_OK) {
                st = s;
            }
        } else if (type == RR_TYPE_TSIG) {
            if (r != total - 1 || r < first_additional || !query_tsig_ok(p, pos + 10, rdlen)) {
                return QUERY_FORMERR; /* RFC 8945 5.2: misplaced, repeated or broken */
            }
            q->tsig = (uint16_t)at;
            st = QUERY_BADKEY; /* checked before the EDNS version: RFC 8945 5.2.1 */
        }
        pos += 10 + (size_t)rdlen;
    }
    return st;
}

/* After the question. Nearly every query today has one OPT record there and
 * nothing else (QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1): read it straight
 * away. Any other shape takes the general walk, which ends in the same place
 * for this one. */
static query_status_t query_additional(query_t *q, const uint8_t *p, size_t len, size_t at)
{
    static const uint8_t usual[8] = {0, 1, 0, 0, 0, 0, 0, 1};

    if (memcmp(p + 4, usual, 8) != 0 || at + OPT_FIXED > len || p[at] != 0 ||
        rd16(p + at + 1) != RR_TYPE_OPT) {
        return query_records(q, p, len, at);
    }
    size_t rdlen = rd16(p + at + 9);
    if (at + OPT_FIXED + rdlen > len) {
        return QUERY_FORMERR;
    }
    return query_opt(q, p + at, rdlen);
}

/* A message with an opcode we do not implement gets NOTIMP. Its OPT record is
 * still looked for, when its questions can be stepped over, because a reply
 * to a request with an OPT must carry one (RFC 6891 7); a shape we cannot
 * walk just gets NOTIMP without it. */
static query_status_t __attribute__((noinline))
query_notimp(query_t *q, const uint8_t *p, size_t len)
{
    size_t pos = 12;

    for (unsigned i = rd16(p + 4); i > 0; i--) {
        if (!query_skip_name(p, len, &pos) || (pos += 4) > len) {
            return QUERY_NOTIMP;
        }
    }
    /* A signed message is answered BADKEY whatever its opcode: the key is
     * what the sender needs to hear about. */
    return query_records(q, p, len, pos) == QUERY_BADKEY ? QUERY_BADKEY : QUERY_NOTIMP;
}

query_status_t query_parse(query_t *q, const uint8_t *pkt, size_t len)
{
    size_t qlen;

    q->pkt = pkt;
    q->len = len;
    q->qend = 0;
    q->edns = false;
    q->ecs = false;
    q->dnssec_ok = false;
    q->udp_size = 512;
    q->tsig = 0;
    q->cookie_len = 0;
    if (len < 12 || (pkt[2] & 0x80) != 0) {
        return QUERY_DROP;
    }
    if (rd16(pkt + 4) != 1 || (qlen = query_qname(q, pkt, len)) == 0 || 12 + qlen + 4 > len) {
        return OPCODE(pkt) != 0 ? query_notimp(q, pkt, len) : QUERY_FORMERR;
    }
    q->qtype = rd16(pkt + 12 + qlen);
    q->qclass = rd16(pkt + 12 + qlen + 2);
    q->qend = 12 + qlen + 4;
    if (OPCODE(pkt) != 0) {
        return query_notimp(q, pkt, len);
    }
    return query_additional(q, pkt, len, q->qend);
}
