/*
 * records: the static records of a zone file. See records.h. This file turns
 * YAML values into ldns records and checks them against each other; it does
 * not know about regions or services.
 */
#include "zones/records.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "zones/schema.h"
#include "zones/zdup.h"
#include "zones/zname.h"

/* RFC 1035 section 3.3: a character-string holds at most 255 bytes; the TXT
 * RDATA of 255 full strings (65280 bytes) is the most that fits in 65535. */
#define RECORDS_TXT_CHUNK 255
#define RECORDS_TXT_MAX   (255 * 255)

typedef struct {
    const char *name;
    ldns_rr_type type;
    unsigned bit;
} records_type_t;

static const records_type_t records_types[] = {
    {"A", LDNS_RR_TYPE_A, RECORDS_T_A},
    {"AAAA", LDNS_RR_TYPE_AAAA, RECORDS_T_AAAA},
    {"CNAME", LDNS_RR_TYPE_CNAME, RECORDS_T_CNAME},
    {"NS", LDNS_RR_TYPE_NS, RECORDS_T_NS},
    {"MX", LDNS_RR_TYPE_MX, RECORDS_T_OTHER},
    {"TXT", LDNS_RR_TYPE_TXT, RECORDS_T_OTHER},
    {"SRV", LDNS_RR_TYPE_SRV, RECORDS_T_OTHER},
    {"CAA", LDNS_RR_TYPE_CAA, RECORDS_T_OTHER},
    {"PTR", LDNS_RR_TYPE_PTR, RECORDS_T_OTHER},
};
#define RECORDS_N_TYPES (sizeof(records_types) / sizeof(records_types[0]))

static const schema_item_t records_ttl_item = {"ttl", SCHEMA_TTL, .max = SCHEMA_TTL_MAX};

/* An NS record below the apex, kept until every name is known so that its
 * target's addresses can be looked up. */
typedef struct {
    size_t rr;               /* index in zone->rrs */
    const yaml_node_t *node; /* the value it came from */
} records_deleg_t;

/* State of one records_load() call. */
typedef struct {
    ynode_doc_t *d;
    zone_t *zone;
    records_names_t *names;
    records_deleg_t *delegs;
    size_t n_delegs;
    char ctx[320]; /* "records 'www'" of the name being parsed */
} records_loader_t;

/* One value being parsed: which name and type, and where it was written. */
typedef struct {
    const ldns_rdf *owner;
    const records_type_t *type;
    uint32_t ttl;
    const yaml_node_t *node;
    const char *text;
} records_value_t;

void records_ctx(const records_name_t *name, char *buf, size_t size)
{
    snprintf(buf, size, "records '%s'", ynode_str(name->key));
}

static void records_push(zone_t *zone, ldns_rr *rr)
{
    if (!ldns_rr_list_push_rr(zone->rrs, rr)) {
        alloc_fail("ldns_rr_list_push_rr");
    }
}

static ldns_rr *records_new_rr(const ldns_rdf *owner, ldns_rr_type type, uint32_t ttl)
{
    ldns_rr *rr = ldns_rr_new();

    if (!rr) {
        alloc_fail("ldns_rr_new");
    }
    ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
    ldns_rr_set_type(rr, type);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, ttl);
    return rr;
}

static ldns_rr *records_address(records_loader_t *l, const records_value_t *v)
{
    bool v6 = v->type->type == LDNS_RR_TYPE_AAAA;
    uint8_t buf[16];
    ldns_rr *rr;

    if (inet_pton(v6 ? AF_INET6 : AF_INET, v->text, buf) != 1) {
        schema_err(l->d, v->node, l->ctx, "'%s': bad IPv%c address '%s'", v->type->name,
                   v6 ? '6' : '4', v->text);
        return NULL;
    }
    rr = records_new_rr(v->owner, v->type->type, v->ttl);
    ldns_rr_push_rdf(
        rr, ldns_rdf_new_frm_data(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, v6 ? 16 : 4, buf));
    return rr;
}

/* TXT: the YAML string is the text, cut into character-strings of at most
 * 255 bytes (RFC 1035 section 3.3.14). Building the RDATA directly spares
 * quoting the text for a zone-file parser. */
static ldns_rr *records_txt(records_loader_t *l, const records_value_t *v)
{
    size_t len = v->node->data.scalar.length, off = 0;
    uint8_t chunk[RECORDS_TXT_CHUNK + 1];
    ldns_rr *rr;

    if (len > RECORDS_TXT_MAX) {
        schema_err(l->d, v->node, l->ctx, "'TXT': text of %zu bytes is too long (at most %d)", len,
                   RECORDS_TXT_MAX);
        return NULL;
    }
    rr = records_new_rr(v->owner, LDNS_RR_TYPE_TXT, v->ttl);
    do {
        size_t n = len - off < RECORDS_TXT_CHUNK ? len - off : RECORDS_TXT_CHUNK;

        chunk[0] = (uint8_t)n;
        memcpy(chunk + 1, v->text + off, n);
        ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1, chunk));
        off += n;
    } while (off < len);
    return rr;
}

/* ldns stores an out-of-range MX preference or SRV port modulo 2^16 without
 * complaint, so compare the leading integer fields with what was written. */
static bool records_check_ints(records_loader_t *l, const records_value_t *v, const ldns_rr *rr)
{
    const char *p = v->text;

    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        ldns_rdf_type t = ldns_rdf_get_type(ldns_rr_rdf(rr, i));
        unsigned long long max = t == LDNS_RDF_TYPE_INT8    ? 255
                                 : t == LDNS_RDF_TYPE_INT16 ? 65535
                                 : t == LDNS_RDF_TYPE_INT32 ? 4294967295ULL
                                                            : 0;
        size_t len;
        char *end;

        if (!max) {
            break;
        }
        p += strspn(p, " \t");
        len = strcspn(p, " \t");
        if (*p == '-' ||
            (isdigit((unsigned char)*p) && strtoull(p, &end, 10) > max && end == p + len)) {
            schema_err(l->d, v->node, l->ctx, "'%s': bad %s data '%s' (%.*s out of range 0..%llu)",
                       v->type->name, v->type->name, v->text, (int)len, p, max);
            return false;
        }
        p += len;
    }
    return true;
}

static bool records_has_ctrl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 && *s != '\t') {
            return true;
        }
    }
    return false;
}

/* Other types: zone-file presentation format, relative names under the zone. */
static ldns_rr *records_generic(records_loader_t *l, const records_value_t *v)
{
    char *owner = ldns_rdf2str(v->owner), *line;
    ldns_rr *rr = NULL;
    ldns_status st = LDNS_STATUS_SYNTAX_ERR;
    const char *why;

    line = xasprintf("%s %u IN %s %s", owner, v->ttl, v->type->name, v->text);
    if (!records_has_ctrl(v->text)) {
        st = ldns_rr_new_frm_str(&rr, line, v->ttl, l->zone->origin, NULL);
    }
    free(line);
    free(owner);
    if (st == LDNS_STATUS_OK && ldns_rr_get_type(rr) == v->type->type) {
        if (records_check_ints(l, v, rr)) {
            return rr;
        }
        ldns_rr_free(rr);
        return NULL;
    }
    ldns_rr_free(rr);
    why = st == LDNS_STATUS_OK ? "wrong type" : ldns_get_errorstr_by_id(st);
    if (records_has_ctrl(v->text)) {
        why = "control character";
    }
    schema_err(l->d, v->node, l->ctx, "'%s': bad %s data '%s' (%c%s)", v->type->name, v->type->name,
               v->text, tolower((unsigned char)why[0]), why + 1);
    return NULL;
}

/* Parse one value and append its record; true when it did. */
static bool records_value(records_loader_t *l, records_value_t *v)
{
    ldns_rr_type t = v->type->type;
    ldns_rr *rr;

    v->text = ynode_str(v->node);
    if (!v->text) {
        schema_err(l->d, v->node, l->ctx, "'%s' must be a string or a list of strings",
                   v->type->name);
        return false;
    }
    rr = t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA ? records_address(l, v)
         : t == LDNS_RR_TYPE_TXT                       ? records_txt(l, v)
                                                       : records_generic(l, v);
    if (!rr) {
        return false;
    }
    records_push(l->zone, rr);
    return true;
}

/* ---- repeated records ---- */

/* Records in canonical wire form (RFC 4034 section 6.2: names in RDATA lower
 * case), compared by length, then bytes: equal exactly when ldns_rr_compare()
 * says so. */
typedef struct {
    uint8_t **data;
    size_t *len;
} records_wire_t;

static int records_wire_cmp(const void *ctx, size_t a, size_t b)
{
    const records_wire_t *w = ctx;

    if (w->len[a] != w->len[b]) {
        return w->len[a] < w->len[b] ? -1 : 1;
    }
    return memcmp(w->data[a], w->data[b], w->len[a]);
}

/* Record i in wire form, through `buf` (one buffer for all: a record can
 * be 64 KB long, most are a few dozen bytes). */
static void records_wire(records_wire_t *w, size_t i, const ldns_rr *rr, ldns_buffer *buf)
{
    ldns_buffer_clear(buf);
    if (ldns_rr2buffer_wire_canonical(buf, rr, LDNS_SECTION_ANY) != LDNS_STATUS_OK) {
        alloc_fail("ldns_rr2buffer_wire_canonical");
    }
    w->len[i] = ldns_buffer_position(buf);
    w->data[i] = xmalloc(w->len[i] + 1);
    memcpy(w->data[i], ldns_buffer_begin(buf), w->len[i]);
}

typedef void (*records_report_t)(void *arg, const yaml_node_t *node);

/* Drop the records of zone->rrs[from..] that repeat an earlier one of them
 * (RFC 2181 section 5: no two records of an RRset are the same), calling
 * report() with the node of each. nodes[i] is record from + i's node; the
 * kept ones move up with their records. Sorting finds the repeats: an RRset
 * may hold many thousands of values. */
static void records_unique(zone_t *zone, size_t from, const yaml_node_t **nodes,
                           records_report_t report, void *arg)
{
    size_t n = ldns_rr_list_rr_count(zone->rrs) - from, kept = 0;
    records_wire_t w = {xcalloc(n + 1, sizeof(*w.data)), xcalloc(n + 1, sizeof(*w.len))};
    ldns_buffer *buf = ldns_buffer_new(512);
    size_t *first;

    if (!buf) {
        alloc_fail("ldns_buffer_new");
    }
    for (size_t i = 0; i < n; i++) {
        records_wire(&w, i, ldns_rr_list_rr(zone->rrs, from + i), buf);
    }
    ldns_buffer_free(buf);
    first = zdup_first(n, records_wire_cmp, &w);
    for (size_t i = 0; i < n; i++) {
        ldns_rr *rr = ldns_rr_list_rr(zone->rrs, from + i);

        free(w.data[i]);
        if (first[i] != i) {
            report(arg, nodes[i]);
            ldns_rr_free(rr);
            continue;
        }
        ldns_rr_list_set_rr(zone->rrs, rr, from + kept);
        nodes[kept++] = nodes[i];
    }
    ldns_rr_list_set_rr_count(zone->rrs, from + kept);
    free(first);
    free(w.data);
    free(w.len);
}

/* What a repeated value is reported with. */
typedef struct {
    records_loader_t *l;
    const char *type;
} records_repeat_t;

static void records_report_value(void *arg, const yaml_node_t *node)
{
    const records_repeat_t *r = arg;

    schema_err(r->l->d, node, r->l->ctx, "'%s': duplicate value '%s'", r->type, ynode_str(node));
}

/* Delegations (NS below the apex) are checked for glue once every name is
 * known; remember the records that made it. */
static void records_note_delegs(records_loader_t *l, const records_value_t *v, size_t from,
                                const yaml_node_t **nodes)
{
    size_t n = ldns_rr_list_rr_count(l->zone->rrs) - from;

    if (v->type->type != LDNS_RR_TYPE_NS || !ldns_dname_compare(v->owner, l->zone->origin)) {
        return;
    }
    l->delegs = xreallocarray(l->delegs, l->n_delegs + n, sizeof(*l->delegs));
    for (size_t i = 0; i < n; i++) {
        l->delegs[l->n_delegs++] = (records_deleg_t){.rr = from + i, .node = nodes[i]};
    }
}

/* The values of one type at one name: a scalar or a non-empty list. Returns
 * how many were written. */
static size_t records_values(records_loader_t *l, records_value_t *v, const yaml_node_t *key,
                             const yaml_node_t *value)
{
    size_t first = ldns_rr_list_rr_count(l->zone->rrs), made = 0;
    size_t n = ynode_is_seq(value) ? ynode_len(value) : 1;
    records_repeat_t repeat = {l, v->type->name};
    const yaml_node_t **nodes;

    if (ynode_is_null(value) || (ynode_is_seq(value) && !n)) {
        schema_err(l->d, ynode_is_null(value) ? key : value, l->ctx, "'%s' must not be empty",
                   v->type->name);
        return 0;
    }
    nodes = xcalloc(n, sizeof(*nodes));
    for (size_t i = 0; i < n; i++) {
        v->node = ynode_is_seq(value) ? ynode_item(l->d, value, i) : value;
        if (records_value(l, v)) {
            nodes[made++] = v->node;
        }
    }
    records_unique(l->zone, first, nodes, records_report_value, &repeat);
    records_note_delegs(l, v, first, nodes);
    free(nodes);
    return n;
}

static const records_type_t *records_type(const char *key)
{
    for (size_t i = 0; i < RECORDS_N_TYPES; i++) {
        if (!strcasecmp(key, records_types[i].name)) {
            return &records_types[i];
        }
    }
    return NULL;
}

/* A key of a name's mapping that is neither ttl nor a supported type. */
static void records_bad_type(records_loader_t *l, const yaml_node_t *key)
{
    const char *text = ynode_str(key);
    const char *cands[RECORDS_N_TYPES + 1] = {"ttl"};

    if (!strcasecmp(text, "SOA")) {
        schema_err(l->d, key, l->ctx, "SOA is not allowed here: use the top-level 'soa' key");
        return;
    }
    if (ldns_get_rr_type_by_name(text) != 0) {
        schema_err(l->d, key, l->ctx,
                   "record type '%s' is not supported (use A, AAAA, CNAME, NS, MX, TXT, SRV, "
                   "CAA or PTR)",
                   text);
        return;
    }
    for (size_t i = 0; i < RECORDS_N_TYPES; i++) {
        cands[i + 1] = records_types[i].name;
    }
    schema_unknown_key(l->d, key, l->ctx, cands, RECORDS_N_TYPES + 1);
}

/* The name's own ttl key, or the zone default. */
static uint32_t records_name_ttl(records_loader_t *l, const yaml_node_t *map)
{
    for (size_t i = 0; i < ynode_len(map); i++) {
        const char *key = ynode_str(ynode_key(l->d, map, i));
        const yaml_node_t *value = ynode_value(l->d, map, i);
        schema_val_t val;

        if (key && !strcmp(key, "ttl") && !ynode_is_null(value) &&
            schema_value(l->d, value, l->ctx, &records_ttl_item, &val)) {
            return (uint32_t)val.num;
        }
    }
    return l->zone->ttl;
}

/* Rules between the types of one name. */
static void records_name_rules(records_loader_t *l, const records_name_t *e, size_t n_cname,
                               const yaml_node_t *ns_key)
{
    bool apex = ldns_dname_compare(e->owner, l->zone->origin) == 0;

    /* RFC 1034 section 3.6.2; at the apex the SOA and NS records are the
     * other data. */
    if (e->cname && (apex || (e->types & ~RECORDS_T_CNAME))) {
        schema_err(l->d, e->cname, l->ctx, "CNAME cannot coexist with other data at the same name");
    } else if (n_cname > 1) {
        schema_err(l->d, e->cname, l->ctx, "only one CNAME is allowed at a name");
    }
    if (ns_key && apex) {
        schema_err(l->d, ns_key, l->ctx, "NS records at the apex come from the top-level 'ns' key");
    }
}

static void records_name(records_loader_t *l, records_name_t *e, const yaml_node_t *map)
{
    records_value_t v = {.owner = e->owner, .ttl = records_name_ttl(l, map)};
    const yaml_node_t *ns_key = NULL;
    size_t n_cname = 0;
    /* Keys compare without case: "A" and "a" are the same type. */
    bool *bad = schema_bad_keys_nocase(l->d, map, l->ctx);

    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(l->d, map, i);
        size_t n;

        if (bad[i] || !strcmp(ynode_str(key), "ttl")) {
            continue;
        }
        v.type = records_type(ynode_str(key));
        if (!v.type) {
            records_bad_type(l, key);
            continue;
        }
        e->types |= v.type->bit;
        size_t before = ldns_rr_list_rr_count(l->zone->rrs);
        n = records_values(l, &v, key, ynode_value(l->d, map, i));
        if (v.type->type == LDNS_RR_TYPE_CNAME) {
            e->cname = key;
            n_cname = n;
            if (n == 1 && ldns_rr_list_rr_count(l->zone->rrs) == before + 1) {
                e->target = ldns_rr_rdf(ldns_rr_list_rr(l->zone->rrs, before), 0);
            }
        } else if (v.type->type == LDNS_RR_TYPE_NS) {
            ns_key = key;
        }
    }
    free(bad);
    records_name_rules(l, e, n_cname, ns_key);
}

ldns_rdf *records_owner(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *key, const char *ctx)
{
    ldns_rdf *owner = zname_owner(ynode_str(key), zone->origin);

    if (!owner) {
        schema_err(d, key, ctx, "bad domain name");
        return NULL;
    }
    /* gslbd does not expand wildcards (RFC 4592): rather than serve "*" as
     * a literal label, say so. */
    if (ldns_dname_is_wildcard(owner)) {
        schema_err(d, key, ctx, "wildcard names are not supported");
    } else if (!zname_in_zone(owner, zone->origin)) {
        char *zone_text = zname_text(zone->origin);

        schema_err(d, key, ctx, "name is outside zone '%s'", zone_text);
        free(zone_text);
    } else {
        return owner;
    }
    ldns_rdf_deep_free(owner);
    return NULL;
}

static void records_entry(records_loader_t *l, const yaml_node_t *key, const yaml_node_t *value)
{
    records_name_t e = {.key = key};

    snprintf(l->ctx, sizeof(l->ctx), "records '%s'", ynode_str(key));
    e.owner = records_owner(l->d, l->zone, key, l->ctx);
    if (!e.owner) {
        return;
    }
    if (!ynode_is_map(value)) {
        schema_err(l->d, ynode_is_null(value) ? key : value, l->ctx,
                   "must be a mapping of record types to values");
        ldns_rdf_deep_free(e.owner);
        return;
    }
    records_name(l, &e, value);
    /* Doubled at each power of two: a zone may name many thousands. */
    if ((l->names->n & (l->names->n - 1)) == 0) {
        size_t cap = l->names->n ? 2 * l->names->n : 1;

        l->names->v = xreallocarray(l->names->v, cap, sizeof(*l->names->v));
    }
    l->names->v[l->names->n++] = e;
}

/* Any total order serves for finding duplicates and looking names up, and
 * owners are lower case already: size, then bytes, is much cheaper than the
 * canonical DNSSEC order of ldns_dname_compare(). */
static int records_owner_cmp(const ldns_rdf *x, const ldns_rdf *y)
{
    size_t a = ldns_rdf_size(x), b = ldns_rdf_size(y);

    if (a != b) {
        return a < b ? -1 : 1;
    }
    return memcmp(ldns_rdf_data(x), ldns_rdf_data(y), a);
}

static int records_name_cmp(const void *a, const void *b)
{
    const records_name_t *x = a, *y = b;
    int c = records_owner_cmp(x->owner, y->owner);

    if (c) {
        return c;
    }
    return x->key->start_mark.index < y->key->start_mark.index ? -1 : 1;
}

/* Sort the names and report two keys that spell the same name ("www" and
 * "WWW", or "www" and "www.gslb.example.com."). */
static void records_sort(records_loader_t *l)
{
    records_names_t *names = l->names;

    if (names->n < 2) {
        return;
    }
    qsort(names->v, names->n, sizeof(*names->v), records_name_cmp);
    for (size_t i = 1; i < names->n; i++) {
        size_t first = i - 1;

        if (records_owner_cmp(names->v[first].owner, names->v[i].owner)) {
            continue;
        }
        while (first > 0 && !records_owner_cmp(names->v[first - 1].owner, names->v[i].owner)) {
            first--;
        }
        ynode_err(l->d, names->v[i].key, "duplicate key '%s' in records (first at line %u)",
                  ynode_str(names->v[i].key), (unsigned)names->v[first].key->start_mark.line + 1);
    }
}

const records_name_t *records_find(const records_names_t *names, const ldns_rdf *owner)
{
    size_t lo = 0, hi = names->n, len = ldns_rdf_size(owner);
    uint8_t wire[LDNS_MAX_DOMAINLEN + 1];

    /* Stored owners are lower case; a name from record data (an NS target)
     * may not be: compare its lower-case copy. */
    if (len > sizeof(wire)) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        wire[i] = (uint8_t)tolower(ldns_rdf_data(owner)[i]);
    }
    ldns_rdf key;
    ldns_rdf_set_size(&key, len);
    ldns_rdf_set_type(&key, LDNS_RDF_TYPE_DNAME);
    ldns_rdf_set_data(&key, wire);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = records_owner_cmp(names->v[mid].owner, &key);

        if (!c) {
            return &names->v[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ---- CNAME loops ---- */

/* Names of a loop shown in full up to this many; a longer one shows its
 * first few and its last. */
#define RECORDS_LOOP_SHOWN 8

/* The name a CNAME leads to, as an index into names, SIZE_MAX when the chain
 * ends there (no CNAME, or a target records: does not name). */
static size_t *records_cname_next(const records_names_t *names)
{
    size_t *next = xcalloc(names->n + 1, sizeof(*next));

    for (size_t i = 0; i < names->n; i++) {
        const records_name_t *t =
            names->v[i].target ? records_find(names, names->v[i].target) : NULL;

        next[i] = t ? (size_t)(t - names->v) : SIZE_MAX;
    }
    return next;
}

/* Append to a message, cutting it short rather than overflowing. */
static void records_loop_add(char *buf, size_t size, size_t *len, const char *text)
{
    int n = snprintf(buf + *len, size - *len, "%s -> ", text);

    *len = n < 0 || (size_t)n >= size - *len ? size - 1 : *len + (size_t)n;
}

/* Report the loop through names->v[k] once, at the CNAME of its name
 * written first, starting the chain there. */
static void records_loop_report(records_loader_t *l, const size_t *next, size_t k)
{
    const records_name_t *v = l->names->v;
    size_t first = k, n = 1, len = 0;
    char chain[1024], ctx[320];

    for (size_t j = next[k]; j != k; j = next[j], n++) {
        if (v[j].key->start_mark.index < v[first].key->start_mark.index) {
            first = j;
        }
    }
    size_t j = first;
    for (size_t shown = 0; shown < n; shown++, j = next[j]) {
        if (n <= RECORDS_LOOP_SHOWN || shown < RECORDS_LOOP_SHOWN - 2 || shown == n - 1) {
            records_loop_add(chain, sizeof(chain), &len, ynode_str(v[j].key));
        } else if (shown == RECORDS_LOOP_SHOWN - 2) {
            records_loop_add(chain, sizeof(chain), &len, "...");
        }
    }
    snprintf(chain + len, sizeof(chain) - len, "%s", ynode_str(v[first].key));
    records_ctx(&v[first], ctx, sizeof(ctx));
    if (n <= RECORDS_LOOP_SHOWN) {
        schema_err(l->d, v[first].cname, ctx, "CNAME loop: %s", chain);
    } else {
        schema_err(l->d, v[first].cname, ctx, "CNAME loop of %zu names: %s", n, chain);
    }
}

/* Every name has at most one CNAME, so the chains form a graph in which each
 * name has at most one successor: walking from each name not seen yet, and
 * stopping at a name seen before, visits every name once. A walk that meets
 * a name of its own has found a loop; one that meets an earlier walk's name
 * has not (that loop, if any, was reported then). */
static void records_check_loops(records_loader_t *l)
{
    size_t n = l->names->n, *next = records_cname_next(l->names);
    size_t *walk = xcalloc(n + 1, sizeof(*walk)); /* 0: not seen, else the walk + 1 */

    for (size_t i = 0; i < n; i++) {
        size_t k = i;

        while (k != SIZE_MAX && walk[k] == 0) {
            walk[k] = i + 1;
            k = next[k];
        }
        if (k != SIZE_MAX && walk[k] == i + 1) {
            records_loop_report(l, next, k);
        }
    }
    free(walk);
    free(next);
}

static bool records_has_address(const records_names_t *names, const ldns_rdf *target)
{
    const records_name_t *e = records_find(names, target);

    return e && (e->types & (RECORDS_T_A | RECORDS_T_AAAA));
}

/* Delegations to in-zone name servers need glue, so the server must have an
 * address under records:. */
static void records_check_delegs(records_loader_t *l)
{
    for (size_t i = 0; i < l->n_delegs; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(l->zone->rrs, l->delegs[i].rr);
        const ldns_rdf *target = ldns_rr_rdf(rr, 0);
        const records_name_t *owner = records_find(l->names, ldns_rr_owner(rr));
        char *text, ctx[320];

        if (!owner || !zname_in_zone(target, l->zone->origin) ||
            records_has_address(l->names, target)) {
            continue;
        }
        text = zname_text(target);
        records_ctx(owner, ctx, sizeof(ctx));
        schema_err(l->d, l->delegs[i].node, ctx,
                   "NS '%s' is inside the zone but has no A or AAAA record", text);
        free(text);
    }
}

void records_load(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map, records_names_t *names)
{
    records_loader_t l = {.d = d, .zone = zone, .names = names};
    bool *bad;

    *names = (records_names_t){0};
    if (!map) {
        return;
    }
    bad = schema_bad_keys(d, map, "records");
    for (size_t i = 0; i < ynode_len(map); i++) {
        if (!bad[i]) {
            records_entry(&l, ynode_key(d, map, i), ynode_value(d, map, i));
        }
    }
    free(bad);
    records_sort(&l);
    records_check_loops(&l);
    records_check_delegs(&l);
    free(l.delegs);
}

static void records_report_ns(void *arg, const yaml_node_t *node)
{
    ynode_err(arg, node, "'ns': '%s' is listed twice", ynode_str(node));
}

void records_load_ns(ynode_doc_t *d, zone_t *zone, const yaml_node_t *list)
{
    size_t first = ldns_rr_list_rr_count(zone->rrs), made = 0;
    const yaml_node_t **nodes;

    if (!ynode_len(list)) {
        ynode_err(d, list, "'ns' must not be empty");
        return;
    }
    nodes = xcalloc(ynode_len(list), sizeof(*nodes));
    for (size_t i = 0; i < ynode_len(list); i++) {
        const yaml_node_t *item = ynode_item(d, list, i);
        const char *text = ynode_str(item);
        ldns_rdf *target = text ? zname_host(text, zone->origin) : NULL;
        ldns_rr *rr;

        if (!text) {
            ynode_err(d, item, "'ns' must be a list of names");
            continue;
        }
        if (!target) {
            ynode_err(d, item, "'ns': bad domain name '%s'", text);
            continue;
        }
        rr = records_new_rr(zone->origin, LDNS_RR_TYPE_NS, zone->ttl);
        ldns_rr_push_rdf(rr, target);
        records_push(zone, rr);
        nodes[made++] = item;
    }
    records_unique(zone, first, nodes, records_report_ns, d);
    free(nodes);
}

void records_check_ns(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *list,
                      const records_names_t *names)
{
    for (size_t i = 0; i < ynode_len(list); i++) {
        const yaml_node_t *item = ynode_item(d, list, i);
        const char *text = ynode_str(item);
        ldns_rdf *target = text ? zname_host(text, zone->origin) : NULL;

        if (target && zname_in_zone(target, zone->origin) && !records_has_address(names, target)) {
            char *name = zname_text(target);

            ynode_err(d, item, "ns '%s' is inside the zone but has no A or AAAA record", name);
            free(name);
        }
        ldns_rdf_deep_free(target);
    }
}

void records_names_free(records_names_t *names)
{
    for (size_t i = 0; i < names->n; i++) {
        ldns_rdf_deep_free(names->v[i].owner);
    }
    free(names->v);
    *names = (records_names_t){0};
}
