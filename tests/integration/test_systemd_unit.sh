#!/bin/bash
# `make install` and what it installs: the layout under DESTDIR, an edited
# gateway.conf surviving a second install, the systemd unit (checked by
# systemd-analyze verify, its sandbox rated by systemd-analyze security) and
# the man pages (no groff or mandoc warnings).  Runs offline: systemd need
# not be PID 1.
#
# The install builds in its own build directory, so the shared build/ is not
# relinked with PREFIX=/usr paths under other tests.
. "$(dirname "$0")/lib.sh"

R=$T/root
UNIT=$R/usr/lib/systemd/system/shelter-gateway.service
MAN=$R/usr/share/man
CONF=$R/etc/shelter-gateway/gateway.conf

# make_install N: make install DESTDIR=$R PREFIX=/usr, output in $T/install-N.log.
make_install() {
	mkdir -p "$T/build"
	touch "$T/build/.deps-ok"   # packages were checked by the build that runs us
	make -C "$ROOT" -s -j"$(nproc)" install B="$T/build" DESTDIR="$R" PREFIX=/usr \
		>"$T/install-$1.log" 2>&1
}

for tool in systemd-analyze:systemd man:man-db; do
	command -v "${tool%%:*}" >/dev/null ||
		{ fail "${tool%%:*} is not installed (Debian package ${tool#*:})"; exit 1; }
done

# ---- layout ----
if ! make_install 1; then
	fail "make install DESTDIR=... PREFIX=/usr"
	tail -n 30 "$T/install-1.log"
	exit 1
fi
pass "make install DESTDIR=... PREFIX=/usr"
check "installs usr/bin/shelter-gateway" test -x "$R/usr/bin/shelter-gateway"
check "installs usr/bin/shelter-sim" test -x "$R/usr/bin/shelter-sim"
if [ -e "$T/build/shelter-watch" ]; then
	check "installs usr/bin/shelter-watch" test -x "$R/usr/bin/shelter-watch"
fi
models_ok() {
	local m
	for m in "$ROOT"/sensors/models/*.model; do
		cmp -s "$m" "$R/usr/share/shelter-gateway/models/${m##*/}" || return 1
	done
}
check "installs every model under usr/share/shelter-gateway/models" models_ok
conf_installed() { cmp -s "$ROOT/conf/gateway.conf" "$CONF" && [ "$(stat -c %a "$CONF")" = 640 ]; }
check "installs etc/shelter-gateway/gateway.conf (the example, mode 640)" conf_installed
check "installs the unit to usr/lib/systemd/system" test -f "$UNIT"
unit_prefixed() {
	grep -qx "ExecStart=/usr/bin/shelter-gateway -c /etc/shelter-gateway/gateway.conf" "$UNIT" &&
		! grep -q "@[A-Z]*@" "$UNIT"
}
check "the unit runs /usr/bin/shelter-gateway (prefix substituted)" unit_prefixed
check "installs the sysusers.d entry for the service user" \
	grep -q '^u shelter-gateway ' "$R/usr/lib/sysusers.d/shelter-gateway.conf"
check "installs the four man pages" test -f "$MAN/man8/shelter-gateway.8" -a \
	-f "$MAN/man5/shelter-gateway.conf.5" -a -f "$MAN/man1/shelter-sim.1" -a \
	-f "$MAN/man1/shelter-watch.1"
check "installs shelter-notify, its config (640), unit, service user and man pages" \
	test -x "$R/usr/bin/shelter-notify" -a "$(stat -c %a "$R/etc/shelter-notify/notify.conf" 2>/dev/null)" = 640 \
	-a -f "$R/usr/lib/systemd/system/shelter-notify.service" \
	-a -f "$R/usr/lib/sysusers.d/shelter-notify.conf" \
	-a -f "$MAN/man8/shelter-notify.8" -a -f "$MAN/man5/shelter-notify.conf.5"
check "installs the Chinese man pages under zh_CN" test -f "$MAN/zh_CN/man8/shelter-gateway.8" -a \
	-f "$MAN/zh_CN/man5/shelter-gateway.conf.5"
check "man -L zh_CN finds the Chinese page" \
	bash -c "MANPATH='$MAN' man -L zh_CN -w shelter-gateway 2>/dev/null | grep -q '/zh_CN/man8/shelter-gateway.8'"

# shelter-report: the program, its page and its example configuration, which
# the installed program reads (only the server moved to a closed port).
check "installs usr/bin/shelter-report and shelter-report(1)" \
	test -x "$R/usr/bin/shelter-report" -a -f "$MAN/man1/shelter-report.1"
RCONF=$R/etc/shelter-report/report.conf
check "installs etc/shelter-report/report.conf (the example)" cmp -s "$ROOT/conf/report.conf" "$RCONF"
sed "s|^url = .*|url = http://127.0.0.1:$(free_port)|" "$RCONF" >"$T/report.conf"
"$R/usr/bin/shelter-report" -c "$T/report.conf" --from 2026-04-01 --to 2026-05-01 \
	>/dev/null 2>"$T/report.log"
rc=$?
check "the installed shelter-report takes the installed example (exit 69: no InfluxDB, not 78)" \
	test "$rc" = 69
cat "$T/report.log"

# The installed example passes the check ExecStartPre makes, with the
# installed models (the binary looks for them under /usr, not in $R).
sed "s|^;models_dir = .*|models_dir = $R/usr/share/shelter-gateway/models|" "$CONF" >"$T/check.conf"
example_checks() { "$R/usr/bin/shelter-gateway" -c "$T/check.conf" --check >"$T/check.log" 2>&1; }
check "the installed example config passes --check with the installed models" example_checks

# ---- a second install keeps the site's configuration ----
echo "; edited on site" >>"$CONF"
cp "$CONF" "$T/edited.conf"
echo "; edited on site" >>"$RCONF"
cp "$RCONF" "$T/edited-report.conf"
if make_install 2; then
	check "a second install keeps an edited gateway.conf" cmp -s "$T/edited.conf" "$CONF"
	check "a second install says it kept gateway.conf" grep -q "keeping existing" "$T/install-2.log"
	check "a second install keeps an edited report.conf" cmp -s "$T/edited-report.conf" "$RCONF"
else
	fail "second make install"
	tail -n 30 "$T/install-2.log"
fi

# ---- the unit ----
# verify resolves ExecStart= binaries and Documentation= man pages on this
# host; a copy with the binaries' paths under $R and MANPATH at $R's man
# pages checks the installed unit against the installed files.
mkdir -p "$T/verify"
sed "s|/usr/bin/shelter-gateway|$R/usr/bin/shelter-gateway|g" "$UNIT" >"$T/verify/shelter-gateway.service"
MANPATH=$MAN systemd-analyze verify "$T/verify/shelter-gateway.service" >"$T/verify.log" 2>&1
rc=$?
check "systemd-analyze verify: the unit is valid, without warnings" \
	test "$rc" = 0 -a ! -s "$T/verify.log"
[ -s "$T/verify.log" ] && cat "$T/verify.log"

NUNIT=$R/usr/lib/systemd/system/shelter-notify.service
sed "s|/usr/bin/shelter-notify|$R/usr/bin/shelter-notify|g" "$NUNIT" >"$T/verify/shelter-notify.service"
MANPATH=$MAN systemd-analyze verify "$T/verify/shelter-notify.service" >"$T/verify-notify.log" 2>&1
rc=$?
check "systemd-analyze verify: shelter-notify's unit is valid, without warnings" \
	test "$rc" = 0 -a ! -s "$T/verify-notify.log"
[ -s "$T/verify-notify.log" ] && cat "$T/verify-notify.log"
systemd-analyze security --offline=true "$T/verify/shelter-notify.service" >"$T/security-notify.log" 2>&1
nexposure=$(sed -n 's/.*Overall exposure level for shelter-notify.service: \([0-9.]*\).*/\1/p' \
	"$T/security-notify.log")
echo "systemd-analyze security shelter-notify: overall exposure ${nexposure:-?}"
awk '$1 == "✗" { printf "  %s %s\n", $2, $NF }' "$T/security-notify.log"
check "systemd-analyze security: shelter-notify's exposure ${nexposure:-?} is at most 2.0" \
	awk -v e="${nexposure:-99}" 'BEGIN { exit !(e <= 2.0) }'
for line in Type=notify NotifyAccess=main WatchdogSec=30s Restart=always; do
	check "shelter-notify's unit sets $line" grep -qxF "$line" "$NUNIT"
done
check "shelter-notify's unit checks the configuration first" \
	grep -qxF 'ExecStartPre=/usr/bin/shelter-notify -c /etc/shelter-notify/notify.conf --check' "$NUNIT"

systemd-analyze security --offline=true "$T/verify/shelter-gateway.service" >"$T/security.log" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for shelter-gateway.service: \([0-9.]*\).*/\1/p' \
	"$T/security.log")
echo "systemd-analyze security: overall exposure ${exposure:-?} (0 = fully sandboxed, 10 = none)"
awk '$1 == "✗" { printf "  %s %s\n", $2, $NF }' "$T/security.log"   # what is still exposed
# 1.5 today: what remains is network access, the serial devices and the
# dialout group, all needed.  A change that loosens the sandbox fails here.
check "systemd-analyze security: exposure ${exposure:-?} is at most 2.0" \
	awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# What the daemon's systemd contract relies on (docs/design.md section 5.1, sd_notify).
for line in Type=notify NotifyAccess=main WatchdogSec=30s Restart=always LimitNOFILE=1024 \
	'ExecReload=/bin/kill -HUP $MAINPID'; do
	check "the unit sets $line" grep -qxF "$line" "$UNIT"
done

# ---- man pages ----
for page in "$ROOT"/man/*.[158]; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$T/man.log"
	check "man --warnings ${page##*/}: no warnings" test ! -s "$T/man.log"
	cat "$T/man.log"
	if command -v mandoc >/dev/null; then
		mandoc -T lint -W warning "$page" >"$T/mandoc.log" 2>&1
		check "mandoc -T lint ${page##*/}: no warnings" test ! -s "$T/mandoc.log"
		cat "$T/mandoc.log"
	fi
done
