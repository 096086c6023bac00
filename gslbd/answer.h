/*
 * answer: the response to one query message, from a snapshot.
 *
 * A pure function over an immutable snapshot: no I/O, no allocation, no
 * locks, so it is unit-tested and fuzzed directly and runs on any thread.
 * It picks a prepared answer (see snapshot.h), copies it behind the client's
 * own question and fills in what varies per query: the ID, flags, EDNS and,
 * for services, the chosen addresses.
 */
#ifndef GSLB_ANSWER_H
#define GSLB_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* Largest UDP response we send whatever the client offers: avoids IP
 * fragmentation (DNS flag day 2020; RFC 9715). */
#define ANSWER_UDP_MAX 1232
#define ANSWER_TCP_MAX 65535

/* Write the response to `pkt` into `out`, which has room for ANSWER_UDP_MAX
 * bytes (UDP) or ANSWER_TCP_MAX bytes (TCP). Returns its length, or 0 when
 * the packet gets no reply at all. */
size_t answer_packet(const snapshot_t *s, const uint8_t *pkt, size_t len, uint8_t *out,
                     bool tcp);

#endif
