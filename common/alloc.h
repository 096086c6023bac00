/*
 * alloc: the one checked allocation family of gslb.
 *
 * Every function here either returns memory or logs "out of memory" and
 * aborts: configuration, start-up and reload code may stop the process when
 * the machine has no memory left, and would only turn the failure into a
 * worse one by carrying on. The query path never allocates, so it never
 * calls these. The caller owns what is returned and frees it with free().
 * (gdnsd's include/gdnsd/alloc.h is the model.)
 */
#ifndef GSLB_ALLOC_H
#define GSLB_ALLOC_H

#include <stddef.h>

#include "common/log.h"

#define ATTR_ALLOC __attribute__((malloc, returns_nonnull, warn_unused_result))

void *xmalloc(size_t size) ATTR_ALLOC;
/* Zeroed, n * size bytes, the product checked for overflow. */
void *xcalloc(size_t n, size_t size) ATTR_ALLOC;
/* realloc(p, n * size), the product checked for overflow. */
void *xreallocarray(void *p, size_t n, size_t size)
    __attribute__((returns_nonnull, warn_unused_result));
char *xstrdup(const char *s) ATTR_ALLOC ATTR_NONNULL;
/* NULL for NULL, else a copy: for optional strings. */
char *xstrdup_opt(const char *s) __attribute__((malloc, warn_unused_result));
void *xmemdup(const void *p, size_t size) ATTR_ALLOC;
char *xasprintf(const char *fmt, ...) ATTR_ALLOC ATTR_PRINTF(1, 2);

/* Log and abort: for any other resource a load cannot do without. */
__attribute__((noreturn)) void alloc_fail(const char *what);

#endif
