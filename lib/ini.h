/*
 * ini: the one configuration front-end of every program in the tree
 * (gateway.conf, device model files, and the centre's notify.conf and report
 * on the gateway's [influx] keys).  libinih tokenizes `key = value`; this
 * module owns everything a user sees around it:
 *
 *  - one line rule (docs/design.md section 6): UTF-8 (a byte order mark on
 *    line 1 is skipped; a key, value or header that is not UTF-8, such as a
 *    file saved as GBK, is an error; a comment that is not is a warning), LF
 *    or CR LF line ends, indentation ignored (a line never continues the one
 *    before), `;` and `#` comment lines, ` ;` comments after a value, key
 *    lines at most ini_line_max() bytes without their indentation, no NUL;
 *  - sections [type] and [type NAME] from a table: unknown, unnamed,
 *    wrongly named, repeated and required-but-missing sections are problems;
 *  - key tables (struct ini_key): name, parser, destination, range, default,
 *    required; unknown, repeated, empty and invalid keys are problems;
 *  - the problem list: every problem of the file, not just the first, as
 *    `FILE:LINE: [section] key: reason`, sorted by line; errors and warnings,
 *    and sections marked INI_LENIENT whose errors a lenient load keeps as
 *    warnings (the gateway's [mqtt] and [influx]: a typo in the uplink must
 *    never stop local alarms).
 *
 * A program's configuration is so a table of sections, each with a key table
 * and an open() callback that says where its keys go, plus the checks that
 * span keys or sections, which the program runs after ini_read() and reports
 * with ini_error().  Main thread (one struct ini belongs to one thread).
 */
#ifndef GW_INI_H
#define GW_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mode.h"
#include "parse.h"

#define INI_KEYS_MAX 32   /* keys of one section's table */
#define INI_NAME_MAX 64   /* a section's NAME, terminating NUL included */
#define INI_LABEL_MAX 128 /* "type NAME" as problems print it */

struct ini; /* one file being read, with its problem list */

/* ---- key tables ---- */

struct ini_key;

/* A key's parser: value (never NULL, "" only for INI_EMPTY_OK keys) into
 * field, the key's destination.  0, or -1 with a reason in err. */
typedef int (*ini_parse_fn)(const struct ini_key *k, const char *value, void *field, char *err,
                            size_t errlen);

enum {
    INI_REQUIRED = 1u << 0, /* missing: "missing (required)" at the section header */
    INI_EMPTY_OK = 1u << 1, /* `key =` is a value; otherwise "empty value" */
};
/* Flag bits from here up are the program's own (for its cross-checks: on
 * which variant of a section a key applies).  A key with such a bit, or a
 * tag, is required only where the program's own check says so. */
#define INI_USER(n) (1u << (8 + (n)))

struct ini_key {
    const char *name;
    ini_parse_fn parse;
    size_t offset, size; /* the field, from the base the section's open() gave */
    double min, max;     /* numbers; durations in ms; sizes in bytes */
    const char *dflt;    /* parsed like a value when the section opens */
    unsigned flags;
    const struct name_value *names; /* ini_enum */
    unsigned tag;                   /* the program's own (e.g. sensor kinds that have it) */
};

#define INI_FIELD(type, member)                                                                    \
    .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* Where each key of one section instance was set (line 0: not set), and
 * whether its value was refused, so that later checks neither call it
 * missing nor build on it.  Indexed like the section's key table. */
struct ini_keyset {
    int line[INI_KEYS_MAX];
    bool bad[INI_KEYS_MAX];
};

/* Set, and with a valid value. */
static inline bool ini_key_ok(const struct ini_keyset *ks, int i)
{
    return ks->line[i] > 0 && !ks->bad[i];
}

/* Parsers for the key tables: the value into the field, checked against
 * the key's min and max where they apply (both 0: no range). */
int ini_int(const struct ini_key *, const char *, void *, char *, size_t);         /* int */
int ini_double(const struct ini_key *, const char *, void *, char *, size_t);      /* double */
int ini_duration_ms(const struct ini_key *, const char *, void *, char *, size_t); /* int, ms */
int ini_duration_s(const struct ini_key *, const char *, void *, char *, size_t); /* int, whole s */
int ini_bool(const struct ini_key *, const char *, void *, char *, size_t);       /* bool */
int ini_enum(const struct ini_key *, const char *, void *, char *, size_t); /* int or char, names */
int ini_size(const struct ini_key *, const char *, void *, char *, size_t); /* uint64_t bytes */
int ini_rate(const struct ini_key *, const char *, void *, char *,
             size_t); /* parse_rate, max: count */
int ini_text(const struct ini_key *, const char *, void *, char *,
             size_t); /* char[], printable UTF-8 */
int ini_slug(const struct ini_key *, const char *, void *, char *,
             size_t); /* char[], A-Z a-z 0-9 _ - */
int ini_topic(const struct ini_key *, const char *, void *, char *,
              size_t); /* char[], slugs and '/' */
int ini_host(const struct ini_key *, const char *, void *, char *, size_t); /* char[], no blanks */
int ini_url(const struct ini_key *, const char *, void *, char *,
            size_t); /* char[], http(s)://HOST... */

/* True when s[0..len) is a slug: 1 or more of A-Z a-z 0-9 _ - (a topic
 * level, an InfluxDB tag, a section NAME). */
bool ini_is_slug(const char *s, size_t len);

/* Parse every key of the table that has a default into base (a default its
 * own parser refuses is a bug in the table: abort). */
void ini_apply_defaults(const struct ini_key *keys, int nkeys, void *base);

/* ---- sections ---- */

enum {
    INI_NAMED = 1u << 0,       /* [type NAME], repeatable with other names; else [type], once */
    INI_SECTION_REQ = 1u << 1, /* at least one must be in the file */
    INI_LENIENT = 1u << 2,     /* its errors are warnings in a lenient load (ini_fatal) */
};

/* The type of a section that stands for every type the table does not
 * list: such sections are read (the line rules hold) and their keys
 * skipped, for a program that reads some sections of another program's
 * file (shelter-report and the gateway's [influx]).  Its open() is not
 * called. */
#define INI_OTHER "*"

struct ini_section {
    const char *type; /* the header's first word, or INI_OTHER */
    const struct ini_key *keys;
    int nkeys;
    unsigned flags;
    /* At each valid header: where this instance's keys go.  Returns the
     * base the key offsets count from and sets *ks (ini zeroes it, then
     * applies the table's defaults to the base).  Both stay valid until the
     * next header or the end of the file.  NULL refuses the header: with a
     * reason in err (reported at the header), or with err "" when out of
     * memory.  name is "" for an unnamed section. */
    void *(*open)(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                  size_t errlen);
    /* Optional: a key the table does not have.  0 when taken, -1 with a
     * reason in err.  NULL: every such key is "unknown key". */
    int (*other_key)(void *user, void *base, const char *key, const char *value, int line,
                     char *err, size_t errlen);
    /* Optional, named sections: the rule for NAME, 0 or -1 with a reason
     * (printed after "[type NAME]: ").  NULL: a slug of at most
     * INI_NAME_MAX - 1 bytes. */
    int (*name_ok)(const char *name, char *err, size_t errlen);
};

/* ---- reading ---- */

/* A reader of the file at path (also the FILE of every problem) with these
 * sections; user goes to their callbacks.  NULL when out of memory. */
struct ini *ini_new(const char *path, const struct ini_section *sections, int nsections,
                    void *user);
void ini_free(struct ini *ini);

/* Read the whole file through the tables; every problem goes to the list.
 * 0 when it was read (problems or not), -1 when it could not be opened
 * (reported as "FILE: cannot open: REASON", errno set) or memory ran out.
 * Call once. */
int ini_read(struct ini *ini);

/* The longest key line, without indentation and trailing blanks (inih's
 * line buffer less its line end: 198 with Debian's libinih). */
int ini_line_max(void);

/* Headers of this type seen, valid or not (e.g. "no sensor" needs none). */
int ini_headers(const struct ini *ini, const char *type);

/* The last line of the file, at least 1: where what is missing from the
 * whole file is reported. */
int ini_last_line(const struct ini *ini);

const char *ini_path(const struct ini *ini);

/* The digest of what was read: the first 64 bits of a SHA-256 (16 hex
 * digits and a NUL in buf, len >= INI_DIGEST_SIZE) over every section header
 * ("[type NAME]") and every `key=value` in file order.  Comments, blank
 * lines, indentation, blanks around '=' and before a ` ;` comment, CR LF and
 * a byte order mark do not count; any change of a header, key or value
 * does.  The gateway publishes it as its configuration's hash (a change
 * detector, not a signature).  0, or -1 (ENOMEM, ENOSPC). */
#define INI_DIGEST_SIZE 17
int ini_digest(const struct ini *ini, char *buf, size_t len);

/* ---- the problem list ---- */

/* Add a problem "FILE:LINE: [label] key: reason"; label ("bus rs485-1") and
 * key may be NULL; line 0 means the file as a whole ("FILE: reason").  The
 * label's first word names the section, whose flags say whether the
 * problem is lenient. */
void ini_error(struct ini *ini, int line, const char *label, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void ini_warning(struct ini *ini, int line, const char *label, const char *key, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
/* An error whose whole line is text already (another file's problem). */
void ini_error_text(struct ini *ini, int line, const char *text);

struct ini_problem {
    int line;
    bool warning;
    bool lenient;     /* an error in an INI_LENIENT section */
    const char *type; /* the section's type, NULL outside any */
    const char *text; /* the whole line, without "\n" */
};

/* The problems, sorted by line (in the order found within a line). */
int ini_count(struct ini *ini);
const struct ini_problem *ini_problem(struct ini *ini, int i);

/* How many problems fail the load: the errors, less those of INI_LENIENT
 * sections when lenient; at least 1 when memory ran out. */
int ini_fatal(const struct ini *ini, bool lenient);

/* Memory ran out while reading or recording problems. */
bool ini_oom(const struct ini *ini);

/* Print every problem, one line each; returns how many. */
int ini_print(struct ini *ini, FILE *out);
/* The same in lang (ini_translate() of each line). */
int ini_print_lang(struct ini *ini, FILE *out, enum gw_lang lang);

/* ---- problems in Chinese (ini_zh.c) ---- */

/* A problem line "PATH:LINE: [section] key: reason" (any of the parts
 * before the reason may be absent; path: the file's, to tell where the
 * reason starts) in lang: LANG_EN as it is; LANG_ZH with the reason in
 * Chinese, saying what to do, while FILE:LINE, section and key stay as
 * they are (they are what the installer finds in the file).  Returns the
 * length (snprintf style, cut on a character boundary), or -1 when the
 * reason has no Chinese form (out then holds the line as it is). */
int ini_translate(const char *line, const char *path, enum gw_lang lang, char *out, size_t len);

#endif
