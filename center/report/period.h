/*
 * period: the review's time range and how its times are shown
 * (docs/design.md section 19).  Dates are YYYY-MM-DD in China Standard Time
 * (UTC+8, no daylight saving) unless the caller asks for UTC; --from is
 * inclusive, --to exclusive; the default is the last calendar month before
 * `now`.  Pure: the caller passes the time.  Any thread.
 */
#ifndef GW_PERIOD_H
#define GW_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PERIOD_CST_OFFSET_MS (8 * 3600 * 1000LL)

struct period {
    int64_t from_ms, to_ms; /* Unix ms, [from, to) */
    int64_t offset_ms;      /* of the zone dates are read and shown in: CST or 0 (UTC) */
};

/* Parse a strict YYYY-MM-DD (a real calendar date, years 2000..2199) as the
 * start of that day in the zone of offset_ms.  0, or -1 with a reason. */
int period_parse_date(const char *s, int64_t offset_ms, int64_t *out_ms, char *err, size_t errlen);

/* Fill p from the optional dates (NULL: the default, the last calendar
 * month before now_ms; one given alone: the other is that month's other
 * end... see period.c).  0, or -1 with a reason (from not before to). */
int period_make(struct period *p, const char *from, const char *to, bool utc, int64_t now_ms,
                char *err, size_t errlen);

/* RFC 3339 with ms in the period's zone: 2026-05-03T14:05:00.000+08:00, or
 * ...Z in UTC.  buf >= 32. */
void period_rfc3339(const struct period *p, int64_t ts_ms, char *buf, size_t len);

/* For people: "2026-05-03 14:05" in the period's zone.  buf >= 20. */
void period_human(const struct period *p, int64_t ts_ms, char *buf, size_t len);

/* The date YYYY-MM-DD of ts_ms in the period's zone.  buf >= 11. */
void period_date(const struct period *p, int64_t ts_ms, char *buf, size_t len);

/* The zone's name as shown: "UTC+8" or "UTC". */
const char *period_zone(const struct period *p);

#endif
