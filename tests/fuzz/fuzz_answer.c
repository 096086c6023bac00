/*
 * Fuzz target: any bytes as a query to engine_reply(), over UDP and TCP,
 * against the example zone (and the built-in world database when present).
 * A reply must fit its transport's limit and parse as DNS; nothing may
 * crash or read out of bounds. Build with clang -fsanitize=fuzzer (make
 * fuzz) or replay a corpus with tests/fuzz/replay.c (make test does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gslbd/engine/engine.h"
#include "zones/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static snapshot_t *fuzz_snapshot(void)
{
    static snapshot_t *snap;
    diag_t errs = {0};
    zone_t *zone;
    geo_db_t *db = NULL;

    if (snap != NULL) {
        return snap;
    }
    if (zone_load("zones/examples/gslb.example.com.yaml", 0, &zone, &errs) != 0) {
        fprintf(stderr, "fuzz_answer: run from the repository root\n");
        abort();
    }
    if (geo_db_open("geo/world.mmdb", &db, &errs) != 0) {
        db = NULL;
    }
    if (snapshot_build(&zone, 1, &(snapshot_env_t){.db = db}, &snap, &errs) != 0) {
        abort();
    }
    zone_free(zone);
    geo_db_free(db);
    return snap;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[ENCODE_TCP_MAX];
    static answer_ctx_t ctx = {.rng = 1};
    const snapshot_t *s = fuzz_snapshot();
    struct sockaddr_storage src = {.ss_family = AF_INET};

    for (int tcp = 0; tcp < 2; tcp++) {
        size_t n = engine_reply(&ctx, s, (struct sockaddr *)&src, data, size, out, tcp);
        ldns_pkt *p;
        if (n > (tcp ? ENCODE_TCP_MAX : ENCODE_UDP_MAX)) {
            abort();
        }
        if (n > 0) {
            if (ldns_wire2pkt(&p, out, n) != LDNS_STATUS_OK) {
                abort(); /* we sent something that is not DNS */
            }
            ldns_pkt_free(p);
        }
    }
    /* The UDP path answers in place, over the query: it must write the same
     * bytes as an answer into a separate buffer (answer_packet reads all it
     * needs before it writes). */
    static uint8_t inplace[ENCODE_TCP_MAX];
    if (size <= sizeof(inplace)) {
        size_t n = engine_reply(&ctx, s, (struct sockaddr *)&src, data, size, out, false);
        memcpy(inplace, data, size);
        size_t m = engine_reply(&ctx, s, (struct sockaddr *)&src, inplace, size, inplace, false);
        if (m != n || memcmp(inplace, out, n) != 0) {
            abort();
        }
    }
    return 0;
}
