/*
 * mapcache: reference-counted geo maps keyed by what they depend on; see
 * mapcache.h. The key is a canonical byte string of the spec, with override
 * lists translated to the service's region positions, so two services (or
 * two loads of one) that would build the same map find the same entry.
 */
#include "geo/mapcache.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

struct geo_cache_entry {
    geo_cache_t *cache; /* NULL once the cache itself is gone */
    uint8_t *key;
    size_t keylen;
    uint64_t db_gen;
    unsigned refs;
    arena_t arena;
    const geo_map_t *map;
    geo_cache_entry_t *next;
};

struct geo_cache {
    geo_cache_entry_t *head;
    unsigned long built;
};

typedef struct {
    uint8_t *p;
    size_t len, cap;
} keybuf_t;

static void key_add(keybuf_t *k, const void *data, size_t n)
{
    if (k->len + n > k->cap) {
        k->cap = (k->len + n) * 2 + 64;
        k->p = xreallocarray(k->p, k->cap, 1);
    }
    memcpy(k->p + k->len, data, n);
    k->len += n;
}

/* A zone region index as the service sees it: its position, or -1. */
static void key_regions(keybuf_t *k, const geo_map_spec_t *spec, const size_t *zr, size_t n)
{
    key_add(k, &n, sizeof(n));
    for (size_t i = 0; i < n; i++) {
        int pos = -1;
        for (size_t j = 0; j < spec->n; j++) {
            if (spec->zone_region[j] == zr[i]) {
                pos = (int)j;
            }
        }
        key_add(k, &pos, sizeof(pos));
    }
}

static void key_build(keybuf_t *k, const geo_map_spec_t *spec)
{
    const zone_geo_t *g = spec->cfg;
    uint8_t keep = spec->keep_km, has = g != NULL;

    key_add(k, &spec->n, sizeof(spec->n));
    key_add(k, spec->lat, spec->n * sizeof(*spec->lat));
    key_add(k, spec->lon, spec->n * sizeof(*spec->lon));
    for (size_t i = 0; i < spec->n; i++) {
        int8_t bias = (int8_t)(spec->bias ? spec->bias[i] : 0); /* NULL and all 0 are one key */
        key_add(k, &bias, 1);
    }
    key_add(k, &keep, 1);
    key_add(k, &has, 1);
    if (g == NULL) {
        return;
    }
    key_add(k, &g->n_map, sizeof(g->n_map));
    for (size_t i = 0; i < g->n_map; i++) {
        key_add(k, &g->map[i].kind, sizeof(g->map[i].kind));
        key_add(k, g->map[i].code, sizeof(g->map[i].code));
        key_regions(k, spec, g->map[i].regions, g->map[i].n_regions);
    }
    key_add(k, &g->n_nets, sizeof(g->n_nets));
    for (size_t i = 0; i < g->n_nets; i++) {
        key_add(k, &g->nets[i].family, sizeof(g->nets[i].family));
        key_add(k, g->nets[i].addr, sizeof(g->nets[i].addr));
        key_add(k, &g->nets[i].prefix, sizeof(g->nets[i].prefix));
        key_regions(k, spec, g->nets[i].regions, g->nets[i].n_regions);
    }
    key_regions(k, spec, g->dflt, g->n_dflt);
}

geo_cache_t *geo_cache_new(void)
{
    geo_cache_t *c = xcalloc(1, sizeof(*c));

    return c;
}

static void entry_free(geo_cache_entry_t *e)
{
    arena_free(&e->arena);
    free(e->key);
    free(e);
}

void geo_cache_free(geo_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    for (geo_cache_entry_t *e = c->head, *next; e != NULL; e = next) {
        next = e->next;
        e->cache = NULL; /* still referenced entries go when released */
    }
    free(c);
}

geo_cache_entry_t *geo_cache_get(geo_cache_t *c, const geo_db_t *db, const geo_map_spec_t *spec)
{
    keybuf_t k = {0};
    uint64_t gen = db ? db->gen : 0;

    key_build(&k, spec);
    for (geo_cache_entry_t *e = c->head; e != NULL; e = e->next) {
        if (e->db_gen == gen && e->keylen == k.len && memcmp(e->key, k.p, k.len) == 0) {
            free(k.p);
            e->refs++;
            return e;
        }
    }
    geo_cache_entry_t *e = xcalloc(1, sizeof(*e));
    e->cache = c;
    e->key = k.p;
    e->keylen = k.len;
    e->db_gen = gen;
    e->refs = 1;
    arena_init(&e->arena);
    e->map = geo_map_build(db, spec, &e->arena);
    e->next = c->head;
    c->head = e;
    c->built++;
    return e;
}

const geo_map_t *geo_cache_map(const geo_cache_entry_t *e)
{
    return e->map;
}

void geo_cache_release(geo_cache_entry_t *e)
{
    if (e == NULL || --e->refs > 0) {
        return;
    }
    if (e->cache != NULL) {
        for (geo_cache_entry_t **p = &e->cache->head; *p != NULL; p = &(*p)->next) {
            if (*p == e) {
                *p = e->next;
                break;
            }
        }
    }
    entry_free(e);
}

unsigned long geo_cache_built(const geo_cache_t *c)
{
    return c->built;
}
