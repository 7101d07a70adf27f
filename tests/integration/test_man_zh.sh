#!/bin/bash
# The Chinese man pages (man/zh_CN/, installed under $(MANDIR)/zh_CN/manN):
# each renders with `man --warnings -l` in a UTF-8 locale without a warning
# and with its Chinese text in the output; no rendered line is wider than 80
# columns (a Chinese character takes 2: the pages are written unfilled and
# wrapped by hand, since groff 1.22 breaks lines only at blanks and would
# run a Chinese paragraph off the screen with "can't break line"); and every
# option and key that the English page documents under its own tag is named
# in the Chinese page too.
. "$(dirname "$0")/lib.sh"

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
	check "man --warnings zh_CN/$name: no warnings" test ! -s "$T/$name.warn"
	cat "$T/$name.warn"
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
