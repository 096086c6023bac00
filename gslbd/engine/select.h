/*
 * select: which regions answer one query of a service.
 *
 * Input is the service's region order for this client (from its geo map, or
 * the listed order); output is up to `answers` regions. A region is eligible
 * when it is up (operator override, else at least min_up members up), has
 * weight > 0 and no drain override, and has an up address of the asked
 * family. When none is up, the service's on_all_down decides: open (ignore
 * health, then weight), a fallback region, NODATA or SERVFAIL.
 * Pure and allocation-free; `why` (optional, for --explain) receives a
 * select_why_t per entry of the order.
 */
#ifndef GSLB_SELECT_H
#define GSLB_SELECT_H

#include <stdbool.h>
#include <stdint.h>

#include "gslbd/engine/snapshot.h"

#define SELECT_MAX 16 /* most regions in one answer (services allow 1..16) */

typedef enum {
    SELECT_CHOSEN,
    SELECT_NOT_NEEDED, /* eligible, but the answer was full */
    SELECT_DOWN,
    SELECT_DRAINED,   /* weight 0 */
    SELECT_NO_FAMILY, /* no address of the asked family */
    SELECT_SHED,      /* eligible, but this client is shed to another (shed.h) */
} select_why_t;

/* How an answer was chosen, as the answer counters tell it
 * (gslb_service_answers_total's mode). */
typedef enum {
    SELECT_MODE_HEALTH,   /* by health: the client's first region, or a weighted choice */
    SELECT_MODE_FAILOVER, /* the client's first region is down or drained: a later one */
    SELECT_MODE_OPEN,     /* none up (or all drained): health, then weight, ignored */
    SELECT_MODE_FALLBACK, /* none up: the fallback region (on_all_down) */
    SELECT_MODE_NODATA,   /* none up: no addresses (on_all_down nodata) */
    SELECT_MODE_SERVFAIL, /* none up: SERVFAIL (on_all_down servfail) */
    SELECT_MODE_SHED,     /* the client's region sheds load: its next with room (shed.h) */
    SELECT_MODES,
} select_mode_t;

typedef struct {
    uint16_t region[SELECT_MAX]; /* positions in svc->regions, in answer order */
    uint8_t n;
    bool failed_open; /* no region was up: health (then weight) ignored */
    bool degraded;    /* failing over or open: answer with min_ttl */
    bool shed;        /* the first region replaces shed_from, which sheds load */
    uint8_t mode;     /* select_mode_t */
    uint16_t shed_from;
} select_t;

/* Members of a region up by common/health.h's member rule (both families). */
unsigned select_members_up(const region_rt_t *r);

/* The health slot of a region's member k, IPv4 members first (NULL: none). */
static inline const healthdb_slot_t *select_member_slot(const region_rt_t *r, unsigned k)
{
    return k < r->n4 ? r->s4[k] : r->s6[k - r->n4];
}

/* How many of a region's members are held without a quorum (healthdb.h). */
unsigned select_members_held(const region_rt_t *r);

/* Is the region up, by common/health.h's region rule? The one definition the
 * choice, the control socket's status and --explain all use. */
bool select_region_up(const region_rt_t *r);

/* What a region is, as operators are told (gslbctl status, explain), by the
 * same rules the choice applies. */
typedef enum {
    SELECT_STATE_UP,          /* enough members known up (or no health check) */
    SELECT_STATE_UNKNOWN,     /* up only by counting unknown members as up */
    SELECT_STATE_DOWN,        /* too few members up: no traffic */
    SELECT_STATE_DRAINED,     /* drain override or weight 0: no new traffic */
    SELECT_STATE_FORCED_UP,   /* override up, whatever the members */
    SELECT_STATE_FORCED_DOWN, /* override down, whatever the members */
} select_state_t;

/* A member as its region counts it: its report and its own override. */
typedef enum {
    SELECT_MEMBER_UP,          /* reported up */
    SELECT_MEMBER_UNKNOWN,     /* not reported yet, or gone stale: counted as up */
    SELECT_MEMBER_DOWN,        /* reported down */
    SELECT_MEMBER_FORCED_UP,   /* override up */
    SELECT_MEMBER_FORCED_DOWN, /* override down */
    SELECT_MEMBER_DRAINED,     /* override drain: not answered */
} select_member_t;

typedef struct {
    select_state_t state;
    health_override_t override;            /* the region's own */
    unsigned members;                      /* both families */
    unsigned n[SELECT_MEMBER_DRAINED + 1]; /* members per select_member_t */
    unsigned counted_up;                   /* up by the member rule: up, unknown and forced up */
    unsigned weight;                       /* what selection uses: 0 when drained */
    bool health_up;                        /* the region rule (select_region_up) */
    bool unsure;                           /* health not known for sure: waiting or held */
    bool waiting;                          /* ... waiting for healthd after a restart */
    unsigned held;                         /* members held without a quorum (healthdb.h) */
} select_report_t;

/* How a member is counted (NULL slot: unknown). */
select_member_t select_member_state(const healthdb_slot_t *s);

/* The region's state and what it rests on. Reads the slots (main thread or
 * any: atomics). */
void select_region_report(const region_rt_t *r, select_report_t *out);

/* "up", "unknown", "down", "drained", "forced-up", "forced-down". */
const char *select_state_name(select_state_t st);
const char *select_member_name(select_member_t st);

/* Whether a member address (index i of the family's list) may be answered. */
static inline bool select_member_ok(const region_rt_t *r, bool v6, unsigned i, bool failed_open)
{
    return failed_open || healthdb_region_override(r->slot) == HEALTH_OV_UP ||
           healthdb_member_up(v6 ? r->s6[i] : r->s4[i]);
}

/* A region's status bits: usable (eligible with health and weight) for A
 * and for AAAA queries; every member of the family answerable. */
#define REGION_USABLE4 1u
#define REGION_USABLE6 2u
#define REGION_ALL4    4u
#define REGION_ALL6    8u
#define REGION_UNSURE  16u /* its health may not be known yet: answer with min_ttl */
#define REGION_FAST4   32u /* usable for A and sure: the inline common case may take it */
#define REGION_FAST6   64u

unsigned select_region_status_slow(const region_rt_t *r);

/* The status bits, from the region's cache while the health generation it
 * was worked out at still holds: health changes are rare, queries are not,
 * and working it out reads every member's slot. */
static inline unsigned select_region_status(const region_rt_t *r)
{
    if (r->status == NULL) {
        return select_region_status_slow(r);
    }
    uint64_t gen = atomic_load_explicit(r->health_gen, memory_order_acquire) + 1;
    uint64_t st = atomic_load_explicit(r->status, memory_order_relaxed);
    if (st >> 8 == gen) {
        return (unsigned)(st & 0xff);
    }
    unsigned bits = select_region_status_slow(r); /* reads the slots after the acquire */
    atomic_store_explicit(r->status, gen << 8 | bits, memory_order_relaxed);
    return bits;
}

/* Rendezvous (highest random weight) hashing, for the choices that weigh
 * regions: policy weighted, and the regions within spread_km. Every eligible
 * region scores weight / -ln(u), u uniform in (0, 1) drawn from a hash of the
 * client's network and the region's name, and the highest score wins. So the
 * same network gets the same region from every query and from every gslbd
 * with the same zone, with no state shared; over many networks each region's
 * share is its weight over the eligible regions'; and a change of one
 * region's weight (or its health) moves only clients to or from that region.
 *
 * The client's key: its address cut to `prefix` bits, mixed. Every address
 * inside that prefix has the same key, which is what lets the answer carry
 * that prefix as its ECS scope (answer.c). */
uint64_t select_client_key(bool v6, const uint8_t *addr, unsigned prefix);

/* A region's part of every score: its name hashed, so a region keeps its
 * clients when others are added, removed or reordered in the zone. */
uint64_t select_region_key(const char *name);

/* A client's rank for a region, uniform over 32 bits and independent of
 * its rendezvous scores: the client is shed from the region while the rank
 * is below the region's shed threshold (shed.h), so a share s sheds about s
 * of the region's clients whatever placed them there, and a larger share
 * sheds a superset. */
uint32_t select_shed_rank(uint64_t client, uint64_t region);

/* The score of a region of weight `weight` (0: never chosen) for a client. */
double select_hrw_score(uint64_t client, uint64_t region, unsigned weight);

/* What a service answers for one address family, whoever asks: as health
 * decides, or one of the ways it answers when no region can (select_slow()
 * and all_down() in select.c, which this follows step for step). Off the
 * query path: gslbd works it out when health or the zones change, to log
 * when a service starts and stops failing (svcwatch.h). */
typedef enum {
    SVC_STATE_OK,       /* a region is eligible, or no region has the family at all */
    SVC_STATE_OPEN,     /* none up: every region answered, health ignored */
    SVC_STATE_DRAINED,  /* every region with the family drained: answered all the same */
    SVC_STATE_FALLBACK, /* none up: the fallback region answered, health ignored */
    SVC_STATE_NODATA,   /* none up: NOERROR without addresses */
    SVC_STATE_SERVFAIL, /* none up: SERVFAIL */
} svc_state_t;

svc_state_t select_service_state(const svc_rt_t *svc, bool v6);

/* The whole of the choice (select.c). */
void select_regions_all(const svc_rt_t *svc, const geo_list_t *order, bool v6, uint64_t key,
                        select_t *out, uint8_t *why);

/* The case nearly every query is: one answer from a plain service whose
 * first region is usable, told with two loads from the region's status
 * cache. Its choice is then the first region (select_first_region). */
static inline bool select_is_fast(const svc_rt_t *svc, const geo_list_t *order, bool v6)
{
    return svc->plain && svc->answers == 1 && order->n > 0 &&
           (select_region_status(svc->regions[order->e[0].region]) &
            (v6 ? REGION_FAST6 : REGION_FAST4));
}

static inline void select_first_region(const geo_list_t *order, select_t *out)
{
    out->region[0] = order->e[0].region;
    out->n = 1;
    out->failed_open = out->degraded = out->shed = false;
    out->mode = SELECT_MODE_HEALTH;
}

/* Choose. The common case (select_is_fast) is settled here, inline;
 * anything else goes to select_regions_all. */
static inline void select_regions(const svc_rt_t *svc, const geo_list_t *order, bool v6,
                                  uint64_t key, select_t *out, uint8_t *why)
{
    if (why == NULL && select_is_fast(svc, order, v6)) {
        select_first_region(order, out);
        return;
    }
    select_regions_all(svc, order, v6, key, out, why);
}

#endif
