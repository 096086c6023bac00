/*
 * reclaim: publishing snapshots to the worker threads, and freeing the ones
 * they no longer use.
 *
 * Worker threads read the current snapshot without locks. Publishing a new
 * one swaps a pointer and retires the old one; a retired snapshot is freed
 * on the main loop once every reader has passed a quiescent state after the
 * swap (QSBR). Each reader thread has a reclaim_reader_t saying which
 * publication generation it has seen: a loop thread records it when woken
 * after a swap (reclaim_quiescent), a UDP thread is "offline" while blocked
 * in recvmmsg and "online" at the current generation while it answers a
 * batch. The check runs when a loop thread reports in and, since UDP
 * threads do not wake the main loop, on a short timer while snapshots wait.
 * It does not know sockets or answers.
 */
#ifndef GSLB_RECLAIM_H
#define GSLB_RECLAIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "gslbd/engine/snapshot.h"

#define RECLAIM_OFFLINE UINT64_MAX

/* One per reader thread; written by that thread only. */
typedef struct {
    _Atomic uint64_t seen; /* generation seen, RECLAIM_OFFLINE while holding none */
} reclaim_reader_t;

typedef struct reclaim_retired reclaim_retired_t;

/* The fields are the inline functions' below; everything else goes through
 * the functions. */
typedef struct {
    _Atomic(snapshot_t *) current;
    _Atomic uint64_t gen; /* publications so far */
    /* main thread only */
    reclaim_reader_t **readers;
    size_t n_readers;
    reclaim_retired_t *retired;
    uv_async_t async;                                /* a loop reader reported in */
    uv_timer_t retry;                                /* runs while retired snapshots wait */
    int closing;                                     /* handles still closing in reclaim_free() */
    bool held;                                       /* reclaim_hold(): free nothing for now */
    void (*on_free)(void *arg, const snapshot_t *s); /* reclaim_on_free() */
    void *on_free_arg;
} reclaim_t;

/* A publisher with no reader and nothing published yet. */
reclaim_t *reclaim_new(void);

/* Register a reader (before reclaim_start). A loop reader starts online at
 * generation 0 (it may hold the first snapshot at any time until it reports
 * in); a UDP reader starts offline. */
void reclaim_add_reader(reclaim_t *r, reclaim_reader_t *rd, bool online);

/* Publish `first` (ownership passes) and start checking on `loop` (the
 * main loop). Returns 0 or a negative libuv code. */
int reclaim_start(reclaim_t *r, uv_loop_t *loop, snapshot_t *first) ATTR_WUR;

/* Publish `s` (ownership passes) and retire the snapshot it replaces. Main
 * thread only. Loop readers must be woken afterwards (they report in with
 * reclaim_quiescent). */
void reclaim_publish(reclaim_t *r, snapshot_t *s);

/* While held, retired snapshots wait even when no reader holds them: a
 * snapshot being compiled on another thread shares the geo map cache that
 * freeing one would change. Releasing frees what can be freed. Main thread
 * only. */
void reclaim_hold(reclaim_t *r, bool hold);

/* Call fn(arg, s) on the main loop just before each snapshot is freed,
 * when no reader can hold it any more (its answer counters are final). */
void reclaim_on_free(reclaim_t *r, void (*fn)(void *arg, const snapshot_t *s), void *arg);

/* Free everything: retired and current snapshots now, the structure once
 * the main loop has run the handles' close callbacks. Every reader must
 * have stopped. NULL-safe. */
void reclaim_free(reclaim_t *r);

/* Readers: the snapshot to answer from (stable while the reader is online). */
static inline const snapshot_t *reclaim_current(const reclaim_t *r)
{
    return atomic_load_explicit(&((reclaim_t *)r)->current, memory_order_acquire);
}

/* Snapshots published so far, the first one included. */
static inline uint64_t reclaim_generation(const reclaim_t *r)
{
    return atomic_load_explicit(&((reclaim_t *)r)->gen, memory_order_relaxed) + 1;
}

/* A UDP reader starts answering: online at the current generation. */
static inline void reclaim_online(reclaim_reader_t *rd, const reclaim_t *r)
{
    atomic_store(&rd->seen, atomic_load(&((reclaim_t *)r)->gen));
}

/* A UDP reader holds no snapshot any more (blocked in a receive). */
static inline void reclaim_offline(reclaim_reader_t *rd)
{
    atomic_store(&rd->seen, RECLAIM_OFFLINE);
}

/* A loop reader, woken after a publication, has dropped what it held: it
 * records the generation and asks the main loop to check (thread-safe). */
static inline void reclaim_quiescent(reclaim_reader_t *rd, reclaim_t *r)
{
    atomic_store(&rd->seen, atomic_load(&r->gen));
    uv_async_send(&r->async);
}

#endif
