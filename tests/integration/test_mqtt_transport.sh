#!/bin/bash
# The MQTT transport (lib/mqtt.c) against real mosquitto on loopback:
# runs the broker tests of $BUILD/tests/test_mqtt_transport with a broker that
# has a password file and an ACL denying one topic, plus a spare broker config
# the test binary itself freezes, kills and restarts.  Each Check test becomes
# one PASS/FAIL line.  MQTT_TEST_WRAP runs the binary under a wrapper
# (e.g. "valgrind -q").
. "$(dirname "$0")/lib.sh"

BIN=$BUILD/tests/test_mqtt_transport
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
if [ ! -x "$BIN" ]; then fail "test_mqtt_transport not built (make $BIN)"; exit 1; fi
if [ ! -x "$MOSQUITTO" ]; then fail "mosquitto not installed"; exit 1; fi

PORT=$(free_port)
SPARE_PORT=$(free_port)
DEAD_PORT=$(free_port)
while [ "$SPARE_PORT" = "$PORT" ]; do SPARE_PORT=$(free_port); done
while [ "$DEAD_PORT" = "$PORT" ] || [ "$DEAD_PORT" = "$SPARE_PORT" ]; do DEAD_PORT=$(free_port); done

# The password is hashed in place by mosquitto_passwd -U, never passed as an argument.
printf 'gw:%s\n' "pw-$RANDOM$RANDOM" >"$T/passwd"
cut -d: -f2 "$T/passwd" >"$T/gw.password"
chmod 600 "$T/passwd" "$T/gw.password"
mosquitto_passwd -U "$T/passwd" || { fail "mosquitto_passwd"; exit 1; }
cat >"$T/acl" <<EOF
user gw
topic readwrite #
topic deny shelter/denied/alarm
EOF
# Run as ourselves: as root mosquitto would switch to its own user, which
# cannot read the temp dir.
ME=$(id -un)
cat >"$T/mosquitto.conf" <<EOF
user $ME
per_listener_settings false
listener $PORT 127.0.0.1
allow_anonymous false
password_file $T/passwd
acl_file $T/acl
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
EOF
cat >"$T/spare.conf" <<EOF
user $ME
listener $SPARE_PORT 127.0.0.1
allow_anonymous true
persistence false
max_packet_size 65536
log_dest stdout
EOF

bg mosquitto "$MOSQUITTO" -c "$T/mosquitto.conf"
wait_for 5 port_open "$PORT" || { fail "mosquitto did not start"; cat "$T/mosquitto.log"; exit 1; }

MQTT_TEST_PORT=$PORT MQTT_TEST_USER=gw MQTT_TEST_PASSWORD_FILE=$T/gw.password \
MQTT_TEST_DENIED_TOPIC=shelter/denied/alarm MQTT_TEST_DEAD_PORT=$DEAD_PORT \
MQTT_TEST_SPARE_PORT=$SPARE_PORT MQTT_TEST_SPARE_CONF=$T/spare.conf MQTT_TEST_MOSQUITTO=$MOSQUITTO \
CK_VERBOSITY=verbose timeout 120 ${MQTT_TEST_WRAP:-} "$BIN" >"$T/check.log" 2>&1
rc=$?

# Check's verbose lines: FILE:LINE:P|F|E:TCASE:TEST:LOOP: message
n=0
while IFS=: read -r _file _line result tcase test _loop msg; do
	case $result in
	P) pass "$tcase/$test"; n=$((n + 1)) ;;
	F | E) fail "$tcase/$test:$msg"; n=$((n + 1)) ;;
	esac
done < <(grep -E '^[^:]+:[0-9]+:[PFE]:' "$T/check.log")
grep -E '^(restart|tls):' "$T/check.log"
if [ "$n" -eq 0 ] || ! grep -q '^100%: Checks' "$T/check.log"; then
	[ "$rc" -ne 0 ] || rc=1
	tail -n 30 "$T/check.log"
fi
[ "$n" -gt 0 ] || fail "no Check results (exit $rc)"
exit 0
