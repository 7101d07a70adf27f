/*
 * Unit tests of sensors/sensorcfg.c, the [bus] and [sensor] sections on
 * their own: the [sensor] key table is the kind table's keys and channels,
 * and shelter-sim's reader (sensorcfg_load) takes what it serves from a
 * gateway.conf and skips what only the gateway reads.  The rules of each
 * key are tested through the gateway's loader (test_cfg.c).  Links
 * libsensors.a and libshelter.a only: no gateway module.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "kind.h"
#include "sensorcfg.h"

#define MODELS "sensors/models"

static char tmpdir[64];
static char conf_path[128];
static char out[8192]; /* what sensorcfg_load printed */
static int nerr;

/* Lines 1..16; appended text starts at line 17. */
static const char BASE[] = "[gateway]\n"                  /* 1: the gateway's keys: skipped */
                           "id = sh-0001\n"               /* 2 */
                           "\n"                           /* 3 */
                           "[bus rs485-1]\n"              /* 4 */
                           "type = rtu\n"                 /* 5 */
                           "device = /dev/ttyS1\n"        /* 6 */
                           "\n"                           /* 7 */
                           "[sensor sump-1]\n"            /* 8 */
                           "bus = rs485-1\n"              /* 9 */
                           "unit = 1\n"                   /* 10 */
                           "kind = water_level\n"         /* 11 */
                           "model = level-qdy30a\n"       /* 12 */
                           "pit_depth = 1.2\n"            /* 13 */
                           "high = 70\n"                  /* 14: an alarm override */
                           "\n"                           /* 15 */
                           "[mqtt]\nbroker = nonsense\n"; /* 16, 17 */

static struct sensorcfg *load(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);

    char *buf = NULL;
    size_t size = 0;
    FILE *ms = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(ms);
    struct sensorcfg *c = sensorcfg_load(conf_path, MODELS, ms, &nerr);
    fclose(ms);
    snprintf(out, sizeof(out), "%s", buf);
    free(buf);
    return c;
}

static const char *with(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s%s", BASE, extra);
    return buf;
}

static bool printed(const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "%s:%s", conf_path, line);
    return strstr(out, want) != NULL;
}

START_TEST(test_sensor_keys_are_the_kind_tables)
{
    struct ini_section bus, sensor;
    sensorcfg_sections(&bus, &sensor);
    ck_assert_str_eq(bus.type, "bus");
    ck_assert_str_eq(sensor.type, "sensor");

    /* Every key and DI channel of every kind is a [sensor] key of that kind ... */
    for (int k = 0; k < KIND_COUNT; k++) {
        const struct kind_def *d = kind_def((enum kind)k);
        for (int i = 0; i < d->ninputs + d->nkeys; i++) {
            const char *name = i < d->ninputs ? d->inputs[i].key : d->keys[i - d->ninputs].key;
            int found = -1;
            for (int j = 0; j < sensor.nkeys; j++)
                if (strcmp(sensor.keys[j].name, name) == 0)
                    found = j;
            ck_assert_msg(found >= 0, "%s: key %s missing", d->name, name);
            ck_assert_msg(sensor.keys[found].tag & (1u << k), "%s: key %s not tagged", d->name,
                          name);
        }
    }
    /* ... and every key of some kinds only is one of them (or inverted_inputs). */
    for (int j = 0; j < sensor.nkeys; j++) {
        const struct ini_key *key = &sensor.keys[j];
        if (key->tag == 0 || strcmp(key->name, "inverted_inputs") == 0)
            continue;
        for (int k = 0; k < KIND_COUNT; k++) {
            if (!(key->tag & (1u << k)))
                continue;
            const struct kind_def *d = kind_def((enum kind)k);
            bool mine = false;
            for (int i = 0; i < d->ninputs; i++)
                mine = mine || strcmp(d->inputs[i].key, key->name) == 0;
            for (int i = 0; i < d->nkeys; i++)
                mine = mine || strcmp(d->keys[i].key, key->name) == 0;
            ck_assert_msg(mine, "[sensor] key %s is not in kind %s's table", key->name, d->name);
        }
    }
}
END_TEST

START_TEST(test_sim_reads_buses_and_sensors)
{
    struct sensorcfg *c = load(BASE);
    ck_assert_msg(c != NULL, "%s", out);
    ck_assert_int_eq(nerr, 0);
    ck_assert_int_eq(c->nbuses, 1);
    ck_assert_str_eq(c->buses[0].name, "rs485-1");
    ck_assert_int_eq(c->buses[0].baud, 9600);
    ck_assert_int_eq(c->buses[0].gap_us, 3646); /* t3.5 at 9600 8N1 */
    ck_assert_int_eq(c->nsensors, 1);
    ck_assert_str_eq(c->sensors[0].name, "sump-1");
    ck_assert_int_eq(c->sensors[0].def.kind, KIND_WATER_LEVEL);
    ck_assert_double_eq(c->sensors[0].def.pit_depth_m, 1.2);
    ck_assert_ptr_nonnull(c->sensors[0].def.model);
    ck_assert_str_eq(c->sensors[0].def.model->name, "level-qdy30a");
    ck_assert_int_eq(c->sensors[0].def.input, -1); /* channels not wired */
    ck_assert_str_eq(c->models_dir, MODELS);
    sensorcfg_free(c);

    c = load("");
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(out, "[sensor]") != NULL || strstr(out, "sensor") != NULL, "%s", out);
}
END_TEST

/* The gateway's sections, its required [gateway] keys, an invalid [mqtt]
 * and the alarm overrides are not the simulator's business. */
START_TEST(test_sim_skips_what_only_the_gateway_reads)
{
    struct sensorcfg *c = load(with("[influx]\nurl = x\n"
                                    "[output siren]\nbus = rs485-1\nunit = 12\nmodel = do8\n"
                                    "channel = 3\non = nothing:here\nwhatever = 1\n"
                                    "[sensor sump-2]\nbus = rs485-1\nunit = 2\n"
                                    "kind = water_level\nmodel = level-qdy30a\n"
                                    "pit_depth = 2\nhigh = not-a-number\nfoo = 1\n"));
    ck_assert_msg(c != NULL, "%s", out);
    ck_assert_int_eq(c->nsensors, 2);
    /* An output's relay module is served: its place, not its alarms. */
    ck_assert_int_eq(c->noutputs, 1);
    ck_assert_str_eq(c->outputs[0].name, "siren");
    ck_assert_int_eq(c->outputs[0].bus, 0);
    ck_assert_int_eq(c->outputs[0].unit, 12);
    ck_assert_str_eq(c->outputs[0].model->name, "do8");
    ck_assert_int_eq(c->outputs[0].channel, 3);
    sensorcfg_free(c);
}
END_TEST

START_TEST(test_sim_reports_bus_and_sensor_problems)
{
    struct sensorcfg *c = load(with("[bus tcp-1]\n"         /* 18 */
                                    "type = tcp\n"          /* 19 */
                                    "baud = 9600\n"         /* 20 */
                                    "[sensor door-1]\n"     /* 21 */
                                    "bus = tcp-1\n"         /* 22 */
                                    "unit = 3\n"            /* 23 */
                                    "kind = blast_door\n"   /* 24 */
                                    "model = di8\n"         /* 25 */
                                    "pit_depth = 1\n"       /* 26 */
                                    "closed_input = 9\n")); /* 27 */
    ck_assert_ptr_null(c);
    ck_assert_int_eq(nerr, 5);
    ck_assert_msg(printed("18: [bus tcp-1] host: missing (required on a tcp bus)"), "%s", out);
    ck_assert_msg(printed("20: [bus tcp-1] baud: not a key of a tcp bus"), "%s", out);
    ck_assert_msg(printed("21: [sensor door-1] locked_input: missing"), "%s", out);
    ck_assert_msg(printed("26: [sensor door-1] pit_depth: not a key of kind blast_door"), "%s",
                  out);
    ck_assert_msg(printed("27: [sensor door-1] closed_input: channel 9 out of range"), "%s", out);
}
END_TEST

START_TEST(test_sim_takes_models_dir_from_gateway_section)
{
    char text[4096];
    /* BASE with line 2 "models_dir = /no" */
    snprintf(text, sizeof(text), "[gateway]\nmodels_dir = /no%s", strchr(BASE + 10, '\n'));
    struct sensorcfg *c = load(text);
    ck_assert_ptr_null(c);
    ck_assert_msg(printed("2: [gateway] models_dir: cannot load device models from /no"), "%s",
                  out);
}
END_TEST

static Suite *sensorcfg_suite(void)
{
    Suite *s = suite_create("sensorcfg");
    TCase *tc = tcase_create("sensorcfg");
    tcase_add_test(tc, test_sensor_keys_are_the_kind_tables);
    tcase_add_test(tc, test_sim_reads_buses_and_sensors);
    tcase_add_test(tc, test_sim_skips_what_only_the_gateway_reads);
    tcase_add_test(tc, test_sim_reports_bus_and_sensor_problems);
    tcase_add_test(tc, test_sim_takes_models_dir_from_gateway_section);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sensorcfg.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(conf_path, sizeof(conf_path), "%s/gateway.conf", tmpdir);

    int rc = run_suite(sensorcfg_suite());

    unlink(conf_path);
    rmdir(tmpdir);
    return rc;
}
