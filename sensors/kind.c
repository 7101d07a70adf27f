/*
 * kind: the per-kind table (see kind.h) and what is done with it: decoding a
 * read into a reading, the checks of models and sensors against what a kind
 * needs, the reading JSON, the deadband, a blast door's movements.
 *
 * Each kind is one row of `kinds`: its fields, the model points and DI
 * channels it reads, and a decoder.  Everything else here walks the rows, so
 * no kind is spelled outside its row and its decoder.
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

#include "gwerr.h"
#include "model.h"

/* A water level this far below the probe is a calibration or wiring fault,
 * not a reading; above 2x the pit depth the probe cannot physically be. */
#define LEVEL_MIN_M (-0.05)
#define LEVEL_MAX_PIT_DEPTHS 2.0

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

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

/* FIELD_STATE values are read through an unsigned. */
_Static_assert(sizeof(enum door_state) == sizeof(unsigned), "enum door_state is not int-sized");
_Static_assert(sizeof(enum smoke_state) == sizeof(unsigned), "enum smoke_state is not int-sized");

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
static int decode_number(const struct sensor_def *s, const char *role, const uint16_t *regs,
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
static int active_inputs(const struct sensor_def *s, const uint8_t *bits, uint32_t *active,
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

static int decode_water_level(const struct sensor_def *s, const uint16_t *regs, const uint8_t *bits,
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

static int decode_water_leak(const struct sensor_def *s, const uint16_t *regs, const uint8_t *bits,
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

static int decode_co2(const struct sensor_def *s, const uint16_t *regs, const uint8_t *bits,
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

static int decode_blast_door(const struct sensor_def *s, const uint16_t *regs, const uint8_t *bits,
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
static int decode_smoke(const struct sensor_def *s, const uint16_t *regs, const uint8_t *bits,
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

/* ---- the table ------------------------------------------------------------ */

#define AT(member) offsetof(struct reading, v.member)
#define DEF(member) offsetof(struct sensor_def, member)

/* Numbers: JSON rounded to what the sensor resolves (water to the mm and the
 * tenth of a percent; CO2 to the ppm, NDIR sensors resolve far coarser); a
 * level is published again when it moved 1 cm, CO2 when it moved 20 ppm. */
#define NUMBER(name, member, unit_, decimals_, deadband_)                                          \
    {                                                                                              \
        .json = name, .influx = name, .type = FIELD_NUMBER, .offset = AT(member), .unit = unit_,   \
        .decimals = decimals_, .deadband = deadband_                                               \
    }
#define BOOL(json_, influx_, member)                                                               \
    {                                                                                              \
        .json = json_, .influx = influx_, .type = FIELD_BOOL, .offset = AT(member), .unit = ""     \
    }
#define STATE(name, member, names)                                                                 \
    {                                                                                              \
        .json = name, .influx = name, .type = FIELD_STATE, .offset = AT(member), .unit = "",       \
        .states = names, .nstates = (int)NELEM(names)                                              \
    }
/* Line protocol has no objects: a door's contacts object becomes contact_* booleans. */
#define CONTACT(name, bit_, present_)                                                              \
    {                                                                                              \
        .json = name, .group = "contacts", .influx = "contact_" name, .type = FIELD_CONTACT,       \
        .offset = AT(blast_door.contacts), .unit = "", .bit = bit_, .present = present_            \
    }

/* clang-format off */
static const struct kind_field water_level_fields[] = {
    NUMBER("level_m", water_level.level_m, "m", 3, 0.01),
    /* follows level_m (the pit depth is fixed): never a reason to publish of its own */
    NUMBER("level_pct", water_level.level_pct, "%", 1, NAN),
};

static const struct kind_field water_leak_fields[] = {
    BOOL("wet", "wet", water_leak.wet),
};

static const struct kind_field co2_fields[] = {
    NUMBER("co2_ppm", co2.co2_ppm, "ppm", 0, 20),
    BOOL(NULL, "over_range", co2.over_range),
    BOOL(NULL, NULL, co2.sensor_error), /* the status register: shows as quality implausible */
};

static const struct kind_field blast_door_fields[] = {
    STATE("door", blast_door.door, door_names),
    CONTACT("closed", CONTACT_CLOSED, 0),
    CONTACT("locked", CONTACT_LOCKED, 0),
    CONTACT("open", CONTACT_OPEN, AT(blast_door.contacts_present)),
};

static const struct kind_field smoke_fields[] = {
    STATE("smoke", smoke.smoke, smoke_names),
};
static const struct kind_point water_level_points[] = {
    {"level", false, "level_m", -100, 100, "0.30"},
};

static const struct kind_point co2_points[] = {
    {"co2", false, "co2_ppm", 0, 1e6, "600"},
    {"status", true, "status", 0, 65535, "0"}, /* non-zero: sensor error */
};

static const struct kind_point smoke_points[] = {
    {"state", false, NULL, 0, 0, NULL}, /* enum of smoke_names; shelter-sim: "smoke" */
};

static const struct kind_key water_level_keys[] = {
    {"pit_depth", DEF(pit_depth_m), 0.01, 100, true}, /* m: levels are % of it */
};

static const struct kind_input water_leak_inputs[] = {
    {"input", DEF(input), true, "wet", "0"},
};

static const struct kind_input blast_door_inputs[] = {
    {"closed_input", DEF(closed_input), true, "closed", "1"},
    {"locked_input", DEF(locked_input), true, "locked", "1"},
    {"open_input", DEF(open_input), false, "open", "0"},
};

static const struct kind_input smoke_inputs[] = {
    {"alarm_input", DEF(alarm_input), true, NULL, NULL}, /* shelter-sim: "smoke" */
    {"fault_input", DEF(fault_input), false, NULL, NULL},
};

#define ROWS(a) a, (int)NELEM(a)
static const struct kind_def kinds[KIND_COUNT] = {
    [KIND_WATER_LEVEL] = {"water_level", ROWS(water_level_fields), .value = 1, .saturated = -1,
                          .points = ROWS(water_level_points), .keys = ROWS(water_level_keys),
                          .decode = decode_water_level},
    [KIND_WATER_LEAK] = {"water_leak", ROWS(water_leak_fields), .value = -1, .saturated = -1,
                         .urgent = true, .inputs = ROWS(water_leak_inputs),
                         .decode = decode_water_leak},
    /* NDIR sensors read low until their lamp and cell are warm */
    [KIND_CO2] = {"co2", ROWS(co2_fields), .value = 0, .saturated = 1, .warmup_ms = 180000,
                  .points = ROWS(co2_points), .decode = decode_co2},
    [KIND_BLAST_DOOR] = {"blast_door", ROWS(blast_door_fields), .value = -1, .saturated = -1,
                         .urgent = true, .inputs = ROWS(blast_door_inputs),
                         .decode = decode_blast_door},
    [KIND_SMOKE] = {"smoke", ROWS(smoke_fields), .value = -1, .saturated = -1, .urgent = true,
                    .points = ROWS(smoke_points), .inputs = ROWS(smoke_inputs),
                    .model_check = check_smoke, .decode = decode_smoke},
};
/* clang-format on */

const struct kind_def *kind_def(enum kind k)
{
    return (unsigned)k < KIND_COUNT ? &kinds[k] : NULL;
}

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

const struct kind_field *kind_field(enum kind k, const char *name)
{
    const struct kind_def *kd = kind_def(k);

    for (int i = 0; kd != NULL && name != NULL && i < kd->nfields; i++) {
        const struct kind_field *f = &kd->fields[i];
        if ((f->json != NULL && strcmp(f->json, name) == 0) ||
            (f->influx != NULL && strcmp(f->influx, name) == 0))
            return f;
    }
    return NULL;
}

static const void *at(const struct reading *r, size_t offset)
{
    return (const char *)r + offset;
}

int kind_state(const struct reading *r, const struct kind_field *f)
{
    switch (f->type) {
    case FIELD_NUMBER:
        return (int)kind_number(r, f);
    case FIELD_BOOL:
        return *(const bool *)at(r, f->offset);
    case FIELD_STATE: /* every state enum of struct reading is an int-sized enum */
        return (int)*(const unsigned *)at(r, f->offset);
    case FIELD_CONTACT:
        return (*(const unsigned *)at(r, f->offset) & f->bit) != 0;
    }
    return 0;
}

double kind_number(const struct reading *r, const struct kind_field *f)
{
    if (f->type == FIELD_NUMBER)
        return *(const double *)at(r, f->offset);
    return kind_state(r, f);
}

bool kind_field_present(const struct reading *r, const struct kind_field *f)
{
    return f->type != FIELD_CONTACT || f->present == 0 ||
           (*(const unsigned *)at(r, f->present) & f->bit) != 0;
}

/* ---- models and sensors ---------------------------------------------------- */

int kind_model_check(enum kind k, const struct model *m, char *why, size_t whylen)
{
    const struct kind_def *kd = kind_def(k);

    if (kd == NULL || m == NULL) {
        snprintf(why, whylen, "no such kind or model");
        return -1;
    }
    if (kd->model_check != NULL)
        return kd->model_check(m, why, whylen);
    for (int i = 0; i < kd->npoints; i++)
        if (need_number(m, kd->points[i].role, kd->points[i].optional, why, whylen) < 0)
            return -1;
    return kd->ninputs > 0 ? need_inputs(m, why, whylen) : 0;
}

static int model_check_of(int k, const struct model *m, char *why, size_t whylen)
{
    return kind_model_check((enum kind)k, m, why, whylen);
}

struct model_set *kind_models_load(const char *dir, char *err, size_t errlen)
{
    const char *names[KIND_COUNT];

    for (int k = 0; k < KIND_COUNT; k++)
        names[k] = kinds[k].name;
    struct model_kinds mk = {names, KIND_COUNT, model_check_of};
    return model_set_load(dir, &mk, err, errlen);
}

/* Does the sensor read its kind through DI channels on this model: the model
 * has inputs and none of the kind's own points (a smoke detector with a
 * state register is not read through a DI module). */
static bool uses_inputs(const struct kind_def *kd, const struct model *m)
{
    const struct model_point *inputs = model_point(m, "inputs");

    if (kd->ninputs == 0 || inputs == NULL || inputs->type != PT_BITS)
        return false;
    for (int i = 0; i < kd->npoints; i++)
        if (model_point(m, kd->points[i].role) != NULL)
            return false;
    return true;
}

struct input_ref {
    const struct kind_input *in;
    enum kind kind;
};

static int cmp_input_key(const void *a, const void *b)
{
    return strcmp(((const struct input_ref *)a)->in->key, ((const struct input_ref *)b)->in->key);
}

int kind_sensor_check(const struct sensor_def *s, char *why, size_t whylen)
{
    const struct model *m = s->model;
    struct input_ref keys[32];
    size_t nkeys = 0;

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
    for (int i = 0; i < kinds[s->kind].nkeys; i++) {
        const struct kind_key *k = &kinds[s->kind].keys[i];
        double v = *(const double *)(const void *)((const char *)s + k->offset);
        if (k->required && !(v > 0 && isfinite(v))) {
            snprintf(why, whylen, "%s: missing or not > 0", k->key);
            return -1;
        }
    }

    /* Every kind's channel keys, in key order: one of another kind is an error too. */
    for (int k = 0; k < KIND_COUNT; k++)
        for (int i = 0; i < kinds[k].ninputs && nkeys < NELEM(keys); i++)
            keys[nkeys++] = (struct input_ref){&kinds[k].inputs[i], (enum kind)k};
    qsort(keys, nkeys, sizeof keys[0], cmp_input_key);

    const struct model_point *inputs = model_point(m, "inputs");
    bool own = uses_inputs(&kinds[s->kind], m);
    uint32_t used = 0;
    for (size_t i = 0; i < nkeys; i++) {
        int ch = *(const int *)(const void *)((const char *)s + keys[i].in->offset);
        const char *key = keys[i].in->key;
        if (keys[i].kind != s->kind || !own) {
            if (ch >= 0) {
                snprintf(why, whylen, "%s: not used by kind %s on model %s", key,
                         kind_name(s->kind), m->name);
                return -1;
            }
            continue;
        }
        if (ch < 0) {
            if (!keys[i].in->required)
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

int kind_decode(const struct sensor_def *s, int sensor_index, const uint16_t *regs,
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

void kind_comm_lost(const struct sensor_def *s, int sensor_index, int64_t ts_ms,
                    struct reading *out)
{
    memset(out, 0, sizeof *out);
    out->sensor = sensor_index;
    out->kind = s->kind;
    out->quality = Q_COMM_LOST;
    out->ts_ms = ts_ms;
    out->no_value = true;
}

/* ---- outputs -------------------------------------------------------------- */

bool kind_moved(const struct reading *a, const struct reading *b)
{
    const struct kind_def *kd = kind_def(a->kind);

    if (a->quality != b->quality || a->no_value != b->no_value)
        return true;
    if (a->no_value)
        return false;
    if (kd == NULL)
        return true;
    for (int i = 0; i < kd->nfields; i++) {
        const struct kind_field *f = &kd->fields[i];
        if (f->type != FIELD_NUMBER) {
            if (kind_state(a, f) != kind_state(b, f))
                return true;
        } else if (!isnan(f->deadband) &&
                   fabs(kind_number(a, f) - kind_number(b, f)) >= f->deadband) {
            return true;
        }
    }
    return false;
}

static double round_to(double v, int decimals)
{
    double f = 1.0;
    for (int i = 0; i < decimals; i++)
        f *= 10.0;
    double r = round(v * f) / f;
    return r == 0 ? 0.0 : r; /* no "-0" in payloads */
}

/* One field into obj.  A number that is not finite is left out: NaN and
 * inf are not JSON (nor InfluxDB fields).  0, or -1 out of memory. */
static int add_field(cJSON *obj, const struct reading *r, const struct kind_field *f)
{
    switch (f->type) {
    case FIELD_NUMBER: {
        double v = round_to(kind_number(r, f), f->decimals);
        if (!isfinite(v))
            return 0;
        return cJSON_AddNumberToObject(obj, f->json, v) ? 0 : -1;
    }
    case FIELD_BOOL:
    case FIELD_CONTACT:
        return cJSON_AddBoolToObject(obj, f->json, kind_state(r, f) != 0) ? 0 : -1;
    case FIELD_STATE:
        return cJSON_AddStringToObject(
                   obj, f->json, name_at(f->states, (size_t)f->nstates, (unsigned)kind_state(r, f)))
                   ? 0
                   : -1;
    }
    return 0;
}

static int add_values(const struct reading *r, cJSON *obj)
{
    const struct kind_def *kd = &kinds[r->kind];
    cJSON *group = NULL;
    const char *group_name = NULL;

    for (int i = 0; i < kd->nfields; i++) {
        const struct kind_field *f = &kd->fields[i];
        cJSON *into = obj;
        if (f->json == NULL)
            continue;
        if (f->group != NULL) {
            if (group == NULL || strcmp(group_name, f->group) != 0) {
                if ((group = cJSON_AddObjectToObject(obj, f->group)) == NULL)
                    return -1;
                group_name = f->group;
            }
            into = group;
        }
        if (kind_field_present(r, f) && add_field(into, r, f) < 0)
            return -1;
    }
    return 0;
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
    if (r->quality != Q_COMM_LOST && !r->no_value && add_values(r, obj) < 0)
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

/* ---- a blast door's movements ---------------------------------------------- */

void door_track_init(struct door_track *t, int64_t now_mono_ms)
{
    *t = (struct door_track){.prev_door = -1, .last_cycle_ms = now_mono_ms};
}

/* Movements: the contact edges since the last reading.  Nothing is known of
 * a movement already under way when tracking starts. */
static void track_movement(struct door_track *t, const struct reading *r, struct door_step *step)
{
    unsigned now = r->v.blast_door.contacts, was = t->contacts;
    unsigned made = now & ~was, released = was & ~now;
    int64_t ts = r->ts_ms;

    if (!t->have) {
        t->have = true;
        t->contacts = now;
        return;
    }
    if (released & CONTACT_OPEN)
        t->left_open_ms = ts;
    if (released & CONTACT_CLOSED)
        t->left_closed_ms = ts;
    int64_t *start = NULL;
    if ((made & CONTACT_CLOSED) && t->left_open_ms > 0) {
        step->movement = "close";
        start = &t->left_open_ms;
    } else if ((made & CONTACT_LOCKED) && (now & CONTACT_CLOSED) && t->closed_at_ms > 0) {
        step->movement = "lock";
        start = &t->closed_at_ms;
    } else if ((made & CONTACT_OPEN) && t->left_closed_ms > 0) {
        step->movement = "open";
        start = &t->left_closed_ms;
    }
    int64_t since = start != NULL ? *start : 0;
    if (made & CONTACT_CLOSED)
        t->closed_at_ms = ts;
    if (start != NULL) {
        step->travel_s = (double)(ts - since) / 1000.0;
        *start = 0;
    }
    t->contacts = now;
}

void door_track_update(struct door_track *t, const struct reading *r, int64_t now_mono_ms,
                       struct door_step *step)
{
    memset(step, 0, sizeof *step);
    if (r->kind != KIND_BLAST_DOOR || r->quality == Q_COMM_LOST || r->no_value)
        return;
    enum door_state door = r->v.blast_door.door;
    step->changed = t->prev_door >= 0 && (int32_t)door != t->prev_door;
    if (door == DOOR_OPEN) {
        t->cycle_phase = 1;
    } else if (door == DOOR_LOCKED && t->cycle_phase == 1) {
        t->cycle_phase = 0;
        t->last_cycle_ms = now_mono_ms; /* a full open -> close -> lock cycle */
        step->cycled = true;
    }
    t->prev_door = (int32_t)door;
    if (r->quality == Q_GOOD)
        track_movement(t, r, step);
}
