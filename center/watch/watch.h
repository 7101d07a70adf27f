/*
 * watch: the pure part of shelter-watch, the tool of the people who receive
 * alarms (docs/design.md sections 5.2, 10).  Topic classification, alarm and status payload
 * parsing with the identity taken from the topic, duplicate detection by
 * (gateway, seq), the readable zh/en lines,
 * and the ack command.  No I/O, no clock reads: the caller passes the time.
 * Any thread, but an object (watch_seen, watch_gateways) belongs to one.
 */
#ifndef GW_WATCH_H
#define GW_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mode.h"

#define WATCH_TEXT_MAX 64 /* sensor, alarm, by, id: bytes, NUL excluded (CMD_TEXT_MAX) */

/* ---- topics ---- */

enum watch_topic {
    WATCH_TOPIC_OTHER,      /* not a gateway topic of the v1 contract: ignored */
    WATCH_TOPIC_ALARM,      /* {base}/alarm/{sensor}/{alarm} */
    WATCH_TOPIC_STATUS,     /* {base}/status */
    WATCH_TOPIC_READING,    /* {base}/reading/{sensor}: ignored by the watcher */
    WATCH_TOPIC_CMD,        /* {base}/cmd/{verb} */
    WATCH_TOPIC_CMD_RESULT, /* {base}/cmd_result */
};

/* What topic is, judged from its last levels; base (len bytes) receives the
 * gateway's topic base ("" for OTHER, or when it does not fit). */
enum watch_topic watch_topic_parse(const char *topic, char *base, size_t len);

/* For `shelter-watch ack`: split an alarm topic {base}/alarm/{sensor}/{alarm}
 * (no wildcards) into base, sensor and alarm (each buffer at least
 * WATCH_TEXT_MAX + 1 for sensor and alarm).  0, or -1 with a reason in err. */
int watch_ack_target(const char *alarm_topic, char *base, size_t baselen, char *sensor, char *alarm,
                     char *err, size_t errlen);

/* The cmd/ack payload {"id":...,"sensor":...,"alarm":...,"by":...}: malloc'd
 * (caller frees), NULL on ENOMEM. */
char *watch_ack_payload(const char *id, const char *sensor, const char *alarm, const char *by);

/* A cmd_result payload: 1 when it answers `id` (ok and, on error, the
 * reason in error), 0 when it answers another id, -1 when it is not a
 * cmd_result object. */
int watch_cmd_result(const void *payload, size_t len, const char *id, bool *ok, char *error,
                     size_t errlen);

/* ---- alarm payloads ---- */

/* An alarm payload of docs/design.md section 10.  The strings point into `json` and `ident`,
 * which the struct owns until watch_alarm_release() (a copy of the struct
 * takes them over); absent optional strings are "". */
struct watch_alarm {
    void *json;  /* cJSON tree */
    char *ident; /* watch_alarm_parse_message: the topic's identity levels */
    uint64_t seq;
    int64_t ts_ms;    /* detection time, wall clock; 0 if absent or unreadable */
    const char *base; /* the gateway's topic base (its identity); "" from watch_alarm_parse */
    const char *gateway, *sensor, *kind, *location, *alarm, *event, *severity;
    const char *unit, *message, *by;
    const char *reason;    /* "sensor_removed" on a withdrawal; "" if absent */
    const char *site_name; /* site.name: the display name, the one thing the topic does not say */
    const char *city, *district, *street, *community, *property; /* site.city, ... */
    bool active, acked;
    double value, threshold; /* NAN when null or absent */
    int64_t until_ms;        /* inhibit: end of the window; 0 if absent */
};

/* Parse an alarm payload alone.  Required: seq (integer >= 0), gateway,
 * sensor, alarm, event (strings), active (bool); everything else is
 * optional.  Identity (gateway, site) is as the payload claims it.  0, or -1
 * with a reason in err (a struct that needs no release). */
int watch_alarm_parse(const void *payload, size_t len, struct watch_alarm *a, char *err,
                      size_t errlen);

/* Parse an alarm message as received: topic and payload.  The topic is the
 * identity (the broker's ACL pins each gateway to its base): it must be
 *   {prefix}/{city}/{district}/{street}/{community}/{property}/{id}/alarm/{sensor}/{alarm}
 * and gateway, site.{city,...,property,shelter}, sensor and alarm are taken
 * from it; a payload that says otherwise in any of them is rejected (a
 * forgery, or a gateway publishing where it does not belong).  a->base is the
 * key for duplicates.  0; -1 when topic or payload is malformed; -2 when the
 * payload disagrees with its topic; on error the reason is in err and the
 * struct needs no release.  Pure: the entry point for fuzzing the watcher's
 * input. */
int watch_alarm_parse_message(const char *topic, const void *payload, size_t len,
                              struct watch_alarm *a, char *err, size_t errlen);
void watch_alarm_release(struct watch_alarm *a);

/* A new alarm for --exec: event raised, active, and a real alarm (not the
 * start of a maintenance inhibit). */
bool watch_alarm_is_new(const struct watch_alarm *a);

/* Severity rank for ordering: critical 0, major 1, minor 2, info 3, other 4. */
int watch_severity_rank(const char *severity);

/* "2026-07-20T18:03:04.123Z" (or with a +hh:mm offset) to ms since the
 * epoch.  0, or -1 when it is not RFC 3339. */
int watch_parse_time(const char *s, int64_t *ms);

/* ---- lines ---- */

enum watch_line {
    WATCH_LINE_LIVE,   /* a transition as it happens */
    WATCH_LINE_ACTIVE, /* an entry of the list of active alarms (from a retained topic) */
};

/* The one readable line of an alarm, in lang, without a newline:
 *   time severity event site · sensor (location): what value/threshold · age
 * time is the detection time in local time (tz_offset_s east of UTC): HH:MM:SS
 * on the day of now_ms, else MM-DD HH:MM; the text comes from the gateway's
 * own zh/en table when the kind and alarm are known, else from the payload's
 * message.  Returns the length (snprintf style), or -1. */
int watch_format_alarm(const struct watch_alarm *a, enum watch_line how, enum gw_lang lang,
                       int64_t now_ms, int tz_offset_s, char *buf, size_t len);

/* "just now", "3 min ago", "5 h ago", "2 d ago" (zh "刚刚", "3 分钟前", ...)
 * for an age in ms (negative: clock skew, taken as 0).  Returns the length. */
int watch_format_age(int64_t age_ms, enum gw_lang lang, char *buf, size_t len);

/* A gateway status line: time, site name, gateway id, online or OFFLINE. */
int watch_format_status(const char *gateway, const char *name, bool online, enum gw_lang lang,
                        int64_t ts_ms, int64_t now_ms, int tz_offset_s, char *buf, size_t len);

/* ---- duplicates ---- */

/* The (gateway, seq) pairs seen, to drop the duplicates of at-least-once
 * delivery.  The gateway is its topic base (watch_alarm.base), never a
 * payload's claim.  Bounded: two generations of `capacity`/2 entries each; when the
 * newer is full the older is forgotten, so a duplicate is recognised while
 * fewer than capacity/2 newer messages have arrived. */
struct watch_seen;

struct watch_seen *watch_seen_new(size_t capacity); /* NULL on ENOMEM; capacity >= 2 */
void watch_seen_free(struct watch_seen *s);         /* NULL is a no-op */
/* Remember (gateway, seq): 1 when new, 0 when seen before (a duplicate),
 * -1 on ENOMEM (not remembered). */
int watch_seen_add(struct watch_seen *s, const char *gateway, uint64_t seq);
size_t watch_seen_count(const struct watch_seen *s); /* pairs remembered now */

/* ---- refusals ---- */

/* The topic bases whose refused messages were already logged: a forging or
 * misconfigured gateway gets one warning, not one per message.  Grows with
 * the number of such gateways (bounded by the gateways under the filters). */
struct watch_once;

struct watch_once *watch_once_new(void);    /* NULL on ENOMEM */
void watch_once_free(struct watch_once *o); /* NULL is a no-op */
/* 1 the first time key is given (log it), 0 after; -1 on ENOMEM. */
int watch_once_first(struct watch_once *o, const char *key);

/* ---- gateway status ---- */

/* Online state and display name per gateway topic base.  Grows with the
 * number of gateways under the filters (a city has thousands, not millions). */
struct watch_gateways;

struct watch_gateways *watch_gateways_new(void); /* NULL on ENOMEM */
void watch_gateways_free(struct watch_gateways *g);

/* A status payload on {base}/status.  The topic is the identity: base must
 * be a gateway's (the six levels after the prefix), *gateway is its last
 * level, and a payload whose "gateway" says otherwise is rejected.  Sets
 * *online, *gateway and *name (the last display name this gateway
 * published, else its id; valid until the next call).  Returns 1 when the
 * state is new or changed, 0 when unchanged; -1 when the topic is not a
 * gateway's or the payload not a status object, -2 when the payload names
 * another gateway (state unchanged, the reason in err). */
int watch_gateways_update(struct watch_gateways *g, const char *base, const void *payload,
                          size_t len, bool *online, const char **gateway, const char **name,
                          char *err, size_t errlen);
/* Counts of gateways known online and offline. */
void watch_gateways_count(const struct watch_gateways *g, int *online, int *offline);

#endif
