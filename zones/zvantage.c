/*
 * zvantage: `vantages:`; see zvantage.h. Every vantage whose name is valid
 * is kept even when its body has errors, as regions and checks are, and
 * every canary that parses is kept, so each mistake is said once.
 */
#include "zones/zvantage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/ctl.h"
#include "zones/schema.h"
#include "zones/services.h"

enum { VT_CANARY, VT_CHECK, VT_N };

static const schema_item_t zvantage_items[VT_N] = {
    [VT_CANARY] = {"canary", SCHEMA_LIST, .required = true},
    [VT_CHECK] = {"check", SCHEMA_STR},
};

/* The same address and port written twice in one list probes one thing
 * twice and counts it twice in the verdict: a mistake, not a weight. */
static bool zvantage_repeat(ynode_doc_t *d, const zone_vantage_t *v, const zone_canary_t *c,
                            const yaml_node_t *item, const char *ctx)
{
    for (size_t i = 0; i < v->n_canary; i++) {
        const zone_canary_t *o = &v->canary[i];

        if (o->family == c->family && o->port == c->port &&
            memcmp(o->addr, c->addr, sizeof(o->addr)) == 0) {
            schema_err(d, item, ctx, "canary '%s' is listed twice (first at line %u)", c->text,
                       o->mark.line);
            return true;
        }
    }
    return false;
}

/* One canary: a probe address, with a port unless a check gives one. */
static void zvantage_canary(ynode_doc_t *d, zone_vantage_t *v, const yaml_node_t *item,
                            bool need_port, const char *ctx)
{
    const char *text = ynode_str(item);
    zone_canary_t c = {0};

    if (!text) {
        schema_err(d, item, ctx, "'canary' must be a list of addresses");
        return;
    }
    if (!services_probe_parse(text, &c.family, c.addr, &c.port)) {
        schema_err(d, item, ctx, "canary must be ADDRESS, IPv4:PORT or [IPv6]:PORT, got '%s'",
                   text);
        return;
    }
    if (need_port && c.port == 0) {
        schema_err(d, item, ctx,
                   "canary '%s' needs a port: without a 'check' a canary is a TCP connect "
                   "(write ADDRESS:PORT, or name a check)",
                   text);
        return;
    }
    c.text = (char *)text;
    c.mark = ynode_mark(d, item);
    if (zvantage_repeat(d, v, &c, item, ctx)) {
        return;
    }
    c.text = xstrdup(text);
    v->canary[v->n_canary++] = c;
}

static void zvantage_canaries(ynode_doc_t *d, zone_vantage_t *v, const yaml_node_t *list,
                              bool need_port, const char *ctx)
{
    size_t n = ynode_len(list);

    if (n == 0) {
        schema_err(d, list, ctx, "'canary' must not be empty");
        return;
    }
    if (n > ZONE_CANARY_MAX) {
        schema_err(d, list, ctx, "'canary' lists %zu addresses, at most %d are allowed", n,
                   ZONE_CANARY_MAX);
        return;
    }
    v->canary = xcalloc(n, sizeof(*v->canary));
    for (size_t i = 0; i < n; i++) {
        zvantage_canary(d, v, ynode_item(d, list, i), need_port, ctx);
    }
}

static void zvantage_one(ynode_doc_t *d, const zone_t *zone, zone_vantage_t *v,
                         const yaml_node_t *key, const yaml_node_t *map, const char *ctx)
{
    schema_val_t val[VT_N];

    schema_map(d, map, key, ctx, zvantage_items, VT_N, val);
    if (val[VT_CHECK].ok) {
        v->check = zone_find_check(zone, val[VT_CHECK].str);
        if (v->check < 0) {
            schema_err(d, val[VT_CHECK].node, ctx, "check '%s' is not defined", val[VT_CHECK].str);
        }
    }
    /* A check that is written but wrong is reported already: its port
     * rule would only add noise. */
    bool need_port =
        val[VT_CHECK].node == NULL || (v->check >= 0 && zone->checks[v->check].port == 0);
    if (val[VT_CANARY].ok) {
        zvantage_canaries(d, v, val[VT_CANARY].node, need_port, ctx);
    }
}

void zvantage_load(ynode_doc_t *d, zone_t *zone, const yaml_node_t *map)
{
    bool *bad;

    if (!map) {
        return;
    }
    bad = schema_bad_keys(d, map, "vantages");
    zone->vantages = xcalloc(ynode_len(map) + 1, sizeof(*zone->vantages));
    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(d, map, i), *value = ynode_value(d, map, i);
        zone_vantage_t *v = &zone->vantages[zone->n_vantages];
        char ctx[320];

        if (bad[i]) {
            continue;
        }
        snprintf(ctx, sizeof(ctx), "vantage '%s'", ynode_str(key));
        v->name = xstrdup_opt(ynode_str(key));
        v->mark = ynode_mark(d, key);
        v->check = -1;
        zone->n_vantages++;
        /* healthd's --vantage, the key file's names and gslbd's status
         * carry it as one token of the control protocol. */
        if (!ctl_name_ok(v->name)) {
            schema_err(d, key, ctx,
                       "a vantage name is 1 to %d letters, digits, '-', '_' and '.' (it is "
                       "healthd's --vantage and travels in health reports)",
                       CTL_NAME_MAX);
        }
        if (!ynode_is_map(value)) {
            schema_err(d, ynode_is_null(value) ? key : value, ctx,
                       "must be a mapping: {canary: [ADDRESS:PORT, ...], check: NAME}");
            continue;
        }
        zvantage_one(d, zone, v, key, value, ctx);
    }
    free(bad);
}
