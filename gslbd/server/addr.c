/*
 * addr: listen addresses and their sockets; see addr.h.
 */
#include "gslbd/server/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
    }
}

bool addr_is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6) {
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    }
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

int addr_bind(const struct sockaddr_storage *ss, int type)
{
    int on = 1, fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (fd < 0) {
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0 ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (type == SOCK_DGRAM && addr_is_wildcard(ss)) {
        /* Replies must leave from the address the query came to. */
        if (ss->ss_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
        } else {
            setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
        }
    }
    if (type == SOCK_DGRAM) {
        int size = 4 << 20; /* absorb bursts; the kernel caps it at rmem_max */
        struct timeval wake = {0, ADDR_UDP_WAKE_MS * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof(wake));
        /* blocking: the UDP threads wait in recvmmsg(), not in an event loop */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        (type == SOCK_STREAM && listen(fd, 256) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int addr_probe(const struct sockaddr_storage *ss, int type)
{
    int on = 1, r = 0, fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0);
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

    if (fd < 0) {
        return -errno;
    }
    if (ss->ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }
    if (type == SOCK_STREAM) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)); /* TIME_WAIT is fine */
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
        r = -errno;
    }
    close(fd);
    return r;
}
