/*
 * geomap: compile per-service region orders into a trie; see geomap.h.
 *
 * Every distinct location of the database gets its ordered list once; lists
 * are interned by content, so the database trie maps onto list indices and
 * equal siblings merge bottom-up. geo.nets overrides are then cut into the
 * trie, splitting leaves down to their prefix.
 */
#include "geo/geomap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"

#define UNSET UINT32_MAX

typedef struct {
    const geo_map_spec_t *spec;
    arena_t *a;
    geo_map_t *map;
    const geo_list_t **lists;
    size_t cap_lists;
    uint32_t *hash; /* open addressing: list index + 1, 0 empty */
    size_t hash_cap;
    geo_node_t *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *memo; /* db trie node -> our reference */
    uint32_t *loc_list;
    uint32_t none_list; /* the order for networks the database does not place */
} mapper_t;

/* Position of zone region `zr` in the service's list, or -1. */
static int svc_pos(const geo_map_spec_t *spec, size_t zr)
{
    for (size_t i = 0; i < spec->n; i++) {
        if (spec->zone_region[i] == zr) {
            return (int)i;
        }
    }
    return -1;
}

static void append_listed(const geo_map_spec_t *spec, const size_t *zregions, size_t nz, bool *used,
                          geo_entry_t *out, uint16_t *n)
{
    for (size_t i = 0; i < nz; i++) {
        int p = svc_pos(spec, zregions[i]);
        if (p >= 0 && !used[p]) {
            used[p] = true;
            out[(*n)++] = (geo_entry_t){(uint16_t)p, GEO_KM_NONE};
        }
    }
}

/* The rest of the regions, nearest first by biased distance, or in listed
 * order without a place. */
static void append_rest(const geo_map_spec_t *spec, const geo_loc_t *loc, bool *used,
                        geo_entry_t *out, uint16_t *n)
{
    double km[spec->n];

    for (size_t i = 0; i < spec->n; i++) {
        km[i] = loc ? geo_distance_km(loc->lat, loc->lon, spec->lat[i], spec->lon[i]) : 0;
        km[i] = geo_biased_km(km[i], spec->bias ? spec->bias[i] : 0);
    }
    for (;;) {
        int best = -1;
        for (size_t i = 0; i < spec->n; i++) {
            if (!used[i] && (best < 0 || km[i] < km[best])) {
                best = (int)i; /* ties keep the listed order */
            }
        }
        if (best < 0) {
            return;
        }
        used[best] = true;
        float k = loc && spec->keep_km ? (float)(long)(km[best] + 0.5) : GEO_KM_NONE;
        out[(*n)++] = (geo_entry_t){(uint16_t)best, k};
    }
}

static const zone_geo_map_t *find_map(const zone_geo_t *cfg, const geo_loc_t *loc)
{
    const char *keys[] = {loc->subdivision, loc->country, loc->continent};
    const zone_geo_kind_t kinds[] = {GEO_KEY_SUBDIVISION, GEO_KEY_COUNTRY, GEO_KEY_CONTINENT};

    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; keys[k][0] != '\0' && i < cfg->n_map; i++) {
            if (cfg->map[i].kind == kinds[k] && strcmp(cfg->map[i].code, keys[k]) == 0) {
                return &cfg->map[i];
            }
        }
    }
    return NULL;
}

geo_source_t geo_map_order(const geo_map_spec_t *spec, const geo_loc_t *loc, geo_entry_t *out,
                           uint16_t *n)
{
    bool used[spec->n];
    const zone_geo_t *cfg = spec->cfg;
    const zone_geo_map_t *m = loc && cfg ? find_map(cfg, loc) : NULL;
    geo_source_t src;

    memset(used, 0, sizeof(used));
    *n = 0;
    if (m != NULL) {
        append_listed(spec, m->regions, m->n_regions, used, out, n);
        src = GEO_BY_MAP;
    } else if (loc != NULL && loc->has_coords) {
        src = GEO_BY_DISTANCE;
    } else if (cfg != NULL && cfg->n_dflt > 0) {
        append_listed(spec, cfg->dflt, cfg->n_dflt, used, out, n);
        src = GEO_BY_DEFAULT;
    } else {
        src = GEO_BY_LISTED;
    }
    append_rest(spec, loc && loc->has_coords ? loc : NULL, used, out, n);
    return src;
}

/* Field by field, never bytewise: geo_entry_t has padding. */
static uint32_t list_hash(const geo_list_t *l)
{
    uint32_t h = 2166136261u ^ l->n ^ (uint32_t)l->source << 16;

    for (size_t i = 0; i < l->n; i++) {
        h = (h ^ l->e[i].region) * 16777619u;
        h = (h ^ (uint32_t)(int32_t)l->e[i].km) * 16777619u;
    }
    return h;
}

static bool list_eq(const geo_list_t *a, const geo_list_t *b)
{
    if (a->n != b->n || a->source != b->source) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->e[i].region != b->e[i].region || a->e[i].km != b->e[i].km) {
            return false;
        }
    }
    return true;
}

static void hash_insert(mapper_t *M, uint32_t idx)
{
    uint32_t h = list_hash(M->lists[idx]) & (uint32_t)(M->hash_cap - 1);

    while (M->hash[h] != 0) {
        h = (h + 1) & (uint32_t)(M->hash_cap - 1);
    }
    M->hash[h] = idx + 1;
}

/* Intern a list, returning its index. */
static uint32_t intern(mapper_t *M, geo_source_t src, const geo_entry_t *e, uint16_t n)
{
    geo_list_t *l = arena_alloc(M->a, sizeof(*l) + n * sizeof(geo_entry_t));
    uint32_t h;

    l->n = n;
    l->source = (uint8_t)src;
    memcpy(l->e, e, n * sizeof(geo_entry_t));
    for (h = list_hash(l) & (uint32_t)(M->hash_cap - 1); M->hash[h] != 0;
         h = (h + 1) & (uint32_t)(M->hash_cap - 1)) {
        if (list_eq(M->lists[M->hash[h] - 1], l)) {
            return M->hash[h] - 1; /* the arena copy is simply left unused */
        }
    }
    if (M->map->n_lists == M->cap_lists) {
        M->cap_lists *= 2;
        M->lists = xreallocarray(M->lists, M->cap_lists, sizeof(*M->lists));
    }
    M->lists[M->map->n_lists] = l;
    if ((M->map->n_lists + 1) * 2 > M->hash_cap) {
        M->hash_cap *= 2;
        free(M->hash);
        M->hash = xcalloc(M->hash_cap, sizeof(*M->hash));
        for (uint32_t i = 0; i < M->map->n_lists; i++) {
            hash_insert(M, i);
        }
    }
    hash_insert(M, (uint32_t)M->map->n_lists);
    return (uint32_t)M->map->n_lists++;
}

static uint32_t list_for(mapper_t *M, const geo_loc_t *loc)
{
    geo_entry_t e[M->spec->n];
    uint16_t n;
    geo_source_t src = geo_map_order(M->spec, loc, e, &n);

    return intern(M, src, e, n);
}

static uint32_t node_new(mapper_t *M, uint32_t left, uint32_t right)
{
    if (M->n_nodes == M->cap_nodes) {
        M->cap_nodes = M->cap_nodes ? M->cap_nodes * 2 : 1024;
        M->nodes = xreallocarray(M->nodes, M->cap_nodes, sizeof(*M->nodes));
    }
    M->nodes[M->n_nodes] = (geo_node_t){{left, right}};
    return (uint32_t)M->n_nodes++;
}

/* Map a database trie reference to ours, merging equal siblings. */
static uint32_t convert(mapper_t *M, const geo_db_t *db, uint32_t ref)
{
    if (ref & GEO_LEAF) {
        uint32_t loc = ref & ~GEO_LEAF;
        if (ref == GEO_NONE) {
            if (M->none_list == UNSET) {
                M->none_list = list_for(M, NULL);
            }
            return GEO_LEAF | M->none_list;
        }
        if (M->loc_list[loc] == UNSET) {
            M->loc_list[loc] = list_for(M, &db->locs[loc]);
        }
        return GEO_LEAF | M->loc_list[loc];
    }
    if (M->memo[ref] != UNSET) {
        return M->memo[ref];
    }
    uint32_t l = convert(M, db, db->trie.nodes[ref].child[0]);
    uint32_t r = convert(M, db, db->trie.nodes[ref].child[1]);
    uint32_t out = (l == r && (l & GEO_LEAF)) ? l : node_new(M, l, r);
    M->memo[ref] = out;
    return out;
}

/* Point the reference `bit` of node `parent` (or the root) at `v`. Nodes
 * are addressed by index, never by pointer: node_new() may move them. */
static void set_ref(mapper_t *M, uint32_t *root, uint32_t parent, unsigned bit, uint32_t v)
{
    if (parent == UNSET) {
        *root = v;
    } else {
        M->nodes[parent].child[bit] = v;
    }
}

/* Cut a geo.nets prefix into the trie: split leaves on the way down, then
 * point the prefix at its own list. */
static void insert_net(mapper_t *M, uint32_t *root, const zone_geo_net_t *net)
{
    geo_entry_t e[M->spec->n];
    bool used[M->spec->n];
    uint16_t n = 0;
    uint32_t cur = *root, parent = UNSET;
    unsigned pbit = 0;

    memset(used, 0, sizeof(used));
    append_listed(M->spec, net->regions, net->n_regions, used, e, &n);
    append_rest(M->spec, NULL, used, e, &n);
    uint32_t leaf = GEO_LEAF | intern(M, GEO_BY_NETS, e, n);
    for (unsigned d = 0; d < net->prefix; d++) {
        if (cur & GEO_LEAF) {
            uint32_t split = node_new(M, cur, cur);
            set_ref(M, root, parent, pbit, split);
            cur = split;
        }
        parent = cur;
        pbit = (net->addr[d >> 3] >> (7 - (d & 7))) & 1;
        cur = M->nodes[cur].child[pbit];
    }
    set_ref(M, root, parent, pbit, leaf);
}

/* Longer prefixes must be cut in after the shorter ones that contain them. */
static int net_cmp(const void *a, const void *b)
{
    const zone_geo_net_t *x = *(const zone_geo_net_t *const *)a;
    const zone_geo_net_t *y = *(const zone_geo_net_t *const *)b;

    return (int)x->prefix - (int)y->prefix;
}

static void apply_nets(mapper_t *M, uint32_t *root4, uint32_t *root6)
{
    const zone_geo_t *cfg = M->spec->cfg;
    const zone_geo_net_t **nets;

    if (cfg == NULL || cfg->n_nets == 0) {
        return;
    }
    nets = xmalloc(cfg->n_nets * sizeof(*nets));
    for (size_t i = 0; i < cfg->n_nets; i++) {
        nets[i] = &cfg->nets[i];
    }
    qsort(nets, cfg->n_nets, sizeof(*nets), net_cmp);
    for (size_t i = 0; i < cfg->n_nets; i++) {
        insert_net(M, nets[i]->family == AF_INET6 ? root6 : root4, nets[i]);
    }
    free(nets);
}

/* ---- compiling the binary trie into steps of two bits ---- */

typedef struct {
    const geo_node_t *bin; /* the binary trie, nets cut in */
    uint32_t *memo;        /* binary node -> its quad, UNSET before */
    geo_quad_t *quads;
    size_t n_quads, cap_quads;
} quadder_t;

static uint32_t quad_of(quadder_t *Q, uint32_t ref);

/* One of a quad's four slots: the binary walk of its two bits from `ref`. */
static uint32_t quad_slot(quadder_t *Q, uint32_t ref, unsigned bits)
{
    uint32_t c = Q->bin[ref].child[bits >> 1];

    if (c & GEO_LEAF) {
        return c | 1u << GEO_BACK_SHIFT; /* the network ended after the first bit */
    }
    c = Q->bin[c].child[bits & 1];
    return (c & GEO_LEAF) ? c : quad_of(Q, c);
}

/* The quad rooted at binary node `ref`. A quad covers the two levels below
 * its node wherever that node sits, so nodes the database shares (its IPv4
 * subtree under ::/96 and ::ffff:0:0/96, say) compile once. Parents are
 * numbered before their children: the top levels, which every walk reads,
 * stay together in memory. */
static uint32_t quad_of(quadder_t *Q, uint32_t ref)
{
    if (Q->memo[ref] != UNSET) {
        return Q->memo[ref];
    }
    if (Q->n_quads == Q->cap_quads) {
        Q->cap_quads = Q->cap_quads ? Q->cap_quads * 2 : 1024;
        Q->quads = xreallocarray(Q->quads, Q->cap_quads, sizeof(*Q->quads));
    }
    if (Q->n_quads >= GEO_LEAF / sizeof(geo_quad_t)) {
        alloc_fail("geo map of 134 million nodes: offsets would reach the leaf bit");
    }
    uint32_t q = (uint32_t)Q->n_quads++;
    Q->memo[ref] = q * (uint32_t)sizeof(geo_quad_t);
    for (unsigned bits = 0; bits < 4; bits++) {
        uint32_t v = quad_slot(Q, ref, bits); /* may move Q->quads: index after */
        Q->quads[q].child[bits] = v;
    }
    return q * (uint32_t)sizeof(geo_quad_t);
}

/* The root table of one family: entry i is where the binary walk of the
 * GEO_ROOT_BITS bits of i from `root` leads, a leaf (with how far the table
 * overshoots it) or the quad of the node reached. */
static const uint32_t *root_table(quadder_t *Q, uint32_t root, arena_t *a)
{
    uint32_t *t = arena_alloc(a, sizeof(*t) << GEO_ROOT_BITS);

    for (uint32_t i = 0; i < 1u << GEO_ROOT_BITS; i++) {
        uint32_t ref = root;
        unsigned d = 0;
        for (; d < GEO_ROOT_BITS && !(ref & GEO_LEAF); d++) {
            ref = Q->bin[ref].child[(i >> (GEO_ROOT_BITS - 1 - d)) & 1];
        }
        t[i] = (ref & GEO_LEAF) ? ref | (GEO_ROOT_BITS - d) << GEO_BACK_SHIFT : quad_of(Q, ref);
    }
    return t;
}

static void compile_quads(geo_map_t *map, const mapper_t *M, uint32_t root4, uint32_t root6,
                          arena_t *a)
{
    quadder_t Q = {.bin = M->nodes};

    if (M->map->n_lists > GEO_LIST_MASK) {
        alloc_fail("geo map of 32 million distinct orders");
    }
    Q.memo = xmalloc((M->n_nodes + 1) * sizeof(*Q.memo));
    memset(Q.memo, 0xff, (M->n_nodes + 1) * sizeof(*Q.memo));
    map->root4 = root_table(&Q, root4, a);
    map->root6 = root_table(&Q, root6, a);
    map->quads = Q.n_quads ? arena_dup(a, Q.quads, Q.n_quads * sizeof(*Q.quads)) : NULL;
    map->n_quads = Q.n_quads;
    free(Q.quads);
    free(Q.memo);
}

const geo_map_t *geo_map_build(const geo_db_t *db, const geo_map_spec_t *spec, arena_t *a)
{
    mapper_t M = {.spec = spec, .a = a, .hash_cap = 64, .none_list = UNSET};
    geo_map_t *map = arena_alloc(a, sizeof(*map));
    uint32_t root4, root6;

    M.map = map;
    M.hash = xcalloc(M.hash_cap, sizeof(*M.hash));
    M.cap_lists = 64;
    M.lists = xcalloc(M.cap_lists, sizeof(*M.lists));
    if (db != NULL) {
        M.memo = xreallocarray(NULL, db->trie.n_nodes + 1, sizeof(*M.memo));
        M.loc_list = xreallocarray(NULL, db->n_locs + 1, sizeof(*M.loc_list));
        memset(M.memo, 0xff, (db->trie.n_nodes + 1) * sizeof(*M.memo));
        memset(M.loc_list, 0xff, (db->n_locs + 1) * sizeof(*M.loc_list));
        root4 = convert(&M, db, db->trie.root4);
        root6 = convert(&M, db, db->trie.root6);
    } else {
        root4 = root6 = GEO_LEAF | list_for(&M, NULL);
    }
    apply_nets(&M, &root4, &root6);
    compile_quads(map, &M, root4, root6, a);
    map->lists = arena_dup(a, M.lists, map->n_lists * sizeof(*M.lists));
    free(M.lists);
    free(M.hash);
    free(M.nodes);
    free(M.memo);
    free(M.loc_list);
    return map;
}
