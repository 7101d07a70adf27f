/*
 * gwmsg: see gwmsg.h.  Payloads are read with cJSON and held as the parsed
 * tree, so the strings of a parsed message point into it and nothing is
 * copied field by field.  The topic is taken apart by topic.c; its identity
 * levels are copied into one malloc'd block (`ident`) that the message owns,
 * so a parsed message stays valid after the topic buffer is gone.
 */
#include "gwmsg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "civil.h"
#include "textbuf.h"
#include "topic.h"

/* ---- time ---- */

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

int gwmsg_time_parse(const char *s, int64_t *ms)
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
    int64_t t = civil_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);
    *ms = t * 1000 + frac;
    return 0;
}

/* ---- fields ---- */

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

static int64_t opt_time(const cJSON *o, const char *name)
{
    int64_t ms;
    return gwmsg_time_parse(opt_str(o, name), &ms) == 0 ? ms : 0;
}

/* A count: an integer 0..INT_MAX, else -1 (absent or not one). */
static int opt_count(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 2147483647.0 &&
                   v->valuedouble == floor(v->valuedouble)
               ? (int)v->valuedouble
               : -1;
}

/* A payload's string for a reason: at most 64 bytes, control characters
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

/* The identity of a parsed topic in one block: the base, then each site
 * level and each name, NUL-terminated; *lv and *names point into it.  NULL
 * on ENOMEM. */
static char *ident_copy(const struct topic_parts *p, const char *lv[TOPIC_LEVELS],
                        const char *names[2])
{
    size_t size = strlen(p->base) + 1, off;
    char *ident;

    for (int i = 0; i < TOPIC_LEVELS; i++)
        size += strlen(p->level[i]) + 1;
    size += strlen(p->name[0]) + 1 + strlen(p->name[1]) + 1;
    if ((ident = malloc(size)) == NULL)
        return NULL;
    off = strlen(p->base) + 1;
    memcpy(ident, p->base, off);
    for (int i = 0; i < TOPIC_LEVELS + 2; i++) {
        const char *s = i < TOPIC_LEVELS ? p->level[i] : p->name[i - TOPIC_LEVELS];
        size_t l = strlen(s) + 1;
        memcpy(ident + off, s, l);
        if (i < TOPIC_LEVELS)
            lv[i] = ident + off;
        else
            names[i - TOPIC_LEVELS] = ident + off;
        off += l;
    }
    return ident;
}

/* ---- alarms ---- */

int gwmsg_alarm_parse_payload(const void *payload, size_t len, struct gwmsg_alarm *a, char *err,
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
    a->city = opt_str(site, topic_site_keys[TOPIC_CITY]);
    a->district = opt_str(site, topic_site_keys[TOPIC_DISTRICT]);
    a->street = opt_str(site, topic_site_keys[TOPIC_STREET]);
    a->community = opt_str(site, topic_site_keys[TOPIC_COMMUNITY]);
    a->property = opt_str(site, topic_site_keys[TOPIC_PROPERTY]);
    a->value = opt_num(o, "value");
    a->threshold = opt_num(o, "threshold");
    a->ts_ms = opt_time(o, "ts");
    a->until_ms = opt_time(o, "until");
    return 0;

fail:
    cJSON_Delete(o);
    memset(a, 0, sizeof(*a));
    return -1;
}

int gwmsg_alarm_parse(const char *topic, const void *payload, size_t len, struct gwmsg_alarm *a,
                      char *err, size_t errlen)
{
    static const char shape[] = "{prefix}/{city}/{district}/{street}/{community}/{property}/"
                                "{id}/alarm/{sensor}/{alarm}";
    struct topic_parts p;
    const char *lv[TOPIC_LEVELS], *names[2];
    const cJSON *site;
    char *ident = NULL;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    if (topic_parse(topic, &p) != TOPIC_ALARM || !p.site) {
        snprintf(err, errlen, "topic is not %s", shape);
        return -1;
    }
    if ((ident = ident_copy(&p, lv, names)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (gwmsg_alarm_parse_payload(payload, len, a, err, errlen) == -1)
        goto fail;
    const cJSON *o = a->json;
    rc = -2; /* from here on: a payload that is not its topic's */
    if (agrees(o, "gateway", "gateway", lv[TOPIC_ID], false, err, errlen) == -1 ||
        agrees(o, "sensor", "sensor", names[0], false, err, errlen) == -1 ||
        agrees(o, "alarm", "alarm", names[1], false, err, errlen) == -1)
        goto fail;
    site = cJSON_GetObjectItemCaseSensitive(o, "site");
    if (site != NULL && !cJSON_IsObject(site)) {
        snprintf(err, errlen, "field \"site\" is not an object");
        goto fail;
    }
    for (int i = 0; site != NULL && i < TOPIC_LEVELS; i++) {
        char display[32];
        snprintf(display, sizeof(display), "site.%s", topic_site_keys[i]);
        if (agrees(site, topic_site_keys[i], display, lv[i], true, err, errlen) == -1)
            goto fail;
    }
    a->ident = ident;
    a->base = ident;
    a->gateway = lv[TOPIC_ID];
    a->city = lv[TOPIC_CITY];
    a->district = lv[TOPIC_DISTRICT];
    a->street = lv[TOPIC_STREET];
    a->community = lv[TOPIC_COMMUNITY];
    a->property = lv[TOPIC_PROPERTY];
    return 0;

fail:
    gwmsg_alarm_release(a);
    free(ident);
    /* Whatever the reason quotes (a forged value cut at 64 bytes, a topic
     * level) is shown printable. */
    if (errlen > 0)
        tb_make_printable(err);
    return rc;
}

void gwmsg_alarm_release(struct gwmsg_alarm *a)
{
    if (a != NULL) {
        cJSON_Delete(a->json);
        free(a->ident);
        memset(a, 0, sizeof(*a));
    }
}

bool gwmsg_alarm_is_new(const struct gwmsg_alarm *a)
{
    return a->active && strcmp(a->event, "raised") == 0 && strcmp(a->alarm, "inhibit") != 0;
}

const char *const gwmsg_severity_names[GWMSG_SEVERITIES] = {"critical", "major", "minor", "info"};

int gwmsg_severity_rank(const char *severity)
{
    for (int i = 0; severity != NULL && i < GWMSG_SEVERITIES; i++)
        if (strcmp(severity, gwmsg_severity_names[i]) == 0)
            return i;
    return GWMSG_SEVERITIES;
}

/* ---- status ---- */

int gwmsg_status_parse(const char *topic, const void *payload, size_t len, struct gwmsg_status *st,
                       char *err, size_t errlen)
{
    struct topic_parts p;
    const char *lv[TOPIC_LEVELS], *names[2];
    cJSON *o = NULL;
    const cJSON *v;
    char *ident = NULL;
    int rc = -1;

    memset(st, 0, sizeof(*st));
    if (topic_parse(topic, &p) != TOPIC_STATUS || !p.site) {
        snprintf(err, errlen,
                 "topic is not {prefix}/{city}/{district}/{street}/{community}/{property}/"
                 "{id}/status");
        return -1;
    }
    if ((ident = ident_copy(&p, lv, names)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (payload != NULL)
        o = cJSON_ParseWithLength(payload, len);
    if (o == NULL || !cJSON_IsObject(o) ||
        !cJSON_IsBool(v = cJSON_GetObjectItemCaseSensitive(o, "online"))) {
        snprintf(err, errlen, "not a status payload");
        goto fail;
    }
    /* The will may carry no id; one that does must be this topic's. */
    if (agrees(o, "gateway", "gateway", lv[TOPIC_ID], true, err, errlen) == -1) {
        rc = -2;
        goto fail;
    }
    st->json = o;
    st->ident = ident;
    st->base = ident;
    st->gateway = lv[TOPIC_ID];
    st->name = opt_str(o, "name");
    st->online = cJSON_IsTrue(v);
    st->ts_ms = opt_time(o, "ts");
    st->since_ms = opt_time(o, "since");
    st->mode = opt_str(o, "mode");
    st->version = opt_str(o, "version");
    st->config = opt_str(o, "config");
    st->sensors = opt_count(o, "sensors");
    v = cJSON_GetObjectItemCaseSensitive(o, "alarms");
    st->has_alarms = cJSON_IsObject(v);
    for (int i = 0; i < GWMSG_SEVERITIES; i++) {
        int n = st->has_alarms ? opt_count(v, gwmsg_severity_names[i]) : -1;
        st->alarms[i] = n > 0 ? n : 0;
    }
    int hb = opt_count(o, "heartbeat_s");
    st->heartbeat_ms = hb > 0 ? (int64_t)hb * 1000 : 0;
    return 0;

fail:
    cJSON_Delete(o);
    free(ident);
    if (errlen > 0)
        tb_make_printable(err); /* quotes the payload */
    return rc;
}

int64_t gwmsg_status_published_ms(int64_t expiry_s, int64_t now_ms)
{
    const int64_t not_before_ms = 1577836800000; /* 2020-01-01T00:00:00Z */

    if (expiry_s < 0 || expiry_s > (int64_t)GWMSG_WILL_EXPIRY_S)
        return 0;
    int64_t at = now_ms - ((int64_t)GWMSG_WILL_EXPIRY_S - expiry_s) * 1000;
    return at >= not_before_ms ? at : 0;
}

void gwmsg_status_release(struct gwmsg_status *st)
{
    if (st != NULL) {
        cJSON_Delete(st->json);
        free(st->ident);
        memset(st, 0, sizeof(*st));
    }
}

/* ---- commands ---- */

int gwmsg_cmd_result(const void *payload, size_t len, const char *id, bool *ok, char *error,
                     size_t errlen)
{
    cJSON *o = payload != NULL ? cJSON_ParseWithLength(payload, len) : NULL;
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

/* A command's payload: "id" and then each (key, value) pair of kv whose
 * value is not NULL, in order.  malloc'd; NULL with errno ENOMEM. */
static char *command_payload(const char *id, const char *const kv[], size_t n)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    bool ok = o != NULL && cJSON_AddStringToObject(o, "id", id) != NULL;

    for (size_t i = 0; ok && i + 1 < n; i += 2)
        ok = kv[i + 1] == NULL || cJSON_AddStringToObject(o, kv[i], kv[i + 1]) != NULL;
    if (ok)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        errno = ENOMEM;
    return text;
}

/* "by" is left out when absent or empty. */
static const char *by_or_null(const char *by)
{
    return by != NULL && *by != '\0' ? by : NULL;
}

char *gwmsg_ack_payload(const char *id, const char *sensor, const char *alarm, const char *by)
{
    const char *kv[] = {"sensor", sensor, "alarm", alarm, "by", by_or_null(by)};
    return command_payload(id, kv, sizeof(kv) / sizeof(kv[0]));
}

char *gwmsg_fleet_payload(const char *id, const char *gateway, const char *mode, const char *by)
{
    const char *kv[] = {"gateway", gateway, "mode", mode, "by", by_or_null(by)};
    return command_payload(id, kv, sizeof(kv) / sizeof(kv[0]));
}

char *gwmsg_silence_payload(const char *id, const char *output, const char *by)
{
    const char *kv[] = {"output", output, "by", by_or_null(by)};
    return command_payload(id, kv, sizeof(kv) / sizeof(kv[0]));
}
