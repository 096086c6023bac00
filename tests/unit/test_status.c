/*
 * Unit tests for what gslbctl status says (gslbd/engine/status.c, stats.c,
 * select_region_report in select.c, common/json.c): the JSON writer's exact
 * output (escapes, bytes that are not UTF-8, cut strings), the states of a
 * region and why, with members unknown, up, down, forced and drained, the
 * answer counts of the engine itself summed over a sliding minute and
 * across a reload, and the status lines people read.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "gslbd/engine/engine.h"
#include "gslbd/engine/select.h"
#include "gslbd/engine/stats.h"
#include "gslbd/engine/status.h"
#include "tests/unit/fixture.h"
#include "zones/load.h"

/* ---- the JSON writer ---- */

/* What `fn` writes, as a string the caller frees. */
static char *json_text(void (*fn)(json_t *j))
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    json_t j;

    cr_assert_not_null(f);
    json_init(&j, f);
    fn(&j);
    fclose(f);
    return out;
}

static void small_doc(json_t *j)
{
    json_object_begin(j, NULL);
    json_string(j, "s", "a\"b\\c\n\x01");
    json_uint(j, "n", 42);
    json_number(j, "x", 0.25, 2);
    json_number(j, "nan", 0.0 / 0.0, 2);
    json_null(j, "z");
    json_array_begin(j, "empty");
    json_array_end(j);
    json_array_begin(j, "a");
    json_bool(j, NULL, true);
    json_string(j, NULL, NULL);
    json_array_end(j);
    json_object_end(j);
    json_finish(j);
}

Test(json, exact_layout_and_escapes_rfc8259_7)
{
    char *out = json_text(small_doc);

    cr_expect_str_eq(out, "{\n"
                          "  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n"
                          "  \"n\": 42,\n"
                          "  \"x\": 0.25,\n"
                          "  \"nan\": null,\n"
                          "  \"z\": null,\n"
                          "  \"empty\": [],\n"
                          "  \"a\": [\n"
                          "    true,\n"
                          "    null\n"
                          "  ]\n"
                          "}\n");
    free(out);
}

static void odd_bytes(json_t *j)
{
    /* é in UTF-8, then a lone continuation byte, an overlong '/', a surrogate. */
    json_string(j, NULL, "\xc3\xa9\x80\xc0\xaf\xed\xa0\x80");
}

Test(json, bytes_that_are_not_utf8_become_replacement_characters_rfc3629_4)
{
    char *out = json_text(odd_bytes);

    cr_expect_str_eq(out, "\"\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                          "\xef\xbf\xbd\"");
    free(out);
}

static void long_string(json_t *j)
{
    char s[5000];

    memset(s, 'x', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    json_string(j, NULL, s);
}

Test(json, long_strings_are_cut_and_say_so)
{
    char *out = json_text(long_string);
    size_t len = strlen(out);

    cr_expect_eq(len, JSON_STR_MAX + 2, "a string is at most JSON_STR_MAX bytes between quotes");
    cr_expect(len > 5 && strcmp(out + len - 4, "...\"") == 0, "%s", out + len - 10);
    free(out);
}

/* ---- a zone with health ---- */

static const char *zone_yaml =
    "zone: st.test\n"
    "soa: {mname: ns.st.test, rname: h.st.test}\n"
    "ns: [ns.st.test]\n"
    "records: {ns: {A: 192.0.2.1}}\n"
    "regions:\n"
    "  a: {location: [0, 0], pool: [192.0.2.10, 192.0.2.11], check: c}\n"
    "  b: {location: [0, 90], pool: [192.0.2.20], check: c}\n"
    "  lab: {location: [0, 45], pool: [192.0.2.30]}\n"
    "  spare: {location: [0, 10], weight: 0, pool: [192.0.2.40], check: c}\n"
    "checks: {c: {type: tcp, port: 80}}\n"
    "services: {www: {regions: [a, b]}}\n";

static const region_rt_t *region(const snapshot_t *s, const char *name)
{
    for (size_t i = 0; i < s->zones[0].n_regions; i++) {
        if (strcmp(s->zones[0].regions[i]->name, name) == 0) {
            return s->zones[0].regions[i];
        }
    }
    cr_assert_fail("no region %s", name);
    return NULL;
}

static select_state_t state_of(const fixture_t *fx, const char *name)
{
    select_report_t rep;

    select_region_report(region(fx->s, name), &rep);
    return rep.state;
}

static void report(fixture_t *fx, const char *reg, const char *member, health_state_t st)
{
    int src = healthdb_source(fx->h, "healthd");
    cr_assert_eq(healthdb_report(fx->h, src, "st.test", reg, member, st, "why", 1000), 0);
}

Test(status, region_states_by_the_rules_the_choice_applies)
{
    fixture_t fx = fixture_load(zone_yaml, 0);
    select_report_t rep;

    /* Nothing reported: counted up (answered), but not known up. */
    cr_expect_eq(state_of(&fx, "a"), SELECT_STATE_UNKNOWN);
    select_region_report(region(fx.s, "a"), &rep);
    cr_expect_eq(rep.n[SELECT_MEMBER_UNKNOWN], 2);
    cr_expect_eq(rep.counted_up, 2);
    cr_expect(rep.health_up);
    cr_expect_eq(state_of(&fx, "lab"), SELECT_STATE_UP, "no check: up by design");
    cr_expect_eq(state_of(&fx, "spare"), SELECT_STATE_DRAINED, "weight 0 in the zone file");

    report(&fx, "a", "192.0.2.10", HEALTH_UP);
    cr_expect_eq(state_of(&fx, "a"), SELECT_STATE_UP, "one of two known up, min_up 1");
    report(&fx, "a", "192.0.2.10", HEALTH_DOWN);
    report(&fx, "a", "192.0.2.11", HEALTH_DOWN);
    cr_expect_eq(state_of(&fx, "a"), SELECT_STATE_DOWN);
    cr_expect(!select_region_up(region(fx.s, "a")), "the same rule as the choice");

    cr_assert_gt(healthdb_override(fx.h, NULL, "a", NULL, HEALTH_OV_UP, NULL), 0);
    cr_expect_eq(state_of(&fx, "a"), SELECT_STATE_FORCED_UP);
    cr_assert_gt(healthdb_override(fx.h, NULL, "b", NULL, HEALTH_OV_DRAIN, NULL), 0);
    select_region_report(region(fx.s, "b"), &rep);
    cr_expect_eq(rep.state, SELECT_STATE_DRAINED);
    cr_expect_eq(rep.weight, 0, "drained: selection uses weight 0");
    cr_assert_gt(healthdb_override(fx.h, NULL, "b", "192.0.2.20", HEALTH_OV_DOWN, NULL), 0);
    select_region_report(region(fx.s, "b"), &rep);
    cr_expect_eq(rep.n[SELECT_MEMBER_FORCED_DOWN], 1);
    cr_expect(!rep.health_up);
    fixture_free(&fx);
}

/* The text report, with the answer stats. */
static char *status_text(const fixture_t *fx, const status_t *st, stats_t *stats, uint64_t now)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    status_env_t env = {.snap = fx->s,
                        .health = fx->h,
                        .stats = stats,
                        .now_ms = now,
                        .wall_ms = 1714000000000ull};

    cr_assert_not_null(f);
    status_write_text(st, &env, f);
    fclose(f);
    return out;
}

Test(status, text_says_unknown_and_drained_as_they_are)
{
    fixture_t fx = fixture_load(zone_yaml, 0);
    status_t *st = status_new();

    cr_assert_gt(healthdb_override(fx.h, NULL, "b", NULL, HEALTH_OV_DRAIN, NULL), 0);
    report(&fx, "b", "192.0.2.20", HEALTH_UP);
    char *out = status_text(&fx, st, NULL, 2000);
    cr_expect(strstr(out, "region st.test a unknown: 0 of 2 members up (2 unknown), min_up 1: "
                          "answered because unknown members count as up") != NULL,
              "%s", out);
    cr_expect(strstr(out, "  member 192.0.2.10               unknown     never reported by a "
                          "healthd (counts as up)\n") != NULL,
              "%s", out);
    cr_expect(strstr(out, "region st.test b DRAINED: drained by an operator: no new traffic; "
                          "health up: 1 of 1 members up, min_up 1; weight 100 (answered as 0)\n") !=
                  NULL,
              "%s", out);
    cr_expect(strstr(out, "  member 192.0.2.20               up          for 1.0 s (why), "
                          "healthd heard 1.0 s ago\n") != NULL,
              "%s", out);
    cr_expect(strstr(out, "region st.test lab up: no health check, so its members count as "
                          "up; weight 100\n") != NULL,
              "%s", out);
    cr_expect(strstr(out, "region st.test spare DRAINED: weight 0 in the zone file") != NULL, "%s",
              out);
    free(out);
    status_free(st);
    fixture_free(&fx);
}

/* Ask www.st.test A from `src` through the engine, on count set `set`. */
static void ask(const snapshot_t *s, unsigned set, const char *src_ip)
{
    uint8_t q[64] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, out[512];
    static const uint8_t name[] = {3, 'w', 'w', 'w', 2, 's', 't', 4, 't', 'e', 's', 't', 0};
    struct sockaddr_storage from = {.ss_family = AF_INET};
    struct sockaddr_in *sin = (struct sockaddr_in *)&from;
    static qstats_flow_t counts;
    answer_ctx_t ctx = {.count_set = set, .qflow = &counts};
    size_t len = 12;

    memcpy(q + len, name, sizeof(name));
    len += sizeof(name);
    memcpy(q + len, "\0\1\0\1", 4);
    len += 4;
    inet_pton(AF_INET, src_ip, &sin->sin_addr);
    cr_assert_gt(engine_reply(&ctx, s, (const struct sockaddr *)&from, q, len, out, false), 0);
}

static void svc_counts(stats_t *st, const snapshot_t *s, uint64_t now, stats_svc_t *sum,
                       uint64_t *regions)
{
    stats_service(st, s, s->zones[0].svcs[0], now, sum, regions);
}

Test(status, shares_of_the_last_minute_summed_over_threads_and_reloads)
{
    fixture_t fx = fixture_load(zone_yaml, 2);
    stats_t *st = stats_new(0);
    stats_svc_t sum;
    uint64_t regions[3];

    stats_track(st, fx.s);
    /* Without a database every client gets the listed order: region a. */
    for (int i = 0; i < 6; i++) {
        ask(fx.s, 1 + i % 2, "192.0.2.99"); /* two worker threads */
    }
    ask(fx.s, 0, "192.0.2.99"); /* scratch (explain): not counted */
    svc_counts(st, fx.s, 1000, &sum, regions);
    cr_expect_eq(sum.answers, 6);
    cr_expect_eq(regions[0], 6);
    cr_expect_eq(regions[1], 0);
    cr_expect_eq(sum.window_ms, 1000, "since the start, less than a minute ago");

    /* Region a down: answers move to b. */
    int src = healthdb_source(fx.h, "healthd");
    healthdb_report(fx.h, src, "st.test", "a", "192.0.2.10", HEALTH_DOWN, "x", 1);
    healthdb_report(fx.h, src, "st.test", "a", "192.0.2.11", HEALTH_DOWN, "x", 1);
    for (uint64_t t = 5000; t <= 30000; t += 5000) {
        stats_sample(st, t);
    }
    for (int i = 0; i < 2; i++) {
        ask(fx.s, 1, "192.0.2.99");
    }
    svc_counts(st, fx.s, 31000, &sum, regions);
    cr_expect_eq(sum.answers, 8);
    cr_expect_eq(regions[0], 6);
    cr_expect_eq(regions[1], 2);

    /* A reload: the old snapshot's counts are folded in by name. */
    fixture_t fx2 = {.h = fx.h};
    char path[] = "/tmp/gslb-test-status-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0 && write(fd, zone_yaml, strlen(zone_yaml)) == (ssize_t)strlen(zone_yaml));
    close(fd);
    zone_t *zone;
    diag_t errs = {0};
    cr_assert_eq(zone_load(path, 0, &zone, &errs), 0);
    unlink(path);
    cr_assert_eq(snapshot_build(&zone, 1, &(snapshot_env_t){.health = fx.h, .count_sets = 2},
                                &fx2.s, &errs),
                 0);
    zone_free(zone);
    stats_track(st, fx2.s);
    stats_untrack(st, fx.s);
    snapshot_free(fx.s);
    ask(fx2.s, 2, "192.0.2.99");
    svc_counts(st, fx2.s, 32000, &sum, regions);
    cr_expect_eq(sum.answers, 9, "the answers before the reload are still in the minute");
    cr_expect_eq(regions[1], 3);

    /* A minute later the first six answers (before the sample at 5 s) are out. */
    for (uint64_t t = 35000; t <= 65000; t += 5000) {
        stats_sample(st, t);
    }
    svc_counts(st, fx2.s, 65000, &sum, regions);
    cr_expect_eq(sum.window_ms, 60000);
    cr_expect_eq(sum.answers, 3, "only the answers of the last minute");
    cr_expect_eq(regions[0], 0);
    cr_expect_eq(regions[1], 3);

    status_t *sts = status_new();
    char *out = status_text(&fx2, sts, st, 65000);
    cr_expect(strstr(out, "service st.test www (nearest): 3 answers in the last 60 s: a 0.0%, "
                          "b 100.0%\n") != NULL,
              "%s", out);
    free(out);
    status_free(sts);
    stats_free(st);
    fixture_free(&fx2);
}

/* ---- the JSON form ---- */

static char *status_json(const fixture_t *fx, const status_t *st)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    status_env_t env = {.snap = fx->s, .health = fx->h, .now_ms = 2000, .wall_ms = 1714000000000ull};

    cr_assert_not_null(f);
    status_write_json(st, &env, f);
    fclose(f);
    return out;
}

Test(status, json_gives_each_region_its_location_for_the_map)
{
    /* West and south are negative; the zone file's [lat, lon] order. */
    static const char *yaml = "zone: st.test\n"
                              "soa: {mname: ns.st.test, rname: h.st.test}\n"
                              "ns: [ns.st.test]\n"
                              "records: {ns: {A: 192.0.2.1}}\n"
                              "regions:\n"
                              "  dublin: {location: [53.35, -6.26], pool: [192.0.2.10]}\n"
                              "  sydney: {location: [-33.8688, 151.2093], pool: [192.0.2.20]}\n"
                              "services: {www: {regions: [dublin, sydney]}}\n";
    fixture_t fx = fixture_load(yaml, 0);
    status_t *st = status_new();
    char *out = status_json(&fx, st);

    cr_expect(strstr(out, "\"name\": \"dublin\",\n"
                          "          \"state\": \"up\",\n") != NULL,
              "%s", out);
    cr_expect(strstr(out, "\"override\": \"auto\",\n"
                          "          \"lat\": 53.3500,\n"
                          "          \"lon\": -6.2600,\n"
                          "          \"weight\": 100,\n") != NULL,
              "%s", out);
    cr_expect(strstr(out, "          \"lat\": -33.8688,\n"
                          "          \"lon\": 151.2093,\n") != NULL,
              "%s", out);
    free(out);
    status_free(st);
    fixture_free(&fx);
}

/* The JSON of fx with `stats` at `now`, every space and newline taken out. */
static char *status_json_compact(const fixture_t *fx, stats_t *stats, uint64_t now)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    status_env_t env = {
        .snap = fx->s, .health = fx->h, .stats = stats, .now_ms = now, .wall_ms = 1714000000000ull};
    status_t *st = status_new();

    cr_assert_not_null(f);
    status_write_json(st, &env, f);
    fclose(f);
    status_free(st);
    char *w = out;
    for (char *r = out; *r; r++) {
        if (*r != ' ' && *r != '\n') {
            *w++ = *r;
        }
    }
    *w = '\0';
    return out;
}

Test(status, json_history_of_answers_per_region_in_steps_of_ten_seconds)
{
    fixture_t fx = fixture_load(zone_yaml, 1);
    stats_t *st = stats_new(0);
    uint64_t t = 0;

    stats_track(st, fx.s);
    char *out = status_json_compact(&fx, st, 1000);
    cr_expect(strstr(out, "\"history\":{\"step_s\":10,\"regions\":{\"a\":[],\"b\":[]},"
                          "\"none\":[]}") != NULL,
              "no step yet: %s", out);
    free(out);

    /* Step 1: three answers from a; step 2: a down, two from b; step 3: none. */
    for (int i = 0; i < 3; i++) {
        ask(fx.s, 1, "192.0.2.99");
    }
    stats_sample(st, t += 5000);
    stats_sample(st, t += 5000);
    report(&fx, "a", "192.0.2.10", HEALTH_DOWN);
    report(&fx, "a", "192.0.2.11", HEALTH_DOWN);
    ask(fx.s, 1, "192.0.2.99");
    stats_sample(st, t += 5000);
    ask(fx.s, 1, "192.0.2.99");
    stats_sample(st, t += 5000);
    stats_sample(st, t += 5000);
    stats_sample(st, t += 5000);
    out = status_json_compact(&fx, st, t + 1000);
    cr_expect(strstr(out, "\"history\":{\"step_s\":10,\"regions\":{\"a\":[3,0,0],\"b\":[0,2,0]},"
                          "\"none\":[0,0,0]}") != NULL,
              "oldest first: %s", out);
    cr_expect(strstr(out, "\"window_s\":31.0,\"answers\":5") != NULL,
              "the minute's figures as before: %s", out);
    free(out);

    /* Ten minutes on: 60 steps, the first ones gone. */
    while (t < 3 * 10000 + 60 * 10000) {
        stats_sample(st, t += 5000);
    }
    uint64_t steps[STATS_HIST_STEPS + 1];
    const svc_rt_t *svc = fx.s->zones[0].svcs[0];
    cr_expect_eq(stats_history(st, svc, 1, steps), STATS_HIST_STEPS);
    for (unsigned i = 0; i < STATS_HIST_STEPS; i++) {
        cr_expect_eq(steps[i], 0, "step %u", i);
    }
    cr_expect_eq(stats_history(st, svc, SVC_COUNT_EXTRA(svc), steps), 0, "no history of extra");
    stats_free(st);
    fixture_free(&fx);
}
