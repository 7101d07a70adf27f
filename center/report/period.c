/*
 * period: see period.h.  Civil dates to days and back with lib/civil
 * (proleptic Gregorian), so no TZ environment, mktime() or locale is
 * involved: the same arguments give the same period on
 * every machine.
 */
#include "period.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"

#define DAY_MS (86400 * 1000LL)

static int64_t days_from_civil(int y, int m, int d)
{
    return civil_days(y, m, d);
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t year;
    civil_date(z, &year, m, d);
    *y = (int)year;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int period_parse_date(const char *s, int64_t offset_ms, int64_t *out_ms, char *err, size_t errlen)
{
    int y, m, d;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || (y = digits(s, 4)) < 0 ||
        (m = digits(s + 5, 2)) < 0 || (d = digits(s + 8, 2)) < 0) {
        snprintf(err, errlen, "%s: not a date YYYY-MM-DD", s);
        return -1;
    }
    if (y < 2000 || y > 2199 || m < 1 || m > 12 || d < 1 || d > month_days(y, m)) {
        snprintf(err, errlen, "%s: no such date (years 2000 to 2199)", s);
        return -1;
    }
    *out_ms = days_from_civil(y, m, d) * DAY_MS - offset_ms;
    return 0;
}

/* The first day of the month that holds ts (in the zone), moved by delta months. */
static int64_t month_start(int64_t ts_ms, int64_t offset_ms, int delta)
{
    int y, m, d;
    civil_from_days(floor_div(ts_ms + offset_ms, DAY_MS), &y, &m, &d);
    int idx = y * 12 + (m - 1) + delta;
    return days_from_civil(idx / 12, idx % 12 + 1, 1) * DAY_MS - offset_ms;
}

int period_make(struct period *p, const char *from, const char *to, bool utc, int64_t now_ms,
                char *err, size_t errlen)
{
    p->offset_ms = utc ? 0 : PERIOD_CST_OFFSET_MS;
    /* Default: the last calendar month.  --from alone: up to the start of
     * today; --to alone: the calendar month before it. */
    if (to != NULL) {
        if (period_parse_date(to, p->offset_ms, &p->to_ms, err, errlen) == -1)
            return -1;
    } else if (from != NULL) {
        p->to_ms = floor_div(now_ms + p->offset_ms, DAY_MS) * DAY_MS - p->offset_ms;
    } else {
        p->to_ms = month_start(now_ms, p->offset_ms, 0);
    }
    if (from != NULL) {
        if (period_parse_date(from, p->offset_ms, &p->from_ms, err, errlen) == -1)
            return -1;
    } else {
        p->from_ms = month_start(p->to_ms - 1, p->offset_ms, 0);
    }
    if (p->from_ms >= p->to_ms) {
        char a[16], b[16];
        period_date(p, p->from_ms, a, sizeof(a));
        period_date(p, p->to_ms, b, sizeof(b));
        snprintf(err, errlen, "empty period: --from %s is not before --to %s (--to is exclusive)",
                 a, b);
        return -1;
    }
    return 0;
}

static void split(const struct period *p, int64_t ts_ms, int *y, int *mo, int *d, int *h, int *mi,
                  int *s, int *ms)
{
    int64_t local = ts_ms + p->offset_ms;
    int64_t day = floor_div(local, DAY_MS), in_day = local - day * DAY_MS;
    civil_from_days(day, y, mo, d);
    *h = (int)(in_day / 3600000);
    *mi = (int)(in_day / 60000 % 60);
    *s = (int)(in_day / 1000 % 60);
    *ms = (int)(in_day % 1000);
}

void period_rfc3339(const struct period *p, int64_t ts_ms, char *buf, size_t len)
{
    int y, mo, d, h, mi, s, ms;
    int64_t off = p->offset_ms < 0 ? -p->offset_ms : p->offset_ms;
    split(p, ts_ms, &y, &mo, &d, &h, &mi, &s, &ms);
    if (p->offset_ms == 0)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, ms);
    else
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", y, mo, d, h, mi, s, ms,
                 p->offset_ms < 0 ? '-' : '+', (int)(off / 3600000), (int)(off / 60000 % 60));
}

void period_human(const struct period *p, int64_t ts_ms, char *buf, size_t len)
{
    int y, mo, d, h, mi, s, ms;
    split(p, ts_ms, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", y, mo, d, h, mi);
}

void period_date(const struct period *p, int64_t ts_ms, char *buf, size_t len)
{
    int y, mo, d, h, mi, s, ms;
    split(p, ts_ms, &y, &mo, &d, &h, &mi, &s, &ms);
    snprintf(buf, len, "%04d-%02d-%02d", y, mo, d);
}

const char *period_zone(const struct period *p)
{
    return p->offset_ms == 0 ? "UTC" : "UTC+8";
}
