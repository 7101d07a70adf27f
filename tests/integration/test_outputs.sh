#!/bin/bash
# On-site warning outputs (issue 11; docs/design.md section 19) against
# shelter-sim serving the demo's do8 module over a socat pty:
# - a leak switches the ramp siren and sign on within 1 s of its detection,
#   with the broker down (the simulator records each coil write's time);
# - ack: the siren goes quiet after its min_on, the sign stays on until the
#   leak has cleared;
# - cmd/silence and cmd/test with outputs round trip (cmd_result, coils);
# - a refused write and a stuck relay raise {output}/output_fault, cleared
#   when the relay answers right again; the state is retained on output/NAME;
# - SIGHUP and a restart during an active flood never switch the siren off.
. "$(dirname "$0")/lib.sh"

BROKER_PORT=$(free_port) # not started yet: the first part runs without it
demo_conf "$T/demo.conf"
sed -i "s|^\[gateway\]|&\nmodels_dir = $ROOT/sensors/models|" "$T/demo.conf"
# The leak at once (no 5 s delay), cleared 1 s after it is dry; siren min_on 2 s.
sed -i -e "/^\[sensor leak-ramp\]/a leak_delay = 0s\nleak_clear_delay = 1s" \
	-e "s/^min_on = 10s$/min_on = 2s/" "$T/demo.conf"

start_sim "$T/demo.conf"
start_gw() {
	bg gateway "$GW" -c "$T/demo.conf" -v
	GW_PID=$LAST_PID
}
coil() { simctl get "$1" | grep -q "on=$2"; }
# writes COIL VALUE: the wall ms of each recorded write of VALUE to rs485-1 unit 12 COIL.
writes() { simctl writes | grep "^rs485-1 12 FC05 addr=$1 .*value=$2 " | sed -E 's/.* ms=([0-9]+) .*/\1/'; }
ms_of() { date -d "$1" +%s%3N; }
pub() { mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$BASE/cmd/$1" -m "$2"; }

start_gw
wait_for 15 grep -q 'output ramp-siren: off' "$T/gateway.log"
wait_for 10 coil ramp-siren 0
simctl writes reset >/dev/null

# 1. A leak with the broker down: siren and sign on within 1 s of detection.
simctl set leak-ramp wet 1 >/dev/null
check "leak with the broker down: the siren coil goes on" wait_for 10 coil ramp-siren 1
check "... and the sign's" wait_for 5 coil ramp-sign 1
seen=$(grep -m1 '"sensor":"leak-ramp".*"wet":true' "$T/gateway.log" | sed -E 's/.*"ts":"([^"]*)".*/\1/')
on_ms=$(writes 0 1 | head -n 1)
lat=$(($on_ms - $(ms_of "$seen")))
echo "leak seen $seen, siren written at $on_ms: ${lat} ms"
check "the siren is written within 1 s of the leak's detection (${lat} ms)" test "$lat" -le 1000 -a "$lat" -ge 0
check "the pump (sump high only) stays off" coil sump-pump 0

# 2. The broker comes up: the state is retained on output/NAME.
start_broker
start_sub sub -v -t "$BASE/output/#" -t "$BASE/alarm/#" -t "$BASE/cmd_result"
check "the siren's state is published retained on output/ramp-siren" \
	wait_for 15 grep -q "^$BASE/output/ramp-siren {.*\"on\":true,\"reason\":\[\"$BASE/alarm/leak-ramp/leak\"\],\"quality\":\"good\"" "$T/sub.log"

# 3. Ack: the siren goes quiet, the sign stays on until the leak has cleared.
pub ack '{"id":"a1","sensor":"leak-ramp","alarm":"leak","by":"test"}'
check "ack: the siren goes off" wait_for 10 coil ramp-siren 0
sleep 1.2
check "... the sign stays on while the leak is active" coil ramp-sign 1
simctl set leak-ramp wet 0 >/dev/null
check "the leak clears: the sign goes off" wait_for 10 coil ramp-sign 0

# 4. min_on: a new leak acked at once keeps the siren on for min_on (2 s).
simctl writes reset >/dev/null
simctl set leak-ramp wet 1 >/dev/null
wait_for 10 coil ramp-siren 1
pub ack '{"id":"a2","sensor":"leak-ramp","alarm":"leak","by":"test"}'
wait_for 15 coil ramp-siren 0
on_ms=$(writes 0 1 | head -n 1)
off_ms=$(writes 0 0 | head -n 1)
held=$((${off_ms:-0} - ${on_ms:-0}))
echo "siren on at $on_ms, off at $off_ms: ${held} ms"
check "min_on: acked at once, the siren stays on 2 s (${held} ms)" test "$held" -ge 1950
simctl set leak-ramp wet 0 >/dev/null
wait_for 10 coil ramp-sign 0

# 5. cmd/silence: off until a new alarm sets it again.
simctl set leak-ramp wet 1 >/dev/null
wait_for 10 coil ramp-siren 1
WATCH=$BUILD/shelter-watch
"$WATCH" silence --broker "tcp://127.0.0.1:$BROKER_PORT" --by test "$BASE/output/ramp-siren" >"$T/silence.out" 2>&1
rc=$?
cat "$T/silence.out"
check "shelter-watch silence: the gateway answers ok (exit 0)" test "$rc" = 0 -a "$(cat "$T/silence.out")" = ok
check "... the siren goes off at once (min_on ends)" wait_for 3 coil ramp-siren 0
check "... the sign stays on" coil ramp-sign 1
check "... published as silenced by test" \
	wait_for 5 grep -q "^$BASE/output/ramp-siren {.*\"on\":false.*\"silenced\":true,\"by\":\"test\"" "$T/sub.log"
"$WATCH" silence --broker "tcp://127.0.0.1:$BROKER_PORT" "$BASE/output/no-such" >"$T/silence2.out" 2>&1
rc=$?
check "silence of an unknown output is refused (exit 1, the reason)" \
	test "$rc" = 1 -a "$(cat "$T/silence2.out")" = 'error: no output "no-such"'
simctl set smoke-relay smoke fire >/dev/null
check "a new alarm (fire) sets the silenced siren again" wait_for 10 coil ramp-siren 1
pub ack '{"id":"a3","sensor":"smoke-relay","alarm":"fire","by":"test"}'
simctl set smoke-relay smoke normal >/dev/null
simctl set leak-ramp wet 0 >/dev/null
wait_for 15 coil ramp-siren 0
wait_for 10 coil ramp-sign 0

# 6. cmd/test with outputs: every output pulsed 5 s.
simctl writes reset >/dev/null
pub test '{"id":"t1","outputs":true,"by":"test"}'
check "cmd/test with outputs answers ok" wait_for 10 grep -q '"id":"t1".*"ok":true' "$T/sub.log"
check "... the pump (no alarm) is pulsed on" wait_for 5 coil sump-pump 1
wait_for 10 coil sump-pump 0
on_ms=$(writes 2 1 | head -n 1)
off_ms=$(writes 2 0 | head -n 1)
pulse=$((${off_ms:-0} - ${on_ms:-0}))
check "... for 5 s (${pulse} ms)" test "$pulse" -ge 4800 -a "$pulse" -le 7000

# 7. A refused write raises ramp-siren/output_fault (major); a good one clears it.
simctl fault ramp-siren refuse 4 >/dev/null
simctl set leak-ramp wet 1 >/dev/null
check "a refused write raises output_fault" \
	wait_for 10 grep -q "^$BASE/alarm/ramp-siren/output_fault {.*\"event\":\"raised\".*\"severity\":\"major\"" "$T/sub.log"
check "... its text says which device: the output's place (B1 入口坡道 声光报警器)" \
	grep -q "^$BASE/alarm/ramp-siren/output_fault {.*\"message\":\"B1 入口坡道 声光报警器：输出故障：" "$T/sub.log"
check "... the state says quality fault" \
	wait_for 5 grep -q "^$BASE/output/ramp-siren {.*\"on\":true.*\"quality\":\"fault\"" "$T/sub.log"
simctl fault ramp-siren none >/dev/null
check "the module takes the write again: the siren comes on" wait_for 10 coil ramp-siren 1
check "... and output_fault clears" \
	wait_for 10 grep -q "^$BASE/alarm/ramp-siren/output_fault {.*\"event\":\"cleared\"" "$T/sub.log"
# A relay that acknowledges but does not switch (wrong read-back).
simctl fault ramp-siren stuck >/dev/null
pub ack '{"id":"a4","sensor":"leak-ramp","alarm":"leak","by":"test"}'
check "a read-back that differs after the retries raises output_fault" \
	wait_for 10 bash -c "grep \"^$BASE/alarm/ramp-siren/output_fault \" '$T/sub.log' | tail -n 1 | grep -q 'read-back on, wanted off'"
simctl fault ramp-siren none >/dev/null
wait_for 10 coil ramp-siren 0

# 8. Reload and restart during an active flood: the siren never goes off.
simctl set leak-ramp wet 0 >/dev/null
wait_for 10 coil ramp-sign 0
simctl set leak-ramp wet 1 >/dev/null
wait_for 10 coil ramp-siren 1
simctl writes reset >/dev/null
n=$(grep -c 'reloaded' "$T/gateway.log")
kill -HUP "$GW_PID"
wait_for 10 log_grew 'reloaded' "$n"
sleep 2
check "SIGHUP: the siren stays on" coil ramp-siren 1
kill -TERM "$GW_PID"
wait "$GW_PID"
check "SIGTERM leaves the siren on" coil ramp-siren 1
stop_broker # the restart runs with the broker unreachable again
mv "$T/gateway.log" "$T/gateway-1.log"
start_gw
wait_for 15 grep -q 'output ramp-siren: on' "$T/gateway.log"
sleep 2
check "restart during the flood: the siren is set on from the restored state" \
	grep -q 'output ramp-siren: on' "$T/gateway.log"
check "... and never written off across reload, stop and restart" test -z "$(writes 0 0)"
check "... the coil is on" coil ramp-siren 1

# 9. A saturated bus (its three sensors polled every 100 ms, two answering
# 60 ms late; taken by a reload): the writes still go out ahead of the polls.
sed -i "/^\[sensor sump-\|^\[sensor smoke-power-room\]/,/^interval/ s/^interval = .*/interval = 100ms/" "$T/demo.conf"
n=$(grep -c 'reloaded' "$T/gateway.log")
kill -HUP "$GW_PID"
wait_for 10 log_grew 'reloaded' "$n"
simctl fault sump-east slow 60 >/dev/null
simctl fault sump-west slow 60 >/dev/null
simctl set leak-ramp wet 0 >/dev/null
check "saturated bus: the leak clears, the sign goes off" wait_for 5 coil ramp-sign 0
sleep 0.5
simctl writes reset >/dev/null
mark=$(wc -l <"$T/gateway.log")
simctl set leak-ramp wet 1 >/dev/null
wait_for 5 coil ramp-siren 1
seen=$(tail -n +"$((mark + 1))" "$T/gateway.log" | grep -m1 '"sensor":"leak-ramp".*"wet":true' | sed -E 's/.*"ts":"([^"]*)".*/\1/')
on_ms=$(writes 0 1 | head -n 1)
lat=$((${on_ms:-0} - $(ms_of "${seen:-now}")))
echo "saturated bus: leak seen $seen, siren written at $on_ms: ${lat} ms"
check "saturated bus: the siren is written within 1 s of the leak's detection (${lat} ms)" \
	test -n "$on_ms" -a "$lat" -le 1000 -a "$lat" -ge 0
