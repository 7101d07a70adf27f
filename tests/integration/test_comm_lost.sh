#!/bin/bash
# A unit that stops answering on an RTU bus goes lost after 3 failed polls,
# logged once; the other units on that bus keep their interval; it recovers
# as soon as it answers again; SIGTERM stops the daemon promptly.
. "$(dirname "$0")/lib.sh"

demo_conf "$T/demo.conf"
start_sim "$T/demo.conf"
bg gateway "$GW" -c "$T/demo.conf" -v
GW_PID=$LAST_PID
wait_for 10 grep -q 'reading {.*"sensor":"sump-west"' "$T/gateway.log" ||
	fail "gateway reads sump-west"

simctl fault sump-west mute >/dev/null
simctl stats reset >/dev/null
t0=$(date +%s.%N)
wait_for 15 grep -q 'unit 2 (sump-west).*comm lost' "$T/gateway.log"
check "silent unit is declared lost" grep -q 'unit 2 (sump-west).*3rd failed poll: comm lost' "$T/gateway.log"
sleep 4
stats=$(simctl stats)
t1=$(date +%s.%N)
echo "$stats"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%d", b - a}')
req() { grep -E "^rs485-1 $1 FC03 requests=" <<<"$stats" | cut -d= -f2; }
east=$(req 1); smoke=$(req 3)
echo "window ${secs}s: unit 1 polled ${east}x, unit 3 polled ${smoke}x (interval 1s)"
# The dead unit may cost the others one timeout+retry per cycle, nothing more.
check "neighbour unit 1 keeps its 1 s interval while unit 2 is silent" test "$east" -ge $((secs - 2))
check "neighbour unit 3 keeps its 1 s interval while unit 2 is silent" test "$smoke" -ge $((secs - 2))
check "comm lost logged once, not per poll" test "$(grep -c 'sump-west.*comm lost' "$T/gateway.log")" = 1
check "lost readings reported as comm_lost" grep -q '"sensor":"sump-west","kind":"water_level","quality":"comm_lost"' "$T/gateway.log"

simctl fault sump-west none >/dev/null
wait_for 10 grep -q 'unit 2 (sump-west): answering again' "$T/gateway.log"
check "recovery is logged when the unit answers again" grep -q 'unit 2 (sump-west): answering again' "$T/gateway.log"
n=$(grep -c 'reading {.*"sensor":"sump-west","kind":"water_level","quality":"good"' "$T/gateway.log")
check "good readings resume after recovery" \
	wait_for 10 log_grew 'reading {.*"sensor":"sump-west","kind":"water_level","quality":"good"' "$n"

# Orderly stop.
s0=$(date +%s%N)
kill -TERM "$GW_PID"
wait "$GW_PID"; rc=$?
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
echo "stopped in ${ms} ms"
check "SIGTERM exits 0" test "$rc" = 0
check "SIGTERM stops within 3 s (took ${ms} ms)" test "$ms" -lt 3000
