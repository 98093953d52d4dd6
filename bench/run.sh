#!/usr/bin/env bash
# Benchmarks SalesPortal beside nginx and a Flask portal, in one run, and writes bench/RESULTS.md.
# Installs its peers (nginx, wrk, curl from Debian; Flask and gunicorn from PyPI in bench/.venv),
# builds the release executable, generates the data files into bench/out/, runs every scenario.
# Environment: BENCH_ROUNDS (3), BENCH_WRK_SECONDS (10), BENCH_ONLY (http,upload,ingest,idle,ceiling,gcp,reports,attacks,logging),
# BENCH_ROWS ("1M=1000000 5M=5000000"), BENCH_SKIP_BUILD=1 to reuse .build/release.
# reports (bench/reports.py, DuckDB from PyPI beside it): BENCH_REPORT_ROWS ("5M=5000000 10M=10000000"),
# BENCH_REPORT_COLD_ROUNDS (5), BENCH_REPORT_RANDOM (200), BENCH_REPORT_RANDOM_SECONDS (600),
# BENCH_REPORT_TIMEOUT (120 s a request), BENCH_REPORT_SETTINGS (JSON added to the server's configuration).
# logging (bench/logging_cost.py): /healthz with the access log off, as text and as JSON, beside nginx;
# attacks (bench/attacks.py): a normal user's latency alone and under attack, and memory after;
# BENCH_ATTACK_ROWS (2000000), BENCH_ATTACK_PROBES (9).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench
OUT=$BENCH/out
GENERATOR=$ROOT/../shared/tools/gen_online_retail.py
mkdir -p "$OUT"

if [ ! -f "$GENERATOR" ]; then
    echo "run.sh: the data generator is missing: $GENERATOR (expected at ../shared/tools relative to the repository)" >&2
    exit 1
fi

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# nginx-light/nginx packages may start a system nginx on port 80; ours runs its own instances only.

if [ ! -x "$BENCH/.venv/bin/gunicorn" ]; then
    python3 -m venv "$BENCH/.venv"
    "$BENCH/.venv/bin/pip" install -q flask gunicorn
fi
"$BENCH/.venv/bin/python" -c 'import duckdb' 2>/dev/null || "$BENCH/.venv/bin/pip" install -q duckdb

if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
    swift build -c release
fi
BINARY=$ROOT/.build/release/sales-portal
gcc -O2 -o "$OUT/sqlite_ceiling" "$BENCH/sqlite_ceiling.c" -lsqlite3

# reports: the report API on big warehouses beside DuckDB (bench/reports.py); it writes its own
# section of RESULTS.md, which a later bench.py run keeps.
only=${BENCH_ONLY:-http,upload,ingest,idle,ceiling,gcp,reports,attacks,logging}
if [[ ",$only," == *",logging,"* ]]; then
    python3 "$BENCH/logging_cost.py" --binary "$BINARY" --out "$OUT" --results "$BENCH/RESULTS.md" \
        --rounds "${BENCH_ROUNDS:-3}" --seconds "${BENCH_WRK_SECONDS:-10}"
    only=${only//logging/}
fi
if [[ ",$only," == *",attacks,"* ]]; then
    "$BENCH/.venv/bin/python" "$BENCH/attacks.py" --binary "$BINARY" --out "$OUT" --results "$BENCH/RESULTS.md"
    only=${only//attacks/}
fi
if [[ ",$only," == *",reports,"* ]]; then
    "$BENCH/.venv/bin/python" "$BENCH/reports.py" --binary "$BINARY" --out "$OUT" --results "$BENCH/RESULTS.md"
    only=${only//reports/}
fi
[ -n "${only//,/}" ] || exit 0

files=()
for spec in ${BENCH_ROWS:-1M=1000000 5M=5000000}; do
    label=${spec%%=*}; rows=${spec#*=}
    file=$OUT/UK-$label.csv
    if [ ! -s "$file" ] || [ "$(cat "$file.rows" 2>/dev/null)" != "$rows" ]; then
        echo "generating $file ($rows rows)"
        python3 "$GENERATOR" --rows "$rows" --region UK --seed 7 > "$file.tmp"
        mv "$file.tmp" "$file"
        echo "$rows" > "$file.rows"
    fi
    files+=(--file "$label=$rows=$file")
done

# 10,000 idle connections need more descriptors than the usual 1024.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# gcp: a load through a BigQuery stand-in that answers insertAll after 100 ms (bench/gcp_load.py).
if [[ ",$only," == *",gcp,"* ]]; then
    "$ROOT/scripts/emulators.sh" start >/dev/null
    first=${files[1]}; label=${first%%=*}; rest=${first#*=}; rows=${rest%%=*}; path=${rest#*=}
    python3 "$BENCH/gcp_load.py" --binary "$BINARY" --file "$path" --rows "$rows" --out "$OUT" > "$OUT/gcp-load-$label.json"
    echo "gcp load of $label: $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['rows_per_second_load'], 'rows/s loading,', d['rows_per_second_end_to_end'], 'end to end, peak', d['peak_rss_mib'], 'MiB')" "$OUT/gcp-load-$label.json")"
    only=${only//gcp/}
fi
[ -n "${only//,/}" ] || exit 0

cd "$BENCH"
exec python3 bench.py --binary "$BINARY" --ceiling "$OUT/sqlite_ceiling" --venv "$BENCH/.venv" \
    --out "$OUT" --results "$BENCH/RESULTS.md" "${files[@]}" \
    --rounds "${BENCH_ROUNDS:-3}" --wrk-seconds "${BENCH_WRK_SECONDS:-10}" \
    --only "$only"
