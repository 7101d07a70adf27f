/* Unit tests: lib/gwmsg.c, a gateway's messages as the centre receives
 * them: alarm payloads (every field, bad ones refused with a reason), the
 * identity of a message taken from its topic (forgeries refused, reasons
 * printable), status payloads, cmd_result and the ack command, RFC 3339
 * times, severity ranks. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check_run.h"
#include "gwmsg.h"
#include "textbuf.h"

/* 2026-07-20T10:03:04.123Z */
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
static char err[256];

static void parse(const char *json)
{
    ck_assert_msg(gwmsg_alarm_parse_payload(json, strlen(json), &a, err, sizeof(err)) == 0, "%s",
                  err);
}

static void teardown(void)
{
    gwmsg_alarm_release(&a);
}

/* ---- alarm payloads ---- */

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
    ck_assert(gwmsg_alarm_is_new(&a));
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
    ck_assert_int_eq(gwmsg_alarm_parse_payload(j, strlen(j), &a, err, sizeof(err)), -1);
    ck_assert_int_gt(strlen(err), 0);
    ck_assert_ptr_null(a.json);
}
END_TEST

START_TEST(test_payload_with_nul_byte_is_rejected)
{
    const char j[] = "{\"seq\":1,\"gateway\":\"g\0\"}";
    ck_assert_int_eq(gwmsg_alarm_parse_payload(j, sizeof(j) - 1, &a, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_parse_time)
{
    int64_t ms;
    ck_assert_int_eq(gwmsg_time_parse("2026-07-20T10:03:04.123Z", &ms), 0);
    ck_assert_int_eq(ms, TS);
    ck_assert_int_eq(gwmsg_time_parse("2026-07-20T18:03:04.123+08:00", &ms), 0);
    ck_assert_int_eq(ms, TS);
    ck_assert_int_eq(gwmsg_time_parse("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(gwmsg_time_parse("2024-02-29T00:00:01.5Z", &ms), 0);
    ck_assert_int_eq(ms, 1709164801500LL);
    ck_assert_int_eq(gwmsg_time_parse("2026-07-20 10:03:04Z", &ms), -1);
    ck_assert_int_eq(gwmsg_time_parse("2026-07-20T10:03:04", &ms), -1);
    ck_assert_int_eq(gwmsg_time_parse("2026-13-20T10:03:04Z", &ms), -1);
    ck_assert_int_eq(gwmsg_time_parse("2026-07-20T10:03:04Zjunk", &ms), -1);
    ck_assert_int_eq(gwmsg_time_parse("", &ms), -1);
}
END_TEST

START_TEST(test_severity_rank_orders_critical_first)
{
    ck_assert_int_lt(gwmsg_severity_rank("critical"), gwmsg_severity_rank("major"));
    ck_assert_int_lt(gwmsg_severity_rank("major"), gwmsg_severity_rank("minor"));
    ck_assert_int_lt(gwmsg_severity_rank("minor"), gwmsg_severity_rank("info"));
    ck_assert_int_lt(gwmsg_severity_rank("info"), gwmsg_severity_rank("bogus"));
}
END_TEST

/* ---- identity from the topic ---- */

#define SUMP_TOPIC                                                                                 \
    "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1/alarm/sump-east/"     \
    "high_high"

static int parse_message(const char *topic, const char *json)
{
    return gwmsg_alarm_parse(topic, json, strlen(json), &a, err, sizeof(err));
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
    struct gwmsg_alarm copy = a;
    memset(&a, 0, sizeof(a));
    ck_assert_str_eq(copy.community, "dongfeng");
    ck_assert_str_eq(copy.property, "wanke-wuye");
    ck_assert_str_eq(copy.sensor, "sump-east");
    ck_assert_str_eq(copy.site_name, "东风小区地下人防工程（演示）");
    gwmsg_alarm_release(&copy);
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
    ck_assert_int_eq(gwmsg_alarm_parse(NULL, SUMP_HH, strlen(SUMP_HH), &a, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_message(SUMP_TOPIC, "not json"), -1);
    ck_assert_ptr_null(a.json);
}
END_TEST

/* ---- status ---- */

#define GW1 "shelter/zz/js/fc/df/wk/gw1"

static struct gwmsg_status st;

static int status(const char *base, const char *payload)
{
    char topic[256];
    gwmsg_status_release(&st);
    snprintf(topic, sizeof(topic), "%s/status", base);
    err[0] = '\0';
    return gwmsg_status_parse(topic, payload, strlen(payload), &st, err, sizeof(err));
}

START_TEST(test_status_takes_identity_from_the_topic)
{
    ck_assert_msg(
        status(GW1,
               "{\"online\":true,\"gateway\":\"gw1\",\"name\":\"东风小区\","
               "\"ts\":\"2026-07-20T10:03:04.123Z\",\"since\":\"2026-07-20T10:03:04.123Z\"}") == 0,
        "%s", err);
    ck_assert(st.online);
    ck_assert_str_eq(st.base, GW1);
    ck_assert_str_eq(st.gateway, "gw1");
    ck_assert_str_eq(st.name, "东风小区");
    ck_assert_int_eq(st.ts_ms, TS);
    ck_assert_int_eq(st.since_ms, TS);
    /* The will: no id, no name, no times. */
    ck_assert_int_eq(status(GW1, "{\"online\":false}"), 0);
    ck_assert(!st.online);
    ck_assert_str_eq(st.gateway, "gw1");
    ck_assert_str_eq(st.name, "");
    ck_assert_int_eq(st.ts_ms, 0);
    gwmsg_status_release(&st);
    gwmsg_status_release(&st); /* released: a no-op */
    gwmsg_status_release(NULL);
}
END_TEST

START_TEST(test_status_naming_another_gateway_is_refused)
{
    /* gw1 publishes, on its own status topic, that gw2 is offline. */
    ck_assert_int_eq(status(GW1, "{\"online\":false,\"gateway\":\"gw2\",\"name\":\"德化\"}"), -2);
    ck_assert_ptr_nonnull(strstr(err, "\"gw2\""));
    ck_assert_ptr_nonnull(strstr(err, "\"gw1\""));
    ck_assert_ptr_null(st.json);
    ck_assert_int_eq(status(GW1, "{\"online\":true,\"gateway\":7}"), -2);
    ck_assert_int_eq(status(GW1, "nope"), -1);
    ck_assert_int_eq(status(GW1, "{}"), -1);
    ck_assert_int_eq(status(GW1, "{\"online\":1}"), -1);
    /* A topic too short to name a shelter is no gateway's. */
    ck_assert_int_eq(status("s/a/gw1", "{\"online\":true}"), -1);
    ck_assert_int_eq(status("zz/js/fc/df/wk/gw1", "{\"online\":true}"), -1);
    ck_assert_int_eq(status("shelter//js/fc/df/wk/gw1", "{\"online\":true}"), -1);
    ck_assert_int_eq(
        gwmsg_status_parse(GW1 "/alarm/s/a", "{\"online\":true}", 15, &st, err, sizeof(err)), -1);
    /* A longer prefix is fine; the id is always the topic's. */
    ck_assert_int_eq(
        status("cn/shelter/zz/js/fc/df/wk/gw3", "{\"online\":true,\"gateway\":\"gw3\"}"), 0);
    ck_assert_str_eq(st.gateway, "gw3");
    gwmsg_status_release(&st);
}
END_TEST

START_TEST(test_status_reads_the_fleet_fields)
{
    ck_assert_msg(status(GW1, "{\"online\":true,\"gateway\":\"gw1\",\"mode\":\"flood_season\","
                              "\"version\":\"0.2.0\",\"config\":\"0123456789abcdef\","
                              "\"sensors\":8,\"alarms\":{\"critical\":2,\"major\":0,"
                              "\"minor\":1,\"info\":0,\"other\":5},\"heartbeat_s\":300,"
                              "\"new_field\":[1]}") == 0,
                  "%s", err);
    ck_assert_str_eq(st.mode, "flood_season");
    ck_assert_str_eq(st.version, "0.2.0");
    ck_assert_str_eq(st.config, "0123456789abcdef");
    ck_assert_int_eq(st.sensors, 8);
    ck_assert(st.has_alarms);
    ck_assert_int_eq(st.alarms[0], 2);
    ck_assert_int_eq(st.alarms[1], 0);
    ck_assert_int_eq(st.alarms[2], 1);
    ck_assert_int_eq(st.alarms[3], 0);
    ck_assert_int_eq(st.heartbeat_ms, 300000);
    /* A gateway before 0.2: none of them, and still a status. */
    ck_assert_int_eq(status(GW1, "{\"online\":true}"), 0);
    ck_assert_str_eq(st.mode, "");
    ck_assert_str_eq(st.config, "");
    ck_assert_int_eq(st.sensors, -1);
    ck_assert(!st.has_alarms);
    ck_assert_int_eq(st.heartbeat_ms, 0);
    /* Wrong types read as absent, never as a refusal or a garbage count. */
    ck_assert_int_eq(status(GW1, "{\"online\":true,\"mode\":3,\"sensors\":-1,\"heartbeat_s\":"
                                 "1.5,\"alarms\":{\"critical\":\"2\",\"major\":1e12}}"),
                     0);
    ck_assert_str_eq(st.mode, "");
    ck_assert_int_eq(st.sensors, -1);
    ck_assert_int_eq(st.heartbeat_ms, 0);
    ck_assert(st.has_alarms);
    ck_assert_int_eq(st.alarms[0], 0);
    ck_assert_int_eq(st.alarms[1], 0);
    gwmsg_status_release(&st);
}
END_TEST

START_TEST(test_will_publication_time_from_its_expiry)
{
    const int64_t now = TS;
    /* Received 90 s after the broker published it: 90 s of its interval gone. */
    ck_assert_int_eq(gwmsg_status_published_ms((int64_t)GWMSG_WILL_EXPIRY_S - 90, now),
                     now - 90000);
    ck_assert_int_eq(gwmsg_status_published_ms(GWMSG_WILL_EXPIRY_S, now), now);
    /* No interval, one larger than a will's, or before 2020: unknown. */
    ck_assert_int_eq(gwmsg_status_published_ms(-1, now), 0);
    ck_assert_int_eq(gwmsg_status_published_ms((int64_t)GWMSG_WILL_EXPIRY_S + 1, now), 0);
    ck_assert_int_eq(gwmsg_status_published_ms(3600, now), 0);
}
END_TEST

/* ---- commands ---- */

START_TEST(test_fleet_payload_is_a_gateway_command)
{
    char *p = gwmsg_fleet_payload("w-2", "gw1", "flood_season", "二七区人防办");
    cJSON *o = cJSON_Parse(p);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "id")->valuestring, "w-2");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "gateway")->valuestring, "gw1");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "mode")->valuestring, "flood_season");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "by")->valuestring, "二七区人防办");
    ck_assert_int_eq(cJSON_GetArraySize(o), 4);
    cJSON_Delete(o);
    free(p);
    p = gwmsg_fleet_payload("w-3", "gw1", NULL, NULL); /* test */
    ck_assert_str_eq(p, "{\"id\":\"w-3\",\"gateway\":\"gw1\"}");
    free(p);
}
END_TEST

START_TEST(test_ack_payload_is_the_gateway_ack_command)
{
    char *p = gwmsg_ack_payload("w-1", "smoke-relay", "fire", "物业王经理");
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
    ck_assert_int_eq(gwmsg_cmd_result(r1, strlen(r1), "w-1", &ok, why, sizeof(why)), 1);
    ck_assert(ok);
    ck_assert_int_eq(gwmsg_cmd_result(r2, strlen(r2), "w-1", &ok, why, sizeof(why)), 1);
    ck_assert(!ok);
    ck_assert_str_eq(why, "alarm fire of s is not active");
    ck_assert_int_eq(gwmsg_cmd_result(r3, strlen(r3), "w-1", &ok, why, sizeof(why)), 0);
    ck_assert_int_eq(gwmsg_cmd_result(r4, strlen(r4), "w-1", &ok, why, sizeof(why)), 0);
    ck_assert_int_eq(gwmsg_cmd_result("{", 1, "w-1", &ok, why, sizeof(why)), -1);
    ck_assert_int_eq(gwmsg_cmd_result("{\"id\":\"w-1\"}", 12, "w-1", &ok, why, sizeof(why)), -1);
}
END_TEST

START_TEST(test_cmd_result_reason_escapes_control_characters)
{
    bool ok = true;
    char why[128];
    const char *r = "{\"id\":\"w-1\",\"ok\":false,\"error\":\"no\\u001b[8m such\x01 alarm\\n\"}";
    ck_assert_int_eq(gwmsg_cmd_result(r, strlen(r), "w-1", &ok, why, sizeof(why)), 1);
    ck_assert(!ok);
    ck_assert_str_eq(why, "no?[8m such? alarm?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gwmsg");
    TCase *tc = tcase_create("gwmsg");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_parse_reads_every_field);
    tcase_add_loop_test(tc, test_bad_payload_is_rejected_with_a_reason, 0,
                        sizeof(bad_payloads) / sizeof(bad_payloads[0]));
    tcase_add_test(tc, test_payload_with_nul_byte_is_rejected);
    tcase_add_test(tc, test_parse_time);
    tcase_add_test(tc, test_severity_rank_orders_critical_first);
    tcase_add_test(tc, test_message_takes_identity_from_the_topic);
    tcase_add_test(tc, test_message_without_site_gets_the_topics);
    tcase_add_loop_test(tc, test_payload_disagreeing_with_its_topic_is_refused, 0,
                        sizeof(forgeries) / sizeof(forgeries[0]));
    tcase_add_test(tc, test_message_with_bad_site_or_topic_is_refused);
    tcase_add_test(tc, test_refusal_reason_is_printable);
    tcase_add_test(tc, test_status_takes_identity_from_the_topic);
    tcase_add_test(tc, test_status_naming_another_gateway_is_refused);
    tcase_add_test(tc, test_status_reads_the_fleet_fields);
    tcase_add_test(tc, test_will_publication_time_from_its_expiry);
    tcase_add_test(tc, test_ack_payload_is_the_gateway_ack_command);
    tcase_add_test(tc, test_fleet_payload_is_a_gateway_command);
    tcase_add_test(tc, test_cmd_result_matched_by_id);
    tcase_add_test(tc, test_cmd_result_reason_escapes_control_characters);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
