#!/usr/bin/env bash
# The demo: our stack on TAP devices in a network namespace of its own, with the Linux kernel on
# the other side using it for real through stock tools. Installs what is missing, builds, runs,
# cleans up (also on Ctrl-C).
#
#   scripts/demo.sh                 (TCPIP_BUILD=DIR: use that build directory instead of build/)
#
# Each app is a whole stack on its own TAP (the kernel is 10.0.N.1, the app 10.0.N.2):
#   tap0  tcpip-httpd   the web server: its built-in page and /stats; captured to a pcap
#   tap1  tcpip-echo    ARP, ping (also fragmented), UDP and TCP echo on port 7
#   tap2  tcpip-perf -s an iperf3 server: stock iperf3 measures our TCP both ways
#   tap3  tcpip-ping    our stack pinging the kernel
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: run as root (it creates a network namespace and TAP devices)" >&2
  exit 1
fi
build="${TCPIP_BUILD:-build}"
scripts/setup.sh "$build" >/dev/null

ns="tcpip-demo-$$"
work="${TMPDIR:-/tmp}/tcpip-demo-$$"
pcap="$work/httpd.pcap"
mkdir -p "$work"
pids=()
# SIGTERM (what the apps take as Ctrl-C): each prints its statistics to its log and exits.
stop_apps() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_apps
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$ns" "$@"; }

# Starts app $1 on tap$2 as 10.0.$2.2 with the rest of the arguments; waits until it answers ping
# and has printed that it is ready (its listener comes up just after its stack answers ping), 10 s
# at most for each.
start_app() {
  local app=$1 n=$2; shift 2
  # Straight from this shell (not through a function or subshell), so that $! is the app itself.
  ip netns exec "$ns" "$build/apps/$app" --tap "tap$n" --ip "10.0.$n.2/24" "$@" > "$work/$app.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do in_ns ping -c 1 -W 0.2 "10.0.$n.2" >/dev/null 2>&1 && break; done
  for _ in $(seq 100); do grep -qE ': ready|Server listening' "$work/$app.log" && break; sleep 0.1; done
  grep -m 1 -v '^---' "$work/$app.log" | sed 's/^/  /'
}

say "network namespace $ns with tap0..tap3 (the kernel is 10.0.N.1/24 on tapN)"
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1  # no IPv6 chatter in the capture
for i in 0 1 2 3; do
  ip -n "$ns" tuntap add dev "tap$i" mode tap
  ip -n "$ns" addr add "10.0.$i.1/24" dev "tap$i"
  ip -n "$ns" link set "tap$i" up
done

say "starting our stacks: tcpip-httpd (10.0.0.2, capturing to $pcap), tcpip-echo (10.0.1.2), tcpip-perf -s (10.0.2.2)"
start_app tcpip-httpd 0 --pcap "$pcap"
start_app tcpip-echo 1
start_app tcpip-perf 2 -s

say "kernel: ping -c 3 10.0.0.2"
in_ns ping -c 3 -i 0.2 10.0.0.2
say "kernel: ping -c 2 -s 4000 10.0.1.2   (fragmented both ways)"
in_ns ping -c 2 -i 0.2 -s 4000 10.0.1.2

say "kernel: curl -i http://10.0.0.2/   (tcpip-httpd's built-in page; first lines)"
in_ns curl -sS -i --max-time 5 http://10.0.0.2/ | head -12
say "kernel: curl http://10.0.0.2/stats   (the stack's live counters and connections; an excerpt)"
in_ns curl -sS --max-time 5 http://10.0.0.2/stats | grep -v ': 0$'

say "kernel: echo over TCP and UDP to tcpip-echo (RFC 862)"
echo "hello over TCP" | in_ns timeout 5 socat -t 1 - TCP4:10.0.1.2:7 | sed 's/^/  echoed: /'
echo "hello over UDP" | in_ns timeout 5 socat -t 1 - UDP4:10.0.1.2:7 | sed 's/^/  echoed: /'

say "kernel: iperf3 -c 10.0.2.2 -t 3   (the kernel sends, our stack receives)"
in_ns iperf3 -c 10.0.2.2 -t 3 -f g | grep -E 'sender|receiver|Interval'
say "kernel: iperf3 -c 10.0.2.2 -t 3 -R   (our stack sends)"
in_ns iperf3 -c 10.0.2.2 -t 3 -R -f g | grep -E 'sender|receiver|Interval'

say "our stack pings the kernel: tcpip-ping -c 3 10.0.3.1 (on tap3, as 10.0.3.2)"
in_ns "$build"/apps/tcpip-ping --tap tap3 --ip 10.0.3.2/24 -c 3 -i 0.2 10.0.3.1

say "stopping the apps: tcpip-httpd's statistics (the non-zero counters)"
stop_apps
sed -n '/statistics/,$p' "$work/tcpip-httpd.log" | grep -v ': 0$' || true

say "capture of everything tcpip-httpd saw: $pcap ($(stat -c %s "$pcap") bytes)"
echo "  open it in Wireshark, or: tshark -r $pcap   (its first packets:)"
tshark -r "$pcap" 2>/dev/null | head -14 || true
echo "  app logs: $work/"
