/*
 * Unit tests of shelter-report's pure modules (center/report): the period
 * and its dates, InfluxQL text and subtrees, the review model driven round
 * by round with canned InfluxDB answers, and the renderers carrying the same
 * numbers.  The answers are what InfluxDB 1.6 sends for these statements
 * (epoch=ms); tests/integration/test_report.sh runs them for real.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "iql.h"
#include "period.h"
#include "rcsv.h"
#include "review.h"
#include "rhtml.h"
#include "rjson.h"

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

static char err[512];

/* ---- period ---- */

START_TEST(test_dates_are_china_standard_time_unless_utc)
{
    int64_t ms;
    ck_assert_int_eq(period_parse_date("2026-05-01", 8 * HOUR_MS, &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(ms, 1777564800000LL); /* 2026-04-30T16:00:00Z */
    ck_assert_int_eq(period_parse_date("2026-05-01", 0, &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(ms, 1777593600000LL);
    ck_assert_int_eq(period_parse_date("2026-02-29", 0, &ms, err, sizeof(err)), -1);
    ck_assert_int_eq(period_parse_date("2028-02-29", 0, &ms, err, sizeof(err)), 0);
    ck_assert_int_eq(period_parse_date("2026-5-01", 0, &ms, err, sizeof(err)), -1);
    ck_assert_int_eq(period_parse_date("2026-05-01x", 0, &ms, err, sizeof(err)), -1);
    ck_assert_int_eq(period_parse_date("2026-13-01", 0, &ms, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_default_period_is_the_last_calendar_month)
{
    struct period p;
    int64_t may3; /* 2026-05-03 01:00 CST = 2026-05-02 17:00 UTC */
    char a[16], b[16];
    ck_assert_int_eq(period_parse_date("2026-05-03", 8 * HOUR_MS, &may3, err, sizeof(err)), 0);
    may3 += HOUR_MS;
    ck_assert_int_eq(period_make(&p, NULL, NULL, false, may3, err, sizeof(err)), 0);
    period_date(&p, p.from_ms, a, sizeof(a));
    period_date(&p, p.to_ms, b, sizeof(b));
    ck_assert_str_eq(a, "2026-04-01");
    ck_assert_str_eq(b, "2026-05-01");
    /* January: December of the year before. */
    int64_t jan;
    ck_assert_int_eq(period_parse_date("2027-01-15", 0, &jan, err, sizeof(err)), 0);
    ck_assert_int_eq(period_make(&p, NULL, NULL, true, jan, err, sizeof(err)), 0);
    period_date(&p, p.from_ms, a, sizeof(a));
    ck_assert_str_eq(a, "2026-12-01");
    char t[40];
    period_rfc3339(&p, p.to_ms, t, sizeof(t));
    ck_assert_str_eq(t, "2027-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(test_empty_period_is_refused)
{
    struct period p;
    ck_assert_int_eq(period_make(&p, "2026-05-01", "2026-05-01", false, 0, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty period"));
    ck_assert_int_eq(period_make(&p, "2026-05-02", "2026-05-01", false, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(period_make(&p, "2026-04-30", "2026-05-01", false, 0, err, sizeof(err)), 0);
    char t[40];
    period_rfc3339(&p, p.from_ms, t, sizeof(t));
    ck_assert_str_eq(t, "2026-04-30T00:00:00.000+08:00");
}
END_TEST

/* ---- InfluxQL ---- */

static char *stmt_text(void (*fn)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void where_fn(FILE *f, const void *arg)
{
    iql_where(f, arg, 1000, 2000);
}

START_TEST(test_subtree_matches_by_its_full_path)
{
    struct topic_subtree st;
    ck_assert_int_eq(topic_subtree_parse("zhengzhou/jinshui", &st, err, sizeof(err)), 0);
    ck_assert_int_eq(st.nlevels, 2);
    ck_assert_str_eq(iql_child_key(&st), "street");
    char *w = stmt_text(where_fn, &st);
    ck_assert_str_eq(w, " WHERE \"city\" = 'zhengzhou' AND \"district\" = 'jinshui' AND time "
                        ">= 1000ms AND time < 2000ms");
    free(w);
    struct topic_subtree all = {0}; /* no --subtree: everything */
    ck_assert_str_eq(iql_child_key(&all), "city");
    ck_assert_int_eq(topic_subtree_parse("a/b/c/d/e/f", &st, err, sizeof(err)), 0);
    ck_assert_str_eq(iql_child_key(&st), "sensor");
    ck_assert_int_eq(topic_subtree_parse("a/b/c/d/e/f/g", &st, err, sizeof(err)), -1);
    ck_assert_int_eq(topic_subtree_parse("zhengzhou//x", &st, err, sizeof(err)), -1);
    ck_assert_int_eq(topic_subtree_parse("zhengzhou/jin shui", &st, err, sizeof(err)), -1);
    ck_assert_int_eq(topic_subtree_parse("zheng'zhou", &st, err, sizeof(err)), -1);
    ck_assert_int_eq(topic_subtree_parse("shelter/#", &st, err, sizeof(err)), -1);
}
END_TEST

static void quote_fn(FILE *f, const void *arg)
{
    iql_str(f, arg);
    fputc(' ', f);
    iql_ident(f, arg);
}

START_TEST(test_quoting_escapes_quotes_and_backslashes)
{
    char *q = stmt_text(quote_fn, "a'b\"c\\d");
    ck_assert_str_eq(q, "'a\\'b\"c\\\\d' \"a'b\\\"c\\\\d\"");
    free(q);
}
END_TEST

START_TEST(test_statement_errors_and_server_errors_are_reported)
{
    cJSON *r = iql_parse("{\"error\":\"database not found: x\"}", err, sizeof(err));
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err, "database not found: x");
    ck_assert_ptr_null(iql_parse("<html>", err, sizeof(err)));
    r = iql_parse("{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"error\":\"bad\"}]}",
                  err, sizeof(err));
    ck_assert_ptr_nonnull(r);
    const cJSON *s = iql_series(r, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(cJSON_GetArraySize(s), 0);
    ck_assert_ptr_null(iql_series(r, 1, err, sizeof(err)));
    ck_assert_str_eq(err, "bad");
    ck_assert_ptr_null(iql_series(r, 2, err, sizeof(err)));
    cJSON_Delete(r);
}
END_TEST

START_TEST(test_numbers_beyond_int64_read_as_absent)
{
    cJSON *row = cJSON_Parse("[1e300, -1e300, 1777564800000, \"x\", 9.3e18]");
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(iql_int(row, 0, -7), -7);
    ck_assert_int_eq(iql_int(row, 1, -7), -7);
    ck_assert_int_eq(iql_int(row, 2, -7), 1777564800000LL);
    ck_assert_int_eq(iql_int(row, 3, -7), -7);
    ck_assert_int_eq(iql_int(row, 4, -7), -7);
    cJSON_Delete(row);
}
END_TEST

START_TEST(test_location_from_the_gateway_message)
{
    char loc[128];
    review_location_from_message("door-1（1号防护密闭门）：人防门位置信号矛盾", "door-1", loc,
                                 sizeof(loc));
    ck_assert_str_eq(loc, "1号防护密闭门");
    review_location_from_message("door-1 (B1 ramp (east)): position contacts disagree", "door-1",
                                 loc, sizeof(loc));
    ck_assert_str_eq(loc, "B1 ramp (east)");
    review_location_from_message("door-1：人防门位置信号矛盾", "door-1", loc, sizeof(loc));
    ck_assert_str_eq(loc, "");
    review_location_from_message("door-10（x）：y", "door-1", loc, sizeof(loc));
    ck_assert_str_eq(loc, "");
}
END_TEST

/* ---- the review, round by round ---- */

static struct period P;
static struct review *rv;

static cJSON *tags(const char *shelter, const char *community, const char *sensor)
{
    char prop[64];
    cJSON *t = cJSON_CreateObject();
    snprintf(prop, sizeof(prop), "%s-wuye", community);
    cJSON_AddStringToObject(t, "city", "zhengzhou");
    cJSON_AddStringToObject(t, "district", "jinshui");
    cJSON_AddStringToObject(t, "street", "fengchan");
    cJSON_AddStringToObject(t, "community", community);
    cJSON_AddStringToObject(t, "property", prop);
    cJSON_AddStringToObject(t, "shelter", shelter);
    if (sensor != NULL)
        cJSON_AddStringToObject(t, "sensor", sensor);
    return t;
}

/* A series: tags, extra tags "k=v,k=v", columns and values as JSON text. */
static void series(cJSON *arr, const char *shelter, const char *community, const char *sensor,
                   const char *extra, const char *cols, const char *values)
{
    cJSON *s = cJSON_CreateObject(), *t = tags(shelter, community, sensor);
    char kv[256];
    snprintf(kv, sizeof(kv), "%s", extra != NULL ? extra : "");
    for (char *save = NULL, *p = strtok_r(kv, ",", &save); p != NULL;
         p = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(p, '=');
        *eq = '\0';
        cJSON_AddStringToObject(t, p, eq + 1);
    }
    cJSON_AddStringToObject(s, "name", "m");
    cJSON_AddItemToObject(s, "tags", t);
    cJSON_AddItemToObject(s, "columns", cJSON_Parse(cols));
    cJSON_AddItemToObject(s, "values", cJSON_Parse(values));
    cJSON_AddItemToArray(arr, s);
}

static cJSON *answer;
static cJSON *stmt(void)
{
    cJSON *results = cJSON_GetObjectItem(answer, "results"), *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "statement_id", cJSON_GetArraySize(results));
    cJSON_AddItemToArray(results, r);
    return cJSON_AddArrayToObject(r, "series");
}

static void new_answer(void)
{
    cJSON_Delete(answer);
    answer = cJSON_CreateObject();
    cJSON_AddArrayToObject(answer, "results");
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    static char bufs[8][1024];
    static int i;
    va_list ap;
    char *b = bufs[i++ % 8];
    va_start(ap, f);
    vsnprintf(b, 1024, f, ap);
    va_end(ap);
    return b;
}

static long long T(int64_t offset) /* a time in the period */
{
    return (long long)(P.from_ms + offset);
}

static char *round_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int n = review_next(rv, f);
    fclose(f);
    ck_assert_int_ge(n, 0);
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void take(void)
{
    ck_assert_msg(review_take(rv, answer, err, sizeof(err)) == 0, "%s", err);
}

/* 0: sh-b's door-2 last exercised 40 days before the period; 1: no
 * exercise of it found in 400 days, sh-b commissioned on the 11th (watched
 * less than 31 days before --to); 2: the same, sh-b watched since 100 days
 * before the period. */
static int never_exercised;

static void run_review(void)
{
    struct review_opts o = {0};
    ck_assert_int_eq(period_make(&P, "2026-04-01", "2026-05-01", false, 0, err, sizeof(err)), 0);
    o.period = P;
    o.now_ms = P.to_ms + DAY_MS;
    ck_assert_int_eq(
        topic_subtree_parse("zhengzhou/jinshui/fengchan", &o.subtree, err, sizeof(err)), 0);
    rv = review_new(&o);

    /* Round 1: the statements ask for the full path, then the answers. */
    char *text = round_text();
    ck_assert_ptr_nonnull(strstr(text, "\"city\" = 'zhengzhou' AND \"district\" = 'jinshui' AND "
                                       "\"street\" = 'fengchan'"));
    ck_assert_ptr_nonnull(strstr(text, "GROUP BY time(1d, 57600000ms)"));
    ck_assert_ptr_null(strstr(text, "SELECT * "));
    free(text);
    new_answer();
    cJSON *s = stmt(); /* shelters */
    series(s, "sh-a", "dongfeng", NULL, NULL, "[\"time\",\"last\"]", fmt("[[%lld,1]]", T(0)));
    series(s, "sh-b", "jinyuan", NULL, NULL, "[\"time\",\"last\"]", fmt("[[%lld,1]]", T(0)));
    s = stmt(); /* first health point ever: sh-b was commissioned on the 11th */
    series(s, "sh-a", "dongfeng", NULL, NULL, "[\"time\",\"first\"]",
           fmt("[[%lld,0]]", T(-100 * DAY_MS)));
    series(s, "sh-b", "jinyuan", NULL, NULL, "[\"time\",\"first\"]",
           fmt("[[%lld,0]]", never_exercised == 2 ? T(-100 * DAY_MS) : T(10 * DAY_MS + 30000)));
    s = stmt(); /* health */
    series(s, "sh-a", "dongfeng", NULL, NULL, "[\"time\",\"count\"]", "[[0,43200]]");
    series(s, "sh-b", "jinyuan", NULL, NULL, "[\"time\",\"count\"]", "[[0,28200]]");
    s = stmt(); /* events */
    const char *ec = "[\"time\",\"seq\",\"by\",\"message\",\"location\"]";
    series(
        s, "sh-a", "dongfeng", "door-1", "alarm=sensor_disagree,kind=blast_door,event=raised", ec,
        fmt("[[%lld,5,null,\"door-1（1号门）：x\",null],[%lld,1,null,\"door-1（1号门）：x\",null]]",
            T(DAY_MS), T(-2 * DAY_MS)));
    series(s, "sh-a", "dongfeng", "door-1",
           "alarm=sensor_disagree,kind=blast_door,event=acknowledged", ec,
           fmt("[[%lld,6,\"王经理\",\"x\",null]]", T(DAY_MS + 10 * MIN_MS)));
    series(s, "sh-a", "dongfeng", "door-1", "alarm=sensor_disagree,kind=blast_door,event=cleared",
           ec, fmt("[[%lld,7,null,\"x\",null]]", T(DAY_MS + HOUR_MS)));
    series(s, "sh-b", "jinyuan", "door-2", "alarm=exercise_overdue,kind=blast_door,event=raised",
           ec, fmt("[[%lld,3,null,\"door-2（2号门）：y\",null]]", T(3 * DAY_MS)));
    series(s, "sh-a", "dongfeng", "sump-1", "alarm=high,kind=water_level,event=raised", ec,
           fmt("[[%lld,9,null,\"m\",null]]", T(5 * DAY_MS)));
    series(s, "sh-a", "dongfeng", "sump-1", "alarm=high,kind=water_level,event=acknowledged", ec,
           fmt("[[%lld,10,\"李\",\"m\",null]]", T(5 * DAY_MS + 5 * MIN_MS)));
    series(s, "sh-a", "dongfeng", "sump-1", "alarm=high,kind=water_level,event=cleared", ec,
           fmt("[[%lld,11,null,\"m\",null]]", T(5 * DAY_MS + HOUR_MS)));
    series(s, "sh-a", "dongfeng", "sump-1", "alarm=comm_lost,kind=water_level,event=raised", ec,
           fmt("[[%lld,12,null,\"m\",null]]", T(6 * DAY_MS)));
    series(s, "sh-a", "dongfeng", "sump-1", "alarm=comm_lost,kind=water_level,event=cleared", ec,
           fmt("[[%lld,13,null,\"m\",null]]", T(6 * DAY_MS + 2 * HOUR_MS)));
    series(s, "sh-b", "jinyuan", "co2-1", "alarm=high,kind=co2,event=raised", ec,
           fmt("[[%lld,4,null,\"c\",null]]", T(7 * DAY_MS)));
    series(s, "sh-b", "jinyuan", "co2-1", "alarm=high,kind=co2,event=cleared", ec,
           fmt("[[%lld,5,null,\"c\",null]]", T(7 * DAY_MS + 30 * MIN_MS)));
    s = stmt(); /* comm_lost before the period: leak-ramp lost all along */
    series(s, "sh-b", "jinyuan", "leak-ramp", "event=raised", "[\"time\",\"last\"]",
           fmt("[[%lld,2]]", T(-DAY_MS)));
    series(s, "sh-b", "jinyuan", "leak-ramp", "event=cleared", "[\"time\",\"last\"]",
           fmt("[[%lld,1]]", T(-3 * DAY_MS)));
    s = stmt(); /* doors */
    series(s, "sh-a", "dongfeng", "door-1", NULL, "[\"time\",\"last\"]",
           fmt("[[%lld,\"locked\"]]", T(29 * DAY_MS)));
    series(s, "sh-b", "jinyuan", "door-2", NULL, "[\"time\",\"last\"]",
           fmt("[[%lld,\"locked\"]]", T(29 * DAY_MS)));
    s = stmt(); /* travel: open */
    series(s, "sh-a", "dongfeng", "door-1", NULL, "[\"time\",\"mean\",\"count\"]",
           fmt("[[%lld,10.0,1],[%lld,10.2,1],[%lld,12.0,1],[%lld,12.5,1]]", T(DAY_MS),
               T(8 * DAY_MS), T(15 * DAY_MS), T(22 * DAY_MS)));
    stmt();     /* close */
    stmt();     /* lock */
    s = stmt(); /* recent opens */
    series(s, "sh-a", "dongfeng", "door-1", NULL, "[\"time\",\"last\"]",
           fmt("[[%lld,\"open\"]]", T(22 * DAY_MS + 10 * HOUR_MS)));
    s = stmt(); /* locations */
    series(s, "sh-b", "jinyuan", "door-2", NULL, "[\"time\",\"last\"]",
           "[[0,\"door-2（2号密闭门）：y\"]]");
    take();
    ck_assert_int_eq(rv->ndoor_faults, 2);
    ck_assert_int_eq(rv->nfloods, 1);
    ck_assert_int_eq(rv->nco2, 1);

    /* Round 2: the flood's and the CO2 event's peaks, each door's exercise. */
    text = round_text();
    ck_assert_ptr_nonnull(strstr(text, "SELECT max(\"level_m\") FROM \"water_level\""));
    ck_assert_ptr_nonnull(strstr(text, "\"shelter\" = 'sh-a' AND"));
    ck_assert_ptr_nonnull(strstr(
        text, fmt("time >= %lldms AND time < %lldms", T(5 * DAY_MS), T(5 * DAY_MS + HOUR_MS) + 1)));
    free(text);
    new_answer();
    series(stmt(), "sh-a", "dongfeng", "sump-1", NULL, "[\"time\",\"max\"]", "[[0,1.234]]");
    series(stmt(), "sh-b", "jinyuan", "co2-1", NULL, "[\"time\",\"max\"]", "[[0,1450]]");
    series(stmt(), "sh-a", "dongfeng", "door-1", NULL, "[\"time\",\"first\"]",
           fmt("[[%lld,\"locked\"]]", T(22 * DAY_MS + 10 * HOUR_MS + 10 * MIN_MS)));
    if (never_exercised) { /* no open of door-2 in 400 days: done */
        stmt();
        take();
        ck_assert_ptr_null(round_text());
        cJSON_Delete(answer);
        answer = NULL;
        return;
    }
    series(stmt(), "sh-b", "jinyuan", "door-2", NULL, "[\"time\",\"last\"]",
           fmt("[[%lld,\"open\"]]", T(-40 * DAY_MS)));
    take();
    /* Round 3: sh-b's door, opened 40 days before the period: its lock. */
    text = round_text();
    ck_assert_ptr_nonnull(strstr(text, "\"door\" = 'locked'"));
    ck_assert_ptr_nonnull(strstr(text, "'door-2'"));
    free(text);
    new_answer();
    series(stmt(), "sh-b", "jinyuan", "door-2", NULL, "[\"time\",\"first\"]",
           fmt("[[%lld,\"locked\"]]", T(-40 * DAY_MS + 10 * MIN_MS)));
    take();
    ck_assert_ptr_null(round_text());
    cJSON_Delete(answer);
    answer = NULL;
}

START_TEST(test_door_faults_from_their_transitions)
{
    run_review();
    ck_assert_int_eq(review_has_data(rv, err, sizeof(err)), 0);
    const struct review_episode *e = &rv->door_faults[0];
    ck_assert_str_eq(e->site.sensor, "door-1");
    ck_assert_int_eq(e->raised, T(DAY_MS)); /* the one raised before the period is not counted */
    ck_assert_int_eq(e->acked, T(DAY_MS + 10 * MIN_MS));
    ck_assert_str_eq(e->by, "王经理");
    ck_assert_int_eq(e->cleared, T(DAY_MS + HOUR_MS));
    ck_assert_str_eq(e->location, "1号门");
    e = &rv->door_faults[1];
    ck_assert_str_eq(e->alarm, "exercise_overdue");
    ck_assert_int_eq(e->acked, 0);
    ck_assert_int_eq(e->cleared, 0);
    ck_assert_int_eq(rv->door_times.acked, 1);
    ck_assert_double_eq(rv->door_times.ack_median_s, 600);
    ck_assert_double_eq(rv->door_times.clear_worst_s, 3600);
    /* Per community, both children listed. */
    ck_assert_int_eq(rv->nchildren, 2);
    ck_assert_str_eq(rv->children[0].slug, "dongfeng");
    ck_assert_int_eq(rv->children[0].door_faults, 1);
    ck_assert_str_eq(rv->children[1].slug, "jinyuan");
    ck_assert_int_eq(rv->children[1].door_faults, 1);
    review_free(rv);
}
END_TEST

START_TEST(test_floods_co2_and_availability)
{
    run_review();
    ck_assert_str_eq(rv->floods[0].alarm, "high"); /* comm_lost is no flood */
    ck_assert_double_eq(rv->floods[0].peak, 1.234);
    ck_assert_str_eq(rv->floods[0].by, "李");
    ck_assert_double_eq(rv->co2[0].peak, 1450);
    ck_assert_int_eq(rv->navail, 2);
    const struct review_avail *a = &rv->avail[0], *b = &rv->avail[1];
    ck_assert_str_eq(a->site.level[5], "sh-a");
    ck_assert_double_eq(a->online_pct, 100);
    ck_assert_int_eq(a->comm_lost_s, 7200);
    ck_assert_int_eq(b->offline_s, 600 * 60); /* of the 28800 minutes since it came */
    ck_assert_double_eq_tol(b->online_pct, 100.0 * 28200 / 28800, 1e-9);
    ck_assert_int_eq(b->comm_lost_s, 30 * 86400); /* lost before the period, never back */
    review_free(rv);
}
END_TEST

START_TEST(test_exercise_and_wear)
{
    run_review();
    ck_assert_int_eq(rv->noverdue, 1);
    ck_assert_str_eq(rv->overdue[0].site.sensor, "door-2");
    ck_assert_int_eq(rv->overdue[0].last_exercise, T(-40 * DAY_MS + 10 * MIN_MS));
    ck_assert_str_eq(rv->overdue[0].location, "2号密闭门");
    ck_assert_int_eq(rv->ntravel, 1);
    const struct review_travel *t = &rv->travel[0];
    ck_assert_double_eq_tol(t->first_s, 10.1, 1e-9);
    ck_assert_double_eq_tol(t->last_s, 12.25, 1e-9);
    ck_assert(t->creeping);
    ck_assert_int_eq(t->count, 4);
    review_free(rv);
}
END_TEST

START_TEST(test_a_door_never_exercised_is_overdue_after_31_days_watched)
{
    never_exercised = 1; /* sh-b watched since the 11th: not overdue yet */
    run_review();
    ck_assert_int_eq(rv->noverdue, 0);
    review_free(rv);
    never_exercised = 2; /* watched since 100 days before: overdue, never exercised */
    run_review();
    ck_assert_int_eq(rv->noverdue, 1);
    ck_assert_str_eq(rv->overdue[0].site.sensor, "door-2");
    ck_assert_int_eq(rv->overdue[0].last_exercise, 0);
    review_free(rv);
    never_exercised = 0;
}
END_TEST

START_TEST(test_no_shelter_is_no_data_not_all_fine)
{
    struct review_opts o = {0};
    ck_assert_int_eq(period_make(&o.period, "2026-04-01", "2026-05-01", false, 0, err, sizeof(err)),
                     0);
    o.now_ms = o.period.to_ms;
    rv = review_new(&o);
    char *text = round_text();
    free(text);
    new_answer();
    for (int i = 0; i < 11; i++)
        stmt();
    take();
    ck_assert_ptr_null(round_text());
    ck_assert_int_eq(review_has_data(rv, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no data"));
    review_free(rv);
    cJSON_Delete(answer);
    answer = NULL;
}
END_TEST

/* ---- renderers ---- */

static char *render(int which)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = which == 0   ? rjson_write(rv, P.to_ms, f)
             : which == 1 ? rcsv_write(rv, f)
                          : rhtml_write(rv, P.to_ms, f);
    fclose(f);
    ck_assert_int_eq(rc, 0);
    return buf;
}

START_TEST(test_outputs_carry_the_same_numbers)
{
    run_review();
    char *json = render(0), *csv = render(1), *html = render(2);
    cJSON *j = cJSON_Parse(json);
    ck_assert_ptr_nonnull(j);
    const cJSON *fl = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "floods"), 0);
    ck_assert_double_eq(cJSON_GetObjectItem(fl, "peak_m")->valuedouble, 1.234);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "door_faults"), 1), "acked")));
    ck_assert_int_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "door_faults_by_child"), "jinyuan")->valueint,
        1);
    const cJSON *tr = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "door_travel"), 0);
    ck_assert_double_eq(cJSON_GetObjectItem(tr, "first_s")->valuedouble, 10.1);
    ck_assert_double_eq(cJSON_GetObjectItem(tr, "last_s")->valuedouble, 12.25);
    ck_assert_ptr_nonnull(strstr(csv, ",1.234\r\n"));
    ck_assert_ptr_nonnull(strstr(csv, ",10.10,12.25,true,4\r\n"));
    ck_assert_ptr_nonnull(strstr(csv, "# exercise_overdue\r\n"));
    ck_assert_ptr_nonnull(strstr(html, ">1.234 m<"));
    ck_assert_ptr_nonnull(strstr(html, ">10.10<"));
    ck_assert_ptr_nonnull(strstr(html, ">12.25<"));
    ck_assert_ptr_nonnull(strstr(html, "<svg id=\"chart-children\""));
    ck_assert_ptr_null(strstr(html, "http://"));
    ck_assert_ptr_null(strstr(html, "https://"));
    cJSON_Delete(j);
    free(json);
    free(csv);
    free(html);
    review_free(rv);
}
END_TEST

START_TEST(test_text_from_the_data_is_escaped)
{
    run_review();
    snprintf(rv->door_faults[0].location, sizeof(rv->door_faults[0].location),
             "<script>x</script>, \"a\"");
    char *csv = render(1), *html = render(2);
    ck_assert_ptr_nonnull(strstr(csv, ",\"<script>x</script>, \"\"a\"\"\","));
    ck_assert_ptr_null(strstr(html, "<script>x"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;script&gt;x"));
    free(csv);
    free(html);
    review_free(rv);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_dates_are_china_standard_time_unless_utc);
    tcase_add_test(tc, test_default_period_is_the_last_calendar_month);
    tcase_add_test(tc, test_empty_period_is_refused);
    tcase_add_test(tc, test_subtree_matches_by_its_full_path);
    tcase_add_test(tc, test_quoting_escapes_quotes_and_backslashes);
    tcase_add_test(tc, test_statement_errors_and_server_errors_are_reported);
    tcase_add_test(tc, test_numbers_beyond_int64_read_as_absent);
    tcase_add_test(tc, test_location_from_the_gateway_message);
    tcase_add_test(tc, test_door_faults_from_their_transitions);
    tcase_add_test(tc, test_floods_co2_and_availability);
    tcase_add_test(tc, test_exercise_and_wear);
    tcase_add_test(tc, test_a_door_never_exercised_is_overdue_after_31_days_watched);
    tcase_add_test(tc, test_no_shelter_is_no_data_not_all_fine);
    tcase_add_test(tc, test_outputs_carry_the_same_numbers);
    tcase_add_test(tc, test_text_from_the_data_is_escaped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(report_suite());
}
