#!/bin/bash
# make bench, the RS-485 bus: 30 one-register sensors (co2-jxct, FC03 one
# register each) on one 9600-baud RTU line, 8E1 (11 bits a character, as
# the Modbus spec asks), served by shelter-sim --wire-time, which holds
# every transaction for its wire time.  Printed, never asserted.  For each
# setting: the transactions per second the gateway gets through, the cycle
# (30 / that: every interval is 100 ms, so the line is the limit) and its
# ratio to the wire bound (t3.5 + request + t3.5 + answer per transaction),
# and the frames sent before the line's 3.5-character silence (a strict
# slave would drop them).  Then one silent unit (the others' mean cycle and
# how soon its return is seen), and a saturated line with 10 smoke
# detectors (units 1-10 smoke-rs485) and what --check and the log say
# about it.
#   GW=path/to/shelter-gateway tests/bench/bus.sh   measures another build
#   BUS_WINDOW=S   seconds per measurement (default 10)
#   BUS_SETTINGS='default|gap = 5ms' BUS_SETTINGS_ONLY=1   other [bus] settings, only them
. "$(dirname "$0")/../integration/lib.sh"
GW=${BENCH_GW:-$GW}
W=${BUS_WINDOW:-10}
N=30

# bus_conf OUT NSMOKE INTERVAL_SMOKE INTERVAL_CO2 [BUS KEY LINES...]: units
# 1..NSMOKE smoke, the rest co2.
bus_conf() {
	local out=$1 nsmoke=$2 ismoke=$3 ico2=$4; shift 4
	mkdir -p "$T/state-$(basename "$out" .conf)"
	{
		printf '[gateway]\nid = bench-bus\ncity = c\ndistrict = d\nstreet = s\ncommunity = m\nproperty = p\n'
		printf 'state_dir = %s\nmodels_dir = %s\n' "$T/state-$(basename "$out" .conf)" "$ROOT/sensors/models"
		printf '\n[bus line]\ntype = rtu\ndevice = %s\nbaud = 9600\nparity = even\n' "$T/$LINE-gw"
		for k in "$@"; do echo "$k"; done
		for u in $(seq 1 "$N"); do
			if [ "$u" -le "$nsmoke" ]; then
				printf '\n[sensor smoke-%d]\nbus = line\nunit = %d\nkind = smoke\nmodel = smoke-rs485\ninterval = %s\n' "$u" "$u" "$ismoke"
			else
				printf '\n[sensor co2-%d]\nbus = line\nunit = %d\nkind = co2\nmodel = co2-jxct\ninterval = %s\n' "$u" "$u" "$ico2"
			fi
		done
	} >"$out"
}

# counts: "UNIT REQUESTS" per unit from the simulator's stats.
counts() { simctl stats | awk '$3 == "FC03" {sub("requests=", "", $4); print $2, $4}'; }
# early frames so far
early() { simctl wire | awk '$1 == "line" {for (i = 2; i <= NF; i++) if ($i ~ /^early=/) {sub("early=", "", $i); print $i}}'; }

# measure CONF [SETUP]: run the gateway on CONF, let it settle, count W
# seconds.  Sets RATE (transactions/s), CYCLE (mean per-sensor cycle of the
# units in UNITS, default all), SMOKE_CYCLE, CO2_CYCLE, EARLY.
measure() {
	local conf=$1 settle=${2:-4}
	bg "gw-$(basename "$conf" .conf)" "$GW" -c "$conf"
	GW_PID=$LAST_PID
	sleep "$settle"
	simctl stats reset >/dev/null
	local e0
	e0=$(early)
	sleep "$W"
	counts >"$T/counts"
	EARLY=$(($(early) - e0))
	local units=${UNITS:-$(seq -s ' ' 1 "$N")}
	RATE=$(awk -v w="$W" '{s += $2} END {printf "%.1f", s / w}' "$T/counts")
	CYCLE=$(awk -v w="$W" -v units=" $units " 'index(units, " " $1 " ") && $2 > 0 {s += w / $2; n++} END {printf "%.3f", n ? s / n : 0}' "$T/counts")
	SMOKE_CYCLE=$(awk -v w="$W" -v NSMOKE="$NSMOKE" '$1 <= NSMOKE && $2 > 0 {s += w / $2; n++} END {printf "%.2f", n ? s / n : 0}' "$T/counts")
	CO2_CYCLE=$(awk -v w="$W" -v NSMOKE="$NSMOKE" '$1 > NSMOKE && $2 > 0 {s += w / $2; n++} END {printf "%.2f", n ? s / n : 0}' "$T/counts")
}
stop_gw() { kill -TERM "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; }

SIM_CTL=$T/sim.sock
# sim NSMOKE: (re)start the simulator with units 1..NSMOKE smoke, on a
# fresh pty pair (socat ends with the simulator's side).
sim() {
	[ -n "${SIM_PID:-}" ] && { kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; }
	NSMOKE=$1
	LINE=line$1
	pty_pair "$LINE" || { echo "socat pty pair failed"; exit 1; }
	bus_conf "$T/sim.conf" "$NSMOKE" 1s 1s
	bg "sim-$NSMOKE" "$SIM" -c "$T/sim.conf" --serial "line=$T/$LINE-sim" --control "$SIM_CTL" --wire-time
	SIM_PID=$LAST_PID
	wait_for 10 test -S "$SIM_CTL" || { echo "simulator did not start"; cat "$T/sim-$NSMOKE.log"; exit 1; }
}
sim 0

# The wire bound, from the simulator's own line figures.
read -r char_ns silence_ns < <(simctl wire | awk '$1 == "line" {for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]} print v["char_ns"], v["silence_ns"]}')
tx_ns=$((2 * silence_ns + 15 * char_ns)) # request 8 bytes, answer 7
BOUND_RATE=$(awk -v t="$tx_ns" 'BEGIN {printf "%.1f", 1e9 / t}')
BOUND_CYCLE=$(awk -v t="$tx_ns" -v n="$N" 'BEGIN {printf "%.3f", n * t / 1e9}')
ratio() { awk -v c="$1" -v b="$BOUND_CYCLE" 'BEGIN {printf "%.2f", c / b}'; }

echo "RS-485 bus: $N one-register sensors on one 9600-baud RTU line (8E1), shelter-sim --wire-time, ${W} s windows:"
echo "  wire bound: $(awk -v t="$tx_ns" 'BEGIN {printf "%.1f", t / 1e6}') ms a transaction (t3.5 $(awk -v t="$silence_ns" 'BEGIN {printf "%.2f", t / 1e6}') ms, request 8 and answer 7 characters of $(awk -v t="$char_ns" 'BEGIN {printf "%.3f", t / 1e6}') ms), $BOUND_RATE transactions/s, per-sensor cycle $BOUND_CYCLE s"

IFS='|' read -ra settings <<<"${BUS_SETTINGS:-default|gap = 0ms|gap = 20ms}"
for setting in "${settings[@]}"; do
	if [ "$setting" = default ]; then bus_conf "$T/fast.conf" 0 1s 100ms; else bus_conf "$T/fast.conf" 0 1s 100ms "$setting"; fi
	measure "$T/fast.conf"
	stop_gw
	cycle=$(awk -v r="$RATE" -v n="$N" 'BEGIN {printf "%.3f", n / r}')
	printf '  %-22s %5.1f transactions/s, cycle %s s, %sx the wire bound, %s early frames\n' \
		"$setting:" "$RATE" "$cycle" "$(ratio "$cycle")" "$EARLY"
	[ "$setting" = default ] && BASE_CYCLE=$CYCLE
done
[ -n "${BUS_SETTINGS_ONLY:-}" ] && exit 0

# One silent unit among the 30 (default settings): the others' cycle, and
# how soon its return is noticed.
bus_conf "$T/fast.conf" 0 1s 100ms
simctl fault co2-30 mute >/dev/null
UNITS=$(seq -s ' ' 1 29) W=$((W * 2)) measure "$T/fast.conf" 8
silent_cycle=$CYCLE
simctl fault co2-30 none >/dev/null
back0=$(date +%s%N)
if wait_for 30 grep -q 'co2-30): answering again' "$T/gw-fast.log"; then
	back=$(awk -v a="$back0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f s", (b - a) / 1e9}')
else
	back="not within 30 s"
fi
stop_gw
printf '  one silent unit:       the other 29 every %s s (%s s with none: %+.1f %%), its return noticed after %s\n' \
	"$silent_cycle" "$BASE_CYCLE" "$(awk -v a="$silent_cycle" -v b="$BASE_CYCLE" 'BEGIN {print (a / b - 1) * 100}')" "$back"

# A saturated line with smoke detectors: 10 smoke and 20 co2, all at
# 500 ms, ask for 60 transactions/s.
sim 10
bus_conf "$T/busy.conf" 10 500ms 500ms
measure "$T/busy.conf" 6
stop_gw
echo "  saturated (10 smoke + 20 co2, all at 500 ms: 60 transactions/s asked): $RATE/s served, smoke every $SMOKE_CYCLE s, co2 every $CO2_CYCLE s"
echo "  --check on that configuration:"
"$GW" -c "$T/busy.conf" --check 2>&1 | grep -iE 'overbook|line load|warning' | sed 's/^/    /'
[ "${PIPESTATUS[1]}" = 0 ] || echo "    (nothing said about the line)"
echo "  its log while running:"
grep -iE 'overbook' "$T/gw-busy.log" | sed 's/^/    /'
grep -qi overbook "$T/gw-busy.log" || echo "    (nothing said about the line)"
