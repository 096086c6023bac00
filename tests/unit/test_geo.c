/*
 * Unit tests for geo/ (database compilation, region orders, overrides, ECS
 * scopes) and gslbd/select.c (policies, weights, spread). The GeoIP database
 * is built by the test itself with geo/build-testdb from the spec below.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "geo/geomap.h"
#include "geo/mapcache.h"
#include "gslbd/engine/select.h"

#include <errno.h>

/* Documentation and loopback ranges placed around the world. Later lines win
 * where networks overlap. */
static const char *spec_text = "81.2.69.0/24      GB EU 51.5 -0.13\n"
                               "81.2.70.0/24      IE EU 53.35 -6.26\n"
                               "81.2.71.0/24      GB EU 51.5 -0.13 ENG\n"
                               "192.0.2.0/25      US NA 38.9 -77.0 VA\n"
                               "192.0.2.128/25    US NA 37.4 -122.1 CA\n"
                               "198.51.100.0/24   SG AS 1.29 103.85\n"
                               "203.0.113.0/24    - AF - -\n"
                               "2001:db8:1::/48   DE EU 50.1 8.7\n";

static geo_db_t *db;

/* A database made by geo/build-testdb from a spec; what geo_db_open()
 * warned goes to `warned` (NULL: dropped). */
static geo_db_t *db_from_spec_warned(const char *text, diag_t *warned)
{
    char spec[] = "/tmp/gslb-geo-spec-XXXXXX";
    int fd = mkstemp(spec);
    char cmd[256];
    geo_db_t *out;

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    snprintf(cmd, sizeof(cmd), "geo/build-testdb %s %s.mmdb >/dev/null", spec, spec);
    cr_assert_eq(system(cmd), 0, "geo/build-testdb failed");
    snprintf(cmd, sizeof(cmd), "%s.mmdb", spec);
    diag_t errs = {0};
    cr_assert_eq(geo_db_open(cmd, &out, &errs), 0, "%s", errs.n ? errs.lines[0] : "");
    if (warned != NULL) {
        diag_move(warned, &errs);
    }
    diag_clear(&errs);
    unlink(cmd);
    unlink(spec);
    return out;
}

static geo_db_t *db_from_spec(const char *text)
{
    return db_from_spec_warned(text, NULL);
}

static void build_db(void)
{
    db = db_from_spec(spec_text);
}

static void free_db(void)
{
    geo_db_free(db);
}

TestSuite(geo, .init = build_db, .fini = free_db);

/* The example zone's regions: us-east, eu-west, ap-south. */
static double lat3[] = {39.04, 53.35, 1.29}, lon3[] = {-77.49, -6.26, 103.85};
static size_t zr3[] = {0, 1, 2};

/* The three test regions' geometry, with `lat` (lat3, or moved ones). */
static geo_map_spec_t spec3(const double *lat, const zone_geo_t *cfg, bool keep_km)
{
    return (geo_map_spec_t){
        .n = 3, .lat = lat, .lon = lon3, .zone_region = zr3, .cfg = cfg, .keep_km = keep_km};
}

static const geo_list_t *lookup4(const geo_map_t *m, const char *ip, unsigned *scope)
{
    uint8_t a[4];
    inet_pton(AF_INET, ip, a);
    return geo_map_lookup(m, false, a, scope);
}

static void assert_order(const geo_list_t *l, const char *want)
{
    static const char *names[] = {"us-east", "eu-west", "ap-south"};
    char got[128] = "";

    for (unsigned i = 0; i < l->n; i++) {
        strcat(got, i ? " " : "");
        strcat(got, names[l->e[i].region]);
    }
    cr_assert_str_eq(got, want);
}

Test(geo, distance_is_great_circle)
{
    cr_assert(fabs(geo_distance_km(51.5, -0.13, 53.35, -6.26) - 463) < 5, "London-Dublin");
    cr_assert(fabs(geo_distance_km(0, 0, 0, 180) - 20015) < 5, "half the equator");
    cr_assert(geo_distance_km(1, 2, 1, 2) < 1e-9);
}

Test(geo, database_places_networks_and_reports_their_prefix)
{
    uint8_t a[4] = {81, 2, 69, 7};
    unsigned depth;
    uint32_t leaf = geo_trie_walk(&db->trie, false, a, &depth);

    cr_assert_neq(leaf, GEO_NONE);
    cr_assert_str_eq(db->locs[leaf & ~GEO_LEAF].country, "GB");
    cr_assert_eq(depth, 24);
    a[2] = 71;
    leaf = geo_trie_walk(&db->trie, false, a, &depth);
    cr_assert_str_eq(db->locs[leaf & ~GEO_LEAF].subdivision, "GB-ENG");
    a[0] = 10;
    cr_assert_eq(geo_trie_walk(&db->trie, false, a, &depth), GEO_NONE);
    /* a continent-only record gets the continent's coordinates */
    uint8_t af[4] = {203, 0, 113, 1};
    leaf = geo_trie_walk(&db->trie, false, af, &depth);
    cr_assert(db->locs[leaf & ~GEO_LEAF].has_coords);
    cr_assert_str_eq(db->locs[leaf & ~GEO_LEAF].coords_from, "continent");
}

/* The trie and locations live in an unlinked file mapped read-only, not on
 * the heap; dropping their pages loses nothing; the count of networks is
 * the database's. */
Test(geo, compiled_database_lives_in_a_file_mapping)
{
    uint8_t a[4] = {81, 2, 69, 7};
    unsigned depth;

    cr_assert_not_null(db->map, "the trie is in a file mapping");
    cr_assert_eq(db->map_len,
                 db->trie.n_nodes * sizeof(geo_node_t) + db->n_locs * sizeof(geo_loc_t));
    cr_assert_eq((const char *)db->locs,
                 (const char *)db->map + db->trie.n_nodes * sizeof(geo_node_t));
    geo_db_drop_pages(db);
    uint32_t leaf = geo_trie_walk(&db->trie, false, a, &depth);
    cr_assert_neq(leaf, GEO_NONE);
    cr_assert_str_eq(db->locs[leaf & ~GEO_LEAF].country, "GB", "read back after the pages left");
    cr_assert_gt(geo_db_networks(db), 0);
}

/* Where no file can be made (TMPDIR not there), the database stays on the
 * heap, works the same, and a warning says why and what to do. */
Test(geo, compiled_database_stays_on_the_heap_without_a_tmpdir)
{
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", "/nonexistent-gslb-tmpdir", 1);
    diag_t warned = {0};
    geo_db_t *heap = db_from_spec_warned(spec_text, &warned);
    if (old != NULL) {
        setenv("TMPDIR", old, 1);
        free(old);
    } else {
        unsetenv("TMPDIR");
    }
    uint8_t a[4] = {81, 2, 69, 7};
    unsigned depth;

    cr_assert_null(heap->map);
    cr_assert_eq(warned.n, 1);
    cr_assert(strstr(warned.lines[0], "warning: the compiled database (0 MB) stays in memory: "
                                      "cannot keep it in a file in /nonexistent-gslb-tmpdir (set "
                                      "TMPDIR to a writable directory on disk): ") != NULL,
              "%s", warned.lines[0]);
    diag_clear(&warned);
    cr_assert_eq(heap->trie.n_nodes, db->trie.n_nodes);
    cr_assert_eq(memcmp(heap->trie.nodes, db->trie.nodes, db->trie.n_nodes * sizeof(geo_node_t)),
                 0);
    cr_assert_eq(geo_db_networks(heap), geo_db_networks(db));
    uint32_t leaf = geo_trie_walk(&heap->trie, false, a, &depth);
    cr_assert_str_eq(heap->locs[leaf & ~GEO_LEAF].country, "GB");
    geo_db_drop_pages(heap); /* nothing to drop: no harm */
    geo_db_free(heap);
}

Test(geo, nearest_orders_by_distance)
{
    arena_t a;
    arena_init(&a);
    geo_map_spec_t spec = spec3(lat3, NULL, false);
    const geo_map_t *m = geo_map_build(db, &spec, &a);
    unsigned scope;

    assert_order(lookup4(m, "81.2.69.1", &scope), "eu-west us-east ap-south");
    assert_order(lookup4(m, "192.0.2.1", &scope), "us-east eu-west ap-south");
    assert_order(lookup4(m, "198.51.100.1", &scope), "ap-south eu-west us-east");
    cr_assert_eq(lookup4(m, "198.51.100.1", &scope)->source, GEO_BY_DISTANCE);
    arena_free(&a);
}

Test(geo, equal_orders_merge_into_supernets)
{
    arena_t a;
    arena_init(&a);
    geo_map_spec_t spec = spec3(lat3, NULL, false);
    const geo_map_t *m = geo_map_build(db, &spec, &a);
    unsigned s69, s70, s71;

    /* 81.2.70/24 (IE) and 81.2.71/24 (GB) are siblings with the same order:
     * one /23. 81.2.69/24's sibling 81.2.68/24 is not placed: it stays /24. */
    lookup4(m, "81.2.69.1", &s69);
    lookup4(m, "81.2.70.1", &s70);
    lookup4(m, "81.2.71.1", &s71);
    cr_assert_eq(s69, 24);
    cr_assert_eq(s70, 23);
    cr_assert_eq(s71, 23);
    /* both US /25s order us-east first: merged into the /24 */
    unsigned s;
    lookup4(m, "192.0.2.200", &s);
    cr_assert_eq(s, 24);
    arena_free(&a);
}

Test(geo, spread_keeps_distances_and_splits_merges)
{
    arena_t a;
    arena_init(&a);
    geo_map_spec_t spec = spec3(lat3, NULL, true);
    const geo_map_t *m = geo_map_build(db, &spec, &a);
    unsigned scope;
    const geo_list_t *l = lookup4(m, "81.2.70.1", &scope);

    cr_assert_eq(l->e[0].km, 0, "Dublin is eu-west itself");
    cr_assert_eq(scope, 24, "IE and GB now differ by distance");
    arena_free(&a);
}

Test(geo, overrides_map_nets_default)
{
    size_t eu_list[] = {0}, us_ca[] = {2}, net_list[] = {2}, dflt[] = {1};
    zone_geo_map_t map[] = {
        {.kind = GEO_KEY_CONTINENT, .code = "EU", .regions = eu_list, .n_regions = 1},
        {.kind = GEO_KEY_SUBDIVISION, .code = "US-CA", .regions = us_ca, .n_regions = 1},
    };
    zone_geo_net_t nets[] = {
        {.family = AF_INET,
         .addr = {81, 2, 69, 128},
         .prefix = 25,
         .regions = net_list,
         .n_regions = 1},
    };
    zone_geo_t cfg = {.given = true,
                      .map = map,
                      .n_map = 2,
                      .nets = nets,
                      .n_nets = 1,
                      .dflt = dflt,
                      .n_dflt = 1};
    arena_t a;
    arena_init(&a);
    geo_map_spec_t spec = spec3(lat3, &cfg, false);
    const geo_map_t *m = geo_map_build(db, &spec, &a);
    unsigned scope;

    const geo_list_t *l = lookup4(m, "81.2.69.1", &scope);
    assert_order(l, "us-east eu-west ap-south");
    cr_assert_eq(l->source, GEO_BY_MAP, "continent EU mapped to us-east, the rest by distance");
    l = lookup4(m, "81.2.69.200", &scope);
    assert_order(l, "ap-south us-east eu-west");
    cr_assert_eq(l->source, GEO_BY_NETS);
    cr_assert_eq(scope, 25, "the nets prefix is the scope");
    l = lookup4(m, "192.0.2.200", &scope);
    cr_assert_eq(l->e[0].region, 2, "subdivision US-CA before distance");
    l = lookup4(m, "192.0.2.1", &scope);
    cr_assert_eq(l->e[0].region, 0, "Virginia unaffected by the US-CA entry");
    l = lookup4(m, "10.1.2.3", &scope);
    assert_order(l, "eu-west us-east ap-south");
    cr_assert_eq(l->source, GEO_BY_DEFAULT, "not in the database: geo.default first");
    arena_free(&a);
}

Test(geo, ipv6_lookups)
{
    arena_t a;
    arena_init(&a);
    geo_map_spec_t spec = spec3(lat3, NULL, false);
    const geo_map_t *m = geo_map_build(db, &spec, &a);
    uint8_t v6[16];
    unsigned scope;

    inet_pton(AF_INET6, "2001:db8:1:2::1", v6);
    const geo_list_t *l = geo_map_lookup(m, true, v6, &scope);
    cr_assert_eq(l->e[0].region, 1, "Frankfurt: eu-west");
    cr_assert_geq(scope, 48);
    arena_free(&a);
}

/* The compiled map (root table, then two bits a step) against the database
 * itself: for addresses in and around every network of the spec, the list
 * is the one the address's location orders to, the scope is no longer than
 * the database's prefix, and every address of the scope network gets the
 * same list. Prefixes of every parity (/23, /24, /25, /48) and the table's
 * own depth are crossed. */
static void check_map_address(const geo_map_t *m, bool v6, const uint8_t *addr, const char *what)
{
    unsigned scope, dbdepth, bits = v6 ? 128 : 32, alen = v6 ? 16 : 4;
    const geo_list_t *l = geo_map_lookup(m, v6, addr, &scope);
    uint32_t leaf = geo_trie_walk(&db->trie, v6, addr, &dbdepth);
    geo_map_spec_t spec = spec3(lat3, NULL, false);
    geo_entry_t want[3];
    uint16_t n;
    uint8_t other[16];

    geo_map_order(&spec, leaf == GEO_NONE ? NULL : &db->locs[leaf & ~GEO_LEAF], want, &n);
    cr_assert_eq(l->n, n, "%s", what);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(l->e[i].region, want[i].region, "%s: entry %u", what, i);
    }
    cr_assert_leq(scope, dbdepth, "%s: scope %u beyond the database's /%u", what, scope, dbdepth);
    for (unsigned b = scope; b < bits; b += 3) {
        memcpy(other, addr, alen);
        other[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
        unsigned s2;
        cr_assert_eq(geo_map_lookup(m, v6, other, &s2), l, "%s: bit %u flipped", what, b);
        cr_assert_eq(s2, scope, "%s: bit %u flipped", what, b);
    }
}

/* xorshift64*: test addresses, the same every run. */
static uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

Test(geo, compiled_map_agrees_with_the_database)
{
    static const char *nets[] = {"81.2.69.0",   "81.2.70.0",    "81.2.71.0",   "192.0.2.0",
                                 "192.0.2.128", "198.51.100.0", "203.0.113.0", "10.0.0.0"};
    arena_t a;
    arena_init(&a);
    geo_map_spec_t spec = spec3(lat3, NULL, false);
    const geo_map_t *m = geo_map_build(db, &spec, &a);
    uint64_t rng = 88172645463325252ull;
    char what[96];

    for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
        uint8_t base[4], addr[4];
        inet_pton(AF_INET, nets[i], base);
        for (int k = 0; k < 200; k++) {
            uint32_t r = (uint32_t)test_rand(&rng);
            memcpy(addr, base, 4);
            addr[3] = (uint8_t)r;
            if (k % 4 == 0) { /* and neighbours: a bit flipped anywhere above the host */
                unsigned b = (r >> 8) % 24;
                addr[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
            }
            snprintf(what, sizeof(what), "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
            check_map_address(m, false, addr, what);
        }
    }
    for (int k = 0; k < 400; k++) {
        uint8_t addr[16];
        uint64_t r = test_rand(&rng);
        inet_pton(AF_INET6, "2001:db8:1::", addr);
        memcpy(addr + 8, &r, 8);
        if (k % 4 == 0) {
            unsigned b = (unsigned)(r >> 32) % 64;
            addr[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
        }
        snprintf(what, sizeof(what), "IPv6 case %d", k);
        check_map_address(m, true, addr, what);
    }
    arena_free(&a);
}

/* ---- selection ---- */

static region_rt_t regs[3];
static const region_rt_t *reg_ptrs[3] = {&regs[0], &regs[1], &regs[2]};
static const uint8_t v4s[3][4] = {{192, 0, 2, 10}, {198, 51, 100, 10}, {203, 0, 113, 10}};
static const uint8_t v6s[16] = {0x20, 0x01, 0x0d, 0xb8};
static healthdb_slot_t *const no_slots[4]; /* NULL slots: always up */

static svc_rt_t make_svc(zone_policy_t policy, unsigned answers, float spread)
{
    const char *names[] = {"us-east", "eu-west", "ap-south"};
    for (int i = 0; i < 3; i++) {
        regs[i] = (region_rt_t){.name = names[i],
                                .hrw = select_region_key(names[i]),
                                .weight = 100,
                                .lat = lat3[i],
                                .lon = lon3[i],
                                .n4 = 1,
                                .v4 = v4s[i],
                                .s4 = no_slots,
                                .s6 = no_slots,
                                .min_up = 1};
    }
    svc_rt_t svc = (svc_rt_t){.n_regions = 3,
                              .regions = reg_ptrs,
                              .policy = (uint8_t)policy,
                              .answers = (uint8_t)answers,
                              .spread_km = spread,
                              .ttl = 30};
    svc.plain = svc_is_plain(&svc); /* as compiled: the inline common case is tested too */
    return svc;
}

static geo_list_t *order_of(uint16_t a, float ka, uint16_t b, float kb, uint16_t c, float kc)
{
    static union {
        geo_list_t l;
        char room[sizeof(geo_list_t) + 3 * sizeof(geo_entry_t)];
    } u;
    u.l.n = 3;
    u.l.e[0] = (geo_entry_t){.region = a, .km = ka};
    u.l.e[1] = (geo_entry_t){.region = b, .km = kb};
    u.l.e[2] = (geo_entry_t){.region = c, .km = kc};
    return &u.l;
}

Test(select, nearest_takes_the_first_eligible)
{
    svc_rt_t svc = make_svc(POLICY_NEAREST, 1, 0);
    uint64_t key = 1;
    select_t sel;
    uint8_t why[3];

    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), false, key, &sel, why);
    cr_assert_eq(sel.n, 1);
    cr_assert_eq(sel.region[0], 1);
    cr_assert_eq(why[0], SELECT_CHOSEN);
    cr_assert_eq(why[1], SELECT_NOT_NEEDED);
    regs[1].weight = 0; /* drained */
    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), false, key, &sel, why);
    cr_assert_eq(sel.region[0], 0);
    cr_assert_eq(why[0], SELECT_DRAINED);
}

Test(select, aaaa_skips_regions_without_ipv6)
{
    svc_rt_t svc = make_svc(POLICY_NEAREST, 1, 0);
    uint64_t key = 1;
    select_t sel;
    uint8_t why[3];

    regs[2].n6 = 1;
    regs[2].v6 = v6s;
    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), true, key, &sel, why);
    cr_assert_eq(sel.region[0], 2);
    cr_assert_eq(why[0], SELECT_NO_FAMILY);
    regs[2].n6 = 0;
    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), true, key, &sel, why);
    cr_assert_eq(sel.n, 0, "no IPv6 anywhere: NODATA");
}

Test(select, all_drained_fails_open)
{
    svc_rt_t svc = make_svc(POLICY_NEAREST, 1, 0);
    uint64_t key = 1;
    select_t sel;

    regs[0].weight = regs[1].weight = regs[2].weight = 0;
    select_regions(&svc, order_of(2, -1, 1, -1, 0, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.n, 1);
    cr_assert_eq(sel.region[0], 2);
    cr_assert(sel.failed_open);
}

Test(select, answers_n_returns_the_first_n)
{
    svc_rt_t svc = make_svc(POLICY_NEAREST, 2, 0);
    uint64_t key = 1;
    select_t sel;

    select_regions(&svc, order_of(2, -1, 1, -1, 0, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.n, 2);
    cr_assert_eq(sel.region[0], 2);
    cr_assert_eq(sel.region[1], 1);
}

Test(select, failover_uses_the_listed_order)
{
    svc_rt_t svc = make_svc(POLICY_FAILOVER, 1, 0);
    uint64_t key = 1;
    select_t sel;

    regs[0].weight = 0;
    select_regions(&svc, order_of(0, -1, 1, -1, 2, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.region[0], 1);
}

/* The key of client network i of 10,000: the /24 10.i/16 (or 172.16.i.0 past
 * 65,536), as answer.c would make it. */
static uint64_t net_key(unsigned i)
{
    uint8_t a[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 0};
    return select_client_key(false, a, 24);
}

#define N_NETS 10000

/* The region each of N_NETS client networks gets. */
static void choose_all(const svc_rt_t *svc, const geo_list_t *order, uint8_t *out)
{
    select_t sel;

    for (unsigned i = 0; i < N_NETS; i++) {
        select_regions(svc, order, false, net_key(i), &sel, NULL);
        out[i] = (uint8_t)sel.region[0];
    }
}

/* Over 10,000 client networks each region's share is within 2 points of its
 * weight's (the bound). */
static void assert_shares(svc_rt_t *svc, const geo_list_t *order, const double *want)
{
    static uint8_t got[N_NETS];
    unsigned count[3] = {0};

    choose_all(svc, order, got);
    for (int i = 0; i < N_NETS; i++) {
        count[got[i]]++;
    }
    for (int r = 0; r < 3; r++) {
        double share = count[r] * 100.0 / N_NETS;
        cr_assert(fabs(share - want[r]) <= 2.0, "region %d: %.2f%%, want %.2f%%", r, share,
                  want[r]);
    }
}

Test(select, weighted_shares_follow_weights)
{
    svc_rt_t svc = make_svc(POLICY_WEIGHTED, 1, 0);
    double want[3] = {10, 30, 60};

    regs[0].weight = 100;
    regs[1].weight = 300;
    regs[2].weight = 600;
    assert_shares(&svc, order_of(0, -1, 1, -1, 2, -1), want);
}

/* Sticky: a client network gets the same region every time, whatever else
 * was asked before (no state), and two services with the same regions and
 * weights agree (two gslbd with the same zone: nothing but the zone decides). */
Test(select, weighted_choice_is_the_same_for_the_same_network)
{
    svc_rt_t svc = make_svc(POLICY_WEIGHTED, 1, 0);
    static uint8_t first[N_NETS], again[N_NETS];
    unsigned differ = 0;

    choose_all(&svc, order_of(0, -1, 1, -1, 2, -1), first);
    choose_all(&svc, order_of(2, -1, 0, -1, 1, -1), again); /* listed in another order */
    for (int i = 0; i < N_NETS; i++) {
        differ += first[i] != again[i];
    }
    cr_assert_eq(differ, 0, "%u networks changed region with the order the regions are listed in",
                 differ);
    uint8_t a[4] = {10, 1, 2, 0}, b[4] = {10, 1, 2, 255}, c[4] = {10, 1, 3, 0};
    cr_assert_eq(select_client_key(false, a, 24), select_client_key(false, b, 24),
                 "one /24, one key");
    cr_assert_neq(select_client_key(false, a, 24), select_client_key(false, c, 24));
    cr_assert_eq(select_client_key(false, a, 16), select_client_key(false, c, 16),
                 "one /16, one key");
    uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0x10, 9},
            v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0x1f};
    cr_assert_eq(select_client_key(true, v6a, 56), select_client_key(true, v6b, 56),
                 "one /56, one key");
    cr_assert_neq(select_client_key(true, v6a, 64), select_client_key(true, v6b, 64));
}

/* What two servers agree on must not depend on the process or the build: the
 * keys and ranks are fixed functions of the network and the region's name (no
 * per-process seed), pinned here so that a change to them is a deliberate one,
 * made knowing that servers of the old and new versions would then answer some
 * clients differently. The score goes through log(), so it is compared to
 * within rounding, which no choice depends on short of an exact tie. */
Test(select, keys_and_ranks_are_fixed_values)
{
    uint8_t v4[4] = {81, 2, 69, 0}, v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0x2a, 0};
    uint64_t client = select_client_key(false, v4, 24), region = select_region_key("eu-west");

    cr_assert_eq(client, 0x4f8adb9ce77b80cdull, "81.2.69.0/24: %016" PRIx64, client);
    cr_assert_eq(select_client_key(true, v6, 56), 0x49300e736d385bcaull);
    cr_assert_eq(region, 0x6531e3561ec894e2ull, "eu-west: %016" PRIx64, region);
    cr_assert_eq(select_shed_rank(client, region), 0xc27cdf30u);
    double score = select_hrw_score(client, region, 300);
    cr_assert(fabs(score - 163.07540282228103) < 1e-9, "score %.17g", score);
}

/* Minimal movement: one of three equal regions from 100 to 90 moves between
 * 2 and 4.5 % of the networks, every one of them away from that region, and
 * draining a region moves only its own clients, over the others by weight. */
Test(select, weight_change_moves_only_that_regions_share)
{
    svc_rt_t svc = make_svc(POLICY_WEIGHTED, 1, 0);
    static uint8_t before[N_NETS], after[N_NETS];
    const geo_list_t *order = order_of(0, -1, 1, -1, 2, -1);
    unsigned moved = 0, wrong = 0, to[3] = {0}, had = 0;

    choose_all(&svc, order, before);
    regs[1].weight = 90;
    choose_all(&svc, order, after);
    for (int i = 0; i < N_NETS; i++) {
        if (before[i] != after[i]) {
            moved++;
            wrong += before[i] != 1;
        }
    }
    cr_assert(moved >= N_NETS * 2 / 100 && moved <= N_NETS * 45 / 1000,
              "%u of %d networks moved (2 to 4.5 %% expected)", moved, N_NETS);
    cr_assert_eq(wrong, 0, "%u networks moved that were not on the region whose weight fell",
                 wrong);

    regs[1].weight = 0; /* drained */
    choose_all(&svc, order, after);
    moved = 0;
    wrong = 0;
    for (int i = 0; i < N_NETS; i++) {
        had += before[i] == 1;
        if (before[i] != after[i]) {
            moved++;
            wrong += before[i] != 1;
            to[after[i]]++;
        }
    }
    cr_assert_eq(wrong, 0, "draining moved %u networks of other regions", wrong);
    cr_assert_eq(moved, had, "every network of the drained region moved");
    cr_assert_eq(to[1], 0);
    cr_assert(fabs((double)to[0] - to[2]) <= 0.1 * had, "spread by weight (equal): %u and %u",
              to[0], to[2]);
}

Test(select, spread_blends_nearby_regions_by_weight)
{
    svc_rt_t svc = make_svc(POLICY_NEAREST, 1, 500);
    double want[3] = {25, 75, 0};

    /* us-east 100 km, eu-west 450 km (within 500 km of the nearest), ap-south far */
    regs[0].weight = 100;
    regs[1].weight = 300;
    assert_shares(&svc, order_of(0, 100, 1, 450, 2, 9000), want);
    double none[3] = {100, 0, 0};
    svc.spread_km = 300; /* eu-west now 350 km beyond the nearest: out */
    assert_shares(&svc, order_of(0, 100, 1, 450, 2, 9000), none);
}

/* ---- health: reports, overrides and on_all_down, through real slots ---- */

static healthdb_t *hl;
static healthdb_slot_t *mslot[3][1];
static _Atomic uint64_t status_cache[3];

static svc_rt_t health_svc(zone_all_down_t mode)
{
    svc_rt_t svc = make_svc(POLICY_NEAREST, 1, 0);
    const char *names[] = {"us-east", "eu-west", "ap-south"};

    hl = healthdb_new(NULL);
    for (int i = 0; i < 3; i++) {
        regs[i].slot = healthdb_slot(hl, "t.test", names[i], NULL);
        mslot[i][0] = healthdb_slot(hl, "t.test", names[i], "addr");
        regs[i].s4 = mslot[i];
        /* as in a snapshot: status cached per health generation, so every
         * report and override below must be seen through the cache */
        regs[i].health_gen = healthdb_gen(hl);
        regs[i].status = &status_cache[i];
        atomic_store(&status_cache[i], 0);
    }
    svc.on_all_down = (uint8_t)mode;
    return svc;
}

static void report(int region, bool up)
{
    const char *names[] = {"us-east", "eu-west", "ap-south"};
    int src = healthdb_source(hl, "healthd");
    cr_assert_eq(healthdb_report(hl, src, "t.test", names[region], "addr",
                                 up ? HEALTH_UP : HEALTH_DOWN, "test", 1000),
                 0);
}

Test(health, a_down_region_fails_over_with_degraded_ttl)
{
    svc_rt_t svc = health_svc(ALL_DOWN_OPEN);
    uint64_t key = 1;
    select_t sel;
    uint8_t why[3];

    report(1, false);
    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), false, key, &sel, why);
    cr_assert_eq(sel.region[0], 0, "eu-west down: us-east next");
    cr_assert(sel.degraded, "failing over: min_ttl applies");
    cr_assert_eq(why[0], SELECT_DOWN);
    report(1, true);
    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.region[0], 1);
    cr_assert_not(sel.degraded);
    healthdb_free(hl);
}

Test(health, overrides_drain_down_up)
{
    svc_rt_t svc = health_svc(ALL_DOWN_OPEN);
    uint64_t key = 1;
    select_t sel;

    cr_assert_gt(healthdb_override(hl, NULL, "eu-west", NULL, HEALTH_OV_DRAIN, NULL), 0);
    select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.region[0], 0, "drained");
    cr_assert_not(sel.degraded, "a drain is intended: normal TTL");
    report(0, false);
    cr_assert_gt(healthdb_override(hl, "t.test", "us-east", NULL, HEALTH_OV_UP, NULL), 0);
    select_regions(&svc, order_of(0, -1, 2, -1, 1, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.region[0], 0, "forced up beats the health check");
    cr_assert(select_member_ok(&regs[0], false, 0, false), "its members are answered");
    cr_assert_gt(healthdb_override(hl, NULL, "us-east", NULL, HEALTH_OV_NONE, NULL), 0);
    select_regions(&svc, order_of(0, -1, 2, -1, 1, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.region[0], 2, "auto: the check decides again");
    cr_assert_eq(healthdb_override(hl, NULL, "nowhere", NULL, HEALTH_OV_DOWN, NULL), -ENOENT);
    healthdb_free(hl);
}

Test(health, on_all_down_modes)
{
    uint64_t key = 1;
    select_t sel;
    zone_all_down_t modes[] = {ALL_DOWN_OPEN, ALL_DOWN_FALLBACK, ALL_DOWN_NODATA,
                               ALL_DOWN_SERVFAIL};

    for (int m = 0; m < 4; m++) {
        svc_rt_t svc = health_svc(modes[m]);
        svc.fallback = 2;
        for (int r = 0; r < 3; r++) {
            report(r, false);
        }
        select_regions(&svc, order_of(1, -1, 0, -1, 2, -1), false, key, &sel, NULL);
        cr_assert(sel.degraded, "mode %d", m);
        switch (modes[m]) {
        case ALL_DOWN_OPEN:
            cr_assert_eq(sel.n, 1);
            cr_assert_eq(sel.region[0], 1, "open: as if all were up, nearest first");
            cr_assert(sel.failed_open);
            break;
        case ALL_DOWN_FALLBACK:
            cr_assert_eq(sel.n, 1);
            cr_assert_eq(sel.region[0], 2);
            break;
        case ALL_DOWN_NODATA:
            cr_assert_eq(sel.n, 0);
            cr_assert_neq(sel.mode, SELECT_MODE_SERVFAIL);
            break;
        case ALL_DOWN_SERVFAIL:
            cr_assert_eq(sel.mode, SELECT_MODE_SERVFAIL);
            break;
        }
        healthdb_free(hl);
    }
}

Test(health, min_up_counts_members)
{
    healthdb_t *h = healthdb_new(NULL);
    healthdb_slot_t *m[2] = {healthdb_slot(h, "t.test", "r", "a"),
                             healthdb_slot(h, "t.test", "r", "b")};
    const uint8_t v4[8] = {192, 0, 2, 1, 192, 0, 2, 2};
    region_rt_t r = {.name = "r",
                     .weight = 100,
                     .n4 = 2,
                     .v4 = v4,
                     .slot = healthdb_slot(h, "t.test", "r", NULL),
                     .s4 = m,
                     .s6 = no_slots,
                     .min_up = 2};
    const region_rt_t *rp[1] = {&r};
    svc_rt_t svc = {
        .n_regions = 1, .regions = rp, .answers = 1, .ttl = 30, .on_all_down = ALL_DOWN_NODATA};
    uint64_t key = 1;
    select_t sel;
    int src = healthdb_source(h, "healthd");

    healthdb_report(h, src, "t.test", "r", "a", HEALTH_DOWN, "refused", 1000);
    select_regions(&svc, order_of(0, -1, 0, -1, 0, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.n, 0, "1 of 2 members up, min_up 2: the region is down");
    r.min_up = 1;
    select_regions(&svc, order_of(0, -1, 0, -1, 0, -1), false, key, &sel, NULL);
    cr_assert_eq(sel.n, 1);
    cr_assert_not(select_member_ok(&r, false, 0, false), "the down member is not answered");
    cr_assert(select_member_ok(&r, false, 1, false));
    healthdb_free(h);
}

Test(health, overrides_survive_a_restart_and_reports_go_stale)
{
    char path[] = "/tmp/gslb-overrides-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    healthdb_t *h = healthdb_new(&(healthdb_config_t){.overrides_file = path});
    healthdb_slot(h, "t.test", "eu-west", NULL);
    cr_assert_gt(healthdb_override(h, NULL, "eu-west", NULL, HEALTH_OV_DRAIN, NULL), 0);
    healthdb_free(h);

    h = healthdb_new(&(healthdb_config_t){.overrides_file = path}); /* gslbd restarted */
    healthdb_slot_t *s = healthdb_slot(h, "t.test", "eu-west", NULL);
    cr_assert_eq(atomic_load(&s->override), HEALTH_OV_DRAIN);
    healthdb_slot_t *m = healthdb_slot(h, "t.test", "eu-west", "a");
    m->stale_after_ms = 6000;
    int src = healthdb_source(h, "healthd");
    healthdb_report(h, src, "t.test", "eu-west", "a", HEALTH_DOWN, "timeout", 1000);
    healthdb_tick(h, 6000);
    cr_assert_eq(atomic_load(&m->state), HEALTH_DOWN, "5 s old: still fresh");
    healthdb_tick(h, 7500);
    cr_assert_eq(atomic_load(&m->state), HEALTH_DOWN,
                 "6.5 s without a word: its vote no longer counts, and with no vote left the "
                 "state last decided is held");
    cr_assert(atomic_load(&m->held), "... held, so answers use min_ttl");
    cr_assert(m->votes[0].stale);
    healthdb_free(h);
    unlink(path);
}

/* A source whose reports went stale is asked once for its full state when it
 * speaks again; a member a reload adds is asked for too; HELLO needs no ask. */
Test(health, stale_reports_ask_for_a_full_sync)
{
    healthdb_t *h = healthdb_new(NULL);
    healthdb_slot_t *m = healthdb_slot(h, "t.test", "r", "a");
    int src = healthdb_source(h, "healthd");

    m->stale_after_ms = 1500;
    cr_assert_not(healthdb_want_sync(h, src), "right after HELLO it sends everything anyway");
    healthdb_synced(h, src, 1000);
    cr_assert_eq(healthdb_report(h, src, "t.test", "r", "a", HEALTH_DOWN, "503", 1000), 0);
    healthdb_tick(h, 2000);
    cr_assert_not(healthdb_want_sync(h, src), "fresh reports: nothing to ask");
    healthdb_tick(h, 3000);
    cr_assert(m->votes[0].stale, "1.5 s without a word: its vote went stale");
    cr_assert(atomic_load(&m->held));
    cr_assert(healthdb_want_sync(h, src), "its reports were dropped: ask for all of them");
    cr_assert_not(healthdb_want_sync(h, src), "asked once, not on every reply");
    healthdb_synced(h, src, 3500);
    cr_assert_not(healthdb_want_sync(h, src));
    healthdb_slot(h, "t.test", "r", "b"); /* a reload added a member */
    cr_assert(healthdb_want_sync(h, src), "a member it has not reported: ask again");
    cr_assert_eq(healthdb_report(h, src, "t.test", "r", "zz", HEALTH_UP, "x", 4000), -ENOENT,
                 "an unknown member is refused");
    cr_assert_null(healthdb_slot_find(h, "t.test", "r", "zz"), "... and not kept");
    healthdb_free(h);
}

/* After a restart, gslbd waits (bounded) for the healthd it heard from before,
 * and says so through healthdb_waiting(). */
Test(health, a_restart_waits_for_the_sources_it_knew)
{
    char dir[] = "/tmp/gslb-sources-XXXXXX", file[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/state.sources", dir);
    healthdb_config_t cfg = {.sources_file = file, .sync_wait_ms = 3000};

    healthdb_t *h = healthdb_new(&cfg);
    healthdb_begin(h, 0);
    cr_assert_not(atomic_load(healthdb_waiting(h)), "no source known yet: nothing to wait for");
    healthdb_synced(h, healthdb_source(h, "healthd"), 100);
    healthdb_free(h);

    h = healthdb_new(&cfg); /* restarted: it remembers healthd */
    uint64_t gen = atomic_load(healthdb_gen(h));
    healthdb_begin(h, 10000);
    cr_assert(atomic_load(healthdb_waiting(h)));
    healthdb_tick(h, 12000);
    cr_assert(atomic_load(healthdb_waiting(h)), "2 s of 3: still waiting");
    healthdb_synced(h, healthdb_source(h, "healthd"), 12500);
    cr_assert_not(atomic_load(healthdb_waiting(h)), "its full state came: the wait is over");
    cr_assert_gt(atomic_load(healthdb_gen(h)), gen, "caches of region status see the change");
    healthdb_free(h);

    h = healthdb_new(&cfg); /* restarted again, and healthd never comes */
    healthdb_begin(h, 20000);
    healthdb_tick(h, 22999);
    cr_assert(atomic_load(healthdb_waiting(h)));
    healthdb_tick(h, 23000);
    cr_assert_not(atomic_load(healthdb_waiting(h)), "the wait is bounded");
    healthdb_free(h);
    unlink(file);
    rmdir(dir);
}

/* ---- the map cache: reuse what a reload did not change ---- */

Test(geo, map_cache_reuses_unchanged_geometry)
{
    geo_cache_t *c = geo_cache_new();
    geo_map_spec_t spec = spec3(lat3, NULL, false);
    double moved[3] = {39.04, 48.85, 1.29}; /* eu-west moved to Paris */
    geo_map_spec_t spec2 = spec3(moved, NULL, false);

    geo_cache_entry_t *a = geo_cache_get(c, db, &spec);
    geo_cache_entry_t *b = geo_cache_get(c, db, &spec); /* a reload, same regions */
    cr_assert_eq(a, b, "same database and geometry: the same map");
    cr_assert_eq(geo_cache_built(c), 1);
    geo_cache_entry_t *d = geo_cache_get(c, db, &spec2);
    cr_assert_neq(d, a, "coordinates changed: a new map");
    geo_cache_entry_t *e = geo_cache_get(c, NULL, &spec);
    cr_assert_neq(e, a, "another database: a new map");
    cr_assert_eq(geo_cache_built(c), 3);
    unsigned scope;
    assert_order(lookup4(geo_cache_map(a), "81.2.69.1", &scope), "eu-west us-east ap-south");
    geo_cache_release(a);
    geo_cache_release(b); /* last reference: freed */
    geo_cache_entry_t *f = geo_cache_get(c, db, &spec);
    cr_assert_eq(geo_cache_built(c), 4, "released entries are gone, so it is built again");
    geo_cache_release(d);
    geo_cache_release(e);
    geo_cache_free(c); /* f is still referenced: freed on release */
    geo_cache_release(f);
}

/* ---- loading databases of unusual shapes ---- */

/* Build `text` with geo/build-testdb (extra options in `opts`) and open it:
 * geo_db_open's result; *out set on success. */
static int open_built(const char *text, const char *opts, geo_db_t **out)
{
    char spec[] = "/tmp/gslb-geo-spec-XXXXXX", cmd[256];
    int fd = mkstemp(spec);
    FILE *f = fdopen(fd, "w");

    cr_assert(fd >= 0 && f != NULL);
    cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, true);
    snprintf(cmd, sizeof(cmd), "geo/build-testdb %s %s %s.mmdb >/dev/null", opts, spec, spec);
    cr_assert_eq(system(cmd), 0, "geo/build-testdb failed");
    snprintf(cmd, sizeof(cmd), "%s.mmdb", spec);
    diag_t errs = {0};
    int r = geo_db_open(cmd, out, &errs);
    diag_clear(&errs);
    unlink(cmd);
    unlink(spec);
    return r;
}

/* 3000 neighbouring /32s, each with a record of its own: more distinct
 * records than half the search tree's nodes, which the record cache was
 * sized for. It used to fill up and probe for a free slot forever. */
Test(geo, every_leaf_its_own_record, .timeout = 60)
{
    size_t n = 3000, size = n * 48 + 1, o = 0;
    char *text = malloc(size);
    geo_db_t *many;

    cr_assert(text != NULL);
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(text + o, size - o, "10.0.%zu.%zu/32 US NA %.3f -77.0\n", i / 256,
                              i % 256, 10.0 + (double)i / 1000);
    }
    cr_assert_eq(open_built(text, "--ip-version 4", &many), 0);
    free(text);
    cr_assert_eq(many->n_locs, n);
    uint8_t a[4] = {10, 0, 11, 183}; /* the last network */
    unsigned depth;
    uint32_t leaf = geo_trie_walk(&many->trie, false, a, &depth);
    cr_assert_eq(depth, 32);
    cr_assert(fabs(many->locs[leaf & ~GEO_LEAF].lat - 12.999) < 1e-9);
    geo_db_free(many);
}

/* What a loader sees of a file being written in place: each is refused with
 * a line that names the file and says what is wrong. */
Test(geo, incomplete_files_are_refused_with_a_reason)
{
    char path[] = "/tmp/gslb-geo-cut-XXXXXX", dir[] = "/tmp/gslb-geo-dir-XXXXXX";
    struct {
        long keep; /* bytes written; -1: a directory */
        const char *says;
    } cases[] = {
        {0, "error: empty file (is it being written?)"},
        {1000, "error: not a complete MaxMind DB file (truncated, still being written, or not "
               "an mmdb): The MaxMind DB file contains invalid metadata"},
        {-1, "error: not a regular file"},
    };
    char head[1000]; /* the start of a search tree, without the metadata at the end */
    int fd = mkstemp(path);

    cr_assert(fd >= 0 && mkdtemp(dir) != NULL);
    memset(head, 0x5a, sizeof(head));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p = cases[i].keep < 0 ? dir : path;
        diag_t errs = {0};
        geo_db_t *none = NULL;
        char want[512];

        cr_assert_eq(ftruncate(fd, 0), 0);
        cr_assert_eq(pwrite(fd, head, (size_t)(cases[i].keep > 0 ? cases[i].keep : 0), 0),
                     (ssize_t)(cases[i].keep > 0 ? cases[i].keep : 0));
        cr_assert_lt(geo_db_open(p, &none, &errs), 0, "case %zu", i);
        cr_assert_null(none);
        snprintf(want, sizeof(want), "%s: %s", p, cases[i].says);
        cr_assert_eq(errs.n, 1u);
        cr_assert_str_eq(errs.lines[0], want);
        diag_clear(&errs);
    }
    close(fd);
    unlink(path);
    rmdir(dir);
}

/* ---- geoproximity bias: a region's distance is scaled by (1 - bias/100) ---- */

/* The test's own great-circle distance, by another formula than geodb.c's
 * haversine: the angle between the two points' unit vectors. */
static double bias_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = M_PI / 180;
    double a[3] = {cos(lat1 * r) * cos(lon1 * r), cos(lat1 * r) * sin(lon1 * r), sin(lat1 * r)};
    double b[3] = {cos(lat2 * r) * cos(lon2 * r), cos(lat2 * r) * sin(lon2 * r), sin(lat2 * r)};
    double x[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    double dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

    return 6371.0 * atan2(sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]), dot);
}

/* Two regions A and B with biases, ordered for one client point. */
typedef struct {
    double lat[2], lon[2];
    int bias[2];
} bias_pair_t;

static int bias_first(const bias_pair_t *p, double lat, double lon)
{
    static const size_t zr[] = {0, 1};
    geo_map_spec_t spec = {
        .n = 2, .lat = p->lat, .lon = p->lon, .bias = p->bias, .zone_region = zr};
    geo_loc_t loc = {.lat = lat, .lon = lon, .has_coords = true};
    geo_entry_t e[2];
    uint16_t n;

    cr_assert_eq(geo_map_order(&spec, &loc, e, &n), GEO_BY_DISTANCE);
    cr_assert_eq(n, 2);
    return e[0].region;
}

/* What the test expects for a client: the smaller scaled distance, or -1
 * when the two are too close to call (floating point may go either way). */
static int bias_expect(const bias_pair_t *p, double lat, double lon)
{
    double d[2];

    for (int i = 0; i < 2; i++) {
        d[i] = bias_km(lat, lon, p->lat[i], p->lon[i]) * (1 - p->bias[i] / 100.0);
    }
    if (fabs(d[0] - d[1]) < 1e-6 * (d[0] + d[1]) + 1e-9) {
        return -1;
    }
    return d[0] < d[1] ? 0 : 1;
}

/* Two regions on the equator, at 10 W and 10 E: with no bias the boundary
 * is the meridian between them; bias b on A puts it where A's distance
 * times (1 - b/100) equals B's, on the equator at x with
 * (1 - b/100)(x + 10) = 10 - x. */
Test(geo, bias_moves_the_boundary_by_the_scaled_distance)
{
    bias_pair_t p = {.lat = {0, 0}, .lon = {-10, 10}};
    static const int biases[] = {0, 50, -50, 20, 99, -99};

    for (size_t k = 0; k < sizeof(biases) / sizeof(biases[0]); k++) {
        double f = 1 - biases[k] / 100.0;
        double x = 10 * (1 - f) / (1 + f); /* the boundary's longitude */
        p.bias[0] = biases[k];
        cr_expect_eq(bias_first(&p, 0, x - 0.2), 0, "bias %d: A west of %.3f", biases[k], x);
        cr_expect_eq(bias_first(&p, 0, x + 0.2), 1, "bias %d: B east of %.3f", biases[k], x);
    }
    p.bias[0] = 50; /* the example of gslb-zone(5): A twice as far as B */
    cr_expect_eq(bias_first(&p, 0, 3.2), 0);
    cr_expect_eq(bias_first(&p, 0, 3.5), 1);
    p.bias[0] = 0;
    p.bias[1] = 50; /* the same on B mirrors it */
    cr_expect_eq(bias_first(&p, 0, -3.2), 1);
    cr_expect_eq(bias_first(&p, 0, -3.5), 0);
    p.bias[0] = p.bias[1] = 40; /* equal biases cancel out */
    cr_expect_eq(bias_first(&p, 0, -0.2), 0);
    cr_expect_eq(bias_first(&p, 0, 0.2), 1);
}

/* Over a grid of client points covering the globe (every 3 degrees), for
 * pairs of regions and biases, the region ordered first is the one with the
 * smaller scaled great-circle distance as the test computes it. */
Test(geo, bias_grid_orders_by_scaled_distance)
{
    static const bias_pair_t pairs[] = {
        {{0, 0}, {-10, 10}, {0, 0}},
        {{0, 0}, {-10, 10}, {50, 0}},
        {{39.04, 45.6}, {-77.49, -121.2}, {0, 0}},    /* Virginia, Oregon */
        {{39.04, 45.6}, {-77.49, -121.2}, {30, 0}},   /* Virginia grows */
        {{39.04, 45.6}, {-77.49, -121.2}, {-40, 25}}, /* Oregon grows more */
        {{53.35, 1.29}, {-6.26, 103.85}, {99, -99}},  /* Dublin, Singapore, both ends */
        {{-33.9, 51.5}, {151.2, -0.13}, {-99, 99}},   /* nearly antipodal */
    };
    unsigned checked = 0, moved = 0;

    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        bias_pair_t flat = pairs[k];
        flat.bias[0] = flat.bias[1] = 0;
        for (double lat = -87; lat <= 87; lat += 3) {
            for (double lon = -180; lon < 180; lon += 3) {
                int want = bias_expect(&pairs[k], lat, lon);
                if (want < 0) {
                    continue;
                }
                cr_assert_eq(bias_first(&pairs[k], lat, lon), want,
                             "pair %zu, client %.0f %.0f: want region %d", k, lat, lon, want);
                checked++;
                moved += want != bias_first(&flat, lat, lon);
            }
        }
    }
    /* The ties: with no bias, the meridians 0 and 180 are equally far from
     * 10 W and 10 E (two columns of 59). */
    cr_expect_gt(checked, 7 * 59 * 120 - 2 * 59 - 5, "nearly every point is decided: %u", checked);
    cr_expect_gt(moved, 1000, "the biases move a good share of the clients: %u", moved);
}

/* Every /24 inside the ECS scope returned for 10.x.y.z gets the same order:
 * the scope is never wider than is true. */
static void bias_scope_holds(const geo_map_t *m, const geo_list_t *l, uint32_t net, unsigned scope)
{
    cr_assert(scope >= 8 && scope <= 32, "scope /%u", scope);
    uint32_t first = (10u << 24 | net) & (scope ? 0xffffffffu << (32 - scope) : 0);
    uint32_t count = scope >= 24 ? 1 : 1u << (24 - scope);
    for (uint32_t k = 0; k < count && k < 4096; k++) {
        uint32_t addr = htonl(first + (k << 8));
        unsigned s;
        cr_assert_eq(geo_map_lookup(m, false, (const uint8_t *)&addr, &s), l,
                     "inside the scope /%u of %08x", scope, net);
    }
}

/* The compiled map gives each network of a database the biased order: a
 * grid of /24s (10.LAT.LON.0/24), looked up in the map built for three
 * biases, agrees with the test's own scaled distances, and neighbours that
 * end up with the same order merge into one wider ECS scope. */
Test(geo, bias_compiled_map_over_a_grid_of_networks)
{
    char *text = xstrdup("");
    static const size_t zr[] = {0, 1};
    static const int biases[][2] = {{0, 0}, {50, 0}, {-50, 30}};

    for (int i = 0; i < 30; i++) {
        for (int j = 0; j < 60; j++) {
            char *next = xasprintf("%s10.%d.%d.0/24 ZZ EU %.1f %.1f\n", text, i, j, -87 + 6.0 * i,
                                   -180 + 6.0 * j);
            free(text);
            text = next;
        }
    }
    /* Two neighbours for the ECS check: on the equator at 2 E and 2.5 E. */
    char *next = xasprintf("%s10.200.0.0/24 ZZ EU 0 2\n10.200.1.0/24 ZZ EU 0 2.5\n", text);
    free(text);
    geo_db_t *grid = db_from_spec(next);
    free(next);
    for (size_t k = 0; k < sizeof(biases) / sizeof(biases[0]); k++) {
        bias_pair_t p = {{0, 0}, {-10, 10}, {biases[k][0], biases[k][1]}};
        geo_map_spec_t spec = {
            .n = 2, .lat = p.lat, .lon = p.lon, .bias = p.bias, .zone_region = zr};
        arena_t a;
        arena_init(&a);
        const geo_map_t *m = geo_map_build(grid, &spec, &a);
        unsigned scope;
        char ip[32];
        for (int i = 0; i < 30; i++) {
            for (int j = 0; j < 60; j++) {
                int want = bias_expect(&p, -87 + 6.0 * i, -180 + 6.0 * j);
                snprintf(ip, sizeof(ip), "10.%d.%d.77", i, j);
                const geo_list_t *l = lookup4(m, ip, &scope);
                cr_assert_eq(l->source, GEO_BY_DISTANCE);
                cr_assert(want < 0 || l->e[0].region == want, "bias %d/%d, %s: want %d", p.bias[0],
                          p.bias[1], ip, want);
                bias_scope_holds(m, l, i << 16 | j << 8, scope);
            }
        }
        /* With no bias 2 E and 2.5 E both go to B, one order for the /23;
         * bias 50 on A puts the boundary at 3.33 E: still one; -50/30 on
         * A/B puts it west of 0: one again. */
        const geo_list_t *l0 = lookup4(m, "10.200.0.1", &scope);
        cr_expect_eq(scope, 23, "bias %d/%d: equal neighbours merge", p.bias[0], p.bias[1]);
        cr_expect_eq(l0, lookup4(m, "10.200.1.1", &scope));
        arena_free(&a);
    }
    /* A bias that splits the two neighbours: each keeps its /24. */
    bias_pair_t p = {{0, 0}, {-10, 10}, {0, 0}};
    /* boundary between 2 and 2.5 E: f = (10 - 2.25) / (10 + 2.25) */
    p.bias[0] = (int)lround(100 * (1 - (10 - 2.25) / (10 + 2.25)));
    geo_map_spec_t spec = {.n = 2, .lat = p.lat, .lon = p.lon, .bias = p.bias, .zone_region = zr};
    arena_t a;
    arena_init(&a);
    const geo_map_t *m = geo_map_build(grid, &spec, &a);
    unsigned scope;
    cr_expect_eq(lookup4(m, "10.200.0.1", &scope)->e[0].region, 0, "bias %d", p.bias[0]);
    cr_expect_eq(scope, 24);
    cr_expect_eq(lookup4(m, "10.200.1.1", &scope)->e[0].region, 1);
    cr_expect_eq(scope, 24);
    arena_free(&a);
    geo_db_free(grid);
}

/* Services with the same regions but other biases do not share a map, and
 * a bias edited in a reload builds a new one; no bias and all zeros are the
 * same map. */
Test(geo, map_cache_keys_on_biases)
{
    geo_cache_t *c = geo_cache_new();
    int zero[3] = {0, 0, 0}, some[3] = {0, 20, 0}, other[3] = {0, -20, 0};
    geo_map_spec_t s0 = spec3(lat3, NULL, false), sz = s0, s1 = s0, s2 = s0;
    unsigned scope;

    sz.bias = zero;
    s1.bias = some;
    s2.bias = other;
    geo_cache_entry_t *a = geo_cache_get(c, db, &s0);
    geo_cache_entry_t *b = geo_cache_get(c, db, &sz);
    cr_assert_eq(a, b, "no bias is bias 0");
    geo_cache_entry_t *d = geo_cache_get(c, db, &s1);
    geo_cache_entry_t *e = geo_cache_get(c, db, &s2);
    cr_assert_neq(d, a);
    cr_assert_neq(e, a);
    cr_assert_neq(e, d);
    cr_assert_eq(geo_cache_built(c), 3);
    geo_cache_entry_t *f = geo_cache_get(c, db, &s1);
    cr_assert_eq(f, d, "the same biases again: reused");
    cr_assert_eq(geo_cache_built(c), 3);
    /* London: Dublin 463 km, Virginia about 5,900 km. Dublin at bias -99
     * is 926 km away as ordered, still nearer; Virginia at 99 is 59 km. */
    int far[3] = {99, -99, 0};
    geo_map_spec_t s3 = s0;
    s3.bias = far;
    geo_cache_entry_t *g = geo_cache_get(c, db, &s3);
    assert_order(lookup4(geo_cache_map(a), "81.2.69.1", &scope), "eu-west us-east ap-south");
    assert_order(lookup4(geo_cache_map(g), "81.2.69.1", &scope), "us-east eu-west ap-south");
    geo_cache_entry_t *all[] = {a, b, d, e, f, g};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        geo_cache_release(all[i]);
    }
    geo_cache_free(c);
}

/* With spread_km the lists keep the distances as ordered: the biased ones. */
Test(geo, bias_kept_distances_are_biased)
{
    int bias[3] = {0, 50, 0};
    geo_map_spec_t spec = spec3(lat3, NULL, true);
    geo_loc_t london = {.lat = 51.5, .lon = -0.13, .has_coords = true};
    geo_entry_t e[3];
    uint16_t n;

    spec.bias = bias;
    geo_map_order(&spec, &london, e, &n);
    cr_assert_eq(e[0].region, 1);
    double km = bias_km(51.5, -0.13, 53.35, -6.26);
    cr_expect_float_eq(e[0].km, (float)lround(km / 2), 0.5, "half of %.0f km", km);
    cr_expect_eq(e[1].region, 0);
    cr_expect_float_eq(e[1].km, (float)lround(bias_km(51.5, -0.13, 39.04, -77.49)), 0.5);
}

/* The location the database gives an address, or NULL. */
static const geo_loc_t *loc_of(const geo_db_t *d, const char *ip)
{
    uint8_t a[16];
    unsigned depth;
    bool v6 = strchr(ip, ':') != NULL;

    cr_assert_eq(inet_pton(v6 ? AF_INET6 : AF_INET, ip, a), 1, "%s", ip);
    uint32_t leaf = geo_trie_walk(&d->trie, v6, a, &depth);
    return leaf == GEO_NONE ? NULL : &d->locs[leaf & ~GEO_LEAF];
}

static void assert_loc(const geo_loc_t *l, const char *cc, const char *cont, double lat, double lon,
                       const char *from)
{
    cr_assert_not_null(l);
    cr_assert_str_eq(l->country, cc);
    cr_assert_str_eq(l->continent, cont);
    cr_assert_str_eq(l->subdivision, "");
    cr_assert(l->has_coords);
    cr_assert_str_eq(l->coords_from, from);
    /* the flat layout stores floats: about 1e-6 of a degree off */
    cr_assert(fabs(l->lat - lat) < 1e-4 && fabs(l->lon - lon) < 1e-4, "%s at %f %f, not %f %f", cc,
              l->lat, l->lon, lat, lon);
}

/* ip-location-db's flat layout (country_code, latitude, longitude at the top
 * level, a subdivision name in state1): read as the GeoIP2 layout is, the
 * continent from the country, the subdivision left unknown. The first
 * record in tree order is empty, so the layout is decided by a later one. */
static const char *flat_spec = "0.0.0.0/8        - - - -\n"
                               "81.2.69.0/24     GB - 51.5 -0.13 England\n"
                               "192.0.2.0/25     US - 38.9 -77.0 Virginia\n"
                               "192.0.2.128/25   US - 37.4 -122.1 California\n"
                               "198.51.100.0/24  SG - 1.29 103.85\n"
                               "203.0.113.0/24   AU - - -\n"
                               "2001:db8:1::/48  DE - 50.1 8.7 Hesse\n";

Test(geo, flat_layout_gives_locations_countries_and_continents)
{
    geo_db_t *flat;

    cr_assert_eq(open_built(flat_spec, "--layout flat --database-type 'city ipv6'", &flat), 0);
    cr_assert_str_eq(flat->type, "city ipv6");
    assert_loc(loc_of(flat, "81.2.69.142"), "GB", "EU", 51.5, -0.13, "database");
    assert_loc(loc_of(flat, "192.0.2.1"), "US", "NA", 38.9, -77.0, "database");
    assert_loc(loc_of(flat, "192.0.2.200"), "US", "NA", 37.4, -122.1, "database");
    assert_loc(loc_of(flat, "198.51.100.7"), "SG", "AS", 1.29, 103.85, "database");
    assert_loc(loc_of(flat, "2001:db8:1:2::1"), "DE", "EU", 50.1, 8.7, "database");
    assert_loc(loc_of(flat, "::ffff:81.2.69.142"), "GB", "EU", 51.5, -0.13, "database");
    /* a country without coordinates stands at the country's point */
    double lat, lon;
    cr_assert(geo_country_coords("AU", &lat, &lon));
    assert_loc(loc_of(flat, "203.0.113.9"), "AU", "OC", lat, lon, "country");
    /* an empty record places nobody; an address of no network is not found */
    const geo_loc_t *none = loc_of(flat, "0.1.2.3");
    cr_assert(none != NULL && !none->has_coords && none->country[0] == '\0');
    cr_assert_null(loc_of(flat, "10.0.0.1"));
    geo_db_free(flat);
}

/* ip-location-db ships IPv4 and IPv6 as separate files: an IPv4-only flat
 * database places IPv4 clients and no IPv6 one. */
Test(geo, flat_layout_ipv4_database)
{
    geo_db_t *flat;

    static const char *v4 = "81.2.69.0/24 GB - 51.5 -0.13 England\n"
                            "192.0.2.128/25 US - 37.4 -122.1 California\n";
    uint8_t v6[16];
    unsigned depth;

    cr_assert_eq(open_built(v4, "--layout flat --ip-version 4 --database-type 'city ipv4'", &flat),
                 0);
    assert_loc(loc_of(flat, "81.2.69.142"), "GB", "EU", 51.5, -0.13, "database");
    assert_loc(loc_of(flat, "192.0.2.200"), "US", "NA", 37.4, -122.1, "database");
    inet_pton(AF_INET6, "2001:db8:1::1", v6);
    cr_assert_eq(geo_trie_walk(&flat->trie, true, v6, &depth), GEO_NONE);
    geo_db_free(flat);
}

/* The same records in the GeoIP2 layout give the same locations, apart from
 * the subdivision a GeoIP2 record can name: the flat probe never changes
 * what a GeoIP2 database says. */
Test(geo, flat_and_geoip2_layouts_agree)
{
    static const char *g = "81.2.69.0/24 GB EU 51.5 -0.13\n"
                           "198.51.100.0/24 SG AS 1.29 103.85\n";
    static const char *f = "81.2.69.0/24 GB - 51.5 -0.13\n"
                           "198.51.100.0/24 SG - 1.29 103.85\n";
    geo_db_t *a, *b;

    cr_assert_eq(open_built(g, "", &a), 0);
    cr_assert_eq(open_built(f, "--layout flat", &b), 0);
    for (int i = 0; i < 2; i++) {
        const char *ip = i ? "198.51.100.1" : "81.2.69.1";
        const geo_loc_t *la = loc_of(a, ip), *lb = loc_of(b, ip);
        cr_assert_str_eq(la->country, lb->country);
        cr_assert_str_eq(la->continent, lb->continent);
        cr_assert(fabs(la->lat - lb->lat) < 1e-4 && fabs(la->lon - lb->lon) < 1e-4);
    }
    geo_db_free(a);
    geo_db_free(b);
}
