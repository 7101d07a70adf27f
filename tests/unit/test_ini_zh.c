/*
 * Unit tests of lib/ini_zh.c: configuration problems in Chinese for the
 * installer (ini_translate()).  FILE:LINE, section and key stay as they are;
 * the reason becomes Chinese and says what to do; every message the tree
 * produces has a Chinese form (the list below is each format of lib/ini,
 * lib/parse, lib/mqttcfg, lib/influxcfg, gateway/cfg.c, gateway/filecheck.c
 * and sensors/model.c with sample values); English stays as it is.  Links
 * lib alone.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_run.h"
#include "ini.h"

#define PATH "/etc/shelter-gateway/gateway.conf"

static char out[2048];

static void zh(const char *line)
{
    ck_assert_msg(ini_translate(line, PATH, LANG_ZH, out, sizeof(out)) > 0, "no zh form: %s", line);
}

START_TEST(test_gbk_file_tells_to_save_as_utf8)
{
    zh(PATH ":19: [gateway] name: not valid UTF-8 text (is the file saved as GBK? it must be "
            "UTF-8)");
    ck_assert_str_eq(out, PATH ":19: [gateway] name: 值不是有效的 UTF-8 "
                               "文本：文件可能是用 GBK 编码保存的（记事本、WPS 的“ANSI”），"
                               "请将文件另存为 UTF-8 编码");
    zh(PATH ":6: section header is not valid UTF-8 (is the file saved as GBK? it must be UTF-8)");
    ck_assert_ptr_nonnull(strstr(out, PATH ":6: 节标题不是有效的 UTF-8 文本"));
    ck_assert_ptr_nonnull(strstr(out, "请将文件另存为 UTF-8 编码"));
    zh(PATH ":1: the file is UTF-16: it must be UTF-8");
    ck_assert_str_eq(out, PATH ":1: 文件是 UTF-16 编码：请将文件另存为 UTF-8 编码");
}
END_TEST

START_TEST(test_unknown_key_keeps_file_line_section_and_key)
{
    zh(PATH ":61: [sensor sump-east] pit_depht: unknown key");
    ck_assert_str_eq(out, PATH ":61: [sensor sump-east] pit_depht: 未知的键：请检查拼写"
                               "（各个键的说明见 shelter-gateway.conf(5) 和示例 gateway.conf）");
}
END_TEST

START_TEST(test_bad_values_say_what_is_allowed)
{
    zh(PATH ":32: [bus rs485-1] baud: 9601 is not a supported baud rate (1200, 2400, 4800, 9600, "
            "19200, 38400, 57600, 115200)");
    ck_assert_str_eq(out, PATH ":32: [bus rs485-1] baud: 不支持波特率 9601（可选：1200, 2400, "
                               "4800, 9600, 19200, 38400, 57600, 115200）：请按设备说明书或设备上的"
                               "设置填写，常见为 9600");
    zh(PATH ":59: [sensor sump-east] interval: '1' needs a unit (ms, s, min, h, d)");
    ck_assert_str_eq(out, PATH ":59: [sensor sump-east] interval: '1' 缺少单位（ms, s, min, h, "
                               "d）：例如 2s、10min");
    zh(PATH ":12: [gateway] mode: 'summer' is not one of: peacetime, flood_season, protective");
    ck_assert_str_eq(out, PATH ":12: [gateway] mode: 'summer' 不是可选的值：只能是 peacetime, "
                               "flood_season, protective 之一");
}
END_TEST

START_TEST(test_missing_file)
{
    zh(PATH ": cannot open: No such file or directory");
    ck_assert_str_eq(out, PATH ": 无法打开配置文件：文件或目录不存在。请检查 -c "
                               "指定的路径，以及当前用户能否读取该文件");
}
END_TEST

/* A file check's line with the consequence appended: both parts in Chinese. */
START_TEST(test_file_check_with_consequence)
{
    zh(PATH ":96: [mqtt] password_file: /etc/shelter-gateway/mqtt.password: No such file or "
            "directory; no MQTT uplink until it is fixed (alarm gateway/uplink)");
    ck_assert_str_eq(out, PATH ":96: [mqtt] password_file: /etc/shelter-gateway/mqtt.password："
                               "不存在：请创建它，或改正路径；改好之前网关不能上传到 MQTT 服务器"
                               "（报警 gateway/uplink），本地采集和报警照常");
    /* Without the file's prefix (the gateway's own summary line). */
    ck_assert_int_gt(ini_translate("[mqtt] unusable: no MQTT uplink until it is fixed (alarm "
                                   "gateway/uplink)",
                                   PATH, LANG_ZH, out, sizeof(out)),
                     0);
    ck_assert_str_eq(out, "[mqtt] unusable: 改好之前网关不能上传到 MQTT 服务器（报警 "
                          "gateway/uplink），本地采集和报警照常");
}
END_TEST

START_TEST(test_english_is_left_as_it_is)
{
    const char *line = PATH ":61: [sensor sump-east] pit_depht: unknown key";
    ck_assert_int_eq(ini_translate(line, PATH, LANG_EN, out, sizeof(out)), (int)strlen(line));
    ck_assert_str_eq(out, line);
    /* No Chinese form: -1, and the line as it is. */
    line = PATH ":3: [gateway] id: a reason nobody wrote yet";
    ck_assert_int_eq(ini_translate(line, PATH, LANG_ZH, out, sizeof(out)), -1);
    ck_assert_str_eq(out, line);
}
END_TEST

START_TEST(test_cut_at_a_whole_character)
{
    char small[60];
    int n =
        ini_translate(PATH ":61: [sensor s] k: unknown key", PATH, LANG_ZH, small, sizeof(small));
    ck_assert_int_gt(n, (int)sizeof(small));
    ck_assert_uint_lt(strlen(small), sizeof(small));
    /* the last byte is no lead or continuation byte of a cut character */
    for (const unsigned char *p = (const unsigned char *)small; *p;) {
        int len = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
        for (int k = 1; k < len; k++)
            ck_assert_msg((p[k] & 0xC0) == 0x80, "cut inside a character");
        p += len;
    }
}
END_TEST

/* Every reason the tree can give (one sample of each format string). */
static const char *const every_reason[] = {
    /* lib/ini.c */
    "too long (at most 63 bytes)",
    "90s5 is not a whole number of seconds",
    "not valid UTF-8 text",
    "'东风' is not topic-safe (use only A-Z a-z 0-9 _ -)",
    "'a b' is not topic-safe (levels of A-Z a-z 0-9 _ - separated by '/')",
    "'a b' is not a host name or address",
    "'ftp://x' is not an http:// or https:// URL",
    "missing (required)",
    "section header without ']'",
    "unexpected text after ']'",
    "unknown section (expected gateway, mqtt, influx, bus, sensor)",
    "needs a name: [sensor NAME]",
    "takes no name: [gateway]",
    "name '东风' is not topic-safe (use only A-Z a-z 0-9 _ -, at most 63 bytes)",
    "name too long",
    "name too long (at most 63 bytes)",
    "duplicate section (first at line 4)",
    "expected `key = value`",
    "missing key before '='",
    "key is not valid UTF-8 (is the file saved as GBK? it must be UTF-8)",
    "key outside any section",
    "comment is not valid UTF-8 (is the file saved as GBK? it must be UTF-8)",
    "unknown key",
    "out of memory",
    "duplicate key (first at line 7)",
    "not valid UTF-8 text (is the file saved as GBK? it must be UTF-8)",
    "empty value",
    "read error after line 3: Input/output error",
    "the file is UTF-16: it must be UTF-8",
    "NUL byte in line",
    "section header is not valid UTF-8 (is the file saved as GBK? it must be UTF-8)",
    "line too long (at most 198 bytes)",
    "cannot open: Permission denied",
    "syntax error",
    "parsing stopped early",
    "no sensor: at least one [sensor NAME] section is required",
    "no bus: at least one [bus NAME] section is required",
    "no point: at least one [point NAME] section is required",
    "required section missing",
    /* lib/parse.c */
    "300 is out of range (1..247)",
    "'x' is not an integer",
    "'0xZZ' is not a hex number",
    "'abc' is not a number",
    "'5 apples' is not a duration (a whole number with a unit: ms, s, min, h, d)",
    "'5x' is not a size (a whole number with a unit: B, KB, MB, GB)",
    "'5' needs a unit (ms, s, min, h, d)",
    "'5y': unknown unit 'y' (use ms, s, min, h, d)",
    "'maybe' is not yes or no",
    "'fr' is not one of: zh, en",
    "'20 per min' is not a rate (COUNT/PERIOD, e.g. 20/min)",
    "'0/min': count 0 is out of range (1..1000)",
    "'5/x': period 'x' needs a unit (s, min, h)",
    /* gateway/cfg.c */
    "1234 is not a supported baud rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)",
    "unknown kind 'flood' (one of: water_level, water_leak, co2, blast_door, smoke)",
    "channel 3 listed twice",
    "the name 'gateway' is reserved for the gateway's own alarms",
    "unknown key (or an alarm key of a sensor without a valid kind)",
    "default 'aaaa...' is too long",
    "not a key of a tcp bus",
    "missing (required on a rtu bus)",
    "unknown bus 'rs485-3'",
    "300 is out of range on rtu bus rs485-1 (1..247)",
    "250 is out of range on tcp bus tcp-1 (0..247 or 255)",
    "unknown model 'level-x' (known: co2-jxct, di8, level-qdy30a)",
    "model di8 does not support kind co2 (it supports: blast_door, smoke, water_leak)",
    "not a key of kind co2",
    "not a key of model level-qdy30a (it has no inputs)",
    "missing (required for blast_door)",
    "missing (required for closed_input on model di8)",
    "channel 9 out of range: model di8 has inputs 0..7",
    "channel 2 is already locked_input",
    "channel 5 is not an input of this sensor",
    "unit 3 on bus rs485-1 is already sensor smoke-1 (line 40) of model smoke-rs485",
    "unit 3 on bus rs485-1 is already used by sensor smoke-1 (line 40)",
    "channel 2 of unit 10 on bus rs485-2 is already used by sensor door-1 (line 80)",
    "cannot load device models from /usr/share/shelter-gateway/models (the default)",
    "cannot load device models from /opt/models",
    /* lib/mqttcfg.c, lib/influxcfg.c */
    "needs key_file as well",
    "needs cert_file as well",
    "needs username",
    "tcp:// and ssl:// mixed (failing over would drop TLS)",
    "needs ssl:// URIs",
    "'mqtt://x' must start with tcp:// or ssl://",
    "'tcp://x/y': a broker URI has no path",
    "'tcp://[::1': bad [IPv6] address",
    "'tcp://:1883' has no host",
    "'tcp://x:99999': port 99999 is out of range (1..65535)",
    "a URI is too long (at most 255 bytes)",
    "too many URIs (at most 4)",
    "no URI given",
    "database (InfluxDB 1) and org/bucket/token_file (InfluxDB 2) exclude each other",
    "needs database (InfluxDB 1) or org, bucket and token_file (InfluxDB 2)",
    "missing (InfluxDB 2 needs org, bucket and token_file)",
    /* sensors/model.c */
    "'level-x' differs from the file name 'level-y'",
    "200 exceeds the registers limit of 125 registers per read",
    "span 0xFFF0 + 32 runs past address 0xFFFF",
    "no [point NAME] section",
    "bits cannot be read with FC03",
    "missing (required for type bits)",
    "needs units = CODE:FACTOR, ...",
    "needs unit_register",
    "70000 does not fit a 16-bit register",
    "0x0010..0x0012 outside the read span 0x0000..0x0008",
    "0x0010 outside the read span 0x0000..0x0008",
    "file name is not a model name ([a-z0-9_.-], 1..63 characters)",
    "no *.model files",
    /* gateway/filecheck.c, with the consequences main.c appends */
    "/etc/x.pem: the service user shelter-gateway cannot read it: the file /etc/x.pem is owner 0, "
    "group 0, mode 0600",
    "/etc/x.pem: the service user shelter-gateway cannot read it: directory /etc/private is owner "
    "0, group 0, mode 0700",
    "/etc/x.pem: the service user shelter-gateway cannot search /",
    "/etc/x.pem: No such file or directory; no MQTT uplink until it is fixed (alarm "
    "gateway/uplink)",
    "/etc/t: Permission denied; nothing goes to InfluxDB until it is fixed (alarm "
    "gateway/influx)",
    "/dev/ttyS9: No such file or directory; the bus retries until it can open it",
    "/etc/x: not a regular file",
    "/var/lib/x: not a directory",
    "/dev/x: not a character device",
    "/etc/p: a secret that every user of this machine can read (mode 0644): make it "
    "root:shelter-gateway 0640",
    "/etc/c.pem: certificate CN=gw expired on 2025-01-01",
    "/etc/c.pem: certificate CN=gw is not valid before 2030-01-01 (is the clock right?)",
    "/etc/c.pem: no PEM certificate in it",
    "/etc/k.pem: no PEM private key in it",
    "/etc/k.pem: the private key is encrypted (the gateway has no passphrase for it)",
    "/etc/k.pem: the key does not belong to cert_file /etc/c.pem",
    "/var/lib/shelter-gateway: does not exist yet (the systemd unit creates it when the service "
    "starts); alarms are kept in memory only, not durable (alarm gateway/disk)",
    "/srv/state: cannot write in it: Read-only file system; alarms are kept in memory only, not "
    "durable (alarm gateway/disk)",
};

START_TEST(test_every_reason_has_a_chinese_form)
{
    char line[1024];
    for (size_t i = 0; i < sizeof(every_reason) / sizeof(every_reason[0]); i++) {
        snprintf(line, sizeof(line), PATH ":7: [sensor s-1] k: %s", every_reason[i]);
        zh(line);
        ck_assert_msg(
            strncmp(out, PATH ":7: [sensor s-1] k: ", strlen(PATH ":7: [sensor s-1] k: ")) == 0,
            "prefix changed: %s", out);
        ck_assert_msg(strcmp(out, line) != 0, "unchanged: %s", line);
    }
}
END_TEST

static Suite *ini_zh_suite(void)
{
    Suite *s = suite_create("ini_zh");
    TCase *tc = tcase_create("translate");
    tcase_add_test(tc, test_gbk_file_tells_to_save_as_utf8);
    tcase_add_test(tc, test_unknown_key_keeps_file_line_section_and_key);
    tcase_add_test(tc, test_bad_values_say_what_is_allowed);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_file_check_with_consequence);
    tcase_add_test(tc, test_english_is_left_as_it_is);
    tcase_add_test(tc, test_cut_at_a_whole_character);
    tcase_add_test(tc, test_every_reason_has_a_chinese_form);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(ini_zh_suite());
}
