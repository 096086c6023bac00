/*
 * schema: table-driven checking of YAML mappings, in the spirit of Knot's
 * conf/schema.c.
 *
 * Each kind of mapping in a zone file (the top level, soa, a region, a check,
 * a service, a pool member) is described by a table of schema_item_t: key,
 * type, required or not, range and default. schema_map() walks one mapping
 * against its table, reports every unknown or duplicate key, missing required
 * key, wrong type and out-of-range value, and hands back the parsed values. It
 * does not know what the values mean: references between parts of a file and
 * DNS data are checked by the modules that use it.
 *
 * Messages are prefixed with a context such as "region 'eu-west'" (an empty
 * context means the top level), so they read
 * "region 'eu-west': weight -1 out of range 0..1000000".
 *
 * Internal to zones/.
 */
#ifndef GSLB_SCHEMA_H
#define GSLB_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "zones/ynode.h"

/* Longest TTL, RFC 2181 section 8; also the range of the SOA timers. */
#define SCHEMA_TTL_MAX 2147483647

typedef enum {
    SCHEMA_STR,  /* a scalar -> str (points into the document) */
    SCHEMA_INT,  /* a decimal integer in min..max -> num */
    SCHEMA_REAL, /* a decimal number, fraction allowed, in min..max -> real */
    SCHEMA_TTL,  /* seconds, or a duration such as "5m" or "1h30m", in min..max -> num */
    SCHEMA_MS,   /* a duration such as "500ms" or "2s" (bare = seconds), min..max ms -> num */
    SCHEMA_BOOL, /* true/false, yes/no, on/off -> num 1/0 */
    SCHEMA_ENUM, /* one of names -> num, the index into names */
    SCHEMA_LIST, /* a sequence, checked by the caller -> node */
    SCHEMA_MAP,  /* a mapping, checked by the caller -> node */
    SCHEMA_ANY,  /* any node, checked by the caller -> node */
} schema_type_t;

typedef struct {
    const char *key;
    schema_type_t type;
    bool required;
    int64_t min, max;         /* INT, REAL, TTL, MS: accepted range */
    int64_t def;              /* INT, REAL, TTL, MS, BOOL, ENUM: value when absent */
    const char *defstr;       /* STR: value when absent */
    const char *const *names; /* ENUM: accepted words, NULL-terminated */
} schema_item_t;

typedef struct {
    const yaml_node_t *key;  /* NULL when the key is absent */
    const yaml_node_t *node; /* the value; NULL when absent or written as null */
    bool ok;                 /* present, and the value is valid */
    int64_t num;
    double real; /* REAL */
    const char *str;
} schema_val_t;

/* Check mapping `map` against items[0..n) and fill vals[0..n). Absent keys
 * get their defaults; "is required" errors point at `where` (NULL: at map).
 * Returns the number of errors reported. */
size_t schema_map(ynode_doc_t *d, const yaml_node_t *map, const yaml_node_t *where, const char *ctx,
                  const schema_item_t *items, size_t n, schema_val_t *vals);

/* Parse one value node as `item` describes (for list elements and keys that
 * tables cannot express). Reports and returns false when it is invalid. */
bool schema_value(ynode_doc_t *d, const yaml_node_t *node, const char *ctx,
                  const schema_item_t *item, schema_val_t *val);

/* Report every key of `map` that is not a scalar or repeats an earlier key,
 * and return an array (caller frees) flagging those pairs; NULL when there is
 * nothing to flag. `ctx` names the mapping as in "duplicate key 'x' in CTX". */
bool *schema_bad_keys(ynode_doc_t *d, const yaml_node_t *map, const char *ctx);

/* The same for keys that compare without case (record types: "A" and "a"). */
bool *schema_bad_keys_nocase(ynode_doc_t *d, const yaml_node_t *map, const char *ctx);

/* Report an unknown key, suggesting the closest of cands[0..n) if one is
 * close enough to be a typo. */
void schema_unknown_key(ynode_doc_t *d, const yaml_node_t *key, const char *ctx,
                        const char *const *cands, size_t n);

/* Record an error at `at`, prefixed with "ctx: " unless ctx is empty. */
void schema_err(ynode_doc_t *d, const yaml_node_t *at, const char *ctx, const char *fmt, ...)
    ATTR_PRINTF(4, 5);

/* Format a number of milliseconds the way people write durations:
 * "1h", "2s", "1500ms". */
void schema_fmt_ms(int64_t ms, char *buf, size_t size);

#endif
