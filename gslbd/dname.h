/*
 * dname: domain names in uncompressed wire form (RFC 1035 3.1), lower case.
 *
 * Helpers shared by the compiler (load time) and the query path. They never
 * allocate. Names are at most 255 bytes including the root label.
 */
#ifndef GSLB_DNAME_H
#define GSLB_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAX        255
#define DNAME_MAX_LABELS 128

/* FNV-1a over the bytes of an already lower-cased wire name. */
static inline uint32_t dname_hash(const uint8_t *name, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ name[i]) * 16777619u;
    }
    return h;
}

static inline uint8_t dname_lower(uint8_t c)
{
    return (uint8_t)((unsigned)c - 'A' < 26u ? c + 32 : c);
}

/* Length of a valid uncompressed wire name (through the root label). */
size_t dname_len(const uint8_t *name);

/* Offsets of each label start in name, the root excluded; returns the count. */
unsigned dname_labels(const uint8_t *name, uint8_t offs[DNAME_MAX_LABELS]);

/* True if `name` equals `parent` or lies below it (both lower case). */
bool dname_is_sub(const uint8_t *name, size_t len, const uint8_t *parent, size_t plen);

/* Print a wire name as text with a trailing dot into buf (at least 1010 bytes
 * for the worst case of escaped bytes). Returns buf. */
char *dname_to_text(const uint8_t *name, char *buf, size_t size);

#endif
