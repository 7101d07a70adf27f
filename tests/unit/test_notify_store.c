/*
 * Unit tests of center/notify/store.c: shelter-notify's durable state on a
 * real SQLite file in a temp directory.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "store.h"

static char dir[] = "/tmp/notify-store-XXXXXX";
static char err[512];

static void setup(void)
{
    strcpy(dir, "/tmp/notify-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct store *open_store(bool *fresh)
{
    struct store *s = store_open(dir, fresh, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

START_TEST(test_fresh_then_reopened)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    int64_t v = 0;
    ck_assert(fresh);
    ck_assert_int_eq(store_begin(s), 0);
    ck_assert_int_eq(store_meta_set(s, "first_start_done", 1), 0);
    ck_assert_int_eq(store_commit(s), 0);
    store_close(s);
    s = open_store(&fresh);
    ck_assert(!fresh);
    ck_assert_int_eq(store_meta_get(s, "first_start_done", &v), 1);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(store_meta_get(s, "nothing", &v), 0);
    store_close(s);
}
END_TEST

START_TEST(test_rollback_leaves_nothing)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    ck_assert_int_eq(store_begin(s), 0);
    ck_assert_int_eq(store_seen_add(s, "b", 7, STORE_SEEN_HANDLED, 1), 0);
    store_rollback(s);
    ck_assert_int_eq(store_seen_get(s, "b", 7), 0);
    store_close(s);
}
END_TEST

START_TEST(test_seen_flags_add_up)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    ck_assert_int_eq(store_seen_get(s, "b", 7), 0);
    ck_assert_int_eq(store_seen_add(s, "b", 7, STORE_SEEN_TRACKED, 100), 0);
    ck_assert_int_eq(store_seen_get(s, "b", 7), STORE_SEEN_TRACKED);
    ck_assert_int_eq(store_seen_add(s, "b", 7, STORE_SEEN_HANDLED, 200), 0);
    ck_assert_int_eq(store_seen_get(s, "b", 7), STORE_SEEN_TRACKED | STORE_SEEN_HANDLED);
    ck_assert_int_eq(store_seen_get(s, "c", 7), 0); /* per gateway */
    ck_assert_int_eq(store_seen_prune(s, 150), 1);  /* kept its first time */
    ck_assert_int_eq(store_seen_get(s, "b", 7), 0);
    store_close(s);
}
END_TEST

static struct store_alarm an_alarm(uint64_t seq, const char *event, bool active)
{
    return (struct store_alarm){.topic = "p/a/b/c/d/e/g/alarm/s/leak",
                                .base = "p/a/b/c/d/e/g",
                                .event = (char *)event,
                                .seq = seq,
                                .active = active,
                                .sev = 0,
                                .ts_ms = (int64_t)seq * 1000,
                                .payload = "{}",
                                .len = 2};
}

START_TEST(test_alarm_state_keeps_the_newest)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    struct store_alarm a = an_alarm(5, "raised", true), got;
    ck_assert_int_eq(store_alarm_put(s, &a), 1);
    a = an_alarm(4, "cleared", false); /* an old copy arriving late */
    ck_assert_int_eq(store_alarm_put(s, &a), 0);
    a = an_alarm(5, "raised", true); /* a duplicate */
    ck_assert_int_eq(store_alarm_put(s, &a), 0);
    ck_assert_int_eq(store_alarm_get(s, a.topic, &got), 1);
    ck_assert_int_eq(got.seq, 5);
    ck_assert(got.active);
    store_alarm_release(&got);
    a = an_alarm(6, "acknowledged", true);
    a.acked = true;
    ck_assert_int_eq(store_alarm_put(s, &a), 1);
    ck_assert_int_eq(store_alarm_get(s, a.topic, &got), 1);
    ck_assert_str_eq(got.event, "acknowledged");
    ck_assert(got.acked);
    store_alarm_release(&got);
    ck_assert_int_eq(store_alarm_get(s, "nope", &got), 0);
    store_close(s);
}
END_TEST

static int count_cb(const struct store_alarm *a, void *ctx)
{
    (void)a;
    (*(int *)ctx)++;
    return 0;
}

START_TEST(test_active_alarms_listed)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    struct store_alarm a = an_alarm(5, "raised", true);
    int n = 0;
    store_alarm_put(s, &a);
    a.topic = "p/a/b/c/d/e/g/alarm/s/other";
    a.active = false;
    store_alarm_put(s, &a);
    ck_assert_int_eq(store_alarm_each_active(s, count_cb, &n), 0);
    ck_assert_int_eq(n, 1);
    store_close(s);
}
END_TEST

START_TEST(test_timers_survive_a_reopen)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    struct store_timer t = {.kind = STORE_TIMER_ESCALATE,
                            .due_ms = 5000,
                            .key = "topic",
                            .seq = 7,
                            .route = "wanke",
                            .step = 1,
                            .since_ms = 1000};
    struct store_timer due[4];
    int64_t next;
    ck_assert_int_eq(store_timer_next(s, &next), 0);
    ck_assert_int_eq(next, INT64_MAX);
    ck_assert_int_eq(store_begin(s), 0);
    ck_assert_int_gt(store_timer_add(s, &t), 0);
    t.due_ms = 3000;
    t.kind = STORE_TIMER_OFFLINE;
    t.key = "base";
    ck_assert_int_gt(store_timer_add(s, &t), 0);
    ck_assert_int_eq(store_commit(s), 0);
    store_close(s);
    s = open_store(&fresh);
    ck_assert_int_eq(store_timer_next(s, &next), 0);
    ck_assert_int_eq(next, 3000);
    ck_assert_int_eq(store_timer_due(s, 2999, due, 4), 0);
    ck_assert_int_eq(store_timer_due(s, 5000, due, 4), 2);
    ck_assert_int_eq(due[0].kind, STORE_TIMER_OFFLINE);
    ck_assert_str_eq(due[1].key, "topic");
    ck_assert_str_eq(due[1].route, "wanke");
    ck_assert_int_eq(due[1].seq, 7);
    ck_assert_int_eq(store_timer_del(s, due[0].id), 0);
    store_timer_release(&due[0]);
    store_timer_release(&due[1]);
    ck_assert_int_eq(store_timer_del_key(s, STORE_TIMER_OFFLINE, "topic"), 0);
    ck_assert_int_eq(store_timer_del_key(s, STORE_TIMER_ESCALATE, "topic"), 1);
    ck_assert_int_eq(store_timer_next(s, &next), 0);
    ck_assert_int_eq(next, INT64_MAX);
    store_close(s);
}
END_TEST

static int64_t add_out(struct store *s, const char *channel, int sev, int refusals)
{
    struct store_out o = {.channel = (char *)channel,
                          .route = "wanke",
                          .kind = STORE_OUT_ALARM,
                          .sev = sev,
                          .topic = "t",
                          .from_route = "",
                          .body = "{\"seq\":1}",
                          .len = 9};
    int64_t id = store_out_add(s, &o);
    ck_assert_int_gt(id, 0);
    for (int i = 0; i < refusals; i++)
        ck_assert_int_eq(store_out_refused(s, &id, 1), 0);
    return id;
}

static void count_channels(const char *channel, int64_t n, void *ctx)
{
    int64_t *counts = ctx;
    counts[strcmp(channel, "dingtalk") == 0 ? 0 : 1] = n;
}

START_TEST(test_outq_order_and_done)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    struct store_out o[8];
    int64_t minor = add_out(s, "wecom", 2, 0);
    int64_t crit = add_out(s, "wecom", 0, 0);
    int64_t refused = add_out(s, "wecom", 0, 1);
    int64_t other = add_out(s, "dingtalk", 0, 0);
    ck_assert_int_eq(store_out_count(s, "wecom"), 3);
    ck_assert_int_eq(store_out_pending(s, "wecom", o, 8), 3);
    ck_assert_int_eq(o[0].id, crit); /* critical first */
    ck_assert_int_eq(o[1].id, minor);
    ck_assert_int_eq(o[2].id, refused); /* refused ones last */
    ck_assert_int_eq(o[2].refusals, 1);
    ck_assert_str_eq(o[0].body, "{\"seq\":1}");
    for (int i = 0; i < 3; i++)
        store_out_release(&o[i]);
    int64_t ids[2] = {crit, minor};
    ck_assert_int_eq(store_out_done(s, ids, 2), 0);
    ck_assert_int_eq(store_out_count(s, "wecom"), 1);
    ck_assert_int_eq(store_out_count(s, "dingtalk"), 1);
    int64_t counts[2] = {0, 0};
    ck_assert_int_eq(store_out_channels(s, count_channels, counts), 0);
    ck_assert_int_eq(counts[0], 1); /* dingtalk */
    ck_assert_int_eq(counts[1], 1); /* wecom */
    (void)other;
    store_close(s);
}
END_TEST

START_TEST(test_sent_times)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    int64_t at[8];
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(store_sent_add(s, "wecom", 1000 * i), 0);
    ck_assert_int_eq(store_sent_add(s, "other", 3500), 0);
    ck_assert_int_eq(store_sent_since(s, "wecom", 2000, at, 8), 3);
    ck_assert_int_eq(at[0], 2000);
    ck_assert_int_eq(at[2], 4000);
    ck_assert_int_eq(store_sent_prune(s, 3000), 0);
    ck_assert_int_eq(store_sent_since(s, "wecom", 0, at, 8), 2);
    store_close(s);
}
END_TEST

START_TEST(test_a_file_that_is_not_ours_is_moved_aside)
{
    char path[600], cmd[700];
    bool fresh;
    FILE *f;
    snprintf(path, sizeof(path), "%s/notify.db", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not a database, it is a text file that is long enough to matter\n", f);
    fclose(f);
    struct store *s = open_store(&fresh);
    ck_assert(fresh);
    store_close(s);
    snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q 'notify.db.broken-'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_gateways)
{
    bool fresh;
    struct store *s = open_store(&fresh);
    struct store_gateway g = {.base = "b",
                              .online = false,
                              .since_ms = 5,
                              .seen_ms = 4,
                              .name = "东风"},
                         got;
    ck_assert_int_eq(store_gateway_put(s, &g), 0);
    g.name = NULL; /* a will carries no name: the old one stays */
    g.off_noticed = true;
    ck_assert_int_eq(store_gateway_put(s, &g), 0);
    ck_assert_int_eq(store_gateway_get(s, "b", &got), 1);
    ck_assert_str_eq(got.name, "东风");
    ck_assert(got.off_noticed);
    ck_assert(!got.on_noticed);
    ck_assert_int_eq(got.since_ms, 5);
    ck_assert(!got.online);
    store_gateway_release(&got);
    ck_assert_int_eq(store_gateway_get(s, "x", &got), 0);
    store_close(s);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("notify_store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fresh_then_reopened);
    tcase_add_test(tc, test_rollback_leaves_nothing);
    tcase_add_test(tc, test_seen_flags_add_up);
    tcase_add_test(tc, test_alarm_state_keeps_the_newest);
    tcase_add_test(tc, test_active_alarms_listed);
    tcase_add_test(tc, test_timers_survive_a_reopen);
    tcase_add_test(tc, test_outq_order_and_done);
    tcase_add_test(tc, test_sent_times);
    tcase_add_test(tc, test_a_file_that_is_not_ours_is_moved_aside);
    tcase_add_test(tc, test_gateways);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(store_suite());
}
