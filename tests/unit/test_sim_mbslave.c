/*
 * Unit tests of the simulator's protocol core (mbslave) and served state
 * (simstate).  The test links those two modules alone (Makefile:
 * LINK_test_sim_mbslave).  Models are built by hand with the
 * register maps of docs/design.md section 7, so the tests do not depend on the
 * model files or the config parser.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "check_run.h"
#include "sensorcfg.h"
#include "kind.h"
#include "model.h"
#include "sim/mbslave.h"
#include "sim/simstate.h"

/* ---- mbslave ----------------------------------------------------------- */

START_TEST(test_crc16_known_vectors)
{
    const uint8_t req[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};
    ck_assert_uint_eq(mbs_crc16(req, sizeof(req)), 0xCDC5);
    /* CRC-16/MODBUS check value */
    ck_assert_uint_eq(mbs_crc16((const uint8_t *)"123456789", 9), 0x4B37);
    ck_assert_uint_eq(mbs_crc16(req, 0), 0xFFFF);
}
END_TEST

START_TEST(test_rtu_wrap_sends_crc_low_byte_first)
{
    const uint8_t pdu[] = {0x03, 0x00, 0x00, 0x00, 0x0A};
    uint8_t frame[16];
    size_t n = mbs_rtu_wrap(0x01, pdu, sizeof(pdu), frame);
    const uint8_t want[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};
    ck_assert_uint_eq(n, sizeof(want));
    ck_assert_mem_eq(frame, want, sizeof(want));
    ck_assert_int_eq(mbs_rtu_crc_ok(frame, n), 1);
}
END_TEST

START_TEST(test_rtu_crc_rejects_any_flipped_bit)
{
    uint8_t frame[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD};
    for (size_t i = 0; i < sizeof(frame) * 8; i++) {
        frame[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_int_eq(mbs_rtu_crc_ok(frame, sizeof(frame)), 0);
        frame[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    ck_assert_int_eq(mbs_rtu_crc_ok(frame, 3), 0);
}
END_TEST

START_TEST(test_rtu_request_len_by_function)
{
    const uint8_t fc03[] = {0x01, 0x03};
    const uint8_t fc16_short[] = {0x01, 0x10, 0, 0, 0, 2};
    const uint8_t fc16[] = {0x01, 0x10, 0, 0, 0, 2, 4};
    const uint8_t fc2b[] = {0x01, 0x2B};
    ck_assert_int_eq(mbs_rtu_request_len(fc03, 1), 0);
    ck_assert_int_eq(mbs_rtu_request_len(fc03, 2), 8);
    ck_assert_int_eq(mbs_rtu_request_len(fc16_short, sizeof(fc16_short)), 0);
    ck_assert_int_eq(mbs_rtu_request_len(fc16, sizeof(fc16)), 13);
    ck_assert_int_eq(mbs_rtu_request_len(fc2b, 2), -1);
}
END_TEST

static struct mbs_tables tables;

static void tables_setup(void)
{
    memset(&tables, 0, sizeof(tables));
    for (int i = 0; i < MBS_ADDR_COUNT; i++) {
        tables.holding[i] = (uint16_t)(0x1000 + i);
        tables.input[i] = (uint16_t)(0x2000 + i);
        tables.coils[i] = (uint8_t)(i % 3 == 0);
        tables.discrete[i] = (uint8_t)(i % 2);
    }
}

static int answer(uint8_t fc, unsigned addr, unsigned qty, uint8_t *resp)
{
    const uint8_t req[] = {fc, (uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(qty >> 8),
                           (uint8_t)qty};
    return mbs_pdu_answer(&tables, req, sizeof(req), resp);
}

START_TEST(test_fc01_packs_coils_lsb_first)
{
    uint8_t resp[MBS_PDU_MAX];
    /* coils 0..9: 1 0 0 1 0 0 1 0 | 0 1 */
    ck_assert_int_eq(answer(0x01, 0, 10, resp), 4);
    const uint8_t want[] = {0x01, 2, 0x49, 0x02};
    ck_assert_mem_eq(resp, want, sizeof(want));
}
END_TEST

START_TEST(test_fc02_reads_discrete_inputs)
{
    uint8_t resp[MBS_PDU_MAX];
    ck_assert_int_eq(answer(0x02, 0, 8, resp), 3);
    const uint8_t want[] = {0x02, 1, 0xAA};
    ck_assert_mem_eq(resp, want, sizeof(want));
    /* the last addressable input alone */
    ck_assert_int_eq(answer(0x02, 255, 1, resp), 3);
    ck_assert_uint_eq(resp[2], 0x01);
}
END_TEST

START_TEST(test_fc03_reads_holding_registers_big_endian)
{
    uint8_t resp[MBS_PDU_MAX];
    ck_assert_int_eq(answer(0x03, 2, 3, resp), 8);
    const uint8_t want[] = {0x03, 6, 0x10, 0x02, 0x10, 0x03, 0x10, 0x04};
    ck_assert_mem_eq(resp, want, sizeof(want));
    /* the largest read: 125 registers, 250 data bytes */
    ck_assert_int_eq(answer(0x03, 0, 125, resp), 252);
    ck_assert_uint_eq(resp[1], 250);
}
END_TEST

START_TEST(test_fc04_reads_input_registers)
{
    uint8_t resp[MBS_PDU_MAX];
    ck_assert_int_eq(answer(0x04, 0, 4, resp), 10);
    ck_assert_uint_eq(resp[0], 0x04);
    ck_assert_uint_eq(resp[1], 8);
    ck_assert_uint_eq(resp[8], 0x20);
    ck_assert_uint_eq(resp[9], 0x03);
}
END_TEST

START_TEST(test_other_functions_get_exception_01)
{
    const uint8_t fcs[] = {0x05, 0x06, 0x07, 0x0F, 0x10, 0x17, 0x2B, 0x00, 0x7F};
    uint8_t resp[MBS_PDU_MAX];
    for (size_t i = 0; i < sizeof(fcs); i++) {
        const uint8_t req[] = {fcs[i], 0, 0, 0, 1, 0, 0};
        ck_assert_int_eq(mbs_pdu_answer(&tables, req, sizeof(req), resp), 2);
        ck_assert_uint_eq(resp[0], fcs[i] | 0x80);
        ck_assert_uint_eq(resp[1], MBS_EX_ILLEGAL_FUNCTION);
    }
}
END_TEST

START_TEST(test_span_outside_0_255_gets_exception_02)
{
    uint8_t resp[MBS_PDU_MAX];
    const struct {
        uint8_t fc;
        unsigned addr, qty;
    } cases[] = {
        {0x03, 256, 1}, {0x03, 250, 7}, {0x04, 0xFFFF, 1}, {0x01, 200, 57}, {0x02, 300, 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(answer(cases[i].fc, cases[i].addr, cases[i].qty, resp), 2);
        ck_assert_uint_eq(resp[0], cases[i].fc | 0x80);
        ck_assert_uint_eq(resp[1], MBS_EX_ILLEGAL_ADDRESS);
    }
    ck_assert_int_eq(answer(0x03, 250, 6, resp), 14); /* ends exactly at 255 */
}
END_TEST

START_TEST(test_bad_quantity_gets_exception_03)
{
    uint8_t resp[MBS_PDU_MAX];
    const struct {
        uint8_t fc;
        unsigned qty;
    } cases[] = {{0x03, 0}, {0x03, 126}, {0x04, 0}, {0x01, 0}, {0x01, 2001}, {0x02, 0xFFFF}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(answer(cases[i].fc, 0, cases[i].qty, resp), 2);
        ck_assert_uint_eq(resp[1], MBS_EX_ILLEGAL_VALUE);
    }
    /* quantity is checked before the address, as the spec's diagrams say */
    ck_assert_int_eq(answer(0x03, 300, 0, resp), 2);
    ck_assert_uint_eq(resp[1], MBS_EX_ILLEGAL_VALUE);
    /* a read request of the wrong length */
    const uint8_t shortreq[] = {0x03, 0, 0, 0};
    ck_assert_int_eq(mbs_pdu_answer(&tables, shortreq, sizeof(shortreq), resp), 2);
    ck_assert_uint_eq(resp[1], MBS_EX_ILLEGAL_VALUE);
    ck_assert_int_eq(mbs_pdu_answer(&tables, shortreq, 0, resp), -1);
}
END_TEST

START_TEST(test_mbap_parse_frames_and_rejects_bad_headers)
{
    const uint8_t frame[] = {0x12, 0x34, 0, 0, 0, 6, 0x07, 0x03, 0, 2, 0, 3, 0xAA};
    struct mbs_mbap h;
    ck_assert_int_eq(mbs_mbap_parse(frame, 6, &h), 0);
    ck_assert_int_eq(mbs_mbap_parse(frame, 11, &h), 0);
    ck_assert_int_eq(mbs_mbap_parse(frame, sizeof(frame), &h), 12); /* the extra byte stays */
    ck_assert_uint_eq(h.tid, 0x1234);
    ck_assert_uint_eq(h.unit, 7);
    ck_assert_uint_eq(h.length, 6);

    uint8_t bad[sizeof(frame)];
    memcpy(bad, frame, sizeof(frame));
    bad[3] = 1; /* protocol id 1 */
    ck_assert_int_eq(mbs_mbap_parse(bad, sizeof(bad), &h), -1);
    memcpy(bad, frame, sizeof(frame));
    bad[5] = 1; /* length 1: no PDU */
    ck_assert_int_eq(mbs_mbap_parse(bad, sizeof(bad), &h), -1);
    bad[4] = 1; /* length 257 */
    bad[5] = 1;
    ck_assert_int_eq(mbs_mbap_parse(bad, sizeof(bad), &h), -1);
}
END_TEST

START_TEST(test_mbap_wrap_echoes_transaction_id)
{
    const uint8_t pdu[] = {0x03, 2, 0x00, 0x55};
    uint8_t out[MBS_TCP_MAX];
    size_t n = mbs_mbap_wrap(0xBEEF, 9, pdu, sizeof(pdu), out);
    const uint8_t want[] = {0xBE, 0xEF, 0, 0, 0, 5, 9, 0x03, 2, 0x00, 0x55};
    ck_assert_uint_eq(n, sizeof(want));
    ck_assert_mem_eq(out, want, sizeof(want));
}
END_TEST

/* ---- simstate ---------------------------------------------------------- */

static struct model m_level, m_di8, m_s8, m_smoke, m_do8;
static struct cfg_bus buses[2];
static struct cfg_sensor sensors[5];
static struct sensorcfg_output outputs[1];
static struct sensorcfg conf;
static struct simstate *st;

static struct model_point *add_point(struct model *m, const char *name, uint16_t addr,
                                     enum point_type type)
{
    struct model_point *p = &m->points[m->npoints++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->address = addr;
    p->type = type;
    p->scale = 1;
    p->decimals_address = -1;
    p->unit_address = -1;
    return p;
}

static void models_init(void)
{
    memset(&m_level, 0, sizeof(m_level));
    snprintf(m_level.name, sizeof(m_level.name), "level-qdy30a");
    m_level.function = MB_FN_HOLDING;
    m_level.start = 2;
    m_level.count = 3;
    struct model_point *p = add_point(&m_level, "level", 4, PT_INT16);
    p->decimals_address = 3;
    p->unit_address = 2;
    p->units[0] = (struct model_unit){0x11, 0.01};
    p->units[1] = (struct model_unit){0x12, 1.0};
    p->nunits = 2;

    memset(&m_di8, 0, sizeof(m_di8));
    snprintf(m_di8.name, sizeof(m_di8.name), "di8");
    m_di8.function = MB_FN_DISCRETE;
    m_di8.count = 8;
    add_point(&m_di8, "inputs", 0, PT_BITS)->bits = 8;

    memset(&m_s8, 0, sizeof(m_s8));
    snprintf(m_s8.name, sizeof(m_s8.name), "co2-senseair-s8");
    m_s8.function = MB_FN_INPUT;
    m_s8.count = 4;
    add_point(&m_s8, "status", 0, PT_UINT16);
    add_point(&m_s8, "co2", 3, PT_UINT16);

    memset(&m_smoke, 0, sizeof(m_smoke));
    snprintf(m_smoke.name, sizeof(m_smoke.name), "smoke-rs485");
    m_smoke.function = MB_FN_HOLDING;
    m_smoke.start = 2;
    m_smoke.count = 1;
    p = add_point(&m_smoke, "state", 2, PT_UINT16);
    const char *names[] = {"normal", "fire", "fault"};
    for (int i = 0; i < 3; i++) {
        p->enums[i].raw = (uint16_t)i;
        snprintf(p->enums[i].name, sizeof(p->enums[i].name), "%s", names[i]);
    }
    p->nenums = 3;

    memset(&m_do8, 0, sizeof(m_do8));
    snprintf(m_do8.name, sizeof(m_do8.name), "do8");
    m_do8.function = MB_FN_COILS;
    m_do8.count = 8;
    p = add_point(&m_do8, "outputs", 0, PT_BITS);
    p->bits = 8;
    p->write = MB_WRITE_SINGLE;
}

static struct cfg_sensor *add_sensor(const char *name, int bus, int unit, enum kind k,
                                     const struct model *m)
{
    struct cfg_sensor *s = &sensors[conf.nsensors++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->bus = bus;
    s->unit = unit;
    s->def.kind = k;
    s->def.model = m;
    s->def.closed_input = s->def.locked_input = s->def.open_input = -1;
    s->def.alarm_input = s->def.fault_input = s->def.input = -1;
    return s;
}

/* rtu-1: sump-1 at unit 3, door-1 and leak-1 share the di8 at unit 5;
 * tcp-1: co2-1 at unit 1, smoke-1 at unit 2. */
static void state_setup(void)
{
    models_init();
    memset(&conf, 0, sizeof(conf));
    memset(buses, 0, sizeof(buses));
    snprintf(buses[0].name, sizeof(buses[0].name), "rtu-1");
    buses[0].type = BUS_RTU;
    snprintf(buses[1].name, sizeof(buses[1].name), "tcp-1");
    buses[1].type = BUS_TCP;
    conf.buses = buses;
    conf.nbuses = 2;
    conf.sensors = sensors;

    add_sensor("sump-1", 0, 3, KIND_WATER_LEVEL, &m_level)->def.pit_depth_m = 1.2;
    struct cfg_sensor *door = add_sensor("door-1", 0, 5, KIND_BLAST_DOOR, &m_di8);
    door->def.closed_input = 0;
    door->def.locked_input = 1;
    door->def.open_input = 2;
    door->def.inverted_mask = 1u << 1; /* the lock contact is normally-closed */
    add_sensor("leak-1", 0, 5, KIND_WATER_LEAK, &m_di8)->def.input = 4;
    add_sensor("co2-1", 1, 1, KIND_CO2, &m_s8);
    add_sensor("smoke-1", 1, 2, KIND_SMOKE, &m_smoke);
    /* An output module: the siren on coil 2 of the do8 at rtu-1 unit 12. */
    memset(outputs, 0, sizeof(outputs));
    snprintf(outputs[0].name, sizeof(outputs[0].name), "siren");
    outputs[0].bus = 0;
    outputs[0].unit = 12;
    outputs[0].model = &m_do8;
    outputs[0].channel = 2;
    conf.outputs = outputs;
    conf.noutputs = 1;

    char err[256] = "";
    st = simstate_new(&conf, err, sizeof(err));
    ck_assert_msg(st != NULL, "simstate_new: %s", err);
}

static void state_teardown(void)
{
    simstate_free(st);
    st = NULL;
}

static const char *cmd(const char *line)
{
    static char reply[4096];
    int rc = simstate_command(st, line, reply, sizeof(reply));
    ck_assert_int_ne(rc, 1);
    return reply;
}

START_TEST(test_level_starts_at_030_m_with_unit_m_and_2_decimals)
{
    const uint16_t *h = simstate_tables(st, 0, 3)->holding;
    ck_assert_uint_eq(h[2], 0x12);
    ck_assert_uint_eq(h[3], 2);
    ck_assert_uint_eq(h[4], 30);
}
END_TEST

START_TEST(test_set_level_writes_raw_int16)
{
    const uint16_t *h = simstate_tables(st, 0, 3)->holding;
    ck_assert_str_eq(cmd("set sump-1 level_m 0.85"), "ok");
    ck_assert_uint_eq(h[4], 85);
    ck_assert_uint_eq(h[2], 0x12);
    ck_assert_uint_eq(h[3], 2);
    ck_assert_str_eq(cmd("set sump-1 level_m -0.05"), "ok");
    ck_assert_uint_eq(h[4], 0xFFFB);
    ck_assert_str_eq(cmd("get sump-1"), "ok level_m=-0.05");
}
END_TEST

START_TEST(test_set_level_follows_served_unit_and_decimals)
{
    const uint16_t *h = simstate_tables(st, 0, 3)->holding;
    ck_assert_str_eq(cmd("raw rtu-1 3 3 2 0x11"), "ok"); /* cm */
    ck_assert_str_eq(cmd("raw rtu-1 3 3 3 1"), "ok");    /* one decimal */
    ck_assert_str_eq(cmd("set sump-1 level_m 0.85"), "ok");
    ck_assert_uint_eq(h[4], 850); /* 85.0 cm */
    ck_assert_str_eq(cmd("get sump-1"), "ok level_m=0.85");
    ck_assert_str_eq(cmd("raw rtu-1 3 3 2 0x13"), "ok"); /* a unit the model does not know */
    ck_assert_int_eq(strncmp(cmd("set sump-1 level_m 0.5"), "error: ", 7), 0);
}
END_TEST

START_TEST(test_set_level_rejects_what_int16_cannot_hold)
{
    ck_assert_int_eq(strncmp(cmd("set sump-1 level_m 400"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("set sump-1 level_m abc"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("set sump-1 co2_ppm 5"), "error: ", 7), 0);
    ck_assert_uint_eq(simstate_tables(st, 0, 3)->holding[4], 30);
}
END_TEST

START_TEST(test_door_starts_closed_and_locked_with_polarity)
{
    const uint8_t *di = simstate_tables(st, 0, 5)->discrete;
    ck_assert_uint_eq(di[0], 1); /* closed, normally open contact */
    ck_assert_uint_eq(di[1], 0); /* locked, normally-closed contact reads 0 when active */
    ck_assert_uint_eq(di[2], 0); /* not open */
    ck_assert_uint_eq(di[4], 0); /* dry */
    ck_assert_str_eq(cmd("get door-1"), "ok closed=1 locked=1 open=0 door=locked");
}
END_TEST

START_TEST(test_sensors_sharing_a_di8_own_their_channels)
{
    const uint8_t *di = simstate_tables(st, 0, 5)->discrete;
    ck_assert_str_eq(cmd("set leak-1 wet 1"), "ok");
    ck_assert_uint_eq(di[4], 1);
    ck_assert_uint_eq(di[0], 1);
    ck_assert_uint_eq(di[1], 0);
    ck_assert_str_eq(cmd("set door-1 door open"), "ok");
    ck_assert_uint_eq(di[0], 0);
    ck_assert_uint_eq(di[1], 1); /* unlocked: the NC contact opens, input reads 1 */
    ck_assert_uint_eq(di[2], 1);
    ck_assert_uint_eq(di[4], 1);
    ck_assert_str_eq(cmd("get leak-1"), "ok wet=1");
    ck_assert_str_eq(cmd("set door-1 locked 1"), "ok");
    ck_assert_str_eq(cmd("get door-1"), "ok closed=0 locked=1 open=1 door=unknown");
}
END_TEST

START_TEST(test_co2_and_smoke_registers)
{
    const struct mbs_tables *co2 = simstate_tables(st, 1, 1);
    const struct mbs_tables *smoke = simstate_tables(st, 1, 2);
    ck_assert_uint_eq(co2->input[3], 600);
    ck_assert_uint_eq(co2->input[0], 0);
    ck_assert_str_eq(cmd("set co2-1 co2_ppm 1250"), "ok");
    ck_assert_str_eq(cmd("set co2-1 status 4"), "ok");
    ck_assert_uint_eq(co2->input[3], 1250);
    ck_assert_uint_eq(co2->input[0], 4);
    ck_assert_str_eq(cmd("get co2-1"), "ok co2_ppm=1250 status=4");

    ck_assert_uint_eq(smoke->holding[2], 0);
    ck_assert_str_eq(cmd("set smoke-1 smoke fault"), "ok");
    ck_assert_uint_eq(smoke->holding[2], 2);
    ck_assert_str_eq(cmd("get smoke-1"), "ok smoke=fault");
    ck_assert_int_eq(strncmp(cmd("set smoke-1 smoke smouldering"), "error: ", 7), 0);
}
END_TEST

/* Numbers are decimal or 0x hex: "010" is ten, as in the model files (the
 * simulator used to read it as octal eight, strtol base 0). */
START_TEST(test_raw_numbers_with_leading_zeros_are_decimal)
{
    const struct mbs_tables *co2 = simstate_tables(st, 1, 1);
    ck_assert_str_eq(cmd("raw tcp-1 1 4 010 0x11"), "ok");
    ck_assert_uint_eq(co2->input[10], 0x11);
    ck_assert_uint_ne(co2->input[8], 0x11);
    ck_assert_str_eq(cmd("raw tcp-1 01 4 3 0100"), "ok");
    ck_assert_uint_eq(co2->input[3], 100);
    ck_assert_str_eq(cmd("fault tcp-1:02 slow 010"), "ok tcp-1:2 slow");
    ck_assert_int_eq(simstate_fault(st, 1, 2).arg, 10);
}
END_TEST

START_TEST(test_unknown_unit_is_not_served)
{
    ck_assert_ptr_null(simstate_tables(st, 0, 4));
    ck_assert_ptr_null(simstate_tables(st, 1, 3));
    ck_assert_int_eq(strncmp(cmd("raw rtu-1 4 3 0 1"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("set nosuch level_m 1"), "error: ", 7), 0);
}
END_TEST

START_TEST(test_fault_targets_sensor_unit_or_bus_unit)
{
    ck_assert_str_eq(cmd("fault leak-1 mute"), "ok rtu-1:5 mute");
    ck_assert_int_eq(simstate_fault(st, 0, 5).mode, SIM_FAULT_MUTE);
    ck_assert_str_eq(cmd("fault tcp-1:2 slow 1500"), "ok tcp-1:2 slow");
    ck_assert_int_eq(simstate_fault(st, 1, 2).mode, SIM_FAULT_SLOW);
    ck_assert_int_eq(simstate_fault(st, 1, 2).arg, 1500);
    ck_assert_str_eq(cmd("fault sump-1 exception 4"), "ok rtu-1:3 exception");
    ck_assert_int_eq(simstate_fault(st, 0, 3).arg, 4);
    ck_assert_str_eq(cmd("fault sump-1 none"), "ok rtu-1:3 none");
    ck_assert_int_eq(simstate_fault(st, 0, 3).mode, SIM_FAULT_NONE);
    ck_assert_int_eq(strncmp(cmd("fault sump-1 slow"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("fault sump-1 mute 3"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("fault rtu-1:9 mute"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("fault sump-1 explode"), "error: ", 7), 0);
    /* Answer as another unit (a TCP/RTU converter passing on the wrong device). */
    ck_assert_str_eq(cmd("fault tcp-1:2 unit 9"), "ok tcp-1:2 unit");
    ck_assert_int_eq(simstate_fault(st, 1, 2).mode, SIM_FAULT_UNIT);
    ck_assert_int_eq(simstate_fault(st, 1, 2).arg, 9);
    ck_assert_str_eq(cmd("fault tcp-1:2 unit 0"), "ok tcp-1:2 unit");
    ck_assert_int_eq(strncmp(cmd("fault tcp-1:2 unit 256"), "error: ", 7), 0);
    ck_assert_int_eq(strncmp(cmd("fault tcp-1:2 unit"), "error: ", 7), 0);
}
END_TEST

START_TEST(test_stats_count_requests_per_unit_and_function)
{
    simstate_count(st, 0, 3, 0x03);
    simstate_count(st, 0, 3, 0x03);
    simstate_count(st, 0, 3, 0x06);
    simstate_count(st, 0, 9, 0x03); /* not ours: not counted */
    ck_assert_str_eq(cmd("stats"), "ok\n"
                                   "rtu-1 3 FC03 requests=2\n"
                                   "rtu-1 3 FC06 requests=1\n"
                                   "rtu-1 5 FC02 requests=0\n"
                                   "tcp-1 1 FC04 requests=0\n"
                                   "tcp-1 2 FC03 requests=0\n"
                                   "rtu-1 12 FC01 requests=0\n"
                                   ".");
    ck_assert_str_eq(cmd("stats reset"), "ok");
    ck_assert_ptr_nonnull(strstr(cmd("stats"), "rtu-1 3 FC03 requests=0\n"));
    ck_assert_ptr_null(strstr(cmd("stats"), "FC06"));
}
END_TEST

START_TEST(test_command_errors_name_the_problem)
{
    char reply[256];
    ck_assert_int_eq(simstate_command(st, "dance", reply, sizeof(reply)), 1);
    ck_assert_int_eq(simstate_command(st, "set sump-1 level_m", reply, sizeof(reply)), -1);
    ck_assert_str_eq(reply, "error: usage: set SENSOR FIELD VALUE");
    ck_assert_int_eq(simstate_command(st, "set sump-1 wet 1", reply, sizeof(reply)), -1);
    ck_assert_str_eq(reply, "error: sensor sump-1 has no field wet (fields: level_m)");
    ck_assert_int_eq(simstate_command(st, "raw rtu-1 3 5 0 1", reply, sizeof(reply)), -1);
    ck_assert_int_eq(simstate_command(st, "raw rtu-1 3 1 0 2", reply, sizeof(reply)), -1);
    ck_assert_int_eq(simstate_command(st, "raw rtu-1 3 fc01 0 1", reply, sizeof(reply)), 0);
    ck_assert_uint_eq(simstate_tables(st, 0, 3)->coils[0], 1);
}
END_TEST

START_TEST(test_served_level_answers_an_fc03_read)
{
    uint8_t resp[MBS_PDU_MAX];
    const uint8_t req[] = {0x03, 0x00, 0x02, 0x00, 0x03};
    ck_assert_str_eq(cmd("set sump-1 level_m 1.15"), "ok");
    ck_assert_int_eq(mbs_pdu_answer(simstate_tables(st, 0, 3), req, sizeof(req), resp), 8);
    const uint8_t want[] = {0x03, 6, 0x00, 0x12, 0x00, 0x02, 0x00, 115};
    ck_assert_mem_eq(resp, want, sizeof(want));
}
END_TEST

START_TEST(test_write_parse_fc05_and_fc15)
{
    struct mbs_write w;
    const uint8_t on[] = {0x05, 0x00, 0x02, 0xFF, 0x00};
    const uint8_t bad[] = {0x05, 0x00, 0x02, 0x12, 0x34};
    const uint8_t multi[] = {0x0F, 0x00, 0x01, 0x00, 0x03, 0x01, 0x05};
    const uint8_t past[] = {0x05, 0x01, 0x00, 0xFF, 0x00};
    ck_assert_int_eq(mbs_write_parse(on, sizeof(on), &w), 0);
    ck_assert_uint_eq(w.addr, 2);
    ck_assert_uint_eq(w.qty, 1);
    ck_assert_uint_eq(w.bits[0], 1);
    ck_assert_int_eq(mbs_write_parse(bad, sizeof(bad), &w), MBS_EX_ILLEGAL_VALUE);
    ck_assert_int_eq(mbs_write_parse(past, sizeof(past), &w), MBS_EX_ILLEGAL_ADDRESS);
    ck_assert_int_eq(mbs_write_parse(multi, sizeof(multi), &w), 0);
    ck_assert_uint_eq(w.qty, 3);
    ck_assert(w.bits[0] == 1 && w.bits[1] == 0 && w.bits[2] == 1);
    uint8_t resp[MBS_PDU_MAX];
    ck_assert_int_eq(mbs_write_reply(&w, resp), 5);
    ck_assert(resp[0] == 0x0F && resp[3] == 0 && resp[4] == 3);
    ck_assert_int_eq(mbs_write_parse(multi, sizeof(multi) - 1, &w), MBS_EX_ILLEGAL_VALUE);
}
END_TEST

START_TEST(test_output_module_records_writes_and_fault_modes)
{
    const uint8_t on[] = {0x05, 0x00, 0x02, 0xFF, 0x00};
    const uint8_t off[] = {0x05, 0x00, 0x02, 0x00, 0x00};
    uint8_t resp[MBS_PDU_MAX];

    ck_assert_str_eq(cmd("get siren"), "ok on=0");
    ck_assert_int_eq(simstate_write(st, 0, 12, on, sizeof(on), 1000, resp), 5);
    ck_assert_int_eq(memcmp(resp, on, 5), 0); /* FC05 echoes the request */
    ck_assert_str_eq(cmd("get siren"), "ok on=1");
    /* Refused: exception, the coil stays. */
    ck_assert_str_eq(cmd("fault siren refuse 4"), "ok rtu-1:12 refuse");
    ck_assert_int_eq(simstate_write(st, 0, 12, off, sizeof(off), 2000, resp), 2);
    ck_assert(resp[0] == 0x85 && resp[1] == 4);
    ck_assert_str_eq(cmd("get siren"), "ok on=1");
    /* Stuck: acknowledged, the coil stays (a welded relay: the read-back differs). */
    cmd("fault siren stuck");
    ck_assert_int_eq(simstate_write(st, 0, 12, off, sizeof(off), 3000, resp), 5);
    ck_assert_str_eq(cmd("get siren"), "ok on=1");
    cmd("fault siren none");
    ck_assert_int_eq(simstate_write(st, 0, 12, off, sizeof(off), 4000, resp), 5);
    ck_assert_str_eq(cmd("get siren"), "ok on=0");
    ck_assert_str_eq(cmd("writes"), "ok\n"
                                    "rtu-1 12 FC05 addr=2 qty=1 value=1 ms=1000 applied\n"
                                    "rtu-1 12 FC05 addr=2 qty=1 value=0 ms=2000 refused\n"
                                    "rtu-1 12 FC05 addr=2 qty=1 value=0 ms=3000 stuck\n"
                                    "rtu-1 12 FC05 addr=2 qty=1 value=0 ms=4000 applied\n.");
    ck_assert_str_eq(cmd("writes reset"), "ok");
    ck_assert_str_eq(cmd("writes"), "ok\n.");
    /* A sensor's unit takes no writes. */
    ck_assert_int_eq(simstate_write(st, 0, 3, on, sizeof(on), 5000, resp), 2);
    ck_assert(resp[0] == 0x85 && resp[1] == MBS_EX_ILLEGAL_FUNCTION);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_mbslave");
    TCase *pdu = tcase_create("protocol");
    tcase_add_checked_fixture(pdu, tables_setup, NULL);
    tcase_add_test(pdu, test_crc16_known_vectors);
    tcase_add_test(pdu, test_rtu_wrap_sends_crc_low_byte_first);
    tcase_add_test(pdu, test_rtu_crc_rejects_any_flipped_bit);
    tcase_add_test(pdu, test_rtu_request_len_by_function);
    tcase_add_test(pdu, test_fc01_packs_coils_lsb_first);
    tcase_add_test(pdu, test_fc02_reads_discrete_inputs);
    tcase_add_test(pdu, test_fc03_reads_holding_registers_big_endian);
    tcase_add_test(pdu, test_fc04_reads_input_registers);
    tcase_add_test(pdu, test_other_functions_get_exception_01);
    tcase_add_test(pdu, test_span_outside_0_255_gets_exception_02);
    tcase_add_test(pdu, test_bad_quantity_gets_exception_03);
    tcase_add_test(pdu, test_mbap_parse_frames_and_rejects_bad_headers);
    tcase_add_test(pdu, test_mbap_wrap_echoes_transaction_id);
    tcase_add_test(pdu, test_write_parse_fc05_and_fc15);
    suite_add_tcase(s, pdu);

    TCase *state = tcase_create("state");
    tcase_add_checked_fixture(state, state_setup, state_teardown);
    tcase_add_test(state, test_level_starts_at_030_m_with_unit_m_and_2_decimals);
    tcase_add_test(state, test_set_level_writes_raw_int16);
    tcase_add_test(state, test_set_level_follows_served_unit_and_decimals);
    tcase_add_test(state, test_set_level_rejects_what_int16_cannot_hold);
    tcase_add_test(state, test_door_starts_closed_and_locked_with_polarity);
    tcase_add_test(state, test_sensors_sharing_a_di8_own_their_channels);
    tcase_add_test(state, test_co2_and_smoke_registers);
    tcase_add_test(state, test_raw_numbers_with_leading_zeros_are_decimal);
    tcase_add_test(state, test_unknown_unit_is_not_served);
    tcase_add_test(state, test_fault_targets_sensor_unit_or_bus_unit);
    tcase_add_test(state, test_stats_count_requests_per_unit_and_function);
    tcase_add_test(state, test_command_errors_name_the_problem);
    tcase_add_test(state, test_served_level_answers_an_fc03_read);
    tcase_add_test(state, test_output_module_records_writes_and_fault_modes);
    suite_add_tcase(s, state);

    return run_suite(s);
}
