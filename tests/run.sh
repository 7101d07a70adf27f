#!/bin/bash
# Runs every test of `make check`: the Check unit-test binaries given as
# arguments, then each tests/integration/test_*.sh.  Prints a per-suite line
# and closes with "N passed, N failed"; exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failed_names=()

for bin in "$@"; do
	out=$("$bin" 2>&1)
	rc=$?
	echo "$out" | grep -E '^[0-9]+%: Checks:|:[EF]:' || true
	line=$(echo "$out" | grep -E '^[0-9]+%: Checks:' | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $bin: no Check summary (exit $rc)"
		echo "$out" | tail -n 20
		failed=$((failed + 1)); failed_names+=("$bin")
		continue
	fi
	checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	passed=$((passed + checks - fails - errs))
	failed=$((failed + fails + errs))
	[ $((fails + errs)) -gt 0 ] && failed_names+=("$bin")
done

# Integration scripts append "PASS name" / "FAIL name" lines to $GW_RESULTS
# (one short O_APPEND write each, so concurrent scripts do not interleave).
# They are mostly waiting on timers and peers, so up to GW_TEST_JOBS (3) run
# at once; each one's output is printed as one block when it ends.  Every
# script has its own temp dir, ports and processes.
export GW_RESULTS SHELTER_PORTS_DIR
GW_RESULTS=$(mktemp)
# Ports handed out to the scripts running at once (scripts/services.sh).
# A caller running several suites at once on one machine (two work trees)
# may share one directory between them by setting SHELTER_PORTS_DIR; its
# entries older than an hour are from runs long over and are pruned.
own_ports=0
if [ -n "${SHELTER_PORTS_DIR:-}" ]; then
	mkdir -p "$SHELTER_PORTS_DIR"
	find "$SHELTER_PORTS_DIR" -mindepth 1 -maxdepth 1 -type d -mmin +60 -exec rmdir {} + 2>/dev/null
else
	SHELTER_PORTS_DIR=$(mktemp -d); own_ports=1
fi
logs=$(mktemp -d)
jobs_max=${GW_TEST_JOBS:-3}
run_script() {
	local t=$1 log
	log="$logs/$(basename "$t").log"
	local start
	start=$(date +%s)
	if ! timeout 300 bash "$t" >"$log" 2>&1; then
		echo "FAIL $t (exited non-zero)" | tee -a "$log" >>"$GW_RESULTS"
	fi
	echo "== $t: $(($(date +%s) - start)) s" >>"$log"
	flock "$logs" sh -c "echo '== $t'; cat '$log'"
}
for t in tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
	run_script "$t" &
done
wait
rm -rf "$logs"
[ "$own_ports" = 1 ] && rm -rf "$SHELTER_PORTS_DIR"
p=$(grep -c '^PASS ' "$GW_RESULTS")
f=$(grep -c '^FAIL ' "$GW_RESULTS")
grep '^FAIL ' "$GW_RESULTS" | sed 's/^/  /'
rm -f "$GW_RESULTS"
passed=$((passed + p))
failed=$((failed + f))
for n in "${failed_names[@]}"; do echo "  FAIL $n"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
