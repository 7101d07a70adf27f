#!/bin/bash
# shelter-report against a real influxd holding 45 days of a district's
# history made by `shelter-sim --history` (through the gateway's own
# encoders): the planted facts come back exactly (door faults per street and
# per community with their acknowledgements and median and worst times, the
# overdue door and its last exercise, the wearing door, the flood's peak,
# the CO2 and smoke events, availability); the work is aggregated in
# InfluxDB; each level (city, district, street, community, shelter) sees
# only its subtree (a slug alone matches nothing); JSON, CSV and HTML carry
# the same numbers; the HTML in headless Chromium (chromedriver's WebDriver
# API): no console errors, a sortable table, non-empty charts (bars, lines,
# the flood timeline), no chart label cut off, printed to PDF on A4 and
# nothing wider than A4 in print layout, a screenshot and the PDF kept under
# build/artefacts/; without dates, the last calendar month; an empty period,
# a subtree or period with no data, an unreachable or refusing InfluxDB, an
# unwritable output: a message and a non-zero exit, no report; InfluxDB 2.x
# through its v1-compatibility API (a local stand-in,
# tests/integration/influx2_standin.py).
. "$(dirname "$0")/lib.sh"

REPORT=$BUILD/shelter-report
ART=$BUILD/artefacts
mkdir -p "$ART"
DB=shelter
influx_setup
start_influx
curl -sf -o /dev/null -XPOST "$URL/query" --data-urlencode "q=CREATE DATABASE $DB" || { fail "create database"; exit 1; }

# 45 days up to 2026-05-01 00:00 China Standard Time; reviewed: April.
END_S=$(date -d '2026-05-01 00:00 +0800' +%s)
FROM_MS=$(( $(date -d '2026-04-01 00:00 +0800' +%s) * 1000 ))
TO_MS=$(( END_S * 1000 ))
"$SIM" --history --shelters 6 --days 45 --end "$END_S" --interval 900 \
	--facts "$T/facts.json" -o "$T/history.lp" || { fail "shelter-sim --history"; exit 1; }
split -l 40000 -d -a 3 "$T/history.lp" "$T/chunk."
APRIL_POINTS=$(awk -v f="$FROM_MS" -v t="$TO_MS" '$NF >= f && $NF < t' "$T/history.lp" | wc -l)
loaded=1
for f in "$T"/chunk.*; do
	curl -sf -o /dev/null -XPOST "$URL/write?db=$DB&precision=ms" --data-binary "@$f" || loaded=0
done
rm -f "$T"/chunk.* "$T/history.lp"
check "the history is written to influxd" test "$loaded" = 1

printf '[influx]\nurl = %s\ndatabase = %s\n' "$URL" "$DB" >"$T/report.conf"
review() { "$REPORT" -c "$T/report.conf" --from 2026-04-01 --to 2026-05-01 "$@"; }
D=zhengzhou/jinshui
review --subtree $D --format json -o "$T/d.json" -v 2>"$T/d.err"
check "the district's review is made (exit 0)" test $? = 0
cat "$T/d.err"
# Pushed down: InfluxDB aggregates, the review fetches far less than one
# byte per point of the period (raw readings would be tens of bytes each),
# in a few requests whatever the number of shelters.
read -r requests bytes < <(sed -n 's/.*: \([0-9]*\) requests, \([0-9]*\) bytes from InfluxDB.*/\1 \2/p' "$T/d.err")
check "aggregated in InfluxDB: ${bytes:-?} bytes in ${requests:-?} requests for $APRIL_POINTS points of April" \
	test "${bytes:-999999999}" -lt $((APRIL_POINTS / 4)) -a "${requests:-99}" -le 6

# Door faults per street and per community: the facts raised in April.
want_by() {
	jq -c --argjson f "$FROM_MS" --argjson t "$TO_MS" --arg key "$1" --arg street "${2:-}" '
		(.shelters | map({(.id): .}) | add) as $sh
		| ([.shelters[] | select($street == "" or .street == $street) | .[$key]] | unique
		   | map({(.): 0}) | add) as $zero
		| reduce (.door_faults[] | select(.raised >= $f and .raised < $t)
			| select($street == "" or $sh[.shelter].street == $street)
			| $sh[.shelter][$key]) as $k ($zero; .[$k] += 1)' "$T/facts.json"
}
got=$(jq -c '.door_faults_by_child' "$T/d.json")
want=$(want_by street)
echo "door faults by street: $got (planted $want)"
check "district: door faults per street as planted" test "$(jq -S . <<<"$got")" = "$(jq -S . <<<"$want")"
check "district: every planted door fault of April, none other" \
	test "$(jq '.door_faults | length' "$T/d.json")" = \
	"$(jq --argjson f "$FROM_MS" --argjson t "$TO_MS" '[.door_faults[] | select(.raised >= $f and .raised < $t)] | length' "$T/facts.json")"

review --subtree $D/wenhua --format json -o "$T/s.json"
got=$(jq -c '.door_faults_by_child' "$T/s.json")
want=$(want_by community wenhua)
echo "door faults of street wenhua by community: $got (planted $want)"
check "street: door faults per community as planted" test "$(jq -S . <<<"$got")" = "$(jq -S . <<<"$want")"
check "street: only its own shelters" \
	jq -e '[.availability[].shelter] | sort == ["sh-02", "sh-06"]' "$T/s.json"
check "street: acked, by whom, cleared (the audit trail)" \
	jq -e '[.door_faults[] | select(.alarm == "sensor_disagree")] | all(.by == "物业值班员" and .acked != null and .cleared != null)' "$T/s.json"

# The overdue door, its last exercise to the millisecond (UTC output).
review --subtree $D --utc --format json -o "$T/u.json"
od=$(jq -c '[.exercise_overdue[] | {shelter, sensor, last_exercise}]' "$T/u.json")
ms=$(jq '.overdue[0].last_exercise' "$T/facts.json")
want_od="[{\"shelter\":\"sh-02\",\"sensor\":\"door-2\",\"last_exercise\":\"$(date -u -d "@${ms:0:-3}" +%Y-%m-%dT%H:%M:%S).${ms: -3}Z\"}]"
echo "overdue: $od (planted $want_od)"
check "the overdue door and when its last full cycle ended, nothing else" test "$od" = "$want_od"
check "its exercise_overdue alarm is among the door faults, still open" \
	jq -e '[.door_faults[] | select(.alarm == "exercise_overdue")] | length == 1 and .[0].cleared == null and .[0].acked == null' "$T/u.json"

cr=$(jq -c '[.door_travel[] | select(.creeping) | "\(.shelter)/\(.sensor)/\(.movement)"] | sort' "$T/d.json")
echo "creeping: $cr; $(jq -c '[.door_travel[] | select(.creeping) | {movement, first_s, last_s}]' "$T/d.json")"
check "the wearing door is flagged (open and close), no other" test "$cr" = '["sh-03/door-1/close","sh-03/door-1/open"]'

fl=$(jq -c '[.floods[] | {sensor, alarm, peak_m}] | sort_by(.alarm)' "$T/d.json")
echo "floods: $fl"
check "the flood: high and high_high with the planted peak, the leak" \
	test "$fl" = '[{"sensor":"sump-1","alarm":"high","peak_m":1.85},{"sensor":"sump-1","alarm":"high_high","peak_m":1.85},{"sensor":"leak-ramp","alarm":"leak","peak_m":null}]'
check "the flood's acknowledgement and duration" \
	jq -e '.floods[] | select(.alarm == "high_high") | .ack_s == 721 and .duration_s == 1200' "$T/d.json"
av=$(jq -c '[.availability[] | {shelter, online_pct, comm_lost_s}] | sort_by(.shelter)' "$T/d.json")
echo "availability: $av"
check "the gateway offline 36 h: 95 % online; the 3 h comm_lost" \
	jq -e '(.availability[] | select(.shelter == "sh-04") | .online_pct == 95 and .offline_s == 129600)
		and (.availability[] | select(.shelter == "sh-05") | .comm_lost_s == 10800)' "$T/d.json"
check "the CO2 event's peak" jq -e '.co2_events[0].peak_ppm == 1450' "$T/d.json"
# Smoke and the door-fault times, against the facts of April (an
# acknowledgement or clear after the period's end is not yet one).
episodes_of() {
	jq -c --argjson f "$FROM_MS" --argjson t "$TO_MS" '[.'"$1"'[] | select(.raised >= $f and .raised < $t)
		| {shelter, sensor, alarm,
		   ack_s: (if .acked > 0 and .acked < $t then (.acked - .raised) / 1000 | round else null end),
		   duration_s: (if .cleared > 0 and .cleared < $t then (.cleared - .raised) / 1000 | round else null end)}]
		| sort_by(.shelter, .sensor, .alarm)' "$T/facts.json"
}
got=$(jq -c '[.smoke_events[] | {shelter, sensor, alarm, ack_s, duration_s}] | sort_by(.shelter, .sensor, .alarm)' "$T/d.json")
want=$(episodes_of smoke)
echo "smoke: $got (planted $want)"
check "the smoke detector's fault as planted (unacknowledged, its duration)" test "$got" = "$want" -a "$want" != "[]"
times() {
	jq -c '(map(.ack_s | select(. != null)) | sort) as $a | (map(.duration_s | select(. != null)) | sort) as $c
		| def med: if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 | round end;
		{ack_median_s: ($a | med), ack_worst_s: ($a | max), clear_median_s: ($c | med), clear_worst_s: ($c | max)}'
}
got=$(jq -c '.door_fault_times | {ack_median_s, ack_worst_s, clear_median_s, clear_worst_s}' "$T/d.json")
want=$(episodes_of door_faults | times)
echo "door-fault times: $got (planted $want)"
check "the door faults' median and worst times to acknowledge and to clear as planted" test "$got" = "$want"

# The city above: per district; a community: per property.
review --subtree zhengzhou --format json -o "$T/c.json"
check "city: door faults per district (all of jinshui's)" \
	test "$(jq -c '.door_faults_by_child' "$T/c.json")" = "{\"jinshui\":$(jq '.door_faults | length' "$T/d.json")}"
review --subtree $D/wenhua/huayuan --format json -o "$T/m.json"
check "community: per property, its own shelters only" \
	jq -e --slurpfile f "$T/facts.json" '.child_level == "property"
		and ([.availability[].shelter] == [$f[0].shelters[] | select(.community == "huayuan") | .id])' "$T/m.json"
# A property, a shelter: only their own; a slug alone is no path.
review --subtree $D/renmin/lvcheng/lvcheng-wuye/sh-03 --format json -o "$T/p.json"
check "shelter level: only sh-03, children are its sensors" \
	jq -e '([.availability[].shelter] == ["sh-03"]) and .child_level == "sensor" and (.door_faults_by_child | has("door-1"))' "$T/p.json"
check "shelter level: its door faults only" \
	jq -e '[.door_faults[].shelter] | unique == ["sh-03"]' "$T/p.json"
out=$(review --subtree jinshui --format json 2>&1 >/dev/null); rc=$?
echo "a slug alone: $out (exit $rc)"
check "a district's slug alone is no subtree: no data, exit 1" test "$rc" = 1 -a -n "$out"
out=$(review --subtree beijing/jinshui --format json -o "$T/none.json" 2>&1); rc=$?
check "the same district slug in another city: no data, exit 1, no file" \
	test "$rc" = 1 -a ! -e "$T/none.json"
grep -q 'no data' <<<"$out" && pass "the message says no data: $out" || fail "message: $out"

# The same numbers in CSV and HTML as in JSON.
review --subtree $D --format csv -o "$T/d.csv"
review --subtree $D -o "$T/d.html"
review --subtree $D --from 2026-04-21 --to 2026-04-22 -o "$T/day.html" # the flood's day: hours on the axes
csv_section() { tr -d '\r' <"$T/d.csv" | awk -v s="# $1" '$0 == s {on = 1; getline; next} on && /^$/ {exit} on'; }
check "CSV: as many door faults as JSON" test "$(csv_section door_faults | wc -l)" = "$(jq '.door_faults | length' "$T/d.json")"
check "CSV: door faults by street as JSON" test "$(csv_section door_faults_by_child | awk -F, '{printf "%s=%s,", $1, $2}')" = \
	"$(jq -r '.door_faults_by_child | to_entries | map("\(.key)=\(.value)") | join(",")' "$T/d.json"),"
check "CSV: the overdue door" test "$(csv_section exercise_overdue | cut -d, -f1,2)" = "sh-02,door-2"
check "CSV: the door-fault times as JSON" test "$(csv_section door_fault_times)" = \
	"$(jq -r '.door_fault_times | [.faults, .acked, .cleared, .ack_median_s, .ack_worst_s, .clear_median_s, .clear_worst_s] | map(. // "") | join(",")' "$T/d.json")"
check "CSV: the smoke events as JSON" test "$(csv_section smoke_events | cut -d, -f1,2,5,10,11)" = \
	"$(jq -r '.smoke_events[] | [.shelter, .sensor, .alarm, .ack_s, .duration_s] | map(. // "") | join(",")' "$T/d.json")"
same=1
while read -r sensor alarm peak ack dur; do
	[ "$peak" = null ] && peak="" || peak=$(printf '%.3f' "$peak")
	grep -q ",$sensor,.*,$alarm,.*,$ack,$dur,$peak\$" <(csv_section floods) || { same=0; echo "CSV misses $sensor $alarm $peak"; }
	[ -z "$peak" ] || grep -q ">$peak m<" "$T/d.html" || { same=0; echo "HTML misses $peak m"; }
done < <(jq -r '.floods[] | "\(.sensor) \(.alarm) \(.peak_m) \(.ack_s) \(.duration_s)"' "$T/d.json")
while read -r first last pct; do
	for v in "$(printf '%.2f' "$first")" "$(printf '%.2f' "$last")"; do
		grep -q ",$v," <(csv_section door_travel) && grep -q ">$v<" "$T/d.html" || { same=0; echo "missing travel $v"; }
	done
done < <(jq -r '.door_travel[] | select(.creeping) | "\(.first_s) \(.last_s) x"' "$T/d.json")
while read -r shelter pct; do
	v=$(printf '%.2f' "$pct")
	grep -q "^$shelter,[^,]*,$v," <(csv_section availability) && grep -q ">$v%<" "$T/d.html" || { same=0; echo "missing online $shelter $v"; }
done < <(jq -r '.availability[] | "\(.shelter) \(.online_pct)"' "$T/d.json")
check "CSV and HTML carry JSON's numbers (floods, creeping doors, availability)" test "$same" = 1
check "HTML: the door faults per street drawn as bars" \
	test "$(grep -o '<rect x="170"' "$T/d.html" | wc -l)" = "$(jq '.door_faults_by_child | length' "$T/d.json")"
check "HTML: self-contained (no http:// or https:// reference)" bash -c "! grep -qE 'https?://' '$T/d.html'"

# The HTML in headless Chromium, driven over WebDriver (chromedriver).
wd() { curl -sS -X "$1" "http://127.0.0.1:$WD_PORT$2" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
WD_PORT=$(free_port)
bg chromedriver chromedriver --port="$WD_PORT"
if wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$WD_PORT/status"; then
	caps=$(jq -cn --arg dir "$T/chrome" '{capabilities: {alwaysMatch: {browserName: "chrome",
		"goog:loggingPrefs": {browser: "ALL"},
		"goog:chromeOptions": {binary: "/usr/bin/chromium", args: ["--headless", "--no-sandbox",
			"--disable-gpu", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--user-data-dir=\($dir)",
			"--window-size=1000,1400"]}}}}')
	SID=$(wd POST /session "$caps" | jq -r '.value.sessionId // empty')
	check "chromium started under chromedriver" test -n "$SID"
	wd POST "/session/$SID/url" "{\"url\":\"file://$T/d.html\"}" >/dev/null
	js() { wd POST "/session/$SID/execute/sync" "$(jq -cn --arg s "$1" '{script: $s, args: []}')" | jq -r '.value'; }
	bars=$(js "return Array.from(document.querySelectorAll('#chart-children rect')).filter(r => r.getBBox().width > 1).length")
	check "the door-fault chart has bars ($bars)" test "${bars:-0}" -ge 3
	lines=$(js "return document.querySelectorAll('#chart-travel polyline').length")
	check "the travel chart has lines ($lines)" test "${lines:-0}" -ge 2
	floods=$(js "return Array.from(document.querySelectorAll('#chart-floods rect')).filter(r => r.getBBox().width >= 1).length")
	check "the flood timeline has a bar per flood alarm ($floods)" test "${floods:-0}" = "$(jq '.floods | length' "$T/d.json")"
	first=$(js "return document.querySelector('#t-door-faults tbody tr td:nth-child(9)').dataset.v")
	js "document.querySelector('#t-door-faults th:nth-child(9)').click(); document.querySelector('#t-door-faults th:nth-child(9)').click(); return 1" >/dev/null
	after=$(js "return document.querySelector('#t-door-faults tbody tr td:nth-child(9)').dataset.v")
	echo "ack time of the first row: $first, after sorting by it descending: $after"
	check "a click on a header sorts the table" test -n "$after" -a "$first" != "$after"
	wd GET "/session/$SID/screenshot" | jq -r '.value' | base64 -d >"$ART/report-district.png"
	el=$(wd POST "/session/$SID/element" '{"using":"css selector","value":"#chart-children"}' | jq -r '.value | to_entries[0].value')
	wd GET "/session/$SID/element/$el/screenshot" | jq -r '.value' | base64 -d >"$ART/report-chart.png"
	check "screenshots kept: $ART/report-district.png, report-chart.png" \
		test "$(stat -c %s "$ART/report-chart.png" 2>/dev/null || echo 0)" -gt 2000
	# Every chart label inside its chart (an SVG clips what sticks out).
	clipped="return JSON.stringify(Array.from(document.querySelectorAll('svg text')).filter(function (t) {
		var s = t.ownerSVGElement.getBoundingClientRect(), r = t.getBoundingClientRect();
		return r.left < s.left - 0.5 || r.right > s.right + 0.5; }).map(function (t) { return t.textContent; }))"
	cut=$(js "$clipped")
	check "no chart label cut off: $cut" test "$cut" = "[]"
	# On A4 paper: Chromium's print to PDF on the page's own @page size, kept
	# as an artefact; then, laid out for print at A4's printable width
	# (210 mm less 2 x 12 mm margins: 703 CSS px), nothing sticks out.
	cdp() { wd POST "/session/$SID/goog/cdp/execute" "$(jq -cn --arg c "$1" --argjson p "$2" '{cmd: $c, params: $p}')"; }
	cdp Page.printToPDF '{"preferCSSPageSize":true,"printBackground":true}' | jq -r '.value.data // empty' |
		base64 -d >"$ART/report-district.pdf"
	boxes=$(grep -a -o '/MediaBox \[[^]]*\]' "$ART/report-district.pdf" | tr -d '[]' |
		awk '{a4 = $4 > 593 && $4 < 597 && $5 > 840 && $5 < 844; printf("%s%s", (NR > 1 ? " " : ""), (a4 ? "A4" : $4 "x" $5))}')
	echo "printed pages: $boxes"
	check "printed on A4 (${boxes:-no pages}), kept as $ART/report-district.pdf" \
		bash -c '[ -n "$1" ] && [ -z "$(tr " " "\n" <<<"$1" | grep -vx A4)" ]' _ "$boxes"
	cdp Emulation.setEmulatedMedia '{"media":"print"}' >/dev/null
	cdp Emulation.setDeviceMetricsOverride '{"width":703,"height":1000,"deviceScaleFactor":1,"mobile":false}' >/dev/null
	wide=$(js "return JSON.stringify(Array.from(document.querySelectorAll('body *'))
		.filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
		.slice(0, 5).map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right)))")
	check "laid out for print at A4's width ($(js 'return window.innerWidth') px), nothing wider: $wide" test "$wide" = "[]"
	# A day's review (hours on the time axes), in the same print layout.
	wd POST "/session/$SID/url" "{\"url\":\"file://$T/day.html\"}" >/dev/null
	floods=$(js "return Array.from(document.querySelectorAll('#chart-floods rect')).filter(r => r.getBBox().width >= 1).length")
	cut=$(js "$clipped")
	check "a day's review: the flood timeline ($floods bars), no chart label cut off: $cut" \
		test "${floods:-0}" -ge 1 -a "$cut" = "[]"
	logs=$(wd POST "/session/$SID/se/log" '{"type":"browser"}' | jq -c '[.value[]? | select(.level == "SEVERE" or .level == "WARNING")]')
	echo "console: $logs"
	check "no console errors or warnings" test "$logs" = "[]"
	wd DELETE "/session/$SID" >/dev/null
else
	fail "chromedriver did not start"; cat "$T/chromedriver.log"
fi

# No review that looks like "all fine" when there is nothing to review.
out=$(review --subtree $D --from 2026-05-01 --to 2026-05-01 -o "$T/e.html" 2>&1); rc=$?
check "an empty period: exit 64 and no file ($out)" test "$rc" = 64 -a ! -e "$T/e.html"
out=$("$REPORT" -c "$T/report.conf" --subtree $D --from 2025-01-01 --to 2025-02-01 -o "$T/e.html" 2>&1); rc=$?
check "a period before any data: exit 1 and no file ($out)" test "$rc" = 1 -a ! -e "$T/e.html"
this_month=$(TZ=Asia/Shanghai date +%Y-%m-01)
last_month=$(TZ=Asia/Shanghai date -d "$this_month -1 month" +%Y-%m-01)
out=$("$REPORT" -c "$T/report.conf" --subtree $D 2>&1 >/dev/null); rc=$?
check "no dates: the last calendar month ($last_month to $this_month, no data there: exit 1)" \
	test "$rc" = 1 -a -n "$(grep -E "(between|from) $last_month (and|to) $this_month" <<<"$out")"
out=$(review --subtree $D -o "$T/no/such/dir/r.html" 2>&1); rc=$?
check "an output that cannot be written: exit 73 and says where ($out)" \
	test "$rc" = 73 -a -n "$(grep -F "$T/no/such/dir/r.html" <<<"$out")"
printf '[influx]\nurl = http://127.0.0.1:%s\ndatabase = shelter\n' "$(free_port)" >"$T/down.conf"
out=$("$REPORT" -c "$T/down.conf" --subtree $D --from 2026-04-01 --to 2026-05-01 -o "$T/e.html" 2>&1); rc=$?
check "an unreachable InfluxDB: exit 69, says so, no file ($out)" \
	test "$rc" = 69 -a ! -e "$T/e.html" -a -n "$(grep -i 'connect' <<<"$out")"
printf '[influx]\nurl = %s\ndatabase = nosuchdb\n' "$URL" >"$T/nodb.conf"
out=$("$REPORT" -c "$T/nodb.conf" --subtree $D --from 2026-04-01 --to 2026-05-01 2>&1 >/dev/null); rc=$?
check "an unknown database: exit 69 with influxd's message ($out)" test "$rc" = 69 -a -n "$(grep 'database not found' <<<"$out")"
printf '[influx]\nurl = %s\ndatabse = shelter\n' "$URL" >"$T/typo.conf"
out=$("$REPORT" -c "$T/typo.conf" 2>&1); rc=$?
check "a typo in [influx]: FILE:LINE and exit 78 ($out)" test "$rc" = 78 -a -n "$(grep "typo.conf:3" <<<"$out")"

# InfluxDB 2.x: the v1-compatibility /query with a token and the bucket's
# virtual DBRP mapping, against the stand-in (the queries run on influxd).
SP=$(free_port)
bg standin python3 "$ROOT/tests/integration/influx2_standin.py" "$SP" s3cret-token "$URL" "shelter/autogen=$DB"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$SP/ping" || fail "the 2.x stand-in did not start"
printf 's3cret-token\n' >"$T/token"
printf '[influx]\nurl = http://127.0.0.1:%s\norg = civil-defence\nbucket = shelter/autogen\ntoken_file = %s\n' "$SP" "$T/token" >"$T/v2.conf"
"$REPORT" -c "$T/v2.conf" --subtree $D --from 2026-04-01 --to 2026-05-01 --format json -o "$T/v2.json"
check "InfluxDB 2.x: the same review as 1.x" \
	test "$(jq -c 'del(.generated)' "$T/v2.json")" = "$(jq -c 'del(.generated)' "$T/d.json")"
printf 'wrong\n' >"$T/token"
out=$("$REPORT" -c "$T/v2.conf" --subtree $D --from 2026-04-01 --to 2026-05-01 2>&1 >/dev/null); rc=$?
check "InfluxDB 2.x: a refused token is exit 69 and says so ($out)" test "$rc" = 69 -a -n "$(grep 'refused the credentials' <<<"$out")"

# A gateway dead since before the period (its last health point 40 days
# before April) is listed offline all month, not left out: a property whose
# gateway died reads as down, never as a row missing from a district's table.
gone_ms=$(( $(date -d '2026-02-20 00:00 +0800' +%s) * 1000 ))
live_ms=$(( $(date -d '2026-04-10 00:00 +0800' +%s) * 1000 ))
tags='city=kaifeng,community=c1,district=gulou,property=p1,sensor=gateway,street=s1'
printf 'gateway,%s,shelter=sh-gone uptime_s=60i %s\ngateway,%s,shelter=sh-live uptime_s=60i %s\n' \
	"$tags" "$gone_ms" "$tags" "$live_ms" |
	curl -sf -o /dev/null -XPOST "$URL/write?db=$DB&precision=ms" --data-binary @- || fail "write kaifeng"
review --subtree kaifeng/gulou --format json -o "$T/gone.json"
jq -c '.availability' "$T/gone.json"
check "a gateway silent since before the period is listed, 0 % online all month" \
	jq -e '[.availability[] | select(.shelter == "sh-gone") | .online_pct == 0 and .offline_s == 2592000] == [true]' "$T/gone.json"

# Free text in the CSV (an acknowledger's name as the ack command gave it)
# that starts like a formula stays text: a reviewer's spreadsheet must not
# run it.
raised_ms=$(( $(date -d '2026-04-12 10:00 +0800' +%s) * 1000 ))
atags='alarm=sensor_disagree,city=kaifeng,community=c1,district=gulou,kind=blast_door,property=p1,sensor=door-1,severity=major,shelter=sh-live,street=s1'
printf 'alarm,%s,event=raised seq=1i,message="door-1：x",location="-B1 门" %s\nalarm,%s,event=acknowledged seq=2i,message="door-1：x",by="=HYPERLINK(\\"http://127.0.0.1/\\",\\"x\\")" %s\n' \
	"$atags" "$raised_ms" "$atags" "$((raised_ms + 60000))" |
	curl -sf -o /dev/null -XPOST "$URL/write?db=$DB&precision=ms" --data-binary @- || fail "write kaifeng alarm"
review --subtree kaifeng/gulou --format csv -o "$T/gone.csv"
review --subtree kaifeng/gulou --format json -o "$T/gone.json"
row=$(tr -d '\r' <"$T/gone.csv" | awk '$0 == "# door_faults" {getline; getline; print; exit}')
echo "door fault row: $row"
check "CSV: free text that starts like a formula is kept text (a leading ')" \
	eval "[[ \"\$row\" == *\",'-B1 门,\"* && \"\$row\" == *\"\\\"'=HYPERLINK(\"* ]]"
check "JSON: the same text as given" \
	jq -e '.door_faults[0].by == "=HYPERLINK(\"http://127.0.0.1/\",\"x\")" and .door_faults[0].location == "-B1 门"' "$T/gone.json"
