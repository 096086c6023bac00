/*
 * control: gslbd's control socket (--control PATH), the server side of the
 * protocol in common/control.h. healthd reports member health here; gslbctl
 * reads status and sets overrides. It runs on the main loop only and changes
 * nothing but health slots (health.c), which the workers read atomically.
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
#include "gslbd/engine/select.h"
#include "gslbd/server/listener.h"

#define CONTROL_CLIENTS_MAX 64

typedef struct client client_t;
struct client {
    uv_pipe_t pipe;
    control_t *ctl;
    ctl_lines_t lines;
    int source; /* health source index after HELLO, -1 before */
    char name[32];
    client_t *next;
};

struct control {
    uv_pipe_t server;
    uv_timer_t tick;
    healthdb_t *health;
    const snapshot_t *(*current)(void *arg);
    void *arg;
    client_t *clients;
    unsigned n_clients;
    char *path;
};

static uint64_t now_ms(const control_t *c)
{
    return uv_now(c->server.loop);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Send text (several lines) to a client; the buffer travels with the request. */
static void client_send(client_t *cl, const char *text, size_t len)
{
    uv_write_t *req = malloc(sizeof(*req) + len);

    if (req == NULL) {
        return;
    }
    memcpy(req + 1, text, len);
    uv_buf_t buf = uv_buf_init((char *)(req + 1), (unsigned)len);
    if (uv_write(req, (uv_stream_t *)&cl->pipe, &buf, 1, on_written) < 0) {
        free(req);
    }
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

static void status_member(FILE *f, const healthdb_slot_t *s, const char *addr, uint64_t now)
{
    health_state_t st = atomic_load(&s->state);
    health_override_t ov = atomic_load(&s->override);

    fprintf(f, "  member %-24s %-7s override %s", addr, health_state_name(st),
            health_override_name(ov));
    if (s->changed_ms != 0) {
        fprintf(f, ", for %.0f s", (double)(now - s->changed_ms) / 1000.0);
    }
    if (s->reason[0] != '\0') {
        fprintf(f, " (%s)", s->reason);
    }
    fputc('\n', f);
}

/* STATUS: every served zone's regions with their computed state, then their
 * members as healthd reported them. */
static void cmd_status(client_t *cl)
{
    const snapshot_t *snap = cl->ctl->current(cl->ctl->arg);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    uint64_t now = now_ms(cl->ctl);

    if (f == NULL) {
        reply(cl, CTL_ERR, "out of memory");
        return;
    }
    for (size_t z = 0; snap && z < snap->n_zones; z++) {
        const zone_rt_t *zr = &snap->zones[z];
        for (size_t i = 0; i < zr->n_regions; i++) {
            const region_rt_t *r = zr->regions[i];
            unsigned up = select_members_up(r);
            bool is_up = select_region_up(r);
            fprintf(f, "region %s %s %s, %u/%u members up (min_up %u), weight %u, override %s\n",
                    zr->name, r->name, is_up ? "up" : "DOWN", up, (unsigned)(r->n4 + r->n6),
                    r->min_up, r->weight, health_override_name(healthdb_region_override(r->slot)));
            char addr[64];
            for (unsigned k = 0; k < r->n4; k++) {
                if (r->s4[k] != NULL) {
                    status_member(f, r->s4[k], r->s4[k]->member, now);
                }
            }
            for (unsigned k = 0; k < r->n6; k++) {
                if (r->s6[k] != NULL) {
                    snprintf(addr, sizeof(addr), "%s", r->s6[k]->member);
                    status_member(f, r->s6[k], addr, now);
                }
            }
        }
    }
    char ok[8];
    if (ctl_format(&(ctl_msg_t){.verb = CTL_OK}, ok, sizeof(ok)) > 0) {
        fputs(ok, f);
    }
    fclose(f);
    client_send(cl, text, len);
    free(text);
}

static void cmd_set(client_t *cl, const ctl_msg_t *m)
{
    const char *zone = strcmp(m->zone, "*") == 0 ? NULL : m->zone;
    int n = healthdb_override(cl->ctl->health, zone, m->region, m->member, m->override);

    if (n < 0) {
        reply(cl, CTL_ERR, "no %s '%s%s%s' in the served zones", m->member ? "member" : "region",
              m->region, m->member ? "/" : "", m->member ? m->member : "");
        return;
    }
    log_info("control: %s set %s on %s%s%s%s%s", cl->name, health_override_name(m->override),
             zone ? zone : "", zone ? " " : "", m->region, m->member ? " " : "",
             m->member ? m->member : "");
    reply(cl, CTL_OK, "%d", n);
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
        reply(cl, CTL_ERR, "no member %s %s %s is served (kept for a later reload)", m->zone,
              m->region, m->member);
        return;
    }
    reply(cl, CTL_OK, "%s", "");
}

static void cmd_hello(client_t *cl, const ctl_msg_t *m)
{
    snprintf(cl->name, sizeof(cl->name), "%s", m->peer);
    cl->source = healthdb_source(cl->ctl->health, m->peer);
    healthdb_heard(cl->ctl->health, cl->source, now_ms(cl->ctl));
    reply(cl, CTL_OK, "gslbd %d", CTL_VERSION);
}

static void on_line(void *arg, char *line)
{
    client_t *cl = arg;
    const char *why = NULL;
    ctl_msg_t m;

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
    if (m.verb == CTL_NONE) {
        return;
    }
    healthdb_heard(cl->ctl->health, cl->source, now_ms(cl->ctl));
    switch (m.verb) {
    case CTL_HELLO:
        cmd_hello(cl, &m);
        break;
    case CTL_MEMBER:
        cmd_member(cl, &m);
        break;
    case CTL_SYNCED:
    case CTL_PING:
        reply(cl, CTL_OK, "%s", "");
        break;
    case CTL_STATUS:
        cmd_status(cl);
        break;
    case CTL_SET:
        cmd_set(cl, &m);
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
    c->n_clients--;
    free(cl);
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
        uv_close((uv_handle_t *)s, client_closed);
        return;
    }
    if (ctl_feed(&cl->lines, buf->base, (size_t)nread, on_line, cl) < 0) {
        reply(cl, CTL_ERR, "line too long");
        uv_close((uv_handle_t *)s, client_closed);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    control_t *c = server->data;
    client_t *cl;

    if (status < 0 || (cl = calloc(1, sizeof(*cl))) == NULL) {
        /* Out of descriptors or memory: libuv would try again at once, for
         * ever, or stop listening. Pause instead (listener.h); 16 is
         * control_new()'s backlog. */
        listener_pause(server, 16, status < 0 ? status : UV_ENOMEM);
        return;
    }
    cl->ctl = c;
    cl->source = -1;
    snprintf(cl->name, sizeof(cl->name), "client");
    uv_pipe_init(server->loop, &cl->pipe, 0);
    cl->pipe.data = cl;
    cl->next = c->clients;
    c->clients = cl;
    c->n_clients++;
    if (uv_accept(server, (uv_stream_t *)&cl->pipe) < 0 || c->n_clients > CONTROL_CLIENTS_MAX) {
        uv_close((uv_handle_t *)&cl->pipe, client_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&cl->pipe, client_alloc, client_read);
}

static void on_tick(uv_timer_t *t)
{
    control_t *c = t->data;
    healthdb_tick(c->health, now_ms(c));
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

int control_new(uv_loop_t *loop, const char *path, healthdb_t *health,
                const snapshot_t *(*current)(void *arg), void *arg, control_t **out, diag_t *errs)
{
    control_t *c = xcalloc(1, sizeof(*c));
    int r;

    c->path = xstrdup(path);
    c->health = health;
    c->current = current;
    c->arg = arg;
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
    if (r == 0) {
        r = uv_listen((uv_stream_t *)&c->server, 16, on_connection);
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
    return 0;
}

void control_close(control_t *c)
{
    if (c == NULL) {
        return;
    }
    for (client_t *cl = c->clients; cl != NULL; cl = cl->next) {
        uv_close((uv_handle_t *)&cl->pipe, client_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&c->server)) {
        uv_close((uv_handle_t *)&c->server, NULL);
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
        free(c->path);
        free(c);
    }
}
