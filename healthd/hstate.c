/*
 * hstate: rise/fall counting; see hstate.h. Counters saturate at the
 * largest rise/fall a zone may set (100) times a margin, so a member that
 * has been up for years cannot wrap around.
 */
#include "healthd/hstate.h"

#define HSTATE_RUN_MAX 1000000u

void hstate_init(hstate_t *h)
{
    h->state = HEALTH_UNKNOWN;
    h->ok_run = 0;
    h->fail_run = 0;
}

static unsigned hstate_bump(unsigned run)
{
    return run < HSTATE_RUN_MAX ? run + 1 : run;
}

bool hstate_apply(hstate_t *h, bool ok, unsigned rise, unsigned fall)
{
    health_state_t want = ok ? HEALTH_UP : HEALTH_DOWN;
    unsigned need = ok ? (rise ? rise : 1) : (fall ? fall : 1);
    unsigned run;

    if (ok) {
        h->ok_run = hstate_bump(h->ok_run);
        h->fail_run = 0;
        run = h->ok_run;
    } else {
        h->fail_run = hstate_bump(h->fail_run);
        h->ok_run = 0;
        run = h->fail_run;
    }
    if (h->state == want || run < need) {
        return false;
    }
    h->state = want;
    return true;
}
