#!/bin/bash
# The broker stops in the middle of a rainstorm and comes back later: every
# seq reaches a subscriber with a persistent session, in order per sensor,
# none missing (duplicates allowed and counted).
. "$(dirname "$0")/lib.sh"

start_broker
demo_conf "$T/demo.conf"
sed -i '/^\[sensor sump-east\]/,/^pit_depth/ s/^pit_depth.*/&\nhigh_delay = 2s\nhigh_clear_delay = 3s\nhigh_high_delay = 1s/' "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
# The storm: the rain scenario, and the ramp floor floods on and off meanwhile
# (every 10 s of scenario time, 2 s at speed 5).
{ cat "$ROOT/sensors/sim/scenarios/rain.scn"
  for i in $(seq 1 24); do echo "at $((i * 10))s set leak-ramp wet $((i % 2))"; done
} >"$T/storm.scn"
start_sim "$T/demo.conf" --speed 5
# The centre: a persistent session (-c), QoS 1, so the broker keeps what
# arrives while the subscriber is reconnecting.
start_sub sub -q 1 -c -i centre-outage -v -t "$BASE/alarm/#"
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q 'mqtt: connected' "$T/gateway.log"
simctl play "$T/storm.scn" >/dev/null
sleep 7
stop_broker
echo "broker stopped at $(date +%T)"
sleep 15
start_broker
echo "broker back at $(date +%T)"
wait_for 90 grep -q 'ALARM cleared sump-east high ' "$T/gateway.log"
sleep 5
kill -TERM "$GW_PID"; wait "$GW_PID"

grep -c '^[a-z]*: ALARM' "$T/gateway.log" | sed 's/^/transitions logged: /'
check "the gateway saw the broker go and come back" grep -q 'mqtt: connection lost' "$T/gateway.log"
during=$(awk '/mqtt: connection lost/ {down = 1} /mqtt: connected/ {down = 0} /ALARM/ && down {n++} END {print n + 0}' "$T/gateway.log")
echo "transitions while the broker was down: $during"
check "transitions happened while the broker was down" test "$during" -ge 3
logged=$(grep -c '^[a-z]*: ALARM' "$T/gateway.log")
check_seqs "$T/sub.log" "broker outage"
arrived=$(alarm_payloads "$T/sub.log" | jq -s 'map(.seq) | unique | length')
check "every logged transition arrived ($logged logged, $arrived arrived)" test "$arrived" = "$logged"
