/*
 * rhtml: see rhtml.h.  Written straight to the stream, section by section;
 * every text from the data goes through esc().  Charts are drawn here in
 * SVG user units (the viewBox scales them to the page and to A4 paper).
 * Sortable tables: each cell that sorts other than by its text carries
 * data-v (a number); the script compares those, else the text.
 */
#include "rhtml.h"

#include "alarmdef.h"
#include "kind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400 * 1000LL)
#define LINES_MAX 8 /* doors drawn in the travel chart */

static const char *const palette[] = {"#c0392b", "#2471a3", "#229954", "#d68910",
                                      "#7d3c98", "#17a589", "#a04000", "#5d6d7e"};

static void esc(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* What an alarm is called in Chinese (the alarm catalogue, alarmdef.h);
 * its name when the catalogue does not know it. */
static const char *alarm_zh(const char *kind, const char *alarm)
{
    enum kind k;
    enum alarm_id id;
    if (kind_from_name(kind, &k) == 0 && alarm_from_name(k, alarm, &id) == 0)
        return alarm_def(id)->zh;
    return alarm;
}

static const char *movement_zh(const char *m)
{
    return strcmp(m, "open") == 0 ? "开启" : strcmp(m, "close") == 0 ? "关闭" : "闭锁";
}

static const char *level_zh(const char *key)
{
    static const char *const keys[][2] = {
        {"city", "市"},       {"district", "区县"}, {"street", "镇街"},  {"community", "社区"},
        {"property", "物业"}, {"shelter", "工程"},  {"sensor", "传感器"}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i][0], key) == 0)
            return keys[i][1];
    return key;
}

/* "3 天 4 小时", "25 分钟", "40 秒". */
static void duration(FILE *f, double s)
{
    if (!isfinite(s)) {
        fputs("—", f);
        return;
    }
    long v = lround(s);
    if (v >= 86400)
        fprintf(f, "%ld 天 %ld 小时", v / 86400, v % 86400 / 3600);
    else if (v >= 3600)
        fprintf(f, "%ld 小时 %ld 分钟", v / 3600, v % 3600 / 60);
    else if (v >= 60)
        fprintf(f, "%ld 分钟", v / 60);
    else
        fprintf(f, "%ld 秒", v);
}

static void when(FILE *f, const struct period *p, int64_t ms)
{
    char buf[32];
    if (ms == 0) {
        fputs("<td data-v=\"9e15\" class=\"open\">未</td>", f);
        return;
    }
    period_human(p, ms, buf, sizeof(buf));
    fprintf(f, "<td data-v=\"%lld\">%s</td>", (long long)ms, buf);
}

static void secs_cell(FILE *f, int64_t from, int64_t to)
{
    if (from == 0 || to == 0) {
        fputs("<td data-v=\"9e15\">—</td>", f);
        return;
    }
    double s = (double)llround((double)(to - from) / 1000.0);
    fprintf(f, "<td data-v=\"%.0f\">", s);
    duration(f, s);
    fputs("</td>", f);
}

static void num_cell(FILE *f, double v, int digits, const char *unit)
{
    if (!isfinite(v)) {
        fputs("<td data-v=\"-1\">—</td>", f);
        return;
    }
    double r = review_round(v, digits);
    fprintf(f, "<td data-v=\"%.*f\" class=\"num\">%.*f%s</td>", digits, r, digits, r, unit);
}

static void text_cell(FILE *f, const char *s)
{
    fputs("<td>", f);
    esc(f, s);
    fputs("</td>", f);
}

static void table_head(FILE *f, const char *id, const char *const *cols)
{
    fprintf(f, "<table class=\"sort\" id=\"%s\"><thead><tr>", id);
    for (; *cols != NULL; cols++)
        fprintf(f, "<th>%s</th>", *cols);
    fputs("</tr></thead><tbody>\n", f);
}

static void none(FILE *f, const char *what)
{
    fprintf(f, "<p class=\"none\">%s</p>\n", what);
}

/* ---- charts ---- */

/* A time axis label: "04-15", or "04-15 18:00" in a period of two days or
 * less (where days alone would repeat). */
static void tick_label(const struct period *p, int64_t ms, char *buf, size_t len)
{
    char h[32];
    period_human(p, ms, h, sizeof(h)); /* 2026-04-15 18:00 */
    snprintf(buf, len, "%s", h + 5);
    if (p->to_ms - p->from_ms > 2 * DAY_MS)
        buf[5] = '\0';
}

/* Door faults per child: horizontal bars, one row each. */
static void chart_children(FILE *f, const struct review *rv)
{
    int n = rv->nchildren, max = 1;
    const int row = 24, left = 170, width = 720, barw = width - left - 60;
    for (int i = 0; i < n; i++)
        if (rv->children[i].door_faults > max)
            max = rv->children[i].door_faults;
    int h = 30 + n * row;
    fprintf(f,
            "<figure class=\"chart\"><svg id=\"chart-children\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"各%s人防门故障数\">\n",
            width, h, level_zh(review_child_key(rv)));
    for (int i = 0; i < n; i++) {
        const struct review_child *c = &rv->children[i];
        int y = 10 + i * row, w = c->door_faults * barw / max;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"lbl\">", left - 8, y + 15);
        esc(f, c->slug);
        fprintf(f,
                "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                "<title>",
                left, y + 2, w > 0 ? w : 1, row - 6, c->door_faults > 0 ? "#c0392b" : "#bbb");
        esc(f, c->slug);
        fprintf(f, "：%d 起</title></rect><text x=\"%d\" y=\"%d\" class=\"val\">%d</text>\n",
                c->door_faults, left + w + 6, y + 15, c->door_faults);
    }
    fprintf(f,
            "<line x1=\"%d\" y1=\"6\" x2=\"%d\" y2=\"%d\" class=\"axis\"/></svg>"
            "<figcaption>各%s人防门故障（起）</figcaption></figure>\n",
            left, left, h - 14, level_zh(review_child_key(rv)));
}

static double travel_change(const struct review_travel *t)
{
    return t->first_s > 0 ? t->last_s / t->first_s : 0;
}

static int by_change(const void *a, const void *b, void *ctx)
{
    const struct review *rv = ctx;
    const struct review_travel *x = &rv->travel[*(const int *)a], *y = &rv->travel[*(const int *)b];
    if (x->creeping != y->creeping)
        return x->creeping ? -1 : 1;
    double cx = travel_change(x), cy = travel_change(y);
    return (cy > cx) - (cy < cx);
}

/* Travel-time trends: the creeping doors first, then the largest changes. */
static void chart_travel(FILE *f, const struct review *rv)
{
    const struct period *p = &rv->opts.period;
    int *idx = malloc(sizeof(int) * (size_t)(rv->ntravel + 1)), n = 0;
    const int width = 720, height = 300, l = 50, r = 180, top = 12, bottom = 30;
    double ymax = 0;
    if (idx == NULL)
        return;
    for (int i = 0; i < rv->ntravel; i++)
        if (rv->travel[i].ndays > 0)
            idx[n++] = i;
    qsort_r(idx, (size_t)n, sizeof(int), by_change, (void *)rv);
    if (n > LINES_MAX)
        n = LINES_MAX;
    for (int k = 0; k < n; k++)
        for (int d = 0; d < rv->travel[idx[k]].ndays; d++)
            if (rv->travel[idx[k]].days[d].mean_s > ymax)
                ymax = rv->travel[idx[k]].days[d].mean_s;
    ymax = ymax <= 0 ? 1 : ceil(ymax * 1.1);
    double span = (double)(p->to_ms - p->from_ms), pw = width - l - r, ph = height - top - bottom;
    fprintf(f,
            "<figure class=\"chart\"><svg id=\"chart-travel\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"门体启闭用时趋势\">\n",
            width, height);
    for (int t = 0; t <= 4; t++) { /* y grid */
        double v = ymax * t / 4, y = top + ph - ph * t / 4;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%.1f</text>\n",
                l, y, l + pw, y, l - 4, y + 4, v);
    }
    for (int t = 0; t <= 4; t++) { /* x ticks: dates */
        char date[32];
        tick_label(p, p->from_ms + (int64_t)(span * t / 4), date, sizeof(date));
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s</text>\n",
                l + pw * t / 4, height - 10, date);
    }
    fprintf(f, "<text x=\"8\" y=\"%d\" class=\"tick\">秒</text>\n", top + 8);
    for (int k = 0; k < n; k++) {
        const struct review_travel *t = &rv->travel[idx[k]];
        const char *color = palette[k % (sizeof(palette) / sizeof(palette[0]))];
        fprintf(f, "<polyline class=\"line\" fill=\"none\" stroke=\"%s\" points=\"", color);
        for (int d = 0; d < t->ndays; d++) {
            double x = l + pw * (double)(t->days[d].day_ms + DAY_MS / 2 - p->from_ms) / span;
            double y = top + ph - ph * t->days[d].mean_s / ymax;
            fprintf(f, "%s%.1f,%.1f", d ? " " : "", x, y);
        }
        fputs("\"><title>", f);
        esc(f, t->site.level[IQL_LEVELS - 1]);
        fputc('/', f);
        esc(f, t->site.sensor);
        fprintf(f, " %s</title></polyline>\n", movement_zh(t->movement));
        int ly = top + 10 + k * 18;
        fprintf(f,
                "<rect x=\"%.0f\" y=\"%d\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%d\" class=\"lbl\">",
                l + pw + 10, ly - 4, color, l + pw + 28, ly);
        esc(f, t->site.level[IQL_LEVELS - 1]);
        fputc('/', f);
        esc(f, t->site.sensor);
        fprintf(f, " %s%s</text>\n", movement_zh(t->movement), t->creeping ? " ⚠" : "");
    }
    fputs("</svg><figcaption>门体启闭用时（日均，秒）；⚠ 为变慢的门</figcaption></figure>\n", f);
    free(idx);
}

static const char *flood_color(const char *alarm)
{
    if (strcmp(alarm, "high_high") == 0)
        return "#c0392b";
    if (strcmp(alarm, "high") == 0)
        return "#e67e22";
    if (strcmp(alarm, "leak") == 0)
        return "#2471a3";
    return "#d4ac0d";
}

/* Floods on a time line: one row per sensor, a bar per alarm. */
static void chart_floods(FILE *f, const struct review *rv)
{
    const struct period *p = &rv->opts.period;
    const int width = 720, l = 190, r = 20, row = 22, top = 8;
    const struct review_site *rows[64];
    int nrows = 0;
    for (int i = 0; i < rv->nfloods && nrows < 64; i++) {
        int k;
        for (k = 0; k < nrows; k++)
            if (memcmp(rows[k], &rv->floods[i].site, sizeof(*rows[k])) == 0)
                break;
        if (k == nrows)
            rows[nrows++] = &rv->floods[i].site;
    }
    int height = top + nrows * row + 30;
    double span = (double)(p->to_ms - p->from_ms), pw = width - l - r;
    int64_t end = p->to_ms < rv->opts.now_ms ? p->to_ms : rv->opts.now_ms;
    fprintf(f,
            "<figure class=\"chart\"><svg id=\"chart-floods\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"水浸与积水时间线\">\n",
            width, height);
    for (int t = 0; t <= 4; t++) {
        char date[32];
        double x = l + pw * t / 4;
        tick_label(p, p->from_ms + (int64_t)(span * t / 4), date, sizeof(date));
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" class=\"tick\">%s</text>\n",
                x, top, x, height - 24, x, height - 10, t == 4 ? "end" : "middle", date);
    }
    for (int k = 0; k < nrows; k++) {
        int y = top + k * row;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"lbl\">", l - 8, y + 15);
        esc(f, rows[k]->level[IQL_LEVELS - 1]);
        fputc('/', f);
        esc(f, rows[k]->sensor);
        fputs("</text>\n", f);
        for (int i = 0; i < rv->nfloods; i++) {
            const struct review_episode *e = &rv->floods[i];
            if (memcmp(&e->site, rows[k], sizeof(e->site)) != 0)
                continue;
            int64_t stop = e->cleared ? e->cleared : end;
            double x0 = l + pw * (double)(e->raised - p->from_ms) / span;
            double w = pw * (double)(stop - e->raised) / span;
            char at[32];
            period_human(p, e->raised, at, sizeof(at));
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                    "<title>%s %s",
                    x0, y + 3, w < 3 ? 3 : w, row - 8, flood_color(e->alarm), at,
                    alarm_zh(e->kind, e->alarm));
            if (isfinite(e->peak))
                fprintf(f, " 峰值 %.3f m", review_round(e->peak, REVIEW_DIGITS_M));
            fputs("</title></rect>\n", f);
        }
    }
    fputs(
        "</svg><figcaption>水浸与积水告警时间线（红：超高高，橙：超高，黄：上涨过快，蓝：地面积水）"
        "</figcaption></figure>\n",
        f);
}

/* ---- sections ---- */

static void episode_rows(FILE *f, const struct review *rv, const struct review_episode *e, int n,
                         const char *peak_unit, int digits)
{
    const struct period *p = &rv->opts.period;
    for (int i = 0; i < n; i++) {
        fputs("<tr>", f);
        text_cell(f, e[i].site.level[IQL_LEVELS - 1]);
        text_cell(f, e[i].site.sensor);
        text_cell(f, e[i].location);
        fputs("<td title=\"", f);
        esc(f, e[i].alarm);
        fputs("\">", f);
        esc(f, alarm_zh(e[i].kind, e[i].alarm));
        fputs("</td>", f);
        when(f, p, e[i].raised);
        when(f, p, e[i].acked);
        when(f, p, e[i].cleared);
        text_cell(f, e[i].acked ? e[i].by : "");
        secs_cell(f, e[i].raised, e[i].acked);
        secs_cell(f, e[i].raised, e[i].cleared);
        if (peak_unit != NULL)
            num_cell(f, e[i].peak, digits, peak_unit);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static const char *const episode_cols[] = {"工程", "传感器", "位置",     "告警", "发生", "确认",
                                           "恢复", "确认人", "确认用时", "持续", NULL,   NULL};

static void episode_table(FILE *f, const struct review *rv, const char *id,
                          const struct review_episode *e, int n, const char *peak_col,
                          const char *peak_unit, int digits)
{
    const char *cols[13];
    memcpy(cols, episode_cols, sizeof(episode_cols));
    cols[10] = peak_col;
    table_head(f, id, cols);
    episode_rows(f, rv, e, n, peak_unit, digits);
}

static const char style[] =
    "<style>\n"
    "body{font-family:\"Noto Sans CJK SC\",\"WenQuanYi Micro Hei\",\"Microsoft YaHei\","
    "sans-serif;color:#222;max-width:960px;margin:0 auto;padding:16px;line-height:1.5}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-left:5px solid #c0392b;"
    "padding-left:8px;margin-top:28px}\n"
    ".meta{color:#555;font-size:13px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:8px;margin:14px 0}\n"
    ".card{flex:1 1 120px;border:1px solid #ddd;border-radius:6px;padding:8px 10px}\n"
    ".card b{display:block;font-size:24px}.card.bad b{color:#c0392b}.card.ok b{color:#229954}\n"
    "table{border-collapse:collapse;width:100%;font-size:12.5px;margin:8px 0}\n"
    "th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#f3f3f3;cursor:pointer;user-select:none;white-space:nowrap}\n"
    "th.asc::after{content:\" ▲\"}th.desc::after{content:\" ▼\"}\n"
    "td.num{text-align:right}td.open{color:#c0392b}tr.flag td{background:#fdecea}\n"
    ".none{color:#229954}.chart{margin:8px 0}.chart svg{width:100%;height:auto}\n"
    "figcaption{font-size:12px;color:#555;text-align:center}\n"
    "svg text{font-size:12px;fill:#333}svg .tick{font-size:11px;fill:#666}\n"
    "svg .grid{stroke:#e5e5e5}svg .axis{stroke:#999}svg .line{stroke-width:2}\n"
    ".note{font-size:12px;color:#555}\n"
    "@page{size:A4;margin:14mm 12mm}\n"
    "@media print{body{max-width:none;padding:0;font-size:11px}th{cursor:auto}"
    "th.asc::after,th.desc::after{content:\"\"}h2{break-after:avoid}"
    ".chart,.cards,tr{break-inside:avoid}thead{display:table-header-group}}\n"
    "</style>\n";

/* Sort a table on a click of its header: by data-v where the cells have
 * it, else by text (zh collation); a second click reverses. */
static const char script[] =
    "<script>\n"
    "document.querySelectorAll('table.sort th').forEach(function(th){\n"
    " th.addEventListener('click',function(){\n"
    "  var table=th.closest('table'),body=table.tBodies[0],i=th.cellIndex;\n"
    "  var asc=!th.classList.contains('asc');\n"
    "  table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});\n"
    "  th.classList.add(asc?'asc':'desc');\n"
    "  var rows=Array.prototype.slice.call(body.rows);\n"
    "  rows.sort(function(a,b){\n"
    "   var x=a.cells[i],y=b.cells[i],c;\n"
    "   if(x.dataset.v!==undefined&&y.dataset.v!==undefined)c=parseFloat(x.dataset.v)-"
    "parseFloat(y.dataset.v);\n"
    "   else c=x.textContent.localeCompare(y.textContent,'zh-CN');\n"
    "   return asc?c:-c;});\n"
    "  rows.forEach(function(r){body.appendChild(r);});});});\n"
    "</script>\n";

static void card(FILE *f, const char *label, int n, bool bad_when_any)
{
    fprintf(f, "<div class=\"card %s\"><b>%d</b>%s</div>", n > 0 && bad_when_any ? "bad" : "ok", n,
            label);
}

int rhtml_write(const struct review *rv, int64_t generated_ms, FILE *f)
{
    const struct period *p = &rv->opts.period;
    char sub[IQL_LEVELS * IQL_SLUG_MAX], a[16], b[16], gen[32];
    int creeping = 0;
    double online = 0;

    iql_subtree_text(&rv->opts.subtree, sub, sizeof(sub));
    period_date(p, p->from_ms, a, sizeof(a));
    period_date(p, p->to_ms - 1, b, sizeof(b));
    period_human(p, generated_ms, gen, sizeof(gen));
    for (int i = 0; i < rv->ntravel; i++)
        creeping += rv->travel[i].creeping;
    for (int i = 0; i < rv->navail; i++)
        online += isfinite(rv->avail[i].online_pct) ? rv->avail[i].online_pct : 0;
    online = rv->navail ? online / rv->navail : 0;

    fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    fputs("人防工程维护检查报告 ", f);
    esc(f, sub);
    fprintf(f, " %s 至 %s</title>\n%s</head><body>\n", a, b, style);
    fputs("<h1>人防工程维护检查报告</h1>\n<p class=\"meta\">范围：", f);
    esc(f, sub);
    fprintf(f, "（%d 个工程，%d 樘人防门）<br>期间：%s 至 %s（%s，含首尾两日）<br>生成：%s</p>\n",
            rv->navail, rv->doors, a, b, period_zone(p), gen);

    fputs("<div class=\"cards\">", f);
    card(f, "人防门故障", rv->ndoor_faults, true);
    card(f, "未按期启闭训练", rv->noverdue, true);
    card(f, "门体变慢", creeping, true);
    card(f, "水浸与积水", rv->nfloods, true);
    card(f, "CO₂ 超标", rv->nco2, true);
    card(f, "烟感", rv->nsmoke, true);
    fprintf(f, "<div class=\"card %s\"><b>%.2f%%</b>平均在线率</div></div>\n",
            online >= 99 ? "ok" : "bad", review_round(online, REVIEW_DIGITS_PCT));

    /* 1. door faults */
    fputs("<h2 id=\"door-faults\">一、人防门故障</h2>\n", f);
    chart_children(f, rv);
    if (rv->ndoor_faults == 0) {
        none(f, "本期无人防门故障告警。");
    } else {
        fprintf(f, "<p>确认用时：中位 ");
        duration(f, review_round(rv->door_times.ack_median_s, 0));
        fputs("，最长 ", f);
        duration(f, review_round(rv->door_times.ack_worst_s, 0));
        fputs("；恢复用时：中位 ", f);
        duration(f, review_round(rv->door_times.clear_median_s, 0));
        fputs("，最长 ", f);
        duration(f, review_round(rv->door_times.clear_worst_s, 0));
        fprintf(f, "；期末未确认 %d 起，未恢复 %d 起。</p>\n",
                rv->door_times.faults - rv->door_times.acked,
                rv->door_times.faults - rv->door_times.cleared);
        episode_table(f, rv, "t-door-faults", rv->door_faults, rv->ndoor_faults, NULL, NULL, 0);
    }

    /* 2. exercise */
    fputs("<h2 id=\"exercise\">二、启闭训练</h2>\n", f);
    fprintf(f,
            "<p class=\"note\">人防门应每月完整启闭一次（开启—关闭—闭锁）。下列门在期末前 %d "
            "天内没有完整的启闭记录。</p>\n",
            REVIEW_OVERDUE_DAYS);
    if (rv->noverdue == 0) {
        none(f, "全部人防门均已按期启闭训练。");
    } else {
        static const char *const cols[] = {"工程",   "门", "位置", "最近一次完整启闭",
                                           "距期末", NULL};
        table_head(f, "t-exercise", cols);
        for (int i = 0; i < rv->noverdue; i++) {
            const struct review_overdue *o = &rv->overdue[i];
            fputs("<tr class=\"flag\">", f);
            text_cell(f, o->site.level[IQL_LEVELS - 1]);
            text_cell(f, o->site.sensor);
            text_cell(f, o->location);
            if (o->last_exercise != 0) {
                when(f, p, o->last_exercise);
                fprintf(f, "<td data-v=\"%lld\" class=\"num\">%lld 天</td>",
                        (long long)((p->to_ms - o->last_exercise) / DAY_MS),
                        (long long)((p->to_ms - o->last_exercise) / DAY_MS));
            } else {
                fprintf(f,
                        "<td data-v=\"0\" class=\"open\">%d 天内无记录</td>"
                        "<td data-v=\"9e15\" class=\"num\">&gt; %d 天</td>",
                        REVIEW_LOOKBACK_DAYS, REVIEW_LOOKBACK_DAYS);
            }
            fputs("</tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
    }

    /* 3. travel */
    fputs("<h2 id=\"travel\">三、门体磨损（启闭用时）</h2>\n", f);
    if (rv->ntravel == 0) {
        none(f, "本期没有记录到人防门的启闭动作。");
    } else {
        chart_travel(f, rv);
        static const char *const cols[] = {"工程",       "门",   "位置", "动作", "期初（秒）",
                                           "期末（秒）", "变化", "次数", NULL};
        table_head(f, "t-travel", cols);
        for (int i = 0; i < rv->ntravel; i++) {
            const struct review_travel *t = &rv->travel[i];
            double ch = t->first_s > 0 ? (review_round(t->last_s, REVIEW_DIGITS_S) /
                                              review_round(t->first_s, REVIEW_DIGITS_S) -
                                          1) *
                                             100
                                       : NAN;
            fprintf(f, "<tr%s>", t->creeping ? " class=\"flag\"" : "");
            text_cell(f, t->site.level[IQL_LEVELS - 1]);
            text_cell(f, t->site.sensor);
            text_cell(f, t->location);
            text_cell(f, movement_zh(t->movement));
            num_cell(f, t->first_s, REVIEW_DIGITS_S, "");
            num_cell(f, t->last_s, REVIEW_DIGITS_S, "");
            if (isfinite(ch))
                fprintf(f, "<td data-v=\"%.1f\" class=\"num\">%+.0f%%%s</td>", ch, ch,
                        t->creeping ? " ⚠ 变慢" : "");
            else
                fputs("<td>—</td>", f);
            fprintf(f, "<td data-v=\"%d\" class=\"num\">%d</td></tr>\n", t->count, t->count);
        }
        fputs("</tbody></table>\n", f);
    }

    /* 4. floods */
    fputs("<h2 id=\"floods\">四、水浸与积水</h2>\n", f);
    if (rv->nfloods == 0) {
        none(f, "本期无水浸、积水告警。");
    } else {
        chart_floods(f, rv);
        episode_table(f, rv, "t-floods", rv->floods, rv->nfloods, "峰值水位", " m",
                      REVIEW_DIGITS_M);
    }

    /* 5. CO2 and smoke */
    fputs("<h2 id=\"air\">五、CO₂ 与烟感</h2>\n", f);
    if (rv->nco2 == 0)
        none(f, "本期无 CO₂ 告警。");
    else
        episode_table(f, rv, "t-co2", rv->co2, rv->nco2, "峰值", " ppm", REVIEW_DIGITS_PPM);
    if (rv->nsmoke == 0)
        none(f, "本期无烟感告警。");
    else
        episode_table(f, rv, "t-smoke", rv->smoke, rv->nsmoke, NULL, NULL, 0);

    /* 6. availability */
    fputs("<h2 id=\"availability\">六、设备在线</h2>\n", f);
    fputs("<p class=\"note\">在线率：网关每分钟写入一个健康记录，缺失即离线。通讯中断：传感器 "
          "comm_lost 告警的累计时长。</p>\n",
          f);
    {
        static const char *const cols[] = {"工程", "在线率", "离线时长", "通讯中断", NULL};
        table_head(f, "t-availability", cols);
        for (int i = 0; i < rv->navail; i++) {
            const struct review_avail *av = &rv->avail[i];
            fprintf(f, "<tr%s>", av->online_pct < 99 ? " class=\"flag\"" : "");
            text_cell(f, av->site.level[IQL_LEVELS - 1]);
            num_cell(f, av->online_pct, REVIEW_DIGITS_PCT, "%");
            fprintf(f, "<td data-v=\"%lld\">", (long long)av->offline_s);
            duration(f, (double)av->offline_s);
            fprintf(f, "</td><td data-v=\"%lld\">", (long long)av->comm_lost_s);
            duration(f, (double)av->comm_lost_s);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
    }
    fputs("<p class=\"note\">数据来源：InfluxDB 中网关写入的告警、读数、门动作与健康记录；"
          "由 shelter-report 生成。</p>\n",
          f);
    fputs(script, f);
    fputs("</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}
