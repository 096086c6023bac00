/*
 * load: fetching load pages and keeping each region's latest figure; see
 * load.h.
 *
 * A page (lpage_t) is one URL: its timer, its easy handle (made once,
 * reused), the body of the read in flight, and the regions that read it
 * (indices into the loader's array, rebuilt on every loader_set()). A page
 * lives until a reload no longer names its URL, or the loader is freed;
 * then its transfer is aborted and it is freed once its timer has closed.
 *
 * Connections are not kept between reads: an idle connection of ours would
 * sit on the balancer and count in its own figure (nginx's "Active
 * connections" counts every open one) between reads.
 */
#include "healthd/load.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/alloc.h"
#include "common/ctl.h"
#include "healthd/curluv.h"
#include "healthd/lparse.h"
#include "healthd/target.h"

#define LOAD_USER_AGENT "gslb-healthd/0.1"
#define LOAD_KEEP_BUF   (256u << 10) /* a larger body buffer is freed after its read */
#define LOAD_UTIL_MAX   1e15         /* the most a LOAD line carries (common/ctl.c) */

#ifndef CURL_WRITEFUNC_ERROR /* libcurl before 7.87 */
#define CURL_WRITEFUNC_ERROR 0xFFFFFFFF
#endif

typedef struct lpage {
    loader_t *owner;
    char *url;
    unsigned interval_ms, timeout_ms; /* the shortest of its regions' */
    uv_timer_t tick;
    bool started; /* the timer runs */
    bool running; /* a read is in flight */
    bool kept;    /* loader_set(): named by the new regions */
    CURL *easy;
    struct curl_slist *headers;
    curluv_job_t job;
    char *body; /* the page read so far */
    size_t len, cap;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
    size_t *regions; /* indices into owner->r */
    size_t n_regions, cap_regions;
} lpage_t;

struct loader {
    uv_loop_t *loop;
    curluv_t *cu;
    loader_fn done;
    void *arg;
    load_region_t *r;
    size_t n;
    lpage_t **pages;
    size_t n_pages;
};

/* ------------------------------------------------------------ regions */

static void load_copy(load_region_t *r, const zone_region_t *zr, const char *zname)
{
    size_t len = strlen(zname) + strlen(zr->name) + 2;

    memset(r, 0, sizeof(*r));
    r->zone = xstrdup(zname);
    r->region = xstrdup(zr->name);
    r->label = xmalloc(len);
    snprintf(r->label, len, "%s %s", zname, zr->name);
    r->load = zr->load;
    r->load.url = xstrdup_opt(zr->load.url);
    r->load.backend = xstrdup_opt(zr->load.backend);
    r->load.frontend = xstrdup_opt(zr->load.frontend);
    r->load.metric = xstrdup_opt(zr->load.metric);
}

int load_build(zone_t *const *zones, size_t n_zones, load_region_t **out, size_t *n_out)
{
    size_t n = 0, k = 0;
    load_region_t *r;

    for (size_t i = 0; i < n_zones; i++) {
        for (size_t j = 0; j < zones[i]->n_regions; j++) {
            n += zones[i]->regions[j].load.given;
        }
    }
    r = xcalloc(n ? n : 1, sizeof(*r));
    for (size_t i = 0; i < n_zones; i++) {
        char *zname = target_zone_name(zones[i]);

        for (size_t j = 0; j < zones[i]->n_regions; j++) {
            if (zones[i]->regions[j].load.given) {
                load_copy(&r[k++], &zones[i]->regions[j], zname);
            }
        }
        free(zname);
    }
    *out = r;
    *n_out = k;
    return 0;
}

static void load_clear(load_region_t *r)
{
    free(r->zone);
    free(r->region);
    free(r->label);
    free(r->load.url);
    free(r->load.backend);
    free(r->load.frontend);
    free(r->load.metric);
}

void load_free_all(load_region_t *r, size_t n)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        load_clear(&r[i]);
    }
    free(r);
}

double load_utilisation(const load_region_t *r)
{
    return r->figure / r->load.capacity;
}

int load_line(const load_region_t *r, char *out, size_t size)
{
    if (!r->read) {
        return -EINVAL;
    }
    return ctl_format(&(ctl_msg_t){.verb = CTL_LOAD,
                                   .zone = r->zone,
                                   .region = r->region,
                                   .util_known = r->known,
                                   .util = r->known ? load_utilisation(r) : 0,
                                   .figure = r->known ? r->figure : NAN,
                                   .capacity = r->load.capacity,
                                   .text = r->known ? NULL : r->reason},
                      out, size);
}

static bool load_str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether two regions read the same figure: same page, same way. */
static bool load_same_reading(const zone_load_t *a, const zone_load_t *b)
{
    return a->source == b->source && load_str_eq(a->url, b->url) &&
           load_str_eq(a->backend, b->backend) && load_str_eq(a->frontend, b->frontend) &&
           load_str_eq(a->metric, b->metric);
}

/* The outcome of one read of a region: counted, logged when it differs
 * from the one before, handed to the owner. */
static void load_note(loader_t *l, load_region_t *r, bool ok, double figure, const char *reason)
{
    bool same = r->read && r->known == ok && (ok || strcmp(r->reason, reason) == 0);
    bool was_read = r->read;

    r->read = true;
    r->known = ok;
    r->figure = ok ? figure : 0;
    snprintf(r->reason, sizeof(r->reason), "%s", ok ? "" : reason);
    *(ok ? &r->reads_ok : &r->reads_error) += 1;
    if (same) {
        log_debug("%s: load %s", r->label, ok ? "read" : reason);
    } else if (ok) {
        log_info("%s: load %g of capacity %g (utilisation %.2f)%s", r->label, figure,
                 r->load.capacity, load_utilisation(r), was_read ? ", read again" : "");
    } else {
        log_warn("%s: load unknown: %s", r->label, reason);
    }
    l->done(l->arg, r);
}

/* ------------------------------------------------------------ pages */

static void load_fmt_ms(unsigned ms, char *out, size_t size)
{
    if (ms % 1000 == 0) {
        snprintf(out, size, "%u s", ms / 1000);
    } else {
        snprintf(out, size, "%u ms", ms);
    }
}

/* Whether the read fetched a page worth parsing; if not, why, in out. */
static bool lpage_judge(lpage_t *p, CURLcode rc, char *out, size_t size)
{
    long status = 0, os_errno = 0;
    char t[32];

    curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno);
    if ((rc == CURLE_WRITE_ERROR && p->too_big) || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(out, size, "the page at %s is larger than %u MiB", p->url, LOAD_PAGE_MAX >> 20);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        load_fmt_ms(p->timeout_ms, t, sizeof(t));
        snprintf(out, size, "no answer from %s within %s", p->url, t);
    } else if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED) {
        snprintf(out, size, "connection refused by %s", p->url);
    } else if (rc != CURLE_OK) {
        /* curl_easy_strerror(), not the error buffer: the buffer holds
         * times ("after 3 ms") that would make every failure a new one. */
        snprintf(out, size, "cannot read %s: %s%s%s", p->url, curl_easy_strerror(rc),
                 os_errno ? ": " : "", os_errno ? strerror((int)os_errno) : "");
    } else {
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status <= 299) {
            return true;
        }
        snprintf(out, size, "HTTP %ld from %s", status, p->url);
    }
    return false;
}

/* Each region of the page finds its figure on it. */
static void lpage_parse(lpage_t *p, load_region_t *r)
{
    char why[LPARSE_WHY_MAX], reason[LOAD_REASON_MAX];
    double figure;

    if (lparse_page(&r->load, p->body ? p->body : "", p->len, &figure, why, sizeof(why)) < 0) {
        snprintf(reason, sizeof(reason), "%s (%s)", why, p->url);
        load_note(p->owner, r, false, 0, reason);
    } else if (!(figure / r->load.capacity < LOAD_UTIL_MAX)) {
        snprintf(reason, sizeof(reason), "figure %g over capacity %g is too large to report (%s)",
                 figure, r->load.capacity, p->url);
        load_note(p->owner, r, false, 0, reason);
    } else {
        load_note(p->owner, r, true, figure, NULL);
    }
}

static void lpage_done(curluv_job_t *job, CURLcode rc)
{
    lpage_t *p = (lpage_t *)((char *)job - offsetof(lpage_t, job));
    loader_t *l = p->owner;
    char reason[LOAD_REASON_MAX];
    bool fetched = lpage_judge(p, rc, reason, sizeof(reason));

    p->running = false;
    for (size_t i = 0; i < p->n_regions; i++) {
        if (fetched) {
            lpage_parse(p, &l->r[p->regions[i]]);
        } else {
            load_note(l, &l->r[p->regions[i]], false, 0, reason);
        }
    }
    if (p->cap > LOAD_KEEP_BUF) {
        free(p->body);
        p->body = NULL;
        p->cap = 0;
    }
}

/* Keep the body, up to LOAD_PAGE_MAX: beyond that the read fails. */
static size_t lpage_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    lpage_t *p = arg;
    size_t n = size * nmemb;

    if (n > LOAD_PAGE_MAX - p->len) {
        p->too_big = true;
        return CURL_WRITEFUNC_ERROR;
    }
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 16384;
        while (cap < p->len + n) {
            cap *= 2;
        }
        p->cap = cap < LOAD_PAGE_MAX ? cap : LOAD_PAGE_MAX;
        p->body = xreallocarray(p->body, p->cap, 1);
    }
    memcpy(p->body + p->len, data, n);
    p->len += n;
    return n;
}

static int lpage_setup(lpage_t *p)
{
    CURL *e;

    if (p->easy != NULL) {
        return 0;
    }
    if ((e = p->easy = curl_easy_init()) == NULL) {
        return -ENOMEM;
    }
    /* Prometheus servers that negotiate send the text format for this; the
     * others ignore it. */
    p->headers = curl_slist_append(NULL, "Accept: text/plain;version=0.0.4, */*;q=0.1");
    p->job.done = lpage_done;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never through http_proxy & co */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is an error: fix the URL */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_USERAGENT, LOAD_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* big stats CSV compress well */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)LOAD_PAGE_MAX);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, lpage_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
    return 0;
}

static void lpage_fail_all(lpage_t *p, const char *reason)
{
    for (size_t i = 0; i < p->n_regions; i++) {
        load_note(p->owner, &p->owner->r[p->regions[i]], false, 0, reason);
    }
}

static void lpage_start(lpage_t *p)
{
    if (lpage_setup(p) < 0) {
        lpage_fail_all(p, "internal error: cannot make a curl handle");
        return;
    }
    /* The URL is the page's identity; the times may change on a reload. */
    curl_easy_setopt(p->easy, CURLOPT_URL, p->url);
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(p->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
    p->errbuf[0] = '\0';
    p->len = 0;
    p->too_big = false;
    if (curluv_add(p->owner->cu, p->easy, &p->job) < 0) {
        lpage_fail_all(p, "internal error: curl refused the transfer");
        return;
    }
    p->running = true;
}

static void lpage_on_tick(uv_timer_t *h)
{
    lpage_t *p = h->data;

    if (p->running) {
        log_debug("%s: the previous read is still running, skipping this one", p->url);
        return;
    }
    lpage_start(p);
}

static lpage_t *lpage_new(loader_t *l, const char *url)
{
    lpage_t *p = xcalloc(1, sizeof(*p));

    p->owner = l;
    p->url = xstrdup(url);
    uv_timer_init(l->loop, &p->tick);
    p->tick.data = p;
    return p;
}

static void lpage_on_closed(uv_handle_t *h)
{
    lpage_t *p = h->data;

    free(p->body);
    free(p->regions);
    free(p->url);
    free(p);
}

/* Stop for good: abort the read, free once the timer has closed. */
static void lpage_kill(lpage_t *p)
{
    if (p->easy != NULL) {
        if (p->running) {
            curluv_remove(p->owner->cu, p->easy);
            p->running = false;
        }
        curl_easy_cleanup(p->easy);
        curl_slist_free_all(p->headers);
        p->easy = NULL;
    }
    uv_close((uv_handle_t *)&p->tick, lpage_on_closed);
}

static void lpage_add_region(lpage_t *p, size_t idx, const zone_load_t *ld)
{
    if (p->n_regions == p->cap_regions) {
        p->cap_regions = p->cap_regions ? p->cap_regions * 2 : 4;
        p->regions = xreallocarray(p->regions, p->cap_regions, sizeof(*p->regions));
    }
    if (p->n_regions == 0 || ld->interval_ms < p->interval_ms) {
        p->interval_ms = ld->interval_ms;
    }
    if (p->n_regions == 0 || ld->timeout_ms < p->timeout_ms) {
        p->timeout_ms = ld->timeout_ms;
    }
    p->regions[p->n_regions++] = idx;
}

/* ------------------------------------------------------------ the loader */

int loader_new(uv_loop_t *loop, loader_fn done, void *arg, loader_t **out)
{
    loader_t *l = calloc(1, sizeof(*l));
    int r;

    if (l == NULL) {
        return -ENOMEM;
    }
    if ((r = curluv_new(loop, &l->cu)) < 0) {
        free(l);
        return r;
    }
    l->loop = loop;
    l->done = done;
    l->arg = arg;
    *out = l;
    return 0;
}

/* What the new regions keep of the old ones of the same zone and name. */
static void loader_carry(const loader_t *l, load_region_t *r, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < l->n; i++) {
            const load_region_t *o = &l->r[i];

            if (strcmp(o->zone, r[j].zone) != 0 || strcmp(o->region, r[j].region) != 0) {
                continue;
            }
            r[j].reads_ok = o->reads_ok;
            r[j].reads_error = o->reads_error;
            if (load_same_reading(&o->load, &r[j].load)) {
                r[j].read = o->read;
                r[j].known = o->known;
                r[j].figure = o->figure;
                memcpy(r[j].reason, o->reason, sizeof(r[j].reason));
            }
            break;
        }
    }
}

/* The page reading `url`: one of the new set, else a running one taken
 * over, else a new one. */
static lpage_t *loader_page(loader_t *l, lpage_t **pages, size_t *np, const char *url)
{
    for (size_t i = 0; i < *np; i++) {
        if (strcmp(pages[i]->url, url) == 0) {
            return pages[i];
        }
    }
    lpage_t *p = NULL;
    for (size_t i = 0; i < l->n_pages && p == NULL; i++) {
        if (!l->pages[i]->kept && strcmp(l->pages[i]->url, url) == 0) {
            p = l->pages[i];
            p->kept = true;
        }
    }
    if (p == NULL) {
        p = lpage_new(l, url);
    }
    p->n_regions = 0;
    pages[(*np)++] = p;
    return p;
}

/* Start the timers of new pages, spread over their interval as first
 * probes are; a kept page whose interval changed takes the new one. */
static void loader_schedule(lpage_t **pages, size_t np)
{
    size_t added = 0, a = 0;

    for (size_t i = 0; i < np; i++) {
        added += !pages[i]->started;
    }
    for (size_t i = 0; i < np; i++) {
        lpage_t *p = pages[i];

        if (!p->started) {
            p->started = true;
            uv_timer_start(&p->tick, lpage_on_tick, target_offset(a++, added, p->interval_ms),
                           p->interval_ms);
        } else if (uv_timer_get_repeat(&p->tick) != p->interval_ms) {
            uint64_t due = uv_timer_get_due_in(&p->tick);
            uv_timer_start(&p->tick, lpage_on_tick, due < p->interval_ms ? due : p->interval_ms,
                           p->interval_ms);
        }
    }
}

void loader_set(loader_t *l, load_region_t *r, size_t n)
{
    lpage_t **pages = xcalloc(n + 1, sizeof(*pages));
    size_t np = 0;

    loader_carry(l, r, n);
    for (size_t i = 0; i < l->n_pages; i++) {
        l->pages[i]->kept = false;
    }
    for (size_t j = 0; j < n; j++) {
        lpage_add_region(loader_page(l, pages, &np, r[j].load.url), j, &r[j].load);
    }
    for (size_t i = 0; i < l->n_pages; i++) {
        if (!l->pages[i]->kept) {
            lpage_kill(l->pages[i]);
        }
    }
    free(l->pages);
    l->pages = pages;
    l->n_pages = np;
    load_free_all(l->r, l->n);
    l->r = r;
    l->n = n;
    loader_schedule(pages, np);
}

void loader_each(const loader_t *l, loader_fn fn, void *arg)
{
    for (size_t i = 0; i < l->n; i++) {
        fn(arg, &l->r[i]);
    }
}

size_t loader_regions(const loader_t *l)
{
    return l->n;
}

size_t loader_pages(const loader_t *l)
{
    return l->n_pages;
}

void loader_free(loader_t *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n_pages; i++) {
        lpage_kill(l->pages[i]);
    }
    free(l->pages);
    curluv_free(l->cu);
    load_free_all(l->r, l->n);
    free(l);
}
