/* Unit tests: MQTT command parsing (strict) and the contract payloads. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check_run.h"
#include "cfg.h"
#include "command.h"
#include "payload.h"

static struct command cmd;
static char err[256];

static int parse(const char *verb, const char *json)
{
    return command_parse(verb, json, strlen(json), "gw-1", &cmd, err, sizeof(err));
}

START_TEST(test_ack_parses_sensor_alarm_and_by)
{
    ck_assert_int_eq(
        parse("ack", "{\"id\":\"a1\",\"sensor\":\"sump-1\",\"alarm\":\"high\",\"by\":\"王经理\"}"),
        0);
    ck_assert_int_eq(cmd.verb, CMD_ACK);
    ck_assert_str_eq(cmd.id, "a1");
    ck_assert_str_eq(cmd.sensor, "sump-1");
    ck_assert_str_eq(cmd.alarm, "high");
    ck_assert_str_eq(cmd.by, "王经理");
}
END_TEST

START_TEST(test_by_defaults_to_mqtt)
{
    ck_assert_int_eq(parse("test", "{\"id\":\"t\"}"), 0);
    ck_assert_str_eq(cmd.by, "mqtt");
    ck_assert_str_eq(cmd.sensor, "");
}
END_TEST

START_TEST(test_inhibit_duration_with_unit_and_zero_ends)
{
    ck_assert_int_eq(parse("inhibit", "{\"id\":\"i\",\"sensor\":\"door-1\",\"duration\":\"2h\"}"),
                     0);
    ck_assert_int_eq(cmd.duration_ms, 2 * 3600 * 1000);
    ck_assert_int_eq(parse("inhibit", "{\"id\":\"i\",\"sensor\":\"door-1\",\"duration\":\"0s\"}"),
                     0);
    ck_assert_int_eq(cmd.duration_ms, 0);
}
END_TEST

START_TEST(test_mode_parses_each_mode)
{
    ck_assert_int_eq(parse("mode", "{\"id\":\"m\",\"mode\":\"flood_season\"}"), 0);
    ck_assert_int_eq(cmd.mode, MODE_FLOOD_SEASON);
    ck_assert_int_eq(parse("mode", "{\"id\":\"m\",\"mode\":\"protective\",\"gateway\":\"gw-1\"}"),
                     0);
    ck_assert_int_eq(cmd.mode, MODE_PROTECTIVE);
}
END_TEST

/* Each malformed command is rejected with a reason; the id is kept when usable. */
static const struct {
    const char *verb, *json, *reason;
    int id_kept;
} bad[] = {
    {"ack", "not json", "not valid JSON", 0},
    {"ack", "[1,2]", "not a JSON object", 0},
    {"ack", "{\"sensor\":\"s\",\"alarm\":\"a\"}", "missing field \"id\"", 0},
    {"ack", "{\"id\":17,\"sensor\":\"s\",\"alarm\":\"a\"}", "field \"id\" must be a string", 0},
    {"ack", "{\"id\":\"\",\"sensor\":\"s\",\"alarm\":\"a\"}", "field \"id\" must be 1..64", 0},
    {"reboot", "{\"id\":\"x\"}", "unknown command \"reboot\"", 1},
    {"ack", "{\"id\":\"x\",\"sensor\":\"s\"}", "missing field \"alarm\"", 1},
    {"ack", "{\"id\":\"x\",\"sensor\":\"s\",\"alarm\":\"a\",\"force\":true}",
     "unknown field \"force\"", 1},
    {"mode", "{\"id\":\"x\",\"mode\":\"war\"}", "unknown mode \"war\"", 1},
    {"mode", "{\"id\":\"x\",\"mode\":3}", "field \"mode\" must be a string", 1},
    {"inhibit", "{\"id\":\"x\",\"sensor\":\"s\",\"duration\":\"2\"}", "field \"duration\": ", 1},
    {"inhibit", "{\"id\":\"x\",\"sensor\":\"s\",\"duration\":\"30d\"}", "field \"duration\": ", 1},
    {"inhibit", "{\"id\":\"x\",\"sensor\":\"s\",\"duration\":7200}",
     "field \"duration\": must be a string", 1},
    {"inhibit", "{\"id\":\"x\",\"sensor\":\"s\"}", "missing field \"duration\"", 1},
    {"ack", "{\"id\":\"x\",\"gateway\":\"gw-2\",\"sensor\":\"s\",\"alarm\":\"a\"}",
     "command is for gateway \"gw-2\"", 1},
    {"ack", "{\"id\":\"x\",\"sensor\":\"s\",\"sensor\":\"t\",\"alarm\":\"a\"}",
     "duplicate field \"sensor\"", 1},
    {"ack", "{\"id\":\"x\",\"sensor\":\"a\\u0001b\",\"alarm\":\"a\"}",
     "field \"sensor\" is not printable UTF-8", 1},
    {"ack",
     "{\"id\":\"x\",\"sensor\":\"s\",\"alarm\":\"a\",\"by\":"
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
     "field \"by\" must be 1..64", 1},
    {"test", "{\"id\":\"x\",\"mode\":\"peacetime\"}", "unknown field \"mode\" for test", 1},
};

START_TEST(test_malformed_commands_are_rejected_with_reason)
{
    int i = _i;
    int rc = parse(bad[i].verb, bad[i].json);
    ck_assert_msg(rc == -1, "case %d accepted: %s", i, bad[i].json);
    ck_assert_msg(strncmp(err, bad[i].reason, strlen(bad[i].reason)) == 0,
                  "case %d: got \"%s\", want \"%s...\"", i, err, bad[i].reason);
    if (bad[i].id_kept)
        ck_assert_str_eq(cmd.id, "x");
    else
        ck_assert_str_eq(cmd.id, "");
}
END_TEST

START_TEST(test_oversized_command_rejected_unparsed)
{
    char *big = malloc(CMD_MAX_BYTES + 10);
    memset(big, ' ', CMD_MAX_BYTES + 9);
    big[0] = '{';
    big[CMD_MAX_BYTES + 8] = '}';
    big[CMD_MAX_BYTES + 9] = '\0';
    ck_assert_int_eq(parse("ack", big), -1);
    ck_assert_str_eq(err, "command too large (2057 bytes, at most 2048)");
    free(big);
}
END_TEST

START_TEST(test_embedded_nul_rejected)
{
    const char json[] = "{\"id\":\"x\"}\0garbage";
    ck_assert_int_eq(command_parse("test", json, sizeof(json) - 1, "gw-1", &cmd, err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "command contains a NUL byte");
}
END_TEST

/* cJSON decodes \u0000 into the middle of its C string: "nul\u0000x" would
 * read as the id "nul".  Such a command is refused, and a cut id is never
 * echoed (the reply would answer a command nobody sent). */
START_TEST(test_escaped_nul_in_id_rejected_and_not_echoed)
{
    ck_assert_int_eq(parse("test", "{\"id\":\"nul\\u0000x\"}"), -1);
    ck_assert_str_eq(err, "field \"id\" contains an escaped NUL (\\u0000)");
    ck_assert_str_eq(cmd.id, "");
}
END_TEST

START_TEST(test_escaped_nul_in_any_field_rejected)
{
    static const char *const bad_nul[] = {
        "{\"id\":\"a1\",\"sensor\":\"sump-1\\u0000x\",\"alarm\":\"high\"}",
        "{\"id\":\"a1\",\"sensor\":\"sump-1\",\"alarm\":\"high\",\"by\":\"\\u0000\"}",
        "{\"id\":\"a1\",\"sensor\":\"sump-1\",\"alarm\":\"hi\\u0000gh\"}",
        "{\"id\":\"a1\",\"gateway\":\"gw-1\\u0000other\",\"sensor\":\"s\",\"alarm\":\"a\"}",
        /* in a key: "sensor\u0000x" would be read as "sensor" */
        "{\"id\":\"a1\",\"sensor\\u0000x\":\"s\",\"alarm\":\"a\"}",
    };
    for (size_t i = 0; i < sizeof(bad_nul) / sizeof(bad_nul[0]); i++) {
        ck_assert_msg(parse("ack", bad_nul[i]) == -1, "accepted: %s", bad_nul[i]);
        ck_assert_msg(strstr(err, "contains an escaped NUL") != NULL, "%s: %s", bad_nul[i], err);
        ck_assert_str_eq(cmd.id, "a1");
    }
    /* A key cut short to "id" does not make its value the id. */
    ck_assert_int_eq(parse("test", "{\"id\\u0000x\":\"t\"}"), -1);
    ck_assert_str_eq(cmd.id, "");
}
END_TEST

/* Only the escape of NUL is refused: an escaped backslash before the text
 * u0000, other \u escapes and an escaped quote are ordinary text. */
START_TEST(test_escapes_other_than_nul_accepted)
{
    ck_assert_int_eq(
        parse("ack", "{\"id\":\"a\\\\u0000\",\"sensor\":\"s\\\"q\",\"alarm\":\"\\u0041\"}"), 0);
    ck_assert_str_eq(cmd.id, "a\\u0000");
    ck_assert_str_eq(cmd.sensor, "s\"q");
    ck_assert_str_eq(cmd.alarm, "A");
}
END_TEST

/* ---- payloads ---- */

static struct cfg site(void)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    strcpy(c.id, "gw-1");
    strcpy(c.city, "zhengzhou");
    strcpy(c.district, "jinshui");
    strcpy(c.street, "fengchan");
    strcpy(c.community, "dongfeng");
    strcpy(c.property, "wanke");
    strcpy(c.name, "东风人防");
    strcpy(c.mqtt.topic_prefix, "shelter");
    return c;
}

START_TEST(test_topic_base_has_five_levels_and_id)
{
    struct cfg c = site();
    char base[256];
    ck_assert_int_gt(payload_topic_base(&c, base, sizeof(base)), 0);
    ck_assert_str_eq(base, "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke/gw-1");
    ck_assert_int_eq(payload_topic_base(&c, base, 10), -1);
}
END_TEST

START_TEST(test_alarm_payload_has_every_contract_field)
{
    struct cfg c = site();
    struct alarm_msg m = {.seq = 42,
                          .ts_ms = 1784570584123LL,
                          .sensor = "sump-1",
                          .kind = "water_level",
                          .location = "B1 东侧",
                          .alarm = "high_high",
                          .event = "raised",
                          .active = true,
                          .acked = false,
                          .severity = "critical",
                          .value = 1.1,
                          .threshold = 1.08,
                          .unit = "m",
                          .mode = MODE_FLOOD_SEASON,
                          .message = "集水坑水位超高",
                          .by = ""};
    char *p = payload_alarm(&c, &m);
    cJSON *o = cJSON_Parse(p);
    ck_assert_ptr_nonnull(o);
    ck_assert_double_eq(cJSON_GetObjectItem(o, "seq")->valuedouble, 42);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "ts")->valuestring, "2026-07-20T18:03:04.123Z");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "gateway")->valuestring, "gw-1");
    cJSON *s = cJSON_GetObjectItem(o, "site");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "city")->valuestring, "zhengzhou");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "district")->valuestring, "jinshui");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "street")->valuestring, "fengchan");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "community")->valuestring, "dongfeng");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "property")->valuestring, "wanke");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "shelter")->valuestring, "gw-1");
    ck_assert_str_eq(cJSON_GetObjectItem(s, "name")->valuestring, "东风人防");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "sensor")->valuestring, "sump-1");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "kind")->valuestring, "water_level");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "location")->valuestring, "B1 东侧");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "alarm")->valuestring, "high_high");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "event")->valuestring, "raised");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "active")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "acked")));
    ck_assert_str_eq(cJSON_GetObjectItem(o, "severity")->valuestring, "critical");
    ck_assert_double_eq_tol(cJSON_GetObjectItem(o, "value")->valuedouble, 1.1, 1e-9);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "unit")->valuestring, "m");
    ck_assert_double_eq_tol(cJSON_GetObjectItem(o, "threshold")->valuedouble, 1.08, 1e-9);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "mode")->valuestring, "flood_season");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "message")->valuestring, "集水坑水位超高");
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "by"));
    cJSON_Delete(o);
    free(p);
}
END_TEST

START_TEST(test_alarm_payload_nan_is_null_not_nan)
{
    struct cfg c = site();
    struct alarm_msg m = {.seq = 1,
                          .sensor = "door-1",
                          .kind = "blast_door",
                          .alarm = "chatter",
                          .event = "test",
                          .severity = "major",
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .by = "installer"};
    char *p = payload_alarm(&c, &m);
    ck_assert_ptr_nonnull(strstr(p, "\"value\":null"));
    ck_assert_ptr_nonnull(strstr(p, "\"threshold\":null"));
    ck_assert_ptr_nonnull(strstr(p, "\"by\":\"installer\""));
    ck_assert_ptr_null(strstr(p, "nan"));
    free(p);
}
END_TEST

START_TEST(test_cmd_result_echoes_id_or_null)
{
    char *p = payload_cmd_result("a1", "ack", false, "not active", 0);
    ck_assert_str_eq(p, "{\"id\":\"a1\",\"verb\":\"ack\",\"ok\":false,\"error\":\"not "
                        "active\",\"ts\":\"1970-01-01T00:00:00.000Z\"}");
    free(p);
    p = payload_cmd_result(NULL, "ack", false, "not valid JSON", 0);
    ck_assert_ptr_nonnull(strstr(p, "\"id\":null"));
    free(p);
}
END_TEST

START_TEST(test_silence_names_its_output)
{
    ck_assert_int_eq(parse("silence", "{\"id\":\"s1\",\"output\":\"ramp-siren\",\"by\":\"li\"}"),
                     0);
    ck_assert_int_eq(cmd.verb, CMD_SILENCE);
    ck_assert_str_eq(cmd.output, "ramp-siren");
    ck_assert_str_eq(cmd.by, "li");
    ck_assert_int_eq(parse("silence", "{\"id\":\"s2\"}"), -1);
    ck_assert_str_eq(err, "missing field \"output\"");
    ck_assert_int_eq(parse("silence", "{\"id\":\"s3\",\"output\":\"x\",\"sensor\":\"y\"}"), -1);
    ck_assert_int_eq(
        parse("ack", "{\"id\":\"a\",\"sensor\":\"s\",\"alarm\":\"a\",\"output\":\"x\"}"), -1);
}
END_TEST

START_TEST(test_test_takes_outputs_bool)
{
    ck_assert_int_eq(parse("test", "{\"id\":\"t1\",\"outputs\":true}"), 0);
    ck_assert(cmd.outputs);
    ck_assert_int_eq(parse("test", "{\"id\":\"t2\"}"), 0);
    ck_assert(!cmd.outputs);
    ck_assert_int_eq(parse("test", "{\"id\":\"t3\",\"outputs\":\"yes\"}"), -1);
    ck_assert_str_eq(err, "field \"outputs\" must be true or false");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("command");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ack_parses_sensor_alarm_and_by);
    tcase_add_test(tc, test_by_defaults_to_mqtt);
    tcase_add_test(tc, test_inhibit_duration_with_unit_and_zero_ends);
    tcase_add_test(tc, test_mode_parses_each_mode);
    tcase_add_loop_test(tc, test_malformed_commands_are_rejected_with_reason, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_oversized_command_rejected_unparsed);
    tcase_add_test(tc, test_embedded_nul_rejected);
    tcase_add_test(tc, test_escaped_nul_in_id_rejected_and_not_echoed);
    tcase_add_test(tc, test_escaped_nul_in_any_field_rejected);
    tcase_add_test(tc, test_escapes_other_than_nul_accepted);
    tcase_add_test(tc, test_topic_base_has_five_levels_and_id);
    tcase_add_test(tc, test_alarm_payload_has_every_contract_field);
    tcase_add_test(tc, test_alarm_payload_nan_is_null_not_nan);
    tcase_add_test(tc, test_cmd_result_echoes_id_or_null);
    tcase_add_test(tc, test_silence_names_its_output);
    tcase_add_test(tc, test_test_takes_outputs_bool);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
