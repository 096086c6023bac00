/*
 * ctl: the control protocol, the health contract's part two: how health
 * reports and operators' commands travel to gslbd. healthd, gslbd and
 * gslbctl read and write its lines only through ctl_parse() and
 * ctl_format(); what the states mean is health.h.
 *
 * Transport: a Unix stream socket (gslbd --control PATH). A message is one
 * line of text ending in "\n", at most CTL_LINE_MAX bytes before it. A line
 * is a verb, its positional arguments, then optional attributes written
 * key=value, then for some verbs free text. Every request gets a reply: zero
 * or more data lines, then one line "OK [TEXT]" or "ERR TEXT". Data lines
 * keep to CTL_LINE_MAX bytes too, and never start with the word OK or ERR.
 *
 *   HELLO PEER VERSION [vantage=NAME]
 *       who is talking (PEER: healthd, gslbctl); gslbd replies "OK gslbd 4".
 *       A healthd started with --vantage NAME says vantage=NAME on the local
 *       socket too, and gslbd files its reports under that vantage
 *   MEMBER ZONE REGION ADDRESS up|down|unknown [seq=N] [vantage=NAME] [reason=TEXT]
 *       a pool member's health, from healthd
 *   LOAD ZONE REGION UTIL|unknown [figure=X] [capacity=X] [seq=N] [vantage=NAME] [reason=TEXT]
 *       how loaded a region's balancer is, from healthd (version 3): UTIL
 *       is the figure read from it over the zone's capacity, a decimal
 *       ("0.93"); unknown when it could not be read (reason says why)
 *   CANARY ok|failed [seq=N] [reason=TEXT]
 *       the verdict of a vantage's canaries, from its healthd (version 4):
 *       failed while more than half of the canary targets its zones declare
 *       for it are down, which says its own network is in doubt; reason
 *       names the failing targets
 *   SYNCED INTERVAL_MS [seq=N]
 *       healthd has sent every member it knows, and will report again at
 *       least every INTERVAL_MS
 *   PING                       heartbeat (healthd sends one a second)
 *   STATUS [text|json]
 *       per zone its serial and last reload, per region its effective state
 *       and why, its weight, its members' last reports and their age, per
 *       service each region's share of the answers of the last minute; as
 *       text (lines meant for people), or as one JSON document spread over
 *       the data lines (gslbd/engine/status.h describes it)
 *   SET drain|down|up|auto ZONE|* REGION [ADDRESS]
 *       an operator override on a region or member; "auto" removes it
 *   RELOAD
 *       reload every zone file now, as SIGHUP does; the reply comes once the
 *       reload that includes the request has finished: a data line per error
 *       ("file:line:col: error: ..."), one per zone ("ZONE: loaded serial N
 *       (was M)", "ZONE: NOT reloaded (2 errors): serial M keeps serving",
 *       ...), then OK when every zone file loaded, ERR when any did not
 *   EXPLAIN ADDRESS[/PREFIX] NAME [TYPE]
 *       what gslbd answers a client there now and why, with live health,
 *       overrides and weights: the text of gslbd --explain, as data lines
 *
 * Who may send what is gslbd's decision, from the peer's credentials:
 * HELLO, PING, STATUS and EXPLAIN anyone who can connect; SET and RELOAD
 * root, gslbd's own user and the control group; MEMBER, LOAD, CANARY and
 * SYNCED root and gslbd's own user (healthd).
 *
 * A reply "OK sync" (the text CTL_SYNC_REQUEST) asks a healthd for its full
 * state again: every member it knows, then SYNCED. gslbd asks when it has
 * dropped what a healthd said (its reports went stale while it was silent)
 * or has members that healthd has not reported (a reload added them).
 *
 * Attributes carry what a message may need beyond its arguments; a receiver
 * ignores keys it does not know, so a newer sender can add one (a load
 * figure, say) without a new format and without breaking an older gslbd.
 * Known keys: reason (free text to the end of the line, so it comes last),
 * vantage (the name of the prober that judged, for several healthd), seq (the
 * sender's running count of reports, so a receiver can see it missed some).
 * Values other than reason hold no spaces.
 *
 * Version 1 senders wrote MEMBER's reason without "reason=": a MEMBER line
 * whose fifth argument is not key=value takes it and the rest of the line as
 * its reason, so they are still understood.
 *
 * Version 4 added CANARY, and HELLO's vantage= on the local socket. An older
 * gslbd answers CANARY ERR "unknown command", so healthd sends it only to a
 * gslbd whose HELLO reply says 4 or more; an older gslbd ignores the vantage=
 * of a local HELLO (an attribute it does not use) and files the reports
 * under "healthd" as before.
 *
 * Version 3 added LOAD. An older gslbd answers it ERR "unknown command", so
 * healthd sends it only to a gslbd whose HELLO reply says 3 or more.
 *
 * Version 2 grew STATUS's argument, RELOAD and EXPLAIN without a new number:
 * an older gslbd answers each of them with ERR (a usage line, or "unknown
 * command"), never with something else, so a newer gslbctl can say that
 * gslbd is older than it, and nothing else changes for healthd.
 *
 * healthd sends HELLO, every known member's state and SYNCED on each
 * (re)connection, then changes, and PING every second. Each healthd's report
 * is its vote on the member; gslbd decides by a quorum of the votes
 * (gslbd/engine/healthdb.h) and stops counting the votes of a healthd it has
 * not heard from for a member's stale_after.
 */
#ifndef GSLB_CTL_H
#define GSLB_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/health.h"
#include "common/log.h"

#define CTL_VERSION      4
#define CTL_LINE_MAX     1024
#define CTL_SYNC_REQUEST "sync" /* the text of an OK reply asking for the full state */

typedef enum {
    CTL_NONE, /* an empty line */
    CTL_HELLO,
    CTL_MEMBER,
    CTL_LOAD,
    CTL_CANARY,
    CTL_SYNCED,
    CTL_PING,
    CTL_STATUS,
    CTL_SET,
    CTL_RELOAD,
    CTL_EXPLAIN,
    CTL_OK,
    CTL_ERR,
    CTL_DATA, /* any other line: a data line of a reply, or a request gslbd does not know */
} ctl_verb_t;

/* One message. Strings point into the parsed line (or the caller's memory
 * when formatting) and are NULL when absent. */
typedef struct {
    ctl_verb_t verb;
    const char *peer;           /* HELLO */
    unsigned version;           /* HELLO */
    const char *zone;           /* MEMBER, LOAD, SET ("*": every zone) */
    const char *region;         /* MEMBER, LOAD, SET */
    const char *member;         /* MEMBER; SET on a member (NULL: the region) */
    health_state_t state;       /* MEMBER; CANARY: HEALTH_UP "ok", HEALTH_DOWN "failed" */
    double util;                /* LOAD: utilisation, when util_known */
    bool util_known;            /* LOAD: false for "unknown" */
    double figure, capacity;    /* LOAD: attributes figure= and capacity=, NAN when absent */
    health_override_t override; /* SET (HEALTH_OV_NONE: "auto") */
    unsigned interval_ms;       /* SYNCED */
    bool json;                  /* STATUS json */
    const char *client;         /* EXPLAIN: ADDRESS[/PREFIX] */
    const char *qname, *qtype;  /* EXPLAIN (qtype NULL: A) */
    const char *vantage;        /* attribute vantage= */
    uint64_t seq;               /* attribute seq=, when has_seq */
    bool has_seq;
    const char *text; /* MEMBER, LOAD, CANARY: reason=; OK, ERR: the text; DATA: the line */
} ctl_msg_t;

/* Parse one line (without its "\n") in place: the line is cut into tokens
 * that *m points to. Returns 0, or GSLB_EPROTO with *why (may be NULL) set
 * to a static sentence saying what is wrong: a known verb with wrong
 * arguments, or a line that is not a request (m->verb is CTL_DATA). */
int ctl_parse(char *line, ctl_msg_t *m, const char **why) ATTR_WUR;

/* Write m as one line ending in "\n" into out (NUL-terminated). Arguments
 * must be non-empty and free of spaces and control characters; the text is
 * cut to keep the line within CTL_LINE_MAX and out's size, its control
 * characters turned into spaces. Returns the line's length with its "\n",
 * -EINVAL for an argument the protocol cannot carry, or -ENOSPC when `size`
 * cannot hold even the line without its text. */
int ctl_format(const ctl_msg_t *m, char *out, size_t size) ATTR_WUR;

/* A name that travels as one token of the protocol and in gslbd's files
 * (a region, a vantage): 1 to CTL_NAME_MAX letters, digits, '-', '_' and
 * '.', nothing a shell or a log would mangle. */
#define CTL_NAME_MAX 63
bool ctl_name_ok(const char *name);

/* Split `line` in place at spaces into at most `max` tokens; the last token
 * takes the rest of the line. Returns the token count. (For files written in
 * the same spirit, such as gslbd's overrides file.) */
int ctl_split(char *line, char **argv, int max);

/* Reassembles lines from a byte stream. */
typedef struct {
    char buf[CTL_LINE_MAX + 1];
    size_t len;
} ctl_lines_t;

/* Feed received bytes; `fn` is called for each complete line (without its
 * "\n", NUL-terminated, writable). Returns 0, or -EMSGSIZE when a line
 * exceeds CTL_LINE_MAX (the peer should be disconnected). */
int ctl_feed(ctl_lines_t *lb, const char *data, size_t n, void (*fn)(void *arg, char *line),
             void *arg) ATTR_WUR;

#endif
