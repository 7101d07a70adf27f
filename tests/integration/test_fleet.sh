#!/bin/bash
# A fleet of real shelter-gateway processes on one mosquitto, all polling one
# shelter-sim over Modbus TCP (2 sensors each), spread over three districts
# of one city (issue 14):
#   - the retained status carries since, config, version, mode, sensors,
#     alarms by severity and heartbeat_s, and the heartbeat refreshes it;
#   - `shelter-watch gateways` lists every gateway (table and --json);
#   - three gateways killed with SIGKILL are listed offline, first, since
#     the time they were killed (the broker's will: the watcher started after
#     the kill), with the time their connection had begun;
#   - `shelter-watch mode flood_season zhengzhou/erqi` reaches exactly the
#     online gateways of that district, names the killed one as not sent and a
#     frozen one (SIGSTOP: still connected) as not answering;
#   - `shelter-watch test` for one street: every gateway of the street answers.
# FLEET_N gateways (default 12 here; `make bench` runs 50 and prints memory
# and CPU).  FLEET_FIGURES=1 prints the figures in any case.
. "$(dirname "$0")/lib.sh"

WATCH=$BUILD/shelter-watch
N=${FLEET_N:-12}
[ "$N" -ge 9 ] || N=9
start_broker
BROKER=tcp://127.0.0.1:$BROKER_PORT
SIM_PORT=$(free_port)

# One bus, two sensors: what every gateway of the fleet polls (the simulator
# reads the same sections to know what it serves).
sensors() {
	cat <<CONF
[bus tcp-1]
type = tcp
host = 127.0.0.1
port = $SIM_PORT
timeout = 500ms
retries = 1

[sensor sump]
bus = tcp-1
unit = 1
kind = water_level
model = level-qdy30a
interval = 5s
location = B1 集水坑
pit_depth = 1.2

[sensor smoke]
bus = tcp-1
unit = 3
kind = smoke
model = smoke-rs485
interval = 5s
location = B1 配电间
CONF
}

# gateway i: district jinshui (streets fengchan, huayuan), erqi or guancheng,
# in turn, so each district has about a third of the fleet.
DISTRICTS=(jinshui erqi guancheng)
district_of() { echo "${DISTRICTS[$(($1 % 3))]}"; }
street_of() {
	case $(district_of "$1") in
	jinshui) [ $(($1 % 2)) = 0 ] && echo fengchan || echo huayuan ;;
	*) echo "street$(($1 % 2))" ;;
	esac
}
gw_conf() {
	local i=$1
	mkdir -p "$T/state-$i"
	{
		cat <<CONF
[gateway]
id = fleet-$i
city = zhengzhou
district = $(district_of "$i")
street = $(street_of "$i")
community = c$((i % 4))
property = p$i
name = 人防工程 $i 号
mode = peacetime
state_dir = $T/state-$i
heartbeat = ${HEARTBEAT:-30s}

[mqtt]
uri = $BROKER
keepalive = 30s

CONF
		sensors
	} >"$T/gw-$i.conf"
}
base_of() { echo "shelter/zhengzhou/$(district_of "$1")/$(street_of "$1")/c$(($1 % 4))/p$1/fleet-$1"; }

{ printf '[gateway]\nid = fleet-sim\ncity = zhengzhou\ndistrict = x\nstreet = x\ncommunity = x\nproperty = x\nname = sim\nstate_dir = %s\n\n' "$T"
  sensors; } >"$T/sim.conf"
bg sim "$SIM" -c "$T/sim.conf" --control "$T/sim.sock"
wait_for 10 port_open "$SIM_PORT" || { fail "simulator did not start"; cat "$T/sim.log"; exit 1; }

declare -A GWPID
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
	gw_conf "$i"
	bg "gw-$i" "$GW" -c "$T/gw-$i.conf"
	GWPID[$i]=$LAST_PID
done
gateways_json() { "$WATCH" gateways --broker "$BROKER" --json "$@" 2>>"$T/watch-err.log"; }
all_online() { test "$(gateways_json zhengzhou | jq '[.[] | select(.online)] | length')" = "$1"; }
wait_for 60 all_online "$N" || { fail "$N gateways did not come online"; gateways_json zhengzhou | jq -c '.[]' | head; exit 1; }
t1=$(date +%s.%N)
echo "fleet: $N gateways online in $(echo "$t1 - $t0" | bc) s"

# The retained status of one gateway: the round-2 fields.
status=$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -C 1 -W 5 -t "$(base_of 1)/status")
echo "status: $status"
hash=$("$GW" -c "$T/gw-1.conf" --check | sed -n 's/^configuration hash \([0-9a-f]*\),.*/\1/p')
check "the status carries since, config (the --check hash), version, mode, sensors, alarms, heartbeat_s" \
	jq -e --arg h "$hash" --arg v "$(cat VERSION)" '.online and (.since | test("Z$")) and .config == $h and (.config | length) == 16
		and .version == $v and .mode == "peacetime" and .sensors == 2 and .heartbeat_s == 30
		and .alarms == {"critical":0,"major":0,"minor":0,"info":0} and .gateway == "fleet-1"' <<<"$status" >/dev/null

# The table: every gateway, all online.
"$WATCH" gateways --broker "$BROKER" --lang en zhengzhou >"$T/table.txt" 2>&1
head -n 4 "$T/table.txt"
check "gateways lists every gateway of the city, all online" \
	grep -q "^── zhengzhou: $N gateways, $N online, 0 offline ──" "$T/table.txt"
check "the table has one line per gateway" test "$(grep -c ' fleet-[0-9]* ' "$T/table.txt")" = "$N"

# Memory and CPU of the fleet: VmRSS now, CPU time over 10 s of polling.
cpu_ticks() {
	local s=0 i
	for i in "${!GWPID[@]}"; do
		s=$((s + $(awk '{print $14 + $15}' "/proc/${GWPID[$i]}/stat" 2>/dev/null || echo 0)))
	done
	echo "$s"
}
if [ "${FLEET_FIGURES:-0}" = 1 ] || [ "$N" -ge 50 ]; then
	rss=0 pss=0 anon=0
	for i in "${!GWPID[@]}"; do
		rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/${GWPID[$i]}/status")))
		# PSS counts the shared libraries once across the fleet; anonymous
		# memory is each process's own.
		pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/${GWPID[$i]}/smaps_rollup")))
		anon=$((anon + $(awk '/^Anonymous:/ {print $2}' "/proc/${GWPID[$i]}/smaps_rollup")))
	done
	c0=$(cpu_ticks); w0=$(date +%s.%N)
	sleep 10
	c1=$(cpu_ticks); w1=$(date +%s.%N)
	hz=$(getconf CLK_TCK)
	echo "fleet figures: $N gateways (2 sensors at 5 s each, one mosquitto, one simulator):" \
		"RSS $((rss / 1024)) MiB in all, $((rss / N)) KiB each (PSS $((pss / 1024)) MiB in all," \
		"anonymous $((anon / N)) KiB each);" \
		"CPU $(echo "scale=2; ($c1 - $c0) * 100 / $hz / ($w1 - $w0)" | bc)% of one core in all," \
		"$(echo "scale=3; ($c1 - $c0) * 100 / $hz / ($w1 - $w0) / $N" | bc)% each"
	bp=$(cat /proc/"$BROKER_PID"/status | awk '/^VmRSS/ {print $2}')
	echo "fleet figures: mosquitto RSS $((bp / 1024)) MiB"
fi

# Three gateways killed (no orderly stop): one per district.
KILLED="2 3 4"
kill_t=$(date +%s)
for i in $KILLED; do kill -KILL "${GWPID[$i]}"; done
for i in $KILLED; do wait "${GWPID[$i]}" 2>/dev/null; done
sleep 2 # a watcher that comes later: it learns the time from the broker
all_offline3() { test "$(gateways_json zhengzhou | jq '[.[] | select(.online | not)] | length')" = 3; }
wait_for 20 all_offline3
gateways_json zhengzhou >"$T/fleet.json"
"$WATCH" gateways --broker "$BROKER" --lang en zhengzhou >"$T/table.txt" 2>&1
head -n 6 "$T/table.txt"
check "the three killed gateways are offline" \
	test "$(jq -c '[.[] | select(.online | not) | .gateway] | sort' "$T/fleet.json")" = '["fleet-2","fleet-3","fleet-4"]'
secs() { sed -E 's/\.[0-9]+Z$/Z/' | xargs -I{} date -d {} +%s; }
ok=1
for g in fleet-2 fleet-3 fleet-4; do
	since=$(jq -r --arg g "$g" '.[] | select(.gateway == $g) | .since' "$T/fleet.json" | secs)
	up=$(jq -r --arg g "$g" '.[] | select(.gateway == $g) | .up_since' "$T/fleet.json" | secs)
	echo "$g: killed at $(date -d @"$kill_t" +%T), offline since $(date -d @"$since" +%T), had been up since $(date -d @"$up" +%T)"
	[ "$since" -ge $((kill_t - 1)) ] && [ "$since" -le $((kill_t + 3)) ] || ok=0
	[ "$up" -le "$since" ] && [ "${up%.*}" -ge "${t0%.*}" ] || ok=0
done
check "offline since the time they were killed (±2 s), up since their connect" test "$ok" = 1
check "offline gateways come first in the table" \
	bash -c "sed -n '3,5p' '$T/table.txt' | grep -c '^OFFLINE ' | grep -qx 3"
# The live watcher started after the kill: its OFFLINE lines carry the time too.
bg watch "$WATCH" --broker "$BROKER" --lang en 'shelter/zhengzhou/#'
WATCH_PID=$LAST_PID
wait_for 10 grep -q 'watching live' "$T/watch.log"
kill -INT "$WATCH_PID"; wait "$WATCH_PID"
grep OFFLINE "$T/watch.log"
times_ok() {
	local l t
	for g in fleet-2 fleet-3 fleet-4; do
		l=$(grep "($g) gateway OFFLINE" "$T/watch.log") || return 1
		t=$(date -d "$(date +%F) ${l%% *}" +%s)
		[ "$t" -ge $((kill_t - 1)) ] && [ "$t" -le $((kill_t + 3)) ] || return 1
	done
}
check "a watcher started later shows them OFFLINE at the time they were killed" times_ok
check "--json: offline first too" test "$(jq -c '[.[0:3][] | .online]' "$T/fleet.json")" = '[false,false,false]'
check "--sort gateway keeps offline first, then by id" \
	bash -c "'$WATCH' gateways --broker '$BROKER' --json --sort gateway zhengzhou | jq -e '.[3].gateway == \"fleet-1\" and .[4].gateway == \"fleet-10\"' >/dev/null"
check "a subtree lists only its gateways" \
	test "$(gateways_json zhengzhou/erqi | jq -c '[.[] | .site.district] | unique')" = '["erqi"]'

# mode flood_season for the district erqi: one gateway frozen (still
# connected as far as the broker knows: it cannot answer).
ERQI=$(for i in $(seq 1 "$N"); do [ "$(district_of "$i")" = erqi ] && echo "$i"; done)
LIVE_ERQI=$(for i in $ERQI; do case " $KILLED " in *" $i "*) ;; *) echo "$i";; esac; done)
DEAD_ERQI=$(for i in $ERQI; do case " $KILLED " in *" $i "*) echo "$i";; esac; done)
FROZEN=$(echo "$LIVE_ERQI" | tail -n 1)
SW=$(echo "$LIVE_ERQI" | head -n 1) # switched, and killed later
start_sub sw-status -V 5 -q 1 -t "$(base_of "$SW")/status"
kill -STOP "${GWPID[$FROZEN]}"
"$WATCH" mode flood_season zhengzhou/erqi --broker "$BROKER" --lang en --timeout 3 --by 二七区人防办 >"$T/mode.out" 2>&1
rc=$?
kill -CONT "${GWPID[$FROZEN]}"
cat "$T/mode.out"
n_erqi=$(echo "$ERQI" | wc -w)
check "mode: exit 1 when not every gateway did it" test "$rc" = 1
check "mode: one ok line per online, answering gateway of the district" \
	test "$(grep -c '^ok ' "$T/mode.out")" = $((n_erqi - 2))
check "mode: the killed gateway is named, not sent (offline)" grep -q "^not sent  fleet-$DEAD_ERQI .*(OFFLINE since " "$T/mode.out"
check "mode: the frozen gateway is named as not answering" grep -q "^no answer fleet-$FROZEN " "$T/mode.out"
check "mode: the summary" grep -q "^── mode flood_season: $n_erqi gateways, $((n_erqi - 2)) ok, 0 error, 0 refused, 1 no answer, 1 not sent (offline) ──" "$T/mode.out"
reached=$(grep -l 'mode flood_season by 二七区人防办' "$T"/gw-*.log | sed -E 's/.*gw-([0-9]+)\.log/\1/' | sort -n | tr '\n' ' ')
expected=$(echo "$LIVE_ERQI" | sort -n | tr '\n' ' ')
echo "mode reached: $reached; expected (erqi, the frozen one late): $expected"
wait_for 10 grep -q 'mode flood_season' "$T/gw-$FROZEN.log"
reached=$(grep -l 'mode flood_season by 二七区人防办' "$T"/gw-*.log | sed -E 's/.*gw-([0-9]+)\.log/\1/' | sort -n | tr '\n' ' ')
check "mode flood_season reached exactly the district's online gateways" test "$reached" = "$expected"
flood() { gateways_json zhengzhou | jq -c '[.[] | select(.mode == "flood_season") | .gateway] | sort'; }
want=$(for i in $expected; do echo "fleet-$i"; done | jq -R . | jq -sc 'sort')
wait_for 10 bash -c "[ \"\$(\"$WATCH\" gateways --broker '$BROKER' --json zhengzhou | jq -c '[.[] | select(.mode == \"flood_season\") | .gateway] | sort')\" = '$want' ]"
check "their statuses say flood_season, nobody else's" test "$(flood)" = "$want"

# The will follows the mode: a switched gateway that dies later is listed
# offline in flood_season, with its configuration, up since its first connect.
wait_for 15 grep -q 'so that the will says mode flood_season' "$T/gw-$SW.log"
check "the will is renewed after the mode changed, quietly" \
	eval "grep -q 'so that the will says mode flood_season' '$T/gw-$SW.log' && ! grep -q '\"online\":false' '$T/sw-status.log'"
up0=$(gateways_json zhengzhou | jq -r --arg g "fleet-$SW" '.[] | select(.gateway == $g) | .since')
kill -KILL "${GWPID[$SW]}"; wait "${GWPID[$SW]}" 2>/dev/null
dead_sw() { gateways_json zhengzhou | jq -e --arg g "fleet-$SW" '.[] | select(.gateway == $g) | .online | not' >/dev/null; }
wait_for 10 dead_sw
gateways_json zhengzhou | jq -c --arg g "fleet-$SW" '.[] | select(.gateway == $g)' >"$T/sw.json"
cat "$T/sw.json"
check "a gateway offline after the switch: its will says flood_season, its config, up since its first connect" \
	jq -e --arg up "$up0" '.mode == "flood_season" and (.config | length) == 16 and .up_since == $up' "$T/sw.json" >/dev/null

# The yearly test for one street of Jinshui.
STREET=$(for i in $(seq 1 "$N"); do [ "$(district_of "$i")" = jinshui ] && [ "$(street_of "$i")" = fengchan ] && echo "$i"; done)
STREET=$(for i in $STREET; do case " $KILLED " in *" $i "*) ;; *) echo "$i";; esac; done)
"$WATCH" test --broker "$BROKER" --lang en zhengzhou/jinshui/fengchan >"$T/test.out" 2>&1
rc=$?
cat "$T/test.out"
n_street=$(echo "$STREET" | wc -w)
check "test for a street: every gateway of it ok, exit 0" \
	test "$rc" = 0 -a "$(grep -c '^ok ' "$T/test.out")" = "$n_street"
# The same street named by a topic filter of its statuses (as `gateways`
# takes it): the answers are awaited too, not all read as "no answer".
"$WATCH" test --broker "$BROKER" --lang en 'shelter/zhengzhou/jinshui/fengchan/+/+/+/status' >"$T/test-filter.out" 2>&1
rc=$?
cat "$T/test-filter.out"
check "test for a filter of statuses: every gateway of it ok, exit 0" \
	test "$rc" = 0 -a "$(grep -c '^ok ' "$T/test-filter.out")" = "$n_street"
one=$(echo "$STREET" | head -n 1)
check "the test events were published (one per sensor)" \
	bash -c "mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -W 3 -t '$(base_of "$one")/alarm/#' 2>/dev/null | jq -s -e '[.[] | select(.event == \"test\")] | length >= 2' >/dev/null"

# The heartbeat: a status again without any change (2 s here).
HB_I=$((N + 1))
HEARTBEAT=2s gw_conf "$HB_I"
bg "gw-$HB_I" "$GW" -c "$T/gw-$HB_I.conf"
GWPID[$HB_I]=$LAST_PID
wait_for 20 grep -q 'connected to' "$T/gw-$HB_I.log"
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -C 3 -W 10 -t "$(base_of "$HB_I")/status" >"$T/hb.log" 2>&1
check "the heartbeat publishes the status again, ts advancing" \
	jq -s -e 'length == 3 and (map(.ts) | unique | length) == 3 and (map(.since) | unique | length) == 1' "$T/hb.log" >/dev/null

"$WATCH" gateways --broker "$BROKER" --lang en --sort since zhengzhou >/dev/null
check "gateways exits 0" test $? = 0
out=$("$WATCH" gateways --broker "$BROKER" --json zhengzhou/jinshu 2>&1); rc=$?
check "gateways of a misspelt subtree: exit 1 and says so, not a healthy empty list ($out)" \
	test "$rc" = 1 -a -n "$(grep 'no gateway status under zhengzhou/jinshu' <<<"$out")"
"$WATCH" mode nonsense zhengzhou >/dev/null 2>&1
check "mode with an unknown mode is a usage error (64)" test $? = 64
"$WATCH" mode flood_season >/dev/null 2>&1
check "mode without gateways named is a usage error (64)" test $? = 64
check "gateways without a subtree lists every gateway under the prefix" \
	test "$(gateways_json | jq length)" = "$(gateways_json zhengzhou | jq length)"

# A fire in every shelter (one simulator serves them all): each status counts
# it, without waiting for the heartbeat.
"$SIM" --ctl "$T/sim.sock" set smoke smoke fire >/dev/null
fire_counted() {
	gateways_json zhengzhou | jq -e '[.[] | select(.online)] | length > 0 and all(.alarms.critical >= 1)' >/dev/null
}
wait_for 20 fire_counted
check "the statuses count the active critical alarm at once (heartbeat 30 s)" fire_counted
"$WATCH" gateways --broker "$BROKER" --lang en --sort alarms zhengzhou | sed -n 1,4p

# The broker lost while mode waits for a frozen gateway's answer: the
# answers already in and who has not answered are still printed (which
# gateways switched), exit 1; not only "connection lost".
JS_LIVE=$(for i in $(seq 1 "$N"); do [ "$(district_of "$i")" = jinshui ] && case " $KILLED " in *" $i "*) ;; *) echo "$i";; esac; done)
FROZEN2=$(echo "$JS_LIVE" | tail -n 1)
ANSWER2=$(echo "$JS_LIVE" | head -n 1)
kill -STOP "${GWPID[$FROZEN2]}"
bg mode-cut "$WATCH" mode flood_season zhengzhou/jinshui --broker "$BROKER" --lang en \
	--timeout 60 --by 中断测试
CUT_PID=$LAST_PID
wait_for 20 grep -q 'mode flood_season by 中断测试' "$T/gw-$ANSWER2.log"
sleep 1 # its answer reaches the watcher
stop_broker
wait "$CUT_PID"
rc=$?
kill -CONT "${GWPID[$FROZEN2]}"
cat "$T/mode-cut.log"
check "mode cut short by the broker: exit 1, the answers so far and the gateway not answering" \
	eval "test $rc = 1 && grep -q '^ok        fleet-$ANSWER2 ' '$T/mode-cut.log' && grep -q '^no answer fleet-$FROZEN2 ' '$T/mode-cut.log'"
