#!/usr/bin/env bash
# Makes docs/timeline.md: one TCP transfer through the fault injector (1 % loss each way, 20 ms
# each way), watched through the stack's event log (stack/tcp/tcp_log.h) and drawn with
# scripts/plot_tcp.py, each recovery explained (scripts/tcp_timeline_doc.py writes the text).
#
#   scripts/tcp_timeline.sh [BUILD_DIR]      (as root: it creates a network namespace)
#
# tcpip-perf -c sends 2 MB to the kernel's iperf3 -s through --faults drop=0.01,delay=20; both
# seeds are fixed (--seed for the stack, seed= for the injector), so what is lost is the same on
# each run, though the kernel's timing is not: the figures change a little from run to run.
# Everything lives in a namespace of its own, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=docs/timeline
ns=tcpip-timeline-$$
faults="drop=0.01,delay=20,seed=4"

source scripts/packages.sh
install_missing tcp_timeline iproute2 iperf3 python3 python3-matplotlib || exit 1
[[ -x $build/apps/tcpip-perf ]] || { echo "tcp_timeline: build $build/apps/tcpip-perf first (scripts/setup.sh)" >&2; exit 1; }

iperf_pid=
cleanup() {
    [[ -n $iperf_pid ]] && kill "$iperf_pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 10.0.0.1/24 dev tap0
ip -n "$ns" link set tap0 up
ip -n "$ns" link set lo up
ip netns exec "$ns" iperf3 -s -1 -B 10.0.0.1 >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5

mkdir -p "$out"
rm -f "$out"/*.png
ip netns exec "$ns" timeout 120 "$build/apps/tcpip-perf" --tap tap0 --ip 10.0.0.2/24 --no-offload --seed 1 \
    --faults "$faults" --tcp-log "$out/transfer.csv" -c 10.0.0.1 -n 2M \
    > "$out/perf.txt" 2>&1
# iperf3 -s -1 exits after the test, unless our FIN on the control connection was lost and the
# app (and its stack) had gone before resending it: then it would wait minutes. It has had its test.
for _ in $(seq 50); do kill -0 "$iperf_pid" 2>/dev/null || break; sleep 0.1; done
kill "$iperf_pid" 2>/dev/null || true
wait "$iperf_pid" 2>/dev/null || true
iperf_pid=

scripts/plot_tcp.py "$out/transfer.csv" --out "$out/transfer"
/usr/bin/python3 scripts/tcp_timeline_doc.py "$out/transfer.csv" "$out" "$faults" > docs/timeline.md
echo "docs/timeline.md and $out/ written"
