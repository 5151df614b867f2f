// tcpip-run against the Linux kernel: stock Debian programs, unmodified, with their sockets on our
// stack through the LD_PRELOAD shim, talking to stock programs on the kernel's sockets across the
// TAP of a fresh network namespace.
//
// The program under tcpip-run runs in the same namespace as the kernel's end, where the kernel
// could also reach its peer by itself (the peer's address is local there). So every test proves
// from the counters tcpip-run writes at exit (--stats) that the traffic crossed our stack: the
// TAP's bytes (at least what was sent), TCP connections opened by our TCP, datagrams by our UDP.
//
// The programs are installed by scripts/setup.sh (curl, wget, socat, netcat-openbsd, iperf3,
// nginx, redis-server and redis-tools, wrk); one that is missing skips its test, except under
// CI=true, where it fails.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Bytes no compressor or coincidence reproduces: a corrupted or short transfer cannot match.
std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 generator(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(generator());
    return s;
}

bool on_path(const std::string& program) {
    return run_command({"sh", "-c", "command -v " + program}).ok();
}

// In a TEST body: the stock program must be installed (scripts/setup.sh installs it).
#define TCPIP_REQUIRE_PROGRAM(program)                                                             \
    do {                                                                                           \
        if (!on_path(program)) {                                                                   \
            if (running_in_ci()) FAIL() << program << " is not installed (scripts/setup.sh installs it)"; \
            GTEST_SKIP() << program << " is not installed (scripts/setup.sh installs it)";        \
        }                                                                                          \
    } while (0)

// A counter from tcpip-run's --stats file (the apps' statistics format).
std::uint64_t counter(const std::string& stats, const std::string& section, const std::string& name) {
    return stat_from_output("\n" + stats, section, name).value_or(0);
}

class RunInterop : public AppInterop {
protected:
    void SetUp() override {
        AppInterop::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        char pattern[] = "/tmp/tcpip-run-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
        stats_ = dir_ + "/stats.txt";
    }
    void TearDown() override {
        if (!dir_.empty()) run_command({"rm", "-rf", dir_});
    }

    // tcpip-run's command line, with our address, --stats and `flags`, before PROGRAM ARGS.
    std::vector<std::string> under_run(const std::vector<std::string>& program,
                                       const std::vector<std::string>& flags = {}) const {
        std::vector<std::string> argv = {app_path("run/tcpip-run"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24",
                                         "--stats", stats_};
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.push_back("--");
        argv.insert(argv.end(), program.begin(), program.end());
        return argv;
    }
    // The same, as one shell command (for redirections); sh execs it, so tcpip-run keeps sh's pid.
    std::vector<std::string> under_run_sh(const std::string& program_and_redirections,
                                          const std::vector<std::string>& flags = {}) const {
        std::string line = "exec";
        for (const auto& word : under_run({}, flags)) line += " '" + word + "'";
        return {"sh", "-c", line + " " + program_and_redirections};
    }
    std::string stats() const { return read_file(stats_); }

    // Runs `argv` in the namespace until it succeeds (a server of ours that is not listening yet
    // answers with a RST), at most `tries` times, 200 ms apart.
    CommandResult until_ok(const std::vector<std::string>& argv, int tries = 25) const {
        CommandResult r;
        for (int i = 0; i < tries; ++i) {
            r = env_->exec(argv, Duration::seconds(20));
            if (r.ok()) return r;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return r;
    }

    // Stops a server running under tcpip-run with `signal` (python exits cleanly on SIGINT, nginx
    // and redis on SIGTERM) and waits for it, so that it writes its counters.
    static CommandResult stop(BackgroundCommand& server, int signal) {
        ::kill(server.pid(), signal);
        return server.wait(Duration::seconds(15));
    }

    std::string dir_, stats_;
};

// ---- Clients on our stack, servers on the kernel's ---------------------------------------------

// A kernel-side web server (python's http.server, on the kernel's address) serving dir_/www.
class KernelWeb : public RunInterop {
protected:
    void SetUp() override {
        RunInterop::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_EQ(::mkdir((dir_ + "/www").c_str(), 0755), 0);
        body_ = random_bytes(1 << 20, 1);
        write_file(dir_ + "/www/blob.bin", body_);
        auto server = env_->exec_background({"python3", "-m", "http.server", "-b", kernel_ip_, "-d", dir_ + "/www", "8080"});
        ASSERT_TRUE(server) << server.error();
        server_.emplace(std::move(*server));
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 8080));
        url_ = "http://" + kernel_ip_ + ":8080/blob.bin";
    }
    void TearDown() override {
        server_.reset();
        RunInterop::TearDown();
    }
    std::string body_, url_;
    std::optional<BackgroundCommand> server_;
};

TEST_F(KernelWeb, CurlFetchesAFileThroughOurStack) {
    TCPIP_REQUIRE_PROGRAM("curl");
    const std::string out = dir_ + "/curl.out";
    auto r = env_->exec(under_run({"curl", "-sS", "-m", "20", "-o", out, url_}), Duration::seconds(30));
    ASSERT_TRUE(r.ok()) << r.output;
    EXPECT_TRUE(read_file(out) == body_) << "the 1 MiB file differs";
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 1u) << s;
    EXPECT_GT(counter(s, "tap", "rx_bytes"), 1u << 20) << s;  // the file came in through our TAP
}

TEST_F(KernelWeb, WgetFetchesAFileThroughOurStack) {
    TCPIP_REQUIRE_PROGRAM("wget");
    const std::string out = dir_ + "/wget.out";
    auto r = env_->exec(under_run({"wget", "-q", "-T", "20", "-O", out, url_}), Duration::seconds(30));
    ASSERT_TRUE(r.ok()) << r.output;
    EXPECT_TRUE(read_file(out) == body_) << "the 1 MiB file differs";
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 1u) << s;
    EXPECT_GT(counter(s, "tap", "rx_bytes"), 1u << 20) << s;
}

// The shared flags under tcpip-run: --pcap captures the frames of the program's traffic (read back
// with tshark: the frames the TAP counted, the file's bytes among them, our one SYN), and the seed is said
// on stderr, since a capture was asked for.
TEST_F(KernelWeb, PcapCapturesTheProgramsFrames) {
    TCPIP_REQUIRE_PROGRAM("curl");
    TCPIP_REQUIRE_PROGRAM("tshark");
    const std::string pcap = dir_ + "/run.pcap", out = dir_ + "/curl.out";
    auto r = env_->exec(under_run({"curl", "-sS", "-m", "20", "-o", out, url_}, {"--pcap", pcap}), Duration::seconds(30));
    ASSERT_TRUE(r.ok()) << r.output;
    EXPECT_TRUE(read_file(out) == body_) << "the 1 MiB file differs";
    EXPECT_NE(r.output.find("tcpip-run: seed "), std::string::npos) << r.output;
    const std::string capture = read_file(pcap);
    ASSERT_GE(capture.size(), 24u);
    EXPECT_EQ(capture.substr(0, 4), std::string("\xd4\xc3\xb2\xa1", 4)) << "not a pcap file";
    // One line per frame: its length, and whether it is a SYN from ours to the server's port.
    auto fields = run_command({"tshark", "-r", pcap, "-T", "fields", "-e", "frame.len", "-e", "tcp.dstport",
                               "-e", "tcp.flags.syn", "-e", "tcp.flags.ack"}, Duration::seconds(60));
    ASSERT_TRUE(fields.ok()) << fields.output;
    std::uint64_t frames = 0, bytes = 0, syns = 0;
    std::istringstream lines(fields.output);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::uint64_t length = 0;
        std::string port, syn, ack;
        words >> length >> port >> syn >> ack;
        ++frames;
        bytes += length;
        if (port == "8080" && (syn == "1" || syn == "True") && (ack == "0" || ack == "False")) ++syns;
    }
    const std::string s = stats();
    // Every frame the TAP counted (the counters are written at exit, while the stack still runs:
    // the capture may hold a frame or two more).
    EXPECT_GE(frames, counter(s, "tap", "rx_frames") + counter(s, "tap", "tx_frames")) << s;
    EXPECT_GT(bytes, 1u << 20);
    EXPECT_EQ(syns, 1u) << fields.output.substr(0, 2000);
}

// --trace and --seed: the trace goes to stderr (frames in and out, TCP's state changes), the seed
// is said there, and curl's standard output is the body alone. Two runs with the same seed make
// the same random choices (our ephemeral port, in the SYN's line).
TEST_F(KernelWeb, TraceAndSeedGoToStderrAndCurlsOutputStaysTheBody) {
    TCPIP_REQUIRE_PROGRAM("curl");
    write_file(dir_ + "/www/small.txt", "a small body\n");
    const std::string small = "http://" + kernel_ip_ + ":8080/small.txt";
    std::string syn_lines[2];
    for (int run = 0; run < 2; ++run) {
        const std::string trace = dir_ + "/trace" + std::to_string(run) + ".txt";
        auto r = env_->exec(under_run_sh("curl -sS -m 20 " + small + " 2> " + trace, {"--trace", "--seed", "7"}),
                            Duration::seconds(30));
        ASSERT_TRUE(r.ok()) << r.output << read_file(trace);
        EXPECT_EQ(r.output, "a small body\n");
        const std::string t = read_file(trace);
        EXPECT_NE(t.find("tcpip-run: seed 7 ("), std::string::npos) << t;
        EXPECT_NE(t.find("SYN-SENT -> ESTABLISHED"), std::string::npos) << t;
        int rx = 0, tx = 0;
        std::istringstream lines(t);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("rx ", 0) == 0) ++rx;
            if (line.rfind("tx ", 0) == 0) ++tx;
            // Our SYN, in the lines of the connect() that sent it: "   tcp  PORT > 8080 [S] seq ...".
            if (line.find("tcp  ") != std::string::npos && line.find(" > 8080 [S] ") != std::string::npos) {
                syn_lines[run] = line;
            }
        }
        EXPECT_GE(rx, 3) << t;
        EXPECT_GE(tx, 3) << t;
        EXPECT_FALSE(syn_lines[run].empty()) << t;
        const std::string s = stats();
        EXPECT_EQ(counter(s, "tcp", "active_opens"), 1u) << s;
        EXPECT_GT(counter(s, "tap", "rx_bytes"), 13u) << s;
    }
    // The same port: the same random choice.
    auto port_of = [](const std::string& line) { return line.substr(0, line.find(" > 8080")); };
    EXPECT_EQ(port_of(syn_lines[0]), port_of(syn_lines[1])) << syn_lines[0] << "\n" << syn_lines[1];
}

// A name from /etc/hosts: `ip netns exec` bind-mounts /etc/netns/NAME/hosts over /etc/hosts, so
// the namespace gets a hosts file of its own that names the kernel's address; it is removed when
// the test ends, passed or failed. glibc's lookup reads the file (no socket): curl connects by name.
class NamespaceHosts {
public:
    NamespaceHosts(const std::string& netns, const std::string& lines) : dir_("/etc/netns/" + netns) {
        made_parent_ = ::mkdir("/etc/netns", 0755) == 0;
        made_ = ::mkdir(dir_.c_str(), 0755) == 0;
        if (made_) write_file(dir_ + "/hosts", "127.0.0.1 localhost\n" + lines);
    }
    ~NamespaceHosts() {
        if (made_) run_command({"rm", "-rf", dir_});
        if (made_parent_) ::rmdir("/etc/netns");  // only if no other namespace has a file there
    }
    NamespaceHosts(const NamespaceHosts&) = delete;
    NamespaceHosts& operator=(const NamespaceHosts&) = delete;
    bool made() const { return made_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    bool made_parent_ = false, made_ = false;
};

TEST_F(KernelWeb, CurlFetchesByANameFromEtcHosts) {
    TCPIP_REQUIRE_PROGRAM("curl");
    const std::string name = "peer-" + env_->netns() + ".test";  // unique: the namespace's name
    NamespaceHosts hosts(env_->netns(), kernel_ip_ + " " + name + "\n");
    ASSERT_TRUE(hosts.made()) << "cannot make " << hosts.dir();
    const std::string out = dir_ + "/curl.out";
    auto r = env_->exec(under_run({"curl", "-sS", "-m", "20", "-o", out, "http://" + name + ":8080/blob.bin"}),
                        Duration::seconds(30));
    ASSERT_TRUE(r.ok()) << r.output;
    EXPECT_TRUE(read_file(out) == body_) << "the 1 MiB file differs";
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 1u) << s;
    EXPECT_GT(counter(s, "tap", "rx_bytes"), 1u << 20) << s;
    // Outside the namespace the name means nothing: the hosts file made it.
    EXPECT_FALSE(run_command({"getent", "hosts", name}).ok());
}

// ---- Servers on our stack, clients on the kernel's ---------------------------------------------

// python3 -m http.server serves the kernel's curl, bound to :: (dual-stack: the client's address is
// seen mapped in its log) and then to its default address (no --bind: python picks the wildcard of
// the family getaddrinfo lists first; the log names the kernel's address either way).
TEST_F(RunInterop, PythonHttpServerServesTheKernelsCurl) {
    TCPIP_REQUIRE_PROGRAM("curl");
    ASSERT_EQ(::mkdir((dir_ + "/www").c_str(), 0755), 0);
    const std::string body = random_bytes(1 << 20, 2);
    write_file(dir_ + "/www/blob.bin", body);
    for (const bool dual_stack : {true, false}) {
        SCOPED_TRACE(dual_stack ? "--bind ::" : "the default address");
        std::vector<std::string> argv = {"python3", "-u", "-m", "http.server", "-d", dir_ + "/www", "8000"};
        if (dual_stack) argv.insert(argv.begin() + 4, {"--bind", "::"});
        ::unlink(stats_.c_str());
        auto server = env_->exec_background(under_run(argv));
        ASSERT_TRUE(server) << server.error();
        const std::string out = dir_ + "/got.bin";
        ::unlink(out.c_str());
        auto r = until_ok({"curl", "-sS", "-m", "10", "-o", out, "http://" + our_ip_ + ":8000/blob.bin"});
        EXPECT_TRUE(r.ok()) << r.output;
        EXPECT_TRUE(read_file(out) == body) << "the 1 MiB file differs";
        const CommandResult ended = stop(*server, SIGINT);
        // The request log names the client, by its IPv4-mapped address on a dual-stack socket.
        EXPECT_NE(ended.output.find((dual_stack ? "::ffff:" : "") + kernel_ip_ + " - - ["), std::string::npos)
            << ended.output;
        const std::string s = stats();
        EXPECT_GE(counter(s, "tcp", "passive_opens"), 1u) << s;
        EXPECT_GT(counter(s, "tap", "tx_bytes"), 1u << 20) << s;
    }
}

// ---- nc and socat, both ways, TCP and UDP ------------------------------------------------------

TEST_F(RunInterop, NcSendsToTheKernelAndReceivesFromIt) {
    TCPIP_REQUIRE_PROGRAM("nc");
    const std::string in = dir_ + "/in.bin", out = dir_ + "/out.bin";
    const std::string data = random_bytes(300000, 3);
    write_file(in, data);
    // Ours -> kernel: the kernel's nc listens, ours connects and sends (-N: shutdown at EOF).
    {
        auto listener = env_->exec_background({"sh", "-c", "exec nc -l " + kernel_ip_ + " 9001 > " + out});
        ASSERT_TRUE(listener) << listener.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 9001));
        auto r = env_->exec(under_run_sh("nc -N " + kernel_ip_ + " 9001 < " + in), Duration::seconds(30));
        ASSERT_TRUE(r.ok()) << r.output;
        listener->wait(Duration::seconds(10));
        EXPECT_TRUE(read_file(out) == data) << "ours -> kernel: " << read_file(out).size() << " bytes";
        EXPECT_EQ(counter(stats(), "tcp", "active_opens"), 1u) << stats();
        EXPECT_GT(counter(stats(), "tap", "tx_bytes"), data.size()) << stats();
    }
    // Kernel -> ours: ours listens, the kernel's nc connects and sends.
    {
        auto listener = env_->exec_background(under_run_sh("nc -l 9002 > " + out + ".2"));
        ASSERT_TRUE(listener) << listener.error();
        auto r = until_ok({"sh", "-c", "nc -N " + our_ip_ + " 9002 < " + in});
        ASSERT_TRUE(r.ok()) << r.output;
        auto ended = listener->wait(Duration::seconds(10));
        EXPECT_TRUE(read_file(out + ".2") == data) << "kernel -> ours: " << read_file(out + ".2").size() << " bytes";
        EXPECT_EQ(counter(stats(), "tcp", "passive_opens"), 1u) << stats() << ended.output;
        EXPECT_GT(counter(stats(), "tap", "rx_bytes"), data.size()) << stats();
    }
}

// nc -u (Debian's netcat-openbsd) both ways: a datagram of random bytes from ours to the kernel's
// nc, and one from the kernel's nc to ours (-W 1: it exits after one, writing the counters).
TEST_F(RunInterop, NcCarriesUdpBothWays) {
    TCPIP_REQUIRE_PROGRAM("nc");
    const std::string in = dir_ + "/in.bin", out = dir_ + "/out.bin";
    const std::string data = random_bytes(1200, 7);  // one datagram, one frame
    write_file(in, data);
    // Ours -> kernel (-q 1: ours quits a second after the end of its input).
    {
        auto listener = env_->exec_background({"sh", "-c", "exec nc -d -u -l -W 1 " + kernel_ip_ + " 9011 > " + out});
        ASSERT_TRUE(listener) << listener.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 9011));
        auto r = env_->exec(under_run_sh("nc -u -q 1 " + kernel_ip_ + " 9011 < " + in), Duration::seconds(30));
        ASSERT_TRUE(r.ok()) << r.output;
        auto got = listener->wait(Duration::seconds(10));
        EXPECT_TRUE(read_file(out) == data) << "ours -> kernel: " << read_file(out).size() << " bytes " << got.output;
        const std::string s = stats();
        EXPECT_EQ(counter(s, "udp", "tx_datagrams"), 1u) << s;
        EXPECT_GT(counter(s, "tap", "tx_bytes"), data.size()) << s;
    }
    // Kernel -> ours, sent again until ours has one (it may not be bound when the first arrives).
    {
        auto ours = env_->exec_background(under_run_sh("nc -d -u -l -W 1 9012 > " + out + ".2"));
        ASSERT_TRUE(ours) << ours.error();
        for (int i = 0; i < 50 && read_file(out + ".2").empty(); ++i) {
            env_->exec({"sh", "-c", "nc -u -q 0 " + our_ip_ + " 9012 < " + in});
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        auto ended = ours->wait(Duration::seconds(10));
        EXPECT_EQ(ended.exit_code, 0) << ended.output;
        EXPECT_TRUE(read_file(out + ".2") == data) << "kernel -> ours: " << read_file(out + ".2").size() << " bytes";
        const std::string s = stats();
        EXPECT_GE(counter(s, "udp", "rx_datagrams"), 1u) << s;
        EXPECT_GT(counter(s, "tap", "rx_bytes"), data.size()) << s;
    }
}

TEST_F(RunInterop, SocatCarriesTcpAndUdpBothWays) {
    TCPIP_REQUIRE_PROGRAM("socat");
    const std::string in = dir_ + "/in.bin";
    const std::string data = random_bytes(200000, 4);
    write_file(in, data);
    // TCP, ours listening: the kernel's socat sends the file.
    {
        auto ours = env_->exec_background(under_run({"socat", "-u", "TCP-LISTEN:9003,reuseaddr", "OPEN:" + dir_ + "/tcp.out,creat"}));
        ASSERT_TRUE(ours) << ours.error();
        auto r = until_ok({"socat", "-u", "OPEN:" + in, "TCP:" + our_ip_ + ":9003"});
        ASSERT_TRUE(r.ok()) << r.output;
        ours->wait(Duration::seconds(10));
        EXPECT_TRUE(read_file(dir_ + "/tcp.out") == data);
        EXPECT_EQ(counter(stats(), "tcp", "passive_opens"), 1u) << stats();
        EXPECT_GT(counter(stats(), "tap", "rx_bytes"), data.size()) << stats();
    }
    // TCP, ours connecting: ours sends the file to the kernel's socat.
    {
        auto kernel = env_->exec_background({"socat", "-u", "TCP-LISTEN:9006,bind=" + kernel_ip_ + ",reuseaddr",
                                             "OPEN:" + dir_ + "/tcp2.out,creat"});
        ASSERT_TRUE(kernel) << kernel.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 9006));
        auto r = env_->exec(under_run({"socat", "-u", "OPEN:" + in, "TCP:" + kernel_ip_ + ":9006"}), Duration::seconds(30));
        ASSERT_TRUE(r.ok()) << r.output;
        kernel->wait(Duration::seconds(10));
        EXPECT_TRUE(read_file(dir_ + "/tcp2.out") == data) << read_file(dir_ + "/tcp2.out").size() << " bytes";
        EXPECT_EQ(counter(stats(), "tcp", "active_opens"), 1u) << stats();
        EXPECT_GT(counter(stats(), "tap", "tx_bytes"), data.size()) << stats();
    }
    // UDP, ours sending to the kernel's socat.
    {
        auto kernel = env_->exec_background({"socat", "-u", "UDP-RECV:9004,bind=" + kernel_ip_, "OPEN:" + dir_ + "/udp.out,creat"});
        ASSERT_TRUE(kernel) << kernel.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 9004));
        auto r = env_->exec(under_run_sh("socat -u - UDP-SENDTO:" + kernel_ip_ + ":9004 <<'EOF'\nover udp, from our stack\nEOF"));
        ASSERT_TRUE(r.ok()) << r.output;
        for (int i = 0; i < 50 && read_file(dir_ + "/udp.out").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_EQ(read_file(dir_ + "/udp.out"), "over udp, from our stack\n");
        EXPECT_GE(counter(stats(), "udp", "tx_datagrams"), 1u) << stats();
        EXPECT_GT(counter(stats(), "tap", "tx_bytes"), 25u) << stats();
    }
    // UDP, ours receiving from the kernel's socat (sent again until it is there: ours may not be
    // bound yet when the first one arrives).
    {
        auto ours = env_->exec_background(under_run({"socat", "-u", "UDP-RECV:9005", "OPEN:" + dir_ + "/udp2.out,creat"}));
        ASSERT_TRUE(ours) << ours.error();
        for (int i = 0; i < 50 && read_file(dir_ + "/udp2.out").empty(); ++i) {
            env_->exec({"sh", "-c", "echo to our stack | socat -u - UDP-SENDTO:" + our_ip_ + ":9005"});
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        EXPECT_EQ(read_file(dir_ + "/udp2.out").substr(0, 13), "to our stack\n");
        stop(*ours, SIGTERM);
        EXPECT_GE(counter(stats(), "udp", "rx_datagrams"), 1u) << stats();
        EXPECT_GT(counter(stats(), "tap", "rx_bytes"), 13u) << stats();
    }
}

// ---- iperf3, the stock binary on each side -----------------------------------------------------

TEST_F(RunInterop, Iperf3ClientAndServerAgainstTheKernels) {
    TCPIP_REQUIRE_PROGRAM("iperf3");
    // Ours as the client, the kernel's server.
    {
        auto server = env_->exec_background({"iperf3", "-s", "-1", "-B", kernel_ip_, "-p", "5201"});
        ASSERT_TRUE(server) << server.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 5201));
        auto r = env_->exec(under_run({"iperf3", "-c", kernel_ip_, "-p", "5201", "-t", "2"}), Duration::seconds(30));
        ASSERT_TRUE(r.ok()) << r.output;
        EXPECT_NE(r.output.find("receiver"), std::string::npos) << r.output;
        const std::string s = stats();
        EXPECT_EQ(counter(s, "tcp", "active_opens"), 2u) << s;  // control and data connections
        EXPECT_GT(counter(s, "tap", "tx_bytes"), 10u << 20) << s;
    }
    // Ours as the server, the kernel's client.
    {
        auto server = env_->exec_background(under_run({"iperf3", "-s", "-1", "-p", "5202"}));
        ASSERT_TRUE(server) << server.error();
        auto r = until_ok({"iperf3", "-c", our_ip_, "-p", "5202", "-t", "2"});
        ASSERT_TRUE(r.ok()) << r.output;
        auto ended = server->wait(Duration::seconds(15));
        EXPECT_EQ(ended.exit_code, 0) << ended.output;
        const std::string s = stats();
        EXPECT_GE(counter(s, "tcp", "passive_opens"), 2u) << s;
        EXPECT_GT(counter(s, "tap", "rx_bytes"), 10u << 20) << s;
    }
}

// ---- nginx, redis, wrk --------------------------------------------------------------------------

// nginx serving a file tree: epoll, accept4, sendfile and writev on our sockets. In one process
// (master_process off), and with its master and one worker: the worker, forked after the
// listening socket was made, is the first to use it and takes the stack (docs/run.md, fork).
class Nginx : public RunInterop, public ::testing::WithParamInterface<bool> {};

TEST_P(Nginx, ServesAFileTree) {
    TCPIP_REQUIRE_PROGRAM("nginx");
    TCPIP_REQUIRE_PROGRAM("curl");
    const bool master = GetParam();
    ASSERT_EQ(::mkdir((dir_ + "/www").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/www/sub").c_str(), 0755), 0);
    const std::string big = random_bytes(2 << 20, 5);
    write_file(dir_ + "/www/big.bin", big);
    write_file(dir_ + "/www/sub/small.txt", "a small file\n");
    for (const char* d : {"/body", "/proxy", "/fastcgi", "/uwsgi", "/scgi"}) ::mkdir((dir_ + d).c_str(), 0755);
    write_file(dir_ + "/nginx.conf",
               std::string("daemon off;\n") + (master ? "master_process on;\nuser root;\n" : "master_process off;\n") +
               "worker_processes 1;\npid " + dir_ + "/nginx.pid;\n"
               "error_log stderr notice;\nevents { worker_connections 256; }\n"
               "http {\n  access_log off;\n  sendfile on;\n  client_body_temp_path " + dir_ + "/body;\n"
               "  proxy_temp_path " + dir_ + "/proxy;\n  fastcgi_temp_path " + dir_ + "/fastcgi;\n"
               "  uwsgi_temp_path " + dir_ + "/uwsgi;\n  scgi_temp_path " + dir_ + "/scgi;\n"
               "  server { listen 8081; root " + dir_ + "/www; }\n}\n");
    auto server = env_->exec_background(under_run({"nginx", "-p", dir_, "-c", dir_ + "/nginx.conf"}));
    ASSERT_TRUE(server) << server.error();
    const std::string base = "http://" + our_ip_ + ":8081";
    auto small = until_ok({"curl", "-sS", "-m", "10", base + "/sub/small.txt"});
    EXPECT_TRUE(small.ok()) << small.output;
    EXPECT_EQ(small.output, "a small file\n");
    auto r = env_->exec({"curl", "-sS", "-m", "20", "-o", dir_ + "/big.out", base + "/big.bin"}, Duration::seconds(30));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_TRUE(read_file(dir_ + "/big.out") == big) << "the 2 MiB file differs";
    auto missing = env_->exec({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/nope"});
    EXPECT_EQ(missing.output, "404");
    const CommandResult ended = stop(*server, SIGTERM);
    if (master) {
        EXPECT_NE(ended.output.find("worker process"), std::string::npos) << ended.output;
    }
    // With a master, the worker writes the counters as it exits, a moment before the master.
    for (int i = 0; i < 50 && counter(stats(), "tcp", "passive_opens") == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const std::string s = stats();
    EXPECT_GE(counter(s, "tcp", "passive_opens"), 3u) << s << ended.output;
    EXPECT_GT(counter(s, "tap", "tx_bytes"), 2u << 20) << s;
}

INSTANTIATE_TEST_SUITE_P(RunInterop, Nginx, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "MasterAndOneWorker" : "OneProcess"; });

// nginx's `listen [::]:PORT`: nginx sets IPV6_V6ONLY on such a socket unless told `ipv6only=off`.
// With it off, the socket is dual-stack and ours: it serves the kernel's curl over our stack. A
// second server left with nginx's default stays the kernel's, and the shim says so in one line.
TEST_F(RunInterop, NginxListeningOnIpv6AnyWithIpv6onlyOffServesOverOurStack) {
    TCPIP_REQUIRE_PROGRAM("nginx");
    TCPIP_REQUIRE_PROGRAM("curl");
    ASSERT_EQ(::mkdir((dir_ + "/www").c_str(), 0755), 0);
    const std::string body = random_bytes(300000, 9);
    write_file(dir_ + "/www/blob.bin", body);
    for (const char* d : {"/body", "/proxy", "/fastcgi", "/uwsgi", "/scgi"}) ::mkdir((dir_ + d).c_str(), 0755);
    write_file(dir_ + "/nginx.conf",
               "daemon off;\nmaster_process off;\npid " + dir_ + "/nginx.pid;\nerror_log stderr;\n"
               "events { worker_connections 64; }\n"
               "http {\n  access_log off;\n  client_body_temp_path " + dir_ + "/body;\n"
               "  proxy_temp_path " + dir_ + "/proxy;\n  fastcgi_temp_path " + dir_ + "/fastcgi;\n"
               "  uwsgi_temp_path " + dir_ + "/uwsgi;\n  scgi_temp_path " + dir_ + "/scgi;\n"
               "  server { listen [::]:8083 ipv6only=off; root " + dir_ + "/www; }\n"
               "  server { listen [::]:8084; root " + dir_ + "/www; }\n}\n");
    auto server = env_->exec_background(under_run({"nginx", "-p", dir_, "-c", dir_ + "/nginx.conf"}));
    ASSERT_TRUE(server) << server.error();
    const std::string out = dir_ + "/got.bin";
    auto r = until_ok({"curl", "-sS", "-m", "10", "-o", out, "http://" + our_ip_ + ":8083/blob.bin"});
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_TRUE(read_file(out) == body) << read_file(out).size() << " bytes";
    // The kernel holds the V6ONLY socket of port 8084, and none of port 8083.
    auto kernel = env_->exec({"ss", "-Hltn"});
    EXPECT_NE(kernel.output.find(":8084"), std::string::npos) << kernel.output;
    EXPECT_EQ(kernel.output.find(":8083"), std::string::npos) << kernel.output;
    const CommandResult ended = stop(*server, SIGTERM);
    const std::string told = "tcpip-run: an AF_INET6 socket with IPV6_V6ONLY set stays the kernel's";
    const auto first = ended.output.find(told);
    EXPECT_NE(first, std::string::npos) << ended.output;
    EXPECT_EQ(ended.output.find(told, first + 1), std::string::npos) << ended.output;
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "passive_opens"), 1u) << s;
    EXPECT_GT(counter(s, "tap", "tx_bytes"), body.size()) << s;
}

// redis-server on our stack, the kernel's redis-benchmark against it (50 connections).
TEST_F(RunInterop, RedisServesTheKernelsBenchmark) {
    TCPIP_REQUIRE_PROGRAM("redis-server");
    TCPIP_REQUIRE_PROGRAM("redis-benchmark");
    auto server = env_->exec_background(under_run({"redis-server", "--port", "6390", "--bind", "0.0.0.0", "--save", "",
                                                   "--appendonly", "no", "--protected-mode", "no", "--dir", dir_}));
    ASSERT_TRUE(server) << server.error();
    auto ping = until_ok({"redis-cli", "-h", our_ip_, "-p", "6390", "ping"});
    EXPECT_NE(ping.output.find("PONG"), std::string::npos) << ping.output;
    auto r = env_->exec({"redis-benchmark", "-h", our_ip_, "-p", "6390", "-n", "2000", "-c", "50", "-q", "-t", "set,get"},
                        Duration::seconds(60));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_NE(r.output.find("SET: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("GET: "), std::string::npos) << r.output;
    const CommandResult ended = stop(*server, SIGTERM);
    const std::string s = stats();
    EXPECT_GE(counter(s, "tcp", "passive_opens"), 100u) << s << ended.output;  // 50 per test, and the ping
    // 4,000 requests of at least 30 bytes each ("*3\r\n$3\r\nSET\r\n$16\r\nkey:..."), and as many replies.
    EXPECT_GT(counter(s, "tap", "rx_bytes"), 4000u * 30) << s;
    EXPECT_GT(counter(s, "tap", "tx_bytes"), 4000u * 5) << s;
}

// wrk (two threads, 50 connections, epoll) on our stack against the kernel's nginx.
TEST_F(RunInterop, WrkLoadsAKernelServerFromTwoThreads) {
    TCPIP_REQUIRE_PROGRAM("wrk");
    TCPIP_REQUIRE_PROGRAM("nginx");
    ASSERT_EQ(::mkdir((dir_ + "/www").c_str(), 0755), 0);
    write_file(dir_ + "/www/index.html", "hello from the kernel's nginx\n");
    for (const char* d : {"/body", "/proxy", "/fastcgi", "/uwsgi", "/scgi"}) ::mkdir((dir_ + d).c_str(), 0755);
    write_file(dir_ + "/nginx.conf",
               "daemon off;\nmaster_process off;\npid " + dir_ + "/nginx.pid;\nerror_log stderr;\n"
               "events { worker_connections 512; }\n"
               "http {\n  access_log off;\n  client_body_temp_path " + dir_ + "/body;\n"
               "  proxy_temp_path " + dir_ + "/proxy;\n  fastcgi_temp_path " + dir_ + "/fastcgi;\n"
               "  uwsgi_temp_path " + dir_ + "/uwsgi;\n  scgi_temp_path " + dir_ + "/scgi;\n"
               "  server { listen " + kernel_ip_ + ":8082; root " + dir_ + "/www; }\n}\n");
    auto server = env_->exec_background({"nginx", "-p", dir_, "-c", dir_ + "/nginx.conf"});
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 8082));
    auto r = env_->exec(under_run({"wrk", "-t2", "-c50", "-d3s", "http://" + kernel_ip_ + ":8082/index.html"}),
                        Duration::seconds(40));
    ASSERT_TRUE(r.ok()) << r.output;
    // "N requests in 3.00s": at least one per connection, and no socket errors line.
    const auto at = r.output.find(" requests in ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const auto line = r.output.rfind('\n', at);
    const long requests = std::atol(r.output.c_str() + (line == std::string::npos ? 0 : line + 1));
    EXPECT_GE(requests, 50) << r.output;
    EXPECT_EQ(r.output.find("Socket errors"), std::string::npos) << r.output;
    const std::string s = stats();
    EXPECT_GE(counter(s, "tcp", "active_opens"), 50u) << s;
    // Each request "GET /index.html HTTP/1.1" and its headers went out, each 30-byte body came in.
    EXPECT_GT(counter(s, "tap", "tx_bytes"), static_cast<std::uint64_t>(requests) * 40) << s;
    EXPECT_GT(counter(s, "tap", "rx_bytes"), static_cast<std::uint64_t>(requests) * 30) << s;
}

// ---- The calls one by one, from python against the kernel's echo server --------------------------

// Each call the shim covers, on a connection of ours to socat's echo (cat) on the kernel's side:
// writev and readv, select and FIONREAD, dup (the duplicate outlives the original) and dup2 over a
// kernel descriptor's number, sendmsg and recvmsg, sendfile from a file, AF_INET6 with mapped
// addresses, a pure IPv6 destination refused, UDP with sendto/recvfrom.
TEST_F(RunInterop, EachCoveredCallWorksOnOurSockets) {
    TCPIP_REQUIRE_PROGRAM("socat");
    auto echo = env_->exec_background({"socat", "TCP-LISTEN:9600,bind=" + kernel_ip_ + ",reuseaddr,fork", "EXEC:cat"});
    ASSERT_TRUE(echo) << echo.error();
    auto udp_echo = env_->exec_background({"socat", "UDP-RECVFROM:9601,bind=" + kernel_ip_ + ",fork", "EXEC:cat"});
    ASSERT_TRUE(udp_echo) << udp_echo.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 9600));
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 9601));
    write_file(dir_ + "/file.bin", random_bytes(100000, 6));
    write_file(dir_ + "/calls.py",
               "import errno, fcntl, os, select, socket, struct, termios, time\n"
               "K = ('" + kernel_ip_ + "', 9600)\n"
               "def exact(s, n):\n"
               "    out = b''\n"
               "    while len(out) < n:\n"
               "        chunk = s.recv(n - len(out))\n"
               "        assert chunk, 'eof'\n"
               "        out += chunk\n"
               "    return out\n"
               "s = socket.create_connection(K)\n"
               "os.writev(s.fileno(), [b'ab', b'cd', b'ef'])\n"
               "r, _, _ = select.select([s], [], [], 5)\n"
               "_, w, _ = select.select([], [s], [], 5)\n"
               "print('select', s in r, s in w)\n"
               "for _ in range(100):\n"
               "    n = struct.unpack('i', fcntl.ioctl(s, termios.FIONREAD, b'0000'))[0]\n"
               "    if n >= 6: break\n"
               "    time.sleep(0.02)\n"
               "print('fionread', n)\n"
               "a, b = bytearray(4), bytearray(2)\n"
               "print('readv', os.readv(s.fileno(), [a, b]), bytes(a + b))\n"
               "d = s.dup()\n"
               "s.close()\n"
               "d.sendall(b'after dup')\n"
               "print('dup', exact(d, 9))\n"
               "spare = os.open('/dev/null', os.O_RDONLY)\n"
               "os.dup2(d.fileno(), spare)\n"
               "os.write(spare, b'via dup2')\n"
               "print('dup2', exact(d, 8))\n"
               "os.close(spare)\n"
               "d.sendmsg([b'msg', b'-', b'parts'])\n"
               "time.sleep(0.2)\n"
               "data, anc, flags, addr = d.recvmsg(100)\n"
               "print('recvmsg', data)\n"
               "with open('" + dir_ + "/file.bin', 'rb') as f:\n"
               "    sent = 0\n"
               "    while sent < 100000:\n"
               "        sent += os.sendfile(d.fileno(), f.fileno(), sent, 100000 - sent)\n"
               "print('sendfile', sent, exact(d, 100000) == open('" + dir_ + "/file.bin', 'rb').read())\n"
               "d.close()\n"
               "six = socket.socket(socket.AF_INET6)\n"
               "six.connect(('::ffff:" + kernel_ip_ + "', 9600))\n"
               "print('v6', six.getsockname()[0] == '::ffff:" + our_ip_ + "', six.getpeername()[0])\n"
               "six.close()\n"
               "try:\n"
               "    socket.socket(socket.AF_INET6).connect(('2001:db8::1', 80))\n"
               "except OSError as e:\n"
               "    print('pure v6', errno.errorcode[e.errno])\n"
               "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
               "u.settimeout(5)\n"
               "u.sendto(b'datagram', ('" + kernel_ip_ + "', 9601))\n"
               "print('udp', u.recvfrom(100))\n");
    auto r = env_->exec(under_run({"python3", dir_ + "/calls.py"}), Duration::seconds(30));
    EXPECT_TRUE(r.ok()) << r.output;
    for (const std::string& line :
         {std::string("select True True"), std::string("fionread 6"), std::string("readv 6 b'abcdef'"),
          std::string("dup b'after dup'"), std::string("dup2 b'via dup2'"), std::string("recvmsg b'msg-parts'"),
          std::string("sendfile 100000 True"), "v6 True ::ffff:" + kernel_ip_, std::string("pure v6 ENETUNREACH"),
          "udp (b'datagram', ('" + kernel_ip_ + "', 9601))"}) {
        EXPECT_NE(r.output.find(line + "\n"), std::string::npos) << "missing '" << line << "' in:\n" << r.output;
    }
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 2u) << s;
    EXPECT_GE(counter(s, "udp", "rx_datagrams"), 1u) << s;
    EXPECT_GT(counter(s, "tap", "tx_bytes"), 100000u) << s;  // the file sent, and echoed back
    EXPECT_GT(counter(s, "tap", "rx_bytes"), 100000u) << s;
}

// The calls that python does not reach, from a C++ program (tests/interop/run_calls.cpp, built by
// meson): fcntl's O_NONBLOCK and FD_CLOEXEC, ioctl FIONBIO, getsockopt (SO_ERROR after a
// non-blocking connect and after a refused one, SO_TYPE, TCP_NODELAY set and read back), ppoll,
// pselect and epoll_pwait over our socket and a pipe (each readiness, a timeout, and the EINTR of a
// pending signal that the call's mask lets in), dup3 with and without O_CLOEXEC, 256 KiB echoed
// under epoll_pwait, and accept4 with and without SOCK_NONBLOCK | SOCK_CLOEXEC for two connections
// from the kernel's nc.
TEST_F(RunInterop, TheCallsOfACProgramWorkOnOurSockets) {
    TCPIP_REQUIRE_PROGRAM("socat");
    TCPIP_REQUIRE_PROGRAM("nc");
    const char* given = std::getenv("TCPIP_RUN_CALLS");
    const char* root = std::getenv("TCPIP_BUILD_ROOT");
    const std::string program = given ? given : std::string(root ? root : "build") + "/tests/interop/run-calls";
    ASSERT_EQ(::access(program.c_str(), X_OK), 0) << program << " is not built (ninja tests/interop/run-calls)";
    auto echo = env_->exec_background({"socat", "TCP-LISTEN:9610,bind=" + kernel_ip_ + ",reuseaddr,fork", "EXEC:cat"});
    ASSERT_TRUE(echo) << echo.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 9610));
    const std::string ready = dir_ + "/listening";
    auto calls = env_->exec_background(under_run({program, kernel_ip_, "9610", "9611", "9612", ready}));
    ASSERT_TRUE(calls) << calls.error();
    // Two connections from the kernel's side once it listens, each answered with how accept4 made it.
    for (int i = 0; i < 300 && ::access(ready.c_str(), F_OK) != 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(::access(ready.c_str(), F_OK), 0) << "run-calls never listened: " << calls->stop().output;
    auto first = until_ok({"nc", "-N", "-w", "5", our_ip_, "9612"});
    EXPECT_EQ(first.output, "accepted nonblock cloexec\n");
    auto second = until_ok({"nc", "-N", "-w", "5", our_ip_, "9612"});
    EXPECT_EQ(second.output, "accepted block\n");
    const CommandResult ended = calls->wait(Duration::seconds(30));
    EXPECT_EQ(ended.exit_code, 0) << ended.output;
    EXPECT_EQ(ended.output.find("FAIL"), std::string::npos) << ended.output;
    for (const char* name :
         {"fcntl F_GETFL blocking", "fcntl F_GETFD no FD_CLOEXEC", "fcntl F_SETFD FD_CLOEXEC", "fcntl F_SETFL O_NONBLOCK",
          "connect EINPROGRESS", "pselect writable after connect", "getsockopt SO_ERROR 0", "getsockopt SO_TYPE SOCK_STREAM",
          "getsockopt TCP_NODELAY 0", "TCP_NODELAY set 1, got 1", "TCP_NODELAY set 0, got 0", "recv EAGAIN when non-blocking",
          "ioctl FIONBIO 0", "ioctl FIONBIO 1", "ppoll times out", "ppoll our socket readable", "ppoll's data",
          "ppoll the pipe readable", "pselect our socket readable", "pselect's data", "pselect the pipe readable",
          "epoll_create1 EPOLL_CLOEXEC", "epoll_ctl ADD", "epoll_pwait times out", "epoll_pwait our socket readable",
          "epoll's data", "epoll_pwait the pipe readable", "ppoll EINTR from a signal its mask lets in",
          "pselect EINTR from a signal its mask lets in", "epoll_pwait EINTR from a signal its mask lets in",
          "dup3 O_CLOEXEC", "dup3 no flags", "dup3 onto itself EINVAL", "dup3 shares the flags", "dup3's copy sends",
          "dup3's copy receives", "ppoll on a dup3 copy times out", "pselect on a dup3 copy times out",
          "ppoll on a dup3 copy", "pselect on a dup3 copy", "the byte", "the original outlives its dup3 copies",
          "256 KiB echoed byte-exact", "ppoll reports the refused connect", "getsockopt SO_ERROR ECONNREFUSED",
          "getsockopt SO_ERROR cleared", "socket SOCK_NONBLOCK | SOCK_CLOEXEC", "bind and listen",
          "accept4 EAGAIN with nobody waiting", "accept4 SOCK_NONBLOCK | SOCK_CLOEXEC", "accept4 without flags"}) {
        EXPECT_NE(ended.output.find(std::string("ok ") + name + "\n"), std::string::npos)
            << "missing 'ok " << name << "' in:\n" << ended.output;
    }
    // Every byte crossed our TAP: the 256 KiB each way, and connections of our TCP's.
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 2u) << s;  // the echo and the refused one
    EXPECT_EQ(counter(s, "tcp", "passive_opens"), 2u) << s;
    EXPECT_GT(counter(s, "tap", "tx_bytes"), 256u << 10) << s;
    EXPECT_GT(counter(s, "tap", "rx_bytes"), 256u << 10) << s;
}

// AF_INET6 as a dual-stack server uses it: a listener bound to our IPv4-mapped address serves the
// kernel's nc over our stack (the kernel has no socket on that port); a pure IPv6 address cannot be
// bound (EADDRNOTAVAIL); ::1 stays the kernel's loopback (a listener and a client there, in the
// same program); and sockets with IPV6_V6ONLY go to the kernel, which one line says, once.
TEST_F(RunInterop, Inet6MappedServesOverOursWhileV6OnlyAndLoopbackStayTheKernels) {
    TCPIP_REQUIRE_PROGRAM("nc");
    // The fixture turns IPv6 off in the namespace (no router solicitations on the TAP): on for
    // the loopback interface alone, which then has ::1.
    auto lo6 = env_->exec({"sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/lo/disable_ipv6"});
    ASSERT_TRUE(lo6.ok()) << lo6.output;
    const std::string data = random_bytes(200000, 8);
    write_file(dir_ + "/data.bin", data);
    auto server = env_->exec_background(under_run({"python3", "-c",
        "import errno, socket\n"
        "def kernel_ports():\n"  // the local ports of the kernel's TCP sockets
        "    lines = open('/proc/net/tcp').readlines()[1:] + open('/proc/net/tcp6').readlines()[1:]\n"
        "    return {int(line.split()[1].split(':')[1], 16) for line in lines}\n"
        "srv = socket.socket(socket.AF_INET6)\n"
        "srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "srv.bind(('::ffff:" + our_ip_ + "', 9700))\n"
        "srv.listen()\n"
        "print('mapped', srv.getsockname()[0], 9700 in kernel_ports(), flush=True)\n"
        "try:\n"
        "    socket.socket(socket.AF_INET6).bind(('2001:db8::2', 9701))\n"
        "except OSError as e:\n"
        "    print('pure v6 bind', errno.errorcode[e.errno], flush=True)\n"
        "lo = socket.socket(socket.AF_INET6)\n"
        "lo.bind(('::1', 0))\n"
        "lo.listen()\n"
        "client = socket.create_connection(('::1', lo.getsockname()[1]))\n"
        "conn, peer = lo.accept()\n"
        "client.sendall(b'over ::1')\n"
        "print('loopback6', conn.recv(100).decode(), peer[0], lo.getsockname()[1] in kernel_ports(), flush=True)\n"
        "for port in (9702, 9703):\n"
        "    v = socket.socket(socket.AF_INET6)\n"
        "    v.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n"
        "    v.bind(('::', port))\n"
        "    v.listen()\n"
        "    print('v6only', port, port in kernel_ports(), flush=True)\n"
        "srv.settimeout(20)\n"
        "c, peer = srv.accept()\n"
        "print('accepted', peer[0], flush=True)\n"
        "c.sendall(open('" + dir_ + "/data.bin', 'rb').read())\n"
        "c.close()\n"}));
    ASSERT_TRUE(server) << server.error();
    const std::string out = dir_ + "/got.bin";
    auto got = until_ok({"sh", "-c", "nc -N -w 5 " + our_ip_ + " 9700 < /dev/null > " + out}, 50);
    EXPECT_TRUE(got.ok()) << got.output;
    const CommandResult ended = server->wait(Duration::seconds(20));
    EXPECT_EQ(ended.exit_code, 0) << ended.output;
    EXPECT_TRUE(read_file(out) == data) << read_file(out).size() << " bytes";
    for (const std::string& line :
         {"mapped ::ffff:" + our_ip_ + " False", std::string("pure v6 bind EADDRNOTAVAIL"),
          std::string("loopback6 over ::1 ::1 True"), std::string("v6only 9702 True"), std::string("v6only 9703 True"),
          "accepted ::ffff:" + kernel_ip_}) {
        EXPECT_NE(ended.output.find(line + "\n"), std::string::npos) << "missing '" << line << "' in:\n" << ended.output;
    }
    // The line about IPV6_V6ONLY, once for the two sockets.
    const std::string told = "tcpip-run: an AF_INET6 socket with IPV6_V6ONLY set stays the kernel's";
    const auto first = ended.output.find(told);
    EXPECT_NE(first, std::string::npos) << ended.output;
    EXPECT_EQ(ended.output.find(told, first + 1), std::string::npos) << ended.output;
    EXPECT_NE(ended.output.find("nginx: listen [::]:PORT ipv6only=off"), std::string::npos) << ended.output;
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "passive_opens"), 1u) << s;  // the kernel's nc; ::1 was the kernel's
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 0u) << s;
    EXPECT_GT(counter(s, "tap", "tx_bytes"), data.size()) << s;
}

// ---- Loopback, fork --------------------------------------------------------------------------------

// 127.0.0.0/8 and ::1 stay the kernel's: a listener and a client on 127.0.0.1 inside a program
// under tcpip-run talk through the kernel's loopback, while the same program's connection to the
// kernel's address goes through our stack.
TEST_F(RunInterop, LoopbackStaysTheKernelsWhileOtherTrafficUsesOurs) {
    auto peer = env_->exec_background({"sh", "-c", "echo from the kernel side | nc -l " + kernel_ip_ + " 9300"});
    ASSERT_TRUE(peer) << peer.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 9300));
    auto r = env_->exec(under_run({"python3", "-c",
                                   "import socket\n"
                                   "server = socket.socket()\n"
                                   "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                   "server.bind(('127.0.0.1', 0))\n"
                                   "server.listen()\n"
                                   "client = socket.create_connection(server.getsockname())\n"
                                   "conn, peer = server.accept()\n"
                                   "client.sendall(b'over loopback')\n"
                                   "print('loopback:', conn.recv(100).decode(), peer[0])\n"
                                   "outside = socket.create_connection(('" + kernel_ip_ + "', 9300))\n"
                                   "print('tap:', outside.recv(100).decode().strip())\n"}),
                        Duration::seconds(20));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_NE(r.output.find("loopback: over loopback 127.0.0.1"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tap: from the kernel side"), std::string::npos) << r.output;
    const std::string s = stats();
    EXPECT_EQ(counter(s, "tcp", "active_opens"), 1u) << s;  // only the connection to the kernel's address
    EXPECT_EQ(counter(s, "tcp", "passive_opens"), 0u) << s;
    // The kernel's line came through the TAP; the loopback's bytes did not (a handshake and the
    // line are under 600 bytes).
    const std::uint64_t rx = counter(s, "tap", "rx_bytes");
    EXPECT_GT(rx, 22u) << s;
    EXPECT_LT(rx, 600u) << s;
}

// A daemon: the parent makes the listener, forks and leaves; the child, alone, serves with it. A
// process that uses the sockets after the other took them is told so in one line (EBADF).
TEST_F(RunInterop, ADaemonsChildServesWithTheParentsListener) {
    TCPIP_REQUIRE_PROGRAM("nc");
    auto r = env_->exec(under_run({"python3", "-c",
                                   "import os, socket, sys\n"
                                   "s = socket.socket()\n"
                                   "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                   "s.bind(('0.0.0.0', 9400))\n"
                                   "s.listen()\n"
                                   "if os.fork() > 0:\n"
                                   "    os._exit(0)\n"
                                   "os.setsid()\n"
                                   "null = os.open('/dev/null', os.O_RDWR)\n"
                                   "for fd in (0, 1, 2):\n"
                                   "    os.dup2(null, fd)\n"
                                   "s.settimeout(20)\n"
                                   "c, peer = s.accept()\n"
                                   "c.sendall(b'served by the child\\n')\n"
                                   "c.close()\n"
                                   "s.close()\n"}),
                        Duration::seconds(10));
    ASSERT_TRUE(r.ok()) << r.output;  // the parent, gone at once
    auto got = until_ok({"nc", "-N", "-w", "5", our_ip_, "9400"});
    EXPECT_EQ(got.output, "served by the child\n");
    // The child writes the counters when it exits, just after serving.
    for (int i = 0; i < 100 && counter(stats(), "tcp", "passive_opens") == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(counter(stats(), "tcp", "passive_opens"), 1u) << stats();
    EXPECT_GT(counter(stats(), "tap", "tx_bytes"), 20u) << stats();  // "served by the child\n"
}

TEST_F(RunInterop, AParentThatUsesSocketsItsChildTookIsToldInOneLine) {
    auto r = env_->exec(under_run({"python3", "-c",
                                   "import os, socket\n"
                                   "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                   "s.bind(('0.0.0.0', 9500))\n"
                                   "pid = os.fork()\n"
                                   "if pid == 0:\n"
                                   "    print('child port', s.getsockname()[1], flush=True)\n"
                                   "    os._exit(0)\n"
                                   "os.waitpid(pid, 0)\n"
                                   "try:\n"
                                   "    s.getsockname()\n"
                                   "except OSError as e:\n"
                                   "    print('parent', os.strerror(e.errno))\n"}),
                        Duration::seconds(10));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_NE(r.output.find("child port 9500"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("parent Bad file descriptor"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tcpip-run: getsockname() in process "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("moved to process"), std::string::npos) << r.output;
}

// ---- tcpip-run's own arguments -------------------------------------------------------------------

// A bad command line: one line naming what is wrong, and a non-zero exit (no namespace needed: it
// fails before it opens anything).
TEST(RunArguments, AreRefusedInOneLine) {
    const std::string run = app_path("run/tcpip-run");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{run, "--tap", "tap0"}, "tcpip-run: missing '--' before the program to run"},
        {{run, "--"}, "tcpip-run: missing the program to run after '--'"},
        {{run, "--bogus", "--", "true"}, "tcpip-run: unknown option '--bogus'"},
        {{run, "--stats"}, "tcpip-run: option --stats needs a value"},
        {{run, "--ip", "nope", "--", "true"}, "tcpip-run: --ip: 'nope'"},
        {{run, "--seed", "x", "--", "true"}, "tcpip-run: --seed: 'x' is not a number"},
        {{run, "--", "/nonexistent/program"}, "tcpip-run: cannot run /nonexistent/program"},
    };
    for (const auto& [argv, message] : cases) {
        auto r = run_command(argv);
        EXPECT_NE(r.exit_code, 0) << argv[1] << ": " << r.output;
        EXPECT_EQ(r.output.rfind(message, 0), 0u) << argv[1] << ": " << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << argv[1] << ": " << r.output;
    }
}

// ---- What tcpip-run refuses ----------------------------------------------------------------------

// A statically linked program never loads the shim: refused with one line saying why (meson
// builds tests/interop/static_program.cpp with -static and passes its path).
TEST_F(RunInterop, AStaticProgramIsRefusedInOneLine) {
    const char* given = std::getenv("TCPIP_STATIC_PROGRAM");
    const char* root = std::getenv("TCPIP_BUILD_ROOT");
    const std::string program = given ? given : std::string(root ? root : "build") + "/tests/interop/static-program";
    ASSERT_EQ(::access(program.c_str(), X_OK), 0) << program << " is not built (ninja tests/interop/static-program)";
    auto r = env_->exec(under_run({program}));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("tcpip-run: " + program + " is statically linked"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("a static program ran"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// A Go program (dynamically linked or not) makes its system calls without libc: refused too. Go's
// linker marks its binaries with a .note.go.buildid section; a copy of /bin/true given one stands
// in for a Go program here.
TEST_F(RunInterop, AGoProgramIsRefusedInOneLine) {
    TCPIP_REQUIRE_PROGRAM("objcopy");
    const std::string fake = dir_ + "/go-program";
    write_file(dir_ + "/note", "Go build ID");
    auto made = run_command({"objcopy", "--add-section", ".note.go.buildid=" + dir_ + "/note", "/bin/true", fake});
    ASSERT_TRUE(made.ok()) << made.output;
    ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
    auto r = env_->exec(under_run({fake}));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("tcpip-run: " + fake + " is a Go program"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// A call the shim does not support on our sockets gets one line naming it, and an errno.
TEST_F(RunInterop, AnUnsupportedCallIsNamedInOneLine) {
    auto r = env_->exec(under_run({"python3", "-c",
                                   "import socket, fcntl, termios, errno\n"
                                   "s = socket.socket()\n"
                                   "try:\n"
                                   "    fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b'0000')\n"
                                   "except OSError as e:\n"
                                   "    print('errno', 'EOPNOTSUPP' if e.errno == errno.EOPNOTSUPP else e.errno)\n"}));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_NE(r.output.find("tcpip-run: ioctl(0x5411) is not supported"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("errno EOPNOTSUPP"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tcpip::interop
