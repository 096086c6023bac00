/*
 * probe: scheduling, http(s) and tcp checks, and state per target; see
 * probe.h.
 *
 * Lifetime: a probe_t lives from prober_set() until it is removed (reload or
 * shutdown) and every libuv handle it owns has closed; `refs` counts those
 * pending closes. A running http transfer is aborted with
 * curl_multi_remove_handle(), a running tcp connect by closing its handle.
 *
 * An http(s) probe reads no more of the response than its check needs: the
 * headers when the check has no `body` (or the status already fails it),
 * else the body up to the text or PROBE_BODY_MAX bytes. Then it stops the
 * transfer from a libcurl callback, which closes the connection instead of
 * reading the rest: a large or endless /health costs one receive buffer.
 */
#include "healthd/probe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "healthd/curluv.h"
#include "healthd/pstats.h"
#include "healthd/scan.h"

#define PROBE_REASON_MAX  (CURL_ERROR_SIZE + 64)
#define PROBE_USER_AGENT  "gslb-healthd/0.1"
#define PROBE_LATE_LOG_MS 60000
#define PROBE_BATCH       32    /* probes started per loop iteration at most */
#define PROBE_LAG_MS      50    /* how often the loop checks it is on time */
#define PROBE_BODY_MAX    65536 /* a `body` check looks at this much of the body */

#ifndef CURL_WRITEFUNC_ERROR /* libcurl before 7.87 */
#define CURL_WRITEFUNC_ERROR 0xFFFFFFFF
#endif

typedef struct probe {
    prober_t *owner;
    target_t t;
    hstate_t h;
    char reason[PROBE_REASON_MAX]; /* latest result that agreed with h.state */
    uv_timer_t tick;               /* fires at `due` */
    uint64_t due;                  /* loop time of the next probe, ms */
    uint64_t slot;                 /* the due time the queued probe was for */
    struct probe *qprev, *qnext;   /* in the owner's start queue */
    bool queued;
    bool running, dead;
    uint64_t started;    /* loop time the running probe started */
    uint64_t started_ns; /* the same, uv_hrtime(): for its duration */
    pstats_target_t stats;
    unsigned refs; /* handles still to close after removal */
    /* http(s) */
    CURL *easy;
    curluv_job_t job;
    struct curl_slist *headers, *connect_to;
    scan_t scan;
    size_t body_read; /* body bytes looked at */
    bool cut;         /* we ended the transfer: the response was judged */
    char errbuf[CURL_ERROR_SIZE];
    /* tcp */
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timeout;
    int tcp_status;
    bool timed_out;
} probe_t;

struct prober {
    uv_loop_t *loop;
    curluv_t *cu;
    prober_fn changed;
    void *arg;
    probe_t **v;
    size_t n;
    probe_t *qhead, *qtail;     /* probes due to start, oldest first */
    uv_idle_t idle;             /* runs while the queue is not empty */
    uint64_t late_logged;       /* loop time of the last "running late" warning */
    unsigned long long skipped; /* probes skipped for starting too late */
    /* Stalls of the loop itself (healthd starved of CPU): a probe that timed
     * out across one says nothing about its backend. */
    uv_timer_t lag;
    uint64_t lag_last_ns; /* monotonic time of the last lag check */
    uint64_t stall_at;    /* loop time a stall was last seen */
    unsigned stall_ms;    /* the largest stall in the last 5 s */
    uint64_t stall_logged;
    unsigned long long discounted; /* timeouts not counted because of a stall */
    int open_handles;              /* idle and lag, closed before the prober is freed */
    /* For /metrics; the prober lives as long as healthd, so these count
     * across reloads. */
    pstats_hist_t durations[CHECK_TCP + 1]; /* by check type */
    pstats_lag_t lag_stats;
};

static void prober_on_idle(uv_idle_t *h);
static void prober_note_lag(prober_t *o);

/* ------------------------------------------------------------ results */

/* A timeout during which healthd's own loop stalled for a quarter of it or
 * more (no CPU: another process on its core, or far too many targets) is
 * neither a success nor a failure: the reply may well have been waiting in
 * the socket. Counting it would call healthy members down. */
static bool probe_discount(probe_t *p, bool ok, const char *reason)
{
    prober_t *o = p->owner;
    uint64_t now = uv_now(o->loop);

    if (ok || strcmp(reason, "timeout") != 0) {
        return false;
    }
    prober_note_lag(o);
    if (o->stall_at < p->started || o->stall_ms * 4 < p->t.timeout_ms) {
        return false;
    }
    o->discounted++;
    if (o->stall_logged == 0 || now >= o->stall_logged + PROBE_LATE_LOG_MS) {
        o->stall_logged = now;
        log_warn("healthd was starved of CPU (its loop stalled %u ms): timeouts across the stall "
                 "are not counted as failures, %llu so far",
                 o->stall_ms, o->discounted);
    }
    return true;
}

static void probe_result(probe_t *p, bool ok, const char *reason)
{
    const target_t *t = &p->t;

    if (probe_discount(p, ok, reason)) {
        return;
    }
    pstats_count(&p->stats, ok, reason);
    pstats_observe(&p->owner->durations[t->type], (double)(uv_hrtime() - p->started_ns) / 1e9);
    bool changed = hstate_apply(&p->h, ok, t->rise, t->fall);
    unsigned run = ok ? p->h.ok_run : p->h.fail_run;

    if (!ok) {
        log_debug("%s: probe of %s failed: %s (%u in a row, fall %u)", t->label, t->where, reason,
                  run, t->fall);
    } else if (p->h.state != HEALTH_UP) {
        log_debug("%s: probe of %s passed: %s (%u in a row, rise %u)", t->label, t->where, reason,
                  run, t->rise);
    }
    if (p->h.state != (ok ? HEALTH_UP : HEALTH_DOWN)) {
        return;
    }
    snprintf(p->reason, sizeof(p->reason), "%s", reason);
    if (!changed) {
        return;
    }
    log_info("%s: %s (%s, %u %s%s)", t->label, health_state_name(p->h.state), reason, run,
             ok ? "success" : "failure", run == 1 ? "" : (ok ? "es" : "s"));
    p->owner->changed(p->owner->arg, t, p->h.state, p->reason);
}

/* ------------------------------------------------------------ http(s) */

/* The end of the final response's headers: the status is known. A check
 * without a body, or a status the check refuses, needs nothing more. */
static size_t probe_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    probe_t *p = arg;
    size_t n = size * nmemb;
    long status = 0;

    if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && (p->t.body == NULL || !target_status_ok(&p->t, status))) {
            p->cut = true;
            return CURL_WRITEFUNC_ERROR;
        }
    }
    return n;
}

/* Look for the text in the first PROBE_BODY_MAX bytes; stop once it is found
 * or they are all seen. */
static size_t probe_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    probe_t *p = arg;
    size_t n = size * nmemb, take = n;

    if (p->t.body == NULL) { /* the headers' end went unseen: stop here then */
        p->cut = true;
        return CURL_WRITEFUNC_ERROR;
    }
    if (take > PROBE_BODY_MAX - p->body_read) {
        take = PROBE_BODY_MAX - p->body_read;
    }
    p->body_read += take;
    if (scan_feed(&p->scan, data, take) || p->body_read == PROBE_BODY_MAX) {
        p->cut = true;
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

static bool probe_is_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

static bool probe_is_connect_error(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

/* The reason for a transfer that did not complete. */
static void probe_curl_reason(probe_t *p, CURLcode rc, char *out, size_t size)
{
    const char *detail = p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc);
    long os_errno = 0;

    curl_easy_getinfo(p->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(out, size, "timeout");
        log_debug("%s: timeout: %s", p->t.label, detail);
    } else if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED) {
        snprintf(out, size, "refused");
    } else if (probe_is_tls_error(rc)) {
        snprintf(out, size, "TLS error: %s", detail);
    } else if (probe_is_connect_error(rc)) {
        snprintf(out, size, "DNS/connect error: %s", detail);
    } else {
        snprintf(out, size, "HTTP error: %s", detail);
    }
}

static void probe_http_done(curluv_job_t *job, CURLcode rc)
{
    probe_t *p = (probe_t *)((char *)job - offsetof(probe_t, job));
    char reason[PROBE_REASON_MAX];
    long status = 0;
    bool ok = false;

    p->running = false;
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && p->cut)) {
        probe_curl_reason(p, rc, reason, sizeof(reason));
    } else {
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
        snprintf(reason, sizeof(reason), "status %ld", status);
        if (!target_status_ok(&p->t, status)) {
            ok = false;
        } else if (p->t.body != NULL && !p->scan.found && p->body_read == PROBE_BODY_MAX) {
            snprintf(reason, sizeof(reason), "body mismatch (not in the first %d KiB)",
                     PROBE_BODY_MAX / 1024);
        } else if (p->t.body != NULL && !p->scan.found) {
            snprintf(reason, sizeof(reason), "body mismatch");
        } else {
            ok = true;
        }
    }
    probe_result(p, ok, reason);
}

static void probe_http_options(probe_t *p)
{
    const target_t *t = &p->t;
    CURL *e = p->easy;
    long ms = (long)t->timeout_ms;

    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never through http_proxy & co */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms);
    /* A 3xx is a status like any other: list it in `expect` to accept it. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* Every probe opens its own connection, or it would test nothing. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, PROBE_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->tls_verify ? 2L : 0L);
    /* Trust anchors from the CA bundle file only: libcurl caches the parsed
     * bundle per multi handle, but not when a CA directory is also set (as
     * Debian's build does), and then re-reads it for every connection.
     * Without verification nothing needs loading at all. */
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    if (!t->tls_verify) {
        curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
    }
    /* Full handshakes: a resumed session would not re-check the certificate. */
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    /* Addresses are literals, so there is nothing worth caching, and the
     * multi handle's DNS cache is pruned by walking it whole on every
     * transfer: with one entry per target that is quadratic. */
    curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, probe_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
    if (p->connect_to != NULL) {
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, p->connect_to);
    }
}

/* Made at the first probe, then reused for the target's life. */
static int probe_http_setup(probe_t *p)
{
    if (p->easy != NULL) {
        return 0;
    }
    p->easy = curl_easy_init();
    if (p->easy == NULL) {
        return -ENOMEM;
    }
    p->headers = curl_slist_append(NULL, "Connection: close");
    if (p->t.host != NULL) {
        char host[1100];
        snprintf(host, sizeof(host), "Host: %s", p->t.host);
        p->headers = curl_slist_append(p->headers, host);
    }
    if (p->t.connect_to != NULL) {
        p->connect_to = curl_slist_append(NULL, p->t.connect_to);
    }
    scan_init(&p->scan, p->t.body ? p->t.body : "");
    p->job.done = probe_http_done;
    probe_http_options(p);
    return 0;
}

static void probe_http_start(probe_t *p)
{
    if (probe_http_setup(p) < 0) {
        probe_result(p, false, "internal error: cannot make a curl handle");
        return;
    }
    p->errbuf[0] = '\0';
    p->body_read = 0;
    p->cut = false;
    scan_reset(&p->scan);
    if (curluv_add(p->owner->cu, p->easy, &p->job) < 0) {
        probe_result(p, false, "internal error: curl refused the transfer");
        return;
    }
    p->running = true;
}

/* ------------------------------------------------------------ tcp */

static void probe_unref(probe_t *p);

static void probe_tcp_closed(uv_handle_t *h)
{
    probe_t *p = h->data;
    char reason[PROBE_REASON_MAX];
    int st = p->tcp_status;

    p->running = false;
    if (p->dead) {
        probe_unref(p);
        return;
    }
    if (p->timed_out || st == UV_ETIMEDOUT) {
        snprintf(reason, sizeof(reason), "timeout");
    } else if (st == UV_ECONNREFUSED) {
        snprintf(reason, sizeof(reason), "refused");
    } else if (st < 0) {
        snprintf(reason, sizeof(reason), "DNS/connect error: %s", uv_strerror(st));
    } else {
        snprintf(reason, sizeof(reason), "connected");
    }
    probe_result(p, st == 0 && !p->timed_out, reason);
}

static void probe_tcp_close(probe_t *p)
{
    if (!uv_is_closing((uv_handle_t *)&p->tcp)) {
        uv_close((uv_handle_t *)&p->tcp, probe_tcp_closed);
    }
}

static void probe_tcp_connected(uv_connect_t *req, int status)
{
    probe_t *p = req->data;

    if (!p->timed_out) {
        p->tcp_status = status;
    }
    uv_timer_stop(&p->timeout);
    probe_tcp_close(p);
}

static void probe_tcp_timeout(uv_timer_t *h)
{
    probe_t *p = h->data;

    p->timed_out = true;
    probe_tcp_close(p); /* cancels the connect: its callback sees UV_ECANCELED */
}

static void probe_tcp_start(probe_t *p)
{
    int r = uv_tcp_init(p->owner->loop, &p->tcp);

    if (r < 0) {
        probe_result(p, false, "internal error: cannot make a TCP handle");
        return;
    }
    p->running = true;
    p->timed_out = false;
    p->tcp_status = 0;
    p->tcp.data = p;
    p->creq.data = p;
    r = uv_tcp_connect(&p->creq, &p->tcp, (const struct sockaddr *)&p->t.sa, probe_tcp_connected);
    if (r < 0) {
        p->tcp_status = r; /* no connect callback: close and report now */
        probe_tcp_close(p);
        return;
    }
    uv_timer_start(&p->timeout, probe_tcp_timeout, p->t.timeout_ms, 0);
}

/* ------------------------------------------------------------ one target */

/* A probe that starts so late that it could not end before its next slot
 * (late by more than interval - timeout) is skipped: the loop cannot keep
 * up (too many targets for one core, or a starved host), and starting the
 * late probes anyway would only pile up connections that then time out and
 * mark healthy members down. Skipped probes count as neither success nor
 * failure. Warned about at most once a minute. */
static bool probe_late(probe_t *p, uint64_t now)
{
    prober_t *o = p->owner;
    uint64_t slack = p->t.interval_ms - (p->t.timeout_ms < p->t.interval_ms ? p->t.timeout_ms : 0);

    if (now <= p->slot || now - p->slot <= slack) {
        return false;
    }
    o->skipped++;
    if (o->late_logged == 0 || now >= o->late_logged + PROBE_LATE_LOG_MS) {
        o->late_logged = now;
        log_warn("probes run late (%s by %llu ms): skipping them, %llu so far; "
                 "is the host overloaded?",
                 p->t.label, (unsigned long long)(now - p->slot), o->skipped);
    }
    return true;
}

/* ------------------------------------------------------------ start queue */

/* Timers only queue probes; an idle handle starts at most PROBE_BATCH of
 * them per loop iteration. So however many timers fall due together (a
 * large pool, or a loop that stalled), replies are read between batches and
 * no probe's timeout runs out while the loop is busy starting others. */

static void probe_enqueue(probe_t *p)
{
    prober_t *o = p->owner;

    p->queued = true;
    p->qnext = NULL;
    p->qprev = o->qtail;
    if (o->qtail != NULL) {
        o->qtail->qnext = p;
    } else {
        o->qhead = p;
        uv_idle_start(&o->idle, prober_on_idle);
    }
    o->qtail = p;
}

static void probe_dequeue(probe_t *p)
{
    prober_t *o = p->owner;

    if (!p->queued) {
        return;
    }
    *(p->qprev ? &p->qprev->qnext : &o->qhead) = p->qnext;
    *(p->qnext ? &p->qnext->qprev : &o->qtail) = p->qprev;
    p->queued = false;
    if (o->qhead == NULL) {
        uv_idle_stop(&o->idle);
    }
}

static void probe_start(probe_t *p)
{
    p->started = uv_now(p->owner->loop);
    p->started_ns = uv_hrtime();
    if (p->t.type == CHECK_TCP) {
        probe_tcp_start(p);
    } else {
        probe_http_start(p);
    }
}

static void prober_on_idle(uv_idle_t *h)
{
    prober_t *o = h->data;
    uint64_t now = uv_now(o->loop);
    unsigned started = 0;

    while (o->qhead != NULL && started < PROBE_BATCH) {
        probe_t *p = o->qhead;

        probe_dequeue(p);
        if (!probe_late(p, now)) {
            probe_start(p);
            started++;
        }
    }
}

static void probe_on_tick(uv_timer_t *h)
{
    probe_t *p = h->data;
    uint64_t now = uv_now(p->owner->loop);

    p->slot = p->due;
    p->due = target_next_due(p->due, now, p->t.interval_ms);
    uv_timer_start(&p->tick, probe_on_tick, p->due - now, 0);
    if (p->running || p->queued) {
        log_debug("%s: previous probe still running, skipping this one", p->t.label);
        return;
    }
    probe_enqueue(p);
}

static probe_t *probe_new(prober_t *owner, target_t *t, unsigned offset)
{
    probe_t *p = xcalloc(1, sizeof(*p));

    p->owner = owner;
    p->t = *t; /* the prober owns the strings now */
    hstate_init(&p->h);
    uv_timer_init(owner->loop, &p->tick);
    p->tick.data = p;
    uv_timer_init(owner->loop, &p->timeout);
    p->timeout.data = p;
    p->due = uv_now(owner->loop) + offset;
    uv_timer_start(&p->tick, probe_on_tick, offset, 0);
    return p;
}

static void probe_unref(probe_t *p)
{
    if (--p->refs > 0) {
        return;
    }
    scan_free(&p->scan);
    target_clear(&p->t);
    free(p);
}

static void probe_on_closed(uv_handle_t *h)
{
    probe_unref(h->data);
}

/* Stop for good: abort what runs, close the handles, free when closed. */
static void probe_kill(probe_t *p)
{
    probe_dequeue(p);
    p->dead = true;
    p->refs = 2; /* tick and timeout */
    uv_close((uv_handle_t *)&p->tick, probe_on_closed);
    uv_close((uv_handle_t *)&p->timeout, probe_on_closed);
    if (p->easy != NULL) {
        if (p->running) {
            curluv_remove(p->owner->cu, p->easy);
            p->running = false;
        }
        curl_easy_cleanup(p->easy);
        curl_slist_free_all(p->headers);
        curl_slist_free_all(p->connect_to);
        p->easy = NULL;
    }
    if (p->running && p->t.type == CHECK_TCP) {
        p->refs++;
        probe_tcp_close(p);
    }
}

/* ------------------------------------------------------------ the set */

/* Record a stall of the loop if the lag check is overdue by PROBE_LAG_MS or
 * more, in real time. Called by the lag timer and again when a timeout is
 * judged: after SIGCONT or a long stall, libuv runs the I/O callbacks (where
 * curl declares timeouts) before the timers, so the timer may not have seen
 * the stall yet. */
static void prober_note_lag(prober_t *o)
{
    uint64_t late = (uv_hrtime() - o->lag_last_ns) / 1000000;
    uint64_t now = uv_now(o->loop);

    late = late > PROBE_LAG_MS ? late - PROBE_LAG_MS : 0;
    if (late < PROBE_LAG_MS) {
        return;
    }
    if (now - o->stall_at > 5000) {
        o->stall_ms = 0;
    }
    o->stall_ms = late > o->stall_ms ? (unsigned)late : o->stall_ms;
    o->stall_at = now;
}

/* Every PROBE_LAG_MS: how late did this check run? Each one is noted for
 * the metrics, in real time (the loop's clock counts whole milliseconds). */
static void prober_on_lag(uv_timer_t *h)
{
    prober_t *o = h->data;
    uint64_t now_ns = uv_hrtime(), period = PROBE_LAG_MS * 1000000ull;
    uint64_t elapsed = now_ns - o->lag_last_ns;

    pstats_lag_note(&o->lag_stats, uv_now(o->loop),
                    elapsed > period ? (double)(elapsed - period) / 1e9 : 0.0);
    prober_note_lag(o);
    o->lag_last_ns = now_ns;
}

int prober_new(uv_loop_t *loop, prober_fn changed, void *arg, prober_t **out)
{
    prober_t *p = calloc(1, sizeof(*p));
    int r;

    if (p == NULL) {
        return -ENOMEM;
    }
    if ((r = curluv_new(loop, &p->cu)) < 0) {
        free(p);
        return r;
    }
    p->loop = loop;
    uv_idle_init(loop, &p->idle);
    p->idle.data = p;
    uv_timer_init(loop, &p->lag);
    p->lag.data = p;
    p->lag_last_ns = uv_hrtime();
    uv_timer_start(&p->lag, prober_on_lag, PROBE_LAG_MS, PROBE_LAG_MS);
    p->open_handles = 2;
    p->changed = changed;
    p->arg = arg;
    *out = p;
    return 0;
}

/* Probes of the old set whose keys reappear in `t`: map[j] = old index. */
static long *prober_match(const prober_t *p, const target_t *t, size_t n)
{
    const char **ok = xcalloc(p->n + 1, sizeof(*ok)), **nk = xcalloc(n + 1, sizeof(*nk));
    long *map = xcalloc(n + 1, sizeof(*map));
    for (size_t i = 0; i < p->n; i++) {
        ok[i] = p->v[i]->t.key;
    }
    for (size_t j = 0; j < n; j++) {
        nk[j] = t[j].key;
    }
    target_match(ok, p->n, nk, n, map);
    free(ok);
    free(nk);
    return map;
}

void prober_set(prober_t *p, target_t *t, size_t n, prober_diff_t *diff)
{
    long *map = prober_match(p, t, n);
    bool *kept = xcalloc(p->n + 1, sizeof(*kept));
    probe_t **v = xcalloc(n + 1, sizeof(*v));
    prober_diff_t d = {0};
    /* Loading zones took a while: count offsets from now, not from the
     * loop time cached before the load, or the first probes start "late". */
    uv_update_time(p->loop);
    for (size_t j = 0; j < n; j++) {
        d.added += map[j] < 0;
    }
    for (size_t j = 0, a = 0; j < n; j++) {
        if (map[j] >= 0) {
            v[j] = p->v[map[j]];
            kept[map[j]] = true;
            /* The check's name is no part of the key: a renamed check keeps
             * its targets, under the new name. */
            char *check = v[j]->t.check;
            v[j]->t.check = t[j].check;
            t[j].check = check;
            target_clear(&t[j]);
            d.kept++;
            continue;
        }
        v[j] = probe_new(p, &t[j], target_offset(a++, d.added, t[j].interval_ms));
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!kept[i]) {
            probe_kill(p->v[i]);
            d.removed++;
        }
    }
    free(p->v);
    p->v = v;
    p->n = n;
    free(t);
    free(map);
    free(kept);
    if (diff != NULL) {
        *diff = d;
    }
}

void prober_each(const prober_t *p, prober_fn fn, void *arg)
{
    for (size_t i = 0; i < p->n; i++) {
        const probe_t *q = p->v[i];

        if (q->h.state != HEALTH_UNKNOWN) {
            fn(arg, &q->t, q->h.state, q->reason);
        }
    }
}

void prober_each_stats(const prober_t *p, prober_stats_fn fn, void *arg)
{
    for (size_t i = 0; i < p->n; i++) {
        fn(arg, &p->v[i]->t, p->v[i]->h.state, &p->v[i]->stats);
    }
}

const pstats_hist_t *prober_durations(const prober_t *p, check_type_t type)
{
    return &p->durations[type];
}

void prober_lag(const prober_t *p, double *last, double *max)
{
    *last = p->lag_stats.last;
    *max = pstats_lag_max(&p->lag_stats, uv_now(p->loop));
}

void prober_uncounted(const prober_t *p, uint64_t *late, uint64_t *stalled)
{
    *late = p->skipped;
    *stalled = p->discounted;
}

size_t prober_count(const prober_t *p)
{
    return p->n;
}

unsigned prober_min_interval(const prober_t *p)
{
    unsigned best = 0;

    for (size_t i = 0; i < p->n; i++) {
        if (best == 0 || p->v[i]->t.interval_ms < best) {
            best = p->v[i]->t.interval_ms;
        }
    }
    return best ? best : 1000;
}

unsigned prober_min_stale(const prober_t *p)
{
    unsigned best = 0;

    for (size_t i = 0; i < p->n; i++) {
        unsigned s = p->v[i]->t.stale_after_ms;
        if (s != 0 && (best == 0 || s < best)) {
            best = s;
        }
    }
    return best;
}

static void prober_on_closed(uv_handle_t *h)
{
    prober_t *p = h->data;

    if (--p->open_handles == 0) {
        free(p);
    }
}

void prober_free(prober_t *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        probe_kill(p->v[i]);
    }
    free(p->v);
    curluv_free(p->cu);
    uv_close((uv_handle_t *)&p->idle, prober_on_closed);
    uv_close((uv_handle_t *)&p->lag, prober_on_closed);
}
