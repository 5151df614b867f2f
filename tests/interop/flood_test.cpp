// Floods and exhaustion against tcpip-echo, the Linux kernel as the peer (issue 13, part 4), each
// bounded in count and time:
//
//   - a SYN flood: 5,000 spoofed SYNs in 2 s (tests/interop/syn_flood.cpp) with the SYN backlog at
//     its default, while a real kernel client connects and echoes a line; SYN cookies (RFC 4987
//     3.6) are what lets it in, so the stack's syn_cookies_sent must count past zero;
//   - 10,000 concurrent established connections, and the memory they cost: tcpip-echo's RSS per
//     idle connection, beside the kernel's own cost for the same connections (its slab, measured
//     the same way against a small python3 echo server);
//   - the connection limit (--max-connections 100): the 101st SYN is dropped, as Linux drops a SYN
//     it has no room for, so the client times out rather than being refused.
//
// The kernel-side programs are python3 scripts run with `ip netns exec`; their arguments come in
// argv, and they print key=value results that value_of() reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr int kPort = 7;

std::optional<double> double_of(const std::string& output, const std::string& key) {
    std::size_t at = 0;
    while ((at = output.find(key + "=", at)) != std::string::npos) {
        if (at == 0 || output[at - 1] == ' ' || output[at - 1] == '\n') return std::atof(output.c_str() + at + key.size() + 1);
        at += key.size();
    }
    return std::nullopt;
}

// The SYN flood tool: meson passes its path (it is built beside this test).
std::string syn_flood_path() {
    const char* path = std::getenv("TCPIP_SYN_FLOOD");
    return path ? path : "build/tests/interop/syn-flood";
}

// Starts the flood tool, waits `start_after` seconds, then connects with the kernel's TCP and
// echoes a line, trying again until `budget` seconds after the flood started (each attempt may
// take 3 s: the kernel retransmits its SYN after 1 s and 3 s). Prints the tool's line and
// "connected_at=S echo_ok=0|1 attempts=N flood_seconds=S" (times from the flood's start).
//   argv: tool host port count seconds start_after budget
constexpr const char* kFloodAndConnect = R"(
import socket, subprocess, sys, time
tool, host, port, count, seconds, start_after, budget = sys.argv[1:8]
port, start_after, budget = int(port), float(start_after), float(budget)
t0 = time.monotonic()
flood = subprocess.Popen([tool, '--to', '%s:%d' % (host, port), '--from', '198.18.0.0/15',
                          '--count', count, '--seconds', seconds],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(start_after)
line = b'a real client, during the flood\n'
connected_at, echo_ok, attempts, error = -1.0, 0, 0, ''
while not echo_ok and time.monotonic() - t0 < budget:
    attempts += 1
    try:
        s = socket.create_connection((host, port), timeout=max(0.2, min(3.0, budget - (time.monotonic() - t0))))
        connected_at = time.monotonic() - t0
        s.settimeout(5)
        s.sendall(line)
        got = b''
        while not got.endswith(b'\n'):
            b = s.recv(100)
            if not b:
                break
            got += b
        echo_ok = int(got == line)
        s.close()
    except OSError as e:
        error = repr(e)
out, _ = flood.communicate(timeout=float(seconds) + 5)
print(out.strip())
print('connected_at=%.3f echo_ok=%d attempts=%d flood_seconds=%s last_error=%s' %
      (connected_at, echo_ok, attempts, seconds, error or '-'))
)";

// Opens N connections to host:port (at most `in_flight` handshakes at a time, so the listener's
// queues never overflow), echoes one byte on every one (`in_flight` at a time), holds them while it reads the memory
// figures, then closes them. Reads VmRSS of process `pid` (the server) and the kernel's slab
// (Slab: in /proc/meminfo, and the TCP socket cache in /proc/slabinfo) before and while holding.
// Then, if `sample` > 0, moves `sample_kib` KiB each way through the first `sample` connections
// (64 KiB at a time) and reads the server's VmRSS again once they are idle: what a connection
// that has carried data costs at rest.
// Also reads the TAP's tx_dropped (frames the kernel could not queue to the app) at each step,
// when `tap` names one (sysfs inside the namespace).
//   argv: host port n in_flight pid budget sample sample_kib tap
constexpr const char* kHoldConnections = R"(
import resource, selectors, socket, sys, time
host, port, n, in_flight, pid, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
sample, sample_kib, tap = int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
def tap_dropped():
    try:
        with open('/sys/class/net/%s/statistics/tx_dropped' % tap) as f:
            return int(f.read())
    except OSError:
        return -1
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def field(path, name):
    with open(path) as f:
        for line in f:
            if line.startswith(name):
                return int(line.split()[1])
    return -1
def tcp_cache():
    # /proc/slabinfo: name active_objs num_objs objsize objperslab pagesperslab ... slabdata active_slabs num_slabs
    with open('/proc/slabinfo') as f:
        for line in f:
            p = line.split()
            if p and p[0] == 'TCP':
                return int(p[1]), int(p[3])
    return -1, 0
deadline = time.monotonic() + budget
drop0 = tap_dropped()
rss0, vsz0, slab0, (tcp0, tcp_size) = (field('/proc/%d/status' % pid, 'VmRSS:'), field('/proc/%d/status' % pid, 'VmSize:'),
                                        field('/proc/meminfo', 'Slab:'), tcp_cache())
sel = selectors.DefaultSelector()
conns, pending, started, failed, error = [], 0, 0, 0, '-'
t0 = time.monotonic()
while (started < n or pending) and time.monotonic() < deadline:
    while started < n and pending < in_flight:
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, port))
        sel.register(s, selectors.EVENT_WRITE)
        pending += 1
        started += 1
    for key, _ in sel.select(timeout=0.5):
        s = key.fileobj
        sel.unregister(s)
        pending -= 1
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e == 0:
            conns.append(s)
        else:
            failed += 1
            error = 'errno %d' % e
            s.close()
connect_seconds = time.monotonic() - t0
drop1 = tap_dropped()
t1 = time.monotonic()
echoed = 0
for first in range(0, len(conns), in_flight):  # in batches: 10,000 segments at once would overflow the TAP's queue
    batch = conns[first:first + in_flight]
    for s in batch:
        s.send(b'x')
        sel.register(s, selectors.EVENT_READ)
    waiting = len(batch)
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            waiting -= 1
            try:
                echoed += s.recv(10) == b'x'
            except OSError as e:
                error = repr(e)
    for s in batch:
        if s in sel.get_map():
            sel.unregister(s)
echo_seconds = time.monotonic() - t1
drop2 = tap_dropped()
time.sleep(0.5)  # idle: nothing in flight, every echo read
rss1, vsz1, slab1, (tcp1, _) = (field('/proc/%d/status' % pid, 'VmRSS:'), field('/proc/%d/status' % pid, 'VmSize:'),
                                 field('/proc/meminfo', 'Slab:'), tcp_cache())
print('connected=%d failed=%d echoed=%d connect_seconds=%.2f echo_seconds=%.2f' %
      (len(conns), failed, echoed, connect_seconds, echo_seconds))
print('rss_before_kib=%d rss_holding_kib=%d vsz_before_kib=%d vsz_holding_kib=%d slab_before_kib=%d slab_holding_kib=%d' %
      (rss0, rss1, vsz0, vsz1, slab0, slab1))
print('tcp_objs_before=%d tcp_objs_holding=%d tcp_obj_size=%d last_error=%s' % (tcp0, tcp1, tcp_size, error))
if tap != '-':
    print('tap_tx_dropped: connect=%d echo=%d' % (drop1 - drop0, drop2 - drop1))
sys.stdout.flush()
if sample:
    chunk, carried = b'z' * 65536, 0
    for s in conns[:sample]:
        s.setblocking(True)
        s.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            for _ in range(sample_kib // 64):
                s.sendall(chunk)
                got = 0
                while got < len(chunk):
                    b = s.recv(len(chunk) - got)
                    if not b:
                        raise OSError('closed')
                    got += len(b)
                carried += 1
        except OSError as e:
            error = repr(e)
    time.sleep(0.5)
    print('sampled=%d carried_kib=%d rss_after_traffic_kib=%d last_error=%s' %
          (min(sample, len(conns)), carried * 64, field('/proc/%d/status' % pid, 'VmRSS:'), error))
    sys.stdout.flush()
for s in conns:
    s.close()
)";

// The kernel's echo server for the comparison: python3 with selectors, as small as an echo server
// gets, so that what it costs is the kernel's sockets (and a little Python per connection).
//   argv: host port
constexpr const char* kKernelEchoServer = R"(
import resource, selectors, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(4096)
l.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(l, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is l:
            while True:
                try:
                    c, _ = l.accept()
                except BlockingIOError:
                    break
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
            continue
        c = key.fileobj
        try:
            data = c.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            data = b''
        if data:
            c.send(data)
        else:
            sel.unregister(c)
            c.close()
)";

// N connections at once, each given until `wait` seconds to complete (the kernel retransmits a
// dropped SYN after 1 s and 3 s); those still in progress then have timed out. Echoes one byte on
// each connection made. Prints "connected=N refused=N timed_out=N other=N echoed=N".
//   argv: host port n wait
constexpr const char* kConnectMany = R"(
import errno, selectors, socket, sys, time
host, port, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sel = selectors.DefaultSelector()
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((host, port))
    sel.register(s, selectors.EVENT_WRITE)
conns, refused, other = [], 0, 0
deadline = time.monotonic() + wait
while len(sel.get_map()) and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
        s = key.fileobj
        sel.unregister(s)
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e == 0:
            conns.append(s)
        elif e == errno.ECONNREFUSED:
            refused += 1
        else:
            other += 1
timed_out = len(sel.get_map())
echoed = 0
for s in conns:
    s.setblocking(True)
    s.settimeout(5)
    try:
        s.sendall(b'y')
        echoed += s.recv(10) == b'y'
    except OSError:
        pass
print('connected=%d refused=%d timed_out=%d other=%d echoed=%d' % (len(conns), refused, timed_out, other, echoed))
)";

// What the queue floods below share (prepended to each of their scripts): the server's VmRSS,
// sampled while a flood runs (the peak) and once it has settled; RFC 1071 checksums; IPv4 and UDP
// headers built by hand for a raw socket (IPPROTO_RAW implies IP_HDRINCL: the source is ours to
// choose); and a pacer that spreads `count` packets over `seconds` and never runs past
// `seconds` + 1. ENOBUFS (the device queue full for a moment) is counted and retried.
constexpr const char* kQueueFloodPrelude = R"(
import os, random, socket, struct, sys, time
def rss(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1
class Memory:
    def __init__(self, pid):
        self.pid = pid
        self.before = self.peak = rss(pid)
    def sample(self):
        self.peak = max(self.peak, rss(self.pid))
    def report(self, settle):
        for _ in range(int(settle / 0.1)):
            time.sleep(0.1)
            self.sample()
        after = rss(self.pid)
        print('rss_before_kib=%d rss_peak_kib=%d rss_after_kib=%d' % (self.before, max(self.peak, after), after))
def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip_header(src, dst, proto, payload_len, ident, flags_offset):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + payload_len, ident, flags_offset, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:]
def l4_checksum(src, dst, proto, segment):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, proto, len(segment))
    return csum(pseudo + segment)
def udp(src, dst, sport, dport, payload, length=None):
    length = length or 8 + len(payload)
    c = l4_checksum(src, dst, 17, struct.pack('!HHHH', sport, dport, length, 0) + payload) or 0xffff
    return struct.pack('!HHHH', sport, dport, length, c) + payload
class Pacer:
    def __init__(self, count, seconds, memory):
        self.count, self.seconds, self.memory = count, seconds, memory
        self.sent = self.errors = 0
        self.t0 = time.monotonic()
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    def over(self):
        return self.sent >= self.count or time.monotonic() - self.t0 > self.seconds + 1
    def send(self, packet, dst):
        due = self.t0 + self.seconds * self.sent / self.count
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        while not self.over():
            try:
                self.raw.sendto(packet, (dst, 0))
                self.sent += 1
                break
            except OSError:
                self.errors += 1
                time.sleep(0.0002)
        if self.sent % 100 == 0:
            self.memory.sample()
    def elapsed(self):
        return time.monotonic() - self.t0
)";

// A fragment flood from the kernel's address: `count` first fragments (offset 0, more fragments,
// 1,480 bytes each: a UDP header to `port` and the start of a 2,968-byte datagram) each with its
// own IP ID, never completed; then `count` / 4 pairs of overlapping fragments (offset 0 and
// 1,472, which overlaps it by 8 bytes); then 32 datagrams of 64 eight-byte fragments each, every
// other 8 bytes, so never whole (many small fragments per datagram). Prints
// "frags_sent=N first=N overlapping=N tiny=N errors=N seconds=S" and the memory line.
//   argv: src dst port pid count seconds
constexpr const char* kFragmentFlood = R"(
src, dst, port, pid, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
memory = Memory(pid)
first_n, pairs, tiny = count, count // 4, 32 * 64
pacer = Pacer(first_n + 2 * pairs + tiny, seconds, memory)
MF = 0x2000
body = udp(src, dst, 40000, port, b'f' * 1472, length=2968)
for i in range(first_n):
    if pacer.over(): break
    ident = 1 + i
    pacer.send(ip_header(src, dst, 17, len(body), ident, MF) + body, dst)
for i in range(pairs):
    if pacer.over(): break
    ident = 30000 + i
    pacer.send(ip_header(src, dst, 17, len(body), ident, MF) + body, dst)
    pacer.send(ip_header(src, dst, 17, 800, ident, MF | (1472 // 8)) + b'o' * 800, dst)
for d in range(32):
    for k in range(64):
        if pacer.over(): break
        pacer.send(ip_header(src, dst, 17, 8, 50000 + d, MF | (1 + 2 * k)) + b't' * 8, dst)
print('frags_sent=%d first=%d overlapping=%d tiny=%d errors=%d seconds=%.2f' %
      (pacer.sent, first_n, 2 * pairs, tiny, pacer.errors, pacer.elapsed()))
memory.report(1.0)
)";

// A UDP flood from kernel sockets, as fast as python3 sends (bounded by `count` and `seconds`):
// datagrams alternately to the echo `port` and to `closed_port` (ICMP port unreachable, which the
// stack rate-limits); every tenth to the echo port is 6,000 bytes (fragmented on the way, so
// reassembled, echoed, and fragmented back). The echoes are never read (the kernel drops them
// when the socket's buffer is full). Prints "udp_sent=N to_echo=N to_closed=N errors=N seconds=S"
// and the memory line.
//   argv: dst port closed_port pid count seconds
constexpr const char* kUdpFlood = R"(
dst, port, closed, pid, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
memory = Memory(pid)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
small, big = b'u' * 1400, b'U' * 6000
sent = to_echo = to_closed = errors = 0
t0 = time.monotonic()
while sent < count and time.monotonic() - t0 < seconds:
    if sent % 2 == 0:
        data, where = (big if to_echo % 10 == 0 else small), port
    else:
        data, where = small, closed
    try:
        s.sendto(data, (dst, where))
        sent += 1
        if where == port: to_echo += 1
        else: to_closed += 1
    except OSError:
        errors += 1
        time.sleep(0.0002)
    if sent % 200 == 0:
        memory.sample()
print('udp_sent=%d to_echo=%d to_closed=%d errors=%d seconds=%.2f' % (sent, to_echo, to_closed, errors, time.monotonic() - t0))
memory.report(1.0)
)";

// UDP datagrams to the echo `port` from on-link addresses that nobody owns (prefix + first..last,
// spoofed through a raw socket): the stack echoes each, and every echo waits in the ARP pending
// queue for an answer that never comes (`per_source` datagrams of 1,000 bytes from each address,
// more than the per-neighbour bound of 16). After the flood it waits `settle` seconds, long
// enough for every resolution to fail (3 requests, 1 s apart). Prints "arp_flood_sent=N
// sources=N errors=N seconds=S" and the memory line.
//   argv: prefix first last dst port pid per_source seconds settle
constexpr const char* kArpFlood = R"(
prefix, first, last, dst, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
pid, per_source, seconds, settle = int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
memory = Memory(pid)
sources = ['%s%d' % (prefix, h) for h in range(first, last + 1)]
pacer = Pacer(len(sources) * per_source, seconds, memory)
payload = b'a' * 1000
for round in range(per_source):
    for i, src in enumerate(sources):
        if pacer.over(): break
        body = udp(src, dst, 20000 + i, port, payload)
        pacer.send(ip_header(src, dst, 17, len(body), (round * 1000 + i) & 0xffff, 0x4000) + body, dst)
print('arp_flood_sent=%d sources=%d errors=%d seconds=%.2f' % (pacer.sent, len(sources), pacer.errors, pacer.elapsed()))
memory.report(settle)
)";

// A TCP peer in user space that holds a connection to tcpip-echo open while it floods it with
// out-of-order data. It speaks from an on-link address the kernel does not own (`fake_ip`, with a
// made-up MAC) through an AF_PACKET socket on the TAP, answering the stack's ARP requests for that
// address itself: the kernel sees the stack's segments as frames for another host and drops them,
// so it never answers them with a RST (no iptables needed). The dialogue:
//   1. ARP: ask for the stack's MAC (which also teaches the stack ours); SYN (MSS 1460, window
//      scale 7), SYN-ACK, ACK; "before\n" echoed: the connection works.
//   2. `count` segments of 1 to 1,460 bytes at random offsets from rcv_nxt + 1000 to the edge of
//      the window the stack advertised, over `seconds`; bytes [0, 1000) never come, so nothing can
//      be delivered and everything waits out of order (bounded by the receive buffer); one in
//      ten lies beyond the window (out of window, answered with an ACK).
//   3. "after\n" at rcv_nxt (bytes 0..5 of the hole, the rest still missing): echoed, so the
//      connection is still usable; then a RST ends it.
// Prints "handshake=0|1 window=N before_echo=0|1 ooo_sent=N after_echo=0|1 acks_seen=N
// last_ack_ok=0|1 seconds=S" and the memory line.
//   argv: tap fake_ip our_ip port pid count seconds
constexpr const char* kTcpOutOfOrderFlood = R"(
import select
tap, fake_ip, our_ip, port, pid, count, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
memory = Memory(pid)
ETH_P_ALL, ETH_P_ARP, ETH_P_IP, PACKET_OUTGOING = 0x0003, 0x0806, 0x0800, 4
fake_mac = bytes.fromhex('02000000004d')
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((tap, 0))
try:
    sock.setsockopt(263, 23, 1)  # SOL_PACKET, PACKET_IGNORE_OUTGOING (Linux 4.20): not our own frames
except OSError:
    pass
our_mac = b'\xff' * 6
state = {'handshake': 0, 'window': 0, 'before_echo': 0, 'after_echo': 0, 'acks_seen': 0, 'last_ack_ok': 0}
def arp_frame(op, dst_mac, target_mac, target_ip):
    return (dst_mac + fake_mac + struct.pack('!H', ETH_P_ARP) +
            struct.pack('!HHBBH6s4s6s4s', 1, ETH_P_IP, 6, 4, op, fake_mac, socket.inet_aton(fake_ip),
                        target_mac, socket.inet_aton(target_ip)))
def tcp_segment(sport, seq, ack, flags, payload=b'', options=b'', window=65535):
    off = (20 + len(options)) // 4
    h = struct.pack('!HHIIBBHHH', sport, port, seq & 0xffffffff, ack & 0xffffffff, off << 4, flags, window, 0, 0) + options
    c = l4_checksum(fake_ip, our_ip, 6, h + payload)
    seg = h[:16] + struct.pack('!H', c) + h[18:] + payload
    ip = ip_header(fake_ip, our_ip, 6, len(seg), random.randrange(65536), 0x4000)
    return our_mac + fake_mac + struct.pack('!H', ETH_P_IP) + ip + seg
def receive(timeout):
    # One TCP segment from the stack to us: (seq, ack, flags, window, options, payload), or None.
    # ARP requests for fake_ip are answered on the way.
    global our_mac
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return None
        frame, addr = sock.recvfrom(70000)
        if addr[2] == PACKET_OUTGOING or len(frame) < 14:
            continue
        ethertype = struct.unpack('!H', frame[12:14])[0]
        if ethertype == ETH_P_ARP and len(frame) >= 42:
            op = struct.unpack('!H', frame[20:22])[0]
            sender_mac, sender_ip, target_ip = frame[22:28], socket.inet_ntoa(frame[28:32]), socket.inet_ntoa(frame[38:42])
            if sender_ip == our_ip:
                our_mac = sender_mac
            if op == 1 and target_ip == fake_ip:
                sock.send(arp_frame(2, sender_mac, sender_mac, sender_ip))
            continue
        if ethertype != ETH_P_IP or frame[0:6] != fake_mac:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0f) * 4
        if ip[9] != 6 or socket.inet_ntoa(ip[16:20]) != fake_ip:
            continue
        total = struct.unpack('!H', ip[2:4])[0]
        t = ip[ihl:total]
        sport, dport, seq, ack, off, flags, window = struct.unpack('!HHIIBBH', t[:16])
        return seq, ack, flags, window, t[20:(off >> 4) * 4], t[(off >> 4) * 4:]
SYN, ACK, PSH, RST, FIN = 0x02, 0x10, 0x08, 0x04, 0x01
sport = random.randrange(20000, 60000)
iss = random.randrange(1 << 32)
# 1. ARP both ways, then the handshake.
for _ in range(5):
    sock.send(arp_frame(1, b'\xff' * 6, b'\0' * 6, our_ip))
    receive(0.3)
    if our_mac != b'\xff' * 6:
        break
synack = None
for _ in range(5):
    sock.send(tcp_segment(sport, iss, 0, SYN, options=bytes([2, 4, 0x05, 0xb4, 1, 3, 3, 7]), window=65535))
    got = receive(1.0)
    if got and got[2] & (SYN | ACK) == SYN | ACK and got[1] == (iss + 1) & 0xffffffff:
        synack = got
        break
rcv_nxt_peer = 0
if synack:
    state['handshake'] = 1
    opts, ws = synack[4], 0
    i = 0
    while i < len(opts):
        if opts[i] == 0: break
        if opts[i] == 1: i += 1; continue
        if i + 1 >= len(opts) or opts[i + 1] < 2: break
        if opts[i] == 3: ws = opts[i + 2]
        i += opts[i + 1]
    snd_nxt, rcv_nxt_peer = (iss + 1) & 0xffffffff, (synack[0] + 1) & 0xffffffff
    sock.send(tcp_segment(sport, snd_nxt, rcv_nxt_peer, ACK, window=65535 >> 0))
    def echo(line):
        # Sends `line` at snd_nxt; True when the same bytes come back.
        global snd_nxt, rcv_nxt_peer
        sock.send(tcp_segment(sport, snd_nxt, rcv_nxt_peer, ACK | PSH, line))
        got_back, end = b'', time.monotonic() + 3
        while time.monotonic() < end and got_back != line:
            seg = receive(end - time.monotonic())
            if seg is None: break
            seq, ack, flags, window, _, payload = seg
            state['window'] = window << ws
            if payload and seq == rcv_nxt_peer:
                got_back += payload
                rcv_nxt_peer = (rcv_nxt_peer + len(payload)) & 0xffffffff
                sock.send(tcp_segment(sport, (snd_nxt + len(line)) & 0xffffffff, rcv_nxt_peer, ACK))
        snd_nxt = (snd_nxt + len(line)) & 0xffffffff
        return int(got_back == line)
    state['before_echo'] = echo(b'before\n')
    # 2. The out-of-order flood: bytes [0, 1000) from snd_nxt never sent.
    window = max(state['window'], 4096)
    t0, sent = time.monotonic(), 0
    while sent < count and time.monotonic() - t0 < seconds + 1:
        wait = t0 + seconds * sent / count - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        length = random.randrange(1, 1461)
        if sent % 10 == 9:
            offset = window + random.randrange(0, 65536)
        else:
            offset = 1000 + random.randrange(0, max(1, window - 1000 - length))
        sock.send(tcp_segment(sport, snd_nxt + offset, rcv_nxt_peer, ACK, b'o' * length))
        sent += 1
        if sent % 100 == 0:
            memory.sample()
            while True:
                seg = receive(0.001)
                if seg is None: break
                state['acks_seen'] += 1
                state['last_ack_ok'] = int(seg[1] == snd_nxt)
    ooo_seconds = time.monotonic() - t0
    # 3. Still usable: the first bytes of the hole, echoed.
    state['after_echo'] = echo(b'after\n')
    sock.send(tcp_segment(sport, snd_nxt, 0, RST))
    print('ooo_sent=%d ooo_seconds=%.2f' % (sent, ooo_seconds))
print(' '.join('%s=%d' % kv for kv in state.items()))
memory.report(1.0)
)";

// Liveness after a flood, from the kernel: a line echoed over TCP and a datagram over UDP (each
// tried a few times: the TAP's queue may still be draining). Prints "tcp_echo_ok=0|1
// udp_echo_ok=0|1".
//   argv: host port
constexpr const char* kEchoCheck = R"(
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
tcp_ok = udp_ok = 0
for _ in range(5):
    try:
        s = socket.create_connection((host, port), timeout=2)
        s.settimeout(3)
        s.sendall(b'still there?\n')
        got = b''
        while not got.endswith(b'\n'):
            b = s.recv(100)
            if not b: break
            got += b
        s.close()
        if got == b'still there?\n':
            tcp_ok = 1
            break
    except OSError:
        time.sleep(0.2)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1)
for _ in range(5):
    try:
        u.sendto(b'udp still there?', (host, port))
        if u.recvfrom(100)[0] == b'udp still there?':
            udp_ok = 1
            break
    except OSError:
        pass
print('tcp_echo_ok=%d udp_echo_ok=%d' % (tcp_ok, udp_ok))
)";

class FloodInterop : public AppInterop {
protected:
    void SetUp() override {
        // `meson test` sets MALLOC_PERTURB_, which makes glibc fill every allocation: each
        // connection's buffers would then be resident in full (2 x 256 KiB today, 5 GB for 10,000
        // connections) and the RSS figures would describe the test harness, not the app. The apps
        // are measured as they run in use, so their environment goes without it.
        ::unsetenv("MALLOC_PERTURB_");
        AppInterop::SetUp();
    }

    // Liveness: the app answers a ping within about 10 s. Not at once: after a burst (10,000 FINs
    // when a client closes everything) the TAP's queue may overflow and drop the first ping.
    bool answers_ping() {
        for (int i = 0; i < 10; ++i) {
            if (env_->exec({"ping", "-c", "1", "-W", "1", our_ip_}).ok()) return true;
        }
        return false;
    }

    CommandResult python(const char* code, const std::vector<std::string>& args, Duration timeout) {
        std::vector<std::string> argv = {"python3", "-c", code};
        argv.insert(argv.end(), args.begin(), args.end());
        return env_->exec(argv, timeout);
    }

    // A queue flood: kQueueFloodPrelude, then `script`.
    CommandResult queue_flood(const char* script, const std::vector<std::string>& args, Duration timeout) {
        const std::string code = std::string(kQueueFloodPrelude) + script;
        return python(code.c_str(), args, timeout);
    }

    // After a flood: the kernel's ping (plain, then 3,000 bytes: fragmented both ways) and a TCP
    // and a UDP echo. Prints what it saw; the caller asserts on it.
    struct Liveness {
        bool ping = false;
        int fragmented_received = -1;
        bool tcp_echo = false, udp_echo = false;
    };
    Liveness check_liveness(const char* label) {
        Liveness l;
        l.ping = answers_ping();
        CommandResult big = env_->exec({"ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", our_ip_}, Duration::seconds(15));
        l.fragmented_received = parse_ping(big.output).received;
        CommandResult echo = python(kEchoCheck, {our_ip_, std::to_string(kPort)}, Duration::seconds(40));
        l.tcp_echo = value_of(echo.output, "tcp_echo_ok").value_or(0) == 1;
        l.udp_echo = value_of(echo.output, "udp_echo_ok").value_or(0) == 1;
        std::printf("[ %-8s ] after the flood: ping=%d ping_-s_3000_received=%d/3 tcp_echo=%d udp_echo=%d\n", label,
                    l.ping, l.fragmented_received, l.tcp_echo, l.udp_echo);
        return l;
    }

    std::optional<BackgroundCommand> echo_;
};

// The memory line of a queue flood: tcpip-echo's VmRSS before, at its peak during, and after.
struct RssFigures {
    long long before = 0, peak = 0, after = 0;
    long long growth() const { return std::max(peak, after) - before; }
};
RssFigures rss_figures(const std::string& output) {
    return {value_of(output, "rss_before_kib").value_or(0), value_of(output, "rss_peak_kib").value_or(0),
            value_of(output, "rss_after_kib").value_or(0)};
}

// Asserts what every queue flood must leave behind: the stack answering (always), and, outside
// ASan, RSS within `bound_kib` of where it was (its peak during the flood included).
void expect_survived(const char* label, const RssFigures& rss, long long bound_kib, bool ping, int fragmented_received,
                     bool tcp_echo, bool udp_echo) {
    std::printf("[ %-8s ] tcpip-echo RSS before=%lld KiB peak=%lld KiB after=%lld KiB (growth %+lld KiB, bound %lld KiB%s)\n",
                label, rss.before, rss.peak, rss.after, rss.growth(), bound_kib, kAppsUnderAsan ? ", not asserted under ASan" : "");
    EXPECT_GT(rss.before, 0) << label << ": no memory figures";
    if (!kAppsUnderAsan) {
        EXPECT_LT(rss.growth(), bound_kib) << label << ": RSS grew by " << rss.growth() << " KiB";
    }
    EXPECT_TRUE(ping) << label << ": tcpip-echo stopped answering pings";
    EXPECT_GE(fragmented_received, 1) << label << ": no answer to a fragmented ping";
    EXPECT_TRUE(tcp_echo) << label << ": no TCP echo after the flood";
    EXPECT_TRUE(udp_echo) << label << ": no UDP echo after the flood";
}

// Seconds since the previous call (the first call starts the count): where a test's time goes.
double lap() {
    static std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last).count();
    last = now;
    return seconds;
}

// "section.name=value ..." for the counters asked for, from an app's statistics.
std::string counters(const std::string& out, const std::vector<std::pair<std::string, std::string>>& which) {
    std::string line;
    for (const auto& [section, name] : which) {
        const auto value = stat_from_output(out, section, name);
        line += (line.empty() ? "" : " ") + section + "." + name + "=" + (value ? std::to_string(*value) : "?");
    }
    return line;
}

std::uint64_t stat_or(const std::string& out, const std::string& section, const std::string& name, std::uint64_t dflt) {
    return stat_from_output(out, section, name).value_or(dflt);
}

// Stops the app (SIGTERM), expects a clean exit, prints the counters asked for after `label`, and
// returns what it printed: its statistics, for the test's own assertions.
std::string stop_and_report(std::optional<BackgroundCommand>& app, const char* label,
                            const std::vector<std::pair<std::string, std::string>>& which) {
    CommandResult stopped = app->stop();
    app.reset();
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    std::printf("%s %s\n", label, counters(stopped.output, which).c_str());
    return stopped.output;
}

// 5,000 spoofed SYNs in 2 s from 198.18.0.0/15 (RFC 2544's benchmarking range), which is off-link:
// tcpip-echo answers each through its gateway, the kernel, which does not forward and drops the
// SYN-ACKs, as the Internet drops those sent to spoofed sources. So every half-open connection is
// made and kept (its SYN-ACK retransmitted) and the SYN queue, at its default of 256, is full
// after a tenth of a second. (On-link spoofed sources would instead leave the SYN-ACKs waiting for
// ARP: a test of the ARP queue, not of TCP; see syn_flood.cpp.) --no-offload: every checksum is
// verified by the stack, none trusted from the TAP, so rx_bad_checksum checks the tool's SYNs.
TEST_F(FloodInterop, RealClientConnectsDuringSynFloodThanksToCookies) {
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort), "--gateway", kernel_ip_, "--no-offload"});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));

    const std::uint64_t dropped_before = env_->kernel_counter("tx_dropped").value_or(0);
    CommandResult r = python(kFloodAndConnect,
                             {syn_flood_path(), our_ip_, std::to_string(kPort), "5000", "2", "0.5", "10"},
                             Duration::seconds(30));
    // SYNs the kernel could not queue to tcpip-echo (its TAP queue full: a loaded machine).
    const std::uint64_t tap_dropped = env_->kernel_counter("tx_dropped").value_or(0) - dropped_before;
    std::printf("[ flood    ] %skernel tap tx_dropped=%llu\n", r.output.c_str(), static_cast<unsigned long long>(tap_dropped));
    EXPECT_EQ(value_of(r.output, "sent").value_or(-1), 5000) << r.output;
    // The client's echo worked, and it connected while the flood was still going on.
    EXPECT_EQ(value_of(r.output, "echo_ok").value_or(0), 1) << "the real client did not get through: " << r.output;
    const double connected_at = double_of(r.output, "connected_at").value_or(-1);
    EXPECT_GE(connected_at, 0.0) << r.output;
    EXPECT_LT(connected_at, 2.0) << "connected only after the flood: " << r.output;

    // Alive and answering.
    EXPECT_TRUE(answers_ping()) << "tcpip-echo stopped answering pings";
    const std::string out = stop_and_report(
        echo_, "[ flood    ]",
        {{"tcp", "rx_segments"}, {"tcp", "passive_opens"}, {"tcp", "syn_dropped"}, {"tcp", "syn_cookies_sent"},
         {"tcp", "syn_cookies_ok"}, {"tcp", "syn_cookies_failed"}, {"tcp", "tx_segments"},
         {"tcp", "retransmitted_segments"}, {"tcp", "rx_bad_checksum"}, {"ipv4", "rx_bad_checksum"},
         {"ipv4", "tx_no_route"}, {"icmp", "rx_errors"}, {"arp", "tx_requests"}, {"state", "tcp_sockets"}});

    // The tool's SYNs were well formed: all reached TCP (but those the TAP's queue dropped), none
    // failed a checksum.
    EXPECT_GE(stat_or(out, "tcp", "rx_segments", 0) + tap_dropped, 5000u) << out;
    EXPECT_EQ(stat_or(out, "tcp", "rx_bad_checksum", 1), 0u) << out;
    EXPECT_EQ(stat_or(out, "tcp", "rx_malformed", 1), 0u) << out;
    EXPECT_EQ(stat_or(out, "ipv4", "rx_bad_checksum", 1), 0u) << out;
    // The SYN queue overflowed, and SYN cookies answered (RFC 4987 3.6) instead of dropping; the
    // real client came in on one (its SYN arrived when the queue had been full for 0.4 s).
    EXPECT_GT(stat_or(out, "tcp", "syn_cookies_sent", 0), 0u) << "no SYN cookies sent\n" << out;
    EXPECT_GE(stat_or(out, "tcp", "syn_cookies_ok", 0), 1u) << "no connection made from a cookie";
}

// 10,000 established connections held at once, one byte echoed on each; tcpip-echo's RSS per idle
// connection, and the kernel's slab per connection for the same client against a kernel server.
TEST_F(FloodInterop, TenThousandConcurrentConnectionsAndTheirMemory) {
    constexpr int kConnections = 10000;
    constexpr int kSample = 100;  // connections that then carry 320 KiB each way
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort)});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));

    lap();
    CommandResult ours = python(kHoldConnections,
                                {our_ip_, std::to_string(kPort), std::to_string(kConnections), "200",
                                 std::to_string(echo_->pid()), "45", std::to_string(kSample), "320", env_->tap_name()},
                                Duration::seconds(60));
    std::printf("[ ours     ] %s\n", ours.output.c_str());
    EXPECT_EQ(value_of(ours.output, "connected").value_or(-1), kConnections) << ours.output;
    EXPECT_EQ(value_of(ours.output, "echoed").value_or(-1), kConnections) << ours.output;
    const long long rss0 = value_of(ours.output, "rss_before_kib").value_or(0);
    const long long rss1 = value_of(ours.output, "rss_holding_kib").value_or(0);
    const double ours_per_connection = static_cast<double>(rss1 - rss0) / kConnections;
    const long long vsz0 = value_of(ours.output, "vsz_before_kib").value_or(0);
    const long long vsz1 = value_of(ours.output, "vsz_holding_kib").value_or(0);
    const long long rss2 = value_of(ours.output, "rss_after_traffic_kib").value_or(0);
    EXPECT_EQ(value_of(ours.output, "carried_kib").value_or(0), kSample * 320) << ours.output;
    const long long ours_slab = value_of(ours.output, "slab_holding_kib").value_or(0) - value_of(ours.output, "slab_before_kib").value_or(0);

    const double hold_seconds = lap();
    EXPECT_TRUE(answers_ping()) << "tcpip-echo stopped answering pings";
    const double ping_seconds = lap();
    // Frames the kernel dropped because tcpip-echo's TAP queue was full, in all (the close burst
    // included); the client's line above has them by phase.
    std::printf("[ ours     ] kernel tap tx_dropped=%llu in all\n",
                static_cast<unsigned long long>(env_->kernel_counter("tx_dropped").value_or(0)));
    CommandResult stopped = echo_->stop(Duration::seconds(15));
    echo_.reset();
    const double stop_seconds = lap();
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    EXPECT_EQ(stat_or(stopped.output, "tcp_echo", "accepted", 0), static_cast<std::uint64_t>(kConnections)) << stopped.output;

    // The kernel's cost, measured the same way: the same client against a python3 echo server on
    // the kernel's own address. Both ends are kernel sockets there, so the slab grows by two
    // sockets per connection; the server's share is half (the two ends are the same objects).
    auto server = env_->exec_background({"python3", "-c", kKernelEchoServer, kernel_ip_, "7007"});
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 7007)) << "the kernel echo server never listened";
    CommandResult kernel = python(kHoldConnections,
                                  {kernel_ip_, "7007", std::to_string(kConnections), "200", std::to_string(server->pid()), "45", "0", "0", "-"},
                                  Duration::seconds(60));
    server->stop(Duration::seconds(2));
    const double kernel_seconds = lap();
    std::printf("[ timing   ] ours: client %.1f s, first ping answered after %.1f s, stop %.1f s; kernel: %.1f s\n",
                hold_seconds, ping_seconds, stop_seconds, kernel_seconds);
    std::printf("[ kernel   ] %s\n", kernel.output.c_str());
    EXPECT_EQ(value_of(kernel.output, "connected").value_or(-1), kConnections) << kernel.output;
    EXPECT_EQ(value_of(kernel.output, "echoed").value_or(-1), kConnections) << kernel.output;
    const long long slab = value_of(kernel.output, "slab_holding_kib").value_or(0) - value_of(kernel.output, "slab_before_kib").value_or(0);
    const long long tcp_objs = value_of(kernel.output, "tcp_objs_holding").value_or(0) - value_of(kernel.output, "tcp_objs_before").value_or(0);
    const long long tcp_size = value_of(kernel.output, "tcp_obj_size").value_or(0);
    const long long py_rss = value_of(kernel.output, "rss_holding_kib").value_or(0) - value_of(kernel.output, "rss_before_kib").value_or(0);

    std::printf("[ memory   ] tcpip-echo: %.1f KiB RSS per idle connection (%lld -> %lld KiB for %d), %.1f KiB of "
                "address space (VmSize %lld -> %lld KiB); the kernel's slab meanwhile +%lld KiB for its %d client "
                "sockets and our %d eventfds\n",
                ours_per_connection, rss0, rss1, kConnections, static_cast<double>(vsz1 - vsz0) / kConnections, vsz0,
                vsz1, ours_slab, kConnections, kConnections);
    std::printf("[ memory   ] kernel: %.1f KiB slab per socket (Slab: +%lld KiB for %d connections, both ends in the "
                "kernel; TCP cache +%lld objects of %lld bytes = %.1f KiB per socket); the python3 server's own RSS "
                "+%.1f KiB per connection\n",
                static_cast<double>(slab) / (2.0 * kConnections), slab, kConnections, tcp_objs, tcp_size,
                static_cast<double>(tcp_objs * tcp_size) / 1024.0 / (2.0 * kConnections),
                static_cast<double>(py_rss) / kConnections);
    std::printf("[ memory   ] tcpip-echo: after 320 KiB each way through %d of them, +%.1f KiB RSS per such "
                "connection at rest (%lld -> %lld KiB)\n",
                kSample, static_cast<double>(rss2 - rss1) / kSample, rss1, rss2);
    // Loose bounds, now that buffers are allocated when data needs them and released when empty
    // (issue 13, part 2). With both allocated at SYN time (2 x 256 KiB) the first figure was
    // 11 KiB (the pages were never written) but the second 577 KiB: a ring buffer that data has
    // gone round is resident in full.
    if (!kAppsUnderAsan) {  // see kAppsUnderAsan: under ASan the figures are reported, not bounded
        EXPECT_LT(ours_per_connection, 64.0) << "RSS per idle connection";
        EXPECT_LT(static_cast<double>(rss2 - rss1) / kSample, 64.0) << "RSS per idle connection that carried data";
    }
}

// --max-connections 100 and 150 connections at once: 100 are made and echo; the SYNs of the other
// 50 are dropped, as Linux drops a SYN it has no room for (no RST, which would tell the client
// to give up: it retransmits and may get in later), so they time out.
TEST_F(FloodInterop, ConnectionLimitDropsTheSynsBeyondIt) {
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort), "--max-connections", "100"});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));

    CommandResult r = python(kConnectMany, {our_ip_, std::to_string(kPort), "150", "3.5"}, Duration::seconds(30));
    std::printf("[ limit    ] %s\n", r.output.c_str());
    EXPECT_EQ(value_of(r.output, "connected").value_or(-1), 100) << r.output;
    EXPECT_EQ(value_of(r.output, "echoed").value_or(-1), 100) << r.output;
    EXPECT_EQ(value_of(r.output, "timed_out").value_or(-1), 50) << r.output;
    EXPECT_EQ(value_of(r.output, "refused").value_or(-1), 0) << r.output;

    CommandResult stopped = echo_->stop();
    echo_.reset();
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    EXPECT_EQ(stat_or(stopped.output, "tcp_echo", "accepted", 0), 100u) << stopped.output;
    EXPECT_GT(stat_or(stopped.output, "tcp", "connection_limit_dropped", 0), 0u) << stopped.output;
}

// Fragments (RFC 791 3.2, RFC 815): 4,000 first fragments with distinct IP IDs that are never
// completed, 1,000 overlapping pairs and 2,048 tiny fragments with holes, in 3 s from the
// kernel's address. What the stack holds is bounded by ip_reassembly_memory (4 MiB) and
// ip_reassembly_max_datagrams (64): the oldest partial datagram makes way. RSS may grow by those
// 4 MiB and the packet buffers around them, not with the flood: bound 8 MiB.
TEST_F(FloodInterop, FragmentFloodIsBoundedAndTheStackKeepsAnswering) {
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort)});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));

    lap();
    const std::uint64_t dropped_before = env_->kernel_counter("tx_dropped").value_or(0);
    CommandResult r = queue_flood(kFragmentFlood,
                                  {kernel_ip_, our_ip_, std::to_string(kPort), std::to_string(echo_->pid()), "4000", "3"},
                                  Duration::seconds(30));
    const std::uint64_t tap_dropped = env_->kernel_counter("tx_dropped").value_or(0) - dropped_before;
    const double flood_seconds = lap();
    std::printf("[ frags    ] %skernel tap tx_dropped=%llu\n", r.output.c_str(), static_cast<unsigned long long>(tap_dropped));
    EXPECT_EQ(value_of(r.output, "frags_sent").value_or(-1), 4000 + 2000 + 2048) << r.output;
    const RssFigures rss = rss_figures(r.output);
    const Liveness live = check_liveness("frags");
    const double check_seconds = lap();

    const std::string out = stop_and_report(
        echo_, "[ frags    ]",
        {{"ipv4", "rx_fragments"}, {"ipv4", "reasm_ok"}, {"ipv4", "reasm_fails"}, {"ipv4", "reasm_overlap"},
         {"ipv4", "reasm_timeout"}, {"ipv4", "frag_created"}, {"icmp", "tx_echo_replies"}});
    std::printf("[ timing   ] frags: flood %.1f s, checks %.1f s\n", flood_seconds, check_seconds);
    expect_survived("frags", rss, 8 * 1024, live.ping, live.fragmented_received, live.tcp_echo, live.udp_echo);
    // Every flood fragment arrived (but those the TAP's queue dropped) and none completed a
    // datagram: the evictions, the overlaps and the contradictions were counted as failures.
    // (reasm_timeout counts after 30 s, net.ipv4.ipfrag_time, longer than this test: reported.)
    EXPECT_GE(stat_or(out, "ipv4", "rx_fragments", 0) + tap_dropped, 4000u + 2000 + 2048) << out;
    EXPECT_GE(stat_or(out, "ipv4", "reasm_fails", 0) + tap_dropped, 4000u) << out;
    EXPECT_GT(stat_or(out, "ipv4", "reasm_overlap", 0), 0u) << out;
    // The fragmented pings were reassembled, and their replies fragmented.
    EXPECT_GE(stat_or(out, "ipv4", "reasm_ok", 0), 1u) << out;
    EXPECT_GE(stat_or(out, "ipv4", "frag_created", 0), 2u) << out;
}

// UDP: datagrams as fast as python3 sends them for up to 3 s (at most 60,000), alternately to the
// echo port and to a closed port (9). The echo socket's queue is bounded by udp_rcvbuf (208 KiB
// of buffers); ICMP port unreachable by the token bucket (icmp_error_interval, icmp_error_burst),
// so tx_rate_limited must count. Bound 8 MiB.
TEST_F(FloodInterop, UdpFloodIsBoundedAndTheStackKeepsAnswering) {
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort)});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));

    lap();
    const std::uint64_t dropped_before = env_->kernel_counter("tx_dropped").value_or(0);
    CommandResult r = queue_flood(kUdpFlood, {our_ip_, std::to_string(kPort), "9", std::to_string(echo_->pid()), "60000", "3"},
                                  Duration::seconds(30));
    const std::uint64_t tap_dropped = env_->kernel_counter("tx_dropped").value_or(0) - dropped_before;
    const double flood_seconds = lap();
    std::printf("[ udp      ] %skernel tap tx_dropped=%llu\n", r.output.c_str(), static_cast<unsigned long long>(tap_dropped));
    EXPECT_GT(value_of(r.output, "to_closed").value_or(0), 1000) << r.output;
    const RssFigures rss = rss_figures(r.output);
    const Liveness live = check_liveness("udp");
    const double check_seconds = lap();

    const std::string out = stop_and_report(
        echo_, "[ udp      ]",
        {{"udp", "rx_datagrams"}, {"udp", "tx_datagrams"}, {"udp", "rx_no_port"}, {"udp", "rx_queue_full"},
         {"icmp", "tx_dest_unreachable"}, {"icmp", "tx_rate_limited"}, {"ipv4", "reasm_ok"},
         {"ipv4", "reasm_fails"}, {"udp_echo", "rx_datagrams"}, {"udp_echo", "tx_datagrams"},
         {"udp_echo", "tx_errors"}, {"arp", "pending_dropped"}});
    std::printf("[ timing   ] udp: flood %.1f s, checks %.1f s\n", flood_seconds, check_seconds);
    expect_survived("udp", rss, 8 * 1024, live.ping, live.fragmented_received, live.tcp_echo, live.udp_echo);
    EXPECT_GT(stat_or(out, "udp", "rx_no_port", 0), 1000u) << out;
    EXPECT_GT(stat_or(out, "icmp", "tx_rate_limited", 0), 0u) << "ICMP port unreachable not rate-limited\n" << out;
    EXPECT_GT(stat_or(out, "udp", "rx_datagrams", 0), 0u) << out;
}

// ARP pending queues: UDP datagrams to the echo port from 151 on-link addresses nobody owns
// (.100 to .250 of the namespace's /24, spoofed), 40 from each in 3 s. Every echo waits for an
// ARP answer that never comes: the queues are bounded by arp_pending_per_neighbor (16),
// arp_pending_total (256) and their byte bounds (208 KiB per neighbour, 1 MiB in all), so
// pending_queue_full must count, and after 3 unanswered requests (1 s apart) every queued echo is
// dropped (resolve_failed). The kernel's own address, resolved, keeps its answers. Bound 8 MiB.
TEST_F(FloodInterop, ArpPendingFloodIsBoundedAndTheStackKeepsAnswering) {
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort)});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));
    const std::string prefix = our_ip_.substr(0, our_ip_.rfind('.') + 1);

    lap();
    CommandResult r = queue_flood(kArpFlood, {prefix, "100", "250", our_ip_, std::to_string(kPort),
                                              std::to_string(echo_->pid()), "40", "3", "4.5"},
                                  Duration::seconds(30));
    const double flood_seconds = lap();
    std::printf("[ arp      ] %s", r.output.c_str());
    EXPECT_EQ(value_of(r.output, "arp_flood_sent").value_or(-1), 151 * 40) << r.output;
    const RssFigures rss = rss_figures(r.output);
    const Liveness live = check_liveness("arp");
    const double check_seconds = lap();

    const std::string out = stop_and_report(
        echo_, "[ arp      ]",
        {{"arp", "tx_requests"}, {"arp", "resolve_failed"}, {"arp", "pending_dropped"},
         {"arp", "pending_queue_full"}, {"udp_echo", "rx_datagrams"}, {"udp_echo", "tx_datagrams"},
         {"udp", "rx_queue_full"}});
    std::printf("[ timing   ] arp: flood and settling %.1f s, checks %.1f s\n", flood_seconds, check_seconds);
    expect_survived("arp", rss, 8 * 1024, live.ping, live.fragmented_received, live.tcp_echo, live.udp_echo);
    EXPECT_GT(stat_or(out, "arp", "pending_queue_full", 0), 0u) << out;
    EXPECT_GT(stat_or(out, "arp", "pending_dropped", 0), stat_or(out, "arp", "pending_queue_full", 0)) << out;
    EXPECT_GE(stat_or(out, "arp", "resolve_failed", 0), 151u) << out;
}

// TCP out-of-order data: a user-space peer (kTcpOutOfOrderFlood: an address the kernel does not
// own, so the kernel sends no RST) opens a connection and sends 10,000 segments in 2 s at random
// offsets past a hole it never fills. Out-of-order bytes are written into the receive buffer
// (tcp_rcvbuf, 256 KiB) and their ranges bounded in number (Assembler::kMaxRanges), so RSS may
// grow by the buffer, not with the flood: bound 256 KiB + 2 MiB. The connection still echoes
// after it, and the stack still answers everyone else.
TEST_F(FloodInterop, TcpOutOfOrderFloodIsBoundedAndTheConnectionSurvives) {
    auto app = start_echo(*env_, our_ip_, {"--port", std::to_string(kPort)});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));
    const std::string fake_ip = our_ip_.substr(0, our_ip_.rfind('.') + 1) + "77";

    lap();
    CommandResult r = queue_flood(kTcpOutOfOrderFlood, {env_->tap_name(), fake_ip, our_ip_, std::to_string(kPort),
                                                        std::to_string(echo_->pid()), "10000", "2"},
                                  Duration::seconds(40));
    const double flood_seconds = lap();
    std::printf("[ ooo      ] %s", r.output.c_str());
    EXPECT_EQ(value_of(r.output, "handshake").value_or(0), 1) << r.output;
    EXPECT_EQ(value_of(r.output, "before_echo").value_or(0), 1) << r.output;
    // At most 10,000: python3 on a loaded machine may send fewer within the time bound (3 s).
    EXPECT_GE(value_of(r.output, "ooo_sent").value_or(0), 2000) << r.output;
    EXPECT_EQ(value_of(r.output, "after_echo").value_or(0), 1) << "the connection did not survive the flood\n" << r.output;
    EXPECT_GT(value_of(r.output, "acks_seen").value_or(0), 0) << r.output;
    EXPECT_EQ(value_of(r.output, "last_ack_ok").value_or(0), 1) << "the stack's ACK moved past the hole\n" << r.output;
    const RssFigures rss = rss_figures(r.output);
    const Liveness live = check_liveness("ooo");
    const double check_seconds = lap();

    const std::string out = stop_and_report(
        echo_, "[ ooo      ]",
        {{"tcp", "rx_segments"}, {"tcp", "rx_out_of_order"}, {"tcp", "rx_out_of_window"},
         {"tcp", "rx_duplicate"}, {"tcp", "rx_bad_checksum"}, {"tcp", "established_resets"},
         {"tcp_echo", "accepted"}});
    std::printf("[ timing   ] ooo: flood %.1f s, checks %.1f s\n", flood_seconds, check_seconds);
    expect_survived("ooo", rss, 256 + 2 * 1024, live.ping, live.fragmented_received, live.tcp_echo, live.udp_echo);
    EXPECT_GT(stat_or(out, "tcp", "rx_out_of_order", 0), 0u) << out;
    EXPECT_GT(stat_or(out, "tcp", "rx_out_of_window", 0), 0u) << out;
    EXPECT_EQ(stat_or(out, "tcp", "rx_bad_checksum", 1), 0u) << out;
}

}  // namespace
}  // namespace tcpip::interop
