/*
 * cfg: loads the gateway configuration (docs/design.md section 6) into an immutable struct.
 *
 * The file is read by the project's one configuration front-end (lib/ini.h):
 * the line rules, the sections and the key tables, the FILE:LINE problem
 * list.  What is the gateway's own is here: one key table per section
 * {key, parser, field, range, default, flags} ([mqtt] and [influx] are
 * lib/mqttcfg and lib/influxcfg, shared with the centre's programs; [bus],
 * [sensor] and [output] are sensors/sensorcfg, shared with shelter-sim),
 * and the rules that span sections (the alarm overrides of a sensor, kept
 * by sensorcfg as its extra keys; an output's `on` list, resolved against
 * the sensors and the alarm catalogue), which run after the whole file is
 * read.  [mqtt] and [influx] are INI_LENIENT: their problems affect the
 * uplink only (see cfg.h).  Owns the model set.
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
    struct sensorcfg_parse *sensors; /* [bus], [sensor] and [output] */
    struct cfg_output *outputs;      /* the outputs, once checked: `on` resolved */
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

/* [output NAME] is sensorcfg's; its `until` stores an enum output_until. */
_Static_assert(sizeof(enum output_until) == sizeof(int) &&
                   OUTPUT_UNTIL_CLEARED == SENSORCFG_UNTIL_CLEARED &&
                   OUTPUT_UNTIL_ACKED == SENSORCFG_UNTIL_ACKED,
               "enum output_until is not sensorcfg's until");

_Static_assert(GK_COUNT <= INI_KEYS_MAX && MQTTCFG_NKEYS <= INI_KEYS_MAX &&
                   INFLUXCFG_NKEYS <= INI_KEYS_MAX,
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
    return sensorcfg_open_output(((struct parse *)user)->sensors, name, line, ks, err, errlen);
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
    };
    memcpy(s, own, sizeof(own));
    sensorcfg_sections(&s[SEC_BUS], &s[SEC_SENSOR]);
    sensorcfg_output_section(&s[SEC_OUTPUT]);
    s[SEC_BUS].open = open_bus;
    s[SEC_SENSOR].open = open_sensor;
    s[SEC_SENSOR].other_key = sensor_other_key;
    s[SEC_OUTPUT].open = open_output;
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
static void resolve_term(struct parse *p, struct cfg_output *o, const char *label, int line,
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
        if (add_src(o, i, id) == -1) {
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

static void resolve_on(struct parse *p, struct cfg_output *o, int line)
{
    char label[LABEL_MAX], copy[CFG_TEXT_MAX], *save = NULL;
    int terms = 0;

    if (line == 0)
        return; /* no valid `on` (reported) */
    snprintf(label, sizeof(label), "output %s", o->name);
    snprintf(copy, sizeof(copy), "%s", o->on); /* cut up in place */
    for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
        resolve_term(p, o, label, line, t);
        terms++;
    }
    if (terms == 0)
        ini_error(p->ini, line, label, "on", "no SENSOR:ALARM given");
}

/* The outputs as sensorcfg read and checked them, each with what its `on`
 * list resolves to. */
static void check_outputs(struct parse *p)
{
    int n = sensorcfg_noutputs(p->sensors);

    sensorcfg_check_outputs(p->sensors, p->ini, p->c->models);
    if ((p->outputs = calloc((size_t)n + 1, sizeof(*p->outputs))) == NULL) {
        ini_error(p->ini, 0, NULL, NULL, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const struct sensorcfg_output *so = sensorcfg_output(p->sensors, i);
        struct cfg_output *o = &p->outputs[i];
        snprintf(o->name, sizeof(o->name), "%s", so->name);
        o->line = so->line;
        o->bus = so->bus;
        o->unit = so->unit;
        o->model = so->model;
        o->channel = so->channel;
        snprintf(o->on, sizeof(o->on), "%s", so->on);
        o->until = (enum output_until)so->until;
        o->min_on_ms = so->min_on_ms;
        snprintf(o->location, sizeof(o->location), "%s", so->location);
        resolve_on(p, o, sensorcfg_output_on_line(p->sensors, i));
    }
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

/* Move the parsed buses, sensors and outputs into the cfg. */
static int assemble(struct parse *p)
{
    struct cfg *c = p->c;
    if (p->outputs == NULL ||
        sensorcfg_take(p->sensors, &c->buses, &c->nbuses, &c->sensors, &c->nsensors) == -1)
        return -1;
    c->outputs = p->outputs; /* the cfg owns them now */
    c->noutputs = sensorcfg_noutputs(p->sensors);
    p->outputs = NULL;
    for (int i = 0; i < c->noutputs; i++)
        for (int j = 0; j < c->outputs[i].nsrc; j++)
            c->outputs[i].src[j].sensor_name = c->sensors[c->outputs[i].src[j].sensor].name;
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
    for (int i = 0; p->outputs != NULL && i < sensorcfg_noutputs(p->sensors); i++)
        free(p->outputs[i].src);
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
