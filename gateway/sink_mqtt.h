/*
 * sink_mqtt: the MQTT uplink as a sink of outbox records (sink.h) over the
 * one MQTT client (lib/mqtt.h), docs/design.md sections 10, 14.  It owns the
 * client: set up (files checked first), set up afresh after a refusal or a
 * long outage, never fatal; the retained status (on connect, on changes,
 * every heartbeat) and the will; the events:
 * publish results become confirmations, a connect starts the sync (sync.h),
 * messages go to the sync or to the command intake (intake.h).  At most
 * SINK_MQTT_WINDOW outbox records are in flight.  Main thread only.
 */
#ifndef GW_SINK_MQTT_H
#define GW_SINK_MQTT_H

#include <stdbool.h>
#include <stdint.h>

#include "mode.h"

struct cfg;
struct command;
struct selfalarm;
struct sync;
struct sink;
struct sink_mqtt;

/* Outbox records in flight: under mosquitto's Receive Maximum (20). */
#define SINK_MQTT_WINDOW 16

/* Set the client up (not connected before the sink's start()) when [mqtt]
 * is configured; a client that cannot be is retried (sa is told).  sa and sy
 * are not owned; sy gates the hand-out (struct sink's sync).  NULL: ENOMEM. */
struct sink_mqtt *sink_mqtt_new(const struct cfg *c, struct selfalarm *sa, struct sync *sy,
                                enum gw_mode mode);
/* Disconnect (the broker publishes the will: offline) and free; what is in
 * flight stays in the outbox.  NULL is a no-op. */
void sink_mqtt_free(struct sink_mqtt *sm);
struct sink *sink_mqtt_sink(struct sink_mqtt *sm);

/* Take the client's events: publish results, (re)connects, sync messages,
 * commands.  Each valid command is returned through *cmd (1); 0 when no
 * event is left.  Malformed commands are answered here and not returned. */
int sink_mqtt_next_command(struct sink_mqtt *sm, struct command *cmd);
/* Answer a command on cmd_result. */
void sink_mqtt_reply(struct sink_mqtt *sm, const struct command *cmd, bool ok, const char *error);
/* The retained status again, when connected: after a mode change, a reload. */
void sink_mqtt_set_mode(struct sink_mqtt *sm, enum gw_mode mode);
void sink_mqtt_set_cfg(struct sink_mqtt *sm, const struct cfg *c);
/* The active alarms by severity (enum alarm_severity, 4 entries): a change
 * publishes the status again (at most every 2 s). */
void sink_mqtt_set_alarms(struct sink_mqtt *sm, const int counts[4]);

bool sink_mqtt_connected(const struct sink_mqtt *sm);
int sink_mqtt_inflight(const struct sink_mqtt *sm); /* outbox records not yet answered */
/* The client's descriptor, -1 when none. */
int sink_mqtt_fd(const struct sink_mqtt *sm);
void sink_mqtt_stats(const struct sink_mqtt *sm, uint64_t *published, uint64_t *failures);

#endif
