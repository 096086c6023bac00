/*
 * json: a small streaming JSON writer, for reports programs read (gslbd's
 * status). It writes one value or key per line, indented two spaces a
 * level, so that the document travels as lines of the control protocol
 * (each within CTL_LINE_MAX) and still reads well by eye.
 *
 * Strings are escaped as RFC 8259 section 7 asks, bytes that are not UTF-8
 * become U+FFFD, and a string longer than JSON_STR_MAX bytes is cut (at a
 * character boundary) and ends in "...": a report line never grows with
 * what a file or a peer sent. It does not parse JSON, and checks only that
 * begin and end calls pair up (nesting deeper than JSON_DEPTH_MAX is an
 * error of the caller's and aborts).
 */
#ifndef GSLB_JSON_H
#define GSLB_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16
#define JSON_STR_MAX   768 /* bytes of a string's value as written, escapes included */

typedef struct {
    FILE *f;
    unsigned depth;
    bool has_items[JSON_DEPTH_MAX + 1]; /* per level: a comma is due before the next item */
} json_t;

/* Start writing to f (not owned). */
void json_init(json_t *j, FILE *f);

/* `key` names the member inside an object and must be NULL inside an array
 * and at the top. Keys are the caller's own words: written as they are. */
void json_object_begin(json_t *j, const char *key);
void json_object_end(json_t *j);
void json_array_begin(json_t *j, const char *key);
void json_array_end(json_t *j);

void json_string(json_t *j, const char *key, const char *value); /* NULL: null */
void json_uint(json_t *j, const char *key, uint64_t value);
void json_int(json_t *j, const char *key, int64_t value);
/* `decimals` digits after the point; a value that is not finite: null. */
void json_number(json_t *j, const char *key, double value, int decimals);
void json_bool(json_t *j, const char *key, bool value);
void json_null(json_t *j, const char *key);

/* End the document: a final newline. */
void json_finish(json_t *j);

#endif
