/* geoip: the GeoIP database gslbd starts with; see geoip.h. */
#include "gslbd/server/geoip.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/errcode.h"

/* The Makefile sets it from DATADIR (default /usr/local/share). */
#ifndef GSLB_DATADIR
#define GSLB_DATADIR "/usr/local/share"
#endif

#define GEOIP_BUILTIN GSLB_DATADIR "/gslb/world.mmdb"

typedef char geoip_path_t[PATH_MAX];

const char *geoip_builtin_path(void)
{
    return GEOIP_BUILTIN;
}

/* The directory above the one the running executable is in ("" for "/"):
 * PREFIX for PREFIX/sbin/gslbd, the build tree for bin/gslbd. The kernel's
 * link has every symlink resolved, so "bin/.." needs no lookup. */
static int exe_parent(char *out, size_t size)
{
    static const char deleted[] = " (deleted)"; /* the binary replaced meanwhile */
    ssize_t n = readlink("/proc/self/exe", out, size - 1);

    if (n <= 0 || (size_t)n >= size - 1) {
        return -ENOENT;
    }
    out[n] = '\0';
    if ((size_t)n > sizeof(deleted) - 1 && strcmp(out + n - (sizeof(deleted) - 1), deleted) == 0) {
        out[n - (sizeof(deleted) - 1)] = '\0';
    }
    for (int up = 0; up < 2; up++) { /* the file, then its directory */
        char *slash = strrchr(out, '/');
        if (slash == NULL) {
            return -ENOENT;
        }
        *slash = '\0';
    }
    return 0;
}

/* Fill `paths` with the places to look, in order, without repeats. Returns
 * how many. */
static size_t geoip_candidates(geoip_path_t paths[GEOIP_CANDIDATES])
{
    static const char *const below[] = {"/share/gslb/world.mmdb", "/geo/world.mmdb"};
    char parent[PATH_MAX];
    size_t n = 0;

    if (exe_parent(parent, sizeof(parent)) == 0) {
        for (size_t i = 0; i < sizeof(below) / sizeof(below[0]); i++) {
            if ((size_t)snprintf(paths[n], sizeof(paths[n]), "%s%s", parent, below[i]) <
                sizeof(paths[n])) {
                n++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(paths[i], GEOIP_BUILTIN) == 0) {
            return n;
        }
    }
    snprintf(paths[n++], sizeof(paths[0]), "%s", GEOIP_BUILTIN);
    return n;
}

/* Load `path`, logging why not. */
static int geoip_load(const char *path, const char *what, geo_db_t **db)
{
    diag_t errs = {0};
    int r = geo_db_open(path, db, &errs);

    diag_log(&errs, LOG_LEVEL_ERR); /* errors, or warnings about a database that loaded */
    if (r < 0) {
        log_err("%s %s: cannot load the GeoIP database", what, path);
    }
    return r;
}

/* Where the built-in world database is: the first candidate that exists,
 * into `path`; or false, with every place looked in listed in `tried`. */
static bool geoip_find(geoip_path_t path, char *tried, size_t size)
{
    geoip_path_t paths[GEOIP_CANDIDATES];
    size_t n = geoip_candidates(paths), o = 0;

    tried[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (access(paths[i], F_OK) == 0) {
            memcpy(path, paths[i], sizeof(geoip_path_t));
            return true;
        }
        o += (size_t)snprintf(tried + o, size - o, "%s%s", i ? ", " : "", paths[i]);
    }
    return false;
}

#define GEOIP_TRIED_MAX (GEOIP_CANDIDATES * (PATH_MAX + 2))

static int geoip_builtin(geo_db_t **db)
{
    geoip_path_t path;
    char tried[GEOIP_TRIED_MAX];

    if (geoip_find(path, tried, sizeof(tried))) {
        return geoip_load(path, "the built-in world database", db);
    }
    log_err("no GeoIP database: the built-in world database is in none of %s; install it "
            "(make install), name a database with --geoip FILE, or start without placing "
            "clients with --geoip " GEOIP_NONE,
            tried);
    return -ENOENT;
}

void geoip_describe_builtin(FILE *out)
{
    geoip_path_t path;
    char tried[GEOIP_TRIED_MAX], desc[256];

    if (!geoip_find(path, tried, sizeof(tried))) {
        fprintf(out, "built-in world database: not installed (looked for %s)\n", tried);
    } else if (geo_db_describe_file(path, desc, sizeof(desc)) < 0) {
        fprintf(out, "built-in world database %s: not a GeoIP database\n", path);
    } else {
        fprintf(out, "built-in world database %s: %s\n", path, desc);
    }
}

int geoip_open(const char *arg, geo_db_t **db)
{
    *db = NULL;
    if (arg == NULL) {
        return geoip_builtin(db);
    }
    if (strcmp(arg, GEOIP_NONE) == 0) {
        return 0;
    }
    return geoip_load(arg, "--geoip", db);
}
