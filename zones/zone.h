/*
 * zone: the in-memory model of one zone YAML file.
 *
 * This is what both daemons read: gslbd compiles it into wire answers,
 * healthd takes regions, pools and checks from it. The model is plain data
 * built once by the loader (load.h) and never changed afterwards, so it can
 * be shared read-only between threads. It does no I/O and knows nothing
 * about YAML, sockets or libuv.
 *
 * Names and record data are held as ldns objects: ldns parses and prints
 * record data better than hand-written code would, and gslbd renders answers
 * from them at load time (never per query).
 */
#ifndef GSLB_ZONE_H
#define GSLB_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "common/diag.h"

/* Marks (diag_mark_t) in the model point into zone_t.file. */

typedef enum { CHECK_HTTP, CHECK_HTTPS, CHECK_TCP } check_type_t;

typedef struct {
    char *name;
    diag_mark_t mark;
    check_type_t type;
    uint16_t port;    /* 80 for http, 443 for https when not written; tcp requires one */
    char *path;       /* http(s): request path, default "/" */
    char *host;       /* http(s): Host header, NULL = the probed address */
    char *sni;        /* https: server name for SNI, NULL = host */
    char *body;       /* http(s): substring the body must hold, NULL = any */
    bool tls_verify;  /* https: verify the certificate (default true) */
    uint16_t *expect; /* accepted status codes, default {200} */
    size_t n_expect;
    unsigned interval_ms;    /* default 2000 */
    unsigned timeout_ms;     /* default 1000, must be < interval */
    unsigned rise, fall;     /* default 2, 2 */
    unsigned stale_after_ms; /* `stale_after`: a vantage silent this long stops counting;
                              * default 3 x interval */
    unsigned quorum;         /* `quorum`: vantages that must agree to change a member's
                              * state; 0 (`majority`, the default): more than half of
                              * those voting */
} zone_check_t;

#define ZONE_QUORUM_MAX 64

/* One address of a region's pool: what gslbd answers, and where healthd
 * probes it (by default the same address, on the check's port). */
typedef struct {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
    char *text;       /* the address as written, for logs and keys */
    int probe_family; /* AF_INET, AF_INET6 */
    uint8_t probe_addr[16];
    uint16_t probe_port; /* 0 = the check's port */
    diag_mark_t mark;
} zone_member_t;

/* `bias` of a region: at 100 a region would stand at distance 0 from every
 * client, and at -100 its distance would double; the range stops short of
 * both, so every region keeps a catchment around its own location. */
#define ZONE_BIAS_MIN (-99)
#define ZONE_BIAS_MAX 99

/* Where healthd reads how loaded a region's balancer is (`load:`). */
typedef enum { LOAD_NGINX, LOAD_HAPROXY, LOAD_PROMETHEUS } zone_load_source_t;

typedef struct {
    bool given; /* the region has a `load:` */
    zone_load_source_t source;
    char *url;       /* http:// or https:// */
    double capacity; /* > 0, in the figure's unit: utilisation = figure / capacity */
    char *backend;   /* haproxy: the BACKEND row of this proxy (or frontend) */
    char *frontend;  /* haproxy: the FRONTEND row of this proxy */
    char *metric;    /* prometheus: name, optionally {label="value",...} to match */
    unsigned interval_ms, timeout_ms; /* default 2000, 1000; timeout < interval */
    unsigned stale_after_ms;          /* default 3 x interval: older figures unused */
} zone_load_t;

/* What a `load.metric` names: a Prometheus metric name, optionally with
 * {label="value",...} (no blanks; a backslash in a value escapes the next
 * byte), the series of that name whose labels include every pair written.
 * Spans point into the text; values keep their escapes. zones/zload.c checks
 * it at load and healthd selects samples with it, so both read one grammar. */
#define ZONE_LOAD_LABELS_MAX 32

typedef struct {
    const char *s;
    size_t n;
} zone_span_t;

typedef struct {
    zone_span_t name;
    zone_span_t label[ZONE_LOAD_LABELS_MAX], value[ZONE_LOAD_LABELS_MAX];
    size_t n;
} zone_metric_t;

/* Parse `text` into *out; false when it is not a selector (or names more
 * than ZONE_LOAD_LABELS_MAX labels). */
bool zone_metric_parse(const char *text, zone_metric_t *out);

/* The zone's `shed:`: when gslbd moves clients off a loaded region. */
typedef struct {
    double high, low;   /* shed above high, into regions below low; stop below low */
    double step;        /* the most the shed share moves per period */
    unsigned period_ms; /* default 2 x the largest service TTL, at least 1 s */
} zone_shed_t;

#define ZONE_SHED_HIGH 0.9
#define ZONE_SHED_LOW  0.7
#define ZONE_SHED_STEP 0.15

typedef struct {
    char *name;
    diag_mark_t mark;
    double lat, lon;     /* degrees, -90..90 and -180..180 */
    unsigned weight;     /* 0..1000000; 0 = drained */
    int bias;            /* -99..99, default 0: the distance that orders this region for a
                          * client is scaled by (1 - bias/100), so a positive bias grows the
                          * region's catchment and a negative one shrinks it */
    zone_member_t *pool; /* at least one member */
    size_t n_pool;
    int check;       /* index into zone_t.checks, -1 = none (always up) */
    unsigned min_up; /* members that must be up for the region to be up, default 1 */
    /* `max_addrs`: at most this many addresses of a family per answer,
     * rotating which ones; 0 (the default) answers every answerable one. */
    unsigned max_addrs;
    zone_load_t load; /* load.given false: no load figures, never shed */
} zone_region_t;

typedef enum { POLICY_NEAREST, POLICY_WEIGHTED, POLICY_FAILOVER } zone_policy_t;

/* What a service answers when none of its regions is up (`on_all_down`). */
typedef enum {
    ALL_DOWN_OPEN,     /* default: as if every region were up */
    ALL_DOWN_FALLBACK, /* the region named by `fallback` (writing it implies this) */
    ALL_DOWN_NODATA,   /* NOERROR without addresses */
    ALL_DOWN_SERVFAIL, /* SERVFAIL */
} zone_all_down_t;

/* geo.map keys: a continent code (AF AN AS EU NA OC SA), an ISO 3166 country
 * code, or a country-subdivision code ("US-CA"). A bare two-letter continent
 * code means the continent; "country:NA" names the country (Namibia) and
 * "continent:EU" may be written for clarity. */
typedef enum { GEO_KEY_CONTINENT, GEO_KEY_COUNTRY, GEO_KEY_SUBDIVISION } zone_geo_kind_t;

typedef struct {
    diag_mark_t mark; /* the key */
    zone_geo_kind_t kind;
    char code[8];    /* upper case: "EU", "CN", "US-CA" */
    size_t *regions; /* indices into zone_t.regions, in listed order */
    size_t n_regions;
} zone_geo_map_t;

typedef struct {
    diag_mark_t mark; /* the key */
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* the network, host bits zero (set host bits are an error) */
    unsigned prefix;  /* 0..32 or 0..128 */
    size_t *regions;
    size_t n_regions;
} zone_geo_net_t;

/* Overrides checked before distance: `geo: {map, nets, default}`, at the top
 * level of the zone (all services) or in a service (replacing the zone's). */
typedef struct {
    bool given; /* the key was written */
    diag_mark_t mark;
    zone_geo_map_t *map;
    size_t n_map;
    zone_geo_net_t *nets;
    size_t n_nets;
    size_t *dflt; /* `default`: clients the database cannot place */
    size_t n_dflt;
} zone_geo_t;

/* Regions one service may list: far more than any deployment has, and a
 * bound the query path can size its scratch space by. */
#define ZONE_SERVICE_REGIONS_MAX 1024

typedef struct {
    char *name;      /* as written, relative to the zone ("www") */
    ldns_rdf *owner; /* absolute, lower case */
    diag_mark_t mark;
    size_t *regions; /* indices into zone_t.regions, in listed order */
    size_t n_regions;
    zone_policy_t policy;
    uint32_t ttl;     /* default 30 */
    double spread_km; /* `spread_km`, >= 0, default 0 */
    unsigned answers; /* `answers`: regions per answer, 1..16, default 1 */
    bool ecs;         /* `ecs`: use EDNS Client Subnet; default the zone's */
    zone_geo_t geo;   /* service-level overrides (geo.given false: use the zone's) */
    zone_all_down_t on_all_down;
    size_t fallback;  /* `fallback`: index into zone_t.regions (ALL_DOWN_FALLBACK) */
    uint32_t min_ttl; /* `min_ttl`: TTL while failing over or open; default 5, <= ttl */
} zone_service_t;

/* One canary of a vantage (`vantages.NAME.canary`): an address the
 * vantage's healthd should always reach, written like a pool member's
 * `probe:`. */
typedef struct {
    char *text;       /* as written: "192.0.2.9:80", "[2001:db8::9]:443", "192.0.2.9" */
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
    uint16_t port;    /* 0 = the check's port */
    diag_mark_t mark;
} zone_canary_t;

/* A vantage point (`vantages.NAME`): a healthd started with --vantage NAME.
 * While more than half of its canaries are down its own network is in
 * doubt, and gslbd counts none of its votes. The same name in several zone
 * files is one vantage: its canaries are the union. */
typedef struct {
    char *name; /* ctl_name_ok() */
    diag_mark_t mark;
    zone_canary_t *canary; /* 1..ZONE_CANARY_MAX */
    size_t n_canary;
    int check; /* index into zone_t.checks, -1 = the default below */
} zone_vantage_t;

#define ZONE_CANARY_MAX 16
/* A canary without a `check`: a TCP connect every second, given 500 ms,
 * up after 2 in a row and down after 2: a network that breaks is seen in
 * about two seconds, as fast as a member failing a typical check. */
#define ZONE_CANARY_INTERVAL_MS 1000
#define ZONE_CANARY_TIMEOUT_MS  500
#define ZONE_CANARY_RISE        2
#define ZONE_CANARY_FALL        2

typedef struct zone {
    char *file;        /* path the zone was loaded from */
    diag_mark_t mark;  /* where the "zone:" value is written */
    ldns_rdf *origin;  /* absolute, lower case */
    uint32_t ttl;      /* default TTL of static records */
    uint32_t serial;   /* the SOA serial in soa below */
    bool serial_given; /* serial was written in the YAML (else derived: load.h) */
    int64_t mtime;     /* the file's modification time (seconds) when it was read */
    uint64_t digest;   /* a digest of the file's bytes, to tell an edit from a touch */
    ldns_rr *soa;      /* apex SOA; its TTL is soa.ttl, by default the zone TTL */
    ldns_rr_list *rrs; /* every static record including apex NS, not SOA */
    zone_region_t *regions;
    size_t n_regions;
    zone_check_t *checks;
    size_t n_checks;
    zone_service_t *services;
    size_t n_services;
    zone_vantage_t *vantages; /* top-level `vantages`, in file order */
    size_t n_vantages;
    bool ecs;       /* top-level `ecs`, default true */
    zone_geo_t geo; /* top-level `geo` overrides */
    zone_shed_t shed;
    /* Indices of regions and checks sorted by name, for the lookups below
     * (NULL: not made, the lookups search in order). */
    size_t *region_order, *check_order;
} zone_t;

/* A new, empty zone for `file` (copied): the loader fills it in. */
zone_t *zone_new(const char *file);

void zone_free(zone_t *zone);

/* Free the lists of a zone_geo_t and zero it. NULL-safe. */
void zone_geo_free(zone_geo_t *geo);

/* Sort the names of zone->regions (zone->checks) for the lookups below; the
 * loader calls them once each list is complete. Names are unique. */
void zone_index_regions(zone_t *zone);
void zone_index_checks(zone_t *zone);

/* The index of the region (check) named `name`, SIZE_MAX (-1) when there is
 * none: O(log n) once indexed. A zone names thousands of regions in its
 * services and geo lists at most, but a file may hold far more. */
size_t zone_find_region(const zone_t *zone, const char *name);
int zone_find_check(const zone_t *zone, const char *name);

/* Free an array of zones: each zone, then the array. NULL-safe. */
void zone_set_free(zone_t **zones, size_t n);

/* Warnings about a loaded zone that are no errors: a region no service
 * lists (nor names as its fallback), which answers nothing and is probed
 * all the same. Appended to `out` at the region's name. */
void zone_lint(const zone_t *zone, diag_t *out);

/* Checks across a set of loaded zones: the same zone served by two files is
 * an error at the later file's "zone:" key. Returns 0 or GSLB_ECONFIG (errors
 * in errs). */
int zone_check_set(zone_t *const *zones, size_t n, diag_t *errs) ATTR_WUR;

#endif
