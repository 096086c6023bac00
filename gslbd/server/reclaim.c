/*
 * reclaim: snapshot publication and quiescent-state reclamation; see
 * reclaim.h.
 */
#include "gslbd/server/reclaim.h"

#include <malloc.h>
#include <stdlib.h>

#include "common/alloc.h"

#define RECLAIM_RETRY_MS 20

struct reclaim_retired {
    snapshot_t *snap;
    uint64_t gen; /* freed once every reader has seen this generation */
    reclaim_retired_t *next;
};

reclaim_t *reclaim_new(void)
{
    return xcalloc(1, sizeof(reclaim_t));
}

void reclaim_add_reader(reclaim_t *r, reclaim_reader_t *rd, bool online)
{
    atomic_store(&rd->seen, online ? 0 : RECLAIM_OFFLINE);
    r->readers = xreallocarray(r->readers, r->n_readers + 1, sizeof(*r->readers));
    r->readers[r->n_readers++] = rd;
}

static void reclaim_on_retry(uv_timer_t *t);

void reclaim_on_free(reclaim_t *r, void (*fn)(void *arg, const snapshot_t *s), void *arg)
{
    r->on_free = fn;
    r->on_free_arg = arg;
}

static void reclaim_drop(reclaim_t *r, snapshot_t *s)
{
    if (s != NULL && r->on_free != NULL) {
        r->on_free(r->on_free_arg, s);
    }
    snapshot_free(s);
}

/* Free the retired snapshots no reader can still hold: every reader has
 * seen their retirement or is offline (which never lowers the minimum).
 * While some are left, try again shortly. */
static void reclaim_check(reclaim_t *r)
{
    uint64_t min = UINT64_MAX;
    bool freed = false;

    if (r->held) {
        uv_timer_stop(&r->retry); /* reclaim_hold() checks again on release */
        return;
    }
    for (size_t i = 0; i < r->n_readers; i++) {
        uint64_t g = atomic_load(&r->readers[i]->seen);
        min = g < min ? g : min;
    }
    for (reclaim_retired_t **p = &r->retired; *p != NULL;) {
        reclaim_retired_t *old = *p;
        if (old->gen <= min) {
            *p = old->next;
            reclaim_drop(r, old->snap);
            free(old);
            freed = true;
        } else {
            p = &old->next;
        }
    }
    if (freed) {
        malloc_trim(0); /* the old zone models were freed too: give it all back */
    }
    if (r->retired == NULL) {
        uv_timer_stop(&r->retry);
    } else if (!uv_is_active((uv_handle_t *)&r->retry)) {
        uv_timer_start(&r->retry, reclaim_on_retry, RECLAIM_RETRY_MS, RECLAIM_RETRY_MS);
    }
}

static void reclaim_on_retry(uv_timer_t *t)
{
    reclaim_check(t->data);
}

static void reclaim_on_async(uv_async_t *a)
{
    reclaim_check(a->data);
}

int reclaim_start(reclaim_t *r, uv_loop_t *loop, snapshot_t *first)
{
    int rc;

    atomic_store(&r->current, first);
    if ((rc = uv_async_init(loop, &r->async, reclaim_on_async)) < 0) {
        return rc;
    }
    r->async.data = r;
    uv_timer_init(loop, &r->retry); /* cannot fail */
    r->retry.data = r;
    return 0;
}

void reclaim_publish(reclaim_t *r, snapshot_t *s)
{
    reclaim_retired_t *old = xmalloc(sizeof(*old));

    old->snap = atomic_exchange(&r->current, s);
    old->gen = atomic_fetch_add(&r->gen, 1) + 1;
    old->next = r->retired;
    r->retired = old;
    reclaim_check(r); /* and again from the timer until it is done */
}

void reclaim_hold(reclaim_t *r, bool hold)
{
    r->held = hold;
    if (!hold && r->async.loop != NULL) {
        reclaim_check(r);
    }
}

static void reclaim_on_closed(uv_handle_t *h)
{
    reclaim_t *r = h->data;

    if (--r->closing == 0) {
        free(r);
    }
}

void reclaim_free(reclaim_t *r)
{
    if (r == NULL) {
        return;
    }
    while (r->retired != NULL) {
        reclaim_retired_t *old = r->retired;
        r->retired = old->next;
        reclaim_drop(r, old->snap);
        free(old);
    }
    reclaim_drop(r, atomic_exchange(&r->current, NULL));
    free(r->readers);
    if (r->async.loop == NULL) {
        free(r); /* never started */
        return;
    }
    r->closing = 2; /* the last close callback frees r */
    uv_close((uv_handle_t *)&r->retry, reclaim_on_closed);
    uv_close((uv_handle_t *)&r->async, reclaim_on_closed);
}
