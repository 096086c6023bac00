/*
 * geodb: compile an mmdb's search tree into a location trie; see geodb.h.
 *
 * The mmdb tree is a DAG (IPv4 space is aliased at ::ffff:0:0/96 and 2002::/16
 * in MaxMind's IPv6 databases), so the walk memoizes by mmdb node: each node
 * is read once and aliases share our subtree too. Sibling leaves with the
 * same location merge on the way up, so the trie is as small as the data
 * allows and its leaf depth is the widest network with one location.
 *
 * libmaxminddb maps the file it opens. A file that shrinks under a mapping
 * (rewritten in place by cp, curl -o or rsync --inplace) kills the process
 * with SIGBUS at the next touch of a page past the new end, so the file is
 * never mapped: it is read into a private memory file, which is what
 * libmaxminddb opens. A file that changed while it was read, or whose
 * structure or data do not decode, is refused whole.
 */
#include "geo/geodb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <maxminddb.h>

#include "common/afile.h"
#include "common/alloc.h"
#include "common/errcode.h"
#include "geo/countries.h"

#define UNSET UINT32_MAX

/* Rough centres of population, used only when a record names a continent
 * and nothing finer. */
static const struct {
    char code[3];
    double lat, lon;
} continent_coords[] = {
    {"AF", 6.0, 20.0},   {"AN", -80.0, 0.0},   {"AS", 30.0, 100.0},  {"EU", 50.0, 10.0},
    {"NA", 40.0, -95.0}, {"OC", -25.0, 140.0}, {"SA", -15.0, -60.0},
};

/* The record layout of a database: GeoIP2's nested maps, or ip-location-db's
 * flat one; unknown until the first record with fields of either. */
enum { LAYOUT_UNKNOWN, LAYOUT_GEOIP2, LAYOUT_FLAT };

typedef struct {
    MMDB_s mmdb;
    geo_db_t *db;
    uint32_t *memo;      /* mmdb node -> our reference */
    uint32_t *data_memo; /* hash of data offset -> location, open addressing */
    uint32_t *data_keys;
    size_t data_cap, data_used;
    size_t cap_nodes, cap_locs;
    int status;
    int bad_data; /* an MMDB_* error from decoding a data record, 0 if none */
    int layout;   /* LAYOUT_* */
    diag_t *diag;
    /* Nodes go to the spill file (geo_db_open()) as they are made, a chunk
     * at a time, never all on the heap: spill_fd < 0 when they do not. */
    int spill_fd, spill_err;
    geo_node_t *chunk;
    size_t chunk_n, spilled;
    char spill_dir[PATH_MAX];
} loader_t;

double geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);

    return 2 * 6371.0 * atan2(sqrt(a), sqrt(1 - a));
}

bool geo_continent_coords(const char *code, double *lat, double *lon)
{
    for (size_t i = 0; i < sizeof(continent_coords) / sizeof(continent_coords[0]); i++) {
        if (strcmp(continent_coords[i].code, code) == 0) {
            *lat = continent_coords[i].lat;
            *lon = continent_coords[i].lon;
            return true;
        }
    }
    return false;
}

bool geo_country_coords(const char *cc, double *lat, double *lon)
{
    for (size_t i = 0; i < geo_n_countries; i++) {
        if (memcmp(geo_countries[i].cc, cc, 3) == 0) {
            *lat = geo_countries[i].lat;
            *lon = geo_countries[i].lon;
            return true;
        }
    }
    return false;
}

static int country_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const geo_country_t *)elem)->cc);
}

/* Binary search (the table is sorted by code): a flat database asks once per
 * distinct record, hundreds of thousands of times in a city database. */
const char *geo_country_continent(const char *cc)
{
    const geo_country_t *c =
        bsearch(cc, geo_countries, geo_n_countries, sizeof(geo_countries[0]), country_cmp);

    return c != NULL && c->continent[0] ? c->continent : NULL;
}

/* The value at `path` in a data record. A record without it, or with it in
 * another shape, is no error; one that does not decode (a pointer out of the
 * data section, a bad type: a file rewritten while it was read, say) marks
 * the whole database as unusable. */
static bool get_value(loader_t *L, MMDB_entry_s *e, MMDB_entry_data_s *d, const char *const *path)
{
    int r = MMDB_aget_value(e, d, path);

    if (r == MMDB_SUCCESS) {
        return d->has_data;
    }
    if (r != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR && r != MMDB_INVALID_LOOKUP_PATH_ERROR) {
        L->bad_data = r;
    }
    return false;
}

static void get_string(loader_t *L, MMDB_entry_s *e, char *out, size_t size,
                       const char *const *path)
{
    MMDB_entry_data_s d;

    out[0] = '\0';
    if (get_value(L, e, &d, path) && d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size < size) {
        memcpy(out, d.utf8_string, d.data_size);
        out[d.data_size] = '\0';
    }
}

static bool get_double(loader_t *L, MMDB_entry_s *e, double *out, const char *const *path)
{
    MMDB_entry_data_s d;

    if (!get_value(L, e, &d, path)) {
        return false;
    }
    if (d.type == MMDB_DATA_TYPE_DOUBLE) {
        *out = d.double_value;
    } else if (d.type == MMDB_DATA_TYPE_FLOAT) {
        *out = d.float_value;
    } else {
        return false;
    }
    return true;
}

/* Coordinates, or failing them the country's point, or the continent's. */
static void place_loc(geo_loc_t *loc, bool has_coords)
{
    if (has_coords) {
        loc->has_coords = true;
        strcpy(loc->coords_from, "database");
    } else if (loc->country[0] && geo_country_coords(loc->country, &loc->lat, &loc->lon)) {
        loc->has_coords = true;
        strcpy(loc->coords_from, "country");
    } else if (loc->continent[0] && geo_continent_coords(loc->continent, &loc->lat, &loc->lon)) {
        loc->has_coords = true;
        strcpy(loc->coords_from, "continent");
    }
}

/* One data record in the GeoIP2 layout (which DB-IP's own databases and our
 * world database follow too). False when it holds none of its fields. */
static bool read_geoip2(loader_t *L, MMDB_entry_s *e, geo_loc_t *loc)
{
    static const char *const p_lat[] = {"location", "latitude", NULL};
    static const char *const p_lon[] = {"location", "longitude", NULL};
    static const char *const p_cont[] = {"continent", "code", NULL};
    static const char *const p_cc[] = {"country", "iso_code", NULL};
    static const char *const p_reg[] = {"registered_country", "iso_code", NULL};
    static const char *const p_sub[] = {"subdivisions", "0", "iso_code", NULL};
    char sub[4];
    bool coords;

    get_string(L, e, loc->continent, sizeof(loc->continent), p_cont);
    get_string(L, e, loc->country, sizeof(loc->country), p_cc);
    if (loc->country[0] == '\0') {
        get_string(L, e, loc->country, sizeof(loc->country), p_reg);
    }
    get_string(L, e, sub, sizeof(sub), p_sub);
    if (sub[0] != '\0' && loc->country[0] != '\0') {
        snprintf(loc->subdivision, sizeof(loc->subdivision), "%s-%s", loc->country, sub);
    }
    coords = get_double(L, e, &loc->lat, p_lat) && get_double(L, e, &loc->lon, p_lon);
    place_loc(loc, coords);
    return coords || loc->country[0] != '\0' || loc->continent[0] != '\0';
}

/* One data record in ip-location-db's flat layout: country_code, latitude
 * and longitude at the top level. Its state1 is a subdivision's name, not
 * its ISO 3166-2 code, so the subdivision stays unknown; the continent
 * comes from the country (geo/countries.h). False when it holds none of
 * its fields. */
static bool read_flat(loader_t *L, MMDB_entry_s *e, geo_loc_t *loc)
{
    static const char *const p_lat[] = {"latitude", NULL};
    static const char *const p_lon[] = {"longitude", NULL};
    static const char *const p_cc[] = {"country_code", NULL};
    const char *cont;
    bool coords;

    get_string(L, e, loc->country, sizeof(loc->country), p_cc);
    if (loc->country[0] != '\0' && (cont = geo_country_continent(loc->country)) != NULL) {
        snprintf(loc->continent, sizeof(loc->continent), "%s", cont);
    }
    coords = get_double(L, e, &loc->lat, p_lat) && get_double(L, e, &loc->lon, p_lon);
    place_loc(loc, coords);
    return coords || loc->country[0] != '\0';
}

/* Read the fields we use from one data record. The layout is decided once
 * per database, by the first record that holds fields of either: until
 * then a record is read as GeoIP2 and, if that finds nothing, as flat, so
 * a database of one layout costs one extra probe per record only until
 * its first located record. */
static void read_loc(loader_t *L, MMDB_entry_s *e, geo_loc_t *loc)
{
    memset(loc, 0, sizeof(*loc));
    if (L->layout == LAYOUT_FLAT) {
        read_flat(L, e, loc);
        return;
    }
    if (read_geoip2(L, e, loc)) {
        L->layout = LAYOUT_GEOIP2;
        return;
    }
    if (L->layout == LAYOUT_UNKNOWN) {
        memset(loc, 0, sizeof(*loc));
        if (read_flat(L, e, loc)) {
            L->layout = LAYOUT_FLAT;
        }
    }
}

static bool same_loc(const geo_loc_t *a, const geo_loc_t *b)
{
    return a->has_coords == b->has_coords && a->lat == b->lat && a->lon == b->lon &&
           strcmp(a->continent, b->continent) == 0 && strcmp(a->country, b->country) == 0 &&
           strcmp(a->subdivision, b->subdivision) == 0;
}

/* Intern a location by content; linear over the few distinct ones of a
 * country database, and a City database's records are cached by offset
 * before they get here. */
static uint32_t intern_loc(loader_t *L, const geo_loc_t *loc)
{
    geo_db_t *db = L->db;

    for (size_t i = db->n_locs; i-- > 0 && db->n_locs - i <= 64;) {
        if (same_loc(&db->locs[i], loc)) {
            return (uint32_t)i;
        }
    }
    if (db->n_locs == L->cap_locs) {
        L->cap_locs = L->cap_locs ? L->cap_locs * 2 : 256;
        db->locs = xreallocarray(db->locs, L->cap_locs, sizeof(*db->locs));
    }
    db->locs[db->n_locs] = *loc;
    return (uint32_t)db->n_locs++;
}

/* The slot of `key` in the data cache: where it is, or the empty slot where
 * it goes. The cache is never more than half full, so the probe ends. */
static size_t data_slot(const loader_t *L, uint32_t key)
{
    size_t mask = L->data_cap - 1, h = (key * 2654435761u) & mask;

    while (L->data_keys[h] != 0 && L->data_keys[h] != key) {
        h = (h + 1) & mask;
    }
    return h;
}

/* Double the data cache. A database may hold more distinct records than
 * the initial size guessed from its node count (every leaf of its own). */
static void data_grow(loader_t *L)
{
    uint32_t *keys = L->data_keys, *memo = L->data_memo;
    size_t cap = L->data_cap;

    L->data_cap *= 2;
    L->data_keys = xcalloc(L->data_cap, sizeof(*L->data_keys));
    L->data_memo = xcalloc(L->data_cap, sizeof(*L->data_memo));
    for (size_t i = 0; i < cap; i++) {
        if (keys[i] != 0) {
            size_t h = data_slot(L, keys[i]);
            L->data_keys[h] = keys[i];
            L->data_memo[h] = memo[i];
        }
    }
    free(keys);
    free(memo);
}

/* Location of a data record, cached by its offset in the data section. */
static uint32_t data_loc(loader_t *L, MMDB_entry_s *e)
{
    uint32_t key = e->offset + 1;
    size_t h = data_slot(L, key);
    geo_loc_t loc;

    if (L->data_keys[h] == key) {
        return L->data_memo[h];
    }
    read_loc(L, e, &loc);
    if (2 * (L->data_used + 1) > L->data_cap) {
        data_grow(L);
        h = data_slot(L, key);
    }
    L->data_used++;
    L->data_keys[h] = key;
    L->data_memo[h] = intern_loc(L, &loc);
    return L->data_memo[h];
}

/* ---- the compiled trie out of the resident set ---- */

/* An unlinked file of our own for the trie: $TMPDIR, else /var/tmp (on disk
 * on Debian, and private to the service under the unit's PrivateTmp=). A
 * file system without O_TMPFILE gets a named file, unlinked at once. */
static int spill_file(char *dir, size_t size)
{
    const char *env = getenv("TMPDIR");
    int fd;

    snprintf(dir, size, "%s", env != NULL && env[0] == '/' ? env : "/var/tmp");
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        return fd;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        return -errno;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/gslb-geodb.XXXXXX", dir) >= (int)sizeof(path)) {
        return -ENAMETOOLONG;
    }
    if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
        return -errno;
    }
    unlink(path);
    return fd;
}

static int read_all_at(int fd, void *buf, size_t len)
{
    char *p = buf;
    off_t off = 0;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

#define SPILL_CHUNK 8192 /* nodes written at once (64 KiB) */

static void spill_begin(loader_t *L)
{
    L->spill_fd = spill_file(L->spill_dir, sizeof(L->spill_dir));
    if (L->spill_fd < 0) {
        L->spill_err = L->spill_fd;
    } else {
        L->chunk = xreallocarray(NULL, SPILL_CHUNK, sizeof(*L->chunk));
    }
}

/* Keep the nodes on the heap after all (the file system filled up, say):
 * what went to the file is read back. False when even that fails. */
static bool spill_abandon(loader_t *L, int err)
{
    geo_trie_t *t = &L->db->trie;
    bool ok;

    L->cap_nodes = t->n_nodes + SPILL_CHUNK;
    t->nodes = xreallocarray(NULL, L->cap_nodes, sizeof(*t->nodes));
    ok = read_all_at(L->spill_fd, t->nodes, L->spilled * sizeof(*t->nodes)) == 0;
    memcpy(t->nodes + L->spilled, L->chunk, L->chunk_n * sizeof(*t->nodes));
    close(L->spill_fd);
    free(L->chunk);
    L->spill_fd = -1;
    L->chunk = NULL;
    L->spill_err = err;
    return ok;
}

static void spill_flush(loader_t *L)
{
    int r = afile_write_all(L->spill_fd, L->chunk, L->chunk_n * sizeof(*L->chunk));

    if (r < 0) {
        if (!spill_abandon(L, r)) {
            L->status = -1;
        }
        return;
    }
    L->spilled += L->chunk_n;
    L->chunk_n = 0;
}

/* The last nodes and the locations written, the file mapped read-only in
 * place of the heap arrays. The file holds the two arrays back to back;
 * nodes are 8 bytes, so the locations that follow stay aligned. */
static void spill_end(loader_t *L)
{
    geo_db_t *db = L->db;
    size_t nodes = db->trie.n_nodes * sizeof(*db->trie.nodes);
    size_t len = nodes + db->n_locs * sizeof(*db->locs);
    void *m;
    int r;

    if (L->spill_fd >= 0 && L->chunk_n > 0) {
        spill_flush(L);
    }
    if (L->spill_fd >= 0 && len > 0) {
        if ((r = afile_write_all(L->spill_fd, db->locs, len - nodes)) < 0) {
            L->status = spill_abandon(L, r) ? L->status : -1;
        } else if ((m = mmap(NULL, len, PROT_READ, MAP_SHARED, L->spill_fd, 0)) == MAP_FAILED) {
            L->status = spill_abandon(L, -errno) ? L->status : -1;
        } else {
            free(db->locs);
            db->trie.nodes = m;
            db->locs = (geo_loc_t *)((char *)m + nodes);
            db->map = m;
            db->map_len = len;
        }
    }
    if (L->spill_fd >= 0) {
        close(L->spill_fd);
        free(L->chunk);
        L->spill_fd = -1;
    }
    if (L->spill_err < 0 && L->status == 0) {
        diag_warning(L->diag, &(diag_mark_t){.file = db->path},
                     "the compiled database (%zu MB) stays in memory: cannot keep it in a "
                     "file in %s (set TMPDIR to a writable directory on disk): %s",
                     len >> 20, L->spill_dir, gslb_strerror(L->spill_err));
    }
}

static uint32_t new_node(loader_t *L, uint32_t left, uint32_t right)
{
    geo_trie_t *t = &L->db->trie;
    geo_node_t n = {{left, right}};

    L->db->networks +=
        ((left & GEO_LEAF) && left != GEO_NONE) + ((right & GEO_LEAF) && right != GEO_NONE);
    if (L->spill_fd >= 0) {
        L->chunk[L->chunk_n++] = n;
        if (L->chunk_n == SPILL_CHUNK) {
            spill_flush(L);
        }
        return (uint32_t)t->n_nodes++;
    }
    if (t->n_nodes == L->cap_nodes) {
        L->cap_nodes = L->cap_nodes ? L->cap_nodes * 2 : 4096;
        t->nodes = xreallocarray(t->nodes, L->cap_nodes, sizeof(*t->nodes));
    }
    t->nodes[t->n_nodes] = n;
    return (uint32_t)t->n_nodes++;
}

static uint32_t walk(loader_t *L, uint32_t node, unsigned depth);

static uint32_t record_ref(loader_t *L, uint8_t type, uint64_t rec, MMDB_entry_s *e, unsigned depth)
{
    switch (type) {
    case MMDB_RECORD_TYPE_SEARCH_NODE:
        return walk(L, (uint32_t)rec, depth + 1);
    case MMDB_RECORD_TYPE_DATA:
        return GEO_LEAF | data_loc(L, e);
    case MMDB_RECORD_TYPE_EMPTY:
        return GEO_NONE;
    default:
        L->status = -1;
        return GEO_NONE;
    }
}

static uint32_t walk(loader_t *L, uint32_t node, unsigned depth)
{
    MMDB_search_node_s n;

    if (L->memo[node] != UNSET) {
        return L->memo[node];
    }
    if (depth >= (L->mmdb.metadata.ip_version == 6 ? 128u : 32u) ||
        MMDB_read_node(&L->mmdb, node, &n) != MMDB_SUCCESS) {
        L->status = -1;
        return GEO_NONE;
    }
    uint32_t left = record_ref(L, n.left_record_type, n.left_record, &n.left_record_entry, depth);
    uint32_t right =
        record_ref(L, n.right_record_type, n.right_record, &n.right_record_entry, depth);
    uint32_t ref = (left == right && (left & GEO_LEAF)) ? left : new_node(L, left, right);
    L->memo[node] = ref;
    return ref;
}

/* The IPv4 space of an IPv6 database: 96 zero bits down from the root. */
static uint32_t ipv4_root(const geo_trie_t *t)
{
    uint32_t ref = t->root6;

    for (int i = 0; i < 96 && !(ref & GEO_LEAF); i++) {
        ref = t->nodes[ref].child[0];
    }
    return ref;
}

static int fail(loader_t *L, const char *what)
{
    diag_error(L->diag, &(diag_mark_t){.file = L->db->path}, "%s", what);
    return GSLB_EGEODB;
}

static int compile(loader_t *L)
{
    uint32_t n = L->mmdb.metadata.node_count;
    geo_db_t *db = L->db;

    if (L->mmdb.metadata.ip_version != 4 && L->mmdb.metadata.ip_version != 6) {
        return fail(L, "unsupported mmdb ip_version");
    }
    L->memo = xreallocarray(NULL, n, sizeof(*L->memo));
    /* Distinct records are far fewer than nodes (565 k for 14.8 M networks
     * in the city world database): start small and let data_grow() double. */
    L->data_cap = 1u << 16;
    L->data_keys = xcalloc(L->data_cap, sizeof(*L->data_keys));
    L->data_memo = xcalloc(L->data_cap, sizeof(*L->data_memo));
    memset(L->memo, 0xff, (size_t)n * sizeof(*L->memo));
    spill_begin(L);
    uint32_t root = n > 0 ? walk(L, 0, 0) : GEO_NONE;
    spill_end(L);
    if (L->status < 0) {
        return fail(L, "corrupt search tree (damaged, or changed while it was read)");
    }
    if (L->bad_data != 0) {
        diag_error(L->diag, &(diag_mark_t){.file = L->db->path},
                   "corrupt data section (damaged, or changed while it was read): %s",
                   MMDB_strerror(L->bad_data));
        return GSLB_EGEODB;
    }
    /* A root that is itself a leaf locates its whole space. */
    db->networks += (root & GEO_LEAF) && root != GEO_NONE;
    if (L->mmdb.metadata.ip_version == 6) {
        db->trie.root6 = root;
        db->trie.root4 = ipv4_root(&db->trie);
    } else {
        db->trie.root6 = GEO_NONE;
        db->trie.root4 = root;
    }
    return 0;
}

void geo_db_drop_pages(const geo_db_t *db)
{
    if (db != NULL && db->map != NULL) {
        madvise(db->map, db->map_len, MADV_DONTNEED);
    }
}

/* Whether a file is as it was: same inode, size, and change times. Times
 * are the kernel's coarse clock (a few ms), so two writes within one tick
 * may look like none; the structure and data checks of the loader catch
 * most of what such a race would mix up. */
static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Copy everything `from` holds from its start to `to`: 0 and *copied, or a
 * negative errno. read() of a file that shrinks ends early; it never faults. */
static int copy_all(int from, int to, off_t *copied)
{
    off_t total = 0;

    for (;;) {
        ssize_t n = sendfile(to, from, NULL, 1 << 20);
        if (n == 0) {
            break;
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
        total += n > 0 ? n : 0;
    }
    *copied = total;
    return 0;
}

/* The file at `path` read into a memory file of our own, sealed so that it
 * can neither shrink nor grow: 0 and *out (a descriptor the caller closes),
 * or a negative code with a line in diag. A file that changed while it was
 * read (written in place as we read it) is refused, not half used. */
static int read_private(const char *path, int *out, diag_t *diag)
{
    const diag_mark_t mark = {.file = path};
    struct stat before, after;
    off_t copied = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), mfd = -1, r = 0;

    if (fd < 0 || fstat(fd, &before) < 0) {
        r = -errno;
        diag_error(diag, &mark, "%s", gslb_strerror(r));
    } else if (!S_ISREG(before.st_mode)) {
        r = GSLB_EGEODB;
        diag_error(diag, &mark, "not a regular file");
    } else if (before.st_size == 0) {
        r = GSLB_EGEODB;
        diag_error(diag, &mark, "empty file (is it being written?)");
    } else if ((mfd = memfd_create("gslb-geodb", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
        r = -errno;
        diag_error(diag, &mark, "cannot make a private copy: %s", gslb_strerror(r));
    } else if ((r = copy_all(fd, mfd, &copied)) < 0 || fstat(fd, &after) < 0) {
        r = r < 0 ? r : -errno;
        diag_error(diag, &mark, "cannot read: %s", gslb_strerror(r));
    } else if (copied != before.st_size || !same_file(&before, &after)) {
        r = GSLB_EGEODB;
        diag_error(diag, &mark,
                   "the file changed while it was read (is it being written in "
                   "place?): not used");
    } else if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        r = -errno;
        diag_error(diag, &mark, "cannot seal the private copy: %s", gslb_strerror(r));
    }
    if (fd >= 0) {
        close(fd);
    }
    if (r < 0) {
        if (mfd >= 0) {
            close(mfd);
        }
        return r;
    }
    *out = mfd;
    return 0;
}

/* Open the private copy with libmaxminddb, which takes only a path. */
static int open_private(const char *path, int mfd, MMDB_s *mmdb, diag_t *diag)
{
    const diag_mark_t mark = {.file = path};
    char self[64];
    int r;

    snprintf(self, sizeof(self), "/proc/self/fd/%d", mfd);
    r = MMDB_open(self, MMDB_MODE_MMAP, mmdb);
    if (r == MMDB_SUCCESS) {
        return 0;
    }
    if (r == MMDB_FILE_OPEN_ERROR || r == MMDB_IO_ERROR) {
        int e = -errno;
        diag_error(diag, &mark, "cannot open the private copy as %s (is /proc mounted?): %s", self,
                   gslb_strerror(e));
        return e < 0 ? e : GSLB_EGEODB;
    }
    diag_error(diag, &mark,
               "not a complete MaxMind DB file (truncated, still being written, or "
               "not an mmdb): %s",
               MMDB_strerror(r));
    return GSLB_EGEODB;
}

/* The metadata's description in English, or in its first language. */
static void describe_md(const MMDB_metadata_s *md, char *out, size_t size)
{
    const char *text = NULL;

    for (size_t i = 0; i < md->description.count; i++) {
        const MMDB_description_s *d = md->description.descriptions[i];
        if (d->description != NULL &&
            (text == NULL || (d->language && !strcmp(d->language, "en")))) {
            text = d->description;
        }
    }
    snprintf(out, size, "%s", text ? text : "");
}

/* Only the metadata is read, from libmaxminddb's mapping of the file: a
 * file cut short in that moment could fault, which a one-shot --version may
 * risk and the daemon's loader (read_private()) does not. */
int geo_db_describe_file(const char *path, char *out, size_t size)
{
    MMDB_s mmdb;

    if (MMDB_open(path, MMDB_MODE_MMAP, &mmdb) != MMDB_SUCCESS) {
        return GSLB_EGEODB;
    }
    describe_md(&mmdb.metadata, out, size);
    MMDB_close(&mmdb);
    return 0;
}

int geo_db_open(const char *path, geo_db_t **out, diag_t *diag)
{
    loader_t L = {.diag = diag, .spill_fd = -1};
    int mfd, r;

    static uint64_t opened;

    if ((r = read_private(path, &mfd, diag)) < 0) {
        return r;
    }
    r = open_private(path, mfd, &L.mmdb, diag);
    close(mfd); /* libmaxminddb's mapping keeps the copy until MMDB_close() */
    if (r < 0) {
        return r;
    }
    L.db = xcalloc(1, sizeof(*L.db));
    L.db->path = xstrdup(path);
    L.db->gen = ++opened;
    snprintf(L.db->type, sizeof(L.db->type), "%s",
             L.mmdb.metadata.database_type ? L.mmdb.metadata.database_type : "unknown");
    L.db->build_epoch = L.mmdb.metadata.build_epoch;
    describe_md(&L.mmdb.metadata, L.db->description, sizeof(L.db->description));
    r = compile(&L);
    MMDB_close(&L.mmdb);
    free(L.memo);
    free(L.data_keys);
    free(L.data_memo);
    if (r < 0) {
        geo_db_free(L.db);
        return r;
    }
    *out = L.db;
    return 0;
}

void geo_db_free(geo_db_t *db)
{
    if (db != NULL) {
        if (db->map != NULL) {
            munmap(db->map, db->map_len);
        } else {
            free(db->trie.nodes);
            free(db->locs);
        }
        free(db->path);
        free(db);
    }
}

uint64_t geo_db_networks(const geo_db_t *db)
{
    return db->networks;
}
