/*
 * status: the status report, as text and as JSON; see status.h.
 *
 * Both writers go through the same functions for every judgement (a
 * region's state and why, a member's details, a service's shares), so the
 * two forms never disagree; only the layout differs.
 */
#include "gslbd/engine/status.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/version.h"
#include "gslbd/engine/select.h"

typedef struct {
    char *file, *zone; /* zone NULL: no version of the file ever loaded */
    zoneset_outcome_t outcome;
    uint32_t serial, old_serial;
    uint64_t wall_ms;
    uint64_t loaded_wall_ms; /* the last time the file loaded (outcome loaded), 0: never */
    char **errors;
    size_t n_errors;
} record_t;

#define N_OUTCOMES (ZONESET_REMOVED + 1)

struct status {
    record_t *recs;
    size_t n_recs;
    uint64_t outcomes[N_OUTCOMES]; /* files per outcome over every load and reload */
};

status_t *status_new(void)
{
    return xcalloc(1, sizeof(status_t));
}

static void record_clear(record_t *r)
{
    for (size_t i = 0; i < r->n_errors; i++) {
        free(r->errors[i]);
    }
    free(r->errors);
    free(r->file);
    free(r->zone);
    memset(r, 0, sizeof(*r));
}

void status_free(status_t *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < st->n_recs; i++) {
        record_clear(&st->recs[i]);
    }
    free(st->recs);
    free(st);
}

static record_t *record_of_file(status_t *st, const char *file)
{
    for (size_t i = 0; i < st->n_recs; i++) {
        if (strcmp(st->recs[i].file, file) == 0) {
            return &st->recs[i];
        }
    }
    return NULL;
}

static void copy_errors(record_t *r, char *const *lines, size_t n)
{
    if (n == 0) {
        return;
    }
    r->errors = xreallocarray(r->errors, r->n_errors + n, sizeof(*r->errors));
    for (size_t i = 0; i < n; i++) {
        r->errors[r->n_errors++] = xstrdup(lines[i]);
    }
}

/* Whether a report names a file (in any outcome). */
static bool in_report(const zoneset_report_t *rep, const char *file)
{
    for (size_t k = 0; k < rep->n_files; k++) {
        if (strcmp(rep->files[k].file, file) == 0) {
            return true;
        }
    }
    return false;
}

void status_reloaded(status_t *st, const zoneset_report_t *rep, uint64_t wall_ms)
{
    /* A file the load no longer lists is gone; one that never loaded is not
     * reported as removed, so it is dropped here. */
    for (size_t i = 0; i < st->n_recs;) {
        if (!in_report(rep, st->recs[i].file)) {
            record_clear(&st->recs[i]);
            st->recs[i] = st->recs[--st->n_recs];
        } else {
            i++;
        }
    }
    for (size_t k = 0; k < rep->n_files; k++) {
        const zoneset_file_t *f = &rep->files[k];
        record_t *r = record_of_file(st, f->file);
        uint64_t loaded = r ? r->loaded_wall_ms : 0;

        if ((unsigned)f->outcome < N_OUTCOMES) {
            st->outcomes[f->outcome]++;
        }
        if (f->outcome == ZONESET_REMOVED || (f->outcome == ZONESET_UNCHANGED && r != NULL)) {
            if (f->outcome == ZONESET_REMOVED && r != NULL) {
                record_clear(r);
                *r = st->recs[--st->n_recs];
            }
            continue; /* an unchanged file's last reload is the one before */
        }
        if (r == NULL) {
            st->recs = xreallocarray(st->recs, st->n_recs + 1, sizeof(*st->recs));
            r = &st->recs[st->n_recs++];
        } else {
            record_clear(r);
        }
        *r = (record_t){.file = xstrdup(f->file),
                        .zone = f->zone ? xstrdup(f->zone) : NULL,
                        .outcome = f->outcome,
                        .serial = f->serial,
                        .old_serial = f->old_serial,
                        .wall_ms = wall_ms,
                        .loaded_wall_ms = f->outcome == ZONESET_LOADED ? wall_ms : loaded};
        copy_errors(r, f->errors, f->n_errors);
        if (rep->set_failed) {
            copy_errors(r, rep->errors, rep->n_errors);
        }
    }
}

/* The record of a zone being served: the file that serves it. */
static const record_t *record_of_zone(const status_t *st, const char *zone)
{
    for (size_t i = 0; i < st->n_recs; i++) {
        const record_t *r = &st->recs[i];
        if (r->zone != NULL && r->outcome != ZONESET_FAILED && strcmp(r->zone, zone) == 0) {
            return r;
        }
    }
    return NULL;
}

/* ---- words shared by both forms ---- */

static const char *outcome_name(zoneset_outcome_t o)
{
    static const char *const names[] = {"loaded", "unchanged", "kept", "failed", "removed"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

static const char *policy_name(uint8_t policy)
{
    return policy == POLICY_NEAREST    ? "nearest"
           : policy == POLICY_WEIGHTED ? "weighted"
                                       : "failover";
}

/* Seconds from `then` to `now` (milliseconds), NAN for never. */
static double age_s(uint64_t now, uint64_t then)
{
    if (then == 0) {
        return NAN;
    }
    return now > then ? (double)(now - then) / 1000.0 : 0.0;
}

/* "12 s", "3.4 s", "5 min", "2.5 h" */
static void age_text(double s, char *buf, size_t size)
{
    if (s < 10) {
        snprintf(buf, size, "%.1f s", s);
    } else if (s < 120) {
        snprintf(buf, size, "%.0f s", s);
    } else if (s < 7200) {
        snprintf(buf, size, "%.0f min", s / 60);
    } else {
        snprintf(buf, size, "%.1f h", s / 3600);
    }
}

/* RFC 3339 in UTC ("2026-05-01T12:00:00Z"), or for people with a space and
 * "UTC". */
static void wall_text(uint64_t wall_ms, bool rfc3339, char *buf, size_t size)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, rfc3339 ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "1 of 2 members up (1 unknown), min_up 1": members known up, then the
 * others by kind. */
static void members_text(const region_rt_t *r, const select_report_t *rep, char *buf, size_t size)
{
    static const char *const kinds[] = {NULL,        "unknown",     "down",
                                        "forced up", "forced down", "drained"};
    unsigned known = rep->n[SELECT_MEMBER_UP] + rep->n[SELECT_MEMBER_FORCED_UP];
    size_t o = (size_t)snprintf(buf, size, "%u of %u members up", known, rep->members);
    bool open = false;

    for (unsigned k = SELECT_MEMBER_UNKNOWN; k <= SELECT_MEMBER_DRAINED && o < size; k++) {
        if (k == SELECT_MEMBER_FORCED_UP || rep->n[k] == 0) {
            continue; /* forced up members are up already */
        }
        o +=
            (size_t)snprintf(buf + o, size - o, "%s%u %s", open ? ", " : " (", rep->n[k], kinds[k]);
        open = true;
    }
    if (o < size) {
        snprintf(buf + o, size - o, "%s, min_up %u", open ? ")" : "", (unsigned)r->min_up);
    }
}

/* What the members alone make of a region, overrides on it aside: "up",
 * "unknown" (up only by counting unknown members) or "down". */
static const char *health_word(const region_rt_t *r, const select_report_t *rep)
{
    unsigned known = rep->n[SELECT_MEMBER_UP] + rep->n[SELECT_MEMBER_FORCED_UP];

    if (!health_region_up(HEALTH_OV_NONE, rep->counted_up, r->min_up)) {
        return "down";
    }
    return known >= r->min_up || !r->checked ? "up" : "unknown";
}

/* Why a region is in its state, in a sentence. */
static void region_why(const region_rt_t *r, const select_report_t *rep, char *buf, size_t size)
{
    char members[256], held[128];
    const char *wait = held;

    if (rep->waiting) {
        wait = "; waiting for healthd's full state after a restart (answers use min_ttl)";
    } else if (rep->held > 0) {
        snprintf(held, sizeof(held),
                 "; %u member%s held without a quorum of vantages (answers use min_ttl)", rep->held,
                 rep->held == 1 ? "" : "s");
    } else {
        held[0] = '\0';
    }

    members_text(r, rep, members, sizeof(members));
    switch (rep->state) {
    case SELECT_STATE_UP:
        if (!r->checked && rep->n[SELECT_MEMBER_DOWN] == 0) {
            snprintf(buf, size, "no health check, so its members count as up%s", wait);
        } else {
            snprintf(buf, size, "%s%s", members, wait);
        }
        break;
    case SELECT_STATE_UNKNOWN:
        snprintf(buf, size,
                 "%s: answered because unknown members count as up (not reported yet, or "
                 "their healthd went silent)%s",
                 members, wait);
        break;
    case SELECT_STATE_DOWN:
        snprintf(buf, size, "%s%s", members, wait);
        break;
    case SELECT_STATE_DRAINED:
        snprintf(buf, size, "%s: no new traffic; health %s: %s%s",
                 rep->override == HEALTH_OV_DRAIN ? "drained by an operator"
                                                  : "weight 0 in the zone file",
                 health_word(r, rep), members, wait);
        break;
    default:
        snprintf(buf, size, "forced %s by an operator, whatever the checks say; health %s: %s%s",
                 rep->state == SELECT_STATE_FORCED_UP ? "up" : "down", health_word(r, rep), members,
                 wait);
        break;
    }
}

/* ---- text ---- */

static const char *state_word(select_state_t st)
{
    /* Capitals for a region that takes no new traffic. */
    static const char *const words[] = {"up",      "unknown",   "DOWN",
                                        "DRAINED", "forced up", "FORCED DOWN"};
    return (unsigned)st < sizeof(words) / sizeof(words[0]) ? words[st] : "?";
}

static const char *member_word(select_member_t st)
{
    static const char *const words[] = {"up",        "unknown",     "DOWN",
                                        "forced up", "FORCED DOWN", "DRAINED"};
    return (unsigned)st < sizeof(words) / sizeof(words[0]) ? words[st] : "?";
}

static void text_reload(const record_t *rec, const status_env_t *env, FILE *out)
{
    char when[64], ago[32];

    if (rec == NULL) {
        return;
    }
    wall_text(rec->wall_ms, false, when, sizeof(when));
    age_text(age_s(env->wall_ms, rec->wall_ms), ago, sizeof(ago));
    fprintf(out, "  last reload %s (%s ago): ", when, ago);
    switch (rec->outcome) {
    case ZONESET_KEPT:
        fprintf(out, "FAILED, serial %u keeps serving\n", rec->serial);
        break;
    case ZONESET_FAILED:
        fprintf(out, "FAILED, not served\n");
        break;
    default:
        fprintf(out, "loaded serial %u\n", rec->serial);
        break;
    }
    for (size_t i = 0; i < rec->n_errors; i++) {
        fprintf(out, "    %s\n", rec->errors[i]);
    }
}

/* A member's address as text, from its slot or, without one, its bytes. */
static const char *member_addr(const region_rt_t *r, unsigned k, char *buf, size_t size)
{
    const healthdb_slot_t *s = select_member_slot(r, k);

    if (s != NULL) {
        return s->member;
    }
    if (k < r->n4) {
        inet_ntop(AF_INET, r->v4 + 4 * k, buf, (socklen_t)size);
    } else {
        inet_ntop(AF_INET6, r->v6 + 16 * (k - r->n4), buf, (socklen_t)size);
    }
    return buf;
}

/* "  member 192.0.2.1   up   for 35 s (status 200), healthd heard 0.4 s ago":
 * what it counts as, then its last report; with an override, the override
 * and what the report says underneath. */
static void text_member(const region_rt_t *r, unsigned k, const status_env_t *env, FILE *out)
{
    const healthdb_slot_t *s = select_member_slot(r, k);
    health_override_t ov = s ? (health_override_t)atomic_load(&s->override) : HEALTH_OV_NONE;
    const char *src = s && env->health ? healthdb_source_name(env->health, s->source) : NULL;
    char addr[64], since[32];

    fprintf(out, "  member %-24s %-11s", member_addr(r, k, addr, sizeof(addr)),
            member_word(select_member_state(s)));
    if (ov != HEALTH_OV_NONE) {
        fprintf(out, " override %s; health:", health_override_name(ov));
    }
    if (s == NULL || s->reported_ms == 0) {
        fprintf(out, " %s\n",
                r->checked ? "never reported by a healthd (counts as up)"
                           : "no health check (counts as up)");
        return;
    }
    age_text(age_s(env->now_ms, s->changed_ms ? s->changed_ms : s->reported_ms), since,
             sizeof(since));
    if (ov != HEALTH_OV_NONE) {
        fprintf(out, " %s", health_state_name((health_state_t)atomic_load(&s->state)));
    }
    fprintf(out, " for %s", since);
    if (s->reason[0] != '\0') {
        fprintf(out, " (%s)", s->reason);
    }
    if (src != NULL) {
        char heard[32];
        age_text(age_s(env->now_ms, healthdb_source_heard(env->health, s->source)), heard,
                 sizeof(heard));
        fprintf(out, ", %s heard %s ago", src, heard);
    }
    fputc('\n', out);
}

/* "2 of 3 vantages say up (quorum: majority, 2)": how the last decision
 * went, or why the state is held. */
static void quorum_text(const healthdb_slot_t *s, char *buf, size_t size)
{
    const healthdb_tally_t *t = &s->tally;
    char rule[32];
    health_state_t st = (health_state_t)atomic_load(&s->state);

    if (s->quorum) {
        snprintf(rule, sizeof(rule), "quorum %u", s->quorum);
    } else {
        snprintf(rule, sizeof(rule), "majority, %u", t->need);
    }
    if (t->votes == 0) {
        snprintf(buf, size, "no vantage has reported it");
    } else if (atomic_load(&s->held) && t->voting == 0) {
        snprintf(buf, size, "held %s: none of its %u vantages votes (stale or abstaining)",
                 health_state_name(st), t->votes);
    } else if (atomic_load(&s->held)) {
        snprintf(buf, size, "held %s: %u up, %u down of %u voting, no side has %u (%s)",
                 health_state_name(st), t->up, t->down, t->voting, t->need, rule);
    } else if (st == HEALTH_UNKNOWN) {
        snprintf(buf, size, "not judged yet by %u voting of %u vantages (%s)", t->voting, t->votes,
                 rule);
    } else {
        snprintf(buf, size, "%u of %u voting vantages say %s (%s)",
                 st == HEALTH_UP ? t->up : t->down, t->voting, health_state_name(st), rule);
    }
}

/* "    votes: v1 up, v2 up, v3 DOWN (refused; abstaining: ...); 2 of 3 ..."
 * under a member that more than one vantage reports, or whose state is
 * held: who said what, and what counted. */
static void text_votes(const healthdb_slot_t *s, const status_env_t *env, FILE *out)
{
    char why[160];

    if (s == NULL || env->health == NULL || s->n_votes == 0 ||
        (s->n_votes == 1 && !atomic_load(&s->held))) {
        return;
    }
    fprintf(out, "    votes:");
    for (size_t i = 0; i < s->n_votes; i++) {
        const healthdb_vote_t *v = &s->votes[i];
        bool counts = healthdb_vote_counts(env->health, v, why, sizeof(why));
        bool dissent = v->state != atomic_load(&s->state);
        fprintf(out, "%s %s %s", i ? "," : "", healthdb_source_name(env->health, v->source),
                dissent && v->state != HEALTH_UNKNOWN ? (v->state == HEALTH_UP ? "UP" : "DOWN")
                                                      : health_state_name(v->state));
        if (dissent && v->reason[0] != '\0') {
            fprintf(out, " (%s)", v->reason);
        }
        if (!counts) {
            fprintf(out, " [not counted: %s]", why);
        }
    }
    quorum_text(s, why, sizeof(why));
    fprintf(out, "; %s\n", why);
}

/* A region's load feedback (shed.h), one line under it. */
static void text_load(const region_rt_t *r, const status_env_t *env, FILE *out)
{
    const shed_t *sh = r->slot ? &r->slot->shed : NULL;
    char age[32];

    if (sh == NULL || !sh->configured) {
        return;
    }
    fprintf(out, "  load ");
    if (sh->heard_ms == 0) {
        fprintf(out, "not reported yet (%s %s)", shed_source_name(sh->source), sh->url);
    } else {
        age_text(age_s(env->now_ms, sh->heard_ms), age, sizeof(age));
        if (sh->known) {
            fprintf(out, "%.2f of capacity (%g of %g, %s, %s ago%s)", sh->util, sh->figure,
                    sh->capacity, shed_source_name(sh->source), age,
                    shed_fresh(sh, env->now_ms) ? "" : ": STALE, not used");
        } else {
            fprintf(out, "UNKNOWN (%s, %s ago: %s)", shed_source_name(sh->source), age,
                    sh->reason[0] ? sh->reason : "no reason given");
        }
    }
    if (sh->share > 0) {
        fprintf(out, "; SHEDDING %.0f%% of its clients to their next region below %.2f",
                100 * sh->share, sh->rule.low);
    } else {
        fprintf(out, "; not shedding (sheds above %.2f)", sh->rule.high);
    }
    fputc('\n', out);
}

static void json_load(json_t *j, const region_rt_t *r, const status_env_t *env)
{
    const shed_t *sh = r->slot ? &r->slot->shed : NULL;
    bool known = sh != NULL && sh->heard_ms != 0 && sh->known;

    if (sh == NULL || !sh->configured) {
        json_null(j, "load");
        return;
    }
    json_object_begin(j, "load");
    json_string(j, "source", shed_source_name(sh->source));
    json_string(j, "url", sh->url);
    json_number(j, "capacity", sh->capacity, 3);
    json_number(j, "utilisation", known ? sh->util : NAN, 4);
    json_number(j, "figure", known ? sh->figure : NAN, 3);
    json_number(j, "age_ms", sh->heard_ms ? (double)(env->now_ms - sh->heard_ms) : NAN, 0);
    json_bool(j, "fresh", shed_fresh(sh, env->now_ms));
    json_string(j, "reason", sh->heard_ms && !sh->known ? sh->reason : NULL);
    json_number(j, "shed_share", sh->share, 4);
    json_number(j, "high", sh->rule.high, 3);
    json_number(j, "low", sh->rule.low, 3);
    json_number(j, "step", sh->rule.step, 3);
    json_number(j, "period_s", sh->rule.period_ms / 1000.0, 1);
    json_uint(j, "reversals", sh->reversals);
    json_object_end(j);
}

static void text_region(const zone_rt_t *zr, const region_rt_t *r, const status_env_t *env,
                        FILE *out)
{
    select_report_t rep;
    char why[512];

    select_region_report(r, &rep);
    region_why(r, &rep, why, sizeof(why));
    fprintf(out, "region %s %s %s: %s; weight %u", zr->name, r->name, state_word(rep.state), why,
            r->weight);
    if (rep.weight != r->weight) {
        fprintf(out, " (answered as %u)", rep.weight);
    }
    if (r->max_addrs != 0) {
        fprintf(out, "; max_addrs %u", (unsigned)r->max_addrs);
    }
    fputc('\n', out);
    text_load(r, env, out);
    for (unsigned k = 0; k < (unsigned)r->n4 + r->n6; k++) {
        text_member(r, k, env, out);
        text_votes(select_member_slot(r, k), env, out);
    }
}

/* The region at position j of a service's counts, NULL for none to show:
 * position n_regions is a fallback region outside the list, shown once it
 * answered. */
static const region_rt_t *shown_region(const svc_rt_t *svc, unsigned j, const uint64_t *counts)
{
    if (j < svc->n_regions) {
        return svc->regions[j];
    }
    return counts[j] > 0 ? svc->regions[j] : NULL;
}

/* A service's counts over the window; regions holds n_regions + 1. */
static bool shares(const status_env_t *env, const svc_rt_t *svc, stats_svc_t *sum,
                   uint64_t *regions)
{
    if (env->stats == NULL) {
        return false;
    }
    stats_service(env->stats, env->snap, svc, env->now_ms, sum, regions);
    return true;
}

/* How a service answers a family now (select_service_state(), the rule the
 * answers follow): as health decides, or one of the ways it answers when no
 * region can. Words for the text, then for JSON. */
static const char *svc_state_text(svc_state_t st, bool json)
{
    switch (st) {
    case SVC_STATE_OK:
        return json ? "health" : "by health";
    case SVC_STATE_OPEN:
        return json ? "failing_open" : "FAILING OPEN (no region up: every region answers)";
    case SVC_STATE_DRAINED:
        return json ? "all_drained" : "ALL DRAINED (answered all the same)";
    case SVC_STATE_FALLBACK:
        return json ? "fallback" : "ON FALLBACK (no region up)";
    case SVC_STATE_NODATA:
        return json ? "nodata" : "NODATA (no region up)";
    case SVC_STATE_SERVFAIL:
        return json ? "servfail" : "SERVFAIL (no region up)";
    }
    return "?";
}

static void text_service(const zone_rt_t *zr, const svc_rt_t *svc, const status_env_t *env,
                         FILE *out)
{
    svc_state_t st4 = select_service_state(svc, false), st6 = select_service_state(svc, true);

    uint64_t *regions = xcalloc(svc->n_regions + 1u, sizeof(*regions));
    stats_svc_t sum;

    fprintf(out, "service %s %s (%s", zr->name, svc->name, policy_name(svc->policy));
    if (svc->answers > 1) {
        fprintf(out, ", %u regions an answer", svc->answers);
    }
    fputc(')', out);
    if (st4 != SVC_STATE_OK || st6 != SVC_STATE_OK) {
        if (st4 == st6) {
            fprintf(out, " A and AAAA %s", svc_state_text(st4, false));
        } else {
            fprintf(out, " A %s, AAAA %s", svc_state_text(st4, false), svc_state_text(st6, false));
        }
    }
    if (shares(env, svc, &sum, regions)) {
        fprintf(out, ": %llu answers in the last %.0f s", (unsigned long long)sum.answers,
                (double)sum.window_ms / 1000.0);
        for (unsigned j = 0; j <= svc->n_regions && sum.answers > 0; j++) {
            const region_rt_t *r = shown_region(svc, j, regions);
            if (r != NULL) {
                fprintf(out, "%s %s %.1f%%", j ? "," : ":", r->name,
                        100.0 * (double)regions[j] / (double)sum.answers);
            }
        }
        if (sum.none > 0) {
            fprintf(out, ", no region (NODATA or SERVFAIL) %.1f%%",
                    100.0 * (double)sum.none / (double)sum.answers);
        }
    }
    fputc('\n', out);
    free(regions);
}

/* The GeoIP database: where from, what, how big, and whose data (the
 * built-in one's description credits its sources, as their licences ask). */
static void text_geoip(const geo_db_t *db, FILE *out)
{
    char built[64];

    if (db == NULL) {
        fprintf(out, "geoip none: clients are not placed\n");
        return;
    }
    wall_text(db->build_epoch * 1000, false, built, sizeof(built));
    fprintf(out, "geoip %s: %s, built %s, %" PRIu64 " networks%s%s\n", db->path, db->type, built,
            db->networks, db->description[0] ? "; " : "", db->description);
}

void status_write_text(const status_t *st, const status_env_t *env, FILE *out)
{
    char when[64];

    wall_text(env->wall_ms, false, when, sizeof(when));
    fprintf(out, "gslbd %s, status at %s\n", gslb_version(), when);
    text_geoip(env->db, out);
    for (size_t z = 0; env->snap != NULL && z < env->snap->n_zones; z++) {
        const zone_rt_t *zr = &env->snap->zones[z];
        const record_t *rec = record_of_zone(st, zr->name);
        fprintf(out, "zone %s serial %u%s%s\n", zr->name, zr->serial, rec ? ", from " : "",
                rec ? rec->file : "");
        text_reload(rec, env, out);
        for (size_t i = 0; i < zr->n_regions; i++) {
            text_region(zr, zr->regions[i], env, out);
        }
        for (size_t k = 0; k < zr->n_svcs; k++) {
            text_service(zr, zr->svcs[k], env, out);
        }
    }
    for (size_t i = 0; i < st->n_recs; i++) {
        if (st->recs[i].outcome == ZONESET_FAILED) {
            fprintf(out, "file %s: not served\n", st->recs[i].file);
            text_reload(&st->recs[i], env, out);
        }
    }
}

/* ---- JSON ---- */

static void json_age(json_t *j, const char *key, uint64_t now, uint64_t then)
{
    json_number(j, key, age_s(now, then), 1);
}

static void json_reload(json_t *j, const record_t *rec, const status_env_t *env)
{
    char when[64];

    if (rec == NULL) {
        json_null(j, "last_reload");
        return;
    }
    wall_text(rec->wall_ms, true, when, sizeof(when));
    json_object_begin(j, "last_reload");
    json_string(j, "time", when);
    json_age(j, "age_s", env->wall_ms, rec->wall_ms);
    json_string(j, "result", outcome_name(rec->outcome));
    json_uint(j, "serial", rec->serial);
    json_uint(j, "old_serial", rec->old_serial);
    json_array_begin(j, "errors");
    for (size_t i = 0; i < rec->n_errors; i++) {
        json_string(j, NULL, rec->errors[i]);
    }
    json_array_end(j);
    json_object_end(j);
}

/* Each vantage's vote on a member and the quorum that decided it. */
static void json_votes(json_t *j, const healthdb_slot_t *s, const status_env_t *env)
{
    char why[160], rule[16];

    if (s == NULL || env->health == NULL) {
        json_null(j, "quorum");
        json_null(j, "votes");
        return;
    }
    const healthdb_tally_t *t = &s->tally;
    snprintf(rule, sizeof(rule), "%u", s->quorum);
    json_object_begin(j, "quorum");
    json_string(j, "rule", s->quorum ? rule : "majority");
    json_uint(j, "need", t->need);
    json_uint(j, "voting", t->voting);
    json_uint(j, "up", t->up);
    json_uint(j, "down", t->down);
    json_bool(j, "held", atomic_load(&s->held));
    quorum_text(s, why, sizeof(why));
    json_string(j, "why", why);
    json_object_end(j);
    json_array_begin(j, "votes");
    for (size_t i = 0; i < s->n_votes; i++) {
        const healthdb_vote_t *v = &s->votes[i];
        bool counts = healthdb_vote_counts(env->health, v, why, sizeof(why));
        json_object_begin(j, NULL);
        json_string(j, "vantage", healthdb_source_name(env->health, v->source));
        json_string(j, "vote", health_state_name((health_state_t)v->state));
        json_bool(j, "counted", counts);
        json_string(j, "why", counts ? NULL : why);
        json_age(j, "age_s", env->now_ms, v->reported_ms);
        json_string(j, "reason", v->reason[0] ? v->reason : NULL);
        json_object_end(j);
    }
    json_array_end(j);
}

/* Every healthd that has reported, by name: when heard, and its canary. */
static void json_vantages(json_t *j, const status_env_t *env)
{
    healthdb_source_info_t si;

    json_array_begin(j, "vantages");
    for (size_t i = 0; env->health != NULL && i < healthdb_n_sources(env->health); i++) {
        if (!healthdb_source_info(env->health, i, &si) || !si.reporter) {
            continue;
        }
        json_object_begin(j, NULL);
        json_string(j, "name", si.name);
        json_age(j, "heard_s", env->now_ms, si.heard_ms);
        json_uint(j, "links", si.links);
        json_uint(j, "reports", si.reports);
        json_string(j, "canary", !si.canary_known ? "none" : si.abstaining ? "failed" : "ok");
        json_string(j, "canary_reason",
                    si.abstaining && si.canary_reason[0] ? si.canary_reason : NULL);
        json_object_end(j);
    }
    json_array_end(j);
}

static void json_member(json_t *j, const region_rt_t *r, unsigned k, const status_env_t *env)
{
    const healthdb_slot_t *s = select_member_slot(r, k);
    int source = s ? s->source : -1;
    const char *src = env->health ? healthdb_source_name(env->health, source) : NULL;
    char addr[64];

    json_object_begin(j, NULL);
    json_string(j, "address", member_addr(r, k, addr, sizeof(addr)));
    json_string(j, "state", select_member_name(select_member_state(s)));
    json_string(j, "health",
                health_state_name(s ? (health_state_t)atomic_load(&s->state) : HEALTH_UNKNOWN));
    json_string(
        j, "override",
        health_override_name(s ? (health_override_t)atomic_load(&s->override) : HEALTH_OV_NONE));
    json_string(j, "reason", s && s->reason[0] ? s->reason : NULL);
    json_age(j, "since_s", env->now_ms, s ? s->changed_ms : 0);
    json_age(j, "reported_s", env->now_ms, s ? s->reported_ms : 0);
    json_string(j, "source", src);
    json_age(j, "source_heard_s", env->now_ms,
             src ? healthdb_source_heard(env->health, source) : 0);
    json_votes(j, s, env);
    json_object_end(j);
}

static void json_region(json_t *j, const region_rt_t *r, const status_env_t *env)
{
    select_report_t rep;
    char why[512];

    select_region_report(r, &rep);
    region_why(r, &rep, why, sizeof(why));
    json_object_begin(j, NULL);
    json_string(j, "name", r->name);
    json_string(j, "state", select_state_name(rep.state));
    json_string(j, "why", why);
    json_string(j, "override", health_override_name(rep.override));
    /* Where the zone file puts it, for the status page's map; 4 decimals
     * are about 11 m, finer than any zone file means. */
    json_number(j, "lat", r->lat, 4);
    json_number(j, "lon", r->lon, 4);
    json_uint(j, "weight", r->weight);
    json_uint(j, "effective_weight", rep.weight);
    json_uint(j, "min_up", r->min_up);
    if (r->max_addrs != 0) {
        json_uint(j, "max_addrs", r->max_addrs); /* absent: every address */
    }
    json_bool(j, "checked", r->checked);
    json_bool(j, "waiting_for_healthd", rep.waiting);
    json_uint(j, "members_held", rep.held);
    json_uint(j, "members_known_up", rep.n[SELECT_MEMBER_UP] + rep.n[SELECT_MEMBER_FORCED_UP]);
    json_uint(j, "members_counted_up", rep.counted_up);
    json_load(j, r, env);
    json_array_begin(j, "members");
    for (unsigned k = 0; k < (unsigned)r->n4 + r->n6; k++) {
        json_member(j, r, k, env);
    }
    json_array_end(j);
    json_object_end(j);
}

/* A history's steps as an array under `key`. */
static void json_steps(json_t *j, const char *key, const uint64_t *steps, unsigned n)
{
    json_array_begin(j, key);
    for (unsigned k = 0; k < n; k++) {
        json_uint(j, NULL, steps[k]);
    }
    json_array_end(j);
}

/* The service's answers per step over the last minutes (stats_history()),
 * per region and with no region; a fallback region outside the list shows
 * once it answered. */
static void json_history(json_t *j, const svc_rt_t *svc, const status_env_t *env)
{
    uint64_t steps[STATS_HIST_STEPS];
    unsigned n;

    if (env->stats == NULL) {
        json_null(j, "history");
        return;
    }
    json_object_begin(j, "history");
    json_uint(j, "step_s", STATS_HIST_STEP_MS / 1000);
    json_object_begin(j, "regions");
    for (unsigned k = 0; k <= svc->n_regions; k++) {
        n = stats_history(env->stats, svc, k, steps);
        bool any = false;
        for (unsigned i = 0; i < n && !any; i++) {
            any = steps[i] > 0;
        }
        if ((k < svc->n_regions || any) && svc->regions[k] != NULL) {
            json_steps(j, svc->regions[k]->name, steps, n);
        }
    }
    json_object_end(j);
    n = stats_history(env->stats, svc, SVC_COUNT_NONE(svc), steps);
    json_steps(j, "none", steps, n);
    json_object_end(j);
}

static void json_service(json_t *j, const svc_rt_t *svc, const status_env_t *env)
{
    uint64_t *regions = xcalloc(svc->n_regions + 1u, sizeof(*regions));
    stats_svc_t sum = {0};
    bool have = shares(env, svc, &sum, regions);

    json_object_begin(j, NULL);
    json_string(j, "name", svc->name);
    json_string(j, "policy", policy_name(svc->policy));
    json_uint(j, "answers_per_query", svc->answers);
    json_object_begin(j, "answering");
    json_string(j, "A", svc_state_text(select_service_state(svc, false), true));
    json_string(j, "AAAA", svc_state_text(select_service_state(svc, true), true));
    json_object_end(j);
    if (!have) {
        json_null(j, "window_s");
        json_null(j, "answers");
        json_null(j, "no_region");
    } else {
        json_number(j, "window_s", (double)sum.window_ms / 1000.0, 1);
        json_uint(j, "answers", sum.answers);
        json_uint(j, "no_region", sum.none);
    }
    json_array_begin(j, "regions");
    for (unsigned k = 0; k <= svc->n_regions; k++) {
        const region_rt_t *r = shown_region(svc, k, regions);
        if (r == NULL) {
            continue;
        }
        json_object_begin(j, NULL);
        json_string(j, "name", r->name);
        if (have) {
            json_uint(j, "answers", regions[k]);
        } else {
            json_null(j, "answers");
        }
        json_number(j, "share",
                    have && sum.answers ? (double)regions[k] / (double)sum.answers : NAN, 4);
        json_object_end(j);
    }
    json_array_end(j);
    json_history(j, svc, env);
    json_object_end(j);
    free(regions);
}

static void json_zone(json_t *j, const status_t *st, const zone_rt_t *zr, const status_env_t *env)
{
    const record_t *rec = record_of_zone(st, zr->name);

    json_object_begin(j, NULL);
    json_string(j, "name", zr->name);
    json_uint(j, "serial", zr->serial);
    json_string(j, "file", rec ? rec->file : NULL);
    json_reload(j, rec, env);
    json_array_begin(j, "regions");
    for (size_t i = 0; i < zr->n_regions; i++) {
        json_region(j, zr->regions[i], env);
    }
    json_array_end(j);
    json_array_begin(j, "services");
    for (size_t k = 0; k < zr->n_svcs; k++) {
        json_service(j, zr->svcs[k], env);
    }
    json_array_end(j);
    json_object_end(j);
}

static void json_geoip(json_t *j, const geo_db_t *db)
{
    char built[64];

    if (db == NULL) {
        json_null(j, "geoip");
        return;
    }
    wall_text(db->build_epoch * 1000, true, built, sizeof(built));
    json_object_begin(j, "geoip");
    json_string(j, "path", db->path);
    json_string(j, "type", db->type);
    json_string(j, "built", built);
    json_uint(j, "networks", db->networks);
    json_string(j, "description", db->description);
    json_object_end(j);
}

void status_write_json(const status_t *st, const status_env_t *env, FILE *out)
{
    char when[64];
    json_t j;

    json_init(&j, out);
    wall_text(env->wall_ms, true, when, sizeof(when));
    json_object_begin(&j, NULL);
    json_uint(&j, "status_version", STATUS_VERSION);
    json_string(&j, "gslbd_version", gslb_version());
    json_string(&j, "time", when);
    json_geoip(&j, env->db);
    json_vantages(&j, env);
    json_array_begin(&j, "zones");
    for (size_t z = 0; env->snap != NULL && z < env->snap->n_zones; z++) {
        json_zone(&j, st, &env->snap->zones[z], env);
    }
    json_array_end(&j);
    json_array_begin(&j, "unserved_files");
    for (size_t i = 0; i < st->n_recs; i++) {
        if (st->recs[i].outcome == ZONESET_FAILED) {
            json_object_begin(&j, NULL);
            json_string(&j, "file", st->recs[i].file);
            json_reload(&j, &st->recs[i], env);
            json_object_end(&j);
        }
    }
    json_array_end(&j);
    json_object_end(&j);
    json_finish(&j);
}

/* ---- Prometheus ---- */

/* The words of the state sets, from the modules that name the states. */
static const char *region_word(unsigned st)
{
    return select_state_name((select_state_t)st);
}

static const char *member_state_word(unsigned st)
{
    return select_member_name((select_member_t)st);
}

static const char *service_word(unsigned st)
{
    return svc_state_text((svc_state_t)st, true);
}

/* Load feedback (shed.h): utilisation while a fresh figure is known, and
 * the shed share of every region with a load:. */
static void prom_load(prom_t *p, const status_env_t *env)
{
    const snapshot_t *snap = env->snap;

    prom_family(p, "gslb_region_utilisation", PROM_GAUGE,
                "Load over capacity of each region with a load:, as healthd last read it from "
                "the region's balancer; absent while no fresh figure is known.");
    for (size_t z = 0; snap != NULL && z < snap->n_zones; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_regions; i++) {
            const healthdb_slot_t *sl = zr->regions[i]->slot;
            if (sl != NULL && shed_fresh(&sl->shed, env->now_ms)) {
                prom_double(p, "gslb_region_utilisation", sl->shed.util, "zone", zr->name, "region",
                            zr->regions[i]->name, NULL);
            }
        }
    }
    prom_family(p, "gslb_region_shed_share", PROM_GAUGE,
                "Share (0 to 1) of its clients a region with a load: sends to their next region "
                "with room, because its utilisation went above shed.high.");
    for (size_t z = 0; snap != NULL && z < snap->n_zones; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_regions; i++) {
            const healthdb_slot_t *sl = zr->regions[i]->slot;
            if (sl != NULL && sl->shed.configured) {
                prom_double(p, "gslb_region_shed_share", sl->shed.share, "zone", zr->name, "region",
                            zr->regions[i]->name, NULL);
            }
        }
    }
}

/* The quorum behind each member's state: the vantages' votes that counted
 * at the last decision, those that did not, and whether the state is held. */
static void prom_member_votes(prom_t *p, const status_env_t *env)
{
    static const char *const family[2] = {"gslb_member_votes", "gslb_member_held"};
    const snapshot_t *snap = env->snap;

    prom_family(p, family[0], PROM_GAUGE,
                "Vantages (healthd) voting on each pool member at its last decision: up and "
                "down counted, abstain for stale or canary-failing vantages and those not "
                "judging yet.");
    for (int f = 0; f < 2; f++) {
        if (f == 1) {
            prom_family(p, family[1], PROM_GAUGE,
                        "1 while a member keeps its last state for want of a quorum of "
                        "vantages (answers of its region use min_ttl).");
        }
        for (size_t z = 0; snap != NULL && env->health != NULL && z < snap->n_zones; z++) {
            const zone_rt_t *zr = &snap->zones[z];
            for (size_t i = 0; i < zr->n_regions; i++) {
                const region_rt_t *r = zr->regions[i];
                for (unsigned k = 0; r->checked && k < (unsigned)r->n4 + r->n6; k++) {
                    const healthdb_slot_t *s = select_member_slot(r, k);
                    char addr[64];
                    if (s == NULL || s->n_votes == 0) {
                        continue;
                    }
                    const char *m = member_addr(r, k, addr, sizeof(addr));
                    const healthdb_tally_t *t = &s->tally;
                    if (f == 1) {
                        prom_u64(p, family[1], atomic_load(&s->held), "zone", zr->name, "region",
                                 r->name, "member", m, NULL);
                        continue;
                    }
                    prom_u64(p, family[0], t->up, "zone", zr->name, "region", r->name, "member", m,
                             "vote", "up", NULL);
                    prom_u64(p, family[0], t->down, "zone", zr->name, "region", r->name, "member",
                             m, "vote", "down", NULL);
                    prom_u64(p, family[0], t->votes - t->voting, "zone", zr->name, "region",
                             r->name, "member", m, "vote", "abstain", NULL);
                }
            }
        }
    }
}

void status_write_prom(const status_t *st, const status_env_t *env, prom_t *p)
{
    const snapshot_t *snap = env->snap;
    size_t nz = snap ? snap->n_zones : 0;

    prom_family(p, "gslb_zone_serial", PROM_GAUGE, "SOA serial of each zone served.");
    for (size_t z = 0; z < nz; z++) {
        prom_u64(p, "gslb_zone_serial", snap->zones[z].serial, "zone", snap->zones[z].name, NULL);
    }
    prom_family(p, "gslb_zone_last_reload_timestamp_seconds", PROM_GAUGE,
                "When each zone's file last loaded successfully, seconds since the epoch.");
    for (size_t z = 0; z < nz; z++) {
        const record_t *rec = record_of_zone(st, snap->zones[z].name);
        if (rec != NULL && rec->loaded_wall_ms != 0) {
            prom_double(p, "gslb_zone_last_reload_timestamp_seconds",
                        (double)rec->loaded_wall_ms / 1000.0, "zone", snap->zones[z].name, NULL);
        }
    }
    prom_family(p, "gslb_zone_files_failed", PROM_GAUGE,
                "Zone files whose last load failed and that serve nothing.");
    uint64_t unserved = 0;
    for (size_t i = 0; i < st->n_recs; i++) {
        unserved += st->recs[i].outcome == ZONESET_FAILED;
    }
    prom_u64(p, "gslb_zone_files_failed", unserved, NULL);
    prom_family(p, "gslb_reloads_total", PROM_COUNTER,
                "Zone files by what each load or reload did to them (failed: not loaded and "
                "serving nothing; kept: broken, the previous version serves).");
    for (unsigned o = 0; o < N_OUTCOMES; o++) {
        prom_u64(p, "gslb_reloads_total", st->outcomes[o], "result",
                 outcome_name((zoneset_outcome_t)o), NULL);
    }

    prom_family(p, "gslb_region_state", PROM_GAUGE,
                "Effective state of each region (1 for the state it is in).");
    for (size_t z = 0; z < nz; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_regions; i++) {
            select_report_t rep;
            select_region_report(zr->regions[i], &rep);
            prom_states(p, "gslb_region_state", region_word, SELECT_STATE_FORCED_DOWN + 1,
                        rep.state, "zone", zr->name, "region", zr->regions[i]->name, NULL);
        }
    }
    prom_family(p, "gslb_region_weight", PROM_GAUGE,
                "Weight of each region as selection uses it now (0 when drained).");
    for (size_t z = 0; z < nz; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_regions; i++) {
            select_report_t rep;
            select_region_report(zr->regions[i], &rep);
            prom_u64(p, "gslb_region_weight", rep.weight, "zone", zr->name, "region",
                     zr->regions[i]->name, NULL);
        }
    }
    prom_load(p, env);
    prom_family(p, "gslb_member_state", PROM_GAUGE,
                "State of each pool member, health and overrides together (1 for the state "
                "it is in).");
    for (size_t z = 0; z < nz; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_regions; i++) {
            const region_rt_t *r = zr->regions[i];
            for (unsigned k = 0; k < (unsigned)r->n4 + r->n6; k++) {
                char addr[64];
                prom_states(p, "gslb_member_state", member_state_word, SELECT_MEMBER_DRAINED + 1,
                            select_member_state(select_member_slot(r, k)), "zone", zr->name,
                            "region", r->name, "member", member_addr(r, k, addr, sizeof(addr)),
                            NULL);
            }
        }
    }
    prom_member_votes(p, env);
    prom_family(p, "gslb_service_state", PROM_GAUGE,
                "How each service answers each address family now: by health, or one of the "
                "ways it answers when no region can (1 for the way it answers).");
    for (size_t z = 0; z < nz; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t k = 0; k < zr->n_svcs; k++) {
            for (int v6 = 0; v6 < 2; v6++) {
                prom_states(p, "gslb_service_state", service_word, SVC_STATE_SERVFAIL + 1,
                            select_service_state(zr->svcs[k], v6), "zone", zr->name, "service",
                            zr->svcs[k]->name, "family", v6 ? "ipv6" : "ipv4", NULL);
            }
        }
    }

    size_t ns = env->health ? healthdb_n_sources(env->health) : 0;
    prom_family(p, "gslb_health_source_connected", PROM_GAUGE,
                "Whether a healthd that reported to this gslbd is connected now.");
    for (size_t i = 0; i < ns; i++) {
        healthdb_source_info_t si;
        if (healthdb_source_info(env->health, i, &si) && si.reporter) {
            prom_u64(p, "gslb_health_source_connected", si.links > 0, "source", si.name, NULL);
        }
    }
    prom_family(p, "gslb_health_source_last_report_age_seconds", PROM_GAUGE,
                "Seconds since each healthd was last heard from.");
    for (size_t i = 0; i < ns; i++) {
        healthdb_source_info_t si;
        if (healthdb_source_info(env->health, i, &si) && si.reporter && si.heard_ms != 0) {
            prom_double(p, "gslb_health_source_last_report_age_seconds",
                        env->now_ms >= si.heard_ms ? (double)(env->now_ms - si.heard_ms) / 1000.0
                                                   : 0.0,
                        "source", si.name, NULL);
        }
    }
    prom_family(p, "gslb_health_source_abstaining", PROM_GAUGE,
                "1 while a healthd's canaries fail, so its votes do not count (only for "
                "healthd that probe canaries).");
    for (size_t i = 0; i < ns; i++) {
        healthdb_source_info_t si;
        if (healthdb_source_info(env->health, i, &si) && si.reporter && si.canary_known) {
            prom_u64(p, "gslb_health_source_abstaining", si.abstaining, "source", si.name, NULL);
        }
    }
    prom_family(p, "gslb_health_reports_total", PROM_COUNTER,
                "Health reports received from each healthd.");
    for (size_t i = 0; i < ns; i++) {
        healthdb_source_info_t si;
        if (healthdb_source_info(env->health, i, &si) && si.reporter) {
            prom_u64(p, "gslb_health_reports_total", si.reports, "source", si.name, NULL);
        }
    }
}
