# Shared by `make demo` (scripts/demo.sh) and the integration tests
# (tests/integration/lib.sh): local peers on loopback only, started in the
# background from SVC_DIR and stopped by PID (the caller's PIDS array).
# Source it after setting SVC_DIR.

# bg NAME COMMAND...: run in the background, output to $SVC_DIR/NAME.log,
# no stdin; sets LAST_PID and remembers it in PIDS.
bg() {
	local name=$1; shift
	"$@" >"$SVC_DIR/$name.log" 2>&1 </dev/null &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a loopback TCP port nobody listens on and not handed out yet.
# Ports come from outside the kernel's ephemeral range, so an outgoing
# connection on this machine cannot be holding one by the time a peer binds
# it.  Each port is reserved with mkdir, which is atomic, in one directory
# shared by every script tests/run.sh runs at once (SHELTER_PORTS_DIR), or in
# SVC_DIR for a script run alone.  Callers use $(free_port), a subshell, so
# the file system is the only memory that works.
free_port() {
	local lo=32768 hi=60999 dir=${SHELTER_PORTS_DIR:-$SVC_DIR/.ports} p below n
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	below=$(( lo > 10000 ? lo - 10000 : 0 ))	# 10000 .. lo-1
	n=$(( below + 65535 - hi ))			# and hi+1 .. 65535
	if [ "$n" -lt 1000 ]; then below=55536; n=55536; fi	# no room: any
	mkdir -p "$dir"
	while :; do
		p=$(( (RANDOM << 15 | RANDOM) % n ))
		if [ "$p" -lt "$below" ]; then p=$(( p + 10000 )); else p=$(( p - below + hi + 1 )); fi
		port_open "$p" && continue
		mkdir "$dir/$p" 2>/dev/null && { echo "$p"; return; }
	done
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until the command succeeds.
wait_for() {
	local n=$(( $1 * 10 )); shift
	while [ "$n" -gt 0 ]; do "$@" 2>/dev/null && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

# pty_pair NAME: a socat pty pair $SVC_DIR/NAME-gw <-> $SVC_DIR/NAME-sim,
# an RS-485 line between the gateway and the simulator.  0 when ready.
pty_pair() {
	bg "socat-$1" socat -d -d "pty,raw,echo=0,link=$SVC_DIR/$1-gw" "pty,raw,echo=0,link=$SVC_DIR/$1-sim"
	wait_for 5 test -e "$SVC_DIR/$1-sim" -a -e "$SVC_DIR/$1-gw"
}

# demo_shelter_conf OUT SIM_PORT MQTT_PORT: conf/demo.conf served on our
# ports, pty pairs and state dir under SVC_DIR.
demo_shelter_conf() {
	sed -e "s|^\(port *= *\).*|\1$2|" \
	    -e "s|^uri *=.*|uri = tcp://127.0.0.1:$3|" \
	    -e "s|/tmp/shelter-demo/ttyGW1|$SVC_DIR/rs485-1-gw|; s|/tmp/shelter-demo/ttyGW2|$SVC_DIR/rs485-2-gw|" \
	    -e "s|/tmp/shelter-demo/state|$SVC_DIR/state|" \
	    "$ROOT/conf/demo.conf" >"$1"
	mkdir -p "$SVC_DIR/state"
}

# mosquitto_conf OUT PORT [PERSISTENCE_DIR]: an anonymous broker on loopback.
mosquitto_conf() {
	cat >"$1" <<CONF
listener $2 127.0.0.1
allow_anonymous true
user $(id -un)
log_dest file $SVC_DIR/mosquitto.log
max_queued_messages 100000
CONF
	if [ -n "${3:-}" ]; then
		mkdir -p "$3"
		printf 'persistence true\npersistence_location %s/\nautosave_interval 1\n' "$3" >>"$1"
	else
		echo "persistence false" >>"$1"
	fi
}

# influxd_conf OUT DATA_DIR HTTP_PORT RPC_PORT: a real influxd (Debian
# influxdb 1.6) listening on loopback only: the HTTP API and the backup/restore
# RPC service (which 1.x always starts: its address is the top-level
# bind-address).  Upstream spells the usage-report switch reporting-disabled,
# Debian's build reporting-enabled; influxd ignores the key it does not know.
influxd_conf() {
	cat >"$1" <<CONF
reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:$4"
[meta]
  dir = "$2/meta"
[data]
  dir = "$2/data"
  wal-dir = "$2/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$3"
  log-enabled = false
  pprof-enabled = false
[ifql]
  enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
CONF
}
