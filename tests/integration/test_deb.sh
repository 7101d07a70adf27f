#!/bin/bash
# The Debian packages (make deb): both build and lintian finds no error; then
# install, upgrade and purge them on this machine without touching it.
#
# The throwaway root: an overlay file system whose lower layer is this
# machine's / (read only) and whose upper layer is in the test's temp dir,
# mounted in a private mount namespace (unshare), with its own /proc, /run
# (a tmpfs: no /run/systemd/system, so no maintainer script talks to an
# init) and a few device nodes.  dpkg runs inside it with chroot, as on a
# real machine: it finds the host's dpkg database (so the libraries the
# packages depend on are "installed", and they are: the lower layer has
# them), and every write (dpkg's database, /etc/passwd from
# systemd-sysusers, the packages' files, the outbox) lands in the upper
# layer.  The host's / is never written; when the test ends the namespace
# and its mounts are gone and the temp dir is removed.  Needs root (mount,
# chroot), like `make install`.
#
# The upgrade carries an alarm across: the installed v1 daemon (as the
# service user, on a config this test writes: loopback only, broker down)
# raises a fire from the simulator, stops with the alarm in its outbox,
# v2 is installed over it, and v2's daemon, started with the broker up,
# delivers the alarm.
if [ -z "${DEB_TEST_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || {
		echo "FAIL test_deb: needs root (mount, chroot)" | tee -a "${GW_RESULTS:-/dev/null}"
		exit 1
	}
	exec env DEB_TEST_NS=1 unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

R=$T/root
V1=$(cat "$ROOT/VERSION")
V2="$V1+upgradetest"
ARCH=$(dpkg --print-architecture)

unmount_root() {
	mountpoint -q "$R" || return 0
	umount -R "$R" 2>/dev/null || umount -R -l "$R" || {
		echo "$R still mounted: keeping $T"; KEEP_TMP=1
	}
}
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; PIDS=(); unmount_root; cleanup' EXIT

host_state() { sha256sum /etc/passwd /etc/group; dpkg-query -W -f='${Status} ${Version}\n' shelter-gateway 2>&1; }
HOST_BEFORE=$(host_state)

# --- build ------------------------------------------------------------------
# v1 is `make deb` as a user runs it; v2 the same tree under a higher
# version.  Both into the temp dir, so build-deb/ is left alone.
start=$(date +%s)
# One job each: make check runs this beside other tests on a shared machine.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" --no-print-directory DEB_JOBS=1 "$@"; }
# The two at once: a build is mostly one process waiting on the next.  v2
# without its debug-symbol packages (it is only installed over v1).
DEB_BUILD_OPTIONS=noddebs mk deb DEB_DIR="$T/v2" VERSION="$V2" >"$T/deb2.log" 2>&1 &
v2_pid=$!
if mk deb DEB_DIR="$T/v1" >"$T/deb1.log" 2>&1; then
	pass "make deb builds shelter-gateway and shelter-center $V1 and lintian finds no error"
else
	fail "make deb $V1 (see below)"; tail -n 30 "$T/deb1.log"; exit 1
fi
grep -E '^[EWI]: ' "$T/deb1.log" | sed 's/^/lintian: /'
if ! wait "$v2_pid"; then
	fail "make deb $V2"; tail -n 30 "$T/deb2.log"; exit 1
fi
echo "two builds and lintian: $(($(date +%s) - start)) s"
for p in shelter-gateway shelter-center; do
	ls -l "$T/v1/${p}_${V1}_$ARCH.deb"
	dpkg-deb -c "$T/v1/${p}_${V1}_$ARCH.deb" | awk '{print "  " $1, $3, $6}'
done
contents=$(dpkg-deb -c "$T/v1/shelter-gateway_${V1}_$ARCH.deb" | awk '{print $6}')
for f in ./usr/bin/shelter-gateway ./usr/bin/shelter-sim ./etc/shelter-gateway/gateway.conf \
	./lib/systemd/system/shelter-gateway.service ./usr/lib/sysusers.d/shelter-gateway.conf \
	./usr/share/shelter-gateway/models/level-qdy30a.model ./usr/share/man/man8/shelter-gateway.8.gz \
	./usr/share/man/man5/shelter-gateway.conf.5.gz ./usr/share/man/zh_CN/man8/shelter-gateway.8.gz \
	./usr/share/man/zh_CN/man5/shelter-gateway.conf.5.gz; do
	echo "$contents" | grep -qx -- "$f" || fail "shelter-gateway lacks $f"
done
echo "$contents" | grep -q 'shelter-watch' && fail "shelter-gateway holds shelter-watch"
check "shelter-center holds shelter-watch and its man page" \
	test "$(dpkg-deb -c "$T/v1/shelter-center_${V1}_$ARCH.deb" | awk '{print $6}' |
		grep -cE '^\./usr/(bin/shelter-watch|share/man/man1/shelter-watch\.1\.gz)$')" = 2
check "gateway.conf is a conffile" \
	bash -c "dpkg-deb -e '$T/v1/shelter-gateway_${V1}_$ARCH.deb' '$T/ctl' && grep -qx /etc/shelter-gateway/gateway.conf '$T/ctl/conffiles'"

# --- the throwaway root -------------------------------------------------------
mkdir -p "$T/upper" "$T/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R" ||
	{ fail "overlay mount of / (the throwaway root)"; exit 1; }
mount -t proc proc "$R/proc"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/dev"
for d in null:1:3 zero:1:5 random:1:8 urandom:1:9; do
	IFS=: read -r n ma mi <<<"$d"
	mknod -m 666 "$R/dev/$n" c "$ma" "$mi"
done
mkdir -p "$R/srv/debs"
cp "$T"/v1/*_"$ARCH".deb "$T"/v2/*_"$ARCH".deb "$R/srv/debs/"
in_root() { chroot "$R" "$@"; }
as_service() { chroot --userspec=shelter-gateway:shelter-gateway "$R" "$@"; }

# --- install v1 ---------------------------------------------------------------
if in_root dpkg -i "/srv/debs/shelter-gateway_${V1}_$ARCH.deb" "/srv/debs/shelter-center_${V1}_$ARCH.deb" \
	>"$T/install.log" 2>&1; then
	pass "dpkg -i installs both packages"
else
	fail "dpkg -i"; cat "$T/install.log"; exit 1
fi
check "the postinst created the user shelter-gateway" grep -q '^shelter-gateway:' "$R/etc/passwd"
check "gateway.conf is root:shelter-gateway 0640" \
	test "$(in_root stat -c '%U:%G %a' /etc/shelter-gateway/gateway.conf)" = "root:shelter-gateway 640"
check "the state dir is shelter-gateway's, 0700" \
	test "$(in_root stat -c '%U:%G %a' /var/lib/shelter-gateway)" = "shelter-gateway:shelter-gateway 700"
check "the service is not enabled (nor started) before it is configured" \
	test ! -e "$R/etc/systemd/system/multi-user.target.wants/shelter-gateway.service"
check "shelter-gateway --version reports $V1" \
	test "$(in_root shelter-gateway --version)" = "shelter-gateway $V1"
check "shelter-watch is installed" in_root shelter-watch --version
# The centre's services (none with shelter-watch alone; shelter-notify once
# it is in the tree): each brings a user, and its files in /etc/NAME/ are
# root:NAME 0640 (debian/shelter-center.postinst).
for f in $(in_root dpkg-query -L shelter-center | grep '^/usr/lib/sysusers\.d/[^/]*\.conf$'); do
	name=$(basename "$f" .conf)
	check "shelter-center created its service user $name" grep -q "^$name:" "$R/etc/passwd"
	for c in $(in_root dpkg-query -W -f='${Conffiles}\n' shelter-center | awk '{ print $1 }' |
		grep "^/etc/$name/"); do
		check "$c is root:$name 0640" test "$(in_root stat -c '%U:%G %a' "$c")" = "root:$name 640"
	done
done

# The packaged example, checked as the unit's ExecStartPre does: exit 0 with
# the files it names (password, CA, serial devices) as warnings, so the
# service starts and polls without uplink credentials.  (The daemon is not
# run on it: its buses point at a real shelter's LAN.)
as_service shelter-gateway -c /etc/shelter-gateway/gateway.conf --check >"$T/check.out" 2>"$T/check.err"
rc=$?
cat "$T/check.err"
check "the packaged example passes --check as the service user (exit 0)" test "$rc" = 0
for f in /etc/shelter-gateway/mqtt.password /etc/shelter-gateway/rf-ca.pem /dev/ttyS1 /dev/ttyS2; do
	# The example says language = zh: --check's lines are in Chinese.
	check "--check names the missing $f" grep -q "^警告：.*: $f：不存在：请创建它，或改正路径" "$T/check.err"
done

# ... and runs: the packaged example as the service user, with its network
# addresses (the Modbus TCP bus, the brokers) replaced by closed loopback
# ports and a state dir of its own.  No password, no CA file: it starts,
# polls, raises comm_lost locally for the devices that are not there, and
# names the uplink's missing files.
sed -e "s|^host = .*|host = 127.0.0.1|; s|^port = .*|port = $(free_port)|" \
	-e "s|^uri = .*|uri = ssl://127.0.0.1:$(free_port)|" \
	-e "s|^state_dir = .*|state_dir = /var/lib/shelter-gateway/example|" \
	"$R/etc/shelter-gateway/gateway.conf" >"$R/etc/shelter-gateway/example.conf"
in_root chgrp shelter-gateway /etc/shelter-gateway/example.conf
in_root install -d -o shelter-gateway -g shelter-gateway -m 0700 /var/lib/shelter-gateway/example
bg example chroot --userspec=shelter-gateway:shelter-gateway "$R" \
	shelter-gateway -c /etc/shelter-gateway/example.conf
EX=$LAST_PID
check "the packaged example starts without uplink credentials and raises alarms locally" \
	wait_for 30 grep -q 'ALARM raised sump-east comm_lost' "$T/example.log"
check "and names the missing password file in its log" \
	grep -q 'mqtt.password: No such file or directory' "$T/example.log"
kill "$EX"
wait "$EX"
check "the example stops cleanly" test $? = 0
grep -E 'shelter-gateway [0-9]|mqtt.password|ALARM raised sump-east' "$T/example.log" | head -n 4

# ----------------------------------------------------------------------
SIM_PORT=$(free_port)
BROKER_PORT=$(free_port)
cat >"$R/etc/shelter-gateway/test.conf" <<EOF
[gateway]
id = deb-test
city = zhengzhou
district = jinshui
street = fengchan
community = dongfeng
property = wanke-wuye
state_dir = /var/lib/shelter-gateway
language = en
[mqtt]
uri = tcp://127.0.0.1:$BROKER_PORT
[bus tcp-1]
type = tcp
host = 127.0.0.1
port = $SIM_PORT
timeout = 200ms
retries = 1
[sensor smoke-1]
bus = tcp-1
unit = 1
kind = smoke
model = smoke-rs485
interval = 500ms
location = test room
EOF
in_root chgrp shelter-gateway /etc/shelter-gateway/test.conf
chmod 640 "$R/etc/shelter-gateway/test.conf"
bg sim chroot "$R" shelter-sim -c /etc/shelter-gateway/test.conf --control /run/sim.sock
wait_for 10 port_open "$SIM_PORT" || { fail "the installed simulator did not start"; cat "$T/sim.log"; exit 1; }
bg gateway1 chroot --userspec=shelter-gateway:shelter-gateway "$R" \
	shelter-gateway -c /etc/shelter-gateway/test.conf
GW1=$LAST_PID
in_root shelter-sim --ctl /run/sim.sock set smoke-1 smoke fire >/dev/null
check "the installed v1 daemon raises the fire with the broker down" \
	wait_for 20 grep -q 'ALARM raised smoke-1 fire' "$T/gateway1.log"
kill "$GW1"
wait "$GW1"
check "v1 stops cleanly (SIGTERM)" test $? = 0
v1_stopped=$(date -u +%Y-%m-%dT%H:%M:%S.999Z)

# --- upgrade to v2 ------------------------------------------------------------
echo "; the installer's note" >>"$R/etc/shelter-gateway/gateway.conf"
if in_root dpkg -i "/srv/debs/shelter-gateway_${V2}_$ARCH.deb" "/srv/debs/shelter-center_${V2}_$ARCH.deb" \
	>"$T/upgrade.log" 2>&1; then
	pass "dpkg -i upgrades both packages $V1 -> $V2"
else
	fail "upgrade"; cat "$T/upgrade.log"; exit 1
fi
check "shelter-gateway --version reports $V2" \
	test "$(in_root shelter-gateway --version)" = "shelter-gateway $V2"
check "the upgrade keeps the installer's gateway.conf" \
	grep -q "the installer's note" "$R/etc/shelter-gateway/gateway.conf"
check "gateway.conf is still root:shelter-gateway 0640" \
	test "$(in_root stat -c '%U:%G %a' /etc/shelter-gateway/gateway.conf)" = "root:shelter-gateway 640"

start_broker
start_sub alarms -v -q 1 -t 'shelter/+/+/+/+/+/deb-test/alarm/smoke-1/#'
bg gateway2 chroot --userspec=shelter-gateway:shelter-gateway "$R" \
	shelter-gateway -c /etc/shelter-gateway/test.conf
GW2=$LAST_PID
check "v2 sends the alarm v1 left in the outbox" \
	wait_for 30 grep -q '/deb-test/alarm/smoke-1/fire {.*"event":"raised"' "$T/alarms.log"
grep 'alarm/smoke-1' "$T/alarms.log" | head -n 3
# The message is v1's transition (raised before v1 stopped), not a new one.
ts=$(json_field "$(grep -m1 '/alarm/smoke-1/fire ' "$T/alarms.log")" ts)
check "the alarm delivered is the one v1 raised ($ts, before $v1_stopped)" \
	bash -c "[[ '$ts' < '$v1_stopped' ]] && [ -n '$ts' ]"
kill "$GW2"
wait "$GW2"

# --- purge --------------------------------------------------------------------
if in_root dpkg --purge shelter-gateway shelter-center >"$T/purge.log" 2>&1; then
	pass "dpkg --purge removes both packages"
else
	fail "purge"; cat "$T/purge.log"
fi
check "purge removes /etc/shelter-gateway (config)" test ! -e "$R/etc/shelter-gateway"
check "purge removes /var/lib/shelter-gateway (outbox, alarm state)" test ! -e "$R/var/lib/shelter-gateway"
check "purge removes the programs" test ! -e "$R/usr/bin/shelter-gateway" -a ! -e "$R/usr/bin/shelter-watch"
check "dpkg no longer knows the packages" \
	bash -c "! chroot '$R' dpkg-query -W -f='\${Status}' shelter-gateway 2>/dev/null | grep -q installed"
check "the host is untouched (its users, groups and package state as before)" \
	test "$(host_state)" = "$HOST_BEFORE"
