/*
 * alloc: checked allocation; see alloc.h.
 */
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void alloc_fail(const char *what)
{
    log_err("out of memory (%s): stopping", what);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        alloc_fail("malloc");
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL) {
        alloc_fail("calloc");
    }
    return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
    void *q = reallocarray(p, n ? n : 1, size ? size : 1);

    if (q == NULL) {
        alloc_fail("realloc");
    }
    return q;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL) {
        alloc_fail("strdup");
    }
    return d;
}

char *xstrdup_opt(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

void *xmemdup(const void *p, size_t size)
{
    void *d = xmalloc(size);

    memcpy(d, p, size);
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        alloc_fail("asprintf");
    }
    return s;
}
