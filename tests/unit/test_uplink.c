/*
 * Unit tests of uplink.c: when the gateway raises and clears its own alarm
 * for an output (MQTT uplink, InfluxDB), with a fake clock.
 */
#include <check.h>
#include <string.h>

#include "check_run.h"
#include "uplink.h"

#define GRACE 120000
static struct uplink_watch w;
static char why[UPLINK_WHY_MAX];

static int due(int64_t now)
{
    return uplink_due(&w, now, GRACE, why, sizeof(why));
}

START_TEST(test_down_raises_only_after_the_grace)
{
    uplink_init(&w, false, 0, "not connected yet");
    ck_assert_int_eq(due(0), -1);
    ck_assert_int_eq(due(GRACE - 1), -1);
    ck_assert_int_eq(due(GRACE), 1);
    ck_assert_str_eq(why, "not working for 120 s: not connected yet");
    ck_assert_int_eq(due(GRACE + 1), -1); /* raised once */
}
END_TEST

START_TEST(test_working_within_the_grace_raises_nothing)
{
    uplink_init(&w, false, 0, "not connected yet");
    uplink_working(&w);
    ck_assert_int_eq(due(10 * GRACE), -1);
    /* A broker restart: down, back within the grace. */
    uplink_down(&w, 20 * GRACE, "connection lost");
    ck_assert_int_eq(due(21 * GRACE - 1), -1);
    uplink_working(&w);
    ck_assert_int_eq(due(30 * GRACE), -1);
}
END_TEST

START_TEST(test_failure_that_needs_fixing_raises_at_once)
{
    uplink_init(&w, false, 0, "not connected yet");
    uplink_failing(&w, 5, "password_file /x: No such file or directory");
    ck_assert_int_eq(due(5), 1);
    ck_assert_str_eq(why, "password_file /x: No such file or directory");
}
END_TEST

/* The problem going away is not enough: a client set up again has not
 * connected yet.  Only working clears. */
START_TEST(test_only_working_clears)
{
    uplink_init(&w, false, 0, "not connected yet");
    uplink_failing(&w, 0, "refused by the broker: not authorized");
    ck_assert_int_eq(due(0), 1);
    uplink_down(&w, 1000, "connecting");
    ck_assert_int_eq(due(10 * GRACE), -1);
    uplink_working(&w);
    ck_assert_int_eq(due(10 * GRACE), 0);
    ck_assert_int_eq(due(10 * GRACE), -1); /* cleared once */
}
END_TEST

START_TEST(test_a_failure_stays_one_until_working)
{
    uplink_init(&w, false, 0, "x");
    uplink_failing(&w, 0, "certificate unusable");
    uplink_down(&w, 10, "connect failed");
    ck_assert_int_eq(w.state, UPLINK_FAILING);
    ck_assert_int_eq(due(10), 1);
    ck_assert_str_eq(why, "certificate unusable");
}
END_TEST

START_TEST(test_down_keeps_the_time_it_began)
{
    uplink_init(&w, false, 0, "not connected yet");
    uplink_working(&w);
    uplink_down(&w, 1000, "connection lost");
    uplink_down(&w, 60000, "connect failed: Connection refused");
    ck_assert_int_eq(due(1000 + GRACE - 1), -1);
    ck_assert_int_eq(due(1000 + GRACE), 1);
    ck_assert_str_eq(why, "not working for 120 s: connect failed: Connection refused");
}
END_TEST

/* Raised by the last run: cleared when the output works now (the problem
 * was fixed across the restart), not raised a second time when it still
 * fails. */
START_TEST(test_restored_raise_is_cleared_when_working)
{
    uplink_init(&w, true, 0, "not connected yet");
    ck_assert_int_eq(due(0), -1);
    uplink_working(&w);
    ck_assert_int_eq(due(1), 0);
}
END_TEST

START_TEST(test_restored_raise_is_not_raised_again)
{
    uplink_init(&w, true, 0, "not connected yet");
    uplink_failing(&w, 0, "still no password file");
    ck_assert_int_eq(due(0), -1);
    ck_assert_int_eq(due(10 * GRACE), -1);
}
END_TEST

START_TEST(test_next_wakeup)
{
    uplink_init(&w, false, 0, "x");
    ck_assert_int_eq(uplink_next_ms(&w, 0, GRACE, 1000), 1000);          /* capped */
    ck_assert_int_eq(uplink_next_ms(&w, GRACE - 200, GRACE, 1000), 200); /* the grace ends */
    ck_assert_int_eq(uplink_next_ms(&w, GRACE + 5, GRACE, 1000), 0);
    uplink_failing(&w, 0, "x");
    ck_assert_int_eq(uplink_next_ms(&w, 0, GRACE, 1000), 0); /* due at once */
    ck_assert_int_eq(due(0), 1);
    ck_assert_int_eq(uplink_next_ms(&w, 0, GRACE, 1000), 1000); /* raised: waits */
    uplink_working(&w);
    ck_assert_int_eq(uplink_next_ms(&w, 0, GRACE, 1000), 0); /* the clear is due */
    ck_assert_int_eq(due(0), 0);
    ck_assert_int_eq(uplink_next_ms(&w, 0, GRACE, 1000), 1000);
}
END_TEST

static Suite *uplink_suite(void)
{
    Suite *s = suite_create("uplink");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_down_raises_only_after_the_grace);
    tcase_add_test(tc, test_working_within_the_grace_raises_nothing);
    tcase_add_test(tc, test_failure_that_needs_fixing_raises_at_once);
    tcase_add_test(tc, test_only_working_clears);
    tcase_add_test(tc, test_a_failure_stays_one_until_working);
    tcase_add_test(tc, test_down_keeps_the_time_it_began);
    tcase_add_test(tc, test_restored_raise_is_cleared_when_working);
    tcase_add_test(tc, test_restored_raise_is_not_raised_again);
    tcase_add_test(tc, test_next_wakeup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(uplink_suite());
}
