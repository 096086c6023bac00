/*
 * healthd: the health checker of gslb.
 *
 * This file is the command line and the main loop: it loads the zones,
 * turns every pool member of a region with a check into a target, probes
 * them (probe.c) and reports their states to one or more gslbd (report.c):
 * through their local control sockets, or over TCP to their network
 * channel as a named vantage, every line signed with the vantage's key.
 * Regions with a `load:` have their balancer's load figure read (load.c)
 * and reported too, to a gslbd that takes it. With --vantage NAME it also
 * probes the canaries the zones declare for NAME (vantage.c) and reports
 * their verdict, CANARY, to a gslbd that takes it. SIGHUP and zone-file
 * changes reload the targets and canaries (a failed load keeps the old
 * ones); SIGTERM and SIGINT stop cleanly. With --http it serves /metrics
 * (metrics.c, daemon/procstat.h) and /healthz on its loop (daemon/http.h).
 * It answers no DNS and decides nothing about answers: gslbd does.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <curl/curl.h>
#include <uv.h>

#include "common/ctl.h"
#include "common/alloc.h"
#include "common/ctlauth.h"
#include "common/errcode.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "common/prom.h"
#include "common/version.h"
#include "daemon/http.h"
#include "daemon/notify.h"
#include "daemon/procstat.h"
#include "daemon/reloader.h"
#include "daemon/signals.h"
#include "daemon/watch.h"
#include "healthd/load.h"
#include "healthd/metrics.h"
#include "healthd/probe.h"
#include "healthd/report.h"
#include "healthd/target.h"
#include "healthd/vantage.h"
#include "zones/load.h"

/* One --gslbd: a socket path, or HOST:PORT and its address. */
typedef struct {
    const char *name;
    bool tcp;
    struct sockaddr_storage addr;
} gslbd_opt_t;

typedef struct {
    const char *zones;
    gslbd_opt_t *gslbd;
    size_t n_gslbd, n_tcp;
    const char *vantage;  /* --vantage */
    const char *key_file; /* --key */
    ctlauth_keys_t keys;  /* read from key_file at start */
    log_level_t level;
    bool syslog;                       /* --syslog */
    const char *http[HTTP_MAX_LISTEN]; /* --http ADDR:PORT */
    size_t n_http;
} options_t;

/* Long options without a short form. */
enum { OPT_SYSLOG = 256, OPT_HTTP, OPT_VANTAGE, OPT_KEY };

/* A reload's result, from the loader thread to the main loop. */
typedef struct {
    diag_t errs;
    int rc;
    target_t *targets;
    size_t n, n_zones;
    load_region_t *loads;
    size_t n_loads;
    target_t *canaries; /* of --vantage (none without it) */
    size_t n_canaries;
} reload_job_t;

/* Reloads load and build targets on the loader thread (reloader.h), which
 * touches nothing of the main loop's (the path only); the prober takes the
 * new targets on the main loop. */
typedef struct {
    options_t *opt;
    uv_loop_t *loop;
    prober_t *prober;
    loader_t *loader;
    vantage_t *vantage; /* --vantage, or NULL */
    report_t **reports;
    size_t n_zones;
    signals_t signals;
    watch_t watch;
    reloader_t reloader;
    reload_job_t job;
    http_t *http;  /* --http, or NULL */
    bool stopping; /* SIGTERM: /healthz says 503 */
} healthd_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: healthd --zones PATH --gslbd PATH|HOST:PORT [--gslbd ...] [options]\n"
            "\n"
            "Health checker of gslb: probes the pool members of every region with a check\n"
            "and reports their states to gslbd's control socket, or over the network.\n"
            "\n"
            "  -z, --zones PATH   zone YAML file, or a directory of *.yaml files (one zone each)\n"
            "  -g, --gslbd PATH   gslbd control socket to report to; repeatable\n"
            "  -g, --gslbd HOST:PORT\n"
            "                     a gslbd's --control-listen to report to over TCP, as\n"
            "                     --vantage, every line signed with its --key; a numeric\n"
            "                     address, IPv6 as [2001:db8::1]:5380; repeatable, and\n"
            "                     mixable with socket paths\n"
            "      --vantage NAME this healthd's name for gslbd (required with HOST:PORT);\n"
            "                     it probes the canaries the zones' vantages.NAME list, and\n"
            "                     while more than half are down gslbd counts none of its votes\n"
            "      --key FILE     the keys file holding a line for --vantage ('gslbctl keygen\n"
            "                     NAME' writes one); not readable by others\n"
            "      --http ADDR:PORT\n"
            "                     serve /metrics (Prometheus) and /healthz over HTTP here;\n"
            "                     read-only; repeatable (IPv6 as [::1]:9154); keep it on\n"
            "                     loopback or a private network\n"
            "  -v, --verbose      log debug messages (every failed probe)\n"
            "  -q, --quiet        log warnings and errors only\n"
            "      --syslog       log through syslog(3) (daemon facility) instead of stderr;\n"
            "                     on stderr lines carry a UTC time, or under systemd's\n"
            "                     journal a priority prefix\n"
            "  -V, --version      print the version and exit\n"
            "  -h, --help         print this help and exit\n"
            "\n"
            "A member turns up after `rise` passing probes in a row and down after `fall`\n"
            "failing ones. Failure reasons: refused, timeout, TLS error: ..., status N (a\n"
            "3xx is not followed: list it in `expect` to accept it), body mismatch (only\n"
            "the first 64 KiB of a body is read),\n"
            "DNS/connect error: ..., HTTP error: ...\n"
            "\n"
            "Regions with a `load:` have their balancer's page read every load.interval;\n"
            "each figure over its capacity goes to every gslbd of protocol version 3 or\n"
            "later as a LOAD line (unknown, with the reason, when the read failed).\n"
            "\n"
            "Signals: SIGHUP reloads the zones; SIGTERM and SIGINT stop. Zone files are also\n"
            "reloaded when they change on disk; a zone set that fails to load is reported as\n"
            "file:line:column and the previous targets keep being probed.\n");
}

/* Whether --gslbd `text` names an address (HOST:PORT) rather than a
 * socket path, and which: a path has a '/' or no ':'; anything else must
 * be a numeric address and a port of 1 to 65535. */
static int gslbd_address(const char *text, gslbd_opt_t *g)
{
    const char *colon = strrchr(text, ':');

    if (strchr(text, '/') != NULL || colon == NULL) {
        return 0;
    }
    if (netaddr_parse(text, &g->addr, NULL) != NETADDR_OK ||
        (g->addr.ss_family == AF_INET ? ((struct sockaddr_in *)&g->addr)->sin_port
                                      : ((struct sockaddr_in6 *)&g->addr)->sin6_port) == 0) {
        log_err("--gslbd '%s': neither a socket path (one with a '/') nor a numeric "
                "ADDRESS:PORT with a port of 1 to 65535 (IPv6 as [2001:db8::1]:5380)",
                text);
        return -EINVAL;
    }
    g->tcp = true;
    return 0;
}

/* One more --gslbd: a Unix socket path, which must fit a socket address, or
 * HOST:PORT. */
static int add_gslbd(options_t *o, const char *text)
{
    size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path);
    gslbd_opt_t g = {.name = text};

    if (gslbd_address(text, &g) < 0) {
        return -EINVAL;
    }
    if (!g.tcp && strlen(text) >= max) {
        log_err("--gslbd '%s': a Unix socket path must be shorter than %zu bytes", text, max);
        return -EINVAL;
    }
    o->gslbd = xreallocarray(o->gslbd, o->n_gslbd + 1, sizeof(*o->gslbd));
    o->gslbd[o->n_gslbd++] = g;
    o->n_tcp += g.tcp;
    return 0;
}

/* The network's needs: a vantage and its key, read now so that a missing or
 * exposed key stops healthd at start rather than at every connection. */
static int load_key(options_t *o)
{
    diag_t errs = {0};
    int r;

    if (o->n_tcp == 0) {
        if (o->key_file != NULL) {
            log_warn("--key is for --gslbd HOST:PORT, and there is none: unused");
        }
        return 0;
    }
    if ((r = ctlauth_keys_load(o->key_file, &o->keys, &errs)) < 0) {
        diag_log(&errs, LOG_LEVEL_ERR);
        diag_clear(&errs);
        log_err("--key %s: not loaded", o->key_file);
        return r;
    }
    diag_clear(&errs);
    if (ctlauth_find(&o->keys, o->vantage) == NULL) {
        log_err("%s: no key for vantage '%s' (gslbctl keygen %s writes one)", o->key_file,
                o->vantage, o->vantage);
        return -EINVAL;
    }
    return 0;
}

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option longs[] = {
        {"zones", required_argument, NULL, 'z'},
        {"gslbd", required_argument, NULL, 'g'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"http", required_argument, NULL, OPT_HTTP},
        {"vantage", required_argument, NULL, OPT_VANTAGE},
        {"key", required_argument, NULL, OPT_KEY},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->level = LOG_LEVEL_INFO;
    while ((c = getopt_long(argc, argv, "z:g:vqVh", longs, NULL)) != -1) {
        switch (c) {
        case 'z':
            o->zones = optarg;
            break;
        case 'g':
            if (add_gslbd(o, optarg) < 0) {
                return -EINVAL;
            }
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
        case OPT_VANTAGE:
            o->vantage = optarg;
            break;
        case OPT_KEY:
            o->key_file = optarg;
            break;
        case 'V':
            printf("healthd %s (%s, libuv %s, libmicrohttpd %s)\n", gslb_version(), curl_version(),
                   uv_version_string(), http_library_version());
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        log_err("unexpected argument '%s' (see --help)", argv[optind]);
        return -EINVAL;
    }
    if (o->zones == NULL) {
        log_err("--zones PATH is required (see --help)");
        return -EINVAL;
    }
    if (o->n_gslbd == 0) {
        log_err("at least one --gslbd PATH or HOST:PORT is required (see --help)");
        return -EINVAL;
    }
    if (o->n_tcp > 0 && (o->vantage == NULL || o->key_file == NULL)) {
        log_err("--gslbd HOST:PORT needs --vantage NAME and --key FILE (see --help)");
        return -EINVAL;
    }
    if (o->vantage != NULL && !ctl_name_ok(o->vantage)) {
        log_err("--vantage '%s': a vantage name is 1 to %d letters, digits, '-', '_' and '.'",
                o->vantage, CTL_NAME_MAX);
        return -EINVAL;
    }
    return 0;
}

/* Load the zones and build the targets, load regions and canaries of
 * `vantage` (may be NULL) of j from them, the errors in j->errs. On failure
 * nothing is returned. Any thread. */
static int load_targets(const char *path, const char *vantage, reload_job_t *j)
{
    zone_t **zones;
    size_t nz;

    int r = zone_load_path(path, NULL, 0, &zones, &nz, &j->errs);

    if (r < 0) {
        return r;
    }
    if ((r = target_build(zones, nz, &j->targets, &j->n)) < 0) {
        zone_set_free(zones, nz);
        return r;
    }
    if ((r = load_build(zones, nz, &j->loads, &j->n_loads)) < 0) {
        target_free_all(j->targets, j->n);
        zone_set_free(zones, nz);
        return r;
    }
    if ((r = target_build_canaries(zones, nz, vantage, &j->canaries, &j->n_canaries)) < 0) {
        load_free_all(j->loads, j->n_loads);
        target_free_all(j->targets, j->n);
        zone_set_free(zones, nz);
        return r;
    }
    zone_set_free(zones, nz);
    j->n_zones = nz;
    return 0;
}

/* ------------------------------------------------------------ reporting */

static void on_change(void *arg, const target_t *t, health_state_t state, const char *reason)
{
    healthd_t *h = arg;
    char line[CTL_LINE_MAX + 2];
    int n = target_member_line(t, state, reason, line, sizeof(line));

    if (n < 0) {
        log_err("%s: cannot report its state: %s", t->label, gslb_strerror(n));
        return;
    }
    for (size_t i = 0; i < h->opt->n_gslbd; i++) {
        report_send(h->reports[i], line, (size_t)n);
    }
}

static void dump_one(void *arg, const target_t *t, health_state_t state, const char *reason)
{
    char line[CTL_LINE_MAX + 2];
    int n = target_member_line(t, state, reason, line, sizeof(line));

    if (n > 0) {
        report_buf_add(arg, line, (size_t)n);
    }
}

/* A region's latest load figure, to every gslbd that takes LOAD (the
 * others would answer ERR). */
static void on_load(void *arg, const load_region_t *r)
{
    healthd_t *h = arg;
    char line[CTL_LINE_MAX + 2];
    int n = load_line(r, line, sizeof(line));

    if (n < 0) {
        log_err("%s: cannot report its load: %s", r->label, gslb_strerror(n));
        return;
    }
    for (size_t i = 0; h->reports != NULL && i < h->opt->n_gslbd; i++) {
        report_send_load(h->reports[i], line, (size_t)n);
    }
}

static void dump_load(void *arg, const load_region_t *r)
{
    char line[CTL_LINE_MAX + 2];
    int n = r->read ? load_line(r, line, sizeof(line)) : -EINVAL;

    if (n > 0) {
        report_buf_add(arg, line, (size_t)n);
    }
}

/* The vantage's canary verdict changed: to every gslbd that takes CANARY. */
static void on_canary(void *arg, const vantage_t *v)
{
    healthd_t *h = arg;
    char line[CTL_LINE_MAX + 2];
    int n = vantage_line(v, line, sizeof(line));

    if (n < 0) {
        log_err("vantage %s: cannot report its canaries: %s", vantage_name(v), gslb_strerror(n));
        return;
    }
    for (size_t i = 0; h->reports != NULL && i < h->opt->n_gslbd; i++) {
        report_send_canary(h->reports[i], line, (size_t)n);
    }
}

/* The canary verdict comes first in a full state: gslbd then knows whether
 * to count the member states that follow before it counts them. */
static void dump_canary(healthd_t *h, report_buf_t *b)
{
    char line[CTL_LINE_MAX + 2];
    int n;

    if (h->vantage != NULL && vantage_count(h->vantage) > 0 &&
        (n = vantage_line(h->vantage, line, sizeof(line))) > 0) {
        report_buf_add(b, line, (size_t)n);
    }
}

static size_t dump_all(void *arg, report_buf_t *b, unsigned version, unsigned *interval_ms)
{
    healthd_t *h = arg;
    size_t members = 0, from;

    if (version >= REPORT_CANARY_VERSION) {
        dump_canary(h, b);
    }
    from = b->len;
    prober_each(h->prober, dump_one, b);
    for (size_t i = from; i < b->len; i++) {
        members += b->s[i] == '\n';
    }
    if (version >= REPORT_LOAD_VERSION) {
        loader_each(h->loader, dump_load, b);
    }
    *interval_ms = prober_min_interval(h->prober);
    return members;
}

/* ------------------------------------------------------------ reloads */

/* Loader thread. */
static void reload_work(void *arg, unsigned what)
{
    healthd_t *h = arg;
    reload_job_t *j = &h->job;

    (void)what;
    *j = (reload_job_t){0};
    j->rc = load_targets(h->opt->zones, h->opt->vantage, j);
}

/* Main loop, before the loader thread starts. */
static void reload_begin(void *arg, unsigned what)
{
    (void)arg;
    (void)what;
    notify_reloading();
}

/* The PING cadence follows the shortest stale_after of the targets. */
static void heartbeat(healthd_t *h)
{
    unsigned stale = prober_min_stale(h->prober);

    for (size_t i = 0; h->reports != NULL && i < h->opt->n_gslbd; i++) {
        report_set_heartbeat(h->reports[i], stale);
    }
}

/* Probe the canaries of j (taken), if healthd runs as a vantage; say what
 * changed on a reload. */
static void set_canaries(healthd_t *h, reload_job_t *j, bool reload)
{
    prober_diff_t d;

    if (h->vantage == NULL) {
        target_free_all(j->canaries, j->n_canaries);
        return;
    }
    vantage_set(h->vantage, j->canaries, j->n_canaries, &d);
    if (j->n_canaries == 0 && (!reload || d.removed > 0)) {
        log_info("vantage %s: no canaries in the zones (vantages.%s.canary): it never abstains",
                 vantage_name(h->vantage), vantage_name(h->vantage));
    } else if (!reload || d.added > 0 || d.removed > 0) {
        log_info("vantage %s: probing %zu canaries (%zu added, %zu removed, %zu kept)",
                 vantage_name(h->vantage), j->n_canaries, d.added, d.removed, d.kept);
    }
}

/* Main loop: probe the new targets. */
static void reload_done(void *arg, unsigned what, bool stopping)
{
    healthd_t *h = arg;
    reload_job_t *j = &h->job;
    prober_diff_t d;

    (void)what;
    if (stopping) {
        diag_clear(&j->errs);
        if (j->rc == 0) {
            target_free_all(j->targets, j->n);
            load_free_all(j->loads, j->n_loads);
            target_free_all(j->canaries, j->n_canaries);
        }
        return;
    }
    diag_log(&j->errs, LOG_LEVEL_ERR);
    if (j->rc < 0) {
        log_err("reload failed: still probing the previous %zu targets", prober_count(h->prober));
        notify_ready("probing %zu targets in %zu zones (the last reload failed)",
                     prober_count(h->prober), h->n_zones);
        return;
    }
    prober_set(h->prober, j->targets, j->n, &d);
    loader_set(h->loader, j->loads, j->n_loads);
    set_canaries(h, j, true);
    h->n_zones = j->n_zones;
    heartbeat(h);
    log_info("reloaded: probing %zu targets in %zu zones (%zu added, %zu removed, %zu kept)", j->n,
             j->n_zones, d.added, d.removed, d.kept);
    if (j->n_loads > 0) {
        log_info("reading the load of %zu regions from %zu pages", loader_regions(h->loader),
                 loader_pages(h->loader));
    }
    notify_ready("probing %zu targets in %zu zones", j->n, j->n_zones);
}

static const reloader_ops_t reload_ops = {reload_begin, reload_work, reload_done};

static void reload_fire(void *arg)
{
    reloader_request(&((healthd_t *)arg)->reloader, 1);
}

/* ------------------------------------------------------------ --http */

/* Whether healthd is probing (targets loaded, not stopping); else why not. */
static const char *not_ready(const healthd_t *h)
{
    if (h->stopping) {
        return "stopping";
    }
    if (h->prober == NULL) {
        return "no zone loaded";
    }
    return NULL;
}

static void write_metrics(healthd_t *h, FILE *out)
{
    prom_t p;

    /* Only this thread writes the stream: spare stdio a lock per character
     * (with 10,000 targets the page has 20,000 series). */
    __fsetlocking(out, FSETLOCKING_BYCALLER);
    prom_init(&p, out);
    prom_family(&p, "gslb_build_info", PROM_GAUGE, "healthd's version, always 1.");
    prom_u64(&p, "gslb_build_info", 1, "version", gslb_version(), "daemon", "healthd", NULL);
    prom_family(&p, "gslb_up", PROM_GAUGE,
                "1 while healthd probes (targets loaded, not stopping), else 0: what /healthz "
                "says.");
    prom_u64(&p, "gslb_up", not_ready(h) == NULL, NULL);
    if (h->prober != NULL) {
        hmetrics_write(&p, h->prober, h->loader, h->vantage, h->reports, h->opt->n_gslbd);
    }
    procstat_write(&p);
}

/* Every path is read-only. */
static void http_handle(void *arg, const char *path, http_reply_t *r)
{
    healthd_t *h = arg;
    FILE *out;

    if (strcmp(path, "/metrics") == 0) {
        if ((out = http_body(r, "text/plain; version=0.0.4; charset=utf-8")) != NULL) {
            write_metrics(h, out);
        }
    } else if (strcmp(path, "/healthz") == 0) {
        http_reply_healthz(r, not_ready(h));
    } else if (strcmp(path, "/") == 0) {
        if ((out = http_body(r, "text/plain; charset=utf-8")) != NULL) {
            fprintf(out,
                    "healthd %s\n/metrics   Prometheus metrics\n"
                    "/healthz   200 while probing, else 503\n",
                    gslb_version());
        }
    } else {
        http_reply_not_found(r, path);
    }
}

/* Close the HTTP listener, if open, and free it. */
static void http_stop(healthd_t *h)
{
    http_free(h->http);
    h->http = NULL;
}

/* ------------------------------------------------------------ main loop */

static int start(healthd_t *h, reload_job_t *j)
{
    target_t *t = j->targets;
    size_t n = j->n;
    diag_t errs = {0};
    int r;

    /* Before anything is probed: an address that cannot be bound stops
     * healthd at once, as a taken port would in a unit's restart loop. */
    if (h->opt->n_http != 0 && (r = http_new(h->loop, h->opt->http, h->opt->n_http, http_handle, h,
                                             &h->http, &errs)) < 0) {
        diag_log(&errs, LOG_LEVEL_ERR);
        target_free_all(t, n);
        load_free_all(j->loads, j->n_loads);
        target_free_all(j->canaries, j->n_canaries);
        return r;
    }
    if ((r = prober_new(h->loop, on_change, h, &h->prober)) < 0 ||
        (r = loader_new(h->loop, on_load, h, &h->loader)) < 0 ||
        (h->opt->vantage != NULL &&
         (r = vantage_new(h->loop, h->opt->vantage, on_canary, h, &h->vantage)) < 0)) {
        log_err("cannot start probing: %s", gslb_strerror(r));
        target_free_all(t, n);
        load_free_all(j->loads, j->n_loads);
        target_free_all(j->canaries, j->n_canaries);
        return r;
    }
    prober_set(h->prober, t, n, NULL);
    loader_set(h->loader, j->loads, j->n_loads);
    set_canaries(h, j, false);
    if (j->n_loads > 0) {
        log_info("reading the load of %zu regions from %zu pages", loader_regions(h->loader),
                 loader_pages(h->loader));
    }
    h->reports = xcalloc(h->opt->n_gslbd, sizeof(*h->reports));
    for (size_t i = 0; i < h->opt->n_gslbd; i++) {
        const gslbd_opt_t *g = &h->opt->gslbd[i];
        /* The vantage goes in every HELLO: a local gslbd files our reports
         * under it too. */
        report_peer_t peer = {.name = g->name, .vantage = h->opt->vantage};
        if (g->tcp) {
            peer.tcp = (const struct sockaddr *)&g->addr;
            peer.key = ctlauth_find(&h->opt->keys, h->opt->vantage);
        }
        if ((r = report_new(h->loop, &peer, dump_all, h, &h->reports[i])) < 0) {
            log_err("--gslbd %s: %s", g->name, gslb_strerror(r));
            return r;
        }
    }
    heartbeat(h);
    return 0;
}

static void stop(healthd_t *h)
{
    http_stop(h);
    for (size_t i = 0; h->reports != NULL && i < h->opt->n_gslbd; i++) {
        report_free(h->reports[i]);
    }
    free(h->reports);
    loader_free(h->loader);
    vantage_free(h->vantage);
    prober_free(h->prober);
    watch_stop(&h->watch);
}

static int serve(options_t *opt, reload_job_t *first)
{
    healthd_t h = {.opt = opt, .loop = uv_default_loop(), .n_zones = first->n_zones};
    size_t n = first->n, n_zones = first->n_zones;
    int rc = 0;

    reloader_init(h.loop, &h.reloader, &reload_ops, &h);
    signals_start(h.loop, &h.signals, "reloading the zones", reload_fire, &h);
    if (start(&h, first) < 0) {
        rc = 1;
    } else {
        watch_start(h.loop, &h.watch, opt->zones, reload_fire, &h);
        log_info("ready: probing %zu targets in %zu zones, reporting to %zu gslbd", n, n_zones,
                 opt->n_gslbd);
        notify_ready("probing %zu targets in %zu zones, reporting to %zu gslbd", n, n_zones,
                     opt->n_gslbd);
        uv_run(h.loop, UV_RUN_DEFAULT);
        /* Requests that came in meanwhile get their answer, /healthz a 503;
         * then the listener closes first. */
        h.stopping = true;
        uv_run(h.loop, UV_RUN_NOWAIT);
    }
    http_stop(&h);
    reloader_stop(&h.reloader);
    stop(&h);
    signals_stop(&h.signals);
    uv_run(h.loop, UV_RUN_DEFAULT);
    uv_loop_close(h.loop);
    if (rc == 0) {
        log_info("stopped");
    }
    return rc;
}

int main(int argc, char **argv)
{
    options_t opt = {0};
    reload_job_t first = {0};
    int rc;

    log_init("healthd", LOG_LEVEL_INFO);
    if (parse_options(argc, argv, &opt) < 0) {
        free(opt.gslbd);
        return 2;
    }
    log_init("healthd", opt.level);
    log_open(opt.syslog);
    if (load_key(&opt) < 0) {
        ctlauth_keys_free(&opt.keys);
        free(opt.gslbd);
        return 1;
    }
    /* A gslbd or backend that closes first must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_err("cannot initialise libcurl");
        ctlauth_keys_free(&opt.keys);
        free(opt.gslbd);
        return 1;
    }
    int r = load_targets(opt.zones, opt.vantage, &first);
    diag_log(&first.errs, LOG_LEVEL_ERR);
    if (r < 0) {
        log_err("%s: not loaded", opt.zones);
        rc = 1;
    } else {
        rc = serve(&opt, &first);
    }
    curl_global_cleanup();
    ctlauth_keys_free(&opt.keys);
    free(opt.gslbd);
    return rc;
}
