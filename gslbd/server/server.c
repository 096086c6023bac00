/*
 * server: making, starting, feeding and stopping the workers; see server.h.
 */
#include "gslbd/server/server.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "gslbd/engine/cookie.h"
#include "gslbd/server/addr.h"
#include "gslbd/server/listener.h"
#include "gslbd/server/reclaim.h"
#include "gslbd/server/tcp.h"
#include "gslbd/server/ticker.h"
#include "gslbd/server/udp.h"

struct server {
    server_config_t cfg;
    uint8_t cookie_secret[COOKIE_SECRET_LEN]; /* made at start: RFC 9018 server cookies */
    ticker_t clock;                           /* the time the workers read */
    rrl_t *rrl;                               /* NULL: rate limiting off */
    _Atomic bool stopping;
    reclaim_t *rc;
    tcp_loop_t **loops; /* one per worker */
    udp_sock_t **udp;   /* worker w, address k at [w * n_listen + k] */
    size_t n_udp;
    const qstats_t **qsets; /* the workers' query counters: the loops', then the sockets' */
    size_t n_qsets;
    bool started;
};

/* Every listen address is free: a port in use is an error, not a share. */
static int server_probe(const server_config_t *cfg, diag_t *errs)
{
    for (size_t k = 0; k < cfg->n_listen; k++) {
        int r = addr_probe(&cfg->listen[k], SOCK_DGRAM);
        if (r == 0) {
            r = addr_probe(&cfg->listen[k], SOCK_STREAM);
        }
        if (r < 0) {
            char addr[64];
            addr_text(&cfg->listen[k], addr, sizeof(addr));
            diag_error(errs, NULL, "cannot listen on %s: %s%s", addr, gslb_strerror(r),
                       r == -EADDRINUSE ? " (is another DNS server running there?)" : "");
            return r;
        }
    }
    return 0;
}

/* One worker's sockets: a UDP socket per address and its TCP listeners. */
static int server_bind(server_t *srv, unsigned w, diag_t *errs)
{
    const server_config_t *cfg = &srv->cfg;

    for (size_t k = 0; k < cfg->n_listen; k++) {
        const struct sockaddr_storage *ss = &cfg->listen[k];
        int udp = addr_bind(ss, SOCK_DGRAM), tcp = udp < 0 ? udp : addr_bind(ss, SOCK_STREAM);
        if (udp < 0 || tcp < 0) {
            char addr[64];
            if (udp >= 0) {
                close(udp);
            }
            addr_text(ss, addr, sizeof(addr));
            diag_error(errs, NULL, "cannot listen on %s: %s", addr, gslb_strerror(tcp));
            return tcp;
        }
        udp_sock_t *u = udp_new(udp, addr_is_wildcard(ss), srv->rc, &srv->stopping);
        answer_ctx_t *ctx = udp_ctx(u);
        /* Count sets: 0 scratch, then the TCP loops, then the UDP sockets. */
        ctx->count_set = 1 + cfg->threads + (unsigned)srv->n_udp;
        ctx->cookie_secret = srv->cookie_secret;
        ctx->clock = &srv->clock.now_us;
        ctx->rrl = srv->rrl; /* one table for every socket: a source sending to several
                                sockets of the group is counted once */
        srv->udp[srv->n_udp++] = u;
        srv->qsets[srv->n_qsets++] = udp_qstats(u);
        tcp_loop_add(srv->loops[w], tcp);
    }
    return 0;
}

int server_new(const server_config_t *cfg, server_t **out, diag_t *errs)
{
    server_t *srv;
    int r;

    if ((r = server_probe(cfg, errs)) < 0) {
        return r;
    }
    srv = xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    /* A secret of our own: cookies this server hands out are valid until it
     * restarts (or, signed with the time, for an hour at most). And a key
     * for the rate limiter's hash, so nobody can aim many keys at a bucket. */
    uint8_t seed[16];
    if (getrandom(srv->cookie_secret, sizeof(srv->cookie_secret), 0) !=
            (ssize_t)sizeof(srv->cookie_secret) ||
        getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        r = -errno;
        diag_error(errs, NULL, "cannot make the DNS cookie secret: %s", gslb_strerror(r));
        free(srv);
        return r;
    }
    if (cfg->rrl.mode != RRL_OFF) {
        srv->rrl = rrl_new(&cfg->rrl, seed, &srv->clock.now_us);
    }
    srv->rc = reclaim_new();
    srv->loops = xcalloc(cfg->threads, sizeof(*srv->loops));
    srv->udp = xcalloc((size_t)cfg->threads * cfg->n_listen, sizeof(*srv->udp));
    srv->qsets = xcalloc((size_t)cfg->threads * (cfg->n_listen + 1), sizeof(*srv->qsets));
    unsigned per_loop = (cfg->tcp_max + cfg->threads - 1) / cfg->threads;
    for (unsigned w = 0; w < cfg->threads; w++) {
        srv->loops[w] = tcp_loop_new(cfg->tcp_timeout_ms, per_loop, srv->rc, &srv->stopping);
        srv->qsets[srv->n_qsets++] = tcp_loop_qstats(srv->loops[w]);
        tcp_loop_ctx(srv->loops[w])->count_set = 1 + w;
        tcp_loop_ctx(srv->loops[w])->cookie_secret = srv->cookie_secret;
        tcp_loop_ctx(srv->loops[w])->clock = &srv->clock.now_us;
        if ((r = server_bind(srv, w, errs)) < 0) {
            server_free(srv);
            return r;
        }
    }
    /* A reserve for each TCP listener, to pause on when descriptors run out. */
    if ((r = listener_reserve(cfg->threads * (unsigned)cfg->n_listen)) < 0) {
        diag_error(errs, NULL, "cannot open reserve descriptors for the TCP listeners: %s",
                   gslb_strerror(r));
        server_free(srv);
        return r;
    }
    *out = srv;
    return 0;
}

int server_start(server_t *srv, uv_loop_t *main_loop, snapshot_t *snap)
{
    int r = reclaim_start(srv->rc, main_loop, snap);

    if (r < 0) {
        snapshot_free(snap);
        return r;
    }
    srv->started = true; /* from here on server_free() stops what did start */
    if ((r = ticker_start(&srv->clock)) < 0) {
        return r;
    }
    for (unsigned w = 0; w < srv->cfg.threads; w++) {
        if ((r = tcp_loop_start(srv->loops[w])) < 0) {
            return r;
        }
    }
    for (size_t i = 0; i < srv->n_udp; i++) {
        if ((r = udp_start(srv->udp[i])) < 0) {
            return r;
        }
    }
    return 0;
}

void server_swap(server_t *srv, snapshot_t *snap)
{
    reclaim_publish(srv->rc, snap);
    for (unsigned w = 0; w < srv->cfg.threads; w++) {
        tcp_loop_wake(srv->loops[w]); /* they report in to reclaim */
    }
}

void server_hold_frees(server_t *srv, bool hold)
{
    reclaim_hold(srv->rc, hold);
}

void server_on_free(server_t *srv, void (*fn)(void *arg, const snapshot_t *s), void *arg)
{
    reclaim_on_free(srv->rc, fn, arg);
}

unsigned server_count_sets(const server_config_t *cfg)
{
    return cfg->threads + cfg->threads * (unsigned)cfg->n_listen;
}

const snapshot_t *server_snapshot(const server_t *srv)
{
    return reclaim_current(srv->rc);
}

const qstats_t *const *server_qstats(const server_t *srv, size_t *n)
{
    *n = srv->n_qsets;
    return srv->qsets;
}

uint64_t server_generation(const server_t *srv)
{
    return reclaim_generation(srv->rc);
}

bool server_rrl_stats(const server_t *srv, rrl_stats_t *out)
{
    if (srv->rrl == NULL) {
        return false;
    }
    rrl_stats(srv->rrl, out);
    return true;
}

void server_free(server_t *srv)
{
    if (srv == NULL) {
        return;
    }
    atomic_store(&srv->stopping, true);
    for (unsigned w = 0; w < srv->cfg.threads; w++) {
        if (srv->loops[w] != NULL) {
            tcp_loop_wake(srv->loops[w]);
        }
    }
    for (unsigned w = 0; w < srv->cfg.threads; w++) {
        tcp_loop_free(srv->loops[w]);
    }
    for (size_t i = 0; i < srv->n_udp; i++) {
        udp_free(srv->udp[i]);
    }
    ticker_stop(&srv->clock); /* no worker reads it any more */
    rrl_free(srv->rrl);
    reclaim_free(srv->rc); /* its handles close on the main loop's next run */
    free(srv->loops);
    free(srv->udp);
    free(srv->qsets);
    free(srv);
}
