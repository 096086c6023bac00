/*
 * server: sockets, worker threads and snapshot reclamation; see server.h.
 *
 * What it does not do: decide answers (answer.c) or load zones (main.c).
 */
#include "gslbd/server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "gslbd/engine/engine.h"
#include "common/log.h"

#define UDP_BATCH      32
#define UDP_RX_SIZE    4096 /* larger queries are dropped (nobody sends them) */
#define UDP_WAKE_MS    250  /* a blocked UDP thread looks at the stop flag this often */
#define TCP_RX_SIZE    8192 /* a query message larger than this closes the connection */
#define CMSG_SPACE_MAX 64

_Static_assert(UDP_RX_SIZE >= ENCODE_UDP_MAX, "UDP answers are written over their query");

typedef struct worker worker_t;

typedef struct conn conn_t;
struct conn {
    uv_tcp_t tcp;
    uv_write_t wreq;
    worker_t *w;
    conn_t *next, *prev; /* active list, or free list via next */
    size_t rlen;
    uint64_t active_ms; /* loop time of the last read */
    struct sockaddr_storage peer;
    bool writing, closing;
    uint8_t rbuf[TCP_RX_SIZE];
    uint8_t wbuf[2 + ENCODE_TCP_MAX];
};

/* One UDP socket of the SO_REUSEPORT group, served by its own thread that
 * blocks in recvmmsg(): no event loop between the kernel and the answer. */
typedef struct {
    server_t *srv;
    int fd;
    uv_thread_t thread;
    bool started;
    _Atomic uint64_t seen_gen; /* QSBR: UDP_OFFLINE while blocked in recvmmsg */
    answer_ctx_t ctx;
    bool pktinfo; /* a wildcard bind: replies leave from the query's address */
    int n_rx;     /* datagrams of the last batch, to rearm */
    struct mmsghdr rx[UDP_BATCH], tx[UDP_BATCH];
    struct iovec rx_iov[UDP_BATCH], tx_iov[UDP_BATCH];
    struct sockaddr_storage peer[UDP_BATCH];
    uint8_t rx_cmsg[UDP_BATCH][CMSG_SPACE_MAX], tx_cmsg[UDP_BATCH][CMSG_SPACE_MAX];
    uint8_t rx_buf[UDP_BATCH][UDP_RX_SIZE];
} udp_sock_t;

#define UDP_OFFLINE UINT64_MAX

struct worker {
    server_t *srv;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t sweep; /* closes idle TCP connections */
    _Atomic uint64_t seen_gen;
    udp_sock_t *udp;
    uv_tcp_t *tcp;
    int *tcp_fd;
    conn_t *active, *free;
    unsigned n_conns, max_conns;
    bool stopping;
    answer_ctx_t ctx;
};

typedef struct retired retired_t;
struct retired {
    snapshot_t *snap;
    uint64_t gen;
    retired_t *next;
};

struct server {
    server_config_t cfg;
    _Atomic(snapshot_t *) snap;
    _Atomic uint64_t gen;
    _Atomic bool stopping;
    worker_t *workers;
    unsigned n_workers;
    uv_async_t reclaim;
    uv_timer_t retry; /* reclamation retries while retired snapshots remain */
    int closes;       /* main-loop handles still closing in server_free() */
    bool started;
    retired_t *retired;
};

static inline snapshot_t *server_current(server_t *srv)
{
    return atomic_load_explicit(&srv->snap, memory_order_acquire);
}

/* ---- addresses ---- */

void server_addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
    }
}

int server_addr_parse(const char *text, struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon;
    char *end;
    size_t hlen;

    memset(ss, 0, sizeof(*ss));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            return -EINVAL;
        }
        hlen = (size_t)(close - text - 1);
        colon = close + 1;
        text++;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            return -EINVAL;
        }
        hlen = (size_t)(colon - text);
    }
    if (hlen >= sizeof(host)) {
        return -EINVAL;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || colon[1] == '\0' || port > 65535) {
        return -EINVAL;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -EINVAL;
}

static bool addr_is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6) {
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    }
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

/* A socket of the SO_REUSEPORT group for one address. */
static int socket_bind(const struct sockaddr_storage *ss, int type)
{
    int on = 1, fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (fd < 0) {
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0 ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (type == SOCK_DGRAM && addr_is_wildcard(ss)) {
        /* Replies must leave from the address the query came to. */
        if (ss->ss_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
        } else {
            setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
        }
    }
    if (type == SOCK_DGRAM) {
        int size = 4 << 20; /* absorb bursts; the kernel caps it at rmem_max */
        struct timeval wake = {0, UDP_WAKE_MS * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof(wake));
        /* blocking: the UDP threads wait in recvmmsg(), not in an event loop */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        (type == SOCK_STREAM && listen(fd, 256) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* SO_REUSEPORT would let a second gslbd (a forgotten one, with old zones)
 * silently share the port and answer half the queries. Bind once without it
 * first, so a port already in use is an error. Returns 0 or -errno. */
static int socket_probe(const struct sockaddr_storage *ss, int type)
{
    int on = 1, r = 0, fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0);
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (fd < 0) {
        return -errno;
    }
    if (ss->ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }
    if (type == SOCK_STREAM) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)); /* TIME_WAIT is fine */
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
        r = -errno;
    }
    close(fd);
    return r;
}

/* ---- UDP ---- */

/* Turn a received IP_PKTINFO/IPV6_PKTINFO into the one to send with, so the
 * reply's source is the query's destination. Returns the control length. */
static size_t udp_reply_cmsg(struct msghdr *in, uint8_t *out)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            pi.ipi_spec_dst = pi.ipi_addr;
            pi.ipi_ifindex = 0;
            struct cmsghdr *o = (struct cmsghdr *)out;
            o->cmsg_level = IPPROTO_IP;
            o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(o), &pi, sizeof(pi));
            return CMSG_SPACE(sizeof(pi));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct cmsghdr *o = (struct cmsghdr *)out;
            o->cmsg_level = IPPROTO_IPV6;
            o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
            return CMSG_SPACE(sizeof(struct in6_pktinfo));
        }
    }
    return 0;
}

/* recvmmsg and sendmmsg as plain system calls, returning -errno on failure.
 * glibc's wrappers are cancellation points: each call brackets the system
 * call with __pthread_enable/disable_asynccancel, about 60 instructions per
 * datagram when queries arrive one at a time. Our threads are never
 * cancelled (they stop on srv->stopping), so the bracket buys nothing. On
 * x86-64 the instruction itself is issued here (its ABI: number in rax,
 * arguments in rdi, rsi, rdx, r10, r8; rcx and r11 clobbered), which also
 * saves syscall()'s call and errno store; elsewhere syscall() does it. */
static inline long udp_syscall(long nr, long a, long b, long c, long d)
{
#if defined(__x86_64__) && defined(__linux__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
#else
    long ret = syscall(nr, a, b, c, d, 0L);
    return ret < 0 ? -errno : ret;
#endif
}

static inline int udp_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    return (int)udp_syscall(SYS_recvmmsg, fd, (long)v, n, flags); /* no timeout: SO_RCVTIMEO */
}

static inline int udp_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    return (int)udp_syscall(SYS_sendmmsg, fd, (long)v, n, flags);
}

/* Reset what the kernel changes in a receive header: its name and control
 * lengths. The pointers set once in udp_prepare() stay. */
static void udp_rearm(udp_sock_t *w, int i)
{
    w->rx[i].msg_hdr.msg_namelen = sizeof(w->peer[i]);
    w->rx[i].msg_hdr.msg_controllen = CMSG_SPACE_MAX;
}

static void udp_prepare(udp_sock_t *w)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        struct msghdr *m = &w->rx[i].msg_hdr;
        w->rx_iov[i].iov_base = w->rx_buf[i];
        w->rx_iov[i].iov_len = UDP_RX_SIZE;
        m->msg_iov = &w->rx_iov[i];
        m->msg_iovlen = 1;
        m->msg_name = &w->peer[i];
        m->msg_control = w->rx_cmsg[i];
        udp_rearm(w, i);
        w->tx[i].msg_hdr.msg_iov = &w->tx_iov[i];
        w->tx[i].msg_hdr.msg_iovlen = 1;
    }
}

static void udp_send(int fd, struct mmsghdr *tx, int n)
{
    static unsigned long long limit;
    int done = 0;

    while (done < n) {
        int r = udp_sendmmsg(fd, tx + done, (unsigned)(n - done), MSG_DONTWAIT);
        if (r < 0) {
            if (r == -EINTR) {
                continue;
            }
            if (log_ratelimit(&limit, 1)) {
                log_warn("UDP send failed, %d replies dropped: %s", n - done, gslb_strerror(r));
            }
            return;
        }
        done += r;
    }
}

/* Answer one batch of n datagrams from the snapshot being served now. */
static void udp_batch(udp_sock_t *w, int n)
{
    const snapshot_t *snap = server_current(w->srv);
    int out = 0;

    for (int i = 0; i < n; i++) {
        struct msghdr *m = &w->rx[i].msg_hdr;
        if (m->msg_flags & MSG_TRUNC) {
            continue;
        }
        size_t len = engine_reply(&w->ctx, snap, (const struct sockaddr *)&w->peer[i], w->rx_buf[i],
                                  w->rx[i].msg_len, w->rx_buf[i], false);
        if (len == 0) {
            continue;
        }
        struct msghdr *o = &w->tx[out].msg_hdr;
        w->tx_iov[out].iov_base = w->rx_buf[i]; /* answered in place */
        w->tx_iov[out].iov_len = len;
        o->msg_name = m->msg_name;
        o->msg_namelen = m->msg_namelen;
        o->msg_controllen = w->pktinfo ? udp_reply_cmsg(m, w->tx_cmsg[out]) : 0;
        o->msg_control = o->msg_controllen ? w->tx_cmsg[out] : NULL;
        out++;
    }
    udp_send(w->fd, w->tx, out); /* before rearming: tx names point into rx */
}

/* The UDP thread: block for the first datagram, take whatever else is
 * queued (MSG_WAITFORONE), answer the batch, repeat. Snapshot reclamation
 * (see server.h) treats the thread as quiescent while it is blocked: it is
 * "offline" then, and "online" at the generation it read while it answers. */
static void udp_main(void *arg)
{
    udp_sock_t *w = arg;
    server_t *srv = w->srv;

    while (!atomic_load(&srv->stopping)) {
        for (int i = 0; i < w->n_rx; i++) {
            udp_rearm(w, i);
        }
        atomic_store(&w->seen_gen, UDP_OFFLINE);
        int n = udp_recvmmsg(w->fd, w->rx, UDP_BATCH, MSG_WAITFORONE);
        w->n_rx = n > 0 ? n : 0;
        if (n <= 0) {
            continue; /* the UDP_WAKE_MS timeout, a signal, or an error to ride out */
        }
        atomic_store(&w->seen_gen, atomic_load(&srv->gen));
        udp_batch(w, n);
    }
    atomic_store(&w->seen_gen, UDP_OFFLINE);
}

/* ---- TCP ---- */

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    worker_t *w = c->w;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        w->active = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->next = w->free;
    w->free = c;
    w->n_conns--;
}

static void conn_close(conn_t *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* RFC 7766 6.2.3: idle connections are closed. One timer per worker walks
 * its connections every tcp_timeout/8, so a connection closes between 1 and
 * 1.125 timeouts after its last activity; a timer per connection cost about
 * a tenth of the instructions of a one-query connection. */
static void worker_on_sweep(uv_timer_t *t)
{
    worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop), limit = w->srv->cfg.tcp_timeout_ms;

    for (conn_t *c = w->active, *next; c != NULL; c = next) {
        next = c->next;
        if (now - c->active_ms >= limit) {
            conn_close(c);
        }
    }
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_process(conn_t *c);

static void conn_on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;

    c->writing = false;
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, NULL, conn_on_read);
    conn_process(c);
}

/* Answer every complete query in the buffer (RFC 7766 6.2.1.1: pipelining),
 * pausing reads while a reply waits for the socket. */
static void conn_process(conn_t *c)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;

    while (!c->writing && !c->closing && c->rlen >= 2) {
        size_t mlen = (size_t)c->rbuf[0] << 8 | c->rbuf[1];
        if (mlen + 2 > sizeof(c->rbuf)) {
            conn_close(c);
            return;
        }
        if (c->rlen < mlen + 2) {
            return;
        }
        size_t n =
            engine_reply(&c->w->ctx, server_current(c->w->srv), (const struct sockaddr *)&c->peer,
                         c->rbuf + 2, mlen, c->wbuf + 2, true);
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
            conn_close(c);
            return;
        }
        r = r < 0 ? 0 : r;
        b = uv_buf_init((char *)c->wbuf + r, (unsigned)(n + 2 - (size_t)r));
        c->writing = true;
        c->wreq.data = c;
        uv_read_stop(s);
        if (uv_write(&c->wreq, s, &b, 1, conn_on_write) < 0) {
            c->writing = false;
            conn_close(c);
            return;
        }
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
        conn_close(c);
        return;
    }
    c->rlen += (size_t)nread;
    c->active_ms = uv_now(&c->w->loop);
    conn_process(c);
}

static conn_t *conn_get(worker_t *w)
{
    conn_t *c = w->free;

    if (c != NULL) {
        w->free = c->next;
    } else {
        c = malloc(sizeof(*c));
        if (c == NULL) {
            return NULL;
        }
    }
    c->w = w;
    c->rlen = 0;
    c->writing = c->closing = false;
    c->prev = NULL;
    c->next = w->active;
    if (w->active != NULL) {
        w->active->prev = c;
    }
    w->active = c;
    w->n_conns++;
    return c;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* Over the cap: take the connection and close it at once, so the client is
 * told now rather than left in the backlog. It must go through uv_accept():
 * libuv has already accepted it and pauses the listener until it is taken. */
static void tcp_reject(worker_t *w, uv_stream_t *server)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    static unsigned long long limit;

    if (t == NULL) {
        return;
    }
    uv_tcp_init(&w->loop, t);
    uv_accept(server, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, free_handle);
    if (log_ratelimit(&limit, 1)) {
        log_warn("TCP connection refused: %u connections open on this thread (--tcp-max)",
                 w->n_conns);
    }
}

static void tcp_on_connection(uv_stream_t *server, int status)
{
    worker_t *w = server->data;
    conn_t *c;

    if (status < 0) {
        return;
    }
    if (w->n_conns >= w->max_conns || (c = conn_get(w)) == NULL) {
        tcp_reject(w, server);
        return;
    }
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    c->active_ms = uv_now(&w->loop);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    int plen = sizeof(c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &plen) < 0) {
        c->peer.ss_family = AF_UNSPEC;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read);
}

/* ---- workers ---- */

static void worker_close_all(worker_t *w)
{
    for (size_t i = 0; i < w->srv->cfg.n_listen; i++) {
        uv_close((uv_handle_t *)&w->tcp[i], NULL);
    }
    for (conn_t *c = w->active; c != NULL; c = c->next) {
        conn_close(c);
    }
    uv_close((uv_handle_t *)&w->sweep, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

static void worker_on_wake(uv_async_t *a)
{
    worker_t *w = a->data;
    server_t *srv = w->srv;

    atomic_store(&w->seen_gen, atomic_load(&srv->gen));
    uv_async_send(&srv->reclaim);
    if (atomic_load(&srv->stopping) && !w->stopping) {
        w->stopping = true;
        worker_close_all(w);
    }
}

static void worker_main(void *arg)
{
    worker_t *w = arg;

    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static int worker_init(server_t *srv, worker_t *w)
{
    size_t n = srv->cfg.n_listen;

    w->srv = srv;
    w->ctx.rng = (uv_hrtime() ^ ((uint64_t)(uintptr_t)w << 16)) | 1;
    w->udp = calloc(n, sizeof(*w->udp));
    w->tcp = calloc(n, sizeof(*w->tcp));
    w->tcp_fd = calloc(n, sizeof(*w->tcp_fd));
    if (w->udp == NULL || w->tcp == NULL || w->tcp_fd == NULL) {
        return -ENOMEM;
    }
    w->max_conns = (srv->cfg.tcp_max + srv->n_workers - 1) / srv->n_workers;
    for (size_t i = 0; i < n; i++) {
        udp_sock_t *u = &w->udp[i];
        u->srv = srv;
        u->fd = w->tcp_fd[i] = -1;
        u->ctx.rng = (uv_hrtime() ^ ((uint64_t)(uintptr_t)u << 16)) | 1;
        atomic_store(&u->seen_gen, UDP_OFFLINE);
        udp_prepare(u);
    }
    for (size_t i = 0; i < n; i++) {
        int fd = socket_bind(&srv->cfg.listen[i], SOCK_DGRAM);
        if (fd < 0) {
            return fd;
        }
        w->udp[i].fd = fd;
        w->udp[i].pktinfo = addr_is_wildcard(&srv->cfg.listen[i]);
        fd = socket_bind(&srv->cfg.listen[i], SOCK_STREAM);
        if (fd < 0) {
            return fd;
        }
        w->tcp_fd[i] = fd;
    }
    return 0;
}

/* Attach the bound sockets to the worker's loop (done in server_start, after
 * privileges may have been dropped). */
static int worker_attach(worker_t *w)
{
    int r = uv_loop_init(&w->loop);

    if (r < 0) {
        return r;
    }
    uv_async_init(&w->loop, &w->wake, worker_on_wake);
    w->wake.data = w;
    uint64_t every = w->srv->cfg.tcp_timeout_ms / 8;
    uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    uv_timer_start(&w->sweep, worker_on_sweep, every, every);
    uv_unref((uv_handle_t *)&w->sweep); /* the loop runs as long as its listeners do */
    for (size_t i = 0; i < w->srv->cfg.n_listen; i++) {
        uv_tcp_init(&w->loop, &w->tcp[i]);
        w->tcp[i].data = w;
        if ((r = uv_tcp_open(&w->tcp[i], w->tcp_fd[i])) < 0 ||
            (r = uv_listen((uv_stream_t *)&w->tcp[i], 256, tcp_on_connection)) < 0) {
            return r;
        }
        w->tcp_fd[i] = -1; /* owned by the handle now */
    }
    return 0;
}

/* ---- server ---- */

static void server_on_retry(uv_timer_t *t);

/* Free the retired snapshots no thread can still be using: every loop
 * worker has seen their retirement, and every UDP thread either has too or
 * is blocked (offline). While some are left, try again shortly: UDP threads
 * do not wake the main loop. */
static void server_try_reclaim(server_t *srv)
{
    uint64_t min = UINT64_MAX;
    bool freed = false;

    for (unsigned i = 0; i < srv->n_workers; i++) {
        const worker_t *w = &srv->workers[i];
        uint64_t g = atomic_load(&w->seen_gen);
        min = g < min ? g : min;
        for (size_t k = 0; k < srv->cfg.n_listen; k++) {
            g = atomic_load(&w->udp[k].seen_gen);
            min = g < min ? g : min; /* UDP_OFFLINE never lowers it */
        }
    }
    for (retired_t **p = &srv->retired; *p != NULL;) {
        retired_t *r = *p;
        if (r->gen <= min) {
            *p = r->next;
            snapshot_free(r->snap);
            free(r);
            freed = true;
        } else {
            p = &r->next;
        }
    }
    if (freed) {
        malloc_trim(0); /* the old zone models were freed too: give it all back */
    }
    if (srv->retired == NULL) {
        uv_timer_stop(&srv->retry);
    } else if (!uv_is_active((uv_handle_t *)&srv->retry)) {
        uv_timer_start(&srv->retry, server_on_retry, 20, 20);
    }
}

static void server_on_retry(uv_timer_t *t)
{
    server_try_reclaim(t->data);
}

static void server_reclaim(uv_async_t *a)
{
    server_try_reclaim(a->data);
}

int server_new(const server_config_t *cfg, server_t **out, diag_t *errs)
{
    server_t *srv = calloc(1, sizeof(*srv));

    if (srv == NULL) {
        return -ENOMEM;
    }
    srv->cfg = *cfg;
    srv->n_workers = cfg->threads;
    srv->workers = calloc(cfg->threads, sizeof(*srv->workers));
    if (srv->workers == NULL) {
        free(srv);
        return -ENOMEM;
    }
    for (size_t k = 0; k < cfg->n_listen; k++) {
        int r = socket_probe(&cfg->listen[k], SOCK_DGRAM);
        if (r == 0) {
            r = socket_probe(&cfg->listen[k], SOCK_STREAM);
        }
        if (r < 0) {
            char addr[64];
            server_addr_text(&cfg->listen[k], addr, sizeof(addr));
            diag_error(errs, NULL, "cannot listen on %s: %s%s", addr, gslb_strerror(r),
                       r == -EADDRINUSE ? " (is another DNS server running there?)" : "");
            free(srv->workers);
            free(srv);
            return r;
        }
    }
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int r = worker_init(srv, &srv->workers[i]);
        if (r < 0) {
            char addr[64] = "";
            for (size_t k = 0; k < cfg->n_listen; k++) {
                if (srv->workers[i].udp[k].fd < 0 || srv->workers[i].tcp_fd[k] < 0) {
                    server_addr_text(&cfg->listen[k], addr, sizeof(addr));
                    break;
                }
            }
            diag_error(errs, NULL, "cannot listen on %s: %s", addr, gslb_strerror(r));
            server_free(srv);
            return r;
        }
    }
    *out = srv;
    return 0;
}

int server_start(server_t *srv, uv_loop_t *main_loop, snapshot_t *snap)
{
    int r;

    atomic_store(&srv->snap, snap);
    uv_async_init(main_loop, &srv->reclaim, server_reclaim);
    srv->reclaim.data = srv;
    uv_timer_init(main_loop, &srv->retry);
    srv->retry.data = srv;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        if ((r = worker_attach(&srv->workers[i])) < 0) {
            return r;
        }
    }
    srv->started = true; /* from here on server_free() stops what did start */
    for (unsigned i = 0; i < srv->n_workers; i++) {
        worker_t *w = &srv->workers[i];
        if ((r = uv_thread_create(&w->thread, worker_main, w)) < 0) {
            return r;
        }
        for (size_t k = 0; k < srv->cfg.n_listen; k++) {
            if ((r = uv_thread_create(&w->udp[k].thread, udp_main, &w->udp[k])) < 0) {
                return r;
            }
            w->udp[k].started = true;
        }
    }
    return 0;
}

void server_swap(server_t *srv, snapshot_t *snap)
{
    retired_t *r = xmalloc(sizeof(*r));

    r->snap = atomic_exchange(&srv->snap, snap);
    r->gen = atomic_fetch_add(&srv->gen, 1) + 1;
    r->next = srv->retired;
    srv->retired = r;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        uv_async_send(&srv->workers[i].wake);
    }
    server_try_reclaim(srv); /* and again from the timer until it is done */
}

const snapshot_t *server_snapshot(const server_t *srv)
{
    return atomic_load(&((server_t *)srv)->snap);
}

static void server_closed(uv_handle_t *h)
{
    server_t *srv = h->data;

    if (--srv->closes == 0) {
        free(srv);
    }
}

void server_free(server_t *srv)
{
    if (srv == NULL) {
        return;
    }
    if (srv->started) {
        atomic_store(&srv->stopping, true);
        for (unsigned i = 0; i < srv->n_workers; i++) {
            uv_async_send(&srv->workers[i].wake);
        }
        for (unsigned i = 0; i < srv->n_workers; i++) {
            worker_t *w = &srv->workers[i];
            uv_thread_join(&w->thread);
            uv_loop_close(&w->loop);
            for (size_t k = 0; k < srv->cfg.n_listen; k++) {
                if (w->udp[k].started) {
                    uv_thread_join(&w->udp[k].thread); /* within UDP_WAKE_MS */
                }
            }
        }
    }
    for (unsigned i = 0; i < srv->n_workers; i++) {
        worker_t *w = &srv->workers[i];
        for (size_t k = 0; w->udp != NULL && k < srv->cfg.n_listen; k++) {
            if (w->udp[k].fd >= 0) { /* uv_poll never owns its fd */
                close(w->udp[k].fd);
            }
            if (w->tcp_fd[k] >= 0) {
                close(w->tcp_fd[k]);
            }
        }
        while (w->free != NULL) {
            conn_t *c = w->free;
            w->free = c->next;
            free(c);
        }
        free(w->udp);
        free(w->tcp);
        free(w->tcp_fd);
    }
    while (srv->retired != NULL) {
        retired_t *r = srv->retired;
        srv->retired = r->next;
        snapshot_free(r->snap);
        free(r);
    }
    snapshot_free(atomic_load(&srv->snap));
    free(srv->workers);
    srv->workers = NULL;
    srv->n_workers = 0;
    if (srv->started) {
        srv->closes = 2; /* the last close callback frees srv */
        uv_close((uv_handle_t *)&srv->retry, server_closed);
        uv_close((uv_handle_t *)&srv->reclaim, server_closed);
    } else {
        free(srv);
    }
}
