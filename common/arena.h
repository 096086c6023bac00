/*
 * arena: a bump allocator for data that lives and dies together (a compiled
 * snapshot). Allocation is a pointer bump inside large chunks; there is no
 * per-object free, only arena_free() of everything. It aborts on
 * out-of-memory: it is used at load time only, never per query.
 */
#ifndef GSLB_ARENA_H
#define GSLB_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;

typedef struct {
    arena_chunk_t *head;
    size_t used, cap; /* within head */
    size_t total;     /* bytes obtained from malloc, for reports */
} arena_t;

void arena_init(arena_t *a);
/* Zeroed memory aligned to 16 bytes; never NULL. */
void *arena_alloc(arena_t *a, size_t size);
void *arena_dup(arena_t *a, const void *src, size_t size);
void arena_free(arena_t *a);

#endif
