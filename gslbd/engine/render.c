/*
 * render: load-time rendering of wire fragments with name compression and a
 * record of pointer positions; see render.h. The compression table is a plain
 * list scanned linearly: fragments hold a handful of names, and this runs at
 * load time only.
 */
#include "gslbd/engine/render.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "gslbd/engine/dname.h"

/* Pointer targets are kept below this so that shifting a fragment later by a
 * question of up to 255 bytes, or by dynamic records placed before it, never
 * overflows the 14-bit pointer (RFC 1035 4.1.4). */
#define RENDER_PTR_LIMIT 0x3000

typedef struct {
    uint8_t name[DNAME_MAX]; /* lower-case suffix, uncompressed */
    uint8_t len;
    uint16_t off; /* absolute offset in the message */
} render_comp_t;

struct render {
    uint8_t buf[65536];
    size_t len, base, len_noadd;
    uint16_t ptrs[8192];
    size_t n_ptrs;
    render_comp_t *comp;
    size_t n_comp, cap_comp;
    uint16_t count[3];
    render_section_t sec;
    uint16_t last_rdata;
};

bool render_type_compresses(uint16_t type)
{
    switch (type) {
    case LDNS_RR_TYPE_NS:
    case LDNS_RR_TYPE_CNAME:
    case LDNS_RR_TYPE_SOA:
    case LDNS_RR_TYPE_PTR:
    case LDNS_RR_TYPE_MX:
        return true;
    default:
        return false;
    }
}

static void render_comp_add(render_t *r, const uint8_t *name, size_t len, size_t off)
{
    if (off >= RENDER_PTR_LIMIT) {
        return;
    }
    if (r->n_comp == r->cap_comp) {
        r->cap_comp = r->cap_comp ? r->cap_comp * 2 : 16;
        r->comp = xreallocarray(r->comp, r->cap_comp, sizeof(*r->comp));
    }
    render_comp_t *c = &r->comp[r->n_comp++];
    for (size_t i = 0; i < len; i++) {
        c->name[i] = dname_lower(name[i]);
    }
    c->len = (uint8_t)len;
    c->off = (uint16_t)off;
}

static int render_comp_find(const render_t *r, const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < r->n_comp; i++) {
        const render_comp_t *c = &r->comp[i];
        if (c->len != len) {
            continue;
        }
        size_t k = 0;
        while (k < len && c->name[k] == dname_lower(name[k])) {
            k++;
        }
        if (k == len) {
            return c->off;
        }
    }
    return -1;
}

render_t *render_new(void)
{
    render_t *r = xcalloc(1, sizeof(*r));

    return r;
}

void render_begin(render_t *r, const uint8_t *qname)
{
    size_t qlen = dname_len(qname), i = 0;

    r->len = r->len_noadd = r->n_ptrs = r->n_comp = 0;
    r->count[0] = r->count[1] = r->count[2] = 0;
    r->sec = RENDER_ANSWER;
    r->last_rdata = 0;
    r->base = 12 + qlen + 4;
    while (qname[i] != 0) {
        render_comp_add(r, qname + i, qlen - i, 12 + i);
        i += (size_t)qname[i] + 1;
    }
}

void render_free(render_t *r)
{
    if (r != NULL) {
        free(r->comp);
        free(r);
    }
}

static bool render_bytes(render_t *r, const void *p, size_t n)
{
    if (r->len + n > RENDER_MAX) {
        return false;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    return true;
}

static bool render_u16(render_t *r, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return render_bytes(r, b, 2);
}

/* Write a name, compressing its longest suffix already in the message. */
static bool render_name(render_t *r, const uint8_t *name, bool compress)
{
    size_t len = dname_len(name), i = 0;

    while (name[i] != 0) {
        int off = compress ? render_comp_find(r, name + i, len - i) : -1;
        if (off >= 0) {
            r->ptrs[r->n_ptrs++] = (uint16_t)r->len;
            return render_u16(r, (uint16_t)(0xc000 | off));
        }
        if (compress) {
            render_comp_add(r, name + i, len - i, r->base + r->len);
        }
        if (!render_bytes(r, name + i, (size_t)name[i] + 1)) {
            return false;
        }
        i += (size_t)name[i] + 1;
    }
    return render_bytes(r, "", 1);
}

static bool render_rdata(render_t *r, const ldns_rr *rr)
{
    bool compress = render_type_compresses(ldns_rr_get_type(rr));
    bool first_name = true;

    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        const ldns_rdf *rdf = ldns_rr_rdf(rr, i);
        if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME) {
            if (first_name) {
                r->last_rdata = (uint16_t)(r->base + r->len);
                first_name = false;
            }
            if (!render_name(r, ldns_rdf_data(rdf), compress)) {
                return false;
            }
        } else if (!render_bytes(r, ldns_rdf_data(rdf), ldns_rdf_size(rdf))) {
            return false;
        }
    }
    return true;
}

bool render_rr(render_t *r, render_section_t sec, const uint8_t *owner, const ldns_rr *rr,
               uint32_t ttl)
{
    size_t rdlen_at;
    uint8_t fixed[8];

    if (sec == RENDER_ADDITIONAL && r->sec != RENDER_ADDITIONAL) {
        r->len_noadd = r->len;
    }
    r->sec = sec;
    if (r->n_ptrs + 16 > sizeof(r->ptrs) / sizeof(r->ptrs[0])) {
        return false;
    }
    if (!render_name(r, owner, true)) {
        return false;
    }
    fixed[0] = (uint8_t)(ldns_rr_get_type(rr) >> 8);
    fixed[1] = (uint8_t)ldns_rr_get_type(rr);
    fixed[2] = 0;
    fixed[3] = LDNS_RR_CLASS_IN;
    fixed[4] = (uint8_t)(ttl >> 24);
    fixed[5] = (uint8_t)(ttl >> 16);
    fixed[6] = (uint8_t)(ttl >> 8);
    fixed[7] = (uint8_t)ttl;
    if (!render_bytes(r, fixed, sizeof(fixed))) {
        return false;
    }
    rdlen_at = r->len;
    if (!render_u16(r, 0) || !render_rdata(r, rr)) {
        return false;
    }
    size_t rdlen = r->len - rdlen_at - 2;
    r->buf[rdlen_at] = (uint8_t)(rdlen >> 8);
    r->buf[rdlen_at + 1] = (uint8_t)rdlen;
    r->count[sec]++;
    return true;
}

uint16_t render_last_rdata(const render_t *r)
{
    return r->last_rdata;
}

uint16_t render_pos(const render_t *r)
{
    return (uint16_t)(r->base + r->len);
}

void render_finish(const render_t *r, arena_t *a, frag_t *out)
{
    out->wire = r->len ? arena_dup(a, r->buf, r->len) : NULL;
    out->ptrs = r->n_ptrs ? arena_dup(a, r->ptrs, r->n_ptrs * sizeof(r->ptrs[0])) : NULL;
    out->len = (uint16_t)r->len;
    out->len_noadd = (uint16_t)(r->sec == RENDER_ADDITIONAL ? r->len_noadd : r->len);
    out->n_ptrs = (uint16_t)r->n_ptrs;
    out->base = (uint16_t)r->base;
    out->an = r->count[RENDER_ANSWER];
    out->ns = r->count[RENDER_AUTHORITY];
    out->ar = r->count[RENDER_ADDITIONAL];
}
