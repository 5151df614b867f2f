// The link and network layers against the Linux kernel: tcpip-echo in a fresh namespace answers
// the kernel's ARP and ping (small, fragmented, flooded), tcpip-ping gets answers from the kernel,
// and frames that are not for us get nothing.
#include <gtest/gtest.h>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

class EchoInterop : public AppInterop {
protected:
    void SetUp() override {
        AppInterop::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto app = start_echo(*env_, our_ip_);
        ASSERT_TRUE(app) << app.error();
        echo_.emplace(std::move(*app));
    }

    // Stops tcpip-echo (SIGTERM) and returns what it printed, statistics included.
    std::string stop_echo() {
        CommandResult r = echo_->stop();
        echo_.reset();
        return r.output;
    }

    std::optional<BackgroundCommand> echo_;
};

TEST_F(EchoInterop, PingGetsFiveReplies) {
    CommandResult r = env_->exec({"ping", "-c", "5", "-i", "0.2", our_ip_}, Duration::seconds(15));
    PingSummary s = parse_ping(r.output);
    EXPECT_EQ(s.transmitted, 5) << r.output;
    EXPECT_EQ(s.received, 5) << r.output;
    EXPECT_TRUE(r.ok()) << r.output;
}

TEST_F(EchoInterop, FragmentedPingsBothWays) {
    for (const char* size : {"1473", "4000", "65000"}) {
        CommandResult r = env_->exec({"ping", "-c", "3", "-i", "0.2", "-s", size, our_ip_}, Duration::seconds(15));
        PingSummary s = parse_ping(r.output);
        EXPECT_EQ(s.received, 3) << "size " << size << "\n" << r.output;
    }
    std::string out = stop_echo();
    EXPECT_GE(stat_from_output(out, "ipv4", "reasm_ok").value_or(0), 9u) << out;
    EXPECT_GE(stat_from_output(out, "ipv4", "frag_created").value_or(0), 9u) << out;
}

TEST_F(EchoInterop, FloodPingLosesNothing) {
    CommandResult r = env_->exec({"ping", "-f", "-c", "2000", "-W", "1", our_ip_}, Duration::seconds(60));
    PingSummary s = parse_ping(r.output);
    EXPECT_EQ(s.transmitted, 2000) << r.output;
    EXPECT_EQ(s.received, 2000) << r.output;
}

TEST_F(EchoInterop, ArpingGetsReplies) {
    CommandResult r = env_->exec({"arping", "-c", "3", "-w", "5", "-I", env_->tap_name(), our_ip_}, Duration::seconds(10));
    EXPECT_NE(r.output.find("Received 3 response"), std::string::npos) << r.output;
    EXPECT_TRUE(r.ok()) << r.output;
}

TEST_F(EchoInterop, ArpForAnotherAddressGetsNoAnswer) {
    const std::string spare = env_->spare_address().to_string();
    CommandResult r = env_->exec({"arping", "-c", "2", "-w", "3", "-I", env_->tap_name(), spare}, Duration::seconds(10));
    EXPECT_NE(r.output.find("Received 0 response"), std::string::npos) << r.output;
    EXPECT_FALSE(r.ok()) << "arping should fail without replies\n" << r.output;
    std::string out = stop_echo();
    EXPECT_GE(stat_from_output(out, "arp", "rx_not_for_us").value_or(0), 2u) << out;
}

TEST_F(EchoInterop, FrameForAnotherMacGetsNoAnswer) {
    // Point the kernel's neighbour entry for our address at a MAC that is not ours: the frames
    // reach our TAP, and the Ethernet layer must drop them.
    ASSERT_TRUE(env_->exec({"ip", "neigh", "replace", our_ip_, "lladdr", "02:00:00:00:00:99", "dev", env_->tap_name(),
                            "nud", "permanent"})
                    .ok());
    CommandResult r = env_->exec({"ping", "-c", "3", "-i", "0.2", "-W", "1", our_ip_}, Duration::seconds(10));
    EXPECT_EQ(parse_ping(r.output).received, 0) << r.output;
    std::string out = stop_echo();
    EXPECT_GE(stat_from_output(out, "ethernet", "rx_not_for_us").value_or(0), 3u) << out;
}

// The kernel's count of ICMP destination unreachable messages received (netstat -s).
constexpr const char* kInDestUnreachs =
    "grep '^Icmp:' /proc/net/snmp | awk 'NR==1{for(i=1;i<=NF;i++) if($i==\"InDestUnreachs\") c=i} NR==2{print $c}'";

TEST_F(EchoInterop, UnknownProtocolGetsProtocolUnreachable) {
    // A raw IP datagram with protocol 253 (experimental): we answer ICMP protocol unreachable,
    // which the kernel counts as an incoming destination-unreachable message.
    auto before = env_->exec({"sh", "-c", kInDestUnreachs});
    ASSERT_TRUE(before.ok()) << before.output;
    CommandResult r = env_->exec(
        {"python3", "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253); s.sendto(b'hello', ('" + our_ip_ +
             "', 0))"});
    ASSERT_TRUE(r.ok()) << r.output;
    bool seen = false;
    for (int i = 0; i < 20 && !seen; ++i) {
        auto after = env_->exec({"sh", "-c", kInDestUnreachs});
        seen = std::stoll(after.output) > std::stoll(before.output);
        if (!seen) env_->exec({"sleep", "0.05"});
    }
    EXPECT_TRUE(seen) << "the kernel saw no ICMP destination unreachable";
    std::string out = stop_echo();
    EXPECT_EQ(stat_from_output(out, "ipv4", "rx_unknown_protocol").value_or(0), 1u) << out;
    EXPECT_EQ(stat_from_output(out, "icmp", "tx_dest_unreachable").value_or(0), 1u) << out;
}

TEST_F(EchoInterop, RoundTripBesideTheKernel) {
    // Not a pass/fail figure: the RTT of ping to our stack beside ping to the kernel's own
    // address in the same namespace, from the same run, recorded in the test log.
    CommandResult ours = env_->exec({"ping", "-c", "20", "-i", "0.01", "-q", our_ip_}, Duration::seconds(15));
    CommandResult kernel = env_->exec({"ping", "-c", "20", "-i", "0.01", "-q", env_->kernel_address().address.to_string()},
                                      Duration::seconds(15));
    PingSummary s_ours = parse_ping(ours.output), s_kernel = parse_ping(kernel.output);
    EXPECT_EQ(s_ours.received, 20) << ours.output;
    EXPECT_EQ(s_kernel.received, 20) << kernel.output;
    std::printf("ping rtt avg: tcpip stack %.3f ms, kernel's own address %.3f ms\n", s_ours.avg_ms, s_kernel.avg_ms);
    RecordProperty("rtt_stack_ms", std::to_string(s_ours.avg_ms));
    RecordProperty("rtt_kernel_ms", std::to_string(s_kernel.avg_ms));
}

class PingInterop : public AppInterop {
protected:
    // tcpip-ping on the TAP as our address, with `args`.
    CommandResult tcpip_ping(const std::vector<std::string>& args) {
        std::vector<std::string> argv = {app_path("tcpip-ping"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24"};
        argv.insert(argv.end(), args.begin(), args.end());
        return env_->exec(argv, Duration::seconds(20));
    }
};

TEST_F(PingInterop, TcpipPingGetsRepliesFromTheKernel) {
    CommandResult r = tcpip_ping({"-c", "5", "-i", "0.1", kernel_ip_});
    PingSummary s = parse_ping(r.output);
    EXPECT_EQ(s.transmitted, 5) << r.output;
    EXPECT_EQ(s.received, 5) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    // Fragmented both ways.
    r = tcpip_ping({"-c", "2", "-i", "0.1", "-s", "8000", kernel_ip_});
    EXPECT_EQ(parse_ping(r.output).received, 2) << r.output;
    EXPECT_EQ(r.output.find("DATA DIFFERS"), std::string::npos) << r.output;
}

TEST_F(PingInterop, TcpipPingWithNoAnswerExitsOne) {
    CommandResult r = tcpip_ping({"-c", "2", "-i", "0.1", "-W", "0.5", env_->spare_address().to_string()});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(parse_ping(r.output).received, 0) << r.output;
}

TEST(AppArguments, BadFlagsGetOneLineAndStatusTwo) {
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {app_path("tcpip-echo"), "--ip", "10.0.0.300/24"},
             {app_path("tcpip-echo"), "--bogus"},
             {app_path("tcpip-echo"), "--port", "70000"},
             {app_path("tcpip-echo"), "--mac", "ff:ff:ff:ff:ff:ff"},
             {app_path("tcpip-ping"), "-c", "x", "10.0.0.1"},
             {app_path("tcpip-ping")},
             {app_path("tcpip-ping"), "10.0.0"},
         }) {
        CommandResult r = run_command(argv);
        EXPECT_EQ(r.exit_code, 2) << argv.back() << ": " << r.output;
        // One line: the message ends with the only newline.
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    }
}

}  // namespace
}  // namespace tcpip::interop
