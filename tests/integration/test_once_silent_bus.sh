#!/bin/bash
# --once on a bus where no unit answers says what that usually means (A/B
# swapped, no common ground, baud rate or parity, unit ids), over socat ptys
# as RS-485 lines: line-a has the simulator on its far end, line-b nobody.
# A bus with one unit answering gets no such text (its silent unit is the
# suspect); garbled answers (bad CRC) point at the serial settings first; a
# device that cannot be opened is named as such.  line-a is set the way
# device manuals write it (parity = N), line-b parity = E.
. "$(dirname "$0")/lib.sh"

pty_pair line-a || { fail "socat pty pair line-a"; exit 1; }
pty_pair line-b || { fail "socat pty pair line-b"; exit 1; }
cat >"$T/gw.conf" <<CONF
[gateway]
id = once-test
city = zhengzhou
district = jinshui
street = fengchan
community = dongfeng
property = wanke-wuye
state_dir = $T/state
[mqtt]
uri = tcp://127.0.0.1:$(free_port)
[bus line-a]
type = rtu
device = $T/line-a-gw
parity = N
timeout = 200ms
retries = 0
[sensor smoke-a1]
bus = line-a
unit = 1
kind = smoke
model = smoke-rs485
interval = 1s
[sensor smoke-a2]
bus = line-a
unit = 2
kind = smoke
model = smoke-rs485
interval = 1s
CONF
# The simulator serves line-a only (it reads the config without line-b).
cp "$T/gw.conf" "$T/sim.conf"
cat >>"$T/gw.conf" <<CONF
[bus line-b]
type = rtu
device = $T/line-b-gw
baud = 19200
parity = E
timeout = 200ms
retries = 0
[sensor smoke-b5]
bus = line-b
unit = 5
kind = smoke
model = smoke-rs485
interval = 1s
[sensor smoke-b6]
bus = line-b
unit = 6
kind = smoke
model = smoke-rs485
interval = 1s
CONF
mkdir -p "$T/state"
SIM_CTL=$T/sim.sock
bg sim "$SIM" -c "$T/sim.conf" --serial "line-a=$T/line-a-sim" --control "$SIM_CTL"
wait_for 10 test -S "$SIM_CTL" || { fail "simulator did not start"; cat "$T/sim.log"; exit 1; }

once() { "$GW" -c "$T/gw.conf" --once >"$T/once.out" 2>"$T/once.err"; }

once
rc=$?
cat "$T/once.out" "$T/once.err"
check "--once exits 1 when a bus is silent" test "$rc" = 1
check "line-a (parity = N) answers" grep -q '"sensor":"smoke-a1".*"quality":"good"' "$T/once.out"
check "the silent bus is named with its settings and units" \
	grep -q '^bus line-b (.*/line-b-gw, 19200 8E1): no unit answered (units 5, 6; last error: Connection timed out)' "$T/once.err"
for cause in "A and B swapped" "no common ground" "the baud rate or parity differ" "wrong unit ids"; do
	check "the silent bus's text names: $cause" grep -q -- "- $cause" "$T/once.err"
done
check "a bus that answers gets no such text" bash -c "! grep -q '^bus line-a' '$T/once.err'"

# One unit of line-a silent, the other answering: the unit is the suspect.
"$SIM" --ctl "$SIM_CTL" fault smoke-a1 mute >/dev/null
once
check "one silent unit on a bus that answers: no line text" \
	bash -c "grep -q '\"sensor\":\"smoke-a2\".*\"quality\":\"good\"' '$T/once.out' && ! grep -q '^bus line-a' '$T/once.err'"

# Every unit of line-a answering with a bad CRC: the settings come first.
"$SIM" --ctl "$SIM_CTL" fault smoke-a1 badcrc >/dev/null
"$SIM" --ctl "$SIM_CTL" fault smoke-a2 badcrc >/dev/null
once
grep -A2 '^bus line-a' "$T/once.err"
check "garbled answers on every unit point at baud, parity or stop bits" \
	grep -q -- '- answers arrive garbled: the baud rate, parity or stop bits differ' "$T/once.err"

# A device that does not exist: no question was asked.
sed -i "s|^device = $T/line-b-gw|device = $T/no-such-tty|" "$T/gw.conf"
once
grep -A1 '^bus line-b' "$T/once.err"
check "a serial device that cannot be opened is named as such" \
	grep -q 'The serial port could not be opened' "$T/once.err"
