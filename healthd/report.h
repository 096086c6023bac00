/*
 * report: one connection to a gslbd, kept up: its local control socket, or
 * its network channel (gslbd --control-listen) over TCP.
 *
 * Speaks the healthd side of common/ctl.h: on each (re)connection it
 * sends HELLO (naming the vantage, if healthd runs as one) and waits for
 * gslbd's answer, which says its protocol version; then the vantage's
 * canary verdict (to version 4 or later only: an older gslbd knows no
 * CANARY), every member whose state is known, every region's latest load
 * figure (to version 3 or later only: an older gslbd knows no LOAD) and
 * SYNCED; then changes as they happen and PING every second. Replies
 * are read and dropped (ERR ones are logged, rate-limited). A failed connect or a lost connection
 * is retried every second and logged once per outage. A gslbd that stops reading is disconnected
 * when its backlog passes REPORT_BACKLOG_MAX bytes, and gets the full state again on reconnection.
 *
 * Over TCP (common/ctlauth.h) every line it sends carries the connection's
 * next seq= and a mac= under the vantage's key: HELLO (which names the
 * vantage) over an empty nonce, the rest over the nonce gslbd's answer gave.
 * A connect is given up after REPORT_CONNECT_WAIT ms. An answer to HELLO
 * without a nonce, and any "ERR refused: ..." reply, end the connection
 * like an outage, and are logged again whenever what gslbd said changes
 * (other failures once per outage).
 *
 * It does not know targets or probes: the owner supplies the full state as
 * text through a callback, and each change as one line.
 */
#ifndef GSLB_REPORT_H
#define GSLB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/ctlauth.h"
#include "common/log.h"

#define REPORT_BACKLOG_MAX  (8u << 20)
#define REPORT_CONNECT_WAIT 3000 /* ms a TCP connect may take before it is retried */

typedef struct report report_t;

/* A growable text buffer the dump callback appends lines to. */
typedef struct {
    char *s;
    size_t len, cap;
} report_buf_t;

/* Append n bytes (aborts on out-of-memory). */
void report_buf_add(report_buf_t *b, const char *s, size_t n) ATTR_NONNULL;

/* Writes, when gslbd's `version` is 4 or more, the vantage's CANARY line
 * (if it has canaries), then every known member's MEMBER line into b, then,
 * when `version` is 3 or more, every region's latest LOAD line; sets
 * *interval_ms to the SYNCED interval. Returns the number of MEMBER lines
 * written. */
typedef size_t (*report_dump_fn)(void *arg, report_buf_t *b, unsigned version,
                                 unsigned *interval_ms);

/* The first control-protocol versions that have LOAD, and CANARY. */
#define REPORT_LOAD_VERSION   3
#define REPORT_CANARY_VERSION 4

/* Where a report goes. Pointers are not copied: they must outlive the
 * report. */
typedef struct {
    const char *name;           /* --gslbd as given: a socket path, or HOST:PORT */
    const struct sockaddr *tcp; /* the address of HOST:PORT; NULL: name is a path */
    const char *vantage;        /* the vantage= of HELLO: required over TCP, NULL for none */
    const ctlauth_key_t *key;   /* TCP: the vantage's key, signs every line */
} report_peer_t;

/* Start connecting to `peer` (copied; what it points to is not). TCP needs
 * a vantage and a key. Returns 0 and sets *out, or a negative code. */
int report_new(uv_loop_t *loop, const report_peer_t *peer, report_dump_fn dump, void *arg,
               report_t **out) ATTR_WUR;

/* Send one report, a MEMBER line (ending in "\n"), if connected and synced
 * (counted in report_sent()); dropped otherwise, since the next connection
 * sends the full state. */
void report_send(report_t *r, const char *line, size_t len);

/* Send one LOAD line (ending in "\n") if connected, synced and gslbd's
 * version has LOAD; dropped otherwise, as report_send() does. Not counted
 * in report_sent(). */
void report_send_load(report_t *r, const char *line, size_t len);

/* Send one CANARY line (ending in "\n") if connected, synced and gslbd's
 * version has CANARY; dropped otherwise, as report_send() does. Not
 * counted in report_sent(). */
void report_send_canary(report_t *r, const char *line, size_t len);

/* Connected to gslbd, which accepted our HELLO. */
bool report_connected(const report_t *r) ATTR_NONNULL;

/* The protocol version gslbd's answer to HELLO said ("OK gslbd N") on the
 * current connection; 0 before it answered, or when it said none. */
unsigned report_version(const report_t *r) ATTR_NONNULL;

/* MEMBER lines sent so far on every connection: changes (report_send())
 * and the members of each full state. */
uint64_t report_sent(const report_t *r) ATTR_NONNULL;

/* The gslbd as given to report_new(): a socket path, or HOST:PORT. */
const char *report_path(const report_t *r) ATTR_NONNULL;

/* Send PING often enough that gslbd, which counts a member unknown after
 * `stale_ms` without a word (the shortest stale_after of the checks; 0: the
 * default), hears at least three a period: every stale_ms / 3, at most every
 * second, at least every 30 ms. */
void report_set_heartbeat(report_t *r, unsigned stale_ms);

/* Close the connection and free; run the loop for the close callbacks.
 * NULL-safe. */
void report_free(report_t *r);

#endif
