/*
 * snapshot: everything gslbd answers from, compiled from the zone models.
 *
 * A snapshot is immutable once built: worker threads read it without locks,
 * and a reload builds a new one aside and swaps a pointer (see server.h for
 * how the old one is reclaimed). All of it lives in one arena, so freeing is
 * one call. Lookup is one hash probe per name over lower-case wire names,
 * including empty non-terminals, so "does this name exist" is a probe too.
 */
#ifndef GSLB_SNAPSHOT_H
#define GSLB_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "geo/geomap.h"
#include "geo/mapcache.h"
#include "gslbd/engine/dname.h"
#include "gslbd/engine/healthdb.h"
#include "gslbd/engine/render.h"
#include "zones/zone.h"

typedef struct zone_rt zone_rt_t;
typedef struct svc_rt svc_rt_t;
typedef struct snapshot_bind snapshot_bind_t;

typedef struct {
    const char *name;
    uint64_t hrw; /* select_region_key(name): its part of rendezvous scores */
    unsigned weight;
    double lat, lon;
    int bias; /* geoproximity bias, -99..99 (zone.h): compiled into the geo maps */
    uint16_t n4, n6;
    const uint8_t *v4;                      /* n4 x 4 bytes */
    const uint8_t *v6;                      /* n6 x 16 bytes */
    healthdb_slot_t *slot;                  /* the region's overrides; NULL: none (tests) */
    healthdb_slot_t *const *s4, *const *s6; /* each address's member slot, or NULL */
    uint16_t min_up;                        /* members that must be up for the region to be */
    bool checked;                           /* its members have a health check */
    const _Atomic bool *waiting;            /* healthdb_waiting(), or NULL */
    uint16_t max_addrs;                     /* addresses of a family per answer; 0: all */
    /* Its rotation counters in each count set (see snapshot_t): at rot for
     * its IPv4 addresses, rot + 1 for IPv6. A thread's counter is where its
     * next answer starts in the family's answerable members (encode.c). */
    uint32_t rot;
    /* What the slots say, cached per health generation by select.c (both
     * NULL: no cache, work it out every time). The one mutable word of a
     * snapshot: worker threads may store to it concurrently, each the same
     * value for the same generation. */
    const _Atomic uint64_t *health_gen;
    _Atomic uint64_t *status;
} region_rt_t;

struct svc_rt {
    const zone_rt_t *zone;
    const char *name;
    uint32_t ttl;
    uint16_t n_regions;
    const region_rt_t *const *regions; /* in listed order */
    const geo_map_t *map;              /* policy nearest: client -> region order, else NULL */
    const geo_list_t *listed;          /* the listed order, for weighted and failover */
    float spread_km;
    uint8_t policy;      /* zone_policy_t */
    bool plain;          /* svc_is_plain(), compiled */
    bool sheds;          /* a region of it has a load: (shed.h): choices are keyed */
    uint8_t answers;     /* regions per answer */
    bool ecs;            /* use EDNS Client Subnet to place the client */
    uint8_t on_all_down; /* zone_all_down_t */
    uint16_t fallback;   /* ALL_DOWN_FALLBACK: position in regions (may be past n_regions) */
    uint32_t min_ttl;    /* TTL while failing over or failing open */
    uint32_t count_base; /* its answer counters in each count set; see snapshot_t */
};

/* A service's answer counters, at count_base in each count set: one per
 * region position (n_regions + 1: a fallback outside the list has the last
 * position), then these two, then the answers of each select_mode_t but
 * the first (select.h: SELECT_MODE_FAILOVER to SELECT_MODE_SERVFAIL). The
 * answers by health are not counted apart, which would cost the common
 * case an addition: they are all the answers but those (stats.h). */
#define SVC_COUNT_NONE(svc)    ((svc)->n_regions + 1u) /* answers with no region (all down) */
#define SVC_COUNT_EXTRA(svc)   ((svc)->n_regions + 2u) /* regions past the first of an answer */
#define SVC_COUNT_MODE(svc, m) ((svc)->n_regions + 2u + (unsigned)(m)) /* m >= 1 */
#define SVC_COUNT_MODES        6u
#define SVC_COUNTS(svc)        ((svc)->n_regions + 3u + SVC_COUNT_MODES)

/* Whether a service takes the first eligible regions of its order as they
 * come: no weighted draw, no spread. */
static inline bool svc_is_plain(const svc_rt_t *svc)
{
    return svc->policy != POLICY_WEIGHTED && !(svc->policy == POLICY_NEAREST && svc->spread_km > 0);
}

/* What kind of response a prepared one is, worked out at load time for the
 * rate limiter's classes (rrl.h). */
typedef enum {
    PREPARED_POSITIVE, /* records in the answer section, or a service's */
    PREPARED_NODATA,   /* NOERROR, nothing in the answer section */
    PREPARED_NXDOMAIN,
    PREPARED_REFERRAL, /* below a delegation: NS in the authority section */
} prepared_kind_t;

/* One prepared response: a static fragment, optionally followed by address
 * records chosen per query from a service. */
typedef struct {
    frag_t frag;
    const svc_rt_t *svc; /* non-NULL: append this service's addresses */
    uint16_t svc_owner;  /* absolute offset (as rendered) of the service's name */
    uint16_t svc_type;   /* LDNS_RR_TYPE_A or _AAAA */
    /* A node's answer of one type: the query counter of that type and its
     * rcode (qstats_counter()), so the query path need not work it out. */
    uint16_t counter;
    uint8_t rcode;
    bool aa;
    uint8_t kind; /* prepared_kind_t */
} prepared_t;

typedef struct node node_t;
struct node {
    const uint8_t *name; /* lower-case wire, zero-padded to whole 8-byte words */
    uint32_t hash;
    uint8_t len;
    uint8_t n_types;
    const zone_rt_t *zone;
    const node_t *cut;          /* the delegation at or above this node, NULL if ours */
    const uint16_t *types;      /* query types with a prepared answer */
    const prepared_t *answers;  /* parallel to types */
    const prepared_t *other;    /* other types; NULL: the zone's NODATA */
    const prepared_t *referral; /* set on delegation points only */
};

struct zone_rt {
    const uint8_t *apex;
    uint8_t apex_len;
    const char *name;                  /* "gslb.example.com", no trailing dot */
    const region_rt_t *const *regions; /* every region of the zone, for status */
    size_t n_regions;
    const svc_rt_t *const *svcs; /* every service, in the file's order: status, svcwatch */
    size_t n_svcs;
    uint32_t serial;
    prepared_t nxdomain; /* SOA in authority, rendered against the apex */
    prepared_t nodata;
};

typedef struct {
    arena_t arena;
    const node_t **table;
    uint32_t mask;
    size_t n_nodes, n_zones;
    zone_rt_t *zones;
    geo_cache_t *own_maps;    /* a private map cache when none was given */
    geo_cache_entry_t **maps; /* the geo maps this snapshot holds references to */
    size_t n_maps;
    snapshot_bind_t *binds; /* health slots still to attach (snapshot_attach_health()) */
    size_t n_binds;
    /* Answer counters: how often each service's answers held each of its
     * regions, and among them each region's two rotation counters
     * (region_rt_t.rot). One set of n_counts per thread that answers, so
     * that no two threads write one cache line: the query path adds to its
     * own set with a relaxed load and store, no read-modify-write atomic,
     * and whoever sums them (gslbd's main loop, stats.h) reads every set.
     * Set 0 is scratch for callers that are no worker (--explain, tests):
     * never summed. */
    size_t n_counts;
    unsigned n_count_sets;
    _Atomic uint64_t *const *count_sets; /* n_count_sets pointers to n_counts counters */
    void *count_mem;
} snapshot_t;

/* What a snapshot is compiled against; every member may be NULL. */
typedef struct {
    const geo_db_t *db; /* NULL: no database, clients are not placed */
    healthdb_t *health; /* NULL: every region always up */
    geo_cache_t *maps;  /* geo maps shared with other snapshots; NULL: its own */
    /* Leave the health slots unattached: the snapshot is compiled on a thread
     * other than the one that owns `health` (gslbd compiles reloads on a
     * loader thread), and snapshot_attach_health() attaches them on that one
     * before the snapshot is published. */
    bool attach_later;
    /* Answer counter sets besides the scratch set 0: one per thread that
     * answers (answer_ctx_t.count_set names its own). */
    unsigned count_sets;
} snapshot_env_t;

/* Compile zones into a new snapshot against `env` (NULL for none). Returns
 * 0 and sets *out, or GSLB_ECONFIG with errors in errs (e.g. an RRset too large for a
 * DNS message). Neither the zones nor the database are referenced afterwards:
 * they may be freed while it serves. Geo maps come from env->maps, reused
 * when the database and a service's geometry are unchanged. */
int snapshot_build(zone_t *const *zones, size_t n, const snapshot_env_t *env, snapshot_t **out,
                   diag_t *errs) ATTR_WUR;

/* Find (or create) the health slots of a snapshot compiled with
 * env->attach_later in `health`, which must be the thread's own, and point
 * the regions at them. Call before the snapshot is published; nothing to do
 * for one compiled without. */
void snapshot_attach_health(snapshot_t *s, healthdb_t *health);

/* The sum of counter `i` over the count sets that workers use (1..). Any
 * thread; the counts may move meanwhile. */
uint64_t snapshot_count(const snapshot_t *s, size_t i);

/* Releases the geo maps back to their cache: on the thread that may use the
 * cache now (the main thread, or the loader thread while it compiles). */
void snapshot_free(snapshot_t *s);

/* The node of a name stored zero-padded to whole eight-byte words, as the
 * question name of a query_t is (query.h), the node names of a snapshot
 * are: one hash probe, compared a word at a time. */
static inline const node_t *snapshot_find_padded(const snapshot_t *s, const uint8_t *name,
                                                 uint8_t len, uint32_t hash)
{
    for (uint32_t i = hash & s->mask;; i = (i + 1) & s->mask) {
        const node_t *n = s->table[i];
        if (n == NULL) {
            return NULL;
        }
        if (n->hash == hash && n->len == len && dname_equal_padded(n->name, name, len)) {
            return n;
        }
    }
}

/* The node of any name (a suffix of the question, say). */
static inline const node_t *snapshot_find(const snapshot_t *s, const uint8_t *name, uint8_t len,
                                          uint32_t hash)
{
    for (uint32_t i = hash & s->mask;; i = (i + 1) & s->mask) {
        const node_t *n = s->table[i];
        if (n == NULL) {
            return NULL;
        }
        if (n->hash == hash && n->len == len && memcmp(n->name, name, len) == 0) {
            return n;
        }
    }
}

#endif
