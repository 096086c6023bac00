/*
 * seal: what healthd does to a control line before it goes to a gslbd over
 * the network (common/ctlauth.h): give it the connection's next seq= and
 * sign it under the vantage's key and the connection's nonce; and read the
 * nonce out of gslbd's answer to HELLO.
 *
 * Pure functions over text, no I/O: report.c calls them, unit tests too.
 * Lines on a local socket are never sealed.
 */
#ifndef GSLB_SEAL_H
#define GSLB_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctl.h"
#include "common/ctlauth.h"

/* The longest sealed line with its "\n" and NUL: what gslbd reads, a line
 * of at most CTL_LINE_MAX bytes, mac= included. */
#define SEAL_LINE_MAX (CTL_LINE_MAX + 2)

/* Seal one control line (`len` bytes, with or without its "\n"): parse it,
 * set seq=`seq`, format it again with room left for the mac (a reason too
 * long is cut, as ctl_format cuts any), sign it over `nonce` and end it in
 * "\n". Writes out (`size` >= SEAL_LINE_MAX) and returns the length with
 * the "\n"; or -EINVAL for a line ctl_parse refuses, -ENOSPC when even its
 * head leaves no room for the mac. */
int seal_line(const ctlauth_key_t *key, const char *nonce, uint64_t seq, const char *line,
              size_t len, char *out, size_t size) ATTR_NONNULL ATTR_WUR;

/* The nonce in the text of gslbd's answer to HELLO ("gslbd 3 nonce=HEX"),
 * copied into out. Returns 0, or -ENOENT when there is no nonce= (a gslbd
 * too old for the network channel, or not a --control-listen), -EINVAL when
 * it is not 1 to CTLAUTH_NONCE_LEN hex digits. */
int seal_nonce(const char *text, char out[CTLAUTH_NONCE_LEN + 1]) ATTR_WUR;

#endif
