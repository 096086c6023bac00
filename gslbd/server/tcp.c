/*
 * tcp: a TCP loop thread, its listeners and connections; see tcp.h.
 */
#include "gslbd/server/tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "gslbd/engine/engine.h"
#include "gslbd/server/listener.h"

#define TCP_RX_SIZE 8192 /* a query message larger than this closes the connection */
#define TCP_BACKLOG 256

typedef struct conn conn_t;
struct conn {
    uv_tcp_t tcp;
    uv_write_t wreq;
    tcp_loop_t *w;
    conn_t *next, *prev; /* open list, most recently active first; free list via next */
    size_t rlen;
    uint64_t active_ms; /* loop time it was opened or last completed a query */
    struct sockaddr_storage peer;
    qstats_flow_t *flow; /* the counters of its address family */
    bool writing, closing;
    bool accepted; /* counted as accepted: its close is counted too */
    uint8_t rbuf[TCP_RX_SIZE];
    uint8_t wbuf[2 + ENCODE_TCP_MAX];
};

struct tcp_loop {
    uv_loop_t loop;
    uv_thread_t thread;
    bool started, stopping;
    uv_async_t wake;
    uv_timer_t sweep; /* closes idle connections */
    uv_tcp_t *listeners;
    int *fds; /* listening sockets not yet attached to the loop, or -1 */
    size_t n_listen;
    conn_t *active, *oldest, *free;          /* open list head and tail, free list */
    unsigned n_conns, max_conns, timeout_ms; /* n_conns: open, not closing */
    reclaim_t *rc;
    reclaim_reader_t reader;
    const _Atomic bool *stop;
    answer_ctx_t ctx;
    qstats_t *qs;
};

/* The open list is kept in order of activity: the head completed a query last,
 * the tail (oldest) has been idle longest. */
static void conn_unlink(conn_t *c)
{
    tcp_loop_t *w = c->w;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->active = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    } else {
        w->oldest = c->prev;
    }
}

static void conn_push(conn_t *c)
{
    tcp_loop_t *w = c->w;

    c->prev = NULL;
    c->next = w->active;
    if (w->active != NULL) {
        w->active->prev = c;
    } else {
        w->oldest = c;
    }
    w->active = c;
}

/* A query completed: only that counts as activity, not a byte. */
static void conn_touch(conn_t *c)
{
    c->active_ms = uv_now(&c->w->loop);
    if (c->w->active != c) {
        conn_unlink(c);
        conn_push(c);
    }
}

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;

    c->next = c->w->free;
    c->w->free = c;
}

/* Off the open list and out of the count at once, counted as closed for
 * `why`; the memory is reused once libuv is done with the handle. */
static void conn_close(conn_t *c, qstats_close_t why)
{
    if (c->closing) {
        return;
    }
    if (c->accepted) {
        qstats_add(&c->w->qs->tcp_closed[why], 1);
    }
    c->closing = true;
    conn_unlink(c);
    c->w->n_conns--;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* RFC 7766 6.2.3: idle connections are closed. Idle means no query completed
 * since the connection opened or since its last query, however many bytes
 * trickle in meanwhile, so a message must be whole within the timeout (a
 * client sending a byte now and then, slowloris-style, cannot hold a slot).
 * One timer per worker looks at the idle end of the open list every
 * tcp_timeout/8, so a connection closes between 1 and 1.125 timeouts after its
 * last query; a timer per connection cost about a tenth of the instructions of
 * a one-query connection. */
static void tcp_on_sweep(uv_timer_t *t)
{
    tcp_loop_t *w = t->data;
    uint64_t now = uv_now(&w->loop);

    while (w->oldest != NULL && now - w->oldest->active_ms >= w->timeout_ms) {
        conn_close(w->oldest, QSTATS_CLOSE_IDLE);
    }
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_process(conn_t *c);

/* Reading was paused while the reply waited for the socket: answer the queries
 * already read, then read again, unless another reply is waiting by then. A
 * connection that cannot read again is closed rather than left hanging. */
static void conn_on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;

    c->writing = false;
    if (status < 0 || c->closing) {
        conn_close(c, QSTATS_CLOSE_ERROR);
        return;
    }
    conn_process(c);
    if (!c->writing && !c->closing &&
        uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read) < 0) {
        conn_close(c, QSTATS_CLOSE_ERROR);
    }
}

/* Answer every complete query in the buffer (RFC 7766 6.2.1.1: pipelining),
 * pausing reads while a reply waits for the socket. */
static void conn_process(conn_t *c)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;

    while (!c->writing && !c->closing && c->rlen >= 2) {
        size_t mlen = (size_t)c->rbuf[0] << 8 | c->rbuf[1];
        if (mlen + 2 > sizeof(c->rbuf)) {
            qstats_add(&c->flow->dropped[QSTATS_DROP_TOO_LARGE], 1);
            conn_close(c, QSTATS_CLOSE_ERROR);
            return;
        }
        if (c->rlen < mlen + 2) {
            return;
        }
        c->w->ctx.qflow = c->flow;
        size_t n =
            engine_reply(&c->w->ctx, reclaim_current(c->w->rc), (const struct sockaddr *)&c->peer,
                         c->rbuf + 2, mlen, c->wbuf + 2, true);
        conn_touch(c);
        c->rlen -= mlen + 2;
        memmove(c->rbuf, c->rbuf + mlen + 2, c->rlen);
        if (n == 0) {
            continue;
        }
        c->wbuf[0] = (uint8_t)(n >> 8);
        c->wbuf[1] = (uint8_t)n;
        uv_buf_t b = uv_buf_init((char *)c->wbuf, (unsigned)(n + 2));
        int r = uv_try_write(s, &b, 1);
        if (r == (int)(n + 2)) {
            continue;
        }
        if (r < 0 && r != UV_EAGAIN) {
            conn_close(c, QSTATS_CLOSE_ERROR);
            return;
        }
        r = r < 0 ? 0 : r;
        b = uv_buf_init((char *)c->wbuf + r, (unsigned)(n + 2 - (size_t)r));
        c->wreq.data = c;
        if (uv_read_stop(s) < 0 || uv_write(&c->wreq, s, &b, 1, conn_on_write) < 0) {
            conn_close(c, QSTATS_CLOSE_ERROR);
            return;
        }
        c->writing = true;
    }
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)hint;

    *buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(sizeof(c->rbuf) - c->rlen));
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    (void)buf;

    if (nread < 0) {
        /* The client's end of the stream, or its reset. */
        conn_close(c, nread == UV_EOF || nread == UV_ECONNRESET ? QSTATS_CLOSE_CLIENT
                                                                : QSTATS_CLOSE_ERROR);
        return;
    }
    c->rlen += (size_t)nread;
    conn_process(c);
}

/* A connection's memory (from the free list, else malloc), or NULL. */
static conn_t *conn_get(tcp_loop_t *w)
{
    conn_t *c = w->free;

    if (c != NULL) {
        w->free = c->next;
    } else if ((c = malloc(sizeof(*c))) == NULL) {
        return NULL;
    }
    c->w = w;
    return c;
}

/* A connection accepted into c's initialised handle: open and the most
 * recently active. */
static void conn_open(conn_t *c)
{
    c->tcp.data = c;
    c->rlen = 0;
    c->writing = c->closing = c->accepted = false;
    c->flow = &c->w->qs->flow[0];
    c->active_ms = uv_now(&c->w->loop);
    conn_push(c);
    c->w->n_conns++;
}

/* RFC 7766 6.2.3: with every slot taken, the connection idle longest makes
 * room for the new one, so connections that hold slots without completing
 * queries cannot lock clients out. */
static void tcp_make_room(tcp_loop_t *w)
{
    static unsigned long long limit;
    conn_t *c = w->oldest;

    if (log_ratelimit(&limit, 1)) {
        log_warn("TCP connections: all %u of this thread's taken (--tcp-max): closed one "
                 "idle for %llu ms to make room",
                 w->max_conns, (unsigned long long)(uv_now(&w->loop) - c->active_ms));
    }
    conn_close(c, QSTATS_CLOSE_EVICTED);
}

/* A failed accept() (out of descriptors, say) or no memory for the
 * connection: libuv would call again at once, for ever, or stop listening,
 * so the listener pauses and tries again on a timer (listener.h). */
static void tcp_on_connection(uv_stream_t *server, int status)
{
    tcp_loop_t *w = server->data;
    conn_t *c;
    int r;

    if (status < 0) {
        listener_pause(server, TCP_BACKLOG, status);
        return;
    }
    if (w->n_conns >= w->max_conns && w->oldest != NULL) {
        tcp_make_room(w);
    }
    if ((c = conn_get(w)) == NULL) {
        listener_pause(server, TCP_BACKLOG, UV_ENOMEM);
        return;
    }
    if ((r = uv_tcp_init(&w->loop, &c->tcp)) < 0) { /* not without a domain; still */
        c->next = w->free;
        w->free = c;
        listener_pause(server, TCP_BACKLOG, r);
        return;
    }
    conn_open(c);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c, QSTATS_CLOSE_ERROR); /* not accepted: not counted */
        return;
    }
    c->accepted = true;
    qstats_add(&w->qs->tcp_accepted, 1);
    int plen = sizeof(c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &plen) < 0) {
        c->peer.ss_family = AF_UNSPEC;
    }
    /* IPv6 listeners are IPV6_V6ONLY (addr.h): no IPv4-mapped peers. */
    c->flow = &w->qs->flow[c->peer.ss_family == AF_INET6];
    (void)uv_tcp_nodelay(&c->tcp, 1); /* only a little slower without it */
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read) < 0) {
        conn_close(c, QSTATS_CLOSE_ERROR);
    }
}

static void tcp_close_all(tcp_loop_t *w)
{
    listener_stop(&w->loop); /* a paused listener is closed already */
    for (size_t i = 0; i < w->n_listen; i++) {
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i])) {
            uv_close((uv_handle_t *)&w->listeners[i], NULL);
        }
    }
    while (w->active != NULL) {
        conn_close(w->active, QSTATS_CLOSE_SHUTDOWN);
    }
    uv_close((uv_handle_t *)&w->sweep, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

/* Woken after a publication or to stop: whatever this loop held it has
 * dropped between callbacks, so it reports in (reclaim.h). */
static void tcp_on_wake(uv_async_t *a)
{
    tcp_loop_t *w = a->data;

    reclaim_quiescent(&w->reader, w->rc);
    if (atomic_load(w->stop) && !w->stopping) {
        w->stopping = true;
        tcp_close_all(w);
    }
}

static void tcp_main(void *arg)
{
    tcp_loop_t *w = arg;

    uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* Attach the bound sockets to the loop (at start, after privileges may have
 * been dropped). */
static int tcp_attach(tcp_loop_t *w)
{
    int r = uv_loop_init(&w->loop);

    if (r < 0 || (r = uv_async_init(&w->loop, &w->wake, tcp_on_wake)) < 0) {
        return r;
    }
    w->wake.data = w;
    uint64_t every = w->timeout_ms / 8;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_timer_start(&w->sweep, tcp_on_sweep, every, every);
    uv_unref((uv_handle_t *)&w->sweep); /* the loop runs as long as its listeners do */
    for (size_t i = 0; i < w->n_listen; i++) {
        uv_tcp_t *l = &w->listeners[i];
        if ((r = uv_tcp_init(&w->loop, l)) < 0) {
            return r;
        }
        l->data = w;
        if ((r = uv_tcp_open(l, w->fds[i])) < 0 ||
            (r = uv_listen((uv_stream_t *)l, TCP_BACKLOG, tcp_on_connection)) < 0) {
            return r;
        }
        w->fds[i] = -1; /* owned by the handle now */
    }
    return 0;
}

tcp_loop_t *tcp_loop_new(unsigned timeout_ms, unsigned max_conns, reclaim_t *rc,
                         const _Atomic bool *stop)
{
    tcp_loop_t *w = xcalloc(1, sizeof(*w));

    w->timeout_ms = timeout_ms;
    w->max_conns = max_conns;
    w->rc = rc;
    w->stop = stop;
    w->qs = qstats_new(true);
    w->ctx.qflow = &w->qs->flow[0];
    reclaim_add_reader(rc, &w->reader, true);
    return w;
}

answer_ctx_t *tcp_loop_ctx(tcp_loop_t *w)
{
    return &w->ctx;
}

const qstats_t *tcp_loop_qstats(const tcp_loop_t *w)
{
    return w->qs;
}

void tcp_loop_add(tcp_loop_t *w, int fd)
{
    w->fds = xreallocarray(w->fds, w->n_listen + 1, sizeof(*w->fds));
    w->listeners = xreallocarray(w->listeners, w->n_listen + 1, sizeof(*w->listeners));
    w->fds[w->n_listen++] = fd;
}

int tcp_loop_start(tcp_loop_t *w)
{
    int r = tcp_attach(w);

    if (r == 0 && (r = uv_thread_create(&w->thread, tcp_main, w)) == 0) {
        w->started = true;
    }
    return r;
}

void tcp_loop_wake(tcp_loop_t *w)
{
    if (w->started) {
        uv_async_send(&w->wake);
    }
}

void tcp_loop_free(tcp_loop_t *w)
{
    if (w == NULL) {
        return;
    }
    if (w->started) {
        uv_thread_join(&w->thread); /* its loop ends once tcp_loop_wake() saw the stop flag */
        uv_loop_close(&w->loop);
    }
    for (size_t i = 0; i < w->n_listen; i++) {
        if (w->fds[i] >= 0) {
            close(w->fds[i]);
        }
    }
    while (w->free != NULL) {
        conn_t *c = w->free;
        w->free = c->next;
        free(c);
    }
    free(w->fds);
    free(w->listeners);
    qstats_free(w->qs);
    free(w);
}
