/*
 * gwmsg: a gateway's messages as the centre receives them (docs/design.md
 * section 10): an alarm payload, a status payload and a cmd_result, each
 * parsed with the topic it came on, and the cmd/ack a centre program sends.
 * shelter-watch and shelter-notify read gateways through this one parser.
 *
 * The identity of a message is its topic (the broker's ACL pins each gateway
 * to its base topic): the gateway and its site are taken from the topic, and
 * a payload that names another gateway, place, sensor or alarm is refused
 * (-2), never believed.  A payload is outside input: parsers never crash on
 * it, and every reason they give is printable (it may be logged or shown).
 *
 * Pure: no I/O, no clock.  Any thread; a parsed struct belongs to one.
 */
#ifndef GW_GWMSG_H
#define GW_GWMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GWMSG_TEXT_MAX 64 /* a command's id, sensor, alarm, by: bytes, NUL excluded */

/* ---- alarms ---- */

/* An alarm payload.  The strings point into `json` and `ident`, which the
 * struct owns until gwmsg_alarm_release() (a copy of the struct takes them
 * over); absent optional strings are "". */
struct gwmsg_alarm {
    void *json;  /* cJSON tree */
    char *ident; /* gwmsg_alarm_parse: the topic's identity levels */
    uint64_t seq;
    int64_t ts_ms;    /* detection time, wall clock; 0 if absent or unreadable */
    const char *base; /* the gateway's topic base (its identity); "" from ..._parse_payload */
    const char *gateway, *sensor, *kind, *location, *alarm, *event, *severity;
    const char *unit, *message, *by;
    const char *reason;    /* "sensor_removed" on a withdrawal; "" if absent */
    const char *site_name; /* site.name: the display name, the one thing the topic does not say */
    const char *city, *district, *street, *community, *property; /* site.city, ... */
    bool active, acked;
    double value, threshold; /* NAN when null or absent */
    int64_t until_ms;        /* inhibit: end of the window; 0 if absent */
};

/* Parse an alarm message as received: topic and payload.  The topic must be
 *   {prefix}/{city}/{district}/{street}/{community}/{property}/{id}/alarm/{sensor}/{alarm}
 * and gateway, site.{city,...,property,shelter}, sensor and alarm are taken
 * from it; a payload that says otherwise in any of them is refused.
 * a->base is the key for duplicates.  Required in the payload: seq (integer
 * >= 0), gateway, sensor, alarm, event (strings), active (bool).  0; -1 when
 * topic or payload is malformed; -2 when the payload disagrees with its
 * topic; on error a printable reason is in err and the struct needs no
 * release.  The entry point for fuzzing a centre program's input. */
int gwmsg_alarm_parse(const char *topic, const void *payload, size_t len, struct gwmsg_alarm *a,
                      char *err, size_t errlen);

/* The payload alone, its identity as it claims it (for the gateway's own
 * payloads in tests and tools).  0, or -1 with a reason in err. */
int gwmsg_alarm_parse_payload(const void *payload, size_t len, struct gwmsg_alarm *a, char *err,
                              size_t errlen);

void gwmsg_alarm_release(struct gwmsg_alarm *a); /* NULL or released: no-op */

/* A new alarm: event raised, active, and a real alarm (not the start of a
 * maintenance inhibit). */
bool gwmsg_alarm_is_new(const struct gwmsg_alarm *a);

/* Severity rank for ordering and thresholds: critical 0, major 1, minor 2,
 * info 3, anything else 4. */
int gwmsg_severity_rank(const char *severity);

/* "2026-07-20T18:03:04.123Z" (or with a +hh:mm offset) to ms since the
 * epoch.  0, or -1 when it is not RFC 3339. */
int gwmsg_time_parse(const char *s, int64_t *ms);

/* ---- status ---- */

/* A status payload ({base}/status).  Strings point into the struct's own
 * storage until gwmsg_status_release(). */
struct gwmsg_status {
    void *json;       /* cJSON tree */
    char *ident;      /* the topic's base and its levels */
    const char *base; /* the gateway's topic base (its identity) */
    const char *gateway;
    const char *name; /* the display name the payload gives; "" if absent */
    bool online;
    int64_t ts_ms, since_ms; /* 0 if absent or unreadable */
};

/* Parse a status message: the topic must be a gateway's {base}/status, the
 * payload an object with "online" (bool); a "gateway" that is not the
 * topic's id is refused (the will may carry none).  0; -1 malformed; -2 the
 * payload names another gateway; on error a printable reason in err and
 * nothing to release. */
int gwmsg_status_parse(const char *topic, const void *payload, size_t len, struct gwmsg_status *st,
                       char *err, size_t errlen);
void gwmsg_status_release(struct gwmsg_status *st);

/* ---- commands ---- */

/* A cmd_result payload: 1 when it answers `id` (*ok and, on error, the
 * printable reason in error), 0 when it answers another id, -1 when it is
 * not a cmd_result object. */
int gwmsg_cmd_result(const void *payload, size_t len, const char *id, bool *ok, char *error,
                     size_t errlen);

/* The cmd/ack payload {"id","sensor","alarm","by"} (by omitted when NULL or
 * ""): malloc'd (caller frees), NULL with errno ENOMEM. */
char *gwmsg_ack_payload(const char *id, const char *sensor, const char *alarm, const char *by);

#endif
