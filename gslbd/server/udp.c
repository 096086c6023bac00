/*
 * udp: one UDP socket of a listen address's SO_REUSEPORT group and the
 * thread that answers it; see udp.h.
 */
#include "gslbd/server/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/errcode.h"
#include "common/log.h"
#include "gslbd/engine/engine.h"
#include "gslbd/server/addr.h"

#define UDP_BATCH      32
#define UDP_RX_SIZE    4096 /* larger queries are dropped (nobody sends them) */
#define CMSG_SPACE_MAX 64

_Static_assert(UDP_RX_SIZE >= ENCODE_UDP_MAX, "UDP answers are written over their query");

struct udp_sock {
    int fd;
    bool pktinfo; /* a wildcard bind: replies leave from the query's address */
    bool started;
    uv_thread_t thread;
    reclaim_t *rc;
    reclaim_reader_t reader;
    const _Atomic bool *stopping;
    answer_ctx_t ctx;
    qstats_t *qs; /* ctx.qflow is its flow of the socket's family */
    int n_rx;     /* datagrams of the last batch, to rearm */
    struct mmsghdr rx[UDP_BATCH], tx[UDP_BATCH];
    struct iovec rx_iov[UDP_BATCH], tx_iov[UDP_BATCH];
    struct sockaddr_storage peer[UDP_BATCH];
    uint8_t rx_cmsg[UDP_BATCH][CMSG_SPACE_MAX], tx_cmsg[UDP_BATCH][CMSG_SPACE_MAX];
    uint8_t rx_buf[UDP_BATCH][UDP_RX_SIZE];
};

/* Turn a received IP_PKTINFO/IPV6_PKTINFO into the one to send with, so the
 * reply's source is the query's destination. Returns the control length. */
static size_t udp_reply_cmsg(struct msghdr *in, uint8_t *out)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            pi.ipi_spec_dst = pi.ipi_addr;
            pi.ipi_ifindex = 0;
            struct cmsghdr *o = (struct cmsghdr *)out;
            o->cmsg_level = IPPROTO_IP;
            o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(o), &pi, sizeof(pi));
            return CMSG_SPACE(sizeof(pi));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct cmsghdr *o = (struct cmsghdr *)out;
            o->cmsg_level = IPPROTO_IPV6;
            o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
            return CMSG_SPACE(sizeof(struct in6_pktinfo));
        }
    }
    return 0;
}

/* recvmmsg and sendmmsg as plain system calls, returning -errno on failure.
 * glibc's wrappers are cancellation points: each call brackets the system
 * call with __pthread_enable/disable_asynccancel, about 60 instructions per
 * datagram when queries arrive one at a time. Our threads are never
 * cancelled (they stop on a flag), so the bracket buys nothing. On
 * x86-64 the instruction itself is issued here (its ABI: number in rax,
 * arguments in rdi, rsi, rdx, r10, r8; rcx and r11 clobbered), which also
 * saves syscall()'s call and errno store; elsewhere syscall() does it. */
static inline long udp_syscall(long nr, long a, long b, long c, long d)
{
#if defined(__x86_64__) && defined(__linux__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
#else
    long ret = syscall(nr, a, b, c, d, 0L);
    return ret < 0 ? -errno : ret;
#endif
}

static inline int udp_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    return (int)udp_syscall(SYS_recvmmsg, fd, (long)v, n, flags); /* no timeout: SO_RCVTIMEO */
}

static inline int udp_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    return (int)udp_syscall(SYS_sendmmsg, fd, (long)v, n, flags);
}

/* Reset what the kernel changes in a receive header: its name and control
 * lengths. The pointers set once in udp_prepare() stay. */
static void udp_rearm(udp_sock_t *w, int i)
{
    w->rx[i].msg_hdr.msg_namelen = sizeof(w->peer[i]);
    w->rx[i].msg_hdr.msg_controllen = CMSG_SPACE_MAX;
}

static void udp_prepare(udp_sock_t *w)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        struct msghdr *m = &w->rx[i].msg_hdr;
        w->rx_iov[i].iov_base = w->rx_buf[i];
        w->rx_iov[i].iov_len = UDP_RX_SIZE;
        m->msg_iov = &w->rx_iov[i];
        m->msg_iovlen = 1;
        m->msg_name = &w->peer[i];
        m->msg_control = w->rx_cmsg[i];
        udp_rearm(w, i);
        w->tx[i].msg_hdr.msg_iov = &w->tx_iov[i];
        w->tx[i].msg_hdr.msg_iovlen = 1;
    }
}

static void udp_send(int fd, struct mmsghdr *tx, int n)
{
    static unsigned long long limit;
    int done = 0;

    while (done < n) {
        int r = udp_sendmmsg(fd, tx + done, (unsigned)(n - done), MSG_DONTWAIT);
        if (r < 0) {
            if (r == -EINTR) {
                continue;
            }
            if (log_ratelimit(&limit, 1)) {
                log_warn("UDP send failed, %d replies dropped: %s", n - done, gslb_strerror(r));
            }
            return;
        }
        done += r;
    }
}

/* Answer one batch of n datagrams from the snapshot being served now. */
static void udp_batch(udp_sock_t *w, int n)
{
    const snapshot_t *snap = reclaim_current(w->rc);
    int out = 0;

    for (int i = 0; i < n; i++) {
        struct msghdr *m = &w->rx[i].msg_hdr;
        if (m->msg_flags & MSG_TRUNC) {
            qstats_add(&w->ctx.qflow->dropped[QSTATS_DROP_TOO_LARGE], 1);
            continue;
        }
        size_t len = engine_reply(&w->ctx, snap, (const struct sockaddr *)&w->peer[i], w->rx_buf[i],
                                  w->rx[i].msg_len, w->rx_buf[i], false);
        if (len == 0) {
            continue;
        }
        struct msghdr *o = &w->tx[out].msg_hdr;
        w->tx_iov[out].iov_base = w->rx_buf[i]; /* answered in place */
        w->tx_iov[out].iov_len = len;
        o->msg_name = m->msg_name;
        o->msg_namelen = m->msg_namelen;
        o->msg_controllen = w->pktinfo ? udp_reply_cmsg(m, w->tx_cmsg[out]) : 0;
        o->msg_control = o->msg_controllen ? w->tx_cmsg[out] : NULL;
        out++;
    }
    udp_send(w->fd, w->tx, out); /* before rearming: tx names point into rx */
}

/* The UDP thread: block for the first datagram, take whatever else is
 * queued (MSG_WAITFORONE), answer the batch, repeat. Snapshot reclamation
 * (reclaim.h) treats the thread as quiescent while it is blocked: it is
 * "offline" then, and "online" at the generation it read while it answers. */
static void udp_main(void *arg)
{
    udp_sock_t *w = arg;

    while (!atomic_load(w->stopping)) {
        for (int i = 0; i < w->n_rx; i++) {
            udp_rearm(w, i);
        }
        reclaim_offline(&w->reader);
        int n = udp_recvmmsg(w->fd, w->rx, UDP_BATCH, MSG_WAITFORONE);
        w->n_rx = n > 0 ? n : 0;
        if (n <= 0) {
            continue; /* the ADDR_UDP_WAKE_MS timeout, a signal, or an error to ride out */
        }
        reclaim_online(&w->reader, w->rc);
        udp_batch(w, n);
    }
    reclaim_offline(&w->reader);
}

udp_sock_t *udp_new(int fd, bool pktinfo, reclaim_t *rc, const _Atomic bool *stopping)
{
    udp_sock_t *u = xcalloc(1, sizeof(*u));

    u->fd = fd;
    u->pktinfo = pktinfo;
    u->rc = rc;
    u->stopping = stopping;
    /* Bound to one address, IPv6 ones IPV6_V6ONLY (addr.h): every client of
     * the socket is of its family. */
    struct sockaddr_storage ss = {0};
    socklen_t sslen = sizeof(ss);
    bool v6 = getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0 && ss.ss_family == AF_INET6;
    u->qs = qstats_new(false);
    u->ctx.qflow = &u->qs->flow[v6];
    udp_prepare(u);
    reclaim_add_reader(rc, &u->reader, false);
    return u;
}

answer_ctx_t *udp_ctx(udp_sock_t *u)
{
    return &u->ctx;
}

const qstats_t *udp_qstats(const udp_sock_t *u)
{
    return u->qs;
}

int udp_start(udp_sock_t *u)
{
    int r = uv_thread_create(&u->thread, udp_main, u);

    u->started = r == 0;
    return r;
}

void udp_free(udp_sock_t *u)
{
    if (u == NULL) {
        return;
    }
    if (u->started) {
        uv_thread_join(&u->thread); /* within ADDR_UDP_WAKE_MS of the stop flag */
    }
    close(u->fd);
    qstats_free(u->qs);
    free(u);
}
