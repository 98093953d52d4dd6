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
DUCKDB_VERSION=1.5.5

START_TIMEOUT_SECONDS="${EMULATOR_START_TIMEOUT:-60}"

log() { printf 'emulators: %s\n' "$*" >&2; }

# True when the venv has the exact pinned package version.
has_package() { # venv package version
    [ -x "$1/bin/python" ] && "$1/bin/python" -m pip show "$2" 2>/dev/null | grep -qx "Version: $3"
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
    if pid_alive "$pidfile"; then log "bq already running (pid $(cat "$pidfile"))"; return; fi
    install_bq
    # Run from the state folder: DuckDB spills its temporary files (gigabytes for big loads)
    # into the working directory's .tmp/, which must not be the repository.
    (cd "$STATE_DIR" && exec setsid "$BQ_VENV/bin/bqemulator" start --rest-host "$HOST" --rest-port "$BQ_REST_PORT" \
        --grpc-host "$HOST" --grpc-port "$BQ_GRPC_PORT" --ephemeral --project "$BQ_PROJECT" \
        --log-level warning >"$STATE_DIR/bq.log" 2>&1 </dev/null) &
    echo $! >"$pidfile"
    wait_for bq "http://$HOST:$BQ_REST_PORT/bigquery/v2/projects/$BQ_PROJECT/datasets" "$pidfile"
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
        echo "export STORAGE_EMULATOR_HOST=http://$HOST:$GCS_PORT"
        echo "export BIGQUERY_EMULATOR_HOST=http://$HOST:$BQ_REST_PORT"
        ;;
    stop)
        stop_one gcs
        stop_one bq
        rm -rf "$STATE_DIR/.tmp"   # DuckDB's spill files of the stopped BigQuery emulator
        ;;
    status)
        status_one gcs "http://$HOST:$GCS_PORT/storage/v1/b"
        status_one bq "http://$HOST:$BQ_REST_PORT/bigquery/v2/projects/$BQ_PROJECT/datasets"
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
