/*
 * Unit tests of center/notify/channel.c: the robots' request bodies,
 * DingTalk's URL signature (against a value computed with Python's hmac),
 * and what each answer means.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "channel.h"
#include "check_run.h"

START_TEST(test_wecom_body)
{
    char *b = channel_wecom_body("### 漏水\n\"quoted\"");
    cJSON *o = cJSON_Parse(b);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "msgtype")->valuestring, "markdown");
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "markdown"), "content")->valuestring,
        "### 漏水\n\"quoted\"");
    cJSON_Delete(o);
    free(b);
}
END_TEST

START_TEST(test_dingtalk_body_mentions)
{
    const char *m[] = {"13800000000", "13900000000"};
    char *b = channel_dingtalk_body("title", "text @13800000000", m, 2);
    cJSON *o = cJSON_Parse(b), *at = cJSON_GetObjectItem(o, "at");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "markdown"), "title")->valuestring,
                     "title");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(at, "atMobiles")), 2);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(at, "isAtAll")));
    cJSON_Delete(o);
    free(b);
}
END_TEST

START_TEST(test_dingtalk_signature)
{
    char url[CHANNEL_URL_MAX];
    ck_assert_int_gt(channel_dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=T",
                                          "SECabc+/=", 1700000000000, url, sizeof(url)),
                     0);
    ck_assert_str_eq(url, "https://oapi.dingtalk.com/robot/send?access_token=T"
                          "&timestamp=1700000000000"
                          "&sign=ZG3cBQiDq62%2FxkwVduhittJkmG%2FG0fVwWonSJ5Ju%2F2Q%3D");
    ck_assert_int_gt(channel_dingtalk_url("http://x/send", "s", 1, url, sizeof(url)), 0);
    ck_assert_ptr_nonnull(strstr(url, "http://x/send?timestamp=1&sign="));
    ck_assert_int_eq(channel_dingtalk_url("http://x/send", "s", 1, url, 20), -1);
    ck_assert_int_eq(channel_dingtalk_url("http://x/send", "", 1, url, sizeof(url)), -1);
}
END_TEST

START_TEST(test_webhook_bodies)
{
    void *n1 = channel_webhook_notice("raised", "t/alarm/s/a", "wanke", 0, "text",
                                      "{\"seq\":7,\"alarm\":\"leak\"}", NULL);
    void *n2 = channel_webhook_notice("offline", "t", "wanke", 0, "off", NULL, "gw-1");
    char *one = channel_webhook_print(
        channel_webhook_notice("raised", "t", "r", 2, "x", "{\"seq\":9}", NULL));
    cJSON *o = cJSON_Parse(one);
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "alarm"), "seq")->valueint, 9);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "escalation")->valueint, 2);
    ck_assert_ptr_null(cJSON_GetObjectItem(o, "gateway"));
    cJSON_Delete(o);
    free(one);

    void *list[] = {n1, n2};
    char *sum = channel_webhook_print(channel_webhook_summary("wanke", "sum", list, 2));
    o = cJSON_Parse(sum);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "event")->valuestring, "summary");
    cJSON *ns = cJSON_GetObjectItem(o, "notices");
    ck_assert_int_eq(cJSON_GetArraySize(ns), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ns, 1), "gateway")->valuestring,
                     "gw-1");
    cJSON_Delete(o);
    free(sum);
}
END_TEST

START_TEST(test_answers)
{
    char why[200];
#define A(t, st, body) channel_classify(t, st, body, strlen(body), why, sizeof(why))
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}"), SENDER_OK);
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "{\"errcode\":45009,\"errmsg\":\"freq\"}"), SENDER_RATE);
    ck_assert_str_eq(why, "errcode 45009: freq");
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "{\"errcode\":93000}"), SENDER_REJECTED);
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "{\"errcode\":40058}"), SENDER_REFUSED);
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "<html>"), SENDER_RETRY);
    ck_assert_int_eq(A(CHANNEL_WECOM, 502, ""), SENDER_RETRY);
    ck_assert_int_eq(A(CHANNEL_WECOM, 0, ""), SENDER_RETRY);
    ck_assert_int_eq(A(CHANNEL_DINGTALK, 200, "{\"errcode\":0}"), SENDER_OK);
    ck_assert_int_eq(A(CHANNEL_DINGTALK, 200, "{\"errcode\":130101}"), SENDER_RATE);
    ck_assert_int_eq(A(CHANNEL_DINGTALK, 200, "{\"errcode\":310000}"), SENDER_REJECTED);
    ck_assert_int_eq(A(CHANNEL_DINGTALK, 200, "{\"errcode\":45009}"), SENDER_REFUSED);
    ck_assert_int_eq(A(CHANNEL_WEBHOOK, 204, ""), SENDER_OK);
    ck_assert_int_eq(A(CHANNEL_WEBHOOK, 202, "whatever"), SENDER_OK);
    ck_assert_int_eq(A(CHANNEL_WEBHOOK, 429, ""), SENDER_RATE);
    ck_assert_int_eq(A(CHANNEL_WEBHOOK, 400, ""), SENDER_REFUSED);
    ck_assert_int_eq(A(CHANNEL_WEBHOOK, 403, ""), SENDER_REJECTED);
    ck_assert_int_eq(A(CHANNEL_WEBHOOK, 503, ""), SENDER_RETRY);
    /* A code out of any range (found by fuzz_notify): no code we know. */
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "{\"errcode\":4.5e300}"), SENDER_REFUSED);
    ck_assert_str_eq(why, "errcode -1");
    /* An errmsg with control characters is made printable. */
    ck_assert_int_eq(A(CHANNEL_WECOM, 200, "{\"errcode\":1,\"errmsg\":\"a\\u001b[31mb\"}"),
                     SENDER_REFUSED);
    ck_assert_ptr_null(strchr(why, '\x1b'));
#undef A
}
END_TEST

static Suite *channel_suite(void)
{
    Suite *s = suite_create("notify_channel");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_wecom_body);
    tcase_add_test(tc, test_dingtalk_body_mentions);
    tcase_add_test(tc, test_dingtalk_signature);
    tcase_add_test(tc, test_webhook_bodies);
    tcase_add_test(tc, test_answers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(channel_suite());
}
