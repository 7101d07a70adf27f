/*
 * parse: the one set of strict value parsers of every program in the tree
 * (configuration files, command lines, MQTT commands, control sockets,
 * scenario files), in the style of chrony: the whole string is the value (no
 * blanks around it, nothing after it), the value lies in [min, max], and a
 * refusal comes with a reason that quotes the value, ready to follow
 * "FILE:LINE: [section] key: ".  Numbers are decimal unless a parser says
 * otherwise: "010" is ten, never eight.
 *
 * Every parser returns 0 and sets *out, or returns -1 with the reason in
 * err (errlen bytes, always terminated) and leaves *out alone.  Pure; any
 * thread.
 */
#ifndef GW_PARSE_H
#define GW_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A name and its value; a table of them ends with {NULL, 0} (enum keys,
 * mode and language names). */
struct name_value {
    const char *name;
    int value;
};

/* An integer in decimal with an optional sign ("-5", "+7"). */
int parse_int(const char *s, long min, long max, long *out, char *err, size_t errlen);

/* An integer in decimal (optional sign) or in hex with 0x ("0x0004"), for
 * addresses and raw register values written from data sheets.  Leading
 * zeros stay decimal. */
int parse_int_hex(const char *s, long min, long max, long *out, char *err, size_t errlen);

/* A number in plain decimal notation ("1.5", ".5", "1e-3"); never "nan",
 * "inf" or hex floats, and always finite. */
int parse_double(const char *s, double min, double max, double *out, char *err, size_t errlen);

/* A duration: a whole number with a unit, ms, s, min, h or d ("500ms",
 * "2s", "10min", "1h", "31d").  A bare number is refused: "30" could be
 * seconds or minutes.  *out in milliseconds. */
int parse_duration_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out, char *err,
                      size_t errlen);

/* ms as the largest unit that divides it exactly ("1h", "90s", "0ms"),
 * the form parse_duration_ms() reads back and its range messages use. */
void parse_format_duration(int64_t ms, char *buf, size_t len);

/* yes, true, on, 1 / no, false, off, 0. */
int parse_bool(const char *s, bool *out, char *err, size_t errlen);

/* One of the names of a {NULL, 0}-terminated table (case matters). */
int parse_enum(const char *s, const struct name_value *names, int *out, char *err, size_t errlen);

/* The names of a table as "a, b, c" (for messages), cut to len. */
void parse_list_names(const struct name_value *names, char *buf, size_t len);

/* A size: a whole number with a unit, B, KiB, MiB or GiB ("64MiB"); *out
 * in bytes.  A bare number is refused, as are kB/MB (1000 or 1024?). */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen);

/* A rate: COUNT/PERIOD, PERIOD a unit of parse_duration_ms() ("20/min" is
 * 20 per 60 s) or a duration ("5/10s").  count in [1, max_count], the
 * period in [1 ms, 1 day]. */
struct parse_rate {
    long count;
    int64_t per_ms;
};
int parse_rate(const char *s, long max_count, struct parse_rate *out, char *err, size_t errlen);

#endif
