#!/bin/bash
# A sensor taken out of the configuration while one of its alarms is raised:
# nothing would ever clear that alarm's retained message at the centre, so
# the gateway withdraws it (a "cleared" with reason "sensor_removed", next
# seq, durable before the state without the sensor).  By SIGHUP and by a
# restart with the edited file; only once; shelter-watch shows WITHDRAWN and
# no longer lists the alarm as active.  Real mosquitto, sim and gateway.
. "$(dirname "$0")/lib.sh"

WATCH=$BUILD/shelter-watch
start_broker
demo_conf "$T/demo.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s/' "$T/demo.conf"
# Without the demo's [output] sections (the last ones): they name the sensors
# removed below, and an output's `on` must name sensors that exist.
sed -i '/^\[output /,$d' "$T/demo.conf"
start_sim "$T/demo.conf"
BROKER=tcp://127.0.0.1:$BROKER_PORT

# Everything under the gateway's alarm topics, as the centre receives it.
start_sub sub -q 1 -v -t "$BASE/alarm/#"
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q 'connected to' "$T/gateway.log" || { fail "gateway did not connect"; cat "$T/gateway.log"; exit 1; }

# payload_of ALARM_TOPIC_SUFFIX EVENT: the last such message the subscriber saw.
payload_of() { grep "^$BASE/alarm/$1 " "$T/sub.log" | cut -d' ' -f2- | jq -c "select(.event == \"$2\")" | tail -n 1; }
# retained_has ALARM_TOPIC_SUFFIX TEXT: what a subscriber arriving now is
# told about that alarm contains TEXT.
retained_has() {
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --retained-only -C 1 -W 10 -t "$BASE/alarm/$1" 2>/dev/null | grep -q "$2"
}

# 1. By SIGHUP: the leak on the ramp is raised, then the sensor is removed.
simctl set leak-ramp wet 1 >/dev/null
wait_for 15 grep -q "^$BASE/alarm/leak-ramp/leak .*\"raised\"" "$T/sub.log" || { fail "leak not raised"; cat "$T/gateway.log"; exit 1; }
raised=$(payload_of leak-ramp/leak raised)
cp "$T/demo.conf" "$T/demo.conf.full"
sed -i '/^\[sensor leak-ramp\]/,/^$/d' "$T/demo.conf"
kill -HUP "$GW_PID"
wait_for 10 grep -q 'reloaded' "$T/gateway.log"
wait_for 10 bash -c "grep -q '^$BASE/alarm/leak-ramp/leak .*sensor_removed' '$T/sub.log'"
grep -E 'reloaded|leak-ramp' "$T/gateway.log"
w=$(payload_of leak-ramp/leak cleared)
echo "raised:    $raised"
echo "withdrawn: $w"
check "reload: the removed sensor's raised alarm is withdrawn" test -n "$w"
check "reload: event cleared, not active, reason sensor_removed" \
	test "$(echo "$w" | jq -r '[.event, .active, .reason] | join(" ")')" = "cleared false sensor_removed"
check "reload: same sensor, kind, alarm and severity as the raise" \
	test "$(echo "$w" | jq -c '[.sensor, .kind, .alarm, .severity]')" = "$(echo "$raised" | jq -c '[.sensor, .kind, .alarm, .severity]')"
check "reload: the withdrawal takes the next seq" test "$(echo "$w" | jq .seq)" = "$(( $(echo "$raised" | jq .seq) + 1 ))"
check "reload: the message says why, in the configured language" \
	test "$(echo "$w" | jq -r .message)" = "leak-ramp：漏水已撤销（传感器已从配置中移除）"
check "reload: the journal line" grep -q 'ALARM withdrawn leak-ramp leak (critical): leak-ramp：漏水已撤销' "$T/gateway.log"
check "reload: the retained message is now the withdrawal" retained_has leak-ramp/leak sensor_removed

# Another reload and a restart must not withdraw it again.
kill -HUP "$GW_PID"
wait_for 10 bash -c "test \$(grep -c reloaded '$T/gateway.log') -ge 2"
kill -TERM "$GW_PID"; wait "$GW_PID"
bg gateway-2 "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q 'connected to' "$T/gateway-2.log"
sleep 2
check "withdrawn once: not again on the next reload or restart" \
	test "$(grep -c "^$BASE/alarm/leak-ramp/leak .*sensor_removed" "$T/sub.log")" = 1

# 2. By restart: the fire (latching) is raised, the gateway stopped, the
# smoke detector taken out of the file, the gateway started again.
simctl set smoke-power-room smoke fire >/dev/null
wait_for 15 grep -q "^$BASE/alarm/smoke-power-room/fire .*\"raised\"" "$T/sub.log" || { fail "fire not raised"; cat "$T/gateway-2.log"; exit 1; }
simctl set smoke-power-room smoke normal >/dev/null   # latched: still raised
sleep 2
kill -TERM "$GW_PID"; wait "$GW_PID"
sed -i '/^\[sensor smoke-power-room\]/,/^$/d' "$T/demo.conf"
bg watch "$WATCH" --broker "$BROKER" --lang en "$BASE/#"
WATCH_PID=$LAST_PID
wait_for 10 grep -q 'watching live' "$T/watch.log"
bg gateway-3 "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 15 bash -c "grep -q '^$BASE/alarm/smoke-power-room/fire .*sensor_removed' '$T/sub.log'"
w=$(payload_of smoke-power-room/fire cleared)
echo "withdrawn: $w"
check "restart: the removed smoke detector's latched fire is withdrawn" \
	test "$(echo "$w" | jq -r '[.event, .active, .reason, .severity] | join(" ")')" = "cleared false sensor_removed critical"
check "restart: the retained message is now the withdrawal" retained_has smoke-power-room/fire sensor_removed
wait_for 10 grep -q 'WITHDRAWN' "$T/watch.log"
cat "$T/watch.log"
check "shelter-watch shows the withdrawal as such" \
	grep -q 'WITHDRAWN .* · smoke-power-room: fire withdrawn (sensor removed from the configuration)' "$T/watch.log"
kill "$WATCH_PID" 2>/dev/null
bg watch-2 "$WATCH" --broker "$BROKER" --lang en "$BASE/#"
wait_for 10 grep -q 'watching live' "$T/watch-2.log"
check "a watcher starting now lists neither alarm as active" \
	bash -c "! grep -E 'ACTIVE .*(leak-ramp|smoke-power-room)' '$T/watch-2.log'"

# Nothing lost on the way: every seq arrived, none reused, in order.
check_seqs "$T/sub.log" "alarm topics"
