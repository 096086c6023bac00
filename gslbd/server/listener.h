/*
 * listener: a listening socket that stops accepting for a while, instead of
 * spinning, when a connection cannot be taken (descriptors or memory ran out).
 *
 * Why it is needed: libuv 1.44 (uv__server_io) accepts in a loop. On EMFILE or
 * ENFILE it closes its loop's spare descriptor, accepts and closes whatever
 * waits, and opens the spare again; when another thread took the freed slot
 * meanwhile the spare is gone, and from then on each failed accept() calls the
 * connection callback with the error and tries again at once, for as long as
 * the handle is open. That thread never returns to its loop: no signals, no
 * stop, a core burnt. And a callback that does not uv_accept() makes libuv
 * stop watching the handle, for good.
 *
 * The only way out of libuv's loop is to close the handle from the callback.
 * listener_pause() does that without losing the socket: dup3() moves the
 * listening socket onto a reserve descriptor opened at start (replacing it,
 * so no free slot is needed), and a timer listens on it again once a new
 * reserve can be opened, that is once descriptors are free. Connections that
 * arrive meanwhile wait in the kernel's backlog.
 *
 * It accepts nothing and knows nothing about connections: the owner's
 * connection callback does. Reserves are shared by every loop of the process
 * (a mutex); a paused handle is only touched by its own loop's thread.
 */
#ifndef GSLB_LISTENER_H
#define GSLB_LISTENER_H

#include <uv.h>

#include "common/log.h"

/* How often a paused listener looks for a free descriptor. */
#define LISTENER_RETRY_MS 100

/* Open `n` more reserve descriptors, at start while descriptors are
 * plentiful: one per listening handle that may be paused at the same time.
 * Returns 0 or a negative errno (fewer were added). Thread-safe. */
int listener_reserve(unsigned n) ATTR_WUR;

/* From the connection callback of `s`, a uv_tcp_t or uv_pipe_t listening
 * with `backlog`, when it cannot go on: `why` is the negative status, or
 * -ENOMEM for no memory for the connection. Closes the handle and, once a
 * descriptor is free, listens on it again with the same callback and data
 * (a pipe keeps its path). Meanwhile uv_is_closing(s) is true (an owner
 * closing its handles skips it). Without a reserve left the handle stays
 * closed and an error is logged. Returns 0 or a negative errno. On the
 * loop's thread. */
int listener_pause(uv_stream_t *s, int backlog, int why);

/* Give up the pauses of `loop`, whose owner is stopping: their handles stay
 * closed and their sockets are closed. Before the loop's last run, on its
 * thread. */
void listener_stop(const uv_loop_t *loop);

/* Close every reserve and free the bookkeeping, once every loop is done. */
void listener_free(void);

#endif
