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

source scripts/packages.sh
packages=(
  "${build_packages[@]}"                                    # compiler, meson, nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libtins-dev   # build and test dependencies
  iproute2 iputils-ping iputils-arping                      # network namespaces, ping, arping
  tshark socat netcat-openbsd iperf3 curl python3           # interop peers (curl: tcpip-httpd) and pcap checks
  apache2-utils                                             # ab: load on tcpip-httpd (interop/hardening)
  wget nginx redis-server redis-tools wrk                  # stock programs under tcpip-run (interop/run)
  python3-matplotlib                                        # scripts/plot_tcp.py (interop/perf, docs)
  liblwip-dev                                               # lwIP: bench/lwip-server, e2e.sh's third subject
)

install_missing setup "${packages[@]}" || exit 1

if [[ ! -f "$build_dir/build.ninja" ]]; then
  meson setup "$build_dir" "$@"
else
  # Options given again on an existing build directory are applied to it.
  if (($#)); then meson configure "$build_dir" "$@"; fi
fi
ninja -C "$build_dir"
