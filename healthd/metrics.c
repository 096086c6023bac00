/*
 * metrics: the gslb_healthd_* families; see metrics.h. The names and labels
 * are those contrib/prometheus/alerts.yml and contrib/grafana/gslb.json
 * query: change them together.
 */
#include "healthd/metrics.h"

#include <stdio.h>

static const char *const hmetrics_types[CHECK_TCP + 1] = {
    [CHECK_HTTP] = "http", [CHECK_HTTPS] = "https", [CHECK_TCP] = "tcp"};

static void hmetrics_probes_one(void *arg, const target_t *t, health_state_t state,
                                const pstats_target_t *s)
{
    prom_t *p = arg;
    const char *type = hmetrics_types[t->type];

    (void)state;
    prom_u64(p, "gslb_healthd_probes_total", s->ok, "zone", t->zone, "region", t->region, "member",
             t->member, "check", t->check, "type", type, "result", "ok", "reason", "", NULL);
    for (unsigned i = 0; i < s->n_fail; i++) {
        prom_u64(p, "gslb_healthd_probes_total", s->fail[i].n, "zone", t->zone, "region", t->region,
                 "member", t->member, "check", t->check, "type", type, "result", "fail", "reason",
                 s->fail[i].reason, NULL);
    }
}

static const char *health_word(unsigned st)
{
    return health_state_name((health_state_t)st);
}

static void hmetrics_state_one(void *arg, const target_t *t, health_state_t state,
                               const pstats_target_t *s)
{
    (void)s;
    prom_states(arg, "gslb_healthd_member_state", health_word, HEALTH_DOWN + 1, state, "zone",
                t->zone, "region", t->region, "member", t->member, NULL);
}

static void hmetrics_probes(prom_t *p, const prober_t *pr)
{
    uint64_t late, stalled;

    prom_family(p, "gslb_healthd_probes_total", PROM_COUNTER,
                "Probes that ended, by target, result and reason (the class of the reason "
                "reported, empty when ok).");
    prober_each_stats(pr, hmetrics_probes_one, p);

    prom_family(p, "gslb_healthd_probe_duration_seconds", PROM_HISTOGRAM,
                "How long probes took, from start to result, by check type.");
    for (int type = CHECK_HTTP; type <= CHECK_TCP; type++) {
        const pstats_hist_t *h = prober_durations(pr, (check_type_t)type);
        prom_histogram(p, "gslb_healthd_probe_duration_seconds", pstats_le, h->counts,
                       PSTATS_BUCKETS, h->sum, "type", hmetrics_types[type], NULL);
    }

    prober_uncounted(pr, &late, &stalled);
    prom_family(p, "gslb_healthd_probes_discarded_total", PROM_COUNTER,
                "Probes counted neither as passed nor as failed: late (not started, the loop "
                "ran too late for them) and stalled (timeouts across a stall of healthd's "
                "own loop).");
    prom_u64(p, "gslb_healthd_probes_discarded_total", late, "reason", "late", NULL);
    prom_u64(p, "gslb_healthd_probes_discarded_total", stalled, "reason", "stalled", NULL);
}

static void hmetrics_loop(prom_t *p, const prober_t *pr)
{
    double last, max;

    prober_lag(pr, &last, &max);
    prom_family(p, "gslb_healthd_loop_lag_seconds", PROM_GAUGE,
                "How late the event loop ran a timer, last measured (every 50 ms).");
    prom_double(p, "gslb_healthd_loop_lag_seconds", last, NULL);
    prom_family(p, "gslb_healthd_loop_lag_max_seconds", PROM_GAUGE,
                "The largest loop lag measured in the last 60 seconds.");
    prom_double(p, "gslb_healthd_loop_lag_max_seconds", max, NULL);
}

static void hmetrics_reports(prom_t *p, report_t *const *reports, size_t n)
{
    prom_family(p, "gslb_healthd_gslbd_connected", PROM_GAUGE,
                "1 while the gslbd (label socket: --gslbd as given, a path or HOST:PORT) is "
                "connected and accepted healthd's HELLO.");
    for (size_t i = 0; i < n; i++) {
        prom_u64(p, "gslb_healthd_gslbd_connected", report_connected(reports[i]), "socket",
                 report_path(reports[i]), NULL);
    }
    prom_family(p, "gslb_healthd_reports_sent_total", PROM_COUNTER,
                "Member states sent to the gslbd (a control socket, or HOST:PORT over the "
                "network): changes, and every member of each full state on (re)connection.");
    for (size_t i = 0; i < n; i++) {
        prom_u64(p, "gslb_healthd_reports_sent_total", report_sent(reports[i]), "socket",
                 report_path(reports[i]), NULL);
    }
}

static void hmetrics_util_one(void *arg, const load_region_t *r)
{
    if (r->known) {
        prom_double(arg, "gslb_healthd_load_utilisation", load_utilisation(r), "zone", r->zone,
                    "region", r->region, NULL);
    }
}

static void hmetrics_reads_one(void *arg, const load_region_t *r)
{
    prom_u64(arg, "gslb_healthd_load_reads_total", r->reads_ok, "zone", r->zone, "region",
             r->region, "result", "ok", NULL);
    prom_u64(arg, "gslb_healthd_load_reads_total", r->reads_error, "zone", r->zone, "region",
             r->region, "result", "error", NULL);
}

/* Only the latest successful read has a utilisation: after a failed one
 * the series goes away rather than repeat a figure nobody read. */
static void hmetrics_load(prom_t *p, const loader_t *ld)
{
    prom_family(p, "gslb_healthd_load_utilisation", PROM_GAUGE,
                "Each region's load figure over its capacity, as last read from its balancer; "
                "absent while the latest read failed.");
    loader_each(ld, hmetrics_util_one, p);
    prom_family(p, "gslb_healthd_load_reads_total", PROM_COUNTER,
                "Reads of each region's load figure, by result (error: the page could not be "
                "fetched or held no figure).");
    loader_each(ld, hmetrics_reads_one, p);
}

static void hmetrics_canary_one(void *arg, const target_t *t, health_state_t state,
                                const pstats_target_t *s)
{
    (void)s;
    prom_u64(arg, "gslb_healthd_canary_up", state == HEALTH_UP, "target", t->where, NULL);
}

/* A canary not judged yet is not up: 0, as a down one. The verdict counts
 * only the down ones (canary.h), so read abstaining for the vantage. */
static void hmetrics_vantage(prom_t *p, const vantage_t *vt)
{
    prom_family(p, "gslb_healthd_canary_up", PROM_GAUGE,
                "1 while the vantage's canary (label target: the address probed) is up, 0 "
                "while it is down or not judged yet.");
    vantage_each(vt, hmetrics_canary_one, p);
    prom_family(p, "gslb_healthd_vantage_abstaining", PROM_GAUGE,
                "1 while more than half of the vantage's canaries are down: gslbd counts none "
                "of its votes.");
    prom_u64(p, "gslb_healthd_vantage_abstaining", vantage_verdict(vt)->failed, "vantage",
             vantage_name(vt), NULL);
}

void hmetrics_write(prom_t *p, const prober_t *pr, const loader_t *ld, const vantage_t *vt,
                    report_t *const *reports, size_t n_reports)
{
    hmetrics_probes(p, pr);
    hmetrics_loop(p, pr);
    prom_family(p, "gslb_healthd_member_state", PROM_GAUGE,
                "Each probed member's state as healthd judges it: 1 for the current one.");
    prober_each_stats(pr, hmetrics_state_one, p);
    prom_family(p, "gslb_healthd_targets", PROM_GAUGE,
                "Targets probed: pool members of regions with a check.");
    prom_u64(p, "gslb_healthd_targets", prober_count(pr), NULL);
    hmetrics_reports(p, reports, n_reports);
    if (ld != NULL) {
        hmetrics_load(p, ld);
    }
    if (vt != NULL) {
        hmetrics_vantage(p, vt);
    }
}
