/*
 * parse: strict value parsers, see parse.h.
 *
 * Each checks the characters itself before it lets strtol/strtod near the
 * string: those skip leading blanks, take "0x" and "nan", and stop quietly at
 * the first character they do not like.  Reasons quote at most 64 bytes of
 * the value, so a reason always fits a config problem line.
 */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit {
    const char *name;
    int64_t factor;
};

/* Largest first: parse_format_duration() picks the first that divides. */
static const struct unit duration_units[] = {{"d", 86400000}, {"h", 3600000}, {"min", 60000},
                                             {"s", 1000},     {"ms", 1},      {NULL, 0}};
#define DURATION_UNITS "ms, s, min, h, d"

static const struct unit size_units[] = {
    {"GiB", 1LL << 30}, {"MiB", 1LL << 20}, {"KiB", 1LL << 10}, {"B", 1}, {NULL, 0}};
#define SIZE_UNITS "B, KiB, MiB, GiB"

static const struct unit *unit_find(const struct unit *units, const char *name)
{
    for (const struct unit *u = units; u->name != NULL; u++)
        if (strcmp(u->name, name) == 0)
            return u;
    return NULL;
}

/* n as the largest unit that divides it ("10min"), or in the smallest. */
static void format_units(const struct unit *units, int64_t n, char *buf, size_t len)
{
    const struct unit *u = units;
    while (u[1].name != NULL && (n == 0 || n % u->factor != 0))
        u++;
    snprintf(buf, len, "%lld%s", (long long)(n / u->factor), u->name);
}

/* s is an optional sign then decimal digits only. */
static bool is_decimal(const char *s)
{
    const char *d = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    return *d != '\0' && strspn(d, "0123456789") == strlen(d);
}

static int int_in_range(const char *s, int base, long min, long max, long *out, char *err,
                        size_t errlen)
{
    errno = 0;
    long v = strtol(s, NULL, base); /* the characters were checked */
    if (errno == ERANGE || v < min || v > max) {
        snprintf(err, errlen, "%.64s is out of range (%ld..%ld)", s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_int(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
    if (!is_decimal(s)) {
        snprintf(err, errlen, "'%.64s' is not an integer", s);
        return -1;
    }
    return int_in_range(s, 10, min, max, out, err, errlen);
}

int parse_int_hex(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (s[2] == '\0' || strspn(s + 2, "0123456789abcdefABCDEF") != strlen(s + 2)) {
            snprintf(err, errlen, "'%.64s' is not a hex number", s);
            return -1;
        }
        return int_in_range(s, 16, min, max, out, err, errlen);
    }
    return parse_int(s, min, max, out, err, errlen);
}

int parse_double(const char *s, double min, double max, double *out, char *err, size_t errlen)
{
    char *end;

    /* Plain decimal notation only: strtod's "nan", "inf" and hex floats are
     * never what a person meant. */
    if (s[0] == '\0' || strspn(s, "0123456789+-.eE") != strlen(s) ||
        strpbrk(s, "0123456789") == NULL) {
        snprintf(err, errlen, "'%.64s' is not a number", s);
        return -1;
    }
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s) {
        snprintf(err, errlen, "'%.64s' is not a number", s);
        return -1;
    }
    if (errno == ERANGE || !isfinite(v) || v < min || v > max) {
        snprintf(err, errlen, "%.64s is out of range (%g..%g)", s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* "NUMBER UNIT" with a whole number and a unit of the table, no blanks:
 * the number into *n, the unit into *u.  what names the kind of value. */
static int number_with_unit(const char *s, const struct unit *units, const char *what,
                            const char *unit_list, long long *n, const struct unit **u, char *err,
                            size_t errlen)
{
    const char *unit = s + strspn(s, "0123456789");

    if (unit == s) {
        snprintf(err, errlen, "'%.64s' is not a %s (a whole number with a unit: %s)", s, what,
                 unit_list);
        return -1;
    }
    if (*unit == '\0') {
        snprintf(err, errlen, "'%.64s' needs a unit (%s)", s, unit_list);
        return -1;
    }
    *u = unit_find(units, unit);
    if (*u == NULL) {
        snprintf(err, errlen, "'%.64s': unknown unit '%.16s' (use %s)", s, unit, unit_list);
        return -1;
    }
    errno = 0;
    *n = strtoll(s, NULL, 10); /* stops at the unit */
    if (errno == ERANGE)
        *n = -1; /* out of any range */
    return 0;
}

int parse_duration_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out, char *err,
                      size_t errlen)
{
    const struct unit *u;
    long long n;
    char lo[32], hi[32];

    if (number_with_unit(s, duration_units, "duration", DURATION_UNITS, &n, &u, err, errlen) == -1)
        return -1;
    if (n < 0 || n > INT64_MAX / u->factor || n * u->factor < min_ms || n * u->factor > max_ms) {
        parse_format_duration(min_ms, lo, sizeof(lo));
        parse_format_duration(max_ms, hi, sizeof(hi));
        snprintf(err, errlen, "%.64s is out of range (%s..%s)", s, lo, hi);
        return -1;
    }
    *out = n * u->factor;
    return 0;
}

void parse_format_duration(int64_t ms, char *buf, size_t len)
{
    format_units(duration_units, ms, buf, len);
}

int parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return 0;
        }
    }
    snprintf(err, errlen, "'%.32s' is not yes or no", s);
    return -1;
}

int parse_enum(const char *s, const struct name_value *names, int *out, char *err, size_t errlen)
{
    char list[128];
    for (const struct name_value *nv = names; nv->name != NULL; nv++) {
        if (strcmp(nv->name, s) == 0) {
            *out = nv->value;
            return 0;
        }
    }
    parse_list_names(names, list, sizeof(list));
    snprintf(err, errlen, "'%.64s' is not one of: %s", s, list);
    return -1;
}

void parse_list_names(const struct name_value *names, char *buf, size_t len)
{
    size_t used = 0;
    if (len > 0)
        buf[0] = '\0';
    for (const struct name_value *nv = names; nv->name != NULL && used < len; nv++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", nv->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
    const struct unit *u;
    long long n;
    char lo[32], hi[32];

    if (number_with_unit(s, size_units, "size", SIZE_UNITS, &n, &u, err, errlen) == -1)
        return -1;
    if (n < 0 || (uint64_t)n > UINT64_MAX / (uint64_t)u->factor || (uint64_t)n * u->factor < min ||
        (uint64_t)n * u->factor > max) {
        format_units(size_units, (int64_t)min, lo, sizeof(lo));
        format_units(size_units, (int64_t)max, hi, sizeof(hi));
        snprintf(err, errlen, "%.64s is out of range (%s..%s)", s, lo, hi);
        return -1;
    }
    *out = (uint64_t)n * (uint64_t)u->factor;
    return 0;
}

int parse_rate(const char *s, long max_count, struct parse_rate *out, char *err, size_t errlen)
{
    const char *slash = strchr(s, '/');
    char count[32], why[160];
    long n;
    int64_t per;

    if (slash == NULL || (size_t)(slash - s) >= sizeof(count)) {
        snprintf(err, errlen, "'%.64s' is not a rate (COUNT/PERIOD, e.g. 20/min)", s);
        return -1;
    }
    memcpy(count, s, (size_t)(slash - s));
    count[slash - s] = '\0';
    if (parse_int(count, 1, max_count, &n, why, sizeof(why)) == -1) {
        snprintf(err, errlen, "'%.64s': count %s", s, why);
        return -1;
    }
    const struct unit *u = unit_find(duration_units, slash + 1);
    if (u != NULL) {
        per = u->factor; /* "20/min" */
    } else if (parse_duration_ms(slash + 1, 1, 86400000, &per, why, sizeof(why)) == -1) {
        snprintf(err, errlen, "'%.64s': period %s", s, why);
        return -1;
    }
    out->count = n;
    out->per_ms = per;
    return 0;
}
