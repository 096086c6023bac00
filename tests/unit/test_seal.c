/*
 * Unit tests for healthd/seal.c: what healthd sends over gslbd's network
 * channel. The exact lines and MACs are the wire format (common/ctlauth.h);
 * the two MACs were computed with Python's hmac module, independently of
 * this code. Every sealed line must pass gslbd's own check (ctlauth_verify)
 * and parse back with its seq=.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/ctl.h"
#include "common/ctlauth.h"
#include "healthd/seal.h"

#define NONCE "0123456789abcdef0123456789abcdef"

static ctlauth_key_t test_key(void)
{
    ctlauth_key_t k = {.name = "ams", .len = 32};

    for (size_t i = 0; i < k.len; i++) {
        k.key[i] = (uint8_t)i;
    }
    return k;
}

/* Seal `in`, check it with gslbd's verify, and parse it back. */
static void check_sealed(const char *nonce, const char *out, int n, uint64_t seq, ctl_msg_t *m,
                         char *buf)
{
    ctlauth_key_t k = test_key();

    cr_assert_gt(n, 0);
    cr_expect_eq((size_t)n, strlen(out));
    cr_expect_eq(out[n - 1], '\n', "a sealed line ends in a newline");
    cr_expect_leq(n - 1, CTL_LINE_MAX, "gslbd reads at most CTL_LINE_MAX bytes a line");
    memcpy(buf, out, (size_t)n - 1);
    buf[n - 1] = '\0';
    cr_assert_eq(ctlauth_verify(&k, nonce, buf), 0, "gslbd takes: %s", out);
    cr_assert_eq(ctl_parse(buf, m, NULL), 0);
    cr_expect(m->has_seq);
    cr_expect_eq(m->seq, seq);
}

Test(seal, hello_over_the_empty_nonce)
{
    ctlauth_key_t k = test_key();
    char out[SEAL_LINE_MAX], buf[SEAL_LINE_MAX];
    const char *in = "HELLO healthd 3 vantage=ams\n";
    ctl_msg_t m;
    int n = seal_line(&k, "", 1, in, strlen(in), out, sizeof(out));

    cr_expect_str_eq(out, "HELLO healthd 3 vantage=ams seq=1 "
                          "mac=699fb88f74b1495da2f1efadea144850c4c6792d7b689ce4366c9543aab22e0f\n");
    check_sealed("", out, n, 1, &m, buf);
    cr_expect_str_eq(m.vantage, "ams");
}

Test(seal, member_seq_goes_before_the_reason)
{
    ctlauth_key_t k = test_key();
    char out[SEAL_LINE_MAX], buf[SEAL_LINE_MAX];
    const char *in = "MEMBER eu.test west 192.0.2.1 down reason=status 503\n";
    ctl_msg_t m;
    int n = seal_line(&k, NONCE, 7, in, strlen(in), out, sizeof(out));

    cr_expect_str_eq(out, "MEMBER eu.test west 192.0.2.1 down seq=7 reason=status 503 "
                          "mac=568044fbe8300d2a002e90545e1894c133b50411e2ed2deb0a2f14e66734eaff\n");
    check_sealed(NONCE, out, n, 7, &m, buf);
    cr_expect_str_eq(m.text, "status 503", "the reason stays whole, the mac is not part of it");
    cr_expect_eq(ctlauth_verify(&k, "", buf), -EBADMSG, "the mac was cut off by the check");
}

Test(seal, another_nonce_or_seq_is_another_mac)
{
    ctlauth_key_t k = test_key();
    char a[SEAL_LINE_MAX], b[SEAL_LINE_MAX];
    const char *in = "PING\n";

    cr_assert_gt(seal_line(&k, NONCE, 2, in, strlen(in), a, sizeof(a)), 0);
    cr_expect(strncmp(a, "PING seq=2 mac=", 15) == 0, "got %s", a);
    a[strlen(a) - 1] = '\0';
    cr_expect_eq(ctlauth_verify(&k, "ffffffffffffffffffffffffffffffff", a), -EPERM,
                 "a line is bound to its connection's nonce");
    cr_assert_gt(seal_line(&k, NONCE, 3, in, strlen(in), b, sizeof(b)), 0);
    cr_expect(strncmp(b, "PING seq=3 mac=", 15) == 0);
    cr_expect(strcmp(a + 15, b + 15) != 0);
}

Test(seal, load_and_synced_keep_their_figures)
{
    ctlauth_key_t k = test_key();
    char out[SEAL_LINE_MAX], buf[SEAL_LINE_MAX];
    const char *load = "LOAD eu.test west 0.93 figure=930 capacity=1000\n";
    const char *synced = "SYNCED 500";
    ctl_msg_t m;
    int n = seal_line(&k, NONCE, 4, load, strlen(load), out, sizeof(out));

    cr_expect(strncmp(out, "LOAD eu.test west 0.93 figure=930 capacity=1000 seq=4 mac=", 58) == 0,
              "got %s", out);
    check_sealed(NONCE, out, n, 4, &m, buf);
    n = seal_line(&k, NONCE, 5, synced, strlen(synced), out, sizeof(out));
    cr_expect(strncmp(out, "SYNCED 500 seq=5 mac=", 21) == 0, "a line without its newline too");
    check_sealed(NONCE, out, n, 5, &m, buf);
    cr_expect_eq(m.interval_ms, 500);
}

/* A reason long enough to fill a local line: over the network it is cut so
 * that the line and its mac stay within what gslbd reads. */
Test(seal, a_long_reason_is_cut_to_leave_room_for_the_mac)
{
    ctlauth_key_t k = test_key();
    char in[CTL_LINE_MAX + 2], out[SEAL_LINE_MAX], buf[SEAL_LINE_MAX];
    ctl_msg_t m;
    int len = snprintf(in, sizeof(in), "MEMBER eu.test west 192.0.2.1 down reason=");

    memset(in + len, 'x', CTL_LINE_MAX - (size_t)len);
    in[CTL_LINE_MAX] = '\n';
    int n = seal_line(&k, NONCE, 9, in, CTL_LINE_MAX + 1, out, sizeof(out));
    check_sealed(NONCE, out, n, 9, &m, buf);
    cr_expect_eq(n - 1, CTL_LINE_MAX, "filled to the limit, not past it");
    cr_expect_eq(m.text[0], 'x');
}

Test(seal, what_cannot_be_sealed)
{
    ctlauth_key_t k = test_key();
    char out[SEAL_LINE_MAX], small[64];

    cr_expect_eq(seal_line(&k, NONCE, 1, "\n", 1, out, sizeof(out)), -EINVAL, "an empty line");
    cr_expect_eq(seal_line(&k, NONCE, 1, "BOGUS 1\n", 8, out, sizeof(out)), -EINVAL,
                 "not a request");
    cr_expect_eq(seal_line(&k, NONCE, 1, "MEMBER z r\n", 11, out, sizeof(out)), -EINVAL,
                 "a request missing its arguments");
    cr_expect_eq(seal_line(&k, NONCE, 1, "PING\n", 5, small, sizeof(small)), -EINVAL,
                 "an output buffer shorter than SEAL_LINE_MAX");
}

Test(seal, the_nonce_of_gslbds_answer)
{
    char nonce[CTLAUTH_NONCE_LEN + 1];

    cr_expect_eq(seal_nonce("gslbd 3 nonce=" NONCE, nonce), 0);
    cr_expect_str_eq(nonce, NONCE);
    cr_expect_eq(seal_nonce("gslbd 3 nonce=abc123 more=1", nonce), 0);
    cr_expect_str_eq(nonce, "abc123");
    cr_expect_eq(seal_nonce("gslbd 3", nonce), -ENOENT, "a gslbd without the network channel");
    cr_expect_eq(seal_nonce("gslbd 3 xnonce=abcd", nonce), -ENOENT, "another attribute");
    cr_expect_eq(seal_nonce("gslbd 3 nonce=", nonce), -EINVAL);
    cr_expect_eq(seal_nonce("gslbd 3 nonce=xyz", nonce), -EINVAL, "not hex");
    cr_expect_eq(seal_nonce("gslbd 3 nonce=" NONCE "0", nonce), -EINVAL, "too long");
}
