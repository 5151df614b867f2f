#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target under tests/fuzz/corpus/<target>/.

The frames come from the unit tests' own fixtures (tests/unit/wire/link_ip_fixtures.h and the hex
fixtures of tests/unit/wire/tcp_test.cpp and udp_test.cpp, read from those files, so a fixture
added there is a seed here after one run of this script); each layer's target gets the part of
the frame that its parser reads. The programs for ipv4_reassembly and stack are written here, in
the step encoding their targets decode (reassembly_target.cpp, stack_target.cpp).

    python3 tests/fuzz/make_corpus.py      # rewrites tests/fuzz/corpus (commit the result)
"""
import pathlib
import re
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def array_fixtures(path):
    """`inline constexpr std::uint8_t kName[] = { 0x.., ... };` -> {kName: bytes}."""
    text = path.read_text()
    out = {}
    for name, body in re.findall(r"std::uint8_t (k\w+)\[\] = \{(.*?)\};", text, re.S):
        body = re.sub(r"//[^\n]*", "", body)
        out[name] = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", body))
    return out


def hex_fixtures(path):
    """`const char* const kName = "hex" "hex"...;` -> {kName: bytes}."""
    text = path.read_text()
    out = {}
    for name, body in re.findall(r"const char\* const (k\w+) =(.*?);", text, re.S):
        body = re.sub(r"//[^\n]*", "", body)
        out[name] = bytes.fromhex("".join(re.findall(r'"([0-9a-fA-F ]*)"', body)).replace(" ", ""))
    return out


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(bytes(data))


def u8(v): return struct.pack(">B", v & 0xff)
def u16(v): return struct.pack(">H", v & 0xffff)
def u32(v): return struct.pack(">I", v & 0xffffffff)


def wire():
    frames = array_fixtures(ROOT / "tests/unit/wire/link_ip_fixtures.h")
    tcp = hex_fixtures(ROOT / "tests/unit/wire/tcp_test.cpp")
    udp = hex_fixtures(ROOT / "tests/unit/wire/udp_test.cpp")
    for name, frame in frames.items():
        short = re.sub(r"(?<!^)(?=[A-Z])", "_", name[1:]).lower()
        if name.endswith("Frame"):
            write("ethernet", short, frame)
            payload = frame[14:]
            if frame[12:14] == b"\x08\x06":
                write("arp", short, payload)
                continue
        else:
            payload = frame  # an IPv4 datagram without Ethernet
        write("ipv4", short, payload)
        ihl = (payload[0] & 0x0f) * 4
        if payload[9] == 1:
            write("icmp", short, payload[ihl:])
    for name, seg in tcp.items():
        write("tcp_header", name[1:].lower(), seg)
    for name, dgram in udp.items():
        write("udp", name[1:].lower(), dgram)
    write("udp", "empty_datagram", u16(1234) + u16(53) + u16(8) + u16(0))
    write("tcp_header", "sack_blocks",
          u16(80) + u16(40000) + u32(1) + u32(2) + u8(0x80) + u8(0x10) + u16(1000) + u32(0)
          + b"\x01\x01\x05\x12" + u32(100) + u32(200) + u32(300) + u32(400)
          + b"\x01\x01\x08\x0a" + u32(7) + u32(8))


def reassembly():
    # Header: memory bound selector, max-datagrams selector. A fragment: op (low 3 bits: bit 2
    # MF, bit 1 "small length"; bits 3-4 ident; bit 7 source; op % 8 == 7 is a clock step),
    # offset in 8-byte units (u16), length (u16).
    def frag(ident, offset, length, mf, src=0):
        op = (src << 7) | (ident << 3) | (4 if mf else 0) | 2
        return u8(op) + u16(offset // 8) + u16(length)
    def clock(ms):
        return u8(7) + u16(ms)
    write("ipv4_reassembly", "in_order", u8(4) + u8(7) + frag(1, 0, 1480, True) + frag(1, 1480, 100, False))
    write("ipv4_reassembly", "reversed", u8(4) + u8(7) + frag(2, 1480, 520, False) + frag(2, 0, 1480, True))
    write("ipv4_reassembly", "three_parts_middle_last",
          u8(2) + u8(3) + frag(0, 0, 8, True) + frag(0, 16, 8, False) + frag(0, 8, 8, True))
    write("ipv4_reassembly", "overlap", u8(4) + u8(7) + frag(3, 0, 16, True) + frag(3, 8, 16, False))
    write("ipv4_reassembly", "duplicate", u8(4) + u8(7) + frag(1, 0, 8, True) + frag(1, 0, 8, True) + frag(1, 8, 4, False))
    write("ipv4_reassembly", "timeout", u8(4) + u8(7) + frag(1, 0, 64, True) + clock(31000) + frag(1, 64, 8, False))
    write("ipv4_reassembly", "eviction", u8(0) + u8(1) + frag(0, 0, 64, True) + frag(1, 0, 64, True, 1)
          + frag(2, 0, 64, True) + frag(0, 64, 8, False))


def stack():
    # Step encodings of stack_target.cpp. A templated segment: op (0-3; bit 3 raw seq, bit 4 raw
    # ack, bit 5 urgent), which connection (0 established, 1 SYN-RECEIVED, 2 FIN-WAIT-1,
    # 3 SYN-SENT, 4-5 new connections), flags, seq offset, ack offset, window, options mask,
    # payload length.
    FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
    def seg(which, flags, seq=0, ack=0, window=0x4000, length=0, options=b"\x00", op=0, raw_seq=None):
        out = u8(op | (0x08 if raw_seq is not None else 0)) + u8(which) + u8(flags) + u16(seq) + u16(ack)
        if raw_seq is not None:
            out += u32(raw_seq)
        return out + u16(window) + options + u8(length)
    def clock_ms(ms):
        return u8(5 | 0x08) + u16(ms)
    def app(what, index=0, amount=0, op=6):
        out = u8(op) + u8(what)
        if what % 6 == 5:
            return out
        out += u8(index)
        if what % 6 in (0, 1, 2):
            out += u16(amount)
        return out
    def raw(frame, mode=0):
        return u8(4 | (mode << 3)) + u16(len(frame)) + frame

    write("stack", "established_data", seg(0, ACK | PSH, length=100))
    write("stack", "established_data_read", seg(0, ACK | PSH, length=100) + app(1, 0, 1000))
    write("stack", "peer_closes", seg(0, FIN | ACK) + app(4, 0) + seg(0, ACK, seq=1, ack=1))
    write("stack", "fin_wait_to_time_wait", seg(2, ACK, ack=101) + seg(2, FIN | ACK, ack=0) + clock_ms(61000))
    write("stack", "fin_wait_simultaneous_close", seg(2, FIN | ACK, ack=0) + seg(2, ACK, seq=1, ack=101))
    write("stack", "syn_received_completes", seg(1, ACK, ack=1) + app(5) + app(0, 2, 500))
    write("stack", "syn_sent_synack", seg(3, SYN | ACK, ack=1, raw_seq=0x12345678, options=b"\x01" + u16(1400)))
    write("stack", "out_of_order", seg(0, ACK, seq=200, length=100) + seg(0, ACK, seq=100, length=50)
          + seg(0, ACK, seq=0, length=100))
    write("stack", "reset", seg(0, RST, seq=0))
    write("stack", "retransmissions", app(0, 0, 3000) + clock_ms(250) + clock_ms(500) + clock_ms(1000))
    write("stack", "sack", app(0, 0, 4000) + seg(0, ACK, options=b"\x10" + u8(0) + u16(1000) + u16(500)))
    write("stack", "zero_window", app(0, 0, 6000) + seg(0, ACK, ack=1000, window=0) + clock_ms(300) + clock_ms(600))
    write("stack", "new_connection", seg(4, SYN, options=b"\x07" + u16(1460) + u8(7)) + seg(4, ACK, seq=0, ack=1) + app(5))
    write("stack", "timestamps", seg(0, ACK, length=10, options=b"\x08" + u32(1000) + u32(0)))
    frames = array_fixtures(ROOT / "tests/unit/wire/link_ip_fixtures.h")
    # The ARP request fixture, readdressed: 10.0.0.1 asks who has 10.0.0.2 (us).
    arp = bytearray(frames["kArpRequestFrame"])
    arp[28:32] = bytes([10, 0, 0, 1])
    arp[38:42] = bytes([10, 0, 0, 2])
    write("stack", "raw_arp_request", raw(bytes(arp)))
    # The ping fixture's ICMP message behind our own Ethernet and IPv4 headers: op 140 is a raw
    # step ((140 >> 3) % 3 == 2: headers ours) with protocol choice (140 >> 6) & 3 == 2 (ICMP).
    ping = frames["kPingRequestFrame"][34:]
    write("stack", "raw_ping", u8(140) + u16(len(ping)) + ping)


def apps():
    for name, text in {
        "get": "GET / HTTP/1.1\r\nHost: example\r\n\r\n",
        "head_keep_alive_10": "HEAD /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "absolute_form": "GET http://example.com/a/../b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "percent": "GET /%2e%2e/%41b%20c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "chunked": "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "pipelined": "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    }.items():
        write("http_request", name, text.encode())
    jsons = {
        "params": '{"tcp":true,"omit":0,"time":0,"num":10485760,"blockcount":0,"parallel":2,'
                  '"reverse":true,"len":131072,"pacing_timer":1000,"client_version":"3.12"}',
        "results": '{"cpu_util_total":1.5,"cpu_util_user":0.5,"cpu_util_system":1,"sender_has_retransmits":1,'
                   '"congestion_used":"reno","streams":[{"id":1,"bytes":1048576,"retransmits":0,"jitter":0,'
                   '"errors":0,"packets":0,"start_time":0,"end_time":10.0001}]}',
        "nested": '[1,-2.5e3,"a\\u00e9\\n",true,false,null,{"k":[{}]}]',
    }
    for name, text in jsons.items():
        write("perf_json", name, text.encode())
    write("perf_control", "states", b"\x00" + bytes([1, 2, 4, 9, 10, 11, 12, 13, 14, 15, 16, 0xff, 0xfe]))
    write("perf_control", "cookie", b"\x01" + b"abcdefghijklmnopqrstuvwxyz0123456789" + b"\x00")
    write("perf_control", "length", b"\x02" + u32(130))
    write("perf_control", "params", b"\x03" + jsons["params"].encode())
    write("perf_control", "results", b"\x04" + jsons["results"].encode())


if __name__ == "__main__":
    wire()
    reassembly()
    stack()
    apps()
