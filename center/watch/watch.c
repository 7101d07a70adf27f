/*
 * watch: see watch.h.  Payloads are read with cJSON and held as the parsed
 * tree, so a line is built without copying strings around.  The text of an
 * alarm comes from the gateway's own zh/en table (alarm_event_message), so
 * the watcher and the gateway's journal say the same thing in the same words;
 * only alarms this build does not know fall back to the payload's message.
 * Duplicates and gateway states live in small chained hash maps keyed by
 * strings; the duplicate map is bounded by two generations.
 */
#include "watch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alarmdef.h"
#include "kind.h"
#include "textbuf.h"

/* ---- a string-keyed chained hash map ---- */

struct sent {
    struct sent *next;
    uint64_t hash;
    bool online;   /* gateways */
    char *name;    /* gateways: display name, malloc'd or NULL */
    char *gateway; /* gateways: id, malloc'd or NULL */
    char key[];
};

struct smap {
    struct sent **buckets;
    size_t nbuckets, count;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct sent *smap_find(const struct smap *m, const char *key, uint64_t h)
{
    if (m->nbuckets == 0)
        return NULL;
    for (struct sent *e = m->buckets[h & (m->nbuckets - 1)]; e != NULL; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* Grow to keep chains short: double when count reaches the bucket count. */
static int smap_grow(struct smap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
    struct sent **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct sent *e = m->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

/* A new entry for key (known to be absent), or NULL on ENOMEM. */
static struct sent *smap_insert(struct smap *m, const char *key, uint64_t h)
{
    size_t klen = strlen(key);
    struct sent *e;

    if (m->count >= m->nbuckets && smap_grow(m) == -1)
        return NULL;
    if ((e = calloc(1, sizeof(*e) + klen + 1)) == NULL)
        return NULL;
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->count++;
    return e;
}

static void smap_clear(struct smap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct sent *e = m->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            free(e->name);
            free(e->gateway);
            free(e);
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->count = 0;
}

struct text {
    const char *zh, *en;
};

static const char *pick(const struct text *t, enum gw_lang lang)
{
    return lang == LANG_EN ? t->en : t->zh;
}

/* ---- topics ---- */

/* Pointers to the starts of the last `want` levels of topic (fewer if it has
 * fewer); returns how many levels topic has, counting at most want + 1. */
static int last_levels(const char *topic, const char **lv, int want)
{
    const char *end = topic + strlen(topic), *p = end;
    int n = 0;

    while (n < want + 1) {
        const char *start = p;
        while (start > topic && start[-1] != '/')
            start--;
        if (n < want)
            lv[want - 1 - n] = start;
        n++;
        if (start == topic)
            break;
        p = start - 1;
    }
    return n;
}

/* level equals word: the level runs to the next '/' or the end. */
static bool level_is(const char *level, const char *word)
{
    size_t n = strlen(word);
    return strncmp(level, word, n) == 0 && (level[n] == '/' || level[n] == '\0');
}

static bool level_nonempty(const char *level)
{
    return *level != '\0' && *level != '/';
}

enum watch_topic watch_topic_parse(const char *topic, char *base, size_t len)
{
    const char *lv[3];
    enum watch_topic type = WATCH_TOPIC_OTHER;
    const char *cut = NULL; /* where the gateway's own levels begin (after a '/') */
    int n;

    if (len > 0)
        base[0] = '\0';
    if (topic == NULL || *topic == '\0')
        return WATCH_TOPIC_OTHER;
    n = last_levels(topic, lv, 3);
    /* {base}/alarm/S/A needs base, so at least 4 levels; and so on. */
    if (n >= 4 && level_is(lv[0], "alarm") && level_nonempty(lv[1]) && level_nonempty(lv[2])) {
        type = WATCH_TOPIC_ALARM;
        cut = lv[0];
    } else if (n >= 3 && level_is(lv[1], "reading") && level_nonempty(lv[2])) {
        type = WATCH_TOPIC_READING;
        cut = lv[1];
    } else if (n >= 3 && level_is(lv[1], "cmd") && level_nonempty(lv[2])) {
        type = WATCH_TOPIC_CMD;
        cut = lv[1];
    } else if (n >= 2 && level_is(lv[2], "status")) {
        type = WATCH_TOPIC_STATUS;
        cut = lv[2];
    } else if (n >= 2 && level_is(lv[2], "cmd_result")) {
        type = WATCH_TOPIC_CMD_RESULT;
        cut = lv[2];
    } else {
        return WATCH_TOPIC_OTHER;
    }
    /* base is everything before "/<cut>"; it must not be empty. */
    size_t blen = (size_t)(cut - topic) - 1;
    if (blen == 0 || topic[blen - 1] == '/')
        return WATCH_TOPIC_OTHER;
    if (blen < len) {
        memcpy(base, topic, blen);
        base[blen] = '\0';
    }
    return type;
}

int watch_ack_target(const char *alarm_topic, char *base, size_t baselen, char *sensor, char *alarm,
                     char *err, size_t errlen)
{
    const char *lv[3];

    if (alarm_topic == NULL || strpbrk(alarm_topic, "+#") != NULL) {
        snprintf(err, errlen, "an alarm topic has no wildcards");
        return -1;
    }
    if (watch_topic_parse(alarm_topic, base, baselen) != WATCH_TOPIC_ALARM) {
        snprintf(err, errlen, "\"%s\" is not an alarm topic ({base}/alarm/{sensor}/{alarm})",
                 alarm_topic);
        return -1;
    }
    if (base[0] == '\0') {
        snprintf(err, errlen, "topic base longer than %zu bytes", baselen - 1);
        return -1;
    }
    last_levels(alarm_topic, lv, 3);
    size_t slen = (size_t)(lv[2] - lv[1]) - 1, alen = strlen(lv[2]);
    if (slen > WATCH_TEXT_MAX || alen > WATCH_TEXT_MAX) {
        snprintf(err, errlen, "sensor or alarm name longer than %d bytes", WATCH_TEXT_MAX);
        return -1;
    }
    memcpy(sensor, lv[1], slen);
    sensor[slen] = '\0';
    memcpy(alarm, lv[2], alen + 1);
    return 0;
}

char *watch_ack_payload(const char *id, const char *sensor, const char *alarm, const char *by)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o != NULL && cJSON_AddStringToObject(o, "id", id) != NULL &&
        cJSON_AddStringToObject(o, "sensor", sensor) != NULL &&
        cJSON_AddStringToObject(o, "alarm", alarm) != NULL &&
        (by == NULL || *by == '\0' || cJSON_AddStringToObject(o, "by", by) != NULL))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        errno = ENOMEM;
    return text;
}

int watch_cmd_result(const void *payload, size_t len, const char *id, bool *ok, char *error,
                     size_t errlen)
{
    cJSON *o = cJSON_ParseWithLength(payload, len);
    const cJSON *vid, *vok, *verr;
    int rc = -1;

    if (errlen > 0)
        error[0] = '\0';
    if (o == NULL || !cJSON_IsObject(o))
        goto out;
    vid = cJSON_GetObjectItemCaseSensitive(o, "id");
    vok = cJSON_GetObjectItemCaseSensitive(o, "ok");
    if (!cJSON_IsBool(vok) || !(cJSON_IsString(vid) || cJSON_IsNull(vid)))
        goto out;
    rc = 0;
    if (!cJSON_IsString(vid) || strcmp(vid->valuestring, id) != 0)
        goto out;
    *ok = cJSON_IsTrue(vok);
    verr = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (!*ok) {
        snprintf(error, errlen, "%s", cJSON_IsString(verr) ? verr->valuestring : "error");
        tb_make_printable(error); /* printed: the payload must not drive the terminal */
    }
    rc = 1;
out:
    cJSON_Delete(o);
    return rc;
}

/* ---- time ---- */

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
}

static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -1;
        v = v * 10 + (**s - '0');
    }
    *out = v;
    return 0;
}

int watch_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0, fdigits = 0, oh = 0, om = 0, sign = 0;

    if (s == NULL || digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
        digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !*s++ || digits(&s, 2, &h) ||
        *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec))
        return -1;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        for (; *s >= '0' && *s <= '9'; s++, fdigits++)
            if (fdigits < 3)
                frac = frac * 10 + (*s - '0');
        for (int i = fdigits; i < 3; i++)
            frac *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '+' ? 1 : -1;
        if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);
    *ms = t * 1000 + frac;
    return 0;
}

/* ---- alarm payloads ---- */

static const char *opt_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}

static double opt_num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

int watch_alarm_parse(const void *payload, size_t len, struct watch_alarm *a, char *err,
                      size_t errlen)
{
    static const char *const required[] = {"gateway", "sensor", "alarm", "event"};
    cJSON *o;
    const cJSON *v, *site;

    memset(a, 0, sizeof(*a));
    if (payload == NULL || len == 0 || memchr(payload, '\0', len) != NULL) {
        snprintf(err, errlen, "empty or binary payload");
        return -1;
    }
    o = cJSON_ParseWithLength(payload, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        snprintf(err, errlen, o == NULL ? "not valid JSON" : "not a JSON object");
        goto fail;
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "seq");
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != floor(v->valuedouble)) {
        snprintf(err, errlen, "field \"seq\" is not an integer >= 0");
        goto fail;
    }
    a->seq = (uint64_t)v->valuedouble;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        v = cJSON_GetObjectItemCaseSensitive(o, required[i]);
        if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
            snprintf(err, errlen, "field \"%s\" missing or not a string", required[i]);
            goto fail;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "active");
    if (!cJSON_IsBool(v)) {
        snprintf(err, errlen, "field \"active\" missing or not a boolean");
        goto fail;
    }
    a->active = cJSON_IsTrue(v);
    a->acked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "acked"));
    a->json = o;
    a->gateway = opt_str(o, "gateway");
    a->sensor = opt_str(o, "sensor");
    a->alarm = opt_str(o, "alarm");
    a->event = opt_str(o, "event");
    a->kind = opt_str(o, "kind");
    a->location = opt_str(o, "location");
    a->severity = opt_str(o, "severity");
    a->unit = opt_str(o, "unit");
    a->message = opt_str(o, "message");
    a->by = opt_str(o, "by");
    a->reason = opt_str(o, "reason");
    site = cJSON_GetObjectItemCaseSensitive(o, "site");
    a->base = "";
    a->site_name = opt_str(site, "name");
    a->city = opt_str(site, "city");
    a->district = opt_str(site, "district");
    a->street = opt_str(site, "street");
    a->community = opt_str(site, "community");
    a->property = opt_str(site, "property");
    a->value = opt_num(o, "value");
    a->threshold = opt_num(o, "threshold");
    if (watch_parse_time(opt_str(o, "ts"), &a->ts_ms) == -1)
        a->ts_ms = 0;
    if (watch_parse_time(opt_str(o, "until"), &a->until_ms) == -1)
        a->until_ms = 0;
    return 0;

fail:
    cJSON_Delete(o);
    memset(a, 0, sizeof(*a));
    return -1;
}

/* ---- identity from the topic ---- */

/* The levels of a gateway's base after its prefix: city, district, street,
 * community, property, id (docs/design.md section 10). */
enum { SITE_CITY, SITE_DISTRICT, SITE_STREET, SITE_COMMUNITY, SITE_PROPERTY, SITE_ID, SITE_LEVELS };
static const char *const site_keys[SITE_LEVELS] = {"city",      "district", "street",
                                                   "community", "property", "shelter"};

/* Split a copy of base into its six identity levels (pointers into ident,
 * which has strlen(base) + 1 bytes).  -1 when base is not a gateway's: fewer
 * than a prefix and six levels, or an empty level. */
static int site_split(const char *base, char *ident, const char *lv[SITE_LEVELS])
{
    const char *start[SITE_LEVELS];

    size_t len = strlen(base);

    /* Every level non-empty, the prefix's too. */
    if (len == 0 || base[0] == '/' || base[len - 1] == '/' || strstr(base, "//") != NULL)
        return -1;
    if (last_levels(base, start, SITE_LEVELS) <= SITE_LEVELS)
        return -1; /* no prefix level before the six */
    strcpy(ident, base);
    for (int i = 0; i < SITE_LEVELS; i++) {
        char *p = ident + (start[i] - base);
        lv[i] = p;
        p[strcspn(p, "/")] = '\0';
    }
    return 0;
}

/* A payload's string for a log line: at most 64 bytes, control characters
 * shown as '?' (the payload is the untrusted side). */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t i = 0;

    for (; s[i] != '\0' && i + 1 < len && i < 64; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

/* The payload's field (a string, or absent when optional) agrees with the
 * topic's level; else -1 with the reason. */
static int agrees(const cJSON *o, const char *field, const char *display, const char *want,
                  bool optional, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    char said[80];

    if (v == NULL && optional)
        return 0;
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        snprintf(err, errlen, "field \"%s\" is not a string (the topic says \"%s\")", display,
                 want);
        return -1;
    }
    if (strcmp(v->valuestring, want) != 0) {
        snprintf(err, errlen, "field \"%s\" is \"%s\" but the topic says \"%s\"", display,
                 shown(v->valuestring, said, sizeof(said)), want);
        return -1;
    }
    return 0;
}

int watch_alarm_parse_message(const char *topic, const void *payload, size_t len,
                              struct watch_alarm *a, char *err, size_t errlen)
{
    static const char shape[] = "{prefix}/{city}/{district}/{street}/{community}/{property}/"
                                "{id}/alarm/{sensor}/{alarm}";
    const char *tail[3], *lv[SITE_LEVELS];
    const cJSON *site;
    char *ident = NULL, *sensor, *alarm;
    size_t blen;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    if (topic == NULL || watch_topic_parse(topic, NULL, 0) != WATCH_TOPIC_ALARM) {
        snprintf(err, errlen, "topic is not %s", shape);
        return -1;
    }
    last_levels(topic, tail, 3); /* alarm, sensor, alarm name */
    blen = (size_t)(tail[0] - topic) - 1;
    /* ident: the base, its six levels split, the topic's sensor and alarm. */
    if ((ident = malloc(2 * (blen + 1) + strlen(tail[1]) + 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(ident, topic, blen);
    ident[blen] = '\0';
    if (site_split(ident, ident + blen + 1, lv) == -1) {
        snprintf(err, errlen, "topic is not %s", shape);
        goto fail;
    }
    sensor = ident + 2 * (blen + 1);
    strcpy(sensor, tail[1]); /* "{sensor}/{alarm}" */
    alarm = sensor + strcspn(sensor, "/");
    *alarm++ = '\0';
    if (watch_alarm_parse(payload, len, a, err, errlen) == -1)
        goto fail;
    const cJSON *o = a->json;
    rc = -2; /* from here on: a payload that is not its topic's */
    if (agrees(o, "gateway", "gateway", lv[SITE_ID], false, err, errlen) == -1 ||
        agrees(o, "sensor", "sensor", sensor, false, err, errlen) == -1 ||
        agrees(o, "alarm", "alarm", alarm, false, err, errlen) == -1)
        goto fail;
    site = cJSON_GetObjectItemCaseSensitive(o, "site");
    if (site != NULL && !cJSON_IsObject(site)) {
        snprintf(err, errlen, "field \"site\" is not an object");
        goto fail;
    }
    for (int i = 0; site != NULL && i < SITE_LEVELS; i++) {
        char display[32];
        snprintf(display, sizeof(display), "site.%s", site_keys[i]);
        if (agrees(site, site_keys[i], display, lv[i], true, err, errlen) == -1)
            goto fail;
    }
    a->ident = ident;
    a->base = ident;
    a->gateway = lv[SITE_ID];
    a->city = lv[SITE_CITY];
    a->district = lv[SITE_DISTRICT];
    a->street = lv[SITE_STREET];
    a->community = lv[SITE_COMMUNITY];
    a->property = lv[SITE_PROPERTY];
    return 0;

fail:
    watch_alarm_release(a);
    free(ident);
    /* Logged by the watcher: whatever the reason quotes (a forged value cut
     * at 64 bytes, a topic level) is shown printable. */
    if (errlen > 0)
        tb_make_printable(err);
    return rc;
}

void watch_alarm_release(struct watch_alarm *a)
{
    if (a != NULL) {
        cJSON_Delete(a->json);
        free(a->ident);
        memset(a, 0, sizeof(*a));
    }
}

bool watch_alarm_is_new(const struct watch_alarm *a)
{
    return a->active && strcmp(a->event, "raised") == 0 && strcmp(a->alarm, "inhibit") != 0;
}

static const struct {
    const char *name;
    struct text label;
} severities[] = {
    {"critical", {"严重", "CRITICAL"}},
    {"major", {"重要", "MAJOR"}},
    {"minor", {"一般", "MINOR"}},
    {"info", {"提示", "INFO"}},
};

int watch_severity_rank(const char *severity)
{
    int n = (int)(sizeof(severities) / sizeof(severities[0]));
    for (int i = 0; severity != NULL && i < n; i++)
        if (strcmp(severity, severities[i].name) == 0)
            return i;
    return n;
}

/* ---- lines ---- */

/* How each event reads; inhibit (maintenance) has its own words. */
static const struct {
    const char *event;
    struct text alarm, inhibit;
    enum alarm_event_type type, inhibit_type;
} events[] = {
    {"raised",
     {"报警", "RAISED"},
     {"维护开始", "MAINTENANCE"},
     ALARM_EV_RAISED,
     ALARM_EV_INHIBIT_STARTED},
    {"cleared",
     {"恢复", "CLEARED"},
     {"维护结束", "MAINTENANCE END"},
     ALARM_EV_CLEARED,
     ALARM_EV_INHIBIT_ENDED},
    {"acknowledged",
     {"已确认", "ACKNOWLEDGED"},
     {"已确认", "ACKNOWLEDGED"},
     ALARM_EV_ACKNOWLEDGED,
     ALARM_EV_INHIBIT_STARTED},
    {"test", {"测试", "TEST"}, {"测试", "TEST"}, ALARM_EV_TEST, ALARM_EV_INHIBIT_STARTED},
};
/* A clear because the sensor left the gateway's configuration. */
static const struct text withdrawn = {"撤销", "WITHDRAWN"};
static const struct text listed_alarm = {"当前报警", "ACTIVE"};
static const struct text listed_inhibit = {"维护中", "MAINTENANCE"};

static void put_time(struct textbuf *b, int64_t ts_ms, int64_t now_ms, int tz_offset_s)
{
    if (ts_ms <= 0) {
        tb_put(b, "--:--:--");
        return;
    }
    int64_t local = ts_ms / 1000 + tz_offset_s, now_local = now_ms / 1000 + tz_offset_s;
    int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t now_day = now_local >= 0 ? now_local / 86400 : (now_local - 86399) / 86400;
    int64_t sod = local - day * 86400;
    int m, d;

    if (day == now_day) {
        tb_put(b, "%02d:%02d:%02d", (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    } else {
        civil_from_days(day, &m, &d);
        tb_put(b, "%02d-%02d %02d:%02d", m, d, (int)(sod / 3600), (int)(sod / 60 % 60));
    }
}

int watch_format_age(int64_t age_ms, enum gw_lang lang, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;
    int64_t s = age_ms > 0 ? age_ms / 1000 : 0;

    if (len > 0)
        buf[0] = '\0';
    if (s < 10)
        tb_put(&b, zh ? "刚刚" : "just now");
    else if (s < 120)
        tb_put(&b, zh ? "%lld 秒前" : "%lld s ago", (long long)s);
    else if (s < 2 * 3600)
        tb_put(&b, zh ? "%lld 分钟前" : "%lld min ago", (long long)(s / 60));
    else if (s < 2 * 86400)
        tb_put(&b, zh ? "%lld 小时前" : "%lld h ago", (long long)(s / 3600));
    else
        tb_put(&b, zh ? "%lld 天前" : "%lld d ago", (long long)(s / 86400));
    return tb_finish(&b);
}

static void put_site(struct textbuf *b, const struct watch_alarm *a, bool zh)
{
    tb_put(b, "%s", a->site_name[0] != '\0' ? a->site_name : a->gateway);
    if (a->community[0] != '\0' || a->property[0] != '\0')
        tb_put(b, zh ? "（%s/%s）" : " (%s/%s)", a->community, a->property);
}

/* The gateway's own text for the event, or -1 when this build does not know
 * the kind or the alarm. */
static int put_engine_text(struct textbuf *b, const struct watch_alarm *a,
                           enum alarm_event_type type, enum gw_lang lang)
{
    struct alarm_event ev;
    enum kind kind;
    enum alarm_id id;
    enum alarm_severity sev;
    char text[512];

    memset(&ev, 0, sizeof(ev));
    if (strcmp(a->alarm, "inhibit") == 0)
        id = ALARM_INHIBIT;
    else if (kind_from_name(a->kind, &kind) == -1 || alarm_from_name(kind, a->alarm, &id) == -1)
        return -1;
    ev.alarm = id;
    ev.type = type;
    ev.active = a->active;
    ev.acked = a->acked;
    ev.severity = alarm_severity_from_name(a->severity, &sev) == 0 ? sev : ALARM_SEV_INFO;
    ev.value = a->value;
    ev.threshold = a->threshold;
    ev.unit = a->unit;
    ev.ts_ms = a->ts_ms;
    ev.until_ms = a->until_ms;
    snprintf(ev.by, sizeof(ev.by), "%s", a->by);
    if (alarm_event_message(&ev, lang, a->sensor, a->location, text, sizeof(text)) < 0)
        return -1;
    tb_put(b, "%s", text);
    return 0;
}

int watch_format_alarm(const struct watch_alarm *a, enum watch_line how, enum gw_lang lang,
                       int64_t now_ms, int tz_offset_s, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;
    bool inhibit = strcmp(a->alarm, "inhibit") == 0;
    size_t ei, nevents = sizeof(events) / sizeof(events[0]);
    enum alarm_event_type type;
    const char *word;
    int rank = watch_severity_rank(a->severity);

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    for (ei = 0; ei < nevents; ei++)
        if (strcmp(a->event, events[ei].event) == 0)
            break;
    if (how == WATCH_LINE_ACTIVE) {
        /* The current state, whatever transition published it last. */
        word = pick(inhibit ? &listed_inhibit : &listed_alarm, lang);
        type = inhibit ? ALARM_EV_INHIBIT_STARTED : ALARM_EV_RAISED;
    } else if (strcmp(a->event, "cleared") == 0 && strcmp(a->reason, "sensor_removed") == 0) {
        word = pick(&withdrawn, lang);
        type = ALARM_EV_WITHDRAWN;
    } else if (ei < nevents) {
        word = pick(inhibit ? &events[ei].inhibit : &events[ei].alarm, lang);
        type = inhibit ? events[ei].inhibit_type : events[ei].type;
    } else {
        word = a->event;
        type = ALARM_EV_RAISED;
    }

    put_time(&b, a->ts_ms, now_ms, tz_offset_s);
    if (rank < (int)(sizeof(severities) / sizeof(severities[0])))
        tb_put(&b, zh ? " 【%s】" : " [%s] ", pick(&severities[rank].label, lang));
    else
        tb_put(&b, zh ? " 【%s】" : " [%s] ", a->severity[0] != '\0' ? a->severity : "?");
    tb_put(&b, "%s ", word);
    put_site(&b, a, zh);
    tb_put(&b, " · ");
    if (put_engine_text(&b, a, type, lang) == -1) {
        if (a->message[0] != '\0')
            tb_put(&b, "%s", a->message);
        else if (a->location[0] != '\0')
            tb_put(&b, zh ? "%s（%s）：%s" : "%s (%s): %s", a->sensor, a->location, a->alarm);
        else
            tb_put(&b, zh ? "%s：%s" : "%s: %s", a->sensor, a->alarm);
    }
    if (how == WATCH_LINE_ACTIVE && a->acked && !inhibit) {
        if (a->by[0] != '\0')
            tb_put(&b, zh ? "（已确认，操作人：%s）" : " (acknowledged by %s)", a->by);
        else
            tb_put(&b, zh ? "（已确认）" : " (acknowledged)");
    }
    if (a->ts_ms > 0) {
        char age[64];
        watch_format_age(now_ms - a->ts_ms, lang, age, sizeof(age));
        tb_put(&b, " · %s", age);
    }
    int n = tb_finish(&b);
    /* The payload's text is the publisher's: no ESC or CSI to the terminal. */
    tb_make_printable(buf);
    return n;
}

int watch_format_status(const char *gateway, const char *name, bool online, enum gw_lang lang,
                        int64_t ts_ms, int64_t now_ms, int tz_offset_s, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    put_time(&b, ts_ms, now_ms, tz_offset_s);
    tb_put(&b, " %s", name != NULL && name[0] != '\0' ? name : gateway);
    tb_put(&b, zh ? "（%s）" : " (%s)", gateway);
    if (online)
        tb_put(&b, zh ? " 网关上线" : " gateway online");
    else
        tb_put(&b, zh ? " 网关离线" : " gateway OFFLINE");
    int n = tb_finish(&b);
    tb_make_printable(buf); /* names come from status payloads */
    return n;
}

/* ---- duplicates ---- */

struct watch_seen {
    struct smap gen[2];
    int cur;
    size_t half;
};

struct watch_seen *watch_seen_new(size_t capacity)
{
    struct watch_seen *s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->half = capacity >= 2 ? capacity / 2 : 1;
    return s;
}

void watch_seen_free(struct watch_seen *s)
{
    if (s == NULL)
        return;
    smap_clear(&s->gen[0]);
    smap_clear(&s->gen[1]);
    free(s);
}

int watch_seen_add(struct watch_seen *s, const char *gateway, uint64_t seq)
{
    /* "seq gateway": the seq has no blank, so the key is unambiguous; sized
     * to fit, since two keys cut to one length could be taken for one. */
    size_t len = strlen(gateway) + 24;
    char small[320], *key = len <= sizeof(small) ? small : malloc(len);
    uint64_t h;
    int rc = -1;

    if (key == NULL) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(key, len, "%llu %s", (unsigned long long)seq, gateway);
    h = hash_str(key);
    if (smap_find(&s->gen[0], key, h) != NULL || smap_find(&s->gen[1], key, h) != NULL) {
        rc = 0;
        goto out;
    }
    if (s->gen[s->cur].count >= s->half) {
        s->cur = !s->cur;
        smap_clear(&s->gen[s->cur]);
    }
    if (smap_insert(&s->gen[s->cur], key, h) == NULL) {
        errno = ENOMEM;
        goto out;
    }
    rc = 1;
out:
    if (key != small)
        free(key);
    return rc;
}

size_t watch_seen_count(const struct watch_seen *s)
{
    return s->gen[0].count + s->gen[1].count;
}

/* ---- gateway status ---- */

struct watch_gateways {
    struct smap map;
};

struct watch_gateways *watch_gateways_new(void)
{
    return calloc(1, sizeof(struct watch_gateways));
}

void watch_gateways_free(struct watch_gateways *g)
{
    if (g == NULL)
        return;
    smap_clear(&g->map);
    free(g);
}

static int replace(char **dst, const char *src)
{
    char *copy = strdup(src);
    if (copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

int watch_gateways_update(struct watch_gateways *g, const char *base, const void *payload,
                          size_t len, bool *online, const char **gateway, const char **name,
                          char *err, size_t errlen)
{
    cJSON *o = NULL;
    const cJSON *v;
    const char *lv[SITE_LEVELS];
    char *ident = malloc(strlen(base) + 1);
    struct sent *e;
    uint64_t h = hash_str(base);
    int rc = -1;
    bool created = false;

    if (ident == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (site_split(base, ident, lv) == -1) {
        snprintf(err, errlen,
                 "topic is not {prefix}/{city}/{district}/{street}/{community}/{property}/"
                 "{id}/status");
        goto out;
    }
    o = cJSON_ParseWithLength(payload, len);
    if (o == NULL || !cJSON_IsObject(o) ||
        !cJSON_IsBool(v = cJSON_GetObjectItemCaseSensitive(o, "online"))) {
        snprintf(err, errlen, "not a status payload");
        goto out;
    }
    /* The will may carry no id; one that does must be this topic's. */
    if (agrees(o, "gateway", "gateway", lv[SITE_ID], true, err, errlen) == -1) {
        rc = -2;
        goto out;
    }
    if ((e = smap_find(&g->map, base, h)) == NULL && (e = smap_insert(&g->map, base, h)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (e->gateway == NULL) { /* new (or its id could not be copied last time) */
        if (replace(&e->gateway, lv[SITE_ID]) == -1) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        created = true;
    }
    if (*opt_str(o, "name") != '\0' && replace(&e->name, opt_str(o, "name")) == -1) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = created || e->online != cJSON_IsTrue(v);
    e->online = cJSON_IsTrue(v);
    *online = e->online;
    *gateway = e->gateway;
    *name = e->name != NULL ? e->name : e->gateway;
out:
    cJSON_Delete(o);
    free(ident);
    if (rc < 0 && errlen > 0)
        tb_make_printable(err); /* logged, and quotes the payload */
    return rc;
}

/* ---- refusals ---- */

struct watch_once {
    struct smap map;
};

struct watch_once *watch_once_new(void)
{
    return calloc(1, sizeof(struct watch_once));
}

void watch_once_free(struct watch_once *o)
{
    if (o == NULL)
        return;
    smap_clear(&o->map);
    free(o);
}

int watch_once_first(struct watch_once *o, const char *key)
{
    uint64_t h = hash_str(key);

    if (smap_find(&o->map, key, h) != NULL)
        return 0;
    if (smap_insert(&o->map, key, h) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    return 1;
}

void watch_gateways_count(const struct watch_gateways *g, int *online, int *offline)
{
    *online = *offline = 0;
    for (size_t i = 0; i < g->map.nbuckets; i++)
        for (const struct sent *e = g->map.buckets[i]; e != NULL; e = e->next) {
            if (e->gateway == NULL)
                continue;
            if (e->online)
                (*online)++;
            else
                (*offline)++;
        }
}
