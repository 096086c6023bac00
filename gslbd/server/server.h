/*
 * server: gslbd's sockets and worker threads, put together.
 *
 * Per worker (--threads) and listen address there is one UDP socket with its
 * own thread (udp.h) and one TCP listener on the worker's loop thread
 * (tcp.h), all of SO_REUSEPORT groups (addr.h), so the kernel spreads
 * clients over them. Every one of them answers from the snapshot published
 * through reclaim.h, which frees a replaced snapshot once no thread can
 * hold it. They share the cookie secret, the clock (ticker.h) and the rate
 * limiter of UDP responses (rrl.h), made here. This file makes, starts, feeds and stops them; it
 * answers nothing itself (the engine does) and loads nothing (main.c does).
 */
#ifndef GSLB_SERVER_H
#define GSLB_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

#include "common/diag.h"
#include "gslbd/engine/qstats.h"
#include "gslbd/engine/rrl.h"
#include "gslbd/engine/snapshot.h"

typedef struct {
    struct sockaddr_storage *listen; /* addresses to serve on */
    size_t n_listen;
    unsigned threads;        /* worker threads, >= 1 */
    unsigned tcp_timeout_ms; /* idle TCP connections are closed after this */
    unsigned tcp_max;        /* concurrent TCP connections, over all threads */
    rrl_config_t rrl;        /* rate limiting of UDP responses (mode RRL_OFF: none) */
} server_config_t;

typedef struct server server_t;

/* Create the server and bind every socket (so privileges can be dropped
 * afterwards). Returns 0 and sets *out, or a negative errno with a line in
 * errs saying which address failed. */
int server_new(const server_config_t *cfg, server_t **out, diag_t *errs) ATTR_WUR;

/* Start the worker threads serving `snap` (ownership passes to the server,
 * even on failure). `main_loop` runs the reclamation of replaced snapshots.
 * Returns 0 or a negative libuv code. */
int server_start(server_t *srv, uv_loop_t *main_loop, snapshot_t *snap) ATTR_WUR;

/* Publish a new snapshot (ownership passes to the server). Main thread only. */
void server_swap(server_t *srv, snapshot_t *snap);

/* Keep replaced snapshots (hold true) while a new one is compiled on another
 * thread, then free those no thread holds (false); see reclaim_hold(). Main
 * thread only. */
void server_hold_frees(server_t *srv, bool hold);

/* Call fn(arg, s) on the main loop just before a snapshot is freed, when no
 * worker can count in it any more. Before server_start(). */
void server_on_free(server_t *srv, void (*fn)(void *arg, const snapshot_t *s), void *arg);

/* How many answer counter sets the workers of `cfg` use (snapshot.h): each
 * UDP socket's thread and each TCP loop its own. */
unsigned server_count_sets(const server_config_t *cfg);

/* The snapshot being served now (main thread: stable until the next swap). */
const snapshot_t *server_snapshot(const server_t *srv);

/* The query counter sets of the workers (qstats.h), one per UDP socket and
 * per TCP loop, to sum with qstats_sum() (any thread; they count on
 * meanwhile): *n of them, owned by the server. */
const qstats_t *const *server_qstats(const server_t *srv, size_t *n);

/* Snapshots published so far (the first one is 1). Main thread. */
uint64_t server_generation(const server_t *srv);

/* What rate limiting did so far; false when it is off. Any thread. */
bool server_rrl_stats(const server_t *srv, rrl_stats_t *out);

/* Stop the workers, close every socket, free everything. NULL-safe. Once
 * started, the last of it is freed by the main loop's next run. */
void server_free(server_t *srv);

#endif
