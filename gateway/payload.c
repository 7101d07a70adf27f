/*
 * payload: see payload.h.  Built with cJSON so every string is escaped by
 * one well-tested encoder; numbers that are not finite become null, never
 * NaN (which is not JSON).
 */
#include "payload.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "topic.h"

/* The site's levels in topic order (enum topic_level). */
static void site_levels(const struct cfg *c, const char *level[TOPIC_LEVELS])
{
    level[TOPIC_CITY] = c->city;
    level[TOPIC_DISTRICT] = c->district;
    level[TOPIC_STREET] = c->street;
    level[TOPIC_COMMUNITY] = c->community;
    level[TOPIC_PROPERTY] = c->property;
    level[TOPIC_ID] = c->id;
}

int payload_topic_base(const struct cfg *c, char *buf, size_t len)
{
    const char *level[TOPIC_LEVELS];

    site_levels(c, level);
    return topic_base(buf, len, c->mqtt.topic_prefix, level);
}

struct points_site payload_site(const struct cfg *c)
{
    struct points_site site;

    site_levels(c, site.level);
    return site;
}

void alarm_msg_from_event(const struct cfg *c, const struct alarm_event *ev, uint64_t seq,
                          char *text, size_t len, struct alarm_msg *m)
{
    const struct cfg_sensor *s = &c->sensors[ev->sensor];
    alarm_msg_from(ev, c->language, s->name, s->def.kind, s->location, seq, text, len, m);
}

void alarm_msg_from_orphan(const struct cfg *c, const struct alarm_orphan *o, uint64_t seq,
                           char *text, size_t len, struct alarm_msg *m)
{
    alarm_msg_from(&o->ev, c->language, o->sensor, o->kind, "", seq, text, len, m);
}

static cJSON *number_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static char *print_and_free(cJSON *o)
{
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL)
        errno = ENOMEM;
    return text;
}

char *payload_alarm(const struct cfg *c, const struct alarm_msg *m)
{
    char ts[40], until[40];
    cJSON *o = cJSON_CreateObject(), *site;

    if (o == NULL)
        return NULL;
    format_rfc3339_ms(m->ts_ms, ts, sizeof(ts));
    /* seq as a number: below 2^53 it is exact in every JSON reader. */
    cJSON_AddNumberToObject(o, "seq", (double)m->seq);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "gateway", c->id);
    site = cJSON_AddObjectToObject(o, "site");
    if (site != NULL) {
        const char *level[TOPIC_LEVELS];
        site_levels(c, level);
        for (int i = 0; i < TOPIC_LEVELS; i++)
            cJSON_AddStringToObject(site, topic_site_keys[i], level[i]);
        cJSON_AddStringToObject(site, "name", c->name);
    }
    cJSON_AddStringToObject(o, "sensor", m->sensor);
    cJSON_AddStringToObject(o, "kind", m->kind);
    cJSON_AddStringToObject(o, "location", m->location != NULL ? m->location : "");
    cJSON_AddStringToObject(o, "alarm", m->alarm);
    cJSON_AddStringToObject(o, "event", m->event);
    cJSON_AddBoolToObject(o, "active", m->active);
    cJSON_AddBoolToObject(o, "acked", m->acked);
    cJSON_AddStringToObject(o, "severity", m->severity);
    cJSON_AddItemToObject(o, "value", number_or_null(m->value));
    cJSON_AddStringToObject(o, "unit", m->unit != NULL ? m->unit : "");
    cJSON_AddItemToObject(o, "threshold", number_or_null(m->threshold));
    cJSON_AddStringToObject(o, "mode", mode_name(m->mode));
    cJSON_AddStringToObject(o, "message", m->message != NULL ? m->message : "");
    if (m->by != NULL && m->by[0] != '\0')
        cJSON_AddStringToObject(o, "by", m->by);
    if (m->until_ms > 0) {
        format_rfc3339_ms(m->until_ms, until, sizeof(until));
        cJSON_AddStringToObject(o, "until", until);
    }
    if (m->reason != NULL)
        cJSON_AddStringToObject(o, "reason", m->reason);
    return print_and_free(o);
}

/* The fields every status has, the will included. */
static void status_common(cJSON *o, const struct cfg *c, bool online, int64_t since_ms)
{
    char since[40];

    format_rfc3339_ms(since_ms, since, sizeof(since));
    cJSON_AddBoolToObject(o, "online", online);
    cJSON_AddStringToObject(o, "since", since);
    cJSON_AddStringToObject(o, "gateway", c->id);
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON_AddStringToObject(o, "version", GW_VERSION);
}

char *payload_status(const struct cfg *c, const struct status_info *si)
{
    char ts[40];
    cJSON *o = cJSON_CreateObject(), *alarms;

    if (o == NULL)
        return NULL;
    format_rfc3339_ms(si->ts_ms, ts, sizeof(ts));
    status_common(o, c, true, si->since_ms);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "mode", mode_name(si->mode));
    cJSON_AddStringToObject(o, "config", c->config_hash);
    cJSON_AddNumberToObject(o, "sensors", c->nsensors);
    alarms = cJSON_AddObjectToObject(o, "alarms");
    for (int i = 0; alarms != NULL && i < GWMSG_SEVERITIES; i++)
        cJSON_AddNumberToObject(alarms, alarm_severity_name((enum alarm_severity)i), si->alarms[i]);
    cJSON_AddNumberToObject(o, "heartbeat_s", c->heartbeat_ms / 1000);
    return print_and_free(o);
}

char *payload_will(const struct cfg *c, int64_t since_ms, enum gw_mode mode)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    status_common(o, c, false, since_ms);
    cJSON_AddStringToObject(o, "mode", mode_name(mode));
    cJSON_AddStringToObject(o, "config", c->config_hash);
    return print_and_free(o);
}

char *payload_cmd_result(const char *id, const char *verb, bool ok, const char *error,
                         int64_t ts_ms)
{
    char ts[40];
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    format_rfc3339_ms(ts_ms, ts, sizeof(ts));
    cJSON_AddItemToObject(o, "id", id != NULL ? cJSON_CreateString(id) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "verb", verb != NULL ? verb : "");
    cJSON_AddBoolToObject(o, "ok", ok);
    if (!ok)
        cJSON_AddStringToObject(o, "error", error != NULL ? error : "error");
    cJSON_AddStringToObject(o, "ts", ts);
    return print_and_free(o);
}
