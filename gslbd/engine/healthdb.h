/*
 * healthdb: what gslbd knows of each region's and pool member's health, and
 * the operators' overrides: the states and rules of common/health.h, kept
 * per slot where worker threads can read them.
 *
 * One slot per (zone, region) and per (zone, region, member address). Slots
 * are created as snapshots are compiled and never freed while gslbd runs, so
 * a compiled region can point at its slots and a reload finds the same ones
 * by name. Worker threads read a slot's state and override (atomics, no
 * locks); everything else is the main thread's: reports from healthd, the
 * staleness timer, overrides and their file. No sockets here
 * (gslbd/server/control.c).
 */
#ifndef GSLB_HEALTHDB_H
#define GSLB_HEALTHDB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/health.h"
#include "gslbd/engine/shed.h"

/* One vantage's (healthd's) view of a member: its vote. Each healthd has
 * applied rise and fall to its own probes before reporting, so a vote is
 * already a settled judgement; the slot's state is decided from the votes
 * (healthdb_decide, below). */
typedef struct {
    int source;           /* index of the healthd that sent it */
    uint8_t state;        /* health_state_t as reported; UNKNOWN never counts */
    bool stale;           /* its source fell silent past stale_after: not counted until
                           * it reports this member again */
    uint64_t reported_ms; /* when */
    unsigned epoch;       /* its source's connection (HELLO) it came in on (healthdb.c) */
    char reason[96];
} healthdb_vote_t;

/* Why a member is in its state, as the last decision found it. */
typedef struct {
    unsigned voting; /* fresh, non-abstaining votes of up or down */
    unsigned up, down;
    unsigned need;  /* votes it takes to change the state */
    unsigned votes; /* votes held, counted or not */
    bool held;      /* no side reached `need`: the state is the last one decided */
} healthdb_tally_t;

typedef struct healthdb_slot healthdb_slot_t;
struct healthdb_slot {
    _Atomic uint8_t state;    /* health_state_t; UNKNOWN counts as up */
    _Atomic uint8_t override; /* health_override_t */
    /* Held by votes that have fallen silent or abstain (none counted, or
     * no quorum after they had decided): answers that depend on it are not
     * to be trusted for long (selection uses min_ttl). */
    _Atomic bool held;
    /* main thread only */
    char *zone, *region, *member; /* member NULL: the region's slot */
    char reason[96];              /* of the vote that decided the state, or why it is held */
    uint64_t changed_ms;          /* last change of state (or of its override), 0: never */
    uint64_t reported_ms;         /* last report of it from any healthd, 0: never */
    int source;                   /* index of the healthd whose vote decided the state, -1 none */
    unsigned stale_after_ms;
    unsigned quorum;        /* the check's `quorum`: votes needed; 0 a majority of those voting */
    bool redecide;          /* a reload changed the quorum: decide again at the next tick */
    healthdb_vote_t *votes; /* one per healthd that reported the member */
    size_t n_votes;
    healthdb_tally_t tally; /* the last decision's counts */
    shed_t shed;            /* a region's slot: its load feedback (shed.h) */
    healthdb_slot_t *next;
};

typedef struct healthdb healthdb_t;

/* What a health database keeps across restarts; every member may be 0. */
typedef struct {
    const char *overrides_file; /* operators' overrides (NULL: not kept) */
    const char *sources_file;   /* names of the healthd that have sent their full state */
    unsigned sync_wait_ms;      /* after a restart, how long to wait for them */
} healthdb_config_t;

/* A database configured by `cfg` (NULL: nothing kept). Loads the overrides
 * file if it exists (a bad line is reported and skipped) and the sources
 * file: while the healthd named there have not sent their full state again
 * (see healthdb_begin), the database is "waiting" (healthdb_waiting). */
healthdb_t *healthdb_new(const healthdb_config_t *cfg);
void healthdb_free(healthdb_t *h);

/* Start the clock of the wait for remembered sources (gslbd serves from
 * now on). Without remembered sources there is no wait. */
void healthdb_begin(healthdb_t *h, uint64_t now_ms);

/* True while waiting for remembered sources: members may be unknown only
 * because their healthd has not caught up yet, so answers are not to be
 * trusted for long (selection uses min_ttl). Worker threads read it through
 * the region status cache; its end bumps the generation. */
const _Atomic bool *healthdb_waiting(const healthdb_t *h);

/* The slot of a region (member NULL) or member, created if new. */
healthdb_slot_t *healthdb_slot(healthdb_t *h, const char *zone, const char *region,
                               const char *member);

/* The slot of a region or member if it exists, NULL otherwise. */
healthdb_slot_t *healthdb_slot_find(const healthdb_t *h, const char *zone, const char *region,
                                    const char *member);

/* The name a source said in its HELLO ("healthd"), NULL for none; and when
 * it was last heard from (0: never). Its reports are current as of then:
 * a healthd reports every change at once. */
const char *healthdb_source_name(const healthdb_t *h, int source);
uint64_t healthdb_source_heard(const healthdb_t *h, int source);

/* Every source heard from since gslbd started, by index 0..n-1 (remembered
 * ones too): for the metrics. */
typedef struct {
    const char *name;
    uint64_t heard_ms; /* 0: never */
    uint64_t reports;  /* health reports received */
    unsigned links;    /* control connections open that said HELLO with this name */
    bool reporter;     /* it has reported health, sent its full state, or is remembered
                          from the sources file: a healthd, not a gslbctl that said HELLO */
    bool canary_known; /* it has sent CANARY: it probes canaries */
    bool abstaining;   /* ... and they fail: its votes do not count */
    const char *canary_reason;
} healthdb_source_info_t;
size_t healthdb_n_sources(const healthdb_t *h);
bool healthdb_source_info(const healthdb_t *h, size_t i, healthdb_source_info_t *out);

/* A connection of `source` opened (+1) or closed (-1). */
void healthdb_source_link(healthdb_t *h, int source, int delta);

/* A healthd connection introduced itself; returns its source index. */
int healthdb_source(healthdb_t *h, const char *name);
/* Heard from a source (any message): keeps its reports fresh. */
void healthdb_heard(healthdb_t *h, int source, uint64_t now_ms);

/* A vantage's canary (CANARY, protocol version 4): while its canary
 * targets fail, the vantage's own network is in doubt, so it abstains from
 * every quorum (its votes are kept and shown, not counted). `reason` says
 * which canaries failed. */
void healthdb_canary(healthdb_t *h, int source, bool ok, const char *reason, uint64_t now_ms);

/* Whether gslbd should ask this source for its full state now: some of its
 * reports went stale and were dropped, or a reload made members it has not
 * reported. True once per need (the request is then in flight until the
 * source's SYNCED). */
bool healthdb_want_sync(healthdb_t *h, int source);

/* The source has sent its full state (SYNCED): it is remembered from now on
 * (sources file), and a restart's wait for it is over. */
void healthdb_synced(healthdb_t *h, int source, uint64_t now_ms);

/* Whether a vote counts in the slot's decision now, and if not, why not
 * (a static sentence or the source's canary reason, into why). */
bool healthdb_vote_counts(const healthdb_t *h, const healthdb_vote_t *v, char *why, size_t size);

/* Whether the source's canary fails (it abstains), and the reason it gave. */
bool healthdb_source_abstains(const healthdb_t *h, int source, const char **reason);

/* A member's health from a source: its vote, then the decision by quorum.
 * Returns 0, or -ENOENT when no served
 * zone has that member: the report is dropped (a later reload that adds the
 * member asks the source for its full state again). */
int healthdb_report(healthdb_t *h, int source, const char *zone, const char *region,
                    const char *member, health_state_t state, const char *reason, uint64_t now_ms);

/* A region's load from a source (LOAD): known or not, its utilisation and
 * figure, and the reason. Runs the shedding controller. Returns 0, or
 * -ENOENT when no served zone has that region with a load: (dropped). */
int healthdb_load(healthdb_t *h, int source, const char *zone, const char *region, bool known,
                  double util, double figure, const char *reason, uint64_t now_ms);

/* Worker threads: the region's shed threshold on a client's 32-bit rank
 * (0: not shedding), and whether it may take clients shed elsewhere. */
static inline uint32_t healthdb_shed_thr(const healthdb_slot_t *s)
{
    return s ? atomic_load_explicit(&s->shed.thr, memory_order_relaxed) : 0;
}

static inline bool healthdb_shed_room(const healthdb_slot_t *s)
{
    return s && atomic_load_explicit(&s->shed.room, memory_order_relaxed);
}

/* Set or clear ("auto") an override on a region, or a member when `member`
 * is given; `zone` NULL means every zone with that region. Saves the file;
 * *save_err (may be NULL) gets 0 or the negative errno of a save that
 * failed (the override is in force all the same). Returns the number of
 * slots changed, or -ENOENT when none matched. */
/* Whether any slot (region or member of a served zone) belongs to `zone`. */
bool healthdb_has_zone(const healthdb_t *h, const char *zone);

/* After healthdb_override(): how many of the slots it named are held by
 * another rule than the one just set (an override for every zone outlives
 * "auto" on one zone, say), one of their overrides in *actual. */
int healthdb_override_overruled(const healthdb_t *h, const char *zone, const char *region,
                                const char *member, health_override_t ov,
                                health_override_t *actual);

int healthdb_override(healthdb_t *h, const char *zone, const char *region, const char *member,
                      health_override_t ov, int *save_err);

/* Say (log) now, at start, if the files kept across restarts could not be
 * saved: their directory is not writable by this process, or anyone may
 * replace them. Call after dropping privileges. */
void healthdb_check_files(const healthdb_t *h);

/* Turn reports not refreshed within their stale_after into unknown (logged;
 * their source is then asked for its full state when it speaks again), and
 * end a restart's wait once its time is up. Call about every second. */
void healthdb_tick(healthdb_t *h, uint64_t now_ms);

/* A counter that grows after every change of any slot's state or override
 * (acquire-load it, then read slots): what was derived from the slots at
 * one value of it holds while it keeps that value. */
const _Atomic uint64_t *healthdb_gen(const healthdb_t *h);

/* Read by worker threads. */
static inline bool healthdb_member_up(const healthdb_slot_t *s)
{
    if (s == NULL) {
        return true;
    }
    return health_member_up(atomic_load_explicit(&s->state, memory_order_relaxed),
                            atomic_load_explicit(&s->override, memory_order_relaxed));
}

static inline health_override_t healthdb_region_override(const healthdb_slot_t *s)
{
    return s ? (health_override_t)atomic_load_explicit(&s->override, memory_order_relaxed)
             : HEALTH_OV_NONE;
}

#endif
