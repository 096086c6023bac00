/*
 * vantage: a vantage's canaries, probed and judged; see vantage.h.
 */
#include "healthd/vantage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

struct vantage {
    char *name;
    prober_t *prober;
    vantage_fn changed;
    void *arg;
    canary_verdict_t verdict;
};

/* The canaries' states, then the reasons of those that are known. */
typedef struct {
    canary_probe_t *c;
    const target_t **t;
    size_t n;
} vantage_gather_t;

static void vantage_gather_state(void *arg, const target_t *t, health_state_t state,
                                 const pstats_target_t *s)
{
    vantage_gather_t *g = arg;

    (void)s;
    g->c[g->n] = (canary_probe_t){.where = t->where, .state = state};
    g->t[g->n++] = t;
}

static void vantage_gather_reason(void *arg, const target_t *t, health_state_t state,
                                  const char *reason)
{
    vantage_gather_t *g = arg;

    (void)state;
    for (size_t i = 0; i < g->n; i++) {
        if (g->t[i] == t) {
            g->c[i].reason = reason;
            break;
        }
    }
}

/* Say when the verdict turns: this is the line an operator looks for when
 * a vantage's votes stop counting. */
static void vantage_log_turn(const vantage_t *v, const canary_verdict_t *now)
{
    if (now->failed) {
        log_warn("vantage %s: its canaries fail (%s): gslbd counts none of its votes until "
                 "they answer",
                 v->name, now->reason);
    } else if (now->n == 0) {
        log_info("vantage %s: it has no canaries any more (a reload removed them): its votes "
                 "count",
                 v->name);
    } else {
        log_info("vantage %s: its canaries answer again (%zu of %zu down): its votes count",
                 v->name, now->down, now->n);
    }
}

/* Judge again; tell the owner when what gslbd hears would change. */
static void vantage_judge(vantage_t *v)
{
    size_t n = prober_count(v->prober);
    vantage_gather_t g = {xcalloc(n + 1, sizeof(*g.c)), xcalloc(n + 1, sizeof(*g.t)), 0};
    canary_verdict_t now;

    prober_each_stats(v->prober, vantage_gather_state, &g);
    prober_each(v->prober, vantage_gather_reason, &g);
    canary_judge(g.c, g.n, &now); /* the reasons are copied into now.reason */
    free(g.c);
    free(g.t);
    if (canary_same(&now, &v->verdict)) {
        return;
    }
    bool turned = now.failed != v->verdict.failed;
    v->verdict = now;
    if (turned) {
        vantage_log_turn(v, &now);
    }
    v->changed(v->arg, v);
}

static void vantage_on_change(void *arg, const target_t *t, health_state_t state,
                              const char *reason)
{
    (void)t;
    (void)state;
    (void)reason;
    vantage_judge(arg);
}

int vantage_new(uv_loop_t *loop, const char *name, vantage_fn changed, void *arg, vantage_t **out)
{
    vantage_t *v = xcalloc(1, sizeof(*v));
    int r = prober_new(loop, vantage_on_change, v, &v->prober);

    if (r < 0) {
        free(v);
        return r;
    }
    v->name = xstrdup(name);
    v->changed = changed;
    v->arg = arg;
    canary_judge(NULL, 0, &v->verdict);
    *out = v;
    return 0;
}

void vantage_set(vantage_t *v, target_t *t, size_t n, prober_diff_t *diff)
{
    prober_set(v->prober, t, n, diff);
    vantage_judge(v);
}

const char *vantage_name(const vantage_t *v)
{
    return v->name;
}

size_t vantage_count(const vantage_t *v)
{
    return prober_count(v->prober);
}

const canary_verdict_t *vantage_verdict(const vantage_t *v)
{
    return &v->verdict;
}

int vantage_line(const vantage_t *v, char *out, size_t size)
{
    return canary_line(&v->verdict, out, size);
}

void vantage_each(const vantage_t *v, prober_stats_fn fn, void *arg)
{
    prober_each_stats(v->prober, fn, arg);
}

void vantage_free(vantage_t *v)
{
    if (v == NULL) {
        return;
    }
    prober_free(v->prober);
    free(v->name);
    free(v);
}
