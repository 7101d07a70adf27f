#!/bin/bash
# make bench, the notifier's part: figures, not pass/fail.
#  - latency: one alarm at a time from 50 simulated shelters, gateway publish
#    (the broker's acknowledgement of it) -> the robot's receipt of the POST,
#    p50 and p99;
#  - a storm of 600 shelters: each raises and clears an alarm as fast as the
#    publisher goes (1200 transitions); how fast the notifier takes them
#    (durably) and delivers them to a webhook, and the latency in the storm.
# A real mosquitto and the webhook stand-in on loopback; the notifier's
# state on this machine's disk (synchronous=FULL: one fsync per message).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/notify_lib.sh"

start_broker
start_robot hook
notify_conf "$T/notify.conf"
cat >>"$T/notify.conf" <<CONF
[channel hook]
type = webhook
url = http://127.0.0.1:$ROBOT_PORT/hook/bench

[route all]
subtree = zhengzhou
events = raised, cleared
channels = hook
flood = off
CONF
start_notify notify "$T/notify.conf"
wait_for 15 grep -q synchronised "$T/notify.log"

# latency LOG_FROM: p50 and p99 of receipt - publish over the notices of
# publishes from that line of published.log on.
delivered() {
	jq -r '.t_ms as $t | .body | if .event == "summary" then .notices[] else . end
		| select(.alarm != null) | "\(.topic | sub("/alarm/.*"; "")) \(.alarm.seq) \($t)"' "$T/hook.jsonl"
}
latency() {
	LC_ALL=C join <(awk '{print $2 "#" $3, $1}' "$T/published.log" | LC_ALL=C sort) \
		<(delivered | awk '{print $1 "#" $2, $3}' | LC_ALL=C sort -k1,1 -u) |
		awk '{print $3 - $2}' | sort -n |
		awk '{v[NR] = $1} END {if (NR) printf "p50 %d ms, p99 %d ms, max %d ms (%d notices)", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)], v[NR], NR}'
}
count_delivered() { test "$(delivered | wc -l)" -ge "$1"; }

"$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --gateways 50 --transitions 1 --rate 5 \
	--log "$T/published.log" --site zhengzhou/jinshui/fengchan/dongfeng/bench-single 2>/dev/null
wait_for 20 count_delivered 50
single=$(latency)

: >"$T/published.log"
: >"$T/hook.jsonl"
start=$(date +%s%3N)
"$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --gateways 600 --transitions 2 --rate 5000 \
	--log "$T/published.log" --site zhengzhou/jinshui/fengchan/dongfeng/bench-storm 2>/dev/null
published=$(date +%s%3N)
wait_for 300 count_delivered 1200
done_ms=$(date +%s%3N)
n=$(delivered | wc -l)
storm=$(latency)
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$NOTIFY_PID/status")
read -r ut st < <(awk '{print $14, $15}' "/proc/$NOTIFY_PID/stat")
cpu_ms=$(( (ut + st) * 1000 / $(getconf CLK_TCK) ))

echo "shelter-notify, webhook channel, real mosquitto, state with synchronous=FULL:"
echo "  latency, one alarm at a time (gateway publish -> robot POST): $single"
echo "  storm of 600 shelters (1200 transitions published in $((published - start)) ms):"
echo "    all $n delivered in $((done_ms - start)) ms: $(awk -v n="$n" -v ms=$((done_ms - start)) 'BEGIN {printf "%.0f", n * 1000 / ms}') notices/s"
echo "    latency in the storm: $storm"
echo "  memory: peak VmHWM ${rss} kB; CPU ${cpu_ms} ms in all"
