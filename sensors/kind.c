/*
 * kind: what the five sensor kinds make of a read.  Each kind is one row of
 * a table (name, what it needs from a model, decoder, payload values), so a
 * new kind is a new row, not new branches across the gateway.
 *
 * Pure: no I/O, no clock, no state between calls.  A reading's quality says
 * whether the values can be trusted; a value that is there but impossible
 * (placeholder, unknown unit, level below the pit floor) gives a reading of
 * quality implausible, never an error, because to the alarm engine an
 * implausible sensor is an event of its own (docs/design.md section 9).  Errors (-1) are left
 * for data that cannot belong to the sensor at all (no model, no data,
 * channel outside the module), which the config check prevents.
 */
#include "kind.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "gwerr.h"
#include "model.h"

/* A water level this far below the probe is a calibration or wiring fault,
 * not a reading; above 2x the pit depth the probe cannot physically be. */
#define LEVEL_MIN_M (-0.05)
#define LEVEL_MAX_PIT_DEPTHS 2.0

struct kind_info {
    const char *name;
    int (*model_check)(const struct model *m, char *why, size_t whylen);
    int (*decode)(const struct cfg_sensor *s, const uint16_t *regs, const uint8_t *bits,
                  struct reading *r);
    int (*add_values)(const struct reading *r, cJSON *obj); /* 0, -1 out of memory */
};

static const char *const quality_names[] = {
    [Q_GOOD] = "good",
    [Q_COMM_LOST] = "comm_lost",
    [Q_IMPLAUSIBLE] = "implausible",
    [Q_WARMING_UP] = "warming_up",
};

static const char *const door_names[] = {
    [DOOR_UNKNOWN] = "unknown",
    [DOOR_OPEN] = "open",
    [DOOR_CLOSED] = "closed",
    [DOOR_LOCKED] = "locked",
};

static const char *const smoke_names[] = {
    [SMOKE_NORMAL] = "normal",
    [SMOKE_FIRE] = "fire",
    [SMOKE_FAULT] = "fault",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_at(const char *const *names, size_t n, unsigned i)
{
    return i < n && names[i] ? names[i] : "?";
}

const char *quality_name(enum quality q)
{
    return name_at(quality_names, NELEM(quality_names), (unsigned)q);
}

const char *door_state_name(enum door_state d)
{
    return name_at(door_names, NELEM(door_names), (unsigned)d);
}

const char *smoke_state_name(enum smoke_state s)
{
    return name_at(smoke_names, NELEM(smoke_names), (unsigned)s);
}

static int smoke_from_name(const char *name, enum smoke_state *out)
{
    for (unsigned i = 0; name && i < NELEM(smoke_names); i++)
        if (strcmp(name, smoke_names[i]) == 0) {
            *out = (enum smoke_state)i;
            return 0;
        }
    return -1;
}

/* Door state by contact bits.  Row: is an open contact fitted; column:
 * closed | locked << 1 | open << 2.  Without an open contact "not closed,
 * not locked" is the only evidence of open.  With one, a door that shows none
 * of the three is between its end positions (moving or ajar): for a blast
 * door what matters is that it is not closed, so it reads open, and a door
 * stuck ajar raises open_too_long like an open one instead of hiding in
 * unknown.  Only contradictions (closed and open, locked without closed) are
 * unknown. */
static const enum door_state door_by_contacts[2][8] = {
    /* no open contact: the open bit is ignored */
    {DOOR_OPEN, DOOR_CLOSED, DOOR_UNKNOWN, DOOR_LOCKED, DOOR_OPEN, DOOR_CLOSED, DOOR_UNKNOWN,
     DOOR_LOCKED},
    /* open contact fitted */
    {DOOR_OPEN, DOOR_CLOSED, DOOR_UNKNOWN, DOOR_LOCKED, DOOR_OPEN, DOOR_UNKNOWN, DOOR_UNKNOWN,
     DOOR_UNKNOWN},
};

enum door_state door_state_from_contacts(unsigned contacts, unsigned present)
{
    unsigned has_open = (present & CONTACT_OPEN) != 0;
    unsigned idx = contacts & (CONTACT_CLOSED | CONTACT_LOCKED | (has_open ? CONTACT_OPEN : 0));
    return door_by_contacts[has_open][idx];
}

/* ---- model checks ---------------------------------------------------------- */

static int need_number(const struct model *m, const char *role, int optional, char *why,
                       size_t whylen)
{
    const struct model_point *p = model_point(m, role);
    if (p == NULL) {
        if (optional)
            return 0;
        snprintf(why, whylen, "needs a point '%s'", role);
        return -1;
    }
    if (p->type == PT_BITS) {
        snprintf(why, whylen, "point '%s' must be a number, not bits", role);
        return -1;
    }
    return 0;
}

static int need_inputs(const struct model *m, char *why, size_t whylen)
{
    const struct model_point *p = model_point(m, "inputs");
    if (p == NULL || p->type != PT_BITS) {
        snprintf(why, whylen, "needs a point 'inputs' of type bits");
        return -1;
    }
    return 0;
}

static int check_water_level(const struct model *m, char *why, size_t whylen)
{
    return need_number(m, "level", 0, why, whylen);
}

static int check_co2(const struct model *m, char *why, size_t whylen)
{
    if (need_number(m, "co2", 0, why, whylen) < 0)
        return -1;
    return need_number(m, "status", 1, why, whylen);
}

/* A smoke model either reports a state (an enum whose names are all smoke
 * states, so no raw value can map to a state the gateway does not know) or
 * is a DI module whose channels the sensor names. */
static int check_smoke(const struct model *m, char *why, size_t whylen)
{
    const struct model_point *p = model_point(m, "state");
    enum smoke_state st;

    if (p == NULL && need_inputs(m, why, whylen) < 0) {
        snprintf(why, whylen, "needs a point 'state' (enum) or 'inputs' (bits)");
        return -1;
    }
    if (p == NULL)
        return 0;
    if (p->type == PT_BITS || p->nenums == 0) {
        snprintf(why, whylen, "point 'state' needs enum = RAW:normal|fire|fault, ...");
        return -1;
    }
    for (int i = 0; i < p->nenums; i++)
        if (smoke_from_name(p->enums[i].name, &st) < 0) {
            snprintf(why, whylen, "point 'state': '%s' is not normal, fire or fault",
                     p->enums[i].name);
            return -1;
        }
    return 0;
}

/* ---- decoding -------------------------------------------------------------- */

/* Nothing trustworthy could be decoded: implausible, no values. */
static void no_value(struct reading *r)
{
    memset(&r->v, 0, sizeof r->v);
    r->no_value = true;
    r->quality = Q_IMPLAUSIBLE;
}

/* Decode a numeric point.  Returns 0 with *value, 1 when the device sent a
 * placeholder or a unit/decimals code outside the model (reading marked),
 * -1 with errno when the point cannot be decoded at all. */
static int decode_number(const struct cfg_sensor *s, const char *role, const uint16_t *regs,
                         double *value, uint32_t *raw, struct reading *r)
{
    const struct model_point *p = model_point(s->model, role);

    if (p == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (model_decode(s->model, p, regs, value, raw) == 0)
        return 0;
    if (errno == EGW_PLACEHOLDER || errno == EGW_RANGE) {
        no_value(r);
        return 1;
    }
    return -1;
}

/* Inputs of a DI module after polarity: a channel listed in inverted_inputs
 * is wired normally-closed, so it is active when the module reads 0. */
static int active_inputs(const struct cfg_sensor *s, const uint8_t *bits, uint32_t *active,
                         int *nchannels)
{
    const struct model_point *p = model_point(s->model, "inputs");
    uint32_t raw;

    if (p == NULL || model_bits(s->model, p, bits, &raw) < 0) {
        errno = EINVAL;
        return -1;
    }
    *active = raw ^ s->inverted_mask;
    *nchannels = p->bits;
    return 0;
}

static int channel(uint32_t active, int nchannels, int ch, bool *on)
{
    if (ch < 0 || ch >= nchannels) {
        errno = EGW_CONFIG;
        return -1;
    }
    *on = (active >> ch) & 1u;
    return 0;
}

static int decode_water_level(const struct cfg_sensor *s, const uint16_t *regs, const uint8_t *bits,
                              struct reading *r)
{
    double level_m;
    (void)bits;

    if (!(s->pit_depth_m > 0) || !isfinite(s->pit_depth_m)) {
        errno = EGW_CONFIG;
        return -1;
    }
    int rc = decode_number(s, "level", regs, &level_m, NULL, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    r->v.water_level.level_m = level_m;
    r->v.water_level.level_pct = 100.0 * level_m / s->pit_depth_m;
    if (level_m < LEVEL_MIN_M || level_m > LEVEL_MAX_PIT_DEPTHS * s->pit_depth_m)
        r->quality = Q_IMPLAUSIBLE;
    return 0;
}

static int decode_water_leak(const struct cfg_sensor *s, const uint16_t *regs, const uint8_t *bits,
                             struct reading *r)
{
    uint32_t active;
    int n;
    bool wet;
    (void)regs;

    if (active_inputs(s, bits, &active, &n) < 0 || channel(active, n, s->input, &wet) < 0)
        return -1;
    r->v.water_leak.wet = wet;
    return 0;
}

static int decode_co2(const struct cfg_sensor *s, const uint16_t *regs, const uint8_t *bits,
                      struct reading *r)
{
    const struct model_point *p = model_point(s->model, "co2");
    double ppm, status;
    uint32_t raw, status_raw;
    (void)bits;

    int rc = decode_number(s, "co2", regs, &ppm, &raw, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    r->v.co2.co2_ppm = ppm;
    /* The device saturates at full scale: a valid reading meaning "at least". */
    r->v.co2.over_range = p->has_over_range && raw >= p->over_range;
    if (ppm < 0)
        r->quality = Q_IMPLAUSIBLE;
    if (model_point(s->model, "status") == NULL)
        return 0;
    struct reading scratch = *r; /* a bad status must not erase the ppm */
    rc = decode_number(s, "status", regs, &status, &status_raw, &scratch);
    if (rc < 0)
        return -1;
    if (rc > 0 || status_raw != 0) {
        /* The sensor says (or cannot say) its value is not to be trusted. */
        r->v.co2.sensor_error = true;
        r->quality = Q_IMPLAUSIBLE;
    }
    return 0;
}

static int decode_blast_door(const struct cfg_sensor *s, const uint16_t *regs, const uint8_t *bits,
                             struct reading *r)
{
    uint32_t active;
    int n;
    bool closed, locked, open = false;
    unsigned present = CONTACT_CLOSED | CONTACT_LOCKED;
    (void)regs;

    if (active_inputs(s, bits, &active, &n) < 0 ||
        channel(active, n, s->closed_input, &closed) < 0 ||
        channel(active, n, s->locked_input, &locked) < 0)
        return -1;
    if (s->open_input >= 0) {
        if (channel(active, n, s->open_input, &open) < 0)
            return -1;
        present |= CONTACT_OPEN;
    }
    unsigned contacts =
        (closed ? CONTACT_CLOSED : 0) | (locked ? CONTACT_LOCKED : 0) | (open ? CONTACT_OPEN : 0);
    r->v.blast_door.contacts = contacts;
    r->v.blast_door.contacts_present = present;
    /* Contradicting contacts stay quality good with door unknown: that is
     * what the sensor_disagree alarm (with its 2 s delay for doors in motion)
     * is for, and an implausible reading would suspend it. */
    r->v.blast_door.door = door_state_from_contacts(contacts, present);
    return 0;
}

/* A DI smoke detector with both contacts active reports fire: a fire input
 * that works is proof the detector can still signal, a false fire alarm costs
 * an inspection while a fire hidden behind a fault costs lives, and the fault
 * alarm (3 consecutive reads) follows anyway once the fire input drops. */
static int decode_smoke(const struct cfg_sensor *s, const uint16_t *regs, const uint8_t *bits,
                        struct reading *r)
{
    const struct model_point *p = model_point(s->model, "state");

    if (p != NULL) {
        double value;
        uint32_t raw;
        enum smoke_state st;
        int rc = decode_number(s, "state", regs, &value, &raw, r);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (smoke_from_name(model_enum_name(p, raw), &st) < 0) {
            no_value(r); /* a state the model does not know: do not guess */
            return 0;
        }
        r->v.smoke.smoke = st;
        return 0;
    }

    uint32_t active;
    int n;
    bool fire, fault = false;
    if (active_inputs(s, bits, &active, &n) < 0 || channel(active, n, s->alarm_input, &fire) < 0)
        return -1;
    if (s->fault_input >= 0 && channel(active, n, s->fault_input, &fault) < 0)
        return -1;
    r->v.smoke.smoke = fire ? SMOKE_FIRE : fault ? SMOKE_FAULT : SMOKE_NORMAL;
    return 0;
}

/* ---- payload values ------------------------------------------------------ */

static double round_to(double v, int decimals)
{
    double f = decimals == 3 ? 1000.0 : decimals == 1 ? 10.0 : 1.0;
    double r = round(v * f) / f;
    return r == 0 ? 0.0 : r; /* no "-0" in payloads */
}

/* Adds a number unless it is not finite: NaN and inf are not JSON and not
 * InfluxDB fields, so they are never emitted. */
static int add_number(cJSON *obj, const char *key, double v)
{
    if (!isfinite(v))
        return 0;
    return cJSON_AddNumberToObject(obj, key, v) ? 0 : -1;
}

static int values_water_level(const struct reading *r, cJSON *obj)
{
    if (add_number(obj, "level_m", round_to(r->v.water_level.level_m, 3)) < 0)
        return -1;
    return add_number(obj, "level_pct", round_to(r->v.water_level.level_pct, 1));
}

static int values_water_leak(const struct reading *r, cJSON *obj)
{
    return cJSON_AddBoolToObject(obj, "wet", r->v.water_leak.wet) ? 0 : -1;
}

/* Whole ppm: the resolution of NDIR sensors is far coarser than 1 ppm. */
static int values_co2(const struct reading *r, cJSON *obj)
{
    return add_number(obj, "co2_ppm", round_to(r->v.co2.co2_ppm, 0));
}

static int values_blast_door(const struct reading *r, cJSON *obj)
{
    static const struct {
        unsigned bit;
        const char *name;
    } contact_names[] = {
        {CONTACT_CLOSED, "closed"},
        {CONTACT_LOCKED, "locked"},
        {CONTACT_OPEN, "open"},
    };
    unsigned c = r->v.blast_door.contacts;

    if (!cJSON_AddStringToObject(obj, "door", door_state_name(r->v.blast_door.door)))
        return -1;
    cJSON *contacts = cJSON_AddObjectToObject(obj, "contacts");
    if (contacts == NULL)
        return -1;
    for (size_t i = 0; i < NELEM(contact_names); i++) {
        /* closed and locked always exist; open only when fitted */
        unsigned bit = contact_names[i].bit;
        if (bit == CONTACT_OPEN && !(r->v.blast_door.contacts_present & CONTACT_OPEN))
            continue;
        if (!cJSON_AddBoolToObject(contacts, contact_names[i].name, (c & bit) != 0))
            return -1;
    }
    return 0;
}

static int values_smoke(const struct reading *r, cJSON *obj)
{
    return cJSON_AddStringToObject(obj, "smoke", smoke_state_name(r->v.smoke.smoke)) ? 0 : -1;
}

static const struct kind_info kinds[KIND_COUNT] = {
    [KIND_WATER_LEVEL] = {"water_level", check_water_level, decode_water_level, values_water_level},
    [KIND_WATER_LEAK] = {"water_leak", need_inputs, decode_water_leak, values_water_leak},
    [KIND_CO2] = {"co2", check_co2, decode_co2, values_co2},
    [KIND_BLAST_DOOR] = {"blast_door", need_inputs, decode_blast_door, values_blast_door},
    [KIND_SMOKE] = {"smoke", check_smoke, decode_smoke, values_smoke},
};

const char *kind_name(enum kind k)
{
    return (unsigned)k < KIND_COUNT ? kinds[k].name : "?";
}

int kind_from_name(const char *name, enum kind *out)
{
    for (int k = 0; name && k < KIND_COUNT; k++)
        if (strcmp(name, kinds[k].name) == 0) {
            *out = (enum kind)k;
            return 0;
        }
    errno = EINVAL;
    return -1;
}

int kind_model_check(enum kind k, const struct model *m, char *why, size_t whylen)
{
    if ((unsigned)k >= KIND_COUNT || m == NULL) {
        snprintf(why, whylen, "no such kind or model");
        return -1;
    }
    return kinds[k].model_check(m, why, whylen);
}

/* Channel keys of the kinds on a DI module; required ones must be set. */
static const struct {
    const char *key;
    size_t offset;
    enum kind kind;
    bool required;
} input_keys[] = {
    {"alarm_input", offsetof(struct cfg_sensor, alarm_input), KIND_SMOKE, true},
    {"closed_input", offsetof(struct cfg_sensor, closed_input), KIND_BLAST_DOOR, true},
    {"fault_input", offsetof(struct cfg_sensor, fault_input), KIND_SMOKE, false},
    {"input", offsetof(struct cfg_sensor, input), KIND_WATER_LEAK, true},
    {"locked_input", offsetof(struct cfg_sensor, locked_input), KIND_BLAST_DOOR, true},
    {"open_input", offsetof(struct cfg_sensor, open_input), KIND_BLAST_DOOR, false},
};

int kind_sensor_check(const struct cfg_sensor *s, char *why, size_t whylen)
{
    const struct model *m = s->model;

    if ((unsigned)s->kind >= KIND_COUNT) {
        snprintf(why, whylen, "kind: unknown");
        return -1;
    }
    if (m == NULL) {
        snprintf(why, whylen, "model: missing");
        return -1;
    }
    if (!(m->kinds & (1u << s->kind))) {
        snprintf(why, whylen, "model: %s does not serve kind %s", m->name, kind_name(s->kind));
        return -1;
    }
    if (s->kind == KIND_WATER_LEVEL && !(s->pit_depth_m > 0 && isfinite(s->pit_depth_m))) {
        snprintf(why, whylen, "pit_depth: missing or not > 0");
        return -1;
    }

    const struct model_point *inputs = model_point(m, "inputs");
    bool uses_inputs = inputs != NULL && inputs->type == PT_BITS &&
                       !(s->kind == KIND_SMOKE && model_point(m, "state") != NULL);
    uint32_t used = 0;
    for (size_t i = 0; i < NELEM(input_keys); i++) {
        int ch = *(const int *)((const char *)s + input_keys[i].offset);
        const char *key = input_keys[i].key;
        if (input_keys[i].kind != s->kind || !uses_inputs) {
            if (ch >= 0) {
                snprintf(why, whylen, "%s: not used by kind %s on model %s", key,
                         kind_name(s->kind), m->name);
                return -1;
            }
            continue;
        }
        if (ch < 0) {
            if (!input_keys[i].required)
                continue;
            snprintf(why, whylen, "%s: missing (kind %s on model %s)", key, kind_name(s->kind),
                     m->name);
            return -1;
        }
        if (ch >= inputs->bits) {
            snprintf(why, whylen, "%s: channel %d does not exist on %s (0..%d)", key, ch, m->name,
                     inputs->bits - 1);
            return -1;
        }
        if (used & (1u << ch)) {
            snprintf(why, whylen, "%s: channel %d used twice by this sensor", key, ch);
            return -1;
        }
        used |= 1u << ch;
    }
    if (s->inverted_mask & ~used) {
        int ch = 0;
        while (!((s->inverted_mask & ~used) >> ch & 1u))
            ch++;
        snprintf(why, whylen, "inverted_inputs: channel %d is not one of this sensor's inputs", ch);
        return -1;
    }
    return 0;
}

int kind_decode(const struct cfg_sensor *s, int sensor_index, const uint16_t *regs,
                const uint8_t *bits, int64_t ts_ms, struct reading *out)
{
    memset(out, 0, sizeof *out);
    out->sensor = sensor_index;
    out->ts_ms = ts_ms;
    out->quality = Q_GOOD;
    if (s == NULL || s->model == NULL || (unsigned)s->kind >= KIND_COUNT ||
        (model_is_bit_access(s->model) ? bits == NULL : regs == NULL)) {
        errno = EINVAL;
        return -1;
    }
    out->kind = s->kind;
    return kinds[s->kind].decode(s, regs, bits, out);
}

void kind_comm_lost(const struct cfg_sensor *s, int sensor_index, int64_t ts_ms,
                    struct reading *out)
{
    memset(out, 0, sizeof *out);
    out->sensor = sensor_index;
    out->kind = s->kind;
    out->quality = Q_COMM_LOST;
    out->ts_ms = ts_ms;
    out->no_value = true;
}

void format_rfc3339_ms(int64_t ts_ms, char *buf, size_t len)
{
    int64_t sec = ts_ms / 1000, ms = ts_ms % 1000;
    struct tm tm;

    if (ms < 0) { /* floor, so times before 1970 do not count backwards */
        ms += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

int reading_json(const struct reading *r, const char *sensor_name, char *buf, size_t len)
{
    char ts[40];
    int n = -1;
    char *text = NULL;
    cJSON *obj = cJSON_CreateObject();

    if ((unsigned)r->kind >= KIND_COUNT) {
        errno = EINVAL;
        goto out;
    }
    if (obj == NULL)
        goto fail;
    format_rfc3339_ms(r->ts_ms, ts, sizeof ts);
    if (!cJSON_AddStringToObject(obj, "ts", ts) ||
        !cJSON_AddStringToObject(obj, "sensor", sensor_name) ||
        !cJSON_AddStringToObject(obj, "kind", kinds[r->kind].name) ||
        !cJSON_AddStringToObject(obj, "quality", quality_name(r->quality)))
        goto fail;
    /* A silent or undecodable sensor has no values: say so by their absence,
     * never with stale or made-up numbers. */
    if (r->quality != Q_COMM_LOST && !r->no_value && kinds[r->kind].add_values(r, obj) < 0)
        goto fail;
    if ((text = cJSON_PrintUnformatted(obj)) == NULL)
        goto fail;
    size_t tl = strlen(text);
    if (tl + 1 > len) {
        errno = ENOSPC;
        goto out;
    }
    memcpy(buf, text, tl + 1);
    n = (int)tl;
    goto out;
fail:
    errno = ENOMEM;
out:
    cJSON_free(text);
    cJSON_Delete(obj);
    return n;
}
