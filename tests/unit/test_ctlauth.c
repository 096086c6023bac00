/*
 * Unit tests for common/ctlauth.c: keys files, signing and checking lines,
 * the vantage of a HELLO, keygen. One MAC is checked against a value
 * computed with Python's hmac module, so the wire format does not depend on
 * this implementation alone.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ctlauth.h"

#define KNOWN_MAC "4cda6967a8c250ad0dd9a9c0ee84b85ee33e73d2b3bf114a9da9821c6fd59417"

static char *write_keys(const char *text, mode_t mode)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/gslb-keys-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
    return path;
}

static bool has(const diag_t *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strstr(d->lines[i], needle) != NULL) {
            return true;
        }
    }
    return false;
}

Test(ctlauth, keygen_lines_load_back)
{
    char line[256], file[600] = "# two vantages\n\n";
    ctlauth_keys_t k;
    diag_t errs = {0};

    cr_assert_eq(ctlauth_keygen("ams", line, sizeof(line)), 0);
    cr_expect(strncmp(line, "ams hmac-sha256 ", 16) == 0);
    cr_expect_eq(strlen(line), 16 + 44 + 1, "32 bytes are 44 base64 characters");
    strcat(file, line);
    cr_assert_eq(ctlauth_keygen("nyc-2", line, sizeof(line)), 0);
    strcat(file, line);
    char *path = write_keys(file, 0600);
    cr_assert_eq(ctlauth_keys_load(path, &k, &errs), 0);
    unlink(path);
    cr_expect_eq(k.n, 2);
    cr_expect_eq(ctlauth_find(&k, "ams")->len, 32);
    cr_expect_not_null(ctlauth_find(&k, "nyc-2"));
    cr_expect_null(ctlauth_find(&k, "lon"));
    ctlauth_keys_free(&k);
    cr_expect_eq(ctlauth_keygen("a b", line, sizeof(line)), -EINVAL);
    cr_expect_eq(ctlauth_keygen("", line, sizeof(line)), -EINVAL);
}

Test(ctlauth, bad_keys_files_say_where)
{
    ctlauth_keys_t k;
    diag_t errs = {0};
    char *path = write_keys("ams hmac-sha256 c2hvcnQ=\n"             /* 5 bytes */
                            "nyc hmac-md5 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                            "lon hmac-sha256 !!!!\n"
                            "a/b hmac-sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                            "fra hmac-sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                            "fra hmac-sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                            "just-a-name\n",
                            0640);
    cr_expect_lt(ctlauth_keys_load(path, &k, &errs), 0);
    cr_expect(has(&errs, ":1:1: error: the key of 'ams' is 5 bytes"));
    cr_expect(has(&errs, ":2:1: error: algorithm 'hmac-md5'"));
    cr_expect(has(&errs, ":3:1: error: the key of 'lon' is not base64"));
    cr_expect(has(&errs, ":4:1: error: 'a/b' cannot be a vantage name"));
    cr_expect(has(&errs, ":6:1: error: vantage 'fra' has a key already"));
    cr_expect(has(&errs, ":7:1: error: expected 'VANTAGE hmac-sha256 BASE64KEY'"));
    cr_expect_eq(k.n, 0, "nothing kept from a bad file");
    diag_clear(&errs);
    chmod(path, 0604);
    cr_expect_lt(ctlauth_keys_load(path, &k, &errs), 0);
    cr_expect(has(&errs, "anyone may read these keys (mode 604)"));
    unlink(path);
    diag_clear(&errs);
    cr_expect_eq(ctlauth_keys_load("/nonexistent/keys", &k, &errs), -ENOENT);
    diag_clear(&errs);
}

Test(ctlauth, sign_and_verify)
{
    ctlauth_key_t k = {.name = "v", .key = "Jefe", .len = 4};
    char line[256] = "what do ya want for nothing?";
    char expect_line[256];
    int n = ctlauth_sign(&k, "", line, strlen(line), sizeof(line));

    cr_assert_gt(n, 0);
    cr_expect_eq((size_t)n, strlen("what do ya want for nothing?") + CTLAUTH_SUFFIX_LEN);
    snprintf(expect_line, sizeof(expect_line), "%s",
             "what do ya want for nothing? mac=");
    cr_expect(strncmp(line, expect_line, strlen(expect_line)) == 0);

    char copy[256];
    strcpy(copy, line);
    cr_expect_eq(ctlauth_verify(&k, "", copy), 0);
    cr_expect_str_eq(copy, "what do ya want for nothing?", "the mac is cut off");
    strcpy(copy, line);
    cr_expect_eq(ctlauth_verify(&k, "abc", copy), -EPERM, "another nonce");
    strcpy(copy, line);
    copy[0] = 'W';
    cr_expect_eq(ctlauth_verify(&k, "", copy), -EPERM, "an altered line");
    cr_expect_eq(ctlauth_verify(&k, "", strcpy(copy, "PING seq=1")), -EBADMSG);
    char small[40] = "PING seq=1";
    cr_expect_eq(ctlauth_sign(&k, "", small, strlen(small), sizeof(small)), -1, "no room");
}

Test(ctlauth, known_vector)
{
    /* HMAC-SHA256(key "key", "n\nPING seq=1"), computed independently:
     * python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"n\nPING seq=1",hashlib.sha256).hexdigest())' */
    ctlauth_key_t k = {.name = "v", .key = "key", .len = 3};
    char line[256] = "PING seq=1";
    cr_assert_gt(ctlauth_sign(&k, "n", line, strlen(line), sizeof(line)), 0);
    cr_expect_str_eq(line, "PING seq=1 mac=" KNOWN_MAC);
}

Test(ctlauth, vantage_of_a_hello)
{
    char v[64];
    cr_expect(ctlauth_vantage("HELLO healthd 3 vantage=ams seq=1 mac=00", v, sizeof(v)));
    cr_expect_str_eq(v, "ams");
    cr_expect_not(ctlauth_vantage("HELLO healthd 3 seq=1", v, sizeof(v)));
    cr_expect_not(ctlauth_vantage("MEMBER z r a down reason=x vantage=ams", v, sizeof(v)),
                  "inside a reason is no attribute");
    cr_expect_not(ctlauth_vantage("HELLO healthd 3 vantage= seq=1", v, sizeof(v)));
}
