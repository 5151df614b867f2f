#!/usr/bin/env bash
# Records the captures that tests/replay replays, with the Linux kernel as the peer: the app in a
# fresh network namespace, seeded (--seed), plain frames (--no-offload), without TCP timestamps
# (--no-timestamps: a TSval is read off the recording host's clock, which the capture does not
# hold, and the replay cannot yet shift it as it shifts the ISN), without pacing (--no-pacing: the
# captures were made before the stack paced; paced departures follow the recording host's timer
# wake-ups, which the replay's clock reproduces only as well as the capture's timestamps), everything
# it sends and receives written with --pcap. Run it again after a change that alters what the stack sends (the
# replay test then says which frame differs first); commit the new captures with the change.
#
#   tests/replay/record.sh [--build DIR] [NAME...]   (as root; DIR defaults to build; all captures
#                                                      unless NAMEs are given)
#
#   echo-lines.pcap    seed 7: a ping, five lines echoed over TCP with 50 ms pauses, the client's
#                      close and ours, one UDP datagram echoed
#   echo-faults.pcap   seed 11: 40,000 bytes echoed over TCP through the fault injector (4 % loss
#                      each way, 20 ms delay, its seed 6): SACK blocks both ways and our stack's
#                      retransmissions (RACK-found losses; with luck a timeout). A capture in
#                      which a timer of ours fired just as a frame arrived may not replay (the
#                      recording's timer ran late): record it again
#   httpd-pages.pcap   seed 5: tcpip-httpd's built-in page: GET / and /index.html and a 404 on one
#                      keep-alive connection (curl closes it), then GET / with "Connection: close"
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
if [[ ${1:-} == --build ]]; then
    build=$2
    shift 2
fi
wanted=("$@")
here=tests/replay
ns=tcpip-replay-rec-$$
cleanup() {
    [[ -n "${echo_pid:-}" ]] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

# record APP NAME SEED FAULTS CLIENT...: tcpip-APP with those, then the client's command in the
# namespace (client.py's arguments, or a shell command after "sh").
record() {
    local app=$1 name=$2 seed=$3 faults=$4
    shift 4
    if ((${#wanted[@]})) && [[ " ${wanted[*]} " != *" $name "* ]]; then return; fi
    ip netns add "$ns"
    ip -n "$ns" tuntap add dev tap0 mode tap
    ip -n "$ns" addr add 10.0.0.1/24 dev tap0
    ip -n "$ns" link set tap0 up
    local args=(--tap tap0 --ip 10.0.0.2/24 --seed "$seed" --no-offload --no-timestamps --no-pacing --pcap "$here/$name.pcap")
    [[ -n $faults ]] && args+=(--faults "$faults")
    ip netns exec "$ns" "$build/apps/tcpip-$app" "${args[@]}" >/dev/null 2>&1 &
    echo_pid=$!
    sleep 0.3
    ip netns exec "$ns" ping -c 1 -W 1 10.0.0.2 >/dev/null
    if [[ $1 == sh ]]; then
        ip netns exec "$ns" timeout 60 sh -c "$2"
    else
        ip netns exec "$ns" timeout 60 python3 "$here/client.py" "$@"
    fi
    sleep 0.3
    kill "$echo_pid"
    wait "$echo_pid" || true
    echo_pid=
    ip netns del "$ns"
    echo "$here/$name.pcap: $(stat -c %s "$here/$name.pcap") bytes"
}

record echo echo-lines 7 "" lines 10.0.0.2 5
record echo echo-faults 11 "drop=0.04,delay=20,seed=6" bulk 10.0.0.2 40000
record httpd httpd-pages 5 "" sh "curl -sf -o /dev/null http://10.0.0.2/ -o /dev/null http://10.0.0.2/index.html;
    curl -s -o /dev/null http://10.0.0.2/nope; sleep 0.2; curl -sf -o /dev/null -H 'Connection: close' http://10.0.0.2/"
