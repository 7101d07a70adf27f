/*
 * selfalarm: the gateway's own alarms, alarm/gateway/NAME (docs/design.md
 * sections 9, 13, 14): `disk` (the outbox's storage), `uplink` (MQTT) and
 * `influx` (the InfluxDB writer).  Each is one alarm message committed as its
 * own outbox transaction at once, like any alarm; so is a withdrawal
 * (selfalarm_commit).  The outputs report how they fare (working, down,
 * failing); uplink.c decides when that raises or clears, selfalarm_tick()
 * does it.  Main thread only.
 */
#ifndef GW_SELFALARM_H
#define GW_SELFALARM_H

#include <stdbool.h>
#include <stdint.h>

#include "mode.h"

struct cfg;
struct outbox;
struct alarm_msg;
struct selfalarm;

enum selfalarm_id { SELF_DISK, SELF_UPLINK, SELF_INFLUX, SELF_COUNT };

/* For the outbox ob (not owned).  Restores the uplink and influx alarms'
 * state of the last stop (outbox meta); memory_only: the outbox lives in
 * memory, so gateway/disk is never cleared in this run.  NULL: ENOMEM. */
struct selfalarm *selfalarm_new(const struct cfg *c, struct outbox *ob, enum gw_mode mode,
                                bool memory_only);
void selfalarm_free(struct selfalarm *sa); /* NULL is a no-op */

/* A reload (language, name) and a mode change: the messages from now on. */
void selfalarm_set_cfg(struct selfalarm *sa, const struct cfg *c);
void selfalarm_set_mode(struct selfalarm *sa, enum gw_mode mode);

/* One alarm message as its own outbox transaction (MQTT, and InfluxDB when
 * configured), logged like the engine's transitions ("ALARM what ...").  When
 * the disk fails the outbox keeps it in memory and it is delivered all the
 * same.  0, or -1 (ENOMEM: not queued; logged). */
int selfalarm_commit(struct selfalarm *sa, const struct alarm_msg *m, const char *what);

/* ---- disk ---- */

/* At open: raise gateway/disk with problem (what the outbox's opening or
 * storage check found), or, with none, clear a raise the last run left. */
void selfalarm_disk_open(struct selfalarm *sa, const char *problem);
/* Raise (with why) or clear gateway/disk now. */
void selfalarm_disk(struct selfalarm *sa, bool raised, const char *why);
/* A cycle's outbox_commit() returned rc: a failing disk raises, the first
 * good commit after it clears (never with a memory-only outbox). */
void selfalarm_disk_commit(struct selfalarm *sa, int rc);
bool selfalarm_disk_raised(const struct selfalarm *sa);

/* Add the raised ones to counts[enum alarm_severity] (4 entries): the status
 * counts them with the engine's. */
void selfalarm_active_by_severity(const struct selfalarm *sa, int counts[4]);

/* ---- the outputs: SELF_UPLINK (MQTT), SELF_INFLUX ---- */

/* Configured or not: an output that is not has nothing to raise (a stored
 * raise is cleared). */
bool selfalarm_output_wanted(const struct selfalarm *sa, enum selfalarm_id o);
/* Connected, or a write was delivered. */
void selfalarm_output_working(struct selfalarm *sa, enum selfalarm_id o);
/* Down for a reason that may pass (raised after a grace period). */
void selfalarm_output_down(struct selfalarm *sa, enum selfalarm_id o, const char *why);
/* Refused: needs fixing (raised at once). */
void selfalarm_output_failing(struct selfalarm *sa, enum selfalarm_id o, const char *why);
/* Could not be set up: failing, and logged once per reason; retry says
 * whether the output is set up again (else: fix the configuration). */
void selfalarm_output_setup_failed(struct selfalarm *sa, enum selfalarm_id o, const char *why,
                                   bool retry);
/* Set up: true when a setup failure had been logged (the caller says it
 * works again). */
bool selfalarm_output_set_up(struct selfalarm *sa, enum selfalarm_id o);
/* Down this long (not a refusal): the output's alarm is raised. */
#define SELFALARM_GRACE_MS 120000

/* Raise or clear the output alarms that are due. */
void selfalarm_tick(struct selfalarm *sa);
/* Milliseconds until selfalarm_tick() may have something to do, at most cap_ms. */
int64_t selfalarm_next_ms(const struct selfalarm *sa, int64_t now_ms, int64_t cap_ms);

#endif
