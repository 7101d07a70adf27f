/* Unit tests of the alarm catalogue (sensors/alarmdef.[ch], alarm_text.c),
 * linked without the gateway: what shelter-watch, shelter-notify and
 * shelter-report name and print. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "alarmdef.h"
#include "check_run.h"
#include "kind.h"

START_TEST(test_every_alarm_has_a_row_in_both_languages)
{
    for (int id = 0; id <= ALARM_INHIBIT; id++) {
        const struct alarm_def *ad = alarm_def((enum alarm_id)id);
        ck_assert_ptr_nonnull(ad);
        ck_assert_msg(ad->name != NULL && ad->name[0] != '\0', "alarm %d has no name", id);
        ck_assert_msg(ad->zh != NULL && ad->zh[0] != '\0', "%s has no Chinese name", ad->name);
        ck_assert_msg(ad->en != NULL && ad->en[0] != '\0', "%s has no English name", ad->name);
        ck_assert_ptr_nonnull(ad->unit);
        ck_assert_str_eq(alarm_name((enum alarm_id)id), ad->name);
        ck_assert_str_ne(alarm_severity_name(ad->severity), "?");
    }
    ck_assert_ptr_null(alarm_def((enum alarm_id)(ALARM_INHIBIT + 1)));
    ck_assert_str_eq(alarm_name(ALARM_INHIBIT), "inhibit");
    ck_assert_str_eq(alarm_name((enum alarm_id)(ALARM_INHIBIT + 1)), "?");
}
END_TEST

/* Within a kind an alarm's name is its topic level: unique, and found again. */
START_TEST(test_names_are_unique_per_kind_and_round_trip)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        int n = 0;
        for (int a = 0; a < ALARM_COUNT; a++) {
            enum alarm_id found;
            if (!alarm_applies((enum kind)k, (enum alarm_id)a))
                continue;
            n++;
            ck_assert_int_eq(alarm_from_name((enum kind)k, alarm_name((enum alarm_id)a), &found),
                             0);
            ck_assert_int_eq(found, a);
        }
        ck_assert_int_ge(n, 3); /* comm_lost, implausible and one of its own at least */
    }
    enum alarm_id id;
    ck_assert_int_eq(alarm_from_name(KIND_CO2, "high", &id), 0);
    ck_assert_int_eq(id, ALARM_CO2_HIGH);
    ck_assert_int_eq(alarm_from_name(KIND_WATER_LEVEL, "high", &id), 0);
    ck_assert_int_eq(id, ALARM_WL_HIGH);
    ck_assert_int_eq(alarm_from_name(KIND_SMOKE, "leak", &id), -1);
    ck_assert_int_eq(alarm_from_name(KIND_SMOKE, "inhibit", &id), -1);
    ck_assert(!alarm_applies(KIND_COUNT, ALARM_COMM_LOST));
    ck_assert(!alarm_applies(KIND_SMOKE, ALARM_INHIBIT));
}
END_TEST

START_TEST(test_severity_and_event_names)
{
    static const char *const sev[] = {"critical", "major", "minor", "info"};
    for (int i = 0; i < 4; i++) {
        enum alarm_severity s;
        ck_assert_str_eq(alarm_severity_name((enum alarm_severity)i), sev[i]);
        ck_assert_int_eq(alarm_severity_from_name(sev[i], &s), 0);
        ck_assert_int_eq(s, i);
    }
    enum alarm_severity s;
    ck_assert_int_eq(alarm_severity_from_name("Critical", &s), -1);
    ck_assert_str_eq(alarm_event_type_name(ALARM_EV_INHIBIT_STARTED), "inhibit_started");
    ck_assert_str_eq(alarm_event_type_name(ALARM_EV_WITHDRAWN), "withdrawn");
    ck_assert_str_eq(alarm_event_type_name((enum alarm_event_type)99), "?");
}
END_TEST

/* A receiver builds the event from a payload and gets the gateway's words. */
START_TEST(test_message_of_an_event_built_from_a_payload)
{
    char buf[256];
    struct alarm_event ev = {.sensor = -1,
                             .alarm = ALARM_CO2_HIGH_HIGH,
                             .type = ALARM_EV_RAISED,
                             .active = true,
                             .severity = ALARM_SEV_MAJOR,
                             .value = 2310,
                             .threshold = 2000,
                             .unit = "ppm"};
    ck_assert_int_gt(alarm_event_message(&ev, LANG_ZH, "co2-1", "B1", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "B1：二氧化碳浓度过高 2310 ppm > 2000 ppm");
    ck_assert_int_gt(alarm_event_message(&ev, LANG_EN, "co2-1", NULL, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "co2-1: CO2 high-high 2310 ppm > 2000 ppm");
    ev.alarm = ALARM_SMOKE_FIRE;
    ev.type = ALARM_EV_TEST;
    ev.value = ev.threshold = NAN;
    ev.unit = "";
    snprintf(ev.by, sizeof ev.by, "值班员");
    ck_assert_int_gt(alarm_event_message(&ev, LANG_ZH, "smoke-1", "", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "smoke-1：火警（测试），操作人：值班员");
    ev.alarm = (enum alarm_id)(ALARM_INHIBIT + 1);
    ck_assert_int_eq(alarm_event_message(&ev, LANG_ZH, "smoke-1", "", buf, sizeof buf), -1);
}
END_TEST

/* Durations read as people say them: 天 in Chinese, never "0 d ≥ 0 d" for a
 * delay shortened below a day (a demo, a commissioning test). */
START_TEST(test_durations_in_the_language_s_words)
{
    char buf[256];
    struct alarm_event ev = {.sensor = -1,
                             .alarm = ALARM_DOOR_EXERCISE_OVERDUE,
                             .type = ALARM_EV_RAISED,
                             .active = true,
                             .severity = ALARM_SEV_MINOR,
                             .value = 40,
                             .threshold = 31,
                             .unit = "d"};
    alarm_event_message(&ev, LANG_ZH, "door-1", "1号口 防护密闭门", buf, sizeof buf);
    ck_assert_str_eq(buf, "1号口 防护密闭门：人防门超期未启闭 40 天 ≥ 31 天");
    alarm_event_message(&ev, LANG_EN, "door-1", "", buf, sizeof buf);
    ck_assert_str_eq(buf, "door-1: blast door exercise overdue 40 d >= 31 d");
    ev.value = 3.0 / 1440; /* 3 min */
    ev.threshold = 2.0 / 1440;
    alarm_event_message(&ev, LANG_ZH, "door-1", "", buf, sizeof buf);
    ck_assert_str_eq(buf, "door-1：人防门超期未启闭 3 分钟 ≥ 2 分钟");
    alarm_event_message(&ev, LANG_EN, "door-1", "", buf, sizeof buf);
    ck_assert_str_eq(buf, "door-1: blast door exercise overdue 3 min >= 2 min");
    ev.alarm = ALARM_DOOR_OPEN_TOO_LONG;
    ev.severity = ALARM_SEV_MAJOR;
    ev.unit = "s";
    ev.value = 45;
    ev.threshold = 30;
    alarm_event_message(&ev, LANG_ZH, "door-1", "", buf, sizeof buf);
    ck_assert_str_eq(buf, "door-1：人防门开启超时 45 秒 ≥ 30 秒");
    ev.value = 3 * 3600;
    ev.threshold = 600;
    alarm_event_message(&ev, LANG_ZH, "door-1", "", buf, sizeof buf);
    ck_assert_str_eq(buf, "door-1：人防门开启超时 3.0 小时 ≥ 10 分钟");
}
END_TEST

static Suite *alarmdef_suite(void)
{
    Suite *s = suite_create("alarmdef");
    TCase *tc = tcase_create("catalogue");
    tcase_add_test(tc, test_every_alarm_has_a_row_in_both_languages);
    tcase_add_test(tc, test_names_are_unique_per_kind_and_round_trip);
    tcase_add_test(tc, test_severity_and_event_names);
    tcase_add_test(tc, test_message_of_an_event_built_from_a_payload);
    tcase_add_test(tc, test_durations_in_the_language_s_words);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(alarmdef_suite());
}
