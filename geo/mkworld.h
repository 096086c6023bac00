/*
 * mkworld.h - what the three files of geo/mkworld (the city-level world database builder) share:
 * the data-section writer (geo/mkworld-mmdb.c) and the text tables (geo/mkworld-tables.c).
 * A build tool, not part of any daemon library: the Makefile keeps these files out of
 * libgslb-geo.a. Everything here lives until the process exits; errors end it (die()).
 */
#ifndef GSLB_GEO_MKWORLD_H
#define GSLB_GEO_MKWORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROG "mkworld"

/* Prints "mkworld: MESSAGE" on standard error and exits 1. */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
/* realloc and calloc that die when memory runs out. */
void *xrealloc(void *p, size_t n);
void *xcalloc(size_t n, size_t size);

/* ---- geo/mkworld-mmdb.c: the data section ---- */

/* A growable byte buffer; {0} is an empty one. The caller frees p. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

void buf_put(buf_t *b, const void *src, size_t n);
void buf_byte(buf_t *b, uint8_t c);

/* mmdb data types (MaxMind DB format 2.0). */
enum {
    T_POINTER = 1,
    T_UTF8 = 2,
    T_DOUBLE = 3,
    T_UINT16 = 5,
    T_UINT32 = 6,
    T_MAP = 7,
    T_UINT64 = 9,
    T_ARRAY = 11,
};

/* Appends the control byte (and extended-type and size bytes) of an item of TYPE and SIZE:
 * the entry count for maps and arrays, the byte length otherwise. */
void enc_ctrl(buf_t *b, int type, size_t size);
void enc_str(buf_t *b, const char *s, size_t n);
void enc_uint(buf_t *b, int type, uint64_t v);
void enc_double(buf_t *b, double d);
/* A pointer to OFF, an offset in the data section, in the shortest form that holds it. */
void enc_ptr(buf_t *b, uint32_t off);

uint64_t hash_bytes(const uint8_t *p, size_t n);

/* The data section, with an index of the items in it; {0} is an empty one. */
typedef struct {
    uint32_t off, len;
    uint64_t hash;
} slot_t;

typedef struct {
    buf_t data;
    slot_t *slots;
    size_t nslots, used;
} store_t;

/* Takes the item encoded at the end of S->data from START on: returns the offset of an equal
 * item stored before (dropping the new bytes) or START (keeping them); *ISNEW (may be NULL)
 * says which. */
uint32_t store_intern(store_t *s, size_t start, bool *isnew);

/* ---- geo/mkworld-tables.c: the tables ---- */

/* One country of COUNTRIES.tsv, indexed by cc_index(); name NULL when it has no row. */
typedef struct {
    char continent[3];
    char *name;
    uint32_t country_off, continent_off; /* its stored maps, 0 until first used (mkworld.c) */
} country_t;

extern country_t countries[26 * 26];

/* 0..675 for a code of two capital letters, else -1. */
int cc_index(const char *cc, size_t n);
/* The English name of a continent code (AF AN AS EU NA OC SA), or NULL. */
const char *continent_name(const char *code);
void read_countries(const char *path);
void read_subdivisions(const char *path);
/* The code of (CC, STATE1) in SUBDIVISIONS.tsv without its "CC-", or NULL. */
const char *subdivision_code(const char *cc, size_t ccn, const char *st, size_t stn);

#define MAX_BLOCKS 64

/* A special-purpose block: the first LEN bits of ADDR (IPv4 in the first 4 bytes). */
typedef struct {
    uint8_t addr[16];
    int len;
} block_t;

typedef struct {
    block_t b[MAX_BLOCKS];
    int n;
} blocks_t;

extern blocks_t blocks4, blocks6;

/* Bit I (0 = the top bit of A[0]) of A. */
int bit_at(const uint8_t *a, int i);
/* geo/special-blocks.txt as compiled in (the Makefile writes it as a C string). */
extern const char special_blocks_text[];

/* Parses TEXT, read from NAME: networks ADDRESS/PREFIX separated by white space, "#" comments,
 * into blocks4 and blocks6. */
void read_blocks(const char *name, const char *text);
/* The whole file at PATH, NUL-terminated; the caller frees it. */
char *slurp(const char *path);

#endif
