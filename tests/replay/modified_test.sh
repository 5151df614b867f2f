#!/usr/bin/env bash
# A replay must notice a capture that is not what the stack does: it passes on CAPTURE as
# recorded, then fails (exit 1, "DIFFERENT") on copies changed three ways:
#   - one byte of a peer's TCP payload changed (its checksum then fails: the stack drops the
#     segment and does not echo it);
#   - one byte of a payload of ours changed (the echo the stack sends differs from the capture);
#   - the wrong seed (IP IDs and the ISN secret differ);
# and a truncated file is refused with one line and exit 2.
#
#   modified_test.sh TCPIP_REPLAY CAPTURE SEED
set -uo pipefail
replay=$1 capture=$2 seed=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

out=$("$replay" --app echo --no-timestamps --no-pacing --seed "$seed" "$capture") || fail "the capture as recorded does not replay: $out"
echo "as recorded: $out"

# change_payload FROM_US OUT: flips a byte in the middle of the first TCP payload that our stack
# sent (FROM_US=1) or the peer sent (0), found by parsing the pcap records.
change_payload() {
    /usr/bin/python3 - "$capture" "$1" "$2" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
ours = sys.argv[2] == "1"
our_mac = bytes.fromhex("027463700002")
at = 24
while at < len(data):
    incl = struct.unpack_from("<I", data, at + 8)[0]
    frame = at + 16
    eth_src = bytes(data[frame + 6:frame + 12])
    if data[frame + 12:frame + 14] == b"\x08\x00" and data[frame + 23] == 6 and (eth_src == our_mac) == ours:
        ihl = (data[frame + 14] & 15) * 4
        tcp = frame + 14 + ihl
        total = struct.unpack_from(">H", data, frame + 16)[0]
        payload = tcp + (data[tcp + 12] >> 4) * 4
        end = frame + 14 + total
        if end - payload >= 4:
            data[payload + (end - payload) // 2] ^= 0x20
            open(sys.argv[3], "wb").write(data)
            sys.exit(0)
    at = frame + incl
sys.exit("no TCP payload found")
PY
}

expect_difference() {
    local what=$1 file=$2 seed=$3
    out=$("$replay" --app echo --no-timestamps --no-pacing --seed "$seed" "$file")
    rc=$?
    [[ $rc -eq 1 ]] || fail "$what: exit $rc, expected 1: $out"
    grep -q "DIFFERENT" <<<"$out" || fail "$what: no DIFFERENT line: $out"
    grep -q "connections in the replayed stack:" <<<"$out" || fail "$what: no connection state: $out"
    echo "$what: detected: $(head -1 <<<"$out")"
}

change_payload 0 "$work/peer.pcap" || fail "could not change the capture"
expect_difference "a peer's payload byte changed" "$work/peer.pcap" "$seed"
change_payload 1 "$work/ours.pcap" || fail "could not change the capture"
expect_difference "a payload byte of ours changed" "$work/ours.pcap" "$seed"
expect_difference "the wrong seed" "$capture" "$((seed + 1))"

# Not a capture at all: one line and exit 2, not a crash.
head -c 100 "$capture" > "$work/cut.pcap"
out=$("$replay" --app echo --no-timestamps --no-pacing --seed "$seed" "$work/cut.pcap" 2>&1)
rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == *truncated* ]] || fail "a truncated capture: exit $rc: $out"
echo "a truncated capture: $out"
echo PASS
