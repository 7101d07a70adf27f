#!/bin/bash
# make bench, the cost of a poll: the gateway polling N one-register CO2
# sensors (co2-jxct, FC03) at 1 s over Modbus TCP from shelter-sim (225
# units per endpoint, one poller each), publishing to a real mosquitto, for
# N = 9, 90, 900.  Prints CPU per poll (user + system time over the polls
# the simulator answered), the share of a core, and VmRSS / VmHWM.  Printed,
# never asserted.
#   COST_WINDOW=S   seconds measured (default 20) after 6 s to settle
#   COST_SIZES="9 90 900"
#   COST_PERF=1     also `perf record` the 900-sensor run into $COST_PERF_OUT
#                   (default /tmp/shelter-cost.perf.data)
. "$(dirname "$0")/../integration/lib.sh"
GW=${BENCH_GW:-$GW}
W=${COST_WINDOW:-20}
PER_BUS=225

start_broker
# cost_conf OUT N: N co2 sensors on ceil(N / 225) TCP endpoints.
cost_conf() {
	local out=$1 n=$2 b u
	mkdir -p "$T/state-$n"
	{
		printf '[gateway]\nid = bench-cost\ncity = c\ndistrict = d\nstreet = s\ncommunity = m\nproperty = p\n'
		printf 'state_dir = %s\nmodels_dir = %s\n' "$T/state-$n" "$ROOT/sensors/models"
		printf '\n[mqtt]\nuri = tcp://127.0.0.1:%s\n' "$BROKER_PORT"
		for b in $(seq 0 $(((n - 1) / PER_BUS))); do
			printf '\n[bus tcp-%d]\ntype = tcp\nhost = 127.0.0.1\nport = %s\n' "$b" "$(free_port)"
		done
		for i in $(seq 0 $((n - 1))); do
			b=$((i / PER_BUS)); u=$((i % PER_BUS + 1))
			printf '\n[sensor co2-%d]\nbus = tcp-%d\nunit = %d\nkind = co2\nmodel = co2-jxct\ninterval = 1s\n' "$i" "$b" "$u"
		done
	} >"$out"
}
requests() { "$SIM" --ctl "$SIM_CTL" stats total | sed -n 's/^ok requests=//p'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "cost per poll: N one-register CO2 sensors at 1 s over Modbus TCP, real mosquitto, ${W} s:"
hz=$(getconf CLK_TCK)
for n in ${COST_SIZES:-9 90 900}; do
	cost_conf "$T/cost-$n.conf" "$n"
	SIM_CTL=$T/sim-$n.sock
	bg "sim-$n" "$SIM" -c "$T/cost-$n.conf" --control "$SIM_CTL"
	sim_pid=$LAST_PID
	wait_for 10 test -S "$SIM_CTL" || { echo "simulator did not start"; cat "$T/sim-$n.log"; exit 1; }
	bg "gw-$n" "$GW" -c "$T/cost-$n.conf"
	gw_pid=$LAST_PID
	sleep 6
	c0=$(cpu_ticks "$gw_pid"); p0=$(requests)
	if [ "${COST_PERF:-0}" = 1 ] && [ "$n" = 900 ]; then
		perf record -F 999 -g -p "$gw_pid" -o "${COST_PERF_OUT:-/tmp/shelter-cost.perf.data}" -- sleep "$W" >/dev/null 2>&1
	else
		sleep "$W"
	fi
	c1=$(cpu_ticks "$gw_pid"); p1=$(requests)
	[ -n "${COST_THREADS:-}" ] && bash "$COST_THREADS" "$gw_pid" # a script given the gateway's pid
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$gw_pid/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$gw_pid/status")
	kill -TERM "$gw_pid"; wait "$gw_pid" 2>/dev/null
	kill -TERM "$sim_pid"; wait "$sim_pid" 2>/dev/null
	polls=$((p1 - p0))
	awk -v n="$n" -v c=$((c1 - c0)) -v hz="$hz" -v p="$polls" -v w="$W" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
		cpu_s = c / hz
		printf "  %4d sensors: %6d polls (%.0f/s), CPU %.2f s: %.1f us a poll, %.2f %% of a core; VmRSS %.1f MB, VmHWM %.1f MB\n",
			n, p, p / w, cpu_s, p ? cpu_s * 1e6 / p : 0, cpu_s / w * 100, rss / 1024, hwm / 1024
	}'
done
