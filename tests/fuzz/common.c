/*
 * common: see fuzz.h.  The reference shelter is written to the scratch
 * directory and loaded through cfg_load(), so the decoding targets run on
 * sensors exactly as the gateway configures them, and a change of the config
 * rules that rejects it stops those targets loudly instead of quietly.
 */
#include "fuzz.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "kind.h"
#include "model.h"
#include "plan.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

static char scratch[256];

/* Remove dir and what the targets put in it (files, one level of directories). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) == -1 && errno == EISDIR && depth > 0)
            remove_tree(path, depth - 1);
    }
    closedir(d);
    rmdir(dir);
}

static void scratch_remove(void)
{
    remove_tree(scratch, 1);
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/shelter-fuzz.XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(scratch) == NULL) {
            perror(scratch);
            abort();
        }
        atexit(scratch_remove);
    }
    return scratch;
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

const char *fuzz_models_dir(void)
{
    const char *dir = getenv("FUZZ_MODELS_DIR");
    return dir != NULL && dir[0] != '\0' ? dir : "sensors/models";
}

/* Every reference model and every kind; the DI module is shared by four
 * sensors (one request), with an optional contact and an inverted input. */
static const char shelter_conf[] = "[gateway]\n"
                                   "id = fuzz-shelter\n"
                                   "city = zhengzhou\n"
                                   "district = jinshui\n"
                                   "street = fengchan\n"
                                   "community = dongfeng\n"
                                   "property = wanke-wuye\n"
                                   "name = 模糊测试人防工程\n"
                                   "state_dir = %s\n"
                                   "[mqtt]\n"
                                   "uri = tcp://127.0.0.1:1883\n"
                                   "[bus rs485-1]\n"
                                   "type = rtu\n"
                                   "device = /dev/null\n"
                                   "[bus rs485-2]\n"
                                   "type = rtu\n"
                                   "device = /dev/null\n"
                                   "[bus tcp-1]\n"
                                   "type = tcp\n"
                                   "host = 127.0.0.1\n"
                                   "[sensor sump]\n"
                                   "bus = rs485-1\n"
                                   "unit = 1\n"
                                   "kind = water_level\n"
                                   "model = level-qdy30a\n"
                                   "pit_depth = 1.2\n"
                                   "[sensor co2-jxct]\n"
                                   "bus = rs485-1\n"
                                   "unit = 2\n"
                                   "kind = co2\n"
                                   "model = co2-jxct\n"
                                   "[sensor smoke]\n"
                                   "bus = rs485-1\n"
                                   "unit = 3\n"
                                   "kind = smoke\n"
                                   "model = smoke-rs485\n"
                                   "[sensor door-1]\n"
                                   "bus = rs485-2\n"
                                   "unit = 10\n"
                                   "kind = blast_door\n"
                                   "model = di8\n"
                                   "closed_input = 0\n"
                                   "locked_input = 1\n"
                                   "open_input = 2\n"
                                   "[sensor door-2]\n"
                                   "bus = rs485-2\n"
                                   "unit = 10\n"
                                   "kind = blast_door\n"
                                   "model = di8\n"
                                   "closed_input = 3\n"
                                   "locked_input = 4\n"
                                   "[sensor smoke-relay]\n"
                                   "bus = rs485-2\n"
                                   "unit = 10\n"
                                   "kind = smoke\n"
                                   "model = di8\n"
                                   "alarm_input = 5\n"
                                   "fault_input = 6\n"
                                   "inverted_inputs = 6\n"
                                   "[sensor leak]\n"
                                   "bus = rs485-2\n"
                                   "unit = 10\n"
                                   "kind = water_leak\n"
                                   "model = di8\n"
                                   "input = 7\n"
                                   "[sensor co2-s8]\n"
                                   "bus = tcp-1\n"
                                   "unit = 1\n"
                                   "kind = co2\n"
                                   "model = co2-senseair-s8\n";

static struct cfg *shelter;
static struct plan *shelter_plan;

static void shelter_free(void)
{
    plan_free(shelter_plan);
    cfg_free(shelter);
}

static void shelter_load(void)
{
    char path[512], text[sizeof(shelter_conf) + 256];
    int nerrors = 0;

    if (shelter != NULL)
        return;
    snprintf(path, sizeof(path), "%s/shelter.conf", fuzz_scratch_dir());
    int n = snprintf(text, sizeof(text), shelter_conf, fuzz_scratch_dir());
    fuzz_write_file(path, text, (size_t)n);
    shelter = cfg_load(path, fuzz_models_dir(), stderr, &nerrors);
    if (shelter == NULL) {
        fprintf(stderr, "fuzz: the reference shelter does not load (%d errors)\n", nerrors);
        abort();
    }
    shelter_plan = plan_from_cfg(shelter);
    FUZZ_ASSERT(shelter_plan != NULL && shelter_plan->nrequests > 0);
    atexit(shelter_free);
}

const struct cfg *fuzz_shelter(void)
{
    shelter_load();
    return shelter;
}

const struct plan *fuzz_shelter_plan(void)
{
    shelter_load();
    return shelter_plan;
}

/* The payload keys each kind must carry when the reading is good (docs/design.md section 10). */
static const char *const kind_values[KIND_COUNT][3] = {
    [KIND_WATER_LEVEL] = {"level_m", "level_pct", NULL},
    [KIND_WATER_LEAK] = {"wet", NULL, NULL},
    [KIND_CO2] = {"co2_ppm", NULL, NULL},
    [KIND_BLAST_DOOR] = {"door", "contacts", NULL},
    [KIND_SMOKE] = {"smoke", NULL, NULL},
};

void fuzz_check_reading(const struct cfg_sensor *s, const struct reading *r)
{
    char json[1024];
    int n = reading_json(r, s->name, json, sizeof(json));

    FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(json));
    FUZZ_ASSERT(r->kind == s->def.kind);
    FUZZ_ASSERT(r->quality == Q_GOOD || r->quality == Q_IMPLAUSIBLE);
    FUZZ_ASSERT(!r->no_value || r->quality == Q_IMPLAUSIBLE);

    cJSON *o = cJSON_Parse(json);
    FUZZ_ASSERT(cJSON_IsObject(o));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "sensor");
    FUZZ_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, s->name) == 0);
    v = cJSON_GetObjectItemCaseSensitive(o, "kind");
    FUZZ_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, kind_name(s->def.kind)) == 0);
    v = cJSON_GetObjectItemCaseSensitive(o, "quality");
    FUZZ_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, quality_name(r->quality)) == 0);
    for (int i = 0; r->quality == Q_GOOD && i < 3 && kind_values[s->def.kind][i] != NULL; i++)
        FUZZ_ASSERT(cJSON_GetObjectItemCaseSensitive(o, kind_values[s->def.kind][i]) != NULL);
    if (r->no_value)
        for (int i = 0; i < 3 && kind_values[s->def.kind][i] != NULL; i++)
            FUZZ_ASSERT(cJSON_GetObjectItemCaseSensitive(o, kind_values[s->def.kind][i]) == NULL);
    cJSON_Delete(o);
}

void fuzz_decode_request(const struct cfg *c, const struct plan *p, int request,
                         const uint16_t *regs, const uint8_t *bits)
{
    const struct plan_request *rq = &p->requests[request];
    bool bit_access = rq->fn == MB_FN_COILS || rq->fn == MB_FN_DISCRETE;

    for (int m = 0; m < rq->nmembers; m++) {
        int si = p->members[rq->first_member + m];
        const struct cfg_sensor *s = &c->sensors[si];
        int off = s->def.model->start - rq->start;
        struct reading r;

        FUZZ_ASSERT(off >= 0 && off + s->def.model->count <= rq->count);
        /* A sensor that passed --check always decodes (kind.h): -1 is for
         * data that cannot belong to it, which the config rules exclude. */
        FUZZ_ASSERT(kind_decode(&s->def, si, bit_access ? NULL : regs + off,
                                bit_access ? bits + off : NULL, 1784541784123, &r) == 0);
        FUZZ_ASSERT(r.sensor == si && r.ts_ms == 1784541784123);
        fuzz_check_reading(s, &r);
    }
}
