/*
 * Unit tests of center/notify/rate.c: the sliding window behind the
 * channels' rate limits and the routes' flood detection, with a fake clock.
 */
#include <check.h>

#include "check_run.h"
#include "rate.h"

START_TEST(test_counts_only_the_window)
{
    struct rate *r = rate_new(3, 1000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(rate_count(r, 0), 0);
    rate_add(r, 0);
    rate_add(r, 100);
    ck_assert_int_eq(rate_count(r, 100), 2);
    ck_assert_int_eq(rate_count(r, 999), 2);
    ck_assert_int_eq(rate_count(r, 1000), 1); /* (0, 1000]: the event at 0 left */
    ck_assert_int_eq(rate_count(r, 1100), 0);
    rate_free(r);
}
END_TEST

START_TEST(test_next_free_waits_for_the_oldest_to_leave)
{
    struct rate *r = rate_new(2, 60000);
    rate_add(r, 1000);
    ck_assert_int_eq(rate_next_free(r, 1000), 1000);
    rate_add(r, 2000);
    ck_assert_int_eq(rate_next_free(r, 2000), 61000);
    ck_assert_int_eq(rate_next_free(r, 60999), 61000);
    ck_assert_int_eq(rate_next_free(r, 61000), 61000);
    rate_add(r, 61000);
    ck_assert_int_eq(rate_next_free(r, 61000), 62000);
    rate_free(r);
}
END_TEST

/* Never more than limit in any window, whatever the caller does, as long as
 * it asks next_free first. */
START_TEST(test_limit_holds_over_a_long_run)
{
    struct rate *r = rate_new(20, 60000);
    int64_t sent[400];
    int n = 0;
    for (int64_t now = 0; now < 600000 && n < 400; now += 250) {
        if (rate_next_free(r, now) <= now) {
            rate_add(r, now);
            sent[n++] = now;
        }
    }
    ck_assert_int_ge(n, 190);
    for (int i = 20; i < n; i++)
        ck_assert_int_ge(sent[i] - sent[i - 20], 60000);
    rate_free(r);
}
END_TEST

START_TEST(test_flood_counts_one_over_the_limit)
{
    struct rate *r = rate_new(10, 600000);
    for (int i = 0; i < 10; i++)
        rate_add(r, i * 1000);
    ck_assert_int_eq(rate_count(r, 10000), 10);
    rate_add(r, 11000);
    ck_assert_int_eq(rate_count(r, 11000), 11); /* more than 10 in 10 min: a flood */
    rate_add(r, 12000);
    ck_assert_int_eq(rate_count(r, 12000), 11);        /* counts up to limit + 1 */
    ck_assert_int_eq(rate_count(r, 600000 + 2000), 9); /* 3000..9000, 11000, 12000 */
    rate_free(r);
}
END_TEST

/* A clock step back never opens the window early, and keeps it shut for at
 * most one window after the step. */
START_TEST(test_clock_step_back)
{
    struct rate *r = rate_new(2, 60000);
    rate_add(r, 1000000);
    rate_add(r, 1000001);
    ck_assert_int_eq(rate_count(r, 5000), 2); /* the clock went back ~1000 s */
    ck_assert_int_eq(rate_next_free(r, 5000), 65000);
    ck_assert_int_eq(rate_count(r, 65000), 0);
    rate_free(r);
}
END_TEST

START_TEST(test_bad_arguments)
{
    ck_assert_ptr_null(rate_new(0, 1000));
    ck_assert_ptr_null(rate_new(1, 0));
    rate_free(NULL);
}
END_TEST

static Suite *rate_suite(void)
{
    Suite *s = suite_create("notify_rate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counts_only_the_window);
    tcase_add_test(tc, test_next_free_waits_for_the_oldest_to_leave);
    tcase_add_test(tc, test_limit_holds_over_a_long_run);
    tcase_add_test(tc, test_flood_counts_one_over_the_limit);
    tcase_add_test(tc, test_clock_step_back);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(rate_suite());
}
