/* Unit tests of kind: door state for every contact combination and polarity,
 * each kind's decoding with the reference models, implausible readings, the
 * sensor checks for the config loader, the exact reading payloads; the kind
 * table against the contract (every field of every kind in JSON and line
 * protocol), its deadbands, and a door's movements.
 * Run from the repository root (loads sensors/models). */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "gwerr.h"
#include "kind.h"
#include "model.h"
#include "points.h"

#define MODELS_DIR "sensors/models"
#define TS_MS 1784570584123LL /* 2026-07-20T18:03:04.123Z */

static struct model_set *refs;

static void load_refs(void)
{
    char err[4096];
    refs = kind_models_load(MODELS_DIR, err, sizeof err);
    ck_assert_msg(refs != NULL, "reference models do not load: %s", err);
}

static void free_refs(void)
{
    model_set_free(refs);
    refs = NULL;
}

/* A sensor as the config loader would fill it: inputs unset = -1. */
static struct sensor_def sensor(enum kind k, const char *model)
{
    struct sensor_def s;
    memset(&s, 0, sizeof s);
    s.kind = k;
    s.model = model_set_find(refs, model);
    ck_assert_msg(s.model != NULL, "model %s missing", model);
    s.closed_input = s.locked_input = s.open_input = -1;
    s.alarm_input = s.fault_input = s.input = -1;
    return s;
}

static struct reading decode_regs(const struct sensor_def *s, const uint16_t *regs)
{
    struct reading r;
    ck_assert_msg(kind_decode(s, 3, regs, NULL, TS_MS, &r) == 0, "%s", gw_strerror(errno));
    ck_assert_int_eq(r.sensor, 3);
    ck_assert_int_eq(r.kind, s->kind);
    ck_assert_int_eq(r.ts_ms, TS_MS);
    return r;
}

static struct reading decode_bits(const struct sensor_def *s, const uint8_t *bits)
{
    struct reading r;
    ck_assert_msg(kind_decode(s, 0, NULL, bits, TS_MS, &r) == 0, "%s", gw_strerror(errno));
    return r;
}

static const char *json(const struct reading *r)
{
    static char buf[512];
    ck_assert_int_gt(reading_json(r, "test-1", buf, sizeof buf), 0);
    return buf;
}

#define HEAD(kind, quality)                                                                        \
    "{\"ts\":\"2026-07-20T18:03:04.123Z\",\"sensor\":\"test-1\",\"kind\":\"" kind                  \
    "\",\"quality\":\"" quality "\""

/* ---- names ----------------------------------------------------------------- */

START_TEST(test_kind_names_round_trip)
{
    static const char *const names[KIND_COUNT] = {"water_level", "water_leak", "co2", "blast_door",
                                                  "smoke"};
    for (int k = 0; k < KIND_COUNT; k++) {
        enum kind out = KIND_COUNT;
        ck_assert_str_eq(kind_name((enum kind)k), names[k]);
        ck_assert_int_eq(kind_from_name(names[k], &out), 0);
        ck_assert_int_eq(out, k);
    }
    enum kind out;
    ck_assert_int_eq(kind_from_name("Water_Level", &out), -1);
    ck_assert_int_eq(kind_from_name("", &out), -1);
    ck_assert_str_eq(kind_name(KIND_COUNT), "?");
}
END_TEST

START_TEST(test_state_names_match_the_payload_contract)
{
    ck_assert_str_eq(quality_name(Q_GOOD), "good");
    ck_assert_str_eq(quality_name(Q_COMM_LOST), "comm_lost");
    ck_assert_str_eq(quality_name(Q_IMPLAUSIBLE), "implausible");
    ck_assert_str_eq(quality_name(Q_WARMING_UP), "warming_up");
    ck_assert_str_eq(door_state_name(DOOR_OPEN), "open");
    ck_assert_str_eq(door_state_name(DOOR_CLOSED), "closed");
    ck_assert_str_eq(door_state_name(DOOR_LOCKED), "locked");
    ck_assert_str_eq(door_state_name(DOOR_UNKNOWN), "unknown");
    ck_assert_str_eq(smoke_state_name(SMOKE_NORMAL), "normal");
    ck_assert_str_eq(smoke_state_name(SMOKE_FIRE), "fire");
    ck_assert_str_eq(smoke_state_name(SMOKE_FAULT), "fault");
}
END_TEST

/* ---- blast door ---------------------------------------------------------- */

enum { C = CONTACT_CLOSED, L = CONTACT_LOCKED, O = CONTACT_OPEN };

/* Expected door state per contact combination, written out row by row. */
static enum door_state expected_door(unsigned contacts, int open_fitted)
{
    static const struct {
        unsigned contacts;
        enum door_state without_open, with_open;
    } rows[8] = {
        {0, DOOR_OPEN, DOOR_OPEN}, /* nothing made: open, or ajar between positions: not closed */
        {C, DOOR_CLOSED, DOOR_CLOSED},
        {L, DOOR_UNKNOWN, DOOR_UNKNOWN}, /* locked without closed */
        {C | L, DOOR_LOCKED, DOOR_LOCKED},
        {O, DOOR_OPEN, DOOR_OPEN},          /* open bit ignored without the contact */
        {C | O, DOOR_CLOSED, DOOR_UNKNOWN}, /* closed and open */
        {L | O, DOOR_UNKNOWN, DOOR_UNKNOWN},
        {C | L | O, DOOR_LOCKED, DOOR_UNKNOWN},
    };
    for (int i = 0; i < 8; i++)
        if (rows[i].contacts == contacts)
            return open_fitted ? rows[i].with_open : rows[i].without_open;
    ck_abort_msg("no row for %u", contacts);
    return DOOR_UNKNOWN;
}

START_TEST(test_door_state_from_contacts_every_combination)
{
    for (unsigned c = 0; c < 8; c++) {
        ck_assert_int_eq(door_state_from_contacts(c, C | L), expected_door(c, 0));
        ck_assert_int_eq(door_state_from_contacts(c, C | L | O), expected_door(c, 1));
    }
}
END_TEST

/* _i: bits 0-2 the logical contacts (closed, locked, open), bit 3 open
 * contact fitted, bit 4 all the door's channels wired normally-closed. */
START_TEST(test_door_every_contact_combination_and_polarity)
{
    unsigned logical = (unsigned)_i & 7;
    int open_fitted = (_i >> 3) & 1, inverted = (_i >> 4) & 1;
    struct sensor_def s = sensor(KIND_BLAST_DOOR, "di8");
    uint8_t bits[8];
    const int closed_ch = 5, locked_ch = 2, open_ch = 7;

    s.closed_input = closed_ch;
    s.locked_input = locked_ch;
    if (open_fitted)
        s.open_input = open_ch;
    if (inverted)
        s.inverted_mask = 1u << closed_ch | 1u << locked_ch | (open_fitted ? 1u << open_ch : 0);
    /* other channels (other sensors on the module) carry noise */
    for (int ch = 0; ch < 8; ch++)
        bits[ch] = (uint8_t)(ch % 2);
    bits[closed_ch] = (uint8_t)(((logical & C) != 0) ^ inverted);
    bits[locked_ch] = (uint8_t)(((logical & L) != 0) ^ inverted);
    /* without an open contact channel 7 is someone else's: never inverted */
    bits[open_ch] = (uint8_t)(((logical & O) != 0) ^ (open_fitted && inverted));

    struct reading r = decode_bits(&s, bits);
    ck_assert_int_eq(r.quality, Q_GOOD);
    ck_assert_int_eq(r.v.blast_door.door, expected_door(logical, open_fitted));
    ck_assert_uint_eq(r.v.blast_door.contacts_present, open_fitted ? (C | L | O) : (C | L));
    ck_assert_uint_eq(r.v.blast_door.contacts, logical & (open_fitted ? (C | L | O) : (C | L)));
}
END_TEST

START_TEST(test_door_channel_outside_module_is_an_error)
{
    struct sensor_def s = sensor(KIND_BLAST_DOOR, "di8");
    uint8_t bits[8] = {0};
    struct reading r;

    s.closed_input = 0;
    s.locked_input = 8;
    errno = 0;
    ck_assert_int_eq(kind_decode(&s, 0, NULL, bits, TS_MS, &r), -1);
    ck_assert_int_eq(errno, EGW_CONFIG);
}
END_TEST

/* ---- water level ----------------------------------------------------------- */

START_TEST(test_water_level_in_metres_and_percent_of_pit)
{
    struct sensor_def s = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    s.pit_depth_m = 2.0;
    uint16_t cm[3] = {0x11, 1, 1255}; /* 125.5 cm */
    uint16_t m[3] = {0x12, 3, 1255};  /* 1.255 m */

    struct reading r = decode_regs(&s, cm);
    ck_assert_int_eq(r.quality, Q_GOOD);
    ck_assert_double_eq_tol(r.v.water_level.level_m, 1.255, 1e-9);
    ck_assert_double_eq_tol(r.v.water_level.level_pct, 62.75, 1e-9);
    r = decode_regs(&s, m);
    ck_assert_double_eq_tol(r.v.water_level.level_m, 1.255, 1e-9);
    ck_assert(!r.no_value);
}
END_TEST

START_TEST(test_water_level_bounds_of_plausibility)
{
    static const struct {
        int16_t cm;
        enum quality q;
    } cases[] = {
        {-5, Q_GOOD},         {-6, Q_IMPLAUSIBLE}, {400, Q_GOOD},
        {401, Q_IMPLAUSIBLE}, {0, Q_GOOD},         {-300, Q_IMPLAUSIBLE},
    };
    struct sensor_def s = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    s.pit_depth_m = 2.0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t regs[3] = {0x11, 0, (uint16_t)cases[i].cm};
        struct reading r = decode_regs(&s, regs);
        ck_assert_msg(r.quality == cases[i].q, "%d cm: quality %s", cases[i].cm,
                      quality_name(r.quality));
        /* an impossible level is still reported, for the installer */
        ck_assert_double_eq_tol(r.v.water_level.level_m, cases[i].cm / 100.0, 1e-9);
        ck_assert(!r.no_value);
    }
}
END_TEST

START_TEST(test_water_level_placeholder_or_bad_unit_is_implausible_without_value)
{
    static const uint16_t cases[][3] = {
        {0x12, 0, 0xFFFF}, {0x12, 0, 0x7FFF}, {0x12, 0, 0x8000}, /* placeholders */
        {0x13, 0, 100},                                          /* unknown unit */
        {0x12, 7, 100},                                          /* decimals > 6 */
    };
    struct sensor_def s = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    s.pit_depth_m = 2.0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct reading r = decode_regs(&s, cases[i]);
        ck_assert_int_eq(r.quality, Q_IMPLAUSIBLE);
        ck_assert(r.no_value);
        ck_assert_double_eq(r.v.water_level.level_m, 0);
    }
}
END_TEST

START_TEST(test_water_level_without_pit_depth_is_an_error)
{
    struct sensor_def s = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    uint16_t regs[3] = {0x12, 0, 1};
    struct reading r;

    s.pit_depth_m = 0;
    errno = 0;
    ck_assert_int_eq(kind_decode(&s, 0, regs, NULL, TS_MS, &r), -1);
    ck_assert_int_eq(errno, EGW_CONFIG);
}
END_TEST

/* ---- water leak ------------------------------------------------------------ */

START_TEST(test_water_leak_follows_input_and_polarity)
{
    struct sensor_def s = sensor(KIND_WATER_LEAK, "di8");
    uint8_t bits[8] = {1, 1, 1, 0, 1, 1, 1, 1};

    s.input = 3;
    ck_assert(!decode_bits(&s, bits).v.water_leak.wet);
    bits[3] = 1;
    ck_assert(decode_bits(&s, bits).v.water_leak.wet);
    s.inverted_mask = 1u << 3; /* normally-closed: a break means wet */
    ck_assert(!decode_bits(&s, bits).v.water_leak.wet);
    bits[3] = 0;
    struct reading r = decode_bits(&s, bits);
    ck_assert(r.v.water_leak.wet);
    ck_assert_int_eq(r.quality, Q_GOOD);
}
END_TEST

/* ---- co2 ------------------------------------------------------------------- */

START_TEST(test_co2_jxct_ppm_and_over_range)
{
    struct sensor_def s = sensor(KIND_CO2, "co2-jxct");
    uint16_t regs[1] = {812};

    struct reading r = decode_regs(&s, regs);
    ck_assert_int_eq(r.quality, Q_GOOD);
    ck_assert_double_eq(r.v.co2.co2_ppm, 812);
    ck_assert(!r.v.co2.over_range && !r.v.co2.sensor_error);
    regs[0] = 4999;
    ck_assert(!decode_regs(&s, regs).v.co2.over_range);
    regs[0] = 5000;
    r = decode_regs(&s, regs);
    ck_assert(r.v.co2.over_range);
    ck_assert_int_eq(r.quality, Q_GOOD); /* a valid "at least 5000" */
    ck_assert_double_eq(r.v.co2.co2_ppm, 5000);
}
END_TEST

START_TEST(test_co2_placeholder_is_implausible_without_value)
{
    struct sensor_def s = sensor(KIND_CO2, "co2-jxct");
    uint16_t regs[1] = {0xFFFF};

    struct reading r = decode_regs(&s, regs);
    ck_assert_int_eq(r.quality, Q_IMPLAUSIBLE);
    ck_assert(r.no_value);
}
END_TEST

START_TEST(test_co2_senseair_status_bits_mean_sensor_error)
{
    struct sensor_def s = sensor(KIND_CO2, "co2-senseair-s8");
    uint16_t regs[4] = {0, 0, 0, 650};

    struct reading r = decode_regs(&s, regs);
    ck_assert_int_eq(r.quality, Q_GOOD);
    ck_assert(!r.v.co2.sensor_error);
    ck_assert_double_eq(r.v.co2.co2_ppm, 650);
    for (int bit = 0; bit < 16; bit++) {
        regs[0] = (uint16_t)(1u << bit);
        r = decode_regs(&s, regs);
        ck_assert(r.v.co2.sensor_error);
        ck_assert_int_eq(r.quality, Q_IMPLAUSIBLE);
        ck_assert_double_eq(r.v.co2.co2_ppm, 650); /* kept for diagnosis */
        ck_assert(!r.no_value);
    }
    regs[0] = 0xFFFF; /* status unreadable: not trusted either */
    r = decode_regs(&s, regs);
    ck_assert(r.v.co2.sensor_error);
    ck_assert_int_eq(r.quality, Q_IMPLAUSIBLE);
}
END_TEST

/* ---- smoke ----------------------------------------------------------------- */

START_TEST(test_smoke_register_states)
{
    static const struct {
        uint16_t raw;
        enum quality q;
        enum smoke_state smoke;
        bool no_value;
    } cases[] = {
        {0, Q_GOOD, SMOKE_NORMAL, false},         {1, Q_GOOD, SMOKE_FIRE, false},
        {2, Q_GOOD, SMOKE_FAULT, false},          {3, Q_IMPLAUSIBLE, SMOKE_NORMAL, true},
        {100, Q_IMPLAUSIBLE, SMOKE_NORMAL, true}, {0xFFFF, Q_IMPLAUSIBLE, SMOKE_NORMAL, true},
    };
    struct sensor_def s = sensor(KIND_SMOKE, "smoke-rs485");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct reading r = decode_regs(&s, &cases[i].raw);
        ck_assert_int_eq(r.quality, cases[i].q);
        ck_assert_int_eq(r.v.smoke.smoke, cases[i].smoke);
        ck_assert_int_eq(r.no_value, cases[i].no_value);
    }
}
END_TEST

START_TEST(test_smoke_inputs_fire_beats_fault)
{
    static const struct {
        uint8_t alarm, fault;
        enum smoke_state want;
    } cases[] = {
        {0, 0, SMOKE_NORMAL},
        {1, 0, SMOKE_FIRE},
        {0, 1, SMOKE_FAULT},
        {1, 1, SMOKE_FIRE},
    };
    struct sensor_def s = sensor(KIND_SMOKE, "di8");
    s.alarm_input = 6;
    s.fault_input = 1;
    for (int inv = 0; inv < 2; inv++) {
        s.inverted_mask = inv ? (1u << 6 | 1u << 1) : 0;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            uint8_t bits[8] = {0};
            bits[6] = cases[i].alarm ^ (uint8_t)inv;
            bits[1] = cases[i].fault ^ (uint8_t)inv;
            struct reading r = decode_bits(&s, bits);
            ck_assert_int_eq(r.v.smoke.smoke, cases[i].want);
            ck_assert_int_eq(r.quality, Q_GOOD);
        }
    }
}
END_TEST

START_TEST(test_smoke_inputs_without_fault_contact_ignore_other_channels)
{
    struct sensor_def s = sensor(KIND_SMOKE, "di8");
    uint8_t bits[8] = {1, 1, 1, 1, 0, 1, 1, 1};

    s.alarm_input = 4;
    ck_assert_int_eq(decode_bits(&s, bits).v.smoke.smoke, SMOKE_NORMAL);
    bits[4] = 1;
    ck_assert_int_eq(decode_bits(&s, bits).v.smoke.smoke, SMOKE_FIRE);
}
END_TEST

/* ---- errors and comm_lost -------------------------------------------------- */

START_TEST(test_missing_data_is_an_error)
{
    struct sensor_def lvl = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    struct sensor_def leak = sensor(KIND_WATER_LEAK, "di8");
    uint16_t regs[8] = {0};
    uint8_t bits[8] = {0};
    struct reading r;

    lvl.pit_depth_m = 1;
    leak.input = 0;
    errno = 0;
    ck_assert_int_eq(kind_decode(&lvl, 0, NULL, bits, TS_MS, &r), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(kind_decode(&leak, 0, regs, NULL, TS_MS, &r), -1);
    ck_assert_int_eq(errno, EINVAL);
    lvl.model = NULL;
    ck_assert_int_eq(kind_decode(&lvl, 0, regs, NULL, TS_MS, &r), -1);
}
END_TEST

START_TEST(test_comm_lost_reading_has_no_values)
{
    struct sensor_def s = sensor(KIND_CO2, "co2-jxct");
    struct reading r;

    memset(&r, 0x5A, sizeof r);
    kind_comm_lost(&s, 7, TS_MS, &r);
    ck_assert_int_eq(r.sensor, 7);
    ck_assert_int_eq(r.kind, KIND_CO2);
    ck_assert_int_eq(r.quality, Q_COMM_LOST);
    ck_assert_int_eq(r.ts_ms, TS_MS);
    ck_assert(r.no_value);
    ck_assert_double_eq(r.v.co2.co2_ppm, 0);
}
END_TEST

/* ---- sensor checks for the config loader ------------------------------------- */

START_TEST(test_sensor_check_accepts_valid_sensors)
{
    char why[160];
    struct sensor_def door = sensor(KIND_BLAST_DOOR, "di8");
    door.closed_input = 0;
    door.locked_input = 1;
    door.open_input = 2;
    door.inverted_mask = 1u << 1;
    ck_assert_msg(kind_sensor_check(&door, why, sizeof why) == 0, "%s", why);

    struct sensor_def lvl = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    lvl.pit_depth_m = 2.5;
    ck_assert_msg(kind_sensor_check(&lvl, why, sizeof why) == 0, "%s", why);

    struct sensor_def smoke = sensor(KIND_SMOKE, "smoke-rs485");
    ck_assert_msg(kind_sensor_check(&smoke, why, sizeof why) == 0, "%s", why);
    smoke = sensor(KIND_SMOKE, "di8");
    smoke.alarm_input = 7;
    ck_assert_msg(kind_sensor_check(&smoke, why, sizeof why) == 0, "%s", why);
}
END_TEST

START_TEST(test_sensor_check_rejects_what_cannot_work)
{
    char why[160];
    struct sensor_def s;

    s = sensor(KIND_BLAST_DOOR, "di8");
    s.closed_input = 0;
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "locked_input: missing (kind blast_door on model di8)");

    s.locked_input = 8;
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "locked_input: channel 8 does not exist on di8 (0..7)");

    s.locked_input = 0;
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "locked_input: channel 0 used twice by this sensor");

    s.locked_input = 1;
    s.inverted_mask = 1u << 4;
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "inverted_inputs: channel 4 is not one of this sensor's inputs");

    s.inverted_mask = 0;
    s.input = 3;
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "input: not used by kind blast_door on model di8");

    s = sensor(KIND_CO2, "di8");
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "model: di8 does not serve kind co2");

    s = sensor(KIND_SMOKE, "smoke-rs485");
    s.alarm_input = 0;
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "alarm_input: not used by kind smoke on model smoke-rs485");

    s = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    ck_assert_int_eq(kind_sensor_check(&s, why, sizeof why), -1);
    ck_assert_str_eq(why, "pit_depth: missing or not > 0");
}
END_TEST

START_TEST(test_model_check_names_the_missing_point)
{
    char why[160];
    ck_assert_int_eq(
        kind_model_check(KIND_WATER_LEVEL, model_set_find(refs, "di8"), why, sizeof why), -1);
    ck_assert_str_eq(why, "needs a point 'level'");
    ck_assert_int_eq(
        kind_model_check(KIND_BLAST_DOOR, model_set_find(refs, "co2-jxct"), why, sizeof why), -1);
    ck_assert_str_eq(why, "needs a point 'inputs' of type bits");
    ck_assert_int_eq(kind_model_check(KIND_SMOKE, model_set_find(refs, "di8"), why, sizeof why), 0);
}
END_TEST

/* ---- payloads ------------------------------------------------------------- */

START_TEST(test_json_water_level_rounds_to_mm_and_tenth_percent)
{
    struct reading r = {.sensor = 0, .kind = KIND_WATER_LEVEL, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.water_level.level_m = 1.23456;
    r.v.water_level.level_pct = 61.728;
    ck_assert_str_eq(json(&r),
                     HEAD("water_level", "good") ",\"level_m\":1.235,\"level_pct\":61.7}");
    r.v.water_level.level_m = -0.0004; /* no "-0" */
    r.v.water_level.level_pct = 0;
    ck_assert_str_eq(json(&r), HEAD("water_level", "good") ",\"level_m\":0,\"level_pct\":0}");
}
END_TEST

START_TEST(test_json_of_decoded_readings_for_every_kind)
{
    struct sensor_def lvl = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    lvl.pit_depth_m = 2.0;
    uint16_t lregs[3] = {0x11, 1, 1234}; /* 123.4 cm */
    struct reading r = decode_regs(&lvl, lregs);
    ck_assert_str_eq(json(&r),
                     HEAD("water_level", "good") ",\"level_m\":1.234,\"level_pct\":61.7}");

    struct sensor_def leak = sensor(KIND_WATER_LEAK, "di8");
    leak.input = 0;
    uint8_t wet[8] = {1};
    r = decode_bits(&leak, wet);
    ck_assert_str_eq(json(&r), HEAD("water_leak", "good") ",\"wet\":true}");
    uint8_t dry[8] = {0};
    r = decode_bits(&leak, dry);
    ck_assert_str_eq(json(&r), HEAD("water_leak", "good") ",\"wet\":false}");

    struct sensor_def co2 = sensor(KIND_CO2, "co2-jxct");
    uint16_t cregs[1] = {812};
    r = decode_regs(&co2, cregs);
    ck_assert_str_eq(json(&r), HEAD("co2", "good") ",\"co2_ppm\":812}");

    struct sensor_def door = sensor(KIND_BLAST_DOOR, "di8");
    door.closed_input = 0;
    door.locked_input = 1;
    uint8_t locked[8] = {1, 1, 0};
    r = decode_bits(&door, locked);
    ck_assert_str_eq(
        json(&r),
        HEAD("blast_door",
             "good") ",\"door\":\"locked\",\"contacts\":{\"closed\":true,\"locked\":true}}");
    door.open_input = 2;
    uint8_t open[8] = {0, 0, 1};
    r = decode_bits(&door, open);
    ck_assert_str_eq(
        json(&r), HEAD("blast_door",
                       "good") ",\"door\":\"open\",\"contacts\":{\"closed\":false,\"locked\":false,"
                               "\"open\":true}}");

    struct sensor_def smoke = sensor(KIND_SMOKE, "smoke-rs485");
    uint16_t sregs[1] = {1};
    r = decode_regs(&smoke, sregs);
    ck_assert_str_eq(json(&r), HEAD("smoke", "good") ",\"smoke\":\"fire\"}");
}
END_TEST

START_TEST(test_json_comm_lost_and_valueless_readings_carry_no_values)
{
    struct sensor_def s = sensor(KIND_WATER_LEVEL, "level-qdy30a");
    s.pit_depth_m = 2.0;
    struct reading r;

    kind_comm_lost(&s, 0, TS_MS, &r);
    ck_assert_str_eq(json(&r), HEAD("water_level", "comm_lost") "}");
    r.no_value = false; /* even with stale values left in */
    r.v.water_level.level_m = 1;
    ck_assert_str_eq(json(&r), HEAD("water_level", "comm_lost") "}");

    uint16_t regs[3] = {0x12, 0, 0xFFFF};
    r = decode_regs(&s, regs);
    ck_assert_str_eq(json(&r), HEAD("water_level", "implausible") "}");

    regs[2] = 5; /* 5 m in a 2 m pit: implausible, value shown */
    r = decode_regs(&s, regs);
    ck_assert_str_eq(json(&r),
                     HEAD("water_level", "implausible") ",\"level_m\":5,\"level_pct\":250}");
}
END_TEST

START_TEST(test_json_never_emits_nan_or_inf)
{
    struct reading r = {.kind = KIND_WATER_LEVEL, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.water_level.level_m = NAN;
    r.v.water_level.level_pct = INFINITY;
    ck_assert_str_eq(json(&r), HEAD("water_level", "good") "}");
    r.kind = KIND_CO2;
    r.v.co2.co2_ppm = -INFINITY;
    ck_assert_str_eq(json(&r), HEAD("co2", "good") "}");
}
END_TEST

START_TEST(test_json_escapes_sensor_name_and_respects_buffer)
{
    struct reading r = {.kind = KIND_SMOKE, .quality = Q_WARMING_UP, .ts_ms = 0};
    char buf[200];
    const char *want = "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"sensor\":\"a\\\"b\\\\c\","
                       "\"kind\":\"smoke\",\"quality\":\"warming_up\",\"smoke\":\"normal\"}";
    int n = reading_json(&r, "a\"b\\c", buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(n, (int)strlen(want));
    ck_assert_int_eq(reading_json(&r, "a\"b\\c", buf, (size_t)n + 1), n);
    errno = 0;
    ck_assert_int_eq(reading_json(&r, "a\"b\\c", buf, (size_t)n), -1);
    ck_assert_int_eq(errno, ENOSPC);
}
END_TEST

START_TEST(test_rfc3339_ms_utc_including_before_1970)
{
    char buf[32];
    format_rfc3339_ms(TS_MS, buf, sizeof buf);
    ck_assert_str_eq(buf, "2026-07-20T18:03:04.123Z");
    format_rfc3339_ms(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    format_rfc3339_ms(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    format_rfc3339_ms(951782400007LL, buf, sizeof buf); /* leap day */
    ck_assert_str_eq(buf, "2000-02-29T00:00:00.007Z");
    format_rfc3339_ms(TS_MS, buf, 25); /* documented minimum */
    ck_assert_str_eq(buf, "2026-07-20T18:03:04.123Z");
}
END_TEST

/* ---- the table against the contract (docs/design.md sections 10, 15) ------- */

/* What each kind publishes, written out from the contract: the reading
 * payload's keys (a door's contacts in the "contacts" object) and the
 * InfluxDB fields after "quality". */
static const struct {
    enum kind kind;
    const char *json;   /* top-level keys, space-separated */
    const char *group;  /* keys inside "contacts" */
    const char *influx; /* fields after quality */
} contract[KIND_COUNT] = {
    {KIND_WATER_LEVEL, "level_m level_pct", "", "level_m level_pct"},
    {KIND_WATER_LEAK, "wet", "", "wet"},
    {KIND_CO2, "co2_ppm", "", "co2_ppm over_range"},
    {KIND_BLAST_DOOR, "door contacts", "closed locked open",
     "door contact_closed contact_locked contact_open"},
    {KIND_SMOKE, "smoke", "", "smoke"},
};

/* A good reading of kind k with every field set to something not zero. */
static struct reading full_reading(enum kind k)
{
    struct reading r = {.sensor = 0, .kind = k, .quality = Q_GOOD, .ts_ms = TS_MS};
    const struct kind_def *kd = kind_def(k);
    for (int i = 0; i < kd->nfields; i++) {
        const struct kind_field *f = &kd->fields[i];
        char *at = (char *)&r + f->offset;
        switch (f->type) {
        case FIELD_NUMBER:
            *(double *)(void *)at = 1.5 + i;
            break;
        case FIELD_BOOL:
            *(bool *)at = true;
            break;
        case FIELD_STATE:
            *(unsigned *)(void *)at = 1;
            break;
        case FIELD_CONTACT:
            *(unsigned *)(void *)at |= f->bit;
            if (f->present != 0)
                *(unsigned *)(void *)((char *)&r + f->present) |= f->bit;
            break;
        }
    }
    if (k == KIND_BLAST_DOOR) /* decode sets these */
        r.v.blast_door.contacts_present |= CONTACT_CLOSED | CONTACT_LOCKED;
    return r;
}

/* The space-separated keys of a JSON object, skipping the reading's head. */
static void json_keys(const cJSON *o, char *out, size_t len)
{
    static const char *const head[] = {"ts", "sensor", "kind", "quality"};
    size_t n = 0;
    out[0] = '\0';
    for (const cJSON *c = o->child; c != NULL; c = c->next) {
        bool skip = false;
        for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
            skip |= strcmp(c->string, head[i]) == 0;
        if (!skip)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", c->string);
    }
}

/* The field keys of a line after quality=...: "k1=v1,k2=v2 ts". */
static void lp_keys(const char *line, char *out, size_t len)
{
    const char *p = strstr(line, " quality=");
    size_t n = 0;
    ck_assert_ptr_nonnull(p);
    p = strchr(p + 1, ',');
    out[0] = '\0';
    while (p != NULL && *p == ',') {
        const char *eq = strchr(p + 1, '=');
        n += (size_t)snprintf(out + n, len - n, "%s%.*s", n ? " " : "", (int)(eq - p - 1), p + 1);
        p = eq + strcspn(eq, ", ");
    }
}

static const struct points_site site = {{"zz", "js", "fc", "df", "wk", "gw1"}};

START_TEST(test_every_field_of_every_kind_in_json_and_line_protocol)
{
    enum kind k = (enum kind)_i;
    struct reading r = full_reading(k);
    char buf[1024], keys[256];

    ck_assert_int_eq(contract[k].kind, k);
    ck_assert_str_eq(kind_def(k)->name, kind_name(k));
    cJSON *o = cJSON_Parse(json(&r));
    ck_assert_ptr_nonnull(o);
    json_keys(o, keys, sizeof keys);
    ck_assert_str_eq(keys, contract[k].json);
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(o, "contacts");
    keys[0] = '\0';
    if (group != NULL)
        json_keys(group, keys, sizeof keys);
    ck_assert_str_eq(keys, contract[k].group);
    cJSON_Delete(o);

    ck_assert_int_gt(points_reading(&site, "s-1", &r, buf, sizeof buf), 0);
    ck_assert_msg(strncmp(buf, kind_name(k), strlen(kind_name(k))) == 0, "%s", buf);
    lp_keys(buf, keys, sizeof keys);
    ck_assert_str_eq(keys, contract[k].influx);

    /* every field is found by each of its names, and only in its kind */
    for (int i = 0; i < kind_def(k)->nfields; i++) {
        const struct kind_field *f = &kind_def(k)->fields[i];
        if (f->json != NULL)
            ck_assert_ptr_eq(kind_field(k, f->json), f);
        if (f->influx != NULL)
            ck_assert_ptr_eq(kind_field(k, f->influx), f);
    }
}
END_TEST

#define SITE_TAGS "city=zz,community=df,district=js,property=wk,sensor=s-1,shelter=gw1,street=fc"

static const char *line(const struct reading *r)
{
    static char buf[1024];
    ck_assert_int_gt(points_reading(&site, "s-1", r, buf, sizeof buf), 0);
    return buf;
}

START_TEST(test_line_protocol_of_every_kind)
{
    struct reading r = {.kind = KIND_WATER_LEVEL, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.water_level.level_m = 1.25;
    r.v.water_level.level_pct = 62.5;
    ck_assert_str_eq(line(&r), "water_level," SITE_TAGS
                               " quality=\"good\",level_m=1.25,level_pct=62.5 1784570584123\n");

    r = (struct reading){.kind = KIND_WATER_LEAK, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.water_leak.wet = true;
    ck_assert_str_eq(line(&r),
                     "water_leak," SITE_TAGS " quality=\"good\",wet=true 1784570584123\n");

    r = (struct reading){.kind = KIND_CO2, .quality = Q_IMPLAUSIBLE, .ts_ms = TS_MS};
    r.v.co2.co2_ppm = 812;
    r.v.co2.sensor_error = true; /* shows as the quality only */
    ck_assert_str_eq(line(&r), "co2," SITE_TAGS " quality=\"implausible\",co2_ppm=812,"
                               "over_range=false 1784570584123\n");

    r = (struct reading){.kind = KIND_BLAST_DOOR, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.blast_door.door = DOOR_LOCKED;
    r.v.blast_door.contacts = CONTACT_CLOSED | CONTACT_LOCKED;
    r.v.blast_door.contacts_present = CONTACT_CLOSED | CONTACT_LOCKED;
    ck_assert_str_eq(line(&r), "blast_door," SITE_TAGS
                               " quality=\"good\",door=\"locked\",contact_closed=true,"
                               "contact_locked=true 1784570584123\n");
    r.v.blast_door.contacts_present |= CONTACT_OPEN; /* fitted: written, false */
    ck_assert_str_eq(line(&r), "blast_door," SITE_TAGS
                               " quality=\"good\",door=\"locked\",contact_closed=true,"
                               "contact_locked=true,contact_open=false 1784570584123\n");

    r = (struct reading){.kind = KIND_SMOKE, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.smoke.smoke = SMOKE_FIRE;
    ck_assert_str_eq(line(&r),
                     "smoke," SITE_TAGS " quality=\"good\",smoke=\"fire\" 1784570584123\n");

    /* no values: the quality alone; NaN left out */
    r = (struct reading){.kind = KIND_WATER_LEVEL, .quality = Q_COMM_LOST, .ts_ms = TS_MS};
    r.v.water_level.level_m = 1;
    ck_assert_str_eq(line(&r), "water_level," SITE_TAGS " quality=\"comm_lost\" 1784570584123\n");
    r = (struct reading){.kind = KIND_WATER_LEVEL, .quality = Q_GOOD, .ts_ms = TS_MS};
    r.v.water_level.level_m = NAN;
    r.v.water_level.level_pct = 10;
    ck_assert_str_eq(line(&r),
                     "water_level," SITE_TAGS " quality=\"good\",level_pct=10 1784570584123\n");
    r.kind = KIND_COUNT;
    errno = 0;
    ck_assert_int_eq(points_reading(&site, "s-1", &r, (char[64]){0}, 64), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_door_movement_point)
{
    char buf[512];
    ck_assert_int_gt(points_door_movement(&site, "s-1", "lock", 2.5, TS_MS, buf, sizeof buf), 0);
    ck_assert_str_eq(buf,
                     "blast_door," SITE_TAGS " movement=\"lock\",travel_s=2.5 1784570584123\n");
}
END_TEST

/* ---- deadbands: when a reading is published again -------------------------- */

START_TEST(test_deadbands_of_the_contract)
{
    struct reading a = {.kind = KIND_WATER_LEVEL, .quality = Q_GOOD}, b = a;
    a.v.water_level.level_m = b.v.water_level.level_m = 0.50;
    ck_assert(!kind_moved(&a, &b));
    a.v.water_level.level_m = 0.5099;
    a.v.water_level.level_pct = 99; /* follows level_m: never on its own */
    ck_assert(!kind_moved(&a, &b));
    a.v.water_level.level_m = 0.5101; /* 1 cm */
    ck_assert(kind_moved(&a, &b));

    a = b = (struct reading){.kind = KIND_CO2, .quality = Q_GOOD};
    a.v.co2.co2_ppm = 619;
    b.v.co2.co2_ppm = 600;
    ck_assert(!kind_moved(&a, &b));
    a.v.co2.co2_ppm = 620; /* 20 ppm */
    ck_assert(kind_moved(&a, &b));
    a.v.co2.co2_ppm = 600;
    a.v.co2.over_range = true;
    ck_assert(kind_moved(&a, &b));
    a.v.co2.over_range = false;
    a.v.co2.sensor_error = true;
    ck_assert(kind_moved(&a, &b));

    a = b = (struct reading){.kind = KIND_BLAST_DOOR, .quality = Q_GOOD};
    a.v.blast_door.door = b.v.blast_door.door = DOOR_UNKNOWN;
    a.v.blast_door.contacts = CONTACT_CLOSED | CONTACT_OPEN; /* same state, other contacts */
    b.v.blast_door.contacts = CONTACT_LOCKED;
    ck_assert(kind_moved(&a, &b));
    a.v.blast_door.contacts = CONTACT_LOCKED;
    a.v.blast_door.contacts_present = CONTACT_OPEN; /* which are fitted: not a value */
    ck_assert(!kind_moved(&a, &b));

    /* quality and the presence of values, whatever the values */
    a = b = (struct reading){.kind = KIND_SMOKE, .quality = Q_GOOD};
    ck_assert(!kind_moved(&a, &b));
    a.quality = Q_IMPLAUSIBLE;
    ck_assert(kind_moved(&a, &b));
    a.quality = Q_GOOD;
    a.no_value = true;
    ck_assert(kind_moved(&a, &b));
    b.no_value = true;
    a.v.smoke.smoke = SMOKE_FIRE; /* stale values behind no_value do not count */
    ck_assert(!kind_moved(&a, &b));
    a = b = (struct reading){.kind = KIND_COUNT};
    ck_assert(kind_moved(&a, &b));
}
END_TEST

/* Every field of every kind: a number moves at its deadband and not below
 * it (NAN: never), anything else at any change. */
START_TEST(test_every_field_has_its_deadband)
{
    enum kind k = (enum kind)_i;
    const struct kind_def *kd = kind_def(k);

    for (int i = 0; i < kd->nfields; i++) {
        const struct kind_field *f = &kd->fields[i];
        struct reading a = {.kind = k, .quality = Q_GOOD}, b = a;
        char *at = (char *)&a + f->offset;
        switch (f->type) {
        case FIELD_NUMBER:
            if (isnan(f->deadband)) {
                *(double *)(void *)at = 1e6;
                ck_assert_msg(!kind_moved(&a, &b), "%s", f->json);
                break;
            }
            ck_assert_msg(f->deadband > 0, "%s", f->json);
            *(double *)(void *)at = f->deadband * 0.99;
            ck_assert_msg(!kind_moved(&a, &b), "%s", f->json);
            *(double *)(void *)at = f->deadband;
            ck_assert_msg(kind_moved(&a, &b), "%s", f->json);
            break;
        case FIELD_BOOL:
            *(bool *)at = true;
            ck_assert(kind_moved(&a, &b));
            break;
        case FIELD_STATE:
            *(unsigned *)(void *)at = 1;
            ck_assert_msg(kind_moved(&a, &b), "%s", f->json);
            break;
        case FIELD_CONTACT:
            *(unsigned *)(void *)at = f->bit;
            ck_assert_msg(kind_moved(&a, &b), "%s", f->json);
            break;
        }
    }
}
END_TEST

/* ---- a blast door's movements ------------------------------------------------ */

static struct reading door_at(int64_t ts, unsigned contacts, unsigned present)
{
    struct reading r = {.kind = KIND_BLAST_DOOR, .quality = Q_GOOD, .ts_ms = ts};
    r.v.blast_door.contacts = contacts;
    r.v.blast_door.contacts_present = present;
    r.v.blast_door.door = door_state_from_contacts(contacts, present);
    return r;
}

/* Feed (ts, contacts) to t; the movement completed, or NULL. */
static const char *feed_door(struct door_track *t, int64_t ts, unsigned contacts, unsigned present,
                             double *travel_s)
{
    struct door_step st;
    struct reading r = door_at(ts, contacts, present);
    door_track_update(t, &r, ts, &st);
    *travel_s = st.travel_s;
    return st.movement;
}

START_TEST(test_door_movements_with_their_travel_times)
{
    const unsigned all = C | L | O;
    struct door_track t;
    double s;

    door_track_init(&t, 0);
    ck_assert_ptr_null(feed_door(&t, 1000, O, all, &s)); /* first: nothing known yet */
    ck_assert_ptr_null(feed_door(&t, 2000, 0, all, &s)); /* leaves open */
    ck_assert_str_eq(feed_door(&t, 5500, C, all, &s), "close");
    ck_assert_double_eq(s, 3.5);
    ck_assert_str_eq(feed_door(&t, 7500, C | L, all, &s), "lock");
    ck_assert_double_eq(s, 2.0);
    ck_assert_ptr_null(feed_door(&t, 9000, C | L, all, &s)); /* no edge, no movement */
    ck_assert_ptr_null(feed_door(&t, 10000, 0, all, &s));    /* leaves closed */
    ck_assert_str_eq(feed_door(&t, 14000, O, all, &s), "open");
    ck_assert_double_eq(s, 4.0);
    /* open released and closed made between two polls: a close of 0 s */
    ck_assert_str_eq(feed_door(&t, 20000, C, all, &s), "close");
    ck_assert_double_eq(s, 0.0);
    /* closed and locked made together, no open contact released: lock from the close */
    door_track_init(&t, 0);
    ck_assert_ptr_null(feed_door(&t, 1000, 0, C | L, &s));
    ck_assert_ptr_null(feed_door(&t, 2000, C, C | L, &s)); /* no open contact: no close */
    ck_assert_str_eq(feed_door(&t, 4000, C | L, C | L, &s), "lock");
    ck_assert_double_eq(s, 2.0);
    /* a lock is timed once: made again without a new close, it is not */
    ck_assert_ptr_null(feed_door(&t, 5000, C, C | L, &s));
    ck_assert_ptr_null(feed_door(&t, 6000, C | L, C | L, &s));
    /* closed and locked made in one poll: the lock counts from the last
     * close seen (here 8 s), and then that close is used up */
    ck_assert_ptr_null(feed_door(&t, 7000, 0, C | L, &s));
    ck_assert_ptr_null(feed_door(&t, 8000, C, C | L, &s));
    ck_assert_ptr_null(feed_door(&t, 9000, 0, C | L, &s));
    ck_assert_str_eq(feed_door(&t, 11000, C | L, C | L, &s), "lock");
    ck_assert_double_eq(s, 3.0);
    ck_assert_ptr_null(feed_door(&t, 12000, C, C | L, &s));
    ck_assert_ptr_null(feed_door(&t, 13000, C | L, C | L, &s));
}
END_TEST

START_TEST(test_door_track_counts_changes_and_cycles)
{
    struct door_track t;
    struct door_step st;
    struct reading r;

    door_track_init(&t, 500);
    ck_assert_int_eq(t.prev_door, -1);
    ck_assert_int_eq(t.last_cycle_ms, 500);
    r = door_at(1, C | L, C | L);
    door_track_update(&t, &r, 1000, &st);
    ck_assert(!st.changed && !st.cycled); /* the first state is no change */
    r = door_at(2, C, C | L);
    door_track_update(&t, &r, 2000, &st);
    ck_assert(st.changed && !st.cycled); /* closed: not yet opened */
    r = door_at(3, 0, C | L);
    door_track_update(&t, &r, 3000, &st);
    ck_assert(st.changed && !st.cycled);
    r = door_at(4, C, C | L);
    door_track_update(&t, &r, 4000, &st);
    ck_assert(st.changed && !st.cycled);
    ck_assert_int_eq(t.last_cycle_ms, 500);
    r = door_at(5, C | L, C | L);
    door_track_update(&t, &r, 5000, &st);
    ck_assert(st.changed && st.cycled); /* open -> close -> lock */
    ck_assert_int_eq(t.last_cycle_ms, 5000);
    door_track_update(&t, &r, 6000, &st);
    ck_assert(!st.changed && !st.cycled);

    /* no values, comm_lost, other kinds: nothing; implausible: state, no movement */
    r = door_at(7, 0, C | L);
    r.no_value = true;
    door_track_update(&t, &r, 7000, &st);
    ck_assert(!st.changed && t.prev_door == DOOR_LOCKED);
    r.no_value = false;
    r.quality = Q_COMM_LOST;
    door_track_update(&t, &r, 7000, &st);
    ck_assert(!st.changed && t.prev_door == DOOR_LOCKED);
    r.quality = Q_IMPLAUSIBLE;
    door_track_update(&t, &r, 7000, &st);
    ck_assert(st.changed && st.movement == NULL);
    ck_assert_uint_eq(t.contacts, C | L); /* movements only from good readings */
    r = (struct reading){.kind = KIND_SMOKE, .quality = Q_GOOD};
    door_track_update(&t, &r, 8000, &st);
    ck_assert(!st.changed && t.prev_door == DOOR_OPEN);
}
END_TEST

static Suite *kind_suite(void)
{
    Suite *s = suite_create("kind");
    TCase *tc = tcase_create("kind");
    tcase_add_checked_fixture(tc, load_refs, free_refs);
    tcase_add_test(tc, test_kind_names_round_trip);
    tcase_add_test(tc, test_state_names_match_the_payload_contract);
    tcase_add_test(tc, test_door_state_from_contacts_every_combination);
    tcase_add_loop_test(tc, test_door_every_contact_combination_and_polarity, 0, 32);
    tcase_add_test(tc, test_door_channel_outside_module_is_an_error);
    tcase_add_test(tc, test_water_level_in_metres_and_percent_of_pit);
    tcase_add_test(tc, test_water_level_bounds_of_plausibility);
    tcase_add_test(tc, test_water_level_placeholder_or_bad_unit_is_implausible_without_value);
    tcase_add_test(tc, test_water_level_without_pit_depth_is_an_error);
    tcase_add_test(tc, test_water_leak_follows_input_and_polarity);
    tcase_add_test(tc, test_co2_jxct_ppm_and_over_range);
    tcase_add_test(tc, test_co2_placeholder_is_implausible_without_value);
    tcase_add_test(tc, test_co2_senseair_status_bits_mean_sensor_error);
    tcase_add_test(tc, test_smoke_register_states);
    tcase_add_test(tc, test_smoke_inputs_fire_beats_fault);
    tcase_add_test(tc, test_smoke_inputs_without_fault_contact_ignore_other_channels);
    tcase_add_test(tc, test_missing_data_is_an_error);
    tcase_add_test(tc, test_comm_lost_reading_has_no_values);
    tcase_add_test(tc, test_sensor_check_accepts_valid_sensors);
    tcase_add_test(tc, test_sensor_check_rejects_what_cannot_work);
    tcase_add_test(tc, test_model_check_names_the_missing_point);
    tcase_add_test(tc, test_json_water_level_rounds_to_mm_and_tenth_percent);
    tcase_add_test(tc, test_json_of_decoded_readings_for_every_kind);
    tcase_add_test(tc, test_json_comm_lost_and_valueless_readings_carry_no_values);
    tcase_add_test(tc, test_json_never_emits_nan_or_inf);
    tcase_add_test(tc, test_json_escapes_sensor_name_and_respects_buffer);
    tcase_add_test(tc, test_rfc3339_ms_utc_including_before_1970);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_loop_test(tc, test_every_field_of_every_kind_in_json_and_line_protocol, 0,
                        KIND_COUNT);
    tcase_add_test(tc, test_line_protocol_of_every_kind);
    tcase_add_test(tc, test_door_movement_point);
    tcase_add_test(tc, test_deadbands_of_the_contract);
    tcase_add_loop_test(tc, test_every_field_has_its_deadband, 0, KIND_COUNT);
    tcase_add_test(tc, test_door_movements_with_their_travel_times);
    tcase_add_test(tc, test_door_track_counts_changes_and_cycles);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(kind_suite());
}
