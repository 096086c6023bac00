/*
 * curluv: runs libcurl's multi interface on a libuv loop.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * uv_poll_t per socket) and when to call it back without socket activity
 * (CURLMOPT_TIMERFUNCTION: one uv_timer_t); we hand events back through
 * curl_multi_socket_action(), as curl's documentation for event-driven
 * applications describes. Transfers never block the loop, and curl's own
 * timeouts (CURLOPT_TIMEOUT_MS) fire from the timer.
 *
 * It runs easy handles the caller prepared and reports each one's end; it
 * does not build requests or judge responses (probe.c does).
 */
#ifndef GSLB_CURLUV_H
#define GSLB_CURLUV_H

#include <curl/curl.h>
#include <uv.h>

#include "common/log.h"

typedef struct curluv curluv_t;

/* Embed one in the object owning an easy handle; curluv sets the handle's
 * CURLOPT_PRIVATE to it. `done` runs once per curluv_add() that returned 0,
 * after the handle left the multi handle (so it may be added again). An
 * owner that has read enough stops the transfer by failing its header or
 * write callback: `done` then gets CURLE_WRITE_ERROR, and libcurl has closed
 * the connection rather than read the rest of the response. */
typedef struct curluv_job {
    void (*done)(struct curluv_job *job, CURLcode result);
} curluv_job_t;

/* Create a multi handle driven by `loop`. Returns 0 and sets *out, or a
 * negative code. curl_global_init() must have run. */
int curluv_new(uv_loop_t *loop, curluv_t **out) ATTR_WUR;

/* Start a transfer. Returns 0, or -EIO when curl refuses the handle (then
 * job->done is never called). */
int curluv_add(curluv_t *cu, CURL *easy, curluv_job_t *job) ATTR_WUR;

/* Abort a running transfer: job->done is not called for it. Harmless on a
 * handle that is not running. */
void curluv_remove(curluv_t *cu, CURL *easy);

/* Close the timer and every socket watcher, then free everything; the loop
 * must run once more for the close callbacks. Every easy handle must have
 * been removed (or have finished) before. NULL-safe. */
void curluv_free(curluv_t *cu);

#endif
