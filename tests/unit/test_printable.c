/*
 * Unit tests: text from outside (command payloads, topics) never reaches a
 * log line or a cmd_result as control characters or broken UTF-8.  The
 * command cases are what tests/fuzz/fuzz_command.c found: a rejection reason
 * echoed the verb, a field name or a value as it came, so a broker user
 * could forge log lines (a "\n" in a field name) or publish invalid UTF-8 on
 * cmd_result (a verb cut in the middle of a character).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_run.h"
#include "command.h"
#include "textbuf.h"

static struct command cmd;
static char err[256];

static int parse(const char *verb, const char *json)
{
    return command_parse(verb, json, strlen(json), "gw-1", &cmd, err, sizeof(err));
}

/* ---- textbuf ---- */

static const struct {
    const char *text;
    bool printable;
    const char *made; /* after tb_make_printable */
} texts[] = {
    {"", true, ""},
    {"sump-east", true, "sump-east"},
    {"东风小区 B1 集水坑", true, "东风小区 B1 集水坑"},
    {"\xF0\x9F\x9A\x92 U+1F692", true, "\xF0\x9F\x9A\x92 U+1F692"},
    {"line\nforged", false, "line?forged"},
    {"tab\there", false, "tab?here"},
    {"\x1b[2Jclear", false, "?[2Jclear"},
    {"del\x7f", false, "del?"},
    {"csi\xC2\x9B"
     "2J",
     false, "csi??2J"}, /* C1 control U+009B */
    {"overlong \xC0\xAF", false, "overlong ??"},
    {"overlong \xE0\x80\xAF", false, "overlong ???"},
    {"surrogate \xED\xA0\x80", false, "surrogate ???"},
    {"too big \xF4\x90\x80\x80", false, "too big ????"},
    {"cut \xE6\x9D", false, "cut ??"},
    {"stray \x80 byte", false, "stray ? byte"},
    {"latin \xC3\xA9", true, "latin \xC3\xA9"},
};

START_TEST(test_printable_text_is_utf8_without_controls)
{
    char buf[64];
    ck_assert_msg(tb_is_printable(texts[_i].text) == texts[_i].printable, "case %d", _i);
    snprintf(buf, sizeof(buf), "%s", texts[_i].text);
    ck_assert_ptr_eq(tb_make_printable(buf), buf);
    ck_assert_str_eq(buf, texts[_i].made);
    ck_assert_uint_eq(strlen(buf), strlen(texts[_i].text));
    ck_assert(tb_is_printable(buf));
}
END_TEST

/* ---- command rejection reasons (found by fuzz_command) ---- */

START_TEST(test_field_name_with_newline_cannot_forge_a_log_line)
{
    ck_assert_int_eq(parse("ack", "{\"id\":\"x\",\"sensor\":\"s\",\"alarm\":\"a\","
                                  "\"a\\nshelter-gateway: alarm cleared\":1}"),
                     -1);
    ck_assert_str_eq(err, "unknown field \"a?shelter-gateway: alarm cleared\" for ack");
}
END_TEST

START_TEST(test_verb_with_escape_sequence_is_not_echoed_raw)
{
    ck_assert_int_eq(parse("re\x1b[2Jboot", "{\"id\":\"x\"}"), -1);
    ck_assert_str_eq(err, "unknown command \"re?[2Jboot\" (ack, inhibit, mode, test, silence)");
}
END_TEST

START_TEST(test_long_verb_is_not_cut_inside_a_character)
{
    /* 11 three-byte characters: "%.32s" keeps 32 bytes, two of the last. */
    ck_assert_int_eq(parse("报警报警报警报警报警报", "{\"id\":\"x\"}"), -1);
    ck_assert_str_eq(
        err, "unknown command \"报警报警报警报警报警??\" (ack, inhibit, mode, test, silence)");
    ck_assert(tb_is_printable(err));
}
END_TEST

START_TEST(test_duration_value_with_control_character_is_not_echoed_raw)
{
    ck_assert_int_eq(parse("inhibit", "{\"id\":\"x\",\"sensor\":\"s\",\"duration\":\"2\\u001bh\"}"),
                     -1);
    ck_assert_str_eq(err, "field \"duration\": '2?h': unknown unit '?h' (use ms, s, min, h, d)");
}
END_TEST

START_TEST(test_text_field_must_be_well_formed_utf8)
{
    /* Overlong forms, surrogates and C1 controls are not printable UTF-8;
     * echoed in cmd_result they would make it invalid JSON text. */
    static const char *const bad[] = {
        "{\"id\":\"x\xE0\x80\xAF\",\"sensor\":\"s\",\"alarm\":\"a\"}",
        "{\"id\":\"x\xED\xA0\x80\",\"sensor\":\"s\",\"alarm\":\"a\"}",
        "{\"id\":\"x\",\"sensor\":\"s\xC2\x9B\",\"alarm\":\"a\"}",
        "{\"id\":\"x\",\"sensor\":\"s\",\"alarm\":\"a\",\"by\":\"\xF4\x90\x80\x80\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse("ack", bad[i]) == -1, "case %zu accepted", i);
        ck_assert_msg(strstr(err, "is not printable UTF-8") != NULL, "case %zu: %s", i, err);
    }
    ck_assert_int_eq(
        parse("ack", "{\"id\":\"x\",\"sensor\":\"s\",\"alarm\":\"a\",\"by\":\"王经理\"}"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("printable");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_printable_text_is_utf8_without_controls, 0,
                        sizeof(texts) / sizeof(texts[0]));
    tcase_add_test(tc, test_field_name_with_newline_cannot_forge_a_log_line);
    tcase_add_test(tc, test_verb_with_escape_sequence_is_not_echoed_raw);
    tcase_add_test(tc, test_long_verb_is_not_cut_inside_a_character);
    tcase_add_test(tc, test_duration_value_with_control_character_is_not_echoed_raw);
    tcase_add_test(tc, test_text_field_must_be_well_formed_utf8);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
