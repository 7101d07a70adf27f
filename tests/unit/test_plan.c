/* Unit tests: the coalescing plan (requests per poll cycle) and the result queue. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check_run.h"
#include "plan.h"
#include "rqueue.h"

static struct plan_need need(int sensor, int bus, int unit, enum mb_fn fn, int start, int count,
                             int interval)
{
    return (struct plan_need){.sensor = sensor,
                              .bus = bus,
                              .unit = unit,
                              .fn = fn,
                              .start = (uint16_t)start,
                              .count = (uint16_t)count,
                              .interval_ms = interval};
}

START_TEST(test_di8_shared_by_four_sensors_is_one_fc02_read)
{
    /* Two doors, a smoke relay and a leak contact on one DI module. */
    /* clang-format off */
    struct plan_need n[] = {need(0, 0, 5, MB_FN_DISCRETE, 0, 8, 1000),
                            need(1, 0, 5, MB_FN_DISCRETE, 0, 8, 1000),
                            need(2, 0, 5, MB_FN_DISCRETE, 0, 8, 500),
                            need(3, 0, 5, MB_FN_DISCRETE, 0, 8, 2000)};
    /* clang-format on */
    struct plan *p = plan_build(n, 4);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->nrequests, 1);
    ck_assert_int_eq(p->requests[0].fn, MB_FN_DISCRETE);
    ck_assert_int_eq(p->requests[0].start, 0);
    ck_assert_int_eq(p->requests[0].count, 8);
    ck_assert_int_eq(p->requests[0].nmembers, 4);
    ck_assert_int_eq(p->requests[0].interval_ms, 500); /* the shortest member interval */
    plan_free(p);
}
END_TEST

START_TEST(test_different_units_functions_and_buses_are_separate_requests)
{
    /* clang-format off */
    struct plan_need n[] = {need(0, 0, 1, MB_FN_HOLDING, 2, 3, 1000),
                            need(1, 0, 2, MB_FN_HOLDING, 2, 3, 1000),
                            need(2, 0, 1, MB_FN_INPUT, 2, 3, 1000),
                            need(3, 1, 1, MB_FN_HOLDING, 2, 3, 1000)};
    /* clang-format on */
    struct plan *p = plan_build(n, 4);
    ck_assert_int_eq(p->nrequests, 4);
    ck_assert_int_eq(plan_bus_requests(p, 0), 3);
    ck_assert_int_eq(plan_bus_requests(p, 1), 1);
    plan_free(p);
}
END_TEST

START_TEST(test_close_spans_merge_and_far_spans_do_not)
{
    /* 0..3 and 8..9: gap of 4 <= 8, merged to 0..9.  100..101: gap 90, separate. */
    struct plan_need n[] = {need(0, 0, 1, MB_FN_HOLDING, 0, 4, 1000),
                            need(1, 0, 1, MB_FN_HOLDING, 8, 2, 1000),
                            need(2, 0, 1, MB_FN_HOLDING, 100, 2, 1000)};
    struct plan *p = plan_build(n, 3);
    ck_assert_int_eq(p->nrequests, 2);
    ck_assert_int_eq(p->requests[0].start, 0);
    ck_assert_int_eq(p->requests[0].count, 10);
    ck_assert_int_eq(p->requests[0].nmembers, 2);
    ck_assert_int_eq(p->requests[1].start, 100);
    plan_free(p);
}
END_TEST

START_TEST(test_gap_edge_exactly_max_gap_merges)
{
    struct plan_need n[] = {need(0, 0, 1, MB_FN_HOLDING, 0, 2, 1000),
                            need(1, 0, 1, MB_FN_HOLDING, 2 + PLAN_MAX_GAP_REGS, 1, 1000),
                            need(2, 0, 1, MB_FN_HOLDING, 100, 1, 1000),
                            need(3, 0, 1, MB_FN_HOLDING, 101 + PLAN_MAX_GAP_REGS + 1, 1, 1000)};
    struct plan *p = plan_build(n, 4);
    ck_assert_int_eq(p->nrequests, 3);
    plan_free(p);
}
END_TEST

START_TEST(test_merge_respects_125_register_limit)
{
    struct plan_need n[] = {need(0, 0, 1, MB_FN_HOLDING, 0, 100, 1000),
                            need(1, 0, 1, MB_FN_HOLDING, 100, 25, 1000),
                            need(2, 0, 1, MB_FN_HOLDING, 125, 1, 1000)};
    struct plan *p = plan_build(n, 3);
    ck_assert_int_eq(p->nrequests, 2);
    ck_assert_int_eq(p->requests[0].count, 125);
    ck_assert_int_eq(p->requests[1].start, 125);
    plan_free(p);
}
END_TEST

START_TEST(test_merge_respects_2000_bit_limit)
{
    struct plan_need n[] = {need(0, 0, 1, MB_FN_COILS, 0, 1990, 1000),
                            need(1, 0, 1, MB_FN_COILS, 1990, 20, 1000)};
    struct plan *p = plan_build(n, 2);
    ck_assert_int_eq(p->nrequests, 2);
    plan_free(p);
}
END_TEST

START_TEST(test_oversized_need_is_rejected)
{
    struct plan_need n[] = {need(0, 0, 1, MB_FN_HOLDING, 0, 126, 1000)};
    ck_assert_ptr_null(plan_build(n, 1));
}
END_TEST

START_TEST(test_overlapping_spans_share_a_request)
{
    struct plan_need n[] = {need(0, 0, 1, MB_FN_INPUT, 0, 4, 1000),
                            need(1, 0, 1, MB_FN_INPUT, 0, 4, 1000)};
    struct plan *p = plan_build(n, 2);
    ck_assert_int_eq(p->nrequests, 1);
    ck_assert_int_eq(p->requests[0].count, 4);
    plan_free(p);
}
END_TEST

START_TEST(test_queue_is_fifo_and_eventfd_tracks_emptiness)
{
    struct rqueue *q = rqueue_new(4);
    struct poll_result r = {0}, out;
    atomic_int stop = 0;
    uint64_t v;

    for (int i = 0; i < 3; i++) {
        r.request = i;
        ck_assert_int_eq(rqueue_push(q, &r, &stop), 0);
    }
    ck_assert_int_eq(rqueue_depth(q), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rqueue_pop(q, &out), 1);
        ck_assert_int_eq(out.request, i);
    }
    ck_assert_int_eq(rqueue_pop(q, &out), 0);
    ck_assert_int_eq(read(rqueue_fd(q), &v, sizeof(v)), -1); /* drained: not readable */
    rqueue_free(q);
}
END_TEST

static void *pop_later(void *arg)
{
    struct rqueue *q = arg;
    struct poll_result out;
    usleep(200 * 1000);
    rqueue_pop(q, &out);
    return NULL;
}

START_TEST(test_full_queue_blocks_producer_until_room_not_drops)
{
    struct rqueue *q = rqueue_new(1);
    struct poll_result r = {.request = 7}, out;
    atomic_int stop = 0;
    pthread_t t;

    ck_assert_int_eq(rqueue_push(q, &r, &stop), 0);
    pthread_create(&t, NULL, pop_later, q);
    r.request = 8;
    ck_assert_int_eq(rqueue_push(q, &r, &stop), 0); /* waits for the pop */
    pthread_join(t, NULL);
    ck_assert_int_eq(rqueue_pop(q, &out), 1);
    ck_assert_int_eq(out.request, 8);
    rqueue_free(q);
}
END_TEST

START_TEST(test_full_queue_push_returns_on_stop)
{
    struct rqueue *q = rqueue_new(1);
    struct poll_result r = {0};
    atomic_int stop = 0;

    ck_assert_int_eq(rqueue_push(q, &r, &stop), 0);
    atomic_store(&stop, 1);
    ck_assert_int_eq(rqueue_push(q, &r, &stop), -1);
    rqueue_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_di8_shared_by_four_sensors_is_one_fc02_read);
    tcase_add_test(tc, test_different_units_functions_and_buses_are_separate_requests);
    tcase_add_test(tc, test_close_spans_merge_and_far_spans_do_not);
    tcase_add_test(tc, test_gap_edge_exactly_max_gap_merges);
    tcase_add_test(tc, test_merge_respects_125_register_limit);
    tcase_add_test(tc, test_merge_respects_2000_bit_limit);
    tcase_add_test(tc, test_oversized_need_is_rejected);
    tcase_add_test(tc, test_overlapping_spans_share_a_request);
    tcase_add_test(tc, test_queue_is_fifo_and_eventfd_tracks_emptiness);
    tcase_add_test(tc, test_full_queue_blocks_producer_until_room_not_drops);
    tcase_add_test(tc, test_full_queue_push_returns_on_stop);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
