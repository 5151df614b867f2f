// bench/tcpip-relay between two kernels: two fresh namespaces, each with a TAP, joined by the
// relay with --loss 5 --delay 10. The relay must act as a cable with a bad path in it:
//   - the kernels find each other (ARP crosses the relay) and ping's round trip grows by twice
//     the one-way delay, about 20 ms;
//   - an iperf3 transfer from one kernel to the other runs to its end;
//   - each direction's injector dropped about 5 % of what it saw, and saw no frame larger than
//     the MTU (the TAPs have no offloads: the kernel cut its segments before the relay).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

std::string relay_path() {
    const char* path = std::getenv("TCPIP_RELAY");
    return path ? path : "build/bench/tcpip-relay";
}

class RelayInterop : public ::testing::Test {
protected:
    void SetUp() override {
        TCPIP_REQUIRE_INTEROP();
        NetnsTapOptions options;
        options.attach = false;  // the relay attaches
        auto a = NetnsTap::create(options);
        ASSERT_TRUE(a) << a.error();
        a_ = std::move(*a);
        auto b = NetnsTap::create(options);
        ASSERT_TRUE(b) << b.error();
        b_ = std::move(*b);
        // B also gets an address on A's subnet: the two kernels are on one link through the relay.
        b_ip_ = a_->our_address().to_string();
        ASSERT_TRUE(b_->exec({"ip", "addr", "add", b_ip_ + "/24", "dev", b_->tap_name()}).ok());
    }

    std::unique_ptr<NetnsTap> a_, b_;
    std::string b_ip_;
};

TEST_F(RelayInterop, TwoKernelsTalkThroughLossAndDelay) {
    auto relay = BackgroundCommand::start({relay_path(), "--tap-a", a_->tap_name(), "--netns-a", a_->netns(),
                                           "--tap-b", b_->tap_name(), "--netns-b", b_->netns(), "--loss", "5",
                                           "--delay", "10", "--seed", "3", "--stats"});
    ASSERT_TRUE(relay) << relay.error();
    bool reached = false;
    for (int i = 0; i < 20 && !reached; ++i) reached = a_->exec({"ping", "-c", "1", "-W", "1", b_ip_}).ok();
    ASSERT_TRUE(reached) << "B never answered a ping through the relay";

    CommandResult ping = a_->exec({"ping", "-c", "30", "-i", "0.1", "-W", "1", b_ip_}, Duration::seconds(30));
    const PingSummary summary = parse_ping(ping.output);
    ASSERT_EQ(summary.transmitted, 30) << ping.output;
    EXPECT_GE(summary.received, 15) << ping.output;
    EXPECT_GE(summary.avg_ms, 20.0) << ping.output;
    EXPECT_LT(summary.avg_ms, 40.0) << ping.output;

    auto server = b_->exec_background({"iperf3", "-s", "-1", "-B", b_ip_});
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(b_->wait_for_port(NetnsTap::Transport::Tcp, 5201)) << "iperf3 -s never listened";
    CommandResult transfer = a_->exec({"iperf3", "-c", b_ip_, "-t", "3", "-C", "cubic"}, Duration::seconds(60));
    EXPECT_EQ(transfer.exit_code, 0) << transfer.output;
    EXPECT_NE(transfer.output.find("receiver"), std::string::npos) << transfer.output;
    server->wait(Duration::seconds(10));

    const std::string stats = relay->stop().output;
    EXPECT_NE(stats.find("tcpip-relay: relaying"), std::string::npos) << stats;
    for (const char* lane : {"a_to_b", "b_to_a"}) {
        SCOPED_TRACE(lane);
        const double seen = static_cast<double>(stat_from_output(stats, lane, "seen").value_or(0));
        const double dropped = static_cast<double>(stat_from_output(stats, lane, "dropped").value_or(0));
        EXPECT_GT(seen, 300) << stats;
        EXPECT_GT(dropped, 0.02 * seen) << stats;
        EXPECT_LT(dropped, 0.10 * seen) << stats;
        EXPECT_EQ(stat_from_output(stats, lane, "oversize"), 0u) << stats;
        EXPECT_EQ(stat_from_output(stats, lane, "inner_errors"), 0u) << stats;
    }
    for (const char* tap : {"tap_a", "tap_b"}) {
        EXPECT_EQ(stat_from_output(stats, tap, "rx_truncated"), 0u) << stats;  // nothing above the MTU came
    }
}

TEST_F(RelayInterop, BadFlagIsOneLineAndExitStatus2) {
    CommandResult r = run_command({relay_path(), "--tap-a", "x", "--tap-b", "y", "--delay", "10,"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, "tcpip-relay: --delay: jitter '' is not a number of milliseconds from 0 to 3600000 "
                        "(expected MS[,JITTER]) (try --help)\n");
    r = run_command({relay_path(), "--tap-a", "x"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, "tcpip-relay: --tap-a and --tap-b are both needed (try --help)\n");
}

}  // namespace
}  // namespace tcpip::interop
