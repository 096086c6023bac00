/*
 * schema: table-driven checking of YAML mappings. See schema.h. This file
 * parses scalars (integers, durations, booleans, words) and reports what is
 * wrong with them; it never allocates anything the caller keeps.
 */
#include "zones/schema.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

/* Keys and words longer than this get no "did you mean" suggestion. */
#define SCHEMA_SUGGEST_LEN 32

void schema_err(ynode_doc_t *d, const yaml_node_t *at, const char *ctx, const char *fmt, ...)
{
    va_list ap;
    char *body;

    va_start(ap, fmt);
    if (vasprintf(&body, fmt, ap) < 0) {
        alloc_fail("vasprintf");
    }
    va_end(ap);
    ynode_err(d, at, "%s%s%s", ctx, *ctx ? ": " : "", body);
    free(body);
}

/* "in region 'x'" for most mappings, "at top level" for the file itself. */
static const char *schema_in(const char *ctx)
{
    return *ctx ? "in " : "at top level";
}

/* Optimal string alignment distance, case-insensitive: a swapped pair of
 * letters counts as one edit, the most common typo in a key. */
static size_t schema_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t dist[SCHEMA_SUGGEST_LEN + 1][SCHEMA_SUGGEST_LEN + 1];

    if (la > SCHEMA_SUGGEST_LEN || lb > SCHEMA_SUGGEST_LEN) {
        return SIZE_MAX;
    }
    for (size_t i = 0; i <= la; i++) {
        for (size_t j = 0; j <= lb; j++) {
            size_t best, cost;

            if (!i || !j) {
                dist[i][j] = i + j;
                continue;
            }
            cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            best = dist[i - 1][j - 1] + cost;
            best = dist[i - 1][j] + 1 < best ? dist[i - 1][j] + 1 : best;
            best = dist[i][j - 1] + 1 < best ? dist[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                dist[i - 2][j - 2] + 1 < best) {
                best = dist[i - 2][j - 2] + 1;
            }
            dist[i][j] = best;
        }
    }
    return dist[la][lb];
}

static const char *schema_suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_dist = SIZE_MAX;

    for (size_t i = 0; i < n; i++) {
        size_t dist = schema_distance(word, cands[i]);
        /* Short keys tolerate one edit, longer ones two: "ttl" is not a typo
         * of "url", but "wieght" is one of "weight". */
        size_t limit = strlen(cands[i]) <= 4 ? 1 : 2;

        if (dist <= limit && dist < best_dist) {
            best = cands[i];
            best_dist = dist;
        }
    }
    return best;
}

void schema_unknown_key(ynode_doc_t *d, const yaml_node_t *key, const char *ctx,
                        const char *const *cands, size_t n)
{
    const char *word = ynode_str(key);
    const char *hint = schema_suggest(word, cands, n);

    if (hint) {
        ynode_err(d, key, "unknown key '%s' %s%s (did you mean '%s'?)", word, schema_in(ctx), ctx,
                  hint);
    } else {
        ynode_err(d, key, "unknown key '%s' %s%s", word, schema_in(ctx), ctx);
    }
}

/* Pair indices sorted by key text, then by position, so that repeats are
 * adjacent and the first written comes first. */
typedef struct {
    const char *text;
    size_t index;
} schema_key_ref_t;

static int schema_key_cmp(const void *a, const void *b, void *nocase)
{
    const schema_key_ref_t *x = a, *y = b;
    int c = *(const bool *)nocase ? strcasecmp(x->text, y->text) : strcmp(x->text, y->text);

    if (c) {
        return c;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

static bool schema_key_same(const char *a, const char *b, bool nocase)
{
    return nocase ? !strcasecmp(a, b) : !strcmp(a, b);
}

static void schema_report_dups(ynode_doc_t *d, const yaml_node_t *map, const char *ctx,
                               schema_key_ref_t *refs, size_t n, bool nocase, bool *bad)
{
    qsort_r(refs, n, sizeof(*refs), schema_key_cmp, &nocase);
    for (size_t i = 1; i < n; i++) {
        size_t first = i - 1;
        const yaml_node_t *key, *orig;

        if (!schema_key_same(refs[i].text, refs[first].text, nocase)) {
            continue;
        }
        while (first > 0 && schema_key_same(refs[first - 1].text, refs[i].text, nocase)) {
            first--;
        }
        key = ynode_key(d, map, refs[i].index);
        orig = ynode_key(d, map, refs[first].index);
        ynode_err(d, key, "duplicate key '%s' %s%s (first at line %u)", refs[i].text,
                  schema_in(ctx), ctx, (unsigned)orig->start_mark.line + 1);
        bad[refs[i].index] = true;
    }
}

static bool *schema_bad_keys_case(ynode_doc_t *d, const yaml_node_t *map, const char *ctx,
                                  bool nocase)
{
    size_t n = ynode_len(map), n_refs = 0;
    schema_key_ref_t *refs;
    bool *bad;

    if (!n) {
        return NULL;
    }
    bad = xcalloc(n, sizeof(*bad));
    refs = xcalloc(n, sizeof(*refs));
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *key = ynode_key(d, map, i);

        if (!ynode_str(key) || ynode_is_null(key)) {
            schema_err(d, key, ctx, "keys must be non-empty strings");
            bad[i] = true;
            continue;
        }
        refs[n_refs++] = (schema_key_ref_t){.text = ynode_str(key), .index = i};
    }
    schema_report_dups(d, map, ctx, refs, n_refs, nocase, bad);
    free(refs);
    return bad;
}

bool *schema_bad_keys(ynode_doc_t *d, const yaml_node_t *map, const char *ctx)
{
    return schema_bad_keys_case(d, map, ctx, false);
}

bool *schema_bad_keys_nocase(ynode_doc_t *d, const yaml_node_t *map, const char *ctx)
{
    return schema_bad_keys_case(d, map, ctx, true);
}

/* A decimal integer with an optional sign; values beyond int64 saturate so
 * that they fail the range check with the number as written. */
static bool schema_parse_int(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    int64_t v = 0;

    if (*s == '-' || *s == '+') {
        s++;
    }
    if (!isdigit((unsigned char)*s)) {
        return false;
    }
    for (; isdigit((unsigned char)*s); s++) {
        int digit = *s - '0';

        v = v > (INT64_MAX - digit) / 10 ? INT64_MAX : v * 10 + digit;
    }
    if (*s) {
        return false;
    }
    *out = neg ? -v : v;
    return true;
}

/* Milliseconds in one unit of a duration; 0 for an unknown unit. */
static int64_t schema_unit_ms(const char **s, bool allow_ms)
{
    const char *p = *s;
    int64_t unit;

    if (allow_ms && (!strncmp(p, "ms", 2) || !strncmp(p, "MS", 2))) {
        *s = p + 2;
        return 1;
    }
    switch (tolower((unsigned char)*p)) {
    case 's':
        unit = 1000;
        break;
    case 'm':
        unit = 60 * 1000;
        break;
    case 'h':
        unit = 3600 * 1000;
        break;
    case 'd':
        unit = 86400 * 1000;
        break;
    case 'w':
        unit = 7 * 86400 * 1000LL;
        break;
    default:
        return 0;
    }
    *s = p + 1;
    return unit;
}

static int64_t schema_add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* A duration: a bare integer (seconds, possibly negative so that the range
 * check can name it) or number-unit pairs such as "1h30m" or "500ms". */
static bool schema_parse_ms(const char *s, bool allow_ms, int64_t *out)
{
    int64_t total = 0;

    if (schema_parse_int(s, &total)) {
        *out = total > INT64_MAX / 1000   ? INT64_MAX
               : total < INT64_MIN / 1000 ? INT64_MIN
                                          : total * 1000;
        return true;
    }
    if (!*s) {
        return false;
    }
    while (*s) {
        int64_t n = 0, unit;

        if (!isdigit((unsigned char)*s)) {
            return false;
        }
        for (; isdigit((unsigned char)*s); s++) {
            n = n > (INT64_MAX - 9) / 10 ? INT64_MAX : n * 10 + (*s - '0');
        }
        unit = schema_unit_ms(&s, allow_ms);
        if (!unit) {
            return false;
        }
        total = schema_add_sat(total, n > INT64_MAX / unit ? INT64_MAX : n * unit);
    }
    *out = total;
    return true;
}

void schema_fmt_ms(int64_t ms, char *buf, size_t size)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms && ms % units[i].ms == 0) {
            snprintf(buf, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%lldms", (long long)ms);
}

static bool schema_range(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                         const schema_item_t *item, int64_t v)
{
    char lo[32], hi[32];

    if (v >= item->min && v <= item->max) {
        return true;
    }
    if (item->type == SCHEMA_MS) {
        schema_fmt_ms(item->min, lo, sizeof(lo));
        schema_fmt_ms(item->max, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%lld", (long long)item->min);
        snprintf(hi, sizeof(hi), "%lld", (long long)item->max);
    }
    schema_err(d, node, ctx, "%s %s out of range %s..%s", item->key, ynode_str(node), lo, hi);
    return false;
}

static bool schema_number(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                          const schema_item_t *item, schema_val_t *val)
{
    const char *s = ynode_str(node);
    int64_t v;
    bool ok;

    if (item->type == SCHEMA_INT) {
        ok = s && schema_parse_int(s, &v);
    } else {
        ok = s && schema_parse_ms(s, item->type == SCHEMA_MS, &v);
        if (ok && item->type == SCHEMA_TTL) {
            v /= 1000;
        }
    }
    if (!ok) {
        const char *what = item->type == SCHEMA_INT   ? "an integer"
                           : item->type == SCHEMA_TTL ? "a number of seconds or a duration like 5m"
                                                      : "a duration like 2s or 500ms";

        if (s) {
            schema_err(d, node, ctx, "'%s' must be %s, got '%s'", item->key, what, s);
        } else {
            schema_err(d, node, ctx, "'%s' must be %s", item->key, what);
        }
        return false;
    }
    if (!schema_range(d, node, ctx, item, v)) {
        return false;
    }
    val->num = v;
    return true;
}

/* Plain decimal notation only ("12", "0.5", "1e3"): strtod() alone would
 * also take hexadecimal, "inf" and "nan", which nobody means in a zone file. */
static bool schema_parse_real(const char *s, double *out)
{
    char *end;
    double v;

    if (!*s || s[strspn(s, "0123456789+-.eE")]) {
        return false;
    }
    v = strtod(s, &end);
    if (*end || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

static bool schema_real(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                        const schema_item_t *item, schema_val_t *val)
{
    const char *s = ynode_str(node);
    double v;

    if (!s || !schema_parse_real(s, &v)) {
        if (s) {
            schema_err(d, node, ctx, "'%s' must be a number, got '%s'", item->key, s);
        } else {
            schema_err(d, node, ctx, "'%s' must be a number", item->key);
        }
        return false;
    }
    if (v < (double)item->min || v > (double)item->max) {
        schema_err(d, node, ctx, "%s %s out of range %lld..%lld", item->key, s,
                   (long long)item->min, (long long)item->max);
        return false;
    }
    val->real = v;
    return true;
}

static bool schema_bool(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                        const schema_item_t *item, schema_val_t *val)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    const char *s = ynode_str(node);

    for (size_t i = 0; s && i < 3; i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            val->num = !strcasecmp(s, yes[i]);
            return true;
        }
    }
    if (s) {
        schema_err(d, node, ctx, "'%s' must be true or false, got '%s'", item->key, s);
    } else {
        schema_err(d, node, ctx, "'%s' must be true or false", item->key);
    }
    return false;
}

static bool schema_enum(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                        const schema_item_t *item, schema_val_t *val)
{
    const char *s = ynode_str(node);
    char list[256] = "";

    for (size_t i = 0; item->names[i]; i++) {
        if (s && !strcasecmp(s, item->names[i])) {
            val->num = (int64_t)i;
            return true;
        }
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 item->names[i]);
    }
    if (s) {
        schema_err(d, node, ctx, "'%s' must be one of %s, got '%s'", item->key, list, s);
    } else {
        schema_err(d, node, ctx, "'%s' must be one of %s", item->key, list);
    }
    return false;
}

static bool schema_shape(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                         const schema_item_t *item, schema_val_t *val)
{
    static const char *const what[] = {
        [SCHEMA_STR] = "a string", [SCHEMA_LIST] = "a list", [SCHEMA_MAP] = "a mapping"};
    bool ok = item->type == SCHEMA_STR    ? node->type == YAML_SCALAR_NODE
              : item->type == SCHEMA_LIST ? node->type == YAML_SEQUENCE_NODE
                                          : node->type == YAML_MAPPING_NODE;

    if (!ok) {
        schema_err(d, node, ctx, "'%s' must be %s", item->key, what[item->type]);
        return false;
    }
    val->str = ynode_str(node);
    return true;
}

bool schema_value(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                  const schema_item_t *item, schema_val_t *val)
{
    bool ok = true;

    val->node = node;
    switch (item->type) {
    case SCHEMA_STR:
    case SCHEMA_LIST:
    case SCHEMA_MAP:
        ok = schema_shape(d, node, ctx, item, val);
        break;
    case SCHEMA_INT:
    case SCHEMA_TTL:
    case SCHEMA_MS:
        ok = schema_number(d, node, ctx, item, val);
        break;
    case SCHEMA_REAL:
        ok = schema_real(d, node, ctx, item, val);
        break;
    case SCHEMA_BOOL:
        ok = schema_bool(d, node, ctx, item, val);
        break;
    case SCHEMA_ENUM:
        ok = schema_enum(d, node, ctx, item, val);
        break;
    case SCHEMA_ANY:
        break;
    }
    val->ok = ok;
    return ok;
}

static void schema_defaults(const schema_item_t *items, size_t n, schema_val_t *vals)
{
    for (size_t i = 0; i < n; i++) {
        vals[i] = (schema_val_t){
            .num = items[i].def, .real = (double)items[i].def, .str = items[i].defstr};
    }
}

static void schema_unknown(ynode_doc_t *d, const yaml_node_t *key, const char *ctx,
                           const schema_item_t *items, size_t n)
{
    const char *names[32];
    size_t n_names = n < 32 ? n : 32;

    for (size_t i = 0; i < n_names; i++) {
        names[i] = items[i].key;
    }
    schema_unknown_key(d, key, ctx, names, n_names);
}

static size_t schema_find(const schema_item_t *items, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(items[i].key, key)) {
            return i;
        }
    }
    return n;
}

static void schema_required(ynode_doc_t *d, const yaml_node_t *where, const char *ctx,
                            const schema_item_t *items, size_t n, schema_val_t *vals)
{
    for (size_t i = 0; i < n; i++) {
        if (!items[i].required) {
            continue;
        }
        if (!vals[i].key) {
            schema_err(d, where, ctx, "'%s' is required", items[i].key);
        } else if (!vals[i].node) {
            schema_err(d, vals[i].key, ctx, "'%s' must not be empty", items[i].key);
        }
    }
}

size_t schema_map(ynode_doc_t *d, const yaml_node_t *map, const yaml_node_t *where, const char *ctx,
                  const schema_item_t *items, size_t n, schema_val_t *vals)
{
    size_t before = ynode_errors(d);
    bool *bad = schema_bad_keys(d, map, ctx);

    schema_defaults(items, n, vals);
    for (size_t p = 0; p < ynode_len(map); p++) {
        const yaml_node_t *key = ynode_key(d, map, p), *value = ynode_value(d, map, p);
        size_t i;

        if (bad[p]) {
            continue;
        }
        i = schema_find(items, n, ynode_str(key));
        if (i == n) {
            schema_unknown(d, key, ctx, items, n);
            continue;
        }
        vals[i].key = key;
        if (!ynode_is_null(value) && !schema_value(d, value, ctx, &items[i], &vals[i])) {
            vals[i].num = items[i].def;
            vals[i].real = (double)items[i].def;
            vals[i].str = items[i].defstr;
        }
    }
    free(bad);
    schema_required(d, where ? where : map, ctx, items, n, vals);
    return ynode_errors(d) - before;
}
