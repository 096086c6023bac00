/*
 * listener: pausing a listening handle without losing its socket; see
 * listener.h.
 */
#include "gslbd/server/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/errcode.h"

typedef enum {
    PAUSE_FREE,    /* a reserve (fd) waiting to be used, or used up (fd -1) */
    PAUSE_CLOSING, /* the handle is closing; its close callback starts the timer */
    PAUSE_WAITING, /* the timer looks for a free descriptor */
    PAUSE_RESUMED, /* listening again; the timer is closing */
    PAUSE_STOPPED, /* given up by listener_stop(); closing */
} pause_state_t;

typedef struct pause pause_t;
struct pause {
    int fd; /* the reserve; while paused, the listening socket */
    pause_state_t state;
    uv_loop_t *loop;
    uv_stream_t *s;
    void *data; /* the handle's, while it is closed */
    uv_connection_cb cb;
    int backlog, ipc;
    uv_handle_type type;
    const char *fname; /* a pipe's bound path, held back from the close (see pause) */
    uint64_t since_ms;
    char name[128]; /* the address or path, for the log */
    uv_timer_t timer;
    pause_t *next;
};

static pthread_mutex_t listener_lock = PTHREAD_MUTEX_INITIALIZER;
static pause_t *listener_pauses; /* every reserve ever opened */

static int reserve_open(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    return fd < 0 ? -errno : fd;
}

int listener_reserve(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int fd = reserve_open();
        if (fd < 0) {
            return fd;
        }
        pause_t *p = xcalloc(1, sizeof(*p));
        p->fd = fd;
        pthread_mutex_lock(&listener_lock);
        p->next = listener_pauses;
        listener_pauses = p;
        pthread_mutex_unlock(&listener_lock);
    }
    return 0;
}

/* The listening address (TCP) or path (pipe) of s, for the log. */
static void pause_name(uv_stream_t *s, char *out, size_t len)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    size_t n = len;
    char ip[64] = "?";

    snprintf(out, len, "a listening socket");
    if (s->type == UV_NAMED_PIPE) {
        if (uv_pipe_getsockname((uv_pipe_t *)s, out, &n) != 0) {
            snprintf(out, len, "a listening socket");
        }
        return;
    }
    if (uv_tcp_getsockname((uv_tcp_t *)s, (struct sockaddr *)&ss, &sslen) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
    }
}

/* A reserve to hold a socket, or NULL when none is left. */
static pause_t *pause_take(uv_stream_t *s)
{
    pause_t *p;

    pthread_mutex_lock(&listener_lock);
    for (p = listener_pauses; p != NULL; p = p->next) {
        if (p->state == PAUSE_FREE && p->fd >= 0) {
            p->state = PAUSE_CLOSING;
            p->loop = s->loop;
            p->s = s;
            break;
        }
    }
    pthread_mutex_unlock(&listener_lock);
    return p;
}

static void pause_set(pause_t *p, pause_state_t state)
{
    pthread_mutex_lock(&listener_lock);
    p->state = state;
    pthread_mutex_unlock(&listener_lock);
}

/* The socket the reserve holds is closed for good. */
static void pause_give_up(pause_t *p)
{
    close(p->fd);
    p->fd = -1;
    free((void *)p->fname); /* libuv's copy, from its default allocator */
    p->fname = NULL;
}

/* The timer is closed: the record is a reserve again, or, stopped, used up. */
static void pause_released(uv_handle_t *h)
{
    pause_t *p = h->data;

    if (p->state == PAUSE_STOPPED) {
        pause_give_up(p);
    }
    pause_set(p, PAUSE_FREE);
}

/* Listen on the handle again, on the socket the reserve held. */
static int pause_listen(pause_t *p)
{
    uv_stream_t *s = p->s;
    int r;

    if (p->type == UV_TCP) {
        r = uv_tcp_init(p->loop, (uv_tcp_t *)s);
    } else {
        r = uv_pipe_init(p->loop, (uv_pipe_t *)s, p->ipc);
    }
    if (r < 0) {
        pause_give_up(p);
        return r;
    }
    if (p->type == UV_NAMED_PIPE) {
        ((uv_pipe_t *)s)->pipe_fname = p->fname; /* unlinked when it closes for good */
        p->fname = NULL;
    }
    s->data = p->data;
    if (p->type == UV_TCP) {
        r = uv_tcp_open((uv_tcp_t *)s, p->fd);
    } else {
        r = uv_pipe_open((uv_pipe_t *)s, p->fd);
    }
    if (r < 0) {
        close(p->fd);
    } else {
        r = uv_listen(s, p->backlog, p->cb); /* on failure, closing s closes the socket */
    }
    if (r < 0) {
        uv_close((uv_handle_t *)s, NULL);
    }
    return r;
}

static void pause_retry(uv_timer_t *t)
{
    pause_t *p = t->data;
    static unsigned long long limit;
    int spare = reserve_open(), r;

    if (spare < 0) {
        return; /* still no free descriptor */
    }
    if ((r = pause_listen(p)) < 0) {
        log_err("%s: cannot listen again (%s): it stays closed", p->name, gslb_strerror(r));
    } else if (log_ratelimit(&limit, 1)) {
        log_info("%s: accepting connections again after %.1f s", p->name,
                 (double)(uv_now(p->loop) - p->since_ms) / 1000.0);
    }
    p->fd = spare;
    pause_set(p, PAUSE_RESUMED);
    uv_close((uv_handle_t *)&p->timer, pause_released);
}

/* The handle is closed (its descriptor with it, the socket lives on in the
 * reserve): wait for a free descriptor, unless stopped meanwhile. */
static void pause_closed(uv_handle_t *h)
{
    pause_t *p = h->data;

    if (p->state == PAUSE_STOPPED) {
        pause_give_up(p);
        pause_set(p, PAUSE_FREE);
        return;
    }
    uv_timer_init(p->loop, &p->timer); /* cannot fail */
    p->timer.data = p;
    uv_timer_start(&p->timer, pause_retry, LISTENER_RETRY_MS, LISTENER_RETRY_MS);
    uv_unref((uv_handle_t *)&p->timer); /* the owner's handles keep the loop running */
    pause_set(p, PAUSE_WAITING);
}

int listener_pause(uv_stream_t *s, int backlog, int why)
{
    static unsigned long long limit;
    uv_os_fd_t fd;
    pause_t *p = NULL;
    int r;

    if (uv_is_closing((uv_handle_t *)s)) {
        return -EINVAL;
    }
    r = uv_fileno((uv_handle_t *)s, &fd);
    if (r == 0 && (p = pause_take(s)) != NULL && dup3(fd, p->fd, O_CLOEXEC) < 0) {
        r = -errno;
        pause_set(p, PAUSE_FREE);
    }
    if (r < 0 || p == NULL) {
        char name[128];
        pause_name(s, name, sizeof(name));
        log_err("%s: cannot take connections (%s) and %s: it is closed", name, gslb_strerror(why),
                r < 0 ? gslb_strerror(r) : "no reserve descriptor is left");
        uv_close((uv_handle_t *)s, NULL);
        return r < 0 ? r : -EMFILE;
    }
    pause_name(s, p->name, sizeof(p->name));
    p->data = s->data;
    p->cb = s->connection_cb;
    p->backlog = backlog;
    p->type = s->type;
    p->ipc = 0;
    p->fname = NULL;
    if (s->type == UV_NAMED_PIPE) {
        /* Closing a bound pipe unlinks its path (uv__pipe_close), and clients
         * could never find the socket again: the path is held back here and
         * handed back when the handle listens again. */
        uv_pipe_t *pipe = (uv_pipe_t *)s;
        p->ipc = pipe->ipc;
        p->fname = pipe->pipe_fname;
        pipe->pipe_fname = NULL;
    }
    p->since_ms = uv_now(s->loop);
    if (log_ratelimit(&limit, 1)) {
        log_warn("%s: cannot take a connection (%s): accepting paused, retried every %d ms",
                 p->name, gslb_strerror(why), LISTENER_RETRY_MS);
    }
    s->data = p;
    uv_close((uv_handle_t *)s, pause_closed);
    return 0;
}

void listener_stop(const uv_loop_t *loop)
{
    pthread_mutex_lock(&listener_lock);
    for (pause_t *p = listener_pauses; p != NULL; p = p->next) {
        if (p->loop != loop) {
            continue;
        }
        if (p->state == PAUSE_CLOSING) {
            p->state = PAUSE_STOPPED; /* pause_closed() releases it */
        } else if (p->state == PAUSE_WAITING) {
            p->state = PAUSE_STOPPED;
            uv_close((uv_handle_t *)&p->timer, pause_released);
        }
    }
    pthread_mutex_unlock(&listener_lock);
}

void listener_free(void)
{
    pthread_mutex_lock(&listener_lock);
    while (listener_pauses != NULL) {
        pause_t *p = listener_pauses;
        listener_pauses = p->next;
        if (p->fd >= 0) {
            close(p->fd);
        }
        free(p);
    }
    pthread_mutex_unlock(&listener_lock);
}
