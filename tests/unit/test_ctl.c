/*
 * Unit tests for the health contract (common/health.h, common/ctl.h): the
 * member and region rules, and every control-protocol line both ways, with
 * exact bytes where the wire matters, version 1 lines still understood, and
 * attributes a newer sender may add ignored.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/ctl.h"
#include "common/errcode.h"

/* ------------------------------------------------------------ the rules */

Test(health, member_rule)
{
    /* Unknown counts as up: a silent prober never takes traffic away. */
    cr_expect(health_member_up(HEALTH_UNKNOWN, HEALTH_OV_NONE));
    cr_expect(health_member_up(HEALTH_UP, HEALTH_OV_NONE));
    cr_expect(!health_member_up(HEALTH_DOWN, HEALTH_OV_NONE));
    /* A member override wins over the checks, and only UP answers. */
    cr_expect(health_member_up(HEALTH_DOWN, HEALTH_OV_UP));
    cr_expect(!health_member_up(HEALTH_UP, HEALTH_OV_DOWN));
    cr_expect(!health_member_up(HEALTH_UP, HEALTH_OV_DRAIN));
}

Test(health, region_rule)
{
    cr_expect(health_region_up(HEALTH_OV_NONE, 2, 2));
    cr_expect(!health_region_up(HEALTH_OV_NONE, 1, 2));
    cr_expect(health_region_up(HEALTH_OV_UP, 0, 2), "forced up whatever the members");
    cr_expect(!health_region_up(HEALTH_OV_DOWN, 5, 1), "forced down whatever the members");
    /* Draining is about traffic (weight 0), not health. */
    cr_expect(health_region_up(HEALTH_OV_DRAIN, 1, 1));
    cr_expect(!health_region_up(HEALTH_OV_DRAIN, 0, 1));
}

Test(health, names_both_ways)
{
    health_state_t st;
    health_override_t ov;

    for (int i = HEALTH_UNKNOWN; i <= HEALTH_DOWN; i++) {
        cr_assert_eq(health_state_parse(health_state_name((health_state_t)i), &st), 0);
        cr_expect_eq(st, (health_state_t)i);
    }
    for (int i = HEALTH_OV_NONE; i <= HEALTH_OV_UP; i++) {
        cr_assert_eq(health_override_parse(health_override_name((health_override_t)i), &ov), 0);
        cr_expect_eq(ov, (health_override_t)i);
    }
    cr_expect_str_eq(health_override_name(HEALTH_OV_NONE), "auto");
    cr_expect_eq(health_state_parse("UP", &st), -EINVAL, "names are lower case");
    cr_expect_eq(health_override_parse("none", &ov), -EINVAL);
}

/* ------------------------------------------------------------ parsing */

/* Parse a copy of `text`; the message's strings point into `buf`. */
static int parse(const char *text, char *buf, size_t size, ctl_msg_t *m, const char **why)
{
    snprintf(buf, size, "%s", text);
    return ctl_parse(buf, m, why);
}

Test(ctl, parse_member_version_2)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    cr_assert_eq(parse("MEMBER gslb.example.com eu-west 2001:db8::10 down seq=42 vantage=fra1 "
                       "reason=status 503 (Service Unavailable)",
                       buf, sizeof(buf), &m, NULL),
                 0);
    cr_expect_eq(m.verb, CTL_MEMBER);
    cr_expect_str_eq(m.zone, "gslb.example.com");
    cr_expect_str_eq(m.region, "eu-west");
    cr_expect_str_eq(m.member, "2001:db8::10");
    cr_expect_eq(m.state, HEALTH_DOWN);
    cr_expect(m.has_seq);
    cr_expect_eq(m.seq, 42);
    cr_expect_str_eq(m.vantage, "fra1");
    cr_expect_str_eq(m.text, "status 503 (Service Unavailable)",
                     "reason= takes the rest of the line, spaces and '=' included");
}

Test(ctl, parse_member_version_1_reason)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    cr_assert_eq(parse("MEMBER z.test r 192.0.2.1 down TLS error: bad cert\r", buf, sizeof(buf),
                       &m, NULL),
                 0);
    cr_expect_eq(m.state, HEALTH_DOWN);
    cr_expect_str_eq(m.text, "TLS error: bad cert");
    cr_expect(!m.has_seq);
    cr_expect_null(m.vantage);
    cr_assert_eq(parse("MEMBER z.test r 192.0.2.1 up", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_null(m.text);
    cr_expect_eq(m.state, HEALTH_UP);
}

Test(ctl, unknown_attributes_are_ignored)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    /* What a later version might send: a load figure gslbd does not know yet. */
    cr_assert_eq(parse("MEMBER z.test r 192.0.2.1 up load=0.73 reason=status 200", buf,
                       sizeof(buf), &m, NULL),
                 0);
    cr_expect_str_eq(m.text, "status 200");
    cr_assert_eq(parse("SYNCED 2000 seq=7 generation=3", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.interval_ms, 2000);
    cr_expect_eq(m.seq, 7);
}

Test(ctl, fixed_arguments_may_hold_equals_signs)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    /* A zone name is taken by position, so "=" in it is not an attribute. */
    cr_assert_eq(parse("MEMBER a=b.test r 192.0.2.1 up", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_str_eq(m.zone, "a=b.test");
}

Test(ctl, parse_hello_synced_ping_status)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    cr_assert_eq(parse("HELLO healthd 2 vantage=ams", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_HELLO);
    cr_expect_str_eq(m.peer, "healthd");
    cr_expect_eq(m.version, 2);
    cr_expect_str_eq(m.vantage, "ams");
    cr_assert_eq(parse("  SYNCED 1500  ", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_SYNCED);
    cr_expect_eq(m.interval_ms, 1500);
    cr_assert_eq(parse("PING", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_PING);
    cr_assert_eq(parse("STATUS", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_STATUS);
    cr_assert_eq(parse("   ", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_NONE);
}

Test(ctl, parse_set)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    cr_assert_eq(parse("SET drain * eu-west", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_SET);
    cr_expect_eq(m.override, HEALTH_OV_DRAIN);
    cr_expect_str_eq(m.zone, "*");
    cr_expect_str_eq(m.region, "eu-west");
    cr_expect_null(m.member);
    cr_assert_eq(parse("SET auto gslb.example.com eu-west 2001:db8::10", buf, sizeof(buf), &m,
                       NULL),
                 0);
    cr_expect_eq(m.override, HEALTH_OV_NONE);
    cr_expect_str_eq(m.member, "2001:db8::10");
}

Test(ctl, parse_status_reload_explain)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    cr_assert_eq(parse("STATUS json", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_STATUS);
    cr_expect(m.json);
    cr_assert_eq(parse("STATUS text", buf, sizeof(buf), &m, NULL), 0);
    cr_expect(!m.json);
    cr_assert_eq(parse("STATUS", buf, sizeof(buf), &m, NULL), 0);
    cr_expect(!m.json, "a version 2 gslbctl's STATUS is text, as it always was");
    cr_assert_eq(parse("RELOAD", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_RELOAD);
    cr_assert_eq(parse("EXPLAIN 81.2.69.0/24 www.gslb.example.com AAAA", buf, sizeof(buf), &m,
                       NULL),
                 0);
    cr_expect_eq(m.verb, CTL_EXPLAIN);
    cr_expect_str_eq(m.client, "81.2.69.0/24");
    cr_expect_str_eq(m.qname, "www.gslb.example.com");
    cr_expect_str_eq(m.qtype, "AAAA");
    cr_assert_eq(parse("EXPLAIN 2001:db8::1 www.gslb.example.com", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_str_eq(m.client, "2001:db8::1");
    cr_expect_null(m.qtype, "the type is optional (A)");
}

Test(ctl, parse_replies)
{
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    cr_assert_eq(parse("OK gslbd 2", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_OK);
    cr_expect_str_eq(m.text, "gslbd 2");
    cr_assert_eq(parse("OK", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_str_eq(m.text, "");
    cr_assert_eq(parse("ERR no region 'x' in the served zones", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.verb, CTL_ERR);
    cr_expect_str_eq(m.text, "no region 'x' in the served zones");
    /* A data line of a STATUS reply is no request. */
    cr_assert_eq(parse("region gslb.example.com eu-west up", buf, sizeof(buf), &m, NULL),
                 GSLB_EPROTO);
    cr_expect_eq(m.verb, CTL_DATA);
    cr_expect_str_eq(m.text, "region gslb.example.com eu-west up");
}

Test(ctl, bad_requests_say_why)
{
    static const char *const bad[] = {
        "MEMBER z.test r 192.0.2.1",          /* no state */
        "MEMBER z.test r 192.0.2.1 sideways", /* not a state */
        "MEMBER z.test r 192.0.2.1 up seq=x", /* seq not a number */
        "MEMBER z.test r 192.0.2.1 up seq=1 seq=2",
        "MEMBER z.test r 192.0.2.1 up vantage=",
        "HELLO healthd",
        "HELLO healthd two",
        "SYNCED",
        "SYNCED -5",
        "SYNCED 99999999999",
        "SET drain",
        "SET pause * eu-west",
        "SET drain * eu-west 192.0.2.1 extra",
        "PING now",
        "STATUS yaml",
        "STATUS json extra",
        "RELOAD now",
        "EXPLAIN 192.0.2.1",
        "EXPLAIN 192.0.2.1 www.test A extra",
    };
    char buf[CTL_LINE_MAX + 1];
    ctl_msg_t m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        cr_expect_eq(parse(bad[i], buf, sizeof(buf), &m, &why), GSLB_EPROTO, "%s", bad[i]);
        cr_expect(why != NULL && strncmp(why, "usage: ", 7) == 0, "%s: %s", bad[i],
                  why ? why : "(null)");
    }
}

/* ------------------------------------------------------------ formatting */

Test(ctl, format_exact_lines)
{
    char line[CTL_LINE_MAX + 2];

    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_HELLO, .peer = "healthd", .version = 2},
                            line, sizeof(line)),
                 0);
    cr_expect_str_eq(line, "HELLO healthd 2\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_MEMBER,
                                         .zone = "z.test",
                                         .region = "eu-west",
                                         .member = "192.0.2.1",
                                         .state = HEALTH_UP,
                                         .vantage = "fra1",
                                         .has_seq = true,
                                         .seq = 9,
                                         .text = "status 200"},
                            line, sizeof(line)),
                 0);
    cr_expect_str_eq(line, "MEMBER z.test eu-west 192.0.2.1 up vantage=fra1 seq=9 reason=status 200\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_SYNCED, .interval_ms = 2000}, line,
                            sizeof(line)),
                 0);
    cr_expect_str_eq(line, "SYNCED 2000\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_SET,
                                         .override = HEALTH_OV_NONE,
                                         .zone = "*",
                                         .region = "eu-west"},
                            line, sizeof(line)),
                 0);
    cr_expect_str_eq(line, "SET auto * eu-west\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_STATUS, .json = true}, line, sizeof(line)),
                 0);
    cr_expect_str_eq(line, "STATUS json\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_STATUS}, line, sizeof(line)), 0);
    cr_expect_str_eq(line, "STATUS\n", "text is what a version 2 gslbd understood");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_RELOAD}, line, sizeof(line)), 0);
    cr_expect_str_eq(line, "RELOAD\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_EXPLAIN,
                                         .client = "81.2.69.0/24",
                                         .qname = "www.gslb.example.com",
                                         .qtype = "AAAA"},
                            line, sizeof(line)),
                 0);
    cr_expect_str_eq(line, "EXPLAIN 81.2.69.0/24 www.gslb.example.com AAAA\n");
    cr_expect_eq(ctl_format(&(ctl_msg_t){.verb = CTL_EXPLAIN, .client = "192.0.2.1"}, line,
                            sizeof(line)),
                 -EINVAL, "EXPLAIN needs a name");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_OK}, line, sizeof(line)), 0);
    cr_expect_str_eq(line, "OK\n");
    cr_assert_gt(ctl_format(&(ctl_msg_t){.verb = CTL_ERR, .text = "say HELLO first"}, line,
                            sizeof(line)),
                 0);
    cr_expect_str_eq(line, "ERR say HELLO first\n");
}

Test(ctl, format_refuses_what_cannot_travel)
{
    char line[CTL_LINE_MAX + 2];
    ctl_msg_t m = {.verb = CTL_MEMBER,
                   .zone = "z.test",
                   .region = "eu west",
                   .member = "192.0.2.1",
                   .state = HEALTH_UP};

    cr_expect_eq(ctl_format(&m, line, sizeof(line)), -EINVAL, "a space in a name");
    m.region = "";
    cr_expect_eq(ctl_format(&m, line, sizeof(line)), -EINVAL, "an empty name");
    m.region = "r";
    m.vantage = "a b";
    cr_expect_eq(ctl_format(&m, line, sizeof(line)), -EINVAL, "a space in an attribute");
    /* An optional argument that would read back as an attribute. */
    cr_expect_eq(ctl_format(&(ctl_msg_t){.verb = CTL_SET,
                                         .override = HEALTH_OV_DRAIN,
                                         .zone = "*",
                                         .region = "r",
                                         .member = "x=y"},
                            line, sizeof(line)),
                 -EINVAL);
    m.vantage = NULL;
    cr_expect_eq(ctl_format(&m, line, 12), -ENOSPC);
    cr_expect_eq(ctl_format(&(ctl_msg_t){.verb = CTL_DATA + 1}, line, sizeof(line)), -EINVAL);
}

static void count_line(void *arg, char *line)
{
    (void)line;
    (*(int *)arg)++;
}

Test(ctl, long_reasons_are_cut_to_one_line)
{
    char reason[3000], line[4096];
    ctl_lines_t lb = {0};
    int n, lines = 0;

    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    n = ctl_format(&(ctl_msg_t){.verb = CTL_MEMBER,
                                .zone = "z.test",
                                .region = "r",
                                .member = "192.0.2.1",
                                .state = HEALTH_DOWN,
                                .text = reason},
                   line, sizeof(line));
    cr_assert_eq(n, CTL_LINE_MAX + 1, "the longest line there is, newline included");
    cr_assert_eq(line[n - 1], '\n');
    cr_assert_eq(ctl_feed(&lb, line, (size_t)n, count_line, &lines), 0);
    cr_assert_eq(lines, 1);
}

Test(ctl, round_trip)
{
    const ctl_msg_t msgs[] = {
        {.verb = CTL_HELLO, .peer = "gslbctl", .version = CTL_VERSION, .vantage = "v1"},
        {.verb = CTL_MEMBER,
         .zone = "gslb.example.com",
         .region = "ap-south",
         .member = "2001:db8::1",
         .state = HEALTH_UNKNOWN,
         .has_seq = true,
         .seq = UINT64_MAX,
         .text = "no route to host"},
        {.verb = CTL_SYNCED, .interval_ms = 86400000},
        {.verb = CTL_SET,
         .override = HEALTH_OV_UP,
         .zone = "gslb.example.com",
         .region = "r",
         .member = "192.0.2.9"},
        {.verb = CTL_ERR, .text = "line too long"},
    };

    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        char line[CTL_LINE_MAX + 2];
        ctl_msg_t m;
        int n = ctl_format(&msgs[i], line, sizeof(line));
        cr_assert_gt(n, 0);
        line[n - 1] = '\0';
        cr_assert_eq(ctl_parse(line, &m, NULL), 0, "%s", line);
        cr_expect_eq(m.verb, msgs[i].verb);
        cr_expect_eq(m.version, msgs[i].version);
        cr_expect_eq(m.state, msgs[i].state);
        cr_expect_eq(m.override, msgs[i].override);
        cr_expect_eq(m.interval_ms, msgs[i].interval_ms);
        cr_expect_eq(m.seq, msgs[i].seq);
        cr_expect_eq(m.has_seq, msgs[i].has_seq);
        if (msgs[i].member != NULL) {
            cr_expect_str_eq(m.member, msgs[i].member);
        }
        if (msgs[i].text != NULL) {
            cr_expect_str_eq(m.text, msgs[i].text);
        }
        if (msgs[i].vantage != NULL) {
            cr_expect_str_eq(m.vantage, msgs[i].vantage);
        }
    }
}

Test(ctl, feed_splits_and_refuses_overlong_lines)
{
    ctl_lines_t lb = {0};
    int lines = 0;
    char big[CTL_LINE_MAX + 1];

    cr_assert_eq(ctl_feed(&lb, "PING\nPI", 7, count_line, &lines), 0);
    cr_assert_eq(lines, 1);
    cr_assert_eq(ctl_feed(&lb, "NG\n", 3, count_line, &lines), 0);
    cr_assert_eq(lines, 2);
    memset(big, 'x', sizeof(big));
    cr_assert_eq(ctl_feed(&lb, big, sizeof(big), count_line, &lines), -EMSGSIZE);
}

Test(ctl, load_lines_both_ways)
{
    char buf[CTL_LINE_MAX + 1], out[CTL_LINE_MAX + 2];
    ctl_msg_t m;

    cr_assert_eq(parse("LOAD z.test eu-west 0.93 figure=18.6 capacity=20 seq=7 reason=read ok",
                       buf, sizeof(buf), &m, NULL),
                 0);
    cr_expect_eq(m.verb, CTL_LOAD);
    cr_expect_str_eq(m.zone, "z.test");
    cr_expect_str_eq(m.region, "eu-west");
    cr_expect(m.util_known);
    cr_expect_float_eq(m.util, 0.93, 1e-12);
    cr_expect_float_eq(m.figure, 18.6, 1e-12);
    cr_expect_float_eq(m.capacity, 20, 1e-12);
    cr_expect_eq(m.seq, 7);
    cr_expect_str_eq(m.text, "read ok");

    /* unknown: the read failed; absent attributes are NAN */
    cr_assert_eq(parse("LOAD z.test eu-west unknown reason=timed out", buf, sizeof(buf), &m, NULL),
                 0);
    cr_expect_not(m.util_known);
    cr_expect(isnan(m.figure) && isnan(m.capacity));
    cr_expect_str_eq(m.text, "timed out");

    /* no signs, exponents, nan or inf, and no repeated figure */
    const char *bad[] = {"LOAD z r -1",     "LOAD z r nan",          "LOAD z r 1e3",
                         "LOAD z r inf",    "LOAD z r 0.5 figure=x", "LOAD z r 0.5 figure=1 figure=2",
                         "LOAD z r",        "LOAD z r 0.5x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        cr_expect_eq(parse(bad[i], buf, sizeof(buf), &m, &why), GSLB_EPROTO, "%s", bad[i]);
        cr_expect(why != NULL && strstr(why, "usage: LOAD") != NULL, "%s", bad[i]);
    }

    /* formatting: short decimals, "unknown", attributes left out when NAN */
    ctl_msg_t f = {.verb = CTL_LOAD, .zone = "z.test", .region = "us-east", .util_known = true,
                   .util = 0.5, .figure = 2500, .capacity = 5000, .has_seq = true, .seq = 3,
                   .text = "scur"};
    cr_assert_gt(ctl_format(&f, out, sizeof(out)), 0);
    cr_expect_str_eq(out, "LOAD z.test us-east 0.5 figure=2500 capacity=5000 seq=3 reason=scur\n");
    f.util_known = false;
    f.figure = f.capacity = NAN;
    f.has_seq = false;
    f.text = "connection refused";
    cr_assert_gt(ctl_format(&f, out, sizeof(out)), 0);
    cr_expect_str_eq(out, "LOAD z.test us-east unknown reason=connection refused\n");
    f.util_known = true;
    f.util = -0.1; /* cannot travel */
    cr_expect_eq(ctl_format(&f, out, sizeof(out)), -EINVAL);
}

/* CANARY (version 4): a vantage's verdict on its own network. */
Test(ctl, canary_lines_both_ways)
{
    char buf[CTL_LINE_MAX + 1], out[CTL_LINE_MAX + 2];
    ctl_msg_t m;

    cr_expect_eq(CTL_VERSION, 4, "CANARY came with version 4");
    cr_assert_eq(parse("CANARY failed seq=9 reason=2 of 3 down: 10.0.0.9:80: refused", buf,
                       sizeof(buf), &m, NULL),
                 0);
    cr_expect_eq(m.verb, CTL_CANARY);
    cr_expect_eq(m.state, HEALTH_DOWN);
    cr_expect(m.has_seq);
    cr_expect_eq(m.seq, 9);
    cr_expect_str_eq(m.text, "2 of 3 down: 10.0.0.9:80: refused");

    cr_assert_eq(parse("CANARY ok", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_eq(m.state, HEALTH_UP);
    cr_expect_null(m.text);

    /* A newer sender's attribute is ignored; vantage= is read as on any line. */
    cr_assert_eq(parse("CANARY ok vantage=ams colour=blue", buf, sizeof(buf), &m, NULL), 0);
    cr_expect_str_eq(m.vantage, "ams");

    /* Only the two words; a reason must say reason= (no version 1 form). */
    const char *bad[] = {"CANARY",         "CANARY up",          "CANARY OK", "CANARY ok failed",
                         "CANARY ok down", "CANARY failed seq=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        cr_expect_eq(parse(bad[i], buf, sizeof(buf), &m, &why), GSLB_EPROTO, "%s", bad[i]);
        cr_expect_str_eq(why, "usage: CANARY ok|failed [seq=N] [reason=TEXT]", "%s", bad[i]);
    }

    ctl_msg_t f = {.verb = CTL_CANARY,
                   .state = HEALTH_DOWN,
                   .has_seq = true,
                   .seq = 4,
                   .text = "2 of 2 down: 127.0.0.1:9: refused, [::1]:9: timeout"};
    cr_assert_gt(ctl_format(&f, out, sizeof(out)), 0);
    cr_expect_str_eq(out,
                     "CANARY failed seq=4 reason=2 of 2 down: 127.0.0.1:9: refused, [::1]:9: "
                     "timeout\n");
    f = (ctl_msg_t){.verb = CTL_CANARY, .state = HEALTH_UP};
    cr_assert_gt(ctl_format(&f, out, sizeof(out)), 0);
    cr_expect_str_eq(out, "CANARY ok\n");
    f.state = HEALTH_UNKNOWN; /* a verdict is ok or failed, never unknown */
    cr_expect_eq(ctl_format(&f, out, sizeof(out)), -EINVAL);
}
