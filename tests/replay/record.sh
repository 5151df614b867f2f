#!/usr/bin/env bash
# Records the captures that tests/replay replays, with the Linux kernel as the peer: the app in a
# fresh network namespace, seeded (--seed), plain frames (--no-offload), unpaced (--no-pacing), everything it sends and
# receives written with --pcap. Some are made with --no-timestamps (the replay is then run with
# it too), some with TCP timestamps, whose TSvals the replay shifts as it shifts the ISN
# (apps/replay/capture.h). Run it again after a change that alters what the stack sends (the
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
#   echo-faults-ts.pcap  seed 13, with TCP timestamps: 60,000 bytes echoed through the fault
#                      injector (5 % loss each way, 20 ms, its seed 12): SACK blocks, a
#                      retransmission of ours, and TSvals from the recording host's clock with the
#                      peer's echoes of them, which the replay shifts
#   perf-server.pcap   seed 17, with TCP timestamps: tcpip-perf -s (its default server, run to
#                      completion, which tcpip-replay --app perf-server runs) and the kernel's iperf3 -c sending
#                      300 KB (-n 300K), then the same reversed (-R -n 200K): the control
#                      exchange, the data both ways, both results messages
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

# record APP NAME SEED FAULTS TS CLIENT...: tcpip-APP with those (APP may carry the app's own
# arguments after its name, "perf -s"; TS: "ts" for TCP timestamps,
# "-" for --no-timestamps), then the client's command in the namespace (client.py's arguments,
# or a shell command after "sh").
record() {
    local app=$1 name=$2 seed=$3 faults=$4 ts=$5
    shift 5
    local app_args
    read -ra app_args <<<"$app"
    if ((${#wanted[@]})) && [[ " ${wanted[*]} " != *" $name "* ]]; then return; fi
    ip netns add "$ns"
    ip -n "$ns" tuntap add dev tap0 mode tap
    ip -n "$ns" addr add 10.0.0.1/24 dev tap0
    ip -n "$ns" link set tap0 up
    # --no-pacing: a paced sender's departures depend on how late its timers ran (meson.build says why).
    local args=("${app_args[@]:1}" --tap tap0 --ip 10.0.0.2/24 --seed "$seed" --no-offload --no-pacing --pcap "$here/$name.pcap")
    [[ -n $faults ]] && args+=(--faults "$faults")
    [[ $ts == ts ]] || args+=(--no-timestamps)
    ip netns exec "$ns" "$build/apps/tcpip-${app_args[0]}" "${args[@]}" >/dev/null 2>&1 &
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

record echo echo-lines 7 "" - lines 10.0.0.2 5
record echo echo-faults 11 "drop=0.04,delay=20,seed=6" - bulk 10.0.0.2 40000
record echo echo-faults-ts 13 "drop=0.05,delay=20,seed=12" ts bulk 10.0.0.2 60000
record httpd httpd-pages 5 "" - sh "curl -sf -o /dev/null http://10.0.0.2/ -o /dev/null http://10.0.0.2/index.html;
    curl -s -o /dev/null http://10.0.0.2/nope; sleep 0.2; curl -sf -o /dev/null -H 'Connection: close' http://10.0.0.2/"
record "perf -s" perf-server 17 "" ts sh "iperf3 -c 10.0.0.2 -w 32K -n 300K >/dev/null && iperf3 -c 10.0.0.2 -w 32K -R -n 200K >/dev/null"
