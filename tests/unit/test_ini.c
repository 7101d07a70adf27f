/*
 * Unit tests of lib/ini, the configuration front-end, on a table shaped like
 * the centre's notify.conf (docs/design.md section 13: [notify], [mqtt],
 * [channel NAME], [route NAME]): the config is a table plus a few
 * cross-checks.  Every line rule (indentation, long lines, CR LF, BOM, GBK
 * and UTF-16 bytes, NUL), every key rule (unknown, repeated, empty, missing,
 * out of range), sections, the lenient mode and warnings.  Links lib alone.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "influxcfg.h"
#include "ini.h"
#include "mqttcfg.h"

#define CHANNELS_MAX 4

enum channel_type { CH_WECOM, CH_DINGTALK, CH_WEBHOOK };
enum severity { SEV_INFO, SEV_MINOR, SEV_MAJOR, SEV_CRITICAL };

struct channel {
    char name[INI_NAME_MAX];
    int line;
    int type;
    char url[128];
    char secret_file[128];
    struct parse_rate rate;
    struct ini_keyset ks;
};

struct route {
    char name[INI_NAME_MAX];
    int line;
    char subtree[128];
    int min_severity;
    char channels[128];
    int escalate_after_ms;
    char escalate_to[INI_NAME_MAX];
    struct ini_keyset ks;
};

struct conf {
    /* [notify] */
    char state_dir[128];
    int offline_after_ms;
    char ack_url[128];
    bool verbose;
    uint64_t queue_max;
    struct mqttcfg mqtt; /* [mqtt]: the table every program shares */
    int mqtt_line;
    struct ini_keyset notify_ks, mqtt_ks;
    struct channel channel[CHANNELS_MAX];
    int nchannels;
    struct route route[CHANNELS_MAX];
    int nroutes;
    struct influxcfg influx; /* shelter-report: [influx] of a gateway.conf */
    int influx_line;
    struct ini_keyset influx_ks;
    int opens; /* open() calls */
};

/* clang-format off */
static const struct name_value channel_types[] = {
    {"wecom", CH_WECOM}, {"dingtalk", CH_DINGTALK}, {"webhook", CH_WEBHOOK}, {NULL, 0}};
static const struct name_value severities[] = {
    {"info", SEV_INFO}, {"minor", SEV_MINOR}, {"major", SEV_MAJOR}, {"critical", SEV_CRITICAL},
    {NULL, 0}};

#define DINGTALK_ONLY INI_USER(0)

enum { NK_STATE_DIR, NK_OFFLINE_AFTER, NK_ACK_URL, NK_VERBOSE, NK_QUEUE_MAX, NK_COUNT };
static const struct ini_key notify_keys[NK_COUNT] = {
    [NK_STATE_DIR] = {"state_dir", ini_text, INI_FIELD(struct conf, state_dir),
                      .dflt = "/var/lib/shelter-notify"},
    [NK_OFFLINE_AFTER] = {"offline_after", ini_duration_ms, INI_FIELD(struct conf, offline_after_ms),
                          10000, 3600000, "60s"},
    [NK_ACK_URL] = {"ack_url", ini_url, INI_FIELD(struct conf, ack_url)},
    [NK_VERBOSE] = {"verbose", ini_bool, INI_FIELD(struct conf, verbose), .dflt = "no"},
    [NK_QUEUE_MAX] = {"queue_max", ini_size, INI_FIELD(struct conf, queue_max), 1 << 20, 1 << 30,
                      "64MiB"},
};

enum { CK_TYPE, CK_URL, CK_SECRET_FILE, CK_RATE, CK_COUNT };
static const struct ini_key channel_keys[CK_COUNT] = {
    [CK_TYPE] = {"type", ini_enum, INI_FIELD(struct channel, type), .flags = INI_REQUIRED,
                 .names = channel_types},
    [CK_URL] = {"url", ini_url, INI_FIELD(struct channel, url), .flags = INI_REQUIRED},
    [CK_SECRET_FILE] = {"secret_file", ini_text, INI_FIELD(struct channel, secret_file),
                        .flags = INI_REQUIRED | DINGTALK_ONLY},
    [CK_RATE] = {"rate", ini_rate, INI_FIELD(struct channel, rate), .max = 1000, .dflt = "20/min"},
};

enum { RK_SUBTREE, RK_MIN_SEVERITY, RK_CHANNELS, RK_ESCALATE_AFTER, RK_ESCALATE_TO, RK_COUNT };
static const struct ini_key route_keys[RK_COUNT] = {
    [RK_SUBTREE] = {"subtree", ini_topic, INI_FIELD(struct route, subtree), .flags = INI_REQUIRED},
    [RK_MIN_SEVERITY] = {"min_severity", ini_enum, INI_FIELD(struct route, min_severity),
                         .dflt = "major", .names = severities},
    [RK_CHANNELS] = {"channels", ini_text, INI_FIELD(struct route, channels),
                     .flags = INI_REQUIRED},
    [RK_ESCALATE_AFTER] = {"escalate_after", ini_duration_ms,
                           INI_FIELD(struct route, escalate_after_ms), 60000, 86400000},
    [RK_ESCALATE_TO] = {"escalate_to", ini_slug, INI_FIELD(struct route, escalate_to)},
};
/* clang-format on */

static void *open_notify(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct conf *c = user;
    (void)name, (void)line, (void)err, (void)errlen;
    c->opens++;
    *ks = &c->notify_ks;
    return c;
}

static void *open_mqtt(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                       size_t errlen)
{
    struct conf *c = user;
    (void)name, (void)err, (void)errlen;
    c->opens++;
    c->mqtt_line = line;
    *ks = &c->mqtt_ks;
    return &c->mqtt;
}

static void *open_channel(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                          size_t errlen)
{
    struct conf *c = user;
    c->opens++;
    if (c->nchannels == CHANNELS_MAX) {
        snprintf(err, errlen, "more than %d channels", CHANNELS_MAX);
        return NULL;
    }
    struct channel *ch = &c->channel[c->nchannels++];
    snprintf(ch->name, sizeof(ch->name), "%s", name);
    ch->line = line;
    *ks = &ch->ks;
    return ch;
}

static void *open_route(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                        size_t errlen)
{
    struct conf *c = user;
    (void)err, (void)errlen;
    c->opens++;
    if (c->nroutes == CHANNELS_MAX)
        return NULL; /* err "": out of memory */
    struct route *r = &c->route[c->nroutes++];
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->line = line;
    *ks = &r->ks;
    return r;
}

/* Route names: slugs, but not "all" (reserved, say). */
static int route_name_ok(const char *name, char *err, size_t errlen)
{
    if (!ini_is_slug(name, strlen(name)) || strcmp(name, "all") == 0) {
        snprintf(err, errlen, "route name '%s' is not a slug other than 'all'", name);
        return -1;
    }
    return 0;
}

static const struct ini_section sections[] = {
    {"notify", notify_keys, NK_COUNT, INI_SECTION_REQ, open_notify, NULL, NULL},
    {"mqtt", mqttcfg_keys, MQTTCFG_NKEYS, INI_LENIENT, open_mqtt, NULL, NULL},
    {"channel", channel_keys, CK_COUNT, INI_NAMED | INI_SECTION_REQ, open_channel, NULL, NULL},
    {"route", route_keys, RK_COUNT, INI_NAMED, open_route, NULL, route_name_ok},
};
#define NSECTIONS ((int)(sizeof(sections) / sizeof(sections[0])))

/* The cross-checks a program runs after ini_read(), at the line of the key. */
static void cross_check(struct ini *ini, struct conf *c)
{
    char label[INI_LABEL_MAX];
    mqttcfg_check(ini, c->mqtt_line, &c->mqtt_ks, &c->mqtt);
    for (int i = 0; i < c->nchannels; i++) {
        struct channel *ch = &c->channel[i];
        snprintf(label, sizeof(label), "channel %s", ch->name);
        bool dingtalk = ini_key_ok(&ch->ks, CK_TYPE) && ch->type == CH_DINGTALK;
        if (dingtalk && ch->ks.line[CK_SECRET_FILE] == 0)
            ini_error(ini, ch->line, label, "secret_file", "missing (required for dingtalk)");
        if (!dingtalk && ini_key_ok(&ch->ks, CK_SECRET_FILE) && ini_key_ok(&ch->ks, CK_TYPE))
            ini_error(ini, ch->ks.line[CK_SECRET_FILE], label, "secret_file",
                      "only for dingtalk channels");
    }
    for (int i = 0; i < c->nroutes; i++) {
        struct route *r = &c->route[i];
        snprintf(label, sizeof(label), "route %s", r->name);
        if (!ini_key_ok(&r->ks, RK_ESCALATE_TO))
            continue;
        bool found = false;
        for (int j = 0; j < c->nroutes; j++)
            found = found || strcmp(c->route[j].name, r->escalate_to) == 0;
        if (!found)
            ini_error(ini, r->ks.line[RK_ESCALATE_TO], label, "escalate_to", "no route '%s'",
                      r->escalate_to);
    }
}

/* ---- helpers ---- */

static char tmpdir[64], path[128];
static char out[16384]; /* what ini_print printed */
static struct conf conf;
static struct ini *ini;

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ini.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/notify.conf", tmpdir);
}

static void teardown(void)
{
    ini_free(ini);
    ini = NULL;
    unlink(path);
    rmdir(tmpdir);
}

/* Read bytes as the file; out gets every problem; returns ini_read's. */
static int read_bytes(const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    memset(&conf, 0, sizeof(conf));
    ini_free(ini);
    ini = ini_new(path, sections, NSECTIONS, &conf);
    ck_assert_ptr_nonnull(ini);
    int rc = ini_read(ini);
    if (rc == 0)
        cross_check(ini, &conf);
    char *buf = NULL;
    size_t size = 0;
    FILE *ms = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(ms);
    ini_print(ini, ms);
    fclose(ms);
    snprintf(out, sizeof(out), "%s", buf);
    free(buf);
    return rc;
}

static int read_text(const char *text)
{
    return read_bytes(text, strlen(text));
}

/* The smallest valid file: lines 1..5.  Appended text starts at line 6. */
static const char BASE[] = "[notify]\n"                                     /* 1 */
                           "[channel wecom-wanke]\n"                        /* 2 */
                           "type = wecom\n"                                 /* 3 */
                           "url = https://qyapi.weixin.qq.com/send?key=k\n" /* 4 */
                           "\n";                                            /* 5 */

static const char *with(const char *extra)
{
    static char buf[8192];
    snprintf(buf, sizeof(buf), "%s%s", BASE, extra);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Exactly the problem lines in want ("LINE: text\n" each, FILE: prefixed here). */
static void expect(const char *want)
{
    char full[8192];
    size_t used = 0;
    full[0] = '\0';
    for (const char *l = want; *l;) {
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        used += (size_t)snprintf(full + used, sizeof(full) - used, "%s:%.*s\n", path, len, l);
        l += len + (nl != NULL);
    }
    ck_assert_str_eq(out, full);
}

static void expect_none(void)
{
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(ini_count(ini), 0);
}

/* ---- a whole config ---- */

START_TEST(test_notify_conf_is_a_table)
{
    ck_assert_int_eq(read_text("; shelter-notify\n"
                               "[notify]\n"
                               "state_dir = /var/lib/sn\n"
                               "offline_after = 2min\n"
                               "ack_url = https://center.example.cn/ack\n"
                               "queue_max = 8MiB\n"
                               "[mqtt]\n"
                               "uri = ssl://broker:8883\n"
                               "topic_prefix = cn/shelter\n"
                               "[channel wecom-wanke]\n"
                               "type = wecom\n"
                               "url = https://qyapi.weixin.qq.com/send?key=k\n"
                               "rate = 5/10s\n"
                               "[channel ding]\n"
                               "type = dingtalk\n"
                               "url = https://oapi.dingtalk.com/robot/send?access_token=t\n"
                               "secret_file = /etc/shelter-notify/ding.secret\n"
                               "[route wanke]\n"
                               "subtree = zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye\n"
                               "channels = wecom-wanke, ding\n"
                               "escalate_after = 5min\n"
                               "escalate_to = dongfeng\n"
                               "[route dongfeng]\n"
                               "subtree = zhengzhou/jinshui/fengchan/dongfeng\n"
                               "min_severity = critical\n"
                               "channels = ding\n"),
                     0);
    expect_none();
    ck_assert_str_eq(conf.state_dir, "/var/lib/sn");
    ck_assert_int_eq(conf.offline_after_ms, 120000);
    ck_assert_str_eq(conf.ack_url, "https://center.example.cn/ack");
    ck_assert(!conf.verbose); /* default */
    ck_assert_uint_eq(conf.queue_max, 8u << 20);
    ck_assert_int_eq(conf.mqtt.nuri, 1);
    ck_assert_str_eq(conf.mqtt.uri[0], "ssl://broker:8883");
    ck_assert_str_eq(conf.mqtt.topic_prefix, "cn/shelter");
    ck_assert_int_eq(conf.mqtt.keepalive_s, 30); /* default */
    ck_assert_int_eq(conf.nchannels, 2);
    ck_assert_str_eq(conf.channel[0].name, "wecom-wanke");
    ck_assert_int_eq(conf.channel[0].line, 10);
    ck_assert_int_eq(conf.channel[0].rate.count, 5);
    ck_assert_int_eq(conf.channel[0].rate.per_ms, 10000);
    ck_assert_int_eq(conf.channel[1].type, CH_DINGTALK);
    ck_assert_int_eq(conf.channel[1].rate.count, 20); /* default 20/min */
    ck_assert_int_eq(conf.channel[1].rate.per_ms, 60000);
    ck_assert_int_eq(conf.nroutes, 2);
    ck_assert_int_eq(conf.route[0].min_severity, SEV_MAJOR);
    ck_assert_int_eq(conf.route[1].min_severity, SEV_CRITICAL);
    ck_assert_int_eq(conf.route[0].escalate_after_ms, 300000);
    ck_assert_int_eq(conf.route[0].ks.line[RK_ESCALATE_TO], 22);
    ck_assert_int_eq(ini_headers(ini, "route"), 2);
    ck_assert_int_eq(ini_headers(ini, "mqtt"), 1);
    ck_assert_int_eq(ini_fatal(ini, false), 0);
}
END_TEST

START_TEST(test_cross_checks_report_at_the_key_line_in_line_order)
{
    read_text(with("[channel ding]\n"                             /* 6 */
                   "type = dingtalk\n"                            /* 7 */
                   "url = https://oapi.dingtalk.com/robot/send\n" /* 8 */
                   "[route wanke]\n"                              /* 9 */
                   "subtree = zhengzhou\n"                        /* 10 */
                   "channels = ding\n"                            /* 11 */
                   "escalate_to = dongfeng\n"                     /* 12 */
                   "colour = red\n"));                            /* 13 */
    expect("6: [channel ding] secret_file: missing (required for dingtalk)\n"
           "12: [route wanke] escalate_to: no route 'dongfeng'\n"
           "13: [route wanke] colour: unknown key\n");
    ck_assert_int_eq(ini_fatal(ini, false), 3);
}
END_TEST

/* ---- the line rules ---- */

START_TEST(test_indented_lines_are_ordinary_lines)
{
    ck_assert_int_eq(read_text("  [notify]\n"
                               "\toffline_after = 30s\n"
                               "  [channel a]\n"
                               "    type = webhook\n"
                               "    url = http://127.0.0.1:9/hook\n"),
                     0);
    expect_none();
    ck_assert_int_eq(conf.offline_after_ms, 30000);
    ck_assert_str_eq(conf.channel[0].url, "http://127.0.0.1:9/hook");
    /* inih would glue an indented line to the value above: here it is a
     * line of its own, and not a key line */
    read_text(with("[route r]\nsubtree = a\nchannels = wecom-wanke,\n   ding\n"));
    expect("9: [route r]: expected `key = value`\n");
    ck_assert_str_eq(conf.route[0].channels, "wecom-wanke,");
}
END_TEST

START_TEST(test_comments_blank_lines_and_inline_comments)
{
    read_text("; a comment\n"
              "# another\n"
              "   ; indented comment\n"
              "\n"
              "[notify] ; the daemon\n"
              "state_dir = /a;b ; a ; inside a value needs no blank\n"
              "ack_url = http://h/#frag\n"
              "[channel c]\ntype = wecom\nurl = http://h\n");
    expect_none();
    ck_assert_str_eq(conf.state_dir, "/a;b");
    ck_assert_str_eq(conf.ack_url, "http://h/#frag");
}
END_TEST

START_TEST(test_crlf_and_bom_keep_values_and_line_numbers)
{
    char buf[1024];
    size_t n = 0;
    memcpy(buf, "\xef\xbb\xbf", 3);
    n = 3;
    for (const char *q = with("colour = red\n"); *q; q++) {
        if (*q == '\n')
            buf[n++] = '\r';
        buf[n++] = *q;
    }
    read_bytes(buf, n);
    expect("6: [channel wecom-wanke] colour: unknown key\n");
    ck_assert_str_eq(conf.channel[0].url, "https://qyapi.weixin.qq.com/send?key=k");
    /* a byte order mark is skipped on line 1 only */
    read_text(with("\xef\xbb\xbfrate = 1/s\n"));
    ck_assert_msg(strstr(out, ":6: [channel wecom-wanke]") != NULL, "%s", out);
    /* a line of many carriage returns is one line end */
    char crs[600];
    snprintf(crs, sizeof(crs), "%s", with("rate = 1/s"));
    size_t len = strlen(crs);
    memset(crs + len, '\r', 300);
    snprintf(crs + len + 300, sizeof(crs) - len - 300, "\ncolour = red\n");
    read_text(crs);
    expect("7: [channel wecom-wanke] colour: unknown key\n");
}
END_TEST

START_TEST(test_long_key_line_is_an_error_at_its_line)
{
    int max = ini_line_max();
    ck_assert_int_eq(max, 198);
    char line[512];
    /* the longest key line is accepted, indentation and trailing blanks not counted */
    memset(line, 'x', sizeof(line));
    memcpy(line, "  url = http://", 15);
    memcpy(line + 2 + max, "   \n", 5);
    read_text(with(line));
    ck_assert_msg(strstr(out, "line too long") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "[channel wecom-wanke] url: duplicate key") != NULL, "%s", out);
    /* one byte more is not */
    memset(line, 'x', sizeof(line));
    memcpy(line, "url = http://", 13);
    memcpy(line + max + 1, "\ncolour = red\n", 15);
    read_text(with(line));
    expect("6: [channel wecom-wanke]: line too long (at most 198 bytes)\n"
           "7: [channel wecom-wanke] colour: unknown key\n");
    /* comment lines have no limit */
    memset(line, 'x', sizeof(line));
    line[0] = ';';
    memcpy(line + 400, "\n", 2);
    read_text(with(line));
    expect_none();
}
END_TEST

START_TEST(test_gbk_value_is_an_error_that_names_the_encoding)
{
    /* 东风 in GBK: not UTF-8 */
    read_text(with("[route r]\nsubtree = a\nchannels = \xb6\xab\xb7\xe7\n"));
    expect("8: [route r] channels: not valid UTF-8 text (is the file saved as GBK? it must be "
           "UTF-8)\n");
    /* a required key with such a value is there, not missing */
    read_text(with("[route r]\nchannels = c\nsubtree = \xb6\xab\n"));
    ck_assert_int_eq(count_lines(out), 1);
    /* in a section header or a key */
    read_text(with("[route \xb6\xab]\nsubtree = a\n"));
    expect("6: section header is not valid UTF-8 (is the file saved as GBK? it must be UTF-8)\n");
    read_text(with("\xb6\xab = 1\n"));
    expect("6: [channel wecom-wanke]: key is not valid UTF-8 (is the file saved as GBK? it must "
           "be UTF-8)\n");
    /* UTF-8 Chinese is fine */
    read_text(with("[route r]\nsubtree = a\nchannels = 东风\n"));
    expect_none();
    ck_assert_str_eq(conf.route[0].channels, "东风");
}
END_TEST

/* A comment is never read: a GBK comment (Windows Notepad) is a warning,
 * so a file that loaded before still loads. */
START_TEST(test_gbk_comment_is_a_warning)
{
    ck_assert_int_eq(read_text(with("; \xb6\xab\xb7\xe7\nrate = 1/s ; \xb6\xab\n")), 0);
    expect("6: comment is not valid UTF-8 (is the file saved as GBK? it must be UTF-8)\n"
           "7: [channel wecom-wanke] rate: comment is not valid UTF-8 (is the file saved as GBK? "
           "it must be UTF-8)\n");
    ck_assert_int_eq(ini_fatal(ini, false), 0);
    ck_assert(ini_problem(ini, 0)->warning);
    ck_assert_int_eq(conf.channel[0].rate.count, 1);
}
END_TEST

START_TEST(test_utf16_file_is_one_clear_error)
{
    static const char utf16[] = "\xff\xfe[\0n\0o\0t\0i\0f\0y\0]\0\n\0";
    read_bytes(utf16, sizeof(utf16) - 1);
    expect("1: the file is UTF-16: it must be UTF-8\n");
}
END_TEST

START_TEST(test_nul_byte_is_an_error)
{
    char buf[512];
    size_t n = strlen(BASE);
    memcpy(buf, BASE, n);
    memcpy(buf + n, "rate = 1\0/s\ncolour = red\n", 25);
    read_bytes(buf, n + 25);
    expect("6: NUL byte in line\n"
           "7: [channel wecom-wanke] colour: unknown key\n");
}
END_TEST

/* ---- the key rules ---- */

START_TEST(test_key_problems)
{
    read_text(with("rate = 1/s\n"    /* 6 */
                   "rate = 2/s\n"    /* 7 */
                   "colour = red\n"  /* 8 */
                   "type =\n"        /* 9: repeated before empty */
                   "secret_file =\n" /* 10 */
                   "= 2\n"           /* 11 */
                   "rate: 3/s\n"     /* 12 */
                   "garbage\n"));    /* 13 */
    expect("7: [channel wecom-wanke] rate: duplicate key (first at line 6)\n"
           "8: [channel wecom-wanke] colour: unknown key\n"
           "9: [channel wecom-wanke] type: duplicate key (first at line 3)\n"
           "10: [channel wecom-wanke] secret_file: empty value\n"
           "11: [channel wecom-wanke]: missing key before '='\n"
           "12: [channel wecom-wanke]: expected `key = value`\n"
           "13: [channel wecom-wanke]: expected `key = value`\n");
    ck_assert_int_eq(conf.channel[0].rate.count, 1); /* the first one holds */
}
END_TEST

START_TEST(test_key_outside_any_section)
{
    read_text("stray = 1\n[notify]\n[channel c]\ntype = wecom\nurl = http://h\n");
    expect("1: stray: key outside any section\n");
}
END_TEST

START_TEST(test_ranges_and_values_from_the_table)
{
    read_text(with("[notify]\n"));
    ck_assert_msg(strstr(out, ":6: [notify]: duplicate section (first at line 1)") != NULL, "%s",
                  out);
    read_text("[notify]\n"
              "offline_after = 5s\n"   /* 2 */
              "queue_max = 2GiB\n"     /* 3 */
              "verbose = maybe\n"      /* 4 */
              "ack_url = ftp://h\n"    /* 5 */
              "[mqtt]\n"               /* 6 */
              "uri = tcp://a\n"        /* 7 */
              "keepalive = 1500ms\n"   /* 8 */
              "topic_prefix = a/+/b\n" /* 9 */
              "[channel c]\n"          /* 10 */
              "type = sms\n"           /* 11 */
              "url = http://h\n"       /* 12 */
              "rate = 2000/min\n");    /* 13 */
    expect("2: [notify] offline_after: 5s is out of range (10s..1h)\n"
           "3: [notify] queue_max: 2GiB is out of range (1MiB..1GiB)\n"
           "4: [notify] verbose: 'maybe' is not yes or no\n"
           "5: [notify] ack_url: 'ftp://h' is not an http:// or https:// URL\n"
           "8: [mqtt] keepalive: 1500ms is out of range (5s..1h)\n"
           "9: [mqtt] topic_prefix: 'a/+/b' is not topic-safe (levels of A-Z a-z 0-9 _ - "
           "separated by '/')\n"
           "11: [channel c] type: 'sms' is not one of: wecom, dingtalk, webhook\n"
           "13: [channel c] rate: '2000/min': count 2000 is out of range (1..1000)\n");
    ck_assert_int_eq(conf.offline_after_ms, 60000); /* the default stays */
    ck_assert_int_eq(conf.channel[0].ks.bad[CK_TYPE], true);
    ck_assert_int_eq(conf.channel[0].ks.line[CK_TYPE], 11);
    ck_assert(!ini_key_ok(&conf.channel[0].ks, CK_TYPE));
    ck_assert(ini_key_ok(&conf.channel[0].ks, CK_URL));
}
END_TEST

START_TEST(test_missing_required_keys_at_the_header)
{
    read_text("[notify]\n[mqtt]\ntopic_prefix = x\n[channel c]\ntype = wecom\n[route r]\n");
    expect("2: [mqtt] uri: missing (required)\n"
           "4: [channel c] url: missing (required)\n"
           "6: [route r] subtree: missing (required)\n"
           "6: [route r] channels: missing (required)\n");
    /* a key with a program condition is the program's to require */
    ck_assert_msg(strstr(out, "secret_file") == NULL, "%s", out);
}
END_TEST

START_TEST(test_missing_required_sections_at_the_last_line)
{
    read_text("[mqtt]\nuri = tcp://a\n\n; end\n");
    expect("4: [notify]: required section missing\n"
           "4: no channel: at least one [channel NAME] section is required\n");
    read_text("");
    expect("1: [notify]: required section missing\n"
           "1: no channel: at least one [channel NAME] section is required\n");
    /* a header of the type, even a refused one, is not "missing" */
    read_text("[notify]\n[channel]\n");
    expect("2: [channel]: needs a name: [channel NAME]\n");
}
END_TEST

/* ---- sections ---- */

START_TEST(test_section_header_rules)
{
    read_text(with("[alarm]\nfoo = 1\n"      /* 6, 7: keys of a refused header are skipped */
                   "[channel wecom-wanke]\n" /* 8 */
                   "[mqtt main]\n"           /* 9 */
                   "[route a/b]\n"           /* 10 */
                   "[route all]\n"           /* 11 */
                   "[channel x] junk\n"      /* 12 */
                   "[channel y\n"            /* 13 */
                   "[  route   spaced  ]\nsubtree = a\nchannels = x\n")); /* 14 */
    expect("6: [alarm]: unknown section (expected notify, mqtt, channel NAME or route NAME)\n"
           "8: [channel wecom-wanke]: duplicate section (first at line 2)\n"
           "9: [mqtt main]: takes no name: [mqtt]\n"
           "10: [route a/b]: route name 'a/b' is not a slug other than 'all'\n"
           "11: [route all]: route name 'all' is not a slug other than 'all'\n"
           "12: [channel x]: unexpected text after ']'\n"
           "13: section header without ']'\n");
    ck_assert_int_eq(conf.nroutes, 1);
    ck_assert_str_eq(conf.route[0].name, "spaced");
    read_text(with("[channel a.b]\n[channel 东区]\n"));
    expect("6: [channel a.b]: name 'a.b' is not topic-safe (use only A-Z a-z 0-9 _ -, at most 63 "
           "bytes)\n"
           "7: [channel 东区]: name '东区' is not topic-safe (use only A-Z a-z 0-9 _ -, at most 63 "
           "bytes)\n");
}
END_TEST

START_TEST(test_open_can_refuse_a_section)
{
    read_text(with("[channel b]\ntype = wecom\nurl = http://h\n"
                   "[channel c]\ntype = wecom\nurl = http://h\n"
                   "[channel d]\ntype = wecom\nurl = http://h\n"
                   "[channel e]\ntype = wecom\nurl = http://h\n"));
    expect("15: [channel e]: more than 4 channels\n");
    ck_assert_int_eq(conf.nchannels, 4);
    /* NULL with no reason: out of memory, which fails the load */
    read_text(with("[route a]\n[route b]\n[route c]\n[route d]\n[route e]\n"));
    ck_assert(ini_oom(ini));
    ck_assert_int_ge(ini_fatal(ini, false), 1);
}
END_TEST

/* shelter-report reads the [influx] of a gateway.conf: the shared table
 * for that section, and INI_OTHER for every other one. */
static void *open_influx(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct conf *c = user;
    (void)name, (void)err, (void)errlen;
    c->opens++;
    c->influx_line = line;
    *ks = &c->influx_ks;
    return &c->influx;
}

START_TEST(test_a_program_reads_one_section_of_another_programs_file)
{
    static const struct ini_section report[] = {
        {"influx", influxcfg_keys, INFLUXCFG_NKEYS, INI_SECTION_REQ, open_influx, NULL, NULL},
        {INI_OTHER, NULL, 0, 0, NULL, NULL, NULL},
    };
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[gateway]\nid = sh-0001\n[bus rs485-1]\ntype = rtu\n"
          "[influx]\nurl = http://127.0.0.1:8086\norg = city\nbucket = shelters\n"
          "[sensor sump-1]\nhigh = 70%\n[*]\nx = 1\n",
          f);
    ck_assert_int_eq(fclose(f), 0);
    memset(&conf, 0, sizeof(conf));
    ini = ini_new(path, report, 2, &conf);
    ck_assert_ptr_nonnull(ini);
    ck_assert_int_eq(ini_read(ini), 0);
    influxcfg_check(ini, conf.influx_line, &conf.influx_ks);
    ck_assert_int_eq(conf.opens, 1);
    ck_assert_str_eq(conf.influx.url, "http://127.0.0.1:8086");
    ck_assert_int_eq(ini_headers(ini, "*"), 4); /* gateway, bus, sensor, and "[*]" itself */
    ck_assert_int_eq(ini_count(ini), 1);
    ck_assert_msg(
        strstr(ini_problem(ini, 0)->text, ":5: [influx] token_file: missing (InfluxDB 2") != NULL,
        "%s", ini_problem(ini, 0)->text);
}
END_TEST

/* ---- the problem list ---- */

START_TEST(test_lenient_sections_fail_only_a_strict_load)
{
    ck_assert_int_eq(read_text(with("[mqtt]\nkeepalive = 1s\n")), 0);
    expect("6: [mqtt] uri: missing (required)\n"
           "7: [mqtt] keepalive: 1s is out of range (5s..1h)\n");
    ck_assert_int_eq(ini_fatal(ini, false), 2);
    ck_assert_int_eq(ini_fatal(ini, true), 0);
    const struct ini_problem *p = ini_problem(ini, 0);
    ck_assert(p->lenient);
    ck_assert(!p->warning);
    ck_assert_str_eq(p->type, "mqtt");
    ck_assert_int_eq(p->line, 6);
    /* an error elsewhere still fails a lenient load */
    read_text(with("[mqtt]\nkeepalive = 1s\n[notify]\n"));
    ck_assert_int_eq(ini_fatal(ini, true), 1);
}
END_TEST

START_TEST(test_problems_added_later_sort_into_line_order)
{
    read_text(with("colour = red\n"));
    ini_error(ini, 2, "channel wecom-wanke", NULL, "later, earlier line");
    ini_warning(ini, 6, NULL, "colour", "later, same line");
    ini_error_text(ini, 0, "whole-file problem");
    ck_assert_int_eq(ini_count(ini), 4);
    ck_assert_str_eq(ini_problem(ini, 0)->text, "whole-file problem");
    ck_assert_int_eq(ini_problem(ini, 1)->line, 2);
    ck_assert_msg(strstr(ini_problem(ini, 2)->text, "colour: unknown key") != NULL, "%s",
                  ini_problem(ini, 2)->text);
    ck_assert(ini_problem(ini, 3)->warning);
    ck_assert_ptr_null(ini_problem(ini, 4));
    ck_assert_int_eq(ini_fatal(ini, false), 3);
}
END_TEST

START_TEST(test_missing_file)
{
    memset(&conf, 0, sizeof(conf));
    ini = ini_new("/nonexistent/notify.conf", sections, NSECTIONS, &conf);
    ck_assert_ptr_nonnull(ini);
    errno = 0;
    ck_assert_int_eq(ini_read(ini), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_str_eq(ini_problem(ini, 0)->text,
                     "/nonexistent/notify.conf: cannot open: No such file or directory");
    ck_assert_int_eq(ini_problem(ini, 0)->line, 0);
    ck_assert_int_eq(conf.opens, 0);
    ck_assert_str_eq(ini_path(ini), "/nonexistent/notify.conf");
    ini_free(NULL);
}
END_TEST

/* A reason far longer than a problem line is cut at a whole character. */
START_TEST(test_long_problem_is_cut_at_a_character)
{
    char reason[3000];
    read_text(BASE);
    reason[0] = '\0';
    for (int i = 0; i < 900; i++)
        strcat(reason, "东");
    ini_error(ini, 1, NULL, NULL, "%s", reason);
    const char *t = ini_problem(ini, 0)->text;
    ck_assert_uint_lt(strlen(t), 1024);
    ck_assert_uint_eq((strlen(t) - strlen(path) - strlen(":1: ")) % 3, 0);
}
END_TEST

/* ---- the digest ---- */

static void digest_of(const char *text, char *buf)
{
    read_text(text);
    ck_assert_int_eq(ini_digest(ini, buf, INI_DIGEST_SIZE), 0);
    ck_assert_uint_eq(strlen(buf), INI_DIGEST_SIZE - 1);
}

START_TEST(test_digest_ignores_comments_and_layout_but_not_content)
{
    char a[INI_DIGEST_SIZE], b[INI_DIGEST_SIZE], small[8];

    digest_of("[notify]\noffline_after = 2min\n[channel c]\ntype = wecom\nurl = http://h\n", a);
    /* comments, blank lines, indentation, blanks, an inline comment, CR LF, a BOM */
    digest_of("\xef\xbb\xbf; the notifier\r\n\r\n  [notify]   ; daemon\r\n"
              "\toffline_after=2min ; two minutes\r\n# channels\r\n"
              "[channel c]\r\ntype   =   wecom\r\n    url = http://h\r\n\r\n",
              b);
    ck_assert_str_eq(a, b);
    /* a value, a key, a section name: each changes it */
    digest_of("[notify]\noffline_after = 3min\n[channel c]\ntype = wecom\nurl = http://h\n", b);
    ck_assert_str_ne(a, b);
    digest_of("[notify]\nofflineafter = 2min\n[channel c]\ntype = wecom\nurl = http://h\n", b);
    ck_assert_str_ne(a, b);
    digest_of("[notify]\noffline_after = 2min\n[channel d]\ntype = wecom\nurl = http://h\n", b);
    ck_assert_str_ne(a, b);
    /* a key moved to another section is another configuration */
    digest_of("[notify]\n[channel c]\noffline_after = 2min\ntype = wecom\nurl = http://h\n", b);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(ini_digest(ini, small, sizeof(small)), -1);
}
END_TEST

static Suite *ini_suite(void)
{
    Suite *s = suite_create("ini");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_notify_conf_is_a_table);
    tcase_add_test(tc, test_cross_checks_report_at_the_key_line_in_line_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("lines");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_indented_lines_are_ordinary_lines);
    tcase_add_test(tc, test_comments_blank_lines_and_inline_comments);
    tcase_add_test(tc, test_crlf_and_bom_keep_values_and_line_numbers);
    tcase_add_test(tc, test_long_key_line_is_an_error_at_its_line);
    tcase_add_test(tc, test_gbk_value_is_an_error_that_names_the_encoding);
    tcase_add_test(tc, test_gbk_comment_is_a_warning);
    tcase_add_test(tc, test_utf16_file_is_one_clear_error);
    tcase_add_test(tc, test_nul_byte_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_key_problems);
    tcase_add_test(tc, test_key_outside_any_section);
    tcase_add_test(tc, test_ranges_and_values_from_the_table);
    tcase_add_test(tc, test_missing_required_keys_at_the_header);
    tcase_add_test(tc, test_missing_required_sections_at_the_last_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("sections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_section_header_rules);
    tcase_add_test(tc, test_open_can_refuse_a_section);
    tcase_add_test(tc, test_a_program_reads_one_section_of_another_programs_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("problems");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lenient_sections_fail_only_a_strict_load);
    tcase_add_test(tc, test_problems_added_later_sort_into_line_order);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_long_problem_is_cut_at_a_character);
    suite_add_tcase(s, tc);

    tc = tcase_create("digest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_digest_ignores_comments_and_layout_but_not_content);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(ini_suite());
}
