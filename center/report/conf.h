/*
 * conf: shelter-report's configuration (docs/design.md section 19): the
 * [influx] section of a gateway-style file, the gateway's keys and rule
 * (lib/influxcfg: url; database for InfluxDB 1.x, or org, bucket and
 * token_file for 2.x), read through lib/ini.  Every other section of the
 * file is the gateway's and is skipped, so a gateway's own gateway.conf
 * serves as it is.  Main thread.
 */
#ifndef GW_REPORT_CONF_H
#define GW_REPORT_CONF_H

#include <stdio.h>

#include "influxcfg.h"

/* Read path into c.  0, or -1 after printing every problem to errs as
 * FILE:LINE: [influx] key: reason. */
int conf_load(const char *path, struct influxcfg *c, FILE *errs);

#endif
