#!/bin/bash
# --check in Chinese for the installer (issue 14 item 6): with `language = zh`
# every problem line keeps FILE:LINE, [section] and key and says in Chinese
# what is wrong and what to do: a file saved as GBK, an unknown key, a bad
# value; a missing file follows the locale (there is no file to say zh);
# `language = en` keeps the English lines whatever the locale.
. "$(dirname "$0")/lib.sh"

demo_conf "$T/ok.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/ok.conf"
check "the demo config (language = zh) passes --check" "$GW" -c "$T/ok.conf" --check

# A file saved as GBK (Notepad's "ANSI" on a Chinese Windows).
iconv -f UTF-8 -t GBK "$T/ok.conf" >"$T/gbk.conf"
line=$(grep -n '^location = B1 东侧集水坑$' "$T/ok.conf" | cut -d: -f1)
LANG=C.UTF-8 "$GW" -c "$T/gbk.conf" --check >"$T/gbk.out" 2>&1
rc=$?
cat "$T/gbk.out"
check "GBK file: exit 78" test "$rc" = 78
check "GBK file: FILE:LINE, section, key stay; says to save it as UTF-8" \
	grep -q "^$T/gbk.conf:$line: \[sensor sump-east\] location: 值不是有效的 UTF-8 文本：.*请将文件另存为 UTF-8 编码$" "$T/gbk.out"
check "GBK file: the count line in Chinese" grep -q "^$T/gbk.conf：共 [0-9]* 个错误" "$T/gbk.out"

# An unknown key and a bad value.
sed 's/^pit_depth = 1.2$/pit_depht = 1.2/; 0,/^baud = 9600$/s//baud = 9601/' "$T/ok.conf" >"$T/bad.conf"
kline=$(grep -n '^pit_depht' "$T/bad.conf" | cut -d: -f1)
bline=$(grep -n '^baud = 9601' "$T/bad.conf" | cut -d: -f1)
LANG=C.UTF-8 "$GW" -c "$T/bad.conf" --check >"$T/bad.out" 2>&1
rc=$?
cat "$T/bad.out"
check "unknown key and bad value: exit 78" test "$rc" = 78
check "unknown key: where, and to check the spelling" \
	grep -q "^$T/bad.conf:$kline: \[sensor sump-east\] pit_depht: 未知的键：请检查拼写" "$T/bad.out"
check "bad value: where, the value, what is allowed and what to do" \
	grep -q "^$T/bad.conf:$bline: \[bus rs485-1\] baud: 不支持波特率 9601（可选：1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200）：请按设备说明书" "$T/bad.out"
check "no English reason left" bash -c "! grep -qE 'unknown key|not a supported baud' '$T/bad.out'"

# A missing file: the locale decides.
LANG=zh_CN.UTF-8 LC_ALL= "$GW" -c "$T/missing.conf" --check >"$T/missing.out" 2>&1
rc=$?
cat "$T/missing.out"
check "missing file: exit 78" test "$rc" = 78
check "missing file, zh locale: in Chinese, with what to check" \
	grep -q "^$T/missing.conf: 无法打开配置文件：文件或目录不存在。请检查 -c 指定的路径" "$T/missing.out"
LANG=C.UTF-8 LC_ALL= "$GW" -c "$T/missing.conf" --check >"$T/missing-en.out" 2>&1
check "missing file, C locale: English as before" \
	grep -qx "$T/missing.conf: cannot open: No such file or directory" "$T/missing-en.out"

# language = en: English whatever the locale.
sed 's/^language = zh$/language = en/' "$T/bad.conf" >"$T/bad-en.conf"
LANG=zh_CN.UTF-8 "$GW" -c "$T/bad-en.conf" --check >"$T/bad-en.out" 2>&1
check "language = en: English lines under a zh locale" \
	grep -q "^$T/bad-en.conf:$kline: \[sensor sump-east\] pit_depht: unknown key$" "$T/bad-en.out"

# Warnings (local polling goes on) in Chinese too, exit 0.
sed 's|^uri = .*|&\nusername = gw\npassword_file = /nonexistent/mqtt.password|' "$T/ok.conf" >"$T/warn.conf"
LANG=C.UTF-8 "$GW" -c "$T/warn.conf" --check >"$T/warn.out" 2>&1
rc=$?
cat "$T/warn.out"
check "a missing password file is a warning: exit 0" test "$rc" = 0
check "... in Chinese, with the consequence" \
	grep -q "^警告：$T/warn.conf:[0-9]*: \[mqtt\] password_file: /nonexistent/mqtt.password：不存在：请创建它，或改正路径；改好之前网关不能上传到 MQTT 服务器" "$T/warn.out"
check "... and the count line" grep -q '^[0-9]* 个警告（见 stderr）' "$T/warn.out"
