#!/bin/bash
# shelter-notify against the demo gateway and simulator, a real mosquitto and
# the robot stand-ins, as a property manager meets it:
#  - a leak in the demo shelter reaches the property's WeCom group within 2 s
#    of the gateway's publish, markdown within the limit, naming the place
#    and telling people to keep out of the garage;
#  - nobody acknowledges: the community's DingTalk group gets the escalation
#    after escalate_after, correctly signed, saying 未确认，已升级至;
#  - the link in it opened in a real headless browser (Chromium through
#    chromedriver's WebDriver API, a phone's screen), the button pressed: the gateway's
#    `acknowledged` (by the route's name) comes back on the broker and the
#    chain stops (the street never hears of it);
#  - the gateway killed: an offline notice after offline_after; restarted:
#    an online notice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_broker
demo_conf "$T/demo.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 60s/' "$T/demo.conf"
start_sim "$T/demo.conf"

# The robots: the property's WeCom group, the community's and the street's
# DingTalk groups (signing on).
start_robot robots --wecom WANKEKEY=万科物业值班群 --dingtalk "DFTOKEN=SECdongfeng0123456789" \
	--dingtalk "FCTOKEN=SECfengchan0123456789" --name DFTOKEN=东风社区 --name FCTOKEN=丰产路街道
ACK_PORT=$(free_port)
KEY=$(secret_file token.key "$(openssl rand -hex 32)")
NOTIFY_EXTRA="ack_url = http://127.0.0.1:$ACK_PORT/ack
listen = 127.0.0.1:$ACK_PORT
token_key_file = $KEY"
notify_conf "$T/notify.conf"
cat >>"$T/notify.conf" <<CONF
[channel wecom-wanke]
type = wecom
url_file = $(secret_file wecom.url "http://127.0.0.1:$ROBOT_PORT/cgi-bin/webhook/send?key=WANKEKEY")

[channel dingtalk-dongfeng]
type = dingtalk
url_file = $(secret_file df.url "http://127.0.0.1:$ROBOT_PORT/robot/send?access_token=DFTOKEN")
secret_file = $(secret_file df.secret SECdongfeng0123456789)
mentions = 13800000001

[channel dingtalk-fengchan]
type = dingtalk
url_file = $(secret_file fc.url "http://127.0.0.1:$ROBOT_PORT/robot/send?access_token=FCTOKEN")
secret_file = $(secret_file fc.secret SECfengchan0123456789)

[route wanke]
name = 万科物业
subtree = zhengzhou/jinshui/fengchan/dongfeng/wanke-wuye
events = raised, acknowledged, cleared, offline, online
channels = wecom-wanke
escalate_after = 4s
escalate_to = dongfeng

[route dongfeng]
name = 东风社区
subtree = zhengzhou/jinshui/fengchan/dongfeng
events = offline
channels = dingtalk-dongfeng
escalate_after = 8s
escalate_to = fengchan

[route fengchan]
name = 丰产路街道
subtree = zhengzhou/jinshui/fengchan
events = test
channels = dingtalk-fengchan
CONF
"$NOTIFY" -c "$T/notify.conf" --check >"$T/check.log" 2>&1
check "the test's notify.conf passes --check" grep -q 'configuration OK' "$T/check.log"
start_notify notify "$T/notify.conf"
wait_for 10 grep -q 'synchronised' "$T/notify.log"

# The browser started before the alarm (chromium takes seconds on a busy
# machine): from the escalation to the press of the button is then the
# time a person needs, well within the community's escalate_after.
CD_PORT=$(free_port)
bg chromedriver chromedriver --port="$CD_PORT" --allowed-ips=127.0.0.1
wait_for 10 port_open "$CD_PORT" || { fail "chromedriver did not start"; exit 1; }
WD=http://127.0.0.1:$CD_PORT
caps=$(jq -nc --arg dir "$T/chrome" '{capabilities: {alwaysMatch: {browserName: "chrome",
	"goog:chromeOptions": {binary: "/usr/bin/chromium",
	mobileEmulation: {deviceMetrics: {width: 375, height: 812, pixelRatio: 3.0}},
	args: ["--headless", "--no-sandbox",
	"--disable-gpu", "--no-first-run", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", ("--user-data-dir=" + $dir)]}}}}')
SID=$(curl -s -XPOST "$WD/session" -H 'Content-Type: application/json' -d "$caps" | jq -r '.value.sessionId')
wd() { curl -s -X"$1" "$WD/session/$SID$2" -H 'Content-Type: application/json' -d "${3:-{\}}"; }
element() { wd POST /element "$(jq -nc --arg s "$1" '{using: "css selector", value: $s}')" |
	jq -r '.value["element-6066-11e4-a52e-4f735466cecf"] // empty'; }
text_of() { local e; e=$(element "$1"); [ -n "$e" ] && wd GET "/element/$e/text" | jq -r '.value'; }
check "chromium started headless through chromedriver" test -n "$SID" -a "$SID" != null

bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 15 grep -q 'connected to' "$T/gateway.log" || { fail "gateway did not connect"; cat "$T/gateway.log"; exit 1; }

# ---- a leak: the property's WeCom group within 2 s of the publish ----
start_sub published -F '%t @s@N' -t "$BASE/alarm/leak-ramp/leak"
simctl set leak-ramp wet 1 >/dev/null
wait_for 15 grep -q "$BASE/alarm/leak-ramp/leak" "$T/published.log" || { fail "the gateway did not publish the leak"; exit 1; }
wait_for 10 grep -q '"robot":"wecom".*"errcode":0' "$T/robots.jsonl"
pub_ms=$(awk -v t="$BASE/alarm/leak-ramp/leak" '$1 == t {printf "%.0f\n", substr($2, 1, 10) * 1000 + substr($2, 11, 3); exit}' "$T/published.log")
wecom=$(jq -c 'select(.robot == "wecom" and .errcode == 0)' "$T/robots.jsonl" | head -n 1)
got_ms=$(jq -r '.t_ms' <<<"$wecom")
text=$(jq -r '.body.markdown.content' <<<"$wecom")
echo "$text"
echo "gateway publish -> WeCom robot: $((got_ms - pub_ms)) ms"
check "the leak reaches the property's WeCom group within 2 s of the gateway's publish ($((got_ms - pub_ms)) ms)" \
	test -n "$pub_ms" -a "$((got_ms - pub_ms))" -le 2000
check "a WeCom markdown message within 4096 bytes" test "$(printf %s "$text" | wc -c)" -le 4096 -a \
	"$(jq -r '.body.msgtype' <<<"$wecom")" = markdown
check "the text says critical, names the shelter and the place" \
	grep -q '【严重】.*东风小区地下人防工程（演示）.*位置：B1 入口坡道底部 地面漏水检测' <<<"${text//$'\n'/ }"
check "what it is, in the catalogue's words: 【严重】漏水" grep -q '【严重】漏水' <<<"$text"
check "water: 请勿进入车库" grep -q '请勿进入车库' <<<"$text"
check "the time of detection in China Standard Time" grep -qE '时间：20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8}' <<<"$text"
check "an ack link" grep -qE "\[确认收到\]\(http://127.0.0.1:$ACK_PORT/ack\?t=[A-Za-z0-9_.-]+\)" <<<"$text"

# ---- nobody acknowledges: the community's DingTalk group ----
wait_for 15 grep -q '"key":"DFTOKEN".*"errcode":0' "$T/robots.jsonl"
ding=$(jq -c 'select(.key == "DFTOKEN" and .errcode == 0)' "$T/robots.jsonl" | head -n 1)
dtext=$(jq -r '.body.markdown.text' <<<"$ding")
echo "$dtext"
esc_ms=$(( $(jq -r '.t_ms' <<<"$ding") - got_ms ))
check "the escalation reaches the community after escalate_after (4 s; came after $esc_ms ms)" \
	test "$esc_ms" -ge 3000 -a "$esc_ms" -le 9000
check "DingTalk accepted its signature (no 310000)" test "$(robot_count "$T/robots.jsonl" '.errcode == 310000')" = 0
check "the escalation says 未确认，已升级至东风社区" grep -q '未确认，已升级至东风社区' <<<"$dtext"
check "... and who did not answer" grep -q '万科物业 [0-9]* 秒内无人确认' <<<"$dtext"
check "a DingTalk markdown with a title" test -n "$(jq -r '.body.markdown.title' <<<"$ding")"
check "critical: @ the mobiles" jq -e '.body.at.atMobiles == ["13800000001"]' <<<"$ding" >/dev/null

# ---- the ack page in a real browser ----
link=$(grep -oE "http://127.0.0.1:$ACK_PORT/ack\?t=[A-Za-z0-9_.-]+" <<<"$dtext" | head -n 1)
start_sub acks -t "$BASE/alarm/leak-ramp/leak" -t "$BASE/cmd_result"
wd POST /url "$(jq -nc --arg u "$link" '{url: $u}')" >/dev/null
title=$(wd GET /title | jq -r '.value')
state=$(text_of '#state')
echo "page: $title / $state"
check "the ack page opens in the browser, in Chinese, with the alarm's state" \
	test "$title" = 确认报警 -a "$state" = 报警中，未确认
button=$(element '#ack')
check "the page has the button" test -n "$button"
rect=$(wd GET "/element/$button/rect" | jq -c '.value')
echo "the button on a 375x812 phone screen: $rect"
check "on a phone's screen (375x812, no zooming) the button is nearly as wide, and on the first screen" \
	bash -c "jq -e '.width >= 300 and .width <= 375 and .height >= 40 and .y + .height <= 812' <<<'$rect' >/dev/null"
wd POST "/element/$button/click" >/dev/null
acked() { grep -q '"event":"acknowledged".*"by":"dongfeng"' "$T/acks.log"; }
wait_for 10 acked
check "pressing it: the gateway's acknowledged comes back, by the route's name" acked
page_acked() { [ "$(text_of '#state')" = 已确认 ]; }
wait_for 10 page_acked
check "the page follows: 已确认" page_acked
wd DELETE "" >/dev/null
# A forged token: no button.
bad=$(curl -s "http://127.0.0.1:$ACK_PORT/ack?t=${link##*t=}x")
check "a forged link gets no button" bash -c "grep -q 链接无效 <<<'$bad' && ! grep -q 'id=\"ack\"' <<<'$bad'"

# ---- the chain stops: the street hears nothing ----
# (2 s past the moment the street's escalation would have been due)
ding_ms=$(jq -r '.t_ms' <<<"$ding")
left=$(( ding_ms + 10000 - $(date +%s%3N) ))
[ "$left" -gt 0 ] && sleep "$(awk -v l="$left" 'BEGIN {printf "%.1f", l / 1000}')"
# (the street may hear of another alarm of the shelter nobody acknowledged,
# e.g. a sensor the busy simulator answered too late: not this one's)
jq -r 'select(.key == "FCTOKEN") | .body.markdown.text' "$T/robots.jsonl" | head -n 3
check "an ack stops the chain: the leak never reached the street's group" \
	test "$(robot_count "$T/robots.jsonl" '.key == "FCTOKEN" and (.body.markdown.text | contains("leak-ramp"))')" = 0
check "the property heard the acknowledgement" \
	test "$(jq -c 'select(.robot == "wecom" and .errcode == 0) | .body.markdown.content' "$T/robots.jsonl" | grep -c '已确认')" -ge 1

# ---- the gateway killed: offline after offline_after, online when back ----
kill -KILL "$GW_PID"
off_at=$(date +%s%3N)
offline() { jq -r 'select(.robot == "wecom" and .errcode == 0) | .body.markdown.content' "$T/robots.jsonl" | grep -q '【离线】'; }
wait_for 20 offline
offline_ms=$(( $(jq -r 'select(.robot == "wecom" and .errcode == 0 and (.body.markdown.content | contains("【离线】"))) | .t_ms' "$T/robots.jsonl" | head -n 1) - off_at ))
check "the gateway killed: an offline notice after offline_after (3 s; came after $offline_ms ms)" \
	test "$offline_ms" -ge 2500
check "the offline notice says when it was last seen" \
	bash -c "jq -r 'select(.errcode == 0) | .body.markdown.content // .body.markdown.text' '$T/robots.jsonl' | grep -q '最后在线：20'"
check "... and the community heard it too" \
	bash -c "jq -r 'select(.key == \"DFTOKEN\" and .errcode == 0) | .body.markdown.text' '$T/robots.jsonl' | grep -q '【离线】'"
bg gateway-2 "$GW" -c "$T/demo.conf"
online() { jq -r 'select(.robot == "wecom" and .errcode == 0) | .body.markdown.content' "$T/robots.jsonl" | grep -q '【恢复在线】'; }
wait_for 20 online
check "the gateway back: an online notice" online
check "no request refused by a robot" test "$(robot_count "$T/robots.jsonl" '.errcode != 0')" = 0
grep -E 'warning|error' "$T/notify.log" | head -n 5
check "no robot URL, key or secret in the notifier's log (-v)" \
	bash -c "! grep -qE 'WANKEKEY|DFTOKEN|FCTOKEN|SECdongfeng|SECfengchan|/cgi-bin/|/robot/send' '$T/notify.log'"
