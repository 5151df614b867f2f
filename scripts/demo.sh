#!/usr/bin/env bash
# The demo: our stack on a TAP in its own network namespace, with the Linux kernel on the other
# side using it for real. Installs what is missing, builds, runs, cleans up (also on Ctrl-C).
#
#   scripts/demo.sh
#
# What it shows, from the kernel's side of the TAP:
#   - tcpip-echo at 10.0.0.2 answering the kernel's ARP (arping) and ping, small and fragmented;
#   - tcpip-ping, our stack pinging the kernel at 10.0.1.1 over a second TAP;
#   - a pcap of everything tcpip-echo saw, for Wireshark.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: run as root (it creates a network namespace and TAP devices)" >&2
  exit 1
fi
scripts/setup.sh build >/dev/null

ns="tcpip-demo-$$"
pcap="${TMPDIR:-/tmp}/tcpip-demo-$$.pcap"
echo_pid=""
cleanup() {
  if [[ -n "$echo_pid" ]] && kill -0 "$echo_pid" 2>/dev/null; then kill -INT "$echo_pid"; wait "$echo_pid" || true; fi
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$ns" "$@"; }

say "network namespace $ns: tap0 (kernel 10.0.0.1/24) and tap1 (kernel 10.0.1.1/24)"
ip netns add "$ns"
ip -n "$ns" link set lo up
for i in 0 1; do
  ip -n "$ns" tuntap add dev "tap$i" mode tap
  ip -n "$ns" addr add "10.0.$i.1/24" dev "tap$i"
  ip -n "$ns" link set "tap$i" up
done

say "starting tcpip-echo on tap0 as 10.0.0.2 (capturing to $pcap)"
ip netns exec "$ns" build/apps/tcpip-echo --tap tap0 --ip 10.0.0.2/24 --pcap "$pcap" > "${pcap%.pcap}.log" 2>&1 &
echo_pid=$!
for _ in $(seq 50); do grep -q ready "${pcap%.pcap}.log" 2>/dev/null && break; sleep 0.1; done
cat "${pcap%.pcap}.log"

say "kernel: arping -c 2 10.0.0.2"
in_ns arping -c 2 -I tap0 10.0.0.2 || true
say "kernel: ping -c 3 10.0.0.2"
in_ns ping -c 3 -i 0.2 10.0.0.2
say "kernel: ping -c 2 -s 4000 10.0.0.2   (fragmented both ways)"
in_ns ping -c 2 -i 0.2 -s 4000 10.0.0.2
say "kernel: ping -c 2 -s 65000 10.0.0.2  (45 fragments each way)"
in_ns ping -c 2 -i 0.2 -s 65000 10.0.0.2

say "our stack pings the kernel: tcpip-ping -c 3 10.0.1.1 (on tap1, as 10.0.1.2)"
in_ns build/apps/tcpip-ping --tap tap1 --ip 10.0.1.2/24 -c 3 -i 0.2 10.0.1.1

say "stopping tcpip-echo (SIGINT): its statistics"
kill -INT "$echo_pid"; wait "$echo_pid" || true; echo_pid=""
sed -n '/statistics/,$p' "${pcap%.pcap}.log" | grep -v ': 0$' || true

say "capture: $pcap ($(stat -c %s "$pcap") bytes); open it in Wireshark, or: tshark -r $pcap"
tshark -r "$pcap" 2>/dev/null | head -8 || true
