/*
 * conf: shelter-report's configuration (docs/design.md section 19): the
 * [influx] section of a gateway-style file, the same keys as the gateway
 * (url; database for InfluxDB 1.x, or org, bucket and token_file for 2.x),
 * read through lib/ini.  Other sections of the file are the gateway's and
 * are not looked at, so a gateway's own gateway.conf serves as it is.  Main
 * thread.
 */
#ifndef GW_REPORT_CONF_H
#define GW_REPORT_CONF_H

#include <stdio.h>

#define CONF_TEXT_MAX 256
#define CONF_NAME_MAX 64

struct conf {
    char url[CONF_TEXT_MAX];
    char database[CONF_NAME_MAX];
    char org[CONF_NAME_MAX], bucket[CONF_NAME_MAX];
    char token_file[CONF_TEXT_MAX];
};

/* Read path into c.  0, or -1 after printing every problem to errs as
 * FILE:LINE: [influx] key: reason. */
int conf_load(const char *path, struct conf *c, FILE *errs);

#endif
