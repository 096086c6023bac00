/*
 * services: checks:, regions: and services: of a zone file. See services.h.
 * This file fills zone_check_t, zone_region_t and zone_service_t; it does
 * not probe anything or order regions (healthd and geo/ do).
 */
#include "zones/services.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/ctl.h"
#include "zones/schema.h"
#include "zones/zdup.h"
#include "zones/zload.h"
#include "zones/zgeo.h"
#include "zones/zname.h"

/* ---- checks ---- */

enum {
    CK_TYPE,
    CK_PORT,
    CK_PATH,
    CK_HOST,
    CK_SNI,
    CK_BODY,
    CK_TLS_VERIFY,
    CK_EXPECT,
    CK_INTERVAL,
    CK_TIMEOUT,
    CK_STALE_AFTER,
    CK_RISE,
    CK_FALL,
    CK_QUORUM,
    CK_N
};

static const char *const services_check_types[] = {"http", "https", "tcp", NULL};

static const schema_item_t services_check_items[CK_N] = {
    [CK_TYPE] = {"type", SCHEMA_ENUM, .required = true, .names = services_check_types},
    [CK_PORT] = {"port", SCHEMA_INT, .min = 1, .max = 65535},
    [CK_PATH] = {"path", SCHEMA_STR, .defstr = "/"},
    [CK_HOST] = {"host", SCHEMA_STR},
    [CK_SNI] = {"sni", SCHEMA_STR},
    [CK_BODY] = {"body", SCHEMA_STR},
    [CK_TLS_VERIFY] = {"tls_verify", SCHEMA_BOOL, .def = 1},
    [CK_EXPECT] = {"expect", SCHEMA_ANY},
    [CK_INTERVAL] = {"interval", SCHEMA_MS, .min = 100, .max = 3600000, .def = 2000},
    [CK_TIMEOUT] = {"timeout", SCHEMA_MS, .min = 1, .max = 3600000, .def = 1000},
    /* At least the interval, checked once both are known; the default,
     * three intervals, is set by services_check_stale(). */
    [CK_STALE_AFTER] = {"stale_after", SCHEMA_MS, .min = 100, .max = 86400000},
    [CK_RISE] = {"rise", SCHEMA_INT, .min = 1, .max = 100, .def = 2},
    [CK_FALL] = {"fall", SCHEMA_INT, .min = 1, .max = 100, .def = 2},
    [CK_QUORUM] = {"quorum", SCHEMA_ANY},
};

static const schema_item_t services_expect_item = {"expect", SCHEMA_INT, .min = 100, .max = 599};

/* expect: one status code or a non-empty list of them; default 200. */
static void services_expect(ynode_doc_t *d, zone_check_t *c, const schema_val_t *v, const char *ctx)
{
    const yaml_node_t *node = v->node;
    size_t n = node != NULL && ynode_is_seq(node) ? ynode_len(node) : 1;
    schema_val_t code;

    c->expect = xcalloc(n, sizeof(*c->expect));
    if (!node) {
        c->expect[c->n_expect++] = 200;
        return;
    }
    if (ynode_is_seq(node) && !n) {
        schema_err(d, node, ctx, "'expect' must not be empty");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = ynode_is_seq(node) ? ynode_item(d, node, i) : node;

        if (schema_value(d, item, ctx, &services_expect_item, &code)) {
            c->expect[c->n_expect++] = (uint16_t)code.num;
        }
    }
}

/* Keys that only some check types use are errors elsewhere: a "path" on a
 * tcp check is a mistake, not something to ignore. */
static void services_check_rules(ynode_doc_t *d, const zone_check_t *c, const schema_val_t *v,
                                 const yaml_node_t *where, const char *ctx)
{
    static const int http_only[] = {CK_PATH, CK_HOST, CK_BODY, CK_EXPECT};
    static const int https_only[] = {CK_SNI, CK_TLS_VERIFY};

    for (size_t i = 0; c->type == CHECK_TCP && i < 4; i++) {
        if (v[http_only[i]].key) {
            schema_err(d, v[http_only[i]].key, ctx, "'%s' is only for http and https checks",
                       services_check_items[http_only[i]].key);
        }
    }
    for (size_t i = 0; c->type != CHECK_HTTPS && i < 2; i++) {
        if (v[https_only[i]].key) {
            schema_err(d, v[https_only[i]].key, ctx, "'%s' is only for https checks",
                       services_check_items[https_only[i]].key);
        }
    }
    if (c->type == CHECK_TCP && v[CK_TYPE].ok && !v[CK_PORT].key) {
        schema_err(d, where, ctx, "'port' is required for tcp checks");
    }
    if (v[CK_PATH].ok && v[CK_PATH].str[0] != '/') {
        schema_err(d, v[CK_PATH].node, ctx, "'path' must start with '/', got '%s'", v[CK_PATH].str);
    }
}

static void services_check_times(ynode_doc_t *d, const zone_check_t *c, const schema_val_t *v,
                                 const char *ctx)
{
    char timeout[32], interval[32];

    if (!v[CK_TIMEOUT].ok && v[CK_TIMEOUT].node) {
        return;
    }
    if (c->timeout_ms < c->interval_ms || (!v[CK_INTERVAL].ok && v[CK_INTERVAL].node)) {
        return;
    }
    schema_fmt_ms(c->timeout_ms, timeout, sizeof(timeout));
    schema_fmt_ms(c->interval_ms, interval, sizeof(interval));
    schema_err(d, v[CK_TIMEOUT].node ? v[CK_TIMEOUT].node : v[CK_INTERVAL].node, ctx,
               "timeout %s must be less than interval %s", timeout, interval);
}

/* quorum: "majority" (the default, 0) or how many vantages must agree for a
 * member to change state, 1..ZONE_QUORUM_MAX. */
static void services_check_quorum(ynode_doc_t *d, zone_check_t *c, const schema_val_t *v,
                                  const char *ctx)
{
    static const schema_item_t count = {"quorum", SCHEMA_INT, .min = 1, .max = ZONE_QUORUM_MAX};
    const char *text = v->node ? ynode_str(v->node) : NULL;
    schema_val_t n;

    c->quorum = 0;
    if (v->node == NULL || (text != NULL && strcmp(text, "majority") == 0)) {
        return;
    }
    if (text == NULL || strspn(text, "0123456789") != strlen(text) || text[0] == '\0') {
        schema_err(d, v->node, ctx,
                   "'quorum' must be 'majority' or a number of vantages (1 to %d), got '%s'",
                   ZONE_QUORUM_MAX, text ? text : "a list or map");
        return;
    }
    if (schema_value(d, v->node, ctx, &count, &n)) {
        c->quorum = (unsigned)n.num;
    }
}

/* A report older than stale_after counts as unknown, so stale_after must
 * cover at least one interval: a shorter one would make every report stale
 * before the next probe could replace it. */
static void services_check_stale(ynode_doc_t *d, zone_check_t *c, const schema_val_t *v,
                                 const char *ctx)
{
    char stale[32], interval[32];

    if (!v[CK_STALE_AFTER].ok) {
        c->stale_after_ms = 3 * c->interval_ms;
        return;
    }
    c->stale_after_ms = (unsigned)v[CK_STALE_AFTER].num;
    if (c->stale_after_ms >= c->interval_ms || (!v[CK_INTERVAL].ok && v[CK_INTERVAL].node)) {
        return;
    }
    schema_fmt_ms(c->stale_after_ms, stale, sizeof(stale));
    schema_fmt_ms(c->interval_ms, interval, sizeof(interval));
    schema_err(d, v[CK_STALE_AFTER].node, ctx, "stale_after %s must be at least the interval %s",
               stale, interval);
}

static void services_check(ynode_doc_t *d, zone_check_t *c, const yaml_node_t *key,
                           const yaml_node_t *map, const char *ctx)
{
    schema_val_t v[CK_N];

    schema_map(d, map, key, ctx, services_check_items, CK_N, v);
    c->type = (check_type_t)v[CK_TYPE].num;
    c->port = (uint16_t)v[CK_PORT].num;
    if (!v[CK_PORT].key) {
        c->port = c->type == CHECK_HTTP ? 80 : c->type == CHECK_HTTPS ? 443 : 0;
    }
    c->path = xstrdup_opt(v[CK_PATH].str);
    c->host = xstrdup_opt(v[CK_HOST].str);
    c->sni = xstrdup_opt(v[CK_SNI].str);
    c->body = xstrdup_opt(v[CK_BODY].str);
    c->tls_verify = v[CK_TLS_VERIFY].num != 0;
    c->interval_ms = (unsigned)v[CK_INTERVAL].num;
    c->timeout_ms = (unsigned)v[CK_TIMEOUT].num;
    c->rise = (unsigned)v[CK_RISE].num;
    c->fall = (unsigned)v[CK_FALL].num;
    services_expect(d, c, &v[CK_EXPECT], ctx);
    services_check_rules(d, c, v, key, ctx);
    services_check_times(d, c, v, ctx);
    services_check_stale(d, c, v, ctx);
    services_check_quorum(d, c, &v[CK_QUORUM], ctx);
}

void services_load_checks(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map)
{
    bool *bad;

    if (!map) {
        return;
    }
    bad = schema_bad_keys(d, map, "checks");
    zone->checks = xcalloc(ynode_len(map), sizeof(*zone->checks));
    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(d, map, i), *value = ynode_value(d, map, i);
        zone_check_t *c = &zone->checks[zone->n_checks];
        char ctx[320];

        if (bad[i]) {
            continue;
        }
        snprintf(ctx, sizeof(ctx), "check '%s'", ynode_str(key));
        c->name = xstrdup_opt(ynode_str(key));
        c->mark = ynode_mark(d, key);
        zone->n_checks++;
        if (!ynode_is_map(value)) {
            schema_err(d, ynode_is_null(value) ? key : value, ctx, "must be a mapping");
            continue;
        }
        services_check(d, c, key, value, ctx);
    }
    free(bad);
    zone_index_checks(zone);
}

/* ---- regions ---- */

enum { RG_LOCATION, RG_WEIGHT, RG_BIAS, RG_POOL, RG_CHECK, RG_MIN_UP, RG_MAX_ADDRS, RG_LOAD, RG_N };

static const schema_item_t services_region_items[RG_N] = {
    [RG_LOCATION] = {"location", SCHEMA_LIST, .required = true},
    [RG_WEIGHT] = {"weight", SCHEMA_INT, .min = 0, .max = 1000000, .def = 100},
    [RG_BIAS] = {"bias", SCHEMA_INT, .min = ZONE_BIAS_MIN, .max = ZONE_BIAS_MAX, .def = 0},
    [RG_POOL] = {"pool", SCHEMA_LIST, .required = true},
    [RG_CHECK] = {"check", SCHEMA_STR},
    [RG_MIN_UP] = {"min_up", SCHEMA_INT, .min = 1, .max = 1000000, .def = 1},
    /* The default 0 (every address) is not a value one may write. */
    [RG_MAX_ADDRS] = {"max_addrs", SCHEMA_INT, .min = 1, .max = 65535, .def = 0},
    [RG_LOAD] = {"load", SCHEMA_ANY}, /* zload.c */
};

enum { PM_ADDRESS, PM_PROBE, PM_N };

static const schema_item_t services_member_items[PM_N] = {
    [PM_ADDRESS] = {"address", SCHEMA_STR, .required = true},
    [PM_PROBE] = {"probe", SCHEMA_STR},
};

static bool services_coord(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                           const char *what, double limit, double *out)
{
    const char *s = ynode_str(node);
    char *end;
    double v;

    if (!s) {
        schema_err(d, node, ctx, "%s must be a number", what);
        return false;
    }
    v = strtod(s, &end);
    if (!*s || *end || end == s || !isfinite(v)) {
        schema_err(d, node, ctx, "%s '%s' is not a number", what, s);
        return false;
    }
    if (v < -limit || v > limit) {
        schema_err(d, node, ctx, "%s %s out of range %g..%g", what, s, -limit, limit);
        return false;
    }
    *out = v;
    return true;
}

static void services_location(ynode_doc_t *d, zone_region_t *r, const yaml_node_t *list,
                              const char *ctx)
{
    if (ynode_len(list) != 2) {
        schema_err(d, list, ctx, "'location' must be [latitude, longitude]");
        return;
    }
    services_coord(d, ynode_item(d, list, 0), ctx, "latitude", 90, &r->lat);
    services_coord(d, ynode_item(d, list, 1), ctx, "longitude", 180, &r->lon);
}

/* An IPv4 or IPv6 address in text form. Returns the family or 0. */
static int services_addr(const char *text, uint8_t addr[16])
{
    if (inet_pton(AF_INET, text, addr) == 1) {
        return AF_INET;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        return AF_INET6;
    }
    return 0;
}

bool services_probe_parse(const char *text, int *family, uint8_t addr[16], uint16_t *port)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *p = NULL, *colon = strrchr(text, ':');
    size_t len = strlen(text);
    unsigned long n = 0;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (!close || (close[1] && close[1] != ':')) {
            return false;
        }
        len = (size_t)(close - text - 1);
        text++;
        p = close[1] ? close + 2 : NULL;
    } else if (colon && strchr(text, ':') == colon) {
        len = (size_t)(colon - text);
        p = colon + 1;
    }
    if (len >= sizeof(host)) {
        return false;
    }
    memcpy(host, text, len);
    host[len] = '\0';
    if (p) {
        char *end;

        n = strtoul(p, &end, 10);
        if (!*p || *end || *p == '-' || *p == '+' || n < 1 || n > 65535) {
            return false;
        }
    }
    if (!(*family = services_addr(host, addr))) {
        return false;
    }
    *port = (uint16_t)n;
    return true;
}

static bool services_member_map(ynode_doc_t *d, zone_member_t *m, const yaml_node_t *node,
                                const char *pctx, const char **addr)
{
    schema_val_t v[PM_N];

    if (schema_map(d, node, NULL, pctx, services_member_items, PM_N, v) || !v[PM_ADDRESS].ok) {
        return false;
    }
    *addr = v[PM_ADDRESS].str;
    if (v[PM_PROBE].ok &&
        !services_probe_parse(v[PM_PROBE].str, &m->probe_family, m->probe_addr, &m->probe_port)) {
        schema_err(d, v[PM_PROBE].node, pctx,
                   "'probe' must be ADDRESS, IPv4:PORT or [IPv6]:PORT, got '%s'", v[PM_PROBE].str);
        return false;
    }
    return true;
}

/* One pool member: an address, or {address, probe}. Returns false after
 * reporting what is wrong. */
static bool services_member(ynode_doc_t *d, zone_member_t *m, const yaml_node_t *node,
                            const char *pctx)
{
    const char *addr = ynode_str(node);

    m->mark = ynode_mark(d, node);
    if (ynode_is_map(node)) {
        if (!services_member_map(d, m, node, pctx, &addr)) {
            return false;
        }
    } else if (!addr) {
        schema_err(d, node, pctx, "members must be addresses or mappings with 'address'");
        return false;
    }
    m->family = services_addr(addr, m->addr);
    if (!m->family) {
        schema_err(d, node, pctx, "bad IP address '%s'", addr);
        return false;
    }
    if (!m->probe_family) {
        m->probe_family = m->family;
        memcpy(m->probe_addr, m->addr, sizeof(m->addr));
    }
    m->text = xstrdup_opt(addr);
    return true;
}

static int services_member_cmp(const void *ctx, size_t a, size_t b)
{
    const zone_member_t *x = (const zone_member_t *)ctx + a, *y = (const zone_member_t *)ctx + b;

    if (x->family != y->family) {
        return x->family < y->family ? -1 : 1;
    }
    return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Every member that parses, then the repeats dropped (each reported at its
 * item): sorting finds them, since a pool may be long. */
static void services_pool(ynode_doc_t *d, zone_region_t *r, const yaml_node_t *list,
                          const char *ctx)
{
    const yaml_node_t **items;
    size_t *first;
    char pctx[352];

    snprintf(pctx, sizeof(pctx), "%s pool", ctx);
    if (!ynode_len(list)) {
        schema_err(d, list, ctx, "'pool' must not be empty");
        return;
    }
    r->pool = xcalloc(ynode_len(list), sizeof(*r->pool));
    items = xcalloc(ynode_len(list), sizeof(*items));
    for (size_t i = 0; i < ynode_len(list); i++) {
        const yaml_node_t *item = ynode_item(d, list, i);
        zone_member_t *m = &r->pool[r->n_pool];

        memset(m, 0, sizeof(*m));
        if (services_member(d, m, item, pctx)) {
            items[r->n_pool++] = item;
        }
    }
    first = zdup_first(r->n_pool, services_member_cmp, r->pool);
    for (size_t i = 0; i < r->n_pool; i++) {
        if (first[i] != i) {
            schema_err(d, items[i], pctx, "address %s is listed twice", r->pool[i].text);
            free(r->pool[i].text);
        }
    }
    r->n_pool = r->n_pool ? zdup_compact(r->pool, r->n_pool, sizeof(*r->pool), first) : 0;
    free(first);
    free(items);
}

/* max_addrs caps the addresses of each family apart, from 1 up to the
 * larger family's count (which caps nothing, but writes down the intent).
 * More than that could never cap anything and is almost surely a mistake (a
 * pool that shrank, a typo), so it is an error rather than a silent no-op. */
static void services_max_addrs(ynode_doc_t *d, const zone_region_t *r, const yaml_node_t *node,
                               const char *ctx)
{
    size_t n4 = 0, n6 = 0;

    for (size_t i = 0; i < r->n_pool; i++) {
        *(r->pool[i].family == AF_INET ? &n4 : &n6) += 1;
    }
    size_t most = n4 > n6 ? n4 : n6;
    if (r->max_addrs > most) {
        schema_err(d, node, ctx,
                   "max_addrs %u is more than the %zu addresses of the pool's larger family "
                   "(%zu IPv4, %zu IPv6)",
                   r->max_addrs, most, n4, n6);
    }
}

static void services_region(ynode_doc_t *d, const zone_t *zone, zone_region_t *r,
                            const yaml_node_t *key, const yaml_node_t *map, const char *ctx)
{
    schema_val_t v[RG_N];

    schema_map(d, map, key, ctx, services_region_items, RG_N, v);
    if (v[RG_LOCATION].ok) {
        services_location(d, r, v[RG_LOCATION].node, ctx);
    }
    r->weight = (unsigned)v[RG_WEIGHT].num;
    r->bias = (int)v[RG_BIAS].num;
    if (v[RG_POOL].ok) {
        services_pool(d, r, v[RG_POOL].node, ctx);
    }
    r->min_up = (unsigned)v[RG_MIN_UP].num;
    if (v[RG_MIN_UP].ok && r->n_pool && r->min_up > ynode_len(v[RG_POOL].node)) {
        schema_err(d, v[RG_MIN_UP].node, ctx,
                   "min_up %u is more than the %zu addresses of the pool", r->min_up,
                   ynode_len(v[RG_POOL].node));
    }
    r->max_addrs = (unsigned)v[RG_MAX_ADDRS].num;
    if (v[RG_MAX_ADDRS].ok && r->n_pool) {
        services_max_addrs(d, r, v[RG_MAX_ADDRS].node, ctx);
    }
    if (v[RG_CHECK].ok) {
        r->check = zone_find_check(zone, v[RG_CHECK].str);
        if (r->check < 0) {
            schema_err(d, v[RG_CHECK].node, ctx, "check '%s' is not defined", v[RG_CHECK].str);
        }
    }
    zload_region(d, r, &v[RG_LOAD], ctx);
}

void services_load_regions(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map)
{
    bool *bad;

    if (!map) {
        return;
    }
    bad = schema_bad_keys(d, map, "regions");
    zone->regions = xcalloc(ynode_len(map), sizeof(*zone->regions));
    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(d, map, i), *value = ynode_value(d, map, i);
        zone_region_t *r = &zone->regions[zone->n_regions];
        char ctx[320];

        if (bad[i]) {
            continue;
        }
        snprintf(ctx, sizeof(ctx), "region '%s'", ynode_str(key));
        r->name = xstrdup_opt(ynode_str(key));
        r->mark = ynode_mark(d, key);
        r->check = -1;
        zone->n_regions++;
        /* It travels in health reports, gslbctl commands and the overrides
         * file: one token of the control protocol. */
        if (!ctl_name_ok(r->name)) {
            schema_err(d, key, ctx,
                       "a region name is letters, digits, '-', '_' and '.' (it travels in "
                       "health reports and gslbctl commands)");
        }
        if (!ynode_is_map(value)) {
            schema_err(d, ynode_is_null(value) ? key : value, ctx, "must be a mapping");
            continue;
        }
        services_region(d, zone, r, key, value, ctx);
    }
    free(bad);
    zone_index_regions(zone);
}

/* ---- services ---- */

enum {
    SV_REGIONS,
    SV_POLICY,
    SV_TTL,
    SV_MIN_TTL,
    SV_SPREAD_KM,
    SV_ANSWERS,
    SV_ECS,
    SV_GEO,
    SV_ON_ALL_DOWN,
    SV_FALLBACK,
    SV_N
};

static const char *const services_policies[] = {"nearest", "weighted", "failover", NULL};

/* In zone_all_down_t order, like the policies above in zone_policy_t order,
 * so that the schema's index is the value. */
static const char *const services_on_all_down[] = {"open", "fallback", "nodata", "servfail", NULL};

static const schema_item_t services_service_items[SV_N] = {
    [SV_REGIONS] = {"regions", SCHEMA_LIST, .required = true},
    [SV_POLICY] = {"policy", SCHEMA_ENUM, .names = services_policies},
    [SV_TTL] = {"ttl", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 30},
    /* No more than ttl, checked by services_min_ttl(), which also lowers
     * the default to a ttl below it. */
    [SV_MIN_TTL] = {"min_ttl", SCHEMA_TTL, .max = SCHEMA_TTL_MAX, .def = 5},
    /* Half the Earth's circumference: no two places are farther apart. */
    [SV_SPREAD_KM] = {"spread_km", SCHEMA_REAL, .min = 0, .max = 20038},
    [SV_ANSWERS] = {"answers", SCHEMA_INT, .min = 1, .max = 16, .def = 1},
    [SV_ECS] = {"ecs", SCHEMA_BOOL},
    [SV_GEO] = {"geo", SCHEMA_MAP},
    [SV_ON_ALL_DOWN] = {"on_all_down", SCHEMA_ENUM, .names = services_on_all_down},
    [SV_FALLBACK] = {"fallback", SCHEMA_STR},
};

static void services_regions(ynode_doc_t *d, const zone_t *zone, zone_service_t *s,
                             const yaml_node_t *list, const char *ctx)
{
    if (!ynode_len(list)) {
        schema_err(d, list, ctx, "'regions' must not be empty");
        return;
    }
    if (ynode_len(list) > ZONE_SERVICE_REGIONS_MAX) {
        schema_err(d, list, ctx, "'regions' lists %zu regions, at most %d are allowed",
                   ynode_len(list), ZONE_SERVICE_REGIONS_MAX);
        return;
    }
    const yaml_node_t **items = xcalloc(ynode_len(list), sizeof(*items));
    s->regions = xcalloc(ynode_len(list), sizeof(*s->regions));
    for (size_t i = 0; i < ynode_len(list); i++) {
        const yaml_node_t *item = ynode_item(d, list, i);
        const char *name = ynode_str(item);
        size_t r = name ? zone_find_region(zone, name) : SIZE_MAX;

        if (!name) {
            schema_err(d, item, ctx, "'regions' must be a list of region names");
            continue;
        }
        if (r == SIZE_MAX) {
            schema_err(d, item, ctx, "region '%s' is not defined", name);
            continue;
        }
        items[s->n_regions] = item;
        s->regions[s->n_regions++] = r;
    }
    zgeo_unique_regions(d, zone, ctx, s->regions, &s->n_regions, items);
    free(items);
}

/* on_all_down and fallback. Writing a fallback region implies on_all_down
 * fallback; naming the mode without a region, or a region with another mode,
 * is a contradiction the author has to resolve. The region may be one the
 * service does not list: a standby pool that only answers when all are down. */
static void services_all_down(ynode_doc_t *d, const zone_t *zone, zone_service_t *s,
                              const schema_val_t *v, const char *ctx)
{
    const schema_val_t *mode = &v[SV_ON_ALL_DOWN], *fb = &v[SV_FALLBACK];

    s->on_all_down = (zone_all_down_t)mode->num;
    if (fb->node && !mode->node) {
        s->on_all_down = ALL_DOWN_FALLBACK;
    }
    if (mode->ok && s->on_all_down == ALL_DOWN_FALLBACK && !fb->node) {
        schema_err(d, mode->node, ctx, "on_all_down fallback needs a 'fallback' region");
    }
    if (mode->ok && s->on_all_down != ALL_DOWN_FALLBACK && fb->node) {
        schema_err(d, fb->key, ctx, "'fallback' is only for on_all_down fallback, not %s",
                   services_on_all_down[s->on_all_down]);
    }
    if (fb->ok) {
        s->fallback = zone_find_region(zone, fb->str);
        if (s->fallback == SIZE_MAX) {
            schema_err(d, fb->node, ctx, "region '%s' is not defined", fb->str);
        }
    }
}

/* min_ttl is the TTL of answers given while regions are down, kept short so
 * that resolvers ask again soon after a recovery; above the ttl it would keep
 * those answers longer than healthy ones. */
static void services_min_ttl(ynode_doc_t *d, zone_service_t *s, const schema_val_t *v,
                             const char *ctx)
{
    bool ttl_bad = v[SV_TTL].node && !v[SV_TTL].ok;

    if (!v[SV_MIN_TTL].ok) {
        s->min_ttl = (uint32_t)services_service_items[SV_MIN_TTL].def;
        s->min_ttl = s->ttl < s->min_ttl ? s->ttl : s->min_ttl;
        return;
    }
    s->min_ttl = (uint32_t)v[SV_MIN_TTL].num;
    if (s->min_ttl > s->ttl && !ttl_bad) {
        schema_err(d, v[SV_MIN_TTL].node, ctx, "min_ttl %u is more than the ttl %u",
                   (unsigned)s->min_ttl, (unsigned)s->ttl);
    }
}

/* A service answers A and AAAA itself: static addresses at its name would
 * contradict it, and a CNAME there cannot coexist with anything. */
static void services_vs_records(ynode_doc_t *d, const zone_t *zone, const zone_service_t *s,
                                const yaml_node_t *key, const records_names_t *names,
                                const char *ctx)
{
    const records_name_t *e = records_find(names, s->owner);
    unsigned addr;

    if (!e) {
        return;
    }
    addr = e->types & (RECORDS_T_A | RECORDS_T_AAAA);
    if (addr) {
        schema_err(d, key, ctx, "name also has %s records under records (line %u)",
                   addr == RECORDS_T_A      ? "A"
                   : addr == RECORDS_T_AAAA ? "AAAA"
                                            : "A and AAAA",
                   (unsigned)e->key->start_mark.line + 1);
    }
    /* records.c already reported a CNAME beside other records or at the
     * apex; a CNAME alone clashes with the service. */
    if (e->cname && !(e->types & ~RECORDS_T_CNAME) && ldns_dname_compare(s->owner, zone->origin)) {
        char rctx[320];
        records_ctx(e, rctx, sizeof(rctx));
        schema_err(d, e->cname, rctx,
                   "CNAME cannot coexist with other data at the same name (service '%s' at "
                   "line %u)",
                   s->name, s->mark.line);
    }
}

/* Below a zone cut the parent is not authoritative (RFC 1034 section 4.2.1),
 * so a service there would never be answered. */
static void services_vs_delegations(ynode_doc_t *d, const zone_t *zone, const zone_service_t *s,
                                    const yaml_node_t *key, const records_names_t *names,
                                    const char *ctx)
{
    ldns_rdf *name = ldns_rdf_clone(s->owner);

    while (ldns_dname_is_subdomain(name, zone->origin)) {
        const records_name_t *e = records_find(names, name);
        ldns_rdf *parent;

        if (e && (e->types & RECORDS_T_NS)) {
            char *cut = zname_text(name);

            schema_err(d, key, ctx, "name is in the delegated zone '%s' (NS at line %u)", cut,
                       (unsigned)e->key->start_mark.line + 1);
            free(cut);
            break;
        }
        parent = ldns_dname_left_chop(name);
        ldns_rdf_deep_free(name);
        name = parent;
    }
    ldns_rdf_deep_free(name);
}

/* Owners compare by size, then bytes: they are lower case, and any total
 * order finds repeats. A service without a valid owner sorts first. */
static int services_owner_cmp(const void *ctx, size_t a, size_t b)
{
    const ldns_rdf *x = ((const zone_service_t *)ctx)[a].owner;
    const ldns_rdf *y = ((const zone_service_t *)ctx)[b].owner;
    size_t xs = x ? ldns_rdf_size(x) : 0, ys = y ? ldns_rdf_size(y) : 0;

    if (xs != ys) {
        return xs < ys ? -1 : 1;
    }
    return xs ? memcmp(ldns_rdf_data(x), ldns_rdf_data(y), xs) : 0;
}

/* Two keys that spell one name ("www" and "WWW"); repeats of the same text
 * were reported by schema_bad_keys() already. keys[i] is service i's key. */
static void services_same_owner(ynode_doc_t *d, const zone_t *zone, const yaml_node_t **keys)
{
    size_t *first = zdup_first(zone->n_services, services_owner_cmp, zone->services);

    for (size_t i = 0; i < zone->n_services; i++) {
        if (first[i] != i && zone->services[i].owner) {
            ynode_err(d, keys[i], "duplicate key '%s' in services (first at line %u)",
                      zone->services[i].name, zone->services[first[i]].mark.line);
        }
    }
    free(first);
}

static void services_service(ynode_doc_t *d, zone_t *zone, zone_service_t *s,
                             const yaml_node_t *key, const yaml_node_t *map,
                             const records_names_t *names)
{
    schema_val_t v[SV_N];
    char ctx[320];

    snprintf(ctx, sizeof(ctx), "service '%s'", s->name);
    s->owner = records_owner(d, zone, key, ctx);
    if (s->owner) {
        services_vs_records(d, zone, s, key, names, ctx);
        services_vs_delegations(d, zone, s, key, names, ctx);
    }
    s->answers = 1;
    s->ecs = zone->ecs;
    s->fallback = SIZE_MAX;
    if (!ynode_is_map(map)) {
        schema_err(d, ynode_is_null(map) ? key : map, ctx, "must be a mapping");
        return;
    }
    schema_map(d, map, key, ctx, services_service_items, SV_N, v);
    s->policy = (zone_policy_t)v[SV_POLICY].num;
    s->ttl = (uint32_t)v[SV_TTL].num;
    s->spread_km = v[SV_SPREAD_KM].real;
    s->answers = (unsigned)v[SV_ANSWERS].num;
    s->ecs = v[SV_ECS].ok ? v[SV_ECS].num != 0 : zone->ecs;
    services_min_ttl(d, s, v, ctx);
    services_all_down(d, zone, s, v, ctx);
    if (v[SV_REGIONS].ok) {
        services_regions(d, zone, s, v[SV_REGIONS].node, ctx);
    }
    if (v[SV_ANSWERS].ok && s->n_regions && s->answers > ynode_len(v[SV_REGIONS].node)) {
        schema_err(d, v[SV_ANSWERS].node, ctx,
                   "answers %u is more than the %zu regions of the service", s->answers,
                   ynode_len(v[SV_REGIONS].node));
    }
    zgeo_load(d, zone, &v[SV_GEO], ctx, &s->geo);
}

void services_load(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map,
                   const records_names_t *names)
{
    const yaml_node_t **keys;
    bool *bad;

    if (!map) {
        return;
    }
    bad = schema_bad_keys(d, map, "services");
    zone->services = xcalloc(ynode_len(map), sizeof(*zone->services));
    keys = xcalloc(ynode_len(map) + 1, sizeof(*keys));
    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(d, map, i);
        zone_service_t *s = &zone->services[zone->n_services];

        if (bad[i]) {
            continue;
        }
        s->name = xstrdup_opt(ynode_str(key));
        s->mark = ynode_mark(d, key);
        keys[zone->n_services++] = key;
        services_service(d, zone, s, key, ynode_value(d, map, i), names);
    }
    services_same_owner(d, zone, keys);
    free(keys);
    free(bad);
}
