#!/usr/bin/env bash
# Installs what SalesPortal needs on a fresh Debian machine (Swift itself comes with the machine
# at /opt/swift or on PATH). Usage: scripts/deps.sh [run|test]
set -euo pipefail

need_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; else
      echo "swift not found: install the Swift 6.3 toolchain (swift.org) and put it on PATH" >&2; exit 1
    fi
  fi
}

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

mode="${1:-run}"
need_swift
apt_install libcurl4-openssl-dev libsqlite3-dev zlib1g-dev ca-certificates
if [ "$mode" = "test" ]; then
  apt_install curl python3-venv chromium chromium-driver sqlite3 prometheus   # prometheus: promtool checks /metrics
fi
