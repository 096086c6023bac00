/*
 * netaddr: "ADDRESS:PORT" on a command line, into a socket address: gslbd's
 * --listen and both daemons' --http read addresses through this one parser.
 *
 * Accepted: "192.0.2.1:53", "[2001:db8::1]:53", and, as --listen always has,
 * an IPv6 address without brackets (the last colon starts the port) and a
 * port of 0. Numeric addresses only: no name is resolved. Callers with
 * stricter rules (--http: brackets for IPv6, a port of 1 to 65535 in digits)
 * check them on top.
 */
#ifndef GSLB_NETADDR_H
#define GSLB_NETADDR_H

#include <arpa/inet.h>
#include <sys/socket.h>

/* The longest address text taken (an IPv6 address, a little slack). */
#define NETADDR_HOST_MAX (INET6_ADDRSTRLEN + 2)

typedef enum {
    NETADDR_OK = 0,
    NETADDR_SHAPE, /* no ":PORT", or "[" without "]:" */
    NETADDR_LONG,  /* the address part is longer than any address */
    NETADDR_PORT,  /* the port is not a number up to 65535 */
    NETADDR_HOST,  /* the address part is not a numeric IPv4 or IPv6 address */
} netaddr_err_t;

/* Parse `text` into *ss (zeroed first). `host`, if not NULL, receives the
 * address part (NETADDR_HOST_MAX bytes) once the text has that shape, for a
 * caller's message. */
netaddr_err_t netaddr_parse(const char *text, struct sockaddr_storage *ss, char *host);

#endif
