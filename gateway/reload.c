/*
 * reload: see reload.h.  One comparison per section; a new key of [mqtt]
 * or [influx] belongs in its list here.
 */
#include "reload.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"

#define SAME_STR(f) (strcmp(a->f, b->f) == 0)

int reload_check(const struct cfg *a, const struct cfg *b, char *why, size_t len)
{
    bool same_mqtt = a->mqtt.nuri == b->mqtt.nuri && SAME_STR(mqtt.error) &&
                     SAME_STR(mqtt.username) && SAME_STR(mqtt.password_file) &&
                     SAME_STR(mqtt.ca_file) && SAME_STR(mqtt.cert_file) &&
                     SAME_STR(mqtt.key_file) && SAME_STR(mqtt.topic_prefix) &&
                     a->mqtt.keepalive_s == b->mqtt.keepalive_s;
    for (int i = 0; same_mqtt && i < a->mqtt.nuri; i++)
        same_mqtt = SAME_STR(mqtt.uri[i]);
    bool same_influx = a->influx.enabled == b->influx.enabled && SAME_STR(influx.error) &&
                       SAME_STR(influx.url) && SAME_STR(influx.database) && SAME_STR(influx.org) &&
                       SAME_STR(influx.bucket) && SAME_STR(influx.token_file);
    bool same_site = SAME_STR(id) && SAME_STR(city) && SAME_STR(district) && SAME_STR(street) &&
                     SAME_STR(community) && SAME_STR(property) && SAME_STR(state_dir) &&
                     a->telemetry_max_rows == b->telemetry_max_rows &&
                     a->telemetry_max_mb == b->telemetry_max_mb;
    if (same_site && same_mqtt && same_influx)
        return 0;
    snprintf(why, len, "%s changed: restart the gateway to apply it",
             !same_site   ? "the gateway's identity, state_dir or telemetry cap"
             : !same_mqtt ? "[mqtt]"
                          : "[influx]");
    return -1;
}
