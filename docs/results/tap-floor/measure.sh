#!/usr/bin/env bash
# The by-hand measurement behind docs/results/tap-floor/README.md: bench/tcp-rr rr against the
# kernel (veth), our stack (apps/tcpip-echo), bench/tap-floor as it is, with --epoll and with
# --uring, and lwIP (bench/lwip-server), each on a TAP of its own; REPS repetitions of SECS seconds
# (3 and 5 by default), the order reversed every other repetition, unpinned and then pinned
# (client and servers under taskset -c 0). bench/e2e.sh's rr_floor_* rows measure the same.
#
#   sudo [REPS=3] [SECS=5] [OUT=DIR] docs/results/tap-floor/measure.sh
#
# Needs root and build-release (bench/e2e.sh builds it). Makes three namespaces of its own
# (floor-m-{t,a,b}-PID) and removes them when it ends; OUT/results.tsv gets one line per run.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the project root; needs build-release (bench/e2e.sh builds it)
B=build-release
reps=${REPS:-3} seconds=${SECS:-5}
out=${OUT:-/tmp/floor-measure}; mkdir -p "$out"; : > "$out/results.tsv"  # one line per run: phase rep side tcp-rr line
id=$$ ns_t=floor-m-t-$$ ns_a=floor-m-a-$$ ns_b=floor-m-b-$$
started=()
cleanup() { for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for ns in $ns_t $ns_a $ns_b; do ip netns del $ns 2>/dev/null || true; done; }
trap cleanup EXIT
ip netns add $ns_t; ip netns add $ns_a; ip netns add $ns_b
for i in 0 1 2 3 4; do ip -n $ns_t tuntap add dev tap$i mode tap; ip -n $ns_t addr add 10.98.$i.1/24 dev tap$i; ip -n $ns_t link set tap$i up; done
ip -n $ns_a link add veth0 type veth peer name veth1 netns $ns_b
ip -n $ns_a addr add 10.99.0.1/24 dev veth0; ip -n $ns_b addr add 10.99.0.2/24 dev veth1
ip -n $ns_a link set veth0 up; ip -n $ns_b link set veth1 up
for ns in $ns_t $ns_a $ns_b; do ip -n $ns link set lo up; done
bg() { local ns=$1 log=$2; shift 2; ip netns exec $ns "$@" > $log 2>&1 & started+=($!); }
ping_up() { for i in $(seq 20); do ip netns exec $ns_t ping -c1 -W1 $1 >/dev/null 2>&1 && return 0; done; echo "no ping $1"; exit 1; }
for phase in unpinned pinned; do
  wrap=(); [[ $phase == pinned ]] && wrap=(taskset -c 0)
  n0=${#started[@]}
  bg $ns_t $out/echo-$phase.log "${wrap[@]}" $B/apps/tcpip-echo --tap tap0 --ip 10.98.0.2/24 --port 7
  bg $ns_t $out/lwip-$phase.log "${wrap[@]}" $B/bench/lwip-server --tap tap1 --ip 10.98.1.2/24
  bg $ns_t $out/floor-$phase.log "${wrap[@]}" $B/bench/tap-floor --tap tap2 --ip 10.98.2.2
  bg $ns_t $out/floor-epoll-$phase.log "${wrap[@]}" $B/bench/tap-floor --tap tap3 --ip 10.98.3.2 --epoll
  bg $ns_t $out/floor-uring-$phase.log "${wrap[@]}" $B/bench/tap-floor --tap tap4 --ip 10.98.4.2 --uring
  bg $ns_b $out/server-$phase.log "${wrap[@]}" $B/bench/tcp-rr server 7
  sleep 1
  for ip in 10.98.0.2 10.98.1.2 10.98.2.2 10.98.3.2 10.98.4.2; do ping_up $ip; done
  sides=(kernel stack floor floor_epoll floor_uring lwip)
  for rep in $(seq $reps); do
    order=("${sides[@]}"); ((rep % 2)) || order=(lwip floor_uring floor_epoll floor stack kernel)
    for side in "${order[@]}"; do
      case $side in kernel) ns=$ns_a ip=10.99.0.2;; stack) ns=$ns_t ip=10.98.0.2;; lwip) ns=$ns_t ip=10.98.1.2;;
        floor) ns=$ns_t ip=10.98.2.2;; floor_epoll) ns=$ns_t ip=10.98.3.2;; floor_uring) ns=$ns_t ip=10.98.4.2;; esac
      line=$(timeout 60 ip netns exec $ns "${wrap[@]}" $B/bench/tcp-rr rr $ip 7 $seconds | grep '^mode=')
      echo "$phase $rep $side $line" | tee -a $out/results.tsv
    done
  done
  for p in "${started[@]:$n0}"; do kill -TERM $p; wait $p 2>/dev/null || true; done
  started=("${started[@]:0:$n0}")
done
tail -n 2 $out/floor-pinned.log $out/floor-epoll-pinned.log
