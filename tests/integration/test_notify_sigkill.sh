#!/bin/bash
# shelter-notify SIGKILLed 20 times during an alarm storm: every raised
# (gateway, seq) reaches the webhook at least once, alone or in a summary;
# duplicates are counted and printed (at-least-once allows them).  The
# storm: 20 simulated gateways toggling an alarm (raised, cleared, ...) for
# about 12 s; the notifier is killed about every 0.6 s and started again at
# once, as systemd would.  Meanwhile the webhook is down twice (HTTP 503,
# then connections closed), so notices also wait in the queue across kills.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

KILLS=${NOTIFY_KILLS:-20}
start_broker
start_robot hook
notify_conf "$T/notify.conf"
cat >>"$T/notify.conf" <<CONF
[channel hook]
type = webhook
url = http://127.0.0.1:$ROBOT_PORT/hook/sms

[route all]
subtree = zhengzhou
events = raised, cleared
channels = hook
CONF
# Started by hand (bg would truncate the log); remembered for the cleanup.
run_notify() {
	"$NOTIFY" -c "$T/notify.conf" >>"$T/notify.log" 2>&1 </dev/null &
	NOTIFY_PID=$!
	PIDS+=("$NOTIFY_PID")
}
run_notify
wait_for 15 grep -q 'synchronised' "$T/notify.log" || { fail "notifier did not start"; cat "$T/notify.log"; exit 1; }

"$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --gateways 4 --transitions 120 --rate 40 \
	--log "$T/published.log" 2>"$T/alarmpub.log" &
PUB_PID=$!
hook_outage() { curl -s -XPOST "http://127.0.0.1:$ROBOT_PORT/_ctl/outage?seconds=$1&mode=$2" >/dev/null; }
kills=0
while [ "$kills" -lt "$KILLS" ]; do
	[ "$kills" = 3 ] && hook_outage 2 503
	[ "$kills" = 10 ] && hook_outage 2 close
	sleep 0.$((4 + RANDOM % 4))
	kill -KILL "$NOTIFY_PID" 2>/dev/null
	wait "$NOTIFY_PID" 2>/dev/null
	kills=$((kills + 1))
	run_notify
done
wait "$PUB_PID"
check "the storm was published (every publish acknowledged by the broker)" test $? = 0
raised=$(awk '$4 == "raised" {print $2 " " $3}' "$T/published.log" | sort -u)
nraised=$(wc -l <<<"$raised")
echo "$kills SIGKILLs; $nraised raised transitions published"

# Every notice the webhook accepted, alone or in a summary, as "base seq event".
delivered() {
	jq -r '.body | if .event == "summary" then .notices[] else . end
		| select(.alarm != null) | "\(.topic | sub("/alarm/.*"; "")) \(.alarm.seq) \(.event)"' \
		"$T/hook.jsonl" 2>/dev/null
}
all_raised() { [ -z "$(comm -23 <(echo "$raised") <(delivered | awk '$3 == "raised" {print $1 " " $2}' | sort -u))" ]; }
wait_for 60 all_raised
missing=$(comm -23 <(echo "$raised") <(delivered | awk '$3 == "raised" {print $1 " " $2}' | sort -u) | wc -l)
total=$(delivered | wc -l)
distinct=$(delivered | sort -u | wc -l)
published=$(wc -l <"$T/published.log")
echo "webhook: $total notices for $published transitions ($distinct distinct): $((total - distinct)) duplicates after $kills SIGKILLs; $missing raised missing"
check "... the webhook down twice meanwhile ($(robot_count "$T/hook.jsonl" '.status == 503') answers 503)" \
	test "$(robot_count "$T/hook.jsonl" '.status == 503')" -ge 1
check "SIGKILLed $kills times during a storm and webhook outages: every raised seq reached the webhook" test "$missing" = 0
cleared_missing=$(comm -23 <(awk '$4 == "cleared" {print $2 " " $3}' "$T/published.log" | sort -u) \
	<(delivered | awk '$3 == "cleared" {print $1 " " $2}' | sort -u) | wc -l)
check "... and every cleared one ($cleared_missing missing)" test "$cleared_missing" = 0
