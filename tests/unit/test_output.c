/*
 * Unit tests of output.c, the pure core of the warning outputs: which
 * outputs are on from the alarm state and a fake clock.  The alarm engine is
 * a table of statuses the test sets (the core only asks for them).
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_run.h"
#include "output.h"

#define NS 3 /* sensors of the fake engine; alarm: ALARM_LEAK for all */
static enum alarm_status st[NS];

static enum alarm_status lookup(void *ctx, int sensor, enum alarm_id alarm)
{
    (void)ctx;
    ck_assert_int_eq(alarm, ALARM_LEAK);
    ck_assert(sensor >= 0 && sensor < NS);
    return st[sensor];
}

static const struct output_src srcs[NS] = {
    {0, ALARM_LEAK, "leak-a"}, {1, ALARM_LEAK, "leak-b"}, {2, ALARM_LEAK, "leak-c"}};

static struct output_set *one(enum output_until until, int64_t min_on_ms)
{
    struct output_spec spec = {"siren", until, min_on_ms, srcs, NS};
    memset(st, 0, sizeof(st));
    struct output_set *os = output_set_new(&spec, 1);
    ck_assert_ptr_nonnull(os);
    return os;
}

static bool on_at(struct output_set *os, int64_t now)
{
    output_eval(os, lookup, NULL, now);
    return output_state(os, 0)->on;
}

/* ---- every combination of statuses ------------------------------------------ */

/* 4^3 combinations of three sources' statuses, both untils: on exactly when
 * a source holds it, and a source holds it as the contract says. */
START_TEST(test_every_status_combination_for_both_untils)
{
    for (int u = 0; u < 2; u++) {
        enum output_until until = u ? OUTPUT_UNTIL_ACKED : OUTPUT_UNTIL_CLEARED;
        for (int combo = 0; combo < 64; combo++) {
            struct output_set *os = one(until, 0);
            bool want = false;
            for (int s = 0; s < NS; s++) {
                st[s] = (enum alarm_status)((combo >> (2 * s)) & 3);
                bool holds = until == OUTPUT_UNTIL_CLEARED
                                 ? st[s] != ALARM_ST_INACTIVE
                                 : st[s] == ALARM_ST_ACTIVE || st[s] == ALARM_ST_LATCHED;
                want |= holds;
            }
            ck_assert_msg(on_at(os, 1000) == want, "until %d combo %d", u, combo);
            for (int s = 0; s < NS; s++) {
                bool holds = until == OUTPUT_UNTIL_CLEARED
                                 ? st[s] != ALARM_ST_INACTIVE
                                 : st[s] == ALARM_ST_ACTIVE || st[s] == ALARM_ST_LATCHED;
                ck_assert_int_eq(output_src_holds(os, 0, s), holds);
            }
            ck_assert_int_eq(output_state(os, 0)->demand, want);
            ck_assert(!output_state(os, 0)->silenced && !output_state(os, 0)->test);
            output_set_free(os);
        }
    }
}
END_TEST

/* ---- until = acked: a siren ----------------------------------------------------- */

START_TEST(test_siren_quiet_once_every_alarm_is_acked_and_sounds_on_a_new_one)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 0);
    ck_assert(!on_at(os, 0));
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 100));
    ck_assert_int_eq(output_state(os, 0)->since_ms, 100);
    st[1] = ALARM_ST_ACTIVE;
    st[0] = ALARM_ST_ACKED;
    ck_assert(on_at(os, 200)); /* b still unacknowledged */
    ck_assert_int_eq(output_state(os, 0)->since_ms, 100);
    st[1] = ALARM_ST_ACKED;
    ck_assert(!on_at(os, 300)); /* every one acknowledged */
    ck_assert_int_eq(output_state(os, 0)->since_ms, 300);
    st[2] = ALARM_ST_ACTIVE; /* a new alarm */
    ck_assert(on_at(os, 400));
    st[2] = ALARM_ST_ACKED;
    ck_assert(!on_at(os, 500));
    st[0] = ALARM_ST_INACTIVE; /* a clears, and is raised again: new */
    ck_assert(!on_at(os, 600));
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 700));
    output_set_free(os);
}
END_TEST

/* A latched alarm (smoke fire) is published raised until acknowledged. */
START_TEST(test_a_latched_alarm_holds_a_siren_until_acknowledged)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 0);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    st[0] = ALARM_ST_LATCHED; /* the smoke went */
    ck_assert(on_at(os, 10));
    st[0] = ALARM_ST_INACTIVE; /* the acknowledgement ends it */
    ck_assert(!on_at(os, 20));
    output_set_free(os);
}
END_TEST

/* ---- until = cleared: a sign, a pump ------------------------------------------------- */

START_TEST(test_sign_stays_on_when_acknowledged_until_cleared)
{
    struct output_set *os = one(OUTPUT_UNTIL_CLEARED, 0);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    st[0] = ALARM_ST_ACKED;
    ck_assert(on_at(os, 10));
    st[0] = ALARM_ST_INACTIVE;
    ck_assert(!on_at(os, 20));
    output_set_free(os);
}
END_TEST

/* ---- min_on ------------------------------------------------------------------------- */

START_TEST(test_min_on_is_kept_after_the_alarm_goes)
{
    struct output_set *os = one(OUTPUT_UNTIL_CLEARED, 30000);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 1000));
    st[0] = ALARM_ST_INACTIVE;
    ck_assert(on_at(os, 2000));
    ck_assert(output_state(os, 0)->min_on && !output_state(os, 0)->demand);
    ck_assert_int_eq(output_next_ms(os, 2000, 60000), 29000);
    ck_assert(on_at(os, 30999));
    ck_assert(!on_at(os, 31000));
    ck_assert(!output_state(os, 0)->min_on);
    ck_assert_int_eq(output_next_ms(os, 31000, 60000), 60000);
    output_set_free(os);
}
END_TEST

/* Held by its alarm longer than min_on: off when the alarm goes. */
START_TEST(test_min_on_counts_from_when_an_alarm_set_it)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 5000);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    ck_assert(on_at(os, 60000));
    st[0] = ALARM_ST_ACKED;
    ck_assert(!on_at(os, 60001));
    /* A new alarm sets it again: min_on again from then. */
    st[1] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 70000));
    st[1] = ALARM_ST_ACKED;
    ck_assert(on_at(os, 70001));
    ck_assert(on_at(os, 74999));
    ck_assert(!on_at(os, 75000));
    output_set_free(os);
}
END_TEST

/* ---- silence --------------------------------------------------------------------------- */

START_TEST(test_silence_turns_a_siren_off_until_a_new_alarm)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 30000);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    ck_assert_int_eq(output_silence(os, 0, "物业王经理", lookup, NULL, 1000), 0);
    const struct output_state *s = output_state(os, 0);
    ck_assert(!s->on && s->silenced && !s->demand && !s->min_on); /* min_on too */
    ck_assert_str_eq(s->silenced_by, "物业王经理");
    ck_assert(!output_src_holds(os, 0, 0)); /* not in the reason */
    ck_assert(!on_at(os, 5000));
    st[0] = ALARM_ST_ACKED; /* acknowledged later: still quiet */
    ck_assert(!on_at(os, 6000));
    st[1] = ALARM_ST_ACTIVE; /* a new alarm sounds it */
    ck_assert(on_at(os, 7000));
    ck_assert(output_src_holds(os, 0, 1) && !output_src_holds(os, 0, 0));
    output_set_free(os);
}
END_TEST

START_TEST(test_a_silenced_alarm_raised_again_sounds)
{
    struct output_set *os = one(OUTPUT_UNTIL_CLEARED, 0);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    ck_assert_int_eq(output_silence(os, 0, "x", lookup, NULL, 10), 0);
    ck_assert(!on_at(os, 20));
    st[0] = ALARM_ST_ACKED; /* no new raise: quiet */
    ck_assert(!on_at(os, 30));
    st[0] = ALARM_ST_INACTIVE;
    ck_assert(!on_at(os, 40));
    ck_assert(!output_state(os, 0)->silenced);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 50));
    output_set_free(os);
}
END_TEST

START_TEST(test_silence_of_a_quiet_output_is_refused)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 0);
    ck_assert(!on_at(os, 0));
    errno = 0;
    ck_assert_int_eq(output_silence(os, 0, "x", lookup, NULL, 10), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_str_eq(output_state(os, 0)->silenced_by, "");
    errno = 0;
    ck_assert_int_eq(output_silence(os, 1, "x", lookup, NULL, 10), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* Silenced already: ok again. */
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 20));
    ck_assert_int_eq(output_silence(os, 0, "x", lookup, NULL, 30), 0);
    ck_assert_int_eq(output_silence(os, 0, "y", lookup, NULL, 40), 0);
    ck_assert_str_eq(output_state(os, 0)->silenced_by, "y");
    output_set_free(os);
}
END_TEST

/* ---- test pulse ----------------------------------------------------------------------- */

START_TEST(test_test_pulse_is_five_seconds_then_back)
{
    struct output_spec spec[2] = {{"siren", OUTPUT_UNTIL_ACKED, 30000, srcs, 1},
                                  {"pump", OUTPUT_UNTIL_CLEARED, 0, srcs + 1, 1}};
    memset(st, 0, sizeof(st));
    struct output_set *os = output_set_new(spec, 2);
    st[1] = ALARM_ST_ACTIVE; /* the pump runs for its alarm */
    output_eval(os, lookup, NULL, 0);
    ck_assert(!output_state(os, 0)->on && output_state(os, 1)->on);
    output_test(os, lookup, NULL, 1000);
    ck_assert(output_state(os, 0)->on && output_state(os, 0)->test);
    ck_assert(output_state(os, 1)->on && output_state(os, 1)->test);
    ck_assert_int_eq(output_next_ms(os, 1000, 60000), OUTPUT_TEST_MS);
    output_eval(os, lookup, NULL, 1000 + OUTPUT_TEST_MS - 1);
    ck_assert(output_state(os, 0)->on);
    output_eval(os, lookup, NULL, 1000 + OUTPUT_TEST_MS);
    ck_assert(!output_state(os, 0)->on && !output_state(os, 0)->test); /* no min_on for a test */
    ck_assert(output_state(os, 1)->on && !output_state(os, 1)->test);  /* its alarm holds it */
    /* A silence ends a pulse. */
    output_test(os, lookup, NULL, 20000);
    ck_assert_int_eq(output_silence(os, 0, "x", lookup, NULL, 21000), 0);
    ck_assert(!output_state(os, 0)->on);
    output_set_free(os);
}
END_TEST

/* ---- reload ------------------------------------------------------------------------------ */

START_TEST(test_reload_carries_state_and_silences_by_name)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 30000);
    st[0] = st[1] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    ck_assert_int_eq(output_silence(os, 0, "x", lookup, NULL, 100), 0);
    /* The new configuration: the sensors in another order, a new output. */
    const struct output_src moved[2] = {{0, ALARM_LEAK, "leak-b"}, {1, ALARM_LEAK, "leak-a"}};
    struct output_spec spec[2] = {{"sign", OUTPUT_UNTIL_CLEARED, 0, moved, 1},
                                  {"siren", OUTPUT_UNTIL_ACKED, 30000, moved, 2}};
    struct output_set *ns = output_set_new(spec, 2);
    output_set_carry(ns, os);
    output_set_free(os);
    ck_assert_int_eq(output_eval(ns, lookup, NULL, 200), 1); /* only the new one "changes" */
    ck_assert(!output_state(ns, 1)->on && output_state(ns, 1)->silenced); /* still silenced */
    ck_assert_int_eq(output_state(ns, 1)->since_ms, 100);
    ck_assert(output_state(ns, 0)->on);
    output_set_free(ns);
}
END_TEST

START_TEST(test_reload_keeps_a_running_min_on)
{
    struct output_set *os = one(OUTPUT_UNTIL_CLEARED, 10000);
    st[0] = ALARM_ST_ACTIVE;
    ck_assert(on_at(os, 0));
    st[0] = ALARM_ST_INACTIVE;
    ck_assert(on_at(os, 1000));
    struct output_spec spec = {"siren", OUTPUT_UNTIL_CLEARED, 10000, srcs, NS};
    struct output_set *ns = output_set_new(&spec, 1);
    output_set_carry(ns, os);
    output_set_free(os);
    ck_assert(on_at(ns, 9999));
    ck_assert(!on_at(ns, 10000));
    output_set_free(ns);
}
END_TEST

/* ---- the set -------------------------------------------------------------------------------- */

START_TEST(test_first_evaluation_is_a_change_even_when_off)
{
    struct output_set *os = one(OUTPUT_UNTIL_ACKED, 0);
    ck_assert_int_eq(output_state(os, 0)->since_ms, 0);
    ck_assert_int_eq(output_eval(os, lookup, NULL, 0), 1); /* written at start: off */
    ck_assert_int_eq(output_eval(os, lookup, NULL, 10), 0);
    ck_assert_ptr_null(output_state(os, 1));
    ck_assert_ptr_null(output_state(os, -1));
    output_set_free(os);
}
END_TEST

START_TEST(test_bad_specs_are_refused)
{
    struct output_spec ok = {"a", OUTPUT_UNTIL_ACKED, 0, srcs, 1};
    struct output_spec bad[] = {
        {NULL, OUTPUT_UNTIL_ACKED, 0, srcs, 1},  {"", OUTPUT_UNTIL_ACKED, 0, srcs, 1},
        {"a", (enum output_until)7, 0, srcs, 1}, {"a", OUTPUT_UNTIL_ACKED, -1, srcs, 1},
        {"a", OUTPUT_UNTIL_ACKED, 0, NULL, 1},   {"a", OUTPUT_UNTIL_ACKED, 0, srcs, -1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        ck_assert_ptr_null(output_set_new(&bad[i], 1));
        ck_assert_int_eq(errno, EINVAL);
    }
    struct output_spec twice[2] = {ok, ok};
    ck_assert_ptr_null(output_set_new(twice, 2));
    struct output_set *none = output_set_new(NULL, 0);
    ck_assert_ptr_nonnull(none);
    ck_assert_int_eq(output_count(none), 0);
    ck_assert_int_eq(output_eval(none, lookup, NULL, 0), 0);
    output_set_free(none);
    output_set_free(NULL);
}
END_TEST

static Suite *output_suite(void)
{
    Suite *s = suite_create("output");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_status_combination_for_both_untils);
    tcase_add_test(tc, test_siren_quiet_once_every_alarm_is_acked_and_sounds_on_a_new_one);
    tcase_add_test(tc, test_a_latched_alarm_holds_a_siren_until_acknowledged);
    tcase_add_test(tc, test_sign_stays_on_when_acknowledged_until_cleared);
    tcase_add_test(tc, test_min_on_is_kept_after_the_alarm_goes);
    tcase_add_test(tc, test_min_on_counts_from_when_an_alarm_set_it);
    tcase_add_test(tc, test_silence_turns_a_siren_off_until_a_new_alarm);
    tcase_add_test(tc, test_a_silenced_alarm_raised_again_sounds);
    tcase_add_test(tc, test_silence_of_a_quiet_output_is_refused);
    tcase_add_test(tc, test_test_pulse_is_five_seconds_then_back);
    tcase_add_test(tc, test_reload_carries_state_and_silences_by_name);
    tcase_add_test(tc, test_reload_keeps_a_running_min_on);
    tcase_add_test(tc, test_first_evaluation_is_a_change_even_when_off);
    tcase_add_test(tc, test_bad_specs_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(output_suite());
}
