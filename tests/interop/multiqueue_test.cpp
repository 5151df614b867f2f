// --queues 2 against the kernel (drivers/shard_device.h, docs/layers/multiqueue.md): a multiqueue
// TAP in a fresh namespace, one stack shard per queue, each pinned to its own core.
//   - tcpip-perf -s --queues 2 (run to completion, a loop per shard) against stock
//     `iperf3 -c -P 4`: every test's bytes arrive (what iperf3 sent is what our server counted),
//     reversed with -n our four streams on two shards send exactly that many bytes between them,
//     and both shards carried connections (the per-shard lines the server prints at exit,
//     "shard K: cpu C, connections N, ..."). The same against --threads, the threaded server.
//   - tcpip-httpd --queues 2 serving 64 curl requests, 8 at a time, each on a connection of its
//     own: every body is byte-exact (sha256), and both shards served some.
// The kernel spreads connections over the queues by a hash with a per-boot random key, so which
// shard gets which connection differs from run to run; four iperf3 tests (20 connections) and 64
// requests make "all on one shard" a chance below 1 in 10,000.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

// The connections each shard accepted, from the "shard K: cpu C, connections N, ..." lines.
std::vector<long long> shard_connections(const std::string& output) {
    std::vector<long long> connections;
    for (std::size_t k = 0;; ++k) {
        const std::string prefix = "\nshard " + std::to_string(k) + ": cpu ";
        const std::size_t at = output.find(prefix);
        if (at == std::string::npos) break;
        const std::size_t n = output.find("connections ", at);
        if (n == std::string::npos) break;
        connections.push_back(std::atoll(output.c_str() + n + std::strlen("connections ")));
    }
    return connections;
}

// Sums the two figures of an iperf3 -J document: "sent=N received=N".
constexpr const char kJsonSums[] = R"(
import json, sys
d = json.load(open(sys.argv[1]))
e = d.get('end', {})
print('sent=%d received=%d streams=%d' % (e.get('sum_sent', {}).get('bytes', -1),
      e.get('sum_received', {}).get('bytes', -1), len(e.get('streams', []))))
)";

class MultiqueueInterop : public ::testing::Test {
protected:
    void SetUp() override {
        TCPIP_REQUIRE_INTEROP();
        if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) {
            if (running_in_ci()) FAIL() << "--queues 2 needs two CPUs (CI=true: this test must run)";
            GTEST_SKIP() << "--queues 2 needs two CPUs";
        }
        NetnsTapOptions options;
        options.attach = false;
        options.multi_queue = true;
        auto env = NetnsTap::create(options);
        ASSERT_TRUE(env) << env.error();
        env_ = std::move(*env);
        our_ip_ = env_->our_address().to_string();
    }

    std::unique_ptr<NetnsTap> env_;
    std::string our_ip_;
};

// Four iperf3 tests against `tcpip-perf -s --queues 2` plus `extra`, each with four streams: the
// first `forward` of them by time, the kernel sending (what was sent arrived, but for a tail), the others
// reversed by size (exactly the size, sent by our streams on both shards from one shared
// budget); then both shards carried connections, 20 in all.
void iperf3_against_two_shards(const NetnsTap& env, const std::string& our_ip, const std::vector<std::string>& extra, int forward) {
    std::vector<std::string> args = {"-s", "--queues", "2", "--stats"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = start_app(env, "tcpip-perf", our_ip, args);
    ASSERT_TRUE(server) << server.error();
    const std::string json = "/tmp/tcpip-mq-test-" + std::to_string(::getpid()) + ".json";
    for (int run = 0; run < 4; ++run) {
        const bool reverse = run >= forward;
        CommandResult r = env.exec({"sh", "-c", "iperf3 -c " + our_ip + (reverse ? " -P 4 -R -n 20M -l 100000" : " -P 4 -t 1") +
                                                    " -J > " + json + "; echo rc=$?"},
                                   Duration::seconds(40));
        ASSERT_EQ(value_of(r.output, "rc"), 0) << r.output;
        CommandResult sums = run_command({"python3", "-c", kJsonSums, json});
        ASSERT_TRUE(sums.ok()) << sums.output;
        const auto sent = value_of(sums.output, "sent"), received = value_of(sums.output, "received");
        ASSERT_TRUE(sent && received) << sums.output;
        EXPECT_EQ(value_of(sums.output, "streams"), 4) << sums.output;
        if (reverse) {
            EXPECT_EQ(*sent, 20 * 1024 * 1024) << sums.output;  // ours
        } else {
            EXPECT_GT(*sent, 1'000'000) << sums.output;
        }
        // The receiver's count (ours, or iperf3's with -R): every byte sent arrived. By time, the
        // kernel's last blocks may come after our server stopped waiting for them (now and then,
        // apps/perf/poll_server.h says when): then never more than sent, and no more than 2 % short
        // (a stream lost on a shard would be far more); by size, exactly.
        if (reverse) {
            EXPECT_EQ(*received, *sent) << "run " << run << ": " << sums.output;
        } else {
            EXPECT_LE(*received, *sent) << "run " << run << ": " << sums.output;
            EXPECT_GE(*received, *sent - *sent / 50) << "run " << run << ": " << sums.output;
        }
    }
    std::remove(json.c_str());
    const std::string out = server->stop().output;
    std::cout << "per-shard (tcpip-perf -s --queues 2" << (extra.empty() ? "" : " " + extra[0]) << "):\n";
    for (std::size_t at = out.find("\nshard "); at != std::string::npos; at = out.find("\nshard ", at + 1)) {
        if (out.compare(at + 7, 1, "0") == 0 || out.compare(at + 7, 1, "1") == 0) {
            const std::string line = out.substr(at + 1, out.find('\n', at + 1) - at - 1);
            if (line.find(": cpu ") != std::string::npos) std::cout << "  " << line << "\n";
        }
    }
    EXPECT_EQ(out.find("tcpip-perf: error"), std::string::npos) << out;
    const auto connections = shard_connections(out);
    ASSERT_EQ(connections.size(), 2u) << out;
    EXPECT_GT(connections[0], 0) << out;
    EXPECT_GT(connections[1], 0) << out;
    EXPECT_EQ(connections[0] + connections[1], 20) << out;  // 4 tests x (control + 4 streams)
}

TEST_F(MultiqueueInterop, Iperf3ParallelStreamsSpreadOverBothShards) { iperf3_against_two_shards(*env_, our_ip_, {}, 3); }

// The threaded server's receive path is tested on one queue (interop/perf); here its sending
// streams on two shards, one budget between them. (Each receiving test by time also risks the
// rare tail stall described in apps/perf/poll_server.h: the three above are enough.)
TEST_F(MultiqueueInterop, Iperf3AgainstTheThreadedServerOnTwoShards) {
    iperf3_against_two_shards(*env_, our_ip_, {"--threads"}, 0);
}

TEST_F(MultiqueueInterop, HttpdServesManyCurlRequestsFromBothShards) {
    char pattern[] = "/tmp/tcpip-mq-httpd-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    const std::string root = pattern;
    {
        std::mt19937 rng(7);
        std::string body(200'000, '\0');
        for (char& c : body) c = static_cast<char>(rng());
        std::ofstream(root + "/blob.bin", std::ios::binary) << body;
    }
    auto httpd = start_app(*env_, "tcpip-httpd", our_ip_, {"--queues", "2", "--root", root});
    ASSERT_TRUE(httpd) << httpd.error();
    // The listeners come up just after the stacks answer pings.
    for (int i = 0; i < 20; ++i) {
        if (env_->exec({"curl", "-s", "-o", "/dev/null", "--max-time", "2", "http://" + our_ip_ + "/blob.bin"}).ok()) break;
        env_->exec({"sleep", "0.1"});
    }
    // 64 requests, 8 curl processes at a time, one connection each; each body's sha256 printed.
    const std::string script = "seq 64 | xargs -P 8 -I{} sh -c 'curl -sS --max-time 20 http://" + our_ip_ +
                               "/blob.bin | sha256sum' | sort | uniq -c; sha256sum < " + root + "/blob.bin";
    CommandResult r = env_->exec({"sh", "-c", script}, Duration::seconds(120));
    ASSERT_TRUE(r.ok()) << r.output;
    // Expect exactly one distinct digest, 64 times, equal to the file's.
    const std::size_t newline = r.output.find('\n');
    ASSERT_NE(newline, std::string::npos) << r.output;
    const std::string counted = r.output.substr(0, newline), expected = r.output.substr(newline + 1);
    EXPECT_EQ(std::atoi(counted.c_str()), 64) << r.output;
    EXPECT_NE(counted.find(expected.substr(0, 64)), std::string::npos) << r.output;

    CommandResult stopped = httpd->stop();
    run_command({"rm", "-rf", root});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    const auto connections = shard_connections(stopped.output);
    ASSERT_EQ(connections.size(), 2u) << stopped.output;
    std::cout << "tcpip-httpd --queues 2: shard 0 accepted " << connections[0] << ", shard 1 " << connections[1]
              << " connections\n";
    EXPECT_GT(connections[0], 0) << stopped.output;
    EXPECT_GT(connections[1], 0) << stopped.output;
    EXPECT_GE(connections[0] + connections[1], 64) << stopped.output;
}

}  // namespace
}  // namespace tcpip::interop
