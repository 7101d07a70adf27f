/* Unit tests: shelter-watch's pure module (center/watch/watch.c): the
 * readable zh/en lines and ages (of the gateway's own payloads too),
 * duplicate detection by (gateway, seq), the target of an ack, gateway
 * status changes, and a forgery that must neither show nor hide an alarm.
 * The parsers themselves are tests/unit/test_gwmsg.c. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check_run.h"
#include "cfg.h"
#include "payload.h"
#include "textbuf.h"
#include "gwmsg.h"
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

static struct gwmsg_alarm a;
static char line[1024], err[256];

static void parse(const char *json)
{
    ck_assert_msg(gwmsg_alarm_parse_payload(json, strlen(json), &a, err, sizeof(err)) == 0, "%s",
                  err);
}

static void teardown(void)
{
    gwmsg_alarm_release(&a);
}

/* ---- lines ---- */

START_TEST(test_raised_line_zh_has_site_location_value_threshold_severity_age)
{
    parse(SUMP_HH);
    ck_assert_int_gt(
        watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_ZH, TS + 190000, CST, line, sizeof(line)), 0);
    ck_assert_str_eq(line, "18:03:04 【严重】报警 东风小区地下人防工程（演示） · "
                           "B1 东侧集水坑：集水坑水位超高 1.15 m ≥ 1.08 m · 3 分钟前");
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
    gwmsg_alarm_release(&a);
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

/* The list of active alarms: the value now (from the sensor's retained
 * reading) beside the value at the raise. */
START_TEST(test_active_line_shows_value_now_beside_value_at_raise)
{
    const char *reading = "{\"ts\":\"2026-07-20T10:06:00.000Z\",\"sensor\":\"sump-east\","
                          "\"kind\":\"water_level\",\"quality\":\"good\",\"level_m\":0.953,"
                          "\"level_pct\":79.4}";
    char now[64];
    parse(SUMP_HH);
    ck_assert_int_gt(watch_format_now(reading, strlen(reading), LANG_ZH, now, sizeof(now)), 0);
    ck_assert_str_eq(now, "0.95 m");
    watch_format_active(&a, now, LANG_ZH, TS + 190000, CST, line, sizeof(line));
    ck_assert_str_eq(line,
                     "18:03:04 【严重】当前报警 东风小区地下人防工程（演示） · "
                     "B1 东侧集水坑：集水坑水位超高 1.15 m ≥ 1.08 m · 现在 0.95 m · 3 分钟前");
    watch_format_active(&a, now, LANG_EN, TS + 190000, CST, line, sizeof(line));
    ck_assert_ptr_nonnull(
        strstr(line, "sump level high-high 1.15 m >= 1.08 m · now 0.95 m · 3 min ago"));
    /* Without a reading: the line as before. */
    watch_format_active(&a, NULL, LANG_ZH, TS + 190000, CST, line, sizeof(line));
    ck_assert_ptr_null(strstr(line, "现在"));
}
END_TEST

START_TEST(test_value_now_of_every_kind_in_both_languages)
{
    static const struct {
        const char *json, *zh, *en;
    } cases[] = {
        {"{\"kind\":\"co2\",\"quality\":\"good\",\"co2_ppm\":2310}", "2310 ppm", "2310 ppm"},
        {"{\"kind\":\"water_leak\",\"quality\":\"good\",\"wet\":true}", "有水", "wet"},
        {"{\"kind\":\"water_leak\",\"quality\":\"good\",\"wet\":false}", "无水", "dry"},
        {"{\"kind\":\"blast_door\",\"quality\":\"good\",\"door\":\"locked\","
         "\"contacts\":{\"closed\":true,\"locked\":true}}",
         "关闭锁紧", "closed and locked"},
        {"{\"kind\":\"blast_door\",\"quality\":\"good\",\"door\":\"closed\"}", "关闭（未锁紧）",
         "closed (not locked)"},
        {"{\"kind\":\"blast_door\",\"quality\":\"good\",\"door\":\"open\"}", "开启", "open"},
        {"{\"kind\":\"smoke\",\"quality\":\"good\",\"smoke\":\"normal\"}", "正常", "normal"},
        {"{\"kind\":\"smoke\",\"quality\":\"good\",\"smoke\":\"fire\"}", "火警", "fire"},
        {"{\"kind\":\"water_level\",\"quality\":\"comm_lost\"}", "通信中断",
         "no answer (comm_lost)"},
        {"{\"kind\":\"co2\",\"quality\":\"warming_up\",\"co2_ppm\":400}", "预热中", "warming up"},
    };
    char now[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_gt(
            watch_format_now(cases[i].json, strlen(cases[i].json), LANG_ZH, now, sizeof(now)), 0);
        ck_assert_str_eq(now, cases[i].zh);
        watch_format_now(cases[i].json, strlen(cases[i].json), LANG_EN, now, sizeof(now));
        ck_assert_str_eq(now, cases[i].en);
    }
    /* Not a reading of a known kind: nothing, never a guess. */
    ck_assert_int_eq(watch_format_now("{\"kind\":\"lift\"}", 15, LANG_ZH, now, sizeof(now)), -1);
    ck_assert_str_eq(now, "");
    ck_assert_int_eq(watch_format_now("not json", 8, LANG_ZH, now, sizeof(now)), -1);
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
    ck_assert(!gwmsg_alarm_is_new(&a));
    watch_format_alarm(&a, WATCH_LINE_ACTIVE, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line, "18:00:00 【提示】维护中 gw · sump-west：维护屏蔽开始，时长 2.0 "
                           "小时，操作人：维保 · 3 分钟前");
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
    gwmsg_alarm_release(&a);
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
        ck_assert_int_gt(n, 120);
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
    ck_assert_str_eq(line, "18:03:04 【严重】报警 某小区人防 · 消防控制箱：火警 · 刚刚");
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
    gwmsg_alarm_release(&a);
    parse(json);
    ck_assert_str_eq(a.reason, "");
    watch_format_alarm(&a, WATCH_LINE_LIVE, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line,
                     "18:03:04 [CRITICAL] CLEARED 某小区人防 · smoke-old: fire cleared · just now");
    free(json);
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

START_TEST(test_ack_target_derives_base_sensor_alarm)
{
    char base[256], sensor[GWMSG_TEXT_MAX + 1], alarm[GWMSG_TEXT_MAX + 1];
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
    char base[256], sensor[GWMSG_TEXT_MAX + 1], alarm[GWMSG_TEXT_MAX + 1], longname[200];
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

/* ---- gateway status ---- */

#define GW1 "shelter/zz/js/fc/df/wk/gw1"
#define GW2 "shelter/zz/eq/jfl/dh/zs/gw2"

/* A status message as shelter-watch takes it: parsed (lib/gwmsg), then the
 * table updated; the parser's refusal (-1, -2) otherwise. */
static int update(struct watch_gateways *g, const char *base, const char *payload, bool *online,
                  const char **id, const char **name)
{
    struct gwmsg_status st;
    char topic[256];
    int rc;

    snprintf(topic, sizeof(topic), "%s/status", base);
    if ((rc = gwmsg_status_parse(topic, payload, strlen(payload), &st, err, sizeof(err))) < 0)
        return rc;
    rc = watch_gateways_update(g, &st, online, id, name);
    gwmsg_status_release(&st);
    return rc;
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

/* ---- identity from the topic ---- */

static int parse_message(const char *topic, const char *json)
{
    return gwmsg_alarm_parse(topic, json, strlen(json), &a, err, sizeof(err));
}

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
    gwmsg_alarm_release(&a);
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

int main(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("watch");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_raised_line_zh_has_site_location_value_threshold_severity_age);
    tcase_add_test(tc, test_raised_line_en);
    tcase_add_test(tc, test_text_follows_watch_language_not_gateway_message);
    tcase_add_test(tc, test_active_line_shows_value_now_beside_value_at_raise);
    tcase_add_test(tc, test_value_now_of_every_kind_in_both_languages);
    tcase_add_test(tc, test_acknowledged_line_names_who);
    tcase_add_test(tc, test_cleared_line);
    tcase_add_test(tc, test_retained_inhibit_shows_as_maintenance);
    tcase_add_test(tc, test_unknown_alarm_falls_back_to_payload_message);
    tcase_add_test(tc, test_other_day_shows_the_date);
    tcase_add_test(tc, test_line_truncated_keeps_utf8_whole);
    tcase_add_loop_test(tc, test_age_wording, 0, sizeof(ages) / sizeof(ages[0]));
    tcase_add_test(tc, test_status_lines);
    tcase_add_test(tc, test_gateway_payload_round_trip);
    tcase_add_test(tc, test_withdrawal_payload_round_trip);
    tcase_add_test(tc, test_duplicate_seq_of_same_gateway_is_dropped);
    tcase_add_test(tc, test_duplicates_remembered_within_capacity_and_bounded);
    tcase_add_test(tc, test_ack_target_derives_base_sensor_alarm);
    tcase_add_test(tc, test_ack_target_rejects_what_is_not_one_alarm);
    tcase_add_test(tc, test_status_changes_reported_once);
    tcase_add_test(tc, test_forgery_neither_shows_nor_hides_an_alarm);
    tcase_add_test(tc, test_duplicate_keys_are_not_cut_short);
    tcase_add_test(tc, test_refusals_logged_once_per_gateway);
    tcase_add_test(tc, test_alarm_line_escapes_control_characters_of_the_payload);
    tcase_add_test(tc, test_status_line_escapes_control_characters);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
