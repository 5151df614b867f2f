#!/usr/bin/env bash
# Soak: the three server apps under mixed load for a long time, part of it through the fault
# injector and a stream of malformed frames, watching their memory and checking every byte.
#
#   sudo scripts/soak.sh [--minutes N | --seconds N] [--out DIR]
#
#   --minutes N   length of the run, decimals allowed (default 60; CI passes 2)
#   --seconds N   the same in seconds, for quick tries (at least 20)
#   --out DIR     where the results go (default build/soak/)
#   TCPIP_BUILD=DIR  the build directory to use (default build/)
#   SOAK_PCAP=1      capture tcpip-httpd's and tcpip-echo's frames to DIR/*.pcap (large: to debug)
#
# It builds the apps, creates a network namespace of its own (tcpip-soak-PID; removed when the
# script ends, however it ends) with one TAP per app, the kernel at 10.0.N.1 and the app at 10.0.N.2:
#   tap0  tcpip-httpd --root DIR   with --faults (drop, duplicate, reorder, corrupt) and --no-offload
#   tap1  tcpip-echo               with --faults and --no-offload
#   tap2  tcpip-perf -s            clean, with offloads (the fast path): the kernel sends to it
#   tap3  tcpip-perf -s            the same: it sends to the kernel (iperf3 -R)
# (--no-offload beside --faults: with offloads the kernel hands frames over without checksums, so
# a bit the injector flips could not be detected by anyone; on a real wire the NIC checks them.)
# For the whole run, in parallel, each load bounded in time:
#   bulk TCP both ways     iperf3 -c against one tcpip-perf and -R against the other, one run
#                          each for the whole time (one connection each: runs one after another
#                          would churn connections, whose buffers RSS would keep, see below)
#   request/response       1-byte TCP round trips to tcpip-echo, every byte compared
#   echo blocks            1..64 KiB TCP blocks echoed by tcpip-echo, compared
#   short connections      GET of files from tcpip-httpd's --root, one connection each, sha256 compared
#   UDP echo               datagrams of 1..8000 bytes (some fragmented) to tcpip-echo, compared
#   pings                  to every app, and a fragmented one (-s 3000) to tcpip-echo
#   malformed frames       runts, bad checksums and lengths, lone fragments, garbage: 100 frames/s
#                          into each of tap0 and tap1 from the kernel side (AF_PACKET)
# Every second DIR/soak.csv gets the time, each app's RSS (/proc/PID/status), tcpip-httpd's TCP
# sockets and some of its counters (from its /stats page); at the end DIR/soak.png charts them.
#
# It fails (exit 1, one line saying why) when an app exits or crashes, a load makes no progress for
# 30 s (a stuck connection), a byte differs, the apps do not answer at the end, or an app's RSS at
# the end is more than 5 % above its RSS at a fifth of the run (each the mean over a tenth of the
# run: RSS breathes by a connection's 256 KiB buffers, 5 % of these small apps, as connections come
# and go; see scripts/soak.py report). For tcpip-httpd, whose /stats report them, the check is on
# RSS less its TCP buffers in use and kept for reuse (bounded by tcp_buffer_cache): a 1 MiB GET
# whose window reaches a new high late in the run leaves a larger block in that cache, a step that
# is not a leak. Exit 2: bad arguments.
#
# Why the bulk runs are not many short iperf3 tests: each test grows its connection's buffers to
# ~260 KiB. A connection gives them back when they drain (also on entering TIME-WAIT), but to the
# TCP layer's BufferCache (up to its budget) and to the allocator, which keep the memory for the
# next connection: RSS follows the most buffers ever in use at once, not the buffers in use now,
# so a load that churns bulk connections would measure that, not leaks. The bulk runs fix their window (iperf3
# -w 4M) for the same reason: receive-buffer auto-tuning may double a buffer whenever a round trip
# delivers more than any before, late in a short run too (tcpip-perf -s, which reads in the
# stack's thread, sees more per round trip than the threaded server did).
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."

usage_error() {
  echo "soak: $1 (usage: scripts/soak.sh [--minutes N | --seconds N] [--out DIR])" >&2
  exit 2
}

seconds=3600 out=""
while (($#)); do
  case "$1" in
    --minutes) [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--minutes needs a number"
      seconds=$(awk -v m="$2" 'BEGIN { printf "%d", m * 60 + 0.5 }'); shift 2 ;;
    --seconds) [[ ${2:-} =~ ^[0-9]+$ ]] || usage_error "--seconds needs a whole number"; seconds=$2; shift 2 ;;
    --out) [[ -n ${2:-} ]] || usage_error "--out needs a directory"; out=$2; shift 2
      [[ $out == /* ]] || out=$caller_dir/$out ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
((seconds >= 20)) || usage_error "the run must last at least 20 s"
[[ $(id -u) -eq 0 ]] || { echo "soak: needs root (it creates a network namespace and TAP devices)" >&2; exit 1; }

fail() {
  echo "soak: FAIL: $*" >&2
  exit 1
}

# ---- packages and build ----

build=${TCPIP_BUILD:-build}
python=/usr/bin/python3  # Debian's, which sees python3-matplotlib
source scripts/packages.sh
install_missing soak iproute2 iputils-ping iperf3 python3 python3-matplotlib || fail "could not install what it needs"
if [[ ! -f $build/build.ninja ]]; then
  scripts/setup.sh "$build" >/dev/null
fi
ninja -C "$build" apps/tcpip-httpd apps/tcpip-echo apps/tcpip-perf >/dev/null || fail "could not build the apps"

out=${out:-$PWD/build/soak}
mkdir -p "$out"
rm -f "$out"/*.log "$out"/*.beat "$out"/*.fail "$out"/*.pcap "$out"/soak.csv "$out"/soak.png
www=$out/www
mkdir -p "$www"

# ---- the namespace, and everything started in it ----

ns="tcpip-soak-$$"
started=()  # PIDs of the background processes this script started, and only those
cleanup() {
  local pid
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  started=()
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
# Short connections leave TIME-WAIT entries on the kernel side: room for many.
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
for i in 0 1 2 3; do
  ip -n "$ns" tuntap add dev "tap$i" mode tap
  ip -n "$ns" addr add "10.0.$i.1/24" dev "tap$i"
  ip -n "$ns" link set "tap$i" up
done
httpd_ip=10.0.0.2 echo_ip=10.0.1.2 perf_ip=10.0.2.2 perf_r_ip=10.0.3.2

# Files for tcpip-httpd to serve, and their sha256: small ones (short connections) and a 1 MiB one.
head -c 100 /dev/urandom >"$www/small.bin"
head -c 20000 /dev/urandom >"$www/medium.bin"
head -c 1048576 /dev/urandom >"$www/large.bin"
files=()
for f in small.bin medium.bin large.bin; do files+=("$f" "$(sha256sum "$www/$f" | cut -d' ' -f1)"); done

faults="drop=0.01,duplicate=0.005,reorder=0.01,corrupt=0.001"

# start_app KEY APP N ARGS...: APP on tapN as 10.0.N.2, its log KEY.log (ip netns exec execs it,
# so $! is the app); waits until it answers ping. With a fixed mmap threshold glibc gives a freed
# connection buffer (256 KiB) back to the kernel at once, instead of keeping or trimming it as its
# heap moves: RSS then follows the memory the app holds, which is what the check is about.
declare -A app_pid
start_app() {
  local key=$1 app=$2 n=$3 i
  shift 3
  MALLOC_MMAP_THRESHOLD_=131072 ip netns exec "$ns" "$build/apps/$app" --tap "tap$n" --ip "10.0.$n.2/24" "$@" >"$out/$key.log" 2>&1 &
  app_pid[$key]=$!
  started+=($!)
  for ((i = 0; i < 20; i++)); do
    ip netns exec "$ns" ping -c 1 -W 0.5 "10.0.$n.2" >/dev/null 2>&1 && return 0
    kill -0 "${app_pid[$key]}" 2>/dev/null || break
  done
  cat "$out/$key.log" >&2
  fail "$key did not start (no answer to ping at 10.0.$n.2)"
}
pcap_httpd=() pcap_echo=()
if [[ ${SOAK_PCAP:-} == 1 ]]; then pcap_httpd=(--pcap "$out/httpd.pcap") pcap_echo=(--pcap "$out/echo.pcap"); fi
start_app tcpip-httpd tcpip-httpd 0 --root "$www" --no-offload --faults "$faults,seed=1" "${pcap_httpd[@]}"
start_app tcpip-echo tcpip-echo 1 --no-offload --faults "$faults,seed=2" "${pcap_echo[@]}"
start_app tcpip-perf tcpip-perf 2 -s --stats
start_app tcpip-perf-R tcpip-perf 3 -s --stats

# load NAME COMMAND...: a load in the namespace, bounded by `timeout` well past the run's end; its
# output goes to NAME.log and its heartbeat (for the loads that have one) is NAME.beat.
declare -A load_pid
load() {
  local name=$1
  shift
  timeout --kill-after=5 $((seconds + 90)) ip netns exec "$ns" "$@" >"$out/$name.log" 2>&1 &
  load_pid[$name]=$!
  started+=($!)
}

echo "soak: $((seconds / 60)) min $((seconds % 60)) s against tcpip-httpd ($httpd_ip, faults), tcpip-echo ($echo_ip, faults), tcpip-perf ($perf_ip, $perf_r_ip); results in $out"
started_at=$(date +%s)
load iperf "$python" scripts/soak.py iperf "$perf_ip" "$seconds" "$out/iperf.beat"
load iperf-R "$python" scripts/soak.py iperf "$perf_r_ip" "$seconds" "$out/iperf-R.beat" -R
load rr "$python" scripts/soak.py rr "$echo_ip" 7 "$seconds" "$out/rr.beat"
load echo "$python" scripts/soak.py echo "$echo_ip" 7 "$seconds" "$out/echo.beat"
load short "$python" scripts/soak.py short "$httpd_ip" 80 "$seconds" "$out/short.beat" "${files[@]}"
load udp "$python" scripts/soak.py udp "$echo_ip" 7 "$seconds" "$out/udp.beat"
load malformed0 "$python" scripts/soak.py malformed tap0 02:74:63:70:00:02 "$seconds" 100
load malformed1 "$python" scripts/soak.py malformed tap1 02:74:63:70:00:02 "$seconds" 100
load ping-httpd ping -q -i 0.2 -w "$seconds" "$httpd_ip"
load ping-echo ping -q -i 0.2 -w "$seconds" "$echo_ip"
load ping-perf ping -q -i 0.2 -w "$seconds" "$perf_ip"
load ping-perf-R ping -q -i 0.2 -w "$seconds" "$perf_r_ip"
load ping-frag ping -q -i 0.5 -s 3000 -w "$seconds" "$echo_ip"

# The monitor: a row a second; it fails at once on an app that is gone or a load that is stuck.
beats=()
for b in iperf iperf-R rr echo short udp; do beats+=("$out/$b.beat"); done
ip netns exec "$ns" "$python" scripts/soak.py monitor "$out/soak.csv" "$seconds" "$httpd_ip:80" \
  "tcpip-httpd=${app_pid[tcpip-httpd]}" "tcpip-echo=${app_pid[tcpip-echo]}" "tcpip-perf=${app_pid[tcpip-perf]}" "tcpip-perf-R=${app_pid[tcpip-perf-R]}" \
  "${beats[@]}" 2>"$out/monitor.log" || fail "$(tail -n 1 "$out/monitor.log" | sed 's/^soak: //')"

# Every load ends by itself within a few seconds of the run's end; each must have succeeded.
for name in iperf iperf-R rr echo short udp malformed0 malformed1; do
  status=0
  wait "${load_pid[$name]}" || status=$?
  ((status == 0)) || fail "$name: $(tail -n 1 "$out/$name.log" | sed 's/^soak: //') (exit $status)"
  tail -n 1 "$out/$name.log" | sed 's/^/soak: /'
done
for name in ping-httpd ping-echo ping-perf ping-perf-R ping-frag; do
  wait "${load_pid[$name]}" || true
  loss=$(grep -o '[0-9.]*% packet loss' "$out/$name.log" | cut -d% -f1)
  [[ -n $loss ]] || fail "$name: no summary (see $out/$name.log)"
  awk -v l="$loss" 'BEGIN { exit !(l <= 20) }' || fail "$name: $loss % of the pings lost"
  echo "soak: $name: $(grep 'packets transmitted' "$out/$name.log")"
done

# Still answering after all that: one more download and one more echo.
got=$(ip netns exec "$ns" curl -sS --max-time 30 "http://$httpd_ip/large.bin" | sha256sum | cut -d' ' -f1)
[[ $got == "${files[5]}" ]] || fail "tcpip-httpd does not serve large.bin correctly at the end"
# (Through its faults a single ping may be lost: one answer out of up to five is enough.)
ip netns exec "$ns" ping -c 1 -i 0.5 -w 5 "$echo_ip" >/dev/null || fail "tcpip-echo does not answer ping at the end"

# The chart, and the memory check (it prints each app's RSS at the start, a fifth and the end).
"$python" scripts/soak.py report "$out/soak.csv" "$out/soak.png" 2>"$out/report.log" ||
  { cat "$out/report.log" >&2; fail "$(tail -n 1 "$out/report.log" | sed 's/^soak: //')"; }
cat "$out/report.log"

# Stop the apps: each prints its statistics and must exit with 0 (not a crash, not a signal).
for name in tcpip-httpd tcpip-echo tcpip-perf tcpip-perf-R; do
  pid=${app_pid[$name]}
  kill -TERM "$pid" 2>/dev/null || true
  status=0
  wait "$pid" || status=$?
  ((status == 0)) || fail "$name exited with status $status when stopped (see $out/$name.log)"
done
started=()
echo "soak: PASS in $(($(date +%s) - started_at)) s; $out/soak.csv, $out/soak.png"
