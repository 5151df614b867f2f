#!/usr/bin/env bash
# The connection-rate measurement behind docs/results/tap-floor/README.md ("Connection rate"):
# bench/tcp-rr crr (connect, 1 byte each way, close, repeat) for SECS seconds against the kernel
# (tcp-rr server across a veth pair), our stack (apps/tcpip-echo), lwIP (bench/lwip-server) and
# bench/tap-floor, each on a TAP of its own, unpinned as bench/e2e.sh's crr rows; REPS
# repetitions (3 and 3 by default). lwIP and the floor have no TCP timestamps, so the kernel
# cannot reuse their TIME-WAIT ports: their connections are spread over 32 and 64 server ports
# (bench/tcp_rr.cpp says why), each repetition on ports of its own.
#
#   sudo [REPS=3] [SECS=3] docs/results/tap-floor/measure_crr.sh
#
# Needs root and build-release. Makes three namespaces of its own (crr-m-{t,a,b}-PID) and removes
# them when it ends; /tmp/crr-measure/results.tsv gets one line per run.
set -euo pipefail
cd "$(dirname "$0")/../../.."
B=build-release reps=${REPS:-3} seconds=${SECS:-3}
out=/tmp/crr-measure; mkdir -p $out; : > $out/results.tsv
ns_t=crr-m-t-$$ ns_a=crr-m-a-$$ ns_b=crr-m-b-$$
started=()
cleanup() { for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for ns in $ns_t $ns_a $ns_b; do ip netns del $ns 2>/dev/null || true; done; }
trap cleanup EXIT
ip netns add $ns_t; ip netns add $ns_a; ip netns add $ns_b
for i in 0 1 2; do ip -n $ns_t tuntap add dev tap$i mode tap; ip -n $ns_t addr add 10.98.$i.1/24 dev tap$i; ip -n $ns_t link set tap$i up; done
ip -n $ns_a link add veth0 type veth peer name veth1 netns $ns_b
ip -n $ns_a addr add 10.99.0.1/24 dev veth0; ip -n $ns_b addr add 10.99.0.2/24 dev veth1
ip -n $ns_a link set veth0 up; ip -n $ns_b link set veth1 up
for ns in $ns_t $ns_a $ns_b; do ip -n $ns link set lo up; ip netns exec $ns sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1; done
bg() { local ns=$1 log=$2; shift 2; ip netns exec $ns "$@" > $log 2>&1 & started+=($!); }
ping_up() { for i in $(seq 20); do ip netns exec $ns_t ping -c1 -W1 $1 >/dev/null 2>&1 && return 0; done; echo "no ping $1"; exit 1; }
bg $ns_t $out/floor.log $B/bench/tap-floor --tap tap2 --ip 10.98.2.2
for rep in $(seq $reps); do
  port=$((7000 + rep)); lport=$((7100 + (rep - 1) * 32)); fport=$((8000 + (rep - 1) * 64))
  n0=${#started[@]}
  bg $ns_t $out/echo-$rep.log $B/apps/tcpip-echo --tap tap0 --ip 10.98.0.2/24 --port $port
  bg $ns_t $out/lwip-$rep.log $B/bench/lwip-server --tap tap1 --ip 10.98.1.2/24 --echo-port $lport --echo-ports 32
  bg $ns_b $out/server-$rep.log $B/bench/tcp-rr server $port
  sleep 1
  for ip in 10.98.0.2 10.98.1.2 10.98.2.2; do ping_up $ip; done
  for side in kernel stack lwip floor; do
    case $side in kernel) ns=$ns_a a=(10.99.0.2 $port);; stack) ns=$ns_t a=(10.98.0.2 $port);;
      lwip) ns=$ns_t a=(10.98.1.2 $lport);; floor) ns=$ns_t a=(10.98.2.2 $fport);; esac
    extra=(); [[ $side == lwip ]] && extra=(32); [[ $side == floor ]] && extra=(64)
    line=$(timeout 60 ip netns exec $ns $B/bench/tcp-rr crr ${a[@]} $seconds "${extra[@]}" | grep '^mode=')
    echo "$rep $side $line" | tee -a $out/results.tsv
  done
  for p in "${started[@]:$n0}"; do kill -TERM $p; wait $p 2>/dev/null || true; done
  started=("${started[@]:0:$n0}")
done
