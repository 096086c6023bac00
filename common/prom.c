/*
 * prom: the Prometheus text exposition format 0.0.4; see prom.h.
 */
#include "common/prom.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void prom_init(prom_t *p, FILE *f)
{
    p->f = f;
    p->family = NULL;
}

/* A label value or help text: backslash and newline escaped, and in a
 * label value the double quote too. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
    const char *stops = quote ? "\\\n\"" : "\\\n";

    /* Runs that need no escape are written whole: label values are long
     * and rarely hold one. */
    for (;;) {
        size_t run = strcspn(s, stops);
        fwrite(s, 1, run, f);
        s += run;
        if (*s == '\0') {
            return;
        }
        fputs(*s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"", f);
        s++;
    }
}

void prom_family(prom_t *p, const char *name, prom_type_t type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram", "untyped"};

    fprintf(p->f, "# HELP %s ", name);
    put_escaped(p->f, help, false);
    fprintf(p->f, "\n# TYPE %s %s\n", name, types[type]);
    p->family = name;
}

/* The sample's name and labels, up to the value. `extra` is one more
 * label (name, value) written last, for a histogram's "le"; NULL: none. */
static void put_head(prom_t *p, const char *name, va_list ap, const char *const *extra)
{
    size_t flen = p->family != NULL ? strlen(p->family) : 0;

    /* A sample belongs to the family just opened (or, for a histogram, is
     * one of its _bucket, _sum and _count series). */
    assert(p->family != NULL && strncmp(name, p->family, flen) == 0);
    (void)flen;
    fputs(name, p->f);
    const char *sep = "{";
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        fprintf(p->f, "%s%s=\"", sep, k);
        put_escaped(p->f, v != NULL ? v : "", true);
        fputc('"', p->f);
        sep = ",";
    }
    if (extra != NULL) {
        fprintf(p->f, "%s%s=\"%s\"", sep, extra[0], extra[1]);
        sep = ",";
    }
    if (sep[0] == ',') {
        fputc('}', p->f);
    }
}

/* The shortest of %.15g, %.16g and %.17g that reads back as `v`: a time
 * of 1796208664.06 prints so, not as 1796208664.0599999. */
static void fmt_double(char *buf, size_t size, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

static void put_double(FILE *f, double v)
{
    char buf[40];

    if (isnan(v)) {
        fputs("NaN", f);
    } else if (isinf(v)) {
        fputs(v > 0 ? "+Inf" : "-Inf", f);
    } else {
        fmt_double(buf, sizeof(buf), v);
        fputs(buf, f);
    }
}

void prom_u64(prom_t *p, const char *name, uint64_t value, ...)
{
    va_list ap;

    va_start(ap, value);
    put_head(p, name, ap, NULL);
    va_end(ap);
    fprintf(p->f, " %" PRIu64 "\n", value);
}

void prom_i64(prom_t *p, const char *name, int64_t value, ...)
{
    va_list ap;

    va_start(ap, value);
    put_head(p, name, ap, NULL);
    va_end(ap);
    fprintf(p->f, " %" PRId64 "\n", value);
}

void prom_double(prom_t *p, const char *name, double value, ...)
{
    va_list ap;

    va_start(ap, value);
    put_head(p, name, ap, NULL);
    va_end(ap);
    fputc(' ', p->f);
    put_double(p->f, value);
    fputc('\n', p->f);
}

void prom_states(prom_t *p, const char *name, const char *(*word)(unsigned), unsigned n,
                 unsigned now, ...)
{
    va_list ap;

    for (unsigned i = 0; i < n; i++) {
        const char *extra[2] = {"state", word(i)};
        va_start(ap, now);
        put_head(p, name, ap, extra);
        va_end(ap);
        fprintf(p->f, " %d\n", i == now);
    }
}

/* One series of a histogram: `name` with `suffix`, the caller's labels
 * from `labels` (copied: each series reads them again) and `extra`. */
static void put_series(prom_t *p, const char *name, const char *suffix, va_list labels,
                       const char *const *extra, const char *value)
{
    char full[256];
    va_list ap;

    snprintf(full, sizeof(full), "%s%s", name, suffix);
    va_copy(ap, labels);
    put_head(p, full, ap, extra);
    va_end(ap);
    fprintf(p->f, " %s\n", value);
}

void prom_histogram(prom_t *p, const char *name, const double *le, const uint64_t *counts,
                    unsigned n, double sum, ...)
{
    va_list ap;
    uint64_t cum = 0;
    char bound[32], value[32];

    va_start(ap, sum);
    for (unsigned i = 0; i <= n; i++) {
        cum += counts[i];
        if (i < n) {
            snprintf(bound, sizeof(bound), "%g", le[i]);
        } else {
            snprintf(bound, sizeof(bound), "+Inf");
        }
        const char *extra[2] = {"le", bound};
        snprintf(value, sizeof(value), "%" PRIu64, cum);
        put_series(p, name, "_bucket", ap, extra, value);
    }
    fmt_double(value, sizeof(value), isfinite(sum) ? sum : 0.0);
    put_series(p, name, "_sum", ap, NULL, value);
    snprintf(value, sizeof(value), "%" PRIu64, cum);
    put_series(p, name, "_count", ap, NULL, value);
    va_end(ap);
}
