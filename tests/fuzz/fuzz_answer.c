/*
 * Fuzz target: any bytes as a query to engine_reply(), over UDP (through
 * a rate limiter) and TCP, with DNS cookies answered, against the example
 * zone (and the built-in world database when present).
 * A reply must fit its transport's limit and parse as DNS; nothing may
 * crash or read out of bounds. Build with clang -fsanitize=fuzzer (make
 * fuzz) or replay a corpus with tests/fuzz/replay.c (make test does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gslbd/engine/engine.h"
#include "gslbd/engine/qstats.h"
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

/* Cookies answered with a fixed secret, at a fixed time; over UDP a rate
 * limiter so low that most inputs take its limited paths (dropped, slipped
 * truncated or as BADCOOKIE, logged). */
static const uint8_t secret[16] = {0x5e, 0xc7, 0xe7};
static _Atomic uint64_t clock_us = 1700000000ull * 1000000u;

static rrl_t *fuzz_rrl(void)
{
    static rrl_t *rrl;
    rrl_config_t cfg;

    if (rrl == NULL) {
        rrl_config_default(&cfg);
        cfg.rate = 2;
        cfg.slip = 2;
        cfg.table_size = 64;
        cfg.n_exempt = 0;
        rrl = rrl_new(&cfg, secret, &clock_us);
    }
    return rrl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[ENCODE_TCP_MAX];
    static qstats_flow_t counts; /* engine_reply() counts every query in a set */
    static answer_ctx_t ctx = {
        .cookie_secret = secret, .clock = &clock_us, .qflow = &counts};
    const snapshot_t *s = fuzz_snapshot();
    struct sockaddr_storage src = {.ss_family = size % 2 ? AF_INET : AF_INET6};

    ctx.rrl = fuzz_rrl();
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
     * needs before it writes). Without the limiter, whose budgets the first
     * answer would change for the second. */
    static uint8_t inplace[ENCODE_TCP_MAX];
    ctx.rrl = NULL;
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
