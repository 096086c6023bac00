/*
 * ctlauth: the control protocol over a network (gslbd --control-listen):
 * each message healthd sends is authenticated with an HMAC-SHA256 under
 * its vantage's key, and bound to the connection and its place in it, so
 * none can be forged, replayed on another connection or replayed on the
 * same one.
 *
 * The exchange, on top of common/ctl.h:
 *
 *   healthd:  HELLO healthd 4 vantage=ams seq=1 mac=HEX
 *   gslbd:    OK gslbd 4 nonce=NONCE
 *   healthd:  MEMBER z r 192.0.2.1 down seq=2 reason=status 503 mac=HEX
 *   ...
 *
 * mac= ends every line the client sends (it is cut off before the line
 * is parsed) and is the HMAC of "NONCE\n" and the line before " mac=". For
 * HELLO, whose nonce is not known yet, NONCE is the empty string: a HELLO
 * proves the key, but a recorded one replayed gets only a fresh nonce, and
 * every later line is bound to that. seq= must grow from line to line.
 * Replies are not authenticated: they carry nothing healthd acts on but a
 * request to send its state again.
 *
 * Keys: a file of lines "VANTAGE hmac-sha256 BASE64" (32 random bytes:
 * ctlauth_keygen), '#' comments; gslbd reads every vantage's, healthd its
 * own. It must not be readable by others.
 */
#ifndef GSLB_CTLAUTH_H
#define GSLB_CTLAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"

#define CTLAUTH_KEY_MAX   64
#define CTLAUTH_NAME_MAX  64 /* a vantage name and its NUL: ctl_name_ok() */
#define CTLAUTH_NONCE_LEN 32 /* hex digits */
#define CTLAUTH_MAC_LEN   64 /* hex digits of an HMAC-SHA256 */
/* What " mac=HEX" adds to a line. */
#define CTLAUTH_SUFFIX_LEN (5 + CTLAUTH_MAC_LEN)

typedef struct {
    char name[CTLAUTH_NAME_MAX];
    uint8_t key[CTLAUTH_KEY_MAX];
    size_t len;
} ctlauth_key_t;

typedef struct {
    ctlauth_key_t *keys;
    size_t n;
} ctlauth_keys_t;

/* Read a keys file. Returns 0, or a negative errno / GSLB_ECONFIG with a
 * line per problem in errs ("FILE:LINE: ..."): a bad line, a repeated
 * vantage, a key shorter than 16 bytes, a file others may read. */
int ctlauth_keys_load(const char *path, ctlauth_keys_t *out, diag_t *errs) ATTR_WUR;
void ctlauth_keys_free(ctlauth_keys_t *k);

/* The key of `vantage`, NULL when it has none. */
const ctlauth_key_t *ctlauth_find(const ctlauth_keys_t *k, const char *vantage);

/* A fresh nonce, CTLAUTH_NONCE_LEN hex digits and a NUL. */
void ctlauth_nonce(char out[CTLAUTH_NONCE_LEN + 1]);

/* Append " mac=HEX" to `line` (len bytes, no "\n"; `size` must leave room
 * for CTLAUTH_SUFFIX_LEN more and a NUL). Returns the new length, or -1
 * when it does not fit. */
int ctlauth_sign(const ctlauth_key_t *k, const char *nonce, char *line, size_t len, size_t size);

/* Check and cut off the mac of `line` (NUL-terminated, no "\n"), in place.
 * Returns 0, -EBADMSG when the line has no mac, -EPERM when it is wrong. */
int ctlauth_verify(const ctlauth_key_t *k, const char *nonce, char *line);

/* The value of attribute `key` in a line (KEY=VALUE as a word of its own,
 * before any reason=, whose text is free), and its length in *len; NULL
 * when the line has none. */
const char *ctlauth_attr(const char *line, const char *key, size_t *len);

/* The vantage a line names (vantage=NAME), copied into out; false when there
 * is none or it does not fit. For choosing the key of a HELLO. */
bool ctlauth_vantage(const char *line, char *out, size_t size);

/* A new keys-file line for `vantage`, "NAME hmac-sha256 BASE64\n". Returns
 * 0, or a negative errno (no randomness, a name that cannot be a vantage). */
int ctlauth_keygen(const char *vantage, char *out, size_t size) ATTR_WUR;

#endif
