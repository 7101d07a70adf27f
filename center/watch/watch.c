/*
 * watch: see watch.h.  Alarms come parsed by lib/gwmsg (held as their cJSON
 * tree, so a line is built without copying strings around).  The text of an
 * alarm comes from the gateway's own zh/en table (alarm_event_message), so
 * the watcher and the gateway's journal say the same thing in the same words;
 * only alarms this build does not know fall back to the payload's message.
 * Duplicates and gateway states live in small chained hash maps keyed by
 * strings; the duplicate map is bounded by two generations.
 */
#include "watch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarmdef.h"
#include "civil.h"
#include "kind.h"
#include "textbuf.h"
#include "topic.h"

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

/* ---- ack ---- */

int watch_ack_target(const char *alarm_topic, char *base, size_t baselen, char *sensor, char *alarm,
                     char *err, size_t errlen)
{
    struct topic_parts p;

    if (alarm_topic == NULL || strpbrk(alarm_topic, "+#") != NULL) {
        snprintf(err, errlen, "an alarm topic has no wildcards");
        return -1;
    }
    if (topic_parse(alarm_topic, &p) != TOPIC_ALARM) {
        snprintf(err, errlen, "\"%s\" is not an alarm topic ({base}/alarm/{sensor}/{alarm})",
                 alarm_topic);
        return -1;
    }
    if (strlen(p.base) >= baselen) {
        snprintf(err, errlen, "topic base longer than %zu bytes", baselen - 1);
        return -1;
    }
    if (strlen(p.name[0]) > GWMSG_TEXT_MAX || strlen(p.name[1]) > GWMSG_TEXT_MAX) {
        snprintf(err, errlen, "sensor or alarm name longer than %d bytes", GWMSG_TEXT_MAX);
        return -1;
    }
    strcpy(base, p.base);
    strcpy(sensor, p.name[0]);
    strcpy(alarm, p.name[1]);
    return 0;
}

int watch_silence_target(const char *output_topic, char *base, size_t baselen, char *output,
                         char *err, size_t errlen)
{
    struct topic_parts p;

    if (output_topic == NULL || strpbrk(output_topic, "+#") != NULL) {
        snprintf(err, errlen, "an output topic has no wildcards");
        return -1;
    }
    if (topic_parse(output_topic, &p) != TOPIC_OUTPUT) {
        snprintf(err, errlen, "\"%s\" is not an output topic ({base}/output/{output})",
                 output_topic);
        return -1;
    }
    if (strlen(p.base) >= baselen) {
        snprintf(err, errlen, "topic base longer than %zu bytes", baselen - 1);
        return -1;
    }
    if (strlen(p.name[0]) > GWMSG_TEXT_MAX) {
        snprintf(err, errlen, "output name longer than %d bytes", GWMSG_TEXT_MAX);
        return -1;
    }
    strcpy(base, p.base);
    strcpy(output, p.name[0]);
    return 0;
}

/* ---- time ---- */

/* The severities' words, by gwmsg_severity_rank(). */
static const struct text severities[] = {
    {"严重", "CRITICAL"},
    {"重要", "MAJOR"},
    {"一般", "MINOR"},
    {"提示", "INFO"},
};

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
        int64_t y;
        civil_date(day, &y, &m, &d);
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

/* The shelter as people call it.  In Chinese its display name alone (the
 * pinyin slugs of community and property say nothing more on site; the
 * topic printed with each active alarm keeps them); without a name, the
 * gateway id and where it sits. */
static void put_site(struct textbuf *b, const struct gwmsg_alarm *a, bool zh)
{
    tb_put(b, "%s", a->site_name[0] != '\0' ? a->site_name : a->gateway);
    if (zh && a->site_name[0] != '\0')
        return;
    if (a->community[0] != '\0' || a->property[0] != '\0')
        tb_put(b, zh ? "（%s/%s）" : " (%s/%s)", a->community, a->property);
}

/* The gateway's own text for the event, or -1 when this build does not know
 * the kind or the alarm. */
static int put_engine_text(struct textbuf *b, const struct gwmsg_alarm *a,
                           enum alarm_event_type type, enum gw_lang lang)
{
    char text[512];

    if (alarm_msg_text(a, type, lang, text, sizeof(text), NULL) < 0)
        return -1;
    tb_put(b, "%s", text);
    return 0;
}

static int format_line(const struct gwmsg_alarm *a, enum watch_line how, const char *now_value,
                       enum gw_lang lang, int64_t now_ms, int tz_offset_s, char *buf, size_t len);

int watch_format_alarm(const struct gwmsg_alarm *a, enum watch_line how, enum gw_lang lang,
                       int64_t now_ms, int tz_offset_s, char *buf, size_t len)
{
    return format_line(a, how, NULL, lang, now_ms, tz_offset_s, buf, len);
}

int watch_format_active(const struct gwmsg_alarm *a, const char *now_value, enum gw_lang lang,
                        int64_t now_ms, int tz_offset_s, char *buf, size_t len)
{
    return format_line(a, WATCH_LINE_ACTIVE, now_value, lang, now_ms, tz_offset_s, buf, len);
}

static int format_line(const struct gwmsg_alarm *a, enum watch_line how, const char *now_value,
                       enum gw_lang lang, int64_t now_ms, int tz_offset_s, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;
    bool inhibit = strcmp(a->alarm, "inhibit") == 0;
    size_t ei, nevents = sizeof(events) / sizeof(events[0]);
    enum alarm_event_type type;
    const char *word;
    int rank = gwmsg_severity_rank(a->severity);

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
        tb_put(&b, zh ? " 【%s】" : " [%s] ", pick(&severities[rank], lang));
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
    if (now_value != NULL && now_value[0] != '\0')
        tb_put(&b, zh ? " · 现在 %s" : " · now %s", now_value);
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

/* ---- the value now ---- */

/* The words of reading states and qualities; the names are the contract's
 * (sensors/kind.c, docs/design.md section 6). */
static const struct {
    const char *name;
    struct text words;
} value_words[] = {
    {"open", {"开启", "open"}},
    {"closed", {"关闭（未锁紧）", "closed (not locked)"}},
    {"locked", {"关闭锁紧", "closed and locked"}},
    {"unknown", {"位置不明", "position unknown"}},
    {"normal", {"正常", "normal"}},
    {"fire", {"火警", "fire"}},
    {"fault", {"故障", "fault"}},
    {"comm_lost", {"通信中断", "no answer (comm_lost)"}},
    {"implausible", {"数据异常", "implausible"}},
    {"warming_up", {"预热中", "warming up"}},
};

static const char *value_word(const char *name, enum gw_lang lang)
{
    for (size_t i = 0; i < sizeof(value_words) / sizeof(value_words[0]); i++)
        if (strcmp(value_words[i].name, name) == 0)
            return pick(&value_words[i].words, lang);
    return name;
}

int watch_format_now(const void *reading, size_t len, enum gw_lang lang, char *buf, size_t buflen)
{
    struct textbuf b = {buf, buflen, 0};
    cJSON *root;
    const cJSON *kind_j, *quality, *v;
    const struct kind_def *kd;
    const struct kind_field *f = NULL;
    enum kind kind;
    int rc = -1;

    if (buf == NULL || buflen == 0)
        return -1;
    buf[0] = '\0';
    if ((root = cJSON_ParseWithLength(reading, len)) == NULL)
        return -1;
    kind_j = cJSON_GetObjectItemCaseSensitive(root, "kind");
    quality = cJSON_GetObjectItemCaseSensitive(root, "quality");
    if (!cJSON_IsString(kind_j) || kind_from_name(kind_j->valuestring, &kind) == -1)
        goto out;
    if (cJSON_IsString(quality) && strcmp(quality->valuestring, "good") != 0) {
        tb_put(&b, "%s", value_word(quality->valuestring, lang));
        rc = tb_finish(&b);
        goto out;
    }
    /* The kind's first top-level field is its value (level_m, wet, co2_ppm, door, smoke). */
    kd = kind_def(kind);
    for (int i = 0; i < kd->nfields && f == NULL; i++)
        if (kd->fields[i].json != NULL && kd->fields[i].group == NULL)
            f = &kd->fields[i];
    if (f == NULL || (v = cJSON_GetObjectItemCaseSensitive(root, f->json)) == NULL)
        goto out;
    if (cJSON_IsNumber(v) && strcmp(f->unit, "m") == 0)
        tb_put(&b, "%.2f m", v->valuedouble);
    else if (cJSON_IsNumber(v))
        tb_put(&b, "%.0f%s%s", v->valuedouble, f->unit[0] ? " " : "", f->unit);
    else if (cJSON_IsBool(v)) /* water_leak's wet */
        tb_put(&b, "%s",
               cJSON_IsTrue(v) ? (lang == LANG_EN ? "wet" : "有水")
                               : (lang == LANG_EN ? "dry" : "无水"));
    else if (cJSON_IsString(v))
        tb_put(&b, "%s", value_word(v->valuestring, lang));
    else
        goto out;
    rc = tb_finish(&b);
out:
    cJSON_Delete(root);
    if (rc < 0)
        buf[0] = '\0';
    else
        tb_make_printable(buf); /* a state name comes from the payload */
    return rc;
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

int watch_gateways_update(struct watch_gateways *g, const struct gwmsg_status *st, bool *online,
                          const char **gateway, const char **name)
{
    uint64_t h = hash_str(st->base);
    struct sent *e;
    bool created = false;
    int rc;

    if ((e = smap_find(&g->map, st->base, h)) == NULL &&
        (e = smap_insert(&g->map, st->base, h)) == NULL)
        return -1;
    if (e->gateway == NULL) { /* new (or its id could not be copied last time) */
        if (replace(&e->gateway, st->gateway) == -1)
            return -1;
        created = true;
    }
    if (st->name[0] != '\0' && replace(&e->name, st->name) == -1)
        return -1;
    rc = created || e->online != st->online;
    e->online = st->online;
    *online = e->online;
    *gateway = e->gateway;
    *name = e->name != NULL ? e->name : e->gateway;
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
