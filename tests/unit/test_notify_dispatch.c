/*
 * Unit tests of center/notify/dispatch.c (with store.c on a real SQLite file
 * and ncfg.c reading a real notify.conf): routes, duplicates, escalation and
 * its stop, floods, offline gateways, the first start's summary, requests
 * and their answers, the ack command.  The clock is the test's.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check_run.h"
#include "dispatch.h"
#include "ncfg.h"
#include "store.h"

#define BASE "shelter/zz/js/fc/df/wk/gw-1"
#define T0 1784541784000LL
#define MIN 60000LL

static char dir[64];
static struct ncfg *cfg;
static struct store *st;
static struct dispatch *d;

static const char conf_fmt[] = "[notify]\n"
                               "state_dir = %s\n"
                               "offline_after = 60s\n"
                               "ack_url = https://c.example.cn/ack\n"
                               "listen = 127.0.0.1:1\n"
                               "token_key_file = %s/key\n"
                               "[mqtt]\n"
                               "uri = tcp://127.0.0.1:1\n"
                               "[channel wecom]\n"
                               "type = wecom\n"
                               "url = http://127.0.0.1:1/cgi-bin/webhook/send?key=K\n"
                               "[channel ding]\n"
                               "type = dingtalk\n"
                               "url = http://127.0.0.1:1/robot/send?access_token=T\n"
                               "secret_file = %s/secret\n"
                               "[channel hook]\n"
                               "type = webhook\n"
                               "url = http://127.0.0.1:1/hook/x\n"
                               "[route wanke]\n"
                               "name = 万科物业\n"
                               "subtree = zz/js/fc/df/wk\n"
                               "events = raised, acknowledged, cleared, offline, online\n"
                               "channels = wecom\n"
                               "escalate_after = 5min\n"
                               "escalate_to = dongfeng\n"
                               "[route dongfeng]\n"
                               "name = 东风社区\n"
                               "subtree = zz/js/fc/df\n"
                               "min_severity = critical\n"
                               "events = offline\n"
                               "channels = ding\n"
                               "escalate_after = 10min\n"
                               "escalate_to = street\n"
                               "[route street]\n"
                               "subtree = zz/js/fc\n"
                               "events = test\n"
                               "channels = hook\n"
                               "[route other]\n"
                               "subtree = zz/js/other\n"
                               "channels = hook\n";

static void write_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
}

static void open_all(bool fresh_expected)
{
    char err[256];
    bool fresh;
    st = store_open(dir, &fresh, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_int_eq(fresh, fresh_expected);
    d = dispatch_new(cfg, st, fresh, T0, err, sizeof(err));
    ck_assert_msg(d != NULL, "%s", err);
}

static void close_all(void)
{
    dispatch_free(d);
    store_close(st);
    d = NULL;
    st = NULL;
}

static void setup(void)
{
    char text[4096], path[128];
    int nerr;
    FILE *f;

    strcpy(dir, "/tmp/notify-dispatch-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file("key", "0123456789abcdef0123456789abcdef\n");
    write_file("secret", "SECtest\n");
    snprintf(text, sizeof(text), conf_fmt, dir, dir, dir);
    write_file("notify.conf", text);
    snprintf(path, sizeof(path), "%s/notify.conf", dir);
    f = fopen("/dev/null", "w");
    cfg = ncfg_load(path, f, &nerr);
    fclose(f);
    ck_assert_msg(cfg != NULL, "notify.conf: %d errors", nerr);
    open_all(true);
    /* The first retained burst is over: later messages are live. */
    ck_assert_int_eq(dispatch_retained_done(d, T0), 0);
}

static void teardown(void)
{
    char cmd[128];
    close_all();
    ncfg_free(cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* An alarm message of gw-1 (or gateway) for sensor/alarm. */
static int alarm_msg(enum dispatch_via via, const char *gateway, uint64_t seq, const char *event,
                     bool active, bool acked, const char *severity, int64_t now)
{
    char topic[256], payload[2048];
    snprintf(topic, sizeof(topic), "shelter/zz/js/fc/df/wk/%s/alarm/leak-1/leak", gateway);
    snprintf(payload, sizeof(payload),
             "{\"seq\":%llu,\"ts\":\"2026-07-20T10:03:04.000Z\",\"gateway\":\"%s\","
             "\"site\":{\"city\":\"zz\",\"district\":\"js\",\"street\":\"fc\",\"community\":\"df\","
             "\"property\":\"wk\",\"shelter\":\"%s\",\"name\":\"东风小区人防\"},"
             "\"sensor\":\"leak-1\",\"kind\":\"water_leak\",\"location\":\"B1 坡道\","
             "\"alarm\":\"leak\",\"event\":\"%s\",\"active\":%s,\"acked\":%s,"
             "\"severity\":\"%s\",\"value\":null,\"unit\":\"\",\"threshold\":null,"
             "\"mode\":\"peacetime\",\"message\":\"leak-1：漏水\"%s}",
             (unsigned long long)seq, gateway, gateway, event, active ? "true" : "false",
             acked ? "true" : "false", severity, acked ? ",\"by\":\"wanke\"" : "");
    return dispatch_message(d, topic, payload, strlen(payload), via, 0, now);
}

static int status_msg(enum dispatch_via via, bool online, int64_t now)
{
    const char *p = online ? "{\"online\":true,\"gateway\":\"gw-1\",\"name\":\"东风小区人防\"}"
                           : "{\"online\":false}";
    return dispatch_message(d, BASE "/status", p, strlen(p), via, 0, now);
}

static int pending(const char *channel)
{
    return (int)store_out_count(st, channel);
}

/* The pending notices of channel, oldest first by sending order; release. */
static int outq(const char *channel, struct store_out *o, int max)
{
    return store_out_pending(st, channel, o, max);
}

START_TEST(test_a_raise_goes_to_its_route_only)
{
    ck_assert_int_eq(alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0), 0);
    ck_assert_int_eq(pending("wecom"), 1);
    ck_assert_int_eq(pending("ding"), 0); /* dongfeng takes only offline (and escalations) */
    ck_assert_int_eq(pending("hook"), 0); /* street: test only; other: another subtree */
}
END_TEST

START_TEST(test_min_severity_and_events_filter)
{
    /* dongfeng takes critical offline only; a cleared goes to wanke (it asks). */
    ck_assert_int_eq(alarm_msg(DISPATCH_LIVE, "gw-1", 7, "cleared", false, false, "critical", T0),
                     0);
    ck_assert_int_eq(pending("wecom"), 1);
    ck_assert_int_eq(pending("ding"), 0);
}
END_TEST

START_TEST(test_duplicates_are_notified_once)
{
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0 + 10);
    alarm_msg(DISPATCH_RETAINED, "gw-1", 7, "raised", true, false, "critical", T0 + 20);
    ck_assert_int_eq(pending("wecom"), 1);
    /* Another gateway's seq 7 is another transition. */
    alarm_msg(DISPATCH_LIVE, "gw-2", 7, "raised", true, false, "critical", T0 + 30);
    ck_assert_int_eq(pending("wecom"), 2);
    struct dispatch_stats s;
    dispatch_get_stats(d, &s);
    ck_assert_int_eq(s.duplicates, 2);
}
END_TEST

START_TEST(test_unacknowledged_escalates_up_the_chain)
{
    struct store_out o[4];
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    /* ts is 10:03:04.000Z = T0: due at T0 + 5 min. */
    ck_assert_int_eq(dispatch_tick(d, T0 + 5 * MIN - 1), 0);
    ck_assert_int_eq(pending("ding"), 0);
    ck_assert_int_eq(dispatch_tick(d, T0 + 5 * MIN), 0);
    ck_assert_int_eq(outq("ding", o, 4), 1);
    ck_assert_int_eq(o[0].step, 1);
    ck_assert_str_eq(o[0].from_route, "wanke");
    ck_assert_str_eq(o[0].route, "dongfeng");
    ck_assert_int_eq(o[0].unacked_ms, 5 * MIN);
    store_out_release(&o[0]);
    /* dongfeng's own 10 minutes: then the street. */
    dispatch_tick(d, T0 + 15 * MIN - 1);
    ck_assert_int_eq(pending("hook"), 0);
    dispatch_tick(d, T0 + 15 * MIN);
    ck_assert_int_eq(outq("hook", o, 4), 1);
    ck_assert_int_eq(o[0].step, 2);
    ck_assert_str_eq(o[0].from_route, "dongfeng");
    store_out_release(&o[0]);
    /* The street has no escalate_to: the chain ends. */
    dispatch_tick(d, T0 + 60 * MIN);
    ck_assert_int_eq(pending("hook"), 1);
}
END_TEST

START_TEST(test_ack_stops_the_chain)
{
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    alarm_msg(DISPATCH_LIVE, "gw-1", 8, "acknowledged", true, true, "critical", T0 + MIN);
    dispatch_tick(d, T0 + 60 * MIN);
    ck_assert_int_eq(pending("ding"), 0);
    ck_assert_int_eq(pending("hook"), 0);
}
END_TEST

START_TEST(test_clear_stops_the_chain_after_a_step)
{
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    dispatch_tick(d, T0 + 5 * MIN);
    ck_assert_int_eq(pending("ding"), 1);
    alarm_msg(DISPATCH_LIVE, "gw-1", 8, "cleared", false, false, "critical", T0 + 6 * MIN);
    dispatch_tick(d, T0 + 60 * MIN);
    ck_assert_int_eq(pending("hook"), 0);
}
END_TEST

/* share_group: the ack came to another instance; its tracking copy stops
 * this one's escalation. */
START_TEST(test_tracked_ack_stops_an_escalation_run_here)
{
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    alarm_msg(DISPATCH_TRACK, "gw-1", 8, "acknowledged", true, true, "critical", T0 + MIN);
    ck_assert_int_eq(pending("wecom"), 1); /* the tracking copy notified nothing */
    dispatch_tick(d, T0 + 60 * MIN);
    ck_assert_int_eq(pending("ding"), 0);
    /* ... and the tracking copy of the raise itself starts nothing. */
    alarm_msg(DISPATCH_TRACK, "gw-2", 7, "raised", true, false, "critical", T0);
    dispatch_tick(d, T0 + 120 * MIN);
    ck_assert_int_eq(pending("ding"), 0);
    ck_assert_int_eq(pending("wecom"), 1);
}
END_TEST

/* The duty copy after the tracking copy of the same message still notifies. */
START_TEST(test_duty_copy_after_its_tracking_copy)
{
    alarm_msg(DISPATCH_TRACK, "gw-1", 7, "raised", true, false, "critical", T0);
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0 + 5);
    ck_assert_int_eq(pending("wecom"), 1);
    dispatch_tick(d, T0 + 5 * MIN);
    ck_assert_int_eq(pending("ding"), 1);
}
END_TEST

START_TEST(test_escalation_timers_survive_a_restart)
{
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    close_all();
    open_all(false);
    dispatch_tick(d, T0 + 5 * MIN);
    ck_assert_int_eq(pending("ding"), 1);
}
END_TEST

START_TEST(test_flood_turns_notices_into_summaries)
{
    struct store_out o[16];
    char gw[16];
    for (int i = 1; i <= 12; i++) {
        snprintf(gw, sizeof(gw), "gw-%d", i);
        alarm_msg(DISPATCH_LIVE, gw, 1, "raised", true, false, "critical", T0 + i * 1000);
    }
    ck_assert_int_eq(outq("wecom", o, 16), 12);
    int summary = 0;
    for (int i = 0; i < 12; i++) {
        summary += o[i].summary;
        if (o[i].summary)
            ck_assert_int_eq(o[i].why, NTEXT_SUM_FLOOD);
        store_out_release(&o[i]);
    }
    ck_assert_int_eq(summary, 2); /* the 11th and the 12th: more than 10 in 10 min */
}
END_TEST

START_TEST(test_offline_after_offline_after_and_back)
{
    struct store_out o[4];
    status_msg(DISPATCH_LIVE, true, T0);
    status_msg(DISPATCH_LIVE, false, T0 + 1000);
    dispatch_tick(d, T0 + 1000 + 60000 - 1);
    ck_assert_int_eq(pending("wecom"), 0);
    dispatch_tick(d, T0 + 1000 + 60000);
    ck_assert_int_eq(outq("wecom", o, 4), 1);
    ck_assert_int_eq(o[0].kind, STORE_OUT_OFFLINE);
    ck_assert_int_eq(o[0].seen_ms, T0 + 1000);
    store_out_release(&o[0]);
    ck_assert_int_eq(pending("ding"), 1); /* dongfeng asks for offline too */
    status_msg(DISPATCH_LIVE, true, T0 + 10 * MIN);
    ck_assert_int_eq(pending("wecom"), 2);
    ck_assert_int_eq(outq("wecom", o, 4), 2);
    ck_assert(o[0].kind == STORE_OUT_ONLINE || o[1].kind == STORE_OUT_ONLINE);
    store_out_release(&o[0]);
    store_out_release(&o[1]);
    ck_assert_int_eq(pending("ding"), 1); /* dongfeng does not ask for online */
}
END_TEST

/* A will that waited in the session while the notifier was away: its
 * expiry interval says when the broker published it, and that is when the
 * gateway was last seen, not when the notifier got it. */
START_TEST(test_a_late_will_says_when_the_gateway_went_offline)
{
    struct store_out o[4];
    const char *will = "{\"online\":false}";
    status_msg(DISPATCH_LIVE, true, T0);
    ck_assert_int_eq(dispatch_message(d, BASE "/status", will, strlen(will), DISPATCH_LIVE,
                                      T0 + 1000, T0 + 3 * 3600 * 1000LL),
                     0);
    dispatch_tick(d, T0 + 3 * 3600 * 1000LL); /* offline_after (60 s) long over */
    ck_assert_int_eq(outq("wecom", o, 4), 1);
    ck_assert_int_eq(o[0].kind, STORE_OUT_OFFLINE);
    ck_assert_int_eq(o[0].seen_ms, T0 + 1000);
    store_out_release(&o[0]);
}
END_TEST

START_TEST(test_a_short_outage_is_no_news)
{
    status_msg(DISPATCH_LIVE, true, T0);
    status_msg(DISPATCH_LIVE, false, T0 + 1000);
    status_msg(DISPATCH_LIVE, true, T0 + 30000);
    dispatch_tick(d, T0 + 10 * MIN);
    ck_assert_int_eq(pending("wecom"), 0);
}
END_TEST

START_TEST(test_first_start_summarises_what_is_active)
{
    struct store_out o[4];
    close_all();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -f '%s'/notify.db*", dir);
    ck_assert_int_eq(system(cmd), 0);
    open_all(true);
    alarm_msg(DISPATCH_RETAINED, "gw-1", 7, "raised", true, false, "critical", T0);
    alarm_msg(DISPATCH_RETAINED, "gw-2", 9, "cleared", false, false, "critical", T0);
    dispatch_retained_done(d, T0);
    ck_assert_int_eq(outq("wecom", o, 4), 1);
    ck_assert(o[0].summary);
    ck_assert_int_eq(o[0].why, NTEXT_SUM_ACTIVE);
    store_out_release(&o[0]);
    /* The next start's retained copies are known: nothing. */
    close_all();
    open_all(false);
    alarm_msg(DISPATCH_RETAINED, "gw-1", 7, "raised", true, false, "critical", T0 + MIN);
    ck_assert_int_eq(pending("wecom"), 1);
    /* A retained transition never seen (missed while away) is notified. */
    alarm_msg(DISPATCH_RETAINED, "gw-1", 12, "raised", true, false, "critical", T0 + MIN);
    ck_assert_int_eq(outq("wecom", o, 4), 2);
    ck_assert(!o[0].summary || !o[1].summary);
    store_out_release(&o[0]);
    store_out_release(&o[1]);
}
END_TEST

START_TEST(test_a_payload_disagreeing_with_its_topic_is_refused)
{
    const char *p = "{\"seq\":1,\"gateway\":\"gw-9\",\"sensor\":\"leak-1\",\"alarm\":\"leak\","
                    "\"event\":\"raised\",\"active\":true}";
    ck_assert_int_eq(
        dispatch_message(d, BASE "/alarm/leak-1/leak", p, strlen(p), DISPATCH_LIVE, 0, T0), 0);
    ck_assert_int_eq(pending("wecom"), 0);
    struct dispatch_stats s;
    dispatch_get_stats(d, &s);
    ck_assert_int_eq(s.refused, 1);
}
END_TEST

START_TEST(test_request_and_answers)
{
    struct dispatch_request r;
    const char *ok = "{\"errcode\":0,\"errmsg\":\"ok\"}";
    const char *fast = "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}";
    cJSON *body;

    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    ck_assert_int_eq(dispatch_next_request(d, T0, &r), 1);
    ck_assert_str_eq(r.url, "http://127.0.0.1:1/cgi-bin/webhook/send?key=K");
    ck_assert_int_eq(r.nids, 1);
    body = cJSON_Parse(r.body);
    const char *md =
        cJSON_GetObjectItem(cJSON_GetObjectItem(body, "markdown"), "content")->valuestring;
    ck_assert_ptr_nonnull(strstr(md, "东风小区人防"));
    ck_assert_ptr_nonnull(strstr(md, "【严重】漏水"));    /* the catalogue's words */
    ck_assert_ptr_nonnull(strstr(md, "位置：B1 坡道\n")); /* the place people know */
    ck_assert_ptr_nonnull(strstr(md, "情况：漏水\n"));    /* ... said once */
    ck_assert_ptr_null(strstr(md, "情况：B1 坡道"));
    ck_assert_ptr_nonnull(strstr(md, "请勿进入车库"));
    ck_assert_ptr_nonnull(strstr(md, "https://c.example.cn/ack?t="));
    cJSON_Delete(body);
    /* Too fast: kept, and the channel waits a whole window. */
    dispatch_answer(d, &r, 200, fast, strlen(fast), NULL, T0 + 100);
    dispatch_request_free(&r);
    ck_assert_int_eq(pending("wecom"), 1);
    ck_assert_int_eq(dispatch_next_request(d, T0 + 200, &r), 0);
    ck_assert_int_eq(dispatch_next_request(d, T0 + 100 + 59999, &r), 0);
    dispatch_tick(d, T0 + 200); /* housekeeping done: the channel is what is due next */
    ck_assert_int_eq(dispatch_next_due(d, T0 + 200), T0 + 100 + 60000);
    ck_assert_int_eq(dispatch_next_request(d, T0 + 100 + 60000, &r), 1);
    dispatch_answer(d, &r, 200, ok, strlen(ok), NULL, T0 + 60200);
    dispatch_request_free(&r);
    ck_assert_int_eq(pending("wecom"), 0);
}
END_TEST

START_TEST(test_dingtalk_requests_are_signed)
{
    struct dispatch_request r;
    status_msg(DISPATCH_LIVE, true, T0);
    status_msg(DISPATCH_LIVE, false, T0);
    dispatch_tick(d, T0 + 60000);
    ck_assert_int_eq(pending("ding"), 1);
    /* wecom first (round robin), then ding */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(dispatch_next_request(d, T0 + 60000, &r), 1);
        if (strstr(r.url, "robot/send") != NULL) {
            ck_assert_ptr_nonnull(strstr(r.url, "&timestamp=1784541844000&sign="));
            ck_assert_ptr_nonnull(strstr(r.body, "【离线】"));
        }
        dispatch_request_free(&r);
    }
}
END_TEST

START_TEST(test_ack_command_by_the_route)
{
    struct token_claim c = {.seq = 7, .expires_ms = T0 + MIN};
    struct ackweb_view v;
    char *topic, *payload, why[128];
    strcpy(c.topic, BASE "/alarm/leak-1/leak");
    strcpy(c.route, "wanke");
    alarm_msg(DISPATCH_LIVE, "gw-1", 7, "raised", true, false, "critical", T0);
    dispatch_ack_view(d, &c, &v);
    ck_assert(v.found && v.active && !v.acked && !v.newer);
    ck_assert_str_eq(v.route_display, "万科物业");
    ck_assert_str_eq(v.site_name, "东风小区人防");
    ck_assert_str_eq(v.location, "B1 坡道");
    ck_assert_str_eq(v.detail, "漏水"); /* the place once, in its own row */
    ck_assert(v.water);
    ck_assert_int_eq(dispatch_ack_command(d, &c, T0, &topic, &payload, why, sizeof(why)), 0);
    ck_assert_str_eq(topic, BASE "/cmd/ack");
    cJSON *o = cJSON_Parse(payload);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "by")->valuestring, "wanke");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "sensor")->valuestring, "leak-1");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "alarm")->valuestring, "leak");
    cJSON_Delete(o);
    free(topic);
    free(payload);
    /* Acknowledged since: the page says so. */
    alarm_msg(DISPATCH_LIVE, "gw-1", 8, "acknowledged", true, true, "critical", T0 + 1000);
    dispatch_ack_view(d, &c, &v);
    ck_assert(v.acked);
    ck_assert_str_eq(v.by, "wanke");
    /* A route no longer configured cannot acknowledge. */
    strcpy(c.route, "gone");
    ck_assert_int_eq(dispatch_ack_command(d, &c, T0, &topic, &payload, why, sizeof(why)), -1);
}
END_TEST

static Suite *dispatch_suite(void)
{
    Suite *s = suite_create("notify_dispatch");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_raise_goes_to_its_route_only);
    tcase_add_test(tc, test_min_severity_and_events_filter);
    tcase_add_test(tc, test_duplicates_are_notified_once);
    tcase_add_test(tc, test_unacknowledged_escalates_up_the_chain);
    tcase_add_test(tc, test_ack_stops_the_chain);
    tcase_add_test(tc, test_clear_stops_the_chain_after_a_step);
    tcase_add_test(tc, test_tracked_ack_stops_an_escalation_run_here);
    tcase_add_test(tc, test_duty_copy_after_its_tracking_copy);
    tcase_add_test(tc, test_escalation_timers_survive_a_restart);
    tcase_add_test(tc, test_flood_turns_notices_into_summaries);
    tcase_add_test(tc, test_offline_after_offline_after_and_back);
    tcase_add_test(tc, test_a_late_will_says_when_the_gateway_went_offline);
    tcase_add_test(tc, test_a_short_outage_is_no_news);
    tcase_add_test(tc, test_first_start_summarises_what_is_active);
    tcase_add_test(tc, test_a_payload_disagreeing_with_its_topic_is_refused);
    tcase_add_test(tc, test_request_and_answers);
    tcase_add_test(tc, test_dingtalk_requests_are_signed);
    tcase_add_test(tc, test_ack_command_by_the_route);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(dispatch_suite());
}
