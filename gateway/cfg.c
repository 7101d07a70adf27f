/*
 * cfg: loads the gateway configuration (docs/design.md section 6) into an immutable struct.
 *
 * inih tokenizes `key = value` lines; this module feeds it one physical line
 * at a time through its own reader.  That is the main design choice: the
 * reader is what knows the line of every key (Debian's inih is built without
 * INI_HANDLER_LINENO), sees every section header (inih reports none, so an
 * empty or repeated section would be invisible), and notices every malformed
 * line (inih only returns the first).  Leading whitespace is stripped before
 * inih sees a line and only key lines are handed on, so inih's
 * configparser-style continuation lines can never happen and its comment and
 * section rules cannot differ from ours: an indented line is an ordinary line,
 * and a stray indented value is a syntax error, never part of a previous key.
 *
 * Keys map into the structs through one table per section {key, parser,
 * field, range, default, flags}; defaults go through the same parsers as
 * values.  Rules that span keys or sections (bus type, bus references,
 * models, DI channels) run after the whole file is read.  Every problem is
 * collected, sorted by line and printed at the end.  Owns the model set.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gwerr.h"

#if INI_HANDLER_LINENO
#error "cfg.c expects the inih handler without a line number (Debian's libinih)"
#endif

#define KEYS_MAX 16
#define CHANNEL_MAX 31    /* inverted_mask is 32 bits wide */
#define SENSOR_CHANNELS 6 /* closed, locked, open, alarm, fault, input */
#define LABEL_MAX (CFG_NAME_MAX + 16)

/* ---- problems: collected, then sorted by line and printed ---- */

/* Problems of [mqtt] and [influx] affect the uplink only: in
 * CFG_UPLINK_LENIENT mode they do not fail the load (see cfg.h). */
enum problem_scope { SCOPE_CORE, SCOPE_MQTT, SCOPE_INFLUX };

struct problem {
    int line;
    int seq; /* keeps problems of one line in the order found */
    enum problem_scope scope;
    char *text; /* the whole output line */
};

struct problems {
    struct problem *v;
    int n, cap;
    bool oom;
};

/* ---- parse state ---- */

enum section_type { SEC_NONE, SEC_GATEWAY, SEC_MQTT, SEC_INFLUX, SEC_BUS, SEC_SENSOR, SEC_SKIP };
enum line_class { LINE_BLANK, LINE_HEADER, LINE_KEY };

/* Where each key of one section instance was set; 0 = not set.  `bad`
 * marks a key present with an invalid value, so later rules neither call it
 * missing nor build on its (default) value. */
struct keyset {
    int line[KEYS_MAX];
    bool bad[KEYS_MAX];
};

struct bus_parse {
    struct cfg_bus b;
    struct keyset ks;
};

struct extra_key { /* a sensor key the kind table does not know */
    char *key, *value;
    int line;
};

struct sensor_parse {
    struct cfg_sensor s;
    char bus_name[CFG_NAME_MAX];
    char model_name[MODEL_NAME_MAX];
    struct keyset ks;
    struct extra_key *extra;
    int nextra;
    /* filled by validation, for the checks across sensors */
    bool shareable; /* bus, unit and model known */
    int nch;
    int ch[SENSOR_CHANNELS], ch_key[SENSOR_CHANNELS];
};

struct parse {
    const char *path;
    struct cfg *c;
    /* reader */
    FILE *fp;
    char *buf;
    size_t bufcap;
    const char *text; /* current line, whitespace-stripped, inside buf */
    int lineno;
    enum line_class cls;
    bool handled; /* inih called the handler for the current line */
    bool eof;
    /* current section */
    enum section_type cur;
    int cur_index;
    char cur_label[LABEL_MAX];
    /* sections seen */
    int gateway_line, mqtt_line, influx_line;
    struct keyset gateway_ks, mqtt_ks, influx_ks;
    struct bus_parse *buses;
    int nbuses;
    struct sensor_parse *sensors;
    int nsensors;
    int sensor_headers; /* including invalid ones, for "no sensor" */
    struct problems probs;
};

/* ---- key tables ---- */

struct key_desc;
typedef int (*value_parser)(const struct key_desc *k, const char *value, void *field, char *err,
                            size_t errlen);

enum {
    K_REQUIRED = 1u << 0, /* required where the key applies */
    K_RTU = 1u << 1,      /* only on rtu buses */
    K_TCP = 1u << 2,      /* only on tcp buses */
    K_INPUTS = 1u << 3,   /* only on models with an "inputs" point */
    K_EMPTY_OK = 1u << 4, /* `key =` is a valid (empty) value */
};

struct key_desc {
    const char *key;
    value_parser parse;
    size_t offset;    /* into the section's base struct */
    size_t size;      /* of the field */
    double min, max;  /* numbers; durations in ms */
    const char *dflt; /* parsed like a value when the section starts */
    unsigned flags;
    unsigned kinds;                 /* sensor keys: kinds that have it; 0 = every kind */
    const struct name_value *names; /* enum keys */
};

#define FIELD(type, member) .offset = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define KIND_BIT(k) (1u << (k))
#define DI_KINDS (KIND_BIT(KIND_BLAST_DOOR) | KIND_BIT(KIND_SMOKE) | KIND_BIT(KIND_WATER_LEAK))

static int p_slug(const struct key_desc *, const char *, void *, char *, size_t);
static int p_topic(const struct key_desc *, const char *, void *, char *, size_t);
static int p_text(const struct key_desc *, const char *, void *, char *, size_t);
static int p_host(const struct key_desc *, const char *, void *, char *, size_t);
static int p_url(const struct key_desc *, const char *, void *, char *, size_t);
static int p_uris(const struct key_desc *, const char *, void *, char *, size_t);
static int p_int(const struct key_desc *, const char *, void *, char *, size_t);
static int p_double(const struct key_desc *, const char *, void *, char *, size_t);
static int p_duration_ms(const struct key_desc *, const char *, void *, char *, size_t);
static int p_duration_s(const struct key_desc *, const char *, void *, char *, size_t);
static int p_enum(const struct key_desc *, const char *, void *, char *, size_t);
static int p_kind(const struct key_desc *, const char *, void *, char *, size_t);
static int p_baud(const struct key_desc *, const char *, void *, char *, size_t);
static int p_channel(const struct key_desc *, const char *, void *, char *, size_t);
static int p_channels(const struct key_desc *, const char *, void *, char *, size_t);

static const struct name_value bus_type_names[] = {{"rtu", BUS_RTU}, {"tcp", BUS_TCP}, {NULL, 0}};
static const struct name_value parity_names[] = {
    {"none", 'N'}, {"even", 'E'}, {"odd", 'O'}, {NULL, 0}};

/* Enum keys store through an int; make sure the enums are int-sized. */
_Static_assert(sizeof(enum gw_mode) == sizeof(int), "enum gw_mode is not int-sized");
_Static_assert(sizeof(enum gw_lang) == sizeof(int), "enum gw_lang is not int-sized");
_Static_assert(sizeof(enum bus_type) == sizeof(int), "enum bus_type is not int-sized");
_Static_assert(sizeof(enum kind) == sizeof(int), "enum kind is not int-sized");

enum {
    GK_ID,
    GK_CITY,
    GK_DISTRICT,
    GK_STREET,
    GK_COMMUNITY,
    GK_PROPERTY,
    GK_NAME,
    GK_MODE,
    GK_STATE_DIR,
    GK_LANGUAGE,
    GK_MODELS_DIR,
    GK_TELEMETRY_MAX_ROWS,
    GK_TELEMETRY_MAX_MB,
    GK_COUNT
};
static const struct key_desc gateway_keys[GK_COUNT] = {
    [GK_ID] = {"id", p_slug, FIELD(struct cfg, id), .flags = K_REQUIRED},
    [GK_CITY] = {"city", p_slug, FIELD(struct cfg, city), .flags = K_REQUIRED},
    [GK_DISTRICT] = {"district", p_slug, FIELD(struct cfg, district), .flags = K_REQUIRED},
    [GK_STREET] = {"street", p_slug, FIELD(struct cfg, street), .flags = K_REQUIRED},
    [GK_COMMUNITY] = {"community", p_slug, FIELD(struct cfg, community), .flags = K_REQUIRED},
    [GK_PROPERTY] = {"property", p_slug, FIELD(struct cfg, property), .flags = K_REQUIRED},
    [GK_NAME] = {"name", p_text, FIELD(struct cfg, name), .flags = K_EMPTY_OK},
    [GK_MODE] = {"mode", p_enum, FIELD(struct cfg, mode), .dflt = "peacetime", .names = mode_names},
    [GK_STATE_DIR] = {"state_dir", p_text, FIELD(struct cfg, state_dir),
                      .dflt = "/var/lib/shelter-gateway"},
    [GK_LANGUAGE] = {"language", p_enum, FIELD(struct cfg, language), .dflt = "zh",
                     .names = lang_names},
    [GK_MODELS_DIR] = {"models_dir", p_text, FIELD(struct cfg, models_dir)},
    [GK_TELEMETRY_MAX_ROWS] = {"telemetry_max_rows", p_int, FIELD(struct cfg, telemetry_max_rows),
                               100, 10000000, "100000"},
    [GK_TELEMETRY_MAX_MB] = {"telemetry_max_mb", p_int, FIELD(struct cfg, telemetry_max_mb), 1,
                             4096, "64"},
};

enum {
    MK_URI,
    MK_USERNAME,
    MK_PASSWORD_FILE,
    MK_CA_FILE,
    MK_CERT_FILE,
    MK_KEY_FILE,
    MK_TOPIC_PREFIX,
    MK_KEEPALIVE,
    MK_COUNT
};
static const struct key_desc mqtt_keys[MK_COUNT] = {
    [MK_URI] = {"uri", p_uris, FIELD(struct cfg, mqtt.uri), .flags = K_REQUIRED},
    [MK_USERNAME] = {"username", p_text, FIELD(struct cfg, mqtt.username)},
    [MK_PASSWORD_FILE] = {"password_file", p_text, FIELD(struct cfg, mqtt.password_file)},
    [MK_CA_FILE] = {"ca_file", p_text, FIELD(struct cfg, mqtt.ca_file)},
    [MK_CERT_FILE] = {"cert_file", p_text, FIELD(struct cfg, mqtt.cert_file)},
    [MK_KEY_FILE] = {"key_file", p_text, FIELD(struct cfg, mqtt.key_file)},
    [MK_TOPIC_PREFIX] = {"topic_prefix", p_topic, FIELD(struct cfg, mqtt.topic_prefix),
                         .dflt = "shelter"},
    /* MQTT carries the keepalive in whole seconds, 16 bits. */
    [MK_KEEPALIVE] = {"keepalive", p_duration_s, FIELD(struct cfg, mqtt.keepalive_s), 5000, 3600000,
                      .dflt = "30s"},
};

enum { IK_URL, IK_DATABASE, IK_ORG, IK_BUCKET, IK_TOKEN_FILE, IK_COUNT };
static const struct key_desc influx_keys[IK_COUNT] = {
    [IK_URL] = {"url", p_url, FIELD(struct cfg, influx.url), .flags = K_REQUIRED},
    [IK_DATABASE] = {"database", p_text, FIELD(struct cfg, influx.database)},
    [IK_ORG] = {"org", p_text, FIELD(struct cfg, influx.org)},
    [IK_BUCKET] = {"bucket", p_text, FIELD(struct cfg, influx.bucket)},
    [IK_TOKEN_FILE] = {"token_file", p_text, FIELD(struct cfg, influx.token_file)},
};

enum {
    BK_TYPE,
    BK_DEVICE,
    BK_BAUD,
    BK_PARITY,
    BK_DATA_BITS,
    BK_STOP_BITS,
    BK_HOST,
    BK_PORT,
    BK_TIMEOUT,
    BK_RETRIES,
    BK_GAP,
    BK_COUNT
};
static const struct key_desc bus_keys[BK_COUNT] = {
    [BK_TYPE] = {"type", p_enum, FIELD(struct bus_parse, b.type), .flags = K_REQUIRED,
                 .names = bus_type_names},
    [BK_DEVICE] = {"device", p_text, FIELD(struct bus_parse, b.device),
                   .flags = K_RTU | K_REQUIRED},
    [BK_BAUD] = {"baud", p_baud, FIELD(struct bus_parse, b.baud), .dflt = "9600", .flags = K_RTU},
    [BK_PARITY] = {"parity", p_enum, FIELD(struct bus_parse, b.parity), .dflt = "none",
                   .flags = K_RTU, .names = parity_names},
    [BK_DATA_BITS] = {"data_bits", p_int, FIELD(struct bus_parse, b.data_bits), 7, 8, .dflt = "8",
                      .flags = K_RTU},
    [BK_STOP_BITS] = {"stop_bits", p_int, FIELD(struct bus_parse, b.stop_bits), 1, 2, .dflt = "1",
                      .flags = K_RTU},
    [BK_HOST] = {"host", p_host, FIELD(struct bus_parse, b.host), .flags = K_TCP | K_REQUIRED},
    [BK_PORT] = {"port", p_int, FIELD(struct bus_parse, b.port), 1, 65535, .dflt = "502",
                 .flags = K_TCP},
    [BK_TIMEOUT] = {"timeout", p_duration_ms, FIELD(struct bus_parse, b.timeout_ms), 10, 5000,
                    .dflt = "500ms"},
    [BK_RETRIES] = {"retries", p_int, FIELD(struct bus_parse, b.retries), 0, 5, .dflt = "1"},
    /* No table default: it depends on the type (rtu 20 ms, tcp 0), see check_bus(). */
    [BK_GAP] = {"gap", p_duration_ms, FIELD(struct bus_parse, b.gap_ms), 0, 1000},
};

enum {
    SK_BUS,
    SK_UNIT,
    SK_KIND,
    SK_MODEL,
    SK_INTERVAL,
    SK_LOCATION,
    SK_PIT_DEPTH,
    SK_CLOSED_INPUT,
    SK_LOCKED_INPUT,
    SK_OPEN_INPUT,
    SK_ALARM_INPUT,
    SK_FAULT_INPUT,
    SK_INPUT,
    SK_INVERTED_INPUTS,
    SK_COUNT
};
static const struct key_desc sensor_keys[SK_COUNT] = {
    [SK_BUS] = {"bus", p_slug, FIELD(struct sensor_parse, bus_name), .flags = K_REQUIRED},
    /* The range of a unit id depends on the bus type: checked in check_sensor(). */
    [SK_UNIT] = {"unit", p_int, FIELD(struct sensor_parse, s.unit), 0, 255, .flags = K_REQUIRED},
    [SK_KIND] = {"kind", p_kind, FIELD(struct sensor_parse, s.def.kind), .flags = K_REQUIRED},
    [SK_MODEL] = {"model", p_text, FIELD(struct sensor_parse, model_name), .flags = K_REQUIRED},
    [SK_INTERVAL] = {"interval", p_duration_ms, FIELD(struct sensor_parse, s.interval_ms), 100,
                     3600000, .dflt = "1s"},
    [SK_LOCATION] = {"location", p_text, FIELD(struct sensor_parse, s.location),
                     .flags = K_EMPTY_OK},
    [SK_PIT_DEPTH] = {"pit_depth", p_double, FIELD(struct sensor_parse, s.def.pit_depth_m), 0.01,
                      100, .flags = K_REQUIRED, .kinds = KIND_BIT(KIND_WATER_LEVEL)},
    [SK_CLOSED_INPUT] = {"closed_input", p_channel, FIELD(struct sensor_parse, s.def.closed_input),
                         .flags = K_INPUTS | K_REQUIRED, .kinds = KIND_BIT(KIND_BLAST_DOOR)},
    [SK_LOCKED_INPUT] = {"locked_input", p_channel, FIELD(struct sensor_parse, s.def.locked_input),
                         .flags = K_INPUTS | K_REQUIRED, .kinds = KIND_BIT(KIND_BLAST_DOOR)},
    [SK_OPEN_INPUT] = {"open_input", p_channel, FIELD(struct sensor_parse, s.def.open_input),
                       .flags = K_INPUTS, .kinds = KIND_BIT(KIND_BLAST_DOOR)},
    [SK_ALARM_INPUT] = {"alarm_input", p_channel, FIELD(struct sensor_parse, s.def.alarm_input),
                        .flags = K_INPUTS | K_REQUIRED, .kinds = KIND_BIT(KIND_SMOKE)},
    [SK_FAULT_INPUT] = {"fault_input", p_channel, FIELD(struct sensor_parse, s.def.fault_input),
                        .flags = K_INPUTS, .kinds = KIND_BIT(KIND_SMOKE)},
    [SK_INPUT] = {"input", p_channel, FIELD(struct sensor_parse, s.def.input),
                  .flags = K_INPUTS | K_REQUIRED, .kinds = KIND_BIT(KIND_WATER_LEAK)},
    [SK_INVERTED_INPUTS] = {"inverted_inputs", p_channels,
                            FIELD(struct sensor_parse, s.def.inverted_mask),
                            .flags = K_INPUTS | K_EMPTY_OK, .kinds = DI_KINDS},
};

/* The channel keys of a sensor, in the order channels are claimed. */
static const int channel_keys[SENSOR_CHANNELS] = {SK_CLOSED_INPUT, SK_LOCKED_INPUT, SK_OPEN_INPUT,
                                                  SK_ALARM_INPUT,  SK_FAULT_INPUT,  SK_INPUT};

struct section_desc {
    const char *name;
    enum section_type type;
    bool named; /* [bus NAME], [sensor NAME] */
    const struct key_desc *keys;
    int nkeys;
};

static const struct section_desc sections[] = {
    {"gateway", SEC_GATEWAY, false, gateway_keys, GK_COUNT},
    {"mqtt", SEC_MQTT, false, mqtt_keys, MK_COUNT},
    {"influx", SEC_INFLUX, false, influx_keys, IK_COUNT},
    {"bus", SEC_BUS, true, bus_keys, BK_COUNT},
    {"sensor", SEC_SENSOR, true, sensor_keys, SK_COUNT},
};
#define NSECTIONS ((int)(sizeof(sections) / sizeof(sections[0])))

_Static_assert(GK_COUNT <= KEYS_MAX && MK_COUNT <= KEYS_MAX && IK_COUNT <= KEYS_MAX &&
                   BK_COUNT <= KEYS_MAX && SK_COUNT <= KEYS_MAX,
               "KEYS_MAX too small");

/* ---- strict number parsers (exported) ---- */

struct duration_unit {
    const char *name;
    int64_t ms;
};
/* Largest first: format_duration() picks the first that divides exactly. */
static const struct duration_unit duration_units[] = {
    {"h", 3600000}, {"min", 60000}, {"s", 1000}, {"ms", 1}};
#define NDURATION_UNITS ((int)(sizeof(duration_units) / sizeof(duration_units[0])))

static void format_duration(int64_t ms, char *buf, size_t len)
{
    for (int i = 0; i < NDURATION_UNITS; i++) {
        if (ms != 0 && ms % duration_units[i].ms == 0) {
            snprintf(buf, len, "%lld%s", (long long)(ms / duration_units[i].ms),
                     duration_units[i].name);
            return;
        }
    }
    snprintf(buf, len, "%lldms", (long long)ms);
}

int parse_int(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
    char *end;
    long v;

    /* strtol would skip leading blanks and accept "0x"-less hex-free garbage
     * prefixes; insist on an optional sign followed by a digit. */
    const char *d = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    if (!isdigit((unsigned char)*d)) {
        snprintf(err, errlen, "'%.64s' is not an integer", s);
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0') {
        snprintf(err, errlen, "'%.64s' is not an integer", s);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        snprintf(err, errlen, "%.64s is out of range (%ld..%ld)", s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_double(const char *s, double min, double max, double *out, char *err, size_t errlen)
{
    char *end;
    double v;

    /* Plain decimal notation only: strtod's "nan", "inf" and hex floats are
     * never what a person meant in a config file. */
    if (s[0] == '\0' || strspn(s, "0123456789+-.eE") != strlen(s) ||
        strpbrk(s, "0123456789") == NULL) {
        snprintf(err, errlen, "'%.64s' is not a number", s);
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
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

int parse_duration_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out, char *err,
                      size_t errlen)
{
    const char *unit = s;
    const struct duration_unit *u = NULL;
    char lo[32], hi[32];

    while (isdigit((unsigned char)*unit))
        unit++;
    if (unit == s) {
        snprintf(err, errlen,
                 "'%.64s' is not a duration (a whole number with a unit: ms, s, min, h)", s);
        return -1;
    }
    if (*unit == '\0') {
        snprintf(err, errlen, "'%.64s' needs a unit (ms, s, min, h)", s);
        return -1;
    }
    for (int i = 0; i < NDURATION_UNITS; i++)
        if (strcmp(unit, duration_units[i].name) == 0)
            u = &duration_units[i];
    if (u == NULL) {
        snprintf(err, errlen, "'%.64s': unknown unit '%.16s' (use ms, s, min, h)", s, unit);
        return -1;
    }
    format_duration(min_ms, lo, sizeof(lo));
    format_duration(max_ms, hi, sizeof(hi));
    errno = 0;
    long long n = strtoll(s, NULL, 10); /* stops at the unit */
    if (errno == ERANGE || n > INT64_MAX / u->ms || n * u->ms < min_ms || n * u->ms > max_ms) {
        snprintf(err, errlen, "%.64s is out of range (%s..%s)", s, lo, hi);
        return -1;
    }
    *out = n * u->ms;
    return 0;
}

/* ---- value parsers (the "parser" column of the key tables) ---- */

static bool is_slug_char(unsigned char ch)
{
    return isalnum(ch) || ch == '_' || ch == '-';
}

/* Topic-safe: never '+', '#', '/', blanks or non-ASCII inside one level. */
static bool is_slug(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isascii((unsigned char)s[i]) || !is_slug_char((unsigned char)s[i]))
            return false;
    return true;
}

static int fits(const struct key_desc *k, const char *value, char *err, size_t errlen)
{
    if (strlen(value) >= k->size) {
        snprintf(err, errlen, "too long (at most %zu bytes)", k->size - 1);
        return -1;
    }
    return 0;
}

static int p_slug(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    if (!is_slug(value, strlen(value))) {
        snprintf(err, errlen, "'%.64s' is not topic-safe (use only A-Z a-z 0-9 _ -)", value);
        return -1;
    }
    if (fits(k, value, err, errlen) == -1)
        return -1;
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

/* A topic prefix may have several levels ("cn/shelter"), each a slug. */
static int p_topic(const struct key_desc *k, const char *value, void *field, char *err,
                   size_t errlen)
{
    const char *level = value;
    for (;;) {
        size_t len = strcspn(level, "/");
        if (!is_slug(level, len)) {
            snprintf(err, errlen,
                     "'%.64s' is not topic-safe (levels of A-Z a-z 0-9 _ - separated by '/')",
                     value);
            return -1;
        }
        if (level[len] == '\0')
            break;
        level += len + 1;
    }
    if (fits(k, value, err, errlen) == -1)
        return -1;
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

/* Well-formed UTF-8 without control characters (no overlongs, surrogates). */
static bool valid_utf8_text(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        int extra;
        unsigned cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            s++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (int i = 1; i <= extra; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        s += extra + 1;
    }
    return true;
}

static int p_text(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    if (!valid_utf8_text(value)) {
        snprintf(err, errlen, "not valid UTF-8 text");
        return -1;
    }
    if (fits(k, value, err, errlen) == -1)
        return -1;
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static int p_host(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    for (const char *q = value; *q; q++) {
        if (!isgraph((unsigned char)*q)) {
            snprintf(err, errlen, "'%.64s' is not a host name or address", value);
            return -1;
        }
    }
    if (fits(k, value, err, errlen) == -1)
        return -1;
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static int p_url(const struct key_desc *k, const char *value, void *field, char *err, size_t errlen)
{
    const char *rest = NULL;
    if (strncmp(value, "http://", 7) == 0)
        rest = value + 7;
    else if (strncmp(value, "https://", 8) == 0)
        rest = value + 8;
    if (rest == NULL || *rest == '\0' || *rest == '/') {
        snprintf(err, errlen, "'%.64s' is not an http:// or https:// URL", value);
        return -1;
    }
    return p_host(k, value, field, err, errlen);
}

/* One MQTT broker URI: tcp://HOST[:PORT] or ssl://..., HOST may be [IPv6]. */
static int check_uri(const char *uri, char *err, size_t errlen)
{
    const char *host, *port = NULL;
    size_t hostlen;
    long portnum;
    char perr[64];

    if (strncmp(uri, "tcp://", 6) != 0 && strncmp(uri, "ssl://", 6) != 0) {
        snprintf(err, errlen, "'%.64s' must start with tcp:// or ssl://", uri);
        return -1;
    }
    host = uri + 6;
    if (strchr(host, '/') != NULL) {
        snprintf(err, errlen, "'%.64s': a broker URI has no path", uri);
        return -1;
    }
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(err, errlen, "'%.64s': bad [IPv6] address", uri);
            return -1;
        }
        hostlen = (size_t)(close - host - 1);
        if (close[1] == ':')
            port = close + 2;
    } else {
        const char *colon = strchr(host, ':');
        hostlen = colon != NULL ? (size_t)(colon - host) : strlen(host);
        if (colon != NULL)
            port = colon + 1;
    }
    if (hostlen == 0) {
        snprintf(err, errlen, "'%.64s' has no host", uri);
        return -1;
    }
    if (port != NULL && parse_int(port, 1, 65535, &portnum, perr, sizeof(perr)) == -1) {
        snprintf(err, errlen, "'%.64s': port %s", uri, perr);
        return -1;
    }
    return 0;
}

/* uri: one or more URIs separated by blanks and/or commas. */
static int p_uris(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    char(*uri)[CFG_TEXT_MAX] = field;
    char one[CFG_TEXT_MAX];
    int n = 0;
    const char *q = value;
    (void)k;

    memset(uri, 0, sizeof(char[CFG_URI_MAX][CFG_TEXT_MAX]));
    for (;;) {
        q += strspn(q, " \t,");
        if (*q == '\0')
            break;
        size_t len = strcspn(q, " \t,");
        if (len >= sizeof(one)) {
            snprintf(err, errlen, "a URI is too long (at most %zu bytes)", sizeof(one) - 1);
            return -1;
        }
        memcpy(one, q, len);
        one[len] = '\0';
        if (check_uri(one, err, errlen) == -1)
            return -1;
        if (n == CFG_URI_MAX) {
            snprintf(err, errlen, "too many URIs (at most %d)", CFG_URI_MAX);
            return -1;
        }
        memcpy(uri[n++], one, len + 1);
        q += len;
    }
    if (n == 0) {
        snprintf(err, errlen, "no URI given");
        return -1;
    }
    return 0;
}

static int p_int(const struct key_desc *k, const char *value, void *field, char *err, size_t errlen)
{
    long v;
    if (parse_int(value, (long)k->min, (long)k->max, &v, err, errlen) == -1)
        return -1;
    *(int *)field = (int)v;
    return 0;
}

static int p_double(const struct key_desc *k, const char *value, void *field, char *err,
                    size_t errlen)
{
    return parse_double(value, k->min, k->max, (double *)field, err, errlen);
}

static int p_duration_ms(const struct key_desc *k, const char *value, void *field, char *err,
                         size_t errlen)
{
    int64_t ms;
    if (parse_duration_ms(value, (int64_t)k->min, (int64_t)k->max, &ms, err, errlen) == -1)
        return -1;
    *(int *)field = (int)ms;
    return 0;
}

static int p_duration_s(const struct key_desc *k, const char *value, void *field, char *err,
                        size_t errlen)
{
    int64_t ms;
    if (parse_duration_ms(value, (int64_t)k->min, (int64_t)k->max, &ms, err, errlen) == -1)
        return -1;
    if (ms % 1000 != 0) {
        snprintf(err, errlen, "%.64s is not a whole number of seconds", value);
        return -1;
    }
    *(int *)field = (int)(ms / 1000);
    return 0;
}

static void list_names(const struct name_value *names, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const struct name_value *nv = names; nv->name != NULL && used < len; nv++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", nv->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int p_enum(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    char list[128];
    for (const struct name_value *nv = k->names; nv->name != NULL; nv++) {
        if (strcmp(nv->name, value) == 0) {
            if (k->size == sizeof(char))
                *(char *)field = (char)nv->value;
            else
                *(int *)field = nv->value;
            return 0;
        }
    }
    list_names(k->names, list, sizeof(list));
    snprintf(err, errlen, "'%.64s' is not one of: %s", value, list);
    return -1;
}

static int p_kind(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    enum kind kind;
    char list[128];
    size_t used = 0;
    (void)k;

    if (kind_from_name(value, &kind) == 0) {
        *(enum kind *)field = kind;
        return 0;
    }
    list[0] = '\0';
    for (int i = 0; i < KIND_COUNT && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                         kind_name((enum kind)i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    snprintf(err, errlen, "unknown kind '%.64s' (one of: %s)", value, list);
    return -1;
}

/* libmodbus silently falls back to 9600 for a rate it does not know, so only
 * rates every RS-485 adapter supports are accepted. */
static const int bauds[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};

static int p_baud(const struct key_desc *k, const char *value, void *field, char *err,
                  size_t errlen)
{
    long v;
    (void)k;
    if (parse_int(value, 1, 4000000, &v, err, errlen) == -1)
        return -1;
    for (size_t i = 0; i < sizeof(bauds) / sizeof(bauds[0]); i++) {
        if (bauds[i] == v) {
            *(int *)field = (int)v;
            return 0;
        }
    }
    snprintf(err, errlen,
             "%ld is not a supported baud rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, "
             "115200)",
             v);
    return -1;
}

static int p_channel(const struct key_desc *k, const char *value, void *field, char *err,
                     size_t errlen)
{
    long v;
    (void)k;
    if (parse_int(value, 0, CHANNEL_MAX, &v, err, errlen) == -1)
        return -1;
    *(int *)field = (int)v;
    return 0;
}

/* inverted_inputs: channel numbers separated by blanks and/or commas. */
static int p_channels(const struct key_desc *k, const char *value, void *field, char *err,
                      size_t errlen)
{
    unsigned mask = 0;
    const char *q = value;
    char one[32];
    long ch;
    (void)k;

    for (;;) {
        q += strspn(q, " \t,");
        if (*q == '\0')
            break;
        size_t len = strcspn(q, " \t,");
        if (len >= sizeof(one))
            len = sizeof(one) - 1; /* still not a valid number: parse_int says so */
        memcpy(one, q, len);
        one[len] = '\0';
        if (parse_int(one, 0, CHANNEL_MAX, &ch, err, errlen) == -1)
            return -1;
        if (mask & (1u << ch)) {
            snprintf(err, errlen, "channel %ld listed twice", ch);
            return -1;
        }
        mask |= 1u << ch;
        q += strcspn(q, " \t,");
    }
    *(unsigned *)field = mask;
    return 0;
}

/* ---- problems ---- */

static void add_problem_text(struct parse *p, int line, enum problem_scope scope, char *text)
{
    struct problems *pr = &p->probs;
    if (text == NULL) {
        pr->oom = true;
        return;
    }
    if (pr->n == pr->cap) {
        int cap = pr->cap ? pr->cap * 2 : 16;
        struct problem *v = realloc(pr->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            free(text);
            pr->oom = true;
            return;
        }
        pr->v = v;
        pr->cap = cap;
    }
    pr->v[pr->n] = (struct problem){.line = line, .seq = pr->n, .scope = scope, .text = text};
    pr->n++;
}

/* "FILE:LINE: [section] key: reason"; section and key may be NULL; line 0
 * (the file itself cannot be read) gives "FILE: reason". */
static void problem(struct parse *p, int line, const char *section, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(struct parse *p, int line, const char *section, const char *key,
                    const char *fmt, ...)
{
    char text[1024];
    size_t used;
    va_list ap;

    if (line > 0)
        snprintf(text, sizeof(text), "%s:%d: ", p->path, line);
    else
        snprintf(text, sizeof(text), "%s: ", p->path);
    used = strlen(text);
    if (section != NULL && key != NULL)
        snprintf(text + used, sizeof(text) - used, "[%s] %s: ", section, key);
    else if (section != NULL)
        snprintf(text + used, sizeof(text) - used, "[%s]: ", section);
    else if (key != NULL)
        snprintf(text + used, sizeof(text) - used, "%s: ", key);
    used = strlen(text);
    va_start(ap, fmt);
    vsnprintf(text + used, sizeof(text) - used, fmt, ap);
    va_end(ap);
    enum problem_scope scope = SCOPE_CORE;
    if (section != NULL && strcmp(section, "mqtt") == 0)
        scope = SCOPE_MQTT;
    else if (section != NULL && strcmp(section, "influx") == 0)
        scope = SCOPE_INFLUX;
    add_problem_text(p, line, scope, strdup(text));
}

static bool problem_at(const struct parse *p, int line)
{
    for (int i = 0; i < p->probs.n; i++)
        if (p->probs.v[i].line == line)
            return true;
    return false;
}

static int problem_cmp(const void *a, const void *b)
{
    const struct problem *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Where to report what is missing from the whole file: its last line. */
static int eof_line(const struct parse *p)
{
    return p->lineno > 0 ? p->lineno : 1;
}

/* ---- sections and keys ---- */

static void *field_of(void *base, const struct key_desc *k)
{
    return (char *)base + k->offset;
}

static void apply_defaults(const struct key_desc *keys, int nkeys, void *base)
{
    char err[256];
    for (int i = 0; i < nkeys; i++) {
        const struct key_desc *k = &keys[i];
        if (k->parse == p_channel)
            *(int *)field_of(base, k) = -1; /* "not wired" */
        /* A table default that its own parser rejects is a programming error. */
        if (k->dflt != NULL && k->parse(k, k->dflt, field_of(base, k), err, sizeof(err)) != 0)
            abort();
    }
}

static void *grow(void *v, int n, size_t elem)
{
    /* Arrays grow by one section at a time; configs have tens of sections. */
    return realloc(v, (size_t)(n + 1) * elem);
}

/* Parse "[type name]" (text starts with '[').  Sets the current section,
 * which is SEC_SKIP when the header is invalid so that its keys give no
 * further noise. */
static void start_section(struct parse *p, const char *text)
{
    const struct section_desc *sd = NULL;
    const char *close = strchr(text, ']');
    const char *inner, *end, *name;
    size_t typelen, namelen;
    int line = p->lineno;

    p->cur = SEC_SKIP;
    if (close == NULL) {
        snprintf(p->cur_label, sizeof(p->cur_label), "%.*s", 40, text + 1);
        problem(p, line, NULL, NULL, "section header without ']'");
        return;
    }
    inner = text + 1;
    while (inner < close && isspace((unsigned char)*inner))
        inner++;
    end = close;
    while (end > inner && isspace((unsigned char)end[-1]))
        end--;
    snprintf(p->cur_label, sizeof(p->cur_label), "%.*s",
             (int)(end - inner) < 60 ? (int)(end - inner) : 60, inner);
    const char *after = close + 1;
    after += strspn(after, " \t");
    if (*after != '\0' && *after != ';' && *after != '#') {
        problem(p, line, p->cur_label, NULL, "unexpected text after ']'");
        return;
    }
    typelen = strcspn(inner, " \t]");
    name = inner + typelen;
    while (name < end && isspace((unsigned char)*name))
        name++;
    namelen = (size_t)(end - name);
    for (int i = 0; i < NSECTIONS; i++)
        if (strlen(sections[i].name) == typelen && strncmp(sections[i].name, inner, typelen) == 0)
            sd = &sections[i];
    if (sd == NULL) {
        problem(p, line, p->cur_label, NULL,
                "unknown section (expected gateway, mqtt, influx, bus NAME or sensor NAME)");
        return;
    }
    if (sd->named && namelen == 0) {
        problem(p, line, p->cur_label, NULL, "needs a name: [%s NAME]", sd->name);
        return;
    }
    if (!sd->named && namelen > 0) {
        problem(p, line, p->cur_label, NULL, "takes no name: [%s]", sd->name);
        return;
    }
    if (sd->named && (!is_slug(name, namelen) || namelen >= CFG_NAME_MAX)) {
        problem(p, line, p->cur_label, NULL,
                "name '%.*s' is not topic-safe (use only A-Z a-z 0-9 _ -, at most %d bytes)",
                (int)namelen, name, CFG_NAME_MAX - 1);
        return;
    }

    int *seen = NULL;
    switch (sd->type) {
    case SEC_GATEWAY:
        seen = &p->gateway_line;
        break;
    case SEC_MQTT:
        seen = &p->mqtt_line;
        break;
    case SEC_INFLUX:
        seen = &p->influx_line;
        break;
    case SEC_BUS:
        for (int i = 0; i < p->nbuses; i++)
            if (strlen(p->buses[i].b.name) == namelen &&
                strncmp(p->buses[i].b.name, name, namelen) == 0)
                seen = &p->buses[i].b.line;
        break;
    case SEC_SENSOR:
        p->sensor_headers++;
        /* alarm/gateway/... carries the gateway's own alarms (disk). */
        if (namelen == strlen("gateway") && strncmp(name, "gateway", namelen) == 0) {
            problem(p, line, p->cur_label, NULL,
                    "the name 'gateway' is reserved for the gateway's own alarms");
            return;
        }
        for (int i = 0; i < p->nsensors; i++)
            if (strlen(p->sensors[i].s.name) == namelen &&
                strncmp(p->sensors[i].s.name, name, namelen) == 0)
                seen = &p->sensors[i].s.line;
        break;
    default:
        break;
    }
    if (seen != NULL && *seen > 0) {
        problem(p, line, p->cur_label, NULL, "duplicate section (first at line %d)", *seen);
        return;
    }

    switch (sd->type) {
    case SEC_GATEWAY:
        p->gateway_line = line;
        break;
    case SEC_MQTT:
        p->mqtt_line = line;
        break;
    case SEC_INFLUX:
        p->influx_line = line;
        p->c->influx.enabled = 1;
        break;
    case SEC_BUS: {
        struct bus_parse *v = grow(p->buses, p->nbuses, sizeof(*v));
        if (v == NULL) {
            p->probs.oom = true;
            return;
        }
        p->buses = v;
        struct bus_parse *bp = &p->buses[p->nbuses];
        memset(bp, 0, sizeof(*bp));
        memcpy(bp->b.name, name, namelen);
        bp->b.line = line;
        apply_defaults(bus_keys, BK_COUNT, bp);
        p->cur_index = p->nbuses++;
        break;
    }
    case SEC_SENSOR: {
        struct sensor_parse *v = grow(p->sensors, p->nsensors, sizeof(*v));
        if (v == NULL) {
            p->probs.oom = true;
            return;
        }
        p->sensors = v;
        struct sensor_parse *sp = &p->sensors[p->nsensors];
        memset(sp, 0, sizeof(*sp));
        memcpy(sp->s.name, name, namelen);
        sp->s.line = line;
        apply_defaults(sensor_keys, SK_COUNT, sp);
        p->cur_index = p->nsensors++;
        break;
    }
    default:
        break;
    }
    p->cur = sd->type;
}

/* The one place where sensor keys outside the kind table go.  The alarm
 * engine's per-sensor overrides of its defaults (docs/design.md section 9) will be handed to
 * alarm_cfg_set() here once that exists; until then every such key is
 * unknown.  Called after the whole file is read, so the sensor's kind is
 * known (kind_known false: the kind key is missing or invalid, already
 * reported). */
static int sensor_extra_key(struct cfg_sensor *s, bool kind_known, const char *key,
                            const char *value, char *err, size_t errlen)
{
    if (!kind_known) {
        snprintf(err, errlen, "unknown key (or an alarm key of a sensor without a valid kind)");
        return -1;
    }
    int rc = alarm_cfg_set(&s->alarm, s->def.kind, key, value, err, errlen);
    if (rc == 1)
        snprintf(err, errlen, "unknown key");
    return rc == 0 ? 0 : -1;
}

static int remember_extra_key(struct sensor_parse *sp, const char *key, const char *value, int line)
{
    struct extra_key *v = grow(sp->extra, sp->nextra, sizeof(*v));
    if (v == NULL)
        return -1;
    sp->extra = v;
    v[sp->nextra].key = strdup(key);
    v[sp->nextra].value = strdup(value);
    v[sp->nextra].line = line;
    sp->nextra++;
    if (v[sp->nextra - 1].key == NULL || v[sp->nextra - 1].value == NULL)
        return -1;
    return 0;
}

/* inih handler: one `key = value` of the line the reader handed out last. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct parse *p = user;
    const struct key_desc *keys = NULL;
    struct keyset *ks = NULL;
    void *base = NULL;
    int nkeys = 0, line = p->lineno;
    const char *label = p->cur == SEC_NONE ? NULL : p->cur_label;
    char err[256];

    (void)section; /* ours, from the reader, is the one that knows lines */
    if (p->handled)
        return 1; /* cannot happen with one line per read; never count a line twice */
    p->handled = true;
    const char *sep = strpbrk(p->text, "=:");
    if (value == NULL || sep == NULL || *sep != '=') {
        /* inih also splits at ':' (configparser); here only '=' is allowed. */
        problem(p, line, label, NULL, "expected `key = value`");
        return 1;
    }
    if (key[0] == '\0') {
        problem(p, line, label, NULL, "missing key before '='");
        return 1;
    }

    switch (p->cur) {
    case SEC_NONE:
        problem(p, line, NULL, key, "key outside any section");
        return 1;
    case SEC_SKIP:
        return 1;
    case SEC_GATEWAY:
        keys = gateway_keys, nkeys = GK_COUNT, ks = &p->gateway_ks, base = p->c;
        break;
    case SEC_MQTT:
        keys = mqtt_keys, nkeys = MK_COUNT, ks = &p->mqtt_ks, base = p->c;
        break;
    case SEC_INFLUX:
        keys = influx_keys, nkeys = IK_COUNT, ks = &p->influx_ks, base = p->c;
        break;
    case SEC_BUS:
        keys = bus_keys, nkeys = BK_COUNT, ks = &p->buses[p->cur_index].ks;
        base = &p->buses[p->cur_index];
        break;
    case SEC_SENSOR:
        keys = sensor_keys, nkeys = SK_COUNT, ks = &p->sensors[p->cur_index].ks;
        base = &p->sensors[p->cur_index];
        break;
    }

    int i = 0;
    while (i < nkeys && strcmp(keys[i].key, key) != 0)
        i++;
    if (i == nkeys) {
        if (p->cur == SEC_SENSOR) {
            if (remember_extra_key(&p->sensors[p->cur_index], key, value, line) == -1)
                p->probs.oom = true;
        } else {
            problem(p, line, label, key, "unknown key");
        }
        return 1;
    }
    const struct key_desc *k = &keys[i];
    if (ks->line[i] > 0) {
        problem(p, line, label, key, "duplicate key (first at line %d)", ks->line[i]);
        return 1;
    }
    ks->line[i] = line;
    if (value[0] == '\0' && !(k->flags & K_EMPTY_OK)) {
        ks->bad[i] = true;
        problem(p, line, label, key, "empty value");
    } else if (k->parse(k, value, field_of(base, k), err, sizeof(err)) == -1) {
        ks->bad[i] = true;
        problem(p, line, label, key, "%s", err);
    }
    return 1;
}

/* A key line inih did not hand to the handler was malformed. */
static void finish_line(struct parse *p)
{
    if (p->lineno > 0 && p->cls == LINE_KEY && !p->handled)
        problem(p, p->lineno, p->cur == SEC_NONE ? NULL : p->cur_label, NULL,
                "expected `key = value`");
    p->cls = LINE_BLANK;
    p->handled = false;
}

/* inih reader: exactly one physical line per call (so inih's line count is
 * ours), whitespace-stripped, and only key lines; blank, comment and header
 * lines are handled here and reach inih as empty lines. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    char *text;
    size_t len;

    finish_line(p);
    errno = 0;
    ssize_t n = getline(&p->buf, &p->bufcap, p->fp);
    if (n < 0) {
        if (ferror(p->fp))
            problem(p, 0, NULL, NULL, "read error after line %d: %s", p->lineno,
                    strerror(errno ? errno : EIO));
        p->eof = true;
        return NULL;
    }
    p->lineno++;
    text = p->buf;
    len = (size_t)n;
    if (memchr(text, '\0', len) != NULL) {
        problem(p, p->lineno, NULL, NULL, "NUL byte in line");
        goto empty;
    }
    if (p->lineno == 1 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* UTF-8 byte order mark written by some Windows editors */
        len -= 3;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
    while (len > 0 && isspace((unsigned char)*text))
        text++, len--;
    p->text = text;

    if (len == 0 || text[0] == ';' || text[0] == '#')
        goto empty;
    if (text[0] == '[') {
        start_section(p, text);
        goto empty;
    }
    p->cls = LINE_KEY;
    if (len + 2 > (size_t)num) {
        /* inih would cut the line and read the rest as another line. */
        problem(p, p->lineno, p->cur == SEC_NONE ? NULL : p->cur_label, NULL,
                "line too long (at most %d bytes)", num - 2);
        p->handled = true;
        goto empty;
    }
    memcpy(str, text, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
empty:
    str[0] = '\n';
    str[1] = '\0';
    return str;
}

/* ---- validation after the whole file is read ---- */

static bool key_ok(const struct keyset *ks, int i)
{
    return ks->line[i] > 0 && !ks->bad[i];
}

static void check_required(struct parse *p, const char *label, int header_line,
                           const struct key_desc *keys, int nkeys, const struct keyset *ks)
{
    for (int i = 0; i < nkeys; i++)
        if ((keys[i].flags & K_REQUIRED) && !(keys[i].flags & (K_RTU | K_TCP | K_INPUTS)) &&
            keys[i].kinds == 0 && ks->line[i] == 0)
            problem(p, header_line, label, keys[i].key, "missing (required)");
}

static void check_gateway(struct parse *p, const char *models_dir_default)
{
    struct cfg *c = p->c;
    if (p->gateway_line == 0) {
        problem(p, eof_line(p), "gateway", NULL, "required section missing");
    } else {
        check_required(p, "gateway", p->gateway_line, gateway_keys, GK_COUNT, &p->gateway_ks);
        if (p->gateway_ks.line[GK_NAME] == 0)
            memcpy(c->name, c->id, sizeof(c->id)); /* display name defaults to the id */
    }
    if (p->gateway_ks.line[GK_MODELS_DIR] == 0) {
        if (strlen(models_dir_default) >= sizeof(c->models_dir))
            problem(p, p->gateway_line ? p->gateway_line : eof_line(p), "gateway", "models_dir",
                    "default '%.64s...' is too long", models_dir_default);
        else
            strcpy(c->models_dir, models_dir_default);
    }
}

static void check_mqtt(struct parse *p)
{
    struct cfg *c = p->c;
    const struct keyset *ks = &p->mqtt_ks;

    if (p->mqtt_line == 0)
        return; /* optional for now: no MQTT output */
    check_required(p, "mqtt", p->mqtt_line, mqtt_keys, MK_COUNT, ks);
    c->mqtt.nuri = 0;
    while (c->mqtt.nuri < CFG_URI_MAX && c->mqtt.uri[c->mqtt.nuri][0] != '\0')
        c->mqtt.nuri++;
    /* A client certificate is useless without its key and vice versa. */
    if (ks->line[MK_CERT_FILE] > 0 && ks->line[MK_KEY_FILE] == 0)
        problem(p, ks->line[MK_CERT_FILE], "mqtt", "cert_file", "needs key_file as well");
    if (ks->line[MK_KEY_FILE] > 0 && ks->line[MK_CERT_FILE] == 0)
        problem(p, ks->line[MK_KEY_FILE], "mqtt", "key_file", "needs cert_file as well");
    /* The MQTT client refuses these (mqtt_new()); --check must name them. */
    if (ks->line[MK_PASSWORD_FILE] > 0 && ks->line[MK_USERNAME] == 0)
        problem(p, ks->line[MK_PASSWORD_FILE], "mqtt", "password_file", "needs username");
    if (!key_ok(ks, MK_URI) || c->mqtt.nuri == 0)
        return;
    int ntls = 0;
    for (int i = 0; i < c->mqtt.nuri; i++)
        ntls += strncmp(c->mqtt.uri[i], "ssl://", 6) == 0;
    if (ntls > 0 && ntls < c->mqtt.nuri)
        problem(p, ks->line[MK_URI], "mqtt", "uri",
                "tcp:// and ssl:// mixed (failing over would drop TLS)");
    static const int tls_keys[] = {MK_CA_FILE, MK_CERT_FILE, MK_KEY_FILE};
    for (size_t i = 0; ntls == 0 && i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++)
        if (ks->line[tls_keys[i]] > 0)
            problem(p, ks->line[tls_keys[i]], "mqtt", mqtt_keys[tls_keys[i]].key,
                    "needs ssl:// URIs");
}

static void check_influx(struct parse *p)
{
    const struct keyset *ks = &p->influx_ks;
    bool v1, v2_any, v2_all;

    if (p->influx_line == 0)
        return; /* no InfluxDB output */
    check_required(p, "influx", p->influx_line, influx_keys, IK_COUNT, ks);
    v1 = ks->line[IK_DATABASE] > 0;
    v2_any = ks->line[IK_ORG] > 0 || ks->line[IK_BUCKET] > 0 || ks->line[IK_TOKEN_FILE] > 0;
    v2_all = ks->line[IK_ORG] > 0 && ks->line[IK_BUCKET] > 0 && ks->line[IK_TOKEN_FILE] > 0;
    if (v1 && v2_any) {
        problem(p, ks->line[IK_DATABASE], "influx", "database",
                "database (InfluxDB 1) and org/bucket/token_file (InfluxDB 2) exclude each other");
    } else if (!v1 && !v2_any) {
        problem(p, p->influx_line, "influx", NULL,
                "needs database (InfluxDB 1) or org, bucket and token_file (InfluxDB 2)");
    } else if (v2_any && !v2_all) {
        for (int i = IK_ORG; i <= IK_TOKEN_FILE; i++)
            if (ks->line[i] == 0)
                problem(p, p->influx_line, "influx", influx_keys[i].key,
                        "missing (InfluxDB 2 needs org, bucket and token_file)");
    }
}

static void check_bus(struct parse *p, struct bus_parse *bp)
{
    char label[LABEL_MAX];
    struct cfg_bus *b = &bp->b;

    snprintf(label, sizeof(label), "bus %s", b->name);
    check_required(p, label, b->line, bus_keys, BK_COUNT, &bp->ks);
    if (!key_ok(&bp->ks, BK_TYPE))
        return; /* which keys belong depends on the type */
    unsigned mine = b->type == BUS_RTU ? K_RTU : K_TCP;
    const char *type = b->type == BUS_RTU ? "rtu" : "tcp";
    for (int i = 0; i < BK_COUNT; i++) {
        const struct key_desc *k = &bus_keys[i];
        bool applies = !(k->flags & (K_RTU | K_TCP)) || (k->flags & mine);
        if (bp->ks.line[i] > 0 && !applies)
            problem(p, bp->ks.line[i], label, k->key, "not a key of a %s bus", type);
        if (bp->ks.line[i] == 0 && applies && (k->flags & K_REQUIRED) && (k->flags & mine))
            problem(p, b->line, label, k->key, "missing (required on a %s bus)", type);
    }
    /* RTU needs a silence between frames (3.5 characters, more for slow
     * slaves); TCP framing needs none. */
    if (bp->ks.line[BK_GAP] == 0)
        b->gap_ms = b->type == BUS_RTU ? 20 : 0;
}

static const struct model_point *inputs_point(const struct model *m)
{
    const struct model_point *pt = model_point(m, "inputs");
    return pt != NULL && pt->type == PT_BITS ? pt : NULL;
}

static void list_models(const struct model_set *ms, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < model_set_count(ms) && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", model_set_at(ms, i)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void list_kinds(unsigned kinds, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < KIND_COUNT && used < len; k++) {
        if (!(kinds & KIND_BIT(k)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", kind_name((enum kind)k));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int find_bus(const struct parse *p, const char *name)
{
    for (int i = 0; i < p->nbuses; i++)
        if (strcmp(p->buses[i].b.name, name) == 0)
            return i;
    return -1;
}

/* Unit ids a sensor can have on each bus type.  RTU: 1..247 (0 is the
 * broadcast address: nobody answers a read).  TCP: what libmodbus 3.1.6's
 * modbus_set_slave() takes, 0..247 and 255 (MODBUS_TCP_SLAVE); it refuses
 * 248..254 with EINVAL, so such a sensor could never be polled. */
static bool unit_addressable(enum bus_type type, int unit)
{
    if (type == BUS_RTU)
        return unit >= 1 && unit <= 247;
    return (unit >= 0 && unit <= 247) || unit == 255;
}

static void check_sensor(struct parse *p, struct sensor_parse *sp, const struct model_set *ms)
{
    struct cfg_sensor *s = &sp->s;
    const struct keyset *ks = &sp->ks;
    const struct model_point *inputs = NULL;
    const struct cfg_bus *bus = NULL;
    char label[LABEL_MAX], list[256], err[256];
    bool kind_known = key_ok(ks, SK_KIND), model_known = false;

    snprintf(label, sizeof(label), "sensor %s", s->name);
    check_required(p, label, s->line, sensor_keys, SK_COUNT, ks);

    if (key_ok(ks, SK_BUS)) {
        s->bus = find_bus(p, sp->bus_name);
        if (s->bus < 0)
            problem(p, ks->line[SK_BUS], label, "bus", "unknown bus '%s'", sp->bus_name);
        else
            bus = &p->buses[s->bus].b;
    }
    /* Only a valid type tells the unit range; an invalid one is reported. */
    if (bus != NULL && key_ok(&p->buses[s->bus].ks, BK_TYPE) && key_ok(ks, SK_UNIT) &&
        !unit_addressable(bus->type, s->unit))
        problem(p, ks->line[SK_UNIT], label, "unit", "%d is out of range on %s bus %s (%s)",
                s->unit, bus->type == BUS_RTU ? "rtu" : "tcp", bus->name,
                bus->type == BUS_RTU ? "1..247" : "0..247 or 255");
    if (ms != NULL && key_ok(ks, SK_MODEL)) {
        s->def.model = model_set_find(ms, sp->model_name);
        if (s->def.model == NULL) {
            list_models(ms, list, sizeof(list));
            problem(p, ks->line[SK_MODEL], label, "model", "unknown model '%s' (known: %s)",
                    sp->model_name, list);
        } else if (kind_known && !(s->def.model->kinds & KIND_BIT(s->def.kind))) {
            list_kinds(s->def.model->kinds, list, sizeof(list));
            problem(p, ks->line[SK_MODEL], label, "model",
                    "model %s does not support kind %s (it supports: %s)", s->def.model->name,
                    kind_name(s->def.kind), list);
        } else {
            model_known = true;
            inputs = inputs_point(s->def.model);
        }
    }

    /* Keys of another kind, input keys on a model without inputs, and
     * required kind keys that are missing. */
    for (int i = 0; i < SK_COUNT; i++) {
        const struct key_desc *k = &sensor_keys[i];
        if (k->kinds == 0 && !(k->flags & K_INPUTS))
            continue;
        bool kind_fits = k->kinds == 0 || (kind_known && (k->kinds & KIND_BIT(s->def.kind)));
        bool model_fits = !(k->flags & K_INPUTS) || inputs != NULL;
        if (ks->line[i] > 0) {
            if (kind_known && !kind_fits)
                problem(p, ks->line[i], label, k->key, "not a key of kind %s",
                        kind_name(s->def.kind));
            else if (model_known && !model_fits)
                problem(p, ks->line[i], label, k->key, "not a key of model %s (it has no inputs)",
                        s->def.model->name);
        } else if ((k->flags & K_REQUIRED) && kind_known && kind_fits) {
            if (!(k->flags & K_INPUTS))
                problem(p, s->line, label, k->key, "missing (required for %s)",
                        kind_name(s->def.kind));
            else if (model_known && model_fits)
                problem(p, s->line, label, k->key, "missing (required for %s on model %s)",
                        kind_name(s->def.kind), s->def.model->name);
        }
    }

    /* The sensor's own DI channels: in the model's range, each used once. */
    if (model_known && inputs != NULL && kind_known) {
        unsigned own = 0;
        for (int c = 0; c < SENSOR_CHANNELS; c++) {
            int i = channel_keys[c];
            const struct key_desc *k = &sensor_keys[i];
            if (!key_ok(ks, i) || !(k->kinds & KIND_BIT(s->def.kind)))
                continue;
            int ch = *(const int *)field_of(sp, k);
            if (ch >= inputs->bits) {
                problem(p, ks->line[i], label, k->key,
                        "channel %d out of range: model %s has inputs 0..%d", ch,
                        s->def.model->name, inputs->bits - 1);
                continue;
            }
            int dup = -1;
            for (int j = 0; j < sp->nch; j++)
                if (sp->ch[j] == ch)
                    dup = sp->ch_key[j];
            if (dup >= 0) {
                problem(p, ks->line[i], label, k->key, "channel %d is already %s", ch,
                        sensor_keys[dup].key);
                continue;
            }
            sp->ch[sp->nch] = ch;
            sp->ch_key[sp->nch++] = i;
            own |= 1u << ch;
        }
        if (key_ok(ks, SK_INVERTED_INPUTS) &&
            (sensor_keys[SK_INVERTED_INPUTS].kinds & KIND_BIT(s->def.kind))) {
            for (int ch = 0; ch <= CHANNEL_MAX; ch++) {
                if (!(s->def.inverted_mask & (1u << ch)))
                    continue;
                if (ch >= inputs->bits)
                    problem(p, ks->line[SK_INVERTED_INPUTS], label, "inverted_inputs",
                            "channel %d out of range: model %s has inputs 0..%d", ch,
                            s->def.model->name, inputs->bits - 1);
                else if (!(own & (1u << ch)))
                    problem(p, ks->line[SK_INVERTED_INPUTS], label, "inverted_inputs",
                            "channel %d is not an input of this sensor", ch);
            }
        }
    }

    /* Alarm overrides apply on top of the kind's defaults, whatever the key order. */
    if (kind_known)
        alarm_cfg_defaults(s->def.kind, &s->alarm);
    int alarm_errors = 0;
    for (int i = 0; i < sp->nextra; i++)
        if (sensor_extra_key(s, kind_known, sp->extra[i].key, sp->extra[i].value, err,
                             sizeof(err)) == -1) {
            problem(p, sp->extra[i].line, label, sp->extra[i].key, "%s", err);
            alarm_errors++;
        }
    if (kind_known && alarm_errors == 0 && alarm_cfg_validate(&s->alarm, err, sizeof(err)) == -1)
        problem(p, s->line, label, NULL, "%s", err);

    sp->shareable = bus != NULL && key_ok(ks, SK_UNIT) && model_known;
}

/* One Modbus unit is one device: sensors may share it only when it is a DI
 * module (one read serves them all, docs/design.md section 7), each on its own channels. */
static void check_shared_units(struct parse *p)
{
    char label[LABEL_MAX];
    for (int j = 0; j < p->nsensors; j++) {
        struct sensor_parse *b = &p->sensors[j];
        if (!b->shareable)
            continue;
        snprintf(label, sizeof(label), "sensor %s", b->s.name);
        for (int i = 0; i < j; i++) {
            const struct sensor_parse *a = &p->sensors[i];
            if (!a->shareable || a->s.bus != b->s.bus || a->s.unit != b->s.unit)
                continue;
            const char *bus = p->buses[b->s.bus].b.name;
            if (a->s.def.model != b->s.def.model) {
                problem(p, b->ks.line[SK_UNIT], label, "unit",
                        "unit %d on bus %s is already sensor %s (line %d) of model %s", b->s.unit,
                        bus, a->s.name, a->s.line, a->s.def.model->name);
                break;
            }
            if (inputs_point(b->s.def.model) == NULL) {
                problem(p, b->ks.line[SK_UNIT], label, "unit",
                        "unit %d on bus %s is already used by sensor %s (line %d)", b->s.unit, bus,
                        a->s.name, a->s.line);
                break;
            }
            for (int x = 0; x < b->nch; x++)
                for (int y = 0; y < a->nch; y++)
                    if (b->ch[x] == a->ch[y])
                        problem(p, b->ks.line[b->ch_key[x]], label, sensor_keys[b->ch_key[x]].key,
                                "channel %d of unit %d on bus %s is already used by sensor %s "
                                "(line %d)",
                                b->ch[x], b->s.unit, bus, a->s.name, a->s.line);
        }
    }
}

static struct model_set *load_models(struct parse *p)
{
    char err[4096];
    struct model_set *ms;
    int line = p->gateway_ks.line[GK_MODELS_DIR];
    bool from_key = line > 0;

    if (p->c->models_dir[0] == '\0')
        return NULL; /* no usable directory: already reported */
    err[0] = '\0';
    ms = kind_models_load(p->c->models_dir, err, sizeof(err));
    if (ms != NULL)
        return ms;
    if (!from_key)
        line = p->gateway_line ? p->gateway_line : eof_line(p);
    problem(p, line, "gateway", "models_dir", "cannot load device models from %s%s",
            p->c->models_dir, from_key ? "" : " (the default)");
    /* The model loader's own "FILE:LINE: reason" lines, one problem each. */
    for (char *q = err, *nl; *q != '\0'; q = nl + 1) {
        nl = strchr(q, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (*q != '\0')
            add_problem_text(p, line, SCOPE_CORE, strdup(q));
        if (nl == NULL)
            break;
    }
    return NULL;
}

static void validate(struct parse *p, const char *models_dir_default)
{
    check_gateway(p, models_dir_default);
    check_mqtt(p);
    check_influx(p);
    for (int i = 0; i < p->nbuses; i++)
        check_bus(p, &p->buses[i]);
    p->c->models = load_models(p);
    for (int i = 0; i < p->nsensors; i++)
        check_sensor(p, &p->sensors[i], p->c->models);
    check_shared_units(p);
    if (p->sensor_headers == 0)
        problem(p, eof_line(p), NULL, NULL,
                "no sensor: at least one [sensor NAME] section is required");
}

/* Move the parsed buses and sensors into the cfg's own arrays. */
static int assemble(struct parse *p)
{
    struct cfg *c = p->c;
    c->buses = calloc((size_t)p->nbuses + 1, sizeof(*c->buses));
    c->sensors = calloc((size_t)p->nsensors + 1, sizeof(*c->sensors));
    if (c->buses == NULL || c->sensors == NULL)
        return -1;
    for (int i = 0; i < p->nbuses; i++) {
        c->buses[i] = p->buses[i].b;
        c->buses[i].device_line = p->buses[i].ks.line[BK_DEVICE];
    }
    for (int i = 0; i < p->nsensors; i++)
        c->sensors[i] = p->sensors[i].s;
    c->nbuses = p->nbuses;
    c->nsensors = p->nsensors;
    return 0;
}

/* Where the keys naming files were set, for the file checks (filecheck.h). */
static void record_file_lines(struct parse *p)
{
    struct cfg *c = p->c;
    c->lines.state_dir = p->gateway_ks.line[GK_STATE_DIR];
    c->lines.password_file = p->mqtt_ks.line[MK_PASSWORD_FILE];
    c->lines.ca_file = p->mqtt_ks.line[MK_CA_FILE];
    c->lines.cert_file = p->mqtt_ks.line[MK_CERT_FILE];
    c->lines.key_file = p->mqtt_ks.line[MK_KEY_FILE];
    c->lines.token_file = p->influx_ks.line[IK_TOKEN_FILE];
}

/* How many problems fail the load: all of them, or in lenient mode those
 * outside [mqtt] and [influx]. */
static int fatal_problems(const struct parse *p, unsigned flags)
{
    int n = 0;
    for (int i = 0; i < p->probs.n; i++)
        n += !(flags & CFG_UPLINK_LENIENT) || p->probs.v[i].scope == SCOPE_CORE;
    return n;
}

/* Lenient mode, only uplink problems: the first of each section makes that
 * output unusable (mqtt.error, influx.error); all of them become warnings.
 * -1 when out of memory. */
static int keep_uplink_problems(struct parse *p)
{
    struct cfg *c = p->c;
    size_t len = 1;

    for (int i = 0; i < p->probs.n; i++)
        len += strlen(p->probs.v[i].text) + 1;
    if ((c->warnings = malloc(len)) == NULL)
        return -1;
    c->warnings[0] = '\0';
    for (int i = 0; i < p->probs.n; i++) {
        const struct problem *pr = &p->probs.v[i];
        char *first = pr->scope == SCOPE_MQTT ? c->mqtt.error : c->influx.error;
        if (first[0] == '\0')
            snprintf(first, sizeof(c->mqtt.error), "%s", pr->text);
        strcat(strcat(c->warnings, pr->text), "\n");
    }
    return 0;
}

static void parse_free(struct parse *p)
{
    for (int i = 0; i < p->nsensors; i++) {
        for (int j = 0; j < p->sensors[i].nextra; j++) {
            free(p->sensors[i].extra[j].key);
            free(p->sensors[i].extra[j].value);
        }
        free(p->sensors[i].extra);
    }
    free(p->sensors);
    free(p->buses);
    free(p->buf);
    for (int i = 0; i < p->probs.n; i++)
        free(p->probs.v[i].text);
    free(p->probs.v);
}

struct cfg *cfg_load(const char *path, const char *models_dir_default, FILE *errs, int *nerrors)
{
    return cfg_load_flags(path, models_dir_default, 0, errs, nerrors);
}

struct cfg *cfg_load_flags(const char *path, const char *models_dir_default, unsigned flags,
                           FILE *errs, int *nerrors)
{
    struct parse p;
    int nprob, err = EGW_CONFIG;

    memset(&p, 0, sizeof(p));
    p.path = path;
    p.c = calloc(1, sizeof(*p.c));
    if (p.c == NULL) {
        if (errs != NULL)
            fprintf(errs, "%s: out of memory\n", path);
        if (nerrors != NULL)
            *nerrors = 1;
        errno = ENOMEM;
        return NULL;
    }
    if (strlen(path) < sizeof(p.c->path))
        strcpy(p.c->path, path);
    /* Defaults of every single section hold even when it is absent. */
    apply_defaults(gateway_keys, GK_COUNT, p.c);
    apply_defaults(mqtt_keys, MK_COUNT, p.c);
    apply_defaults(influx_keys, IK_COUNT, p.c);

    p.fp = fopen(path, "r");
    if (p.fp == NULL) {
        err = errno;
        problem(&p, 0, NULL, NULL, "cannot open: %s", strerror(errno));
    } else {
        int rc = ini_parse_stream(read_line, &p, on_key, &p);
        if (rc == -2)
            p.probs.oom = true;
        else if (rc > 0 && !problem_at(&p, rc)) /* inih saw something we did not */
            problem(&p, rc, NULL, NULL, "syntax error");
        if (!p.eof && !p.probs.oom)
            problem(&p, p.lineno, NULL, NULL, "parsing stopped early");
        fclose(p.fp);
        validate(&p, models_dir_default);
        record_file_lines(&p);
        if (fatal_problems(&p, flags) == 0 && !p.probs.oom && assemble(&p) == -1)
            p.probs.oom = true;
    }

    if (p.probs.oom) {
        problem(&p, 0, NULL, NULL, "out of memory");
        p.probs.oom = true; /* even if that problem itself could not be stored */
        err = ENOMEM;
    }
    if (p.probs.n > 1)
        qsort(p.probs.v, (size_t)p.probs.n, sizeof(*p.probs.v), problem_cmp);
    if (fatal_problems(&p, flags) == 0 && !p.probs.oom && p.probs.n > 0 &&
        keep_uplink_problems(&p) == -1) {
        problem(&p, 0, NULL, NULL, "out of memory");
        p.probs.oom = true;
        err = ENOMEM;
    }
    nprob = fatal_problems(&p, flags) > 0 || p.probs.oom ? p.probs.n : 0;
    for (int i = 0; errs != NULL && i < nprob; i++)
        fprintf(errs, "%s\n", p.probs.v[i].text);
    if (nprob == 0 && p.probs.oom) {
        if (errs != NULL)
            fprintf(errs, "%s: out of memory\n", path);
        nprob = 1;
    }
    if (nerrors != NULL)
        *nerrors = nprob;
    parse_free(&p);
    if (nprob > 0) {
        cfg_free(p.c);
        errno = err;
        return NULL;
    }
    return p.c;
}

void cfg_free(struct cfg *c)
{
    if (c == NULL)
        return;
    free(c->buses);
    free(c->sensors);
    free(c->warnings);
    model_set_free(c->models);
    free(c);
}
