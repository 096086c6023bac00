/*
 * test_prom: common/prom.c writes the Prometheus text format 0.0.4 exactly:
 * HELP and TYPE lines, labels in order and escaped, numbers as the format
 * reads them, histograms cumulative with +Inf, _sum and _count. That the
 * daemons' whole pages pass `promtool check metrics` is tested end to end
 * (tests/e2e/test_http.py, test_healthd_metrics.py, test_contrib.py).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/prom.h"

static char *written(void (*fn)(prom_t *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    prom_t p;

    cr_assert_not_null(f);
    prom_init(&p, f);
    fn(&p);
    fclose(f);
    return buf;
}

static void counters(prom_t *p)
{
    prom_family(p, "gslb_queries_total", PROM_COUNTER, "DNS queries.\nSecond line \\ here.");
    prom_u64(p, "gslb_queries_total", 18446744073709551615ull, "transport", "udp", "qtype",
             "A", NULL);
    prom_u64(p, "gslb_queries_total", 0, NULL);
    prom_family(p, "gslb_delta", PROM_GAUGE, "A gauge.");
    prom_i64(p, "gslb_delta", -5, "zone", "we\"ird\\zo\nne", NULL);
}

Test(prom, family_lines_labels_and_escapes)
{
    char *out = written(counters);
    cr_expect_str_eq(out, "# HELP gslb_queries_total DNS queries.\\nSecond line \\\\ here.\n"
                          "# TYPE gslb_queries_total counter\n"
                          "gslb_queries_total{transport=\"udp\",qtype=\"A\"} "
                          "18446744073709551615\n"
                          "gslb_queries_total 0\n"
                          "# HELP gslb_delta A gauge.\n"
                          "# TYPE gslb_delta gauge\n"
                          "gslb_delta{zone=\"we\\\"ird\\\\zo\\nne\"} -5\n");
    free(out);
}

static void doubles(prom_t *p)
{
    prom_family(p, "x_seconds", PROM_GAUGE, "Doubles.");
    prom_double(p, "x_seconds", 1796208664.06, "k", "a", NULL);
    prom_double(p, "x_seconds", 0.1, "k", "b", NULL);
    prom_double(p, "x_seconds", NAN, "k", "c", NULL);
    prom_double(p, "x_seconds", INFINITY, "k", "d", NULL);
    prom_double(p, "x_seconds", -INFINITY, "k", "e", NULL);
    prom_double(p, "x_seconds", 1.0 / 3.0, "k", "f", NULL);
}

Test(prom, doubles_shortest_that_reads_back)
{
    char *out = written(doubles);
    cr_expect_str_eq(out, "# HELP x_seconds Doubles.\n"
                          "# TYPE x_seconds gauge\n"
                          "x_seconds{k=\"a\"} 1796208664.06\n"
                          "x_seconds{k=\"b\"} 0.1\n"
                          "x_seconds{k=\"c\"} NaN\n"
                          "x_seconds{k=\"d\"} +Inf\n"
                          "x_seconds{k=\"e\"} -Inf\n"
                          "x_seconds{k=\"f\"} 0.3333333333333333\n");
    free(out);
}

static void histogram(prom_t *p)
{
    static const double le[] = {0.005, 0.1, 1};
    static const uint64_t counts[] = {2, 0, 3, 1}; /* the last above every bound */

    prom_family(p, "probe_seconds", PROM_HISTOGRAM, "Durations.");
    prom_histogram(p, "probe_seconds", le, counts, 3, 7.25, "type", "http", NULL);
}

Test(prom, histogram_cumulative_with_inf_sum_and_count)
{
    char *out = written(histogram);
    cr_expect_str_eq(out, "# HELP probe_seconds Durations.\n"
                          "# TYPE probe_seconds histogram\n"
                          "probe_seconds_bucket{type=\"http\",le=\"0.005\"} 2\n"
                          "probe_seconds_bucket{type=\"http\",le=\"0.1\"} 2\n"
                          "probe_seconds_bucket{type=\"http\",le=\"1\"} 5\n"
                          "probe_seconds_bucket{type=\"http\",le=\"+Inf\"} 6\n"
                          "probe_seconds_sum{type=\"http\"} 7.25\n"
                          "probe_seconds_count{type=\"http\"} 6\n");
    free(out);
}

static const char *colour(unsigned i)
{
    static const char *const words[] = {"red", "green", "blue"};
    return words[i];
}

static void state_set(prom_t *p)
{
    prom_family(p, "x_state", PROM_GAUGE, "A state set.");
    prom_states(p, "x_state", colour, 3, 1, "zone", "z", NULL);
    prom_states(p, "x_state", colour, 3, 2, NULL);
}

Test(prom, state_set_one_sample_per_state_one_of_them_1)
{
    char *out = written(state_set);
    cr_expect_str_eq(out, "# HELP x_state A state set.\n"
                          "# TYPE x_state gauge\n"
                          "x_state{zone=\"z\",state=\"red\"} 0\n"
                          "x_state{zone=\"z\",state=\"green\"} 1\n"
                          "x_state{zone=\"z\",state=\"blue\"} 0\n"
                          "x_state{state=\"red\"} 0\n"
                          "x_state{state=\"green\"} 0\n"
                          "x_state{state=\"blue\"} 1\n");
    free(out);
}
