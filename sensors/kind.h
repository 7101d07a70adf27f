/*
 * kind: the sensor kinds (water_level, water_leak, co2, blast_door, smoke)
 * and THE per-kind table: for each kind, the fields of its readings (type,
 * unit, JSON and InfluxDB names, publishing deadband), the model points and
 * DI channels it reads, which field its alarms judge, its warm-up, and how a
 * read becomes a reading with a quality flag.  The reading JSON (--once,
 * MQTT), the InfluxDB points (points.h), the deadband (kind_moved), the
 * alarm engine, the config checks and shelter-sim all read this table, so a
 * new kind is a new row here plus its alarm rules (docs/design.md section 7).
 *
 * Pure: no I/O, no clock; the caller passes the data of one read and the
 * time.  Any thread (the tables are constant).
 *
 * Field names of a reading are the contract of docs/design.md section 10: the
 * same names are used in --once output, MQTT reading payloads and InfluxDB
 * fields.
 */
#ifndef GW_KIND_H
#define GW_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "sensor.h"

enum quality { Q_GOOD, Q_COMM_LOST, Q_IMPLAUSIBLE, Q_WARMING_UP };

enum door_state { DOOR_UNKNOWN, DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED };

enum smoke_state { SMOKE_NORMAL, SMOKE_FIRE, SMOKE_FAULT };

/* Contact bits of a blast door in reading.door.contacts (after polarity). */
enum { CONTACT_CLOSED = 1u << 0, CONTACT_LOCKED = 1u << 1, CONTACT_OPEN = 1u << 2 };

struct reading {
    int sensor; /* index into the program's sensors */
    enum kind kind;
    enum quality quality;
    int64_t ts_ms; /* wall clock, Unix ms, taken once per poll */
    bool no_value; /* nothing decodable (comm_lost, placeholder, unknown unit or
                    * state): v is zeroed and payloads omit the values */
    union {
        /* clang-format off */
        struct { double level_m, level_pct; } water_level;
        struct { bool wet; } water_leak;
        struct { double co2_ppm; bool over_range, sensor_error; } co2;
        struct { enum door_state door; unsigned contacts; unsigned contacts_present; } blast_door;
        struct { enum smoke_state smoke; } smoke;
        /* clang-format on */
    } v;
};

/* ---- the table ---------------------------------------------------------- */

enum field_type {
    FIELD_NUMBER,  /* double */
    FIELD_BOOL,    /* bool */
    FIELD_STATE,   /* an enum, named by states[] */
    FIELD_CONTACT, /* one bit of an unsigned mask: a contact made (true) or not */
};

/* One value of a reading.  A reading's fields appear in payloads in table
 * order, after ts, sensor, kind and quality, and only when it has values
 * (not comm_lost, not no_value); a number that is not finite is left out. */
struct kind_field {
    const char *json;   /* key in the reading JSON; NULL: not published there */
    const char *group;  /* JSON: the object the key lives in ("contacts"); NULL: top level */
    const char *influx; /* field of the kind's InfluxDB measurement; NULL: not written */
    enum field_type type;
    size_t offset;             /* of the value in struct reading */
    const char *unit;          /* numbers: "m", "%", "ppm"; else "" */
    int decimals;              /* numbers in JSON: rounded to this many (InfluxDB: exact) */
    double deadband;           /* kind_moved: a number moved by at least this much, anything
                                  else changed at all; NAN: never on its own (derived) */
    const char *const *states; /* FIELD_STATE: names by value */
    int nstates;
    unsigned bit;   /* FIELD_CONTACT: the CONTACT_* bit of the mask at offset */
    size_t present; /* FIELD_CONTACT: offset of the mask of fitted contacts, where
                       the contact is optional; 0: always there */
};

/* A model point the kind reads (sensors/models/README.md). */
struct kind_point {
    const char *role; /* "level", "co2", "status", "state" */
    bool optional;
    /* shelter-sim: the field that sets it (NULL: set another way), the
     * values it takes and the normal one it starts with */
    const char *sim_field;
    double sim_min, sim_max;
    const char *sim_normal;
};

/* A channel of a DI module the kind reads; the sensor names it in its
 * config key, stored at `offset` in struct sensor_def (-1: unset). */
struct kind_input {
    const char *key; /* "closed_input" */
    size_t offset;
    bool required;
    const char *sim_field;  /* shelter-sim: "closed" (0/1, before polarity); NULL: none */
    const char *sim_normal; /* "1" */
};

/* A key of its own (beyond its DI channels) a sensor of the kind has in
 * its [sensor] section: a number stored at `offset` in struct sensor_def. */
struct kind_key {
    const char *key; /* "pit_depth" */
    size_t offset;   /* of a double */
    double min, max;
    bool required;
};

struct kind_def {
    const char *name; /* as in the config and payloads; the InfluxDB measurement */
    const struct kind_field *fields;
    int nfields;
    int value;         /* the field the alarm engine's levels, means and jump check judge; -1 */
    int saturated;     /* a bool field: the value is only "at least" (over range); -1 */
    int64_t warmup_ms; /* after a start its readings are warming_up (NDIR CO2); 0 */
    bool urgent;       /* served first on a saturated bus, its interval kept (smoke, leak, door:
                          docs/design.md section 8) */
    const struct kind_point *points;
    int npoints;
    const struct kind_input *inputs; /* used on a model with an `inputs` bits point
                                        and none of the kind's points */
    int ninputs;
    const struct kind_key *keys; /* its own [sensor] keys (sensors/sensorcfg.c) */
    int nkeys;
    /* What a model must have beyond points and inputs (NULL: nothing).
     * 0, or -1 with a reason. */
    int (*model_check)(const struct model *m, char *why, size_t whylen);
    /* Decode one read into r (sensor, kind, ts_ms, quality good set). */
    int (*decode)(const struct sensor_def *s, const uint16_t *regs, const uint8_t *bits,
                  struct reading *r);
};

/* The row of kind k; NULL outside the enum. */
const struct kind_def *kind_def(enum kind k);

/* The field of kind k whose JSON or InfluxDB name is `name`; NULL if none. */
const struct kind_field *kind_field(enum kind k, const char *name);

/* A field's value in r: numbers as they are; bools, contacts 0 or 1; states
 * their enum value.  kind_state: the same as an int (numbers truncated). */
double kind_number(const struct reading *r, const struct kind_field *f);
int kind_state(const struct reading *r, const struct kind_field *f);

/* Is the field there in r: a contact that is not fitted is not. */
bool kind_field_present(const struct reading *r, const struct kind_field *f);

/* Kind names as in the config and payloads ("water_level", ...). */
const char *kind_name(enum kind k);
int kind_from_name(const char *name, enum kind *out); /* 0 or -1 */
const char *quality_name(enum quality q);
const char *door_state_name(enum door_state d);
const char *smoke_state_name(enum smoke_state s);

/* Door state from contact bits (CONTACT_*, already polarity-corrected) and
 * which contacts exist (CONTACT_OPEN may be absent).  Rules:
 *   closed+locked (and not open)             -> locked
 *   closed, not locked, not open             -> closed
 *   not closed, not locked (ajar included)   -> open: a blast door that is
 *                                               not closed counts as open
 *   anything contradictory (closed and open, locked without closed) -> unknown */
enum door_state door_state_from_contacts(unsigned contacts, unsigned present);

/* ---- decoding and checks ------------------------------------------------- */

/* Decode one sensor's data from a read of its model's span.
 * regs: registers starting at model->start (FC03/04), or NULL;
 * bits: one byte per bit starting at model->start (FC01/02), or NULL.
 * Fills *out (sensor index, kind, quality, values, ts_ms).  A placeholder or
 * impossible raw value gives quality Q_IMPLAUSIBLE (not an error).  Returns 0,
 * or -1 with errno set when the data cannot be decoded at all. */
int kind_decode(const struct sensor_def *s, int sensor_index, const uint16_t *regs,
                const uint8_t *bits, int64_t ts_ms, struct reading *out);

/* Load every device model in dir (model_set_load) for the kinds of this
 * table: a model's `kinds` names them, and each kind it names checks that
 * the model has what it needs. */
struct model_set *kind_models_load(const char *dir, char *err, size_t errlen);

/* Does model m have what kind k needs (the points and their types)?  Used by
 * the model loader for each kind a model lists.  0, or -1 with a reason. */
int kind_model_check(enum kind k, const struct model *m, char *why, size_t whylen);

/* Does sensor s fit its kind and model: model lists the kind, the kind's
 * inputs are set, distinct and exist on the model, pit_depth_m > 0 ...?
 * For the config loader.  0, or -1 with a reason (no "[section] key:"). */
int kind_sensor_check(const struct sensor_def *s, char *why, size_t whylen);

/* A reading of quality Q_COMM_LOST for a sensor that did not answer. */
void kind_comm_lost(const struct sensor_def *s, int sensor_index, int64_t ts_ms,
                    struct reading *out);

/* ---- outputs ------------------------------------------------------------- */

/* Has reading a moved away from b (the last one published) enough to be
 * published again: another quality, values appearing or going, a number
 * beyond its field's deadband, any other field changed. */
bool kind_moved(const struct reading *a, const struct reading *b);

/* Format the reading as one JSON object, exactly the docs/design.md section 10 reading
 * payload (ts RFC 3339 UTC with ms, sensor, kind, quality, kind's values).
 * Writes at most len bytes including the NUL; returns the length, or -1. */
int reading_json(const struct reading *r, const char *sensor_name, char *buf, size_t len);

/* RFC 3339 UTC with milliseconds, e.g. 2026-07-20T18:03:04.123Z.  buf >= 25. */
void format_rfc3339_ms(int64_t ts_ms, char *buf, size_t len);

/* ---- a blast door's movements -------------------------------------------- */

/* What a door has done, followed reading by reading: its state changes, its
 * full open -> close -> lock cycles (the monthly exercise), and its
 * movements with their travel times (door wear: a door whose travel creeps
 * up is wearing out).  The alarm engine owns one per blast door and keeps
 * the first part in its state image. */
struct door_track {
    /* kept across restarts */
    int32_t prev_door;     /* enum door_state of the last reading; -1: none yet */
    int32_t cycle_phase;   /* 1: opened since the last lock */
    int64_t last_cycle_ms; /* monotonic: end of the last full cycle (or the start) */
    /* movements: not kept (a movement under way at a start is unknown) */
    bool have;
    unsigned contacts;                                  /* as last seen */
    int64_t left_open_ms, closed_at_ms, left_closed_ms; /* reading times */
};

/* What one reading did. */
struct door_step {
    bool changed;         /* the door state differs from the last reading's */
    bool cycled;          /* a full open -> close -> lock cycle ended */
    const char *movement; /* completed: "close" (open contact released -> closed made),
                             "lock" (closed made -> locked made), "open" (closed
                             released -> open made); NULL: none */
    double travel_s;      /* its travel time, between the readings' times */
};

/* A door seen at no reading yet; the cycle count starts at now_mono_ms. */
void door_track_init(struct door_track *t, int64_t now_mono_ms);

/* Feed a reading with a value (readings of other kinds, comm_lost or
 * without values change nothing); movements only from quality good.  *step
 * says what it did. */
void door_track_update(struct door_track *t, const struct reading *r, int64_t now_mono_ms,
                       struct door_step *step);

#endif
