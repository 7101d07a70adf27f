#!/bin/bash
# make bench: figures, not pass/fail.  The gateway polls the demo shelter
# (8 sensors, 3 buses, 1 s intervals) with a real mosquitto and influxd for
# BENCH_SECONDS (default 30) while the storm scenario toggles alarms; prints
# its memory (VmRSS, VmHWM), CPU time, polls and alarm transitions, then the
# alarm engine's and the line-protocol encoder's throughput.  Then flash
# wear: bytes the gateway writes on steady readings (no scenario) over
# BENCH_STEADY_SECONDS (default 120; the engine state is offered every 10 min,
# so 660 or more includes one such write), extrapolated to a day.  Then the
# issue 11 figures: tests/bench/bus.sh (an RS-485 line against its wire
# bound, a silent unit, a saturated and overbooked line), cost.sh (CPU per
# poll and memory at 9, 90 and 900 sensors), outage.sh (reconnect delay and
# alarms before the backlog), and outputs.sh (the on-site outputs' latency).
. "$(dirname "$0")/../integration/lib.sh"
SECS=${BENCH_SECONDS:-30}
STEADY=${BENCH_STEADY_SECONDS:-120}

DB=shelter
influx_setup
start_influx
curl -sf -o /dev/null -XPOST "$URL/query" --data-urlencode "q=CREATE DATABASE $DB"
start_broker
demo_conf "$T/demo.conf"
printf '\n[influx]\nurl = %s\ndatabase = %s\n' "$URL" "$DB" >>"$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
{ cat "$ROOT/sensors/sim/scenarios/rain.scn"
  for i in $(seq 1 200); do echo "at $((i * 8))s set leak-ramp wet $((i % 2))"; done
} >"$T/storm.scn"
start_sim "$T/demo.conf" --speed 4
# Flash wear on steady readings, first (the simulator's values as it starts,
# no alarm): a fresh gateway, 15 s to settle (start-up writes: schema, first
# commits), then STEADY seconds.
bg gateway-steady "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
sleep 15
io() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$GW_PID/io"; }
wb0=$(io write_bytes); wc0=$(io wchar); sc0=$(io syscw)
sleep "$STEADY"
wb1=$(io write_bytes); wc1=$(io wchar); sc1=$(io syscw)
kill -TERM "$GW_PID"; wait "$GW_PID"
STEADY_LINE1="flash wear, demo shelter on steady readings, ${STEADY} s after 15 s of start-up:"
per_day() { awk -v b="$1" -v s="$STEADY" 'BEGIN {printf "%.1f MB/day", b * 86400 / s / 1e6}'; }
STEADY_LINE2="  write_bytes $((wb1 - wb0)) B ($(per_day $((wb1 - wb0)))), wchar $((wc1 - wc0)) B ($(per_day $((wc1 - wc0)))), $((sc1 - sc0)) write calls"
requests() { simctl stats | grep -oE 'requests=[0-9]+' | cut -d= -f2 | awk '{s += $1} END {print s}'; }
polls0=$(requests)
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
simctl play "$T/storm.scn" >/dev/null
sleep "$SECS"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$GW_PID/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$GW_PID/status")
read -r ut st < <(awk '{print $14, $15}' "/proc/$GW_PID/stat")
hz=$(getconf CLK_TCK)
polls=$(($(requests) - polls0))
kill -TERM "$GW_PID"; wait "$GW_PID"
alarms=$(grep -c ': ALARM' "$T/gateway.log")
cpu_ms=$(( (ut + st) * 1000 / hz ))
echo "gateway, demo shelter (8 sensors, 3 buses, MQTT + InfluxDB), ${SECS} s:"
echo "  memory: VmRSS ${rss} kB, peak VmHWM ${hwm} kB, ${threads} threads"
echo "  CPU: ${cpu_ms} ms in ${SECS} s ($(awk -v c="$cpu_ms" -v s="$SECS" 'BEGIN {printf "%.2f", c / s / 10}') % of one core)"
echo "  Modbus requests served: ${polls}; alarm transitions: ${alarms}"
echo "$STEADY_LINE1"
echo "$STEADY_LINE2"
"$BUILD/tests/bench_core"
# The notifier: latency and a storm of 600 shelters (tests/bench/notify.sh).
bash "$(dirname "$0")/notify.sh"
# The fleet: 50 real gateways on one mosquitto and one simulator (the same
# scenario as tests/integration/test_fleet.sh, which make check runs with 12).
echo "fleet of 50 gateways (tests/integration/test_fleet.sh, FLEET_N=50):"
FLEET_N=50 FLEET_FIGURES=1 GW_RESULTS=/dev/null bash "$ROOT/tests/integration/test_fleet.sh" 2>&1 |
	grep -E '^(fleet|FAIL)' | sed 's/^/  /'
# Issue 11: the RS-485 line against its wire bound, the cost of a poll at
# 9/90/900 sensors, and what happens after a broker outage.  Each script
# runs alone too (BENCH_GW=path measures another build).
echo
"$(dirname "$0")/bus.sh"
echo
"$(dirname "$0")/cost.sh"
echo
"$(dirname "$0")/outage.sh"
echo
"$(dirname "$0")/outputs.sh"
