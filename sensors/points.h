/*
 * points: the InfluxDB schema (docs/design.md section 15) and its encoders,
 * for every program that writes or reads it: the gateway writes points,
 * shelter-report queries them and generates history with the same names.
 *
 * Measurements: one per sensor kind (its name; fields from the kind table,
 * kind.h: the reading's values, a door's contacts as contact_* booleans, a
 * door's movements as `movement` and `travel_s`), `alarm` for every
 * transition, `gateway` for health, `output` for the warning outputs.  Tags on every point: the
 * five levels of the maintenance network, the shelter and the sensor, so each level queries its own
 * subtree; on `alarm` also alarm, severity, kind and event. Line protocol, ms precision
 * (lib/lineproto.h).
 *
 * Pure: no I/O, no configuration; the caller says where the points come
 * from (struct points_site).  Any thread.
 */
#ifndef GW_POINTS_H
#define GW_POINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarmdef.h"
#include "kind.h"
#include "topic.h"

/* Measurements besides the kinds' (kind_name()). */
#define POINTS_ALARM "alarm"
#define POINTS_GATEWAY "gateway"

/* Tags, in this order on every point: the five levels and the shelter,
 * named as in an alarm payload's "site" (lib/topic.h topic_site_keys:
 * "city" .. "property", "shelter"), then the sensor ("gateway" on health
 * points). */
#define POINTS_SENSOR_TAG "sensor"
enum { POINTS_SITE_TAGS = TOPIC_LEVELS + 1 };
/* The extra tags of an alarm point: "alarm", "severity", "kind", "event". */
extern const char *const points_alarm_tag_keys[4];

/* Where points come from: the gateway's site, its levels as in its base
 * topic (enum topic_level order: city .. property, then the gateway's id). */
struct points_site {
    const char *level[TOPIC_LEVELS];
};

/* Each returns the bytes written to buf (one line, '\n' included) or -1
 * with errno (ENOSPC, EINVAL). */

/* A reading of the sensor called `sensor`: quality and the kind's values. */
int points_reading(const struct points_site *site, const char *sensor, const struct reading *r,
                   char *buf, size_t len);

/* An alarm transition: fields seq, active, acked, mode, value, threshold,
 * unit, message, by (when set). */
int points_alarm(const struct points_site *site, const struct alarm_msg *m, char *buf, size_t len);

/* The gateway's health, each minute. */
struct health {
    int64_t ts_ms;
    int64_t uptime_s;
    uint64_t polls, poll_failures;
    int queue_depth;
    bool broker_connected;
    int64_t pending_alarms, pending_telemetry, telemetry_dropped;
    int active_alarms;
};
int points_health(const struct points_site *site, const struct health *h, char *buf, size_t len);

/* A blast door's movement (kind.h struct door_step: "close", "lock",
 * "open") with its travel time, on the blast_door measurement.  A wearing
 * door shows up as travel times creeping up before it fails. */
int points_door_movement(const struct points_site *site, const char *sensor, const char *movement,
                         double travel_s, int64_t ts_ms, char *buf, size_t len);

/* An on-site warning output's state (docs/design.md section 21) on the
 * `output` measurement: tag `output` (in place of `sensor`), fields on,
 * quality (good | fault | unknown) and reasons (how many alarms hold it). */
int points_output(const struct points_site *site, const char *output, bool on, const char *quality,
                  int nreasons, int64_t ts_ms, char *buf, size_t len);

#endif
