#!/usr/bin/env bash
# Builds SalesPortal and serves it on the embedded defaults (http://127.0.0.1:8080, data in ./var).
# Extra arguments go to `sales-portal serve` (e.g. --port 9000, --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh run
swift build -c release --product sales-portal
exec .build/release/sales-portal serve "$@"
