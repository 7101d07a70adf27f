/* Unit tests: center/watch/fleet.c, the gateways of a subtree as their
 * statuses tell (shelter-watch gateways, mode, test), fed with the status
 * and will payloads the gateway itself builds (gateway/payload.c) and parsed
 * by lib/gwmsg: a will keeps what the last status said and tells when the
 * gateway went offline; offline gateways come first in every order; the
 * JSON has the fields scripts rely on; outcomes of a command read well. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "check_run.h"
#include "gwmsg.h"
#include "payload.h"
#include "watch/fleet.h"

/* 2026-07-20T10:03:04.123Z */
static const int64_t TS = 1784541784123LL;
static const int CST = 8 * 3600;

static struct cfg c;
static struct fleet *f;

static void setup(void)
{
    memset(&c, 0, sizeof(c));
    snprintf(c.city, sizeof(c.city), "zz");
    snprintf(c.district, sizeof(c.district), "js");
    snprintf(c.street, sizeof(c.street), "fc");
    snprintf(c.community, sizeof(c.community), "df");
    snprintf(c.property, sizeof(c.property), "wk");
    snprintf(c.name, sizeof(c.name), "东风小区");
    snprintf(c.config_hash, sizeof(c.config_hash), "0123456789abcdef");
    c.nsensors = 8;
    c.heartbeat_ms = 300000;
    f = fleet_new();
    ck_assert_ptr_nonnull(f);
}

static void teardown(void)
{
    fleet_free(f);
}

/* Feed gateway id's status (online) or will, as the gateway builds them. */
static void feed(const char *id, const char *district, bool online, int64_t since_ms, int64_t ts_ms,
                 int64_t published_ms, const int alarms[4])
{
    char topic[256], err[200];
    struct gwmsg_status st;
    struct status_info si = {.mode = MODE_FLOOD_SEASON, .ts_ms = ts_ms, .since_ms = since_ms};
    char *p;

    snprintf(c.id, sizeof(c.id), "%s", id);
    snprintf(topic, sizeof(topic), "shelter/zz/%s/fc/df/wk/%s/status", district, id);
    if (alarms != NULL)
        memcpy(si.alarms, alarms, sizeof(si.alarms));
    p = online ? payload_status(&c, &si) : payload_will(&c, since_ms, si.mode);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(gwmsg_status_parse(topic, p, strlen(p), &st, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_ge(fleet_update(f, &st, published_ms, ts_ms > 0 ? ts_ms : published_ms), 0);
    gwmsg_status_release(&st);
    free(p);
}

START_TEST(test_status_fills_a_gateway)
{
    const int alarms[4] = {1, 0, 2, 0};
    feed("gw1", "js", true, TS - 60000, TS, 0, alarms);
    ck_assert_uint_eq(fleet_count(f), 1);
    struct fleet_gateway *g = fleet_at(f, 0);
    ck_assert_str_eq(g->gateway, "gw1");
    ck_assert_str_eq(g->site, "zz/js/fc/df/wk");
    ck_assert_str_eq(g->name, "东风小区");
    ck_assert_str_eq(g->mode, "flood_season");
    ck_assert_str_eq(g->config, "0123456789abcdef");
    ck_assert_str_eq(g->version, GW_VERSION);
    ck_assert(g->online && !g->stale);
    ck_assert_int_eq(g->since_ms, TS - 60000);
    ck_assert_int_eq(g->last_seen_ms, TS);
    ck_assert_int_eq(g->sensors, 8);
    ck_assert_int_eq(g->heartbeat_ms, 300000);
    ck_assert(g->has_alarms);
    ck_assert_int_eq(g->alarms[0], 1);
    ck_assert_int_eq(g->alarms[2], 2);
    ck_assert_ptr_eq(fleet_find(f, "shelter/zz/js/fc/df/wk/gw1"), g);
    ck_assert_ptr_null(fleet_find(f, "shelter/zz/js/fc/df/wk/gw2"));
}
END_TEST

START_TEST(test_will_says_offline_since_its_publication)
{
    feed("gw1", "js", true, TS - 60000, TS - 1000, 0, NULL);
    /* The will: since is the connection's start, the broker published it at TS. */
    feed("gw1", "js", false, TS - 60000, 0, TS, NULL);
    ck_assert_uint_eq(fleet_count(f), 1);
    struct fleet_gateway *g = fleet_at(f, 0);
    ck_assert(!g->online);
    ck_assert_int_eq(g->since_ms, TS);
    ck_assert_int_eq(g->up_since_ms, TS - 60000);
    ck_assert_int_eq(g->last_seen_ms, TS);
    /* What the last status said stays: the will does not carry it. */
    ck_assert_str_eq(g->mode, "flood_season");
    ck_assert_str_eq(g->config, "0123456789abcdef");
    int on, off;
    fleet_counts(f, &on, &off);
    ck_assert_int_eq(on, 0);
    ck_assert_int_eq(off, 1);
    /* A will whose publication time is unknown (no expiry): since unknown. */
    feed("gw2", "js", false, TS - 60000, 0, 0, NULL);
    ck_assert_int_eq(fleet_find(f, "shelter/zz/js/fc/df/wk/gw2")->since_ms, 0);
}
END_TEST

START_TEST(test_silent_online_gateway_is_stale)
{
    struct gwmsg_status st;
    char err[200];
    const char *p = "{\"online\":true,\"ts\":\"2026-07-20T10:03:04.123Z\",\"heartbeat_s\":60}";
    ck_assert_int_eq(gwmsg_status_parse("shelter/zz/js/fc/df/wk/gw1/status", p, strlen(p), &st, err,
                                        sizeof(err)),
                     0);
    /* 3 heartbeats and a minute: still fresh; a little more: stale. */
    fleet_update(f, &st, 0, TS + 4 * 60000);
    ck_assert(!fleet_at(f, 0)->stale);
    fleet_update(f, &st, 0, TS + 4 * 60000 + 1);
    ck_assert(fleet_at(f, 0)->stale);
    int on, off;
    fleet_counts(f, &on, &off);
    ck_assert_int_eq(off, 1);
    gwmsg_status_release(&st);
}
END_TEST

START_TEST(test_offline_first_in_every_order)
{
    const int many[4] = {3, 0, 0, 0}, few[4] = {0, 1, 0, 0};
    feed("gw-a", "js", true, TS - 1000, TS, 0, few);
    feed("gw-b", "eq", true, TS - 9000, TS, 0, many);
    feed("gw-c", "js", true, TS - 5000, TS, 0, NULL);
    feed("gw-z", "js", true, TS - 5000, TS - 100, 0, NULL);
    feed("gw-z", "js", false, TS - 5000, 0, TS, NULL);
    fleet_sort(f, FLEET_BY_SITE);
    ck_assert_str_eq(fleet_at(f, 0)->gateway, "gw-z");
    ck_assert_str_eq(fleet_at(f, 1)->gateway, "gw-b"); /* eq before js */
    ck_assert_str_eq(fleet_at(f, 2)->gateway, "gw-a");
    fleet_sort(f, FLEET_BY_SINCE);
    ck_assert_str_eq(fleet_at(f, 0)->gateway, "gw-z");
    ck_assert_str_eq(fleet_at(f, 1)->gateway, "gw-b"); /* up the longest */
    fleet_sort(f, FLEET_BY_ALARMS);
    ck_assert_str_eq(fleet_at(f, 0)->gateway, "gw-z");
    ck_assert_str_eq(fleet_at(f, 1)->gateway, "gw-b");
    ck_assert_str_eq(fleet_at(f, 2)->gateway, "gw-a");
    ck_assert_str_eq(fleet_at(f, 3)->gateway, "gw-c");
    enum fleet_key k;
    ck_assert_int_eq(fleet_key_from_name("config", &k), 0);
    ck_assert_int_eq(k, FLEET_BY_CONFIG);
    ck_assert_int_eq(fleet_key_from_name("state", &k), -1);
}
END_TEST

START_TEST(test_json_has_the_fields_scripts_use)
{
    const int alarms[4] = {0, 2, 0, 0};
    feed("gw1", "js", true, TS - 60000, TS, 0, alarms);
    feed("gw2", "eq", true, TS - 60000, TS - 1000, 0, NULL);
    feed("gw2", "eq", false, TS - 60000, 0, TS, NULL);
    fleet_sort(f, FLEET_BY_SITE);
    char *text = fleet_json(f);
    cJSON *arr = cJSON_Parse(text), *g;
    ck_assert_ptr_nonnull(arr);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    g = cJSON_GetArrayItem(arr, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(g, "gateway")->valuestring, "gw2");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(g, "online")));
    ck_assert_str_eq(cJSON_GetObjectItem(g, "since")->valuestring, "2026-07-20T10:03:04.123Z");
    ck_assert_str_eq(cJSON_GetObjectItem(g, "up_since")->valuestring, "2026-07-20T10:02:04.123Z");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "site"), "district")->valuestring,
                     "eq");
    g = cJSON_GetArrayItem(arr, 1);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(g, "online")));
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(g, "stale")));
    ck_assert_str_eq(cJSON_GetObjectItem(g, "name")->valuestring, "东风小区");
    ck_assert_str_eq(cJSON_GetObjectItem(g, "version")->valuestring, GW_VERSION);
    ck_assert_str_eq(cJSON_GetObjectItem(g, "config")->valuestring, "0123456789abcdef");
    ck_assert_str_eq(cJSON_GetObjectItem(g, "mode")->valuestring, "flood_season");
    ck_assert_str_eq(cJSON_GetObjectItem(g, "last_seen")->valuestring, "2026-07-20T10:03:04.123Z");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "alarms"), "major")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(g, "sensors")->valueint, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(g, "heartbeat_s")->valueint, 300);
    ck_assert_str_eq(cJSON_GetObjectItem(g, "topic")->valuestring, "shelter/zz/js/fc/df/wk/gw1");
    ck_assert_ptr_null(cJSON_GetObjectItem(g, "up_since"));
    cJSON_Delete(arr);
    free(text);
}
END_TEST

START_TEST(test_table_and_outcomes_read_well)
{
    const int alarms[4] = {1, 0, 0, 2};
    feed("gw1", "js", true, TS - 60000, TS, 0, alarms);
    feed("gw2", "eq", true, TS - 60000, TS - 1000, 0, NULL);
    feed("gw2", "eq", false, TS - 60000, 0, TS, NULL);
    fleet_sort(f, FLEET_BY_SITE);
    char *t = fleet_table(f, LANG_EN, TS, CST);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(strstr(t, "STATE    SINCE           GATEWAY  MODE") == t, "%s", t);
    ck_assert_msg(strstr(t, "\nOFFLINE  07-20 18:03:04  gw2      flood_season  ") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "crit 1 info 2") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "zz/js/fc/df/wk  东风小区\n") != NULL, "%s", t);
    free(t);
    t = fleet_table(f, LANG_ZH, TS, CST);
    ck_assert_msg(strstr(t, "离线  07-20 18:03:04") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "严重1 提示2") != NULL, "%s", t);
    free(t);

    char line[512];
    struct fleet_gateway *g = fleet_at(f, 0);
    fleet_format_outcome(g, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line,
                     "not sent  gw2  zz/eq/fc/df/wk  东风小区 (OFFLINE since 07-20 18:03:04)");
    g = fleet_at(f, 1);
    ck_assert_int_eq(fleet_set_outcome(g, FLEET_ERROR, "unknown mode \"x\x1b\""), 0);
    fleet_format_outcome(g, LANG_EN, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line, "error     gw1  zz/js/fc/df/wk  东风小区: unknown mode \"x?\"");
    fleet_set_outcome(g, FLEET_WAITING, NULL);
    fleet_format_outcome(g, LANG_ZH, TS, CST, line, sizeof(line));
    ck_assert_str_eq(line, "无应答  gw1  zz/js/fc/df/wk  东风小区");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fleet");
    TCase *tc = tcase_create("fleet");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_status_fills_a_gateway);
    tcase_add_test(tc, test_will_says_offline_since_its_publication);
    tcase_add_test(tc, test_silent_online_gateway_is_stale);
    tcase_add_test(tc, test_offline_first_in_every_order);
    tcase_add_test(tc, test_json_has_the_fields_scripts_use);
    tcase_add_test(tc, test_table_and_outcomes_read_well);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
