#!/bin/bash
# shelter-notify's rate limits and summaries, against robot stand-ins that
# answer like WeCom and DingTalk:
#  - 40 alarms in well under a minute to a 20/min WeCom robot: no request
#    over the limit (the robot never answered 45009), every alarm present in
#    the messages or the summaries, the flood (more than 10 in 10 minutes)
#    said so;
#  - a DingTalk robot that allows fewer requests than the channel thinks
#    (it answers 130101, too fast): the notifier backs off and loses nothing;
#  - a WeCom robot that is down for a while (HTTP 503): nothing lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_broker
start_robot wecom --wecom KEY40=物业群 --rate 20/60
WECOM_PORT=$ROBOT_PORT
start_robot strict --dingtalk "STRICT=SECstrict0123456789" --rate 4/10
STRICT_PORT=$ROBOT_PORT
start_robot flaky --wecom FLAKY=物业群2
FLAKY_PORT=$ROBOT_PORT
notify_conf "$T/notify.conf"
cat >>"$T/notify.conf" <<CONF
[channel wecom-40]
type = wecom
url = http://127.0.0.1:$WECOM_PORT/cgi-bin/webhook/send?key=KEY40

[channel ding-strict]
type = dingtalk
url = http://127.0.0.1:$STRICT_PORT/robot/send?access_token=STRICT
secret_file = $(secret_file strict.secret SECstrict0123456789)
rate = 20/10s

[channel wecom-flaky]
type = wecom
url = http://127.0.0.1:$FLAKY_PORT/cgi-bin/webhook/send?key=FLAKY

[route storm]
subtree = zhengzhou/jinshui/fengchan/dongfeng/storm-a
channels = wecom-40

[route strict]
subtree = zhengzhou/jinshui/fengchan/dongfeng/storm-b
channels = ding-strict
flood = off

[route flaky]
subtree = zhengzhou/jinshui/fengchan/dongfeng/storm-c
channels = wecom-flaky
flood = off
CONF
start_notify notify "$T/notify.conf"
wait_for 10 grep -q 'synchronised' "$T/notify.log"

# The flaky robot is down for 6 s from now.
curl -s -XPOST "http://127.0.0.1:$FLAKY_PORT/_ctl/outage?seconds=6" >/dev/null
pub() { "$ALARMPUB" --broker "tcp://127.0.0.1:$BROKER_PORT" --site "zhengzhou/jinshui/fengchan/dongfeng/$1" \
	--gateways "$2" --rate "$3" --name "$4" 2>>"$T/alarmpub.log"; }
start=$(date +%s)
pub storm-a 40 4 风暴A &
pa=$!
pub storm-b 12 4 严格B &
pb=$!
pub storm-c 8 4 停机C &
pc=$!
wait "$pa" "$pb" "$pc"
echo "published in $(( $(date +%s) - start )) s"

# every alarm NAME N: each of gw-0001..gw-00N of NAME is in an accepted message.
all_present() {
	local log=$1 name=$2 n=$3 text i
	text=$(jq -r 'select(.errcode == 0) | .body.markdown.content // .body.markdown.text' "$log")
	for i in $(seq 1 "$n"); do
		grep -q "$name gw-$(printf %04d "$i")" <<<"$text" || return 1
	done
}
wait_for 60 all_present "$T/wecom.jsonl" 风暴A 40
check "40 alarms to a 20/min robot: every alarm is in a message or a summary" all_present "$T/wecom.jsonl" 风暴A 40
n=$(robot_count "$T/wecom.jsonl" '.errcode == 0')
over=$(robot_count "$T/wecom.jsonl" '.errcode == 45009')
echo "WeCom robot: $n messages for 40 alarms, $over over the limit"
check "no request over the robot's limit (no 45009)" test "$over" = 0
max_in_window=$(jq -s '[.[] | select(.errcode == 0) | .t_ms] as $t |
	[range(0; $t | length) as $i | [$t[] | select(. >= $t[$i] and . < $t[$i] + 60000)] | length] | max // 0' "$T/wecom.jsonl")
check "at most 20 messages in any minute ($max_in_window)" test "$max_in_window" -le 20
check "fewer messages than alarms: summaries" test "$n" -lt 40
check "the flood is said so (报警过多)" \
	bash -c "jq -r 'select(.errcode == 0) | .body.markdown.content' '$T/wecom.jsonl' | grep -q '报警过多'"
check "every message within 4096 bytes" \
	test "$(jq -r 'select(.errcode == 0) | .body.markdown.content | utf8bytelength' "$T/wecom.jsonl" | sort -n | tail -n 1)" -le 4096

wait_for 60 all_present "$T/strict.jsonl" 严格B 12
too_fast=$(robot_count "$T/strict.jsonl" '.errcode == 130101')
echo "strict DingTalk robot: $too_fast answers 130101 (too fast)"
check "a robot stricter than the channel answered 130101" test "$too_fast" -ge 1
check "... the notifier backed off and every alarm arrived" all_present "$T/strict.jsonl" 严格B 12
check "... signed right throughout (no 310000)" test "$(robot_count "$T/strict.jsonl" '.errcode == 310000')" = 0

wait_for 60 all_present "$T/flaky.jsonl" 停机C 8
check "a robot down for 6 s: every alarm arrived afterwards" all_present "$T/flaky.jsonl" 停机C 8
check "... after it answered 503" test "$(robot_count "$T/flaky.jsonl" '.status == 503')" -ge 1
grep -E 'channel' "$T/notify.log" | head -n 8
check "no robot URL, key or secret in the notifier's log, through 130101 and 503 answers (-v)" \
	bash -c "! grep -qE 'KEY40|STRICT|SECstrict|FLAKY|/cgi-bin/|/robot/send' '$T/notify.log'"
