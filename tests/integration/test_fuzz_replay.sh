#!/bin/bash
# The fuzz targets of tests/fuzz/ built without libFuzzer (replay.c drives
# them), each fed its seed corpus tests/fuzz/corpus/NAME: the shipped
# configs and models, real command and alarm payloads, real Modbus frames,
# and the inputs that once crashed a target.  Keeps every target compiling
# and every fixed crash fixed; `make fuzz` is the real fuzzing.  Seconds.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

for src in tests/fuzz/fuzz_*.c; do
	t=${src#tests/fuzz/fuzz_}
	t=${t%.c}
	bin=$BUILD/fuzz/replay-$t
	if [ ! -x "$bin" ]; then
		fail "$t: $bin not built (make check builds it)"
		continue
	fi
	out=$(TMPDIR=$T "$bin" "tests/fuzz/corpus/$t" 2>&1)
	rc=$?
	n=$(echo "$out" | sed -n 's/.*: \([0-9]*\) inputs replayed$/\1/p')
	if [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
		pass "$t: $n seed inputs replayed, every invariant held"
	else
		fail "$t: replay exited $rc after ${n:-0} inputs"
		echo "$out" | tail -n 20
	fi
done
