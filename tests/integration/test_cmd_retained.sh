#!/bin/bash
# A retained command published while the gateway is connected is refused
# with a cmd_result error and not carried out (issue 9, defect 8).  The
# broker forwards a live message with the retain flag cleared unless the
# subscription asks for retain-as-published (MQTT 5), so without it such a
# command ran once now and was then refused on every reconnect.  An ordinary
# command before it shows the path works.
. "$(dirname "$0")/lib.sh"

start_broker
demo_conf "$T/demo.conf"
start_sim "$T/demo.conf"
SUB=(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1)
PUB=(mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1)
start_sub sub -q 1 -v -t "$BASE/#"

bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q "$BASE/status {\"online\":true" "$T/sub.log" ||
	{ fail "gateway did not come online"; cat "$T/gateway.log"; exit 1; }

result() { grep "$BASE/cmd_result {\"id\":\"$1\"" "$T/sub.log" | tail -n 1 | cut -d' ' -f2-; }
wait_result() { wait_for 15 grep -q "$BASE/cmd_result {\"id\":\"$1\"" "$T/sub.log"; }
retained() { "${SUB[@]}" -C 1 -W 5 -t "$1" | jq -e "$2" >/dev/null; }
# answered ID JQ: the reply to command ID satisfies the jq filter.
answered() { jq -e "$2" >/dev/null <<<"$(result "$1")"; }

# The gateway subscribes right after it connects: an ordinary command, sent
# again until answered, shows the subscription is in place.
live() {
	"${PUB[@]}" -t "$BASE/cmd/mode" -m '{"id":"live-1","mode":"flood_season"}' &&
		sleep 0.3 && grep -q "$BASE/cmd_result {\"id\":\"live-1\"" "$T/sub.log"
}
wait_for 15 live
check "an ordinary command published while connected is carried out" \
	answered live-1 '.ok == true'

"${PUB[@]}" -r -t "$BASE/cmd/mode" -m '{"id":"retained-live","mode":"protective"}'
wait_result retained-live
echo "reply: $(result retained-live)"
check "a retained command published while connected is refused" \
	answered retained-live '.ok == false and (.error | test("retained"))'
check "the refused command changed nothing (mode stays flood_season)" \
	retained "$BASE/status" '.mode == "flood_season"'
check "the refused command is logged, not carried out" \
	eval "grep -q 'command mode rejected: retained' '$T/gateway.log' && ! grep -q 'mode protective' '$T/gateway.log'"
"${PUB[@]}" -r -t "$BASE/cmd/mode" -n   # take the retained command away again

kill -TERM "$GW_PID"; wait "$GW_PID"
check "orderly stop exits 0" test $? = 0
