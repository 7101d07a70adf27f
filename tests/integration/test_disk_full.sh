#!/bin/bash
# A full state disk (issue 9 defect 2): alarms go on being delivered from
# memory with gateway/disk raised; a SIGKILL while full and a clean SIGTERM
# while full must not give any seq a second meaning; and once the disk has
# room again a new process clears gateway/disk.  The state_dir is a small
# tmpfs filled up with a file (needs root, as the tests run here; without
# mount the test says so and checks nothing).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/state"
if ! mount -t tmpfs -o size=3m,mode=0755 tmpfs "$T/state" 2>/dev/null; then
	echo "SKIP $TEST_NAME: cannot mount a tmpfs (not root?)"
	exit 0
fi
# The processes go first, then the tmpfs, then lib.sh's cleanup removes $T.
cleanup_mount() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; umount "$T/state" 2>/dev/null; }
trap 'cleanup_mount; cleanup' EXIT

start_broker
demo_conf "$T/demo.conf"
sed -i '/^\[sensor leak-ramp\]/,/^input/ s/^input.*/&\nleak_delay = 0s\nleak_clear_delay = 0s/' "$T/demo.conf"
{ for i in $(seq 1 400); do echo "at $((i * 2500))ms set leak-ramp wet $((i % 2))"; done; } >"$T/storm.scn"
start_sim "$T/demo.conf"
start_sub sub -q 1 -c -i centre-full -v -t "$BASE/alarm/#"
simctl play "$T/storm.scn" >/dev/null

run_gw() { "$GW" -c "$T/demo.conf" >>"$T/gateway.log" 2>&1 & pid=$!; }
# 1. A healthy start, then the disk fills up.
run_gw
wait_for 10 log_grew 'mqtt: sync' 0
dd if=/dev/zero of="$T/state/filler" bs=4k status=none 2>/dev/null
wait_for 20 log_grew 'disk failing' 0
disk_raised() { grep "^$BASE/alarm/gateway/disk " "$T/sub.log" | grep -q '"event":"raised"'; }
check "a full disk raises gateway/disk" wait_for 10 disk_raised
sleep 2
# 2. SIGKILL while full; 3. a clean stop while full.
kill -KILL "$pid"; wait "$pid" 2>/dev/null
run_gw
sleep 4
kill -TERM "$pid"; wait "$pid"
run_gw
sleep 4
kill -TERM "$pid"; wait "$pid"
# 4. Room again: a new process finds a healthy disk.
rm -f "$T/state/filler"
marks=$(grep -c 'mqtt: sync' "$T/gateway.log")
run_gw
wait_for 10 log_grew 'mqtt: sync' "$marks"
simctl stop >/dev/null
sleep 3
kill -TERM "$pid"; wait "$pid"
sleep 1

grep -hE 'disk|went back|lost' "$T/gateway.log" | cut -c1-200 | sort | uniq -c | head
alarm_payloads "$T/sub.log" >"$T/all.json"
reused=$(jq -s 'group_by(.seq) | map(select((map(tojson) | unique | length) > 1)) | length' "$T/all.json")
echo "$(wc -l <"$T/all.json") alarm messages, $(jq -s 'map(.seq) | unique | length' "$T/all.json") distinct seqs, $reused reused"
check "kill and clean stop while full: no seq reused for another transition" test "$reused" = 0
last_disk=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$BASE/alarm/gateway/disk" \
	--retained-only -W 2 2>/dev/null | jq -r .event)
check "a new process on a healthy disk clears gateway/disk (retained: $last_disk)" test "$last_disk" = cleared
