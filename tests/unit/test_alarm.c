/* Unit tests: the alarm engine with a fake clock (one test per behaviour). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "alarm.h"
#include "gwerr.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define T0 (1000 * SEC)       /* monotonic time of the engine start */
#define WALL0 1784505600000LL /* 2026-07-20T00:00:00Z at T0 */
#define PIT 1.2               /* m: high 0.84, high_high 1.08 */

enum { S_SUMP, S_LEAK, S_CO2, S_DOOR, S_SMOKE, NS };

static const char *const names[NS] = {"sump-1", "leak-1", "co2-1", "door-1", "smoke-1"};
static const enum kind kinds[NS] = {KIND_WATER_LEVEL, KIND_WATER_LEAK, KIND_CO2, KIND_BLAST_DOOR,
                                    KIND_SMOKE};

static int64_t now_ms;      /* fake monotonic clock */
static int64_t wall_offset; /* wall - mono: changes across a simulated reboot */
static struct alarm_cfg cfgs[NS];
static struct alarm_engine *eng;
static struct alarm_event evbuf[64];
static struct alarm_events out;

static int64_t wall(void)
{
    return now_ms + wall_offset;
}

static void at(int64_t rel_ms)
{
    now_ms = T0 + rel_ms;
}

static void clear_events(void)
{
    out = (struct alarm_events){.ev = evbuf, .cap = 64};
}

static struct alarm_engine *make_engine(enum gw_mode mode)
{
    struct alarm_sensor s[NS];
    for (int i = 0; i < NS; i++)
        s[i] = (struct alarm_sensor){names[i], kinds[i], PIT, &cfgs[i]};
    return alarm_engine_new(s, NS, mode, now_ms);
}

/* Engine created at T0 with the (possibly edited) cfgs. */
static void start(enum gw_mode mode)
{
    at(0);
    eng = make_engine(mode);
    ck_assert_ptr_nonnull(eng);
    clear_events();
}

static void setup(void)
{
    wall_offset = WALL0 - T0;
    for (int i = 0; i < NS; i++)
        alarm_cfg_defaults(kinds[i], &cfgs[i]);
    eng = NULL;
    clear_events();
}

static void teardown(void)
{
    alarm_engine_free(eng);
    eng = NULL;
}

static struct reading reading(int sensor, enum quality q)
{
    struct reading r;
    memset(&r, 0, sizeof(r));
    r.sensor = sensor;
    r.kind = kinds[sensor];
    r.quality = q;
    r.ts_ms = wall();
    r.no_value = q == Q_COMM_LOST;
    return r;
}

static void feed(const struct reading *r)
{
    ck_assert_int_eq(alarm_on_reading(eng, r, now_ms, &out), 0);
}

static void level(double m)
{
    struct reading r = reading(S_SUMP, Q_GOOD);
    r.v.water_level.level_m = m;
    r.v.water_level.level_pct = 100 * m / PIT;
    feed(&r);
}

static void co2(double ppm, bool over_range)
{
    struct reading r = reading(S_CO2, Q_GOOD);
    r.v.co2.co2_ppm = ppm;
    r.v.co2.over_range = over_range;
    feed(&r);
}

static void leak(bool wet)
{
    struct reading r = reading(S_LEAK, Q_GOOD);
    r.v.water_leak.wet = wet;
    feed(&r);
}

static void door_contacts(enum door_state d, unsigned contacts)
{
    struct reading r = reading(S_DOOR, Q_GOOD);
    r.v.blast_door.door = d;
    r.v.blast_door.contacts = contacts;
    r.v.blast_door.contacts_present = CONTACT_CLOSED | CONTACT_LOCKED | CONTACT_OPEN;
    feed(&r);
}

static void door(enum door_state d)
{
    unsigned c = d == DOOR_LOCKED   ? CONTACT_CLOSED | CONTACT_LOCKED
                 : d == DOOR_CLOSED ? CONTACT_CLOSED
                 : d == DOOR_OPEN   ? CONTACT_OPEN
                                    : CONTACT_CLOSED | CONTACT_OPEN;
    door_contacts(d, c);
}

static void smoke(enum smoke_state st)
{
    struct reading r = reading(S_SMOKE, Q_GOOD);
    r.v.smoke.smoke = st;
    feed(&r);
}

static void lost(int sensor)
{
    struct reading r = reading(sensor, Q_COMM_LOST);
    feed(&r);
}

static void tick(void)
{
    ck_assert_int_eq(alarm_tick(eng, now_ms, wall(), &out), 0);
}

static const struct alarm_event *find(int sensor, enum alarm_id id, enum alarm_event_type t)
{
    for (int i = 0; i < out.n; i++)
        if (out.ev[i].sensor == sensor && out.ev[i].alarm == id && out.ev[i].type == t)
            return &out.ev[i];
    return NULL;
}

static int count(int sensor, enum alarm_id id, enum alarm_event_type t)
{
    int n = 0;
    for (int i = 0; i < out.n; i++)
        n += out.ev[i].sensor == sensor && out.ev[i].alarm == id && out.ev[i].type == t;
    return n;
}

static enum alarm_status st(int sensor, enum alarm_id id)
{
    return alarm_status(eng, sensor, id);
}

/* Water level readings every second over [from, to) ms, events accumulating. */
static void level_during(int64_t from, int64_t to, double m)
{
    for (int64_t t = from; t < to; t += SEC) {
        at(t);
        level(m);
    }
}

/* Raise high on the sump: 0.90 m (75%) for 30 s, events cleared afterwards. */
static void raise_high(void)
{
    level_during(0, 31 * SEC, 0.90);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
    clear_events();
}

/* ---- thresholds and delays ---------------------------------------------- */

START_TEST(test_high_raises_after_delay_not_before)
{
    start(MODE_PEACETIME);
    level_during(0, 30 * SEC, 0.84); /* exactly 70% of the pit, 0 .. 29 s */
    ck_assert_int_eq(out.n, 0);
    at(30 * SEC);
    level(0.84);
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(out.n, 1);
    ck_assert(ev->active && !ev->acked);
    ck_assert_int_eq(ev->severity, ALARM_SEV_MAJOR);
    ck_assert_double_eq_tol(ev->value, 0.84, 1e-9);
    ck_assert_double_eq_tol(ev->threshold, 0.84, 1e-9);
    ck_assert_str_eq(ev->unit, "m");
    ck_assert_int_eq(ev->mode, MODE_PEACETIME);
    ck_assert_int_eq(ev->ts_ms, WALL0 + 30 * SEC);
    ck_assert_str_eq(alarm_name(ev->alarm), "high");
}
END_TEST

START_TEST(test_high_high_raises_after_delay)
{
    start(MODE_PEACETIME);
    at(0);
    level(1.10);
    at(10 * SEC - 1);
    tick();
    ck_assert_ptr_null(find(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_RAISED));
    at(10 * SEC); /* the delay ends between readings: the tick raises it */
    tick();
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_CRITICAL);
    ck_assert_double_eq_tol(ev->threshold, 1.08, 1e-9);
    ck_assert_int_eq(ev->ts_ms, WALL0 + 10 * SEC);
}
END_TEST

START_TEST(test_level_dancing_around_threshold_does_not_raise)
{
    start(MODE_PEACETIME);
    for (int i = 0; i < 60; i++) { /* 10 minutes: 10 s above, 10 s below */
        at(i * 10 * SEC);
        level(i % 2 ? 0.83 : 0.85);
        at(i * 10 * SEC + 5 * SEC);
        tick();
    }
    ck_assert_int_eq(out.n, 0);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_INACTIVE);
}
END_TEST

START_TEST(test_level_dancing_around_clear_level_does_not_clear)
{
    start(MODE_PEACETIME);
    raise_high();
    for (int i = 0; i < 60; i++) { /* 0.77 is below the 0.78 clear level, 0.79 above */
        at(40 * SEC + i * 30 * SEC);
        level(i % 2 ? 0.79 : 0.77);
        at(40 * SEC + i * 30 * SEC + 15 * SEC);
        tick();
    }
    ck_assert_int_eq(out.n, 0);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
}
END_TEST

START_TEST(test_high_clears_after_clear_delay)
{
    start(MODE_PEACETIME);
    raise_high();
    at(100 * SEC);
    level(0.78); /* = 65%: clear level reached */
    at(160 * SEC - 1);
    tick();
    ck_assert_int_eq(out.n, 0);
    at(160 * SEC);
    tick();
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED);
    ck_assert_ptr_nonnull(ev);
    ck_assert(!ev->active && !ev->acked);
    ck_assert_double_eq_tol(ev->threshold, 0.78, 1e-9);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_INACTIVE);
}
END_TEST

START_TEST(test_per_sensor_override_changes_delay_and_severity)
{
    char err[128];
    ck_assert_int_eq(
        alarm_cfg_set(&cfgs[S_SUMP], KIND_WATER_LEVEL, "high_delay", "5s", err, sizeof(err)), 0);
    ck_assert_int_eq(alarm_cfg_set(&cfgs[S_SUMP], KIND_WATER_LEVEL, "high_severity", "critical",
                                   err, sizeof(err)),
                     0);
    start(MODE_PEACETIME);
    level_during(0, 5 * SEC, 0.90);
    ck_assert_int_eq(out.n, 0);
    at(5 * SEC);
    level(0.90);
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_CRITICAL);
}
END_TEST

START_TEST(test_disabled_rule_never_raises)
{
    char err[128];
    ck_assert_int_eq(
        alarm_cfg_set(&cfgs[S_SUMP], KIND_WATER_LEVEL, "high_enabled", "no", err, sizeof(err)), 0);
    start(MODE_PEACETIME);
    level_during(0, 5 * MIN, 0.90);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* ---- modes -------------------------------------------------------------- */

START_TEST(test_flood_season_lower_threshold_and_half_delay)
{
    start(MODE_FLOOD_SEASON);
    level_during(0, 15 * SEC, 0.73); /* 61%: above the flood-season 60% */
    ck_assert_int_eq(out.n, 0);
    at(15 * SEC);
    level(0.73);
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->mode, MODE_FLOOD_SEASON);
    ck_assert_double_eq_tol(ev->threshold, 0.72, 1e-9);
}
END_TEST

START_TEST(test_mode_switch_mid_alarm_does_not_clear_and_raise)
{
    start(MODE_PEACETIME);
    level_during(0, 31 * SEC, 1.00); /* 83%: high in every mode */
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
    clear_events();

    at(40 * SEC);
    ck_assert_int_eq(alarm_set_mode(eng, MODE_FLOOD_SEASON, now_ms, wall(), &out), 0);
    ck_assert_int_eq(out.n, 0); /* high stays, nothing cleared or raised */
    ck_assert_int_eq(alarm_mode(eng), MODE_FLOOD_SEASON);
    level_during(41 * SEC, 45 * SEC, 1.00);
    ck_assert_int_eq(out.n, 0);
    at(45 * SEC); /* flood-season high_high (80%, 5 s) counts from the switch */
    level(1.00);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(out.n, 1);
    clear_events();

    at(60 * SEC); /* back to peacetime: 83% is below high_high's 85% clear level */
    ck_assert_int_eq(alarm_set_mode(eng, MODE_PEACETIME, now_ms, wall(), &out), 0);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_CLEARED), 1);
    ck_assert_int_eq(out.n, 1);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
}
END_TEST

START_TEST(test_protective_mode_raises_co2_high_high_threshold)
{
    start(MODE_PROTECTIVE);
    for (int64_t t = 200 * SEC; t <= 520 * SEC; t += 5 * SEC) { /* after warm-up */
        at(t);
        co2(3000, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_RAISED), 0);
    ck_assert_int_eq(alarm_set_mode(eng, MODE_PEACETIME, now_ms, wall(), &out), 0);
    const struct alarm_event *ev = find(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_double_eq(ev->threshold, 2000);
}
END_TEST

/* A sealed shelter in protective mode tolerates CO2 up to 2.5%: the 5000 ppm
 * peacetime critical level must not fire there; 4% (IDLH) does. */
START_TEST(test_protective_mode_co2_critical_only_above_idlh)
{
    start(MODE_PROTECTIVE);
    for (int64_t t = 200 * SEC; t <= 300 * SEC; t += 5 * SEC) {
        at(t);
        co2(8000, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED), 0);
    for (int64_t t = 305 * SEC; t <= 400 * SEC; t += 5 * SEC) {
        at(t);
        co2(41000, false);
    }
    const struct alarm_event *ev = find(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_double_eq(ev->threshold, 40000);
    clear_events();
    /* The same 8000 ppm in peacetime is critical after its 60 s. */
    alarm_engine_free(eng);
    start(MODE_PEACETIME);
    for (int64_t t = 200 * SEC; t <= 300 * SEC; t += 5 * SEC) {
        at(t);
        co2(8000, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED), 1);
}
END_TEST

/* ---- latch and acknowledgement ------------------------------------------ */

START_TEST(test_smoke_fire_needs_two_consecutive_reads)
{
    start(MODE_PEACETIME);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_NORMAL);
    smoke(SMOKE_FIRE);
    ck_assert_int_eq(out.n, 0);
    smoke(SMOKE_FIRE);
    const struct alarm_event *ev = find(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_CRITICAL);
}
END_TEST

START_TEST(test_smoke_fire_count_survives_comm_lost_between_reads)
{
    start(MODE_PEACETIME);
    smoke(SMOKE_FIRE);
    lost(S_SMOKE); /* a missed poll is not a read of "normal" */
    smoke(SMOKE_FIRE);
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_RAISED), 1);
}
END_TEST

START_TEST(test_smoke_fault_after_three_reads)
{
    start(MODE_PEACETIME);
    smoke(SMOKE_FAULT);
    smoke(SMOKE_FAULT);
    ck_assert_int_eq(out.n, 0);
    smoke(SMOKE_FAULT);
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FAULT, ALARM_EV_RAISED), 1);
    smoke(SMOKE_NORMAL); /* not latching: clears at once */
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FAULT, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_fire_latched_until_acked_ack_after_return)
{
    start(MODE_PEACETIME);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    clear_events();
    smoke(SMOKE_NORMAL); /* smoke gone: still raised, nobody has seen it yet */
    at(HOUR);
    tick();
    ck_assert_int_eq(out.n, 0);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_LATCHED);
    ck_assert_int_eq(alarm_active_count(eng), 1);

    ck_assert_int_eq(alarm_ack(eng, S_SMOKE, ALARM_SMOKE_FIRE, "张三", now_ms, wall(), &out), 0);
    ck_assert_int_eq(out.n, 2);
    ck_assert_int_eq(out.ev[0].type, ALARM_EV_ACKNOWLEDGED);
    ck_assert(out.ev[0].acked && !out.ev[0].active);
    ck_assert_str_eq(out.ev[0].by, "张三");
    ck_assert_int_eq(out.ev[1].type, ALARM_EV_CLEARED);
    ck_assert(out.ev[1].acked && !out.ev[1].active);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_INACTIVE);
}
END_TEST

START_TEST(test_fire_latched_ack_before_return)
{
    start(MODE_PEACETIME);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    clear_events();
    ck_assert_int_eq(alarm_ack(eng, S_SMOKE, ALARM_SMOKE_FIRE, "li", now_ms, wall(), &out), 0);
    ck_assert_int_eq(out.n, 1);
    ck_assert(out.ev[0].active && out.ev[0].acked);
    ck_assert_int_eq(alarm_ack(eng, S_SMOKE, ALARM_SMOKE_FIRE, "li", now_ms, wall(), &out), 1);
    ck_assert_int_eq(out.n, 1);
    smoke(SMOKE_FIRE);
    ck_assert_int_eq(out.n, 1);
    smoke(SMOKE_NORMAL);
    const struct alarm_event *ev = find(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_CLEARED);
    ck_assert_ptr_nonnull(ev);
    ck_assert(ev->acked && !ev->active);
    ck_assert_str_eq(ev->by, "li");
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_INACTIVE);
}
END_TEST

START_TEST(test_latched_fire_returning_stays_one_alarm)
{
    start(MODE_PEACETIME);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_NORMAL);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_ACTIVE);
}
END_TEST

START_TEST(test_latch_configurable_for_other_alarms)
{
    char err[128];
    ck_assert_int_eq(
        alarm_cfg_set(&cfgs[S_SUMP], KIND_WATER_LEVEL, "high_high_latch", "yes", err, sizeof(err)),
        0);
    start(MODE_PEACETIME);
    level_during(0, 11 * SEC, 1.10);
    level_during(11 * SEC, 20 * SEC, 0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH_HIGH), ALARM_ST_LATCHED);
}
END_TEST

START_TEST(test_ack_of_inactive_or_unknown_alarm_fails)
{
    start(MODE_PEACETIME);
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH, "x", now_ms, wall(), &out), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_SMOKE_FIRE, "x", now_ms, wall(), &out), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(alarm_ack(eng, NS, ALARM_COMM_LOST, "x", now_ms, wall(), &out), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

START_TEST(test_ack_keeps_alarm_active_until_it_clears)
{
    start(MODE_PEACETIME);
    raise_high();
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH, "wang", now_ms, wall(), &out), 0);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACKED);
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH, ALARM_EV_ACKNOWLEDGED);
    ck_assert_ptr_nonnull(ev);
    ck_assert(ev->active && ev->acked);
    ck_assert_double_eq_tol(ev->value, 0.90, 1e-9);
    clear_events();
    level_during(40 * SEC, 101 * SEC, 0.50);
    ev = find(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED);
    ck_assert_ptr_nonnull(ev);
    ck_assert(ev->acked);
}
END_TEST

/* ---- comm_lost and implausible ------------------------------------------ */

START_TEST(test_comm_lost_raises_on_first_and_clears_on_first_good)
{
    start(MODE_PEACETIME);
    door(DOOR_LOCKED);
    lost(S_DOOR);
    const struct alarm_event *ev = find(S_DOOR, ALARM_COMM_LOST, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_MAJOR);
    ck_assert(isnan(ev->value));
    lost(S_DOOR);
    ck_assert_int_eq(out.n, 1);
    door(DOOR_LOCKED);
    ck_assert_int_eq(count(S_DOOR, ALARM_COMM_LOST, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_comm_lost_keeps_active_flood_alarm)
{
    start(MODE_PEACETIME);
    raise_high();
    for (int64_t t = 40 * SEC; t < 20 * MIN; t += 10 * SEC) {
        at(t);
        lost(S_SUMP);
        tick();
    }
    ck_assert_int_eq(count(S_SUMP, ALARM_COMM_LOST, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
    clear_events();
    /* Back, and well below the clear level: re-evaluated from now on, the
     * silent 20 minutes do not count toward the 60 s clear delay. */
    level_during(20 * MIN, 21 * MIN, 0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_COMM_LOST, ALARM_EV_CLEARED), 1);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    at(21 * MIN);
    level(0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_comm_lost_restarts_pending_clear_delay)
{
    start(MODE_PEACETIME);
    raise_high();
    level_during(40 * SEC, 90 * SEC, 0.50); /* clear pending for 50 s */
    at(90 * SEC);
    lost(S_SUMP);
    at(5 * MIN);
    tick();
    level(0.50); /* back: the outage does not count toward clearing */
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    at(6 * MIN - 1);
    level(0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    at(6 * MIN);
    level(0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_comm_lost_during_raise_delay_reevaluated_on_return)
{
    start(MODE_PEACETIME);
    level_during(0, 20 * SEC, 0.90); /* high pending for 20 s */
    at(20 * SEC);
    lost(S_SUMP);
    at(2 * MIN);
    tick();
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED), 0);
    at(3 * MIN);
    level(0.90); /* still high on return: the delay has long passed */
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED), 1);
}
END_TEST

START_TEST(test_implausible_placeholder_holds_process_alarms)
{
    start(MODE_PEACETIME);
    raise_high();
    for (int64_t t = 40 * SEC; t < 5 * MIN; t += SEC) {
        at(t);
        struct reading r = reading(S_SUMP, Q_IMPLAUSIBLE);
        r.no_value = true;
        feed(&r);
    }
    ck_assert_int_eq(count(S_SUMP, ALARM_IMPLAUSIBLE, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(find(S_SUMP, ALARM_IMPLAUSIBLE, ALARM_EV_RAISED)->severity, ALARM_SEV_MINOR);
    clear_events();
    level_during(5 * MIN, 6 * MIN, 0.90); /* plausible again for 60 s */
    ck_assert_int_eq(count(S_SUMP, ALARM_IMPLAUSIBLE, ALARM_EV_CLEARED), 0);
    at(6 * MIN);
    level(0.90);
    ck_assert_int_eq(count(S_SUMP, ALARM_IMPLAUSIBLE, ALARM_EV_CLEARED), 1);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
}
END_TEST

START_TEST(test_implausible_value_may_raise_but_never_clears)
{
    start(MODE_PEACETIME);
    level_during(0, 11 * SEC, 1.10);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH_HIGH), ALARM_ST_ACTIVE);
    for (int64_t t = 11 * SEC; t < 3 * MIN; t += SEC) {
        at(t);
        struct reading r = reading(S_SUMP, Q_IMPLAUSIBLE); /* below the pit floor */
        r.v.water_level.level_m = -0.2;
        feed(&r);
    }
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH_HIGH), ALARM_ST_ACTIVE);
}
END_TEST

START_TEST(test_impossible_jump_is_implausible_but_still_raises)
{
    start(MODE_PEACETIME);
    level_during(0, 10 * SEC, 0.20);
    at(10 * SEC);
    level(1.10); /* +75% of the pit in one second */
    ck_assert_int_eq(count(S_SUMP, ALARM_IMPLAUSIBLE, ALARM_EV_RAISED), 1);
    level_during(11 * SEC, 21 * SEC, 1.10); /* it stays: a real flood is not hidden */
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_RAISED), 1);
}
END_TEST

/* ---- rate of rise and rolling means ------------------------------------- */

/* Readings every 10 s of a level rising at cm_per_min from 0.20 m. */
static void rise(double cm_per_min, int64_t until)
{
    for (int64_t t = 0; t <= until; t += 10 * SEC) {
        at(t);
        level(0.20 + cm_per_min / 100.0 * (double)t / (double)MIN);
    }
}

START_TEST(test_rising_fast_exactly_at_rate_does_not_raise)
{
    start(MODE_PEACETIME);
    rise(5.0, 10 * MIN);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_RISING_FAST, ALARM_EV_RAISED), 0);
}
END_TEST

/* From the first readings on, a rise counts once it is beyond noise (2 cm):
 * 5.2 cm/min read every 10 s is 0.87 cm, 1.73 cm, then 2.6 cm. */
START_TEST(test_rising_fast_raises_from_the_first_readings)
{
    start(MODE_PEACETIME);
    rise(5.2, 20 * SEC);
    ck_assert_int_eq(out.n, 0);
    at(30 * SEC);
    level(0.20 + 0.052 * 0.5);
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_RISING_FAST, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_double_eq_tol(ev->value, 5.2, 1e-6);
    ck_assert_str_eq(ev->unit, "cm/min");
}
END_TEST

/* rising_fast events over readings every second of level(t) for [from, to). */
struct rise_log {
    int raised, cleared, raised_after_clear;
    int64_t first_raise, last_raise, first_clear;
    double raise_value;
};

static void level_curve(int64_t from, int64_t to, double (*lvl)(int64_t), struct rise_log *lg)
{
    for (int64_t t = from; t < to; t += SEC) {
        at(t);
        level(lvl(t));
        for (int i = 0; i < out.n; i++) {
            if (out.ev[i].sensor != S_SUMP || out.ev[i].alarm != ALARM_WL_RISING_FAST)
                continue;
            if (out.ev[i].type == ALARM_EV_RAISED) {
                if (lg->raised++ == 0) {
                    lg->first_raise = t;
                    lg->raise_value = out.ev[i].value;
                }
                lg->raised_after_clear += lg->cleared > 0;
                lg->last_raise = t;
            } else if (out.ev[i].type == ALARM_EV_CLEARED && lg->cleared++ == 0) {
                lg->first_clear = t;
            }
        }
        clear_events();
    }
}

/* The reported night: a cold start at 0.30 m, a 127 cm/min rise to 1.10 m,
 * the pumps draining it at 60 cm/min to a steady 0.55 m. */
static double flood_and_drain(int64_t t)
{
    double rise_s = (1.10 - 0.30) / (1.27 / 60), drain_s = (1.10 - 0.55) / (0.60 / 60);
    double s = (double)t / SEC;
    if (s < rise_s)
        return 0.30 + 1.27 / 60 * s;
    if (s < rise_s + drain_s)
        return 1.10 - 0.60 / 60 * (s - rise_s);
    return 0.55;
}

START_TEST(test_rising_fast_cold_start_fast_rise_raises)
{
    struct rise_log lg = {0};
    start(MODE_PEACETIME);
    level_curve(0, 30 * SEC, flood_and_drain, &lg);
    ck_assert_int_eq(lg.raised, 1);
    ck_assert_int_le(lg.first_raise, 3 * SEC); /* not after 3 min of history */
    ck_assert_double_gt(lg.raise_value, 60);
}
END_TEST

START_TEST(test_rising_fast_rise_then_drain_to_steady_clears_and_does_not_raise)
{
    struct rise_log lg = {0};
    start(MODE_PEACETIME);
    level_curve(0, 20 * MIN, flood_and_drain, &lg);
    /* Steady at 0.55 m from 93 s on: was 快速上涨 8.3 cm/min at 180 s. */
    ck_assert_int_lt(lg.last_raise, 38 * SEC); /* raised while it rose, only then */
    ck_assert_int_eq(lg.raised, 1);
    ck_assert_int_eq(lg.cleared, 1);
    ck_assert_int_eq(lg.raised_after_clear, 0);
    ck_assert_int_lt(lg.first_clear, 3 * MIN); /* cleared while it drained */
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_RISING_FAST), ALARM_ST_INACTIVE);
}
END_TEST

static double steady_level;
static double steady(int64_t t)
{
    (void)t;
    return steady_level;
}

START_TEST(test_rising_fast_steady_pit_never_raises)
{
    static const double levels[] = {0.0, 0.30, 0.55, 1.10};
    struct rise_log lg = {0};
    steady_level = levels[_i];
    start(MODE_PEACETIME);
    level_curve(0, 30 * MIN, steady, &lg);
    ck_assert_int_eq(lg.raised, 0);
}
END_TEST

/* Noise within the 1 cm reading deadband around 0.55 m: random, a fast
 * zig-zag, and the worst case for a fitted line (low for half a window,
 * high for the other half, at every scale). */
static int noise_kind;
static double noisy(int64_t t)
{
    static uint32_t lcg = 12345;
    int64_t s = t / SEC;
    switch (noise_kind) {
    case 0:
        lcg = lcg * 1664525u + 1013904223u;
        return 0.55 + ((double)(lcg >> 8) / (double)(1u << 24) - 0.5) * 0.0098;
    case 1:
        return 0.55 + (s % 2 ? 0.0049 : -0.0049);
    case 2:
        return 0.55 + (s % 180 >= 90 ? 0.0049 : -0.0049);
    default:
        return 0.55 + (s % 8 >= 4 ? 0.0049 : -0.0049);
    }
}

START_TEST(test_rising_fast_noise_within_deadband_never_raises)
{
    struct rise_log lg = {0};
    noise_kind = _i;
    start(MODE_PEACETIME);
    level_curve(0, 30 * MIN, noisy, &lg);
    ck_assert_int_eq(lg.raised, 0);
}
END_TEST

START_TEST(test_rising_fast_clears_when_rise_stops)
{
    start(MODE_PEACETIME);
    rise(8.0, 4 * MIN);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_RISING_FAST), ALARM_ST_ACTIVE);
    clear_events();
    double top = 0.20 + 0.08 * 4;
    for (int64_t t = 4 * MIN + 10 * SEC; t <= 8 * MIN; t += 10 * SEC) {
        at(t);
        level(top);
    }
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_RISING_FAST, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_co2_hourly_mean_needs_ten_minutes_of_data)
{
    start(MODE_PEACETIME);
    int64_t t0 = 200 * SEC; /* after warm-up */
    for (int64_t t = t0; t < t0 + 10 * MIN; t += MIN) {
        at(t);
        co2(1100, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH, ALARM_EV_RAISED), 0);
    at(t0 + 10 * MIN);
    co2(1100, false);
    const struct alarm_event *ev = find(S_CO2, ALARM_CO2_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_MINOR);
    ck_assert_double_eq_tol(ev->value, 1100, 1e-9);
    ck_assert_str_eq(ev->unit, "ppm");
}
END_TEST

START_TEST(test_co2_hourly_mean_forgets_samples_older_than_the_window)
{
    start(MODE_PEACETIME);
    int64_t t0 = 200 * SEC;
    for (int64_t t = t0; t <= t0 + HOUR; t += MIN) { /* an hour at 2000: mean 2000 */
        at(t);
        co2(1500, false);
    }
    ck_assert_int_eq(st(S_CO2, ALARM_CO2_HIGH), ALARM_ST_ACTIVE);
    clear_events();
    /* Then 600 ppm: the mean drops below 900 only once most of the 1500 ppm
     * hour has left the window (after 40 min: 1500*20/61 + 600*41/61 < 900). */
    int64_t cleared_at = -1;
    for (int64_t t = t0 + HOUR + MIN; t <= t0 + 2 * HOUR + 2 * MIN; t += MIN) {
        at(t);
        co2(600, false);
        if (cleared_at < 0 && find(S_CO2, ALARM_CO2_HIGH, ALARM_EV_CLEARED))
            cleared_at = t - (t0 + HOUR);
    }
    ck_assert_int_ge(cleared_at, 38 * MIN);
    ck_assert_int_le(cleared_at, 42 * MIN);
}
END_TEST

START_TEST(test_co2_five_minute_mean_edge)
{
    start(MODE_PEACETIME);
    int64_t t0 = 200 * SEC;
    for (int64_t t = t0; t < t0 + 5 * MIN; t += 5 * SEC) {
        at(t);
        co2(2100, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_RAISED), 0);
    at(t0 + 5 * MIN); /* five full minutes above 2000 */
    co2(2100, false);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(find(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_RAISED)->severity, ALARM_SEV_MAJOR);
    clear_events();
    int64_t t1 = t0 + 5 * MIN;
    for (int64_t t = t1 + 5 * SEC; t <= t1 + MIN; t += 5 * SEC) {
        at(t);
        co2(1500, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_CLEARED), 0);
    for (int64_t t = t1 + MIN + 5 * SEC; t <= t1 + 5 * MIN; t += 5 * SEC) {
        at(t);
        co2(1500, false);
    }
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH_HIGH, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_co2_over_range_counts_as_at_least_full_scale)
{
    start(MODE_PEACETIME);
    at(200 * SEC);
    co2(5000, true);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_OVER_RANGE, ALARM_EV_RAISED), 1);
    at(260 * SEC - 1);
    co2(5000, true);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED), 0);
    at(260 * SEC);
    co2(5000, true);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED), 1);
}
END_TEST

START_TEST(test_co2_warmup_suppresses_alarms)
{
    start(MODE_PEACETIME);
    for (int64_t t = 0; t < 180 * SEC; t += SEC) {
        at(t);
        ck_assert(alarm_warming_up(eng, S_CO2, now_ms));
        co2(6000, true);
        tick();
    }
    ck_assert_int_eq(out.n, 0);
    at(180 * SEC);
    ck_assert(!alarm_warming_up(eng, S_CO2, now_ms));
    ck_assert(!alarm_warming_up(eng, S_SUMP, T0));
    co2(6000, true);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_OVER_RANGE, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED), 0);
    at(240 * SEC); /* the critical delay counts from the end of the warm-up */
    co2(6000, true);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_CRITICAL, ALARM_EV_RAISED), 1);
}
END_TEST

START_TEST(test_co2_comm_lost_raised_during_warmup)
{
    start(MODE_PEACETIME);
    at(10 * SEC);
    lost(S_CO2);
    ck_assert_int_eq(count(S_CO2, ALARM_COMM_LOST, ALARM_EV_RAISED), 1);
}
END_TEST

/* ---- blast door --------------------------------------------------------- */

START_TEST(test_door_sensor_disagree_after_two_seconds)
{
    start(MODE_PEACETIME);
    door(DOOR_OPEN);
    at(SEC);
    door(DOOR_UNKNOWN); /* closed and open: a door in motion for 1.5 s is fine */
    at(2500);
    door(DOOR_CLOSED);
    ck_assert_int_eq(out.n, 0);
    at(10 * SEC);
    door_contacts(DOOR_UNKNOWN, CONTACT_LOCKED); /* locked without closed */
    at(12 * SEC - 1);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_DISAGREE, ALARM_EV_RAISED), 0);
    at(12 * SEC);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_DISAGREE, ALARM_EV_RAISED), 1);
    at(13 * SEC);
    door(DOOR_LOCKED);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_DISAGREE, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_door_chatter_more_than_ten_changes_in_a_minute)
{
    start(MODE_PEACETIME);
    door(DOOR_LOCKED);
    for (int i = 1; i <= 10; i++) { /* 10 changes within 50 s: allowed */
        at(i * 5 * SEC);
        door(i % 2 ? DOOR_CLOSED : DOOR_LOCKED);
    }
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_CHATTER, ALARM_EV_RAISED), 0);
    at(55 * SEC);
    door(DOOR_CLOSED); /* the 11th */
    const struct alarm_event *ev = find(S_DOOR, ALARM_DOOR_CHATTER, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_double_eq(ev->value, 11);
    ck_assert_double_eq(ev->threshold, 10);
    clear_events();
    at(105 * SEC - 1); /* changes at 45, 50 and 55 s are still in the window */
    tick();
    ck_assert_int_eq(out.n, 0);
    at(105 * SEC); /* 2 left: below the clear level of 3 */
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_CHATTER, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_door_chatter_old_changes_leave_the_window)
{
    start(MODE_PEACETIME);
    door(DOOR_LOCKED);
    for (int i = 1; i <= 20; i++) { /* one change every 6 s: 10 in any 60 s */
        at(i * 6 * SEC);
        door(i % 2 ? DOOR_CLOSED : DOOR_LOCKED);
    }
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_CHATTER, ALARM_EV_RAISED), 0);
}
END_TEST

START_TEST(test_door_not_secured_sixty_seconds_after_protective)
{
    start(MODE_PEACETIME);
    door(DOOR_CLOSED);
    at(HOUR);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_NOT_SECURED, ALARM_EV_RAISED), 0);
    clear_events();
    ck_assert_int_eq(alarm_set_mode(eng, MODE_PROTECTIVE, now_ms, wall(), &out), 0);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_NOT_SECURED, ALARM_EV_RAISED), 0);
    at(HOUR + 60 * SEC - 1);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_NOT_SECURED, ALARM_EV_RAISED), 0);
    at(HOUR + 60 * SEC);
    tick();
    const struct alarm_event *ev = find(S_DOOR, ALARM_DOOR_NOT_SECURED, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_CRITICAL);
    ck_assert_int_eq(ev->mode, MODE_PROTECTIVE);
    clear_events();
    at(HOUR + 70 * SEC);
    door(DOOR_LOCKED);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_NOT_SECURED, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_door_locked_in_time_is_not_reported)
{
    start(MODE_PEACETIME);
    door(DOOR_OPEN);
    ck_assert_int_eq(alarm_set_mode(eng, MODE_PROTECTIVE, now_ms, wall(), &out), 0);
    at(30 * SEC);
    door(DOOR_CLOSED);
    at(50 * SEC);
    door(DOOR_LOCKED);
    at(5 * MIN);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_NOT_SECURED, ALARM_EV_RAISED), 0);
}
END_TEST

START_TEST(test_door_open_too_long)
{
    start(MODE_PEACETIME);
    door(DOOR_LOCKED);
    at(SEC);
    door(DOOR_OPEN);
    at(SEC + 10 * MIN - 1);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_OPEN_TOO_LONG, ALARM_EV_RAISED), 0);
    at(SEC + 10 * MIN);
    tick();
    const struct alarm_event *ev = find(S_DOOR, ALARM_DOOR_OPEN_TOO_LONG, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_double_eq(ev->value, 600);
    ck_assert_str_eq(ev->unit, "s");
    at(11 * MIN);
    door(DOOR_CLOSED);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_OPEN_TOO_LONG, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_door_closed_not_locked)
{
    start(MODE_PEACETIME);
    door(DOOR_CLOSED);
    at(5 * MIN - 1);
    tick();
    ck_assert_int_eq(out.n, 0);
    at(5 * MIN);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_CLOSED_NOT_LOCKED, ALARM_EV_RAISED), 1);
    door(DOOR_LOCKED);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_CLOSED_NOT_LOCKED, ALARM_EV_CLEARED), 1);
}
END_TEST

/* The engine follows each door for its rules and says which movement a
 * reading completed (the InfluxDB door point), whether or not anything
 * writes it. */
START_TEST(test_door_movements_come_from_the_engines_tracker)
{
    const char *movement = NULL;
    double travel_s = 0;

    start(MODE_PEACETIME);
    door(DOOR_OPEN); /* the first reading: nothing known of a movement */
    ck_assert_int_eq(alarm_door_movement(eng, S_DOOR, &movement, &travel_s), 0);
    at(2 * SEC);
    door_contacts(DOOR_OPEN, 0); /* leaves the open position */
    ck_assert_int_eq(alarm_door_movement(eng, S_DOOR, &movement, &travel_s), 0);
    at(5 * SEC);
    door(DOOR_CLOSED);
    ck_assert_int_eq(alarm_door_movement(eng, S_DOOR, &movement, &travel_s), 1);
    ck_assert_str_eq(movement, "close");
    ck_assert_double_eq(travel_s, 3.0);
    at(6 * SEC);
    feed(&(struct reading){.sensor = S_LEAK, .kind = KIND_WATER_LEAK, .ts_ms = wall()});
    ck_assert_int_eq(alarm_door_movement(eng, S_DOOR, &movement, &travel_s), 1); /* still */
    at(7 * SEC);
    door(DOOR_LOCKED);
    ck_assert_int_eq(alarm_door_movement(eng, S_DOOR, &movement, &travel_s), 1);
    ck_assert_str_eq(movement, "lock");
    ck_assert_double_eq(travel_s, 2.0);
    at(8 * SEC);
    struct reading lost = reading(S_DOOR, Q_COMM_LOST);
    feed(&lost); /* a new reading: the last movement is over */
    ck_assert_int_eq(alarm_door_movement(eng, S_DOOR, &movement, &travel_s), 0);
    ck_assert_int_eq(alarm_door_movement(eng, S_SUMP, &movement, &travel_s), 0);
    ck_assert_int_eq(alarm_door_movement(eng, NS, &movement, &travel_s), 0);
    ck_assert_int_eq(alarm_door_movement(eng, -1, &movement, &travel_s), 0);
}
END_TEST

START_TEST(test_door_exercise_overdue_after_31_days)
{
    start(MODE_PEACETIME);
    door(DOOR_LOCKED);
    at(20 * DAY); /* closed and locked again without opening: not an exercise */
    door(DOOR_CLOSED);
    at(20 * DAY + MIN);
    door(DOOR_LOCKED);
    clear_events();
    at(31 * DAY - 1);
    tick();
    ck_assert_int_eq(out.n, 0);
    at(31 * DAY);
    tick();
    const struct alarm_event *ev = find(S_DOOR, ALARM_DOOR_EXERCISE_OVERDUE, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_MINOR);
    ck_assert_double_eq_tol(ev->value, 31, 1e-9);
    ck_assert_str_eq(ev->unit, "d");
    char text[256];
    alarm_event_message(ev, LANG_ZH, "door-1", "1号主出入口 防护密闭门", text, sizeof(text));
    ck_assert_str_eq(text, "1号主出入口 防护密闭门：人防门超期未启闭 31 天 ≥ 31 天");
    alarm_event_message(ev, LANG_EN, "door-1", "", text, sizeof(text));
    ck_assert_str_eq(text, "door-1: blast door exercise overdue 31 d >= 31 d");
    clear_events();
    at(32 * DAY);
    door(DOOR_OPEN);
    at(32 * DAY + MIN);
    door(DOOR_CLOSED);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_EXERCISE_OVERDUE, ALARM_EV_CLEARED), 0);
    at(32 * DAY + 2 * MIN);
    door(DOOR_LOCKED); /* full open -> close -> lock cycle */
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_EXERCISE_OVERDUE, ALARM_EV_CLEARED), 1);
    at(32 * DAY + 2 * MIN + 31 * DAY - 1);
    tick();
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_EXERCISE_OVERDUE, ALARM_EV_RAISED), 0);
}
END_TEST

/* ---- water leak --------------------------------------------------------- */

START_TEST(test_leak_raises_after_5s_and_clears_after_60s_dry)
{
    start(MODE_PEACETIME);
    leak(true);
    at(3 * SEC);
    leak(false); /* a splash */
    at(4 * SEC);
    leak(true);
    at(9 * SEC - 1);
    tick();
    ck_assert_int_eq(out.n, 0);
    at(9 * SEC);
    tick();
    const struct alarm_event *ev = find(S_LEAK, ALARM_LEAK, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_CRITICAL);
    at(10 * SEC);
    leak(false);
    at(70 * SEC - 1);
    tick();
    ck_assert_int_eq(count(S_LEAK, ALARM_LEAK, ALARM_EV_CLEARED), 0);
    at(70 * SEC);
    tick();
    ck_assert_int_eq(count(S_LEAK, ALARM_LEAK, ALARM_EV_CLEARED), 1);
}
END_TEST

/* ---- inhibit ------------------------------------------------------------ */

START_TEST(test_inhibit_suppresses_then_raises_right_after_expiry)
{
    start(MODE_PEACETIME);
    ck_assert_int_eq(alarm_inhibit(eng, S_SUMP, 10 * MIN, "maint", now_ms, wall(), &out), 0);
    const struct alarm_event *ev = find(S_SUMP, ALARM_INHIBIT, ALARM_EV_INHIBIT_STARTED);
    ck_assert_ptr_nonnull(ev);
    ck_assert_int_eq(ev->severity, ALARM_SEV_INFO);
    ck_assert_int_eq(ev->until_ms, WALL0 + 10 * MIN);
    ck_assert_str_eq(ev->by, "maint");
    ck_assert_str_eq(alarm_name(ev->alarm), "inhibit");
    ck_assert(alarm_inhibited(eng, S_SUMP, now_ms));
    clear_events();
    level_during(0, 10 * MIN, 1.10);
    ck_assert_int_eq(out.n, 0);
    at(5 * MIN);
    lost(S_SUMP); /* comm_lost is not a process alarm: not inhibited */
    ck_assert_int_eq(count(S_SUMP, ALARM_COMM_LOST, ALARM_EV_RAISED), 1);
    clear_events();
    at(5 * MIN + SEC);
    level(1.10);
    clear_events();
    at(10 * MIN);
    tick();
    ck_assert_int_ge(out.n, 3);
    ck_assert_int_eq(out.ev[0].type, ALARM_EV_INHIBIT_ENDED);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_RAISED), 1);
    ck_assert(!alarm_inhibited(eng, S_SUMP, now_ms));
}
END_TEST

START_TEST(test_inhibit_keeps_active_alarm_until_it_ends)
{
    start(MODE_PEACETIME);
    raise_high();
    ck_assert_int_eq(alarm_inhibit(eng, S_SUMP, 5 * MIN, "m", now_ms, wall(), &out), 0);
    level_during(40 * SEC, 4 * MIN, 0.30); /* pit drained during maintenance */
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(alarm_inhibit(eng, S_SUMP, 0, "m", now_ms, wall(), &out), 0);
    ck_assert_int_eq(count(S_SUMP, ALARM_INHIBIT, ALARM_EV_INHIBIT_ENDED), 1);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_inhibit_rejects_bad_durations)
{
    start(MODE_PEACETIME);
    ck_assert_int_eq(alarm_inhibit(eng, S_SUMP, -1, "m", now_ms, wall(), &out), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(
        alarm_inhibit(eng, S_SUMP, ALARM_INHIBIT_MAX_MS + 1, "m", now_ms, wall(), &out), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(alarm_inhibit(eng, S_SUMP, 0, "m", now_ms, wall(), &out), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(out.n, 0);
}
END_TEST

/* ---- bounded output ----------------------------------------------------- */

START_TEST(test_full_output_defers_transition_never_drops_it)
{
    start(MODE_PEACETIME);
    struct alarm_events none = {.ev = evbuf, .cap = 0};
    struct reading r = reading(S_DOOR, Q_COMM_LOST);
    ck_assert_int_eq(alarm_on_reading(eng, &r, now_ms, &none), -1);
    ck_assert_int_eq(errno, EGW_FULL);
    ck_assert_int_eq(none.deferred, 1);
    ck_assert_int_eq(st(S_DOOR, ALARM_COMM_LOST), ALARM_ST_INACTIVE);
    at(SEC);
    tick(); /* room again: the transition is made now */
    ck_assert_int_eq(count(S_DOOR, ALARM_COMM_LOST, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(st(S_DOOR, ALARM_COMM_LOST), ALARM_ST_ACTIVE);
    ck_assert_uint_ge(alarm_events_max(eng), (size_t)NS * ALARM_SENSOR_EVENTS_MAX);
}
END_TEST

START_TEST(test_test_event_changes_nothing)
{
    start(MODE_PEACETIME);
    ck_assert_int_eq(alarm_test(eng, S_SMOKE, ALARM_SMOKE_FIRE, "drill", wall(), &out), 0);
    ck_assert_int_eq(out.n, 1);
    ck_assert_int_eq(out.ev[0].type, ALARM_EV_TEST);
    ck_assert(!out.ev[0].active);
    ck_assert_str_eq(alarm_event_type_name(out.ev[0].type), "test");
    ck_assert_int_eq(alarm_active_count(eng), 0);
}
END_TEST

/* ---- persistence -------------------------------------------------------- */

static void *save(size_t *len)
{
    *len = alarm_state_size(eng);
    void *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(alarm_state_save(eng, now_ms, wall(), buf, *len), (int)*len);
    return buf;
}

/* Simulate a reboot: a new monotonic epoch, `down_ms` of wall time later. */
static void reboot(const void *buf, size_t len, int64_t down_ms, int expect_restored)
{
    int64_t wall_before = wall();
    alarm_engine_free(eng);
    now_ms = 5 * SEC;
    wall_offset = wall_before + down_ms - now_ms;
    struct alarm_sensor s[NS];
    for (int i = 0; i < NS; i++)
        s[i] = (struct alarm_sensor){names[i], kinds[i], PIT, &cfgs[i]};
    eng = alarm_engine_new(s, NS, MODE_PEACETIME, now_ms);
    ck_assert_ptr_nonnull(eng);
    ck_assert_int_eq(alarm_state_load(eng, buf, len, now_ms, wall()), expect_restored);
    clear_events();
}

START_TEST(test_save_load_round_trip_does_not_reraise)
{
    start(MODE_PEACETIME);
    raise_high();
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH, "wang", now_ms, wall(), &out), 0);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_NORMAL); /* latched */
    lost(S_DOOR);
    clear_events();
    size_t len;
    void *buf = save(&len);
    reboot(buf, len, 2 * MIN, NS);
    free(buf);

    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACKED);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_LATCHED);
    ck_assert_int_eq(st(S_DOOR, ALARM_COMM_LOST), ALARM_ST_ACTIVE);
    int64_t t = now_ms;
    for (int i = 0; i < 30; i++) {
        now_ms = t + i * SEC;
        level(0.90);
        lost(S_DOOR);
        smoke(SMOKE_NORMAL);
        tick();
    }
    ck_assert_int_eq(out.n, 0); /* nothing raised again, nothing cleared */
    ck_assert_int_eq(alarm_ack(eng, S_SMOKE, ALARM_SMOKE_FIRE, "li", now_ms, wall(), &out), 0);
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_restart_restarts_clear_delay_and_keeps_timers)
{
    start(MODE_PEACETIME);
    raise_high();
    level_during(40 * SEC, 90 * SEC, 0.50); /* clear pending for 50 s */
    door(DOOR_OPEN);                        /* open_too_long counting */
    clear_events();
    size_t len;
    void *buf = save(&len);
    reboot(buf, len, 10 * MIN, NS);
    free(buf);
    int64_t t = now_ms;
    level(0.50);
    door(DOOR_OPEN); /* opened just before the save, then 10 min down */
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    ck_assert_int_eq(count(S_DOOR, ALARM_DOOR_OPEN_TOO_LONG, ALARM_EV_RAISED), 1);
    now_ms = t + 60 * SEC - 1;
    level(0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 0);
    now_ms = t + 60 * SEC;
    level(0.50);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_CLEARED), 1);
}
END_TEST

START_TEST(test_restart_keeps_rolling_mean_and_inhibit)
{
    start(MODE_PEACETIME);
    for (int64_t t = 200 * SEC; t <= 200 * SEC + 9 * MIN; t += MIN) {
        at(t);
        co2(1200, false);
    }
    ck_assert_int_eq(alarm_inhibit(eng, S_LEAK, 10 * MIN, "m", now_ms, wall(), &out), 0);
    clear_events();
    size_t len;
    void *buf = save(&len);
    reboot(buf, len, 30 * SEC, NS);
    free(buf);
    ck_assert(alarm_inhibited(eng, S_LEAK, now_ms));
    now_ms += 4 * MIN; /* warm-up over; 9.5 + 4 min of mean data */
    co2(1200, false);
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH, ALARM_EV_RAISED), 1);
    now_ms += 6 * MIN; /* 10.5 min after the inhibit started */
    tick();
    ck_assert_int_eq(count(S_LEAK, ALARM_INHIBIT, ALARM_EV_INHIBIT_ENDED), 1);
}
END_TEST

START_TEST(test_load_matches_sensors_by_name)
{
    start(MODE_PEACETIME);
    raise_high();
    size_t len;
    void *buf = save(&len);
    /* The config now lists another sensor first and drops smoke-1. */
    struct alarm_cfg extra;
    alarm_cfg_defaults(KIND_WATER_LEVEL, &extra);
    struct alarm_sensor s[] = {{"sump-2", KIND_WATER_LEVEL, 2.0, &extra},
                               {"sump-1", KIND_WATER_LEVEL, PIT, &cfgs[S_SUMP]}};
    struct alarm_engine *e2 = alarm_engine_new(s, 2, MODE_PEACETIME, 0);
    ck_assert_ptr_nonnull(e2);
    ck_assert_int_eq(alarm_state_load(e2, buf, len, 0, wall()), 1);
    ck_assert_int_eq(alarm_status(e2, 1, ALARM_WL_HIGH), ALARM_ST_ACTIVE);
    ck_assert_int_eq(alarm_status(e2, 0, ALARM_WL_HIGH), ALARM_ST_INACTIVE);
    alarm_engine_free(e2);
    free(buf);
}
END_TEST

/* The orphan of sensor name and alarm id in o[0..n), or NULL. */
static const struct alarm_orphan *orphan(const struct alarm_orphan *o, int n, const char *name,
                                         enum alarm_id id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].sensor, name) == 0 && o[i].ev.alarm == id)
            return &o[i];
    return NULL;
}

START_TEST(test_orphans_of_removed_and_rekinded_sensors)
{
    start(MODE_PEACETIME);
    raise_high(); /* sump-1 high: active */
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_NORMAL); /* smoke-1 fire: latched */
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_LATCHED);
    ck_assert_int_eq(alarm_inhibit(eng, S_DOOR, 10 * MIN, "m", now_ms, wall(), &out), 0);
    clear_events();
    size_t len;
    void *buf = save(&len);

    /* Kept: leak-1 and door-1.  sump-1 is now a water_leak (another kind);
     * smoke-1 and co2-1 (nothing raised) are gone. */
    struct alarm_cfg as_leak;
    alarm_cfg_defaults(KIND_WATER_LEAK, &as_leak);
    struct alarm_sensor s[] = {{"leak-1", KIND_WATER_LEAK, PIT, &cfgs[S_LEAK]},
                               {"door-1", KIND_BLAST_DOOR, PIT, &cfgs[S_DOOR]},
                               {"sump-1", KIND_WATER_LEAK, PIT, &as_leak}};
    struct alarm_engine *e2 = alarm_engine_new(s, 3, MODE_FLOOD_SEASON, now_ms);
    ck_assert_ptr_nonnull(e2);
    struct alarm_orphan *o;
    int n = alarm_state_orphans(e2, buf, len, now_ms, wall(), &o);
    ck_assert_int_eq(n, 2);
    const struct alarm_orphan *high = orphan(o, n, "sump-1", ALARM_WL_HIGH);
    const struct alarm_orphan *fire = orphan(o, n, "smoke-1", ALARM_SMOKE_FIRE);
    ck_assert_ptr_nonnull(high);
    ck_assert_ptr_nonnull(fire);
    ck_assert_int_eq(high->kind, KIND_WATER_LEVEL); /* the kind it had */
    ck_assert_int_eq(high->ev.type, ALARM_EV_WITHDRAWN);
    ck_assert_int_eq(high->ev.sensor, -1);
    ck_assert(!high->ev.active && !high->ev.acked);
    ck_assert_int_eq(high->ev.severity, ALARM_SEV_MAJOR); /* sump high default */
    ck_assert_int_eq(fire->ev.severity, ALARM_SEV_CRITICAL);
    ck_assert_int_eq(fire->ev.mode, MODE_FLOOD_SEASON); /* the new engine's */
    ck_assert(isnan(fire->ev.value) && isnan(fire->ev.threshold));
    ck_assert_int_eq(fire->ev.ts_ms, wall());
    /* door-1 is still configured: its inhibit carries over, no orphan. */
    ck_assert_ptr_null(orphan(o, n, "door-1", ALARM_INHIBIT));
    char text[256];
    ck_assert_int_ge(
        alarm_event_message(&fire->ev, LANG_EN, fire->sensor, NULL, text, sizeof(text)), 0);
    ck_assert_str_eq(text, "smoke-1: fire withdrawn (sensor removed from the configuration)");
    free(o);
    alarm_engine_free(e2);

    /* The door goes too, while its inhibit runs: the inhibit is withdrawn. */
    struct alarm_engine *e3 = alarm_engine_new(s, 1, MODE_PEACETIME, now_ms);
    n = alarm_state_orphans(e3, buf, len, now_ms, wall(), &o);
    ck_assert_int_eq(n, 3);
    const struct alarm_orphan *inh = orphan(o, n, "door-1", ALARM_INHIBIT);
    ck_assert_ptr_nonnull(inh);
    ck_assert_int_eq(inh->ev.severity, ALARM_SEV_INFO);
    free(o);
    /* ... also when it ran out while the gateway was down: its end was never
     * published (a tick does that, and the sensor gets no more ticks). */
    wall_offset += 11 * MIN;
    n = alarm_state_orphans(e3, buf, len, now_ms, wall(), &o);
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_nonnull(orphan(o, n, "door-1", ALARM_INHIBIT));
    free(o);
    alarm_engine_free(e3);

    /* Same configuration: no orphans, and nothing allocated. */
    o = (struct alarm_orphan *)buf;
    ck_assert_int_eq(alarm_state_orphans(eng, buf, len, now_ms, wall(), &o), 0);
    ck_assert_ptr_null(o);
    /* A corrupt image: EINVAL, as alarm_state_load. */
    ck_assert_int_eq(alarm_state_orphans(eng, buf, len - 1, now_ms, wall(), &o), -1);
    ck_assert_int_eq(errno, EINVAL);
    free(buf);
}
END_TEST

START_TEST(test_withdrawn_message_both_languages)
{
    struct alarm_event ev = {.sensor = -1,
                             .alarm = ALARM_SMOKE_FIRE,
                             .type = ALARM_EV_WITHDRAWN,
                             .severity = ALARM_SEV_CRITICAL,
                             .value = NAN,
                             .threshold = NAN,
                             .unit = ""};
    char buf[256];
    alarm_event_message(&ev, LANG_ZH, "smoke-1", NULL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "smoke-1：火警已撤销（传感器已从配置中移除）");
    alarm_event_message(&ev, LANG_EN, "smoke-1", NULL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "smoke-1: fire withdrawn (sensor removed from the configuration)");
    ck_assert_str_eq(alarm_event_type_name(ALARM_EV_WITHDRAWN), "withdrawn");
}
END_TEST

START_TEST(test_load_rejects_corrupt_image_and_leaves_engine_unchanged)
{
    start(MODE_PEACETIME);
    raise_high();
    size_t len;
    unsigned char *buf = save(&len);
    struct alarm_engine *e2 = make_engine(MODE_PEACETIME);
    ck_assert_int_eq(alarm_state_load(e2, buf, len - 1, now_ms, wall()), -1);
    ck_assert_int_eq(errno, EINVAL);
    buf[8] ^= 0xff; /* version */
    ck_assert_int_eq(alarm_state_load(e2, buf, len, now_ms, wall()), -1);
    buf[8] ^= 0xff;
    buf[0] = 'X'; /* magic */
    ck_assert_int_eq(alarm_state_load(e2, buf, len, now_ms, wall()), -1);
    buf[0] = 'S';
    memset(buf + len - 200, 0x7f, 200); /* a garbage tail in the last record */
    ck_assert_int_eq(alarm_state_load(e2, buf, len, now_ms, wall()), -1);
    ck_assert_int_eq(alarm_active_count(e2), 0);
    ck_assert_int_eq(alarm_state_save(eng, now_ms, wall(), buf, len - 1), -1);
    ck_assert_int_eq(errno, ENOSPC);
    alarm_engine_free(e2);
    free(buf);
}
END_TEST

/* ---- configuration ------------------------------------------------------ */

START_TEST(test_override_parsing_valid)
{
    char err[128];
    struct alarm_cfg w, c, d, s;
    alarm_cfg_defaults(KIND_WATER_LEVEL, &w);
    alarm_cfg_defaults(KIND_CO2, &c);
    alarm_cfg_defaults(KIND_BLAST_DOOR, &d);
    alarm_cfg_defaults(KIND_SMOKE, &s);
    struct {
        struct alarm_cfg *ac;
        const char *key, *value;
    } ok[] = {
        {&w, "high", "75%"},
        {&w, "high_clear", "72"},
        {&w, "high_delay", "20s"},
        {&w, "flood_season_high", "62%"},
        {&w, "high_severity", "critical"},
        {&w, "high_latch", "yes"},
        {&w, "rising_fast", "4cm/min"},
        {&w, "rising_fast_window", "5min"},
        {&w, "implausible", "40%"},
        {&c, "high_high", "3000"},
        {&c, "protective_high_high", "2.5%"},
        {&c, "protective_high_high_clear", "20000ppm"},
        {&c, "warmup", "120s"},
        {&c, "high_window", "30min"},
        {&c, "critical_enabled", "no"},
        {&d, "chatter", "5"},
        {&d, "exercise_overdue_delay", "720h"},
        {&d, "comm_lost_severity", "critical"},
        {&s, "fire_count", "3"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(
            alarm_cfg_set(ok[i].ac, ok[i].ac->kind, ok[i].key, ok[i].value, err, sizeof(err)) == 0,
            "%s = %s: %s", ok[i].key, ok[i].value, err);
    }
    const struct alarm_rule_cfg *h = &w.rule[ALARM_WL_HIGH];
    ck_assert_double_eq(h->threshold[MODE_PEACETIME], 75);
    ck_assert_double_eq(h->threshold[MODE_PROTECTIVE], 75);
    ck_assert_double_eq(h->threshold[MODE_FLOOD_SEASON], 62);
    ck_assert_double_eq(h->clear[MODE_PEACETIME], 72);
    ck_assert_double_eq(h->clear[MODE_FLOOD_SEASON], 55); /* built-in flood value kept */
    ck_assert_int_eq(h->delay_ms[MODE_PEACETIME], 20 * SEC);
    ck_assert_int_eq(h->delay_ms[MODE_FLOOD_SEASON], 15 * SEC);
    ck_assert_int_eq(h->severity, ALARM_SEV_CRITICAL);
    ck_assert(h->latch);
    ck_assert_double_eq(w.rule[ALARM_WL_RISING_FAST].threshold[0], 4);
    ck_assert_int_eq(w.rule[ALARM_WL_RISING_FAST].window_ms, 5 * MIN);
    const struct alarm_rule_cfg *hh = &c.rule[ALARM_CO2_HIGH_HIGH];
    ck_assert_double_eq(hh->threshold[MODE_PEACETIME], 3000);
    ck_assert_double_eq(hh->threshold[MODE_PROTECTIVE], 25000);
    ck_assert_double_eq(hh->clear[MODE_PROTECTIVE], 20000);
    ck_assert_int_eq(c.warmup_ms, 120 * SEC);
    ck_assert(!c.rule[ALARM_CO2_CRITICAL].enabled);
    ck_assert_double_eq(d.rule[ALARM_DOOR_CHATTER].threshold[0], 5);
    ck_assert_int_eq(d.rule[ALARM_DOOR_EXERCISE_OVERDUE].delay_ms[0], 30 * DAY);
    ck_assert_int_eq(d.rule[ALARM_COMM_LOST].severity, ALARM_SEV_CRITICAL);
    ck_assert_int_eq(s.rule[ALARM_SMOKE_FIRE].count, 3);
    ck_assert_int_eq(alarm_cfg_validate(&w, err, sizeof(err)), 0);
    ck_assert_int_eq(alarm_cfg_validate(&c, err, sizeof(err)), 0);
    ck_assert_int_eq(alarm_cfg_validate(&d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_override_parsing_invalid)
{
    char err[128];
    struct alarm_cfg w, d;
    alarm_cfg_defaults(KIND_WATER_LEVEL, &w);
    alarm_cfg_defaults(KIND_BLAST_DOOR, &d);
    struct {
        struct alarm_cfg *ac;
        const char *key, *value;
        int rc;
    } cases[] = {
        {&w, "high", "abc", -1},
        {&w, "high", "250%", -1},
        {&w, "high", "-5%", -1},
        {&w, "high_delay", "30", -1},
        {&w, "high_delay", "30 s", -1},
        {&w, "high_severity", "urgent", -1},
        {&w, "high_latch", "maybe", -1},
        {&w, "peacetime_high_severity", "minor", -1},
        {&w, "high_count", "2", -1},
        {&w, "high_window", "30s", -1},
        {&w, "rising_fast", "5mm/min", -1},
        {&w, "rising_fast_window", "0s", -1},
        {&d, "implausible", "10", -1},
        {&d, "chatter", "40", -1},
        {&d, "chatter", "2.5", -1},
        {&d, "sensor_disagree", "3", -1},
        {&w, "pit_depth", "1.2", 1},
        {&w, "high_foo", "1", 1},
        {&w, "fire", "1", 1},
        {&w, "flood_season_bogus", "1", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        int rc = alarm_cfg_set(cases[i].ac, cases[i].ac->kind, cases[i].key, cases[i].value, err,
                               sizeof(err));
        ck_assert_msg(rc == cases[i].rc, "%s = %s: rc %d", cases[i].key, cases[i].value, rc);
        if (rc < 0)
            ck_assert_msg(err[0] != '\0', "%s: no reason", cases[i].key);
    }
    /* Valid alone, invalid together: clear above threshold. */
    ck_assert_int_eq(alarm_cfg_set(&w, KIND_WATER_LEVEL, "high_clear", "75%", err, sizeof(err)), 0);
    ck_assert_int_eq(alarm_cfg_validate(&w, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "high_clear"));
    struct alarm_cfg c;
    alarm_cfg_defaults(KIND_CO2, &c);
    ck_assert_int_eq(alarm_cfg_set(&c, KIND_CO2, "critical_window", "1min", err, sizeof(err)), 0);
    ck_assert_int_eq(alarm_cfg_validate(&c, err, sizeof(err)), -1); /* a third mean window */
    ck_assert_int_eq(alarm_cfg_set(&c, KIND_WATER_LEVEL, "high", "1000", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_engine_rejects_invalid_sensors)
{
    struct alarm_sensor s[2] = {{"a", KIND_WATER_LEVEL, 0.0, &cfgs[S_SUMP]},
                                {"b", KIND_SMOKE, 0, &cfgs[S_SMOKE]}};
    ck_assert_ptr_null(alarm_engine_new(s, 2, MODE_PEACETIME, 0)); /* pit depth 0 */
    ck_assert_int_eq(errno, EGW_CONFIG);
    s[0].pit_depth_m = 1.0;
    s[1].name = "a";
    ck_assert_ptr_null(alarm_engine_new(s, 2, MODE_PEACETIME, 0)); /* same name twice */
    s[1].name = "b";
    s[1].cfg = &cfgs[S_CO2];
    ck_assert_ptr_null(alarm_engine_new(s, 2, MODE_PEACETIME, 0)); /* cfg of another kind */
    s[1].cfg = &cfgs[S_SMOKE];
    struct alarm_engine *e = alarm_engine_new(s, 2, MODE_PEACETIME, 0);
    ck_assert_ptr_nonnull(e);
    alarm_engine_free(e);
    alarm_engine_free(NULL);
}
END_TEST

/* ---- names and messages ------------------------------------------------- */

START_TEST(test_alarm_names_per_kind)
{
    enum alarm_id id;
    ck_assert_int_eq(alarm_from_name(KIND_CO2, "high", &id), 0);
    ck_assert_int_eq(id, ALARM_CO2_HIGH);
    ck_assert_int_eq(alarm_from_name(KIND_WATER_LEVEL, "high", &id), 0);
    ck_assert_int_eq(id, ALARM_WL_HIGH);
    ck_assert_int_eq(alarm_from_name(KIND_SMOKE, "comm_lost", &id), 0);
    ck_assert_int_eq(alarm_from_name(KIND_SMOKE, "leak", &id), -1);
    for (int k = 0; k < KIND_COUNT; k++) {
        int n = 0;
        for (int a = 0; a < ALARM_COUNT; a++)
            n += alarm_applies((enum kind)k, (enum alarm_id)a);
        ck_assert_int_le(n, ALARM_KIND_MAX);
    }
}
END_TEST

START_TEST(test_event_message_in_both_languages)
{
    char buf[256];
    start(MODE_PEACETIME);
    level(1.10);
    at(10 * SEC);
    level(1.10);
    const struct alarm_event *ev = find(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_RAISED);
    ck_assert_ptr_nonnull(ev);
    alarm_event_message(ev, LANG_ZH, "sump-1", "B2 泵房", buf, sizeof(buf));
    ck_assert_str_eq(buf, "B2 泵房：集水坑水位超高 1.10 m ≥ 1.08 m");
    alarm_event_message(ev, LANG_EN, "sump-1", "B2 pump room", buf, sizeof(buf));
    ck_assert_str_eq(buf, "sump-1 (B2 pump room): sump level high-high 1.10 m >= 1.08 m");
    alarm_event_message(ev, LANG_EN, "sump-1", NULL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "sump-1: sump level high-high 1.10 m >= 1.08 m");

    clear_events();
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH_HIGH, "张三", now_ms, wall(), &out), 0);
    alarm_event_message(&out.ev[0], LANG_ZH, "sump-1", "", buf, sizeof(buf));
    ck_assert_str_eq(buf, "sump-1：集水坑水位超高已确认，操作人：张三");
    alarm_event_message(&out.ev[0], LANG_EN, "sump-1", "", buf, sizeof(buf));
    ck_assert_str_eq(buf, "sump-1: sump level high-high acknowledged by 张三");

    clear_events();
    at(11 * SEC);
    level(1.00);
    ev = find(S_SUMP, ALARM_WL_HIGH_HIGH, ALARM_EV_CLEARED);
    ck_assert_ptr_nonnull(ev);
    alarm_event_message(ev, LANG_ZH, "sump-1", "", buf, sizeof(buf));
    ck_assert_str_eq(buf, "sump-1：集水坑水位超高已恢复 1.00 m ≤ 1.02 m");

    clear_events();
    ck_assert_int_eq(alarm_inhibit(eng, S_LEAK, 2 * HOUR, "李工", now_ms, wall(), &out), 0);
    alarm_event_message(&out.ev[0], LANG_ZH, "leak-1", "", buf, sizeof(buf));
    ck_assert_str_eq(buf, "leak-1：维护屏蔽开始，时长 2.0 小时，操作人：李工");
    alarm_event_message(&out.ev[0], LANG_EN, "leak-1", "", buf, sizeof(buf));
    ck_assert_str_eq(buf, "leak-1: maintenance inhibit started for 2.0 h by 李工");

    /* Truncation never leaves half a character: "sump-1：集" is 6 + 3 + 3 bytes. */
    int n = alarm_event_message(ev, LANG_ZH, "sump-1", "", buf, 12);
    ck_assert_int_gt(n, 12);
    ck_assert_str_eq(buf, "sump-1：");
}
END_TEST

/* ---- state images of earlier builds (tests/unit/fixtures/README.md) ---- */

#define FIXTURE_SAVED_AT (740 * SEC) /* the scenario's save, after T0 */

/* The state the fixtures hold: sump-1 high acknowledged by "wang", smoke-1
 * fire latched, door-1 comm_lost, nine minutes of co2-1 at 1200 ppm (its
 * hourly mean), leak-1 inhibited for 10 min by "m". */
static void fixture_scenario(void)
{
    start(MODE_PEACETIME);
    raise_high(); /* 0 .. 30 s */
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH, "wang", now_ms, wall(), &out), 0);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE);
    smoke(SMOKE_NORMAL);
    lost(S_DOOR);
    for (int64_t t = 200 * SEC; t <= 200 * SEC + 9 * MIN; t += MIN) {
        at(t);
        co2(1200, false);
    }
    at(FIXTURE_SAVED_AT);
    ck_assert_int_eq(alarm_inhibit(eng, S_LEAK, 10 * MIN, "m", now_ms, wall(), &out), 0);
    clear_events();
}

/* `test_alarm --write-state-fixture FILE`: the scenario's image in this
 * build's format, for the fixture of the next format change (a suite of its
 * own: the scenario asserts). */
static const char *fixture_out;

START_TEST(write_state_fixture)
{
    size_t len;
    fixture_scenario();
    void *buf = save(&len);
    FILE *f = fopen(fixture_out, "wb");
    ck_assert_msg(f != NULL, "%s: %s", fixture_out, strerror(errno));
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(buf);
}
END_TEST

static Suite *fixture_writer_suite(const char *path)
{
    Suite *s = suite_create("alarm state fixture");
    TCase *tc = tcase_create("write");
    fixture_out = path;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, write_state_fixture);
    suite_add_tcase(s, tc);
    return s;
}

/* The images fixture_scenario() left in each format this engine has saved;
 * every one must load in every later build (tests/unit/fixtures/README.md). */
static const char *const state_fixtures[] = {
    "tests/unit/fixtures/alarm_state_v1.bin",
    "tests/unit/fixtures/alarm_state_v2.bin",
};

static void *read_fixture(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    static unsigned char data[1 << 16];
    *len = fread(data, 1, sizeof(data), f);
    ck_assert(feof(f) && !ferror(f));
    fclose(f);
    void *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, data, *len);
    return buf;
}

/* An image an earlier build saved loads: the acknowledged high, the latched
 * fire, the comm_lost, the inhibit and the co2 mean carry over, nothing is
 * raised again, and a sensor since removed is withdrawn. */
START_TEST(test_state_image_of_earlier_builds_loads)
{
    size_t len;
    void *buf = read_fixture(state_fixtures[_i], &len);
    at(FIXTURE_SAVED_AT);
    reboot(buf, len, 30 * SEC, NS);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACKED);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_LATCHED);
    ck_assert_int_eq(st(S_DOOR, ALARM_COMM_LOST), ALARM_ST_ACTIVE);
    ck_assert_int_eq(alarm_active_count(eng), 3);
    ck_assert(alarm_inhibited(eng, S_LEAK, now_ms));
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH, "li", now_ms, wall(), &out), 1);
    now_ms += 4 * MIN; /* warm-up over: 9 + 4.5 min of mean data */
    level(0.90);
    lost(S_DOOR);
    smoke(SMOKE_NORMAL);
    co2(1200, false);
    ck_assert_int_eq(out.n, 1); /* the hourly mean, from the saved buckets */
    ck_assert_int_eq(count(S_CO2, ALARM_CO2_HIGH, ALARM_EV_RAISED), 1);
    ck_assert_int_eq(alarm_ack(eng, S_SMOKE, ALARM_SMOKE_FIRE, "li", now_ms, wall(), &out), 0);
    ck_assert_int_eq(count(S_SMOKE, ALARM_SMOKE_FIRE, ALARM_EV_CLEARED), 1);

    /* smoke-1 left the configuration: its latched fire is withdrawn. */
    struct alarm_sensor s[NS - 1];
    for (int i = 0; i < NS - 1; i++)
        s[i] = (struct alarm_sensor){names[i], kinds[i], PIT, &cfgs[i]};
    struct alarm_engine *e2 = alarm_engine_new(s, NS - 1, MODE_PEACETIME, now_ms);
    ck_assert_ptr_nonnull(e2);
    struct alarm_orphan *o;
    ck_assert_int_eq(alarm_state_orphans(e2, buf, len, now_ms, wall(), &o), 1);
    ck_assert_str_eq(o[0].sensor, "smoke-1");
    ck_assert_int_eq(o[0].ev.alarm, ALARM_SMOKE_FIRE);
    ck_assert_int_eq(o[0].kind, KIND_SMOKE);
    free(o);
    alarm_engine_free(e2);
    free(buf);
}
END_TEST

/* Replace the first 32-byte name field `from` in an image by `to`. */
static void rename_in_image(unsigned char *buf, size_t len, const char *from, const char *to)
{
    char a[32] = {0}, b[32] = {0};
    memcpy(a, from, strlen(from));
    memcpy(b, to, strlen(to));
    unsigned char *at_field = memmem(buf, len, a, sizeof(a));
    ck_assert_ptr_nonnull(at_field);
    memcpy(at_field, b, sizeof(b));
}

/* The catalogue grows and shrinks between builds: an image naming an alarm
 * or a kind this build does not know still loads; what it names is skipped,
 * an alarm it does not hold starts afresh, the rest carries over. */
START_TEST(test_state_image_survives_a_changed_catalogue)
{
    start(MODE_PEACETIME);
    raise_high();
    smoke(SMOKE_FIRE);
    smoke(SMOKE_FIRE); /* fire active */
    ck_assert_int_eq(alarm_ack(eng, S_SUMP, ALARM_WL_HIGH, "wang", now_ms, wall(), &out), 0);
    lost(S_DOOR);
    clear_events();
    size_t len;
    unsigned char *buf = save(&len);

    /* sump-1's "high" is an alarm of another build (so this build's "high"
     * is missing from the image). */
    unsigned char *img = malloc(len);
    memcpy(img, buf, len);
    rename_in_image(img, len, "high", "high_of_a_later_build");
    reboot(img, len, 0, NS);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_INACTIVE);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_ACTIVE);
    ck_assert_int_eq(st(S_DOOR, ALARM_COMM_LOST), ALARM_ST_ACTIVE);
    int64_t t = now_ms; /* the fresh "high" counts its delay from now */
    level(0.90);
    now_ms = t + 30 * SEC - 1;
    level(0.90);
    ck_assert_int_eq(out.n, 0);
    now_ms = t + 30 * SEC;
    level(0.90);
    ck_assert_int_eq(count(S_SUMP, ALARM_WL_HIGH, ALARM_EV_RAISED), 1);

    /* smoke-1's kind is one this build does not know: not restored, and no
     * orphan (its alarms cannot be named); the others are. */
    memcpy(img, buf, len);
    rename_in_image(img, len, "smoke", "smoke_of_a_later_build");
    reboot(img, len, 0, NS - 1);
    ck_assert_int_eq(st(S_SMOKE, ALARM_SMOKE_FIRE), ALARM_ST_INACTIVE);
    ck_assert_int_eq(st(S_SUMP, ALARM_WL_HIGH), ALARM_ST_ACKED);
    struct alarm_orphan *o;
    ck_assert_int_eq(alarm_state_orphans(eng, img, len, now_ms, wall(), &o), 0);

    /* A name that no build writes is a corrupt image. */
    memcpy(img, buf, len);
    rename_in_image(img, len, "high", "High");
    ck_assert_int_eq(alarm_state_load(eng, img, len, now_ms, wall()), -1);
    ck_assert_int_eq(errno, EINVAL);
    free(img);
    free(buf);
}
END_TEST

/* Flash wear (issue 9, defect 12): with nothing new, a later save writes the
 * same record bytes, so the outbox has nothing to write; a change shows. */
START_TEST(test_state_image_is_stable_while_nothing_changes)
{
    size_t len1, len2;

    start(MODE_PEACETIME);
    at(5000);
    leak(false);
    void *a = save(&len1);
    at(65000);
    void *b = save(&len2);
    ck_assert_uint_eq(len1, len2);
    ck_assert_mem_eq((char *)a + 32, (char *)b + 32, len1 - 32); /* records: same bytes */
    free(b);
    at(70000);
    leak(true);
    b = save(&len2);
    ck_assert(memcmp((char *)a + 32, (char *)b + 32, len1 - 32) != 0);
    free(a);
    free(b);
}
END_TEST

static Suite *alarm_suite(void)
{
    Suite *s = suite_create("alarm");
    TCase *tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_high_raises_after_delay_not_before);
    tcase_add_test(tc, test_high_high_raises_after_delay);
    tcase_add_test(tc, test_level_dancing_around_threshold_does_not_raise);
    tcase_add_test(tc, test_level_dancing_around_clear_level_does_not_clear);
    tcase_add_test(tc, test_high_clears_after_clear_delay);
    tcase_add_test(tc, test_per_sensor_override_changes_delay_and_severity);
    tcase_add_test(tc, test_disabled_rule_never_raises);
    tcase_add_test(tc, test_flood_season_lower_threshold_and_half_delay);
    tcase_add_test(tc, test_mode_switch_mid_alarm_does_not_clear_and_raise);
    tcase_add_test(tc, test_protective_mode_raises_co2_high_high_threshold);
    tcase_add_test(tc, test_protective_mode_co2_critical_only_above_idlh);
    tcase_add_test(tc, test_smoke_fire_needs_two_consecutive_reads);
    tcase_add_test(tc, test_smoke_fire_count_survives_comm_lost_between_reads);
    tcase_add_test(tc, test_smoke_fault_after_three_reads);
    tcase_add_test(tc, test_fire_latched_until_acked_ack_after_return);
    tcase_add_test(tc, test_fire_latched_ack_before_return);
    tcase_add_test(tc, test_latched_fire_returning_stays_one_alarm);
    tcase_add_test(tc, test_latch_configurable_for_other_alarms);
    tcase_add_test(tc, test_ack_of_inactive_or_unknown_alarm_fails);
    tcase_add_test(tc, test_ack_keeps_alarm_active_until_it_clears);
    tcase_add_test(tc, test_comm_lost_raises_on_first_and_clears_on_first_good);
    tcase_add_test(tc, test_comm_lost_keeps_active_flood_alarm);
    tcase_add_test(tc, test_comm_lost_restarts_pending_clear_delay);
    tcase_add_test(tc, test_comm_lost_during_raise_delay_reevaluated_on_return);
    tcase_add_test(tc, test_implausible_placeholder_holds_process_alarms);
    tcase_add_test(tc, test_implausible_value_may_raise_but_never_clears);
    tcase_add_test(tc, test_impossible_jump_is_implausible_but_still_raises);
    tcase_add_test(tc, test_rising_fast_exactly_at_rate_does_not_raise);
    tcase_add_test(tc, test_rising_fast_raises_from_the_first_readings);
    tcase_add_test(tc, test_rising_fast_cold_start_fast_rise_raises);
    tcase_add_test(tc, test_rising_fast_rise_then_drain_to_steady_clears_and_does_not_raise);
    tcase_add_loop_test(tc, test_rising_fast_steady_pit_never_raises, 0, 4);
    tcase_add_loop_test(tc, test_rising_fast_noise_within_deadband_never_raises, 0, 4);
    tcase_add_test(tc, test_rising_fast_clears_when_rise_stops);
    tcase_add_test(tc, test_co2_hourly_mean_needs_ten_minutes_of_data);
    tcase_add_test(tc, test_co2_hourly_mean_forgets_samples_older_than_the_window);
    tcase_add_test(tc, test_co2_five_minute_mean_edge);
    tcase_add_test(tc, test_co2_over_range_counts_as_at_least_full_scale);
    tcase_add_test(tc, test_co2_warmup_suppresses_alarms);
    tcase_add_test(tc, test_co2_comm_lost_raised_during_warmup);
    tcase_add_test(tc, test_door_sensor_disagree_after_two_seconds);
    tcase_add_test(tc, test_door_chatter_more_than_ten_changes_in_a_minute);
    tcase_add_test(tc, test_door_chatter_old_changes_leave_the_window);
    tcase_add_test(tc, test_door_not_secured_sixty_seconds_after_protective);
    tcase_add_test(tc, test_door_locked_in_time_is_not_reported);
    tcase_add_test(tc, test_door_open_too_long);
    tcase_add_test(tc, test_door_closed_not_locked);
    tcase_add_test(tc, test_door_exercise_overdue_after_31_days);
    tcase_add_test(tc, test_door_movements_come_from_the_engines_tracker);
    tcase_add_test(tc, test_leak_raises_after_5s_and_clears_after_60s_dry);
    tcase_add_test(tc, test_inhibit_suppresses_then_raises_right_after_expiry);
    tcase_add_test(tc, test_inhibit_keeps_active_alarm_until_it_ends);
    tcase_add_test(tc, test_inhibit_rejects_bad_durations);
    tcase_add_test(tc, test_full_output_defers_transition_never_drops_it);
    tcase_add_test(tc, test_test_event_changes_nothing);
    tcase_add_test(tc, test_save_load_round_trip_does_not_reraise);
    tcase_add_test(tc, test_restart_restarts_clear_delay_and_keeps_timers);
    tcase_add_test(tc, test_restart_keeps_rolling_mean_and_inhibit);
    tcase_add_test(tc, test_load_matches_sensors_by_name);
    tcase_add_test(tc, test_orphans_of_removed_and_rekinded_sensors);
    tcase_add_test(tc, test_withdrawn_message_both_languages);
    tcase_add_test(tc, test_load_rejects_corrupt_image_and_leaves_engine_unchanged);
    tcase_add_test(tc, test_override_parsing_valid);
    tcase_add_test(tc, test_override_parsing_invalid);
    tcase_add_test(tc, test_engine_rejects_invalid_sensors);
    tcase_add_test(tc, test_alarm_names_per_kind);
    tcase_add_test(tc, test_event_message_in_both_languages);
    tcase_add_test(tc, test_state_image_is_stable_while_nothing_changes);
    tcase_add_test(tc, test_state_image_survives_a_changed_catalogue);
    tcase_add_loop_test(tc, test_state_image_of_earlier_builds_loads, 0,
                        (int)(sizeof(state_fixtures) / sizeof(state_fixtures[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-state-fixture") == 0)
        return run_suite(fixture_writer_suite(argv[2]));
    return run_suite(alarm_suite());
}
