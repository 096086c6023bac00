/*
 * control: gslbd's control socket (--control PATH), the server side of the
 * protocol in common/ctl.h. healthd reports member health here (and, as a
 * vantage, its canaries' verdict), locally or over --control-listen; gslbctl
 * reads the status, explains answers, sets overrides and asks for reloads.
 * It runs on the main loop only and changes nothing but health slots
 * (healthdb.h), which the workers read atomically; reloads it asks of the
 * main loop, status and explanations it gets from elsewhere (status.h,
 * explain.h) and sends line by line.
 */
#include "gslbd/server/control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "common/ctl.h"
#include "common/ctlauth.h"
#include "gslbd/engine/explain.h"
#include "gslbd/server/addr.h"
#include "gslbd/server/listener.h"

#define CONTROL_CLIENTS_MAX 64
#define CONTROL_BACKLOG     64          /* connections the kernel holds until accepted */
#define CONTROL_QUEUE_MAX   (4u << 20)  /* reply memory queued for one client at most */
#define CONTROL_IDLE_MS     10000       /* a client silent this long is closed */
#define CONTROL_BUSY_MS     2000        /* a reporting client heard from this recently stays */
#define CONTROL_HELD_MAX    (64u << 10) /* request bytes held while a client waits for a reload */
#define CONTROL_AUTH_MS     5000        /* a network client must authenticate this soon */

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif

/* What a client may do, from its peer credentials (SO_PEERCRED). */
#define ROLE_READ    1u /* HELLO, PING, STATUS, EXPLAIN: anyone who can connect */
#define ROLE_OPERATE 2u /* SET, RELOAD: root, gslbd's user, the control group */
#define ROLE_REPORT  4u /* MEMBER, LOAD, CANARY, SYNCED: root and gslbd's user (healthd) */

/* Where a client is with a RELOAD it sent: waiting for a reload to start,
 * for the one running to end, or being answered (its held requests may
 * start another reload meanwhile, which must not answer it again). */
enum { WAIT_NONE, WAIT_QUEUED, WAIT_RUNNING, WAIT_ANSWERED };

typedef struct client client_t;
struct client {
    union {
        uv_pipe_t pipe; /* the local socket */
        uv_tcp_t tcp;   /* --control-listen */
    } h;
    control_t *ctl;
    /* A network client (ctlauth.h): its vantage's key once its HELLO is
     * authenticated, the nonce its lines are bound to, the last seq. */
    bool net;
    const ctlauth_key_t *key;
    char nonce[CTLAUTH_NONCE_LEN + 1];
    uint64_t last_seq;
    ctl_lines_t lines;
    int source;                       /* health source index after HELLO, -1 before */
    char name[CTLAUTH_NAME_MAX + 32]; /* "healthd (vantage NAME)", "vantage NAME", an address */
    unsigned roles;
    unsigned long uid;
    uint64_t active_ms; /* connected, or its last complete line */
    uint64_t seq;       /* order of acceptance: breaks ties between equal active_ms */
    bool closing;
    uint8_t wait; /* WAIT_*: its RELOAD's reply is to come */
    char *held;   /* lines received while it waits, each ending in "\n" */
    size_t held_len;
    size_t queued; /* bytes of its replies' write requests not yet written, request included */
    client_t *next;
};

struct control {
    uv_pipe_t server;
    uv_timer_t tick;
    control_env_t env;
    healthdb_t *health; /* env.health */
    client_t *clients;
    unsigned n_clients;
    uint64_t accepted; /* connections accepted so far: the next client's seq */
    char *path;
    gid_t group;    /* the control group: its members may operate */
    uv_tcp_t *nets; /* --control-listen */
    size_t n_nets;
    unsigned n_net_clients;
    ctlauth_keys_t keys;
    uint64_t refused[CONTROL_REFUSED_N];
    unsigned long long warn_rate;
};

static void client_close(client_t *cl);
static void client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static uint64_t now_ms(const control_t *c)
{
    return uv_now(c->server.loop);
}

/* A reply on its way: the text travels with the request. */
typedef struct {
    uv_write_t req;
    size_t size; /* what it costs, counted in client_t.queued */
    char text[];
} sending_t;

static void on_written(uv_write_t *req, int status)
{
    sending_t *w = (sending_t *)req;
    client_t *cl = req->handle->data; /* alive: libuv calls this before closing */

    (void)status;
    cl->queued -= w->size;
    free(w);
}

/* Send text (several lines) to a client. What it costs is counted whole,
 * request and all: a client that sends many short requests and reads no
 * replies queues far more memory than reply bytes (all that libuv's write
 * queue size counts). */
static void client_send(client_t *cl, const char *text, size_t len)
{
    sending_t *w = malloc(sizeof(*w) + len);

    if (w == NULL) {
        return;
    }
    memcpy(w->text, text, len);
    w->size = sizeof(*w) + len;
    uv_buf_t buf = uv_buf_init(w->text, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&cl->h, &buf, 1, on_written) < 0) {
        free(w);
        return;
    }
    cl->queued += w->size;
}

static void reply(client_t *cl, ctl_verb_t verb, const char *fmt, ...) ATTR_PRINTF(3, 4);

/* The final line of a reply: "OK [text]" or "ERR text". */
static void reply(client_t *cl, ctl_verb_t verb, const char *fmt, ...)
{
    char text[CTL_LINE_MAX], line[CTL_LINE_MAX + 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    int n = ctl_format(&(ctl_msg_t){.verb = verb, .text = text}, line, sizeof(line));
    if (n > 0) {
        client_send(cl, line, (size_t)n);
    }
}

/* A data line must not read as the final line of a reply: one whose first
 * word is OK or ERR (a file path with a space could be) is shown indented
 * by a marker. */
static bool looks_final(const char *line, size_t len)
{
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    return (len >= 2 && memcmp(line, "OK", 2) == 0 && (len == 2 || line[2] == ' ')) ||
           (len >= 3 && memcmp(line, "ERR", 3) == 0 && (len == 3 || line[3] == ' '));
}

/* Write `text` (lines ending in "\n") to f as data lines: each cut to
 * CTL_LINE_MAX bytes, control characters turned into spaces. */
static void put_data(FILE *f, const char *text, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) : len, keep = n;
        bool mark = looks_final(text, n);

        if (mark) {
            fputs("| ", f);
        }
        if (keep + (mark ? 2 : 0) > CTL_LINE_MAX) {
            keep = CTL_LINE_MAX - (mark ? 2 : 0);
        }
        for (size_t i = 0; i < keep; i++) {
            unsigned char ch = (unsigned char)text[i];
            fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, f);
        }
        fputc('\n', f);
        text += nl ? n + 1 : n;
        len -= nl ? n + 1 : n;
    }
}

/* Data lines (`text`, may be NULL) and then the final line, in one write. */
static void reply_lines(client_t *cl, const char *text, size_t len, ctl_verb_t verb,
                        const char *final)
{
    char *out = NULL, line[CTL_LINE_MAX + 2];
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);

    if (f == NULL) {
        reply(cl, CTL_ERR, "out of memory");
        return;
    }
    if (text != NULL) {
        put_data(f, text, len);
    }
    if (ctl_format(&(ctl_msg_t){.verb = verb, .text = final}, line, sizeof(line)) > 0) {
        fputs(line, f);
    }
    fclose(f);
    client_send(cl, out, out_len);
    free(out);
}

/* STATUS: the report status.h writes, as text or JSON. */
static void cmd_status(client_t *cl, const ctl_msg_t *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        reply(cl, CTL_ERR, "out of memory");
        return;
    }
    cl->ctl->env.status(cl->ctl->env.arg, f, m->json);
    fclose(f);
    reply_lines(cl, text, len, CTL_OK, NULL);
    free(text);
}

/* EXPLAIN: the decision for one client on the snapshot served now, with
 * its health slots as the workers read them. */
static void cmd_explain(client_t *cl, const ctl_msg_t *m)
{
    const control_env_t *env = &cl->ctl->env;
    explain_env_t ex = {.snap = env->current(env->arg), .db = env->geo(env->arg), .live = true};
    char *text = NULL, why[256];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL) {
        reply(cl, CTL_ERR, "out of memory");
        return;
    }
    int r = explain_run(&ex, m->client, m->qname, m->qtype, f, why, sizeof(why));
    fclose(f);
    if (r < 0) {
        reply(cl, CTL_ERR, "%s", why);
    } else {
        reply_lines(cl, text, len, CTL_OK, NULL);
    }
    free(text);
}

/* RELOAD: the reply waits for the reload; meanwhile the client's next
 * requests are held, and nothing more is read from it. */
static void cmd_reload(client_t *cl)
{
    log_info("control: %s (uid %lu) asked for a reload of every zone file", cl->name, cl->uid);
    cl->wait = WAIT_QUEUED;
    uv_read_stop((uv_stream_t *)&cl->h);
    cl->ctl->env.reload(cl->ctl->env.arg); /* may start it, and so mark us running, at once */
}

static void cmd_set(client_t *cl, const ctl_msg_t *m)
{
    const char *zone = strcmp(m->zone, "*") == 0 ? NULL : m->zone;
    int saved = 0;
    int n = healthdb_override(cl->ctl->health, zone, m->region, m->member, m->override, &saved);

    if (n < 0 && zone != NULL && !healthdb_has_zone(cl->ctl->health, zone)) {
        reply(cl, CTL_ERR, "no zone '%s' with regions is served", zone);
        return;
    }
    if (n < 0) {
        reply(cl, CTL_ERR, "no %s '%s%s%s' in %s", m->member ? "member" : "region", m->region,
              m->member ? "/" : "", m->member ? m->member : "",
              zone != NULL ? zone : "the served zones");
        return;
    }
    log_info("control: %s (uid %lu) set %s on %s%s%s%s%s", cl->name, cl->uid,
             health_override_name(m->override), zone ? zone : "", zone ? " " : "", m->region,
             m->member ? " " : "", m->member ? m->member : "");
    health_override_t actual = HEALTH_OV_NONE;
    int held = healthdb_override_overruled(cl->ctl->health, zone, m->region, m->member, m->override,
                                           &actual);
    if (held > 0) {
        reply(cl, CTL_ERR,
              "%s is set on %d, but %d still follow%s another override (%s), set for every "
              "zone or on the whole region: remove that one (without --zone, or without "
              "ADDRESS)%s",
              health_override_name(m->override), n, held, held == 1 ? "s" : "",
              health_override_name(actual), saved < 0 ? "; and this change was not saved" : "");
        return;
    }
    if (saved < 0) {
        reply(cl, CTL_ERR,
              "%s is in force on %d, but not saved: it will not survive a restart "
              "(%s)",
              health_override_name(m->override), n, gslb_strerror(saved));
        return;
    }
    reply(cl, CTL_OK, "%d", n);
}

/* "OK", or "OK sync" when gslbd needs the source's full state again
 * (common/ctl.h). */
static void reply_ok(client_t *cl)
{
    bool sync = healthdb_want_sync(cl->ctl->health, cl->source);

    if (sync) {
        log_info("control: asking %s for its full state", cl->name);
    }
    reply(cl, CTL_OK, "%s", sync ? CTL_SYNC_REQUEST : "");
}

static void cmd_member(client_t *cl, const ctl_msg_t *m)
{
    if (cl->source < 0) {
        reply(cl, CTL_ERR, "say HELLO first");
        return;
    }
    int r = healthdb_report(cl->ctl->health, cl->source, m->zone, m->region, m->member, m->state,
                            m->text ? m->text : "", now_ms(cl->ctl));
    if (r < 0) {
        reply(cl, CTL_ERR, "no member %s %s %s is served (report dropped)", m->zone, m->region,
              m->member);
        return;
    }
    reply_ok(cl);
}

static void cmd_load(client_t *cl, const ctl_msg_t *m)
{
    if (cl->source < 0) {
        reply(cl, CTL_ERR, "say HELLO first");
        return;
    }
    int r = healthdb_load(cl->ctl->health, cl->source, m->zone, m->region, m->util_known, m->util,
                          m->figure, m->text ? m->text : "", now_ms(cl->ctl));
    if (r < 0) {
        reply(cl, CTL_ERR, "no region %s %s with a load: is served (report dropped)", m->zone,
              m->region);
        return;
    }
    reply_ok(cl);
}

/* CANARY: the vantage's own network is in doubt (failed) or not (ok). */
static void cmd_canary(client_t *cl, const ctl_msg_t *m)
{
    if (cl->source < 0) {
        reply(cl, CTL_ERR, "say HELLO first");
        return;
    }
    healthdb_canary(cl->ctl->health, cl->source, m->state == HEALTH_UP, m->text ? m->text : "",
                    now_ms(cl->ctl));
    reply_ok(cl);
}

/* A local HELLO. A healthd started with --vantage names its vantage, and its
 * reports are that vantage's, as they are over the network; otherwise the
 * peer's name is the source ("healthd"). */
static void cmd_hello(client_t *cl, const ctl_msg_t *m)
{
    const char *source = m->vantage != NULL ? m->vantage : m->peer;

    if (m->vantage != NULL && !ctl_name_ok(m->vantage)) {
        reply(cl, CTL_ERR, "vantage= must be 1 to %d letters, digits, '-', '_' and '.'",
              CTL_NAME_MAX);
        return;
    }
    if (m->vantage != NULL) {
        snprintf(cl->name, sizeof(cl->name), "%.20s (vantage %s)", m->peer, m->vantage);
    } else {
        snprintf(cl->name, sizeof(cl->name), "%s", m->peer);
    }
    healthdb_source_link(cl->ctl->health, cl->source, -1); /* a second HELLO */
    cl->source = healthdb_source(cl->ctl->health, source);
    healthdb_source_link(cl->ctl->health, cl->source, +1);
    healthdb_heard(cl->ctl->health, cl->source, now_ms(cl->ctl));
    reply(cl, CTL_OK, "gslbd %d", CTL_VERSION);
}

/* A client that does not read its replies is cut off before they pile up. */
static bool client_drowning(client_t *cl)
{
    size_t queued = cl->queued;

    if (queued <= CONTROL_QUEUE_MAX) {
        return false;
    }
    if (log_ratelimit(&cl->ctl->warn_rate, 1)) {
        log_warn("control: %s (uid %lu) does not read its replies (%zu bytes queued): "
                 "disconnected",
                 cl->name, cl->uid, queued);
    }
    client_close(cl);
    return true;
}

/* Whether the client may do what `role` covers; if not it is told why. */
static bool client_may(client_t *cl, unsigned role, const char *what)
{
    if (cl->roles & role) {
        return true;
    }
    reply(cl, CTL_ERR, "permission denied: %s is for %s (this peer runs as uid %lu)", what,
          role == ROLE_REPORT ? "root and gslbd's own user"
                              : "root, gslbd's own user and the control group",
          cl->uid);
    return false;
}

/* A line that came while the client waits for its RELOAD's reply: kept, in
 * order, for when that reply is sent. A client piling up more is cut off. */
static void hold_line(client_t *cl, const char *line)
{
    size_t n = strlen(line);
    char *more;

    if (cl->held_len + n + 1 > CONTROL_HELD_MAX ||
        (more = realloc(cl->held, cl->held_len + n + 1)) == NULL) {
        log_warn("control: %s (uid %lu) sent too much while waiting for a reload: "
                 "disconnected",
                 cl->name, cl->uid);
        client_close(cl);
        return;
    }
    memcpy(more + cl->held_len, line, n);
    more[cl->held_len + n] = '\n';
    cl->held = more;
    cl->held_len += n + 1;
}

static void on_line(void *arg, char *line);

/* The RELOAD's reply went out: act on the lines held meanwhile (one may be
 * another RELOAD, which holds the rest again), then read on. */
static void client_resume(client_t *cl)
{
    char *held = cl->held;
    size_t len = cl->held_len;

    cl->held = NULL;
    cl->held_len = 0;
    cl->wait = WAIT_NONE;
    cl->active_ms = now_ms(cl->ctl);
    for (size_t i = 0; i < len && !cl->closing;) {
        char *nl = memchr(held + i, '\n', len - i);
        *nl = '\0';
        on_line(cl, held + i);
        i = (size_t)(nl - held) + 1;
    }
    free(held);
    if (!cl->closing && cl->wait == WAIT_NONE &&
        uv_read_start((uv_stream_t *)&cl->h, client_alloc, client_read) < 0) {
        client_close(cl);
    }
}

/* ---- the network channel (ctlauth.h) ---- */

static const char *const refused_names[CONTROL_REFUSED_N] = {
    [CONTROL_REFUSED_NO_MAC] = "no_mac",
    [CONTROL_REFUSED_UNKNOWN_VANTAGE] = "unknown_vantage",
    [CONTROL_REFUSED_BAD_MAC] = "bad_mac",
    [CONTROL_REFUSED_REPLAY] = "replay",
    [CONTROL_REFUSED_NOT_ALLOWED] = "not_allowed",
};

const char *control_refused_name(control_refused_t r)
{
    return (unsigned)r < CONTROL_REFUSED_N ? refused_names[r] : "?";
}

void control_refused(const control_t *c, uint64_t out[CONTROL_REFUSED_N])
{
    for (unsigned i = 0; i < CONTROL_REFUSED_N; i++) {
        out[i] = c != NULL ? c->refused[i] : 0;
    }
}

/* Refuse a network client's message: counted, said, logged (at most once a
 * second: a flood of forgeries must not flood the log), and the client is
 * disconnected, so a forger learns one thing per connection. */
static void refuse(client_t *cl, control_refused_t why, const char *detail)
{
    control_t *c = cl->ctl;

    c->refused[why]++;
    if (log_ratelimit(&c->warn_rate, 1)) {
        log_warn("control: refused a message from %s: %s (%s): disconnected", cl->name, detail,
                 refused_names[why]);
    }
    reply(cl, CTL_ERR, "refused: %s", detail);
    client_close(cl);
}

/* Check and cut off a network line's mac: before its HELLO with the key of
 * the vantage the HELLO names and no nonce, after it with the vantage's key
 * and the connection's nonce. Returns false when refused. */
static bool net_admit(client_t *cl, char *line, const ctlauth_key_t **key)
{
    char vantage[CTLAUTH_NAME_MAX];
    const char *nonce = cl->nonce;
    int r;

    *key = cl->key;
    if (*key == NULL) {
        if (!ctlauth_vantage(line, vantage, sizeof(vantage))) {
            refuse(cl, CONTROL_REFUSED_NOT_ALLOWED,
                   "the first line must be HELLO PEER VERSION vantage=NAME seq=N mac=HEX");
            return false;
        }
        if ((*key = ctlauth_find(&cl->ctl->keys, vantage)) == NULL) {
            refuse(cl, CONTROL_REFUSED_UNKNOWN_VANTAGE, "no key for this vantage");
            return false;
        }
        nonce = "";
    }
    if ((r = ctlauth_verify(*key, nonce, line)) < 0) {
        refuse(cl, r == -EBADMSG ? CONTROL_REFUSED_NO_MAC : CONTROL_REFUSED_BAD_MAC,
               r == -EBADMSG ? "no mac= at the end of the line" : "the mac does not match");
        return false;
    }
    return true;
}

/* What a network client may send, in order: one HELLO, then reports; each
 * with a seq= above the last. Returns false when refused. */
static bool net_check(client_t *cl, const ctl_msg_t *m, const ctlauth_key_t *key)
{
    bool hello = m->verb == CTL_HELLO;

    if (!m->has_seq || m->seq <= cl->last_seq) {
        refuse(cl, CONTROL_REFUSED_REPLAY,
               m->has_seq ? "seq= is not above the last: replayed or reordered" : "no seq=");
        return false;
    }
    if (hello != (cl->key == NULL) ||
        !(hello || m->verb == CTL_MEMBER || m->verb == CTL_LOAD || m->verb == CTL_CANARY ||
          m->verb == CTL_SYNCED || m->verb == CTL_PING)) {
        refuse(cl, CONTROL_REFUSED_NOT_ALLOWED,
               hello ? "one HELLO per connection"
                     : "the network channel takes HELLO first, then MEMBER, LOAD, CANARY, "
                       "SYNCED and PING");
        return false;
    }
    if (m->vantage != NULL && strcmp(m->vantage, key->name) != 0) {
        refuse(cl, CONTROL_REFUSED_NOT_ALLOWED, "vantage= names another vantage than the key's");
        return false;
    }
    cl->last_seq = m->seq;
    return true;
}

/* An authenticated HELLO: the client reports for its vantage, which names
 * its health source, and every later line is bound to a fresh nonce. */
static void net_hello(client_t *cl, const ctlauth_key_t *key)
{
    cl->key = key;
    cl->roles = ROLE_REPORT;
    snprintf(cl->name, sizeof(cl->name), "vantage %s", key->name);
    ctlauth_nonce(cl->nonce);
    /* Not a health source yet: a HELLO is signed over no nonce, so a
     * recorded one replays. Only a line bound to this nonce (net_heard)
     * shows the vantage is there; until then its reports may go stale. */
    log_info("control: vantage %s says HELLO over the network", key->name);
    reply(cl, CTL_OK, "gslbd %d nonce=%s", CTL_VERSION, cl->nonce);
}

/* The first line bound to the connection's nonce: the vantage is there, and
 * its reports are its health source's from now on. */
static void net_heard(client_t *cl)
{
    control_t *c = cl->ctl;

    if (cl->source >= 0) {
        return;
    }
    cl->source = healthdb_source(c->health, cl->key->name);
    healthdb_source_link(c->health, cl->source, +1);
    log_info("control: vantage %s connected over the network", cl->key->name);
}

static void on_line(void *arg, char *line)
{
    client_t *cl = arg;
    const char *why = NULL;
    const ctlauth_key_t *key = NULL;
    ctl_msg_t m;

    if (cl->closing || client_drowning(cl)) {
        return;
    }
    if (cl->wait != WAIT_NONE) {
        hold_line(cl, line);
        return;
    }
    cl->active_ms = now_ms(cl->ctl);
    if (cl->net && !net_admit(cl, line, &key)) {
        return;
    }
    if (ctl_parse(line, &m, &why) < 0) {
        if (m.verb == CTL_DATA) {
            char verb[32];
            snprintf(verb, sizeof(verb), "%.*s", (int)strcspn(m.text, " \t"), m.text);
            reply(cl, CTL_ERR, "unknown command '%s'", verb);
        } else {
            reply(cl, CTL_ERR, "%s", why);
        }
        return;
    }
    if (m.verb == CTL_NONE || (cl->net && !net_check(cl, &m, key))) {
        return;
    }
    if (cl->net && m.verb != CTL_HELLO) {
        net_heard(cl);
    }
    healthdb_heard(cl->ctl->health, cl->source, now_ms(cl->ctl));
    switch (m.verb) {
    case CTL_HELLO:
        if (cl->net) {
            net_hello(cl, key);
        } else {
            cmd_hello(cl, &m);
        }
        break;
    case CTL_MEMBER:
        if (client_may(cl, ROLE_REPORT, "MEMBER")) {
            cmd_member(cl, &m);
        }
        break;
    case CTL_LOAD:
        if (client_may(cl, ROLE_REPORT, "LOAD")) {
            cmd_load(cl, &m);
        }
        break;
    case CTL_CANARY:
        if (client_may(cl, ROLE_REPORT, "CANARY")) {
            cmd_canary(cl, &m);
        }
        break;
    case CTL_SYNCED:
        if (client_may(cl, ROLE_REPORT, "SYNCED")) {
            healthdb_synced(cl->ctl->health, cl->source, now_ms(cl->ctl));
            reply_ok(cl);
        }
        break;
    case CTL_PING:
        reply_ok(cl);
        break;
    case CTL_STATUS:
        cmd_status(cl, &m);
        break;
    case CTL_EXPLAIN:
        cmd_explain(cl, &m);
        break;
    case CTL_SET:
        if (client_may(cl, ROLE_OPERATE, "SET")) {
            cmd_set(cl, &m);
        }
        break;
    case CTL_RELOAD:
        if (client_may(cl, ROLE_OPERATE, "RELOAD")) {
            cmd_reload(cl);
        }
        break;
    default:
        reply(cl, CTL_ERR, "'%s' is a reply, not a request", m.verb == CTL_OK ? "OK" : "ERR");
        break;
    }
}

static void client_closed(uv_handle_t *h)
{
    client_t *cl = h->data;
    control_t *c = cl->ctl;

    for (client_t **p = &c->clients; *p != NULL; p = &(*p)->next) {
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    }
    if (cl->net) {
        c->n_net_clients--;
    } else {
        c->n_clients--;
    }
    free(cl->held);
    free(cl);
}

static void client_close(client_t *cl)
{
    if (!cl->closing) {
        cl->closing = true;
        healthdb_source_link(cl->ctl->health, cl->source, -1);
        cl->source = -1;
        uv_close((uv_handle_t *)&cl->h, client_closed);
    }
}

static void client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char chunk[4096]; /* main loop only: consumed before the next read */
    (void)h;
    (void)hint;
    *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client_t *cl = s->data;

    if (nread < 0) {
        client_close(cl);
        return;
    }
    if (ctl_feed(&cl->lines, buf->base, (size_t)nread, on_line, cl) < 0 && !cl->closing) {
        reply(cl, CTL_ERR, "line too long");
        client_close(cl);
    }
}

/* Is a peer with primary group `gid` in group `want`? Its supplementary
 * groups come from SO_PEERGROUPS. */
static bool peer_in_group(int fd, gid_t gid, gid_t want)
{
    gid_t groups[64];
    socklen_t len = sizeof(groups);

    if (gid == want) {
        return true;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
        return false;
    }
    for (size_t i = 0; i < len / sizeof(gid_t); i++) {
        if (groups[i] == want) {
            return true;
        }
    }
    return false;
}

static void client_roles(client_t *cl)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    cl->roles = ROLE_READ;
    cl->uid = (unsigned long)-1;
    if (uv_fileno((uv_handle_t *)&cl->h, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        return;
    }
    cl->uid = cred.uid;
    if (cred.uid == 0 || cred.uid == geteuid()) {
        cl->roles |= ROLE_OPERATE | ROLE_REPORT;
    } else if (peer_in_group(fd, cred.gid, cl->ctl->group)) {
        cl->roles |= ROLE_OPERATE;
    }
}

/* Is a silent longer than b? Clients accepted in one loop turn share a
 * time; the one accepted first has waited longest. */
static bool silent_longer(const client_t *a, const client_t *b)
{
    return a->active_ms < b->active_ms || (a->active_ms == b->active_ms && a->seq < b->seq);
}

/* The connections are all taken by others than `newcomer`: close the one
 * silent the longest, unless it is a healthd heard from just now. The
 * newcomer itself is never chosen: after a stall, the kernel's backlog is
 * accepted in one loop turn at one time, and the last in it (often a
 * gslbctl queued behind silent connections) must not close itself.
 * Returns false when none may go. */
static bool make_room(control_t *c, const client_t *newcomer)
{
    uint64_t now = now_ms(c);
    client_t *victim = NULL;

    for (client_t *cl = c->clients; cl != NULL; cl = cl->next) {
        bool busy = ((cl->roles & ROLE_REPORT) && cl->source >= 0 &&
                     now - cl->active_ms < CONTROL_BUSY_MS) ||
                    cl->wait != WAIT_NONE;
        /* Network clients make room among themselves: connections from
         * anywhere must not push out local ones, nor the reverse. */
        if (cl != newcomer && cl->net == newcomer->net && !cl->closing && !busy &&
            (victim == NULL || silent_longer(cl, victim))) {
            victim = cl;
        }
    }
    if (victim == NULL) {
        return false;
    }
    if (log_ratelimit(&c->warn_rate, 1)) {
        log_warn("control: %u connections: closing %s (uid %lu), silent for %.1f s", c->n_clients,
                 victim->name, victim->uid, (double)(now - victim->active_ms) / 1000.0);
    }
    client_close(victim);
    return true;
}

/* A new client on the local socket or, `net`, a --control-listen one. */
static void accept_client(uv_stream_t *server, int status, bool net)
{
    control_t *c = server->data;
    client_t *cl;

    if (status < 0 || (cl = calloc(1, sizeof(*cl))) == NULL) {
        /* Out of descriptors or memory: libuv would try again at once, for
         * ever, or stop listening. Pause instead (listener.h). */
        listener_pause(server, CONTROL_BACKLOG, status < 0 ? status : UV_ENOMEM);
        return;
    }
    cl->ctl = c;
    cl->source = -1;
    cl->active_ms = now_ms(c);
    cl->seq = c->accepted++;
    cl->net = net;
    snprintf(cl->name, sizeof(cl->name), "client");
    if (net) {
        uv_tcp_init(server->loop, &cl->h.tcp);
    } else {
        uv_pipe_init(server->loop, &cl->h.pipe, 0);
    }
    cl->h.pipe.data = cl; /* the handle's data, whichever it is */
    cl->next = c->clients;
    c->clients = cl;
    unsigned *count = net ? &c->n_net_clients : &c->n_clients;
    (*count)++;
    if (uv_accept(server, (uv_stream_t *)&cl->h) < 0) {
        client_close(cl);
        return;
    }
    if (net) {
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        char host[INET6_ADDRSTRLEN] = "?";
        if (uv_tcp_getpeername(&cl->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
            uv_ip_name((struct sockaddr *)&ss, host, sizeof(host));
        }
        snprintf(cl->name, sizeof(cl->name), "%s", host);
    } else {
        client_roles(cl);
    }
    if (*count - 1 >= CONTROL_CLIENTS_MAX && !make_room(c, cl)) {
        client_close(cl);
        return;
    }
    if (uv_read_start((uv_stream_t *)&cl->h, client_alloc, client_read) < 0) {
        client_close(cl);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    accept_client(server, status, false);
}

static void on_net_connection(uv_stream_t *server, int status)
{
    accept_client(server, status, true);
}

static void on_tick(uv_timer_t *t)
{
    control_t *c = t->data;
    uint64_t now = now_ms(c);

    healthdb_tick(c->health, now);
    for (client_t *cl = c->clients; cl != NULL; cl = cl->next) {
        if (!cl->closing && cl->net && cl->key == NULL && now - cl->active_ms > CONTROL_AUTH_MS) {
            log_debug("control: closing %s: no HELLO in %.0f s", cl->name,
                      (double)(now - cl->active_ms) / 1000.0);
            client_close(cl);
        }
        if (!cl->closing && cl->wait == WAIT_NONE && now - cl->active_ms > CONTROL_IDLE_MS) {
            log_debug("control: closing %s (uid %lu): silent for %.0f s", cl->name, cl->uid,
                      (double)(now - cl->active_ms) / 1000.0);
            client_close(cl);
        }
    }
}

/* A socket file left by a gslbd that died is removed; one a live gslbd
 * answers on is not stolen. */
static int remove_stale(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd, r;

    if (access(path, F_OK) != 0) {
        return 0;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    close(fd);
    if (r == 0) {
        return -EADDRINUSE;
    }
    return unlink(path) == 0 ? 0 : -errno;
}

/* The socket belongs to gslbd's user and the control group (it is made
 * while gslbd may still be root), owner and group read-write only. */
static int control_own(const control_config_t *cfg)
{
    if ((cfg->owner != (uid_t)-1 || cfg->group != (gid_t)-1) &&
        chown(cfg->path, cfg->owner, cfg->group) < 0) {
        return -errno;
    }
    return 0;
}

/* --control-listen: the keys, then a TCP listener per address. */
static int control_listen_net(control_t *c, uv_loop_t *loop, const control_config_t *cfg,
                              diag_t *errs)
{
    int r;

    if (cfg->n_listen == 0) {
        return 0;
    }
    if (cfg->keys_file == NULL) {
        diag_error(errs, NULL,
                   "--control-listen needs --control-keys FILE: every vantage's key "
                   "(gslbctl keygen VANTAGE writes one)");
        return GSLB_ECONFIG;
    }
    if ((r = ctlauth_keys_load(cfg->keys_file, &c->keys, errs)) < 0) {
        return r;
    }
    c->nets = xcalloc(cfg->n_listen, sizeof(*c->nets));
    for (size_t i = 0; i < cfg->n_listen; i++) {
        uv_tcp_init(loop, &c->nets[i]);
        c->nets[i].data = c;
        c->n_nets++;
        if ((r = uv_tcp_bind(&c->nets[i], (const struct sockaddr *)&cfg->listen[i], 0)) < 0 ||
            (r = uv_listen((uv_stream_t *)&c->nets[i], CONTROL_BACKLOG, on_net_connection)) < 0) {
            char where[INET6_ADDRSTRLEN + 16];
            addr_text(&cfg->listen[i], where, sizeof(where));
            diag_error(errs, NULL, "--control-listen %s: %s", where, uv_strerror(r));
            return r;
        }
    }
    return 0;
}

int control_new(uv_loop_t *loop, const control_config_t *cfg, const control_env_t *env,
                control_t **out, diag_t *errs)
{
    control_t *c = xcalloc(1, sizeof(*c));
    const char *path = cfg->path;
    int r;

    c->path = xstrdup(path);
    c->group = cfg->group != (gid_t)-1 ? cfg->group : getegid();
    c->env = *env;
    c->health = env->health;
    if ((r = remove_stale(path)) < 0) {
        diag_error(errs, NULL, "--control %s: %s%s", path, gslb_strerror(r),
                   r == -EADDRINUSE ? " (another gslbd is using it)" : "");
        free(c->path);
        free(c);
        return r;
    }
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    mode_t old = umask(0117); /* the socket: owner and group only */
    r = uv_pipe_bind(&c->server, path);
    umask(old);
    if (r == 0 && (r = control_own(cfg)) < 0) {
        diag_error(errs, NULL, "--control %s: cannot give it to its user and group: %s", path,
                   gslb_strerror(r));
        uv_close((uv_handle_t *)&c->server, NULL);
        *out = c;
        return r;
    }
    if (r == 0) {
        r = uv_listen((uv_stream_t *)&c->server, CONTROL_BACKLOG, on_connection);
    }
    if (r < 0) {
        diag_error(errs, NULL, "--control %s: %s", path, uv_strerror(r));
        uv_close((uv_handle_t *)&c->server, NULL);
        c->path[0] = '\0'; /* not ours to unlink */
        *out = c;
        return r;
    }
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, 1000, 1000);
    *out = c;
    return control_listen_net(c, loop, cfg, errs);
}

void control_close(control_t *c)
{
    if (c == NULL) {
        return;
    }
    for (client_t *cl = c->clients; cl != NULL; cl = cl->next) {
        client_close(cl);
    }
    if (!uv_is_closing((uv_handle_t *)&c->server)) {
        uv_close((uv_handle_t *)&c->server, NULL);
    }
    for (size_t i = 0; i < c->n_nets; i++) {
        if (!uv_is_closing((uv_handle_t *)&c->nets[i])) {
            uv_close((uv_handle_t *)&c->nets[i], NULL);
        }
    }
    if (uv_is_active((uv_handle_t *)&c->tick)) {
        uv_close((uv_handle_t *)&c->tick, NULL);
    }
    if (c->path[0] != '\0') {
        unlink(c->path);
    }
}

/* After the loop has run the close callbacks. */
void control_free(control_t *c)
{
    if (c != NULL) {
        ctlauth_keys_free(&c->keys);
        free(c->nets);
        free(c->path);
        free(c);
    }
}

void control_reload_started(control_t *c)
{
    for (client_t *cl = c != NULL ? c->clients : NULL; cl != NULL; cl = cl->next) {
        if (cl->wait == WAIT_QUEUED) {
            cl->wait = WAIT_RUNNING;
        }
    }
}

void control_reload_done(control_t *c, const char *lines, bool ok, const char *text)
{
    /* Those this reload answers, picked first: a held request of one may
     * start the next reload at once, and mark others running for that. */
    for (client_t *cl = c != NULL ? c->clients : NULL; cl != NULL; cl = cl->next) {
        if (cl->wait == WAIT_RUNNING) {
            cl->wait = WAIT_ANSWERED;
        }
    }
    for (client_t *cl = c != NULL ? c->clients : NULL; cl != NULL; cl = cl->next) {
        if (cl->wait == WAIT_ANSWERED && !cl->closing) {
            reply_lines(cl, lines, lines ? strlen(lines) : 0, ok ? CTL_OK : CTL_ERR, text);
            client_resume(cl);
        }
    }
}
