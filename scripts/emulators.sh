#!/usr/bin/env bash
# Installs, starts and stops the local Cloud Storage and BigQuery emulators
# used by the tests. Loopback only.
#
#   scripts/emulators.sh start    install (once) and start both, wait until they answer
#   scripts/emulators.sh stop     stop both
#   scripts/emulators.sh status   show what runs
#
# After `start`, point the code at them with:
#   export STORAGE_EMULATOR_HOST=http://127.0.0.1:9023
#   export BIGQUERY_EMULATOR_HOST=http://127.0.0.1:9050
#
# By default (BQ_STANDIN=1) the BigQuery emulator listens on 9051 and scripts/bq_standin.py on 9050
# in front of it, so that every client of http://127.0.0.1:9050 goes through the stand-in:
# it refuses streamed rows outside BigQuery's partition window (5 years back, 1 year ahead)
# and reports the partitioning and clustering tables were created with. Counts of what
# passed through: curl http://127.0.0.1:9050/standin/stats
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${EMULATOR_STATE_DIR:-$ROOT/.build/emulators}"
HOST=127.0.0.1

GCS_VENV="$ROOT/.venv-emu-gcs"
GCS_PORT="${GCS_EMULATOR_PORT:-9023}"
GCS_BUCKET="${GCS_EMULATOR_BUCKET:-sales-uploads}"
GCS_VERSION=2026.7.19

BQ_VENV="$ROOT/.venv-emu-bq"
BQ_REST_PORT="${BQ_EMULATOR_REST_PORT:-9050}"
BQ_GRPC_PORT="${BQ_EMULATOR_GRPC_PORT:-9060}"
BQ_PROJECT="${BQ_EMULATOR_PROJECT:-test-project}"
BQ_VERSION=1.4.0
BQ_STANDIN="${BQ_STANDIN:-1}"
# Where the emulator itself listens: behind the stand-in when there is one.
if [ "$BQ_STANDIN" = 1 ]; then BQ_UPSTREAM_PORT="${BQ_EMULATOR_UPSTREAM_PORT:-9051}"; else BQ_UPSTREAM_PORT="$BQ_REST_PORT"; fi
DUCKDB_VERSION=1.5.5

START_TIMEOUT_SECONDS="${EMULATOR_START_TIMEOUT:-60}"

log() { printf 'emulators: %s\n' "$*" >&2; }

# True when the venv has the exact pinned package version. (grep reads all of pip's output:
# with -q it would stop at the match, pip would fail writing the rest, and pipefail would
# turn that into "not installed".)
has_package() { # venv package version
    [ -x "$1/bin/python" ] && "$1/bin/python" -m pip show "$2" 2>/dev/null | grep -x "Version: $3" >/dev/null
}

install_gcs() {
    if has_package "$GCS_VENV" gcp-storage-emulator "$GCS_VERSION"; then return; fi
    log "installing gcp-storage-emulator $GCS_VERSION into $GCS_VENV"
    python3 -m venv "$GCS_VENV"
    "$GCS_VENV/bin/pip" install -q "gcp-storage-emulator==$GCS_VERSION"
}

install_bq() {
    if has_package "$BQ_VENV" bqemulator "$BQ_VERSION" && [ -f "$BQ_VENV/.extensions-ready" ]; then return; fi
    log "installing bqemulator $BQ_VERSION into $BQ_VENV"
    python3 -m venv "$BQ_VENV"
    "$BQ_VENV/bin/pip" install -q "bqemulator==$BQ_VERSION" "duckdb==$DUCKDB_VERSION" \
        "duckdb-extension-spatial==$DUCKDB_VERSION" "duckdb-extension-avro==$DUCKDB_VERSION" \
        "duckdb-extensions==$DUCKDB_VERSION" numpy
    # Pre-install the DuckDB extensions it would otherwise download at start.
    "$BQ_VENV/bin/python" -c "from duckdb_extensions import import_extension as i; i('spatial'); i('avro')"
    touch "$BQ_VENV/.extensions-ready"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Polls a URL until it answers or the time is up.
wait_for() { # name url pidfile
    local deadline=$((SECONDS + START_TIMEOUT_SECONDS))
    until curl -sf -o /dev/null --max-time 2 "$2"; do
        if ! pid_alive "$3"; then log "$1 exited; see $STATE_DIR/$1.log"; tail -n 20 "$STATE_DIR/$1.log" >&2 || true; return 1; fi
        if [ "$SECONDS" -ge "$deadline" ]; then log "$1 did not answer within ${START_TIMEOUT_SECONDS}s"; return 1; fi
        sleep 0.2
    done
    log "$1 ready at $2"
}

start_gcs() {
    local pidfile="$STATE_DIR/gcs.pid"
    if pid_alive "$pidfile"; then log "gcs already running (pid $(cat "$pidfile"))"; return; fi
    install_gcs
    setsid "$GCS_VENV/bin/gcp-storage-emulator" start --host "$HOST" --port "$GCS_PORT" \
        --in-memory --default-bucket "$GCS_BUCKET" >"$STATE_DIR/gcs.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    wait_for gcs "http://$HOST:$GCS_PORT/storage/v1/b" "$pidfile"
}

start_bq() {
    local pidfile="$STATE_DIR/bq.pid"
    if pid_alive "$pidfile"; then
        local port; port="$(cat "$STATE_DIR/bq.port" 2>/dev/null || echo "$BQ_REST_PORT")"
        if [ "$port" != "$BQ_UPSTREAM_PORT" ]; then
            log "bq runs on port $port, not $BQ_UPSTREAM_PORT (BQ_STANDIN=$BQ_STANDIN): run '$0 stop' first"
            return 1
        fi
        log "bq already running (pid $(cat "$pidfile"))"; return
    fi
    install_bq
    # Run from the state folder: DuckDB spills its temporary files (gigabytes for big loads)
    # into the working directory's .tmp/, which must not be the repository.
    (cd "$STATE_DIR" && exec setsid "$BQ_VENV/bin/bqemulator" start --rest-host "$HOST" --rest-port "$BQ_UPSTREAM_PORT" \
        --grpc-host "$HOST" --grpc-port "$BQ_GRPC_PORT" --ephemeral --project "$BQ_PROJECT" \
        --log-level warning >"$STATE_DIR/bq.log" 2>&1 </dev/null) &
    echo $! >"$pidfile"
    echo "$BQ_UPSTREAM_PORT" >"$STATE_DIR/bq.port"
    wait_for bq "http://$HOST:$BQ_UPSTREAM_PORT/bigquery/v2/projects/$BQ_PROJECT/datasets" "$pidfile"
}

# The stand-in in front of the emulator (BQ_STANDIN=1): python3, standard library only.
start_bq_standin() {
    local pidfile="$STATE_DIR/bq-standin.pid"
    if pid_alive "$pidfile"; then log "bq-standin already running (pid $(cat "$pidfile"))"; return; fi
    setsid python3 "$ROOT/scripts/bq_standin.py" --listen "$HOST:$BQ_REST_PORT" \
        --upstream "http://$HOST:$BQ_UPSTREAM_PORT" >"$STATE_DIR/bq-standin.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    # Through the stand-in: answers only when both it and the emulator do.
    wait_for bq-standin "http://$HOST:$BQ_REST_PORT/bigquery/v2/projects/$BQ_PROJECT/datasets" "$pidfile"
}

stop_one() { # name
    local pidfile="$STATE_DIR/$1.pid"
    if pid_alive "$pidfile"; then
        local pid; pid="$(cat "$pidfile")"
        # Started with setsid: the pid leads its own process group.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        log "$1 stopped"
    fi
    rm -f "$pidfile"
}

status_one() { # name url
    if pid_alive "$STATE_DIR/$1.pid"; then
        if curl -sf -o /dev/null --max-time 2 "$2"; then echo "$1: running (pid $(cat "$STATE_DIR/$1.pid")), $2 answers"
        else echo "$1: process $(cat "$STATE_DIR/$1.pid") alive but $2 does not answer"; fi
    else
        echo "$1: stopped"
    fi
}

mkdir -p "$STATE_DIR"
case "${1:-}" in
    start)
        start_gcs
        start_bq
        if [ "$BQ_STANDIN" = 1 ]; then start_bq_standin; fi
        echo "export STORAGE_EMULATOR_HOST=http://$HOST:$GCS_PORT"
        echo "export BIGQUERY_EMULATOR_HOST=http://$HOST:$BQ_REST_PORT"
        echo "export BIGQUERY_EMULATOR_UPSTREAM=http://$HOST:$BQ_UPSTREAM_PORT"
        ;;
    stop)
        stop_one gcs
        stop_one bq-standin
        stop_one bq
        rm -f "$STATE_DIR/bq.port"
        rm -rf "$STATE_DIR/.tmp"   # DuckDB's spill files of the stopped BigQuery emulator
        ;;
    status)
        status_one gcs "http://$HOST:$GCS_PORT/storage/v1/b"
        bq_port="$(cat "$STATE_DIR/bq.port" 2>/dev/null || echo "$BQ_UPSTREAM_PORT")"
        status_one bq "http://$HOST:$bq_port/bigquery/v2/projects/$BQ_PROJECT/datasets"
        if [ "$BQ_STANDIN" = 1 ] || [ -f "$STATE_DIR/bq-standin.pid" ]; then
            status_one bq-standin "http://$HOST:$BQ_REST_PORT/standin/stats"
        fi
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
