#!/bin/bash
# make fuzz: run each libFuzzer target of DIR (built by the Makefile as
# DIR/fuzz-NAME) for FUZZ_SECONDS (default 60) from its seed corpus
# tests/fuzz/corpus/NAME, one after the other (the machine has two cores).
# New corpus entries and crash files go to a scratch directory, never into
# the repository; it is removed when nothing crashed and kept (its path is
# printed) when something did.  Prints one line per target: executions,
# exec/s, coverage (cov: edges, ft: features), corpus size, and the crash.
# Exits 1 when any target crashed.
#
# Usage: tests/fuzz/run.sh DIR NAME...
set -u
cd "$(dirname "$0")/../.."
dir=$1
shift
secs=${FUZZ_SECONDS:-60}
scratch=$(mktemp -d /tmp/shelter-fuzz-run.XXXXXX)
crashed=0

printf 'fuzzing %d targets for %s s each (FUZZ_SECONDS), scratch %s\n' "$#" "$secs" "$scratch"
printf '%-12s %12s %8s %6s %7s %7s  %s\n' target executions exec/s cov ft corpus result
for t in "$@"; do
	bin=$dir/fuzz-$t
	log=$scratch/$t.log
	mkdir -p "$scratch/corpus/$t" "$scratch/tmp-$t"
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	# The first corpus directory receives new entries; the seeds are only read.
	TMPDIR=$scratch/tmp-$t ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$scratch/$t-" "${dict[@]}" "$scratch/corpus/$t" "tests/fuzz/corpus/$t" \
		</dev/null >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	corpus=$(find "$scratch/corpus/$t" "tests/fuzz/corpus/$t" -type f | wc -l)
	artifacts=$(find "$scratch" -maxdepth 1 -name "$t-*" -type f | tr '\n' ' ')
	result="no crash"
	if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
		result="CRASH (exit $rc): ${artifacts:-see $log}"
		crashed=1
	fi
	printf '%-12s %12s %8s %6s %7s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
		"${ft:-?}" "$corpus" "$result"
	if [ "$result" != "no crash" ]; then
		grep -E 'ERROR|invariant broken|runtime error|SUMMARY|#[0-9]+ 0x' "$log" | head -n 20 |
			sed 's/^/    /'
	fi
done
if [ "$crashed" = 1 ]; then
	echo "crash inputs and logs kept in $scratch (replay one: $dir/fuzz-NAME FILE)"
	exit 1
fi
rm -rf "$scratch"
