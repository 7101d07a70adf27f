/*
 * fuzz_cfg: the configuration loader (gateway/cfg.c) on any file, as
 * `shelter-gateway --check` runs it.  The input is the file's bytes.
 *
 * Checked: the loader returns a config exactly when it reports no problem;
 * every problem is one line "FILE:LINE: ..." (or "FILE: ..."), and those of
 * the config name a line the file has; a config it accepts can be
 * planned, and each of its sensors fits its model and decodes any data.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"
#include "kind.h"
#include "plan.h"

/* The problem list must be lines of "PATH:LINE: " or "PATH: " with a known
 * path; for the config itself LINE lies in 1..nlines. */
static void check_problems(const char *out, size_t outlen, const char *path, int nlines,
                           int nerrors)
{
    int lines = 0;
    size_t plen = strlen(path);

    FUZZ_ASSERT(strlen(out) == outlen); /* no NUL inside */
    for (const char *q = out; *q != '\0'; lines++) {
        const char *nl = strchr(q, '\n');
        FUZZ_ASSERT(nl != NULL); /* every problem ends its line */
        if (strncmp(q, path, plen) == 0 && q[plen] == ':') {
            const char *r = q + plen + 1;
            if (*r != ' ') {
                char *end;
                long line = strtol(r, &end, 10);
                FUZZ_ASSERT(end != r && *end == ':' && end < nl);
                FUZZ_ASSERT(line >= 1 && line <= (nlines > 0 ? nlines : 1));
            }
        } else {
            /* Only the model loader's own lines name another file (or the
             * models directory), as "PATH[:LINE]: reason". */
            const char *colon = strstr(q, ": ");
            FUZZ_ASSERT(colon != NULL && colon > q && colon < nl);
        }
        q = nl + 1;
    }
    FUZZ_ASSERT(lines == nerrors); /* one line per problem, as many as counted */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    char *out = NULL;
    size_t outlen = 0;
    int nerrors = -1, nlines = 0;

    if (path[0] == '\0')
        snprintf(path, sizeof(path), "%s/gateway.conf", fuzz_scratch_dir());
    fuzz_write_file(path, data, size);
    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n')
        nlines++;

    FILE *errs = open_memstream(&out, &outlen);
    FUZZ_ASSERT(errs != NULL);
    struct cfg *c = cfg_load(path, fuzz_models_dir(), errs, &nerrors);
    FUZZ_ASSERT(fclose(errs) == 0);

    if (c == NULL) {
        FUZZ_ASSERT(nerrors >= 1);
        FUZZ_ASSERT(outlen > 0);
        check_problems(out, outlen, path, nlines, nerrors);
    } else {
        FUZZ_ASSERT(nerrors == 0 && outlen == 0);
        FUZZ_ASSERT(c->nsensors >= 1 && c->models != NULL);
        struct plan *p = plan_from_cfg(c);
        FUZZ_ASSERT(p != NULL);
        for (int i = 0; i < c->nsensors; i++) {
            char why[256];
            const struct cfg_sensor *s = &c->sensors[i];
            FUZZ_ASSERT(s->bus >= 0 && s->bus < c->nbuses && s->model != NULL);
            FUZZ_ASSERT(kind_sensor_check(s, why, sizeof(why)) == 0);
        }
        /* Any data decodes for every sensor the config accepted. */
        static uint16_t regs[PLAN_MAX_REGS];
        static uint8_t bits[PLAN_MAX_BITS];
        for (int fill = 0; fill < 2; fill++) {
            memset(regs, fill ? 0xFF : 0, sizeof(regs));
            memset(bits, fill, sizeof(bits));
            for (int r = 0; r < p->nrequests; r++)
                fuzz_decode_request(c, p, r, regs, bits);
        }
        plan_free(p);
        cfg_free(c);
    }
    free(out);
    return 0;
}
