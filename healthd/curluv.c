/*
 * curluv: libcurl multi_socket on libuv; see curluv.h.
 *
 * Written from libcurl's documentation of curl_multi_socket_action(),
 * CURLMOPT_SOCKETFUNCTION and CURLMOPT_TIMERFUNCTION. Two rules from there
 * shape this file: the timer callback must not call back into libcurl (so a
 * 0 ms timeout is a 0 ms uv timer, run on the next loop turn), and a socket
 * stays ours to watch from its first callback until CURL_POLL_REMOVE, which
 * libcurl sends before it closes the descriptor.
 *
 * Socket watchers are recycled through a free list, so a steady probe load
 * does not allocate per connection.
 */
#include "healthd/curluv.h"

#include <errno.h>
#include <stdlib.h>

#include "common/alloc.h"

typedef struct curluv_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    curluv_t *cu;
    struct curluv_sock *next; /* free list */
} curluv_sock_t;

typedef struct {
    CURL *easy;
    CURLcode result;
} curluv_done_t;

struct curluv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    curluv_sock_t *free_socks;
    unsigned refs;       /* the timer and every watcher not yet closed */
    curluv_done_t *done; /* finished transfers of one drain, reused */
    size_t cap_done;
};

static void curluv_unref(curluv_t *cu)
{
    if (--cu->refs > 0) {
        return;
    }
    while (cu->free_socks != NULL) {
        curluv_sock_t *s = cu->free_socks;
        cu->free_socks = s->next;
        free(s);
    }
    free(cu->done);
    free(cu);
}

/* Hand every finished transfer to its owner. All messages are read before
 * any handle is removed: curl_multi_remove_handle() walks the queue of
 * unread messages, so removing while reading would cost the square of the
 * transfers that finished together (thousands, after a burst of timeouts). */
static void curluv_drain(curluv_t *cu)
{
    CURLMsg *msg;
    size_t n = 0;
    int left;

    while ((msg = curl_multi_info_read(cu->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        if (n == cu->cap_done) {
            cu->cap_done = cu->cap_done ? cu->cap_done * 2 : 64;
            cu->done = xreallocarray(cu->done, cu->cap_done, sizeof(*cu->done));
        }
        cu->done[n].easy = msg->easy_handle; /* msg dies with the handle's removal */
        cu->done[n++].result = msg->data.result;
    }
    for (size_t i = 0; i < n; i++) {
        curluv_job_t *job = NULL;

        curl_easy_getinfo(cu->done[i].easy, CURLINFO_PRIVATE, (char **)&job);
        curl_multi_remove_handle(cu->multi, cu->done[i].easy);
        if (job != NULL) {
            job->done(job, cu->done[i].result);
        }
    }
}

static void curluv_on_poll(uv_poll_t *h, int status, int events)
{
    curluv_sock_t *s = h->data;
    int flags = 0, running;

    /* On an error (libuv stops the watcher) let curl read and write: the
     * real socket error then names the failure ("Connection reset by
     * peer"), where CURL_CSELECT_ERR would only say "select/poll error". */
    if (status < 0) {
        flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
    }
    if (events & UV_READABLE) {
        flags |= CURL_CSELECT_IN;
    }
    if (events & UV_WRITABLE) {
        flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(s->cu->multi, s->fd, flags, &running);
    curluv_drain(s->cu);
}

static void curluv_on_timer(uv_timer_t *t)
{
    curluv_t *cu = t->data;
    int running;

    curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curluv_drain(cu);
}

static int curluv_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    curluv_t *cu = arg;
    (void)multi;

    if (timeout_ms < 0) {
        uv_timer_stop(&cu->timer);
    } else {
        uv_timer_start(&cu->timer, curluv_on_timer, (uint64_t)timeout_ms, 0);
    }
    return 0;
}

static void curluv_on_sock_closed(uv_handle_t *h)
{
    curluv_sock_t *s = h->data;
    curluv_t *cu = s->cu;

    s->next = cu->free_socks;
    cu->free_socks = s;
    curluv_unref(cu);
}

static curluv_sock_t *curluv_sock_open(curluv_t *cu, curl_socket_t fd)
{
    curluv_sock_t *s = cu->free_socks;

    if (s != NULL) {
        cu->free_socks = s->next;
    } else if ((s = malloc(sizeof(*s))) == NULL) {
        return NULL;
    }
    if (uv_poll_init_socket(cu->loop, &s->poll, fd) < 0) {
        s->next = cu->free_socks;
        cu->free_socks = s;
        return NULL;
    }
    s->poll.data = s;
    s->fd = fd;
    s->cu = cu;
    cu->refs++;
    curl_multi_assign(cu->multi, fd, s);
    return s;
}

static int curluv_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    curluv_t *cu = arg;
    curluv_sock_t *s = sockp;
    int events = 0;
    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(cu->multi, fd, NULL);
            uv_close((uv_handle_t *)&s->poll, curluv_on_sock_closed);
        }
        return 0;
    }
    if (s == NULL && (s = curluv_sock_open(cu, fd)) == NULL) {
        return -1; /* libcurl fails the transfers on this socket */
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
        events |= UV_READABLE;
    }
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
        events |= UV_WRITABLE;
    }
    return uv_poll_start(&s->poll, events, curluv_on_poll) < 0 ? -1 : 0;
}

int curluv_new(uv_loop_t *loop, curluv_t **out)
{
    curluv_t *cu = calloc(1, sizeof(*cu));

    if (cu == NULL) {
        return -ENOMEM;
    }
    cu->multi = curl_multi_init();
    if (cu->multi == NULL) {
        free(cu);
        return -ENOMEM;
    }
    cu->loop = loop;
    uv_timer_init(loop, &cu->timer);
    cu->timer.data = cu;
    cu->refs = 1;
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, curluv_socket_cb);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, curluv_timer_cb);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    *out = cu;
    return 0;
}

int curluv_add(curluv_t *cu, CURL *easy, curluv_job_t *job)
{
    curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
    /* The multi handle then asks for a 0 ms timeout, which starts it. */
    return curl_multi_add_handle(cu->multi, easy) == CURLM_OK ? 0 : -EIO;
}

void curluv_remove(curluv_t *cu, CURL *easy)
{
    curl_multi_remove_handle(cu->multi, easy);
}

static void curluv_on_timer_closed(uv_handle_t *h)
{
    curluv_unref(h->data);
}

void curluv_free(curluv_t *cu)
{
    if (cu == NULL) {
        return;
    }
    /* Closes cached connections; their CURL_POLL_REMOVE closes watchers. */
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    uv_close((uv_handle_t *)&cu->timer, curluv_on_timer_closed);
}
