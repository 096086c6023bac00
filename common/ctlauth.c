/*
 * ctlauth: HMAC-authenticated control lines; see ctlauth.h.
 */
#include "common/ctlauth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/alloc.h"
#include "common/ctl.h"
#include "common/errcode.h"

#define CTLAUTH_KEY_MIN 16

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int key_line(const char *path, unsigned lineno, char *line, ctlauth_keys_t *out,
                    diag_t *errs)
{
    diag_mark_t at = {.file = path, .line = lineno, .col = 1};
    char *name = strtok(line, " \t"), *alg = strtok(NULL, " \t"), *b64 = strtok(NULL, " \t");
    uint8_t raw[CTLAUTH_KEY_MAX * 2];
    int len;

    if (name == NULL || alg == NULL || b64 == NULL || strtok(NULL, " \t") != NULL) {
        diag_error(errs, &at,
                   "expected 'VANTAGE hmac-sha256 BASE64KEY' (gslbctl keygen "
                   "VANTAGE writes one)");
        return GSLB_ECONFIG;
    }
    if (!ctl_name_ok(name)) {
        diag_error(errs, &at, "'%s' cannot be a vantage name (letters, digits, '-', '_', '.')",
                   name);
        return GSLB_ECONFIG;
    }
    if (strcmp(alg, "hmac-sha256") != 0) {
        diag_error(errs, &at, "algorithm '%s': only hmac-sha256 is known", alg);
        return GSLB_ECONFIG;
    }
    size_t blen = strlen(b64);
    if (blen == 0 || blen % 4 != 0 || blen > sizeof(raw) / 3 * 4 ||
        (len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen)) < 0) {
        diag_error(errs, &at, "the key of '%s' is not base64 of at most %d bytes", name,
                   CTLAUTH_KEY_MAX);
        return GSLB_ECONFIG;
    }
    len -= (b64[blen - 1] == '=') + (blen > 1 && b64[blen - 2] == '=');
    if (len < CTLAUTH_KEY_MIN || len > CTLAUTH_KEY_MAX) {
        diag_error(errs, &at, "the key of '%s' is %d bytes: between %d and %d are taken", name, len,
                   CTLAUTH_KEY_MIN, CTLAUTH_KEY_MAX);
        return GSLB_ECONFIG;
    }
    if (ctlauth_find(out, name) != NULL) {
        diag_error(errs, &at, "vantage '%s' has a key already, further up", name);
        return GSLB_ECONFIG;
    }
    out->keys = xreallocarray(out->keys, out->n + 1, sizeof(*out->keys));
    ctlauth_key_t *k = &out->keys[out->n++];
    snprintf(k->name, sizeof(k->name), "%s", name);
    memcpy(k->key, raw, (size_t)len);
    k->len = (size_t)len;
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

int ctlauth_keys_load(const char *path, ctlauth_keys_t *out, diag_t *errs)
{
    diag_mark_t at = {.file = path};
    FILE *f = fopen(path, "re");
    struct stat st;
    char line[512];
    unsigned lineno = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (f == NULL) {
        int e = -errno;
        diag_error(errs, &at, "cannot read the keys: %s", gslb_strerror(e));
        return e;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
        diag_error(errs, &at, "anyone may read these keys (mode %03o): chmod o-rwx it",
                   (unsigned)(st.st_mode & 0777));
        fclose(f);
        return GSLB_ECONFIG;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#') {
            continue;
        }
        if (key_line(path, lineno, p, out, errs) < 0) {
            rc = GSLB_ECONFIG;
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (rc == 0 && out->n == 0) {
        diag_error(errs, &at, "no key in the file");
        rc = GSLB_ECONFIG;
    }
    if (rc < 0) {
        ctlauth_keys_free(out);
    }
    return rc;
}

void ctlauth_keys_free(ctlauth_keys_t *k)
{
    if (k->keys != NULL) {
        OPENSSL_cleanse(k->keys, k->n * sizeof(*k->keys));
    }
    free(k->keys);
    k->keys = NULL;
    k->n = 0;
}

const ctlauth_key_t *ctlauth_find(const ctlauth_keys_t *k, const char *vantage)
{
    for (size_t i = 0; k != NULL && i < k->n; i++) {
        if (strcmp(k->keys[i].name, vantage) == 0) {
            return &k->keys[i];
        }
    }
    return NULL;
}

void ctlauth_nonce(char out[CTLAUTH_NONCE_LEN + 1])
{
    uint8_t raw[CTLAUTH_NONCE_LEN / 2];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno != EINTR) {
            abort(); /* no randomness on Linux >= 3.17 means a broken system */
        }
    }
    hex(raw, sizeof(raw), out);
}

static void mac_of(const ctlauth_key_t *k, const char *nonce, const char *line, size_t len,
                   char out[CTLAUTH_MAC_LEN + 1])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    size_t nlen = strlen(nonce);
    char *msg = xmalloc(nlen + 1 + len);

    memcpy(msg, nonce, nlen);
    msg[nlen] = '\n';
    memcpy(msg + nlen + 1, line, len);
    HMAC(EVP_sha256(), k->key, (int)k->len, (const unsigned char *)msg, nlen + 1 + len, md, &mdlen);
    free(msg);
    hex(md, 32, out);
}

int ctlauth_sign(const ctlauth_key_t *k, const char *nonce, char *line, size_t len, size_t size)
{
    char mac[CTLAUTH_MAC_LEN + 1];

    if (len + CTLAUTH_SUFFIX_LEN + 1 > size) {
        return -1;
    }
    mac_of(k, nonce, line, len, mac);
    memcpy(line + len, " mac=", 5);
    memcpy(line + len + 5, mac, CTLAUTH_MAC_LEN + 1);
    return (int)(len + CTLAUTH_SUFFIX_LEN);
}

int ctlauth_verify(const ctlauth_key_t *k, const char *nonce, char *line)
{
    size_t len = strlen(line);
    char mac[CTLAUTH_MAC_LEN + 1];

    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r')) {
        len--;
    }
    if (len < CTLAUTH_SUFFIX_LEN || memcmp(line + len - CTLAUTH_SUFFIX_LEN, " mac=", 5) != 0) {
        return -EBADMSG;
    }
    len -= CTLAUTH_SUFFIX_LEN;
    mac_of(k, nonce, line, len, mac);
    if (CRYPTO_memcmp(mac, line + len + 5, CTLAUTH_MAC_LEN) != 0) {
        return -EPERM;
    }
    line[len] = '\0';
    return 0;
}

const char *ctlauth_attr(const char *line, const char *key, size_t *len)
{
    const char *reason = strstr(line, " reason="); /* the rest is free text */
    size_t klen = strlen(key);

    for (const char *p = strstr(line, key); p != NULL; p = strstr(p + 1, key)) {
        if (reason != NULL && p > reason) {
            return NULL;
        }
        if ((p == line || p[-1] == ' ') && p[klen] == '=') {
            *len = strcspn(p + klen + 1, " \t");
            return p + klen + 1;
        }
    }
    return NULL;
}

bool ctlauth_vantage(const char *line, char *out, size_t size)
{
    size_t n;
    const char *v = ctlauth_attr(line, "vantage", &n);

    if (v == NULL || n == 0 || n >= size) {
        return false;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

int ctlauth_keygen(const char *vantage, char *out, size_t size)
{
    uint8_t raw[32];
    char b64[64];

    if (!ctl_name_ok(vantage)) {
        return -EINVAL;
    }
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        return errno ? -errno : -EIO;
    }
    EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    if ((size_t)snprintf(out, size, "%s hmac-sha256 %s\n", vantage, b64) >= size) {
        return -ENOSPC;
    }
    return 0;
}
