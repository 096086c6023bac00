/*
 * diag: messages about input a person wrote (zone files, command lines, a
 * GeoIP file), collected so that every problem is reported at once.
 *
 * A fallible function returns an error code (errcode.h); when the caller
 * needs to know more than the code (which file, which line, what is wrong),
 * the function also takes a diag_t and appends one line per problem, in the
 * form compilers use and editors jump to:
 *
 *   zones/eu.yaml:12:5: error: region 'eu-west': weight -1 out of range 0..1000000
 *
 * The lines are printed by whoever decides what the problems mean (gslbd at
 * start-up or on reload, `--check`), through diag_log(), so they reach the
 * same place as every other message. Nothing here is thread-safe or for the
 * query path.
 */
#ifndef GSLB_DIAG_H
#define GSLB_DIAG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

/* Where a value came from, for messages that point at it: 1-based line and
 * column, 0 when unknown. `file` is not owned (its owner, such as the zone
 * model, outlives the mark). */
typedef struct {
    const char *file;
    unsigned line, col;
} diag_mark_t;

/* Collected lines, each "file:line:col: error: text" (no trailing newline).
 * Zero-initialise; free with diag_clear(). */
typedef struct {
    char **lines;
    unsigned char *flags; /* parallel to lines: DIAG_WARNING, DIAG_NOFILE */
    size_t n;
    size_t errors; /* lines that are errors */
} diag_t;

#define DIAG_WARNING 1u /* a warning, not an error */
#define DIAG_NOFILE  2u /* about no file: "error: text" */

/* Append an error or a warning at `mark` (NULL, or a mark without a file:
 * no position). Control characters in the text are escaped, so one message
 * stays one line whatever a file contained. */
void diag_error(diag_t *d, const diag_mark_t *mark, const char *fmt, ...) ATTR_PRINTF(3, 4);
void diag_warning(diag_t *d, const diag_mark_t *mark, const char *fmt, ...) ATTR_PRINTF(3, 4);

/* Move every line of `from` to the end of `to`. */
void diag_move(diag_t *to, diag_t *from);

/* Log every line, errors at `level` and warnings at LOG_LEVEL_WARN, then
 * clear. A line about a file is logged as it is (it carries its own
 * "file:line:col: error:" prefix); one about no file goes out as any other
 * message ("gslbd: error: text"). */
void diag_log(diag_t *d, log_level_t level);

/* Free the lines and zero *d. */
void diag_clear(diag_t *d);

#endif
