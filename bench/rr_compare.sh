#!/usr/bin/env bash
# Pinned 1-byte request/response against two builds of tcpip-echo, to measure what a change costs
# on the fastest path the stack has (issue 17: --trace, off, must stay within 2 % of a build
# without it).
#
#   sudo bench/rr_compare.sh --base BASE_ECHO --new NEW_ECHO [--rr TCP_RR] [--reps N] [--seconds S]
#                            [-- EXTRA_ECHO_ARGS...]
#
# BASE_ECHO and NEW_ECHO are tcpip-echo binaries (e.g. a release build of main and one of the
# branch); TCP_RR is bench/tcp-rr (built from bench/tcp_rr.cpp with g++ -O2 if not given). Each
# repetition runs `tcp-rr rr` for S seconds (default 5) against each build in turn, client and
# server both under `taskset -c 0`, alternating which goes first, N times (default 5); the report
# gives every run, the medians and the ratio new / base of transactions per second. EXTRA_ECHO_ARGS
# go to both builds (they must understand them).
#
# It makes one network namespace of its own (tcpip-rrcmp-PID, tap0: the kernel at 10.97.0.1/24,
# the app at 10.97.0.2) and removes it when it ends, also on Ctrl-C or failure; it stops only the
# processes it started. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

base="" new="" rr="" reps=5 seconds=5 extra=()
while (($#)); do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --new) new=$2; shift 2 ;;
    --rr) rr=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "rr_compare: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[[ -x $base && -x $new ]] || { echo "rr_compare: --base and --new must name tcpip-echo binaries" >&2; exit 2; }
if [[ -z $rr ]]; then
  rr=$(mktemp /tmp/tcp-rr.XXXXXX)
  g++ -O2 -std=c++20 -o "$rr" bench/tcp_rr.cpp
fi

ns=tcpip-rrcmp-$$
app_pid=""
cleanup() {
  if [[ -n $app_pid ]]; then kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 10.97.0.1/24 dev tap0
ip -n "$ns" link set tap0 up
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

# run_one BINARY: starts it pinned, waits for a ping, runs the pinned client, prints per_second.
run_one() {
  ip netns exec "$ns" taskset -c 0 "$1" --tap tap0 --ip 10.97.0.2/24 "${extra[@]}" >/dev/null 2>&1 &
  app_pid=$!
  for _ in $(seq 50); do
    ip netns exec "$ns" ping -c 1 -W 1 10.97.0.2 >/dev/null 2>&1 && break
  done
  sleep 0.2
  local line
  line=$(ip netns exec "$ns" taskset -c 0 "$rr" rr 10.97.0.2 7 "$seconds" | grep '^mode=')
  kill "$app_pid"; wait "$app_pid" 2>/dev/null || true; app_pid=""
  sed -n 's/.*per_second=\([0-9.]*\).*/\1/p' <<<"$line"
}

base_runs=() new_runs=()
for rep in $(seq "$reps"); do
  if ((rep % 2)); then
    b=$(run_one "$base"); n=$(run_one "$new")
  else
    n=$(run_one "$new"); b=$(run_one "$base")
  fi
  base_runs+=("$b") new_runs+=("$n")
  echo "rep $rep: base $b/s new $n/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mb=$(median "${base_runs[@]}") mn=$(median "${new_runs[@]}")
echo "median: base $mb/s new $mn/s ratio new/base $(awk -v a="$mn" -v b="$mb" 'BEGIN {printf "%.4f", a / b}')"
