#!/bin/bash
# The example broker configuration (conf/mosquitto.conf.example with the ACL
# of conf/mosquitto-acl.conf) keeps a gateway's session its own (issue 9,
# defect 6): another broker user connecting with the gateway's client id
# neither throws the gateway off nor makes the broker publish its will.
#
# The example is used as shipped but for what a test must change: the
# listener on a free loopback port without TLS (client ids do not depend on
# it), the file paths, persistence in the temp dir and the log.  The real
# gateway connects with its user name and password file.
. "$(dirname "$0")/lib.sh"

GW_ID=demo-dongfeng-b1
IMPOSTOR=wy-wanke-dongfeng   # a genuine user of the broker: the property's duty account
PORT=$(free_port)
BROKER_PORT=$PORT

sed "s/zz-js-dongfeng-b1/$GW_ID/g" "$ROOT/conf/mosquitto-acl.conf" >"$T/acl.conf"
printf '\n# test only: sees everything, writes nothing\nuser observer\ntopic read #\n' >>"$T/acl.conf"
: >"$T/passwd"
for u in "$GW_ID" "$IMPOSTOR" observer; do
	mosquitto_passwd -b "$T/passwd" "$u" "pw-$u" || { fail "mosquitto_passwd $u"; exit 1; }
done
printf 'pw-%s\n' "$GW_ID" >"$T/gw.password"
chmod 600 "$T/gw.password"

sed -e "s|^listener 8883$|listener $PORT 127.0.0.1|" \
	-e "s|^password_file .*|password_file $T/passwd|" \
	-e "s|^acl_file .*|acl_file $T/acl.conf|" \
	-e '/^\(certfile\|keyfile\|cafile\) /d' \
	"$ROOT/conf/mosquitto.conf.example" >"$T/broker.conf"
cat >>"$T/broker.conf" <<CONF
persistence_location $T/
user $(id -un)
log_dest file $T/mosquitto.log
log_type all
CONF
check "the test broker runs the example's listener settings" grep -q "^listener $PORT 127.0.0.1" "$T/broker.conf"
bg broker /usr/sbin/mosquitto -c "$T/broker.conf"
wait_for 10 port_open "$PORT" || { fail "mosquitto did not start"; cat "$T/broker.log" "$T/mosquitto.log"; exit 1; }

demo_conf "$T/demo.conf"
sed -i "/^\[mqtt\]/a username = $GW_ID\npassword_file = $T/gw.password" "$T/demo.conf"
start_sim "$T/demo.conf"
bg observer mosquitto_sub -h 127.0.0.1 -p "$PORT" -V 5 -q 1 -v -i observer -u observer -P pw-observer \
	-t "$BASE/status" -t "$BASE/cmd_result"
wait_for 10 grep -q "Sending SUBACK to observer" "$T/mosquitto.log" || { fail "observer did not subscribe"; exit 1; }

bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 15 grep -q "$BASE/status {\"online\":true" "$T/observer.log" ||
	{ fail "gateway did not come online"; cat "$T/gateway.log"; exit 1; }

# impostor VERSION: a live client of another user with the gateway's client
# id, connected for 2 s.
impostor() {
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -V "$1" -q 1 -v -i "$GW_ID" -u "$IMPOSTOR" -P "pw-$IMPOSTOR" \
		-t "$BASE/status" -W 2 >>"$T/impostor.log" 2>&1
}
impostor 5
impostor 311
# By now a takeover would have thrown the gateway off: the broker publishes
# the will at once.  The gateway must still be connected and subscribed: a
# command from the property is answered.
ack_answered() {
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -V 5 -q 1 -u "$IMPOSTOR" -P "pw-$IMPOSTOR" \
		-t "$BASE/cmd/ack" -m '{"id":"after-impostor","sensor":"leak-ramp","alarm":"leak"}' &&
		sleep 0.3 && grep -q "$BASE/cmd_result {\"id\":\"after-impostor\"" "$T/observer.log"
}
wait_for 10 ack_answered
cat "$T/impostor.log"
check "the impostor could connect (a genuine user of the broker)" \
	grep -q "$BASE/status {\"online\":true" "$T/impostor.log"
check "the gateway was not thrown off by a client with its client id" \
	eval "! grep -q 'mqtt: connection lost' '$T/gateway.log'"
check "the broker did not publish the gateway's will" \
	eval "! grep -q '$BASE/status {\"online\":false' '$T/observer.log'"
check "the gateway still answers commands" \
	grep -q "$BASE/cmd_result {\"id\":\"after-impostor\"" "$T/observer.log"

kill -TERM "$GW_PID"; wait "$GW_PID"
check "orderly stop exits 0" test $? = 0
