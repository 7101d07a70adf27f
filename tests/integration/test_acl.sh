#!/bin/bash
# The broker ACL example (conf/mosquitto-acl.conf) on a real mosquitto with
# passwords: each level of the maintenance network reads its own subtree
# only, a gateway writes under its own base topic only, and the levels that
# acknowledge (property, community) can send cmd/ack to their gateways and
# nothing else.  The example is used as shipped, with the demo gateway's id
# for its Jinshui gateway; a test-only `observer` may read everything, so
# "not delivered" means delivered to nobody.
#
# Every publish is QoS 1 and each subscriber is live before the first one;
# a last allowed message (the sentinel) is awaited per subscriber, so by then
# anything published earlier would have arrived: no sleeps decide a result.
. "$(dirname "$0")/lib.sh"

JS=$BASE                                                                 # demo gateway, Jinshui
EQ=shelter/zhengzhou/erqi/jiefanglu/dehua/zhengshang-wuye/zz-eq-dehua-b2 # gateway in Erqi
SIBLING=shelter/zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye/other-gw
GW_JS=demo-dongfeng-b1
GW_EQ=zz-eq-dehua-b2
USERS="rf-zhengzhou rf-zz-jinshui rf-zz-erqi rf-zz-js-fengchan sq-zz-js-dongfeng
wy-wanke-dongfeng $GW_JS $GW_EQ observer"

sed "s/zz-js-dongfeng-b1/$GW_JS/g" "$ROOT/conf/mosquitto-acl.conf" >"$T/acl.conf"
printf '\n# test only: sees everything, writes nothing\nuser observer\ntopic read #\n' >>"$T/acl.conf"
check "the example names the demo gateway's base topic" grep -qx "topic write $JS/#" "$T/acl.conf"

: >"$T/passwd"
for u in $USERS; do mosquitto_passwd -b "$T/passwd" "$u" "pw-$u" || { fail "mosquitto_passwd $u"; exit 1; }; done

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
wait_for 10 port_open "$PORT" || { fail "mosquitto did not start"; cat "$T/broker.log"; exit 1; }

# sub NAME USER FILTER...: a live subscriber printing "topic payload" lines
# to $T/sub-NAME.log; returns once the broker has acknowledged the subscription.
sub() {
	local name=$1 user=$2 f args=()
	shift 2
	for f in "$@"; do args+=(-t "$f"); done
	bg "sub-$name" mosquitto_sub -h 127.0.0.1 -p "$PORT" -V 5 -q 1 -v -i "acl-$name" \
		-u "$user" -P "pw-$user" "${args[@]}"
	wait_for 10 grep -q "Sending SUBACK to acl-$name" "$T/mosquitto.log" ||
		{ fail "subscriber $name"; cat "$T/sub-$name.log"; exit 1; }
}
# pub USER TOPIC PAYLOAD [mosquitto_pub options]: a QoS 1 publish; the
# broker's answer (a refusal too) goes to $T/pub.log.
pub() {
	local user=$1 topic=$2 payload=$3
	shift 3
	echo "$user -> $topic: $payload" >>"$T/pub.log"
	mosquitto_pub -h 127.0.0.1 -p "$PORT" -V 5 -q 1 -i "acl-pub-$user" -u "$user" -P "pw-$user" \
		-t "$topic" -m "$payload" "$@" >>"$T/pub.log" 2>&1
}
# got SUB WHO: subscriber SUB received the message whose "who" is WHO.
got() { grep -qF -- "\"who\":\"$2\"" "$T/sub-$1.log"; }
not_got() { ! got "$@"; }

sub observer observer '#'
sub city rf-zhengzhou 'shelter/#'
sub jinshui rf-zz-jinshui 'shelter/#'
sub erqi rf-zz-erqi 'shelter/#'
sub property wy-wanke-dongfeng 'shelter/#'
# The gateway subscribes widely: the ACL, not its filter, must limit it.
sub gateway "$GW_JS" 'shelter/#'

# Gateways: their own alarms (retained, as the gateway publishes them), then
# attempts outside their base topic.
pub "$GW_JS" "$JS/alarm/sump-east/high_high" '{"event":"raised","who":"js-own"}' -r
pub "$GW_EQ" "$EQ/alarm/sump-1/high" '{"event":"raised","who":"eq-own"}' -r
pub "$GW_JS" "$EQ/alarm/sump-1/high" '{"event":"cleared","who":"js-into-erqi"}' -r
pub "$GW_JS" "$SIBLING/alarm/door-1/not_secured" '{"who":"js-into-sibling"}' -r
pub "$GW_JS" "${EQ%/*}/$GW_JS/alarm/door-1/not_secured" '{"who":"js-own-id-in-erqi"}' -r
pub "$GW_JS" "elsewhere/alarm" '{"who":"js-outside-tree"}'
# Maintenance levels only read, except cmd/ack by property and community.
pub rf-zz-jinshui "$JS/alarm/sump-east/high_high" '{"who":"district-forges"}' -r
pub wy-wanke-dongfeng "$JS/cmd/mode" '{"id":"m1","mode":"protective","who":"property-mode"}'
pub wy-wanke-dongfeng "$JS/alarm/sump-east/high_high" '{"who":"property-forges"}'
pub wy-wanke-dongfeng "$EQ/cmd/ack" '{"id":"a0","who":"property-acks-erqi"}'
pub rf-zz-js-fengchan "$JS/cmd/ack" '{"id":"a1","who":"street-acks"}'
# mode and test: a district in its own district only, a street test only.
pub rf-zz-jinshui "$JS/cmd/mode" '{"id":"m2","mode":"flood_season","who":"district-mode"}'
pub rf-zz-jinshui "$JS/cmd/test" '{"id":"t1","who":"district-test"}'
pub rf-zz-erqi "$JS/cmd/mode" '{"id":"m3","mode":"flood_season","who":"erqi-mode-into-jinshui"}'
pub rf-zz-erqi "$JS/cmd/test" '{"id":"t2","who":"erqi-test-into-jinshui"}'
pub rf-zz-erqi "$EQ/cmd/mode" '{"id":"m4","mode":"flood_season","who":"erqi-mode"}'
pub rf-zz-js-fengchan "$JS/cmd/test" '{"id":"t3","who":"street-test"}'
pub rf-zz-js-fengchan "$JS/cmd/mode" '{"id":"m5","mode":"flood_season","who":"street-mode"}'
pub sq-zz-js-dongfeng "$JS/cmd/test" '{"id":"t4","who":"community-test"}'
pub sq-zz-js-dongfeng "$JS/cmd/ack" '{"id":"a2","who":"community-acks"}'
pub wy-wanke-dongfeng "$JS/cmd/ack" '{"id":"a3","who":"property-acks"}'
# Sentinels: the last messages, one per side of the city.
pub "$GW_JS" "$JS/status" '{"online":true,"who":"js-sentinel"}' -r
pub "$GW_EQ" "$EQ/status" '{"online":true,"who":"eq-sentinel"}' -r

for s in observer city jinshui property; do
	wait_for 10 got "$s" js-sentinel || fail "$s: no sentinel"
done
wait_for 10 got observer eq-sentinel || fail "observer: no Erqi sentinel"
wait_for 10 got city eq-sentinel || fail "city: no Erqi sentinel"
wait_for 10 got erqi eq-sentinel || fail "erqi: no sentinel"
wait_for 10 got gateway property-acks || fail "gateway: no ack from its property"

check "a district sees its district's alarms" got jinshui js-own
check "a district does not see another district's alarms" not_got jinshui eq-own
check "the other district sees its own alarm, not Jinshui's" eval 'got erqi eq-own && not_got erqi js-own'
check "the city sees both districts" eval 'got city js-own && got city eq-own'
check "a property sees its shelter but not another district's" \
	eval 'got property js-own && not_got property eq-own'
check "a gateway can publish under its base topic" got observer js-own
check "a gateway cannot publish into another district" not_got observer js-into-erqi
check "a gateway cannot publish as a sibling gateway" not_got observer js-into-sibling
check "a gateway cannot publish under its own id elsewhere" not_got observer js-own-id-in-erqi
check "a gateway cannot publish outside the shelter tree" not_got observer js-outside-tree
check "a district cannot publish (read only)" not_got observer district-forges
check "a property can send cmd/ack to its gateway" got gateway property-acks
check "a community can send cmd/ack to its gateways" got gateway community-acks
check "a street cannot send cmd/ack" not_got observer street-acks
check "a property cannot send cmd/mode" not_got observer property-mode
check "a district can send cmd/mode and cmd/test to its gateways" \
	eval 'got gateway district-mode && got gateway district-test'
check "a district cannot send cmd/mode or cmd/test into another district" \
	eval 'not_got observer erqi-mode-into-jinshui && not_got observer erqi-test-into-jinshui'
check "the other district can send cmd/mode to its own gateways" got observer erqi-mode
check "a street can send cmd/test to its gateways, not cmd/mode" \
	eval 'got gateway street-test && not_got observer street-mode'
check "a community cannot send cmd/test" not_got observer community-test
check "a property cannot publish alarms" not_got observer property-forges
check "a property cannot ack another district's gateway" not_got observer property-acks-erqi
check "a gateway reads its own alarms back, not another's" eval 'got gateway js-own && not_got gateway eq-own'
check "a gateway reads its own status back, not another's" \
	eval 'got gateway js-sentinel && not_got gateway eq-sentinel'
check "the broker tells a gateway its publish was refused" grep -q "Not authorized" "$T/pub.log"

# Retained state, which shelter-watch lists first, is filtered the same way:
# a late district subscriber gets its own retained topics only.
mosquitto_sub -h 127.0.0.1 -p "$PORT" -V 5 -q 1 -v -u rf-zz-jinshui -P pw-rf-zz-jinshui \
	-t 'shelter/#' --retained-only -W 2 >"$T/sub-late.log" 2>&1
check "a late district subscriber gets its retained alarm" got late js-own
check "a late district subscriber gets no other district's retained state" \
	eval 'not_got late eq-own && not_got late eq-sentinel'
check "a refused retained publish left no retained message" not_got late district-forges

# shelter-watch mode under the ACL: the status of the Jinshui gateway is
# retained (the sentinel above: online, no gateway process answers).
WATCH=$BUILD/shelter-watch
watch_as() {
	local user=$1; shift
	"$WATCH" "$@" --broker "tcp://127.0.0.1:$PORT" --lang en --username "$user" \
		--password-file "$T/pw-$user"
}
for u in rf-zz-jinshui rf-zz-erqi wy-wanke-dongfeng; do echo "pw-$u" >"$T/pw-$u"; done
watch_as rf-zz-erqi mode flood_season zhengzhou/jinshui --timeout 1 >"$T/mode-erqi.out" 2>&1
rc=$?
cat "$T/mode-erqi.out"
check "shelter-watch mode by another district: no Jinshui gateway visible, exit 1" \
	eval 'test "$rc" = 1 && grep -q "^no gateways under zhengzhou/jinshui" "$T/mode-erqi.out"'
watch_as wy-wanke-dongfeng mode flood_season zhengzhou/jinshui --timeout 1 >"$T/mode-wy.out" 2>&1
rc=$?
cat "$T/mode-wy.out"
check "shelter-watch mode by a property: the broker refuses, shown per gateway" \
	eval 'test "$rc" = 1 && grep -qi "^refused   $GW_JS .*: not authorized" "$T/mode-wy.out"'
watch_as rf-zz-jinshui mode flood_season zhengzhou/jinshui --timeout 1 >"$T/mode-js.out" 2>&1
cat "$T/mode-js.out"
check "shelter-watch mode by the district: sent (no gateway process here: no answer)" \
	grep -q "^no answer $GW_JS " "$T/mode-js.out"
