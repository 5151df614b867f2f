#!/usr/bin/env bash
# Paths benchmark: TCP goodput over loss and delay, our stack beside the Linux kernel on the same
# injected path, measured in one run.
#
#   sudo bench/paths.sh [--runs N] [--seconds S] [--quick] [--losses LIST] [--delays LIST]
#                       [--out DIR] [--no-sim]
#
#   --runs N        runs of every measurement; medians are reported (default 3)
#   --seconds S     length of each transfer (default 6), and at least 100 round trips: a cell
#                   with a 200 ms round trip runs 20 s (six seconds there are 30 round trips,
#                   mostly slow start, and one early loss or timeout decides the whole run)
#   --quick         a short grid: loss 0 and 1 %, delay 1 and 20 ms, 1 run of 3 s, a small simulation
#   --losses LIST   loss percentages, comma-separated (default 0,0.1,1,5)
#   --delays LIST   one-way delays in ms, comma-separated (default 1,20,100); the round trip is twice
#   --out DIR       where the results go (default build-release/paths/YYYYmmdd-HHMMSS/, UTC)
#   --no-sim        skip the seeded simulation (bench/paths_sim.cpp)
#   A smoke test (one cell, one run): bench/paths.sh --quick --losses 1 --delays 20
#
# The path is bench/tcpip-relay: two TAPs joined through the fault injector, the same faults in
# each direction (--delay is one way), so nothing here needs netem. It is started afresh for every
# transfer, seeded with the cell and the run: the transfers of one run (kernel, ours, each variant)
# meet the same losses at the same frames (fresh_path below). Two namespaces of its own,
# named with this script's PID, removed when it ends, however it ends:
#
#   tcpip-paths-a-PID                                              tcpip-paths-b-PID
#   br0 10.77.0.1/24 (kernel A) --+-- ra ==tcpip-relay (faults)== rb 10.77.0.2/24 (kernel B)
#   st1: tcpip-perf -s 10.77.0.3 -+                                  iperf3 -s
#   st2: tcpip-perf -c 10.77.0.4 -+
#
# A Linux bridge joins the relay's TAP (ra) and our stack's TAPs (st1, st2) in namespace A, so the
# kernel's frames and ours cross the same relay and the same faults. The relay's TAPs have no
# offloads: the kernel cuts every TCP segment to the 1500-byte MTU before the relay sees it, and
# our stack's 64 KiB frames are cut by the bridge's output the same way.
#
# For every cell (loss, delay), goodput (what the receiver got, per second) of:
#   a  kernel -> kernel   iperf3 -c in A to iperf3 -s in B: the reference
#   b  stack -> kernel    tcpip-perf -c in A (our stack) to iperf3 -s in B
#   c  kernel -> stack    iperf3 -c in B to tcpip-perf -s in A (our stack)
# and, when tcpip-perf takes the flags, b again with -C cubic, -C reno and --no-sack (a variant
# whose flag tcpip-perf rejects is skipped, with a message saying so). Each cell reports the
# ratios b/a and c/a of the medians. Kernel TCP in both namespaces: CUBIC for the kernel senders
# (iperf3 -C cubic), SACK, timestamps, ECN when asked (tcp_ecn=2), no metrics cache between runs
# (tcp_no_metrics_save=1); the values in force are written to the results.
#
# Then the seeded simulation (build-release/bench/paths-sim): two of our stacks in virtual time
# over a 1 Gbit/s link with 200 ms one-way delay, goodput against the Mathis bound.
#
# Output: DIR/results.json, results.csv, results.png, simulation.csv (drawn by bench/paths_report.py)
# and DIR/raw/ (every iperf3 JSON and log), and a table on stdout. Exit status: 0 when every
# measurement was taken, whatever the figures; 1 when the harness failed or a transfer gave no
# result (the report is still written, that transfer counted as 0); 2 for bad arguments.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."

usage_error() {
  echo "paths: $1 (usage: bench/paths.sh [--runs N] [--seconds S] [--quick] [--losses LIST] [--delays LIST] [--out DIR] [--no-sim])" >&2
  exit 2
}

runs=3 seconds=6 out="" quick=0 sim=1
losses="0,0.1,1,5" delays="1,20,100" losses_given="" delays_given="" runs_given="" seconds_given=""
number_list='^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$'
while (($#)); do
  case "$1" in
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "--runs needs a positive integer"; runs_given=$2; shift 2 ;;
    --seconds) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "--seconds needs a positive integer"; seconds_given=$2; shift 2 ;;
    --losses) [[ ${2:-} =~ $number_list ]] || usage_error "--losses needs percentages like 0,0.1,1"; losses_given=$2; shift 2 ;;
    --delays) [[ ${2:-} =~ $number_list ]] || usage_error "--delays needs milliseconds like 1,20"; delays_given=$2; shift 2 ;;
    --out) [[ -n ${2:-} ]] || usage_error "--out needs a directory"; out=$2; shift 2
      [[ $out == /* ]] || out=$caller_dir/$out ;;
    --quick) quick=1; shift ;;
    --no-sim) sim=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
if ((quick)); then runs=1 seconds=3 losses="0,1" delays="1,20"; fi
runs=${runs_given:-$runs} seconds=${seconds_given:-$seconds}
losses=${losses_given:-$losses} delays=${delays_given:-$delays}
IFS=, read -r -a loss_list <<<"$losses"
IFS=, read -r -a delay_list <<<"$delays"
for l in "${loss_list[@]}"; do
  awk -v l="$l" 'BEGIN { exit !(l <= 100) }' || usage_error "--losses: $l is above 100 %"
done
[[ $(id -u) -eq 0 ]] || { echo "paths: needs root (it creates network namespaces)" >&2; exit 1; }

fail() {
  echo "paths: $*" >&2
  exit 1
}

# ---- build ----

echo "paths: building build-release"
scripts/setup.sh build-release --buildtype=release -Dtests=disabled -Dbench=enabled >/dev/null
ninja -C build-release apps/tcpip-perf bench/tcpip-relay bench/paths-sim >/dev/null ||
  fail "could not build apps/tcpip-perf, bench/tcpip-relay and bench/paths-sim"
perf=build-release/apps/tcpip-perf relay=build-release/bench/tcpip-relay sim_tool=build-release/bench/paths-sim
python=/usr/bin/python3  # Debian's, which sees python3-matplotlib (a pyenv python3 on PATH would not)
report=bench/paths_report.py
source scripts/packages.sh
install_missing paths iperf3 iproute2 iputils-ping python3-matplotlib >/dev/null || exit 1
# The commit the binaries were built from (HEAD may move while a long run goes on).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=${out:-build-release/paths/$(date -u -d "$started_at" +%Y%m%d-%H%M%S)}
raw_dir=$out/raw
mkdir -p "$raw_dir"
measurements=$raw_dir/measurements.tsv
: >"$measurements"

# ---- namespaces ----

id=$$
ns_a="tcpip-paths-a-$id" ns_b="tcpip-paths-b-$id"
kernel_a=10.77.0.1 kernel_b=10.77.0.2 stack_server=10.77.0.3 stack_client=10.77.0.4
started=()  # PIDs of the background processes this script started, and only those

# stop PID: SIGTERM (the apps and the relay then print their counters), SIGKILL after 5 s.
# stop PID: bench/proc_lib.sh
source bench/proc_lib.sh  # (the working directory is the project root here)

cleanup() {
  local pid
  for pid in "${started[@]}"; do stop "$pid"; done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns_a"
ip netns add "$ns_b"
ip -n "$ns_a" link add br0 type bridge
ip -n "$ns_a" link set br0 type bridge stp_state 0 forward_delay 0
for tap in ra st1 st2; do
  ip -n "$ns_a" tuntap add dev "$tap" mode tap
  ip -n "$ns_a" link set "$tap" master br0
done
ip -n "$ns_b" tuntap add dev rb mode tap
ip -n "$ns_a" addr add "$kernel_a/24" dev br0
ip -n "$ns_b" addr add "$kernel_b/24" dev rb
for link in "$ns_a br0" "$ns_a ra" "$ns_a st1" "$ns_a st2" "$ns_a lo" "$ns_b rb" "$ns_b lo"; do
  read -r ns dev <<<"$link"
  ip -n "$ns" link set "$dev" up
done
# The kernel's TCP. The congestion control is chosen per socket (iperf3 -C cubic, TCP_CONGESTION:
# root may pick any algorithm the kernel has), because a new namespace inherits the default of the
# initial one and may set only the algorithms that one allows.
kernel_sysctls=(net.ipv4.tcp_sack=1 net.ipv4.tcp_timestamps=1 net.ipv4.tcp_ecn=2 net.ipv4.tcp_no_metrics_save=1
  net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1)
for ns in "$ns_a" "$ns_b"; do
  ip netns exec "$ns" sysctl -qw "${kernel_sysctls[@]}"
done
kernel_cc=cubic
grep -qw "$kernel_cc" /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null ||
  modprobe "tcp_$kernel_cc" 2>/dev/null || true
grep -qw "$kernel_cc" /proc/sys/net/ipv4/tcp_available_congestion_control ||
  fail "the kernel has no $kernel_cc congestion control ($(cat /proc/sys/net/ipv4/tcp_available_congestion_control))"
kernel_settings="congestion control $kernel_cc (iperf3 -C; namespace default $(ip netns exec "$ns_b" sysctl -n \
  net.ipv4.tcp_congestion_control));$(ip netns exec "$ns_b" sysctl net.ipv4.tcp_sack net.ipv4.tcp_timestamps \
  net.ipv4.tcp_ecn net.ipv4.tcp_no_metrics_save net.ipv4.tcp_rmem net.ipv4.tcp_wmem | tr '\t' ' ' | paste -sd ';')"

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

# reach NAMESPACE ADDRESS: one ping answered (ARP resolved through the path), 20 tries at most.
reach() {
  local i
  for ((i = 0; i < 20; i++)); do
    ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
  done
  fail "$2 does not answer ping from $1 through the relay"
}

# waits until a kernel socket listens on TCP port 5201 in namespace B (iperf3 -s up), 10 s at most.
wait_for_iperf3() {
  local i
  for ((i = 0; i < 200; i++)); do
    ip netns exec "$ns_b" ss -Hltn 'sport = :5201' | grep -q . && return 0
    sleep 0.05
  done
  fail "iperf3 -s never listened in $ns_b"
}

failed_transfers=0
# run_seconds DELAY: a transfer's length at that one-way delay: --seconds, and at least 100 round
# trips (2 x DELAY each).
run_seconds() {
  awk -v s="$seconds" -v d="$1" 'BEGIN { t = int((100 * 2 * d + 999) / 1000); print (t > s ? t : s) }'
}
max_seconds=$seconds
for d in "${delay_list[@]}"; do
  t=$(run_seconds "$d")
  ((t > max_seconds)) && max_seconds=$t
done
client_timeout=$((max_seconds * 3 + 30))  # its own length, connection set-up over a lossy 200 ms path, reporting

# measure NAME VARIANT CELL... RUN COMMAND_NS COMMAND...: one transfer; records its goodput.
# The receiver's count (sum_received) is the goodput: bytes delivered to the application.
measure() {
  local name=$1 variant=$2 loss=$3 delay=$4 run=$5 ns=$6
  shift 6
  local json=$raw_dir/$name.json result mbits
  timeout --kill-after=5 "$client_timeout" ip netns exec "$ns" "$@" >"$json" 2>"$raw_dir/$name.stderr" || true
  if result=$("$python" "$report" iperf3 "$json" 2>"$raw_dir/$name.report"); then
    read -r mbits _ <<<"$result"
  else
    echo "paths: warning: $name: no result ($(head -c 200 "$raw_dir/$name.report")); counted as 0" >&2
    mbits=0
    failed_transfers=$((failed_transfers + 1))
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$loss" "$delay" "$variant" "$run" "$mbits" >>"$measurements"
  printf '  %-9s %10.2f Mbit/s\n' "$variant" "$mbits"
}

# kernel_server: a fresh one-off iperf3 -s in B for each transfer, so a client that went away in
# the middle cannot leave it busy for the next.
kernel_server_pid=""
kernel_server() {
  if [[ -n $kernel_server_pid ]]; then stop "$kernel_server_pid"; fi
  ip netns exec "$ns_b" iperf3 -s -1 -B "$kernel_b" --idle-timeout $((client_timeout + 10)) \
    >"$raw_dir/iperf3-server.log" 2>&1 &
  kernel_server_pid=$!
  started+=("$kernel_server_pid")
  wait_for_iperf3
}

# ---- our side's variants ----
# Flags of tcpip-perf that choose the congestion control and switch SACK off: helpers add them to
# the stack; until the binary takes one, its variant is skipped (it would measure the default).
declare -A variant_flags=([b_cubic]="-C cubic" [b_reno]="-C reno" [b_nosack]="--no-sack")
variants=() skipped=()
for v in b_cubic b_reno b_nosack; do
  # shellcheck disable=SC2086  # the flags are words
  if "$perf" -c 127.0.0.1 ${variant_flags[$v]} --help >/dev/null 2>&1; then
    variants+=("$v")
  else
    echo "paths: skipping variant $v: tcpip-perf does not take '${variant_flags[$v]}' ($("$perf" -c 127.0.0.1 ${variant_flags[$v]} --help 2>&1 | head -1))"
    skipped+=("$v=tcpip-perf rejects '${variant_flags[$v]}'")
  fi
done

# ---- the grid ----

# fresh_path TAG RUN WHO: the cell's path made again for one transfer, its generators seeded with
# the cell and the run alone: every transfer of a run (a, b and its variants, c) meets the same
# losses at the same frames, from the same empty queue. (A sender's first loss in slow start decides
# most of a run at low loss rates: with one generator running on from transfer to transfer, each
# sender met other losses at other moments, and two medians of a few such runs differed by a factor
# of 2 either way by chance; common random numbers compare the TCPs, not their luck.)
relay_pid=""
fresh_path() {
  local tag=$1 run=$2 who=$3
  if [[ -n $relay_pid ]]; then stop "$relay_pid"; fi
  start "$ns_a" "$raw_dir/relay-$tag-$run-$who.log" "relaying" \
    "$relay" --tap-a ra --tap-b rb --netns-b "$ns_b" --loss "$loss" --delay "$delay" --seed $((cell * 1000 + run)) --stats
  relay_pid=$pid
  reach "$ns_a" "$kernel_b"
  reach "$ns_b" "$stack_server"
}

echo "paths: cells loss {$losses} % x delay {$delays} ms one way, $runs run(s) of $seconds s (at least 100 round trips); results in $out"
start "$ns_a" "$raw_dir/tcpip-perf-server.log" "Server listening" \
  "$perf" -s --stats --tap st1 --ip "$stack_server/24" --mac 02:74:63:70:00:03
perf_server_pid=$pid

cell=0
for delay in "${delay_list[@]}"; do
  for loss in "${loss_list[@]}"; do
    cell=$((cell + 1))
    tag="loss${loss}-delay${delay}"
    cell_seconds=$(run_seconds "$delay")
    for ((run = 1; run <= runs; run++)); do
      echo "paths: [cell $cell: loss $loss %, delay $delay ms] run $run/$runs"
      fresh_path "$tag" "$run" a
      kernel_server
      measure "a-$tag-$run" a "$loss" "$delay" "$run" "$ns_a" iperf3 -c "$kernel_b" -t "$cell_seconds" -J -C "$kernel_cc"
      for variant in b "${variants[@]}"; do
        fresh_path "$tag" "$run" "$variant"
        kernel_server
        # shellcheck disable=SC2086
        measure "$variant-$tag-$run" "$variant" "$loss" "$delay" "$run" "$ns_a" \
          "$perf" -c "$kernel_b" -t "$cell_seconds" -J --tap st2 --ip "$stack_client/24" --mac 02:74:63:70:00:04 \
          ${variant_flags[$variant]:-}
      done
      kill -0 "$perf_server_pid" 2>/dev/null || fail "tcpip-perf -s is no longer running (see $raw_dir/tcpip-perf-server.log)"
      fresh_path "$tag" "$run" c
      measure "c-$tag-$run" c "$loss" "$delay" "$run" "$ns_b" iperf3 -c "$stack_server" -t "$cell_seconds" -J -C "$kernel_cc"
    done
    stop "$relay_pid"
    relay_pid=""
  done
done
if [[ -n $kernel_server_pid ]]; then stop "$kernel_server_pid"; fi
stop "$perf_server_pid"

# ---- the simulation ----

sim_json=""
if ((sim)); then
  echo "paths: seeded simulation (two stacks in virtual time, 1 Gbit/s, 200 ms one way)"
  sim_args=(--json "$raw_dir/simulation.json")
  ((quick)) && sim_args+=(--quick)
  timeout 600 "$sim_tool" "${sim_args[@]}" | tee "$raw_dir/simulation.txt" || fail "paths-sim failed (see $raw_dir/simulation.txt)"
  sim_json=$raw_dir/simulation.json
fi

# ---- results ----

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
"$python" "$report" report "$measurements" "$out" "${sim_json:--}" \
  "date=$started_at" "commit=$commit" "kernel=$(uname -r)" "nproc=$(nproc)" \
  "cpu=${cpu_model:-unknown}" "runs=$runs" "seconds=$seconds" "quick=$quick" \
  "iperf3=$(iperf3 --version | awk 'NR == 1 { print $2 }')" \
  "kernel_tcp=$kernel_settings" "path=tcpip-relay, the same loss and one-way delay each way, mtu 1500" \
  "skipped=$(IFS=';'; echo "${skipped[*]:-}")" ||
  fail "the report could not be written"
echo
echo "paths: $out/results.json"
echo "paths: $out/results.csv"
echo "paths: $out/results.png"
((failed_transfers == 0)) || fail "$failed_transfers transfer(s) gave no result (counted as 0 Mbit/s; see $raw_dir)"
