#!/bin/bash
# `make demo` in short: scripts/demo.sh with DEMO_SECONDS=45, no terminal, no
# stdin.  It must finish by itself with exit 0, the property manager's
# shelter-watch must show the flood (sump high and high_high), the leak, the
# blast door fault, the fire and its acknowledgement by 物业王经理, the ramp
# siren and sign switching on with the flood and the siren going quiet on
# the acks (the sign staying lit), and it
# must leave nothing behind: no process of its own, no temp dir.
. "$(dirname "$0")/lib.sh"

for b in "$GW" "$SIM" "$BUILD/shelter-watch" "$BUILD/shelter-notify" "$BUILD/tests/robot-standin"; do
	[ -x "$b" ] || { fail "not built: $b"; exit 1; }
done

start=$(date +%s)
DEMO_SECONDS=45 BUILD=$BUILD timeout 90 "$ROOT/scripts/demo.sh" </dev/null >"$T/demo.out" 2>&1
rc=$?
took=$(($(date +%s) - start))
cat "$T/demo.out"
echo "demo took $took s"
check "the demo exits 0 by itself" test "$rc" = 0
check "the demo ends within DEMO_SECONDS plus setup ($took s)" test "$took" -le 85
check "it explains what is happening" grep -q 'what the' "$T/demo.out"
check "the watcher shows the gateway coming online" grep -q '（demo-dongfeng-b1） 网关上线' "$T/demo.out"
check "the flood: sump high raised" grep -qE '【重要】报警 .*B1 东侧集水坑：集水坑水位高 [0-9.]+ m ≥ 0.84 m' "$T/demo.out"
check "the flood: sump high_high raised" grep -qE '【严重】报警 .*B1 东侧集水坑：集水坑水位超高 [0-9.]+ m ≥ 1.08 m' "$T/demo.out"
check "water on the ramp floor: leak raised" grep -q '【严重】报警 .*B1 入口坡道底部 地面漏水检测：漏水' "$T/demo.out"
check "the blast door: sensor_disagree raised" grep -q '【重要】报警 .*1号主出入口 防护密闭门：人防门位置信号矛盾' "$T/demo.out"
check "the fire raised" grep -q '【严重】报警 .*B1 配电间：火警' "$T/demo.out"
check "the ack command answered ok" grep -qx '  ok' "$T/demo.out"
check "the fire acknowledged by the property manager" \
	grep -q '【严重】已确认 .*B1 配电间：火警已确认，操作人：物业王经理' "$T/demo.out"
check "the flood switches the ramp siren and the sign on" \
	grep -q 'relays on site: ramp-siren ON  ramp-sign ON' "$T/demo.out"
check "the acks silence the siren, the sign stays lit" \
	grep -q 'relays on site: ramp-siren off  ramp-sign ON' "$T/demo.out"
check "the siren goes quiet only after the acks" \
	test "$(grep -n 'ramp-siren off  ramp-sign ON' "$T/demo.out" | head -n 1 | cut -d: -f1)" -gt \
	"$(grep -n 'acknowledges the water alarms' "$T/demo.out" | head -n 1 | cut -d: -f1)"
check "shelter-notify: the property's WeCom group shows the alarms as a phone would" \
	grep -q '┌─ 企业微信群「万科物业值班群」' "$T/demo.out"
check "shelter-notify: the leak in the WeCom group says 请勿进入车库" grep -q '请勿进入车库' "$T/demo.out"
check "shelter-notify: nobody acknowledged the flood: escalated to the community's DingTalk group" \
	bash -c "grep -q '┌─ 钉钉群「东风社区网格群」' '$T/demo.out' && grep -q '未确认，已升级至东风社区' '$T/demo.out'"
check "the pumps catch up: high_high cleared" grep -q '【严重】恢复 .*集水坑水位超高已恢复' "$T/demo.out"
review=$(sed -n 's/.*review for the property (shelter-report): //p' "$T/demo.out")
check "it ends with the evening's review for the property (${review:-none})" test -s "${review:-/nonexistent}"
check "the review shows the door fault" grep -q 'sensor_disagree' "${review:-/nonexistent}"
check "the review shows the flood" grep -q 'high_high' "${review:-/nonexistent}"
dir=$(grep -o '/tmp/shelter-demo\.[A-Za-z0-9]*' "$T/demo.out" | head -n 1)
check "it used a temp dir ($dir)" test -n "$dir"
check "the temp dir is removed" test ! -e "$dir"
port=$(grep -o 'MQTT port [0-9]*' "$T/demo.out" | head -n 1 | cut -d' ' -f3)
# Its processes ran with paths in $dir or with its broker port: none may be
# left.  (pgrep from this shell: a `bash -c` would match its own arguments.)
left=$(pgrep -af "${dir:-/nonexistent}|127\.0\.0\.1:${port:-0}( |$)")
[ -n "$left" ] && echo "left running: $left"
check "every process it started is stopped" test -z "$left"
