/*
 * udp: one UDP socket of a listen address's SO_REUSEPORT group, answered by
 * a thread of its own that blocks in recvmmsg(): no event loop sits between
 * the kernel and the answer (for queries one at a time, a loop's wake-up
 * cost more than answering). It takes whatever else is queued, answers the
 * batch in place through the engine (engine.h) from the snapshot being
 * published (reclaim.h), and sends the replies with one sendmmsg(). On a
 * wildcard address a reply leaves from the address its query came to.
 */
#ifndef GSLB_UDP_H
#define GSLB_UDP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "gslbd/engine/answer.h"
#include "gslbd/server/reclaim.h"

typedef struct udp_sock udp_sock_t;

/* A socket `fd` (from addr_bind(), taken over) to be answered from what `rc`
 * publishes, until *stopping. Registers its thread as a reader of rc. */
udp_sock_t *udp_new(int fd, bool pktinfo, reclaim_t *rc, const _Atomic bool *stopping);

/* The engine's context of its thread, to set up before start (cookie
 * secret, rate limiter: see answer.h). Its qflow is set: the socket's own
 * query counters, of its address family. */
answer_ctx_t *udp_ctx(udp_sock_t *u);

/* The socket's query counters (qstats.h), which its thread alone writes:
 * to sum on any thread. */
const qstats_t *udp_qstats(const udp_sock_t *u);

/* Start its thread. Returns 0 or a negative libuv code. */
int udp_start(udp_sock_t *u) ATTR_WUR;

/* Wait for the thread to see the stop flag (within ADDR_UDP_WAKE_MS), close
 * the socket and free. NULL-safe. */
void udp_free(udp_sock_t *u);

#endif
