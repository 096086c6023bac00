/*
 * pstats: probe counters, the duration histogram and the loop's lag; see
 * pstats.h.
 */
#include "healthd/pstats.h"

#include <string.h>

/* From a fast local check (about a millisecond) to the longest timeout a
 * check is likely to have. */
const double pstats_le[PSTATS_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};

void pstats_reason(const char *reason, char *out, size_t size)
{
    size_t n = strcspn(reason, ":(");

    while (n > 0 && reason[n - 1] == ' ') {
        n--;
    }
    if (n >= size) {
        n = size - 1;
    }
    memcpy(out, reason, n);
    out[n] = '\0';
}

void pstats_count(pstats_target_t *s, bool ok, const char *reason)
{
    char cls[PSTATS_REASON_MAX];
    unsigned i;

    if (ok) {
        s->ok++;
        return;
    }
    pstats_reason(reason, cls, sizeof(cls));
    for (i = 0; i < s->n_fail; i++) {
        if (strcmp(s->fail[i].reason, cls) == 0) {
            s->fail[i].n++;
            return;
        }
    }
    /* The last slot is kept for "other": every further class counts there. */
    if (s->n_fail == PSTATS_REASONS) {
        s->fail[PSTATS_REASONS - 1].n++;
        return;
    }
    if (s->n_fail == PSTATS_REASONS - 1) {
        strcpy(cls, "other");
    }
    strcpy(s->fail[s->n_fail].reason, cls);
    s->fail[s->n_fail++].n = 1;
}

uint64_t pstats_total(const pstats_target_t *s)
{
    uint64_t n = s->ok;

    for (unsigned i = 0; i < s->n_fail; i++) {
        n += s->fail[i].n;
    }
    return n;
}

void pstats_observe(pstats_hist_t *h, double seconds)
{
    unsigned i = 0;

    if (seconds < 0) {
        seconds = 0;
    }
    while (i < PSTATS_BUCKETS && seconds > pstats_le[i]) {
        i++;
    }
    h->counts[i]++;
    h->sum += seconds;
}

uint64_t pstats_hist_count(const pstats_hist_t *h)
{
    uint64_t n = 0;

    for (unsigned i = 0; i <= PSTATS_BUCKETS; i++) {
        n += h->counts[i];
    }
    return n;
}

void pstats_lag_note(pstats_lag_t *l, uint64_t now_ms, double seconds)
{
    uint64_t sec = now_ms / 1000;
    unsigned i = (unsigned)(sec % PSTATS_LAG_SLOTS);

    l->last = seconds;
    if (l->sec[i] != sec + 1) {
        l->sec[i] = sec + 1;
        l->max[i] = seconds;
    } else if (seconds > l->max[i]) {
        l->max[i] = seconds;
    }
}

double pstats_lag_max(const pstats_lag_t *l, uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000;
    double max = 0;

    for (unsigned i = 0; i < PSTATS_LAG_SLOTS; i++) {
        /* sec[i] - 1 is the slot's second: within the window when it is
         * later than sec - PSTATS_LAG_SLOTS. */
        if (l->sec[i] != 0 && l->sec[i] + PSTATS_LAG_SLOTS > sec + 1 && l->max[i] > max) {
            max = l->max[i];
        }
    }
    return max;
}
