#!/bin/bash
# shelter-watch takes a gateway's identity from the topic, never from the
# payload (issue 9, defect 5).  On a real mosquitto with the shipped ACL
# (conf/mosquitto-acl.conf: each gateway writes only under its own base), the
# Jinshui gateway publishes on its OWN topics a fire and an offline status
# that claim to be the Erqi gateway's, with the seq of Erqi's next alarm.
# The city's watcher must show neither, warn once, and still show Erqi's
# genuine fire with that seq.
. "$(dirname "$0")/lib.sh"

WATCH=$BUILD/shelter-watch
if [ ! -x "$WATCH" ]; then fail "shelter-watch not built ($WATCH)"; exit 1; fi

JS=$BASE                                                                 # demo gateway, Jinshui
EQ=shelter/zhengzhou/erqi/jiefanglu/dehua/zhengshang-wuye/zz-eq-dehua-b2 # gateway in Erqi
GW_JS=demo-dongfeng-b1
GW_EQ=zz-eq-dehua-b2

sed "s/zz-js-dongfeng-b1/$GW_JS/g" "$ROOT/conf/mosquitto-acl.conf" >"$T/acl.conf"
: >"$T/passwd"
for u in rf-zhengzhou "$GW_JS" "$GW_EQ"; do
	mosquitto_passwd -b "$T/passwd" "$u" "pw-$u" || { fail "mosquitto_passwd $u"; exit 1; }
done
printf 'pw-rf-zhengzhou\n' >"$T/city.pw"
PORT=$(free_port)
cat >"$T/broker.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous false
password_file $T/passwd
acl_file $T/acl.conf
user $(id -un)
persistence false
log_dest file $T/mosquitto.log
log_type all
CONF
bg broker /usr/sbin/mosquitto -c "$T/broker.conf"
wait_for 10 port_open "$PORT" || { fail "mosquitto did not start"; exit 1; }

# pub USER TOPIC PAYLOAD [options]: a QoS 1 publish as that gateway.
pub() {
	local user=$1 topic=$2 payload=$3
	shift 3
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -V 5 -q 1 -i "pub-$user" -u "$user" -P "pw-$user" \
		-t "$topic" -m "$payload" "$@" >>"$T/pub.log" 2>&1
}
# fire SEQ GATEWAY LOCATION: an alarm payload of the Erqi shelter (docs/design.md section 10).
fire() {
	jq -nc --argjson seq "$1" --arg gw "$2" --arg loc "$3" '{seq: $seq,
		ts: (now | strftime("%Y-%m-%dT%H:%M:%S.000Z")), gateway: $gw,
		site: {city: "zhengzhou", district: "erqi", street: "jiefanglu", community: "dehua",
			property: "zhengshang-wuye", shelter: $gw, name: "德化街人防工程"},
		sensor: "smoke-1", kind: "smoke", location: $loc, alarm: "fire", event: "raised",
		active: true, acked: false, severity: "critical", value: null, unit: "",
		threshold: null, mode: "peacetime", message: "smoke-1：火警"}'
}

# Both gateways online (retained), as they are before the attack.
pub "$GW_JS" "$JS/status" "{\"online\":true,\"gateway\":\"$GW_JS\",\"name\":\"东风小区\"}" -r
pub "$GW_EQ" "$EQ/status" "{\"online\":true,\"gateway\":\"$GW_EQ\",\"name\":\"德化街人防工程\"}" -r

bg watch "$WATCH" --broker "tcp://127.0.0.1:$PORT" --username rf-zhengzhou \
	--password-file "$T/city.pw" --lang en 'shelter/#'
WATCH_PID=$LAST_PID
wait_for 10 grep -q 'watching live' "$T/watch.log" || { fail "watcher did not start"; cat "$T/watch.log"; exit 1; }

# The attack: on the Jinshui gateway's own topics (the ACL lets it), a fire
# and an offline status in the Erqi gateway's name, twice over.
for i in 1 2; do
	pub "$GW_JS" "$JS/alarm/smoke-1/fire" "$(fire 7 "$GW_EQ" "FORGED $i")"
	pub "$GW_JS" "$JS/status" "{\"online\":false,\"gateway\":\"$GW_EQ\",\"name\":\"德化街人防工程\"}"
done
# Erqi's genuine fire with the same seq, then its seq 8 as the sentinel.
pub "$GW_EQ" "$EQ/alarm/smoke-1/fire" "$(fire 7 "$GW_EQ" "B2 配电间")"
pub "$GW_EQ" "$EQ/alarm/smoke-1/fire" "$(fire 8 "$GW_EQ" "SENTINEL")"
wait_for 15 grep -q 'SENTINEL' "$T/watch.log" || fail "the sentinel never arrived"
kill -INT "$WATCH_PID"; wait "$WATCH_PID"
cat "$T/watch.log"

check "the broker's ACL let the gateway publish on its own topic" \
	bash -c "! grep -q 'Not authorized' '$T/pub.log'"
check "a forged alarm (payload names another gateway) is not shown" \
	bash -c "! grep -q 'FORGED' '$T/watch.log'"
check "the genuine alarm with the forged seq is shown" \
	grep -q "RAISED 德化街人防工程 (dehua/zhengshang-wuye) · smoke-1 (B2 配电间): fire" "$T/watch.log"
check "a forged offline status is not shown" bash -c "! grep -q 'OFFLINE' '$T/watch.log'"
check "the refusal names the topic and what the payload claimed" \
	grep -q "warning: ignoring $JS/alarm/smoke-1/fire: not its gateway's: field \"gateway\" is \"$GW_EQ\" but the topic says \"$GW_JS\"" "$T/watch.log"
check "one warning for the forging gateway, not one per message" \
	test "$(grep -c "warning: ignoring $JS/" "$T/watch.log")" = 1
check "the forging gateway's own status still counts (listing: 2 online)" \
	grep -q 'gateways: 2 online, 0 offline' "$T/watch.log"
