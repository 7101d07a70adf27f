#!/bin/bash
# A gateway whose outbox cannot be opened still polls and delivers alarms:
# a corrupt outbox.db (power cut) is moved aside and a fresh one used; a
# state_dir that cannot hold a file gives an in-memory outbox.  Either way
# the gateway/disk alarm is raised and seq jumps to the wall-clock ms, so no
# seq seen before comes again.
. "$(dirname "$0")/lib.sh"

start_broker
start_sub sub -q 1 -v -t "$BASE/alarm/#"
demo_conf "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s/' "$T/demo.conf"
start_sim "$T/demo.conf"
now_ms=$(($(date +%s) * 1000))

# 1. A corrupt outbox.
head -c 8192 /dev/urandom >"$T/state/outbox.db"
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q "$BASE/alarm/gateway/disk " "$T/sub.log"
simctl set leak-ramp wet 1 >/dev/null
wait_for 10 grep -q "$BASE/alarm/leak-ramp/leak " "$T/sub.log"
grep -E 'outbox|ALARM' "$T/gateway.log"
check "a corrupt outbox is moved aside" bash -c "ls '$T'/state/outbox.db.broken-* >/dev/null"
check "the gateway keeps polling with a fresh outbox" grep -q "$BASE/alarm/leak-ramp/leak " "$T/sub.log"
check "gateway/disk raised, critical" \
	bash -c "grep '$BASE/alarm/gateway/disk ' '$T/sub.log' | head -n 1 | cut -d' ' -f2- | jq -e '.event == \"raised\" and .severity == \"critical\"' >/dev/null"
seq=$(grep "$BASE/alarm/leak-ramp/leak " "$T/sub.log" | head -n 1 | cut -d' ' -f2- | jq .seq)
check "seq jumps to the wall clock after the lost outbox ($seq)" test "$seq" -ge "$now_ms"
kill -TERM "$GW_PID"; wait "$GW_PID"
simctl set leak-ramp wet 0 >/dev/null

# 2. No outbox file possible: state_dir is a file, not a directory.
: >"$T/not-a-dir"
sed -i "s|^state_dir *=.*|state_dir = $T/not-a-dir|" "$T/demo.conf"
: >"$T/sub.log.mark"; mark=$(wc -l <"$T/sub.log")
bg gateway2 "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
sleep 2
simctl set leak-ramp wet 1 >/dev/null
wait_for 10 bash -c "tail -n +$((mark + 1)) '$T/sub.log' | grep -q '$BASE/alarm/leak-ramp/leak '"
grep -E 'outbox' "$T/gateway2.log"
check "without a usable state_dir the outbox lives in memory" grep -q 'alarms are not durable' "$T/gateway2.log"
check "and alarms are still delivered" bash -c "tail -n +$((mark + 1)) '$T/sub.log' | grep -q '$BASE/alarm/leak-ramp/leak '"
check "gateway/disk stays raised" \
	bash -c "tail -n +$((mark + 1)) '$T/sub.log' | grep '$BASE/alarm/gateway/disk ' | tail -n 1 | cut -d' ' -f2- | jq -e '.active' >/dev/null"
kill -TERM "$GW_PID"; wait "$GW_PID"
check "orderly stop" test $? = 0
