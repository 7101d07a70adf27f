/*
 * model: device register maps loaded from `NAME.model` files (INI), and the
 * pure decoder that turns registers into numbers with them.
 *
 * Design choice: inih only tokenizes.  It is fed through a reader callback
 * that hands it exactly one physical line per call, so our own counter is the
 * file's line number (Debian's libinih is built without line numbers in the
 * handler).  The reader also classifies each line (section header, comment,
 * key line) so that section headers, malformed lines and lines that inih
 * would silently treat as continuations are reported at their own line.
 * Every key is checked against a table as it arrives; checks that need the
 * whole file (address inside the read span, type against function, what the
 * kinds need) run at the end, at the line of the key concerned.  All errors
 * of all files are collected, none stops the load early.
 *
 * Owns: the loaded models (one array per set), freed by model_set_free().
 */
#include "model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gwerr.h"

#define MODEL_SUFFIX ".model"
#define WHY_MAX 160

struct model_set {
    struct model *models; /* sorted by name */
    int count;
};

/* ---- error collection ------------------------------------------------- */

struct err_entry {
    int line;
    int seq; /* keeps the order of errors on one line */
    char *text;
};

/* Errors of one file are held back and written sorted by line, so checks
 * that run at the end of a file still read in file order. */
struct errs { /* newline-separated "FILE:LINE: reason" list */
    char *buf;
    size_t len;
    size_t used;
    int count;
    struct err_entry *held;
    size_t nheld, cap;
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

static void errs_add(struct errs *e, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void errs_add(struct errs *e, const char *path, int line, const char *fmt, ...)
{
    char msg[512], text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(text, sizeof text, "%s:%d: %s", path, line, msg);
    else
        snprintf(text, sizeof text, "%s: %s", path, msg);
    e->count++;
    if (e->nheld == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 16;
        struct err_entry *grown = realloc(e->held, cap * sizeof *grown);
        if (grown == NULL) {
            errs_write(e, text); /* unsorted beats lost */
            return;
        }
        e->held = grown;
        e->cap = cap;
    }
    char *copy = strdup(text);
    if (copy == NULL) {
        errs_write(e, text);
        return;
    }
    e->held[e->nheld] = (struct err_entry){line, (int)e->nheld, copy};
    e->nheld++;
}

static int cmp_err(const void *a, const void *b)
{
    const struct err_entry *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void errs_flush(struct errs *e)
{
    if (e->nheld == 0)
        return; /* qsort(NULL, 0) is undefined */
    qsort(e->held, e->nheld, sizeof *e->held, cmp_err);
    for (size_t i = 0; i < e->nheld; i++) {
        errs_write(e, e->held[i].text);
        free(e->held[i].text);
    }
    e->nheld = 0;
}

static void errs_free(struct errs *e)
{
    errs_flush(e);
    free(e->held);
}

/* ---- strict value parsers (whole string, ranges) ------------------------ */

/* Unsigned integer, decimal or 0x-hex; no sign, no spaces.  Leading zeros
 * are decimal, never octal: register maps are written from data sheets. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;

    if (!isdigit((unsigned char)s[0]) || (base == 16 && !isxdigit((unsigned char)s[2])))
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_real(const char *s, double *out)
{
    char *end;

    if (*s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

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
    PK_NKEYS
};

enum section { SEC_NONE, SEC_MODEL, SEC_POINT, SEC_SKIP };

struct load { /* loading one file */
    const char *path;
    const char *expect_name; /* the file's basename */
    FILE *fp;
    char *line; /* getline buffer */
    size_t linecap;
    int lineno;           /* physical line last handed to inih */
    int pending_key_line; /* key line inih has not yet passed to the handler */
    int handler_called;
    enum section section;
    struct model *m;
    int model_line;        /* line of [model], 0 when absent */
    int mk_line[MK_NKEYS]; /* line each key was set on, 0 = unset */
    int point_line[MODEL_POINTS_MAX];
    int pk_line[MODEL_POINTS_MAX][PK_NKEYS];
    int has_function;
    struct errs *errs;
    int errors_before; /* errs->count when this file began */
    const struct model_kinds *kinds;
};

typedef int (*set_fn)(struct load *ld, char *value, char *why);

static struct model_point *cur_point(struct load *ld)
{
    return &ld->m->points[ld->m->npoints - 1];
}

static int set_count(struct load *ld, char *value, char *why)
{
    unsigned long v;
    if (parse_uint(value, 2000, &v) < 0 || v == 0) {
        snprintf(why, WHY_MAX, "'%s' is not a number of 1..2000", value);
        return -1;
    }
    ld->m->count = (uint16_t)v;
    return 0;
}

static int set_description(struct load *ld, char *value, char *why)
{
    if (strlen(value) >= sizeof ld->m->description) {
        snprintf(why, WHY_MAX, "longer than %zu bytes", sizeof ld->m->description - 1);
        return -1;
    }
    strcpy(ld->m->description, value);
    return 0;
}

static int set_function(struct load *ld, char *value, char *why)
{
    for (size_t i = 0; i < NFN; i++)
        if (strcmp(value, fn_table[i].number) == 0 || strcmp(value, fn_table[i].word) == 0) {
            ld->m->function = fn_table[i].fn;
            ld->has_function = 1;
            return 0;
        }
    snprintf(why, WHY_MAX, "'%s' is not 1, 2, 3, 4, coils, discrete, holding or input", value);
    return -1;
}

static int set_kinds(struct load *ld, char *value, char *why)
{
    unsigned kinds = 0;
    char *save = NULL;

    for (char *tok = strtok_r(value, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = 0;
        tok = trim(tok);
        while (k < ld->kinds->count && strcmp(tok, ld->kinds->names[k]) != 0)
            k++;
        if (k == ld->kinds->count) {
            snprintf(why, WHY_MAX, "unknown kind '%s'", tok);
            return -1;
        }
        if (kinds & (1u << k)) {
            snprintf(why, WHY_MAX, "kind '%s' listed twice", tok);
            return -1;
        }
        kinds |= 1u << k;
    }
    if (kinds == 0) {
        snprintf(why, WHY_MAX, "no kind given");
        return -1;
    }
    ld->m->kinds = kinds;
    return 0;
}

static int set_name(struct load *ld, char *value, char *why)
{
    if (strcmp(value, ld->expect_name) != 0) {
        snprintf(why, WHY_MAX, "'%s' differs from the file name '%s'", value, ld->expect_name);
        return -1;
    }
    /* The name itself was checked with the file name. */
    strcpy(ld->m->name, value);
    return 0;
}

static int set_start(struct load *ld, char *value, char *why)
{
    unsigned long v;
    if (parse_uint(value, 0xFFFF, &v) < 0) {
        snprintf(why, WHY_MAX, "'%s' is not an address 0..0xFFFF", value);
        return -1;
    }
    ld->m->start = (uint16_t)v;
    return 0;
}

static int parse_address(const char *value, int *out, char *why)
{
    unsigned long v;
    if (parse_uint(value, 0xFFFF, &v) < 0) {
        snprintf(why, WHY_MAX, "'%s' is not an address 0..0xFFFF", value);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int set_address(struct load *ld, char *value, char *why)
{
    int a;
    if (parse_address(value, &a, why) < 0)
        return -1;
    cur_point(ld)->address = (uint16_t)a;
    return 0;
}

static int set_bits(struct load *ld, char *value, char *why)
{
    unsigned long v;
    if (parse_uint(value, POINT_BITS_MAX, &v) < 0 || v == 0) {
        snprintf(why, WHY_MAX, "'%s' is not a number of 1..%d", value, POINT_BITS_MAX);
        return -1;
    }
    cur_point(ld)->bits = (uint16_t)v;
    return 0;
}

static int set_decimals_register(struct load *ld, char *value, char *why)
{
    return parse_address(value, &cur_point(ld)->decimals_address, why);
}

static int set_unit_register(struct load *ld, char *value, char *why)
{
    return parse_address(value, &cur_point(ld)->unit_address, why);
}

/* "a:b, c:d" lists; calls item() with each trimmed pair. */
static int parse_pairs(struct load *ld, char *value, char *why,
                       int (*item)(struct load *ld, char *key, char *val, char *why))
{
    char *save = NULL;
    int n = 0;

    for (char *tok = strtok_r(value, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon == NULL) {
            snprintf(why, WHY_MAX, "'%s' is not CODE:VALUE", trim(tok));
            return -1;
        }
        *colon = '\0';
        if (item(ld, trim(tok), trim(colon + 1), why) < 0)
            return -1;
        n++;
    }
    if (n == 0) {
        snprintf(why, WHY_MAX, "empty list");
        return -1;
    }
    return 0;
}

static int unit_item(struct load *ld, char *key, char *val, char *why)
{
    struct model_point *p = cur_point(ld);
    unsigned long code;
    double factor;

    if (parse_uint(key, 0xFFFF, &code) < 0) {
        snprintf(why, WHY_MAX, "unit code '%s' is not 0..0xFFFF", key);
        return -1;
    }
    if (parse_real(val, &factor) < 0 || factor <= 0) {
        snprintf(why, WHY_MAX, "factor '%s' is not a positive number", val);
        return -1;
    }
    for (int i = 0; i < p->nunits; i++)
        if (p->units[i].code == code) {
            snprintf(why, WHY_MAX, "unit code 0x%lX listed twice", code);
            return -1;
        }
    if (p->nunits == MODEL_UNITS_MAX) {
        snprintf(why, WHY_MAX, "more than %d unit codes", MODEL_UNITS_MAX);
        return -1;
    }
    p->units[p->nunits].code = (uint16_t)code;
    p->units[p->nunits].factor = factor;
    p->nunits++;
    return 0;
}

static int enum_item(struct load *ld, char *key, char *val, char *why)
{
    struct model_point *p = cur_point(ld);
    unsigned long raw;

    if (parse_uint(key, 0xFFFF, &raw) < 0) {
        snprintf(why, WHY_MAX, "enum value '%s' is not 0..0xFFFF", key);
        return -1;
    }
    if (!valid_name(val, sizeof p->enums[0].name, NULL)) {
        snprintf(why, WHY_MAX, "state name '%s' is not [a-z0-9_], 1..%zu characters", val,
                 sizeof p->enums[0].name - 1);
        return -1;
    }
    for (int i = 0; i < p->nenums; i++)
        if (p->enums[i].raw == raw) {
            snprintf(why, WHY_MAX, "enum value %lu listed twice", raw);
            return -1;
        }
    if (p->nenums == MODEL_ENUM_MAX) {
        snprintf(why, WHY_MAX, "more than %d enum values", MODEL_ENUM_MAX);
        return -1;
    }
    p->enums[p->nenums].raw = (uint16_t)raw;
    strcpy(p->enums[p->nenums].name, val);
    p->nenums++;
    return 0;
}

static int set_units(struct load *ld, char *value, char *why)
{
    return parse_pairs(ld, value, why, unit_item);
}

static int set_enum(struct load *ld, char *value, char *why)
{
    return parse_pairs(ld, value, why, enum_item);
}

static int set_over_range(struct load *ld, char *value, char *why)
{
    unsigned long v;
    if (parse_uint(value, 0xFFFFFFFFul, &v) < 0) {
        snprintf(why, WHY_MAX, "'%s' is not a raw value 0..0xFFFFFFFF", value);
        return -1;
    }
    cur_point(ld)->has_over_range = 1;
    cur_point(ld)->over_range = (uint32_t)v;
    return 0;
}

static int set_scale(struct load *ld, char *value, char *why)
{
    double v;
    if (parse_real(value, &v) < 0 || v == 0) {
        snprintf(why, WHY_MAX, "'%s' is not a non-zero number", value);
        return -1;
    }
    cur_point(ld)->scale = v;
    return 0;
}

static int set_type(struct load *ld, char *value, char *why)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(value, type_table[i].name) == 0) {
            cur_point(ld)->type = type_table[i].type;
            return 0;
        }
    snprintf(why, WHY_MAX, "'%s' is not uint16, int16, uint32, int32, float32 or bits", value);
    return -1;
}

static int set_word_order(struct load *ld, char *value, char *why)
{
    if (strcmp(value, "big") == 0)
        cur_point(ld)->word_swap = 0;
    else if (strcmp(value, "little") == 0)
        cur_point(ld)->word_swap = 1;
    else {
        snprintf(why, WHY_MAX, "'%s' is not big or little", value);
        return -1;
    }
    return 0;
}

/* Alphabetical, indexed by enum model_key / enum point_key. */
static const struct {
    const char *name;
    set_fn set;
} model_keys[MK_NKEYS] = {
    [MK_COUNT] = {"count", set_count},
    [MK_DESCRIPTION] = {"description", set_description},
    [MK_FUNCTION] = {"function", set_function},
    [MK_KINDS] = {"kinds", set_kinds},
    [MK_NAME] = {"name", set_name},
    [MK_START] = {"start", set_start},
};

static const struct {
    const char *name;
    set_fn set;
} point_keys[PK_NKEYS] = {
    [PK_ADDRESS] = {"address", set_address},
    [PK_BITS] = {"bits", set_bits},
    [PK_DECIMALS_REGISTER] = {"decimals_register", set_decimals_register},
    [PK_ENUM] = {"enum", set_enum},
    [PK_OVER_RANGE] = {"over_range", set_over_range},
    [PK_SCALE] = {"scale", set_scale},
    [PK_TYPE] = {"type", set_type},
    [PK_UNIT_REGISTER] = {"unit_register", set_unit_register},
    [PK_UNITS] = {"units", set_units},
    [PK_WORD_ORDER] = {"word_order", set_word_order},
};

static void open_section(struct load *ld, char *header)
{
    char *words[3] = {NULL, NULL, NULL};
    int n = 0;
    char *save = NULL;

    for (char *tok = strtok_r(header, " \t", &save); tok && n < 3;
         tok = strtok_r(NULL, " \t", &save))
        words[n++] = tok;

    ld->section = SEC_SKIP; /* keys of a bad section are not reported again */
    if (n == 1 && strcmp(words[0], "model") == 0) {
        if (ld->model_line) {
            errs_add(ld->errs, ld->path, ld->lineno,
                     "[model]: duplicate section (first on line %d)", ld->model_line);
            return;
        }
        ld->model_line = ld->lineno;
        ld->section = SEC_MODEL;
        return;
    }
    if (n == 0 || strcmp(words[0], "point") != 0) {
        errs_add(ld->errs, ld->path, ld->lineno,
                 "[%s]: unknown section (expected [model] or "
                 "[point NAME])",
                 n ? words[0] : "");
        return;
    }
    if (n != 2) {
        errs_add(ld->errs, ld->path, ld->lineno, "[point]: expected exactly one point name");
        return;
    }
    const char *name = words[1];
    if (!valid_name(name, sizeof ld->m->points[0].name, NULL)) {
        errs_add(ld->errs, ld->path, ld->lineno,
                 "[point %s]: point name is not [a-z0-9_], 1..%zu characters", name,
                 sizeof ld->m->points[0].name - 1);
        return;
    }
    for (int i = 0; i < ld->m->npoints; i++)
        if (strcmp(ld->m->points[i].name, name) == 0) {
            errs_add(ld->errs, ld->path, ld->lineno,
                     "[point %s]: duplicate point (first on line %d)", name, ld->point_line[i]);
            return;
        }
    if (ld->m->npoints == MODEL_POINTS_MAX) {
        errs_add(ld->errs, ld->path, ld->lineno, "[point %s]: more than %d points", name,
                 MODEL_POINTS_MAX);
        return;
    }
    struct model_point *p = &ld->m->points[ld->m->npoints];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->type = PT_UINT16;
    p->scale = 1.0;
    p->decimals_address = -1;
    p->unit_address = -1;
    ld->point_line[ld->m->npoints] = ld->lineno;
    memset(ld->pk_line[ld->m->npoints], 0, sizeof ld->pk_line[0]);
    ld->m->npoints++;
    ld->section = SEC_POINT;
}

/* Section name for messages: "model" or "point NAME". */
static const char *section_label(struct load *ld, char *buf, size_t len)
{
    if (ld->section == SEC_MODEL)
        return "model";
    snprintf(buf, len, "point %s", cur_point(ld)->name);
    return buf;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct load *ld = user;
    char why[WHY_MAX], buf[32], copy[512];
    (void)section; /* tracked by the reader, which also sees empty sections */

    ld->handler_called = 1;
    if (ld->section == SEC_SKIP)
        return 1;
    if (ld->section == SEC_NONE) {
        errs_add(ld->errs, ld->path, ld->lineno, "%s: key outside any section", name);
        return 1;
    }
    int is_model = ld->section == SEC_MODEL;
    size_t nkeys = is_model ? MK_NKEYS : PK_NKEYS;
    int *lines = is_model ? ld->mk_line : ld->pk_line[ld->m->npoints - 1];
    const char *label = section_label(ld, buf, sizeof buf);
    for (size_t i = 0; i < nkeys; i++) {
        const char *kname = is_model ? model_keys[i].name : point_keys[i].name;
        if (strcmp(name, kname) != 0)
            continue;
        if (lines[i]) {
            errs_add(ld->errs, ld->path, ld->lineno, "[%s] %s: duplicate key (first on line %d)",
                     label, name, lines[i]);
            return 1;
        }
        lines[i] = ld->lineno;
        snprintf(copy, sizeof copy, "%s", value); /* setters tokenize in place */
        set_fn set = is_model ? model_keys[i].set : point_keys[i].set;
        if (set(ld, copy, why) < 0)
            errs_add(ld->errs, ld->path, ld->lineno, "[%s] %s: %s", label, name, why);
        return 1;
    }
    errs_add(ld->errs, ld->path, ld->lineno, "[%s] %s: unknown key", label, name);
    return 1;
}

/* inih's reader: one physical line per call.  Lines we reject are replaced
 * by an empty line so inih skips them and does not report them again. */
static char *read_line(char *str, int num, void *stream)
{
    struct load *ld = stream;

    if (ld->pending_key_line && !ld->handler_called)
        errs_add(ld->errs, ld->path, ld->pending_key_line, "expected KEY = VALUE");
    ld->pending_key_line = 0;
    ld->handler_called = 0;

    ssize_t n = getline(&ld->line, &ld->linecap, ld->fp);
    if (n < 0)
        return NULL;
    ld->lineno++;
    if (memchr(ld->line, '\0', (size_t)n) != NULL) {
        errs_add(ld->errs, ld->path, ld->lineno, "NUL byte in line");
        goto skip;
    }
    size_t content = (size_t)n;
    while (content > 0 && (ld->line[content - 1] == '\n' || ld->line[content - 1] == '\r'))
        content--;
    if (content + 3 > (size_t)num) { /* inih needs room for "\r\n\0" */
        errs_add(ld->errs, ld->path, ld->lineno, "line longer than %d characters", num - 3);
        goto skip;
    }

    const char *s = ld->line;
    if (ld->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    const char *start = s;
    while (*start == ' ' || *start == '\t')
        start++;
    if (*start == '\0' || *start == '\n' || *start == '\r' || *start == ';' || *start == '#')
        goto pass; /* blank or comment */
    if (start != s) {
        /* inih would glue it to the previous key as a continuation. */
        errs_add(ld->errs, ld->path, ld->lineno,
                 "indented line (keys and sections start in "
                 "column 1; continuation lines are not supported)");
        goto skip;
    }
    if (*start == '[') {
        char header[256];
        const char *close = strchr(start, ']');
        if (close == NULL) {
            errs_add(ld->errs, ld->path, ld->lineno, "section header without ']'");
            ld->section = SEC_SKIP;
            goto skip;
        }
        snprintf(header, sizeof header, "%.*s", (int)(close - start - 1), start + 1);
        open_section(ld, header);
        goto pass;
    }
    ld->pending_key_line = ld->lineno;

pass:
    /* Only the content and one "\n": the line's own trailing CR/LF run can
     * be longer than inih's buffer (the length check counted content only). */
    memcpy(str, ld->line, content);
    str[content] = '\n';
    str[content + 1] = '\0';
    return str;
skip:
    str[0] = '\n';
    str[1] = '\0';
    return str;
}

/* Whole-file checks, each reported at the line of the key concerned. */
static void check_model(struct load *ld)
{
    struct model *m = ld->m;
    const char *path = ld->path;
    int hdr = ld->model_line;

    if (!hdr) {
        errs_add(ld->errs, path, 1, "missing [model] section");
        return;
    }
    for (int k = 0; k < MK_NKEYS; k++)
        if (!ld->mk_line[k] && k != MK_DESCRIPTION)
            errs_add(ld->errs, path, hdr, "[model] %s: missing", model_keys[k].name);
    if (!ld->mk_line[MK_FUNCTION] || !ld->mk_line[MK_START] || !ld->mk_line[MK_COUNT] ||
        !ld->has_function)
        return; /* spans cannot be checked without them */

    int fi = fn_index(m->function);
    int bit_access = fn_table[fi].bit_access;
    if (m->count > fn_table[fi].max_count)
        errs_add(ld->errs, path, ld->mk_line[MK_COUNT],
                 "[model] count: %u exceeds the %s limit of %u %s per read", m->count,
                 fn_table[fi].label, fn_table[fi].max_count, bit_access ? "bits" : "registers");
    if ((unsigned long)m->start + m->count > 0x10000ul)
        errs_add(ld->errs, path, ld->mk_line[MK_COUNT],
                 "[model] count: span 0x%04X + %u runs past address 0xFFFF", m->start, m->count);
    if (m->npoints == 0)
        errs_add(ld->errs, path, hdr, "[model]: no [point NAME] section");

    unsigned long lo = m->start, hi = (unsigned long)m->start + m->count; /* [lo, hi) */
    for (int i = 0; i < m->npoints; i++) {
        struct model_point *p = &m->points[i];
        int *kl = ld->pk_line[i];
        int pl = ld->point_line[i];
        const char *pn = p->name;

        if (!kl[PK_ADDRESS])
            errs_add(ld->errs, path, pl, "[point %s] address: missing", pn);
        if (!kl[PK_TYPE])
            errs_add(ld->errs, path, pl, "[point %s] type: missing", pn);
        if (!kl[PK_ADDRESS] || !kl[PK_TYPE])
            continue;
        int ti = type_index(p->type);
        int is_bits = p->type == PT_BITS;
        if (is_bits != bit_access) {
            errs_add(ld->errs, path, kl[PK_TYPE], "[point %s] type: %s cannot be read with %s", pn,
                     type_table[ti].name, fn_table[fi].label);
            continue;
        }
        if (is_bits && !kl[PK_BITS]) {
            errs_add(ld->errs, path, pl, "[point %s] bits: missing (required for type bits)", pn);
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
                errs_add(ld->errs, path, line, "[point %s] %s: %s", pn, kn, why);
                bad = 1;
            }
        }
        if (kl[PK_UNIT_REGISTER] && !kl[PK_UNITS]) {
            errs_add(ld->errs, path, kl[PK_UNIT_REGISTER],
                     "[point %s] unit_register: needs units = CODE:FACTOR, ...", pn);
            bad = 1;
        }
        if (kl[PK_UNITS] && !kl[PK_UNIT_REGISTER]) {
            errs_add(ld->errs, path, kl[PK_UNITS], "[point %s] units: needs unit_register", pn);
            bad = 1;
        }
        if (kl[PK_OVER_RANGE] && type_table[ti].words == 1 && p->over_range > 0xFFFF) {
            errs_add(ld->errs, path, kl[PK_OVER_RANGE],
                     "[point %s] over_range: %u does not fit a 16-bit register", pn, p->over_range);
            bad = 1;
        }
        if (bad)
            continue;

        unsigned long width = is_bits ? p->bits : (unsigned long)type_table[ti].words;
        if (p->address < lo || p->address + width > hi)
            errs_add(ld->errs, path, kl[PK_ADDRESS],
                     "[point %s] address: 0x%04X..0x%04lX outside the read span 0x%04lX..0x%04lX",
                     pn, p->address, p->address + width - 1, lo, hi - 1);
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
                errs_add(ld->errs, path, kl[regs[r].key],
                         "[point %s] %s: 0x%04X outside the read span 0x%04lX..0x%04lX", pn,
                         point_keys[regs[r].key].name, a, lo, hi - 1);
        }
    }

    /* What the kinds need from the model (the kind table knows the roles). */
    if (ld->mk_line[MK_KINDS] && ld->errs->count == ld->errors_before)
        for (int k = 0; k < ld->kinds->count; k++) {
            char why[WHY_MAX];
            if ((m->kinds & (1u << k)) && ld->kinds->check(k, m, why, sizeof why) < 0)
                errs_add(ld->errs, path, ld->mk_line[MK_KINDS], "[model] kinds: %s: %s",
                         ld->kinds->names[k], why);
        }
}

static int load_file(const char *path, const char *name, const struct model_kinds *kinds,
                     struct model *m, struct errs *errs)
{
    struct load ld;
    int errors_before = errs->count;

    memset(&ld, 0, sizeof ld);
    memset(m, 0, sizeof *m);
    ld.path = path;
    ld.expect_name = name;
    ld.m = m;
    ld.errs = errs;
    ld.errors_before = errors_before;
    ld.kinds = kinds;
    if (!valid_name(name, sizeof m->name, "-.")) {
        errs_add(errs, path, 0, "file name is not a model name ([a-z0-9_.-], 1..%zu characters)",
                 sizeof m->name - 1);
        return -1;
    }
    ld.fp = fopen(path, "r");
    if (ld.fp == NULL) {
        errs_add(errs, path, 0, "%s", strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(read_line, &ld, on_key, &ld);
    if (ferror(ld.fp))
        errs_add(errs, path, 0, "read error");
    free(ld.line);
    fclose(ld.fp);
    if (rc == -2)
        errs_add(errs, path, 0, "out of memory");
    else if (rc != 0 && errs->count == errors_before)
        errs_add(errs, path, rc, "syntax error"); /* a case the reader did not foresee */
    check_model(&ld);
    errs_flush(errs);
    return errs->count == errors_before ? 0 : -1;
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
    struct errs errs = {err, errlen, 0, 0, NULL, 0, 0};
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
        errs_add(&errs, dir, 0, "%s", strerror(errno));
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
        errs_add(&errs, dir, 0, "no *%s files", MODEL_SUFFIX);
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
        errs_add(&errs, dir, 0, "no *%s files", MODEL_SUFFIX);
    if (errs.count > 0)
        goto fail;
    qsort(ms->models, (size_t)ms->count, sizeof *ms->models, cmp_model);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    errs_free(&errs);
    return ms;

oom:
    saved_errno = ENOMEM;
    errs_add(&errs, dir, 0, "out of memory");
fail:
    if (d)
        closedir(d);
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    model_set_free(ms);
    errs_free(&errs);
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

const char *model_enum_name(const struct model_point *p, uint32_t raw)
{
    for (int i = 0; p && i < p->nenums; i++)
        if (p->enums[i].raw == raw)
            return p->enums[i].name;
    return NULL;
}
