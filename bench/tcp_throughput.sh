#!/usr/bin/env bash
# End-to-end TCP throughput, our stack beside the kernel's, measured in one run.
#
#   bench/tcp_throughput.sh [MBYTES] [REPETITIONS]     (defaults: 200 MB, 3 repetitions; root)
#
# Baseline: two network namespaces joined by a veth pair, kernel to kernel (socat to socat).
# Ours:     a namespace with a TAP; tcpip-nc on our stack at one end, socat on the kernel at the
#           other, both directions. The same bytes, the same tools on the kernel side, medians of
#           the repetitions. Figures are ratios against the baseline of the same run: the machines
#           are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
mbytes=${1:-200}
reps=${2:-3}
bytes=$((mbytes * 1000 * 1000))
scripts/setup.sh build-release --buildtype=release -Dtests=disabled -Dbench=enabled >/dev/null

id=$$
ns_a="tcpip-bench-a-$id"; ns_b="tcpip-bench-b-$id"; ns_t="tcpip-bench-t-$id"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for ns in "$ns_a" "$ns_b" "$ns_t"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_a"; ip netns add "$ns_b"; ip netns add "$ns_t"
ip -n "$ns_a" link add veth0 type veth peer name veth1 netns "$ns_b"
ip -n "$ns_a" addr add 10.99.0.1/24 dev veth0; ip -n "$ns_a" link set veth0 up; ip -n "$ns_a" link set lo up
ip -n "$ns_b" addr add 10.99.0.2/24 dev veth1; ip -n "$ns_b" link set veth1 up; ip -n "$ns_b" link set lo up
ip -n "$ns_t" tuntap add dev tap0 mode tap
ip -n "$ns_t" addr add 10.98.0.1/24 dev tap0; ip -n "$ns_t" link set tap0 up; ip -n "$ns_t" link set lo up

# Seconds for `bytes` to go from a sender command to a receiver command; the receiver listens first.
# $1: namespace of the receiver, $2: receiver command, $3: namespace of the sender, $4: sender command
timed() {
  local rns=$1 rcmd=$2 sns=$3 scmd=$4
  ip netns exec "$rns" bash -c "$rcmd" & local rpid=$!
  sleep 0.3
  local t0 t1
  t0=$(date +%s.%N)
  ip netns exec "$sns" timeout 120 bash -c "$scmd"
  wait "$rpid"
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk -v b="$bytes" '{ printf "%.1f\n", b * 8 / ($2 - $1 - 0) / 1e6 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

nc=build-release/apps/tcpip-nc
run_set() {
  local name=$1; shift
  local results=()
  for _ in $(seq "$reps"); do results+=("$("$@")"); done
  printf '%s\n' "${results[@]}" | median
}

kernel_veth() {
  timed "$ns_b" "timeout 120 socat -u TCP-LISTEN:5001,reuseaddr OPEN:/dev/null" \
        "$ns_a" "head -c $bytes /dev/zero | socat -u - TCP:10.99.0.2:5001"
}
kernel_to_stack() {
  timed "$ns_t" "timeout 120 $nc --tap tap0 --ip 10.98.0.2/24 -l 5001 > /dev/null" \
        "$ns_t" "head -c $bytes /dev/zero | socat -u - TCP:10.98.0.2:5001,retry=20,interval=0.1"
}
stack_to_kernel() {
  timed "$ns_t" "timeout 120 socat -u TCP-LISTEN:5001,reuseaddr OPEN:/dev/null" \
        "$ns_t" "head -c $bytes /dev/zero | $nc --tap tap0 --ip 10.98.0.2/24 10.98.0.1 5001"
}

# For reference, what the kernel reaches over the same veth without socat's pipes (iperf3).
iperf_veth() {
  ip netns exec "$ns_b" iperf3 -s -1 -B 10.99.0.2 >/dev/null 2>&1 & local spid=$!
  sleep 0.3
  ip netns exec "$ns_a" iperf3 -c 10.99.0.2 -t 3 -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
  wait "$spid" || true
}

echo "TCP bulk throughput, $mbytes MB per transfer, median of $reps (Mbit/s)"
base=$(run_set veth kernel_veth)
k2s=$(run_set k2s kernel_to_stack)
s2k=$(run_set s2k stack_to_kernel)
ip3=$(iperf_veth || echo 0)
awk -v b="$base" -v k="$k2s" -v s="$s2k" -v i="$ip3" 'BEGIN {
  printf "  kernel -> kernel over veth, iperf3 (no pipes; reference) %9.1f\n", i
  printf "  kernel -> kernel over veth (baseline)  %9.1f\n", b
  printf "  kernel -> tcpip stack over TAP         %9.1f   %.2fx baseline\n", k, k / b
  printf "  tcpip stack -> kernel over TAP         %9.1f   %.2fx baseline\n", s, s / b
}'
