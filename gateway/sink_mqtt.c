/*
 * sink_mqtt: see sink_mqtt.h.
 *
 * Invariants:
 * - Every record offered and published is answered by exactly one
 *   confirmation (lib/mqtt.h's contract: one PUBLISHED event per publish,
 *   failures before DISCONNECTED); a client freed with publishes in flight,
 *   and every disconnect, also hands everything back (SINK_AGAIN_ALL), so
 *   nothing stays marked in flight on a connection that is gone.
 * - No MQTT problem stops the gateway: a client that cannot be set up (a
 *   file it needs, its configuration section) or is refused stays down,
 *   raises gateway/uplink (selfalarm), and is set up again with a backoff,
 *   reading its files afresh, until it works.
 * - Back within 2 s of the broker's return (issue 11): while the broker is
 *   unreachable the sink itself tries to connect every PROBE_MS plus up to
 *   PROBE_JITTER_MS (so a fleet does not probe in step), one attempt at a
 *   time: a refused TCP connect, nothing the broker has to work for.
 *   Paho's own reconnect backoff reached 30 s and is checked only every
 *   3 s.  A refusal of our identity is no probe: it waits for a fresh
 *   client after the setup backoff.
 * - The status (docs/design.md section 10.1) says since when this
 *   connection is up, and the will, fixed when a client is made, says the
 *   same time: a client made WILL_STALE_MS or more before it (re)connected
 *   (Paho reconnects with the will it was given) is replaced at once,
 *   quietly (the broker discards its will), by one whose will is this
 *   connection's; a replacement is not replaced again on its first connect,
 *   so a slow broker costs one extra connect, never a loop.
 * - The will also says the mode and the configuration's hash: when either
 *   changes (a mode command, a reload) the client is replaced the same
 *   quiet way, once nothing is in flight (the command's answer is out
 *   first) and WILL_RENEW_MS after the change; "since" stays (the gateway
 *   never went offline).
 * - The status is never stored in the outbox (no flash wear for a
 *   heartbeat): it is published on every connect, after a mode change or a
 *   reload, when the active alarm counts changed (at most every
 *   STATUS_GAP_MS), and every heartbeat_ms; one that cannot be published
 *   now stays due.
 */
#include "sink_mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "command.h"
#include "filecheck.h"
#include "gwerr.h"
#include "gwmsg.h"
#include "intake.h"
#include "log.h"
#include "mqtt.h"
#include "payload.h"
#include "selfalarm.h"
#include "sink.h"
#include "sync.h"
#include "uplink.h"
#include "topic.h"

#define RETRY_MIN_MS 1000 /* a publish the broker refused: back off */
#define RETRY_MAX_MS 30000
#define DIRECT_WINDOW 16         /* ... plus status and cmd_result, which bypass the outbox */
#define SETUP_RETRY_MIN_MS 2000  /* a client that could not be set up or was refused: */
#define SETUP_RETRY_MAX_MS 60000 /* set up again after this backoff (files read afresh) */
#define RECREATE_DOWN_MS 60000   /* not connected this long: a fresh client */
#define PROBE_MS 1000            /* unreachable broker: try again after this ... */
#define PROBE_JITTER_MS 500      /* ... plus up to this */
#define CONFIRM_MAX (2 * SINK_MQTT_WINDOW + 2)
#define WILL_STALE_MS 10000 /* a will this much older than its connection is replaced */
#define STATUS_GAP_MS 2000  /* alarm counts changed: the status again, at most this often */
#define WILL_RENEW_MS 2000  /* mode or configuration changed: the will renewed this much later */

struct sink_mqtt {
    struct sink sink;
    const struct cfg *cfg;
    struct selfalarm *sa;
    struct sync *sy;
    struct intake *in;
    struct mqtt *mq;
    char status_topic[TOPIC_SIZE], alarm_filter[TOPIC_SIZE];
    enum gw_mode mode;
    bool started; /* start() done: a new client connects at once */
    bool broker_down_logged;
    bool publish_failing;
    int64_t retry_at_ms; /* no publishing before this (after a refusal) */
    int retry_ms;
    int64_t setup_at_ms; /* set the client up afresh then; 0: not due */
    int64_t probe_at_ms; /* try to connect then (top of the file); 0: not due */
    unsigned probe_seed; /* its jitter, different per gateway */
    int setup_backoff_ms;
    int inflight; /* outbox records handed to the client, not yet answered */
    uint64_t published, publish_failures;
    struct sink_confirm confirm[CONFIRM_MAX];
    int nconfirm;
    /* the status */
    int64_t since_ms;       /* wall: the "since" of the client's will and of its statuses */
    bool renewal;           /* the client replaces one whose will was stale */
    bool keep_since;        /* ... or one whose mode or configuration changed */
    enum gw_mode will_mode; /* what the client's will says */
    char will_config[sizeof(((struct cfg *)0)->config_hash)];
    int64_t changed_at_ms; /* mono: the mode or configuration changed (0: the will is current) */
    int alarms[GWMSG_SEVERITIES];
    bool status_due;         /* publish when connected, STATUS_GAP_MS after the last */
    int64_t status_at_ms;    /* mono: the last status published */
    int64_t heartbeat_at_ms; /* mono: the next heartbeat */
};

/* ---- confirmations ----------------------------------------------------------- */

static void confirm(struct sink_mqtt *sm, int64_t id, enum sink_outcome outcome)
{
    if (outcome == SINK_AGAIN_ALL) {
        /* Everything goes back: a single release replaces the single ones. */
        int k = 0;
        for (int i = 0; i < sm->nconfirm; i++)
            if (sm->confirm[i].outcome == SINK_DONE)
                sm->confirm[k++] = sm->confirm[i];
        sm->nconfirm = k;
    } else if (sm->nconfirm == CONFIRM_MAX) {
        /* Cannot happen (at most a window's worth between takes); if it did,
         * the record is handed out again: a duplicate, never a loss. */
        outcome = SINK_AGAIN_ALL;
        id = 0;
        sm->nconfirm--;
    }
    sm->confirm[sm->nconfirm++] = (struct sink_confirm){.id = id, .outcome = outcome};
}

static int take(void *ctx, struct sink_confirm *out, int max)
{
    struct sink_mqtt *sm = ctx;
    int n = sm->nconfirm < max ? sm->nconfirm : max;

    memcpy(out, sm->confirm, sizeof(*out) * (size_t)n);
    memmove(sm->confirm, sm->confirm + n, sizeof(*out) * (size_t)(sm->nconfirm - n));
    sm->nconfirm -= n;
    return n;
}

/* ---- the client: set up, retried, never fatal ------------------------------ */

static void retry_later(struct sink_mqtt *sm)
{
    sm->setup_at_ms = mono_ms() + sm->setup_backoff_ms;
    sm->setup_backoff_ms = sm->setup_backoff_ms * 2 > SETUP_RETRY_MAX_MS ? SETUP_RETRY_MAX_MS
                                                                         : sm->setup_backoff_ms * 2;
}

/* Down for a reason someone must fix; retry: set up again after a backoff
 * (a configuration error is not: it needs a restart). */
static void setup_failed(struct sink_mqtt *sm, const char *why, bool retry)
{
    selfalarm_output_setup_failed(sm->sa, SELF_UPLINK, why, retry);
    sm->setup_at_ms = 0;
    if (retry)
        retry_later(sm);
}

/* Make the client (and, once started, start it). */
static void setup(struct sink_mqtt *sm)
{
    const struct cfg *c = sm->cfg;
    char why[UPLINK_WHY_MAX], err[256];

    if (c->mqtt.error[0] != '\0') {
        setup_failed(sm, c->mqtt.error, false);
        return;
    }
    if (filecheck_unusable(c, FILECHECK_MQTT, why, sizeof(why))) {
        setup_failed(sm, why, true);
        return;
    }
    /* The will says when its connection began: about now (see the top). */
    if (!sm->keep_since)
        sm->since_ms = wall_ms();
    sm->keep_since = false;
    sm->will_mode = sm->mode;
    snprintf(sm->will_config, sizeof(sm->will_config), "%s", c->config_hash);
    sm->changed_at_ms = 0;
    char *will = payload_will(c, sm->since_ms, sm->mode);
    if (will == NULL) {
        setup_failed(sm, "out of memory", true);
        return;
    }
    struct mqtt_opts o = {
        .nuris = c->mqtt.nuri,
        .client_id = c->id,
        .manual_reconnect = 1,
        .username = c->mqtt.username,
        .password_file = c->mqtt.password_file,
        .ca_file = c->mqtt.ca_file,
        .cert_file = c->mqtt.cert_file,
        .key_file = c->mqtt.key_file,
        .keepalive_s = c->mqtt.keepalive_s,
        .will_topic = sm->status_topic,
        .will_payload = will,
        .will_expiry_s = GWMSG_WILL_EXPIRY_S,
        /* QoS 1, retain as published: the broker would clear the retain flag
         * of what it forwards live, and a retained command published while
         * we are connected would look like an ordinary one. */
        .subscriptions = {{.filter = intake_filter(sm->in), .qos = 1, .retain_as_published = 1},
                          /* The sync: our retained alarms come back, then (one
                           * SUBSCRIBE, in order) our retained status marks their end. */
                          {.filter = sm->alarm_filter, .qos = 1, .retain_as_published = 1},
                          {.filter = sm->status_topic, .qos = 1, .retain_as_published = 1}},
        .nsubscriptions = 3,
        /* The outbox never fills the window: replies and status always fit. */
        .max_inflight = SINK_MQTT_WINDOW + DIRECT_WINDOW,
        /* Room for every retained alarm of ours at once (the sync). */
        .max_queued_messages = 64 + (c->nsensors + 1) * (ALARM_KIND_MAX + 2),
    };
    for (int i = 0; i < c->mqtt.nuri; i++)
        o.uris[i] = c->mqtt.uri[i];
    sm->mq = mqtt_new(&o, err, sizeof(err));
    free(will);
    if (sm->mq != NULL && sm->started && mqtt_start(sm->mq, err, sizeof(err)) == -1) {
        mqtt_free(sm->mq);
        sm->mq = NULL;
    }
    if (sm->mq == NULL) {
        setup_failed(sm, err, true);
        return;
    }
    if (selfalarm_output_set_up(sm->sa, SELF_UPLINK))
        log_info("mqtt: client set up again, connecting");
    /* Not connected by then: a fresh client, with the password read again. */
    sm->setup_at_ms = sm->started ? mono_ms() + RECREATE_DOWN_MS : 0;
}

/* Connected: no more retries, the next failure starts from the shortest
 * backoff. */
static void working(struct sink_mqtt *sm)
{
    selfalarm_output_working(sm->sa, SELF_UPLINK);
    sm->setup_at_ms = 0;
    sm->setup_backoff_ms = SETUP_RETRY_MIN_MS;
}

/* Every publish in flight is gone with the client or the connection. */
static void all_again(struct sink_mqtt *sm)
{
    confirm(sm, 0, SINK_AGAIN_ALL);
    sm->inflight = 0;
}

static void probe_later(struct sink_mqtt *sm)
{
    sm->probe_at_ms = mono_ms() + PROBE_MS + rand_r(&sm->probe_seed) % (PROBE_JITTER_MS + 1);
}

static void publish_status(struct sink_mqtt *sm);
static void renew(struct sink_mqtt *sm);

/* Is the will of the client out of date, and may it be renewed now (see
 * the top)? */
static bool will_renewable(struct sink_mqtt *sm, int64_t now_ms)
{
    struct mqtt_stats st;

    if (sm->changed_at_ms == 0 || now_ms < sm->changed_at_ms + WILL_RENEW_MS || sm->mq == NULL ||
        !mqtt_connected(sm->mq) || sm->inflight > 0)
        return false;
    mqtt_get_stats(sm->mq, &st);
    return st.inflight == 0;
}

static void timer(void *ctx, int64_t now_ms)
{
    struct sink_mqtt *sm = ctx;

    if (sm->probe_at_ms != 0 && now_ms >= sm->probe_at_ms) {
        sm->probe_at_ms = 0;
        int rc = sm->mq != NULL ? mqtt_reconnect(sm->mq) : 1;
        if (rc == -1)
            log_debug("mqtt: reconnect: %s", strerror(errno));
        if (rc != 1 && sm->mq != NULL && !mqtt_connected(sm->mq))
            probe_later(sm); /* under way already, or refused: look again later */
    }
    if (sm->mq != NULL && mqtt_connected(sm->mq) &&
        ((sm->status_due && now_ms >= sm->status_at_ms + STATUS_GAP_MS) ||
         now_ms >= sm->heartbeat_at_ms))
        publish_status(sm);
    if (will_renewable(sm, now_ms)) {
        log_info("mqtt: a fresh connection, so that the will says mode %s and configuration %s",
                 mode_name(sm->mode), sm->cfg->config_hash);
        sm->keep_since = true;
        renew(sm);
        return;
    }
    if (sm->setup_at_ms == 0 || now_ms < sm->setup_at_ms)
        return;
    if (sm->mq != NULL && mqtt_connected(sm->mq)) {
        sm->setup_at_ms = 0; /* works after all */
        return;
    }
    /* Nothing is in flight on a client that is not connected. */
    mqtt_free(sm->mq);
    sm->mq = NULL;
    all_again(sm);
    sync_stop(sm->sy); /* the new client's connect starts a sync */
    setup(sm);
}

static int start(void *ctx)
{
    struct sink_mqtt *sm = ctx;
    char why[256];

    sm->started = true;
    if (!selfalarm_output_wanted(sm->sa, SELF_UPLINK)) {
        log_warnx("no [mqtt] uri: alarms are kept in the outbox and not sent anywhere");
        return 0;
    }
    if (sm->mq == NULL)
        return 0; /* not set up: retried by timer() */
    if (mqtt_start(sm->mq, why, sizeof(why)) == -1) {
        mqtt_free(sm->mq);
        sm->mq = NULL;
        setup_failed(sm, why, true);
        return 0;
    }
    sm->setup_at_ms = mono_ms() + RECREATE_DOWN_MS;
    return 0;
}

/* ---- hand-out ---------------------------------------------------------------- */

static int fd(void *ctx)
{
    return sink_mqtt_fd(ctx);
}

static int64_t timeout_ms(void *ctx, int64_t now_ms, int64_t cap_ms)
{
    struct sink_mqtt *sm = ctx;
    int64_t t = cap_ms;

    if (sm->retry_at_ms > now_ms && sm->retry_at_ms - now_ms < t)
        t = sm->retry_at_ms - now_ms;
    if (sm->setup_at_ms != 0 && sm->setup_at_ms - now_ms < t)
        t = sm->setup_at_ms - now_ms;
    if (sm->probe_at_ms != 0 && sm->probe_at_ms - now_ms < t)
        t = sm->probe_at_ms - now_ms;
    /* The renewal's moment (past it, what holds it up wakes the loop itself:
     * a publish answered, a connect). */
    if (sm->changed_at_ms != 0 && sm->changed_at_ms + WILL_RENEW_MS > now_ms &&
        sm->changed_at_ms + WILL_RENEW_MS - now_ms < t)
        t = sm->changed_at_ms + WILL_RENEW_MS - now_ms;
    if (sm->mq != NULL && mqtt_connected(sm->mq)) {
        int64_t status_at = sm->status_due && sm->status_at_ms + STATUS_GAP_MS < sm->heartbeat_at_ms
                                ? sm->status_at_ms + STATUS_GAP_MS
                                : sm->heartbeat_at_ms;
        if (status_at - now_ms < t)
            t = status_at - now_ms;
    }
    return t < 0 ? 0 : t;
}

static int room(void *ctx, int64_t now_ms)
{
    struct sink_mqtt *sm = ctx;

    if (sm->mq == NULL || !mqtt_connected(sm->mq) || now_ms < sm->retry_at_ms)
        return 0;
    return SINK_MQTT_WINDOW - sm->inflight;
}

static int offer(void *ctx, const struct outbox_rec *recs, int n)
{
    struct sink_mqtt *sm = ctx;

    for (int i = 0; i < n; i++) {
        if (mqtt_publish(sm->mq, recs[i].topic, recs[i].payload, recs[i].payload_len, recs[i].qos,
                         recs[i].retained, (uint64_t)recs[i].id) == -1)
            return i; /* not connected after all: the rest go back */
        sm->inflight++;
    }
    return n;
}

static const struct sink_ops ops = SINK_OPS;

/* ---- events ------------------------------------------------------------------ */

/* The retained status now (when it cannot be, it stays due). */
static void publish_status(struct sink_mqtt *sm)
{
    struct status_info si = {.mode = sm->mode, .ts_ms = wall_ms(), .since_ms = sm->since_ms};
    int64_t now = mono_ms();

    memcpy(si.alarms, sm->alarms, sizeof(si.alarms));
    sm->status_due = true;
    sm->status_at_ms = now;
    sm->heartbeat_at_ms = now + sm->cfg->heartbeat_ms;
    char *p = payload_status(sm->cfg, &si);
    if (p == NULL)
        return;
    /* id 0: not an outbox record (never on disk); QoS 1, retained. */
    if (mqtt_publish(sm->mq, sm->status_topic, p, strlen(p), 1, 1, 0) == -1)
        log_warnx("mqtt: publish status: %s", gw_strerror(errno));
    else
        sm->status_due = false;
    free(p);
}

/* Replace the client by one whose will is this connection's (see the top):
 * the old one disconnects without its will, what it had in flight goes
 * back to the outbox. */
static void renew(struct sink_mqtt *sm)
{
    mqtt_drop_will(sm->mq);
    mqtt_free(sm->mq);
    sm->mq = NULL;
    all_again(sm);
    sync_stop(sm->sy);
    sm->renewal = true;
    setup(sm);
}

static void on_published(struct sink_mqtt *sm, const struct mqtt_event *ev)
{
    if (ev->id == 0)
        return; /* status or cmd_result */
    if (sm->inflight > 0)
        sm->inflight--;
    if (ev->id == (uint64_t)SINK_REPUB_ID)
        return; /* the current state again: a failure is redone at the next connect */
    if (ev->ok) {
        confirm(sm, (int64_t)ev->id, SINK_DONE);
        sm->published++;
        if (sm->publish_failing) {
            sm->publish_failing = false;
            log_info("mqtt: publishing again");
        }
        sm->retry_ms = RETRY_MIN_MS;
        return;
    }
    confirm(sm, (int64_t)ev->id, SINK_AGAIN);
    sm->publish_failures++;
    if (ev->reason >= 0x80) {
        /* The broker refused it (e.g. not authorized): retry with backoff, not in a loop. */
        if (!sm->publish_failing)
            log_warnx("mqtt: broker refused a publish: %s (0x%02x); retrying with backoff",
                      mqtt_reason_str(ev->reason), ev->reason);
        sm->publish_failing = true;
        sm->retry_at_ms = mono_ms() + sm->retry_ms;
        sm->retry_ms = sm->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : sm->retry_ms * 2;
    }
}

/* A connect of the client failed.  A refusal of our credentials or
 * identity needs fixing: alarm at once, and a fresh client (the password
 * read again) after a backoff; no probe meanwhile.  Anything else may pass:
 * probe again soon. */
static void connect_failed(struct sink_mqtt *sm, const struct mqtt_event *ev)
{
    static const int needs_fixing[] = {
        0x85 /* client identifier not valid */, 0x86 /* bad user name or password */,
        0x87 /* not authorized */, 0x8A /* banned */, 0x8C /* bad authentication method */};

    for (size_t i = 0; i < sizeof(needs_fixing) / sizeof(needs_fixing[0]); i++)
        if (ev->reason == needs_fixing[i]) {
            selfalarm_output_failing(sm->sa, SELF_UPLINK, ev->detail);
            retry_later(sm);
            return;
        }
    selfalarm_output_down(sm->sa, SELF_UPLINK, ev->detail);
    probe_later(sm);
}

int sink_mqtt_next_command(struct sink_mqtt *sm, struct command *cmd)
{
    struct mqtt_event ev;

    while (sm->mq != NULL && mqtt_next_event(sm->mq, &ev) == 1) {
        int got = 0;
        switch (ev.type) {
        case MQTT_EV_CONNECTED:
            if (!sm->renewal && wall_ms() - sm->since_ms >= WILL_STALE_MS) {
                log_info("mqtt: connected to %s; a fresh connection, so that the will says "
                         "since when this one is up",
                         ev.detail);
                mqtt_event_clear(&ev);
                renew(sm);
                continue;
            }
            sm->renewal = false;
            log_info("mqtt: connected to %s", ev.detail);
            sm->broker_down_logged = false;
            sm->retry_at_ms = 0;
            sm->probe_at_ms = 0;
            sync_start(sm->sy, mono_ms());
            working(sm);
            publish_status(sm);
            break;
        case MQTT_EV_CONNECT_FAILED:
            if (!sm->broker_down_logged)
                log_warnx("mqtt: connect failed: %s (retrying; alarms kept in the outbox)",
                          ev.detail);
            else
                log_debug("mqtt: connect failed: %s", ev.detail);
            sm->broker_down_logged = true;
            connect_failed(sm, &ev);
            break;
        case MQTT_EV_DISCONNECTED:
            log_warnx("mqtt: connection lost: %s (reconnecting; alarms kept in the outbox)",
                      ev.detail);
            sm->broker_down_logged = true;
            selfalarm_output_down(sm->sa, SELF_UPLINK, ev.detail);
            if (sm->setup_at_ms == 0)
                sm->setup_at_ms = mono_ms() + SELFALARM_GRACE_MS;
            probe_later(sm);
            all_again(sm); /* every publish in flight was answered (failed) before */
            sync_stop(sm->sy);
            break;
        case MQTT_EV_SUBSCRIBED:
            if (!ev.ok)
                log_warnx("mqtt: subscription to %s (and the sync's) refused: %s: commands "
                          "will not arrive",
                          intake_filter(sm->in), mqtt_reason_str(ev.reason));
            break;
        case MQTT_EV_PUBLISHED:
            on_published(sm, &ev);
            break;
        case MQTT_EV_MESSAGE:
            if (strncmp(ev.topic, sm->alarm_filter, strlen(sm->alarm_filter) - 1) == 0) {
                if (!ev.oversized)
                    sync_take(sm->sy, ev.topic, ev.payload, ev.len);
            } else if (strcmp(ev.topic, sm->status_topic) == 0) {
                sync_end(sm->sy); /* the cycle finishes it */
            } else {
                got = intake_message(sm->in, sm->mq, &ev, cmd);
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

void sink_mqtt_reply(struct sink_mqtt *sm, const struct command *cmd, bool ok, const char *error)
{
    intake_reply(sm->in, sm->mq, cmd, ok, error);
}

/* The will is out of date when the mode or the configuration differs from
 * what it says: renewed later (timer()). */
static void will_check(struct sink_mqtt *sm)
{
    bool stale = sm->mq != NULL &&
                 (sm->will_mode != sm->mode || strcmp(sm->will_config, sm->cfg->config_hash) != 0);
    if (!stale)
        sm->changed_at_ms = 0;
    else if (sm->changed_at_ms == 0)
        sm->changed_at_ms = mono_ms();
}

void sink_mqtt_set_mode(struct sink_mqtt *sm, enum gw_mode mode)
{
    sm->mode = mode;
    will_check(sm);
    if (sm->mq != NULL && mqtt_connected(sm->mq))
        publish_status(sm);
}

void sink_mqtt_set_cfg(struct sink_mqtt *sm, const struct cfg *c)
{
    sm->cfg = c;
    will_check(sm);
    if (sm->mq != NULL && mqtt_connected(sm->mq))
        publish_status(sm); /* the name, the hash, the heartbeat may have changed */
}

void sink_mqtt_set_alarms(struct sink_mqtt *sm, const int counts[GWMSG_SEVERITIES])
{
    if (memcmp(sm->alarms, counts, sizeof(sm->alarms)) == 0)
        return;
    memcpy(sm->alarms, counts, sizeof(sm->alarms));
    sm->status_due = true;
}

bool sink_mqtt_connected(const struct sink_mqtt *sm)
{
    return sm->mq != NULL && mqtt_connected(sm->mq);
}

int sink_mqtt_inflight(const struct sink_mqtt *sm)
{
    return sm->inflight;
}

int sink_mqtt_fd(const struct sink_mqtt *sm)
{
    return sm->mq != NULL ? mqtt_fd(sm->mq) : -1;
}

void sink_mqtt_stats(const struct sink_mqtt *sm, uint64_t *published, uint64_t *failures)
{
    *published = sm->published;
    *failures = sm->publish_failures;
}

struct sink *sink_mqtt_sink(struct sink_mqtt *sm)
{
    return &sm->sink;
}

/* ---- life -------------------------------------------------------------------- */

struct sink_mqtt *sink_mqtt_new(const struct cfg *c, struct selfalarm *sa, struct sync *sy,
                                enum gw_mode mode)
{
    struct sink_mqtt *sm = calloc(1, sizeof(*sm));
    char base[TOPIC_BASE_SIZE];

    if (sm == NULL)
        return NULL;
    sm->in = intake_new(c);
    if (sm->in == NULL || payload_topic_base(c, base, sizeof(base)) == -1 ||
        topic_join(sm->status_topic, sizeof(sm->status_topic), base, "status", NULL) == -1 ||
        topic_join(sm->alarm_filter, sizeof(sm->alarm_filter), base, "alarm", "#", NULL) == -1) {
        intake_free(sm->in);
        free(sm);
        return NULL;
    }
    sm->sink = (struct sink){.name = "mqtt",
                             .id = SINK_MQTT,
                             .batch = SINK_MQTT_WINDOW,
                             .ops = &ops,
                             .ctx = sm,
                             .sync = sy};
    sm->cfg = c;
    sm->sa = sa;
    sm->sy = sy;
    sm->mode = mode;
    sm->retry_ms = RETRY_MIN_MS;
    sm->probe_seed = (unsigned)wall_ms() ^ (unsigned)getpid() << 16;
    sm->setup_backoff_ms = SETUP_RETRY_MIN_MS;
    if (selfalarm_output_wanted(sa, SELF_UPLINK))
        setup(sm);
    return sm;
}

void sink_mqtt_free(struct sink_mqtt *sm)
{
    if (sm == NULL)
        return;
    mqtt_free(sm->mq);
    intake_free(sm->in);
    free(sm);
}
