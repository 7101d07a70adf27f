/*
 * kind: sensor kinds (water_level, water_leak, co2, blast_door, smoke): how
 * raw Modbus points become a reading with a quality flag.  Pure: no I/O, no
 * clock; the caller passes the data of one read and the wall-clock time.
 *
 * Field names of a reading are the contract of docs/design.md section 10: the same
 * names are used in --once output, MQTT reading payloads and InfluxDB fields.
 */
#ifndef GW_KIND_H
#define GW_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model;
struct cfg_sensor;

enum kind { KIND_WATER_LEVEL, KIND_WATER_LEAK, KIND_CO2, KIND_BLAST_DOOR, KIND_SMOKE, KIND_COUNT };

enum quality { Q_GOOD, Q_COMM_LOST, Q_IMPLAUSIBLE, Q_WARMING_UP };

enum door_state { DOOR_UNKNOWN, DOOR_OPEN, DOOR_CLOSED, DOOR_LOCKED };

enum smoke_state { SMOKE_NORMAL, SMOKE_FIRE, SMOKE_FAULT };

/* Contact bits of a blast door in reading.door.contacts (after polarity). */
enum { CONTACT_CLOSED = 1u << 0, CONTACT_LOCKED = 1u << 1, CONTACT_OPEN = 1u << 2 };

struct reading {
    int sensor; /* index into cfg->sensors */
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

/* Decode one sensor's data from a read of its model's span.
 * regs: registers starting at model->start (FC03/04), or NULL;
 * bits: one byte per bit starting at model->start (FC01/02), or NULL.
 * Fills *out (sensor index, kind, quality, values, ts_ms).  A placeholder or
 * impossible raw value gives quality Q_IMPLAUSIBLE (not an error).  Returns 0,
 * or -1 with errno set when the data cannot be decoded at all. */
int kind_decode(const struct cfg_sensor *s, int sensor_index, const uint16_t *regs,
                const uint8_t *bits, int64_t ts_ms, struct reading *out);

/* Does model m have what kind k needs (the points and their types)?  Used by
 * the model loader for each kind a model lists.  0, or -1 with a reason. */
int kind_model_check(enum kind k, const struct model *m, char *why, size_t whylen);

/* Does sensor s fit its kind and model: model lists the kind, the kind's
 * inputs are set, distinct and exist on the model, pit_depth_m > 0 ...?
 * For the config loader.  0, or -1 with a reason (no "[section] key:"). */
int kind_sensor_check(const struct cfg_sensor *s, char *why, size_t whylen);

/* A reading of quality Q_COMM_LOST for a sensor that did not answer. */
void kind_comm_lost(const struct cfg_sensor *s, int sensor_index, int64_t ts_ms,
                    struct reading *out);

/* Format the reading as one JSON object, exactly the docs/design.md section 10 reading
 * payload (ts RFC 3339 UTC with ms, sensor, kind, quality, kind's values).
 * Writes at most len bytes including the NUL; returns the length, or -1. */
int reading_json(const struct reading *r, const char *sensor_name, char *buf, size_t len);

/* RFC 3339 UTC with milliseconds, e.g. 2026-07-20T18:03:04.123Z.  buf >= 25. */
void format_rfc3339_ms(int64_t ts_ms, char *buf, size_t len);

#endif
