/* Unit tests: lib/topic.c, the topics of the v1 contract: classification
 * from the last levels, the site split (prefix, five levels, id), building a
 * base and joining levels, filter syntax (shared subscriptions too), slugs,
 * and subtrees of the maintenance network, which match by their full path,
 * never by a slug alone. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_run.h"
#include "topic.h"

#define GW1 "shelter/zz/js/fc/df/wk/gw1"

static struct topic_parts p;

/* ---- classification (as shelter-watch has always judged topics) ---- */

static const struct {
    const char *topic;
    enum topic_type type;
    const char *base;
} topics[] = {
    {GW1 "/alarm/sump-east/high_high", TOPIC_ALARM, GW1},
    {GW1 "/status", TOPIC_STATUS, GW1},
    {GW1 "/reading/sump-east", TOPIC_READING, GW1},
    {GW1 "/cmd/ack", TOPIC_CMD, GW1},
    {GW1 "/cmd_result", TOPIC_CMD_RESULT, GW1},
    {GW1 "/reading/status", TOPIC_READING, GW1},
    {GW1 "/alarm/door-1/status", TOPIC_ALARM, GW1},
    {"alarm/s/a", TOPIC_OTHER, ""},
    {"/alarm/s/a", TOPIC_OTHER, ""},
    {"x//alarm/s/a", TOPIC_OTHER, ""},
    {"gw/alarm//a", TOPIC_OTHER, ""},
    {"gw/alarm/s/", TOPIC_OTHER, ""},
    {"status", TOPIC_OTHER, ""},
    {"something/else", TOPIC_OTHER, ""},
    {"", TOPIC_OTHER, ""},
    {GW1 "/alarm/s", TOPIC_OTHER, ""},
    {GW1 "/cmd", TOPIC_OTHER, ""},
};

START_TEST(test_topic_classification)
{
    ck_assert_int_eq(topic_parse(topics[_i].topic, &p), topics[_i].type);
    ck_assert_str_eq(p.base, topics[_i].base);
    ck_assert_int_eq(topic_type_of(topics[_i].topic), topics[_i].type);
}
END_TEST

START_TEST(test_null_and_overlong_topics_are_other)
{
    char big[TOPIC_SIZE + 8];

    ck_assert_int_eq(topic_parse(NULL, &p), TOPIC_OTHER);
    ck_assert_int_eq(topic_type_of(NULL), TOPIC_OTHER);
    memset(big, 'x', sizeof(big));
    strcpy(big + TOPIC_SIZE - 8, "/status"); /* TOPIC_SIZE - 1 bytes: the longest that fits */
    ck_assert_int_eq(strlen(big), TOPIC_SIZE - 1);
    ck_assert_int_eq(topic_parse(big, &p), TOPIC_STATUS);
    memset(big, 'x', sizeof(big));
    strcpy(big + TOPIC_SIZE - 7, "/status");
    ck_assert_int_eq(topic_parse(big, &p), TOPIC_OTHER);
    ck_assert_str_eq(p.base, "");
}
END_TEST

/* ---- the site ---- */

START_TEST(test_parse_splits_prefix_levels_gateway_and_names)
{
    ck_assert_int_eq(topic_parse(GW1 "/alarm/sump-east/high_high", &p), TOPIC_ALARM);
    ck_assert(p.site);
    ck_assert_str_eq(p.prefix, "shelter");
    ck_assert_str_eq(p.level[TOPIC_CITY], "zz");
    ck_assert_str_eq(p.level[TOPIC_DISTRICT], "js");
    ck_assert_str_eq(p.level[TOPIC_STREET], "fc");
    ck_assert_str_eq(p.level[TOPIC_COMMUNITY], "df");
    ck_assert_str_eq(p.level[TOPIC_PROPERTY], "wk");
    ck_assert_str_eq(p.level[TOPIC_ID], "gw1");
    ck_assert_str_eq(p.name[0], "sump-east");
    ck_assert_str_eq(p.name[1], "high_high");
    ck_assert_str_eq(p.base, GW1); /* whole, beside the split */

    ck_assert_int_eq(topic_parse("cn/shelter/zz/js/fc/df/wk/gw1/reading/co2-1", &p), TOPIC_READING);
    ck_assert(p.site);
    ck_assert_str_eq(p.prefix, "cn/shelter"); /* a prefix of several levels */
    ck_assert_str_eq(p.level[TOPIC_CITY], "zz");
    ck_assert_str_eq(p.name[0], "co2-1");
    ck_assert_str_eq(p.name[1], "");

    ck_assert_int_eq(topic_parse(GW1 "/cmd/mode", &p), TOPIC_CMD);
    ck_assert_str_eq(p.name[0], "mode");
    ck_assert_int_eq(topic_parse(GW1 "/status", &p), TOPIC_STATUS);
    ck_assert(p.site);
    ck_assert_str_eq(p.name[0], "");
}
END_TEST

START_TEST(test_base_without_a_whole_site_is_no_site)
{
    static const char *const bases[] = {
        "gw/status",                 /* one level */
        "zz/js/fc/df/wk/gw1/status", /* six levels: no prefix */
        "shelter//js/fc/df/wk/gw1/status",
        "a//shelter/zz/js/fc/df/wk/gw1/status",
        "/shelter/zz/js/fc/df/wk/gw1/status",
    };
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        /* Classified as a status topic (the tail decides), but not a site. */
        ck_assert_int_eq(topic_parse(bases[i], &p), TOPIC_STATUS);
        ck_assert_msg(!p.site, "%s", bases[i]);
        ck_assert_str_eq(p.prefix, "");
        ck_assert_str_eq(p.level[TOPIC_ID], "");
    }
}
END_TEST

START_TEST(test_base_and_join_build_topics)
{
    const char *site[TOPIC_LEVELS] = {"zhengzhou", "jinshui", "fengchan",
                                      "dongfeng",  "wanke",   "demo-b1"};
    char buf[128];

    const char *want = "shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke/demo-b1";
    ck_assert_int_eq(topic_base(buf, sizeof(buf), "shelter", site), (int)strlen(want));
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(topic_base(buf, strlen(want), "shelter", site), -1); /* no room for NUL */
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(topic_join(buf, sizeof(buf), GW1, "alarm", "s", "a", NULL),
                     (int)strlen(GW1 "/alarm/s/a"));
    ck_assert_str_eq(buf, GW1 "/alarm/s/a");
    ck_assert_int_eq(topic_join(buf, sizeof(buf), "x", "x", NULL), 3); /* the same pointer */
    ck_assert_str_eq(buf, "x/x");
    ck_assert_int_eq(topic_join(buf, sizeof(buf), "", "#", NULL), 2);
    ck_assert_str_eq(buf, "/#");
    const char *none = NULL; /* the sentinel alone (the compiler would object to a literal) */
    ck_assert_int_eq(topic_join(buf, sizeof(buf), none, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* What is built parses back to the same site. */
    topic_join(buf, sizeof(buf), "shelter", "zhengzhou", "jinshui", "fengchan", "dongfeng", "wanke",
               "demo-b1", "alarm", "leak-1", "leak", NULL);
    ck_assert_int_eq(topic_parse(buf, &p), TOPIC_ALARM);
    for (int i = 0; i < TOPIC_LEVELS; i++)
        ck_assert_str_eq(p.level[i], site[i]);
    ck_assert_str_eq(topic_site_keys[TOPIC_ID], "shelter");
}
END_TEST

/* ---- filters and names ---- */

START_TEST(test_filter_syntax)
{
    static const char *const good[] = {
        "#",
        "+",
        "shelter/#",
        "+/x/+/y",
        "shelter/zz/+/+/+/+/+/alarm/#",
        "$share/notify/shelter/#",
        "$share/g/+/status",
        "a//b",
    };
    static const char *const bad[] = {
        "",
        "a/#/b",
        "a/b#",
        "a/x+/c",
        "+a",
        "$share/notify",
        "$share//shelter/#",
        "$share/g+/x",
        "$share/#/x",
        "$share/g/",
        "$share/g/a/b#",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(topic_filter_valid(good[i]), "%s refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!topic_filter_valid(bad[i]), "%s accepted", bad[i]);
    ck_assert(!topic_filter_valid(NULL));
    ck_assert(topic_filter_shared("$share/g/x"));
    ck_assert(!topic_filter_shared("shelter/#"));
    ck_assert(topic_name_valid(GW1 "/status"));
    ck_assert(!topic_name_valid(GW1 "/+"));
    ck_assert(!topic_name_valid("a/#"));
    ck_assert(!topic_name_valid(""));
    ck_assert(!topic_name_valid(NULL));
}
END_TEST

START_TEST(test_slugs)
{
    char long_slug[TOPIC_LEVEL_SIZE + 1];

    ck_assert(topic_slug_valid("wanke-wuye_2", 12));
    ck_assert(topic_slug_valid("wanke/x", 5)); /* only len bytes are judged */
    ck_assert(!topic_slug_valid("wanke/x", 7));
    ck_assert(!topic_slug_valid("", 0));
    ck_assert(!topic_slug_valid("a+", 2));
    ck_assert(!topic_slug_valid("东风", strlen("东风")));
    memset(long_slug, 'a', sizeof(long_slug));
    ck_assert(topic_slug_valid(long_slug, sizeof(long_slug))); /* no length of its own */
}
END_TEST

/* ---- subtrees ---- */

START_TEST(test_subtree_matches_by_full_path_never_by_a_slug_alone)
{
    struct topic_subtree st;
    char err[256];
    struct topic_parts jinshui, kaifeng, city_called_jinshui;

    topic_parse("shelter/zhengzhou/jinshui/fc/df/wk/gw1/alarm/s/a", &jinshui);
    topic_parse("shelter/kaifeng/jinshui/fc/df/wk/gw2/alarm/s/a", &kaifeng);
    topic_parse("shelter/jinshui/x/fc/df/wk/gw3/status", &city_called_jinshui);

    ck_assert_int_eq(topic_subtree_parse("zhengzhou/jinshui", &st, err, sizeof(err)), 0);
    ck_assert_int_eq(st.nlevels, 2);
    ck_assert(topic_subtree_contains(&st, &jinshui));
    ck_assert(!topic_subtree_contains(&st, &kaifeng)); /* same district slug, other city */

    /* "jinshui" alone is a city called jinshui, not every district of that name. */
    ck_assert_int_eq(topic_subtree_parse("jinshui", &st, err, sizeof(err)), 0);
    ck_assert(!topic_subtree_contains(&st, &jinshui));
    ck_assert(!topic_subtree_contains(&st, &kaifeng));
    ck_assert(topic_subtree_contains(&st, &city_called_jinshui));

    /* All six levels: one shelter. */
    ck_assert_int_eq(topic_subtree_parse("zhengzhou/jinshui/fc/df/wk/gw1", &st, err, sizeof(err)),
                     0);
    ck_assert(topic_subtree_contains(&st, &jinshui));
    ck_assert_int_eq(topic_subtree_parse("zhengzhou/jinshui/fc/df/wk/gw", &st, err, sizeof(err)),
                     0);
    ck_assert(!topic_subtree_contains(&st, &jinshui)); /* a level is compared whole */

    /* A topic without a site is in no subtree. */
    topic_parse("gw/status", &p);
    ck_assert(!topic_subtree_contains(&st, &p));
}
END_TEST

START_TEST(test_subtree_parse_refuses_what_is_no_subtree)
{
    static const char *const bad[] = {
        "",
        "/zhengzhou",
        "zhengzhou/",
        "zhengzhou//jinshui",
        "a/b/c/d/e/f/g",
        "zheng zhou",
        "zhengzhou/+",
        "zhengzhou/#",
        "郑州",
        /* a level longer than gateway.conf's names (63 bytes) */
        "zhengzhou/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    struct topic_subtree st;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(topic_subtree_parse(bad[i], &st, err, sizeof(err)) == -1, "%s", bad[i]);
        ck_assert_msg(err[0] != '\0', "%s: no reason", bad[i]);
        ck_assert_int_eq(st.nlevels, 0);
    }
    ck_assert_int_eq(topic_subtree_parse(NULL, &st, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_subtree_filter)
{
    struct topic_subtree st;
    char err[256], buf[128];

    ck_assert_int_eq(topic_subtree_parse("zhengzhou/jinshui", &st, err, sizeof(err)), 0);
    ck_assert_int_eq(topic_subtree_filter(buf, sizeof(buf), "shelter", &st), 27);
    ck_assert_str_eq(buf, "shelter/zhengzhou/jinshui/#");
    ck_assert(topic_filter_valid(buf));
    ck_assert_int_eq(topic_subtree_filter(buf, sizeof(buf), "cn/shelter", &st), 30);
    ck_assert_str_eq(buf, "cn/shelter/zhengzhou/jinshui/#");
    ck_assert_int_eq(topic_subtree_filter(buf, 27, "shelter", &st), -1);
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_str_eq(buf, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("topic");
    TCase *tc = tcase_create("topic");

    tcase_add_loop_test(tc, test_topic_classification, 0, sizeof(topics) / sizeof(topics[0]));
    tcase_add_test(tc, test_null_and_overlong_topics_are_other);
    tcase_add_test(tc, test_parse_splits_prefix_levels_gateway_and_names);
    tcase_add_test(tc, test_base_without_a_whole_site_is_no_site);
    tcase_add_test(tc, test_base_and_join_build_topics);
    tcase_add_test(tc, test_filter_syntax);
    tcase_add_test(tc, test_slugs);
    tcase_add_test(tc, test_subtree_matches_by_full_path_never_by_a_slug_alone);
    tcase_add_test(tc, test_subtree_parse_refuses_what_is_no_subtree);
    tcase_add_test(tc, test_subtree_filter);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
