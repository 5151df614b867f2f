#!/usr/bin/env bash
# A network namespace with a persistent TAP, for trying the stack against the Linux kernel by hand.
#
#   scripts/netns.sh up NAME [TAP] [CIDR]   create namespace NAME with TAP (default tap0), the kernel
#                                           side addressed CIDR (default 10.0.0.1/24), link up
#   scripts/netns.sh down NAME              remove the namespace, and the TAP with it
#   scripts/netns.sh exec NAME CMD...       run CMD inside, e.g. ping -c1 10.0.0.2
#
# Our stack attaches to the persistent TAP from inside the namespace, e.g.
#   sudo ip netns exec NAME ./build/apps/tcpip-httpd --tap tap0 --ip 10.0.0.2/24
# (a TAP is opened in the network namespace of the thread that opens it; see drivers/tap_device.h).
# Needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN). Everything lives inside NAME: nothing touches the host's
# interfaces or addresses.
set -euo pipefail

usage() {
    sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
cmd=$1 name=$2
shift 2

case "$cmd" in
    up)
        tap=${1:-tap0}
        cidr=${2:-10.0.0.1/24}
        ip netns add "$name"
        # If a step fails, do not leave a half-made namespace behind.
        trap 'ip netns del "$name" 2>/dev/null || true' ERR
        ip -n "$name" tuntap add dev "$tap" mode tap
        ip -n "$name" addr add "$cidr" dev "$tap"
        ip -n "$name" link set "$tap" up
        ip -n "$name" link set lo up
        trap - ERR
        echo "namespace $name: $tap with $cidr (kernel side); remove with: $0 down $name"
        ;;
    down)
        ip netns del "$name"
        ;;
    exec)
        [[ $# -ge 1 ]] || usage
        exec ip netns exec "$name" "$@"
        ;;
    *)
        usage
        ;;
esac
