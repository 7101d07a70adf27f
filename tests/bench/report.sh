#!/bin/bash
# make bench, shelter-report: a district of 40 shelters over 90 days in a
# real influxd (`shelter-sim --history`: health each minute, readings every
# BENCH_REPORT_INTERVAL seconds and at every change, weekly door cycles, the
# planted faults), then the wall time of the district's review of its last
# month and of the whole 90 days, in each format.  The default interval, 60 s,
# is the gateway's own rate (a reading at least every minute per sensor):
# 36 million points.  Figures, never asserted.  The loaded database is kept
# in build/bench-report (made once: about 6 minutes on 2 cores, 250 MB;
# BENCH_REPORT_INTERVAL=300 loads a fifth of it; `make clean` removes it).
. "$(dirname "$0")/../integration/lib.sh"
REPORT=$BUILD/shelter-report
INTERVAL=${BENCH_REPORT_INTERVAL:-60}
KEEP=$BUILD/bench-report
PARAMS="40 shelters, 90 days to 2026-05-01, readings every ${INTERVAL} s"
END_S=$(date -d '2026-05-01 00:00 +0800' +%s)

DB=shelter
influx_setup
influxd_conf "$T/influxdb.conf" "$KEEP/influx" "$HTTP_PORT" "$(free_port)"
if [ "$(cat "$KEEP/params" 2>/dev/null)" != "$PARAMS" ]; then
	rm -rf "$KEEP"
	mkdir -p "$KEEP"
	start_influx
	curl -sf -o /dev/null -XPOST "$URL/query" --data-urlencode "q=CREATE DATABASE $DB"
	echo "shelter-report bench: loading $PARAMS into influxd (once; kept in $KEEP)"
	t0=$(date +%s%N)
	"$SIM" --history --shelters 40 --days 90 --end "$END_S" --interval "$INTERVAL" 2>"$T/gen.log" |
		split -l 50000 --filter "curl -sf -o /dev/null -XPOST '$URL/write?db=$DB&precision=ms' --data-binary @-"
	t1=$(date +%s%N)
	echo "  $(grep -o '[0-9]* points' "$T/gen.log") generated and written in $(( (t1 - t0) / 1000000 )) ms"
	echo "$PARAMS" >"$KEEP/params"
else
	start_influx
fi
printf '[influx]\nurl = %s\ndatabase = %s\n' "$URL" "$DB" >"$T/report.conf"
run() {
	local what=$1 t0 t1 rc; shift
	t0=$(date +%s%N)
	"$REPORT" -c "$T/report.conf" -v "$@" -o "$T/out" 2>"$T/v.log"; rc=$?
	t1=$(date +%s%N)
	printf '  %-44s %6d ms  (exit %d; %s)\n' "$what" $(( (t1 - t0) / 1000000 )) "$rc" \
		"$(tail -n 1 "$T/v.log" | sed 's/^shelter-report: //')"
}
echo "shelter-report, a district of $PARAMS:"
run "district, April, html" --subtree zhengzhou/jinshui --from 2026-04-01 --to 2026-05-01
run "district, April, json" --subtree zhengzhou/jinshui --from 2026-04-01 --to 2026-05-01 --format json
run "district, April, csv" --subtree zhengzhou/jinshui --from 2026-04-01 --to 2026-05-01 --format csv
run "district, all 90 days, html" --subtree zhengzhou/jinshui --from 2026-01-31 --to 2026-05-01
run "street, April, html" --subtree zhengzhou/jinshui/wenhua --from 2026-04-01 --to 2026-05-01
stop_influx
