/* Unit tests: shelter-watch's pure module (center/watch/watch.c): the
 * readable zh/en lines and ages, duplicate detection by (gateway, seq),
 * topics and the ack command, gateway status changes, bad payloads, and the
 * identity of a message taken from its topic (forgeries refused). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check_run.h"
#include "cfg.h"
#include "payload.h"
#include "textbuf.h"
#include "watch/watch.h"

#define CST (8 * 3600) /* China Standard Time, east of UTC */

/* 2026-07-20T10:03:04.123Z = 18:03:04 in Zhengzhou */
static const int64_t TS = 1784541784123LL;

static const char *const SUMP_HH =
    "{\"seq\":42,\"ts\":\"2026-07-20T10:03:04.123Z\",\"gateway\":\"demo-dongfeng-b1\","
    "\"site\":{\"city\":\"zhengzhou\",\"district\":\"jinshui\",\"street\":\"fengchan\","
    "\"community\":\"dongfeng\",\"property\":\"wanke-wuye\",\"shelter\":\"demo-dongfeng-b1\","
    "\"name\":\"东风小区地下人防工程（演示）\"},\"sensor\":\"sump-east\",\"kind\":\"water_level\","
    "\"location\":\"B1 东侧集水坑\",\"alarm\":\"high_high\",\"event\":\"raised\",\"active\":true,"
    "\"acked\":false,\"severity\":\"critical\",\"value\":1.15,\"unit\":\"m\",\"threshold\":1.08,"
    "\"mode\":\"peacetime\",\"message\":\"sump-east（B1 东侧集水坑）：集水坑水位超高 1.15 m ≥ 1.08 "
    "m\"}";

static struct watch_alarm a;
static char line[1024], err[256];

static void parse(const char *json)
{
    ck_assert_msg(watch_alarm_parse(json, strlen(json), &a, err, sizeof(err)) == 0, "%s", err);
}

static void teardown(void)
{
    watch_alarm_release(&a);
}

/* ---- lines ---- */

START_TEST(test_raised_line_zh_has_site_location_value_threshold_severity_age)
{
    parse(SUMP_HH);
    ck_assert_int_gt(
        watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS + 190000, CST, line, sizeof(line)), 0);
    ck_assert_str_eq(line,
                     "18:03:04 【严重】报警 东风小区地下人防工程（演示）（dongfeng/wanke-wuye） · "
                     "sump-east（B1 东侧集水坑）：集水坑水位超高 1.15 m ≥ 1.08 m · 3 分钟前");
}
END_TEST

START_TEST(test_raised_line_en)
{
    parse(SUMP_HH);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, TS + 190000, CST, line, sizeof(line));
    ck_assert_str_eq(
        line, "18:03:04 [CRITICAL] RAISED 东风小区地下人防工程（演示） (dongfeng/wanke-wuye) · "
              "sump-east (B1 东侧集水坑): sump level high-high 1.15 m >= 1.08 m · 3 min ago");
}
END_TEST

START_TEST(test_text_follows_watch_language_not_gateway_message)
{
    /* The payload's message is Chinese; --lang en still reads English. */
    parse(SUMP_HH);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_ptr_null(strstr(line, "集水坑水位超高"));
    ck_assert_ptr_nonnull(strstr(line, "just now"));
}
END_TEST

static char *with(const char *json, const char *field, cJSON *value)
{
    cJSON *o = cJSON_Parse(json);
    cJSON_ReplaceItemInObjectCaseSensitive(o, field, value);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

START_TEST(test_acknowledged_line_names_who)
{
    char *j1 = with(SUMP_HH, "event", cJSON_CreateString("acknowledged"));
    char *j2 = with(j1, "acked", cJSON_CreateTrue());
    cJSON *o = cJSON_Parse(j2);
    cJSON_AddStringToObject(o, "by", "物业王经理");
    char *j3 = cJSON_PrintUnformatted(o);
    parse(j3);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "【严重】已确认 "));
    ck_assert_ptr_nonnull(strstr(line, "集水坑水位超高已确认，操作人：物业王经理"));
    watch_alarm_release(&a);
    parse(j3);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "[CRITICAL] ACKNOWLEDGED "));
    ck_assert_ptr_nonnull(strstr(line, "sump level high-high acknowledged by 物业王经理"));
    /* In the list of active alarms: the value, and who acknowledged it. */
    watch_format_alarm(&a, WATCH_LINE_ACTIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "【严重】当前报警 "));
    ck_assert_ptr_nonnull(strstr(line, "1.15 m ≥ 1.08 m（已确认，操作人：物业王经理）"));
    cJSON_Delete(o);
    free(j1);
    free(j2);
    free(j3);
}
END_TEST

START_TEST(test_cleared_line)
{
    char *j1 = with(SUMP_HH, "event", cJSON_CreateString("cleared"));
    char *j2 = with(j1, "active", cJSON_CreateFalse());
    char *j3 = with(j2, "threshold", cJSON_CreateNumber(1.02));
    char *j4 = with(j3, "value", cJSON_CreateNumber(0.95));
    parse(j4);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "【严重】恢复 "));
    ck_assert_ptr_nonnull(strstr(line, "集水坑水位超高已恢复 0.95 m ≤ 1.02 m"));
    free(j1);
    free(j2);
    free(j3);
    free(j4);
}
END_TEST

START_TEST(test_retained_inhibit_shows_as_maintenance)
{
    const char *j = "{\"seq\":7,\"ts\":\"2026-07-20T10:00:00.000Z\",\"gateway\":\"gw\","
                    "\"sensor\":\"sump-west\",\"kind\":\"water_level\",\"location\":\"\","
                    "\"alarm\":\"inhibit\",\"event\":\"raised\",\"active\":true,\"acked\":false,"
                    "\"severity\":\"info\",\"value\":null,\"unit\":\"\",\"threshold\":null,"
                    "\"by\":\"维保\",\"until\":\"2026-07-20T12:00:00.000Z\"}";
    parse(j);
    ck_assert(!watch_alarm_is_new(&a));
    watch_format_alarm(&a, WATCH_LINE_ACTIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line, "18:00:00 【提示】维护中 gw · sump-west：维护屏蔽开始，时长 2.0 "
                           "h，操作人：维保 · 3 分钟前");
    watch_format_alarm(&a, WATCH_LINE_ACTIVE, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line,
                     "18:00:00 [INFO] MAINTENANCE gw · sump-west: maintenance inhibit started "
                     "for 2.0 h by 维保 · 3 min ago");
}
END_TEST

START_TEST(test_unknown_alarm_falls_back_to_payload_message)
{
    const char *j = "{\"seq\":9,\"gateway\":\"gw\",\"sensor\":\"gateway\",\"kind\":\"gateway\","
                    "\"alarm\":\"disk\",\"event\":\"raised\",\"active\":true,"
                    "\"severity\":\"major\",\"message\":\"网关磁盘将满\"}";
    parse(j);
    ck_assert_int_eq(a.ts_ms, 0);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS, CST, line, sizeof(line));
    /* No ts: no clock time and no age. */
    ck_assert_str_eq(line, "--:--:-- 【重要】报警 gw · 网关磁盘将满");
}
END_TEST

START_TEST(test_other_day_shows_the_date)
{
    parse(SUMP_HH);
    watch_format_alarm(&a, WATCH_LINE_ACTIVE, LANG_EN, TS + 3 * 86400000LL, CST, line,
                       sizeof(line));
    ck_assert(strncmp(line, "07-20 18:03 [CRITICAL] ACTIVE ", 30) == 0);
    ck_assert_ptr_nonnull(strstr(line, " · 3 d ago"));
    /* 23:59 UTC is the next day in Zhengzhou. */
    watch_alarm_release(&a);
    char *j = with(SUMP_HH, "ts", cJSON_CreateString("2026-07-20T23:59:00Z"));
    parse(j);
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, a.ts_ms, CST, line, sizeof(line));
    ck_assert(strncmp(line, "07:59:00 ", 9) == 0);
    free(j);
}
END_TEST

/* Every multi-byte sequence in s is complete. */
static bool utf8_whole(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        for (int k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

START_TEST(test_line_truncated_keeps_utf8_whole)
{
    parse(SUMP_HH);
    for (size_t len = 1; len < 200; len++) {
        char small[200];
        int n = watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS, CST, small, len);
        ck_assert_int_gt(n, 150);
        ck_assert_uint_lt(strlen(small), len);
        ck_assert_msg(utf8_whole(small), "cut inside a character at %zu", len);
    }
}
END_TEST

static const struct {
    int64_t age_ms;
    const char *zh, *en;
} ages[] = {
    {-5000, "刚刚", "just now"},
    {0, "刚刚", "just now"},
    {9999, "刚刚", "just now"},
    {10000, "10 秒前", "10 s ago"},
    {119000, "119 秒前", "119 s ago"},
    {180000, "3 分钟前", "3 min ago"},
    {119 * 60000LL, "119 分钟前", "119 min ago"},
    {5 * 3600000LL, "5 小时前", "5 h ago"},
    {3 * 86400000LL, "3 天前", "3 d ago"},
};

START_TEST(test_age_wording)
{
    char buf[64];
    watch_format_age(ages[_i].age_ms, LANG_ZH, buf, sizeof(buf));
    ck_assert_str_eq(buf, ages[_i].zh);
    watch_format_age(ages[_i].age_ms, LANG_EN, buf, sizeof(buf));
    ck_assert_str_eq(buf, ages[_i].en);
}
END_TEST

START_TEST(test_status_lines)
{
    watch_format_status("demo-dongfeng-b1", "东风小区", false, LANG_ZH, TS, TS, CST, line,
                        sizeof(line));
    ck_assert_str_eq(line, "18:03:04 东风小区（demo-dongfeng-b1） 网关离线");
    watch_format_status("gw", NULL, true, LANG_EN, TS, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line, "18:03:04 gw (gw) gateway online");
}
END_TEST

/* ---- parsing ---- */

START_TEST(test_parse_reads_every_field)
{
    parse(SUMP_HH);
    ck_assert_uint_eq(a.seq, 42);
    ck_assert_int_eq(a.ts_ms, TS);
    ck_assert_str_eq(a.gateway, "demo-dongfeng-b1");
    ck_assert_str_eq(a.sensor, "sump-east");
    ck_assert_str_eq(a.kind, "water_level");
    ck_assert_str_eq(a.alarm, "high_high");
    ck_assert_str_eq(a.event, "raised");
    ck_assert_str_eq(a.severity, "critical");
    ck_assert_str_eq(a.community, "dongfeng");
    ck_assert_str_eq(a.by, "");
    ck_assert(a.active && !a.acked);
    ck_assert_double_eq_tol(a.value, 1.15, 1e-9);
    ck_assert_double_eq_tol(a.threshold, 1.08, 1e-9);
    ck_assert(watch_alarm_is_new(&a));
}
END_TEST

/* The payload the gateway itself builds parses and formats. */
START_TEST(test_gateway_payload_round_trip)
{
    static struct cfg c;
    struct alarm_msg m = {.seq = 5,
                          .ts_ms = TS,
                          .sensor = "smoke-relay",
                          .kind = "smoke",
                          .location = "消防控制箱",
                          .alarm = "fire",
                          .event = "raised",
                          .active = true,
                          .severity = "critical",
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .message = "火警"};
    snprintf(c.id, sizeof(c.id), "gw-1");
    snprintf(c.name, sizeof(c.name), "某小区人防");
    snprintf(c.community, sizeof(c.community), "c1");
    snprintf(c.property, sizeof(c.property), "p1");
    char *json = payload_alarm(&c, &m);
    ck_assert_ptr_nonnull(json);
    parse(json);
    ck_assert_uint_eq(a.seq, 5);
    ck_assert(isnan(a.value));
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_str_eq(
        line, "18:03:04 【严重】报警 某小区人防（c1/p1） · smoke-relay（消防控制箱）：火警 · 刚刚");
    free(json);
}
END_TEST

START_TEST(test_withdrawal_payload_round_trip)
{
    static struct cfg c;
    struct alarm_orphan o = {.sensor = "smoke-old",
                             .kind = KIND_SMOKE,
                             .ev = {.sensor = -1,
                                    .alarm = ALARM_SMOKE_FIRE,
                                    .type = ALARM_EV_WITHDRAWN,
                                    .severity = ALARM_SEV_CRITICAL,
                                    .value = NAN,
                                    .threshold = NAN,
                                    .unit = "",
                                    .ts_ms = TS}};
    struct alarm_msg m;
    char text[256];
    snprintf(c.id, sizeof(c.id), "gw-1");
    snprintf(c.name, sizeof(c.name), "某小区人防");
    c.language = LANG_ZH;
    alarm_msg_from_orphan(&c, &o, 9, text, sizeof(text), &m);
    char *json = payload_alarm(&c, &m);
    ck_assert_ptr_nonnull(json);
    parse(json);
    ck_assert_str_eq(a.event, "cleared");
    ck_assert(!a.active);
    ck_assert_str_eq(a.reason, "sensor_removed");
    ck_assert_str_eq(a.kind, "smoke");
    ck_assert_str_eq(a.message, "smoke-old：火警已撤销（传感器已从配置中移除）");
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line, "18:03:04 [CRITICAL] WITHDRAWN 某小区人防 · smoke-old: fire withdrawn "
                           "(sensor removed from the configuration) · just now");
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_str_eq(
        line,
        "18:03:04 【严重】撤销 某小区人防 · smoke-old：火警已撤销（传感器已从配置中移除） · 刚刚");
    free(json);
    /* An ordinary clear has no reason field, and reads as a clear. */
    o.ev.type = ALARM_EV_CLEARED;
    alarm_msg_from_orphan(&c, &o, 10, text, sizeof(text), &m);
    json = payload_alarm(&c, &m);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_null(strstr(json, "reason"));
    watch_alarm_release(&a);
    parse(json);
    ck_assert_str_eq(a.reason, "");
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line,
                     "18:03:04 [CRITICAL] CLEARED 某小区人防 · smoke-old: fire cleared · just now");
    free(json);
}
END_TEST

static const char *const bad_payloads[] = {
    "",
    "not json",
    "[1,2,3]",
    "{\"seq\":1}",
    "{\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\",\"active\":true}",
    "{\"seq\":-1,\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\","
    "\"active\":true}",
    "{\"seq\":1.5,\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\","
    "\"active\":true}",
    "{\"seq\":\"1\",\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\","
    "\"active\":true}",
    "{\"seq\":1,\"gateway\":\"\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\",\"active\":"
    "true}",
    "{\"seq\":1,\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\"}",
    "{\"seq\":1,\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\",\"active\":"
    "1}",
    "{\"seq\":1,\"gateway\":\"g\",\"sensor\":\"s\",\"alarm\":\"a\",\"event\":\"raised\",\"active\":"
    "true",
};

START_TEST(test_bad_payload_is_rejected_with_a_reason)
{
    const char *j = bad_payloads[_i];
    ck_assert_int_eq(watch_alarm_parse(j, strlen(j), &a, err, sizeof(err)), -1);
    ck_assert_int_gt(strlen(err), 0);
    ck_assert_ptr_null(a.json);
}
END_TEST

START_TEST(test_payload_with_nul_byte_is_rejected)
{
    const char j[] = "{\"seq\":1,\"gateway\":\"g\0\"}";
    ck_assert_int_eq(watch_alarm_parse(j, sizeof(j) - 1, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_parse_time)
{
    int64_t ms;
    ck_assert_int_eq(watch_parse_time("2026-07-20T10:03:04.123Z", &ms), 0);
    ck_assert_int_eq(ms, TS);
    ck_assert_int_eq(watch_parse_time("2026-07-20T18:03:04.123+08:00", &ms), 0);
    ck_assert_int_eq(ms, TS);
    ck_assert_int_eq(watch_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(watch_parse_time("2024-02-29T00:00:01.5Z", &ms), 0);
    ck_assert_int_eq(ms, 1709164801500LL);
    ck_assert_int_eq(watch_parse_time("2026-07-20 10:03:04Z", &ms), -1);
    ck_assert_int_eq(watch_parse_time("2026-07-20T10:03:04", &ms), -1);
    ck_assert_int_eq(watch_parse_time("2026-13-20T10:03:04Z", &ms), -1);
    ck_assert_int_eq(watch_parse_time("2026-07-20T10:03:04Zjunk", &ms), -1);
    ck_assert_int_eq(watch_parse_time("", &ms), -1);
}
END_TEST

/* ---- duplicates ---- */

START_TEST(test_duplicate_seq_of_same_gateway_is_dropped)
{
    struct watch_seen *s = watch_seen_new(100);
    ck_assert_int_eq(watch_seen_add(s, "gw-a", 1), 1);
    ck_assert_int_eq(watch_seen_add(s, "gw-a", 2), 1);
    ck_assert_int_eq(watch_seen_add(s, "gw-a", 1), 0);
    ck_assert_int_eq(watch_seen_add(s, "gw-a", 2), 0);
    /* The same seq from another gateway is another alarm. */
    ck_assert_int_eq(watch_seen_add(s, "gw-b", 1), 1);
    ck_assert_int_eq(watch_seen_add(s, "gw-a 1", 1), 1); /* no key confusion */
    ck_assert_uint_eq(watch_seen_count(s), 4);
    watch_seen_free(s);
    watch_seen_free(NULL);
}
END_TEST

START_TEST(test_duplicates_remembered_within_capacity_and_bounded)
{
    struct watch_seen *s = watch_seen_new(1000);
    for (uint64_t i = 0; i < 10000; i++)
        ck_assert_int_eq(watch_seen_add(s, "gw", i), 1);
    ck_assert_uint_le(watch_seen_count(s), 1000);
    /* The last capacity/2 are certainly remembered. */
    for (uint64_t i = 10000 - 500; i < 10000; i++)
        ck_assert_int_eq(watch_seen_add(s, "gw", i), 0);
    /* Long forgotten: counted as new again. */
    ck_assert_int_eq(watch_seen_add(s, "gw", 3), 1);
    watch_seen_free(s);
}
END_TEST

/* ---- topics and ack ---- */

static const struct {
    const char *topic;
    enum watch_topic type;
    const char *base;
} topics[] = {
    {"shelter/zz/js/fc/df/wk/gw1/alarm/sump-east/high_high", WATCH_TOPIC_ALARM,
     "shelter/zz/js/fc/df/wk/gw1"},
    {"shelter/zz/js/fc/df/wk/gw1/status", WATCH_TOPIC_STATUS, "shelter/zz/js/fc/df/wk/gw1"},
    {"shelter/zz/js/fc/df/wk/gw1/reading/sump-east", WATCH_TOPIC_READING,
     "shelter/zz/js/fc/df/wk/gw1"},
    {"shelter/zz/js/fc/df/wk/gw1/cmd/ack", WATCH_TOPIC_CMD, "shelter/zz/js/fc/df/wk/gw1"},
    {"shelter/zz/js/fc/df/wk/gw1/cmd_result", WATCH_TOPIC_CMD_RESULT, "shelter/zz/js/fc/df/wk/gw1"},
    {"shelter/zz/js/fc/df/wk/gw1/reading/status", WATCH_TOPIC_READING,
     "shelter/zz/js/fc/df/wk/gw1"},
    {"shelter/zz/js/fc/df/wk/gw1/alarm/door-1/status", WATCH_TOPIC_ALARM,
     "shelter/zz/js/fc/df/wk/gw1"},
    {"alarm/s/a", WATCH_TOPIC_OTHER, ""},
    {"/alarm/s/a", WATCH_TOPIC_OTHER, ""},
    {"x//alarm/s/a", WATCH_TOPIC_OTHER, ""},
    {"gw/alarm//a", WATCH_TOPIC_OTHER, ""},
    {"gw/alarm/s/", WATCH_TOPIC_OTHER, ""},
    {"status", WATCH_TOPIC_OTHER, ""},
    {"something/else", WATCH_TOPIC_OTHER, ""},
    {"", WATCH_TOPIC_OTHER, ""},
};

START_TEST(test_topic_classification)
{
    char base[256];
    ck_assert_int_eq(watch_topic_parse(topics[_i].topic, base, sizeof(base)), topics[_i].type);
    ck_assert_str_eq(base, topics[_i].base);
}
END_TEST

START_TEST(test_ack_target_derives_base_sensor_alarm)
{
    char base[256], sensor[WATCH_TEXT_MAX + 1], alarm[WATCH_TEXT_MAX + 1];
    ck_assert_int_eq(watch_ack_target("shelter/zz/js/fc/df/wk/gw1/alarm/smoke-relay/fire", base,
                                      sizeof(base), sensor, alarm, err, sizeof(err)),
                     0);
    ck_assert_str_eq(base, "shelter/zz/js/fc/df/wk/gw1");
    ck_assert_str_eq(sensor, "smoke-relay");
    ck_assert_str_eq(alarm, "fire");
}
END_TEST

START_TEST(test_ack_target_rejects_what_is_not_one_alarm)
{
    char base[256], sensor[WATCH_TEXT_MAX + 1], alarm[WATCH_TEXT_MAX + 1], longname[200];
    const char *bad[] = {"shelter/zz/+/gw1/alarm/smoke-relay/fire",
                         "shelter/#",
                         "shelter/gw1/status",
                         "alarm/smoke-relay/fire",
                         "shelter/gw1/reading/sump-east",
                         "shelter/gw1/alarm/smoke-relay"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(
            watch_ack_target(bad[i], base, sizeof(base), sensor, alarm, err, sizeof(err)) == -1,
            "%s", bad[i]);
        ck_assert_int_gt(strlen(err), 0);
    }
    snprintf(longname, sizeof(longname), "gw/alarm/%0100d/fire", 0);
    ck_assert_int_eq(
        watch_ack_target(longname, base, sizeof(base), sensor, alarm, err, sizeof(err)), -1);
    /* A base that does not fit the buffer. */
    ck_assert_int_eq(
        watch_ack_target("shelter/zz/js/gw1/alarm/s/a", base, 8, sensor, alarm, err, sizeof(err)),
        -1);
}
END_TEST

START_TEST(test_ack_payload_is_the_gateway_ack_command)
{
    char *p = watch_ack_payload("w-1", "smoke-relay", "fire", "物业王经理");
    cJSON *o = cJSON_Parse(p);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "id")->valuestring, "w-1");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "sensor")->valuestring, "smoke-relay");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "alarm")->valuestring, "fire");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "by")->valuestring, "物业王经理");
    ck_assert_int_eq(cJSON_GetArraySize(o), 4);
    cJSON_Delete(o);
    free(p);
}
END_TEST

START_TEST(test_cmd_result_matched_by_id)
{
    bool ok = false;
    char why[128];
    const char *r1 = "{\"id\":\"w-1\",\"verb\":\"ack\",\"ok\":true,\"ts\":\"x\"}";
    const char *r2 = "{\"id\":\"w-1\",\"verb\":\"ack\",\"ok\":false,\"error\":\"alarm fire of s is "
                     "not active\"}";
    const char *r3 = "{\"id\":\"other\",\"verb\":\"ack\",\"ok\":true}";
    const char *r4 = "{\"id\":null,\"verb\":\"ack\",\"ok\":false,\"error\":\"not valid JSON\"}";
    ck_assert_int_eq(watch_cmd_result(r1, strlen(r1), "w-1", &ok, why, sizeof(why)), 1);
    ck_assert(ok);
    ck_assert_int_eq(watch_cmd_result(r2, strlen(r2), "w-1", &ok, why, sizeof(why)), 1);
    ck_assert(!ok);
    ck_assert_str_eq(why, "alarm fire of s is not active");
    ck_assert_int_eq(watch_cmd_result(r3, strlen(r3), "w-1", &ok, why, sizeof(why)), 0);
    ck_assert_int_eq(watch_cmd_result(r4, strlen(r4), "w-1", &ok, why, sizeof(why)), 0);
    ck_assert_int_eq(watch_cmd_result("{", 1, "w-1", &ok, why, sizeof(why)), -1);
    ck_assert_int_eq(watch_cmd_result("{\"id\":\"w-1\"}", 12, "w-1", &ok, why, sizeof(why)), -1);
}
END_TEST

/* ---- gateway status ---- */

#define GW1 "shelter/zz/js/fc/df/wk/gw1"
#define GW2 "shelter/zz/eq/jfl/dh/zs/gw2"

static int update(struct watch_gateways *g, const char *base, const char *payload, bool *online,
                  const char **id, const char **name)
{
    return watch_gateways_update(g, base, payload, strlen(payload), online, id, name, err,
                                 sizeof(err));
}

START_TEST(test_status_changes_reported_once)
{
    struct watch_gateways *g = watch_gateways_new();
    const char *on = "{\"online\":true,\"gateway\":\"gw1\",\"name\":\"东风小区\"}";
    const char *off = "{\"online\":false}";
    bool online;
    const char *id, *name;
    int n_on, n_off;

    ck_assert_int_eq(update(g, GW1, on, &online, &id, &name), 1);
    ck_assert(online);
    ck_assert_str_eq(name, "东风小区");
    ck_assert_int_eq(update(g, GW1, on, &online, &id, &name), 0);
    /* The will has no name: the last one known is kept. */
    ck_assert_int_eq(update(g, GW1, off, &online, &id, &name), 1);
    ck_assert(!online);
    ck_assert_str_eq(id, "gw1");
    ck_assert_str_eq(name, "东风小区");
    /* Never seen online: its id from the topic. */
    ck_assert_int_eq(update(g, GW2, off, &online, &id, &name), 1);
    ck_assert_str_eq(id, "gw2");
    ck_assert_str_eq(name, "gw2");
    ck_assert_int_eq(update(g, GW2, "nope", &online, &id, &name), -1);
    ck_assert_int_eq(update(g, GW2, "{}", &online, &id, &name), -1);
    watch_gateways_count(g, &n_on, &n_off);
    ck_assert_int_eq(n_on, 0);
    ck_assert_int_eq(n_off, 2);
    watch_gateways_free(g);
    watch_gateways_free(NULL);
}
END_TEST

START_TEST(test_status_naming_another_gateway_is_refused)
{
    struct watch_gateways *g = watch_gateways_new();
    bool online;
    const char *id, *name;
    int n_on, n_off;

    /* gw1 publishes, on its own status topic, that gw2 is offline. */
    ck_assert_int_eq(update(g, GW1, "{\"online\":false,\"gateway\":\"gw2\",\"name\":\"德化\"}",
                            &online, &id, &name),
                     -2);
    ck_assert_ptr_nonnull(strstr(err, "\"gw2\""));
    ck_assert_ptr_nonnull(strstr(err, "\"gw1\""));
    ck_assert_int_eq(update(g, GW1, "{\"online\":true,\"gateway\":7}", &online, &id, &name), -2);
    watch_gateways_count(g, &n_on, &n_off);
    ck_assert_int_eq(n_on + n_off, 0); /* nothing learnt from a refused message */
    /* A topic too short to name a shelter is no gateway's. */
    ck_assert_int_eq(update(g, "s/a/gw1", "{\"online\":true}", &online, &id, &name), -1);
    ck_assert_int_eq(update(g, "zz/js/fc/df/wk/gw1", "{\"online\":true}", &online, &id, &name), -1);
    ck_assert_int_eq(
        update(g, "shelter//js/fc/df/wk/gw1", "{\"online\":true}", &online, &id, &name), -1);
    /* A longer prefix is fine; the id is always the topic's. */
    ck_assert_int_eq(update(g, "cn/shelter/zz/js/fc/df/wk/gw3",
                            "{\"online\":true,\"gateway\":\"gw3\"}", &online, &id, &name),
                     1);
    ck_assert_str_eq(id, "gw3");
    watch_gateways_free(g);
}
END_TEST

/* ---- identity from the topic ---- */

#define SUMP_TOPIC                                                                                 \
    "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1/alarm/sump-east/"     \
    "high_high"

static int parse_message(const char *topic, const char *json)
{
    return watch_alarm_parse_message(topic, json, strlen(json), &a, err, sizeof(err));
}

START_TEST(test_message_takes_identity_from_the_topic)
{
    ck_assert_msg(parse_message(SUMP_TOPIC, SUMP_HH) == 0, "%s", err);
    ck_assert_str_eq(a.base,
                     "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1");
    ck_assert_str_eq(a.gateway, "demo-dongfeng-b1");
    ck_assert_str_eq(a.city, "zhengzhou");
    ck_assert_str_eq(a.district, "jinshui");
    ck_assert_str_eq(a.street, "fengchan");
    ck_assert_str_eq(a.community, "dongfeng");
    ck_assert_str_eq(a.property, "wanke-wuye");
    ck_assert_str_eq(a.sensor, "sump-east");
    ck_assert_str_eq(a.alarm, "high_high");
    ck_assert_uint_eq(a.seq, 42);
    /* The struct is moved by copy (the watcher's listing does): still valid. */
    struct watch_alarm copy = a;
    memset(&a, 0, sizeof(a));
    watch_format_alarm(&copy, WATCH_LINE_LIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "（dongfeng/wanke-wuye）"));
    watch_alarm_release(&copy);
}
END_TEST

START_TEST(test_message_without_site_gets_the_topics)
{
    cJSON *o = cJSON_Parse(SUMP_HH);
    cJSON_DeleteItemFromObjectCaseSensitive(o, "site");
    char *j = cJSON_PrintUnformatted(o);
    ck_assert_msg(parse_message(SUMP_TOPIC, j) == 0, "%s", err);
    ck_assert_str_eq(a.community, "dongfeng");
    ck_assert_str_eq(a.property, "wanke-wuye");
    ck_assert_str_eq(a.site_name, "");
    cJSON_Delete(o);
    free(j);
}
END_TEST

/* A payload on the Jinshui gateway's topic that claims to be another's, or
 * another place: each field that disagrees is refused. */
static const struct {
    const char *path, *value;
} forgeries[] = {
    {"gateway", "zz-eq-dehua-b2"},
    {"site.city", "luoyang"},
    {"site.district", "erqi"},
    {"site.street", "jiefanglu"},
    {"site.community", "dehua"},
    {"site.property", "zhengshang"},
    {"site.shelter", "zz-eq-dehua-b2"},
    {"sensor", "smoke-1"},
    {"alarm", "high"},
};

START_TEST(test_payload_disagreeing_with_its_topic_is_refused)
{
    cJSON *o = cJSON_Parse(SUMP_HH);
    const char *path = forgeries[_i].path;
    if (strncmp(path, "site.", 5) == 0)
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItem(o, "site"), path + 5,
                                               cJSON_CreateString(forgeries[_i].value));
    else
        cJSON_ReplaceItemInObjectCaseSensitive(o, path, cJSON_CreateString(forgeries[_i].value));
    char *j = cJSON_PrintUnformatted(o);
    err[0] = '\0';
    ck_assert_int_eq(parse_message(SUMP_TOPIC, j), -2);
    ck_assert_msg(strstr(err, path) != NULL && strstr(err, forgeries[_i].value) != NULL, "%s", err);
    ck_assert_ptr_null(a.json);
    ck_assert_ptr_null(a.ident);
    cJSON_Delete(o);
    free(j);
}
END_TEST

/* Found by fuzz_watch: the refusal reason (logged by shelter-watch) showed
 * the forged value with only C0 controls masked, so broken UTF-8, C1
 * controls (CSI) and a character cut at the 64-byte limit reached the log. */
START_TEST(test_refusal_reason_is_printable)
{
    static const struct {
        const char *sensor, *shown;
    } forged[] = {
        {"\xD9sump-east", "?sump-east"},
        {"sump\xC2\x9B[2J", "sump??[2J"},
        /* 22 three-byte characters: the 64-byte cut falls inside the 22nd */
        {"集水坑集水坑集水坑集水坑集水坑集水坑集水坑集",
         "集水坑集水坑集水坑集水坑集水坑集水坑集水坑?"},
    };
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        cJSON *o = cJSON_Parse(SUMP_HH);
        cJSON_ReplaceItemInObjectCaseSensitive(o, "sensor", cJSON_CreateString(forged[i].sensor));
        char *j = cJSON_PrintUnformatted(o), want[256];
        ck_assert_int_eq(parse_message(SUMP_TOPIC, j), -2);
        snprintf(want, sizeof(want), "field \"sensor\" is \"%s\" but the topic says \"sump-east\"",
                 forged[i].shown);
        ck_assert_str_eq(err, want);
        ck_assert(tb_is_printable(err));
        cJSON_Delete(o);
        free(j);
    }
}
END_TEST

START_TEST(test_message_with_bad_site_or_topic_is_refused)
{
    cJSON *o = cJSON_Parse(SUMP_HH);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "site", cJSON_CreateString("dongfeng"));
    char *j = cJSON_PrintUnformatted(o);
    ck_assert_int_eq(parse_message(SUMP_TOPIC, j), -2);
    cJSON_Delete(o);
    free(j);
    o = cJSON_Parse(SUMP_HH);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItem(o, "site"), "community",
                                           cJSON_CreateNumber(1));
    j = cJSON_PrintUnformatted(o);
    ck_assert_int_eq(parse_message(SUMP_TOPIC, j), -2);
    cJSON_Delete(o);
    free(j);
    /* Control characters of a forged value are not written to the log. */
    o = cJSON_Parse(SUMP_HH);
    cJSON_ReplaceItemInObjectCaseSensitive(o, "gateway", cJSON_CreateString("x\nwarning: y"));
    j = cJSON_PrintUnformatted(o);
    ck_assert_int_eq(parse_message(SUMP_TOPIC, j), -2);
    ck_assert_ptr_null(strchr(err, '\n'));
    cJSON_Delete(o);
    free(j);
    /* Topics that do not name a shelter: malformed. */
    const char *bad[] = {
        "demo-dongfeng-b1/alarm/sump-east/high_high",
        "zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1/alarm/sump-east/high_high",
        "shelter/zhengzhou//fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1/alarm/sump-east/"
        "high_high",
        "/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1/alarm/sump-east/"
        "high_high",
        "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1/status",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse_message(bad[i], SUMP_HH) == -1, "%s", bad[i]);
    ck_assert_int_eq(
        watch_alarm_parse_message(NULL, SUMP_HH, strlen(SUMP_HH), &a, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_message(SUMP_TOPIC, "not json"), -1);
    ck_assert_ptr_null(a.json);
}
END_TEST

/* The defect: a gateway forges another's alarm, seq included, on its own
 * topic; the genuine alarm with that seq must still be shown. */
START_TEST(test_forgery_neither_shows_nor_hides_an_alarm)
{
    static const char eq_topic[] =
        "shelter/zhengzhou/erqi/jiefanglu/dehua/zhengshang-wuye/zz-eq-dehua-b2/alarm/smoke-1/fire";
    static const char js_topic[] = "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/"
                                   "demo-dongfeng-b1/alarm/smoke-1/fire";
    static const char fire[] =
        "{\"seq\":7,\"gateway\":\"zz-eq-dehua-b2\",\"site\":{\"city\":\"zhengzhou\","
        "\"district\":\"erqi\",\"street\":\"jiefanglu\",\"community\":\"dehua\","
        "\"property\":\"zhengshang-wuye\",\"shelter\":\"zz-eq-dehua-b2\",\"name\":\"德化\"},"
        "\"sensor\":\"smoke-1\",\"kind\":\"smoke\",\"alarm\":\"fire\",\"event\":\"raised\","
        "\"active\":true}";
    static const char own_fire[] =
        "{\"seq\":7,\"gateway\":\"demo-dongfeng-b1\",\"sensor\":\"smoke-1\",\"kind\":\"smoke\","
        "\"alarm\":\"fire\",\"event\":\"raised\",\"active\":true}";
    struct watch_seen *s = watch_seen_new(100);

    /* The forgery on the Jinshui gateway's topic: refused. */
    ck_assert_int_eq(parse_message(js_topic, fire), -2);
    /* The Jinshui gateway's own seq 7: accepted, under its own identity. */
    ck_assert_int_eq(parse_message(js_topic, own_fire), 0);
    ck_assert_int_eq(watch_seen_add(s, a.base, a.seq), 1);
    watch_alarm_release(&a);
    /* The genuine Erqi fire with the same seq: new, not a duplicate. */
    ck_assert_msg(parse_message(eq_topic, fire) == 0, "%s", err);
    ck_assert_int_eq(watch_seen_add(s, a.base, a.seq), 1);
    ck_assert_int_eq(watch_seen_add(s, a.base, a.seq), 0); /* its own duplicate is one */
    watch_seen_free(s);
}
END_TEST

START_TEST(test_duplicate_keys_are_not_cut_short)
{
    /* Two long topic bases that share their first 300 bytes. */
    char b1[600], b2[600];
    struct watch_seen *s = watch_seen_new(100);
    memset(b1, 'x', 500);
    b1[500] = '\0';
    memcpy(b2, b1, 501);
    b1[499] = '1';
    b2[499] = '2';
    ck_assert_int_eq(watch_seen_add(s, b1, 7), 1);
    ck_assert_int_eq(watch_seen_add(s, b2, 7), 1);
    ck_assert_int_eq(watch_seen_add(s, b2, 7), 0);
    watch_seen_free(s);
}
END_TEST

START_TEST(test_refusals_logged_once_per_gateway)
{
    struct watch_once *o = watch_once_new();
    ck_assert_int_eq(watch_once_first(o, GW1), 1);
    ck_assert_int_eq(watch_once_first(o, GW1), 0);
    ck_assert_int_eq(watch_once_first(o, GW2), 1);
    watch_once_free(o);
    watch_once_free(NULL);
}
END_TEST

START_TEST(test_severity_rank_orders_critical_first)
{
    ck_assert_int_lt(watch_severity_rank("critical"), watch_severity_rank("major"));
    ck_assert_int_lt(watch_severity_rank("major"), watch_severity_rank("minor"));
    ck_assert_int_lt(watch_severity_rank("minor"), watch_severity_rank("info"));
    ck_assert_int_lt(watch_severity_rank("info"), watch_severity_rank("bogus"));
}
END_TEST

/* ---- printable lines (found by tests/fuzz/fuzz_watch.c) ---- */

/* Any gateway (or anyone allowed to publish under shelter/#) chooses the text
 * of its payloads; what the watcher prints must not drive the operator's
 * terminal (ESC, CSI) or split a line. */
START_TEST(test_alarm_line_escapes_control_characters_of_the_payload)
{
    const char *json =
        "{\"seq\":5,\"ts\":\"2026-07-20T10:03:04.123Z\",\"gateway\":\"gw\x01\",\"sensor\":"
        "\"s\xFF\","
        "\"alarm\":\"x\",\"event\":\"raised\",\"active\":true,\"severity\":\"major\","
        "\"site\":{\"name\":\"东风\\u001b[2J\",\"community\":\"a\\nb\",\"property\":\"p\"},"
        "\"message\":\"水位\\u009b31m超高\\r\"}";
    parse(json);
    for (int lang = 0; lang < 2; lang++) {
        watch_format_alarm(&a, WATCH_LINE_LIVE, lang ? LANG_EN : LANG_ZH, TS, CST, line,
                           sizeof(line));
        ck_assert_msg(tb_is_printable(line), "%s", line);
    }
    ck_assert_str_eq(line, "18:03:04 [MAJOR] RAISED 东风?[2J (a?b/p) · 水位??31m超高? · just now");
    watch_format_alarm(&a, WATCH_LINE_ACTIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_msg(tb_is_printable(line), "%s", line);
}
END_TEST

START_TEST(test_status_line_escapes_control_characters)
{
    watch_format_status("gw\x1b]0;pwned\x07", "东风\n小区", true, LANG_ZH, TS, TS, CST, line,
                        sizeof(line));
    ck_assert_str_eq(line, "18:03:04 东风?小区（gw?]0;pwned?） 网关上线");
}
END_TEST

START_TEST(test_cmd_result_reason_escapes_control_characters)
{
    bool ok = true;
    char why[128];
    const char *r = "{\"id\":\"w-1\",\"ok\":false,\"error\":\"no\\u001b[8m such\x01 alarm\\n\"}";
    ck_assert_int_eq(watch_cmd_result(r, strlen(r), "w-1", &ok, why, sizeof(why)), 1);
    ck_assert(!ok);
    ck_assert_str_eq(why, "no?[8m such? alarm?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("watch");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_raised_line_zh_has_site_location_value_threshold_severity_age);
    tcase_add_test(tc, test_raised_line_en);
    tcase_add_test(tc, test_text_follows_watch_language_not_gateway_message);
    tcase_add_test(tc, test_acknowledged_line_names_who);
    tcase_add_test(tc, test_cleared_line);
    tcase_add_test(tc, test_retained_inhibit_shows_as_maintenance);
    tcase_add_test(tc, test_unknown_alarm_falls_back_to_payload_message);
    tcase_add_test(tc, test_other_day_shows_the_date);
    tcase_add_test(tc, test_line_truncated_keeps_utf8_whole);
    tcase_add_loop_test(tc, test_age_wording, 0, sizeof(ages) / sizeof(ages[0]));
    tcase_add_test(tc, test_status_lines);
    tcase_add_test(tc, test_parse_reads_every_field);
    tcase_add_test(tc, test_gateway_payload_round_trip);
    tcase_add_test(tc, test_withdrawal_payload_round_trip);
    tcase_add_loop_test(tc, test_bad_payload_is_rejected_with_a_reason, 0,
                        sizeof(bad_payloads) / sizeof(bad_payloads[0]));
    tcase_add_test(tc, test_payload_with_nul_byte_is_rejected);
    tcase_add_test(tc, test_parse_time);
    tcase_add_test(tc, test_duplicate_seq_of_same_gateway_is_dropped);
    tcase_add_test(tc, test_duplicates_remembered_within_capacity_and_bounded);
    tcase_add_loop_test(tc, test_topic_classification, 0, sizeof(topics) / sizeof(topics[0]));
    tcase_add_test(tc, test_ack_target_derives_base_sensor_alarm);
    tcase_add_test(tc, test_ack_target_rejects_what_is_not_one_alarm);
    tcase_add_test(tc, test_ack_payload_is_the_gateway_ack_command);
    tcase_add_test(tc, test_cmd_result_matched_by_id);
    tcase_add_test(tc, test_status_changes_reported_once);
    tcase_add_test(tc, test_status_naming_another_gateway_is_refused);
    tcase_add_test(tc, test_message_takes_identity_from_the_topic);
    tcase_add_test(tc, test_message_without_site_gets_the_topics);
    tcase_add_loop_test(tc, test_payload_disagreeing_with_its_topic_is_refused, 0,
                        sizeof(forgeries) / sizeof(forgeries[0]));
    tcase_add_test(tc, test_message_with_bad_site_or_topic_is_refused);
    tcase_add_test(tc, test_refusal_reason_is_printable);
    tcase_add_test(tc, test_forgery_neither_shows_nor_hides_an_alarm);
    tcase_add_test(tc, test_duplicate_keys_are_not_cut_short);
    tcase_add_test(tc, test_refusals_logged_once_per_gateway);
    tcase_add_test(tc, test_severity_rank_orders_critical_first);
    tcase_add_test(tc, test_alarm_line_escapes_control_characters_of_the_payload);
    tcase_add_test(tc, test_status_line_escapes_control_characters);
    tcase_add_test(tc, test_cmd_result_reason_escapes_control_characters);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
