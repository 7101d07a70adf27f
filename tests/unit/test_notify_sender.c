/*
 * Unit tests of center/notify/sender.c: when a channel sends, alone or in
 * summaries, and how it backs off, with a fake clock.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check_run.h"
#include "sender.h"

static const struct sender_policy robot = {
    .rate_limit = 20,
    .rate_window_ms = 60000,
    .reserve = 5,
    .gather_ms = 5000,
    .backlog_ms = 120000,
};

static int pick[256];
static struct sender_plan plan;

static void next(struct sender *s, const struct sender_item *items, int n, int64_t now)
{
    memset(&plan, 0, sizeof(plan));
    plan.pick = pick;
    sender_next(s, items, n, now, &plan);
}

START_TEST(test_nothing_pending_waits_for_ever)
{
    struct sender *s = sender_new(&robot);
    next(s, NULL, 0, 1000);
    ck_assert_int_eq(plan.action, SENDER_WAIT);
    ck_assert_int_eq(plan.wake_ms, INT64_MAX);
    sender_free(s);
}
END_TEST

START_TEST(test_a_notice_goes_alone_at_once)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[2] = {{.created_ms = 1000}, {.created_ms = 900}};
    next(s, it, 2, 1000);
    ck_assert_int_eq(plan.action, SENDER_SINGLE);
    ck_assert_int_eq(plan.first, 0); /* the caller's order: most severe first */
    sender_free(s);
}
END_TEST

START_TEST(test_over_the_single_share_merges)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[3] = {{.created_ms = 0}, {.created_ms = 0}, {.created_ms = 0}};
    for (int i = 0; i < 15; i++)
        sender_started(s, i * 100);
    next(s, it, 3, 2000);
    ck_assert_int_eq(plan.action, SENDER_SUMMARY);
    ck_assert_int_eq(plan.why, NTEXT_SUM_RATE);
    ck_assert_int_eq(plan.npick, 3);
    /* One alone reads better than a summary of one. */
    next(s, it, 1, 2000);
    ck_assert_int_eq(plan.action, SENDER_SINGLE);
    sender_free(s);
}
END_TEST

START_TEST(test_full_window_waits_with_the_margin)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[1] = {{.created_ms = 0}};
    for (int i = 0; i < 20; i++)
        sender_started(s, 1000 + i);
    next(s, it, 1, 5000);
    ck_assert_int_eq(plan.action, SENDER_WAIT);
    ck_assert_int_eq(plan.wake_ms, 1000 + 60000 + SENDER_MARGIN_MS);
    sender_free(s);
}
END_TEST

START_TEST(test_summary_only_waits_for_company)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[2] = {{.summary_only = true, .why = NTEXT_SUM_FLOOD, .created_ms = 1000},
                                {.summary_only = true, .why = NTEXT_SUM_FLOOD, .created_ms = 3000}};
    next(s, it, 2, 2000);
    ck_assert_int_eq(plan.action, SENDER_WAIT);
    ck_assert_int_eq(plan.wake_ms, 6000);
    next(s, it, 2, 6000);
    ck_assert_int_eq(plan.action, SENDER_SUMMARY);
    ck_assert_int_eq(plan.why, NTEXT_SUM_FLOOD);
    ck_assert_int_eq(plan.npick, 2);
    sender_free(s);
}
END_TEST

START_TEST(test_singles_pass_gathering_summaries)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[2] = {{.summary_only = true, .created_ms = 1000}, {.created_ms = 1500}};
    next(s, it, 2, 2000);
    ck_assert_int_eq(plan.action, SENDER_SINGLE);
    ck_assert_int_eq(plan.first, 1);
    sender_free(s);
}
END_TEST

START_TEST(test_backlog_after_an_outage)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[3] = {{.created_ms = 0}, {.created_ms = 10}, {.created_ms = 200000}};
    next(s, it, 3, 200000);
    ck_assert_int_eq(plan.action, SENDER_SUMMARY);
    ck_assert_int_eq(plan.why, NTEXT_SUM_BACKLOG);
    ck_assert_int_eq(plan.npick, 3);
    sender_free(s);
}
END_TEST

START_TEST(test_answers_back_off)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[1] = {{.created_ms = 0}};
    sender_answer(s, SENDER_RETRY, 1000);
    ck_assert_int_eq(sender_blocked_until(s), 2000);
    sender_answer(s, SENDER_RETRY, 2000);
    ck_assert_int_eq(sender_blocked_until(s), 4000);
    next(s, it, 1, 3000);
    ck_assert_int_eq(plan.action, SENDER_WAIT);
    ck_assert_int_eq(plan.wake_ms, 4000);
    for (int i = 0; i < 10; i++)
        sender_answer(s, SENDER_RETRY, 10000);
    ck_assert_int_eq(sender_blocked_until(s), 70000); /* at most 60 s */
    sender_answer(s, SENDER_OK, 70000);
    ck_assert_int_eq(sender_blocked_until(s), 0);
    sender_answer(s, SENDER_RATE, 80000);
    ck_assert_int_eq(sender_blocked_until(s), 140000); /* a whole window */
    sender_answer(s, SENDER_REJECTED, 150000);
    ck_assert_int_eq(sender_blocked_until(s), 210000);
    sender_answer(s, SENDER_REJECTED, 210000);
    ck_assert_int_eq(sender_blocked_until(s), 330000);
    sender_free(s);
}
END_TEST

START_TEST(test_refused_notice_stays_out_of_summaries)
{
    struct sender *s = sender_new(&robot);
    struct sender_item it[3] = {{.summary_only = true, .created_ms = 0},
                                {.summary_only = true, .created_ms = 0},
                                {.summary_only = true, .created_ms = 0, .refusals = 2}};
    next(s, it, 3, 10000);
    ck_assert_int_eq(plan.action, SENDER_SUMMARY);
    ck_assert_int_eq(plan.npick, 2);
    next(s, it + 2, 1, 10000);
    ck_assert_int_eq(plan.action, SENDER_SINGLE);
    sender_free(s);
}
END_TEST

/* 40 alarms in a minute to a 20/min robot, the last 30 of them in a flood:
 * requests never exceed 20 in a window, and every notice goes in exactly one
 * request.  Each request takes 300 ms; a summary holds at most 25 notices. */
START_TEST(test_forty_in_a_minute_to_a_twenty_per_minute_robot)
{
    struct sender *s = sender_new(&robot);
    struct sender_item pending[64];
    int id[64], npending = 0, delivered[40] = {0}, nreq = 0;
    int64_t starts[100], busy_until = 0;

    for (int64_t now = 0; now < 300000; now += 100) {
        if (now % 1500 == 0 && now / 1500 < 40) {
            int k = (int)(now / 1500);
            pending[npending] = (struct sender_item){
                .summary_only = k >= 10, .why = NTEXT_SUM_FLOOD, .created_ms = now};
            id[npending++] = k;
        }
        if (now < busy_until)
            continue;
        next(s, pending, npending, now);
        if (plan.action == SENDER_WAIT)
            continue;
        int take[64], ntake = 0;
        if (plan.action == SENDER_SINGLE)
            take[ntake++] = plan.first;
        else
            for (int i = 0; i < plan.npick && i < 25; i++)
                take[ntake++] = plan.pick[i];
        ck_assert_int_gt(ntake, 0);
        sender_started(s, now);
        starts[nreq++] = now;
        busy_until = now + 300;
        sender_answer(s, SENDER_OK, now + 300);
        for (int i = 0; i < ntake; i++)
            delivered[id[take[i]]]++;
        /* drop the taken ones */
        bool gone[64] = {false};
        int k = 0;
        for (int i = 0; i < ntake; i++)
            gone[take[i]] = true;
        for (int i = 0; i < npending; i++)
            if (!gone[i]) {
                pending[k] = pending[i];
                id[k++] = id[i];
            }
        npending = k;
    }
    ck_assert_int_eq(npending, 0);
    for (int k = 0; k < 40; k++)
        ck_assert_int_eq(delivered[k], 1);
    for (int i = 20; i < nreq; i++)
        ck_assert_int_ge(starts[i] - starts[i - 20], 60000);
    ck_assert_int_le(nreq, 30);
    sender_free(s);
}
END_TEST

START_TEST(test_bad_policies)
{
    struct sender_policy p = robot;
    p.reserve = 20;
    ck_assert_ptr_null(sender_new(&p));
    p = robot;
    p.rate_limit = -1;
    ck_assert_ptr_null(sender_new(&p));
    p = robot;
    p.rate_limit = 0; /* a webhook: no limit */
    struct sender *s = sender_new(&p);
    ck_assert_ptr_nonnull(s);
    struct sender_item it[1] = {{.created_ms = 0}};
    for (int i = 0; i < 1000; i++)
        sender_started(s, 0);
    next(s, it, 1, 0);
    ck_assert_int_eq(plan.action, SENDER_SINGLE);
    sender_free(s);
    sender_free(NULL);
}
END_TEST

static Suite *sender_suite(void)
{
    Suite *s = suite_create("notify_sender");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_nothing_pending_waits_for_ever);
    tcase_add_test(tc, test_a_notice_goes_alone_at_once);
    tcase_add_test(tc, test_over_the_single_share_merges);
    tcase_add_test(tc, test_full_window_waits_with_the_margin);
    tcase_add_test(tc, test_summary_only_waits_for_company);
    tcase_add_test(tc, test_singles_pass_gathering_summaries);
    tcase_add_test(tc, test_backlog_after_an_outage);
    tcase_add_test(tc, test_answers_back_off);
    tcase_add_test(tc, test_refused_notice_stays_out_of_summaries);
    tcase_add_test(tc, test_forty_in_a_minute_to_a_twenty_per_minute_robot);
    tcase_add_test(tc, test_bad_policies);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(sender_suite());
}
