/*
 * ynode: one YAML file loaded as a libyaml document, and the errors that point
 * into it. See ynode.h. It reads whole files into memory (zone files are small
 * and the position of a bad byte is easier to find that way) and does not
 * interpret any key.
 *
 * The tree is built here from libyaml's events rather than by
 * yaml_parser_load(), which has no limits: the nesting depth is checked as
 * each collection starts, so a file of 100,000 brackets stops at the first
 * one too deep instead of costing libyaml half a minute, and every alias
 * adds the size of the node it names to a count that the limit bounds.
 */
#include "zones/ynode.h"

#include <errno.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/errcode.h"

struct ynode_msg {
    unsigned line, col; /* 1-based, 0 = no position */
    size_t seq;         /* order of recording, to keep the sort stable */
    char *text;
};

static void ynode_add(ynode_doc_t *d, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    ynode_msg_t *m;
    char *text;

    if (vasprintf(&text, fmt, ap) < 0) {
        alloc_fail("vasprintf");
    }
    /* Doubled at each power of two: a broken file may have thousands. */
    if ((d->n_msgs & (d->n_msgs - 1)) == 0) {
        d->msgs = xreallocarray(d->msgs, d->n_msgs ? 2 * d->n_msgs : 1, sizeof(*d->msgs));
    }
    m = d->msgs;
    m[d->n_msgs] = (ynode_msg_t){.line = line, .col = col, .seq = d->n_msgs, .text = text};
    d->n_msgs++;
}

static void ynode_err_pos(ynode_doc_t *d, unsigned line, unsigned col, const char *fmt, ...)
    ATTR_PRINTF(4, 5);

static void ynode_err_pos(ynode_doc_t *d, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ynode_add(d, line, col, fmt, ap);
    va_end(ap);
}

void ynode_err(ynode_doc_t *d, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    unsigned line = 0, col = 0;

    if (at) {
        line = (unsigned)at->start_mark.line + 1;
        col = (unsigned)at->start_mark.column + 1;
    }
    va_start(ap, fmt);
    ynode_add(d, line, col, fmt, ap);
    va_end(ap);
}

size_t ynode_errors(const ynode_doc_t *d)
{
    return d->n_msgs;
}

diag_mark_t ynode_mark(const ynode_doc_t *d, const yaml_node_t *n)
{
    diag_mark_t m = {.file = d->file};

    if (n) {
        m.line = (unsigned)n->start_mark.line + 1;
        m.col = (unsigned)n->start_mark.column + 1;
    }
    return m;
}

static int ynode_msg_cmp(const void *a, const void *b)
{
    const ynode_msg_t *x = a, *y = b;

    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    if (x->col != y->col) {
        return x->col < y->col ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void ynode_flush(ynode_doc_t *d, diag_t *errs)
{
    if (d->n_msgs > 1) {
        qsort(d->msgs, d->n_msgs, sizeof(*d->msgs), ynode_msg_cmp);
    }
    for (size_t i = 0; i < d->n_msgs; i++) {
        diag_mark_t m = {.file = d->file, .line = d->msgs[i].line, .col = d->msgs[i].col};

        diag_error(errs, &m, "%s", d->msgs[i].text);
        free(d->msgs[i].text);
    }
    free(d->msgs);
    d->msgs = NULL;
    d->n_msgs = 0;
}

void ynode_free(ynode_doc_t *d)
{
    if (d->loaded) {
        yaml_document_delete(&d->doc);
        d->loaded = false;
    }
    for (size_t i = 0; i < d->n_msgs; i++) {
        free(d->msgs[i].text);
    }
    free(d->msgs);
    d->msgs = NULL;
    d->n_msgs = 0;
}

/* FNV-1a over the bytes: one pass, no table, and any edit changes it but
 * for a chance of one in 2^64. */
static uint64_t ynode_digest(const char *buf, size_t len)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)buf[i]) * 1099511628211ull;
    }
    return h;
}

/* Read a regular file, at most `max` + 1 bytes (one more than allowed
 * tells a file that is too large). Returns 0 or -errno; *mtime is the
 * modification time of what was read (fstat of the descriptor read from, so
 * a file replaced meanwhile cannot lend another file's time). */
static int ynode_read(const char *file, size_t max, char **buf, size_t *len, int64_t *mtime)
{
    FILE *f = fopen(file, "rb");
    struct stat st;
    size_t n, size;
    char *b;

    if (!f) {
        return -errno;
    }
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;

        fclose(f);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    size = (size_t)st.st_size < max ? (size_t)st.st_size : max + 1;
    b = xmalloc(size + 1);
    n = fread(b, 1, size, f);
    if (ferror(f)) {
        int e = errno ? errno : EIO;

        free(b);
        fclose(f);
        return -e;
    }
    fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    *mtime = (int64_t)st.st_mtim.tv_sec;
    return 0;
}

/* Line and column (1-based) of byte `off` of buf, for errors libyaml reports
 * by offset only (bad encoding). */
static void ynode_offset_pos(const char *buf, size_t len, size_t off, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void ynode_syntax_err(ynode_doc_t *d, const yaml_parser_t *p, const char *buf, size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    unsigned line, col;

    if (p->error == YAML_READER_ERROR) {
        ynode_offset_pos(buf, len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0) {
            ynode_err_pos(d, line, col, "YAML syntax: %s (byte 0x%02x)", problem,
                          (unsigned)p->problem_value);
        } else {
            ynode_err_pos(d, line, col, "YAML syntax: %s", problem);
        }
        return;
    }
    if (p->error == YAML_MEMORY_ERROR) {
        alloc_fail("libyaml");
    }
    line = (unsigned)p->problem_mark.line + 1;
    col = (unsigned)p->problem_mark.column + 1;
    if (p->context && p->context_mark.index == p->problem_mark.index) {
        ynode_err_pos(d, line, col, "YAML syntax: %s (%s)", problem, p->context);
    } else if (p->context) {
        ynode_err_pos(d, line, col, "YAML syntax: %s (%s at line %u, column %u)", problem,
                      p->context, (unsigned)p->context_mark.line + 1,
                      (unsigned)p->context_mark.column + 1);
    } else {
        ynode_err_pos(d, line, col, "YAML syntax: %s", problem);
    }
}

/* ---- building the tree from libyaml's events ---- */

/* An anchor, kept in a tree (tsearch) for lookups in O(log n): libyaml's
 * own loader searches a list, which many anchors and aliases make
 * quadratic. */
typedef struct {
    const char *name; /* owned */
    int node;
    yaml_mark_t mark;
} ynode_anchor_t;

/* State of building one document. */
typedef struct {
    ynode_doc_t *d;
    yaml_parser_t *p;
    const ynode_limits_t *lim;
    const char *buf; /* the file, for positions of encoding errors */
    size_t len;
    void *anchors;  /* tsearch tree of ynode_anchor_t */
    size_t *weight; /* per node: the nodes it stands for expanded, 0 while open */
    size_t n_weight;
    size_t alias_nodes; /* nodes the aliases so far stand for */
    unsigned depth;
} ynode_builder_t;

static bool ynode_next(ynode_builder_t *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(b->p, ev)) {
        ynode_syntax_err(b->d, b->p, b->buf, b->len);
        return false;
    }
    return true;
}

static int ynode_anchor_cmp(const void *x, const void *y)
{
    return strcmp(((const ynode_anchor_t *)x)->name, ((const ynode_anchor_t *)y)->name);
}

static void ynode_anchor_free(void *a)
{
    free((void *)((ynode_anchor_t *)a)->name);
    free(a);
}

static void ynode_set_weight(ynode_builder_t *b, int node, size_t w)
{
    if ((size_t)node >= b->n_weight) {
        size_t n = b->n_weight ? b->n_weight * 2 : 64;

        while (n <= (size_t)node) {
            n *= 2;
        }
        b->weight = xreallocarray(b->weight, n, sizeof(*b->weight));
        memset(b->weight + b->n_weight, 0, (n - b->n_weight) * sizeof(*b->weight));
        b->n_weight = n;
    }
    b->weight[node] = w;
}

/* Name the node just added by `anchor` (NULL: none). False after an error. */
static bool ynode_anchor(ynode_builder_t *b, const yaml_char_t *anchor, int node, yaml_mark_t mark)
{
    ynode_anchor_t *a, **found;

    if (!anchor) {
        return true;
    }
    a = xmalloc(sizeof(*a));
    *a = (ynode_anchor_t){.name = xstrdup((const char *)anchor), .node = node, .mark = mark};
    found = tsearch(a, &b->anchors, ynode_anchor_cmp);
    if (!found) {
        alloc_fail("tsearch");
    }
    if (*found != a) {
        ynode_err_pos(b->d, (unsigned)mark.line + 1, (unsigned)mark.column + 1,
                      "YAML syntax: second occurrence (found duplicate anchor; first occurrence "
                      "at line %u, column %u)",
                      (unsigned)(*found)->mark.line + 1, (unsigned)(*found)->mark.column + 1);
        ynode_anchor_free(a);
        return false;
    }
    return true;
}

static void ynode_set_marks(ynode_builder_t *b, int node, const yaml_event_t *ev)
{
    yaml_node_t *n = yaml_document_get_node(&b->d->doc, node);

    n->start_mark = ev->start_mark;
    n->end_mark = ev->end_mark;
}

/* An explicit tag, or NULL for the default one ("!" means the default). */
static const yaml_char_t *ynode_tag(const yaml_char_t *tag)
{
    return tag && strcmp((const char *)tag, "!") ? tag : NULL;
}

static int ynode_node(ynode_builder_t *b, const yaml_event_t *ev, size_t *w);

/* An alias is the node it names, shared: counted as many times as it is
 * used, since the loader walks it each time. */
static int ynode_alias(ynode_builder_t *b, const yaml_event_t *ev, size_t *w)
{
    ynode_anchor_t key = {.name = (const char *)ev->data.alias.anchor};
    ynode_anchor_t **found = tfind(&key, &b->anchors, ynode_anchor_cmp);
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;

    if (!found) {
        ynode_err_pos(b->d, line, col, "YAML syntax: found undefined alias");
        return 0;
    }
    *w = b->weight[(*found)->node];
    if (*w == 0) {
        ynode_err_pos(b->d, line, col, "alias '*%s' refers to a node that contains it", key.name);
        return 0;
    }
    b->alias_nodes += *w;
    if (b->alias_nodes > b->lim->alias_nodes_max) {
        ynode_err_pos(b->d, line, col, "aliases expand to more than %zu nodes",
                      b->lim->alias_nodes_max);
        return 0;
    }
    return (*found)->node;
}

static int ynode_scalar(ynode_builder_t *b, const yaml_event_t *ev, size_t *w)
{
    int node =
        yaml_document_add_scalar(&b->d->doc, ynode_tag(ev->data.scalar.tag), ev->data.scalar.value,
                                 (int)ev->data.scalar.length, ev->data.scalar.style);

    if (!node) {
        alloc_fail("libyaml");
    }
    ynode_set_marks(b, node, ev);
    ynode_set_weight(b, node, 1);
    *w = 1;
    return ynode_anchor(b, ev->data.scalar.anchor, node, ev->start_mark) ? node : 0;
}

/* The items of a sequence, or the keys and values of a mapping, up to the
 * end event (whose end mark the collection takes). */
static bool ynode_children(ynode_builder_t *b, int node, bool map, size_t *w)
{
    yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
    int key = 0;

    for (;;) {
        yaml_event_t ev;
        size_t cw;
        int child;

        if (!ynode_next(b, &ev)) {
            return false;
        }
        if (ev.type == end) {
            yaml_document_get_node(&b->d->doc, node)->end_mark = ev.end_mark;
            yaml_event_delete(&ev);
            return true;
        }
        child = ynode_node(b, &ev, &cw);
        yaml_event_delete(&ev);
        if (!child) {
            return false;
        }
        *w += cw;
        if (!map) {
            yaml_document_append_sequence_item(&b->d->doc, node, child);
        } else if (!key) {
            key = child;
        } else {
            yaml_document_append_mapping_pair(&b->d->doc, node, key, child);
            key = 0;
        }
    }
}

static int ynode_collection(ynode_builder_t *b, const yaml_event_t *ev, size_t *w)
{
    bool map = ev->type == YAML_MAPPING_START_EVENT;
    const yaml_char_t *anchor =
        map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    int node;

    if (++b->depth > b->lim->depth_max) {
        ynode_err_pos(b->d, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
                      "mappings and lists nested more than %u deep", b->lim->depth_max);
        return 0;
    }
    node = map ? yaml_document_add_mapping(&b->d->doc, ynode_tag(ev->data.mapping_start.tag),
                                           ev->data.mapping_start.style)
               : yaml_document_add_sequence(&b->d->doc, ynode_tag(ev->data.sequence_start.tag),
                                            ev->data.sequence_start.style);
    if (!node) {
        alloc_fail("libyaml");
    }
    ynode_set_marks(b, node, ev);
    ynode_set_weight(b, node, 0); /* open: an alias to it is an alias inside it */
    if (!ynode_anchor(b, anchor, node, ev->start_mark)) {
        return 0;
    }
    *w = 1;
    if (!ynode_children(b, node, map, w)) {
        return 0;
    }
    ynode_set_weight(b, node, *w);
    b->depth--;
    return node;
}

/* Add the node that starts with `ev` (and the events up to its end) to the
 * document. Returns its index, or 0 after recording an error. *w: the nodes
 * it stands for with its aliases expanded. */
static int ynode_node(ynode_builder_t *b, const yaml_event_t *ev, size_t *w)
{
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return ynode_alias(b, ev, w);
    case YAML_SCALAR_EVENT:
        return ynode_scalar(b, ev, w);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return ynode_collection(b, ev, w);
    default:
        ynode_err(b->d, NULL, "YAML syntax: unexpected event %d", (int)ev->type);
        return 0;
    }
}

/* The document that follows STREAM-START, or none (an empty file). Returns
 * false after recording an error. */
static bool ynode_document(ynode_builder_t *b)
{
    yaml_event_t ev;
    size_t w;
    int root;

    if (!ynode_next(b, &ev)) {
        return false;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        return true;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START: its directives are not used */
    if (!yaml_document_initialize(&b->d->doc, NULL, NULL, NULL, 1, 1)) {
        alloc_fail("libyaml");
    }
    b->d->loaded = true;
    if (!ynode_next(b, &ev)) {
        return false;
    }
    root = ynode_node(b, &ev, &w);
    yaml_event_delete(&ev);
    if (!root || !ynode_next(b, &ev)) { /* DOCUMENT-END */
        return false;
    }
    yaml_event_delete(&ev);
    return true;
}

/* A file holds one zone: a second document is a mistake worth reporting
 * (at its first node) rather than silently ignoring. */
static int ynode_expect_end(ynode_builder_t *b)
{
    yaml_event_t ev;
    int rc = 0;

    if (!ynode_next(b, &ev)) {
        return GSLB_ECONFIG;
    }
    if (ev.type == YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        if (!ynode_next(b, &ev)) {
            return GSLB_ECONFIG;
        }
        ynode_err_pos(b->d, (unsigned)ev.start_mark.line + 1, (unsigned)ev.start_mark.column + 1,
                      "only one YAML document is allowed per zone file");
        rc = GSLB_ECONFIG;
    }
    yaml_event_delete(&ev);
    return rc;
}

static int ynode_parse(ynode_doc_t *d, const char *buf, size_t len, const ynode_limits_t *lim)
{
    ynode_builder_t b = {.d = d, .lim = lim, .buf = buf, .len = len};
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = GSLB_ECONFIG;

    if (!yaml_parser_initialize(&p)) {
        alloc_fail("libyaml");
    }
    b.p = &p;
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    if (ynode_next(&b, &ev)) { /* STREAM-START */
        yaml_event_delete(&ev);
        if (!ynode_document(&b)) {
            rc = GSLB_ECONFIG;
        } else if (!ynode_root(d)) {
            ynode_err(d, NULL, "file is empty: expected a mapping with zone, soa and ns");
        } else {
            rc = ynode_expect_end(&b);
        }
    }
    tdestroy(b.anchors, ynode_anchor_free);
    free(b.weight);
    yaml_parser_delete(&p);
    return rc;
}

int ynode_load(ynode_doc_t *d, const char *file, const ynode_limits_t *lim)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    d->file = file;
    rc = ynode_read(file, lim->file_max, &buf, &len, &d->mtime);
    if (rc < 0) {
        ynode_err(d, NULL, "cannot read: %s", gslb_strerror(rc));
        return GSLB_ECONFIG;
    }
    if (len > lim->file_max) {
        unsigned line, col;

        ynode_offset_pos(buf, len, lim->file_max, &line, &col);
        ynode_err_pos(d, line, col,
                      "zone file larger than %zu bytes (%zu MiB), the most a zone "
                      "file may have",
                      lim->file_max, lim->file_max >> 20);
        free(buf);
        return GSLB_ECONFIG;
    }
    d->digest = ynode_digest(buf, len);
    rc = ynode_parse(d, buf, len, lim);
    free(buf);
    return rc;
}

yaml_node_t *ynode_root(ynode_doc_t *d)
{
    return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

yaml_node_t *ynode_key(ynode_doc_t *d, const yaml_node_t *map, size_t i)
{
    return yaml_document_get_node(&d->doc, map->data.mapping.pairs.start[i].key);
}

yaml_node_t *ynode_value(ynode_doc_t *d, const yaml_node_t *map, size_t i)
{
    return yaml_document_get_node(&d->doc, map->data.mapping.pairs.start[i].value);
}

yaml_node_t *ynode_item(ynode_doc_t *d, const yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

size_t ynode_len(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE) {
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    }
    return 0;
}

const char *ynode_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

bool ynode_is_null(const yaml_node_t *n)
{
    const char *s = ynode_str(n);

    if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    return !*s || !strcmp(s, "~") || !strcasecmp(s, "null");
}

bool ynode_is_map(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}

bool ynode_is_seq(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE;
}
