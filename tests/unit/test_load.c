/*
 * Unit tests for healthd/lparse.c: the load figure on nginx stub_status
 * pages, HAProxy stats CSV and Prometheus text exposition, from pages
 * shaped like the ones those servers write, and the malformed ones, with the
 * exact sentence each failure gives. Fetching the pages is covered by
 * tests/e2e/test_healthd_load.py.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "healthd/lparse.h"

typedef int (*page_fn)(const char *page, size_t len, const char *arg, double *figure, char *why,
                       size_t size);

typedef struct {
    const char *name;
    const char *page;
    const char *arg; /* the proxy, "fe:NAME" for a frontend, or the selector */
    double figure;   /* expected on success */
    const char *why; /* expected sentence; NULL: success */
} page_case_t;

static int nginx_fn(const char *page, size_t len, const char *arg, double *figure, char *why,
                    size_t size)
{
    (void)arg;
    return lparse_nginx(page, len, figure, why, size);
}

static int haproxy_fn(const char *page, size_t len, const char *arg, double *figure, char *why,
                      size_t size)
{
    bool fe = strncmp(arg, "fe:", 3) == 0;
    return lparse_haproxy(page, len, fe ? arg + 3 : arg, fe, figure, why, size);
}

static int prom_fn(const char *page, size_t len, const char *arg, double *figure, char *why,
                   size_t size)
{
    return lparse_prometheus(page, len, arg, figure, why, size);
}

static void run_cases(page_fn fn, const page_case_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char why[LPARSE_WHY_MAX] = "";
        double figure = -1;
        int rc = fn(c[i].page, strlen(c[i].page), c[i].arg, &figure, why, sizeof(why));

        if (c[i].why == NULL) {
            cr_expect_eq(rc, 0, "%s: failed: %s", c[i].name, why);
            cr_expect_float_eq(figure, c[i].figure, 1e-9, "%s: %g, not %g", c[i].name, figure,
                               c[i].figure);
        } else {
            cr_expect_eq(rc, -EINVAL, "%s: did not fail", c[i].name);
            cr_expect_str_eq(why, c[i].why, "%s", c[i].name);
            cr_expect_eq(figure, -1, "%s: figure written on failure", c[i].name);
        }
    }
}

#define RUN(fn, cases) run_cases(fn, cases, sizeof(cases) / sizeof(cases[0]))

/* ------------------------------------------------------------ nginx */

static const page_case_t nginx_cases[] = {
    {"a real page (nginx 1.22)",
     "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \n"
     "Reading: 6 Writing: 179 Waiting: 106 \n",
     NULL, 291, NULL},
    {"CRLF line ends, no last newline", "Active connections: 7\r\nserver accepts", NULL, 7, NULL},
    {"zero", "Active connections: 0 \n", NULL, 0, NULL},
    {"tab after the colon", "Active connections:\t12\n", NULL, 12, NULL},
    {"not a stub_status page", "<html><body>Welcome to nginx!</body></html>\n", NULL, 0,
     "no 'Active connections:' line: not an nginx stub_status page"},
    {"empty page", "", NULL, 0, "no 'Active connections:' line: not an nginx stub_status page"},
    {"no number", "Active connections: \n", NULL, 0,
     "stub_status line 1: 'Active connections:' is followed by '', not a count"},
    {"a word", "x\nActive connections: many\n", NULL, 0,
     "stub_status line 2: 'Active connections:' is followed by 'many', not a count"},
    {"negative", "Active connections: -3\n", NULL, 0,
     "stub_status line 1: 'Active connections:' is followed by '-3', not a count"},
    {"control bytes are not quoted", "Active connections: 1\x1b[2J\n", NULL, 0,
     "stub_status line 1: 'Active connections:' is followed by '1?[2J', not a count"},
    {"too long a number", "Active connections: 12345678901234567890\n", NULL, 0,
     "stub_status line 1: 'Active connections:' is followed by '12345678901234567890', not a "
     "count"},
};

Test(lparse, nginx)
{
    RUN(nginx_fn, nginx_cases);
}

/* ------------------------------------------------------------ haproxy */

/* The first columns and rows of `show stat` / the stats page's ;csv from
 * HAProxy 2.6 with a frontend fe, a backend web of two servers and stats. */
#define HAPROXY_CSV                                                                                \
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"     \
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,"   \
    "lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,\n"          \
    "stats,FRONTEND,,,1,2,262120,15,1971,108013,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,1,0,2,,,,\n"     \
    "stats,BACKEND,0,0,0,0,26212,0,1971,108013,0,0,,0,0,0,0,UP,0,0,0,,0,391,,,1,2,0,,0,,1,0,,0,"   \
    ",,,\n"                                                                                        \
    "fe,FRONTEND,,,42,57,262120,9917,801264,2215480,0,0,3,,,,,OPEN,,,,,,,,,1,3,0,,,,0,12,0,40,,,"  \
    ",\n"                                                                                          \
    "web,s1,0,0,17,25,,4960,400632,1107740,,0,,0,0,0,0,UP,1,1,0,0,0,391,0,,1,4,1,,4960,,2,6,,20,"  \
    "L4OK,,0,\n"                                                                                   \
    "web,s2,0,0,21,30,,4957,400632,1107740,,0,,0,0,0,0,UP,1,1,0,0,0,391,0,,1,4,2,,4957,,2,6,,20,"  \
    "L4OK,,0,\n"                                                                                   \
    "web,BACKEND,0,0,38,55,26212,9917,801264,2215480,0,0,,0,0,0,0,UP,2,2,0,,0,391,0,,1,4,0,,9917," \
    ",1,12,,40,,,,\n"

static const page_case_t haproxy_cases[] = {
    {"backend web", HAPROXY_CSV, "web", 38, NULL},
    {"frontend fe", HAPROXY_CSV, "fe:fe", 42, NULL},
    {"the stats frontend", HAPROXY_CSV, "fe:stats", 1, NULL},
    {"no such backend", HAPROXY_CSV, "api", 0, "no row api/BACKEND in the stats CSV"},
    {"a frontend is no backend", HAPROXY_CSV, "fe", 0, "no row fe/BACKEND in the stats CSV"},
    {"columns in another order, quoted fields, CRLF",
     "# svname,\"pxname\",scur,check_desc\r\n"
     "s1,web,3,\"Layer4, check passed\"\r\n"
     "BACKEND,\"web\",9,\"say \"\"hi\"\"\"\r\n",
     "web", 9, NULL},
    {"a quoted name with a comma", "# pxname,svname,scur\n\"a,b\",BACKEND,4\n", "a,b", 4, NULL},
    {"an HTML stats page (no ;csv)", "<html><head><title>Statistics Report</title>\n", "web", 0,
     "not a HAProxy stats CSV (it starts '<html><head><title>Statistics Report</ti...', not "
     "'# pxname,svname,...'; does the URL end in ;csv?)"},
    {"empty page", "", "web", 0,
     "not a HAProxy stats CSV (it starts '', not '# pxname,svname,...'; does the URL end in "
     ";csv?)"},
    {"no scur column", "# pxname,svname,qcur\nweb,BACKEND,0\n", "web", 0,
     "the stats CSV header has no scur column"},
    {"no svname column", "# pxname,scur\nweb,0\n", "web", 0,
     "the stats CSV header has no svname column"},
    {"a short row", "# pxname,svname,qcur,qmax,scur\nweb,BACKEND,0\n", "web", 0,
     "stats CSV line 2 (web/BACKEND) has no scur field"},
    {"an empty scur", "# pxname,svname,scur\nweb,BACKEND,\n", "web", 0,
     "stats CSV line 2 (web/BACKEND): scur '' is not a count"},
    {"a word for scur", "# pxname,svname,scur\nweb,BACKEND,lots\n", "web", 0,
     "stats CSV line 2 (web/BACKEND): scur 'lots' is not a count"},
    {"an unterminated quote", "# pxname,svname,scur\n\"web,BACKEND,3\n", "web", 0,
     "no row web/BACKEND in the stats CSV"},
};

Test(lparse, haproxy)
{
    RUN(haproxy_fn, haproxy_cases);
}

/* ------------------------------------------------------------ prometheus */

/* Part of an Envoy /stats/prometheus page, with the variations the text
 * format allows: HELP and TYPE, other comments, timestamps, escaped label
 * values, blanks between tokens, a sample without labels. */
#define ENVOY_PAGE                                                                                 \
    "# TYPE envoy_http_downstream_rq_active gauge\n"                                               \
    "envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix=\"admin\"} 1\n"                \
    "envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix=\"ingress\"} 412\n"            \
    "envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix=\"ingress_2\"} 88\n"           \
    "# HELP envoy_http_downstream_rq_active_max not the same metric\n"                             \
    "envoy_http_downstream_rq_active_max{envoy_http_conn_manager_prefix=\"ingress\"} 9000\n"       \
    "# TYPE envoy_cluster_upstream_rq_active gauge\n"                                              \
    "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\",zone=\"a \\\"b\\\"\"} 5 "         \
    "1712345678901\n"                                                                              \
    "envoy_cluster_upstream_rq_active { envoy_cluster_name = \"web\" , zone=\"c\\\\d\", } "        \
    "  7.5\n"                                                                                      \
    "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"api\",zone=\"line\\nbreak\"} 2e1\n"     \
    "envoy_server_live 1\n"                                                                        \
    "# a comment { with \"odd\" bits\n"                                                            \
    "\n"

static const page_case_t prom_cases[] = {
    {"every series of a name", ENVOY_PAGE, "envoy_http_downstream_rq_active", 501, NULL},
    {"one label", ENVOY_PAGE,
     "envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix=\"ingress\"}", 412, NULL},
    {"labels with escaped quotes, backslashes, timestamps and blanks", ENVOY_PAGE,
     "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\"}", 12.5, NULL},
    {"an escaped quote in the selector", ENVOY_PAGE,
     "envoy_cluster_upstream_rq_active{zone=\"a \\\"b\\\"\"}", 5, NULL},
    {"an escaped backslash", ENVOY_PAGE, "envoy_cluster_upstream_rq_active{zone=\"c\\\\d\"}", 7.5,
     NULL},
    {"an escaped newline, an exponent", ENVOY_PAGE,
     "envoy_cluster_upstream_rq_active{zone=\"line\\nbreak\"}", 20, NULL},
    {"two labels, both must match", ENVOY_PAGE,
     "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"api\",zone=\"a \\\"b\\\"\"}", 0,
     "no sample of envoy_cluster_upstream_rq_active{envoy_cluster_name=\"api\",zone=\"a "
     "\\\"b\\\"\"} on the metrics page"},
    {"no labels", ENVOY_PAGE, "envoy_server_live", 1, NULL},
    {"empty braces select every series", ENVOY_PAGE, "envoy_http_downstream_rq_active{}", 501,
     NULL},
    {"a prefix of another name is not that name", "rq_active_total 5\nrq_active 3\n", "rq_active",
     3, NULL},
    {"a tab before the value", "rq\t4\n", "rq", 4, NULL},
    {"no such metric", ENVOY_PAGE, "nginx_connections_active", 0,
     "no sample of nginx_connections_active on the metrics page"},
    {"no such label value", ENVOY_PAGE,
     "envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix=\"egress\"}", 0,
     "no sample of envoy_http_downstream_rq_active{envoy_http_conn_manager_prefix=\"egress\"} on "
     "the metrics page"},
    {"NaN", "# TYPE x gauge\nx{a=\"1\"} 3\nx{a=\"2\"} NaN\n", "x", 0,
     "metrics line 3: x is NaN, not a figure"},
    {"+Inf", "x +Inf\n", "x", 0, "metrics line 1: x is +Inf, not a figure"},
    {"a NaN in a series not selected is no matter", "x{a=\"1\"} 3\nx{a=\"2\"} NaN\n", "x{a=\"1\"}",
     3, NULL},
    {"a negative sum", "x -3\n", "x", 0, "x sums to -3, not a load figure"},
    {"no value", "x{a=\"1\"}\n", "x", 0, "metrics line 1: no value in 'x{a=\"1\"}'"},
    {"a bad value", "x 12abc\n", "x", 0, "metrics line 1: bad value in 'x 12abc'"},
    {"hex is not the format", "x 0x10\n", "x", 0, "metrics line 1: bad value in 'x 0x10'"},
    {"a bad timestamp", "x 1 yesterday\n", "x", 0,
     "metrics line 1: bad timestamp in 'x 1 yesterday'"},
    {"an unterminated label value", "x{a=\"1} 3\n", "x", 0,
     "metrics line 1: bad labels in 'x{a=\"1} 3'"},
    {"an unknown escape", "x{a=\"\\t\"} 3\n", "x", 0,
     "metrics line 1: bad labels in 'x{a=\"\\t\"} 3'"},
    {"a label without a value", "x{a} 3\n", "x", 0, "metrics line 1: bad labels in 'x{a} 3'"},
    {"a malformed line of another metric is not looked into", "y{{{ garbage\nx 2\n", "x", 2, NULL},
    {"an HTML page", "<html><body>404 Not Found</body></html>\n", "x", 0,
     "no sample of x on the metrics page"},
    {"a bad selector", "x 1\n", "x{a=1}", 0,
     "load.metric 'x{a=1}' is not a metric name with optional {label=\"value\",...}"},
};

Test(lparse, prometheus)
{
    RUN(prom_fn, prom_cases);
}

/* ------------------------------------------------------------ lparse_page */

Test(lparse, page_follows_the_source)
{
    char why[LPARSE_WHY_MAX];
    double f = 0;
    zone_load_t l = {.given = true, .source = LOAD_HAPROXY, .backend = "web"};
    const char *csv = HAPROXY_CSV;

    cr_assert_eq(lparse_page(&l, csv, strlen(csv), &f, why, sizeof(why)), 0, "%s", why);
    cr_expect_float_eq(f, 38, 1e-9);
    l.backend = NULL;
    l.frontend = "fe";
    cr_assert_eq(lparse_page(&l, csv, strlen(csv), &f, why, sizeof(why)), 0, "%s", why);
    cr_expect_float_eq(f, 42, 1e-9);

    l = (zone_load_t){.given = true, .source = LOAD_NGINX};
    cr_assert_eq(lparse_page(&l, "Active connections: 5\n", 22, &f, why, sizeof(why)), 0);
    cr_expect_float_eq(f, 5, 1e-9);

    l = (zone_load_t){.given = true, .source = LOAD_PROMETHEUS, .metric = "m{x=\"y\"}"};
    cr_assert_eq(lparse_page(&l, "m{x=\"y\"} 2\nm 3\n", 15, &f, why, sizeof(why)), 0, "%s", why);
    cr_expect_float_eq(f, 2, 1e-9);
}

/* The page is a length, not a string: bytes after it are not read, and a
 * NUL inside it ends nothing. */
Test(lparse, page_is_a_length)
{
    char why[LPARSE_WHY_MAX];
    double f = 0;
    const char page[] = "Active connections: 12\n";

    cr_expect_eq(lparse_nginx(page, 21, &f, why, sizeof(why)), 0);
    cr_expect_float_eq(f, 1, 1e-9);
    const char nul[] = "junk\0\nActive connections: 3\n";
    cr_expect_eq(lparse_nginx(nul, sizeof(nul) - 1, &f, why, sizeof(why)), 0);
    cr_expect_float_eq(f, 3, 1e-9);
    /* ... nor ends a value early */
    const char value[] = "x 5\0z\n";
    cr_expect_eq(lparse_prometheus(value, sizeof(value) - 1, "x", &f, why, sizeof(why)), -EINVAL);
    cr_expect_str_eq(why, "metrics line 1: bad value in 'x 5?z'");
}

/* A sentence never outgrows the buffer it is given. */
Test(lparse, why_is_cut_to_size)
{
    char why[16];
    double f = 0;

    cr_expect_eq(lparse_nginx("", 0, &f, why, sizeof(why)), -EINVAL);
    cr_expect_str_eq(why, "no 'Active conn");
}
