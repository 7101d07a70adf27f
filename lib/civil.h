/*
 * civil: days since 1970-01-01 and proleptic Gregorian dates, both ways
 * (Howard Hinnant's algorithms), for every program that reads or writes a
 * date without the C library's time zones: RFC 3339 parsing (gwmsg.c),
 * shelter-watch's day lines, shelter-report's periods.  Pure; any thread.
 */
#ifndef GW_CIVIL_H
#define GW_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1..12), day d (1..31). */
int64_t civil_days(int64_t y, int m, int d);

/* The date of day z (days since 1970-01-01). */
void civil_date(int64_t z, int64_t *y, int *m, int *d);

#endif
