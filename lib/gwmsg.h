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

/* The severities a status counts active alarms by, in gwmsg_severity_rank()
 * order: the keys of its "alarms" object. */
#define GWMSG_SEVERITIES 4
extern const char *const gwmsg_severity_names[GWMSG_SEVERITIES];

/* The MQTT 5 Message Expiry Interval of a gateway's will: 2^31-1 s (68
 * years: it never expires; Paho 1.3.12 sends larger ones mangled, e.g.
 * 2^32-1 as 255, verified against mosquitto 2.0.11).  An MQTT 5 broker
 * forwards a retained message with what is left of its interval, so a
 * receiver that comes later still learns when the broker published the
 * will, i.e. when the gateway went offline (gwmsg_status_published_ms()). */
#define GWMSG_WILL_EXPIRY_S 2147483647u

/* A status payload ({base}/status).  Strings point into the struct's own
 * storage until gwmsg_status_release().  A gateway publishes it retained
 * when it connects and every heartbeat, and the broker publishes its will
 * ({"online":false,"since",...}) when the connection ends. */
struct gwmsg_status {
    void *json;       /* cJSON tree */
    char *ident;      /* the topic's base and its levels */
    const char *base; /* the gateway's topic base (its identity) */
    const char *gateway;
    const char *name; /* the display name the payload gives; "" if absent */
    bool online;
    int64_t ts_ms, since_ms; /* 0 if absent or unreadable.  ts: when it was published (a
                              * will has none); since: when the connection began (online),
                              * or when the connection that ended began (will) */
    /* Absent from the payloads of gateways before 0.2 (and mostly from wills): */
    const char *mode, *version, *config; /* "" if absent; config: the configuration's hash */
    int sensors;                         /* -1 if absent */
    bool has_alarms;                     /* "alarms" was an object: */
    int alarms[GWMSG_SEVERITIES];        /* active alarms by severity rank (absent keys 0) */
    int64_t heartbeat_ms;                /* the gateway's heartbeat period; 0 if absent */
};

/* Parse a status message: the topic must be a gateway's {base}/status, the
 * payload an object with "online" (bool); a "gateway" that is not the
 * topic's id is refused (the will may carry none).  Optional fields of the
 * wrong type read as absent.  0; -1 malformed; -2 the payload names another
 * gateway; on error a printable reason in err and nothing to release. */
int gwmsg_status_parse(const char *topic, const void *payload, size_t len, struct gwmsg_status *st,
                       char *err, size_t errlen);
void gwmsg_status_release(struct gwmsg_status *st);

/* When the broker published a status, in the receiver's clock, from the
 * Message Expiry Interval it arrived with (expiry_s as lib/mqtt gives it, -1
 * when none) and the time it was received: for a will, when the gateway
 * went offline (the broker's view: at most 1.5 keepalives after the gateway
 * was last heard).  0 when unknown: no interval, one larger than a
 * gateway's will has, or a result before 2020 (a broker that caps expiry
 * intervals sends less than is left: refused rather than believed). */
int64_t gwmsg_status_published_ms(int64_t expiry_s, int64_t now_ms);

/* ---- commands ---- */

/* A cmd_result payload: 1 when it answers `id` (*ok and, on error, the
 * printable reason in error), 0 when it answers another id, -1 when it is
 * not a cmd_result object. */
int gwmsg_cmd_result(const void *payload, size_t len, const char *id, bool *ok, char *error,
                     size_t errlen);

/* The cmd/ack payload {"id","sensor","alarm","by"} (by omitted when NULL or
 * ""): malloc'd (caller frees), NULL with errno ENOMEM. */
char *gwmsg_ack_payload(const char *id, const char *sensor, const char *alarm, const char *by);

/* The cmd/silence payload {"id","output","by"} (by omitted when NULL or ""):
 * malloc'd (caller frees), NULL with errno ENOMEM. */
char *gwmsg_silence_payload(const char *id, const char *output, const char *by);
/* The payload of a command to one gateway of a fleet (shelter-watch mode,
 * test): {"id","gateway","mode","by"}: mode only when not NULL (cmd/mode),
 * by omitted when NULL or "".  The gateway refuses it if gateway is not its
 * id.  malloc'd; NULL on ENOMEM. */
char *gwmsg_fleet_payload(const char *id, const char *gateway, const char *mode, const char *by);

#endif
