/*
 * stats: answer shares over the last minute, summed from the snapshots'
 * per-thread counters; see stats.h.
 *
 * Totals are kept per name in a hash table of entries that live as long as
 * the stats: "zone\nservice\nregion", or "\1none", "\1extra" and
 * "\1mode-N" in place of the region for a service's answers with no
 * region, its regions past the first and its answers of select_mode_t N.
 * An entry's total is what freed snapshots counted (base) plus what the
 * tracked ones count now (summed by refresh()). Region and no-region
 * entries also keep their history: the answers of each of the last
 * STATS_HIST_STEPS steps, in a ring.
 */
#include "gslbd/engine/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define STATS_RING     (STATS_WINDOW_MS / STATS_SAMPLE_MS + 1) /* samples kept */
#define STATS_KEY      1024
#define STATS_PER_STEP (STATS_HIST_STEP_MS / STATS_SAMPLE_MS) /* samples a history step */
#define STATS_HEALTH   "\1health" /* the key of the answers by health last reported */

_Static_assert(STATS_HIST_STEP_MS % STATS_SAMPLE_MS == 0, "a step is whole samples");

typedef struct entry entry_t;
struct entry {
    char *key;
    uint32_t hash;
    uint64_t base;             /* counted by snapshots since freed */
    uint64_t total;            /* base plus the tracked snapshots', at the last refresh */
    uint64_t ring[STATS_RING]; /* total at each sample (0 before the entry existed) */
    uint64_t shown;            /* the answers by health last reported (STATS_HEALTH entries) */
    uint64_t hist_last;        /* total at the last history step */
    uint32_t *hist;            /* answers per step (STATS_HIST_STEPS, a ring), or NULL */
    entry_t *next;
};

/* A snapshot threads count in, with the entry of each of its counters
 * (found by name once, when it is tracked: sampling then only adds). */
typedef struct {
    const snapshot_t *snap;
    entry_t **entries; /* per counter index; NULL: a counter no service uses */
} tracked_t;

struct stats {
    entry_t **buckets;
    size_t n_buckets, n_entries;
    entry_t **all; /* every entry, for the passes over all of them */
    tracked_t *tracked;
    size_t n_tracked;
    uint64_t ring_ms[STATS_RING]; /* when each sample was taken */
    unsigned head;                /* the latest sample */
    unsigned n_samples;
    uint64_t fresh_ms;   /* totals are as of this time (UINT64_MAX: stale) */
    unsigned since_step; /* samples since the last history step */
    unsigned hist_head;  /* the latest step in the entries' hist rings */
    unsigned n_steps;    /* steps in them, at most STATS_HIST_STEPS */
};

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;

    for (; *k; k++) {
        h = (h ^ (uint8_t)*k) * 16777619u;
    }
    return h;
}

static void grow(stats_t *st)
{
    size_t n = st->n_buckets ? st->n_buckets * 2 : 256;
    entry_t **b = xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < st->n_buckets; i++) {
        for (entry_t *e = st->buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(st->buckets);
    st->buckets = b;
    st->n_buckets = n;
}

/* The entry of `key`, made if there is none yet (with a history if `hist`). */
static entry_t *entry_get(stats_t *st, const char *key, bool hist)
{
    uint32_t h = key_hash(key);

    for (entry_t *e = st->buckets[h & (st->n_buckets - 1)]; e != NULL; e = e->next) {
        if (e->hash == h && strcmp(e->key, key) == 0) {
            return e;
        }
    }
    if (st->n_entries >= 2 * st->n_buckets) {
        grow(st);
    }
    if ((st->n_entries & (st->n_entries - 1)) == 0) { /* doubled at each power of two */
        st->all = xreallocarray(st->all, st->n_entries ? 2 * st->n_entries : 1, sizeof(*st->all));
    }
    entry_t *e = xcalloc(1, sizeof(*e));
    e->key = xstrdup(key);
    e->hash = h;
    e->hist = hist ? xcalloc(STATS_HIST_STEPS, sizeof(*e->hist)) : NULL;
    e->next = st->buckets[h & (st->n_buckets - 1)];
    st->buckets[h & (st->n_buckets - 1)] = e;
    st->all[st->n_entries++] = e;
    return e;
}

/* The name of counter j of a service (see SVC_COUNTS), into key; whether
 * it keeps a history (regions and no region). */
static bool counter_key(const zone_rt_t *z, const svc_rt_t *svc, unsigned j, char *key)
{
    const char *what;
    char mode[16];

    if (j == SVC_COUNT_NONE(svc)) {
        what = "\1none";
    } else if (j == SVC_COUNT_EXTRA(svc)) {
        what = "\1extra";
    } else if (j > SVC_COUNT_EXTRA(svc)) {
        snprintf(mode, sizeof(mode), "\1mode-%u", j - SVC_COUNT_MODE(svc, 0));
        what = mode;
    } else if (svc->regions[j] != NULL) {
        what = svc->regions[j]->name;
    } else {
        what = "\1unused"; /* the fallback position of a service without one outside */
    }
    snprintf(key, STATS_KEY, "%s\n%s\n%s", z->name, svc->name, what);
    return j <= SVC_COUNT_NONE(svc);
}

/* The entry of counter j of a service. */
static entry_t *counter_entry(stats_t *st, const svc_rt_t *svc, unsigned j)
{
    char key[STATS_KEY];
    bool hist = counter_key(svc->zone, svc, j, key);

    return entry_get(st, key, hist);
}

/* The entry of every counter of a snapshot, by counter index. */
static entry_t **entries_of(stats_t *st, const snapshot_t *s)
{
    entry_t **out = xcalloc(s->n_counts + 1, sizeof(*out));

    for (size_t z = 0; z < s->n_zones; z++) {
        const zone_rt_t *zr = &s->zones[z];
        for (size_t k = 0; k < zr->n_svcs; k++) {
            const svc_rt_t *svc = zr->svcs[k];
            for (unsigned j = 0; j < SVC_COUNTS(svc); j++) {
                out[svc->count_base + j] = counter_entry(st, svc, j);
            }
        }
    }
    return out;
}

/* Every entry's total as of now. */
static void refresh(stats_t *st, uint64_t now_ms)
{
    if (st->fresh_ms == now_ms) {
        return; /* one status report asks for many services at one time */
    }
    for (size_t i = 0; i < st->n_entries; i++) {
        st->all[i]->total = st->all[i]->base;
    }
    for (size_t t = 0; t < st->n_tracked; t++) {
        const tracked_t *tr = &st->tracked[t];
        for (size_t i = 0; i < tr->snap->n_counts; i++) {
            if (tr->entries[i] != NULL) {
                tr->entries[i]->total += snapshot_count(tr->snap, i);
            }
        }
    }
    st->fresh_ms = now_ms;
}

stats_t *stats_new(uint64_t now_ms)
{
    stats_t *st = xcalloc(1, sizeof(*st));

    grow(st);
    st->ring_ms[0] = now_ms; /* everything was 0 then */
    st->n_samples = 1;
    st->fresh_ms = UINT64_MAX;
    return st;
}

void stats_free(stats_t *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < st->n_entries; i++) {
        free(st->all[i]->key);
        free(st->all[i]->hist);
        free(st->all[i]);
    }
    free(st->all);
    free(st->buckets);
    for (size_t t = 0; t < st->n_tracked; t++) {
        free(st->tracked[t].entries);
    }
    free(st->tracked);
    free(st);
}

void stats_track(stats_t *st, const snapshot_t *s)
{
    st->tracked = xreallocarray(st->tracked, st->n_tracked + 1, sizeof(*st->tracked));
    st->tracked[st->n_tracked++] = (tracked_t){.snap = s, .entries = entries_of(st, s)};
    st->fresh_ms = UINT64_MAX;
}

void stats_untrack(stats_t *st, const snapshot_t *s)
{
    for (size_t t = 0; t < st->n_tracked; t++) {
        tracked_t *tr = &st->tracked[t];
        if (tr->snap != s) {
            continue;
        }
        for (size_t i = 0; i < s->n_counts; i++) {
            if (tr->entries[i] != NULL) {
                tr->entries[i]->base += snapshot_count(s, i);
            }
        }
        free(tr->entries);
        st->tracked[t] = st->tracked[--st->n_tracked];
        st->fresh_ms = UINT64_MAX;
        return;
    }
}

/* Close a history step: each entry's answers since the last one. */
static void history_step(stats_t *st)
{
    st->hist_head = (st->hist_head + 1) % STATS_HIST_STEPS;
    if (st->n_steps < STATS_HIST_STEPS) {
        st->n_steps++;
    }
    for (size_t i = 0; i < st->n_entries; i++) {
        entry_t *e = st->all[i];
        if (e->hist != NULL) {
            uint64_t n = e->total - e->hist_last;
            e->hist[st->hist_head] = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
            e->hist_last = e->total;
        }
    }
}

void stats_sample(stats_t *st, uint64_t now_ms)
{
    refresh(st, now_ms);
    st->head = (st->head + 1) % STATS_RING;
    st->ring_ms[st->head] = now_ms;
    if (st->n_samples < STATS_RING) {
        st->n_samples++;
    }
    for (size_t i = 0; i < st->n_entries; i++) {
        st->all[i]->ring[st->head] = st->all[i]->total;
    }
    if (++st->since_step == STATS_PER_STEP) {
        st->since_step = 0;
        history_step(st);
    }
}

/* The oldest sample no older than the window: where the window starts. */
static unsigned window_start(const stats_t *st, uint64_t now_ms)
{
    unsigned best = st->head;

    for (unsigned k = 1; k < st->n_samples; k++) {
        unsigned i = (st->head + STATS_RING - k) % STATS_RING;
        if (now_ms - st->ring_ms[i] > STATS_WINDOW_MS) {
            break;
        }
        best = i;
    }
    return best;
}

void stats_service(stats_t *st, const snapshot_t *s, const svc_rt_t *svc, uint64_t now_ms,
                   stats_svc_t *out, uint64_t *regions)
{
    uint64_t held = 0, extra = 0;

    (void)s; /* svc is one of its services; its counters are found by name */
    refresh(st, now_ms);
    unsigned w = window_start(st, now_ms);
    memset(out, 0, sizeof(*out));
    out->window_ms = now_ms - st->ring_ms[w];
    for (unsigned j = 0; j <= SVC_COUNT_EXTRA(svc); j++) {
        entry_t *e = counter_entry(st, svc, j);
        uint64_t n = e->total - e->ring[w];
        if (j == SVC_COUNT_NONE(svc)) {
            out->none = n;
        } else if (j == SVC_COUNT_EXTRA(svc)) {
            extra = n;
        } else {
            regions[j] = n;
            held += n;
        }
    }
    /* Each answer holds its first region once, and `extra` more. */
    out->answers = held - (extra < held ? extra : held) + out->none;
}

unsigned stats_history(stats_t *st, const svc_rt_t *svc, unsigned j, uint64_t *out)
{
    entry_t *e = j <= SVC_COUNT_NONE(svc) ? counter_entry(st, svc, j) : NULL;

    if (e == NULL || e->hist == NULL) {
        return 0;
    }
    for (unsigned k = 0; k < st->n_steps; k++) {
        unsigned i = (st->hist_head + STATS_HIST_STEPS - (st->n_steps - 1 - k)) % STATS_HIST_STEPS;
        out[k] = e->hist[i];
    }
    return st->n_steps;
}

void stats_totals(stats_t *st, const svc_rt_t *svc, uint64_t now_ms, stats_totals_t *out,
                  uint64_t *regions)
{
    uint64_t held = 0, extra = 0, none = 0, others = 0;
    char key[STATS_KEY];

    refresh(st, now_ms);
    memset(out, 0, sizeof(*out));
    for (unsigned j = 0; j < SVC_COUNTS(svc); j++) {
        uint64_t n = counter_entry(st, svc, j)->total;
        if (j == SVC_COUNT_NONE(svc)) {
            none = n;
        } else if (j == SVC_COUNT_EXTRA(svc)) {
            extra = n;
        } else if (j > SVC_COUNT_EXTRA(svc)) {
            out->mode[j - SVC_COUNT_MODE(svc, 0)] = n;
            others += n;
        } else {
            regions[j] = n;
            held += n;
        }
    }
    /* Each answer holds its first region once, and `extra` more. */
    uint64_t answers = held - (extra < held ? extra : held) + none;
    snprintf(key, STATS_KEY, "%s\n%s\n%s", svc->zone->name, svc->name, STATS_HEALTH);
    entry_t *h = entry_get(st, key, false);
    uint64_t health = answers > others ? answers - others : 0;
    if (health > h->shown) {
        h->shown = health;
    }
    out->mode[SELECT_MODE_HEALTH] = h->shown;
    out->answers = h->shown + others;
}
