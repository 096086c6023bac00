/*
 * control: gslbd's control socket (the server side of common/ctl.h).
 * Main loop only; it reads the served snapshot through `current` and
 * changes health slots, nothing else.
 *
 * Who may say what is decided by the peer's credentials (SO_PEERCRED):
 * reports (MEMBER, SYNCED) only from root and gslbd's own user, as healthd
 * runs; overrides (SET) also from members of the control group; STATUS from
 * anyone the socket's permissions let in (owner and group, 0660). Limits:
 * 64 connections (the one silent the longest makes room for a new one), a
 * client silent for 10 s is closed, one that lets more than 4 MiB of
 * replies pile up unread is cut off.
 */
#ifndef GSLB_GSLBD_CONTROL_H
#define GSLB_GSLBD_CONTROL_H

#include <sys/types.h>

#include <uv.h>

#include "common/diag.h"
#include "gslbd/engine/healthdb.h"
#include "gslbd/engine/snapshot.h"

typedef struct control control_t;

typedef struct {
    const char *path; /* the socket */
    uid_t owner;      /* its owner, (uid_t)-1 to leave it: gslbd's user */
    gid_t group;      /* its group and the control group, (gid_t)-1: gslbd's own */
} control_config_t;

/* Listen on cfg->path (a Unix socket; a stale file from a dead gslbd is
 * replaced, a live one is an error). Returns 0, or a negative errno with a
 * line in errs. On error *out is still set: pass it to control_close(). */
int control_new(uv_loop_t *loop, const control_config_t *cfg, healthdb_t *health,
                const snapshot_t *(*current)(void *arg), void *arg, control_t **out,
                diag_t *errs) ATTR_WUR;

/* Close every handle (the loop must run once more) and remove the socket. */
void control_close(control_t *c);
void control_free(control_t *c);

#endif
