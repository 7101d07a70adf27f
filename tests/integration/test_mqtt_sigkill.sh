#!/bin/bash
# The gateway is killed with SIGKILL at random moments during an alarm storm,
# 20 times in a row: at the subscriber no seq is missing and none is reused.
. "$(dirname "$0")/lib.sh"

KILLS=${KILLS:-20}
start_broker
demo_conf "$T/demo.conf"
# A storm: the leak contact and door-2's lock toggle faster than anyone
# would like; no delays, so every poll can be a transition.
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
sed -i '/^\[sensor door-2\]/,/^locked_input/ s/^interval.*/interval = 200ms/' "$T/demo.conf"
sed -i '/^\[sensor door-2\]/,/^locked_input/ s/^locked_input.*/&\nclosed_not_locked_delay = 0s/' "$T/demo.conf"
grep -A12 '^\[sensor door-2\]' "$T/demo.conf" | grep -E 'interval|closed_not'
{ for i in $(seq 1 400); do
	echo "at $((i * 300))ms set leak-ramp wet $((i % 2))"
	echo "at $((i * 300 + 150))ms set door-2 locked $(((i / 2) % 2))"
  done; } >"$T/storm.scn"
start_sim "$T/demo.conf"
start_sub sub -q 1 -c -i centre-kill -v -t "$BASE/alarm/#"
simctl play "$T/storm.scn" >/dev/null

for k in $(seq 1 "$KILLS"); do
	"$GW" -c "$T/demo.conf" >>"$T/gateway.log" 2>&1 &
	pid=$!
	# 0.5 .. 2.5 s: sometimes before the first commit, sometimes mid-publish.
	sleep "$(awk -v r=$RANDOM 'BEGIN {printf "%.2f", 0.5 + r % 200 / 100}')"
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
done
# A last run delivers what the killed ones committed but did not send.
bg gateway-final "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
sleep 6
simctl stop >/dev/null
sleep 3
kill -TERM "$GW_PID"; wait "$GW_PID"
sleep 1

echo "transitions logged over $KILLS killed runs and a final one: $(cat "$T/gateway.log" "$T/gateway-final.log" | grep -c ': ALARM')"
check "the storm produced alarms" test "$(alarm_payloads "$T/sub.log" | wc -l)" -ge 20
check_seqs "$T/sub.log" "$KILLS SIGKILLs"
