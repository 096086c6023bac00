/*
 * ynode: one YAML file loaded as a libyaml document, and the errors that point
 * into it.
 *
 * The zone loader walks a libyaml document tree rather than its event stream:
 * aliases are resolved, and every node keeps the position an error message
 * must show. This module reads the file, builds the tree from libyaml's
 * events within limits the caller sets (file size, nesting depth, and the
 * nodes aliases may stand for: libyaml's own loader has none), turns YAML
 * syntax errors into "file:line:col: error:" lines, and collects the loader's
 * errors so they come out in file order however the loader walked the tree.
 * It knows nothing of zones: what a key means is for schema.c and the
 * modules that use it.
 *
 * Internal to zones/: not part of the zone.h contract.
 */
#ifndef GSLB_YNODE_H
#define GSLB_YNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "common/diag.h"

typedef struct ynode_msg ynode_msg_t;

typedef struct {
    yaml_document_t doc;
    bool loaded;       /* doc holds a document that ynode_free() must delete */
    const char *file;  /* for marks; owned by the caller, must outlive this */
    ynode_msg_t *msgs; /* pending errors, handed over sorted by ynode_flush() */
    size_t n_msgs;
    /* The file as read (set once it was read whole): its modification time
     * in seconds, of the file itself when `file` is a symbolic link, and a
     * digest of its bytes (FNV-1a, 64 bits: to tell a change, not a secret). */
    int64_t mtime;
    uint64_t digest;
} ynode_doc_t;

/* What one file may cost. A tree walked with its aliases expanded has at
 * most (nodes written) + alias_nodes_max nodes. */
typedef struct {
    size_t file_max;        /* bytes read at most */
    unsigned depth_max;     /* mappings and sequences inside each other */
    size_t alias_nodes_max; /* nodes the aliases of the file stand for, in all */
} ynode_limits_t;

/* Read and parse `file` (its first and only YAML document) into d, within
 * `lim`. Returns 0, or GSLB_ECONFIG with the reason recorded as an error of
 * d (at the place a limit is crossed when one is). Either way the caller
 * calls ynode_flush() and ynode_free(). */
int ynode_load(ynode_doc_t *d, const char *file, const ynode_limits_t *lim) ATTR_WUR;

/* Move every recorded error to errs, ordered by line and column (errors
 * without a position first), and forget them. */
void ynode_flush(ynode_doc_t *d, diag_t *errs);

void ynode_free(ynode_doc_t *d);

/* Record an error at node `at` (NULL: no position). */
void ynode_err(ynode_doc_t *d, const yaml_node_t *at, const char *fmt, ...) ATTR_PRINTF(3, 4);

size_t ynode_errors(const ynode_doc_t *d);

diag_mark_t ynode_mark(const ynode_doc_t *d, const yaml_node_t *n);

yaml_node_t *ynode_root(ynode_doc_t *d);

/* The key and value nodes of pair i of mapping `map`, and item i of a
 * sequence. Indices are below ynode_len(). */
yaml_node_t *ynode_key(ynode_doc_t *d, const yaml_node_t *map, size_t i);
yaml_node_t *ynode_value(ynode_doc_t *d, const yaml_node_t *map, size_t i);
yaml_node_t *ynode_item(ynode_doc_t *d, const yaml_node_t *seq, size_t i);

/* Pairs of a mapping, items of a sequence, 0 for a scalar. */
size_t ynode_len(const yaml_node_t *n);

/* The text of a scalar node, NULL for anything else. */
const char *ynode_str(const yaml_node_t *n);

/* True for an empty plain scalar, "~" or "null": YAML's way of writing
 * nothing, which the loader treats as an absent key. */
bool ynode_is_null(const yaml_node_t *n);

bool ynode_is_map(const yaml_node_t *n);
bool ynode_is_seq(const yaml_node_t *n);

#endif
