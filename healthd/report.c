/*
 * report: the healthd end of a gslbd control connection; see report.h.
 *
 * One repeating timer drives everything: when disconnected it starts a
 * connect, when synced it sends PING. It ticks every second, or more often
 * when a check's stale_after is short (report_set_heartbeat()): gslbd hears
 * from a synced healthd at least three times within any stale_after. States: IDLE (no pipe handle)
 * -> CONNECTING -> GREETING (HELLO written) -> SYNCED (gslbd answered; members, load figures and
 * SYNCED written) -> CLOSING (waiting for the close callback) -> IDLE. A connection counts as
 * made (and an outage as over) when gslbd answers HELLO.
 *
 * The full state waits for that answer because what it holds depends on it: LOAD lines go only
 * to a gslbd whose answer says version 3 or more, CANARY only to one that says 4 or more (an
 * older one would answer each with ERR). The
 * wait is one round trip on a local socket; changes that happen meanwhile are not lost, since the
 * full state is taken when the answer comes.
 *
 * Over TCP the answer also brings the nonce every later line is signed over, so nothing but HELLO
 * could be sent before it anyway. Lines are sealed (seal.h) as they are queued, so seq= follows
 * the order of the writes, which is the order gslbd reads them in. TCP has no connect timeout of
 * its own short of the kernel's minutes of SYN retries: the tick gives a connect
 * REPORT_CONNECT_WAIT ms.
 */
#include "healthd/report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/ctl.h"
#include "healthd/seal.h"

#define REPORT_TICK_MS     1000
#define REPORT_TICK_MIN_MS 30  /* the fastest heartbeat, for stale_after 100ms */
#define REPORT_RETRY_MIN   50  /* first retry after a failure; doubles up to the most */
#define REPORT_RETRY_MAX   500 /* so a restarted gslbd has every vantage within a second */
#define REPORT_ERR_PER_S   5
#define REPORT_HELLO_WAIT  10000 /* ms without an answer to HELLO before trying again */
#define REPORT_WHY_MAX     (CTL_LINE_MAX + 128)

typedef enum {
    REPORT_IDLE,
    REPORT_CONNECTING,
    REPORT_GREETING,
    REPORT_SYNCED,
    REPORT_CLOSING
} report_state_t;

struct report {
    uv_loop_t *loop;
    report_peer_t peer;
    struct sockaddr_storage addr; /* peer.tcp points here */
    report_dump_fn dump;
    void *arg;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe; /* a local socket */
        uv_tcp_t tcp;   /* the network channel */
    } h;
    uv_connect_t creq;
    uv_timer_t tick;
    report_state_t state;
    ctl_lines_t lines;
    bool outage;       /* a failure was logged, no connection since */
    unsigned retry_ms; /* the next retry's delay: a restarted gslbd is re-synced at once */
    unsigned tick_ms;  /* the timer's period: the heartbeat */
    uint64_t hello_at; /* loop time HELLO was written on this connection */
    unsigned version;  /* gslbd's version, from its answer to HELLO; 0 before */
    size_t members;    /* member states sent on this connection's sync */
    uint64_t down_at;  /* loop time of that failure */
    bool freeing;
    unsigned refs; /* handles to close before freeing */
    unsigned long long err_rate;
    uint64_t sent; /* MEMBER lines written, changes and full states */
    /* TCP: when the connect started; the seq= of the last line sealed on
     * this connection; the nonce gslbd's answer to HELLO gave ("" before). */
    uint64_t connect_at;
    uint64_t seq;
    char nonce[CTLAUTH_NONCE_LEN + 1];
    char why[REPORT_WHY_MAX]; /* the reason for the outage last logged as a warning */
    char rbuf[4096];
};

typedef struct {
    uv_write_t req;
    char *data;
} report_wr_t;

void report_buf_add(report_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = xreallocarray(b->s, b->cap, 1);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void report_unref(report_t *r)
{
    if (--r->refs == 0) {
        free(r);
    }
}

static void report_on_pipe_closed(uv_handle_t *h)
{
    report_t *r = h->data;

    r->state = REPORT_IDLE;
    r->lines.len = 0;
    if (r->freeing) {
        report_unref(r);
    }
}

static void report_close_pipe(report_t *r)
{
    if (r->state != REPORT_CONNECTING && r->state != REPORT_GREETING && r->state != REPORT_SYNCED) {
        return;
    }
    r->state = REPORT_CLOSING;
    uv_close(&r->h.handle, report_on_pipe_closed);
}

static void report_on_tick(uv_timer_t *t);
static bool report_send_line(report_t *r, const char *line, size_t len);

/* The connection failed or broke: say so once per outage, then retry
 * quietly from the tick. A `notable` failure, one gslbd answered with (a
 * refusal, no nonce), is said again whenever its text changes: a gslbd
 * that comes back from an outage refusing our key is news for whoever
 * holds the key, while a socket that fails one way, then another, is not. */
static void report_down(report_t *r, const char *what, int status, bool notable)
{
    char why[REPORT_WHY_MAX];

    snprintf(why, sizeof(why), "%s%s%s", what, status < 0 ? ": " : "",
             status < 0 ? uv_strerror(status) : "");
    if (!r->outage || (notable && strcmp(why, r->why) != 0)) {
        log_warn("gslbd %s: %s; retrying", r->peer.name, why);
        snprintf(r->why, sizeof(r->why), "%s", why);
    } else {
        log_debug("gslbd %s: %s", r->peer.name, why);
    }
    if (!r->outage) {
        r->outage = true;
        r->down_at = uv_now(r->loop);
    }
    report_close_pipe(r);
    /* Retry soon, then less often: 50, 100, 200, 400, 500 ms. A gslbd that
     * restarts gets the full state well within a second of listening again;
     * a connect attempt twice a second to a gslbd that is down costs nothing. */
    r->retry_ms = r->retry_ms ? r->retry_ms : REPORT_RETRY_MIN;
    uv_timer_start(&r->tick, report_on_tick, r->retry_ms, r->tick_ms);
    r->retry_ms = r->retry_ms * 2 < REPORT_RETRY_MAX ? r->retry_ms * 2 : REPORT_RETRY_MAX;
}

static void report_fail(report_t *r, const char *what, int status)
{
    report_down(r, what, status, false);
}

static void report_on_write(uv_write_t *req, int status)
{
    report_wr_t *w = (report_wr_t *)req;
    report_t *r = req->handle->data;

    free(w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED &&
        (r->state == REPORT_SYNCED || r->state == REPORT_GREETING)) {
        report_fail(r, "write failed", status);
    }
}

/* The lines of `data` (len bytes, whole lines), sealed for the network:
 * each with the next seq= and its mac. A line that cannot be sealed (none
 * of ours should fail to) is left out and said. Returns a malloc'd text. */
static char *report_seal(report_t *r, const char *data, size_t *len)
{
    report_buf_t b = {0};
    const char *p = data, *end = data + *len;

    report_buf_add(&b, "", 0);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        char line[SEAL_LINE_MAX];
        int m = seal_line(r->peer.key, r->nonce, r->seq + 1, p, n, line, sizeof(line));

        if (m > 0) {
            r->seq++;
            report_buf_add(&b, line, (size_t)m);
        } else if (log_ratelimit(&r->err_rate, REPORT_ERR_PER_S)) {
            log_err("gslbd %s: cannot sign '%.*s' (%s): not sent", r->peer.name,
                    (int)(n > 0 && p[n - 1] == '\n' ? n - 1 : n), p,
                    m == -ENOSPC ? "too long" : "not a control line");
        }
        p += n;
    }
    *len = b.len;
    return b.s;
}

/* Queue `data` (malloc'd, taken over) on the connection; sealed first over
 * TCP. */
static void report_write(report_t *r, char *data, size_t len)
{
    report_wr_t *w;
    uv_buf_t buf;
    int rc;

    if (r->peer.tcp != NULL) {
        char *sealed = report_seal(r, data, &len);
        free(data);
        data = sealed;
    }
    if (len == 0) {
        free(data);
        return;
    }
    w = xmalloc(sizeof(*w));
    buf = uv_buf_init(data, (unsigned)len);
    w->data = data;
    rc = uv_write(&w->req, &r->h.stream, &buf, 1, report_on_write);
    if (rc < 0) {
        free(data);
        free(w);
        report_fail(r, "write failed", rc);
    }
}

static size_t report_full(report_t *r);

/* gslbd refused what we sent: over TCP, ERR "refused: WHY" (ctlauth.h)
 * and the connection closed. Say what it said and, for what only this side
 * can fix, which key it judged. */
static void report_refused(report_t *r, const char *what, const char *text)
{
    char why[REPORT_WHY_MAX];
    bool ours;

    text = text != NULL && *text != '\0' ? text : "(no reason)";
    if (strncmp(text, "refused: ", 9) == 0) {
        text += 9;
    }
    ours = r->peer.tcp != NULL &&
           (strstr(text, "mac does not match") != NULL || strstr(text, "no key") != NULL);
    if (ours) {
        snprintf(why, sizeof(why),
                 "%s: %s (does gslbd's --control-keys hold the key of --key for vantage %s?)", what,
                 text, r->peer.vantage);
    } else {
        snprintf(why, sizeof(why), "%s: %s", what, text);
    }
    report_down(r, why, 0, true);
}

/* Take the nonce of gslbd's answer to HELLO over TCP. Without one, gslbd
 * did not check our HELLO's mac, and would refuse every line after it. */
static int report_nonce(report_t *r, const char *text)
{
    int rc = seal_nonce(text != NULL ? text : "", r->nonce);

    if (rc == -ENOENT) {
        report_down(r,
                    "answered HELLO without a nonce= (not a gslbd --control-listen port, or a "
                    "gslbd too old for the network channel)",
                    0, true);
    } else if (rc < 0) {
        report_down(r, "answered HELLO with a nonce= that is not hex", 0, true);
    }
    return rc;
}

/* The first reply answers HELLO: only then is the connection counted as
 * made, so a gslbd that accepts and drops us at once stays one outage. Its
 * text, "gslbd N", says which version of the protocol gslbd speaks. */
static void report_greeted(report_t *r, const ctl_msg_t *m)
{
    unsigned v = 0;

    if (m->verb != CTL_OK) {
        report_refused(r, "HELLO refused", m->text);
        return;
    }
    if (r->peer.tcp != NULL && report_nonce(r, m->text) < 0) {
        return;
    }
    if (m->text == NULL || sscanf(m->text, "gslbd %u", &v) != 1) {
        log_debug("gslbd %s: answered HELLO with no version ('%s'): sending no load figures",
                  r->peer.name, m->text ? m->text : "");
    }
    r->version = v;
    r->state = REPORT_SYNCED;
    r->members = report_full(r);
    if (r->outage) {
        log_info("gslbd %s: connected again after %.1f s, sent %zu member states", r->peer.name,
                 (double)(uv_now(r->loop) - r->down_at) / 1000.0, r->members);
    } else {
        log_info("gslbd %s: connected, sent %zu member states", r->peer.name, r->members);
    }
    r->outage = false;
    r->retry_ms = 0;
}

static void report_on_line(void *arg, char *line)
{
    report_t *r = arg;
    ctl_msg_t m;

    if (ctl_parse(line, &m, NULL) < 0 && m.verb != CTL_DATA) {
        m.verb = CTL_ERR; /* a reply we cannot read counts as a refusal */
    }
    if (m.verb == CTL_NONE) {
        return;
    }
    if (r->state == REPORT_GREETING) {
        report_greeted(r, &m);
    } else if (m.verb == CTL_ERR && r->peer.tcp != NULL && m.text != NULL &&
               strncmp(m.text, "refused:", 8) == 0) {
        report_refused(r, "report refused", m.text);
    } else if (m.verb == CTL_ERR && log_ratelimit(&r->err_rate, REPORT_ERR_PER_S)) {
        log_warn("gslbd %s: ERR %s", r->peer.name, m.text ? m.text : "");
    } else if (m.verb == CTL_OK && m.text != NULL && strcmp(m.text, CTL_SYNC_REQUEST) == 0 &&
               r->state == REPORT_SYNCED) {
        /* gslbd dropped some of what we said (it did not hear from us for a
         * while) or has members we have not reported: all of it again. */
        size_t n = report_full(r);
        log_info("gslbd %s: asked for the full state, sent %zu member states", r->peer.name, n);
    }
}

static void report_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    report_t *r = h->data;
    (void)size;

    *buf = uv_buf_init(r->rbuf, sizeof(r->rbuf));
}

static void report_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    report_t *r = s->data;

    if (n == UV_EOF) {
        report_fail(r, "connection closed by gslbd", 0);
    } else if (n < 0) {
        report_fail(r, "connection lost", (int)n);
    } else if (ctl_feed(&r->lines, buf->base, (size_t)n, report_on_line, r) < 0) {
        report_fail(r, "reply line too long, disconnecting", 0);
    }
}

/* Append one message to b (the messages here always fit a line). */
static void report_buf_msg(report_buf_t *b, const ctl_msg_t *m)
{
    char line[CTL_LINE_MAX + 2];
    int n = ctl_format(m, line, sizeof(line));

    if (n > 0) {
        report_buf_add(b, line, (size_t)n);
    }
}

/* Every known member, every load figure gslbd's version takes, and SYNCED:
 * in one write. Returns the members sent. */
static size_t report_full(report_t *r)
{
    report_buf_t b = {0};
    unsigned interval = 1000;
    size_t members = r->dump(r->arg, &b, r->version, &interval);

    report_buf_msg(&b, &(ctl_msg_t){.verb = CTL_SYNCED, .interval_ms = interval});
    report_write(r, b.s, b.len);
    r->sent += members;
    return members;
}

/* HELLO on a new connection; the rest waits for gslbd's answer. */
static void report_hello(report_t *r)
{
    report_buf_t b = {0};

    r->state = REPORT_GREETING;
    r->version = 0;
    r->hello_at = uv_now(r->loop);
    report_buf_msg(&b, &(ctl_msg_t){.verb = CTL_HELLO,
                                    .peer = "healthd",
                                    .version = CTL_VERSION,
                                    .vantage = r->peer.vantage});
    report_write(r, b.s, b.len);
}

static void report_on_connect(uv_connect_t *req, int status)
{
    report_t *r = req->data;
    int rc;

    if (status == UV_ECANCELED || r->state != REPORT_CONNECTING) {
        return; /* closed meanwhile */
    }
    if (status < 0) {
        report_fail(r, "cannot connect", status);
        return;
    }
    if ((rc = uv_read_start(&r->h.stream, report_alloc, report_on_read)) < 0) {
        report_fail(r, "cannot read", rc);
        return;
    }
    report_hello(r);
}

static void report_connect(report_t *r)
{
    int rc = r->peer.tcp != NULL ? uv_tcp_init(r->loop, &r->h.tcp)
                                 : uv_pipe_init(r->loop, &r->h.pipe, 0);

    if (rc < 0) {
        report_fail(r, "cannot make a socket handle", rc);
        return;
    }
    r->h.handle.data = r;
    r->creq.data = r;
    r->state = REPORT_CONNECTING;
    r->connect_at = uv_now(r->loop);
    r->seq = 0;
    r->nonce[0] = '\0'; /* HELLO is signed over the empty nonce */
    if (r->peer.tcp == NULL) {
        uv_pipe_connect(&r->creq, &r->h.pipe, r->peer.name, report_on_connect);
        return;
    }
    /* Lines are small and each is worth sending at once. */
    uv_tcp_nodelay(&r->h.tcp, 1);
    if ((rc = uv_tcp_connect(&r->creq, &r->h.tcp, r->peer.tcp, report_on_connect)) < 0) {
        report_fail(r, "cannot connect", rc);
    }
}

static void report_on_tick(uv_timer_t *t)
{
    report_t *r = t->data;

    if (r->state == REPORT_IDLE) {
        report_connect(r);
    } else if (r->state == REPORT_CONNECTING && r->peer.tcp != NULL &&
               uv_now(r->loop) - r->connect_at >= REPORT_CONNECT_WAIT) {
        report_fail(r, "cannot connect: timed out", 0);
    } else if (r->state == REPORT_GREETING && uv_now(r->loop) - r->hello_at >= REPORT_HELLO_WAIT) {
        report_fail(r, "no answer to HELLO", 0);
    } else if (r->state == REPORT_SYNCED) {
        char ping[16];
        int n = ctl_format(&(ctl_msg_t){.verb = CTL_PING}, ping, sizeof(ping));
        if (n > 0) {
            report_send_line(r, ping, (size_t)n); /* a PING is no report: not counted */
        }
    }
}

int report_new(uv_loop_t *loop, const report_peer_t *peer, report_dump_fn dump, void *arg,
               report_t **out)
{
    report_t *r;

    if (peer->tcp != NULL &&
        (peer->key == NULL || peer->vantage == NULL ||
         (peer->tcp->sa_family != AF_INET && peer->tcp->sa_family != AF_INET6))) {
        return -EINVAL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        return -ENOMEM;
    }
    r->loop = loop;
    r->peer = *peer;
    if (peer->tcp != NULL) {
        memcpy(&r->addr, peer->tcp,
               peer->tcp->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in));
        r->peer.tcp = (const struct sockaddr *)&r->addr;
    }
    r->dump = dump;
    r->arg = arg;
    r->tick_ms = REPORT_TICK_MS;
    uv_timer_init(loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, report_on_tick, 0, r->tick_ms);
    *out = r;
    return 0;
}

/* Queue a line if connected and synced: true when it was. */
static bool report_send_line(report_t *r, const char *line, size_t len)
{
    if (r->state != REPORT_SYNCED) {
        return false;
    }
    if (uv_stream_get_write_queue_size(&r->h.stream) > REPORT_BACKLOG_MAX) {
        report_fail(r, "gslbd is not reading, disconnecting", 0);
        return false;
    }
    report_write(r, xmemdup(line, len), len);
    return true;
}

void report_send(report_t *r, const char *line, size_t len)
{
    r->sent += report_send_line(r, line, len);
}

void report_send_load(report_t *r, const char *line, size_t len)
{
    if (r->version >= REPORT_LOAD_VERSION) {
        report_send_line(r, line, len);
    }
}

void report_send_canary(report_t *r, const char *line, size_t len)
{
    if (r->version >= REPORT_CANARY_VERSION) {
        report_send_line(r, line, len);
    }
}

bool report_connected(const report_t *r)
{
    return r->state == REPORT_SYNCED;
}

unsigned report_version(const report_t *r)
{
    return r->state == REPORT_SYNCED ? r->version : 0;
}

uint64_t report_sent(const report_t *r)
{
    return r->sent;
}

const char *report_path(const report_t *r)
{
    return r->peer.name;
}

static void report_on_tick_closed(uv_handle_t *h)
{
    report_unref(h->data);
}

void report_free(report_t *r)
{
    if (r == NULL) {
        return;
    }
    r->freeing = true;
    r->refs = 1 + (r->state != REPORT_IDLE);
    uv_close((uv_handle_t *)&r->tick, report_on_tick_closed);
    report_close_pipe(r);
}

void report_set_heartbeat(report_t *r, unsigned stale_ms)
{
    unsigned ms = stale_ms ? stale_ms / 3 : REPORT_TICK_MS;

    ms = ms < REPORT_TICK_MIN_MS ? REPORT_TICK_MIN_MS : ms > REPORT_TICK_MS ? REPORT_TICK_MS : ms;
    if (ms != r->tick_ms) {
        r->tick_ms = ms;
        uv_timer_set_repeat(&r->tick, ms);
        if (uv_is_active((uv_handle_t *)&r->tick) && uv_timer_get_due_in(&r->tick) > ms) {
            uv_timer_again(&r->tick);
        }
    }
}
