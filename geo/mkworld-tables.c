/*
 * mkworld-tables.c - the text tables geo/mkworld reads: COUNTRIES.tsv (continent and English
 * name per country), SUBDIVISIONS.tsv (DB-IP's state1 name to an ISO 3166-2 code) and the
 * special-purpose blocks (geo/special-blocks.txt). Every bad line is reported as
 * FILE:LINE: error: ... before the tool exits 1, so one run shows them all.
 *
 * It does not look anything up in the databases and stores nothing in the output.
 */
#include "geo/mkworld.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

country_t countries[26 * 26];

int cc_index(const char *cc, size_t n)
{
    if (n != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z') {
        return -1;
    }
    return (cc[0] - 'A') * 26 + (cc[1] - 'A');
}

static const char *const continent_names[][2] = {
    {"AF", "Africa"},        {"AN", "Antarctica"}, {"AS", "Asia"},          {"EU", "Europe"},
    {"NA", "North America"}, {"OC", "Oceania"},    {"SA", "South America"},
};

const char *continent_name(const char *code)
{
    for (size_t i = 0; i < sizeof continent_names / sizeof continent_names[0]; i++) {
        if (!strcmp(code, continent_names[i][0])) {
            return continent_names[i][1];
        }
    }
    return NULL;
}

/* Splits LINE (newline removed) at tabs into exactly N fields; false if the count differs. */
static bool split_tabs(char *line, char **f, int n)
{
    int i = 0;
    for (char *p = line;; p++) {
        if (i == n) {
            return false;
        }
        f[i++] = p;
        p = strchr(p, '\t');
        if (!p) {
            return i == n;
        }
        *p = '\0';
    }
}

typedef struct {
    const char *path;
    FILE *f;
    char *line;
    size_t cap;
    unsigned lineno;
    int errors;
} tsv_t;

static void tsv_open(tsv_t *t, const char *path)
{
    *t = (tsv_t){.path = path, .f = fopen(path, "r")};
    if (!t->f) {
        die("%s: %s", path, strerror(errno));
    }
}

/* The next line that is neither blank nor a comment, without its newline; NULL at the end. */
static char *tsv_next(tsv_t *t)
{
    ssize_t n;
    while ((n = getline(&t->line, &t->cap, t->f)) >= 0) {
        t->lineno++;
        while (n > 0 && (t->line[n - 1] == '\n' || t->line[n - 1] == '\r')) {
            t->line[--n] = '\0';
        }
        if (n > 0 && t->line[0] != '#') {
            return t->line;
        }
    }
    return NULL;
}

static __attribute__((format(printf, 2, 3))) void tsv_error(tsv_t *t, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%u: error: ", t->path, t->lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t->errors++;
}

static void tsv_close(tsv_t *t)
{
    bool bad = ferror(t->f);
    fclose(t->f);
    free(t->line);
    if (bad) {
        die("%s: read error", t->path);
    }
    if (t->errors) {
        die("%s: %d bad line%s", t->path, t->errors, t->errors == 1 ? "" : "s");
    }
}

/* COUNTRIES.tsv: "CC<TAB>CONTINENT<TAB>English name", one a line. */
void read_countries(const char *path)
{
    tsv_t t;
    char *line, *f[3];
    tsv_open(&t, path);
    while ((line = tsv_next(&t))) {
        if (!split_tabs(line, f, 3)) {
            tsv_error(&t, "expected CC<TAB>CONTINENT<TAB>NAME");
            continue;
        }
        int i = cc_index(f[0], strlen(f[0]));
        if (i < 0) {
            tsv_error(&t, "country '%s' is not two capital letters", f[0]);
        } else if (!continent_name(f[1])) {
            tsv_error(&t, "continent '%s' is not one of AF AN AS EU NA OC SA", f[1]);
        } else if (!*f[2]) {
            tsv_error(&t, "empty name for %s", f[0]);
        } else if (countries[i].name) {
            tsv_error(&t, "country %s listed twice", f[0]);
        } else {
            memcpy(countries[i].continent, f[1], 3);
            countries[i].name = strdup(f[2]);
        }
    }
    tsv_close(&t);
}

/* SUBDIVISIONS.tsv: "CC<TAB>state1<TAB>CC-CODE", kept as "CC\tstate1" -> "CODE". */
typedef struct {
    char *key, *code;
} sub_t;

static sub_t *subs;
static size_t nsubs; /* a power of two, or 0 without the table */

static sub_t *sub_slot(const char *key, size_t n)
{
    size_t j = hash_bytes((const uint8_t *)key, n) & (nsubs - 1);
    while (subs[j].key && (strlen(subs[j].key) != n || memcmp(subs[j].key, key, n))) {
        j = (j + 1) & (nsubs - 1);
    }
    return &subs[j];
}

/* The code of (CC, STATE1) in SUBDIVISIONS.tsv without "CC-", or NULL. */
const char *subdivision_code(const char *cc, size_t ccn, const char *st, size_t stn)
{
    char key[512];
    if (!nsubs || ccn + stn + 1 >= sizeof key) {
        return NULL;
    }
    memcpy(key, cc, ccn);
    key[ccn] = '\t';
    memcpy(key + ccn + 1, st, stn);
    sub_t *s = sub_slot(key, ccn + 1 + stn);
    return s->key ? s->code : NULL;
}

static bool valid_code_tail(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 3) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) {
            return false;
        }
    }
    return true;
}

void read_subdivisions(const char *path)
{
    tsv_t t;
    char *line, *f[3];
    nsubs = 1 << 14;
    subs = xcalloc(nsubs, sizeof *subs);
    tsv_open(&t, path);
    for (size_t used = 0; (line = tsv_next(&t));) {
        if (!split_tabs(line, f, 3)) {
            tsv_error(&t, "expected CC<TAB>STATE1<TAB>CODE");
            continue;
        }
        if (cc_index(f[0], strlen(f[0])) < 0) {
            tsv_error(&t, "country '%s' is not two capital letters", f[0]);
            continue;
        }
        if (!*f[1]) {
            tsv_error(&t, "empty state1");
            continue;
        }
        if (strncmp(f[2], f[0], 2) || f[2][2] != '-' || !valid_code_tail(f[2] + 3)) {
            tsv_error(&t, "code '%s' is not %s- and 1-3 capital letters or digits", f[2], f[0]);
            continue;
        }
        if (++used * 2 > nsubs) {
            die("%s: more than %zu subdivisions", path, nsubs / 2);
        }
        char key[512];
        int n = snprintf(key, sizeof key, "%s\t%s", f[0], f[1]);
        if (n < 0 || (size_t)n >= sizeof key) {
            tsv_error(&t, "state1 too long");
            continue;
        }
        sub_t *s = sub_slot(key, (size_t)n);
        if (s->key) {
            tsv_error(&t, "%s '%s' listed twice", f[0], f[1]);
            continue;
        }
        s->key = strdup(key);
        s->code = strdup(f[2] + 3);
    }
    tsv_close(&t);
}

blocks_t blocks4, blocks6;

int bit_at(const uint8_t *a, int i)
{
    return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Parses the special-blocks text (NAME for messages): CIDRs separated by white space, "#"
 * comments. */
void read_blocks(const char *name, const char *text)
{
    unsigned lineno = 1;
    int errors = 0;
    for (const char *p = text; *p;) {
        if (*p == '\n') {
            lineno++;
        }
        if (*p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        size_t n = strcspn(p, " \t\r\n#");
        char word[64], *slash;
        block_t bl = {0};
        int bits = 0;
        snprintf(word, sizeof word, "%.*s", (int)(n < 63 ? n : 63), p);
        slash = strchr(word, '/');
        if (slash) {
            *slash = '\0';
            bits = strchr(word, ':') ? 128 : 32;
            bl.len = atoi(slash + 1);
        }
        bool ok = slash && strspn(slash + 1, "0123456789") == strlen(slash + 1) && slash[1] &&
                  bl.len <= bits && inet_pton(bits == 32 ? AF_INET : AF_INET6, word, bl.addr) == 1;
        for (int i = bl.len; ok && i < bits; i++) {
            ok = !bit_at(bl.addr, i); /* host bits must be zero */
        }
        blocks_t *set = bits == 32 ? &blocks4 : &blocks6;
        if (!ok) {
            fprintf(stderr, "%s:%u: error: '%.*s' is not a network ADDRESS/PREFIX\n", name, lineno,
                    (int)n, p);
            errors++;
        } else if (set->n == MAX_BLOCKS) {
            die("%s:%u: more than %d blocks of one family", name, lineno, MAX_BLOCKS);
        } else {
            set->b[set->n++] = bl;
        }
        p += n;
    }
    if (errors) {
        exit(1);
    }
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    buf_t b = {0};
    char chunk[4096];
    size_t n;
    if (!f) {
        die("%s: %s", path, strerror(errno));
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_put(&b, chunk, n);
    }
    if (ferror(f)) {
        die("%s: read error", path);
    }
    fclose(f);
    buf_byte(&b, '\0');
    return (char *)b.p;
}
