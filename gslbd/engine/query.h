/*
 * query: decode one DNS query message into the few facts answering needs.
 *
 * It validates the header, the single question (RFC 1035 4.1.2), the EDNS
 * OPT record (RFC 6891 6.1) and the place of a TSIG record (RFC 8945 5.2),
 * and never allocates: the query_t lives on the caller's stack or in
 * per-thread storage. It does not decide the answer.
 */
#ifndef GSLB_QUERY_H
#define GSLB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gslbd/engine/dname.h"

typedef enum {
    QUERY_OK,      /* answer it */
    QUERY_DROP,    /* no reply at all: shorter than a header, or QR set */
    QUERY_FORMERR, /* malformed: reply FORMERR */
    QUERY_NOTIMP,  /* opcode other than QUERY: reply NOTIMP (its OPT read: RFC 6891 7) */
    QUERY_BADVERS, /* EDNS version other than 0: reply BADVERS (RFC 6891 6.1.3) */
    QUERY_BADKEY,  /* signed with TSIG: we hold no keys, NOTAUTH/BADKEY (RFC 8945 5.2.1) */
} query_status_t;

/* Largest EDNS payload size we advertise and send (DNS flag day 2020). */
#define QUERY_EDNS_SIZE 1232

typedef struct {
    const uint8_t *pkt; /* the message as received (not owned) */
    size_t len;
    size_t qend;   /* offset just after the question, 0 if none parsed */
    uint32_t hash; /* dname_hash of qname */
    uint16_t qtype, qclass;
    uint8_t qlen; /* wire length of qname, root included */
    uint8_t nlabels;
    bool edns, dnssec_ok;
    uint16_t udp_size;              /* the client's limit: 512 without EDNS */
    uint16_t tsig;                  /* offset of a well-placed TSIG record, 0: none */
    uint8_t cookie_len;             /* COOKIE option (RFC 7873): 0 none, 8, or 16 to 40 */
    const uint8_t *cookie;          /* its data in pkt: the client cookie, then any server's */
    bool ecs;                       /* a valid EDNS Client Subnet option (RFC 7871) was sent */
    uint8_t ecs_family;             /* 1 IPv4, 2 IPv6 */
    uint8_t ecs_source;             /* SOURCE PREFIX-LENGTH */
    uint8_t ecs_addr[16];           /* ADDRESS, zero-padded to the family's length */
    uint8_t qname[DNAME_MAX + 1];   /* lower case; whole 8-byte words are stored */
    uint8_t loff[DNAME_MAX_LABELS]; /* label offsets in qname */
} query_t;

query_status_t query_parse(query_t *q, const uint8_t *pkt, size_t len);

#endif
