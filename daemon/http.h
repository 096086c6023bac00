/*
 * http: a read-only HTTP listener on a libuv loop, for /metrics, /healthz and
 * the status page of both daemons (their --http option).
 *
 * HTTP itself is libmicrohttpd's: it parses requests, keeps connections and
 * writes replies. This file binds the listening sockets (before the daemon
 * drops privileges), runs libmicrohttpd in its "external epoll" mode on the
 * caller's loop (one uv_poll on its epoll descriptor, one timer for its
 * timeouts), refuses every method but GET and HEAD, and hands each request
 * to one handler, on the loop's thread. So a handler reads the daemon's
 * state as any other callback of that loop does, with no lock, and never on
 * the query path (gslbd's query threads have their own loops).
 *
 * A client cannot exhaust the daemon: connections are capped in all and per
 * address, each has a timeout and a memory limit, and a request body is
 * refused. The handler's reply is built in memory at once (the pages are a
 * few hundred kilobytes at most) and libmicrohttpd writes it as the client
 * reads, without blocking the loop.
 */
#ifndef GSLB_HTTP_H
#define GSLB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include <uv.h>

#include "common/diag.h"

/* Caps on clients; also given in the README's Monitoring section. */
#define HTTP_MAX_CONNECTIONS 64 /* in all, over every address */
#define HTTP_MAX_PER_IP      16 /* from one client address */
#define HTTP_TIMEOUT_S       10 /* a connection idle this long is closed */
#define HTTP_MAX_LISTEN      8  /* --http given at most this often */

typedef struct http http_t;

/* What the handler answers. Start: status 200, no body. */
typedef struct {
    unsigned status;  /* 200, 404, 503, ... */
    const char *type; /* Content-Type (a literal), e.g. "text/plain; charset=utf-8" */
    FILE *out;        /* from http_body(): written by the handler, closed by http */
    char *body;       /* what `out` wrote (malloc'd), taken by http */
    size_t len;
    const char *allow; /* the reply's Allow header, for a 405 */
} http_reply_t;

/* A stream for the reply's body, of Content-Type `type` (a literal); NULL
 * when out of memory (then the client gets a 500). */
FILE *http_body(http_reply_t *r, const char *type);

/* One GET or HEAD request for `path` (the query string cut off), on the
 * loop's thread: fill *r. */
typedef void (*http_handler_fn)(void *arg, const char *path, http_reply_t *r);

/* Parse "ADDRESS:PORT" ("127.0.0.1:9053", "[::1]:9053"; numeric addresses
 * only). 0 or a negative code, with `why` saying what is wrong. */
int http_parse_addr(const char *text, struct sockaddr_storage *out, char *why, size_t why_len);

/* Bind and listen on each of the `n` addresses (texts as http_parse_addr()
 * reads them) and serve them on `loop` with `fn`. Returns 0 and *out, or a
 * negative code with errs saying which address failed and why (nothing is
 * left open). */
int http_new(uv_loop_t *loop, const char *const *addrs, size_t n, http_handler_fn fn, void *arg,
             http_t **out, diag_t *errs);

/* libmicrohttpd's version, for --version. */
const char *http_library_version(void);

/* Stop and free: the listening sockets and open connections close, then
 * the loop runs once (UV_RUN_NOWAIT) for the handles' close callbacks. Call
 * it outside the loop's callbacks (at start-up or after uv_run returned).
 * NULL-safe. */
void http_free(http_t *h);

/* Replies both daemons give alike. /healthz: 200 "ok", or 503 and `why`
 * (NULL: ready). */
void http_reply_healthz(http_reply_t *r, const char *why);

/* 404 for `path`, pointing at the index. */
void http_reply_not_found(http_reply_t *r, const char *path);

/* One more --http ADDR:PORT on a command line, checked now (bound later):
 * added to addrs[*n], or logged why not and -EINVAL. */
int http_option(const char **addrs, size_t *n, const char *text);

#endif
