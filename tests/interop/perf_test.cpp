// tcpip-perf against stock iperf3 (3.12) in a fresh namespace: iperf3 -c against `tcpip-perf -s`
// (run to completion: normal, -R, -P 4, -n, -R -n, -P 4 -n both ways; and the same against
// `--threads`), `tcpip-perf -c` against `iperf3 -s -1` (normal, -R, -J), and a
// server that survives broken control exchanges (garbage cookie, huge JSON length, JSON that does
// not parse, a silent client, an unknown state byte, a client killed mid-test, a second client
// while a test runs) and then serves a normal client.
//
// The JSON both tools print is checked with python3's json module, a parser independent of ours.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

// The fields of a line of --tcp-log's CSV (none is quoted; an empty last field counts).
std::vector<std::string> csv_fields(const std::string& line) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    if (!line.empty() && line.back() == ',') f.emplace_back();
    return f;
}


// Reads an iperf3 -J document from FILE with python3 and prints what the tests check:
//   json=ok sent=N received=N streams=N retransmits=N|-1 error=0|1
constexpr const char kJsonCheck[] = R"(
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print('json=bad', e); sys.exit(0)
e = d.get('end', {})
s, r = e.get('sum_sent', {}), e.get('sum_received', {})
print('json=ok sent=%d received=%d streams=%d retransmits=%d error=%d' % (
    s.get('bytes', -1), r.get('bytes', -1), len(e.get('streams', [])),
    s.get('retransmits', -1), 1 if 'error' in d else 0))
)";

class PerfInterop : public AppInterop {
protected:
    void SetUp() override {
        AppInterop::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        json_file_ = "/tmp/tcpip-perf-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".json";
    }
    void TearDown() override { std::remove(json_file_.c_str()); }

    std::vector<std::string> perf_argv(const std::vector<std::string>& extra) const {
        std::vector<std::string> argv = {app_path("tcpip-perf"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    // Starts `tcpip-perf -s` and waits until the stack answers a ping (the app's start may race).
    void start_server(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args = {"-s"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto app = env_->exec_background(perf_argv(args));
        ASSERT_TRUE(app) << app.error();
        server_.emplace(std::move(*app));
        for (int i = 0; i < 20; ++i) {
            if (env_->exec({"ping", "-c", "1", "-W", "1", our_ip_}).ok()) return;
        }
        FAIL() << "tcpip-perf never answered a ping";
    }

    std::string stop_server() {
        CommandResult r = server_->stop();
        server_.reset();
        return r.output;
    }

    // Runs a shell command in the namespace whose standard output is an iperf3 -J document (it
    // goes to a file), then checks that document. Returns the command's exit status line
    // ("rc=N") and the check's line.
    std::string run_json(const std::string& command, Duration timeout = Duration::seconds(30)) {
        CommandResult r = env_->exec({"sh", "-c", command + " > " + json_file_ + "; echo rc=$?"}, timeout);
        CommandResult check = run_command({"python3", "-c", kJsonCheck, json_file_});
        return r.output + check.output;
    }

    std::string iperf3_client(const std::string& args) {
        return run_json("iperf3 -c " + our_ip_ + " -J " + args);
    }

    CommandResult python(const std::string& code, Duration timeout = Duration::seconds(60)) {
        return env_->exec({"python3", "-c", code}, timeout);
    }

    std::optional<BackgroundCommand> server_;
    std::string json_file_;
    static inline std::atomic<int> counter_{0};
};

// ---- iperf3 -c against tcpip-perf -s ----

TEST_F(PerfInterop, Iperf3ClientSendsToOurServer) {
    start_server({"-1"});
    const std::string out = iperf3_client("-t 2");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    const auto sent = value_of(out, "sent"), received = value_of(out, "received");
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_GT(*sent, 1'000'000) << out;
    EXPECT_GT(*received, 1'000'000) << out;   // our count, from our results JSON
    EXPECT_LE(*received, *sent) << out;
    EXPECT_EQ(value_of(out, "error"), 0) << out;
    const std::string server_out = server_->wait(Duration::seconds(10)).output;
    EXPECT_NE(server_out.find("receiver"), std::string::npos) << server_out;
    EXPECT_NE(server_out.find("sender"), std::string::npos) << server_out;
}

TEST_F(PerfInterop, Iperf3ReverseOurServerSends) {
    start_server({"-1"});
    const std::string out = iperf3_client("-t 2 -R");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    const auto sent = value_of(out, "sent"), received = value_of(out, "received");
    EXPECT_GT(*sent, 1'000'000) << out;       // ours
    EXPECT_GT(*received, 1'000'000) << out;
    EXPECT_LE(*received, *sent) << out;
    // We are the sender: our results carry TCP_INFO's retransmission count (0 or more).
    EXPECT_GE(value_of(out, "retransmits").value_or(-1), 0) << out;
}

TEST_F(PerfInterop, Iperf3FourParallelStreams) {
    start_server({"-1"});
    const std::string out = iperf3_client("-t 2 -P 4");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "streams"), 4) << out;
    EXPECT_GT(value_of(out, "received").value_or(0), 1'000'000) << out;
    EXPECT_LE(value_of(out, "received"), value_of(out, "sent")) << out;
}

TEST_F(PerfInterop, Iperf3ByteCountBothWays) {
    start_server();
    // 20 MiB = 160 blocks of 128 KiB. iperf3 3.12 as the sender may overshoot by a few blocks
    // (iperf_send checks the byte count only to leave its inner loop, and its outer multisend
    // loop goes on), so: at least that, in whole blocks, and we receive every byte it sent.
    std::string out = iperf3_client("-n 20M");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    const long long sent = value_of(out, "sent").value_or(0);
    EXPECT_GE(sent, 20 * 1024 * 1024) << out;
    EXPECT_LE(sent, 30 * 128 * 1024 + 20 * 1024 * 1024) << out;
    EXPECT_EQ(sent % (128 * 1024), 0) << out;
    EXPECT_EQ(value_of(out, "received"), sent) << out;
    // Reversed, we are the sender and stop at exactly 10 MiB (with an odd block size).
    out = iperf3_client("-n 10M -R -l 100000");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "sent"), 10 * 1024 * 1024) << out;
    EXPECT_EQ(value_of(out, "received"), 10 * 1024 * 1024) << out;
}

// The default server runs to completion (apps/perf/poll_server.h): its streams share one thread
// with the stack. Several streams each way, every byte counted: with -n the client sends at least
// its count and we receive all of it; reversed, the budget is shared by our streams and they send
// exactly that many bytes between them.
TEST_F(PerfInterop, Iperf3ParallelStreamsBothWaysByteExact) {
    start_server();
    std::string out = iperf3_client("-n 40M -P 4");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "streams"), 4) << out;
    const long long sent = value_of(out, "sent").value_or(0);
    EXPECT_GE(sent, 40 * 1024 * 1024) << out;
    EXPECT_EQ(value_of(out, "received"), sent) << out;
    out = iperf3_client("-n 30M -R -P 4 -l 100000");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "streams"), 4) << out;
    EXPECT_EQ(value_of(out, "sent"), 30 * 1024 * 1024) << out;
    EXPECT_EQ(value_of(out, "received"), 30 * 1024 * 1024) << out;
    // By time, reversed, four streams: all of them carried data, and the client got what we sent.
    out = iperf3_client("-t 2 -R -P 4");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "streams"), 4) << out;
    EXPECT_GT(value_of(out, "received").value_or(0), 1'000'000) << out;
    EXPECT_LE(value_of(out, "received"), value_of(out, "sent")) << out;
    EXPECT_GE(value_of(out, "retransmits").value_or(-1), 0) << out;
    const std::string log = stop_server();
    EXPECT_EQ(log.find("error"), std::string::npos) << log;
    // The server's own report: run to completion, interval lines and the summary of each test.
    EXPECT_NE(log.find("run to completion"), std::string::npos) << log;
    EXPECT_NE(log.find("[SUM]"), std::string::npos) << log;
    EXPECT_NE(log.find("receiver"), std::string::npos) << log;
}

// The threaded server (--threads: a thread per stream, the stack in its own) speaks the same
// protocol: both directions, a byte count exact, several streams, and a second client after the
// first. --one-thread, the old name of the default server, is still accepted.
TEST_F(PerfInterop, Iperf3AgainstTheThreadedServer) {
    start_server({"--threads"});
    std::string out = iperf3_client("-n 20M");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    const long long sent = value_of(out, "sent").value_or(0);
    EXPECT_GE(sent, 20 * 1024 * 1024) << out;
    EXPECT_EQ(value_of(out, "received"), sent) << out;  // it settles before counting, as the default one
    out = iperf3_client("-n 10M -R -l 100000");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    EXPECT_EQ(value_of(out, "sent"), 10 * 1024 * 1024) << out;
    EXPECT_EQ(value_of(out, "received"), 10 * 1024 * 1024) << out;
    out = iperf3_client("-t 1 -P 3");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_EQ(value_of(out, "streams"), 3) << out;
    EXPECT_GT(value_of(out, "received").value_or(0), 1'000'000) << out;
    std::string log = stop_server();
    EXPECT_EQ(log.find("error"), std::string::npos) << log;
    EXPECT_EQ(log.find("run to completion"), std::string::npos) << log;

    start_server({"--one-thread", "-1"});
    out = iperf3_client("-n 10M");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    EXPECT_EQ(value_of(out, "received"), value_of(out, "sent")) << out;
    CommandResult done = server_->wait(Duration::seconds(10));
    server_.reset();
    EXPECT_EQ(done.exit_code, 0) << done.output;
    EXPECT_NE(done.output.find("run to completion"), std::string::npos) << done.output;
}

// What only the threaded server does is refused without --threads, in one line with status 2,
// rather than quietly not done.
TEST_F(PerfInterop, TheDefaultServerRefusesWhatOnlyTheThreadedOneDoes) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"-s", "-J"}, "-J with -s needs --threads"},
        {{"-c", kernel_ip_, "--threads"}, "--threads is for the server"},
        {{"-s", "--threads", "--one-thread"}, "one of --one-thread and --threads"},
    };
    for (const auto& [args, message] : cases) {
        CommandResult r = env_->exec(perf_argv(args), Duration::seconds(10));
        EXPECT_EQ(r.exit_code, 2) << r.output;
        EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    }
}

// The default server (run to completion) writes --tcp-log too: the data connection's log, from
// our passive open to the test's end, with every byte iperf3 sent received, and the kernel's
// retransmissions of what the fault injector dropped on the way in seen as out-of-order arrivals.
TEST_F(PerfInterop, TheDefaultServerWritesTheTcpLog) {
    const std::string csv = "/tmp/tcpip-perf-server-log-" + std::to_string(::getpid()) + ".csv";
    start_server({"-1", "--no-offload", "--faults", "drop=0.02,direction=rx,seed=3", "--tcp-log", csv});
    const std::string out = iperf3_client("-n 1M");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    CommandResult done = server_->wait(Duration::seconds(10));
    server_.reset();
    EXPECT_EQ(done.exit_code, 0) << done.output;
    std::ifstream in(csv);
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << "no " << csv << "\n" << done.output;
    EXPECT_EQ(line.rfind("conn,time_s,event,state,", 0), 0u) << line;
    std::set<std::string> connections;
    std::size_t receives = 0, bad = 0;
    std::uint64_t data = 0;
    std::string first_state;
    while (std::getline(in, line)) {
        const std::vector<std::string> f = csv_fields(line);
        if (f.size() != 19) {
            ++bad;
            continue;
        }
        if (first_state.empty()) first_state = f[3];
        connections.insert(f[0]);
        if (f[2] == "receive") {
            ++receives;
            data += std::strtoull(f[5].c_str(), nullptr, 10);
        }
    }
    std::remove(csv.c_str());
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(connections.size(), 1u);  // the data stream's (not the control connection's)
    EXPECT_EQ(first_state, "LISTEN->SYN-RECEIVED") << "our passive open comes first";
    EXPECT_GE(data, 1024u * 1024u) << "every byte of the megabyte was received (retransmissions counted again)";
    EXPECT_GE(receives, 700u);  // segments of 1448 bytes at most
}

// ---- tcpip-perf -c against iperf3 -s ----

class PerfClientInterop : public PerfInterop {
protected:
    // iperf3 -s -1 -J in the namespace, its document in json_file_; then tcpip-perf -c.
    CommandResult run_client(const std::vector<std::string>& args) {
        auto server = env_->exec_background({"sh", "-c", "iperf3 -s -1 -J -B " + kernel_ip_ + " > " + json_file_});
        EXPECT_TRUE(server) << server.error();
        EXPECT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 5201)) << "iperf3 -s never listened";
        std::vector<std::string> argv = {"-c", kernel_ip_};
        argv.insert(argv.end(), args.begin(), args.end());
        CommandResult r = env_->exec(perf_argv(argv), Duration::seconds(30));
        if (server) server->wait(Duration::seconds(10));
        kernel_view_ = run_command({"python3", "-c", kJsonCheck, json_file_}).output;
        return r;
    }
    std::string kernel_view_;
};

TEST_F(PerfClientInterop, OurClientSendsToIperf3) {
    CommandResult r = run_client({"-t", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("sender"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("receiver"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("Retr"), std::string::npos) << r.output;
    // iperf3's own JSON says it received data (its sum_received).
    ASSERT_NE(kernel_view_.find("json=ok"), std::string::npos) << kernel_view_;
    EXPECT_GT(value_of(kernel_view_, "received").value_or(0), 1'000'000) << kernel_view_;
}

// --tcp-log: the data connection's event log as CSV, through 2 % loss so that it has
// retransmissions; then scripts/plot_tcp.py draws it (two PNGs per connection).
TEST_F(PerfClientInterop, TcpLogCsvAndPlots) {
    const std::string csv = "/tmp/tcpip-perf-log-" + std::to_string(::getpid()) + ".csv";
    const std::string png = "/tmp/tcpip-perf-log-" + std::to_string(::getpid());
    CommandResult r = run_client({"-n", "1M", "--no-offload", "--faults", "drop=0.02,seed=5", "--tcp-log", csv});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(csv);
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << "no " << csv;
    EXPECT_EQ(line, "conn,time_s,event,state,seq,len,ack,win,flags,cause,sack,cwnd,ssthresh,in_flight,snd_wnd,rcv_wnd,"
                    "srtt_ms,rttvar_ms,rto_ms");
    std::size_t rows = 0, sends = 0, receives = 0, retransmits = 0, bad = 0;
    std::uint64_t data = 0;
    std::string first_state;
    while (std::getline(in, line)) {
        ++rows;
        const std::vector<std::string> f = csv_fields(line);
        if (f.size() != 19) {
            ++bad;
            continue;
        }
        if (rows == 1) first_state = f[3];
        if (f[2] == "send") {
            ++sends;
            data += std::strtoull(f[5].c_str(), nullptr, 10);
        }
        if (f[2] == "receive") ++receives;
        if (f[2] == "retransmit") {
            ++retransmits;
            EXPECT_TRUE(f[9] == "rto" || f[9] == "fast_retransmit" || f[9] == "partial_ack" || f[9] == "rack_loss" ||
                        f[9] == "tlp")
                << line;
        }
    }
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(first_state, "CLOSED->SYN-SENT");    // our client's active open comes first
    // Most of the megabyte: the test ends when the last block is written, and iperf3's server
    // then closes the data connection (with a RST), so the tail may never be sent.
    EXPECT_GE(data, 512u * 1024u);
    EXPECT_GE(sends, 350u);                          // in segments of 1460 bytes at most
    EXPECT_GE(receives, 100u);                       // the ACKs
    EXPECT_GE(retransmits, 1u);                      // 2 % loss: about 14 segments
    const char* source = std::getenv("TCPIP_SOURCE_ROOT");
    const std::string script = std::string(source ? source : ".") + "/scripts/plot_tcp.py";
    CommandResult plot = run_command({script, csv, "--out", png}, Duration::seconds(120));
    ASSERT_EQ(plot.exit_code, 0) << plot.output;
    std::istringstream names(plot.output);
    std::size_t pngs = 0;
    for (std::string name; std::getline(names, name);) {
        std::ifstream image(name, std::ios::binary);
        char magic[8] = {};
        image.read(magic, 8);
        EXPECT_EQ(std::string(magic + 1, 3), "PNG") << name;
        image.seekg(0, std::ios::end);
        EXPECT_GT(image.tellg(), 10000) << name;
        std::remove(name.c_str());
        ++pngs;
    }
    EXPECT_EQ(pngs, 2u) << plot.output;
    std::remove(csv.c_str());
}

// -C NAME travels to iperf3 as its own client sends it ("congestion" in the parameters): the
// kernel server's receiving socket uses that algorithm, and its JSON says so. An unknown name is
// refused on our side with one line and a non-zero exit.
TEST_F(PerfClientInterop, OurClientAsksForACongestionControl) {
    CommandResult r = run_client({"-t", "1", "-C", "reno"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    CommandResult used = run_command(
        {"python3", "-c", "import json, sys; print('cc=' + json.load(open(sys.argv[1]))['end'].get('receiver_tcp_congestion', '?'))",
         json_file_});
    EXPECT_NE(used.output.find("cc=reno"), std::string::npos) << used.output;
    CommandResult bad = env_->exec(perf_argv({"-c", kernel_ip_, "-C", "bbr"}), Duration::seconds(10));
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_NE(bad.output.find("unknown congestion control 'bbr'"), std::string::npos) << bad.output;
}

TEST_F(PerfClientInterop, OurClientReverseReceivesFromIperf3) {
    CommandResult r = run_client({"-t", "2", "-R"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("receiver"), std::string::npos) << r.output;
    ASSERT_NE(kernel_view_.find("json=ok"), std::string::npos) << kernel_view_;
    EXPECT_GT(value_of(kernel_view_, "sent").value_or(0), 1'000'000) << kernel_view_;
}

TEST_F(PerfClientInterop, OurClientJsonParses) {
    CommandResult r = run_client({"-t", "2", "-J", "-P", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Our document, checked by python3 too.
    const std::string ours = "/tmp/tcpip-perf-ours-" + std::to_string(::getpid()) + ".json";
    FILE* f = std::fopen(ours.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fwrite(r.output.data(), 1, r.output.size(), f);
    std::fclose(f);
    const std::string check = run_command({"python3", "-c", kJsonCheck, ours}).output;
    std::remove(ours.c_str());
    ASSERT_NE(check.find("json=ok"), std::string::npos) << check << r.output;
    EXPECT_GT(value_of(check, "sent").value_or(0), 1'000'000) << check;
    EXPECT_GT(value_of(check, "received").value_or(0), 1'000'000) << check;
    EXPECT_LE(value_of(check, "received"), value_of(check, "sent")) << check;
    EXPECT_EQ(value_of(check, "streams"), 2) << check;
    // And iperf3's: it received what our JSON says it received (from its results).
    EXPECT_EQ(value_of(kernel_view_, "received"), value_of(check, "received")) << kernel_view_ << check;
}

// ---- A server that broken clients cannot wedge ----

TEST_F(PerfInterop, BrokenControlExchangesDoNotWedgeTheServer) {
    start_server({"--control-timeout", "1"});
    // Each case prints "<name>=1" when the server closed the connection as it should.
    CommandResult r = python(R"(
import json, socket, struct, time
H, P = ')" + our_ip_ + R"(', 5201
COOKIE = b'abcdefghijklmnopqrstuvwxyz2345672345' + b'\0'
def conn():
    return socket.create_connection((H, P), timeout=5)
def closed_by_server(s):
    data = b''
    try:
        while True:
            b = s.recv(4096)
            if not b: return True, data
            data += b
    except socket.timeout: return False, data
    except ConnectionResetError: return True, data
def handshake(params):
    s = conn(); s.sendall(COOKIE)
    assert s.recv(1) == b'\x09'
    body = json.dumps(params).encode(); s.sendall(struct.pack('!I', len(body)) + body)
    return s

s = conn(); s.sendall(b'\xff' * 37); ok, _ = closed_by_server(s); print('garbage_cookie=%d' % ok)
s = conn(); s.sendall(COOKIE); st = s.recv(1); s.sendall(struct.pack('!I', 0xffffffff))
ok, data = closed_by_server(s); print('huge_length=%d server_error=%d' % (ok and st == b'\x09', data[:1] == b'\xfe'))
s = conn(); s.sendall(COOKIE); s.recv(1); body = b'{"tcp": tru'; s.sendall(struct.pack('!I', len(body)) + body)
ok, data = closed_by_server(s); print('bad_json=%d' % ok)
s = conn(); t = time.time(); ok, _ = closed_by_server(s); print('silent=%d silent_ms=%d' % (ok, (time.time() - t) * 1000))
s = handshake({'tcp': True, 'udp': True, 'time': 1, 'parallel': 1, 'len': 1000})
ok, data = closed_by_server(s); print('udp_refused=%d' % (ok and data[:1] == b'\xfe'))
s = handshake({'tcp': True, 'time': 5, 'parallel': 1, 'len': 131072})
assert s.recv(1) == b'\x0a'
d = conn(); d.sendall(COOKIE)
assert s.recv(2) == b'\x01\x02'
d.sendall(b'x' * 200000)
s.sendall(b'\x55')
ok, _ = closed_by_server(s); print('bad_state=%d' % ok)
d.close()
)",
                             Duration::seconds(60));
    for (const char* key : {"garbage_cookie", "huge_length", "server_error", "bad_json", "silent", "udp_refused", "bad_state"}) {
        EXPECT_EQ(value_of(r.output, key), 1) << key << "\n" << r.output;
    }
    EXPECT_LT(value_of(r.output, "silent_ms").value_or(99999), 4000) << r.output;

    // A client killed in the middle of its test (its sockets close under it).
    env_->exec({"timeout", "-s", "KILL", "1", "iperf3", "-c", our_ip_, "-t", "10"}, Duration::seconds(10));

    // A second client while a test runs is turned away.
    auto first = env_->exec_background({"iperf3", "-c", our_ip_, "-t", "3"});
    ASSERT_TRUE(first) << first.error();
    // Its test is running once both its connections (control and data) are established; on a
    // busy machine iperf3 may take more than any fixed sleep to get there. Bounded: 10 s.
    bool running = false;
    const std::string established = "ss -Htn state established dst " + our_ip_ + ":5201 | wc -l";
    for (int i = 0; i < 200 && !running; ++i) {
        running = std::atoi(env_->exec({"sh", "-c", established}).output.c_str()) >= 2;
        if (!running) env_->exec({"sleep", "0.05"});
    }
    ASSERT_TRUE(running) << "the first iperf3 client never got its test going: " << first->stop().output;
    CommandResult second = env_->exec({"iperf3", "-c", our_ip_, "-t", "1"}, Duration::seconds(10));
    EXPECT_NE(second.exit_code, 0) << second.output;
    EXPECT_NE(second.output.find("busy"), std::string::npos) << second.output;
    CommandResult first_done = first->wait(Duration::seconds(15));
    EXPECT_EQ(first_done.exit_code, 0) << first_done.output;

    // And after all that, a normal test.
    const std::string out = iperf3_client("-t 1");
    ASSERT_EQ(value_of(out, "rc"), 0) << out;
    ASSERT_NE(out.find("json=ok"), std::string::npos) << out;
    EXPECT_GT(value_of(out, "received").value_or(0), 0) << out;

    const std::string log = stop_server();
    EXPECT_NE(log.find("bad cookie"), std::string::npos) << log;
    EXPECT_NE(log.find("JSON length"), std::string::npos) << log;
    EXPECT_NE(log.find("bad JSON"), std::string::npos) << log;
    EXPECT_NE(log.find("timed out"), std::string::npos) << log;
    EXPECT_NE(log.find("not supported"), std::string::npos) << log;
    EXPECT_NE(log.find("unexpected control message"), std::string::npos) << log;
    EXPECT_NE(log.find("unexpectedly closed"), std::string::npos) << log;
}

}  // namespace
}  // namespace tcpip::interop
