#!/bin/bash
# Two shelter-notify instances with share_group on one mosquitto (MQTT 5
# shared subscriptions): each alarm is notified once, by one of them, and
# both take part; one is SIGKILLed and the other carries on; what the broker
# had for the dead one waits in its session and is delivered when it is
# back (systemd restarts it), none lost, none twice.  An ack taken by one
# instance stops the other's escalation (the tracking connection).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_broker
start_robot hook
conf() {
	MQTT_EXTRA="share_group = notify-test
client_id = notify-$1" notify_conf "$T/$1.conf" "$T/$1-state"
	cat >>"$T/$1.conf" <<CONF
[channel hook]
type = webhook
url = http://127.0.0.1:$ROBOT_PORT/hook/$1

[route all]
subtree = zhengzhou
events = raised, cleared
channels = hook
flood = off
escalate_after = 3s
escalate_to = up

[route up]
subtree = zhengzhou/nowhere
channels = hook
CONF
}
conf a
conf b
start_notify a "$T/a.conf"
A_PID=$NOTIFY_PID
start_notify b "$T/b.conf"
wait_for 10 grep -q synchronised "$T/a.log"
wait_for 10 grep -q synchronised "$T/b.log"

# every notice as "instance base seq event step"
notices() {
	jq -r '(.key) as $k | .body | if .event == "summary" then .notices[] else . end
		| select(.alarm != null) | "\($k) \(.topic | sub("/alarm/.*"; "")) \(.alarm.seq) \(.event) \(.escalation)"' \
		"$T/hook.jsonl" 2>/dev/null
}
firsts() { notices | awk '$5 == 0 {print $2 " " $3}'; }
pub() { "$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --gateways 30 --transitions 1 --rate 30 \
	--seq-start "$1" --site "zhengzhou/jinshui/fengchan/dongfeng/$2" --log "$T/published.log" \
	--severity minor 2>>"$T/alarmpub.log"; }
pub 1 share-1
count_first() { test "$(firsts | sort -u | wc -l)" -ge "$1"; }
wait_for 20 count_first 30
n=$(firsts | wc -l)
by_a=$(notices | awk '$1 == "a" && $5 == 0' | wc -l)
by_b=$(notices | awk '$1 == "b" && $5 == 0' | wc -l)
echo "30 alarms: $n notices, $by_a by instance a, $by_b by b"
check "two instances: each of 30 alarms notified exactly once" test "$n" = 30 -a "$(firsts | sort -u | wc -l)" = 30
check "both instances took a share" test "$by_a" -gt 0 -a "$by_b" -gt 0

# Escalations: the raises above stay unacknowledged; each is escalated once
# (by the instance that notified it), not by both.
wait_for 10 bash -c "test \$(jq -r 'select(.body.escalation == 1) | .body.alarm.seq' '$T/hook.jsonl' | wc -l) -ge 30"
esc=$(notices | awk '$5 == 1' | wc -l)
check "each unacknowledged alarm escalated once, not once per instance ($esc for 30)" test "$esc" = 30

# Instance a killed: b carries on.
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null
pub 101 share-2
sleep 3
after_b=$(notices | awk '$1 == "b" && $5 == 0 && $3 > 100' | wc -l)
waiting=$((30 - after_b))
echo "a killed, 30 more alarms: $after_b notified by b at once, $waiting wait in a's session"
check "a killed: b carries on (notifies its share)" test "$after_b" -gt 0
bg a-again "$NOTIFY" -c "$T/a.conf"
wait_for 20 count_first 60
total=$(firsts | wc -l)
distinct=$(firsts | sort -u | wc -l)
echo "after a is back: $total notices for 60 alarms, $distinct distinct"
check "a back: none of the 60 alarms lost" test "$distinct" = 60
check "... and none notified twice" test "$total" = 60
