/*
 * cfg: loads the gateway configuration (docs/design.md section 6) into an immutable struct.
 *
 * The file is read by the project's one configuration front-end (lib/ini.h):
 * the line rules, the sections and the key tables, the FILE:LINE problem
 * list.  What is the gateway's own is here: one key table per section
 * {key, parser, field, range, default, flags} ([mqtt] and [influx] are
 * lib/mqttcfg and lib/influxcfg, shared with the centre's programs), the
 * parsers only the gateway needs (kinds, baud rates, DI channels), and the rules that
 * span keys or sections (bus type, bus references, models, DI channels,
 * alarm overrides), which run after the whole file is read.  [mqtt] and
 * [influx] are INI_LENIENT: their problems affect the uplink only (see
 * cfg.h).  Owns the model set.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gwerr.h"
#include "influxcfg.h"
#include "ini.h"
#include "mqttcfg.h"

#define CHANNEL_MAX 31    /* inverted_mask is 32 bits wide */
#define SENSOR_CHANNELS 6 /* closed, locked, open, alarm, fault, input */
#define LABEL_MAX (CFG_NAME_MAX + 16)

/* ---- parse state ---- */

struct bus_parse {
    struct cfg_bus b;
    struct ini_keyset ks;
};

struct extra_key { /* a sensor key the kind table does not know */
    char *key, *value;
    int line;
};

struct sensor_parse {
    struct cfg_sensor s;
    char bus_name[CFG_NAME_MAX];
    char model_name[MODEL_NAME_MAX];
    struct ini_keyset ks;
    struct extra_key *extra;
    int nextra;
    /* filled by validation, for the checks across sensors */
    bool shareable; /* bus, unit and model known */
    int nch;
    int ch[SENSOR_CHANNELS], ch_key[SENSOR_CHANNELS];
};

struct parse {
    struct cfg *c;
    struct ini *ini;
    /* sections seen: the line of their header (0: absent) */
    int gateway_line, mqtt_line, influx_line;
    struct ini_keyset gateway_ks, mqtt_ks, influx_ks;
    struct bus_parse *buses;
    int nbuses;
    struct sensor_parse *sensors;
    int nsensors;
};

/* ---- key tables ---- */

/* Conditions the cross-checks apply (lib/ini.h: a key with one of these is
 * required only where its condition holds). */
enum {
    K_RTU = INI_USER(0),    /* only on rtu buses */
    K_TCP = INI_USER(1),    /* only on tcp buses */
    K_INPUTS = INI_USER(2), /* only on models with an "inputs" point */
};

#define FIELD INI_FIELD
#define KIND_BIT(k) (1u << (k))
#define DI_KINDS (KIND_BIT(KIND_BLAST_DOOR) | KIND_BIT(KIND_SMOKE) | KIND_BIT(KIND_WATER_LEAK))

static int p_kind(const struct ini_key *, const char *, void *, char *, size_t);
static int p_baud(const struct ini_key *, const char *, void *, char *, size_t);
static int p_channel(const struct ini_key *, const char *, void *, char *, size_t);
static int p_channels(const struct ini_key *, const char *, void *, char *, size_t);

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
static const struct ini_key gateway_keys[GK_COUNT] = {
    [GK_ID] = {"id", ini_slug, FIELD(struct cfg, id), .flags = INI_REQUIRED},
    [GK_CITY] = {"city", ini_slug, FIELD(struct cfg, city), .flags = INI_REQUIRED},
    [GK_DISTRICT] = {"district", ini_slug, FIELD(struct cfg, district), .flags = INI_REQUIRED},
    [GK_STREET] = {"street", ini_slug, FIELD(struct cfg, street), .flags = INI_REQUIRED},
    [GK_COMMUNITY] = {"community", ini_slug, FIELD(struct cfg, community), .flags = INI_REQUIRED},
    [GK_PROPERTY] = {"property", ini_slug, FIELD(struct cfg, property), .flags = INI_REQUIRED},
    [GK_NAME] = {"name", ini_text, FIELD(struct cfg, name), .flags = INI_EMPTY_OK},
    [GK_MODE] = {"mode", ini_enum, FIELD(struct cfg, mode), .dflt = "peacetime",
                 .names = mode_names},
    [GK_STATE_DIR] = {"state_dir", ini_text, FIELD(struct cfg, state_dir),
                      .dflt = "/var/lib/shelter-gateway"},
    [GK_LANGUAGE] = {"language", ini_enum, FIELD(struct cfg, language), .dflt = "zh",
                     .names = lang_names},
    [GK_MODELS_DIR] = {"models_dir", ini_text, FIELD(struct cfg, models_dir)},
    [GK_TELEMETRY_MAX_ROWS] = {"telemetry_max_rows", ini_int, FIELD(struct cfg, telemetry_max_rows),
                               100, 10000000, "100000"},
    [GK_TELEMETRY_MAX_MB] = {"telemetry_max_mb", ini_int, FIELD(struct cfg, telemetry_max_mb), 1,
                             4096, "64"},
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
static const struct ini_key bus_keys[BK_COUNT] = {
    [BK_TYPE] = {"type", ini_enum, FIELD(struct bus_parse, b.type), .flags = INI_REQUIRED,
                 .names = bus_type_names},
    [BK_DEVICE] = {"device", ini_text, FIELD(struct bus_parse, b.device),
                   .flags = K_RTU | INI_REQUIRED},
    [BK_BAUD] = {"baud", p_baud, FIELD(struct bus_parse, b.baud), .dflt = "9600", .flags = K_RTU},
    [BK_PARITY] = {"parity", ini_enum, FIELD(struct bus_parse, b.parity), .dflt = "none",
                   .flags = K_RTU, .names = parity_names},
    [BK_DATA_BITS] = {"data_bits", ini_int, FIELD(struct bus_parse, b.data_bits), 7, 8, .dflt = "8",
                      .flags = K_RTU},
    [BK_STOP_BITS] = {"stop_bits", ini_int, FIELD(struct bus_parse, b.stop_bits), 1, 2, .dflt = "1",
                      .flags = K_RTU},
    [BK_HOST] = {"host", ini_host, FIELD(struct bus_parse, b.host), .flags = K_TCP | INI_REQUIRED},
    [BK_PORT] = {"port", ini_int, FIELD(struct bus_parse, b.port), 1, 65535, .dflt = "502",
                 .flags = K_TCP},
    [BK_TIMEOUT] = {"timeout", ini_duration_ms, FIELD(struct bus_parse, b.timeout_ms), 10, 5000,
                    .dflt = "500ms"},
    [BK_RETRIES] = {"retries", ini_int, FIELD(struct bus_parse, b.retries), 0, 5, .dflt = "1"},
    /* No table default: it depends on the type (rtu 20 ms, tcp 0), see check_bus(). */
    [BK_GAP] = {"gap", ini_duration_ms, FIELD(struct bus_parse, b.gap_ms), 0, 1000},
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
static const struct ini_key sensor_keys[SK_COUNT] = {
    [SK_BUS] = {"bus", ini_slug, FIELD(struct sensor_parse, bus_name), .flags = INI_REQUIRED},
    /* The range of a unit id depends on the bus type: checked in check_sensor(). */
    [SK_UNIT] = {"unit", ini_int, FIELD(struct sensor_parse, s.unit), 0, 255,
                 .flags = INI_REQUIRED},
    [SK_KIND] = {"kind", p_kind, FIELD(struct sensor_parse, s.def.kind), .flags = INI_REQUIRED},
    [SK_MODEL] = {"model", ini_text, FIELD(struct sensor_parse, model_name), .flags = INI_REQUIRED},
    [SK_INTERVAL] = {"interval", ini_duration_ms, FIELD(struct sensor_parse, s.interval_ms), 100,
                     3600000, .dflt = "1s"},
    [SK_LOCATION] = {"location", ini_text, FIELD(struct sensor_parse, s.location),
                     .flags = INI_EMPTY_OK},
    [SK_PIT_DEPTH] = {"pit_depth", ini_double, FIELD(struct sensor_parse, s.def.pit_depth_m), 0.01,
                      100, .flags = INI_REQUIRED, .tag = KIND_BIT(KIND_WATER_LEVEL)},
    [SK_CLOSED_INPUT] = {"closed_input", p_channel, FIELD(struct sensor_parse, s.def.closed_input),
                         .flags = K_INPUTS | INI_REQUIRED, .tag = KIND_BIT(KIND_BLAST_DOOR)},
    [SK_LOCKED_INPUT] = {"locked_input", p_channel, FIELD(struct sensor_parse, s.def.locked_input),
                         .flags = K_INPUTS | INI_REQUIRED, .tag = KIND_BIT(KIND_BLAST_DOOR)},
    [SK_OPEN_INPUT] = {"open_input", p_channel, FIELD(struct sensor_parse, s.def.open_input),
                       .flags = K_INPUTS, .tag = KIND_BIT(KIND_BLAST_DOOR)},
    [SK_ALARM_INPUT] = {"alarm_input", p_channel, FIELD(struct sensor_parse, s.def.alarm_input),
                        .flags = K_INPUTS | INI_REQUIRED, .tag = KIND_BIT(KIND_SMOKE)},
    [SK_FAULT_INPUT] = {"fault_input", p_channel, FIELD(struct sensor_parse, s.def.fault_input),
                        .flags = K_INPUTS, .tag = KIND_BIT(KIND_SMOKE)},
    [SK_INPUT] = {"input", p_channel, FIELD(struct sensor_parse, s.def.input),
                  .flags = K_INPUTS | INI_REQUIRED, .tag = KIND_BIT(KIND_WATER_LEAK)},
    [SK_INVERTED_INPUTS] = {"inverted_inputs", p_channels,
                            FIELD(struct sensor_parse, s.def.inverted_mask),
                            .flags = K_INPUTS | INI_EMPTY_OK, .tag = DI_KINDS},
};

/* The channel keys of a sensor, in the order channels are claimed. */
static const int channel_keys[SENSOR_CHANNELS] = {SK_CLOSED_INPUT, SK_LOCKED_INPUT, SK_OPEN_INPUT,
                                                  SK_ALARM_INPUT,  SK_FAULT_INPUT,  SK_INPUT};

_Static_assert(GK_COUNT <= INI_KEYS_MAX && MQTTCFG_NKEYS <= INI_KEYS_MAX &&
                   INFLUXCFG_NKEYS <= INI_KEYS_MAX && BK_COUNT <= INI_KEYS_MAX &&
                   SK_COUNT <= INI_KEYS_MAX,
               "INI_KEYS_MAX too small");

/* ---- the gateway's own value parsers (the "parser" column of the key tables) ---- */

static int p_kind(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
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

static int p_baud(const struct ini_key *k, const char *value, void *field, char *err, size_t errlen)
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

static int p_channel(const struct ini_key *k, const char *value, void *field, char *err,
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
static int p_channels(const struct ini_key *k, const char *value, void *field, char *err,
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

/* ---- sections: where their keys go ---- */

static void *grow(void *v, int n, size_t elem)
{
    /* Arrays grow by one section at a time; configs have tens of sections. */
    return realloc(v, (size_t)(n + 1) * elem);
}

static void *open_gateway(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                          size_t errlen)
{
    struct parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->gateway_line = line;
    *ks = &p->gateway_ks;
    return p->c;
}

static void *open_mqtt(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                       size_t errlen)
{
    struct parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->mqtt_line = line;
    *ks = &p->mqtt_ks;
    return &p->c->mqtt;
}

static void *open_influx(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->influx_line = line;
    p->c->influx.enabled = 1;
    *ks = &p->influx_ks;
    return &p->c->influx;
}

static void *open_bus(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                      size_t errlen)
{
    struct parse *p = user;
    (void)err, (void)errlen;
    struct bus_parse *v = grow(p->buses, p->nbuses, sizeof(*v));
    if (v == NULL)
        return NULL;
    p->buses = v;
    struct bus_parse *bp = &p->buses[p->nbuses++];
    memset(bp, 0, sizeof(*bp));
    snprintf(bp->b.name, sizeof(bp->b.name), "%s", name);
    bp->b.line = line;
    *ks = &bp->ks;
    return bp;
}

static void *open_sensor(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct parse *p = user;
    (void)err, (void)errlen;
    struct sensor_parse *v = grow(p->sensors, p->nsensors, sizeof(*v));
    if (v == NULL)
        return NULL;
    p->sensors = v;
    struct sensor_parse *sp = &p->sensors[p->nsensors++];
    memset(sp, 0, sizeof(*sp));
    snprintf(sp->s.name, sizeof(sp->s.name), "%s", name);
    sp->s.line = line;
    for (int c = 0; c < SENSOR_CHANNELS; c++) /* "not wired" */
        *(int *)((char *)sp + sensor_keys[channel_keys[c]].offset) = -1;
    *ks = &sp->ks;
    return sp;
}

/* A sensor key outside the kind table: an alarm override (docs/design.md
 * section 9), kept for check_sensor(), which knows the sensor's kind once
 * the whole section is read. */
static int sensor_other_key(void *user, void *base, const char *key, const char *value, int line,
                            char *err, size_t errlen)
{
    struct sensor_parse *sp = base;
    (void)user, (void)err, (void)errlen;
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

static int sensor_name_ok(const char *name, char *err, size_t errlen)
{
    if (!ini_is_slug(name, strlen(name)) || strlen(name) >= CFG_NAME_MAX) {
        snprintf(err, errlen,
                 "name '%.64s' is not topic-safe (use only A-Z a-z 0-9 _ -, at most %d bytes)",
                 name, CFG_NAME_MAX - 1);
        return -1;
    }
    /* alarm/gateway/... carries the gateway's own alarms (disk). */
    if (strcmp(name, "gateway") == 0) {
        snprintf(err, errlen, "the name 'gateway' is reserved for the gateway's own alarms");
        return -1;
    }
    return 0;
}

/* clang-format off */
static const struct ini_section sections[] = {
    {"gateway", gateway_keys, GK_COUNT, INI_SECTION_REQ, open_gateway, NULL, NULL},
    {"mqtt", mqttcfg_keys, MQTTCFG_NKEYS, INI_LENIENT, open_mqtt, NULL, NULL},
    {"influx", influxcfg_keys, INFLUXCFG_NKEYS, INI_LENIENT, open_influx, NULL, NULL},
    {"bus", bus_keys, BK_COUNT, INI_NAMED, open_bus, NULL, NULL},
    {"sensor", sensor_keys, SK_COUNT, INI_NAMED | INI_SECTION_REQ, open_sensor, sensor_other_key,
     sensor_name_ok},
};
/* clang-format on */
#define NSECTIONS ((int)(sizeof(sections) / sizeof(sections[0])))

/* The one place where sensor keys outside the kind table go: the alarm
 * engine's per-sensor overrides of its defaults (docs/design.md section 9).
 * Called after the whole file is read, so the sensor's kind is known
 * (kind_known false: the kind key is missing or invalid, already reported). */
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

/* ---- validation after the whole file is read ---- */

static void check_gateway(struct parse *p, const char *models_dir_default)
{
    struct cfg *c = p->c;
    if (p->gateway_line > 0 && p->gateway_ks.line[GK_NAME] == 0)
        memcpy(c->name, c->id, sizeof(c->id)); /* display name defaults to the id */
    if (p->gateway_ks.line[GK_MODELS_DIR] == 0) {
        if (strlen(models_dir_default) >= sizeof(c->models_dir))
            ini_error(p->ini, p->gateway_line ? p->gateway_line : ini_last_line(p->ini), "gateway",
                      "models_dir", "default '%.64s...' is too long", models_dir_default);
        else
            strcpy(c->models_dir, models_dir_default);
    }
}

static void check_bus(struct parse *p, struct bus_parse *bp)
{
    char label[LABEL_MAX];
    struct cfg_bus *b = &bp->b;

    snprintf(label, sizeof(label), "bus %s", b->name);
    if (!ini_key_ok(&bp->ks, BK_TYPE))
        return; /* which keys belong depends on the type */
    unsigned mine = b->type == BUS_RTU ? K_RTU : K_TCP;
    const char *type = b->type == BUS_RTU ? "rtu" : "tcp";
    for (int i = 0; i < BK_COUNT; i++) {
        const struct ini_key *k = &bus_keys[i];
        bool applies = !(k->flags & (K_RTU | K_TCP)) || (k->flags & mine);
        if (bp->ks.line[i] > 0 && !applies)
            ini_error(p->ini, bp->ks.line[i], label, k->name, "not a key of a %s bus", type);
        if (bp->ks.line[i] == 0 && applies && (k->flags & INI_REQUIRED) && (k->flags & mine))
            ini_error(p->ini, b->line, label, k->name, "missing (required on a %s bus)", type);
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
    const struct ini_keyset *ks = &sp->ks;
    const struct model_point *inputs = NULL;
    const struct cfg_bus *bus = NULL;
    char label[LABEL_MAX], list[256], err[256];
    bool kind_known = ini_key_ok(ks, SK_KIND), model_known = false;

    snprintf(label, sizeof(label), "sensor %s", s->name);

    if (ini_key_ok(ks, SK_BUS)) {
        s->bus = find_bus(p, sp->bus_name);
        if (s->bus < 0)
            ini_error(p->ini, ks->line[SK_BUS], label, "bus", "unknown bus '%s'", sp->bus_name);
        else
            bus = &p->buses[s->bus].b;
    }
    /* Only a valid type tells the unit range; an invalid one is reported. */
    if (bus != NULL && ini_key_ok(&p->buses[s->bus].ks, BK_TYPE) && ini_key_ok(ks, SK_UNIT) &&
        !unit_addressable(bus->type, s->unit))
        ini_error(p->ini, ks->line[SK_UNIT], label, "unit", "%d is out of range on %s bus %s (%s)",
                  s->unit, bus->type == BUS_RTU ? "rtu" : "tcp", bus->name,
                  bus->type == BUS_RTU ? "1..247" : "0..247 or 255");
    if (ms != NULL && ini_key_ok(ks, SK_MODEL)) {
        s->def.model = model_set_find(ms, sp->model_name);
        if (s->def.model == NULL) {
            list_models(ms, list, sizeof(list));
            ini_error(p->ini, ks->line[SK_MODEL], label, "model", "unknown model '%s' (known: %s)",
                      sp->model_name, list);
        } else if (kind_known && !(s->def.model->kinds & KIND_BIT(s->def.kind))) {
            list_kinds(s->def.model->kinds, list, sizeof(list));
            ini_error(p->ini, ks->line[SK_MODEL], label, "model",
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
        const struct ini_key *k = &sensor_keys[i];
        if (k->tag == 0 && !(k->flags & K_INPUTS))
            continue;
        bool kind_fits = k->tag == 0 || (kind_known && (k->tag & KIND_BIT(s->def.kind)));
        bool model_fits = !(k->flags & K_INPUTS) || inputs != NULL;
        if (ks->line[i] > 0) {
            if (kind_known && !kind_fits)
                ini_error(p->ini, ks->line[i], label, k->name, "not a key of kind %s",
                          kind_name(s->def.kind));
            else if (model_known && !model_fits)
                ini_error(p->ini, ks->line[i], label, k->name,
                          "not a key of model %s (it has no inputs)", s->def.model->name);
        } else if ((k->flags & INI_REQUIRED) && kind_known && kind_fits) {
            if (!(k->flags & K_INPUTS))
                ini_error(p->ini, s->line, label, k->name, "missing (required for %s)",
                          kind_name(s->def.kind));
            else if (model_known && model_fits)
                ini_error(p->ini, s->line, label, k->name, "missing (required for %s on model %s)",
                          kind_name(s->def.kind), s->def.model->name);
        }
    }

    /* The sensor's own DI channels: in the model's range, each used once. */
    if (model_known && inputs != NULL && kind_known) {
        unsigned own = 0;
        for (int c = 0; c < SENSOR_CHANNELS; c++) {
            int i = channel_keys[c];
            const struct ini_key *k = &sensor_keys[i];
            if (!ini_key_ok(ks, i) || !(k->tag & KIND_BIT(s->def.kind)))
                continue;
            int ch = *(const int *)((const char *)sp + k->offset);
            if (ch >= inputs->bits) {
                ini_error(p->ini, ks->line[i], label, k->name,
                          "channel %d out of range: model %s has inputs 0..%d", ch,
                          s->def.model->name, inputs->bits - 1);
                continue;
            }
            int dup = -1;
            for (int j = 0; j < sp->nch; j++)
                if (sp->ch[j] == ch)
                    dup = sp->ch_key[j];
            if (dup >= 0) {
                ini_error(p->ini, ks->line[i], label, k->name, "channel %d is already %s", ch,
                          sensor_keys[dup].name);
                continue;
            }
            sp->ch[sp->nch] = ch;
            sp->ch_key[sp->nch++] = i;
            own |= 1u << ch;
        }
        if (ini_key_ok(ks, SK_INVERTED_INPUTS) &&
            (sensor_keys[SK_INVERTED_INPUTS].tag & KIND_BIT(s->def.kind))) {
            for (int ch = 0; ch <= CHANNEL_MAX; ch++) {
                if (!(s->def.inverted_mask & (1u << ch)))
                    continue;
                if (ch >= inputs->bits)
                    ini_error(p->ini, ks->line[SK_INVERTED_INPUTS], label, "inverted_inputs",
                              "channel %d out of range: model %s has inputs 0..%d", ch,
                              s->def.model->name, inputs->bits - 1);
                else if (!(own & (1u << ch)))
                    ini_error(p->ini, ks->line[SK_INVERTED_INPUTS], label, "inverted_inputs",
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
            ini_error(p->ini, sp->extra[i].line, label, sp->extra[i].key, "%s", err);
            alarm_errors++;
        }
    if (kind_known && alarm_errors == 0 && alarm_cfg_validate(&s->alarm, err, sizeof(err)) == -1)
        ini_error(p->ini, s->line, label, NULL, "%s", err);

    sp->shareable = bus != NULL && ini_key_ok(ks, SK_UNIT) && model_known;
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
                ini_error(p->ini, b->ks.line[SK_UNIT], label, "unit",
                          "unit %d on bus %s is already sensor %s (line %d) of model %s", b->s.unit,
                          bus, a->s.name, a->s.line, a->s.def.model->name);
                break;
            }
            if (inputs_point(b->s.def.model) == NULL) {
                ini_error(p->ini, b->ks.line[SK_UNIT], label, "unit",
                          "unit %d on bus %s is already used by sensor %s (line %d)", b->s.unit,
                          bus, a->s.name, a->s.line);
                break;
            }
            for (int x = 0; x < b->nch; x++)
                for (int y = 0; y < a->nch; y++)
                    if (b->ch[x] == a->ch[y])
                        ini_error(p->ini, b->ks.line[b->ch_key[x]], label,
                                  sensor_keys[b->ch_key[x]].name,
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
        line = p->gateway_line ? p->gateway_line : ini_last_line(p->ini);
    ini_error(p->ini, line, "gateway", "models_dir", "cannot load device models from %s%s",
              p->c->models_dir, from_key ? "" : " (the default)");
    /* The model loader's own "FILE:LINE: reason" lines, one problem each. */
    for (char *q = err, *nl; *q != '\0'; q = nl + 1) {
        nl = strchr(q, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (*q != '\0')
            ini_error_text(p->ini, line, q);
        if (nl == NULL)
            break;
    }
    return NULL;
}

static void validate(struct parse *p, const char *models_dir_default)
{
    check_gateway(p, models_dir_default);
    mqttcfg_check(p->ini, p->mqtt_line, &p->mqtt_ks, &p->c->mqtt);
    influxcfg_check(p->ini, p->influx_line, &p->influx_ks);
    for (int i = 0; i < p->nbuses; i++)
        check_bus(p, &p->buses[i]);
    p->c->models = load_models(p);
    for (int i = 0; i < p->nsensors; i++)
        check_sensor(p, &p->sensors[i], p->c->models);
    check_shared_units(p);
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
    c->lines.password_file = p->mqtt_ks.line[MQTTCFG_PASSWORD_FILE];
    c->lines.ca_file = p->mqtt_ks.line[MQTTCFG_CA_FILE];
    c->lines.cert_file = p->mqtt_ks.line[MQTTCFG_CERT_FILE];
    c->lines.key_file = p->mqtt_ks.line[MQTTCFG_KEY_FILE];
    c->lines.token_file = p->influx_ks.line[INFLUXCFG_TOKEN_FILE];
}

/* Every problem is non-fatal (lenient, or a warning): all of them become
 * c->warnings, and the first error of [mqtt] or [influx] makes that output
 * unusable (mqtt.error, influx.error).  -1 when out of memory. */
static int keep_warnings(struct parse *p)
{
    struct cfg *c = p->c;
    size_t len = 1;
    int n = ini_count(p->ini);

    for (int i = 0; i < n; i++)
        len += strlen(ini_problem(p->ini, i)->text) + 1;
    if ((c->warnings = malloc(len)) == NULL)
        return -1;
    c->warnings[0] = '\0';
    for (int i = 0; i < n; i++) {
        const struct ini_problem *pr = ini_problem(p->ini, i);
        char *first = NULL;
        if (pr->lenient && strcmp(pr->type, "mqtt") == 0)
            first = c->mqtt.error;
        else if (pr->lenient && strcmp(pr->type, "influx") == 0)
            first = c->influx.error;
        if (first != NULL && first[0] == '\0')
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
    ini_free(p->ini);
}

struct cfg *cfg_load(const char *path, const char *models_dir_default, FILE *errs, int *nerrors)
{
    return cfg_load_flags(path, models_dir_default, 0, errs, nerrors);
}

struct cfg *cfg_load_flags(const char *path, const char *models_dir_default, unsigned flags,
                           FILE *errs, int *nerrors)
{
    struct parse p;
    bool lenient = (flags & CFG_UPLINK_LENIENT) != 0, oom = false;
    int nprob = 0, err = EGW_CONFIG;

    memset(&p, 0, sizeof(p));
    p.c = calloc(1, sizeof(*p.c));
    p.ini = ini_new(path, sections, NSECTIONS, &p);
    if (p.c == NULL || p.ini == NULL) {
        if (errs != NULL)
            fprintf(errs, "%s: out of memory\n", path);
        if (nerrors != NULL)
            *nerrors = 1;
        free(p.c);
        ini_free(p.ini);
        errno = ENOMEM;
        return NULL;
    }
    if (strlen(path) < sizeof(p.c->path))
        strcpy(p.c->path, path);
    /* Defaults of every single section hold even when it is absent. */
    ini_apply_defaults(gateway_keys, GK_COUNT, p.c);
    ini_apply_defaults(mqttcfg_keys, MQTTCFG_NKEYS, &p.c->mqtt);
    ini_apply_defaults(influxcfg_keys, INFLUXCFG_NKEYS, &p.c->influx);

    if (ini_read(p.ini) == -1 && !ini_oom(p.ini)) {
        err = errno; /* the file cannot be opened: nothing to validate */
    } else {
        validate(&p, models_dir_default);
        record_file_lines(&p);
        if (ini_fatal(p.ini, lenient) == 0 && !ini_oom(p.ini) && assemble(&p) == -1)
            oom = true;
    }
    oom = oom || ini_oom(p.ini);
    if (ini_fatal(p.ini, lenient) == 0 && !oom && ini_count(p.ini) > 0 && keep_warnings(&p) == -1)
        oom = true;
    if (oom) {
        ini_error(p.ini, 0, NULL, NULL, "out of memory");
        err = ENOMEM;
    }
    if (ini_fatal(p.ini, lenient) > 0 || oom)
        nprob = errs != NULL ? ini_print(p.ini, errs) : ini_count(p.ini);
    if (nprob == 0 && oom) { /* even that problem could not be stored */
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
