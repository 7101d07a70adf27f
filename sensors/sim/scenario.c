/*
 * scenario: see scenario.h.  A scenario is a list of steps sorted by start
 * time (stable, so equal times keep file order); scn_run() walks it against
 * the caller's clock.  Design choice: a ramp is not precomputed into many
 * `at` steps; it interpolates from the clock when due, so a late loop
 * iteration never replays stale intermediate values and the final value is
 * always set exactly.  Commands are checked for their verb here and executed
 * by the caller (the same path as the control socket).
 */
#include "scenario.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define SCN_LINE_MAX 512
#define SCN_TIME_MAX_MS (24LL * 3600 * 1000)
#define SCN_WORD_MAX 64
#define SCN_PATH_MAX 256

struct scn_step {
    int line;
    int is_ramp;
    int64_t t0_ms, t1_ms;       /* offsets from time zero, already divided by speed */
    char command[SCN_LINE_MAX]; /* at */
    char sensor[SCN_WORD_MAX], field[SCN_WORD_MAX]; /* ramp */
    double from, to;
    int done;
    int64_t next_ms; /* ramp: absolute time of the next update */
};

struct scn {
    char path[SCN_PATH_MAX];
    struct scn_step *steps;
    int nsteps, cap;
    int64_t start_ms;
};

/* Verbs a scenario may run: the ones that change what is served. */
static const char *const scn_verbs[] = {"fault", "raw", "set"};

struct errbuf {
    char *buf;
    size_t len, used;
    int count;
};

__attribute__((format(printf, 2, 3))) static void scn_error(struct errbuf *e, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    e->count++;
    if (e->used < e->len) {
        int n = snprintf(e->buf + e->used, e->len - e->used, "%s%s", e->used ? "\n" : "", msg);
        e->used += n > 0 ? (size_t)n : 0;
    }
}

static int scn_time(const char *tok, double speed, int64_t *out, char *why, size_t whylen)
{
    int64_t ms;
    if (parse_duration_ms(tok, 0, SCN_TIME_MAX_MS, &ms, why, whylen) < 0)
        return -1;
    *out = (int64_t)llround((double)ms / speed);
    return 0;
}

static int scn_number(const char *tok, double *out)
{
    char why[160];
    return parse_double(tok, -DBL_MAX, DBL_MAX, out, why, sizeof(why));
}

static struct scn_step *step_add(struct scn *s)
{
    if (s->nsteps == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        struct scn_step *n = realloc(s->steps, (size_t)cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        s->steps = n;
        s->cap = cap;
    }
    struct scn_step *st = &s->steps[s->nsteps++];
    memset(st, 0, sizeof(*st));
    return st;
}

/* One non-empty, comment-free line.  Returns 0, -1 on a syntax error
 * (reported), -2 on ENOMEM. */
static int scn_parse_line(struct scn *s, char *text, int line, double speed, struct errbuf *e)
{
    char copy[SCN_LINE_MAX];
    char *words[8];
    int n = 0;
    char why[128];

    snprintf(copy, sizeof(copy), "%s", text);
    for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w != NULL && n < 8;
         w = strtok_r(NULL, " \t", &save))
        words[n++] = w;

    if (n == 0)
        return 0;
    if (strcmp(words[0], "at") == 0) {
        int64_t t;
        size_t v;
        if (n < 3) {
            scn_error(e, "%s:%d: usage: at TIME COMMAND...", s->path, line);
            return -1;
        }
        if (scn_time(words[1], speed, &t, why, sizeof(why)) < 0) {
            scn_error(e, "%s:%d: time '%s': %s", s->path, line, words[1], why);
            return -1;
        }
        for (v = 0; v < sizeof(scn_verbs) / sizeof(scn_verbs[0]); v++)
            if (strcmp(scn_verbs[v], words[2]) == 0)
                break;
        if (v == sizeof(scn_verbs) / sizeof(scn_verbs[0])) {
            scn_error(e, "%s:%d: command '%s' is not set, raw or fault", s->path, line, words[2]);
            return -1;
        }
        struct scn_step *st = step_add(s);
        if (st == NULL)
            return -2;
        st->line = line;
        st->t0_ms = st->t1_ms = t;
        /* the command is the rest of the original line, from its verb on */
        snprintf(st->command, sizeof(st->command), "%s", text + (words[2] - copy));
        return 0;
    }
    if (strcmp(words[0], "ramp") == 0) {
        int64_t t0, t1;
        double from, to;
        if (n != 7) {
            scn_error(e, "%s:%d: usage: ramp T0 T1 SENSOR FIELD FROM TO", s->path, line);
            return -1;
        }
        if (scn_time(words[1], speed, &t0, why, sizeof(why)) < 0 ||
            scn_time(words[2], speed, &t1, why, sizeof(why)) < 0) {
            scn_error(e, "%s:%d: ramp time: %s", s->path, line, why);
            return -1;
        }
        if (t1 <= t0) {
            scn_error(e, "%s:%d: ramp must end after it starts", s->path, line);
            return -1;
        }
        if (scn_number(words[5], &from) < 0 || scn_number(words[6], &to) < 0) {
            scn_error(e, "%s:%d: ramp values must be numbers", s->path, line);
            return -1;
        }
        if (strlen(words[3]) >= SCN_WORD_MAX || strlen(words[4]) >= SCN_WORD_MAX) {
            scn_error(e, "%s:%d: name too long", s->path, line);
            return -1;
        }
        struct scn_step *st = step_add(s);
        if (st == NULL)
            return -2;
        st->line = line;
        st->is_ramp = 1;
        st->t0_ms = t0;
        st->t1_ms = t1;
        snprintf(st->sensor, sizeof(st->sensor), "%s", words[3]);
        snprintf(st->field, sizeof(st->field), "%s", words[4]);
        st->from = from;
        st->to = to;
        return 0;
    }
    scn_error(e, "%s:%d: '%s' is not at or ramp", s->path, line, words[0]);
    return -1;
}

/* Stable insertion sort by start time: scenarios are short. */
static void scn_sort(struct scn *s)
{
    for (int i = 1; i < s->nsteps; i++) {
        struct scn_step key = s->steps[i];
        int j = i - 1;
        while (j >= 0 && s->steps[j].t0_ms > key.t0_ms) {
            s->steps[j + 1] = s->steps[j];
            j--;
        }
        s->steps[j + 1] = key;
    }
}

struct scn *scn_load(const char *path, double speed, char *err, size_t errlen)
{
    struct errbuf e = {err, errlen, 0, 0};
    char text[SCN_LINE_MAX + 2];
    int line = 0;
    FILE *f = NULL;
    struct scn *s = calloc(1, sizeof(*s));

    if (errlen > 0)
        err[0] = '\0';
    if (s == NULL)
        goto fail;
    if (!(speed > 0)) {
        errno = EINVAL;
        snprintf(err, errlen, "speed must be > 0");
        goto fail;
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    while (fgets(text, sizeof(text), f) != NULL) {
        line++;
        size_t len = strlen(text);
        if (len > 0 && text[len - 1] != '\n' && !feof(f)) {
            scn_error(&e, "%s:%d: line too long", path, line);
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        char *hash = strchr(text, '#');
        if (hash != NULL)
            *hash = '\0';
        text[strcspn(text, "\r\n")] = '\0';
        for (size_t end = strlen(text); end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\t');)
            text[--end] = '\0';
        char *start = text + strspn(text, " \t");
        if (*start == '\0')
            continue;
        if (scn_parse_line(s, start, line, speed, &e) == -2) {
            errno = ENOMEM;
            goto fail;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        errno = EIO;
        goto fail;
    }
    fclose(f);
    f = NULL;
    if (e.count > 0) {
        errno = EINVAL;
        goto fail;
    }
    scn_sort(s);
    return s;
fail : {
    int saved = errno;
    if (f != NULL)
        fclose(f);
    scn_free(s);
    errno = saved;
    return NULL;
}
}

void scn_free(struct scn *s)
{
    if (s == NULL)
        return;
    free(s->steps);
    free(s);
}

const char *scn_path(const struct scn *s)
{
    return s->path;
}

int scn_nsteps(const struct scn *s)
{
    return s->nsteps;
}

int64_t scn_duration_ms(const struct scn *s)
{
    int64_t end = 0;
    for (int i = 0; i < s->nsteps; i++)
        if (s->steps[i].t1_ms > end)
            end = s->steps[i].t1_ms;
    return end;
}

void scn_start(struct scn *s, int64_t now_ms)
{
    s->start_ms = now_ms;
    for (int i = 0; i < s->nsteps; i++) {
        s->steps[i].done = 0;
        s->steps[i].next_ms = now_ms + s->steps[i].t0_ms;
    }
}

static int64_t earlier(int64_t next, int64_t t)
{
    return next < 0 || t < next ? t : next;
}

static void ramp_set(const struct scn *s, const struct scn_step *st, double v, int is_step,
                     scn_exec_fn *exec, void *ctx)
{
    char cmd[SCN_LINE_MAX], where[SCN_PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "set %s %s %.4f", st->sensor, st->field, v);
    snprintf(where, sizeof(where), "%s:%d", s->path, st->line);
    exec(cmd, where, is_step, ctx);
}

int64_t scn_run(struct scn *s, int64_t now_ms, scn_exec_fn *exec, void *ctx)
{
    int64_t next = -1;
    char where[SCN_PATH_MAX + 16];

    for (int i = 0; i < s->nsteps; i++) {
        struct scn_step *st = &s->steps[i];
        int64_t t0 = s->start_ms + st->t0_ms, t1 = s->start_ms + st->t1_ms;
        if (st->done)
            continue;
        if (now_ms < t0) {
            next = earlier(next, t0);
            continue;
        }
        if (!st->is_ramp) {
            snprintf(where, sizeof(where), "%s:%d", s->path, st->line);
            exec(st->command, where, 0, ctx);
            st->done = 1;
            continue;
        }
        if (now_ms >= t1) {
            ramp_set(s, st, st->to, 0, exec, ctx);
            st->done = 1;
            continue;
        }
        if (now_ms >= st->next_ms) {
            double frac = (double)(now_ms - t0) / (double)(t1 - t0);
            ramp_set(s, st, st->from + (st->to - st->from) * frac, now_ms > t0, exec, ctx);
            st->next_ms = now_ms + SCN_RAMP_STEP_MS;
        }
        next = earlier(next, st->next_ms < t1 ? st->next_ms : t1);
    }
    return next;
}
