#!/bin/bash
# systemd integration without systemd: READY=1 and WATCHDOG=1 through a
# NOTIFY_SOCKET the test listens on; the pings stop when a bus thread hangs;
# SIGHUP with a valid config applies it and keeps the alarm state, with an
# invalid one keeps the running configuration.
. "$(dirname "$0")/lib.sh"

start_broker
demo_conf "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s/' "$T/demo.conf"
# A short CO2 warm-up, to see that a reload does not start it again.
sed -i '/^\[sensor co2-shelter\]/,/^location/ s/^location.*/&\nwarmup = 3s/' "$T/demo.conf"
start_sim "$T/demo.conf"

# notify_listen NAME: datagrams to $T/NAME.sock are appended to $T/NAME.msgs.
notify_listen() {
	bg "notify-$1" socat -u "UNIX-RECV:$T/$1.sock" "OPEN:$T/$1.msgs,creat,append"
	wait_for 5 test -S "$T/$1.sock"
}
pings() { grep -o 'WATCHDOG=1' "$T/$1.msgs" 2>/dev/null | wc -l; }
pings_at_least() { test "$(pings "$1")" -ge "$2"; }

# A healthy gateway: READY, then a ping every second (WATCHDOG_USEC 2 s).
notify_listen ok
NOTIFY_SOCKET=$T/ok.sock WATCHDOG_USEC=2000000 bg gateway "$GW" -c "$T/demo.conf" -v
GW_PID=$LAST_PID
wait_for 10 grep -q 'READY=1' "$T/ok.msgs"
check "READY=1 is sent once the buses are started" grep -q 'READY=1' "$T/ok.msgs"
sleep 4
a=$(pings ok); sleep 3; b=$(pings ok)
echo "watchdog pings: $a, 3 s later $b"
check "WATCHDOG=1 keeps arriving while every thread progresses" \
	wait_for 10 pings_at_least ok $((a + 2))

# SIGHUP with a valid new config: a new location, a longer interval; the
# active leak alarm carries over (not raised again, not cleared).
simctl set leak-ramp wet 1 >/dev/null
wait_for 10 grep -q 'ALARM raised leak-ramp leak' "$T/gateway.log"
sed -i 's/^location = B1 东侧集水坑$/location = B1 东侧集水坑（已改）/' "$T/demo.conf"
wait_for 10 grep -q '"sensor":"co2-shelter".*"quality":"good"' "$T/gateway.log"
kill -HUP "$GW_PID"
wait_for 10 grep -q 'reloaded' "$T/gateway.log"
grep -E 'reload|SIGHUP' "$T/gateway.log"
check "SIGHUP with a valid config reloads it" grep -q "reloaded $T/demo.conf: 8 sensors on 3 buses" "$T/gateway.log"
check "alarm state kept across the reload" grep -qE 'alarm state kept for 8 sensors \(1 active\)' "$T/gateway.log"
check "RELOADING=1 then READY=1 sent" grep -q 'RELOADING=1' "$T/ok.msgs"
sleep 3
check "the active alarm is not raised again" test "$(grep -c 'ALARM raised leak-ramp leak' "$T/gateway.log")" = 1
check "the active alarm is not cleared by the reload" bash -c "! grep -q 'ALARM cleared leak-ramp leak' '$T/gateway.log'"
check "the CO2 warm-up does not start again on reload" \
	bash -c "sed -n '/reloaded/,\$p' '$T/gateway.log' | grep '\"sensor\":\"co2-shelter\"' | head -n 3 | grep -vq warming_up"
check "polling resumes with the new configuration" wait_for 10 bash -c "test \$(grep -c 'bus rs485-1: connected' '$T/gateway.log') -ge 2"

# SIGHUP with an invalid config: clear error, the running one stays.
cp "$T/demo.conf" "$T/demo.conf.good"
printf '\n[sensor broken]\nbus = nowhere\n' >>"$T/demo.conf"
kill -HUP "$GW_PID"
wait_for 10 grep -q 'keeping the running configuration' "$T/gateway.log"
check "SIGHUP with an invalid config names the problem" grep -q "$T/demo.conf:[0-9]*: \[sensor broken\]" "$T/gateway.log"
check "and keeps the running configuration" grep -q 'keeping the running configuration' "$T/gateway.log"
polled() { simctl stats | grep -E '^rs485-1 1 ' | cut -d= -f2; }
polled_more() { test "$(polled)" -gt "$1"; }
c1=$(polled)
check "still polling after the rejected reload ($c1 requests before)" wait_for 10 polled_more "$c1"
cp "$T/demo.conf.good" "$T/demo.conf"
kill -TERM "$GW_PID"; wait "$GW_PID"
check "STOPPING=1 sent on SIGTERM" grep -q 'STOPPING=1' "$T/ok.msgs"

# Under systemd (JOURNAL_STREAM set) each line carries its syslog priority,
# so journald files alarms and outages at the right level.
JOURNAL_STREAM=1:1 timeout 3 "$GW" -c "$T/demo.conf" >/dev/null 2>"$T/journal.log"
head -n 3 "$T/journal.log"
check "under journald lines carry a <N> priority prefix" grep -q '^<6>shelter-gateway' "$T/journal.log"
check "and no plain level word" bash -c "! grep -qE '^(info|warning|error): ' '$T/journal.log'"

# A bus thread that hangs: the pings stop.
notify_listen stall
SHELTER_GATEWAY_TEST_STALL_BUS=rs485-1 NOTIFY_SOCKET=$T/stall.sock WATCHDOG_USEC=2000000 \
	bg gateway-stall "$GW" -c "$T/demo.conf" -v
GW_PID=$LAST_PID
wait_for 15 grep -q 'no progress' "$T/gateway-stall.log"
grep -E 'stall|progress' "$T/gateway-stall.log"
a=$(pings stall); sleep 4; b=$(pings stall)
echo "pings once stalled: $a, 4 s later $b"
check "a stuck bus thread is reported" grep -q 'bus rs485-1: no progress' "$T/gateway-stall.log"
check "WATCHDOG=1 stops while a bus thread is stuck" test "$b" = "$a"
wait_for 15 grep -q 'ALARM raised sump-east comm_lost' "$T/gateway-stall.log"
check "the sensors of a stuck poller are reported comm_lost" \
	grep -q 'bus rs485-1 unit 1: no poll result for .* comm lost' "$T/gateway-stall.log"
check "and raise comm_lost alarms" grep -q 'ALARM raised sump-east comm_lost' "$T/gateway-stall.log"
check "sensors on the other buses are not affected" bash -c "! grep -q 'ALARM raised door-1 comm_lost' '$T/gateway-stall.log'"
kill -TERM "$GW_PID"; wait "$GW_PID"; rc=$?
check "the stalled gateway still stops cleanly on SIGTERM (exit $rc)" test "$rc" = 0
