#!/usr/bin/env bash
# Builds sales-portal with the Swift runtime and Foundation linked in (--static-swift-stdlib),
# so it runs where no Swift toolchain is installed; prints the executable's path.
# Usage: scripts/build-static.sh [debug|release]   (release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=${1:-release}
# The static Foundation libraries refer to one another in an order a single pass of the linker
# does not resolve: naming them again after the ones the modules bring in resolves it.
again=()
for library in Foundation FoundationEssentials FoundationInternationalization _FoundationCollections \
    CoreFoundation _FoundationICU _FoundationCShims Foundation FoundationEssentials _FoundationCollections CoreFoundation; do
  again+=(-Xlinker "-l$library")
done
# A build folder of its own: modules compiled for the static runtime link only statically.
scratch=.build-static
swift build -c "$configuration" --scratch-path "$scratch" --static-swift-stdlib --product sales-portal "${again[@]}" >&2
echo "$(swift build -c "$configuration" --scratch-path "$scratch" --show-bin-path)/sales-portal"
