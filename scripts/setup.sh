#!/usr/bin/env bash
# Installs what the project needs on Debian (only what is missing), configures meson and builds.
#
#   scripts/setup.sh [BUILD_DIR] [meson options...]
#
# Used by scripts/test.sh and scripts/demo.sh; safe to run again (does nothing that is done).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
shift || true

packages=(
  meson ninja-build pkg-config g++
  libgtest-dev libgmock-dev libbenchmark-dev libtins-dev   # build and test dependencies
  iproute2 iputils-ping iputils-arping                      # network namespaces, ping, arping
  tshark socat netcat-openbsd iperf3 curl python3           # interop peers (curl: tcpip-httpd) and pcap checks
  apache2-utils                                             # ab: load on tcpip-httpd (interop/hardening)
)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for packages that are fully installed.
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f "$build_dir/build.ninja" ]]; then
  meson setup "$build_dir" "$@"
else
  # Options given again on an existing build directory are applied to it.
  if (($#)); then meson configure "$build_dir" "$@"; fi
fi
ninja -C "$build_dir"
