#!/bin/bash
# Delivery to a real mosquitto: an alarm end to end with every payload field
# of docs/design.md section 10, the retained status and the will, command round trips
# (ack, inhibit, mode, test), malformed commands answered with errors, and
# restart safety (no re-raise, a clear that happened while down is published,
# seq continues).
. "$(dirname "$0")/lib.sh"

start_broker
demo_conf "$T/demo.conf"
# Short delays for the leak so the test does not wait a minute.
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 1s\nleak_clear_delay = 2s/' "$T/demo.conf"
start_sim "$T/demo.conf"
SUB=(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1)
PUB=(mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1)
bg sub "${SUB[@]}" -v -t "$BASE/#"
# retained TOPIC JQ: the retained message on TOPIC satisfies the jq filter.
retained() { "${SUB[@]}" -C 1 -W 5 -t "$1" | jq -e "$2" >/dev/null; }

bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q "$BASE/status {\"online\":true" "$T/sub.log"
check "status online (retained) on connect" \
	retained "$BASE/status" '.online == true and .gateway == "demo-dongfeng-b1" and .mode == "peacetime"'

# One alarm end to end.
simctl set leak-ramp wet 1 >/dev/null
wait_for 15 grep -q "$BASE/alarm/leak-ramp/leak " "$T/sub.log"
alarm=$(grep "$BASE/alarm/leak-ramp/leak " "$T/sub.log" | head -n 1 | cut -d' ' -f2-)
echo "$alarm"
field() { jq -r "$1" <<<"$alarm"; }
check "alarm seq is a positive integer" test "$(field '.seq | (type == "number" and . >= 1 and . == floor)')" = true
check "alarm ts is RFC 3339 UTC with ms" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' <<<"$(field .ts)"
check "alarm gateway" test "$(field .gateway)" = demo-dongfeng-b1
check "alarm site has the five levels, shelter and name" test \
	"$(field '[.site.city,.site.district,.site.street,.site.community,.site.property,.site.shelter,.site.name] | join("|")')" \
	= "zhengzhou|jinshui|fengchan|dongfeng|wanke-wuye|demo-dongfeng-b1|东风小区地下人防工程（演示）"
check "alarm sensor, kind, location" test "$(field '[.sensor,.kind,.location] | join("|")')" = "leak-ramp|water_leak|B1 入口坡道底部 地面漏水检测"
check "alarm name and event" test "$(field '[.alarm,.event] | join("|")')" = "leak|raised"
check "alarm active, not acked" test "$(field '[.active,.acked] | map(tostring) | join("|")')" = "true|false"
check "alarm severity critical" test "$(field .severity)" = critical
check "alarm value, unit, threshold present" test "$(field 'has("value") and has("unit") and has("threshold")')" = true
check "alarm mode" test "$(field .mode)" = peacetime
check "alarm message in Chinese" grep -q '漏水' <<<"$(field .message)"
check "alarm topic is retained with the current state" \
	retained "$BASE/alarm/leak-ramp/leak" '.event == "raised" and .active'
check "readings published retained" \
	retained "$BASE/reading/leak-ramp" '.quality == "good" and .wet == true'

# Commands.
result() { grep "$BASE/cmd_result {\"id\":\"$1\"" "$T/sub.log" | tail -n 1 | cut -d' ' -f2-; }
# The command itself also shows in sub.log ($BASE/#): wait for its answer.
wait_result() { wait_for 15 grep -q "$BASE/cmd_result {\"id\":\"$1\"" "$T/sub.log"; }
"${PUB[@]}" -t "$BASE/cmd/ack" -m '{"id":"ack-1","sensor":"leak-ramp","alarm":"leak","by":"王经理"}'
wait_result ack-1
check "ack answered ok" jq -e '.ok == true and .verb == "ack"' <<<"$(result ack-1)"
wait_for 15 grep -q '"event":"acknowledged"' "$T/sub.log"
check "ack comes back as acknowledged with who" \
	bash -c "grep '$BASE/alarm/leak-ramp/leak ' '$T/sub.log' | cut -d' ' -f2- | jq -e 'select(.event == \"acknowledged\") | .acked and .by == \"王经理\"' >/dev/null"
"${PUB[@]}" -t "$BASE/cmd/ack" -m '{"id":"ack-2","sensor":"leak-ramp","alarm":"leak"}'
wait_result ack-2
check "second ack of the same alarm is ok (already acknowledged)" jq -e '.ok == true' <<<"$(result ack-2)"

"${PUB[@]}" -t "$BASE/cmd/inhibit" -m '{"id":"inh-1","sensor":"sump-west","duration":"1h","by":"维保"}'
wait_result inh-1
check "inhibit answered ok" jq -e '.ok == true' <<<"$(result inh-1)"
wait_for 5 grep -q "$BASE/alarm/sump-west/inhibit " "$T/sub.log"
check "inhibit reported as an info event with its end" \
	bash -c "grep '$BASE/alarm/sump-west/inhibit ' '$T/sub.log' | tail -n 1 | cut -d' ' -f2- | jq -e '.severity == \"info\" and .event == \"raised\" and (.until | length > 0) and .by == \"维保\"' >/dev/null"

"${PUB[@]}" -t "$BASE/cmd/mode" -m '{"id":"mode-1","mode":"flood_season","by":"区人防办"}'
wait_result mode-1
check "mode answered ok" jq -e '.ok == true' <<<"$(result mode-1)"
check "retained status shows the new mode" retained "$BASE/status" '.mode == "flood_season"'

"${PUB[@]}" -t "$BASE/cmd/test" -m '{"id":"test-1","by":"年检"}'
wait_result test-1
check "test answered ok" jq -e '.ok == true' <<<"$(result test-1)"
# The reply goes out at once; the test events after their outbox commit.
tested() { grep "^$BASE/alarm/" "$T/sub.log" | cut -d' ' -f2- | jq -r 'select(.event == "test") | .sensor' | sort -u | wc -l; }
all_tested() { test "$(tested)" -ge 8; }
wait_for 15 all_tested
check "test publishes a test event for every sensor ($(tested))" test "$(tested)" = 8

# Malformed commands: each gets an error reply, the gateway keeps running.
error_replies() { grep "$BASE/cmd_result " "$T/sub.log" | cut -d' ' -f2- | jq -r 'select(.ok == false) | .error' | wc -l; }
before=$(error_replies)
n=0
bad() { n=$((n + 1)); "${PUB[@]}" -t "$BASE/cmd/$1" -m "$2"; }
bad ack 'not json'
bad ack '[1,2,3]'
bad ack '{"sensor":"leak-ramp","alarm":"leak"}'
bad ack '{"id":"b4","sensor":"nope","alarm":"leak"}'
bad ack '{"id":"b5","sensor":"leak-ramp","alarm":"high_high"}'
bad ack '{"id":"b6","sensor":"sump-east","alarm":"high"}'
bad reboot '{"id":"b7"}'
bad mode '{"id":"b8","mode":"war"}'
bad inhibit '{"id":"b9","sensor":"door-1","duration":"forever"}'
bad inhibit '{"id":"b10","sensor":"door-1","duration":"30d"}'
bad ack '{"id":"b11","gateway":"someone-else","sensor":"leak-ramp","alarm":"leak"}'
bad ack '{"id":"b12","sensor":"leak-ramp","alarm":"leak","extra":1}'
bad test '{"id":"b13","alarm":"leak"}'
head -c 5000 /dev/zero | tr '\0' 'x' >"$T/big"; n=$((n + 1)); "${PUB[@]}" -t "$BASE/cmd/ack" -f "$T/big"
all_errors() { test "$(error_replies)" -ge $((before + n)); }
wait_for 15 all_errors
errors=$(( $(error_replies) - before ))
grep "$BASE/cmd_result " "$T/sub.log" | cut -d' ' -f2- | jq -c 'select(.ok == false) | [.id, .error]'
check "all $n malformed commands answered with an error" test "$errors" -ge "$n"
check "gateway still running after malformed commands" kill -0 "$GW_PID"

# The will: killed hard, the broker says offline.
kill -KILL "$GW_PID"; wait "$GW_PID" 2>/dev/null
wait_for 10 retained "$BASE/status" '.online == false'
check "status offline through the will after SIGKILL" retained "$BASE/status" '.online == false'

# Restart safety: the leak dries while the gateway is down.  Meanwhile
# someone leaves a RETAINED command on the broker: it must not run at every
# reconnect.
simctl set leak-ramp wet 0 >/dev/null
"${PUB[@]}" -r -t "$BASE/cmd/mode" -m '{"id":"b-retained","mode":"protective"}'
last_seq=$(grep "^$BASE/alarm/" "$T/sub.log" | cut -d' ' -f2- | jq -s 'map(.seq) | max')
: >"$T/sub.log.mark"; mark=$(wc -l <"$T/sub.log")
bg gateway2 "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 bash -c "tail -n +$((mark + 1)) '$T/sub.log' | grep -q '\"online\":true'"
check "status online again after restart" bash -c "tail -n +$((mark + 1)) '$T/sub.log' | grep -q '$BASE/status {\"online\":true'"
wait_for 15 bash -c "tail -n +$((mark + 1)) '$T/sub.log' | grep '$BASE/alarm/leak-ramp/leak ' | grep -q '\"cleared\"'"
tail -n +$((mark + 1)) "$T/sub.log" | grep "^$BASE/alarm/" | cut -d' ' -f2- >"$T/after.json"
check "the clear that happened while down is published" \
	test "$(jq -r 'select(.sensor == "leak-ramp" and .alarm == "leak" and .event == "cleared") | .seq' "$T/after.json" | wc -l)" -ge 1
check "the active alarm is not raised again after restart" \
	test "$(jq -r 'select(.sensor == "leak-ramp" and .alarm == "leak" and .event == "raised") | .seq' "$T/after.json" | wc -l)" = 0
first_new=$(jq -s 'map(.seq) | min' "$T/after.json")
check "seq continues after restart ($last_seq -> $first_new), never reused" test "$first_new" -gt "$last_seq"
check "mode survives the restart" retained "$BASE/status" '.mode == "flood_season"'
wait_result b-retained
check "a retained command is refused on reconnect" jq -e '.ok == false and (.error | test("retained"))' <<<"$(result b-retained)"
"${PUB[@]}" -r -t "$BASE/cmd/mode" -n   # take the retained command away again
kill -TERM "$GW_PID"; wait "$GW_PID"
check "orderly stop exits 0" test $? = 0
