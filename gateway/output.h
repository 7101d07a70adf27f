/*
 * output: the pure core of the on-site warning outputs (联动, docs/design.md
 * section 21): which relay outputs (a siren, an LED sign, a pump contactor)
 * are on, from the alarm state and the time.  No I/O, no clock, no logging:
 * the alarm statuses come through the caller's lookup, the monotonic time as
 * an argument.  Main thread only (a set belongs to one thread).
 *
 * An output is switched on while any alarm of its `on` list holds it:
 *  - until = cleared (a pump, a sign): while the alarm is active, acknowledged
 *    or not (a latched alarm is active until acknowledged);
 *  - until = acked (a siren): while it is active and not acknowledged, so it
 *    goes quiet once every alarm holding it is acknowledged, and sounds again
 *    when a new one is raised (or one that cleared is raised again).
 * A silence (cmd/silence) turns it off now: every alarm active at that
 * moment stops holding it until it has cleared; a new alarm sets it again,
 * as a fire panel's silence does.  min_on keeps it on at least that long
 * after an alarm first set it (against the alarm going away, not against a
 * silence).  A test pulse (cmd/test with outputs) turns every output on for
 * OUTPUT_TEST_MS, whatever holds it.
 */
#ifndef GW_OUTPUT_H
#define GW_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "alarm.h"

#define OUTPUT_TEST_MS 5000 /* the yearly test's pulse */
#define OUTPUT_BY_MAX 64    /* who silenced it, NUL included */

enum output_until { OUTPUT_UNTIL_CLEARED, OUTPUT_UNTIL_ACKED };

/* One alarm that switches an output on: (sensor, alarm) of the engine.  The
 * name identifies the sensor across a reload (its index may change). */
struct output_src {
    int sensor; /* index into the engine's sensors */
    enum alarm_id alarm;
    const char *sensor_name; /* borrowed: copied by output_set_new */
};

/* What the core needs of one output; copied by output_set_new. */
struct output_spec {
    const char *name; /* unique; identifies the output across a reload */
    enum output_until until;
    int64_t min_on_ms;
    const struct output_src *src;
    int nsrc;
};

/* The status of (sensor, alarm) in the alarm engine: the caller's lookup. */
typedef enum alarm_status (*output_status_fn)(void *ctx, int sensor, enum alarm_id alarm);

/* Output i after the last evaluation. */
struct output_state {
    bool on;                         /* what the relay should be */
    bool demand;                     /* an alarm holds it and is not silenced */
    bool silenced;                   /* an alarm would hold it, but it was silenced */
    bool test;                       /* in a test pulse */
    bool min_on;                     /* on only because of min_on */
    int64_t since_ms;                /* monotonic: when `on` last changed (0: never evaluated) */
    char silenced_by[OUTPUT_BY_MAX]; /* the last silence's, "" when none */
};

struct output_set;

/* A set of n outputs, every one off and not yet evaluated.  NULL with errno
 * EINVAL (a name missing or twice, nsrc < 0, until unknown, min_on < 0) or
 * ENOMEM. */
struct output_set *output_set_new(const struct output_spec *specs, int n);
void output_set_free(struct output_set *os); /* NULL is a no-op */

int output_count(const struct output_set *os);

/* Evaluate every output at now_ms.  Returns how many changed `on`. */
int output_eval(struct output_set *os, output_status_fn status, void *ctx, int64_t now_ms);

const struct output_state *output_state(const struct output_set *os, int i);

/* Does source j of output i hold it now (the published reason)? */
bool output_src_holds(const struct output_set *os, int i, int j);

/* Silence output i: off now (its min_on and any test pulse end), and every
 * alarm of its list active now holds it no more until it has cleared.
 * 0, or -1 with errno ENOENT when the output is off and no alarm of its list
 * is active (nothing to silence), EINVAL for no such output. */
int output_silence(struct output_set *os, int i, const char *by, output_status_fn status, void *ctx,
                   int64_t now_ms);

/* Pulse every output on for OUTPUT_TEST_MS from now (then evaluate). */
void output_test(struct output_set *os, output_status_fn status, void *ctx, int64_t now_ms);

/* Milliseconds from now until a timer of some output ends (min_on, a test
 * pulse), at most cap_ms, at least 0. */
int64_t output_next_ms(const struct output_set *os, int64_t now_ms, int64_t cap_ms);

/* A reload: give `to` (for the new configuration) what `from` knew of each
 * output of the same name: its state, min_on and test timers, and the
 * silences of the alarms (by sensor name and alarm) both list.  Call before
 * the first output_eval of `to`. */
void output_set_carry(struct output_set *to, const struct output_set *from);

#endif
