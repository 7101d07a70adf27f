#!/bin/bash
# shelter-notify across its own restarts and the broker's, with a webhook:
#  - its first start: the alarms already active (retained) and the
#    gateways offline go out as one summary per route, not one message each;
#  - systemd's protocol: READY=1, WATCHDOG=1 while it runs, STOPPING=1;
#  - 叫应 survives a kill -9: alarms raised, the notifier killed and
#    started again before escalate_after: the escalation still comes, once,
#    on time (the timer is in the state store, not in memory), except for
#    the alarm acknowledged at the gateway while the notifier was down;
#  - the broker killed -9 and started again: the notifier reconnects and
#    notifies what comes next;
#  - the notifier stopped, alarms raised and cleared meanwhile, the broker
#    restarted too: every raise the broker queued in the notifier's session
#    is notified when it is back (the retained state alone is the clear);
#  - a gateway that went offline while the notifier was down is notified
#    offline when it starts, last seen when its will was published.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_broker
start_robot hook
SITE=zhengzhou/jinshui/fengchan/dongfeng
notify_conf "$T/notify.conf"
cat >>"$T/notify.conf" <<CONF
[channel hook]
type = webhook
url = http://127.0.0.1:$ROBOT_PORT/hook/sms

[route first]
subtree = $SITE/first
channels = hook

[route esc]
subtree = $SITE/esc
channels = hook
escalate_after = 5s
escalate_to = up

[route up]
subtree = zhengzhou/nowhere
channels = hook

[route brk]
subtree = $SITE/brk
events = raised, offline
channels = hook
flood = off
CONF
pub() { "$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --site "$SITE/$1" --gateways "$2" \
	--transitions "$3" --rate 50 --seq-start "${4:-1}" --log "$T/published.log" 2>>"$T/alarmpub.log"; }
# Every notice the webhook accepted, alone or in a summary, as
# "route base seq event escalation summary".
notices() {
	jq -r 'select(.status == 200) | .body | (.event == "summary") as $s | (.route) as $r
		| if $s then .notices[] else . end
		| "\($r) \(.topic | sub("/alarm/.*"; "") | sub("/status$"; "")) \(.alarm.seq // 0) \(.event) \(.escalation) \($s)"' \
		"$T/hook.jsonl" 2>/dev/null
}
bodies() { jq -c "select(.status == 200) | .body | select($1)" "$T/hook.jsonl" 2>/dev/null; }

# ---- the first start: what is already active, as one summary ----
pub first 3 1
# ... and a gateway whose last word is its will (as a gateway's: no time).
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -r -t "shelter/$SITE/first/gw-off/status" -m '{"online":false}'
bg notify-sock socat -u "UNIX-RECV:$T/sd.sock" "OPEN:$T/sd.msgs,creat,append"
wait_for 5 test -S "$T/sd.sock"
run_notify() {
	NOTIFY_SOCKET=$T/sd.sock WATCHDOG_USEC=2000000 start_notify "$1" "$T/notify.conf"
}
run_notify notify
wait_for 10 grep -q READY=1 "$T/sd.msgs"
check "READY=1 once it runs" grep -q READY=1 "$T/sd.msgs"
summary_in() { test "$(bodies '.route == "first"' | wc -l)" -ge 1; }
wait_for 20 summary_in
echo "first start: $(bodies '.route == "first"')" | cut -c 1-400
check "first start: the 3 alarms already active and the gateway offline in one summary" \
	test "$(bodies '.route == "first"' | wc -l)" = 1 -a \
	"$(bodies '.route == "first" and .event == "summary" and (.notices | length) == 4' | wc -l)" = 1 -a \
	"$(notices | grep -c '^first .*/gw-off 0 offline')" = 1
# (socat writes the datagrams one after the other, no line breaks)
pings() { grep -o WATCHDOG=1 "$T/sd.msgs" | wc -l; }
pings_at_least() { test "$(pings)" -ge "$1"; }
wait_for 10 pings_at_least 3
check "WATCHDOG=1 while it runs ($(pings) so far)" test "$(pings)" -ge 3

# ---- 叫应 through a kill -9 ----
# Two alarms raised; the notifier killed; one of them acknowledged at the
# gateway while it is down; started again before escalate_after: the other
# one is escalated, once, on time; the acknowledged one is not.
pub esc 2 1
raised() { test "$(notices | grep -c '^esc .* raised 0')" = 2; }
wait_for 10 raised
t_raised=$(jq -r 'select(.status == 200 and .body.route == "esc") | .t_ms' "$T/hook.jsonl" | head -n 1)
kill -KILL "$NOTIFY_PID"
wait "$NOTIFY_PID" 2>/dev/null
acked_topic="shelter/$SITE/esc/gw-0002/alarm/leak-1/leak"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$acked_topic" -C 1 -W 5 |
	jq -c '.seq += 1 | .event = "acknowledged" | .acked = true | .by = "物业值班"' >"$T/ack.json"
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -r -t "$acked_topic" -f "$T/ack.json"
sleep 1.5
run_notify notify-2
escalated() { notices | grep -q '^up .*/gw-0001 1 raised 1'; }
wait_for 15 escalated
t_esc=$(jq -r 'select(.status == 200 and .body.route == "up") | .t_ms' "$T/hook.jsonl" | head -n 1)
echo "raised -> escalated with a kill -9 between: $((t_esc - t_raised)) ms (escalate_after 5 s)"
check "killed -9 and started again: the escalation still comes" escalated
check "... on time, not restarted by the restart ($((t_esc - t_raised)) ms after the notice)" \
	test "$((t_esc - t_raised))" -ge 4000 -a "$((t_esc - t_raised))" -le 10000
sleep 1.5
check "... once" test "$(notices | grep -c '^up ')" = 1
check "acknowledged at the gateway while the notifier was down: not escalated" \
	bash -c "! grep -q '^up .*/gw-0002 ' <<<'$(notices)'"

# ---- the broker killed -9 and started again ----
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
conns=$(grep -c 'broker: connected' "$T/notify-2.log")
start_broker
wait_for 30 bash -c "test \$(grep -c 'broker: connected' '$T/notify-2.log') -gt $conns"
check "the broker killed -9 and back: the notifier reconnects" \
	test "$(grep -c 'broker: connected' "$T/notify-2.log")" -gt "$conns"
pub brk 5 1 1
brk1() { test "$(notices | awk '$1 == "brk" && $3 == 1 && $4 == "raised"' | wc -l)" -ge 5; }
wait_for 15 brk1
check "... and notifies the 5 alarms raised after it" brk1

# ---- alarms while the notifier is stopped, the broker restarted meanwhile ----
kill -TERM "$NOTIFY_PID"
wait "$NOTIFY_PID" 2>/dev/null
check "STOPPING=1 on SIGTERM" grep -q STOPPING=1 "$T/sd.msgs"
# Raised and cleared: the broker's retained state is the clear; the raise
# is only in the notifier's session.
pub brk 6 2 11
# A gateway whose last word is its will, published as the broker publishes
# a gateway's (MQTT 5, the expiry interval that tells when: lib/gwmsg.h).
will_at=$(date +%s)
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -V mqttv5 -q 1 -r -t "shelter/$SITE/brk/gw-dead/status" \
	-D publish message-expiry-interval 2147483647 -m '{"online":false}'
stop_broker
start_broker
sleep 3
run_notify notify-3
brk2() { test "$(notices | awk '$1 == "brk" && $3 == 11 && $4 == "raised"' | wc -l)" -ge 6; }
wait_for 20 brk2
check "stopped while 6 alarms were raised and cleared, the broker restarted: every raise notified" brk2
offline() { notices | grep -q '^brk .*/gw-dead 0 offline'; }
wait_for 15 offline
check "a gateway gone offline while the notifier was down: notified offline" offline
seen=$(jq -r 'select(.body.event == "offline" and (.body.gateway == "gw-dead")) | .body.text' "$T/hook.jsonl" |
	grep -oE '最后在线：[0-9-]+ [0-9:]+' | head -n 1 | sed 's/^最后在线：//')
seen_s=$(date -d "$seen +0800" +%s 2>/dev/null || echo 0)
echo "gw-dead: will published at $(date -d "@$will_at" '+%F %T %Z'), the notice says last seen $seen (UTC+8)"
check "... last seen when its will was published, not when the notifier got it (${seen:-none})" \
	test "$((seen_s - will_at))" -ge -1 -a "$((seen_s - will_at))" -le 1
total=$(notices | wc -l)
distinct=$(notices | sort -u | wc -l)
echo "webhook: $total notices, $((total - distinct)) duplicates"
check "no notice twice" test "$total" = "$distinct"
