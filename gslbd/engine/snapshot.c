/*
 * snapshot: compile zone models into prepared answers; see snapshot.h.
 *
 * Compilation has three passes. First every owner name (and every empty
 * non-terminal above it, up to the apex) becomes a builder node holding its
 * RRsets. Then delegation points and the names they occlude are found. Last,
 * each node gets its answers rendered: one per query type it can answer,
 * CNAME chains followed inside the zone, referrals for delegated names. The
 * query path then only picks a prepared answer and copies it.
 */
#include "gslbd/engine/snapshot.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "gslbd/engine/dname.h"
#include "gslbd/engine/qstats.h"
#include "gslbd/engine/select.h"

#define CNAME_CHAIN_MAX 8

/* The types answered from records, plus ANY; every other type is NODATA. */
static const uint16_t snap_types[] = {
    LDNS_RR_TYPE_A,   LDNS_RR_TYPE_NS,  LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_SOA,
    LDNS_RR_TYPE_PTR, LDNS_RR_TYPE_MX,  LDNS_RR_TYPE_TXT,   LDNS_RR_TYPE_AAAA,
    LDNS_RR_TYPE_SRV, LDNS_RR_TYPE_CAA, LDNS_RR_TYPE_ANY,
};
#define SNAP_NTYPES (sizeof(snap_types) / sizeof(snap_types[0]))

typedef struct {
    uint16_t type;
    ldns_rr_list *rrs; /* borrowed records: the list is ours, the rrs the zone's */
} rrset_t;

typedef struct bnode bnode_t;
struct bnode {
    uint8_t name[DNAME_MAX];
    uint8_t len;
    uint32_t hash;
    size_t zone; /* index into the zones being compiled */
    rrset_t sets[SNAP_NTYPES];
    size_t n_sets;
    const zone_service_t *svc;
    svc_rt_t *svc_rt;
    bool is_cut;
    bnode_t *cut;
    node_t *node;
};

typedef struct {
    snapshot_t *s;
    zone_t *const *zones;
    bnode_t **tab; /* open addressing over bnodes */
    uint32_t mask;
    bnode_t **all;
    size_t n_all, cap_all;
    render_t *r;
    diag_t *errs;
    const geo_db_t *db;
    healthdb_t *health;
    geo_cache_t *maps;
    geo_cache_entry_t **refs; /* map references taken, handed to the snapshot */
    size_t n_refs, cap_refs;
    snapshot_bind_t *binds; /* health slots to find, handed to the snapshot */
    size_t n_binds;
    int failed;
    size_t n_counts; /* answer counters handed out so far */
} build_t;

/* A health slot a region points at, found by name once the snapshot is on
 * the healthdb's thread. The names live in the snapshot's arena. */
struct snapshot_bind {
    healthdb_slot_t **slot;
    const char *zone, *region, *member; /* member NULL: the region's slot */
    unsigned stale_after_ms;
    unsigned quorum;
    /* A region's slot: its load feedback (load.given false: none); the
     * url is in the snapshot's arena. */
    zone_load_t load;
    zone_shed_t shed;
};

static bnode_t *build_find(const build_t *b, const uint8_t *name, size_t len)
{
    uint32_t h = dname_hash(name, len);

    for (uint32_t i = h & b->mask;; i = (i + 1) & b->mask) {
        bnode_t *n = b->tab[i];
        if (n == NULL) {
            return NULL;
        }
        if (n->hash == h && n->len == len && memcmp(n->name, name, len) == 0) {
            return n;
        }
    }
}

static void build_grow(build_t *b)
{
    uint32_t size = b->mask ? (b->mask + 1) * 2 : 1024;

    free(b->tab);
    b->tab = xcalloc(size, sizeof(*b->tab));
    b->mask = size - 1;
    for (size_t k = 0; k < b->n_all; k++) {
        uint32_t i = b->all[k]->hash & b->mask;
        while (b->tab[i] != NULL) {
            i = (i + 1) & b->mask;
        }
        b->tab[i] = b->all[k];
    }
}

/* Find or create the node for a lower-case wire name of zone z, creating the
 * empty non-terminals between it and the apex as well. */
static bnode_t *build_node(build_t *b, const uint8_t *name, size_t len, size_t z)
{
    const zone_rt_t *zr = &b->s->zones[z];
    bnode_t *n = build_find(b, name, len);

    if (n != NULL) {
        return n;
    }
    if (b->n_all == b->cap_all) {
        b->cap_all = b->cap_all ? b->cap_all * 2 : 1024;
        b->all = xreallocarray(b->all, b->cap_all, sizeof(*b->all));
    }
    if ((b->n_all + 1) * 2 > b->mask) {
        build_grow(b);
    }
    n = xcalloc(1, sizeof(*n));
    memcpy(n->name, name, len);
    n->len = (uint8_t)len;
    n->hash = dname_hash(name, len);
    n->zone = z;
    b->all[b->n_all++] = n;
    uint32_t i = n->hash & b->mask;
    while (b->tab[i] != NULL) {
        i = (i + 1) & b->mask;
    }
    b->tab[i] = n;
    if (len > zr->apex_len) {
        build_node(b, name + name[0] + 1, len - name[0] - 1, z);
    }
    return n;
}

static rrset_t *bnode_set(bnode_t *n, uint16_t type)
{
    for (size_t i = 0; i < n->n_sets; i++) {
        if (n->sets[i].type == type) {
            return &n->sets[i];
        }
    }
    return NULL;
}

static void bnode_add(bnode_t *n, ldns_rr *rr)
{
    uint16_t type = ldns_rr_get_type(rr);
    rrset_t *set = bnode_set(n, type);

    if (set == NULL) {
        set = &n->sets[n->n_sets++];
        set->type = type;
        set->rrs = ldns_rr_list_new();
    }
    ldns_rr_list_push_rr(set->rrs, rr);
}

/* True if a deeper served zone owns this name (a parent zone's data below a
 * child zone's apex is occluded by the child). */
static bool build_occluded(const build_t *b, const uint8_t *name, size_t len, size_t z)
{
    for (size_t k = 0; k < b->s->n_zones; k++) {
        const zone_rt_t *o = &b->s->zones[k];
        if (k != z && o->apex_len > b->s->zones[z].apex_len &&
            dname_is_sub(name, len, o->apex, o->apex_len)) {
            return true;
        }
    }
    return false;
}

/* Copy a name lower-cased into dst (DNAME_MAX bytes); returns its length. */
static size_t build_lower(uint8_t *dst, const ldns_rdf *rdf)
{
    const uint8_t *src = ldns_rdf_data(rdf);
    size_t len = ldns_rdf_size(rdf);

    for (size_t i = 0; i < len; i++) {
        dst[i] = dname_lower(src[i]);
    }
    return len;
}

static void build_zone_rt(build_t *b, size_t z)
{
    const zone_t *zone = b->zones[z];
    zone_rt_t *zr = &b->s->zones[z];
    uint8_t apex[DNAME_MAX];
    char text[1024];

    zr->apex_len = (uint8_t)build_lower(apex, zone->origin);
    zr->apex = arena_dup(&b->s->arena, apex, zr->apex_len);
    dname_to_text(apex, text, sizeof(text));
    size_t tlen = strlen(text);
    if (tlen > 1) {
        text[--tlen] = '\0'; /* "gslb.example.com", as written in the YAML and in reports */
    }
    zr->name = arena_dup(&b->s->arena, text, tlen + 1);
    zr->serial = zone->serial;
}

static void build_collect(build_t *b, size_t z)
{
    const zone_t *zone = b->zones[z];
    const zone_rt_t *zr = &b->s->zones[z];
    uint8_t name[DNAME_MAX];

    bnode_add(build_node(b, zr->apex, zr->apex_len, z), zone->soa);
    for (size_t i = 0; i < ldns_rr_list_rr_count(zone->rrs); i++) {
        ldns_rr *rr = ldns_rr_list_rr(zone->rrs, i);
        size_t len = build_lower(name, ldns_rr_owner(rr));
        if (!build_occluded(b, name, len, z)) {
            bnode_add(build_node(b, name, len, z), rr);
        }
    }
    for (size_t i = 0; i < zone->n_services; i++) {
        size_t len = build_lower(name, zone->services[i].owner);
        if (!build_occluded(b, name, len, z)) {
            build_node(b, name, len, z)->svc = &zone->services[i];
        }
    }
}

/* A non-apex node with NS is a delegation; it and every name below it are
 * answered with a referral from the highest such cut (RFC 1034 4.3.2). */
static void build_cuts(build_t *b)
{
    for (size_t k = 0; k < b->n_all; k++) {
        bnode_t *n = b->all[k];
        n->is_cut = n->len != b->s->zones[n->zone].apex_len && bnode_set(n, LDNS_RR_TYPE_NS);
    }
    for (size_t k = 0; k < b->n_all; k++) {
        bnode_t *n = b->all[k];
        size_t apex_len = b->s->zones[n->zone].apex_len;
        for (size_t i = 0; n->len - i > apex_len; i += (size_t)n->name[i] + 1) {
            bnode_t *up = build_find(b, n->name + i, n->len - i);
            if (up != NULL && up->is_cut) {
                n->cut = up; /* keeps the last, i.e. highest, cut */
            }
        }
    }
}

static void build_fail(build_t *b, const bnode_t *n, const char *what)
{
    char text[1024];
    diag_mark_t mark = {b->zones[n->zone]->file, 0, 0};

    diag_error(b->errs, &mark, "%s: %s does not fit in a DNS message",
               dname_to_text(n->name, text, sizeof(text)), what);
    b->failed = 1;
}

static bool build_set(build_t *b, render_section_t sec, const bnode_t *n, const rrset_t *set)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(set->rrs); i++) {
        ldns_rr *rr = ldns_rr_list_rr(set->rrs, i);
        if (!render_rr(b->r, sec, n->name, rr, ldns_rr_ttl(rr))) {
            return false;
        }
    }
    return true;
}

/* Addresses of in-zone names that NS, MX or SRV records point at, for the
 * additional section (RFC 1034 3.6.2; RFC 9471 for referral glue). */
static bool build_additional(build_t *b, const rrset_t *set)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(set->rrs); i++) {
        ldns_rr *rr = ldns_rr_list_rr(set->rrs, i);
        const ldns_rdf *target = ldns_rr_rdf(rr, ldns_rr_rd_count(rr) - 1);
        uint8_t name[DNAME_MAX];
        if (ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME) {
            continue;
        }
        build_lower(name, target);
        const bnode_t *t = build_find(b, name, ldns_rdf_size(target));
        const rrset_t *a = t ? bnode_set((bnode_t *)t, LDNS_RR_TYPE_A) : NULL;
        const rrset_t *aaaa = t ? bnode_set((bnode_t *)t, LDNS_RR_TYPE_AAAA) : NULL;
        if ((a && !build_set(b, RENDER_ADDITIONAL, t, a)) ||
            (aaaa && !build_set(b, RENDER_ADDITIONAL, t, aaaa))) {
            return false;
        }
    }
    return true;
}

static uint32_t build_negttl(const build_t *b, size_t z)
{
    const ldns_rr *soa = b->zones[z]->soa;
    uint32_t min = ldns_rdf2native_int32(ldns_rr_rdf(soa, 6));
    uint32_t ttl = ldns_rr_ttl(soa);

    return ttl < min ? ttl : min; /* RFC 2308 section 3 */
}

static bool build_soa_auth(build_t *b, size_t z)
{
    const zone_rt_t *zr = &b->s->zones[z];

    return render_rr(b->r, RENDER_AUTHORITY, zr->apex, b->zones[z]->soa, build_negttl(b, z));
}

static void build_finish(build_t *b, prepared_t *a, uint8_t rcode, bool aa)
{
    render_finish(b->r, &b->s->arena, &a->frag);
    a->rcode = rcode;
    a->aa = aa;
    a->kind = rcode == LDNS_RCODE_NXDOMAIN   ? PREPARED_NXDOMAIN
              : !aa                          ? PREPARED_REFERRAL
              : a->svc != NULL || a->frag.an ? PREPARED_POSITIVE
                                             : PREPARED_NODATA;
}

static void build_zone_answers(build_t *b, size_t z)
{
    zone_rt_t *zr = &b->s->zones[z];

    render_begin(b->r, zr->apex);
    build_soa_auth(b, z);
    build_finish(b, &zr->nxdomain, LDNS_RCODE_NXDOMAIN, true);
    zr->nodata = zr->nxdomain;
    zr->nodata.rcode = LDNS_RCODE_NOERROR;
    zr->nodata.kind = PREPARED_NODATA;
}

static void build_svc_answer(bnode_t *t, prepared_t *a, uint16_t qtype, uint16_t owner)
{
    a->svc = t->svc_rt;
    a->svc_owner = owner;
    a->svc_type = qtype == LDNS_RR_TYPE_AAAA ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
}

/* Render the answer to (n, qtype), following CNAMEs inside the zone. */
static void build_answer(build_t *b, bnode_t *n, uint16_t qtype, prepared_t *a)
{
    bnode_t *cur = n;
    uint8_t rcode = LDNS_RCODE_NOERROR;
    uint16_t owner = 12;
    rrset_t *set;
    bool ok = true;

    render_begin(b->r, n->name);
    memset(a, 0, sizeof(*a));
    for (int hop = 0; hop < CNAME_CHAIN_MAX; hop++) {
        rrset_t *cname = bnode_set(cur, LDNS_RR_TYPE_CNAME);
        if (cname == NULL || qtype == LDNS_RR_TYPE_CNAME ||
            (qtype == LDNS_RR_TYPE_ANY && cur == n)) {
            break;
        }
        ok = ok && build_set(b, RENDER_ANSWER, cur, cname);
        owner = render_last_rdata(b->r);
        const ldns_rdf *target = ldns_rr_rdf(ldns_rr_list_rr(cname->rrs, 0), 0);
        uint8_t tname[DNAME_MAX];
        build_lower(tname, target);
        const zone_rt_t *zr = &b->s->zones[n->zone];
        if (!dname_is_sub(tname, ldns_rdf_size(target), zr->apex, zr->apex_len)) {
            cur = NULL; /* out of zone: the resolver follows it */
            break;
        }
        bnode_t *next = build_find(b, tname, ldns_rdf_size(target));
        if (next == NULL && !build_occluded(b, tname, ldns_rdf_size(target), n->zone)) {
            rcode = LDNS_RCODE_NXDOMAIN; /* RFC 6604: the last name's rcode */
            ok = ok && build_soa_auth(b, n->zone);
            cur = NULL;
            break;
        }
        if (next == NULL || next->zone != n->zone) {
            cur = NULL; /* another zone of ours: the resolver asks again */
            break;
        }
        cur = next;
        if (cur->cut != NULL) {
            cur = NULL;
            break;
        }
    }
    if (cur != NULL && qtype == LDNS_RR_TYPE_ANY) {
        /* RFC 8482: one RRset stands for all; the lowest type is as good as any. */
        set = cur->n_sets ? &cur->sets[0] : NULL;
        for (size_t i = 1; i < cur->n_sets; i++) {
            if (cur->sets[i].type < set->type) {
                set = &cur->sets[i];
            }
        }
        if (cur->svc_rt != NULL && (set == NULL || set->type > LDNS_RR_TYPE_A)) {
            set = NULL;
            build_svc_answer(cur, a, LDNS_RR_TYPE_A, owner);
        }
    } else {
        set = cur ? bnode_set(cur, qtype) : NULL;
    }
    if (set != NULL) {
        ok = ok && build_set(b, RENDER_ANSWER, cur, set);
        if (set->type == LDNS_RR_TYPE_NS || set->type == LDNS_RR_TYPE_MX ||
            set->type == LDNS_RR_TYPE_SRV) {
            ok = ok && build_additional(b, set);
        }
    } else if (cur != NULL && cur->svc_rt != NULL &&
               (qtype == LDNS_RR_TYPE_A || qtype == LDNS_RR_TYPE_AAAA)) {
        build_svc_answer(cur, a, qtype, owner);
    } else if (cur != NULL && a->svc == NULL && bnode_set(cur, LDNS_RR_TYPE_CNAME) == NULL) {
        ok = ok && build_soa_auth(b, n->zone); /* NODATA, RFC 2308 section 2.2 */
    }
    if (!ok) {
        build_fail(b, n, "answer");
    }
    build_finish(b, a, rcode, true);
}

static void build_referral(build_t *b, bnode_t *n)
{
    rrset_t *ns = bnode_set(n, LDNS_RR_TYPE_NS);
    prepared_t *a = arena_alloc(&b->s->arena, sizeof(*a));

    render_begin(b->r, n->name);
    if (!build_set(b, RENDER_AUTHORITY, n, ns) || !build_additional(b, ns)) {
        build_fail(b, n, "referral");
    }
    build_finish(b, a, LDNS_RCODE_NOERROR, false);
    n->node->referral = a;
}

static bool bnode_answers(const bnode_t *n, uint16_t type)
{
    if (type == LDNS_RR_TYPE_ANY || bnode_set((bnode_t *)n, LDNS_RR_TYPE_CNAME)) {
        return true;
    }
    if (n->svc != NULL && (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_AAAA)) {
        return true;
    }
    return bnode_set((bnode_t *)n, type) != NULL;
}

static void build_node_answers(build_t *b, bnode_t *n)
{
    node_t *node = n->node;
    size_t k = 0, count = 0;

    for (size_t i = 0; i < SNAP_NTYPES; i++) {
        count += bnode_answers(n, snap_types[i]);
    }
    /* Exactly the types this node answers: most nodes of a big zone have one
     * or two, and a slot for every type would be most of the snapshot. */
    uint16_t *types = arena_alloc(&b->s->arena, count * sizeof(*types));
    prepared_t *answers = arena_alloc(&b->s->arena, count * sizeof(*answers));
    for (size_t i = 0; i < SNAP_NTYPES; i++) {
        if (bnode_answers(n, snap_types[i])) {
            types[k] = snap_types[i];
            build_answer(b, n, snap_types[i], &answers[k]);
            answers[k].counter = (uint16_t)qstats_counter(snap_types[i], answers[k].rcode);
            k++;
        }
    }
    node->types = types;
    node->answers = answers;
    node->n_types = (uint8_t)k;
    if (bnode_set(n, LDNS_RR_TYPE_CNAME) != NULL) {
        prepared_t *other = arena_alloc(&b->s->arena, sizeof(*other));
        build_answer(b, n, 0, other); /* the chain, then the target's NODATA */
        node->other = other;
    }
}

static const zone_geo_t *service_geo(const zone_t *zone, const zone_service_t *svc)
{
    const zone_geo_t *g = svc->geo.given ? &svc->geo : &zone->geo;
    return g->given ? g : NULL;
}

/* Services with the same geometry share one map, and so do successive
 * snapshots (see geo/mapcache.h): a thousand services usually have a
 * handful of distinct ones, and a reload rarely changes them. */
static const geo_map_t *build_map(build_t *b, size_t z, const zone_service_t *zs,
                                  const region_rt_t **regions)
{
    double *lat = xcalloc(zs->n_regions, sizeof(*lat)), *lon = xcalloc(zs->n_regions, sizeof(*lon));
    int *bias = xcalloc(zs->n_regions, sizeof(*bias));

    for (size_t i = 0; i < zs->n_regions; i++) {
        lat[i] = regions[zs->regions[i]]->lat;
        lon[i] = regions[zs->regions[i]]->lon;
        bias[i] = regions[zs->regions[i]]->bias;
    }
    geo_map_spec_t spec = {.n = zs->n_regions,
                           .lat = lat,
                           .lon = lon,
                           .bias = bias,
                           .zone_region = zs->regions,
                           .cfg = service_geo(b->zones[z], zs),
                           .keep_km = zs->spread_km > 0};
    geo_cache_entry_t *e = geo_cache_get(b->maps, b->db, &spec); /* copies what it keeps */
    free(lat);
    free(lon);
    free(bias);
    if (b->n_refs == b->cap_refs) {
        b->cap_refs = b->cap_refs ? b->cap_refs * 2 : 16;
        b->refs = xreallocarray(b->refs, b->cap_refs, sizeof(*b->refs));
    }
    b->refs[b->n_refs++] = e;
    return geo_cache_map(e);
}

static svc_rt_t *build_service(build_t *b, size_t z, const zone_service_t *zs,
                               const region_rt_t **regions)
{
    arena_t *ar = &b->s->arena;
    /* one more place: a fallback region outside the service's list goes last */
    const region_rt_t **list = arena_alloc(ar, (zs->n_regions + 1) * sizeof(*list));
    geo_list_t *listed = arena_alloc(ar, sizeof(*listed) + zs->n_regions * sizeof(geo_entry_t));
    svc_rt_t *s = arena_alloc(ar, sizeof(*s));

    s->sheds = false;
    for (size_t i = 0; i < zs->n_regions; i++) {
        list[i] = regions[zs->regions[i]];
        listed->e[i] = (geo_entry_t){(uint16_t)i, GEO_KM_NONE};
        s->sheds |= b->zones[z]->regions[zs->regions[i]].load.given;
    }
    listed->n = (uint16_t)zs->n_regions;
    listed->source = GEO_BY_LISTED;
    s->zone = &b->s->zones[z];
    s->name = arena_dup(ar, zs->name, strlen(zs->name) + 1);
    s->ttl = zs->ttl;
    s->n_regions = (uint16_t)zs->n_regions;
    s->regions = list;
    s->listed = listed;
    s->policy = (uint8_t)zs->policy;
    s->answers = (uint8_t)zs->answers;
    s->spread_km = (float)zs->spread_km;
    s->plain = svc_is_plain(s);
    s->ecs = zs->ecs;
    s->on_all_down = (uint8_t)zs->on_all_down;
    s->min_ttl = zs->min_ttl < zs->ttl ? zs->min_ttl : zs->ttl;
    s->count_base = (uint32_t)b->n_counts;
    b->n_counts += SVC_COUNTS(s);
    if (zs->on_all_down == ALL_DOWN_FALLBACK) {
        size_t pos = zs->n_regions;
        for (size_t i = 0; i < zs->n_regions; i++) {
            if (zs->regions[i] == zs->fallback) {
                pos = i;
            }
        }
        list[pos] = regions[zs->fallback];
        s->fallback = (uint16_t)pos;
    }
    if (zs->policy == POLICY_NEAREST) {
        s->map = build_map(b, z, zs, regions);
    }
    return s;
}

/* Note that *slot must point at the health slot of (zone, region, member):
 * found when the snapshot is attached to the healthdb. */
static void build_bind(build_t *b, healthdb_slot_t **slot, const char *zone, const char *region,
                       const char *member, unsigned stale_after_ms, unsigned quorum)
{
    arena_t *ar = &b->s->arena;

    *slot = NULL;
    if ((b->n_binds & (b->n_binds - 1)) == 0) { /* doubled at each power of two */
        b->binds = xreallocarray(b->binds, b->n_binds ? 2 * b->n_binds : 1, sizeof(*b->binds));
    }
    b->binds[b->n_binds++] = (snapshot_bind_t){
        .slot = slot,
        .zone = zone,
        .region = region,
        .member = member ? arena_dup(ar, member, strlen(member) + 1) : NULL,
        .stale_after_ms = stale_after_ms,
        .quorum = quorum,
    };
}

void snapshot_attach_health(snapshot_t *s, healthdb_t *health)
{
    for (size_t i = 0; i < s->n_binds; i++) {
        const snapshot_bind_t *bd = &s->binds[i];
        healthdb_slot_t *slot = healthdb_slot(health, bd->zone, bd->region, bd->member);

        if (bd->member != NULL) {
            slot->stale_after_ms = bd->stale_after_ms;
            slot->redecide |= slot->quorum != bd->quorum; /* at the next tick */
            slot->quorum = bd->quorum;
        } else {
            shed_configure(&slot->shed, &bd->load, &bd->shed);
        }
        *bd->slot = slot;
    }
    free(s->binds);
    s->binds = NULL;
    s->n_binds = 0;
}

/* A region's addresses by family, each with its member's health slot. */
static region_rt_t *build_region(build_t *b, size_t z, const zone_region_t *zreg)
{
    arena_t *ar = &b->s->arena;
    const zone_t *zone = b->zones[z];
    const char *zname = b->s->zones[z].name;
    region_rt_t *r = arena_alloc(ar, sizeof(*r));
    uint8_t *v4 = arena_alloc(ar, zreg->n_pool * 4 + 1);
    uint8_t *v6 = arena_alloc(ar, zreg->n_pool * 16 + 1);
    healthdb_slot_t **s4 = arena_alloc(ar, (zreg->n_pool + 1) * sizeof(*s4));
    healthdb_slot_t **s6 = arena_alloc(ar, (zreg->n_pool + 1) * sizeof(*s6));
    unsigned stale = zreg->check >= 0 ? zone->checks[zreg->check].stale_after_ms : 0;
    unsigned quorum = zreg->check >= 0 ? zone->checks[zreg->check].quorum : 0;

    r->name = arena_dup(ar, zreg->name, strlen(zreg->name) + 1);
    r->hrw = select_region_key(r->name);
    r->weight = zreg->weight;
    r->lat = zreg->lat;
    r->lon = zreg->lon;
    r->bias = zreg->bias;
    r->min_up = (uint16_t)(zreg->min_up ? zreg->min_up : 1);
    r->max_addrs = (uint16_t)zreg->max_addrs;
    r->rot = (uint32_t)b->n_counts;
    b->n_counts += 2; /* per thread, like the answer counters: no line shared between cores */
    r->checked = zreg->check >= 0;
    if (b->health != NULL) {
        build_bind(b, &r->slot, zname, r->name, NULL, 0, 0);
        if (zreg->load.given) {
            snapshot_bind_t *bd = &b->binds[b->n_binds - 1];
            bd->load =
                (zone_load_t){.given = true,
                              .source = zreg->load.source,
                              .url = arena_dup(ar, zreg->load.url, strlen(zreg->load.url) + 1),
                              .capacity = zreg->load.capacity,
                              .stale_after_ms = zreg->load.stale_after_ms};
            bd->shed = zone->shed;
        }
        r->health_gen = healthdb_gen(b->health);
        r->waiting = healthdb_waiting(b->health);
        r->status = arena_alloc(ar, sizeof(*r->status)); /* 0: nothing cached */
    }
    for (size_t m = 0; m < zreg->n_pool; m++) {
        const zone_member_t *mem = &zreg->pool[m];
        healthdb_slot_t **slot = mem->family == AF_INET ? &s4[r->n4] : &s6[r->n6];

        if (b->health != NULL) {
            build_bind(b, slot, zname, r->name, mem->text, stale, quorum);
        }
        if (mem->family == AF_INET) {
            memcpy(v4 + 4 * r->n4++, mem->addr, 4);
        } else {
            memcpy(v6 + 16 * r->n6++, mem->addr, 16);
        }
    }
    r->v4 = v4;
    r->v6 = v6;
    r->s4 = s4;
    r->s6 = s6;
    return r;
}

static int build_services(build_t *b, size_t z)
{
    const zone_t *zone = b->zones[z];
    arena_t *ar = &b->s->arena;
    region_rt_t **regions = arena_alloc(ar, (zone->n_regions + 1) * sizeof(*regions));

    const svc_rt_t **svcs = arena_alloc(ar, (zone->n_services + 1) * sizeof(*svcs));
    size_t n_svcs = 0;

    for (size_t i = 0; i < zone->n_regions; i++) {
        regions[i] = build_region(b, z, &zone->regions[i]);
    }
    b->s->zones[z].regions = (const region_rt_t *const *)regions;
    b->s->zones[z].n_regions = zone->n_regions;
    for (size_t k = 0; k < b->n_all; k++) {
        bnode_t *n = b->all[k];
        if (n->zone == z && n->svc != NULL) {
            n->svc_rt = build_service(b, z, n->svc, (const region_rt_t **)regions);
            svcs[n->svc - zone->services] = n->svc_rt; /* in the zone file's order */
        }
    }
    for (size_t i = 0; i < zone->n_services; i++) {
        if (svcs[i] != NULL) {
            svcs[n_svcs++] = svcs[i];
        }
    }
    b->s->zones[z].svcs = svcs;
    b->s->zones[z].n_svcs = n_svcs;
    return 0;
}

static void build_nodes(build_t *b)
{
    snapshot_t *s = b->s;
    uint32_t size = 1024;

    while (size < b->n_all * 2) {
        size *= 2;
    }
    s->table = arena_alloc(&s->arena, size * sizeof(*s->table));
    s->mask = size - 1;
    s->n_nodes = b->n_all;
    for (size_t k = 0; k < b->n_all; k++) {
        bnode_t *n = b->all[k];
        node_t *node = arena_alloc(&s->arena, sizeof(*node));
        uint8_t *name = arena_alloc(&s->arena, (n->len + 7u) & ~7u); /* zeroed: padded */
        memcpy(name, n->name, n->len);
        node->name = name;
        node->len = n->len;
        node->hash = n->hash;
        node->zone = &s->zones[n->zone];
        n->node = node;
        uint32_t i = n->hash & s->mask;
        while (s->table[i] != NULL) {
            i = (i + 1) & s->mask;
        }
        s->table[i] = node;
    }
    for (size_t k = 0; k < b->n_all; k++) {
        bnode_t *n = b->all[k];
        n->node->cut = n->cut ? n->cut->node : NULL;
        if (n->is_cut && n->cut == n) {
            build_referral(b, n);
        } else if (n->cut == NULL) {
            build_node_answers(b, n);
        }
    }
}

/* The answer counters: a set per answering thread and the scratch set 0,
 * each starting on a cache line of its own (64 bytes) so that two threads
 * never write one line. */
static void build_counts(snapshot_t *s, const snapshot_env_t *env, size_t n_counts)
{
    size_t stride = (n_counts + 7) & ~(size_t)7;
    unsigned sets = 1 + (env != NULL ? env->count_sets : 0);
    _Atomic uint64_t **ptrs = arena_alloc(&s->arena, sets * sizeof(*ptrs));
    size_t bytes = (size_t)sets * (stride ? stride : 8) * sizeof(uint64_t);

    s->count_mem = aligned_alloc(64, bytes);
    if (s->count_mem == NULL) {
        alloc_fail("aligned_alloc");
    }
    memset(s->count_mem, 0, bytes);
    for (unsigned i = 0; i < sets; i++) {
        ptrs[i] = (_Atomic uint64_t *)s->count_mem + (size_t)i * (stride ? stride : 8);
    }
    s->count_sets = (_Atomic uint64_t *const *)ptrs;
    s->n_count_sets = sets;
    s->n_counts = n_counts;
}

uint64_t snapshot_count(const snapshot_t *s, size_t i)
{
    uint64_t sum = 0;

    for (unsigned k = 1; k < s->n_count_sets; k++) {
        sum += atomic_load_explicit(&s->count_sets[k][i], memory_order_relaxed);
    }
    return sum;
}

static void build_cleanup(build_t *b)
{
    for (size_t k = 0; k < b->n_all; k++) {
        for (size_t i = 0; i < b->all[k]->n_sets; i++) {
            ldns_rr_list_free(b->all[k]->sets[i].rrs);
        }
        free(b->all[k]);
    }
    free(b->all);
    free(b->tab);
    free(b->refs);
    render_free(b->r);
}

int snapshot_build(zone_t *const *zones, size_t n, const snapshot_env_t *env, snapshot_t **out,
                   diag_t *errs)
{
    build_t b = {0};
    snapshot_t *s = xcalloc(1, sizeof(*s));

    arena_init(&s->arena);
    s->n_zones = n;
    s->zones = arena_alloc(&s->arena, (n + 1) * sizeof(*s->zones));
    b.s = s;
    b.zones = zones;
    b.errs = errs;
    b.db = env ? env->db : NULL;
    b.health = env ? env->health : NULL;
    if (env != NULL && env->maps != NULL) {
        b.maps = env->maps;
    } else {
        b.maps = s->own_maps = geo_cache_new();
    }
    b.r = render_new();
    build_grow(&b);
    for (size_t z = 0; z < n; z++) {
        build_zone_rt(&b, z);
    }
    for (size_t z = 0; z < n; z++) {
        build_collect(&b, z);
    }
    build_cuts(&b);
    for (size_t z = 0; z < n; z++) {
        build_services(&b, z);
        build_zone_answers(&b, z);
    }
    build_nodes(&b);
    build_counts(s, env, b.n_counts);
    s->maps = b.refs; /* the snapshot holds these references now */
    s->n_maps = b.n_refs;
    b.refs = NULL;
    s->binds = b.binds;
    s->n_binds = b.n_binds;
    build_cleanup(&b);
    if (b.failed) {
        snapshot_free(s);
        return GSLB_ECONFIG;
    }
    if (env != NULL && env->health != NULL && !env->attach_later) {
        snapshot_attach_health(s, env->health);
    }
    *out = s;
    return 0;
}

void snapshot_free(snapshot_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_maps; i++) {
        geo_cache_release(s->maps[i]);
    }
    free(s->maps);
    free(s->binds);
    free(s->count_mem);
    geo_cache_free(s->own_maps);
    arena_free(&s->arena);
    free(s);
}
