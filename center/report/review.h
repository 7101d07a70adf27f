/*
 * review: the sections of a review (docs/design.md section 19) as a pure
 * model: the InfluxQL statements it needs in, their answers out, report data
 * at the end.  No I/O, no clock: the caller runs each round's statements and
 * hands back the answer, and passes "now".
 *
 *     struct review *rv = review_new(&opts);
 *     while ((n = review_next(rv, stream)) > 0)   // stream: the round's statements
 *         review_take(rv, answer_of(stream), err, errlen);
 *
 * Rounds: the first asks everything that is one statement per section,
 * aggregated in InfluxDB (count, last, mean GROUP BY time and tags); later
 * rounds ask per alarm or per door what depends on the first (a flood's
 * peak between its raise and clear, a door's last full exercise cycle looked
 * up before the period).  Raw readings are never fetched.
 *
 * Sections (JSON keys of docs/design.md section 19, all times Unix ms, 0 = null):
 * door_faults, door_faults_by_child, door_fault_times, exercise_overdue,
 * door_travel, floods, co2_events, smoke_events, availability.
 * An object belongs to one thread.
 */
#ifndef GW_REVIEW_H
#define GW_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "iql.h"
#include "period.h"

#define REVIEW_OVERDUE_DAYS 31   /* doors must be exercised monthly (design 9) */
#define REVIEW_LOOKBACK_DAYS 400 /* how far back a door's last exercise is looked for */
#define REVIEW_CREEP_RATIO 1.15  /* travel 15 % slower at the end: creeping */
#define REVIEW_CREEP_MIN_S 0.5   /* ... and at least this much slower */
#define REVIEW_TEXT_MAX 256

struct review_opts {
    struct topic_subtree subtree;
    struct period period;
    int64_t now_ms; /* the time the review is made: nothing is expected after it */
};

/* Where a series belongs: the six levels, and the sensor. */
struct review_site {
    char level[IQL_LEVELS][IQL_SLUG_MAX];
    char sensor[IQL_SLUG_MAX];
};

/* One alarm from its raise: door faults, floods, CO2 and smoke events. */
struct review_episode {
    struct review_site site;
    char alarm[IQL_SLUG_MAX], kind[IQL_SLUG_MAX];
    char location[REVIEW_TEXT_MAX], by[REVIEW_TEXT_MAX];
    int64_t raised, acked, cleared; /* 0: not (yet) in the period */
    double peak;                    /* floods: peak_m; co2: ppm; NAN: unknown */
};

struct review_overdue {
    struct review_site site;
    char location[REVIEW_TEXT_MAX];
    int64_t last_exercise; /* 0: no full cycle in the lookback */
};

struct review_day {
    int64_t day_ms; /* start of the day in the period's zone */
    double mean_s;
    int count;
};

struct review_travel {
    struct review_site site;
    char location[REVIEW_TEXT_MAX];
    const char *movement; /* "open" | "close" | "lock" */
    double first_s, last_s;
    int count; /* movements in the period */
    bool creeping;
    struct review_day *days; /* daily means, oldest first */
    int ndays;
};

struct review_avail {
    struct review_site site; /* sensor "" */
    long health_points;
    int64_t first_seen; /* its first health point ever (before --to) */
    double online_pct;
    int64_t offline_s;   /* minutes without a health point */
    int64_t comm_lost_s; /* summed over the shelter's sensors */
};

struct review_child {
    char slug[IQL_SLUG_MAX];
    int door_faults, floods, shelters;
};

struct review_times {
    int faults, acked, cleared;
    double ack_median_s, ack_worst_s, clear_median_s, clear_worst_s; /* NAN: none */
};

struct review {
    struct review_opts opts;
    struct review_episode *door_faults, *floods, *co2, *smoke;
    int ndoor_faults, nfloods, nco2, nsmoke;
    struct review_overdue *overdue;
    int noverdue;
    struct review_travel *travel;
    int ntravel;
    struct review_avail *avail;
    int navail;
    struct review_child *children;
    int nchildren;
    struct review_times door_times;
    int doors;          /* door sensors that reported in the period */
    long health_points; /* all shelters */
    void *priv;         /* the rounds' state */
};

struct review *review_new(const struct review_opts *opts);
void review_free(struct review *rv);

/* Write the next round's statements (';'-separated) to f.  Returns how
 * many (0: the review is complete), or -1 on ENOMEM. */
int review_next(struct review *rv, FILE *f);

/* Take the answer to the round review_next() wrote.  0, or -1 with a
 * reason (a statement's error, an answer of the wrong shape). */
int review_take(struct review *rv, const cJSON *answer, char *err, size_t errlen);

/* After the last round: did the subtree write anything in the period?
 * 0 when it did; else -1 with a message for people (no shelter known under
 * the subtree, or none of them wrote in the period). */
int review_has_data(const struct review *rv, char *err, size_t errlen);

/* The alarm's location parsed from its message: the gateway writes
 * "SENSOR（LOCATION）：..." (zh) or "SENSOR (LOCATION): ..." (en).  ""
 * when there is none.  For history written before alarms carried it. */
void review_location_from_message(const char *message, const char *sensor, char *buf, size_t len);

/* The precision every output shows (JSON, CSV and HTML carry the same
 * numbers): travel times and percentages 0.01, water levels 1 mm, CO2 1 ppm,
 * durations whole seconds. */
#define REVIEW_DIGITS_S 2
#define REVIEW_DIGITS_PCT 2
#define REVIEW_DIGITS_M 3
#define REVIEW_DIGITS_PPM 0
double review_round(double v, int digits);

/* Helpers for the renderers. */
const char *review_child_key(const struct review *rv);
const char *review_child_of(const struct review *rv, const struct review_site *s);

#endif
