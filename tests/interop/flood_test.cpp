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

    std::optional<BackgroundCommand> echo_;
};

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
    CommandResult stopped = echo_->stop();
    echo_.reset();
    const std::string& out = stopped.output;
    EXPECT_EQ(stopped.exit_code, 0) << out;
    std::printf("[ flood    ] %s\n",
                counters(out, {{"tcp", "rx_segments"}, {"tcp", "passive_opens"}, {"tcp", "syn_dropped"},
                               {"tcp", "syn_cookies_sent"}, {"tcp", "syn_cookies_ok"}, {"tcp", "syn_cookies_failed"},
                               {"tcp", "tx_segments"}, {"tcp", "retransmitted_segments"}, {"tcp", "rx_bad_checksum"},
                               {"ipv4", "rx_bad_checksum"}, {"ipv4", "tx_no_route"}, {"icmp", "rx_errors"},
                               {"arp", "tx_requests"}, {"state", "tcp_sockets"}})
                    .c_str());

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

}  // namespace
}  // namespace tcpip::interop
