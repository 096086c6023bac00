/*
 * mkworld-mmdb.c - the parts of geo/mkworld that write MaxMind DB data: a growable byte buffer,
 * the type encodings of the data section, and a store that keeps every item once (an item
 * encoded again is dropped and the first copy's offset returned, so records and the maps they
 * share can be pointed to). Also the tool's fatal-error and allocation helpers.
 *
 * It knows nothing of GeoIP2 fields or of the search tree; geo/mkworld.c decides what to store.
 * Encodings follow the "MaxMind DB File Format Specification" 2.0, section "Output Data
 * Section": a control byte (type in the top 3 bits, extended types in a second byte), sizes
 * from 29 on in 1-3 extra bytes, big-endian numbers in as few bytes as they need.
 */
#include "geo/mkworld.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void die(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        die("out of memory");
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        die("out of memory");
    }
    return p;
}

/* ---- growable byte buffer ------------------------------------------------------------ */

void buf_put(buf_t *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

void buf_byte(buf_t *b, uint8_t c)
{
    buf_put(b, &c, 1);
}

/* ---- mmdb data encoding ---------------------------------------------------------------- */

/* A control byte for TYPE and SIZE, with the extended-type byte and size bytes it needs. */
void enc_ctrl(buf_t *b, int type, size_t size)
{
    uint8_t first = (uint8_t)((type <= 7 ? type : 0) << 5);
    uint8_t ext[3];
    size_t n = 0;

    if (size < 29) {
        first |= (uint8_t)size;
    } else if (size < 29 + 256) {
        first |= 29;
        ext[n++] = (uint8_t)(size - 29);
    } else if (size < 285 + 65536) {
        first |= 30;
        ext[n++] = (uint8_t)((size - 285) >> 8);
        ext[n++] = (uint8_t)(size - 285);
    } else {
        size -= 65821;
        first |= 31;
        ext[n++] = (uint8_t)(size >> 16);
        ext[n++] = (uint8_t)(size >> 8);
        ext[n++] = (uint8_t)size;
    }
    buf_byte(b, first);
    if (type > 7) {
        buf_byte(b, (uint8_t)(type - 7));
    }
    buf_put(b, ext, n);
}

void enc_str(buf_t *b, const char *s, size_t n)
{
    enc_ctrl(b, T_UTF8, n);
    buf_put(b, s, n);
}

/* Unsigned integers are stored big-endian in as few bytes as the value needs. */
void enc_uint(buf_t *b, int type, uint64_t v)
{
    uint8_t be[8];
    size_t n = 0;

    for (uint64_t t = v; t; t >>= 8) {
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        be[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    enc_ctrl(b, type, n);
    buf_put(b, be, n);
}

void enc_double(buf_t *b, double d)
{
    uint64_t v;
    uint8_t be[8];

    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    enc_ctrl(b, T_DOUBLE, 8);
    buf_put(b, be, 8);
}

/* A pointer to OFF in the data section, in the shortest of the four pointer sizes. */
void enc_ptr(buf_t *b, uint32_t off)
{
    uint8_t out[5];
    size_t n;

    if (off < 2048) {
        out[0] = (uint8_t)(0x20 | (off >> 8));
        out[1] = (uint8_t)off;
        n = 2;
    } else if (off < 2048 + 524288) {
        off -= 2048;
        out[0] = (uint8_t)(0x28 | (off >> 16));
        out[1] = (uint8_t)(off >> 8);
        out[2] = (uint8_t)off;
        n = 3;
    } else if (off < 526336u + 134217728u) {
        off -= 526336;
        out[0] = (uint8_t)(0x30 | (off >> 24));
        out[1] = (uint8_t)(off >> 16);
        out[2] = (uint8_t)(off >> 8);
        out[3] = (uint8_t)off;
        n = 4;
    } else {
        out[0] = 0x38;
        for (int i = 0; i < 4; i++) {
            out[1 + i] = (uint8_t)(off >> (24 - 8 * i));
        }
        n = 5;
    }
    buf_put(b, out, n);
}

/* ---- the data section, every item stored once ------------------------------------------ */

uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static void store_grow(store_t *s)
{
    size_t n = s->nslots ? s->nslots * 2 : 1 << 16;
    slot_t *slots = xcalloc(n, sizeof *slots);

    for (size_t i = 0; i < s->nslots; i++) {
        if (s->slots[i].len) {
            size_t j = s->slots[i].hash & (n - 1);
            while (slots[j].len) {
                j = (j + 1) & (n - 1);
            }
            slots[j] = s->slots[i];
        }
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
}

/* The item encoded at the end of the data section from START on: returns the offset of an
 * equal item stored earlier (and drops the new bytes), or START, keeping them. *NEW says
 * which. */
uint32_t store_intern(store_t *s, size_t start, bool *isnew)
{
    const uint8_t *item = s->data.p + start;
    uint32_t len = (uint32_t)(s->data.len - start);
    uint64_t h = hash_bytes(item, len);

    if (s->used * 2 >= s->nslots) {
        store_grow(s);
    }
    size_t j = h & (s->nslots - 1);
    for (; s->slots[j].len; j = (j + 1) & (s->nslots - 1)) {
        slot_t *sl = &s->slots[j];
        if (sl->hash == h && sl->len == len && !memcmp(s->data.p + sl->off, item, len)) {
            s->data.len = start;
            if (isnew) {
                *isnew = false;
            }
            return sl->off;
        }
    }
    if (start > UINT32_MAX / 2) {
        die("data section larger than 2 GB");
    }
    s->slots[j] = (slot_t){(uint32_t)start, len, h};
    s->used++;
    if (isnew) {
        *isnew = true;
    }
    return (uint32_t)start;
}
