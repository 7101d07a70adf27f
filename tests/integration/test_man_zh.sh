#!/bin/bash
# The Chinese man pages (man/zh_CN/, installed under $(MANDIR)/zh_CN/manN):
# each renders with `man --warnings -l` without warnings, except the one
# groff 1.22 gives for every Chinese character (its utf8 device fonts
# describe no CJK glyph, yet it outputs each as it is: the text below must
# be there); no rendered line is wider than 80 columns (a Chinese character
# takes 2: the pages are written unfilled, wrapped by hand, since groff 1.22
# cannot break Chinese text); and every option and key that the English
# page documents under its own tag is named in the Chinese page too.
. "$(dirname "$0")/lib.sh"

# Warnings that are not groff's note on a CJK or full-width character.
other_warnings() {
	grep -vE "warning: can't find special character 'u(2E[89A-F]|2F|3[0-9A-F]|[4-9][0-9A-F]|F[9A]|FE[3-4]|FF[0-9A-E])[0-9A-F]*'" "$1"
}

# Display width of the widest line (East Asian wide and full-width: 2).
widest() {
	python3 -c '
import sys, unicodedata
print(max((sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in l.rstrip("\n"))
           for l in open(sys.argv[1], encoding="utf-8")), default=0))' "$1"
}

declare -A WORDS=(
	[shelter-gateway.8]='人防工程监测网关|请将文件另存为 UTF-8 编码|集水坑液位|有序停止'
	[shelter-gateway.conf.5]='五级维护管理|防护密闭门|汛期|人防门须按月启闭'
)
for page in "$ROOT"/man/zh_CN/*.[158]; do
	name=${page##*/}
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >"$T/$name.txt" 2>"$T/$name.warn"
	check "man --warnings zh_CN/$name: renders" test -s "$T/$name.txt"
	other_warnings "$T/$name.warn" >"$T/$name.other"
	check "man --warnings zh_CN/$name: no warnings but groff's note on CJK glyphs" test ! -s "$T/$name.other"
	cat "$T/$name.other"
	w=$(widest "$T/$name.txt")
	check "zh_CN/$name: no rendered line wider than 80 columns (widest $w)" test "$w" -le 80
	IFS='|' read -ra words <<<"${WORDS[$name]}"
	for word in "${words[@]}"; do
		check "zh_CN/$name: the Chinese text is output ($word)" grep -qF "$word" "$T/$name.txt"
	done
	# Tags of the English page (.TP then .B/.BR key): each named in the Chinese one.
	missing=$(awk 'prev == ".TP" && /^\.BR? / { for (i = 2; i <= NF; i++) { w = $i; gsub(/[",]/, "", w); gsub(/\\/, "", w); if (w ~ /^[a-z_-]+$/) print w } } { prev = $0 }' "$ROOT/man/$name" |
		sort -u | while read -r k; do grep -qF -- "$k" "$T/$name.txt" || echo "$k"; done)
	check "zh_CN/$name: every option and key of the English page is there${missing:+ (missing: $missing)}" test -z "$missing"
done
check "the Chinese pages are the gateway's two" test "$(ls "$ROOT"/man/zh_CN | wc -l)" = 2
