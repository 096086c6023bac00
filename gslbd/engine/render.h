/*
 * render: turn records into relocatable wire fragments at load time.
 *
 * A fragment is the part of a response after the question: answer, authority
 * and additional records, with names compressed (RFC 1035 4.1.4) against the
 * question name and against each other. The renderer records where every
 * compression pointer sits, so the query path can place a fragment behind a
 * question of another length (an NXDOMAIN for any name below the apex) by
 * adding a constant to each pointer, instead of rendering anything per query.
 * This module allocates and is for load time only.
 */
#ifndef GSLB_RENDER_H
#define GSLB_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "common/arena.h"

/* Largest fragment we render: a TCP message is at most 65535 bytes, and we
 * keep room for the header, a maximal question and the OPT record. */
#define RENDER_MAX (65535 - 12 - 259 - 64)

typedef struct {
    const uint8_t *wire;
    const uint16_t *ptrs; /* offsets into wire of compression pointers, ascending */
    uint16_t len;         /* whole fragment */
    uint16_t len_noadd;   /* the fragment without its additional section */
    uint16_t n_ptrs;
    uint16_t base;       /* absolute offset the fragment was rendered at */
    uint16_t an, ns, ar; /* record counts per section */
} frag_t;

typedef enum { RENDER_ANSWER, RENDER_AUTHORITY, RENDER_ADDITIONAL } render_section_t;

typedef struct render render_t;

/* One renderer serves many fragments in turn (it is large: reuse it). */
render_t *render_new(void);
/* Start a fragment placed after the question `qname` (lower-case wire). */
void render_begin(render_t *r, const uint8_t *qname);
void render_free(render_t *r);

/* Append one record. `owner` is lower-case wire. Sections must come in order.
 * Returns false if the fragment would exceed RENDER_MAX. */
bool render_rr(render_t *r, render_section_t sec, const uint8_t *owner, const ldns_rr *rr,
               uint32_t ttl);

/* Absolute offset at which the most recently appended record's first rdata
 * name starts (a CNAME's target), for pointing at it later. */
uint16_t render_last_rdata(const render_t *r);

/* Absolute offset where the next byte would go. */
uint16_t render_pos(const render_t *r);

/* Copy the fragment into the arena. */
void render_finish(const render_t *r, arena_t *a, frag_t *out);

/* Record types whose rdata names may be compressed (RFC 3597 section 4). */
bool render_type_compresses(uint16_t type);

#endif
