#!/bin/bash
# The telemetry cap during a long broker outage: the oldest readings are
# dropped (and logged once), every alarm is kept and arrives when the broker
# returns.
. "$(dirname "$0")/lib.sh"

start_broker
demo_conf "$T/demo.conf"
sed -i 's/^\(state_dir.*\)/\1\ntelemetry_max_rows = 100/' "$T/demo.conf"
sed -i '/^\[sensor sump-east\]/,/^pit_depth/ s/^interval.*/interval = 100ms/' "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
{ echo "ramp 0s 20s sump-east level_m 0.05 1.15"
  for i in $(seq 1 20); do echo "at ${i}s set leak-ramp wet $((i % 2))"; done
} >"$T/storm.scn"
start_sim "$T/demo.conf"
# The centre's persistent session exists before the outage.
start_sub sub -q 1 -c -i centre-cap -v -t "$BASE/alarm/#" -t "$BASE/reading/#"
stop_broker

bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
simctl play "$T/storm.scn" >/dev/null
sleep 23
start_broker
wait_for 20 bash -c "grep -c '^$BASE/alarm/' '$T/sub.log' | grep -qE '^(1[0-9]|[2-9][0-9])$'"
sleep 4
kill -TERM "$GW_PID"; wait "$GW_PID"

grep -E 'cap|outbox' "$T/gateway.log"
readings=$(grep -c "^$BASE/reading/" "$T/sub.log")
echo "readings delivered after the outage: $readings (cap 100 rows)"
check "the cap is logged once per episode" test "$(grep -c 'telemetry cap reached' "$T/gateway.log")" = 1
check "readings beyond the cap were dropped" test "$readings" -le 130
check "the newest readings were kept (the last level is near the top of the ramp)" \
	bash -c "grep '^$BASE/reading/sump-east ' '$T/sub.log' | tail -n 1 | cut -d' ' -f2- | jq -e '.level_m >= 1.05' >/dev/null"
check "every alarm transition of the outage was kept" test "$(grep -c '^[a-z]*: ALARM' "$T/gateway.log")" -ge 15
check_seqs "$T/sub.log" "cap"
arrived=$(alarm_payloads "$T/sub.log" | jq -s 'map(.seq) | unique | length')
check "all $(grep -c '^[a-z]*: ALARM' "$T/gateway.log") alarm transitions arrived ($arrived)" \
	test "$arrived" = "$(grep -c '^[a-z]*: ALARM' "$T/gateway.log")"
