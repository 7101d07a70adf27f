/*
 * alarm: the pure alarm engine (see alarm.h).  Owns, per sensor, the last
 * reading it saw, the lifecycle and timers of each of its alarms, and bounded
 * rolling windows (mean buckets, rate samples, door changes).
 *
 * Main design choice: every rule is one row of rule_defs and reduces to the
 * same question at each reading and tick -- is the raise condition met, is the
 * clear condition met, or is it unknown -- answered by rule_cond(); step()
 * then runs the one lifecycle with its delays for all of them.  Principles:
 *  - a delay counts from the first evaluation that met its condition and
 *    fires at the first evaluation at/after it expires; any evaluation that
 *    does not meet it restarts it (values dancing around a level never flap);
 *  - when the engine cannot see (comm_lost, no value, warm-up, a restart) it
 *    neither raises nor clears: the unseen interval may count toward raising,
 *    never toward clearing, so clear delays restart and raise delays do not;
 *  - an implausible value (or an impossible jump) may raise but never clear:
 *    a broken sensor costs an inspection, a hidden flood costs lives;
 *  - a transition is made only once its event is in the output array.
 */
#include "alarm.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwerr.h"
#include "parse.h"

#define T_NONE INT64_MIN /* "not since": an unset time */
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

#define MEANS_MAX 2        /* rules per sensor that may use a mean window */
#define MEAN_PER_WINDOW 60 /* buckets per window: 1 h -> 1 min, 5 min -> 5 s */
#define MEAN_BUCKETS 64    /* >= MEAN_PER_WINDOW + 1 (buckets overlapping the window) */
#define MEAN_MIN_COVER_MS (10 * MIN)
#define RATE_PER_WINDOW 30 /* rate samples kept at least window/30 apart */
#define RATE_SAMPLES 32    /* > RATE_PER_WINDOW: the ring always reaches a window back */
/* A rise counts only beyond this: twice the 1 cm deadband of a level reading
 * (delivery.c), more than a line fitted to noise within it can rise (1.5x). */
#define RISE_NOISE_CM 2.0
#define CHATTER_MAX 32             /* door changes remembered; chatter threshold < this */
#define JUMP_MAX_GAP_MS (60 * SEC) /* a jump only counts between readings this close */
#define COUNT_MAX 1000000
#define DELAY_MAX_MS (400 * DAY)
#define TIME_SANE_MS (10 * 366 * DAY) /* older saved times are clamped to this age */
#define TIME_AHEAD_MS (8 * DAY)       /* saved times further ahead are corrupt */
/* Saved times are relative to a monotonic time this coarse (inhibit ends,
 * <= 7 days ahead, stay within TIME_AHEAD_MS). */
#define ANCHOR_MS (12 * HOUR)

enum rule_type {
    RT_COMM,        /* the reading says the sensor did not answer */
    RT_IMPLAUSIBLE, /* quality implausible, sensor error, or an impossible jump */
    RT_LEVEL,       /* value (or its rolling mean) above a threshold */
    RT_RATE,        /* rate of rise over a window */
    RT_STATE,       /* boolean/state held for a count of consecutive reads and a delay */
    RT_OVER_RANGE,
    RT_DISAGREE,
    RT_CHATTER,
    RT_NOT_SECURED,
    RT_DOOR_OPEN,
    RT_DOOR_CLOSED,
    RT_EXERCISE,
};

enum param {
    P_THRESHOLD,
    P_CLEAR,
    P_DELAY,
    P_CLEAR_DELAY,
    P_WINDOW,
    P_COUNT,
    P_SEVERITY,
    P_LATCH,
    P_ENABLED,
    P_NPARAMS
};
#define PB(p) (1u << (p))
#define P_BASIC (PB(P_SEVERITY) | PB(P_LATCH) | PB(P_ENABLED))
#define P_TIMES (PB(P_DELAY) | PB(P_CLEAR_DELAY))
#define P_LEVELS (PB(P_THRESHOLD) | PB(P_CLEAR))
#define P_PER_MODE 4 /* params below this index may be set per mode */

/* Key suffixes, indexed by enum param. */
static const char *const param_suffix[P_NPARAMS] = {
    [P_THRESHOLD] = "",         [P_CLEAR] = "_clear",
    [P_DELAY] = "_delay",       [P_CLEAR_DELAY] = "_clear_delay",
    [P_WINDOW] = "_window",     [P_COUNT] = "_count",
    [P_SEVERITY] = "_severity", [P_LATCH] = "_latch",
    [P_ENABLED] = "_enabled",
};

enum vunit { VU_NONE, VU_PCT, VU_PPM, VU_CM_MIN, VU_COUNT };

struct rule_def {
    const char *name;
    int kind; /* enum kind, or -1: every kind */
    enum rule_type type;
    bool strict;      /* raise on > threshold, clear on < clear (else >=, <=) */
    unsigned params;  /* PB() of the keys the config may set */
    enum vunit vunit; /* of threshold and clear in the config */
    const char *unit; /* of value and threshold in events */
    struct {
        double thr[ALARM_MODES], clr[ALARM_MODES];
        int64_t delay[ALARM_MODES], clear_delay[ALARM_MODES];
        int64_t window;
        int count;
        enum alarm_severity sev;
        bool latch;
    } def;
};

/* The rule table reads best as a table. */
/* clang-format off */
#define ALL3(x) {x, x, x}
/* peacetime, flood_season, protective */
#define MODES3(p, f, x) {p, f, x}

/* docs/design.md section 9.  Severities: flood and fire critical, what needs a
 * person soon major, hygiene and maintenance minor. */
static const struct rule_def rule_defs[ALARM_COUNT] = {
    [ALARM_COMM_LOST] = {"comm_lost", -1, RT_COMM, false, P_BASIC, VU_NONE, "",
                         {.count = 1, .sev = ALARM_SEV_MAJOR}},
    /* threshold = largest plausible change between two readings (0 = off),
     * kind dependent, set by alarm_cfg_defaults */
    [ALARM_IMPLAUSIBLE] = {"implausible", -1, RT_IMPLAUSIBLE, true,
                           P_BASIC | P_TIMES | PB(P_THRESHOLD) | PB(P_COUNT), VU_NONE, "",
                           {.clear_delay = ALL3(60 * SEC), .count = 1, .sev = ALARM_SEV_MINOR}},
    [ALARM_WL_HIGH] = {"high", KIND_WATER_LEVEL, RT_LEVEL, false,
                       P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PCT, "m",
                       {.thr = MODES3(70, 60, 70), .clr = MODES3(65, 55, 65),
                        .delay = MODES3(30 * SEC, 15 * SEC, 30 * SEC),
                        .clear_delay = MODES3(60 * SEC, 30 * SEC, 60 * SEC),
                        .count = 1, .sev = ALARM_SEV_MAJOR}},
    [ALARM_WL_HIGH_HIGH] = {"high_high", KIND_WATER_LEVEL, RT_LEVEL, false,
                            P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PCT, "m",
                            {.thr = MODES3(90, 80, 90), .clr = MODES3(85, 75, 85),
                             .delay = MODES3(10 * SEC, 5 * SEC, 10 * SEC),
                             .count = 1, .sev = ALARM_SEV_CRITICAL}},
    [ALARM_WL_RISING_FAST] = {"rising_fast", KIND_WATER_LEVEL, RT_RATE, true,
                              P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_CM_MIN, "cm/min",
                              {.thr = ALL3(5), .clr = ALL3(3), .window = 3 * MIN, .count = 1,
                               .sev = ALARM_SEV_MAJOR}},
    [ALARM_LEAK] = {"leak", KIND_WATER_LEAK, RT_STATE, false, P_BASIC | P_TIMES | PB(P_COUNT),
                    VU_NONE, "",
                    {.delay = ALL3(5 * SEC), .clear_delay = ALL3(60 * SEC), .count = 1,
                     .sev = ALARM_SEV_CRITICAL}},
    [ALARM_CO2_HIGH] = {"high", KIND_CO2, RT_LEVEL, true,
                        P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PPM, "ppm",
                        {.thr = ALL3(1000), .clr = ALL3(900), .window = HOUR, .count = 1,
                         .sev = ALARM_SEV_MINOR}},
    [ALARM_CO2_HIGH_HIGH] = {"high_high", KIND_CO2, RT_LEVEL, true,
                             P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PPM, "ppm",
                             {.thr = MODES3(2000, 2000, 25000), .clr = MODES3(1800, 1800, 22500),
                              .window = 5 * MIN, .count = 1, .sev = ALARM_SEV_MAJOR}},
    [ALARM_CO2_CRITICAL] = {"critical", KIND_CO2, RT_LEVEL, true,
                            P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PPM, "ppm",
                            /* protective: a sealed shelter tolerates 2.5% (high_high), so
                             * critical is the 4% NIOSH IDLH, not 5000 ppm */
                            {.thr = MODES3(5000, 5000, 40000), .clr = MODES3(4500, 4500, 36000),
                             .delay = ALL3(60 * SEC),
                             .count = 1, .sev = ALARM_SEV_CRITICAL}},
    [ALARM_CO2_OVER_RANGE] = {"over_range", KIND_CO2, RT_OVER_RANGE, false, P_BASIC | P_TIMES,
                              VU_NONE, "ppm", {.count = 1, .sev = ALARM_SEV_MAJOR}},
    [ALARM_DOOR_DISAGREE] = {"sensor_disagree", KIND_BLAST_DOOR, RT_DISAGREE, false,
                             P_BASIC | P_TIMES, VU_NONE, "",
                             {.delay = ALL3(2 * SEC), .count = 1, .sev = ALARM_SEV_MAJOR}},
    [ALARM_DOOR_CHATTER] = {"chatter", KIND_BLAST_DOOR, RT_CHATTER, true,
                            P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_COUNT, "",
                            {.thr = ALL3(10), .clr = ALL3(3), .window = 60 * SEC, .count = 1,
                             .sev = ALARM_SEV_MAJOR}},
    [ALARM_DOOR_NOT_SECURED] = {"not_secured", KIND_BLAST_DOOR, RT_NOT_SECURED, false,
                                P_BASIC | P_TIMES, VU_NONE, "s",
                                {.delay = ALL3(60 * SEC), .count = 1, .sev = ALARM_SEV_CRITICAL}},
    [ALARM_DOOR_OPEN_TOO_LONG] = {"open_too_long", KIND_BLAST_DOOR, RT_DOOR_OPEN, false,
                                  P_BASIC | P_TIMES, VU_NONE, "s",
                                  {.delay = ALL3(10 * MIN), .count = 1, .sev = ALARM_SEV_MAJOR}},
    [ALARM_DOOR_CLOSED_NOT_LOCKED] = {"closed_not_locked", KIND_BLAST_DOOR, RT_DOOR_CLOSED,
                                      false, P_BASIC | P_TIMES, VU_NONE, "s",
                                      {.delay = ALL3(5 * MIN), .count = 1,
                                       .sev = ALARM_SEV_MAJOR}},
    [ALARM_DOOR_EXERCISE_OVERDUE] = {"exercise_overdue", KIND_BLAST_DOOR, RT_EXERCISE, false,
                                     P_BASIC | PB(P_DELAY), VU_NONE, "d",
                                     {.delay = ALL3(31 * DAY), .count = 1,
                                      .sev = ALARM_SEV_MINOR}},
    [ALARM_SMOKE_FIRE] = {"fire", KIND_SMOKE, RT_STATE, false, P_BASIC | P_TIMES | PB(P_COUNT),
                          VU_NONE, "", {.count = 2, .sev = ALARM_SEV_CRITICAL, .latch = true}},
    [ALARM_SMOKE_FAULT] = {"fault", KIND_SMOKE, RT_STATE, false, P_BASIC | P_TIMES | PB(P_COUNT),
                           VU_NONE, "", {.count = 3, .sev = ALARM_SEV_MAJOR}},
};
/* clang-format on */

static const char *const severity_names[] = {
    [ALARM_SEV_CRITICAL] = "critical",
    [ALARM_SEV_MAJOR] = "major",
    [ALARM_SEV_MINOR] = "minor",
    [ALARM_SEV_INFO] = "info",
};

static const char *const event_type_names[] = {
    [ALARM_EV_RAISED] = "raised",
    [ALARM_EV_CLEARED] = "cleared",
    [ALARM_EV_ACKNOWLEDGED] = "acknowledged",
    [ALARM_EV_TEST] = "test",
    [ALARM_EV_INHIBIT_STARTED] = "inhibit_started",
    [ALARM_EV_INHIBIT_ENDED] = "inhibit_ended",
    [ALARM_EV_WITHDRAWN] = "withdrawn",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- engine state ------------------------------------------------------- */

enum trust {
    TRUST_NONE,  /* no value: nothing can be evaluated */
    TRUST_RAISE, /* an implausible value: may raise, never clear; kept out of windows */
    TRUST_FULL,
};

struct slot {              /* one (sensor, alarm) */
    int32_t st;            /* enum alarm_status */
    int32_t count;         /* RT_STATE: consecutive reads meeting the condition */
    int64_t cond_since;    /* mono: raise condition met continuously since, T_NONE */
    int64_t clear_since;   /* mono: clear condition met continuously since, T_NONE */
    double value;          /* last evaluated value (internal units), NAN */
    char by[ALARM_BY_MAX]; /* who acknowledged */
};

struct mean_ring {     /* time buckets of one rule's rolling mean */
    int32_t alarm;     /* enum alarm_id, -1: unused */
    int64_t bucket_ms; /* window / MEAN_PER_WINDOW */
    int32_t n, head;   /* head: newest */
    int64_t start[MEAN_BUCKETS];
    double sum[MEAN_BUCKETS];
    int32_t cnt[MEAN_BUCKETS];
};

struct rate_ring { /* (time, level_m) at least window/30 apart */
    int32_t n, head;
    int64_t t[RATE_SAMPLES];
    double v[RATE_SAMPLES];
};

struct sensor {
    /* configuration */
    char name[ALARM_NAME_MAX];
    enum kind kind;
    double pit_depth_m;
    struct alarm_cfg cfg;
    /* the last reading: not saved, a restored sensor waits for a fresh one */
    bool have; /* a reading since start or load */
    bool comm_lost;
    bool warming;
    bool implausible;
    enum trust trust;
    double value; /* water_level % of pit depth, co2 ppm */
    double level_m;
    bool over_range;
    bool wet;
    int smoke;
    int door;
    unsigned contacts, present;
    int64_t last_t;
    bool jump_have; /* previous good value for the jump check */
    double jump_v;
    int64_t jump_t;
    /* saved */
    int64_t inhibit_until; /* mono, T_NONE */
    char inhibit_by[ALARM_BY_MAX];
    int32_t prev_door;      /* enum door_state, -1 none yet */
    int32_t cycle_phase;    /* 1: opened since the last lock */
    int64_t last_cycle;     /* mono of the last open -> lock cycle (or of the start) */
    int32_t nchg, chg_head; /* door state changes, newest at chg_head */
    int64_t chg[CHATTER_MAX];
    struct rate_ring rate;
    struct mean_ring mean[MEANS_MAX];
    struct slot slot[ALARM_COUNT];
};

struct alarm_engine {
    int n;
    enum gw_mode mode;
    int64_t start_ms; /* mono at creation: co2 warm-up */
    struct sensor *s;
};

/* ---- names -------------------------------------------------------------- */

const char *alarm_name(enum alarm_id id)
{
    if (id == ALARM_INHIBIT)
        return "inhibit";
    return (unsigned)id < ALARM_COUNT ? rule_defs[id].name : "?";
}

bool alarm_applies(enum kind kind, enum alarm_id id)
{
    return (unsigned)id < ALARM_COUNT && (unsigned)kind < KIND_COUNT &&
           (rule_defs[id].kind < 0 || rule_defs[id].kind == (int)kind);
}

int alarm_from_name(enum kind kind, const char *name, enum alarm_id *out)
{
    for (int id = 0; id < ALARM_COUNT; id++) {
        if (alarm_applies(kind, (enum alarm_id)id) && strcmp(rule_defs[id].name, name) == 0) {
            *out = (enum alarm_id)id;
            return 0;
        }
    }
    return -1;
}

const char *alarm_severity_name(enum alarm_severity s)
{
    return (unsigned)s < NELEM(severity_names) ? severity_names[s] : "?";
}

int alarm_severity_from_name(const char *name, enum alarm_severity *out)
{
    for (size_t i = 0; i < NELEM(severity_names); i++) {
        if (strcmp(severity_names[i], name) == 0) {
            *out = (enum alarm_severity)i;
            return 0;
        }
    }
    return -1;
}

const char *alarm_event_type_name(enum alarm_event_type t)
{
    return (unsigned)t < NELEM(event_type_names) ? event_type_names[t] : "?";
}

bool alarm_is_strict(enum alarm_id id)
{
    return (unsigned)id < ALARM_COUNT && rule_defs[id].strict;
}

static bool is_process(enum alarm_id id)
{
    return id != ALARM_COMM_LOST && id != ALARM_IMPLAUSIBLE;
}

/* The implausible jump check needs a numeric value. */
static bool has_jump_check(enum kind kind)
{
    return kind == KIND_WATER_LEVEL || kind == KIND_CO2;
}

/* ---- configuration ------------------------------------------------------ */

void alarm_cfg_defaults(enum kind kind, struct alarm_cfg *ac)
{
    memset(ac, 0, sizeof(*ac));
    ac->kind = kind;
    ac->warmup_ms = kind == KIND_CO2 ? 180 * SEC : 0;
    for (int id = 0; id < ALARM_COUNT; id++) {
        const struct rule_def *d = &rule_defs[id];
        struct alarm_rule_cfg *rc = &ac->rule[id];
        rc->enabled = alarm_applies(kind, (enum alarm_id)id);
        rc->latch = d->def.latch;
        rc->severity = d->def.sev;
        rc->window_ms = d->def.window;
        rc->count = d->def.count;
        for (int m = 0; m < ALARM_MODES; m++) {
            rc->threshold[m] = d->def.thr[m];
            rc->clear[m] = d->def.clr[m];
            rc->delay_ms[m] = d->def.delay[m];
            rc->clear_delay_ms[m] = d->def.clear_delay[m];
            /* A built-in value that differs from peacetime is mode-specific:
             * a plain key does not override it. */
            if (d->def.thr[m] != d->def.thr[0])
                rc->mode_set |= 1u << (P_THRESHOLD * ALARM_MODES + m);
            if (d->def.clr[m] != d->def.clr[0])
                rc->mode_set |= 1u << (P_CLEAR * ALARM_MODES + m);
            if (d->def.delay[m] != d->def.delay[0])
                rc->mode_set |= 1u << (P_DELAY * ALARM_MODES + m);
            if (d->def.clear_delay[m] != d->def.clear_delay[0])
                rc->mode_set |= 1u << (P_CLEAR_DELAY * ALARM_MODES + m);
        }
    }
    /* Largest plausible change between two readings. */
    double jump = kind == KIND_WATER_LEVEL ? 50 : kind == KIND_CO2 ? 3000 : 0;
    for (int m = 0; m < ALARM_MODES; m++)
        ac->rule[ALARM_IMPLAUSIBLE].threshold[m] = jump;
}

/* s without the suffix, into buf; 1 if s ended with suffix, 0 if not, -1 too long. */
static int strip_suffix(const char *s, const char *suffix, char *buf, size_t len)
{
    size_t n = strlen(s), k = strlen(suffix);
    int had = n >= k && strcmp(s + n - k, suffix) == 0;
    if (had)
        n -= k;
    if (n >= len)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return had;
}

/* A threshold or clear level in the rule's config unit. */
static int parse_level(enum vunit vu, const char *s, double *out, char *err, size_t errlen)
{
    char num[48];
    long l;
    int pct;

    switch (vu) {
    case VU_PCT:
        if (strip_suffix(s, "%", num, sizeof(num)) < 0)
            break;
        return parse_double(num, 0, 200, out, err, errlen);
    case VU_PPM:
        if ((pct = strip_suffix(s, "%", num, sizeof(num))) < 0)
            break;
        if (pct) { /* volume percent: 2.5% = 25000 ppm */
            if (parse_double(num, 0, 100, out, err, errlen) < 0)
                return -1;
            *out *= 10000;
            return 0;
        }
        if (strip_suffix(s, "ppm", num, sizeof(num)) < 0)
            break;
        return parse_double(num, 0, 1000000, out, err, errlen);
    case VU_CM_MIN:
        if (strip_suffix(s, "cm/min", num, sizeof(num)) < 0)
            break;
        return parse_double(num, 0, 1000, out, err, errlen);
    case VU_COUNT:
        if (parse_int(s, 0, CHATTER_MAX - 1, &l, err, errlen) < 0)
            return -1;
        *out = (double)l;
        return 0;
    case VU_NONE:
        break;
    }
    snprintf(err, errlen, "'%.32s' is not a valid level", s);
    return -1;
}

/* The config unit of a rule's levels for a kind (implausible depends on it). */
static enum vunit level_unit(enum kind kind, enum alarm_id id)
{
    if (id == ALARM_IMPLAUSIBLE)
        return kind == KIND_WATER_LEVEL ? VU_PCT : kind == KIND_CO2 ? VU_PPM : VU_NONE;
    return rule_defs[id].vunit;
}

/* Find `{alarm}{suffix}` in key among the alarms of kind. */
static int match_key(enum kind kind, const char *key, enum alarm_id *id, enum param *p)
{
    for (int a = 0; a < ALARM_COUNT; a++) {
        size_t n = strlen(rule_defs[a].name);
        if (!alarm_applies(kind, (enum alarm_id)a) || strncmp(key, rule_defs[a].name, n) != 0)
            continue;
        for (int q = 0; q < P_NPARAMS; q++) {
            if (strcmp(key + n, param_suffix[q]) == 0) {
                *id = (enum alarm_id)a;
                *p = (enum param)q;
                return 0;
            }
        }
    }
    return -1;
}

static void set_per_mode(struct alarm_rule_cfg *rc, enum param p, int mode, double d, int64_t ms)
{
    for (int m = 0; m < ALARM_MODES; m++) {
        unsigned bit = 1u << (p * ALARM_MODES + m);
        if (mode >= 0 ? m != mode : (rc->mode_set & bit) != 0)
            continue;
        if (mode >= 0)
            rc->mode_set |= bit;
        switch (p) {
        case P_THRESHOLD:
            rc->threshold[m] = d;
            break;
        case P_CLEAR:
            rc->clear[m] = d;
            break;
        case P_DELAY:
            rc->delay_ms[m] = ms;
            break;
        case P_CLEAR_DELAY:
            rc->clear_delay_ms[m] = ms;
            break;
        default:
            assert(0);
        }
    }
}

int alarm_cfg_set(struct alarm_cfg *ac, enum kind kind, const char *key, const char *value,
                  char *err, size_t errlen)
{
    const char *k = key;
    int mode = -1;
    enum alarm_id id;
    enum param p;
    double d = 0;
    int64_t ms = 0;
    long l;

    if (kind != ac->kind) {
        snprintf(err, errlen, "alarm defaults are for another kind");
        return -1;
    }
    if (kind == KIND_CO2 && strcmp(key, "warmup") == 0)
        return parse_duration_ms(value, 0, HOUR, &ac->warmup_ms, err, errlen);
    for (int m = 0; m < ALARM_MODES; m++) {
        /* A mode's keys: its name, '_', the key ("flood_season_high"). */
        const char *name = mode_name((enum gw_mode)m);
        size_t n = strlen(name);
        if (strncmp(key, name, n) == 0 && key[n] == '_') {
            k = key + n + 1;
            mode = m;
        }
    }
    if (match_key(kind, k, &id, &p) < 0)
        return 1;

    const struct rule_def *def = &rule_defs[id];
    struct alarm_rule_cfg *rc = &ac->rule[id];
    enum vunit vu = level_unit(kind, id);
    if (!(def->params & PB(p)) || ((p == P_THRESHOLD || p == P_CLEAR) && vu == VU_NONE)) {
        snprintf(err, errlen, "%s has no %s", def->name,
                 p == P_THRESHOLD ? "threshold" : param_suffix[p] + 1);
        return -1;
    }
    if (mode >= 0 && p >= P_PER_MODE) {
        snprintf(err, errlen, "%s cannot be set per mode", param_suffix[p] + 1);
        return -1;
    }
    switch (p) {
    case P_THRESHOLD:
    case P_CLEAR:
        if (parse_level(vu, value, &d, err, errlen) < 0)
            return -1;
        set_per_mode(rc, p, mode, d, 0);
        return 0;
    case P_DELAY:
    case P_CLEAR_DELAY:
        if (parse_duration_ms(value, 0, DELAY_MAX_MS, &ms, err, errlen) < 0)
            return -1;
        set_per_mode(rc, p, mode, 0, ms);
        return 0;
    case P_WINDOW:
        if (def->type == RT_LEVEL) { /* 0: instantaneous */
            if (parse_duration_ms(value, 0, 24 * HOUR, &ms, err, errlen) < 0)
                return -1;
            if (ms != 0 && ms < MIN) {
                snprintf(err, errlen, "a mean window is 0 or at least 1min");
                return -1;
            }
        } else if (parse_duration_ms(value, def->type == RT_RATE ? MIN : SEC, HOUR, &ms, err,
                                     errlen) < 0) {
            return -1;
        }
        rc->window_ms = ms;
        return 0;
    case P_COUNT:
        if (parse_int(value, 1, 100, &l, err, errlen) < 0)
            return -1;
        rc->count = (int)l;
        return 0;
    case P_SEVERITY:
        if (alarm_severity_from_name(value, &rc->severity) < 0) {
            snprintf(err, errlen, "'%.32s' is not a severity (critical, major, minor, info)",
                     value);
            return -1;
        }
        return 0;
    case P_LATCH:
    case P_ENABLED:
        return parse_bool(value, p == P_LATCH ? &rc->latch : &rc->enabled, err, errlen);
    case P_NPARAMS:
        break;
    }
    assert(0);
    return -1;
}

int alarm_cfg_validate(const struct alarm_cfg *ac, char *err, size_t errlen)
{
    int nwindows = 0;

    if ((unsigned)ac->kind >= KIND_COUNT) {
        snprintf(err, errlen, "alarm settings without a kind");
        return -1;
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        const struct rule_def *d = &rule_defs[id];
        const struct alarm_rule_cfg *rc = &ac->rule[id];
        if (!alarm_applies(ac->kind, (enum alarm_id)id))
            continue;
        if (rc->count < 1 || rc->count > 100 || (unsigned)rc->severity > ALARM_SEV_INFO) {
            snprintf(err, errlen, "%s: count or severity out of range", d->name);
            return -1;
        }
        for (int m = 0; m < ALARM_MODES; m++) {
            if (rc->delay_ms[m] < 0 || rc->delay_ms[m] > DELAY_MAX_MS ||
                rc->clear_delay_ms[m] < 0 || rc->clear_delay_ms[m] > DELAY_MAX_MS) {
                snprintf(err, errlen, "%s: delay out of range", d->name);
                return -1;
            }
            if (!(d->params & PB(P_CLEAR)))
                continue;
            double thr = rc->threshold[m], clr = rc->clear[m];
            if (!isfinite(thr) || !isfinite(clr) || (d->strict ? clr > thr : clr >= thr)) {
                snprintf(err, errlen, "%s_clear (%g) must be %s %s (%g) in %s mode", d->name, clr,
                         d->strict ? "at most" : "below", d->name, thr, mode_name((enum gw_mode)m));
                return -1;
            }
        }
        if (d->type == RT_LEVEL && rc->window_ms != 0) {
            if (rc->window_ms < MIN || rc->window_ms > 24 * HOUR) {
                snprintf(err, errlen, "%s_window out of range", d->name);
                return -1;
            }
            nwindows++;
        }
        if ((d->type == RT_RATE || d->type == RT_CHATTER) &&
            (rc->window_ms < SEC || rc->window_ms > HOUR)) {
            snprintf(err, errlen, "%s_window out of range", d->name);
            return -1;
        }
        if (d->type == RT_CHATTER &&
            !(rc->threshold[0] >= 0 && rc->threshold[0] < CHATTER_MAX &&
              rc->threshold[1] < CHATTER_MAX && rc->threshold[2] < CHATTER_MAX)) {
            snprintf(err, errlen, "chatter must be below %d", CHATTER_MAX);
            return -1;
        }
    }
    if (nwindows > MEANS_MAX) {
        snprintf(err, errlen, "at most %d alarms of a sensor may use a mean window", MEANS_MAX);
        return -1;
    }
    if (ac->warmup_ms < 0 || ac->warmup_ms > HOUR) {
        snprintf(err, errlen, "warmup out of range");
        return -1;
    }
    return 0;
}

/* ---- windows ------------------------------------------------------------ */

static void mean_add(struct mean_ring *mr, int64_t now, double v)
{
    if (mr->n > 0 && now < mr->start[mr->head] + mr->bucket_ms) {
        mr->sum[mr->head] += v;
        mr->cnt[mr->head]++;
        return;
    }
    mr->head = (mr->head + 1) % MEAN_BUCKETS;
    mr->start[mr->head] = now;
    mr->sum[mr->head] = v;
    mr->cnt[mr->head] = 1;
    if (mr->n < MEAN_BUCKETS)
        mr->n++;
}

/* Mean of the samples in the buckets overlapping (now - window, now].  Only
 * once they span min(window, 10 min): a 1-h mean is not judged on one
 * sample after a start, and a 5-min mean needs its full 5 minutes. */
static bool mean_get(const struct mean_ring *mr, int64_t now, int64_t window, double *mean)
{
    double sum = 0;
    long cnt = 0;
    int64_t oldest = now;

    for (int k = 0; k < mr->n; k++) {
        int i = (mr->head - k + MEAN_BUCKETS) % MEAN_BUCKETS;
        if (mr->start[i] + mr->bucket_ms <= now - window)
            break;
        sum += mr->sum[i];
        cnt += mr->cnt[i];
        oldest = mr->start[i];
    }
    if (cnt == 0 || now - oldest < (window < MEAN_MIN_COVER_MS ? window : MEAN_MIN_COVER_MS))
        return false;
    *mean = sum / (double)cnt;
    return true;
}

static struct mean_ring *mean_of(struct sensor *s, enum alarm_id id)
{
    for (int i = 0; i < MEANS_MAX; i++)
        if (s->mean[i].alarm == (int32_t)id)
            return &s->mean[i];
    return NULL;
}

static void rate_add(struct rate_ring *rr, int64_t now, double v, int64_t window)
{
    if (rr->n > 0 && now - rr->t[rr->head] < window / RATE_PER_WINDOW)
        return;
    rr->head = (rr->head + 1) % RATE_SAMPLES;
    rr->t[rr->head] = now;
    rr->v[rr->head] = v;
    if (rr->n < RATE_SAMPLES)
        rr->n++;
}

/* The rise of the level over the window it has: the least-squares line
 * through the samples of the last window and the newest reading, from the
 * first two readings on.  A line through every point, not two end points,
 * so it follows the rise itself: a fast rise shows at once, and a rise that
 * drained again reads as the drain, not as the net change between the ends
 * of the window (a steady pit after a flood is not rising).  cm_per_min is
 * its slope, rise_cm what it rose over span_ms.  False with no sample
 * before the reading in the window (a start, or after a gap). */
struct rise {
    double cm_per_min, rise_cm;
    int64_t span_ms;
};

static bool rise_get(const struct rate_ring *rr, int64_t t_now, double v_now, int64_t window,
                     struct rise *out)
{
    double x[RATE_SAMPLES + 1], y[RATE_SAMPLES + 1], mx = 0, my = 0, sxx = 0, sxy = 0;
    int64_t first = t_now;
    int n = 0;

    for (int k = 0; k < rr->n; k++) {
        int i = (rr->head - k + RATE_SAMPLES) % RATE_SAMPLES;
        if (rr->t[i] >= t_now || rr->t[i] < t_now - window)
            continue; /* the reading itself comes last; older ones are out */
        x[n] = (double)(rr->t[i] - t_now) / (double)MIN; /* minutes, <= 0 */
        y[n++] = rr->v[i] * 100.0;                       /* cm */
        if (rr->t[i] < first)
            first = rr->t[i];
    }
    if (n == 0)
        return false;
    x[n] = 0;
    y[n++] = v_now * 100.0;
    for (int i = 0; i < n; i++) {
        mx += x[i] / n;
        my += y[i] / n;
    }
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    out->cm_per_min = sxy / sxx;
    out->span_ms = t_now - first;
    out->rise_cm = out->cm_per_min * (double)out->span_ms / (double)MIN;
    return true;
}

/* How long a calm must be seen before it clears a rise: long enough that a
 * rise at the threshold would have stood out of the noise (RISE_NOISE_CM),
 * at most the window. */
static int64_t calm_span(int64_t window, double threshold_cm_per_min)
{
    double ms = threshold_cm_per_min > 0 ? RISE_NOISE_CM / threshold_cm_per_min * (double)MIN
                                         : (double)window;
    return ms < (double)window ? (int64_t)ms : window;
}

static int chatter_count(const struct sensor *s, int64_t now, int64_t window)
{
    int n = 0;
    for (int k = 0; k < s->nchg; k++) {
        if (s->chg[(s->chg_head - k + CHATTER_MAX) % CHATTER_MAX] <= now - window)
            break;
        n++;
    }
    return n;
}

/* ---- engine ------------------------------------------------------------- */

static void sensor_init(struct sensor *s, const struct alarm_sensor *as, int64_t now)
{
    int nm = 0;

    snprintf(s->name, sizeof(s->name), "%s", as->name);
    s->kind = as->kind;
    s->pit_depth_m = as->pit_depth_m;
    s->cfg = *as->cfg;
    s->door = DOOR_UNKNOWN;
    s->inhibit_until = T_NONE;
    s->prev_door = -1;
    s->last_cycle = now;
    for (int i = 0; i < MEANS_MAX; i++)
        s->mean[i].alarm = -1;
    for (int id = 0; id < ALARM_COUNT; id++) {
        s->slot[id].cond_since = s->slot[id].clear_since = T_NONE;
        s->slot[id].value = NAN;
        if (alarm_applies(s->kind, (enum alarm_id)id) && rule_defs[id].type == RT_LEVEL &&
            s->cfg.rule[id].window_ms > 0) {
            s->mean[nm].alarm = id; /* nm < MEANS_MAX: alarm_cfg_validate */
            s->mean[nm].bucket_ms = s->cfg.rule[id].window_ms / MEAN_PER_WINDOW;
            nm++;
        }
    }
}

struct alarm_engine *alarm_engine_new(const struct alarm_sensor *sensors, int nsensors,
                                      enum gw_mode mode, int64_t now_mono_ms)
{
    char why[128];
    struct alarm_engine *eng;

    if (nsensors < 0 || (nsensors > 0 && sensors == NULL) || (unsigned)mode >= ALARM_MODES) {
        errno = EINVAL;
        return NULL;
    }
    for (int i = 0; i < nsensors; i++) {
        const struct alarm_sensor *as = &sensors[i];
        if (as->name == NULL || as->name[0] == '\0' || strlen(as->name) >= ALARM_NAME_MAX ||
            (unsigned)as->kind >= KIND_COUNT || as->cfg == NULL) {
            errno = EINVAL;
            return NULL;
        }
        if (as->cfg->kind != as->kind || alarm_cfg_validate(as->cfg, why, sizeof(why)) < 0 ||
            (as->kind == KIND_WATER_LEVEL && !(as->pit_depth_m > 0 && isfinite(as->pit_depth_m)))) {
            errno = EGW_CONFIG;
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(sensors[j].name, as->name) == 0) {
                errno = EINVAL;
                return NULL;
            }
        }
    }
    eng = calloc(1, sizeof(*eng));
    if (eng == NULL)
        return NULL;
    eng->s = calloc(nsensors > 0 ? (size_t)nsensors : 1, sizeof(*eng->s));
    if (eng->s == NULL) {
        free(eng);
        return NULL;
    }
    eng->n = nsensors;
    eng->mode = mode;
    eng->start_ms = now_mono_ms;
    for (int i = 0; i < nsensors; i++)
        sensor_init(&eng->s[i], &sensors[i], now_mono_ms);
    return eng;
}

void alarm_engine_free(struct alarm_engine *eng)
{
    if (eng == NULL)
        return;
    free(eng->s);
    free(eng);
}

size_t alarm_events_max(const struct alarm_engine *eng)
{
    return (size_t)(eng->n > 0 ? eng->n : 1) * ALARM_SENSOR_EVENTS_MAX;
}

enum gw_mode alarm_mode(const struct alarm_engine *eng)
{
    return eng->mode;
}

static bool inhibited(const struct sensor *s, int64_t now)
{
    return s->inhibit_until != T_NONE && now < s->inhibit_until;
}

static bool warming(const struct alarm_engine *eng, const struct sensor *s, int64_t now)
{
    return s->kind == KIND_CO2 && now - eng->start_ms < s->cfg.warmup_ms;
}

/* ---- events ------------------------------------------------------------- */

static bool above(double v, double thr, bool strict)
{
    double eps = 1e-9 * fmax(1.0, fabs(thr)); /* 70% of a depth is 70%, not 69.999...% */
    return strict ? v > thr + eps : v >= thr - eps;
}

static bool below(double v, double clr, bool strict)
{
    double eps = 1e-9 * fmax(1.0, fabs(clr));
    return strict ? v < clr - eps : v <= clr + eps;
}

/* Internal units -> event units. */
static double display(const struct sensor *s, enum alarm_id id, double v)
{
    if (isnan(v))
        return v;
    if (s->kind == KIND_WATER_LEVEL &&
        (id == ALARM_WL_HIGH || id == ALARM_WL_HIGH_HIGH || id == ALARM_IMPLAUSIBLE))
        return v / 100.0 * s->pit_depth_m;
    switch (rule_defs[id].type) {
    case RT_NOT_SECURED:
    case RT_DOOR_OPEN:
    case RT_DOOR_CLOSED:
        return v / (double)SEC;
    case RT_EXERCISE:
        return v / (double)DAY;
    default:
        return v;
    }
}

/* The level an event reports (internal units): the raise level, or the
 * clear level for a cleared event; NAN where a rule has none. */
static double event_threshold(const struct sensor *s, enum alarm_id id, enum gw_mode m,
                              enum alarm_event_type type)
{
    const struct alarm_rule_cfg *rc = &s->cfg.rule[id];

    switch (rule_defs[id].type) {
    case RT_LEVEL:
    case RT_RATE:
    case RT_CHATTER:
        return type == ALARM_EV_CLEARED ? rc->clear[m] : rc->threshold[m];
    case RT_STATE:
        return rc->count;
    case RT_NOT_SECURED:
    case RT_DOOR_OPEN:
    case RT_DOOR_CLOSED:
    case RT_EXERCISE:
        return type == ALARM_EV_CLEARED ? NAN : (double)rc->delay_ms[m];
    default:
        return NAN;
    }
}

static int emit(struct alarm_events *out, const struct alarm_event *ev)
{
    if (out->n >= out->cap) {
        out->deferred++;
        errno = EGW_FULL;
        return -1;
    }
    out->ev[out->n++] = *ev;
    return 0;
}

/* An event of (sensor, alarm); active and acked as published after it. */
static struct alarm_event make_event(const struct alarm_engine *eng, int si, enum alarm_id id,
                                     enum alarm_event_type type, bool active, bool acked,
                                     int64_t wall)
{
    const struct sensor *s = &eng->s[si];
    const struct slot *sl = &s->slot[id];
    struct alarm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.sensor = si;
    ev.alarm = id;
    ev.type = type;
    ev.active = active;
    ev.acked = acked;
    ev.severity = s->cfg.rule[id].severity;
    ev.value = display(s, id, sl->value);
    ev.threshold = display(s, id, event_threshold(s, id, eng->mode, type));
    ev.unit = rule_defs[id].unit;
    if (id == ALARM_IMPLAUSIBLE)
        ev.unit = s->kind == KIND_WATER_LEVEL ? "m" : s->kind == KIND_CO2 ? "ppm" : "";
    ev.mode = eng->mode;
    ev.ts_ms = wall;
    snprintf(ev.by, sizeof(ev.by), "%s", sl->by);
    return ev;
}

static int emit_inhibit(const struct alarm_engine *eng, int si, enum alarm_event_type type,
                        int64_t wall, int64_t until_wall, const char *by, struct alarm_events *out)
{
    struct alarm_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.sensor = si;
    ev.alarm = ALARM_INHIBIT;
    ev.type = type;
    ev.active = type == ALARM_EV_INHIBIT_STARTED;
    ev.severity = ALARM_SEV_INFO;
    ev.value = ev.threshold = NAN;
    ev.unit = "";
    ev.mode = eng->mode;
    ev.ts_ms = wall;
    ev.until_ms = until_wall;
    snprintf(ev.by, sizeof(ev.by), "%s", by ? by : "");
    return emit(out, &ev);
}

/* ---- evaluation --------------------------------------------------------- */

struct cond {
    bool known; /* false: hold (no raise, no clear, clear delay restarts) */
    bool raise;
    bool clear;
    double value; /* internal units; NAN: keep the last */
};

static struct cond rule_cond(const struct alarm_engine *eng, struct sensor *s, enum alarm_id id,
                             int64_t now)
{
    const struct rule_def *d = &rule_defs[id];
    const struct alarm_rule_cfg *rc = &s->cfg.rule[id];
    int m = eng->mode;
    struct cond c = {.known = false, .value = NAN};
    int door = s->door;
    double v;

    if (!s->have)
        return c;
    if (d->type == RT_COMM) {
        c.known = true;
        c.raise = s->comm_lost;
        c.clear = !s->comm_lost;
        return c;
    }
    if (s->comm_lost || s->warming)
        return c;
    if (d->type == RT_IMPLAUSIBLE) {
        c.known = true;
        c.raise = s->implausible;
        c.clear = !s->implausible;
        if (s->trust != TRUST_NONE && has_jump_check(s->kind))
            c.value = s->value;
        return c;
    }
    if (s->trust == TRUST_NONE)
        return c;
    c.known = true;
    switch (d->type) {
    case RT_LEVEL:
        if (rc->window_ms > 0) {
            const struct mean_ring *mr = mean_of(s, id);
            if (mr == NULL || !mean_get(mr, now, rc->window_ms, &v)) {
                c.known = false;
                return c;
            }
            c.raise = above(v, rc->threshold[m], d->strict);
            c.clear = below(v, rc->clear[m], d->strict);
        } else {
            v = s->value;
            /* A saturated sensor reads "at least v". */
            c.raise = above(v, rc->threshold[m], d->strict) ||
                      (s->over_range && above(v, rc->threshold[m], false));
            c.clear = !s->over_range && below(v, rc->clear[m], d->strict);
        }
        c.value = v;
        break;
    case RT_RATE: {
        struct rise r;
        if (!rise_get(&s->rate, s->last_t, s->level_m, rc->window_ms, &r)) {
            c.known = false;
            return c;
        }
        v = r.cm_per_min;
        /* Raise on a rise beyond noise; clear on a calm seen long enough.
         * Either one seen too briefly yet is not known: hold. */
        c.raise = above(v, rc->threshold[m], d->strict) && r.rise_cm > RISE_NOISE_CM;
        c.clear = below(v, rc->clear[m], d->strict) &&
                  r.span_ms >= calm_span(rc->window_ms, rc->threshold[m]);
        if (!c.raise && !c.clear &&
            (above(v, rc->threshold[m], d->strict) || below(v, rc->clear[m], d->strict))) {
            c.known = false;
            return c;
        }
        c.value = v;
        break;
    }
    case RT_STATE: {
        bool on = id == ALARM_LEAK         ? s->wet
                  : id == ALARM_SMOKE_FIRE ? s->smoke == SMOKE_FIRE
                                           : s->smoke == SMOKE_FAULT;
        c.raise = on && s->slot[id].count >= rc->count;
        c.clear = !on;
        c.value = s->slot[id].count;
        break;
    }
    case RT_OVER_RANGE:
        c.raise = s->over_range;
        c.clear = !s->over_range;
        c.value = s->value;
        break;
    case RT_DISAGREE: {
        bool closed = s->contacts & CONTACT_CLOSED, locked = s->contacts & CONTACT_LOCKED;
        bool open = (s->present & CONTACT_OPEN) && (s->contacts & CONTACT_OPEN);
        c.raise = (closed && open) || (locked && !closed);
        c.clear = !c.raise;
        break;
    }
    case RT_CHATTER:
        v = chatter_count(s, now, rc->window_ms);
        c.raise = above(v, rc->threshold[m], d->strict);
        c.clear = below(v, rc->clear[m], d->strict);
        c.value = v;
        break;
    case RT_NOT_SECURED:
        c.raise = eng->mode == MODE_PROTECTIVE && door != DOOR_LOCKED;
        c.clear = !c.raise;
        break;
    case RT_DOOR_OPEN:
    case RT_DOOR_CLOSED:
        if (door == DOOR_UNKNOWN) { /* sensor_disagree speaks for it */
            c.known = false;
            return c;
        }
        c.raise = door == (d->type == RT_DOOR_OPEN ? DOOR_OPEN : DOOR_CLOSED);
        c.clear = !c.raise;
        break;
    case RT_EXERCISE:
        c.raise = true; /* since the last cycle; see step() */
        c.clear = now - s->last_cycle < rc->delay_ms[m];
        c.value = (double)(now - s->last_cycle);
        break;
    case RT_COMM:
    case RT_IMPLAUSIBLE:
        break;
    }
    if (s->trust == TRUST_RAISE)
        c.clear = false;
    return c;
}

/* One lifecycle step of (sensor si, alarm id) at now. */
static void step(struct alarm_engine *eng, int si, enum alarm_id id, const struct cond *c,
                 int64_t now, int64_t wall, struct alarm_events *out)
{
    struct sensor *s = &eng->s[si];
    struct slot *sl = &s->slot[id];
    const struct alarm_rule_cfg *rc = &s->cfg.rule[id];
    const struct rule_def *d = &rule_defs[id];
    int m = eng->mode;
    struct alarm_event ev;

    if (!rc->enabled) { /* disabled by a reload while raised: clear it */
        sl->cond_since = sl->clear_since = T_NONE;
        if (sl->st != ALARM_ST_INACTIVE) {
            ev = make_event(eng, si, id, ALARM_EV_CLEARED, false, sl->st == ALARM_ST_ACKED, wall);
            if (emit(out, &ev) == 0) {
                sl->st = ALARM_ST_INACTIVE;
                sl->by[0] = '\0';
            }
        }
        return;
    }
    if (!c->known) {
        sl->clear_since = T_NONE;
        return;
    }
    if (!isnan(c->value) || d->type == RT_IMPLAUSIBLE)
        sl->value = c->value;
    if (d->type == RT_EXERCISE)
        sl->cond_since = s->last_cycle;
    else if (!c->raise)
        sl->cond_since = T_NONE;
    else if (sl->cond_since == T_NONE)
        sl->cond_since = now;
    if (!c->clear)
        sl->clear_since = T_NONE;
    else if (sl->clear_since == T_NONE)
        sl->clear_since = now;
    if (d->type == RT_NOT_SECURED || d->type == RT_DOOR_OPEN || d->type == RT_DOOR_CLOSED)
        sl->value = c->raise ? (double)(now - sl->cond_since) : NAN;

    bool raise_due = c->raise && now - sl->cond_since >= rc->delay_ms[m];
    bool clear_due = c->clear && now - sl->clear_since >= rc->clear_delay_ms[m];
    if (is_process(id) && inhibited(s, now))
        return; /* timers run, transitions wait for the end of the inhibit */

    switch (sl->st) {
    case ALARM_ST_INACTIVE:
        if (!raise_due)
            break;
        sl->by[0] = '\0';
        ev = make_event(eng, si, id, ALARM_EV_RAISED, true, false, wall);
        if (emit(out, &ev) == 0)
            sl->st = ALARM_ST_ACTIVE;
        break;
    case ALARM_ST_ACTIVE:
    case ALARM_ST_ACKED:
        if (!clear_due)
            break;
        if (sl->st == ALARM_ST_ACTIVE && rc->latch) {
            sl->st = ALARM_ST_LATCHED; /* stays published as raised until acked */
            break;
        }
        ev = make_event(eng, si, id, ALARM_EV_CLEARED, false, sl->st == ALARM_ST_ACKED, wall);
        if (emit(out, &ev) == 0)
            sl->st = ALARM_ST_INACTIVE;
        break;
    case ALARM_ST_LATCHED:
        if (raise_due)
            sl->st = ALARM_ST_ACTIVE; /* never published as gone: nothing to say */
        break;
    }
}

static void end_inhibit_if_due(struct alarm_engine *eng, int si, int64_t now, int64_t wall,
                               struct alarm_events *out)
{
    struct sensor *s = &eng->s[si];

    if (s->inhibit_until == T_NONE || now < s->inhibit_until)
        return;
    if (emit_inhibit(eng, si, ALARM_EV_INHIBIT_ENDED, wall, 0, s->inhibit_by, out) == 0) {
        s->inhibit_until = T_NONE;
        s->inhibit_by[0] = '\0';
    }
}

static void evaluate(struct alarm_engine *eng, int si, int64_t now, int64_t wall,
                     struct alarm_events *out)
{
    struct sensor *s = &eng->s[si];

    for (int id = 0; id < ALARM_COUNT; id++) {
        if (!alarm_applies(s->kind, (enum alarm_id)id))
            continue;
        struct cond c = rule_cond(eng, s, (enum alarm_id)id, now);
        step(eng, si, (enum alarm_id)id, &c, now, wall, out);
    }
}

static int call_result(const struct alarm_events *out, int deferred_before)
{
    if (out->deferred > deferred_before) {
        errno = EGW_FULL;
        return -1;
    }
    return 0;
}

/* Take in what a reading says, before the rules look at it. */
static void ingest(struct alarm_engine *eng, struct sensor *s, const struct reading *r, int64_t now)
{
    const struct alarm_rule_cfg *imp = &s->cfg.rule[ALARM_IMPLAUSIBLE];
    bool has_value = !r->no_value && r->quality != Q_COMM_LOST;

    s->have = true;
    s->last_t = now;
    s->comm_lost = r->quality == Q_COMM_LOST;
    s->warming = s->kind == KIND_CO2 && (r->quality == Q_WARMING_UP || warming(eng, s, now));
    if (s->comm_lost || s->warming) {
        s->trust = TRUST_NONE;
        s->jump_have = false;
        return;
    }
    /* warming_up on other kinds is not ours: their values are good. */
    s->implausible = r->quality == Q_IMPLAUSIBLE;
    if (!has_value) { /* keep the last values; nothing is judged on this one */
        s->trust = TRUST_NONE;
        s->jump_have = false;
        return;
    }
    s->trust = s->implausible ? TRUST_RAISE : TRUST_FULL;
    switch (s->kind) {
    case KIND_WATER_LEVEL:
        s->level_m = r->v.water_level.level_m;
        s->value = 100.0 * s->level_m / s->pit_depth_m;
        break;
    case KIND_CO2:
        s->value = r->v.co2.co2_ppm;
        s->over_range = r->v.co2.over_range;
        break;
    case KIND_WATER_LEAK:
        s->wet = r->v.water_leak.wet;
        break;
    case KIND_SMOKE:
        s->smoke = r->v.smoke.smoke;
        break;
    case KIND_BLAST_DOOR:
        s->door = r->v.blast_door.door;
        s->contacts = r->v.blast_door.contacts;
        s->present = r->v.blast_door.contacts_present;
        break;
    case KIND_COUNT:
        break;
    }
    if (has_jump_check(s->kind) && s->trust == TRUST_FULL) {
        double jump = imp->threshold[eng->mode];
        if (jump > 0 && s->jump_have && now - s->jump_t <= JUMP_MAX_GAP_MS &&
            above(fabs(s->value - s->jump_v), jump, true)) {
            s->implausible = true;
            s->trust = TRUST_RAISE;
        }
        s->jump_have = true;
        s->jump_v = s->value;
        s->jump_t = now;
    } else {
        s->jump_have = false;
    }
    if (s->trust == TRUST_FULL) {
        if (s->kind == KIND_WATER_LEVEL)
            rate_add(&s->rate, now, s->level_m, s->cfg.rule[ALARM_WL_RISING_FAST].window_ms);
        for (int i = 0; i < MEANS_MAX; i++)
            if (s->mean[i].alarm >= 0)
                mean_add(&s->mean[i], now, s->value);
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        if (!alarm_applies(s->kind, (enum alarm_id)id) || rule_defs[id].type != RT_STATE)
            continue;
        bool on = id == ALARM_LEAK         ? s->wet
                  : id == ALARM_SMOKE_FIRE ? s->smoke == SMOKE_FIRE
                                           : s->smoke == SMOKE_FAULT;
        struct slot *sl = &s->slot[id];
        sl->count = on ? (sl->count < COUNT_MAX ? sl->count + 1 : COUNT_MAX) : 0;
    }
    if (s->kind == KIND_BLAST_DOOR) {
        if (s->prev_door >= 0 && s->door != s->prev_door) {
            s->chg_head = (s->chg_head + 1) % CHATTER_MAX;
            s->chg[s->chg_head] = now;
            if (s->nchg < CHATTER_MAX)
                s->nchg++;
        }
        if (s->door == DOOR_OPEN) {
            s->cycle_phase = 1;
        } else if (s->door == DOOR_LOCKED && s->cycle_phase == 1) {
            s->cycle_phase = 0;
            s->last_cycle = now; /* a full open -> close -> lock cycle */
        }
        s->prev_door = s->door;
    }
}

int alarm_on_reading(struct alarm_engine *eng, const struct reading *r, int64_t now_mono_ms,
                     struct alarm_events *out)
{
    int deferred = out->deferred;

    if (r->sensor < 0 || r->sensor >= eng->n || r->kind != eng->s[r->sensor].kind ||
        (unsigned)r->quality > Q_WARMING_UP) {
        errno = EINVAL;
        return -1;
    }
    end_inhibit_if_due(eng, r->sensor, now_mono_ms, r->ts_ms, out);
    ingest(eng, &eng->s[r->sensor], r, now_mono_ms);
    evaluate(eng, r->sensor, now_mono_ms, r->ts_ms, out);
    return call_result(out, deferred);
}

int alarm_tick(struct alarm_engine *eng, int64_t now_mono_ms, int64_t wall_ms,
               struct alarm_events *out)
{
    int deferred = out->deferred;

    for (int i = 0; i < eng->n; i++) {
        end_inhibit_if_due(eng, i, now_mono_ms, wall_ms, out);
        evaluate(eng, i, now_mono_ms, wall_ms, out);
    }
    return call_result(out, deferred);
}

int alarm_set_mode(struct alarm_engine *eng, enum gw_mode mode, int64_t now_mono_ms,
                   int64_t wall_ms, struct alarm_events *out)
{
    if ((unsigned)mode >= ALARM_MODES) {
        errno = EINVAL;
        return -1;
    }
    eng->mode = mode;
    /* Evaluate at the switch itself: not_secured's grace starts here. */
    return alarm_tick(eng, now_mono_ms, wall_ms, out);
}

static int check_alarm(const struct alarm_engine *eng, int sensor, enum alarm_id alarm)
{
    if (sensor < 0 || sensor >= eng->n || !alarm_applies(eng->s[sensor].kind, alarm)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int alarm_ack(struct alarm_engine *eng, int sensor, enum alarm_id alarm, const char *by,
              int64_t now_mono_ms, int64_t wall_ms, struct alarm_events *out)
{
    struct slot *sl;
    struct alarm_event ev[2];
    (void)now_mono_ms;

    if (check_alarm(eng, sensor, alarm) < 0)
        return -1;
    sl = &eng->s[sensor].slot[alarm];
    switch (sl->st) {
    case ALARM_ST_INACTIVE:
        errno = ENOENT;
        return -1;
    case ALARM_ST_ACKED:
        return 1;
    case ALARM_ST_ACTIVE:
    case ALARM_ST_LATCHED:
        break;
    }
    if (out->cap - out->n < (sl->st == ALARM_ST_LATCHED ? 2 : 1)) {
        out->deferred++;
        errno = EGW_FULL;
        return -1;
    }
    snprintf(sl->by, sizeof(sl->by), "%s", by ? by : "");
    if (sl->st == ALARM_ST_ACTIVE) {
        ev[0] = make_event(eng, sensor, alarm, ALARM_EV_ACKNOWLEDGED, true, true, wall_ms);
        emit(out, &ev[0]); /* room checked above */
        sl->st = ALARM_ST_ACKED;
        return 0;
    }
    /* Latched and its condition gone: the acknowledgement ends it. */
    ev[0] = make_event(eng, sensor, alarm, ALARM_EV_ACKNOWLEDGED, false, true, wall_ms);
    ev[1] = make_event(eng, sensor, alarm, ALARM_EV_CLEARED, false, true, wall_ms);
    emit(out, &ev[0]);
    emit(out, &ev[1]);
    sl->st = ALARM_ST_INACTIVE;
    return 0;
}

int alarm_inhibit(struct alarm_engine *eng, int sensor, int64_t duration_ms, const char *by,
                  int64_t now_mono_ms, int64_t wall_ms, struct alarm_events *out)
{
    int deferred = out->deferred;
    struct sensor *s;

    if (sensor < 0 || sensor >= eng->n || duration_ms < 0 || duration_ms > ALARM_INHIBIT_MAX_MS) {
        errno = EINVAL;
        return -1;
    }
    s = &eng->s[sensor];
    if (duration_ms == 0) {
        if (s->inhibit_until == T_NONE) {
            errno = ENOENT;
            return -1;
        }
        if (emit_inhibit(eng, sensor, ALARM_EV_INHIBIT_ENDED, wall_ms, 0, by, out) < 0)
            return -1;
        s->inhibit_until = T_NONE;
        s->inhibit_by[0] = '\0';
        evaluate(eng, sensor, now_mono_ms, wall_ms, out);
        return call_result(out, deferred);
    }
    if (emit_inhibit(eng, sensor, ALARM_EV_INHIBIT_STARTED, wall_ms, wall_ms + duration_ms, by,
                     out) < 0)
        return -1;
    s->inhibit_until = now_mono_ms + duration_ms;
    snprintf(s->inhibit_by, sizeof(s->inhibit_by), "%s", by ? by : "");
    return 0;
}

int alarm_test(struct alarm_engine *eng, int sensor, enum alarm_id alarm, const char *by,
               int64_t wall_ms, struct alarm_events *out)
{
    if (check_alarm(eng, sensor, alarm) < 0)
        return -1;
    int st = eng->s[sensor].slot[alarm].st;
    /* A latched alarm is published as active until acknowledged. */
    struct alarm_event ev = make_event(eng, sensor, alarm, ALARM_EV_TEST, st != ALARM_ST_INACTIVE,
                                       st == ALARM_ST_ACKED, wall_ms);
    snprintf(ev.by, sizeof(ev.by), "%s", by ? by : "");
    return emit(out, &ev);
}

enum alarm_status alarm_status(const struct alarm_engine *eng, int sensor, enum alarm_id alarm)
{
    if (check_alarm(eng, sensor, alarm) < 0)
        return ALARM_ST_INACTIVE;
    return (enum alarm_status)eng->s[sensor].slot[alarm].st;
}

int alarm_active_count(const struct alarm_engine *eng)
{
    int n = 0;
    for (int i = 0; i < eng->n; i++)
        for (int id = 0; id < ALARM_COUNT; id++)
            n += eng->s[i].slot[id].st != ALARM_ST_INACTIVE;
    return n;
}

bool alarm_inhibited(const struct alarm_engine *eng, int sensor, int64_t now_mono_ms)
{
    return sensor >= 0 && sensor < eng->n && inhibited(&eng->s[sensor], now_mono_ms);
}

bool alarm_warming_up(const struct alarm_engine *eng, int sensor, int64_t now_mono_ms)
{
    return sensor >= 0 && sensor < eng->n && warming(eng, &eng->s[sensor], now_mono_ms);
}

/* ---- persistence -------------------------------------------------------- */

/* One function walks every saved field, for sizing, saving and loading, so
 * the three cannot disagree.  Times are relative to `base`: the save time, or
 * on load now minus the downtime. */
struct xio {
    unsigned char *p; /* NULL: only count */
    size_t len, off;
    bool load;
    bool fail;
    int64_t base;
};

#define STATE_MAGIC "SGWALARM"
#define STATE_VERSION 1u
#define HEADER_SIZE 32 /* magic 8, version 4, record size 4, nsensors 4, pad 4, wall 8 */

static void x_raw(struct xio *x, void *v, size_t n)
{
    if (x->fail || x->off + n > x->len) {
        x->fail = true;
        return;
    }
    if (x->p != NULL) {
        if (x->load)
            memcpy(v, x->p + x->off, n);
        else
            memcpy(x->p + x->off, v, n);
    }
    x->off += n;
}

static void x_i32(struct xio *x, int32_t *v, int32_t min, int32_t max)
{
    x_raw(x, v, sizeof(*v));
    if (x->load && x->p != NULL && (*v < min || *v > max))
        x->fail = true;
}

static void x_f64(struct xio *x, double *v)
{
    x_raw(x, v, sizeof(*v));
}

static void x_time(struct xio *x, int64_t *t)
{
    int64_t rel = 0;

    if (!x->load)
        rel = *t == T_NONE ? T_NONE : *t - x->base;
    x_raw(x, &rel, sizeof(rel));
    if (!x->load || x->p == NULL)
        return;
    if (rel == T_NONE)
        *t = T_NONE;
    else if (rel > TIME_AHEAD_MS) /* only an inhibit end lies ahead, <= 7 days */
        x->fail = true;
    else
        *t = (rel < -TIME_SANE_MS ? -TIME_SANE_MS : rel) + x->base;
}

static void x_str(struct xio *x, char *s, size_t n)
{
    x_raw(x, s, n);
    if (x->load && x->p != NULL)
        s[n - 1] = '\0';
}

static void xfer_sensor(struct xio *x, struct sensor *s)
{
    int32_t kind = s->kind, st;

    x_str(x, s->name, sizeof(s->name));
    x_i32(x, &kind, 0, KIND_COUNT - 1);
    if (x->load)
        s->kind = (enum kind)kind;
    x_time(x, &s->inhibit_until);
    x_str(x, s->inhibit_by, sizeof(s->inhibit_by));
    x_i32(x, &s->prev_door, -1, DOOR_LOCKED);
    x_i32(x, &s->cycle_phase, 0, 1);
    x_time(x, &s->last_cycle);
    x_i32(x, &s->nchg, 0, CHATTER_MAX);
    x_i32(x, &s->chg_head, 0, CHATTER_MAX - 1);
    for (int i = 0; i < CHATTER_MAX; i++)
        x_time(x, &s->chg[i]);
    x_i32(x, &s->rate.n, 0, RATE_SAMPLES);
    x_i32(x, &s->rate.head, 0, RATE_SAMPLES - 1);
    for (int i = 0; i < RATE_SAMPLES; i++) {
        x_time(x, &s->rate.t[i]);
        x_f64(x, &s->rate.v[i]);
    }
    for (int r = 0; r < MEANS_MAX; r++) {
        struct mean_ring *mr = &s->mean[r];
        x_i32(x, &mr->alarm, -1, ALARM_COUNT - 1);
        x_raw(x, &mr->bucket_ms, sizeof(mr->bucket_ms));
        if (x->load && x->p != NULL && mr->bucket_ms < 0)
            x->fail = true;
        x_i32(x, &mr->n, 0, MEAN_BUCKETS);
        x_i32(x, &mr->head, 0, MEAN_BUCKETS - 1);
        for (int i = 0; i < MEAN_BUCKETS; i++) {
            x_time(x, &mr->start[i]);
            x_f64(x, &mr->sum[i]);
            x_i32(x, &mr->cnt[i], 0, INT32_MAX);
        }
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        struct slot *sl = &s->slot[id];
        st = sl->st;
        x_i32(x, &st, ALARM_ST_INACTIVE, ALARM_ST_LATCHED);
        if (x->load)
            sl->st = st;
        x_i32(x, &sl->count, 0, COUNT_MAX);
        x_time(x, &sl->cond_since);
        x_time(x, &sl->clear_since);
        x_f64(x, &sl->value);
        x_str(x, sl->by, sizeof(sl->by));
    }
}

static size_t record_size(void)
{
    static struct sensor scratch; /* only counted, never read or written */
    struct xio x = {.p = NULL, .len = SIZE_MAX};
    xfer_sensor(&x, &scratch);
    return x.off;
}

size_t alarm_state_size(const struct alarm_engine *eng)
{
    return HEADER_SIZE + (size_t)eng->n * record_size();
}

static void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

int alarm_state_save(const struct alarm_engine *eng, int64_t now_mono_ms, int64_t wall_ms,
                     void *buf, size_t len)
{
    size_t need = alarm_state_size(eng);
    unsigned char *p = buf;

    if (len < need || need > INT32_MAX) {
        errno = ENOSPC;
        return -1;
    }
    /* Times are saved relative to an anchor that moves only every
     * ANCHOR_MS, not to the save itself: an engine whose state did not
     * change saves the same bytes (but for the anchor's wall time, in the
     * header), so the outbox writes nothing for it (issue 9, flash wear). */
    int64_t anchor = now_mono_ms - (now_mono_ms % ANCHOR_MS + ANCHOR_MS) % ANCHOR_MS;
    int64_t anchor_wall = wall_ms - (now_mono_ms - anchor);
    memset(p, 0, HEADER_SIZE);
    memcpy(p, STATE_MAGIC, 8);
    put_u32(p + 8, STATE_VERSION);
    put_u32(p + 12, (uint32_t)record_size());
    put_u32(p + 16, (uint32_t)eng->n);
    memcpy(p + 24, &anchor_wall, sizeof(anchor_wall));
    struct xio x = {.p = p, .len = need, .off = HEADER_SIZE, .base = anchor};
    for (int i = 0; i < eng->n; i++) {
        /* Saving only reads the sensor: the cast is for the shared walker. */
        xfer_sensor(&x, (struct sensor *)&eng->s[i]);
    }
    assert(!x.fail && x.off == need);
    return (int)need;
}

/* Restore the saved part of sensor `from` into `to` (same name and kind). */
static void restore_sensor(struct sensor *to, const struct sensor *from)
{
    to->inhibit_until = from->inhibit_until;
    memcpy(to->inhibit_by, from->inhibit_by, sizeof(to->inhibit_by));
    to->prev_door = from->prev_door;
    to->cycle_phase = from->cycle_phase;
    to->last_cycle = from->last_cycle;
    to->nchg = from->nchg;
    to->chg_head = from->chg_head;
    memcpy(to->chg, from->chg, sizeof(to->chg));
    to->rate = from->rate;
    for (int r = 0; r < MEANS_MAX; r++) {
        struct mean_ring *mr = &to->mean[r];
        if (mr->alarm < 0)
            continue;
        for (int q = 0; q < MEANS_MAX; q++) {
            /* Same rule and bucket size (window): the buckets still mean the same. */
            if (from->mean[q].alarm == mr->alarm && from->mean[q].bucket_ms == mr->bucket_ms)
                *mr = from->mean[q];
        }
    }
    for (int id = 0; id < ALARM_COUNT; id++) {
        to->slot[id] = from->slot[id];
        to->slot[id].clear_since = T_NONE; /* the downtime never counts toward clearing */
    }
    to->have = false;
}

/* The header of a state image: 0 with the record count and the monotonic
 * time its saved times are relative to, or -1 with errno EINVAL.  The
 * wall-clock downtime since the save counts as elapsed. */
static int image_check(const unsigned char *p, size_t len, int64_t now_mono_ms, int64_t wall_ms,
                       uint32_t *n, int64_t *base)
{
    int64_t saved_wall, downtime;
    size_t rec = record_size();

    if (len < HEADER_SIZE || memcmp(p, STATE_MAGIC, 8) != 0 || get_u32(p + 8) != STATE_VERSION ||
        get_u32(p + 12) != rec) {
        errno = EINVAL;
        return -1;
    }
    *n = get_u32(p + 16);
    if (*n > (len - HEADER_SIZE) / rec || len != HEADER_SIZE + (size_t)*n * rec) {
        errno = EINVAL;
        return -1;
    }
    memcpy(&saved_wall, p + 24, sizeof(saved_wall));
    downtime = wall_ms - saved_wall;
    if (downtime < 0 || downtime > TIME_SANE_MS)
        downtime = 0; /* the wall clock went back (or is garbage): assume none */
    *base = now_mono_ms - downtime;
    return 0;
}

/* Saved state belongs to a configured sensor of the same name and kind. */
static bool same_sensor(const struct sensor *a, const struct sensor *b)
{
    return a->kind == b->kind && strcmp(a->name, b->name) == 0;
}

static bool engine_has(const struct alarm_engine *eng, const struct sensor *s)
{
    for (int j = 0; j < eng->n; j++) {
        if (same_sensor(&eng->s[j], s))
            return true;
    }
    return false;
}

int alarm_state_load(struct alarm_engine *eng, const void *buf, size_t len, int64_t now_mono_ms,
                     int64_t wall_ms)
{
    const unsigned char *p = buf;
    uint32_t n;
    int64_t base;
    struct sensor *tmp;
    int restored = 0;

    if (image_check(p, len, now_mono_ms, wall_ms, &n, &base) == -1)
        return -1;
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL)
        return -1;
    /* Pass 0 validates every record, pass 1 applies: all or nothing. */
    for (int pass = 0; pass < 2; pass++) {
        struct xio x = {
            .p = (unsigned char *)p, .len = len, .off = HEADER_SIZE, .load = true, .base = base};
        for (uint32_t i = 0; i < n; i++) {
            memset(tmp, 0, sizeof(*tmp));
            xfer_sensor(&x, tmp);
            if (x.fail) {
                free(tmp);
                errno = EINVAL;
                return -1;
            }
            if (pass == 0)
                continue;
            for (int j = 0; j < eng->n; j++) {
                if (same_sensor(&eng->s[j], tmp)) {
                    restore_sensor(&eng->s[j], tmp);
                    restored++;
                }
            }
        }
    }
    free(tmp);
    return restored;
}

int alarm_state_orphans(const struct alarm_engine *eng, const void *buf, size_t len,
                        int64_t now_mono_ms, int64_t wall_ms, struct alarm_orphan **out)
{
    const unsigned char *p = buf;
    uint32_t n;
    int64_t base;
    struct sensor *tmp;
    struct alarm_orphan *o = NULL;
    int count = 0, cap = 0;

    *out = NULL;
    if (image_check(p, len, now_mono_ms, wall_ms, &n, &base) == -1)
        return -1;
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL)
        return -1;
    struct xio x = {
        .p = (unsigned char *)p, .len = len, .off = HEADER_SIZE, .load = true, .base = base};
    for (uint32_t i = 0; i < n; i++) {
        memset(tmp, 0, sizeof(*tmp));
        xfer_sensor(&x, tmp);
        if (x.fail) {
            errno = EINVAL;
            goto fail;
        }
        if (engine_has(eng, tmp))
            continue;
        struct alarm_cfg defaults;
        alarm_cfg_defaults(tmp->kind, &defaults);
        for (int id = 0; id <= ALARM_COUNT; id++) {
            bool inhibit = id == ALARM_COUNT;
            /* An inhibit is published raised until a tick emits its end,
             * which a removed sensor never gets: past its expiry or not. */
            if (inhibit ? tmp->inhibit_until == T_NONE : tmp->slot[id].st == ALARM_ST_INACTIVE)
                continue;
            if (count == cap) {
                int ncap = cap ? cap * 2 : 8;
                struct alarm_orphan *no = realloc(o, sizeof(*o) * (size_t)ncap);
                if (no == NULL)
                    goto fail;
                o = no;
                cap = ncap;
            }
            struct alarm_orphan *a = &o[count++];
            memset(a, 0, sizeof(*a));
            snprintf(a->sensor, sizeof(a->sensor), "%s", tmp->name);
            a->kind = tmp->kind;
            a->ev.sensor = -1;
            a->ev.alarm = inhibit ? ALARM_INHIBIT : (enum alarm_id)id;
            a->ev.type = ALARM_EV_WITHDRAWN;
            a->ev.active = false;
            a->ev.acked = !inhibit && tmp->slot[id].st == ALARM_ST_ACKED;
            a->ev.severity = inhibit ? ALARM_SEV_INFO : defaults.rule[id].severity;
            a->ev.value = a->ev.threshold = NAN;
            a->ev.unit = "";
            a->ev.mode = eng->mode;
            a->ev.ts_ms = wall_ms;
        }
    }
    free(tmp);
    *out = o;
    return count;
fail:
    free(tmp);
    free(o);
    return -1;
}
