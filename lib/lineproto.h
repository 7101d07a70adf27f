/*
 * lineproto: the InfluxDB line-protocol encoder (docs/design.md sections 15, 16).  Pure: no I/O,
 * no allocation, no global state; any thread.
 *
 * A point is described by plain arrays that the caller fills (usually on the
 * stack) and lp_encode() writes one line, "\n" included, into a caller
 * buffer:
 *
 *     struct lp_tag tags[] = {{"shelter", "sh-001"}, {"sensor", "sump-1"}};
 *     struct lp_field fields[] = {lp_float("level_m", 1.25), lp_str("quality", "good")};
 *     struct lp_point pt = {"water_level", tags, 2, fields, 2, ts_ms};
 *     ssize_t n = lp_encode(buf + used, sizeof(buf) - used, &pt);
 *
 * Rules (InfluxDB 1.x and 2.x line protocol, checked against influxd 1.6.7):
 * - escaping: measurement ',' ' '; tag keys, tag values and field keys
 *   ',' '=' ' '; string field values '"' and '\'.  UTF-8 passes byte for byte.
 * - tags are written sorted by key (strcmp, i.e. byte order), as InfluxDB
 *   recommends; a tag whose value is NULL or "" is omitted (InfluxDB rejects
 *   empty tag values).
 * - integers get the "i" suffix; floats the shortest of %.15g/%.16g/%.17g
 *   that reads back to the same double (C "%g" form: 0.1, 1e-07, 1e+300);
 *   booleans true/false; the timestamp is in ms (write with precision=ms).
 * - a float field that is NaN or infinite is omitted (line protocol has no
 *   way to say it), so a reading with quality "comm_lost" still records its
 *   quality; a point left without any field is rejected.
 * Rejected with EINVAL (nothing usable written):
 * - a newline anywhere: a line cannot carry one in names or tag values, and
 *   InfluxDB versions disagree about it inside string fields, so we never
 *   send one (config values are single-line INI values; a newline is a bug);
 * - a backslash in a measurement, tag key, tag value or field key that is
 *   last, or followed by '\', ',', '=', ' ' or '"': InfluxDB 1.x and 2.x read those
 *   pairs differently (1.6 keeps "\\" as two characters, 2.x as one), so no
 *   bytes would round-trip; a backslash before any other character is kept
 *   literally by both;
 * - an empty or NULL measurement, tag key or field key; a measurement that
 *   starts with '#' (a comment line to InfluxDB: silently dropped);
 * - duplicate tag keys or field keys; no field at all (after NaN/inf).
 * Floats are formatted with printf, so LC_NUMERIC must be "C" (the daemon
 * never calls setlocale()).
 */
#ifndef GW_LINEPROTO_H
#define GW_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum lp_type { LP_INT, LP_FLOAT, LP_BOOL, LP_STR };

struct lp_tag {
    const char *key;
    const char *value; /* NULL or "": the tag is omitted */
};

struct lp_field {
    const char *key;
    enum lp_type type;
    union {
        int64_t i;
        double f;
        bool b;
        const char *s; /* NULL is written as "" */
    } v;
};

struct lp_point {
    const char *measurement;
    const struct lp_tag *tags; /* any order; written sorted by key */
    size_t ntags;
    const struct lp_field *fields; /* written in the given order */
    size_t nfields;
    int64_t ts_ms; /* wall-clock ms since the epoch */
};

static inline struct lp_field lp_int(const char *key, int64_t v)
{
    return (struct lp_field){.key = key, .type = LP_INT, .v.i = v};
}
static inline struct lp_field lp_float(const char *key, double v)
{
    return (struct lp_field){.key = key, .type = LP_FLOAT, .v.f = v};
}
static inline struct lp_field lp_bool(const char *key, bool v)
{
    return (struct lp_field){.key = key, .type = LP_BOOL, .v.b = v};
}
static inline struct lp_field lp_str(const char *key, const char *v)
{
    return (struct lp_field){.key = key, .type = LP_STR, .v.s = v};
}

/* Encode pt as one line ending in '\n' into buf, NUL-terminated (like
 * snprintf, cap must hold the line plus the NUL).  Returns the line length
 * without the NUL.  buf == NULL (cap ignored) only measures.  -1 with errno
 * ENOSPC when cap is too small (buf contents then unspecified; measure with
 * NULL for the size needed), EINVAL when pt cannot be encoded (see above). */
ssize_t lp_encode(char *buf, size_t cap, const struct lp_point *pt);

#endif
