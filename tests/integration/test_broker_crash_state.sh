#!/bin/bash
# A broker crash must not erase the centre's view (issue 9 defect 3): two
# alarms raised and delivered, mosquitto SIGKILLed before its autosave
# (persistence on, autosave_interval 60 as conf/mosquitto.conf.example) and
# restarted: after the gateway reconnects, the retained alarm/# list is back,
# each alarm's last transition exactly as it was (same seq, same bytes).
. "$(dirname "$0")/lib.sh"

BROKER_PORT=$(free_port)
mkdir -p "$T/mosquitto"
cat >"$T/mosquitto.conf" <<CONF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
user $(id -un)
log_dest file $T/mosquitto.log
persistence true
persistence_location $T/mosquitto/
autosave_interval 60
CONF
start_crashable_broker() {
	bg "broker-$1" /usr/sbin/mosquitto -c "$T/mosquitto.conf"
	BROKER_PID=$LAST_PID
	wait_for 10 port_open "$BROKER_PORT" || { fail "mosquitto did not start"; exit 1; }
}
retained_alarms() {
	timeout 5 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$BASE/alarm/#" -v \
		--retained-only -W 2 2>/dev/null | sort
}
start_crashable_broker 1
demo_conf "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s/' "$T/demo.conf"
sed -i '/^\[sensor door-2\]/,/^locked_input/ s/^locked_input.*/&\nclosed_not_locked_delay = 0s/' "$T/demo.conf"
start_sim "$T/demo.conf"
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 15 log_grew 'mqtt: sync' 0
simctl set leak-ramp wet 1 >/dev/null
simctl set door-2 locked 0 >/dev/null
two_alarms() { test "$(retained_alarms | grep -c -e 'leak-ramp/leak ' -e 'door-2/closed_not_locked ')" = 2; }
for i in 1 2 3 4 5 6 7 8; do two_alarms && break; sleep 1; done
retained_alarms >"$T/before.txt"
cat "$T/before.txt" | cut -c1-160
check "two alarms delivered and retained" two_alarms

sleep 2
kill -KILL "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
start_crashable_broker 2
check "the crashed broker lost the retained alarms (no autosave yet)" \
	test "$(retained_alarms | wc -l)" -lt "$(wc -l <"$T/before.txt")"
wait_for 40 log_grew 'mqtt: connected' 1
same_state() { retained_alarms >"$T/after.txt"; cmp -s "$T/before.txt" "$T/after.txt"; }
# (each look takes up to 2 s: --retained-only waits that long when none is there)
for i in 1 2 3 4 5 6; do same_state && break; sleep 1; done
grep -E 'mqtt' "$T/gateway.log" | tail -4
diff "$T/before.txt" "$T/after.txt" | cut -c1-160
check "after the reconnect the retained alarm state is back, same seq and bytes" same_state
# A clean broker restart keeps the retained alarms: the gateway's own seqs
# coming back are no sign of storage trouble.
n=$(grep -c 'mqtt: sync' "$T/gateway.log")
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
start_crashable_broker 3
wait_for 40 log_grew 'mqtt: sync' "$n"
grep 'mqtt: sync' "$T/gateway.log" | tail -1
check "a reconnect that finds the gateway's own seqs raises no gateway/disk" \
	bash -c "! grep -q 'ALARM raised gateway disk' '$T/gateway.log'"
kill -TERM "$GW_PID"; wait "$GW_PID"
check "orderly stop" test $? = 0
