/* Unit tests of model: the reference model files as shipped, every data type,
 * sign, word order, decimals and unit setting of the decoder, placeholders,
 * and broken model files (written to a temp dir) giving FILE:LINE errors.
 * Run from the repository root (loads sensors/models). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "gwerr.h"
#include "kind.h"
#include "model.h"

#define MODELS_DIR "sensors/models"

static struct model_set *refs;
static char err[8192];

static void load_refs(void)
{
    refs = kind_models_load(MODELS_DIR, err, sizeof err);
    ck_assert_msg(refs != NULL, "reference models do not load: %s", err);
}

static void free_refs(void)
{
    model_set_free(refs);
    refs = NULL;
}

static const struct model *ref(const char *name)
{
    const struct model *m = model_set_find(refs, name);
    ck_assert_msg(m != NULL, "model %s missing", name);
    return m;
}

/* ---- temp dirs with model files ------------------------------------------ */

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/test_model.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char path[512];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(tmpdir);
}

static void write_model(const char *file, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, file);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* Load tmpdir; the model set (or NULL) is freed here, err keeps the text. */
static int load_tmp_ok(void)
{
    struct model_set *ms = kind_models_load(tmpdir, err, sizeof err);
    int ok = ms != NULL;
    model_set_free(ms);
    return ok;
}

/* ---- the reference models ------------------------------------------------- */

START_TEST(test_reference_models_all_load)
{
    ck_assert_int_eq(model_set_count(refs), 6);
    static const struct {
        const char *name;
        enum mb_fn fn;
        unsigned start, count, kinds;
    } want[] = {
        {"co2-jxct", MB_FN_HOLDING, 5, 1, 1u << KIND_CO2},
        {"co2-senseair-s8", MB_FN_INPUT, 0, 4, 1u << KIND_CO2},
        {"di8", MB_FN_DISCRETE, 0, 8,
         1u << KIND_BLAST_DOOR | 1u << KIND_SMOKE | 1u << KIND_WATER_LEAK},
        {"do8", MB_FN_COILS, 0, 8, 0}, /* an output module: no sensor kind reads it */
        {"level-qdy30a", MB_FN_HOLDING, 2, 3, 1u << KIND_WATER_LEVEL},
        {"smoke-rs485", MB_FN_HOLDING, 2, 1, 1u << KIND_SMOKE},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct model *m = model_set_at(refs, (int)i); /* sorted by name */
        ck_assert_str_eq(m->name, want[i].name);
        ck_assert_int_eq(m->function, want[i].fn);
        ck_assert_uint_eq(m->start, want[i].start);
        ck_assert_uint_eq(m->count, want[i].count);
        ck_assert_uint_eq(m->kinds, want[i].kinds);
        ck_assert_ptr_eq(model_set_find(refs, want[i].name), m);
    }
    ck_assert_ptr_null(model_set_find(refs, "no-such-model"));
    ck_assert_ptr_null(model_set_at(refs, 6));
    ck_assert_ptr_null(model_set_at(refs, -1));
}
END_TEST

START_TEST(test_level_decodes_units_and_decimals_0_to_3)
{
    const struct model *m = ref("level-qdy30a");
    const struct model_point *p = model_point(m, "level");
    static const struct {
        uint16_t unit, decimals, raw;
        double metres;
    } cases[] = {
        {0x12, 0, 2, 2.0},
        {0x12, 1, 25, 2.5},
        {0x12, 2, 125, 1.25},
        {0x12, 3, 1250, 1.25},
        {0x11, 0, 150, 1.5},
        {0x11, 1, 1505, 1.505},
        {0x11, 2, 15050, 1.505},
        {0x11, 3, 1505, 0.01505},
        {0x12, 2, 0, 0.0},
        {0x12, 2, (uint16_t)-5, -0.05},
        {0x11, 1, (uint16_t)-123, -0.123},
        {0x12, 0, 32766, 32766.0},
        {0x12, 0, (uint16_t)-32767, -32767.0},
    };
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t regs[3] = {cases[i].unit, cases[i].decimals, cases[i].raw};
        double v = -999;
        uint32_t raw = 0;
        ck_assert_int_eq(model_decode(m, p, regs, &v, &raw), 0);
        ck_assert_msg(fabs(v - cases[i].metres) < 1e-9, "case %zu: %g != %g", i, v,
                      cases[i].metres);
        ck_assert_uint_eq(raw, cases[i].raw);
    }
}
END_TEST

START_TEST(test_level_decimals_above_6_is_out_of_range)
{
    const struct model *m = ref("level-qdy30a");
    const struct model_point *p = model_point(m, "level");
    uint16_t regs[3] = {0x12, 6, 1000000 % 65536};
    double v;

    regs[2] = 1234;
    ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), 0);
    ck_assert_double_eq_tol(v, 0.001234, 1e-12);
    regs[1] = 7;
    errno = 0;
    ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), -1);
    ck_assert_int_eq(errno, EGW_RANGE);
}
END_TEST

START_TEST(test_level_unknown_unit_code_is_out_of_range)
{
    const struct model *m = ref("level-qdy30a");
    const struct model_point *p = model_point(m, "level");
    static const uint16_t bad_units[] = {0x00, 0x10, 0x13, 0xFFFF};

    for (size_t i = 0; i < sizeof bad_units / sizeof bad_units[0]; i++) {
        uint16_t regs[3] = {bad_units[i], 1, 100};
        double v;
        errno = 0;
        ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), -1);
        ck_assert_int_eq(errno, EGW_RANGE);
    }
}
END_TEST

START_TEST(test_16bit_placeholders_are_reported_not_decoded)
{
    const struct model *m = ref("level-qdy30a");
    const struct model_point *p = model_point(m, "level");
    static const uint16_t ph[] = {0xFFFF, 0x7FFF, 0x8000};

    for (size_t i = 0; i < 3; i++) {
        uint16_t regs[3] = {0x12, 0, ph[i]};
        double v = 42;
        uint32_t raw = 0;
        errno = 0;
        ck_assert_int_eq(model_decode(m, p, regs, &v, &raw), -1);
        ck_assert_int_eq(errno, EGW_PLACEHOLDER);
        ck_assert_uint_eq(raw, ph[i]); /* for the log line */
        ck_assert_double_eq(v, 42);    /* output untouched */
    }
    /* the neighbours of the placeholders are values */
    uint16_t regs[3] = {0x12, 0, 0x7FFE};
    double v;
    ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), 0);
    ck_assert_double_eq(v, 32766);
}
END_TEST

START_TEST(test_co2_jxct_reads_ppm_and_marks_5000_over_range)
{
    const struct model *m = ref("co2-jxct");
    const struct model_point *p = model_point(m, "co2");
    uint16_t regs[1] = {812};
    double v;
    uint32_t raw;

    ck_assert_int_eq(p->type, PT_UINT16);
    ck_assert_int_eq(p->has_over_range, 1);
    ck_assert_uint_eq(p->over_range, 5000);
    ck_assert_int_eq(model_decode(m, p, regs, &v, &raw), 0);
    ck_assert_double_eq(v, 812);
    regs[0] = 5000;
    ck_assert_int_eq(model_decode(m, p, regs, &v, &raw), 0);
    ck_assert_uint_eq(raw, 5000);
}
END_TEST

START_TEST(test_senseair_s8_reads_status_and_ppm_from_one_span)
{
    const struct model *m = ref("co2-senseair-s8");
    uint16_t regs[4] = {0x0004, 0, 0, 615};
    double v;
    uint32_t raw;

    ck_assert_int_eq(model_decode(m, model_point(m, "co2"), regs, &v, NULL), 0);
    ck_assert_double_eq(v, 615);
    ck_assert_int_eq(model_decode(m, model_point(m, "status"), regs, &v, &raw), 0);
    ck_assert_uint_eq(raw, 4);
}
END_TEST

START_TEST(test_smoke_rs485_names_its_three_states)
{
    const struct model *m = ref("smoke-rs485");
    const struct model_point *p = model_point(m, "state");

    ck_assert_str_eq(model_enum_name(p, 0), "normal");
    ck_assert_str_eq(model_enum_name(p, 1), "fire");
    ck_assert_str_eq(model_enum_name(p, 2), "fault");
    ck_assert_ptr_null(model_enum_name(p, 3));
    ck_assert_ptr_null(model_enum_name(p, 0xFFFF));
}
END_TEST

START_TEST(test_di8_unpacks_eight_inputs)
{
    const struct model *m = ref("di8");
    const struct model_point *p = model_point(m, "inputs");
    uint8_t bits[8] = {1, 0, 0, 1, 0, 0, 0, 1};
    uint32_t mask = 0;
    uint16_t regs[8] = {0};
    double v;

    ck_assert_int_eq(p->type, PT_BITS);
    ck_assert_uint_eq(p->bits, 8);
    ck_assert_int_eq(model_bits(m, p, bits, &mask), 0);
    ck_assert_uint_eq(mask, 0x89);
    /* bits are not numbers */
    errno = 0;
    ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_do8_is_eight_coils_written_with_fc05)
{
    const struct model *m = model_set_find(refs, "do8");
    const struct model_point *p = model_outputs(m);
    uint8_t coils[8] = {1, 0, 0, 1, 0, 0, 0, 1};
    uint32_t mask;

    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->bits, 8);
    ck_assert_uint_eq(p->address, 0);
    ck_assert_int_eq(p->write, MB_WRITE_SINGLE);
    ck_assert_int_eq(model_bits(m, p, coils, &mask), 0); /* the read-back */
    ck_assert_uint_eq(mask, 0x89);
    /* Sensor models have nothing written. */
    ck_assert_ptr_null(model_outputs(model_set_find(refs, "di8")));
    ck_assert_ptr_null(model_outputs(model_set_find(refs, "level-qdy30a")));
    ck_assert_ptr_null(model_outputs(NULL));
}
END_TEST

START_TEST(test_an_output_module_may_use_fc15)
{
    const struct model *m;
    struct model_set *ms;

    make_tmpdir();
    write_model("relay4.model", "[model]\nname = relay4\nfunction = coils\nstart = 16\ncount = 4\n"
                                "[point outputs]\naddress = 16\ntype = bits\nbits = 4\n"
                                "write = multiple\n");
    ms = kind_models_load(tmpdir, err, sizeof err);
    ck_assert_msg(ms != NULL, "%s", err);
    m = model_set_find(ms, "relay4");
    ck_assert_uint_eq(m->kinds, 0);
    ck_assert_int_eq(model_outputs(m)->write, MB_WRITE_MULTIPLE);
    model_set_free(ms);
    remove_tmpdir();
}
END_TEST

START_TEST(test_function_names_for_messages)
{
    ck_assert_str_eq(mb_fn_name(MB_FN_COILS), "FC01");
    ck_assert_str_eq(mb_fn_name(MB_FN_DISCRETE), "FC02");
    ck_assert_str_eq(mb_fn_name(MB_FN_HOLDING), "FC03");
    ck_assert_str_eq(mb_fn_name(MB_FN_INPUT), "FC04");
}
END_TEST

/* ---- every data type ------------------------------------------------------ */

static const char types_model[] = "; one point of each register type\n"
                                  "[model]\n"
                                  "name = types\n"
                                  "description = test\n"
                                  "kinds = co2\n"
                                  "function = 3\n"
                                  "start = 100\n"
                                  "count = 14\n"
                                  "[point co2]\n"
                                  "address = 100\n"
                                  "type = uint16\n"
                                  "[point i16]\n"
                                  "address = 101\n"
                                  "type = int16\n"
                                  "[point u32]\n"
                                  "address = 102\n"
                                  "type = uint32\n"
                                  "[point u32le]\n"
                                  "address = 104\n"
                                  "type = uint32\n"
                                  "word_order = little\n"
                                  "[point i32]\n"
                                  "address = 106\n"
                                  "type = int32\n"
                                  "word_order = big\n"
                                  "[point f32]\n"
                                  "address = 108\n"
                                  "type = float32\n"
                                  "[point f32le]\n"
                                  "address = 110\n"
                                  "type = float32\n"
                                  "word_order = little\n"
                                  "[point scaled]\n"
                                  "address = 0x70\n"
                                  "type = int16\n"
                                  "scale = 0.1\n";

static struct model_set *types_set;
static const struct model *types;

static void load_types(void)
{
    make_tmpdir();
    write_model("types.model", types_model);
    types_set = kind_models_load(tmpdir, err, sizeof err);
    ck_assert_msg(types_set != NULL, "%s", err);
    types = model_set_find(types_set, "types");
}

static void free_types(void)
{
    model_set_free(types_set);
    remove_tmpdir();
}

static int decode(const char *point, const uint16_t *regs, double *v)
{
    const struct model_point *p = model_point(types, point);
    ck_assert_ptr_nonnull(p);
    errno = 0;
    return model_decode(types, p, regs, v, NULL);
}

START_TEST(test_every_type_sign_and_word_order)
{
    uint16_t regs[14] = {
        65534,  /* uint16 */
        0xFFFE, /* int16 -2 */
        0x0001,
        0x0002, /* uint32 big: 65538 */
        0x0002,
        0x0001, /* uint32 little: 65538 */
        0xFFFF,
        0xFFFE, /* int32 big: -2 */
        0x3FC0,
        0x0000, /* float32 big: 1.5 */
        0x0000,
        0xC020,         /* float32 little: -2.5 */
        (uint16_t)-123, /* int16 * 0.1: -12.3 */
        0,
    };
    static const struct {
        const char *point;
        double want;
    } cases[] = {
        {"co2", 65534}, {"i16", -2},  {"u32", 65538},  {"u32le", 65538},
        {"i32", -2},    {"f32", 1.5}, {"f32le", -2.5}, {"scaled", -12.3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = 0;
        ck_assert_msg(decode(cases[i].point, regs, &v) == 0, "%s: %s", cases[i].point,
                      gw_strerror(errno));
        ck_assert_msg(fabs(v - cases[i].want) < 1e-9, "%s: %g != %g", cases[i].point, v,
                      cases[i].want);
    }
}
END_TEST

START_TEST(test_uint32_above_2_pow_31_stays_positive)
{
    uint16_t regs[14] = {0};
    double v;

    regs[2] = 0xC000; /* 0xC0000001 */
    regs[3] = 0x0001;
    ck_assert_int_eq(decode("u32", regs, &v), 0);
    ck_assert_double_eq(v, 3221225473.0);
    regs[6] = 0x8000; /* int32 minimum + 1 */
    regs[7] = 0x0001;
    ck_assert_int_eq(decode("i32", regs, &v), 0);
    ck_assert_double_eq(v, -2147483647.0);
}
END_TEST

START_TEST(test_32bit_placeholders_are_reported)
{
    static const uint32_t ph[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u};
    static const char *const points[] = {"u32", "i32", "f32"};
    static const int offs[] = {2, 6, 8};

    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < 3; i++) {
            uint16_t regs[14] = {0};
            double v;
            regs[offs[t]] = (uint16_t)(ph[i] >> 16);
            regs[offs[t] + 1] = (uint16_t)ph[i];
            ck_assert_int_eq(decode(points[t], regs, &v), -1);
            ck_assert_int_eq(errno, EGW_PLACEHOLDER);
        }
    /* a 16-bit placeholder pattern inside a 32-bit value is a value */
    uint16_t regs[14] = {0};
    double v;
    regs[2] = 0x0000;
    regs[3] = 0xFFFF;
    ck_assert_int_eq(decode("u32", regs, &v), 0);
    ck_assert_double_eq(v, 65535);
}
END_TEST

START_TEST(test_float_nan_is_placeholder_and_inf_out_of_range)
{
    uint16_t regs[14] = {0};
    double v;

    regs[8] = 0x7FC0; /* quiet NaN */
    ck_assert_int_eq(decode("f32", regs, &v), -1);
    ck_assert_int_eq(errno, EGW_PLACEHOLDER);
    regs[8] = 0x7F80; /* +inf */
    ck_assert_int_eq(decode("f32", regs, &v), -1);
    ck_assert_int_eq(errno, EGW_RANGE);
    regs[8] = 0xFF80; /* -inf */
    ck_assert_int_eq(decode("f32", regs, &v), -1);
    ck_assert_int_eq(errno, EGW_RANGE);
}
END_TEST

/* A finite register value that the model's scale (or unit factor) takes past
 * the range of a double is out of range, like a device's own inf: an inf
 * reading of quality good carried no value in its payload while the alarm
 * engine compared inf against its thresholds. */
START_TEST(test_scaled_value_beyond_double_is_out_of_range)
{
    uint16_t regs[2] = {0x7F7F, 0xFFFF}; /* FLT_MAX, times 1e300 */
    double v;

    write_model("huge.model", "[model]\nname = huge\nkinds = co2\nfunction = input\nstart = 0\n"
                              "count = 2\n[point co2]\naddress = 0\ntype = float32\n"
                              "scale = 1e300\n");
    struct model_set *ms = kind_models_load(tmpdir, err, sizeof err);
    ck_assert_msg(ms != NULL, "%s", err);
    const struct model *m = model_set_find(ms, "huge");
    const struct model_point *p = model_point(m, "co2");
    errno = 0;
    ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), -1);
    ck_assert_int_eq(errno, EGW_RANGE);
    regs[0] = 0x3FC0; /* 1.5e300 is a double */
    regs[1] = 0x0000;
    ck_assert_int_eq(model_decode(m, p, regs, &v, NULL), 0);
    ck_assert_double_eq_tol(v, 1.5e300, 1e285);
    model_set_free(ms);
}
END_TEST

/* ---- broken model files ----------------------------------------------------- */

#define GOOD_HEAD "[model]\nname = bad\nkinds = co2\nfunction = holding\nstart = 0\ncount = 4\n"
#define GOOD_POINT "[point co2]\naddress = 3\ntype = uint16\n"

static const struct {
    const char *text;
    const char *want; /* substring of err, FILE:LINE included */
} broken[] = {
    {GOOD_HEAD "colour = red\n" GOOD_POINT, "/bad.model:7: [model] colour: unknown key"},
    {GOOD_HEAD GOOD_POINT "colour = red\n", "/bad.model:10: [point co2] colour: unknown key"},
    {GOOD_HEAD "[point co2]\naddress = 4\ntype = uint16\n",
     "/bad.model:8: [point co2] address: 0x0004..0x0004 outside the read span 0x0000..0x0003"},
    {GOOD_HEAD "[point co2]\naddress = 3\ntype = uint32\n",
     "/bad.model:8: [point co2] address: 0x0003..0x0004 outside the read span"},
    {GOOD_HEAD "[point co2]\naddress = 3\ntype = int8\n",
     "/bad.model:9: [point co2] type: 'int8' is not uint16"},
    {GOOD_HEAD "[point co2]\naddress = 3\ntype = bits\nbits = 4\n",
     "/bad.model:9: [point co2] type: bits cannot be read with FC03"},
    {"[model]\nname = bad\nkinds = co2\nfunction = 4\nstart = 0\ncount = 126\n" GOOD_POINT,
     "/bad.model:6: [model] count: 126 exceeds the FC04 limit of 125 registers per read"},
    {"[model]\nname = bad\nkinds = water_leak\nfunction = 2\nstart = 0\ncount = 2001\n"
     "[point inputs]\naddress = 0\ntype = bits\nbits = 8\n",
     "/bad.model:6: [model] count: '2001' is not a number of 1..2000"},
    {"[model]\nname = bad\nkinds = co2\nfunction = 3\nstart = 0xFFFF\ncount = 2\n"
     "[point co2]\naddress = 0xFFFF\ntype = uint16\n",
     "/bad.model:6: [model] count: span 0xFFFF + 2 runs past address 0xFFFF"},
    {"[model]\nname = other\nkinds = co2\nfunction = 3\nstart = 0\ncount = 4\n" GOOD_POINT,
     "/bad.model:2: [model] name: 'other' differs from the file name 'bad'"},
    {GOOD_POINT, "/bad.model:3: [model]: required section missing"},
    {"; comment\n[model]\nname = bad\n" GOOD_POINT, "/bad.model:2: [model] kinds: missing"},
    {"[model]\nname = bad\n" GOOD_POINT, "/bad.model:1: [model] count: missing"},
    {"[model]\nname = bad\nkinds = co2\n" GOOD_POINT, "/bad.model:1: [model] function: missing"},
    {GOOD_HEAD, "/bad.model:1: [model]: no [point NAME] section"},
    {GOOD_HEAD "count = 4\n" GOOD_POINT,
     "/bad.model:7: [model] count: duplicate key (first at line 6)"},
    {GOOD_HEAD GOOD_POINT "[point co2]\n",
     "/bad.model:10: [point co2]: duplicate section (first at line 7)"},
    {GOOD_HEAD "[model]\n" GOOD_POINT,
     "/bad.model:7: [model]: duplicate section (first at line 1)"},
    {GOOD_HEAD "this line has no value\n" GOOD_POINT,
     "/bad.model:7: [model]: expected `key = value`"},
    {GOOD_HEAD GOOD_POINT "no value at the end",
     "/bad.model:10: [point co2]: expected `key = value`"},
    /* An indented line is an ordinary line, never the continuation of a value. */
    {GOOD_HEAD "description = two\n  lines\n" GOOD_POINT,
     "/bad.model:8: [model]: expected `key = value`"},
    {GOOD_HEAD "[point co2\naddress = 3\ntype = uint16\n",
     "/bad.model:7: section header without ']'"},
    {GOOD_HEAD "[sensor x]\na = 1\n" GOOD_POINT,
     "/bad.model:7: [sensor x]: unknown section (expected model or point NAME)"},
    {GOOD_HEAD "[point]\n" GOOD_POINT, "/bad.model:7: [point]: needs a name: [point NAME]"},
    {GOOD_HEAD "[point a b]\n" GOOD_POINT, "/bad.model:7: [point a b]: point name is not"},
    {GOOD_HEAD "[model] junk\n" GOOD_POINT, "/bad.model:7: [model]: unexpected text after ']'"},
    {GOOD_HEAD "description = \xb6\xab\xb7\xe7\n" GOOD_POINT, /* GBK */
     "/bad.model:7: [model] description: not valid UTF-8 text (is the file saved as GBK?"},
    {GOOD_HEAD "[point Co2]\n", "/bad.model:7: [point Co2]: point name is not [a-z0-9_]"},
    {"name = bad\n" GOOD_HEAD GOOD_POINT, "/bad.model:1: name: key outside any section"},
    {GOOD_HEAD "[point co2]\naddress = 0x\ntype = uint16\n",
     "/bad.model:8: [point co2] address: '0x' is not an address 0..0xFFFF"},
    {GOOD_HEAD "[point co2]\naddress = -1\ntype = uint16\n",
     "/bad.model:8: [point co2] address: '-1' is not an address"},
    {GOOD_HEAD "[point co2]\naddress = 0x10000\ntype = uint16\n",
     "/bad.model:8: [point co2] address: '0x10000' is not an address"},
    {GOOD_HEAD GOOD_POINT "word_order = little\n",
     "/bad.model:10: [point co2] word_order: only for 32-bit types"},
    {GOOD_HEAD "[point co2]\naddress = 2\ntype = uint32\nword_order = middle\n",
     "/bad.model:10: [point co2] word_order: 'middle' is not big or little"},
    {GOOD_HEAD GOOD_POINT "bits = 8\n", "/bad.model:10: [point co2] bits: only for type bits"},
    {"[model]\nname = bad\nkinds = water_leak\nfunction = 2\nstart = 0\ncount = 8\n"
     "[point inputs]\naddress = 0\ntype = bits\n",
     "/bad.model:7: [point inputs] bits: missing (required for type bits)"},
    {"[model]\nname = bad\nkinds = water_leak\nfunction = 2\nstart = 0\ncount = 8\n"
     "[point inputs]\naddress = 4\ntype = bits\nbits = 8\n",
     "/bad.model:8: [point inputs] address: 0x0004..0x000B outside the read span 0x0000..0x0007"},
    {GOOD_HEAD GOOD_POINT "scale = 0\n", "/bad.model:10: [point co2] scale: '0' is not a non-zero"},
    {GOOD_HEAD GOOD_POINT "scale = 1x\n", "/bad.model:10: [point co2] scale: '1x' is not"},
    {GOOD_HEAD GOOD_POINT "units = 1:1\n", "/bad.model:10: [point co2] units: needs unit_register"},
    {GOOD_HEAD GOOD_POINT "unit_register = 0\n",
     "/bad.model:10: [point co2] unit_register: needs units"},
    {GOOD_HEAD GOOD_POINT "unit_register = 0\nunits = cm:0.01\n",
     "/bad.model:11: [point co2] units: unit code 'cm' is not"},
    {GOOD_HEAD GOOD_POINT "unit_register = 0\nunits = 1:0.01, 1:1\n",
     "/bad.model:11: [point co2] units: unit code 0x1 listed twice"},
    {GOOD_HEAD GOOD_POINT "unit_register = 0\nunits = 1:-1\n",
     "/bad.model:11: [point co2] units: factor '-1' is not a positive number"},
    {GOOD_HEAD GOOD_POINT "unit_register = 0\nunits = 1\n",
     "/bad.model:11: [point co2] units: '1' is not CODE:VALUE"},
    {GOOD_HEAD GOOD_POINT "decimals_register = 9\n",
     "/bad.model:10: [point co2] decimals_register: 0x0009 outside the read span"},
    {GOOD_HEAD GOOD_POINT "over_range = 70000\n",
     "/bad.model:10: [point co2] over_range: 70000 does not fit a 16-bit register"},
    {GOOD_HEAD "[point co2]\naddress = 3\ntype = int16\nenum = 0:a\n",
     "/bad.model:10: [point co2] enum: enum points must be type uint16"},
    {GOOD_HEAD GOOD_POINT "enum = 0:a\nscale = 2\n",
     "/bad.model:11: [point co2] scale: an enum point has no scale"},
    {GOOD_HEAD GOOD_POINT "enum = 0:Fire\n", "/bad.model:10: [point co2] enum: state name 'Fire'"},
    {"[model]\nname = bad\nkinds = smoke\nfunction = 3\nstart = 0\ncount = 1\n"
     "[point state]\naddress = 0\ntype = uint16\nenum = 0:normal, 1:alarm\n",
     "/bad.model:3: [model] kinds: smoke: point 'state': 'alarm' is not normal, fire or fault"},
    {"[model]\nname = bad\nkinds = water_level\nfunction = 3\nstart = 0\ncount = 1\n"
     "[point lvl]\naddress = 0\ntype = int16\n",
     "/bad.model:3: [model] kinds: water_level: needs a point 'level'"},
    {"[model]\nname = bad\nkinds = blast_door\nfunction = 3\nstart = 0\ncount = 1\n"
     "[point level]\naddress = 0\ntype = int16\n",
     "/bad.model:3: [model] kinds: blast_door: needs a point 'inputs' of type bits"},
    {"[model]\nname = bad\nkinds = co2, fog\nfunction = 3\nstart = 0\ncount = 1\n",
     "/bad.model:3: [model] kinds: unknown kind 'fog'"},
    {"[model]\nname = bad\nkinds = co2, co2\nfunction = 3\nstart = 0\ncount = 1\n",
     "/bad.model:3: [model] kinds: kind 'co2' listed twice"},
    {"[model]\nname = bad\nkinds = co2\nfunction = 5\nstart = 0\ncount = 1\n",
     "/bad.model:4: [model] function: '5' is not 1, 2, 3, 4"},
/* Output modules: the point `outputs`, bits read with FC01, written. */
#define DO_HEAD "[model]\nname = bad\nfunction = coils\nstart = 0\ncount = 8\n"
    {DO_HEAD "[point outputs]\naddress = 0\ntype = bits\nbits = 8\nwrite = twice\n",
     "/bad.model:10: [point outputs] write: 'twice' is not single (FC05) or multiple (FC15)"},
    {DO_HEAD "[point outputs]\naddress = 0\ntype = bits\nbits = 8\n",
     "/bad.model:6: [point outputs] write: missing (the point `outputs` is an output module's"},
    {DO_HEAD "[point relays]\naddress = 0\ntype = bits\nbits = 8\nwrite = single\n",
     "/bad.model:10: [point relays] write: only the point `outputs` of type bits on a model "
     "read with FC01"},
    {"[model]\nname = bad\nfunction = discrete\nstart = 0\ncount = 8\n"
     "[point outputs]\naddress = 0\ntype = bits\nbits = 8\nwrite = single\n",
     "/bad.model:10: [point outputs] write: only the point `outputs` of type bits on a model "
     "read with FC01"},
    {DO_HEAD "[point inputs]\naddress = 0\ntype = bits\nbits = 8\n",
     "/bad.model:1: [model] kinds: missing (required: the sensor kinds that read this model, "
     "unless it is an output module"},
    {DO_HEAD "[point outputs]\naddress = 4\ntype = bits\nbits = 8\nwrite = single\n",
     "/bad.model:7: [point outputs] address: 0x0004..0x000B outside the read span"},
};

START_TEST(test_broken_model_file_gives_file_line_reason)
{
    make_tmpdir();
    write_model("bad.model", broken[_i].text);
    ck_assert_msg(!load_tmp_ok(), "case %d loaded", _i);
    ck_assert_msg(strstr(err, broken[_i].want) != NULL, "case %d: want '%s' in:\n%s", _i,
                  broken[_i].want, err);
    ck_assert_msg(strncmp(err, tmpdir, strlen(tmpdir)) == 0, "case %d: not FILE:LINE: %s", _i, err);
    remove_tmpdir();
}
END_TEST

START_TEST(test_every_error_of_every_file_is_collected_in_line_order)
{
    char want1[256], want2[256], want3[256], want4[256];

    make_tmpdir();
    write_model("bad.model", "[model]\nname = bad\nkinds = co2\nfunction = 3\nstart = 0\n"
                             "count = 200\ncolour = red\n[point co2]\naddress = 9\ntype = int8\n");
    write_model("worse.model", "[model]\nname = worse\n");
    write_model("good.model", "[model]\nname = good\nkinds = co2\nfunction = 3\nstart = 0\n"
                              "count = 1\n[point co2]\naddress = 0\ntype = uint16\n");
    ck_assert(!load_tmp_ok());
    snprintf(want1, sizeof want1, "%s/bad.model:6: [model] count: 200 exceeds", tmpdir);
    snprintf(want2, sizeof want2, "%s/bad.model:7: [model] colour: unknown key", tmpdir);
    snprintf(want3, sizeof want3, "%s/bad.model:10: [point co2] type: 'int8'", tmpdir);
    snprintf(want4, sizeof want4, "%s/worse.model:1: [model] count: missing", tmpdir);
    char *p1 = strstr(err, want1), *p2 = strstr(err, want2), *p3 = strstr(err, want3);
    char *p4 = strstr(err, want4);
    ck_assert_msg(p1 && p2 && p3 && p4, "%s", err);
    ck_assert(p1 < p2 && p2 < p3 && p3 < p4);
    ck_assert_ptr_null(strstr(err, "good.model"));
    remove_tmpdir();
}
END_TEST

/* Found by fuzzing: a line whose trailing CR/LF run is longer than the
 * reader's buffer overflowed it (the length check counted the content only). */
START_TEST(test_line_ending_in_many_carriage_returns_is_safe)
{
    static char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, GOOD_HEAD "description = x");
    memset(text + n, '\r', 1500);
    snprintf(text + n + 1500, sizeof text - n - 1500, "\n" GOOD_POINT);
    make_tmpdir();
    write_model("bad.model", text);
    ck_assert_msg(load_tmp_ok(), "%s", err);
    remove_tmpdir();
}
END_TEST

START_TEST(test_over_long_line_is_reported_at_its_line)
{
    char text[600];
    snprintf(text, sizeof text, GOOD_HEAD "description = %0300d\n" GOOD_POINT, 7);
    make_tmpdir();
    write_model("bad.model", text);
    ck_assert(!load_tmp_ok());
    ck_assert_msg(strstr(err, "/bad.model:7: [model]: line too long (at most 198 bytes)") != NULL,
                  "%s", err);
    /* and the next line still counts right */
    ck_assert_ptr_null(strstr(err, ":8:"));
    remove_tmpdir();
}
END_TEST

START_TEST(test_line_numbers_survive_crlf_bom_and_comments)
{
    make_tmpdir();
    write_model("bad.model", "\xEF\xBB\xBF; model with a BOM and CRLF\r\n[model]\r\n"
                             "name = bad ; inline comment\r\n# hash comment\r\n\r\n"
                             "kinds = co2\r\nfunction = 3\r\nstart = 0\r\ncount = 1\r\n"
                             "[point co2]\r\naddress = 0\r\ntype = uint16\r\nbogus = 1\r\n");
    ck_assert(!load_tmp_ok());
    ck_assert_msg(strstr(err, "/bad.model:13: [point co2] bogus: unknown key") != NULL, "%s", err);
    ck_assert_ptr_null(strchr(err, '\n')); /* the only error */
    remove_tmpdir();
}
END_TEST

/* Model files follow gateway.conf's line rules (lib/ini): indentation is
 * ignored, so an indented file loads, with every value where it belongs. */
START_TEST(test_indented_lines_load_like_gateway_conf)
{
    make_tmpdir();
    write_model("ok.model", "[model]\n  name = ok\n\tkinds = co2\n  function = 3\n"
                            "  start = 0\n  count = 4\n  [point co2]\n    address = 3\n"
                            "    type = uint16\n    scale = 0.5 ; half\n");
    struct model_set *ms = kind_models_load(tmpdir, err, sizeof err);
    ck_assert_msg(ms != NULL, "%s", err);
    const struct model *m = model_set_find(ms, "ok");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->count, 4);
    const struct model_point *p = model_point(m, "co2");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->address, 3);
    ck_assert_double_eq(p->scale, 0.5);
    model_set_free(ms);
    remove_tmpdir();
}
END_TEST

START_TEST(test_error_text_is_truncated_safely)
{
    char small[24];
    make_tmpdir();
    write_model("bad.model", GOOD_HEAD "a = 1\nb = 2\n");
    memset(small, 'x', sizeof small);
    struct model_set *ms = kind_models_load(tmpdir, small, sizeof small);
    ck_assert_ptr_null(ms);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    remove_tmpdir();
}
END_TEST

START_TEST(test_missing_or_empty_directory_is_an_error)
{
    errno = 0;
    ck_assert_ptr_null(kind_models_load("/nonexistent/models", err, sizeof err));
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_str_eq(err, "/nonexistent/models: No such file or directory");

    make_tmpdir();
    write_model("README.md", "not a model\n");
    write_model(".hidden.model", "junk\n");
    ck_assert(!load_tmp_ok());
    ck_assert_msg(strstr(err, ": no *.model files") != NULL, "%s", err);
    remove_tmpdir();
    model_set_free(NULL);
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("reference");
    tcase_add_checked_fixture(tc, load_refs, free_refs);
    tcase_add_test(tc, test_reference_models_all_load);
    tcase_add_test(tc, test_level_decodes_units_and_decimals_0_to_3);
    tcase_add_test(tc, test_level_decimals_above_6_is_out_of_range);
    tcase_add_test(tc, test_level_unknown_unit_code_is_out_of_range);
    tcase_add_test(tc, test_16bit_placeholders_are_reported_not_decoded);
    tcase_add_test(tc, test_co2_jxct_reads_ppm_and_marks_5000_over_range);
    tcase_add_test(tc, test_senseair_s8_reads_status_and_ppm_from_one_span);
    tcase_add_test(tc, test_smoke_rs485_names_its_three_states);
    tcase_add_test(tc, test_di8_unpacks_eight_inputs);
    tcase_add_test(tc, test_do8_is_eight_coils_written_with_fc05);
    tcase_add_test(tc, test_an_output_module_may_use_fc15);
    tcase_add_test(tc, test_function_names_for_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("types");
    tcase_add_checked_fixture(tc, load_types, free_types);
    tcase_add_test(tc, test_every_type_sign_and_word_order);
    tcase_add_test(tc, test_uint32_above_2_pow_31_stays_positive);
    tcase_add_test(tc, test_32bit_placeholders_are_reported);
    tcase_add_test(tc, test_float_nan_is_placeholder_and_inf_out_of_range);
    tcase_add_test(tc, test_scaled_value_beyond_double_is_out_of_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("broken");
    tcase_add_loop_test(tc, test_broken_model_file_gives_file_line_reason, 0,
                        (int)(sizeof broken / sizeof broken[0]));
    tcase_add_test(tc, test_every_error_of_every_file_is_collected_in_line_order);
    tcase_add_test(tc, test_over_long_line_is_reported_at_its_line);
    tcase_add_test(tc, test_line_ending_in_many_carriage_returns_is_safe);
    tcase_add_test(tc, test_line_numbers_survive_crlf_bom_and_comments);
    tcase_add_test(tc, test_indented_lines_load_like_gateway_conf);
    tcase_add_test(tc, test_error_text_is_truncated_safely);
    tcase_add_test(tc, test_missing_or_empty_directory_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(model_suite());
}
