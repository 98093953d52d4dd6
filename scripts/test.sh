#!/usr/bin/env bash
# Runs every test of SalesPortal on a fresh Debian machine: installs what the tests need,
# starts the Cloud Storage and BigQuery emulators on loopback, runs the Swift tests and
# the integration tests (real executable, curl, Chromium), and stops the emulators.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/deps.sh test

echo "== build"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Wrapping|Linking|Planning|Building)' || true
swift build --build-tests >/dev/null   # fail here, with the error above, if the build failed

echo "== python test environment"
if [ ! -x .venv-test/bin/pytest ] || ! cmp -s Tests/integration/requirements.txt .venv-test/requirements.txt; then
  python3 -m venv .venv-test
  .venv-test/bin/pip install -q --disable-pip-version-check -r Tests/integration/requirements.txt
  cp Tests/integration/requirements.txt .venv-test/requirements.txt
fi

# The emulator layer is not optional: when it cannot start the run stops here, and under
# CI=true every test that would skip for want of it (or of Chromium) fails instead.
echo "== emulators"
# Emulators that were running before this script stay running after it.
running_before="$(bash scripts/emulators.sh status 2>/dev/null | grep -c ': running' || true)"
bash scripts/emulators.sh start
if [ "$running_before" -eq 0 ]; then
  trap 'bash scripts/emulators.sh stop || true' EXIT
else
  echo "emulators were running already: they are left running"
fi
export STORAGE_EMULATOR_HOST=http://127.0.0.1:9023
export BIGQUERY_EMULATOR_HOST=http://127.0.0.1:9050      # the stand-in that enforces BigQuery's rules
export BIGQUERY_EMULATOR_UPSTREAM=http://127.0.0.1:9051  # the emulator behind it

echo "== swift tests"
swift test --skip-build

echo "== fuzzing (a short pass; scripts/fuzz.sh SECONDS runs longer)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

echo "== container: the Dockerfile linted, the executable run in an empty root"
.venv-test/bin/hadolint Dockerfile
bash scripts/static-check.sh

echo "== integration tests"
export SALES_PORTAL_BIN="$root/.build/debug/sales-portal"
export SEED_DIR="${SEED_DIR:-$root/../shared/data/seed}"
[ -d "$SEED_DIR" ] || export SEED_DIR="$root/Tests/ETLTests/Fixtures"
.venv-test/bin/python -m pytest -q -rs -p no:cacheprovider Tests/integration
