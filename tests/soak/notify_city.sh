#!/bin/bash
# make soak, the notifier's part: the first start on a big city's broker.
# 40000 retained alarm topics (10 properties of 4000 simulated gateways:
# about 2000 shelters' worth of alarms), a notifier with a new state
# directory: the whole retained burst is taken as the state before the
# first start ends, so every active alarm goes into the summaries of what
# is active and none goes out as a message of its own (or as an alarm
# flood).  Prints how long the burst took.  About a minute.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/notify_lib.sh"
TEST_NAME=soak_notify
PER=4000
PROPS=${SOAK_NOTIFY_PROPERTIES:-10}

start_broker
start_robot hook
notify_conf "$T/notify.conf"
cat >>"$T/notify.conf" <<CONF
[channel hook]
type = webhook
url = http://127.0.0.1:$ROBOT_PORT/hook/city

[route city]
subtree = zhengzhou
events = raised, cleared
channels = hook
CONF
for i in $(seq 1 "$PROPS"); do
	"$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --gateways "$PER" --transitions 1 \
		--rate 5000 --site "zhengzhou/jinshui/fengchan/dongfeng/city-$i" 2>>"$T/alarmpub.log" ||
		{ fail "alarmpub failed"; exit 1; }
done
alarms=$((PER * PROPS))
start=$(date +%s%3N)
start_notify notify "$T/notify.conf"
wait_for 600 grep -q synchronised "$T/notify.log"
synced=$(date +%s%3N)
delivered() { jq -r '.body | if .event == "summary" then .notices[] else . end | .topic' "$T/hook.jsonl" 2>/dev/null | sort -u | wc -l; }
all_in() { sleep 2; test "$(delivered)" -ge "$alarms"; }
wait_for 300 all_in
singles=$(jq -c 'select(.body.event != "summary")' "$T/hook.jsonl" | wc -l)
floods=$(jq -r 'select(.body.event == "summary") | .body.text' "$T/hook.jsonl" | grep -c '报警过多')
echo "$alarms retained alarms: state synchronised after $((synced - start)) ms; $(delivered) in" \
	"$(jq -c 'select(.body.event == "summary")' "$T/hook.jsonl" | wc -l) summaries, $singles alone, $floods flood summaries"
check "first start on $alarms retained alarms: every active alarm delivered" \
	test "$(delivered)" = "$alarms"
check "... all in the summaries of what is active: none alone, none as an alarm flood ($singles alone, $floods flood summaries)" \
	test "$singles" = 0 -a "$floods" = 0
