#!/bin/bash
# Acquisition end to end: --check, config errors, --once against shelter-sim
# over Modbus TCP and over RTU through socat pty pairs, and the coalesced
# request count per poll cycle as seen by the simulator.
. "$(dirname "$0")/lib.sh"

# --check on the documented example.
out=$("$GW" -c "$ROOT/conf/gateway.conf" --check 2>&1)
check "--check accepts conf/gateway.conf" grep -q "^configuration OK" <<<"$out"

# A config with three mistakes: three FILE:LINE lines, exit 78.
cat >"$T/bad.conf" <<CONF
[gateway]
id = bad-site
city = c
district = d
street = s
community = m
property = p
colour = blue
[bus rs485-1]
type = rtu
device = /dev/null
baud = 1234
[sensor sump-1]
bus = rs485-1
unit = 300
kind = water_level
model = level-qdy30a
pit_depth = 1.2
CONF
out=$("$GW" -c "$T/bad.conf" --check 2>&1); rc=$?
echo "$out"
check "three mistakes exit 78" test "$rc" = 78
check "three mistakes give three FILE:LINE lines" \
	test "$(grep -cE "^$T/bad.conf:[0-9]+: \[" <<<"$out")" = 3
check "unknown key named with its line" grep -qE "^$T/bad.conf:8: \[gateway\] colour: " <<<"$out"
check "bad baud named with its line" grep -qE "^$T/bad.conf:12: \[bus rs485-1\] baud: " <<<"$out"
check "bad unit named with its line" grep -qE "^$T/bad.conf:15: \[sensor sump-1\] unit: " <<<"$out"

# The demo shelter served by the simulator.  Response timeouts of 2 s, not
# 200 ms: a retry on a busy machine would add a request to the count below.
demo_conf "$T/demo.conf"
sed -i 's/^timeout = 200ms$/timeout = 2s/' "$T/demo.conf"
start_sim "$T/demo.conf"
simctl set sump-east level_m 0.42 >/dev/null
simctl set sump-west level_m 0.87 >/dev/null
simctl set co2-shelter co2_ppm 850 >/dev/null
simctl set smoke-power-room smoke fault >/dev/null
simctl set door-1 locked 0 >/dev/null      # closed, not locked
simctl set door-2 closed 0 >/dev/null      # open
simctl set door-2 locked 0 >/dev/null
simctl set smoke-relay smoke fire >/dev/null
simctl set leak-ramp wet 1 >/dev/null
simctl stats reset >/dev/null

once=$("$GW" -c "$T/demo.conf" --once 2>"$T/once.err"); rc=$?
echo "$once"
check "--once exits 0 when every sensor answered" test "$rc" = 0
check "--once prints one line per sensor" test "$(grep -c '^{' <<<"$once")" = 8
check "every sensor quality good" test "$(grep -c '"quality":"good"' <<<"$once")" = 8
line() { grep "\"sensor\":\"$1\"" <<<"$once"; }
check "sump-east level over RTU" test "$(json_field "$(line sump-east)" level_m)" = 0.42
check "sump-east percent of pit" test "$(json_field "$(line sump-east)" level_pct)" = 35
check "sump-west level over RTU" test "$(json_field "$(line sump-west)" level_m)" = 0.87
check "co2 over Modbus TCP" test "$(json_field "$(line co2-shelter)" co2_ppm)" = 850
check "RS-485 smoke detector fault" test "$(json_field "$(line smoke-power-room)" smoke)" = fault
check "door-1 closed not locked" test "$(json_field "$(line door-1)" door)" = closed
check "door-2 open" test "$(json_field "$(line door-2)" door)" = open
check "smoke relay on the DI module fire" test "$(json_field "$(line smoke-relay)" smoke)" = fire
check "leak contact wet" test "$(json_field "$(line leak-ramp)" wet)" = true
check "door contacts object" grep -q '"contacts":{"closed":true,"locked":false,"open":false}' <<<"$(line door-1)"

# One poll cycle = the coalesced plan: 5 requests, one FC02 for the whole DI module.
stats=$(simctl stats)
echo "$stats"
planned=$("$GW" -c "$T/demo.conf" --check | sed -nE 's/.* ([0-9]+) poll requests? per cycle/\1/p')
served=$(grep -oE 'requests=[0-9]+' <<<"$stats" | cut -d= -f2 | awk "{s+=\$1} END {print s}")
check "requests in one cycle equal the plan ($planned)" test "$served" = "$planned"
check "DI module shared by 4 sensors read with one FC02" grep -qE '^rs485-2 10 FC02 requests=1$' <<<"$stats"

# A sensor that does not answer: --once reports it comm_lost and exits 1.
simctl fault sump-west mute >/dev/null
once=$("$GW" -c "$T/demo.conf" --once 2>/dev/null); rc=$?
check "--once exits 1 when a sensor is silent" test "$rc" = 1
check "silent sensor printed as comm_lost" grep -q '"sensor":"sump-west","kind":"water_level","quality":"comm_lost"' <<<"$once"
check "others still good" test "$(grep -c '"quality":"good"' <<<"$once")" = 7
