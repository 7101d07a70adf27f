/*
 * output: see output.h.  Owns, per output, its sources (the alarms of its
 * `on` list) with their silences, and its timers (min_on, test pulse).
 *
 * Invariants:
 * - `on` is a function of the last evaluation alone: demand (an alarm
 *   holds it and is not silenced) or a running min_on or test timer.
 *   Nothing else switches an output, so a restart that restores the alarm
 *   state restores the outputs with it.
 * - A source's silence ends only when its alarm is seen inactive: a silenced
 *   alarm never sounds again by itself, a new raise always does.
 * - min_on runs from the evaluation at which demand appeared; a silence ends
 *   it (and a test pulse): the person who silences a siren means now.
 */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_NONE INT64_MIN

struct src {
    int sensor;
    enum alarm_id alarm;
    char sensor_name[ALARM_NAME_MAX];
    bool silenced; /* active when the output was silenced, not cleared since */
    bool holds;    /* at the last evaluation: holds the output, not silenced */
};

struct out {
    char name[ALARM_NAME_MAX];
    enum output_until until;
    int64_t min_on_ms;
    struct src *src;
    int nsrc;
    int64_t hold_until; /* min_on: on until then (mono), T_NONE */
    int64_t test_until; /* test pulse: on until then (mono), T_NONE */
    struct output_state st;
};

struct output_set {
    struct out *o;
    int n;
};

struct output_set *output_set_new(const struct output_spec *specs, int n)
{
    struct output_set *os;

    if (n < 0 || (n > 0 && specs == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const struct output_spec *s = &specs[i];
        if (s->name == NULL || s->name[0] == '\0' || strlen(s->name) >= ALARM_NAME_MAX ||
            s->nsrc < 0 || (s->nsrc > 0 && s->src == NULL) || s->min_on_ms < 0 ||
            (s->until != OUTPUT_UNTIL_CLEARED && s->until != OUTPUT_UNTIL_ACKED)) {
            errno = EINVAL;
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(specs[j].name, s->name) == 0) {
                errno = EINVAL;
                return NULL;
            }
    }
    if ((os = calloc(1, sizeof(*os))) == NULL)
        return NULL;
    if ((os->o = calloc((size_t)n + 1, sizeof(*os->o))) == NULL)
        goto fail;
    os->n = n;
    for (int i = 0; i < n; i++) {
        const struct output_spec *s = &specs[i];
        struct out *o = &os->o[i];
        snprintf(o->name, sizeof(o->name), "%s", s->name);
        o->until = s->until;
        o->min_on_ms = s->min_on_ms;
        o->hold_until = o->test_until = T_NONE;
        if ((o->src = calloc((size_t)s->nsrc + 1, sizeof(*o->src))) == NULL)
            goto fail;
        o->nsrc = s->nsrc;
        for (int j = 0; j < s->nsrc; j++) {
            o->src[j].sensor = s->src[j].sensor;
            o->src[j].alarm = s->src[j].alarm;
            snprintf(o->src[j].sensor_name, sizeof(o->src[j].sensor_name), "%s",
                     s->src[j].sensor_name != NULL ? s->src[j].sensor_name : "");
        }
    }
    return os;
fail:
    output_set_free(os);
    errno = ENOMEM;
    return NULL;
}

void output_set_free(struct output_set *os)
{
    if (os == NULL)
        return;
    for (int i = 0; os->o != NULL && i < os->n; i++)
        free(os->o[i].src);
    free(os->o);
    free(os);
}

int output_count(const struct output_set *os)
{
    return os->n;
}

static bool running(int64_t until, int64_t now)
{
    return until != T_NONE && now < until;
}

/* Evaluate output o at now; true when `on` changed. */
static bool eval_one(struct out *o, output_status_fn status, void *ctx, int64_t now)
{
    bool demand = false, held = false;

    for (int j = 0; j < o->nsrc; j++) {
        struct src *s = &o->src[j];
        enum alarm_status st = status(ctx, s->sensor, s->alarm);
        if (st == ALARM_ST_INACTIVE) {
            s->silenced = false; /* raised again, it is a new alarm */
            s->holds = false;
            continue;
        }
        /* Latched: the condition went, but it is published as raised until
         * acknowledged, so it still holds a siren. */
        bool holds =
            o->until == OUTPUT_UNTIL_CLEARED || st == ALARM_ST_ACTIVE || st == ALARM_ST_LATCHED;
        s->holds = holds && !s->silenced;
        held |= holds;
        demand |= s->holds;
    }
    if (demand && !o->st.demand)
        o->hold_until = o->min_on_ms > 0 ? now + o->min_on_ms : T_NONE;
    o->st.demand = demand;
    o->st.silenced = held && !demand;
    o->st.test = running(o->test_until, now);
    o->st.min_on = !demand && running(o->hold_until, now);
    bool on = demand || o->st.test || o->st.min_on;
    bool changed = on != o->st.on || o->st.since_ms == 0;
    if (changed) {
        o->st.on = on;
        o->st.since_ms = now != 0 ? now : 1; /* 0 is "never evaluated" */
    }
    return changed;
}

int output_eval(struct output_set *os, output_status_fn status, void *ctx, int64_t now_ms)
{
    int n = 0;
    for (int i = 0; i < os->n; i++)
        n += eval_one(&os->o[i], status, ctx, now_ms);
    return n;
}

const struct output_state *output_state(const struct output_set *os, int i)
{
    return i >= 0 && i < os->n ? &os->o[i].st : NULL;
}

bool output_src_holds(const struct output_set *os, int i, int j)
{
    return i >= 0 && i < os->n && j >= 0 && j < os->o[i].nsrc && os->o[i].src[j].holds;
}

int output_silence(struct output_set *os, int i, const char *by, output_status_fn status, void *ctx,
                   int64_t now_ms)
{
    struct out *o;
    bool any = false;

    if (i < 0 || i >= os->n) {
        errno = EINVAL;
        return -1;
    }
    o = &os->o[i];
    for (int j = 0; j < o->nsrc; j++)
        if (status(ctx, o->src[j].sensor, o->src[j].alarm) != ALARM_ST_INACTIVE) {
            o->src[j].silenced = true;
            any = true;
        }
    bool was_on = o->st.on;
    o->hold_until = o->test_until = T_NONE;
    if (was_on || any)
        snprintf(o->st.silenced_by, sizeof(o->st.silenced_by), "%s", by != NULL ? by : "");
    eval_one(o, status, ctx, now_ms);
    if (!was_on && !any) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

void output_test(struct output_set *os, output_status_fn status, void *ctx, int64_t now_ms)
{
    for (int i = 0; i < os->n; i++) {
        os->o[i].test_until = now_ms + OUTPUT_TEST_MS;
        eval_one(&os->o[i], status, ctx, now_ms);
    }
}

int64_t output_next_ms(const struct output_set *os, int64_t now_ms, int64_t cap_ms)
{
    int64_t t = cap_ms;
    for (int i = 0; i < os->n; i++) {
        const struct out *o = &os->o[i];
        const int64_t ends[2] = {o->hold_until, o->test_until};
        for (int k = 0; k < 2; k++)
            if (running(ends[k], now_ms) && ends[k] - now_ms < t)
                t = ends[k] - now_ms;
    }
    return t < 0 ? 0 : t;
}

void output_set_carry(struct output_set *to, const struct output_set *from)
{
    for (int i = 0; from != NULL && i < to->n; i++) {
        struct out *o = &to->o[i];
        const struct out *old = NULL;
        for (int k = 0; k < from->n && old == NULL; k++)
            if (strcmp(from->o[k].name, o->name) == 0)
                old = &from->o[k];
        if (old == NULL)
            continue;
        o->st = old->st;
        o->hold_until = old->hold_until;
        o->test_until = old->test_until;
        for (int j = 0; j < o->nsrc; j++)
            for (int k = 0; k < old->nsrc; k++)
                if (old->src[k].alarm == o->src[j].alarm &&
                    strcmp(old->src[k].sensor_name, o->src[j].sensor_name) == 0)
                    o->src[j].silenced = old->src[k].silenced;
    }
}
