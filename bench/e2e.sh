#!/usr/bin/env bash
# End-to-end benchmark: our stack against the Linux kernel and lwIP, measured side by side in one run.
#
#   sudo bench/e2e.sh [--reps N] [--seconds S] [--out DIR] [--smoke]
#
#   --reps N      repetitions of every measurement; the medians are reported (default 3)
#   --seconds S   length of each throughput, request/response and connection-rate run (default 5)
#   --out DIR     where the results go (default bench/results/YYYYmmdd-HHMMSS/, UTC)
#   --smoke       1 repetition of 1 s: proves the harness works (CI), the figures mean little
#
# It builds build-release (scripts/setup.sh), then creates three network namespaces of its own,
# named with this script's PID, and removes them when it ends, however it ends:
#   tcpip-e2e-t-PID   a TAP: the kernel at 10.98.0.1/24, our stack (the apps) at 10.98.0.2; a
#                     second TAP for lwIP: the kernel at 10.98.1.1/24, bench/lwip-server at 10.98.1.2;
#                     and three for the TAP floor (bench/tap-floor, below), the kernel at 10.98.N.1/24
#                     and the floor at 10.98.N.2: tap2 (blocking read), tap3 (--epoll), tap4 (--uring)
#   tcpip-e2e-a-PID   one end of a veth pair, 10.99.0.1/24: the kernel baseline's client side
#   tcpip-e2e-b-PID   the other end, 10.99.0.2/24: the kernel baseline's server side
# What it measures (the stack's figure, the kernel's over the veth pair, lwIP's on its TAP, and the
# ratios stack/kernel and stack/lwip):
#   throughput, both ways   iperf3 -c [-R] against apps/tcpip-perf -s (ours) / iperf3 -s (kernel) /
#                           bench/lwip-server's iperf3 server (lwIP)
#   the same under tcpip-run  iperf3 -c [-R] against stock iperf3 -s under apps/run/tcpip-run (ours,
#                           through the LD_PRELOAD shim) / the same kernel figure: beside the
#                           tcpip-perf rows, the cost of the shim
#   CPU per GB moved        utime+stime of the tcpip-perf (and lwip-server) process, before and
#                           after each run; rows run_cpu_*: the same of iperf3 -s under tcpip-run
#                           (the program, the shim and the stack's thread: one process)
#   request/response        bench/tcp-rr rr: 1-byte ping-pong on one connection, against
#                           apps/tcpip-echo (ours) / tcp-rr server (kernel) / lwip-server's echo
#                           (lwIP); once with client and server pinned to cpu 0 (taskset -c 0),
#                           once unpinned
#   the TAP floor           the same tcp-rr rr against bench/tap-floor, a stateless reflector that
#                           answers each frame by swapping its headers (no stack at all): the most
#                           any user-space stack could do through a TAP. Rows rr_floor_pinned and
#                           rr_floor_unpinned (it waits in a blocking read), rr_floor_epoll_pinned
#                           and rr_floor_epoll_unpinned (epoll_wait with a timeout, then read, as a
#                           stack with timers must) and rr_floor_uring_pinned and _unpinned (io_uring:
#                           one system call per transaction; left out where io_uring is disabled),
#                           each beside the kernel's figure of the same runs
#   connection rate         bench/tcp-rr crr: connect, 1-byte ping-pong, close, repeat
#   idle CPU                utime+stime of an idle tcpip-echo, tcpip-perf -s and tcpip-httpd over
#                           S seconds with no traffic, in % of one core (the kernel's: 0 by
#                           definition, its stack runs only when a packet or a call comes)
#   per transaction         heap allocations (bench/alloc_count.so, LD_PRELOAD) and system calls
#                           (strace -c -f, attached for the run) of tcpip-echo (ours) / tcp-rr server
#                           (kernel) per 1-byte request/response: the difference between a run of
#                           N1 and one of N2 transactions on a fresh connection each, / (N2 - N1)
# Targets (reported, not enforced): bulk throughput each way >= 0.35x the kernel's, and pinned
# request/response transactions per second >= the kernel's. See bench/README.md.
#
# Output: DIR/results.json, results.csv, results.png (drawn by bench/e2e_report.py) and DIR/raw/
# (every iperf3 JSON, tcp-rr line and app log), and a table on stdout. Exit status: 0 when every
# measurement was taken, whatever the figures; 1 when the harness failed (a tool that did not
# start, iperf3 JSON missing, a client that could not measure); 2 for bad arguments.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."

usage_error() {
  echo "e2e: $1 (usage: bench/e2e.sh [--reps N] [--seconds S] [--out DIR] [--smoke])" >&2
  exit 2
}

reps=3 seconds=5 out="" smoke=0
while (($#)); do
  case "$1" in
    --reps) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "--reps needs a positive integer"; reps=$2; shift 2 ;;
    --seconds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "--seconds needs a positive integer"; seconds=$2; shift 2 ;;
    --out) [[ -n ${2:-} ]] || usage_error "--out needs a directory"; out=$2; shift 2
      [[ $out == /* ]] || out=$caller_dir/$out ;;
    --smoke) smoke=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
if ((smoke)); then reps=1 seconds=1; fi
[[ $(id -u) -eq 0 ]] || { echo "e2e: needs root (it creates network namespaces)" >&2; exit 1; }

fail() {
  echo "e2e: $*" >&2
  exit 1
}

# ---- build ----

echo "e2e: building build-release"
scripts/setup.sh build-release --buildtype=release -Dtests=disabled -Dbench=enabled >/dev/null
# bench/lwip-server is built only where liblwip-dev is installed (setup.sh installs it): a build
# directory configured before that learns of it when meson runs again.
if ! ninja -C build-release -t targets all 2>/dev/null | grep -q '^bench/lwip-server:'; then
  meson setup --reconfigure build-release >/dev/null || fail "could not reconfigure build-release"
fi
ninja -C build-release apps/tcpip-perf apps/tcpip-echo bench/tcp-rr apps/run/tcpip-run apps/run/libtcpip-preload.so \
  apps/tcpip-httpd bench/alloc_count.so bench/lwip-server bench/tap-floor >/dev/null ||
  fail "could not build apps/tcpip-perf, apps/tcpip-echo, apps/tcpip-httpd, bench/tcp-rr, apps/run/tcpip-run, bench/alloc_count.so, bench/lwip-server and bench/tap-floor"
perf=build-release/apps/tcpip-perf echo_app=build-release/apps/tcpip-echo rr_tool=build-release/bench/tcp-rr
floor_tool=build-release/bench/tap-floor
lwip_server=build-release/bench/lwip-server
run_tool=build-release/apps/run/tcpip-run
python=/usr/bin/python3  # Debian's, which sees python3-matplotlib (a pyenv python3 on PATH would not)
report=bench/e2e_report.py
if ! "$python" -c 'import matplotlib' 2>/dev/null; then
  echo "e2e: installing python3-matplotlib (for the chart)"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null; }; then
    fail "could not install python3-matplotlib"
  fi
fi
# The commit the binaries were built from (HEAD may move while a long run goes on).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=${out:-bench/results/$(date -u -d "$started_at" +%Y%m%d-%H%M%S)}
raw_dir=$out/raw
mkdir -p "$raw_dir"
measurements=$raw_dir/measurements.tsv
: >"$measurements"

# ---- namespaces, and the processes started in them ----

id=$$
ns_t="tcpip-e2e-t-$id" ns_a="tcpip-e2e-a-$id" ns_b="tcpip-e2e-b-$id"
stack_ip=10.98.0.2 lwip_ip=10.98.1.2 veth_server_ip=10.99.0.2
# bench/tap-floor's variants: SIDE:TAP:ADDRESS[:FLAG], each on a TAP of its own (tapN, 10.98.N.0/24).
floors=(floor:tap2:10.98.2.2 floor_epoll:tap3:10.98.3.2:--epoll)
if [[ $(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0) == 0 ]]; then
  floors+=(floor_uring:tap4:10.98.4.2:--uring)
else
  echo "e2e: io_uring is disabled here (kernel.io_uring_disabled): rows rr_floor_uring_* left out" >&2
fi
started=()  # PIDs of the background processes this script started, and only those

cleanup() {
  local pid
  for pid in "${started[@]}"; do
    stop "$pid"
  done
  for ns in "$ns_t" "$ns_a" "$ns_b"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns_t"
ip netns add "$ns_a"
ip netns add "$ns_b"
ip -n "$ns_t" tuntap add dev tap0 mode tap
ip -n "$ns_t" addr add 10.98.0.1/24 dev tap0
ip -n "$ns_t" tuntap add dev tap1 mode tap
ip -n "$ns_t" addr add 10.98.1.1/24 dev tap1
for n in 2 3 4; do
  ip -n "$ns_t" tuntap add dev "tap$n" mode tap
  ip -n "$ns_t" addr add "10.98.$n.1/24" dev "tap$n"
done
ip -n "$ns_a" link add veth0 type veth peer name veth1 netns "$ns_b"
ip -n "$ns_a" addr add 10.99.0.1/24 dev veth0
ip -n "$ns_b" addr add "$veth_server_ip/24" dev veth1
for link in "$ns_t tap0" "$ns_t tap1" "$ns_t tap2" "$ns_t tap3" "$ns_t tap4" "$ns_a veth0" "$ns_b veth1" "$ns_t lo" "$ns_a lo" "$ns_b lo"; do
  read -r ns dev <<<"$link"
  ip -n "$ns" link set "$dev" up
done
# The client sides make up to tens of thousands of connections per connection-rate run, each of
# which leaves a TIME-WAIT entry for 60 s: more ephemeral ports, and reuse of TIME-WAIT ports
# where the connection had timestamps (these sysctls belong to the namespace).
for ns in "$ns_t" "$ns_a"; do
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
done

# start NAMESPACE LOG PATTERN COMMAND...: runs COMMAND in the background (ip netns exec execs it,
# so the PID is the command's own) and waits up to 10 s for PATTERN in its output. Sets $pid.
start() {
  local ns=$1 log=$2 pattern=$3
  shift 3
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  pid=$!
  started+=("$pid")
  local i
  for ((i = 0; i < 100; i++)); do
    grep -qs -- "$pattern" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "$* exited at start"; }
    sleep 0.1
  done
  cat "$log" >&2
  fail "$* did not print '$pattern' within 10 s"
}

# stop PID: SIGTERM (the apps then print their statistics), SIGKILL if still there after 5 s.
# stop PID: bench/proc_lib.sh
source bench/proc_lib.sh  # (the working directory is the project root here)

# The stack on the TAP answers ARP and ping from its own thread: one ping proves it is up, and
# leaves the kernel's neighbour entry resolved before anything is timed. The same for lwIP.
wait_for_ping() {  # wait_for_ping IP NAME
  local i
  for ((i = 0; i < 10; i++)); do
    ip netns exec "$ns_t" ping -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0
  done
  fail "$2 at $1 does not answer ping"
}
wait_for_stack() { wait_for_ping "$stack_ip" "our stack"; }
wait_for_lwip() { wait_for_ping "$lwip_ip" "lwip-server"; }

record() {  # record METRIC SIDE REP VALUE
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$measurements"
}

# A client run, bounded in time: its own length plus a margin for connecting and reporting.
client() {  # client NAMESPACE COMMAND...
  local ns=$1
  shift
  timeout --kill-after=5 $((seconds * 2 + 30)) ip netns exec "$ns" "$@"
}

cpu_ticks() {  # utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)
  # The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
ticks_per_second=$(getconf CLK_TCK)

# iperf_run NAME NAMESPACE SERVER [-R]: one iperf3 client run. Sets $gbits (the receiver's rate),
# $bytes (what the receiver got) and $cpu (CPU seconds of both iperf3 processes).
iperf_run() {
  local name=$1 ns=$2 server=$3
  shift 3
  local json=$raw_dir/$name.json result
  client "$ns" iperf3 -c "$server" -t "$seconds" -J "$@" >"$json" 2>"$raw_dir/$name.stderr" || true
  result=$("$python" "$report" iperf3 "$json") || fail "iperf3 run $name failed (see $json)"
  read -r gbits bytes cpu <<<"$result"
}

# rr_run NAME NAMESPACE COMMAND...: one tcp-rr client run. Its "key=value ..." line goes into the
# associative array rr (rr[per_second], rr[p50_us], rr[p99_us], rr[errors], ...).
declare -A rr
rr_run() {
  local name=$1 ns=$2
  shift 2
  client "$ns" "$@" >"$raw_dir/$name.txt" 2>"$raw_dir/$name.stderr" ||
    { cat "$raw_dir/$name.stderr" >&2; fail "tcp-rr run $name failed"; }
  local line field key
  line=$(grep '^mode=' "$raw_dir/$name.txt") || fail "tcp-rr run $name printed no result"
  rr=()
  for field in $line; do rr[${field%%=*}]=${field#*=}; done
  for key in per_second p50_us p99_us errors; do
    [[ -n ${rr[$key]:-} ]] || fail "tcp-rr run $name: no $key= in '$line'"
  done
  if [[ ${rr[errors]} != 0 ]]; then
    echo "e2e: warning: $name: ${rr[errors]} failed transactions or connections" >&2
  fi
  if awk -v got="${rr[seconds]:-0}" -v want="$seconds" 'BEGIN { exit !(got < 0.9 * want) }'; then
    echo "e2e: warning: $name ended early, after ${rr[seconds]:-?} s: $(head -1 "$raw_dir/$name.stderr")" >&2
  fi
}

echo "e2e: $reps repetition(s) of $seconds s; results in $out"

# ---- 1. bulk throughput and CPU per GB ----
# One server each for all repetitions; the kernel's, the stack's and lwIP's runs alternate, so a
# slow moment of the shared machine falls on all three.

start "$ns_t" "$raw_dir/tcpip-perf.log" "Server listening" "$perf" -s --stats --tap tap0 --ip "$stack_ip/24"
perf_pid=$pid
wait_for_stack
start "$ns_b" "$raw_dir/iperf3-server.log" "Server listening" iperf3 -s --forceflush -B "$veth_server_ip"
iperf_server_pid=$pid
start "$ns_t" "$raw_dir/lwip-server.log" "ready" "$lwip_server" --tap tap1 --ip "$lwip_ip/24"
lwip_pid=$pid
wait_for_lwip

# per_gb TICKS BYTES: CPU seconds per GB from a process's clock ticks over a run
per_gb() { awk -v t="$1" -v hz="$ticks_per_second" -v b="$2" 'BEGIN { printf "%.6f", (t / hz) / (b / 1e9) }'; }

for ((rep = 1; rep <= reps; rep++)); do
  for direction in k2s s2k; do
    flag=()
    [[ $direction == s2k ]] && flag=(-R)
    echo "e2e: [$rep/$reps] throughput $direction"
    iperf_run "tput_$direction-kernel-$rep" "$ns_a" "$veth_server_ip" "${flag[@]}"
    record "tput_$direction" kernel "$rep" "$gbits"
    record "run_$direction" kernel "$rep" "$gbits"  # the tcpip-run rows share the kernel's figure
    record "cpu_$direction" kernel "$rep" "$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { printf "%.6f", c / (b / 1e9) }')"
    record "run_cpu_$direction" kernel "$rep" "$(awk -v c="$cpu" -v b="$bytes" 'BEGIN { printf "%.6f", c / (b / 1e9) }')"

    kill -0 "$perf_pid" 2>/dev/null || fail "tcpip-perf is no longer running (see $raw_dir/tcpip-perf.log)"
    before=$(cpu_ticks "$perf_pid")
    iperf_run "tput_$direction-stack-$rep" "$ns_t" "$stack_ip" "${flag[@]}"
    after=$(cpu_ticks "$perf_pid")
    record "tput_$direction" stack "$rep" "$gbits"
    record "cpu_$direction" stack "$rep" "$(per_gb $((after - before)) "$bytes")"

    kill -0 "$lwip_pid" 2>/dev/null || fail "lwip-server is no longer running (see $raw_dir/lwip-server.log)"
    before=$(cpu_ticks "$lwip_pid")
    iperf_run "tput_$direction-lwip-$rep" "$ns_t" "$lwip_ip" "${flag[@]}"
    after=$(cpu_ticks "$lwip_pid")
    record "tput_$direction" lwip "$rep" "$gbits"
    record "cpu_$direction" lwip "$rep" "$(per_gb $((after - before)) "$bytes")"
  done
done
stop "$perf_pid"
stop "$iperf_server_pid"
stop "$lwip_pid"

# ---- 1b. the same with stock iperf3 under tcpip-run: the shim's cost ----

start "$ns_t" "$raw_dir/tcpip-run-iperf3.log" "Server listening" \
  "$run_tool" --tap tap0 --ip "$stack_ip/24" --stats "$raw_dir/tcpip-run-iperf3.stats" -- iperf3 -s --forceflush
run_pid=$pid
wait_for_stack
for ((rep = 1; rep <= reps; rep++)); do
  for direction in k2s s2k; do
    flag=()
    [[ $direction == s2k ]] && flag=(-R)
    echo "e2e: [$rep/$reps] throughput $direction, stock iperf3 under tcpip-run"
    kill -0 "$run_pid" 2>/dev/null || fail "iperf3 under tcpip-run is no longer running (see $raw_dir/tcpip-run-iperf3.log)"
    before=$(cpu_ticks "$run_pid")
    iperf_run "run_$direction-stack-$rep" "$ns_t" "$stack_ip" "${flag[@]}"
    after=$(cpu_ticks "$run_pid")
    record "run_$direction" stack "$rep" "$gbits"
    record "run_cpu_$direction" stack "$rep" "$(per_gb $((after - before)) "$bytes")"
  done
done
stop "$run_pid"

# ---- 2. request/response, unpinned and pinned to cpu 0 ----

# rr_phase METRIC FLOOR_METRIC WRAPPER...: tcpip-echo, the kernel's tcp-rr server, lwip-server and
# the TAP floors, all started under WRAPPER (e.g. taskset -c 0), and the tcp-rr client under it too.
# The floors' figures go in row FLOOR_METRIC (rr_floor_pinned) and its variants' rows (with the
# side's name: rr_floor_epoll_pinned, ...); the report sets each beside the kernel's figure of
# METRIC (the same runs).
rr_phase() {
  local metric=$1 floor_metric=$2
  shift 2
  local wrap=("$@")
  start "$ns_t" "$raw_dir/tcpip-echo-$metric.log" "ready" "${wrap[@]}" "$echo_app" --tap tap0 --ip "$stack_ip/24" --port 7
  local echo_pid=$pid
  wait_for_stack
  start "$ns_b" "$raw_dir/tcp-rr-server-$metric.log" "serving" "${wrap[@]}" "$rr_tool" server 7
  local server_pid=$pid
  start "$ns_t" "$raw_dir/lwip-server-$metric.log" "ready" "${wrap[@]}" "$lwip_server" --tap tap1 --ip "$lwip_ip/24"
  local lwip_pid=$pid
  wait_for_lwip
  local floor side tap ip flag floor_pids=() floor_sides=()
  local -A floor_ip=()
  for floor in "${floors[@]}"; do
    IFS=: read -r side tap ip flag <<<"$floor"
    start "$ns_t" "$raw_dir/tap-$side-$metric.log" "ready" "${wrap[@]}" "$floor_tool" --tap "$tap" --ip "$ip" ${flag:+"$flag"}
    floor_pids+=("$pid") floor_sides+=("$side")
    floor_ip[$side]=$ip
    wait_for_ping "$ip" "tap-floor $flag"
  done
  local rep ns
  for ((rep = 1; rep <= reps; rep++)); do
    echo "e2e: [$rep/$reps] request/response ${wrap[*]:-unpinned}"
    for side in kernel stack lwip "${floor_sides[@]}"; do
      case $side in
        kernel) ns=$ns_a ip=$veth_server_ip ;;
        stack) ns=$ns_t ip=$stack_ip ;;
        lwip) ns=$ns_t ip=$lwip_ip ;;
        *) ns=$ns_t ip=${floor_ip[$side]} ;;
      esac
      rr_run "$metric-$side-$rep" "$ns" "${wrap[@]}" "$rr_tool" rr "$ip" 7 "$seconds"
      case $side in
        floor*) record "${floor_metric/floor/$side}" floor "$rep" "${rr[per_second]}" ;;
        *)
          record "$metric" "$side" "$rep" "${rr[per_second]}"
          record "${metric}_p50" "$side" "$rep" "${rr[p50_us]}"
          record "${metric}_p99" "$side" "$rep" "${rr[p99_us]}"
          ;;
      esac
    done
  done
  stop "$echo_pid"
  stop "$server_pid"
  stop "$lwip_pid"
  for pid in "${floor_pids[@]}"; do stop "$pid"; done
}
rr_phase rr rr_floor_unpinned
rr_phase rr_pinned rr_floor_pinned taskset -c 0

# ---- 3. connection rate ----
# Each repetition gets a server port of its own: the previous repetition's connections still sit in
# TIME-WAIT (60 s) on the client side, and without TCP timestamps the kernel cannot reuse those
# ports for the same server address and port. lwIP (as Debian builds it) has no timestamps at all:
# one server port would run out after ~32,000 connections, so its client spreads the connections
# over lwip_crr_ports ports (tcp-rr crr ... PORTS; bench/tcp_rr.cpp says more).
lwip_crr_ports=32

for ((rep = 1; rep <= reps; rep++)); do
  port=$((7000 + rep))
  echo "e2e: [$rep/$reps] connection rate"
  start "$ns_t" "$raw_dir/tcpip-echo-crr-$rep.log" "ready" "$echo_app" --tap tap0 --ip "$stack_ip/24" --port "$port"
  echo_pid=$pid
  wait_for_stack
  start "$ns_b" "$raw_dir/tcp-rr-server-crr-$rep.log" "serving" "$rr_tool" server "$port"
  server_pid=$pid
  lwip_port=$((7100 + (rep - 1) * lwip_crr_ports))
  start "$ns_t" "$raw_dir/lwip-server-crr-$rep.log" "ready" "$lwip_server" --tap tap1 --ip "$lwip_ip/24" \
    --echo-port "$lwip_port" --echo-ports "$lwip_crr_ports"
  lwip_pid=$pid
  wait_for_lwip
  rr_run "crr-kernel-$rep" "$ns_a" "$rr_tool" crr "$veth_server_ip" "$port" "$seconds"
  record crr kernel "$rep" "${rr[per_second]}"
  rr_run "crr-stack-$rep" "$ns_t" "$rr_tool" crr "$stack_ip" "$port" "$seconds"
  record crr stack "$rep" "${rr[per_second]}"
  rr_run "crr-lwip-$rep" "$ns_t" "$rr_tool" crr "$lwip_ip" "$lwip_port" "$seconds" "$lwip_crr_ports"
  record crr lwip "$rep" "${rr[per_second]}"
  stop "$echo_pid"
  stop "$server_pid"
  stop "$lwip_pid"
done

# ---- 4. what idling and each request cost: idle_cpu, allocs_per_txn, syscalls_per_txn ----

httpd_app=build-release/apps/tcpip-httpd alloc_count=build-release/bench/alloc_count.so
source scripts/packages.sh  # (the project root is the working directory)
install_missing e2e strace || fail "could not install strace (for syscalls_per_txn)"

# idle_cpu_of METRIC REP LOG PATTERN COMMAND...: starts an app on the TAP, lets it settle, and
# records the share of one core it used over $seconds with no traffic at all.
idle_cpu_of() {
  local metric=$1 rep=$2 log=$3 pattern=$4
  shift 4
  start "$ns_t" "$log" "$pattern" "$@"
  local app_pid=$pid before after
  wait_for_stack
  sleep 1  # the ping's neighbour entries and the app's start-up work are over
  before=$(cpu_ticks "$app_pid")
  sleep "$seconds"
  after=$(cpu_ticks "$app_pid")
  record "$metric" stack "$rep" "$(awk -v t=$((after - before)) -v hz="$ticks_per_second" -v s="$seconds" \
    'BEGIN { printf "%.4f", 100 * (t / hz) / s }')"
  record "$metric" kernel "$rep" 0  # the kernel's stack runs only when a packet or a call comes
  stop "$app_pid"
}

# Transactions of the two counted runs: their difference, divided by N2 - N1, cancels what a run
# costs besides its transactions (the connection's setup and teardown, the process's own start).
if ((smoke)); then txn_n1=200 txn_n2=2200; else txn_n1=1000 txn_n2=21000; fi

# counted_rr NAME NS IP PORT N: one tcp-rr rr run of exactly N transactions.
counted_rr() {
  local name=$1 ns=$2 ip=$3 port=$4 n=$5
  local seconds=0  # no length of its own: rr_run's "ended early" check does not apply, client's timeout is 30 s
  rr_run "$name" "$ns" "$rr_tool" rr "$ip" "$port" 25 "$n"
  [[ ${rr[count]} == "$n" ]] || fail "$name: ${rr[count]} transactions instead of $n"
}

# alloc_snapshot FILE PID: the total of allocations the counter in PID reports on SIGUSR2.
lines_in() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
alloc_snapshot() {
  local file=$1 pid=$2 lines i
  lines=$(lines_in "$file")
  kill -USR2 "$pid"
  for ((i = 0; i < 50; i++)); do
    (($(lines_in "$file") > lines)) && break
    sleep 0.1
  done
  tail -1 "$file" | tr ' ' '\n' | awk -F= '$1 == "allocs" { print $2 }' | grep . ||
    fail "no allocation count from PID $pid in $file"
}

# strace_calls NAME PID NS IP PORT N: system calls of PID (all its threads) during a run of N
# transactions, strace attached just for the run. The summary goes to raw/NAME.strace.
strace_calls() {
  local name=$1 target=$2 ns=$3 ip=$4 port=$5 n=$6 i
  strace -c -f -p "$target" -o "$raw_dir/$name.strace" 2>"$raw_dir/$name.strace.log" &
  local tracer=$!
  started+=("$tracer")
  for ((i = 0; i < 100; i++)); do
    grep -qs "attached" "$raw_dir/$name.strace.log" && break
    sleep 0.1
  done
  counted_rr "$name" "$ns" "$ip" "$port" "$n"
  kill -INT "$tracer"
  wait "$tracer" 2>/dev/null || true
  awk '$NF == "total" { print $4 }' "$raw_dir/$name.strace" | grep . ||
    fail "no strace summary in $raw_dir/$name.strace"
}

# per_txn_phase REP SIDE: allocations and system calls per transaction of one echo server.
per_txn_phase() {
  local rep=$1 side=$2
  local ns ip port=$((7100 + rep)) server_pid counts=$raw_dir/allocs-$side-$rep.txt
  rm -f "$counts"
  if [[ $side == stack ]]; then
    ns=$ns_t ip=$stack_ip
    start "$ns_t" "$raw_dir/tcpip-echo-txn-$rep.log" "ready" \
      env ALLOC_COUNT_FILE="$counts" LD_PRELOAD="$alloc_count" "$echo_app" --tap tap0 --ip "$stack_ip/24" --port "$port"
    server_pid=$pid
    wait_for_stack
  else
    ns=$ns_a ip=$veth_server_ip
    start "$ns_b" "$raw_dir/tcp-rr-server-txn-$rep.log" "serving" \
      env ALLOC_COUNT_FILE="$counts" LD_PRELOAD="$alloc_count" "$rr_tool" server "$port"
    server_pid=$pid
  fi
  local a0 a1 a2 s1 s2
  a0=$(alloc_snapshot "$counts" "$server_pid")
  counted_rr "allocs-$side-$rep-n1" "$ns" "$ip" "$port" "$txn_n1"
  a1=$(alloc_snapshot "$counts" "$server_pid")
  counted_rr "allocs-$side-$rep-n2" "$ns" "$ip" "$port" "$txn_n2"
  a2=$(alloc_snapshot "$counts" "$server_pid")
  s1=$(strace_calls "syscalls-$side-$rep-n1" "$server_pid" "$ns" "$ip" "$port" "$txn_n1")
  s2=$(strace_calls "syscalls-$side-$rep-n2" "$server_pid" "$ns" "$ip" "$port" "$txn_n2")
  record allocs_per_txn "$side" "$rep" "$(awk -v a=$(((a2 - a1) - (a1 - a0))) -v n=$((txn_n2 - txn_n1)) \
    'BEGIN { printf "%.4f", a / n }')"
  record syscalls_per_txn "$side" "$rep" "$(awk -v c=$((s2 - s1)) -v n=$((txn_n2 - txn_n1)) \
    'BEGIN { printf "%.4f", c / n }')"
  stop "$server_pid"
}

for ((rep = 1; rep <= reps; rep++)); do
  echo "e2e: [$rep/$reps] idle CPU (${seconds} s each with no traffic)"
  idle_cpu_of idle_cpu "$rep" "$raw_dir/tcpip-echo-idle-$rep.log" "ready" \
    "$echo_app" --tap tap0 --ip "$stack_ip/24" --port 7
  idle_cpu_of idle_cpu_perf "$rep" "$raw_dir/tcpip-perf-idle-$rep.log" "Server listening" \
    "$perf" -s --tap tap0 --ip "$stack_ip/24"
  idle_cpu_of idle_cpu_httpd "$rep" "$raw_dir/tcpip-httpd-idle-$rep.log" "ready" \
    "$httpd_app" --tap tap0 --ip "$stack_ip/24" --port 80
  echo "e2e: [$rep/$reps] allocations and system calls per transaction ($txn_n1 and $txn_n2 transactions)"
  per_txn_phase "$rep" stack
  per_txn_phase "$rep" kernel
done
# ---- 5. scale_2q: two queues against one (issue 15) ----
# Our stack on a second, multiqueue TAP (tapmq in the TAP's namespace, the kernel at 10.97.0.1,
# our stack at 10.97.0.2): tcpip-perf -s and tcpip-httpd with --queues 1 (pinned to cpu 0 with
# taskset) and --queues 2 (one shard on each of cpus 0 and 1, pinned by the app), against the same
# clients in the same repetition: iperf3 -c -P 4, and wrk with 8 keep-alive connections asking for
# a 64-byte file. Beside them the kernel's own figure for the same clients across the veth pair,
# its server pinned to cpu 0 and then to cpus 0-1: iperf3 -s (3.12: one thread, so only the
# kernel's own work can use the second core), and nginx with 1 worker on cpu 0 / 2 workers, one on
# each core. The clients are not pinned: they share both cores with the server (and with the
# kernel's softirq work, which runs where the packets are sent). Rows: scale_tput_1q/_2q and
# scale_rr8_1q/_2q (stack and kernel figures), and scale_2q / scale_2q_rr8, the 2-over-1 ratio of
# each repetition (stack: two shards over one; kernel: two cores over one), whose target (>= 1.5)
# applies to our stack's own ratio.
scale_phase() {
  ninja -C build-release apps/tcpip-httpd >/dev/null || fail "could not build apps/tcpip-httpd"
  local httpd=build-release/apps/tcpip-httpd mq_ip=10.97.0.2
  ip -n "$ns_t" tuntap add dev tapmq mode tap multi_queue
  ip -n "$ns_t" addr add 10.97.0.1/24 dev tapmq
  ip -n "$ns_t" link set tapmq up
  local www=$raw_dir/scale-www
  mkdir -p "$www"
  printf '%063d\n' 0 >"$www/r.txt"
  chmod -R a+rX "$www"
  local nginx_dir=$raw_dir/scale-nginx
  mkdir -p "$nginx_dir"

  # wrk_rate NAME NAMESPACE URL: 8 connections, 2 client threads; sets $rate (requests/s).
  wrk_rate() {
    client "$2" wrk -t 2 -c 8 -d "${seconds}s" "$3" >"$raw_dir/$1.txt" 2>&1 || fail "wrk run $1 failed"
    rate=$(awk '/^Requests\/sec:/ { print $2 }' "$raw_dir/$1.txt")
    [[ -n $rate ]] || fail "wrk run $1 printed no Requests/sec (see $raw_dir/$1.txt)"
    grep -q "Non-2xx" "$raw_dir/$1.txt" && fail "wrk run $1 got error responses (see $raw_dir/$1.txt)"
    return 0
  }
  # nginx_conf WORKERS AFFINITY: a minimal nginx serving $www on 10.99.0.2:8080 in $nginx_dir.
  nginx_conf() {
    cat >"$nginx_dir/nginx-$1.conf" <<CONF
user root;
worker_processes $1;
worker_cpu_affinity $2;
pid $nginx_dir/nginx-$1.pid;
error_log $nginx_dir/error-$1.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  server { listen $veth_server_ip:8080; root $www; }
}
CONF
  }
  nginx_conf 1 "01"
  nginx_conf 2 "01 10"

  local rep q pinned wrap tput1 tput2 rate1 rate2 kt1 kt2 kr1 kr2 shard_pid
  for ((rep = 1; rep <= reps; rep++)); do
    for q in 1 2; do
      echo "e2e: [$rep/$reps] scale: our stack, $q queue(s)"
      wrap=()
      ((q == 1)) && wrap=(taskset -c 0)
      start "$ns_t" "$raw_dir/scale-perf-${q}q-$rep.log" "Server listening" "${wrap[@]}" \
        "$perf" -s --stats --queues "$q" --tap tapmq --ip "$mq_ip/24"
      shard_pid=$pid
      ip netns exec "$ns_t" ping -c 1 -W 1 "$mq_ip" >/dev/null 2>&1 || fail "our stack at $mq_ip does not answer ping"
      iperf_run "scale_tput_${q}q-stack-$rep" "$ns_t" "$mq_ip" -P 4
      record "scale_tput_${q}q" stack "$rep" "$gbits"
      ((q == 1)) && tput1=$gbits || tput2=$gbits
      stop "$shard_pid"
      start "$ns_t" "$raw_dir/scale-httpd-${q}q-$rep.log" "ready" "${wrap[@]}" \
        "$httpd" --queues "$q" --root "$www" --tap tapmq --ip "$mq_ip/24" --tcp-log-entries 0
      shard_pid=$pid
      ip netns exec "$ns_t" ping -c 1 -W 1 "$mq_ip" >/dev/null 2>&1 || fail "our stack at $mq_ip does not answer ping"
      wrk_rate "scale_rr8_${q}q-stack-$rep" "$ns_t" "http://$mq_ip/r.txt"
      record "scale_rr8_${q}q" stack "$rep" "$rate"
      ((q == 1)) && rate1=$rate || rate2=$rate
      stop "$shard_pid"
    done
    for q in 1 2; do
      echo "e2e: [$rep/$reps] scale: the kernel, server on $q core(s)"
      pinned=0
      ((q == 2)) && pinned=0,1
      start "$ns_b" "$raw_dir/scale-iperf3-${q}c-$rep.log" "Server listening" \
        taskset -c "$pinned" iperf3 -s --forceflush -B "$veth_server_ip" -p 5301
      shard_pid=$pid
      iperf_run "scale_tput_${q}q-kernel-$rep" "$ns_a" "$veth_server_ip" -P 4 -p 5301
      record "scale_tput_${q}q" kernel "$rep" "$gbits"
      ((q == 1)) && kt1=$gbits || kt2=$gbits
      stop "$shard_pid"
      ip netns exec "$ns_b" nginx -p "$nginx_dir" -e "$nginx_dir/error-start.log" -c "$nginx_dir/nginx-$q.conf" -g 'daemon off;' \
        >"$raw_dir/scale-nginx-${q}c-$rep.log" 2>&1 &
      shard_pid=$!
      started+=("$shard_pid")
      local i
      for ((i = 0; i < 50; i++)); do
        ip netns exec "$ns_a" curl -sf -o /dev/null --max-time 1 "http://$veth_server_ip:8080/r.txt" && break
        sleep 0.1
      done
      wrk_rate "scale_rr8_${q}q-kernel-$rep" "$ns_a" "http://$veth_server_ip:8080/r.txt"
      record "scale_rr8_${q}q" kernel "$rep" "$rate"
      ((q == 1)) && kr1=$rate || kr2=$rate
      stop "$shard_pid"
    done
    record scale_2q stack "$rep" "$(awk -v a="$tput2" -v b="$tput1" 'BEGIN { printf "%.4f", a / b }')"
    record scale_2q kernel "$rep" "$(awk -v a="$kt2" -v b="$kt1" 'BEGIN { printf "%.4f", a / b }')"
    record scale_2q_rr8 stack "$rep" "$(awk -v a="$rate2" -v b="$rate1" 'BEGIN { printf "%.4f", a / b }')"
    record scale_2q_rr8 kernel "$rep" "$(awk -v a="$kr2" -v b="$kr1" 'BEGIN { printf "%.4f", a / b }')"
  done
  ip -n "$ns_t" link del tapmq
}
if (($(nproc) >= 2)); then
  scale_phase
else
  echo "e2e: scale_2q needs two CPUs; this machine has $(nproc): row left out" >&2
fi

# ---- results ----

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
"$python" "$report" report "$measurements" "$out" \
  "date=$started_at" "commit=$commit" "kernel=$(uname -r)" "nproc=$(nproc)" \
  "cpu=${cpu_model:-unknown}" "reps=$reps" "seconds=$seconds" "smoke=$smoke" \
  "iperf3=$(iperf3 --version | awk 'NR == 1 { print $2 }')" "lwip=$(pkg-config --modversion lwip 2>/dev/null || echo unknown)" ||
  fail "the report could not be written"
echo
echo "e2e: $out/results.json"
echo "e2e: $out/results.csv"
echo "e2e: $out/results.png"
