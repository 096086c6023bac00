/*
 * zgeo: the geo: overrides of a zone file. See zgeo.h. This file parses map
 * keys and networks and resolves region names; it keeps no pointer into the
 * YAML document and does no lookups.
 */
#include "zones/zgeo.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "zones/zdup.h"

/* Room for message contexts: "service 'NAME': geo" (the service context is
 * at most 320 bytes), then " map" and the like, then " 'KEY'". Longer names
 * and keys are cut short in messages. */
#define ZGEO_CTX      400
#define ZGEO_CTX_PART (ZGEO_CTX + 16)
#define ZGEO_CTX_KEY  (ZGEO_CTX_PART + 80)

/* MaxMind's continent codes, which every GeoIP2-layout database uses. */
static const char zgeo_continents[] = "AF AN AS EU NA OC SA";

/* The ISO 3166-1 alpha-2 codes assigned today (those of tzdata's
 * iso3166.tab), written as the second letters that go with each first letter
 * A..Z. X holds XK, the user-assigned code that MaxMind and DB-IP give
 * Kosovo, so that a rule for it can be written. */
static const char *const zgeo_countries[26] = {
    "DEFGILMOQRSTUWXZ",        /* A */
    "ABDEFGHIJLMNOQRSTVWYZ",   /* B */
    "ACDFGHIKLMNORUVWXYZ",     /* C */
    "EJKMOZ",                  /* D */
    "CEGHRST",                 /* E */
    "IJKMOR",                  /* F */
    "ABDEFGHILMNPQRSTUWY",     /* G */
    "KMNRTU",                  /* H */
    "DELMNOQRST",              /* I */
    "EMOP",                    /* J */
    "EGHIMNPRWYZ",             /* K */
    "ABCIKRSTUVY",             /* L */
    "ACDEFGHKLMNOPQRSTUVWXYZ", /* M */
    "ACEFGILOPRUZ",            /* N */
    "M",                       /* O */
    "AEFGHKLMNRSTWY",          /* P */
    "A",                       /* Q */
    "EOSUW",                   /* R */
    "ABCDEGHIJKLMNORSTVXYZ",   /* S */
    "CDFGHJKLMNORTVWZ",        /* T */
    "AGMSYZ",                  /* U */
    "ACEGINU",                 /* V */
    "FS",                      /* W */
    "K",                       /* X */
    "ET",                      /* Y */
    "AMW",                     /* Z */
};

static const char *const zgeo_kinds[] = {
    [GEO_KEY_CONTINENT] = "continent",
    [GEO_KEY_COUNTRY] = "country",
    [GEO_KEY_SUBDIVISION] = "subdivision",
};

enum { G_MAP, G_NETS, G_DEFAULT, G_N };

/* `default` is checked here rather than by type so that every region list
 * of geo: reports the same messages. */
static const schema_item_t zgeo_items[G_N] = {
    [G_MAP] = {"map", SCHEMA_MAP},
    [G_NETS] = {"nets", SCHEMA_MAP},
    [G_DEFAULT] = {"default", SCHEMA_ANY},
};

/* ---- region lists ---- */

void zgeo_unique_regions(ynode_doc_t *d, const zone_t *zone, const char *ctx, size_t *regions,
                         size_t *n, const yaml_node_t **items)
{
    size_t *first = zdup_first(*n, zdup_cmp_index, regions);

    for (size_t i = 0; i < *n; i++) {
        if (first[i] != i) {
            schema_err(d, items[i], ctx, "region '%s' is listed twice",
                       zone->regions[regions[i]].name);
        }
    }
    *n = *n ? zdup_compact(regions, *n, sizeof(*regions), first) : 0;
    free(first);
}

/* A non-empty list of defined regions, each once, as indices in *out (set
 * even when some names are wrong; caller frees). `list` is NULL or a null
 * scalar when the key was written without a value. */
static void zgeo_regions(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *key,
                         const yaml_node_t *list, const char *ctx, size_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!list || ynode_is_null(list) || (ynode_is_seq(list) && !ynode_len(list))) {
        schema_err(d, list && !ynode_is_null(list) ? list : key, ctx, "must not be empty");
        return;
    }
    if (!ynode_is_seq(list)) {
        schema_err(d, list, ctx, "must be a list of region names");
        return;
    }
    const yaml_node_t **items = xcalloc(ynode_len(list), sizeof(*items));
    *out = xcalloc(ynode_len(list), sizeof(**out));
    for (size_t i = 0; i < ynode_len(list); i++) {
        const yaml_node_t *item = ynode_item(d, list, i);
        const char *name = ynode_str(item);
        size_t r = name ? zone_find_region(zone, name) : SIZE_MAX;

        if (!name) {
            schema_err(d, item, ctx, "must be a list of region names");
        } else if (r == SIZE_MAX) {
            schema_err(d, item, ctx, "region '%s' is not defined", name);
        } else {
            items[*n] = item;
            (*out)[(*n)++] = r;
        }
    }
    zgeo_unique_regions(d, zone, ctx, *out, n, items);
    free(items);
}

/* ---- map keys ---- */

static bool zgeo_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool zgeo_alnum(char c)
{
    return zgeo_letter(c) || (c >= '0' && c <= '9');
}

static char zgeo_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool zgeo_two_letters(const char *s)
{
    return zgeo_letter(s[0]) && zgeo_letter(s[1]) && !s[2];
}

static bool zgeo_is_continent(const char *s)
{
    /* Codes sit at every third byte of zgeo_continents. */
    for (size_t i = 0; zgeo_two_letters(s) && i + 2 < sizeof(zgeo_continents); i += 3) {
        if (zgeo_upper(s[0]) == zgeo_continents[i] && zgeo_upper(s[1]) == zgeo_continents[i + 1]) {
            return true;
        }
    }
    return false;
}

/* `cc` starts with two ASCII letters. */
static bool zgeo_is_country(const char *cc)
{
    char second = zgeo_upper(cc[1]);

    return strchr(zgeo_countries[zgeo_upper(cc[0]) - 'A'], second) != NULL;
}

/* "US-CA", "GB-ENG", "FR-75": ISO 3166-2 codes are the country, a hyphen
 * and one to three letters or digits. */
static bool zgeo_is_subdivision(const char *s)
{
    size_t n = 0;

    if (!zgeo_letter(s[0]) || !zgeo_letter(s[1]) || s[2] != '-') {
        return false;
    }
    while (zgeo_alnum(s[3 + n])) {
        n++;
    }
    return n >= 1 && n <= 3 && !s[3 + n];
}

/* The country part of a key, which starts with two letters. */
static bool zgeo_country_known(ynode_doc_t *d, const yaml_node_t *key, const char *ctx,
                               const char *cc)
{
    char upper[3] = {zgeo_upper(cc[0]), zgeo_upper(cc[1]), '\0'};

    if (zgeo_is_country(upper)) {
        return true;
    }
    /* UK is only "exceptionally reserved" by ISO; the databases say GB. */
    schema_err(d, key, ctx, "unknown country code '%s'%s", upper,
               !strcmp(upper, "UK") ? " (the United Kingdom is GB)" : "");
    return false;
}

/* Classify one map key; *code is set to the part after any prefix. */
static bool zgeo_key_kind(ynode_doc_t *d, const yaml_node_t *key, const char *ctx,
                          zone_geo_kind_t *kind, const char **code)
{
    const char *text = ynode_str(key);

    if (!strncasecmp(text, "continent:", 10)) {
        *code = text + 10;
        *kind = GEO_KEY_CONTINENT;
        if (!zgeo_is_continent(*code)) {
            schema_err(d, key, ctx, "unknown continent '%s' (use AF, AN, AS, EU, NA, OC or SA)",
                       *code);
            return false;
        }
        return true;
    }
    if (!strncasecmp(text, "country:", 8)) {
        *code = text + 8;
        *kind = GEO_KEY_COUNTRY;
        if (!zgeo_two_letters(*code)) {
            schema_err(d, key, ctx, "'%s' is not a two-letter country code", *code);
            return false;
        }
        return zgeo_country_known(d, key, ctx, *code);
    }
    *code = text;
    /* A bare two-letter continent code is the continent: NA is North
     * America, and Namibia must be written country:NA. */
    if (zgeo_is_continent(text)) {
        *kind = GEO_KEY_CONTINENT;
        return true;
    }
    if (zgeo_two_letters(text) || zgeo_is_subdivision(text)) {
        *kind = text[2] ? GEO_KEY_SUBDIVISION : GEO_KEY_COUNTRY;
        return zgeo_country_known(d, key, ctx, text);
    }
    schema_err(d, key, ctx,
               "key must be a continent (EU), a country (FR), a subdivision (US-CA), "
               "continent:XX or country:XX");
    return false;
}

static bool zgeo_map_key(ynode_doc_t *d, const yaml_node_t *key, const char *ctx, zone_geo_map_t *e)
{
    const char *code;
    size_t i;

    if (!zgeo_key_kind(d, key, ctx, &e->kind, &code)) {
        return false;
    }
    /* Valid codes are at most "XX-XXX", well within code[8]. */
    for (i = 0; i < sizeof(e->code) - 1 && code[i]; i++) {
        e->code[i] = zgeo_upper(code[i]);
    }
    e->code[i] = '\0';
    e->mark = ynode_mark(d, key);
    return true;
}

static int zgeo_map_cmp(const void *ctx, size_t a, size_t b)
{
    const zone_geo_map_t *x = (const zone_geo_map_t *)ctx + a, *y = (const zone_geo_map_t *)ctx + b;

    if (x->kind != y->kind) {
        return x->kind < y->kind ? -1 : 1;
    }
    return strcmp(x->code, y->code);
}

/* Two keys that mean the same ("eu" and "EU", or "EU" and "continent:EU");
 * repeats of the same text were reported by schema_bad_keys() already. The
 * later one is reported and dropped. keys[i] is entry i's key. */
static void zgeo_map_repeats(ynode_doc_t *d, zone_geo_t *geo, const yaml_node_t **keys,
                             const char *mctx)
{
    size_t *first = zdup_first(geo->n_map, zgeo_map_cmp, geo->map);

    for (size_t i = 0; i < geo->n_map; i++) {
        const zone_geo_map_t *e = &geo->map[i];

        if (first[i] != i) {
            ynode_err(d, keys[i], "duplicate key '%s' in %s (%s %s, first at line %u)",
                      ynode_str(keys[i]), mctx, zgeo_kinds[e->kind], e->code,
                      geo->map[first[i]].mark.line);
            free(e->regions);
        }
    }
    geo->n_map = geo->n_map ? zdup_compact(geo->map, geo->n_map, sizeof(*geo->map), first) : 0;
    free(first);
}

static void zgeo_map(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *map, const char *gctx,
                     zone_geo_t *geo)
{
    char mctx[ZGEO_CTX_PART];
    const yaml_node_t **keys;
    bool *bad;

    snprintf(mctx, sizeof(mctx), "%s map", gctx);
    bad = schema_bad_keys(d, map, mctx);
    geo->map = xcalloc(ynode_len(map), sizeof(*geo->map));
    keys = xcalloc(ynode_len(map) + 1, sizeof(*keys));
    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(d, map, i);
        zone_geo_map_t *e = &geo->map[geo->n_map];
        char ctx[ZGEO_CTX_KEY];
        bool ok;

        if (bad[i]) {
            continue;
        }
        snprintf(ctx, sizeof(ctx), "%s '%s'", mctx, ynode_str(key));
        memset(e, 0, sizeof(*e));
        ok = zgeo_map_key(d, key, ctx, e);
        zgeo_regions(d, zone, key, ynode_value(d, map, i), ctx, &e->regions, &e->n_regions);
        if (!ok) {
            free(e->regions);
            continue;
        }
        keys[geo->n_map++] = key;
    }
    zgeo_map_repeats(d, geo, keys, mctx);
    free(keys);
    free(bad);
}

/* ---- nets ---- */

/* One to three digits: a prefix length as written after the slash. */
static bool zgeo_prefix_len(const char *s, unsigned *out)
{
    unsigned v = 0;
    size_t n = 0;

    for (; s[n] >= '0' && s[n] <= '9' && n < 3; n++) {
        v = v * 10 + (unsigned)(s[n] - '0');
    }
    if (!n || s[n]) {
        return false;
    }
    *out = v;
    return true;
}

/* Clear the bits of addr beyond `prefix`; true when any was set. */
static bool zgeo_clear_host_bits(uint8_t *addr, size_t len, unsigned prefix)
{
    bool set = false;

    for (size_t i = 0; i < len; i++) {
        unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;
        uint8_t mask = (uint8_t)(0xff00u >> keep);

        set |= (addr[i] & ~mask) != 0;
        addr[i] &= mask;
    }
    return set;
}

static int zgeo_parse_addr(const char *text, size_t len, uint8_t addr[16])
{
    char buf[INET6_ADDRSTRLEN];

    if (len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        return AF_INET;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        return AF_INET6;
    }
    return 0;
}

/* "ADDR/PREFIX", or a bare address for a single host. */
static bool zgeo_net_key(ynode_doc_t *d, const yaml_node_t *key, const char *ctx, zone_geo_net_t *e)
{
    const char *text = ynode_str(key), *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    unsigned max;

    e->family = zgeo_parse_addr(text, len, e->addr);
    if (!e->family) {
        schema_err(d, key, ctx, "bad IP address '%.*s'", (int)len, text);
        return false;
    }
    max = e->family == AF_INET ? 32 : 128;
    e->prefix = max;
    if (slash && !zgeo_prefix_len(slash + 1, &e->prefix)) {
        schema_err(d, key, ctx, "bad prefix length '%s'", slash + 1);
        return false;
    }
    if (e->prefix > max) {
        schema_err(d, key, ctx, "prefix length %u out of range 0..%u", e->prefix, max);
        return false;
    }
    if (zgeo_clear_host_bits(e->addr, max / 8, e->prefix)) {
        char net[INET6_ADDRSTRLEN];
        inet_ntop(e->family, e->addr, net, sizeof(net));
        schema_err(d, key, ctx, "host bits set beyond /%u (did you mean %s/%u?)", e->prefix, net,
                   e->prefix);
        return false;
    }
    e->mark = ynode_mark(d, key);
    return true;
}

static int zgeo_net_cmp(const void *ctx, size_t a, size_t b)
{
    const zone_geo_net_t *x = (const zone_geo_net_t *)ctx + a, *y = (const zone_geo_net_t *)ctx + b;

    if (x->family != y->family) {
        return x->family < y->family ? -1 : 1;
    }
    if (x->prefix != y->prefix) {
        return x->prefix < y->prefix ? -1 : 1;
    }
    return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Two spellings of one network ("2001:DB8::/32" and "2001:db8::/32", or
 * "192.0.2.1" and "192.0.2.1/32"): the later is reported and dropped.
 * keys[i] is entry i's key. */
static void zgeo_net_repeats(ynode_doc_t *d, zone_geo_t *geo, const yaml_node_t **keys,
                             const char *nctx)
{
    size_t *first = zdup_first(geo->n_nets, zgeo_net_cmp, geo->nets);
    char net[INET6_ADDRSTRLEN];

    for (size_t i = 0; i < geo->n_nets; i++) {
        const zone_geo_net_t *e = &geo->nets[i];

        if (first[i] != i) {
            inet_ntop(e->family, e->addr, net, sizeof(net));
            ynode_err(d, keys[i], "duplicate key '%s' in %s (%s/%u, first at line %u)",
                      ynode_str(keys[i]), nctx, net, e->prefix, geo->nets[first[i]].mark.line);
            free(e->regions);
        }
    }
    geo->n_nets = geo->n_nets ? zdup_compact(geo->nets, geo->n_nets, sizeof(*geo->nets), first) : 0;
    free(first);
}

static void zgeo_nets(ynode_doc_t *d, const zone_t *zone, const yaml_node_t *map, const char *gctx,
                      zone_geo_t *geo)
{
    char nctx[ZGEO_CTX_PART];
    const yaml_node_t **keys;
    bool *bad;

    snprintf(nctx, sizeof(nctx), "%s nets", gctx);
    bad = schema_bad_keys(d, map, nctx);
    geo->nets = xcalloc(ynode_len(map), sizeof(*geo->nets));
    keys = xcalloc(ynode_len(map) + 1, sizeof(*keys));
    for (size_t i = 0; i < ynode_len(map); i++) {
        const yaml_node_t *key = ynode_key(d, map, i);
        zone_geo_net_t *e = &geo->nets[geo->n_nets];
        char ctx[ZGEO_CTX_KEY];
        bool ok;

        if (bad[i]) {
            continue;
        }
        snprintf(ctx, sizeof(ctx), "%s '%s'", nctx, ynode_str(key));
        memset(e, 0, sizeof(*e));
        ok = zgeo_net_key(d, key, ctx, e);
        zgeo_regions(d, zone, key, ynode_value(d, map, i), ctx, &e->regions, &e->n_regions);
        if (!ok) {
            free(e->regions);
            continue;
        }
        keys[geo->n_nets++] = key;
    }
    zgeo_net_repeats(d, geo, keys, nctx);
    free(keys);
    free(bad);
}

/* ---- geo: ---- */

void zgeo_load(ynode_doc_t *d, const zone_t *zone, const schema_val_t *v, const char *owner,
               zone_geo_t *geo)
{
    char gctx[ZGEO_CTX];
    schema_val_t g[G_N];

    if (!v->ok) {
        return;
    }
    geo->given = true;
    geo->mark = ynode_mark(d, v->key);
    snprintf(gctx, sizeof(gctx), "%s%sgeo", owner, *owner ? ": " : "");
    schema_map(d, v->node, v->key, gctx, zgeo_items, G_N, g);
    if (g[G_MAP].ok) {
        zgeo_map(d, zone, g[G_MAP].node, gctx, geo);
    }
    if (g[G_NETS].ok) {
        zgeo_nets(d, zone, g[G_NETS].node, gctx, geo);
    }
    if (g[G_DEFAULT].key) {
        char dctx[ZGEO_CTX_PART];
        snprintf(dctx, sizeof(dctx), "%s default", gctx);
        zgeo_regions(d, zone, g[G_DEFAULT].key, g[G_DEFAULT].node, dctx, &geo->dflt, &geo->n_dflt);
    }
}
