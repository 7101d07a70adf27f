#!/bin/bash
# The Chinese guides (docs/zh/) say what the programs do: the alarm names of
# the duty guide's table are the catalogue's (sensors/alarmdef.c), and the
# --check lines the commissioning guide quotes are what the gateway prints
# for the same mistakes (a GBK file, an unknown key, a bad baud rate, a
# missing file, a missing password file).
. "$(dirname "$0")/lib.sh"

DUTY=$ROOT/docs/zh/duty.md
INSTALL=$ROOT/docs/zh/install.md

# Every alarm's Chinese name, as the catalogue spells it, is in the duty guide.
missing=$(sed -n 's/.*"\([^"]*[^ -~][^"]*\)", "[^"]*"},*$/\1/p' "$ROOT/sensors/alarmdef.c" |
	while read -r name; do grep -qF "$name" "$DUTY" || echo "$name"; done)
check "duty guide: every alarm of the catalogue by its Chinese name${missing:+ (missing: $missing)}" test -z "$missing"
check "duty guide: found the catalogue's names" test "$(sed -n 's/.*"\([^"]*[^ -~][^"]*\)", "[^"]*"},*$/\1/p' "$ROOT/sensors/alarmdef.c" | wc -l)" -ge 18

# The reason of each line (after "] key: ", or after the file's name) is quoted as printed.
quoted() { # LINE: its reason is in the guide
	local reason=${1#*] * }
	[ "$reason" = "$1" ] && reason=${1#*: }
	grep -qF -- "$reason" "$INSTALL"
}
demo_conf "$T/ok.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/ok.conf"
iconv -f UTF-8 -t GBK "$T/ok.conf" >"$T/gbk.conf"
sed 's/^pit_depth = 1.2$/pit_depht = 1.2/; 0,/^baud = 9600$/s//baud = 9601/' "$T/ok.conf" >"$T/bad.conf"
sed 's|^uri = .*|&\nusername = gw\npassword_file = /etc/shelter-gateway/mqtt.password|' "$T/ok.conf" >"$T/warn.conf"
"$GW" -c "$T/gbk.conf" --check >"$T/gbk.out" 2>&1
"$GW" -c "$T/bad.conf" --check >"$T/bad.out" 2>&1
LANG=zh_CN.UTF-8 LC_ALL= "$GW" -c /etc/shelter-gateway/no-such.conf --check >"$T/missing.out" 2>&1
"$GW" -c "$T/warn.conf" --check >"$T/warn.out" 2>&1
for what in "gbk:location: 值不是" "bad:pit_depht: " "bad:baud: " "missing:无法打开" "warn:password_file: "; do
	file=${what%%:*}
	line=$(grep -F -- "${what#*:}" "$T/$file.out" | head -n 1)
	echo "$file: $line"
	check "install guide quotes --check's line as printed (${what#*:})" quoted "${line#警告：}"
done
check "install guide: the count lines as printed" \
	bash -c "grep -q '个错误，改正后再运行 --check' '$T/bad.out' && grep -qF '个错误，改正后再运行 --check' '$INSTALL' &&
		grep -q '个警告（见 stderr）：不影响本地采集和报警，但改好之前上传或数据保存会受影响，离开现场前请改好' '$T/warn.out' &&
		grep -qF '个警告（见 stderr）：不影响本地采集和报警，但改好之前上传或数据保存会受影响，离开现场前请改好' '$INSTALL'"

# The outputs (联动): the duty guide's table has output_fault with the gateway's
# Chinese texts for it; the install guide quotes --check's lines for the demo's
# do8 module and its errors for a misspelt sensor, an alarm the sensor lacks
# and a channel the model does not have.
texts=$(grep -o '"输出[^"]*"' "$ROOT/gateway/delivery.c" | tr -d '"')
check "duty guide: the gateway's output_fault texts ($(echo $texts))" \
	bash -c "test \$(echo '$texts' | wc -l) -eq 2 && echo '$texts' | while read -r t; do grep -qF -- \"\$t\" '$DUTY' || exit 1; done"
check "duty guide: output_fault in the alarm table" grep -qF '| 输出故障（output_fault） | 重要 |' "$DUTY"
"$GW" -c "$T/ok.conf" --check >"$T/ok.out" 2>&1
n=0
while read -r line; do
	n=$((n + 1))
	check "install guide quotes --check's output line as printed (${line%% on *})" grep -qF -- "$line" "$INSTALL"
done < <(grep ' do8 coil ' "$T/ok.out" | sed 's/^ *//')
check "install guide: --check listed the demo's 3 outputs ($n)" test "$n" = 3
sed -e 's/^on = sump-\*:high_high, leak-ramp:leak, smoke-\*:fire$/on = sump-*:high_high, leak-ranp:leak, smoke-*:fire/' \
	-e 's/^on = sump-\*:high, sump-\*:high_high, leak-ramp:leak$/on = sump-*:high, sump-*:high_high, leak-ramp:high/' \
	-e 's/^channel = 2$/channel = 9/' "$T/ok.conf" >"$T/out.conf"
"$GW" -c "$T/out.conf" --check >"$T/out.out" 2>&1
rc=$?
check "a bad [output] is an error (exit $rc)" test "$rc" = 78
for what in "on: unknown sensor" "has no alarm" "channel: channel 9"; do
	line=$(grep -F -- "$what" "$T/out.out" | head -n 1)
	echo "out: $line"
	check "install guide quotes --check's [output] line as printed ($what)" quoted "$line"
done

# The duty guide's phone messages (section 5) use the notifier's words
# (center/notify/ntext.c, ackweb.c): a renamed phrase fails here.
NT=$ROOT/center/notify
missing=$(for w in 请勿进入车库 未确认，已升级至 内无人确认 确认收到 确认报警 报警中，未确认 恢复在线 离线时长 最后在线 已离线 \
	可能停电、断网或进水，请尽快到现场查看 报警过多（报警泛滥），合并发送; do
	grep -qF "\"$w\"" "$NT/ntext.c" "$NT/ackweb.c" && grep -qF "$w" "$DUTY" || printf '%s ' "$w"
done)
check "duty guide: the phone messages in the notifier's words${missing:+ (missing: $missing)}" test -z "$missing"
check "duty guide: a notice names the place once (位置, then 情况 without it)" \
	bash -c "! grep -q '情况：B1' '$DUTY'"
