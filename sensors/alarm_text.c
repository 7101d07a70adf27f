/*
 * alarm_text: the human text of alarm events (alarmdef.h): what the alarm is
 * from the catalogue's row, and the words around it, Chinese and English side
 * by side in one table so nothing gets one language and not the other.
 * Pure (no locale, no time zone: durations, never clock times).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alarmdef.h"
#include "gwmsg.h"
#include "kind.h"
#include "textbuf.h"

struct text {
    const char *zh, *en;
};

/* The words around it.  Indexed by enum alarm_event_type. */
static const struct text event_words[] = {
    [ALARM_EV_RAISED] = {"", ""},
    [ALARM_EV_CLEARED] = {"已恢复", " cleared"},
    [ALARM_EV_ACKNOWLEDGED] = {"已确认", " acknowledged"},
    [ALARM_EV_TEST] = {"（测试）", " (test)"},
    [ALARM_EV_INHIBIT_STARTED] = {"开始", " started"},
    [ALARM_EV_INHIBIT_ENDED] = {"结束", " ended"},
    [ALARM_EV_WITHDRAWN] = {"已撤销（传感器已从配置中移除）",
                            " withdrawn (sensor removed from the configuration)"},
};

static const struct text by_word = {"，操作人：", " by "};
static const struct text for_word = {"，时长 ", " for "};

/* Comparison signs: strict rules (co2, rates, chatter) and the others. */
static const struct text sign_raise[2] = {{"≥", ">="}, {">", ">"}};
static const struct text sign_clear[2] = {{"≤", "<="}, {"<", "<"}};

static const char *pick(const struct text *t, enum gw_lang lang)
{
    return lang == LANG_EN ? t->en : t->zh;
}

/* Units of time as each language writes them after a number: a Chinese
 * reader says 天, not "d" (a door 32 天 without exercise). */
static const struct text unit_s = {" 秒", " s"};
static const struct text unit_min = {" 分钟", " min"};
static const struct text unit_h = {" 小时", " h"};
static const struct text unit_d = {" 天", " d"};

/* A duration in seconds, the way a person says it. */
static void put_duration(struct textbuf *b, double s, enum gw_lang lang)
{
    if (s < 120)
        tb_put(b, "%.0f%s", s, pick(&unit_s, lang));
    else if (s < 2 * 3600)
        tb_put(b, "%.0f%s", s / 60, pick(&unit_min, lang));
    else if (s < 2 * 86400)
        tb_put(b, "%.1f%s", s / 3600, pick(&unit_h, lang));
    else
        tb_put(b, "%.0f%s", s / 86400, pick(&unit_d, lang));
}

static void put_quantity(struct textbuf *b, double v, const char *unit, enum gw_lang lang)
{
    if (strcmp(unit, "s") == 0)
        put_duration(b, v, lang);
    else if (strcmp(unit, "m") == 0)
        tb_put(b, "%.2f m", v);
    else if (strcmp(unit, "cm/min") == 0)
        tb_put(b, "%.1f cm/min", v);
    else if (strcmp(unit, "d") == 0) /* under 2 days (a shortened delay): hours, minutes */
        put_duration(b, v * 86400, lang);
    else
        tb_put(b, "%.0f %s", v, unit);
}

int alarm_event_message(const struct alarm_event *ev, enum gw_lang lang, const char *sensor_name,
                        const char *location, char *buf, size_t len)
{
    struct textbuf b = {buf, len, 0};
    bool zh = lang != LANG_EN;

    if (buf == NULL || len == 0 || (unsigned)ev->alarm > ALARM_INHIBIT ||
        (unsigned)ev->type > ALARM_EV_WITHDRAWN)
        return -1;
    buf[0] = '\0';
    /* zh is read on site: the place people know it by, not the sensor's slug
     * (the slug stays in the topic, the journal and the payload's sensor). */
    if (zh && location != NULL && location[0] != '\0')
        tb_put(&b, "%s：", location);
    else if (location != NULL && location[0] != '\0')
        tb_put(&b, "%s (%s): ", sensor_name, location);
    else
        tb_put(&b, zh ? "%s：" : "%s: ", sensor_name);
    const struct alarm_def *ad = alarm_def(ev->alarm);
    tb_put(&b, "%s%s", lang == LANG_EN ? ad->en : ad->zh, pick(&event_words[ev->type], lang));

    bool numbers = !isnan(ev->value) && !isnan(ev->threshold) && ev->unit[0] != '\0';
    if (ev->type == ALARM_EV_RAISED || ev->type == ALARM_EV_CLEARED || ev->type == ALARM_EV_TEST) {
        if (numbers) {
            const struct text *sign = ev->type == ALARM_EV_CLEARED
                                          ? &sign_clear[alarm_is_strict(ev->alarm)]
                                          : &sign_raise[alarm_is_strict(ev->alarm)];
            tb_put(&b, " ");
            put_quantity(&b, ev->value, ev->unit, lang);
            tb_put(&b, " %s ", pick(sign, lang));
            put_quantity(&b, ev->threshold, ev->unit, lang);
        } else if (!isnan(ev->value) && ev->unit[0] != '\0' && ev->type != ALARM_EV_CLEARED) {
            tb_put(&b, " ");
            put_quantity(&b, ev->value, ev->unit, lang);
        }
    }
    if (ev->type == ALARM_EV_INHIBIT_STARTED && ev->until_ms > ev->ts_ms) {
        tb_put(&b, "%s", pick(&for_word, lang));
        put_duration(&b, (double)(ev->until_ms - ev->ts_ms) / 1000.0, lang);
    }
    if (ev->by[0] != '\0' &&
        (ev->type == ALARM_EV_ACKNOWLEDGED || ev->type == ALARM_EV_TEST ||
         ev->type == ALARM_EV_INHIBIT_STARTED || ev->type == ALARM_EV_INHIBIT_ENDED))
        tb_put(&b, "%s%s", pick(&by_word, lang), ev->by);

    return tb_finish(&b);
}

int alarm_event_type_of(const struct gwmsg_alarm *a, enum alarm_event_type *out)
{
    bool inhibit = strcmp(a->alarm, "inhibit") == 0;

    if (strcmp(a->event, "raised") == 0)
        *out = inhibit ? ALARM_EV_INHIBIT_STARTED : ALARM_EV_RAISED;
    else if (strcmp(a->event, "cleared") == 0)
        *out = inhibit                                    ? ALARM_EV_INHIBIT_ENDED
               : strcmp(a->reason, "sensor_removed") == 0 ? ALARM_EV_WITHDRAWN
                                                          : ALARM_EV_CLEARED;
    else if (strcmp(a->event, "acknowledged") == 0)
        *out = ALARM_EV_ACKNOWLEDGED;
    else if (strcmp(a->event, "test") == 0)
        *out = ALARM_EV_TEST;
    else
        return -1;
    return 0;
}

int alarm_msg_text(const struct gwmsg_alarm *a, enum alarm_event_type type, enum gw_lang lang,
                   char *buf, size_t len, const char **what)
{
    struct alarm_event ev;
    enum kind kind;
    enum alarm_id id;
    enum alarm_severity sev;

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
    if (what != NULL)
        *what = lang == LANG_EN ? alarm_def(id)->en : alarm_def(id)->zh;
    return alarm_event_message(&ev, lang, a->sensor, a->location, buf, len);
}

static const char *const msg_event_names[] = {
    [ALARM_EV_RAISED] = "raised",
    [ALARM_EV_CLEARED] = "cleared",
    [ALARM_EV_ACKNOWLEDGED] = "acknowledged",
    [ALARM_EV_TEST] = "test",
    [ALARM_EV_INHIBIT_STARTED] = "raised",
    [ALARM_EV_INHIBIT_ENDED] = "cleared",
    [ALARM_EV_WITHDRAWN] = "cleared",
};

void alarm_msg_from(const struct alarm_event *ev, enum gw_lang lang, const char *name,
                    enum kind kind, const char *location, uint64_t seq, char *text, size_t len,
                    struct alarm_msg *m)
{
    if (alarm_event_message(ev, lang, name, location, text, len) < 0 && len > 0)
        text[0] = '\0';
    *m = (struct alarm_msg){
        .seq = seq,
        .ts_ms = ev->ts_ms,
        .sensor = name,
        .kind = kind_name(kind),
        .location = location,
        .alarm = alarm_name(ev->alarm),
        .event = msg_event_names[ev->type],
        .active = ev->active,
        .acked = ev->acked,
        .severity = alarm_severity_name(ev->severity),
        .value = ev->value,
        .threshold = ev->threshold,
        .unit = ev->unit,
        .mode = ev->mode,
        .message = text,
        .by = ev->by,
        .until_ms = ev->until_ms,
        .reason = ev->type == ALARM_EV_WITHDRAWN ? "sensor_removed" : NULL,
    };
}
