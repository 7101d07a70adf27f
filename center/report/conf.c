/*
 * conf: see conf.h.  One section of interest, [influx], required; the rest
 * of the file goes to lib/ini's INI_OTHER (read by the line rules, keys
 * skipped).
 */
#include "conf.h"

#include <string.h>

#include "ini.h"

struct parse {
    struct influxcfg *c;
    struct ini_keyset ks;
    int line;
};

static void *open_influx(void *user, const char *name, int line, struct ini_keyset **ks, char *err,
                         size_t errlen)
{
    struct parse *p = user;
    (void)name, (void)err, (void)errlen;
    p->line = line;
    p->c->enabled = 1;
    *ks = &p->ks;
    return p->c;
}

static const struct ini_section sections[] = {
    {"influx", influxcfg_keys, INFLUXCFG_NKEYS, INI_SECTION_REQ, open_influx, NULL, NULL},
    {INI_OTHER, NULL, 0, INI_NAMED, NULL, NULL, NULL},
};

int conf_load(const char *path, struct influxcfg *c, FILE *errs)
{
    struct parse p = {.c = c};
    int rc = -1;

    memset(c, 0, sizeof(*c));
    ini_apply_defaults(influxcfg_keys, INFLUXCFG_NKEYS, c);
    struct ini *ini = ini_new(path, sections, (int)(sizeof(sections) / sizeof(sections[0])), &p);
    if (ini == NULL) {
        fprintf(errs, "%s: out of memory\n", path);
        return -1;
    }
    if (ini_read(ini) == 0) {
        influxcfg_check(ini, p.line, &p.ks);
        rc = ini_fatal(ini, false) > 0 ? -1 : 0;
    }
    ini_print(ini, errs);
    ini_free(ini);
    return rc;
}
