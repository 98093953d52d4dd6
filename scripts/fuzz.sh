#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer: builds every harness under Fuzz/ into .build-fuzz/
# and runs each for SECONDS (default 60) from its committed seed corpus (Fuzz/<name>/corpus).
# New corpus entries go to .build-fuzz/corpus/<name>, crashes to .build-fuzz/crashes/.
# Exits non-zero when a harness crashes, printing the reproducer; rerun one with
#   .build-fuzz/bin/<name> <reproducer>
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
if ! command -v swiftc >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swiftc ]; then export PATH="/opt/swift/usr/bin:$PATH"; fi

out=.build-fuzz
mkdir -p "$out/modules" "$out/obj" "$out/bin" "$out/crashes" "$out/corpus"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -enable-testing -swift-version 6)
cshims=(-Xcc -I -Xcc Sources/CSystemLinux/include -Xcc -I -Xcc Sources/CZlib/include)
# Module maps for the C shims, as SwiftPM makes them for their umbrella headers.
for shim in CSystemLinux CZlib; do
  mkdir -p "$out/cmodules/$shim"
  printf 'module %s {\n  umbrella header "%s"\n  export *\n}\n' "$shim" "$PWD/Sources/$shim/include/$shim.h" \
    >"$out/cmodules/$shim/module.modulemap"
  cshims+=(-I "$out/cmodules/$shim")
done

# module NAME SOURCES...: one instrumented module, as an object and a .swiftmodule.
module() {
  local name="$1"; shift
  local source stale=0
  [ -f "$out/obj/$name.o" ] || stale=1
  for source in "$@" "$0"; do [ "$source" -nt "$out/obj/$name.o" ] && stale=1; done
  [ "$stale" -eq 1 ] || return 0
  swiftc "${flags[@]}" "${cshims[@]}" -I "$out/modules" -module-name "$name" -wmo -c \
    -emit-module -emit-module-path "$out/modules/$name.swiftmodule" -o "$out/obj/$name.o" "$@"
}

# harness NAME OBJECTS...: the harness files of Fuzz/NAME linked with the modules it exercises.
harness() {
  local name="$1"; shift
  swiftc "${flags[@]}" "${cshims[@]}" -I "$out/modules" -module-name "Fuzz_$name" \
    Fuzz/Support/Pieces.swift Fuzz/"$name"/*Fuzz.swift "$@" -o "$out/bin/$name" 2>&1 \
    | grep -v "warning: Cannot export local symbol" || true
  [ -x "$out/bin/$name" ] || { echo "fuzz: building $name failed" >&2; exit 1; }
}

echo "== fuzz: build"
build_start=$SECONDS
rm -f "$out"/bin/*
clang -c -O1 -fPIC -I Sources/CSystemLinux/include Sources/CSystemLinux/shim.c -o "$out/obj/CSystemLinux.o"
clang -c -O1 -fPIC -I Sources/CZlib/include Sources/CZlib/CZlib.c -o "$out/obj/CZlib.o"
# sources SOURCE_FOLDER: the Swift files of a module, in its subfolders too.
sources() { find "$1" -name '*.swift' | sort; }
module Support $(sources Sources/Support)
module HTTPServer $(sources Sources/HTTPServer)
module ETL $(sources Sources/ETL)
# The configuration sources (they also use HTTPServer and ETL) with a stand-in for the one
# GoogleCloud type they name (no swift-crypto needed); the users file decoding with a
# stand-in for the token hash.
module GoogleCloud Fuzz/config/GoogleCloudStub.swift
module Portal Sources/Portal/Config/*.swift Fuzz/config/PortalStubs.swift
module Access Sources/Access/UsersFile.swift Sources/Access/Principal.swift Sources/Access/AccessError.swift \
  Fuzz/users_file/SecretsStub.swift

support=("$out/obj/Support.o" "$out/obj/CZlib.o" -lz)
http=("$out/obj/HTTPServer.o" "$out/obj/CSystemLinux.o" "${support[@]}")
harness http_head "${http[@]}"
harness http_chunked "${http[@]}"
harness multipart "${http[@]}"
harness form_decode "${http[@]}"
harness csv_rows "$out/obj/ETL.o" "${support[@]}"
harness config "$out/obj/Portal.o" "$out/obj/ETL.o" "$out/obj/GoogleCloud.o" "${http[@]}"
harness users_file "$out/obj/Access.o"
echo "built in $((SECONDS - build_start)) s"

# Longest input per harness: heads and bodies of a few KiB, small JSON files.
declare -A max_len=([http_head]=4096 [http_chunked]=4096 [multipart]=8192 [form_decode]=1024
                    [csv_rows]=8192 [config]=4096 [users_file]=4096)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(http_head http_chunked multipart csv_rows config users_file form_decode)

export SWIFT_BACKTRACE=enable=no   # libFuzzer reports crashes itself
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:handle_abort=1}"
failed=()
declare -A execs
for name in "${names[@]}"; do
  echo "== fuzz: $name (${seconds} s)"
  mkdir -p "$out/corpus/$name"
  log="$out/$name.log"
  status=0
  "$out/bin/$name" -max_total_time="$seconds" -max_len="${max_len[$name]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$name-" \
    "$out/corpus/$name" "Fuzz/$name/corpus" >"$log" 2>&1 || status=$?
  execs[$name]="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  if [ "$status" -ne 0 ]; then
    failed+=("$name")
    grep -E "^==[0-9]+==ERROR|Fatal error|invariant violated|SUMMARY" "$log" | head -5 || true
    grep -E "Test unit written to|crash-|timeout-|oom-" "$log" | grep -o "$out/crashes/[^ ]*" | sed 's/^/reproducer: /' || true
    echo "log: $log"
  fi
done

echo "== fuzz: executions"
for name in "${names[@]}"; do printf '%-14s %s\n' "$name" "${execs[$name]}"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
