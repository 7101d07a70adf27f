/*
 * model: register maps of real device models, loaded from data files in
 * sensors/models/ (one `NAME.model` file per model, INI syntax).  A new device
 * model is a new file, not new code.
 *
 * A model says which Modbus function serves it, the span of addresses one
 * read must cover, and named points the sensor kinds know (kind.c's table):
 *   level  (water_level) metres, co2 (co2) ppm, status (co2) non-zero = sensor
 *   error, state (smoke) enum, inputs (di8) discrete inputs; and outputs
 *   (do8) the coils of an output module, written with FC05 or FC15 and read
 *   back with the model's function (FC01).
 * File format: see sensors/models/README and the reference files.
 */
#ifndef GW_MODEL_H
#define GW_MODEL_H

#include <stdint.h>
#include <stdio.h>

#define MODEL_NAME_MAX 48
#define MODEL_POINTS_MAX 8
#define MODEL_UNITS_MAX 8
#define MODEL_ENUM_MAX 8

/* Modbus function codes a model may be read with. */
enum mb_fn { MB_FN_COILS = 1, MB_FN_DISCRETE = 2, MB_FN_HOLDING = 3, MB_FN_INPUT = 4 };

/* How a point is written (an output module's coils): not at all, FC05 one
 * coil per request, or FC15 (write multiple coils, one coil per request). */
enum mb_write { MB_WRITE_NONE = 0, MB_WRITE_SINGLE = 5, MB_WRITE_MULTIPLE = 15 };

/* Register data types.  32-bit types take two registers, high word first
 * unless the point says `word_order = little`. */
enum point_type { PT_UINT16, PT_INT16, PT_UINT32, PT_INT32, PT_FLOAT32, PT_BITS };

struct model_unit { /* raw unit code -> factor to the kind's unit (e.g. cm -> m: 0.01) */
    uint16_t code;
    double factor;
};

struct model_enum { /* raw value -> state name the kind knows (e.g. 1 -> "fire") */
    uint16_t raw;
    char name[16];
};

struct model_point {
    char name[16];    /* role: level, co2, status, state, inputs */
    uint16_t address; /* absolute Modbus address */
    enum point_type type;
    int word_swap;        /* 32-bit: low word first */
    uint16_t bits;        /* PT_BITS: number of inputs (e.g. 8) */
    double scale;         /* value = raw * scale (default 1) ... */
    int decimals_address; /* ... / 10^reg[decimals_address]; -1 when absent */
    int unit_address;     /* factor from units[] by reg[unit_address]; -1 when absent */
    struct model_unit units[MODEL_UNITS_MAX];
    int nunits;
    struct model_enum enums[MODEL_ENUM_MAX];
    int nenums;
    int has_over_range; /* raw >= over_range means "over range" (co2-jxct 5000) */
    uint32_t over_range;
    enum mb_write write; /* the point `outputs` of an output module: how its coils are
                            switched (the model's function reads them back) */
};

struct model {
    char name[MODEL_NAME_MAX];
    char description[128];
    unsigned kinds; /* bit mask of 1u << kind (struct model_kinds) that may use it;
                       0 for an output module (it has a point `outputs`) */
    enum mb_fn function;
    uint16_t start; /* span a single read must cover: [start, start+count) */
    uint16_t count; /* registers (FC03/04) or bits (FC01/02) */
    struct model_point points[MODEL_POINTS_MAX];
    int npoints;
};

struct model_set;

/* The sensor kinds a model's `kinds` key may name, as the loader sees them:
 * the kind table (sensors/kind.c, kind_models_load) hands them in, so models
 * know nothing of kinds but their names and what each checks.  A kind's
 * index in names[] is its bit in struct model.kinds. */
struct model_kinds {
    const char *const *names;
    int count; /* <= 32 */
    /* Has model m what kind k needs?  0, or -1 with a reason in why. */
    int (*check)(int k, const struct model *m, char *why, size_t whylen);
};

/* Load every *.model file in dir, for the kinds given.  Returns NULL on
 * error with a "FILE:LINE: reason" message in err (errors of all files,
 * newline-separated, truncated to errlen).  Caller frees with
 * model_set_free(). */
struct model_set *model_set_load(const char *dir, const struct model_kinds *kinds, char *err,
                                 size_t errlen);
void model_set_free(struct model_set *ms);

/* Look a model up by name; NULL when unknown.  Pointer valid until freed. */
const struct model *model_set_find(const struct model_set *ms, const char *name);
int model_set_count(const struct model_set *ms);
const struct model *model_set_at(const struct model_set *ms, int i);

/* Find a point by role name in a model; NULL when absent. */
const struct model_point *model_point(const struct model *m, const char *name);

/* Decode one numeric point from a register span that starts at m->start.
 * Applies type, sign, word order, scale, decimals and unit factor.
 * Returns 0, or -1 with errno EGW_PLACEHOLDER when a register holds a
 * placeholder value (0xFFFF, 0x7FFF, 0x8000 for 16-bit raw values),
 * EGW_RANGE when a unit code is not in units[], the decimals register is
 * above 6, a float is infinite, or the result is not a finite double (a
 * decoded value is always finite).  *raw_out (may be NULL) gets the
 * undecoded integer value.  Pure. */
int model_decode(const struct model *m, const struct model_point *p, const uint16_t *regs,
                 double *value, uint32_t *raw_out);

/* Unpack a PT_BITS point from a bit read (one byte per bit starting at
 * m->start) into a mask: bit n = input n is 1 (raw, before any polarity).
 * Returns 0, or -1 with errno EINVAL for a non-bits point.  Pure. */
int model_bits(const struct model *m, const struct model_point *p, const uint8_t *bits,
               uint32_t *mask);

/* The written point of an output module: the point `outputs` (type bits,
 * read with FC01, with `write`); NULL when m has none. */
const struct model_point *model_outputs(const struct model *m);

/* State name of an enum point's raw value; NULL when the model lists none. */
const char *model_enum_name(const struct model_point *p, uint32_t raw);

/* 1 when the model is read with FC01/02 (bits), 0 for FC03/04 (registers). */
int model_is_bit_access(const struct model *m);

/* Name of a function code ("FC03") for messages. */
const char *mb_fn_name(enum mb_fn fn);

#endif
