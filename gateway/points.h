/*
 * points: the InfluxDB schema (docs/design.md section 15) as line-protocol points: one
 * measurement per sensor kind, `alarm` for every transition, `gateway` for
 * health, and blast-door movements with their travel time.  Tags on every
 * point: city, district, street, community, property, shelter, sensor (and
 * alarm, severity on `alarm`), so each level of the maintenance network can
 * query its own shelters.  Pure; main thread or any.
 */
#ifndef GW_POINTS_H
#define GW_POINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kind.h"

struct cfg;
struct alarm_msg;

/* Each returns the bytes written to buf (one line, '\n' included) or -1
 * with errno (ENOSPC, EINVAL). */
int points_reading(const struct cfg *c, const struct reading *r, char *buf, size_t len);
int points_alarm(const struct cfg *c, const struct alarm_msg *m, char *buf, size_t len);

struct health {
    int64_t ts_ms;
    int64_t uptime_s;
    uint64_t polls, poll_failures;
    int queue_depth;
    bool broker_connected;
    int64_t pending_alarms, pending_telemetry, telemetry_dropped;
    int active_alarms;
};
int points_health(const struct cfg *c, const struct health *h, char *buf, size_t len);

/* Blast-door travel: "close" (the open contact released -> closed made),
 * "lock" (closed made -> locked made), "open" (closed released -> open made).
 * A wearing door shows up as travel times creeping up before it fails. */
struct door_travel {
    bool have;
    unsigned contacts; /* as last seen */
    int64_t left_open_ms, closed_at_ms, left_closed_ms;
};

/* Feed a good blast_door reading; returns 1 with the movement and its travel
 * time when one completed, else 0.  Pure. */
int door_travel_update(struct door_travel *t, const struct reading *r, const char **movement,
                       double *travel_s);
int points_door_movement(const struct cfg *c, int sensor, const char *movement, double travel_s,
                         int64_t ts_ms, char *buf, size_t len);

#endif
