#!/bin/bash
# shelter-notify's configuration and its tools, as an installer meets them:
# conf/notify.conf (the district example) passes --check once its files
# exist and prints no secret; a broken file gives every problem as
# FILE:LINE and exit 78; --send-test reaches a robot stand-in (delivered,
# exit 0) and tells a wrong key (93000) and a wrong DingTalk secret (310000)
# apart (exit 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

# ---- the example ----
E=$T/etc
mkdir -p "$E"
sed -e "s|/etc/shelter-notify|$E|g" -e "s|/var/lib/shelter-notify|$T/state|" "$ROOT/conf/notify.conf" >"$E/notify.conf"
for f in wecom-wanke.url dingtalk-dongfeng.url dingtalk-fengchan.url sms-voice.url; do
	secret_file "etc/$f" "https://robots.example.cn/send?key=SECRET-$f" >/dev/null
done
for f in dingtalk-dongfeng.secret dingtalk-fengchan.secret mqtt.password; do
	secret_file "etc/$f" "SECRET-$f" >/dev/null
done
secret_file etc/token.key "$(openssl rand -hex 32)" >/dev/null
touch "$E/ca.pem"
"$NOTIFY" -c "$E/notify.conf" --check >"$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
check "conf/notify.conf (the district example) passes --check" test "$rc" = 0
check "--check prints configuration OK and the routes" \
	bash -c "grep -q '^configuration OK' '$T/check.out' && grep -q '^route wanke' '$T/check.out'"
check "--check prints no secret" bash -c "! grep -q SECRET '$T/check.out'"
check "the example escalates property -> community -> street" \
	bash -c "grep -q 'route wanke.*-> dongfeng' '$T/check.out' && grep -q 'route dongfeng.*-> fengchan' '$T/check.out'"

# ---- a broken file ----
cat >"$T/bad.conf" <<'CONF'
[notify]
state_dir = /tmp/x
offline_after = 30
ack_url = https://x.example.cn/ack

[mqtt]
uri = tcp://127.0.0.1:1883
share_group = bad group

[channel w]
type = wechat
url = http://127.0.0.1:1/x

[channel d]
type = dingtalk
url = http://127.0.0.1:1/robot/send?access_token=T
mentions = 138

[route r]
subtree = zhengzhou//jinshui
channels = w, nowhere
escalate_to = r2
escalate_after = 5min
min_severity = urgent

[route r2]
subtree = zhengzhou
channels = d
escalate_to = r
escalate_after = 5min
CONF
"$NOTIFY" -c "$T/bad.conf" --check >"$T/bad.out" 2>&1
rc=$?
cat "$T/bad.out"
check "a broken notify.conf: exit 78" test "$rc" = 78
has() { grep -qF -- "$1" "$T/bad.out"; }
check "FILE:LINE for a duration without a unit" has "$T/bad.conf:3: [notify] offline_after:"
check "ack_url without listen and token_key_file" has "$T/bad.conf:4: [notify] ack_url: needs listen"
check "a share_group that is not a name" has "$T/bad.conf:8: [mqtt] share_group:"
check "an unknown channel type" has "$T/bad.conf:11: [channel w] type:"
check "dingtalk without its secret" has "[channel d] secret_file: missing"
check "a mobile that is not one" has "$T/bad.conf:17: [channel d] mentions:"
check "a subtree with an empty level" has "$T/bad.conf:20: [route r] subtree:"
check "an unknown channel in a route" has "[route r] channels: unknown channel 'nowhere'"
check "an unknown severity" has "$T/bad.conf:24: [route r] min_severity:"
check "an escalation chain that comes back" has "the escalation chain comes back"
check "nothing starts: no state dir made" test ! -e /tmp/x/notify.db

# ---- --send-test ----
start_robot robots --wecom GOOD --dingtalk "DT=SECgood"
cat >"$T/send.conf" <<CONF
[notify]
state_dir = $T/send-state
[mqtt]
uri = tcp://127.0.0.1:1
[channel good]
type = wecom
url = http://127.0.0.1:$ROBOT_PORT/cgi-bin/webhook/send?key=GOOD
[channel badkey]
type = wecom
url = http://127.0.0.1:$ROBOT_PORT/cgi-bin/webhook/send?key=WRONG
[channel ding]
type = dingtalk
url = http://127.0.0.1:$ROBOT_PORT/robot/send?access_token=DT
secret_file = $(secret_file good.secret SECgood)
[channel dingbad]
type = dingtalk
url = http://127.0.0.1:$ROBOT_PORT/robot/send?access_token=DT
secret_file = $(secret_file bad.secret SECwrong)
[route r]
subtree = zhengzhou
channels = good, badkey, ding, dingbad
CONF
send() { "$NOTIFY" -c "$T/send.conf" --send-test "$1" >"$T/send-$1.out" 2>&1; echo $?; }
check "--send-test good: delivered, exit 0" test "$(send good)" = 0
cat "$T/send-good.out"
check "--send-test with a wrong key: exit 1, errcode 93000" \
	bash -c "[ \$('$NOTIFY' -c '$T/send.conf' --send-test badkey >'$T/send-badkey.out' 2>&1; echo \$?) = 1 ] && grep -q 'NOT delivered: errcode 93000' '$T/send-badkey.out'"
check "--send-test dingtalk: signed, delivered" test "$(send ding)" = 0
check "--send-test with a wrong secret: exit 1, errcode 310000" \
	bash -c "[ \$('$NOTIFY' -c '$T/send.conf' --send-test dingbad >'$T/send-dingbad.out' 2>&1; echo \$?) = 1 ] && grep -q 'errcode 310000' '$T/send-dingbad.out'"
check "the test message arrived as a phone shows it" \
	bash -c "jq -r 'select(.errcode == 0) | .body.markdown.content // .body.markdown.text' '$T/robots.jsonl' | grep -q '测试消息'"
check "no URL or secret in any output" bash -c "! grep -q 'WRONG\|SECgood\|SECwrong\|key=GOOD' '$T'/send-*.out"

# ---- every key documented: in the example and in shelter-notify.conf(5) ----
keys=$( (grep -oE '\[(NK|CK|RK)_[A-Z_]+\] = \{"[a-z_]+"' "$ROOT/center/notify/ncfg.c";
	grep -oE '\[MQTTCFG_[A-Z_]+\] = \{"[a-z_]+"' "$ROOT/lib/mqttcfg.c") | grep -oE '"[a-z_]+"' | tr -d '"';
	grep -oE 'strcmp\(key, "[a-z_]+"\)' "$ROOT/center/notify/ncfg.c" | grep -oE '"[a-z_]+"' | tr -d '"')
undocumented() {
	local k
	for k in $keys; do
		grep -qwE "^;? *$k" "$ROOT/conf/notify.conf" || grep -qE "[ (]$k = " "$ROOT/conf/notify.conf" ||
			echo "conf/notify.conf: $k"
		grep -E '^\.(B|BR|IR|RB) ' "$ROOT/man/shelter-notify.conf.5" | grep -qw "$k" ||
			echo "shelter-notify.conf(5): $k"
	done
}
missing_docs=$(undocumented)
echo "$(wc -w <<<"$keys") keys; undocumented: ${missing_docs:-none}"
check "every key of notify.conf is in conf/notify.conf and shelter-notify.conf(5)" \
	test -n "$keys" -a -z "$missing_docs"
