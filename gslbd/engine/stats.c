/*
 * stats: answer shares over the last minute, summed from the snapshots'
 * per-thread counters; see stats.h.
 *
 * Totals are kept per name in a hash table of entries that live as long as
 * the stats: "zone\nservice\nregion", or "\1none" and "\1extra" in place of
 * the region for a service's answers with no region and its regions past
 * the first. An entry's total is what freed snapshots counted (base) plus
 * what the tracked ones count now (summed by refresh()).
 */
#include "gslbd/engine/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define STATS_RING (STATS_WINDOW_MS / STATS_SAMPLE_MS + 1) /* samples kept */
#define STATS_KEY  1024

typedef struct entry entry_t;
struct entry {
    char *key;
    uint32_t hash;
    uint64_t base;             /* counted by snapshots since freed */
    uint64_t total;            /* base plus the tracked snapshots', at the last refresh */
    uint64_t ring[STATS_RING]; /* total at each sample (0 before the entry existed) */
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
    uint64_t fresh_ms; /* totals are as of this time (UINT64_MAX: stale) */
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

static entry_t *entry_get(stats_t *st, const char *key)
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
    e->next = st->buckets[h & (st->n_buckets - 1)];
    st->buckets[h & (st->n_buckets - 1)] = e;
    st->all[st->n_entries++] = e;
    return e;
}

/* The name of counter j of a service (see SVC_COUNTS), into key. */
static void counter_key(const zone_rt_t *z, const svc_rt_t *svc, unsigned j, char *key)
{
    const char *what;

    if (j == SVC_COUNT_NONE(svc)) {
        what = "\1none";
    } else if (j == SVC_COUNT_EXTRA(svc)) {
        what = "\1extra";
    } else if (svc->regions[j] != NULL) {
        what = svc->regions[j]->name;
    } else {
        what = "\1unused"; /* the fallback position of a service without one outside */
    }
    snprintf(key, STATS_KEY, "%s\n%s\n%s", z->name, svc->name, what);
}

/* The entry of every counter of a snapshot, by counter index. */
static entry_t **entries_of(stats_t *st, const snapshot_t *s)
{
    entry_t **out = xcalloc(s->n_counts + 1, sizeof(*out));
    char key[STATS_KEY];

    for (size_t z = 0; z < s->n_zones; z++) {
        const zone_rt_t *zr = &s->zones[z];
        for (size_t k = 0; k < zr->n_svcs; k++) {
            const svc_rt_t *svc = zr->svcs[k];
            for (unsigned j = 0; j < SVC_COUNTS(svc); j++) {
                counter_key(zr, svc, j, key);
                out[svc->count_base + j] = entry_get(st, key);
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
    const zone_rt_t *zr = svc->zone;
    char key[STATS_KEY];
    uint64_t held = 0, extra = 0;

    (void)s; /* svc is one of its services; its counters are found by name */
    refresh(st, now_ms);
    unsigned w = window_start(st, now_ms);
    memset(out, 0, sizeof(*out));
    out->window_ms = now_ms - st->ring_ms[w];
    for (unsigned j = 0; j < SVC_COUNTS(svc); j++) {
        counter_key(zr, svc, j, key);
        entry_t *e = entry_get(st, key);
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
