/*
 * Unit tests for healthd's pure parts: the rise/fall state machine
 * (hstate), targets and canary targets built from zone YAML, their matching
 * across reloads and the spreading of first probes (target), the MEMBER
 * line of the control protocol, a vantage's canary verdict and its CANARY
 * line (canary), and the body substring scan (scan). Nothing here opens a socket:
 * probing and reporting are covered by tests/e2e/test_healthd.py.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ctl.h"
#include "healthd/canary.h"
#include "healthd/hstate.h"
#include "healthd/scan.h"
#include "healthd/target.h"
#include "zones/load.h"

/* ------------------------------------------------------------ hstate */

typedef struct {
    const char *name;
    unsigned rise, fall;
    const char *results; /* one char per probe: + ok, - failed */
    const char *states;  /* state after each probe: ? unknown, U up, D down */
    const char *changes; /* per probe: 1 = hstate_apply() reported a change */
} hstate_case_t;

static const hstate_case_t hstate_cases[] = {
    {"rise 2 from unknown", 2, 2, "++", "?U", "01"},
    {"fall 2 from unknown", 2, 2, "--", "?D", "01"},
    {"rise 1 fall 1 flaps every probe", 1, 1, "+-+-", "UDUD", "1111"},
    {"a failure resets the success run", 3, 2, "++-+++", "?????U", "000001"},
    {"a success resets the failure run", 2, 3, "++--+---", "?UUUUUUD", "01000001"},
    {"staying up reports nothing", 2, 2, "+++++", "?UUUU", "01000"},
    {"staying down reports nothing", 2, 2, "-----", "?DDDD", "01000"},
    {"down then up needs rise successes", 2, 2, "--+-++", "?DDDDU", "010001"},
    {"rise 0 counts as 1", 0, 0, "+-", "UD", "11"},
    {"alternating never settles with rise/fall 2", 2, 2, "+-+-+-", "??????", "000000"},
};

static char hstate_char(health_state_t s)
{
    return s == HEALTH_UP ? 'U' : s == HEALTH_DOWN ? 'D' : '?';
}

Test(hstate, table)
{
    for (size_t i = 0; i < sizeof(hstate_cases) / sizeof(hstate_cases[0]); i++) {
        const hstate_case_t *c = &hstate_cases[i];
        char states[32] = "", changes[32] = "";
        hstate_t h;

        hstate_init(&h);
        for (size_t k = 0; c->results[k] != '\0'; k++) {
            bool changed = hstate_apply(&h, c->results[k] == '+', c->rise, c->fall);
            states[k] = hstate_char(h.state);
            changes[k] = changed ? '1' : '0';
        }
        cr_expect_str_eq(states, c->states, "%s: states", c->name);
        cr_expect_str_eq(changes, c->changes, "%s: changes", c->name);
    }
}

Test(hstate, counts_runs_for_the_log)
{
    hstate_t h;

    hstate_init(&h);
    cr_assert_eq(h.state, HEALTH_UNKNOWN);
    hstate_apply(&h, false, 2, 3);
    hstate_apply(&h, false, 2, 3);
    cr_assert_eq(h.fail_run, 2);
    cr_assert_eq(h.ok_run, 0);
    cr_assert(hstate_apply(&h, false, 2, 3));
    cr_assert_eq(h.fail_run, 3);
    cr_assert_eq(h.state, HEALTH_DOWN);
    hstate_apply(&h, true, 2, 3);
    cr_assert_eq(h.fail_run, 0);
    cr_assert_eq(h.ok_run, 1);
}

Test(hstate, names)
{
    cr_assert_str_eq(health_state_name(HEALTH_UP), "up");
    cr_assert_str_eq(health_state_name(HEALTH_DOWN), "down");
    cr_assert_str_eq(health_state_name(HEALTH_UNKNOWN), "unknown");
}

/* ------------------------------------------------------------ spreading */

Test(target, offset_spreads_evenly)
{
    unsigned prev = 0;

    /* 10 targets over 1000 ms: one every 100 ms. */
    for (size_t i = 0; i < 10; i++) {
        cr_assert_eq(target_offset(i, 10, 1000), i * 100);
    }
    /* 10,000 targets over 1000 ms: never more than 10 in one millisecond,
     * nondecreasing, all inside the interval. */
    unsigned per_ms[1000] = {0};
    for (size_t i = 0; i < 10000; i++) {
        unsigned o = target_offset(i, 10000, 1000);
        cr_assert_lt(o, 1000);
        cr_assert_geq(o, prev);
        prev = o;
        per_ms[o]++;
    }
    for (size_t ms = 0; ms < 1000; ms++) {
        cr_assert_eq(per_ms[ms], 10, "ms %zu has %u starts", ms, per_ms[ms]);
    }
    /* No overflow with an hour and many targets. */
    cr_assert_eq(target_offset(99999, 100000, 3600000), 3599964);
    cr_assert_eq(target_offset(0, 0, 1000), 0);
    cr_assert_eq(target_offset(5, 3, 1000), 0);
}

Test(target, next_due_keeps_the_phase)
{
    /* On time: one interval later. */
    cr_assert_eq(target_next_due(1300, 1300, 1000), 2300);
    cr_assert_eq(target_next_due(1300, 1302, 1000), 2300);
    /* Late by less than an interval: still the next slot of the same phase. */
    cr_assert_eq(target_next_due(1300, 2299, 1000), 2300);
    /* Exactly on the next slot or beyond: missed slots are skipped, the
     * phase (300 mod 1000) stays. */
    cr_assert_eq(target_next_due(1300, 2300, 1000), 3300);
    cr_assert_eq(target_next_due(1300, 5750, 1000), 6300);
    /* Two targets 1 ms apart that both fire late stay 1 ms apart. */
    cr_assert_eq(target_next_due(1301, 5750, 1000) - target_next_due(1300, 5750, 1000), 1);
    cr_assert_eq(target_next_due(10, 10, 0), 11);
}

/* ------------------------------------------------------------ matching */

Test(target, match_by_key)
{
    const char *old[] = {"a", "b", "c", "d"};
    const char *nw[] = {"d", "x", "b", "a", "y"};
    long map[5];

    target_match(old, 4, nw, 5, map);
    cr_assert_eq(map[0], 3);
    cr_assert_eq(map[1], -1);
    cr_assert_eq(map[2], 1);
    cr_assert_eq(map[3], 0);
    cr_assert_eq(map[4], -1);
}

Test(target, match_empty_sets)
{
    const char *nw[] = {"a", "b"};
    long map[2] = {7, 7};

    target_match(NULL, 0, nw, 2, map);
    cr_assert_eq(map[0], -1);
    cr_assert_eq(map[1], -1);
    target_match(nw, 2, NULL, 0, map); /* nothing to write */
}

Test(target, match_duplicates_pair_once)
{
    const char *old[] = {"k", "k"};
    const char *nw[] = {"k", "k", "k"};
    long map[3];
    int matched = 0;

    target_match(old, 2, nw, 3, map);
    for (int i = 0; i < 3; i++) {
        matched += map[i] >= 0;
    }
    cr_assert_eq(matched, 2);
    cr_assert_neq(map[0] >= 0 && map[1] >= 0 ? map[0] : -2, map[1]);
}

/* ------------------------------------------------------------ from zones */

#define ZONE_HEAD                                                                                  \
    "zone: GSLB.Example.com.\n"                                                                    \
    "soa: {mname: ns1.example.net, rname: hostmaster.example.net}\n"                               \
    "ns: [ns1.example.net]\n"

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/gslb-test-healthd-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(target, .init = make_tmpdir, .fini = remove_tmpdir);

/* Load `yaml` (after ZONE_HEAD) and build its targets. */
static void build(const char *yaml, target_t **t, size_t *n)
{
    char path[128];
    diag_t errs = {0};
    zone_t **zones;
    size_t nz;
    FILE *f;

    snprintf(path, sizeof(path), "%s/z.yaml", tmpdir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(ZONE_HEAD, f);
    fputs(yaml, f);
    fclose(f);
    if (zone_load_path(path, NULL, 0, &zones, &nz, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++) {
            cr_log_error("%s", errs.lines[i]);
        }
        cr_assert_fail("zone did not load");
    }
    diag_clear(&errs);
    cr_assert_eq(target_build(zones, nz, t, n), 0);
    zone_set_free(zones, nz);
}

static const char *const POOLS =
    "regions:\n"
    "  eu: {location: [53, -6], pool: [198.51.100.10, \"2001:db8::10\"], check: web}\n"
    "  us: {location: [39, -77], pool: [{address: 192.0.2.10, probe: \"10.0.0.1:8080\"},\n"
    "       {address: 192.0.2.11, probe: \"[2001:db8::99]:81\"}, {address: 192.0.2.12, probe: "
    "10.0.0.2}], check: tls}\n"
    "  ap: {location: [1, 103], pool: [203.0.113.10]}\n"
    "  sa: {location: [-23, -46], pool: [203.0.113.20], check: port}\n"
    "checks:\n"
    "  web: {type: http, path: /health, host: www.example.com, expect: [200, 301], body: ok}\n"
    "  tls: {type: https, port: 8443, host: www.example.com, sni: api.example.com, tls_verify: "
    "false}\n"
    "  port: {type: tcp, port: 25, interval: 5s, timeout: 2s, rise: 3, fall: 4}\n";

Test(target, build_from_zone)
{
    target_t *t;
    size_t n;

    build(POOLS, &t, &n);
    /* ap has no check: its member is never probed. */
    cr_assert_eq(n, 6);

    cr_assert_str_eq(t[0].zone, "gslb.example.com");
    cr_assert_str_eq(t[0].region, "eu");
    cr_assert_str_eq(t[0].member, "198.51.100.10");
    cr_assert_str_eq(t[0].label, "gslb.example.com eu 198.51.100.10");
    cr_assert_str_eq(t[0].where, "198.51.100.10:80");
    cr_assert_eq(t[0].type, CHECK_HTTP);
    cr_assert_str_eq(t[0].url, "http://198.51.100.10:80/health");
    cr_assert_null(t[0].connect_to);
    cr_assert_str_eq(t[0].host, "www.example.com");
    cr_assert_str_eq(t[0].body, "ok");
    cr_assert_eq(t[0].n_expect, 2);
    cr_assert_eq(t[0].expect[1], 301);
    cr_assert(target_status_ok(&t[0], 301));
    cr_assert_not(target_status_ok(&t[0], 302));
    cr_assert_eq(t[0].interval_ms, 2000);
    cr_assert_eq(t[0].timeout_ms, 1000);
    cr_assert_eq(((struct sockaddr_in *)&t[0].sa)->sin_port, htons(80));

    cr_assert_str_eq(t[1].member, "2001:db8::10");
    cr_assert_str_eq(t[1].where, "[2001:db8::10]:80");
    cr_assert_str_eq(t[1].url, "http://[2001:db8::10]:80/health");
    cr_assert_eq(t[1].sa.ss_family, AF_INET6);

    /* https: the URL carries the SNI name, the connection goes to the probe address. */
    cr_assert_str_eq(t[2].member, "192.0.2.10");
    cr_assert_str_eq(t[2].where, "10.0.0.1:8080");
    cr_assert_str_eq(t[2].url, "https://api.example.com:8080/");
    cr_assert_str_eq(t[2].connect_to, "::10.0.0.1:8080");
    cr_assert_str_eq(t[2].host, "www.example.com");
    cr_assert_not(t[2].tls_verify);
    cr_assert_eq(t[2].n_expect, 1);
    cr_assert_eq(t[2].expect[0], 200);
    cr_assert_str_eq(t[3].connect_to, "::[2001:db8::99]:81");
    /* A probe address without a port uses the check's port. */
    cr_assert_str_eq(t[4].where, "10.0.0.2:8443");

    cr_assert_eq(t[5].type, CHECK_TCP);
    cr_assert_null(t[5].url);
    cr_assert_str_eq(t[5].where, "203.0.113.20:25");
    cr_assert_eq(t[5].interval_ms, 5000);
    cr_assert_eq(t[5].rise, 3);
    cr_assert_eq(t[5].fall, 4);
    target_free_all(t, n);
}

/* Build the targets of `before` and `after` and match them by key: the
 * returned map (caller frees) has one entry per target of `after`. */
static long *match_yaml(const char *before, const char *after, size_t *n_after)
{
    target_t *a, *b;
    size_t na, nb;
    const char **ka, **kb;
    long *map;

    build(before, &a, &na);
    build(after, &b, &nb);
    ka = calloc(na + 1, sizeof(*ka));
    kb = calloc(nb + 1, sizeof(*kb));
    map = calloc(nb + 1, sizeof(*map));
    for (size_t i = 0; i < na; i++) {
        ka[i] = a[i].key;
    }
    for (size_t i = 0; i < nb; i++) {
        kb[i] = b[i].key;
    }
    target_match(ka, na, kb, nb, map);
    free(ka);
    free(kb);
    target_free_all(a, na);
    target_free_all(b, nb);
    *n_after = nb;
    return map;
}

#define REGION(pool, check)                                                                        \
    "regions:\n  eu: {location: [53, -6], pool: " pool ", check: web}\n"                           \
    "checks:\n  web: " check "\n"

Test(target, reload_keeps_unchanged_targets)
{
    size_t n;
    long *map = match_yaml(REGION("[192.0.2.1, 192.0.2.2]", "{type: http}"),
                           REGION("[192.0.2.3, 192.0.2.2, 192.0.2.1]", "{type: http}"), &n);

    cr_assert_eq(n, 3);
    cr_assert_eq(map[0], -1); /* added */
    cr_assert_eq(map[1], 1);
    cr_assert_eq(map[2], 0);
    free(map);
}

Test(target, reload_check_change_makes_new_targets)
{
    static const char *const changed[] = {
        "{type: http, rise: 3}",      "{type: http, fall: 3}",
        "{type: http, interval: 3s}", "{type: http, timeout: 500ms}",
        "{type: http, path: /x}",     "{type: http, host: a.example}",
        "{type: http, body: up}",     "{type: http, expect: [200, 204]}",
        "{type: http, port: 8080}",   "{type: https, port: 80}",
        "{type: tcp, port: 80}",
    };
    size_t n;

    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
        char after[512];
        long *map;

        snprintf(after, sizeof(after), REGION("[192.0.2.1]", "%s"), changed[i]);
        map = match_yaml(REGION("[192.0.2.1]", "{type: http}"), after, &n);
        cr_assert_eq(n, 1);
        cr_expect_eq(map[0], -1, "%s should be a new target", changed[i]);
        free(map);
    }
}

/* The check's name is carried for the metrics' `check` label, but is no
 * part of the key: renaming a check keeps its targets (and their counts). */
Test(target, check_name_carried_and_rename_keeps_target)
{
    target_t *t;
    size_t n;

    build(REGION("[192.0.2.1]", "{type: http}"), &t, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(t[0].check, "web");
    target_free_all(t, n);

    long *map = match_yaml(REGION("[192.0.2.1]", "{type: http}"),
                           "regions:\n  eu: {location: [53, -6], pool: [192.0.2.1], check: w2}\n"
                           "checks:\n  w2: {type: http}\n",
                           &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(map[0], 0);
    free(map);
}

Test(target, reload_probe_address_change_makes_new_target)
{
    size_t n;
    long *map =
        match_yaml(REGION("[{address: 192.0.2.1, probe: \"10.0.0.1:81\"}]", "{type: http}"),
                   REGION("[{address: 192.0.2.1, probe: \"10.0.0.1:82\"}]", "{type: http}"), &n);

    cr_assert_eq(map[0], -1);
    free(map);
}

Test(target, reload_same_member_other_region_is_another_target)
{
    size_t n;
    long *map = match_yaml(REGION("[192.0.2.1]", "{type: http}"),
                           "regions:\n  us: {location: [53, -6], pool: [192.0.2.1], check: web}\n"
                           "checks:\n  web: {type: http}\n",
                           &n);

    cr_assert_eq(map[0], -1);
    free(map);
}

/* ------------------------------------------------------------ canary targets */

/* Write `name` under tmpdir/dir. */
static void write_in(const char *name, const char *text)
{
    char path[160];
    FILE *f;

    snprintf(path, sizeof(path), "%s/dir", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/dir/%s", tmpdir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load tmpdir/dir and build the canaries of `vantage`. */
static void build_canaries(const char *vantage, target_t **t, size_t *n)
{
    char path[160];
    diag_t errs = {0};
    zone_t **zones;
    size_t nz;

    snprintf(path, sizeof(path), "%s/dir", tmpdir);
    if (zone_load_path(path, NULL, 0, &zones, &nz, &errs) < 0) {
        for (size_t i = 0; i < errs.n; i++) {
            cr_log_error("%s", errs.lines[i]);
        }
        cr_assert_fail("zones did not load");
    }
    diag_clear(&errs);
    cr_assert_eq(target_build_canaries(zones, nz, vantage, t, n), 0);
    zone_set_free(zones, nz);
}

/* Two zone files declare vantage ams: its canaries are both lists, an
 * address in both once (with the first file's check), in load order. */
Test(target, canaries_are_the_union_over_zones)
{
    target_t *t;
    size_t n;

    write_in("a.yaml", "zone: a.test\n"
                       "soa: {mname: ns1.example.net, rname: hostmaster.example.net}\n"
                       "ns: [ns1.example.net]\n"
                       "checks:\n"
                       "  web: {type: http, path: /health, interval: 3s, rise: 3}\n"
                       "vantages:\n"
                       "  ams: {canary: ['192.0.2.9:80', '[2001:db8::9]:443'], check: web}\n"
                       "  nyc: {canary: ['198.51.100.1:53']}\n");
    write_in("b.yaml", "zone: b.test\n"
                       "soa: {mname: ns1.example.net, rname: hostmaster.example.net}\n"
                       "ns: [ns1.example.net]\n"
                       "vantages:\n"
                       "  ams: {canary: ['192.0.2.9:80', '203.0.113.5:22']}\n");
    build_canaries("ams", &t, &n);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(t[0].where, "192.0.2.9:80");
    cr_expect_eq(t[0].type, CHECK_HTTP, "a.yaml lists it first, with its check");
    cr_expect_str_eq(t[0].url, "http://192.0.2.9:80/health");
    cr_expect_eq(t[0].interval_ms, 3000);
    cr_expect_eq(t[0].rise, 3);
    cr_expect_str_eq(t[0].label, "vantage ams canary 192.0.2.9:80");
    cr_expect_str_eq(t[0].member, "192.0.2.9:80");
    cr_expect_str_eq(t[0].check, "web");
    cr_expect_null(t[0].zone);
    cr_expect_null(t[0].region);
    cr_expect_str_eq(t[1].where, "[2001:db8::9]:443");
    cr_expect_eq(t[1].sa.ss_family, AF_INET6);
    cr_expect_str_eq(t[2].where, "203.0.113.5:22");
    cr_expect_eq(t[2].type, CHECK_TCP, "without a check: a TCP connect");
    cr_expect_null(t[2].url);
    cr_expect_null(t[2].check);
    cr_expect_eq(t[2].interval_ms, 1000);
    cr_expect_eq(t[2].timeout_ms, 500);
    cr_expect_eq(t[2].rise, 2);
    cr_expect_eq(t[2].fall, 2);
    cr_expect_eq(((struct sockaddr_in *)&t[2].sa)->sin_port, htons(22));
    for (size_t i = 0; i < n; i++) {
        cr_expect_not_null(t[i].key);
        for (size_t j = 0; j < i; j++) {
            cr_expect_str_neq(t[i].key, t[j].key);
        }
    }
    target_free_all(t, n);

    build_canaries("nyc", &t, &n);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(t[0].label, "vantage nyc canary 198.51.100.1:53");
    target_free_all(t, n);
    build_canaries("lon", &t, &n);
    cr_expect_eq(n, 0, "a vantage no zone declares has no canaries");
    target_free_all(t, n);
    build_canaries(NULL, &t, &n);
    cr_expect_eq(n, 0, "healthd without --vantage probes none");
    target_free_all(t, n);
}

/* ------------------------------------------------------------ canary verdicts */

static void count_line(void *arg, char *line);

typedef struct {
    const char *name;
    const char *states; /* one char per canary: U up, D down, ? unknown */
    bool failed;
    const char *reason;
} canary_case_t;

static const char *const canary_where[] = {"192.0.2.1:80", "[2001:db8::2]:443", "192.0.2.3:53",
                                           "192.0.2.4:22"};
static const char *const canary_why[] = {"refused", "timeout", NULL, "DNS/connect error: x"};

static const canary_case_t canary_cases[] = {
    {"no canaries", "", false, "no canaries"},
    {"all up", "UUU", false, ""},
    {"one of three down", "UDU", false, "1 of 3 down: [2001:db8::2]:443: timeout"},
    {"two of three down", "DDU", true, "2 of 3 down: 192.0.2.1:80: refused, [2001:db8::2]:443: "
                                       "timeout"},
    {"half is not more than half", "DU", false, "1 of 2 down: 192.0.2.1:80: refused"},
    {"both of two down", "DD", true, "2 of 2 down: 192.0.2.1:80: refused, [2001:db8::2]:443: "
                                     "timeout"},
    {"not judged yet is not down", "D??", false, "1 of 3 down: 192.0.2.1:80: refused"},
    {"nothing judged yet", "????", false, ""},
    {"one alone", "D", true, "1 of 1 down: 192.0.2.1:80: refused"},
    {"a down canary without a reason", "UUD", false, "1 of 3 down: 192.0.2.3:53"},
    {"three of four", "DUDD", true, "3 of 4 down: 192.0.2.1:80: refused, 192.0.2.3:53, "
                                    "192.0.2.4:22: DNS/connect error: x"},
};

Test(canary, more_than_half_down_fails)
{
    for (size_t i = 0; i < sizeof(canary_cases) / sizeof(canary_cases[0]); i++) {
        const canary_case_t *c = &canary_cases[i];
        canary_probe_t p[4];
        canary_verdict_t v;
        size_t n = strlen(c->states);

        for (size_t k = 0; k < n; k++) {
            p[k] = (canary_probe_t){canary_where[k],
                                    c->states[k] == 'U'   ? HEALTH_UP
                                    : c->states[k] == 'D' ? HEALTH_DOWN
                                                          : HEALTH_UNKNOWN,
                                    canary_why[k]};
        }
        canary_judge(n ? p : NULL, n, &v);
        cr_expect_eq(v.failed, c->failed, "%s", c->name);
        cr_expect_eq(v.n, n, "%s", c->name);
        cr_expect_str_eq(v.reason, c->reason, "%s", c->name);
    }
}

Test(canary, lines_and_sameness)
{
    canary_probe_t p[2] = {{"192.0.2.1:80", HEALTH_DOWN, "refused"},
                           {"192.0.2.2:80", HEALTH_DOWN, "timeout"}};
    canary_verdict_t a, b;
    char line[CTL_LINE_MAX + 2];

    canary_judge(p, 2, &a);
    cr_assert_gt(canary_line(&a, line, sizeof(line)), 0);
    cr_expect_str_eq(line, "CANARY failed reason=2 of 2 down: 192.0.2.1:80: refused, "
                           "192.0.2.2:80: timeout\n");
    p[1].reason = "refused";
    canary_judge(p, 2, &b);
    cr_expect_not(canary_same(&a, &b), "another reason is news for gslbd");
    p[1].state = HEALTH_UP;
    canary_judge(p, 2, &b);
    cr_expect_not(b.failed);
    cr_assert_gt(canary_line(&b, line, sizeof(line)), 0);
    cr_expect_str_eq(line, "CANARY ok reason=1 of 2 down: 192.0.2.1:80: refused\n");
    p[0].state = HEALTH_UP;
    canary_judge(p, 2, &b);
    cr_assert_gt(canary_line(&b, line, sizeof(line)), 0);
    cr_expect_str_eq(line, "CANARY ok\n");
    canary_judge(p, 2, &a);
    cr_expect(canary_same(&a, &b));
}

/* Sixteen canaries failing with long reasons: the reason is cut, keeps its
 * count first, and the line still fits gslbd's reader. */
Test(canary, long_reasons_are_cut)
{
    char where[16][48], why[600], line[CTL_LINE_MAX + 2];
    canary_probe_t p[16];
    canary_verdict_t v;
    ctl_lines_t lb = {0};
    int n, lines = 0;

    memset(why, 'x', sizeof(why) - 1);
    why[sizeof(why) - 1] = '\0';
    for (int i = 0; i < 16; i++) {
        snprintf(where[i], sizeof(where[i]), "[2001:db8:ffff:ffff:ffff:ffff:ffff:%x]:65535", i);
        p[i] = (canary_probe_t){where[i], HEALTH_DOWN, why};
    }
    canary_judge(p, 16, &v);
    cr_expect(v.failed);
    cr_expect_eq(strlen(v.reason), CANARY_REASON_MAX - 1);
    cr_expect_eq(strncmp(v.reason, "16 of 16 down: [2001:db8:ffff", 29), 0, "%s", v.reason);
    n = canary_line(&v, line, sizeof(line));
    cr_assert_gt(n, 0);
    cr_assert_leq(n, CTL_LINE_MAX + 1);
    cr_assert_eq(ctl_feed(&lb, line, (size_t)n, count_line, &lines), 0);
    cr_assert_eq(lines, 1);
}

/* ------------------------------------------------------------ MEMBER lines */

static target_t line_target(void)
{
    target_t t = {0};

    t.zone = "gslb.example.com";
    t.region = "eu-west";
    t.member = "2001:db8::10";
    return t;
}

Test(target, member_line)
{
    target_t t = line_target();
    char line[CTL_LINE_MAX + 2];
    int n;

    n = target_member_line(&t, HEALTH_DOWN, "status 503", line, sizeof(line));
    cr_assert_str_eq(line, "MEMBER gslb.example.com eu-west 2001:db8::10 down reason=status 503\n");
    cr_assert_eq(n, (int)strlen(line));
    n = target_member_line(&t, HEALTH_UP, "", line, sizeof(line));
    cr_assert_str_eq(line, "MEMBER gslb.example.com eu-west 2001:db8::10 up\n");
    n = target_member_line(&t, HEALTH_DOWN, "TLS error: bad\r\ncert\x7f", line, sizeof(line));
    /* Control characters become spaces; trailing ones go, as a parser drops them. */
    cr_assert_str_eq(line,
                     "MEMBER gslb.example.com eu-west 2001:db8::10 down reason=TLS error: bad  cert\n");
    cr_assert_eq(target_member_line(&t, HEALTH_UNKNOWN, "x", line, sizeof(line)), -EINVAL);
    cr_assert_eq(target_member_line(&t, HEALTH_UP, "x", line, 20), -ENOSPC);
}

static void count_line(void *arg, char *line)
{
    (void)line;
    (*(int *)arg)++;
}

Test(target, member_line_fits_the_protocol)
{
    target_t t = line_target();
    char line[4096], reason[3000];
    ctl_lines_t lb = {0};
    int n, lines = 0;

    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    n = target_member_line(&t, HEALTH_DOWN, reason, line, sizeof(line));
    cr_assert_gt(n, 100);
    cr_assert_leq(n, CTL_LINE_MAX + 1);
    cr_assert_eq(line[n - 1], '\n');
    /* gslbd's line reader takes it whole, as one line. */
    cr_assert_eq(ctl_feed(&lb, line, (size_t)n, count_line, &lines), 0);
    cr_assert_eq(lines, 1);
}

/* ------------------------------------------------------------ scan */

/* Feed `body` to a scan for `needle` in pieces of `step` bytes. */
static bool scan_in_pieces(const char *needle, const char *body, size_t step)
{
    scan_t s;
    size_t len = strlen(body);
    bool found = false;

    scan_init(&s, needle);
    for (size_t i = 0; i < len; i += step) {
        size_t k = len - i < step ? len - i : step;
        found = scan_feed(&s, body + i, k);
    }
    found = found || s.found;
    scan_free(&s);
    return found;
}

Test(scan, every_split)
{
    const char *body = "HTTP body: status=green; version 1.2.3; checks passed";

    for (size_t step = 1; step <= strlen(body); step++) {
        cr_assert(scan_in_pieces("status=green", body, step), "step %zu", step);
        cr_assert(scan_in_pieces("passed", body, step), "step %zu", step);
        cr_assert(scan_in_pieces("H", body, step), "step %zu", step);
        cr_assert_not(scan_in_pieces("status=red", body, step), "step %zu", step);
        cr_assert_not(scan_in_pieces("passed!", body, step), "step %zu", step);
    }
}

Test(scan, reset_and_empty)
{
    scan_t s;

    scan_init(&s, "abc");
    cr_assert_not(scan_feed(&s, "xxab", 4));
    scan_reset(&s);
    cr_assert_not(scan_feed(&s, "c", 1)); /* "ab" was forgotten */
    cr_assert(scan_feed(&s, "zabcz", 5));
    cr_assert(scan_feed(&s, "anything", 8)); /* stays found */
    scan_free(&s);
    scan_init(&s, "");
    cr_assert(s.found);
    scan_free(&s);
    scan_free(NULL);
}

Test(scan, repeated_prefix)
{
    cr_assert(scan_in_pieces("aab", "aaaaaaab", 1));
    cr_assert(scan_in_pieces("aab", "aaaaaaab", 2));
    cr_assert(scan_in_pieces("abab", "abaabab", 3));
    cr_assert_not(scan_in_pieces("abab", "abaaba", 1));
}
