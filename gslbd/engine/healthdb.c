/*
 * healthdb: slots, reports, staleness and persisted overrides; see healthdb.h.
 *
 * The overrides file holds one line per override, "ZONE REGION [MEMBER]
 * drain|down|up" (ZONE "*" for every zone), rewritten whole (to a temporary
 * file, then renamed) on every change, so a crash never leaves half a file.
 */
#include "gslbd/engine/healthdb.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/afile.h"
#include "common/alloc.h"
#include "common/ctl.h"
#include "common/errcode.h"

#define HEALTH_BUCKETS 4096

typedef struct override_rule override_rule_t;
struct override_rule {
    char *zone, *region, *member; /* zone "*": every zone; member NULL: the region */
    health_override_t ov;
    override_rule_t *next;
};

typedef struct {
    char *name;
    uint64_t last_heard_ms;
    bool want_sync;  /* its full state is needed again (stale reports, new members) */
    bool asked;      /* ... and it was asked, its SYNCED is awaited */
    bool remembered; /* in the sources file */
    bool synced;     /* sent its full state since gslbd started */
    uint64_t reports;
    unsigned links;
    /* Its connections: each HELLO starts a round of its full state, and at
     * SYNCED a vote from an earlier round is of a member it no longer probes
     * (it restarted with other zone files), dropped. A request for the full
     * state ("OK sync") starts no round: it may cross a SYNCED in flight. */
    unsigned epoch;
    bool canary_known;     /* it has sent CANARY */
    unsigned canary_epoch; /* the connection (epoch) its last CANARY came on */
    bool canary_failed;    /* abstaining: its canary targets fail (healthdb_canary) */
    char canary_reason[96];
} source_t;

struct healthdb {
    healthdb_slot_t *buckets[HEALTH_BUCKETS];
    source_t *sources;
    size_t n_sources;
    override_rule_t *rules;
    char *file;         /* overrides */
    char *sources_file; /* remembered sources */
    unsigned sync_wait_ms;
    uint64_t wait_until_ms; /* 0: not waiting */
    _Atomic bool waiting;   /* see healthdb_waiting() */
    _Atomic uint64_t gen;   /* bumped after every change of a slot; see healthdb_gen() */
};

static void decide_all(healthdb_t *h, uint64_t now_ms);
static void healthdb_decide(healthdb_t *h, healthdb_slot_t *s, uint64_t now_ms);

/* A slot changed: caches of what slots imply (select.c) are stale now. The
 * release orders the slot's store before the new generation. */
static void healthdb_changed(healthdb_t *h)
{
    atomic_fetch_add_explicit(&h->gen, 1, memory_order_release);
}

const _Atomic uint64_t *healthdb_gen(const healthdb_t *h)
{
    return &h->gen;
}

static unsigned slot_hash(const char *zone, const char *region, const char *member)
{
    const char *parts[] = {zone, region, member ? member : ""};
    uint32_t h = 2166136261u;

    for (int k = 0; k < 3; k++) {
        for (const char *p = parts[k]; *p; p++) {
            h = (h ^ (uint8_t)*p) * 16777619u;
        }
        h = (h ^ 0xff) * 16777619u;
    }
    return h % HEALTH_BUCKETS;
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether slot s is the one named: zone NULL names it in every zone, member
 * NULL the region itself. */
static bool slot_named(const healthdb_slot_t *s, const char *zone, const char *region,
                       const char *member)
{
    return (zone == NULL || strcmp(s->zone, zone) == 0) && strcmp(s->region, region) == 0 &&
           str_eq(s->member, member);
}

static bool rule_matches(const override_rule_t *r, const healthdb_slot_t *s)
{
    return (strcmp(r->zone, "*") == 0 || strcmp(r->zone, s->zone) == 0) &&
           strcmp(r->region, s->region) == 0 && str_eq(r->member, s->member);
}

/* The override a slot gets from the rules: a zone-specific rule wins. */
static health_override_t rules_for(const healthdb_t *h, const healthdb_slot_t *s)
{
    health_override_t ov = HEALTH_OV_NONE;

    for (const override_rule_t *r = h->rules; r != NULL; r = r->next) {
        if (rule_matches(r, s)) {
            if (strcmp(r->zone, "*") != 0) {
                return r->ov;
            }
            ov = r->ov;
        }
    }
    return ov;
}

healthdb_slot_t *healthdb_slot(healthdb_t *h, const char *zone, const char *region,
                               const char *member)
{
    unsigned b = slot_hash(zone, region, member);
    healthdb_slot_t *s = healthdb_slot_find(h, zone, region, member);

    if (s != NULL) {
        return s;
    }
    s = xcalloc(1, sizeof(*s));
    s->zone = xstrdup(zone);
    s->region = xstrdup(region);
    s->member = xstrdup_opt(member);
    s->source = -1;
    s->next = h->buckets[b];
    h->buckets[b] = s;
    atomic_store(&s->override, (uint8_t)rules_for(h, s));
    healthdb_changed(h);
    if (member != NULL) {
        /* A member the healthd have not reported (a reload added it): ask each
         * for its full state when it speaks next. */
        for (size_t i = 0; i < h->n_sources; i++) {
            h->sources[i].want_sync = true;
            h->sources[i].asked = false;
        }
    }
    return s;
}

/* Replace the rule for (zone, region, member); zone "*" replaces the rules of
 * every zone for that region or member, so the latest command wins. */
static void rule_add(healthdb_t *h, const char *zone, const char *region, const char *member,
                     health_override_t ov)
{
    override_rule_t **p = &h->rules;
    bool all = strcmp(zone, "*") == 0;

    while (*p != NULL) {
        override_rule_t *r = *p;
        if ((all || strcmp(r->zone, zone) == 0) && strcmp(r->region, region) == 0 &&
            str_eq(r->member, member)) {
            *p = r->next;
            free(r->zone);
            free(r->region);
            free(r->member);
            free(r);
        } else {
            p = &r->next;
        }
    }
    if (ov == HEALTH_OV_NONE) {
        return;
    }
    override_rule_t *r = xcalloc(1, sizeof(*r));
    r->zone = xstrdup(zone);
    r->region = xstrdup(region);
    r->member = xstrdup_opt(member);
    r->ov = ov;
    r->next = h->rules;
    h->rules = r;
}

static void rules_load(healthdb_t *h)
{
    FILE *f = afile_open(h->file);
    char line[CTL_LINE_MAX + 1], *argv[5];
    unsigned lineno = 0;
    health_override_t ov;

    if (f == NULL) {
        if (errno != ENOENT) {
            log_warn("%s: cannot read overrides: %s", h->file, gslb_strerror(-errno));
        }
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        int n = ctl_split(line, argv, 5);
        if (n == 0 || argv[0][0] == '#') {
            continue;
        }
        if ((n != 3 && n != 4) || health_override_parse(argv[n - 1], &ov) < 0) {
            log_warn("%s:%u: not an override line (ZONE REGION [MEMBER] drain|down|up), skipped",
                     h->file, lineno);
            continue;
        }
        rule_add(h, argv[0], argv[1], n == 4 ? argv[2] : NULL, ov);
    }
    fclose(f);
}

static int rules_save(const healthdb_t *h)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int r;

    if (h->file == NULL) {
        return 0;
    }
    if ((f = open_memstream(&text, &len)) == NULL) {
        alloc_fail("open_memstream");
    }
    fprintf(f,
            "# gslbd operator overrides: ZONE REGION [MEMBER] drain|down|up (set with gslbctl)\n");
    for (const override_rule_t *o = h->rules; o != NULL; o = o->next) {
        fprintf(f, "%s %s%s%s %s\n", o->zone, o->region, o->member ? " " : "",
                o->member ? o->member : "", health_override_name(o->ov));
    }
    fclose(f);
    if ((r = afile_write(h->file, text, len, 0640)) < 0) {
        log_err("%s: cannot save overrides: %s", h->file, gslb_strerror(r));
    }
    free(text);
    return r;
}

/* ---- remembered sources ---- */

static int source_add(healthdb_t *h, const char *name)
{
    h->sources = xreallocarray(h->sources, h->n_sources + 1, sizeof(*h->sources));
    h->sources[h->n_sources] = (source_t){.name = xstrdup(name)};
    return (int)h->n_sources++;
}

/* The names of the healthd that have sent their full state, one a line. */
static void sources_load(healthdb_t *h)
{
    FILE *f = afile_open(h->sources_file);
    char line[CTL_LINE_MAX + 1], *argv[2];

    if (f == NULL) {
        if (errno != ENOENT) {
            log_warn("%s: cannot read the known healthd sources: %s", h->sources_file,
                     gslb_strerror(-errno));
        }
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (ctl_split(line, argv, 2) == 1 && argv[0][0] != '#') {
            int i = source_add(h, argv[0]); /* it may move h->sources */
            h->sources[i].remembered = true;
        }
    }
    fclose(f);
}

static void sources_save(const healthdb_t *h)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int r;

    if (h->sources_file == NULL) {
        return;
    }
    if ((f = open_memstream(&text, &len)) == NULL) {
        alloc_fail("open_memstream");
    }
    fprintf(f, "# healthd that reported to this gslbd: after a restart, answers use min_ttl\n"
               "# until each has sent its full state again (or --sync-wait has passed)\n");
    for (size_t i = 0; i < h->n_sources; i++) {
        if (h->sources[i].remembered) {
            fprintf(f, "%s\n", h->sources[i].name);
        }
    }
    fclose(f);
    if ((r = afile_write(h->sources_file, text, len, 0640)) < 0) {
        log_warn("%s: cannot save the known healthd sources: %s", h->sources_file,
                 gslb_strerror(r));
    }
    free(text);
}

static void wait_end(healthdb_t *h)
{
    h->wait_until_ms = 0;
    atomic_store(&h->waiting, false);
    healthdb_changed(h);
}

/* The wait after a restart is over when every remembered source has sent
 * its full state, or when its time is up. */
static void wait_check(healthdb_t *h, uint64_t now_ms)
{
    char missing[512] = "";
    size_t n = 0, o = 0;

    if (!atomic_load(&h->waiting)) {
        return;
    }
    for (size_t i = 0; i < h->n_sources; i++) {
        if (h->sources[i].remembered && !h->sources[i].synced) {
            n++;
            o += (size_t)snprintf(missing + o, o < sizeof(missing) ? sizeof(missing) - o : 0,
                                  "%s%s", o ? ", " : "", h->sources[i].name);
            o = o < sizeof(missing) ? o : sizeof(missing);
        }
    }
    if (n == 0) {
        log_info("health: every healthd known before the restart has sent its full state: "
                 "answers use their full TTL again");
        wait_end(h);
    } else if (now_ms >= h->wait_until_ms) {
        log_warn("health: stopped waiting for the full state of %s after %.1f s: answering "
                 "from what is known (unknown counts as up)",
                 missing, (double)h->sync_wait_ms / 1000.0);
        wait_end(h);
    }
}

healthdb_t *healthdb_new(const healthdb_config_t *cfg)
{
    healthdb_t *h = xcalloc(1, sizeof(*h));

    if (cfg != NULL) {
        h->file = xstrdup_opt(cfg->overrides_file);
        h->sources_file = xstrdup_opt(cfg->sources_file);
        h->sync_wait_ms = cfg->sync_wait_ms;
    }
    if (h->file != NULL) {
        rules_load(h);
    }
    if (h->sources_file != NULL) {
        sources_load(h);
    }
    return h;
}

void healthdb_begin(healthdb_t *h, uint64_t now_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < h->n_sources; i++) {
        n += h->sources[i].remembered && !h->sources[i].synced;
    }
    if (n == 0 || h->sync_wait_ms == 0) {
        return;
    }
    h->wait_until_ms = now_ms + h->sync_wait_ms;
    atomic_store(&h->waiting, true);
    healthdb_changed(h);
    log_info("health: waiting up to %.1f s for the full state of %zu healthd known before the "
             "restart; answers use min_ttl meanwhile",
             (double)h->sync_wait_ms / 1000.0, n);
}

const _Atomic bool *healthdb_waiting(const healthdb_t *h)
{
    return &h->waiting;
}

void healthdb_free(healthdb_t *h)
{
    if (h == NULL) {
        return;
    }
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b], *next; s != NULL; s = next) {
            next = s->next;
            free(s->zone);
            free(s->region);
            free(s->member);
            free(s->votes);
            free(s);
        }
    }
    for (override_rule_t *r = h->rules, *next; r != NULL; r = next) {
        next = r->next;
        free(r->zone);
        free(r->region);
        free(r->member);
        free(r);
    }
    for (size_t i = 0; i < h->n_sources; i++) {
        free(h->sources[i].name);
    }
    free(h->sources);
    free(h->file);
    free(h->sources_file);
    free(h);
}

int healthdb_source(healthdb_t *h, const char *name)
{
    int i;

    for (i = 0; (size_t)i < h->n_sources; i++) {
        if (strcmp(h->sources[i].name, name) == 0) {
            break;
        }
    }
    if ((size_t)i == h->n_sources) {
        i = source_add(h, name);
    }
    /* A healthd sends its full state after every HELLO: nothing to ask for. */
    h->sources[i].want_sync = false;
    h->sources[i].asked = true;
    h->sources[i].epoch++;
    return i;
}

bool healthdb_want_sync(healthdb_t *h, int source)
{
    source_t *src;

    if (source < 0 || (size_t)source >= h->n_sources) {
        return false;
    }
    src = &h->sources[source];
    if (!src->want_sync || src->asked) {
        return false;
    }
    src->asked = true;
    return true;
}

/* At SYNCED: the votes of `source` it did not send again in its full state
 * are of members it no longer probes; without this they would stay fresh
 * as long as it speaks. */
static void drop_unsent_votes(healthdb_t *h, int source, uint64_t now_ms)
{
    unsigned epoch = h->sources[source].epoch;

    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            bool dropped = false;
            for (size_t i = 0; i < s->n_votes;) {
                if (s->votes[i].source != source || s->votes[i].epoch == epoch) {
                    i++;
                    continue;
                }
                log_info("health: %s no longer reports %s %s %s: its vote is dropped",
                         h->sources[source].name, s->zone, s->region, s->member);
                s->votes[i] = s->votes[--s->n_votes];
                dropped = true;
            }
            if (dropped) {
                healthdb_decide(h, s, now_ms);
            }
        }
    }
}

void healthdb_synced(healthdb_t *h, int source, uint64_t now_ms)
{
    source_t *src;

    if (source < 0 || (size_t)source >= h->n_sources) {
        return;
    }
    src = &h->sources[source];
    src->want_sync = src->asked = false;
    src->synced = true;
    drop_unsent_votes(h, source, now_ms);
    /* A healthd sends CANARY first in its full state when it has canaries: one
     * that did not, since its HELLO, has none now (restarted without them),
     * and abstains no more. */
    if (src->canary_known && src->canary_epoch != src->epoch) {
        src->canary_known = false;
        if (src->canary_failed) {
            src->canary_failed = false;
            log_info("health: vantage %s has no canaries any more: its votes count", src->name);
            decide_all(h, now_ms);
        }
    }
    if (!src->remembered) {
        src->remembered = true;
        sources_save(h);
    }
    wait_check(h, now_ms);
}

void healthdb_canary(healthdb_t *h, int source, bool ok, const char *reason, uint64_t now_ms)
{
    source_t *src;

    healthdb_heard(h, source, now_ms);
    if (source < 0 || (size_t)source >= h->n_sources) {
        return;
    }
    src = &h->sources[source];
    src->canary_known = true;
    src->canary_epoch = src->epoch;
    snprintf(src->canary_reason, sizeof(src->canary_reason), "%s", reason ? reason : "");
    if (src->canary_failed == !ok) {
        return;
    }
    src->canary_failed = !ok;
    if (ok) {
        log_info("health: vantage %s: its canaries answer again: its votes count", src->name);
    } else {
        log_warn("health: vantage %s: its canaries fail (%s): it abstains until they answer",
                 src->name, src->canary_reason[0] ? src->canary_reason : "no reason given");
    }
    decide_all(h, now_ms);
}

void healthdb_heard(healthdb_t *h, int source, uint64_t now_ms)
{
    if (source >= 0 && (size_t)source < h->n_sources) {
        h->sources[source].last_heard_ms = now_ms;
    }
}

const char *healthdb_source_name(const healthdb_t *h, int source)
{
    return source >= 0 && (size_t)source < h->n_sources ? h->sources[source].name : NULL;
}

uint64_t healthdb_source_heard(const healthdb_t *h, int source)
{
    return source >= 0 && (size_t)source < h->n_sources ? h->sources[source].last_heard_ms : 0;
}

size_t healthdb_n_sources(const healthdb_t *h)
{
    return h->n_sources;
}

bool healthdb_source_info(const healthdb_t *h, size_t i, healthdb_source_info_t *out)
{
    if (i >= h->n_sources || h->sources[i].name == NULL) {
        return false;
    }
    const source_t *src = &h->sources[i];
    *out = (healthdb_source_info_t){.name = src->name,
                                    .heard_ms = src->last_heard_ms,
                                    .reports = src->reports,
                                    .links = src->links,
                                    .reporter = src->reports != 0 || src->synced || src->remembered,
                                    .canary_known = src->canary_known,
                                    .abstaining = src->canary_failed,
                                    .canary_reason = src->canary_reason};
    return true;
}

void healthdb_source_link(healthdb_t *h, int source, int delta)
{
    if (source >= 0 && (size_t)source < h->n_sources) {
        source_t *src = &h->sources[source];
        src->links = delta < 0 && src->links == 0 ? 0 : (unsigned)((int)src->links + delta);
    }
}

healthdb_slot_t *healthdb_slot_find(const healthdb_t *h, const char *zone, const char *region,
                                    const char *member)
{
    for (healthdb_slot_t *s = h->buckets[slot_hash(zone, region, member)]; s; s = s->next) {
        if (slot_named(s, zone, region, member)) {
            return s;
        }
    }
    return NULL;
}

/* ---- votes and the quorum ---- */

bool healthdb_source_abstains(const healthdb_t *h, int source, const char **reason)
{
    if (source < 0 || (size_t)source >= h->n_sources || !h->sources[source].canary_failed) {
        return false;
    }
    if (reason != NULL) {
        *reason = h->sources[source].canary_reason;
    }
    return true;
}

bool healthdb_vote_counts(const healthdb_t *h, const healthdb_vote_t *v, char *why, size_t size)
{
    const char *canary;

    if (v->stale) {
        snprintf(why, size, "stale: no word from %s within stale_after",
                 healthdb_source_name(h, v->source));
        return false;
    }
    if (healthdb_source_abstains(h, v->source, &canary)) {
        snprintf(why, size, "abstaining: its canaries fail (%s)",
                 canary[0] ? canary : "no reason given");
        return false;
    }
    if (v->state == HEALTH_UNKNOWN) {
        snprintf(why, size, "not judged yet (rise or fall not reached)");
        return false;
    }
    snprintf(why, size, "%s", "");
    return true;
}

/* Decide a member's state from its votes. Each side needs `need` votes of
 * the fresh, non-abstaining vantages, and more than the other side; a tie or
 * too few votes keeps the state last decided, so a partition that silences
 * vantages neither fails a region open nor shuts it. */
static void healthdb_decide(healthdb_t *h, healthdb_slot_t *s, uint64_t now_ms)
{
    healthdb_tally_t t = {.votes = (unsigned)s->n_votes};
    const healthdb_vote_t *last[3] = {NULL, NULL, NULL}; /* the latest vote of each state */
    health_state_t old = (health_state_t)atomic_load(&s->state), now = old;
    char why[160];

    for (size_t i = 0; i < s->n_votes; i++) {
        const healthdb_vote_t *v = &s->votes[i];
        if (!healthdb_vote_counts(h, v, why, sizeof(why))) {
            continue;
        }
        t.voting++;
        t.up += v->state == HEALTH_UP;
        t.down += v->state == HEALTH_DOWN;
        if (last[v->state] == NULL || v->reported_ms >= last[v->state]->reported_ms) {
            last[v->state] = v;
        }
    }
    t.need = s->quorum ? s->quorum : t.voting / 2 + 1;
    const healthdb_vote_t *by = NULL;
    if (t.down >= t.need && t.down > t.up) {
        now = HEALTH_DOWN;
        by = last[HEALTH_DOWN];
    } else if (t.up >= t.need && t.up > t.down) {
        now = HEALTH_UP;
        by = last[HEALTH_UP];
    }
    /* Without a quorum the state stays, held. A member never decided and
     * with no vote counted stays unknown (counted as up), as before any
     * report; one whose counted votes disagree (a gslbd restarted while its
     * vantages are split) is held unknown, so its answers use min_ttl as the
     * other servers', which hold a decided state, do. */
    t.held = by == NULL && (old != HEALTH_UNKNOWN || t.voting > 0);
    s->tally = t;
    if (by != NULL) {
        s->source = by->source;
        snprintf(s->reason, sizeof(s->reason), "%s", by->reason);
    } else if (t.held && t.voting == 0) {
        snprintf(s->reason, sizeof(s->reason), "held: no vantage votes (%u stale or abstaining)",
                 t.votes);
    } else if (t.held) {
        snprintf(s->reason, sizeof(s->reason), "held: %u up, %u down of %u voting, %u needed", t.up,
                 t.down, t.voting, t.need);
    }
    if (now != old) {
        atomic_store(&s->state, (uint8_t)now);
        s->changed_ms = now_ms;
        healthdb_changed(h);
        if (t.voting > 1) {
            log_info("health: %s %s %s is %s (%s; %u of %u vantages)", s->zone, s->region,
                     s->member, health_state_name(now),
                     s->reason[0] ? s->reason : "no reason given", now == HEALTH_UP ? t.up : t.down,
                     t.voting);
        } else {
            log_info("health: %s %s %s is %s (%s)", s->zone, s->region, s->member,
                     health_state_name(now), s->reason[0] ? s->reason : "no reason given");
        }
    }
    if (t.held != atomic_load(&s->held)) {
        atomic_store(&s->held, t.held);
        healthdb_changed(h); /* its region answers with min_ttl while held (select.c) */
        if (t.held) {
            log_warn("health: %s %s %s: no quorum (%s): keeping it %s", s->zone, s->region,
                     s->member, s->reason, health_state_name(now));
        } else {
            log_info("health: %s %s %s: decided by a quorum again (%u of %u vantages say %s)",
                     s->zone, s->region, s->member, now == HEALTH_UP ? t.up : t.down, t.voting,
                     health_state_name(now));
        }
    }
}

/* A source's canary changed: every member it voted on is decided again. */
static void decide_all(healthdb_t *h, uint64_t now_ms)
{
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (s->n_votes > 0) {
                healthdb_decide(h, s, now_ms);
            }
        }
    }
}

int healthdb_report(healthdb_t *h, int source, const char *zone, const char *region,
                    const char *member, health_state_t state, const char *reason, uint64_t now_ms)
{
    healthdb_slot_t *s = healthdb_slot_find(h, zone, region, member);
    healthdb_vote_t *v = NULL;

    healthdb_heard(h, source, now_ms);
    if (source >= 0 && (size_t)source < h->n_sources) {
        h->sources[source].reports++;
    }
    if (s == NULL || member == NULL || source < 0 || (size_t)source >= h->n_sources) {
        return -ENOENT; /* not served: kept nowhere, so a flood of them costs nothing */
    }
    for (size_t i = 0; i < s->n_votes && v == NULL; i++) {
        v = s->votes[i].source == source ? &s->votes[i] : NULL;
    }
    if (v == NULL) { /* a vantage new to this member: one vote more, for good */
        s->votes = xreallocarray(s->votes, s->n_votes + 1, sizeof(*s->votes));
        v = &s->votes[s->n_votes++];
        *v = (healthdb_vote_t){.source = source};
    }
    v->state = (uint8_t)state;
    v->stale = false;
    v->epoch = h->sources[source].epoch;
    v->reported_ms = now_ms;
    snprintf(v->reason, sizeof(v->reason), "%s", reason ? reason : "");
    s->reported_ms = now_ms;
    healthdb_decide(h, s, now_ms);
    return 0;
}

/* Run a region's controller; log and publish a change of its share. */
static void healthdb_shed_step(healthdb_t *h, healthdb_slot_t *s, uint64_t now_ms)
{
    double old;

    if (!shed_step(&s->shed, now_ms, &old)) {
        return;
    }
    healthdb_changed(h); /* a shedding region leaves the fast path (select.h) */
    const shed_t *sh = &s->shed;
    if (!shed_fresh(sh, now_ms)) {
        log_warn("load: %s %s: no fresh load figure for %.1f s: shedding %.0f%% of its "
                 "clients (was %.0f%%)",
                 s->zone, s->region, sh->heard_ms ? (double)(now_ms - sh->heard_ms) / 1000.0 : 0.0,
                 100 * sh->share, 100 * old);
    } else if (sh->share > 0) {
        log_info(
            "load: %s %s at %.2f of capacity (%s %.2f): shedding %.0f%% of its clients "
            "(was %.0f%%)",
            s->zone, s->region, sh->util, sh->util > sh->rule.high ? "above high" : "below low",
            sh->util > sh->rule.high ? sh->rule.high : sh->rule.low, 100 * sh->share, 100 * old);
    } else {
        log_info("load: %s %s at %.2f of capacity (below low %.2f): no longer shedding (was "
                 "%.0f%%)",
                 s->zone, s->region, sh->util, sh->rule.low, 100 * old);
    }
}

int healthdb_load(healthdb_t *h, int source, const char *zone, const char *region, bool known,
                  double util, double figure, const char *reason, uint64_t now_ms)
{
    healthdb_slot_t *s = healthdb_slot_find(h, zone, region, NULL);

    healthdb_heard(h, source, now_ms);
    if (s == NULL || !s->shed.configured) {
        return -ENOENT;
    }
    if (known != s->shed.known && s->shed.heard_ms != 0) {
        if (known) {
            log_info("load: %s %s: figures again (%.2f of capacity)", zone, region, util);
        } else {
            log_warn("load: %s %s: healthd cannot read the load: %s", zone, region,
                     reason && *reason ? reason : "no reason given");
        }
    }
    shed_report(&s->shed, known, util, figure, reason, now_ms);
    healthdb_shed_step(h, s, now_ms);
    return 0;
}

int healthdb_override(healthdb_t *h, const char *zone, const char *region, const char *member,
                      health_override_t ov, int *save_err)
{
    int changed = 0, r;

    rule_add(h, zone ? zone : "*", region, member, ov);
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (slot_named(s, zone, region, member)) {
                atomic_store(&s->override, (uint8_t)rules_for(h, s));
                healthdb_changed(h);
                changed++;
            }
        }
    }
    if (changed == 0) {
        rule_add(h, zone ? zone : "*", region, member, HEALTH_OV_NONE); /* names nothing: drop */
        return -ENOENT;
    }
    r = rules_save(h);
    if (save_err != NULL) {
        *save_err = r;
    }
    return changed;
}

bool healthdb_has_zone(const healthdb_t *h, const char *zone)
{
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (const healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (strcmp(s->zone, zone) == 0) {
                return true;
            }
        }
    }
    return false;
}

int healthdb_override_overruled(const healthdb_t *h, const char *zone, const char *region,
                                const char *member, health_override_t ov, health_override_t *actual)
{
    int n = 0;

    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (const healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (slot_named(s, zone, region, member)) {
                health_override_t now = (health_override_t)atomic_load(&s->override);
                if (now != ov) {
                    *actual = now;
                    n++;
                }
            }
        }
    }
    return n;
}

static void check_file(const char *file, const char *what)
{
    char *copy = xstrdup(file), *dir = dirname(copy);
    struct stat st;

    if (access(dir, W_OK | X_OK) != 0) {
        log_warn("%s %s cannot be saved: %s is not writable by this process (uid %u): %s", what,
                 file, dir, (unsigned)geteuid(), gslb_strerror(-errno));
    } else if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        log_warn("%s %s: anyone may replace files in %s; keep it in a directory only gslbd "
                 "writes",
                 what, file, dir);
    }
    free(copy);
}

void healthdb_check_files(const healthdb_t *h)
{
    if (h->file != NULL) {
        check_file(h->file, "overrides");
    }
    if (h->sources_file != NULL) {
        check_file(h->sources_file, "the list of healthd sources");
    }
}

void healthdb_tick(healthdb_t *h, uint64_t now_ms)
{
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (s->member == NULL && s->shed.configured) {
                healthdb_shed_step(h, s, now_ms);
            }
            bool dropped = false;
            for (size_t i = 0; i < s->n_votes; i++) {
                healthdb_vote_t *v = &s->votes[i];
                source_t *src = &h->sources[v->source];
                unsigned stale = s->stale_after_ms ? s->stale_after_ms : 6000;
                if (v->stale || now_ms - src->last_heard_ms <= stale) {
                    continue;
                }
                v->stale = dropped = true;
                /* What it said is gone: ask for all of it when it speaks again. */
                src->want_sync = true;
                src->asked = false;
                log_warn("health: no report for %s %s %s from %s for %.1f s: its vote (%s) no "
                         "longer counts",
                         s->zone, s->region, s->member, src->name,
                         (double)(now_ms - src->last_heard_ms) / 1000.0,
                         health_state_name((health_state_t)v->state));
            }
            if (dropped || s->redecide) {
                s->redecide = false;
                healthdb_decide(h, s, now_ms);
            }
        }
    }
    wait_check(h, now_ms);
}
