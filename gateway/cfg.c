/*
 * cfg: loads the gateway configuration (docs/design.md section 6) into an immutable struct.
 *
 * The file is read by the project's one configuration front-end (lib/ini.h):
 * the line rules, the sections and the key tables, the FILE:LINE problem
 * list.  What is the gateway's own is here: one key table per section
 * {key, parser, field, range, default, flags} ([mqtt] and [influx] are
 * lib/mqttcfg and lib/influxcfg, shared with the centre's programs; [bus]
 * and [sensor] are sensors/sensorcfg, shared with shelter-sim), and the
 * rules that span sections (the alarm overrides of a sensor, kept by
 * sensorcfg as its extra keys), which run after the whole file is read.  [mqtt] and
 * [influx] are INI_LENIENT: their problems affect the uplink only (see
 * cfg.h).  [output NAME] (the on-site outputs) is the gateway's own: its
 * `on` list is resolved against the sensors and the alarm catalogue.  Owns
 * the model set.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gwerr.h"
#include "influxcfg.h"
#include "ini.h"
#include "mqttcfg.h"
#include "sensorcfg.h"

#define LABEL_MAX (CFG_NAME_MAX + 16)

/* ---- parse state ---- */

struct parse {
    struct cfg *c;
    struct ini *ini;
    /* sections seen: the line of their header (0: absent) */
    int gateway_line, mqtt_line, influx_line;
    struct ini_keyset gateway_ks, mqtt_ks, influx_ks;
    struct sensorcfg_parse *sensors; /* [bus] and [sensor] */
    struct output_parse *outputs;    /* [output] */
    int noutputs;
};

struct output_parse {
    struct cfg_output o;
    char bus_name[CFG_NAME_MAX];
    char model_name[MODEL_NAME_MAX];
    struct ini_keyset ks;
    bool placed; /* bus, unit and model known: for the checks across outputs */
};

/* ---- key tables ---- */

#define FIELD INI_FIELD

/* Enum keys store through an int; make sure the enums are int-sized. */
_Static_assert(sizeof(enum gw_mode) == sizeof(int), "enum gw_mode is not int-sized");
_Static_assert(sizeof(enum gw_lang) == sizeof(int), "enum gw_lang is not int-sized");

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
    GK_HEARTBEAT,
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
    [GK_HEARTBEAT] = {"heartbeat", ini_duration_ms, FIELD(struct cfg, heartbeat_ms), 1000, 86400000,
                      "5min"},
};

/* [output NAME] (docs/design.md section 21); `on` is resolved against the
 * sensors and the alarm catalogue once the whole file is read. */
enum { OK_BUS, OK_UNIT, OK_MODEL, OK_CHANNEL, OK_ON, OK_UNTIL, OK_MIN_ON, OK_LOCATION, OK_COUNT };
static const struct name_value until_names[] = {
    {"cleared", OUTPUT_UNTIL_CLEARED}, {"acked", OUTPUT_UNTIL_ACKED}, {NULL, 0}};
static const struct ini_key output_keys[OK_COUNT] = {
    [OK_BUS] = {"bus", ini_slug, FIELD(struct output_parse, bus_name), .flags = INI_REQUIRED},
    /* The range of a unit id depends on the bus type: checked in check_output(). */
    [OK_UNIT] = {"unit", ini_int, FIELD(struct output_parse, o.unit), 0, 255,
                 .flags = INI_REQUIRED},
    [OK_MODEL] = {"model", ini_text, FIELD(struct output_parse, model_name), .flags = INI_REQUIRED},
    /* The model says how many channels it has: checked in check_output(). */
    [OK_CHANNEL] = {"channel", ini_int, FIELD(struct output_parse, o.channel), 0, 31,
                    .flags = INI_REQUIRED},
    [OK_ON] = {"on", ini_text, FIELD(struct output_parse, o.on), .flags = INI_REQUIRED},
    [OK_UNTIL] = {"until", ini_enum, FIELD(struct output_parse, o.until), .dflt = "cleared",
                  .names = until_names},
    [OK_MIN_ON] = {"min_on", ini_duration_ms, FIELD(struct output_parse, o.min_on_ms), 0, 3600000,
                   .dflt = "0s"},
    [OK_LOCATION] = {"location", ini_text, FIELD(struct output_parse, o.location),
                     .flags = INI_EMPTY_OK},
};
_Static_assert(sizeof(enum output_until) == sizeof(int), "enum output_until is not int-sized");

_Static_assert(GK_COUNT <= INI_KEYS_MAX && MQTTCFG_NKEYS <= INI_KEYS_MAX &&
                   INFLUXCFG_NKEYS <= INI_KEYS_MAX && OK_COUNT <= INI_KEYS_MAX,
               "INI_KEYS_MAX too small");

/* ---- sections: where their keys go ---- */

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

/* [bus] and [sensor]: sensorcfg's, on its own parse state. */
static void *open_bus(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                      size_t errlen)
{
    return sensorcfg_open_bus(((struct parse *)user)->sensors, name, line, ks, err, errlen);
}

static void *open_sensor(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    return sensorcfg_open_sensor(((struct parse *)user)->sensors, name, line, ks, err, errlen);
}

static int sensor_other_key(void *user, void *base, const char *key, const char *value, int line,
                            char *err, size_t errlen)
{
    return sensorcfg_other_key(((struct parse *)user)->sensors, base, key, value, line, err,
                               errlen);
}

static void *open_output(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct parse *p = user;
    (void)err, (void)errlen;
    struct output_parse *v = realloc(p->outputs, sizeof(*v) * ((size_t)p->noutputs + 1));
    if (v == NULL)
        return NULL;
    p->outputs = v;
    struct output_parse *op = &p->outputs[p->noutputs++];
    memset(op, 0, sizeof(*op));
    snprintf(op->o.name, sizeof(op->o.name), "%s", name);
    op->o.line = line;
    *ks = &op->ks;
    return op;
}

enum { SEC_GATEWAY, SEC_MQTT, SEC_INFLUX, SEC_OUTPUT, SEC_BUS, SEC_SENSOR, NSECTIONS };

static void sections(struct ini_section s[NSECTIONS])
{
    static const struct ini_section own[] = {
        [SEC_GATEWAY] = {.type = "gateway",
                         .keys = gateway_keys,
                         .nkeys = GK_COUNT,
                         .flags = INI_SECTION_REQ,
                         .open = open_gateway},
        [SEC_MQTT] = {.type = "mqtt",
                      .keys = mqttcfg_keys,
                      .nkeys = MQTTCFG_NKEYS,
                      .flags = INI_LENIENT,
                      .open = open_mqtt},
        [SEC_INFLUX] = {.type = "influx",
                        .keys = influxcfg_keys,
                        .nkeys = INFLUXCFG_NKEYS,
                        .flags = INI_LENIENT,
                        .open = open_influx},
        [SEC_OUTPUT] = {.type = "output",
                        .keys = output_keys,
                        .nkeys = OK_COUNT,
                        .flags = INI_NAMED,
                        .open = open_output},
    };
    memcpy(s, own, sizeof(own));
    /* An output's name is a topic level, as a sensor's (alarm/{output}/output_fault). */
    sensorcfg_sections(&s[SEC_BUS], &s[SEC_SENSOR]);
    s[SEC_BUS].open = open_bus;
    s[SEC_SENSOR].open = open_sensor;
    s[SEC_SENSOR].other_key = sensor_other_key;
    s[SEC_OUTPUT].name_ok = s[SEC_SENSOR].name_ok;
}

/* The one place where sensor keys outside sensorcfg's table go: the alarm
 * engine's per-sensor overrides of its defaults (docs/design.md section 9).
 * Called after the whole file is read, so the sensor's kind is known
 * (kind_known false: the kind key is missing or invalid, already reported). */
static int sensor_extra_key(const struct cfg_sensor *s, struct alarm_cfg *ac, bool kind_known,
                            const char *key, const char *value, char *err, size_t errlen)
{
    if (!kind_known) {
        snprintf(err, errlen, "unknown key (or an alarm key of a sensor without a valid kind)");
        return -1;
    }
    int rc = alarm_cfg_set(ac, s->def.kind, key, value, err, errlen);
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

/* Each sensor's alarm parameters: the kind's defaults, then its overrides
 * whatever the key order, then the checks across them.  Into p->c->alarms. */
static void check_alarms(struct parse *p)
{
    int n = sensorcfg_nsensors(p->sensors);
    char label[LABEL_MAX], err[256];

    p->c->alarms = calloc((size_t)n + 1, sizeof(*p->c->alarms));
    if (p->c->alarms == NULL) {
        ini_error(p->ini, 0, NULL, NULL, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const struct cfg_sensor *s = sensorcfg_sensor(p->sensors, i);
        struct alarm_cfg *ac = &p->c->alarms[i];
        const struct sensorcfg_extra *extra;
        int nextra = sensorcfg_extras(p->sensors, i, &extra);
        bool kind_known = sensorcfg_kind_known(p->sensors, i);
        int alarm_errors = 0;

        snprintf(label, sizeof(label), "sensor %s", s->name);
        if (kind_known)
            alarm_cfg_defaults(s->def.kind, ac);
        for (int j = 0; j < nextra; j++)
            if (sensor_extra_key(s, ac, kind_known, extra[j].key, extra[j].value, err,
                                 sizeof(err)) == -1) {
                ini_error(p->ini, extra[j].line, label, extra[j].key, "%s", err);
                alarm_errors++;
            }
        if (kind_known && alarm_errors == 0 && alarm_cfg_validate(ac, err, sizeof(err)) == -1)
            ini_error(p->ini, s->line, label, NULL, "%s", err);
    }
}

/* ---- [output NAME] ---- */

/* The alarm names of kind k, "a, b, c", into buf. */
static void list_alarms(enum kind k, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int id = 0; id < ALARM_COUNT && used < len; id++) {
        if (!alarm_applies(k, (enum alarm_id)id))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                         alarm_name((enum alarm_id)id));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* A sensor name or a glob of one: the characters of a slug, * ? [ ] ! */
static bool glob_ok(const char *g)
{
    if (*g == '\0')
        return false;
    for (; *g != '\0'; g++)
        if (!isalnum((unsigned char)*g) && strchr("_-*?[]!", *g) == NULL)
            return false;
    return true;
}

static int add_src(struct cfg_output *o, int sensor, enum alarm_id alarm)
{
    for (int i = 0; i < o->nsrc; i++)
        if (o->src[i].sensor == sensor && o->src[i].alarm == alarm)
            return 0; /* listed twice (two globs matching it): once */
    struct output_src *v = realloc(o->src, sizeof(*v) * ((size_t)o->nsrc + 1));
    if (v == NULL)
        return -1;
    o->src = v;
    o->src[o->nsrc++] = (struct output_src){sensor, alarm, NULL};
    return 0;
}

/* One term SENSOR-GLOB:ALARM of an `on` list: every sensor it matches that
 * has that alarm.  A term that matches no sensor, names an alarm none of
 * them has, or is not of that shape is an error at the key's line. */
static void resolve_term(struct parse *p, struct output_parse *op, const char *label, int line,
                         const char *term)
{
    char glob[CFG_NAME_MAX + 16], alarm[CFG_NAME_MAX], list[256];
    const char *colon = strchr(term, ':');
    int matched = 0, found = 0, known_kind = -1;
    bool is_glob = strpbrk(term, "*?[") != NULL;

    if (colon == NULL || colon == term || colon[1] == '\0' || strchr(colon + 1, ':') != NULL ||
        (size_t)(colon - term) >= sizeof(glob) || strlen(colon + 1) >= sizeof(alarm)) {
        ini_error(p->ini, line, label, "on",
                  "'%s' is not SENSOR:ALARM (a sensor name or glob, "
                  "a colon, an alarm name: leak-ramp:leak, sump-*:high_high)",
                  term);
        return;
    }
    memcpy(glob, term, (size_t)(colon - term));
    glob[colon - term] = '\0';
    snprintf(alarm, sizeof(alarm), "%s", colon + 1);
    if (!glob_ok(glob)) {
        ini_error(p->ini, line, label, "on", "'%s' is not a sensor name or glob", glob);
        return;
    }
    for (int i = 0; i < sensorcfg_nsensors(p->sensors); i++) {
        const struct cfg_sensor *s = sensorcfg_sensor(p->sensors, i);
        enum alarm_id id;
        if (fnmatch(glob, s->name, 0) != 0)
            continue;
        matched++;
        if (!sensorcfg_kind_known(p->sensors, i))
            continue; /* its kind is unknown (reported): no alarm to look up */
        known_kind = s->def.kind;
        if (alarm_from_name(s->def.kind, alarm, &id) == -1)
            continue;
        found++;
        if (add_src(&op->o, i, id) == -1) {
            ini_error(p->ini, 0, NULL, NULL, "out of memory");
            return;
        }
    }
    if (matched == 0)
        ini_error(p->ini, line, label, "on",
                  is_glob ? "no sensor matches '%s'" : "unknown sensor '%s'", glob);
    else if (found == 0 && known_kind >= 0) {
        list_alarms((enum kind)known_kind, list, sizeof(list));
        if (is_glob)
            ini_error(p->ini, line, label, "on",
                      "no sensor matching '%s' has an alarm '%s' (%s has: %s)", glob, alarm,
                      kind_name((enum kind)known_kind), list);
        else
            ini_error(p->ini, line, label, "on", "sensor %s (%s) has no alarm '%s' (it has: %s)",
                      glob, kind_name((enum kind)known_kind), alarm, list);
    }
}

static void resolve_on(struct parse *p, struct output_parse *op, const char *label)
{
    int line = op->ks.line[OK_ON];
    char copy[CFG_TEXT_MAX], *save = NULL;
    int terms = 0;

    if (!ini_key_ok(&op->ks, OK_ON))
        return;
    snprintf(copy, sizeof(copy), "%s", op->o.on); /* cut up in place */
    for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
        resolve_term(p, op, label, line, t);
        terms++;
    }
    if (terms == 0)
        ini_error(p->ini, line, label, "on", "no SENSOR:ALARM given");
}

/* The known models' names, "a, b, c", into buf. */
static void list_models(const struct model_set *ms, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < model_set_count(ms) && used < len; i++) {
        int n =
            snprintf(buf + used, len - used, "%s%s", used ? ", " : "", model_set_at(ms, i)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void check_output(struct parse *p, struct output_parse *op, const struct model_set *ms)
{
    struct cfg_output *o = &op->o;
    const struct ini_keyset *ks = &op->ks;
    const struct cfg_bus *bus = NULL;
    const struct model_point *coils = NULL;
    char label[LABEL_MAX], list[256];
    bool type_known = false;

    snprintf(label, sizeof(label), "output %s", o->name);
    for (int i = 0; i < sensorcfg_nsensors(p->sensors); i++) {
        const struct cfg_sensor *s = sensorcfg_sensor(p->sensors, i);
        if (strcmp(s->name, o->name) == 0)
            ini_error(p->ini, o->line, label, NULL,
                      "the name is already sensor %s (line %d): alarm topics name one or the "
                      "other",
                      o->name, s->line);
    }
    if (ini_key_ok(ks, OK_BUS)) {
        o->bus = sensorcfg_bus_find(p->sensors, op->bus_name, &bus, &type_known);
        if (o->bus < 0)
            ini_error(p->ini, ks->line[OK_BUS], label, "bus", "unknown bus '%s'", op->bus_name);
    }
    if (bus != NULL && type_known && ini_key_ok(ks, OK_UNIT) &&
        !sensorcfg_unit_addressable(bus->type, o->unit))
        ini_error(p->ini, ks->line[OK_UNIT], label, "unit", "%d is out of range on %s bus %s (%s)",
                  o->unit, bus->type == BUS_RTU ? "rtu" : "tcp", bus->name,
                  bus->type == BUS_RTU ? "1..247" : "0..247 or 255");
    if (ms != NULL && ini_key_ok(ks, OK_MODEL)) {
        o->model = model_set_find(ms, op->model_name);
        if (o->model == NULL) {
            list_models(ms, list, sizeof(list));
            ini_error(p->ini, ks->line[OK_MODEL], label, "model", "unknown model '%s' (known: %s)",
                      op->model_name, list);
        } else if ((coils = model_outputs(o->model)) == NULL) {
            ini_error(p->ini, ks->line[OK_MODEL], label, "model",
                      "model %s has no outputs to switch (it is a sensor's: an output module's "
                      "model has a written point `outputs`, as do8)",
                      o->model->name);
            o->model = NULL;
        }
    }
    if (coils != NULL && ini_key_ok(ks, OK_CHANNEL) && o->channel >= coils->bits)
        ini_error(p->ini, ks->line[OK_CHANNEL], label, "channel",
                  "channel %d out of range: model %s has outputs 0..%d", o->channel, o->model->name,
                  coils->bits - 1);
    resolve_on(p, op, label);
    op->placed = bus != NULL && ini_key_ok(ks, OK_UNIT) && coils != NULL &&
                 ini_key_ok(ks, OK_CHANNEL) && o->channel < coils->bits;
}

/* One output per coil; a module is an output module (never a sensor's
 * unit as well: one device has one register map), of one model. */
static void check_output_units(struct parse *p, const struct cfg_bus *const *buses)
{
    char label[LABEL_MAX];
    for (int j = 0; j < p->noutputs; j++) {
        struct output_parse *b = &p->outputs[j];
        if (!b->placed)
            continue;
        const char *bus = buses[j]->name;
        snprintf(label, sizeof(label), "output %s", b->o.name);
        for (int i = 0; i < sensorcfg_nsensors(p->sensors); i++) {
            const struct cfg_sensor *s = sensorcfg_sensor(p->sensors, i);
            if (sensorcfg_placed(p->sensors, i) && s->bus == b->o.bus && s->unit == b->o.unit) {
                ini_error(p->ini, b->ks.line[OK_UNIT], label, "unit",
                          "unit %d on bus %s is sensor %s (line %d): an output module is a "
                          "unit of its own",
                          b->o.unit, bus, s->name, s->line);
                break;
            }
        }
        for (int i = 0; i < j; i++) {
            const struct output_parse *a = &p->outputs[i];
            if (!a->placed || a->o.bus != b->o.bus || a->o.unit != b->o.unit)
                continue;
            if (a->o.model != b->o.model) {
                ini_error(p->ini, b->ks.line[OK_MODEL], label, "model",
                          "unit %d on bus %s is already output %s (line %d) of model %s", b->o.unit,
                          bus, a->o.name, a->o.line, a->o.model->name);
                break;
            }
            if (a->o.channel == b->o.channel) {
                ini_error(p->ini, b->ks.line[OK_CHANNEL], label, "channel",
                          "channel %d of unit %d on bus %s is already output %s (line %d)",
                          b->o.channel, b->o.unit, bus, a->o.name, a->o.line);
                break;
            }
        }
    }
}

static void check_outputs(struct parse *p)
{
    const struct cfg_bus **buses = calloc((size_t)p->noutputs + 1, sizeof(*buses));
    bool type_known;

    if (buses == NULL) {
        ini_error(p->ini, 0, NULL, NULL, "out of memory");
        return;
    }
    for (int i = 0; i < p->noutputs; i++) {
        check_output(p, &p->outputs[i], p->c->models);
        if (p->outputs[i].placed)
            sensorcfg_bus_find(p->sensors, p->outputs[i].bus_name, &buses[i], &type_known);
    }
    check_output_units(p, buses);
    free(buses);
}

static void validate(struct parse *p, const char *models_dir_default)
{
    check_gateway(p, models_dir_default);
    mqttcfg_check(p->ini, p->mqtt_line, &p->mqtt_ks, &p->c->mqtt);
    influxcfg_check(p->ini, p->influx_line, &p->influx_ks);
    p->c->models = sensorcfg_models_load(p->ini, p->c->models_dir,
                                         p->gateway_ks.line[GK_MODELS_DIR], p->gateway_line);
    sensorcfg_check(p->sensors, p->ini, p->c->models);
    check_alarms(p);
    check_outputs(p);
}

/* Move the parsed buses and sensors into the cfg's own arrays. */
static int assemble(struct parse *p)
{
    struct cfg *c = p->c;
    if (sensorcfg_take(p->sensors, &c->buses, &c->nbuses, &c->sensors, &c->nsensors) == -1 ||
        (c->outputs = calloc((size_t)p->noutputs + 1, sizeof(*c->outputs))) == NULL)
        return -1;
    for (int i = 0; i < p->noutputs; i++) {
        struct cfg_output *o = &c->outputs[i];
        *o = p->outputs[i].o;
        p->outputs[i].o.src = NULL; /* the cfg owns it now */
        for (int j = 0; j < o->nsrc; j++)
            o->src[j].sensor_name = c->sensors[o->src[j].sensor].name;
    }
    c->noutputs = p->noutputs;
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
    for (int i = 0; i < p->noutputs; i++)
        free(p->outputs[i].o.src);
    free(p->outputs);
    sensorcfg_parse_free(p->sensors);
    ini_free(p->ini);
}

struct cfg *cfg_load(const char *path, const char *models_dir_default, FILE *errs, int *nerrors)
{
    return cfg_load_flags(path, models_dir_default, 0, errs, nerrors);
}

/* The language of problems for a person: the file's own `language` when
 * set and valid, else the locale's, else English. */
static enum gw_lang problem_language(const struct parse *p)
{
    const char *env = NULL;
    const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};

    if (p->c != NULL && ini_key_ok(&p->gateway_ks, GK_LANGUAGE))
        return p->c->language;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]) && (env == NULL || env[0] == '\0'); i++)
        env = getenv(vars[i]);
    return env != NULL && strncmp(env, "zh", 2) == 0 ? LANG_ZH : LANG_EN;
}

static struct cfg *load(const char *path, const char *models_dir_default, unsigned flags,
                        FILE *errs, int *nerrors, enum gw_lang *lang);

struct cfg *cfg_load_flags(const char *path, const char *models_dir_default, unsigned flags,
                           FILE *errs, int *nerrors)
{
    return load(path, models_dir_default, flags, errs, nerrors, NULL);
}

struct cfg *cfg_load_lang(const char *path, const char *models_dir_default, unsigned flags,
                          FILE *errs, int *nerrors, enum gw_lang *lang)
{
    enum gw_lang l = LANG_EN;
    struct cfg *c = load(path, models_dir_default, flags, errs, nerrors, &l);
    if (lang != NULL)
        *lang = l;
    return c;
}

static struct cfg *load(const char *path, const char *models_dir_default, unsigned flags,
                        FILE *errs, int *nerrors, enum gw_lang *lang)
{
    struct parse p;
    bool lenient = (flags & CFG_UPLINK_LENIENT) != 0, oom = false;
    int nprob = 0, err = EGW_CONFIG;

    struct ini_section secs[NSECTIONS];

    memset(&p, 0, sizeof(p));
    sections(secs);
    p.c = calloc(1, sizeof(*p.c));
    p.sensors = sensorcfg_parse_new();
    p.ini = ini_new(path, secs, NSECTIONS, &p);
    if (p.c == NULL || p.sensors == NULL || p.ini == NULL) {
        if (errs != NULL)
            fprintf(errs, "%s: out of memory\n", path);
        if (nerrors != NULL)
            *nerrors = 1;
        free(p.c);
        sensorcfg_parse_free(p.sensors);
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
        if (ini_digest(p.ini, p.c->config_hash, sizeof(p.c->config_hash)) == -1)
            oom = true;
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
    if (lang != NULL)
        *lang = problem_language(&p);
    if (ini_fatal(p.ini, lenient) > 0 || oom)
        nprob = errs != NULL ? ini_print_lang(p.ini, errs, lang != NULL ? *lang : LANG_EN)
                             : ini_count(p.ini);
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
    free(c->alarms);
    for (int i = 0; c->outputs != NULL && i < c->noutputs; i++)
        free(c->outputs[i].src);
    free(c->outputs);
    free(c->warnings);
    model_set_free(c->models);
    free(c);
}
