/*
 * simstate: see simstate.h.  Owns one struct sim_unit per configured
 * (bus, unit); several sensors may share a unit (a di8 module), each owning
 * only its own channels.  The main design choice: values are never stored
 * semantically.  `set` encodes through the model into raw registers/bits and
 * `get` decodes them back, so a `raw` write (a different unit code, a
 * placeholder) is seen by both the gateway and `get`, and nothing about a
 * device is hard-coded here: addresses, types, unit codes, decimals and
 * enums all come from struct model.  The decoding is our own, independent
 * of model_decode(), so the simulator checks the gateway rather than
 * mirroring it.
 */
#include "simstate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sensorcfg.h"
#include "kind.h"
#include "parse.h"

#define FC_COUNT 256
#define ARGS_MAX 8
#define LEVEL_DECIMALS 2 /* decimals register served for scaled points */
#define WRITES_MAX 1024  /* coil writes recorded (the oldest are forgotten first) */

struct sim_unit {
    int bus, unit;
    struct mbs_tables t;
    struct sim_fault fault;
    unsigned served_fns;         /* bit fc: a sensor's model is read with fc */
    int output_module;           /* an [output]'s module: coils written with FC05/FC15 */
    uint32_t requests[FC_COUNT]; /* received, answered or not, by function code */
};

/* One coil write as received: when, where, what, and what became of it. */
struct sim_write_rec {
    int64_t wall_ms;
    int bus, unit;
    uint8_t fc;
    uint16_t addr, qty;
    uint8_t first; /* the first coil's value */
    const char *outcome;
};

struct simstate {
    const struct sensorcfg *cfg;
    struct sim_unit *units;
    int nunits;
    struct sim_write_rec writes[WRITES_MAX]; /* a ring: the last WRITES_MAX */
    uint64_t nwrites;                        /* recorded since the last reset */
};

__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Strict number parsing (lib/parse.h): the whole string, within [min, max];
 * decimal or 0x hex, and "010" is ten, never eight. */
static int num_long(const char *s, long min, long max, long *out)
{
    char why[160];
    return parse_int_hex(s, min, max, out, why, sizeof(why));
}

static int num_double(const char *s, double min, double max, double *out)
{
    char why[160];
    return parse_double(s, min, max, out, why, sizeof(why));
}

static const struct model_point *point_find(const struct model *m, const char *name)
{
    for (int i = 0; i < m->npoints; i++)
        if (strcmp(m->points[i].name, name) == 0)
            return &m->points[i];
    return NULL;
}

static int is_bit_fn(enum mb_fn fn)
{
    return fn == MB_FN_COILS || fn == MB_FN_DISCRETE;
}

static uint16_t *regs_of(struct sim_unit *u, enum mb_fn fn)
{
    return fn == MB_FN_INPUT ? u->t.input : u->t.holding;
}

static uint8_t *bits_of(struct sim_unit *u, enum mb_fn fn)
{
    return fn == MB_FN_COILS ? u->t.coils : u->t.discrete;
}

static struct sim_unit *unit_find(const struct simstate *st, int bus, int unit)
{
    for (int i = 0; i < st->nunits; i++)
        if (st->units[i].bus == bus && st->units[i].unit == unit)
            return &st->units[i];
    return NULL;
}

static const struct cfg_sensor *sensor_find(const struct simstate *st, const char *name)
{
    for (int i = 0; i < st->cfg->nsensors; i++)
        if (strcmp(st->cfg->sensors[i].name, name) == 0)
            return &st->cfg->sensors[i];
    return NULL;
}

static const struct sensorcfg_output *output_find(const struct simstate *st, const char *name)
{
    for (int i = 0; i < st->cfg->noutputs; i++)
        if (strcmp(st->cfg->outputs[i].name, name) == 0)
            return &st->cfg->outputs[i];
    return NULL;
}

static int bus_find(const struct simstate *st, const char *name)
{
    for (int i = 0; i < st->cfg->nbuses; i++)
        if (strcmp(st->cfg->buses[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- numeric points: raw registers <-> value ---------------------------- */

static const struct type_info {
    enum point_type type;
    int nregs;
    double min, max; /* raw integer range; float32 unbounded */
} type_infos[] = {
    {PT_UINT16, 1, 0, 65535},
    {PT_INT16, 1, -32768, 32767},
    {PT_UINT32, 2, 0, 4294967295.0},
    {PT_INT32, 2, -2147483648.0, 2147483647.0},
    {PT_FLOAT32, 2, -HUGE_VAL, HUGE_VAL},
};

static const struct type_info *type_find(enum point_type t)
{
    for (size_t i = 0; i < sizeof(type_infos) / sizeof(type_infos[0]); i++)
        if (type_infos[i].type == t)
            return &type_infos[i];
    return NULL;
}

/* The factor that turns the raw integer into the kind's unit, from the
 * point's scale and the decimals and unit-code registers as served now. */
static int point_factor(struct sim_unit *u, const struct model *m, const struct model_point *p,
                        double *factor, char *err, size_t errlen)
{
    const uint16_t *regs = regs_of(u, m->function);
    double f = p->scale != 0 ? p->scale : 1.0;

    if (p->decimals_address >= 0) {
        unsigned dec = regs[p->decimals_address];
        if (dec > 9)
            return errf(err, errlen, "decimals register 0x%04x holds %u",
                        (unsigned)p->decimals_address, dec);
        f /= pow(10, dec);
    }
    if (p->unit_address >= 0) {
        uint16_t code = regs[p->unit_address];
        int i;
        for (i = 0; i < p->nunits && p->units[i].code != code; i++)
            ;
        if (i == p->nunits)
            return errf(err, errlen, "unit register 0x%04x holds unknown code 0x%02x",
                        (unsigned)p->unit_address, (unsigned)code);
        f *= p->units[i].factor;
    }
    *factor = f;
    return 0;
}

static void raw_put(uint16_t *regs, const struct model_point *p, int nregs, uint32_t raw)
{
    if (nregs == 1) {
        regs[p->address] = (uint16_t)raw;
    } else if (p->word_swap) {
        regs[p->address] = (uint16_t)(raw & 0xFFFF);
        regs[p->address + 1] = (uint16_t)(raw >> 16);
    } else {
        regs[p->address] = (uint16_t)(raw >> 16);
        regs[p->address + 1] = (uint16_t)(raw & 0xFFFF);
    }
}

static uint32_t raw_get(const uint16_t *regs, const struct model_point *p, int nregs)
{
    if (nregs == 1)
        return regs[p->address];
    if (p->word_swap)
        return (uint32_t)regs[p->address + 1] << 16 | regs[p->address];
    return (uint32_t)regs[p->address] << 16 | regs[p->address + 1];
}

static int point_write(struct sim_unit *u, const struct model *m, const struct model_point *p,
                       double value, char *err, size_t errlen)
{
    const struct type_info *ti = type_find(p->type);
    double factor;

    if (ti == NULL || is_bit_fn(m->function))
        return errf(err, errlen, "point %s of model %s is not a numeric register", p->name,
                    m->name);
    if (point_factor(u, m, p, &factor, err, errlen) < 0)
        return -1;
    double scaled = value / factor;
    uint32_t raw;
    if (p->type == PT_FLOAT32) {
        float fv = (float)scaled;
        memcpy(&raw, &fv, sizeof(raw));
    } else {
        double r = round(scaled);
        if (r < ti->min || r > ti->max)
            return errf(err, errlen, "%g does not fit register 0x%04x (raw %.0f)", value,
                        (unsigned)p->address, r);
        raw = r < 0 ? (uint32_t)(int32_t)r : (uint32_t)r;
    }
    raw_put(regs_of(u, m->function), p, ti->nregs, raw);
    return 0;
}

static int point_read(struct sim_unit *u, const struct model *m, const struct model_point *p,
                      double *value, char *err, size_t errlen)
{
    const struct type_info *ti = type_find(p->type);
    double factor;

    if (ti == NULL || is_bit_fn(m->function))
        return errf(err, errlen, "point %s is not a numeric register", p->name);
    if (point_factor(u, m, p, &factor, err, errlen) < 0)
        return -1;
    uint32_t raw = raw_get(regs_of(u, m->function), p, ti->nregs);
    double v;
    switch (p->type) {
    case PT_INT16:
        v = (int16_t)raw;
        break;
    case PT_INT32:
        v = (int32_t)raw;
        break;
    case PT_FLOAT32: {
        float fv;
        memcpy(&fv, &raw, sizeof(fv));
        v = fv;
        break;
    }
    default:
        v = raw;
        break;
    }
    *value = v * factor;
    return 0;
}

/* ---- discrete channels (di8 and the like) ------------------------------- */

static int channel_base(const struct model *m)
{
    const struct model_point *p = point_find(m, "inputs");
    return p != NULL ? p->address : m->start;
}

/* level = active XOR inverted: a normally-closed channel reads 0 when active. */
static void channel_write(struct sim_unit *u, const struct cfg_sensor *s, int channel, int active)
{
    const struct model *m = s->def.model;
    int level = (active ? 1 : 0) ^ (int)((s->def.inverted_mask >> channel) & 1u);
    int base = channel_base(m);

    if (is_bit_fn(m->function)) {
        bits_of(u, m->function)[base + channel] = (uint8_t)level;
    } else {
        uint16_t *reg = &regs_of(u, m->function)[base];
        *reg = level ? (uint16_t)(*reg | 1u << channel) : (uint16_t)(*reg & ~(1u << channel));
    }
}

static int channel_read(struct sim_unit *u, const struct cfg_sensor *s, int channel)
{
    const struct model *m = s->def.model;
    int base = channel_base(m);
    int level = is_bit_fn(m->function) ? bits_of(u, m->function)[base + channel] != 0
                                       : (regs_of(u, m->function)[base] >> channel) & 1;
    return level ^ (int)((s->def.inverted_mask >> channel) & 1u);
}

static int channel_of(const struct cfg_sensor *s, size_t offset)
{
    return *(const int *)(const void *)((const char *)&s->def + offset);
}

/* ---- fields of each kind ------------------------------------------------- */

/* A field `set` and `get` know: the kind table's (kind.h) model points and
 * DI channels that name a shelter-sim field, and the composite states below. */
struct field_op {
    const char *name;
    int (*set)(const struct cfg_sensor *s, struct sim_unit *u, const struct field_op *f,
               const char *value, char *err, size_t errlen);
    const struct kind_point *point; /* numbers: the model point and its range */
    const struct kind_input *input; /* contacts: the channel */
};

static int set_numeric(const struct cfg_sensor *s, struct sim_unit *u, const struct field_op *f,
                       const char *value, char *err, size_t errlen)
{
    const struct kind_point *kp = f->point;
    const struct model_point *p = point_find(s->def.model, kp->role);
    double v;

    if (p == NULL)
        return errf(err, errlen, "model %s has no %s point", s->def.model->name, kp->role);
    if (num_double(value, kp->sim_min, kp->sim_max, &v) < 0)
        return errf(err, errlen, "%s: '%s' is not a number in %g..%g", f->name, value, kp->sim_min,
                    kp->sim_max);
    return point_write(u, s->def.model, p, v, err, errlen);
}

static int set_contact(const struct cfg_sensor *s, struct sim_unit *u, const struct field_op *f,
                       const char *value, char *err, size_t errlen)
{
    int channel = channel_of(s, f->input->offset);
    long v;

    if (channel < 0)
        return errf(err, errlen, "sensor %s has no %s input", s->name, f->name);
    if (num_long(value, 0, 1, &v) < 0)
        return errf(err, errlen, "%s: '%s' is not 0 or 1", f->name, value);
    channel_write(u, s, channel, (int)v);
    return 0;
}

/* door open|closed|locked: all contacts at once. */
static const struct door_contacts {
    const char *name;
    int closed, locked, open;
} door_table[] = {
    {"open", 0, 0, 1},
    {"closed", 1, 0, 0},
    {"locked", 1, 1, 0},
};

static int set_door(const struct cfg_sensor *s, struct sim_unit *u, const struct field_op *f,
                    const char *value, char *err, size_t errlen)
{
    const struct sensor_def *d = &s->def;
    (void)f;
    for (size_t i = 0; i < sizeof(door_table) / sizeof(door_table[0]); i++) {
        const struct door_contacts *dc = &door_table[i];
        if (strcmp(dc->name, value) != 0)
            continue;
        if (d->closed_input < 0 || d->locked_input < 0)
            return errf(err, errlen, "sensor %s lacks closed/locked inputs", s->name);
        channel_write(u, s, d->closed_input, dc->closed);
        channel_write(u, s, d->locked_input, dc->locked);
        if (d->open_input >= 0)
            channel_write(u, s, d->open_input, dc->open);
        return 0;
    }
    return errf(err, errlen, "door: '%s' is not open, closed or locked", value);
}

static const char *const smoke_names[] = {"normal", "fire", "fault"};

static int set_smoke(const struct cfg_sensor *s, struct sim_unit *u, const struct field_op *f,
                     const char *value, char *err, size_t errlen)
{
    const struct sensor_def *d = &s->def;
    size_t state;
    (void)f;
    for (state = 0; state < 3 && strcmp(smoke_names[state], value) != 0; state++)
        ;
    if (state == 3)
        return errf(err, errlen, "smoke: '%s' is not normal, fire or fault", value);

    if (d->alarm_input >= 0) { /* contacts of a DI module */
        if (state == 2 && d->fault_input < 0)
            return errf(err, errlen, "sensor %s has no fault input", s->name);
        channel_write(u, s, d->alarm_input, state == 1);
        if (d->fault_input >= 0)
            channel_write(u, s, d->fault_input, state == 2);
        return 0;
    }
    const struct model_point *p = point_find(d->model, "state");
    if (p == NULL)
        return errf(err, errlen, "model %s has no state point", d->model->name);
    for (int i = 0; i < p->nenums; i++)
        if (strcmp(p->enums[i].name, value) == 0)
            return point_write(u, d->model, p, p->enums[i].raw, err, errlen);
    return errf(err, errlen, "model %s has no state value for %s", d->model->name, value);
}

/* ---- get: decode each kind ----------------------------------------------- */

/* Up to 6 decimals, trailing zeros dropped: 0.85, 0.3, 600. */
static const char *fmt_number(double v, char *buf, size_t len)
{
    snprintf(buf, len, "%.6f", v);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, len, "0");
    return buf;
}

static int get_smoke(const struct cfg_sensor *s, struct sim_unit *u, char *out, size_t len)
{
    const struct sensor_def *d = &s->def;
    if (d->alarm_input >= 0) {
        int fire = channel_read(u, s, d->alarm_input);
        int fault = d->fault_input >= 0 && channel_read(u, s, d->fault_input);
        return snprintf(out, len, "smoke=%s", smoke_names[fire ? 1 : fault ? 2 : 0]);
    }
    const struct model_point *p = point_find(d->model, "state");
    if (p == NULL || is_bit_fn(d->model->function))
        return snprintf(out, len, "smoke=?");
    uint16_t raw = regs_of(u, d->model->function)[p->address];
    for (int i = 0; i < p->nenums; i++)
        if (p->enums[i].raw == raw)
            return snprintf(out, len, "smoke=%s", p->enums[i].name);
    return snprintf(out, len, "smoke=raw:%u", (unsigned)raw);
}

static int get_door(const struct cfg_sensor *s, struct sim_unit *u, char *out, size_t len)
{
    const struct sensor_def *d = &s->def;
    int closed = d->closed_input >= 0 && channel_read(u, s, d->closed_input);
    int locked = d->locked_input >= 0 && channel_read(u, s, d->locked_input);
    int open = d->open_input >= 0 && channel_read(u, s, d->open_input);
    const char *door = "unknown";
    for (size_t i = 0; i < sizeof(door_table) / sizeof(door_table[0]); i++)
        if (door_table[i].closed == closed && door_table[i].locked == locked &&
            (d->open_input < 0 || door_table[i].open == open))
            door = door_table[i].name;
    return snprintf(out, len, "door=%s", door);
}

/* States made of several points or channels: the simulator's own reading
 * of them, independent of kind.c's, so it checks the gateway. */
static const struct composite {
    enum kind kind;
    struct field_op op;
    int (*get)(const struct cfg_sensor *s, struct sim_unit *u, char *out, size_t len);
    const char *normal; /* initial value, or NULL (set through its channels) */
} composites[] = {
    {KIND_BLAST_DOOR, {"door", set_door, NULL, NULL}, get_door, NULL},
    {KIND_SMOKE, {"smoke", set_smoke, NULL, NULL}, get_smoke, "normal"},
};

/* The field called name of kind k, into *op; -1 when there is none. */
static int field_find(enum kind k, const char *name, struct field_op *op)
{
    const struct kind_def *kd = kind_def(k);

    for (int i = 0; kd != NULL && i < kd->npoints; i++)
        if (kd->points[i].sim_field != NULL && strcmp(kd->points[i].sim_field, name) == 0) {
            *op = (struct field_op){name, set_numeric, &kd->points[i], NULL};
            return 0;
        }
    for (int i = 0; kd != NULL && i < kd->ninputs; i++)
        if (kd->inputs[i].sim_field != NULL && strcmp(kd->inputs[i].sim_field, name) == 0) {
            *op = (struct field_op){name, set_contact, NULL, &kd->inputs[i]};
            return 0;
        }
    for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
        if (composites[i].kind == k && strcmp(composites[i].op.name, name) == 0) {
            *op = composites[i].op;
            return 0;
        }
    return -1;
}

/* Append to out (len bytes) at *n, snprintf style; stops when full. */
__attribute__((format(printf, 4, 5))) static void appendf(char *out, size_t len, size_t *n,
                                                          const char *fmt, ...)
{
    va_list ap;
    if (*n >= len)
        return;
    va_start(ap, fmt);
    int k = vsnprintf(out + *n, len - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n += (size_t)k;
}

static void field_list(enum kind k, char *out, size_t outlen)
{
    const struct kind_def *kd = kind_def(k);
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; kd != NULL && i < kd->npoints; i++)
        if (kd->points[i].sim_field != NULL)
            appendf(out, outlen, &n, "%s%s", n ? ", " : "", kd->points[i].sim_field);
    for (int i = 0; kd != NULL && i < kd->ninputs; i++)
        if (kd->inputs[i].sim_field != NULL)
            appendf(out, outlen, &n, "%s%s", n ? ", " : "", kd->inputs[i].sim_field);
    for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
        if (composites[i].kind == k)
            appendf(out, outlen, &n, "%s%s", n ? ", " : "", composites[i].op.name);
}

/* "level_m=0.85", "co2_ppm=600 status=0", "closed=1 locked=1 open=0 door=locked":
 * each numeric point the model has (a required one also when it does not,
 * as "?"), each channel (an optional one only when wired), then the
 * composite state. */
static void sensor_get(const struct cfg_sensor *s, struct sim_unit *u, char *out, size_t len)
{
    const struct kind_def *kd = kind_def(s->def.kind);
    char err[128], num[32];
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < kd->npoints; i++) {
        const struct kind_point *kp = &kd->points[i];
        const struct model_point *p = point_find(s->def.model, kp->role);
        double v = 0;
        if (kp->sim_field == NULL || (p == NULL && kp->optional))
            continue;
        if (p == NULL || point_read(u, s->def.model, p, &v, err, sizeof(err)) < 0)
            appendf(out, len, &n, "%s%s=?", n ? " " : "", kp->sim_field);
        else
            appendf(out, len, &n, "%s%s=%s", n ? " " : "", kp->sim_field,
                    fmt_number(v, num, sizeof(num)));
    }
    for (int i = 0; i < kd->ninputs; i++) {
        const struct kind_input *in = &kd->inputs[i];
        int ch = channel_of(s, in->offset);
        if (in->sim_field == NULL || (ch < 0 && !in->required))
            continue;
        appendf(out, len, &n, "%s%s=%d", n ? " " : "", in->sim_field,
                ch >= 0 && channel_read(u, s, ch));
    }
    for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++) {
        if (composites[i].kind != s->def.kind)
            continue;
        appendf(out, len, &n, "%s", n ? " " : "");
        if (n < len)
            composites[i].get(s, u, out + n, len - n);
    }
}

/* ---- the state ----------------------------------------------------------- */

/* Check that everything a sensor's model and inputs address lies in 0..255. */
static int sensor_check(const struct cfg_sensor *s, char *err, size_t errlen)
{
    const struct model *m = s->def.model;
    const struct kind_def *kd = kind_def(s->def.kind);

    if (m == NULL)
        return errf(err, errlen, "sensor %s has no model", s->name);
    if ((unsigned)m->start + m->count > MBS_ADDR_COUNT)
        return errf(err, errlen, "sensor %s: model %s spans beyond address 255", s->name, m->name);
    for (int i = 0; i < m->npoints; i++) {
        const struct model_point *p = &m->points[i];
        const struct type_info *ti = type_find(p->type);
        int end = p->address + (ti != NULL ? ti->nregs : 1);
        if (end > MBS_ADDR_COUNT || p->decimals_address >= MBS_ADDR_COUNT ||
            p->unit_address >= MBS_ADDR_COUNT)
            return errf(err, errlen, "sensor %s: model %s point %s beyond address 255", s->name,
                        m->name, p->name);
    }
    for (int i = 0; kd != NULL && i < kd->ninputs; i++) {
        int limit = is_bit_fn(m->function) ? MBS_ADDR_COUNT - channel_base(m) : 16;
        int ch = channel_of(s, kd->inputs[i].offset);
        if (ch >= limit)
            return errf(err, errlen, "sensor %s: input %d out of range", s->name, ch);
    }
    return 0;
}

/* Serve the unit the point's factor is closest to 1 in (m for a level), and
 * LEVEL_DECIMALS decimals, so that set/get have a defined scale. */
static void sensor_prepare_scale(const struct cfg_sensor *s, struct sim_unit *u)
{
    const struct model *m = s->def.model;
    if (is_bit_fn(m->function))
        return;
    uint16_t *regs = regs_of(u, m->function);
    for (int i = 0; i < m->npoints; i++) {
        const struct model_point *p = &m->points[i];
        if (p->unit_address >= 0 && p->nunits > 0) {
            int best = 0;
            for (int k = 1; k < p->nunits; k++)
                if (fabs(log(p->units[k].factor)) < fabs(log(p->units[best].factor)))
                    best = k;
            regs[p->unit_address] = p->units[best].code;
        }
        if (p->decimals_address >= 0)
            regs[p->decimals_address] = LEVEL_DECIMALS;
    }
}

static int sensor_init(struct simstate *st, const struct cfg_sensor *s, char *err, size_t errlen)
{
    struct sim_unit *u = unit_find(st, s->bus, s->unit);
    char why[160];

    sensor_prepare_scale(s, u);
    /* The normal state; optional points and channels only where the sensor has them. */
    const struct kind_def *kd = kind_def(s->def.kind);
    struct field_op f;
    for (int i = 0; i < kd->npoints; i++) {
        const struct kind_point *kp = &kd->points[i];
        if (kp->sim_normal == NULL || field_find(s->def.kind, kp->sim_field, &f) < 0)
            continue;
        if (f.set(s, u, &f, kp->sim_normal, why, sizeof(why)) < 0 && !kp->optional)
            return errf(err, errlen, "sensor %s: initial %s %s: %s", s->name, kp->sim_field,
                        kp->sim_normal, why);
    }
    for (int i = 0; i < kd->ninputs; i++) {
        const struct kind_input *in = &kd->inputs[i];
        if (in->sim_normal == NULL || field_find(s->def.kind, in->sim_field, &f) < 0)
            continue;
        if (f.set(s, u, &f, in->sim_normal, why, sizeof(why)) < 0 && in->required)
            return errf(err, errlen, "sensor %s: initial %s %s: %s", s->name, in->sim_field,
                        in->sim_normal, why);
    }
    for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++) {
        const struct composite *c = &composites[i];
        if (c->kind != s->def.kind || c->normal == NULL)
            continue;
        if (c->op.set(s, u, &c->op, c->normal, why, sizeof(why)) < 0)
            return errf(err, errlen, "sensor %s: initial %s %s: %s", s->name, c->op.name, c->normal,
                        why);
    }
    return 0;
}

struct simstate *simstate_new(const struct sensorcfg *c, char *err, size_t errlen)
{
    struct simstate *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->cfg = c;
    st->units = calloc((size_t)c->nsensors + (size_t)c->noutputs + 1, sizeof(*st->units));
    if (st->units == NULL)
        goto fail;
    for (int i = 0; i < c->nsensors; i++) {
        const struct cfg_sensor *s = &c->sensors[i];
        if (sensor_check(s, err, errlen) < 0) {
            errno = EINVAL;
            goto fail;
        }
        struct sim_unit *u = unit_find(st, s->bus, s->unit);
        if (u == NULL) {
            u = &st->units[st->nunits++];
            u->bus = s->bus;
            u->unit = s->unit;
        }
        u->served_fns |= 1u << s->def.model->function;
    }
    for (int i = 0; i < c->noutputs; i++) {
        const struct sensorcfg_output *o = &c->outputs[i];
        struct sim_unit *u = unit_find(st, o->bus, o->unit);
        if (u == NULL) {
            u = &st->units[st->nunits++];
            u->bus = o->bus;
            u->unit = o->unit;
        }
        u->served_fns |= 1u << o->model->function;
        u->output_module = 1;
    }
    for (int i = 0; i < c->nsensors; i++)
        if (sensor_init(st, &c->sensors[i], err, errlen) < 0) {
            errno = EINVAL;
            goto fail;
        }
    return st;
fail:
    simstate_free(st);
    return NULL;
}

void simstate_free(struct simstate *st)
{
    if (st == NULL)
        return;
    int saved = errno;
    free(st->units);
    free(st);
    errno = saved;
}

struct mbs_tables *simstate_tables(struct simstate *st, int bus, int unit)
{
    struct sim_unit *u = unit_find(st, bus, unit);
    return u != NULL ? &u->t : NULL;
}

struct sim_fault simstate_fault(const struct simstate *st, int bus, int unit)
{
    const struct sim_unit *u = unit_find(st, bus, unit);
    struct sim_fault none = {SIM_FAULT_NONE, 0};
    return u != NULL ? u->fault : none;
}

void simstate_count(struct simstate *st, int bus, int unit, uint8_t fc)
{
    struct sim_unit *u = unit_find(st, bus, unit);
    if (u != NULL)
        u->requests[fc]++;
}

static void write_record(struct simstate *st, const struct sim_write_rec *r)
{
    st->writes[st->nwrites % WRITES_MAX] = *r;
    st->nwrites++;
}

int simstate_write(struct simstate *st, int bus, int unit, const uint8_t *pdu, size_t pdulen,
                   int64_t wall_ms, uint8_t *resp)
{
    struct sim_unit *u = unit_find(st, bus, unit);
    struct mbs_write w;
    struct sim_write_rec rec = {.wall_ms = wall_ms, .bus = bus, .unit = unit};
    int ex;

    if (u == NULL || pdulen == 0)
        return 0;
    rec.fc = pdu[0];
    if (!u->output_module)
        return mbs_pdu_exception(pdu[0], MBS_EX_ILLEGAL_FUNCTION, resp);
    if ((ex = mbs_write_parse(pdu, pdulen, &w)) != 0) {
        rec.outcome = "invalid";
        write_record(st, &rec);
        return mbs_pdu_exception(pdu[0], (uint8_t)ex, resp);
    }
    rec.addr = w.addr;
    rec.qty = w.qty;
    rec.first = w.bits[0];
    switch (u->fault.mode) {
    case SIM_FAULT_MUTE:
        rec.outcome = "muted";
        write_record(st, &rec);
        return 0;
    case SIM_FAULT_REFUSE:
    case SIM_FAULT_EXCEPTION:
        rec.outcome = "refused";
        write_record(st, &rec);
        return mbs_pdu_exception(pdu[0], (uint8_t)u->fault.arg, resp);
    case SIM_FAULT_STUCK:
        rec.outcome = "stuck";
        break;
    default:
        rec.outcome = "applied";
        mbs_write_apply(&u->t, &w);
        break;
    }
    write_record(st, &rec);
    return mbs_write_reply(&w, resp);
}

int simstate_set(struct simstate *st, const char *sensor, const char *field, const char *value,
                 char *err, size_t errlen)
{
    const struct cfg_sensor *s = sensor_find(st, sensor);
    char fields[128];

    if (s == NULL)
        return errf(err, errlen, "no sensor %s", sensor);
    struct field_op f;
    if (field_find(s->def.kind, field, &f) < 0) {
        field_list(s->def.kind, fields, sizeof(fields));
        return errf(err, errlen, "sensor %s has no field %s (fields: %s)", sensor, field, fields);
    }
    return f.set(s, unit_find(st, s->bus, s->unit), &f, value, err, errlen);
}

int simstate_get(struct simstate *st, const char *sensor, char *out, size_t outlen)
{
    const struct cfg_sensor *s = sensor_find(st, sensor);
    const struct sensorcfg_output *o = s == NULL ? output_find(st, sensor) : NULL;
    if (o != NULL) {
        const struct model_point *p = model_outputs(o->model);
        struct sim_unit *u = unit_find(st, o->bus, o->unit);
        int addr = (p != NULL ? p->address : 0) + o->channel;
        snprintf(out, outlen, "on=%d", addr < MBS_ADDR_COUNT && u->t.coils[addr] ? 1 : 0);
        return 0;
    }
    if (s == NULL)
        return errf(out, outlen, "no sensor %s", sensor);
    if (kind_def(s->def.kind) == NULL)
        return errf(out, outlen, "sensor %s: kind not simulated", sensor);
    sensor_get(s, unit_find(st, s->bus, s->unit), out, outlen);
    return 0;
}

/* ---- control commands ---------------------------------------------------- */

static int cmd_set(struct simstate *st, int argc, char **argv, char *reply, size_t len)
{
    char err[256];
    (void)argc;
    if (simstate_set(st, argv[1], argv[2], argv[3], err, sizeof(err)) < 0)
        return errf(reply, len, "error: %s", err);
    snprintf(reply, len, "ok");
    return 0;
}

static int cmd_get(struct simstate *st, int argc, char **argv, char *reply, size_t len)
{
    char out[256];
    (void)argc;
    if (simstate_get(st, argv[1], out, sizeof(out)) < 0)
        return errf(reply, len, "error: %s", out);
    snprintf(reply, len, "ok %s", out);
    return 0;
}

static const struct fn_name {
    const char *name;
    enum mb_fn fn;
} fn_names[] = {
    {"1", MB_FN_COILS},    {"fc01", MB_FN_COILS},    {"coils", MB_FN_COILS},
    {"2", MB_FN_DISCRETE}, {"fc02", MB_FN_DISCRETE}, {"discrete", MB_FN_DISCRETE},
    {"3", MB_FN_HOLDING},  {"fc03", MB_FN_HOLDING},  {"holding", MB_FN_HOLDING},
    {"4", MB_FN_INPUT},    {"fc04", MB_FN_INPUT},    {"input", MB_FN_INPUT},
};

static int cmd_raw(struct simstate *st, int argc, char **argv, char *reply, size_t len)
{
    int bus = bus_find(st, argv[1]);
    long unit, addr, value;
    size_t i;

    (void)argc;
    if (bus < 0)
        return errf(reply, len, "error: no bus %s", argv[1]);
    if (num_long(argv[2], 0, 255, &unit) < 0)
        return errf(reply, len, "error: unit '%s' is not 0..255", argv[2]);
    struct sim_unit *u = unit_find(st, bus, (int)unit);
    if (u == NULL)
        return errf(reply, len, "error: no sensor at %s:%ld", argv[1], unit);
    for (i = 0; i < sizeof(fn_names) / sizeof(fn_names[0]); i++)
        if (strcasecmp(fn_names[i].name, argv[3]) == 0)
            break;
    if (i == sizeof(fn_names) / sizeof(fn_names[0]))
        return errf(reply, len, "error: function '%s' is not 1..4", argv[3]);
    enum mb_fn fn = fn_names[i].fn;
    if (num_long(argv[4], 0, MBS_ADDR_COUNT - 1, &addr) < 0)
        return errf(reply, len, "error: address '%s' is not 0..255", argv[4]);
    if (is_bit_fn(fn)) {
        if (num_long(argv[5], 0, 1, &value) < 0)
            return errf(reply, len, "error: bit value '%s' is not 0 or 1", argv[5]);
        bits_of(u, fn)[addr] = (uint8_t)value;
    } else {
        if (num_long(argv[5], -32768, 65535, &value) < 0)
            return errf(reply, len, "error: register value '%s' is not -32768..65535", argv[5]);
        regs_of(u, fn)[addr] = (uint16_t)value;
    }
    snprintf(reply, len, "ok");
    return 0;
}

static const struct fault_mode {
    const char *name;
    enum sim_fault_mode mode;
    int has_arg;
    long min, max;
} fault_modes[] = {
    {"none", SIM_FAULT_NONE, 0, 0, 0},
    {"mute", SIM_FAULT_MUTE, 0, 0, 0},
    {"slow", SIM_FAULT_SLOW, 1, 1, 600000},
    {"badcrc", SIM_FAULT_BADCRC, 0, 0, 0},
    {"exception", SIM_FAULT_EXCEPTION, 1, 1, 255},
    {"unit", SIM_FAULT_UNIT, 1, 0, 255},
    {"refuse", SIM_FAULT_REFUSE, 1, 1, 255},
    {"stuck", SIM_FAULT_STUCK, 0, 0, 0},
};

/* TARGET is a sensor name (its whole unit) or BUS:UNIT. */
static struct sim_unit *target_find(struct simstate *st, const char *target)
{
    const struct cfg_sensor *s = sensor_find(st, target);
    if (s != NULL)
        return unit_find(st, s->bus, s->unit);
    const struct sensorcfg_output *o = output_find(st, target);
    if (o != NULL)
        return unit_find(st, o->bus, o->unit);
    const char *colon = strrchr(target, ':');
    char busname[CFG_NAME_MAX];
    long unit;
    if (colon == NULL || (size_t)(colon - target) >= sizeof(busname))
        return NULL;
    memcpy(busname, target, (size_t)(colon - target));
    busname[colon - target] = '\0';
    int bus = bus_find(st, busname);
    if (bus < 0 || num_long(colon + 1, 0, 255, &unit) < 0)
        return NULL;
    return unit_find(st, bus, (int)unit);
}

static int cmd_fault(struct simstate *st, int argc, char **argv, char *reply, size_t len)
{
    struct sim_unit *u = target_find(st, argv[1]);
    size_t i;
    long arg = 0;

    if (u == NULL)
        return errf(reply, len, "error: no sensor or BUS:UNIT %s", argv[1]);
    for (i = 0; i < sizeof(fault_modes) / sizeof(fault_modes[0]); i++)
        if (strcmp(fault_modes[i].name, argv[2]) == 0)
            break;
    if (i == sizeof(fault_modes) / sizeof(fault_modes[0]))
        return errf(reply, len,
                    "error: fault mode '%s' is not none, mute, slow, badcrc, exception, unit, "
                    "refuse or stuck",
                    argv[2]);
    const struct fault_mode *fm = &fault_modes[i];
    if (fm->has_arg != (argc == 4))
        return errf(reply, len, "error: fault %s %s", fm->name,
                    fm->has_arg ? "needs an argument" : "takes no argument");
    if (fm->has_arg && num_long(argv[3], fm->min, fm->max, &arg) < 0)
        return errf(reply, len, "error: fault %s: '%s' is not %ld..%ld", fm->name, argv[3], fm->min,
                    fm->max);
    u->fault.mode = fm->mode;
    u->fault.arg = (int)arg;
    snprintf(reply, len, "ok %s:%d %s", st->cfg->buses[u->bus].name, u->unit, fm->name);
    return 0;
}

static int cmd_stats(struct simstate *st, int argc, char **argv, char *reply, size_t len)
{
    if (argc == 2 && strcmp(argv[1], "total") == 0) { /* one line, for hundreds of units */
        unsigned long long total = 0;
        for (int i = 0; i < st->nunits; i++)
            for (int fc = 0; fc < FC_COUNT; fc++)
                total += st->units[i].requests[fc];
        snprintf(reply, len, "ok requests=%llu", total);
        return 0;
    }
    if (argc == 2) {
        if (strcmp(argv[1], "reset") != 0)
            return errf(reply, len, "error: stats takes only 'reset' or 'total'");
        for (int i = 0; i < st->nunits; i++)
            memset(st->units[i].requests, 0, sizeof(st->units[i].requests));
        snprintf(reply, len, "ok");
        return 0;
    }
    size_t n = (size_t)snprintf(reply, len, "ok");
    for (int i = 0; i < st->nunits; i++) {
        const struct sim_unit *u = &st->units[i];
        for (int fc = 0; fc < FC_COUNT; fc++) {
            if (u->requests[fc] == 0 && (fc >= 32 || !(u->served_fns & 1u << fc)))
                continue;
            if (n < len)
                n += (size_t)snprintf(reply + n, len - n, "\n%s %d FC%02d requests=%u",
                                      st->cfg->buses[u->bus].name, u->unit, fc,
                                      (unsigned)u->requests[fc]);
        }
    }
    if (n < len)
        n += (size_t)snprintf(reply + n, len - n, "\n.");
    if (n >= len)
        return errf(reply, len, "error: stats reply too long");
    return 0;
}

/* writes: every recorded coil write, one line each, oldest first:
 * "BUS UNIT FCnn addr=A qty=Q value=V ms=WALL OUTCOME", then ".".
 * writes reset: forget them. */
static int cmd_writes(struct simstate *st, int argc, char **argv, char *reply, size_t len)
{
    if (argc == 2) {
        if (strcmp(argv[1], "reset") != 0)
            return errf(reply, len, "error: writes takes only 'reset'");
        st->nwrites = 0;
        snprintf(reply, len, "ok");
        return 0;
    }
    size_t n = (size_t)snprintf(reply, len, "ok");
    uint64_t first = st->nwrites > WRITES_MAX ? st->nwrites - WRITES_MAX : 0;
    for (uint64_t i = first; i < st->nwrites && n < len; i++) {
        const struct sim_write_rec *r = &st->writes[i % WRITES_MAX];
        n += (size_t)snprintf(reply + n, len - n,
                              "\n%s %d FC%02u addr=%u qty=%u value=%u ms=%lld %s",
                              st->cfg->buses[r->bus].name, r->unit, r->fc, r->addr, r->qty,
                              r->first, (long long)r->wall_ms, r->outcome);
    }
    if (n < len)
        n += (size_t)snprintf(reply + n, len - n, "\n.");
    if (n >= len)
        return errf(reply, len, "error: writes reply too long (writes reset)");
    return 0;
}

static const struct command {
    const char *verb;
    int min_args, max_args; /* argc including the verb */
    const char *usage;
    int (*run)(struct simstate *st, int argc, char **argv, char *reply, size_t len);
} commands[] = {
    {"fault", 3, 4, "fault TARGET MODE [ARG]", cmd_fault},
    {"get", 2, 2, "get SENSOR", cmd_get},
    {"raw", 6, 6, "raw BUS UNIT FN ADDR VALUE", cmd_raw},
    {"set", 4, 4, "set SENSOR FIELD VALUE", cmd_set},
    {"stats", 1, 2, "stats [reset|total]", cmd_stats},
    {"writes", 1, 2, "writes [reset]", cmd_writes},
};

int simstate_command(struct simstate *st, const char *line, char *reply, size_t replylen)
{
    char buf[512];
    char *argv[ARGS_MAX + 1];
    int argc = 0;

    if (snprintf(buf, sizeof(buf), "%s", line) >= (int)sizeof(buf))
        return errf(reply, replylen, "error: command too long");
    for (char *save = NULL, *tok = strtok_r(buf, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (argc == ARGS_MAX)
            return errf(reply, replylen, "error: too many arguments");
        argv[argc++] = tok;
    }
    if (argc == 0)
        return 1;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (strcmp(c->verb, argv[0]) != 0)
            continue;
        if (argc < c->min_args || argc > c->max_args)
            return errf(reply, replylen, "error: usage: %s", c->usage);
        return c->run(st, argc, argv, reply, replylen) < 0 ? -1 : 0;
    }
    return 1;
}
