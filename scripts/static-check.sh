#!/usr/bin/env bash
# Proves that the executable needs no Swift runtime on the machine that runs it: builds it
# with the Swift runtime linked in (scripts/build-static.sh, as the Dockerfile does), copies it
# with only the C libraries it links (libcurl, SQLite, zlib and theirs) into an empty root,
# and there prints its version, checks an embedded configuration and answers /healthz.
# Usage: scripts/static-check.sh [debug|release]   (debug by default: it reuses the test build)
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=${1:-debug}
binary=$(bash scripts/build-static.sh "$configuration" 2>/dev/null)
root=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$root"' EXIT

libraries=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
if echo "$libraries" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime|lib_Foundation'; then
  echo "static-check: $binary still links the Swift runtime (above)" >&2
  exit 1
fi
for library in $libraries; do
  mkdir -p "$root$(dirname "$library")"
  cp -L "$library" "$root$library"
done
cp "$binary" "$root/sales-portal"
mkdir -p "$root/data" "$root/tmp" "$root/proc"
echo "static-check: $(du -sh "$root" | cut -f1) in the empty root: the executable and $(echo "$libraries" | wc -l) C libraries"

# A user namespace (no privileges needed) whose root is the folder, with its own /proc (as a
# container has: the Swift runtime of a static executable reads its arguments there).
run() { unshare --map-root-user --fork --pid --mount-proc --kill-child=SIGTERM --root="$root" "$@"; }
version=$(run /sales-portal --version)
[[ "$version" == "sales-portal "* ]] || { echo "static-check: --version printed '$version'" >&2; exit 1; }
run /sales-portal check --data-dir /data | tee "$root/check.txt"
grep -q '^ok       warehouse:' "$root/check.txt"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run /sales-portal serve --host 127.0.0.1 --port "$port" --data-dir /data > "$root/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "static-check: $version answers /healthz from an empty root"
    kill -TERM "$server"
    wait "$server" || true
    exit 0
  fi
  sleep 0.1
done
echo "static-check: no answer on /healthz; the server said:" >&2
cat "$root/serve.log" >&2
exit 1
