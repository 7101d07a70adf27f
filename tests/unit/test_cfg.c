/*
 * Unit tests of the configuration module: every error path with its
 * FILE:LINE report, defaults, the slug rule, durations and the strict
 * number parsers.  Fixture configs are written to a mkdtemp() directory;
 * device models come from sensors/models (tests run from the repo root).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cfg.h"

#define MODELS "sensors/models"

static char tmpdir[64];
static char conf_path[128];
static char out[32768]; /* what cfg_load printed */
static int nerr;

/* The shelter every test starts from; line numbers are part of the tests. */
static const char BASE[] = "[gateway]\n"                 /* 1 */
                           "id = sh-0001\n"              /* 2 */
                           "city = zhengzhou\n"          /* 3 */
                           "district = jinshui\n"        /* 4 */
                           "street = fengchan\n"         /* 5 */
                           "community = dongfeng\n"      /* 6 */
                           "property = wanke_1\n"        /* 7 */
                           "name = 东风小区人防工程\n"   /* 8 */
                           "state_dir = /tmp/gw-state\n" /* 9 */
                           "\n"                          /* 10 */
                           "[bus rs485-1]\n"             /* 11 */
                           "type = rtu\n"                /* 12 */
                           "device = /dev/ttyS1\n"       /* 13 */
                           "\n"                          /* 14 */
                           "[bus tcp-1]\n"               /* 15 */
                           "type = tcp\n"                /* 16 */
                           "host = 127.0.0.1\n"          /* 17 */
                           "\n"                          /* 18 */
                           "[sensor sump-1]\n"           /* 19 */
                           "bus = rs485-1\n"             /* 20 */
                           "unit = 1\n"                  /* 21 */
                           "kind = water_level\n"        /* 22 */
                           "model = level-qdy30a\n"      /* 23 */
                           "pit_depth = 1.2\n"           /* 24 */
                           "\n"                          /* 25 */
                           "[sensor door-1]\n"           /* 26 */
                           "bus = rs485-1\n"             /* 27 */
                           "unit = 5\n"                  /* 28 */
                           "kind = blast_door\n"         /* 29 */
                           "model = di8\n"               /* 30 */
                           "closed_input = 0\n"          /* 31 */
                           "locked_input = 1\n";         /* 32; appended text starts at line 33 */

/* ---- helpers ---- */

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static struct cfg *load_file(const char *path, const char *models_default)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *ms = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(ms);
    struct cfg *c = cfg_load(path, models_default, ms, &nerr);
    fclose(ms);
    snprintf(out, sizeof(out), "%s", buf);
    free(buf);
    return c;
}

static struct cfg *load_bytes(const char *data, size_t len)
{
    write_file(conf_path, data, len);
    return load_file(conf_path, MODELS);
}

static struct cfg *load(const char *text)
{
    return load_bytes(text, strlen(text));
}

/* BASE followed by extra lines (starting at line 33). */
static const char *with(const char *extra)
{
    static char buf[16384];
    snprintf(buf, sizeof(buf), "%s%s", BASE, extra);
    return buf;
}

/* Replace the first `from` in buf by `to`. */
static void replace(char *buf, size_t size, const char *from, const char *to)
{
    char *at = strstr(buf, from);
    ck_assert_msg(at != NULL, "fixture has no '%s'", from);
    size_t tail = strlen(at + strlen(from));
    ck_assert_uint_lt(strlen(buf) - strlen(from) + strlen(to), size);
    memmove(at + strlen(to), at + strlen(from), tail + 1);
    memcpy(at, to, strlen(to));
}

/* BASE with the first `from` replaced by `to` (keep line counts equal). */
static const char *subst(const char *from, const char *to)
{
    static char buf[16384];
    snprintf(buf, sizeof(buf), "%s", BASE);
    replace(buf, sizeof(buf), from, to);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Is there an output line "PATH:LINE: msg..." (msg a prefix of the rest)? */
static int has_problem(int line, const char *msg)
{
    char want[512];
    snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, msg);
    for (const char *l = out; *l; l = strchr(l, '\n') + 1) {
        if (strncmp(l, want, strlen(want)) == 0)
            return 1;
        if (strchr(l, '\n') == NULL)
            break;
    }
    return 0;
}

static struct cfg *ok(const char *text)
{
    struct cfg *c = load(text);
    ck_assert_msg(c != NULL, "expected to load, got:\n%s", out);
    ck_assert_int_eq(nerr, 0);
    ck_assert_str_eq(out, "");
    return c;
}

/* Exactly one problem, at line, starting with msg. */
#define expect_one(text, line, msg)                                                                \
    do {                                                                                           \
        struct cfg *c_ = load(text);                                                               \
        ck_assert_msg(c_ == NULL, "expected an error at line %d: %s", line, msg);                  \
        ck_assert_msg(nerr == 1 && count_lines(out) == 1 && has_problem(line, msg),                \
                      "expected exactly\n  %s:%d: %s\ngot %d:\n%s", conf_path, line, msg, nerr,    \
                      out);                                                                        \
    } while (0)

/* A fixture with one extra sensor section appended at line 33. */
static const char *with_sensor(const char *body)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "[sensor extra-1]\n%s", body);
    return with(buf);
}

/* ---- loading and defaults ---- */

START_TEST(test_base_config_loads_with_defaults)
{
    struct cfg *c = ok(BASE);
    ck_assert_str_eq(c->path, conf_path);
    ck_assert_str_eq(c->id, "sh-0001");
    ck_assert_str_eq(c->city, "zhengzhou");
    ck_assert_str_eq(c->property, "wanke_1");
    ck_assert_str_eq(c->name, "东风小区人防工程");
    ck_assert_int_eq(c->mode, MODE_PEACETIME);
    ck_assert_int_eq(c->language, LANG_ZH);
    ck_assert_str_eq(c->state_dir, "/tmp/gw-state");
    ck_assert_str_eq(c->models_dir, MODELS);
    ck_assert_int_eq(c->mqtt.nuri, 0);
    ck_assert_str_eq(c->mqtt.topic_prefix, "shelter");
    ck_assert_int_eq(c->mqtt.keepalive_s, 30);
    ck_assert_int_eq(c->influx.enabled, 0);
    ck_assert_int_eq(c->nbuses, 2);
    const struct cfg_bus *rtu = &c->buses[0], *tcp = &c->buses[1];
    ck_assert_str_eq(rtu->name, "rs485-1");
    ck_assert_int_eq(rtu->line, 11);
    ck_assert_int_eq(rtu->type, BUS_RTU);
    ck_assert_str_eq(rtu->device, "/dev/ttyS1");
    ck_assert_int_eq(rtu->baud, 9600);
    ck_assert_int_eq(rtu->parity, 'N');
    ck_assert_int_eq(rtu->data_bits, 8);
    ck_assert_int_eq(rtu->stop_bits, 1);
    ck_assert_int_eq(rtu->timeout_ms, 500);
    ck_assert_int_eq(rtu->retries, 1);
    /* the default gap: t3.5 of 9600 8N1, 3.5 * 10 bits / 9600 = 3.646 ms */
    ck_assert_int_eq(rtu->gap_us, 3646);
    ck_assert_int_eq(rtu->gap_ms, 4);
    ck_assert_int_eq(tcp->type, BUS_TCP);
    ck_assert_str_eq(tcp->host, "127.0.0.1");
    ck_assert_int_eq(tcp->port, 502);
    ck_assert_int_eq(tcp->gap_ms, 0);
    ck_assert_int_eq(tcp->gap_us, 0);
    ck_assert_int_eq(c->nsensors, 2);
    const struct cfg_sensor *sump = &c->sensors[0], *door = &c->sensors[1];
    ck_assert_str_eq(sump->name, "sump-1");
    ck_assert_int_eq(sump->line, 19);
    ck_assert_int_eq(sump->bus, 0);
    ck_assert_int_eq(sump->unit, 1);
    ck_assert_int_eq(sump->def.kind, KIND_WATER_LEVEL);
    ck_assert_ptr_nonnull(sump->def.model);
    ck_assert_str_eq(sump->def.model->name, "level-qdy30a");
    ck_assert_int_eq(sump->interval_ms, 1000);
    ck_assert_str_eq(sump->location, "");
    ck_assert_double_eq_tol(sump->def.pit_depth_m, 1.2, 1e-9);
    ck_assert_int_eq(sump->def.closed_input, -1);
    ck_assert_int_eq(sump->def.input, -1);
    ck_assert_int_eq(door->def.kind, KIND_BLAST_DOOR);
    ck_assert_str_eq(door->def.model->name, "di8");
    ck_assert_int_eq(door->def.closed_input, 0);
    ck_assert_int_eq(door->def.locked_input, 1);
    ck_assert_int_eq(door->def.open_input, -1);
    ck_assert_int_eq(door->def.alarm_input, -1);
    ck_assert_int_eq(door->def.fault_input, -1);
    ck_assert_uint_eq(door->def.inverted_mask, 0);
    ck_assert_ptr_nonnull(c->models);
    cfg_free(c);
}
END_TEST

START_TEST(test_cfg_free_null_is_noop)
{
    cfg_free(NULL);
}
END_TEST

START_TEST(test_name_defaults_to_id)
{
    struct cfg *c = ok(subst("name = 东风小区人防工程\n", "; no name\n"));
    ck_assert_str_eq(c->name, "sh-0001");
    cfg_free(c);
}
END_TEST

START_TEST(test_comments_blank_lines_and_inline_comments)
{
    struct cfg *c = ok(with("; a comment\n"
                            "# another\n"
                            "\n"
                            "open_input = 2 ; the open contact\n"
                            "[sensor sump-2] ; the west pit\n"
                            "bus = rs485-1\nunit = 2\nkind = water_level\nmodel = level-qdy30a\n"
                            "pit_depth = 1.5\n"
                            "location = B1 西侧集水坑 ;  note\n"));
    ck_assert_int_eq(c->sensors[1].def.open_input, 2);
    ck_assert_str_eq(c->sensors[2].location, "B1 西侧集水坑");
    cfg_free(c);
}
END_TEST

START_TEST(test_bom_and_crlf_are_accepted)
{
    char buf[8192];
    size_t n = 0;
    memcpy(buf, "\xef\xbb\xbf", 3);
    n = 3;
    for (const char *q = BASE; *q; q++) {
        if (*q == '\n')
            buf[n++] = '\r';
        buf[n++] = *q;
    }
    struct cfg *c = load_bytes(buf, n);
    ck_assert_msg(c != NULL, "%s", out);
    ck_assert_str_eq(c->id, "sh-0001");
    ck_assert_str_eq(c->buses[0].device, "/dev/ttyS1");
    cfg_free(c);
}
END_TEST

/* ---- syntax ---- */

START_TEST(test_unknown_key_is_error_with_line)
{
    expect_one(subst("name = 东风小区人防工程\n", "colour = red\n"), 8,
               "[gateway] colour: unknown key");
    expect_one(with("baud = 9600\n"), 33, "[sensor door-1] baud: unknown key");
}
END_TEST

START_TEST(test_unknown_key_in_each_section_is_error)
{
    expect_one(subst("host = 127.0.0.1\n", "host = 127.0.0.1\nhostname = x\n"), 18,
               "[bus tcp-1] hostname: unknown key");
    expect_one(with("[mqtt]\nuri = tcp://a\nqos = 1\n"), 35, "[mqtt] qos: unknown key");
    expect_one(with("[influx]\nurl = http://a:8086\ndatabase = d\nprecision = ms\n"), 36,
               "[influx] precision: unknown key");
}
END_TEST

/* Alarm overrides (docs/design.md section 9) go through the alarm engine's key table for the
 * sensor's kind: a key of another kind's alarm is unknown. */
START_TEST(test_sensor_name_gateway_is_reserved)
{
    /* alarm/gateway/disk is the gateway's own alarm topic. */
    struct cfg *c = load(with("[sensor gateway]\nbus = rs485-1\nunit = 9\nkind = water_level\n"
                              "model = level-qdy30a\npit_depth = 1\n"));
    ck_assert_ptr_null(c);
    ck_assert_msg(has_problem(33, "[sensor gateway]: the name 'gateway' is reserved"), "%s", out);
}
END_TEST

START_TEST(test_alarm_key_of_another_kind_is_unknown)
{
    expect_one(with("high = 80%\n"), 33, "[sensor door-1] high: unknown key");
}
END_TEST

#define LEVEL_SENSOR                                                                               \
    "bus = rs485-1\nunit = 2\nkind = water_level\nmodel = level-qdy30a\npit_depth = 1.0\n"

START_TEST(test_alarm_overrides_apply_on_top_of_defaults)
{
    /* Override keys before the kind key: order must not matter. */
    struct cfg *c =
        ok(with_sensor("high = 80%\nhigh_delay = 10s\nhigh_high_severity = major\n" LEVEL_SENSOR
                       "rising_fast_enabled = no\n"));
    const struct alarm_cfg *ac = &c->alarms[2];
    ck_assert_int_eq(ac->kind, KIND_WATER_LEVEL);
    ck_assert_double_eq(ac->rule[ALARM_WL_HIGH].threshold[MODE_PEACETIME], 80);
    ck_assert_int_eq(ac->rule[ALARM_WL_HIGH].delay_ms[MODE_PEACETIME], 10000);
    ck_assert_int_eq(ac->rule[ALARM_WL_HIGH_HIGH].severity, ALARM_SEV_MAJOR);
    ck_assert(!ac->rule[ALARM_WL_RISING_FAST].enabled);
    /* Untouched: the docs/design.md section 9 defaults. */
    ck_assert_double_eq(ac->rule[ALARM_WL_HIGH].clear[MODE_PEACETIME], 65);
    ck_assert_double_eq(ac->rule[ALARM_WL_HIGH_HIGH].threshold[MODE_PEACETIME], 90);
    ck_assert_double_eq(c->alarms[0].rule[ALARM_WL_HIGH].threshold[MODE_PEACETIME], 70);
    cfg_free(c);
}
END_TEST

START_TEST(test_alarm_override_bad_value_is_error_with_line)
{
    expect_one(with_sensor(LEVEL_SENSOR "high_delay = 10\n"), 39, "[sensor extra-1] high_delay: ");
}
END_TEST

START_TEST(test_alarm_override_clear_beyond_threshold_is_error)
{
    /* A clear level above the raise level would make the alarm flap. */
    expect_one(with_sensor(LEVEL_SENSOR "high = 50%\nhigh_clear = 60%\n"), 33,
               "[sensor extra-1]: high_clear (60) must be below high (50)");
}
END_TEST

START_TEST(test_unknown_section_is_error_and_its_keys_are_skipped)
{
    expect_one(with("[alarm]\nfoo = 1\nbar = 2\n"), 33, "[alarm]: unknown section");
    expect_one(with("[Gateway]\nid = x\n"), 33, "[Gateway]: unknown section");
}
END_TEST

START_TEST(test_duplicate_section_is_error)
{
    expect_one(with("[gateway]\nid = other\n"), 33,
               "[gateway]: duplicate section (first at line 1)");
    expect_one(with("[bus tcp-1]\ntype = tcp\nhost = 10.0.0.1\n"), 33,
               "[bus tcp-1]: duplicate section (first at line 15)");
    expect_one(with("[sensor sump-1]\nbus = rs485-1\n"), 33,
               "[sensor sump-1]: duplicate section (first at line 19)");
    expect_one(with("[mqtt]\nuri = tcp://a\n[mqtt]\nuri = tcp://b\n"), 35,
               "[mqtt]: duplicate section (first at line 33)");
    expect_one(with("[influx]\nurl = http://a\ndatabase = d\n[influx]\n"), 36,
               "[influx]: duplicate section (first at line 33)");
}
END_TEST

START_TEST(test_duplicate_key_is_error)
{
    expect_one(with("locked_input = 2\n"), 33,
               "[sensor door-1] locked_input: duplicate key (first at line 32)");
}
END_TEST

START_TEST(test_key_outside_any_section_is_error)
{
    char buf[8192];
    snprintf(buf, sizeof(buf), "stray = 1\n%s", BASE);
    expect_one(buf, 1, "stray: key outside any section");
}
END_TEST

START_TEST(test_line_without_equals_is_error)
{
    expect_one(with("garbage\n"), 33, "[sensor door-1]: expected `key = value`");
}
END_TEST

START_TEST(test_colon_separator_is_error)
{
    expect_one(with("open_input: 2\n"), 33, "[sensor door-1]: expected `key = value`");
    /* a colon inside the value is fine */
    struct cfg *c = ok(with("location = B1: 东侧\n"));
    ck_assert_str_eq(c->sensors[1].location, "B1: 东侧");
    cfg_free(c);
}
END_TEST

START_TEST(test_missing_key_name_is_error)
{
    expect_one(with("= 2\n"), 33, "[sensor door-1]: missing key before '='");
}
END_TEST

START_TEST(test_header_without_bracket_is_error)
{
    expect_one(with("[bus rs485-9\ntype = rtu\n"), 33, "section header without ']'");
}
END_TEST

START_TEST(test_text_after_header_is_error)
{
    expect_one(with("[bus rs485-9] extra\ntype = rtu\ndevice = /dev/ttyS9\n"), 33,
               "[bus rs485-9]: unexpected text after ']'");
    struct cfg *c = ok(with("[bus rs485-9] # spare port\ntype = rtu\ndevice = /dev/ttyS9\n"));
    ck_assert_str_eq(c->buses[2].name, "rs485-9");
    cfg_free(c);
}
END_TEST

START_TEST(test_section_name_rules)
{
    expect_one(with("[bus]\ntype = rtu\n"), 33, "[bus]: needs a name: [bus NAME]");
    expect_one(with("[sensor]\n"), 33, "[sensor]: needs a name: [sensor NAME]");
    expect_one(with("[mqtt main]\nuri = tcp://a\n"), 33, "[mqtt main]: takes no name: [mqtt]");
    expect_one(with("[sensor a/b]\n"), 33, "[sensor a/b]: name 'a/b' is not topic-safe");
    expect_one(with("[sensor a b]\n"), 33, "[sensor a b]: name 'a b' is not topic-safe");
    expect_one(with("[bus 东区]\ntype = rtu\n"), 33, "[bus 东区]: name '东区' is not topic-safe");
    /* blanks around the parts of a header are not part of the name */
    struct cfg *c = ok(with("[  bus   rs485-9  ]\ntype = rtu\ndevice = /dev/ttyS9\n"));
    ck_assert_str_eq(c->buses[2].name, "rs485-9");
    cfg_free(c);
}
END_TEST

/* inih would take an indented line as the continuation of the previous
 * value; here it is an ordinary line. */
START_TEST(test_indented_line_is_not_a_continuation)
{
    struct cfg *c = ok(with("    open_input = 2\n\tlocation = B1\n"));
    ck_assert_int_eq(c->sensors[1].def.open_input, 2);
    ck_assert_str_eq(c->sensors[1].location, "B1");
    cfg_free(c);
    expect_one(with("location = B1\n    东侧集水坑\n"), 34,
               "[sensor door-1]: expected `key = value`");
    expect_one(with("[mqtt]\nuri = tcp://a:1883\n   tcp://b:1883\n"), 35,
               "[mqtt]: expected `key = value`");
}
END_TEST

START_TEST(test_long_line_is_error)
{
    char extra[400];
    memset(extra, 'x', sizeof(extra));
    memcpy(extra, "location = ", 11);
    memcpy(extra + 300, "\nopen_input = 2\n", 17);
    expect_one(with(extra), 33, "[sensor door-1]: line too long (at most 198 bytes)");
    /* the longest line inih can take whole is accepted, one more byte is not */
    char line[256];
    memset(line, 'x', sizeof(line));
    memcpy(line, "location = ", 11);
    memcpy(line + 198, "\n", 2);
    struct cfg *c = ok(with(line));
    ck_assert_uint_eq(strlen(c->sensors[1].location), 198 - 11);
    cfg_free(c);
    memset(line, 'x', sizeof(line));
    memcpy(line, "location = ", 11);
    memcpy(line + 199, "\n", 2);
    expect_one(with(line), 33, "[sensor door-1]: line too long");
}
END_TEST

START_TEST(test_nul_byte_is_error)
{
    char buf[8192];
    size_t n = strlen(BASE);
    memcpy(buf, BASE, n);
    memcpy(buf + n, "location = a\0b\n", 15);
    struct cfg *c = load_bytes(buf, n + 15);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 1);
    ck_assert_msg(has_problem(33, "NUL byte in line"), "%s", out);
}
END_TEST

START_TEST(test_empty_value_is_error)
{
    expect_one(subst("host = 127.0.0.1\n", "host =\n"), 17, "[bus tcp-1] host: empty value");
    expect_one(subst("id = sh-0001\n", "id = \n"), 2, "[gateway] id: empty value");
}
END_TEST

START_TEST(test_empty_location_is_allowed)
{
    struct cfg *c = ok(with("location =\n"));
    ck_assert_str_eq(c->sensors[1].location, "");
    cfg_free(c);
}
END_TEST

START_TEST(test_missing_file_is_error)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
    struct cfg *c = load_file(path, MODELS);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 1);
    ck_assert_msg(strstr(out, "does-not-exist.conf: cannot open: No such file") ==
                      out + strlen(tmpdir) + 1,
                  "%s", out);
}
END_TEST

START_TEST(test_three_mistakes_give_exactly_three_lines_in_order)
{
    char buf[16384];
    snprintf(buf, sizeof(buf), "%s", subst("unit = 5\n", "unit = 300\n"));
    replace(buf, sizeof(buf), "city = zhengzhou", "city = zheng#zhou");
    strcat(buf, "colour = red\n");
    struct cfg *c = load(buf);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 3);
    ck_assert_int_eq(count_lines(out), 3);
    char want[2048];
    snprintf(want, sizeof(want),
             "%1$s:3: [gateway] city: 'zheng#zhou' is not topic-safe (use only A-Z a-z 0-9 _ -)\n"
             "%1$s:28: [sensor door-1] unit: 300 is out of range (0..255)\n"
             "%1$s:33: [sensor door-1] colour: unknown key\n",
             conf_path);
    ck_assert_str_eq(out, want);
}
END_TEST

/* ---- [gateway] ---- */

START_TEST(test_missing_required_gateway_key_is_reported_at_header_line)
{
    static const char *keys[] = {"id = sh-0001\n",         "city = zhengzhou\n",
                                 "district = jinshui\n",   "street = fengchan\n",
                                 "community = dongfeng\n", "property = wanke_1\n"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "[gateway] %.*s: missing (required)",
                 (int)strcspn(keys[i], " "), keys[i]);
        expect_one(subst(keys[i], ";\n"), 1, want);
    }
}
END_TEST

START_TEST(test_missing_gateway_section_is_error)
{
    const char *from_bus = strstr(BASE, "[bus rs485-1]");
    expect_one(from_bus, 22, "[gateway]: required section missing");
}
END_TEST

START_TEST(test_slug_rule)
{
    struct cfg *c = ok(subst("id = sh-0001", "id = Shelter_0001-b"));
    ck_assert_str_eq(c->id, "Shelter_0001-b");
    cfg_free(c);
    static const char *bad[] = {"a/b", "a+b", "a#b", "a.b", "东风", "a b", "a\"b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[64], want[128];
        snprintf(line, sizeof(line), "community = %s", bad[i]);
        snprintf(want, sizeof(want), "[gateway] community: '%s' is not topic-safe", bad[i]);
        expect_one(subst("community = dongfeng", line), 6, want);
    }
    char line[128];
    snprintf(line, sizeof(line), "street = %063d", 0);
    c = ok(subst("street = fengchan", line));
    ck_assert_uint_eq(strlen(c->street), 63);
    cfg_free(c);
    snprintf(line, sizeof(line), "street = %064d", 0);
    expect_one(subst("street = fengchan", line), 5,
               "[gateway] street: too long (at most 63 bytes)");
}
END_TEST

START_TEST(test_name_must_be_valid_utf8_text)
{
    expect_one(subst("name = 东风小区人防工程", "name = \xe4\xb8"), 8,
               "[gateway] name: not valid UTF-8 text");
    expect_one(subst("name = 东风小区人防工程", "name = a\x01z"), 8,
               "[gateway] name: not valid UTF-8 text");
    expect_one(subst("name = 东风小区人防工程", "name = \xc0\xaf"), 8,
               "[gateway] name: not valid UTF-8 text");
    expect_one(subst("name = 东风小区人防工程", "name = \xed\xa0\x80"), 8,
               "[gateway] name: not valid UTF-8 text");
}
END_TEST

START_TEST(test_mode_and_language)
{
    struct cfg *c = ok(subst("state_dir", "mode = flood_season\nlanguage = en\n;state_dir"));
    ck_assert_int_eq(c->mode, MODE_FLOOD_SEASON);
    ck_assert_int_eq(c->language, LANG_EN);
    cfg_free(c);
    expect_one(subst("state_dir = /tmp/gw-state", "mode = war"), 9,
               "[gateway] mode: 'war' is not one of: peacetime, flood_season, protective");
    expect_one(subst("state_dir = /tmp/gw-state", "language = fr"), 9,
               "[gateway] language: 'fr' is not one of: zh, en");
}
END_TEST

START_TEST(test_state_dir_default)
{
    struct cfg *c = ok(subst("state_dir = /tmp/gw-state", ";"));
    ck_assert_str_eq(c->state_dir, "/var/lib/shelter-gateway");
    cfg_free(c);
}
END_TEST

START_TEST(test_models_dir_key_overrides_default)
{
    const char *text = subst("state_dir = /tmp/gw-state", "models_dir = " MODELS);
    write_file(conf_path, text, strlen(text));
    struct cfg *c = load_file(conf_path, "/nonexistent/models");
    ck_assert_msg(c != NULL, "%s", out);
    ck_assert_str_eq(c->models_dir, MODELS);
    cfg_free(c);
}
END_TEST

START_TEST(test_unloadable_models_dir_is_error)
{
    struct cfg *c = load(subst("state_dir = /tmp/gw-state", "models_dir = /nonexistent/models"));
    ck_assert_ptr_null(c);
    ck_assert_msg(has_problem(9, "[gateway] models_dir: cannot load device models from "
                                 "/nonexistent/models"),
                  "%s", out);
    /* the default directory is blamed on the [gateway] header */
    write_file(conf_path, BASE, strlen(BASE));
    c = load_file(conf_path, "/nonexistent/models");
    ck_assert_ptr_null(c);
    ck_assert_msg(has_problem(1, "[gateway] models_dir: cannot load device models from "
                                 "/nonexistent/models (the default)"),
                  "%s", out);
}
END_TEST

/* ---- [mqtt] ---- */

START_TEST(test_mqtt_uri_list)
{
    struct cfg *c = ok(with("[mqtt]\nuri = ssl://a.example:8883, ssl://b:8883  ssl://[::1]:8883,"
                            "ssl://c\nusername = gw-0001\npassword_file = /etc/pw\n"
                            "ca_file = /etc/ca.pem\ncert_file = /etc/c.pem\nkey_file = /etc/k.pem\n"
                            "topic_prefix = cn/shelter\nkeepalive = 1min\n"));
    ck_assert_int_eq(c->mqtt.nuri, 4);
    ck_assert_str_eq(c->mqtt.uri[0], "ssl://a.example:8883");
    ck_assert_str_eq(c->mqtt.uri[1], "ssl://b:8883");
    ck_assert_str_eq(c->mqtt.uri[2], "ssl://[::1]:8883");
    ck_assert_str_eq(c->mqtt.uri[3], "ssl://c");
    ck_assert_str_eq(c->mqtt.username, "gw-0001");
    ck_assert_str_eq(c->mqtt.password_file, "/etc/pw");
    ck_assert_str_eq(c->mqtt.ca_file, "/etc/ca.pem");
    ck_assert_str_eq(c->mqtt.cert_file, "/etc/c.pem");
    ck_assert_str_eq(c->mqtt.key_file, "/etc/k.pem");
    ck_assert_str_eq(c->mqtt.topic_prefix, "cn/shelter");
    ck_assert_int_eq(c->mqtt.keepalive_s, 60);
    cfg_free(c);
}
END_TEST

START_TEST(test_bad_mqtt_uri_is_error)
{
    expect_one(with("[mqtt]\nuri = mqtt://a\n"), 34,
               "[mqtt] uri: 'mqtt://a' must start with tcp:// or ssl://");
    expect_one(with("[mqtt]\nuri = tcp://\n"), 34, "[mqtt] uri: 'tcp://' has no host");
    expect_one(with("[mqtt]\nuri = tcp://:1883\n"), 34, "[mqtt] uri: 'tcp://:1883' has no host");
    expect_one(with("[mqtt]\nuri = tcp://a:0\n"), 34,
               "[mqtt] uri: 'tcp://a:0': port 0 is out of range");
    expect_one(with("[mqtt]\nuri = tcp://a:x\n"), 34,
               "[mqtt] uri: 'tcp://a:x': port 'x' is not an integer");
    expect_one(with("[mqtt]\nuri = tcp://a/topic\n"), 34,
               "[mqtt] uri: 'tcp://a/topic': a broker URI has no path");
    expect_one(with("[mqtt]\nuri = tcp://[::1\n"), 34,
               "[mqtt] uri: 'tcp://[::1': bad [IPv6] address");
    expect_one(with("[mqtt]\nuri = tcp://a tcp://b tcp://c tcp://d tcp://e\n"), 34,
               "[mqtt] uri: too many URIs (at most 4)");
    expect_one(with("[mqtt]\nuri = , ,\n"), 34, "[mqtt] uri: no URI given");
}
END_TEST

/* What the MQTT client would refuse at start is a problem of the file. */
START_TEST(test_mqtt_client_rules)
{
    expect_one(with("[mqtt]\nuri = ssl://a, tcp://b\n"), 34,
               "[mqtt] uri: tcp:// and ssl:// mixed (failing over would drop TLS)");
    expect_one(with("[mqtt]\nuri = tcp://a\nca_file = /ca.pem\n"), 35,
               "[mqtt] ca_file: needs ssl:// URIs");
    expect_one(with("[mqtt]\nuri = tcp://a\npassword_file = /pw\n"), 35,
               "[mqtt] password_file: needs username");
}
END_TEST

START_TEST(test_mqtt_section_requires_uri)
{
    expect_one(with("[mqtt]\nusername = u\n"), 33, "[mqtt] uri: missing (required)");
}
END_TEST

START_TEST(test_mqtt_keepalive_and_topic_prefix)
{
    expect_one(with("[mqtt]\nuri = tcp://a\nkeepalive = 10500ms\n"), 35,
               "[mqtt] keepalive: 10500ms is not a whole number of seconds");
    expect_one(with("[mqtt]\nuri = tcp://a\nkeepalive = 2s\n"), 35,
               "[mqtt] keepalive: 2s is out of range (5s..1h)");
    expect_one(with("[mqtt]\nuri = tcp://a\nkeepalive = 30\n"), 35,
               "[mqtt] keepalive: '30' needs a unit (ms, s, min, h, d)");
    expect_one(with("[mqtt]\nuri = tcp://a\ntopic_prefix = shelter/\n"), 35,
               "[mqtt] topic_prefix: 'shelter/' is not topic-safe");
    expect_one(with("[mqtt]\nuri = tcp://a\ntopic_prefix = a/+/b\n"), 35,
               "[mqtt] topic_prefix: 'a/+/b' is not topic-safe");
    expect_one(with("[mqtt]\nuri = tcp://a\ntopic_prefix = /a\n"), 35,
               "[mqtt] topic_prefix: '/a' is not topic-safe");
}
END_TEST

START_TEST(test_mqtt_cert_needs_key)
{
    expect_one(with("[mqtt]\nuri = ssl://a\ncert_file = /c.pem\n"), 35,
               "[mqtt] cert_file: needs key_file as well");
    expect_one(with("[mqtt]\nuri = ssl://a\nkey_file = /k.pem\n"), 35,
               "[mqtt] key_file: needs cert_file as well");
}
END_TEST

/* ---- [influx] ---- */

START_TEST(test_influx_v1_and_v2)
{
    struct cfg *c = ok(with("[influx]\nurl = http://127.0.0.1:8086\ndatabase = shelter\n"));
    ck_assert_int_eq(c->influx.enabled, 1);
    ck_assert_str_eq(c->influx.url, "http://127.0.0.1:8086");
    ck_assert_str_eq(c->influx.database, "shelter");
    cfg_free(c);
    c = ok(with("[influx]\nurl = https://influx.example\norg = zz-rf\nbucket = shelter\n"
                "token_file = /etc/shelter-gateway/influx.token\n"));
    ck_assert_int_eq(c->influx.enabled, 1);
    ck_assert_str_eq(c->influx.org, "zz-rf");
    ck_assert_str_eq(c->influx.bucket, "shelter");
    ck_assert_str_eq(c->influx.token_file, "/etc/shelter-gateway/influx.token");
    cfg_free(c);
}
END_TEST

START_TEST(test_influx_errors)
{
    expect_one(with("[influx]\nurl = http://a\n"), 33,
               "[influx]: needs database (InfluxDB 1) or org, bucket and token_file (InfluxDB 2)");
    expect_one(with("[influx]\nurl = http://a\ndatabase = d\norg = o\n"), 35,
               "[influx] database: database (InfluxDB 1) and org/bucket/token_file (InfluxDB 2) "
               "exclude each other");
    expect_one(with("[influx]\ndatabase = d\n"), 33, "[influx] url: missing (required)");
    expect_one(with("[influx]\nurl = ftp://a\ndatabase = d\n"), 34,
               "[influx] url: 'ftp://a' is not an http:// or https:// URL");
    expect_one(with("[influx]\nurl = http://\ndatabase = d\n"), 34,
               "[influx] url: 'http://' is not an http:// or https:// URL");
    struct cfg *c = load(with("[influx]\nurl = http://a\norg = o\n"));
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 2);
    ck_assert(
        has_problem(33, "[influx] bucket: missing (InfluxDB 2 needs org, bucket and token_file)"));
    ck_assert(has_problem(
        33, "[influx] token_file: missing (InfluxDB 2 needs org, bucket and token_file)"));
}
END_TEST

/* ---- [bus NAME] ---- */

START_TEST(test_bus_required_keys)
{
    expect_one(with("[bus rs485-9]\ndevice = /dev/ttyS9\n"), 33,
               "[bus rs485-9] type: missing (required)");
    expect_one(with("[bus rs485-9]\ntype = rtu\n"), 33,
               "[bus rs485-9] device: missing (required on a rtu bus)");
    expect_one(with("[bus tcp-9]\ntype = tcp\n"), 33,
               "[bus tcp-9] host: missing (required on a tcp bus)");
    expect_one(with("[bus x]\ntype = can\n"), 34, "[bus x] type: 'can' is not one of: rtu, tcp");
}
END_TEST

START_TEST(test_key_of_other_bus_type_is_error)
{
    expect_one(with("[bus tcp-9]\ntype = tcp\nhost = h\ndevice = /dev/ttyS1\n"), 36,
               "[bus tcp-9] device: not a key of a tcp bus");
    expect_one(with("[bus tcp-9]\nbaud = 9600\ntype = tcp\nhost = h\n"), 34,
               "[bus tcp-9] baud: not a key of a tcp bus");
    expect_one(with("[bus rs-9]\ntype = rtu\ndevice = /dev/x\nport = 502\n"), 36,
               "[bus rs-9] port: not a key of a rtu bus");
    expect_one(with("[bus rs-9]\ntype = rtu\ndevice = /dev/x\nhost = h\n"), 36,
               "[bus rs-9] host: not a key of a rtu bus");
}
END_TEST

/* The default gap is the line's t3.5 (1.75 ms above 19200 baud) with a
 * 2 ms floor; a sensor's `gap` is its unit's (docs/design.md section 8.1). */
START_TEST(test_gap_defaults_from_the_line)
{
    struct cfg *c = ok(with("gap = 50ms\n"
                            "[bus slow]\ntype = rtu\ndevice = /dev/ttyUSB0\nbaud = 1200\n"
                            "[bus fast]\ntype = rtu\ndevice = /dev/ttyUSB1\nbaud = 115200\n"));
    ck_assert_int_eq(c->sensors[1].gap_ms, 50);
    ck_assert_int_eq(c->sensors[0].gap_ms, -1);
    ck_assert_int_eq(c->buses[2].gap_us, 29167); /* 3.5 * 10 / 1200 */
    ck_assert_int_eq(c->buses[2].gap_ms, 30);
    ck_assert_int_eq(c->buses[3].gap_us, 2000); /* t3.5 1.75 ms, under the floor */
    cfg_free(c);
}
END_TEST

/* A device manual's "9600 8N1" / "8E1" / "8O1": parity = N, E, O. */
START_TEST(test_bus_parity_manual_letters)
{
    struct cfg *c = ok(with("[bus rs-n]\ntype = rtu\ndevice = /dev/ttyUSB0\nparity = N\n"
                            "[bus rs-e]\ntype = rtu\ndevice = /dev/ttyUSB1\nparity = E\n"
                            "[bus rs-o]\ntype = rtu\ndevice = /dev/ttyUSB2\nparity = O\n"));
    ck_assert_str_eq(c->buses[2].name, "rs-n");
    ck_assert_int_eq(c->buses[2].parity, 'N');
    ck_assert_int_eq(c->buses[3].parity, 'E');
    ck_assert_int_eq(c->buses[4].parity, 'O');
    cfg_free(c);
}
END_TEST

START_TEST(test_bus_values_and_ranges)
{
    struct cfg *c = ok(with("[bus rs-9]\ntype = rtu\ndevice = /dev/ttyUSB0\nbaud = 19200\n"
                            "parity = even\ndata_bits = 7\nstop_bits = 2\ntimeout = 5s\n"
                            "retries = 0\ngap = 0ms\n"
                            "[bus rs-8]\ntype = rtu\ndevice = /dev/ttyUSB1\nparity = odd\n"
                            "[bus tcp-9]\ntype = tcp\nhost = plc.local\nport = 1502\ngap = 5ms\n"
                            "timeout = 10ms\nretries = 5\n"));
    const struct cfg_bus *b = &c->buses[2];
    ck_assert_int_eq(b->baud, 19200);
    ck_assert_int_eq(b->parity, 'E');
    ck_assert_int_eq(b->data_bits, 7);
    ck_assert_int_eq(b->stop_bits, 2);
    ck_assert_int_eq(b->timeout_ms, 5000);
    ck_assert_int_eq(b->retries, 0);
    ck_assert_int_eq(b->gap_ms, 0);
    ck_assert_int_eq(b->gap_us, 0);
    ck_assert_int_eq(c->buses[3].parity, 'O');
    /* 9600 8O1: 11 bits a character, t3.5 = 4.010 ms */
    ck_assert_int_eq(c->buses[3].gap_us, 4011);
    b = &c->buses[4];
    ck_assert_int_eq(b->port, 1502);
    ck_assert_int_eq(b->gap_ms, 5);
    ck_assert_int_eq(b->gap_us, 5000);
    ck_assert_int_eq(b->timeout_ms, 10);
    ck_assert_int_eq(b->retries, 5);
    cfg_free(c);

    static const struct {
        const char *kv, *msg;
    } bad[] = {
        {"baud = 9601", "baud: 9601 is not a supported baud rate"},
        {"baud = fast", "baud: 'fast' is not an integer"},
        {"parity = mark", "parity: 'mark' is not one of: none, even, odd, N, E, O"},
        {"parity = n", "parity: 'n' is not one of: none, even, odd, N, E, O"},
        {"data_bits = 6", "data_bits: 6 is out of range (7..8)"},
        {"stop_bits = 3", "stop_bits: 3 is out of range (1..2)"},
        {"timeout = 5ms", "timeout: 5ms is out of range (10ms..5s)"},
        {"timeout = 6s", "timeout: 6s is out of range (10ms..5s)"},
        {"timeout = 500", "timeout: '500' needs a unit"},
        {"retries = 6", "retries: 6 is out of range (0..5)"},
        {"retries = -1", "retries: -1 is out of range (0..5)"},
        {"gap = 2s", "gap: 2s is out of range (0ms..1s)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], want[256];
        snprintf(text, sizeof(text), "[bus rs-9]\ntype = rtu\ndevice = /dev/x\n%s\n", bad[i].kv);
        snprintf(want, sizeof(want), "[bus rs-9] %s", bad[i].msg);
        expect_one(with(text), 36, want);
    }
    expect_one(with("[bus t-9]\ntype = tcp\nhost = h\nport = 0\n"), 36,
               "[bus t-9] port: 0 is out of range (1..65535)");
    expect_one(with("[bus t-9]\ntype = tcp\nhost = h\nport = 65536\n"), 36,
               "[bus t-9] port: 65536 is out of range (1..65535)");
    expect_one(with("[bus t-9]\ntype = tcp\nhost = a b\n"), 35,
               "[bus t-9] host: 'a b' is not a host name or address");
}
END_TEST

/* ---- [sensor NAME] ---- */

START_TEST(test_sensor_required_keys_are_reported_at_header_line)
{
    static const char *keys[] = {"bus = rs485-1\n", "unit = 2\n", "kind = water_level\n",
                                 "model = level-qdy30a\n"};
    for (size_t i = 0; i < 4; i++) {
        char body[256] = "", want[64];
        for (size_t j = 0; j < 4; j++)
            strcat(body, j == i ? ";\n" : keys[j]);
        strcat(body, "pit_depth = 1\n");
        snprintf(want, sizeof(want), "[sensor extra-1] %.*s: missing (required)",
                 (int)strcspn(keys[i], " "), keys[i]);
        expect_one(with_sensor(body), 33, want);
    }
}
END_TEST

START_TEST(test_sensor_unknown_bus_model_kind)
{
    expect_one(with_sensor("bus = rs485-7\nunit = 2\nkind = water_level\nmodel = level-qdy30a\n"
                           "pit_depth = 1\n"),
               34, "[sensor extra-1] bus: unknown bus 'rs485-7'");
    expect_one(with_sensor("bus = rs485-1\nunit = 2\nkind = water_level\nmodel = level-x\n"
                           "pit_depth = 1\n"),
               37, "[sensor extra-1] model: unknown model 'level-x' (known: ");
    expect_one(with_sensor("bus = rs485-1\nunit = 2\nkind = radon\nmodel = level-qdy30a\n"), 36,
               "[sensor extra-1] kind: unknown kind 'radon' (one of: water_level, water_leak, "
               "co2, blast_door, smoke)");
    expect_one(with_sensor("bus = rs485-1\nunit = 2\nkind = co2\nmodel = level-qdy30a\n"), 37,
               "[sensor extra-1] model: model level-qdy30a does not support kind co2 (it supports: "
               "water_level)");
}
END_TEST

START_TEST(test_sensor_unit_range_depends_on_bus_type)
{
#define fmt "bus = %s\nunit = %s\nkind = co2\nmodel = co2-senseair-s8\n"
    char body[256];
    snprintf(body, sizeof(body), fmt, "rs485-1", "0");
    expect_one(with_sensor(body), 35,
               "[sensor extra-1] unit: 0 is out of range on rtu bus rs485-1 (1..247)");
    snprintf(body, sizeof(body), fmt, "rs485-1", "248");
    expect_one(with_sensor(body), 35,
               "[sensor extra-1] unit: 248 is out of range on rtu bus rs485-1 (1..247)");
    snprintf(body, sizeof(body), fmt, "tcp-1", "256");
    expect_one(with_sensor(body), 35, "[sensor extra-1] unit: 256 is out of range (0..255)");
    snprintf(body, sizeof(body), fmt, "tcp-1", "0");
    struct cfg *c = ok(with_sensor(body));
    ck_assert_int_eq(c->sensors[2].unit, 0);
    ck_assert_int_eq(c->sensors[2].bus, 1);
    cfg_free(c);
    snprintf(body, sizeof(body), fmt, "rs485-1", "247");
    c = ok(with_sensor(body));
    ck_assert_int_eq(c->sensors[2].unit, 247);
    cfg_free(c);
#undef fmt
}
END_TEST

/* libmodbus 3.1.6 takes TCP unit ids 0..247 and 255 (MODBUS_TCP_SLAVE) and
 * refuses 248..254: each of those is a FILE:LINE error at --check, never a
 * sensor the bus cannot address (issue 9, defect 13). */
START_TEST(test_tcp_units_libmodbus_refuses_are_errors)
{
    char body[256], want[160];
    int unit = 248 + _i;
    snprintf(body, sizeof(body), "bus = tcp-1\nunit = %d\nkind = co2\nmodel = co2-senseair-s8\n",
             unit);
    snprintf(want, sizeof(want),
             "[sensor extra-1] unit: %d is out of range on tcp bus tcp-1 (0..247 or 255)", unit);
    expect_one(with_sensor(body), 35, want);
}
END_TEST

START_TEST(test_tcp_units_libmodbus_takes_are_accepted)
{
    static const int units[] = {0, 1, 247, 255};
    char body[256];
    snprintf(body, sizeof(body), "bus = tcp-1\nunit = %d\nkind = co2\nmodel = co2-senseair-s8\n",
             units[_i]);
    struct cfg *c = ok(with_sensor(body));
    ck_assert_int_eq(c->sensors[2].unit, units[_i]);
    cfg_free(c);
}
END_TEST

START_TEST(test_sensor_interval)
{
#define body "bus = tcp-1\nunit = 1\nkind = co2\nmodel = co2-jxct\ninterval = %s\n"
    char text[256];
    snprintf(text, sizeof(text), body, "250ms");
    struct cfg *c = ok(with_sensor(text));
    ck_assert_int_eq(c->sensors[2].interval_ms, 250);
    cfg_free(c);
    snprintf(text, sizeof(text), body, "1h");
    c = ok(with_sensor(text));
    ck_assert_int_eq(c->sensors[2].interval_ms, 3600000);
    cfg_free(c);
    snprintf(text, sizeof(text), body, "50ms");
    expect_one(with_sensor(text), 38,
               "[sensor extra-1] interval: 50ms is out of range (100ms..1h)");
    snprintf(text, sizeof(text), body, "61min");
    expect_one(with_sensor(text), 38,
               "[sensor extra-1] interval: 61min is out of range (100ms..1h)");
#undef body
}
END_TEST

START_TEST(test_pit_depth)
{
#define body "bus = rs485-1\nunit = 2\nkind = water_level\nmodel = level-qdy30a\n%s\n"
    char text[256];
    snprintf(text, sizeof(text), body, ";");
    expect_one(with_sensor(text), 33,
               "[sensor extra-1] pit_depth: missing (required for water_level)");
    static const char *bad[] = {"0", "-1", "0.0", "101", "abc", "nan", "inf", "1.2m", "0x1p1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char kv[64];
        snprintf(kv, sizeof(kv), "pit_depth = %s", bad[i]);
        snprintf(text, sizeof(text), body, kv);
        expect_one(with_sensor(text), 38, "[sensor extra-1] pit_depth: ");
    }
    snprintf(text, sizeof(text), body, "pit_depth = 2.25");
    struct cfg *c = ok(with_sensor(text));
    ck_assert_double_eq_tol(c->sensors[2].def.pit_depth_m, 2.25, 1e-12);
    cfg_free(c);
#undef body
}
END_TEST

START_TEST(test_kind_key_on_wrong_kind_is_error)
{
    expect_one(with("pit_depth = 1.2\n"), 33,
               "[sensor door-1] pit_depth: not a key of kind blast_door");
    expect_one(with("alarm_input = 4\n"), 33,
               "[sensor door-1] alarm_input: not a key of kind blast_door");
    /* water_leak on the di8 names its channel `input`, not closed_input */
    struct cfg *c = load(with_sensor("bus = rs485-1\nunit = 5\nkind = water_leak\nmodel = di8\n"
                                     "closed_input = 4\n"));
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 2);
    ck_assert(
        has_problem(33, "[sensor extra-1] input: missing (required for water_leak on model di8)"));
    ck_assert(has_problem(38, "[sensor extra-1] closed_input: not a key of kind water_leak"));
}
END_TEST

START_TEST(test_input_key_on_model_without_inputs_is_error)
{
    expect_one(with_sensor("bus = rs485-1\nunit = 3\nkind = smoke\nmodel = smoke-rs485\n"
                           "alarm_input = 0\n"),
               38,
               "[sensor extra-1] alarm_input: not a key of model smoke-rs485 (it has no inputs)");
    expect_one(
        with_sensor("bus = rs485-1\nunit = 3\nkind = smoke\nmodel = smoke-rs485\n"
                    "inverted_inputs = 0\n"),
        38, "[sensor extra-1] inverted_inputs: not a key of model smoke-rs485 (it has no inputs)");
    struct cfg *c = ok(with_sensor("bus = rs485-1\nunit = 3\nkind = smoke\nmodel = smoke-rs485\n"));
    ck_assert_int_eq(c->sensors[2].def.alarm_input, -1);
    cfg_free(c);
}
END_TEST

START_TEST(test_required_inputs_are_reported_at_header_line)
{
    expect_one(subst("locked_input = 1\n", ";\n"), 26,
               "[sensor door-1] locked_input: missing (required for blast_door on model di8)");
    expect_one(subst("closed_input = 0\n", ";\n"), 26,
               "[sensor door-1] closed_input: missing (required for blast_door on model di8)");
    expect_one(with_sensor("bus = rs485-1\nunit = 5\nkind = smoke\nmodel = di8\nfault_input = 3\n"),
               33, "[sensor extra-1] alarm_input: missing (required for smoke on model di8)");
    expect_one(with_sensor("bus = rs485-1\nunit = 5\nkind = water_leak\nmodel = di8\n"), 33,
               "[sensor extra-1] input: missing (required for water_leak on model di8)");
}
END_TEST

START_TEST(test_channel_numbers)
{
    expect_one(subst("closed_input = 0", "closed_input = 8"), 31,
               "[sensor door-1] closed_input: channel 8 out of range: model di8 has inputs 0..7");
    expect_one(subst("closed_input = 0", "closed_input = 32"), 31,
               "[sensor door-1] closed_input: 32 is out of range (0..31)");
    expect_one(subst("closed_input = 0", "closed_input = -1"), 31,
               "[sensor door-1] closed_input: -1 is out of range (0..31)");
    expect_one(subst("closed_input = 0", "closed_input = 1"), 32,
               "[sensor door-1] locked_input: channel 1 is already closed_input");
}
END_TEST

START_TEST(test_sensors_sharing_a_di_module)
{
    struct cfg *c =
        ok(with("open_input = 2\ninverted_inputs = 0, 2\n"
                "[sensor smoke-relay]\nbus = rs485-1\nunit = 5\nkind = smoke\nmodel = di8\n"
                "alarm_input = 3\nfault_input = 4\ninverted_inputs = 4\n"
                "[sensor leak-1]\nbus = rs485-1\nunit = 5\nkind = water_leak\nmodel = di8\n"
                "input = 7\n"));
    ck_assert_int_eq(c->nsensors, 4);
    ck_assert_uint_eq(c->sensors[1].def.inverted_mask, 0x5);
    ck_assert_int_eq(c->sensors[2].def.alarm_input, 3);
    ck_assert_int_eq(c->sensors[2].def.fault_input, 4);
    ck_assert_uint_eq(c->sensors[2].def.inverted_mask, 0x10);
    ck_assert_int_eq(c->sensors[3].def.input, 7);
    ck_assert_ptr_eq(c->sensors[1].def.model, c->sensors[3].def.model);
    cfg_free(c);
}
END_TEST

START_TEST(test_two_sensors_may_not_claim_one_channel)
{
    expect_one(
        with_sensor("bus = rs485-1\nunit = 5\nkind = water_leak\nmodel = di8\ninput = 1\n"), 38,
        "[sensor extra-1] input: channel 1 of unit 5 on bus rs485-1 is already used by sensor "
        "door-1 (line 26)");
    /* the same channel on another module is another contact */
    struct cfg *c =
        ok(with_sensor("bus = rs485-1\nunit = 6\nkind = water_leak\nmodel = di8\ninput = 1\n"));
    cfg_free(c);
    c = ok(with_sensor("bus = tcp-1\nunit = 5\nkind = water_leak\nmodel = di8\ninput = 1\n"));
    cfg_free(c);
}
END_TEST

START_TEST(test_one_unit_is_one_device)
{
    expect_one(with_sensor("bus = rs485-1\nunit = 5\nkind = smoke\nmodel = smoke-rs485\n"), 35,
               "[sensor extra-1] unit: unit 5 on bus rs485-1 is already sensor door-1 (line 26) of "
               "model di8");
    expect_one(with_sensor("bus = rs485-1\nunit = 1\nkind = water_level\nmodel = level-qdy30a\n"
                           "pit_depth = 2\n"),
               35,
               "[sensor extra-1] unit: unit 1 on bus rs485-1 is already used by sensor sump-1 "
               "(line 19)");
}
END_TEST

START_TEST(test_inverted_inputs)
{
    expect_one(with("inverted_inputs = 5\n"), 33,
               "[sensor door-1] inverted_inputs: channel 5 is not an input of this sensor");
    expect_one(with("inverted_inputs = 0 0\n"), 33,
               "[sensor door-1] inverted_inputs: channel 0 listed twice");
    expect_one(
        with("inverted_inputs = 9\n"), 33,
        "[sensor door-1] inverted_inputs: channel 9 out of range: model di8 has inputs 0..7");
    expect_one(with("inverted_inputs = 0;1\n"), 33,
               "[sensor door-1] inverted_inputs: '0;1' is not an integer");
    struct cfg *c = ok(with("inverted_inputs = 1,0\n"));
    ck_assert_uint_eq(c->sensors[1].def.inverted_mask, 0x3);
    cfg_free(c);
    c = ok(with("inverted_inputs =\n"));
    ck_assert_uint_eq(c->sensors[1].def.inverted_mask, 0);
    cfg_free(c);
}
END_TEST

START_TEST(test_at_least_one_sensor_is_required)
{
    char buf[8192];
    snprintf(buf, sizeof(buf), "%.*s", (int)(strstr(BASE, "[sensor sump-1]") - BASE), BASE);
    expect_one(buf, 18, "no sensor: at least one [sensor NAME] section is required");
}
END_TEST

START_TEST(test_mode_names_round_trip)
{
    enum gw_mode m;
    for (int i = MODE_PEACETIME; i <= MODE_PROTECTIVE; i++) {
        ck_assert_int_eq(mode_from_name(mode_name((enum gw_mode)i), &m), 0);
        ck_assert_int_eq(m, i);
    }
    ck_assert_str_eq(mode_name(MODE_FLOOD_SEASON), "flood_season");
    ck_assert_int_eq(mode_from_name("Peacetime", &m), -1);
    ck_assert_int_eq(mode_from_name("", &m), -1);
    ck_assert_str_eq(mode_name((enum gw_mode)99), "unknown");
}
END_TEST

/* ---- the shipped configurations ---- */

START_TEST(test_shipped_configs_load)
{
    static const char *files[] = {"conf/gateway.conf", "conf/demo.conf"};
    for (size_t i = 0; i < 2; i++) {
        struct cfg *c = load_file(files[i], MODELS);
        ck_assert_msg(c != NULL, "%s:\n%s", files[i], out);
        ck_assert_int_ge(c->nsensors, 7);
        ck_assert_int_eq(c->nbuses, 3);
        cfg_free(c);
    }
}
END_TEST

/* ---- [output NAME] ---- */

/* A fixture with one output section appended at line 33. */
static const char *with_output(const char *body)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "[output siren]\n%s", body);
    return with(buf);
}

#define SIREN_AT "bus = rs485-1\nunit = 12\nmodel = do8\nchannel = 0\n" /* lines 34-37 */

START_TEST(test_output_loads_and_resolves_its_alarms)
{
    struct cfg *c = ok(with("[sensor sump-2]\n" /* 33 */
                            "bus = rs485-1\nunit = 2\nkind = water_level\n"
                            "model = level-qdy30a\npit_depth = 1\n" /* 34-38 */
                            "[output ramp-siren]\n"                 /* 39 */
                            "bus = rs485-1\nunit = 12\nmodel = do8\nchannel = 3\n"
                            "on = sump-*:high_high, door-1:sensor_disagree sump-1:high_high\n"
                            "until = acked\nmin_on = 30s\nlocation = B1 入口坡道 声光报警器\n"
                            "[output sign]\n"
                            "bus = rs485-1\nunit = 12\nmodel = do8\nchannel = 1\n"
                            "on = sump-1:high\n"));
    ck_assert_int_eq(c->noutputs, 2);
    const struct cfg_output *o = &c->outputs[0];
    ck_assert_str_eq(o->name, "ramp-siren");
    ck_assert_int_eq(o->line, 39);
    ck_assert_int_eq(o->bus, 0);
    ck_assert_int_eq(o->unit, 12);
    ck_assert_str_eq(o->model->name, "do8");
    ck_assert_int_eq(o->channel, 3);
    ck_assert_int_eq(o->until, OUTPUT_UNTIL_ACKED);
    ck_assert_int_eq(o->min_on_ms, 30000);
    ck_assert_str_eq(o->location, "B1 入口坡道 声光报警器");
    /* sump-* matched both pits; sump-1:high_high listed again counts once. */
    ck_assert_int_eq(o->nsrc, 3);
    ck_assert_int_eq(o->src[0].sensor, 0);
    ck_assert_int_eq(o->src[0].alarm, ALARM_WL_HIGH_HIGH);
    ck_assert_str_eq(o->src[0].sensor_name, "sump-1");
    ck_assert_int_eq(o->src[1].sensor, 2);
    ck_assert_str_eq(o->src[1].sensor_name, "sump-2");
    ck_assert_int_eq(o->src[2].sensor, 1);
    ck_assert_int_eq(o->src[2].alarm, ALARM_DOOR_DISAGREE);
    /* Defaults. */
    ck_assert_int_eq(c->outputs[1].until, OUTPUT_UNTIL_CLEARED);
    ck_assert_int_eq(c->outputs[1].min_on_ms, 0);
    ck_assert_str_eq(c->outputs[1].location, "");
    cfg_free(c);
}
END_TEST

START_TEST(test_output_required_keys_are_reported_at_header_line)
{
    static const char *keys[] = {"bus = rs485-1\n", "unit = 12\n", "model = do8\n", "channel = 0\n",
                                 "on = sump-1:high\n"};
    for (size_t i = 0; i < 5; i++) {
        char body[256] = "", want[64];
        for (size_t j = 0; j < 5; j++)
            strcat(body, j == i ? ";\n" : keys[j]);
        snprintf(want, sizeof(want), "[output siren] %.*s: missing (required)",
                 (int)strcspn(keys[i], " "), keys[i]);
        expect_one(with_output(body), 33, want);
    }
}
END_TEST

/* --check names every reference that does not resolve, at its line. */
START_TEST(test_output_references_are_checked_with_file_line)
{
    expect_one(with_output(SIREN_AT "on = leak-ramp:leak\n"), 38,
               "[output siren] on: unknown sensor 'leak-ramp'");
    expect_one(with_output(SIREN_AT "on = smoke-*:fire\n"), 38,
               "[output siren] on: no sensor matches 'smoke-*'");
    expect_one(with_output(SIREN_AT "on = sump-1:hihg\n"), 38,
               "[output siren] on: sensor sump-1 (water_level) has no alarm 'hihg' (it has: "
               "comm_lost, implausible, high, high_high, rising_fast)");
    expect_one(with_output(SIREN_AT "on = s*:fire\n"), 38,
               "[output siren] on: no sensor matching 's*' has an alarm 'fire'");
    expect_one(with_output(SIREN_AT "on = sump-1\n"), 38,
               "[output siren] on: 'sump-1' is not SENSOR:ALARM");
    expect_one(with_output(SIREN_AT "on = sump-1:high:x\n"), 38,
               "[output siren] on: 'sump-1:high:x' is not SENSOR:ALARM");
    expect_one(with_output(SIREN_AT "on = sump/1:high\n"), 38,
               "[output siren] on: 'sump/1' is not a sensor name or glob");
    expect_one(with_output(SIREN_AT "on = ,\n"), 38, "[output siren] on: no SENSOR:ALARM given");
    expect_one(with_output("bus = rs485-7\nunit = 12\nmodel = do8\nchannel = 0\n"
                           "on = sump-1:high\n"),
               34, "[output siren] bus: unknown bus 'rs485-7'");
    expect_one(with_output("bus = rs485-1\nunit = 12\nmodel = do9\nchannel = 0\n"
                           "on = sump-1:high\n"),
               36, "[output siren] model: unknown model 'do9' (known: ");
    expect_one(with_output("bus = rs485-1\nunit = 12\nmodel = di8\nchannel = 0\n"
                           "on = sump-1:high\n"),
               36, "[output siren] model: model di8 has no outputs to switch");
    expect_one(with_output("bus = rs485-1\nunit = 12\nmodel = do8\nchannel = 8\n"
                           "on = sump-1:high\n"),
               37, "[output siren] channel: channel 8 out of range: model do8 has outputs 0..7");
    expect_one(with_output("bus = rs485-1\nunit = 0\nmodel = do8\nchannel = 0\n"
                           "on = sump-1:high\n"),
               35, "[output siren] unit: 0 is out of range on rtu bus rs485-1 (1..247)");
    expect_one(with_output(SIREN_AT "on = sump-1:high\nuntil = silenced\n"), 39,
               "[output siren] until: 'silenced' is not one of: cleared, acked");
    expect_one(with_output(SIREN_AT "on = sump-1:high\nmin_on = 30\n"), 39,
               "[output siren] min_on: ");
    expect_one(with_output(SIREN_AT "on = sump-1:high\nmin_on = 2h\n"), 39,
               "[output siren] min_on: ");
    expect_one(with_output(SIREN_AT "on = sump-1:high\nrepeat = yes\n"), 39,
               "[output siren] repeat: unknown key");
    /* Every problem at once, in line order. */
    struct cfg *c = load(with_output(SIREN_AT "on = nope:leak, sump-1:nope\n"));
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 2);
    ck_assert(has_problem(38, "[output siren] on: unknown sensor 'nope'"));
    ck_assert(has_problem(38, "[output siren] on: sensor sump-1 (water_level) has no alarm"));
}
END_TEST

START_TEST(test_two_outputs_on_one_coil_is_an_error)
{
    expect_one(with("[output a]\n" SIREN_AT "on = sump-1:high\n"   /* 33-38 */
                    "[output b]\n" SIREN_AT "on = sump-1:high\n"), /* 39-44 */
               43,
               "[output b] channel: channel 0 of unit 12 on bus rs485-1 is already output a "
               "(line 33)");
    /* The same channel number on another unit or bus is another coil. */
    struct cfg *c = ok(with("[output a]\n" SIREN_AT "on = sump-1:high\n"
                            "[output b]\nbus = tcp-1\nunit = 12\nmodel = do8\nchannel = 0\n"
                            "on = sump-1:high\n"
                            "[output c]\nbus = rs485-1\nunit = 13\nmodel = do8\nchannel = 0\n"
                            "on = sump-1:high\n"));
    ck_assert_int_eq(c->noutputs, 3);
    cfg_free(c);
}
END_TEST

/* A DI module and a relay module are two devices: they never share a unit. */
START_TEST(test_an_output_module_shares_no_unit_with_a_sensor)
{
    expect_one(with_output("bus = rs485-1\nunit = 5\nmodel = do8\nchannel = 7\n"
                           "on = sump-1:high\n"),
               35,
               "[output siren] unit: unit 5 on bus rs485-1 is sensor door-1 (line 26): an "
               "output module is a unit of its own");
    /* Nor may a sensor read an output module. */
    expect_one(with_sensor("bus = rs485-1\nunit = 12\nkind = water_leak\nmodel = do8\n"
                           "input = 0\n"),
               37,
               "[sensor extra-1] model: model do8 does not support kind water_leak (it "
               "supports: none: it is an output module's, for an [output])");
}
END_TEST

START_TEST(test_output_names_are_topic_levels_of_their_own)
{
    expect_one(with("[output sump-1]\n" SIREN_AT "on = sump-1:high\n"), 33,
               "[output sump-1]: the name is already sensor sump-1 (line 19)");
    expect_one(with("[output gateway]\n" SIREN_AT "on = sump-1:high\n"), 33,
               "[output gateway]: the name 'gateway' is reserved");
    expect_one(with("[output a/b]\n" SIREN_AT "on = sump-1:high\n"), 33,
               "[output a/b]: name 'a/b' is not topic-safe");
}
END_TEST

static Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc;

    tc = tcase_create("load");
    tcase_add_test(tc, test_base_config_loads_with_defaults);
    tcase_add_test(tc, test_cfg_free_null_is_noop);
    tcase_add_test(tc, test_name_defaults_to_id);
    tcase_add_test(tc, test_comments_blank_lines_and_inline_comments);
    tcase_add_test(tc, test_bom_and_crlf_are_accepted);
    tcase_add_test(tc, test_shipped_configs_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_test(tc, test_unknown_key_is_error_with_line);
    tcase_add_test(tc, test_unknown_key_in_each_section_is_error);
    tcase_add_test(tc, test_sensor_name_gateway_is_reserved);
    tcase_add_test(tc, test_alarm_key_of_another_kind_is_unknown);
    tcase_add_test(tc, test_alarm_overrides_apply_on_top_of_defaults);
    tcase_add_test(tc, test_alarm_override_bad_value_is_error_with_line);
    tcase_add_test(tc, test_alarm_override_clear_beyond_threshold_is_error);
    tcase_add_test(tc, test_unknown_section_is_error_and_its_keys_are_skipped);
    tcase_add_test(tc, test_duplicate_section_is_error);
    tcase_add_test(tc, test_duplicate_key_is_error);
    tcase_add_test(tc, test_key_outside_any_section_is_error);
    tcase_add_test(tc, test_line_without_equals_is_error);
    tcase_add_test(tc, test_colon_separator_is_error);
    tcase_add_test(tc, test_missing_key_name_is_error);
    tcase_add_test(tc, test_header_without_bracket_is_error);
    tcase_add_test(tc, test_text_after_header_is_error);
    tcase_add_test(tc, test_section_name_rules);
    tcase_add_test(tc, test_indented_line_is_not_a_continuation);
    tcase_add_test(tc, test_long_line_is_error);
    tcase_add_test(tc, test_nul_byte_is_error);
    tcase_add_test(tc, test_empty_value_is_error);
    tcase_add_test(tc, test_empty_location_is_allowed);
    tcase_add_test(tc, test_missing_file_is_error);
    tcase_add_test(tc, test_three_mistakes_give_exactly_three_lines_in_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("gateway");
    tcase_add_test(tc, test_missing_required_gateway_key_is_reported_at_header_line);
    tcase_add_test(tc, test_missing_gateway_section_is_error);
    tcase_add_test(tc, test_slug_rule);
    tcase_add_test(tc, test_name_must_be_valid_utf8_text);
    tcase_add_test(tc, test_mode_and_language);
    tcase_add_test(tc, test_state_dir_default);
    tcase_add_test(tc, test_models_dir_key_overrides_default);
    tcase_add_test(tc, test_unloadable_models_dir_is_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("mqtt_influx");
    tcase_add_test(tc, test_mqtt_uri_list);
    tcase_add_test(tc, test_bad_mqtt_uri_is_error);
    tcase_add_test(tc, test_mqtt_client_rules);
    tcase_add_test(tc, test_mqtt_section_requires_uri);
    tcase_add_test(tc, test_mqtt_keepalive_and_topic_prefix);
    tcase_add_test(tc, test_mqtt_cert_needs_key);
    tcase_add_test(tc, test_influx_v1_and_v2);
    tcase_add_test(tc, test_influx_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("bus");
    tcase_add_test(tc, test_bus_required_keys);
    tcase_add_test(tc, test_key_of_other_bus_type_is_error);
    tcase_add_test(tc, test_bus_values_and_ranges);
    tcase_add_test(tc, test_gap_defaults_from_the_line);
    tcase_add_test(tc, test_bus_parity_manual_letters);
    suite_add_tcase(s, tc);

    tc = tcase_create("sensor");
    tcase_add_test(tc, test_sensor_required_keys_are_reported_at_header_line);
    tcase_add_test(tc, test_sensor_unknown_bus_model_kind);
    tcase_add_test(tc, test_sensor_unit_range_depends_on_bus_type);
    tcase_add_loop_test(tc, test_tcp_units_libmodbus_refuses_are_errors, 0, 7);
    tcase_add_loop_test(tc, test_tcp_units_libmodbus_takes_are_accepted, 0, 4);
    tcase_add_test(tc, test_sensor_interval);
    tcase_add_test(tc, test_pit_depth);
    tcase_add_test(tc, test_kind_key_on_wrong_kind_is_error);
    tcase_add_test(tc, test_input_key_on_model_without_inputs_is_error);
    tcase_add_test(tc, test_required_inputs_are_reported_at_header_line);
    tcase_add_test(tc, test_channel_numbers);
    tcase_add_test(tc, test_sensors_sharing_a_di_module);
    tcase_add_test(tc, test_two_sensors_may_not_claim_one_channel);
    tcase_add_test(tc, test_one_unit_is_one_device);
    tcase_add_test(tc, test_inverted_inputs);
    tcase_add_test(tc, test_at_least_one_sensor_is_required);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_output_loads_and_resolves_its_alarms);
    tcase_add_test(tc, test_output_required_keys_are_reported_at_header_line);
    tcase_add_test(tc, test_output_references_are_checked_with_file_line);
    tcase_add_test(tc, test_two_outputs_on_one_coil_is_an_error);
    tcase_add_test(tc, test_an_output_module_shares_no_unit_with_a_sensor);
    tcase_add_test(tc, test_output_names_are_topic_levels_of_their_own);
    suite_add_tcase(s, tc);

    tc = tcase_create("parsers");
    tcase_add_test(tc, test_mode_names_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cfg.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(conf_path, sizeof(conf_path), "%s/gateway.conf", tmpdir);

    int rc = run_suite(cfg_suite());

    unlink(conf_path);
    rmdir(tmpdir);
    return rc;
}
