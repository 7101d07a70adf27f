#!/bin/bash
# make demo: one summer evening in the demo shelter, on this machine only.
#
# Starts, in a temp dir and on free 127.0.0.1 ports: a mosquitto broker,
# influxd when installed (the gateway's [influx] output), two socat pty pairs
# standing in for the RS-485 lines, shelter-sim serving the shelter's sensors
# and playing sensors/sim/scenarios/evening.scn, and shelter-gateway with the
# demo config (conf/demo.conf with short alarm delays).  In the foreground
# runs shelter-watch, showing what the property manager sees, and a line
# each time the relays on site switch (the ramp siren, the LED sign, the
# sump pump: the do8 module's coils as the simulator holds them); halfway
# through the property manager acknowledges the fire and the water alarms
# with `shelter-watch ack`, and the siren goes quiet.
# shelter-notify delivers the alarms to a local stand-in of the property's
# WeCom group, printed (boxed) as a phone shows them, and escalates what
# nobody acknowledges to the community's DingTalk group after DEMO_ESCALATE
# seconds (default 25).
#
# Ends by itself after DEMO_SECONDS (default 100, at least 30) or on Ctrl-C,
# and stops everything it started by PID and removes the temp dir.
# BUILD=dir uses binaries from there (default build/); DEMO_LANG=en shows the
# watcher in English.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DEMO_SECONDS=${DEMO_SECONDS:-100}
DEMO_LANG=${DEMO_LANG:-zh}
SCENARIO=$ROOT/sensors/sim/scenarios/evening.scn
SCENARIO_SECONDS=100 # its length at --speed 1
GW=$BUILD/shelter-gateway
SIM=$BUILD/shelter-sim
WATCH=$BUILD/shelter-watch
NOTIFY=$BUILD/shelter-notify
ROBOT=$BUILD/tests/robot-standin
DEMO_ESCALATE=${DEMO_ESCALATE:-25}
BASE=shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

case $DEMO_SECONDS in '' | *[!0-9]*) echo "demo: DEMO_SECONDS must be a number of seconds" >&2; exit 64 ;; esac
[ "$DEMO_SECONDS" -lt 30 ] && DEMO_SECONDS=30
case $DEMO_LANG in zh | en) ;; *) echo "demo: DEMO_LANG is zh or en" >&2; exit 64 ;; esac

if [ ! -x "$GW" ] || [ ! -x "$SIM" ] || [ ! -x "$WATCH" ] || [ ! -x "$NOTIFY" ] || [ ! -x "$ROBOT" ] ||
	[ ! -x "$BUILD/shelter-report" ]; then
	echo "demo: building into $BUILD"
	make -C "$ROOT" -s B="$BUILD" all "$BUILD/tests/robot-standin" || exit 1
fi
for tool in /usr/sbin/mosquitto socat; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is not installed (make deps)" >&2; exit 1; }
done

D=$(mktemp -d /tmp/shelter-demo.XXXXXX)
PIDS=()
STOPPING=0

# Stop what we started, newest first, by PID; then remove the temp dir.
cleanup() {
	local i p
	[ "$STOPPING" = 1 ] && return
	STOPPING=1
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[i]}
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$D"
}
on_interrupt() {
	echo
	echo "demo: interrupted, stopping"
	cleanup
	exit 130
}
trap cleanup EXIT
trap on_interrupt INT TERM

die() {
	echo "demo: $*" >&2
	local log
	for log in "$D"/*.log; do
		[ -s "$log" ] && { echo "--- ${log##*/}" >&2; tail -n 5 "$log" >&2; }
	done
	exit 1
}

SVC_DIR=$D
. "$ROOT/scripts/services.sh"

MQTT_PORT=$(free_port)
SIM_PORT=$(free_port)
SPEED=$(awk -v s="$SCENARIO_SECONDS" -v d="$DEMO_SECONDS" 'BEGIN { printf "%.3f", s / d }')

cat <<EOF

  shelter-gateway demo: a summer evening in 东风小区地下人防工程（演示）
  ---------------------------------------------------------------------
  An underground civil-defence shelter, used as a parking garage, in a
  rainstorm.  Its sensors are simulated (shelter-sim, over Modbus RTU on
  pty pairs and Modbus TCP); shelter-gateway polls them, runs the alarm
  logic and publishes alarms to a local MQTT broker.  Below is what the
  property manager (物业) sees in shelter-watch: the active alarms first,
  then every alarm as it is raised, acknowledged and cleared; boxed, the
  messages shelter-notify puts on their phones in the property's WeCom
  group, and in the community's DingTalk group what nobody acknowledged
  within ${DEMO_ESCALATE} s (叫应).

  The evening (${DEMO_SECONDS} s): heavy rain fills the sump pit, water runs
  onto the ramp floor, a blast door's contacts disagree, smoke in the power
  room; the ramp siren and the LED sign ("车库进水 禁止驶入") switch on; the
  property manager acknowledges the alarms and the siren goes quiet, the
  sign stays lit until the water is gone; the pumps catch up.

  Everything runs on 127.0.0.1 in $D (MQTT port $MQTT_PORT).
  Ctrl-C stops it early.

EOF

# --- the broker ---
mosquitto_conf "$D/mosquitto.conf" "$MQTT_PORT"
bg mosquitto /usr/sbin/mosquitto -c "$D/mosquitto.conf"
wait_for 10 port_open "$MQTT_PORT" || die "mosquitto did not start"

# --- the demo config: conf/demo.conf on our ports and paths, short delays ---
CONF=$D/demo.conf
demo_shelter_conf "$CONF" "$SIM_PORT" "$MQTT_PORT"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$CONF"
# override SENSOR KEY=VALUE...: alarm overrides (see conf/gateway.conf),
# inserted right after the sensor's section header.
override() {
	local sensor=$1 kv; shift
	for kv in "$@"; do sed -i "/^\[sensor $sensor\]/a ${kv%%=*} = ${kv#*=}" "$CONF"; done
}
# rising_fast stays on: it sees the rain's rise from the first readings.
override sump-east high_delay=3s high_clear_delay=5s high_high_delay=2s
override leak-ramp leak_delay=2s leak_clear_delay=5s

# --- the phones: WeCom and DingTalk group stand-ins, and shelter-notify ---
ROBOT_PORT=$(free_port)
bg robots "$ROBOT" --port "$ROBOT_PORT" --log "$D/robots.jsonl" --print \
	--wecom WANKE=万科物业值班群 --dingtalk DONGFENG=SECdemo0123456789 --name DONGFENG=东风社区网格群
wait_for 10 port_open "$ROBOT_PORT" || die "the robot stand-in did not start"
printf '%s\n' "http://127.0.0.1:$ROBOT_PORT/cgi-bin/webhook/send?key=WANKE" >"$D/wecom.url"
printf '%s\n' "http://127.0.0.1:$ROBOT_PORT/robot/send?access_token=DONGFENG" >"$D/dingtalk.url"
printf 'SECdemo0123456789\n' >"$D/dingtalk.secret"
chmod 600 "$D"/*.url "$D/dingtalk.secret"
mkdir -p "$D/notify"
cat >"$D/notify.conf" <<NOTIFYCONF
[notify]
state_dir = $D/notify
offline_after = 30s
[mqtt]
uri = tcp://127.0.0.1:$MQTT_PORT
client_id = demo-notify
[channel wecom-wanke]
type = wecom
url_file = $D/wecom.url
[channel dingtalk-dongfeng]
type = dingtalk
url_file = $D/dingtalk.url
secret_file = $D/dingtalk.secret
[route wanke]
name = 万科物业
subtree = zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye
events = raised, acknowledged, cleared, offline, online
channels = wecom-wanke
escalate_after = ${DEMO_ESCALATE}s
escalate_to = dongfeng
[route dongfeng]
name = 东风社区
subtree = zhengzhou/jinshui/fengchan/dongfeng
min_severity = major
events = offline
channels = dingtalk-dongfeng
NOTIFYCONF
bg notify "$NOTIFY" -c "$D/notify.conf"
wait_for 10 grep -q 'synchronised' "$D/notify.log" || die "shelter-notify did not start"

# --- influxd, when installed: the gateway's InfluxDB output ---
INFLUX_NOTE="not installed: no InfluxDB output"
if [ -x /usr/bin/influxd ]; then
	HTTP_PORT=$(free_port)
	influxd_conf "$D/influxdb.conf" "$D/influx" "$HTTP_PORT" "$(free_port)"
	bg influxd /usr/bin/influxd -config "$D/influxdb.conf"
	INFLUX_URL=http://127.0.0.1:$HTTP_PORT
	if wait_for 15 curl -sf -o /dev/null "$INFLUX_URL/ping" &&
		curl -sf -o /dev/null -XPOST "$INFLUX_URL/query" --data-urlencode "q=CREATE DATABASE shelter"; then
		printf '\n[influx]\nurl = %s\ndatabase = shelter\n' "$INFLUX_URL" >>"$CONF"
		INFLUX_NOTE="$INFLUX_URL, database shelter"
	else
		INFLUX_NOTE="did not start: skipped"
	fi
fi
"$GW" -c "$CONF" --check >"$D/check.log" 2>&1 || die "the demo config is not valid: $(head -n 3 "$D/check.log")"

# --- the simulated sensors: two RS-485 lines (pty pairs) and Modbus TCP ---
for bus in rs485-1 rs485-2; do
	pty_pair "$bus" || die "socat pty pair $bus did not start"
done
bg sim "$SIM" -c "$CONF" --serial "rs485-1=$D/rs485-1-sim" --serial "rs485-2=$D/rs485-2-sim" \
	--control "$D/sim.sock" --speed "$SPEED"
wait_for 10 test -S "$D/sim.sock" || die "shelter-sim did not start"
simctl() { "$SIM" --ctl "$D/sim.sock" "$@" >/dev/null; }

echo "  InfluxDB: $INFLUX_NOTE"
echo
# --- the property manager's screen: everything of the property ---
bg watch "$WATCH" --broker "tcp://127.0.0.1:$MQTT_PORT" --lang "$DEMO_LANG" \
	"shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/#"
WATCH_LOG=$D/watch.log
wait_for 10 grep -q '── .*Ctrl-C' "$WATCH_LOG" || die "shelter-watch did not start"
tail -n +1 -f "$WATCH_LOG" &
PIDS+=("$!")
tail -n +1 -f "$D/robots.log" &
PIDS+=("$!")

# --- the relays on site: a line whenever the do8 module's coils change ---
relays() {
	local last="" now o state
	while :; do
		now=""
		for o in ramp-siren ramp-sign sump-pump; do
			state=$("$SIM" --ctl "$D/sim.sock" get "$o" 2>/dev/null)
			case $state in "ok on=1") now+="$o ON  " ;; "ok on=0") now+="$o off  " ;; *) now+="$o ?  " ;; esac
		done
		[ "$now" != "$last" ] && printf '  ◆ 现场联动 relays on site: %s\n' "$now"
		last=$now
		sleep 0.3
	done
}
relays &
PIDS+=("$!")

# --- the gateway (the watcher shows it coming online) ---
DEMO_START=$(date +%s) # the evening's review starts on this day
bg gateway "$GW" -c "$CONF"
wait_for 15 grep -q 'connected to' "$D/gateway.log" || die "shelter-gateway did not connect to the broker"

# --- the evening ---
simctl play "$SCENARIO" || die "shelter-sim did not take $SCENARIO"
T0=$(date +%s.%N)

# until_scene SCENARIO_TIME: sleep until that point of the scenario (scaled by SPEED).
until_scene() {
	local left
	left=$(awk -v t0="$T0" -v now="$(date +%s.%N)" -v at="$1" -v sp="$SPEED" \
		'BEGIN { l = t0 + at / sp - now; if (l < 0) l = 0; printf "%.2f", l }')
	sleep "$left"
}
say() { printf '\n  ▶ %s\n\n' "$*"; }

until_scene 0;  say "傍晚，一切正常 A quiet summer evening: sump pit at 0.30 m, doors closed and locked."
until_scene 5;  say "暴雨 Heavy rain: the sump pit fills faster than the pumps can empty it."
until_scene 20; say "雨水沿坡道流入车库 Rain water runs down the ramp onto the garage floor."
until_scene 30; say "1号人防门 Blast door 1: its 'locked' contact says locked, its 'closed' contact says open."
until_scene 50; say "配电间冒烟 Smoke in the power room: water has reached a junction box."
until_scene 56
if wait_for 10 grep -q 'smoke-power-room.*\(火警\|fire\)' "$WATCH_LOG"; then
	say "物业王经理 The property manager checks the power room and acknowledges the fire:"
	echo "  \$ shelter-watch ack --by 物业王经理 $BASE/alarm/smoke-power-room/fire"
	"$WATCH" ack --broker "tcp://127.0.0.1:$MQTT_PORT" --by 物业王经理 \
		"$BASE/alarm/smoke-power-room/fire" 2>&1 | sed 's/^/  /'
	say "物业王经理 sends people away from the ramp and acknowledges the water alarms: the siren goes quiet, the sign stays lit."
	for a in leak-ramp/leak sump-east/high_high; do
		echo "  \$ shelter-watch ack --by 物业王经理 $BASE/alarm/$a"
		"$WATCH" ack --broker "tcp://127.0.0.1:$MQTT_PORT" --by 物业王经理 "$BASE/alarm/$a" 2>&1 | sed 's/^/  /'
	done
else
	say "(the fire alarm did not arrive: see $D/gateway.log)"
fi
until_scene 62; say "水泵追上来了 The pumps catch up: the sump level falls."
until_scene 75; say "烟散了 The smoke clears (the fire alarm stayed latched until acknowledged)."
until_scene 80; say "坡道变干 The ramp dries."
until_scene "$SCENARIO_SECONDS"
say "演示结束 End of the evening.  Door 1's contact fault stays for the maintenance crew."
if [ -n "${INFLUX_URL:-}" ] && [ "${INFLUX_NOTE#http}" != "$INFLUX_NOTE" ]; then
	points=$(curl -sf -G "$INFLUX_URL/query" --data-urlencode "db=shelter" \
		--data-urlencode "q=SELECT count(level_m) FROM water_level" | jq -r '.results[0].series[0].values[0][1] // 0' 2>/dev/null)
	echo "  InfluxDB holds ${points:-0} water-level readings of this evening."
	# The evening's review for the property (shelter-report), kept in the build dir.
	REVIEW=$BUILD/demo-review.html
	sleep 2 # the gateway's last InfluxDB batch
	# Its days in China Standard Time, from the day the evening began (it
	# may have crossed midnight) to the day after it ended.
	if "$BUILD/shelter-report" -c "$CONF" --subtree "$(dirname "${BASE#shelter/}")" \
		--from "$(date -u -d "@$((DEMO_START + 8 * 3600))" +%F)" --to "$(date -u -d '+32 hours' +%F)" \
		-o "$REVIEW"; then
		echo "  The evening's review for the property (shelter-report): $REVIEW"
	else
		echo "  The evening's review for the property could not be made (shelter-report: see above)."
	fi
fi
echo "  Stopping everything."
cleanup
exit 0
