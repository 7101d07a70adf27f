/*
 * alarm: the alarm engine (docs/design.md section 9).  Pure: no I/O, no clock reads,
 * no logging.  Readings and the time (monotonic ms for delays, wall-clock ms
 * for event timestamps) come in as arguments; alarm transitions go out as
 * events into a caller-provided bounded array.  Main thread only.
 * Three files keep this contract: alarm_rules.c (the rules, their defaults
 * and config keys), alarm_engine.c (evaluation), alarm_state.c (the state
 * image); the alarms themselves are the catalogue's (sensors/alarmdef.h).
 *
 * Per (sensor, alarm) lifecycle: inactive -> active -> active+acked, and for
 * latching alarms active -> "returned, latched" until acknowledged.  Events:
 * raised, cleared, acknowledged, test, inhibit_started, inhibit_ended.
 * Sequence numbers are NOT assigned here: the outbox numbers events where it
 * commits them.
 *
 * Config keys (per [sensor], applied by cfg.c through alarm_cfg_set):
 *   {alarm}            threshold  (water_level: % of pit_depth, "70%" or "70";
 *                                  co2: ppm, "2000", "2000ppm" or "0.2%";
 *                                  rising_fast: cm/min; chatter: changes;
 *                                  implausible: largest plausible change between
 *                                  two readings, water_level % / co2 ppm, 0 = off)
 *   {alarm}_clear      clear level (hysteresis)
 *   {alarm}_delay      condition must hold this long before raising ("30s")
 *   {alarm}_clear_delay  clear condition must hold this long before clearing
 *   {alarm}_window     mean over this window (threshold rules; 0 = instantaneous),
 *                      rate window (rising_fast), counting window (chatter)
 *   {alarm}_count      consecutive reads needed (leak, fire, fault, implausible)
 *   {alarm}_severity   critical | major | minor | info
 *   {alarm}_latch      yes | no: stays raised until acknowledged
 *   {alarm}_enabled    yes | no
 *   {mode}_{alarm}[_clear|_delay|_clear_delay]   the same, for one mode only
 *                      (peacetime_, flood_season_, protective_)
 *   warmup             co2 only: alarms suppressed this long after start (180s)
 * A plain key sets every mode that has no mode-specific value; mode-specific
 * values (keys, and the built-in ones: flood_season for water_level, protective
 * for co2 high_high) win regardless of key order.
 *
 * Evaluation rules worth knowing:
 *  - a delay counts from the first reading (or tick) that met the condition,
 *    restarts whenever one does not, and fires at the first evaluation at or
 *    after its end: feed every reading and call alarm_tick every second;
 *  - co2 high (1 h) and high_high (5 min) judge a rolling mean, and only once
 *    its samples span min(window, 10 min); rising_fast judges the slope of a
 *    line through the window's samples from the first two readings on,
 *    raising once it has risen > 2 cm and clearing once a calm spans 2 cm at
 *    the threshold rate; windows are fixed-size rings (1/60 and 1/30 of the
 *    window);
 *  - while a sensor is comm_lost, sends no value, or (co2) warms up, its
 *    process alarms are neither raised nor cleared; an implausible value may
 *    raise them but never clears them; an unseen interval counts toward a
 *    raise delay, never toward a clear delay;
 *  - a latched alarm whose condition is gone stays published as raised (no
 *    event) until acknowledged; the ack then emits acknowledged + cleared.
 */
#ifndef GW_ALARM_H
#define GW_ALARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarmdef.h"
#include "kind.h"
#include "mode.h"

#define ALARM_MODES 3     /* enum gw_mode values */
#define ALARM_NAME_MAX 64 /* sensor names as kept by the engine (CFG_NAME_MAX) */
#define ALARM_KIND_MAX 8  /* most alarms any one kind has (blast_door) */
/* Most events one per-sensor call can produce: one per alarm of the sensor,
 * plus inhibit_ended.  Size `out` for alarm_on_reading, alarm_ack,
 * alarm_inhibit and alarm_test with at least this; alarm_tick and
 * alarm_set_mode need alarm_events_max(eng). */
#define ALARM_SENSOR_EVENTS_MAX (ALARM_KIND_MAX + 1)
#define ALARM_INHIBIT_MAX_MS (7LL * 24 * 3600 * 1000)

/* The alarms, severities, event types, their names and texts and struct
 * alarm_event are the catalogue's: sensors/alarmdef.h. */

/* Lifecycle of one (sensor, alarm).  LATCHED: the condition is gone but the
 * alarm latches; it is still published as raised until acknowledged. */
enum alarm_status { ALARM_ST_INACTIVE, ALARM_ST_ACTIVE, ALARM_ST_ACKED, ALARM_ST_LATCHED };

/* Parameters of one rule.  Units as the config keys above (internal units:
 * water_level %, co2 ppm, cm/min, counts); times in ms. */
struct alarm_rule_cfg {
    bool enabled;
    bool latch;
    enum alarm_severity severity;
    double threshold[ALARM_MODES];
    double clear[ALARM_MODES];
    int64_t delay_ms[ALARM_MODES];
    int64_t clear_delay_ms[ALARM_MODES];
    int64_t window_ms;
    int count;
    unsigned mode_set; /* private to alarm_rules.c: which per-mode values are mode-specific */
};

/* A sensor's alarm parameters; lives in struct cfg_sensor.  Indexed by
 * enum alarm_id; only the rules of `kind` (and comm_lost, implausible) apply. */
struct alarm_cfg {
    enum kind kind;
    int64_t warmup_ms; /* co2 */
    struct alarm_rule_cfg rule[ALARM_COUNT];
};

/* The defaults of docs/design.md section 9 for a kind. */
void alarm_cfg_defaults(enum kind kind, struct alarm_cfg *ac);

/* Apply one config key (see the top of this file) to ac, whose defaults for
 * `kind` must already be set.  Returns 0 ok, -1 invalid value (err says why),
 * 1 key is not an alarm key of this kind (ac untouched). */
int alarm_cfg_set(struct alarm_cfg *ac, enum kind kind, const char *key, const char *value,
                  char *err, size_t errlen);

/* Cross-key checks once a section is complete: clear levels on the right
 * side of thresholds in every mode, at most two mean windows.  0, or -1 with
 * a reason naming the alarm. */
int alarm_cfg_validate(const struct alarm_cfg *ac, char *err, size_t errlen);

/* ---- events ---- */

/* Caller-owned bounded output.  When it is full the engine does NOT make the
 * transition (state unchanged, so the next call makes it again), counts it in
 * `deferred` and the call returns -1 with errno EGW_FULL.  Nothing is dropped. */
struct alarm_events {
    struct alarm_event *ev;
    int cap;
    int n;
    int deferred;
};

/* ---- engine ---- */

/* What the engine needs to know of one sensor (copied by alarm_engine_new). */
struct alarm_sensor {
    const char *name; /* unique; identifies the sensor in saved state */
    enum kind kind;
    double pit_depth_m;          /* water_level: > 0 */
    const struct alarm_cfg *cfg; /* cfg->kind must equal kind */
};

struct alarm_engine;

/* New engine: every alarm inactive, warm-up starting at now_mono_ms, the
 * exercise_overdue count starting now.  Returns NULL with errno EINVAL or
 * EGW_CONFIG (invalid sensor or config), ENOMEM. */
struct alarm_engine *alarm_engine_new(const struct alarm_sensor *sensors, int nsensors,
                                      enum gw_mode mode, int64_t now_mono_ms);
void alarm_engine_free(struct alarm_engine *eng);

/* Evaluate one reading (r->sensor, r->kind must match; r->ts_ms is the wall
 * time of its events).  Returns 0, or -1 with errno EINVAL (bad reading) or
 * EGW_FULL (see struct alarm_events). */
int alarm_on_reading(struct alarm_engine *eng, const struct reading *r, int64_t now_mono_ms,
                     struct alarm_events *out);

/* Time-only rules: delays completing without a new reading, chatter window,
 * open_too_long, exercise_overdue, not_secured, inhibit expiry.  Call at
 * least once a second.  0 or -1 (EGW_FULL). */
int alarm_tick(struct alarm_engine *eng, int64_t now_mono_ms, int64_t wall_ms,
               struct alarm_events *out);
size_t alarm_events_max(const struct alarm_engine *eng); /* enough for any one call */

/* Switch mode: thresholds and rules follow at once, active alarms stay active
 * (they clear only by the new mode's clear condition); entering protective
 * starts the not_secured grace.  0 or -1 (EGW_FULL). */
int alarm_set_mode(struct alarm_engine *eng, enum gw_mode mode, int64_t now_mono_ms,
                   int64_t wall_ms, struct alarm_events *out);
enum gw_mode alarm_mode(const struct alarm_engine *eng);

/* Acknowledge (sensor, alarm) on behalf of `by`.  Returns 0 (acknowledged;
 * a latched alarm whose condition is gone also clears), 1 already
 * acknowledged (no event), -1 with errno EINVAL (no such sensor/alarm),
 * ENOENT (not active), EGW_FULL. */
int alarm_ack(struct alarm_engine *eng, int sensor, enum alarm_id alarm, const char *by,
              int64_t now_mono_ms, int64_t wall_ms, struct alarm_events *out);

/* Inhibit the process alarms of a sensor for duration_ms (maintenance):
 * nothing is raised or cleared meanwhile, delays keep counting, and at the end
 * they are evaluated at once.  comm_lost and implausible are not inhibited.
 * Emits inhibit_started (severity info, until_ms); inhibit_ended at expiry
 * (alarm_tick/on_reading) or at once when duration_ms is 0.  A new inhibit
 * replaces a running one.  0, or -1 with errno EINVAL (duration < 0 or >
 * ALARM_INHIBIT_MAX_MS, no such sensor), ENOENT (duration 0 and no inhibit
 * running), EGW_FULL. */
int alarm_inhibit(struct alarm_engine *eng, int sensor, int64_t duration_ms, const char *by,
                  int64_t now_mono_ms, int64_t wall_ms, struct alarm_events *out);

/* A "test" event for (sensor, alarm) with its current state; no state change. */
int alarm_test(struct alarm_engine *eng, int sensor, enum alarm_id alarm, const char *by,
               int64_t wall_ms, struct alarm_events *out);

/* The movement ("close", "lock", "open", kind.h struct door_step) the last
 * reading of blast door `sensor` completed: 1 with *movement and *travel_s,
 * or 0 (none, or not a door).  For the InfluxDB door point; the engine
 * follows each door's state for chatter and exercise_overdue, so one
 * tracker serves both. */
int alarm_door_movement(const struct alarm_engine *eng, int sensor, const char **movement,
                        double *travel_s);

/* ---- state queries ---- */
enum alarm_status alarm_status(const struct alarm_engine *eng, int sensor, enum alarm_id alarm);
int alarm_active_count(const struct alarm_engine *eng); /* active, acked or latched */
/* The same, by severity: counts[enum alarm_severity] (4 entries), for the status. */
void alarm_active_by_severity(const struct alarm_engine *eng, int counts[4]);
bool alarm_inhibited(const struct alarm_engine *eng, int sensor, int64_t now_mono_ms);
/* co2 readings taken now should be flagged quality warming_up. */
bool alarm_warming_up(const struct alarm_engine *eng, int sensor, int64_t now_mono_ms);

/* ---- persistence ----
 * A versioned byte image of every sensor's state (lifecycle, acks, timers,
 * rolling windows, inhibit), matched on load by sensor name and kind, so it
 * survives config edits; kinds and alarms are saved by name, so it survives
 * a build whose alarm catalogue grew or shrank (docs/design.md section 9.1):
 * an alarm the image does not name starts afresh, a name the build does not
 * know is skipped.  Monotonic times are saved relative to an anchor
 * (a monotonic time that moves every 12 h, with its wall time in the header)
 * and re-based on load with the wall-clock time since then (clamped at 0
 * when the wall clock went back): the time the gateway was down counts as
 * elapsed.  An engine whose state did not change saves the same record
 * bytes, so the outbox writes nothing for it.  On load
 * nothing is re-raised; raise delays keep their start (an unseen interval
 * counts toward raising), clear delays restart (it never counts toward
 * clearing); each sensor waits for a fresh reading before being evaluated.
 * Call alarm_state_load right after alarm_engine_new. */
size_t alarm_state_size(const struct alarm_engine *eng);
/* Returns the bytes written, or -1 with errno ENOSPC (len too small). */
int alarm_state_save(const struct alarm_engine *eng, int64_t now_mono_ms, int64_t wall_ms,
                     void *buf, size_t len);
/* Returns the number of sensors restored (saved sensors no longer configured
 * are skipped: see alarm_state_orphans for their raised alarms), or -1 with
 * errno EINVAL (not an engine image, a version this build cannot read,
 * truncated or corrupt); the engine is unchanged on -1.  Reads every version
 * saved since the image had one (1, 2); saves the newest. */
int alarm_state_load(struct alarm_engine *eng, const void *buf, size_t len, int64_t now_mono_ms,
                     int64_t wall_ms);

/* A raised alarm the engine can no longer clear: its sensor is in the saved
 * image but no longer configured (removed, or now of another kind), and the
 * alarm was active, acknowledged or latched, or (ALARM_INHIBIT) an inhibit
 * had not been ended (a tick ends it after its expiry; a removed sensor never
 * gets one).  Without a withdrawal its retained message would stay
 * raised at the centre for ever.  ev is the withdrawal event: type
 * ALARM_EV_WITHDRAWN, sensor -1 (the name is here), not active, the kind's
 * default severity (the overrides went with the configuration).  An alarm
 * or kind this build does not know cannot be named, so it has no orphan. */
struct alarm_orphan {
    char sensor[ALARM_NAME_MAX];
    enum kind kind;
    struct alarm_event ev;
};

/* The orphans of a state image for the engine eng (made for the new
 * configuration; the image is the one given or to be given to
 * alarm_state_load).  Returns how many, with *out malloc'd (NULL for none;
 * the caller frees), or -1 with errno EINVAL (as alarm_state_load) or ENOMEM. */
int alarm_state_orphans(const struct alarm_engine *eng, const void *buf, size_t len,
                        int64_t now_mono_ms, int64_t wall_ms, struct alarm_orphan **out);

#endif
