/*
 * Unit tests for the zone YAML loader (zones/): the example zone, every class
 * of error with its exact "file:line:col: error:" line, derived serials,
 * durations, names, record values, and loading sets of files.
 *
 * Inline YAML is written to t.yaml in a fresh temporary directory; error
 * lines are compared with that directory stripped, so they read "t.yaml:...".
 * Fixtures under tests/unit/data/ are named relative to the repository root,
 * where `make unit` runs the tests.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/errcode.h"
#include "zones/load.h"

#define DATA    "tests/unit/data/"
#define EXAMPLE "zones/examples/gslb.example.com.yaml"

/* A valid start of a zone file, three lines long: case lines start at 4. The
 * name server is outside the zone so that it needs no address. */
#define HEAD                                                                                       \
    "zone: gslb.example.com\n"                                                                     \
    "soa: {mname: ns1.example.net, rname: hostmaster.example.net}\n"                               \
    "ns: [ns1.example.net]\n"

static char tmpdir[64];

/* Tests of how long loading takes end their worker process with SIGALRM
 * (reported as a crash) after this many seconds, far above what they take:
 * an O(n^2) loader takes minutes on them. Criterion's own .timeout is not
 * used: with tests running in parallel it leaks in the runner (48 bytes,
 * libcriterion 2.4.1), which fails `make SANITIZE=address test`. The
 * sanitizers make loading several times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define DEADLINE(seconds) alarm(4 * (seconds))
#else
#define DEADLINE(seconds) alarm(seconds)
#endif

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/gslb-test-zone-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];

    alarm(0); /* a DEADLINE() met */

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(zone, .init = make_tmpdir, .fini = remove_tmpdir);

static void write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static char *tmp_path(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

/* Every error line, tmpdir stripped, joined with newlines. Caller frees. */
static char *join_errors(const diag_t *errs)
{
    size_t dlen = strlen(tmpdir), size = 1;
    char *out;

    for (size_t i = 0; i < errs->n; i++) {
        size += strlen(errs->lines[i]) + 1;
    }
    out = calloc(1, size);
    cr_assert_not_null(out);
    for (size_t i = 0, len = 0; i < errs->n; i++) {
        const char *line = errs->lines[i];

        if (!strncmp(line, tmpdir, dlen) && line[dlen] == '/') {
            line += dlen + 1;
        }
        len += (size_t)sprintf(out + len, "%s%s", line, i + 1 < errs->n ? "\n" : "");
    }
    return out;
}

/* Load `yaml` as t.yaml; returns the zone (NULL on failure) and the errors
 * in *text (caller frees). */
static zone_t *load_text(const char *yaml, char **text)
{
    diag_t errs = {0};
    zone_t *zone = NULL;
    int rc;

    write_file("t.yaml", yaml);
    rc = zone_load(tmp_path("t.yaml"), 0, &zone, &errs);
    *text = join_errors(&errs);
    cr_assert_eq(rc == 0, errs.n == 0, "rc %d with %zu errors: %s", rc, errs.n, *text);
    diag_clear(&errs);
    return rc == 0 ? zone : NULL;
}

/* Load `yaml` expecting it to be valid. */
static zone_t *load_ok(const char *yaml)
{
    char *text;
    zone_t *zone = load_text(yaml, &text);

    cr_assert_not_null(zone, "unexpected errors:\n%s", text);
    free(text);
    return zone;
}

static void expect_errors(const char *what, const char *yaml, const char *want)
{
    char *got;
    zone_t *zone = load_text(yaml, &got);

    cr_expect_null(zone, "%s: loaded", what);
    zone_free(zone);
    cr_expect_str_eq(got, want, "%s:\n got: %s\nwant: %s", what, got, want);
    free(got);
}

/* The nth record of zone->rrs in presentation form, without the newline. */
static char *rr_text(const zone_t *zone, size_t i)
{
    char *s = ldns_rr2str(ldns_rr_list_rr(zone->rrs, i));

    s[strcspn(s, "\n")] = '\0';
    return s;
}

static void expect_rr(const zone_t *zone, size_t i, const char *want)
{
    char *got = rr_text(zone, i);

    cr_expect_str_eq(got, want, "record %zu", i);
    free(got);
}

/* ---- the example ---- */

/* The 1-based number of the first line of `path` that starts with `prefix`
 * (0: none). */
static unsigned line_of(const char *path, const char *prefix)
{
    char buf[512];
    unsigned n = 0;
    FILE *f = fopen(path, "r");

    cr_assert_not_null(f);
    while (fgets(buf, sizeof(buf), f) != NULL) {
        n++;
        if (strncmp(buf, prefix, strlen(prefix)) == 0) {
            fclose(f);
            return n;
        }
    }
    fclose(f);
    return 0;
}

Test(zone, example_loads)
{
    diag_t errs = {0};
    zone_t *z = NULL;
    char *origin, *soa;

    cr_assert_eq(zone_load(EXAMPLE, 0, &z, &errs), 0);
    cr_assert_eq(errs.n, 0);
    origin = ldns_rdf2str(z->origin);
    cr_expect_str_eq(origin, "gslb.example.com.");
    cr_expect_str_eq(z->file, EXAMPLE);
    cr_expect_eq(z->mark.line, 10);
    cr_expect_eq(z->mark.col, 7);
    cr_expect_eq(z->ttl, 300);
    cr_expect_not(z->serial_given);
    struct stat st;
    cr_assert_eq(stat(EXAMPLE, &st), 0);
    cr_expect_eq(z->serial, (uint32_t)st.st_mtime, "the file's time, not the time of loading");

    soa = ldns_rr2str(z->soa);
    soa[strcspn(soa, "\n")] = '\0';
    cr_expect_eq(ldns_rr_ttl(z->soa), 300);
    cr_expect_eq(ldns_rdf2native_int32(ldns_rr_rdf(z->soa, 2)), z->serial);
    cr_expect_not_null(strstr(soa, "\tSOA\tns1.gslb.example.com. hostmaster.example.com. "), "%s",
                       soa);
    free(soa);
    soa = ldns_rr2str(z->soa);
    cr_expect_not_null(strstr(soa, " 3600 600 604800 60"));

    cr_assert_eq(ldns_rr_list_rr_count(z->rrs), 9);
    expect_rr(z, 0, "gslb.example.com.\t300\tIN\tNS\tns1.gslb.example.com.");
    expect_rr(z, 1, "gslb.example.com.\t300\tIN\tNS\tns2.gslb.example.com.");
    expect_rr(z, 2, "ns1.gslb.example.com.\t300\tIN\tA\t198.51.100.53");
    expect_rr(z, 3, "ns1.gslb.example.com.\t300\tIN\tAAAA\t2001:db8:53::1");
    expect_rr(z, 4, "ns2.gslb.example.com.\t300\tIN\tA\t203.0.113.53");
    expect_rr(z, 5, "gslb.example.com.\t300\tIN\tTXT\t\"gslb demo\"");
    expect_rr(z, 6, "gslb.example.com.\t300\tIN\tMX\t10 mail.example.com.");
    expect_rr(z, 7, "docs.gslb.example.com.\t300\tIN\tCNAME\twww.gslb.example.com.");
    expect_rr(z, 8, "_sip._tcp.gslb.example.com.\t300\tIN\tSRV\t10 5 5060 sip.example.com.");

    cr_assert_eq(z->n_checks, 1);
    cr_expect_str_eq(z->checks[0].name, "web");
    cr_expect_eq(z->checks[0].type, CHECK_HTTP);
    cr_expect_eq(z->checks[0].port, 80);
    cr_expect_str_eq(z->checks[0].path, "/health");
    cr_expect_null(z->checks[0].host);
    cr_expect(z->checks[0].tls_verify);
    cr_assert_eq(z->checks[0].n_expect, 1);
    cr_expect_eq(z->checks[0].expect[0], 200);
    cr_expect_eq(z->checks[0].interval_ms, 2000);
    cr_expect_eq(z->checks[0].timeout_ms, 1000);
    cr_expect_eq(z->checks[0].rise, 2);
    cr_expect_eq(z->checks[0].fall, 2);
    cr_expect_eq(z->checks[0].stale_after_ms, 6000, "three intervals by default");

    cr_assert_eq(z->n_regions, 4);
    cr_expect_str_eq(z->regions[0].name, "us-east");
    cr_expect_float_eq(z->regions[0].lat, 39.04, 1e-9);
    cr_expect_float_eq(z->regions[0].lon, -77.49, 1e-9);
    cr_expect_eq(z->regions[0].weight, 100);
    cr_expect_eq(z->regions[0].bias, 0, "no bias by default");
    cr_expect_eq(z->regions[0].check, 0);
    cr_expect_eq(z->regions[0].min_up, 1);
    cr_assert_eq(z->regions[0].n_pool, 2);
    cr_expect_eq(z->regions[0].pool[0].family, AF_INET);
    cr_expect_eq(memcmp(z->regions[0].pool[0].addr, "\xc0\x00\x02\x0a", 4), 0);
    cr_expect_str_eq(z->regions[0].pool[0].text, "192.0.2.10");
    cr_expect_eq(z->regions[0].pool[0].probe_family, AF_INET);
    cr_expect_eq(memcmp(z->regions[0].pool[0].probe_addr, "\xc0\x00\x02\x0a", 4), 0);
    cr_expect_eq(z->regions[0].pool[0].probe_port, 0);
    cr_expect_eq(z->regions[0].pool[1].family, AF_INET6);
    cr_expect_str_eq(z->regions[0].pool[1].text, "2001:db8:10::10");
    cr_expect_str_eq(z->regions[1].name, "us-west");
    cr_expect_float_eq(z->regions[1].lat, 45.84, 1e-9);
    cr_expect_float_eq(z->regions[1].lon, -119.70, 1e-9);
    cr_expect_str_eq(z->regions[2].name, "eu-west");
    cr_expect_float_eq(z->regions[3].lat, 1.29, 1e-9);
    cr_expect_float_eq(z->regions[3].lon, 103.85, 1e-9);
    cr_expect_eq(z->regions[3].n_pool, 1);
    /* The mark is where the file writes the key, whatever comments above it. */
    cr_expect_eq(z->regions[3].mark.line, line_of(EXAMPLE, "  ap-south:"));
    cr_expect_eq(z->regions[3].mark.col, 3);

    cr_assert_eq(z->n_services, 1);
    cr_expect_str_eq(z->services[0].name, "www");
    free(origin);
    origin = ldns_rdf2str(z->services[0].owner);
    cr_expect_str_eq(origin, "www.gslb.example.com.");
    cr_assert_eq(z->services[0].n_regions, 4);
    cr_expect_eq(z->services[0].regions[0], 0);
    cr_expect_eq(z->services[0].regions[1], 1);
    cr_expect_eq(z->services[0].regions[2], 2);
    cr_expect_eq(z->services[0].regions[3], 3);
    cr_expect_eq(z->services[0].policy, POLICY_NEAREST);
    cr_expect_eq(z->services[0].ttl, 30);
    cr_expect_float_eq(z->services[0].spread_km, 0.0, 1e-9);
    cr_expect_eq(z->services[0].answers, 1);
    cr_expect(z->services[0].ecs);
    cr_expect_not(z->services[0].geo.given);
    cr_expect_eq(z->services[0].on_all_down, ALL_DOWN_OPEN);
    cr_expect_eq(z->services[0].fallback, SIZE_MAX);
    cr_expect_eq(z->services[0].min_ttl, 5);
    cr_expect(z->ecs);
    cr_expect_not(z->geo.given);
    cr_expect_eq(z->geo.n_map + z->geo.n_nets + z->geo.n_dflt, 0);
    free(origin);
    free(soa);
    zone_free(z);
}

/* ---- errors, one class at a time ---- */

typedef struct {
    const char *what;
    const char *yaml;
    const char *errors;
} error_case_t;

static const error_case_t top_cases[] = {
    {"unknown top-level key", HEAD "zones: x\n",
     "t.yaml:4:1: error: unknown key 'zones' at top level (did you mean 'zone'?)"},
    {"unknown key, nothing close", HEAD "frobnicate: 1\n",
     "t.yaml:4:1: error: unknown key 'frobnicate' at top level"},
    {"duplicate top-level key", HEAD "ttl: 5\nttl: 6\n",
     "t.yaml:5:1: error: duplicate key 'ttl' at top level (first at line 4)"},
    {"ttl above RFC 2181 section 8's limit", HEAD "ttl: 4294967296\n",
     "t.yaml:4:6: error: ttl 4294967296 out of range 0..2147483647"},
    {"negative ttl", HEAD "ttl: -1\n", "t.yaml:4:6: error: ttl -1 out of range 0..2147483647"},
    {"ttl that is no duration", HEAD "ttl: 5x\n",
     "t.yaml:4:6: error: 'ttl' must be a number of seconds or a duration like 5m, got '5x'"},
    {"ttl in milliseconds", HEAD "ttl: 500ms\n",
     "t.yaml:4:6: error: 'ttl' must be a number of seconds or a duration like 5m, got '500ms'"},
    {"zone missing", "soa: {mname: ns1.example.net, rname: h.example.net}\nns: [ns1.example.net]\n",
     "t.yaml:1:1: error: 'zone' is required"},
    {"zone empty", "zone:\nsoa: {mname: a.b, rname: c.d}\nns: [a.b]\n",
     "t.yaml:1:1: error: 'zone' must not be empty"},
    {"zone not a name", "zone: a..b\nsoa: {mname: a.b, rname: c.d}\nns: [a.b]\n",
     "t.yaml:1:7: error: 'zone': bad domain name 'a..b'"},
    {"soa and ns missing", "zone: gslb.example.com\n",
     "t.yaml:1:1: error: 'soa' is required\n"
     "t.yaml:1:1: error: 'ns' is required"},
    {"top level is a list", "- zone\n",
     "t.yaml:1:1: error: the top level must be a mapping with zone, soa and ns"},
    {"empty file", "", "t.yaml: error: file is empty: expected a mapping with zone, soa and ns"},
    {"two documents", HEAD "---\nzone: x\n",
     "t.yaml:5:1: error: only one YAML document is allowed per zone file"},
    {"wrong type of section", HEAD "regions: [a, b]\n",
     "t.yaml:4:10: error: 'regions' must be a mapping"},
    {"ns not a list", "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d}\nns: a.b\n",
     "t.yaml:3:5: error: 'ns' must be a list"},
    {"ns empty", "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d}\nns: []\n",
     "t.yaml:3:5: error: 'ns' must not be empty"},
    {"ns twice", "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d}\nns: [a.b, A.B.]\n",
     "t.yaml:3:11: error: 'ns': 'A.B.' is listed twice"},
    {"in-zone ns without address",
     "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d}\n"
     "ns: [ns1, ns3.gslb.example.com]\nrecords:\n  ns1: {AAAA: '2001:db8::1'}\n",
     "t.yaml:3:11: error: ns 'ns3.gslb.example.com' is inside the zone but has no A or AAAA "
     "record"},
};

static const error_case_t syntax_cases[] = {
    {"unclosed flow sequence", HEAD "records: {a: [1\nb: 2\n",
     "t.yaml:5:2: error: YAML syntax: did not find expected ',' or ']' (while parsing a flow "
     "sequence at line 4, column 14)"},
    {"bad indentation", HEAD "records:\n  a: 1\n b: 2\n",
     "t.yaml:6:2: error: YAML syntax: did not find expected key (while parsing a block mapping "
     "at line 1, column 1)"},
    {"tab", HEAD "\tttl: 1\n",
     "t.yaml:4:1: error: YAML syntax: found character that cannot start any token (while "
     "scanning for the next token)"},
    {"bad UTF-8", HEAD "ttl: \"\xff\"\n",
     "t.yaml:4:7: error: YAML syntax: invalid leading UTF-8 octet (byte 0xff)"},
};

static const error_case_t soa_cases[] = {
    {"mname missing", "zone: gslb.example.com\nsoa: {rname: c.d}\nns: [a.b]\n",
     "t.yaml:2:1: error: soa: 'mname' is required"},
    {"soa unknown key",
     "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d, refresch: 1}\nns: [a.b]\n",
     "t.yaml:2:31: error: unknown key 'refresch' in soa (did you mean 'refresh'?)"},
    {"serial 0", "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d, serial: 0}\nns: [a.b]\n",
     "t.yaml:2:39: error: soa: serial 0 out of range 1..4294967295"},
    {"serial too big",
     "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d, serial: 4294967296}\nns: [a.b]\n",
     "t.yaml:2:39: error: soa: serial 4294967296 out of range 1..4294967295"},
    {"refresh not a number",
     "zone: gslb.example.com\nsoa: {mname: a.b, rname: c.d, refresh: soon}\nns: [a.b]\n",
     "t.yaml:2:40: error: soa: 'refresh' must be a number of seconds or a duration like 5m, got "
     "'soon'"},
    {"bad rname", "zone: gslb.example.com\nsoa: {mname: a.b, rname: a@b@c}\nns: [a.b]\n",
     "t.yaml:2:26: error: soa: 'rname': bad mail address or domain name 'a@b@c'"},
    {"soa not a mapping", "zone: gslb.example.com\nsoa: a.b\nns: [a.b]\n",
     "t.yaml:2:6: error: 'soa' must be a mapping"},
};

static const error_case_t records_cases[] = {
    {"bad IPv6", HEAD "records:\n  www: {AAAA: '2001:db8::zz'}\n",
     "t.yaml:5:15: error: records 'www': 'AAAA': bad IPv6 address '2001:db8::zz'"},
    {"bad IPv4 in a list", HEAD "records:\n  www: {A: [192.0.2.1, 192.0.2.300]}\n",
     "t.yaml:5:24: error: records 'www': 'A': bad IPv4 address '192.0.2.300'"},
    {"bad MX", HEAD "records:\n  '@': {MX: '10'}\n",
     "t.yaml:5:13: error: records '@': 'MX': bad MX data '10' (syntax error, value expected)"},
    {"MX preference beyond 16 bits", HEAD "records:\n  '@': {MX: '65536 mail'}\n",
     "t.yaml:5:13: error: records '@': 'MX': bad MX data '65536 mail' (65536 out of range "
     "0..65535)"},
    {"SRV with a field missing", HEAD "records:\n  _sip._tcp: {SRV: '10 5 sip.example.com.'}\n",
     "t.yaml:5:20: error: records '_sip._tcp': 'SRV': bad SRV data '10 5 sip.example.com.' "
     "(syntax error, could not parse the RR's rdata)"},
    {"value is a mapping", HEAD "records:\n  '@': {MX: {pref: 10}}\n",
     "t.yaml:5:13: error: records '@': 'MX' must be a string or a list of strings"},
    {"empty value", HEAD "records:\n  www: {A: []}\n",
     "t.yaml:5:12: error: records 'www': 'A' must not be empty"},
    {"name is not a mapping", HEAD "records:\n  www: 192.0.2.1\n",
     "t.yaml:5:8: error: records 'www': must be a mapping of record types to values"},
    {"CNAME beside other data", HEAD "records:\n  docs: {CNAME: www, TXT: x}\n",
     "t.yaml:5:10: error: records 'docs': CNAME cannot coexist with other data at the same name"},
    {"CNAME at the apex", HEAD "records:\n  '@': {CNAME: www}\n",
     "t.yaml:5:9: error: records '@': CNAME cannot coexist with other data at the same name"},
    {"two CNAMEs", HEAD "records:\n  docs: {CNAME: [a, b]}\n",
     "t.yaml:5:10: error: records 'docs': only one CNAME is allowed at a name"},
    {"CNAME beside a service",
     HEAD "records:\n  www: {CNAME: web}\nregions:\n  r: {location: [0, 0], pool: [192.0.2.1]}\n"
          "services:\n  www: {regions: [r]}\n",
     "t.yaml:5:9: error: records 'www': CNAME cannot coexist with other data at the same name "
     "(service 'www' at line 9)"},
    {"name outside the zone", HEAD "records:\n  foo.example.org.: {A: 192.0.2.1}\n",
     "t.yaml:5:3: error: records 'foo.example.org.': name is outside zone 'gslb.example.com'"},
    {"wildcard owner", HEAD "records:\n  '*.w': {A: 192.0.2.1}\n",
     "t.yaml:5:3: error: records '*.w': wildcard names are not supported"},
    {"bad owner name", HEAD "records:\n  a..b: {A: 192.0.2.1}\n",
     "t.yaml:5:3: error: records 'a..b': bad domain name"},
    {"SOA under records", HEAD "records:\n  '@': {SOA: x}\n",
     "t.yaml:5:9: error: records '@': SOA is not allowed here: use the top-level 'soa' key"},
    {"unsupported type", HEAD "records:\n  www: {HINFO: 'a b'}\n",
     "t.yaml:5:9: error: records 'www': record type 'HINFO' is not supported (use A, AAAA, "
     "CNAME, NS, MX, TXT, SRV, CAA or PTR)"},
    {"type typo", HEAD "records:\n  www: {AAA: '2001:db8::1'}\n",
     "t.yaml:5:9: error: unknown key 'AAA' in records 'www' (did you mean 'AAAA'?)"},
    {"type twice in two cases", HEAD "records:\n  www: {A: 192.0.2.1, a: 192.0.2.2}\n",
     "t.yaml:5:23: error: duplicate key 'a' in records 'www' (first at line 5)"},
    {"same name twice", HEAD "records:\n  www: {A: 192.0.2.1}\n  www: {A: 192.0.2.2}\n",
     "t.yaml:6:3: error: duplicate key 'www' in records (first at line 5)"},
    {"same name spelled twice",
     HEAD "records:\n  www: {A: 192.0.2.1}\n  WWW.gslb.example.com.: {A: 192.0.2.2}\n",
     "t.yaml:6:3: error: duplicate key 'WWW.gslb.example.com.' in records (first at line 5)"},
    {"duplicate record", HEAD "records:\n  www: {A: [192.0.2.1, 192.0.2.1]}\n",
     "t.yaml:5:24: error: records 'www': 'A': duplicate value '192.0.2.1'"},
    {"record ttl out of range", HEAD "records:\n  www: {ttl: 2147483648, A: 192.0.2.1}\n",
     "t.yaml:5:14: error: records 'www': ttl 2147483648 out of range 0..2147483647"},
    {"NS at the apex under records", HEAD "records:\n  '@': {NS: ns2.example.net.}\n",
     "t.yaml:5:9: error: records '@': NS records at the apex come from the top-level 'ns' key"},
    {"delegation without glue", HEAD "records:\n  sub: {NS: ns.sub}\n",
     "t.yaml:5:13: error: records 'sub': NS 'ns.sub.gslb.example.com' is inside the zone but "
     "has no A or AAAA record"},
    {"control character", HEAD "records:\n  www: {PTR: \"a\\nb\"}\n",
     "t.yaml:5:14: error: records 'www': 'PTR': bad PTR data 'a\\nb' (control character)"},
};

/* A region the cases below can refer to. */
#define REGION "regions:\n  r: {location: [0, 0], pool: [192.0.2.1]}\n"

static const error_case_t gslb_cases[] = {
    /* Region names travel in health reports (common/ctl.h): one token. */
    {"region name with a space",
     HEAD "regions:\n  eu west: {location: [0, 0], pool: [192.0.2.1]}\n",
     "t.yaml:5:3: error: region 'eu west': a region name is letters, digits, '-', '_' and '.' "
     "(it travels in health reports and gslbctl commands)"},
    {"region weight out of range",
     HEAD "regions:\n  eu-west: {location: [53.35, -6.26], weight: -1, pool: [192.0.2.1]}\n",
     "t.yaml:5:47: error: region 'eu-west': weight -1 out of range 0..1000000"},
    {"region bias above the range",
     HEAD "regions:\n  eu-west: {location: [53.35, -6.26], bias: 100, pool: [192.0.2.1]}\n",
     "t.yaml:5:45: error: region 'eu-west': bias 100 out of range -99..99"},
    {"region bias below the range",
     HEAD "regions:\n  eu-west: {location: [53.35, -6.26], bias: -100, pool: [192.0.2.1]}\n",
     "t.yaml:5:45: error: region 'eu-west': bias -100 out of range -99..99"},
    {"region bias not an integer",
     HEAD "regions:\n  eu-west: {location: [53.35, -6.26], bias: 1.5, pool: [192.0.2.1]}\n",
     "t.yaml:5:45: error: region 'eu-west': 'bias' must be an integer, got '1.5'"},
    {"region key typo",
     HEAD "regions:\n  eu-west: {location: [53.35, -6.26], wieght: 5, pool: [192.0.2.1]}\n",
     "t.yaml:5:39: error: unknown key 'wieght' in region 'eu-west' (did you mean 'weight'?)"},
    {"region key twice",
     HEAD "regions:\n  r: {location: [0, 0], pool: [192.0.2.1], weight: 1, weight: 2}\n",
     "t.yaml:5:55: error: duplicate key 'weight' in region 'r' (first at line 5)"},
    {"region twice", HEAD REGION "  r: {location: [1, 1], pool: [192.0.2.2]}\n",
     "t.yaml:6:3: error: duplicate key 'r' in regions (first at line 5)"},
    {"pool not a list", HEAD "regions:\n  x: {location: [0, 0], pool: 192.0.2.1}\n",
     "t.yaml:5:31: error: region 'x': 'pool' must be a list"},
    {"location missing", HEAD "regions:\n  x: {pool: [192.0.2.1]}\n",
     "t.yaml:5:3: error: region 'x': 'location' is required"},
    {"location with one number", HEAD "regions:\n  x: {location: [1], pool: [192.0.2.1]}\n",
     "t.yaml:5:17: error: region 'x': 'location' must be [latitude, longitude]"},
    {"latitude out of range", HEAD "regions:\n  x: {location: [90.5, 0], pool: [192.0.2.1]}\n",
     "t.yaml:5:18: error: region 'x': latitude 90.5 out of range -90..90"},
    {"longitude not a number", HEAD "regions:\n  x: {location: [0, east], pool: [192.0.2.1]}\n",
     "t.yaml:5:21: error: region 'x': longitude 'east' is not a number"},
    {"bad pool address", HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1, 1.2.3]}\n",
     "t.yaml:5:43: error: region 'x' pool: bad IP address '1.2.3'"},
    {"pool address twice", HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1, 192.0.2.1]}\n",
     "t.yaml:5:43: error: region 'x' pool: address 192.0.2.1 is listed twice"},
    {"bad probe",
     HEAD "regions:\n  x: {location: [0, 0], pool: [{address: 192.0.2.1, probe: '192.0.2.1:0'}]}\n",
     "t.yaml:5:60: error: region 'x' pool: 'probe' must be ADDRESS, IPv4:PORT or [IPv6]:PORT, "
     "got '192.0.2.1:0'"},
    {"pool member without address",
     HEAD "regions:\n  x: {location: [0, 0], pool: [{probe: 192.0.2.1}]}\n",
     "t.yaml:5:32: error: region 'x' pool: 'address' is required"},
    {"min_up above the pool size",
     HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1], min_up: 2}\n",
     "t.yaml:5:52: error: region 'x': min_up 2 is more than the 1 addresses of the pool"},
    {"max_addrs 0",
     HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1, 192.0.2.2], max_addrs: 0}\n",
     "t.yaml:5:66: error: region 'x': max_addrs 0 out of range 1..65535"},
    {"max_addrs negative",
     HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1, 192.0.2.2], max_addrs: -1}\n",
     "t.yaml:5:66: error: region 'x': max_addrs -1 out of range 1..65535"},
    {"max_addrs not an integer",
     HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1, 192.0.2.2], max_addrs: two}\n",
     "t.yaml:5:66: error: region 'x': 'max_addrs' must be an integer, got 'two'"},
    {"max_addrs above the larger family",
     HEAD "regions:\n  x: {location: [0, 0], pool: [192.0.2.1, 192.0.2.2, '2001:db8::1'], "
          "max_addrs: 3}\n",
     "t.yaml:5:81: error: region 'x': max_addrs 3 is more than the 2 addresses of the pool's "
     "larger family (2 IPv4, 1 IPv6)"},
    {"undefined check",
     HEAD "regions:\n  eu-west: {location: [0, 0], pool: [192.0.2.1], check: api}\n",
     "t.yaml:5:57: error: region 'eu-west': check 'api' is not defined"},
    {"check type", HEAD "checks:\n  c: {type: udp}\n",
     "t.yaml:5:13: error: check 'c': 'type' must be one of http, https, tcp, got 'udp'"},
    {"check type missing", HEAD "checks:\n  c: {port: 80}\n",
     "t.yaml:5:3: error: check 'c': 'type' is required"},
    {"tcp check without port", HEAD "checks:\n  c: {type: tcp}\n",
     "t.yaml:5:3: error: check 'c': 'port' is required for tcp checks"},
    {"path on a tcp check", HEAD "checks:\n  c: {type: tcp, port: 22, path: /}\n",
     "t.yaml:5:28: error: check 'c': 'path' is only for http and https checks"},
    {"sni on an http check", HEAD "checks:\n  c: {type: http, sni: a.example}\n",
     "t.yaml:5:19: error: check 'c': 'sni' is only for https checks"},
    {"relative path", HEAD "checks:\n  c: {type: http, path: health}\n",
     "t.yaml:5:25: error: check 'c': 'path' must start with '/', got 'health'"},
    {"port 0", HEAD "checks:\n  c: {type: http, port: 0}\n",
     "t.yaml:5:25: error: check 'c': port 0 out of range 1..65535"},
    {"expect out of range", HEAD "checks:\n  c: {type: http, expect: [200, 600]}\n",
     "t.yaml:5:33: error: check 'c': expect 600 out of range 100..599"},
    {"interval too short", HEAD "checks:\n  c: {type: http, interval: 50ms}\n",
     "t.yaml:5:29: error: check 'c': interval 50ms out of range 100ms..1h"},
    {"timeout not below interval", HEAD "checks:\n  c: {type: http, interval: 1s}\n",
     "t.yaml:5:29: error: check 'c': timeout 1s must be less than interval 1s"},
    {"tls_verify not a bool", HEAD "checks:\n  c: {type: https, tls_verify: maybe}\n",
     "t.yaml:5:32: error: check 'c': 'tls_verify' must be true or false, got 'maybe'"},
    {"rise out of range", HEAD "checks:\n  c: {type: http, rise: 101}\n",
     "t.yaml:5:25: error: check 'c': rise 101 out of range 1..100"},
    {"undefined region", HEAD REGION "services:\n  www: {regions: [r, us-west]}\n",
     "t.yaml:7:22: error: service 'www': region 'us-west' is not defined"},
    {"region twice in a service", HEAD REGION "services:\n  www: {regions: [r, r]}\n",
     "t.yaml:7:22: error: service 'www': region 'r' is listed twice"},
    {"service without regions", HEAD REGION "services:\n  www: {policy: nearest}\n",
     "t.yaml:7:3: error: service 'www': 'regions' is required"},
    {"unknown policy", HEAD REGION "services:\n  www: {regions: [r], policy: closest}\n",
     "t.yaml:7:31: error: service 'www': 'policy' must be one of nearest, weighted, failover, "
     "got 'closest'"},
    {"service with static addresses",
     HEAD "records:\n  www: {A: 192.0.2.1, TXT: ok}\n" REGION "services:\n  www: {regions: [r]}\n",
     "t.yaml:9:3: error: service 'www': name also has A records under records (line 5)"},
    {"service outside the zone", HEAD REGION "services:\n  www.example.org.: {regions: [r]}\n",
     "t.yaml:7:3: error: service 'www.example.org.': name is outside zone 'gslb.example.com'"},
    {"service in a delegation",
     HEAD "records:\n  sub: {NS: ns.example.net.}\n" REGION
          "services:\n  www.sub: {regions: [r]}\n",
     "t.yaml:9:3: error: service 'www.sub': name is in the delegated zone "
     "'sub.gslb.example.com' (NS at line 5)"},
    {"service key twice", HEAD REGION "services:\n  www: {regions: [r]}\n  www: {regions: [r]}\n",
     "t.yaml:8:3: error: duplicate key 'www' in services (first at line 7)"},
};

/* Two regions after HEAD: "regions:" at line 4, r and s at lines 5 and 6. */
#define REGIONS2                                                                                   \
    "regions:\n"                                                                                   \
    "  r: {location: [0, 0], pool: [192.0.2.1]}\n"                                                 \
    "  s: {location: [1, 1], pool: [192.0.2.2]}\n"

/* Top-level geo: at line 6, its entries at line 8. */
#define GEO_MAP  HEAD REGION "geo:\n  map:\n"
#define GEO_NETS HEAD REGION "geo:\n  nets:\n"

static const error_case_t geo_cases[] = {
    {"ecs not a bool", HEAD "ecs: maybe\n",
     "t.yaml:4:6: error: 'ecs' must be true or false, got 'maybe'"},
    {"geo not a mapping", HEAD REGION "geo: [r]\n", "t.yaml:6:6: error: 'geo' must be a mapping"},
    {"geo key typo", HEAD REGION "geo: {mapp: {}}\n",
     "t.yaml:6:7: error: unknown key 'mapp' in geo (did you mean 'map'?)"},
    {"geo map not a mapping", HEAD REGION "geo: {map: [EU]}\n",
     "t.yaml:6:12: error: geo: 'map' must be a mapping"},
    {"geo nets not a mapping", HEAD REGION "geo: {nets: [10.0.0.0/8]}\n",
     "t.yaml:6:13: error: geo: 'nets' must be a mapping"},
    /* Region lists. */
    {"map region not defined", GEO_MAP "    EU: [us-west]\n",
     "t.yaml:8:10: error: geo map 'EU': region 'us-west' is not defined"},
    {"map region twice", GEO_MAP "    EU: [r, r]\n",
     "t.yaml:8:13: error: geo map 'EU': region 'r' is listed twice"},
    {"map list empty", GEO_MAP "    EU: []\n",
     "t.yaml:8:9: error: geo map 'EU': must not be empty"},
    {"map value missing", GEO_MAP "    EU:\n",
     "t.yaml:8:5: error: geo map 'EU': must not be empty"},
    {"map value not a list", GEO_MAP "    EU: r\n",
     "t.yaml:8:9: error: geo map 'EU': must be a list of region names"},
    {"map list item not a name", GEO_MAP "    EU: [[r]]\n",
     "t.yaml:8:10: error: geo map 'EU': must be a list of region names"},
    /* Keys. */
    {"map key twice", GEO_MAP "    EU: [r]\n    EU: [r]\n",
     "t.yaml:9:5: error: duplicate key 'EU' in geo map (first at line 8)"},
    {"map key twice in two cases", GEO_MAP "    EU: [r]\n    eu: [r]\n",
     "t.yaml:9:5: error: duplicate key 'eu' in geo map (continent EU, first at line 8)"},
    {"map key twice with a prefix", GEO_MAP "    EU: [r]\n    continent:EU: [r]\n",
     "t.yaml:9:5: error: duplicate key 'continent:EU' in geo map (continent EU, first at line 8)"},
    {"map country twice", GEO_MAP "    fr: [r]\n    country:FR: [r]\n",
     "t.yaml:9:5: error: duplicate key 'country:FR' in geo map (country FR, first at line 8)"},
    {"map subdivision twice", GEO_MAP "    US-CA: [r]\n    us-ca: [r]\n",
     "t.yaml:9:5: error: duplicate key 'us-ca' in geo map (subdivision US-CA, first at line 8)"},
    {"unknown continent", GEO_MAP "    continent:XX: [r]\n",
     "t.yaml:8:5: error: geo map 'continent:XX': unknown continent 'XX' (use AF, AN, AS, EU, NA, "
     "OC or SA)"},
    {"continent prefix with a country", GEO_MAP "    continent:FR: [r]\n",
     "t.yaml:8:5: error: geo map 'continent:FR': unknown continent 'FR' (use AF, AN, AS, EU, NA, "
     "OC or SA)"},
    {"country prefix with three letters", GEO_MAP "    country:USA: [r]\n",
     "t.yaml:8:5: error: geo map 'country:USA': 'USA' is not a two-letter country code"},
    {"unassigned country", GEO_MAP "    XX: [r]\n",
     "t.yaml:8:5: error: geo map 'XX': unknown country code 'XX'"},
    {"UK for GB", GEO_MAP "    uk: [r]\n",
     "t.yaml:8:5: error: geo map 'uk': unknown country code 'UK' (the United Kingdom is GB)"},
    {"country prefix, unassigned", GEO_MAP "    country:EU: [r]\n",
     "t.yaml:8:5: error: geo map 'country:EU': unknown country code 'EU'"},
    {"subdivision of an unassigned country", GEO_MAP "    XX-CA: [r]\n",
     "t.yaml:8:5: error: geo map 'XX-CA': unknown country code 'XX'"},
    {"three-letter code", GEO_MAP "    USA: [r]\n",
     "t.yaml:8:5: error: geo map 'USA': key must be a continent (EU), a country (FR), a "
     "subdivision (US-CA), continent:XX or country:XX"},
    {"subdivision too long", GEO_MAP "    US-CALI: [r]\n",
     "t.yaml:8:5: error: geo map 'US-CALI': key must be a continent (EU), a country (FR), a "
     "subdivision (US-CA), continent:XX or country:XX"},
    {"subdivision with a bad character", GEO_MAP "    US-C_: [r]\n",
     "t.yaml:8:5: error: geo map 'US-C_': key must be a continent (EU), a country (FR), a "
     "subdivision (US-CA), continent:XX or country:XX"},
    {"non-ASCII letters", GEO_MAP "    \xc3\x89U: [r]\n",
     "t.yaml:8:5: error: geo map '\xc3\x89U': key must be a continent (EU), a country (FR), a "
     "subdivision (US-CA), continent:XX or country:XX"},
    {"bad key and bad list both reported", GEO_MAP "    USA: [nope]\n",
     "t.yaml:8:5: error: geo map 'USA': key must be a continent (EU), a country (FR), a "
     "subdivision (US-CA), continent:XX or country:XX\n"
     "t.yaml:8:11: error: geo map 'USA': region 'nope' is not defined"},
    /* Networks. */
    {"host bits set", GEO_NETS "    10.0.0.1/8: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0.1/8': host bits set beyond /8 (did you mean "
     "10.0.0.0/8?)"},
    {"IPv6 host bits set", GEO_NETS "    '2001:db8::1/32': [r]\n",
     "t.yaml:8:5: error: geo nets '2001:db8::1/32': host bits set beyond /32 (did you mean "
     "2001:db8::/32?)"},
    {"host bits within a byte", GEO_NETS "    192.0.2.130/25: [r]\n    192.0.2.128/26: [r]\n",
     "t.yaml:8:5: error: geo nets '192.0.2.130/25': host bits set beyond /25 (did you mean "
     "192.0.2.128/25?)"},
    {"host bits with /0", GEO_NETS "    '::1/0': [r]\n",
     "t.yaml:8:5: error: geo nets '::1/0': host bits set beyond /0 (did you mean ::/0?)"},
    {"IPv4 prefix too long", GEO_NETS "    10.0.0.0/33: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0.0/33': prefix length 33 out of range 0..32"},
    {"IPv6 prefix too long", GEO_NETS "    '::/129': [r]\n",
     "t.yaml:8:5: error: geo nets '::/129': prefix length 129 out of range 0..128"},
    {"prefix not a number", GEO_NETS "    10.0.0.0/x: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0.0/x': bad prefix length 'x'"},
    {"prefix missing after the slash", GEO_NETS "    10.0.0.0/: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0.0/': bad prefix length ''"},
    {"negative prefix", GEO_NETS "    10.0.0.0/-1: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0.0/-1': bad prefix length '-1'"},
    {"prefix with four digits", GEO_NETS "    10.0.0.0/0008: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0.0/0008': bad prefix length '0008'"},
    {"bad address", GEO_NETS "    10.0.0/8: [r]\n",
     "t.yaml:8:5: error: geo nets '10.0.0/8': bad IP address '10.0.0'"},
    {"a name is no address", GEO_NETS "    example.com: [r]\n",
     "t.yaml:8:5: error: geo nets 'example.com': bad IP address 'example.com'"},
    {"network twice", GEO_NETS "    10.0.0.0/8: [r]\n    10.0.0.0/8: [r]\n",
     "t.yaml:9:5: error: duplicate key '10.0.0.0/8' in geo nets (first at line 8)"},
    {"network spelled twice", GEO_NETS "    '2001:DB8::/32': [r]\n    '2001:db8:0::/32': [r]\n",
     "t.yaml:9:5: error: duplicate key '2001:db8:0::/32' in geo nets (2001:db8::/32, first at "
     "line 8)"},
    {"host with and without /32", GEO_NETS "    192.0.2.1: [r]\n    192.0.2.1/32: [r]\n",
     "t.yaml:9:5: error: duplicate key '192.0.2.1/32' in geo nets (192.0.2.1/32, first at line "
     "8)"},
    {"nets region not defined", GEO_NETS "    10.0.0.0/8: [x]\n",
     "t.yaml:8:18: error: geo nets '10.0.0.0/8': region 'x' is not defined"},
    {"nets list empty", GEO_NETS "    10.0.0.0/8: []\n",
     "t.yaml:8:17: error: geo nets '10.0.0.0/8': must not be empty"},
    /* default. */
    {"default region not defined", HEAD REGION "geo: {default: [x]}\n",
     "t.yaml:6:17: error: geo default: region 'x' is not defined"},
    {"default region twice", HEAD REGION "geo: {default: [r, r]}\n",
     "t.yaml:6:20: error: geo default: region 'r' is listed twice"},
    {"default empty", HEAD REGION "geo: {default: []}\n",
     "t.yaml:6:16: error: geo default: must not be empty"},
    {"default without value", HEAD REGION "geo:\n  default:\n",
     "t.yaml:7:3: error: geo default: must not be empty"},
    {"default not a list", HEAD REGION "geo: {default: r}\n",
     "t.yaml:6:16: error: geo default: must be a list of region names"},
    {"geo without regions", HEAD "geo: {default: [r]}\n",
     "t.yaml:4:17: error: geo default: region 'r' is not defined"},
};

/* A service at line 8 whose second key starts at column 26. */
#define SERVICE HEAD REGIONS2 "services:\n  www: {regions: [r, s], "

static const error_case_t service_geo_cases[] = {
    {"negative spread", SERVICE "spread_km: -1}\n",
     "t.yaml:8:37: error: service 'www': spread_km -1 out of range 0..20038"},
    {"spread beyond half the Earth", SERVICE "spread_km: 20038.5}\n",
     "t.yaml:8:37: error: service 'www': spread_km 20038.5 out of range 0..20038"},
    {"spread not a number", SERVICE "spread_km: far}\n",
     "t.yaml:8:37: error: service 'www': 'spread_km' must be a number, got 'far'"},
    {"spread in hexadecimal", SERVICE "spread_km: 0x10}\n",
     "t.yaml:8:37: error: service 'www': 'spread_km' must be a number, got '0x10'"},
    {"spread not a number (nan)", SERVICE "spread_km: nan}\n",
     "t.yaml:8:37: error: service 'www': 'spread_km' must be a number, got 'nan'"},
    {"spread with a unit", SERVICE "spread_km: 5km}\n",
     "t.yaml:8:37: error: service 'www': 'spread_km' must be a number, got '5km'"},
    {"spread is a list", SERVICE "spread_km: [1]}\n",
     "t.yaml:8:37: error: service 'www': 'spread_km' must be a number"},
    {"answers 0", SERVICE "answers: 0}\n",
     "t.yaml:8:35: error: service 'www': answers 0 out of range 1..16"},
    {"answers 17", SERVICE "answers: 17}\n",
     "t.yaml:8:35: error: service 'www': answers 17 out of range 1..16"},
    {"answers not an integer", SERVICE "answers: 1.5}\n",
     "t.yaml:8:35: error: service 'www': 'answers' must be an integer, got '1.5'"},
    {"answers above the regions", SERVICE "answers: 3}\n",
     "t.yaml:8:35: error: service 'www': answers 3 is more than the 2 regions of the service"},
    {"service ecs not a bool", SERVICE "ecs: sometimes}\n",
     "t.yaml:8:31: error: service 'www': 'ecs' must be true or false, got 'sometimes'"},
    {"service geo not a mapping", SERVICE "geo: [r]}\n",
     "t.yaml:8:31: error: service 'www': 'geo' must be a mapping"},
    {"service geo key typo", SERVICE "geo: {mapp: {}}}\n",
     "t.yaml:8:32: error: unknown key 'mapp' in service 'www': geo (did you mean 'map'?)"},
    {"service geo map region not defined", SERVICE "geo: {map: {EU: [us-west]}}}\n",
     "t.yaml:8:43: error: service 'www': geo map 'EU': region 'us-west' is not defined"},
    {"service geo map key twice", SERVICE "geo: {map: {EU: [r], eu: [s]}}}\n",
     "t.yaml:8:47: error: duplicate key 'eu' in service 'www': geo map (continent EU, first at "
     "line 8)"},
    {"service geo map bad key", SERVICE "geo: {map: {country:NAM: [r]}}}\n",
     "t.yaml:8:38: error: service 'www': geo map 'country:NAM': 'NAM' is not a two-letter "
     "country code"},
    {"service geo nets host bits", SERVICE "geo: {nets: {10.0.0.1/8: [r]}}}\n",
     "t.yaml:8:39: error: service 'www': geo nets '10.0.0.1/8': host bits set beyond /8 (did "
     "you mean 10.0.0.0/8?)"},
    {"service geo default empty", SERVICE "geo: {default: []}}\n",
     "t.yaml:8:41: error: service 'www': geo default: must not be empty"},
};

/* A check at line 5 whose second key starts at column 21. */
#define CHECK HEAD "checks:\n  web: {type: http, "

static const error_case_t stale_after_cases[] = {
    {"stale_after below the interval", CHECK "interval: 2s, stale_after: 1s}\n",
     "t.yaml:5:48: error: check 'web': stale_after 1s must be at least the interval 2s"},
    {"stale_after below the default interval", CHECK "stale_after: 1500ms}\n",
     "t.yaml:5:34: error: check 'web': stale_after 1500ms must be at least the interval 2s"},
    {"stale_after below an interval in bare seconds", CHECK "interval: 10, stale_after: 5s}\n",
     "t.yaml:5:48: error: check 'web': stale_after 5s must be at least the interval 10s"},
    {"stale_after above a day", CHECK "stale_after: 25h}\n",
     "t.yaml:5:34: error: check 'web': stale_after 25h out of range 100ms..1d"},
    {"stale_after below any interval", CHECK "stale_after: 50ms}\n",
     "t.yaml:5:34: error: check 'web': stale_after 50ms out of range 100ms..1d"},
    {"stale_after not a duration", CHECK "stale_after: soon}\n",
     "t.yaml:5:34: error: check 'web': 'stale_after' must be a duration like 2s or 500ms, got "
     "'soon'"},
    {"stale_after against a bad interval is not compared", CHECK "interval: 2h, stale_after: 1h}\n",
     "t.yaml:5:31: error: check 'web': interval 2h out of range 100ms..1h"},
    {"stale_after typo", CHECK "stale_afer: 6s}\n",
     "t.yaml:5:21: error: unknown key 'stale_afer' in check 'web' (did you mean 'stale_after'?)"},
    {"quorum zero", CHECK "quorum: 0}\n",
     "t.yaml:5:29: error: check 'web': quorum 0 out of range 1..64"},
    {"quorum above the most vantages", CHECK "quorum: 65}\n",
     "t.yaml:5:29: error: check 'web': quorum 65 out of range 1..64"},
    {"quorum a word", CHECK "quorum: most}\n",
     "t.yaml:5:29: error: check 'web': 'quorum' must be 'majority' or a number of vantages (1 "
     "to 64), got 'most'"},
    {"quorum negative", CHECK "quorum: -2}\n",
     "t.yaml:5:29: error: check 'web': 'quorum' must be 'majority' or a number of vantages (1 "
     "to 64), got '-2'"},
    {"quorum a list", CHECK "quorum: [2]}\n",
     "t.yaml:5:29: error: check 'web': 'quorum' must be 'majority' or a number of vantages (1 "
     "to 64), got 'a list or map'"},
};

static const error_case_t all_down_cases[] = {
    {"on_all_down unknown", SERVICE "on_all_down: drop}\n",
     "t.yaml:8:39: error: service 'www': 'on_all_down' must be one of open, fallback, nodata, "
     "servfail, got 'drop'"},
    {"on_all_down fallback without a region", SERVICE "on_all_down: fallback}\n",
     "t.yaml:8:39: error: service 'www': on_all_down fallback needs a 'fallback' region"},
    {"on_all_down fallback with an empty fallback", SERVICE "on_all_down: fallback, fallback: ~}\n",
     "t.yaml:8:39: error: service 'www': on_all_down fallback needs a 'fallback' region"},
    {"fallback with on_all_down nodata", SERVICE "on_all_down: nodata, fallback: r}\n",
     "t.yaml:8:47: error: service 'www': 'fallback' is only for on_all_down fallback, not nodata"},
    {"fallback with on_all_down open written", SERVICE "fallback: r, on_all_down: open}\n",
     "t.yaml:8:26: error: service 'www': 'fallback' is only for on_all_down fallback, not open"},
    {"fallback region not defined", SERVICE "fallback: ap-south}\n",
     "t.yaml:8:36: error: service 'www': region 'ap-south' is not defined"},
    {"fallback not a name", SERVICE "fallback: [r]}\n",
     "t.yaml:8:36: error: service 'www': 'fallback' must be a string"},
    {"fallback beside a bad on_all_down", SERVICE "on_all_down: maybe, fallback: r}\n",
     "t.yaml:8:39: error: service 'www': 'on_all_down' must be one of open, fallback, nodata, "
     "servfail, got 'maybe'"},
    {"fallback with servfail and undefined", SERVICE "on_all_down: servfail, fallback: x}\n",
     "t.yaml:8:49: error: service 'www': 'fallback' is only for on_all_down fallback, not "
     "servfail\n"
     "t.yaml:8:59: error: service 'www': region 'x' is not defined"},
    {"fallback typo", SERVICE "fallbak: r}\n",
     "t.yaml:8:26: error: unknown key 'fallbak' in service 'www' (did you mean 'fallback'?)"},
    {"min_ttl above the default ttl", SERVICE "min_ttl: 60}\n",
     "t.yaml:8:35: error: service 'www': min_ttl 60 is more than the ttl 30"},
    {"min_ttl as a duration above the ttl", SERVICE "ttl: 30s, min_ttl: 1m}\n",
     "t.yaml:8:45: error: service 'www': min_ttl 60 is more than the ttl 30"},
    {"min_ttl of 5 written above a ttl of 3", SERVICE "ttl: 3, min_ttl: 5}\n",
     "t.yaml:8:43: error: service 'www': min_ttl 5 is more than the ttl 3"},
    {"negative min_ttl", SERVICE "min_ttl: -1}\n",
     "t.yaml:8:35: error: service 'www': min_ttl -1 out of range 0..2147483647"},
    {"min_ttl not a duration", SERVICE "min_ttl: 5x}\n",
     "t.yaml:8:35: error: service 'www': 'min_ttl' must be a number of seconds or a duration "
     "like 5m, got '5x'"},
    {"min_ttl in milliseconds", SERVICE "min_ttl: 500ms}\n",
     "t.yaml:8:35: error: service 'www': 'min_ttl' must be a number of seconds or a duration "
     "like 5m, got '500ms'"},
    {"min_ttl against a bad ttl is not compared", SERVICE "ttl: -1, min_ttl: 10}\n",
     "t.yaml:8:31: error: service 'www': ttl -1 out of range 0..2147483647"},
    {"min_ttl typo", SERVICE "minttl: 5}\n",
     "t.yaml:8:26: error: unknown key 'minttl' in service 'www' (did you mean 'min_ttl'?)"},
};

/* Vantages at line 5, under "vantages:" at line 4. */
#define VANTAGES HEAD "vantages:\n"

static const error_case_t vantage_cases[] = {
    {"canary empty", VANTAGES "  ams: {canary: []}\n",
     "t.yaml:5:17: error: vantage 'ams': 'canary' must not be empty"},
    {"canary missing", VANTAGES "  ams: {}\n",
     "t.yaml:5:3: error: vantage 'ams': 'canary' is required"},
    {"canary not an address", VANTAGES "  ams: {canary: [example.com:80]}\n",
     "t.yaml:5:18: error: vantage 'ams': canary must be ADDRESS, IPv4:PORT or [IPv6]:PORT, got "
     "'example.com:80'"},
    {"canary without a port and no check", VANTAGES
     "  ams: {canary: [192.0.2.9, '[2001:db8::9]:443']}\n",
     "t.yaml:5:18: error: vantage 'ams': canary '192.0.2.9' needs a port: without a 'check' a "
     "canary is a TCP connect (write ADDRESS:PORT, or name a check)"},
    {"canary port 0", VANTAGES "  ams: {canary: ['192.0.2.9:0']}\n",
     "t.yaml:5:18: error: vantage 'ams': canary must be ADDRESS, IPv4:PORT or [IPv6]:PORT, got "
     "'192.0.2.9:0'"},
    {"check not defined, no port rule on top", VANTAGES
     "  ams: {canary: ['192.0.2.9:80'], check: nope}\n",
     "t.yaml:5:42: error: vantage 'ams': check 'nope' is not defined"},
    {"name that cannot travel", VANTAGES "  'a b': {canary: ['192.0.2.9:80']}\n",
     "t.yaml:5:3: error: vantage 'a b': a vantage name is 1 to 63 letters, digits, '-', '_' and "
     "'.' (it is healthd's --vantage and travels in health reports)"},
    {"a list, not a mapping", VANTAGES "  ams: [192.0.2.9]\n",
     "t.yaml:5:8: error: vantage 'ams': must be a mapping: {canary: [ADDRESS:PORT, ...], check: "
     "NAME}"},
    {"null, not a mapping", VANTAGES "  ams:\n",
     "t.yaml:5:3: error: vantage 'ams': must be a mapping: {canary: [ADDRESS:PORT, ...], check: "
     "NAME}"},
    {"canary listed twice", VANTAGES
     "  ams: {canary: ['192.0.2.9:80', '[2001:db8::9]:80', '192.0.2.9:80']}\n",
     "t.yaml:5:54: error: vantage 'ams': canary '192.0.2.9:80' is listed twice (first at line 5)"},
    {"canary typo", VANTAGES "  ams: {canary: ['192.0.2.9:80'], cnary: x}\n",
     "t.yaml:5:35: error: unknown key 'cnary' in vantage 'ams' (did you mean 'canary'?)"},
    {"canary item a mapping", VANTAGES "  ams: {canary: [{address: 192.0.2.9}]}\n",
     "t.yaml:5:18: error: vantage 'ams': 'canary' must be a list of addresses"},
    {"seventeen canaries", VANTAGES
     "  ams: {canary: ['10.0.0.1:1', '10.0.0.1:2', '10.0.0.1:3', '10.0.0.1:4', '10.0.0.1:5', "
     "'10.0.0.1:6', '10.0.0.1:7', '10.0.0.1:8', '10.0.0.1:9', '10.0.0.1:10', '10.0.0.1:11', "
     "'10.0.0.1:12', '10.0.0.1:13', '10.0.0.1:14', '10.0.0.1:15', '10.0.0.1:16', "
     "'10.0.0.1:17']}\n",
     "t.yaml:5:17: error: vantage 'ams': 'canary' lists 17 addresses, at most 16 are allowed"},
    {"vantage given twice", VANTAGES "  ams: {canary: ['192.0.2.9:80']}\n"
                            "  ams: {canary: ['192.0.2.8:80']}\n",
     "t.yaml:6:3: error: duplicate key 'ams' in vantages (first at line 5)"},
    {"every error of two vantages, in order", VANTAGES
     "  ams: {canary: [192.0.2.9]}\n"
     "  nyc: {canary: ['192.0.2.9:99999']}\n",
     "t.yaml:5:18: error: vantage 'ams': canary '192.0.2.9' needs a port: without a 'check' a "
     "canary is a TCP connect (write ADDRESS:PORT, or name a check)\n"
     "t.yaml:6:18: error: vantage 'nyc': canary must be ADDRESS, IPv4:PORT or [IPv6]:PORT, got "
     "'192.0.2.9:99999'"},
};

static void run_cases(const error_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        expect_errors(cases[i].what, cases[i].yaml, cases[i].errors);
    }
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

Test(zone, top_level_errors)
{
    RUN(top_cases);
}

Test(zone, yaml_syntax_errors)
{
    RUN(syntax_cases);
}

Test(zone, soa_errors)
{
    RUN(soa_cases);
}

Test(zone, records_errors)
{
    RUN(records_cases);
}

Test(zone, region_check_service_errors)
{
    RUN(gslb_cases);
}

Test(zone, geo_errors)
{
    RUN(geo_cases);
}

Test(zone, service_geo_errors)
{
    RUN(service_geo_cases);
}

Test(zone, stale_after_errors)
{
    RUN(stale_after_cases);
}

Test(zone, on_all_down_fallback_min_ttl_errors)
{
    RUN(all_down_cases);
}

Test(zone, vantage_errors)
{
    RUN(vantage_cases);
}

Test(zone, vantages_and_their_canaries)
{
    zone_t *z = load_ok(HEAD "checks:\n"
                             "  web: {type: http, port: 8080, path: /health}\n"
                             "  ssh: {type: tcp, port: 22}\n"
                             "vantages:\n"
                             "  ams: {canary: ['192.0.2.9:80', '[2001:db8::9]:443']}\n"
                             "  nyc: {canary: [198.51.100.9], check: web}\n"
                             "  sfo: {canary: ['2001:db8::7'], check: ssh}\n");
    const zone_vantage_t *v;

    cr_assert_eq(z->n_vantages, 3);
    v = &z->vantages[0];
    cr_expect_str_eq(v->name, "ams");
    cr_expect_eq(v->mark.line, 8);
    cr_expect_eq(v->mark.col, 3);
    cr_expect_eq(v->check, -1, "no check: the default TCP connect");
    cr_assert_eq(v->n_canary, 2);
    cr_expect_str_eq(v->canary[0].text, "192.0.2.9:80");
    cr_expect_eq(v->canary[0].family, AF_INET);
    cr_expect_eq(memcmp(v->canary[0].addr, "\xc0\x00\x02\x09", 4), 0);
    cr_expect_eq(v->canary[0].port, 80);
    cr_expect_eq(v->canary[1].family, AF_INET6);
    cr_expect_eq(v->canary[1].addr[15], 9);
    cr_expect_eq(v->canary[1].port, 443);
    cr_expect_eq(v->canary[1].mark.line, 8);
    cr_expect_eq(v->canary[1].mark.col, 34);
    v = &z->vantages[1];
    cr_expect_str_eq(v->name, "nyc");
    cr_expect_eq(v->check, 0);
    cr_assert_eq(v->n_canary, 1);
    cr_expect_eq(v->canary[0].port, 0, "the check's port, 8080");
    v = &z->vantages[2];
    cr_expect_eq(v->check, 1, "a tcp check gives the port");
    cr_expect_eq(v->canary[0].family, AF_INET6);
    zone_free(z);

    z = load_ok(HEAD);
    cr_expect_eq(z->n_vantages, 0, "vantages are optional");
    cr_expect_null(z->vantages);
    zone_free(z);
}

Test(zone, every_error_of_a_file_is_reported_in_file_order)
{
    diag_t errs = {0};
    zone_t *z = NULL;
    char *got;

    cr_assert_eq(zone_load(DATA "zone-errors.yaml", 0, &z, &errs), GSLB_ECONFIG);
    cr_assert_null(z);
    got = join_errors(&errs);
    cr_expect_str_eq(
        got,
        "tests/unit/data/zone-errors.yaml:3:6: error: ttl 4294967296 out of range 0..2147483647\n"
        "tests/unit/data/zone-errors.yaml:9:3: error: service 'www': name also has A records "
        "under records (line 18)\n"
        "tests/unit/data/zone-errors.yaml:9:28: error: service 'www': region 'us-west' is not "
        "defined\n"
        "tests/unit/data/zone-errors.yaml:13:5: error: unknown key 'wieght' in region 'eu-west' "
        "(did you mean 'weight'?)\n"
        "tests/unit/data/zone-errors.yaml:14:5: error: duplicate key 'location' in region "
        "'eu-west' (first at line 12)\n"
        "tests/unit/data/zone-errors.yaml:15:12: error: region 'eu-west': check 'api' is not "
        "defined\n"
        "tests/unit/data/zone-errors.yaml:19:15: error: records 'api': 'AAAA': bad IPv6 address "
        "'2001:db8::zz'\n"
        "tests/unit/data/zone-errors.yaml:20:10: error: records 'docs': CNAME cannot coexist with "
        "other data at the same name\n"
        "tests/unit/data/zone-errors.yaml:21:3: error: records 'foo.example.org.': name is "
        "outside zone 'gslb.example.com'");
    free(got);
    diag_clear(&errs);
}

Test(zone, unreadable_file)
{
    diag_t errs = {0};
    zone_t *z = NULL;

    cr_assert_eq(zone_load(DATA "no-such-file.yaml", 0, &z, &errs), GSLB_ECONFIG);
    cr_assert_eq(errs.n, 1);
    cr_expect_str_eq(errs.lines[0],
                     "tests/unit/data/no-such-file.yaml: error: cannot read: No such file or "
                     "directory");
    diag_clear(&errs);
}

/* ---- values ---- */

Test(zone, serial_given_is_kept)
{
    zone_t *z = load_ok("zone: gslb.example.com\n"
                        "soa: {mname: a.b, rname: c.d, serial: 2024010101, ttl: 1h}\n"
                        "ns: [a.b]\n");

    cr_expect(z->serial_given);
    cr_expect_eq(z->serial, 2024010101u);
    cr_expect_eq(ldns_rdf2native_int32(ldns_rr_rdf(z->soa, 2)), 2024010101u);
    cr_expect_eq(ldns_rr_ttl(z->soa), 3600);
    zone_free(z);
}

/* Set a file's modification time, as rsync -t or touch -d would. */
static void set_mtime(const char *name, time_t when)
{
    struct timeval tv[2] = {{.tv_sec = when}, {.tv_sec = when}};

    cr_assert_eq(utimes(tmp_path(name), tv), 0);
}

Test(zone, serial_derive_table)
{
    zone_t prev = {.serial = 100, .digest = 7}, top = {.serial = 0xffffffffu, .digest = 7};
    static const struct {
        int64_t mtime;
        uint64_t digest;
        bool has_prev, top;
        uint32_t want;
        bool bumped;
    } cases[] = {
        {1700000000, 1, false, false, 1700000000u, false}, /* start-up: the file's time */
        {0, 1, false, false, 1, false},                    /* 0 is not a serial we give */
        {(1ll << 32) + 5, 1, false, false, 5, false},      /* seconds modulo 2^32 */
        {200, 8, true, false, 200, false},                 /* an edit, later */
        {200, 7, true, false, 200, false},                 /* a touch: fresh servers say 200 */
        {100, 7, true, false, 100, false},                 /* nothing changed */
        {100, 8, true, false, 101, true},                  /* edited within the same second */
        {50, 8, true, false, 101, true},                   /* edited, time went back */
        {50, 7, true, false, 100, false},                  /* same bytes, older time: keep */
        {10, 8, true, true, 10, false},                    /* RFC 1982: 10 follows 4294967295 */
        {0xfffffff0, 8, true, true, 1, true},              /* 4294967295 + 1 skips 0 */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const zone_t *p = cases[i].has_prev ? (cases[i].top ? &top : &prev) : NULL;
        bool bumped = !cases[i].bumped;
        uint32_t got = zone_serial_derive(cases[i].mtime, cases[i].digest, p, &bumped);

        cr_expect_eq(got, cases[i].want, "case %zu: got %u, want %u", i, got, cases[i].want);
        cr_expect_eq(bumped, cases[i].bumped, "case %zu", i);
    }
}

Test(zone, serial_gt_is_rfc1982)
{
    cr_expect(zone_serial_gt(2, 1));
    cr_expect_not(zone_serial_gt(1, 1));
    cr_expect_not(zone_serial_gt(1, 2));
    cr_expect(zone_serial_gt(0, 0xffffffffu));     /* wraps */
    cr_expect(zone_serial_gt(0x7fffffffu, 0));     /* 2^31 - 1 ahead */
    cr_expect_not(zone_serial_gt(0x80000000u, 0)); /* 2^31 apart: undefined, not greater */
    cr_expect_not(zone_serial_gt(0xffffffffu, 0)); /* behind by one */
}

Test(zone, derived_serial_follows_the_file)
{
    diag_t errs = {0};
    zone_t *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL;

    write_file("t.yaml", HEAD);
    set_mtime("t.yaml", 1700000000);
    cr_assert_eq(zone_load(tmp_path("t.yaml"), NULL, &a, &errs), 0);
    cr_expect_not(a->serial_given);
    cr_expect_eq(a->serial, 1700000000u);
    cr_expect_eq(ldns_rdf2native_int32(ldns_rr_rdf(a->soa, 2)), 1700000000u);
    /* A copy elsewhere with the same time: another server, the same serial. */
    write_file("copy.yaml", HEAD);
    set_mtime("copy.yaml", 1700000000);
    cr_assert_eq(zone_load(tmp_path("copy.yaml"), NULL, &b, &errs), 0);
    cr_expect_eq(b->serial, a->serial);
    cr_expect_eq(b->digest, a->digest);
    /* Reloaded as it is (SIGHUP): unchanged. */
    zone_free(b);
    cr_assert_eq(zone_load(tmp_path("t.yaml"), a, &b, &errs), 0);
    cr_expect_eq(b->serial, a->serial);
    /* Edited a minute later: the new time. */
    write_file("t.yaml", HEAD "ttl: 60\n");
    set_mtime("t.yaml", 1700000060);
    cr_assert_eq(zone_load(tmp_path("t.yaml"), b, &c, &errs), 0);
    cr_expect_eq(c->serial, 1700000060u);
    cr_expect_eq(errs.n, 0);
    /* Edited again within that second: one more, and a warning. */
    write_file("t.yaml", HEAD "ttl: 61\n");
    set_mtime("t.yaml", 1700000060);
    cr_assert_eq(zone_load(tmp_path("t.yaml"), c, &d, &errs), 0);
    cr_expect_eq(d->serial, 1700000061u);
    cr_expect_eq(ldns_rdf2native_int32(ldns_rr_rdf(d->soa, 2)), 1700000061u);
    cr_assert_eq(errs.n, 1);
    cr_expect_eq(errs.errors, 0);
    cr_expect_not_null(strstr(errs.lines[0], ": warning: the file changed but its modification "
                                             "time gives serial 1700000060, not above the "
                                             "1700000060 served: serving 1700000061"),
                       "%s", errs.lines[0]);
    diag_clear(&errs);
    /* Restored with an old time: never backwards. */
    write_file("t.yaml", HEAD);
    set_mtime("t.yaml", 1600000000);
    cr_assert_eq(zone_load(tmp_path("t.yaml"), d, &e, &errs), 0);
    cr_expect_eq(e->serial, 1700000062u);
    cr_expect_eq(errs.n, 1);
    diag_clear(&errs);
    /* A written serial is the serial, whatever the time. */
    write_file("t.yaml", "zone: gslb.example.com\n"
                         "soa: {mname: ns1.example.net, rname: h.example.net, serial: 7}\n"
                         "ns: [ns1.example.net]\n");
    cr_assert_eq(zone_load(tmp_path("t.yaml"), e, &f, &errs), 0);
    cr_expect_eq(f->serial, 7u);
    cr_expect_eq(errs.n, 0);
    zone_free(a);
    zone_free(b);
    zone_free(c);
    zone_free(d);
    zone_free(e);
    zone_free(f);
}

Test(zone, load_path_takes_the_previous_zone_by_name)
{
    diag_t errs = {0};
    zone_t **first, **second, **third;
    size_t n1, n2, n3;

    write_file("t.yaml", HEAD);
    set_mtime("t.yaml", 1700000000);
    cr_assert_eq(zone_load_path(tmp_path("t.yaml"), NULL, 0, &first, &n1, &errs), 0);
    cr_assert_eq(n1, 1);
    cr_expect_eq(first[0]->serial, 1700000000u);
    /* The same zone read from the directory: the same bytes, the same serial. */
    cr_assert_eq(zone_load_path(tmpdir, first, n1, &second, &n2, &errs), 0);
    cr_assert_eq(n2, 1);
    cr_expect_eq(second[0]->serial, first[0]->serial);
    /* Edited within the same second: it still grows. */
    write_file("t.yaml", HEAD "ttl: 60\n");
    set_mtime("t.yaml", 1700000000);
    cr_assert_eq(zone_load_path(tmpdir, second, n2, &third, &n3, &errs), 0);
    cr_expect_eq(third[0]->serial, 1700000001u);
    cr_expect_eq(ldns_rdf2native_int32(ldns_rr_rdf(third[0]->soa, 2)), third[0]->serial);
    cr_expect_eq(errs.n, 1);
    diag_clear(&errs);
    zone_set_free(first, n1);
    zone_set_free(second, n2);
    zone_set_free(third, n3);
}

Test(zone, soa_defaults_names_and_mail_address)
{
    zone_t *z = load_ok("zone: GSLB.Example.COM.\n"
                        "ttl: 1h30m\n"
                        "soa: {mname: ns1, rname: john.doe@Example.COM}\n"
                        "ns: [ns1.example.net]\n");
    char *s = ldns_rr2str(z->soa), *o = ldns_rdf2str(z->origin);

    cr_expect_str_eq(o, "gslb.example.com.");
    cr_expect_eq(z->ttl, 5400);
    cr_expect_eq(ldns_rr_ttl(z->soa), 5400);
    cr_expect_not_null(strstr(s, "SOA\tns1.gslb.example.com. john\\.doe.example.com. "), "%s", s);
    cr_expect_not_null(strstr(s, " 3600 600 604800 60\n"), "%s", s);
    free(s);
    free(o);
    zone_free(z);
}

Test(zone, plain_rname_and_absolute_mname)
{
    zone_t *z = load_ok("zone: gslb.example.com\n"
                        "soa: {mname: ns1.example.net., rname: hostmaster, refresh: 1d, "
                        "retry: 10m, expire: 2w, minimum: 30s}\n"
                        "ns: [ns1.example.net]\n");
    char *s = ldns_rr2str(z->soa);

    cr_expect_not_null(strstr(s, "ns1.example.net. hostmaster.gslb.example.com. "), "%s", s);
    cr_expect_not_null(strstr(s, " 86400 600 1209600 30\n"), "%s", s);
    free(s);
    zone_free(z);
}

Test(zone, check_durations_and_options)
{
    zone_t *z =
        load_ok(HEAD "checks:\n"
                     "  a: {type: https, interval: 500ms, timeout: 200ms, expect: [200, 204],"
                     " host: www.example.com, sni: sni.example.com, body: ok, tls_verify: no}\n"
                     "  b: {type: tcp, port: 5432, interval: 1m, timeout: 5}\n"
                     "  c: {type: http, interval: 3, rise: 1, fall: 100}\n");

    cr_assert_eq(z->n_checks, 3);
    cr_expect_eq(z->checks[0].type, CHECK_HTTPS);
    cr_expect_eq(z->checks[0].port, 443);
    cr_expect_str_eq(z->checks[0].path, "/");
    cr_expect_eq(z->checks[0].interval_ms, 500);
    cr_expect_eq(z->checks[0].timeout_ms, 200);
    cr_assert_eq(z->checks[0].n_expect, 2);
    cr_expect_eq(z->checks[0].expect[1], 204);
    cr_expect_str_eq(z->checks[0].host, "www.example.com");
    cr_expect_str_eq(z->checks[0].sni, "sni.example.com");
    cr_expect_str_eq(z->checks[0].body, "ok");
    cr_expect_not(z->checks[0].tls_verify);
    cr_expect_eq(z->checks[1].type, CHECK_TCP);
    cr_expect_eq(z->checks[1].port, 5432);
    cr_expect_eq(z->checks[1].interval_ms, 60000);
    cr_expect_eq(z->checks[1].timeout_ms, 5000);
    cr_expect_eq(z->checks[2].interval_ms, 3000, "a bare number is seconds");
    cr_expect_eq(z->checks[2].rise, 1);
    cr_expect_eq(z->checks[2].fall, 100);
    zone_free(z);
}

Test(zone, check_stale_after)
{
    zone_t *z =
        load_ok(HEAD "checks:\n"
                     "  a: {type: http}\n"
                     "  b: {type: http, interval: 500ms, timeout: 100ms}\n"
                     "  c: {type: http, stale_after: 10s}\n"
                     "  d: {type: http, interval: 1h, timeout: 1m, stale_after: 1h}\n"
                     "  e: {type: http, interval: 1h, timeout: 1m}\n"
                     "  f: {type: tcp, port: 22, stale_after: 1d}\n"
                     "  g: {type: http, interval: 3, stale_after: ~}\n"
                     "  h: {type: http, interval: 100ms, timeout: 50ms, stale_after: 100ms}\n");

    cr_assert_eq(z->n_checks, 8);
    cr_expect_eq(z->checks[0].stale_after_ms, 6000, "default: three default intervals");
    cr_expect_eq(z->checks[1].stale_after_ms, 1500, "default: three intervals");
    cr_expect_eq(z->checks[2].stale_after_ms, 10000);
    cr_expect_eq(z->checks[3].stale_after_ms, 3600000, "equal to the interval is enough");
    cr_expect_eq(z->checks[4].stale_after_ms, 10800000, "three of the longest interval");
    cr_expect_eq(z->checks[5].stale_after_ms, 86400000, "one day is the longest");
    cr_expect_eq(z->checks[6].stale_after_ms, 9000, "a null value is absent");
    cr_expect_eq(z->checks[7].stale_after_ms, 100);
    zone_free(z);
}

Test(zone, check_quorum)
{
    zone_t *z = load_ok(HEAD "checks:\n"
                             "  a: {type: http}\n"
                             "  b: {type: http, quorum: majority}\n"
                             "  c: {type: http, quorum: 2}\n"
                             "  d: {type: http, quorum: 64}\n");

    cr_assert_eq(z->n_checks, 4);
    cr_expect_eq(z->checks[0].quorum, 0, "default: a majority of the vantages voting");
    cr_expect_eq(z->checks[1].quorum, 0);
    cr_expect_eq(z->checks[2].quorum, 2);
    cr_expect_eq(z->checks[3].quorum, 64);
    zone_free(z);
}

Test(zone, service_on_all_down_fallback_and_min_ttl)
{
    zone_t *z = load_ok(HEAD REGIONS2 "  t: {location: [2, 2], pool: [192.0.2.3]}\n"
                                      "services:\n"
                                      "  www: {regions: [r]}\n"
                                      "  a: {regions: [r], fallback: t}\n"
                                      "  b: {regions: [r, s], on_all_down: fallback, fallback: s}\n"
                                      "  c: {regions: [r], on_all_down: nodata}\n"
                                      "  d: {regions: [r], on_all_down: SERVFAIL}\n"
                                      "  e: {regions: [r], on_all_down: open, ttl: 3}\n"
                                      "  f: {regions: [r], ttl: 0}\n"
                                      "  g: {regions: [r], ttl: 1h, min_ttl: 1m}\n"
                                      "  h: {regions: [r], ttl: 10, min_ttl: 10}\n"
                                      "  i: {regions: [r], min_ttl: 0}\n"
                                      "  j: {regions: [r], ttl: 3, min_ttl: ~}\n"
                                      "  k: {regions: [r], on_all_down: ~, fallback: r}\n");
    const zone_service_t *s = z->services;

    cr_assert_eq(z->n_services, 12);
    cr_expect_eq(s[0].on_all_down, ALL_DOWN_OPEN, "open by default");
    cr_expect_eq(s[0].fallback, SIZE_MAX, "no fallback region");
    cr_expect_eq(s[0].min_ttl, 5);
    cr_expect_eq(s[1].on_all_down, ALL_DOWN_FALLBACK, "a fallback region implies fallback");
    cr_expect_eq(s[1].fallback, 2, "a region the service does not list");
    cr_expect_eq(s[2].on_all_down, ALL_DOWN_FALLBACK);
    cr_expect_eq(s[2].fallback, 1, "a region the service lists");
    cr_expect_eq(s[3].on_all_down, ALL_DOWN_NODATA);
    cr_expect_eq(s[3].fallback, SIZE_MAX);
    cr_expect_eq(s[4].on_all_down, ALL_DOWN_SERVFAIL, "case does not matter");
    cr_expect_eq(s[5].on_all_down, ALL_DOWN_OPEN);
    cr_expect_eq(s[5].min_ttl, 3, "the default follows a ttl below 5");
    cr_expect_eq(s[6].min_ttl, 0);
    cr_expect_eq(s[7].ttl, 3600);
    cr_expect_eq(s[7].min_ttl, 60);
    cr_expect_eq(s[8].min_ttl, 10, "equal to the ttl is allowed");
    cr_expect_eq(s[9].min_ttl, 0);
    cr_expect_eq(s[10].min_ttl, 3, "a null value is absent");
    cr_expect_eq(s[11].on_all_down, ALL_DOWN_FALLBACK, "a null on_all_down is absent");
    cr_expect_eq(s[11].fallback, 0);
    zone_free(z);
}

Test(zone, txt_is_the_text_itself)
{
    char long_text[301], yaml[1024];
    zone_t *z;
    ldns_rr *rr;

    memset(long_text, 'x', 300);
    long_text[300] = '\0';
    snprintf(yaml, sizeof(yaml),
             HEAD "records:\n"
                  "  a: {TXT: 'He said \"hi\"; \\ back'}\n"
                  "  b: {TXT: %s}\n"
                  "  c: {TXT: [one, two], ttl: 60}\n"
                  "  d: {txt: ''}\n",
             long_text);
    z = load_ok(yaml);
    cr_assert_eq(ldns_rr_list_rr_count(z->rrs), 6);
    rr = ldns_rr_list_rr(z->rrs, 1);
    cr_assert_eq(ldns_rr_rd_count(rr), 1);
    cr_expect_eq(ldns_rdf_size(ldns_rr_rdf(rr, 0)), 1 + 20);
    cr_expect_eq(memcmp(ldns_rdf_data(ldns_rr_rdf(rr, 0)), "\024He said \"hi\"; \\ back", 21), 0);
    /* RFC 1035 section 3.3: at most 255 bytes per character-string. */
    rr = ldns_rr_list_rr(z->rrs, 2);
    cr_assert_eq(ldns_rr_rd_count(rr), 2);
    cr_expect_eq(ldns_rdf_size(ldns_rr_rdf(rr, 0)), 256);
    cr_expect_eq(ldns_rdf_size(ldns_rr_rdf(rr, 1)), 46);
    expect_rr(z, 3, "c.gslb.example.com.\t60\tIN\tTXT\t\"one\"");
    expect_rr(z, 4, "c.gslb.example.com.\t60\tIN\tTXT\t\"two\"");
    expect_rr(z, 5, "d.gslb.example.com.\t300\tIN\tTXT\t\"\"");
    zone_free(z);
}

Test(zone, record_values_lists_and_names)
{
    zone_t *z = load_ok(
        HEAD "records:\n"
             "  www: {a: [192.0.2.1, 192.0.2.2], ttl: 5m}\n"
             "  WWW2.gslb.example.com.: {AAAA: '2001:db8::1'}\n"
             "  '@': {CAA: '0 issue \"letsencrypt.org\"', MX: ['10 mx1', '20 mx2.example.net.']}\n"
             "  1.2: {PTR: host.example.net.}\n");

    cr_assert_eq(ldns_rr_list_rr_count(z->rrs), 8);
    expect_rr(z, 1, "www.gslb.example.com.\t300\tIN\tA\t192.0.2.1");
    expect_rr(z, 2, "www.gslb.example.com.\t300\tIN\tA\t192.0.2.2");
    expect_rr(z, 3, "www2.gslb.example.com.\t300\tIN\tAAAA\t2001:db8::1");
    expect_rr(z, 4, "gslb.example.com.\t300\tIN\tCAA\t0 issue \"letsencrypt.org\"");
    expect_rr(z, 5, "gslb.example.com.\t300\tIN\tMX\t10 mx1.gslb.example.com.");
    expect_rr(z, 6, "gslb.example.com.\t300\tIN\tMX\t20 mx2.example.net.");
    expect_rr(z, 7, "1.2.gslb.example.com.\t300\tIN\tPTR\thost.example.net.");
    zone_free(z);
}

Test(zone, per_name_ttl)
{
    zone_t *z =
        load_ok(HEAD "ttl: 120\nrecords:\n  www: {ttl: 5m, A: 192.0.2.1}\n  x: {A: 192.0.2.2}\n");

    expect_rr(z, 0, "gslb.example.com.\t120\tIN\tNS\tns1.example.net.");
    expect_rr(z, 1, "www.gslb.example.com.\t300\tIN\tA\t192.0.2.1");
    expect_rr(z, 2, "x.gslb.example.com.\t120\tIN\tA\t192.0.2.2");
    zone_free(z);
}

Test(zone, delegation_with_glue)
{
    zone_t *z = load_ok(HEAD "records:\n"
                             "  sub: {NS: [ns.sub, ns.example.net.]}\n"
                             "  ns.sub: {A: 192.0.2.53}\n");

    cr_assert_eq(ldns_rr_list_rr_count(z->rrs), 4);
    expect_rr(z, 1, "sub.gslb.example.com.\t300\tIN\tNS\tns.sub.gslb.example.com.");
    expect_rr(z, 2, "sub.gslb.example.com.\t300\tIN\tNS\tns.example.net.");
    zone_free(z);
}

Test(zone, pool_probes_weights_and_policies)
{
    zone_t *z = load_ok(HEAD "regions:\n"
                             "  r1:\n"
                             "    location: [-33.9, 151.2]\n"
                             "    weight: 0\n"
                             "    min_up: 2\n"
                             "    max_addrs: 2\n"
                             "    pool:\n"
                             "      - {address: 192.0.2.1, probe: '198.51.100.1:8080'}\n"
                             "      - {address: '2001:db8::1', probe: '[2001:db8::2]:8443'}\n"
                             "      - {address: 192.0.2.2, probe: '2001:db8::3'}\n"
                             "  r2: {location: [0, 0], pool: [192.0.2.9]}\n"
                             "services:\n"
                             "  app: {regions: [r2, r1], policy: failover, ttl: 1m}\n"
                             "  '@': {regions: [r1], policy: weighted}\n");
    const zone_member_t *m;
    char *owner;

    cr_assert_eq(z->n_regions, 2);
    cr_expect_float_eq(z->regions[0].lat, -33.9, 1e-9);
    cr_expect_eq(z->regions[0].weight, 0);
    cr_expect_eq(z->regions[0].min_up, 2);
    cr_expect_eq(z->regions[0].max_addrs, 2, "as many as the larger family is allowed");
    cr_expect_eq(z->regions[1].max_addrs, 0, "default: every address");
    cr_expect_eq(z->regions[0].check, -1);
    cr_assert_eq(z->regions[0].n_pool, 3);
    m = &z->regions[0].pool[0];
    cr_expect_eq(m->probe_family, AF_INET);
    cr_expect_eq(memcmp(m->probe_addr, "\xc6\x33\x64\x01", 4), 0);
    cr_expect_eq(m->probe_port, 8080);
    cr_expect_eq(m->mark.line, 11);
    cr_expect_eq(m->mark.col, 9);
    m = &z->regions[0].pool[1];
    cr_expect_eq(m->family, AF_INET6);
    cr_expect_eq(m->probe_family, AF_INET6);
    cr_expect_eq(m->probe_addr[15], 2);
    cr_expect_eq(m->probe_port, 8443);
    m = &z->regions[0].pool[2];
    cr_expect_eq(m->family, AF_INET);
    cr_expect_eq(m->probe_family, AF_INET6);
    cr_expect_eq(m->probe_port, 0);
    cr_expect_eq(z->regions[1].weight, 100);
    cr_assert_eq(z->n_services, 2);
    cr_expect_eq(z->services[0].policy, POLICY_FAILOVER);
    cr_expect_eq(z->services[0].ttl, 60);
    cr_expect_eq(z->services[0].regions[0], 1);
    cr_expect_eq(z->services[0].regions[1], 0);
    cr_expect_eq(z->services[1].policy, POLICY_WEIGHTED);
    cr_expect_eq(z->services[1].ttl, 30);
    owner = ldns_rdf2str(z->services[1].owner);
    cr_expect_str_eq(owner, "gslb.example.com.");
    free(owner);
    zone_free(z);
}

Test(zone, service_beside_other_types_is_fine)
{
    zone_t *z = load_ok(HEAD "records:\n  www: {TXT: hello, MX: '10 mx.example.net.'}\n" REGION
                             "services:\n  www: {regions: [r]}\n");

    cr_expect_eq(z->n_services, 1);
    zone_free(z);
}

Test(zone, empty_sections_are_absent)
{
    zone_t *z = load_ok(HEAD "records:\nregions: {}\nchecks: ~\nservices: null\n");

    cr_expect_eq(ldns_rr_list_rr_count(z->rrs), 1);
    cr_expect_eq(z->n_regions + z->n_checks + z->n_services, 0);
    zone_free(z);
}

Test(zone, anchors_and_aliases)
{
    zone_t *z = load_ok(HEAD "checks:\n  web: &web {type: http}\n  web2: *web\n"
                             "regions:\n  a: {location: &here [1, 2], pool: [192.0.2.1]}\n"
                             "  b: {location: *here, pool: [192.0.2.2]}\n");

    cr_expect_eq(z->n_checks, 2);
    cr_expect_float_eq(z->regions[1].lon, 2.0, 1e-9);
    zone_free(z);
}

/* ---- ecs and geo ---- */

static void expect_map(const zone_geo_map_t *e, zone_geo_kind_t kind, const char *code,
                       unsigned line, size_t n, const size_t *regions)
{
    cr_expect_eq(e->kind, kind, "%s", code);
    cr_expect_str_eq(e->code, code);
    cr_expect_eq(e->mark.line, line, "%s", code);
    cr_expect_eq(e->mark.col, 5, "%s", code);
    cr_assert_eq(e->n_regions, n, "%s", code);
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(e->regions[i], regions[i], "%s region %zu", code, i);
    }
}

static void expect_net(const zone_geo_net_t *e, int family, const char *addr, unsigned prefix,
                       size_t region)
{
    uint8_t want[16] = {0};

    cr_assert_eq(inet_pton(family, addr, want), 1, "%s", addr);
    cr_expect_eq(e->family, family, "%s", addr);
    cr_expect_eq(memcmp(e->addr, want, sizeof(want)), 0, "%s", addr);
    cr_expect_eq(e->prefix, prefix, "%s", addr);
    cr_assert_eq(e->n_regions, 1, "%s", addr);
    cr_expect_eq(e->regions[0], region, "%s", addr);
}

Test(zone, geo_at_top_level)
{
    zone_t *z = load_ok(HEAD REGIONS2 "geo:\n"
                                      "  map:\n"
                                      "    EU: [s, r]\n"
                                      "    country:NA: [r]\n"
                                      "    NA: [s]\n"
                                      "    Continent:oc: [r]\n"
                                      "    cn: [s]\n"
                                      "    us-ca: [r]\n"
                                      "    GB-ENG: [s]\n"
                                      "    FR-75: [r]\n"
                                      "    XK: [r]\n"
                                      "  nets:\n"
                                      "    10.0.0.0/8: [r]\n"
                                      "    192.0.2.1: [s]\n"
                                      "    '2001:DB8::/32': [s]\n"
                                      "    0.0.0.0/0: [r]\n"
                                      "    '::/0': [s]\n"
                                      "    '::ffff:192.0.2.0/120': [r]\n"
                                      "    '2001:db8::1': [r]\n"
                                      "  default: [s]\n");
    const zone_geo_t *g = &z->geo;
    static const size_t sr[] = {1, 0}, r[] = {0}, s1[] = {1};

    cr_expect(z->ecs, "ecs is on by default");
    cr_expect(g->given);
    cr_expect_eq(g->mark.line, 7);
    cr_expect_eq(g->mark.col, 1);
    cr_assert_eq(g->n_map, 9);
    expect_map(&g->map[0], GEO_KEY_CONTINENT, "EU", 9, 2, sr);
    expect_map(&g->map[1], GEO_KEY_COUNTRY, "NA", 10, 1, r);
    expect_map(&g->map[2], GEO_KEY_CONTINENT, "NA", 11, 1, s1);
    expect_map(&g->map[3], GEO_KEY_CONTINENT, "OC", 12, 1, r);
    expect_map(&g->map[4], GEO_KEY_COUNTRY, "CN", 13, 1, s1);
    expect_map(&g->map[5], GEO_KEY_SUBDIVISION, "US-CA", 14, 1, r);
    expect_map(&g->map[6], GEO_KEY_SUBDIVISION, "GB-ENG", 15, 1, s1);
    expect_map(&g->map[7], GEO_KEY_SUBDIVISION, "FR-75", 16, 1, r);
    expect_map(&g->map[8], GEO_KEY_COUNTRY, "XK", 17, 1, r);
    cr_assert_eq(g->n_nets, 7);
    expect_net(&g->nets[0], AF_INET, "10.0.0.0", 8, 0);
    expect_net(&g->nets[1], AF_INET, "192.0.2.1", 32, 1);
    expect_net(&g->nets[2], AF_INET6, "2001:db8::", 32, 1);
    expect_net(&g->nets[3], AF_INET, "0.0.0.0", 0, 0);
    expect_net(&g->nets[4], AF_INET6, "::", 0, 1);
    expect_net(&g->nets[5], AF_INET6, "::ffff:192.0.2.0", 120, 0);
    expect_net(&g->nets[6], AF_INET6, "2001:db8::1", 128, 0);
    cr_expect_eq(g->nets[0].mark.line, 19);
    cr_expect_eq(g->nets[0].mark.col, 5);
    cr_assert_eq(g->n_dflt, 1);
    cr_expect_eq(g->dflt[0], 1);
    zone_free(z);
}

Test(zone, geo_may_be_empty_or_partial)
{
    zone_t *z = load_ok(HEAD REGION "ecs: no\ngeo: {map: {}, nets: ~}\n");

    cr_expect_not(z->ecs);
    cr_expect(z->geo.given, "an empty geo: is still written");
    cr_expect_eq(z->geo.n_map + z->geo.n_nets + z->geo.n_dflt, 0);
    zone_free(z);
    z = load_ok(HEAD REGION "geo:\n");
    cr_expect_not(z->geo.given, "a null geo: is absent, like any null value");
    zone_free(z);
}

Test(zone, service_options_and_overrides)
{
    zone_t *z = load_ok(HEAD "ecs: off\n" REGIONS2 "services:\n"
                             "  www: {regions: [r, s], spread_km: 250.5, answers: 2, ecs: on}\n"
                             "  api: {regions: [s, r], geo: {map: {EU: [s]}, default: [r]}}\n"
                             "  web: {regions: [r], spread_km: 20038, answers: 1, geo: {}}\n"
                             "  cdn: {regions: [r], spread_km: 1e3, ecs: false}\n"
                             "geo: {map: {AS: [r]}}\n");
    const zone_service_t *s = z->services;

    cr_expect_not(z->ecs);
    cr_expect(z->geo.given);
    cr_assert_eq(z->n_services, 4);
    cr_expect_float_eq(s[0].spread_km, 250.5, 1e-9);
    cr_expect_eq(s[0].answers, 2);
    cr_expect(s[0].ecs, "a service's ecs wins over the zone's");
    cr_expect_not(s[0].geo.given, "without geo: the zone's applies");
    cr_expect_float_eq(s[1].spread_km, 0.0, 1e-9);
    cr_expect_eq(s[1].answers, 1);
    cr_expect_not(s[1].ecs, "ecs defaults to the zone's");
    cr_expect(s[1].geo.given);
    cr_expect_eq(s[1].geo.mark.line, 10);
    cr_expect_eq(s[1].geo.mark.col, 26);
    cr_assert_eq(s[1].geo.n_map, 1);
    cr_expect_eq(s[1].geo.map[0].kind, GEO_KEY_CONTINENT);
    cr_expect_str_eq(s[1].geo.map[0].code, "EU");
    cr_assert_eq(s[1].geo.map[0].n_regions, 1);
    cr_expect_eq(s[1].geo.map[0].regions[0], 1);
    cr_expect_eq(s[1].geo.n_nets, 0);
    cr_assert_eq(s[1].geo.n_dflt, 1);
    cr_expect_eq(s[1].geo.dflt[0], 0);
    cr_expect_float_eq(s[2].spread_km, 20038.0, 1e-9);
    cr_expect(s[2].geo.given, "geo: {} replaces the zone's with nothing");
    cr_expect_eq(s[2].geo.n_map + s[2].geo.n_nets + s[2].geo.n_dflt, 0);
    cr_expect_float_eq(s[3].spread_km, 1000.0, 1e-9);
    cr_expect_not(s[3].ecs);
    zone_free(z);
}

Test(zone, service_ecs_follows_the_zone_default)
{
    zone_t *z = load_ok(HEAD REGION "services:\n  www: {regions: [r]}\n  api: {regions: [r], "
                                    "ecs: no}\n");

    cr_expect(z->ecs);
    cr_expect(z->services[0].ecs);
    cr_expect_not(z->services[1].ecs);
    zone_free(z);
}

Test(zone, every_geo_error_of_a_file_is_reported_in_file_order)
{
    diag_t errs = {0};
    zone_t *z = NULL;
    char *got;

    cr_assert_eq(zone_load(DATA "zone-geo-errors.yaml", 0, &z, &errs), GSLB_ECONFIG);
    cr_assert_null(z);
    got = join_errors(&errs);
    cr_expect_str_eq(
        got,
        "tests/unit/data/zone-geo-errors.yaml:9:6: error: 'ecs' must be true or false, got "
        "'perhaps'\n"
        "tests/unit/data/zone-geo-errors.yaml:13:14: error: service 'www': answers 3 is more than "
        "the 2 regions of the service\n"
        "tests/unit/data/zone-geo-errors.yaml:14:16: error: service 'www': spread_km 30000 out of "
        "range 0..20038\n"
        "tests/unit/data/zone-geo-errors.yaml:18:9: error: duplicate key 'continent:eu' in "
        "service 'www': geo map (continent EU, first at line 17)\n"
        "tests/unit/data/zone-geo-errors.yaml:19:17: error: service 'www': geo default: region "
        "'ap-south' is not defined\n"
        "tests/unit/data/zone-geo-errors.yaml:22:5: error: geo map 'country:ZZ': unknown country "
        "code 'ZZ'\n"
        "tests/unit/data/zone-geo-errors.yaml:23:5: error: geo map 'UK': unknown country code 'UK' "
        "(the United Kingdom is GB)\n"
        "tests/unit/data/zone-geo-errors.yaml:23:19: error: geo map 'UK': region 'eu-west' is "
        "listed twice\n"
        "tests/unit/data/zone-geo-errors.yaml:26:5: error: geo nets '10.0.0.1/8': host bits set "
        "beyond /8 (did you mean 10.0.0.0/8?)\n"
        "tests/unit/data/zone-geo-errors.yaml:27:5: error: duplicate key '2001:DB8::/32' in geo "
        "nets (2001:db8::/32, first at line 25)\n"
        "tests/unit/data/zone-geo-errors.yaml:28:12: error: geo default: must not be empty");
    free(got);
    diag_clear(&errs);
}

Test(zone, every_failure_handling_error_of_a_file_is_reported_in_file_order)
{
    diag_t errs = {0};
    zone_t *z = NULL;
    char *got;

    cr_assert_eq(zone_load(DATA "zone-all-down-errors.yaml", 0, &z, &errs), GSLB_ECONFIG);
    cr_assert_null(z);
    got = join_errors(&errs);
    cr_expect_str_eq(
        got,
        "tests/unit/data/zone-all-down-errors.yaml:8:42: error: service 'www': on_all_down "
        "fallback needs a 'fallback' region\n"
        "tests/unit/data/zone-all-down-errors.yaml:8:61: error: service 'www': min_ttl 60 is more "
        "than the ttl 30\n"
        "tests/unit/data/zone-all-down-errors.yaml:9:52: error: service 'api': 'fallback' is only "
        "for on_all_down fallback, not servfail\n"
        "tests/unit/data/zone-all-down-errors.yaml:10:39: error: service 'app': region 'us-west' "
        "is not defined\n"
        "tests/unit/data/zone-all-down-errors.yaml:10:65: error: service 'app': min_ttl 3 is more "
        "than the ttl 2\n"
        "tests/unit/data/zone-all-down-errors.yaml:16:61: error: check 'web': stale_after 4s must "
        "be at least the interval 5s\n"
        "tests/unit/data/zone-all-down-errors.yaml:17:43: error: check 'tcp': stale_after 2d out "
        "of range 100ms..1d");
    free(got);
    diag_clear(&errs);
}

/* The text from `from` up to (not including) `to`, or to the end when `to`
 * is NULL, with a leading "#" and one space after it removed from each line.
 * Caller frees. */
static char *uncomment(const char *from, const char *to)
{
    size_t len = to ? (size_t)(to - from) : strlen(from);
    char *out = calloc(1, len + 1), *p = out;

    cr_assert_not_null(out);
    for (size_t i = 0; i < len; i++) {
        if (from[i] == '#' && (i == 0 || from[i - 1] == '\n')) {
            i += from[i + 1] == ' ';
            continue;
        }
        *p++ = from[i];
    }
    return out;
}

/* The commented-out example line that starts with `start` (up to the next
 * "#" line), uncommented. Caller frees. */
static char *comment_example(const char *text, const char *start)
{
    const char *from = strstr(text, start), *to;

    cr_assert_not_null(from, "%s", start);
    to = strstr(from, "\n#\n");
    cr_assert_not_null(to, "%s", start);
    return uncomment(from + 1, to + 1);
}

/* Replace the first `line` of *text with `with`. */
static void replace_line(char **text, const char *line, const char *with)
{
    char *at = strstr(*text, line), *out;

    cr_assert_not_null(at, "%s", line);
    cr_assert_gt(asprintf(&out, "%.*s%s%s", (int)(at - *text), *text, with, at + strlen(line)), 0);
    free(*text);
    *text = out;
}

/* The commented-out example at the end of the example zone must stay valid:
 * put its check and service lines in place of web and www, add its
 * top-level keys, and load. */
Test(zone, example_comment_block_is_valid)
{
    static const char web[] = "  web: {type: http, port: 80, path: /health, expect: 200, "
                              "interval: 2s, timeout: 1s, rise: 2, fall: 2}\n";
    static const char www[] =
        "  www: {regions: [us-east, us-west, eu-west, ap-south], policy: nearest, ttl: 30}\n";
    char *text = NULL, *chk, *svc, *top, *yaml;
    size_t size = 0;
    FILE *f = fopen(EXAMPLE, "r");
    zone_t *z;

    cr_assert_not_null(f);
    cr_assert_gt(getdelim(&text, &size, '\0', f), 0);
    fclose(f);
    chk = comment_example(text, "\n#   web: {");
    svc = comment_example(text, "\n#   www: {");
    top = strstr(text, "\n# ecs: true\n");
    cr_assert_not_null(top);
    top = uncomment(top + 1, NULL);
    replace_line(&text, web, chk);
    replace_line(&text, www, svc);
    cr_assert_gt(asprintf(&yaml, "%s%s", text, top), 0);
    z = load_ok(yaml);
    cr_assert_eq(z->n_checks, 1);
    cr_expect_eq(z->checks[0].stale_after_ms, 10000);
    cr_expect(z->ecs);
    cr_expect(z->geo.given);
    cr_expect_eq(z->geo.n_map, 4);
    cr_expect_eq(z->geo.n_nets, 2);
    cr_expect_eq(z->geo.n_dflt, 1);
    cr_assert_eq(z->n_services, 1);
    cr_expect_float_eq(z->services[0].spread_km, 500.0, 1e-9);
    cr_expect_eq(z->services[0].answers, 2);
    cr_expect(z->services[0].ecs);
    cr_expect(z->services[0].geo.given);
    cr_expect_eq(z->services[0].geo.n_map, 1);
    cr_expect_eq(z->services[0].on_all_down, ALL_DOWN_FALLBACK);
    cr_expect_eq(z->services[0].fallback, 0);
    cr_expect_eq(z->services[0].min_ttl, 10);
    cr_assert_eq(z->n_vantages, 2);
    cr_expect_eq(z->vantages[0].n_canary, 3);
    cr_expect_eq(z->vantages[1].check, 0);
    zone_free(z);
    free(yaml);
    free(chk);
    free(svc);
    free(top);
    free(text);
}

/* ---- sets of files ---- */

Test(zone, list_files_of_a_directory_sorted)
{
    diag_t errs = {0};
    char **files;
    size_t n;

    write_file("c.yaml", HEAD);
    write_file("a.yaml", HEAD);
    write_file("b.yml", HEAD);
    write_file(".hidden.yaml", HEAD);
    cr_assert_eq(zone_list_files(tmpdir, &files, &n, &errs), 0);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(files[0], tmp_path("a.yaml"));
    cr_expect_str_eq(files[1], tmp_path("c.yaml"));
    zone_files_free(files, n);
    cr_assert_eq(zone_list_files(tmp_path("b.yml"), &files, &n, &errs), 0);
    cr_assert_eq(n, 1, "a file is taken whatever its name");
    cr_expect_str_eq(files[0], tmp_path("b.yml"));
    zone_files_free(files, n);
    cr_expect_eq(errs.n, 0);
}

Test(zone, list_files_errors)
{
    diag_t errs = {0};
    char **files = NULL;
    size_t n = 0;
    char *got;

    mkdir(tmp_path("empty"), 0700);
    cr_expect_lt(zone_list_files(tmp_path("empty"), &files, &n, &errs), 0);
    cr_expect_lt(zone_list_files(tmp_path("nope"), &files, &n, &errs), 0);
    cr_expect_null(files);
    got = join_errors(&errs);
    cr_expect_str_eq(got, "empty: error: no *.yaml zone files in directory\n"
                          "nope: error: cannot read: No such file or directory");
    free(got);
    diag_clear(&errs);
}

Test(zone, same_zone_in_two_files)
{
    diag_t errs = {0};
    zone_t **zones = NULL;
    size_t n = 0;
    char *got, want[512];

    write_file("a.yaml", HEAD);
    write_file("b.yaml", "# the same zone again\n" HEAD);
    write_file("c.yaml", "zone: other.example.com\nsoa: {mname: a.b, rname: c.d}\nns: [a.b]\n");
    cr_assert_eq(zone_load_path(tmpdir, NULL, 0, &zones, &n, &errs), GSLB_ECONFIG);
    cr_expect_null(zones);
    got = join_errors(&errs);
    snprintf(want, sizeof(want),
             "b.yaml:2:7: error: zone 'gslb.example.com' is already served from %s/a.yaml", tmpdir);
    cr_expect_str_eq(got, want);
    free(got);
    diag_clear(&errs);
}

Test(zone, load_path_reports_every_file)
{
    diag_t errs = {0};
    zone_t **zones = NULL;
    size_t n = 0;
    char *got;

    write_file("a.yaml", HEAD "ttl: x\n");
    write_file("b.yaml", HEAD);
    write_file("c.yaml", HEAD "bogus: 1\n");
    cr_assert_eq(zone_load_path(tmpdir, NULL, 0, &zones, &n, &errs), GSLB_ECONFIG);
    got = join_errors(&errs);
    cr_expect_str_eq(got,
                     "a.yaml:4:6: error: 'ttl' must be a number of seconds or a duration like 5m, "
                     "got 'x'\n"
                     "c.yaml:4:1: error: unknown key 'bogus' at top level");
    free(got);
    diag_clear(&errs);
}

Test(zone, load_path_of_the_examples)
{
    diag_t errs = {0};
    zone_t **zones = NULL;
    size_t n = 0;

    cr_assert_eq(zone_load_path("zones/examples", NULL, 0, &zones, &n, &errs), 0);
    cr_expect_geq(n, 1);
    cr_expect_eq(errs.n, 0);
    zone_set_free(zones, n);
}

Test(zone, error_lines_without_position)
{
    diag_t errs = {0};
    diag_mark_t m = {.file = "f.yaml"};

    diag_error(&errs, &m, "no %s", "position");
    m.line = 3;
    m.col = 9;
    diag_error(&errs, &m, "two\nlines");
    diag_error(&errs, NULL, "nowhere");
    cr_assert_eq(errs.n, 3);
    cr_expect_str_eq(errs.lines[0], "f.yaml: error: no position");
    cr_expect_str_eq(errs.lines[1], "f.yaml:3:9: error: two\\nlines");
    cr_expect_str_eq(errs.lines[2], "error: nowhere");
    diag_clear(&errs);
    cr_expect_eq(errs.n, 0);
    zone_free(NULL);
    zone_set_free(NULL, 0);
}

/* Owners are looked up case-insensitively (RFC 4343): an NS target written in
 * capitals finds its lower-case glue, and an apex NS in capitals its address. */
Test(zone, ns_targets_match_their_glue_in_any_case)
{
    zone_t *z = load_ok("zone: c.test\n"
                        "soa: {mname: ns1.c.test, rname: h.c.test}\n"
                        "ns: [NS1.C.TEST]\n"
                        "records:\n"
                        "  ns1: {A: 192.0.2.1}\n"
                        "  sub: {NS: NS.Sub.C.Test.}\n"
                        "  ns.sub: {A: 192.0.2.2}\n");
    zone_free(z);
}

/* The query path sizes its scratch space by ZONE_SERVICE_REGIONS_MAX: a
 * service listing more is refused at load, one listing exactly that many
 * loads. */
static char *many_regions_zone(int n)
{
    size_t cap = 200 + (size_t)n * 80, len = 0;
    char *y = malloc(cap);

    len += (size_t)snprintf(y + len, cap - len, "%sregions:\n", HEAD);
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(y + len, cap - len,
                                "  r%d: {location: [0, 0], pool: [192.0.2.1]}\n", i);
    }
    len += (size_t)snprintf(y + len, cap - len, "services:\n  www: {regions: [");
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(y + len, cap - len, "%sr%d", i ? ", " : "", i);
    }
    snprintf(y + len, cap - len, "]}\n");
    return y;
}

Test(zone, service_region_count_is_bounded)
{
    char *yaml = many_regions_zone(ZONE_SERVICE_REGIONS_MAX);
    zone_t *z = load_ok(yaml);

    cr_expect_eq(z->services[0].n_regions, ZONE_SERVICE_REGIONS_MAX);
    zone_free(z);
    free(yaml);
    yaml = many_regions_zone(ZONE_SERVICE_REGIONS_MAX + 1);
    expect_errors("one region too many", yaml,
                  "t.yaml:1031:18: error: service 'www': 'regions' lists 1025 regions, at most "
                  "1024 are allowed");
    free(yaml);
}

/* ---- CNAME loops ---- */

/* A CNAME chain that comes back to a name already on it never ends: gslbd
 * would answer with CNAME_CHAIN_MAX copies of the loop and resolvers give up
 * with SERVFAIL (RFC 1034 section 3.6.2: "CNAME chains should be followed",
 * and a loop cannot be). Each loop is reported once, at the CNAME of the name
 * written first, naming the whole chain. */
static const error_case_t cname_loop_cases[] = {
    {"two names pointing at each other",
     HEAD "records:\n  loop1: {CNAME: loop2}\n  loop2: {CNAME: loop1}\n",
     "t.yaml:5:11: error: records 'loop1': CNAME loop: loop1 -> loop2 -> loop1"},
    {"a name pointing at itself", HEAD "records:\n  self: {CNAME: self.gslb.example.com.}\n",
     "t.yaml:5:10: error: records 'self': CNAME loop: self -> self"},
    {"three names, one absolute and in capitals",
     HEAD "records:\n  c: {CNAME: A.GSLB.EXAMPLE.COM.}\n  a: {CNAME: b}\n  b: {CNAME: c}\n",
     "t.yaml:5:7: error: records 'c': CNAME loop: c -> a -> b -> c"},
    {"a chain into a loop reports the loop only",
     HEAD "records:\n  www: {CNAME: x}\n  x: {CNAME: y}\n  y: {CNAME: x}\n",
     "t.yaml:6:7: error: records 'x': CNAME loop: x -> y -> x"},
    {"two separate loops", HEAD "records:\n  a: {CNAME: b}\n  b: {CNAME: a}\n  c: {CNAME: c}\n",
     "t.yaml:5:7: error: records 'a': CNAME loop: a -> b -> a\n"
     "t.yaml:7:7: error: records 'c': CNAME loop: c -> c"},
};

Test(zone, cname_loops_are_refused)
{
    RUN(cname_loop_cases);
}

/* Chains that end (at an address, a service, a name outside the zone or a
 * name that does not exist) are fine, however they are spelled. */
Test(zone, cname_chains_that_end_load)
{
    zone_t *z = load_ok(HEAD "records:\n"
                             "  a: {CNAME: b}\n"
                             "  b: {CNAME: C.gslb.example.com.}\n"
                             "  c: {A: 192.0.2.1}\n"
                             "  d: {CNAME: www}\n"
                             "  e: {CNAME: www.example.org.}\n"
                             "  f: {CNAME: nothing}\n" REGION "services:\n  www: {regions: [r]}\n");

    cr_expect_eq(ldns_rr_list_rr_count(z->rrs), 7);
    zone_free(z);
}

/* A loop through many names is found in one pass (not a walk per name) and
 * its message stays short. */
Test(zone, long_cname_loop_is_named_briefly)
{
    DEADLINE(20);
    size_t n = 20000, cap = 64 + n * 40, len = 0;
    char *y = malloc(cap);

    len += (size_t)snprintf(y + len, cap - len, "%srecords:\n", HEAD);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(y + len, cap - len, "  n%zu: {CNAME: n%zu}\n", i, (i + 1) % n);
    }
    expect_errors("20000 names in a loop", y,
                  "t.yaml:5:8: error: records 'n0': CNAME loop of 20000 names: n0 -> n1 -> n2 -> "
                  "n3 -> n4 -> n5 -> ... -> n19999 -> n0");
    free(y);
}

/* ---- limits: what one file may make the loader do ---- */

/* A file of `n` bytes: HEAD, then comment lines of 64 bytes, the last one
 * cut to fit. Caller frees. */
static char *padded_zone(size_t n)
{
    char *y = malloc(n + 1);
    size_t len = strlen(HEAD);

    memcpy(y, HEAD, len);
    while (len < n) {
        size_t k = n - len < 64 ? n - len : 64;

        memset(y + len, 'x', k);
        y[len] = '#';
        y[len + k - 1] = '\n';
        len += k;
    }
    y[n] = '\0';
    return y;
}

/* A zone file of ZONE_FILE_MAX bytes loads; one byte more is refused at the
 * place the limit is reached, before libyaml sees any of it. */
Test(zone, file_size_is_bounded)
{
    DEADLINE(30);
    char *y = padded_zone(ZONE_FILE_MAX);
    zone_t *z = load_ok(y);
    char want[160];
    size_t lines = 3 + (ZONE_FILE_MAX - strlen(HEAD)) / 64;

    zone_free(z);
    free(y);
    y = padded_zone(ZONE_FILE_MAX + 100);
    snprintf(want, sizeof(want),
             "t.yaml:%zu:%zu: error: zone file larger than %u bytes (4 MiB), the most a zone file "
             "may have",
             lines + 1, (size_t)1 + (ZONE_FILE_MAX - strlen(HEAD)) % 64, ZONE_FILE_MAX);
    expect_errors("one byte too many", y, want);
    free(y);
}

/* "[" repeated: libyaml's cost grows with the square of the depth (100,000
 * brackets took 31 s), so the depth is checked as the file is parsed and
 * parsing stops at the first node too deep. */
static char *nested(const char *key, size_t depth)
{
    size_t klen = strlen(key), hlen = strlen(HEAD);
    char *y = malloc(hlen + klen + 2 * depth + 2);

    memcpy(y, HEAD, hlen);
    memcpy(y + hlen, key, klen);
    memset(y + hlen + klen, '[', depth);
    memset(y + hlen + klen + depth, ']', depth);
    strcpy(y + hlen + klen + 2 * depth, "\n");
    return y;
}

Test(zone, nesting_depth_is_bounded)
{
    DEADLINE(10);
    char *y = nested("x: ", ZONE_DEPTH_MAX - 1); /* the top-level mapping is the first level */

    expect_errors("as deep as allowed", y, "t.yaml:4:1: error: unknown key 'x' at top level");
    free(y);
    y = nested("x: ", ZONE_DEPTH_MAX);
    expect_errors("one level too deep", y,
                  "t.yaml:4:67: error: mappings and lists nested more than 64 deep");
    free(y);
    y = nested("records: ", 100000);
    expect_errors("100000 brackets", y,
                  "t.yaml:4:73: error: mappings and lists nested more than 64 deep");
    free(y);
}

/* Block mappings, one more space of indentation per level. */
Test(zone, block_nesting_depth_is_bounded)
{
    DEADLINE(10);
    size_t depth = 2000, cap = strlen(HEAD) + depth * (depth + 4), len = 0;
    char *y = malloc(cap);

    len += (size_t)snprintf(y, cap, "%s", HEAD);
    for (size_t i = 0; i < depth; i++) {
        len += (size_t)snprintf(y + len, cap - len, "%*sk:\n", (int)i, "");
    }
    expect_errors("2000 levels of block mappings", y,
                  "t.yaml:68:65: error: mappings and lists nested more than 64 deep");
    free(y);
}

/* Each level of anchors holds ten aliases of the one before: the last would
 * stand for 10^9 nodes. The count stops at ZONE_ALIAS_NODES_MAX, at the
 * alias that crosses it. */
Test(zone, alias_expansion_is_bounded)
{
    DEADLINE(10);
    char y[2048];
    size_t len = (size_t)snprintf(y, sizeof(y), "%sx0: &a0 [a, a, a, a, a, a, a, a, a, a]\n", HEAD);

    for (int i = 1; i < 9; i++) {
        len += (size_t)snprintf(y + len, sizeof(y) - len, "x%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++) {
            len += (size_t)snprintf(y + len, sizeof(y) - len, "%s*a%d", k ? ", " : "", i - 1);
        }
        len += (size_t)snprintf(y + len, sizeof(y) - len, "]\n");
    }
    expect_errors("a billion laughs", y,
                  "t.yaml:8:45: error: aliases expand to more than 100000 nodes");
}

/* The 23 KB file of the issue: names sharing one long list through an
 * alias, each walked (and checked for duplicates) in full. */
Test(zone, many_aliases_of_a_long_list_are_bounded)
{
    DEADLINE(10);
    size_t cap = 64 * 1024, len = 0;
    char *y = malloc(cap);

    len += (size_t)snprintf(y, cap, "%srecords:\n  n0: {TXT: &v [", HEAD);
    for (int i = 0; i < 1500; i++) {
        len += (size_t)snprintf(y + len, cap - len, "%st%d", i ? ", " : "", i);
    }
    len += (size_t)snprintf(y + len, cap - len, "]}\n");
    for (int i = 1; i < 1000; i++) {
        len += (size_t)snprintf(y + len, cap - len, "  n%d: {TXT: *v}\n", i);
    }
    expect_errors("1000 names aliasing 1500 values", y,
                  "t.yaml:72:14: error: aliases expand to more than 100000 nodes");
    free(y);
}

/* An alias inside the node it names would make the tree infinite. The
 * errors libyaml's own loader gave for aliases stay as they were. */
static const error_case_t alias_cases[] = {
    {"alias inside its own anchor", HEAD "x: &a [1, *a]\n",
     "t.yaml:4:11: error: alias '*a' refers to a node that contains it"},
    {"alias before its anchor", HEAD "x: *a\ny: &a 1\n",
     "t.yaml:4:4: error: YAML syntax: found undefined alias"},
    {"anchor defined twice", HEAD "x: &a 1\ny: &a 2\n",
     "t.yaml:5:4: error: YAML syntax: second occurrence (found duplicate anchor; first "
     "occurrence at line 4, column 4)"},
};

Test(zone, alias_errors)
{
    RUN(alias_cases);
}

/* ---- long lists: every check for repeats, and every lookup by name, must
 * cost O(n log n) or less, since a file within the limits above may still
 * hold a few hundred thousand items. Each case took from several seconds
 * to minutes while these were a comparison of each item with every earlier
 * one; the timeouts are far above what they take now. ---- */

/* A growing string for the generated zones below. */
typedef struct {
    char *s;
    size_t len, cap;
} text_t;

static void add(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        cr_assert_geq(n, 0);
        if (t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->s = realloc(t->s, t->cap);
        cr_assert_not_null(t->s);
    }
}

static void add_regions(text_t *t, int n, const char *check)
{
    add(t, "regions:\n");
    for (int i = 0; i < n; i++) {
        add(t, "  r%d: {location: [0, 0], pool: [192.0.2.1]%s%s}\n", i, check ? ", check: " : "",
            check ? check : "");
    }
}

Test(zone, many_values_at_one_name)
{
    DEADLINE(10);
    text_t t = {0};
    zone_t *z;

    add(&t, "%srecords:\n  www: {A: [", HEAD);
    for (int i = 0; i < 20000; i++) {
        add(&t, "%s10.0.%d.%d", i ? ", " : "", i / 256, i % 256);
    }
    add(&t, "]}\n  txt: {TXT: [");
    for (int i = 0; i < 20000; i++) {
        add(&t, "%sv%d", i ? ", " : "", i);
    }
    add(&t, "]}\n");
    z = load_ok(t.s);
    cr_expect_eq(ldns_rr_list_rr_count(z->rrs), 40001);
    zone_free(z);
    free(t.s);
}

Test(zone, many_name_servers)
{
    DEADLINE(10);
    text_t t = {0};
    zone_t *z;

    add(&t, "zone: gslb.example.com\nsoa: {mname: ns1.example.net, rname: h.example.net}\nns: [");
    for (int i = 0; i < 20000; i++) {
        add(&t, "%sns%d.example.net", i ? ", " : "", i);
    }
    add(&t, "]\n");
    z = load_ok(t.s);
    cr_expect_eq(ldns_rr_list_rr_count(z->rrs), 20000);
    zone_free(z);
    free(t.s);
}

Test(zone, a_large_pool)
{
    DEADLINE(10);
    text_t t = {0};
    zone_t *z;

    add(&t, "%sregions:\n  r: {location: [0, 0], pool: [", HEAD);
    for (int i = 0; i < 200000; i++) {
        add(&t, "%s10.%d.%d.%d", i ? ", " : "", i >> 16, (i >> 8) & 255, i & 255);
    }
    add(&t, "]}\n");
    z = load_ok(t.s);
    cr_expect_eq(z->regions[0].n_pool, 200000);
    zone_free(z);
    free(t.s);
}

Test(zone, many_geo_networks)
{
    DEADLINE(10);
    text_t t = {0};
    zone_t *z;

    add(&t, "%sregions:\n  r: {location: [0, 0], pool: [192.0.2.1]}\ngeo:\n  nets: {", HEAD);
    for (int i = 0; i < 160000; i++) {
        add(&t, "%s%d.%d.%d.0/24: [r]", i ? ", " : "", 10 + (i >> 16), (i >> 8) & 255, i & 255);
    }
    add(&t, "}\n");
    z = load_ok(t.s);
    cr_expect_eq(z->geo.n_nets, 160000);
    zone_free(z);
    free(t.s);
}

/* Regions and checks are looked up by name wherever they are named. */
Test(zone, many_regions_checks_and_lookups)
{
    DEADLINE(10);
    text_t t = {0};
    zone_t *z;

    add(&t, "%schecks:\n", HEAD);
    for (int i = 0; i < 20000; i++) {
        add(&t, "  c%d: {type: tcp, port: 80}\n", i);
    }
    add_regions(&t, 20000, "c19999");
    add(&t, "geo:\n  map:\n    EU: [");
    for (int i = 0; i < 20000; i++) {
        add(&t, "%sr%d", i ? ", " : "", 19999 - i);
    }
    add(&t, "]\nservices:\n");
    for (int s = 0; s < 100; s++) {
        add(&t, "  s%d: {regions: [", s);
        for (int i = 0; i < ZONE_SERVICE_REGIONS_MAX; i++) {
            add(&t, "%sr%d", i ? ", " : "", 19999 - i);
        }
        add(&t, "]}\n");
    }
    z = load_ok(t.s);
    cr_expect_eq(z->n_regions, 20000);
    cr_expect_eq(z->regions[0].check, 19999);
    cr_expect_eq(z->geo.map[0].n_regions, 20000);
    cr_expect_eq(z->geo.map[0].regions[0], 19999);
    cr_expect_eq(z->services[99].regions[1023], 19999 - 1023);
    zone_free(z);
    free(t.s);
}

Test(zone, many_services)
{
    DEADLINE(10);
    text_t t = {0};
    zone_t *z;

    add(&t, "%sregions:\n  r: {location: [0, 0], pool: [192.0.2.1]}\nservices:\n", HEAD);
    for (int i = 0; i < 50000; i++) {
        add(&t, "  s%d: {regions: [r]}\n", i);
    }
    z = load_ok(t.s);
    cr_expect_eq(z->n_services, 50000);
    zone_free(z);
    free(t.s);
}

/* Keys of one name's mapping compare without case; thousands of them that
 * are no record type are each reported once. */
Test(zone, many_keys_at_one_name)
{
    DEADLINE(10);
    text_t t = {0};
    char *errors;

    add(&t, "%srecords:\n  www: {A: 192.0.2.1, a: 192.0.2.2", HEAD);
    for (int i = 0; i < 50000; i++) {
        add(&t, ", k%d: x", i);
    }
    add(&t, "}\n");
    cr_expect_null(load_text(t.s, &errors));
    cr_expect(strstr(errors, "t.yaml:5:23: error: duplicate key 'a' in records 'www' (first at "
                             "line 5)\n") == errors,
              "%.200s", errors);
    cr_expect(strstr(errors, "unknown key 'k49999' in records 'www'") != NULL);
    free(errors);
    free(t.s);
}

Test(zone, region_bias)
{
    zone_t *z = load_ok(HEAD "regions:\n"
                             "  a: {location: [0, -10], bias: 99, pool: [192.0.2.1]}\n"
                             "  b: {location: [0, 10], bias: -99, pool: [192.0.2.2]}\n"
                             "  c: {location: [0, 20], bias: 0, pool: [192.0.2.3]}\n"
                             "services:\n"
                             "  www: {regions: [a, b, c]}\n");

    cr_assert_eq(z->n_regions, 3);
    cr_expect_eq(z->regions[0].bias, 99, "the ends of the range are allowed");
    cr_expect_eq(z->regions[1].bias, -99);
    cr_expect_eq(z->regions[2].bias, 0);
    zone_free(z);
}

/* --check: a quorum above the vantages the zone declares is never reached. */
Test(zone, lint_quorum_above_the_vantages_declared)
{
    zone_t *z = load_ok(HEAD "checks:\n"
                             "  web: {type: http, quorum: 3}\n"
                             "  two: {type: http, quorum: 2}\n"
                             "vantages:\n"
                             "  ams: {canary: ['192.0.2.9:80']}\n"
                             "  nyc: {canary: ['192.0.2.10:80']}\n");
    diag_t out = {0};

    zone_lint(z, &out);
    cr_assert_eq(out.n, 1, "one warning, for web only (got %zu)", out.n);
    cr_expect(strstr(out.lines[0], ":5:3: warning: check 'web': quorum 3 is more than the 2 "
                                    "vantages this zone declares") != NULL,
              "%s", out.lines[0]);
    diag_clear(&out);
    zone_free(z);

    z = load_ok(HEAD "checks:\n  web: {type: http, quorum: 5}\n");
    zone_lint(z, &out);
    cr_expect_eq(out.n, 0, "no vantages: declared in another file, or by --vantage alone");
    diag_clear(&out);
    zone_free(z);
}
