#!/bin/bash
# The rain scenario end to end: shelter-sim plays a sump rising past high and
# high_high, then pumped down.  The daemon's journal must show exactly:
# high raised, high_high raised, high_high cleared, high cleared, each once,
# and no other alarm transition.
. "$(dirname "$0")/lib.sh"

demo_conf "$T/demo.conf"
# Shorter delays so the storm fits in a test (the rules are the defaults'
# shape; their timing is covered by the unit tests).  rising_fast would
# rightly fire in a real storm; it is off here so the sequence is exact.
sed -i '/^\[sensor sump-east\]/,/^pit_depth/ s/^pit_depth.*/&\nhigh_delay = 2s\nhigh_clear_delay = 3s\nhigh_high_delay = 1s\nrising_fast_enabled = no/' "$T/demo.conf"
grep -A12 '^\[sensor sump-east\]' "$T/demo.conf" | grep -E 'delay|rising'

start_sim "$T/demo.conf" --speed 5
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q 'connected to' "$T/gateway.log"
simctl play "$ROOT/sensors/sim/scenarios/rain.scn" >/dev/null
# 250 s of storm at speed 5 = 50 s, plus the clear delay.
wait_for 90 grep -q 'ALARM cleared sump-east high ' "$T/gateway.log"
sleep 3
kill -TERM "$GW_PID"; wait "$GW_PID"

grep '^[a-z]*: ALARM' "$T/gateway.log"
seq=$(grep -oE 'ALARM [a-z_]+ [a-z0-9-]+ [a-z_]+' "$T/gateway.log" | paste -sd, -)
echo "sequence: $seq"
check "rain raises high, high_high then clears high_high, high, and nothing else" \
	test "$seq" = "ALARM raised sump-east high,ALARM raised sump-east high_high,ALARM cleared sump-east high_high,ALARM cleared sump-east high"
check "high_high is logged at error level (critical)" grep -q '^error: ALARM raised sump-east high_high (critical)' "$T/gateway.log"
check "high is logged at warning level" grep -q '^warning: ALARM raised sump-east high (major)' "$T/gateway.log"
check "message in the configured language (zh) with value and threshold" \
	grep -qE 'ALARM raised sump-east high_high \(critical\): B1 东侧集水坑：.*[0-9.]+ m ≥ 1.08 m' "$T/gateway.log"
