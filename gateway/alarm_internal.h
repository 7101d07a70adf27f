/*
 * alarm_internal: what the alarm engine's three files share, and no other
 * module includes: the shape of the rule table (alarm_rules.c fills it), the
 * per-sensor state (alarm_engine.c evaluates it, alarm_state.c saves and
 * loads it) and their limits.  The contract is alarm.h.
 */
#ifndef GW_ALARM_INTERNAL_H
#define GW_ALARM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "alarm.h"

#define T_NONE INT64_MIN /* "not since": an unset time */
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

#define MEANS_MAX 2 /* rules per sensor that may use a mean window */
#define MEAN_BUCKETS                                                                               \
    64 /* >= MEAN_PER_WINDOW + 1 (alarm_engine.c: buckets overlapping the window) */
#define RATE_SAMPLES 32 /* > RATE_PER_WINDOW (alarm_engine.c): the ring reaches a window back */
#define CHATTER_MAX 32  /* door changes remembered; chatter threshold < this */
#define COUNT_MAX 1000000

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

/* What the engine asks of an alarm's rule (alarm_rules.c's table): its type,
 * the field of the kind's readings it judges (RT_RATE, RT_STATE; NULL: the
 * kind's value or none) and the state that meets it (RT_STATE). */
enum rule_type alarm_rule_type(enum alarm_id id);
const char *alarm_rule_field(enum alarm_id id);
int alarm_rule_state(enum alarm_id id);

/* Are the levels of alarm id for a kind percentages of the pit depth
 * (water_level), shown in metres in events? */
bool alarm_rule_in_pit_pct(enum kind kind, enum alarm_id id);

/* Are the levels of the kind's rules percentages of a pit depth
 * (water_level: its events show metres, its sensors need a pit_depth)? */
bool alarm_pct_of_pit(enum kind kind);

/* The unit of the value and threshold in an event of alarm id for a kind:
 * the catalogue's, the kind's own for implausible. */
const char *alarm_event_unit(enum kind kind, enum alarm_id id);

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
    const struct kind_field *field[ALARM_COUNT]; /* alarm_rule_field() of this kind */
    /* the last reading: not saved, a restored sensor waits for a fresh one */
    bool have; /* a reading since start or load */
    bool comm_lost;
    bool warming;
    bool implausible;
    enum trust trust;
    struct reading last; /* the last one with values: what the rules judge */
    double value;        /* the kind's value (kind.h): water_level % of pit depth, co2 ppm */
    bool over_range;     /* the value is "at least" */
    int64_t last_t;
    bool jump_have; /* previous good value for the jump check */
    double jump_v;
    int64_t jump_t;
    struct door_step step; /* what the last reading did to the door */
    /* saved */
    int64_t inhibit_until; /* mono, T_NONE */
    char inhibit_by[ALARM_BY_MAX];
    struct door_track door; /* blast_door: its state changes and cycles (saved), movements */
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

#endif
