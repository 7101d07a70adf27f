#!/bin/bash
# make bench, the outputs' part: how long from the transition that sets an
# on-site output (the leak's detection: the poll that first read it wet,
# or dry) to its coil write at the relay module (as shelter-sim recorded
# it), over BENCH_OUTPUT_CYCLES (default 30) leak on/off cycles on the demo
# shelter (broker down: the outputs need no uplink).  Prints p50, p99 and
# the maximum for the sign (on and off) and the siren (on), on the demo's
# quiet bus and on a saturated one (its three sensors polled every 100 ms,
# two of them answering 60 ms late): the writes go ahead of the queued polls.
if [ $# = 0 ]; then # each case in its own temp dir, simulator and gateway
	bash "$0" "demo shelter, rs485-1 9600 baud pty, broker down" 0
	bash "$0" "the same bus saturated: 3 sensors every 100 ms, 2 answering 60 ms late" 1
	exit 0
fi
. "$(dirname "$0")/../integration/lib.sh"
N=${BENCH_OUTPUT_CYCLES:-30}

coil() { simctl get "$1" | grep -q "on=$2"; }

# run_case TITLE BUSY: one series of N cycles; BUSY=1 saturates rs485-1.
run_case() {
demo_conf "$T/demo.conf"
# The leak at once, both ways; polled every 200 ms; the siren without min_on.
sed -i -e "/^\[sensor leak-ramp\]/a leak_delay = 0s\nleak_clear_delay = 0s" \
	-e "/^\[sensor leak-ramp\]/,/^input/ s/^interval = .*/interval = 200ms/" \
	-e "s/^min_on = 10s$/min_on = 0s/" "$T/demo.conf"
if [ "$2" = 1 ]; then
	sed -i -e "/^\[sensor sump-\|^\[sensor smoke-power-room\]/,/^interval/ s/^interval = .*/interval = 100ms/" "$T/demo.conf"
fi
start_sim "$T/demo.conf"
if [ "$2" = 1 ]; then
	simctl fault sump-east slow 60 >/dev/null
	simctl fault sump-west slow 60 >/dev/null
fi
bg gateway "$GW" -c "$T/demo.conf" -v
GW_PID=$LAST_PID
wait_for 15 grep -q 'output ramp-sign: off' "$T/gateway.log"
wait_for 5 coil ramp-sign 0
sleep 1
simctl writes reset >/dev/null
mark=$(wc -l <"$T/gateway.log")
for i in $(seq 1 "$N"); do
	simctl set leak-ramp wet 1 >/dev/null
	wait_for 5 coil ramp-sign 1 || echo "cycle $i: the sign did not come on"
	simctl set leak-ramp wet 0 >/dev/null
	wait_for 5 coil ramp-sign 0 || echo "cycle $i: the sign did not go off"
done
kill -TERM "$GW_PID"; wait "$GW_PID"

# The transitions: the leak's readings (ts) where wet changes, in order.
tail -n +"$((mark + 1))" "$T/gateway.log" | grep '"sensor":"leak-ramp"' |
	sed -nE 's/.*"ts":"([^"]*)".*"wet":(true|false).*/\1 \2/p' |
	awk '$2 != last { print $1, $2; last = $2 }' | while read -r ts wet; do
	echo "$(date -d "$ts" +%s%3N) $wet"
done >"$T/transitions"
# The writes: coil 1 (sign), coil 0 (siren) with value and time, in order.
simctl writes | sed -nE 's/^rs485-1 12 FC05 addr=([0-9]+) qty=1 value=([01]) ms=([0-9]+) applied$/\1 \2 \3/p' >"$T/writes"
# latencies COIL VALUE WET: the k-th write of VALUE to COIL against the k-th transition to WET.
latencies() {
	paste -d' ' <(awk -v w="$3" '$2 == w {print $1}' "$T/transitions") \
		<(awk -v c="$1" -v v="$2" '$1 == c && $2 == v {print $3}' "$T/writes") |
		awk 'NF == 2 {print $2 - $1}'
}
summary() {
	sort -n | awk -v what="$1" '{v[NR] = $1} END {
		if (NR == 0) { printf "  %-18s no samples\n", what; exit }
		p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
		printf "  %-18s p50 %d ms, p99 %d ms, max %d ms (%d samples)\n", what, p50, p99, v[NR], NR }'
}
echo "output latency, leak detected -> coil written ($1):"
latencies 1 1 true | summary "sign on:"
latencies 1 0 false | summary "sign off:"
latencies 0 1 true | summary "siren on:"
}

run_case "$1" "$2"
