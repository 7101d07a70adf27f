/* Unit tests: the InfluxDB line-protocol encoder, byte for byte, and the
 * alarm point's schema (points.c).  The same escape cases are written to a
 * real influxd and read back by tests/integration/test_influx_write.sh. */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "lineproto.h"
#include "points.h"

#define MAXN 4
#define FI(k, x)                                                                                   \
    {                                                                                              \
        .key = (k), .type = LP_INT, .v.i = (x)                                                     \
    }
#define FF(k, x)                                                                                   \
    {                                                                                              \
        .key = (k), .type = LP_FLOAT, .v.f = (x)                                                   \
    }
#define FB(k, x)                                                                                   \
    {                                                                                              \
        .key = (k), .type = LP_BOOL, .v.b = (x)                                                    \
    }
#define FS(k, x)                                                                                   \
    {                                                                                              \
        .key = (k), .type = LP_STR, .v.s = (x)                                                     \
    }

struct lp_case {
    const char *name;
    const char *measurement;
    struct lp_tag tags[MAXN];
    struct lp_field fields[MAXN];
    const char *expect; /* NULL: rejected with EINVAL */
};

static size_t count_tags(const struct lp_case *c)
{
    size_t n = 0;
    while (n < MAXN && c->tags[n].key)
        n++;
    return n;
}

static size_t count_fields(const struct lp_case *c)
{
    size_t n = 0;
    while (n < MAXN && c->fields[n].key)
        n++;
    return n;
}

/* Tables end their tag and field lists at the first NULL key, so cases that
 * need a NULL key build their point by hand (test_null_names_rejected). */
static struct lp_point point_of(const struct lp_case *c)
{
    return (struct lp_point){.measurement = c->measurement,
                             .tags = c->tags,
                             .ntags = count_tags(c),
                             .fields = c->fields,
                             .nfields = count_fields(c),
                             .ts_ms = 1732520000123};
}

static const struct lp_case escape_cases[] = {
    {"plain", "m", {{"a", "1"}}, {FI("f", 1)}, "m,a=1 f=1i 1732520000123\n"},
    {"measurement space and comma",
     "my meas,x",
     {{0}},
     {FI("f", 1)},
     "my\\ meas\\,x f=1i 1732520000123\n"},
    {"measurement equals sign is literal", "m=1", {{0}}, {FI("f", 1)}, "m=1 f=1i 1732520000123\n"},
    {"tag key specials",
     "m",
     {{"a b,c=d", "v"}},
     {FI("f", 1)},
     "m,a\\ b\\,c\\=d=v f=1i 1732520000123\n"},
    {"tag value specials",
     "m",
     {{"t", "x y,z=w"}},
     {FI("f", 1)},
     "m,t=x\\ y\\,z\\=w f=1i 1732520000123\n"},
    {"field key specials", "m", {{0}}, {FI("f k,=", 1)}, "m f\\ k\\,\\==1i 1732520000123\n"},
    {"string quotes and backslash",
     "m",
     {{0}},
     {FS("s", "say \"hi\" \\ there")},
     "m s=\"say \\\"hi\\\" \\\\ there\" 1732520000123\n"},
    {"string trailing backslash", "m", {{0}}, {FS("s", "C:\\")}, "m s=\"C:\\\\\" 1732520000123\n"},
    {"string with specials of other elements",
     "m",
     {{0}},
     {FS("s", "a b,c=d")},
     "m s=\"a b,c=d\" 1732520000123\n"},
    {"empty string", "m", {{0}}, {FS("s", "")}, "m s=\"\" 1732520000123\n"},
    {"null string is empty", "m", {{0}}, {FS("s", NULL)}, "m s=\"\" 1732520000123\n"},
    {"lone backslash in names is literal",
     "m\\x",
     {{"k\\y", "v\\z"}},
     {FI("f\\w", 1)},
     "m\\x,k\\y=v\\z f\\w=1i 1732520000123\n"},
    {"quotes in tag value and field key are literal",
     "m",
     {{"t", "say\"x\""}},
     {FI("a\"b", 1)},
     "m,t=say\"x\" a\"b=1i 1732520000123\n"},
    {"chinese kept byte for byte",
     "water_level",
     {{"shelter", "人防工程一号"}, {"location", "地下车库 B2"}},
     {FS("message", "水位过高，请立即处理"), FS("名称", "集水坑")},
     "water_level,location=地下车库\\ B2,shelter=人防工程一号 "
     "message=\"水位过高，请立即处理\",名称=\"集水坑\" 1732520000123\n"},
    {"tags sorted by key bytes",
     "m",
     {{"b", "2"}, {"a", "1"}, {"B", "3"}, {"aa", "4"}},
     {FI("f", 1)},
     "m,B=3,a=1,aa=4,b=2 f=1i 1732520000123\n"},
    {"empty and null tag values omitted",
     "m",
     {{"a", ""}, {"b", NULL}, {"c", "1"}},
     {FI("f", 1)},
     "m,c=1 f=1i 1732520000123\n"},
    {"all tags empty", "m", {{"a", ""}}, {FI("f", 1)}, "m f=1i 1732520000123\n"},
    {"fields keep their order",
     "m",
     {{0}},
     {FB("z", true), FI("a", 2), FS("m", "x")},
     "m z=true,a=2i,m=\"x\" 1732520000123\n"},

    /* newlines: never sent */
    {"newline in measurement", "m\nx", {{0}}, {FI("f", 1)}, NULL},
    {"newline in tag key", "m", {{"a\nb", "1"}}, {FI("f", 1)}, NULL},
    {"newline in tag value", "m", {{"t", "a\nb"}}, {FI("f", 1)}, NULL},
    {"newline in field key", "m", {{0}}, {FI("f\n", 1)}, NULL},
    {"newline in string field", "m", {{0}}, {FS("s", "line1\nline2")}, NULL},
    /* backslashes that InfluxDB versions read differently */
    {"trailing backslash in tag value", "m", {{"t", "a\\"}}, {FI("f", 1)}, NULL},
    {"double backslash in tag value", "m", {{"t", "a\\\\b"}}, {FI("f", 1)}, NULL},
    {"backslash before comma", "m", {{"t", "a\\,b"}}, {FI("f", 1)}, NULL},
    {"backslash before space", "m", {{0}}, {FI("a\\ b", 1)}, NULL},
    {"backslash before equals", "m", {{"a\\=b", "1"}}, {FI("f", 1)}, NULL},
    {"backslash before quote", "m", {{"t", "a\\\"b"}}, {FI("f", 1)}, NULL},
    {"trailing backslash in measurement", "m\\", {{0}}, {FI("f", 1)}, NULL},
    /* structure */
    {"empty measurement", "", {{0}}, {FI("f", 1)}, NULL},
    {"comment measurement", "#m", {{0}}, {FI("f", 1)}, NULL},
    {"empty tag key", "m", {{"", "1"}}, {FI("f", 1)}, NULL},
    {"empty tag key with empty value", "m", {{"", ""}}, {FI("f", 1)}, NULL},
    {"empty field key", "m", {{0}}, {FI("", 1)}, NULL},
    {"duplicate tag keys", "m", {{"a", "1"}, {"a", "2"}}, {FI("f", 1)}, NULL},
    {"duplicate field keys", "m", {{0}}, {FI("f", 1), FF("f", 2.0)}, NULL},
    {"no field", "m", {{"a", "1"}}, {{0}}, NULL},
};

START_TEST(test_escape_table)
{
    const struct lp_case *c = &escape_cases[_i];
    struct lp_point pt = point_of(c);
    char buf[512];

    memset(buf, 'X', sizeof(buf));
    errno = 0;
    ssize_t n = lp_encode(buf, sizeof(buf), &pt);
    if (c->expect == NULL) {
        ck_assert_msg(n == -1 && errno == EINVAL, "%s: want EINVAL, got %zd (%s)", c->name, n,
                      n >= 0 ? buf : "");
        return;
    }
    ck_assert_msg(n >= 0, "%s: failed: %s", c->name, strerror(errno));
    ck_assert_msg(strcmp(buf, c->expect) == 0, "%s:\n got  [%s]\n want [%s]", c->name, buf,
                  c->expect);
    ck_assert_int_eq(n, (ssize_t)strlen(c->expect));
    ck_assert_int_eq(lp_encode(NULL, 0, &pt), n); /* measuring agrees */
}
END_TEST

START_TEST(test_null_names_rejected)
{
    struct lp_field f = lp_int("f", 1);
    struct lp_field nokey = lp_int(NULL, 1);
    struct lp_tag t = {NULL, "v"};
    struct lp_point no_meas = {NULL, NULL, 0, &f, 1, 0};
    struct lp_point null_tag = {"m", &t, 1, &f, 1, 0};
    struct lp_point null_field = {"m", NULL, 0, &nokey, 1, 0};
    char buf[64];

    errno = 0;
    ck_assert_int_eq(lp_encode(buf, sizeof(buf), &no_meas), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(lp_encode(buf, sizeof(buf), &null_tag), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(lp_encode(buf, sizeof(buf), &null_field), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

struct num_case {
    struct lp_field field;
    const char *expect; /* the field's bytes after "m " */
};

static const struct num_case number_cases[] = {
    {FI("i", 0), "i=0i"},
    {FI("i", 42), "i=42i"},
    {FI("i", -42), "i=-42i"},
    {FI("i", INT64_MAX), "i=9223372036854775807i"},
    {FI("i", INT64_MIN), "i=-9223372036854775808i"},
    {FF("f", 0.1), "f=0.1"},
    {FF("f", 1e-7), "f=1e-07"},
    {FF("f", 1e300), "f=1e+300"},
    {FF("f", 1.0), "f=1"},
    {FF("f", -2.5), "f=-2.5"},
    {FF("f", -0.0), "f=-0"},
    {FF("f", 0.1 + 0.2), "f=0.30000000000000004"},
    {FF("f", 123456789012345678.0), "f=1.2345678901234568e+17"},
    {FF("f", 1.7976931348623157e308), "f=1.7976931348623157e+308"},
    {FF("f", 4503599627370497.0), "f=4503599627370497"},
    {FF("f", 21.37), "f=21.37"},
    {FB("b", true), "b=true"},
    {FB("b", false), "b=false"},
};

START_TEST(test_number_table)
{
    const struct num_case *c = &number_cases[_i];
    struct lp_point pt = {"m", NULL, 0, &c->field, 1, 5};
    char buf[128], want[128];

    snprintf(want, sizeof(want), "m %s 5\n", c->expect);
    ck_assert_int_ge(lp_encode(buf, sizeof(buf), &pt), 0);
    ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(test_floats_round_trip)
{
    /* Random bit patterns: whatever the encoder picks must read back exactly. */
    uint64_t x = 0x9E3779B97F4A7C15u;
    char buf[128];
    int checked = 0;

    while (checked < 100000) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        struct lp_field f = lp_float("f", v);
        struct lp_point pt = {"m", NULL, 0, &f, 1, 0};
        ck_assert_int_ge(lp_encode(buf, sizeof(buf), &pt), 0);
        double back = strtod(buf + 4, NULL);
        ck_assert_msg(memcmp(&back, &v, sizeof(v)) == 0, "%.17g encoded as %s", v, buf);
        checked++;
    }
}
END_TEST

START_TEST(test_nan_and_inf_fields_omitted)
{
    struct lp_field f[] = {lp_float("nan", NAN), lp_int("i", 3), lp_float("inf", INFINITY),
                           lp_float("ninf", -INFINITY), lp_str("quality", "comm_lost")};
    struct lp_point pt = {"m", NULL, 0, f, 5, 7};
    char buf[128];

    ck_assert_int_ge(lp_encode(buf, sizeof(buf), &pt), 0);
    ck_assert_str_eq(buf, "m i=3i,quality=\"comm_lost\" 7\n");
}
END_TEST

START_TEST(test_point_with_only_nan_or_inf_rejected)
{
    struct lp_field f[] = {lp_float("a", NAN), lp_float("b", -INFINITY)};
    struct lp_point pt = {"m", NULL, 0, f, 2, 7};
    char buf[128];

    errno = 0;
    ck_assert_int_eq(lp_encode(buf, sizeof(buf), &pt), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(lp_encode(NULL, 0, &pt), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_timestamps)
{
    struct lp_field f = lp_int("f", 1);
    struct lp_point pt = {"m", NULL, 0, &f, 1, 0};
    char buf[128];

    lp_encode(buf, sizeof(buf), &pt);
    ck_assert_str_eq(buf, "m f=1i 0\n");
    pt.ts_ms = -1000; /* before 1970: InfluxDB accepts it */
    lp_encode(buf, sizeof(buf), &pt);
    ck_assert_str_eq(buf, "m f=1i -1000\n");
    pt.ts_ms = 4102444800000; /* 2100-01-01 */
    lp_encode(buf, sizeof(buf), &pt);
    ck_assert_str_eq(buf, "m f=1i 4102444800000\n");
}
END_TEST

START_TEST(test_buffer_too_small_is_enospc_and_stays_in_bounds)
{
    struct lp_tag t[] = {{"shelter", "人防工程一号"}, {"sensor", "sump 1"}};
    struct lp_field f[] = {lp_float("level_m", 1.25), lp_str("quality", "good")};
    struct lp_point pt = {"water_level", t, 2, f, 2, 1732520000123};
    const char *want = "water_level,sensor=sump\\ 1,shelter=人防工程一号 level_m=1.25,"
                       "quality=\"good\" 1732520000123\n";
    size_t len = strlen(want);
    char buf[256];

    ck_assert_int_eq(lp_encode(NULL, 0, &pt), (ssize_t)len);
    for (size_t cap = 0; cap <= len; cap++) {
        memset(buf, '#', sizeof(buf));
        errno = 0;
        ck_assert_int_eq(lp_encode(buf, cap, &pt), -1);
        ck_assert_int_eq(errno, ENOSPC);
        for (size_t i = cap; i < sizeof(buf); i++)
            ck_assert_msg(buf[i] == '#', "cap %zu: byte %zu written", cap, i);
    }
    ck_assert_int_eq(lp_encode(buf, len + 1, &pt), (ssize_t)len);
    ck_assert_str_eq(buf, want);
}
END_TEST

START_TEST(test_invalid_point_is_einval_even_when_too_big)
{
    struct lp_field f = lp_str("s", "a\nb");
    struct lp_point pt = {"m", NULL, 0, &f, 1, 0};
    char buf[4];

    errno = 0;
    ck_assert_int_eq(lp_encode(buf, sizeof(buf), &pt), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_lines_append_into_one_batch)
{
    struct lp_field f1 = lp_bool("wet", true), f2 = lp_int("co2_ppm", 812);
    struct lp_point p1 = {"water_leak", NULL, 0, &f1, 1, 1}, p2 = {"co2", NULL, 0, &f2, 1, 2};
    char batch[64];
    size_t used = 0;
    ssize_t n;

    n = lp_encode(batch + used, sizeof(batch) - used, &p1);
    ck_assert_int_gt(n, 0);
    used += (size_t)n;
    n = lp_encode(batch + used, sizeof(batch) - used, &p2);
    ck_assert_int_gt(n, 0);
    used += (size_t)n;
    ck_assert_str_eq(batch, "water_leak wet=true 1\nco2 co2_ppm=812i 2\n");
    ck_assert_uint_eq(used, strlen(batch));
}
END_TEST

/* ---- the alarm point (points.c, docs/design.md section 15) ---- */

static const struct points_site site = {.level = {[TOPIC_CITY] = "zz",
                                                  [TOPIC_DISTRICT] = "js",
                                                  [TOPIC_STREET] = "fc",
                                                  [TOPIC_COMMUNITY] = "df",
                                                  [TOPIC_PROPERTY] = "wk",
                                                  [TOPIC_ID] = "gw1"}};

static void alarm_line(const char *event, bool active, char *buf, size_t len)
{
    struct alarm_msg m = {.seq = 7,
                          .ts_ms = 1784541784123LL,
                          .sensor = "smoke-1",
                          .kind = "smoke",
                          .location = "B1",
                          .alarm = "fire",
                          .event = event,
                          .active = active,
                          .acked = true,
                          .severity = "critical",
                          .value = NAN,
                          .threshold = NAN,
                          .unit = "",
                          .message = "火警",
                          .by = "物业王经理"};
    ck_assert_int_gt(points_alarm(&site, &m, buf, len), 0);
}

/* The series key: measurement and tags, up to the first blank (no value
 * here needs escaping). */
static void series_key(const char *line, char *key, size_t len)
{
    size_t n = strcspn(line, " ");
    ck_assert_uint_lt(n, len);
    memcpy(key, line, n);
    key[n] = '\0';
}

START_TEST(test_alarm_point_tags_kind_and_event)
{
    char line[1024], key[512];
    alarm_line("acknowledged", false, line, sizeof(line));
    series_key(line, key, sizeof(key));
    ck_assert_str_eq(key, "alarm,alarm=fire,city=zz,community=df,district=js,event=acknowledged,"
                          "kind=smoke,property=wk,sensor=smoke-1,severity=critical,shelter=gw1,"
                          "street=fc");
    /* Not fields as well: a key is a tag or a field, never both. */
    ck_assert_ptr_null(strstr(line + strlen(key), "event="));
    ck_assert_ptr_null(strstr(line + strlen(key), "kind="));
    ck_assert_ptr_nonnull(strstr(line + strlen(key), " seq=7i,"));
}
END_TEST

/* A latched fire acknowledged after the smoke went: acknowledged and cleared
 * in the same millisecond must be two points (two series). */
START_TEST(test_two_transitions_in_one_ms_are_two_points)
{
    char a[1024], b[1024], ka[512], kb[512];
    alarm_line("acknowledged", false, a, sizeof(a));
    alarm_line("cleared", false, b, sizeof(b));
    series_key(a, ka, sizeof(ka));
    series_key(b, kb, sizeof(kb));
    ck_assert_str_ne(ka, kb);
    ck_assert_str_eq(strrchr(a, ' '), strrchr(b, ' ')); /* the same timestamp */
}
END_TEST

static Suite *lineproto_suite(void)
{
    Suite *s = suite_create("lineproto");
    TCase *tc = tcase_create("encode");
    tcase_add_loop_test(tc, test_escape_table, 0,
                        (int)(sizeof(escape_cases) / sizeof(escape_cases[0])));
    tcase_add_test(tc, test_null_names_rejected);
    tcase_add_loop_test(tc, test_number_table, 0,
                        (int)(sizeof(number_cases) / sizeof(number_cases[0])));
    tcase_add_test(tc, test_floats_round_trip);
    tcase_add_test(tc, test_nan_and_inf_fields_omitted);
    tcase_add_test(tc, test_point_with_only_nan_or_inf_rejected);
    tcase_add_test(tc, test_timestamps);
    tcase_add_test(tc, test_buffer_too_small_is_enospc_and_stays_in_bounds);
    tcase_add_test(tc, test_invalid_point_is_einval_even_when_too_big);
    tcase_add_test(tc, test_lines_append_into_one_batch);
    suite_add_tcase(s, tc);
    tc = tcase_create("points");
    tcase_add_test(tc, test_alarm_point_tags_kind_and_event);
    tcase_add_test(tc, test_two_transitions_in_one_ms_are_two_points);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(lineproto_suite());
}
