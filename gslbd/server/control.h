/*
 * control: gslbd's control socket (the server side of common/control.h).
 * Main loop only; it reads the served snapshot through `current` and
 * changes health slots, nothing else.
 */
#ifndef GSLB_GSLBD_CONTROL_H
#define GSLB_GSLBD_CONTROL_H

#include <uv.h>

#include "common/diag.h"
#include "gslbd/engine/healthdb.h"
#include "gslbd/engine/snapshot.h"

typedef struct control control_t;

/* Listen on `path` (a Unix socket; a stale file from a dead gslbd is
 * replaced, a live one is an error). Returns 0, or a negative errno with a
 * line in errs. On error *out is still set: pass it to control_close(). */
int control_new(uv_loop_t *loop, const char *path, healthdb_t *health,
                const snapshot_t *(*current)(void *arg), void *arg, control_t **out,
                diag_t *errs) ATTR_WUR;

/* Close every handle (the loop must run once more) and remove the socket. */
void control_close(control_t *c);
void control_free(control_t *c);

#endif
