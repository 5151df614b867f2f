#!/usr/bin/env bash
# Records the captures that tests/replay replays, with the Linux kernel as the peer: tcpip-echo in
# a fresh network namespace, seeded (--seed), plain frames (--no-offload), everything it sends and
# receives written with --pcap. Run it again after a change that alters what the stack sends (the
# replay test then says which frame differs first); commit the new captures with the change.
#
#   tests/replay/record.sh [BUILD_DIR]        (as root; BUILD_DIR defaults to build)
#
#   echo-lines.pcap    seed 7: a ping, five lines echoed over TCP with 50 ms pauses, the client's
#                      close and ours, one UDP datagram echoed
#   echo-faults.pcap   seed 11: 40,000 bytes echoed over TCP through the fault injector (4 % loss
#                      each way, 20 ms delay, its seed 6): a fast retransmit, a NewReno partial ACK
#                      and a retransmission timeout
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
here=tests/replay
ns=tcpip-replay-rec-$$
cleanup() {
    [[ -n "${echo_pid:-}" ]] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

# record NAME SEED FAULTS CLIENT...: tcpip-echo with those, the client's commands in the namespace.
record() {
    local name=$1 seed=$2 faults=$3
    shift 3
    ip netns add "$ns"
    ip -n "$ns" tuntap add dev tap0 mode tap
    ip -n "$ns" addr add 10.0.0.1/24 dev tap0
    ip -n "$ns" link set tap0 up
    local args=(--tap tap0 --ip 10.0.0.2/24 --seed "$seed" --no-offload --pcap "$here/$name.pcap")
    [[ -n $faults ]] && args+=(--faults "$faults")
    ip netns exec "$ns" "$build/apps/tcpip-echo" "${args[@]}" >/dev/null 2>&1 &
    echo_pid=$!
    sleep 0.3
    ip netns exec "$ns" ping -c 1 -W 1 10.0.0.2 >/dev/null
    ip netns exec "$ns" timeout 60 python3 "$here/client.py" "$@"
    sleep 0.3
    kill "$echo_pid"
    wait "$echo_pid" || true
    echo_pid=
    ip netns del "$ns"
    echo "$here/$name.pcap: $(stat -c %s "$here/$name.pcap") bytes"
}

record echo-lines 7 "" lines 10.0.0.2 5
record echo-faults 11 "drop=0.04,delay=20,seed=6" bulk 10.0.0.2 40000
