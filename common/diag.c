/*
 * diag: collected messages about input; see diag.h.
 */
#include "common/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* One message, one line: control characters a file may carry (a YAML string
 * can hold any) are shown escaped. */
static char *diag_escape(const char *s)
{
    char *out = xmalloc(strlen(s) * 4 + 1), *p = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f) {
            p += sprintf(p, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\x%02x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    return out;
}

static void diag_push(diag_t *d, char *line, unsigned flags)
{
    /* Doubled at each power of two: a broken zone file may have thousands. */
    if ((d->n & (d->n - 1)) == 0) {
        size_t cap = d->n ? 2 * d->n : 1;

        d->lines = xreallocarray(d->lines, cap, sizeof(*d->lines));
        d->flags = xreallocarray(d->flags, cap, sizeof(*d->flags));
    }
    d->lines[d->n] = line;
    d->flags[d->n++] = (unsigned char)flags;
}

static void diag_add(diag_t *d, const diag_mark_t *mark, bool warning, const char *fmt, va_list ap)
{
    const char *kind = warning ? "warning" : "error";
    char *msg, *text, *line;

    if (vasprintf(&msg, fmt, ap) < 0) {
        alloc_fail("vasprintf");
    }
    text = diag_escape(msg);
    free(msg);
    if (mark == NULL || mark->file == NULL) {
        line = xasprintf("%s: %s", kind, text);
    } else if (mark->line == 0) {
        line = xasprintf("%s: %s: %s", mark->file, kind, text);
    } else {
        line = xasprintf("%s:%u:%u: %s: %s", mark->file, mark->line, mark->col, kind, text);
    }
    free(text);
    diag_push(d, line,
              (warning ? DIAG_WARNING : 0) |
                  (mark == NULL || mark->file == NULL ? DIAG_NOFILE : 0));
}

void diag_error(diag_t *d, const diag_mark_t *mark, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_add(d, mark, false, fmt, ap);
    va_end(ap);
    d->errors++;
}

void diag_warning(diag_t *d, const diag_mark_t *mark, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_add(d, mark, true, fmt, ap);
    va_end(ap);
}

void diag_move(diag_t *to, diag_t *from)
{
    for (size_t i = 0; i < from->n; i++) {
        diag_push(to, from->lines[i], from->flags[i]);
    }
    to->errors += from->errors;
    free(from->lines);
    free(from->flags);
    memset(from, 0, sizeof(*from));
}

void diag_log(diag_t *d, log_level_t level)
{
    for (size_t i = 0; i < d->n; i++) {
        log_level_t at = d->flags[i] & DIAG_WARNING ? LOG_LEVEL_WARN : level;
        if (d->flags[i] & DIAG_NOFILE) {
            log_msg(at, "%s", strchr(d->lines[i], ' ') + 1); /* after "error: " */
        } else {
            log_line(at, d->lines[i]);
        }
    }
    diag_clear(d);
}

void diag_clear(diag_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->lines[i]);
    }
    free(d->lines);
    free(d->flags);
    memset(d, 0, sizeof(*d));
}
