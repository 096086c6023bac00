/*
 * ynode: one YAML file loaded as a libyaml document, and the errors that point
 * into it. See ynode.h. It reads whole files into memory (zone files are small
 * and the position of a bad byte is easier to find that way) and does not
 * interpret any key.
 */
#include "zones/ynode.h"

#include <errno.h>
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
    m = xreallocarray(d->msgs, d->n_msgs + 1, sizeof(*m));
    d->msgs = m;
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

/* Read a whole regular file. Returns 0 or -errno. */
static int ynode_read(const char *file, char **buf, size_t *len)
{
    FILE *f = fopen(file, "rb");
    struct stat st;
    char *b;
    size_t n;

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
    b = xmalloc((size_t)st.st_size + 1);
    n = fread(b, 1, (size_t)st.st_size, f);
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

/* A file holds one zone: a second document is a mistake worth reporting
 * rather than silently ignoring. */
static int ynode_expect_end(ynode_doc_t *d, yaml_parser_t *p, const char *buf, size_t len)
{
    yaml_document_t next;
    yaml_node_t *root;
    int rc = 0;

    if (!yaml_parser_load(p, &next)) {
        ynode_syntax_err(d, p, buf, len);
        return GSLB_ECONFIG;
    }
    root = yaml_document_get_root_node(&next);
    if (root) {
        ynode_err(d, root, "only one YAML document is allowed per zone file");
        rc = GSLB_ECONFIG;
    }
    yaml_document_delete(&next);
    return rc;
}

static int ynode_parse(ynode_doc_t *d, const char *buf, size_t len)
{
    yaml_parser_t p;
    int rc = 0;

    if (!yaml_parser_initialize(&p)) {
        alloc_fail("libyaml");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&p, &d->doc)) {
        ynode_syntax_err(d, &p, buf, len);
        rc = GSLB_ECONFIG;
    } else {
        d->loaded = true;
        if (!yaml_document_get_root_node(&d->doc)) {
            ynode_err(d, NULL, "file is empty: expected a mapping with zone, soa and ns");
            rc = GSLB_ECONFIG;
        } else {
            rc = ynode_expect_end(d, &p, buf, len);
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

int ynode_load(ynode_doc_t *d, const char *file)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    d->file = file;
    rc = ynode_read(file, &buf, &len);
    if (rc < 0) {
        ynode_err(d, NULL, "cannot read: %s", gslb_strerror(rc));
        return GSLB_ECONFIG;
    }
    rc = ynode_parse(d, buf, len);
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
