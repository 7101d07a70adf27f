/*
 * Unit tests of center/notify/ntext.c: what people read on their phones.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_run.h"
#include "ntext.h"

#define CST (8 * 3600)
/* 2026-07-20 10:03:04 UTC = 18:03:04 in China */
#define TS 1784541784000LL

static struct ntext_notice leak(void)
{
    return (struct ntext_notice){
        .kind = NTEXT_ALARM,
        .event = "raised",
        .severity = "critical",
        .site_name = "东风小区地下人防工程（演示）",
        .gateway = "demo-dongfeng-b1",
        .site_path = "zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye",
        .sensor = "leak-ramp",
        .location = "B1 入口坡道底部 地面漏水检测",
        .alarm = "leak",
        .what = "漏水",
        .detail = "B1 入口坡道底部 地面漏水检测：漏水", /* as the catalogue says it */
        .value = NAN,
        .threshold = NAN,
        .water = true,
        .ts_ms = TS,
    };
}

static char buf[8192], title[NTEXT_TITLE_MAX];

START_TEST(test_leak_in_chinese_names_the_place)
{
    struct ntext_notice n = leak();
    n.ack_link = "https://center.example.cn/ack?t=abc.def";
    int len = ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_int_gt(len, 0);
    ck_assert_int_lt(len, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "【严重】漏水"));
    ck_assert_ptr_nonnull(strstr(buf, "东风小区地下人防工程（演示）"));
    ck_assert_ptr_nonnull(strstr(buf, "位置：B1 入口坡道底部 地面漏水检测"));
    ck_assert_ptr_nonnull(strstr(buf, "时间：2026-07-20 18:03:04"));
    ck_assert_ptr_nonnull(strstr(buf, "请勿进入车库"));
    ck_assert_ptr_nonnull(strstr(buf, "[确认收到](https://center.example.cn/ack?t=abc.def)"));
    ck_assert_ptr_nonnull(strstr(buf, "<font color=\"warning\">"));
}
END_TEST

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        k++;
    return k;
}

/* The 位置 line names the place; the 情况 line does not say it again. */
START_TEST(test_place_said_once)
{
    struct ntext_notice n = leak();
    n.detail = "B1 入口坡道底部 地面漏水检测：集水坑水位超高 1.13 m ≥ 1.08 m";
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "> 情况：集水坑水位超高 1.13 m ≥ 1.08 m\n"));
    ck_assert_int_eq(count(buf, "B1 入口坡道底部 地面漏水检测"), 1);
    ntext_notice(&n, NTEXT_DINGTALK, LANG_ZH, CST, title, sizeof(title), buf, NTEXT_DINGTALK_MAX);
    ck_assert_int_eq(count(buf, "B1 入口坡道底部 地面漏水检测"), 1);
    /* English: "sensor (location): ..." */
    n.detail = "leak-ramp (B1 入口坡道底部 地面漏水检测): Water leak";
    ntext_notice(&n, NTEXT_PLAIN, LANG_EN, CST, NULL, 0, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "Details: Water leak\n"));
    ck_assert_int_eq(count(buf, "B1 入口坡道底部 地面漏水检测"), 1);
    /* A sentence that does not start with the place, or is only the place,
     * is shown whole. */
    n.detail = "payload text from an older gateway";
    ntext_notice(&n, NTEXT_PLAIN, LANG_EN, CST, NULL, 0, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "Details: payload text from an older gateway\n"));
    n.detail = "B1 入口坡道底部 地面漏水检测：";
    ntext_notice(&n, NTEXT_PLAIN, LANG_ZH, CST, NULL, 0, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "情况：B1 入口坡道底部 地面漏水检测："));
    /* No location line: the sentence keeps its place. */
    n.location = NULL;
    n.detail = "B1 坡道：漏水";
    ntext_notice(&n, NTEXT_PLAIN, LANG_ZH, CST, NULL, 0, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "情况：B1 坡道：漏水"));
}
END_TEST

START_TEST(test_cleared_says_so_without_the_warning)
{
    struct ntext_notice n = leak();
    n.event = "cleared";
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "【已恢复】漏水"));
    ck_assert_ptr_null(strstr(buf, "请勿进入车库"));
    n.event = "acknowledged";
    n.by = "wanke";
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "【已确认】漏水"));
    ck_assert_ptr_nonnull(strstr(buf, "确认人：wanke"));
}
END_TEST

START_TEST(test_english)
{
    struct ntext_notice n = leak();
    n.what = "water leak";
    ntext_notice(&n, NTEXT_PLAIN, LANG_EN, CST, NULL, 0, buf, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "[CRITICAL] water leak"));
    ck_assert_ptr_nonnull(strstr(buf, "Time: 2026-07-20 18:03:04"));
    ck_assert_ptr_nonnull(strstr(buf, "Do not enter the garage"));
    ck_assert_ptr_null(strstr(buf, "**")); /* plain: no markup */
}
END_TEST

START_TEST(test_escalation_says_not_acknowledged)
{
    struct ntext_notice n = leak();
    n.escalated = 1;
    n.from_route = "万科物业";
    n.to_route = "东风社区";
    n.unacked_ms = 5 * 60000;
    ntext_notice(&n, NTEXT_DINGTALK, LANG_ZH, CST, title, sizeof(title), buf, NTEXT_DINGTALK_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "未确认，已升级至东风社区"));
    ck_assert_ptr_nonnull(strstr(buf, "万科物业 5 分钟内无人确认"));
    ck_assert_ptr_nonnull(strstr(buf, "\n\n")); /* DingTalk line breaks */
    ck_assert_ptr_null(strstr(buf, "<font"));   /* WeCom only */
    ck_assert_str_eq(title, "【严重】漏水 东风小区地下人防工程（演示）");
}
END_TEST

START_TEST(test_huge_fields_still_fit)
{
    static char big[20000];
    struct ntext_notice n = leak();
    for (size_t i = 0; i + 3 < sizeof(big); i += 3)
        memcpy(big + i, "水", 3);
    big[sizeof(big) - 1 - (sizeof(big) - 1) % 3] = '\0';
    n.site_name = n.location = n.detail = n.what = n.site_path = big;
    n.ack_link = "https://center.example.cn/ack?t=abc";
    int len = ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_int_lt(len, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "确认收到")); /* the link survives */
}
END_TEST

START_TEST(test_markup_from_outside_is_neutralised)
{
    struct ntext_notice n = leak();
    n.location = "B1 [click](http://evil) <font color=\"info\">**x**\nforged line";
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_null(strstr(buf, "[click]"));
    ck_assert_ptr_null(strstr(buf, "<font color=\"info\">"));
    ck_assert_ptr_nonnull(strstr(buf, "［click］"));
    ck_assert_ptr_null(strstr(buf, "\nforged line"));
}
END_TEST

START_TEST(test_offline_says_when_last_seen)
{
    struct ntext_notice n = {
        .kind = NTEXT_OFFLINE,
        .site_name = "东风小区地下人防工程（演示）",
        .gateway = "demo-dongfeng-b1",
        .seen_ms = TS,
        .ts_ms = TS + 125000,
    };
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "【离线】东风小区地下人防工程（演示）"));
    ck_assert_ptr_nonnull(strstr(buf, "最后在线：2026-07-20 18:03:04"));
    ck_assert_ptr_nonnull(strstr(buf, "已离线：2 分钟"));
    n.seen_ms = 0; /* a retained will: not known when */
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "最后在线：未知"));
    ck_assert_ptr_null(strstr(buf, "已离线"));
    n.seen_ms = TS;
    n.kind = NTEXT_ONLINE;
    ntext_notice(&n, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf, NTEXT_WECOM_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "【恢复在线】"));
    ck_assert_ptr_nonnull(strstr(buf, "离线时长：2 分钟"));
}
END_TEST

START_TEST(test_summary_fits_and_counts)
{
    struct ntext_notice items[100];
    int fitted;
    for (int i = 0; i < 100; i++) {
        items[i] = leak();
        items[i].ts_ms = TS + i * 1000;
    }
    int len = ntext_summary(NTEXT_SUM_FLOOD, items, 100, 0, NTEXT_WECOM, LANG_ZH, CST, NULL, 0, buf,
                            NTEXT_WECOM_MAX, &fitted);
    ck_assert_int_lt(len, NTEXT_WECOM_MAX);
    ck_assert_int_gt(fitted, 5);
    ck_assert_int_lt(fitted, 100);
    ck_assert_ptr_nonnull(strstr(buf, "报警过多"));
    ck_assert_ptr_nonnull(strstr(buf, "共 100 条"));
    char more[64];
    snprintf(more, sizeof(more), "另有 %d 条", 100 - fitted);
    ck_assert_ptr_nonnull(strstr(buf, more));
    /* Everything fits: no "more". */
    len = ntext_summary(NTEXT_SUM_ACTIVE, items, 3, 0, NTEXT_PLAIN, LANG_ZH, CST, NULL, 0, buf,
                        sizeof(buf), &fitted);
    ck_assert_int_eq(fitted, 3);
    ck_assert_ptr_null(strstr(buf, "另有"));
    ck_assert_ptr_nonnull(strstr(buf, "当前未恢复的报警"));
}
END_TEST

START_TEST(test_durations)
{
    char d[64];
    ntext_duration(5 * 60000, LANG_ZH, d, sizeof(d));
    ck_assert_str_eq(d, "5 分钟");
    ntext_duration(15 * 60000, LANG_EN, d, sizeof(d));
    ck_assert_str_eq(d, "15 min");
    ntext_duration(3 * 3600000 + 60000, LANG_ZH, d, sizeof(d));
    ck_assert_str_eq(d, "3 小时 1 分钟");
    ntext_duration(45000, LANG_ZH, d, sizeof(d));
    ck_assert_str_eq(d, "45 秒");
}
END_TEST

static Suite *text_suite(void)
{
    Suite *s = suite_create("notify_text");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_leak_in_chinese_names_the_place);
    tcase_add_test(tc, test_place_said_once);
    tcase_add_test(tc, test_cleared_says_so_without_the_warning);
    tcase_add_test(tc, test_english);
    tcase_add_test(tc, test_escalation_says_not_acknowledged);
    tcase_add_test(tc, test_huge_fields_still_fit);
    tcase_add_test(tc, test_markup_from_outside_is_neutralised);
    tcase_add_test(tc, test_offline_says_when_last_seen);
    tcase_add_test(tc, test_summary_fits_and_counts);
    tcase_add_test(tc, test_durations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(text_suite());
}
