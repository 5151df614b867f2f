// bench/tap-floor against the kernel: the reflector that bench/e2e.sh measures as the TAP floor must
// really be answered by the kernel's TCP, or its figure would mean nothing. In a fresh namespace:
//   - the kernel resolves it (ARP) and pings it;
//   - bench/tcp-rr rr runs 1 s against it with no failed transaction, and tcp-rr crr (connect,
//     1-byte exchange, close) with no failed connection: its SYN|ACK, echoes and FIN|ACK are what
//     the kernel expects;
//   - the kernel counted no bad IPv4 header or TCP checksum (/proc/net/snmp in the namespace);
//   - stopped by SIGTERM it exits 0 and its counters add up (nothing malformed, no write failed);
// waiting in a blocking read, with --epoll and with --uring. Bad arguments: one line, exit status 2.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

std::string tool_path(const char* variable, const char* fallback) {
    const char* path = std::getenv(variable);
    return path ? path : fallback;
}
std::string floor_path() { return tool_path("TCPIP_TAP_FLOOR", "build/bench/tap-floor"); }
std::string tcp_rr_path() { return tool_path("TCPIP_TCP_RR", "build/bench/tcp-rr"); }

// A counter of /proc/net/snmp (as the namespace sees it): the line "Group: names..." is followed by
// "Group: values...".
std::optional<long long> snmp_counter(const NetnsTap& env, const std::string& group, const std::string& name) {
    const CommandResult snmp = env.exec({"cat", "/proc/net/snmp"});
    std::istringstream lines(snmp.output);
    std::string names, values;
    while (std::getline(lines, names)) {
        if (names.rfind(group + ":", 0) != 0 || !std::getline(lines, values)) continue;
        std::istringstream n(names), v(values);
        std::string key, value;
        while (n >> key && v >> value) {
            if (key == name) return std::atoll(value.c_str());
        }
    }
    return std::nullopt;
}

class TapFloorInterop : public AppInterop {
protected:
    void reflects_tcp(const std::string& flag);
};

void TapFloorInterop::reflects_tcp(const std::string& flag) {
    const std::unique_ptr<NetnsTap>& env = env_;
    const std::string& ip = our_ip_;
    std::vector<std::string> argv = {floor_path(), "--tap", env->tap_name(), "--ip", ip};
    if (!flag.empty()) argv.push_back(flag);
    auto floor = env->exec_background(argv);
    ASSERT_TRUE(floor) << floor.error();
    bool up = false;
    for (int i = 0; i < 20 && !up; ++i) up = env->exec({"ping", "-c", "1", "-W", "1", ip}).ok();
    ASSERT_TRUE(up) << "tap-floor never answered a ping";

    const CommandResult rr = env->exec({tcp_rr_path(), "rr", ip, "7", "1"}, Duration::seconds(30));
    ASSERT_EQ(rr.exit_code, 0) << rr.output;
    EXPECT_EQ(value_of(rr.output, "errors"), 0) << rr.output;
    EXPECT_GT(value_of(rr.output, "count").value_or(0), 1000) << rr.output;

    const CommandResult crr = env->exec({tcp_rr_path(), "crr", ip, "7", "1"}, Duration::seconds(30));
    ASSERT_EQ(crr.exit_code, 0) << crr.output;
    EXPECT_EQ(value_of(crr.output, "errors"), 0) << crr.output;
    EXPECT_GT(value_of(crr.output, "count").value_or(0), 100) << crr.output;

    EXPECT_EQ(snmp_counter(*env, "Tcp", "InCsumErrors"), 0);
    EXPECT_EQ(snmp_counter(*env, "Ip", "InHdrErrors"), 0);
    EXPECT_GT(snmp_counter(*env, "Tcp", "InSegs").value_or(0), 1000);

    const CommandResult stopped = floor->stop();
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
    EXPECT_NE(stopped.output.find("ready"), std::string::npos) << stopped.output;
    EXPECT_EQ(value_of(stopped.output, "malformed"), 0) << stopped.output;
    EXPECT_EQ(value_of(stopped.output, "write_errors"), 0) << stopped.output;
    // Every connection of crr (and rr's one) was opened and closed by the floor's answers.
    const long long syn = value_of(stopped.output, "syn").value_or(0);
    EXPECT_EQ(value_of(stopped.output, "fin"), syn) << stopped.output;
    EXPECT_GT(value_of(stopped.output, "data").value_or(0), value_of(rr.output, "count").value_or(0)) << stopped.output;
}

TEST_F(TapFloorInterop, KernelTcpRunsAgainstBlockingRead) { reflects_tcp(""); }

TEST_F(TapFloorInterop, KernelTcpRunsAgainstEpollWait) { reflects_tcp("--epoll"); }

TEST_F(TapFloorInterop, KernelTcpRunsAgainstIoUring) { reflects_tcp("--uring"); }

TEST(TapFloorArguments, BadArgumentsExitTwoWithOneLine) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {}, {"--tap"}, {"--tap", "tap0"}, {"--tap", "tap0", "--ip", "10.0.0"},
             {"--tap", "tap0", "--ip", "10.0.0.2", "--mac", "01:00:00:00:00:01"}, {"--bogus"},
             {"--tap", "tap0", "--ip", "10.0.0.2", "--epoll", "--uring"}}) {
        std::vector<std::string> argv = {floor_path()};
        argv.insert(argv.end(), args.begin(), args.end());
        const CommandResult r = run_command(argv);
        EXPECT_EQ(r.exit_code, 2) << r.output;
        EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << r.output;  // exactly one line
        EXPECT_NE(r.output.find("usage: tap-floor"), std::string::npos) << r.output;
    }
}

}  // namespace
}  // namespace tcpip::interop
