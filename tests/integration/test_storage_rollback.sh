#!/bin/bash
# Storage that goes back in time (docs/design.md section 12, issue 9 defect 1): during an
# alarm storm the gateway is SIGKILLed a few times and each time its outbox
# loses its last writes, as a power cut does to flash: the -wal file cut at a
# random offset or bytes flipped in its tail.  At the subscriber no seq ever
# comes again with other content, and gateway/disk tells the centre.  Last,
# the whole state directory goes back (a snapshot restored, the seq
# reservation with it): the broker's retained alarms tell, seq jumps past
# them and what is pending is numbered anew.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
start_broker
demo_conf "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
sed -i '/^\[sensor door-2\]/,/^locked_input/ s/^interval.*/interval = 200ms/' "$T/demo.conf"
sed -i '/^\[sensor door-2\]/,/^locked_input/ s/^locked_input.*/&\nclosed_not_locked_delay = 0s/' "$T/demo.conf"
{ for i in $(seq 1 300); do
	echo "at $((i * 300))ms set leak-ramp wet $((i % 2))"
	echo "at $((i * 300 + 150))ms set door-2 locked $(((i / 2) % 2))"
  done; } >"$T/storm.scn"
start_sim "$T/demo.conf"
start_sub sub -q 1 -c -i centre-rollback -v -t "$BASE/alarm/#"
simctl play "$T/storm.scn" >/dev/null

wal=$T/state/outbox.db-wal
for k in $(seq 1 "$ROUNDS"); do
	"$GW" -c "$T/demo.conf" >>"$T/gateway.log" 2>&1 &
	pid=$!
	sleep "$(awk -v r=$RANDOM 'BEGIN {printf "%.2f", 1.5 + r % 100 / 100}')"
	kill -KILL "$pid"; wait "$pid" 2>/dev/null
	size=$(stat -c %s "$wal" 2>/dev/null || echo 0)
	if [ "$size" -gt 32 ]; then
		if [ $((k % 2)) = 0 ]; then
			printf '\xde\xad\xbe\xef%.0s' $(seq 1 16) |
				dd of="$wal" bs=1 seek=$((size - 100)) conv=notrunc status=none
			echo "round $k: flipped bytes at the end of the $size-byte WAL"
		else
			cut=$((32 + RANDOM * 32768 % (size - 32) / 32768))
			truncate -s "$cut" "$wal"
			echo "round $k: WAL cut from $size to $cut bytes"
		fi
	fi
done
bg gateway-final "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
sleep 4
simctl stop >/dev/null
sleep 2
kill -TERM "$GW_PID"; wait "$GW_PID"
sleep 1

# Then the whole state directory goes back (a snapshot restored): the
# reservation too, so only the broker's retained alarms can tell.
cp -a "$T/state" "$T/snapshot"
simctl play "$T/storm.scn" >/dev/null
seen=$(alarm_payloads "$T/sub.log" | wc -l)
bg gateway-ahead "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
more_alarms() { test "$(alarm_payloads "$T/sub.log" | wc -l)" -ge $((seen + 4)); }
wait_for 20 more_alarms
kill -TERM "$GW_PID"; wait "$GW_PID"
rm -rf "$T/state"; cp -a "$T/snapshot" "$T/state"
bg gateway-restored "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 15 log_grew 'mqtt: sync' 0 "$T/gateway-restored.log"
sleep 3
simctl stop >/dev/null
sleep 2
kill -TERM "$GW_PID"; wait "$GW_PID"
sleep 1
grep -E 'broker holds|skipped|numbered' "$T/gateway-restored.log"
check "a restored snapshot (reservation included) is caught by the broker's retained seqs" \
	grep -q "at or above this run's first seq" "$T/gateway-restored.log"

grep -hE 'went back|lost|storage' "$T/gateway.log" "$T/gateway-final.log" | sort | uniq -c | head
alarm_payloads "$T/sub.log" >"$T/all.json"
reused_strict=$(jq -s 'group_by(.seq) | map(select((map(tojson) | unique | length) > 1)) | length' "$T/all.json")
n=$(wc -l <"$T/all.json")
echo "$n alarm messages, $(jq -s 'map(.seq) | unique | length' "$T/all.json") distinct seqs, $reused_strict seqs with more than one content"
check "the storm produced alarms" test "$n" -ge 20
check "$ROUNDS kills with a damaged WAL: no seq reused for another transition" test "$reused_strict" = 0
disk_raised=$(jq -s '[.[] | select(.sensor == "gateway" and .alarm == "disk" and .event == "raised")] | length' "$T/all.json")
echo "gateway/disk raised $disk_raised times"
check "gateway/disk raised: the storage went back" test "$disk_raised" -gt 0
