#!/bin/bash
# lib/mqtt's hold_messages against a real mosquitto, on a persistent
# session: a message the program has not said it stored is not acknowledged
# to the broker, so after a kill -9 the broker sends it again; without the
# hold, Paho acknowledges it as it arrives and it is lost with the process.
# (shelter-notify relies on this: docs/design.md section 21.3.)
. "$(dirname "$0")/lib.sh"

DRIVE=$BUILD/tests/hold_drive
[ -x "$DRIVE" ] || { fail "not built: $DRIVE"; exit 1; }
start_broker
URI=tcp://127.0.0.1:$BROKER_PORT

# run NAME ARGS: the driver as client NAME, returned once subscribed.
run() {
	local name=$1; shift
	bg "$name" "$DRIVE" --broker "$URI" --client-id "${name%-*}" --topic "t/${name%-*}" "$@"
	DRIVE_PID=$LAST_PID
	wait_for 10 grep -q subscribed "$T/$name.log" || { fail "$name did not subscribe"; exit 1; }
}

for mode in hold no-hold; do
	flags=()
	[ "$mode" = no-hold ] && flags=(--no-hold)
	run "$mode-1" --keep "${flags[@]}"
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "t/$mode" -m "message-$mode"
	wait_for 10 grep -q "got message-$mode" "$T/$mode-1.log" || { fail "$mode: not received"; exit 1; }
	kill -KILL "$DRIVE_PID"
	wait "$DRIVE_PID" 2>/dev/null
	run "$mode-2" "${flags[@]}"
	wait_for 3 grep -q "got message-$mode" "$T/$mode-2.log"
done
check "held and not stored when killed -9: the broker sends it again" \
	grep -q "got message-hold" "$T/hold-2.log"
check "without the hold the same message is lost with the process (what the hold is for)" \
	bash -c "! grep -q 'got message-no-hold' '$T/no-hold-2.log'"
