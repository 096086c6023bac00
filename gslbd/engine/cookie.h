/*
 * cookie: DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018).
 *
 * A server cookie is Version 1, three reserved bytes, a Timestamp (seconds,
 * serial number arithmetic) and a Hash: SipHash-2-4, keyed with the server
 * secret, over the client cookie, those eight bytes and the client's
 * address. Any server holding the same secret recognises it, so an anycast
 * group can share one. A client that returns a server cookie of ours has
 * shown that it receives what is sent to its address: the rate limiter
 * (rrl.h) trusts it. This module makes and checks cookies; reading the
 * COOKIE option is query.c's, answering with it encode.c's. Pure, no
 * allocation, safe on any thread.
 */
#ifndef GSLB_COOKIE_H
#define GSLB_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#define COOKIE_SECRET_LEN 16
#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16 /* the length of ours; RFC 7873 allows 8 to 32 */

/* SipHash-2-4 (Aumasson and Bernstein) of `len` bytes with a 16-byte key. */
uint64_t cookie_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len);

/* Our server cookie for `client` (8 bytes) at address `ip` (4 or 16 bytes)
 * at time `now` (seconds since the epoch), into out[16] (RFC 9018 4.1). */
void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t *client, const uint8_t *ip,
                 size_t iplen, uint32_t now, uint8_t out[COOKIE_SERVER_LEN]);

typedef enum {
    COOKIE_INVALID, /* not one of ours, or expired: answer with a new one */
    COOKIE_VALID,   /* ours: send it back as it is */
    COOKIE_RENEW,   /* ours, but over half an hour old: valid, send a new one (RFC 9018 4.3) */
} cookie_check_t;

/* Check a whole COOKIE option's data (`len` bytes: the client cookie, then
 * the server cookie) from `ip` at `now`: ours, made with `secret`, at most
 * an hour old and at most five minutes ahead (RFC 9018 4.3). */
cookie_check_t cookie_check(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t *cookie,
                            size_t len, const uint8_t *ip, size_t iplen, uint32_t now);

#endif
