/*
 * lparse: load figures out of status pages; see lparse.h.
 *
 * Written from the formats' documentation: nginx's ngx_http_stub_status_module
 * page, HAProxy's management guide (section "CSV format": a "# " and the
 * column names, then one row per proxy and server, fields quoted as RFC 4180
 * does when they hold a comma), and Prometheus' "Exposition formats" (text
 * format 0.0.4: name, optional {labels}, value, optional timestamp, blanks
 * between; label values escape \\, \" and \n; values may be NaN and +-Inf).
 *
 * Pages are read line by line in place; nothing is allocated. A quoted
 * excerpt of the page in a sentence is cut short and loses control bytes,
 * so a hostile page cannot forge log lines or control-protocol lines.
 */
#include "healthd/lparse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LPARSE_EXCERPT 40   /* bytes of the page quoted in a sentence */
#define LPARSE_FIELD   256  /* longest CSV field compared (HAProxy names are shorter) */
#define LPARSE_FIGURE  1e15 /* a figure at or above this is no count of connections */
#define LPARSE_NUM_MAX 64   /* longest number text */

/* A view of part of the page; a selector's parts come in the same
 * (zone_metric_parse()). */
typedef zone_span_t lparse_span_t;

/* Cursor over the page's lines. */
typedef struct {
    const char *p, *end;
    size_t lineno;
} lparse_lines_t;

static int lparse_fail(char *why, size_t size, const char *fmt, ...) ATTR_PRINTF(3, 4);

static int lparse_fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (size > 0) {
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* The first LPARSE_EXCERPT bytes of a span, printable ASCII only (anything
 * else becomes '?'), with "..." when cut. */
static const char *lparse_excerpt(lparse_span_t v, char *out, size_t size)
{
    size_t n = v.n < LPARSE_EXCERPT ? v.n : LPARSE_EXCERPT, k = 0;

    for (size_t i = 0; i < n && k + 4 < size; i++) {
        unsigned char c = (unsigned char)v.s[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (n < v.n && k + 4 <= size) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* The next line, without its "\n" or "\r\n"; false at the end. */
static bool lparse_next(lparse_lines_t *c, lparse_span_t *line)
{
    const char *nl;

    if (c->p >= c->end) {
        return false;
    }
    nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    line->s = c->p;
    line->n = (size_t)((nl ? nl : c->end) - c->p);
    c->p = nl ? nl + 1 : c->end;
    c->lineno++;
    if (line->n > 0 && line->s[line->n - 1] == '\r') {
        line->n--;
    }
    return true;
}

static bool lparse_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void lparse_skip_blanks(lparse_span_t *v)
{
    while (v->n > 0 && lparse_blank(*v->s)) {
        v->s++;
        v->n--;
    }
}

static void lparse_trim_end(lparse_span_t *v)
{
    while (v->n > 0 && lparse_blank(v->s[v->n - 1])) {
        v->n--;
    }
}

static bool lparse_starts(lparse_span_t v, const char *prefix)
{
    size_t n = strlen(prefix);

    return v.n >= n && memcmp(v.s, prefix, n) == 0;
}

/* A count: digits only, below LPARSE_FIGURE. */
static bool lparse_count(lparse_span_t v, double *out)
{
    double x = 0;

    if (v.n == 0 || v.n > 15) {
        return false;
    }
    for (size_t i = 0; i < v.n; i++) {
        if (v.s[i] < '0' || v.s[i] > '9') {
            return false;
        }
        x = x * 10 + (v.s[i] - '0');
    }
    *out = x;
    return true;
}

/* ------------------------------------------------------------ nginx */

int lparse_nginx(const char *page, size_t len, double *figure, char *why, size_t size)
{
    static const char key[] = "Active connections:";
    lparse_lines_t c = {page, page + len, 0};
    lparse_span_t line;
    char ex[LPARSE_EXCERPT + 8];

    while (lparse_next(&c, &line)) {
        if (!lparse_starts(line, key)) {
            continue;
        }
        line.s += sizeof(key) - 1;
        line.n -= sizeof(key) - 1;
        lparse_skip_blanks(&line);
        lparse_trim_end(&line);
        if (!lparse_count(line, figure)) {
            return lparse_fail(why, size,
                               "stub_status line %zu: 'Active connections:' is "
                               "followed by '%s', not a count",
                               c.lineno, lparse_excerpt(line, ex, sizeof(ex)));
        }
        return 0;
    }
    return lparse_fail(why, size, "no 'Active connections:' line: not an nginx stub_status page");
}

/* ------------------------------------------------------------ haproxy */

/* Field k of a CSV line into out (unquoted, NUL-terminated). False when the
 * line has no field k, or it is longer than size - 1, holds a NUL byte or is
 * badly quoted. */
static bool lparse_csv_field(lparse_span_t line, size_t k, char *out, size_t size)
{
    size_t i = 0, field = 0, n = 0;

    while (field < k) { /* skip k fields */
        bool quoted = false;
        for (; i < line.n && (quoted || line.s[i] != ','); i++) {
            quoted ^= line.s[i] == '"';
        }
        if (i >= line.n) {
            return false;
        }
        i++;
        field++;
    }
    if (i < line.n && line.s[i] == '"') {
        for (i++; i < line.n; i++) {
            if (line.s[i] == '"' && (i + 1 >= line.n || line.s[i + 1] != '"')) {
                break;
            }
            i += line.s[i] == '"'; /* "" is one quote */
            if (n + 1 >= size || line.s[i] == '\0') {
                return false;
            }
            out[n++] = line.s[i];
        }
        if (i >= line.n || (i + 1 < line.n && line.s[i + 1] != ',')) {
            return false;
        }
    } else {
        for (; i < line.n && line.s[i] != ','; i++) {
            if (n + 1 >= size || line.s[i] == '\0') {
                return false;
            }
            out[n++] = line.s[i];
        }
    }
    out[n] = '\0';
    return true;
}

/* The index of the column named `name` in the header (after "# "). */
static bool lparse_csv_column(lparse_span_t header, const char *name, size_t *col)
{
    char f[LPARSE_FIELD];

    for (size_t k = 0; lparse_csv_field(header, k, f, sizeof(f)); k++) {
        if (strcmp(f, name) == 0) {
            *col = k;
            return true;
        }
    }
    return false;
}

/* The first line must be the header: "# pxname,svname,...". */
static int lparse_csv_header(lparse_lines_t *c, size_t col[3], char *why, size_t size)
{
    static const char *const names[3] = {"pxname", "svname", "scur"};
    lparse_span_t line = {"", 0};
    char ex[LPARSE_EXCERPT + 8];

    while (lparse_next(c, &line) && line.n == 0) {
    }
    if (!lparse_starts(line, "# ")) {
        return lparse_fail(why, size,
                           "not a HAProxy stats CSV (it starts '%s', not '# pxname,"
                           "svname,...'; does the URL end in ;csv?)",
                           lparse_excerpt(line, ex, sizeof(ex)));
    }
    line.s += 2;
    line.n -= 2;
    for (int i = 0; i < 3; i++) {
        if (!lparse_csv_column(line, names[i], &col[i])) {
            return lparse_fail(why, size, "the stats CSV header has no %s column", names[i]);
        }
    }
    return 0;
}

int lparse_haproxy(const char *page, size_t len, const char *proxy, bool frontend, double *figure,
                   char *why, size_t size)
{
    const char *sv = frontend ? "FRONTEND" : "BACKEND";
    lparse_lines_t c = {page, page + len, 0};
    lparse_span_t line;
    size_t col[3]; /* pxname, svname, scur */
    char px[LPARSE_FIELD], name[LPARSE_FIELD], scur[LPARSE_FIELD];

    if (lparse_csv_header(&c, col, why, size) < 0) {
        return -EINVAL;
    }
    while (lparse_next(&c, &line)) {
        if (!lparse_csv_field(line, col[0], px, sizeof(px)) || strcmp(px, proxy) != 0 ||
            !lparse_csv_field(line, col[1], name, sizeof(name)) || strcmp(name, sv) != 0) {
            continue;
        }
        if (!lparse_csv_field(line, col[2], scur, sizeof(scur))) {
            return lparse_fail(why, size, "stats CSV line %zu (%s/%s) has no scur field", c.lineno,
                               proxy, sv);
        }
        if (!lparse_count((lparse_span_t){scur, strlen(scur)}, figure)) {
            char ex[LPARSE_EXCERPT + 8];
            return lparse_fail(why, size, "stats CSV line %zu (%s/%s): scur '%s' is not a count",
                               c.lineno, proxy, sv,
                               lparse_excerpt((lparse_span_t){scur, strlen(scur)}, ex, sizeof(ex)));
        }
        return 0;
    }
    return lparse_fail(why, size, "no row %s/%s in the stats CSV", proxy, sv);
}

/* ------------------------------------------------------------ prometheus */

static bool lparse_name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* A metric name (colon true) or label name at the start of v: its length. */
static size_t lparse_name_len(lparse_span_t v, bool colon)
{
    size_t i = 0;

    while (i < v.n && lparse_name_char(v.s[i], i == 0, colon)) {
        i++;
    }
    return i;
}

/* A quoted label value at the start of v (at its opening quote): the span
 * between the quotes, escapes kept; *used the bytes taken with the quotes.
 * Only \\, \" and \n may follow a backslash (the exposition format). */
static bool lparse_quoted(lparse_span_t v, lparse_span_t *out, size_t *used)
{
    if (v.n == 0 || v.s[0] != '"') {
        return false;
    }
    for (size_t i = 1; i < v.n; i++) {
        if (v.s[i] == '\\') {
            if (++i >= v.n || strchr("\\\"n", v.s[i]) == NULL) {
                return false;
            }
        } else if (v.s[i] == '"') {
            *out = (lparse_span_t){v.s + 1, i - 1};
            *used = i + 1;
            return true;
        }
    }
    return false;
}

/* Two escaped label values equal once unescaped (\n is a newline, \c is c):
 * a sample's and its selector's. */
static bool lparse_value_eq(lparse_span_t a, lparse_span_t b)
{
    size_t i = 0, j = 0;

    while (i < a.n && j < b.n) {
        char x = a.s[i], y = b.s[j];
        if (x == '\\') {
            x = a.s[++i] == 'n' ? '\n' : a.s[i];
        }
        if (y == '\\') {
            y = b.s[++j] == 'n' ? '\n' : b.s[j];
        }
        if (x != y) {
            return false;
        }
        i++;
        j++;
    }
    return i == a.n && j == b.n;
}

static void lparse_advance(lparse_span_t *v, size_t n)
{
    v->s += n;
    v->n -= n;
}

/* Parse a sample's "{name="value", ...}" at the start of v (at the brace),
 * blanks allowed between tokens and a trailing comma before the brace, into
 * at most `max` pairs. */
static bool lparse_labels(lparse_span_t *v, lparse_span_t *label, lparse_span_t *value, size_t max,
                          size_t *n)
{
    size_t k = 0, len, used;

    lparse_advance(v, 1);
    for (;;) {
        lparse_skip_blanks(v);
        if (v->n > 0 && v->s[0] == '}') {
            lparse_advance(v, 1);
            *n = k;
            return true;
        }
        if ((len = lparse_name_len(*v, false)) == 0 || k == max) {
            return false;
        }
        label[k] = (lparse_span_t){v->s, len};
        lparse_advance(v, len);
        lparse_skip_blanks(v);
        if (v->n == 0 || v->s[0] != '=') {
            return false;
        }
        lparse_advance(v, 1);
        lparse_skip_blanks(v);
        if (!lparse_quoted(*v, &value[k++], &used)) {
            return false;
        }
        lparse_advance(v, used);
        lparse_skip_blanks(v);
        if (v->n > 0 && v->s[0] == ',') {
            lparse_advance(v, 1);
        } else if (v->n == 0 || v->s[0] != '}') {
            return false;
        }
    }
}

/* A sample value as the exposition format writes it (Go's float syntax:
 * decimals, exponents, NaN, +Inf, -Inf). */
static bool lparse_value(lparse_span_t v, double *out)
{
    char num[LPARSE_NUM_MAX + 1];
    char *end;

    if (v.n == 0 || v.n > LPARSE_NUM_MAX || memchr(v.s, '\0', v.n) != NULL) {
        return false;
    }
    memcpy(num, v.s, v.n);
    num[v.n] = '\0';
    /* strtod would also take hexadecimal and "infinity": not in the format. */
    if (strpbrk(num, "xXyY") != NULL) {
        return false;
    }
    *out = strtod(num, &end);
    return *end == '\0';
}

/* The length of the longest prefix of v without a byte of `stop`. */
static size_t lparse_cspan(lparse_span_t v, const char *stop)
{
    size_t i = 0;

    while (i < v.n && (v.s[i] == '\0' || strchr(stop, v.s[i]) == NULL)) {
        i++;
    }
    return i;
}

/* An optional timestamp: an integer, in milliseconds. */
static bool lparse_timestamp(lparse_span_t v)
{
    if (v.n > 0 && v.s[0] == '-') {
        lparse_advance(&v, 1);
    }
    if (v.n == 0 || v.n > 19) {
        return false;
    }
    for (size_t i = 0; i < v.n; i++) {
        if (v.s[i] < '0' || v.s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* Whether the sample's labels include every label of the selector. */
static bool lparse_labels_match(const zone_metric_t *sel, const lparse_span_t *label,
                                const lparse_span_t *value, size_t n)
{
    for (size_t i = 0; i < sel->n; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++) {
            found = label[j].n == sel->label[i].n &&
                    memcmp(label[j].s, sel->label[i].s, label[j].n) == 0 &&
                    lparse_value_eq(value[j], sel->value[i]);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* The value of one sample of the metric (v is the line after its name)
 * and whether its labels match the selector's; false when the line is
 * malformed (*what says how). */
static bool lparse_sample(const zone_metric_t *sel, lparse_span_t v, double *out, bool *match,
                          const char **what)
{
    /* A sample may carry any number of labels; only as many as a long line
     * holds fit in a page line worth reading. */
    lparse_span_t label[64], value[64];
    size_t n = 0;
    const char *sp;

    lparse_skip_blanks(&v);
    if (v.n > 0 && v.s[0] == '{' && !lparse_labels(&v, label, value, 64, &n)) {
        *what = "bad labels";
        return false;
    }
    lparse_skip_blanks(&v);
    lparse_trim_end(&v);
    sp = v.s + lparse_cspan(v, " \t");
    sp = sp < v.s + v.n ? sp : NULL;
    lparse_span_t num = {v.s, sp ? (size_t)(sp - v.s) : v.n};
    if (!lparse_value(num, out)) {
        *what = num.n == 0 ? "no value" : "bad value";
        return false;
    }
    if (sp != NULL) {
        lparse_span_t ts = {sp, v.n - num.n};
        lparse_skip_blanks(&ts);
        if (!lparse_timestamp(ts)) {
            *what = "bad timestamp";
            return false;
        }
    }
    *match = lparse_labels_match(sel, label, value, n);
    return true;
}

/* Sum the samples the selector names; *found counts them. */
static int lparse_prom_sum(const zone_metric_t *sel, const char *selector, lparse_lines_t *c,
                           double *sum, size_t *found, char *why, size_t size)
{
    lparse_span_t line;
    const char *what = NULL;
    char ex[LPARSE_EXCERPT + 8];

    while (lparse_next(c, &line)) {
        lparse_skip_blanks(&line);
        if (line.n == 0 || line.s[0] == '#' || lparse_name_len(line, true) != sel->name.n ||
            memcmp(line.s, sel->name.s, sel->name.n) != 0) {
            continue; /* a comment, HELP or TYPE, or another metric */
        }
        double x;
        bool match;
        lparse_advance(&line, sel->name.n);
        if (!lparse_sample(sel, line, &x, &match, &what)) {
            lparse_span_t whole = {line.s - sel->name.n, line.n + sel->name.n};
            return lparse_fail(why, size, "metrics line %zu: %s in '%s'", c->lineno, what,
                               lparse_excerpt(whole, ex, sizeof(ex)));
        }
        if (!match) {
            continue;
        }
        if (!isfinite(x)) {
            return lparse_fail(why, size, "metrics line %zu: %s is %s, not a figure", c->lineno,
                               selector,
                               isnan(x) ? "NaN"
                               : x > 0  ? "+Inf"
                                        : "-Inf");
        }
        *sum += x;
        (*found)++;
    }
    return 0;
}

int lparse_prometheus(const char *page, size_t len, const char *selector, double *figure, char *why,
                      size_t size)
{
    lparse_lines_t c = {page, page + len, 0};
    zone_metric_t sel;
    double sum = 0;
    size_t found = 0;

    if (!zone_metric_parse(selector, &sel)) {
        return lparse_fail(why, size,
                           "load.metric '%s' is not a metric name with optional "
                           "{label=\"value\",...}",
                           selector);
    }
    if (lparse_prom_sum(&sel, selector, &c, &sum, &found, why, size) < 0) {
        return -EINVAL;
    }
    if (found == 0) {
        return lparse_fail(why, size, "no sample of %s on the metrics page", selector);
    }
    if (sum < 0 || sum >= LPARSE_FIGURE) {
        return lparse_fail(why, size, "%s sums to %g, not a load figure", selector, sum);
    }
    *figure = sum;
    return 0;
}

int lparse_page(const zone_load_t *l, const char *page, size_t len, double *figure, char *why,
                size_t size)
{
    switch (l->source) {
    case LOAD_NGINX:
        return lparse_nginx(page, len, figure, why, size);
    case LOAD_HAPROXY:
        return lparse_haproxy(page, len, l->frontend ? l->frontend : l->backend,
                              l->frontend != NULL, figure, why, size);
    case LOAD_PROMETHEUS:
        return lparse_prometheus(page, len, l->metric, figure, why, size);
    }
    return lparse_fail(why, size, "unknown load source %d", (int)l->source);
}
