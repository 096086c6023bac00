/*
 * server: gslbd's sockets and worker threads.
 *
 * Per worker (--threads) and listen address there is one UDP socket and one
 * TCP listener of a SO_REUSEPORT group, so the kernel spreads clients over
 * them. Each UDP socket has its own thread blocked in recvmmsg() (no event
 * loop between the kernel and the answer: that wake-up cost more than the
 * answer), answering in batches with sendmmsg(). TCP runs on one libuv loop
 * per worker and follows RFC 7766: pipelined queries, an idle timeout, a
 * connection cap.
 *
 * Snapshots: threads read the current snapshot pointer per batch, without
 * locks. server_swap() publishes a new one and retires the old; a retired
 * snapshot is freed on the main loop once no thread can hold it (QSBR): every
 * loop worker has run its wake-up callback after the swap, and every UDP
 * thread is either blocked in recvmmsg ("offline") or answering a batch it
 * began after the swap.
 */
#ifndef GSLB_SERVER_H
#define GSLB_SERVER_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

#include "common/diag.h"
#include "gslbd/engine/snapshot.h"

typedef struct {
    struct sockaddr_storage *listen; /* addresses to serve on */
    size_t n_listen;
    unsigned threads;        /* worker threads, >= 1 */
    unsigned tcp_timeout_ms; /* idle TCP connections are closed after this */
    unsigned tcp_max;        /* concurrent TCP connections, over all threads */
} server_config_t;

typedef struct server server_t;

/* Create the server and bind every socket (so privileges can be dropped
 * afterwards). Returns 0 and sets *out, or a negative errno with a line in
 * errs saying which address failed. */
int server_new(const server_config_t *cfg, server_t **out, diag_t *errs) ATTR_WUR;

/* Start the worker threads serving `snap` (ownership passes to the server).
 * `main_loop` runs the reclamation of retired snapshots. */
int server_start(server_t *srv, uv_loop_t *main_loop, snapshot_t *snap) ATTR_WUR;

/* Publish a new snapshot (ownership passes to the server). Main thread only. */
void server_swap(server_t *srv, snapshot_t *snap);

/* The snapshot being served now (main thread: stable until the next swap). */
const snapshot_t *server_snapshot(const server_t *srv);

/* Stop the workers, close every socket, free everything. NULL-safe. Once
 * started, the last of it is freed by the main loop's next run. */
void server_free(server_t *srv);

/* Format an address as "1.2.3.4:53" or "[::1]:53". */
void server_addr_text(const struct sockaddr_storage *ss, char *buf, size_t size);

/* Parse "1.2.3.4:53" or "[::1]:53". Returns 0 or -EINVAL. */
int server_addr_parse(const char *text, struct sockaddr_storage *ss) ATTR_WUR;

#endif
