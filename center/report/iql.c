/*
 * iql: see iql.h.  InfluxQL's quoting rules (1.x and 2.x alike): a string
 * literal is in single quotes with \' and \\ escaped; an identifier in double
 * quotes with \" and \\ escaped.  Times are written as integer milliseconds
 * with the "ms" unit, never as RFC 3339 text, so no zone or parsing is
 * involved on the server.
 */
#include "iql.h"

#include "points.h"

#include <math.h>
#include <string.h>

void iql_subtree_text(const struct topic_subtree *st, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    if (st->nlevels == 0) {
        snprintf(buf, len, "/");
        return;
    }
    for (int i = 0; i < st->nlevels && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? "/" : "", st->level[i]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

const char *iql_child_key(const struct topic_subtree *st)
{
    return st->nlevels < TOPIC_LEVELS ? topic_site_keys[st->nlevels] : POINTS_SENSOR_TAG;
}

static void quoted(FILE *f, const char *s, char q)
{
    fputc(q, f);
    for (; *s != '\0'; s++) {
        if (*s == q || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc(q, f);
}

void iql_str(FILE *f, const char *s)
{
    quoted(f, s, '\'');
}

void iql_ident(FILE *f, const char *s)
{
    quoted(f, s, '"');
}

void iql_where(FILE *f, const struct topic_subtree *st, int64_t from_ms, int64_t to_ms)
{
    const char *sep = " WHERE ";
    for (int i = 0; i < st->nlevels; i++) {
        fputs(sep, f);
        iql_ident(f, topic_site_keys[i]);
        fputs(" = ", f);
        iql_str(f, st->level[i]);
        sep = " AND ";
    }
    if (from_ms != INT64_MIN) {
        fprintf(f, "%stime >= %lldms", sep, (long long)from_ms);
        sep = " AND ";
    }
    if (to_ms != INT64_MAX)
        fprintf(f, "%stime < %lldms", sep, (long long)to_ms);
}

cJSON *iql_parse(const char *body, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(body);
    if (root == NULL || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "the answer is not a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(e)) {
        snprintf(err, errlen, "%s", e->valuestring);
        cJSON_Delete(root);
        return NULL;
    }
    e = cJSON_GetObjectItemCaseSensitive(root, "message"); /* 2.x: {"code","message"} */
    if (cJSON_IsString(e)) {
        snprintf(err, errlen, "%s", e->valuestring);
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "results"))) {
        snprintf(err, errlen, "the answer has no results");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

const cJSON *iql_series(const cJSON *root, int i, char *err, size_t errlen)
{
    static const cJSON empty = {.type = cJSON_Array};
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    const cJSON *r;
    cJSON_ArrayForEach(r, results)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "statement_id");
        if (!cJSON_IsNumber(id) || id->valueint != i)
            continue;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        if (cJSON_IsString(e)) {
            snprintf(err, errlen, "%s", e->valuestring);
            return NULL;
        }
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "series");
        return cJSON_IsArray(s) ? s : &empty;
    }
    snprintf(err, errlen, "no answer to statement %d", i);
    return NULL;
}

const char *iql_tag(const cJSON *series, const char *key)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(series, "tags");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(tags, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int iql_column(const cJSON *series, const char *name)
{
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(series, "columns"), *c;
    int i = 0;
    cJSON_ArrayForEach(c, cols)
    {
        if (cJSON_IsString(c) && strcmp(c->valuestring, name) == 0)
            return i;
        i++;
    }
    return -1;
}

int64_t iql_int(const cJSON *row, int col, int64_t fallback)
{
    const cJSON *v = col >= 0 ? cJSON_GetArrayItem(row, col) : NULL;
    /* Beyond int64's range (or not finite) llround's result is undefined:
     * such a value reads as absent, not as a time near INT64_MIN. */
    if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) < 9.2e18))
        return fallback;
    return (int64_t)llround(v->valuedouble);
}

double iql_num(const cJSON *row, int col, double fallback)
{
    const cJSON *v = col >= 0 ? cJSON_GetArrayItem(row, col) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

const char *iql_text(const cJSON *row, int col)
{
    const cJSON *v = col >= 0 ? cJSON_GetArrayItem(row, col) : NULL;
    return cJSON_IsString(v) ? v->valuestring : "";
}
