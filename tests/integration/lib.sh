# Shared helpers for integration tests: a temp dir, free loopback ports,
# processes started in the background and stopped by PID on exit, and
# PASS/FAIL lines appended to $GW_RESULTS (tests/run.sh counts them).
# Everything talks to 127.0.0.1 only.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
GW=$BUILD/shelter-gateway
SIM=$BUILD/shelter-sim
T=$(mktemp -d /tmp/shelter-test.XXXXXX)
PIDS=()
GW_RESULTS=${GW_RESULTS:-/dev/null}
TEST_NAME=$(basename "$0" .sh)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

pass() { echo "PASS $TEST_NAME: $*"; echo "PASS $TEST_NAME: $*" >>"$GW_RESULTS"; }
fail() { echo "FAIL $TEST_NAME: $*"; echo "FAIL $TEST_NAME: $*" >>"$GW_RESULTS"; }
# check DESCRIPTION COMMAND...: PASS when the command succeeds.
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

SVC_DIR=$T
. "$ROOT/scripts/services.sh"

# demo_conf OUT: conf/demo.conf with free ports and this test's pty paths and
# state dir.  The MQTT uri points at the test broker (BROKER_PORT) when one
# was started, else at a free port: a test never talks to a broker it did not
# start.  Sets SIM_PORT.
demo_conf() {
	SIM_PORT=$(free_port)
	demo_shelter_conf "$1" "$SIM_PORT" "${BROKER_PORT:-$(free_port)}"
}

# start_sim CONF: the simulator on the demo shelter (TCP + two RTU pty pairs).
start_sim() {
	pty_pair rs485-1 || { fail "socat pty pair rs485-1"; exit 1; }
	pty_pair rs485-2 || { fail "socat pty pair rs485-2"; exit 1; }
	SIM_CTL=$T/sim.sock
	bg sim "$SIM" -c "$1" --serial "rs485-1=$T/rs485-1-sim" --serial "rs485-2=$T/rs485-2-sim" \
		--control "$SIM_CTL" "${@:2}"
	SIM_PID=$LAST_PID
	wait_for 10 test -S "$SIM_CTL" || { fail "simulator did not start"; cat "$T/sim.log"; exit 1; }
	wait_for 10 port_open "$SIM_PORT" || { fail "simulator TCP port"; cat "$T/sim.log"; exit 1; }
}

simctl() { "$SIM" --ctl "$SIM_CTL" "$@"; }

# log_grew PATTERN N [FILE]: FILE (default the gateway's log) has more than
# N lines matching PATTERN.  Use as `wait_for 10 log_grew PATTERN "$n"`, not
# after a fixed sleep: a busy machine may need longer.
log_grew() { test "$(grep -c -- "$1" "${3:-$T/gateway.log}")" -gt "$2"; }

# json_field JSONLINE FIELD: the raw value of a top-level field (numbers, strings, bools).
json_field() {
	echo "$1" | sed -E "s/.*\"$2\":(\"[^\"]*\"|[^,}]*).*/\1/" | tr -d '"'
}

# start_broker: a mosquitto on a free loopback port in $T (persistence in $T,
# so a restart keeps queued QoS 1 messages for persistent subscribers).
# Sets BROKER_PORT, BROKER_PID; stop_broker stops it, start_broker starts it
# again on the same port.
start_broker() {
	BROKER_PORT=${BROKER_PORT:-$(free_port)}
	mosquitto_conf "$T/mosquitto.conf" "$BROKER_PORT" "$T/mosquitto"
	bg broker /usr/sbin/mosquitto -c "$T/mosquitto.conf"
	BROKER_PID=$LAST_PID
	wait_for 10 port_open "$BROKER_PORT" || { fail "mosquitto did not start"; exit 1; }
}
# start_sub NAME MOSQUITTO_SUB_ARGS...: a subscriber on the test broker, its
# output in $T/NAME.log, returned once it is subscribed: a probe published
# on its own topic probe/NAME has come back.  Then nothing published later
# can be missed.  Sets SUB_PID.
start_sub() {
	local name=$1; shift
	bg "$name" mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" "$@" -t "probe/$name"
	SUB_PID=$LAST_PID
	wait_for 15 sub_probe "$name" || { fail "subscriber $name did not subscribe"; exit 1; }
}
sub_probe() {
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "probe/$1" -m probe 2>/dev/null &&
		sleep 0.2 && grep -q '^probe' "$T/$1.log"
}
stop_broker() { kill "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; }

# BASE: the demo gateway's topic base.
BASE=shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/demo-dongfeng-b1

# Alarm messages captured by a subscriber log (mosquitto_sub -v lines):
# one JSON object per line.
alarm_payloads() { grep "^$BASE/alarm/" "$1" | cut -d' ' -f2-; }

# check_seqs LOG: every seq from 1 to the highest arrived (none missing),
# each seq always with the same payload (none reused), and per sensor the
# seqs first arrived in increasing order.  Prints the figures.
check_seqs() {
	local log=$1 what=$2
	alarm_payloads "$log" >"$T/seqs.json"
	local n max distinct missing reused disorder
	n=$(jq -s 'length' "$T/seqs.json")
	max=$(jq -s 'map(.seq) | max // 0' "$T/seqs.json")
	distinct=$(jq -s 'map(.seq) | unique | length' "$T/seqs.json")
	missing=$(jq -s --argjson max "$max" '[range(1; $max + 1)] - (map(.seq) | unique) | length' "$T/seqs.json")
	reused=$(jq -s 'group_by(.seq) | map(select((map(tojson) | unique | length) > 1)) | length' "$T/seqs.json")
	# First arrival of each seq, in arrival order, must increase per sensor.
	disorder=$(jq -s 'reduce .[] as $m ({seen: {}, first: []};
			if .seen[($m.seq | tostring)] then . else .seen[($m.seq | tostring)] = true | .first += [$m] end)
		| .first | group_by(.sensor)
		| map(select((map(.seq)) != (map(.seq) | sort))) | length' "$T/seqs.json")
	echo "$what: $n alarm messages, seq 1..$max, $distinct distinct, $((n - distinct)) duplicates, $missing missing, $reused reused, $disorder sensors out of order"
	check "$what: no seq missing (1..$max)" test "$missing" = 0 -a "$max" -gt 0
	check "$what: no seq reused for another transition" test "$reused" = 0
	check "$what: in order per sensor" test "$disorder" = 0
}

# influx_setup: a config for a real influxd on free loopback ports
# (scripts/services.sh).  Sets URL, HTTP_PORT and DB (default gw).
influx_setup() {
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
	DB=${DB:-gw}
	HTTP_PORT=$(free_port)
	URL=http://127.0.0.1:$HTTP_PORT
	influxd_conf "$T/influxdb.conf" "$T/influx" "$HTTP_PORT" "$(free_port)"
}
ping_influx() { curl -sf -o /dev/null "$URL/ping"; }
INFLUX_STARTS=0
# start_influx / stop_influx: run influxd by PID (INFLUX_PID).
start_influx() {
	INFLUX_STARTS=$((INFLUX_STARTS + 1))
	bg "influxd-$INFLUX_STARTS" influxd run -config "$T/influxdb.conf"
	INFLUX_PID=$LAST_PID
	wait_for 30 ping_influx || { fail "influxd did not start"; cat "$T/influxd-$INFLUX_STARTS.log"; exit 1; }
}
stop_influx() { kill "$INFLUX_PID"; wait "$INFLUX_PID" 2>/dev/null; }
# influx_query Q: run an InfluxQL query against $DB, JSON out.
influx_query() { curl -sS -G "$URL/query" --data-urlencode "db=$DB" --data-urlencode "q=$1"; }
