#!/bin/bash
# make bench, after an outage: the demo shelter (8 sensors) with a real
# mosquitto that logs every PUBLISH it receives, in order.  The broker is
# stopped for OUTAGE_S seconds (default 30) while the water leak on the
# ramp comes and goes (4 alarm transitions of one sensor) and a sump level
# moves (readings pile up); then it comes back.  Prints how long the
# gateway took to reconnect and, in the order the broker received them,
# how many backlog readings went out before each waiting alarm.  Printed,
# never asserted.
. "$(dirname "$0")/../integration/lib.sh"
GW=${BENCH_GW:-$GW}
OUTAGE=${OUTAGE_S:-30}

BROKER_PORT=$(free_port)
mosquitto_conf "$T/mosquitto.conf" "$BROKER_PORT"
printf 'log_type all\nconnection_messages true\n' >>"$T/mosquitto.conf"
broker() {
	bg "broker-$1" /usr/sbin/mosquitto -c "$T/mosquitto.conf"
	BROKER_PID=$LAST_PID
	wait_for 10 port_open "$BROKER_PORT" || { echo "mosquitto did not start"; exit 1; }
}
broker 1
demo_conf "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
start_sim "$T/demo.conf"
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 15 log_grew 'mqtt: connected' 0 || { echo "the gateway did not connect"; exit 1; }
sleep 3

kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
step=$((OUTAGE / 6))
for i in 1 2 3 4 5 6; do
	case $i in 1 | 3) simctl set leak-ramp wet 1 >/dev/null ;; 2 | 4) simctl set leak-ramp wet 0 >/dev/null ;; esac
	simctl set sump-east level_m "0.$((30 + i))" >/dev/null
	sleep "$step"
done
sleep $((OUTAGE - 6 * step))
mark=$(wc -l <"$T/gateway.log")
bmark=$(wc -l <"$T/mosquitto.log")
broker 2
t0=$(date +%s%N)
wait_for 60 bash -c "tail -n +$((mark + 1)) '$T/gateway.log' | grep -q 'mqtt: connected'"
back_ms=$((($(date +%s%N) - t0) / 1000000))
sleep 5
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null

# The second broker's log: PUBLISH lines from the gateway, in order.
tail -n +$((bmark + 1)) "$T/mosquitto.log" | grep -a "Received PUBLISH from demo-dongfeng-b1" |
	sed -E "s/.*'([^']*)'.*/\1/" >"$T/order.txt"
alarms=$(grep -c '/alarm/leak-ramp/' "$T/order.txt")
readings=$(grep -c '/reading/' "$T/order.txt")
before=$(awk '/\/reading\// {r++} /\/alarm\/leak-ramp\// {printf "%s%d", n++ ? ", " : "", r}' "$T/order.txt")
echo "after a ${OUTAGE} s broker outage (demo shelter, 8 sensors):"
echo "  reconnected ${back_ms} ms after the broker was back"
echo "  ${alarms} leak-ramp alarm publishes and ${readings} readings sent after the reconnect; readings before each alarm: ${before:-none}"
