/*
 * Unit tests for the quorum of vantages (healthdb.c): each healthd's vote on
 * a member, staleness and canaries that make a vantage abstain, the majority
 * and a fixed quorum, and the state held when nobody may vote.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "gslbd/engine/healthdb.h"

typedef struct {
    healthdb_t *h;
    healthdb_slot_t *m;
    int v[5];
} fx_t;

static void fx_init(fx_t *fx, unsigned n, unsigned quorum)
{
    char name[8];

    fx->h = healthdb_new(NULL);
    fx->m = healthdb_slot(fx->h, "q.test", "eu", "192.0.2.1");
    fx->m->stale_after_ms = 1500;
    fx->m->quorum = quorum;
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "v%u", i + 1);
        fx->v[i] = healthdb_source(fx->h, name);
    }
}

static void vote(fx_t *fx, unsigned i, health_state_t st, uint64_t now)
{
    char why[32];
    snprintf(why, sizeof(why), "from v%u", i + 1);
    cr_assert_eq(healthdb_report(fx->h, fx->v[i], "q.test", "eu", "192.0.2.1", st, why, now), 0);
}

static health_state_t state(const fx_t *fx)
{
    return (health_state_t)atomic_load(&fx->m->state);
}

/* Keep the others fresh: a healthd sends PING every second. */
static void ping(fx_t *fx, unsigned n, uint64_t now)
{
    for (unsigned i = 0; i < n; i++) {
        healthdb_heard(fx->h, fx->v[i], now);
    }
}

Test(quorum, one_vantage_decides_alone)
{
    fx_t fx;
    fx_init(&fx, 1, 0);
    cr_expect_eq(state(&fx), HEALTH_UNKNOWN, "never reported: unknown (counts as up)");
    vote(&fx, 0, HEALTH_DOWN, 100);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "majority of 1 is 1");
    cr_expect_str_eq(fx.m->reason, "from v1", "the deciding vote's reason");
    vote(&fx, 0, HEALTH_UP, 200);
    cr_expect_eq(state(&fx), HEALTH_UP);
    cr_expect_not(atomic_load(&fx.m->held));
    healthdb_free(fx.h);
}

Test(quorum, one_dissenting_vote_of_three_changes_nothing)
{
    fx_t fx;
    fx_init(&fx, 3, 0);
    for (unsigned i = 0; i < 3; i++) {
        vote(&fx, i, HEALTH_UP, 100);
    }
    cr_assert_eq(state(&fx), HEALTH_UP);
    vote(&fx, 0, HEALTH_DOWN, 200); /* v1 lost its path to the region */
    cr_expect_eq(state(&fx), HEALTH_UP, "1 down of 3: up");
    cr_expect_eq(fx.m->tally.down, 1);
    cr_expect_eq(fx.m->tally.up, 2);
    cr_expect_eq(fx.m->tally.need, 2);
    cr_expect_not(atomic_load(&fx.m->held), "2 of 3 agree: decided, not held");
    vote(&fx, 1, HEALTH_DOWN, 300); /* the region really failed */
    cr_expect_eq(state(&fx), HEALTH_DOWN, "2 down of 3: down");
    vote(&fx, 2, HEALTH_DOWN, 400);
    vote(&fx, 0, HEALTH_UP, 500);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "2 of 3 still down");
    vote(&fx, 1, HEALTH_UP, 600);
    cr_expect_eq(state(&fx), HEALTH_UP, "up again by the same rule");
    healthdb_free(fx.h);
}

Test(quorum, a_tie_holds_the_last_decision)
{
    fx_t fx;
    fx_init(&fx, 2, 0);
    vote(&fx, 0, HEALTH_UP, 100);
    vote(&fx, 1, HEALTH_UP, 100);
    vote(&fx, 1, HEALTH_DOWN, 200);
    cr_expect_eq(state(&fx), HEALTH_UP, "1 to 1: neither has the majority of 2");
    cr_expect(atomic_load(&fx.m->held), "held, so answers use min_ttl");
    cr_expect(strstr(fx.m->reason, "held") != NULL, "the reason says so: %s", fx.m->reason);
    vote(&fx, 0, HEALTH_DOWN, 300);
    cr_expect_eq(state(&fx), HEALTH_DOWN);
    cr_expect_not(atomic_load(&fx.m->held));
    healthdb_free(fx.h);
}

Test(quorum, a_fixed_quorum_counts_votes)
{
    fx_t fx;
    fx_init(&fx, 3, 1); /* any one vantage that sees it down, unless more see it up */
    for (unsigned i = 0; i < 3; i++) {
        vote(&fx, i, HEALTH_UP, 100);
    }
    vote(&fx, 0, HEALTH_DOWN, 200);
    cr_expect_eq(state(&fx), HEALTH_UP, "quorum 1 but 2 say up: more agree on up");
    vote(&fx, 1, HEALTH_DOWN, 300);
    cr_expect_eq(state(&fx), HEALTH_DOWN);
    healthdb_free(fx.h);

    fx_init(&fx, 3, 3); /* all three must agree */
    for (unsigned i = 0; i < 3; i++) {
        vote(&fx, i, HEALTH_UP, 100);
    }
    vote(&fx, 0, HEALTH_DOWN, 200);
    vote(&fx, 1, HEALTH_DOWN, 200);
    cr_expect_eq(state(&fx), HEALTH_UP, "2 of a quorum of 3: held up");
    cr_expect(atomic_load(&fx.m->held));
    vote(&fx, 2, HEALTH_DOWN, 300);
    cr_expect_eq(state(&fx), HEALTH_DOWN);
    healthdb_free(fx.h);
}

Test(quorum, a_stale_vantage_abstains_and_the_others_decide)
{
    fx_t fx;
    fx_init(&fx, 3, 0);
    for (unsigned i = 0; i < 3; i++) {
        vote(&fx, i, HEALTH_UP, 1000);
    }
    /* v3 falls silent; v1 and v2 keep talking. */
    ping(&fx, 2, 2000);
    ping(&fx, 2, 2900);
    healthdb_tick(fx.h, 2900);
    cr_assert(fx.m->votes[2].stale, "1.9 s without a word from v3 (stale_after 1.5 s)");
    cr_expect_not(fx.m->votes[0].stale);
    char why[160];
    cr_expect_not(healthdb_vote_counts(fx.h, &fx.m->votes[2], why, sizeof(why)));
    cr_expect(strstr(why, "stale") != NULL, "%s", why);
    vote(&fx, 0, HEALTH_DOWN, 3000);
    cr_expect_eq(state(&fx), HEALTH_UP, "1 to 1 of 2 voting: held");
    vote(&fx, 1, HEALTH_DOWN, 3100);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "2 of 2 voting: down, without v3");
    cr_expect_eq(fx.m->tally.voting, 2);
    /* v3 speaks again: its old vote counts only once it reports the member. */
    ping(&fx, 3, 3200);
    healthdb_tick(fx.h, 3200);
    cr_expect(fx.m->votes[2].stale, "heard again, but its vote is from before the gap");
    cr_expect(healthdb_want_sync(fx.h, fx.v[2]), "so it is asked for its full state");
    vote(&fx, 2, HEALTH_DOWN, 3300);
    cr_expect_eq(fx.m->tally.voting, 3);
    healthdb_free(fx.h);
}

Test(quorum, a_vantage_whose_canary_fails_abstains)
{
    fx_t fx;
    fx_init(&fx, 3, 0);
    for (unsigned i = 0; i < 3; i++) {
        vote(&fx, i, HEALTH_UP, 100);
    }
    healthdb_canary(fx.h, fx.v[2], false, "10.9.0.1:80: connect timeout", 150);
    const char *why = NULL;
    cr_assert(healthdb_source_abstains(fx.h, fx.v[2], &why));
    cr_expect_str_eq(why, "10.9.0.1:80: connect timeout");
    vote(&fx, 2, HEALTH_DOWN, 200); /* cut off, it sees everything down */
    cr_expect_eq(state(&fx), HEALTH_UP, "its vote does not count");
    cr_expect_eq(fx.m->tally.voting, 2);
    vote(&fx, 0, HEALTH_DOWN, 300);
    cr_expect_eq(state(&fx), HEALTH_UP, "1 to 1 of the two that vote: held");
    healthdb_canary(fx.h, fx.v[2], true, "", 400);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "its canary answers again: its down vote counts at once");
    healthdb_free(fx.h);
}

Test(quorum, when_every_vantage_abstains_the_last_state_stays)
{
    fx_t fx;
    fx_init(&fx, 2, 0);
    vote(&fx, 0, HEALTH_DOWN, 1000);
    vote(&fx, 1, HEALTH_DOWN, 1000);
    cr_assert_eq(state(&fx), HEALTH_DOWN);
    uint64_t gen = atomic_load(healthdb_gen(fx.h));
    healthdb_tick(fx.h, 3000); /* both silent for 2 s */
    cr_expect_eq(state(&fx), HEALTH_DOWN, "not failed open");
    cr_expect(atomic_load(&fx.m->held));
    cr_expect_eq(fx.m->tally.voting, 0);
    cr_expect(strstr(fx.m->reason, "no vantage votes") != NULL, "%s", fx.m->reason);
    cr_expect_gt(atomic_load(healthdb_gen(fx.h)), gen, "caches see the hold (min_ttl)");
    healthdb_free(fx.h);

    fx_init(&fx, 2, 0);
    vote(&fx, 0, HEALTH_UP, 1000);
    vote(&fx, 1, HEALTH_UP, 1000);
    healthdb_canary(fx.h, fx.v[0], false, "x", 1100);
    healthdb_canary(fx.h, fx.v[1], false, "y", 1100);
    vote(&fx, 0, HEALTH_DOWN, 1200);
    vote(&fx, 1, HEALTH_DOWN, 1200);
    cr_expect_eq(state(&fx), HEALTH_UP, "not failed shut by vantages that cannot see out");
    cr_expect(atomic_load(&fx.m->held));
    healthdb_free(fx.h);
}

Test(quorum, unknown_votes_do_not_count)
{
    fx_t fx;
    fx_init(&fx, 2, 0);
    vote(&fx, 0, HEALTH_DOWN, 100);
    vote(&fx, 1, HEALTH_UNKNOWN, 100); /* a healthd that has just started */
    cr_expect_eq(state(&fx), HEALTH_DOWN, "1 of 1 voting");
    vote(&fx, 0, HEALTH_UNKNOWN, 200);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "a restarted healthd does not undo what was decided");
    cr_expect(atomic_load(&fx.m->held));
    healthdb_free(fx.h);
}

Test(quorum, a_reload_that_changes_the_quorum_decides_again)
{
    fx_t fx;
    fx_init(&fx, 3, 3);
    for (unsigned i = 0; i < 3; i++) {
        vote(&fx, i, HEALTH_UP, 100);
    }
    vote(&fx, 0, HEALTH_DOWN, 200);
    vote(&fx, 1, HEALTH_DOWN, 200);
    cr_assert_eq(state(&fx), HEALTH_UP);
    fx.m->quorum = 0; /* as snapshot_attach_health() does on a reload */
    fx.m->redecide = true;
    ping(&fx, 3, 900);
    healthdb_tick(fx.h, 900);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "majority now: 2 of 3");
    healthdb_free(fx.h);
}

Test(quorum, a_split_never_decided_is_held_unknown)
{
    fx_t fx;
    fx_init(&fx, 2, 2); /* a gslbd restarted while its two vantages disagree */
    vote(&fx, 0, HEALTH_UNKNOWN, 100);
    vote(&fx, 1, HEALTH_UNKNOWN, 100);
    cr_expect_not(atomic_load(&fx.m->held), "nobody has judged yet: unknown, not held");
    vote(&fx, 0, HEALTH_UP, 200);
    cr_expect_eq(state(&fx), HEALTH_UNKNOWN, "1 vote of the 2 needed");
    vote(&fx, 1, HEALTH_DOWN, 200);
    cr_expect_eq(state(&fx), HEALTH_UNKNOWN, "1 to 1: never decided");
    cr_expect(atomic_load(&fx.m->held), "held unknown: answers use min_ttl");
    vote(&fx, 1, HEALTH_UP, 300);
    cr_expect_eq(state(&fx), HEALTH_UP);
    cr_expect_not(atomic_load(&fx.m->held));
    healthdb_free(fx.h);
}

/* A vantage whose full state (after HELLO, or asked for) leaves a member
 * out no longer probes it: its old vote is dropped at SYNCED, not kept fresh
 * by its PINGs. */
Test(quorum, a_member_left_out_of_a_full_state_loses_that_vote)
{
    fx_t fx;
    fx_init(&fx, 2, 0);
    vote(&fx, 0, HEALTH_DOWN, 100);
    vote(&fx, 1, HEALTH_DOWN, 100);
    healthdb_synced(fx.h, fx.v[0], 110);
    cr_assert_eq(fx.m->n_votes, 2, "a full state that has it keeps it");
    cr_assert_eq(state(&fx), HEALTH_DOWN);
    cr_assert_eq(healthdb_source(fx.h, "v1"), fx.v[0], "v1 reconnects (its zone changed)");
    healthdb_synced(fx.h, fx.v[0], 200); /* ... and its full state leaves the member out */
    cr_expect_eq(fx.m->n_votes, 1, "v1's vote is dropped");
    cr_expect_eq(fx.m->votes[0].source, fx.v[1]);
    cr_expect_eq(state(&fx), HEALTH_DOWN, "v2 alone decides");
    cr_expect_eq(fx.m->tally.voting, 1);
    healthdb_free(fx.h);
}

/* A vantage that comes back (HELLO) without canaries, and so sends no
 * CANARY before its SYNCED, abstains no more. */
Test(quorum, a_vantage_back_without_canaries_votes_again)
{
    fx_t fx;
    fx_init(&fx, 1, 0);
    healthdb_canary(fx.h, fx.v[0], false, "10.0.0.9:80: refused", 100);
    vote(&fx, 0, HEALTH_DOWN, 110);
    healthdb_synced(fx.h, fx.v[0], 120);
    cr_assert(healthdb_source_abstains(fx.h, fx.v[0], NULL), "its canary said failed");
    cr_assert_eq(state(&fx), HEALTH_UNKNOWN, "no vote counted");
    healthdb_source(fx.h, "v1"); /* restarted without canaries */
    vote(&fx, 0, HEALTH_DOWN, 200);
    healthdb_synced(fx.h, fx.v[0], 210);
    cr_expect_not(healthdb_source_abstains(fx.h, fx.v[0], NULL));
    cr_expect_eq(state(&fx), HEALTH_DOWN, "its vote counts again");
    healthdb_free(fx.h);
}
