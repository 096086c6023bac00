/*
 * zload: `load:` and `shed:`; see zload.h.
 */
#include "zones/zload.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

enum {
    LD_SOURCE,
    LD_URL,
    LD_CAPACITY,
    LD_BACKEND,
    LD_FRONTEND,
    LD_METRIC,
    LD_INTERVAL,
    LD_TIMEOUT,
    LD_STALE_AFTER,
    LD_N
};

static const char *const zload_sources[] = {"nginx", "haproxy", "prometheus", NULL};

static const schema_item_t zload_items[LD_N] = {
    [LD_SOURCE] = {"source", SCHEMA_ENUM, .required = true, .names = zload_sources},
    [LD_URL] = {"url", SCHEMA_STR, .required = true},
    /* More than 0, checked below: a REAL's range is whole numbers. */
    [LD_CAPACITY] = {"capacity", SCHEMA_REAL, .required = true, .min = 0, .max = 1000000000000},
    [LD_BACKEND] = {"backend", SCHEMA_STR},
    [LD_FRONTEND] = {"frontend", SCHEMA_STR},
    [LD_METRIC] = {"metric", SCHEMA_STR},
    [LD_INTERVAL] = {"interval", SCHEMA_MS, .min = 100, .max = 3600000, .def = 2000},
    [LD_TIMEOUT] = {"timeout", SCHEMA_MS, .min = 1, .max = 3600000, .def = 1000},
    [LD_STALE_AFTER] = {"stale_after", SCHEMA_MS, .min = 100, .max = 86400000},
};

static bool zload_name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* A metric name (colon true: it may hold ':') or a label name at m: its length. */
static size_t zload_name_len(const char *m, bool colon)
{
    size_t i = 0;

    while (m[i] != '\0' && zload_name_char(m[i], i == 0, colon)) {
        i++;
    }
    return i;
}

bool zone_metric_parse(const char *m, zone_metric_t *out)
{
    size_t i = zload_name_len(m, true);

    out->name = (zone_span_t){m, i};
    out->n = 0;
    if (i == 0) {
        return false;
    }
    if (m[i] == '\0') {
        return true;
    }
    if (m[i++] != '{') {
        return false;
    }
    /* label="value" pairs, comma separated; a backslash escapes the next byte. */
    while (m[i] != '}') {
        size_t len = zload_name_len(m + i, false);
        if (len == 0 || out->n == ZONE_LOAD_LABELS_MAX || m[i + len] != '=' ||
            m[i + len + 1] != '"') {
            return false;
        }
        out->label[out->n] = (zone_span_t){m + i, len};
        i += len + 2;
        size_t start = i;
        while (m[i] != '"') {
            if (m[i] == '\0' || (m[i] == '\\' && m[++i] == '\0')) {
                return false;
            }
            i++;
        }
        out->value[out->n++] = (zone_span_t){m + start, i - start};
        i++;
        if (m[i] == ',') {
            i++;
        } else if (m[i] != '}') {
            return false;
        }
    }
    return m[i + 1] == '\0';
}

/* The keys that only one source takes, and the ones it must have. */
static void zload_source_keys(ynode_doc_t *d, zone_load_t *l, const schema_val_t *v,
                              const yaml_node_t *where, const char *ctx)
{
    static const int only[LD_N] = {[LD_BACKEND] = LOAD_HAPROXY + 1,
                                   [LD_FRONTEND] = LOAD_HAPROXY + 1,
                                   [LD_METRIC] = LOAD_PROMETHEUS + 1};
    zone_metric_t sel;

    for (int k = 0; k < LD_N; k++) {
        if (only[k] != 0 && v[k].key != NULL && (int)l->source + 1 != only[k]) {
            schema_err(d, v[k].key, ctx, "load.%s is for source %s only", zload_items[k].key,
                       zload_sources[only[k] - 1]);
        }
    }
    if (l->source == LOAD_HAPROXY && (v[LD_BACKEND].key != NULL) == (v[LD_FRONTEND].key != NULL)) {
        schema_err(d, v[LD_FRONTEND].key ? v[LD_FRONTEND].key : where, ctx,
                   "source haproxy needs one of load.backend (a backend's sessions) or "
                   "load.frontend (a frontend's), not %s",
                   v[LD_BACKEND].key ? "both" : "neither");
    }
    if (l->source == LOAD_PROMETHEUS && v[LD_METRIC].key == NULL) {
        schema_err(d, where, ctx, "source prometheus needs load.metric, the metric to read");
    } else if (v[LD_METRIC].ok && !zone_metric_parse(v[LD_METRIC].str, &sel)) {
        schema_err(d, v[LD_METRIC].node, ctx,
                   "load.metric '%s' is not a metric name with optional {label=\"value\",...} "
                   "(at most %d labels, no blanks)",
                   v[LD_METRIC].str, ZONE_LOAD_LABELS_MAX);
    }
}

static void zload_times(ynode_doc_t *d, zone_load_t *l, const schema_val_t *v, const char *ctx)
{
    char a[32], b[32];

    l->interval_ms = (unsigned)v[LD_INTERVAL].num;
    l->timeout_ms = (unsigned)v[LD_TIMEOUT].num;
    l->stale_after_ms = v[LD_STALE_AFTER].ok ? (unsigned)v[LD_STALE_AFTER].num : 3 * l->interval_ms;
    bool bad =
        (v[LD_TIMEOUT].node && !v[LD_TIMEOUT].ok) || (v[LD_INTERVAL].node && !v[LD_INTERVAL].ok);

    if (l->timeout_ms >= l->interval_ms && !bad) {
        schema_fmt_ms(l->timeout_ms, a, sizeof(a));
        schema_fmt_ms(l->interval_ms, b, sizeof(b));
        if (v[LD_TIMEOUT].node != NULL) {
            schema_err(d, v[LD_TIMEOUT].node, ctx,
                       "load.timeout %s must be less than load.interval %s", a, b);
        } else {
            schema_err(d, v[LD_INTERVAL].node, ctx,
                       "load.interval %s must be more than load.timeout (by default %s)", b, a);
        }
    }
    if (l->stale_after_ms < l->interval_ms && v[LD_STALE_AFTER].ok) {
        schema_fmt_ms(l->stale_after_ms, a, sizeof(a));
        schema_fmt_ms(l->interval_ms, b, sizeof(b));
        schema_err(d, v[LD_STALE_AFTER].node, ctx,
                   "load.stale_after %s must be at least load.interval %s", a, b);
    }
}

void zload_region(ynode_doc_t *d, zone_region_t *r, const schema_val_t *lv, const char *ctx)
{
    schema_val_t v[LD_N];
    zone_load_t *l = &r->load;

    if (lv->node == NULL) {
        return;
    }
    if (!ynode_is_map(lv->node)) {
        schema_err(d, lv->node, ctx, "load must be a mapping: {source, url, capacity, ...}");
        return;
    }
    schema_map(d, lv->node, lv->key, ctx, zload_items, LD_N, v);
    l->given = true;
    l->source = (zone_load_source_t)v[LD_SOURCE].num;
    l->url = xstrdup_opt(v[LD_URL].str);
    if (v[LD_URL].ok && strncmp(l->url, "http://", 7) != 0 && strncmp(l->url, "https://", 8) != 0) {
        schema_err(d, v[LD_URL].node, ctx, "load.url '%s' must start with http:// or https://",
                   l->url);
    }
    l->capacity = v[LD_CAPACITY].real;
    if (v[LD_CAPACITY].ok && !(l->capacity > 0)) {
        schema_err(d, v[LD_CAPACITY].node, ctx,
                   "load.capacity must be more than 0: utilisation is the figure over it");
    }
    l->backend = xstrdup_opt(v[LD_BACKEND].str);
    l->frontend = xstrdup_opt(v[LD_FRONTEND].str);
    l->metric = xstrdup_opt(v[LD_METRIC].str);
    if (v[LD_SOURCE].ok) {
        zload_source_keys(d, l, v, lv->key, ctx);
    }
    zload_times(d, l, v, ctx);
}

enum { SH_HIGH, SH_LOW, SH_STEP, SH_PERIOD, SH_N };

/* Utilisations are fractions of capacity; REAL ranges are whole numbers,
 * so the finer bounds are checked below. */
static const schema_item_t zload_shed_items[SH_N] = {
    [SH_HIGH] = {"high", SCHEMA_REAL, .min = 0, .max = 100},
    [SH_LOW] = {"low", SCHEMA_REAL, .min = 0, .max = 100},
    [SH_STEP] = {"step", SCHEMA_REAL, .min = 0, .max = 1},
    [SH_PERIOD] = {"period", SCHEMA_MS, .min = 100, .max = 86400000},
};

void zload_shed(ynode_doc_t *d, zone_t *zone, const schema_val_t *sv)
{
    schema_val_t v[SH_N];
    zone_shed_t *s = &zone->shed;
    uint32_t ttl = 0;

    for (size_t i = 0; i < zone->n_services; i++) {
        ttl = zone->services[i].ttl > ttl ? zone->services[i].ttl : ttl;
    }
    s->high = ZONE_SHED_HIGH;
    s->low = ZONE_SHED_LOW;
    s->step = ZONE_SHED_STEP;
    s->period_ms = ttl > 0 ? (ttl > 43200 ? 86400000u : 2000u * ttl) : 1000u;
    if (sv->node == NULL) {
        return;
    }
    if (!ynode_is_map(sv->node)) {
        schema_err(d, sv->node, "", "shed must be a mapping: {high, low, step, period}");
        return;
    }
    schema_map(d, sv->node, sv->key, "shed", zload_shed_items, SH_N, v);
    s->high = v[SH_HIGH].ok ? v[SH_HIGH].real : s->high;
    s->low = v[SH_LOW].ok ? v[SH_LOW].real : s->low;
    s->step = v[SH_STEP].ok ? v[SH_STEP].real : s->step;
    s->period_ms = v[SH_PERIOD].ok ? (unsigned)v[SH_PERIOD].num : s->period_ms;
    if (v[SH_STEP].ok && !(s->step > 0)) {
        schema_err(d, v[SH_STEP].node, "shed", "step must be more than 0 (and at most 1)");
    }
    if (!(s->low < s->high)) {
        schema_err(d, v[SH_LOW].node ? v[SH_LOW].node : v[SH_HIGH].node, "shed",
                   "low %g must be less than high %g: between them shedding holds still", s->low,
                   s->high);
    }
}
