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
#include "kind.h"
#include "mode.h"
#include "model.h"
#include "mqttcfg.h"
#include "sensor.h"

#define CFG_NAME_MAX 64  /* ids, slugs, bus and sensor names */
#define CFG_TEXT_MAX 256 /* UTF-8 display text, paths */
#define CFG_URI_MAX MQTTCFG_URI_MAX

enum bus_type { BUS_RTU, BUS_TCP };

struct cfg_bus {
    char name[CFG_NAME_MAX];
    int line; /* line of the [bus NAME] header */
    enum bus_type type;
    /* rtu */
    char device[CFG_TEXT_MAX];
    int device_line; /* where device was set, for the file checks */
    int baud;        /* default 9600 */
    char parity;     /* 'N', 'E', 'O'; default 'N' */
    int data_bits;   /* 7 or 8; default 8 */
    int stop_bits;   /* 1 or 2; default 1 */
    /* tcp */
    char host[CFG_TEXT_MAX];
    int port; /* default 502 */
    /* both */
    int timeout_ms; /* response timeout, default 500 ms (10 ms..5 s) */
    int retries;    /* extra attempts after a failure, default 1 (0..5) */
    int gap_ms;     /* silence after each transaction; default rtu 20 ms, tcp 0 */
};

struct cfg_sensor {
    char name[CFG_NAME_MAX];
    int line; /* line of the [sensor NAME] header */
    int bus;  /* index into cfg->buses */
    int unit; /* Modbus unit id 1..247 (tcp: 0..255) */
    /* kind, model (owned by cfg->models) and the kind's keys: pit_depth,
     * the *_input channels (-1 unset), inverted_inputs */
    struct sensor_def def;
    int interval_ms;             /* default 1 s (100 ms..1 h) */
    char location[CFG_TEXT_MAX]; /* UTF-8, may be empty */
    struct alarm_cfg alarm;      /* the kind's alarm defaults with this sensor's overrides */
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
    struct mqttcfg mqtt;           /* [mqtt] (lib/mqttcfg.h) */
    struct influxcfg influx;       /* [influx]; enabled = section present (lib/influxcfg.h) */
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
void cfg_free(struct cfg *c);

#endif
