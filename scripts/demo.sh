#!/usr/bin/env bash
# The demo: our stack on a TAP in its own network namespace, with the Linux kernel on the other
# side using it for real. Installs what is missing, builds, runs, cleans up (also on Ctrl-C).
#
#   scripts/demo.sh                 (TCPIP_BUILD=DIR: use that build directory instead of build/)
#
# What it shows, from the kernel's side of the TAP:
#   - tcpip-echo at 10.0.0.2 answering the kernel's ARP (arping) and ping, small and fragmented,
#     and echoing the kernel's UDP datagrams on port 7 (socat), one of them fragmented;
#   - tcpip-ping, our stack pinging the kernel at 10.0.1.1 over a second TAP;
#   - tcpip-nc -u, our stack exchanging a line with socat on the kernel over that second TAP;
#   - a pcap of everything tcpip-echo saw, for Wireshark.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: run as root (it creates a network namespace and TAP devices)" >&2
  exit 1
fi
build="${TCPIP_BUILD:-build}"
scripts/setup.sh "$build" >/dev/null

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
ip netns exec "$ns" "$build"/apps/tcpip-echo --tap tap0 --ip 10.0.0.2/24 --pcap "$pcap" > "${pcap%.pcap}.log" 2>&1 &
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

say "kernel: UDP echo (RFC 862): echo 'hello over UDP' | socat - UDP4:10.0.0.2:7"
echo "hello over UDP" | in_ns timeout 5 socat -t 1 - UDP4:10.0.0.2:7
say "kernel: a 4000-byte UDP datagram to port 7 (3 fragments each way), compared on return"
in_ns timeout 5 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
data = bytes(i % 251 for i in range(4000)); s.sendto(data, ("10.0.0.2", 7))
print("echoed intact" if s.recv(65536) == data else "ECHO DIFFERS")'

say "our stack pings the kernel: tcpip-ping -c 3 10.0.1.1 (on tap1, as 10.0.1.2)"
in_ns "$build"/apps/tcpip-ping --tap tap1 --ip 10.0.1.2/24 -c 3 -i 0.2 10.0.1.1

say "our stack as a UDP client: tcpip-nc -u 10.0.1.1 9000 (on tap1) with socat on the kernel's side"
in_ns timeout 10 sh -c 'printf "hello from the kernel (socat)\n" | socat -t 2 - UDP4-LISTEN:9000,bind=10.0.1.1 | sed "s/^/  socat got: /"' &
socat_pid=$!
for _ in $(seq 50); do in_ns ss -Hnlu | grep -q ':9000 ' && break; sleep 0.1; done
printf 'hello from tcpip-nc\n' | in_ns timeout 10 "$build"/apps/tcpip-nc --tap tap1 --ip 10.0.1.2/24 -u -q 1 10.0.1.1 9000 \
  | sed 's/^/  tcpip-nc got: /'
wait "$socat_pid" || true

say "stopping tcpip-echo (SIGINT): its statistics"
kill -INT "$echo_pid"; wait "$echo_pid" || true; echo_pid=""
sed -n '/statistics/,$p' "${pcap%.pcap}.log" | grep -v ': 0$' || true

say "capture: $pcap ($(stat -c %s "$pcap") bytes); open it in Wireshark, or: tshark -r $pcap"
tshark -r "$pcap" 2>/dev/null | head -8 || true
