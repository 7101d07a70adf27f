/*
 * Unit tests of the simulator's scenario timeline (sensors/sim/scenario.c),
 * with a fake clock: scn_run() gets the time as an argument.  It links
 * scenario.o and simstate.o, and sensors/sensorcfg.o to load the demo config
 * (Makefile: LINK_test_sim_scenario).  The last test plays the demo's flood
 * against the demo config, so a renamed sensor breaks the build, not the demo.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "sensorcfg.h"
#include "sim/mbslave.h"
#include "sim/scenario.h"
#include "sim/simstate.h"

#define RUN_MAX 4096

static char ran[RUN_MAX][128];
static int nran;

static void record(const char *command, const char *where, int is_ramp_step, void *ctx)
{
    (void)where;
    (void)is_ramp_step;
    (void)ctx;
    if (nran < RUN_MAX)
        snprintf(ran[nran++], sizeof(ran[0]), "%s", command);
}

static char path[64];

static struct scn *load_text(const char *text, double speed, char *err, size_t errlen)
{
    snprintf(path, sizeof(path), "/tmp/test_sim_scenario.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    struct scn *s = scn_load(path, speed, err, errlen);
    unlink(path);
    nran = 0;
    return s;
}

START_TEST(test_at_steps_run_in_time_order_once)
{
    char err[512];
    struct scn *s = load_text("# flood\n"
                              "at 5s set sump-1 level_m 0.50   # later\n"
                              "\n"
                              "at 1s fault door-1 mute\n"
                              "at 5s raw rs485-1 3 3 4 7\n",
                              1.0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(scn_nsteps(s), 3);
    scn_start(s, 1000);
    ck_assert_int_eq(scn_run(s, 1000, record, NULL), 2000);
    ck_assert_int_eq(nran, 0);
    ck_assert_int_eq(scn_run(s, 2000, record, NULL), 6000);
    ck_assert_int_eq(nran, 1);
    ck_assert_str_eq(ran[0], "fault door-1 mute");
    ck_assert_int_eq(scn_run(s, 7000, record, NULL), -1);
    ck_assert_int_eq(nran, 3);
    ck_assert_str_eq(ran[1], "set sump-1 level_m 0.50");
    ck_assert_str_eq(ran[2], "raw rs485-1 3 3 4 7");
    ck_assert_int_eq(scn_run(s, 9000, record, NULL), -1);
    ck_assert_int_eq(nran, 3);
    scn_free(s);
}
END_TEST

START_TEST(test_ramp_interpolates_every_100ms_and_ends_exactly)
{
    char err[512];
    struct scn *s = load_text("ramp 10s 70s sump-1 level_m 0.30 1.20\n", 1.0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    scn_start(s, 0);
    ck_assert_int_eq(scn_run(s, 0, record, NULL), 10000);
    ck_assert_int_eq(scn_run(s, 10000, record, NULL), 10100);
    ck_assert_str_eq(ran[0], "set sump-1 level_m 0.3000");
    ck_assert_int_eq(scn_run(s, 10050, record, NULL), 10100); /* not due yet */
    ck_assert_int_eq(nran, 1);
    scn_run(s, 40000, record, NULL);
    ck_assert_str_eq(ran[1], "set sump-1 level_m 0.7500");
    ck_assert_int_eq(scn_run(s, 69990, record, NULL), 70000);
    ck_assert_int_eq(scn_run(s, 70000, record, NULL), -1);
    ck_assert_str_eq(ran[nran - 1], "set sump-1 level_m 1.2000");
    scn_free(s);
}
END_TEST

START_TEST(test_speed_divides_all_times)
{
    char err[512];
    struct scn *s = load_text("at 10s set a b 1\nramp 20s 1min a b 0 1\n", 10.0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(scn_duration_ms(s), 6000);
    scn_start(s, 0);
    ck_assert_int_eq(scn_run(s, 0, record, NULL), 1000);
    ck_assert_int_eq(scn_run(s, 1000, record, NULL), 2000);
    ck_assert_int_eq(scn_run(s, 6000, record, NULL), -1);
    ck_assert_str_eq(ran[nran - 1], "set a b 1.0000");
    scn_free(s);
}
END_TEST

START_TEST(test_syntax_errors_report_every_line)
{
    char err[1024];
    struct scn *s = load_text("at 5 set a b 1\n"        /* no unit */
                              "at 5s stats\n"           /* not a changing command */
                              "ramp 10s 5s a b 0 1\n"   /* ends before it starts */
                              "ramp 1s 2s a b zero 1\n" /* not a number */
                              "wait 5s\n"               /* unknown step */
                              "at 1s set a b 1\n",
                              1.0, err, sizeof(err));
    ck_assert_ptr_null(s);
    for (int line = 1; line <= 5; line++) {
        char want[96];
        snprintf(want, sizeof(want), "%s:%d: ", path, line);
        ck_assert_msg(strstr(err, want) != NULL, "no error for line %d in: %s", line, err);
    }
    ck_assert_ptr_null(strstr(err, ":6: "));
}
END_TEST

START_TEST(test_missing_file_is_an_error)
{
    char err[256];
    ck_assert_ptr_null(scn_load("/nonexistent/x.scn", 1.0, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.scn"));
}
END_TEST

START_TEST(test_rain_scenario_loads)
{
    char err[512];
    struct scn *s = scn_load("sensors/sim/scenarios/rain.scn", 1.0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_ge(scn_duration_ms(s), 200000);
    ck_assert_int_le(scn_duration_ms(s), 300000);
    scn_free(s);
}
END_TEST

static int rain_failures;

static void exec_on_state(const char *command, const char *where, int is_ramp_step, void *ctx)
{
    char reply[256];
    (void)is_ramp_step;
    if (simstate_command(ctx, command, reply, sizeof(reply)) != 0) {
        fprintf(stderr, "%s: %s: %s\n", where, command, reply);
        rain_failures++;
    }
}

START_TEST(test_rain_scenario_runs_against_demo_conf)
{
    char err[512];
    int nerrors = 0;
    struct sensorcfg *c = sensorcfg_load("conf/demo.conf", "sensors/models", stderr, &nerrors);
    ck_assert_msg(c != NULL, "conf/demo.conf: %d errors", nerrors);
    struct simstate *state = simstate_new(c, err, sizeof(err));
    ck_assert_msg(state != NULL, "%s", err);
    struct scn *s = scn_load("sensors/sim/scenarios/rain.scn", 1.0, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);

    /* one simulated second at a time; note the peak and the end */
    double peak = 0;
    rain_failures = 0;
    scn_start(s, 0);
    for (int64_t now = 0; scn_run(s, now, exec_on_state, state) >= 0; now += 1000) {
        char out[128];
        double level;
        ck_assert_int_eq(simstate_get(state, "sump-east", out, sizeof(out)), 0);
        ck_assert_int_eq(sscanf(out, "level_m=%lf", &level), 1);
        if (level > peak)
            peak = level;
    }
    ck_assert_int_eq(rain_failures, 0);
    ck_assert_double_ge(peak, 1.08); /* past high_high of the 1.2 m pit */
    ck_assert_double_lt(peak, 1.2);
    char out[128];
    simstate_get(state, "sump-east", out, sizeof(out));
    ck_assert_str_eq(out, "level_m=0.45"); /* below 50% again */
    scn_free(s);
    simstate_free(state);
    sensorcfg_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_scenario");
    TCase *tc = tcase_create("scenario");
    tcase_add_test(tc, test_at_steps_run_in_time_order_once);
    tcase_add_test(tc, test_ramp_interpolates_every_100ms_and_ends_exactly);
    tcase_add_test(tc, test_speed_divides_all_times);
    tcase_add_test(tc, test_syntax_errors_report_every_line);
    tcase_add_test(tc, test_missing_file_is_an_error);
    tcase_add_test(tc, test_rain_scenario_loads);
    tcase_add_test(tc, test_rain_scenario_runs_against_demo_conf);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
