/*
 * tcp: a TCP loop thread: one libuv loop with a listener per listen address
 * (SO_REUSEPORT groups shared with the other loops) and the connections it
 * accepted. It follows RFC 7766: queries are answered as they arrive,
 * pipelined ones included, in order, through the engine (engine.h) from the
 * snapshot being published (reclaim.h); reading pauses while a reply waits
 * for the socket; a connection that has not completed a query for the
 * timeout is closed (bytes trickling in do not count), found by one sweep
 * timer per loop; at the cap a new connection takes the place of the one
 * idle longest (RFC 7766 6.2.3).
 */
#ifndef GSLB_TCP_H
#define GSLB_TCP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "gslbd/engine/answer.h"
#include "gslbd/server/reclaim.h"

typedef struct tcp_loop tcp_loop_t;

/* A loop closing connections that complete no query for `timeout_ms`,
 * holding at most `max_conns`, answering from what `rc` publishes, until
 * *stop. Registers the loop as a reader of rc. */
tcp_loop_t *tcp_loop_new(unsigned timeout_ms, unsigned max_conns, reclaim_t *rc,
                         const _Atomic bool *stop);

/* The engine's context of the loop's thread, to set up before start (the
 * cookie secret: see answer.h). The loop points its qflow at the flow of
 * each connection's address family before answering it. */
answer_ctx_t *tcp_loop_ctx(tcp_loop_t *t);

/* The loop's query and connection counters (qstats.h), which its thread
 * alone writes: to sum on any thread. */
const qstats_t *tcp_loop_qstats(const tcp_loop_t *t);

/* Add a listening socket (from addr_bind(), taken over). Before start. */
void tcp_loop_add(tcp_loop_t *t, int fd);

/* Attach the sockets to the loop and start its thread. Returns 0 or a
 * negative libuv code. */
int tcp_loop_start(tcp_loop_t *t) ATTR_WUR;

/* Wake the loop (thread-safe): after a publication it reports in to rc;
 * once *stop is set it closes its listeners and connections and ends. */
void tcp_loop_wake(tcp_loop_t *t);

/* Wait for the thread (woken with *stop set), close everything, free.
 * NULL-safe. */
void tcp_loop_free(tcp_loop_t *t);

#endif
