/*
 * ntext: see ntext.h.  Chinese and English side by side in one table, so a
 * new word cannot get one language and not the other.  Each notice is built
 * from capped pieces (a name, a location, a sentence, a link: each cut to a
 * few hundred bytes at a UTF-8 boundary), so a notice fits 4096 bytes
 * whatever the payload held; summaries add whole entries while they fit.
 * In the markdown formats, text from outside cannot start markup: the
 * characters markdown or WeCom's <font> tags would read are replaced by
 * their full-width forms, and line breaks by spaces.
 */
#include "ntext.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "textbuf.h"

struct text {
    const char *zh, *en;
};

static const char *pick(const struct text *t, enum gw_lang lang)
{
    return lang == LANG_EN ? t->en : t->zh;
}

/* clang-format off */
static const struct {
    const char *name;
    struct text word;
    const char *color; /* WeCom <font color> */
} severities[] = {
    {"critical", {"严重", "CRITICAL"}, "warning"},
    {"major",    {"重要", "MAJOR"},    "warning"},
    {"minor",    {"一般", "MINOR"},    "comment"},
    {"info",     {"提示", "INFO"},     "info"},
};

static const struct {
    const char *event;
    struct text word; /* "" for raised: the severity says it */
} event_words[] = {
    {"raised",       {"", ""}},
    {"cleared",      {"已恢复", "CLEARED"}},
    {"acknowledged", {"已确认", "ACKNOWLEDGED"}},
    {"test",         {"测试", "TEST"}},
};

static const struct text
    w_location  = {"位置", "Location"},
    w_detail    = {"情况", "Details"},
    w_time      = {"时间", "Time"},
    w_gateway   = {"网关", "Gateway"},
    w_by        = {"确认人", "Acknowledged by"},
    w_water     = {"请勿进入车库", "Do not enter the garage"},
    w_ack       = {"确认收到", "Acknowledge"},
    w_escalated = {"未确认，已升级至", "Not acknowledged, escalated to"},
    w_nobody    = {"内无人确认", "without acknowledgement"},
    w_offline   = {"离线", "OFFLINE"},
    w_online    = {"恢复在线", "BACK ONLINE"},
    w_last_seen = {"最后在线", "Last seen"},
    w_off_for   = {"已离线", "Offline for"},
    w_was_off   = {"离线时长", "Was offline for"},
    w_unknown   = {"未知", "unknown"},
    w_off_hint  = {"可能停电、断网或进水，请尽快到现场查看",
                   "Power, network or water may have cut it off: please check on site"},
    w_test      = {"测试消息", "Test message"},
    w_test_body = {"shelter-notify 的测试消息：此通道可以送达。",
                   "A test message from shelter-notify: this channel delivers."};

static const struct text summary_heads[] = {
    [NTEXT_SUM_FLOOD]   = {"报警过多（报警泛滥），合并发送", "Alarm flood: merged"},
    [NTEXT_SUM_RATE]    = {"消息过多，合并发送", "Too many messages: merged"},
    [NTEXT_SUM_ACTIVE]  = {"当前未恢复的报警", "Alarms active now"},
    [NTEXT_SUM_BACKLOG] = {"通道恢复，补发", "Channel back: delivered late"},
};
/* clang-format on */

#define CAP_NAME 240
#define CAP_LOCATION 240
#define CAP_DETAIL 720
#define CAP_WHAT 160
#define CAP_LINK 1300
#define CAP_ITEM 600 /* a summary entry */

int ntext_severity_rank(const char *severity)
{
    int n = (int)(sizeof(severities) / sizeof(severities[0]));
    for (int i = 0; severity != NULL && i < n; i++)
        if (strcmp(severity, severities[i].name) == 0)
            return i;
    return n;
}

const char *ntext_severity_word(const char *severity, enum gw_lang lang)
{
    int r = ntext_severity_rank(severity);
    return r < (int)(sizeof(severities) / sizeof(severities[0])) ? pick(&severities[r].word, lang)
                                                                 : "";
}

static const char *severity_color(const char *severity)
{
    int r = ntext_severity_rank(severity);
    return r < (int)(sizeof(severities) / sizeof(severities[0])) ? severities[r].color : "comment";
}

static const char *event_word(const char *event, enum gw_lang lang)
{
    for (size_t i = 0; event != NULL && i < sizeof(event_words) / sizeof(event_words[0]); i++)
        if (strcmp(event, event_words[i].event) == 0)
            return pick(&event_words[i].word, lang);
    return event != NULL ? event : "";
}

int ntext_time(int64_t ts_ms, int tz_offset_s, char *buf, size_t len)
{
    struct tm tm;
    time_t t = (time_t)(ts_ms / 1000 + tz_offset_s);

    if (ts_ms <= 0 || gmtime_r(&t, &tm) == NULL)
        return snprintf(buf, len, "----------");
    return snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int ntext_duration(int64_t ms, enum gw_lang lang, char *buf, size_t len)
{
    int64_t s = ms > 0 ? ms / 1000 : 0;
    bool zh = lang != LANG_EN;

    if (s < 120)
        return snprintf(buf, len, zh ? "%lld 秒" : "%lld s", (long long)s);
    if (s < 2 * 3600)
        return snprintf(buf, len, zh ? "%lld 分钟" : "%lld min", (long long)(s / 60));
    if (s < 2 * 86400)
        return snprintf(buf, len, zh ? "%lld 小时 %lld 分钟" : "%lld h %lld min",
                        (long long)(s / 3600), (long long)(s / 60 % 60));
    return snprintf(buf, len, zh ? "%lld 天 %lld 小时" : "%lld d %lld h", (long long)(s / 86400),
                    (long long)(s / 3600 % 24));
}

/* ---- pieces ---- */

struct out {
    struct textbuf b;
    enum ntext_format f;
    enum gw_lang lang;
    int tz;
};

/* Full-width stand-ins for what markdown or WeCom would read as markup. */
static const char *const markup_subst[128] = {
    ['<'] = "＜", ['>'] = "＞", ['*'] = "＊", ['_'] = "＿", ['`'] = "｀",
    ['['] = "［", [']'] = "］", ['#'] = "＃", ['|'] = "｜", ['\\'] = "＼",
};

/* Append s, at most max bytes of it (cut at a UTF-8 boundary); in the
 * markdown formats with markup replaced; control characters as spaces. */
static void put_text(struct out *o, const char *s, size_t max)
{
    size_t n = strlen(s);
    char piece[8];

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            tb_put(&o->b, " ");
        } else if (o->f != NTEXT_PLAIN && c < 128 && markup_subst[c] != NULL) {
            tb_put(&o->b, "%s", markup_subst[c]);
        } else {
            piece[0] = (char)c;
            piece[1] = '\0';
            tb_put(&o->b, "%s", piece);
        }
    }
    if (n < strlen(s))
        tb_put(&o->b, "…");
}

static bool present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Line breaks: DingTalk's markdown needs an empty line between lines. */
static void put_nl(struct out *o)
{
    tb_put(&o->b, o->f == NTEXT_DINGTALK ? "\n\n" : "\n");
}

/* "> label：value" (a quote in markdown). */
static void put_label(struct out *o, const struct text *label)
{
    bool zh = o->lang != LANG_EN;
    tb_put(&o->b, "%s%s%s", o->f == NTEXT_PLAIN ? "" : "> ", pick(label, o->lang),
           zh ? "：" : ": ");
}

static void put_heading_open(struct out *o, const char *color)
{
    if (o->f == NTEXT_WECOM)
        tb_put(&o->b, "### <font color=\"%s\">", color);
    else if (o->f == NTEXT_DINGTALK)
        tb_put(&o->b, "### ");
}

static void put_heading_close(struct out *o)
{
    if (o->f == NTEXT_WECOM)
        tb_put(&o->b, "</font>");
    put_nl(o);
}

static void put_bold(struct out *o, const char *s, size_t max)
{
    const char *mark = o->f == NTEXT_PLAIN ? "" : "**";
    tb_put(&o->b, "%s", mark);
    put_text(o, s, max);
    tb_put(&o->b, "%s", mark);
}

/* A link: only our own (ack_url plus a base64url token), so it is put as is. */
static void put_link(struct out *o, const struct text *label, const char *url)
{
    bool zh = o->lang != LANG_EN;
    if (strlen(url) > CAP_LINK || strpbrk(url, " \n()<>[]") != NULL)
        return;
    if (o->f == NTEXT_PLAIN)
        tb_put(&o->b, "%s%s%s", pick(label, o->lang), zh ? "：" : ": ", url);
    else
        tb_put(&o->b, "[%s](%s)", pick(label, o->lang), url);
    put_nl(o);
}

static const char *site_of(const struct ntext_notice *n)
{
    return present(n->site_name) ? n->site_name : present(n->gateway) ? n->gateway : "?";
}

static const char *what_of(const struct ntext_notice *n)
{
    return present(n->what) ? n->what : present(n->alarm) ? n->alarm : "?";
}

/* s without prefix p, or NULL when s does not start with it. */
static const char *after(const char *s, const char *p)
{
    size_t n = strlen(p);
    return strncmp(s, p, n) == 0 ? s + n : NULL;
}

const char *ntext_detail(const char *detail, const char *location, const char *sensor)
{
    const char *rest = NULL;

    if (!present(detail) || !present(location))
        return detail;
    if ((rest = after(detail, location)) != NULL) {
        const char *r = after(rest, "：");
        rest = r != NULL ? r : after(rest, ": ");
    }
    if (rest == NULL && present(sensor) && (rest = after(detail, sensor)) != NULL &&
        (rest = after(rest, " (")) != NULL && (rest = after(rest, location)) != NULL)
        rest = after(rest, "): ");
    return rest != NULL && rest[0] != '\0' ? rest : detail;
}

/* "【严重】漏水", "【已恢复】漏水", "【已确认】漏水" */
static void put_alarm_title(struct out *o, const struct ntext_notice *n)
{
    const char *ev = event_word(n->event, o->lang);
    const char *word = ev[0] != '\0' ? ev : ntext_severity_word(n->severity, o->lang);
    bool zh = o->lang != LANG_EN;

    tb_put(&o->b, zh ? "【%s】" : "[%s] ", word[0] != '\0' ? word : "?");
    put_text(o, what_of(n), CAP_WHAT);
}

static void put_time_line(struct out *o, const struct text *label, int64_t ts_ms)
{
    char t[40];
    ntext_time(ts_ms, o->tz, t, sizeof(t));
    put_label(o, label);
    tb_put(&o->b, "%s", t);
    put_nl(o);
}

static void put_gateway_line(struct out *o, const struct ntext_notice *n)
{
    if (!present(n->gateway))
        return;
    put_label(o, &w_gateway);
    put_text(o, n->gateway, CAP_NAME);
    if (present(n->site_path)) {
        tb_put(&o->b, " · ");
        put_text(o, n->site_path, CAP_NAME);
    }
    put_nl(o);
}

static void put_escalation(struct out *o, const struct ntext_notice *n)
{
    char d[64];
    bool zh = o->lang != LANG_EN;

    if (n->escalated <= 0)
        return;
    ntext_duration(n->unacked_ms, o->lang, d, sizeof(d));
    if (o->f != NTEXT_PLAIN)
        tb_put(&o->b, "**");
    tb_put(&o->b, "%s%s", pick(&w_escalated, o->lang), zh ? "" : " ");
    put_text(o, present(n->to_route) ? n->to_route : "?", CAP_NAME);
    if (o->f != NTEXT_PLAIN)
        tb_put(&o->b, "**");
    tb_put(&o->b, zh ? "（" : " (");
    put_text(o, present(n->from_route) ? n->from_route : "?", CAP_NAME);
    tb_put(&o->b, zh ? " %s%s）" : ": %s %s)", d, pick(&w_nobody, o->lang));
    put_nl(o);
}

static void alarm_body(struct out *o, const struct ntext_notice *n)
{
    put_escalation(o, n);
    put_heading_open(o, strcmp(n->event != NULL ? n->event : "", "raised") == 0
                            ? severity_color(n->severity)
                            : "info");
    put_alarm_title(o, n);
    if (o->f == NTEXT_PLAIN) {
        tb_put(&o->b, " ");
        put_text(o, site_of(n), CAP_NAME);
    }
    put_heading_close(o);
    if (o->f != NTEXT_PLAIN) {
        put_bold(o, site_of(n), CAP_NAME);
        put_nl(o);
    }
    if (present(n->location)) {
        put_label(o, &w_location);
        put_text(o, n->location, CAP_LOCATION);
        put_nl(o);
    }
    if (present(n->detail)) {
        put_label(o, &w_detail);
        put_text(o, ntext_detail(n->detail, n->location, n->sensor), CAP_DETAIL);
        put_nl(o);
    }
    if (present(n->by) && n->event != NULL && strcmp(n->event, "acknowledged") == 0) {
        put_label(o, &w_by);
        put_text(o, n->by, CAP_NAME);
        put_nl(o);
    }
    put_time_line(o, &w_time, n->ts_ms);
    put_gateway_line(o, n);
    if (n->water && n->event != NULL && strcmp(n->event, "raised") == 0) {
        put_bold(o, pick(&w_water, o->lang), 100);
        put_nl(o);
    }
    if (present(n->ack_link))
        put_link(o, &w_ack, n->ack_link);
    if (present(n->mention) && o->f == NTEXT_DINGTALK) {
        put_text(o, n->mention, CAP_NAME);
        put_nl(o);
    }
}

static void status_body(struct out *o, const struct ntext_notice *n)
{
    char d[64];
    bool off = n->kind == NTEXT_OFFLINE, zh = o->lang != LANG_EN;

    put_heading_open(o, off ? "warning" : "info");
    tb_put(&o->b, zh ? "【%s】" : "[%s] ", pick(off ? &w_offline : &w_online, o->lang));
    put_text(o, site_of(n), CAP_NAME);
    put_heading_close(o);
    put_gateway_line(o, n);
    if (off) {
        if (n->seen_ms > 0) {
            put_time_line(o, &w_last_seen, n->seen_ms);
            ntext_duration(n->ts_ms - n->seen_ms, o->lang, d, sizeof(d));
            put_label(o, &w_off_for);
            tb_put(&o->b, "%s", d);
        } else {
            put_label(o, &w_last_seen);
            tb_put(&o->b, "%s", pick(&w_unknown, o->lang));
        }
        put_nl(o);
        put_bold(o, pick(&w_off_hint, o->lang), 200);
        put_nl(o);
    } else {
        put_time_line(o, &w_time, n->ts_ms);
        if (n->seen_ms > 0 && n->ts_ms > n->seen_ms) {
            ntext_duration(n->ts_ms - n->seen_ms, o->lang, d, sizeof(d));
            put_label(o, &w_was_off);
            tb_put(&o->b, "%s", d);
            put_nl(o);
        }
    }
}

static void test_body(struct out *o, const struct ntext_notice *n)
{
    bool zh = o->lang != LANG_EN;
    put_heading_open(o, "info");
    tb_put(&o->b, zh ? "【%s】" : "[%s] ", pick(&w_test, o->lang));
    put_text(o, present(n->to_route) ? n->to_route : "shelter-notify", CAP_NAME);
    put_heading_close(o);
    tb_put(&o->b, "%s", pick(&w_test_body, o->lang));
    put_nl(o);
    put_time_line(o, &w_time, n->ts_ms);
}

/* The DingTalk title: one plain line. */
static void make_title(const struct ntext_notice *n, enum gw_lang lang, char *title, size_t len)
{
    struct out o = {{title, len, 0}, NTEXT_PLAIN, lang, 0};
    bool zh = lang != LANG_EN;

    if (title == NULL || len == 0)
        return;
    title[0] = '\0';
    if (n->kind == NTEXT_ALARM) {
        put_alarm_title(&o, n);
        tb_put(&o.b, " ");
        put_text(&o, site_of(n), 120);
    } else if (n->kind == NTEXT_TEST) {
        tb_put(&o.b, zh ? "【%s】" : "[%s] ", pick(&w_test, lang));
        tb_put(&o.b, "shelter-notify");
    } else {
        tb_put(&o.b, zh ? "【%s】" : "[%s] ",
               pick(n->kind == NTEXT_OFFLINE ? &w_offline : &w_online, lang));
        put_text(&o, site_of(n), 120);
    }
    tb_finish(&o.b);
}

int ntext_notice(const struct ntext_notice *n, enum ntext_format f, enum gw_lang lang,
                 int tz_offset_s, char *title, size_t titlelen, char *buf, size_t len)
{
    struct out o = {{buf, len, 0}, f, lang, tz_offset_s};

    if (buf == NULL || len == 0)
        return -1;
    buf[0] = '\0';
    switch (n->kind) {
    case NTEXT_ALARM:
        alarm_body(&o, n);
        break;
    case NTEXT_OFFLINE:
    case NTEXT_ONLINE:
        status_body(&o, n);
        break;
    case NTEXT_TEST:
        test_body(&o, n);
        break;
    }
    make_title(n, lang, title, titlelen);
    /* No trailing empty line. */
    while (o.b.n > 0 && o.b.n < o.b.len && o.b.p[o.b.n - 1] == '\n')
        o.b.p[--o.b.n] = '\0';
    return tb_finish(&o.b);
}

/* ---- summaries ---- */

/* One summary line: "- 【严重】东风小区… · B1 坡道：漏水 07-20 18:03:04". */
static void put_item(struct out *o, const struct ntext_notice *n)
{
    char t[40];
    bool zh = o->lang != LANG_EN;

    tb_put(&o->b, "- ");
    if (n->kind == NTEXT_ALARM) {
        const char *ev = event_word(n->event, o->lang);
        const char *word = ev[0] != '\0' ? ev : ntext_severity_word(n->severity, o->lang);
        tb_put(&o->b, zh ? "【%s】" : "[%s] ", word);
        if (n->escalated > 0)
            tb_put(&o->b, zh ? "（已升级）" : "(escalated) ");
        put_text(o, site_of(n), 120);
        if (present(n->location)) {
            tb_put(&o->b, " · ");
            put_text(o, n->location, 120);
        }
        tb_put(&o->b, zh ? "：" : ": ");
        put_text(o, what_of(n), 120);
        ntext_time(n->ts_ms, o->tz, t, sizeof(t));
        tb_put(&o->b, " %s", t + 5); /* MM-DD hh:mm:ss */
        if (n->water && n->event != NULL && strcmp(n->event, "raised") == 0)
            tb_put(&o->b, zh ? "（%s）" : " (%s)", pick(&w_water, o->lang));
    } else {
        tb_put(&o->b, zh ? "【%s】" : "[%s] ",
               pick(n->kind == NTEXT_OFFLINE ? &w_offline : &w_online, o->lang));
        put_text(o, site_of(n), 120);
        ntext_time(n->kind == NTEXT_OFFLINE ? n->seen_ms : n->ts_ms, o->tz, t, sizeof(t));
        if (n->kind == NTEXT_OFFLINE)
            tb_put(&o->b, " %s %s", pick(&w_last_seen, o->lang),
                   n->seen_ms > 0 ? t + 5 : pick(&w_unknown, o->lang));
        else
            tb_put(&o->b, " %s", t + 5);
    }
    put_nl(o);
}

int ntext_summary(enum ntext_summary why, const struct ntext_notice *items, int count, int later,
                  enum ntext_format f, enum gw_lang lang, int tz_offset_s, char *title,
                  size_t titlelen, char *buf, size_t len, int *fitted)
{
    struct out o = {{buf, len, 0}, f, lang, tz_offset_s};
    char line[CAP_ITEM * 3], more[96], total[64];
    bool zh = lang != LANG_EN;
    size_t footer = sizeof(more) + 8;
    int i;

    *fitted = 0;
    if (buf == NULL || len < 256 || count < 0 || (unsigned)why > NTEXT_SUM_BACKLOG)
        return -1;
    buf[0] = '\0';
    snprintf(total, sizeof(total), zh ? "共 %d 条" : "%d in all", count + later);
    put_heading_open(&o, why == NTEXT_SUM_ACTIVE || why == NTEXT_SUM_FLOOD ? "warning" : "comment");
    tb_put(&o.b, zh ? "【汇总】%s（%s）" : "[Summary] %s (%s)", pick(&summary_heads[why], lang),
           total);
    put_heading_close(&o);
    if (title != NULL && titlelen > 0)
        snprintf(title, titlelen, zh ? "【汇总】%s（%s）" : "[Summary] %s (%s)",
                 pick(&summary_heads[why], lang), total);
    for (i = 0; i < count; i++) {
        struct out lo = {{line, sizeof(line), 0}, f, lang, tz_offset_s};
        put_item(&lo, &items[i]);
        tb_finish(&lo.b);
        if (o.b.n + strlen(line) + footer >= len) {
            if (i > 0)
                break;
            /* A first entry that does not fit alone is cut to fit, at a
             * UTF-8 boundary. */
            size_t k = len - o.b.n - footer;
            while (k > 0 && ((unsigned char)line[k] & 0xC0) == 0x80)
                k--;
            line[k] = '\0';
            tb_put(&o.b, "%s", line);
            tb_finish(&o.b);
            tb_put(&o.b, "…");
            put_nl(&o);
            i = 1;
            break;
        }
        tb_put(&o.b, "%s", line);
    }
    *fitted = i;
    if (count - i + later > 0) {
        snprintf(more, sizeof(more), zh ? "另有 %d 条，随后发送" : "%d more follow",
                 count - i + later);
        tb_put(&o.b, zh ? "（%s）" : "(%s)", more);
    }
    while (o.b.n > 0 && o.b.n < o.b.len && o.b.p[o.b.n - 1] == '\n')
        o.b.p[--o.b.n] = '\0';
    return tb_finish(&o.b);
}
