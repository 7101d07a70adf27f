#!/bin/bash
# Unit ids on a bus (issue 9, defects 7 and 13), against shelter-sim over
# real TCP and RTU (socat ptys):
# - an answer that comes from another unit (a TCP/RTU converter passing on
#   the wrong device) is a failed poll of the sensor asked, never its data,
#   and does not touch its bus neighbours or the link;
# - `--check` refuses a Modbus TCP unit libmodbus cannot address (248..254)
#   with FILE:LINE, and in the poller one request that cannot be made fails
#   only its own sensor (tests/unit/test_poller.c, run here with the peers).
. "$(dirname "$0")/lib.sh"

demo_conf "$T/demo.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/demo.conf"
# A second CO2 sensor on the TCP bus: the one whose data a wrong answer carries.
cat >>"$T/demo.conf" <<'CONF'

[sensor co2-2]
bus = tcp-1
unit = 2
kind = co2
model = co2-senseair-s8
interval = 1s
location = B1 second CO2
CONF

# --check: TCP units 248..254 are refused where they are written.
line=$(grep -n '^unit = 2$' "$T/demo.conf" | tail -n 1 | cut -d: -f1)
sed "${line}s/.*/unit = 250/" "$T/demo.conf" >"$T/bad-unit.conf"
"$GW" -c "$T/bad-unit.conf" --check >"$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
check "--check refuses TCP unit 250 (libmodbus cannot address it): exit 78" test "$rc" = 78
check "... with FILE:LINE and the units it takes (in Chinese: the file says language = zh)" \
	grep -q "^$T/bad-unit.conf:$line: \[sensor co2-2\] unit: 站号 250 超出 tcp 总线 tcp-1 的范围（0..247 或 255）" "$T/check.out"
sed "${line}s/.*/unit = 255/" "$T/demo.conf" >"$T/unit-255.conf"
check "--check takes TCP unit 255 (MODBUS_TCP_SLAVE)" "$GW" -c "$T/unit-255.conf" --check

start_sim "$T/demo.conf"
simctl set co2-2 co2_ppm 4800 >/dev/null

# The CO2 sensor at unit 1 answers as unit 2, with unit 2's 4800 ppm.
simctl fault co2-shelter unit 2 >/dev/null
"$GW" -c "$T/demo.conf" --once >"$T/once.out" 2>"$T/once.err"
rc=$?
cat "$T/once.out"
co2=$(grep '"sensor":"co2-shelter"' "$T/once.out")
check "TCP: another unit's answer is not taken as the sensor's data" \
	bash -c "! grep -q '4800' <<<'$co2'"
check "TCP: ... it is a failed poll of that sensor" grep -q '"quality":"comm_lost"' <<<"$co2"
check "TCP: the neighbour on the same connection reads normally" \
	grep -q '"sensor":"co2-2","kind":"co2","quality":"good","co2_ppm":4800' "$T/once.out"
check "--once exits 1 when a sensor did not answer" test "$rc" = 1

# The same on RTU (libmodbus checks the address there; kept so).
simctl fault co2-shelter none >/dev/null
simctl set sump-east level_m 1.1 >/dev/null
simctl fault sump-west unit 1 >/dev/null
"$GW" -c "$T/demo.conf" --once >"$T/once2.out" 2>/dev/null
check "RTU: another unit's answer is a failed poll" \
	grep -q '"sensor":"sump-west","kind":"water_level","quality":"comm_lost"' "$T/once2.out"
check "RTU: the unit that did answer reads normally" \
	grep -q '"sensor":"sump-east","kind":"water_level","quality":"good","level_m":1.1' "$T/once2.out"
simctl fault sump-west none >/dev/null

# The daemon: the sensor is lost after three polls, logged with the reason;
# the link stays up and the neighbour keeps reading.
simctl fault co2-shelter unit 2 >/dev/null
bg gateway "$GW" -c "$T/demo.conf" -v
GW_PID=$LAST_PID
wait_for 15 grep -q 'unit 1 (co2-shelter).*comm lost' "$T/gateway.log"
check "the daemon loses the sensor, naming the reason" \
	grep -q 'bus tcp-1 unit 1 (co2-shelter): read FC04 .*Response not from requested slave.*comm lost' "$T/gateway.log"
simctl stats reset >/dev/null
sleep 3
polled=$(simctl stats | grep -E '^tcp-1 2 FC04 requests=' | cut -d= -f2)
echo "co2-2 polled ${polled:-0} times in 3 s"
check "the neighbour keeps its 1 s interval (${polled:-0} polls in 3 s)" test "${polled:-0}" -ge 2
check "... and never fails a poll" bash -c "! grep -q 'unit 2 (co2-2)' '$T/gateway.log'"
check "a wrong unit's answer is not a link error" bash -c "! grep -q 'bus tcp-1: link error' '$T/gateway.log'"
check "the sensor's readings say comm_lost, never the other unit's value" \
	bash -c "! grep -q '\"sensor\":\"co2-shelter\".*4800' '$T/gateway.log'"
simctl fault co2-shelter none >/dev/null
wait_for 10 grep -q 'unit 1 (co2-shelter): answering again' "$T/gateway.log"
check "it recovers when the right unit answers" grep -q 'unit 1 (co2-shelter): answering again' "$T/gateway.log"
kill -TERM "$GW_PID"; wait "$GW_PID"

# The poller with a unit libmodbus refuses on both transports.
BUS_TEST_CONF=$T/demo.conf CK_RUN_CASE=poller "$BUILD/tests/test_poller" >"$T/test_poller.log" 2>&1
rc=$?
cat "$T/test_poller.log"
check "one request refused (unit 250) fails only its own sensor, on RTU and TCP" \
	eval "test $rc = 0 && grep -q '^100%: Checks: 1, Failures: 0, Errors: 0' '$T/test_poller.log'"
