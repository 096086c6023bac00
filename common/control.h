/*
 * control: the protocol spoken on gslbd's control socket (--control PATH),
 * by healthd (health reports) and gslbctl (operators). Both ends link this.
 *
 * Transport: a Unix stream socket. Messages are lines of text ending in "\n",
 * at most CONTROL_LINE_MAX bytes, tokens separated by spaces. Every request
 * gets a reply; a reply is zero or more data lines followed by one final line
 * that starts with "OK" or "ERR " and a reason. Requests (version 1):
 *
 *   HELLO NAME VERSION          who is talking; reply "OK gslbd 1"
 *   MEMBER ZONE REGION ADDRESS up|down [REASON...]
 *                               a pool member's health, from healthd
 *   SYNCED INTERVAL_MS          healthd has sent every member it knows; it
 *                               will report again at least this often
 *   PING                        heartbeat (healthd sends one a second)
 *   STATUS                      one data line per region and member
 *   SET drain|down|up|auto ZONE|* REGION [ADDRESS]
 *                               an operator override on a region or member;
 *                               "auto" removes it. Overrides survive restarts.
 *
 * healthd sends HELLO, then every known member's state, then SYNCED, on each
 * (re)connection, so a restarted gslbd gets the full state at once; after
 * that only changes, and PING every second. gslbd treats the reports of a
 * healthd it has not heard from for a member's stale_after (default three
 * check intervals) as unknown, and unknown counts as up.
 */
#ifndef GSLB_CONTROL_H
#define GSLB_CONTROL_H

#include <stddef.h>

#include "common/log.h"

#define CONTROL_VERSION  1
#define CONTROL_LINE_MAX 1024
#define CONTROL_ARGS_MAX 16

/* Split `line` in place at spaces into at most `max` tokens; the last token
 * takes the rest of the line (for REASON). Returns the token count. */
int control_split(char *line, char **argv, int max);

/* Reassembles lines from a byte stream. */
typedef struct {
    char buf[CONTROL_LINE_MAX + 1];
    size_t len;
} control_lines_t;

/* Feed received bytes; `fn` is called for each complete line (without its
 * "\n", NUL-terminated, writable). Returns 0, or -1 when a line exceeds
 * CONTROL_LINE_MAX (the peer should be disconnected). */
int control_feed(control_lines_t *lb, const char *data, size_t n, void (*fn)(void *arg, char *line),
                 void *arg) ATTR_WUR;

#endif
