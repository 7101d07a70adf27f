/* influxcfg: the [influx] section, see influxcfg.h. */
#include "influxcfg.h"

#include <stdbool.h>

#define FIELD(member) INI_FIELD(struct influxcfg, member)

const struct ini_key influxcfg_keys[INFLUXCFG_NKEYS] = {
    [INFLUXCFG_URL] = {"url", ini_url, FIELD(url), .flags = INI_REQUIRED},
    [INFLUXCFG_DATABASE] = {"database", ini_text, FIELD(database)},
    [INFLUXCFG_ORG] = {"org", ini_text, FIELD(org)},
    [INFLUXCFG_BUCKET] = {"bucket", ini_text, FIELD(bucket)},
    [INFLUXCFG_TOKEN_FILE] = {"token_file", ini_text, FIELD(token_file)},
};

void influxcfg_check(struct ini *ini, int header_line, const struct ini_keyset *ks)
{
    if (header_line == 0)
        return;
    const int *line = ks->line;
    bool v1 = line[INFLUXCFG_DATABASE] > 0;
    bool v2_any =
        line[INFLUXCFG_ORG] > 0 || line[INFLUXCFG_BUCKET] > 0 || line[INFLUXCFG_TOKEN_FILE] > 0;
    bool v2_all =
        line[INFLUXCFG_ORG] > 0 && line[INFLUXCFG_BUCKET] > 0 && line[INFLUXCFG_TOKEN_FILE] > 0;
    if (v1 && v2_any) {
        ini_error(
            ini, line[INFLUXCFG_DATABASE], "influx", "database",
            "database (InfluxDB 1) and org/bucket/token_file (InfluxDB 2) exclude each other");
    } else if (!v1 && !v2_any) {
        ini_error(ini, header_line, "influx", NULL,
                  "needs database (InfluxDB 1) or org, bucket and token_file (InfluxDB 2)");
    } else if (v2_any && !v2_all) {
        for (int i = INFLUXCFG_ORG; i <= INFLUXCFG_TOKEN_FILE; i++)
            if (line[i] == 0)
                ini_error(ini, header_line, "influx", influxcfg_keys[i].name,
                          "missing (InfluxDB 2 needs org, bucket and token_file)");
    }
}
