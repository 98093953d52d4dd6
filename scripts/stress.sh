#!/usr/bin/env bash
# Runs the test suites over and over while a second process keeps one core busy, and counts
# passes and failures: the way to see a flaky test before CI does.
# usage: scripts/stress.sh [SWIFT_RUNS (20)] [INTEGRATION_RUNS (10)]
# Needs what scripts/test.sh installs (run it once first); starts the emulators itself.
# Logs go to .build/stress/; a failing run's log is kept as swift-N.log / integration-N.log.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
swift_runs=${1:-20}
integration_runs=${2:-10}
logs=$root/.build/stress
mkdir -p "$logs"

# The busy core: a shell loop, ended with this script.
( end=$((SECONDS + 86400)); while [ $SECONDS -lt $end ]; do :; done ) &
busy=$!
trap 'kill $busy 2>/dev/null; scripts/emulators.sh stop >/dev/null 2>&1' EXIT

scripts/emulators.sh start >/dev/null || { echo "stress: the emulators did not start" >&2; exit 1; }
export STORAGE_EMULATOR_HOST=http://127.0.0.1:9023 BIGQUERY_EMULATOR_HOST=http://127.0.0.1:9050
export BIGQUERY_EMULATOR_UPSTREAM=http://127.0.0.1:9051 SEED_DIR=${SEED_DIR:-$root/../shared/data/seed}
export SALES_PORTAL_BIN=$root/.build/debug/sales-portal CI=true
swift build --build-tests >"$logs/build.log" 2>&1 || { echo "stress: the build failed (see $logs/build.log)" >&2; exit 1; }

passed=0; failed=0
for run in $(seq 1 "$swift_runs"); do
    if swift test --skip-build >"$logs/swift-run.log" 2>&1 && grep -q "Test run with .* passed" "$logs/swift-run.log"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); cp "$logs/swift-run.log" "$logs/swift-$run.log"
        echo "swift run $run failed: $(grep -m3 '✘' "$logs/swift-run.log" | cut -c1-200)"
    fi
done
echo "swift tests: $passed of $swift_runs runs passed, $failed failed"

ipassed=0; ifailed=0
for run in $(seq 1 "$integration_runs"); do
    if .venv-test/bin/python -m pytest -q -p no:cacheprovider -rs Tests/integration >"$logs/integration-run.log" 2>&1; then
        ipassed=$((ipassed + 1))
    else
        ifailed=$((ifailed + 1)); cp "$logs/integration-run.log" "$logs/integration-$run.log"
        echo "integration run $run failed: $(grep -m3 -E '^(FAILED|ERROR)' "$logs/integration-run.log" | cut -c1-200)"
    fi
done
echo "integration tests: $ipassed of $integration_runs runs passed, $ifailed failed"
[ $failed -eq 0 ] && [ $ifailed -eq 0 ]
