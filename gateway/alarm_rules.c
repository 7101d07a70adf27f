/*
 * alarm_rules: the rules of the alarm engine (see alarm.h): one row of
 * rule_defs per alarm with its type, the config keys it takes and its
 * defaults (docs/design.md section 9; names, kinds, severities and texts are
 * the catalogue's, sensors/alarmdef.c), the implausible rule per kind, and
 * the config keys of a [sensor] section that override them (alarm_cfg_set):
 * {alarm}, {alarm}_clear, _delay, ..., per mode with a mode prefix.
 *
 * Pure: no I/O, no clock.  Main thread (the config loader).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alarm_internal.h"
#include "parse.h"

#define DELAY_MAX_MS (400 * DAY)

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

/* The rule of one alarm; its name, kind, default severity, comparison and
 * event unit are the catalogue's (sensors/alarmdef.h). */
struct rule_def {
    enum rule_type type;
    unsigned params;  /* PB() of the keys the config may set */
    enum vunit vunit; /* of threshold and clear in the config */
    /* RT_RATE, RT_STATE: the field of the kind's readings it judges (kind.h;
     * RT_LEVEL judges the kind's value), and for RT_STATE the state that
     * meets the condition */
    const char *field;
    int state;
    struct {
        double thr[ALARM_MODES], clr[ALARM_MODES];
        int64_t delay[ALARM_MODES], clear_delay[ALARM_MODES];
        int64_t window;
        int count;
        bool latch;
    } def;
};

/* The rule table reads best as a table. */
/* clang-format off */
#define ALL3(x) {x, x, x}
/* peacetime, flood_season, protective */
#define MODES3(p, f, x) {p, f, x}

/* docs/design.md section 9. */
static const struct rule_def rule_defs[ALARM_COUNT] = {
    [ALARM_COMM_LOST] = {RT_COMM, P_BASIC, VU_NONE, .def = {.count = 1}},
    /* threshold = largest plausible change between two readings (0 = off),
     * kind dependent: kind_rules */
    [ALARM_IMPLAUSIBLE] = {RT_IMPLAUSIBLE, P_BASIC | P_TIMES | PB(P_THRESHOLD) | PB(P_COUNT),
                           VU_NONE, .def = {.clear_delay = ALL3(60 * SEC), .count = 1}},
    [ALARM_WL_HIGH] = {RT_LEVEL, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PCT,
                       .def = {.thr = MODES3(70, 60, 70), .clr = MODES3(65, 55, 65),
                               .delay = MODES3(30 * SEC, 15 * SEC, 30 * SEC),
                               .clear_delay = MODES3(60 * SEC, 30 * SEC, 60 * SEC), .count = 1}},
    [ALARM_WL_HIGH_HIGH] = {RT_LEVEL, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PCT,
                            .def = {.thr = MODES3(90, 80, 90), .clr = MODES3(85, 75, 85),
                                    .delay = MODES3(10 * SEC, 5 * SEC, 10 * SEC), .count = 1}},
    [ALARM_WL_RISING_FAST] = {RT_RATE, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_CM_MIN,
                              "level_m",
                              .def = {.thr = ALL3(5), .clr = ALL3(3), .window = 3 * MIN,
                                      .count = 1}},
    [ALARM_LEAK] = {RT_STATE, P_BASIC | P_TIMES | PB(P_COUNT), VU_NONE, "wet", 1,
                    .def = {.delay = ALL3(5 * SEC), .clear_delay = ALL3(60 * SEC), .count = 1}},
    [ALARM_CO2_HIGH] = {RT_LEVEL, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PPM,
                        .def = {.thr = ALL3(1000), .clr = ALL3(900), .window = HOUR, .count = 1}},
    [ALARM_CO2_HIGH_HIGH] = {RT_LEVEL, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PPM,
                             .def = {.thr = MODES3(2000, 2000, 25000),
                                     .clr = MODES3(1800, 1800, 22500), .window = 5 * MIN,
                                     .count = 1}},
    [ALARM_CO2_CRITICAL] = {RT_LEVEL, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_PPM,
                            /* protective: a sealed shelter tolerates 2.5% (high_high), so
                             * critical is the 4% NIOSH IDLH, not 5000 ppm */
                            .def = {.thr = MODES3(5000, 5000, 40000),
                                    .clr = MODES3(4500, 4500, 36000), .delay = ALL3(60 * SEC),
                                    .count = 1}},
    [ALARM_CO2_OVER_RANGE] = {RT_OVER_RANGE, P_BASIC | P_TIMES, VU_NONE, .def = {.count = 1}},
    [ALARM_DOOR_DISAGREE] = {RT_DISAGREE, P_BASIC | P_TIMES, VU_NONE,
                             .def = {.delay = ALL3(2 * SEC), .count = 1}},
    [ALARM_DOOR_CHATTER] = {RT_CHATTER, P_BASIC | P_TIMES | P_LEVELS | PB(P_WINDOW), VU_COUNT,
                            .def = {.thr = ALL3(10), .clr = ALL3(3), .window = 60 * SEC,
                                    .count = 1}},
    [ALARM_DOOR_NOT_SECURED] = {RT_NOT_SECURED, P_BASIC | P_TIMES, VU_NONE,
                                .def = {.delay = ALL3(60 * SEC), .count = 1}},
    [ALARM_DOOR_OPEN_TOO_LONG] = {RT_DOOR_OPEN, P_BASIC | P_TIMES, VU_NONE,
                                  .def = {.delay = ALL3(10 * MIN), .count = 1}},
    [ALARM_DOOR_CLOSED_NOT_LOCKED] = {RT_DOOR_CLOSED, P_BASIC | P_TIMES, VU_NONE,
                                      .def = {.delay = ALL3(5 * MIN), .count = 1}},
    [ALARM_DOOR_EXERCISE_OVERDUE] = {RT_EXERCISE, P_BASIC | PB(P_DELAY), VU_NONE,
                                     .def = {.delay = ALL3(31 * DAY), .count = 1}},
    [ALARM_SMOKE_FIRE] = {RT_STATE, P_BASIC | P_TIMES | PB(P_COUNT), VU_NONE, "smoke", SMOKE_FIRE,
                          .def = {.count = 2, .latch = true}},
    [ALARM_SMOKE_FAULT] = {RT_STATE, P_BASIC | P_TIMES | PB(P_COUNT), VU_NONE, "smoke",
                           SMOKE_FAULT, .def = {.count = 3}},
};
/* The implausible rule per kind: the config unit of its threshold, its
 * default, the largest plausible change of the kind's value (kind.h) between
 * two readings (0: no jump check), and the unit of its events' values. */
static const struct kind_rules {
    enum vunit vunit;
    double jump;
    const char *unit;
} kind_rules[KIND_COUNT] = {
    [KIND_WATER_LEVEL] = {VU_PCT, 50, "m"},
    [KIND_CO2] = {VU_PPM, 3000, "ppm"},
};
/* clang-format on */

void alarm_cfg_defaults(enum kind kind, struct alarm_cfg *ac)
{
    memset(ac, 0, sizeof(*ac));
    ac->kind = kind;
    ac->warmup_ms = (unsigned)kind < KIND_COUNT ? kind_def(kind)->warmup_ms : 0;
    for (int id = 0; id < ALARM_COUNT; id++) {
        const struct rule_def *d = &rule_defs[id];
        struct alarm_rule_cfg *rc = &ac->rule[id];
        rc->enabled = alarm_applies(kind, (enum alarm_id)id);
        rc->latch = d->def.latch;
        rc->severity = alarm_def((enum alarm_id)id)->severity;
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
    double jump = (unsigned)kind < KIND_COUNT ? kind_rules[kind].jump : 0;
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

/* The config unit of a rule's levels for a kind (implausible: the kind's). */
static enum vunit level_unit(enum kind kind, enum alarm_id id)
{
    if (id == ALARM_IMPLAUSIBLE)
        return (unsigned)kind < KIND_COUNT ? kind_rules[kind].vunit : VU_NONE;
    return rule_defs[id].vunit;
}

bool alarm_pct_of_pit(enum kind kind)
{
    for (int id = 0; id < ALARM_COUNT; id++)
        if (alarm_applies(kind, (enum alarm_id)id) && level_unit(kind, (enum alarm_id)id) == VU_PCT)
            return true;
    return false;
}

/* Find `{alarm}{suffix}` in key among the alarms of kind. */
static int match_key(enum kind kind, const char *key, enum alarm_id *id, enum param *p)
{
    for (int a = 0; a < ALARM_COUNT; a++) {
        const char *name = alarm_name((enum alarm_id)a);
        size_t n = strlen(name);
        if (!alarm_applies(kind, (enum alarm_id)a) || strncmp(key, name, n) != 0)
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
    if ((unsigned)kind < KIND_COUNT && kind_def(kind)->warmup_ms > 0 && strcmp(key, "warmup") == 0)
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
        snprintf(err, errlen, "%s has no %s", alarm_name(id),
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
        const char *name = alarm_name((enum alarm_id)id);
        bool strict = alarm_is_strict((enum alarm_id)id);
        if (!alarm_applies(ac->kind, (enum alarm_id)id))
            continue;
        if (rc->count < 1 || rc->count > 100 || (unsigned)rc->severity > ALARM_SEV_INFO) {
            snprintf(err, errlen, "%s: count or severity out of range", name);
            return -1;
        }
        for (int m = 0; m < ALARM_MODES; m++) {
            if (rc->delay_ms[m] < 0 || rc->delay_ms[m] > DELAY_MAX_MS ||
                rc->clear_delay_ms[m] < 0 || rc->clear_delay_ms[m] > DELAY_MAX_MS) {
                snprintf(err, errlen, "%s: delay out of range", name);
                return -1;
            }
            if (!(d->params & PB(P_CLEAR)))
                continue;
            double thr = rc->threshold[m], clr = rc->clear[m];
            if (!isfinite(thr) || !isfinite(clr) || (strict ? clr > thr : clr >= thr)) {
                snprintf(err, errlen, "%s_clear (%g) must be %s %s (%g) in %s mode", name, clr,
                         strict ? "at most" : "below", name, thr, mode_name((enum gw_mode)m));
                return -1;
            }
        }
        if (d->type == RT_LEVEL && rc->window_ms != 0) {
            if (rc->window_ms < MIN || rc->window_ms > 24 * HOUR) {
                snprintf(err, errlen, "%s_window out of range", name);
                return -1;
            }
            nwindows++;
        }
        if ((d->type == RT_RATE || d->type == RT_CHATTER) &&
            (rc->window_ms < SEC || rc->window_ms > HOUR)) {
            snprintf(err, errlen, "%s_window out of range", name);
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

const char *alarm_event_unit(enum kind kind, enum alarm_id id)
{
    if (id == ALARM_IMPLAUSIBLE && (unsigned)kind < KIND_COUNT && kind_rules[kind].unit != NULL)
        return kind_rules[kind].unit;
    return alarm_def(id)->unit;
}

enum rule_type alarm_rule_type(enum alarm_id id)
{
    return rule_defs[id].type;
}

const char *alarm_rule_field(enum alarm_id id)
{
    return rule_defs[id].field;
}

int alarm_rule_state(enum alarm_id id)
{
    return rule_defs[id].state;
}

bool alarm_rule_in_pit_pct(enum kind kind, enum alarm_id id)
{
    return level_unit(kind, id) == VU_PCT;
}
