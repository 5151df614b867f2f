#!/usr/bin/env bash
# Instructions per 1-byte request/response, for two source trees: what a change costs on the
# stack's fastest path, counted exactly (cachegrind) rather than timed, so a shared, loaded machine
# does not blur it. bench/rr_compare.sh gives the wall-clock figure over a TAP beside it.
#
#   bench/rr_instructions.sh BASE_TREE NEW_TREE [N]
#
# Each tree is a checkout of this project (e.g. `git worktree add /tmp/base main`). The script
# builds its libraries in TREE/build-release (release, no tests: scripts/setup.sh's meson and
# ninja), compiles NEW_TREE's bench/rr_sim.cpp against each, and runs it under
# `valgrind --tool=cachegrind` for 2,000 and for N (default 12,000) transactions: the difference
# divided by N - 2,000 leaves out the set-up. Prints both counts per transaction and the ratio.
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
base=$(realpath "$1") new=$(realpath "$2") n=${3:-12000}
command -v valgrind >/dev/null || { echo "rr_instructions: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d /tmp/rr-instructions.XXXXXX)
trap 'rm -rf "$work"' EXIT

per_transaction() {  # TREE NAME -> instructions per transaction
  local tree=$1 name=$2
  [[ -f $tree/build-release/build.ninja ]] ||
    meson setup "$tree/build-release" "$tree" --buildtype=release -Dtests=disabled -Dbench=disabled >/dev/null
  # The stack and its drivers: one libtcpip.a (since the library became installable), or the two
  # libraries older trees built.
  local libs=("$tree/build-release/libtcpip.a")
  if ninja -C "$tree/build-release" -t targets all 2>/dev/null | grep -q '^libtcpip.a:'; then
    ninja -C "$tree/build-release" libtcpip.a >/dev/null
  else
    ninja -C "$tree/build-release" stack/libtcpip.a drivers/libtcpip_drivers.a >/dev/null
    libs=("$tree/build-release/drivers/libtcpip_drivers.a" "$tree/build-release/stack/libtcpip.a")
  fi
  g++ -std=c++20 -O2 -DNDEBUG -I"$tree" -o "$work/rr-sim-$name" "$new/bench/rr_sim.cpp" "${libs[@]}" -lpthread
  local counts=()
  for count in 2000 "$n"; do
    counts+=("$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
      "$work/rr-sim-$name" "$count" 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,)")
  done
  echo $(( (counts[1] - counts[0]) / (n - 2000) ))
}
b=$(per_transaction "$base" base)
m=$(per_transaction "$new" new)
echo "instructions per transaction: base $b new $m ratio new/base $(awk -v a="$m" -v b="$b" 'BEGIN {printf "%.4f", a / b}')"
