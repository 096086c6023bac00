/*
 * json: the streaming writer; see json.h.
 */
#include "common/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_t *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

/* The comma after the previous item, the newline and indentation, and the
 * key, before any item. */
static void item(json_t *j, const char *key)
{
    if (j->has_items[j->depth]) {
        fputc(',', j->f);
    }
    if (j->depth > 0 || j->has_items[0]) {
        fputc('\n', j->f);
    }
    j->has_items[j->depth] = true;
    for (unsigned i = 0; i < j->depth; i++) {
        fputs("  ", j->f);
    }
    if (key != NULL) {
        fprintf(j->f, "\"%s\": ", key);
    }
}

/* The length of the UTF-8 character at s (at most `left` bytes), 0 when
 * the bytes there are not one (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    size_t n = s[0] < 0x80                    ? 1
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
               : (s[0] & 0xf0) == 0xe0        ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                              : 0;

    if (n == 0 || n > left) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90)) {
        return 0;
    }
    return n;
}

/* A string's value, escaped, within JSON_STR_MAX bytes between the quotes. */
static void put_string(FILE *f, const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t left = strlen(value), out = 0;
    char buf[8];

    fputc('"', f);
    while (left > 0) {
        size_t n = utf8_len(s, left);
        const char *text = buf;
        size_t tlen;

        if (n == 1 && (*s < 0x20 || *s == '"' || *s == '\\')) {
            if (*s == '"' || *s == '\\') {
                snprintf(buf, sizeof(buf), "\\%c", *s);
            } else {
                snprintf(buf, sizeof(buf), *s == '\n' ? "\\n" : *s == '\t' ? "\\t" : "\\u%04x", *s);
            }
        } else if (n == 0) {
            text = "\xef\xbf\xbd"; /* U+FFFD for a byte that is not UTF-8 */
            n = 1;
        } else {
            memcpy(buf, s, n);
            buf[n] = '\0';
        }
        tlen = strlen(text);
        if (out + tlen > JSON_STR_MAX - 3) {
            fputs("...", f);
            break;
        }
        fputs(text, f);
        out += tlen;
        s += n;
        left -= n;
    }
    fputc('"', f);
}

static void open_level(json_t *j, const char *key, char c)
{
    item(j, key);
    fputc(c, j->f);
    if (j->depth == JSON_DEPTH_MAX) {
        abort(); /* the caller's nesting is wrong: a bug, not input */
    }
    j->has_items[++j->depth] = false;
}

static void close_level(json_t *j, char c)
{
    bool items = j->has_items[j->depth];

    if (j->depth == 0) {
        abort();
    }
    j->depth--;
    if (items) {
        fputc('\n', j->f);
        for (unsigned i = 0; i < j->depth; i++) {
            fputs("  ", j->f);
        }
    }
    fputc(c, j->f);
}

void json_object_begin(json_t *j, const char *key)
{
    open_level(j, key, '{');
}

void json_object_end(json_t *j)
{
    close_level(j, '}');
}

void json_array_begin(json_t *j, const char *key)
{
    open_level(j, key, '[');
}

void json_array_end(json_t *j)
{
    close_level(j, ']');
}

void json_string(json_t *j, const char *key, const char *value)
{
    item(j, key);
    if (value == NULL) {
        fputs("null", j->f);
    } else {
        put_string(j->f, value);
    }
}

void json_uint(json_t *j, const char *key, uint64_t value)
{
    item(j, key);
    fprintf(j->f, "%" PRIu64, value);
}

void json_int(json_t *j, const char *key, int64_t value)
{
    item(j, key);
    fprintf(j->f, "%" PRId64, value);
}

void json_number(json_t *j, const char *key, double value, int decimals)
{
    item(j, key);
    if (!isfinite(value)) {
        fputs("null", j->f);
    } else {
        fprintf(j->f, "%.*f", decimals, value);
    }
}

void json_bool(json_t *j, const char *key, bool value)
{
    item(j, key);
    fputs(value ? "true" : "false", j->f);
}

void json_null(json_t *j, const char *key)
{
    item(j, key);
    fputs("null", j->f);
}

void json_finish(json_t *j)
{
    fputc('\n', j->f);
}
