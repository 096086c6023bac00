/*
 * addr: gslbd's listen addresses and the sockets bound to them.
 *
 * Printing "1.2.3.4:53" and "[::1]:53" (common/netaddr.h parses them), and making the sockets
 * of one address: every worker thread gets its own UDP socket and TCP
 * listener of a SO_REUSEPORT group, so the kernel spreads clients over them.
 * Sockets are made here and handed to udp.c and tcp.c; nothing here runs
 * per query.
 */
#ifndef GSLB_ADDR_H
#define GSLB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/log.h"

/* A blocked UDP thread looks at the stop flag this often (SO_RCVTIMEO). */
#define ADDR_UDP_WAKE_MS 250

/* Format an address as "1.2.3.4:53" or "[::1]:53". */
void addr_text(const struct sockaddr_storage *ss, char *buf, size_t size);

/* 0.0.0.0 or ::, where replies must say which address they leave from. */
bool addr_is_wildcard(const struct sockaddr_storage *ss);

/* A socket of the address's SO_REUSEPORT group: SOCK_DGRAM (blocking, with
 * a receive timeout of ADDR_UDP_WAKE_MS and PKTINFO on a wildcard) or
 * SOCK_STREAM (listening, non-blocking). Returns the descriptor or -errno. */
int addr_bind(const struct sockaddr_storage *ss, int type) ATTR_WUR;

/* SO_REUSEPORT would let a second gslbd (a forgotten one, with old zones)
 * silently share the port and answer half the queries: bind once without
 * it first, so a port already in use is an error. Returns 0 or -errno. */
int addr_probe(const struct sockaddr_storage *ss, int type) ATTR_WUR;

#endif
