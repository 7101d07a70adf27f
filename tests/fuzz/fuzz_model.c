/*
 * fuzz_model: the device-model loader (sensors/model.c) on any model file,
 * then the register decoder (model.c, sensors/kind.c) of a model it accepts
 * on any data.
 *
 * Input: the model file's bytes, optionally followed by a NUL and the data
 * of one read (registers big-endian, two bytes each; or one byte per bit),
 * repeated to fill the model's span.  The file is named after its own
 * `name = ` line when that is a valid file name (the loader wants them
 * equal), else fuzz.model.
 *
 * Checked: a model that loads passes what each of its kinds needs; every
 * point decodes to 0 or to -1 with a documented errno; a sensor of each
 * kind the model lists (with channels as an installer would wire them)
 * decodes to a reading whose JSON is sound (fuzz_check_reading).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "fuzz.h"
#include "gwerr.h"
#include "kind.h"
#include "model.h"

/* The value of the first "name = " line, if it can be a file name. */
static void model_file_name(const char *text, size_t len, char *name, size_t namelen)
{
    snprintf(name, namelen, "fuzz");
    for (const char *q = text; q < text + len;) {
        const char *nl = memchr(q, '\n', (size_t)(text + len - q));
        size_t linelen = nl ? (size_t)(nl - q) : (size_t)(text + len - q);
        while (linelen > 0 && (*q == ' ' || *q == '\t')) /* indentation is ignored */
            q++, linelen--;
        if (linelen > 4 && strncmp(q, "name", 4) == 0) {
            const char *v = q + 4, *end = q + linelen;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            if (v < end && *v == '=') {
                v++;
                while (v < end && (*v == ' ' || *v == '\t'))
                    v++;
                while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                    end--;
                size_t n = (size_t)(end - v), ok = 0;
                while (ok < n && v[ok] != '\0' &&
                       strchr("abcdefghijklmnopqrstuvwxyz0123456789_-.", v[ok]) != NULL)
                    ok++;
                if (n > 0 && n < namelen && ok == n && v[0] != '.') {
                    memcpy(name, v, n);
                    name[n] = '\0';
                }
                return;
            }
        }
        if (nl == NULL)
            break;
        q = nl + 1;
    }
}

/* A sensor of kind k on m wired as the reference shelter wires DI modules. */
static bool make_sensor(const struct model *m, enum kind k, unsigned inverted, struct cfg_sensor *s)
{
    char why[256];
    const struct model_point *in = model_point(m, "inputs");
    int nbits = in != NULL && in->type == PT_BITS ? in->bits : 0;
    bool di = nbits > 0 && !(k == KIND_SMOKE && model_point(m, "state") != NULL);

    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "fuzz-%s", kind_name(k));
    s->def.kind = k;
    s->def.model = m;
    s->def.pit_depth_m = 1.2;
    s->def.closed_input = s->def.locked_input = s->def.open_input = -1;
    s->def.alarm_input = s->def.fault_input = s->def.input = -1;
    if (di) {
        int *ch[3] = {NULL, NULL, NULL};
        if (k == KIND_BLAST_DOOR)
            ch[0] = &s->def.closed_input, ch[1] = &s->def.locked_input, ch[2] = &s->def.open_input;
        else if (k == KIND_SMOKE)
            ch[0] = &s->def.alarm_input, ch[1] = &s->def.fault_input;
        else if (k == KIND_WATER_LEAK)
            ch[0] = &s->def.input;
        unsigned used = 0;
        for (int i = 0; i < 3 && ch[i] != NULL && i < nbits; i++) {
            *ch[i] = i;
            used |= 1u << i;
        }
        s->def.inverted_mask = inverted & used;
    }
    /* What the config loader would refuse never reaches the decoder. */
    return kind_sensor_check(&s->def, why, sizeof(why)) == 0;
}

static void decode_points(const struct model *m, const uint16_t *regs, const uint8_t *bits)
{
    for (int i = 0; i < m->npoints; i++) {
        const struct model_point *p = &m->points[i];
        if (p->type == PT_BITS) {
            uint32_t mask = 0;
            FUZZ_ASSERT(model_bits(m, p, bits, &mask) == 0);
            FUZZ_ASSERT(p->bits >= 32 || mask >> p->bits == 0);
            continue;
        }
        double v = 0;
        uint32_t raw = 0;
        if (model_decode(m, p, regs, &v, &raw) == 0) {
            /* A good value is a number: NaN and inf are neither JSON nor InfluxDB fields. */
            FUZZ_ASSERT(isfinite(v));
        } else {
            FUZZ_ASSERT(errno == EGW_PLACEHOLDER || errno == EGW_RANGE);
        }
        (void)model_enum_name(p, raw);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[512], path[1024];
    static uint16_t regs[2000];
    static uint8_t bits[2000];
    char name[MODEL_NAME_MAX], err[4096];

    if (dir[0] == '\0') {
        /* A directory of its own: the loader reads every *.model in it. */
        snprintf(dir, sizeof(dir), "%s/models", fuzz_scratch_dir());
        FUZZ_ASSERT(mkdir(dir, 0700) == 0);
    }

    const uint8_t *nul = memchr(data, '\0', size);
    size_t textlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *payload = nul ? nul + 1 : NULL;
    size_t payloadlen = nul ? size - textlen - 1 : 0;

    model_file_name((const char *)data, textlen, name, sizeof(name));
    if (path[0] != '\0')
        unlink(path); /* the previous input's file */
    snprintf(path, sizeof(path), "%s/%s.model", dir, name);
    fuzz_write_file(path, data, textlen);

    struct model_set *ms = kind_models_load(dir, err, sizeof(err));
    if (ms == NULL) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(model_set_count(ms) == 1);
    const struct model *m = model_set_at(ms, 0);
    FUZZ_ASSERT(model_set_find(ms, name) == m);
    FUZZ_ASSERT(m->count >= 1 && m->count <= 2000 && m->npoints >= 1);

    /* The data of one read of the model's span. */
    bool bit_access = model_is_bit_access(m);
    for (int i = 0; i < m->count; i++) {
        if (payloadlen == 0) {
            regs[i] = 0;
            bits[i] = 0;
        } else if (bit_access) {
            bits[i] = payload[(size_t)i % payloadlen];
        } else {
            size_t at = (2 * (size_t)i) % payloadlen;
            regs[i] = (uint16_t)(payload[at] << 8 | payload[(at + 1) % payloadlen]);
        }
    }
    decode_points(m, regs, bits);

    for (int k = 0; k < KIND_COUNT; k++) {
        char why[256];
        struct cfg_sensor s;
        struct reading r;
        if (!(m->kinds & (1u << k)))
            continue;
        FUZZ_ASSERT(kind_model_check((enum kind)k, m, why, sizeof(why)) == 0);
        if (!make_sensor(m, (enum kind)k, payloadlen ? payload[0] : 0, &s))
            continue;
        FUZZ_ASSERT(kind_decode(&s.def, 0, bit_access ? NULL : regs, bit_access ? bits : NULL,
                                1784541784123, &r) == 0);
        fuzz_check_reading(&s, &r);
    }
    model_set_free(ms);
    return 0;
}
