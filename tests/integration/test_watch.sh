#!/bin/bash
# shelter-watch against a real mosquitto, shelter-sim and the gateway: the
# active alarms listed from the retained topics on start (an alarm raised
# before the watcher started), a live alarm shown as it is raised, --exec run
# once per new alarm with the alarm's JSON on stdin (not for the listing), an
# ack from `shelter-watch ack` reaching the gateway and coming back as
# acknowledged, duplicates (same gateway and seq) dropped, bad JSON ignored,
# readings not shown, the gateway going offline shown as a line.
. "$(dirname "$0")/lib.sh"

WATCH=$BUILD/shelter-watch
if [ ! -x "$WATCH" ]; then fail "shelter-watch not built ($WATCH)"; exit 1; fi

start_broker
demo_conf "$T/demo.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 1s\nleak_clear_delay = 2s/' "$T/demo.conf"
start_sim "$T/demo.conf"
BROKER=tcp://127.0.0.1:$BROKER_PORT
PUB=(mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1)

bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q 'connected to' "$T/gateway.log" || { fail "gateway did not connect"; cat "$T/gateway.log"; exit 1; }

# An alarm active before anyone watches: it must be in the list on start.
simctl set leak-ramp wet 1 >/dev/null
wait_for 15 grep -q 'ALARM raised leak-ramp leak' "$T/gateway.log" || { fail "leak not raised"; exit 1; }
# Retained at the broker (after the outbox commit and the publish).
retained_raised() {
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --retained-only -C 1 -W 2 -t "$BASE/alarm/leak-ramp/leak" 2>/dev/null |
		grep -q '"event":"raised"'
}
wait_for 15 retained_raised || { fail "leak not retained at the broker"; exit 1; }

mkdir -p "$T/exec"
# shellcheck disable=SC2016  # expanded by the CMD's shell
EXEC='f=$(mktemp '"$T"'/exec/run.XXXXXX); cat >"$f.json"; printf %s "$SHELTER_ALARM_TOPIC" >"$f.topic"'
bg watch "$WATCH" --broker "$BROKER" --lang en --exec "$EXEC" shelter/zhengzhou/jinshui/#
WATCH_PID=$LAST_PID
# A second watcher, in Chinese, whose CMD fails: the failure is logged.
bg watch-zh "$WATCH" --broker "$BROKER" --exec 'cat >/dev/null; exit 3' "$BASE/#"
wait_for 10 grep -q 'watching live' "$T/watch.log"
wait_for 10 grep -q '实时监视中' "$T/watch-zh.log"
cat "$T/watch.log"
check "the listing names the filter and counts the active alarm" \
	grep -q '^── shelter/zhengzhou/jinshui/#: 1 active ──$' "$T/watch.log"
check "the active leak is listed with severity, site, location, the value now and topic" \
	grep -qE '^[0-9:]{8} \[CRITICAL\] ACTIVE 东风小区地下人防工程（演示） \(dongfeng/wanke-wuye\) · leak-ramp \(B1 入口坡道底部 地面漏水检测\): water leak · now wet · (.* ago|just now)  ' "$T/watch.log"
check "the listing line carries the alarm topic (for ack)" \
	grep -q "ACTIVE .*  $BASE/alarm/leak-ramp/leak\$" "$T/watch.log"
check "the listing counts the gateway online" grep -q 'gateways: 1 online, 0 offline' "$T/watch.log"
check "the Chinese listing: display names (no slugs), the value now" \
	grep -q '【严重】当前报警 东风小区地下人防工程（演示） · B1 入口坡道底部 地面漏水检测：漏水 · 现在 有水 · ' "$T/watch-zh.log"
sleep 1
check "--exec does not run for the listed (retained) alarm" test -z "$(ls "$T/exec")"

# A live alarm: the fire.
simctl set smoke-power-room smoke fire >/dev/null
wait_for 15 grep -q 'RAISED .*smoke-power-room.*fire' "$T/watch.log"
check "a raised alarm is shown live, one line" \
	test "$(grep -c 'RAISED .*smoke-power-room (B1 配电间): fire' "$T/watch.log")" = 1
wait_for 10 grep -q '【严重】报警 .*smoke-power-room' "$T/watch-zh.log"   # the other watcher
check "the Chinese line of the raised fire" grep -q '【严重】报警 东风小区地下人防工程（演示） · B1 配电间：火警' "$T/watch-zh.log"
# The CMD writes the topic file last.
wait_for 10 bash -c "test -s \"\$(ls '$T'/exec/*.topic 2>/dev/null | head -n 1)\""
json=$(cat "$T"/exec/*.json 2>/dev/null)
echo "exec stdin: $json"
check "--exec ran once for the new alarm" test "$(ls "$T"/exec/*.json 2>/dev/null | wc -l)" = 1
check "--exec got the alarm's JSON on stdin" \
	jq -e '.gateway == "demo-dongfeng-b1" and .sensor == "smoke-power-room" and .alarm == "fire"
		and .event == "raised" and .active and .severity == "critical" and (.seq | type) == "number"
		and .site.name == "东风小区地下人防工程（演示）"' <<<"$json" >/dev/null
check "--exec got the alarm topic in \$SHELTER_ALARM_TOPIC" \
	test "$(cat "$T"/exec/*.topic)" = "$BASE/alarm/smoke-power-room/fire"
wait_for 5 grep -q 'exit status 3' "$T/watch-zh.log"
check "a failing --exec CMD is logged" grep -q 'warning: --exec for demo-dongfeng-b1 smoke-power-room fire seq [0-9]*: exit status 3' "$T/watch-zh.log"

# Duplicates: the broker delivering the same transition again (same seq).
fire=$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -C 1 -W 5 -t "$BASE/alarm/smoke-power-room/fire")
"${PUB[@]}" -t "$BASE/alarm/smoke-power-room/fire" -m "$fire"
"${PUB[@]}" -t "$BASE/alarm/smoke-power-room/fire" -m "$fire"
# Bad payloads on an alarm topic: ignored, with a warning.
"${PUB[@]}" -t "$BASE/alarm/smoke-power-room/fire" -m 'not json'
"${PUB[@]}" -t "$BASE/alarm/smoke-power-room/fire" -m '{"seq":"x"}'
# In order on one connection: once the last bad payload is seen, so are the duplicates.
wait_for 10 grep -q "warning: ignoring $BASE/alarm/smoke-power-room/fire: field \"seq\"" "$T/watch.log"
check "a duplicate (same gateway, seq) is dropped" \
	test "$(grep -c 'RAISED .*smoke-power-room (B1 配电间): fire' "$T/watch.log")" = 1
check "--exec not run again for the duplicate" test "$(ls "$T"/exec/*.json | wc -l)" = 1
check "bad JSON is ignored with a warning" grep -q "warning: ignoring $BASE/alarm/smoke-power-room/fire: not valid JSON" "$T/watch.log"
check "the watcher survives bad payloads" kill -0 "$WATCH_PID"
check "readings are not shown" bash -c "! grep -q reading '$T/watch.log'"

# Acknowledge the fire as the property manager.
"$WATCH" ack --broker "$BROKER" --by 物业王经理 "$BASE/alarm/smoke-power-room/fire" >"$T/ack.out" 2>&1
rc=$?
cat "$T/ack.out"
check "ack prints ok and exits 0" test "$rc" = 0 -a "$(cat "$T/ack.out")" = ok
check "the ack reached the gateway" grep -q 'command ack (id shelter-watch-[^)]*) by 物业王经理: ok' "$T/gateway.log"
wait_for 5 grep -q 'ACKNOWLEDGED' "$T/watch.log"
check "the ack comes back as acknowledged with who" \
	grep -q '\[CRITICAL\] ACKNOWLEDGED .*smoke-power-room (B1 配电间): fire acknowledged by 物业王经理' "$T/watch.log"
wait_for 5 grep -q '已确认' "$T/watch-zh.log"
check "... in Chinese" grep -q '【严重】已确认 .*火警已确认，操作人：物业王经理' "$T/watch-zh.log"
check "--exec does not run for an acknowledgement" test "$(ls "$T"/exec/*.json | wc -l)" = 1

# An ack the gateway refuses: error and exit 1.
"$WATCH" ack --broker "$BROKER" --by test "$BASE/alarm/sump-east/high" >"$T/ack2.out" 2>&1
rc=$?
cat "$T/ack2.out"
check "ack of an inactive alarm prints the gateway's error and exits 1" \
	test "$rc" = 1 -a "$(cat "$T/ack2.out")" = "error: alarm high of sump-east is not active"
"$WATCH" ack --broker "$BROKER" "$BASE/status" >/dev/null 2>&1
check "ack of a topic that is not an alarm is a usage error (64)" test $? = 64
"$WATCH" ack --broker "tcp://127.0.0.1:$(free_port)" "$BASE/alarm/smoke-power-room/fire" >"$T/ack3.out" 2>&1
rc=$?
check "ack without a broker: error, exit 1" test "$rc" = 1 && grep -q '^error: cannot connect' "$T/ack3.out"

# The broker restarts: the watcher reconnects and gets every retained topic
# again; no alarm it has shown is shown twice.  (The gateway's own status
# does change: the broker publishes its will on shutdown, then it reconnects.)
lines=$(wc -l <"$T/watch.log")
stop_broker
bg broker2 /usr/sbin/mosquitto -c "$T/mosquitto.conf"
wait_for 10 port_open "$BROKER_PORT"
wait_for 20 grep -q 'connected to .* again' "$T/watch.log"
wait_for 20 grep -q 'connected to .* again' "$T/watch-zh.log"
sleep 1
tail -n +$((lines + 1)) "$T/watch.log"
check "after a reconnect the watcher resubscribes" grep -q 'connected to .* again' "$T/watch.log"
check "after a reconnect no alarm is shown twice" \
	test "$(tail -n +$((lines + 1)) "$T/watch.log" | grep -c ' · ')" = 0
check "--exec not run again after the reconnect" test "$(ls "$T"/exec/*.json | wc -l)" = 1

# The leak dries: cleared live.
simctl set leak-ramp wet 0 >/dev/null
wait_for 10 grep -q 'CLEARED .*leak-ramp' "$T/watch.log"
check "a clear is shown" grep -q '\[CRITICAL\] CLEARED .*leak-ramp .*water leak cleared' "$T/watch.log"

# The gateway stops: offline through its will.
kill -TERM "$GW_PID"; wait "$GW_PID"
wait_for 10 grep -q 'gateway OFFLINE' "$T/watch.log"
check "the gateway going offline is a line" \
	grep -q '东风小区地下人防工程（演示） (demo-dongfeng-b1) gateway OFFLINE' "$T/watch.log"
wait_for 10 grep -q '网关离线' "$T/watch-zh.log"
check "... in Chinese" grep -q '（demo-dongfeng-b1） 网关离线' "$T/watch-zh.log"

kill -INT "$WATCH_PID"; wait "$WATCH_PID"
check "Ctrl-C stops the watcher with exit 0" test $? = 0
cat "$T/watch.log"
