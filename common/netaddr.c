/*
 * netaddr: "ADDRESS:PORT" into a socket address; see netaddr.h.
 */
#include "common/netaddr.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

netaddr_err_t netaddr_parse(const char *text, struct sockaddr_storage *ss, char *host)
{
    char buf[NETADDR_HOST_MAX];
    const char *colon;
    char *end;
    size_t hlen;

    memset(ss, 0, sizeof(*ss));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            return NETADDR_SHAPE;
        }
        hlen = (size_t)(close - text - 1);
        colon = close + 1;
        text++;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            return NETADDR_SHAPE;
        }
        hlen = (size_t)(colon - text);
    }
    if (hlen >= sizeof(buf)) {
        return NETADDR_LONG;
    }
    memcpy(buf, text, hlen);
    buf[hlen] = '\0';
    if (host != NULL) {
        memcpy(host, buf, hlen + 1);
    }
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || colon[1] == '\0' || port > 65535) {
        return NETADDR_PORT;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        return NETADDR_OK;
    }
    if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        return NETADDR_OK;
    }
    return NETADDR_HOST;
}
