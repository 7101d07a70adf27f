/*
 * points: see points.h.  Field names are the reading payload's (docs/design.md section 10:
 * "the same names are the InfluxDB fields"); a door's contacts object
 * becomes contact_closed / contact_locked / contact_open booleans, since
 * line protocol has no objects.
 */
#include "points.h"

#include <errno.h>
#include <math.h>

#include "cfg.h"
#include "lineproto.h"
#include "payload.h"

#define SITE_TAGS 7
#define MAX_FIELDS 12

static void site_tags(const struct cfg *c, const char *sensor, struct lp_tag *t)
{
    t[0] = (struct lp_tag){"city", c->city};
    t[1] = (struct lp_tag){"district", c->district};
    t[2] = (struct lp_tag){"street", c->street};
    t[3] = (struct lp_tag){"community", c->community};
    t[4] = (struct lp_tag){"property", c->property};
    t[5] = (struct lp_tag){"shelter", c->id};
    t[6] = (struct lp_tag){"sensor", sensor};
}

static int encode(const char *measurement, const struct lp_tag *tags, size_t ntags,
                  const struct lp_field *fields, size_t nfields, int64_t ts_ms, char *buf,
                  size_t len)
{
    struct lp_point pt = {measurement, tags, ntags, fields, nfields, ts_ms};
    ssize_t n = lp_encode(buf, len, &pt);
    return n < 0 ? -1 : (int)n;
}

int points_reading(const struct cfg *c, const struct reading *r, char *buf, size_t len)
{
    struct lp_tag tags[SITE_TAGS];
    struct lp_field f[MAX_FIELDS];
    size_t n = 0;

    if ((unsigned)r->kind >= KIND_COUNT) {
        errno = EINVAL;
        return -1;
    }
    site_tags(c, c->sensors[r->sensor].name, tags);
    f[n++] = lp_str("quality", quality_name(r->quality));
    if (r->quality != Q_COMM_LOST && !r->no_value) {
        switch (r->kind) {
        case KIND_WATER_LEVEL:
            f[n++] = lp_float("level_m", r->v.water_level.level_m);
            f[n++] = lp_float("level_pct", r->v.water_level.level_pct);
            break;
        case KIND_WATER_LEAK:
            f[n++] = lp_bool("wet", r->v.water_leak.wet);
            break;
        case KIND_CO2:
            f[n++] = lp_float("co2_ppm", r->v.co2.co2_ppm);
            f[n++] = lp_bool("over_range", r->v.co2.over_range);
            break;
        case KIND_BLAST_DOOR: {
            unsigned ct = r->v.blast_door.contacts, present = r->v.blast_door.contacts_present;
            f[n++] = lp_str("door", door_state_name(r->v.blast_door.door));
            f[n++] = lp_bool("contact_closed", ct & CONTACT_CLOSED);
            f[n++] = lp_bool("contact_locked", ct & CONTACT_LOCKED);
            if (present & CONTACT_OPEN)
                f[n++] = lp_bool("contact_open", ct & CONTACT_OPEN);
            break;
        }
        case KIND_SMOKE:
            f[n++] = lp_str("smoke", smoke_state_name(r->v.smoke.smoke));
            break;
        default:
            break;
        }
    }
    return encode(kind_name(r->kind), tags, SITE_TAGS, f, n, r->ts_ms, buf, len);
}

/* kind and event are tags (docs/design.md section 15): InfluxDB keeps one point per
 * measurement, tag set and timestamp, and two transitions of one alarm can
 * share a millisecond (a latched fire acknowledged after the smoke went:
 * acknowledged and cleared at once); the event tag keeps them two points. */
int points_alarm(const struct cfg *c, const struct alarm_msg *m, char *buf, size_t len)
{
    struct lp_tag tags[SITE_TAGS + 4];
    struct lp_field f[MAX_FIELDS];
    size_t n = 0;

    site_tags(c, m->sensor, tags);
    tags[SITE_TAGS] = (struct lp_tag){"alarm", m->alarm};
    tags[SITE_TAGS + 1] = (struct lp_tag){"severity", m->severity};
    tags[SITE_TAGS + 2] = (struct lp_tag){"kind", m->kind};
    tags[SITE_TAGS + 3] = (struct lp_tag){"event", m->event};
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
    return encode("alarm", tags, SITE_TAGS + 4, f, n, m->ts_ms, buf, len);
}

int points_health(const struct cfg *c, const struct health *h, char *buf, size_t len)
{
    struct lp_tag tags[SITE_TAGS];
    site_tags(c, "gateway", tags);
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
    return encode("gateway", tags, SITE_TAGS, f, sizeof(f) / sizeof(f[0]), h->ts_ms, buf, len);
}

int door_travel_update(struct door_travel *t, const struct reading *r, const char **movement,
                       double *travel_s)
{
    unsigned now = r->v.blast_door.contacts, was = t->contacts;
    unsigned made = now & ~was, released = was & ~now;
    int64_t ts = r->ts_ms, since = 0;
    int done = 0;

    if (r->kind != KIND_BLAST_DOOR || r->quality != Q_GOOD || r->no_value)
        return 0;
    if (!t->have) {
        /* Nothing is known of a movement already under way at start. */
        *t = (struct door_travel){.have = true, .contacts = now};
        return 0;
    }
    if (released & CONTACT_OPEN)
        t->left_open_ms = ts;
    if (released & CONTACT_CLOSED)
        t->left_closed_ms = ts;
    if ((made & CONTACT_CLOSED) && t->left_open_ms > 0) {
        *movement = "close";
        since = t->left_open_ms;
        done = 1;
    } else if ((made & CONTACT_LOCKED) && (now & CONTACT_CLOSED) && t->closed_at_ms > 0) {
        *movement = "lock";
        since = t->closed_at_ms;
        done = 1;
    } else if ((made & CONTACT_OPEN) && t->left_closed_ms > 0) {
        *movement = "open";
        since = t->left_closed_ms;
        done = 1;
    }
    if (made & CONTACT_CLOSED)
        t->closed_at_ms = ts;
    if (done) {
        *travel_s = (double)(ts - since) / 1000.0;
        if (*movement[0] == 'c')
            t->left_open_ms = 0;
        else if (*movement[0] == 'l')
            t->closed_at_ms = 0;
        else
            t->left_closed_ms = 0;
    }
    t->contacts = now;
    return done;
}

int points_door_movement(const struct cfg *c, int sensor, const char *movement, double travel_s,
                         int64_t ts_ms, char *buf, size_t len)
{
    struct lp_tag tags[SITE_TAGS];
    site_tags(c, c->sensors[sensor].name, tags);
    struct lp_field f[] = {lp_str("movement", movement), lp_float("travel_s", travel_s)};
    return encode("blast_door", tags, SITE_TAGS, f, 2, ts_ms, buf, len);
}
