/*
 * sensorcfg: the [bus], [sensor] and [output] sections of gateway.conf (docs/design.md
 * section 6) on the one configuration front-end (lib/ini.h): their key
 * tables, where their keys go, and the checks that span keys and sections
 * (which keys a bus type has, a sensor's bus, unit, model and DI channels,
 * units that sensors share).  A [sensor]'s keys of its kind (pit_depth, the
 * *_input channels) are not listed here: they come from the kind table
 * (kind_def()->keys and ->inputs), so a new kind brings its own keys.
 *
 * Two programs read these sections of one file: shelter-gateway, with the
 * rest of the file and the alarm overrides as a sensor's extra keys
 * (gateway/cfg.c uses the parts below, and resolves an [output]'s `on`
 * list), and shelter-sim, which reads only what it serves (sensorcfg_load),
 * the relay modules of the [output] sections included.  Main thread only.
 */
#ifndef GW_SENSORCFG_H
#define GW_SENSORCFG_H

#include <stdbool.h>
#include <stdio.h>

#include "ini.h"
#include "model.h"
#include "sensor.h"

#define CFG_NAME_MAX 64  /* ids, slugs, bus and sensor names */
#define CFG_TEXT_MAX 256 /* UTF-8 display text, paths */

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
    int gap_ms;     /* silence between transactions as configured (0..1 s); when unset, gap_us
                       rounded up to the ms */
    int gap_us;     /* the silence kept before each request, from the end of the last
                       transaction: `gap`, or by default rtu the line's t3.5 (3.5 characters,
                       at least CFG_GAP_FLOOR_US; lib/rtutime.h), tcp 0 */
};

#define CFG_GAP_FLOOR_US 2000 /* the default gap's floor on an RTU line */

struct cfg_sensor {
    char name[CFG_NAME_MAX];
    int line; /* line of the [sensor NAME] header */
    int bus;  /* index into the buses */
    int unit; /* Modbus unit id 1..247 (tcp: 0..255) */
    /* kind, model (owned by the program's model set) and the kind's keys:
     * pit_depth, the *_input channels (-1 unset), inverted_inputs */
    struct sensor_def def;
    int interval_ms; /* default 1 s (100 ms..1 h) */
    int gap_ms;      /* `gap` of its unit (a slow device): -1 unset; the unit keeps the longest
                        of its sensors' and the bus's */
    char location[CFG_TEXT_MAX]; /* UTF-8, may be empty */
};

/* ---- shelter-sim: these sections alone ---- */

/* [output NAME] (docs/design.md section 21): a relay channel on an output
 * module, switched by alarms.  shelter-sim serves the module (bus, unit,
 * model, channel); the gateway resolves `on` against its sensors and their
 * alarms (gateway/cfg.c struct cfg_output) and switches the relay. */
#define SENSORCFG_UNTIL_CLEARED 0 /* enum output_until (gateway/output.h) */
#define SENSORCFG_UNTIL_ACKED 1
struct sensorcfg_output {
    char name[CFG_NAME_MAX];
    int line;                    /* line of the [output NAME] header */
    int bus;                     /* index into the buses */
    int unit;                    /* the module's unit id */
    const struct model *model;   /* an output module's (model_outputs() != NULL) */
    int channel;                 /* its coil: model_outputs()->address + channel */
    char on[CFG_TEXT_MAX];       /* the `on` list as written (SENSOR-GLOB:ALARM, ...) */
    int until;                   /* SENSORCFG_UNTIL_*; default cleared */
    int min_on_ms;               /* default 0 */
    char location[CFG_TEXT_MAX]; /* UTF-8, may be empty */
};

/* What the [bus] and [sensor] sections of a file say. */
struct sensorcfg {
    char path[CFG_TEXT_MAX];
    char models_dir[CFG_TEXT_MAX]; /* [gateway] models_dir, else the default */
    struct cfg_bus *buses;
    int nbuses;
    struct cfg_sensor *sensors;
    int nsensors;
    struct sensorcfg_output *outputs; /* the [output] sections' modules (on, until...: unset) */
    int noutputs;
    struct model_set *models;
};

/* Read path's [bus] and [sensor] sections, where each [output]'s relay
 * module is (bus, unit, model, channel: the output's checks but its other
 * keys, sensorcfg_check_outputs), and [gateway] models_dir (the
 * device models come from there, else from models_dir_default); every
 * other section and key, the alarm overrides of a [sensor] included, is
 * skipped (`shelter-gateway --check` checks those).  On success returns the
 * config and *nerrors = 0; on failure NULL, each problem printed to errs as
 * "FILE:LINE: [section] key: reason", *nerrors >= 1. */
struct sensorcfg *sensorcfg_load(const char *path, const char *models_dir_default, FILE *errs,
                                 int *nerrors);
void sensorcfg_free(struct sensorcfg *sc);

/* ---- the parts, for a program that reads the whole file (gateway/cfg.c) ---- */

struct sensorcfg_parse; /* the [bus] and [sensor] sections of one file being read */

struct sensorcfg_parse *sensorcfg_parse_new(void); /* NULL when out of memory */
void sensorcfg_parse_free(struct sensorcfg_parse *p);

/* The [bus] and [sensor] rows of a section table (lib/ini.h).  Their
 * callbacks, below, take the struct sensorcfg_parse as `user`; a program
 * whose user is its own calls them from its own callbacks. */
void sensorcfg_sections(struct ini_section *bus, struct ini_section *sensor);
void *sensorcfg_open_bus(void *p, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen);
void *sensorcfg_open_sensor(void *p, const char *name, int line, struct ini_keyset **ks, char *err,
                            size_t errlen);
/* A [sensor] key outside its table: kept (sensorcfg_extras) for the program. */
int sensorcfg_other_key(void *p, void *base, const char *key, const char *value, int line,
                        char *err, size_t errlen);

/* After ini_read(): the device models in dir for the kind table
 * (kind_models_load); when they cannot be loaded, NULL and the problems,
 * at key_line (the models_dir key; 0: not set, then at section_line or the
 * end of the file). */
struct model_set *sensorcfg_models_load(struct ini *ini, const char *dir, int key_line,
                                        int section_line);

/* After ini_read(): the checks across keys and sections, each problem
 * reported to ini.  ms: the model set the sensors' model keys name (NULL:
 * could not be loaded, already reported). */
void sensorcfg_check(struct sensorcfg_parse *p, struct ini *ini, const struct model_set *ms);

/* The sensors read so far, in file order: sensor i, whether its kind key
 * is set and valid, and its keys the table does not have (in file order;
 * the gateway's alarm overrides). */
int sensorcfg_nsensors(const struct sensorcfg_parse *p);
const struct cfg_sensor *sensorcfg_sensor(const struct sensorcfg_parse *p, int i);
bool sensorcfg_kind_known(const struct sensorcfg_parse *p, int i);

/* [output]: its row of a section table (lib/ini.h) and callback, which
 * takes the struct sensorcfg_parse as `user`, as the [bus] ones above. */
void sensorcfg_output_section(struct ini_section *output);
void *sensorcfg_open_output(void *p, const char *name, int line, struct ini_keyset **ks, char *err,
                            size_t errlen);
/* After sensorcfg_check(): each output's checks (its name, bus, unit,
 * model, channel, and the units and coils across outputs and sensors),
 * all but where its `on` list points (the gateway's). */
void sensorcfg_check_outputs(struct sensorcfg_parse *p, struct ini *ini,
                             const struct model_set *ms);
/* The outputs read so far, in file order, and the line of output i's `on`
 * key when it is set and valid (else 0). */
int sensorcfg_noutputs(const struct sensorcfg_parse *p);
const struct sensorcfg_output *sensorcfg_output(const struct sensorcfg_parse *p, int i);
int sensorcfg_output_on_line(const struct sensorcfg_parse *p, int i);

struct sensorcfg_extra {
    char *key, *value;
    int line;
};
int sensorcfg_extras(const struct sensorcfg_parse *p, int i, const struct sensorcfg_extra **extra);

/* Move the buses and sensors into new arrays (each with one zeroed element
 * more), which the caller frees.  0, or -1 when out of memory (nothing
 * moved). */
int sensorcfg_take(struct sensorcfg_parse *p, struct cfg_bus **buses, int *nbuses,
                   struct cfg_sensor **sensors, int *nsensors);

#endif
