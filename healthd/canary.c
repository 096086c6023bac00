/*
 * canary: a vantage's verdict from its canaries; see canary.h.
 */
#include "healthd/canary.h"

#include <stdio.h>
#include <string.h>

#include "common/ctl.h"

/* Append to the reason, cut at its size. */
static void canary_add(canary_verdict_t *v, size_t *len, const char *s)
{
    int n = snprintf(v->reason + *len, sizeof(v->reason) - *len, "%s", s);

    *len += n < 0 ? 0 : (size_t)n;
    if (*len >= sizeof(v->reason)) {
        *len = sizeof(v->reason) - 1;
    }
}

void canary_judge(const canary_probe_t *c, size_t n, canary_verdict_t *out)
{
    size_t len = 0;

    memset(out, 0, sizeof(*out));
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        out->down += c[i].state == HEALTH_DOWN;
    }
    /* More than half: with two canaries both must fail, so one broken
     * canary alone never silences a vantage. */
    out->failed = out->down * 2 > n;
    if (n == 0) {
        canary_add(out, &len, "no canaries");
        return;
    }
    if (out->down == 0) {
        return;
    }
    len = (size_t)snprintf(out->reason, sizeof(out->reason), "%zu of %zu down:", out->down, n);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (c[i].state != HEALTH_DOWN) {
            continue;
        }
        canary_add(out, &len, k++ > 0 ? ", " : " ");
        canary_add(out, &len, c[i].where);
        if (c[i].reason != NULL && c[i].reason[0] != '\0') {
            canary_add(out, &len, ": ");
            canary_add(out, &len, c[i].reason);
        }
    }
}

bool canary_same(const canary_verdict_t *a, const canary_verdict_t *b)
{
    return a->failed == b->failed && strcmp(a->reason, b->reason) == 0;
}

int canary_line(const canary_verdict_t *v, char *out, size_t size)
{
    return ctl_format(&(ctl_msg_t){.verb = CTL_CANARY,
                                   .state = v->failed ? HEALTH_DOWN : HEALTH_UP,
                                   .text = v->reason[0] != '\0' ? v->reason : NULL},
                      out, size);
}
