/*
 * alarmdef: the alarm catalogue, for every program that names alarms: each
 * alarm of each kind with its name (the {alarm} of MQTT topics), its kind,
 * its default severity, how it compares (for the signs of its text), the
 * unit of its value, and what it is called in Chinese and English; the
 * severities and event types and their names; the human text of an event
 * (alarm_text.c); one alarm transition as published (struct alarm_msg).
 *
 * The gateway's engine raises them (gateway/alarm.h: the rules, their
 * defaults and delays); shelter-watch prints them, shelter-notify sends them,
 * shelter-report names them, all from this one table (docs/design.md
 * section 9).  A new alarm is a row here and its rule in the engine.
 * Pure tables and functions; any thread.
 */
#ifndef GW_ALARMDEF_H
#define GW_ALARMDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mode.h"
#include "sensor.h"

#define ALARM_BY_MAX 64 /* "who" of an ack / inhibit / test, NUL included */

/* Every alarm of every kind; names are the {alarm} of MQTT topics. */
enum alarm_id {
    ALARM_COMM_LOST,        /* every kind */
    ALARM_IMPLAUSIBLE,      /* every kind */
    ALARM_WL_HIGH,          /* water_level "high" */
    ALARM_WL_HIGH_HIGH,     /* water_level "high_high" */
    ALARM_WL_RISING_FAST,   /* water_level "rising_fast" */
    ALARM_LEAK,             /* water_leak "leak" */
    ALARM_CO2_HIGH,         /* co2 "high" */
    ALARM_CO2_HIGH_HIGH,    /* co2 "high_high" */
    ALARM_CO2_CRITICAL,     /* co2 "critical" */
    ALARM_CO2_OVER_RANGE,   /* co2 "over_range" */
    ALARM_DOOR_DISAGREE,    /* blast_door "sensor_disagree" */
    ALARM_DOOR_CHATTER,     /* blast_door "chatter" */
    ALARM_DOOR_NOT_SECURED, /* blast_door "not_secured" */
    ALARM_DOOR_OPEN_TOO_LONG,
    ALARM_DOOR_CLOSED_NOT_LOCKED,
    ALARM_DOOR_EXERCISE_OVERDUE,
    ALARM_SMOKE_FIRE,  /* smoke "fire" */
    ALARM_SMOKE_FAULT, /* smoke "fault" */
    ALARM_COUNT,
    ALARM_INHIBIT = ALARM_COUNT /* pseudo alarm "inhibit" of inhibit_* events */
};

enum alarm_severity { ALARM_SEV_CRITICAL, ALARM_SEV_MAJOR, ALARM_SEV_MINOR, ALARM_SEV_INFO };

enum alarm_event_type {
    ALARM_EV_RAISED,
    ALARM_EV_CLEARED,
    ALARM_EV_ACKNOWLEDGED,
    ALARM_EV_TEST,
    ALARM_EV_INHIBIT_STARTED,
    ALARM_EV_INHIBIT_ENDED,
    ALARM_EV_WITHDRAWN, /* its sensor left the configuration */
};

/* One alarm of the catalogue. */
struct alarm_def {
    const char *name;             /* "high_high" */
    int kind;                     /* enum kind, or -1: every kind */
    enum alarm_severity severity; /* default; a sensor may override it */
    bool strict;                  /* raises on value > threshold, clears on < clear (else >=, <=) */
    const char *unit;    /* of value and threshold in events: "m", "cm/min", "ppm", "s", "d", "";
                            implausible: the kind's (the engine says) */
    const char *zh, *en; /* what it is, for people */
};

/* The row of id (ALARM_INHIBIT included); NULL outside the enum. */
const struct alarm_def *alarm_def(enum alarm_id id);

const char *alarm_name(enum alarm_id id); /* "high_high"; "inhibit" for ALARM_INHIBIT */
/* The alarm called `name` for `kind` (comm_lost and implausible for all). 0 or -1. */
int alarm_from_name(enum kind kind, const char *name, enum alarm_id *out);
bool alarm_applies(enum kind kind, enum alarm_id id);
/* Raises on value > threshold and clears on < clear (else >= and <=). */
bool alarm_is_strict(enum alarm_id id);
const char *alarm_severity_name(enum alarm_severity s);
int alarm_severity_from_name(const char *name, enum alarm_severity *out);
const char *alarm_event_type_name(enum alarm_event_type t); /* "raised", "inhibit_started" */

/* One transition of one (sensor, alarm), as the gateway's engine makes it. */
struct alarm_event {
    int sensor;          /* index of the sensor in its engine; -1: named elsewhere */
    enum alarm_id alarm; /* ALARM_INHIBIT for inhibit_* events */
    enum alarm_event_type type;
    bool active; /* after the transition */
    bool acked;
    enum alarm_severity severity;
    double value;     /* in `unit`; NAN when not applicable (publish null) */
    double threshold; /* raise level (raised, ack, test), clear level (cleared); NAN */
    const char *unit; /* static: "m", "cm/min", "ppm", "s", "d" or "" */
    enum gw_mode mode;
    int64_t ts_ms;         /* wall clock of the reading or tick that detected it */
    int64_t until_ms;      /* inhibit_started: wall-clock end of the inhibit; else 0 */
    char by[ALARM_BY_MAX]; /* acknowledged, inhibit_*, test: who; else "" */
};

/* Human text of an event in one language (alarm_text.c), from the
 * catalogue's names and one table of the words around them:
 * e.g. zh "B2 泵房：集水坑水位超高 1.10 m ≥ 1.08 m" (the location, the name
 *      people know the place by; the sensor's name only where it has none),
 *      en "sump-1 (B2 pump room): sump level high-high 1.10 m >= 1.08 m";
 * durations in the language's words ("32 天", "5 分钟"; "32 d", "5 min").
 * location may be NULL or "".  Returns the length (snprintf style, truncated
 * at a UTF-8 character boundary), or -1. */
int alarm_event_message(const struct alarm_event *ev, enum gw_lang lang, const char *sensor_name,
                        const char *location, char *buf, size_t len);

/* ---- alarm messages as a receiver gets them (lib/gwmsg) ---- */

struct gwmsg_alarm;

/* The event type of a received alarm message, from its event name, its alarm
 * ("inhibit": inhibit_started / _ended) and reason (a clear with
 * "sensor_removed" is a withdrawal).  0 and *out, or -1 for an event name
 * the contract does not have. */
int alarm_event_type_of(const struct gwmsg_alarm *a, enum alarm_event_type *out);

/* The text of a received alarm message in lang, as the gateway would have
 * written it in that language (alarm_event_message on the catalogue's
 * words), for the event type given (a receiver listing what is active says
 * "raised" for an acknowledged alarm).  Returns the length, or -1 when this
 * build does not know the message's kind or alarm (then the payload's own
 * message is the text).  *what, when not NULL, receives the alarm's name in
 * words ("漏水", "water leak"). */
int alarm_msg_text(const struct gwmsg_alarm *a, enum alarm_event_type type, enum gw_lang lang,
                   char *buf, size_t len, const char **what);

/* One alarm message as published: the MQTT alarm payload (docs/design.md
 * section 10) and the InfluxDB `alarm` point (sensors/points.h) are built
 * from it; receivers parse payloads back into the same names. */
struct alarm_msg {
    uint64_t seq;
    int64_t ts_ms;      /* time of detection, wall clock */
    const char *sensor; /* sensor name, or "gateway" for the gateway's own alarms */
    const char *kind;   /* sensor kind, or "gateway" */
    const char *location;
    const char *alarm; /* topic name, e.g. "high_high", "inhibit", "disk" */
    const char *event; /* raised | cleared | acknowledged | test */
    bool active, acked;
    const char *severity;
    double value, threshold; /* NAN: null */
    const char *unit;
    enum gw_mode mode;
    const char *message; /* human text in the configured language */
    const char *by;      /* who acknowledged / tested / inhibited; "" = absent */
    int64_t until_ms;    /* inhibit: end of the window (wall clock); 0 = absent */
    const char *reason;  /* a clear not caused by the condition ending:
                            "sensor_removed"; NULL = absent */
};

/* Fill m from an event of the sensor called name (alarm_text.c); text (len
 * bytes) receives the message in lang.  Inhibit events map to alarm
 * "inhibit", raised when it starts and cleared when it ends; a withdrawal is
 * "cleared" with reason "sensor_removed".  The gateway's payloads and
 * shelter-sim's --history build their messages here. */
void alarm_msg_from(const struct alarm_event *ev, enum gw_lang lang, const char *name,
                    enum kind kind, const char *location, uint64_t seq, char *text, size_t len,
                    struct alarm_msg *m);

#endif
