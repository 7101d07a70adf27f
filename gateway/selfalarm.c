/*
 * selfalarm: see selfalarm.h.
 *
 * One table holds what differs between the gateway's own alarms (name,
 * severity, texts, where the state at the last stop is kept), so one
 * function builds and commits every one of them.
 *
 * Invariants:
 * - An output alarm's state is stored (outbox meta) before the commit that
 *   raises it and after the commit that clears it, so a crash in between
 *   costs a duplicate, never an alarm left raised for ever at the centre.
 * - gateway/disk is cleared only by a commit that succeeded after it was
 *   raised (never while the outbox lives in memory: nothing is durable).
 */
#include "selfalarm.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarmdef.h"
#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "payload.h"
#include "points.h"
#include "sink.h"
#include "uplink.h"
#include "topic.h"

#define LINE_MAX 2048 /* one line-protocol point */

/* clang-format off */
static const struct {
    const char *alarm, *severity;
    const char *output;   /* the output's name in log lines; NULL: disk */
    const char *meta;     /* outbox meta key: the alarm's state at the last stop */
    const char *at_start; /* why the output is down before it first works */
    const char *zh_raised, *en_raised, *zh_cleared, *en_cleared;
} self[SELF_COUNT] = {
    [SELF_DISK]   = {"disk", "critical", NULL, NULL, NULL,
                     "网关存储故障：", "gateway storage failing: ",
                     "网关存储已恢复", "gateway storage recovered"},
    [SELF_UPLINK] = {"uplink", "critical", "mqtt", "alarm_uplink", "not connected yet",
                     "网关上行（MQTT）故障：", "gateway uplink (MQTT) failing: ",
                     "网关上行（MQTT）已恢复", "gateway uplink (MQTT) restored"},
    [SELF_INFLUX] = {"influx", "major", "influx", "alarm_influx", "nothing written yet",
                     "InfluxDB 写入故障：", "InfluxDB output failing: ",
                     "InfluxDB 写入已恢复", "InfluxDB output restored"},
};
/* clang-format on */

struct output {
    bool wanted;                 /* configured (its section present) */
    struct uplink_watch watch;   /* when its alarm is due */
    char logged[UPLINK_WHY_MAX]; /* the setup failure last logged, "" when none */
};

struct selfalarm {
    const struct cfg *cfg;
    struct outbox *ob;
    char base[TOPIC_BASE_SIZE];
    enum gw_mode mode;
    bool disk_raised;
    bool memory_only;
    struct output out[SELF_COUNT]; /* SELF_UPLINK, SELF_INFLUX */
};

int selfalarm_commit(struct selfalarm *sa, const struct alarm_msg *m, const char *what)
{
    char topic[TOPIC_SIZE], line[LINE_MAX];
    char *payload = payload_alarm(sa->cfg, m);
    int rc;

    if (payload == NULL) {
        log_err("ALARM %s %s %s could not be queued for delivery: out of memory", what, m->sensor,
                m->alarm);
        return -1;
    }
    if (topic_join(topic, sizeof(topic), sa->base, "alarm", m->sensor, m->alarm, NULL) == -1)
        assert(!"a base and two names fit TOPIC_SIZE");
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
    struct points_site site = payload_site(sa->cfg);
    int n = sa->out[SELF_INFLUX].wanted ? points_alarm(&site, m, line, sizeof(line)) : -1;
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
    rc = outbox_commit(sa->ob, &cy) == -1 ? -1 : 0; /* -1: not taken (ENOMEM) */
    if (rc == -1)
        log_err("ALARM %s %s %s could not be queued for delivery: %s", what, m->sensor, m->alarm,
                strerror(errno));
    free(payload);
    return rc;
}

static void store_state(struct selfalarm *sa, enum selfalarm_id a, const char *state)
{
    if (self[a].meta != NULL && outbox_meta_set(sa->ob, self[a].meta, state) == -1)
        log_warnx("outbox: cannot store the state of alarm gateway/%s: %s", self[a].alarm,
                  outbox_errmsg(sa->ob));
}

/* Raise or clear gateway alarm a now.  -1: not taken (out of memory). */
static int raise_or_clear(struct selfalarm *sa, enum selfalarm_id a, bool raised, const char *why)
{
    char text[UPLINK_WHY_MAX + 64];
    const bool zh = sa->cfg->language == LANG_ZH;

    snprintf(text, sizeof(text), "%s%s",
             raised ? (zh ? self[a].zh_raised : self[a].en_raised)
                    : (zh ? self[a].zh_cleared : self[a].en_cleared),
             raised ? why : "");
    if (raised)
        store_state(sa, a, "raised");
    struct alarm_msg m = {.seq = outbox_next_seq(sa->ob),
                          .ts_ms = wall_ms(),
                          .sensor = "gateway",
                          .kind = "gateway",
                          .location = "",
                          .alarm = self[a].alarm,
                          .event = raised ? "raised" : "cleared",
                          .active = raised,
                          .severity = self[a].severity,
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .mode = sa->mode,
                          .message = text,
                          .by = ""};
    if (selfalarm_commit(sa, &m, m.event) == -1)
        return -1;
    if (!raised)
        store_state(sa, a, "cleared");
    return 0;
}

/* ---- disk ------------------------------------------------------------------ */

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

void selfalarm_disk_open(struct selfalarm *sa, const char *problem)
{
    bool active = false;

    if (problem[0] != '\0') {
        /* The outbox was replaced, or the disk lost what it had reported
         * written: raised with the reason, cleared by the first commit that
         * succeeds (as after a full disk). */
        selfalarm_disk(sa, true, problem);
        return;
    }
    if (outbox_current(sa->ob, find_disk_alarm, &active) == -1)
        log_warnx("outbox: cannot read the current alarm state: %s", outbox_errmsg(sa->ob));
    if (active) {
        /* The last run left gateway/disk raised; this one finds a healthy
         * disk: without this the centre would show it raised for ever. */
        log_info("outbox: the disk is healthy again: clearing gateway/disk");
        raise_or_clear(sa, SELF_DISK, false, "");
    }
}

void selfalarm_disk(struct selfalarm *sa, bool raised, const char *why)
{
    sa->disk_raised = raised;
    raise_or_clear(sa, SELF_DISK, raised, why);
}

void selfalarm_disk_commit(struct selfalarm *sa, int rc)
{
    if (rc == OUTBOX_DISK_FAILED && !sa->disk_raised) {
        log_err("outbox: disk failing: %s (alarms kept in memory; telemetry dropped)",
                outbox_errmsg(sa->ob));
        selfalarm_disk(sa, true, outbox_errmsg(sa->ob));
    } else if (rc != OUTBOX_DISK_FAILED && sa->disk_raised && !sa->memory_only) {
        log_warnx("outbox: disk writable again");
        selfalarm_disk(sa, false, "");
    }
}

void selfalarm_active_by_severity(const struct selfalarm *sa, int counts[4])
{
    for (int i = 0; i < SELF_COUNT; i++) {
        bool raised = i == SELF_DISK ? sa->disk_raised : sa->out[i].watch.raised;
        enum alarm_severity sev;
        if (raised && alarm_severity_from_name(self[i].severity, &sev) == 0 && (unsigned)sev < 4)
            counts[sev]++;
    }
}

bool selfalarm_disk_raised(const struct selfalarm *sa)
{
    return sa->disk_raised;
}

/* ---- the outputs ----------------------------------------------------------- */

/* Start output o's watch: down until it first works, raised as stored. */
static void output_init(struct selfalarm *sa, enum selfalarm_id o, bool wanted)
{
    char stored[16] = "";
    struct output *out = &sa->out[o];

    out->wanted = wanted;
    if (outbox_meta_get(sa->ob, self[o].meta, stored, sizeof(stored)) != 1)
        stored[0] = '\0';
    uplink_init(&out->watch, strcmp(stored, "raised") == 0, mono_ms(), self[o].at_start);
    if (!wanted)
        uplink_working(&out->watch); /* not configured: nothing to raise (clears a stored one) */
}

bool selfalarm_output_wanted(const struct selfalarm *sa, enum selfalarm_id o)
{
    return sa->out[o].wanted;
}

void selfalarm_output_working(struct selfalarm *sa, enum selfalarm_id o)
{
    uplink_working(&sa->out[o].watch);
}

void selfalarm_output_down(struct selfalarm *sa, enum selfalarm_id o, const char *why)
{
    uplink_down(&sa->out[o].watch, mono_ms(), why);
}

void selfalarm_output_failing(struct selfalarm *sa, enum selfalarm_id o, const char *why)
{
    uplink_failing(&sa->out[o].watch, mono_ms(), why);
}

void selfalarm_output_setup_failed(struct selfalarm *sa, enum selfalarm_id o, const char *why,
                                   bool retry)
{
    struct output *out = &sa->out[o];

    uplink_failing(&out->watch, mono_ms(), why);
    if (strcmp(out->logged, why) != 0) {
        log_warnx("%s: not working: %s; %s (local polling and alarms go on)", self[o].output, why,
                  retry ? "trying again" : "fix the configuration and restart");
        snprintf(out->logged, sizeof(out->logged), "%s", why);
    }
}

bool selfalarm_output_set_up(struct selfalarm *sa, enum selfalarm_id o)
{
    bool was = sa->out[o].logged[0] != '\0';
    sa->out[o].logged[0] = '\0';
    return was;
}

void selfalarm_tick(struct selfalarm *sa)
{
    int64_t now = mono_ms();
    char why[UPLINK_WHY_MAX];

    for (int o = SELF_UPLINK; o < SELF_COUNT; o++) {
        int due = uplink_due(&sa->out[o].watch, now, SELFALARM_GRACE_MS, why, sizeof(why));
        if (due != -1 && raise_or_clear(sa, (enum selfalarm_id)o, due == 1, why) == -1)
            sa->out[o].watch.raised = due != 1; /* not taken (out of memory): due again */
    }
}

int64_t selfalarm_next_ms(const struct selfalarm *sa, int64_t now_ms, int64_t cap_ms)
{
    int64_t t = cap_ms;
    for (int o = SELF_UPLINK; o < SELF_COUNT; o++) {
        int64_t left = uplink_next_ms(&sa->out[o].watch, now_ms, SELFALARM_GRACE_MS, t);
        if (left < t)
            t = left;
    }
    return t;
}

/* ---- life ------------------------------------------------------------------ */

struct selfalarm *selfalarm_new(const struct cfg *c, struct outbox *ob, enum gw_mode mode,
                                bool memory_only)
{
    struct selfalarm *sa = calloc(1, sizeof(*sa));

    if (sa == NULL)
        return NULL;
    if (payload_topic_base(c, sa->base, sizeof(sa->base)) == -1) {
        free(sa);
        errno = ENOSPC;
        return NULL;
    }
    sa->cfg = c;
    sa->ob = ob;
    sa->mode = mode;
    sa->memory_only = memory_only;
    output_init(sa, SELF_UPLINK, c->mqtt.nuri > 0 || c->mqtt.error[0] != '\0');
    output_init(sa, SELF_INFLUX, c->influx.enabled);
    return sa;
}

void selfalarm_free(struct selfalarm *sa)
{
    free(sa);
}

void selfalarm_set_cfg(struct selfalarm *sa, const struct cfg *c)
{
    sa->cfg = c;
}

void selfalarm_set_mode(struct selfalarm *sa, enum gw_mode mode)
{
    sa->mode = mode;
}
