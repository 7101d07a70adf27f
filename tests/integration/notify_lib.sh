# Helpers for shelter-notify's integration tests (sourced after lib.sh):
# the robot stand-ins, a notify.conf on this test's ports and files, the
# notifier started and SIGKILLed by PID, and reading the robots' log.
# Everything on 127.0.0.1.

NOTIFY=$BUILD/shelter-notify
ROBOT=$BUILD/tests/robot-standin
ALARMPUB=$BUILD/tests/alarmpub
for b in "$NOTIFY" "$ROBOT" "$ALARMPUB"; do
	[ -x "$b" ] || { fail "not built: $b"; exit 1; }
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# start_robot NAME ARGS...: a robot stand-in on a free port, its requests
# logged to $T/NAME.jsonl.  Sets ROBOT_PORT (and NAME_PORT), ROBOT_PID.
start_robot() {
	local name=$1; shift
	ROBOT_PORT=$(free_port)
	bg "$name" "$ROBOT" --port "$ROBOT_PORT" --log "$T/$name.jsonl" "$@"
	ROBOT_PID=$LAST_PID
	wait_for 10 port_open "$ROBOT_PORT" || { fail "robot stand-in $name did not start"; cat "$T/$name.log"; exit 1; }
	printf -v "${name//-/_}_PORT" %s "$ROBOT_PORT"
}

# secret_file NAME CONTENT: a file only we may read (as the real ones).
secret_file() {
	printf '%s\n' "$2" >"$T/$1"
	chmod 600 "$T/$1"
	echo "$T/$1"
}

# notify_conf OUT: the [notify] and [mqtt] sections for this test (state in
# $T/NAME-state); channels and routes are appended by the test.
# NOTIFY_EXTRA lines go into [notify], MQTT_EXTRA into [mqtt].
notify_conf() {
	local out=$1 state=${2:-$T/notify-state}
	mkdir -p "$state"
	cat >"$out" <<CONF
[notify]
state_dir = $state
offline_after = ${OFFLINE_AFTER:-3s}
${NOTIFY_EXTRA:-}

[mqtt]
uri = tcp://127.0.0.1:$BROKER_PORT
session_expiry = ${SESSION_EXPIRY:-1d}
keepalive = 5s
${MQTT_EXTRA:-}
CONF
}

# start_notify NAME CONF: shelter-notify in the background (log $T/NAME.log),
# returned once it is subscribed.  Sets NOTIFY_PID.
start_notify() {
	local name=$1 conf=$2 n
	n=$(grep -c 'subscribed\|synchronised' "$T/$name.log" 2>/dev/null || echo 0)
	bg "$name" "$NOTIFY" -c "$conf" -v
	NOTIFY_PID=$LAST_PID
	wait_for 15 grep -q 'connected' "$T/$name.log" ||
		{ fail "shelter-notify $name did not connect"; cat "$T/$name.log"; exit 1; }
}

# robot_accepted LOG [ROBOT]: the bodies the robot accepted (errcode 0), one per line.
robot_accepted() { jq -c "select(.errcode == 0 ${2:+and .robot == \"$2\"}) | .body" "$1" 2>/dev/null; }
# robot_count LOG FILTER: how many log lines match a jq filter.
robot_count() { jq -c "select($2)" "$1" 2>/dev/null | wc -l; }
