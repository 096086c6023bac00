/*
 * gslbd: the authoritative DNS server of gslb.
 *
 * This file is the command line and the main loop: it loads the zones,
 * starts the server, and turns SIGHUP and zone-file changes into reloads and
 * SIGTERM/SIGINT into a clean stop. Answering lives in answer.c, sockets in
 * server.c.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/version.h"
#include "common/prom.h"
#include "daemon/http.h"
#include "daemon/notify.h"
#include "daemon/procstat.h"
#include "daemon/reloader.h"
#include "daemon/signals.h"
#include "daemon/watch.h"
#include "gslbd/server/addr.h"
#include "gslbd/server/control.h"
#include "gslbd/server/geoip.h"
#include "gslbd/server/listener.h"
#include "gslbd/engine/explain.h"
#include "gslbd/engine/stats.h"
#include "gslbd/engine/status.h"
#include "gslbd/engine/svcwatch.h"
#include "gslbd/engine/zoneset.h"
#include "gslbd/server/qmetrics.h"
#include "gslbd/server/server.h"
#include "gslbd/server/statuspage.h"

/* Descriptors kept for other things than TCP connections, besides those open
 * at start and the server's sockets: the main loop's (signals, file watches),
 * the control socket and its clients (64), files a reload opens, slack. */
#define FILES_SPARE 128

typedef struct {
    const char *zones;
    const char *user;
    const char *geoip;   /* --geoip FILE or none; NULL: the built-in world database */
    const char *explain; /* --explain ADDRESS[/PREFIX] */
    const char *explain_name, *explain_type;
    const char *control;                     /* --control PATH */
    const char *overrides;                   /* --overrides FILE, default PATH.overrides */
    const char *control_group;               /* --control-group */
    struct sockaddr_storage *control_listen; /* --control-listen ADDR:PORT */
    size_t n_control_listen;
    const char *control_keys;          /* --control-keys FILE */
    unsigned sync_wait_ms;             /* --sync-wait */
    const char *http[HTTP_MAX_LISTEN]; /* --http ADDR:PORT */
    size_t n_http;
    server_config_t srv;
    bool check;
    bool rrl_exempt_given; /* the first --rrl-exempt replaces the default list */
    bool syslog;           /* --syslog */
    log_level_t level;
} options_t;

/* Long options without a short form. */
enum {
    OPT_RRL = 256,
    OPT_RRL_RATE,
    OPT_RRL_SLIP,
    OPT_RRL_V4,
    OPT_RRL_V6,
    OPT_RRL_EXEMPT,
    OPT_SYSLOG,
    OPT_HTTP,
    OPT_CONTROL_LISTEN,
    OPT_CONTROL_KEYS,
};

/* What a reload does (reloader.h merges them): the zone files that changed,
 * every zone file, the GeoIP database; RELOAD_CTL: control clients (gslbctl
 * reload) wait for the result. */
enum { RELOAD_ZONES = 1, RELOAD_ALL_ZONES = 2, RELOAD_DB = 4, RELOAD_CTL = 8 };

/* The result of one reload, from the loader thread to the main loop. */
typedef struct {
    diag_t db_errs, zone_errs;
    int db_rc;               /* RELOAD_DB: 0, or why the new database is not used */
    bool db_compiled;        /* the new database opened; db_rc < 0: the zones did not compile */
    geo_db_t *db;            /* the new database, when db_rc is 0 */
    int zone_rc;             /* RELOAD_(ALL_)ZONES: 0 or why nothing new is served */
    zoneset_report_t report; /* RELOAD_(ALL_)ZONES: what became of each file */
    snapshot_t *snap;        /* to publish, or NULL */
} reload_job_t;

/* While a reload runs on the loader thread it uses the zoneset (with its geo
 * map cache), the database and, to compile, the cache's maps that replaced
 * snapshots hold; the main loop leaves all of them alone meanwhile: it
 * starts no other reload, swaps no database, and frees no snapshot
 * (server_hold_frees()). Health slots are attached on the main loop, which
 * owns the healthdb, before the new snapshot is published. */
typedef struct {
    options_t *opt;
    zoneset_t *zs;
    geo_db_t *db;
    healthdb_t *health;
    control_t *ctl;
    server_t *srv;
    uv_loop_t *loop;
    signals_t signals;
    watch_t zones_watch, db_watch;
    reloader_t reloader;
    reload_job_t job;
    svcwatch_t *svcw;      /* services failing open, on fallback, ... (svcwatch.h) */
    uv_check_t svc_check;  /* looks after each turn of the loop */
    status_t *status;      /* each zone file's last reload, and the report */
    http_t *http;          /* --http, or NULL */
    bool stopping;         /* SIGTERM: /healthz says 503 */
    stats_t *stats;        /* answer shares */
    uv_timer_t stats_tick; /* samples them */
} gslbd_t;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: gslbd --zones PATH --listen ADDR:PORT [--listen ADDR:PORT ...] [options]\n"
        "\n"
        "Authoritative DNS server answering GSLB services from zone YAML.\n"
        "\n"
        "  -z, --zones PATH        zone YAML file, or a directory of *.yaml files (one zone each)\n"
        "  -l, --listen ADDR:PORT  serve UDP and TCP here; repeatable; IPv6 as [::1]:5353\n"
        "  -t, --threads N         UDP threads per listen address, and TCP loops (default: CPUs)\n"
        "  -g, --geoip FILE|none   GeoIP2/GeoLite2/DB-IP City or Country mmdb, or an\n"
        "                          ip-location-db one (flat latitude, longitude,\n"
        "                          country_code) (default: the\n"
        "                          built-in world database, looked for in ../share/gslb/\n"
        "                          and ../geo/ from gslbd's directory, then at\n"
        "                          %s);\n"
        "                          none: no database, clients are not placed\n"
        "  -c, --check             load and validate the zones, print every error, exit 0/1\n"
        "  -e, --explain ADDRESS[/PREFIX] NAME [TYPE]\n"
        "                          print what a client there would get for NAME, and why,\n"
        "                          from the zone files alone: no live health, no overrides\n"
        "                          (gslbctl explain asks the running gslbd)\n"
        "      --tcp-timeout SEC   close a TCP connection that completes no query for SEC\n"
        "                          seconds (default 10)\n"
        "      --tcp-max N         concurrent TCP connections at most (default 512; lowered to\n"
        "                          fit the open-file limit, which gslbd raises to its hard\n"
        "                          limit); when all are taken, the one idle longest makes room\n"
        "      --rrl on|off|log    response rate limiting over UDP (default on): a client\n"
        "                          network gets --rrl-rate responses a second per kind\n"
        "                          and name; log counts and logs what would be limited\n"
        "      --rrl-rate N        responses a second per network, kind and name (default 200)\n"
        "      --rrl-slip N        send every Nth limited response truncated (TC) so real\n"
        "                          clients retry over TCP, drop the rest; 0 drops all,\n"
        "                          1 truncates all (default 2)\n"
        "      --rrl-ipv4-prefix N the client network of an IPv4 source (default 24)\n"
        "      --rrl-ipv6-prefix N the client network of an IPv6 source (default 56)\n"
        "      --rrl-exempt NET    never limit sources in NET (ADDR[/PREFIX]); repeatable;\n"
        "                          replaces the default, loopback (127.0.0.0/8, ::1);\n"
        "                          'none' exempts nothing. Clients returning a valid DNS\n"
        "                          cookie, and TCP, are never limited.\n"
        "  -C, --control PATH      control socket for healthd and gslbctl (health reports,\n"
        "                          status, explain, reloads, drain/down/up overrides)\n"
        "      --overrides FILE    where overrides are kept across restarts\n"
        "                          (default: the control PATH with .overrides appended;\n"
        "                          FILE.sources keeps the names of the healthd heard from)\n"
        "      --sync-wait SEC     after a restart, answer with min_ttl until the healthd\n"
        "                          heard from before have sent their state, at most\n"
        "                          SEC seconds (default 3; 0: do not wait)\n"
        "      --control-group GROUP  the control socket's group: its members may read the\n"
        "                          status, set overrides and reload (default: gslbd's group);\n"
        "                          health reports are taken from root and gslbd's user only\n"
        "      --control-listen ADDR:PORT  also take health reports from healthd on other\n"
        "                          hosts over TCP here, every line authenticated with its\n"
        "                          vantage's key (HMAC-SHA256); repeatable; needs --control\n"
        "      --control-keys FILE every vantage's key, lines 'VANTAGE hmac-sha256 BASE64'\n"
        "                          (gslbctl keygen VANTAGE writes one); not readable by others\n"
        "      --http ADDR:PORT    serve /metrics (Prometheus), /status (the status page),\n"
        "                          /api/v1/status (gslbctl status --json) and /healthz over\n"
        "                          HTTP here; read-only; repeatable; IPv6 as [::1]:9153;\n"
        "                          keep it on loopback or a private network\n"
        "  -u, --user NAME         drop root privileges to NAME after binding\n"
        "  -v, --verbose           log debug messages\n"
        "  -q, --quiet             log warnings and errors only\n"
        "      --syslog            log through syslog(3) (daemon facility) instead of stderr;\n"
        "                          on stderr lines carry a UTC time, or under systemd's\n"
        "                          journal a priority prefix\n"
        "  -V, --version           print the version and exit\n"
        "  -h, --help              print this help and exit\n"
        "\n"
        "Signals: SIGHUP reloads every zone file (gslbctl reload does the same and waits\n"
        "for the result); SIGTERM and SIGINT stop.\n"
        "Zone files are also reloaded when they change on disk. A file that fails\n"
        "to load is reported as file:line:column and its previous version keeps serving.\n",
        geoip_builtin_path());
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);

    if (errno != 0 || *end != '\0' || s[0] == '\0' || s[0] == '-' || v < lo || v > hi) {
        return -EINVAL;
    }
    *out = (unsigned)v;
    return 0;
}

/* One of the --rrl options. Returns 0, or -EINVAL with the error logged. */
static int parse_rrl_option(options_t *o, int c, const char *arg)
{
    rrl_config_t *r = &o->srv.rrl;
    rrl_net_t net;

    switch (c) {
    case OPT_RRL:
        if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0 || strcmp(arg, "log") == 0) {
            r->mode = arg[1] == 'n' ? RRL_ON : arg[1] == 'f' ? RRL_OFF : RRL_LOG;
            return 0;
        }
        log_err("--rrl '%s': expected on, off or log", arg);
        return -EINVAL;
    case OPT_RRL_RATE:
        if (parse_uint(arg, 1, 1000000, &r->rate) == 0) {
            return 0;
        }
        log_err("--rrl-rate '%s': expected responses a second, from 1 to 1000000", arg);
        return -EINVAL;
    case OPT_RRL_SLIP:
        if (parse_uint(arg, 0, 100, &r->slip) == 0) {
            return 0;
        }
        log_err("--rrl-slip '%s': expected a number from 0 to 100", arg);
        return -EINVAL;
    case OPT_RRL_V4:
        if (parse_uint(arg, 1, 32, &r->v4_prefix) == 0) {
            return 0;
        }
        log_err("--rrl-ipv4-prefix '%s': expected a prefix length from 1 to 32", arg);
        return -EINVAL;
    case OPT_RRL_V6:
        if (parse_uint(arg, 1, 128, &r->v6_prefix) == 0) {
            return 0;
        }
        log_err("--rrl-ipv6-prefix '%s': expected a prefix length from 1 to 128", arg);
        return -EINVAL;
    default: /* OPT_RRL_EXEMPT */
        if (!o->rrl_exempt_given) {
            o->rrl_exempt_given = true;
            r->n_exempt = 0;
        }
        if (strcmp(arg, "none") == 0) {
            r->n_exempt = 0;
            return 0;
        }
        if (rrl_net_parse(arg, &net) < 0) {
            log_err("--rrl-exempt '%s': expected ADDR[/PREFIX], e.g. 192.0.2.0/24, or none", arg);
            return -EINVAL;
        }
        if (r->n_exempt == RRL_EXEMPT_MAX) {
            log_err("--rrl-exempt: at most %d networks", RRL_EXEMPT_MAX);
            return -EINVAL;
        }
        r->exempt[r->n_exempt++] = net;
        return 0;
    }
}

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option longs[] = {
        {"zones", required_argument, NULL, 'z'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"check", no_argument, NULL, 'c'},
        {"geoip", required_argument, NULL, 'g'},
        {"explain", required_argument, NULL, 'e'},
        {"control", required_argument, NULL, 'C'},
        {"overrides", required_argument, NULL, 'O'},
        {"sync-wait", required_argument, NULL, 'W'},
        {"tcp-timeout", required_argument, NULL, 'T'},
        {"tcp-max", required_argument, NULL, 'M'},
        {"rrl", required_argument, NULL, OPT_RRL},
        {"rrl-rate", required_argument, NULL, OPT_RRL_RATE},
        {"rrl-slip", required_argument, NULL, OPT_RRL_SLIP},
        {"rrl-ipv4-prefix", required_argument, NULL, OPT_RRL_V4},
        {"rrl-ipv6-prefix", required_argument, NULL, OPT_RRL_V6},
        {"rrl-exempt", required_argument, NULL, OPT_RRL_EXEMPT},
        {"user", required_argument, NULL, 'u'},
        {"control-group", required_argument, NULL, 'G'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"http", required_argument, NULL, OPT_HTTP},
        {"control-listen", required_argument, NULL, OPT_CONTROL_LISTEN},
        {"control-keys", required_argument, NULL, OPT_CONTROL_KEYS},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned secs;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int c;

    o->srv.threads = ncpu > 0 ? (unsigned)ncpu : 1;
    o->srv.tcp_timeout_ms = 10000;
    o->sync_wait_ms = 3000;
    o->srv.tcp_max = 512;
    rrl_config_default(&o->srv.rrl);
    o->level = LOG_LEVEL_INFO;
    while ((c = getopt_long(argc, argv, "z:l:t:cg:e:C:u:vqVh", longs, NULL)) != -1) {
        switch (c) {
        case 'z':
            o->zones = optarg;
            break;
        case 'l':
            o->srv.listen = realloc(o->srv.listen, (o->srv.n_listen + 1) * sizeof(*o->srv.listen));
            if (o->srv.listen == NULL ||
                netaddr_parse(optarg, &o->srv.listen[o->srv.n_listen], NULL) != NETADDR_OK) {
                log_err("--listen '%s': expected ADDR:PORT, e.g. 127.0.0.1:5353 or [::1]:5353",
                        optarg);
                return -EINVAL;
            }
            o->srv.n_listen++;
            break;
        case 't':
            if (parse_uint(optarg, 1, 256, &o->srv.threads) < 0) {
                log_err("--threads '%s': expected a number from 1 to 256", optarg);
                return -EINVAL;
            }
            break;
        case 'c':
            o->check = true;
            break;
        case 'g':
            o->geoip = optarg;
            break;
        case 'e':
            o->explain = optarg;
            break;
        case 'C':
            o->control = optarg;
            break;
        case 'O':
            o->overrides = optarg;
            break;
        case 'W':
            if (parse_uint(optarg, 0, 3600, &secs) < 0) {
                log_err("--sync-wait '%s': expected seconds from 0 to 3600", optarg);
                return -EINVAL;
            }
            o->sync_wait_ms = secs * 1000;
            break;
        case 'T':
            if (parse_uint(optarg, 1, 3600, &secs) < 0) {
                log_err("--tcp-timeout '%s': expected seconds from 1 to 3600", optarg);
                return -EINVAL;
            }
            o->srv.tcp_timeout_ms = secs * 1000;
            break;
        case 'M':
            if (parse_uint(optarg, 1, 1000000, &o->srv.tcp_max) < 0) {
                log_err("--tcp-max '%s': expected a number from 1 to 1000000", optarg);
                return -EINVAL;
            }
            break;
        case OPT_RRL:
        case OPT_RRL_RATE:
        case OPT_RRL_SLIP:
        case OPT_RRL_V4:
        case OPT_RRL_V6:
        case OPT_RRL_EXEMPT:
            if (parse_rrl_option(o, c, optarg) < 0) {
                return -EINVAL;
            }
            break;
        case 'G':
            o->control_group = optarg;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'v':
            o->level = LOG_LEVEL_DEBUG;
            break;
        case 'q':
            o->level = LOG_LEVEL_WARN;
            break;
        case OPT_SYSLOG:
            o->syslog = true;
            break;
        case OPT_HTTP:
            if (http_option(o->http, &o->n_http, optarg) < 0) {
                return -EINVAL;
            }
            break;
        case OPT_CONTROL_LISTEN:
            o->control_listen = xreallocarray(o->control_listen, o->n_control_listen + 1,
                                              sizeof(*o->control_listen));
            if (netaddr_parse(optarg, &o->control_listen[o->n_control_listen], NULL) !=
                NETADDR_OK) {
                log_err("--control-listen '%s': expected ADDR:PORT, e.g. 10.0.0.5:5380 or "
                        "[2001:db8::5]:5380",
                        optarg);
                return -EINVAL;
            }
            o->n_control_listen++;
            break;
        case OPT_CONTROL_KEYS:
            o->control_keys = optarg;
            break;
        case 'V':
            printf("gslbd %s (ldns %s, libuv %s, libmicrohttpd %s)\n", gslb_version(),
                   ldns_version(), uv_version_string(), http_library_version());
            geoip_describe_builtin(stdout);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (o->explain != NULL) {
        if (optind >= argc || argc - optind > 2) {
            log_err("--explain ADDRESS[/PREFIX] needs NAME and optionally TYPE after it");
            return -EINVAL;
        }
        o->explain_name = argv[optind];
        o->explain_type = optind + 1 < argc ? argv[optind + 1] : NULL;
        optind = argc;
    }
    if (optind < argc) {
        log_err("unexpected argument '%s' (see --help)", argv[optind]);
        return -EINVAL;
    }
    if (o->zones == NULL) {
        log_err("--zones PATH is required (see --help)");
        return -EINVAL;
    }
    if (!o->check && o->explain == NULL && o->srv.n_listen == 0) {
        log_err("at least one --listen ADDR:PORT is required (see --help)");
        return -EINVAL;
    }
    if ((o->n_control_listen > 0 || o->control_keys != NULL) && o->control == NULL) {
        log_err("--control-listen and --control-keys need --control PATH: the network channel "
                "is one more way into the control socket");
        return -EINVAL;
    }
    return 0;
}

static int drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL) {
        log_err("--user '%s': no such user", user);
        return -ENOENT;
    }
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        int e = -errno;
        log_err("--user '%s': cannot drop privileges: %s", user, gslb_strerror(e));
        return e;
    }
    return 0;
}

/* How many descriptors are open now (16 if /proc cannot tell). */
static unsigned files_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    if (d == NULL) {
        return 16;
    }
    while (readdir(d) != NULL) {
        n++;
    }
    closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own */
}

/* Raise the soft open-file limit to the hard one, and keep --tcp-max within
 * it: past the limit accept() fails and clients are turned away, while under
 * the cap the idlest connection makes room. Besides TCP connections gslbd
 * needs what is open now, per worker its loop (epoll, eventfd, libuv's spare),
 * per worker and address a UDP socket, a TCP listener and its reserve, one
 * connection per worker being swapped for the idlest, and FILES_SPARE. */
static void files_limit(server_config_t *cfg)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            rl = raised;
        } else {
            log_warn("cannot raise the open-file limit from %llu to %llu: %s",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                     gslb_strerror(-errno));
        }
    }
    if (rl.rlim_cur == RLIM_INFINITY) {
        return;
    }
    unsigned long long need =
        files_open() + FILES_SPARE + (unsigned long long)cfg->threads * (4 + 3 * cfg->n_listen);
    unsigned long long room = rl.rlim_cur > need ? rl.rlim_cur - need : 0;
    if (cfg->tcp_max > room) {
        unsigned cap = room > cfg->threads ? (unsigned)room : cfg->threads;
        log_warn("--tcp-max %u lowered to %u: the open-file limit is %llu and %llu are "
                 "needed besides (raise it: ulimit -n, LimitNOFILE= in systemd)",
                 cfg->tcp_max, cap, (unsigned long long)rl.rlim_cur, need);
        cfg->tcp_max = cap;
    }
}

/* ---- reloads: loaded and compiled on the loader thread, published here ---- */

/* Loader thread: the database named by the one serving, opened again, and
 * the zones compiled against it. A broken file keeps the old one serving. */
static void reload_db_aside(gslbd_t *g, reload_job_t *j)
{
    geo_db_t *db;

    j->db_rc = geo_db_open(g->db->path, &db, &j->db_errs); /* the file it was loaded from */
    if (j->db_rc < 0) {
        return;
    }
    j->db_compiled = true;
    j->db_rc = zoneset_rebuild(g->zs, db, &j->snap, &j->db_errs);
    if (j->db_rc < 0) {
        geo_db_free(db);
        return;
    }
    j->db = db;
}

/* Loader thread. */
static void reload_work(void *arg, unsigned what)
{
    gslbd_t *g = arg;
    reload_job_t *j = &g->job;
    snapshot_t *snap;

    *j = (reload_job_t){0};
    if (what & RELOAD_DB) {
        reload_db_aside(g, j);
    }
    if (!(what & (RELOAD_ZONES | RELOAD_ALL_ZONES))) {
        return;
    }
    j->zone_rc = zoneset_load_report(g->zs, j->db ? j->db : g->db, what & RELOAD_ALL_ZONES, false,
                                     &snap, &j->zone_errs, &j->report);
    if (j->zone_rc == 0 && snap != NULL) {
        snapshot_free(j->snap); /* compiled for the new database only: superseded */
        j->snap = snap;
    }
}

static void reload_begin(void *arg, unsigned what)
{
    gslbd_t *g = arg;

    notify_reloading();
    server_hold_frees(g->srv, true);
    if (what & RELOAD_CTL) {
        control_reload_started(g->ctl);
    }
}

static void reload_log_db(gslbd_t *g, reload_job_t *j)
{
    diag_log(&j->db_errs, LOG_LEVEL_ERR);
    if (j->db_rc < 0 && !j->db_compiled) {
        log_err("GeoIP database not reloaded, the previous one keeps serving: %s", g->db->path);
    } else if (j->db_rc < 0) {
        log_err("zones could not be compiled with the new GeoIP database: keeping the old one");
    }
}

/* Say per zone what a reload did, then one line for all. */
static void reload_log_zones(const zoneset_report_t *rep)
{
    char line[1024];

    for (size_t k = 0; k < rep->n_files; k++) {
        const zoneset_file_t *f = &rep->files[k];
        zoneset_file_describe(f, line, sizeof(line));
        if (f->outcome == ZONESET_UNCHANGED) {
            log_debug("zone %s", line);
        } else if (f->outcome == ZONESET_LOADED || f->outcome == ZONESET_REMOVED) {
            log_info("zone %s", line);
        } else {
            log_err("zone %s", line);
        }
    }
    if (zoneset_report_verdict(rep, line, sizeof(line))) {
        log_info("%s", line);
    } else {
        log_err("%s", line);
    }
}

/* What gslbctl reload prints: every error, a line per zone file, and the
 * verdict as the final line. */
static void reload_reply(gslbd_t *g, const zoneset_report_t *rep)
{
    char *text = NULL, verdict[1024];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        alloc_fail("open_memstream");
    }
    zoneset_report_write(rep, f);
    fclose(f);
    bool ok = zoneset_report_verdict(rep, verdict, sizeof(verdict));
    control_reload_done(g->ctl, text, ok, verdict);
    free(text);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Main loop: publish what the loader thread made. */
static void reload_done(void *arg, unsigned what, bool stopping)
{
    gslbd_t *g = arg;
    reload_job_t *j = &g->job;

    server_hold_frees(g->srv, false);
    if (stopping) {
        snapshot_free(j->snap);
        geo_db_free(j->db);
        diag_clear(&j->db_errs);
        diag_clear(&j->zone_errs);
        zoneset_report_clear(&j->report);
        if (what & RELOAD_CTL) {
            control_reload_done(g->ctl, NULL, false, "gslbd is stopping: the reload was not used");
        }
        return;
    }
    if (what & RELOAD_DB) {
        reload_log_db(g, j);
    }
    diag_log(&j->zone_errs, LOG_LEVEL_ERR);
    if (j->snap != NULL) {
        snapshot_attach_health(j->snap, g->health);
        stats_track(g->stats, j->snap);
        server_swap(g->srv, j->snap);
    }
    if (j->db != NULL) {
        geo_db_free(g->db);
        g->db = j->db;
        log_info("reloaded GeoIP database %s (%s, %zu locations)", g->db->path, g->db->type,
                 g->db->n_locs);
    }
    /* The report leaves the job: answering gslbctl below may start the next
     * reload, whose loader thread starts by clearing the job. */
    zoneset_report_t rep = j->report;
    j->report = (zoneset_report_t){0};
    if (what & (RELOAD_ZONES | RELOAD_ALL_ZONES)) {
        reload_log_zones(&rep);
        status_reloaded(g->status, &rep, wall_ms());
    }
    char desc[512];
    zoneset_describe(g->zs, desc, sizeof(desc));
    notify_ready("serving %s%s", desc, j->zone_rc < 0 ? " (the last reload failed)" : "");
    if (what & RELOAD_CTL) {
        reload_reply(g, &rep); /* last: nothing of the job is used after it */
    }
    zoneset_report_clear(&rep);
}

static const reloader_ops_t reload_ops = {reload_begin, reload_work, reload_done};

static void reload_zones(void *arg)
{
    reloader_request(&((gslbd_t *)arg)->reloader, RELOAD_ZONES);
}

static void reload_all(void *arg)
{
    reloader_request(&((gslbd_t *)arg)->reloader, RELOAD_ALL_ZONES);
}

/* gslbctl reload: every file, and the clients wait for the result. */
static void reload_ctl(void *arg)
{
    reloader_request(&((gslbd_t *)arg)->reloader, RELOAD_ALL_ZONES | RELOAD_CTL);
}

/* The mmdb changed on disk. */
static void reload_db(void *arg)
{
    reloader_request(&((gslbd_t *)arg)->reloader, RELOAD_DB);
}

static void announce(const gslbd_t *g)
{
    char desc[512], addrs[1024] = "", one[80];
    size_t o = 0;

    zoneset_describe(g->zs, desc, sizeof(desc));
    for (size_t i = 0; i < g->opt->srv.n_listen; i++) {
        addr_text(&g->opt->srv.listen[i], one, sizeof(one));
        o += (size_t)snprintf(addrs + o, sizeof(addrs) - o, "%s%s", i ? " " : "", one);
    }
    if (g->db != NULL) {
        log_info("GeoIP database %s (%s, %zu locations)", g->db->path, g->db->type, g->db->n_locs);
    } else {
        log_info("no GeoIP database (--geoip " GEOIP_NONE "): clients are not placed, services "
                 "answer in geo.default or listed order");
    }
    log_info("ready: serving %s on %s with %u thread%s", desc, addrs, g->opt->srv.threads,
             g->opt->srv.threads == 1 ? "" : "s");
    notify_ready("serving %s on %s", desc, addrs);
}

/* At the stop, what rate limiting did over the whole run, if anything. */
static void log_rrl_total(const server_t *srv)
{
    rrl_stats_t st;

    if (server_rrl_stats(srv, &st) && (st.dropped | st.slipped | st.logged) != 0) {
        log_info("rate limit: %llu responses dropped, %llu sent truncated, %llu would have "
                 "been limited (log only) since the start",
                 (unsigned long long)st.dropped, (unsigned long long)st.slipped,
                 (unsigned long long)st.logged);
    }
}

static const snapshot_t *current_snapshot(void *arg)
{
    return server_snapshot(((gslbd_t *)arg)->srv);
}

static const geo_db_t *current_geo(void *arg)
{
    return ((gslbd_t *)arg)->db;
}

/* What the status report and the metrics are made from, now. */
static status_env_t status_env(gslbd_t *g)
{
    return (status_env_t){.snap = server_snapshot(g->srv),
                          .health = g->health,
                          .db = g->db,
                          .stats = g->stats,
                          .now_ms = uv_now(g->loop),
                          .wall_ms = wall_ms()};
}

/* STATUS: the report of status.h on what is served now. */
static void write_status(void *arg, FILE *out, bool json)
{
    gslbd_t *g = arg;
    status_env_t env = status_env(g);

    if (json) {
        status_write_json(g->status, &env, out);
    } else {
        status_write_text(g->status, &env, out);
    }
}

/* A snapshot is about to be freed: what its threads counted is kept. */
static void snapshot_gone(void *arg, const snapshot_t *s)
{
    stats_untrack(((gslbd_t *)arg)->stats, s);
}

static void stats_tick(uv_timer_t *t)
{
    gslbd_t *g = t->data;

    stats_sample(g->stats, uv_now(g->loop));
}

/* Whether gslbd is ready to serve: a zone is loaded and it is not stopping;
 * else why not. */
static const char *not_ready(const gslbd_t *g)
{
    const snapshot_t *s = server_snapshot(g->srv);

    if (g->stopping) {
        return "stopping";
    }
    if (s == NULL || s->n_zones == 0) {
        return "no zone loaded";
    }
    return NULL;
}

static void write_metrics(gslbd_t *g, FILE *out)
{
    status_env_t env = status_env(g);
    prom_t p;

    prom_init(&p, out);
    prom_family(&p, "gslb_build_info", PROM_GAUGE, "gslbd's version, always 1.");
    prom_u64(&p, "gslb_build_info", 1, "version", gslb_version(), "daemon", "gslbd", NULL);
    prom_family(&p, "gslb_up", PROM_GAUGE,
                "1 while gslbd serves (a zone loaded, not stopping), else 0: what /healthz says.");
    prom_u64(&p, "gslb_up", not_ready(g) == NULL, NULL);
    prom_family(&p, "gslb_snapshot_generation", PROM_GAUGE,
                "Snapshots published to the query threads (the first load and every reload "
                "that changed what is served).");
    prom_u64(&p, "gslb_snapshot_generation", server_generation(g->srv), NULL);
    if (g->db != NULL) {
        prom_family(&p, "gslb_geoip_build_timestamp_seconds", PROM_GAUGE,
                    "When the GeoIP database in use was built, seconds since the epoch.");
        prom_u64(&p, "gslb_geoip_build_timestamp_seconds", g->db->build_epoch, "type", g->db->type,
                 NULL);
        prom_family(&p, "gslb_geoip_networks", PROM_GAUGE,
                    "Networks the GeoIP database in use locates, after equal neighbours merge.");
        prom_u64(&p, "gslb_geoip_networks", geo_db_networks(g->db), "type", g->db->type, NULL);
    }
    status_write_prom(g->status, &env, &p);
    qmetrics_write(&p, g->srv, g->stats, env.snap, env.now_ms);
    if (g->opt->n_control_listen > 0) {
        uint64_t refused[CONTROL_REFUSED_N];
        control_refused(g->ctl, refused);
        prom_family(&p, "gslb_control_refused_total", PROM_COUNTER,
                    "Messages refused on --control-listen, by reason; the sender is "
                    "disconnected.");
        for (unsigned i = 0; i < CONTROL_REFUSED_N; i++) {
            prom_u64(&p, "gslb_control_refused_total", refused[i], "reason",
                     control_refused_name((control_refused_t)i), NULL);
        }
    }
    procstat_write(&p);
}

/* --http: every path is read-only. */
static void http_handle(void *arg, const char *path, http_reply_t *r)
{
    gslbd_t *g = arg;
    FILE *out;

    if (strcmp(path, "/metrics") == 0) {
        if ((out = http_body(r, "text/plain; version=0.0.4; charset=utf-8")) != NULL) {
            write_metrics(g, out);
        }
    } else if (strcmp(path, "/api/v1/status") == 0) {
        if ((out = http_body(r, "application/json")) != NULL) {
            write_status(g, out, true);
        }
    } else if (strcmp(path, "/status") == 0) {
        /* Static: the page fetches /api/v1/status itself (statuspage.h). */
        if ((out = http_body(r, "text/html; charset=utf-8")) != NULL) {
            fwrite(statuspage_html, 1, statuspage_len, out);
        }
    } else if (strcmp(path, "/healthz") == 0) {
        http_reply_healthz(r, not_ready(g));
    } else if (strcmp(path, "/") == 0) {
        if ((out = http_body(r, "text/plain; charset=utf-8")) != NULL) {
            fprintf(out,
                    "gslbd %s\n/status          the status page\n"
                    "/metrics         Prometheus metrics\n"
                    "/api/v1/status   the status as JSON (gslbctl status --json)\n"
                    "/healthz         200 while serving, else 503\n",
                    gslb_version());
        }
    } else {
        http_reply_not_found(r, path);
    }
}

/* Who the control socket belongs to: gslbd's --user and the --control-group
 * (by default the user's own group), resolved before privileges drop. */
static int control_owner(const options_t *opt, control_config_t *cfg)
{
    if (opt->user != NULL) {
        struct passwd *pw = getpwnam(opt->user);
        if (pw == NULL) {
            log_err("--user '%s': no such user", opt->user);
            return -ENOENT;
        }
        cfg->owner = pw->pw_uid;
        cfg->group = pw->pw_gid;
    }
    if (opt->control_group != NULL) {
        struct group *gr = getgrnam(opt->control_group);
        if (gr == NULL) {
            log_err("--control-group '%s': no such group", opt->control_group);
            return -ENOENT;
        }
        cfg->group = gr->gr_gid;
    }
    return 0;
}

/* Close the HTTP listener, if open, and free it. */
static void http_stop(gslbd_t *g)
{
    http_free(g->http);
    g->http = NULL;
}

/* Close the control socket, if open, and free it. */
static void control_stop(gslbd_t *g)
{
    control_close(g->ctl);
    listener_stop(g->loop); /* a paused control socket */
    uv_run(g->loop, UV_RUN_NOWAIT);
    control_free(g->ctl);
    g->ctl = NULL;
}

/* Open the control socket, if asked for, and drop privileges. Returns 0, or
 * a negative code with g->ctl left for control_stop(). */
static int serve_control(gslbd_t *g, const control_config_t *cfg)
{
    const options_t *opt = g->opt;
    diag_t errs = {0};
    int r = 0;

    /* The control socket's reserve, to pause on when descriptors run out. */
    if (opt->control != NULL && (r = listener_reserve(1)) < 0) {
        log_err("--control %s: cannot open a reserve descriptor: %s", opt->control,
                gslb_strerror(r));
    } else if (opt->control != NULL &&
               (r = control_new(g->loop, cfg,
                                &(control_env_t){.health = g->health,
                                                 .current = current_snapshot,
                                                 .geo = current_geo,
                                                 .reload = reload_ctl,
                                                 .status = write_status,
                                                 .arg = g},
                                &g->ctl, &errs)) < 0) {
        diag_log(&errs, LOG_LEVEL_ERR);
    } else if (opt->user != NULL) {
        r = drop_privileges(opt->user);
    }
    return r;
}

/* Bind the sockets, open the control socket, drop privileges and start the
 * workers on `snap`, which this owns from the call, failed or not. Returns
 * 0, or a negative code once it has freed everything it made. */
static int serve_open(gslbd_t *g, snapshot_t *snap)
{
    options_t *opt = g->opt;
    control_config_t ctl_cfg = {.path = opt->control,
                                .owner = (uid_t)-1,
                                .group = (gid_t)-1,
                                .listen = opt->control_listen,
                                .n_listen = opt->n_control_listen,
                                .keys_file = opt->control_keys};
    diag_t errs = {0};
    int r;

    if ((r = control_owner(opt, &ctl_cfg)) < 0) {
        snapshot_free(snap);
        return r;
    }
    files_limit(&opt->srv);
    if ((r = server_new(&opt->srv, &g->srv, &errs)) < 0) {
        diag_log(&errs, LOG_LEVEL_ERR);
        snapshot_free(snap);
        return r;
    }
    server_on_free(g->srv, snapshot_gone, g);
    if (opt->n_http != 0 &&
        (r = http_new(g->loop, opt->http, opt->n_http, http_handle, g, &g->http, &errs)) < 0) {
        diag_log(&errs, LOG_LEVEL_ERR);
        snapshot_free(snap);
        server_free(g->srv);
        return r;
    }
    if ((r = serve_control(g, &ctl_cfg)) < 0) {
        http_stop(g);
        control_stop(g);
        snapshot_free(snap);
        server_free(g->srv);
        return r;
    }
    if (g->ctl != NULL) {
        healthdb_check_files(g->health);            /* as the user it will save them as */
        healthdb_begin(g->health, uv_now(g->loop)); /* wait for the healthd heard from before */
    }
    stats_track(g->stats, snap);
    if ((r = server_start(g->srv, g->loop, snap)) < 0) { /* snap is the server's now */
        log_err("cannot start worker threads: %s", gslb_strerror(r));
        http_stop(g);
        control_stop(g);
        server_free(g->srv);
        return r;
    }
    return 0;
}

/* After each turn of the main loop, where health reports, overrides, the
 * staleness timer and reloads all happen: if any changed the health
 * generation or the snapshot, log the services that started or stopped
 * failing. One atomic load when nothing did; never on the query path. */
static void svc_check(uv_check_t *h)
{
    gslbd_t *g = h->data;

    svcwatch_poll(g->svcw, server_snapshot(g->srv),
                  atomic_load_explicit(healthdb_gen(g->health), memory_order_acquire),
                  uv_now(g->loop));
}

static int serve(options_t *opt, zoneset_t *zs, geo_db_t *db, healthdb_t *health, snapshot_t *snap,
                 status_t *status)
{
    gslbd_t g = {.opt = opt,
                 .zs = zs,
                 .db = db,
                 .health = health,
                 .loop = uv_default_loop(),
                 .status = status};

    g.stats = stats_new(uv_now(g.loop));
    if (serve_open(&g, snap) < 0) {
        uv_loop_close(g.loop);
        geo_db_free(g.db);
        stats_free(g.stats);
        return 1;
    }
    uv_timer_init(g.loop, &g.stats_tick);
    g.stats_tick.data = &g;
    uv_timer_start(&g.stats_tick, stats_tick, STATS_SAMPLE_MS, STATS_SAMPLE_MS);
    zoneset_attach_later(zs);
    reloader_init(g.loop, &g.reloader, &reload_ops, &g);
    signals_start(g.loop, &g.signals, "reloading every zone file", reload_all, &g);
    watch_start(g.loop, &g.zones_watch, opt->zones, reload_zones, &g);
    if (db != NULL) {
        watch_start(g.loop, &g.db_watch, db->path, reload_db, &g);
    }
    g.svcw = svcwatch_new();
    uv_check_init(g.loop, &g.svc_check);
    g.svc_check.data = &g;
    uv_check_start(&g.svc_check, svc_check);
    uv_unref((uv_handle_t *)&g.svc_check);
    svc_check(&g.svc_check); /* a service that fails from the start is said now */
    announce(&g);
    uv_run(g.loop, UV_RUN_DEFAULT);

    /* Requests that came in meanwhile get their answer, /healthz a 503;
     * then the listener closes first, so probes fail at once. */
    g.stopping = true;
    uv_run(g.loop, UV_RUN_NOWAIT);
    http_stop(&g);
    reloader_stop(&g.reloader); /* the loader thread uses zs, db and the server's snapshots */
    log_rrl_total(g.srv);
    server_free(g.srv);
    control_close(g.ctl);
    listener_stop(g.loop); /* a paused control socket */
    watch_stop(&g.zones_watch);
    watch_stop(&g.db_watch);
    signals_stop(&g.signals);
    uv_close((uv_handle_t *)&g.svc_check, NULL);
    uv_close((uv_handle_t *)&g.stats_tick, NULL);
    uv_run(g.loop, UV_RUN_DEFAULT);
    uv_loop_close(g.loop);
    svcwatch_free(g.svcw);
    control_free(g.ctl);
    geo_db_free(g.db);
    stats_free(g.stats); /* after server_free(): freeing snapshots folds their counts */
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    options_t opt = {0};
    snapshot_t *snap;
    geo_db_t *db;
    int rc;

    /* One malloc arena for every thread. Reloads build the new snapshot on
     * the loader thread; with glibc's default arena per thread, what the
     * main thread freed (the start-up load's scratch, the old snapshot) was
     * never reused there, and the 100,000-name zone's reload peaked at
     * 420 MiB instead of 288. Answering allocates nothing, so no thread
     * waits on the shared arena's lock where it matters. */
    mallopt(M_ARENA_MAX, 1);
    /* Blocks of 128 KiB and more always get their own mapping, returned when
     * freed. glibc otherwise raises that threshold each time such a block is
     * freed, up to 32 MiB, and the GeoIP loader's tables (tens of MB, grown
     * and freed) then left blocks of that size resident in the heap for
     * good: 2 MB more after loading the city database. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    log_init("gslbd", LOG_LEVEL_INFO);
    /* A client that resets its TCP or control connection while we write must
     * cost an EPIPE on that connection, not the process (libuv leaves SIGPIPE
     * to the application). */
    signal(SIGPIPE, SIG_IGN);
    if (parse_options(argc, argv, &opt) < 0) {
        free(opt.srv.listen);
        free(opt.control_listen);
        return 2;
    }
    log_init("gslbd", opt.level);
    /* --check and --explain are command-line tools: their output stays plain. */
    if (!opt.check && opt.explain == NULL) {
        log_open(opt.syslog);
    }
    if (geoip_open(opt.geoip, &db) < 0) {
        free(opt.srv.listen);
        free(opt.control_listen);
        return 1;
    }
    char overrides[4096], sources[4200];
    if (opt.control != NULL && opt.overrides == NULL) {
        snprintf(overrides, sizeof(overrides), "%s.overrides", opt.control);
        opt.overrides = overrides;
    }
    snprintf(sources, sizeof(sources), "%s.sources", opt.overrides ? opt.overrides : "");
    /* --check and --explain read no overrides: they are the running gslbd's
     * business, and --explain says it ignores them. */
    bool serving = !opt.check && opt.explain == NULL;
    healthdb_t *health = healthdb_new(opt.control == NULL || !serving
                                          ? NULL
                                          : &(healthdb_config_t){.overrides_file = opt.overrides,
                                                                 .sources_file = sources,
                                                                 .sync_wait_ms = opt.sync_wait_ms});
    zoneset_t *zs = zoneset_new(opt.zones, health);
    zoneset_report_t rep;
    diag_t errs = {0};
    if (serving) {
        zoneset_count_sets(zs, server_count_sets(&opt.srv));
    }
    int r = zoneset_load_report(zs, db, true, true, &snap, &errs, &rep);
    diag_log(&errs, LOG_LEVEL_ERR);
    if (r < 0) {
        log_err("%s: not loaded", opt.zones);
        zoneset_report_clear(&rep);
        zoneset_free(zs);
        healthdb_free(health);
        geo_db_free(db);
        free(opt.srv.listen);
        free(opt.control_listen);
        return 1;
    }
    status_t *status = status_new();
    status_reloaded(status, &rep, wall_ms());
    zoneset_report_clear(&rep);
    if (opt.check || opt.explain) {
        rc = 0;
        if (opt.explain) {
            char why[256];
            explain_env_t env = {.snap = snap, .db = db, .live = false};
            rc = explain_run(&env, opt.explain, opt.explain_name, opt.explain_type, stdout, why,
                             sizeof(why)) < 0;
            if (rc != 0) {
                log_err("--explain: %s", why);
            }
        } else {
            char desc[512];
            zoneset_describe(zs, desc, sizeof(desc));
            printf("%s: OK: %s\n", opt.zones, desc);
        }
        snapshot_free(snap);
        geo_db_free(db);
    } else {
        rc = serve(&opt, zs, db, health, snap, status);
    }
    status_free(status);
    zoneset_free(zs);
    healthdb_free(health);
    listener_free();
    free(opt.srv.listen);
    free(opt.control_listen);
    return rc;
}
