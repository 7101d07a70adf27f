/*
 * model: device register maps loaded from `NAME.model` files (INI), and the
 * pure decoder that turns registers into numbers with them.
 *
 * Design choice: a model file is read by the project's one configuration
 * front-end (lib/ini.h), so it follows the same line rules as gateway.conf
 * (indentation, comments, UTF-8, line length) and reports the same way,
 * FILE:LINE: [section] key: reason.  Here are only the key tables of [model]
 * and [point NAME], their parsers, and the checks that need the whole file
 * (address inside the read span, type against function, what the kinds
 * need), reported at the line of the key concerned.  All problems of all
 * files are collected, none stops the load early.
 *
 * Owns: the loaded models (one array per set), freed by model_set_free().
 */
#include "model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gwerr.h"
#include "ini.h"

#define MODEL_SUFFIX ".model"
#define WHY_MAX 160
#define LIST_MAX 512 /* a list value (kinds, units, enum) copied to be cut up */

struct model_set {
    struct model *models; /* sorted by name */
    int count;
};

/* ---- the error text: every problem of every file ------------------------ */

struct errs { /* newline-separated "FILE:LINE: reason" lines, cut to len */
    char *buf;
    size_t len;
    size_t used;
    int count; /* problems that fail the load */
};

static void errs_write(struct errs *e, const char *text)
{
    if (e->buf == NULL || e->len == 0 || e->used + 1 >= e->len)
        return;
    int n = snprintf(e->buf + e->used, e->len - e->used, "%s%s", e->used ? "\n" : "", text);
    if (n < 0)
        return;
    /* Truncated: keep what fits, the buffer is then full. */
    e->used = (size_t)n >= e->len - e->used ? e->len - 1 : e->used + (size_t)n;
}

/* A problem of a directory or of a whole file: "PATH: reason". */
static void errs_add(struct errs *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errs_add(struct errs *e, const char *path, const char *fmt, ...)
{
    char msg[512], text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(text, sizeof text, "%s: %s", path, msg);
    errs_write(e, text);
    e->count++;
}

/* ---- names ---------------------------------------------------------------- */

/* Names of points, enum states and models: [a-z0-9_] (models also '-', '.'),
 * starting with a letter or digit, so they are safe in topics and fields. */
static int valid_name(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);

    if (n == 0 || n >= max || !isalnum((unsigned char)s[0]))
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' ||
              (extra && *s && strchr(extra, *s))))
            return 0;
    return 1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* ---- tables ------------------------------------------------------------- */

static const struct {
    enum mb_fn fn;
    const char *number, *word, *label;
    int bit_access;     /* FC01/02 read bits, FC03/04 registers */
    unsigned max_count; /* Modbus limit of one read */
} fn_table[] = {
    {MB_FN_COILS, "1", "coils", "FC01", 1, 2000},
    {MB_FN_DISCRETE, "2", "discrete", "FC02", 1, 2000},
    {MB_FN_HOLDING, "3", "holding", "FC03", 0, 125},
    {MB_FN_INPUT, "4", "input", "FC04", 0, 125},
};
#define NFN (sizeof fn_table / sizeof fn_table[0])

static int fn_index(enum mb_fn fn)
{
    for (size_t i = 0; i < NFN; i++)
        if (fn_table[i].fn == fn)
            return (int)i;
    return -1;
}

const char *mb_fn_name(enum mb_fn fn)
{
    int i = fn_index(fn);
    return i < 0 ? "FC??" : fn_table[i].label;
}

static const struct {
    const char *name;
    enum point_type type;
    int words; /* registers one value takes; 0 for bits */
    int is_signed, is_float;
} type_table[] = {
    {"bits", PT_BITS, 0, 0, 0},   {"float32", PT_FLOAT32, 2, 1, 1}, {"int16", PT_INT16, 1, 1, 0},
    {"int32", PT_INT32, 2, 1, 0}, {"uint16", PT_UINT16, 1, 0, 0},   {"uint32", PT_UINT32, 2, 0, 0},
};
#define NTYPES (sizeof type_table / sizeof type_table[0])

static int type_index(enum point_type t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (type_table[i].type == t)
            return (int)i;
    return -1;
}

/* What devices put in a value register when they have no measurement
 * (docs/design.md section 7); the 32-bit forms are the same patterns widened. */
static const uint32_t placeholders16[] = {0xFFFFu, 0x7FFFu, 0x8000u};
static const uint32_t placeholders32[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u};

#define DECIMALS_MAX 6
static const double pow10_table[DECIMALS_MAX + 1] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};

/* Largest number of inputs a bits point may have: the channel mask of a
 * sensor (cfg_sensor.inverted_mask) is an unsigned. */
#define POINT_BITS_MAX 32

/* ---- loading ------------------------------------------------------------ */

enum model_key { MK_COUNT, MK_DESCRIPTION, MK_FUNCTION, MK_KINDS, MK_NAME, MK_START, MK_NKEYS };
enum point_key {
    PK_ADDRESS,
    PK_BITS,
    PK_DECIMALS_REGISTER,
    PK_ENUM,
    PK_OVER_RANGE,
    PK_SCALE,
    PK_TYPE,
    PK_UNIT_REGISTER,
    PK_UNITS,
    PK_WORD_ORDER,
    PK_WRITE,
    PK_NKEYS
};

struct load {                /* loading one file */
    const char *expect_name; /* the file's basename */
    struct ini *ini;
    struct model *m;
    int model_line; /* line of [model], 0 when absent */
    struct ini_keyset model_ks;
    int point_line[MODEL_POINTS_MAX];
    struct ini_keyset point_ks[MODEL_POINTS_MAX];
    /* The kinds the caller knows (struct model_kinds): the `kinds` key
     * looks their names up in its own copy of the tables. */
    const struct model_kinds *kinds;
    struct name_value kind_names[32 + 1];
    struct ini_key model_keys[MK_NKEYS];
    struct ini_section sections[2];
};

/* An unsigned number, decimal or 0x hex (register maps are written from
 * data sheets; leading zeros are decimal): 0, or -1. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char why[WHY_MAX];
    long v;

    if (!isdigit((unsigned char)s[0]) || parse_int_hex(s, 0, (long)max, &v, why, sizeof why) < 0)
        return -1;
    *out = (unsigned long)v;
    return 0;
}

static int parse_real(const char *s, double *out)
{
    char why[WHY_MAX];
    return parse_double(s, -DBL_MAX, DBL_MAX, out, why, sizeof why);
}

/* Key parsers (lib/ini.h): the field is the key's, in struct model for
 * [model] and in struct model_point for [point NAME]; the list keys get the
 * whole point (offset 0). */

/* A count 1..k->max (a read's registers or bits, a point's inputs). */
static int p_count(const struct ini_key *k, const char *value, void *field, char *why,
                   size_t whylen)
{
    unsigned long v;
    if (parse_uint(value, (unsigned long)k->max, &v) < 0 || v == 0) {
        snprintf(why, whylen, "'%s' is not a number of 1..%lu", value, (unsigned long)k->max);
        return -1;
    }
    *(uint16_t *)field = (uint16_t)v;
    return 0;
}

static int p_function(const struct ini_key *k, const char *value, void *field, char *why,
                      size_t whylen)
{
    (void)k;
    for (size_t i = 0; i < NFN; i++)
        if (strcmp(value, fn_table[i].number) == 0 || strcmp(value, fn_table[i].word) == 0) {
            *(enum mb_fn *)field = fn_table[i].fn;
            return 0;
        }
    snprintf(why, whylen, "'%s' is not 1, 2, 3, 4, coils, discrete, holding or input", value);
    return -1;
}

static int p_kinds(const struct ini_key *k, const char *value, void *field, char *why,
                   size_t whylen)
{
    unsigned kinds = 0;
    char copy[LIST_MAX], *save = NULL;

    snprintf(copy, sizeof copy, "%s", value); /* cut up in place */
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const struct name_value *nv = k->names; /* the caller's kinds (load_file) */
        tok = trim(tok);
        while (nv->name != NULL && strcmp(nv->name, tok) != 0)
            nv++;
        if (nv->name == NULL) {
            snprintf(why, whylen, "unknown kind '%s'", tok);
            return -1;
        }
        int kd = nv->value;
        if (kinds & (1u << kd)) {
            snprintf(why, whylen, "kind '%s' listed twice", tok);
            return -1;
        }
        kinds |= 1u << kd;
    }
    if (kinds == 0) {
        snprintf(why, whylen, "no kind given");
        return -1;
    }
    *(unsigned *)field = kinds;
    return 0;
}

/* An address 0..0xFFFF, into a uint16_t or an int field. */
static int p_address(const struct ini_key *k, const char *value, void *field, char *why,
                     size_t whylen)
{
    unsigned long v;
    if (parse_uint(value, 0xFFFF, &v) < 0) {
        snprintf(why, whylen, "'%s' is not an address 0..0xFFFF", value);
        return -1;
    }
    if (k->size == sizeof(uint16_t))
        *(uint16_t *)field = (uint16_t)v;
    else
        *(int *)field = (int)v;
    return 0;
}

/* "a:b, c:d" lists; calls item() with each trimmed pair. */
static int parse_pairs(struct model_point *p, const char *value, char *why, size_t whylen,
                       int (*item)(struct model_point *p, char *key, char *val, char *why,
                                   size_t whylen))
{
    char copy[LIST_MAX], *save = NULL;
    int n = 0;

    snprintf(copy, sizeof copy, "%s", value); /* cut up in place */
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon == NULL) {
            snprintf(why, whylen, "'%s' is not CODE:VALUE", trim(tok));
            return -1;
        }
        *colon = '\0';
        if (item(p, trim(tok), trim(colon + 1), why, whylen) < 0)
            return -1;
        n++;
    }
    if (n == 0) {
        snprintf(why, whylen, "empty list");
        return -1;
    }
    return 0;
}

static int unit_item(struct model_point *p, char *key, char *val, char *why, size_t whylen)
{
    unsigned long code;
    double factor;

    if (parse_uint(key, 0xFFFF, &code) < 0) {
        snprintf(why, whylen, "unit code '%s' is not 0..0xFFFF", key);
        return -1;
    }
    if (parse_real(val, &factor) < 0 || factor <= 0) {
        snprintf(why, whylen, "factor '%s' is not a positive number", val);
        return -1;
    }
    for (int i = 0; i < p->nunits; i++)
        if (p->units[i].code == code) {
            snprintf(why, whylen, "unit code 0x%lX listed twice", code);
            return -1;
        }
    if (p->nunits == MODEL_UNITS_MAX) {
        snprintf(why, whylen, "more than %d unit codes", MODEL_UNITS_MAX);
        return -1;
    }
    p->units[p->nunits].code = (uint16_t)code;
    p->units[p->nunits].factor = factor;
    p->nunits++;
    return 0;
}

static int enum_item(struct model_point *p, char *key, char *val, char *why, size_t whylen)
{
    unsigned long raw;

    if (parse_uint(key, 0xFFFF, &raw) < 0) {
        snprintf(why, whylen, "enum value '%s' is not 0..0xFFFF", key);
        return -1;
    }
    if (!valid_name(val, sizeof p->enums[0].name, NULL)) {
        snprintf(why, whylen, "state name '%s' is not [a-z0-9_], 1..%zu characters", val,
                 sizeof p->enums[0].name - 1);
        return -1;
    }
    for (int i = 0; i < p->nenums; i++)
        if (p->enums[i].raw == raw) {
            snprintf(why, whylen, "enum value %lu listed twice", raw);
            return -1;
        }
    if (p->nenums == MODEL_ENUM_MAX) {
        snprintf(why, whylen, "more than %d enum values", MODEL_ENUM_MAX);
        return -1;
    }
    p->enums[p->nenums].raw = (uint16_t)raw;
    strcpy(p->enums[p->nenums].name, val);
    p->nenums++;
    return 0;
}

static int p_units(const struct ini_key *k, const char *value, void *field, char *why,
                   size_t whylen)
{
    (void)k;
    return parse_pairs(field, value, why, whylen, unit_item);
}

static int p_enum(const struct ini_key *k, const char *value, void *field, char *why, size_t whylen)
{
    (void)k;
    return parse_pairs(field, value, why, whylen, enum_item);
}

static int p_over_range(const struct ini_key *k, const char *value, void *field, char *why,
                        size_t whylen)
{
    struct model_point *p = field;
    unsigned long v;
    (void)k;
    if (parse_uint(value, 0xFFFFFFFFul, &v) < 0) {
        snprintf(why, whylen, "'%s' is not a raw value 0..0xFFFFFFFF", value);
        return -1;
    }
    p->has_over_range = 1;
    p->over_range = (uint32_t)v;
    return 0;
}

static int p_scale(const struct ini_key *k, const char *value, void *field, char *why,
                   size_t whylen)
{
    double v;
    (void)k;
    if (parse_real(value, &v) < 0 || v == 0) {
        snprintf(why, whylen, "'%s' is not a non-zero number", value);
        return -1;
    }
    *(double *)field = v;
    return 0;
}

static int p_type(const struct ini_key *k, const char *value, void *field, char *why, size_t whylen)
{
    (void)k;
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(value, type_table[i].name) == 0) {
            *(enum point_type *)field = type_table[i].type;
            return 0;
        }
    snprintf(why, whylen, "'%s' is not uint16, int16, uint32, int32, float32 or bits", value);
    return -1;
}

static int p_word_order(const struct ini_key *k, const char *value, void *field, char *why,
                        size_t whylen)
{
    (void)k;
    if (strcmp(value, "big") == 0)
        *(int *)field = 0;
    else if (strcmp(value, "little") == 0)
        *(int *)field = 1;
    else {
        snprintf(why, whylen, "'%s' is not big or little", value);
        return -1;
    }
    return 0;
}

static int p_write(const struct ini_key *k, const char *value, void *field, char *why,
                   size_t whylen)
{
    (void)k;
    if (strcmp(value, "single") == 0)
        *(enum mb_write *)field = MB_WRITE_SINGLE;
    else if (strcmp(value, "multiple") == 0)
        *(enum mb_write *)field = MB_WRITE_MULTIPLE;
    else {
        snprintf(why, whylen, "'%s' is not single (FC05) or multiple (FC15)", value);
        return -1;
    }
    return 0;
}

/* Alphabetical, indexed by enum model_key / enum point_key. */
#define MFIELD(member) INI_FIELD(struct model, member)
#define PFIELD(member) INI_FIELD(struct model_point, member)
#define WHOLE_POINT .offset = 0, .size = sizeof(struct model_point)
static const struct ini_key model_keys[MK_NKEYS] = {
    [MK_COUNT] = {"count", p_count, MFIELD(count), .max = 2000, .flags = INI_REQUIRED},
    [MK_DESCRIPTION] = {"description", ini_text, MFIELD(description)},
    [MK_FUNCTION] = {"function", p_function, MFIELD(function), .flags = INI_REQUIRED},
    /* Required unless the model is an output module's: check_model(). */
    [MK_KINDS] = {"kinds", p_kinds, MFIELD(kinds)},
    [MK_NAME] = {"name", ini_text, MFIELD(name), .flags = INI_REQUIRED},
    [MK_START] = {"start", p_address, MFIELD(start), .flags = INI_REQUIRED},
};

static const struct ini_key point_keys[PK_NKEYS] = {
    [PK_ADDRESS] = {"address", p_address, PFIELD(address), .flags = INI_REQUIRED},
    [PK_BITS] = {"bits", p_count, PFIELD(bits), .max = POINT_BITS_MAX},
    [PK_DECIMALS_REGISTER] = {"decimals_register", p_address, PFIELD(decimals_address)},
    [PK_ENUM] = {"enum", p_enum, WHOLE_POINT},
    [PK_OVER_RANGE] = {"over_range", p_over_range, WHOLE_POINT},
    [PK_SCALE] = {"scale", p_scale, PFIELD(scale)},
    [PK_TYPE] = {"type", p_type, PFIELD(type), .flags = INI_REQUIRED},
    [PK_UNIT_REGISTER] = {"unit_register", p_address, PFIELD(unit_address)},
    [PK_UNITS] = {"units", p_units, WHOLE_POINT},
    [PK_WORD_ORDER] = {"word_order", p_word_order, PFIELD(word_swap)},
    [PK_WRITE] = {"write", p_write, PFIELD(write)},
};

_Static_assert(sizeof(enum mb_fn) == sizeof(int) && sizeof(enum point_type) == sizeof(int) &&
                   sizeof(enum mb_write) == sizeof(int),
               "enum fields are written as int-sized enums");

static void *open_model(void *user, const char *name, int line, struct ini_keyset **ks, char *why,
                        size_t whylen)
{
    struct load *ld = user;
    (void)name, (void)why, (void)whylen;
    ld->model_line = line;
    *ks = &ld->model_ks;
    return ld->m;
}

static void *open_point(void *user, const char *name, int line, struct ini_keyset **ks, char *why,
                        size_t whylen)
{
    struct load *ld = user;
    if (ld->m->npoints == MODEL_POINTS_MAX) {
        snprintf(why, whylen, "more than %d points", MODEL_POINTS_MAX);
        return NULL;
    }
    struct model_point *p = &ld->m->points[ld->m->npoints];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name); /* point_name_ok() checked its length */
    p->type = PT_UINT16;
    p->scale = 1.0;
    p->decimals_address = -1;
    p->unit_address = -1;
    ld->point_line[ld->m->npoints] = line;
    *ks = &ld->point_ks[ld->m->npoints];
    ld->m->npoints++;
    return p;
}

static int point_name_ok(const char *name, char *why, size_t whylen)
{
    if (!valid_name(name, sizeof(((struct model_point *)0)->name), NULL)) {
        snprintf(why, whylen, "point name is not [a-z0-9_], 1..%zu characters",
                 sizeof(((struct model_point *)0)->name) - 1);
        return -1;
    }
    return 0;
}

static const struct ini_section sections[] = {
    {"model", model_keys, MK_NKEYS, INI_SECTION_REQ, open_model, NULL, NULL},
    {"point", point_keys, PK_NKEYS, INI_NAMED, open_point, NULL, point_name_ok},
};
_Static_assert(sizeof(sections) == sizeof(((struct load *)0)->sections), "struct load copies them");

/* Whole-file checks, each reported at the line of the key concerned. */
static void check_model(struct load *ld)
{
    struct model *m = ld->m;
    const int *ml = ld->model_ks.line;
    int hdr = ld->model_line;

    if (!hdr)
        return; /* a required section: reported */
    if (ini_key_ok(&ld->model_ks, MK_NAME) && strcmp(m->name, ld->expect_name) != 0)
        ini_error(ld->ini, ml[MK_NAME], "model", "name", "'%s' differs from the file name '%s'",
                  m->name, ld->expect_name);
    /* A model is read by sensor kinds, or it is an output module's (a point
     * `outputs` that is written), or both. */
    bool written = false;
    for (int i = 0; i < m->npoints; i++)
        written |= ld->point_ks[i].line[PK_WRITE] > 0;
    if (!ml[MK_KINDS] && !written)
        ini_error(ld->ini, hdr, "model", "kinds",
                  "missing (required: the sensor kinds that read this model, unless it is an "
                  "output module with a point `outputs` that has `write`)");
    if (!ini_key_ok(&ld->model_ks, MK_FUNCTION) || !ml[MK_START] || !ml[MK_COUNT])
        return; /* spans cannot be checked without them */

    int fi = fn_index(m->function);
    int bit_access = fn_table[fi].bit_access;
    if (m->count > fn_table[fi].max_count)
        ini_error(ld->ini, ml[MK_COUNT], "model", "count",
                  "%u exceeds the %s limit of %u %s per read", m->count, fn_table[fi].label,
                  fn_table[fi].max_count, bit_access ? "bits" : "registers");
    if ((unsigned long)m->start + m->count > 0x10000ul)
        ini_error(ld->ini, ml[MK_COUNT], "model", "count",
                  "span 0x%04X + %u runs past address 0xFFFF", m->start, m->count);
    if (m->npoints == 0)
        ini_error(ld->ini, hdr, "model", NULL, "no [point NAME] section");

    unsigned long lo = m->start, hi = (unsigned long)m->start + m->count; /* [lo, hi) */
    for (int i = 0; i < m->npoints; i++) {
        struct model_point *p = &m->points[i];
        const int *kl = ld->point_ks[i].line;
        int pl = ld->point_line[i];
        char pn[32]; /* the label: "point NAME" */

        snprintf(pn, sizeof pn, "point %s", p->name);
        if (!kl[PK_ADDRESS] || !kl[PK_TYPE])
            continue; /* required: reported */
        int ti = type_index(p->type);
        int is_bits = p->type == PT_BITS;
        if (is_bits != bit_access) {
            ini_error(ld->ini, kl[PK_TYPE], pn, "type", "%s cannot be read with %s",
                      type_table[ti].name, fn_table[fi].label);
            continue;
        }
        if (is_bits && !kl[PK_BITS]) {
            ini_error(ld->ini, pl, pn, "bits", "missing (required for type bits)");
            continue;
        }
        /* Keys that only make sense for some types. */
        static const struct {
            enum point_key key;
            int numeric_only, word32_only, enum_forbids, uint16_only;
        } applies[] = {
            {PK_BITS, -1, 0, 0, 0}, /* -1: bits type only */
            {PK_DECIMALS_REGISTER, 1, 0, 1, 0},
            {PK_ENUM, 1, 0, 0, 1},
            {PK_OVER_RANGE, 1, 0, 0, 0},
            {PK_SCALE, 1, 0, 1, 0},
            {PK_UNIT_REGISTER, 1, 0, 1, 0},
            {PK_UNITS, 1, 0, 1, 0},
            {PK_WORD_ORDER, 1, 1, 0, 0},
        };
        int bad = 0;
        for (size_t a = 0; a < sizeof applies / sizeof applies[0]; a++) {
            int line = kl[applies[a].key];
            const char *kn = point_keys[applies[a].key].name;
            const char *why = NULL;
            if (!line)
                continue;
            if (applies[a].numeric_only == -1 && !is_bits)
                why = "only for type bits";
            else if (applies[a].numeric_only == 1 && is_bits)
                why = "not for type bits";
            else if (applies[a].word32_only && type_table[ti].words != 2)
                why = "only for 32-bit types";
            else if (applies[a].uint16_only && p->type != PT_UINT16)
                why = "enum points must be type uint16";
            else if (applies[a].enum_forbids && kl[PK_ENUM])
                why = "an enum point has no scale, decimals or units";
            if (why) {
                ini_error(ld->ini, line, pn, kn, "%s", why);
                bad = 1;
            }
        }
        if (kl[PK_UNIT_REGISTER] && !kl[PK_UNITS]) {
            ini_error(ld->ini, kl[PK_UNIT_REGISTER], pn, "unit_register",
                      "needs units = CODE:FACTOR, ...");
            bad = 1;
        }
        if (kl[PK_UNITS] && !kl[PK_UNIT_REGISTER]) {
            ini_error(ld->ini, kl[PK_UNITS], pn, "units", "needs unit_register");
            bad = 1;
        }
        /* An output module's coils: written with FC05/FC15, read back with FC01. */
        if (kl[PK_WRITE] &&
            (strcmp(p->name, "outputs") != 0 || !is_bits || m->function != MB_FN_COILS)) {
            ini_error(ld->ini, kl[PK_WRITE], pn, "write",
                      "only the point `outputs` of type bits on a model read with FC01 (coils) "
                      "is written");
            bad = 1;
        }
        if (!kl[PK_WRITE] && strcmp(p->name, "outputs") == 0) {
            ini_error(ld->ini, pl, pn, "write",
                      "missing (the point `outputs` is an output module's coils: single or "
                      "multiple)");
            bad = 1;
        }
        if (kl[PK_OVER_RANGE] && type_table[ti].words == 1 && p->over_range > 0xFFFF) {
            ini_error(ld->ini, kl[PK_OVER_RANGE], pn, "over_range",
                      "%u does not fit a 16-bit register", p->over_range);
            bad = 1;
        }
        if (bad)
            continue;

        unsigned long width = is_bits ? p->bits : (unsigned long)type_table[ti].words;
        if (p->address < lo || p->address + width > hi)
            ini_error(ld->ini, kl[PK_ADDRESS], pn, "address",
                      "0x%04X..0x%04lX outside the read span 0x%04lX..0x%04lX", p->address,
                      p->address + width - 1, lo, hi - 1);
        static const struct {
            enum point_key key;
            size_t offset;
        } regs[] = {
            {PK_DECIMALS_REGISTER, offsetof(struct model_point, decimals_address)},
            {PK_UNIT_REGISTER, offsetof(struct model_point, unit_address)},
        };
        for (size_t r = 0; r < sizeof regs / sizeof regs[0]; r++) {
            int a = *(const int *)((const char *)p + regs[r].offset);
            if (kl[regs[r].key] && ((unsigned long)a < lo || (unsigned long)a >= hi))
                ini_error(ld->ini, kl[regs[r].key], pn, point_keys[regs[r].key].name,
                          "0x%04X outside the read span 0x%04lX..0x%04lX", a, lo, hi - 1);
        }
    }

    /* What the kinds need from the model (the kind table knows the roles). */
    if (ini_key_ok(&ld->model_ks, MK_KINDS) && ini_fatal(ld->ini, false) == 0)
        for (int k = 0; k < ld->kinds->count; k++) {
            char why[WHY_MAX];
            if ((m->kinds & (1u << k)) && ld->kinds->check(k, m, why, sizeof why) < 0)
                ini_error(ld->ini, ml[MK_KINDS], "model", "kinds", "%s: %s", ld->kinds->names[k],
                          why);
        }
}

/* Load one file into m; its problems go to errs (sorted by line).  0 when
 * it has no error. */
static int load_file(const char *path, const char *name, const struct model_kinds *kinds,
                     struct model *m, struct errs *errs)
{
    struct load ld;

    memset(&ld, 0, sizeof ld);
    memset(m, 0, sizeof *m);
    ld.expect_name = name;
    ld.m = m;
    ld.kinds = kinds;
    for (int k = 0; k < kinds->count && k < 32; k++)
        ld.kind_names[k] = (struct name_value){kinds->names[k], k};
    memcpy(ld.model_keys, model_keys, sizeof ld.model_keys);
    ld.model_keys[MK_KINDS].names = ld.kind_names;
    memcpy(ld.sections, sections, sizeof ld.sections);
    ld.sections[0].keys = ld.model_keys;
    if (!valid_name(name, sizeof m->name, "-.")) {
        errs_add(errs, path, "file name is not a model name ([a-z0-9_.-], 1..%zu characters)",
                 sizeof m->name - 1);
        return -1;
    }
    ld.ini = ini_new(path, ld.sections, (int)(sizeof ld.sections / sizeof ld.sections[0]), &ld);
    if (ld.ini == NULL) {
        errs_add(errs, path, "out of memory");
        return -1;
    }
    if (ini_read(ld.ini) == 0)
        check_model(&ld);
    int nerr = ini_fatal(ld.ini, false);
    if (nerr > 0) /* warnings are told only with the errors of their file */
        for (int i = 0; i < ini_count(ld.ini); i++)
            errs_write(errs, ini_problem(ld.ini, i)->text);
    errs->count += nerr;
    ini_free(ld.ini);
    return nerr == 0 ? 0 : -1;
}
static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const struct model *)a)->name, ((const struct model *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct model_set *model_set_load(const char *dir, const struct model_kinds *kinds, char *err,
                                 size_t errlen)
{
    struct errs errs = {err, errlen, 0, 0};
    struct model_set *ms = NULL;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    DIR *d;
    struct dirent *de;
    int saved_errno = EGW_CONFIG;

    if (err && errlen)
        err[0] = '\0';
    d = opendir(dir);
    if (d == NULL) {
        saved_errno = errno;
        errs_add(&errs, dir, "%s", strerror(errno));
        goto fail;
    }
    /* Sorted, so models and error messages come out in a stable order. */
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name), sl = strlen(MODEL_SUFFIX);
        if (de->d_name[0] == '.' || n <= sl || strcmp(de->d_name + n - sl, MODEL_SUFFIX) != 0)
            continue; /* hidden and editor files are not models */
        if (nnames == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (grown == NULL)
                goto oom;
            names = grown;
        }
        if ((names[nnames] = strdup(de->d_name)) == NULL)
            goto oom;
        nnames++;
    }
    closedir(d);
    d = NULL;
    if (nnames == 0) {
        errs_add(&errs, dir, "no *%s files", MODEL_SUFFIX);
        goto fail;
    }
    qsort(names, nnames, sizeof *names, cmp_str);

    ms = calloc(1, sizeof *ms);
    if (ms == NULL || (ms->models = calloc(nnames, sizeof *ms->models)) == NULL)
        goto oom;
    for (size_t i = 0; i < nnames; i++) {
        char path[4096], base[256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(base, sizeof base, "%.*s", (int)(strlen(names[i]) - strlen(MODEL_SUFFIX)),
                 names[i]);
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            continue;
        if (load_file(path, base, kinds, &ms->models[ms->count], &errs) == 0)
            ms->count++;
    }
    if (ms->count == 0 && errs.count == 0)
        errs_add(&errs, dir, "no *%s files", MODEL_SUFFIX);
    if (errs.count > 0)
        goto fail;
    qsort(ms->models, (size_t)ms->count, sizeof *ms->models, cmp_model);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    return ms;

oom:
    saved_errno = ENOMEM;
    errs_add(&errs, dir, "out of memory");
fail:
    if (d)
        closedir(d);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    model_set_free(ms);
    errno = saved_errno;
    return NULL;
}

void model_set_free(struct model_set *ms)
{
    if (ms == NULL)
        return;
    free(ms->models);
    free(ms);
}

const struct model *model_set_find(const struct model_set *ms, const char *name)
{
    for (int i = 0; ms && i < ms->count; i++)
        if (strcmp(ms->models[i].name, name) == 0)
            return &ms->models[i];
    return NULL;
}

int model_set_count(const struct model_set *ms)
{
    return ms ? ms->count : 0;
}

const struct model *model_set_at(const struct model_set *ms, int i)
{
    return ms && i >= 0 && i < ms->count ? &ms->models[i] : NULL;
}

const struct model_point *model_point(const struct model *m, const char *name)
{
    for (int i = 0; m && i < m->npoints; i++)
        if (strcmp(m->points[i].name, name) == 0)
            return &m->points[i];
    return NULL;
}

int model_is_bit_access(const struct model *m)
{
    int i = fn_index(m->function);
    return i >= 0 && fn_table[i].bit_access;
}

/* ---- decoding (pure) ---------------------------------------------------- */

static int in_span(const struct model *m, long address, long width)
{
    return address >= m->start && address + width <= (long)m->start + m->count;
}

static int is_placeholder(uint32_t raw, int words)
{
    const uint32_t *list = words == 1 ? placeholders16 : placeholders32;
    for (size_t i = 0; i < sizeof placeholders16 / sizeof placeholders16[0]; i++)
        if (raw == list[i])
            return 1;
    return 0;
}

int model_decode(const struct model *m, const struct model_point *p, const uint16_t *regs,
                 double *value, uint32_t *raw_out)
{
    int ti = p ? type_index(p->type) : -1;

    if (m == NULL || p == NULL || regs == NULL || value == NULL || ti < 0 || p->type == PT_BITS ||
        model_is_bit_access(m) || !in_span(m, p->address, type_table[ti].words)) {
        errno = EINVAL;
        return -1;
    }
    const uint16_t *r = regs + (p->address - m->start);
    int words = type_table[ti].words;
    uint32_t raw = r[0];
    if (words == 2)
        raw = p->word_swap ? ((uint32_t)r[1] << 16 | r[0]) : ((uint32_t)r[0] << 16 | r[1]);
    if (raw_out)
        *raw_out = raw;
    if (is_placeholder(raw, words)) {
        errno = EGW_PLACEHOLDER;
        return -1;
    }

    double v;
    switch (p->type) {
    case PT_UINT16:
    case PT_UINT32:
        v = (double)raw;
        break;
    case PT_INT16:
        v = (double)(int16_t)raw;
        break;
    case PT_INT32:
        v = (double)(int32_t)raw;
        break;
    case PT_FLOAT32: {
        float f;
        memcpy(&f, &raw, sizeof f);
        if (isnan(f)) { /* devices send NaN for "no measurement" */
            errno = EGW_PLACEHOLDER;
            return -1;
        }
        if (isinf(f)) {
            errno = EGW_RANGE;
            return -1;
        }
        v = f;
        break;
    }
    default:
        errno = EINVAL;
        return -1;
    }
    v *= p->scale;

    if (p->decimals_address >= 0) {
        if (!in_span(m, p->decimals_address, 1)) {
            errno = EINVAL;
            return -1;
        }
        uint16_t decimals = regs[p->decimals_address - m->start];
        if (decimals > DECIMALS_MAX) {
            errno = EGW_RANGE;
            return -1;
        }
        v /= pow10_table[decimals];
    }
    if (p->unit_address >= 0) {
        if (!in_span(m, p->unit_address, 1)) {
            errno = EINVAL;
            return -1;
        }
        uint16_t code = regs[p->unit_address - m->start];
        int u;
        for (u = 0; u < p->nunits && p->units[u].code != code; u++)
            ;
        if (u == p->nunits) {
            errno = EGW_RANGE;
            return -1;
        }
        v *= p->units[u].factor;
    }
    if (!isfinite(v)) {
        /* A scale or unit factor took a finite raw value past a double. */
        errno = EGW_RANGE;
        return -1;
    }
    *value = v;
    return 0;
}

int model_bits(const struct model *m, const struct model_point *p, const uint8_t *bits,
               uint32_t *mask)
{
    if (m == NULL || p == NULL || bits == NULL || mask == NULL || p->type != PT_BITS ||
        !model_is_bit_access(m) || p->bits > POINT_BITS_MAX || !in_span(m, p->address, p->bits)) {
        errno = EINVAL;
        return -1;
    }
    const uint8_t *b = bits + (p->address - m->start);
    uint32_t v = 0;
    for (unsigned n = 0; n < p->bits; n++)
        if (b[n])
            v |= 1u << n;
    *mask = v;
    return 0;
}

const struct model_point *model_outputs(const struct model *m)
{
    const struct model_point *p = model_point(m, "outputs");
    return p != NULL && p->type == PT_BITS && p->write != MB_WRITE_NONE &&
                   m->function == MB_FN_COILS
               ? p
               : NULL;
}

const char *model_enum_name(const struct model_point *p, uint32_t raw)
{
    for (int i = 0; p && i < p->nenums; i++)
        if (p->enums[i].raw == raw)
            return p->enums[i].name;
    return NULL;
}
