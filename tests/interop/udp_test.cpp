// UDP against the Linux kernel: tcpip-echo in a fresh namespace echoes the kernel's datagrams
// (small, fragmented, the largest there is, and a flood where every datagram is accounted for),
// answers a closed port with ICMP port unreachable, drops a bad checksum; tcpip-nc -u exchanges
// lines with socat both ways. The kernel side is python3 (kernel sockets) or socat, run inside
// the namespace with `ip netns exec`.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

std::optional<double> double_of(const std::string& output, const std::string& key) {
    auto at = output.find(key + "=");
    if (at == std::string::npos) return std::nullopt;
    return std::atof(output.c_str() + at + key.size() + 1);
}

// A python3 snippet with the addresses substituted: "{OUR}" and "{KERNEL}".
std::string script(std::string text, const std::string& ours, const std::string& kernel) {
    for (auto [key, value] : {std::pair<std::string, std::string>{"{OUR}", ours}, {"{KERNEL}", kernel}}) {
        for (std::size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
    }
    return text;
}

class UdpEchoInterop : public AppInterop {
protected:
    void SetUp() override {
        AppInterop::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto app = start_echo(*env_, our_ip_);
        ASSERT_TRUE(app) << app.error();
        echo_.emplace(std::move(*app));
        // It answers pings; one UDP echo then shows the UDP socket is there too.
        CommandResult r = python(R"(
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(20):
    s.sendto(b'ready?', ('{OUR}', 7))
    try:
        if s.recv(100) == b'ready?':
            print('up')
            break
    except socket.timeout:
        pass
)");
        ASSERT_NE(r.output.find("up"), std::string::npos) << "tcpip-echo never echoed a datagram\n" << r.output;
    }

    CommandResult python(const std::string& text, Duration timeout = Duration::seconds(20)) {
        return env_->exec({"python3", "-c", script(text, our_ip_, kernel_ip_)}, timeout);
    }

    // Stops tcpip-echo (SIGTERM) and returns what it printed, statistics included.
    std::string stop_echo() {
        CommandResult r = echo_->stop();
        echo_.reset();
        return r.output;
    }

    std::optional<BackgroundCommand> echo_;
};

TEST_F(UdpEchoInterop, DatagramsOfEverySizeComeBackByteForByte) {
    // 1472 is the largest that fits one 1500-byte frame, 1473 the smallest that needs two
    // fragments, 65,507 (65535 - 20 - 8) the largest UDP datagram: 45 fragments each way.
    CommandResult r = python(R"(
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for n in (1, 1472, 1473, 8000, 65507):
    data = bytes((i * 7 + n) % 251 for i in range(n))
    s.sendto(data, ('{OUR}', 7))
    try:
        back, peer = s.recvfrom(70000)
        print('size=%d %s' % (n, 'same' if back == data and peer == ('{OUR}', 7) else 'DIFFERS len=%d' % len(back)))
    except socket.timeout:
        print('size=%d TIMEOUT' % n)
)");
    ASSERT_TRUE(r.ok()) << r.output;
    for (const char* n : {"1", "1472", "1473", "8000", "65507"}) {
        EXPECT_NE(r.output.find("size=" + std::string(n) + " same"), std::string::npos) << "size " << n << "\n" << r.output;
    }
    std::string out = stop_echo();
    EXPECT_GE(stat_from_output(out, "ipv4", "reasm_ok").value_or(0), 3u) << out;     // 1473, 8000, 65507
    EXPECT_GE(stat_from_output(out, "ipv4", "frag_created").value_or(0), 2u + 6 + 45) << out;
}

TEST_F(UdpEchoInterop, ClosedPortBringsConnectionRefused) {
    // Linux reports an ICMP port unreachable about a connected UDP socket's datagram as that
    // socket's error: the next call fails with ECONNREFUSED.
    CommandResult r = python(R"(
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('{OUR}', 9999))
s.settimeout(2)
s.send(b'anyone there?')
try:
    s.recv(100)
    print('result=answered')
except ConnectionRefusedError:
    print('result=ECONNREFUSED')
except socket.timeout:
    print('result=timeout')
)");
    EXPECT_NE(r.output.find("result=ECONNREFUSED"), std::string::npos) << r.output;
    std::string out = stop_echo();
    EXPECT_EQ(stat_from_output(out, "udp", "rx_no_port").value_or(0), 1u) << out;
    EXPECT_EQ(stat_from_output(out, "icmp", "tx_dest_unreachable").value_or(0), 1u) << out;
}

TEST_F(UdpEchoInterop, BadChecksumIsDroppedAndCounted) {
    // A datagram crafted byte by byte and sent through a raw socket (IPPROTO_RAW: we write the
    // IPv4 header, the kernel fills in its checksum), with a UDP checksum that is off by one: no
    // echo. Then the same datagram with the right checksum, from the same port: echoed.
    CommandResult r = python(R"(
import socket, struct
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src, dst = socket.inet_aton('{KERNEL}'), socket.inet_aton('{OUR}')
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(('{KERNEL}', 0))
rx.settimeout(0.5)
sport = rx.getsockname()[1]
payload = b'checksum test'
length = 8 + len(payload)
good = csum(src + dst + struct.pack('!BBH', 0, 17, length) + struct.pack('!HHHH', sport, 7, length, 0) + payload) or 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def send(checksum):
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + length, 0x1234, 0x4000, 64, 17, 0, src, dst)
    raw.sendto(ip + struct.pack('!HHHH', sport, 7, length, checksum) + payload, ('{OUR}', 0))
def echoed():
    try:
        return rx.recv(100) == payload
    except socket.timeout:
        return False
send(good ^ 1 or 1)
print('bad=%s' % ('echoed' if echoed() else 'dropped'))
send(good)
print('good=%s' % ('echoed' if echoed() else 'dropped'))
)");
    EXPECT_NE(r.output.find("bad=dropped"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("good=echoed"), std::string::npos) << r.output;
    std::string out = stop_echo();
    EXPECT_EQ(stat_from_output(out, "udp", "rx_bad_checksum").value_or(0), 1u) << out;
}

TEST_F(UdpEchoInterop, FloodIsEchoedOrCountedAsDropped) {
    // 10,000 datagrams of 64 bytes, sent by the kernel as fast as one python3 loop on a blocking
    // socket can, then read back until a second passes with nothing. Every datagram either comes
    // back or is counted where it was dropped; the drop points on its way, in order:
    //   1. the kernel's send path: the qdisc refusing it (Udp SndbufErrors: with IP_RECVERR off,
    //      Linux swallows the ENOBUFS and counts it there), or the TAP's queue towards our
    //      process being full (tun's ring of txqueuelen frames: the tap's tx_dropped);
    //   2. our stack: the echo socket's receive buffer full (udp rx_queue_full), or a failed send
    //      back (tcpip-echo's udp_echo tx_errors), or the TAP refusing our frame (ethernet
    //      tx_device_errors), or an ARP queue overflow (arp pending_dropped);
    //   3. the kernel's receive path: the TAP dropping our frame (tap rx_dropped) or the python
    //      socket's receive buffer full (Udp RcvbufErrors).
    // python3 counts sendto failures too (a blocking socket should have none). Nothing else runs
    // in the namespace (IPv6 is off), so the before/after differences are this flood's alone.
    auto tx_dropped_before = env_->kernel_counter("tx_dropped");
    auto rx_dropped_before = env_->kernel_counter("rx_dropped");
    ASSERT_TRUE(tx_dropped_before && rx_dropped_before);
    CommandResult r = python(R"(
import socket, time
def snmp():
    lines = [l.split() for l in open('/proc/net/snmp') if l.startswith('Udp:')]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))
N = 10000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('{KERNEL}', 0))
before = snmp()
payload = b'f' * 64
send_errors = 0
start = time.monotonic()
for i in range(N):
    try:
        s.sendto(payload, ('{OUR}', 7))
    except OSError:
        send_errors += 1
send_seconds = time.monotonic() - start
s.settimeout(1.0)
received = 0
try:
    while received < N:
        if s.recv(2048) == payload:
            received += 1
except socket.timeout:
    pass
after = snmp()
print('received=%d send_errors=%d rcvbuf_errors=%d sndbuf_errors=%d send_rate=%d' % (
    received, send_errors, after['RcvbufErrors'] - before['RcvbufErrors'],
    after['SndbufErrors'] - before['SndbufErrors'], N / send_seconds))
)",
                             Duration::seconds(60));
    ASSERT_TRUE(r.ok()) << r.output;
    auto tx_dropped_after = env_->kernel_counter("tx_dropped");
    auto rx_dropped_after = env_->kernel_counter("rx_dropped");
    ASSERT_TRUE(tx_dropped_after && rx_dropped_after);
    std::string out = stop_echo();

    const long long received = value_of(r.output, "received").value_or(-1);
    const long long send_errors = value_of(r.output, "send_errors").value_or(-1);
    const long long rcvbuf_errors = value_of(r.output, "rcvbuf_errors").value_or(-1);
    const long long sndbuf_errors = value_of(r.output, "sndbuf_errors").value_or(-1);
    const long long tap_tx_dropped = static_cast<long long>(*tx_dropped_after - *tx_dropped_before);
    const long long tap_rx_dropped = static_cast<long long>(*rx_dropped_after - *rx_dropped_before);
    auto ours = [&](const char* section, const char* name) {
        return static_cast<long long>(stat_from_output(out, section, name).value_or(0));
    };
    const long long queue_full = ours("udp", "rx_queue_full");
    const long long echo_tx_errors = ours("udp_echo", "tx_errors");
    const long long device_errors = ours("ethernet", "tx_device_errors");
    const long long arp_dropped = ours("arp", "pending_dropped");
    ASSERT_GE(received, 0) << r.output;

    const long long accounted = received + send_errors + sndbuf_errors + tap_tx_dropped + queue_full + echo_tx_errors +
                                device_errors + arp_dropped + tap_rx_dropped + rcvbuf_errors;
    std::printf("udp flood: 10000 sent (python send rate %lld/s): %lld echoed; dropped: kernel send %lld+%lld, "
                "tap tx %lld, our rcvbuf %lld, our send %lld, our device %lld, arp %lld, tap rx %lld, kernel rcvbuf "
                "%lld\n",
                value_of(r.output, "send_rate").value_or(0), received, send_errors, sndbuf_errors, tap_tx_dropped,
                queue_full, echo_tx_errors, device_errors, arp_dropped, tap_rx_dropped, rcvbuf_errors);
    RecordProperty("udp_flood_echoed", std::to_string(received));
    EXPECT_EQ(accounted, 10000) << r.output << "\ntap tx_dropped " << tap_tx_dropped << ", rx_dropped "
                                << tap_rx_dropped << "\n" << out;
    // Every datagram the stack delivered to the echo socket, the app read.
    EXPECT_EQ(ours("udp_echo", "rx_datagrams"), ours("udp", "rx_datagrams")) << out;
}

TEST_F(UdpEchoInterop, RoundTripAndRateBesideTheKernel) {
    // Not pass/fail figures: the same python3 client against tcpip-echo and against a kernel
    // UDP echo server (python3, on the kernel's own address in the namespace), in the same run.
    // Round trip: 500 datagrams one at a time. Rate: one second with up to 32 datagrams in
    // flight, counting the echoes (a datagram not back within 0.2 s counts as lost).
    auto kernel_echo = env_->exec_background({"python3", "-c", script(R"(
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('{KERNEL}', 7007))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
)",
                                                                         our_ip_, kernel_ip_)});
    ASSERT_TRUE(kernel_echo) << kernel_echo.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 7007)) << "the kernel echo never bound port 7007";
    const std::string bench = R"(
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for _ in range(50):  # warm up (and wait for the server to be there)
    s.sendto(b'x' * 64, (host, port))
    try: s.recv(2048)
    except socket.timeout: pass
n = 500
start = time.monotonic()
for _ in range(n):
    s.sendto(b'x' * 64, (host, port))
    s.recv(2048)
rtt_us = (time.monotonic() - start) / n * 1e6
s.settimeout(0.2)
window, inflight, echoed, lost = 32, 0, 0, 0
start = time.monotonic()
end = start + 1.0
while time.monotonic() < end:
    while inflight < window:
        s.sendto(b'x' * 64, (host, port))
        inflight += 1
    try:
        s.recv(2048)
        echoed += 1
        inflight -= 1
    except socket.timeout:
        lost += inflight
        inflight = 0
elapsed = time.monotonic() - start
print('rtt_us=%.1f rate=%d lost=%d' % (rtt_us, echoed / elapsed, lost))
)";
    CommandResult ours = env_->exec({"python3", "-c", bench, our_ip_, "7"}, Duration::seconds(30));
    CommandResult kernel = env_->exec({"python3", "-c", bench, kernel_ip_, "7007"}, Duration::seconds(30));
    ASSERT_TRUE(ours.ok()) << ours.output;
    ASSERT_TRUE(kernel.ok()) << kernel.output;
    const double rtt_ours = double_of(ours.output, "rtt_us").value_or(-1);
    const double rtt_kernel = double_of(kernel.output, "rtt_us").value_or(-1);
    const long long rate_ours = value_of(ours.output, "rate").value_or(-1);
    const long long rate_kernel = value_of(kernel.output, "rate").value_or(-1);
    std::printf("udp echo rtt: tcpip stack %.1f us, kernel alone %.1f us\n", rtt_ours, rtt_kernel);
    std::printf("udp echo rate (32 in flight): tcpip stack %lld/s (lost %lld), kernel alone %lld/s (lost %lld)\n",
                rate_ours, value_of(ours.output, "lost").value_or(-1), rate_kernel,
                value_of(kernel.output, "lost").value_or(-1));
    RecordProperty("udp_rtt_stack_us", std::to_string(rtt_ours));
    RecordProperty("udp_rtt_kernel_us", std::to_string(rtt_kernel));
    RecordProperty("udp_rate_stack_per_s", std::to_string(rate_ours));
    RecordProperty("udp_rate_kernel_per_s", std::to_string(rate_kernel));
    EXPECT_GT(rtt_ours, 0) << ours.output;
    EXPECT_GT(rtt_kernel, 0) << kernel.output;
}

// tcpip-nc -u against socat on the kernel's side, without tcpip-echo: tcpip-nc attaches to the TAP.
class NcInterop : public AppInterop {
protected:
    // The shell command that runs tcpip-nc with `input` on its standard input.
    std::string nc_command(const std::string& input, const std::string& args) const {
        return "printf '" + input + "' | " + app_path("tcpip-nc") + " --tap " + env_->tap_name() + " --ip " + our_ip_ +
               "/24 " + args;
    }

};

TEST_F(NcInterop, ClientExchangesLinesWithSocat) {
    // socat waits for the first datagram, then answers its sender with its own standard input and
    // prints what it receives; tcpip-nc sends its line and prints the answer.
    auto socat = env_->exec_background(
        {"sh", "-c", "printf 'hello from the kernel\\n' | socat -t 3 - UDP4-LISTEN:9000,bind=" + kernel_ip_});
    ASSERT_TRUE(socat) << socat.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 9000)) << "socat never bound port 9000";
    CommandResult nc = env_->exec({"sh", "-c", nc_command("hello from tcpip\\n", "-u -q 2 " + kernel_ip_ + " 9000")},
                                  Duration::seconds(15));
    CommandResult kernel = socat->wait(Duration::seconds(10));
    EXPECT_EQ(nc.exit_code, 0) << nc.output;
    EXPECT_NE(nc.output.find("hello from the kernel\n"), std::string::npos) << nc.output;
    EXPECT_NE(kernel.output.find("hello from tcpip\n"), std::string::npos) << kernel.output;
}

TEST_F(NcInterop, ListenerAnswersTheLastSender) {
    auto nc = env_->exec_background({"sh", "-c", nc_command("hello from the tcpip server\\n", "-u -l -q 2 9001")});
    ASSERT_TRUE(nc) << nc.error();
    // The client may start before tcpip-nc is up: try a few times (socat gives up 0.5 s after
    // its input ends).
    CommandResult kernel;
    for (int i = 0; i < 20; ++i) {
        kernel = env_->exec({"sh", "-c", "printf 'hello from the kernel client\\n' | socat -t 0.5 - UDP4:" + our_ip_ +
                                             ":9001,bind=" + kernel_ip_},
                            Duration::seconds(10));
        if (kernel.output.find("hello from the tcpip server") != std::string::npos) break;
    }
    CommandResult server = nc->wait(Duration::seconds(10));
    EXPECT_NE(kernel.output.find("hello from the tcpip server\n"), std::string::npos) << kernel.output;
    EXPECT_NE(server.output.find("hello from the kernel client\n"), std::string::npos) << server.output;
    EXPECT_EQ(server.exit_code, 0) << server.output;
}

TEST_F(NcInterop, ClosedPortEndsTheClientWithConnectionRefused) {
    // Nothing listens on the kernel's port 9002: the kernel answers port unreachable, and our
    // connected socket's next call reports ECONNREFUSED, as the kernel's nc -u does.
    CommandResult nc = env_->exec({"sh", "-c", nc_command("anyone?\\n", "-u -q 2 " + kernel_ip_ + " 9002")},
                                  Duration::seconds(15));
    EXPECT_EQ(nc.exit_code, 1) << nc.output;
    EXPECT_NE(nc.output.find("Connection refused"), std::string::npos) << nc.output;
}

// Every case fails in argument parsing, before any device is opened: these run outside the test
// namespaces, so none of them may get as far as opening a TAP.
TEST(NcArguments, BadUsageGetsOneLineAndStatusTwo) {
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {app_path("tcpip-nc"), "10.0.0", "7"},  // TCP, bad host
             {app_path("tcpip-nc"), "-l"},             // no port
             {app_path("tcpip-nc"), "-u", "--bogus", "10.0.0.1", "7"},
             {app_path("tcpip-nc"), "-u", "10.0.0.1", "70000"},
             {app_path("tcpip-nc"), "-u", "10.0.0", "7"},
             {app_path("tcpip-nc"), "-u", "7"},  // a client needs HOST
             {app_path("tcpip-nc"), "-u"},
             {app_path("tcpip-nc"), "-u", "-q", "x", "10.0.0.1", "7"},
         }) {
        CommandResult r = run_command(argv);
        EXPECT_EQ(r.exit_code, 2) << argv.back() << ": " << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    }
}

}  // namespace
}  // namespace tcpip::interop
