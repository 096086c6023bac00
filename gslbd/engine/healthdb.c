/*
 * healthdb: slots, reports, staleness and persisted overrides; see healthdb.h.
 *
 * The overrides file holds one line per override, "ZONE REGION [MEMBER]
 * drain|down|up" (ZONE "*" for every zone), rewritten whole (to a temporary
 * file, then renamed) on every change, so a crash never leaves half a file.
 */
#include "gslbd/engine/healthdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
} source_t;

struct healthdb {
    healthdb_slot_t *buckets[HEALTH_BUCKETS];
    source_t *sources;
    size_t n_sources;
    override_rule_t *rules;
    char *file;
    _Atomic uint64_t gen; /* bumped after every change of a slot; see healthdb_gen() */
};

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
    healthdb_slot_t *s;

    for (s = h->buckets[b]; s != NULL; s = s->next) {
        if (strcmp(s->zone, zone) == 0 && strcmp(s->region, region) == 0 &&
            str_eq(s->member, member)) {
            return s;
        }
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
    FILE *f = fopen(h->file, "r");
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
    char tmp[4096];
    FILE *f;

    if (h->file == NULL) {
        return 0;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", h->file);
    f = fopen(tmp, "w");
    if (f == NULL) {
        int e = -errno;
        log_err("%s: cannot save overrides: %s", tmp, gslb_strerror(e));
        return e;
    }
    fprintf(f,
            "# gslbd operator overrides: ZONE REGION [MEMBER] drain|down|up (set with gslbctl)\n");
    for (const override_rule_t *r = h->rules; r != NULL; r = r->next) {
        fprintf(f, "%s %s%s%s %s\n", r->zone, r->region, r->member ? " " : "",
                r->member ? r->member : "", health_override_name(r->ov));
    }
    if (fclose(f) != 0 || rename(tmp, h->file) != 0) {
        int e = -errno;
        log_err("%s: cannot save overrides: %s", h->file, gslb_strerror(e));
        return e;
    }
    return 0;
}

healthdb_t *healthdb_new(const char *overrides_file)
{
    healthdb_t *h = xcalloc(1, sizeof(*h));

    h->file = xstrdup_opt(overrides_file);
    if (h->file != NULL) {
        rules_load(h);
    }
    return h;
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
            free(s);
        }
    }
    while (h->rules != NULL) {
        rule_add(h, h->rules->zone, h->rules->region, h->rules->member, HEALTH_OV_NONE);
    }
    for (size_t i = 0; i < h->n_sources; i++) {
        free(h->sources[i].name);
    }
    free(h->sources);
    free(h->file);
    free(h);
}

int healthdb_source(healthdb_t *h, const char *name)
{
    for (size_t i = 0; i < h->n_sources; i++) {
        if (strcmp(h->sources[i].name, name) == 0) {
            return (int)i;
        }
    }
    h->sources = xreallocarray(h->sources, h->n_sources + 1, sizeof(*h->sources));
    h->sources[h->n_sources] = (source_t){xstrdup(name), 0};
    return (int)h->n_sources++;
}

void healthdb_heard(healthdb_t *h, int source, uint64_t now_ms)
{
    if (source >= 0 && (size_t)source < h->n_sources) {
        h->sources[source].last_heard_ms = now_ms;
    }
}

static healthdb_slot_t *slot_find(const healthdb_t *h, const char *zone, const char *region,
                                  const char *member)
{
    for (healthdb_slot_t *s = h->buckets[slot_hash(zone, region, member)]; s; s = s->next) {
        if (strcmp(s->zone, zone) == 0 && strcmp(s->region, region) == 0 &&
            str_eq(s->member, member)) {
            return s;
        }
    }
    return NULL;
}

int healthdb_report(healthdb_t *h, int source, const char *zone, const char *region,
                    const char *member, health_state_t state, const char *reason, uint64_t now_ms)
{
    bool known = slot_find(h, zone, region, member) != NULL;
    healthdb_slot_t *s = healthdb_slot(h, zone, region, member);
    uint8_t old = atomic_exchange(&s->state, (uint8_t)state);
    if (old != state) {
        healthdb_changed(h);
    }

    s->source = source;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    healthdb_heard(h, source, now_ms);
    if (old != state) {
        s->changed_ms = now_ms;
        log_info("health: %s %s %s is %s (%s)", zone, region, member, health_state_name(state),
                 s->reason[0] ? s->reason : "no reason given");
    }
    return known ? 0 : -ENOENT;
}

int healthdb_override(healthdb_t *h, const char *zone, const char *region, const char *member,
                      health_override_t ov)
{
    int changed = 0;

    rule_add(h, zone ? zone : "*", region, member, ov);
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if ((zone == NULL || strcmp(s->zone, zone) == 0) && strcmp(s->region, region) == 0 &&
                str_eq(s->member, member)) {
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
    rules_save(h);
    return changed;
}

void healthdb_tick(healthdb_t *h, uint64_t now_ms)
{
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (healthdb_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (s->member == NULL || s->source < 0 || atomic_load(&s->state) == HEALTH_UNKNOWN) {
                continue;
            }
            uint64_t heard = h->sources[s->source].last_heard_ms;
            unsigned stale = s->stale_after_ms ? s->stale_after_ms : 6000;
            if (now_ms - heard > stale) {
                atomic_store(&s->state, HEALTH_UNKNOWN);
                healthdb_changed(h);
                s->changed_ms = now_ms;
                log_warn("health: no report for %s %s %s from %s for %.1f s: treating it as "
                         "unknown (counts as up)",
                         s->zone, s->region, s->member, h->sources[s->source].name,
                         (double)(now_ms - heard) / 1000.0);
            }
        }
    }
}
