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
#include <string.h>

#define DNAME_MAX        255
#define DNAME_MAX_LABELS 128

/* Words loaded from memory with memcpy, with their bytes counted in memory
 * order whatever the host's byte order: the hash and the query path's word
 * copies (query.c) speak of "the first n bytes" of a word. */

/* The first n bytes of w (n from 1 to 8), zeros after them. */
static inline uint64_t dname_word_first(uint64_t w, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return w & (~0ull >> (64 - 8 * n));
#else
    return w & (~0ull << (64 - 8 * n));
#endif
}

/* w without its first n bytes (n from 0 to 7): the rest moves to the front,
 * zeros follow. */
static inline uint64_t dname_word_skip(uint64_t w, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return w >> (8 * n);
#else
    return w << (8 * n);
#endif
}

/* The hash reads the name as eight-byte words in memory order, the last one
 * zero-padded. query.c computes it while copying the question name, from
 * these same pieces; the value must stay equal to dname_hash's. */
#define DNAME_HASH_SEED 0x9e3779b97f4a7c15ull

static inline uint64_t dname_hash_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

/* Hash of an already lower-cased wire name, eight bytes at a time (the query
 * path hashes every name it is asked, and suffixes of names it does not know). */
static inline uint32_t dname_hash(const uint8_t *name, size_t len)
{
    uint64_t h = DNAME_HASH_SEED ^ len, w;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&w, name + i, 8);
        h = dname_hash_step(h, w);
    }
    if (i < len && len >= 8) {
        /* The last eight bytes of the name, less those already hashed: this
         * reads no further than the name. */
        memcpy(&w, name + len - 8, 8);
        h = dname_hash_step(h, dname_word_skip(w, i + 8 - len));
    } else if (i < len) {
        uint8_t pad[8] = {0};
        memcpy(pad, name, len);
        memcpy(&w, pad, 8);
        h = dname_hash_step(h, w);
    }
    return (uint32_t)h;
}

/* Whether two names of `len` bytes are equal, both stored zero-padded to
 * whole eight-byte words (the query's question name, query.h, and the
 * snapshot's node names are): a word at a time, where memcmp() costs a
 * library call and its set-up on every query. */
static inline bool dname_equal_padded(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint64_t diff = 0;

    for (size_t i = 0; i < len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }
    return diff == 0;
}

/* Lower-case the ASCII letters of eight bytes at once (bytes outside A-Z,
 * non-ASCII ones included, are kept). Wire-name length bytes are at most 63
 * and never look like letters, so a whole wire name can go through this. */
static inline uint64_t dname_lower8(uint64_t x)
{
    uint64_t low7 = x & 0x7f7f7f7f7f7f7f7full;
    uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3full; /* top bit: byte >= 'A' */
    uint64_t gt_z = low7 + 0x2525252525252525ull; /* top bit: byte > 'Z' */
    uint64_t upper = ge_a & ~gt_z & ~x & 0x8080808080808080ull;

    return x | (upper >> 2); /* 0x80 >> 2 = 0x20, the case bit */
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
