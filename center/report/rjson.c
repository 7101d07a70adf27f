/*
 * rjson: see rjson.h.  Built as a cJSON tree and printed once: a review is
 * at most a few thousand objects.
 */
#include "rjson.h"

#include <math.h>
#include <stdlib.h>

static void add_time(const struct period *P, cJSON *o, const char *key, int64_t ms)
{
    char buf[40];
    if (ms == 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    period_rfc3339(P, ms, buf, sizeof(buf));
    cJSON_AddStringToObject(o, key, buf);
}

static void add_num(cJSON *o, const char *key, double v, int digits)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, review_round(v, digits));
    else
        cJSON_AddNullToObject(o, key);
}

static void add_secs(cJSON *o, const char *key, int64_t from, int64_t to)
{
    if (from == 0 || to == 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)llround((double)(to - from) / 1000.0));
}

static void add_text_or_null(cJSON *o, const char *key, const char *s)
{
    if (s[0] == '\0')
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, s);
}

static cJSON *site(cJSON *list, const struct review *rv, const struct review_site *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(list, o);
    cJSON_AddStringToObject(o, "shelter", s->level[IQL_LEVELS - 1]);
    if (s->sensor[0] != '\0')
        cJSON_AddStringToObject(o, "sensor", s->sensor);
    cJSON_AddStringToObject(o, "child", review_child_of(rv, s));
    return o;
}

static void episodes(cJSON *root, const struct review *rv, const char *key,
                     const struct review_episode *e, int n, const char *peak, int digits)
{
    const struct period *P = &rv->opts.period;
    cJSON *list = cJSON_AddArrayToObject(root, key);
    for (int i = 0; i < n; i++) {
        cJSON *o = site(list, rv, &e[i].site);
        cJSON_AddStringToObject(o, "location", e[i].location);
        cJSON_AddStringToObject(o, "alarm", e[i].alarm);
        if (peak != NULL)
            cJSON_AddStringToObject(o, "kind", e[i].kind);
        add_time(P, o, "raised", e[i].raised);
        add_time(P, o, "acked", e[i].acked);
        add_time(P, o, "cleared", e[i].cleared);
        add_text_or_null(o, "by", e[i].acked ? e[i].by : "");
        add_secs(o, "ack_s", e[i].raised, e[i].acked);
        add_secs(o, "duration_s", e[i].raised, e[i].cleared);
        if (peak != NULL)
            add_num(o, peak, e[i].peak, digits);
    }
}

int rjson_write(const struct review *rv, int64_t generated_ms, FILE *f)
{
    char buf[IQL_LEVELS * IQL_SLUG_MAX];
    cJSON *root = cJSON_CreateObject(), *list, *o;
    const struct period *P = &rv->opts.period;

    iql_subtree_text(&rv->opts.subtree, buf, sizeof(buf));
    cJSON_AddStringToObject(root, "subtree", buf);
    cJSON_AddStringToObject(root, "child_level", review_child_key(rv));
    add_time(P, root, "from", P->from_ms);
    add_time(P, root, "to", P->to_ms);
    add_time(P, root, "generated", generated_ms);
    cJSON_AddNumberToObject(root, "shelters", rv->navail);
    cJSON_AddNumberToObject(root, "doors", rv->doors);

    episodes(root, rv, "door_faults", rv->door_faults, rv->ndoor_faults, NULL, 0);
    o = cJSON_AddObjectToObject(root, "door_faults_by_child");
    for (int i = 0; i < rv->nchildren; i++)
        cJSON_AddNumberToObject(o, rv->children[i].slug, rv->children[i].door_faults);
    o = cJSON_AddObjectToObject(root, "door_fault_times");
    cJSON_AddNumberToObject(o, "faults", rv->door_times.faults);
    cJSON_AddNumberToObject(o, "acked", rv->door_times.acked);
    cJSON_AddNumberToObject(o, "cleared", rv->door_times.cleared);
    add_num(o, "ack_median_s", rv->door_times.ack_median_s, 0);
    add_num(o, "ack_worst_s", rv->door_times.ack_worst_s, 0);
    add_num(o, "clear_median_s", rv->door_times.clear_median_s, 0);
    add_num(o, "clear_worst_s", rv->door_times.clear_worst_s, 0);

    list = cJSON_AddArrayToObject(root, "exercise_overdue");
    for (int i = 0; i < rv->noverdue; i++) {
        o = site(list, rv, &rv->overdue[i].site);
        cJSON_AddStringToObject(o, "location", rv->overdue[i].location);
        add_time(P, o, "last_exercise", rv->overdue[i].last_exercise);
    }

    list = cJSON_AddArrayToObject(root, "door_travel");
    for (int i = 0; i < rv->ntravel; i++) {
        const struct review_travel *t = &rv->travel[i];
        o = site(list, rv, &t->site);
        cJSON_AddStringToObject(o, "location", t->location);
        cJSON_AddStringToObject(o, "movement", t->movement);
        add_num(o, "first_s", t->first_s, REVIEW_DIGITS_S);
        add_num(o, "last_s", t->last_s, REVIEW_DIGITS_S);
        cJSON_AddBoolToObject(o, "creeping", t->creeping);
        cJSON_AddNumberToObject(o, "movements", t->count);
        cJSON *days = cJSON_AddArrayToObject(o, "daily");
        for (int d = 0; d < t->ndays; d++) {
            char date[16];
            cJSON *pair = cJSON_CreateArray();
            period_date(P, t->days[d].day_ms, date, sizeof(date));
            cJSON_AddItemToArray(pair, cJSON_CreateString(date));
            cJSON_AddItemToArray(
                pair, cJSON_CreateNumber(review_round(t->days[d].mean_s, REVIEW_DIGITS_S)));
            cJSON_AddItemToArray(days, pair);
        }
    }

    episodes(root, rv, "floods", rv->floods, rv->nfloods, "peak_m", REVIEW_DIGITS_M);
    episodes(root, rv, "co2_events", rv->co2, rv->nco2, "peak_ppm", REVIEW_DIGITS_PPM);
    episodes(root, rv, "smoke_events", rv->smoke, rv->nsmoke, NULL, 0);

    list = cJSON_AddArrayToObject(root, "availability");
    for (int i = 0; i < rv->navail; i++) {
        const struct review_avail *a = &rv->avail[i];
        o = site(list, rv, &a->site);
        add_num(o, "online_pct", a->online_pct, REVIEW_DIGITS_PCT);
        cJSON_AddNumberToObject(o, "comm_lost_s", (double)a->comm_lost_s);
        cJSON_AddNumberToObject(o, "offline_s", (double)a->offline_s);
    }

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL)
        return -1;
    int rc = fputs(text, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    free(text);
    return rc;
}
