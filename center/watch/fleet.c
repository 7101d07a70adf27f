/*
 * fleet: see fleet.h.  A flat array of gateways found by linear search on
 * the topic base: a city has hundreds of shelters (thousands at most), and
 * the statuses arrive once per listing, so nothing cleverer pays.  Every
 * string shown comes from a payload or a topic and is made printable here.
 * The table is built in two passes: the widths of the ASCII columns, then
 * the lines; the display name (UTF-8, Chinese) goes last, unpadded.
 */
#include "fleet.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kind.h" /* format_rfc3339_ms */
#include "textbuf.h"
#include "topic.h"

#define STALE_BEATS 3         /* heartbeats missed before an online gateway is stale */
#define STALE_MARGIN_MS 60000 /* ... plus this much for clocks and brokers */

struct fleet {
    struct fleet_gateway *gw;
    size_t n, cap;
};

struct fleet *fleet_new(void)
{
    return calloc(1, sizeof(struct fleet));
}

static void gateway_clear(struct fleet_gateway *g)
{
    free(g->base);
    free(g->gateway);
    free(g->site);
    free(g->name);
    free(g->mode);
    free(g->version);
    free(g->config);
    free(g->error);
}

void fleet_free(struct fleet *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        gateway_clear(&f->gw[i]);
    free(f->gw);
    free(f);
}

size_t fleet_count(const struct fleet *f)
{
    return f->n;
}

struct fleet_gateway *fleet_at(struct fleet *f, size_t i)
{
    return i < f->n ? &f->gw[i] : NULL;
}

struct fleet_gateway *fleet_find(struct fleet *f, const char *base)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->gw[i].base, base) == 0)
            return &f->gw[i];
    return NULL;
}

void fleet_counts(const struct fleet *f, int *online, int *offline)
{
    *online = *offline = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->gw[i].online && !f->gw[i].stale)
            (*online)++;
        else
            (*offline)++;
    }
}

/* A printable copy (payload text is outside input). */
static char *printable_dup(const char *s)
{
    char *d = strdup(s != NULL ? s : "");
    return d != NULL ? tb_make_printable(d) : NULL;
}

/* Replace *dst by a printable copy of s: 0, or -1 (ENOMEM, *dst kept). */
static int set_text(char **dst, const char *s)
{
    char *d = printable_dup(s);
    if (d == NULL)
        return -1;
    free(*dst);
    *dst = d;
    return 0;
}

/* The new gateway for base: its id and site from the topic. */
static struct fleet_gateway *add_gateway(struct fleet *f, const char *base)
{
    char topic[TOPIC_SIZE + 8], site[TOPIC_SIZE];
    struct topic_parts p;

    if (topic_join(topic, sizeof(topic), base, "status", NULL) == -1 ||
        topic_parse(topic, &p) != TOPIC_STATUS || !p.site) {
        errno = EINVAL;
        return NULL;
    }
    snprintf(site, sizeof(site), "%s/%s/%s/%s/%s", p.level[TOPIC_CITY], p.level[TOPIC_DISTRICT],
             p.level[TOPIC_STREET], p.level[TOPIC_COMMUNITY], p.level[TOPIC_PROPERTY]);
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        struct fleet_gateway *gw = realloc(f->gw, cap * sizeof(*gw));
        if (gw == NULL)
            return NULL;
        f->gw = gw;
        f->cap = cap;
    }
    struct fleet_gateway *g = &f->gw[f->n];
    memset(g, 0, sizeof(*g));
    g->base = strdup(base); /* the identity, as the broker sends it: made printable when shown */
    g->gateway = strdup(p.level[TOPIC_ID]);
    g->site = printable_dup(site);
    g->name = printable_dup("");
    g->mode = printable_dup("");
    g->version = printable_dup("");
    g->config = printable_dup("");
    g->sensors = -1;
    if (!g->base || !g->gateway || !g->site || !g->name || !g->mode || !g->version || !g->config) {
        gateway_clear(g);
        return NULL;
    }
    f->n++;
    return g;
}

int fleet_update(struct fleet *f, const struct gwmsg_status *st, int64_t published_ms,
                 int64_t now_ms)
{
    struct fleet_gateway *g = fleet_find(f, st->base);
    int added = g == NULL;

    if (g == NULL && (g = add_gateway(f, st->base)) == NULL)
        return -1;
    /* A will says little: what the last status said stays (name, mode, ...). */
    if ((st->name[0] != '\0' && set_text(&g->name, st->name) == -1) ||
        (st->mode[0] != '\0' && set_text(&g->mode, st->mode) == -1) ||
        (st->version[0] != '\0' && set_text(&g->version, st->version) == -1) ||
        (st->config[0] != '\0' && set_text(&g->config, st->config) == -1))
        return -1;
    g->online = st->online;
    if (st->online) {
        g->since_ms = st->since_ms;
        g->up_since_ms = 0;
        g->last_seen_ms = st->ts_ms > 0 ? st->ts_ms : published_ms;
        g->heartbeat_ms = st->heartbeat_ms;
        g->sensors = st->sensors;
        g->has_alarms = st->has_alarms;
        memcpy(g->alarms, st->alarms, sizeof(g->alarms));
    } else {
        g->since_ms = published_ms;
        g->up_since_ms = st->since_ms;
        g->last_seen_ms = published_ms;
    }
    g->stale = g->online && g->heartbeat_ms > 0 && g->last_seen_ms > 0 &&
               now_ms - g->last_seen_ms > STALE_BEATS * g->heartbeat_ms + STALE_MARGIN_MS;
    return added;
}

int fleet_set_outcome(struct fleet_gateway *g, enum fleet_outcome o, const char *error)
{
    char *e = NULL;

    if (error != NULL && (e = printable_dup(error)) == NULL)
        return -1;
    free(g->error);
    g->error = e;
    g->outcome = o;
    return 0;
}

/* ---- order ---- */

static const char *const key_names[] = {
    [FLEET_BY_SITE] = "site",       [FLEET_BY_GATEWAY] = "gateway", [FLEET_BY_NAME] = "name",
    [FLEET_BY_SINCE] = "since",     [FLEET_BY_ALARMS] = "alarms",   [FLEET_BY_MODE] = "mode",
    [FLEET_BY_VERSION] = "version", [FLEET_BY_CONFIG] = "config",
};
const char fleet_key_names[] = "site, gateway, name, since, alarms, mode, version, config";

int fleet_key_from_name(const char *name, enum fleet_key *key)
{
    for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
        if (strcmp(name, key_names[i]) == 0) {
            *key = (enum fleet_key)i;
            return 0;
        }
    return -1;
}

static enum fleet_key sort_key; /* qsort has no context argument; one thread sorts */

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int by_key(const struct fleet_gateway *a, const struct fleet_gateway *b)
{
    switch (sort_key) {
    case FLEET_BY_GATEWAY:
        return strcmp(a->gateway, b->gateway);
    case FLEET_BY_NAME:
        return strcmp(a->name, b->name);
    case FLEET_BY_SINCE: /* unknown (0) last */
        if ((a->since_ms == 0) != (b->since_ms == 0))
            return a->since_ms == 0 ? 1 : -1;
        return cmp_i64(a->since_ms, b->since_ms);
    case FLEET_BY_ALARMS:
        for (int i = 0; i < GWMSG_SEVERITIES; i++)
            if (a->alarms[i] != b->alarms[i])
                return a->alarms[i] > b->alarms[i] ? -1 : 1;
        return 0;
    case FLEET_BY_MODE:
        return strcmp(a->mode, b->mode);
    case FLEET_BY_VERSION:
        return strcmp(a->version, b->version);
    case FLEET_BY_CONFIG:
        return strcmp(a->config, b->config);
    case FLEET_BY_SITE:
        break;
    }
    return 0;
}

static int gateway_cmp(const void *pa, const void *pb)
{
    const struct fleet_gateway *a = pa, *b = pb;
    bool a_up = a->online && !a->stale, b_up = b->online && !b->stale;
    int c;

    if (a_up != b_up)
        return a_up ? 1 : -1; /* offline first */
    if ((c = by_key(a, b)) != 0)
        return c;
    return strcmp(a->base, b->base); /* the site, then the id */
}

void fleet_sort(struct fleet *f, enum fleet_key key)
{
    sort_key = key;
    if (f->n > 1)
        qsort(f->gw, f->n, sizeof(*f->gw), gateway_cmp);
}

/* ---- output ---- */

/* A growing string; a failed append marks it failed (NULL at the end). */
struct sbuf {
    char *p;
    size_t n, cap;
    bool failed;
};

static void sb_put(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(struct sbuf *s, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (s->failed)
        return;
    va_start(ap, fmt);
    k = vsnprintf(s->p != NULL ? s->p + s->n : NULL, s->p != NULL ? s->cap - s->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
        s->failed = true;
        return;
    }
    if (s->p == NULL || s->n + (size_t)k >= s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= s->n + (size_t)k)
            cap *= 2;
        char *p = realloc(s->p, cap);
        if (p == NULL) {
            s->failed = true;
            return;
        }
        s->p = p;
        s->cap = cap;
        va_start(ap, fmt);
        vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
    }
    s->n += (size_t)k;
}

static char *sb_finish(struct sbuf *s)
{
    if (s->failed || s->p == NULL) {
        free(s->p);
        return NULL;
    }
    return s->p;
}

/* Columns on a terminal: a CJK character takes two (a rough East Asian
 * width: U+1100 and above; our words and slugs need no more). */
static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        w += *p >= 0xE1 ? 2 : 1; /* a 3- or 4-byte sequence from U+1000 up */
    }
    return w;
}

static void put_padded(struct sbuf *s, const char *text, int width)
{
    sb_put(s, "%s%*s", text, width - display_width(text), "");
}

/* "MM-DD HH:MM:SS" local, or "?" */
static void local_time(int64_t ms, int tz_offset_s, char *buf, size_t len)
{
    if (ms <= 0) {
        snprintf(buf, len, "?");
        return;
    }
    time_t t = (time_t)(ms / 1000 + tz_offset_s);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%02d-%02d %02d:%02d:%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

struct words {
    const char *zh, *en;
};
static const struct words sev_words[GWMSG_SEVERITIES] = {
    {"严重", "crit"}, {"重要", "major"}, {"一般", "minor"}, {"提示", "info"}};

static const char *pick(const struct words *w, enum gw_lang lang)
{
    return lang == LANG_EN ? w->en : w->zh;
}

static const char *state_word(const struct fleet_gateway *g, enum gw_lang lang)
{
    static const struct words online = {"在线", "online"}, offline = {"离线", "OFFLINE"},
                              stale = {"无心跳", "STALE"};
    return pick(!g->online ? &offline : g->stale ? &stale : &online, lang);
}

static void alarms_text(const struct fleet_gateway *g, enum gw_lang lang, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool any = false;

    buf[0] = '\0';
    for (int i = 0; i < GWMSG_SEVERITIES; i++)
        if (g->alarms[i] > 0) {
            tb_put(&b, lang == LANG_EN ? "%s%s %d" : "%s%s%d", any ? " " : "",
                   pick(&sev_words[i], lang), g->alarms[i]);
            any = true;
        }
    if (!any)
        tb_put(&b, "%s", g->has_alarms ? "-" : "?");
    tb_finish(&b);
}

enum { C_STATE, C_SINCE, C_GATEWAY, C_MODE, C_ALARMS, C_VERSION, C_CONFIG, C_SITE, C_NAME, NCOL };

static void row_cells(const struct fleet_gateway *g, enum gw_lang lang, int tz_offset_s,
                      char cells[NCOL][160])
{
    snprintf(cells[C_STATE], 160, "%s", state_word(g, lang));
    local_time(g->since_ms, tz_offset_s, cells[C_SINCE], 160);
    snprintf(cells[C_GATEWAY], 160, "%s", g->gateway);
    snprintf(cells[C_MODE], 160, "%s", g->mode[0] ? g->mode : "?");
    alarms_text(g, lang, cells[C_ALARMS], 160);
    snprintf(cells[C_VERSION], 160, "%s", g->version[0] ? g->version : "?");
    snprintf(cells[C_CONFIG], 160, "%s", g->config[0] ? g->config : "?");
    snprintf(cells[C_SITE], 160, "%s", g->site);
    snprintf(cells[C_NAME], 160, "%s", g->name);
    for (int c = 0; c < NCOL; c++)
        tb_make_printable(cells[c]); /* the id comes from a topic */
}

char *fleet_table(const struct fleet *f, enum gw_lang lang, int64_t now_ms, int tz_offset_s)
{
    static const struct words heads[NCOL] = {
        {"状态", "STATE"},  {"起始", "SINCE"},  {"网关", "GATEWAY"},
        {"模式", "MODE"},   {"报警", "ALARMS"}, {"版本", "VERSION"},
        {"配置", "CONFIG"}, {"位置", "SITE"},   {"名称", "NAME"},
    };
    char cells[NCOL][160];
    int width[NCOL];
    struct sbuf s = {0};

    (void)now_ms;
    for (int c = 0; c < NCOL; c++)
        width[c] = display_width(pick(&heads[c], lang));
    for (size_t i = 0; i < f->n; i++) {
        row_cells(&f->gw[i], lang, tz_offset_s, cells);
        for (int c = 0; c < NCOL; c++)
            if (display_width(cells[c]) > width[c])
                width[c] = display_width(cells[c]);
    }
    for (int c = 0; c < NCOL; c++) {
        if (c == NCOL - 1)
            sb_put(&s, "%s\n", pick(&heads[c], lang));
        else
            put_padded(&s, pick(&heads[c], lang), width[c] + 2);
    }
    for (size_t i = 0; i < f->n; i++) {
        row_cells(&f->gw[i], lang, tz_offset_s, cells);
        for (int c = 0; c < NCOL; c++) {
            if (c == NCOL - 1)
                sb_put(&s, "%s\n", cells[c]);
            else
                put_padded(&s, cells[c], width[c] + 2);
        }
    }
    return sb_finish(&s);
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
    char ts[40];

    if (ms <= 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    format_rfc3339_ms(ms, ts, sizeof(ts));
    cJSON_AddStringToObject(o, key, ts);
}

static void add_text(cJSON *o, const char *key, const char *s)
{
    if (s[0] == '\0')
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, s);
}

static cJSON *gateway_json(const struct fleet_gateway *g)
{
    static const char *const site_keys[] = {"city", "district", "street", "community", "property"};
    cJSON *o = cJSON_CreateObject(), *a, *site;
    char levels[TOPIC_SIZE];

    if (o == NULL)
        return NULL;
    char *id = printable_dup(g->gateway), *topic = printable_dup(g->base);
    if (id == NULL || topic == NULL) {
        free(id);
        free(topic);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "gateway", id);
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddBoolToObject(o, "online", g->online);
    cJSON_AddBoolToObject(o, "stale", g->stale);
    add_time(o, "since", g->since_ms);
    add_time(o, "last_seen", g->last_seen_ms);
    if (!g->online)
        add_time(o, "up_since", g->up_since_ms);
    add_text(o, "version", g->version);
    add_text(o, "config", g->config);
    add_text(o, "mode", g->mode);
    if (g->sensors >= 0)
        cJSON_AddNumberToObject(o, "sensors", g->sensors);
    else
        cJSON_AddNullToObject(o, "sensors");
    if (g->has_alarms && (a = cJSON_AddObjectToObject(o, "alarms")) != NULL) {
        for (int i = 0; i < GWMSG_SEVERITIES; i++)
            cJSON_AddNumberToObject(a, gwmsg_severity_names[i], g->alarms[i]);
    } else if (!g->has_alarms) {
        cJSON_AddNullToObject(o, "alarms");
    }
    if (g->heartbeat_ms > 0)
        cJSON_AddNumberToObject(o, "heartbeat_s", (double)(g->heartbeat_ms / 1000));
    else
        cJSON_AddNullToObject(o, "heartbeat_s");
    cJSON_AddStringToObject(o, "topic", topic);
    free(id);
    free(topic);
    if ((site = cJSON_AddObjectToObject(o, "site")) != NULL) {
        snprintf(levels, sizeof(levels), "%s", g->site);
        char *save = NULL, *lv = strtok_r(levels, "/", &save);
        for (int i = 0; i < 5 && lv != NULL; i++, lv = strtok_r(NULL, "/", &save))
            cJSON_AddStringToObject(site, site_keys[i], lv);
    }
    return o;
}

char *fleet_json(const struct fleet *f)
{
    cJSON *arr = cJSON_CreateArray();
    char *out;

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < f->n; i++) {
        cJSON *o = gateway_json(&f->gw[i]);
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}

int fleet_format_outcome(const struct fleet_gateway *g, enum gw_lang lang, int64_t now_ms,
                         int tz_offset_s, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;
    char when[40];

    (void)now_ms;
    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    switch (g->outcome) {
    case FLEET_OK:
        tb_put(&b, zh ? "成功    " : "ok        ");
        break;
    case FLEET_ERROR:
        tb_put(&b, zh ? "失败    " : "error     ");
        break;
    case FLEET_REFUSED:
        tb_put(&b, zh ? "被拒绝  " : "refused   ");
        break;
    case FLEET_WAITING:
        tb_put(&b, zh ? "无应答  " : "no answer ");
        break;
    case FLEET_NOT_SENT:
        tb_put(&b, zh ? "未发送  " : "not sent  ");
        break;
    }
    tb_put(&b, "%s  %s", g->gateway, g->site);
    if (g->name[0] != '\0')
        tb_put(&b, "  %s", g->name);
    if (g->outcome == FLEET_ERROR || g->outcome == FLEET_REFUSED)
        tb_put(&b, zh ? "：%s" : ": %s", g->error != NULL ? g->error : "?");
    else if (g->outcome == FLEET_NOT_SENT) {
        local_time(g->since_ms, tz_offset_s, when, sizeof(when));
        tb_put(&b, zh ? "（%s，自 %s）" : " (%s since %s)", state_word(g, lang), when);
    }
    int n = tb_finish(&b);
    tb_make_printable(buf); /* the id comes from a topic */
    return n;
}
