/*
 * http: libmicrohttpd on a libuv loop; see http.h.
 *
 * One libmicrohttpd daemon per listening address, each in its external
 * epoll mode: it keeps its sockets in an epoll set of its own, whose one
 * descriptor the loop polls; when it is readable, or when the daemon's own
 * timeout (a connection's idle timeout) is due, MHD_run() does what is ready
 * without blocking and the timer is set again from MHD_get_timeout().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "daemon/http.h"

/* Per connection: the request line and headers fit in this, and a request
 * that does not is refused by libmicrohttpd with 431/414. */
#define HTTP_CONN_MEMORY (32 * 1024)

typedef struct http_listen {
    struct http *http;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    char addr[64];
    bool started; /* poll and timer initialised */
} http_listen_t;

struct http {
    uv_loop_t *loop;
    http_handler_fn fn;
    void *arg;
    size_t n;
    unsigned closing; /* handles whose close callbacks are still to come */
    http_listen_t l[HTTP_MAX_LISTEN];
};

const char *http_library_version(void)
{
    return MHD_get_version();
}

FILE *http_body(http_reply_t *r, const char *type)
{
    if (r->out == NULL) {
        r->out = open_memstream(&r->body, &r->len);
    }
    r->type = type;
    return r->out;
}

/* --http's rules on top of netaddr's: a port of 1 to 65535, in digits. */
static bool http_port_ok(const char *port)
{
    size_t n = strspn(port, "0123456789");
    unsigned long p = strtoul(port, NULL, 10);

    return n > 0 && n <= 5 && port[n] == '\0' && p >= 1 && p <= 65535;
}

int http_parse_addr(const char *text, struct sockaddr_storage *out, char *why, size_t why_len)
{
    const char *colon = strrchr(text, ':');
    char host[NETADDR_HOST_MAX];

    /* Stricter than --listen: an IPv6 address only in brackets. */
    if (text[0] != '[' && colon != NULL && strchr(text, ':') != colon) {
        snprintf(why, why_len, "'%s': expected ADDRESS:PORT (an IPv6 address in brackets)", text);
        return -EINVAL;
    }
    netaddr_err_t e = netaddr_parse(text, out, host);
    switch (e) {
    case NETADDR_SHAPE:
        snprintf(why, why_len,
                 text[0] == '[' ? "'%s': an IPv6 address is written [ADDRESS]:PORT"
                                : "'%s': expected ADDRESS:PORT (an IPv6 address in brackets)",
                 text);
        return -EINVAL;
    case NETADDR_LONG:
        snprintf(why, why_len, "'%s': not an address", text);
        return -EINVAL;
    case NETADDR_OK:
    case NETADDR_PORT:
    case NETADDR_HOST:
        break;
    }
    if (e == NETADDR_PORT || !http_port_ok(colon + 1)) {
        snprintf(why, why_len, "'%s': the port must be 1 to 65535", text);
        return -EINVAL;
    }
    if (e == NETADDR_HOST) {
        snprintf(why, why_len, "'%s': '%s' is not a numeric IPv4 or IPv6 address", text, host);
        return -EINVAL;
    }
    return 0;
}

/* A listening socket on `sa`, or a negative code. */
static int http_socket(const struct sockaddr_storage *sa)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    if (fd < 0) {
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (sa->ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    socklen_t len =
        sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)sa, len) < 0 || listen(fd, 64) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* libmicrohttpd's own messages (a client that broke the protocol, a
 * descriptor limit) are the operator's business only when debugging. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    log_debug("http: %s", line);
}

static enum MHD_Result http_send(struct MHD_Connection *c, unsigned status, const char *type,
                                 char *body, size_t len, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static char *http_text(const char *text, size_t *len)
{
    char *s = strdup(text);
    *len = s ? strlen(s) : 0;
    return s;
}

static enum MHD_Result http_request(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls)
{
    http_t *h = cls;
    static int seen;
    size_t len;

    (void)version;
    (void)upload_data;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get && !head) {
        /* Read-only: no method changes anything, and no body is read. */
        char *body = http_text("only GET and HEAD are served here\n", &len);
        return http_send(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body, len,
                         "GET, HEAD");
    }
    if (*req_cls == NULL) {
        /* The headers are in; the answer comes on the next call, once
         * libmicrohttpd knows there is no body to wait for. */
        *req_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a GET with a body: ignored */
        return MHD_YES;
    }

    http_reply_t r = {.status = 200, .type = "text/plain; charset=utf-8"};
    h->fn(h->arg, url, &r);
    if (r.out != NULL && fclose(r.out) != 0) {
        free(r.body);
        r.body = NULL;
        r.status = 500;
    }
    if (r.out == NULL && r.body == NULL && r.status == 200) {
        r.status = 500; /* http_body() ran out of memory */
    }
    if (r.body == NULL) {
        r.len = 0;
    }
    return http_send(c, r.status, r.type, r.body, r.len, r.allow);
}

static void http_on_timer(uv_timer_t *t);

static void http_arm(http_listen_t *l)
{
    MHD_UNSIGNED_LONG_LONG ms;

    if (MHD_get_timeout(l->mhd, &ms) == MHD_YES) {
        uv_timer_start(&l->timer, http_on_timer, ms, 0);
    } else {
        uv_timer_stop(&l->timer);
    }
}

static void http_run(http_listen_t *l)
{
    MHD_run(l->mhd);
    http_arm(l);
}

static void http_on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    http_run(p->data);
}

static void http_on_timer(uv_timer_t *t)
{
    http_run(t->data);
}

static void http_closed(uv_handle_t *handle)
{
    http_t *h = ((http_listen_t *)handle->data)->http;

    h->closing--;
}

int http_new(uv_loop_t *loop, const char *const *addrs, size_t n, http_handler_fn fn, void *arg,
             http_t **out, diag_t *errs)
{
    http_t *h;
    int r = 0;

    if (n > HTTP_MAX_LISTEN) {
        diag_error(errs, NULL, "--http: at most %d addresses", HTTP_MAX_LISTEN);
        return -EINVAL;
    }
    h = xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->fn = fn;
    h->arg = arg;
    /* The cap in all is shared out over the addresses. */
    unsigned limit = n ? HTTP_MAX_CONNECTIONS / (unsigned)n : HTTP_MAX_CONNECTIONS;
    unsigned per_ip = limit < HTTP_MAX_PER_IP ? limit : HTTP_MAX_PER_IP;

    for (size_t i = 0; i < n; i++) {
        http_listen_t *l = &h->l[i];
        struct sockaddr_storage sa;
        char why[160];

        l->http = h;
        snprintf(l->addr, sizeof(l->addr), "%s", addrs[i]);
        if ((r = http_parse_addr(addrs[i], &sa, why, sizeof(why))) < 0) {
            diag_error(errs, NULL, "--http %s", why);
            break;
        }
        int fd = http_socket(&sa);
        if (fd < 0) {
            r = fd;
            diag_error(errs, NULL, "--http %s: cannot listen: %s", addrs[i], gslb_strerror(r));
            break;
        }
        l->mhd = MHD_start_daemon(
            MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, http_request, h,
            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, limit,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
            MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL, MHD_OPTION_END);
        if (l->mhd == NULL) {
            close(fd);
            r = -EIO;
            diag_error(errs, NULL, "--http %s: libmicrohttpd did not start", addrs[i]);
            break;
        }
        h->n = i + 1;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (info == NULL || uv_poll_init(loop, &l->poll, info->epoll_fd) != 0) {
            r = -EIO;
            diag_error(errs, NULL, "--http %s: cannot poll libmicrohttpd's epoll set", addrs[i]);
            break;
        }
        uv_timer_init(loop, &l->timer);
        l->poll.data = l->timer.data = l;
        l->started = true;
        uv_poll_start(&l->poll, UV_READABLE, http_on_poll);
        http_arm(l);
    }
    if (r < 0) {
        http_free(h);
        return r;
    }
    *out = h;
    return 0;
}

static void http_close(http_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        http_listen_t *l = &h->l[i];
        if (l->started) {
            /* Out of libuv's epoll set before libmicrohttpd closes its own. */
            uv_poll_stop(&l->poll);
            uv_close((uv_handle_t *)&l->poll, http_closed);
            uv_close((uv_handle_t *)&l->timer, http_closed);
            h->closing += 2;
            l->started = false;
        }
        if (l->mhd != NULL) {
            MHD_stop_daemon(l->mhd); /* closes the listening socket and connections */
            l->mhd = NULL;
        }
    }
}

void http_free(http_t *h)
{
    if (h == NULL) {
        return;
    }
    http_close(h);
    uv_run(h->loop, UV_RUN_NOWAIT); /* the handles' close callbacks */
    if (h->closing != 0) {
        log_warn("http: freed with %u handles still closing", h->closing);
    }
    free(h);
}

void http_reply_healthz(http_reply_t *r, const char *why)
{
    FILE *out;

    r->status = why ? 503 : 200;
    if ((out = http_body(r, "text/plain; charset=utf-8")) != NULL) {
        fprintf(out, "%s\n", why ? why : "ok");
    }
}

void http_reply_not_found(http_reply_t *r, const char *path)
{
    FILE *out;

    r->status = 404;
    if ((out = http_body(r, "text/plain; charset=utf-8")) != NULL) {
        fprintf(out, "not found: %s (see /)\n", path);
    }
}

int http_option(const char **addrs, size_t *n, const char *text)
{
    struct sockaddr_storage sa;
    char why[160];

    if (*n == HTTP_MAX_LISTEN) {
        log_err("--http: at most %d addresses", HTTP_MAX_LISTEN);
        return -EINVAL;
    }
    if (http_parse_addr(text, &sa, why, sizeof(why)) < 0) {
        log_err("--http %s", why);
        return -EINVAL;
    }
    addrs[(*n)++] = text;
    return 0;
}
