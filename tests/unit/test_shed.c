/*
 * Unit tests for load shedding: the controller (shed.c: steps, period,
 * hysteresis, staleness) and the choice (select.c: which networks are shed,
 * where to, that a larger share moves a superset), over zones loaded by the
 * real loader into a real snapshot and health database.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslbd/engine/engine.h"
#include "gslbd/engine/select.h"
#include "tests/unit/fixture.h"
#include "zones/load.h"

static zone_load_t nginx_load = {
    .given = true, .source = LOAD_NGINX, .url = "http://127.0.0.1:1/s", .capacity = 10,
    .interval_ms = 500, .timeout_ms = 400, .stale_after_ms = 1500};
static zone_shed_t rule = {.high = 0.9, .low = 0.7, .step = 0.15, .period_ms = 2000};

/* Report `util` at `now` and run the controller; the share after. */
static double at(shed_t *s, uint64_t now, double util)
{
    double old;
    shed_report(s, !isnan(util), util, util * 10, "", now);
    (void)shed_step(s, now, &old);
    return s->share;
}

Test(shed, steps_once_per_period_up_then_holds_then_down)
{
    shed_t s = {0};
    shed_configure(&s, &nginx_load, &rule);

    cr_expect_float_eq(at(&s, 1000, 0.5), 0, 1e-9, "below high: nothing");
    cr_expect_eq(atomic_load(&s.thr), 0);
    cr_expect(atomic_load(&s.room), "below low: it may take clients");
    cr_expect_float_eq(at(&s, 1500, 1.5), 0.15, 1e-9, "the first step as soon as it crosses high");
    cr_expect_not(atomic_load(&s.room), "a loaded region takes no shed clients");
    cr_expect_gt(atomic_load(&s.thr), 0);
    cr_expect_float_eq(at(&s, 3000, 1.5), 0.15, 1e-9, "no second step within the period");
    cr_expect_float_eq(at(&s, 3500, 1.5), 0.30, 1e-9, "the next period: one more step");
    cr_expect_float_eq(at(&s, 5500, 0.8), 0.30, 1e-9, "between low and high: holds");
    cr_expect_float_eq(at(&s, 7500, 0.8), 0.30, 1e-9, "... for as long as it stays there");
    cr_expect_float_eq(at(&s, 9500, 0.5), 0.15, 1e-9, "below low: one step down a period");
    cr_expect_float_eq(at(&s, 10000, 0.5), 0.15, 1e-9, "... not faster");
    cr_expect_float_eq(at(&s, 11500, 0.5), 0, 1e-9, "... down to none");
    cr_expect_eq(atomic_load(&s.thr), 0);
    cr_expect_eq(s.reversals, 1, "up then down is one reversal");
    cr_expect_float_eq(at(&s, 12000, 1.5), 0.15, 1e-9, "a new episode starts at once");
    cr_expect_eq(s.reversals, 1, "... and counts afresh");
}

Test(shed, caps_at_every_client)
{
    shed_t s = {0};
    shed_configure(&s, &nginx_load, &rule);
    for (int i = 0; i < 10; i++) {
        at(&s, 1000 + 2000 * (uint64_t)i, 3.0);
    }
    cr_expect_float_eq(s.share, 1.0, 1e-9);
    cr_expect_eq(atomic_load(&s.thr), UINT32_MAX);
}

Test(shed, stale_or_unknown_figures_let_go_one_step_a_period)
{
    shed_t s = {0};
    double old;
    shed_configure(&s, &nginx_load, &rule);
    at(&s, 1000, 1.5);
    at(&s, 3000, 1.5);
    at(&s, 5000, 1.5);
    cr_expect_float_eq(s.share, 0.45, 1e-9);
    /* no more reports: stale after 1.5 s, then one step per period */
    cr_expect_not(shed_step(&s, 6000, &old), "still within the period");
    cr_expect(shed_step(&s, 7000, &old));
    cr_expect_float_eq(s.share, 0.30, 1e-9, "stale: one step down, not all at once");
    cr_expect_not(atomic_load(&s.room), "a stale region takes no shed clients");
    cr_expect_not(shed_step(&s, 8000, &old));
    cr_expect(shed_step(&s, 9000, &old));
    cr_expect_float_eq(s.share, 0.15, 1e-9);
    /* an unknown figure (the read failed) counts as none */
    cr_expect_float_eq(at(&s, 11000, NAN), 0, 1e-9);
}

Test(shed, a_region_whose_load_goes_away_stops_at_once)
{
    shed_t s = {0};
    shed_configure(&s, &nginx_load, &rule);
    at(&s, 1000, 1.5);
    cr_expect_gt(atomic_load(&s.thr), 0);
    shed_configure(&s, NULL, &rule);
    cr_expect_eq(atomic_load(&s.thr), 0);
    cr_expect_not(s.configured);
}

/* ---- the choice, over a real snapshot ---- */

typedef struct {
    fixture_t fx;
    const svc_rt_t *svc;
} shed_fixture_t;

static shed_fixture_t load(const char *policy)
{
    char text[2048];
    const char *ld = "load: {source: nginx, url: 'http://127.0.0.1:1/', capacity: 10}";

    snprintf(text, sizeof(text),
             "zone: shed.test\n"
             "soa: {mname: ns1.shed.test, rname: hostmaster.shed.test, serial: 1}\n"
             "ns: [ns1.shed.test]\n"
             "records:\n"
             "  ns1: {A: [192.0.2.53]}\n"
             "shed: {period: 2s}\n"
             "regions:\n"
             "  a: {location: [0, 0], pool: [192.0.2.1], %s}\n"
             "  b: {location: [0, 10], pool: [192.0.2.2], %s}\n"
             "  c: {location: [0, 20], pool: [192.0.2.3], %s}\n"
             "services:\n"
             "  www: {regions: [a, b, c], policy: %s, ttl: 1}\n",
             ld, ld, ld, policy);
    shed_fixture_t f = {.fx = fixture_load(text, 1)};
    snapshot_attach_health(f.fx.s, f.fx.h);
    f.svc = f.fx.s->zones[0].svcs[0];
    cr_assert(f.svc->sheds, "a service with a region with load: is keyed");
    return f;
}

static void report(shed_fixture_t *fx, const char *region, double util, uint64_t now)
{
    cr_assert_eq(healthdb_load(fx->fx.h, -1, "shed.test", region, true, util, util * 10, "", now), 0);
}

/* Which region each of n /24 networks gets, into got[] (positions). */
static void choose(const shed_fixture_t *fx, uint16_t *got, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t addr[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 0};
        select_t sel;
        select_regions_all(fx->svc, fx->svc->listed, false, select_client_key(false, addr, 24),
                           &sel, NULL);
        cr_assert_eq(sel.n, 1);
        cr_assert_not(sel.degraded, "shed or kept, an answer has the service's TTL, not min_ttl");
        got[i] = sel.region[0];
    }
}

#define NETS 10000

Test(shed, shares_move_the_same_networks_to_their_next_region_with_room)
{
    shed_fixture_t fx = load("failover");
    static uint16_t before[NETS], s15[NETS], s30[NETS];
    unsigned moved15 = 0, moved30 = 0, superset = 1;

    choose(&fx, before, NETS);
    for (unsigned i = 0; i < NETS; i++) {
        cr_assert_eq(before[i], 0, "failover: every network gets a first");
    }
    report(&fx, "b", 0.8, 1000); /* above low: no room */
    report(&fx, "c", 0.2, 1000);
    report(&fx, "a", 1.5, 1000);
    choose(&fx, s15, NETS);
    report(&fx, "b", 0.8, 3000);
    report(&fx, "c", 0.2, 3000);
    report(&fx, "a", 1.5, 3000);
    choose(&fx, s30, NETS);
    for (unsigned i = 0; i < NETS; i++) {
        cr_assert(s15[i] == 0 || s15[i] == 2, "shed only to c: b is above low");
        moved15 += s15[i] != 0;
        moved30 += s30[i] != 0;
        superset &= s15[i] == 0 || s30[i] != 0;
    }
    cr_expect(fabs(moved15 / (double)NETS - 0.15) < 0.02, "share 0.15 moves %u of %u", moved15,
              NETS);
    cr_expect(fabs(moved30 / (double)NETS - 0.30) < 0.02, "share 0.30 moves %u of %u", moved30,
              NETS);
    cr_expect(superset, "every network shed at 0.15 is shed at 0.30 too");

    /* No region with room: nobody moves. */
    report(&fx, "c", 0.95, 3500);
    choose(&fx, s15, NETS);
    for (unsigned i = 0; i < NETS; i++) {
        cr_assert_eq(s15[i], 0, "nowhere with room: the client stays");
    }
    fixture_free(&fx.fx);
}

Test(shed, weighted_services_shed_too_and_keep_other_regions_clients)
{
    shed_fixture_t fx = load("weighted");
    static uint16_t before[NETS], after[NETS];
    unsigned a_before = 0, moved = 0, wrong = 0, to_b = 0;

    report(&fx, "b", 0.2, 500);
    report(&fx, "c", 0.2, 500);
    choose(&fx, before, NETS);
    report(&fx, "a", 1.5, 1000);
    choose(&fx, after, NETS);
    for (unsigned i = 0; i < NETS; i++) {
        a_before += before[i] == 0;
        moved += before[i] != after[i];
        wrong += before[i] != 0 && before[i] != after[i]; /* b's and c's clients stay */
        to_b += before[i] == 0 && after[i] == 1;
    }
    cr_expect_eq(wrong, 0, "only a's clients move");
    cr_expect(fabs(moved / (double)a_before - 0.15) < 0.03, "%u of a's %u moved", moved,
              a_before);
    cr_expect(to_b > moved / 3 && to_b < 2 * moved / 3,
              "shed clients spread by weight over b and c: %u of %u to b", to_b, moved);
    fixture_free(&fx.fx);
}

/* ---- the zone keys (zones/zload.c) ---- */

/* Load `body` (after the SOA and NS) and return every diagnostic, one per
 * line, in buf; *rc the loader's result. */
static const char *zone_diags(const char *body, char *buf, size_t size, int *rc, zone_t **out)
{
    char path[] = "/tmp/gslb-zload-XXXXXX.yaml", text[4096];
    int fd = mkstemps(path, 5);
    zone_t *zone = NULL;
    diag_t errs = {0};
    size_t o = 0;

    snprintf(text, sizeof(text),
             "zone: z.test\nsoa: {mname: ns1.z.test, rname: h.z.test, serial: 1}\nns: [ns1.z.test]\n"
             "records:\n  ns1: {A: [192.0.2.53]}\n%s",
             body);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    *rc = zone_load(path, 0, &zone, &errs);
    if (*rc == 0) {
        zone_lint(zone, &errs);
    }
    buf[0] = '\0';
    for (size_t i = 0; i < errs.n; i++) {
        const char *l = strstr(errs.lines[i], ".yaml:");
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s\n", l ? l + 5 : errs.lines[i]);
    }
    unlink(path);
    diag_clear(&errs);
    if (out != NULL && *rc == 0) {
        *out = zone;
    } else if (zone != NULL) {
        zone_free(zone);
    }
    return buf;
}

Test(zload, keys_defaults_and_errors_at_their_place)
{
    char d[4096];
    int rc;
    zone_t *z = NULL;

    zone_diags("regions:\n"
               "  a: {location: [0, 0], pool: [192.0.2.1], load: {source: haproxy, "
               "url: 'http://127.0.0.1:1/stats;csv', backend: web, capacity: 5000}}\n"
               "  b: {location: [0, 1], pool: [192.0.2.2], load: {source: prometheus, url: "
               "'https://m/metrics', metric: 'rq_active{a=\"x\\\"y\",b=\"\"}', capacity: 0.5, "
               "interval: 5s, timeout: 2s}}\n"
               "services:\n  www: {regions: [a, b], ttl: 20}\n",
               d, sizeof(d), &rc, &z);
    cr_assert_eq(rc, 0, "%s", d);
    cr_expect_str_eq(d, "");
    cr_expect(z->regions[0].load.given);
    cr_expect_eq(z->regions[0].load.source, LOAD_HAPROXY);
    cr_expect_str_eq(z->regions[0].load.backend, "web");
    cr_expect_eq(z->regions[0].load.interval_ms, 2000);
    cr_expect_eq(z->regions[0].load.timeout_ms, 1000);
    cr_expect_eq(z->regions[0].load.stale_after_ms, 6000);
    cr_expect_float_eq(z->regions[1].load.capacity, 0.5, 1e-12);
    cr_expect_eq(z->regions[1].load.stale_after_ms, 15000);
    cr_expect_float_eq(z->shed.high, 0.9, 1e-12);
    cr_expect_float_eq(z->shed.low, 0.7, 1e-12);
    cr_expect_float_eq(z->shed.step, 0.15, 1e-12);
    cr_expect_eq(z->shed.period_ms, 40000, "2 x the largest TTL");
    zone_free(z);

    zone_diags("shed: {high: 0.8, low: 0.8, step: 0}\n"
               "regions:\n"
               "  a: {location: [0, 0], pool: [192.0.2.1], load: {source: haproxy, url: 'ftp://x', "
               "capacity: 0, metric: m}}\n"
               "  b: {location: [0, 1], pool: [192.0.2.2], load: {source: prometheus, url: 'http://m', "
               "capacity: 1, metric: 'm{a=b}'}}\n"
               "  c: {location: [0, 2], pool: [192.0.2.3], load: {source: nginx, url: 'http://m', "
               "capacity: 1, interval: 1s}}\n"
               "  d: {location: [0, 3], pool: [192.0.2.4], load: nginx}\n"
               "services:\n  www: {regions: [a, b, c, d]}\n",
               d, sizeof(d), &rc, NULL);
    cr_expect_neq(rc, 0);
    const char *want[] = {
        ":6:35: error: shed: step must be more than 0",
        ":6:24: error: shed: low 0.8 must be less than high 0.8",
        "error: region 'a': source haproxy needs one of load.backend",
        "error: region 'a': load.url 'ftp://x' must start with http:// or https://",
        "error: region 'a': load.capacity must be more than 0",
        "error: region 'a': load.metric is for source prometheus only",
        "error: region 'b': load.metric 'm{a=b}' is not a metric name",
        "error: region 'c': load.interval 1s must be more than load.timeout (by default 1s)",
        "error: region 'd': load must be a mapping",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_expect(strstr(d, want[i]) != NULL, "wanted \"%s\" in:\n%s", want[i], d);
    }
}

static bool metric_ok(const char *text)
{
    zone_metric_t m;
    return zone_metric_parse(text, &m);
}

Test(zload, metric_syntax)
{
    cr_expect(metric_ok("envoy_http_downstream_rq_active"));
    cr_expect(metric_ok("a:b_c{x=\"1\",y=\"two words\"}"));
    cr_expect(metric_ok("m{x=\"a \\\" quote\"}"));
    cr_expect(metric_ok("m{}"));
    cr_expect_not(metric_ok("9m"));
    cr_expect_not(metric_ok("m{x=1}"));
    cr_expect_not(metric_ok("m{x=\"1\""));
    cr_expect_not(metric_ok("m{x=\"1\"} "));
    cr_expect_not(metric_ok("m{x=\"1\",}x"));
    cr_expect_not(metric_ok(""));

    /* the parts, as healthd selects samples by them */
    zone_metric_t m;
    cr_assert(zone_metric_parse("rq{a=\"x\\\"y\",b=\"\"}", &m));
    cr_expect_eq(m.name.n, 2);
    cr_expect_eq(m.n, 2);
    cr_expect(m.label[0].n == 1 && m.label[0].s[0] == 'a');
    cr_expect(m.value[0].n == 4 && memcmp(m.value[0].s, "x\\\"y", 4) == 0, "escapes kept");
    cr_expect(m.label[1].n == 1 && m.value[1].n == 0);
    /* at most ZONE_LOAD_LABELS_MAX labels */
    char many[1024] = "m{";
    for (int i = 0; i <= ZONE_LOAD_LABELS_MAX; i++) {
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sl%d=\"v\"", i ? "," : "",
                 i);
    }
    strcat(many, "}");
    cr_expect_not(metric_ok(many), "%d labels", ZONE_LOAD_LABELS_MAX + 1);
    many[strlen(many) - strlen(",l32=\"v\"}")] = '\0';
    strcat(many, "}");
    cr_expect(metric_ok(many), "%d labels", ZONE_LOAD_LABELS_MAX);
}

Test(zload, lint_one_region_with_load_cannot_shed)
{
    char d[2048];
    int rc;

    zone_diags("regions:\n"
               "  a: {location: [0, 0], pool: [192.0.2.1], load: {source: nginx, url: 'http://x', "
               "capacity: 5}}\n"
               "  b: {location: [0, 1], pool: [192.0.2.2]}\n"
               "services:\n  www: {regions: [a, b]}\n  solo: {regions: [a]}\n",
               d, sizeof(d), &rc, NULL);
    cr_assert_eq(rc, 0, "%s", d);
    cr_expect(strstr(d, "warning: service 'www': only region 'a' has a load:, so it can shed to "
                        "none") != NULL,
              "%s", d);
    cr_expect(strstr(d, "'solo'") == NULL, "a service of one region has nowhere to shed anyway");
}
