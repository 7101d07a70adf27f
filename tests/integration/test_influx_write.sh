#!/bin/bash
# The line-protocol encoder and the InfluxDB writer against a real influxd
# (Debian influxdb 1.6) on loopback ports: every escape case of the unit
# table, Chinese text and each value type are written through
# tests/unit/influx_drive and read back exactly; a field type conflict is
# reported as rejected with the server's message; with influxd stopped the
# writer reports retry-later, and delivers once influxd is back.
# DRIVE_WRAP="valgrind -q --error-exitcode=9 ..." runs the driver under a checker.
. "$(dirname "$0")/lib.sh"

DRIVE=$BUILD/tests/influx_drive
if [ ! -x "$DRIVE" ]; then fail "influx_drive not built (make $DRIVE)"; exit 1; fi
if ! command -v influxd >/dev/null; then fail "influxd not installed"; exit 1; fi
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

influx_setup
query() { curl -sS -G "$URL/query" --data-urlencode "db=$DB" --data-urlencode "q=$1"; }
# cmd WORD ARG...: one driver command, arguments joined by TABs.
cmd() { local IFS=$'\t'; printf '%s\n' "$*"; }
drive() { ${DRIVE_WRAP:-} "$DRIVE" -u "$URL" -d "$DB" -c 1000 -T 5000 -m 200 -M 1000; }
# expect DESCRIPTION GOT WANT: exact comparison, both shown on failure.
expect() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1"; printf ' got: %s\nwant: %s\n' "$2" "$3"; fi
}

start_influx
curl -sf -o /dev/null -XPOST "$URL/query" --data-urlencode "q=CREATE DATABASE $DB" ||
	{ fail "create database"; exit 1; }

# ---- the encoder against the real parser ----
out=$({
	cmd point esc 1000
	cmd tag t 'x y,z=w'
	cmd tag 'a b,c=d' v
	cmd str s 'say "hi" \ there'
	cmd int 'f k,=' 1
	cmd end
	cmd point esc 2000
	cmd tag t 'a\b'
	cmd tag 'k\y' 'v\z'
	# shellcheck disable=SC1003 # a trailing backslash is the case under test
	cmd str s 'C:\'
	cmd int 'f\w' 2
	cmd end
	cmd point esc 3000
	cmd tag t 'say"x"'
	cmd str s 'a b,c=d'
	cmd int 'a"b' 3
	cmd end
	cmd point esc 4000
	cmd tag t ''
	cmd str s ''
	cmd end
	cmd point water_level 5000
	cmd tag shelter 人防工程一号
	cmd tag location '地下车库 B2'
	cmd str message 水位过高，请立即处理
	cmd str 名称 集水坑
	cmd float level_m 1.25
	cmd end
	cmd point num 6000
	cmd int i_zero 0
	cmd int i_neg -42
	cmd int i_max 9223372036854775807
	cmd int i_min -9223372036854775808
	cmd float f_tenth 0.1
	cmd float f_small 1e-7
	cmd float f_large 1e300
	cmd float f_sum 0.30000000000000004
	cmd float f_whole 2
	cmd float f_nan nan
	cmd float f_inf inf
	cmd bool b_true true
	cmd bool b_false false
	cmd end
	cmd point 'my meas,x' 7000
	cmd int f 1
	cmd end
	cmd point 'm=1' 7000
	cmd int f 1
	cmd end
	cmd point 'm\x' 7000
	cmd int f 1
	cmd end
	cmd point 人防_水位 7000
	cmd int f 1
	cmd end
	cmd send
	cmd stats
} | drive)
echo "$out"
check "batch of every escape case delivered" grep -qx 'delivered 204' <<<"$out"
# A call that blocked on the network would take the connect timeout (5 s);
# the bound leaves room for a busy machine preempting the process.
echo "longest writer call: $(sed -n 's/^max-call-ms //p' <<<"$out") ms"
check "no writer call blocked the loop (longest under 1 s)" \
	test "$(sed -n 's/^max-call-ms //p' <<<"$out")" -lt 1000

# Read back exactly (InfluxDB's own JSON, so escapes appear JSON-escaped).
expect "measurement names: comma, space, equals sign, backslash, Chinese" \
	"$(query 'SHOW MEASUREMENTS')" \
	'{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["esc"],["m=1"],["m\\x"],["my meas,x"],["num"],["water_level"],["人防_水位"]]}]}]}'
expect "tag keys and values, field keys and strings with every escape case" \
	"$(query 'SELECT * FROM esc')" \
	'{"results":[{"statement_id":0,"series":[{"name":"esc","columns":["time","a b,c=d","a\"b","f k,=","f\\w","k\\y","s","t"],"values":[["1970-01-01T00:00:01Z","v",null,1,null,null,"say \"hi\" \\ there","x y,z=w"],["1970-01-01T00:00:02Z",null,null,null,2,"v\\z","C:\\","a\\b"],["1970-01-01T00:00:03Z",null,3,null,null,null,"a b,c=d","say\"x\""],["1970-01-01T00:00:04Z",null,null,null,null,null,"",null]]}]}]}'
expect "empty tag value omitted, other tag keys intact" \
	"$(query 'SHOW TAG KEYS FROM esc')" \
	'{"results":[{"statement_id":0,"series":[{"name":"esc","columns":["tagKey"],"values":[["a b,c=d"],["k\\y"],["t"]]}]}]}'
expect "Chinese tag values, field key and string kept byte for byte" \
	"$(query 'SELECT * FROM water_level')" \
	'{"results":[{"statement_id":0,"series":[{"name":"water_level","columns":["time","level_m","location","message","shelter","名称"],"values":[["1970-01-01T00:00:05Z",1.25,"地下车库 B2","水位过高，请立即处理","人防工程一号","集水坑"]]}]}]}'
expect "integers, floats and booleans read back exactly; NaN and inf fields omitted" \
	"$(query 'SELECT * FROM num')" \
	'{"results":[{"statement_id":0,"series":[{"name":"num","columns":["time","b_false","b_true","f_large","f_small","f_sum","f_tenth","f_whole","i_max","i_min","i_neg","i_zero"],"values":[["1970-01-01T00:00:06Z",false,true,1e+300,1e-7,0.30000000000000004,0.1,2,9223372036854775807,-9223372036854775808,-42,0]]}]}]}'
expect "field types: i is integer, a whole float stays float, bool boolean, string string" \
	"$(query 'SHOW FIELD KEYS FROM num, esc, water_level')" \
	'{"results":[{"statement_id":0,"series":[{"name":"esc","columns":["fieldKey","fieldType"],"values":[["a\"b","integer"],["f k,=","integer"],["f\\w","integer"],["s","string"]]},{"name":"num","columns":["fieldKey","fieldType"],"values":[["b_false","boolean"],["b_true","boolean"],["f_large","float"],["f_small","float"],["f_sum","float"],["f_tenth","float"],["f_whole","float"],["i_max","integer"],["i_min","integer"],["i_neg","integer"],["i_zero","integer"]]},{"name":"water_level","columns":["fieldKey","fieldType"],"values":[["level_m","float"],["message","string"],["名称","string"]]}]}]}'

# ---- 4xx: rejected once, with the server's message ----
out=$({
	cmd point num 8000
	cmd float i_zero 1.5
	cmd end
	cmd send
	cmd raw 'no_fields_here 8000'
	cmd send
} | drive)
echo "$out"
expect "field type conflict rejected with the server's message" "$(sed -n 1p <<<"$out")" \
	'rejected 400 partial write: field type conflict: input field "i_zero" on measurement "num" is type float, already exists as type integer dropped=1'
expect "unparsable line rejected with the server's message" "$(sed -n 2p <<<"$out")" \
	"rejected 400 unable to parse 'no_fields_here 8000': invalid field format"
check "each rejected batch reported once" test "$(wc -l <<<"$out")" -eq 2

# ---- influxd stopped, then back: retry later, then delivered ----
# One long-lived writer, fed through a FIFO, so its kept-alive connection
# dies with the server as it would in the daemon.
mkfifo "$T/cmds"
drive <"$T/cmds" >"$T/retry.out" 2>&1 &
DRIVE_PID=$!
PIDS+=("$DRIVE_PID")
exec 3>"$T/cmds"
{
	cmd point after_restart 8500
	cmd int n 0
	cmd end
	cmd send
} >&3
wait_for 10 grep -q '^delivered' "$T/retry.out" || fail "first point before the restart"
stop_influx
check "influxd is down" bash -c "! curl -sf -o /dev/null $URL/ping"
{
	cmd point after_restart 9000
	cmd tag shelter 人防工程一号
	cmd int n 1
	cmd end
	cmd send-until-delivered 60
	cmd stats
} >&3
exec 3>&-
wait_for 10 grep -q '^retry ' "$T/retry.out"
sleep 2 # a few retries with growing backoff
start_influx
wait_for 30 grep -q '^max-call-ms' "$T/retry.out"
wait "$DRIVE_PID"
cat "$T/retry.out"
check "influxd down: retry later, connection refused" \
	grep -Eq "^retry 0 [0-9]+ Failed to connect to 127.0.0.1 port $HTTP_PORT" "$T/retry.out"
check "retried more than once while down" test "$(grep -c '^retry ' "$T/retry.out")" -ge 2
# shellcheck disable=SC2016 # awk's own fields
check "backoff stays under its cap (1000 ms)" \
	awk '/^retry / && ($3 < 100 || $3 > 1000) {bad = 1} END {exit bad}' "$T/retry.out"
expect "delivered once influxd is back" "$(grep -v '^max-call-ms' "$T/retry.out" | tail -n 1)" \
	'delivered 204'
echo "longest writer call during the outage: $(sed -n 's/^max-call-ms //p' "$T/retry.out") ms"
check "no writer call blocked the loop during the outage" \
	test "$(sed -n 's/^max-call-ms //p' "$T/retry.out")" -lt 1000
expect "the retried point is stored once" "$(query 'SELECT * FROM after_restart')" \
	'{"results":[{"statement_id":0,"series":[{"name":"after_restart","columns":["time","n","shelter"],"values":[["1970-01-01T00:00:08.5Z",0,null],["1970-01-01T00:00:09Z",1,"人防工程一号"]]}]}]}'
expect "earlier points survived the restart" "$(query 'SELECT count(s) FROM esc')" \
	'{"results":[{"statement_id":0,"series":[{"name":"esc","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",4]]}]}]}'
stop_influx
