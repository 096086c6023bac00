/*
 * cookie: SipHash-2-4 and RFC 9018 server cookies; see cookie.h. Written
 * from the SipHash paper and RFC 9018; checked against their vectors in
 * tests/unit/test_cookie.c.
 */
#include "gslbd/engine/cookie.h"

#include <string.h>

#define COOKIE_VERSION   1
#define COOKIE_MAX_AGE   3600 /* RFC 9018 4.3: older is invalid */
#define COOKIE_RENEW_AGE 1800 /* RFC 9018 4.3: older is replaced */
#define COOKIE_MAX_AHEAD 300  /* RFC 9018 4.3: clock skew between servers */

static inline uint64_t rotl(uint64_t x, unsigned b)
{
    return x << b | x >> (64 - b);
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

typedef struct {
    uint64_t v0, v1, v2, v3;
} sip_t;

static inline void sip_round(sip_t *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13) ^ s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16) ^ s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21) ^ s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17) ^ s->v2;
    s->v2 = rotl(s->v2, 32);
}

/* Two compression rounds per message word. */
static inline void sip_word(sip_t *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t cookie_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    sip_t s = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
               k1 ^ 0x7465646279746573ull};
    size_t whole = len & ~(size_t)7;

    for (size_t i = 0; i < whole; i += 8) {
        sip_word(&s, load_le64(msg + i));
    }
    /* The last word: the remaining bytes, and the length in its top byte. */
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = whole; i < len; i++) {
        last |= (uint64_t)msg[i] << (8 * (i - whole));
    }
    sip_word(&s, last);
    s.v2 ^= 0xff; /* four finalisation rounds */
    for (int r = 0; r < 4; r++) {
        sip_round(&s);
    }
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* The Hash of RFC 9018 4.4 over the client cookie, the first eight bytes of
 * the server cookie (version, reserved, timestamp) and the address, in the
 * byte order the RFC's examples have: SipHash's output, least significant
 * byte first. */
static void cookie_hash(const uint8_t *secret, const uint8_t *client, const uint8_t *head,
                        const uint8_t *ip, size_t iplen, uint8_t out[8])
{
    uint8_t msg[COOKIE_CLIENT_LEN + 8 + 16];

    memcpy(msg, client, COOKIE_CLIENT_LEN);
    memcpy(msg + COOKIE_CLIENT_LEN, head, 8);
    memcpy(msg + COOKIE_CLIENT_LEN + 8, ip, iplen);
    uint64_t h = cookie_siphash24(secret, msg, COOKIE_CLIENT_LEN + 8 + iplen);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h >> (8 * i));
    }
}

void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t *client, const uint8_t *ip,
                 size_t iplen, uint32_t now, uint8_t out[COOKIE_SERVER_LEN])
{
    out[0] = COOKIE_VERSION;
    out[1] = out[2] = out[3] = 0; /* reserved: zero when we make one */
    out[4] = (uint8_t)(now >> 24);
    out[5] = (uint8_t)(now >> 16);
    out[6] = (uint8_t)(now >> 8);
    out[7] = (uint8_t)now;
    cookie_hash(secret, client, out, ip, iplen, out + 8);
}

cookie_check_t cookie_check(const uint8_t secret[COOKIE_SECRET_LEN], const uint8_t *cookie,
                            size_t len, const uint8_t *ip, size_t iplen, uint32_t now)
{
    const uint8_t *server = cookie + COOKIE_CLIENT_LEN;
    uint8_t hash[8];

    if (len != COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN || server[0] != COOKIE_VERSION) {
        return COOKIE_INVALID;
    }
    uint32_t stamp = (uint32_t)server[4] << 24 | (uint32_t)server[5] << 16 |
                     (uint32_t)server[6] << 8 | server[7];
    int32_t age = (int32_t)(now - stamp); /* serial number arithmetic (RFC 1982) */
    if (age > COOKIE_MAX_AGE || age < -COOKIE_MAX_AHEAD) {
        return COOKIE_INVALID;
    }
    cookie_hash(secret, cookie, server, ip, iplen, hash);
    /* Every byte compared, whichever differs: no early exit to time. */
    unsigned diff = 0;
    for (int i = 0; i < 8; i++) {
        diff |= hash[i] ^ server[8 + i];
    }
    if (diff != 0) {
        return COOKIE_INVALID;
    }
    return age >= COOKIE_RENEW_AGE ? COOKIE_RENEW : COOKIE_VALID;
}
