/*
 * points: see points.h.  A reading's fields come from its kind's table
 * (kind.h), whose InfluxDB names are the reading payload's (docs/design.md
 * section 10: "the same names are the InfluxDB fields"); a door's contacts
 * object becomes contact_closed / contact_locked / contact_open booleans,
 * since line protocol has no objects.
 */
#include "points.h"

#include <errno.h>
#include <math.h>

#include "lineproto.h"

#define MAX_FIELDS 12

const char *const points_alarm_tag_keys[4] = {"alarm", "severity", "kind", "event"};

static void site_tags(const struct points_site *site, const char *sensor, struct lp_tag *t)
{
    for (int i = 0; i < TOPIC_LEVELS; i++)
        t[i] = (struct lp_tag){topic_site_keys[i], site->level[i]};
    t[TOPIC_LEVELS] = (struct lp_tag){POINTS_SENSOR_TAG, sensor};
}

static int encode(const char *measurement, const struct lp_tag *tags, size_t ntags,
                  const struct lp_field *fields, size_t nfields, int64_t ts_ms, char *buf,
                  size_t len)
{
    struct lp_point pt = {measurement, tags, ntags, fields, nfields, ts_ms};
    ssize_t n = lp_encode(buf, len, &pt);
    return n < 0 ? -1 : (int)n;
}

static struct lp_field lp_of(const struct reading *r, const struct kind_field *f)
{
    switch (f->type) {
    case FIELD_NUMBER:
        return lp_float(f->influx, kind_number(r, f)); /* NaN, inf: left out */
    case FIELD_BOOL:
    case FIELD_CONTACT:
        return lp_bool(f->influx, kind_state(r, f) != 0);
    case FIELD_STATE:
        break;
    }
    int st = kind_state(r, f);
    return lp_str(f->influx, st >= 0 && st < f->nstates ? f->states[st] : "?");
}

int points_reading(const struct points_site *site, const char *sensor, const struct reading *r,
                   char *buf, size_t len)
{
    const struct kind_def *kd = kind_def(r->kind);
    struct lp_tag tags[POINTS_SITE_TAGS];
    struct lp_field f[MAX_FIELDS];
    size_t n = 0;

    if (kd == NULL) {
        errno = EINVAL;
        return -1;
    }
    site_tags(site, sensor, tags);
    f[n++] = lp_str("quality", quality_name(r->quality));
    for (int i = 0; r->quality != Q_COMM_LOST && !r->no_value && i < kd->nfields; i++) {
        const struct kind_field *kf = &kd->fields[i];
        if (kf->influx != NULL && kind_field_present(r, kf) && n < MAX_FIELDS)
            f[n++] = lp_of(r, kf);
    }
    return encode(kd->name, tags, POINTS_SITE_TAGS, f, n, r->ts_ms, buf, len);
}

/* kind and event are tags (docs/design.md section 15): InfluxDB keeps one point per
 * measurement, tag set and timestamp, and two transitions of one alarm can
 * share a millisecond (a latched fire acknowledged after the smoke went:
 * acknowledged and cleared at once); the event tag keeps them two points. */
int points_alarm(const struct points_site *site, const struct alarm_msg *m, char *buf, size_t len)
{
    struct lp_tag tags[POINTS_SITE_TAGS + 4];
    struct lp_field f[MAX_FIELDS];
    size_t n = 0;

    site_tags(site, m->sensor, tags);
    tags[POINTS_SITE_TAGS] = (struct lp_tag){points_alarm_tag_keys[0], m->alarm};
    tags[POINTS_SITE_TAGS + 1] = (struct lp_tag){points_alarm_tag_keys[1], m->severity};
    tags[POINTS_SITE_TAGS + 2] = (struct lp_tag){points_alarm_tag_keys[2], m->kind};
    tags[POINTS_SITE_TAGS + 3] = (struct lp_tag){points_alarm_tag_keys[3], m->event};
    f[n++] = lp_int("seq", (int64_t)m->seq);
    f[n++] = lp_bool("active", m->active);
    f[n++] = lp_bool("acked", m->acked);
    f[n++] = lp_str("mode", mode_name(m->mode));
    f[n++] = lp_float("value", m->value); /* NaN: omitted */
    f[n++] = lp_float("threshold", m->threshold);
    f[n++] = lp_str("unit", m->unit != NULL ? m->unit : "");
    f[n++] = lp_str("message", m->message != NULL ? m->message : "");
    if (m->by != NULL && m->by[0] != '\0')
        f[n++] = lp_str("by", m->by);
    return encode(POINTS_ALARM, tags, POINTS_SITE_TAGS + 4, f, n, m->ts_ms, buf, len);
}

int points_health(const struct points_site *site, const struct health *h, char *buf, size_t len)
{
    struct lp_tag tags[POINTS_SITE_TAGS];
    site_tags(site, "gateway", tags);
    struct lp_field f[] = {
        lp_int("uptime_s", h->uptime_s),
        lp_int("polls", (int64_t)h->polls),
        lp_int("poll_failures", (int64_t)h->poll_failures),
        lp_int("queue_depth", h->queue_depth),
        lp_bool("broker_connected", h->broker_connected),
        lp_int("pending_alarms", h->pending_alarms),
        lp_int("pending_telemetry", h->pending_telemetry),
        lp_int("telemetry_dropped", h->telemetry_dropped),
        lp_int("active_alarms", h->active_alarms),
    };
    return encode(POINTS_GATEWAY, tags, POINTS_SITE_TAGS, f, sizeof(f) / sizeof(f[0]), h->ts_ms,
                  buf, len);
}

int points_door_movement(const struct points_site *site, const char *sensor, const char *movement,
                         double travel_s, int64_t ts_ms, char *buf, size_t len)
{
    struct lp_tag tags[POINTS_SITE_TAGS];
    site_tags(site, sensor, tags);
    struct lp_field f[] = {lp_str("movement", movement), lp_float("travel_s", travel_s)};
    return encode(kind_name(KIND_BLAST_DOOR), tags, POINTS_SITE_TAGS, f, 2, ts_ms, buf, len);
}

int points_output(const struct points_site *site, const char *output, bool on, const char *quality,
                  int nreasons, int64_t ts_ms, char *buf, size_t len)
{
    struct lp_tag tags[POINTS_SITE_TAGS];
    site_tags(site, output, tags);
    tags[POINTS_SITE_TAGS - 1].key = "output"; /* in place of sensor */
    struct lp_field f[] = {lp_bool("on", on), lp_str("quality", quality),
                           lp_int("reasons", nreasons)};
    return encode("output", tags, POINTS_SITE_TAGS, f, 3, ts_ms, buf, len);
}
