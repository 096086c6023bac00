/*
 * explain: what gslbd would answer one client, and why: `gslbd --explain
 * ADDRESS[/PREFIX] NAME [TYPE]` on the zone files (offline), and `gslbctl
 * explain` on the running server's snapshot (live).
 *
 * It builds a real query (with an EDNS Client Subnet option for the given
 * prefix), runs it through engine_reply() with a trace attached, and prints
 * the location found, the regions in order with distances and why each was
 * chosen or skipped, the answer, its TTL and the ECS scope. Live, the
 * regions' health, overrides and weights are what the workers read this
 * moment, so the answer is the one a query gets now (a weighted draw
 * aside: that is random by design, and the chances are printed). Offline
 * there are no reports and no overrides: the output says so. Nothing here
 * is on the server's path; it only reads what engine_reply() decided.
 */
#include "gslbd/engine/explain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslbd/engine/engine.h"

static const char *const source_text[] = {
    "by distance from the client", "by geo.map for the client's place, then by distance",
    "by geo.nets for the client's network", "by geo.default (the database cannot place the client)",
    "in the listed order (the database cannot place the client)"};

typedef struct {
    int family;
    uint8_t addr[16];
    unsigned prefix;
} client_t;

static int parse_client(const char *text, client_t *c, char *why, size_t why_size)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash;

    snprintf(buf, sizeof(buf), "%s", text);
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash++ = '\0';
    }
    memset(c, 0, sizeof(*c));
    c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    unsigned max = c->family == AF_INET6 ? 128 : 32;
    char *end = NULL;
    unsigned long p = slash ? strtoul(slash, &end, 10) : max;
    if (inet_pton(c->family, buf, c->addr) != 1 || p > max || (slash && (*end || !*slash))) {
        snprintf(why, why_size, "'%s' is not ADDRESS[/PREFIX]", text);
        return -EINVAL;
    }
    c->prefix = (unsigned)p;
    for (unsigned bit = c->prefix; bit < max; bit++) {
        c->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8)); /* ECS: no bits past the prefix */
    }
    return 0;
}

static void wr16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A query for name/type with EDNS and ECS for the client. */
static size_t build_query(const client_t *c, const ldns_rdf *name, uint16_t type, uint8_t *q)
{
    size_t pos = 12, abytes = (c->prefix + 7) / 8;

    memset(q, 0, 12);
    q[0] = 0x4e;
    q[1] = 0x58;
    q[5] = 1;  /* QDCOUNT */
    q[11] = 1; /* ARCOUNT: the OPT */
    memcpy(q + pos, ldns_rdf_data(name), ldns_rdf_size(name));
    pos += ldns_rdf_size(name);
    q[pos++] = (uint8_t)(type >> 8);
    q[pos++] = (uint8_t)type;
    q[pos++] = 0;
    q[pos++] = 1;
    uint8_t *p = q + pos;
    p[0] = 0;                                   /* OPT owner: the root */
    wr16(p + 1, 41);                            /* OPT */
    wr16(p + 3, 1232);                          /* our payload size */
    memset(p + 5, 0, 4);                        /* extended rcode, version, flags */
    wr16(p + 9, (unsigned)(8 + abytes));        /* RDLEN: one option */
    wr16(p + 11, 8);                            /* EDNS Client Subnet, RFC 7871 6 */
    wr16(p + 13, (unsigned)(4 + abytes));       /* option length */
    wr16(p + 15, c->family == AF_INET ? 1 : 2); /* FAMILY */
    p[17] = (uint8_t)c->prefix;                 /* SOURCE PREFIX-LENGTH */
    p[18] = 0;                                  /* SCOPE PREFIX-LENGTH */
    memcpy(p + 19, c->addr, abytes);
    return pos + 19 + abytes;
}

/* The network of `prefix` bits an address (4 or 16 bytes) is in, as text:
 * the address with every bit past the prefix cleared. */
static void net_text(bool v6, const uint8_t *addr, unsigned prefix, char net[INET6_ADDRSTRLEN])
{
    uint8_t masked[16] = {0};
    unsigned len = v6 ? 16 : 4;

    memcpy(masked, addr, len);
    for (unsigned bit = prefix; bit < len * 8; bit++) {
        masked[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
    }
    inet_ntop(v6 ? AF_INET6 : AF_INET, masked, net, INET6_ADDRSTRLEN);
}

static void print_location(const geo_db_t *db, const client_t *c, FILE *out)
{
    char net[INET6_ADDRSTRLEN];
    unsigned depth;

    if (db == NULL) {
        fprintf(out, "location:  none (no GeoIP database loaded)\n");
        return;
    }
    uint32_t leaf = geo_trie_walk(&db->trie, c->family == AF_INET6, c->addr, &depth);
    net_text(c->family == AF_INET6, c->addr, depth, net);
    if (leaf == GEO_NONE) {
        fprintf(out, "location:  not in the database (network %s/%u of %s)\n", net, depth,
                db->path);
        return;
    }
    const geo_loc_t *loc = &db->locs[leaf & ~GEO_LEAF];
    fprintf(out, "location:  country %s, continent %s%s%s", loc->country[0] ? loc->country : "?",
            loc->continent[0] ? loc->continent : "?", loc->subdivision[0] ? ", subdivision " : "",
            loc->subdivision);
    if (loc->has_coords) {
        fprintf(out, ", %.4f %.4f (coordinates from the %s)", loc->lat, loc->lon, loc->coords_from);
    }
    fprintf(out, "\n           from network %s/%u of %s (%s)\n", net, depth, db->path, db->type);
}

static const char *policy_name(const svc_rt_t *svc)
{
    return svc->policy == POLICY_NEAREST    ? "nearest"
           : svc->policy == POLICY_WEIGHTED ? "weighted"
                                            : "failover";
}

/* How the order was made. Only `nearest` uses the client's place: weighted
 * and failover services take every client the same way, and saying the
 * database cannot place a client it just placed would be false. */
static const char *order_text(const answer_trace_t *t)
{
    if (t->svc->policy == POLICY_WEIGHTED) {
        return "by weight: the client's network picks among the eligible regions by "
               "rendezvous hashing (see 'hashed' below), shares in proportion to weight over "
               "many networks, wherever the client is (the location is not used)";
    }
    if (t->svc->policy == POLICY_FAILOVER) {
        return "in the listed order, the first eligible region first, wherever the client is "
               "(the location is not used)";
    }
    return source_text[t->order->source];
}

/* "; 192.0.2.1 down by 2 of 3 voting vantages": the quorum behind the first
 * member judged down, when more than one vantage reports it. */
static void down_votes(const region_rt_t *r, char *buf, size_t size)
{
    buf[0] = '\0';
    for (unsigned k = 0; k < (unsigned)r->n4 + r->n6; k++) {
        const healthdb_slot_t *s = select_member_slot(r, k);
        if (s != NULL && s->n_votes > 1 && atomic_load(&s->state) == HEALTH_DOWN) {
            snprintf(buf, size, "; %s down by %u of %u voting vantages%s", s->member, s->tally.down,
                     s->tally.voting, atomic_load(&s->held) ? ", held" : "");
            return;
        }
    }
}

/* Why a region was skipped, in the operator's terms: who drained it or took
 * it down, and what its members say. */
static void skip_text(const region_rt_t *r, select_why_t why, char *buf, size_t size)
{
    select_report_t rep;

    select_region_report(r, &rep);
    switch (why) {
    case SELECT_DRAINED:
        snprintf(buf, size, "skipped: drained (%s)",
                 rep.override == HEALTH_OV_DRAIN ? "by an operator: gslbctl drain"
                                                 : "weight 0 in the zone file");
        break;
    case SELECT_DOWN:
        if (rep.override == HEALTH_OV_DOWN) {
            snprintf(buf, size, "skipped: down (forced down by an operator)");
        } else if (!rep.health_up) {
            char votes[96];
            down_votes(r, votes, sizeof(votes));
            snprintf(buf, size, "skipped: down (%u/%u members up, min_up %u%s)", rep.counted_up,
                     rep.members, (unsigned)r->min_up, votes);
        } else {
            snprintf(buf, size, "skipped: down (no member of this family up)");
        }
        break;
    default:
        snprintf(buf, size, "skipped: no address of this family");
        break;
    }
}

/* The share of client networks, in percent, that weighted hashing gives
 * region `i` of the order first: its weight over the eligible regions'
 * (those chosen or not needed). */
static double weighted_share(const answer_trace_t *t, unsigned i)
{
    double total = 0;

    for (unsigned k = 0; k < t->order->n && k < sizeof(t->why); k++) {
        if (t->why[k] == SELECT_CHOSEN || t->why[k] == SELECT_NOT_NEEDED) {
            total += t->svc->regions[t->order->e[k].region]->weight;
        }
    }
    return total > 0 ? 100.0 * t->svc->regions[t->order->e[i].region]->weight / total : 0;
}

/* After "chosen": that a region with several addresses of the family asked
 * answers them in rotation, and how many per answer max_addrs lets through;
 * nothing for one address. */
static void rotation_text(const region_rt_t *r, bool aaaa, char *buf, size_t size)
{
    unsigned cnt = aaaa ? r->n6 : r->n4;

    buf[0] = '\0';
    if (cnt < 2) {
        return;
    }
    if (r->max_addrs != 0 && r->max_addrs < cnt) {
        snprintf(buf, size, " (%u %s addresses, %u per answer by max_addrs, rotating)", cnt,
                 aaaa ? "IPv6" : "IPv4", (unsigned)r->max_addrs);
    } else {
        snprintf(buf, size, " (%u %s addresses, rotating: each answer starts one further on)", cnt,
                 aaaa ? "IPv6" : "IPv4");
    }
}

/* A region with a load: its utilisation and shed share, as the controller
 * last saw them (shed.h). */
static void load_text(const region_rt_t *r, FILE *out)
{
    const shed_t *sh = r->slot ? &r->slot->shed : NULL;

    if (sh == NULL || !sh->configured) {
        return;
    }
    if (sh->heard_ms == 0 || !sh->known) {
        fprintf(out, " load unknown");
    } else {
        fprintf(out, " load %.2f", sh->util);
    }
    if (sh->share > 0) {
        fprintf(out, " (shedding %.0f%%)", 100 * sh->share);
    }
}

static void print_why(const answer_trace_t *t, unsigned i, FILE *out)
{
    const region_rt_t *r = t->svc->regions[t->order->e[i].region];
    bool weighted = t->svc->policy == POLICY_WEIGHTED && !t->sel.failed_open;
    char buf[128];

    if (i >= sizeof(t->why)) {
        fputc('\n', out);
        return;
    }
    switch (t->why[i]) {
    case SELECT_CHOSEN:
        rotation_text(r, t->aaaa, buf, sizeof(buf));
        if (t->sel.shed && t->sel.region[0] == t->order->e[i].region) {
            fprintf(out,
                    "  chosen: shed here from %s, which sheds load; this one has room "
                    "(below %.2f)%s\n",
                    t->svc->regions[t->sel.shed_from]->name, r->slot->shed.rule.low, buf);
        } else if (weighted) {
            fprintf(out, "  chosen: this network's (share %.0f%% of networks)%s\n",
                    weighted_share(t, i), buf);
        } else {
            fprintf(out, "  chosen%s\n", buf);
        }
        break;
    case SELECT_SHED: {
        const shed_t *sh = &r->slot->shed;
        uint64_t key = select_client_key(t->v6, t->addr, t->key_prefix);
        fprintf(out,
                "  shed: at %.2f of capacity it sheds %.0f%% of its clients, and this "
                "network ranks %.3f (below %.2f)\n",
                sh->util, 100 * sh->share, select_shed_rank(key, r->hrw) / 4294967296.0, sh->share);
        break;
    }
    case SELECT_NOT_NEEDED:
        if (weighted) {
            fprintf(out, "  eligible, not this network's (share %.0f%% of networks)\n",
                    weighted_share(t, i));
        } else {
            fprintf(out, "  not needed (answer full)\n");
        }
        break;
    default:
        skip_text(r, (select_why_t)t->why[i], buf, sizeof(buf));
        fprintf(out, "  %s\n", buf);
        break;
    }
}

static void print_order(const answer_trace_t *t, const geo_db_t *db, const client_t *c, FILE *out)
{
    const geo_loc_t *loc = NULL;
    unsigned depth;

    if (db != NULL) {
        uint32_t leaf = geo_trie_walk(&db->trie, c->family == AF_INET6, c->addr, &depth);
        loc = leaf == GEO_NONE ? NULL : &db->locs[leaf & ~GEO_LEAF];
    }
    fprintf(out, "service:   %s (policy %s, answers %u, spread %.0f km, ttl %u, ecs %s)\n",
            t->svc->name, policy_name(t->svc), t->svc->answers, t->svc->spread_km, t->svc->ttl,
            t->svc->ecs ? "on" : "off");
    fprintf(out, "order:     %s\n", order_text(t));
    for (unsigned i = 0; i < t->order->n; i++) {
        const region_rt_t *r = t->svc->regions[t->order->e[i].region];
        fprintf(out, "  %2u. %-16s weight %-7u", i + 1, r->name, r->weight);
        if (loc != NULL && loc->has_coords && t->svc->policy == POLICY_NEAREST) {
            double km = geo_distance_km(loc->lat, loc->lon, r->lat, r->lon);
            fprintf(out, " %6.0f km", km);
            if (r->bias != 0) {
                fprintf(out, " (biased %.0f km, bias %+d)", geo_biased_km(km, r->bias), r->bias);
            }
        }
        load_text(r, out);
        print_why(t, i, out);
    }
    if (t->keyed) {
        char net[INET6_ADDRSTRLEN];
        net_text(t->v6, t->addr, t->key_prefix, net);
        if (t->svc->plain) { /* keyed only because a region of it may shed load */
            fprintf(out,
                    "hashed:    on %s/%u, with each region's name, for load shedding: every "
                    "query from this network, to every gslbd with this zone, is shed or kept "
                    "alike\n",
                    net, t->key_prefix);
        } else {
            fprintf(out,
                    "hashed:    on %s/%u, with each eligible region's name (rendezvous hashing): "
                    "every query from this network, to every gslbd with this zone, gets the "
                    "same choice\n",
                    net, t->key_prefix);
        }
    }
    if (t->sel.failed_open) {
        bool any = false; /* a region with an address of the family asked for */
        for (unsigned i = 0; i < t->svc->n_regions && !any; i++) {
            any = (t->aaaa ? t->svc->regions[i]->n6 : t->svc->regions[i]->n4) > 0;
        }
        fprintf(out, "%s",
                any ? "           no region was eligible: answering as if all were up\n"
                    : "           no region has an address of this family: the "
                      "answer holds none (NODATA)\n");
    }
}

/* The query for the client as a packet from the client itself, so a
 * service with ECS off places it the same way. */
static void client_source(const client_t *c, struct sockaddr_storage *src)
{
    memset(src, 0, sizeof(*src));
    src->ss_family = (sa_family_t)c->family;
    memcpy(c->family == AF_INET ? (void *)&((struct sockaddr_in *)src)->sin_addr
                                : (void *)&((struct sockaddr_in6 *)src)->sin6_addr,
           c->addr, c->family == AF_INET ? 4 : 16);
}

static void print_answer(const ldns_pkt *pkt, const answer_trace_t *trace, FILE *out)
{
    char *rcode = ldns_pkt_rcode2str(ldns_pkt_get_rcode(pkt));

    fprintf(out, "answer:    %s%s\n", rcode, ldns_pkt_aa(pkt) ? ", authoritative" : "");
    free(rcode);
    for (size_t i = 0; i < ldns_pkt_ancount(pkt); i++) {
        char *rr = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_answer(pkt), i));
        fprintf(out, "           %s", rr);
        free(rr);
    }
    if (ldns_pkt_ancount(pkt) > 0) {
        fprintf(out, "ttl:       %u\n", ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0)));
    }
    fprintf(out, "ecs scope: /%u%s\n", trace->used ? trace->scope : 0,
            trace->used && trace->scope ? " (resolvers may cache this answer for that network)"
                                        : " (the answer holds for every client)");
}

int explain_run(const explain_env_t *env, const char *client, const char *name, const char *type,
                FILE *out, char *why, size_t why_size)
{
    client_t c;
    ldns_rdf *qname = ldns_dname_new_frm_str(name);
    uint16_t qtype = type ? ldns_get_rr_type_by_name(type) : LDNS_RR_TYPE_A;
    uint8_t q[512], reply[ENCODE_TCP_MAX];
    answer_trace_t trace = {0};
    /* Count set 0: the snapshot's scratch counters, never summed (snapshot.h);
     * query counters nobody reports. */
    static qstats_flow_t counts;
    answer_ctx_t ctx = {.trace = &trace, .qflow = &counts};
    struct sockaddr_storage src;
    ldns_pkt *pkt;

    if (qname == NULL || qtype == 0 || ldns_rdf_size(qname) > 255) {
        snprintf(why, why_size, "bad name '%s' or type '%s'", name, type ? type : "A");
        ldns_rdf_deep_free(qname);
        return -EINVAL;
    }
    if (parse_client(client, &c, why, why_size) < 0) {
        ldns_rdf_deep_free(qname);
        return -EINVAL;
    }
    client_source(&c, &src);
    size_t qlen = build_query(&c, qname, qtype, q);
    ldns_rdf_deep_free(qname);
    size_t n = engine_reply(&ctx, env->snap, (const struct sockaddr *)&src, q, qlen, reply, true);
    if (n == 0 || ldns_wire2pkt(&pkt, reply, n) != LDNS_STATUS_OK) {
        snprintf(why, why_size, "no answer could be built");
        return -EINVAL;
    }
    char net[INET6_ADDRSTRLEN];
    inet_ntop(c.family, c.addr, net, sizeof(net));
    fprintf(out, "client:    %s (sent as EDNS Client Subnet %s/%u)\n", client, net, c.prefix);
    fprintf(out, "health:    %s\n",
            env->live ? "live: members' reports, overrides and weights as gslbd answers now"
                      : "not used: offline, every member counts as up and no override "
                        "applies (gslbctl explain asks the running gslbd)");
    print_location(env->db, &c, out);
    if (trace.used) {
        print_order(&trace, env->db, &c, out);
    }
    print_answer(pkt, &trace, out);
    ldns_pkt_free(pkt);
    return 0;
}
