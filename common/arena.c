/* arena: bump allocation in chunks; see arena.h. */
#include "common/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"

#define ARENA_CHUNK (256 * 1024)

/* Chunks come straight from mmap: freeing a snapshot hands its memory back
 * to the system at once, whatever malloc's thresholds have become. */
struct arena_chunk {
    arena_chunk_t *next;
    size_t bytes;
    max_align_t data[];
};

void arena_init(arena_t *a)
{
    memset(a, 0, sizeof(*a));
}

static void arena_grow(arena_t *a, size_t need)
{
    size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
    size_t bytes = sizeof(arena_chunk_t) + cap;
    arena_chunk_t *c =
        mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (c == MAP_FAILED) {
        alloc_fail("arena chunk");
    }
    c->bytes = bytes;
    c->next = a->head;
    a->head = c;
    a->used = 0;
    a->cap = cap;
    a->total += bytes;
}

void *arena_alloc(arena_t *a, size_t size)
{
    void *p;

    size = (size + 15) & ~(size_t)15;
    if (a->head == NULL || a->cap - a->used < size) {
        arena_grow(a, size);
    }
    p = (char *)a->head->data + a->used;
    a->used += size;
    return p; /* fresh mmap pages are zero, and nothing is reused */
}

void *arena_dup(arena_t *a, const void *src, size_t size)
{
    void *p = arena_alloc(a, size);

    memcpy(p, src, size);
    return p;
}

void arena_free(arena_t *a)
{
    arena_chunk_t *c = a->head, *next;

    while (c != NULL) {
        next = c->next;
        munmap(c, c->bytes);
        c = next;
    }
    arena_init(a);
}
