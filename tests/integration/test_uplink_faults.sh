#!/bin/bash
# No MQTT or InfluxDB problem stops local polling and alarms (issue 9,
# defect 4).  One gateway per fault, all at once against one simulator:
# a missing password_file, a wrong password, an unreadable CA file, an
# unparsable client certificate and key, an unreachable broker, a bad
# InfluxDB token file, and an [mqtt] section with an error.  For each: `--check` exits 0 and names the
# file or key in a warning; the daemon runs on, raises the local leak alarm
# from the simulator, and (except the unreachable broker, whose alarm waits
# out a 2-minute grace) logs the gateway alarm for its output at once.
# Then the missing password file is written: the gateway, retrying, reads it,
# connects, and the broker receives alarm/gateway/uplink raised and cleared
# and the leak alarm raised while the uplink was down.  And the wrong
# password is corrected in its file: the refused gateway reads it again.
. "$(dirname "$0")/lib.sh"

SIM_PORT=$(free_port)
BROKER_PORT=$(free_port)
DEAD_PORT=$(free_port)
BASE=shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/uplink-pw

# A broker that wants a password: user gw for the gateway, watcher for us.
: >"$T/passwd"
mosquitto_passwd -b "$T/passwd" gw pw-gw && mosquitto_passwd -b "$T/passwd" watcher pw-watcher ||
	{ fail "mosquitto_passwd"; exit 1; }
cat >"$T/broker.conf" <<CONF
listener $BROKER_PORT 127.0.0.1
allow_anonymous false
password_file $T/passwd
persistence false
user $(id -un)
log_dest file $T/mosquitto.log
CONF
bg broker /usr/sbin/mosquitto -c "$T/broker.conf"
wait_for 10 port_open "$BROKER_PORT" || { fail "mosquitto did not start"; exit 1; }

# conf NAME EXTRA: a one-sensor gateway on the simulator's Modbus TCP port,
# its own state directory, then the sections in EXTRA.
conf() {
	mkdir -p "$T/state-$1"
	cat >"$T/$1.conf" <<CONF
[gateway]
id = uplink-$1
city = zhengzhou
district = jinshui
street = fengchan
community = dongfeng
property = wanke-wuye
state_dir = $T/state-$1
language = en

[bus tcp-1]
type = tcp
host = 127.0.0.1
port = $SIM_PORT
timeout = 200ms

[sensor leak-1]
bus = tcp-1
unit = 10
kind = water_leak
model = di8
input = 7
leak_delay = 1s

$2
CONF
}

conf sim ""
bg sim "$SIM" -c "$T/sim.conf" --control "$T/sim.sock"
wait_for 10 test -S "$T/sim.sock" || { fail "simulator did not start"; cat "$T/sim.log"; exit 1; }
wait_for 10 port_open "$SIM_PORT" || { fail "simulator TCP port"; exit 1; }
SIM_CTL=$T/sim.sock

printf 'not a certificate\n' >"$T/junk.pem"
printf 'unreadable\n' >"$T/ca.pem"
chmod 000 "$T/ca.pem"
# The gateway runs as a service user, not root: as root, without the
# capabilities that let root read any file, so mode 000 means unreadable.
AS_SERVICE=()
[ "$(id -u)" = 0 ] && AS_SERVICE=(setpriv --bounding-set=-dac_override,-dac_read_search)

conf pw "[mqtt]
uri = tcp://127.0.0.1:$BROKER_PORT
username = gw
password_file = $T/gw.password"
conf wrongpw "[mqtt]
uri = tcp://127.0.0.1:$BROKER_PORT
username = gw
password_file = $T/wrong.password"
printf 'not-the-password\n' >"$T/wrong.password"
chmod 600 "$T/wrong.password"
conf ca "[mqtt]
uri = ssl://127.0.0.1:$DEAD_PORT
ca_file = $T/ca.pem"
conf cert "[mqtt]
uri = ssl://127.0.0.1:$DEAD_PORT
cert_file = $T/junk.pem
key_file = $T/junk.pem"
conf unreachable "[mqtt]
uri = tcp://127.0.0.1:$DEAD_PORT"
conf token "[influx]
url = http://127.0.0.1:$DEAD_PORT
org = shelter
bucket = gw
token_file = $T/no-such-token"
conf section "[mqtt]
uri = mqtt://127.0.0.1:$BROKER_PORT"

# case NAME WARNING ALARM: WARNING (a fixed string) must be in --check's
# output; ALARM the gateway alarm it logs ("" for none).
CASES="pw wrongpw ca cert unreachable token section"
declare -A WARN=(
	[pw]="[mqtt] password_file: $T/gw.password: No such file or directory"
	[wrongpw]=""
	[ca]="[mqtt] ca_file: $T/ca.pem: Permission denied"
	[cert]="[mqtt] cert_file: $T/junk.pem: no PEM certificate in it"
	[unreachable]=""
	[token]="[influx] token_file: $T/no-such-token: No such file or directory"
	[section]="[mqtt] uri: 'mqtt://127.0.0.1:$BROKER_PORT' must start with tcp:// or ssl://")
declare -A ALARM=([pw]=uplink [wrongpw]=uplink [ca]=uplink [cert]=uplink [unreachable]="" [token]=influx [section]=uplink)
declare -A PID

for c in $CASES; do
	"${AS_SERVICE[@]}" "$GW" -c "$T/$c.conf" --check >"$T/check-$c.out" 2>&1
	rc=$?
	check "$c: --check exits 0 (uplink only)" test "$rc" = 0
	if [ -n "${WARN[$c]}" ]; then
		check "$c: --check names it" grep -qF -- "warning: $T/$c.conf:" "$T/check-$c.out"
		check "$c: --check says what is wrong" grep -qF -- "${WARN[$c]}" "$T/check-$c.out"
	fi
	bg "gw-$c" "${AS_SERVICE[@]}" "$GW" -c "$T/$c.conf"
	PID[$c]=$LAST_PID
done
for c in $CASES; do
	wait_for 10 grep -q "shelter-gateway .*: uplink-$c" "$T/gw-$c.log" || fail "$c: gateway did not start"
done
grep -h "^warning:" "$T"/check-*.out

"$SIM" --ctl "$SIM_CTL" set leak-1 wet 1 >/dev/null
for c in $CASES; do
	wait_for 15 grep -q "ALARM raised leak-1 leak" "$T/gw-$c.log"
	check "$c: the local leak alarm is raised" grep -q "ALARM raised leak-1 leak" "$T/gw-$c.log"
	check "$c: the gateway runs on" kill -0 "${PID[$c]}"
	if [ -n "${ALARM[$c]}" ]; then
		check "$c: the gateway alarm ${ALARM[$c]} is logged" \
			grep -q "ALARM raised gateway ${ALARM[$c]} " "$T/gw-$c.log"
	fi
done
check "unreachable: the connect failure is logged" grep -q "mqtt: connect failed" "$T/gw-unreachable.log"
grep -h "gateway uplink\|gateway influx\|not working" "$T"/gw-*.log

# The password file appears: the gateway reads it on its next try.
bg watcher mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -V 5 -q 1 -v -u watcher -P pw-watcher \
	-t "$BASE/alarm/#"
printf 'pw-gw\n' >"$T/gw.password"
chmod 600 "$T/gw.password"
wait_for 40 grep -q "mqtt: connected" "$T/gw-pw.log"
check "pw: connected once the password file is there" grep -q "mqtt: connected" "$T/gw-pw.log"
uplink() { grep "^$BASE/alarm/gateway/uplink " "$T/watcher.log" | cut -d' ' -f2- | jq -r .event | paste -sd' '; }
wait_for 15 test "$(uplink)" = "raised cleared"
echo "alarm/gateway/uplink: $(uplink)"
check "pw: alarm/gateway/uplink published raised, then cleared" test "$(uplink)" = "raised cleared"
wait_for 10 grep -q "^$BASE/alarm/leak-1/leak " "$T/watcher.log"
check "pw: the leak alarm raised while the uplink was down is delivered" \
	grep -q "^$BASE/alarm/leak-1/leak .*\"event\":\"raised\"" "$T/watcher.log"
check "wrongpw: the refusal is logged" grep -q "refused by the broker" "$T/gw-wrongpw.log"
printf 'pw-gw\n' >"$T/wrong.password"
wait_for 40 grep -q "mqtt: connected" "$T/gw-wrongpw.log"
check "wrongpw: connected once the password is corrected in its file" \
	grep -q "mqtt: connected" "$T/gw-wrongpw.log"

for c in $CASES; do kill -TERM "${PID[$c]}"; done
for c in $CASES; do
	wait "${PID[$c]}"
	check "$c: orderly stop exits 0" test $? = 0
done
