/*
 * Unit tests for healthd/pstats: reason classes, per-target counts with
 * their bound on distinct reasons, the duration histogram's buckets and the
 * loop lag's maximum over the last minute. The metrics they feed are tested
 * on a live healthd by tests/e2e/test_healthd_metrics.py.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "healthd/pstats.h"

static const struct {
    const char *reason, *cls;
} reason_cases[] = {
    {"timeout", "timeout"},
    {"refused", "refused"},
    {"status 503", "status 503"},
    {"status 200", "status 200"},
    {"body mismatch", "body mismatch"},
    {"body mismatch (not in the first 64 KiB)", "body mismatch"},
    {"TLS error: SSL certificate problem: self-signed certificate", "TLS error"},
    {"DNS/connect error: Failed to connect to 127.0.0.1 port 9", "DNS/connect error"},
    {"HTTP error: Weird server reply", "HTTP error"},
    {"internal error: cannot make a curl handle", "internal error"},
    {"connected", "connected"},
    {"", ""},
};

Test(pstats, reason_classes)
{
    for (size_t i = 0; i < sizeof(reason_cases) / sizeof(reason_cases[0]); i++) {
        char out[PSTATS_REASON_MAX];

        pstats_reason(reason_cases[i].reason, out, sizeof(out));
        cr_expect_str_eq(out, reason_cases[i].cls, "'%s'", reason_cases[i].reason);
    }
}

Test(pstats, reason_cut_to_size)
{
    char out[8];

    pstats_reason("a very long reason without a colon", out, sizeof(out));
    cr_assert_str_eq(out, "a very ");
    pstats_reason("x", out, 1);
    cr_assert_str_eq(out, "");
}

Test(pstats, count_by_reason)
{
    pstats_target_t s = {0};

    pstats_count(&s, true, "status 200");
    pstats_count(&s, true, "");
    pstats_count(&s, false, "timeout");
    pstats_count(&s, false, "TLS error: one thing");
    pstats_count(&s, false, "TLS error: another");
    pstats_count(&s, false, "timeout");
    pstats_count(&s, false, "timeout");
    cr_assert_eq(s.ok, 2);
    cr_assert_eq(s.n_fail, 2);
    cr_assert_str_eq(s.fail[0].reason, "timeout");
    cr_assert_eq(s.fail[0].n, 3);
    cr_assert_str_eq(s.fail[1].reason, "TLS error");
    cr_assert_eq(s.fail[1].n, 2);
    cr_assert_eq(pstats_total(&s), 7);
}

Test(pstats, distinct_reasons_are_bounded)
{
    pstats_target_t s = {0};
    char reason[32];

    for (unsigned code = 500; code < 520; code++) {
        snprintf(reason, sizeof(reason), "status %u", code);
        pstats_count(&s, false, reason);
        pstats_count(&s, false, reason);
    }
    cr_assert_eq(s.n_fail, PSTATS_REASONS);
    for (unsigned i = 0; i < PSTATS_REASONS - 1; i++) {
        snprintf(reason, sizeof(reason), "status %u", 500 + i);
        cr_expect_str_eq(s.fail[i].reason, reason);
        cr_expect_eq(s.fail[i].n, 2);
    }
    cr_assert_str_eq(s.fail[PSTATS_REASONS - 1].reason, "other");
    cr_assert_eq(s.fail[PSTATS_REASONS - 1].n, 2 * (20 - (PSTATS_REASONS - 1)));
    /* A reason already kept still counts under its own name. */
    pstats_count(&s, false, "status 500");
    cr_assert_eq(s.fail[0].n, 3);
    cr_assert_eq(pstats_total(&s), 41);
}

Test(pstats, histogram_buckets)
{
    pstats_hist_t h = {0};

    pstats_observe(&h, 0.0005); /* <= 1 ms */
    pstats_observe(&h, 0.001);  /* a bound is "at or below" */
    pstats_observe(&h, 0.0011); /* <= 2.5 ms */
    pstats_observe(&h, 0.3);    /* <= 0.5 s */
    pstats_observe(&h, 10);     /* <= 10 s */
    pstats_observe(&h, 11);     /* above every bound */
    pstats_observe(&h, -1);     /* a clock step: counted as 0 */
    cr_assert_eq(h.counts[0], 3);
    cr_assert_eq(h.counts[1], 1);
    cr_assert_eq(h.counts[8], 1);
    cr_assert_eq(h.counts[PSTATS_BUCKETS - 1], 1);
    cr_assert_eq(h.counts[PSTATS_BUCKETS], 1);
    cr_assert_eq(pstats_hist_count(&h), 7);
    cr_assert_float_eq(h.sum, 0.0005 + 0.001 + 0.0011 + 0.3 + 10 + 11, 1e-9);
    cr_assert_float_eq(pstats_le[0], 0.001, 1e-12);
    cr_assert_float_eq(pstats_le[PSTATS_BUCKETS - 1], 10, 1e-12);
    for (unsigned i = 1; i < PSTATS_BUCKETS; i++) {
        cr_assert_gt(pstats_le[i], pstats_le[i - 1]);
    }
}

Test(pstats, lag_max_over_the_last_minute)
{
    pstats_lag_t l = {0};
    uint64_t t0 = 1000000;

    cr_assert_float_eq(pstats_lag_max(&l, t0), 0, 1e-12);
    pstats_lag_note(&l, t0, 0.002);
    pstats_lag_note(&l, t0 + 10, 0.5); /* a stall */
    pstats_lag_note(&l, t0 + 20, 0.001);
    cr_assert_float_eq(l.last, 0.001, 1e-12);
    cr_assert_float_eq(pstats_lag_max(&l, t0 + 20), 0.5, 1e-12);
    /* Small lags every second afterwards: the stall is remembered for 60 s. */
    for (uint64_t s = 1; s <= 70; s++) {
        pstats_lag_note(&l, t0 + s * 1000, 0.003);
        double want = s < PSTATS_LAG_SLOTS ? 0.5 : 0.003;
        cr_assert_float_eq(pstats_lag_max(&l, t0 + s * 1000), want, 1e-12, "after %u s",
                           (unsigned)s);
    }
    /* Nothing noted for over a minute: nothing to report. */
    cr_assert_float_eq(pstats_lag_max(&l, t0 + 200000), 0, 1e-12);
}
