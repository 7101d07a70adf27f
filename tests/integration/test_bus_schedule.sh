#!/bin/bash
# The schedule of an RS-485 line (docs/design.md section 8.1), against
# shelter-sim --wire-time on a 9600-baud 8E1 pty line (each transaction
# takes its wire time, 25.2 ms for one register): an overbooked line is
# named by --check and logged once while running; on it the smoke detectors
# keep their interval while the CO2 sensors stretch; a lost unit is retried
# on a slower schedule and its return is still seen within 10 s.
. "$(dirname "$0")/lib.sh"

# conf OUT NSMOKE ISMOKE NCO2 ICO2: units 1..NSMOKE smoke, 11.. NCO2 co2.
conf() {
	local out=$1 nsmoke=$2 ismoke=$3 nco2=$4 ico2=$5 u
	mkdir -p "$T/state-$(basename "$out" .conf)"
	{
		printf '[gateway]\nid = sched\ncity = c\ndistrict = d\nstreet = s\ncommunity = m\nproperty = p\n'
		printf 'state_dir = %s\nmodels_dir = %s\n' "$T/state-$(basename "$out" .conf)" "$ROOT/sensors/models"
		printf '\n[bus line]\ntype = rtu\ndevice = %s\nbaud = 9600\nparity = even\n' "$T/line-gw"
		for u in $(seq 1 "$nsmoke"); do
			printf '\n[sensor smoke-%d]\nbus = line\nunit = %d\nkind = smoke\nmodel = smoke-rs485\ninterval = %s\n' "$u" "$u" "$ismoke"
		done
		for u in $(seq 11 $((10 + nco2))); do
			printf '\n[sensor co2-%d]\nbus = line\nunit = %d\nkind = co2\nmodel = co2-jxct\ninterval = %s\n' "$u" "$u" "$ico2"
		done
	} >"$out"
}
# requests UNIT_FROM UNIT_TO: FC03 requests to those units since the last reset.
requests() { simctl stats | awk -v a="$1" -v b="$2" '$3 == "FC03" && $2 >= a && $2 <= b {sub("requests=", "", $4); s += $4} END {print s + 0}'; }

pty_pair line || { fail "socat pty pair"; exit 1; }
conf "$T/sim.conf" 10 1s 20 1s
SIM_CTL=$T/sim.sock
bg sim "$SIM" -c "$T/sim.conf" --serial "line=$T/line-sim" --control "$SIM_CTL" --wire-time
wait_for 10 test -S "$SIM_CTL" || { fail "simulator starts"; cat "$T/sim.log"; exit 1; }

# 10 smoke detectors and 20 CO2 sensors, all at 500 ms, ask 60
# transactions/s of a line that carries 39.7.
conf "$T/busy.conf" 10 500ms 20 500ms
"$GW" -c "$T/busy.conf" --check >"$T/check.out" 2>&1
check "--check names the overbooked bus" grep -q 'busy.conf:[0-9]*: \[bus line\] overbooked: the intervals ask 60.0 transactions/s, the line carries 39.7/s' "$T/check.out"
check "--check still says the configuration is OK" grep -q '^configuration OK' "$T/check.out"

bg gateway "$GW" -c "$T/busy.conf"
GW_PID=$LAST_PID
sleep 3
simctl stats reset >/dev/null
sleep 5
smoke=$(requests 1 10)
co2=$(requests 11 30)
echo "saturated line, 5 s: $smoke smoke polls (100 asked), $co2 CO2 polls (200 asked)"
# Served first, each smoke detector keeps its 500 ms (100 polls, half the
# line); round robin among all 30 gives each a poll every 0.76 s at best
# (66 polls).  Generous: 85.
check "smoke detectors keep their interval on a saturated line ($smoke of 100 polls)" test "$smoke" -ge 85
check "the CO2 sensors still get the rest of the line ($co2 polls)" test "$co2" -ge 50
wait_for 15 grep -q 'bus line: overbooked' "$T/gateway.log"
check "the overbooked bus is logged at run time with the cycle it achieves" \
	grep -qE 'bus line: overbooked: .*achieved: 10 smoke/leak/door requests every [0-9.]+ s \(asked 0.50 s\), 20 others every [0-9.]+ s \(asked 0.50 s\)' "$T/gateway.log"
sleep 2
check "... once" test "$(grep -c 'bus line: overbooked' "$T/gateway.log")" = 1
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null

# A lost unit among five CO2 sensors at 200 ms (units 11-15): retried every
# 7 s, not every cycle.
conf "$T/lost.conf" 0 1s 5 200ms
simctl fault line:15 mute >/dev/null
bg gateway-lost "$GW" -c "$T/lost.conf"
GW_PID=$LAST_PID
wait_for 15 grep -q 'unit 15 (co2-15).*comm lost' "$T/gateway-lost.log" || fail "the muted unit is lost"
simctl stats reset >/dev/null
sleep 8
lost=$(requests 15 15)
others=$(requests 11 14)
echo "lost unit: $lost polls in 8 s (the others: $others)"
check "a lost unit is retried on the slower schedule ($lost polls in 8 s, at most 2)" test "$lost" -le 2
check "... while its neighbours keep their 200 ms ($others polls of 160)" test "$others" -ge 130
simctl fault line:15 none >/dev/null
t0=$(date +%s%N)
wait_for 15 grep -q 'unit 15 (co2-15): answering again' "$T/gateway-lost.log"
back_ms=$((($(date +%s%N) - t0) / 1000000))
echo "its return seen after $back_ms ms"
check "its return is seen within 10 s ($back_ms ms)" test "$back_ms" -le 10000
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null
