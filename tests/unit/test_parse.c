/*
 * Unit tests of lib/parse: the strict value parsers every program uses.
 * Each takes the whole string, checks the range and gives a reason that
 * quotes the value; a refused value leaves *out alone.  Links lib alone.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check_run.h"
#include "parse.h"

/* ---- numbers and durations (moved from test_cfg.c with the parsers) ---- */

START_TEST(test_parse_int_edges)
{
    long v;
    char err[128];
    ck_assert_int_eq(parse_int("0", 0, 10, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(parse_int("10", 0, 10, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(parse_int("-5", -5, 10, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(parse_int("+7", 0, 10, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(parse_int("11", 0, 10, &v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "11 is out of range (0..10)");
    ck_assert_int_eq(parse_int("-6", -5, 10, &v, err, sizeof(err)), -1);
    static const char *bad[] = {"", " 1", "1 ", "0x10", "1.0", "1e3", "abc", "-", "+", "--1", "1a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        ck_assert_msg(parse_int(bad[i], -100000, 100000, &v, err, sizeof(err)) == -1, "'%s'",
                      bad[i]);
        ck_assert_int_eq(v, 42);
        ck_assert_msg(strstr(err, "is not an integer") != NULL, "%s", err);
    }
    ck_assert_int_eq(parse_int("99999999999999999999", 0, 10, &v, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
    ck_assert_int_eq(
        parse_int("9223372036854775807", 0, 9223372036854775807L, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(
        parse_int("-9223372036854775809", -9223372036854775807L - 1, 0, &v, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_parse_double_edges)
{
    double d;
    char err[128];
    ck_assert_int_eq(parse_double("1.5", 0, 2, &d, err, sizeof(err)), 0);
    ck_assert_double_eq(d, 1.5);
    ck_assert_int_eq(parse_double(".5", 0, 2, &d, err, sizeof(err)), 0);
    ck_assert_double_eq(d, 0.5);
    ck_assert_int_eq(parse_double("1.", 0, 2, &d, err, sizeof(err)), 0);
    ck_assert_double_eq(d, 1.0);
    ck_assert_int_eq(parse_double("1e-1", 0, 2, &d, err, sizeof(err)), 0);
    ck_assert_double_eq_tol(d, 0.1, 1e-15);
    ck_assert_int_eq(parse_double("-2", -2, 2, &d, err, sizeof(err)), 0);
    ck_assert_int_eq(parse_double("2.0000001", 0, 2, &d, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "2.0000001 is out of range (0..2)");
    ck_assert_int_eq(parse_double("1e999", 0, 1e300, &d, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
    static const char *bad[] = {"",   ".",   "nan", "inf", "-inf",  "0x1p1", " 1",
                                "1 ", "1,5", "e3",  "1e",  "1.2.3", "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse_double(bad[i], -1e9, 1e9, &d, err, sizeof(err)) == -1, "'%s'", bad[i]);
        ck_assert_msg(strstr(err, "is not a number") != NULL, "'%s': %s", bad[i], err);
    }
}
END_TEST

START_TEST(test_duration_units)
{
    int64_t ms;
    char err[160];
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {{"0ms", 0},      {"500ms", 500},    {"2s", 2000},   {"10min", 600000},
                {"1h", 3600000}, {"24h", 86400000}, {"007s", 7000}, {"31d", 2678400000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(parse_duration_ms(good[i].s, 0, INT64_MAX, &ms, err, sizeof(err)) == 0,
                      "%s: %s", good[i].s, err);
        ck_assert_int_eq(ms, good[i].ms);
    }
}
END_TEST

START_TEST(test_duration_needs_a_known_unit)
{
    int64_t ms = 42;
    char err[160];
    ck_assert_int_eq(parse_duration_ms("30", 0, 100000, &ms, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'30' needs a unit (ms, s, min, h, d)");
    ck_assert_int_eq(parse_duration_ms("5m", 0, 1000000, &ms, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'5m': unknown unit 'm' (use ms, s, min, h, d)");
    static const char *bad_unit[] = {"5sec", "5S", "5 s", "5hours", "5D", "5days", "5s ", "1.5s"};
    for (size_t i = 0; i < sizeof(bad_unit) / sizeof(bad_unit[0]); i++) {
        ck_assert_msg(parse_duration_ms(bad_unit[i], 0, 1000000, &ms, err, sizeof(err)) == -1, "%s",
                      bad_unit[i]);
        ck_assert_msg(strstr(err, "unknown unit") != NULL, "%s: %s", bad_unit[i], err);
    }
    static const char *not_duration[] = {"", "s", "ms", "-1s", "+1s", " 1s", ".5s"};
    for (size_t i = 0; i < sizeof(not_duration) / sizeof(not_duration[0]); i++) {
        ck_assert_msg(parse_duration_ms(not_duration[i], 0, 1000000, &ms, err, sizeof(err)) == -1,
                      "'%s'", not_duration[i]);
        ck_assert_msg(strstr(err, "is not a duration") != NULL, "%s: %s", not_duration[i], err);
    }
    ck_assert_int_eq(ms, 42);
}
END_TEST

START_TEST(test_duration_range_and_overflow)
{
    int64_t ms;
    char err[160];
    ck_assert_int_eq(parse_duration_ms("10ms", 10, 5000, &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(parse_duration_ms("5s", 10, 5000, &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(parse_duration_ms("9ms", 10, 5000, &ms, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "9ms is out of range (10ms..5s)");
    ck_assert_int_eq(parse_duration_ms("5001ms", 10, 5000, &ms, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_duration_ms("1min", 100, 3600000, &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(ms, 60000);
    ck_assert_int_eq(parse_duration_ms("9999999999999999h", 0, INT64_MAX, &ms, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
    ck_assert_int_eq(
        parse_duration_ms("99999999999999999999ms", 0, INT64_MAX, &ms, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
}
END_TEST

/* "010" is ten: the simulator's raw command read it as eight (strtol base 0). */
START_TEST(test_int_hex_reads_hex_and_leading_zeros_as_decimal)
{
    long v;
    char err[160];
    ck_assert_int_eq(parse_int_hex("010", 0, 0xFFFF, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(parse_int_hex("0x11", 0, 0xFFFF, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 0x11);
    ck_assert_int_eq(parse_int_hex("0XfF", 0, 0xFFFF, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 255);
    ck_assert_int_eq(parse_int_hex("-5", -32768, 65535, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(parse_int_hex("0x10000", 0, 0xFFFF, &v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "0x10000 is out of range (0..65535)");
    static const char *bad[] = {"0x", "0xg", "-0x5", "0x 5", " 0x5", "0x5 ", "0b101", "x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        ck_assert_msg(parse_int_hex(bad[i], -100, 0xFFFF, &v, err, sizeof(err)) == -1, "'%s'",
                      bad[i]);
        ck_assert_int_eq(v, 42);
    }
    /* parse_int itself never reads hex */
    ck_assert_int_eq(parse_int("0x10", 0, 100, &v, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_int("010", 0, 100, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 10);
}
END_TEST

START_TEST(test_days_and_the_form_durations_print_in)
{
    char buf[32];
    static const struct {
        int64_t ms;
        const char *s;
    } forms[] = {{0, "0ms"},        {1, "1ms"},          {1500, "1500ms"},     {2000, "2s"},
                 {90000, "90s"},    {600000, "10min"},   {3600000, "1h"},      {86400000, "1d"},
                 {90000000, "25h"}, {2678400000, "31d"}, {34560000000, "400d"}};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        int64_t back = -1;
        char err[160];
        parse_format_duration(forms[i].ms, buf, sizeof(buf));
        ck_assert_str_eq(buf, forms[i].s);
        ck_assert_int_eq(parse_duration_ms(buf, 0, INT64_MAX, &back, err, sizeof(err)), 0);
        ck_assert_int_eq(back, forms[i].ms);
    }
    int64_t ms;
    char err[160];
    ck_assert_int_eq(parse_duration_ms("401d", 0, 400 * 86400000LL, &ms, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "401d is out of range (0ms..400d)");
}
END_TEST

START_TEST(test_bool_words)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};
    char err[160];
    for (size_t i = 0; i < 4; i++) {
        bool b = false;
        ck_assert_int_eq(parse_bool(yes[i], &b, err, sizeof(err)), 0);
        ck_assert(b);
        ck_assert_int_eq(parse_bool(no[i], &b, err, sizeof(err)), 0);
        ck_assert(!b);
    }
    static const char *bad[] = {"", "Yes", "YES", "y", "2", "yes ", "enabled"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool b = true;
        ck_assert_msg(parse_bool(bad[i], &b, err, sizeof(err)) == -1, "'%s'", bad[i]);
        ck_assert(b);
    }
    ck_assert_str_eq(err, "'enabled' is not yes or no");
}
END_TEST

START_TEST(test_enum_names_the_choices)
{
    static const struct name_value colours[] = {{"red", 1}, {"green", 2}, {"blue", 3}, {NULL, 0}};
    int v = 0;
    char err[160], list[16];
    ck_assert_int_eq(parse_enum("green", colours, &v, err, sizeof(err)), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(parse_enum("Green", colours, &v, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'Green' is not one of: red, green, blue");
    ck_assert_int_eq(v, 2);
    parse_list_names(colours, list, sizeof(list));
    ck_assert_str_eq(list, "red, green, blu"); /* cut to the buffer */
}
END_TEST

START_TEST(test_size_needs_a_binary_unit)
{
    uint64_t n = 0;
    char err[160];
    ck_assert_int_eq(parse_size("64MiB", 0, UINT64_MAX, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 64u << 20);
    ck_assert_int_eq(parse_size("512B", 0, UINT64_MAX, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 512);
    ck_assert_int_eq(parse_size("4KiB", 0, UINT64_MAX, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 4096);
    ck_assert_int_eq(parse_size("2GiB", 0, UINT64_MAX, &n, err, sizeof(err)), 0);
    ck_assert_uint_eq(n, 2ull << 30);
    ck_assert_int_eq(parse_size("64", 0, UINT64_MAX, &n, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'64' needs a unit (B, KiB, MiB, GiB)");
    ck_assert_int_eq(parse_size("64MB", 0, UINT64_MAX, &n, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'64MB': unknown unit 'MB' (use B, KiB, MiB, GiB)");
    ck_assert_int_eq(parse_size("5MiB", 1 << 20, 4 << 20, &n, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "5MiB is out of range (1MiB..4MiB)");
    ck_assert_int_eq(parse_size("99999999999999999999GiB", 0, UINT64_MAX, &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(parse_size("-1B", 0, UINT64_MAX, &n, err, sizeof(err)), -1);
    ck_assert_uint_eq(n, 2ull << 30);
}
END_TEST

START_TEST(test_rate_per_unit_or_per_duration)
{
    struct parse_rate r = {0, 0};
    char err[200];
    ck_assert_int_eq(parse_rate("20/min", 1000, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.count, 20);
    ck_assert_int_eq(r.per_ms, 60000);
    ck_assert_int_eq(parse_rate("1/s", 1000, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.per_ms, 1000);
    ck_assert_int_eq(parse_rate("5/10s", 1000, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.count, 5);
    ck_assert_int_eq(r.per_ms, 10000);
    ck_assert_int_eq(parse_rate("100/d", 1000, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.per_ms, 86400000);
    ck_assert_int_eq(parse_rate("20", 1000, &r, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'20' is not a rate (COUNT/PERIOD, e.g. 20/min)");
    ck_assert_int_eq(parse_rate("0/min", 1000, &r, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'0/min': count 0 is out of range (1..1000)");
    ck_assert_int_eq(parse_rate("20/minute", 1000, &r, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "'20/minute': period ") == err, "%s", err);
    ck_assert_int_eq(parse_rate("20/0s", 1000, &r, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_rate("20/2d", 1000, &r, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_rate("x/min", 1000, &r, err, sizeof(err)), -1);
    ck_assert_int_eq(parse_rate(" 20/min", 1000, &r, err, sizeof(err)), -1);
    ck_assert_int_eq(r.count, 100); /* untouched by the refusals */
}
END_TEST

/* A reason always fits the caller's buffer, however long the value. */
START_TEST(test_reasons_quote_at_most_64_bytes_of_the_value)
{
    char value[300], err[160];
    long v;
    memset(value, '9', sizeof(value) - 2);
    value[sizeof(value) - 2] = 'x';
    value[sizeof(value) - 1] = '\0';
    ck_assert_int_eq(parse_int(value, 0, 1, &v, err, sizeof(err)), -1);
    ck_assert_uint_lt(strlen(err), 100);
    char tiny[8];
    ck_assert_int_eq(parse_int(value, 0, 1, &v, tiny, sizeof(tiny)), -1);
    ck_assert_uint_eq(strlen(tiny), 7);
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("numbers");
    tcase_add_test(tc, test_parse_int_edges);
    tcase_add_test(tc, test_parse_double_edges);
    tcase_add_test(tc, test_int_hex_reads_hex_and_leading_zeros_as_decimal);
    tcase_add_test(tc, test_reasons_quote_at_most_64_bytes_of_the_value);
    suite_add_tcase(s, tc);

    tc = tcase_create("units");
    tcase_add_test(tc, test_duration_units);
    tcase_add_test(tc, test_duration_needs_a_known_unit);
    tcase_add_test(tc, test_duration_range_and_overflow);
    tcase_add_test(tc, test_days_and_the_form_durations_print_in);
    tcase_add_test(tc, test_size_needs_a_binary_unit);
    tcase_add_test(tc, test_rate_per_unit_or_per_duration);
    suite_add_tcase(s, tc);

    tc = tcase_create("words");
    tcase_add_test(tc, test_bool_words);
    tcase_add_test(tc, test_enum_names_the_choices);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(parse_suite());
}
