/*
 * fuzz_cfg: the configuration loader (gateway/cfg.c) on any file, strict
 * (cfg_load) and as `shelter-gateway --check` and the daemon load it
 * (cfg_load_flags with CFG_UPLINK_LENIENT: an [mqtt] or [influx] problem is
 * a warning).  The input is the file's bytes.  The files a config names are
 * not opened here (that is filecheck.c, at --check, outside cfg_load).
 *
 * Checked: the loader returns a config exactly when it reports no problem;
 * every problem and warning is one line "FILE:LINE: ..." (or "FILE: ..."),
 * and those of the config name a line the file has; lenient accepts what
 * strict accepts, with the same warnings (a comment that is not UTF-8) and
 * no unusable output, and what it accepts beyond that has warnings and an
 * unusable uplink output; a config it accepts can be
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
#include "textbuf.h"

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

/* A loaded config: planned, every sensor fits its model and decodes. */
static void check_loaded(struct cfg *c)
{
    static uint16_t regs[PLAN_MAX_REGS];
    static uint8_t bits[PLAN_MAX_BITS];

    FUZZ_ASSERT(c->nsensors >= 1 && c->models != NULL);
    struct plan *p = plan_from_cfg(c);
    FUZZ_ASSERT(p != NULL);
    for (int i = 0; i < c->nsensors; i++) {
        char why[256];
        const struct cfg_sensor *s = &c->sensors[i];
        FUZZ_ASSERT(s->bus >= 0 && s->bus < c->nbuses && s->def.model != NULL);
        FUZZ_ASSERT(kind_sensor_check(&s->def, why, sizeof(why)) == 0);
    }
    /* Any data decodes for every sensor the config accepted. */
    for (int fill = 0; fill < 2; fill++) {
        memset(regs, fill ? 0xFF : 0, sizeof(regs));
        memset(bits, fill, sizeof(bits));
        for (int r = 0; r < p->nrequests; r++)
            fuzz_decode_request(c, p, r, regs, bits);
    }
    plan_free(p);
}

/* Each problem line in Chinese (what --check prints with language = zh):
 * starts as the English one does (the file's name: this one's, or a model
 * file's), UTF-8 where it was. */
static void check_chinese(const char *out, const char *path)
{
    char line[2048], zh[2048];

    for (const char *p = out, *nl; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        FUZZ_ASSERT(nl != NULL);
        snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
        int n = ini_translate(line, path, LANG_ZH, zh, sizeof(zh));
        FUZZ_ASSERT(n >= -1);
        FUZZ_ASSERT(strncmp(zh, line, strcspn(line, ":")) == 0);
        FUZZ_ASSERT(!tb_is_utf8(line, strlen(line)) || tb_is_utf8(zh, strlen(zh)));
        if (n == -1)
            FUZZ_ASSERT(strcmp(zh, line) == 0);
    }
}

/* Load path with flags and check what it printed.  The config or NULL. */
static struct cfg *load(const char *path, unsigned flags, int nlines)
{
    char *out = NULL;
    size_t outlen = 0;
    int nerrors = -1;

    FILE *errs = open_memstream(&out, &outlen);
    FUZZ_ASSERT(errs != NULL);
    struct cfg *c = cfg_load_flags(path, fuzz_models_dir(), flags, errs, &nerrors);
    FUZZ_ASSERT(fclose(errs) == 0);
    if (c == NULL) {
        FUZZ_ASSERT(nerrors >= 1);
        FUZZ_ASSERT(outlen > 0);
        check_problems(out, outlen, path, nlines, nerrors);
        check_chinese(out, path);
    } else {
        FUZZ_ASSERT(nerrors == 0 && outlen == 0);
    }
    free(out);
    return c;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    int nlines = 0;

    if (path[0] == '\0')
        snprintf(path, sizeof(path), "%s/gateway.conf", fuzz_scratch_dir());
    fuzz_write_file(path, data, size);
    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n')
        nlines++;

    struct cfg *strict = load(path, 0, nlines);
    struct cfg *lenient = load(path, CFG_UPLINK_LENIENT, nlines);

    /* Lenient accepts all that strict accepts, and fails on nothing else. */
    FUZZ_ASSERT(strict == NULL || lenient != NULL);
    if (strict != NULL) {
        /* Loaded strictly: no uplink problem, at most the same warnings
         * both ways (a comment that is not UTF-8), each a problem line. */
        const char *sw = strict->warnings != NULL ? strict->warnings : "";
        const char *lw = lenient->warnings != NULL ? lenient->warnings : "";
        FUZZ_ASSERT(strcmp(sw, lw) == 0);
        check_problems(sw, strlen(sw), path, nlines, count_lines(sw));
        FUZZ_ASSERT(lenient->mqtt.error[0] == '\0' && lenient->influx.error[0] == '\0');
        check_loaded(strict);
    } else if (lenient != NULL) {
        /* Accepted only for leniency: the uplink's problems are warnings
         * and leave that output unusable. */
        const char *w = lenient->warnings;
        FUZZ_ASSERT(w != NULL && w[0] != '\0');
        FUZZ_ASSERT(lenient->mqtt.error[0] != '\0' || lenient->influx.error[0] != '\0');
        check_problems(w, strlen(w), path, nlines, count_lines(w));
        check_loaded(lenient);
    }
    cfg_free(strict);
    cfg_free(lenient);
    return 0;
}
