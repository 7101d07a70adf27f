/*
 * delivery: see delivery.h.
 *
 * Invariants:
 * - An alarm record reaches the MQTT client only after the outbox commit that
 *   holds it returned (durable, or held in memory when the disk failed).
 * - A record leaves the outbox only through outbox_done() from its own
 *   PUBLISHED ok event; a failed or abandoned publish is released and sent
 *   again (at least once; the centre drops duplicates by seq).
 * - Commits are batched to at most one a second unless an alarm is waiting:
 *   an industrial PC's flash should not see an fsync per Modbus poll.
 *   Telemetry stays in memory while it is delivered promptly (the outbox
 *   writes it only when still pending TELEMETRY_SPILL_MS later), and the
 *   engine state is offered with every alarm commit and otherwise every
 *   STATE_EVERY_MS (the outbox writes only the chunks that changed).
 * - After every (re)connect nothing of the outbox is published until the
 *   sync is over: the broker has sent back the gateway's own retained alarm
 *   messages (ended by a message on the own status topic, subscribed in the
 *   same SUBSCRIBE after alarm/#), or SYNC_TIMEOUT_MS passed.  The sync
 *   (1) detects storage that went back (the broker has a seq the outbox
 *   lost: gateway/disk; a seq of this very run: renumber what is pending),
 *   (2) republishes the current alarm state where the broker's copy is
 *   missing or different, each topic's last transition as it was (same seq,
 *   same bytes) and never over a newer one: a topic with a pending record is
 *   left to the outbox, and one where the broker holds a newer seq than the
 *   outbox remembers is asserted again under a new seq.
 * - No MQTT or InfluxDB problem stops the gateway (docs/design.md section 1: alarm logic
 *   works without the uplink): a client that cannot be set up (a file it
 *   needs, its configuration section) or is refused stays down, raises the
 *   gateway's own alarm (uplink, influx; uplink.h says when), and is set up
 *   again with backoff, reading its files afresh, until it works.
 */
#include "delivery.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "clock.h"
#include "filecheck.h"
#include "gwerr.h"
#include "influx.h"
#include "log.h"
#include "mqtt.h"
#include "outbox.h"
#include "payload.h"
#include "points.h"
#include "topic.h"
#include "uplink.h"

#define COMMIT_EVERY_MS 1000     /* telemetry and confirmations */
#define STATE_EVERY_MS 600000    /* engine timers and windows (alarm commits carry it at once) */
#define TELEMETRY_SPILL_MS 30000 /* telemetry not delivered by then is written to the outbox */
#define SYNC_TIMEOUT_MS 5000     /* reading back the broker's retained alarms after a connect */
#define READING_EVERY_MS 60000   /* a reading is republished at least this often */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
#define FETCH_BATCH 16
/* Outbox records in flight on MQTT: under mosquitto's Receive Maximum (20). */
#define OUTBOX_WINDOW 16
#define INFLUX_BATCH 500         /* points per InfluxDB write ... */
#define INFLUX_BATCH_BYTES 65536 /* ... and bytes: small enough for a slow uplink's timeout */
#define LINE_MAX 2048            /* one line-protocol point */
#define DIRECT_WINDOW 16         /* ... plus status and cmd_result, which bypass the outbox */
#define BASE_MAX 448             /* prefix + five levels + id: 7 names of < 64 bytes */
#define SETUP_RETRY_MIN_MS 2000  /* a client that could not be set up or was refused: */
#define SETUP_RETRY_MAX_MS 60000 /* set up again after this backoff (files read afresh) */
#define UPLINK_GRACE_MS 120000   /* down this long (not a refusal): the gateway alarm */
#define RECREATE_DOWN_MS 60000   /* ... and from then on a fresh client this often */
#define TOPIC_MAX 640            /* base + /alarm/ + sensor + / + alarm */

struct tel {       /* telemetry waiting for the cycle's commit */
    int sensor;    /* index, or -1: the gateway itself */
    unsigned sink; /* SINK_MQTT (reading JSON) or SINK_INFLUX (a line) */
    char *payload;
    size_t len;
    int64_t ts_ms;
};

struct last_pub {
    bool have;
    struct reading r;
    int64_t at_ms;
};

/* A retained alarm message of ours, as the broker sent it back (sync). */
struct retained {
    char *topic;
    char *sensor; /* the current state's: its ordering key; NULL from the broker */
    uint64_t seq;
    char *payload;
    size_t len;
};

/* The two outputs and the gateway alarm each has (alarm/gateway/NAME, docs/design.md
 * section 10). */
enum { OUT_MQTT, OUT_INFLUX, OUT_COUNT };
static const struct {
    const char *name; /* in log lines */
    const char *alarm, *severity;
    const char *meta;     /* outbox meta key: the alarm's state at the last stop */
    const char *at_start; /* why it is down before it first works */
    const char *zh_raised, *en_raised, *zh_cleared, *en_cleared;
} outputs[OUT_COUNT] = {
    [OUT_MQTT] = {"mqtt", "uplink", "critical", "alarm_uplink", "not connected yet",
                  "网关上行（MQTT）故障：", "gateway uplink (MQTT) failing: ",
                  "网关上行（MQTT）已恢复", "gateway uplink (MQTT) restored"},
    [OUT_INFLUX] = {"influx", "influx", "major", "alarm_influx", "nothing written yet",
                    "InfluxDB 写入故障：", "InfluxDB output failing: ", "InfluxDB 写入已恢复",
                    "InfluxDB output restored"},
};

struct output {                /* the MQTT client or the InfluxDB writer */
    bool wanted;               /* configured (its section present) */
    struct uplink_watch watch; /* when its gateway alarm is due */
    int64_t retry_at_ms;       /* set it up afresh then; 0: not due */
    int backoff_ms;
    char logged[UPLINK_WHY_MAX]; /* the setup failure last logged, "" when none */
};

struct delivery {
    const struct cfg *cfg;
    struct outbox *ob;
    struct mqtt *mq;
    char base[BASE_MAX];
    char status_topic[TOPIC_MAX], cmd_filter[TOPIC_MAX], result_topic[TOPIC_MAX];
    enum gw_mode mode;

    struct alarm_event *events; /* this cycle's engine events */
    int nevents, events_cap;
    struct tel *tel;
    int ntel, tel_cap;
    struct last_pub *last; /* per sensor: last reading published */

    int64_t last_commit_ms, last_state_ms;
    bool confirmations;  /* outbox_done() calls not yet committed */
    int64_t retry_at_ms; /* no publishing before this (after a refusal) */
    int retry_ms;
    bool disk_failed;
    bool memory_only; /* no outbox file could be opened: nothing is durable */
    bool broker_down_logged;
    bool publish_failing;
    int mqtt_inflight;          /* outbox records handed to MQTT, not yet answered */
    int64_t commit_retry_at_ms; /* after a failed commit (out of memory) */
    uint64_t published, publish_failures;
    struct door_travel *doors;  /* per sensor (blast doors only) */
    struct influx *ix;          /* NULL: no [influx] */
    struct outbox_rec *ix_recs; /* the InfluxDB batch in flight, as fetched */
    int ix_n;
    char *ix_buf;
    uint64_t ix_batch; /* id of the batch in flight, 0: none */
    uint64_t ix_last_batch;
    bool influx_down_logged;
    uint64_t influx_set_aside;
    int64_t dropped_seen; /* telemetry dropped by the cap, as last seen */
    bool dropping;        /* in a cap episode (logged once) */

    char alarm_filter[TOPIC_MAX]; /* {base}/alarm/# */
    bool synced;                  /* the sync after the last connect is over */
    int64_t sync_deadline_ms;
    struct retained *bro; /* the broker's retained alarms, during the sync */
    int nbro, capbro;
    uint64_t bro_max_seq;
    struct retained *repub; /* the current state to publish again, before the outbox */
    int nrepub, caprepub, repub_next;
    bool went_back_told;   /* gateway/disk raised for storage that went back */
    uint64_t first_seq;    /* this run's first seq (after every jump at open) */
    uint64_t max_sent_seq; /* the highest seq this run handed to MQTT */
    bool renumbered;
    struct output out[OUT_COUNT];
    bool started; /* delivery_start() done: a new MQTT client connects at once */
};

static void pump(struct delivery *d);
static void retained_clear(struct retained *v, int *n);

/* ---- alarms committed on their own, at once -------------------------------- */

/* One alarm message as its own outbox transaction (MQTT, and InfluxDB when
 * configured), logged like the engine's transitions.  When the disk fails the
 * outbox keeps it in memory and delivers it like any alarm. */
static int commit_now(struct delivery *d, const struct alarm_msg *m, const char *what)
{
    char topic[TOPIC_MAX], line[LINE_MAX];
    char *payload = payload_alarm(d->cfg, m);
    int rc;

    if (payload == NULL) {
        log_err("ALARM %s %s %s could not be queued for delivery: out of memory", what, m->sensor,
                m->alarm);
        return -1;
    }
    snprintf(topic, sizeof(topic), "%s/alarm/%s/%s", d->base, m->sensor, m->alarm);
    struct outbox_rec rec[2] = {{.sensor = m->sensor,
                                 .topic = topic,
                                 .payload = payload,
                                 .payload_len = strlen(payload),
                                 .qos = 1,
                                 .retained = 1,
                                 .seq = m->seq,
                                 .created_ms = m->ts_ms,
                                 .sinks = 1u << SINK_MQTT}};
    /* For InfluxDB also while its writer is down: the outbox keeps the backlog. */
    int n = d->out[OUT_INFLUX].wanted ? points_alarm(d->cfg, m, line, sizeof(line)) : -1;
    if (n > 0)
        rec[1] = (struct outbox_rec){.sensor = m->sensor,
                                     .topic = "",
                                     .payload = line,
                                     .payload_len = (size_t)n,
                                     .seq = m->seq,
                                     .created_ms = m->ts_ms,
                                     .sinks = 1u << SINK_INFLUX};
    struct outbox_cycle cy = {.alarms = rec, .nalarms = n > 0 ? 2 : 1};
    /* Critical at error level, the rest at warning, as the engine's events. */
    log_at(strcmp(m->severity, "critical") == 0 ? LOG_LVL_ERR : LOG_LVL_WARN,
           "ALARM %s %s %s (%s): %s", what, m->sensor, m->alarm, m->severity, m->message);
    rc = outbox_commit(d->ob, &cy) == -1 ? -1 : 0; /* -1: not taken (ENOMEM) */
    if (rc == -1)
        log_err("ALARM %s %s %s could not be queued for delivery: %s", what, m->sensor, m->alarm,
                strerror(errno));
    free(payload);
    return rc;
}

/* The gateway's own alarm: the disk. */
static void disk_alarm(struct delivery *d, bool raised, const char *why)
{
    char text[256];
    const bool zh = d->cfg->language == LANG_ZH;

    snprintf(text, sizeof(text), "%s%s",
             raised ? (zh ? "网关存储故障：" : "gateway storage failing: ")
                    : (zh ? "网关存储已恢复" : "gateway storage recovered"),
             raised ? why : "");
    struct alarm_msg m = {.seq = outbox_next_seq(d->ob),
                          .ts_ms = wall_ms(),
                          .sensor = "gateway",
                          .kind = "gateway",
                          .location = "",
                          .alarm = "disk",
                          .event = raised ? "raised" : "cleared",
                          .active = raised,
                          .severity = "critical",
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .mode = d->mode,
                          .message = text,
                          .by = ""};
    commit_now(d, &m, m.event);
}

/* The gateway's own alarm for output o.  Its state is stored so the next
 * start can clear what this run raised: before the commit when raising,
 * after it when clearing, so a crash in between costs a duplicate, never an
 * alarm left raised for ever at the centre. */
static void output_alarm(struct delivery *d, int o, bool raised, const char *why)
{
    char text[UPLINK_WHY_MAX + 64];
    const bool zh = d->cfg->language == LANG_ZH;

    snprintf(text, sizeof(text), "%s%s",
             raised ? (zh ? outputs[o].zh_raised : outputs[o].en_raised)
                    : (zh ? outputs[o].zh_cleared : outputs[o].en_cleared),
             raised ? why : "");
    if (raised && outbox_meta_set(d->ob, outputs[o].meta, "raised") == -1)
        log_warnx("outbox: cannot store the state of alarm gateway/%s: %s", outputs[o].alarm,
                  outbox_errmsg(d->ob));
    struct alarm_msg m = {.seq = outbox_next_seq(d->ob),
                          .ts_ms = wall_ms(),
                          .sensor = "gateway",
                          .kind = "gateway",
                          .location = "",
                          .alarm = outputs[o].alarm,
                          .event = raised ? "raised" : "cleared",
                          .active = raised,
                          .severity = outputs[o].severity,
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .mode = d->mode,
                          .message = text,
                          .by = ""};
    if (commit_now(d, &m, m.event) == -1) {
        d->out[o].watch.raised = !raised; /* not taken (out of memory): due again */
        return;
    }
    if (!raised && outbox_meta_set(d->ob, outputs[o].meta, "cleared") == -1)
        log_warnx("outbox: cannot store the state of alarm gateway/%s: %s", outputs[o].alarm,
                  outbox_errmsg(d->ob));
}

int delivery_withdraw(struct delivery *d, const struct alarm_orphan *o)
{
    char text[512];
    struct alarm_msg m;

    alarm_msg_from_orphan(d->cfg, o, outbox_next_seq(d->ob), text, sizeof(text), &m);
    return commit_now(d, &m, alarm_event_type_name(o->ev.type));
}

/* ---- open / close ---------------------------------------------------------- */

/* Open the outbox; a gateway that cannot must still poll and alarm.  A file
 * SQLite cannot open (corrupt after a power cut, say) is moved aside and a
 * fresh one made; when no file can be used at all (state_dir missing or
 * read-only) the outbox lives in memory.  Either way the old seq counter is
 * gone, so seq jumps to the wall-clock milliseconds: far above any count a
 * gateway reaches, so no seq the centre has seen comes again, only a gap.
 * problem is set to what happened ("" when all went well). */
static int open_outbox(struct delivery *d, const char *path, const struct outbox_limits *lim,
                       char *problem, size_t len)
{
    char why[256], aside[CFG_TEXT_MAX + 64];

    d->ob = outbox_open(path, lim, SINK_COUNT, why, sizeof(why));
    if (d->ob != NULL)
        return 0;
    log_err("outbox %s: %s", path, why);
    snprintf(aside, sizeof(aside), "%s.broken-%lld", path, (long long)wall_ms());
    if (access(path, F_OK) == 0 && rename(path, aside) == 0) {
        /* The WAL belongs to the file moved aside. */
        char wal[CFG_TEXT_MAX + 80], moved[CFG_TEXT_MAX + 80];
        static const char *const exts[] = {"-wal", "-shm"};
        for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
            snprintf(wal, sizeof(wal), "%s%s", path, exts[i]);
            snprintf(moved, sizeof(moved), "%s%s", aside, exts[i]);
            if (rename(wal, moved) == -1 && errno != ENOENT)
                log_warn("outbox: move %s aside", wal);
        }
        d->ob = outbox_open(path, lim, SINK_COUNT, why, sizeof(why));
        if (d->ob != NULL) {
            snprintf(problem, len, "outbox unreadable, moved aside to %.200s", aside);
            log_err("outbox: %s; a fresh one is in use", problem);
        }
    }
    if (d->ob == NULL) {
        d->ob = outbox_open(":memory:", lim, SINK_COUNT, why, sizeof(why));
        if (d->ob == NULL) {
            snprintf(problem, len, "%s", why);
            return -1;
        }
        d->memory_only = true;
        snprintf(problem, len,
                 "no outbox file usable in the state directory: alarms are not "
                 "durable until it is fixed and the gateway restarted");
        log_err("outbox: %s", problem);
    }
    outbox_raise_seq(d->ob, (uint64_t)wall_ms());
    return 0;
}

/* What the outbox found at open about storage that went back in time; the
 * reservation lost too: seq jumps to the wall clock as for a lost outbox. */
static void storage_check(struct delivery *d, char *problem, size_t len)
{
    struct outbox_stats os;
    const char *sp = outbox_storage_problem(d->ob);

    outbox_stats(d->ob, &os);
    if (os.seq_unknown)
        outbox_raise_seq(d->ob, (uint64_t)wall_ms());
    if (sp[0] == '\0')
        return;
    log_err("outbox: %s", sp);
    if (problem[0] == '\0')
        snprintf(problem, len, "%s", sp);
}

static void find_disk_alarm(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                            const void *payload, size_t len)
{
    bool *active = ctx;
    (void)sensor;
    (void)seq;
    size_t tl = strlen(topic);
    if (tl >= strlen("/alarm/gateway/disk") &&
        strcmp(topic + tl - strlen("/alarm/gateway/disk"), "/alarm/gateway/disk") == 0)
        *active = memmem(payload, len, "\"active\":true", 13) != NULL;
}

/* Is the last gateway/disk transition this outbox committed a raise? */
static bool stored_disk_alarm_active(struct delivery *d)
{
    bool active = false;
    if (outbox_current(d->ob, find_disk_alarm, &active) == -1)
        log_warnx("outbox: cannot read the current alarm state: %s", outbox_errmsg(d->ob));
    return active;
}

/* ---- the outputs' clients: set up, retried, never fatal ----------------- */

/* Set output o up afresh after its backoff, which doubles up to the cap. */
static void retry_later(struct output *out)
{
    out->retry_at_ms = mono_ms() + out->backoff_ms;
    out->backoff_ms =
        out->backoff_ms * 2 > SETUP_RETRY_MAX_MS ? SETUP_RETRY_MAX_MS : out->backoff_ms * 2;
}

/* Output o could not be set up (or was refused): down for a reason someone
 * must fix.  Logged once per reason; retry: set up again after a backoff
 * (a configuration error is not: it needs a restart). */
static void output_failed(struct delivery *d, int o, const char *why, bool retry)
{
    struct output *out = &d->out[o];

    uplink_failing(&out->watch, mono_ms(), why);
    if (strcmp(out->logged, why) != 0) {
        log_warnx("%s: not working: %s; %s (local polling and alarms go on)", outputs[o].name, why,
                  retry ? "trying again" : "fix the configuration and restart");
        snprintf(out->logged, sizeof(out->logged), "%s", why);
    }
    out->retry_at_ms = 0;
    if (retry)
        retry_later(out);
}

/* The first file of scope the client cannot use (filecheck.h), in why.
 * Checked before the client is made, so an unreadable CA or key is named
 * here rather than showing as a TLS failure at every connect. */
static bool files_unusable(const struct delivery *d, unsigned scope, char *why, size_t len)
{
    struct filecheck_problem *fp = NULL;
    int n = filecheck_run(d->cfg, scope, NULL, &fp);
    const struct filecheck_problem *bad = n > 0 ? filecheck_first_unusable(fp, n, scope) : NULL;

    if (bad != NULL)
        snprintf(why, len, "%.*s", (int)len - 1, bad->text);
    free(fp);
    return bad != NULL;
}

/* Make the MQTT client (and, once delivery_start() was called, start it). */
static void mqtt_setup(struct delivery *d)
{
    const struct cfg *c = d->cfg;
    char why[UPLINK_WHY_MAX], err[256];

    if (c->mqtt.error[0] != '\0') {
        output_failed(d, OUT_MQTT, c->mqtt.error, false);
        return;
    }
    if (files_unusable(d, FILECHECK_MQTT, why, sizeof(why))) {
        output_failed(d, OUT_MQTT, why, true);
        return;
    }
    struct mqtt_opts o = {
        .nuris = c->mqtt.nuri,
        .client_id = c->id,
        .username = c->mqtt.username,
        .password_file = c->mqtt.password_file,
        .ca_file = c->mqtt.ca_file,
        .cert_file = c->mqtt.cert_file,
        .key_file = c->mqtt.key_file,
        .keepalive_s = c->mqtt.keepalive_s,
        .will_topic = d->status_topic,
        .will_payload = "{\"online\":false}",
        /* QoS 1, retain as published: the broker would clear the retain flag
         * of what it forwards live, and a retained command published while
         * we are connected would look like an ordinary one. */
        .subscriptions = {{.filter = d->cmd_filter, .qos = 1, .retain_as_published = 1},
                          /* The sync: our retained alarms come back, then (one
                           * SUBSCRIBE, in order) our retained status marks their end. */
                          {.filter = d->alarm_filter, .qos = 1, .retain_as_published = 1},
                          {.filter = d->status_topic, .qos = 1, .retain_as_published = 1}},
        .nsubscriptions = 3,
        /* The outbox never fills the window: replies and status always fit. */
        .max_inflight = OUTBOX_WINDOW + DIRECT_WINDOW,
        /* Room for every retained alarm of ours at once (the sync). */
        .max_queued_messages = 64 + (c->nsensors + 1) * (ALARM_KIND_MAX + 2),
    };
    for (int i = 0; i < c->mqtt.nuri; i++)
        o.uris[i] = c->mqtt.uri[i];
    d->mq = mqtt_new(&o, err, sizeof(err));
    if (d->mq != NULL && d->started && mqtt_start(d->mq, err, sizeof(err)) == -1) {
        mqtt_free(d->mq);
        d->mq = NULL;
    }
    if (d->mq == NULL) {
        output_failed(d, OUT_MQTT, err, true);
        return;
    }
    if (d->out[OUT_MQTT].logged[0] != '\0')
        log_info("mqtt: client set up again, connecting");
    d->out[OUT_MQTT].logged[0] = '\0';
    /* Not connected by then: a fresh client, with the password read again. */
    d->out[OUT_MQTT].retry_at_ms = d->started ? mono_ms() + RECREATE_DOWN_MS : 0;
}

static void influx_setup(struct delivery *d)
{
    const struct cfg *c = d->cfg;
    char why[UPLINK_WHY_MAX];

    if (c->influx.error[0] != '\0') {
        output_failed(d, OUT_INFLUX, c->influx.error, false);
        return;
    }
    if (files_unusable(d, FILECHECK_INFLUX, why, sizeof(why))) {
        output_failed(d, OUT_INFLUX, why, true);
        return;
    }
    struct influx_config ic = {.url = c->influx.url,
                               .database = c->influx.database,
                               .org = c->influx.org,
                               .bucket = c->influx.bucket,
                               .token_file = c->influx.token_file};
    d->ix = influx_new(&ic);
    if (d->ix == NULL) {
        snprintf(why, sizeof(why), "%s: %s", c->influx.url, strerror(errno));
        output_failed(d, OUT_INFLUX, why, true);
        return;
    }
    if (d->out[OUT_INFLUX].logged[0] != '\0')
        log_info("influx: writer set up again");
    d->out[OUT_INFLUX].logged[0] = '\0';
    d->out[OUT_INFLUX].retry_at_ms = 0;
}

/* Output o works: no more retries, the next failure starts from the
 * shortest backoff. */
static void output_working(struct delivery *d, int o)
{
    uplink_working(&d->out[o].watch);
    d->out[o].retry_at_ms = 0;
    d->out[o].backoff_ms = SETUP_RETRY_MIN_MS;
}

/* Each loop: the gateway alarms that are due, and clients to set up afresh. */
static void outputs_timer(struct delivery *d)
{
    int64_t now = mono_ms();
    char why[UPLINK_WHY_MAX];

    for (int o = 0; o < OUT_COUNT; o++) {
        int due = uplink_due(&d->out[o].watch, now, UPLINK_GRACE_MS, why, sizeof(why));
        if (due != -1)
            output_alarm(d, o, due == 1, why);
    }
    struct output *mq = &d->out[OUT_MQTT];
    if (mq->retry_at_ms != 0 && now >= mq->retry_at_ms) {
        if (d->mq != NULL && mqtt_connected(d->mq)) {
            mq->retry_at_ms = 0; /* works after all */
        } else {
            /* Nothing is in flight on a client that is not connected. */
            mqtt_free(d->mq);
            d->mq = NULL;
            outbox_release_all(d->ob, SINK_MQTT);
            d->mqtt_inflight = 0;
            d->synced = false; /* the new client's connect starts a sync */
            mqtt_setup(d);
        }
    }
    struct output *ix = &d->out[OUT_INFLUX];
    if (ix->retry_at_ms != 0 && now >= ix->retry_at_ms) {
        if (d->ix_batch != 0) {
            ix->retry_at_ms = now + 1000; /* a batch in flight: its outcome first */
        } else {
            influx_free(d->ix);
            d->ix = NULL;
            influx_setup(d);
        }
    }
}

/* Start output o's watch: down until it first works, raised as stored. */
static void output_init(struct delivery *d, int o, bool wanted)
{
    char stored[16] = "";
    struct output *out = &d->out[o];

    out->wanted = wanted;
    out->backoff_ms = SETUP_RETRY_MIN_MS;
    if (outbox_meta_get(d->ob, outputs[o].meta, stored, sizeof(stored)) != 1)
        stored[0] = '\0';
    uplink_init(&out->watch, strcmp(stored, "raised") == 0, mono_ms(), outputs[o].at_start);
    if (!wanted)
        uplink_working(&out->watch); /* not configured: nothing to raise (clears a stored one) */
}

struct delivery *delivery_open(const struct cfg *c, char *err, size_t errlen)
{
    struct delivery *d = calloc(1, sizeof(*d));
    char path[CFG_TEXT_MAX + 16], seq_path[CFG_TEXT_MAX + 16];

    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = c;
    d->mode = c->mode;
    d->retry_ms = RETRY_MIN_MS;
    d->last = calloc((size_t)c->nsensors + 1, sizeof(*d->last));
    d->doors = calloc((size_t)c->nsensors + 1, sizeof(*d->doors));
    if (d->last == NULL || d->doors == NULL ||
        payload_topic_base(c, d->base, sizeof(d->base)) == -1) {
        snprintf(err, errlen, "out of memory or topic too long");
        goto fail;
    }
    topic_join(d->status_topic, sizeof(d->status_topic), d->base, "status", NULL);
    topic_join(d->cmd_filter, sizeof(d->cmd_filter), d->base, "cmd", "+", NULL);
    topic_join(d->result_topic, sizeof(d->result_topic), d->base, "cmd_result", NULL);

    snprintf(path, sizeof(path), "%s/outbox.db", c->state_dir);
    snprintf(seq_path, sizeof(seq_path), "%s/seq.reserved", c->state_dir);
    topic_join(d->alarm_filter, sizeof(d->alarm_filter), d->base, "alarm", "#", NULL);
    struct outbox_limits lim = {.max_telemetry_rows = c->telemetry_max_rows,
                                .max_telemetry_bytes = (int64_t)c->telemetry_max_mb << 20,
                                /* per sink: MQTT stops at OUTBOX_WINDOW (pump); InfluxDB
                                 * takes a batch of up to INFLUX_BATCH at once */
                                .max_inflight = INFLUX_BATCH,
                                .busy_timeout_ms = 1000,
                                .seq_path = seq_path,
                                .telemetry_spill_ms = TELEMETRY_SPILL_MS};
    char problem[320] = "";
    if (open_outbox(d, path, &lim, problem, sizeof(problem)) == -1) {
        snprintf(err, errlen, "outbox: %s", problem);
        goto fail;
    }
    char back[320] = "";
    storage_check(d, back, sizeof(back));
    d->first_seq = outbox_next_seq(d->ob);
    struct outbox_stats os;
    outbox_stats(d->ob, &os);
    if (d->first_seq > os.db_seq_at_open)
        log_warnx("outbox: seq continues at %llu, the outbox's counter gave %llu: seqs %llu..%llu "
                  "are skipped (lost with the storage, or never handed out)",
                  (unsigned long long)d->first_seq, (unsigned long long)os.db_seq_at_open,
                  (unsigned long long)os.db_seq_at_open, (unsigned long long)d->first_seq - 1);
    output_init(d, OUT_MQTT, c->mqtt.nuri > 0 || c->mqtt.error[0] != '\0');
    output_init(d, OUT_INFLUX, c->influx.enabled);
    if (d->out[OUT_MQTT].wanted)
        mqtt_setup(d);
    if (c->influx.enabled) {
        d->ix_recs = calloc(INFLUX_BATCH, sizeof(*d->ix_recs));
        d->ix_buf = malloc(INFLUX_BATCH_BYTES + LINE_MAX);
        if (d->ix_recs == NULL || d->ix_buf == NULL) {
            snprintf(err, errlen, "influx: out of memory");
            goto fail;
        }
        influx_setup(d);
    }
    /* Room for a storm of transitions without allocating when it comes. */
    d->events_cap = 256;
    d->events = calloc((size_t)d->events_cap, sizeof(*d->events));
    if (d->events == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    d->last_commit_ms = d->last_state_ms = mono_ms();
    if (problem[0] != '\0') {
        d->disk_failed = true;
        d->went_back_told = true;
        disk_alarm(d, true, problem);
    } else if (back[0] != '\0') {
        /* The disk lost what it had reported written: raised with the
         * reason, cleared by the first commit that succeeds (as after a
         * full disk). */
        d->disk_failed = true;
        d->went_back_told = true;
        disk_alarm(d, true, back);
    } else if (stored_disk_alarm_active(d)) {
        /* The last run left gateway/disk raised; this one finds a healthy
         * disk: without this the centre would show it raised for ever. */
        log_info("outbox: the disk is healthy again: clearing gateway/disk");
        disk_alarm(d, false, "");
    }
    return d;
fail:
    delivery_close(d);
    return NULL;
}

/* At shutdown (a UPS running out, say) give what was just committed a short
 * chance to reach the broker: up to 2 s for the records in flight and any
 * still pending, then go; the rest is sent after the restart. */
static void drain(struct delivery *d)
{
    int64_t deadline = mono_ms() + 2000;
    struct command ignored;

    while (d->mq != NULL && mqtt_connected(d->mq) && mono_ms() < deadline) {
        pump(d);
        if (d->mqtt_inflight == 0)
            break;
        struct pollfd pfd = {.fd = mqtt_fd(d->mq), .events = POLLIN};
        if (poll(&pfd, 1, 100) > 0)
            while (delivery_next_command(d, &ignored) == 1)
                ; /* commands arriving now are not carried out */
    }
    outbox_commit(d->ob, NULL); /* the confirmations */
}

void delivery_close(struct delivery *d)
{
    char why[256];

    if (d == NULL)
        return;
    if (d->ob != NULL)
        drain(d);
    mqtt_free(d->mq);
    influx_free(d->ix); /* a batch in flight stays in the outbox */
    free(d->ix_recs);
    free(d->ix_buf);
    free(d->doors);
    if (d->ob != NULL && outbox_close(d->ob, why, sizeof(why)) == -1)
        log_err("outbox: %s", why);
    for (int i = 0; i < d->ntel; i++)
        free(d->tel[i].payload);
    free(d->tel);
    free(d->events);
    free(d->last);
    retained_clear(d->bro, &d->nbro);
    free(d->bro);
    retained_clear(d->repub, &d->nrepub);
    free(d->repub);
    free(d);
}

int delivery_restore(struct delivery *d, void **state, size_t *len, enum gw_mode *mode)
{
    char buf[32];
    if (outbox_meta_get(d->ob, "mode", buf, sizeof(buf)) == 1 && mode_from_name(buf, mode) == 0)
        d->mode = *mode;
    return outbox_state_load(d->ob, state, len);
}

int delivery_start(struct delivery *d)
{
    char why[256];

    d->started = true;
    if (!d->out[OUT_MQTT].wanted) {
        log_warnx("no [mqtt] uri: alarms are kept in the outbox and not sent anywhere");
        return 0;
    }
    if (d->mq == NULL)
        return 0; /* not set up: retried by outputs_timer() */
    if (mqtt_start(d->mq, why, sizeof(why)) == -1) {
        mqtt_free(d->mq);
        d->mq = NULL;
        output_failed(d, OUT_MQTT, why, true);
        return 0;
    }
    d->out[OUT_MQTT].retry_at_ms = mono_ms() + RECREATE_DOWN_MS;
    return 0;
}

int delivery_fds(const struct delivery *d, int fds[2])
{
    int n = 0;
    if (d->mq != NULL)
        fds[n++] = mqtt_fd(d->mq);
    if (d->ix != NULL)
        fds[n++] = influx_fd(d->ix);
    return n;
}

/* ---- the cycle ------------------------------------------------------------- */

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

/* Has the reading moved enough to be worth publishing? */
static bool reading_moved(const struct reading *a, const struct reading *b)
{
    if (a->quality != b->quality || a->no_value != b->no_value)
        return true;
    if (a->no_value)
        return false;
    switch (a->kind) {
    case KIND_WATER_LEVEL:
        return fabs(a->v.water_level.level_m - b->v.water_level.level_m) >= 0.01;
    case KIND_WATER_LEAK:
        return a->v.water_leak.wet != b->v.water_leak.wet;
    case KIND_CO2:
        return fabs(a->v.co2.co2_ppm - b->v.co2.co2_ppm) >= 20 ||
               a->v.co2.over_range != b->v.co2.over_range ||
               a->v.co2.sensor_error != b->v.co2.sensor_error;
    case KIND_BLAST_DOOR:
        return a->v.blast_door.door != b->v.blast_door.door ||
               a->v.blast_door.contacts != b->v.blast_door.contacts;
    case KIND_SMOKE:
        return a->v.smoke.smoke != b->v.smoke.smoke;
    default:
        return true;
    }
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

int delivery_queue_reading(struct delivery *d, const struct reading *r, int64_t now_ms)
{
    struct last_pub *lp = &d->last[r->sensor];
    char buf[LINE_MAX];
    int n, rc = 0;

    /* Door movements are measured on every reading, not only published ones. */
    if (d->out[OUT_INFLUX].wanted && r->kind == KIND_BLAST_DOOR) {
        const char *movement;
        double travel_s;
        if (door_travel_update(&d->doors[r->sensor], r, &movement, &travel_s) == 1 &&
            (n = points_door_movement(d->cfg, r->sensor, movement, travel_s, r->ts_ms, buf,
                                      sizeof(buf))) > 0)
            rc |= add_tel(d, r->sensor, SINK_INFLUX, buf, (size_t)n, r->ts_ms);
    }
    if (lp->have && !reading_moved(r, &lp->r) && now_ms - lp->at_ms < READING_EVERY_MS)
        return rc;
    if ((n = reading_json(r, d->cfg->sensors[r->sensor].name, buf, sizeof(buf))) < 0)
        return -1;
    rc |= add_tel(d, r->sensor, SINK_MQTT, buf, (size_t)n, r->ts_ms);
    if (d->out[OUT_INFLUX].wanted) {
        if ((n = points_reading(d->cfg, r, buf, sizeof(buf))) < 0)
            log_warn("sensor %s: InfluxDB point", d->cfg->sensors[r->sensor].name);
        else
            rc |= add_tel(d, r->sensor, SINK_INFLUX, buf, (size_t)n, r->ts_ms);
    }
    lp->have = true;
    lp->r = *r;
    lp->at_ms = now_ms;
    return rc;
}

int delivery_queue_health(struct delivery *d, struct health *h)
{
    char buf[LINE_MAX];
    struct delivery_stats st;
    int n;

    if (!d->out[OUT_INFLUX].wanted)
        return 0;
    delivery_get_stats(d, &st);
    h->broker_connected = st.connected;
    h->pending_alarms = st.pending_alarms;
    h->pending_telemetry = st.pending_telemetry;
    h->telemetry_dropped = st.telemetry_dropped;
    if ((n = points_health(d->cfg, h, buf, sizeof(buf))) < 0)
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
    if (d->retry_at_ms > now && d->retry_at_ms - now < t)
        t = d->retry_at_ms - now;
    for (int o = 0; o < OUT_COUNT; o++) {
        int64_t left = uplink_next_ms(&d->out[o].watch, now, UPLINK_GRACE_MS, t);
        if (d->out[o].retry_at_ms != 0 && d->out[o].retry_at_ms - now < left)
            left = d->out[o].retry_at_ms - now;
        if (left < t)
            t = left;
    }
    if (d->commit_retry_at_ms > now && d->commit_retry_at_ms - now < t)
        t = d->commit_retry_at_ms - now;
    if (d->mq != NULL && mqtt_connected(d->mq) && !d->synced && d->sync_deadline_ms - now < t)
        t = d->sync_deadline_ms - now;
    return t < 0 ? 0 : (int)t;
}

static int commit(struct delivery *d, const void *state, size_t state_len)
{
    /* With InfluxDB each transition is two records sharing one seq. */
    const int per_event = d->out[OUT_INFLUX].wanted ? 2 : 1;
    const int nrec = d->nevents * per_event;
    struct outbox_rec *alarms = calloc((size_t)nrec + 1, sizeof(*alarms));
    struct outbox_rec *tel = calloc((size_t)d->ntel + 1, sizeof(*tel));
    char **texts = calloc((size_t)nrec + 1, sizeof(*texts));
    char(*topics)[TOPIC_MAX] = calloc((size_t)(d->nevents + d->ntel) + 1, TOPIC_MAX);
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
        snprintf(topics[ti], TOPIC_MAX, "%s/alarm/%s/%s", d->base, m.sensor, m.alarm);
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
            int n = points_alarm(d->cfg, &m, line, sizeof(line));
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
        const char *name = t->sensor >= 0 ? d->cfg->sensors[t->sensor].name : "gateway";
        const char *topic = "";
        if (t->sink == SINK_MQTT) {
            snprintf(topics[ti], TOPIC_MAX, "%s/reading/%s", d->base, name);
            topic = topics[ti++];
        }
        tel[i] = (struct outbox_rec){.sensor = name,
                                     .topic = topic,
                                     .payload = t->payload,
                                     .payload_len = t->len,
                                     .qos = 0,
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
    if (rc == OUTBOX_DISK_FAILED && !d->disk_failed) {
        d->disk_failed = true;
        log_err("outbox: disk failing: %s (alarms kept in memory; telemetry dropped)",
                outbox_errmsg(d->ob));
        disk_alarm(d, true, outbox_errmsg(d->ob));
    } else if (rc != OUTBOX_DISK_FAILED && d->disk_failed && !d->memory_only) {
        d->disk_failed = false;
        log_warnx("outbox: disk writable again");
        disk_alarm(d, false, "");
    }
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
    for (int i = 0; i < d->ntel; i++)
        free(d->tel[i].payload);
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

/* ---- the sync after a (re)connect ------------------------------------------ */

#define REPUB_ID ((uint64_t)INT64_MIN) /* republished state: no outbox id is this */

static void retained_clear(struct retained *v, int *n)
{
    for (int i = 0; i < *n; i++) {
        free(v[i].topic);
        free(v[i].sensor);
        free(v[i].payload);
    }
    *n = 0;
}

static int retained_add(struct retained **v, int *n, int *cap, const char *topic,
                        const char *sensor, uint64_t seq, const void *payload, size_t len)
{
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 32;
        struct retained *p = realloc(*v, sizeof(*p) * (size_t)ncap);
        if (p == NULL)
            return -1;
        *v = p;
        *cap = ncap;
    }
    struct retained *r = &(*v)[*n];
    r->topic = strdup(topic);
    r->sensor = sensor != NULL ? strdup(sensor) : NULL;
    r->payload = malloc(len + 1);
    if (r->topic == NULL || r->payload == NULL || (sensor != NULL && r->sensor == NULL)) {
        free(r->topic);
        free(r->sensor);
        free(r->payload);
        return -1;
    }
    memcpy(r->payload, payload, len);
    r->payload[len] = '\0';
    r->len = len;
    r->seq = seq;
    (*n)++;
    return 0;
}

/* The seq of one of our alarm payloads; 0 when it has none. */
static uint64_t payload_seq(const char *p, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(p, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "seq");
    uint64_t seq = cJSON_IsNumber(s) && s->valuedouble >= 1 ? (uint64_t)s->valuedouble : 0;

    cJSON_Delete(o);
    return seq;
}

/* A copy of an alarm record with its seq replaced: "seq":N in the JSON
 * payload, seq=Ni in the line-protocol one.  malloc'd; NULL: out of memory. */
static void *seq_rewrite(void *ctx, uint64_t old_seq, uint64_t new_seq, const void *payload,
                         size_t len, size_t *newlen)
{
    char from[48], to[48];
    const char *p = payload, *at = NULL;
    size_t flen = 0, tlen = 0;

    (void)ctx;
    for (size_t f = 0; f < 2 && at == NULL; f++) {
        if (f == 0) {
            flen =
                (size_t)snprintf(from, sizeof(from), "\"seq\":%llu", (unsigned long long)old_seq);
            tlen = (size_t)snprintf(to, sizeof(to), "\"seq\":%llu", (unsigned long long)new_seq);
        } else {
            flen = (size_t)snprintf(from, sizeof(from), "seq=%llui", (unsigned long long)old_seq);
            tlen = (size_t)snprintf(to, sizeof(to), "seq=%llui", (unsigned long long)new_seq);
        }
        for (const char *q = p; q != NULL && q + flen <= p + len;
             q = memchr(q + 1, from[0], (size_t)(p + len - q - 1))) {
            size_t end = (size_t)(q - p) + flen;
            if (memcmp(q, from, flen) == 0 &&
                (f == 1 || end == len || p[end] < '0' || p[end] > '9')) {
                at = q;
                break;
            }
        }
    }
    char *out = malloc(len + 48);
    if (out == NULL)
        return NULL;
    if (at == NULL) { /* no seq in it: unchanged */
        memcpy(out, p, len);
        *newlen = len;
        return out;
    }
    size_t head = (size_t)(at - p);
    memcpy(out, p, head);
    memcpy(out + head, to, tlen);
    memcpy(out + head + tlen, at + flen, len - head - flen);
    *newlen = len - flen + tlen;
    return out;
}

static void sync_start(struct delivery *d)
{
    d->synced = false;
    d->sync_deadline_ms = mono_ms() + SYNC_TIMEOUT_MS;
    retained_clear(d->bro, &d->nbro);
    d->bro_max_seq = 0;
    retained_clear(d->repub, &d->nrepub);
    d->repub_next = 0;
}

/* One retained alarm message of ours, sent back during the sync. */
static void sync_take(struct delivery *d, const struct mqtt_event *ev)
{
    uint64_t seq = payload_seq(ev->payload, ev->len);

    if (seq == 0)
        return;
    if (seq > d->bro_max_seq)
        d->bro_max_seq = seq;
    if (retained_add(&d->bro, &d->nbro, &d->capbro, ev->topic, NULL, seq, ev->payload, ev->len) ==
        -1)
        log_warnx("mqtt: sync: out of memory (the state is republished in full)");
}

/* The current state as the outbox has it, collected for comparison. */
struct cur_list {
    struct retained *v;
    int n, cap;
    bool nomem;
};

static void cur_take(void *ctx, const char *topic, const char *sensor, uint64_t seq,
                     const void *payload, size_t len)
{
    struct cur_list *c = ctx;

    if (c->nomem || retained_add(&c->v, &c->n, &c->cap, topic, sensor, seq, payload, len) == -1)
        c->nomem = true;
}

static const struct retained *broker_has(const struct delivery *d, const char *topic)
{
    for (int i = 0; i < d->nbro; i++)
        if (strcmp(d->bro[i].topic, topic) == 0)
            return &d->bro[i];
    return NULL;
}

/* The broker holds a newer transition on this topic than the outbox
 * remembers (the outbox lost it): assert the gateway's state again, the
 * same message under a new seq, so the centre's view and the gateway's
 * agree and no seq gets a second meaning. */
static void reassert(struct delivery *d, const struct retained *cur, uint64_t broker_seq)
{
    uint64_t seq = outbox_next_seq(d->ob);
    size_t len;
    char *p = seq_rewrite(NULL, cur->seq, seq, cur->payload, cur->len, &len);

    if (p == NULL)
        return;
    struct outbox_rec rec = {.sensor = cur->sensor,
                             .topic = cur->topic,
                             .payload = p,
                             .payload_len = len,
                             .qos = 1,
                             .retained = 1,
                             .seq = seq,
                             .created_ms = wall_ms(),
                             .sinks = 1u << SINK_MQTT};
    struct outbox_cycle cy = {.alarms = &rec, .nalarms = 1};
    log_warnx("ALARM state %s asserted again as seq %llu (was seq %llu; the broker held seq "
              "%llu, which the outbox had lost)",
              cur->topic + strlen(d->base) + 1, (unsigned long long)seq,
              (unsigned long long)cur->seq, (unsigned long long)broker_seq);
    if (outbox_commit(d->ob, &cy) == -1)
        log_warn("outbox commit");
    free(p);
}

/* A retained alarm of ours that the outbox does not know: adopted as the
 * current state when inactive (0), else withdrawn with a new seq (1). */
static int adopt_or_withdraw(struct delivery *d, const struct retained *b)
{
    cJSON *o = cJSON_ParseWithLength(b->payload, b->len);
    const cJSON *sensor = cJSON_GetObjectItemCaseSensitive(o, "sensor");
    int rc = 0;

    if (!cJSON_IsString(sensor)) {
        cJSON_Delete(o);
        return 0;
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "active"))) {
        if (outbox_current_adopt(d->ob, b->topic, sensor->valuestring, b->seq, b->payload,
                                 b->len) == -1)
            log_warnx("outbox: current state: out of memory");
        cJSON_Delete(o);
        return 0;
    }
    /* The same message, cleared: new seq, now, why. */
    const bool zh = d->cfg->language == LANG_ZH;
    uint64_t seq = outbox_next_seq(d->ob);
    char ts[40];
    int64_t now = wall_ms();
    format_rfc3339_ms(now, ts, sizeof(ts));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "seq", cJSON_CreateNumber((double)seq));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "ts", cJSON_CreateString(ts));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "event", cJSON_CreateString("cleared"));
    cJSON_ReplaceItemInObjectCaseSensitive(o, "active", cJSON_CreateFalse());
    cJSON_ReplaceItemInObjectCaseSensitive(o, "acked", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(o, "reason");
    cJSON_AddStringToObject(o, "reason", "state_lost");
    cJSON_ReplaceItemInObjectCaseSensitive(
        o, "message",
        cJSON_CreateString(zh ? "网关存储丢失了此告警的状态：撤销（如条件仍在将重新报警）"
                              : "the gateway's storage lost this alarm's state: withdrawn "
                                "(raised again if its condition still holds)"));
    char *p = cJSON_PrintUnformatted(o);
    if (p != NULL) {
        struct outbox_rec rec = {.sensor = sensor->valuestring,
                                 .topic = b->topic,
                                 .payload = p,
                                 .payload_len = strlen(p),
                                 .qos = 1,
                                 .retained = 1,
                                 .seq = seq,
                                 .created_ms = now,
                                 .sinks = 1u << SINK_MQTT};
        struct outbox_cycle cy = {.alarms = &rec, .nalarms = 1};
        log_warnx("ALARM withdrawn %s as seq %llu: raised at the centre (seq %llu) but unknown "
                  "to the gateway's storage",
                  b->topic + strlen(d->base) + 1, (unsigned long long)seq,
                  (unsigned long long)b->seq);
        if (outbox_commit(d->ob, &cy) == -1)
            log_warn("outbox commit");
        else
            rc = 1;
        free(p);
    }
    cJSON_Delete(o);
    return rc;
}

/* The sync is over: complete (the broker sent back our retained alarms) or
 * not (timed out: nothing known, so the whole current state is republished). */
static void sync_finish(struct delivery *d, bool complete)
{
    struct outbox_stats os;
    struct cur_list cur = {0};
    char why[256];
    int republished = 0, asserted = 0;

    outbox_stats(d->ob, &os);
    if (!complete)
        log_warnx("mqtt: the broker sent no retained state back within %d s (no read access "
                  "to %s and %s?): republishing the whole current alarm state",
                  SYNC_TIMEOUT_MS / 1000, d->alarm_filter, d->status_topic);
    if (complete && d->bro_max_seq >= d->first_seq && d->bro_max_seq > d->max_sent_seq &&
        !d->renumbered) {
        /* A seq of this very run's range that this run never sent: the
         * reservation went back with the database (a storage that lost
         * less is caught at open).  Jump past it and number anew what is
         * pending (not published yet: the sync held it back). */
        uint64_t floor = d->bro_max_seq + 1;
        if ((uint64_t)wall_ms() > floor)
            floor = (uint64_t)wall_ms();
        snprintf(why, sizeof(why),
                 "the broker holds seq %llu, at or above this run's first "
                 "seq %llu: the state directory went back in time; seq jumps to %llu",
                 (unsigned long long)d->bro_max_seq, (unsigned long long)d->first_seq,
                 (unsigned long long)floor);
        log_err("outbox: %s", why);
        uint64_t lo = d->max_sent_seq + 1 > d->first_seq ? d->max_sent_seq + 1 : d->first_seq;
        log_warnx("outbox: seqs %llu..%llu are skipped", (unsigned long long)lo,
                  (unsigned long long)floor - 1);
        outbox_raise_seq(d->ob, floor);
        int n = outbox_renumber(d->ob, d->first_seq, seq_rewrite, d);
        if (n == -1)
            log_warn("outbox: renumbering pending alarms");
        else if (n > 0)
            log_warnx("outbox: %d pending alarm transition%s numbered anew", n, n == 1 ? "" : "s");
        d->renumbered = true;
        d->went_back_told = true;
        d->disk_failed = true; /* cleared by the next good commit */
        disk_alarm(d, true, why);
    }
    if (outbox_current(d->ob, cur_take, &cur) == -1)
        log_warnx("outbox: cannot read the current alarm state: %s", outbox_errmsg(d->ob));
    if (cur.nomem)
        log_warnx("mqtt: sync: out of memory: part of the current state is not republished");
    for (int i = 0; i < cur.n; i++) {
        const struct retained *c = &cur.v[i], *b = complete ? broker_has(d, c->topic) : NULL;
        if (outbox_topic_pending(d->ob, SINK_MQTT, c->topic) != 0)
            continue; /* the outbox sends a newer one (or cannot tell): never overwrite it */
        if (b != NULL && b->len == c->len && memcmp(b->payload, c->payload, c->len) == 0)
            continue; /* the broker has it as it is */
        if (b != NULL && b->seq > c->seq) {
            reassert(d, c, b->seq);
            asserted++;
            continue;
        }
        if (retained_add(&d->repub, &d->nrepub, &d->caprepub, c->topic, NULL, c->seq, c->payload,
                         c->len) == 0)
            republished++;
    }
    /* Retained alarms of ours the outbox knows nothing of (it lost them, or
     * was replaced): an inactive one becomes the current state as it is; an
     * active one is withdrawn, since the engine does not know it (if its
     * condition still holds, the engine raises it again). */
    int withdrawn = 0;
    for (int i = 0; complete && i < d->nbro; i++) {
        const struct retained *b = &d->bro[i];
        bool known = false;
        for (int j = 0; j < cur.n && !known; j++)
            known = strcmp(cur.v[j].topic, b->topic) == 0;
        if (known || outbox_topic_pending(d->ob, SINK_MQTT, b->topic) != 0)
            continue;
        if (os.current_partial) { /* upgraded: the broker's is the current state */
            cJSON *o = cJSON_ParseWithLength(b->payload, b->len);
            const cJSON *sn = cJSON_GetObjectItemCaseSensitive(o, "sensor");
            if (cJSON_IsString(sn) && outbox_current_adopt(d->ob, b->topic, sn->valuestring, b->seq,
                                                           b->payload, b->len) == -1)
                log_warnx("outbox: current state: out of memory");
            cJSON_Delete(o);
            continue;
        }
        withdrawn += adopt_or_withdraw(d, b);
    }
    if (complete && os.current_partial) {
        log_info("outbox: current alarm state seeded from the broker's %d retained alarms "
                 "(first connect after an upgrade)",
                 d->nbro);
        outbox_current_seeded(d->ob);
    }
    retained_clear(cur.v, &cur.n);
    free(cur.v);
    log_info("mqtt: sync: %d retained alarm%s read back (highest seq %llu), %d republished, %d "
             "asserted anew, %d withdrawn",
             d->nbro, d->nbro == 1 ? "" : "s", (unsigned long long)d->bro_max_seq, republished,
             asserted, withdrawn);
    retained_clear(d->bro, &d->nbro);
    d->synced = true;
}

/* Hand pending records to MQTT, alarms first, within the in-flight window:
 * after the sync, and after the state it republishes (per-topic order). */
static void pump(struct delivery *d)
{
    struct outbox_rec recs[FETCH_BATCH];

    if (d->mq == NULL || !mqtt_connected(d->mq) || mono_ms() < d->retry_at_ms)
        return;
    if (!d->synced && mono_ms() >= d->sync_deadline_ms)
        sync_finish(d, false);
    if (!d->synced)
        return;
    while (d->repub_next < d->nrepub && d->mqtt_inflight < OUTBOX_WINDOW) {
        const struct retained *r = &d->repub[d->repub_next];
        if (mqtt_publish(d->mq, r->topic, r->payload, r->len, 1, 1, REPUB_ID) == -1)
            return;
        if (r->seq > d->max_sent_seq)
            d->max_sent_seq = r->seq;
        d->repub_next++;
        d->mqtt_inflight++;
    }
    if (d->repub_next < d->nrepub)
        return;
    /* At most OUTBOX_WINDOW outbox records in flight: under the broker's
     * Receive Maximum (Paho silently holds back the excess), and room left
     * for status and command replies. */
    while (d->mqtt_inflight < OUTBOX_WINDOW) {
        int want = OUTBOX_WINDOW - d->mqtt_inflight;
        int n = outbox_fetch(d->ob, SINK_MQTT, recs, want < FETCH_BATCH ? want : FETCH_BATCH);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            if (mqtt_publish(d->mq, recs[i].topic, recs[i].payload, recs[i].payload_len,
                             recs[i].qos, recs[i].retained, (uint64_t)recs[i].id) == -1) {
                /* Not connected after all: hand them back. */
                for (int j = i; j < n; j++)
                    outbox_release(d->ob, recs[j].id, SINK_MQTT);
                return;
            }
            if (recs[i].seq > d->max_sent_seq)
                d->max_sent_seq = recs[i].seq;
            d->mqtt_inflight++;
        }
    }
}

/* The InfluxDB batch in flight finished (or was abandoned). */
static void influx_outcome(struct delivery *d, const struct influx_result *res)
{
    bool config_fault =
        res->http_status == 401 || res->http_status == 403 || res->http_status == 404;

    if (res->outcome == INFLUX_DELIVERED) {
        for (int i = 0; i < d->ix_n; i++)
            outbox_done(d->ob, d->ix_recs[i].id, SINK_INFLUX);
        d->confirmations = true;
        if (d->influx_down_logged)
            log_info("influx: writing again");
        d->influx_down_logged = false;
        output_working(d, OUT_INFLUX);
    } else if (res->outcome == INFLUX_RETRY || config_fault) {
        /* Unreachable, overloaded, or refusing us (token, database): the data
         * is good, so keep it; the writer backs off before the next batch. */
        for (int i = 0; i < d->ix_n; i++)
            outbox_release(d->ob, d->ix_recs[i].id, SINK_INFLUX);
        if (!d->influx_down_logged)
            log_warnx("influx: write failed: %s%s (retrying; backlog kept in the outbox)",
                      res->message, config_fault ? ": check url, database and token" : "");
        d->influx_down_logged = true;
        char why[UPLINK_WHY_MAX];
        snprintf(why, sizeof(why), "%s%.400s", res->http_status ? "refused: " : "", res->message);
        if (!config_fault) {
            uplink_down(&d->out[OUT_INFLUX].watch, mono_ms(), why);
        } else {
            /* Refused (token, database): a fresh writer later reads the token again. */
            uplink_failing(&d->out[OUT_INFLUX].watch, mono_ms(), why);
            if (d->out[OUT_INFLUX].retry_at_ms == 0)
                retry_later(&d->out[OUT_INFLUX]);
        }
    } else {
        /* The server will never take these points (e.g. a field type clash):
         * set them aside so the rest can flow, and say so once per batch. */
        for (int i = 0; i < d->ix_n; i++)
            outbox_done(d->ob, d->ix_recs[i].id, SINK_INFLUX);
        d->confirmations = true;
        d->influx_set_aside += (uint64_t)d->ix_n;
        log_warnx("influx: batch of %d points rejected: HTTP %d: %s (set aside, %llu in all)",
                  d->ix_n, res->http_status, res->message, (unsigned long long)d->influx_set_aside);
    }
    d->ix_n = 0;
    d->ix_batch = 0;
}

/* Take the InfluxDB result if any, then start the next batch: alarms first
 * (the outbox hands them out first), then the telemetry backlog. */
static void influx_pump(struct delivery *d)
{
    struct influx_result res;

    if (d->ix == NULL)
        return;
    int rc = influx_perform(d->ix, &res);
    if (rc == 1 && res.batch_id == d->ix_batch)
        influx_outcome(d, &res);
    else if (rc == -1)
        log_warn("influx");
    if (d->ix_batch != 0 || !influx_ready(d->ix))
        return;
    int n = outbox_fetch(d->ob, SINK_INFLUX, d->ix_recs, INFLUX_BATCH);
    if (n <= 0)
        return;
    size_t used = 0;
    int take = 0;
    for (; take < n && used + d->ix_recs[take].payload_len <= INFLUX_BATCH_BYTES; take++) {
        memcpy(d->ix_buf + used, d->ix_recs[take].payload, d->ix_recs[take].payload_len);
        used += d->ix_recs[take].payload_len;
    }
    if (take == 0) { /* one oversized point: send it alone */
        memcpy(d->ix_buf, d->ix_recs[0].payload, d->ix_recs[0].payload_len);
        used = d->ix_recs[0].payload_len;
        take = 1;
    }
    for (int i = take; i < n; i++)
        outbox_release(d->ob, d->ix_recs[i].id, SINK_INFLUX);
    d->ix_n = take;
    d->ix_batch = ++d->ix_last_batch;
    if (influx_submit(d->ix, d->ix_batch, d->ix_buf, used) == -1) {
        for (int i = 0; i < take; i++)
            outbox_release(d->ob, d->ix_recs[i].id, SINK_INFLUX);
        d->ix_n = 0;
        d->ix_batch = 0;
    }
}

int delivery_run(struct delivery *d, const void *state, size_t state_len, bool force)
{
    int rc = 0;
    if (!force) /* force: stopping or reloading, no clients made now */
        outputs_timer(d);
    if (commit_due(d, mono_ms(), force)) {
        rc = commit(d, state, state_len);
        d->commit_retry_at_ms = rc == -1 ? mono_ms() + 200 : 0;
    }
    pump(d);
    influx_pump(d);
    return rc;
}

/* ---- MQTT events and commands -------------------------------------------- */

static void publish_status(struct delivery *d)
{
    char *p = payload_status(d->cfg, d->mode, wall_ms());
    if (p == NULL)
        return;
    /* id 0: not an outbox record; the status is re-sent on every connect. */
    if (mqtt_publish(d->mq, d->status_topic, p, strlen(p), 1, 1, 0) == -1)
        log_warnx("mqtt: publish status: %s", gw_strerror(errno));
    free(p);
}

static void on_published(struct delivery *d, const struct mqtt_event *ev)
{
    if (ev->id == 0)
        return; /* status or cmd_result */
    if (d->mqtt_inflight > 0)
        d->mqtt_inflight--;
    if (ev->id == REPUB_ID)
        return; /* the current state again: a failure is redone at the next connect */
    if (ev->ok) {
        outbox_done(d->ob, (int64_t)ev->id, SINK_MQTT);
        d->confirmations = true;
        d->published++;
        if (d->publish_failing) {
            d->publish_failing = false;
            log_info("mqtt: publishing again");
        }
        d->retry_ms = RETRY_MIN_MS;
        return;
    }
    outbox_release(d->ob, (int64_t)ev->id, SINK_MQTT);
    d->publish_failures++;
    if (ev->reason >= 0x80) {
        /* The broker refused it (e.g. not authorized): retry with backoff, not in a loop. */
        if (!d->publish_failing)
            log_warnx("mqtt: broker refused a publish: %s (0x%02x); retrying with backoff",
                      mqtt_reason_str(ev->reason), ev->reason);
        d->publish_failing = true;
        d->retry_at_ms = mono_ms() + d->retry_ms;
        d->retry_ms = d->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : d->retry_ms * 2;
    }
}

static void reject(struct delivery *d, const char *id, const char *verb, const char *why)
{
    char *p = payload_cmd_result(id, verb, false, why, wall_ms());
    log_warnx("command %s rejected: %s", verb, why);
    if (p != NULL && mqtt_publish(d->mq, d->result_topic, p, strlen(p), 1, 0, 0) == -1)
        log_warnx("mqtt: publish cmd_result: %s", gw_strerror(errno));
    free(p);
}

/* A message on {base}/cmd/{verb}: 1 and *cmd when valid, 0 when answered here. */
static int on_message(struct delivery *d, const struct mqtt_event *ev, struct command *cmd)
{
    size_t plen = strlen(d->base) + strlen("/cmd/");
    const char *verb = ev->topic + plen;
    char why[256];

    if (strncmp(ev->topic, d->base, strlen(d->base)) != 0 || strlen(ev->topic) <= plen ||
        strncmp(ev->topic + strlen(d->base), "/cmd/", 5) != 0) {
        log_warnx("mqtt: message on unexpected topic %.200s ignored", ev->topic);
        return 0;
    }
    if (ev->oversized) {
        snprintf(why, sizeof(why), "command too large (%zu bytes)", ev->len);
        reject(d, NULL, verb, why);
        return 0;
    }
    if (ev->retained) {
        /* A retained command would run again on every reconnect.  Parsed only
         * to echo its id. */
        command_parse(verb, ev->payload, ev->len, d->cfg->id, cmd, why, sizeof(why));
        reject(d, cmd->id[0] ? cmd->id : NULL, verb,
               "retained commands are refused: publish with retain off");
        return 0;
    }
    if (command_parse(verb, ev->payload, ev->len, d->cfg->id, cmd, why, sizeof(why)) == -1) {
        reject(d, cmd->id[0] ? cmd->id : NULL, verb, why);
        return 0;
    }
    return 1;
}

/* The first connect of a client failed.  A refusal of our credentials or
 * identity needs fixing: alarm at once, and a fresh client (the password
 * read again) after a backoff, since Paho would retry with the old one for
 * ever.  Anything else may pass: Paho goes on trying. */
static void connect_failed(struct delivery *d, const struct mqtt_event *ev)
{
    static const int needs_fixing[] = {
        0x85 /* client identifier not valid */, 0x86 /* bad user name or password */,
        0x87 /* not authorized */, 0x8A /* banned */, 0x8C /* bad authentication method */};
    struct output *out = &d->out[OUT_MQTT];

    for (size_t i = 0; i < sizeof(needs_fixing) / sizeof(needs_fixing[0]); i++)
        if (ev->reason == needs_fixing[i]) {
            uplink_failing(&out->watch, mono_ms(), ev->detail);
            retry_later(out);
            return;
        }
    uplink_down(&out->watch, mono_ms(), ev->detail);
}

int delivery_next_command(struct delivery *d, struct command *cmd)
{
    struct mqtt_event ev;

    if (d->mq == NULL)
        return 0;
    while (mqtt_next_event(d->mq, &ev) == 1) {
        int got = 0;
        switch (ev.type) {
        case MQTT_EV_CONNECTED:
            log_info("mqtt: connected to %s", ev.detail);
            d->broker_down_logged = false;
            d->retry_at_ms = 0;
            sync_start(d);
            output_working(d, OUT_MQTT);
            publish_status(d);
            break;
        case MQTT_EV_CONNECT_FAILED:
            if (!d->broker_down_logged)
                log_warnx("mqtt: connect failed: %s (retrying; alarms kept in the outbox)",
                          ev.detail);
            else
                log_debug("mqtt: connect failed: %s", ev.detail);
            d->broker_down_logged = true;
            connect_failed(d, &ev);
            break;
        case MQTT_EV_DISCONNECTED:
            log_warnx("mqtt: connection lost: %s (reconnecting; alarms kept in the outbox)",
                      ev.detail);
            d->broker_down_logged = true;
            uplink_down(&d->out[OUT_MQTT].watch, mono_ms(), ev.detail);
            if (d->out[OUT_MQTT].retry_at_ms == 0)
                d->out[OUT_MQTT].retry_at_ms = mono_ms() + UPLINK_GRACE_MS;
            outbox_release_all(d->ob, SINK_MQTT);
            d->mqtt_inflight = 0; /* every publish in flight was answered (failed) before */
            d->synced = false;
            retained_clear(d->repub, &d->nrepub);
            d->repub_next = 0;
            break;
        case MQTT_EV_SUBSCRIBED:
            if (!ev.ok)
                log_warnx("mqtt: subscription to %s (and the sync's) refused: %s: commands "
                          "will not arrive",
                          d->cmd_filter, mqtt_reason_str(ev.reason));
            break;
        case MQTT_EV_PUBLISHED:
            on_published(d, &ev);
            break;
        case MQTT_EV_MESSAGE:
            if (strncmp(ev.topic, d->alarm_filter, strlen(d->alarm_filter) - 1) == 0) {
                if (!d->synced && !ev.oversized)
                    sync_take(d, &ev); /* later: our own publishes coming back */
            } else if (strcmp(ev.topic, d->status_topic) == 0) {
                if (!d->synced)
                    sync_finish(d, true);
            } else {
                got = on_message(d, &ev, cmd);
            }
            break;
        default:
            break;
        }
        mqtt_event_clear(&ev);
        if (got)
            return 1;
    }
    return 0;
}

void delivery_reply(struct delivery *d, const struct command *cmd, bool ok, const char *error)
{
    char *p = payload_cmd_result(cmd->id, command_verb_name(cmd->verb), ok, error, wall_ms());
    if (p != NULL && d->mq != NULL &&
        mqtt_publish(d->mq, d->result_topic, p, strlen(p), 1, 0, 0) == -1)
        log_warnx("mqtt: publish cmd_result: %s", gw_strerror(errno));
    free(p);
}

void delivery_set_mode(struct delivery *d, enum gw_mode mode)
{
    d->mode = mode;
    if (outbox_meta_set(d->ob, "mode", mode_name(mode)) == -1)
        log_warnx("outbox: cannot store mode: %s (it will not survive a restart)",
                  outbox_errmsg(d->ob));
    if (d->mq != NULL && mqtt_connected(d->mq))
        publish_status(d);
}

void delivery_get_stats(const struct delivery *d, struct delivery_stats *st)
{
    struct outbox_stats os;
    outbox_stats(d->ob, &os);
    *st = (struct delivery_stats){.connected = d->mq != NULL && mqtt_connected(d->mq),
                                  .pending_alarms = os.alarm_rows + os.mem_alarms,
                                  .pending_telemetry = os.telemetry_rows + os.mem_telemetry,
                                  .telemetry_dropped = os.telemetry_dropped,
                                  .published = d->published,
                                  .publish_failures = d->publish_failures,
                                  .disk_failed = d->disk_failed};
}

/* ---- reload ---------------------------------------------------------------- */

#define SAME_STR(f) (strcmp(a->f, b->f) == 0)

int delivery_reconfigure(struct delivery *d, const struct cfg *b, char *why, size_t len)
{
    const struct cfg *a = d->cfg;
    bool same_mqtt = a->mqtt.nuri == b->mqtt.nuri && SAME_STR(mqtt.error) &&
                     SAME_STR(mqtt.username) && SAME_STR(mqtt.password_file) &&
                     SAME_STR(mqtt.ca_file) && SAME_STR(mqtt.cert_file) &&
                     SAME_STR(mqtt.key_file) && SAME_STR(mqtt.topic_prefix) &&
                     a->mqtt.keepalive_s == b->mqtt.keepalive_s;
    for (int i = 0; same_mqtt && i < a->mqtt.nuri; i++)
        same_mqtt = SAME_STR(mqtt.uri[i]);
    bool same_influx = a->influx.enabled == b->influx.enabled && SAME_STR(influx.error) &&
                       SAME_STR(influx.url) && SAME_STR(influx.database) && SAME_STR(influx.org) &&
                       SAME_STR(influx.bucket) && SAME_STR(influx.token_file);
    bool same_site = SAME_STR(id) && SAME_STR(city) && SAME_STR(district) && SAME_STR(street) &&
                     SAME_STR(community) && SAME_STR(property) && SAME_STR(state_dir) &&
                     a->telemetry_max_rows == b->telemetry_max_rows &&
                     a->telemetry_max_mb == b->telemetry_max_mb;
    if (!same_site || !same_mqtt || !same_influx) {
        snprintf(why, len, "%s changed: restart the gateway to apply it",
                 !same_site   ? "the gateway's identity, state_dir or telemetry cap"
                 : !same_mqtt ? "[mqtt]"
                              : "[influx]");
        return -1;
    }
    /* Nothing of the old configuration may be queued: the caller has
     * committed the cycle.  Per-sensor memories start afresh (indices change). */
    struct last_pub *last = calloc((size_t)b->nsensors + 1, sizeof(*last));
    struct door_travel *doors = calloc((size_t)b->nsensors + 1, sizeof(*doors));
    if (last == NULL || doors == NULL || d->nevents > 0 || d->ntel > 0) {
        free(last);
        free(doors);
        snprintf(why, len, "%s", d->nevents || d->ntel ? "uncommitted records" : "out of memory");
        return -1;
    }
    free(d->last);
    free(d->doors);
    d->last = last;
    d->doors = doors;
    d->cfg = b;
    if (d->mq != NULL && mqtt_connected(d->mq))
        publish_status(d); /* the name may have changed */
    return 0;
}
