/*
 * control: gslbd's control socket (the server side of common/ctl.h).
 * Main loop only; it reads the served snapshot and the GeoIP database
 * through its environment's callbacks, changes health slots, and asks the
 * main loop for reloads, nothing else.
 *
 * Who may say what is decided by the peer's credentials (SO_PEERCRED):
 * reports (MEMBER, SYNCED) only from root and gslbd's own user, as healthd
 * runs; overrides (SET) and reloads (RELOAD) also from members of the
 * control group; STATUS and EXPLAIN from anyone the socket's permissions
 * let in (owner and group, 0660). Limits: 64 connections (the one silent the
 * longest makes room for a new one), a client silent for 10 s is closed
 * (unless it waits for a reload), one that lets more than 4 MiB of replies
 * pile up unread is cut off.
 *
 * RELOAD is answered when the reload that includes it has finished, which
 * may take seconds; meanwhile the client's further requests wait their
 * turn (its replies keep the order of its requests) and the loop serves
 * everyone else.
 */
#ifndef GSLB_GSLBD_CONTROL_H
#define GSLB_GSLBD_CONTROL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include <uv.h>

#include "common/diag.h"
#include "geo/geodb.h"
#include "gslbd/engine/healthdb.h"
#include "gslbd/engine/snapshot.h"

typedef struct control control_t;

typedef struct {
    const char *path; /* the socket */
    uid_t owner;      /* its owner, (uid_t)-1 to leave it: gslbd's user */
    gid_t group;      /* its group and the control group, (gid_t)-1: gslbd's own */
    /* --control-listen: TCP addresses for healthd on other hosts, whose
     * every line is authenticated with its vantage's key from keys_file
     * (common/ctlauth.h). n_listen 0: none. */
    const struct sockaddr_storage *listen;
    size_t n_listen;
    const char *keys_file;
} control_config_t;

/* Why a network client's message was refused (counted, then the client is
 * disconnected). */
typedef enum {
    CONTROL_REFUSED_NO_MAC,          /* a line without mac= */
    CONTROL_REFUSED_UNKNOWN_VANTAGE, /* a HELLO from a vantage without a key */
    CONTROL_REFUSED_BAD_MAC,         /* a mac that does not match: wrong key, or altered */
    CONTROL_REFUSED_REPLAY,          /* a seq= not above the last: replayed or reordered */
    CONTROL_REFUSED_NOT_ALLOWED,     /* a request the network channel does not take */
    CONTROL_REFUSED_N,
} control_refused_t;

/* "no_mac", "unknown_vantage", "bad_mac", "replay", "not_allowed". */
const char *control_refused_name(control_refused_t r);

/* Messages refused so far, per reason (c may be NULL: all 0). */
void control_refused(const control_t *c, uint64_t out[CONTROL_REFUSED_N]);

/* What the control socket works on; the callbacks run on the main loop and
 * get `arg`. */
typedef struct {
    healthdb_t *health;
    const snapshot_t *(*current)(void *arg); /* the snapshot served now */
    const geo_db_t *(*geo)(void *arg);       /* the GeoIP database in use, NULL: none */
    /* RELOAD: have every zone file reloaded; control_reload_started() and
     * control_reload_done() tell when the reload including it runs. */
    void (*reload)(void *arg);
    /* STATUS: write the report, text or JSON, as lines ending in "\n". */
    void (*status)(void *arg, FILE *out, bool json);
    void *arg;
} control_env_t;

/* Listen on cfg->path (a Unix socket; a stale file from a dead gslbd is
 * replaced, a live one is an error). `env` is copied. Returns 0, or a
 * negative errno with a line in errs. On error *out is still set: pass it
 * to control_close(). */
int control_new(uv_loop_t *loop, const control_config_t *cfg, const control_env_t *env,
                control_t **out, diag_t *errs) ATTR_WUR;

/* A reload starts that includes every RELOAD received until now: those
 * clients get its result; a RELOAD that comes later waits for the next. */
void control_reload_started(control_t *c);

/* The reload started last has ended: send `lines` (data lines, each ending
 * in "\n"; may be empty) and then "OK TEXT" (ok) or "ERR TEXT" to every
 * client waiting for it. */
void control_reload_done(control_t *c, const char *lines, bool ok, const char *text);

/* Close every handle (the loop must run once more) and remove the socket. */
void control_close(control_t *c);
void control_free(control_t *c);

#endif
