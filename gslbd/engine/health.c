/*
 * health: slots, reports, staleness and persisted overrides; see health.h.
 *
 * The overrides file holds one line per override, "ZONE REGION [MEMBER]
 * drain|down|up" (ZONE "*" for every zone), rewritten whole (to a temporary
 * file, then renamed) on every change, so a crash never leaves half a file.
 */
#include "gslbd/engine/health.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/control.h"
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

struct health {
    health_slot_t *buckets[HEALTH_BUCKETS];
    source_t *sources;
    size_t n_sources;
    override_rule_t *rules;
    char *file;
    _Atomic uint64_t gen; /* bumped after every change of a slot; see health_gen() */
};

/* A slot changed: caches of what slots imply (select.c) are stale now. The
 * release orders the slot's store before the new generation. */
static void health_changed(health_t *h)
{
    atomic_fetch_add_explicit(&h->gen, 1, memory_order_release);
}

const _Atomic uint64_t *health_gen(const health_t *h)
{
    return &h->gen;
}

static const char *const override_names[] = {"auto", "drain", "down", "up"};
static const char *const state_names[] = {"unknown", "up", "down"};

const char *health_override_name(health_override_t ov)
{
    return override_names[ov];
}

const char *health_state_name(health_state_t st)
{
    return state_names[st];
}

int health_override_parse(const char *text, health_override_t *ov)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, override_names[i]) == 0) {
            *ov = (health_override_t)i;
            return 0;
        }
    }
    return -EINVAL;
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

static bool rule_matches(const override_rule_t *r, const health_slot_t *s)
{
    return (strcmp(r->zone, "*") == 0 || strcmp(r->zone, s->zone) == 0) &&
           strcmp(r->region, s->region) == 0 && str_eq(r->member, s->member);
}

/* The override a slot gets from the rules: a zone-specific rule wins. */
static health_override_t rules_for(const health_t *h, const health_slot_t *s)
{
    health_override_t ov = OVERRIDE_NONE;

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

health_slot_t *health_slot(health_t *h, const char *zone, const char *region, const char *member)
{
    unsigned b = slot_hash(zone, region, member);
    health_slot_t *s;

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
    health_changed(h);
    return s;
}

/* Replace the rule for (zone, region, member); zone "*" replaces the rules of
 * every zone for that region or member, so the latest command wins. */
static void rule_add(health_t *h, const char *zone, const char *region, const char *member,
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
    if (ov == OVERRIDE_NONE) {
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

static void rules_load(health_t *h)
{
    FILE *f = fopen(h->file, "r");
    char line[CONTROL_LINE_MAX + 1], *argv[5];
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
        int n = control_split(line, argv, 5);
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

static int rules_save(const health_t *h)
{
    char tmp[4096];
    FILE *f;

    if (h->file == NULL) {
        return 0;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", h->file);
    f = fopen(tmp, "w");
    if (f == NULL) {
        log_err("%s: cannot save overrides: %s", tmp, gslb_strerror(-errno));
        return -errno;
    }
    fprintf(f,
            "# gslbd operator overrides: ZONE REGION [MEMBER] drain|down|up (set with gslbctl)\n");
    for (const override_rule_t *r = h->rules; r != NULL; r = r->next) {
        fprintf(f, "%s %s%s%s %s\n", r->zone, r->region, r->member ? " " : "",
                r->member ? r->member : "", override_names[r->ov]);
    }
    if (fclose(f) != 0 || rename(tmp, h->file) != 0) {
        log_err("%s: cannot save overrides: %s", h->file, gslb_strerror(-errno));
        return -errno;
    }
    return 0;
}

health_t *health_new(const char *overrides_file)
{
    health_t *h = xcalloc(1, sizeof(*h));

    h->file = xstrdup_opt(overrides_file);
    if (h->file != NULL) {
        rules_load(h);
    }
    return h;
}

void health_free(health_t *h)
{
    if (h == NULL) {
        return;
    }
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (health_slot_t *s = h->buckets[b], *next; s != NULL; s = next) {
            next = s->next;
            free(s->zone);
            free(s->region);
            free(s->member);
            free(s);
        }
    }
    while (h->rules != NULL) {
        rule_add(h, h->rules->zone, h->rules->region, h->rules->member, OVERRIDE_NONE);
    }
    for (size_t i = 0; i < h->n_sources; i++) {
        free(h->sources[i].name);
    }
    free(h->sources);
    free(h->file);
    free(h);
}

int health_source(health_t *h, const char *name)
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

void health_heard(health_t *h, int source, uint64_t now_ms)
{
    if (source >= 0 && (size_t)source < h->n_sources) {
        h->sources[source].last_heard_ms = now_ms;
    }
}

static health_slot_t *slot_find(const health_t *h, const char *zone, const char *region,
                                const char *member)
{
    for (health_slot_t *s = h->buckets[slot_hash(zone, region, member)]; s; s = s->next) {
        if (strcmp(s->zone, zone) == 0 && strcmp(s->region, region) == 0 &&
            str_eq(s->member, member)) {
            return s;
        }
    }
    return NULL;
}

int health_report(health_t *h, int source, const char *zone, const char *region, const char *member,
                  bool up, const char *reason, uint64_t now_ms)
{
    bool known = slot_find(h, zone, region, member) != NULL;
    health_slot_t *s = health_slot(h, zone, region, member);
    uint8_t state = up ? HEALTH_UP : HEALTH_DOWN;
    uint8_t old = atomic_exchange(&s->state, state);
    if (old != state) {
        health_changed(h);
    }

    s->source = source;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    health_heard(h, source, now_ms);
    if (old != state) {
        s->changed_ms = now_ms;
        log_info("health: %s %s %s is %s (%s)", zone, region, member, state_names[state],
                 s->reason[0] ? s->reason : "no reason given");
    }
    return known ? 0 : -ENOENT;
}

int health_override(health_t *h, const char *zone, const char *region, const char *member,
                    health_override_t ov)
{
    int changed = 0;

    rule_add(h, zone ? zone : "*", region, member, ov);
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (health_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if ((zone == NULL || strcmp(s->zone, zone) == 0) && strcmp(s->region, region) == 0 &&
                str_eq(s->member, member)) {
                atomic_store(&s->override, (uint8_t)rules_for(h, s));
                health_changed(h);
                changed++;
            }
        }
    }
    if (changed == 0) {
        rule_add(h, zone ? zone : "*", region, member, OVERRIDE_NONE); /* names nothing: drop */
        return -ENOENT;
    }
    rules_save(h);
    return changed;
}

void health_tick(health_t *h, uint64_t now_ms)
{
    for (unsigned b = 0; b < HEALTH_BUCKETS; b++) {
        for (health_slot_t *s = h->buckets[b]; s != NULL; s = s->next) {
            if (s->member == NULL || s->source < 0 || atomic_load(&s->state) == HEALTH_UNKNOWN) {
                continue;
            }
            uint64_t heard = h->sources[s->source].last_heard_ms;
            unsigned stale = s->stale_after_ms ? s->stale_after_ms : 6000;
            if (now_ms - heard > stale) {
                atomic_store(&s->state, HEALTH_UNKNOWN);
                health_changed(h);
                s->changed_ms = now_ms;
                log_warn("health: no report for %s %s %s from %s for %.1f s: treating it as "
                         "unknown (counts as up)",
                         s->zone, s->region, s->member, h->sources[s->source].name,
                         (double)(now_ms - heard) / 1000.0);
            }
        }
    }
}
