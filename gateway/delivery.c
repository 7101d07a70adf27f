/*
 * delivery: see delivery.h.
 *
 * Invariants:
 * - A record reaches a sink only through outbox_fetch(), so only after the
 *   outbox commit that holds it returned (durable, or for alarms held in
 *   memory when the disk failed).  The cycle hands nothing to a sink from
 *   its own queues.
 * - A record leaves the outbox only through outbox_done() from its sink's
 *   own confirmation; a failed or abandoned one is released and handed out
 *   again (at least once; the centre drops duplicates by seq).
 * - A sink with a sync (MQTT) gets nothing from the outbox until the sync
 *   after its last connect is over, and the state the sync republishes
 *   before anything of the outbox (per-topic order).
 * - Commits are batched to at most one a second unless an alarm is waiting:
 *   an industrial PC's flash should not see an fsync per Modbus poll.
 *   Telemetry stays in memory while it is delivered promptly (the outbox
 *   writes it only when still pending TELEMETRY_SPILL_MS later), and the
 *   engine state is offered with every alarm commit and otherwise every
 *   STATE_EVERY_MS (the outbox writes only the chunks that changed).
 * - No MQTT or InfluxDB problem stops the gateway (docs/design.md section 1:
 *   alarm logic works without the uplink): the sinks retry on their own and
 *   raise the gateway's alarms through selfalarm.
 */
#include "delivery.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>

#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "payload.h"
#include "points.h"
#include "reload.h"
#include "selfalarm.h"
#include "sink.h"
#include "sink_influx.h"
#include "sink_mqtt.h"
#include "storage.h"
#include "sync.h"
#include "topic.h"

#define COMMIT_EVERY_MS 1000     /* telemetry and confirmations */
#define STATE_EVERY_MS 600000    /* engine timers and windows (alarm commits carry it at once) */
#define TELEMETRY_SPILL_MS 30000 /* telemetry not delivered by then is written to the outbox */
#define READING_EVERY_MS 60000   /* a reading is republished at least this often */
#define LINE_MAX 2048            /* one line-protocol point */
#define CONFIRM_BATCH 32         /* confirmations taken from a sink at a time */

struct tel {       /* telemetry waiting for the cycle's commit */
    int sensor;    /* index, or -1: the gateway itself or an output (name) */
    unsigned sink; /* SINK_MQTT (reading JSON) or SINK_INFLUX (a line) */
    char *payload;
    size_t len;
    int64_t ts_ms;
    char *name; /* an output's name (its state on output/{name}, QoS 1); NULL: a reading */
};

struct last_pub {
    bool have;
    struct reading r;
    int64_t at_ms;
};

struct delivery {
    const struct cfg *cfg;
    struct outbox *ob;
    struct selfalarm *sa;
    struct sink *sinks[SINK_COUNT];
    int nsinks;
    struct outbox_rec *recs; /* the fetch buffer: the largest sink batch */
    int recs_cap;
    char base[TOPIC_BASE_SIZE];
    bool influx; /* records are addressed to InfluxDB too ([influx] configured) */

    struct alarm_event *events; /* this cycle's engine events */
    int nevents, events_cap;
    struct tel *tel;
    int ntel, tel_cap;
    struct last_pub *last; /* per sensor: last reading published */

    int64_t last_commit_ms, last_state_ms;
    bool confirmations;         /* outbox_done() calls not yet committed */
    int64_t commit_retry_at_ms; /* after a failed commit (out of memory) */
    int64_t dropped_seen;       /* telemetry dropped by the cap, as last seen */
    bool dropping;              /* in a cap episode (logged once) */

    /* What delivery_open() made (and delivery_close() frees); NULL, false
     * after delivery_new(). */
    bool owner;
    struct sink_mqtt *mqtt;
    struct sink_influx *influx_sink;
    struct sync *sync;
    enum gw_mode mode;
    int engine_alarms[4]; /* the engine's active alarms by severity (the status's count) */
};

/* ---- hand-out ---------------------------------------------------------------- */

/* Turn sink s's confirmations into outbox calls. */
static void collect(struct delivery *d, struct sink *s)
{
    struct sink_confirm c[CONFIRM_BATCH];
    int n;

    while ((n = s->ops->take(s->ctx, c, CONFIRM_BATCH)) > 0)
        for (int i = 0; i < n; i++) {
            if (c[i].outcome == SINK_AGAIN_ALL) {
                outbox_release_all(d->ob, s->id);
            } else if (c[i].id == SINK_REPUB_ID) {
                continue; /* not an outbox record */
            } else if (c[i].outcome == SINK_DONE) {
                outbox_done(d->ob, c[i].id, s->id);
                d->confirmations = true;
            } else {
                outbox_release(d->ob, c[i].id, s->id);
            }
        }
}

/* Hand sink s what it takes now, alarms first (the outbox's order): after
 * its sync, and after the state the sync republishes (per-topic order). */
static void hand_out(struct delivery *d, struct sink *s)
{
    int64_t now = mono_ms();
    const struct outbox_rec *r;

    collect(d, s);
    int room = s->ops->room(s->ctx, now);
    if (room <= 0)
        return;
    if (s->sync != NULL) {
        if (!sync_over(s->sync, now))
            return;
        for (; room > 0 && (r = sync_repub_next(s->sync)) != NULL; room--) {
            if (s->ops->offer(s->ctx, r, 1) != 1)
                return;
            sync_sent(s->sync, r->seq);
            sync_repub_taken(s->sync);
        }
        if (sync_repub_next(s->sync) != NULL)
            return;
    }
    while (room > 0) {
        int want = room < s->batch ? room : s->batch;
        int n = outbox_fetch(d->ob, s->id, d->recs, want < d->recs_cap ? want : d->recs_cap);
        if (n <= 0)
            return;
        int taken = s->ops->offer(s->ctx, d->recs, n);
        for (int i = taken; i < n; i++) /* not taken: hand them back */
            outbox_release(d->ob, d->recs[i].id, s->id);
        for (int i = 0; s->sync != NULL && i < taken; i++)
            sync_sent(s->sync, d->recs[i].seq);
        if (taken < n)
            return;
        room = s->ops->room(s->ctx, now);
    }
}

/* ---- the cycle --------------------------------------------------------------- */

int delivery_queue_event(struct delivery *d, const struct alarm_event *ev)
{
    if (d->nevents == d->events_cap) {
        int cap = d->events_cap ? d->events_cap * 2 : 16;
        struct alarm_event *e = realloc(d->events, sizeof(*e) * (size_t)cap);
        if (e == NULL)
            return -1; /* the caller logs; the engine state is saved without it */
        d->events = e;
        d->events_cap = cap;
    }
    d->events[d->nevents++] = *ev;
    return 0;
}

/* Queue one telemetry record for the cycle's commit (payload copied). */
static int add_tel(struct delivery *d, int sensor, unsigned sink, const char *payload, size_t len,
                   int64_t ts_ms)
{
    if (d->ntel == d->tel_cap) {
        int cap = d->tel_cap ? d->tel_cap * 2 : 16;
        struct tel *t = realloc(d->tel, sizeof(*t) * (size_t)cap);
        if (t == NULL)
            return -1;
        d->tel = t;
        d->tel_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, payload, len);
    copy[len] = '\0';
    d->tel[d->ntel++] =
        (struct tel){.sensor = sensor, .sink = sink, .payload = copy, .len = len, .ts_ms = ts_ms};
    return 0;
}

int delivery_queue_output(struct delivery *d, const char *name, const char *json, const char *line,
                          int64_t ts_ms)
{
    int rc = 0;
    if (add_tel(d, -1, SINK_MQTT, json, strlen(json), ts_ms) == -1 ||
        (d->tel[d->ntel - 1].name = strdup(name)) == NULL)
        return -1;
    if (d->influx && line != NULL) {
        if (add_tel(d, -1, SINK_INFLUX, line, strlen(line), ts_ms) == -1 ||
            (d->tel[d->ntel - 1].name = strdup(name)) == NULL)
            rc = -1;
    }
    return rc;
}

int delivery_output_fault(struct delivery *d, const char *output, const char *location, bool raised,
                          const char *why)
{
    char text[512];
    const bool zh = d->cfg->language == LANG_ZH;
    const bool placed = location != NULL && location[0] != '\0';

    /* Which device, as a sensor alarm's text says where: zh the place (or
     * the output's name), en the name with the place in brackets. */
    if (zh)
        snprintf(text, sizeof(text), "%s：%s%s", placed ? location : output,
                 raised ? "输出故障：" : "输出已恢复正常", raised ? why : "");
    else if (placed)
        snprintf(text, sizeof(text), "%s (%s): %s%s", output, location,
                 raised ? "output fault: " : "output working again", raised ? why : "");
    else
        snprintf(text, sizeof(text), "%s: %s%s", output,
                 raised ? "output fault: " : "output working again", raised ? why : "");
    struct alarm_msg m = {.seq = outbox_next_seq(d->ob),
                          .ts_ms = wall_ms(),
                          .sensor = output,
                          .kind = "output",
                          .location = location,
                          .alarm = "output_fault",
                          .event = raised ? "raised" : "cleared",
                          .active = raised,
                          .severity = "major",
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .mode = d->mode,
                          .message = text,
                          .by = ""};
    return selfalarm_commit(d->sa, &m, m.event);
}

struct find_alarm {
    const char *suffix;
    bool active;
};

static void find_alarm(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                       const void *payload, size_t len)
{
    struct find_alarm *fa = ctx;
    size_t tl = strlen(topic), sl = strlen(fa->suffix);
    (void)sensor;
    (void)seq;
    if (tl >= sl && strcmp(topic + tl - sl, fa->suffix) == 0)
        fa->active = memmem(payload, len, "\"active\":true", 13) != NULL;
}

bool delivery_alarm_active(struct delivery *d, const char *sensor, const char *alarm)
{
    char suffix[256];
    snprintf(suffix, sizeof(suffix), "/alarm/%s/%s", sensor, alarm);
    struct find_alarm fa = {.suffix = suffix};
    if (outbox_current(d->ob, find_alarm, &fa) == -1)
        return false;
    return fa.active;
}

int delivery_queue_reading(struct delivery *d, const struct reading *r, int64_t now_ms)
{
    struct last_pub *lp = &d->last[r->sensor];
    char buf[LINE_MAX];
    int n, rc = 0;

    if (lp->have && !kind_moved(r, &lp->r) && now_ms - lp->at_ms < READING_EVERY_MS)
        return rc;
    if ((n = reading_json(r, d->cfg->sensors[r->sensor].name, buf, sizeof(buf))) < 0)
        return -1;
    rc |= add_tel(d, r->sensor, SINK_MQTT, buf, (size_t)n, r->ts_ms);
    if (d->influx) {
        struct points_site site = payload_site(d->cfg);
        if ((n = points_reading(&site, d->cfg->sensors[r->sensor].name, r, buf, sizeof(buf))) < 0)
            log_warn("sensor %s: InfluxDB point", d->cfg->sensors[r->sensor].name);
        else
            rc |= add_tel(d, r->sensor, SINK_INFLUX, buf, (size_t)n, r->ts_ms);
    }
    lp->have = true;
    lp->r = *r;
    lp->at_ms = now_ms;
    return rc;
}

int delivery_queue_movement(struct delivery *d, int sensor, const char *movement, double travel_s,
                            int64_t ts_ms)
{
    struct points_site site = payload_site(d->cfg);
    char buf[LINE_MAX];
    int n;

    if (!d->influx)
        return 0;
    n = points_door_movement(&site, d->cfg->sensors[sensor].name, movement, travel_s, ts_ms, buf,
                             sizeof(buf));
    return n > 0 ? add_tel(d, sensor, SINK_INFLUX, buf, (size_t)n, ts_ms) : 0;
}

int delivery_queue_health(struct delivery *d, struct health *h)
{
    struct points_site site = payload_site(d->cfg);
    char buf[LINE_MAX];
    struct delivery_stats st;
    int n;

    if (!d->influx)
        return 0;
    delivery_get_stats(d, &st);
    h->broker_connected = st.connected;
    h->pending_alarms = st.pending_alarms;
    h->pending_telemetry = st.pending_telemetry;
    h->telemetry_dropped = st.telemetry_dropped;
    if ((n = points_health(&site, h, buf, sizeof(buf))) < 0)
        return -1;
    return add_tel(d, -1, SINK_INFLUX, buf, (size_t)n, h->ts_ms);
}

static bool commit_due(const struct delivery *d, int64_t now, bool force)
{
    if (force)
        return true;
    if (now < d->commit_retry_at_ms)
        return false; /* the last commit failed: not in a tight loop */
    if (d->nevents > 0)
        return true;
    if (now - d->last_commit_ms < COMMIT_EVERY_MS)
        return false;
    return d->ntel > 0 || d->confirmations || now - d->last_state_ms >= STATE_EVERY_MS;
}

bool delivery_wants_state(const struct delivery *d)
{
    int64_t now = mono_ms();
    return commit_due(d, now, false) &&
           (d->nevents > 0 || now - d->last_state_ms >= STATE_EVERY_MS);
}

int delivery_timeout_ms(const struct delivery *d, int cap_ms)
{
    int64_t now = mono_ms(), t = cap_ms;
    if (d->ntel > 0 || d->confirmations) {
        int64_t left = d->last_commit_ms + COMMIT_EVERY_MS - now;
        if (left < t)
            t = left;
    }
    t = selfalarm_next_ms(d->sa, now, t);
    for (int i = 0; i < d->nsinks; i++) {
        const struct sink *s = d->sinks[i];
        t = s->ops->timeout_ms(s->ctx, now, t);
        if (s->sync != NULL)
            t = sync_next_ms(s->sync, now, t);
    }
    if (d->commit_retry_at_ms > now && d->commit_retry_at_ms - now < t)
        t = d->commit_retry_at_ms - now;
    return t < 0 ? 0 : (int)t;
}

static int commit(struct delivery *d, const void *state, size_t state_len)
{
    /* With InfluxDB each transition is two records sharing one seq. */
    const int per_event = d->influx ? 2 : 1;
    const int nrec = d->nevents * per_event;
    struct outbox_rec *alarms = calloc((size_t)nrec + 1, sizeof(*alarms));
    struct outbox_rec *tel = calloc((size_t)d->ntel + 1, sizeof(*tel));
    char **texts = calloc((size_t)nrec + 1, sizeof(*texts));
    char(*topics)[TOPIC_SIZE] = calloc((size_t)(d->nevents + d->ntel) + 1, TOPIC_SIZE);
    int rc = -1, ti = 0, nr = 0; /* nr: alarm records built so far */

    if (alarms == NULL || tel == NULL || texts == NULL || topics == NULL) {
        log_warnx("outbox commit: out of memory (retrying next cycle)");
        goto out;
    }
    uint64_t seq = outbox_next_seq(d->ob);
    for (int i = 0; i < d->nevents; i++) {
        const struct alarm_event *ev = &d->events[i];
        char msg[512], line[LINE_MAX];
        struct alarm_msg m;
        int k = nr++;
        alarm_msg_from_event(d->cfg, ev, seq + (uint64_t)i, msg, sizeof(msg), &m);
        texts[k] = payload_alarm(d->cfg, &m);
        if (texts[k] == NULL) {
            log_warnx("outbox commit: out of memory (retrying next cycle)");
            goto out;
        }
        if (topic_join(topics[ti], TOPIC_SIZE, d->base, "alarm", m.sensor, m.alarm, NULL) == -1)
            assert(!"a base and two names fit TOPIC_SIZE");
        alarms[k] = (struct outbox_rec){.sensor = m.sensor,
                                        .topic = topics[ti++],
                                        .payload = texts[k],
                                        .payload_len = strlen(texts[k]),
                                        .qos = 1,
                                        .retained = 1,
                                        .seq = m.seq,
                                        .created_ms = m.ts_ms,
                                        .sinks = 1u << SINK_MQTT};
        if (per_event == 2) {
            struct points_site site = payload_site(d->cfg);
            int n = points_alarm(&site, &m, line, sizeof(line));
            if (n < 0 || (texts[nr] = strdup(line)) == NULL) {
                /* The history loses a point; the alarm itself must not wait. */
                log_warn("InfluxDB point of %s %s (seq %llu) not written", m.sensor, m.alarm,
                         (unsigned long long)m.seq);
                continue;
            }
            alarms[nr] = (struct outbox_rec){.sensor = m.sensor,
                                             .topic = "",
                                             .payload = texts[nr],
                                             .payload_len = (size_t)n,
                                             .seq = m.seq,
                                             .created_ms = m.ts_ms,
                                             .sinks = 1u << SINK_INFLUX};
            nr++;
        }
    }
    for (int i = 0; i < d->ntel; i++) {
        const struct tel *t = &d->tel[i];
        const char *name = t->sensor >= 0    ? d->cfg->sensors[t->sensor].name
                           : t->name != NULL ? t->name
                                             : "gateway";
        const char *topic = "";
        if (t->sink == SINK_MQTT) {
            if (topic_join(topics[ti], TOPIC_SIZE, d->base, t->name != NULL ? "output" : "reading",
                           name, NULL) == -1)
                assert(!"a base and a name fit TOPIC_SIZE");
            topic = topics[ti++];
        }
        tel[i] = (struct outbox_rec){.sensor = name,
                                     .topic = topic,
                                     .payload = t->payload,
                                     .payload_len = t->len,
                                     .qos = t->name != NULL && t->sink == SINK_MQTT ? 1 : 0,
                                     .retained = t->sink == SINK_MQTT,
                                     .created_ms = t->ts_ms,
                                     .sinks = 1u << t->sink};
    }
    struct outbox_cycle cy = {.alarms = alarms,
                              .nalarms = nr,
                              .telemetry = tel,
                              .ntelemetry = d->ntel,
                              .state = state,
                              .state_len = state_len};
    rc = outbox_commit(d->ob, &cy);
    if (rc == -1) {
        log_warn("outbox commit");
        goto out;
    }
    if (rc == OUTBOX_RECOVERED)
        log_warnx("outbox: recovered after an I/O error: %s", outbox_errmsg(d->ob));
    selfalarm_disk_commit(d->sa, rc);
    /* The cap dropping readings is one line per episode, not one per cycle;
     * the episode ends when the backlog is down to half the cap. */
    struct outbox_stats os;
    outbox_stats(d->ob, &os);
    if (os.telemetry_dropped > d->dropped_seen && !d->dropping) {
        log_warnx("outbox: telemetry cap reached (%d rows / %d MiB): oldest readings dropped "
                  "(%lld so far); alarms are never dropped",
                  d->cfg->telemetry_max_rows, d->cfg->telemetry_max_mb,
                  (long long)os.telemetry_dropped);
        d->dropping = true;
    } else if (d->dropping &&
               os.telemetry_rows + os.mem_telemetry < d->cfg->telemetry_max_rows / 2) {
        log_info("outbox: telemetry backlog below half the cap again (%lld dropped in all)",
                 (long long)os.telemetry_dropped);
        d->dropping = false;
    }
    d->dropped_seen = os.telemetry_dropped;
    /* Alarms are in the outbox (on disk or held in memory) either way. */
    d->nevents = 0;
    for (int i = 0; i < d->ntel; i++) {
        free(d->tel[i].payload);
        free(d->tel[i].name);
    }
    d->ntel = 0;
    d->confirmations = false;
    d->last_commit_ms = mono_ms();
    if (state != NULL)
        d->last_state_ms = d->last_commit_ms;
    rc = 0;
out:
    for (int i = 0; texts != NULL && i < nrec; i++)
        free(texts[i]);
    free(texts);
    free(topics);
    free(alarms);
    free(tel);
    return rc;
}

int delivery_run(struct delivery *d, const void *state, size_t state_len, bool force)
{
    int rc = 0;
    if (!force) { /* force: stopping or reloading, no clients made now */
        selfalarm_tick(d->sa);
        if (d->mqtt != NULL) { /* the status counts the gateway's own alarms too */
            int counts[4];
            memcpy(counts, d->engine_alarms, sizeof(counts));
            selfalarm_active_by_severity(d->sa, counts);
            sink_mqtt_set_alarms(d->mqtt, counts);
        }
        for (int i = 0; i < d->nsinks; i++)
            d->sinks[i]->ops->timer(d->sinks[i]->ctx, mono_ms());
    }
    for (int i = 0; i < d->nsinks; i++) /* the confirmations go with this commit */
        collect(d, d->sinks[i]);
    if (commit_due(d, mono_ms(), force)) {
        rc = commit(d, state, state_len);
        d->commit_retry_at_ms = rc == -1 ? mono_ms() + 200 : 0;
    }
    for (int i = 0; i < d->nsinks; i++)
        hand_out(d, d->sinks[i]);
    return rc;
}

int delivery_withdraw(struct delivery *d, const struct alarm_orphan *o)
{
    char text[512];
    struct alarm_msg m;

    alarm_msg_from_orphan(d->cfg, o, outbox_next_seq(d->ob), text, sizeof(text), &m);
    return selfalarm_commit(d->sa, &m, alarm_event_type_name(o->ev.type));
}

/* ---- the gateway's parts ----------------------------------------------------- */

struct delivery *delivery_new(const struct cfg *c, struct outbox *ob, struct selfalarm *sa,
                              struct sink *const *sinks, int nsinks)
{
    struct delivery *d = calloc(1, sizeof(*d));

    if (d == NULL || nsinks > SINK_COUNT)
        goto fail;
    d->cfg = c;
    d->ob = ob;
    d->sa = sa;
    d->influx = c->influx.enabled;
    d->mode = c->mode;
    for (int i = 0; i < nsinks; i++) {
        d->sinks[d->nsinks++] = sinks[i];
        if (sinks[i]->batch > d->recs_cap)
            d->recs_cap = sinks[i]->batch;
    }
    d->recs = calloc((size_t)d->recs_cap + 1, sizeof(*d->recs));
    d->last = calloc((size_t)c->nsensors + 1, sizeof(*d->last));
    /* Room for a storm of transitions without allocating when it comes. */
    d->events_cap = 256;
    d->events = calloc((size_t)d->events_cap, sizeof(*d->events));
    if (d->recs == NULL || d->last == NULL || d->events == NULL ||
        payload_topic_base(c, d->base, sizeof(d->base)) == -1)
        goto fail;
    d->last_commit_ms = d->last_state_ms = mono_ms();
    return d;
fail:
    delivery_close(d);
    errno = ENOMEM;
    return NULL;
}

struct delivery *delivery_open(const struct cfg *c, char *err, size_t errlen)
{
    char path[CFG_TEXT_MAX + 16], seq_path[CFG_TEXT_MAX + 16], base[TOPIC_BASE_SIZE];
    char problem[320];
    bool memory_only;
    struct outbox *ob = NULL;
    struct selfalarm *sa = NULL;
    struct sync *sy = NULL;
    struct sink_mqtt *sm = NULL;
    struct sink_influx *si = NULL;
    struct sink *sinks[SINK_COUNT];
    int nsinks = 0;

    if (payload_topic_base(c, base, sizeof(base)) == -1) {
        snprintf(err, errlen, "out of memory or topic too long");
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/outbox.db", c->state_dir);
    snprintf(seq_path, sizeof(seq_path), "%s/seq.reserved", c->state_dir);
    struct outbox_limits lim = {.max_telemetry_rows = c->telemetry_max_rows,
                                .max_telemetry_bytes = (int64_t)c->telemetry_max_mb << 20,
                                /* per sink: MQTT stops at its window; InfluxDB takes a
                                 * batch of up to SINK_INFLUX_BATCH at once */
                                .max_inflight = SINK_INFLUX_BATCH,
                                .busy_timeout_ms = 1000,
                                .seq_path = seq_path,
                                .telemetry_spill_ms = TELEMETRY_SPILL_MS};
    ob = storage_open(path, &lim, &memory_only, problem, sizeof(problem));
    if (ob == NULL) {
        snprintf(err, errlen, "outbox: %s", problem);
        return NULL;
    }
    snprintf(err, errlen, "out of memory");
    sa = selfalarm_new(c, ob, c->mode, memory_only);
    sy = sa != NULL ? sync_new(c, ob, sa, outbox_next_seq(ob)) : NULL;
    sm = sy != NULL ? sink_mqtt_new(c, sa, sy, c->mode) : NULL;
    if (sm == NULL)
        goto fail;
    sinks[nsinks++] = sink_mqtt_sink(sm);
    if (c->influx.enabled) {
        if ((si = sink_influx_new(c, sa)) == NULL) {
            snprintf(err, errlen, "influx: out of memory");
            goto fail;
        }
        sinks[nsinks++] = sink_influx_sink(si);
    }
    struct delivery *d = delivery_new(c, ob, sa, sinks, nsinks);
    if (d == NULL)
        goto fail;
    d->owner = true;
    d->mqtt = sm;
    d->influx_sink = si;
    d->sync = sy;
    selfalarm_disk_open(sa, problem);
    return d;
fail:
    sink_influx_free(si);
    sink_mqtt_free(sm);
    sync_free(sy);
    selfalarm_free(sa);
    outbox_close(ob, problem, sizeof(problem));
    return NULL;
}

/* At shutdown (a UPS running out, say) give what was just committed a short
 * chance to reach the broker: up to 2 s for the records in flight and any
 * still pending, then go; the rest is sent after the restart. */
static void drain(struct delivery *d)
{
    int64_t deadline = mono_ms() + 2000;
    struct command ignored;

    while (d->mqtt != NULL && sink_mqtt_connected(d->mqtt) && mono_ms() < deadline) {
        hand_out(d, sink_mqtt_sink(d->mqtt));
        if (sink_mqtt_inflight(d->mqtt) == 0)
            break;
        struct pollfd pfd = {.fd = sink_mqtt_fd(d->mqtt), .events = POLLIN};
        if (poll(&pfd, 1, 100) > 0)
            while (sink_mqtt_next_command(d->mqtt, &ignored) == 1)
                ; /* commands arriving now are not carried out */
    }
    for (int i = 0; i < d->nsinks; i++)
        collect(d, d->sinks[i]);
    outbox_commit(d->ob, NULL); /* the confirmations */
}

void delivery_close(struct delivery *d)
{
    char why[256];

    if (d == NULL)
        return;
    if (d->ob != NULL && d->sa != NULL)
        drain(d);
    sink_mqtt_free(d->mqtt);
    sink_influx_free(d->influx_sink); /* a batch in flight stays in the outbox */
    sync_free(d->sync);
    if (d->owner) {
        selfalarm_free(d->sa);
        if (outbox_close(d->ob, why, sizeof(why)) == -1)
            log_err("outbox: %s", why);
    }
    for (int i = 0; i < d->ntel; i++) {
        free(d->tel[i].payload);
        free(d->tel[i].name);
    }
    free(d->tel);
    free(d->events);
    free(d->last);
    free(d->recs);
    free(d);
}

int delivery_restore(struct delivery *d, void **state, size_t *len, enum gw_mode *mode)
{
    char buf[32];
    if (outbox_meta_get(d->ob, "mode", buf, sizeof(buf)) == 1 && mode_from_name(buf, mode) == 0) {
        d->mode = *mode;
        selfalarm_set_mode(d->sa, *mode);
        if (d->mqtt != NULL)
            sink_mqtt_set_mode(d->mqtt, *mode); /* not connected yet: nothing published */
    }
    return outbox_state_load(d->ob, state, len);
}

int delivery_start(struct delivery *d)
{
    int rc = 0;
    for (int i = 0; i < d->nsinks; i++)
        if (d->sinks[i]->ops->start(d->sinks[i]->ctx) == -1)
            rc = -1;
    return rc;
}

int delivery_fds(const struct delivery *d, int fds[2])
{
    int n = 0;
    for (int i = 0; i < d->nsinks && n < 2; i++) {
        int fd = d->sinks[i]->ops->fd(d->sinks[i]->ctx);
        if (fd >= 0)
            fds[n++] = fd;
    }
    return n;
}

/* ---- commands, status, reload ------------------------------------------------ */

int delivery_next_command(struct delivery *d, struct command *cmd)
{
    return d->mqtt != NULL ? sink_mqtt_next_command(d->mqtt, cmd) : 0;
}

void delivery_reply(struct delivery *d, const struct command *cmd, bool ok, const char *error)
{
    if (d->mqtt != NULL)
        sink_mqtt_reply(d->mqtt, cmd, ok, error);
}

void delivery_set_mode(struct delivery *d, enum gw_mode mode)
{
    d->mode = mode;
    selfalarm_set_mode(d->sa, mode);
    if (outbox_meta_set(d->ob, "mode", mode_name(mode)) == -1)
        log_warnx("outbox: cannot store mode: %s (it will not survive a restart)",
                  outbox_errmsg(d->ob));
    if (d->mqtt != NULL)
        sink_mqtt_set_mode(d->mqtt, mode);
}

void delivery_set_alarm_counts(struct delivery *d, const int counts[4])
{
    memcpy(d->engine_alarms, counts, sizeof(d->engine_alarms));
}

void delivery_get_stats(const struct delivery *d, struct delivery_stats *st)
{
    struct outbox_stats os;
    uint64_t published = 0, failures = 0;

    outbox_stats(d->ob, &os);
    if (d->mqtt != NULL)
        sink_mqtt_stats(d->mqtt, &published, &failures);
    *st = (struct delivery_stats){.connected = d->mqtt != NULL && sink_mqtt_connected(d->mqtt),
                                  .pending_alarms = os.alarm_rows + os.mem_alarms,
                                  .pending_telemetry = os.telemetry_rows + os.mem_telemetry,
                                  .telemetry_dropped = os.telemetry_dropped,
                                  .published = published,
                                  .publish_failures = failures,
                                  .disk_failed = selfalarm_disk_raised(d->sa)};
}

int delivery_reconfigure(struct delivery *d, const struct cfg *b, char *why, size_t len)
{
    if (reload_check(d->cfg, b, why, len) == -1)
        return -1;
    /* Nothing of the old configuration may be queued: the caller has
     * committed the cycle.  Per-sensor memories start afresh (indices change). */
    struct last_pub *last = calloc((size_t)b->nsensors + 1, sizeof(*last));
    if (last == NULL || d->nevents > 0 || d->ntel > 0) {
        free(last);
        snprintf(why, len, "%s", d->nevents || d->ntel ? "uncommitted records" : "out of memory");
        return -1;
    }
    free(d->last);
    d->last = last;
    d->cfg = b;
    selfalarm_set_cfg(d->sa, b);
    if (d->sync != NULL)
        sync_set_cfg(d->sync, b);
    if (d->influx_sink != NULL)
        sink_influx_set_cfg(d->influx_sink, b);
    if (d->mqtt != NULL)
        sink_mqtt_set_cfg(d->mqtt, b); /* republishes the status: the name may have changed */
    return 0;
}
