// --trace, --trace-json, --seed and the pcapng comments, against the Linux kernel: tcpip-echo is
// traced while the kernel resolves it with ARP, pings it, sends it a fragmented UDP datagram,
// connects over TCP, and sends a datagram with a bad checksum; tcpip-ping is traced while it
// resolves the kernel's address itself. The lines are checked for their layers, their rx/tx first
// lines and their decisions; the capture's comments are read back with `tshark -V`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

// Whether a line of `text` starts with `start` and holds `words`.
bool has_line(const std::string& text, const std::string& start, const std::string& words) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(start, 0) == 0 && line.find(words) != std::string::npos) return true;
    }
    return false;
}

#define EXPECT_LINE(text, start, words) \
    EXPECT_TRUE(has_line(text, start, words)) << "no line starting '" << (start) << "' with '" << (words) << "' in:\n" << (text)

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A file name for this test, removed at the end.
class TempFile {
public:
    explicit TempFile(const std::string& name)
        : path_("/tmp/tcpip-trace-" + std::to_string(::getpid()) + "-" + name) {}
    ~TempFile() { std::remove(path_.c_str()); }
    const std::string& str() const { return path_; }

private:
    std::string path_;
};

class TraceInterop : public AppInterop {};

TEST_F(TraceInterop, EchoTraceShowsEachLayersDecision) {
    TempFile json("echo.jsonl"), capture("echo.pcapng");
    auto app = start_echo(*env_, our_ip_,
                          {"--trace", "--trace-json", json.str(), "--seed", "1234", "--pcap", capture.str()});
    ASSERT_TRUE(app) << app.error();
    // start_echo pinged once; the kernel resolved us with ARP first.
    CommandResult r = env_->exec({"python3", "-c", R"(
import socket, struct
OUR, KERNEL = ')" + our_ip_ + R"(', ')" + kernel_ip_ + R"('
# A 3000-byte UDP datagram: three fragments on a 1500-byte link.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(b'f' * 3000, (OUR, 7))
print('udp=%d' % len(u.recv(4000)))
# A TCP connection: handshake, 5 bytes echoed, close.
for attempt in range(20):
    try:
        t = socket.create_connection((OUR, 7), timeout=2)
        break
    except OSError:
        import time; time.sleep(0.1)
t.sendall(b'hello')
print('tcp=%s' % t.recv(100).decode())
t.close()
# A UDP datagram whose checksum is off by one, through a raw socket.
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src, dst = socket.inet_aton(KERNEL), socket.inet_aton(OUR)
payload = b'bad sum'
length = 8 + len(payload)
good = csum(src + dst + struct.pack('!BBH', 0, 17, length) + struct.pack('!HHHH', 40000, 7, length, 0) + payload) or 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + length, 0x1234, 0x4000, 64, 17, 0, src, dst)
raw.sendto(ip + struct.pack('!HHHH', 40000, 7, length, good ^ 1 or 1) + payload, (OUR, 0))
import time; time.sleep(0.3)
)"},
                                 Duration::seconds(20));
    EXPECT_NE(r.output.find("udp=3000"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tcp=hello"), std::string::npos) << r.output;
    const std::string out = app->stop().output;

    EXPECT_NE(out.find("tcpip-echo: seed 1234"), std::string::npos) << out;
    // ARP: the kernel asks for us, we answer.
    EXPECT_LINE(out, "   arp  who-has " + our_ip_ + " tell " + kernel_ip_, "for us: sender learned, answered (RFC 826");
    EXPECT_LINE(out, "tx arp  reply " + our_ip_ + " is at", "");
    // The ping, through every layer and back.
    EXPECT_LINE(out, "   icmp echo request", "answered (RFC 1122 3.2.2.6)");
    EXPECT_LINE(out, "tx icmp echo reply", "");
    EXPECT_LINE(out, "   arp  " + kernel_ip_ + " is at", "(cached)");
    // The fragmented datagram: held, reassembled, delivered; our answer fragmented too.
    EXPECT_LINE(out, "   ip   " + kernel_ip_ + " > " + our_ip_ + " UDP", "fragment held for reassembly (1 so far) (RFC 791 3.2)");
    EXPECT_LINE(out, "   ip   " + kernel_ip_ + " > " + our_ip_ + " UDP", "reassembled (3 of 3)");
    EXPECT_LINE(out, "   udp  ", "> 7 3000 B  delivered to port 7");
    EXPECT_LINE(out, "rx sock recvfrom(fd ", "= 3000 B");
    EXPECT_LINE(out, "tx sock sendto(fd ", "3000 B)");
    EXPECT_LINE(out, "tx ip   " + our_ip_ + " > " + kernel_ip_ + " UDP", "fragment 2 of 3");
    // The handshake, in RFC 9293's words, and the close.
    EXPECT_LINE(out, "   tcp  ", "> 7 [S] seq");
    EXPECT_LINE(out, "   tcp  ", "LISTEN -> SYN-RECEIVED");
    EXPECT_LINE(out, "tx tcp  7 > ", "[S.] seq");
    EXPECT_LINE(out, "   tcp  ", "SYN-RECEIVED -> ESTABLISHED");
    EXPECT_LINE(out, "rx sock accept(fd ", "= fd ");
    EXPECT_LINE(out, "   tcp  ", "5 B queued");
    EXPECT_LINE(out, "tx sock send(fd ", "5 B)");
    EXPECT_LINE(out, "   tcp  ", "ESTABLISHED -> CLOSE-WAIT");
    EXPECT_LINE(out, "tx sock close(fd ", "");
    EXPECT_LINE(out, "   tcp  7 > ", "CLOSE-WAIT -> LAST-ACK");
    // The drop, with its rule.
    EXPECT_LINE(out, "   udp  40000 > 7 7 B", "dropped: bad checksum (RFC 1122 4.1.3.4)");
    // Every frame's first line starts with rx or tx; every line names its layer.
    std::istringstream lines(out);
    std::string line;
    int trace_lines = 0;
    while (std::getline(lines, line)) {
        const bool first = line.rfind("rx ", 0) == 0 || line.rfind("tx ", 0) == 0;
        const bool under = line.rfind("   ", 0) == 0 && line.size() > 3 && line[3] != ' ';
        if (!first && !under) continue;  // the app's own lines and its statistics
        ++trace_lines;
        const std::string layer = line.substr(3, line.find(' ', 3) - 3);
        EXPECT_TRUE(layer == "sock" || layer == "tcp" || layer == "udp" || layer == "icmp" || layer == "ip" ||
                    layer == "arp" || layer == "eth")
            << line;
    }
    EXPECT_GT(trace_lines, 40) << out;
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no colour when the output is not a terminal";

    // --trace-json: the same events.
    const std::string events = read_all(json.str());
    EXPECT_NE(events.find(R"("layer":"tcp")"), std::string::npos) << events.substr(0, 2000);
    EXPECT_NE(events.find("LISTEN -> SYN-RECEIVED"), std::string::npos);
    EXPECT_NE(events.find("reassembled (3 of 3)"), std::string::npos);

    // The pcapng capture explains itself: tshark -V shows the comments, in the same words.
    if (std::system("command -v tshark >/dev/null 2>&1") != 0) {
        if (running_in_ci()) FAIL() << "tshark is not installed, and CI=true requires this check";
        GTEST_SKIP() << "tshark is not installed (scripts/packages.sh install_missing); the trace checks ran";
    }
    CommandResult shark = run_command({"tshark", "-n", "-V", "-r", capture.str()}, Duration::seconds(30));
    ASSERT_TRUE(shark.ok()) << shark.output;
    EXPECT_NE(shark.output.find("Packet comments"), std::string::npos) << shark.output.substr(0, 3000);
    EXPECT_NE(shark.output.find("LISTEN -> SYN-RECEIVED"), std::string::npos);
    EXPECT_NE(shark.output.find("dropped: bad checksum (RFC 1122 4.1.3.4)"), std::string::npos);
    EXPECT_NE(shark.output.find("answered (RFC 1122 3.2.2.6)"), std::string::npos);
    CommandResult comments = run_command({"tshark", "-n", "-r", capture.str(), "-Y", "frame.comment contains \"reassembled\"",
                                          "-T", "fields", "-e", "frame.number"},
                                         Duration::seconds(30));
    EXPECT_TRUE(comments.ok()) << comments.output;
    EXPECT_NE(comments.output.find_first_of("0123456789"), std::string::npos) << "no frame.comment with 'reassembled'\n"
                                                                              << comments.output;
}

TEST_F(TraceInterop, PingTraceShowsOurArpResolution) {
    std::vector<std::string> argv = {app_path("tcpip-ping"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24",
                                     "--trace", "--seed", "99", "-c", "1", "-W", "3", kernel_ip_};
    // -W 3: time for a second and third ARP request (a second apart) if the first answer is lost.
    CommandResult r = env_->exec(argv, Duration::seconds(20));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("tcpip-ping: seed 99"), std::string::npos) << r.output;
    // The first echo request waits for the kernel's MAC; the request goes out; the reply releases it.
    EXPECT_LINE(r.output, "tx icmp echo request", "");
    EXPECT_LINE(r.output, "   arp  " + kernel_ip_ + " not resolved", "queued for ARP (1 waiting) (RFC 1122 2.3.2.2)");
    EXPECT_LINE(r.output, "tx arp  who-has " + kernel_ip_ + " tell " + our_ip_, "");
    EXPECT_LINE(r.output, "   arp  reply " + kernel_ip_ + " is at", "for us: sender learned");
    EXPECT_LINE(r.output, "tx ip   " + our_ip_ + " > " + kernel_ip_ + " ICMP", "(waited for ARP)");
    EXPECT_LINE(r.output, "   icmp echo reply", "delivered to ping");
}

// On a terminal the trace is in colour (the layers' names); into a file or a pipe it is plain
// (EchoTraceShowsEachLayersDecision). `script` gives tcpip-ping a pseudo-terminal.
TEST_F(TraceInterop, TraceIsColouredOnATerminal) {
    if (std::system("command -v script >/dev/null 2>&1") != 0) {
        if (running_in_ci()) FAIL() << "script (bsdutils) is not installed, and CI=true requires this check";
        GTEST_SKIP() << "script (bsdutils) is not installed";
    }
    const std::string ping = app_path("tcpip-ping") + " --tap " + env_->tap_name() + " --ip " + our_ip_ +
                             "/24 --trace -c 1 -W 3 " + kernel_ip_;
    CommandResult r = env_->exec({"script", "-qec", ping, "/dev/null"}, Duration::seconds(20));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("\x1b["), std::string::npos) << "no colour escape on a terminal:\n" << r.output;
    EXPECT_NE(r.output.find("icmp"), std::string::npos) << r.output;
}

TEST_F(TraceInterop, TraceLayersChoosesTheLines) {
    auto app = start_echo(*env_, our_ip_, {"--trace-layers", "tcp,ip"});
    ASSERT_TRUE(app) << app.error();
    CommandResult r = env_->exec({"python3", "-c", "import socket,time\nfor i in range(20):\n  try:\n"
                                                   "    s=socket.create_connection(('" + our_ip_ + "',7),timeout=2); break\n"
                                                   "  except OSError: time.sleep(0.1)\ns.close()\n"});
    EXPECT_TRUE(r.ok()) << r.output;
    const std::string out = app->stop().output;
    EXPECT_LINE(out, "rx ip   " + kernel_ip_ + " > " + our_ip_ + " TCP", "ok");
    EXPECT_LINE(out, "   tcp  ", "LISTEN -> SYN-RECEIVED");
    EXPECT_LINE(out, "tx tcp  7 > ", "[S.]");
    EXPECT_FALSE(has_line(out, "   eth", "")) << out;
    EXPECT_FALSE(has_line(out, "rx eth", "")) << out;
    EXPECT_FALSE(has_line(out, "   arp", "")) << out;
}

// Every app takes --trace and --seed: each one here is traced through a TCP handshake (or a UDP
// exchange) with the kernel and says the seed it was given. (tcpip-echo and tcpip-ping are traced
// above, tcpip-run in interop/run, tcpip-replay below.)
struct AppUnderTrace {
    std::string name;                    // build/apps/NAME
    std::vector<std::string> args;       // its own arguments, after the shared ones
    std::string client;                  // python run in the namespace against it (OUR, KERNEL set)
    std::string state_change;            // the TCP state change its trace must show ("" for UDP)
};

class EveryAppTraces : public TraceInterop, public ::testing::WithParamInterface<AppUnderTrace> {};

TEST_P(EveryAppTraces, ShowsTheLayersAndItsSeed) {
    const AppUnderTrace& a = GetParam();
    std::vector<std::string> extra = {"--trace", "--seed", "4242"};
    extra.insert(extra.end(), a.args.begin(), a.args.end());
    std::optional<BackgroundCommand> app;
    std::optional<CommandResult> client;
    const std::string prelude = "import socket, time, subprocess\nOUR, KERNEL = '" + our_ip_ + "', '" + kernel_ip_ + "'\n";
    if (a.name == "tcpip-udp-rtt") {
        // A client: the kernel's UDP echo first (socat), then tcpip-udp-rtt to it, run to its end.
        auto echo = env_->exec_background({"python3", "-c", prelude + "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                                                     "u.bind((KERNEL, 9007))\n"
                                                                     "while True:\n"
                                                                     "    data, peer = u.recvfrom(65536)\n"
                                                                     "    u.sendto(data, peer)\n"});
        ASSERT_TRUE(echo) << echo.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 9007));
        std::vector<std::string> argv = {app_path(a.name), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.insert(argv.end(), {"-c", "3", kernel_ip_, "9007"});
        client = env_->exec(argv, Duration::seconds(20));
        EXPECT_EQ(client->exit_code, 0) << client->output;
        echo->stop();
    } else {
        auto started = start_app(*env_, a.name, our_ip_, extra);
        ASSERT_TRUE(started) << started.error();
        app.emplace(std::move(*started));
        client = env_->exec({"python3", "-c", prelude + a.client}, Duration::seconds(30));
        EXPECT_TRUE(client->ok()) << client->output;
    }
    const std::string out = app ? app->stop().output : client->output;

    EXPECT_NE(out.find(a.name + ": seed 4242"), std::string::npos) << out.substr(0, 3000);
    EXPECT_LINE(out, "rx eth  ", "IPv4");
    EXPECT_LINE(out, "   ip   " + kernel_ip_ + " > " + our_ip_, "");
    EXPECT_LINE(out, "tx ", "");
    EXPECT_LINE(out, "   eth  ", "");
    if (!a.state_change.empty()) {
        EXPECT_LINE(out, "   tcp  ", a.state_change);
    } else {
        EXPECT_LINE(out, "   udp  ", "");
    }
}

// A TCP client in the namespace that retries its first connection (the app's sockets come up
// just after its stack answers ping), sends `data` and reads until the app closes, a read times out,
// or `check` (a python expression on `got`) holds; then asserts `check`.
std::string tcp_client(const std::string& port, const std::string& data, const std::string& check) {
    return "for attempt in range(50):\n"
           "    try:\n"
           "        s = socket.create_connection((OUR, " + port + "), timeout=3); break\n"
           "    except OSError: time.sleep(0.1)\n"
           "s.sendall(" + data + ")\n"
           "got = b''\n"
           "while True:\n"
           "    try:\n"
           "        chunk = s.recv(65536)\n"
           "    except socket.timeout: break\n"
           "    if not chunk: break\n"
           "    got += chunk\n"
           "    if " + check + ": break\n"
           "s.close()\n"
           "assert " + check + ", got[:200]\n";
}

INSTANTIATE_TEST_SUITE_P(
    Apps, EveryAppTraces,
    ::testing::Values(
        AppUnderTrace{"tcpip-httpd", {"--port", "80"},
                      tcp_client("80", "b'GET / HTTP/1.0\\r\\n\\r\\n'", "b'200 OK' in got and got.endswith(b'</html>\\n')"),
                      "LISTEN -> SYN-RECEIVED"},
        AppUnderTrace{"tcpip-hello", {"--port", "7000"}, tcp_client("7000", "b''", "b'\\n' in got"), "LISTEN -> SYN-RECEIVED"},
        AppUnderTrace{"tcpip-perf", {"-s"},
                      "for attempt in range(20):\n"
                      "    if subprocess.run(['iperf3', '-c', OUR, '-n', '200K'], timeout=20).returncode == 0: break\n"
                      "    time.sleep(0.2)\n"
                      "else: raise SystemExit('iperf3 never completed')\n",
                      "LISTEN -> SYN-RECEIVED"},
        AppUnderTrace{"tcpip-nc", {"-l", "9000"}, tcp_client("9000", "b'hi nc\\n'", "True"), "LISTEN -> SYN-RECEIVED"},
        AppUnderTrace{"tcpip-udp-rtt", {}, "", ""}),
    [](const ::testing::TestParamInfo<AppUnderTrace>& info) {
        std::string name = info.param.name.substr(6);  // without "tcpip-"
        name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
        return name;
    });

// tcpip-replay traces the replayed stack as the apps trace the live one, and says its seed. The
// capture is the transfer through the fault injector: its trace must show our retransmissions
// (a re-recorded capture without any would no longer test recovery in replay).
TEST(ReplayTrace, TracesTheReplayedStackAndItsRetransmissions) {  // no TAP, no root: a capture and a virtual clock
    const char* source = std::getenv("TCPIP_SOURCE_ROOT");
    ASSERT_NE(source, nullptr) << "meson passes TCPIP_SOURCE_ROOT";
    // As tests/replay/meson.build replays it.
    CommandResult r = run_command({app_path("tcpip-replay"), "--app", "echo", "--seed", "11", "--no-timestamps", "--no-pacing",
                                   "--trace", std::string(source) + "/tests/replay/echo-faults.pcap"},
                                  Duration::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 3000);
    EXPECT_NE(r.output.find("frames agree"), std::string::npos) << r.output.substr(0, 3000);
    EXPECT_NE(r.output.find("tcpip-replay: seed 11"), std::string::npos) << r.output.substr(0, 3000);
    EXPECT_LINE(r.output, "rx eth  ", "IPv4");
    EXPECT_LINE(r.output, "   tcp  ", "LISTEN -> SYN-RECEIVED");
    EXPECT_LINE(r.output, "tx tcp  7 > ", "[S.]");
    EXPECT_LINE(r.output, "tx tcp  7 > ", "retransmission: sent before");
}

TEST_F(TraceInterop, BadTraceFlagsGetOneLineAndStatusTwo) {
    for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
             {"--trace-layers", "tcp,bogus"}, {"--seed", "x1"}, {"--seed", "99999999999999999999"}, {"--trace-json"}}) {
        std::vector<std::string> argv = {app_path("tcpip-echo"), "--tap", env_->tap_name()};
        argv.insert(argv.end(), bad.begin(), bad.end());
        CommandResult r = env_->exec(argv);
        EXPECT_EQ(r.exit_code, 2) << bad[0] << "\n" << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    }
}

}  // namespace
}  // namespace tcpip::interop
