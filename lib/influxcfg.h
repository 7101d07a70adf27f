/*
 * influxcfg: the [influx] section of every configuration that names an
 * InfluxDB (gateway.conf; shelter-report, docs/design.md section 14, reads
 * the same keys): its struct, its key table for lib/ini, and the rule
 * across its keys (InfluxDB 1: database; InfluxDB 2: org, bucket and
 * token_file).  Used as mqttcfg.h is.  Pure; any thread.
 */
#ifndef GW_INFLUXCFG_H
#define GW_INFLUXCFG_H

#include "ini.h"

#define INFLUXCFG_NAME_MAX 64  /* database, org, bucket */
#define INFLUXCFG_TEXT_MAX 256 /* the URL, a path */

struct influxcfg {
    int enabled; /* the section is there */
    char url[INFLUXCFG_TEXT_MAX], database[INFLUXCFG_NAME_MAX];
    char org[INFLUXCFG_NAME_MAX], bucket[INFLUXCFG_NAME_MAX], token_file[INFLUXCFG_TEXT_MAX];
    char error[512]; /* lenient load: the section's first problem; "" when usable */
};

enum {
    INFLUXCFG_URL,
    INFLUXCFG_DATABASE,
    INFLUXCFG_ORG,
    INFLUXCFG_BUCKET,
    INFLUXCFG_TOKEN_FILE,
    INFLUXCFG_NKEYS
};
extern const struct ini_key influxcfg_keys[INFLUXCFG_NKEYS];

/* After the whole file: database, or org, bucket and token_file, never
 * both, reported at their lines or the header's.  header_line 0: the
 * section is absent, nothing to check. */
void influxcfg_check(struct ini *ini, int header_line, const struct ini_keyset *ks);

#endif
