/*
 * Unit tests of center/notify/sign.c and token.c: HMAC-SHA256 against
 * RFC 4231, base64 both ways, URL encoding, and the ack tokens (genuine,
 * altered, forged, expired).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_run.h"
#include "sign.h"
#include "token.h"

static const char key[] = "0123456789abcdef0123456789abcdef";

START_TEST(test_hmac_rfc4231_case2)
{
    unsigned char mac[SIGN_MAC_LEN];
    char hex[65];
    static const char want[] = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    ck_assert_int_eq(sign_hmac("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
    for (int i = 0; i < SIGN_MAC_LEN; i++)
        sprintf(hex + 2 * i, "%02x", mac[i]);
    ck_assert_str_eq(hex, want);
}
END_TEST

START_TEST(test_base64_round_trip)
{
    char out[64];
    unsigned char back[64];
    ck_assert_int_eq(sign_base64("f", 1, false, out, sizeof(out)), 4);
    ck_assert_str_eq(out, "Zg==");
    ck_assert_int_eq(sign_base64("fo", 2, true, out, sizeof(out)), 3);
    ck_assert_str_eq(out, "Zm8");
    ck_assert_int_eq(sign_base64("\xfb\xff", 2, false, out, sizeof(out)), 4);
    ck_assert_str_eq(out, "+/8=");
    ck_assert_int_eq(sign_base64("\xfb\xff", 2, true, out, sizeof(out)), 3);
    ck_assert_str_eq(out, "-_8");
    ck_assert_int_eq(sign_unbase64("-_8", 3, back, sizeof(back)), 2);
    ck_assert_int_eq(memcmp(back, "\xfb\xff", 2), 0);
    ck_assert_int_eq(sign_unbase64("Zm9vYg==", 8, back, sizeof(back)), 4);
    ck_assert_int_eq(memcmp(back, "foob", 4), 0);
    ck_assert_int_eq(sign_unbase64("Zm9v!", 5, back, sizeof(back)), -1);
    ck_assert_int_eq(sign_unbase64("Zh", 2, back, sizeof(back)), -1); /* stray bits */
    ck_assert_int_eq(sign_base64("foobar", 6, false, out, 8), -1);    /* too small */
}
END_TEST

START_TEST(test_urlencode)
{
    char out[64];
    ck_assert_int_eq(sign_urlencode("a+b/c=", out, sizeof(out)), 12);
    ck_assert_str_eq(out, "a%2Bb%2Fc%3D");
    ck_assert_int_eq(sign_urlencode("abc", out, 3), -1);
}
END_TEST

static struct token_claim claim(void)
{
    struct token_claim c = {.seq = 42, .expires_ms = 2000000000000};
    strcpy(c.topic, "shelter/zz/js/fc/df/wk/gw-1/alarm/leak-ramp/leak");
    strcpy(c.route, "wanke");
    return c;
}

START_TEST(test_token_round_trip)
{
    struct token_claim c = claim(), back;
    char t[TOKEN_MAX];
    ck_assert_int_gt(token_make(key, strlen(key), &c, t, sizeof(t)), 0);
    ck_assert_ptr_null(strpbrk(t, "+/= &?#"));
    ck_assert_int_eq(token_check(key, strlen(key), t, 1999999999000, &back), 0);
    ck_assert_str_eq(back.topic, c.topic);
    ck_assert_str_eq(back.route, "wanke");
    ck_assert_int_eq(back.seq, 42);
    ck_assert_int_eq(back.expires_ms, 2000000000000);
}
END_TEST

START_TEST(test_token_expires)
{
    struct token_claim c = claim(), back;
    char t[TOKEN_MAX];
    token_make(key, strlen(key), &c, t, sizeof(t));
    ck_assert_int_eq(token_check(key, strlen(key), t, 2000000000000, &back), -2);
    ck_assert_str_eq(back.route, "wanke"); /* the page can still say what it was */
}
END_TEST

START_TEST(test_token_altered_or_forged_is_refused)
{
    struct token_claim c = claim(), back;
    char t[TOKEN_MAX], forged[TOKEN_MAX];
    token_make(key, strlen(key), &c, t, sizeof(t));
    /* Another key. */
    ck_assert_int_eq(token_check("another key, long enough", 24, t, 0, &back), -1);
    /* A claim changed: route "wankf". */
    strcpy(c.route, "wankf");
    token_make(key, strlen(key), &c, forged, sizeof(forged));
    strcpy(strchr(forged, '.'), strchr(t, '.'));
    ck_assert_int_eq(token_check(key, strlen(key), forged, 0, &back), -1);
    /* Cut, empty, garbage. */
    t[strlen(t) - 2] = '\0';
    ck_assert_int_eq(token_check(key, strlen(key), t, 0, &back), -1);
    ck_assert_int_eq(token_check(key, strlen(key), "", 0, &back), -1);
    ck_assert_int_eq(token_check(key, strlen(key), "a.b", 0, &back), -1);
    ck_assert_int_eq(token_check(key, strlen(key), NULL, 0, &back), -1);
}
END_TEST

START_TEST(test_token_refuses_bad_claims)
{
    struct token_claim c = claim();
    char t[TOKEN_MAX];
    ck_assert_int_eq(token_make("short", 5, &c, t, sizeof(t)), -1);
    strcpy(c.route, "a\nb");
    ck_assert_int_eq(token_make(key, strlen(key), &c, t, sizeof(t)), -1);
    c = claim();
    c.topic[0] = '\0';
    ck_assert_int_eq(token_make(key, strlen(key), &c, t, sizeof(t)), -1);
    c = claim();
    ck_assert_int_eq(token_make(key, strlen(key), &c, t, 20), -1);
}
END_TEST

static Suite *sign_suite(void)
{
    Suite *s = suite_create("notify_sign");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hmac_rfc4231_case2);
    tcase_add_test(tc, test_base64_round_trip);
    tcase_add_test(tc, test_urlencode);
    tcase_add_test(tc, test_token_round_trip);
    tcase_add_test(tc, test_token_expires);
    tcase_add_test(tc, test_token_altered_or_forged_is_refused);
    tcase_add_test(tc, test_token_refuses_bad_claims);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(sign_suite());
}
