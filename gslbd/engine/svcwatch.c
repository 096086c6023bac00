/*
 * svcwatch: transitions of services' answering states, logged; see
 * svcwatch.h. The states of the last look are kept sorted by "ZONE SERVICE",
 * so a reload that keeps a service keeps its state, and one that removes it
 * forgets it.
 */
#include "gslbd/engine/svcwatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "gslbd/engine/select.h"

typedef struct {
    char *key; /* "ZONE SERVICE" */
    const zone_rt_t *zone;
    const svc_rt_t *svc; /* in the snapshot of the last look */
    uint8_t st[2];       /* svc_state_t for A, AAAA */
} svcwatch_entry_t;

struct svcwatch {
    svcwatch_entry_t *e;
    size_t n;
    const snapshot_t *snap;
    uint64_t gen;
    bool looked;
    uint64_t minute_ms;  /* when the current minute of the line budget began */
    size_t minute_lines; /* lines logged in it */
    size_t minute_left;  /* changes it did not log */
};

svcwatch_t *svcwatch_new(void)
{
    return xcalloc(1, sizeof(svcwatch_t));
}

static void svcwatch_clear(svcwatch_entry_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].key);
    }
    free(e);
}

void svcwatch_free(svcwatch_t *w)
{
    if (w != NULL) {
        svcwatch_clear(w->e, w->n);
        free(w);
    }
}

static int svcwatch_cmp(const void *a, const void *b)
{
    return strcmp(((const svcwatch_entry_t *)a)->key, ((const svcwatch_entry_t *)b)->key);
}

/* Every service of a snapshot, sorted by key, states not yet worked out. */
static svcwatch_entry_t *svcwatch_entries(const snapshot_t *snap, size_t *n)
{
    size_t total = 0, k = 0;
    svcwatch_entry_t *e;

    for (size_t z = 0; snap != NULL && z < snap->n_zones; z++) {
        total += snap->zones[z].n_svcs;
    }
    e = xcalloc(total + 1, sizeof(*e));
    for (size_t z = 0; snap != NULL && z < snap->n_zones; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_svcs; i++) {
            e[k++] = (svcwatch_entry_t){
                .key = xasprintf("%s %s", zr->name, zr->svcs[i]->name),
                .zone = zr,
                .svc = zr->svcs[i],
            };
        }
    }
    qsort(e, total, sizeof(*e), svcwatch_cmp);
    *n = total;
    return e;
}

/* What answers while in state `st`, for the log. */
static void svcwatch_say(const svc_rt_t *svc, svc_state_t st, const char *fam, char *buf,
                         size_t size)
{
    const region_rt_t *fb =
        svc->on_all_down == ALL_DOWN_FALLBACK ? svc->regions[svc->fallback] : NULL;

    switch (st) {
    case SVC_STATE_OPEN:
        snprintf(buf, size,
                 "no region is up for %s: failing open (on_all_down open), every region "
                 "answers whatever its health, TTL %u",
                 fam, svc->min_ttl);
        break;
    case SVC_STATE_DRAINED:
        snprintf(buf, size,
                 "every region with %s addresses is drained: they answer all the same, TTL %u", fam,
                 svc->min_ttl);
        break;
    case SVC_STATE_FALLBACK:
        snprintf(buf, size,
                 "no region is up for %s: answering from the fallback region '%s' whatever its "
                 "health (on_all_down fallback), TTL %u",
                 fam, fb != NULL ? fb->name : "?", svc->min_ttl);
        break;
    case SVC_STATE_NODATA:
        snprintf(buf, size, "no region is up for %s: answering no addresses (on_all_down nodata)",
                 fam);
        break;
    case SVC_STATE_SERVFAIL:
        snprintf(buf, size, "no region is up for %s: answering SERVFAIL (on_all_down servfail)",
                 fam);
        break;
    default:
        snprintf(buf, size, "a region is up for %s again: answering by health", fam);
        break;
    }
}

static const char *svcwatch_was(svc_state_t st)
{
    static const char *const was[] = {
        [SVC_STATE_OK] = "answering by health",
        [SVC_STATE_OPEN] = "failing open",
        [SVC_STATE_DRAINED] = "answering drained regions",
        [SVC_STATE_FALLBACK] = "answering from its fallback",
        [SVC_STATE_NODATA] = "answering no addresses",
        [SVC_STATE_SERVFAIL] = "answering SERVFAIL",
    };
    return was[st];
}

/* One line about one service going from `old` to `now` for the families
 * named in `fam` ("A", "AAAA" or "A and AAAA"). */
static void svcwatch_log(const svcwatch_entry_t *e, svc_state_t old, svc_state_t now,
                         const char *fam)
{
    char what[512];

    svcwatch_say(e->svc, now, fam, what, sizeof(what));
    if (now == SVC_STATE_OK) {
        log_info("service '%s' of %s: %s (was %s)", e->svc->name, e->zone->name, what,
                 svcwatch_was(old));
    } else {
        log_warn("service '%s' of %s: %s", e->svc->name, e->zone->name, what);
    }
}

/* Log one entry's changes (both families in one line when they moved
 * together); returns the lines logged, `budget` at most. */
static size_t svcwatch_report(const svcwatch_entry_t *e, const uint8_t old[2], size_t budget)
{
    bool moved4 = e->st[0] != old[0], moved6 = e->st[1] != old[1];
    size_t lines = 0;

    if (moved4 && moved6 && e->st[0] == e->st[1] && old[0] == old[1]) {
        if (budget > 0) {
            svcwatch_log(e, (svc_state_t)old[0], (svc_state_t)e->st[0], "A and AAAA");
        }
        return budget > 0;
    }
    if (moved4 && lines < budget) {
        svcwatch_log(e, (svc_state_t)old[0], (svc_state_t)e->st[0], "A");
        lines++;
    }
    if (moved6 && lines < budget) {
        svcwatch_log(e, (svc_state_t)old[1], (svc_state_t)e->st[1], "AAAA");
        lines++;
    }
    return lines;
}

/* Start a new minute of the line budget when the last one is over, saying
 * what it left out. Returns the lines this look may log. */
static size_t svcwatch_budget(svcwatch_t *w, uint64_t now_ms)
{
    if (!w->looked || now_ms - w->minute_ms >= 60000) {
        if (w->minute_left > 0) {
            log_warn("%zu more changes of how services answer in the last minute were not "
                     "logged (at most %d lines a minute); gslbctl status shows each service now",
                     w->minute_left, SVCWATCH_PER_MIN);
        }
        w->minute_ms = now_ms;
        w->minute_lines = w->minute_left = 0;
    }
    size_t left = SVCWATCH_PER_MIN - w->minute_lines;
    return left < SVCWATCH_LINES ? left : SVCWATCH_LINES;
}

size_t svcwatch_poll(svcwatch_t *w, const snapshot_t *snap, uint64_t gen, uint64_t now_ms)
{
    svcwatch_entry_t *e = w->e;
    size_t n = w->n, changed = 0, reported = 0, lines = 0;
    size_t budget = svcwatch_budget(w, now_ms);

    if (w->looked && snap == w->snap && gen == w->gen) {
        return 0;
    }
    if (!w->looked || snap != w->snap) {
        e = svcwatch_entries(snap, &n);
    }
    for (size_t i = 0; e != NULL && i < n; i++) {
        uint8_t old[2] = {SVC_STATE_OK, SVC_STATE_OK};
        /* The same snapshot: the same entries, in place. */
        const svcwatch_entry_t *prev =
            e == w->e  ? &e[i]
            : w->n > 0 ? bsearch(&e[i], w->e, w->n, sizeof(*e), svcwatch_cmp)
                       : NULL; /* the first look: bsearch must not see a NULL array */

        if (prev != NULL) {
            memcpy(old, prev->st, sizeof(old));
        }
        e[i].st[0] = (uint8_t)select_service_state(e[i].svc, false);
        e[i].st[1] = (uint8_t)select_service_state(e[i].svc, true);
        if (e[i].st[0] != old[0] || e[i].st[1] != old[1]) {
            size_t said = svcwatch_report(&e[i], old, budget - lines);
            changed++;
            reported += said > 0;
            lines += said;
        }
    }
    if (changed > reported && budget == SVCWATCH_LINES) {
        log_warn("... and %zu more services changed how they answer (gslbctl status shows the "
                 "regions)",
                 changed - reported);
        lines++;
    } else if (changed > reported) {
        w->minute_left += changed - reported; /* the minute's budget ran out */
    }
    w->minute_lines += lines;
    if (e != w->e) {
        svcwatch_clear(w->e, w->n);
    }
    w->e = e;
    w->n = n;
    w->snap = snap;
    w->gen = gen;
    w->looked = true;
    return changed;
}
