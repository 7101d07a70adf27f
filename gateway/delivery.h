/*
 * delivery: the cycle that gets every alarm transition and reading from the
 * main loop to the outputs, through the durable outbox (docs/design.md
 * sections 1, 3, 11).
 *
 * A cycle: the main loop queues engine events and readings, then commits:
 * the alarm payloads get their seq, and the alarms, the engine state and the
 * telemetry are written in one outbox transaction BEFORE anything is handed
 * to a sink.  Then each sink (sink.h: MQTT, InfluxDB) is offered what is
 * pending, alarms first, as much as it takes now; a record is deleted when
 * every sink it was addressed to confirmed it.
 *
 * delivery_open() wires the gateway's own parts: the outbox (storage.h),
 * the gateway alarms (selfalarm.h), the MQTT sink with its sync and command
 * intake, the InfluxDB sink.  delivery_new() takes them from the caller (the
 * unit test's fake sinks).  Main thread only.
 */
#ifndef GW_DELIVERY_H
#define GW_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarm.h"
#include "command.h"
#include "kind.h"

struct cfg;
struct delivery;
struct outbox;
struct selfalarm;
struct sink;

/* Open {state_dir}/outbox.db and prepare the MQTT client (not connected
 * yet) and the InfluxDB writer.  NULL with a reason in err. */
struct delivery *delivery_open(const struct cfg *c, char *err, size_t errlen);

/* The cycle alone over parts the caller made and keeps (the outbox, the
 * gateway alarms, nsinks sinks, at most SINK_COUNT, one per sink number):
 * delivery_close() frees none of them.  c->influx.enabled says whether
 * records are also addressed to SINK_INFLUX.  NULL: ENOMEM. */
struct delivery *delivery_new(const struct cfg *c, struct outbox *ob, struct selfalarm *sa,
                              struct sink *const *sinks, int nsinks);

/* Write what is pending and close; disconnects (the broker then publishes the
 * will: offline).  Does not commit what is queued (delivery_run(force) does).
 * NULL is a no-op. */
void delivery_close(struct delivery *d);

/* The engine state and the mode stored by the last run (restart safety).
 * state: malloc'd, caller frees; NULL when none.  mode: unchanged when none. */
int delivery_restore(struct delivery *d, void **state, size_t *len, enum gw_mode *mode);

/* Start connecting to the broker. */
int delivery_start(struct delivery *d);

/* The fds to poll for POLLIN (MQTT events, InfluxDB writer): fills fds,
 * returns how many (0..SINK_COUNT, i.e. 2).  When one is readable call delivery_next_command()
 * and delivery_run(). */
int delivery_fds(const struct delivery *d, int fds[2]);

/* Milliseconds until delivery needs a call to delivery_run() without any fd
 * event (batched commit, publish retry), capped at cap_ms. */
int delivery_timeout_ms(const struct delivery *d, int cap_ms);

/* Queue one engine event for this cycle's commit (copied). */
int delivery_queue_event(struct delivery *d, const struct alarm_event *ev);

/* Withdraw an alarm whose sensor left the configuration: a "cleared" with
 * reason "sensor_removed", committed at once, so it is durable before the
 * engine state without that sensor is.  Logged like a transition ("ALARM
 * withdrawn ...").  0, or -1 (ENOMEM: not queued; the caller must not commit
 * a state image without the sensor). */
int delivery_withdraw(struct delivery *d, const struct alarm_orphan *o);

/* Offer a reading: published on change beyond the kind's deadband, on a
 * quality change, and at least every minute; else ignored. */
int delivery_queue_reading(struct delivery *d, const struct reading *r, int64_t now_ms);

/* Offer a blast door's movement (alarm_door_movement) for InfluxDB; a
 * no-op without [influx]. */
int delivery_queue_movement(struct delivery *d, int sensor, const char *movement, double travel_s,
                            int64_t ts_ms);

/* Queue an on-site output's state (docs/design.md section 19): json
 * retained with QoS 1 on output/{name}, and the `output` point line for
 * InfluxDB (NULL: none).  Telemetry: committed with the cycle. */
int delivery_queue_output(struct delivery *d, const char *name, const char *json, const char *line,
                          int64_t ts_ms);

/* Raise (with why) or clear {output}/output_fault (major) now, as its own
 * commit.  0, or -1 (ENOMEM; logged). */
int delivery_output_fault(struct delivery *d, const char *output, const char *location, bool raised,
                          const char *why);

/* Is sensor/alarm raised in the current alarm state the outbox holds (the
 * last run's, at start)? */
bool delivery_alarm_active(struct delivery *d, const char *sensor, const char *alarm);

/* Commit the cycle if it has alarms (at once) or telemetry and confirmations
 * (batched, at most once a second), with the engine state; then hand what
 * is pending to the sinks.  state may be NULL (keep the stored one).  force: commit now
 * whatever is queued (shutdown).  Returns 0, or -1 when the outbox failed
 * (logged; alarms are kept in memory and retried). */
int delivery_run(struct delivery *d, const void *state, size_t state_len, bool force);

/* Does the next delivery_run want the engine state (saved at least every
 * 10 min and with every alarm commit; the outbox writes only what changed)? */
bool delivery_wants_state(const struct delivery *d);

/* Take MQTT events: confirmations, (re)connects, commands.  Each valid
 * command is returned through *cmd (1), 0 when none is left.  Malformed
 * commands are answered with an error here and not returned. */
int delivery_next_command(struct delivery *d, struct command *cmd);

/* Answer a command on cmd_result. */
void delivery_reply(struct delivery *d, const struct command *cmd, bool ok, const char *error);

/* Publish the retained status again (after a mode change). */
void delivery_set_mode(struct delivery *d, enum gw_mode mode);

/* The engine's active alarms by severity (enum alarm_severity, 4 entries;
 * alarm_active_by_severity()): the status counts them with the gateway's
 * own, and is published again when they change. */
void delivery_set_alarm_counts(struct delivery *d, const int counts[4]);

/* Queue the `gateway` health point for InfluxDB (the delivery figures are
 * filled in here); a no-op without [influx]. */
struct health;
int delivery_queue_health(struct delivery *d, struct health *h);

/* SIGHUP: use configuration c from now on (sensors, buses, alarm
 * parameters, name, language).  Refused (-1, why) when the gateway's identity,
 * state_dir, [mqtt] or [influx] changed: those need a restart.  Call after
 * delivery_run(force) so nothing of the old configuration is queued. */
int delivery_reconfigure(struct delivery *d, const struct cfg *c, char *why, size_t len);

/* Health figures for the gateway measurement. */
struct delivery_stats {
    bool connected;
    int64_t pending_alarms, pending_telemetry, telemetry_dropped;
    uint64_t published, publish_failures;
    bool disk_failed;
};
void delivery_get_stats(const struct delivery *d, struct delivery_stats *st);

#endif
