/*
 * sink_influx: see sink_influx.h.  The outbox owns the backlog, so an
 * InfluxDB outage loses nothing up to the telemetry cap and never delays an
 * alarm (the outbox hands alarms out first).
 */
#include "sink_influx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "clock.h"
#include "filecheck.h"
#include "influx.h"
#include "log.h"
#include "selfalarm.h"
#include "sink.h"
#include "uplink.h"

#define LINE_MAX 2048            /* one line-protocol point */
#define SETUP_RETRY_MIN_MS 2000  /* a writer that could not be set up or was refused: */
#define SETUP_RETRY_MAX_MS 60000 /* set up again after this backoff (files read afresh) */

struct sink_influx {
    struct sink sink;
    const struct cfg *cfg;
    struct selfalarm *sa;
    struct influx *ix; /* NULL: not set up */
    char *buf;         /* the batch's lines */
    int64_t *ids;      /* the batch in flight, as offered */
    int n;
    uint64_t batch; /* id of the batch in flight, 0: none */
    uint64_t last_batch;
    enum sink_outcome outcome; /* of the finished batch (batch 0): ids[confirmed..n) wait */
    int confirmed;             /* how many of them were taken */
    bool down_logged;
    uint64_t set_aside;
    int64_t setup_at_ms; /* set the writer up afresh then; 0: not due */
    int setup_backoff_ms;
};

static void retry_later(struct sink_influx *si)
{
    si->setup_at_ms = mono_ms() + si->setup_backoff_ms;
    si->setup_backoff_ms = si->setup_backoff_ms * 2 > SETUP_RETRY_MAX_MS ? SETUP_RETRY_MAX_MS
                                                                         : si->setup_backoff_ms * 2;
}

static void setup(struct sink_influx *si)
{
    const struct cfg *c = si->cfg;
    char why[UPLINK_WHY_MAX];
    bool retry = true;

    if (c->influx.error[0] != '\0') {
        snprintf(why, sizeof(why), "%s", c->influx.error);
        retry = false;
    } else if (!filecheck_unusable(c, FILECHECK_INFLUX, why, sizeof(why))) {
        struct influx_config ic = {.url = c->influx.url,
                                   .database = c->influx.database,
                                   .org = c->influx.org,
                                   .bucket = c->influx.bucket,
                                   .token_file = c->influx.token_file};
        si->ix = influx_new(&ic);
        if (si->ix != NULL) {
            if (selfalarm_output_set_up(si->sa, SELF_INFLUX))
                log_info("influx: writer set up again");
            si->setup_at_ms = 0;
            return;
        }
        snprintf(why, sizeof(why), "%s: %s", c->influx.url, strerror(errno));
    }
    selfalarm_output_setup_failed(si->sa, SELF_INFLUX, why, retry);
    si->setup_at_ms = 0;
    if (retry)
        retry_later(si);
}

/* Delivered: no more retries, the next failure starts from the shortest
 * backoff. */
static void working(struct sink_influx *si)
{
    selfalarm_output_working(si->sa, SELF_INFLUX);
    si->setup_at_ms = 0;
    si->setup_backoff_ms = SETUP_RETRY_MIN_MS;
}

/* The batch in flight finished: how its records are confirmed. */
static void outcome(struct sink_influx *si, const struct influx_result *res)
{
    bool config_fault =
        res->http_status == 401 || res->http_status == 403 || res->http_status == 404;

    if (res->outcome == INFLUX_DELIVERED) {
        si->outcome = SINK_DONE;
        if (si->down_logged)
            log_info("influx: writing again");
        si->down_logged = false;
        working(si);
    } else if (res->outcome == INFLUX_RETRY || config_fault) {
        /* Unreachable, overloaded, or refusing us (token, database): the data
         * is good, so keep it; the writer backs off before the next batch. */
        si->outcome = SINK_AGAIN;
        if (!si->down_logged)
            log_warnx("influx: write failed: %s%s (retrying; backlog kept in the outbox)",
                      res->message, config_fault ? ": check url, database and token" : "");
        si->down_logged = true;
        char why[UPLINK_WHY_MAX];
        snprintf(why, sizeof(why), "%s%.400s", res->http_status ? "refused: " : "", res->message);
        if (!config_fault) {
            selfalarm_output_down(si->sa, SELF_INFLUX, why);
        } else {
            /* Refused (token, database): a fresh writer later reads the token again. */
            selfalarm_output_failing(si->sa, SELF_INFLUX, why);
            if (si->setup_at_ms == 0)
                retry_later(si);
        }
    } else {
        /* The server will never take these points (e.g. a field type clash):
         * set them aside so the rest can flow, and say so once per batch. */
        si->outcome = SINK_DONE;
        si->set_aside += (uint64_t)si->n;
        log_warnx("influx: batch of %d points rejected: HTTP %d: %s (set aside, %llu in all)",
                  si->n, res->http_status, res->message, (unsigned long long)si->set_aside);
    }
    si->confirmed = 0;
    si->batch = 0;
}

static int take(void *ctx, struct sink_confirm *out, int max)
{
    struct sink_influx *si = ctx;
    struct influx_result res;

    bool waiting = si->batch == 0 && si->confirmed < si->n;
    if (!waiting && si->ix != NULL) {
        int rc = influx_perform(si->ix, &res);
        if (rc == 1 && res.batch_id == si->batch && si->batch != 0)
            outcome(si, &res);
        else if (rc == -1)
            log_warn("influx");
    }
    int k = 0;
    for (; k < max && si->batch == 0 && si->confirmed < si->n; k++)
        out[k] = (struct sink_confirm){.id = si->ids[si->confirmed++], .outcome = si->outcome};
    if (si->batch == 0 && si->confirmed == si->n)
        si->n = si->confirmed = 0;
    return k;
}

static int room(void *ctx, int64_t now_ms)
{
    struct sink_influx *si = ctx;

    (void)now_ms;
    if (si->ix == NULL || si->batch != 0 || si->n != 0 || !influx_ready(si->ix))
        return 0;
    return SINK_INFLUX_BATCH;
}

/* The records that fit in one write (one oversized point goes alone). */
static int offer(void *ctx, const struct outbox_rec *recs, int n)
{
    struct sink_influx *si = ctx;
    size_t used = 0;
    int take_n = 0;

    for (; take_n < n && used + recs[take_n].payload_len <= SINK_INFLUX_BATCH_BYTES; take_n++) {
        memcpy(si->buf + used, recs[take_n].payload, recs[take_n].payload_len);
        used += recs[take_n].payload_len;
    }
    if (take_n == 0 && n > 0) { /* one oversized point: send it alone */
        memcpy(si->buf, recs[0].payload, recs[0].payload_len);
        used = recs[0].payload_len;
        take_n = 1;
    }
    if (take_n == 0)
        return 0;
    si->batch = ++si->last_batch;
    if (influx_submit(si->ix, si->batch, si->buf, used) == -1) {
        si->batch = 0;
        return 0;
    }
    for (int i = 0; i < take_n; i++)
        si->ids[i] = recs[i].id;
    si->n = take_n;
    si->confirmed = 0;
    return take_n;
}

static void timer(void *ctx, int64_t now_ms)
{
    struct sink_influx *si = ctx;

    if (si->setup_at_ms == 0 || now_ms < si->setup_at_ms)
        return;
    if (si->batch != 0) {
        si->setup_at_ms = now_ms + 1000; /* a batch in flight: its outcome first */
        return;
    }
    influx_free(si->ix);
    si->ix = NULL;
    setup(si);
}

static int fd(void *ctx)
{
    struct sink_influx *si = ctx;
    return si->ix != NULL ? influx_fd(si->ix) : -1;
}

static int64_t timeout_ms(void *ctx, int64_t now_ms, int64_t cap_ms)
{
    struct sink_influx *si = ctx;

    if (si->setup_at_ms != 0 && si->setup_at_ms - now_ms < cap_ms)
        return si->setup_at_ms - now_ms < 0 ? 0 : si->setup_at_ms - now_ms;
    return cap_ms;
}

static int start(void *ctx)
{
    (void)ctx;
    return 0;
}

static const struct sink_ops ops = SINK_OPS;

struct sink_influx *sink_influx_new(const struct cfg *c, struct selfalarm *sa)
{
    struct sink_influx *si = calloc(1, sizeof(*si));

    if (si == NULL)
        return NULL;
    si->ids = calloc(SINK_INFLUX_BATCH, sizeof(*si->ids));
    si->buf = malloc(SINK_INFLUX_BATCH_BYTES + LINE_MAX);
    if (si->ids == NULL || si->buf == NULL) {
        sink_influx_free(si);
        return NULL;
    }
    si->sink = (struct sink){
        .name = "influx", .id = SINK_INFLUX, .batch = SINK_INFLUX_BATCH, .ops = &ops, .ctx = si};
    si->cfg = c;
    si->sa = sa;
    si->setup_backoff_ms = SETUP_RETRY_MIN_MS;
    setup(si);
    return si;
}

void sink_influx_free(struct sink_influx *si)
{
    if (si == NULL)
        return;
    influx_free(si->ix); /* a batch in flight stays in the outbox */
    free(si->ids);
    free(si->buf);
    free(si);
}

struct sink *sink_influx_sink(struct sink_influx *si)
{
    return &si->sink;
}

void sink_influx_set_cfg(struct sink_influx *si, const struct cfg *c)
{
    si->cfg = c;
}
