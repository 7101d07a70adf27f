/*
 * cfg: the gateway configuration (docs/design.md section 6), read through the
 * configuration front-end (lib/ini.h), mapped through key tables into an
 * immutable struct.  Every problem is reported as
 * `FILE:LINE: [section] key: reason`, all of them, not just the first.  The
 * value parsers are lib/parse.h.  Main thread only.
 */
#ifndef GW_CFG_H
#define GW_CFG_H

#include <stdint.h>
#include <stdio.h>

#include "alarm.h"
#include "influxcfg.h"
#include "ini.h"
#include "kind.h"
#include "mode.h"
#include "model.h"
#include "mqttcfg.h"
#include "output.h"
#include "sensor.h"
#include "sensorcfg.h"

#define CFG_URI_MAX MQTTCFG_URI_MAX

/* CFG_NAME_MAX, CFG_TEXT_MAX, struct cfg_bus and struct cfg_sensor: the
 * [bus] and [sensor] sections, sensors/sensorcfg.h. */

/* [output NAME]: a relay channel on an output module, switched by alarms
 * (docs/design.md section 21). */
struct cfg_output {
    char name[CFG_NAME_MAX];
    int line;                  /* line of the [output NAME] header */
    int bus;                   /* index into cfg->buses */
    int unit;                  /* Modbus unit id of the module */
    const struct model *model; /* owned by cfg->models; has model_outputs() */
    int channel;               /* its coil: model_outputs()->address + channel */
    char on[CFG_TEXT_MAX];     /* the `on` list as written (SENSOR-GLOB:ALARM, ...) */
    struct output_src *src;    /* what it resolves to: every (sensor, alarm); owned */
    int nsrc;
    enum output_until until;     /* default cleared */
    int min_on_ms;               /* default 0 */
    char location[CFG_TEXT_MAX]; /* UTF-8, may be empty */
};

struct cfg {
    char path[CFG_TEXT_MAX];
    /* [gateway] */
    char id[CFG_NAME_MAX];
    char city[CFG_NAME_MAX], district[CFG_NAME_MAX], street[CFG_NAME_MAX];
    char community[CFG_NAME_MAX], property[CFG_NAME_MAX];
    char name[CFG_TEXT_MAX];
    enum gw_mode mode;             /* default peacetime */
    char state_dir[CFG_TEXT_MAX];  /* default /var/lib/shelter-gateway */
    enum gw_lang language;         /* default zh */
    char models_dir[CFG_TEXT_MAX]; /* directory the models came from */
    int telemetry_max_rows;        /* outbox cap on pending telemetry: rows (default 100000) */
    int telemetry_max_mb;          /* ... and payload MiB (default 64); alarms are never capped */
    int heartbeat_ms;              /* the retained status again this often (default 5 min) */
    /* The configuration's hash as the status publishes it: ini_digest() of
     * this file (comments and layout do not count; lib/ini.h). */
    char config_hash[INI_DIGEST_SIZE];
    struct mqttcfg mqtt;     /* [mqtt] (lib/mqttcfg.h) */
    struct influxcfg influx; /* [influx]; enabled = section present (lib/influxcfg.h) */
    /* What needs fixing but did not fail the load, one "FILE:LINE: ..."
     * line each ("\n"-terminated), or NULL when there was nothing: the
     * [mqtt] and [influx] problems of a lenient load, and warnings (a
     * comment that is not UTF-8). */
    char *warnings;
    /* Lines of the keys that name files (0: not set, default used). */
    struct {
        int state_dir, password_file, ca_file, cert_file, key_file, token_file;
    } lines;
    struct cfg_bus *buses;
    int nbuses;
    struct cfg_sensor *sensors;
    int nsensors;
    /* Each sensor's alarm parameters, indexed like sensors: the kind's
     * defaults with the sensor's overrides (docs/design.md section 9). */
    struct alarm_cfg *alarms;
    struct cfg_output *outputs;
    int noutputs;
    struct model_set *models;
};

/* Parse and validate path.  On success returns the config and *nerrors = 0.
 * On failure returns NULL, prints each problem to errs as
 * "FILE:LINE: [section] key: reason" and sets *nerrors (>= 1).
 * models_dir_default is used when [gateway] models_dir is not set. */
struct cfg *cfg_load(const char *path, const char *models_dir_default, FILE *errs, int *nerrors);

/* cfg_load with flags.  CFG_UPLINK_LENIENT: problems in [mqtt] or [influx]
 * affect the uplink only, so they do not fail the load when they are the only
 * ones: they are kept in c->warnings (not printed), and the first of each
 * section in mqtt.error or influx.error, which makes that output unusable.
 * The daemon loads this way: a typo in the uplink must never stop local
 * polling and alarms (docs/design.md section 1).  Any other problem fails the load as in
 * cfg_load, and then every problem is printed. */
#define CFG_UPLINK_LENIENT 1u
struct cfg *cfg_load_flags(const char *path, const char *models_dir_default, unsigned flags,
                           FILE *errs, int *nerrors);
/* cfg_load_flags for a person at a terminal (--check, the start): the
 * problems printed in the language of the file's own `language` key when
 * it is set and valid, else of the locale (LC_ALL, LC_MESSAGES, LANG:
 * zh... is Chinese), else English, through ini_translate() (FILE:LINE,
 * section and key as they are).  *lang (not NULL) receives that language,
 * also when the load fails (for the lines the caller adds). */
struct cfg *cfg_load_lang(const char *path, const char *models_dir_default, unsigned flags,
                          FILE *errs, int *nerrors, enum gw_lang *lang);
void cfg_free(struct cfg *c);

#endif
