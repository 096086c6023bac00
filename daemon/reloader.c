/*
 * reloader: one reload at a time on libuv's thread pool, requests merged;
 * see reloader.h.
 */
#include "daemon/reloader.h"

#include "common/log.h"

static void reloader_start(reloader_t *r);

static void reloader_on_work(uv_work_t *req)
{
    reloader_t *r = req->data;

    r->ops->work(r->arg, r->running);
}

static void reloader_on_done(uv_work_t *req, int status)
{
    reloader_t *r = req->data;
    unsigned what = r->running;

    (void)status; /* never cancelled: uv_cancel() is not used */
    r->running = 0;
    r->ops->done(r->arg, what, r->stopping);
    if (r->pending && !r->stopping) {
        reloader_start(r);
    }
}

static void reloader_start(reloader_t *r)
{
    int rc;

    r->running = r->pending;
    r->pending = 0;
    if (r->ops->begin) {
        r->ops->begin(r->arg, r->running);
    }
    rc = uv_queue_work(r->loop, &r->req, reloader_on_work, reloader_on_done);
    if (rc < 0) {
        /* Cannot happen with valid callbacks; reload here rather than never. */
        log_warn("cannot reload aside (%s): reloading on the main loop", uv_strerror(rc));
        reloader_on_work(&r->req);
        reloader_on_done(&r->req, 0);
    }
}

void reloader_init(uv_loop_t *loop, reloader_t *r, const reloader_ops_t *ops, void *arg)
{
    *r = (reloader_t){.loop = loop, .ops = ops, .arg = arg};
    r->req.data = r;
}

void reloader_request(reloader_t *r, unsigned what)
{
    if (r->stopping || what == 0) {
        return;
    }
    r->pending |= what;
    if (!r->running) {
        reloader_start(r);
    }
}

bool reloader_busy(const reloader_t *r)
{
    return r->running != 0;
}

void reloader_stop(reloader_t *r)
{
    r->stopping = true;
    r->pending = 0;
    if (r->running) {
        log_info("waiting for the reload in progress to finish");
    }
    while (r->running) {
        uv_run(r->loop, UV_RUN_ONCE);
    }
}
