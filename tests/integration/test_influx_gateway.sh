#!/bin/bash
# The gateway's telemetry in a real influxd: readings, every alarm transition
# (with seq) and health, tagged by the five levels; blast-door movements with
# their travel time; influxd stopped mid-scenario and restarted: the backlog
# arrives complete; the README's review queries return what the scenario did;
# a latched fire acknowledged after the smoke went (acknowledged and cleared
# in the same millisecond) is two points, not one.
. "$(dirname "$0")/lib.sh"

DB=shelter
influx_setup
start_influx
curl -sf -o /dev/null -XPOST "$URL/query" --data-urlencode "q=CREATE DATABASE $DB" || { fail "create database"; exit 1; }
start_broker
demo_conf "$T/demo.conf"
printf '\n[influx]\nurl = %s\ndatabase = %s\n' "$URL" "$DB" >>"$T/demo.conf"
sed -i '/^\[sensor sump-east\]/,/^pit_depth/ s/^pit_depth.*/&\nhigh_delay = 2s\nhigh_clear_delay = 3s\nhigh_high_delay = 1s\nrising_fast_enabled = no/' "$T/demo.conf"
sed -i '/^\[sensor door-1\]/,/^open_input/ s/^open_input.*/&\nsensor_disagree_delay = 1s/' "$T/demo.conf"
"$GW" -c "$T/demo.conf" --check >/dev/null || { fail "config with [influx] rejected"; exit 1; }

# The evening: the rain, door-1 opened and closed again (travel times), then
# its lock contact says locked without closed (a door fault).
{ cat "$ROOT/sensors/sim/scenarios/rain.scn"
  cat <<SCN
at 10s set door-1 locked 0
at 15s set door-1 closed 0
at 25s set door-1 open 1
at 60s set door-1 open 0
at 75s set door-1 closed 1
at 85s set door-1 locked 1
at 110s set door-1 closed 0
at 150s set door-1 closed 1
at 20s set smoke-power-room smoke fire
at 40s set smoke-power-room smoke normal
SCN
} >"$T/evening.scn"
start_sim "$T/demo.conf" --speed 5
bg gateway "$GW" -c "$T/demo.conf"
GW_PID=$LAST_PID
wait_for 10 grep -q 'connected to' "$T/gateway.log"
simctl play "$T/evening.scn" >/dev/null
sleep 12
stop_influx
echo "influxd stopped at $(date +%T)"
sleep 15
start_influx
echo "influxd back at $(date +%T)"
wait_for 60 grep -q 'ALARM cleared sump-east high ' "$T/gateway.log"
# The fire is latched (the smoke went at 8 s): the property manager's ack
# ends it with acknowledged and cleared at the same instant.
grep -q 'ALARM raised smoke-power-room fire' "$T/gateway.log" || fail "the fire was not raised"
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$BASE/cmd/ack" \
	-m '{"id":"ack-fire","sensor":"smoke-power-room","alarm":"fire","by":"物业王经理"}'
wait_for 10 grep -q 'ALARM cleared smoke-power-room fire' "$T/gateway.log" || fail "the ack did not end the fire"
# The writer's backoff doubles while influxd is away: its next try can be
# half a minute off.  Wait for it, then for the backlog to be in.
wait_for 90 grep -q 'influx: writing again' "$T/gateway.log"
in_influx() {
	test "$(influx_query 'SELECT seq FROM alarm' | jq '[.results[0].series[]?.values[]] | length')" \
		-ge "$(grep -c '^[a-z]*: ALARM' "$T/gateway.log")"
}
wait_for 60 in_influx
sleep 2
kill -TERM "$GW_PID"; wait "$GW_PID"
grep -E 'influx|ALARM' "$T/gateway.log"

series() { influx_query "$1" | jq -c '.results[0].series // []'; }
values() { influx_query "$1" | jq -c '[.results[0].series[]?.values[]]'; }

check "the gateway noticed influxd going away" grep -q 'influx: write failed' "$T/gateway.log"
check "and writing again after it came back" grep -q 'influx: writing again' "$T/gateway.log"
during=$(awk '/influx: write failed/ {down = 1} /influx: writing again/ {down = 0} /ALARM/ && down {n++} END {print n + 0}' "$T/gateway.log")
check "alarm transitions happened while influxd was down ($during)" test "$during" -ge 1

# Schema: measurements, field types, tags.
m=$(influx_query 'SHOW MEASUREMENTS' | jq -r '[.results[0].series[0].values[][0]] | join(",")')
echo "measurements: $m"
for want in alarm blast_door co2 gateway output smoke water_leak water_level; do
	check "measurement $want" grep -qw "$want" <<<"$m"
done
fk() { influx_query "SHOW FIELD KEYS FROM \"$1\"" | jq -r '[.results[0].series[0].values[] | "\(.[0]):\(.[1])"] | sort | join(",")'; }
echo "water_level fields: $(fk water_level)"
check "water_level fields and types" test "$(fk water_level)" = "level_m:float,level_pct:float,quality:string"
check "co2 fields and types" test "$(fk co2)" = "co2_ppm:float,over_range:boolean,quality:string"
check "blast_door fields include contacts and travel" \
	test "$(fk blast_door)" = "contact_closed:boolean,contact_locked:boolean,contact_open:boolean,door:string,movement:string,quality:string,travel_s:float"
check "alarm fields: seq is an integer" grep -q 'seq:integer' <<<"$(fk alarm)"
check "alarm fields: kind and event are not fields (they are tags)" \
	bash -c "! grep -qE '(^|,)(kind|event):' <<<'$(fk alarm)'"
check "gateway health fields" grep -q 'broker_connected:boolean.*polls:integer' <<<"$(fk gateway | tr , '\n' | sort | paste -sd, -)"
check "output fields and types (the on-site outputs)" test "$(fk output)" = "on:boolean,quality:string,reasons:integer"
check "output tags name the output" grep -q 'ramp-siren' <<<"$(influx_query 'SHOW TAG VALUES FROM "output" WITH KEY = "output"')"
tags=$(influx_query 'SHOW TAG KEYS FROM "alarm"' | jq -r '[.results[0].series[0].values[][0]] | sort | join(",")')
check "alarm tags: the five levels, shelter, sensor, alarm, severity, kind, event" \
	test "$tags" = "alarm,city,community,district,event,kind,property,sensor,severity,shelter,street"
check "Chinese text intact in InfluxDB" \
	grep -q '集水坑水位超高' <<<"$(values "SELECT message FROM alarm WHERE alarm = 'high_high'")"

# The backlog of the outage arrived complete: every transition, every seq.
logged=$(grep -c '^[a-z]*: ALARM' "$T/gateway.log")
seqs=$(values 'SELECT seq FROM alarm' | jq -c 'map(.[1]) | sort')
echo "alarm seqs in InfluxDB: $seqs"
check "every alarm transition is in InfluxDB ($logged logged)" test "$(jq length <<<"$seqs")" = "$logged"
check "seqs 1..$logged, none missing" test "$seqs" = "$(jq -c -n "[range(1; $logged + 1)]")"
during=$(values "SELECT level_m FROM water_level WHERE sensor = 'sump-east'" | jq 'length')
check "readings written during the outage arrived ($during sump readings)" test "$during" -ge 20

# Two transitions in one millisecond: both points are there.
fire=$(values "SELECT seq, \"event\", \"by\" FROM alarm WHERE \"alarm\" = 'fire'" | jq -c 'sort_by(.[1])')
echo "fire in InfluxDB: $fire"
check "the fire's raised, acknowledged and cleared are three points" \
	test "$(jq -c 'map(.[2])' <<<"$fire")" = '["raised","acknowledged","cleared"]'
check "acknowledged and cleared share their millisecond" \
	jq -e '.[1][0] == .[2][0] and .[1][1] != .[2][1]' <<<"$fire"
check "the acknowledgement keeps who acknowledged (the audit trail)" \
	jq -e '.[1][3] == "物业王经理"' <<<"$fire"

# Door movements and travel times.
mv=$(values "SELECT movement, travel_s FROM blast_door WHERE sensor = 'door-1' AND movement != ''")
echo "door-1 movements: $mv"
check "door-1 opening measured (2 s at speed 5)" jq -e 'map(select(.[1] == "open")) | length == 1 and (.[0][2] >= 1 and .[0][2] <= 4)' <<<"$(jq -c 'map(select(.[1] == "open"))' <<<"$mv")"
check "door-1 closing and locking measured" jq -e 'map(.[1]) | index("close") != null and index("lock") != null' <<<"$mv"

# The README's review queries, run as written there.
door_q=$(sed -n '/-- a district.s door faults/{n;p}' "$ROOT/README.md")
flood_q=$(sed -n '/-- a property.s flood alarms/{n;p}' "$ROOT/README.md")
echo "README door query: $door_q"
check "README has the door-fault query" test -n "$door_q"
res=$(influx_query "$door_q")
echo "$res" | jq -c '.results[0].series'
check "README door-fault query finds the disagreeing door, grouped by community" \
	jq -e '.results[0].series[0].tags.community == "dongfeng" and .results[0].series[0].values[0][1] >= 1' <<<"$res"
res=$(influx_query "$flood_q")
check "README flood query finds high and high_high of sump-east" \
	jq -e '[.results[0].series[0].values[][] | strings] | (index("high") != null and index("high_high") != null)' <<<"$res"
