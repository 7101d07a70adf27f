/*
 * history: months of realistic InfluxDB history for a district of many
 * shelters, for the tests and the demo of shelter-report (docs/design.md
 * section 19): `shelter-sim --history`.  Every point is made by the gateway's
 * own schema code (points_reading, points_alarm with the alarm message of
 * alarm_msg_from, points_door_movement after door_track_update,
 * points_health), never by hand-written line protocol, so what the report
 * reads is exactly what gateways write.
 *
 * Planted facts (needs 6 shelters at least; written as JSON with --facts):
 * door faults (sensor_disagree, by shelter index i: i % 3 of them in the
 * last 30 days, one more early in the history), an overdue door (shelter 2,
 * door-2: not exercised in the last 35 days, with the gateway's
 * exercise_overdue alarm), a wearing door (shelter 3, door-1: open and
 * close travel creeping from 12 s to 20 s), a flood (shelter 1, sump-1: 0.30 m to
 * a 1.85 m peak ten days before the end, high and high_high, acknowledged),
 * a leak, a CO2 event (shelter 6), a smoke fault (shelter 1), a comm_lost
 * of 3 h (shelter 5, co2-1) and a gateway offline for 36 h (shelter 4).
 * Everything else: health each minute, readings every --interval and at
 * every change, every door exercised weekly.  Deterministic for a --seed.
 */
#ifndef GW_HISTORY_H
#define GW_HISTORY_H

/* `shelter-sim --history [options]`: argv[0] is "--history".  Returns the
 * exit status. */
int history_main(int argc, char **argv);

#endif
